"""CFL limits as text: :func:`cfl_table` and the ``StabilityWarning`` message.

The form of a limit (``c/λ_max`` for first-order methods, ``c/√λ_max`` for the
undamped oscillator methods, ``dt_max`` for damped ones) is read from the type of
the solver's description, never probed by evaluating ``max_stable_dt``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, NamedTuple

from solvers._checks import check_real
from solvers.linear_stability import LinearStability, Oscillator
from solvers.stability.analysis import _check_lam, _describe, _name, _num

__all__ = ["CFLRow", "cfl_table", "check_stability"]


class CFLRow(NamedTuple):
    """One row of :func:`cfl_table`.

    Attributes:
        solver: The solver's name or repr.
        bound: :func:`~solvers.stability.stability_bound` (``inf`` for
            unconditionally stable methods, ``nan`` when there is no constant, e.g.
            damped two-step schemes, or no analysis).
        formula: The limit as text: ``"2.785/λ_max"``, ``"2/√λ_max"``, ``"none"``
            (no limit) or ``"dt_max"`` (a limit of another form).
        max_dt: ``solver.max_stable_dt(lam_max)`` (``None`` = no limit).
    """

    solver: str
    bound: float
    formula: str
    max_dt: float | None

    def __str__(self) -> str:
        """One aligned text line: solver, bound, formula, max dt."""
        dt = "no limit" if self.max_dt is None else f"{self.max_dt:.4g}"
        return f"{self.solver:<36} {self.bound:>8.4g}  {self.formula:<14} {dt}"


def _formula(desc: LinearStability) -> tuple[str, bool]:
    """``("2.785/λ_max", first_order)`` for a description with a finite limit."""
    if isinstance(desc, Oscillator):
        if desc.damped:
            return "dt_max", False
        # dt <= bound / sqrt(lam / beta) = bound sqrt(beta) / sqrt(lam)
        return f"{desc.bound * math.sqrt(desc.beta):.4g}/√λ_max", False
    return f"{desc.bound:.4g}/λ_max", True


def cfl_table(solvers: Iterable[Any], lam_max: float) -> list[CFLRow]:
    r"""Stability bound and largest stable fixed step of each solver, for printing.

    Args:
        solvers: Solver values, e.g. ``[Euler(), RK4(), Dopri5(), Leapfrog()]``.
        lam_max: Largest eigenvalue of the operator (``> 0``).

    Returns:
        A list of :class:`CFLRow` (``print(*rows, sep="\n")`` gives a table).

    Raises:
        ValueError: if ``lam_max`` is not a positive finite number.
        TypeError: if ``lam_max`` is not a number, or an entry is not a solver.
    """
    lam = check_real(
        "cfl_table",
        "lam_max",
        lam_max,
        low=0.0,
        low_open=True,
        fix="A zero operator has no CFL limit; compute lam_max with "
        "graphops.lam_max(op).",
    )
    rows = []
    for s in solvers:
        desc = _describe("cfl_table", s)
        limit = desc.max_stable_dt(lam)
        formula = "none" if limit is None else _formula(desc)[0]
        rows.append(CFLRow(_name(s), desc.bound, formula, limit))
    return rows


def check_stability(solver: Any, dt: float, lam_max: float) -> str | None:
    """The :class:`~solvers._errors.StabilityWarning` message if ``dt`` is too large.

    ``solve()`` calls this for explicit solvers with a constant step and warns with
    ``warnings.warn(msg, StabilityWarning, stacklevel=2)`` when it returns a string.

    Args:
        solver: A solver value.
        dt: The fixed step (float or 0-d tensor), ``> 0``.
        lam_max: Largest eigenvalue of the operator (``A`` in ``y' = -A y`` or
            ``x'' = -A x``).

    Returns:
        ``None`` if ``dt <= solver.max_stable_dt(lam_max)`` (or there is no limit),
        else e.g. ``"RK4 with dt=0.5 exceeds the linear stability limit
        2.785/λ_max = 0.348 (λ_max=8.0). Reduce dt0 or use ImplicitEuler."``
        (``2/√λ_max`` and ``"Reduce dt0."`` for Leapfrog-type methods).

    Raises:
        ValueError: if ``dt`` is not a positive finite number or ``lam_max`` is
            negative or not finite.
        TypeError: if ``dt`` or ``lam_max`` is not a number, or ``solver`` is not
            a solver.
    """
    where = "check_stability"
    dt = check_real(where, "dt", dt, low=0.0, low_open=True)
    lam = _check_lam(where, lam_max)
    desc = _describe(where, solver)
    limit = None if lam == 0.0 else desc.max_stable_dt(lam)
    if limit is None or dt <= limit:
        return None
    formula, first_order = _formula(desc)
    limit_text = (
        f"{formula} = {limit:.3g}" if formula != "dt_max" else f"dt_max = {limit:.3g}"
    )
    fix = "Reduce dt0 or use ImplicitEuler." if first_order else "Reduce dt0."
    return (
        f"{_name(solver)} with dt={_num(dt)} exceeds the linear stability limit "
        f"{limit_text} (λ_max={_num(lam)}). {fix}"
    )
