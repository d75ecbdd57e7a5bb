"""Interchangeable time integrators for graph PDEs.

The equation (a :class:`Term`), the method (a solver such as :class:`RK4`), the
step control (:class:`ConstantStep` or :class:`PIController`) and the gradient
strategy (:class:`Backprop`, :class:`Checkpoint`, :class:`TorchDiffEqAdjoint`) are
separate values, combined by :func:`solve`, which returns a :class:`Solution`
(times, states, status, work counters). Swapping the method is a one-line change::

    sol = solve(term, RK4(), y0=x0, t1=1.0, dt0=0.1, args=graph)
    sol = solve(term, Dopri5(), y0=x0, t1=1.0, args=graph,
                controller=PIController(rtol=1e-5, atol=1e-7))

Sign conventions (``L`` PSD, heat flow ``y' = -L y``) are those of :mod:`graphops`.
:data:`SOLVERS` / :func:`get_solver` map names from config files to solver classes.
"""

from __future__ import annotations

import difflib
from typing import Any

from graphops.linalg import CG, CGResult, cg_solve
from solvers._errors import SolveFailed, StabilityWarning, TermSolverMismatch
from solvers.adjoint import AbstractAdjoint, Backprop, Checkpoint, TorchDiffEqAdjoint
from solvers.base import (
    AbstractAdaptiveSolver,
    AbstractImplicitSolver,
    AbstractIntervalSolver,
    AbstractMultistepSolver,
    AbstractSecondOrderSolver,
    AbstractSolver,
    Step,
)
from solvers.controllers import (
    AbstractAdaptiveController,
    AbstractFixedStepController,
    AbstractStepController,
    ConstantStep,
    Decision,
    PIController,
    Schedule,
)
from solvers.explicit_rk import RK4, Bosh3, Dopri5, Euler, ExplicitRK, Heun, Midpoint
from solvers.imex import SymplecticEuler
from solvers.implicit import CrankNicolson, ImplicitEuler
from solvers.leapfrog import DampedLeapfrog, Leapfrog, TwoStepLeapfrog
from solvers.multistep import AdamsBashforth
from solvers.saveat import SaveAt
from solvers.solution import Solution, Stats, Status
from solvers.solve import solve
from solvers.stability import jacobian_lam_max, recommend_dt
from solvers.tableau import ButcherTableau
from solvers.terms import FixedAffine, LinearTerm, ODETerm, SecondOrderTerm, Term
from solvers.torchdiffeq import TorchDiffEq

__all__ = [
    "SOLVERS",
    "AbstractAdaptiveController",
    "AbstractAdaptiveSolver",
    "AbstractAdjoint",
    "AbstractFixedStepController",
    "AbstractImplicitSolver",
    "AbstractIntervalSolver",
    "AbstractMultistepSolver",
    "AbstractSecondOrderSolver",
    "AbstractSolver",
    "AbstractStepController",
    "AdamsBashforth",
    "Backprop",
    "SaveAt",
    "Bosh3",
    "ButcherTableau",
    "CG",
    "cg_solve",
    "CGResult",
    "Checkpoint",
    "ConstantStep",
    "CrankNicolson",
    "DampedLeapfrog",
    "Decision",
    "Dopri5",
    "Euler",
    "FixedAffine",
    "ExplicitRK",
    "get_solver",
    "Heun",
    "ImplicitEuler",
    "jacobian_lam_max",
    "Leapfrog",
    "LinearTerm",
    "Midpoint",
    "ODETerm",
    "PIController",
    "recommend_dt",
    "RK4",
    "Schedule",
    "SecondOrderTerm",
    "Solution",
    "solve",
    "SolveFailed",
    "StabilityWarning",
    "Stats",
    "Status",
    "Step",
    "SymplecticEuler",
    "Term",
    "TermSolverMismatch",
    "TorchDiffEq",
    "TorchDiffEqAdjoint",
    "TwoStepLeapfrog",
]

# Name -> class, generated from the classes (for YAML configs only; code should use
# the classes). Add a new solver class to this tuple when exporting it.
SOLVERS: dict[str, type[AbstractSolver]] = {
    cls.__name__: cls
    for cls in (
        Euler,
        Midpoint,
        Heun,
        RK4,
        Bosh3,
        Dopri5,
        Leapfrog,
        TwoStepLeapfrog,
        DampedLeapfrog,
        SymplecticEuler,
        AdamsBashforth,
        ImplicitEuler,
        CrankNicolson,
        TorchDiffEq,
    )
}


def get_solver(name: str, **kwargs: Any) -> AbstractSolver:
    """Build a solver from its class name (case-insensitive), e.g. for a YAML config.

    Args:
        name: Class name such as ``"RK4"`` or ``"dopri5"``.
        **kwargs: Passed to the class (its fields); unknown ones raise ``TypeError``.

    Returns:
        The solver instance, e.g. ``get_solver("rk4") == RK4()``.

    Raises:
        ValueError: unknown name (with the closest match suggested).
    """
    if not isinstance(name, str):
        raise TypeError(
            f"get_solver: `name` must be a string; got {type(name).__name__}."
        )
    by_lower = {k.lower(): cls for k, cls in SOLVERS.items()}
    cls = by_lower.get(name.lower())
    if cls is None:
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.5)
        hint = f"Did you mean {by_lower[close[0]].__name__!r}? " if close else ""
        raise ValueError(
            f"get_solver: unknown solver {name!r}. {hint}Known: "
            f"{', '.join(sorted(SOLVERS))}."
        )
    return cls(**kwargs)
