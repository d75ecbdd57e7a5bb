r"""Explicit linear multistep methods: Adams-Bashforth of orders 2 to 4.

Sign conventions are those of :mod:`graphops`: heat flow is ``y' = -L y`` with ``L``
PSD. A fixed step is stable when ``dt * lam_max <= r``, the length of the real
stability interval (:func:`solvers.stability.stability_bound`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from torch import Tensor

from solvers._checks import type_names
from solvers._tree import tlincomb
from solvers.base import AbstractMultistepSolver, AbstractSolver, Step
from solvers.explicit_rk import RK4
from solvers.linear_stability import Multistep
from solvers.solution import Status
from solvers.terms import Term

__all__ = ["AdamsBashforth"]

# Adams-Bashforth weights b_j for f_{n-j}, j = 0..k-1:
#   y_{n+1} = y_n + h * sum_j b_j f_{n-j}.
# Source: Hairer, Norsett & Wanner (1993), Solving ODEs I, Section III.1, Table 1.1
# ("explicit Adams methods"). The tests check the order conditions
# sum_j b_j (-j)^q = 1/(q+1) for q < k.
_AB_WEIGHTS: dict[int, tuple[float, ...]] = {
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}

# Two step sizes count as "the same" (no restart of the history) within this
# relative tolerance. A difference that small perturbs the weights far below the
# method's truncation error, and it absorbs the rounding of a final step computed
# as t1 - t.
_DT_RTOL = 1e-9


class _ABState(NamedTuple):
    """Solver state: past RHS values (newest first), their step, the start-up state."""

    history: tuple
    dt: float | None
    startup_state: Any


def _as_float(dt: Any) -> float | None:
    """``dt`` as a Python float when that needs no device sync, else ``None``."""
    if isinstance(dt, int | float):
        return float(dt)
    if isinstance(dt, Tensor) and dt.device.type == "cpu" and dt.numel() == 1:
        return float(dt.detach())
    return None


@dataclass(frozen=True)
class AdamsBashforth(AbstractMultistepSolver):
    r"""Explicit Adams-Bashforth method of order ``k`` in {2, 3, 4}, with a start-up.

    A ``k``-step linear multistep method of order ``k``. After the start-up it makes
    **one** RHS evaluation per step and keeps the last ``k - 1`` RHS values in the
    solver state. The first ``k - 1`` steps are taken with ``startup`` (classical
    RK4 by default). Their local error ``O(h^5)`` does not spoil the global order
    ``k``. A start-up step records ``f(t_n, y_n)`` and hands it to a Runge-Kutta
    start-up as its first stage, so an RK4 start-up step costs 4 evaluations.

    The method needs a constant step (it is an ``AbstractMultistepSolver``), so
    ``solve()`` refuses an adaptive controller. If ``dt`` changes anyway (for
    example when output times split ``solve``'s grid unevenly, or on a final step
    clipped to reach ``t1``), the history is discarded and the start-up runs again, so
    accuracy is kept. Relative changes below ``1e-9`` (round-off in ``t1 - t``)
    do not count as a change.

    .. math::

        y_{n+1} = y_n + h \sum_{j=0}^{k-1} b_{kj}\, f(t_{n-j}, y_{n-j}),
        \qquad
        b_2 = (\tfrac32, -\tfrac12),\;
        b_3 = \tfrac1{12}(23, -16, 5),\;
        b_4 = \tfrac1{24}(55, -59, 37, -9)

    Stability: applied to ``y' = mu y``, the step's characteristic polynomial is
    ``rho(z) - h mu sigma(z)``, with ``rho(z) = z^k - z^{k-1}`` and
    ``sigma(z) = sum_j b_kj z^{k-1-j}`` (:meth:`linear_stability`). The real
    stability interval ``[-r, 0]`` (``stability_bound``) is computed from its
    roots: AB2 ``1``,
    AB3 ``6/11``, AB4 ``3/10``. For ``y' = -A y`` a fixed step is stable when
    ``dt * lam_max <= r``.

    Args:
        order: ``k``, one of 2, 3, 4.
        startup: One-step solver for the first ``k - 1`` steps: a method for any
            first-order term (``term_type`` is ``Term``, e.g. an explicit Runge-Kutta
            method) of ``order >= k - 1``.

    Raises:
        ValueError: ``order`` is not 2, 3 or 4; ``startup`` keeps a history, is
            restricted to a kind of term, or its order is below ``k - 1``.
        TypeError: ``startup`` is not a solver.

    Shapes:
        ``y``: ``[N, F]``, or a tuple of such (e.g. ``(x, v)``).

    Example:
        >>> sol = solve(LinearTerm(Laplacian(graph)), AdamsBashforth(order=3),
        ...             y0=x0, t1=1.0, dt0=0.05)

    References:
        Hairer, Norsett & Wanner (1993), Solving Ordinary Differential Equations I,
        III.1 (coefficients) and III.3 (order); Hairer & Wanner (1996), Solving
        Ordinary Differential Equations II, V.1 (stability domains).
    """

    order: int = 2
    startup: AbstractSolver = field(default_factory=RK4)

    def __post_init__(self) -> None:
        """Validate ``order`` and ``startup``."""
        if (
            not isinstance(self.order, int)
            or isinstance(self.order, bool)
            or self.order not in _AB_WEIGHTS
        ):
            raise ValueError(
                f"AdamsBashforth: `order` must be 2, 3 or 4; got {self.order!r}. For "
                "order 1 use Euler(); for higher orders use RK4() or Dopri5()."
            )
        if not isinstance(self.startup, AbstractSolver):
            raise TypeError(
                f"AdamsBashforth: `startup` must be a solver such as RK4(); got "
                f"{type(self.startup).__name__}."
            )
        multistep = isinstance(self.startup, AbstractMultistepSolver)
        if multistep or self.startup.term_type is not Term:
            why = (
                "which keeps a history itself"
                if multistep
                else f"which only integrates a {type_names(self.startup.term_type)}"
            )
            raise ValueError(
                "AdamsBashforth: `startup` must be a one-step method for any "
                f"first-order term y' = f(t, y); got {self.startup!r}, {why}. "
                "Use RK4()."
            )
        if self.startup.order < self.order - 1:
            raise ValueError(
                "AdamsBashforth: `startup` must have order >= order - 1 = "
                f"{self.order - 1} to keep the global order {self.order}; got "
                f"{self.startup!r} of order {self.startup.order}. Use RK4()."
            )

    @property
    def weights(self) -> tuple[float, ...]:
        """The weights ``b_kj`` of ``f_{n-j}``, ``j = 0..k-1`` (HNW I, III.1)."""
        return _AB_WEIGHTS[self.order]

    def linear_stability(self) -> Multistep:
        r"""``Multistep(rho, sigma)``, the Adams-Bashforth characteristic polynomials.

        ``rho = zeta^k - zeta^{k-1}`` and ``sigma = sum_j b_j zeta^{k-1-j}``. The
        real stability interval ``[-r, 0]`` of the roots of
        ``rho(zeta) - z sigma(zeta)``: AB2 ``1``, AB3 ``6/11``, AB4 ``3/10``.
        """
        k = self.order
        rho = [0.0] * (k + 1)
        rho[k], rho[k - 1] = 1.0, -1.0
        # increasing powers: b_j multiplies zeta^(k-1-j)
        sigma = tuple(self.weights[::-1])
        return Multistep(tuple(rho), sigma)

    def after_jump(self, state: _ABState) -> _ABState:
        """Restart the start-up: the RHS history before a jump is stale."""
        return _ABState(history=(), dt=None, startup_state=None)

    def init(self, term: Term, t0: Any, y0: Any, args: Any) -> _ABState:
        """Empty history; the first step starts the start-up solver."""
        return _ABState(history=(), dt=None, startup_state=None)

    def step(
        self, term: Term, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """One Adams-Bashforth step, or a start-up step while the history is short."""
        k = self.order
        history, prev_dt, startup_state = (
            state if state is not None else ((), None, None)
        )
        dt_f = _as_float(dt)
        if (
            history
            and dt_f is not None
            and prev_dt is not None
            and abs(dt_f - prev_dt) > _DT_RTOL * abs(prev_dt)
        ):
            history = ()  # dt changed: the stored f-values are at the wrong spacing
        f0 = term(t0, y0, args)
        if len(history) < k - 1:
            if not history:
                startup_state = self.startup.init(term, t0, y0, args)
            # Hand over f(t0, y0), as solve() does: no re-evaluation.
            startup_state = self.startup.seed_derivative(startup_state, f0)
            s = self.startup.step(term, t0, dt, y0, args, startup_state)
            new_state = _ABState(((f0,) + history)[: k - 1], dt_f, s.state)
            return Step(
                s.y1,
                state=new_state,
                rhs_evals=1 + s.rhs_evals,
                linear_iters=s.linear_iters,
                status=s.status,
                message=s.message,
            )
        fs = (f0,) + history
        y1 = tlincomb(y0, [dt * b for b in self.weights], fs)
        return Step(
            y1,
            state=_ABState(fs[: k - 1], dt_f, None),
            rhs_evals=1,
            status=Status.SUCCESS,
        )
