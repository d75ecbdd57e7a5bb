r"""Linear stability: stability functions and regions, CFL limits, step-size advice.

Conventions
===========
The analysis uses the scalar test equation ``y' = mu y`` and the scaled variable
``z = dt * mu``. A one-step method maps ``y_n -> R(z) y_n`` and is stable where
``|R(z)| <= 1``; a multistep method is stable where every root ``zeta`` of its
characteristic polynomial ``rho(zeta) - z sigma(zeta)`` has ``|zeta| <= 1``.
``root_condition`` returns ``max |zeta|`` for both (``|R(z)|`` for one-step methods).

For graph heat flow ``y' = -L y`` (see :mod:`graphops`: ``L = D - W`` is PSD) the
eigenvalues of ``-L`` are ``-lambda_i <= 0``, so the relevant points are
``z_i = -dt * lambda_i`` on the negative real axis, and a method whose stability
interval is ``[-c, 0]`` is stable iff ``dt <= c / lambda_max``. ``c`` is the
method's :func:`stability_bound` (Euler 2, RK4 2.785, Dopri5 3.307, AB2 1,
AB3 6/11, AB4 3/10; ``inf`` for ImplicitEuler and CrankNicolson).

Second-order methods (``Leapfrog`` = Stormer-Verlet, ``SymplecticEuler``, two-step
leapfrog) integrate the wave equation ``x'' = -L x``. Written as a first-order
system its eigenvalues are ``+-i sqrt(lambda_i)``, so the same ``z`` plane is used
with ``z = +-i dt sqrt(lambda)``: for ``x'' = -lambda x`` these methods satisfy

.. math:: \zeta^2 - (2 + z^2)\,\zeta + 1 = 0, \qquad z^2 = -dt^2 \lambda,

i.e. ``zeta^2 - (2 - dt^2 lambda) zeta + 1 = 0``, whose roots stay on the unit
circle iff ``dt^2 lambda <= 4``. Their stability "region" is the segment
``[-2i, 2i]`` of the imaginary axis, ``stability_bound`` is 2 and the CFL limit is
``dt <= 2 / sqrt(lambda_max)``.

Tools for learned, nonlinear right-hand sides: :func:`jacobian_eigenvalue` finds the
dominant eigenvalue of the Jacobian ``df/dy`` at a state from Jacobian-vector
products, and :func:`recommend_dt` turns it (or ``lam_max`` of a linear term's
operator) into a step size.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from graphops.operators import GraphOperator
from graphops.spectral import lam_max as _lam_max
from solvers.base import AbstractImplicitSolver
from solvers.terms import LinearTerm, SecondOrderTerm, Term

__all__ = [
    "CFLRow",
    "DominantEigenvalue",
    "cfl_table",
    "check_stability",
    "imag_axis_bound",
    "jacobian_eigenvalue",
    "jacobian_lam_max",
    "max_stable_dt",
    "plot_stability_regions",
    "recommend_dt",
    "root_condition",
    "stability_bound",
    "stability_function",
    "stability_region",
]

ArrayLike = Any  # numpy-compatible scalar or array (real or complex)

# A root is "on or inside the unit circle" up to this round-off slack.
_ROOT_TOL = 1e-12


# ---------------------------------------------------------------------------------
# Polynomials and roots
# ---------------------------------------------------------------------------------
def _polyval(coeffs: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Evaluate ``sum_k coeffs[k] z^k`` (Horner)."""
    out = np.zeros_like(z)
    for c in coeffs[::-1]:
        out = out * z + c
    return out


# ---------------------------------------------------------------------------------
# Dispatch: what kind of linear analysis applies to a solver
# ---------------------------------------------------------------------------------
def _name(solver: Any) -> str:
    """A compact label: the class name plus the fields that differ from their
    defaults, recursively (``AdamsBashforth(order=3)``,
    ``ImplicitEuler(linear_solver=CG(rtol=1e-10))``); ``RK4`` when nothing differs."""
    label = _compact(solver)
    name = type(solver).__name__
    return name if label == f"{name}()" else label


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
        except Exception:  # noqa: BLE001 - e.g. tensors: ambiguous truth value
            same = False
        if not same:
            parts.append(f"{f.name}={_compact(value)}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _is_second_order(solver: Any) -> bool:
    """Whether the solver integrates second-order terms only (Leapfrog, SymplecticEuler)."""
    tt = getattr(solver, "term_type", Term)
    types = tt if isinstance(tt, tuple) else (tt,)
    return all(isinstance(c, type) and issubclass(c, SecondOrderTerm) for c in types)


def _theta(solver: Any) -> float | None:
    """The ``theta`` of a theta-method (ImplicitEuler 1, CrankNicolson 1/2), else ``None``."""
    theta = getattr(solver, "theta", None)
    if isinstance(theta, int | float) and not isinstance(theta, bool):
        return float(theta)
    return None


def _vectorised(fn: Callable[[Any], Any]) -> Callable[[ArrayLike], np.ndarray]:
    """Wrap a stability function so it accepts and returns complex numpy arrays."""

    def r(z: ArrayLike) -> np.ndarray:
        z = np.asarray(z, dtype=np.complex128)
        out = np.asarray(fn(z), dtype=np.complex128)
        if out.shape != z.shape:  # a scalar-only implementation
            out = np.vectorize(
                lambda w: complex(fn(complex(w))), otypes=[np.complex128]
            )(z)
        return out

    return r


def _one_step_function(solver: Any) -> Callable[[ArrayLike], np.ndarray] | None:
    """``R(z)`` of a one-step method, or ``None`` if the solver is not one."""
    if _is_second_order(solver):
        return None
    own = getattr(solver, "stability_function", None)
    if callable(own):  # the solver knows its own R (e.g. TorchDiffEq)
        try:
            own(np.zeros(1, dtype=np.complex128))
        except TypeError:  # it says it has none (e.g. a multistep configuration)
            return None
        return _vectorised(own)
    tab = getattr(solver, "tableau", None)
    if tab is not None:
        # ButcherTableau.stability_polynomial: R(z) = sum_k (b^T A^{k-1} 1) z^k. Horner on
        # the polynomial (rather than solving (I - zA) x = 1) stays exact for huge |z|.
        gamma = np.asarray(tab.stability_polynomial, dtype=np.float64)
        return lambda z: _polyval(gamma, np.asarray(z, dtype=np.complex128))
    theta = _theta(solver)
    if theta is not None:
        # theta-method: y1 = y0 + dt ((1 - theta) f(y0) + theta f(y1))
        def r(z: ArrayLike) -> np.ndarray:
            z = np.asarray(z, dtype=np.complex128)
            with np.errstate(divide="ignore", invalid="ignore"):
                return (1.0 + (1.0 - theta) * z) / (1.0 - theta * z)

        return r
    return None


def _lmm_roots(rho: np.ndarray, sigma: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Roots ``[..., k]`` of ``rho(zeta) - z sigma(zeta)`` via batched companion matrices.

    ``rho`` and ``sigma`` are descending-power coefficient vectors of equal length
    ``k + 1`` with ``rho[0] = 1``.
    """
    coeffs = rho[None, :] - z.reshape(-1, 1) * sigma[None, :]  # [M, k+1]
    k = rho.shape[0] - 1
    lead = coeffs[:, :1]
    if k == 1:
        return (-coeffs[:, 1:] / lead).reshape(*z.shape, 1)
    comp = np.zeros((coeffs.shape[0], k, k), dtype=np.complex128)
    comp[:, 0, :] = -coeffs[:, 1:] / lead
    comp[:, 1:, :-1] = np.eye(k - 1)
    return np.linalg.eigvals(comp).reshape(*z.shape, k)


def _leapfrog_roots(z: np.ndarray) -> np.ndarray:
    """Roots of ``zeta^2 - (2 + z^2) zeta + 1`` (``z^2 = -dt^2 lambda`` for ``x'' = -lambda x``)."""
    s = 2.0 + z * z
    disc = np.sqrt(s * s - 4.0 + 0j)
    return np.stack([(s + disc) / 2.0, (s - disc) / 2.0], axis=-1)


def _is_leapfrog_like(solver: Any) -> bool:
    """A second-order solver whose mode roots are those of ``zeta^2 - (2 - dt^2 lam) zeta + 1``.

    Checked on the solver's own ``amplification_roots(dt, lam)`` at probe points with
    different ``dt`` but the same ``dt^2 lam`` (true for Leapfrog, TwoStepLeapfrog,
    SymplecticEuler; false for DampedLeapfrog with damping, whose roots depend on
    ``dt`` and ``lam`` separately and so have no region in the ``z`` plane).
    """
    fn = getattr(solver, "amplification_roots", None)
    if not callable(fn):
        return False
    dts = np.array([1.0, 2.0, 0.5, 0.3])
    lams = np.array([1.0, 0.25, 12.0, 60.0])  # dt^2 lam = 1, 1, 3, 5.4
    try:
        got = np.asarray(fn(dts, lams), dtype=np.complex128).reshape(4, -1)
    except (TypeError, ValueError):
        return False
    want = _leapfrog_roots(1j * dts * np.sqrt(lams))
    if got.shape != want.shape:
        return False
    dist = np.abs(got[:, :, None] - want[:, None, :])  # root sets equal up to order
    return bool(dist.min(axis=2).max() <= 1e-10 and dist.min(axis=1).max() <= 1e-10)


def _roots_function(solver: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``z -> roots [..., k]`` for any supported solver (one-step: ``R(z)[..., None]``)."""
    if _is_second_order(solver):
        if _is_leapfrog_like(solver):
            return _leapfrog_roots
        raise TypeError(
            f"stability: {_name(solver)} has no stability region in the z plane (its mode "
            "roots depend on dt and lambda separately, or are unknown); use its "
            "amplification_roots(dt, lam) and max_stable_dt(lam_max) instead."
        )
    own = getattr(solver, "characteristic_roots", None)
    if callable(own):  # e.g. AdamsBashforth: roots of rho(zeta) - z sigma(zeta)

        def roots(z: np.ndarray) -> np.ndarray:
            out = np.asarray(own(z), dtype=np.complex128)
            return out[..., None] if out.shape == z.shape else out.reshape(*z.shape, -1)

        return roots
    r = _one_step_function(solver)
    if r is not None:
        return lambda z: r(z)[..., None]
    raise TypeError(
        f"stability: no linear stability analysis is known for {_name(solver)}; expected a "
        "one-step method (a `tableau`, a `theta`, or a `stability_function` method), a "
        "multistep method with `characteristic_roots(z)`, or a leapfrog-type second-order "
        "method."
    )


# ---------------------------------------------------------------------------------
# Public: functions, regions, bounds
# ---------------------------------------------------------------------------------
def stability_function(solver: Any) -> Callable[[ArrayLike], np.ndarray]:
    r"""The stability function ``R(z)`` of a one-step method, vectorised over numpy arrays.

    Explicit RK methods use their Butcher tableau (``R(z) = 1 + z b^T (I - zA)^{-1} 1``,
    the Taylor polynomial of ``e^z`` for RK4); theta-methods use
    ``R(z) = (1 + (1 - theta) z) / (1 - theta z)`` (ImplicitEuler ``1/(1 - z)``,
    CrankNicolson ``(1 + z/2)/(1 - z/2)``). Stable where ``|R(z)| <= 1``; for heat
    flow ``y' = -L y`` the points are ``z = -dt lambda_i``.

    Args:
        solver: A one-step solver value, e.g. ``RK4()`` or ``ImplicitEuler(CG(...))``.

    Returns:
        ``R``: a callable mapping a complex array ``z`` to ``R(z)`` (same shape).

    Raises:
        TypeError: for multistep or second-order methods (use :func:`root_condition`)
            and for solvers without a known stability function.

    Example:
        >>> R = stability_function(RK4())
        >>> abs(R(-2.785))   # ~ 1.0, the edge of the real stability interval
    """
    r = _one_step_function(solver)
    if r is None:
        if _is_second_order(solver):
            kind = "a second-order"
        elif callable(getattr(solver, "characteristic_roots", None)):
            kind = "a multistep"
        else:
            kind = "an unsupported"
        raise TypeError(
            f"stability_function: {_name(solver)} is {kind} method, which has no single "
            "stability function R(z); use root_condition(solver, z) (max |zeta| over the "
            "roots of its characteristic polynomial) instead."
        )
    return r


def root_condition(solver: Any, z: ArrayLike) -> np.ndarray:
    r"""``max |zeta|`` over the roots of the method's characteristic polynomial at ``z``.

    * one-step methods: ``|R(z)|``;
    * Adams-Bashforth ``k``: roots of ``zeta^k - zeta^{k-1} - z sum_j beta_j zeta^{k-1-j}``;
    * second-order methods (Leapfrog / Stormer-Verlet, SymplecticEuler): roots of
      ``zeta^2 - (2 + z^2) zeta + 1`` with ``z = +-i dt sqrt(lambda)`` for
      ``x'' = -lambda x``, i.e. ``zeta^2 - (2 - dt^2 lambda) zeta + 1 = 0``.

    The method is stable at ``z`` where the result is ``<= 1`` (a root of modulus
    exactly 1 must be simple; double roots on the circle are a measure-zero set that
    this numerical check does not separate).

    Args:
        solver: Any supported solver value.
        z: Complex scalar or array, ``z = dt * mu``.

    Returns:
        Float array of the shape of ``z``.

    Raises:
        TypeError: if no analysis is known for the solver.
    """
    roots = _roots_function(solver)
    za = np.asarray(z, dtype=np.complex128)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.abs(roots(za)).max(axis=-1)


def _check_window(name: str, value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int | float) and math.isfinite(v) for v in value)
        or not value[0] < value[1]
    ):
        raise ValueError(
            f"stability_region: `{name}` must be a pair (low, high) of finite numbers with "
            f"low < high; got {value!r}."
        )
    return float(value[0]), float(value[1])


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
        solver: Any supported solver value.
        re: ``(low, high)`` range of ``Re z``.
        im: ``(low, high)`` range of ``Im z``.
        n: Grid points per axis (``>= 2``).

    Returns:
        ``(X, Y, G)``, each of shape ``[n, n]`` (``meshgrid`` "xy" layout: rows vary
        ``Im z``): ``G = |R(X + iY)|`` for one-step methods, else ``max |zeta|``.

    Raises:
        ValueError: for a malformed window or ``n``.
        TypeError: if no analysis is known for the solver.
    """
    lo_re, hi_re = _check_window("re", re)
    lo_im, hi_im = _check_window("im", im)
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"stability_region: `n` must be an int >= 2; got {n!r}.")
    x, y = np.meshgrid(np.linspace(lo_re, hi_re, n), np.linspace(lo_im, hi_im, n))
    return x, y, root_condition(solver, x + 1j * y)


def _ray_bound(
    g: Callable[[np.ndarray], np.ndarray], direction: complex, start: float
) -> float:
    """Largest ``s`` with ``g(s' direction) <= 1`` for all ``s' in (0, s]``.

    Scanned on a fine grid from ``start`` (intervals shorter than ``start`` count as
    0) to 20, then geometrically to 1e8 (no violation there: ``inf``), and refined by
    bisection. Non-finite values of ``g`` count as unstable.
    """

    def stable(s: np.ndarray, slack: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            vals = g(np.asarray(s, dtype=np.float64) * direction)
        return np.isfinite(vals) & (vals <= 1.0 + slack)

    full = np.concatenate(
        [np.linspace(start, 20.0, 20_001), np.geomspace(20.0, 1e8, 2_001)[1:]]
    )
    for lo_i in range(0, full.size, 1_000):  # chunks: stop at the first exit
        grid = full[max(lo_i - 1, 0) : lo_i + 1_000]
        bad = np.flatnonzero(~stable(grid, _ROOT_TOL))
        if bad.size:
            break
    else:
        return math.inf
    i = int(bad[0])
    if (
        i == 0
    ):  # only possible in the first chunk (later chunks start at a stable point)
        return 0.0
    lo, hi = float(grid[i - 1]), float(grid[i])
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        # a tighter slack inside the bracket, so exact ends (Euler: 2) come out ~exact
        lo, hi = (mid, hi) if bool(stable(np.array([mid]), 1e-14)[0]) else (lo, mid)
    return lo


def imag_axis_bound(solver: Any) -> float:
    """Length ``b`` of the imaginary-axis stability interval ``[-ib, ib]``.

    RK4 ``2 sqrt(2)``, Euler 0, AB3 ``~0.724``, Leapfrog 2. A first-order method used
    on the wave equation written as ``(x, v)`` needs ``dt <= b / sqrt(lambda_max)``.
    Intervals shorter than 1e-2 are reported as 0 (the growth per step there is
    below round-off, but the method has no usable interval).

    Raises:
        TypeError: if no analysis is known for the solver.
    """
    roots = _roots_function(solver)
    return _ray_bound(lambda z: np.abs(roots(z)).max(axis=-1), 1j, start=1e-2)


def stability_bound(solver: Any) -> float:
    """The constant ``c`` of the method's CFL limit on graph PDEs.

    * first-order methods on ``y' = -A y``: the length of the real stability
      interval ``[-c, 0]``, so ``dt <= c / lambda_max`` (Euler 2, Heun/Midpoint 2,
      RK4 2.785, Dopri5 3.307, AB2 1, AB3 6/11, AB4 3/10; ``inf`` when A-stable);
    * second-order methods on ``x'' = -A x``: the imaginary-axis bound, so
      ``dt <= c / sqrt(lambda_max)`` (Leapfrog 2).

    Computed from :func:`root_condition` (scan plus bisection to ~1e-14), so it is an
    independent check of each solver's hand-written ``max_stable_dt``.

    Raises:
        TypeError: if no analysis is known for the solver.
    """
    if _is_second_order(solver):
        return imag_axis_bound(solver)
    roots = _roots_function(solver)
    return _ray_bound(lambda z: np.abs(roots(z)).max(axis=-1), -1.0, start=1e-6)


def _check_lam(where: str, lam_max: Any) -> float:
    if isinstance(lam_max, Tensor) and lam_max.numel() == 1:
        lam_max = lam_max.item()
    if (
        isinstance(lam_max, bool)
        or not isinstance(lam_max, int | float)
        or not math.isfinite(lam_max)
        or lam_max < 0
    ):
        raise ValueError(
            f"{where}: `lam_max` must be a finite number >= 0 (the largest eigenvalue of the "
            f"PSD operator); got {lam_max!r}. Compute it with graphops.lam_max(op)."
        )
    return float(lam_max)


def max_stable_dt(solver: Any, lam_max: float) -> float | None:
    """``solver.max_stable_dt(lam_max)``: the largest stable fixed step, ``None`` = no limit.

    Args:
        solver: A solver value.
        lam_max: Largest eigenvalue of the PSD operator ``A`` (``y' = -A y`` or
            ``x'' = -A x``), e.g. ``graphops.lam_max(Laplacian(graph))``.

    Raises:
        ValueError: if ``lam_max`` is negative or not finite.
        TypeError: if ``solver`` has no ``max_stable_dt`` method.
    """
    lam = _check_lam("max_stable_dt", lam_max)
    fn = getattr(solver, "max_stable_dt", None)
    if not callable(fn):
        raise TypeError(
            f"max_stable_dt: expected a solver value with a max_stable_dt method; got "
            f"{type(solver).__name__}. Pass e.g. RK4()."
        )
    if lam == 0.0:
        return None  # a zero operator imposes no limit
    return fn(lam)


class CFLRow(NamedTuple):
    """One row of :func:`cfl_table`.

    Attributes:
        solver: The solver's name or repr.
        bound: :func:`stability_bound` (``inf`` for A-stable methods, ``nan`` when
            the method has no ``z``-plane analysis, e.g. damped two-step schemes).
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


def _limit_formula(solver: Any, lam: float, limit: float) -> tuple[str, bool]:
    """``("2.785/λ_max", first_order)`` from how ``max_stable_dt`` scales with ``lam``.

    ``c/lam`` (first-order methods on ``y' = -A y``) and ``c/sqrt(lam)`` (leapfrog
    type on ``x'' = -A x``) are recognised by evaluating the limit at ``4 lam``; any
    other form (e.g. DampedLeapfrog) gives ``"dt_max"``.
    """
    other = solver.max_stable_dt(4.0 * lam)
    if other is not None:
        if math.isclose(4.0 * lam * other, lam * limit, rel_tol=1e-9):
            return f"{limit * lam:.4g}/λ_max", True
        if math.isclose(
            2.0 * math.sqrt(lam) * other, math.sqrt(lam) * limit, rel_tol=1e-9
        ):
            return f"{limit * math.sqrt(lam):.4g}/√λ_max", False
    return "dt_max", not _is_second_order(solver)


def cfl_table(solvers: Iterable[Any], lam_max: float) -> list[CFLRow]:
    r"""Stability bound and largest stable fixed step of each solver, for printing.

    Args:
        solvers: Solver values, e.g. ``[Euler(), RK4(), Dopri5(), Leapfrog()]``.
        lam_max: Largest eigenvalue of the operator (``> 0``).

    Returns:
        A list of :class:`CFLRow` (``print(*rows, sep="\n")`` gives a table).

    Raises:
        ValueError: if ``lam_max`` is not a positive finite number.
    """
    lam = _check_lam("cfl_table", lam_max)
    if lam == 0.0:
        raise ValueError(
            "cfl_table: `lam_max` must be > 0 (a zero operator has no CFL limit); got 0.0."
        )
    rows = []
    for s in solvers:
        try:
            bound = stability_bound(s)
        except TypeError:
            bound = math.nan
        limit = max_stable_dt(s, lam)
        formula = "none" if limit is None else _limit_formula(s, lam, limit)[0]
        rows.append(CFLRow(_name(s), bound, formula, limit))
    return rows


def _num(x: float) -> str:
    """Four significant digits, keeping a trailing ``.0`` (``8.0``, ``0.5``, ``1e-05``)."""
    return repr(float(f"{x:.4g}"))


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
        ``None`` if ``dt <= solver.max_stable_dt(lam_max)`` (or there is no limit), else
        e.g. ``"RK4 with dt=0.5 exceeds the linear stability limit 2.785/λ_max = 0.348
        (λ_max=8.0). Reduce dt0 or use ImplicitEuler."`` (``2/√λ_max`` and
        ``"Reduce dt0."`` for Leapfrog-type methods).

    Raises:
        ValueError: if ``dt`` is not a positive finite number or ``lam_max`` is invalid.
    """
    if isinstance(dt, Tensor) and dt.numel() == 1:
        dt = dt.item()
    if (
        isinstance(dt, bool)
        or not isinstance(dt, int | float)
        or not math.isfinite(dt)
        or dt <= 0
    ):
        raise ValueError(
            f"check_stability: `dt` must be a positive finite number; got {dt!r}."
        )
    lam = _check_lam("check_stability", lam_max)
    limit = max_stable_dt(solver, lam)
    if limit is None or dt <= limit:
        return None
    formula, first_order = _limit_formula(solver, lam, limit)
    limit_text = (
        f"{formula} = {limit:.3g}" if formula != "dt_max" else f"dt_max = {limit:.3g}"
    )
    fix = "Reduce dt0 or use ImplicitEuler." if first_order else "Reduce dt0."
    return (
        f"{_name(solver)} with dt={_num(dt)} exceeds the linear stability limit {limit_text} "
        f"(λ_max={_num(lam)}). {fix}"
    )


# ---------------------------------------------------------------------------------
# Plot
# ---------------------------------------------------------------------------------
def _as_eigenvalues(lam: Any) -> np.ndarray:
    if isinstance(lam, Tensor):
        lam = lam.detach().cpu().numpy()
    arr = np.asarray(lam).reshape(-1)
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ValueError(
            "plot_stability_regions: `lam` must be a finite array of eigenvalues (e.g. "
            f"torch.linalg.eigvalsh(L.to_dense())); got {lam!r}."
        )
    return arr


def plot_stability_regions(
    solvers: Any,
    *,
    lam: Any = None,
    dt: float | None = None,
    ax: Any = None,
    re: tuple[float, float] = (-5.0, 1.0),
    im: tuple[float, float] = (-4.0, 4.0),
    n: int = 400,
    equation: str = "heat",
    title: str | None = None,
):
    """Draw each method's stability region boundary and, optionally, a scaled spectrum.

    The boundary is the contour ``root_condition = 1`` (lightly filled inside);
    second-order methods are drawn as their imaginary-axis segment. With ``lam`` and
    ``dt`` the scaled spectrum is overlaid as points: ``z_i = -dt lambda_i`` for
    ``equation="heat"`` (``y' = -L y``), ``z = +-i dt sqrt(lambda_i)`` for ``"wave"``
    (``x'' = -L x``). A point outside a region means that mode grows with that method.

    matplotlib is imported lazily. Without ``ax`` a standalone
    :class:`matplotlib.figure.Figure` is created (no pyplot state; works with the Agg
    backend and in notebooks); save it with ``fig.savefig(path)``.

    Args:
        solvers: A solver value or a list of them.
        lam: Optional eigenvalues (array/tensor), e.g. the graph Laplacian's spectrum.
        dt: Step size used to scale ``lam`` (required with ``lam``).
        ax: Optional matplotlib ``Axes`` to draw into.
        re: ``Re z`` window.
        im: ``Im z`` window.
        n: Grid points per axis.
        equation: ``"heat"`` or ``"wave"``: how ``lam`` maps into the ``z`` plane.
        title: Axes title (default: ``"Stability regions"`` and the ``dt``).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: for ``lam`` without ``dt``, a bad ``dt``/``equation``/window, or an
            empty solver list.
        TypeError: if a solver has no known stability analysis.

    Example:
        >>> evals = torch.linalg.eigvalsh(Laplacian(graph).to_dense())
        >>> fig = plot_stability_regions([Euler(), RK4()], lam=evals, dt=0.3)
        >>> fig.savefig("stability.png")
    """
    solver_list = list(solvers) if isinstance(solvers, list | tuple) else [solvers]
    if not solver_list:
        raise ValueError(
            "plot_stability_regions: `solvers` is empty; pass at least one solver."
        )
    if equation not in ("heat", "wave"):
        raise ValueError(
            f"plot_stability_regions: `equation` must be 'heat' or 'wave'; got {equation!r}."
        )
    points = None
    if lam is not None:
        if dt is None:
            raise ValueError(
                "plot_stability_regions: `lam` was given without `dt`; pass dt=... to place "
                "the scaled spectrum -dt·λ_i in the z plane."
            )
        if (
            isinstance(dt, bool)
            or not isinstance(dt, int | float)
            or not math.isfinite(dt)
            or dt <= 0
        ):
            raise ValueError(
                f"plot_stability_regions: `dt` must be a positive number; got {dt!r}."
            )
        eig = _as_eigenvalues(lam)
        if equation == "heat":
            points = -dt * eig.astype(np.complex128)
        else:
            w = dt * np.sqrt(np.asarray(eig, dtype=np.complex128))
            points = np.concatenate([1j * w, -1j * w])
    x, y, _ = stability_region(solver_list[0], re, im, 2)  # validates the window early

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if ax is None:
        fig = Figure(figsize=(6.4, 5.6))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    colors = [f"C{i % 10}" for i in range(len(solver_list))]
    handles = []
    for solver, color in zip(solver_list, colors, strict=True):
        label = _name(solver)
        if _is_second_order(solver):
            b = imag_axis_bound(solver)
            ax.plot(
                [0.0, 0.0], [-b, b], color=color, lw=4, solid_capstyle="butt", alpha=0.8
            )
        else:
            x, y, g = stability_region(solver, re, im, n)
            g = np.where(np.isfinite(g), g, 1e300)
            ax.contourf(x, y, g, levels=[0.0, 1.0], colors=[color], alpha=0.12)
            ax.contour(x, y, g, levels=[1.0], colors=[color], linewidths=1.5)
        handles.append(Line2D([], [], color=color, lw=2, label=label))
    ax.axhline(0.0, color="0.6", lw=0.6, zorder=0)
    ax.axvline(0.0, color="0.6", lw=0.6, zorder=0)
    if points is not None:
        sc = ax.scatter(
            points.real,
            points.imag,
            s=14,
            color="k",
            zorder=5,
            marker="x",
            label=("−dt·λ_i" if equation == "heat" else "±i dt·√λ_i"),
        )
        sc.set_gid("spectrum")
        handles.append(sc)
    ax.set_xlim(*_check_window("re", re))
    ax.set_ylim(*_check_window("im", im))
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("Re z")
    ax.set_ylabel("Im z")
    ax.set_title(
        title
        if title is not None
        else "Stability regions" + (f" (dt={_num(dt)})" if dt is not None else "")
    )
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    return fig


# ---------------------------------------------------------------------------------
# Jacobian spectrum of a (learned, nonlinear) right-hand side
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DominantEigenvalue:
    """Result of :func:`jacobian_eigenvalue`.

    Attributes:
        lam: The dominant (largest-modulus) eigenvalue of ``df/dy`` (complex).
        lam_abs: ``|lam|``; compare ``solver.max_stable_dt(lam_abs)`` with your ``dt``.
        real: ``Re lam``: ``< 0`` a damped mode (heat flow: ``-lambda_max``), ``> 0`` a
            mode the ODE itself amplifies, ``~0`` with ``imag != 0`` an oscillation.
        imag: ``Im lam`` (``>= 0`` is reported for a conjugate pair).
        residual: ``||J u - lam u|| / (|lam| ||u||)`` of the Ritz pair.
        iterations: Number of Jacobian-vector products used.
        converged: Whether ``residual <= tol``.
        vector: The real part of the eigenvector estimate, with the structure of ``y``
            (e.g. the worst mode for a CFL test).
    """

    lam: complex
    lam_abs: float
    real: float
    imag: float
    residual: float
    iterations: int
    converged: bool
    vector: Any = field(default=None, repr=False, compare=False)


def _flatten(y: Any, where: str) -> tuple[Tensor, Callable[[Tensor], Any]]:
    """Flatten a tensor or tuple state to 1-D, with the inverse map."""
    leaves = list(y) if isinstance(y, tuple) else [y]
    if not leaves or not all(
        isinstance(v, Tensor) and v.is_floating_point() for v in leaves
    ):
        got = (
            type(y).__name__
            if not isinstance(y, tuple)
            else f"tuple of {[type(v).__name__ for v in y]}"
        )
        raise TypeError(
            f"{where}: `y` must be a floating tensor or a tuple of them; got {got}."
        )
    shapes = [v.shape for v in leaves]
    sizes = [v.numel() for v in leaves]
    flat = torch.cat([v.detach().reshape(-1) for v in leaves])

    def unflatten(u: Tensor) -> Any:
        parts = [
            p.reshape(s) for p, s in zip(torch.split(u, sizes), shapes, strict=True)
        ]
        return tuple(parts) if isinstance(y, tuple) else parts[0]

    return flat, unflatten


def jacobian_eigenvalue(
    term: Callable,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
    krylov_dim: int = 20,
) -> DominantEigenvalue:
    r"""Dominant eigenvalue of the Jacobian ``df/dy`` of ``f(y) = term(t, y, args)`` at ``y``.

    Matrix-free: only Jacobian-vector products with :func:`torch.func.jvp` are used
    (graphops kernels support forward mode), so it scales to large graphs. The
    iteration is power iteration generalised to a Krylov subspace (restarted Arnoldi
    with full re-orthogonalisation): the dominant Ritz value converges like power
    iteration's for a real dominant eigenvalue, and also for the complex-conjugate
    pairs that non-symmetric learned Jacobians produce (where plain power iteration
    oscillates). For ``LinearTerm(L)`` the result is ``-lam_max(L)``.

    .. math:: J = \partial f / \partial y, \qquad J u \approx \lambda u,\ |\lambda| \text{ maximal}

    Args:
        term: A :class:`~solvers.terms.Term` or any ``f(t, y, args)``.
        y: State to linearise at: a tensor, or a tuple of tensors (flattened
            internally; for ``SecondOrderTerm`` states ``(x, v)`` the eigenvalues are
            ``+-sqrt`` of those of ``da/dx``).
        t: Time of the linearisation.
        args: Passed to the term (e.g. the graph).
        iters: Maximum number of Jacobian-vector products.
        tol: Relative residual ``||J u - lam u|| / |lam|`` to stop at.
        seed: Seed of the random start vector.
        krylov_dim: Krylov subspace size before a restart (memory: ``krylov_dim``
            copies of ``y``).

    Returns:
        A :class:`DominantEigenvalue` (``.lam_abs`` is what :func:`jacobian_lam_max`
        returns).

    Raises:
        TypeError: if ``term`` is not callable or ``y`` is not a (tuple of) floating
            tensor(s).
        ValueError: for ``iters``, ``krylov_dim`` < 1 or ``tol`` <= 0.
    """
    where = "jacobian_eigenvalue"
    if not callable(term):
        raise TypeError(
            f"{where}: `term` must be a Term or a callable f(t, y, args); got {type(term).__name__}."
        )
    for name, val in (("iters", iters), ("krylov_dim", krylov_dim)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{where}: `{name}` must be an int >= 1; got {val!r}.")
    if not isinstance(tol, int | float) or not tol > 0:
        raise ValueError(f"{where}: `tol` must be > 0; got {tol!r}.")
    y_flat, unflatten = _flatten(y, where)
    n = y_flat.numel()

    def f_flat(u: Tensor) -> Tensor:
        out = term(t, unflatten(u), args)
        leaves = list(out) if isinstance(out, tuple) else [out]
        return torch.cat([v.reshape(-1) for v in leaves])

    def matvec(v: Tensor) -> Tensor:
        with torch.no_grad():  # forward mode only; no autograd graph for the parameters
            return torch.func.jvp(f_flat, (y_flat,), (v.to(y_flat.dtype),))[1].to(
                torch.float64
            )

    if n == 0:
        return DominantEigenvalue(0j, 0.0, 0.0, 0.0, 0.0, 0, True, unflatten(y_flat))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(n, generator=gen, dtype=torch.float64).to(y_flat.device)
    v = v / v.norm()
    m = min(krylov_dim, n)
    used = 0
    theta, resid = 0j, math.inf
    converged = False
    while used < iters and not converged:
        basis = [v]
        h = np.zeros((m + 1, m))
        for j in range(m):
            w = matvec(basis[j])
            used += 1
            q = torch.stack(basis, dim=1)  # [n, j+1]
            c1 = q.T @ w
            w = w - q @ c1
            c2 = q.T @ w  # second pass (Kahan-Parlett: twice is enough)
            w = w - q @ c2
            h[: j + 1, j] = (c1 + c2).cpu().numpy()
            beta = float(w.norm())
            h[j + 1, j] = beta
            evals, evecs = np.linalg.eig(h[: j + 1, : j + 1])
            mags = np.abs(evals)
            # among (near-)ties prefer Im >= 0 so conjugate pairs are reported stably
            k = int(np.argmax(mags + 1e-12 * mags.max() * (evals.imag >= 0)))
            theta = complex(evals[k])
            s = evecs[:, k] / np.linalg.norm(evecs[:, k])
            # ||J u - theta u|| = beta |e_j^T s| for the Ritz vector u = Q s
            resid = beta * abs(s[-1]) / max(abs(theta), 1e-300)
            invariant = beta <= 1e-14 * max(float(np.abs(h).max()), 1e-300)
            converged = resid <= tol or invariant
            if converged or used >= iters:
                break
            basis.append(w / beta)
        u = q.to(torch.complex128) @ torch.as_tensor(s, dtype=torch.complex128).to(
            q.device
        )
        if not converged:
            # restart from the Ritz vector; real + imaginary part keeps a conjugate pair
            v = u.real + u.imag
            v = v / v.norm()
    if theta.imag < 0:
        theta = theta.conjugate()
    vec = u.real if float(u.real.norm()) >= float(u.imag.norm()) else u.imag
    vec = (vec / vec.norm()).to(y_flat.dtype)
    return DominantEigenvalue(
        lam=theta,
        lam_abs=abs(theta),
        real=theta.real,
        imag=theta.imag,
        residual=float(resid) if math.isfinite(resid) else math.inf,
        iterations=used,
        converged=converged,
        vector=unflatten(vec),
    )


def jacobian_lam_max(
    term: Callable,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> float:
    """``|lambda|_max`` of the Jacobian of a (learned, nonlinear) RHS at ``y``.

    Compare ``solver.max_stable_dt(jacobian_lam_max(term, y, args=graph))`` with your
    ``dt``. This is :func:`jacobian_eigenvalue` ``.lam_abs``; use that function for
    the eigenvalue itself (its real part says whether the mode is damped).

    Args:
        term: A Term or callable ``f(t, y, args)``.
        y: State (tensor or tuple of tensors).
        t: Time.
        args: Passed to the term.
        iters: Maximum Jacobian-vector products.
        tol: Relative residual tolerance.
        seed: Seed of the start vector.

    Returns:
        The modulus of the dominant eigenvalue as a float.

    Raises:
        TypeError: see :func:`jacobian_eigenvalue`.
        ValueError: see :func:`jacobian_eigenvalue`.

    Warns:
        RuntimeWarning: if the iteration did not converge within ``iters`` products.
    """
    res = jacobian_eigenvalue(term, y, t=t, args=args, iters=iters, tol=tol, seed=seed)
    if not res.converged:
        warnings.warn(
            f"jacobian_lam_max: did not converge in {res.iterations} Jacobian-vector products "
            f"(relative residual {res.residual:.2g} > tol={tol:g}); the estimate "
            f"{res.lam_abs:.4g} may be low. Increase `iters`.",
            RuntimeWarning,
            stacklevel=2,
        )
    return res.lam_abs


# ---------------------------------------------------------------------------------
# Step-size advice
# ---------------------------------------------------------------------------------
def _operator_of(term: Any, y: Any, t: float, args: Any) -> GraphOperator | None:
    if isinstance(term, LinearTerm):
        return term.operator(t, y, args)
    if isinstance(term, SecondOrderTerm):
        x = y[0] if isinstance(y, tuple) else y
        return term.operator(t, x, args)
    return None


def _first_order_dt(solver: Any, mu: complex) -> float | None:
    """Largest stable step of a first-order method for one eigenvalue ``mu`` of ``df/dy``."""
    mag = abs(mu)
    if mag == 0.0:
        return None
    if mu.real <= 0.0 and abs(mu.imag) > 1e-6 * mag:
        try:
            roots = _roots_function(solver)
        except TypeError:
            roots = None
        if roots is not None:
            b = _ray_bound(
                lambda z: np.abs(roots(z)).max(axis=-1), mu / mag, start=1e-2
            )
            return None if math.isinf(b) else b / mag
    # real (or growing) dominant mode: the negative-real-axis bound applies
    return solver.max_stable_dt(mag)


def recommend_dt(
    term: Term,
    solver: Any,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    safety: float = 0.9,
    iters: int = 100,
    tol: float = 1e-6,
) -> float | None:
    """A stable fixed step ``safety * dt_max`` for ``solver`` on ``term`` near state ``y``.

    * ``LinearTerm`` (``y' = -A y + s``): ``dt_max = solver.max_stable_dt(lam_max(A))``
      with ``A = term.operator(t, y, args)`` (Lanczos if symmetric, else power).
    * ``SecondOrderTerm`` with an operator (``x'' = -A x``): second-order solvers use
      ``solver.max_stable_dt(lam_max(A))`` (``2/sqrt(lam_max)`` for Leapfrog); first-order
      solvers see the eigenvalues ``+-i sqrt(lam_max)`` of the ``(x, v)`` system and
      use their imaginary-axis bound (:func:`imag_axis_bound`).
    * any other term: the dominant eigenvalue ``mu`` of the Jacobian at ``y``
      (:func:`jacobian_eigenvalue`). A real (or growing) ``mu`` uses
      ``solver.max_stable_dt(|mu|)``; a complex ``mu`` with ``Re mu <= 0`` uses the
      stability interval along the ray through ``mu``; second-order solvers use
      ``|mu|^2`` (the ``lambda`` of ``x'' = -lambda x``). This linearisation is local:
      recompute it when the state changes a lot.

    Args:
        term: The term.
        solver: The solver value.
        y: Current state (tensor, or ``(x, v)``).
        t: Current time.
        args: Passed to the term (e.g. the graph).
        safety: Factor in ``(0, 1]``.
        iters: Jacobian-vector products allowed for the eigenvalue estimate (terms
            without an operator only).
        tol: Relative residual at which that estimate counts as converged; a
            ``RuntimeWarning`` says so when it did not converge.

    Returns:
        The step as a float, or ``None`` when the method has no stability limit for
        this problem (implicit solvers; ``None`` matches ``max_stable_dt``'s "no limit").

    Raises:
        ValueError: ``safety`` outside ``(0, 1]``, or a method that is unstable for every
            ``dt`` on this problem (e.g. Euler on the undamped wave equation).
    """
    if (
        isinstance(safety, bool)
        or not isinstance(safety, int | float)
        or not 0.0 < safety <= 1.0
    ):
        raise ValueError(
            f"recommend_dt: `safety` must be in (0, 1]; got {safety!r}. Use e.g. safety=0.9."
        )
    if isinstance(solver, AbstractImplicitSolver):
        return None
    second = _is_second_order(solver)
    op = _operator_of(term, y, t, args)
    if op is not None:
        lam = _lam_max(op, method="lanczos" if op.is_symmetric else "power")
        if lam == 0.0:
            return None
        if isinstance(term, SecondOrderTerm) and not second:
            b = imag_axis_bound(solver)
            if b == 0.0:
                raise ValueError(
                    f"recommend_dt: {_name(solver)} is unstable for every dt on x'' = -A x (its "
                    "stability region contains no segment of the imaginary axis); use Leapfrog, "
                    "SymplecticEuler or RK4."
                )
            return None if math.isinf(b) else safety * b / math.sqrt(lam)
        limit = solver.max_stable_dt(lam)
        return None if limit is None else safety * limit
    eig = jacobian_eigenvalue(term, y, t=t, args=args, iters=iters, tol=tol)
    if not eig.converged:
        warnings.warn(
            f"recommend_dt: the Jacobian eigenvalue estimate did not converge in {iters} "
            f"products (residual {eig.residual:.2g} > tol={tol:g}); the step may be off. "
            "Pass a larger `iters`.",
            RuntimeWarning,
            stacklevel=2,
        )
    if second:
        limit = solver.max_stable_dt(eig.lam_abs**2) if eig.lam_abs > 0 else None
    else:
        limit = _first_order_dt(solver, eig.lam)
        if limit == 0.0:
            raise ValueError(
                f"recommend_dt: {_name(solver)} is unstable for every dt at the dominant Jacobian "
                f"eigenvalue {eig.lam:.4g} (outside its stability region along that ray); use a "
                "method whose region covers it (e.g. RK4) or an implicit solver."
            )
    return None if limit is None else safety * limit
