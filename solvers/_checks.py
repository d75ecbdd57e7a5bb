"""The solvers package's input checks, written once.

Generic checks (numbers, ints, value descriptions) come from :mod:`graphops._checks`
(imports point downward); checks that know about terms and solvers live here.
Message format: ``<where>: <expected>; got <actual>. <fix>.``
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from graphops._checks import check_int, check_real, describe, is_real_number
from solvers._errors import TermSolverMismatch
from solvers.terms import SecondOrderTerm, Term

__all__ = [
    "check_int",
    "check_real",
    "check_second_order",
    "describe",
    "is_real_number",
    "type_names",
]


def check_second_order(
    name: str, term: Term, y0: Any, *, velocity_dependent_ok: bool
) -> None:
    """Check a second-order solver's term and ``(x, v)`` state (no tensor work).

    Args:
        name: The solver's name, e.g. ``"Leapfrog"``.
        term: The term passed to the solver.
        y0: The state passed to the solver.
        velocity_dependent_ok: Whether the acceleration may depend on ``v``.

    Raises:
        TermSolverMismatch: ``term`` is not a ``SecondOrderTerm``, or it is
            velocity dependent where that is not allowed.
        TypeError: ``y0`` is not a tuple ``(x, v)`` of two tensors.
    """
    if not isinstance(term, SecondOrderTerm):
        raise TermSolverMismatch(
            f"{name}: needs a SecondOrderTerm (x'' = a(t, x, x')); got "
            f"{type(term).__name__}. Wrap the acceleration in SecondOrderTerm(accel) "
            "or use a first-order solver such as RK4."
        )
    if not velocity_dependent_ok and term.velocity_dependent:
        raise TermSolverMismatch(
            f"{name}: needs an acceleration that does not depend on the velocity; "
            "got a SecondOrderTerm with velocity_dependent=True. Use "
            "DampedLeapfrog(alpha, beta) for linear damping beta x'' + alpha x' = "
            "a(x), SymplecticEuler() for a general a(t, x, v) (GraphCON), or a "
            "Runge-Kutta solver on the (x, v) system."
        )
    if not (
        isinstance(y0, tuple)
        and len(y0) == 2
        and all(isinstance(leaf, Tensor) for leaf in y0)
    ):
        got = (
            f"tuple of length {len(y0)}" if isinstance(y0, tuple) else type(y0).__name__
        )
        raise TypeError(
            f"{name}: the state must be a tuple (x, v) of two tensors; got {got}. "
            "Pass y0=(x0, v0), e.g. v0=torch.zeros_like(x0)."
        )


def type_names(types: type | tuple[type, ...]) -> str:
    """``"LinearTerm"`` or ``"LinearTerm or SecondOrderTerm"`` for messages.

    Example:
        >>> type_names((int, float))
        'int or float'
    """
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)
