r"""What a solver's linear stability *is*: one value per solver, one bound routine.

Every solver describes its linear stability once, in
:meth:`solvers.base.AbstractSolver.linear_stability`, by returning one of the
frozen values of this module:

* :class:`OneStep` -- a one-step method ``y_{n+1} = R(z) y_n`` with a polynomial or
  rational stability function ``R`` of ``z = dt * mu`` (explicit Runge-Kutta methods,
  torchdiffeq's fixed-grid and adaptive RK methods);
* :class:`Multistep` -- a linear multistep method with characteristic polynomials
  ``rho`` and ``sigma`` (Adams-Bashforth, torchdiffeq's ``explicit_adams``);
* :class:`Oscillator` -- a method written for ``beta x'' + alpha x' = -lam x``,
  described by its amplification roots (Leapfrog, TwoStepLeapfrog, SymplecticEuler,
  DampedLeapfrog); the step bound is in ``dt * sqrt(lam)`` when undamped;
* :class:`Unconditional` -- stable for every step on the terms the solver accepts
  (the implicit theta-methods on PSD linear terms);
* :class:`NotAnalysed` -- no analysis is known (says why).

Everything stability-related derives from that value: ``solver.max_stable_dt``, the
functions of :mod:`solvers.stability` (stability functions, root conditions,
regions, CFL tables, the ``StabilityWarning`` text) and
:attr:`solvers.tableau.ButcherTableau.stability_bound`. Every bound is computed by
:func:`ray_bound`, the one scan-and-bisect routine.

Conventions: the scalar test equation is ``y' = mu y`` and ``z = dt * mu``; for graph
heat flow ``y' = -L y`` (``L`` PSD, see :mod:`graphops`) the points are
``z = -dt * lam_i`` on the negative real axis. Polynomial coefficients are stored in
**increasing** powers (``numpy.polynomial`` order, as
:attr:`~solvers.tableau.ButcherTableau.stability_polynomial`).

This module imports only numpy and the input checks, so the solver modules can
import it without cycles.
"""

from __future__ import annotations

import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from solvers._checks import check_real, describe

__all__ = [
    "LinearStability",
    "Multistep",
    "NotAnalysed",
    "OneStep",
    "Oscillator",
    "Unconditional",
    "ray_bound",
]

# A root is "on or inside the unit circle" up to this round-off slack while
# scanning; the bisection inside the exit bracket is strict, so exact interval ends
# (Euler: 2, Leapfrog: 2) come out exact.
_ROOT_TOL = 1e-12


# ---------------------------------------------------------------------------------
# The one bound routine
# ---------------------------------------------------------------------------------
def ray_bound(g: Callable[[np.ndarray], np.ndarray], *, start: float = 1e-6) -> float:
    """Largest ``s`` with ``g(s') <= 1`` for every ``s'`` in ``(0, s]``.

    ``g`` maps a float array of ray parameters ``s >= 0`` to the largest root
    modulus there (``|R(s d)|`` for a one-step method along the direction ``d``,
    ``max |zeta|`` for a multistep or oscillator method). The ray is scanned on a
    fine grid from ``start`` to 20 (spacing 1e-3), then geometrically to 1e8 (no
    exit there: ``inf``); the first exit is refined by bisection to adjacent
    floats. Intervals shorter than ``start`` count as 0, and non-finite values of
    ``g`` count as unstable.

    Args:
        g: Vectorised ``s -> max |zeta|``.
        start: First scanned point; shorter intervals are reported as 0.

    Returns:
        The bound ``s`` (``0.0``, a positive float, or ``inf``).

    Example:
        >>> ray_bound(lambda s: np.abs(1.0 - s))   # explicit Euler on the real axis
        2.0
    """

    def stable(s: np.ndarray, slack: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            vals = np.asarray(g(np.asarray(s, dtype=np.float64)), dtype=np.float64)
        return np.isfinite(vals) & (vals <= 1.0 + slack)

    full = np.concatenate(
        [np.linspace(start, 20.0, 20_001), np.geomspace(20.0, 1e8, 2_001)[1:]]
    )
    # Chunks, so the scan stops soon after the first exit.
    for lo_i in range(0, full.size, 1_000):
        grid = full[max(lo_i - 1, 0) : lo_i + 1_000]
        bad = np.flatnonzero(~stable(grid, _ROOT_TOL))
        if bad.size:
            break
    else:
        return math.inf
    i = int(bad[0])
    # Only the first chunk can fail at its first point: later chunks start at the
    # last (stable) point of the previous one.
    if i == 0:
        return 0.0
    lo, hi = float(grid[i - 1]), float(grid[i])
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if bool(stable(np.array([mid]), 0.0)[0]) else (lo, mid)
    return lo


@functools.lru_cache(maxsize=256)
def _cached_bound(desc: LinearStability, direction: complex, start: float) -> float:
    """:func:`ray_bound` of ``desc.root_modulus`` along ``direction`` (cached)."""
    return ray_bound(lambda s: desc.root_modulus(s * direction), start=start)


# ---------------------------------------------------------------------------------
# Polynomial helpers
# ---------------------------------------------------------------------------------
def _polyval(coeffs: tuple[float, ...], z: np.ndarray) -> np.ndarray:
    """``sum_k coeffs[k] z^k`` by Horner (accurate for huge ``|z|``, unlike a solve)."""
    out = np.zeros_like(z)
    for c in coeffs[::-1]:
        out = out * z + c
    return out


def _poly_roots(coeffs: np.ndarray) -> np.ndarray:
    """Roots ``[..., k]`` of ``sum_j coeffs[..., j] zeta^j`` (batched companion).

    ``coeffs`` has shape ``[..., k + 1]`` in increasing powers; a vanishing leading
    coefficient gives non-finite roots (counted as unstable).
    """
    k = coeffs.shape[-1] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        monic = coeffs[..., :-1] / coeffs[..., -1:]
    if k == 1:
        return -monic
    comp = np.zeros(coeffs.shape[:-1] + (k, k), dtype=np.complex128)
    # first row: -a_{k-1}, ..., -a_0 of zeta^k + a_{k-1} zeta^{k-1} + ... + a_0
    comp[..., 0, :] = -monic[..., ::-1]
    idx = np.arange(k - 1)
    comp[..., idx + 1, idx] = 1.0
    finite = np.isfinite(comp).all(axis=(-2, -1))
    out = np.full(coeffs.shape[:-1] + (k,), np.inf, dtype=np.complex128)
    if finite.any():
        out[finite] = np.linalg.eigvals(comp[finite])
    return out


def _quadratic_roots(a2: Any, a1: Any, a0: Any) -> np.ndarray:
    """Roots ``[..., 2]`` of ``a2 x^2 + a1 x + a0`` (``a2 != 0``), broadcast.

    The cancellation-free form ``q = -(a1 + s sqrt(disc)) / 2``, with the sign ``s``
    that maximises ``|q|``; the roots are ``q / a2`` and ``a0 / q``.
    """
    a2, a1, a0 = np.broadcast_arrays(
        *(np.asarray(c, dtype=np.complex128) for c in (a2, a1, a0))
    )
    sq = np.sqrt(a1 * a1 - 4.0 * a2 * a0)
    q = np.where(np.abs(a1 + sq) >= np.abs(a1 - sq), -(a1 + sq) / 2.0, -(a1 - sq) / 2.0)
    nonzero = q != 0
    r1 = q / a2
    r2 = np.where(nonzero, a0 / np.where(nonzero, q, 1.0), 0.0)
    return np.stack([r1, r2], axis=-1)


def _quadratic_modulus(a2: Any, a1: Any, a0: Any) -> np.ndarray:
    """``max |x|`` over the roots of ``a2 x^2 + a1 x + a0``, broadcast.

    For real coefficients with complex roots the modulus is ``sqrt(a0 / a2)``
    exactly (the roots are conjugate, their product is ``a0 / a2``); computing it
    that way keeps the roots of an undamped oscillator on the unit circle to the
    last bit, which the strict bisection of :func:`ray_bound` relies on.
    """
    a2, a1, a0 = np.broadcast_arrays(
        *(np.asarray(c, dtype=np.complex128) for c in (a2, a1, a0))
    )
    general = np.abs(_quadratic_roots(a2, a1, a0)).max(axis=-1)
    real = (a2.imag == 0) & (a1.imag == 0) & (a0.imag == 0)
    disc = a1.real * a1.real - 4.0 * a2.real * a0.real
    with np.errstate(divide="ignore", invalid="ignore"):
        conj = np.sqrt(np.abs(a0.real / a2.real))
    return np.where(real & (disc < 0), conj, general)


def _coefficients(where: str, name: str, value: Any) -> tuple[float, ...]:
    """``value`` as a non-empty tuple of finite floats."""
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{where}: `{name}` must be a non-empty sequence of finite real "
            f"coefficients (increasing powers); got {describe(value)}."
        )
    return tuple(float(c) for c in arr)


# ---------------------------------------------------------------------------------
# The description values
# ---------------------------------------------------------------------------------
class LinearStability(ABC):
    """Base of the description values; one per solver, from ``linear_stability()``.

    Subclasses say what kind of analysis applies (the callers dispatch on the
    type). Every subclass answers :attr:`bound` and :meth:`max_stable_dt`; those
    with a stability region in the ``z`` plane also answer :meth:`roots`.
    """

    @property
    @abstractmethod
    def bound(self) -> float:
        """The constant ``c`` of the CFL limit (``inf``: none; ``nan``: no constant)."""

    def max_stable_dt(self, lam_max: float) -> float | None:
        """Largest stable fixed step for ``lam_max`` (``None``: no limit).

        First-order methods on ``y' = -A y``: ``bound / lam_max``.

        Args:
            lam_max: Largest eigenvalue of the PSD operator ``A``.

        Returns:
            The step, or ``None`` when there is no limit (``lam_max <= 0`` or an
            infinite bound).

        Raises:
            TypeError: ``lam_max`` is not a real number.
            ValueError: ``lam_max`` is not finite.
        """
        lam = _check_lam_max(f"{type(self).__name__}.max_stable_dt", lam_max)
        bound = self.bound
        if lam <= 0.0 or not math.isfinite(bound):
            return None
        return bound / lam

    def roots(self, z: Any) -> np.ndarray:
        """Roots ``[..., k]`` of the method's characteristic polynomial at ``z``.

        Raises:
            TypeError: the description has no stability region in the ``z`` plane.
        """
        raise TypeError(
            f"{self!r} has no stability region in the z plane (no roots as a "
            "function of z = dt * mu)."
        )

    def root_modulus(self, z: Any) -> np.ndarray:
        """``max |zeta|`` over :meth:`roots` at ``z`` (``<= 1``: stable there)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return np.abs(self.roots(z)).max(axis=-1)


def _check_lam_max(where: str, lam_max: Any) -> float:
    return check_real(
        where,
        "lam_max",
        lam_max,
        fix="Estimate it with graphops.lam_max(operator).",
    )


@dataclass(frozen=True)
class OneStep(LinearStability):
    r"""A one-step method: ``y_{n+1} = R(z) y_n`` with ``R = P / Q`` rational in ``z``.

    .. math:: R(z) = \frac{\sum_k p_k z^k}{\sum_k q_k z^k}

    Explicit Runge-Kutta methods have ``Q = 1`` and ``P`` the tableau's
    ``stability_polynomial``; the theta-method has
    ``P = 1 + (1 - theta) z``, ``Q = 1 - theta z``.

    Args:
        numerator: ``p_0, p_1, ...`` (increasing powers).
        denominator: ``q_0, q_1, ...`` (increasing powers); ``(1.0,)`` for a
            polynomial.

    Raises:
        ValueError: empty or non-finite coefficients.

    Example:
        >>> OneStep((1.0, 1.0)).bound     # explicit Euler, R(z) = 1 + z
        2.0
    """

    numerator: tuple[float, ...]
    denominator: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        """Store the coefficients as tuples of floats (hashable, comparable)."""
        for name in ("numerator", "denominator"):
            object.__setattr__(
                self, name, _coefficients("OneStep", name, getattr(self, name))
            )

    def evaluate(self, z: Any) -> np.ndarray:
        """``R(z)`` as a complex array of the shape of ``z`` (``inf`` at poles)."""
        z = np.asarray(z, dtype=np.complex128)
        num = _polyval(self.numerator, z)
        if self.denominator == (1.0,):
            return num
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / _polyval(self.denominator, z)

    def roots(self, z: Any) -> np.ndarray:
        """``R(z)[..., None]``: the one root of a one-step method."""
        return self.evaluate(z)[..., None]

    @property
    def bound(self) -> float:
        """Length ``c`` of the real stability interval ``[-c, 0]`` (cached)."""
        return _cached_bound(self, -1.0, 1e-6)


@dataclass(frozen=True)
class Multistep(LinearStability):
    r"""A linear multistep method with characteristic polynomials ``rho`` and ``sigma``.

    For ``y' = mu y`` the step is stable at ``z = dt mu`` when every root of

    .. math:: \rho(\zeta) - z\,\sigma(\zeta) = 0

    has ``|zeta| <= 1`` (roots on the circle simple). Adams-Bashforth ``k``:
    ``rho = zeta^k - zeta^{k-1}``, ``sigma = sum_j b_j zeta^{k-1-j}``.

    Args:
        rho: Coefficients of ``rho`` (increasing powers of ``zeta``).
        sigma: Coefficients of ``sigma`` (increasing powers), padded to the
            length of ``rho``.

    Raises:
        ValueError: empty or non-finite coefficients, or ``sigma`` longer than
            ``rho``.

    Example:
        >>> Multistep(rho=(0.0, -1.0, 1.0), sigma=(-0.5, 1.5)).bound   # AB2
        1.0
    """

    rho: tuple[float, ...]
    sigma: tuple[float, ...]

    def __post_init__(self) -> None:
        """Store the coefficients as tuples of floats of equal length."""
        rho = _coefficients("Multistep", "rho", self.rho)
        sigma = _coefficients("Multistep", "sigma", self.sigma)
        if len(sigma) > len(rho):
            raise ValueError(
                f"Multistep: `sigma` must not be longer than `rho`; got {len(sigma)} "
                f"and {len(rho)} coefficients. Pass both in increasing powers of "
                "zeta."
            )
        object.__setattr__(self, "rho", rho)
        object.__setattr__(self, "sigma", sigma + (0.0,) * (len(rho) - len(sigma)))

    def roots(self, z: Any) -> np.ndarray:
        """Roots ``[..., k]`` of ``rho(zeta) - z sigma(zeta)``, in no fixed order."""
        z = np.asarray(z, dtype=np.complex128)
        coeffs = np.asarray(self.rho) - z[..., None] * np.asarray(self.sigma)
        return _poly_roots(coeffs)

    @property
    def bound(self) -> float:
        """Length ``c`` of the real stability interval ``[-c, 0]`` (cached)."""
        return _cached_bound(self, -1.0, 1e-6)


@dataclass(frozen=True)
class Oscillator(LinearStability):
    r"""A method for ``beta x'' + alpha x' = -lam x``, by its amplification roots.

    One step (or the two-step recurrence) has the characteristic polynomial

    .. math:: (\beta + \alpha h)\,\zeta^2 - (2\beta + \alpha h - h^2 \lambda)\,\zeta
        + \beta = 0 ,

    which is ``zeta^2 - (2 - h^2 lam) zeta + 1`` for the undamped methods
    (Stormer-Verlet, two-step leapfrog, symplectic Euler; ``alpha = 0, beta = 1``).
    Undamped, the roots depend on ``h^2 lam / beta`` only, so in the ``z`` plane
    (``z = i h sqrt(lam / beta)``, the eigenvalues of the ``(x, v)`` system) they are
    the roots of ``zeta^2 - (2 + z^2) zeta + 1``, the stability region is the
    segment ``[-2i, 2i]`` and :attr:`bound` is 2: ``dt <= 2 / sqrt(lam_max)``.
    Damped, the roots depend on ``h`` and ``lam`` separately: there is no region
    and no constant, and :meth:`max_stable_dt` is found per ``lam_max``.

    Args:
        alpha: Damping weight, ``>= 0``.
        beta: Inertia weight, ``>= 0``; ``alpha + beta > 0``.

    Raises:
        TypeError: a weight is not a real number.
        ValueError: a weight is negative or not finite, or both are 0.

    Example:
        >>> Oscillator().bound
        2.0
    """

    alpha: float = 0.0
    beta: float = 1.0

    def __post_init__(self) -> None:
        """Validate the weights and store them as floats."""
        for name in ("alpha", "beta"):
            value = check_real("Oscillator", name, getattr(self, name), low=0.0)
            object.__setattr__(self, name, value)
        if self.alpha + self.beta == 0.0:
            raise ValueError(
                "Oscillator: `alpha` + `beta` must be > 0; got alpha=0.0, beta=0.0. "
                "Use beta=1 for the wave equation x'' = -lam x."
            )

    @property
    def damped(self) -> bool:
        """Whether ``alpha > 0`` (then there is no ``z``-plane region)."""
        return self.alpha > 0.0

    def mode_roots(self, dt: Any, lam: Any) -> np.ndarray:
        """Amplification roots for the mode ``lam`` at step ``dt``, broadcast.

        Args:
            dt: Step size(s) ``> 0``, float or array.
            lam: Mode eigenvalue(s) ``>= 0``, broadcast with ``dt``.

        Returns:
            Complex array of shape ``broadcast(dt, lam).shape + (2,)``. For
            ``beta = 0`` one root is 0 and the other Euler's ``1 - dt lam / alpha``.
        """
        return _quadratic_roots(*self._mode_coefficients(dt, lam))

    def mode_modulus(self, dt: Any, lam: Any) -> np.ndarray:
        """``max |zeta|`` of :meth:`mode_roots` (exactly 1 on the undamped circle)."""
        return _quadratic_modulus(*self._mode_coefficients(dt, lam))

    def _mode_coefficients(self, dt: Any, lam: Any) -> tuple[np.ndarray, ...]:
        dt = np.asarray(dt, dtype=np.float64)
        lam = np.asarray(lam, dtype=np.float64)
        zero = 0.0 * dt * lam
        a2 = self.beta + self.alpha * dt + zero
        a1 = -(2.0 * self.beta + self.alpha * dt - dt * dt * lam)
        return a2, a1, self.beta + zero

    def roots(self, z: Any) -> np.ndarray:
        """Roots ``[..., 2]`` of ``zeta^2 - (2 + z^2) zeta + 1`` (undamped only).

        Raises:
            TypeError: the oscillator is damped (``alpha > 0``).
        """
        self._require_undamped()
        z = np.asarray(z, dtype=np.complex128)
        return _quadratic_roots(1.0, -(2.0 + z * z), 1.0)

    def root_modulus(self, z: Any) -> np.ndarray:
        """``max |zeta|`` over :meth:`roots` (exactly 1 on ``[-2i, 2i]``)."""
        self._require_undamped()
        z = np.asarray(z, dtype=np.complex128)
        return _quadratic_modulus(1.0, -(2.0 + z * z), 1.0)

    def _require_undamped(self) -> None:
        if self.damped:
            raise TypeError(
                f"{self!r}: a damped oscillator's roots depend on dt and lam "
                "separately, so it has no stability region in the z plane; use "
                "mode_roots(dt, lam) and max_stable_dt(lam_max)."
            )

    def _rate(self, lam: float) -> float:
        """``1 / tau``, ``tau = max(sqrt(beta / lam), alpha / lam)``: the time scale.

        The bound in ``dt / tau`` lies in ``[2, 4]`` for every ``lam`` (it is
        ``(alpha + sqrt(alpha^2 + 4 beta lam)) / lam`` in ``dt``), so the scan of
        :func:`ray_bound` is well scaled for waves and diffusion alike.
        """
        wave = math.sqrt(lam / self.beta) if self.beta > 0.0 else math.inf
        diffusion = lam / self.alpha if self.alpha > 0.0 else math.inf
        return min(wave, diffusion)

    @property
    def bound(self) -> float:
        """2 (in ``dt * sqrt(lam / beta)``) undamped; ``nan`` (no constant) damped."""
        if self.damped:
            return math.nan
        return _oscillator_bound(self, 1.0)

    def max_stable_dt(self, lam_max: float) -> float | None:
        """Largest stable step for ``beta x'' + alpha x' = -A x`` (``None``: no limit).

        Undamped: ``bound / sqrt(lam_max / beta)``. Damped: the scan of
        :meth:`mode_modulus` at ``lam_max``.

        Raises:
            TypeError: ``lam_max`` is not a real number.
            ValueError: ``lam_max`` is not finite.
        """
        lam = _check_lam_max("Oscillator.max_stable_dt", lam_max)
        if lam <= 0.0:
            return None
        # Undamped or undamped-free (beta = 0) problems are scale free in dt / tau.
        key = lam if self.alpha > 0.0 and self.beta > 0.0 else 1.0
        return _oscillator_bound(self, key) / self._rate(lam)


@functools.lru_cache(maxsize=256)
def _oscillator_bound(desc: Oscillator, lam: float) -> float:
    """:func:`ray_bound` of the mode modulus in ``s = dt / tau`` at ``lam`` (cached)."""
    rate = desc._rate(lam)
    return ray_bound(lambda s: desc.mode_modulus(s / rate, lam))


@dataclass(frozen=True)
class Unconditional(LinearStability):
    """Stable for every step on the terms the solver accepts (no CFL limit).

    The implicit theta-methods (``theta >= 1/2``) on ``y' = -A y`` with ``A`` PSD.
    ``function`` optionally gives the method's stability function, for regions and
    plots.

    Args:
        function: The one-step stability function, or ``None``.

    Raises:
        TypeError: ``function`` is neither a :class:`OneStep` nor ``None``.

    Example:
        >>> Unconditional().max_stable_dt(8.0) is None
        True
    """

    function: OneStep | None = None

    def __post_init__(self) -> None:
        """Check that ``function`` is a :class:`OneStep` or ``None``."""
        if self.function is not None and not isinstance(self.function, OneStep):
            raise TypeError(
                "Unconditional: `function` must be a OneStep stability function or "
                f"None; got {describe(self.function)}. Pass e.g. "
                "OneStep((1.0,), (1.0, -1.0)) for implicit Euler."
            )

    @property
    def bound(self) -> float:
        """``inf``: no limit."""
        return math.inf

    def roots(self, z: Any) -> np.ndarray:
        """``R(z)[..., None]`` of :attr:`function`.

        Raises:
            TypeError: no stability function was given.
        """
        if self.function is None:
            return super().roots(z)
        return self.function.roots(z)


@dataclass(frozen=True)
class NotAnalysed(LinearStability):
    """No linear stability analysis is known; ``reason`` says why.

    ``max_stable_dt`` is ``None`` (no known limit: ``solve()`` warns about
    nothing) and :attr:`bound` is ``nan``.

    Args:
        reason: A sentence for error messages and tables.

    Example:
        >>> NotAnalysed("a predictor-corrector with tolerance-driven iterations").bound
        nan
    """

    reason: str = "the solver does not describe its linear stability"

    @property
    def bound(self) -> float:
        """``nan``: unknown."""
        return math.nan

    def roots(self, z: Any) -> np.ndarray:
        """Never available.

        Raises:
            TypeError: always, with :attr:`reason`.
        """
        raise TypeError(f"no linear stability analysis is known: {self.reason}.")
