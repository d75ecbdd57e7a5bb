r"""Semi-implicit (symplectic) Euler: the IMEX step of GraphCON.

Sign conventions are those of :mod:`graphops`: for ``x'' = -L x``, ``L`` is PSD and
the step is stable when ``dt * sqrt(lam_max) < 2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from solvers._checks import check_second_order
from solvers.base import AbstractSecondOrderSolver, Step
from solvers.linear_stability import Oscillator
from solvers.terms import SecondOrderTerm, Term

__all__ = ["SymplecticEuler"]


@dataclass(frozen=True)
class SymplecticEuler(AbstractSecondOrderSolver):
    r"""Symplectic (semi-implicit) Euler for ``x'' = a(t, x, x')``: GraphCON's step.

    First order, explicit, one acceleration evaluation per step; the step size may
    change between steps. The velocity is updated first, from the old position and
    old velocity, and the position is then advanced with the **new** velocity.
    For GraphCON, ``a(t, x, v) = sigma(F(x)) - gamma x - alpha v``. The solver has no
    ``gamma`` or ``alpha`` fields: they belong to the equation, i.e. to the
    :class:`SecondOrderTerm` (which may set ``velocity_dependent=True``). The
    damping ``-alpha v`` is taken at the old velocity, so the step stays explicit.

    .. math::

        v_{n+1} = v_n + h\, a(t_n, x_n, v_n), \qquad x_{n+1} = x_n + h\, v_{n+1}

    For ``a = a(x)`` (no damping) the map is symplectic: it is the symplectic
    Euler method of Hairer, Lubich & Wanner, and it is "IMEX" in GraphCON's
    terminology (Rusch et al. 2022). For ``x'' = -A x`` it exactly
    conserves the modified energy
    ``1/2 |v|^2 + 1/2 x^T A x - (h/2) v^T A x``. The true energy therefore stays
    within ``O(h)`` of its initial value with no drift, and the step is stable
    when ``dt * sqrt(lam_max) < 2``: the characteristic polynomial
    ``z^2 - (2 - h^2 lam) z + 1`` is the leapfrog one.

    A step returns ``Step(y1=(x1, v1), rhs_evals=1)``.

    Raises:
        TermSolverMismatch: the term is not a :class:`SecondOrderTerm`.
        TypeError: the state is not a tuple ``(x, v)`` of tensors.

    Shapes:
        ``x, v``: ``[N, F]``.

    Example:
        GraphCON-GCN with ``gamma = alpha = 1`` (and no learned weights), started
        at rest; each step costs one evaluation of the acceleration:

        >>> A = Adjacency(graph, normalization="gcn")
        >>> def accel(t, x, v, args):
        ...     return torch.relu(A @ x) - x - v
        >>> graphcon = SecondOrderTerm(accel, velocity_dependent=True)
        >>> v0 = torch.zeros_like(x0)
        >>> sol = solve(graphcon, SymplecticEuler(), y0=(x0, v0), t1=10.0, dt0=1.0)
        >>> sol.stats.num_steps, sol.stats.num_rhs_evals
        (10, 10)
        >>> x1, v1 = sol.y1
        >>> x1.shape
        torch.Size([16, 2])

    References:
        Rusch, Chamberlain, Rowbottom, Mishra & Bronstein (2022), Graph-Coupled
        Oscillator Networks, ICML; Hairer, Lubich & Wanner (2006), Geometric
        Numerical Integration, Section VI.3.
    """

    order: ClassVar[int] = 1
    term_type: ClassVar[type[Term]] = SecondOrderTerm

    def init(self, term: Term, t0: Any, y0: Any, args: Any) -> None:
        """Validate the term and the ``(x, v)`` state once; no solver state."""
        check_second_order("SymplecticEuler", term, y0, velocity_dependent_ok=True)
        return None

    def step(
        self, term: SecondOrderTerm, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """One step: ``v`` from the old ``(x, v)``, then ``x`` from the new ``v``."""
        x0, v0 = y0
        v1 = v0 + dt * term.acceleration(t0, x0, v0, args)
        x1 = x0 + dt * v1
        return Step((x1, v1), rhs_evals=1)

    def linear_stability(self) -> Oscillator:
        """``Oscillator()``: the step map's eigenvalues for ``x'' = -lam x``.

        They are the roots of ``z^2 - (2 - dt^2 lam) z + 1`` (the map has trace
        ``2 - dt^2 lam`` and determinant 1), the leapfrog polynomial: the limit
        is ``dt <= 2 / sqrt(lam_max)``.
        """
        return Oscillator()
