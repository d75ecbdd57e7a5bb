r"""Explicit Runge-Kutta methods: one engine, :class:`ExplicitRK`, driven by a tableau.

Every method here is a :class:`~solvers.tableau.ButcherTableau` plus a three-line
class. Adding a method means adding a tableau (with the source of its
coefficients) and a class; the tableau, order, CFL and gradient tests in
``tests/solvers`` then cover it. The engine computes, for one step of size
:math:`\Delta t`,

.. math::

    k_i = f\Big(t_n + c_i \Delta t,\; y_n + \Delta t \sum_{j<i} a_{ij} k_j\Big), \quad
    y_{n+1} = y_n + \Delta t \sum_i b_i k_i, \quad
    e_{n+1} = \Delta t \sum_i b^{\mathrm{err}}_i k_i .

**Fused stages.** When the term is affine with a fixed operator for the whole solve
(it returns a :class:`~solvers.terms.FixedAffine` from
:meth:`~solvers.terms.Term.affine_form`, asked once per solve in
:meth:`ExplicitRK.init`) and the tableau is a *chain* (each stage uses only the
previous one: :math:`a_{i,i-1} = \alpha_i \ne 0`, every other :math:`a_{ij} = 0`;
Euler, Midpoint, Heun, RK4), every stage is one fused operator call,
:math:`Y_i = Y_0 - \Delta t\,\alpha_i (A Y_{i-1} - s)`, and the slopes are never
stored: since :math:`\Delta t\,k_{i-1} = (Y_i - y_n)/\alpha_i`,

.. math::

    y_{n+1} = \Big(1 - \sum_{i\ge1} w_i\Big) y_n + \sum_{i\ge1} w_i Y_i
    + \Delta t\, b_{s} f(Y_{s}), \qquad w_i = b_{i-1} / \alpha_i,

whose last term is one more fused call (:math:`Y_s` the last stage input). This is
the same method rearranged (equal to the stage-by-stage form up to round-off, a
few ulps of :math:`|y|`), with ``s`` operator applications per step as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor

from solvers._tree import State, tmap
from solvers.base import AbstractAdaptiveSolver, AbstractSolver, Step
from solvers.linear_stability import OneStep
from solvers.tableau import ButcherTableau
from solvers.terms import FixedAffine, Term

__all__ = [
    "BOSH3_TABLEAU",
    "DOPRI5_TABLEAU",
    "EULER_TABLEAU",
    "HEUN_TABLEAU",
    "MIDPOINT_TABLEAU",
    "RK4_TABLEAU",
    "Bosh3",
    "Dopri5",
    "Euler",
    "ExplicitRK",
    "Heun",
    "Midpoint",
    "RK4",
]

# ---------------------------------------------------------------------------------
# Tableaus. Exact rationals, rounded once to float64.
# ---------------------------------------------------------------------------------
# Forward Euler (Euler 1768): the 1-stage method y1 = y0 + dt f(t0, y0).
EULER_TABLEAU = ButcherTableau("Euler", a=[[0.0]], b=[1.0], c=[0.0], order=1)

# Explicit midpoint rule (Runge 1895): evaluate at the half step, use only that slope.
MIDPOINT_TABLEAU = ButcherTableau(
    "Midpoint", a=[[0.0, 0.0], [1 / 2, 0.0]], b=[0.0, 1.0], c=[0.0, 1 / 2], order=2
)

# Heun's method (Heun 1900), the explicit trapezoidal rule: Euler predictor, then the
# average of the slopes at both ends.
HEUN_TABLEAU = ButcherTableau(
    "Heun", a=[[0.0, 0.0], [1.0, 0.0]], b=[1 / 2, 1 / 2], c=[0.0, 1.0], order=2
)

# The classical 4th-order method (Kutta 1901, "the" Runge-Kutta method); Hairer,
# Norsett & Wanner (1993), Table II.1.2 (left).
RK4_TABLEAU = ButcherTableau(
    "RK4",
    a=[
        [0.0, 0.0, 0.0, 0.0],
        [1 / 2, 0.0, 0.0, 0.0],
        [0.0, 1 / 2, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ],
    b=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
    c=[0.0, 1 / 2, 1 / 2, 1.0],
    order=4,
)

# Bogacki & Shampine (1989), "A 3(2) pair of Runge-Kutta formulas", Appl. Math. Lett.
# 2(4): 321-325. 3rd-order solution (b), 2nd-order embedded solution b_hat =
# (7/24, 1/4, 1/3, 1/8); FSAL (the last row of `a` is `b`). Same table as MATLAB's
# ode23, scipy's RK23 and torchdiffeq's bosh3.
_BOSH3_B = [2 / 9, 1 / 3, 4 / 9, 0.0]
_BOSH3_B_HAT = [7 / 24, 1 / 4, 1 / 3, 1 / 8]
BOSH3_TABLEAU = ButcherTableau(
    "Bosh3",
    a=[
        [0.0, 0.0, 0.0, 0.0],
        [1 / 2, 0.0, 0.0, 0.0],
        [0.0, 3 / 4, 0.0, 0.0],
        _BOSH3_B,
    ],
    b=_BOSH3_B,
    c=[0.0, 1 / 2, 3 / 4, 1.0],
    order=3,
    b_err=[x - y for x, y in zip(_BOSH3_B, _BOSH3_B_HAT, strict=True)],
    error_order=2,
)

# Dormand & Prince (1980), "A family of embedded Runge-Kutta formulae", J. Comput.
# Appl. Math. 6(1): 19-26, Table 5.2 (RK5(4)7M): `a`, `c` and the 5th-order weights
# `b` (propagated: "local extrapolation"); FSAL. The same solution as Hairer's DOPRI5,
# MATLAB's ode45 and scipy's RK45.
# Embedded 4th-order weights: the "Dormand-Prince-Shampine" set used by torchdiffeq's
# dopri5, diffrax and JAX's odeint (after Shampine (1986), "Some practical Runge-Kutta
# formulas", Math. Comp. 46: 135-150), rather than DP80's own
# b_hat = (5179/57600, 0, 7571/16695, 393/640, -92097/339200, 187/2100, 1/40) used by
# DOPRI5/scipy. Both are 4th order (tests/solvers/test_tableau.py checks); this one
# reproduces torchdiffeq's step sequence exactly, whereas DP80's estimate is more
# conservative on graph heat flow (5-14% more evaluations at equal tolerances).
_DOPRI5_B = [35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]
_DOPRI5_B_HAT = [
    1951 / 21600,
    0.0,
    22642 / 50085,
    451 / 720,
    -12231 / 42400,
    649 / 6300,
    1 / 60,
]
DOPRI5_TABLEAU = ButcherTableau(
    "Dopri5",
    a=[
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [1 / 5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [3 / 40, 9 / 40, 0.0, 0.0, 0.0, 0.0, 0.0],
        [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0, 0.0, 0.0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0, 0.0, 0.0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0.0, 0.0],
        _DOPRI5_B,
    ],
    b=_DOPRI5_B,
    c=[0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0],
    order=5,
    b_err=[x - y for x, y in zip(_DOPRI5_B, _DOPRI5_B_HAT, strict=True)],
    error_order=4,
)


# ---------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------
# The non-zero (stage index, coefficient) pairs. Coefficients are Python floats
# (exact float64 values from the tableau), passed as `alpha` scalars: one fused
# kernel per stage term and no host sync on any device.
_Coeffs = tuple[tuple[int, float], ...]


class RKState(NamedTuple):
    """Per-solve state of :class:`ExplicitRK`.

    Attributes:
        a: For each stage ``i``, the non-zero ``(j, a_ij)`` pairs, the coefficients
            already cast to the state's dtype and device (done once, in ``init``).
        b: Non-zero ``(j, b_j)`` pairs, cast likewise.
        b_err: Non-zero ``(j, b_err_j)`` pairs, or ``None`` without an error estimate.
        f0: ``f(t_n, y_n)`` at the current point if already known (the FSAL stage of
            the previous step, or seeded by :meth:`ExplicitRK.seed_derivative`),
            else ``None``.
        fused: The fused stages (:class:`_Fused`) when the term offered a
            :class:`~solvers.terms.FixedAffine` and the tableau is a chain; else
            ``None`` (the stage-by-stage form).
    """

    a: tuple[_Coeffs, ...]
    b: _Coeffs
    b_err: _Coeffs | None
    f0: Any = None
    fused: Any = None


class _Chain(NamedTuple):
    r"""A chain tableau's coefficients for the fused form (see the module docstring).

    ``alpha[i - 1]`` is :math:`a_{i,i-1}`; ``w[i - 1]`` is :math:`b_{i-1}/\alpha_i`
    (zeros dropped at use); ``w0 = 1 - sum(w)``; ``b_last`` the last stage's weight.
    """

    alpha: tuple[float, ...]
    w: tuple[float, ...]
    w0: float
    b_last: float


class _Fused(NamedTuple):
    """Per-solve fused-stage state: the term's affine form, the chain, buffers."""

    affine: FixedAffine
    chain: _Chain
    buffers: list  # one per stage input Y_1..Y_{s-1}, allocated at first use


def _chain_of(tab: ButcherTableau) -> _Chain | None:
    """The chain form of an explicit tableau, or ``None`` if it is not a chain."""
    s = tab.num_stages
    for i in range(s):
        for j in range(i):
            if (tab.a[i, j] != 0.0) != (j == i - 1):
                return None
    if tab.fsal and s > 1:  # the last stage input is y1 itself: not this form
        return None
    alpha = tuple(float(tab.a[i, i - 1]) for i in range(1, s))
    w = tuple(float(tab.b[i - 1]) / alpha[i - 1] for i in range(1, s))
    return _Chain(alpha, w, 1.0 - sum(w), float(tab.b[s - 1]))


def _fused_step(fused: _Fused, dt: float, y0: Tensor) -> Tensor:
    """One step in the fused form (see the module docstring)."""
    aff, ch = fused.affine, fused.chain
    # Buffers for the stage inputs only when nothing is differentiated (autograd
    # keeps the stage inputs); y1 is always a fresh tensor (the loop keeps it).
    reuse = not (torch.is_grad_enabled() and (y0.requires_grad or aff.requires_grad))
    bufs = fused.buffers
    ys = []
    x = y0
    for i, a in enumerate(ch.alpha):
        out = None
        if reuse:
            if len(bufs) <= i or bufs[i].shape != y0.shape or bufs[i].dtype != y0.dtype:
                bufs[i:] = [torch.empty_like(y0)]
            out = bufs[i]
        x = aff.stage(y0, x, dt * a, out=out)
        ys.append(x)
    base = None
    for wi, yi in zip(ch.w, ys, strict=True):
        if wi == 0.0:
            continue
        base = torch.mul(yi, wi) if base is None else base.add_(yi, alpha=wi)
    if base is None:  # only the last stage counts (Euler, Midpoint): y0 + dt b f(Y)
        return aff.stage(y0, x, dt * ch.b_last)
    if ch.w0 != 0.0:
        base.add_(y0, alpha=ch.w0)
    # `base` is fresh: the last fused call may write into it
    return aff.stage(base, x, dt * ch.b_last, out=base if reuse else None)


def _combine(y0: State, dt: float | Tensor, coeffs: _Coeffs, ks: list[State]) -> State:
    """``y0 + dt * sum_j coeffs_j * ks[j]`` leaf-wise, one fused kernel per term."""
    if not coeffs:  # an all-zero row of `a` (a stage at c_i = 0)
        return y0
    idx = [j for j, _ in coeffs]

    def leaf(y: Tensor, *k_leaves: Tensor) -> Tensor:
        if isinstance(dt, Tensor):  # a learned/tensor step: keep it in the graph
            acc = coeffs[0][1] * k_leaves[0]
            for (_, c), k in zip(coeffs[1:], k_leaves[1:], strict=True):
                acc = acc.add(k, alpha=c)
            return y + dt * acc
        out = torch.add(y, k_leaves[0], alpha=dt * coeffs[0][1])
        for (_, c), k in zip(coeffs[1:], k_leaves[1:], strict=True):
            out = out.add_(k, alpha=dt * c)  # in place on the fresh `out`
        return out

    return tmap(leaf, y0, *[ks[j] for j in idx])


def _weighted(dt: float | Tensor, coeffs: _Coeffs, ks: list[State]) -> State:
    """``dt * sum_j coeffs_j * ks[j]`` leaf-wise."""
    if not coeffs:  # b_err == 0: the pair's two solutions coincide
        return tmap(torch.zeros_like, ks[0])
    idx = [j for j, _ in coeffs]

    def leaf(*k_leaves: Tensor) -> Tensor:
        acc = coeffs[0][1] * k_leaves[0]
        for (_, c), k in zip(coeffs[1:], k_leaves[1:], strict=True):
            acc = acc.add_(k, alpha=c)  # in place on the fresh `acc`
        return acc * dt

    return tmap(leaf, *[ks[j] for j in idx])


def _first_leaf(y: State) -> Tensor:
    return y[0] if isinstance(y, tuple) else y


@dataclass(frozen=True)
class ExplicitRK(AbstractSolver):
    r"""Engine for every explicit Runge-Kutta method; subclasses only set ``tableau``.

    One step of size :math:`\Delta t` from :math:`(t_n, y_n)`:

    .. math::

        k_i = f\Big(t_n + c_i \Delta t,\; y_n + \Delta t \sum_{j<i} a_{ij} k_j\Big),
        \qquad y_{n+1} = y_n + \Delta t \sum_i b_i k_i,

    and, for embedded pairs, the local error estimate
    :math:`e_{n+1} = \Delta t \sum_i (b_i - \hat b_i) k_i` returned as ``Step.y_err``.

    ``order`` (and ``error_order`` of an embedded pair) come from the tableau; a
    method whose tableau has error weights ``b_err`` must also derive from
    :class:`~solvers.base.AbstractAdaptiveSolver`, and only such a method may. The
    coefficients are cast to the state's dtype and device once, in :meth:`init`,
    and kept in the solver state (:class:`RKState`). FSAL methods return the last
    stage ``f(t_{n+1}, y_{n+1})`` in ``Step.state`` and reuse it as the next first
    stage, so a step costs ``s - 1`` right-hand-side evaluations after the first.
    Works with tensor states and tuple states such as ``(x, v)``. No host
    synchronisation happens in :meth:`step`. Time is passed to the term as a Python
    float.

    Subclass with a tableau to add a method::

        @dataclass(frozen=True)
        class Ralston(ExplicitRK):
            tableau = RALSTON_TABLEAU   # a ButcherTableau

    Raises:
        TypeError: ``ExplicitRK()`` itself (it has no tableau), or a subclass whose
            ``tableau`` is not a :class:`~solvers.tableau.ButcherTableau`.
    """

    tableau: ClassVar[ButcherTableau]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Derive ``order`` and ``error_order`` from the subclass tableau.

        Raises:
            TypeError: ``tableau`` is not a ButcherTableau, or an embedded pair
                (``b_err``) without the ``AbstractAdaptiveSolver`` base, or that
                base without ``b_err``.
        """
        super().__init_subclass__(**kwargs)
        tab = cls.__dict__.get("tableau")
        if tab is None:
            return
        if not isinstance(tab, ButcherTableau):
            raise TypeError(
                f"{cls.__name__}: `tableau` must be a ButcherTableau; got "
                f"{type(tab).__name__}. Build one with ButcherTableau(name, a=..., "
                "b=..., c=..., order=...)."
            )
        adaptive = issubclass(cls, AbstractAdaptiveSolver)
        if (tab.b_err is not None) != adaptive:
            fix = (
                f"Write `class {cls.__name__}(ExplicitRK, AbstractAdaptiveSolver)`."
                if tab.b_err is not None
                else "Give the tableau error weights `b_err` (an embedded pair), or "
                "drop the AbstractAdaptiveSolver base."
            )
            raise TypeError(
                f"{cls.__name__}: an ExplicitRK whose tableau has error weights "
                "`b_err` must derive from AbstractAdaptiveSolver, and only such a "
                f"one may; got tableau {tab.name!r} with b_err "
                f"{'set' if tab.b_err is not None else 'None'} and the base "
                f"{'present' if adaptive else 'absent'}. {fix}"
            )
        # One source of truth: the method's properties are the tableau's.
        cls._chain = _chain_of(tab)
        cls.order = tab.order
        if adaptive:
            cls.error_order = tab.error_order
        cls._pattern = (
            tuple(
                tuple(int(j) for j in range(i) if tab.a[i, j] != 0.0)
                for i in range(tab.num_stages)
            ),
            tuple(int(j) for j in range(tab.num_stages) if tab.b[j] != 0.0),
            None
            if tab.b_err is None
            else tuple(int(j) for j in range(tab.num_stages) if tab.b_err[j] != 0.0),
        )

    def __post_init__(self) -> None:
        """Refuse to instantiate the engine without a tableau."""
        if not isinstance(getattr(type(self), "tableau", None), ButcherTableau):
            raise TypeError(
                f"{type(self).__name__}: ExplicitRK is the engine and has no tableau; "
                "use a method such as RK4() or Dopri5(), or subclass ExplicitRK with "
                "a `tableau` class attribute."
            )

    # -- properties ----------------------------------------------------------------
    def linear_stability(self) -> OneStep:
        """``OneStep(tableau.stability_polynomial)``: ``R(z)``, a polynomial in ``z``.

        Its bound is the tableau's ``stability_bound``, so ``max_stable_dt(lam_max)``
        is ``stability_bound / lam_max`` for ``y' = -A y`` with ``A`` PSD.
        """
        # One value per method (the tableau is a class constant): built once, so a
        # solve's stability check does not recompute the polynomial every call.
        cls = type(self)
        value = cls.__dict__.get("_linear_stability_value")
        if value is None:
            value = OneStep(self.tableau.stability_polynomial)
            cls._linear_stability_value = value
        return value

    # -- the step --------------------------------------------------------------------
    def init(self, term: Term, t0: float, y0: State, args: Any) -> RKState:
        """Lay out the tableau's non-zero coefficients (once per solve).

        They stay Python floats, used as ``alpha`` scalars, so the same state works
        for any dtype and device. Evaluates nothing: the first step computes
        ``f(t0, y0)`` unless it is seeded with :meth:`seed_derivative`. For a chain
        tableau it asks the term, once, for its
        :meth:`~solvers.terms.Term.affine_form`; given one, the steps use the
        fused stages (module docstring).
        """
        tab = self.tableau
        a_pat, b_pat, err_pat = self._pattern
        a_rows = tuple(
            tuple((j, float(tab.a[i, j])) for j in a_pat[i])
            for i in range(tab.num_stages)
        )
        b_pairs = tuple((j, float(tab.b[j])) for j in b_pat)
        err_pairs = None
        if err_pat is not None:
            err_pairs = tuple((j, float(tab.b_err[j])) for j in err_pat)
        fused = None
        if self._chain is not None:
            # the capability is asked for once per solve, here, never per step
            affine = term.affine_form(t0, y0, args)
            if affine is not None:
                fused = _Fused(affine, self._chain, [])
        return RKState(a_rows, b_pairs, err_pairs, None, fused)

    def after_jump(self, state: RKState) -> RKState:
        """Drop the FSAL stage: it was evaluated before the jump (one ulp early)."""
        return state._replace(f0=None)

    def seed_derivative(self, state: RKState, f0: State) -> RKState:
        """Hand in an already computed ``f(t0, y0)`` so the next step reuses it.

        :func:`solvers.solve` calls this after it evaluated ``f(t0, y0)`` for the
        initial step-size selection, which then costs one extra evaluation instead
        of two (as in torchdiffeq and scipy).
        """
        return state._replace(f0=f0)

    def step(
        self,
        term: Term,
        t0: float,
        dt: float,
        y0: State,
        args: Any,
        state: RKState | None,
    ) -> Step:
        """One Runge-Kutta step from ``(t0, y0)`` to ``t0 + dt``.

        Args:
            term: The right-hand side ``f(t, y, args)``.
            t0: Start time (Python float).
            dt: Step size (Python float).
            y0: State at ``t0``: a tensor or a tuple of tensors.
            args: Passed through to the term.
            state: From :meth:`init` or the previous step; ``None`` calls :meth:`init`.

        Returns:
            ``Step(y1, y_err, state, rhs_evals)``; ``y_err`` is ``None`` unless the
            tableau has ``b_err``.
        """
        if state is None:
            state = self.init(term, t0, y0, args)
        tab = self.tableau
        if state.fused is not None and state.f0 is None and not isinstance(dt, Tensor):
            y1 = _fused_step(state.fused, dt, y0)
            return Step(y1, None, state, rhs_evals=tab.num_stages)
        evals = 0
        k0 = state.f0
        if k0 is None:
            k0 = term(t0, y0, args)
            evals += 1
        ks = [k0]
        y_stage = y0
        for i in range(1, tab.num_stages):
            y_stage = _combine(y0, dt, state.a[i], ks)
            ks.append(term(t0 + float(tab.c[i]) * dt, y_stage, args))
            evals += 1
        # FSAL: the last stage's input *is* y1 (its row of `a` equals `b`).
        y1 = y_stage if tab.fsal else _combine(y0, dt, state.b, ks)
        y_err = None if state.b_err is None else _weighted(dt, state.b_err, ks)
        new_state = state._replace(f0=ks[-1] if tab.fsal else None)
        return Step(y1, y_err, new_state, rhs_evals=evals)


# ---------------------------------------------------------------------------------
# The methods
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Euler(ExplicitRK):
    r"""Forward Euler. Order 1, 1 stage, fixed step; ``stability_bound`` 2.

    .. math:: y_{n+1} = y_n + \Delta t\, f(t_n, y_n)

    One Euler step of size 1 on ``y' = -L_gcn y`` is a GCN propagation.

    References:
        Euler (1768); Hairer, Norsett & Wanner (1993), Sec. II.1.
    """

    tableau = EULER_TABLEAU


@dataclass(frozen=True)
class Midpoint(ExplicitRK):
    r"""Explicit midpoint rule. Order 2, 2 stages, fixed step; ``stability_bound`` 2.

    .. math::

        y_{n+1} = y_n + \Delta t\, f\big(t_n + \tfrac{\Delta t}{2},\;
        y_n + \tfrac{\Delta t}{2} f(t_n, y_n)\big)

    References:
        Runge (1895); Hairer, Norsett & Wanner (1993), Sec. II.1.
    """

    tableau = MIDPOINT_TABLEAU


@dataclass(frozen=True)
class Heun(ExplicitRK):
    r"""Heun's method (explicit trapezoidal rule).

    Order 2, 2 stages, fixed step; ``stability_bound`` 2.

    .. math::

        \tilde y = y_n + \Delta t\, f(t_n, y_n), \qquad
        y_{n+1} = y_n + \tfrac{\Delta t}{2}\big(f(t_n, y_n) + f(t_{n+1}, \tilde y)\big)

    References:
        Heun (1900); Hairer, Norsett & Wanner (1993), Sec. II.1.
    """

    tableau = HEUN_TABLEAU


@dataclass(frozen=True)
class RK4(ExplicitRK):
    r"""Classical 4th-order Runge-Kutta.

    Order 4, 4 stages, fixed step; ``stability_bound`` 2.7853.

    .. math::

        y_{n+1} = y_n + \tfrac{\Delta t}{6}(k_1 + 2k_2 + 2k_3 + k_4), \quad
        k_1 = f(t_n, y_n),\
        k_2 = f(t_n + \tfrac{\Delta t}{2}, y_n + \tfrac{\Delta t}{2} k_1),

    :math:`k_3 = f(t_n + \tfrac{\Delta t}{2}, y_n + \tfrac{\Delta t}{2} k_2)`,
    :math:`k_4 = f(t_n + \Delta t, y_n + \Delta t\, k_3)`.

    Example:
        >>> sol = solve(LinearTerm(Laplacian(graph)), RK4(), y0=x0, t1=1.0, dt0=0.1)

    References:
        Kutta (1901).
    """

    tableau = RK4_TABLEAU


@dataclass(frozen=True)
class Bosh3(ExplicitRK, AbstractAdaptiveSolver):
    r"""Bogacki-Shampine 3(2) pair.

    Order 3, 4 stages (3 per step: FSAL), adaptive (error estimate of order 2);
    ``stability_bound`` 2.5127.

    .. math::

        y_{n+1} = y_n + \Delta t\big(\tfrac29 k_1 + \tfrac13 k_2 + \tfrac49 k_3\big),
        \quad e_{n+1} = \Delta t \sum_i (b_i - \hat b_i) k_i,\
        \hat b = (\tfrac{7}{24}, \tfrac14, \tfrac13, \tfrac18)

    References:
        Bogacki & Shampine (1989).
    """

    tableau = BOSH3_TABLEAU


@dataclass(frozen=True)
class Dopri5(ExplicitRK, AbstractAdaptiveSolver):
    r"""Dormand-Prince 5(4) pair.

    Order 5, 7 stages (6 per step: FSAL), adaptive (error estimate of order 4);
    ``stability_bound`` 3.3066.

    The 5th-order solution is propagated (local extrapolation) and the difference to
    the embedded 4th-order solution is the error estimate:

    .. math::

        y_{n+1} = y_n + \Delta t \sum_{i=1}^{7} b_i k_i, \qquad
        e_{n+1} = \Delta t \sum_{i=1}^{7} (b_i - \hat b_i) k_i

    Example:
        >>> sol = solve(term, Dopri5(), y0=x0, t1=3.0, args=graph,
        ...             controller=PIController(rtol=1e-5, atol=1e-7))

    References:
        Dormand & Prince (1980).
    """

    tableau = DOPRI5_TABLEAU
