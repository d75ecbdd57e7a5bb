r"""`ButcherTableau`: the one description every explicit Runge-Kutta method uses.

An explicit :math:`s`-stage Runge-Kutta method for :math:`y' = f(t, y)` is

.. math::

    k_i = f\Big(t_n + c_i\,\Delta t,\; y_n + \Delta t \sum_{j<i} a_{ij} k_j\Big),
    \qquad
    y_{n+1} = y_n + \Delta t \sum_i b_i k_i ,

and an embedded pair adds the error estimate
:math:`e_{n+1} = \Delta t \sum_i b^{\mathrm{err}}_i k_i` with
:math:`b^{\mathrm{err}} = b - \hat b` (the difference between the propagated weights
and the lower-order embedded weights). The tableaus themselves live next to the
solvers that use them, in :mod:`solvers.explicit_rk`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from solvers.linear_stability import OneStep

__all__ = ["ButcherTableau"]

# Tolerance for the consistency checks. Tableau entries are rationals rounded to
# float64, so `a @ 1 - c` and `sum(b) - 1` are O(1e-16) for correct tables (the
# Dormand-Prince rows have entries up to ~11 in magnitude, hence some headroom).
_CONSISTENCY_TOL = 1e-12


def _as_float_array(name: str, value, ndim: int) -> np.ndarray:
    """A read-only float64 copy of ``value`` with exactly ``ndim`` dimensions."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"ButcherTableau: `{name}` must be a float array; got "
            f"{type(value).__name__} ({exc}). Pass a nested list or numpy array of "
            "numbers."
        ) from None
    if arr.ndim != ndim:
        raise ValueError(
            f"ButcherTableau: `{name}` must be {ndim}-D; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"ButcherTableau: `{name}` must be finite; got {arr.tolist()}."
        )
    arr.setflags(write=False)  # the dataclass is frozen, so are its arrays
    return arr


@dataclass(frozen=True, eq=False)
class ButcherTableau:
    r"""Coefficients of an explicit Runge-Kutta method, validated at construction.

    Textbook letters: ``a`` (stage coupling, strictly lower triangular), ``b``
    (weights), ``c`` (nodes), ``b_err = b - b_hat`` (error weights of an embedded
    pair). Everything is float64 numpy; solvers cast to the state's dtype/device once
    per solve.

    .. math::

        R(z) = 1 + z\, b^\top (I - zA)^{-1} \mathbf{1}

    is the stability function: one step applied to :math:`y' = \lambda y` multiplies
    :math:`y` by :math:`R(\lambda\,\Delta t)`.

    Args:
        name: Method name (used in messages and ``repr``).
        a: ``[s, s]`` strictly lower triangular stage matrix.
        b: ``[s]`` weights, summing to 1.
        c: ``[s]`` nodes; must equal the row sums of ``a``.
        order: Classical order of the propagated solution ``y_{n+1}``.
        b_err: ``[s]`` error weights ``b - b_hat`` of an embedded pair (summing to
            0), or ``None`` for a method without an error estimate.
        error_order: Order of the embedded solution ``b_hat``; required iff
            ``b_err`` is given.

    Attributes:
        num_stages: ``s``.
        fsal: First Same As Last: the last row of ``a`` equals ``b`` and
            ``c[-1] = 1``, so the last stage is ``f(t_{n+1}, y_{n+1})`` and is reused
            as the first stage of the next step.
        explicit: Always ``True`` (implicit tableaus are rejected).
        stability_bound: Length of the real stability interval, see
            :attr:`stability_bound`.

    Raises:
        ValueError: ``a`` is not square or not strictly lower triangular, shapes do
            not match, ``a @ 1 != c``, ``sum(b) != 1``, ``sum(b_err) != 0``, or
            ``order``/``error_order`` are inconsistent.

    Example:
        >>> euler = ButcherTableau("Euler", a=[[0.0]], b=[1.0], c=[0.0], order=1)
        >>> euler.stability_bound
        2.0
    """

    name: str
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    order: int
    b_err: np.ndarray | None = None
    error_order: int | None = None
    num_stages: int = field(init=False, repr=False)
    fsal: bool = field(init=False, repr=False)
    explicit: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Convert to read-only float64 arrays, validate, derive the properties."""
        set_ = object.__setattr__  # frozen dataclass: normalise fields in place once
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(
                f"ButcherTableau: `name` must be a non-empty string; got {self.name!r}."
            )
        where = f"ButcherTableau({self.name!r})"
        a = _as_float_array("a", self.a, 2)
        b = _as_float_array("b", self.b, 1)
        c = _as_float_array("c", self.c, 1)
        s = b.shape[0]
        if s == 0 or a.shape != (s, s) or c.shape != (s,):
            raise ValueError(
                f"{where}: `a` must be [s, s] and `b`, `c` must be [s] for the same "
                f"s; got a {a.shape}, b {b.shape}, c {c.shape}."
            )
        if np.any(np.triu(a) != 0.0):
            i, j = np.argwhere(np.triu(a) != 0.0)[0]
            raise ValueError(
                f"{where}: `a` must be strictly lower triangular (an explicit "
                f"method); got a[{i}, {j}]={a[i, j]:g}. Implicit Runge-Kutta methods "
                "are not supported; use ImplicitEuler or CrankNicolson for stiff "
                "linear terms."
            )
        row_sums = a.sum(axis=1)
        if not np.allclose(row_sums, c, rtol=0.0, atol=_CONSISTENCY_TOL):
            i = int(np.argmax(np.abs(row_sums - c)))
            raise ValueError(
                f"{where}: the row sums of `a` must equal `c` (a @ 1 = c); got row "
                f"{i} sum {row_sums[i]:.17g} but c[{i}]={c[i]:.17g}. Check the "
                "transcription of the table."
            )
        if abs(b.sum() - 1.0) > _CONSISTENCY_TOL:
            raise ValueError(
                f"{where}: the weights `b` must sum to 1 (consistency); got "
                f"sum(b)={b.sum():.17g}."
            )
        if (
            not isinstance(self.order, int)
            or isinstance(self.order, bool)
            or self.order < 1
        ):
            raise ValueError(
                f"{where}: `order` must be a positive int; got {self.order!r}."
            )
        b_err = None
        if self.b_err is not None:
            b_err = _as_float_array("b_err", self.b_err, 1)
            if b_err.shape != (s,):
                raise ValueError(
                    f"{where}: `b_err` must have shape ({s},); got {b_err.shape}."
                )
            if abs(b_err.sum()) > _CONSISTENCY_TOL:
                raise ValueError(
                    f"{where}: the error weights `b_err` = b - b_hat must sum to 0; "
                    f"got sum(b_err)={b_err.sum():.3g}. Pass the difference b - "
                    "b_hat, not b_hat."
                )
            eo = self.error_order
            if not isinstance(eo, int) or isinstance(eo, bool) or not 1 <= eo:
                raise ValueError(
                    f"{where}: an embedded pair needs `error_order` (the order of "
                    f"b_hat) as a positive int; got {eo!r}."
                )
        elif self.error_order is not None:
            raise ValueError(
                f"{where}: `error_order` is given ({self.error_order}) but `b_err` is "
                "None; pass the error weights b - b_hat or drop error_order."
            )
        set_(self, "a", a)
        set_(self, "b", b)
        set_(self, "c", c)
        set_(self, "b_err", b_err)
        set_(self, "num_stages", s)
        set_(self, "explicit", True)
        set_(self, "fsal", bool(s > 1 and np.array_equal(a[-1, :], b) and c[-1] == 1.0))

    # -- stability ---------------------------------------------------------------------
    def stability_function(self, z):
        r"""Evaluate :math:`R(z) = 1 + z\, b^\top (I - zA)^{-1} \mathbf{1}`.

        Args:
            z: A complex (or real) number or array of any shape.

        Returns:
            ``complex128`` numpy array of ``R`` at every ``z`` (a 0-d array for a
            scalar input).
        """
        z = np.asarray(z, dtype=np.complex128)
        s = self.num_stages
        # Batched (I - zA) x = 1; A is nilpotent, so the matrix is unit lower
        # triangular and always invertible.
        mats = np.eye(s) - z[..., None, None] * self.a
        ones = np.ones(z.shape + (s, 1), dtype=np.complex128)
        x = np.linalg.solve(mats, ones)[..., 0]
        return 1.0 + z * (x @ self.b)

    @property
    def stability_polynomial(self) -> np.ndarray:
        r"""Coefficients of :math:`R(z)` in increasing powers of ``z``.

        For explicit methods ``A`` is nilpotent, so the Neumann series
        :math:`(I - zA)^{-1} = \sum_j z^j A^j` terminates and
        :math:`R(z) = 1 + \sum_{j \ge 1} (b^\top A^{j-1} \mathbf{1})\, z^j`. Trailing
        zero coefficients are dropped; evaluate with
        ``numpy.polynomial.polynomial.polyval(z, coeffs)``.
        """
        coeffs = [1.0]
        v = np.ones(self.num_stages)
        for _ in range(self.num_stages):
            coeffs.append(float(self.b @ v))
            v = self.a @ v
        out = np.trim_zeros(np.array(coeffs), "b")
        out.setflags(write=False)
        return out

    @property
    def stability_bound(self) -> float:
        r"""Length ``r`` of the real stability interval :math:`[-r, 0]`.

        The largest ``r`` with :math:`|R(-x)| \le 1` for every :math:`x \in [0, r]`:
        the bound of ``OneStep(stability_polynomial)``, found by the one
        scan-and-bisect routine :func:`solvers.linear_stability.ray_bound` (cached
        per polynomial). For heat flow ``y' = -L y`` with ``L`` PSD a fixed step is
        stable iff ``dt * lam_max <= stability_bound``. Euler 2, Heun/Midpoint 2,
        RK4 2.7853, Bosh3 2.5127, Dopri5 3.3066.
        """
        return OneStep(self.stability_polynomial).bound

    def __repr__(self) -> str:
        """Name, stages, orders and FSAL (the coefficients are in ``a, b, c``)."""
        pair = f", error_order={self.error_order}" if self.b_err is not None else ""
        return (
            f"ButcherTableau(name={self.name!r}, num_stages={self.num_stages}, "
            f"order={self.order}{pair}, fsal={self.fsal})"
        )
