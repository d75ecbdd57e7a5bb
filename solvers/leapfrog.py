r"""Leapfrog-type solvers for second-order terms ``x'' = a(t, x)``.

Three solvers share this module because they are one scheme seen three ways:

* :class:`Leapfrog` is Stormer-Verlet (kick-drift-kick) on the state ``(x, v)``.
* :class:`TwoStepLeapfrog` is the two-step form used by PDE-GCN_H,
  ``x_{n+1} = 2 x_n - x_{n-1} + h^2 a(x_n)``. Eliminating the velocities from
  Stormer-Verlet gives exactly this recurrence, so both produce the same positions.
* :class:`DampedLeapfrog` is the PDE-GCN_M scheme for ``beta x'' + alpha x' = a(x)``.
  With ``(alpha, beta) = (0, 1)`` it is :class:`TwoStepLeapfrog`; with ``(1, 0)``
  it is explicit Euler for ``x' = a(x)``.

Sign conventions are those of :mod:`graphops`: for the graph wave equation
``x'' = -L x``, ``L`` is positive semi-definite, and a mode with eigenvalue ``lam``
is stable when ``dt * sqrt(lam) < 2``.

The two-step solvers carry the state ``(x_n, w_n)``, where
``w_n = (x_n - x_{n-1}) / h`` is the backward difference quotient. This is not the
velocity ``x'(t_n)``: it is a second-order approximation of ``x'(t_n - h/2)``.
Carrying ``w`` lets an ordinary initial value ``(x0, v0)`` go through
:func:`solvers.solve`. The ``start`` field says how the ``v0`` you pass is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from solvers._checks import check_second_order
from solvers.base import AbstractSecondOrderSolver, Step
from solvers.linear_stability import Oscillator
from solvers.terms import SecondOrderTerm, Term

__all__ = ["DampedLeapfrog", "Leapfrog", "TwoStepLeapfrog"]

_STARTS = ("taylor", "difference")


def _check_start(name: str, start: str) -> None:
    if start not in _STARTS:
        raise ValueError(
            f"{name}: `start` must be one of {_STARTS}; got {start!r}. 'taylor' "
            "reads v0 as the initial velocity x'(t0); 'difference' reads it as "
            "(x0 - x_{-1})/dt (PDE-GCN's x_{-1} = x0 is v0 = 0)."
        )


# ---------------------------------------------------------------------------------
# Stormer-Verlet
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Leapfrog(AbstractSecondOrderSolver):
    r"""Stormer-Verlet (velocity Verlet, kick-drift-kick) for ``x'' = a(t, x)``.

    Second order, symplectic, time-reversible and explicit. A step costs one
    acceleration evaluation: ``a(x_{n+1})`` is cached in the solver state and reused
    as the first kick of the next step (FSAL-like), so only the first step evaluates
    twice. The step size may change between steps. For the linear wave equation
    ``x'' = -A x`` it is stable when ``dt * sqrt(lam_max) < 2``, and the energy error
    oscillates with amplitude ``O(dt^2)`` and does not drift. It needs an acceleration
    that does not depend on the velocity. For damping, use :class:`DampedLeapfrog`
    (linear damping) or :class:`~solvers.imex.SymplecticEuler` (GraphCON).

    .. math::

        v_{n+1/2} = v_n + \tfrac{h}{2}\, a(t_n, x_n), \qquad
        x_{n+1} = x_n + h\, v_{n+1/2}, \qquad
        v_{n+1} = v_{n+1/2} + \tfrac{h}{2}\, a(t_{n+1}, x_{n+1})

    **Which "leapfrog".** The name is used for three different things:

    1. In PDE-GCN (Eliasof et al., 2021), "leapfrog" is the two-step recurrence
       ``f^+ = 2 f - f^- - h^2 r(f)``, started from ``f^{-1} = f^0``. Here this is
       :class:`TwoStepLeapfrog`.
    2. In ODE texts, "leapfrog" is the explicit midpoint rule
       ``y_{n+1} = y_{n-1} + 2 h f(y_n)``, a linear multistep method for
       first-order ODEs. It is only weakly stable and is not provided here.
    3. This class is Stormer-Verlet. Eliminating the velocities
       (``x_{n+1} - 2 x_n + x_{n-1} = h (v_{n+1/2} - v_{n-1/2}) = h^2 a(x_n)``)
       gives exactly the recurrence of item 1. So this class and
       :class:`TwoStepLeapfrog` produce the same positions ``x_n`` when the
       two-step form is started with ``x_{-1} = x_0 - h v_0 + (h^2/2) a(x_0)``.
       That is ``TwoStepLeapfrog(start="taylor")`` with the same ``(x0, v0)``.

    Returns:
        Each step returns ``Step(y1=(x1, v1), state=a(t1, x1), rhs_evals=1)``, with
        ``rhs_evals=2`` on the first step.

    Raises:
        TermSolverMismatch: the term is not a :class:`SecondOrderTerm`, or it has
            ``velocity_dependent=True``.
        TypeError: the state is not a tuple ``(x, v)`` of tensors.

    Shapes:
        ``x, v``: ``[N, F]``.

    Example:
        >>> term = SecondOrderTerm(operator=Laplacian(graph))     # x'' = -L x
        >>> y0 = (x0, torch.zeros_like(x0))                      # start at rest
        >>> sol = solve(term, Leapfrog(), y0=y0, t1=5.0, dt0=0.1)

    References:
        Hairer, Lubich & Wanner (2003), "Geometric numerical integration illustrated
        by the Stormer-Verlet method", Acta Numerica; Hairer, Lubich & Wanner (2006),
        Geometric Numerical Integration, I.1.4 and VI.3.
    """

    order: ClassVar[int] = 2
    term_type: ClassVar[type[Term]] = SecondOrderTerm

    def init(self, term: Term, t0: Any, y0: Any, args: Any) -> Any:
        """Validate once. The state is ``None``: the first step evaluates ``a(x0)``."""
        check_second_order("Leapfrog", term, y0, velocity_dependent_ok=False)
        return None

    def step(
        self, term: SecondOrderTerm, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """One kick-drift-kick step; ``state`` is the cached ``a(t0, x0)`` or ``None``.

        Raises:
            TermSolverMismatch: on a first step (``state=None``) with a bad term.
        """
        x0, v0 = y0
        evals = 1
        if state is None:
            check_second_order("Leapfrog", term, y0, velocity_dependent_ok=False)
            state = term.acceleration(t0, x0, v0, args)
            evals = 2
        half = 0.5 * dt
        v_half = v0 + half * state
        x1 = x0 + dt * v_half
        a1 = term.acceleration(t0 + dt, x1, v_half, args)
        v1 = v_half + half * a1
        return Step((x1, v1), state=a1, rhs_evals=evals)

    def linear_stability(self) -> Oscillator:
        """``Oscillator()``: the roots of ``z^2 - (2 - dt^2 lam) z + 1``.

        They are the eigenvalues of the one-step map for the mode ``x'' = -lam x``
        and lie on the unit circle, distinct, iff ``dt^2 lam < 4``: the limit is
        ``dt <= 2 / sqrt(lam_max)``.
        """
        return Oscillator()


# ---------------------------------------------------------------------------------
# Two-step leapfrog (PDE-GCN_H)
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TwoStepLeapfrog(AbstractSecondOrderSolver):
    r"""The two-step leapfrog of PDE-GCN_H, ``x_{n+1} = 2 x_n - x_{n-1} + h^2 a(x_n)``.

    Second order and explicit, with one acceleration evaluation per step. The state
    is ``(x_n, w_n)`` with ``w_n = (x_n - x_{n-1}) / h_{n-1}``, so the two-step
    recurrence becomes a one-step map that :func:`solvers.solve` can drive. Its
    positions are those of :class:`Leapfrog` (Stormer-Verlet) with the velocities
    eliminated. For ``x'' = -A x`` it is stable when ``dt * sqrt(lam_max) < 2``.

    .. math::

        w_{n+1} = w_n + \bar h_n\, a(t_n, x_n), \qquad x_{n+1} = x_n + h_n\, w_{n+1},
        \qquad \bar h_n = \tfrac12 (h_{n-1} + h_n)

    For a constant step ``h`` this is ``x_{n+1} = 2 x_n - x_{n-1} + h^2 a(t_n, x_n)``.
    The solver state stores the previous step ``h_{n-1}``, so ``dt`` may change
    (for example when ``solve`` splits intervals between output times unevenly).
    With the average ``bar h_n`` the scheme is exactly variable-step Stormer-Verlet,
    because the kicks ``h_{n-1}/2`` and ``h_n/2`` add up.

    **Initial value.** ``start`` decides what the ``v0`` in ``y0 = (x0, v0)`` means:

    * ``"taylor"`` (default): ``v0`` is the velocity ``x'(t0)``. The first step uses
      the second-order Taylor start ``x_{-1} = x0 - h v0 + (h^2/2) a(x0)``, i.e.
      ``w_0 = v0 - (h/2) a(t0, x0)``. This costs no extra evaluation. The positions
      then equal those of ``Leapfrog()`` from the same ``(x0, v0)``, and the
      global error is ``O(h^2)``.
    * ``"difference"``: ``v0`` is ``w_0 = (x0 - x_{-1}) / h`` itself. PDE-GCN's
      ``f^{-1} = f^0`` is ``v0 = 0``. The value that reproduces Stormer-Verlet
      from ``(x0, u0)`` is ``v0 = u0 - (h/2) a(t0, x0)``. If you pass the true
      velocity here, the start is only first-order accurate and the global error
      is ``O(h)``.

    The second component returned at later times is always ``w_n`` (``x'(t_n)``
    to ``O(h)``, ``x'(t_n - h/2)`` to ``O(h^2)``), not a velocity at ``t_n``.

    Args:
        start: ``"taylor"`` or ``"difference"``; see above.

    Raises:
        ValueError: ``start`` is not one of the two values.
        TermSolverMismatch: not a :class:`SecondOrderTerm`, or ``velocity_dependent``.
        TypeError: the state is not a tuple ``(x, v)`` of tensors.

    Shapes:
        ``x, w``: ``[N, F]``.

    Example:
        PDE-GCN_H on the wave equation ``x'' = -L x``, with ``f^{-1} = f^0``
        (``start="difference"`` and ``v0 = 0``):

        >>> wave = SecondOrderTerm(operator=Laplacian(graph))
        >>> v0 = torch.zeros_like(x0)
        >>> pde_gcn_h = TwoStepLeapfrog(start="difference")
        >>> sol = solve(wave, pde_gcn_h, y0=(x0, v0), t1=3.0, dt0=0.1)
        >>> sol.stats.num_rhs_evals
        30

        With the default ``start="taylor"``, ``v0`` is the velocity and the
        positions are those of :class:`Leapfrog`:

        >>> two_step = solve(wave, TwoStepLeapfrog(), y0=(x0, v0), t1=3.0, dt0=0.1)
        >>> verlet = solve(wave, Leapfrog(), y0=(x0, v0), t1=3.0, dt0=0.1)
        >>> torch.allclose(two_step.y1[0], verlet.y1[0])
        True

    References:
        Eliasof, Haber & Treister (2021), PDE-GCN, NeurIPS; Hairer, Lubich & Wanner
        (2003), Acta Numerica (Stormer-Verlet as the two-step Stormer scheme).
    """

    start: Literal["taylor", "difference"] = "taylor"

    order: ClassVar[int] = 2
    term_type: ClassVar[type[Term]] = SecondOrderTerm

    def __post_init__(self) -> None:
        """Validate ``start``."""
        _check_start("TwoStepLeapfrog", self.start)

    def init(self, term: Term, t0: Any, y0: Any, args: Any) -> None:
        """Validate once; the state (the previous step) starts as ``None``."""
        check_second_order("TwoStepLeapfrog", term, y0, velocity_dependent_ok=False)
        return None

    def step(
        self, term: SecondOrderTerm, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """One step; ``state`` is the previous step size (``None`` before the first)."""
        x0, w0 = y0
        a0 = term.acceleration(t0, x0, w0, args)
        if state is None:  # first step: w0 = (x0 - x_{-1}) / dt
            check_second_order(
                "TwoStepLeapfrog", term, y0, velocity_dependent_ok=False
            )
            h_bar = dt
            if self.start == "taylor":
                w0 = w0 - (0.5 * dt) * a0
        else:
            h_bar = 0.5 * (state + dt)  # == dt exactly for a constant step
        w1 = w0 + h_bar * a0
        x1 = x0 + dt * w1
        return Step((x1, w1), state=dt, rhs_evals=1)

    def linear_stability(self) -> Oscillator:
        """``Oscillator()``: the recurrence's ``z^2 - (2 - dt^2 lam) z + 1``.

        This characteristic polynomial is :class:`Leapfrog`'s.
        """
        return Oscillator()


# ---------------------------------------------------------------------------------
# PDE-GCN_M: damped (telegraph) two-step scheme
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DampedLeapfrog(AbstractSecondOrderSolver):
    r"""PDE-GCN_M's scheme for ``beta x'' + alpha x' = a(x)``, ``alpha + beta = 1``.

    The equation is the damped wave (telegraph) equation. ``a(x) = -r(x)`` comes from
    a velocity-independent :class:`SecondOrderTerm`, and the damping is set by this
    solver's ``alpha`` and ``beta``: ``alpha = 0`` gives the wave equation,
    ``beta = 0`` gives diffusion. The second difference is central and the first
    difference is one-sided (forward):

    .. math::

        \beta\,\frac{x_{n+1} - 2x_n + x_{n-1}}{h^2}
        + \alpha\,\frac{x_{n+1} - x_n}{h} = a(t_n, x_n)

    In terms of ``w_n = (x_n - x_{n-1})/h_{n-1}``, the step is evaluated as

    .. math::

        w_{n+1} = \frac{\beta}{\beta + \alpha \bar h}\, w_n
                + \frac{\bar h}{\beta + \alpha \bar h}\, a(t_n, x_n), \qquad
        x_{n+1} = x_n + h_n\, w_{n+1}, \qquad \bar h = \tfrac12 (h_{n-1} + h_n)

    ``bar h = h`` for a constant step. For variable steps the second difference is
    taken over the mean step, as in :class:`TwoStepLeapfrog`.

    The two limits are exact, including rounding, because the coefficients become
    exactly ``1`` and ``h`` (or ``0`` and ``1``):

    * ``alpha=0, beta=1``: :class:`TwoStepLeapfrog` (PDE-GCN_H), bit for bit.
    * ``alpha=1, beta=0``: explicit Euler for ``x' = a(x)`` (PDE-GCN_D),
      ``x_{n+1} = x_n + h a(x_n)``, bit for bit; ``w`` is then ignored.

    **Order** (the :attr:`order` property): 2 if ``alpha == 0``, else 1. The one-sided
    damping difference has truncation error ``alpha h x''/2``, so the scheme is
    first order whenever there is damping. The tests check both values on the
    exact damped-oscillator solution.

    **Stability** for ``a(x) = -A x`` (:meth:`max_stable_dt`): for a mode ``lam``,
    the characteristic polynomial is
    ``(beta + alpha h) z^2 - (2 beta + alpha h - h^2 lam) z + beta``. By the
    Schur-Cohn (Jury) conditions, both roots satisfy ``|z| <= 1`` iff
    ``p(-1) = 4 beta + 2 alpha h - h^2 lam >= 0``. The other two conditions,
    ``p(1) = h^2 lam >= 0`` and ``beta <= beta + alpha h``, always hold. Hence
    ``h <= (alpha + sqrt(alpha^2 + 4 beta lam)) / lam``, which is ``2/sqrt(lam)``
    for the wave equation and ``2/lam`` for diffusion.

    **Initial value** and the meaning of the second component are as in
    :class:`TwoStepLeapfrog`. With ``start="taylor"`` and ``beta > 0``,
    ``w_0 = v0 - (h/2) x''(t0)`` with ``x''(t0) = (a(x0) - alpha v0)/beta``.
    PDE-GCN's ``f^{-1} = f^0`` is ``start="difference"`` with ``v0 = 0``.

    **Source.** The form above is the one in the authors' reference code for
    PDE-GCN_M (the ``mixDynamics`` branch of ``graphNet.py``: ``beta`` multiplies
    the central second difference and ``alpha`` a forward first difference). That
    code also contains a central-damping variant, ``alpha (x_{n+1} - x_{n-1})/(2h)``,
    which is second order but does not reduce to explicit Euler at ``beta = 0``.
    That variant is the explicit midpoint rule ``x_{n+1} = x_{n-1} + 2h a(x_n)``,
    which is unstable for diffusion, so it is not used here.

    Why not ``DampedWave``: solvers are named after the method (STYLE 2.3), and
    "damped wave" names the equation, i.e. a ``Term``. This is the leapfrog scheme
    with damping added, and it sits next to :class:`TwoStepLeapfrog`.

    Args:
        alpha: Weight of the first-order (diffusive) term; ``>= 0``.
        beta: Weight of the second-order (hyperbolic) term; ``>= 0``, and
            ``alpha + beta = 1`` (to ``1e-12``).
        start: ``"taylor"`` (``v0`` is ``x'(t0)``) or ``"difference"``
            (``v0 = (x0 - x_{-1})/h``).

    Raises:
        ValueError: ``alpha`` or ``beta`` is negative or not finite, their sum is
            not 1, or ``start`` is not one of the two values.
        TypeError: ``alpha`` or ``beta`` is not a real number.
        TermSolverMismatch: not a :class:`SecondOrderTerm`, or ``velocity_dependent``.

    Shapes:
        ``x, w``: ``[N, F]``.

    Example:
        PDE-GCN_M on ``a(x) = -L x``, started at rest; with damping the scheme
        is first order:

        >>> wave = SecondOrderTerm(operator=Laplacian(graph))
        >>> v0 = torch.zeros_like(x0)
        >>> pde_gcn_m = DampedLeapfrog(alpha=0.3, beta=0.7)
        >>> sol = solve(wave, pde_gcn_m, y0=(x0, v0), t1=3.0, dt0=0.1)
        >>> pde_gcn_m.order
        1

        ``beta = 0`` is explicit Euler on the heat flow ``x' = -L x`` (``term``):

        >>> pde_gcn_d = DampedLeapfrog(alpha=1.0, beta=0.0)
        >>> sol = solve(wave, pde_gcn_d, y0=(x0, v0), t1=1.0, dt0=0.1)
        >>> euler = solve(term, Euler(), y0=x0, t1=1.0, dt0=0.1)
        >>> torch.allclose(sol.y1[0], euler.y1)
        True

    References:
        Eliasof, Haber & Treister (2021), PDE-GCN, NeurIPS (PDE-GCN_M); Jury (1964),
        Theory and Application of the z-Transform Method (stability conditions).
    """

    alpha: float
    beta: float
    start: Literal["taylor", "difference"] = "taylor"

    term_type: ClassVar[type[Term]] = SecondOrderTerm

    def __post_init__(self) -> None:
        """Validate ``alpha``, ``beta`` and ``start``; store the weights as floats."""
        for name in ("alpha", "beta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(
                    f"DampedLeapfrog: `{name}` must be a real number; got "
                    f"{type(value).__name__}. Pass a Python float (a learned mixing "
                    "weight belongs in the Term)."
                )
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"DampedLeapfrog: `{name}` must be finite and >= 0; got {value!r}. "
                    "Use alpha + beta = 1 with alpha, beta in [0, 1]."
                )
            object.__setattr__(self, name, float(value))
        if abs(self.alpha + self.beta - 1.0) > 1e-12:
            raise ValueError(
                "DampedLeapfrog: `alpha` + `beta` must equal 1; got "
                f"alpha={self.alpha!r}, beta={self.beta!r} (sum "
                f"{self.alpha + self.beta!r}). Pass beta=1 - alpha."
            )
        _check_start("DampedLeapfrog", self.start)

    @property
    def order(self) -> int:  # type: ignore[override]
        """2 for the undamped scheme (``alpha == 0``), otherwise 1."""
        return 2 if self.alpha == 0.0 else 1

    def init(self, term: Term, t0: Any, y0: Any, args: Any) -> None:
        """Validate once; the state (the previous step) starts as ``None``."""
        check_second_order("DampedLeapfrog", term, y0, velocity_dependent_ok=False)
        return None

    def step(
        self, term: SecondOrderTerm, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """One step; ``state`` is the previous step size (``None`` before the first)."""
        x0, w0 = y0
        alpha, beta = self.alpha, self.beta
        a0 = term.acceleration(t0, x0, w0, args)
        if state is None:  # first step: w0 = (x0 - x_{-1}) / dt
            check_second_order("DampedLeapfrog", term, y0, velocity_dependent_ok=False)
            h_bar = dt
            if self.start == "taylor" and beta > 0.0:
                acc = a0 if alpha == 0.0 else a0 - alpha * w0  # beta x''(t0)
                w0 = w0 - (0.5 * dt / beta) * acc
        else:
            h_bar = 0.5 * (state + dt)  # == dt exactly for a constant step
        denom = beta + alpha * h_bar
        # The coefficients are exactly 1 and h_bar (alpha = 0) or 0 and 1 (beta = 0),
        # which makes both limits bitwise equal to TwoStepLeapfrog / explicit Euler.
        w1 = (beta / denom) * w0 + (h_bar / denom) * a0
        x1 = x0 + dt * w1
        return Step((x1, w1), state=dt, rhs_evals=1)

    def linear_stability(self) -> Oscillator:
        """``Oscillator(alpha, beta)``: the damped two-step characteristic roots.

        They are the roots of
        ``(beta + alpha dt) z^2 - (2 beta + alpha dt - dt^2 lam) z + beta``, and
        ``max_stable_dt(lam_max)`` is ``(alpha + sqrt(alpha^2 + 4 beta lam_max)) /
        lam_max`` (see the class docstring); it is found from the roots.
        """
        return Oscillator(self.alpha, self.beta)
