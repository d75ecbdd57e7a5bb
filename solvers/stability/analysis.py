"""Linear stability analysis: stability functions, root conditions, regions, bounds.

Every function here takes a solver value (or a description value of
:mod:`solvers.linear_stability` directly), reads its one description
``solver.linear_stability()`` and dispatches on the description's type. Every bound
comes from :func:`solvers.linear_stability.ray_bound`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from solvers._checks import check_int, check_real, describe
from solvers.base import AbstractSolver
from solvers.linear_stability import (
    LinearStability,
    Multistep,
    NotAnalysed,
    OneStep,
    Oscillator,
    Unconditional,
    ray_bound,
)

__all__ = [
    "imag_axis_bound",
    "max_stable_dt",
    "root_condition",
    "stability_bound",
    "stability_function",
    "stability_region",
]

ArrayLike = Any


# ---------------------------------------------------------------------------------
# Names and descriptions
# ---------------------------------------------------------------------------------
def _name(solver: Any) -> str:
    """A compact label: the class name plus the fields that differ from their defaults.

    Recursive (``AdamsBashforth(order=3)``,
    ``ImplicitEuler(linear_solver=CG(rtol=1e-10))``); ``RK4`` when nothing differs.
    """
    label = _compact(solver)
    name = type(solver).__name__
    return name if label == f"{name}()" else label


def _num(x: float) -> str:
    """Four significant digits, keeping a trailing ``.0`` (``8.0``, ``1e-05``)."""
    return repr(float(f"{x:.4g}"))


def _compact(obj: Any) -> str:
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return repr(obj)
    parts = []
    for f in dataclasses.fields(obj):
        if not f.repr:
            continue
        value = getattr(obj, f.name)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        try:
            same = default is not dataclasses.MISSING and bool(value == default)
        # e.g. tensors: an ambiguous truth value
        except Exception:  # noqa: BLE001
            same = False
        if not same:
            parts.append(f"{f.name}={_compact(value)}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _describe(where: str, solver: Any) -> LinearStability:
    """The solver's one description (a description value is taken as it is)."""
    if isinstance(solver, LinearStability):
        return solver
    if isinstance(solver, AbstractSolver):
        return solver.linear_stability()
    raise TypeError(
        f"{where}: expected a solver value such as RK4() (or a LinearStability "
        f"description); got {describe(solver)}."
    )


def _roots(where: str, solver: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``z -> max |zeta|`` for a solver with a stability region in the ``z`` plane."""
    desc = _describe(where, solver)
    if isinstance(desc, Oscillator) and desc.damped:
        raise TypeError(
            f"{where}: {_name(solver)} has no stability region in the z plane (its "
            "mode roots depend on dt and lambda separately); use "
            "solver.linear_stability().mode_roots(dt, lam) and "
            "solver.max_stable_dt(lam_max) instead."
        )
    if isinstance(desc, NotAnalysed):
        raise TypeError(
            f"{where}: no linear stability analysis is known for {_name(solver)}: "
            f"{desc.reason}."
        )
    if isinstance(desc, Unconditional) and desc.function is None:
        raise TypeError(
            f"{where}: {_name(solver)} is unconditionally stable on the terms it "
            "accepts but states no stability function, so it has no region to "
            "draw."
        )
    return desc.root_modulus


# ---------------------------------------------------------------------------------
# Functions and regions
# ---------------------------------------------------------------------------------
def stability_function(solver: Any) -> Callable[[ArrayLike], np.ndarray]:
    r"""The stability function ``R(z)`` of a one-step method, vectorised (numpy).

    Explicit RK methods use their Butcher tableau's stability polynomial
    (``R(z) = 1 + z b^T (I - zA)^{-1} 1``, the Taylor polynomial of ``e^z`` for
    RK4); theta-methods use ``R(z) = (1 + (1 - theta) z) / (1 - theta z)``
    (ImplicitEuler ``1/(1 - z)``, CrankNicolson ``(1 + z/2)/(1 - z/2)``). Stable
    where ``|R(z)| <= 1``; for heat flow ``y' = -L y`` the points are
    ``z = -dt lambda_i``.

    Args:
        solver: A one-step solver value, e.g. ``RK4()`` or ``ImplicitEuler(CG(...))``.

    Returns:
        ``R``: a callable mapping a complex array ``z`` to ``R(z)`` (same shape).

    Raises:
        TypeError: for multistep or second-order methods (use
            :func:`root_condition`), for methods without an analysis, and for
            values that are not solvers.

    Example:
        >>> R = stability_function(RK4())
        >>> round(abs(complex(R(-2.785))), 3)   # the edge of the real interval
        1.0
    """
    where = "stability_function"
    desc = _describe(where, solver)
    if isinstance(desc, Unconditional) and desc.function is not None:
        desc = desc.function
    if isinstance(desc, OneStep):
        return desc.evaluate
    kind = {Multistep: "a multistep", Oscillator: "a second-order"}.get(
        type(desc), "an unanalysed"
    )
    raise TypeError(
        f"{where}: {_name(solver)} is {kind} method, which has no single stability "
        "function R(z); use root_condition(solver, z) (max |zeta| over the roots of "
        "its characteristic polynomial) instead."
    )


def root_condition(solver: Any, z: ArrayLike) -> np.ndarray:
    r"""``max |zeta|`` over the roots of the characteristic polynomial at ``z``.

    * one-step methods: ``|R(z)|``;
    * multistep methods: the roots of ``rho(zeta) - z sigma(zeta)`` (Adams-Bashforth
      ``k``: ``zeta^k - zeta^{k-1} - z sum_j b_j zeta^{k-1-j}``);
    * undamped second-order methods (Leapfrog / Stormer-Verlet, SymplecticEuler):
      roots of ``zeta^2 - (2 + z^2) zeta + 1`` with ``z = +-i dt sqrt(lambda)`` for
      ``x'' = -lambda x``, i.e. ``zeta^2 - (2 - dt^2 lambda) zeta + 1 = 0``.

    The method is stable at ``z`` where the result is ``<= 1`` (a root of modulus
    exactly 1 must be simple; double roots on the circle are a measure-zero set that
    this numerical check does not separate).

    Args:
        solver: A solver value (or a description value).
        z: Complex scalar or array, ``z = dt * mu``.

    Returns:
        Float array of the shape of ``z``.

    Raises:
        TypeError: if the method has no region in the ``z`` plane (damped
            oscillators, unanalysed methods) or ``solver`` is not a solver.
    """
    modulus = _roots("root_condition", solver)
    return modulus(np.asarray(z, dtype=np.complex128))


def _check_window(where: str, name: str, value: Any) -> tuple[float, float]:
    """A ``(low, high)`` pair of finite numbers with ``low < high``."""
    fix = "Pass a pair (low, high) of finite numbers with low < high."
    if not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(
            f"{where}: `{name}` must be a pair (low, high) of finite numbers with "
            f"low < high; got {value!r}."
        )
    low, high = (check_real(where, name, v, fix=fix) for v in value)
    if not low < high:
        raise ValueError(
            f"{where}: `{name}` must be a pair (low, high) of finite numbers with "
            f"low < high; got {value!r}."
        )
    return low, high


def stability_region(
    solver: Any,
    re: tuple[float, float] = (-5.0, 1.0),
    im: tuple[float, float] = (-4.0, 4.0),
    n: int = 400,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A plot-ready grid of :func:`root_condition` over a window of the ``z`` plane.

    The stability region is ``{G <= 1}``; draw it with
    ``plt.contour(X, Y, G, levels=[1])``. For second-order methods the region is the
    segment ``[-2i, 2i]`` of the imaginary axis (no interior).

    Args:
        solver: A solver value (or a description value).
        re: ``(low, high)`` range of ``Re z``.
        im: ``(low, high)`` range of ``Im z``.
        n: Grid points per axis (``>= 2``).

    Returns:
        ``(X, Y, G)``, each of shape ``[n, n]`` (``meshgrid`` "xy" layout: rows vary
        ``Im z``): ``G = |R(X + iY)|`` for one-step methods, else ``max |zeta|``.

    Raises:
        ValueError: for a malformed window or ``n < 2``.
        TypeError: if the method has no region in the ``z`` plane, or ``n`` is not
            an int.
    """
    lo_re, hi_re = _check_window("stability_region", "re", re)
    lo_im, hi_im = _check_window("stability_region", "im", im)
    check_int("stability_region", "n", n, low=2)
    x, y = np.meshgrid(np.linspace(lo_re, hi_re, n), np.linspace(lo_im, hi_im, n))
    return x, y, root_condition(solver, x + 1j * y)


# ---------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------
def _ray_stability_bound(solver: Any, direction: complex, *, where: str) -> float:
    """Length ``s`` of the stable segment ``(0, s] * direction`` (``|direction| = 1``).

    Intervals shorter than 1e-2 count as 0 (the growth per step there is below
    round-off, but the method has no usable interval).

    Raises:
        TypeError: if the method has no region in the ``z`` plane.
    """
    modulus = _roots(where, solver)
    return ray_bound(lambda s: modulus(s * direction), start=1e-2)


def imag_axis_bound(solver: Any) -> float:
    """Length ``b`` of the imaginary-axis stability interval ``[-ib, ib]``.

    RK4 ``2 sqrt(2)``, Euler 0, AB3 ``~0.724``, Leapfrog 2; ``inf`` for methods
    that are stable on the whole axis (CrankNicolson). A first-order method used on
    the wave equation written as ``(x, v)`` needs ``dt <= b / sqrt(lambda_max)``.
    Intervals shorter than 1e-2 are reported as 0.

    Raises:
        TypeError: if the method has no region in the ``z`` plane.
    """
    return _ray_stability_bound(solver, 1j, where="imag_axis_bound")


def stability_bound(solver: Any) -> float:
    """The constant ``c`` of the method's CFL limit on graph PDEs.

    * first-order methods on ``y' = -A y``: the length of the real stability
      interval ``[-c, 0]``, so ``dt <= c / lambda_max`` (Euler 2, Heun/Midpoint 2,
      RK4 2.785, Dopri5 3.307, AB2 1, AB3 6/11, AB4 3/10; ``inf`` when
      unconditionally stable);
    * undamped second-order methods on ``x'' = -A x``: the imaginary-axis bound, so
      ``dt <= c / sqrt(lambda_max)`` (Leapfrog 2);
    * ``nan`` when there is no constant (damped oscillators, whose limit depends on
      ``lambda_max`` otherwise) or no analysis.

    Raises:
        TypeError: if ``solver`` is not a solver (or description) value.
    """
    return _describe("stability_bound", solver).bound


def max_stable_dt(solver: Any, lam_max: float) -> float | None:
    """``solver.max_stable_dt(lam_max)``: largest stable fixed step; ``None``: no limit.

    Args:
        solver: A solver value (or a description value).
        lam_max: Largest eigenvalue of the PSD operator ``A`` (``y' = -A y`` or
            ``x'' = -A x``), e.g. ``graphops.lam_max(Laplacian(graph))``.

    Raises:
        ValueError: if ``lam_max`` is negative or not finite.
        TypeError: if ``solver`` is not a solver value or ``lam_max`` not a number.
    """
    lam = _check_lam("max_stable_dt", lam_max)
    desc = _describe("max_stable_dt", solver)
    # a zero operator imposes no limit
    return None if lam == 0.0 else desc.max_stable_dt(lam)


def _check_lam(where: str, lam_max: Any) -> float:
    """``lam_max`` as a float in ``[0, inf)`` (the top eigenvalue of a PSD operator)."""
    return check_real(
        where,
        "lam_max",
        lam_max,
        low=0.0,
        fix="It is the largest eigenvalue of the PSD operator; compute it with "
        "graphops.lam_max(op).",
    )
