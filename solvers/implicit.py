r"""Linearly implicit theta-methods for ``y' = -A y + s``: ImplicitEuler, CrankNicolson.

Both solve one sparse SPD system per step with :class:`~graphops.linalg.CG`, matrix
free through the :class:`~graphops.operators.GraphOperator` matvec, so they are stable
for any step size on a positive semi-definite ``A`` (a Laplacian): the stiffness of
diffusion on a graph (``lam_max`` grows with the degree) does not limit ``dt``.

The update, with ``theta = 1`` (implicit Euler) or ``theta = 1/2``
(Crank-Nicolson), and the source by the same theta-rule:

.. math::

    (I + \theta\,\Delta t\,A_n)\,y_{n+1}
        = (I - (1-\theta)\,\Delta t\,A_n)\,y_n + \Delta t\,s_\theta, \qquad
    s_\theta = (1-\theta)\,s(t_n) + \theta\,s(t_{n+1}),

with ``A_n = term.operator(t_n, y_n, args)``.

**Linearly implicit.** The operator is evaluated once per step, at the start
``(t_n, y_n)``, and the source is called as ``term.source(t, y_n, args)`` (state
frozen, time at ``t_n`` and/or ``t_{n+1}``). For a linear term with a constant
operator ``y' = -A y + s(t)`` this is exact: the method *is* the theta-method, of
order 1 (implicit Euler) or 2 (Crank-Nicolson), for any time-dependent source. If
the coefficients change with ``t`` or ``y`` (learned diffusivity ``A(y)``), freezing
them is the usual semi-implicit linearisation, with an ``O(dt)`` local coefficient
lag that makes Crank-Nicolson first order in that case.

``I + theta dt A`` is SPD for PSD ``A`` and ``dt > 0``, so CG applies; a symmetric
operator is required (``op.is_symmetric``), checked when the operator enters (in
``init`` and in every ``step``, since it may change with time).

References:
    Crank & Nicolson (1947); Hestenes & Stiefel (1952); Saad (2003).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from torch import Tensor

from graphops.linalg import CG
from graphops.operators import GraphOperator
from solvers._errors import TermSolverMismatch
from solvers.base import AbstractImplicitSolver, Step
from solvers.linear_stability import OneStep, Unconditional
from solvers.solution import Status
from solvers.terms import LinearTerm, Term

__all__ = ["CrankNicolson", "ImplicitEuler"]


class _WarmStart(NamedTuple):
    """Solver state: the previous step's start ``(t, y)``, for the CG initial guess."""

    t: float | Tensor
    y: Tensor


@dataclass(frozen=True)
class _ThetaMethod(AbstractImplicitSolver):
    """Shared implementation of the linearly implicit theta-method (module docs)."""

    linear_solver: CG = CG(rtol=1e-10)

    theta: ClassVar[float]
    term_type: ClassVar[type[Term]] = LinearTerm

    def __post_init__(self) -> None:  # noqa: D105
        if not isinstance(self.linear_solver, CG):
            name = type(self).__name__
            raise TypeError(
                f"{name}: `linear_solver` must be a CG(...) value; got "
                f"{type(self.linear_solver).__name__}. Pass e.g. "
                f"{name}(CG(rtol=1e-10))."
            )

    # -- contract ------------------------------------------------------------------
    def init(self, term: Term, t0: float | Tensor, y0: Any, args: Any) -> None:
        """Validate the term, state and operator; the first step starts from ``y0``.

        Returns:
            ``None`` (no warm-start history yet).

        Raises:
            TermSolverMismatch: ``term`` is not a :class:`~solvers.terms.LinearTerm`.
            TypeError: ``y0`` is not a tensor (e.g. a tuple ``(x, v)``), or the
                term's operator is not a ``GraphOperator``.
            ValueError: ``y0`` is not 2-D, or the operator is not a symmetric
                node -> node operator matching ``y0``.
        """
        self._check_term(term)
        self._check_state(y0)
        self._check_operator(term.operator(t0, y0, args), y0)
        return None

    def step(
        self,
        term: Term,
        t0: float | Tensor,
        dt: float | Tensor,
        y0: Tensor,
        args: Any,
        state: Any,
    ) -> Step:
        r"""One theta-method step from ``(t0, y0)`` to ``t0 + dt``.

        Solves ``(I + theta dt A) y1 = (I - (1-theta) dt A) y0 + dt s_theta`` by CG
        (matrix free, ``shift=1, scale=theta dt``) with ``A`` frozen at ``t0``. CG's
        ``rtol`` is relative to the norm of that right-hand side. The CG initial
        guess is the linear extrapolation ``y0 + dt (y0 - y_prev)/(t0 - t_prev)``
        from the previous step's start ``(t_prev, y_prev)``, kept in ``state`` (a
        second-order predictor for smooth solutions, which saves iterations), or
        ``y0`` on the first step (``state=None``). The guess changes only the
        iteration count, not the tolerance met, and carries no gradient.

        Work counts: ``linear_iters`` is the number of CG iterations, each one
        block matvec with ``A`` on ``[N, F]``; ``rhs_evals`` counts the other
        applications of ``A``: the initial CG residual, plus the explicit
        ``A y0`` of Crank-Nicolson. Their sum is the number of operator
        applications of the step. (The source is evaluated once for implicit
        Euler, ``s(t1)``, and twice for Crank-Nicolson; the operator is built once.)

        Returns:
            :class:`~solvers.base.Step` with ``y_err=None``; on a CG failure
            ``status`` is ``Status.LINEAR_SOLVE_FAILED`` and ``message`` is CG's
            (``solve()`` adds where it happened); nothing is raised.

        Raises:
            TermSolverMismatch: as :meth:`init`.
            TypeError: as :meth:`init`.
            ValueError: as :meth:`init` (checked on every step, since the operator
                may change with time), or a source that does not broadcast to the
                state's shape.
        """
        self._check_term(term)
        self._check_state(y0)
        theta = self.theta
        A = term.operator(t0, y0, args)
        self._check_operator(A, y0)
        t1 = t0 + dt
        rhs_evals = 0
        if theta == 1.0:
            s = term.source(t1, y0, args)
            b = y0 if s is None else y0 + dt * s
        else:
            rhs_evals += 1  # the explicit half A y0
            b = y0 - ((1.0 - theta) * dt) * (A @ y0)
            s0, s1 = term.source(t0, y0, args), term.source(t1, y0, args)
            if s0 is not None or s1 is not None:
                b = b + dt * _combine(1.0 - theta, s0, theta, s1)
        if b.shape != y0.shape:
            raise ValueError(
                f"{type(self).__name__}: the source must broadcast to the state shape "
                f"{tuple(y0.shape)}; got a right-hand side of shape "
                f"{tuple(b.shape)}. Return an [N, F] tensor (or [N, 1]) from "
                "term.source."
            )
        x0 = self._initial_guess(t0, dt, y0, state)
        res = self.linear_solver.solve(A, b, x0=x0, shift=1.0, scale=theta * dt)
        rhs_evals += res.num_matvecs - res.num_iters  # the initial CG residual
        new_state = _WarmStart(t0, y0.detach())
        if res.success:
            return Step(res.x, None, new_state, rhs_evals, res.num_iters)
        return Step(
            res.x,
            None,
            new_state,
            rhs_evals,
            res.num_iters,
            Status.LINEAR_SOLVE_FAILED,
            res.message,
        )

    def linear_stability(self) -> Unconditional:
        """``Unconditional``: no step-size limit for PSD ``A`` (``theta >= 1/2``).

        It carries the theta-method's stability function
        ``R(z) = (1 + (1 - theta) z) / (1 - theta z)`` for regions and plots.
        """
        theta = self.theta
        return Unconditional(OneStep((1.0, 1.0 - theta), (1.0, -theta)))

    # -- helpers -------------------------------------------------------------------
    @staticmethod
    def _initial_guess(t0, dt, y0: Tensor, state: Any) -> Tensor:
        y0d = y0.detach()
        if not isinstance(state, _WarmStart) or state.y.shape != y0.shape:
            return y0d
        h_prev = t0 - state.t
        if not isinstance(h_prev, Tensor) and h_prev == 0:
            return y0d
        return y0d + (dt / h_prev) * (y0d - state.y)

    def _check_term(self, term: Term) -> None:
        if not isinstance(term, LinearTerm):
            raise TermSolverMismatch(
                f"{type(self).__name__}: needs a LinearTerm (a term with .operator, "
                f"y' = -A y + s); got {type(term).__name__}. Wrap the RHS in "
                "LinearTerm or use an explicit solver (RK4, Dopri5)."
            )

    def _check_state(self, y0: Any) -> None:
        name = type(self).__name__
        if not isinstance(y0, Tensor):
            raise TypeError(
                f"{name}: the state must be a 2-D tensor [N, F]; got "
                f"{type(y0).__name__}. Second-order (x, v) states are not supported "
                "by implicit solvers; use Leapfrog or an explicit solver."
            )
        if y0.dim() != 2 or not y0.is_floating_point():
            raise ValueError(
                f"{name}: the state must be a 2-D floating tensor [N, F]; got shape "
                f"{tuple(y0.shape)} and dtype {y0.dtype}. A scalar field is [N, 1]: "
                "use y0.unsqueeze(-1)."
            )

    def _check_operator(self, A: Any, y0: Tensor) -> None:
        name = type(self).__name__
        if not isinstance(A, GraphOperator):
            raise TypeError(
                f"{name}: term.operator(t, y, args) must return a GraphOperator; got "
                f"{type(A).__name__}. Build e.g. Laplacian(graph, edge_weight=w)."
            )
        n = y0.shape[0]
        if A.domain != "node" or A.codomain != "node" or tuple(A.shape) != (n, n):
            raise ValueError(
                f"{name}: the operator must map node signals to node signals with "
                f"shape [N, N]=[{n}, {n}] for the state [{n}, F]; got {A!r}."
            )
        if not A.is_symmetric:
            raise ValueError(
                f"{name}: the operator must be symmetric for the CG solve; got {A!r} "
                "with is_symmetric=False (normalization='rw', or per-direction [2M] "
                "edge weights such as raw attention). Use an explicit solver (RK4, "
                "Dopri5) for non-symmetric operators, or symmetrise the weights "
                "(normalization='sym', or one [M] weight per edge, e.g. the mean of "
                "both directions)."
            )


def _combine(c0: float, s0: Tensor | None, c1: float, s1: Tensor | None) -> Tensor:
    """``c0 s0 + c1 s1`` with ``None`` meaning a zero source."""
    if s0 is None:
        return c1 * s1
    if s1 is None:
        return c0 * s0
    return c0 * s0 + c1 * s1


@dataclass(frozen=True)
class ImplicitEuler(_ThetaMethod):
    r"""Implicit (backward) Euler for ``y' = -A y + s``, linearly implicit, order 1.

    The theta-method with ``theta = 1``: one CG solve per step, no stages, fixed
    step, no error estimate. L-stable: ``R(z) = 1/(1 - z)``, so every mode of a PSD
    ``A`` decays monotonically for any ``dt > 0`` and ``max_stable_dt`` is
    ``None``. ``A`` is frozen at ``t_n`` (exact for a constant operator; see
    :mod:`solvers.implicit`) and must be symmetric.

    .. math:: (I + \Delta t\,A(t_n))\,y_{n+1} = y_n + \Delta t\,s(t_{n+1})

    Args:
        linear_solver: The :class:`~graphops.linalg.CG` configuration; its
            ``rtol`` (relative to ``||y_n + dt s||``) should be well below the time
            discretisation error. Default ``CG(rtol=1e-10)`` (Jacobi).

    Raises:
        TypeError: ``linear_solver`` is not a ``CG``.

    Example:
        >>> sol = solve(LinearTerm(Laplacian(graph)), ImplicitEuler(CG(rtol=1e-10)),
        ...             y0=x0, t1=3.0, dt0=0.5)

    References:
        Hestenes & Stiefel (1952); Saad (2003) for the preconditioned CG solve.
    """

    order: ClassVar[int] = 1
    theta: ClassVar[float] = 1.0


@dataclass(frozen=True)
class CrankNicolson(_ThetaMethod):
    r"""Crank-Nicolson (trapezoidal rule) for ``y' = -A y + s``, linearly implicit.

    The theta-method with ``theta = 1/2``, order 2 (for a constant operator; first
    order if ``A`` changes with ``t`` or ``y``, see :mod:`solvers.implicit`): one
    CG solve and one explicit matvec per step, fixed step, no error estimate.
    A-stable: ``R(z) = (1 + z/2)/(1 - z/2)``, ``|R| < 1`` on the negative real
    axis, so ``max_stable_dt`` is ``None``; not L-stable (``R -> -1``: very stiff
    modes decay slowly and alternate in sign at large ``dt``). ``A`` must be
    symmetric; the source uses the trapezoidal average.

    .. math::

        (I + \tfrac{\Delta t}{2} A(t_n))\,y_{n+1}
            = (I - \tfrac{\Delta t}{2} A(t_n))\,y_n
              + \tfrac{\Delta t}{2}\,(s(t_n) + s(t_{n+1}))

    Args:
        linear_solver: The :class:`~graphops.linalg.CG` configuration. Default
            ``CG(rtol=1e-10)`` (Jacobi).

    Raises:
        TypeError: ``linear_solver`` is not a ``CG``.

    Example:
        >>> sol = solve(LinearTerm(Laplacian(graph)), CrankNicolson(CG(rtol=1e-12)),
        ...             y0=x0, t1=1.0, dt0=0.05)

    References:
        Crank & Nicolson (1947); Hestenes & Stiefel (1952); Saad (2003).
    """

    order: ClassVar[int] = 2
    theta: ClassVar[float] = 0.5
