"""The solver contract: a solver is a frozen value that does **one** step.

Only :func:`solvers.solve` loops. A concrete solver is a ``@dataclass(frozen=True)``
subclass of :class:`AbstractSolver` whose fields are its knobs, so ``repr`` shows
its configuration (``RK4()``, ``ImplicitEuler(linear_solver=CG(rtol=1e-10))``).

What a solver *is* (adaptive, implicit, second order, multistep, integrates a whole
interval) is said by the marker bases below, never by attributes that callers probe:
``solve()``, :mod:`solvers.stability` and the registries dispatch with
``isinstance``. A solver may derive from several markers (``Leapfrog`` is
second order; ``AdamsBashforth`` is multistep).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from solvers._checks import check_real
from solvers.linear_stability import LinearStability, NotAnalysed
from solvers.solution import Status
from solvers.terms import SecondOrderTerm, Term

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "AbstractAdaptiveSolver",
    "AbstractImplicitSolver",
    "AbstractIntervalSolver",
    "AbstractMultistepSolver",
    "AbstractSecondOrderSolver",
    "AbstractSolver",
    "Step",
]


class Step(NamedTuple):
    """What one step returns.

    Attributes:
        y1: State at ``t0 + dt``.
        y_err: Local error estimate (adaptive solvers), else ``None``.
        state: Solver state to pass to the next step (FSAL stage, history, warm start).
            On a rejected step ``solve()`` keeps the previous state.
        rhs_evals: Number of right-hand-side evaluations this step made.
        linear_iters: Linear-solver iterations this step made.
        status: ``Status.SUCCESS`` or a failure (e.g. ``LINEAR_SOLVE_FAILED``).
        message: Failure details (empty on success).
    """

    y1: Any
    y_err: Any = None
    state: Any = None
    rhs_evals: int = 0
    linear_iters: int = 0
    status: Status = Status.SUCCESS
    message: str = ""


class AbstractSolver(ABC):
    """Base of every solver. The contract a new solver follows.

    1. It is a ``@dataclass(frozen=True)``: its fields are its knobs, validated in
       ``__post_init__`` (``ValueError``/``TypeError`` in the STYLE message format).
    2. It **must** set ``order`` (a class variable, or a property when the order
       depends on a field) and implement :meth:`step`, which advances one step and
       never loops or synchronises with the device except on a failure path.
    3. It **must** describe its linear stability once, in :meth:`linear_stability`;
       ``max_stable_dt``, region plots, CFL tables and the ``StabilityWarning`` of
       :func:`solvers.solve` all derive from that one value.
    4. It **may** set ``term_type`` (the term class, or a tuple of them, it accepts;
       ``solve()`` checks it) and override :meth:`init` (state before the first
       step), :meth:`seed_derivative` (reuse an ``f(t0, y0)`` that ``solve()``
       already evaluated) and :meth:`after_jump` (drop what the state caches about
       the right-hand side when a step lands on a jump of the term).
    5. It declares what it *is* by deriving from the marker bases of this module:
       :class:`AbstractAdaptiveSolver` (returns an error estimate; usable with
       ``PIController``), :class:`AbstractImplicitSolver` (solves a linear system
       per step with a linear-solver value), :class:`AbstractSecondOrderSolver`
       (works on the partitioned state ``(x, v)`` of a ``SecondOrderTerm``),
       :class:`AbstractMultistepSolver` (keeps a history at a constant step and has
       a start-up), :class:`AbstractIntervalSolver` (integrates the whole interval
       itself, e.g. torchdiffeq). Nothing else is probed.
    6. Its failure is reported in the returned :class:`Step` (``status`` and a
       ``message`` naming what failed), never by returning a non-finite state as a
       success.
    7. It exports itself in ``solvers/__init__.py`` (``__all__`` and ``SOLVERS``)
       and adds one line to ``tests/helpers.py::ALL_SOLVERS``; the generic order,
       CFL, gradcheck, repr and device tests then cover it.

    Class attributes:
        order: Convergence order (global error ``O(dt^order)``).
        term_type: Term class (or tuple) the solver accepts; checked by ``solve()``.
    """

    order: ClassVar[int]
    term_type: ClassVar[type[Term] | tuple[type[Term], ...]] = Term

    def init(self, term: Term, t0: float, y0: Any, args: Any) -> Any:
        """Initial solver state (``None`` unless the method needs one)."""
        return None

    def seed_derivative(self, state: Any, f0: Any) -> Any:
        """Hand in an already computed ``f(t0, y0)``; the default ignores it.

        :func:`solvers.solve` evaluates ``f(t0, y0)`` for the initial step-size
        selection; a solver whose first stage is that value (explicit Runge-Kutta)
        overrides this to reuse it.
        """
        return state

    def after_jump(self, state: Any) -> Any:
        """The state to continue with after a step that ended on a jump of the term.

        :func:`solvers.solve` calls it when a step landed on one of the term's
        ``jump_times``: what the state caches about the right-hand side before
        the jump (an FSAL stage, a multistep history) is stale after it. The
        default keeps the state (nothing cached); explicit Runge-Kutta drops its
        FSAL stage and Adams-Bashforth restarts its start-up.
        """
        return state

    @abstractmethod
    def step(
        self, term: Term, t0: float, dt: float, y0: Any, args: Any, state: Any
    ) -> Step:
        """Advance from ``(t0, y0)`` to ``t0 + dt``."""

    def linear_stability(self) -> LinearStability:
        """The one value that describes the solver's linear stability.

        One of :mod:`solvers.linear_stability`'s values: ``OneStep`` (stability
        function), ``Multistep`` (characteristic polynomials), ``Oscillator``
        (amplification roots of ``x'' = -lam x``), ``Unconditional`` or
        ``NotAnalysed``. :meth:`max_stable_dt` and everything in
        :mod:`solvers.stability` derive from it.

        The default is ``NotAnalysed``: no limit is known, so ``solve()`` checks
        nothing. Every solver of this package overrides it (contract item 3).
        """
        return NotAnalysed(
            f"{type(self).__name__} does not describe its linear stability "
            "(override linear_stability())"
        )

    def max_stable_dt(self, lam_max: float) -> float | None:
        """Largest stable fixed step for ``lam_max``; ``None`` means no limit.

        Derived from :meth:`linear_stability`: ``c / lam_max`` for first-order
        methods on ``y' = -A y``, ``2 / sqrt(lam_max)`` for the undamped oscillator
        methods on ``x'' = -A x``. ``lam_max <= 0`` (a zero operator, or no decaying
        mode to destabilise) gives ``None``.

        Args:
            lam_max: Largest eigenvalue of ``A``, e.g. ``graphops.lam_max(op)``.

        Returns:
            The step, or ``None`` when there is no limit.

        Raises:
            TypeError: ``lam_max`` is not a real number.
            ValueError: ``lam_max`` is not finite.
        """
        lam = check_real(
            f"{type(self).__name__}.max_stable_dt",
            "lam_max",
            lam_max,
            fix="Estimate it with graphops.lam_max(operator).",
        )
        if lam <= 0.0:
            return None
        return self.linear_stability().max_stable_dt(lam)


class AbstractAdaptiveSolver(AbstractSolver):
    """A solver whose :meth:`step` returns an error estimate ``Step.y_err``.

    Only these run under an adaptive controller (``PIController``).

    Class attributes:
        error_order: Order of the embedded (lower-order) solution whose difference
            is ``y_err``; the controller's exponent uses ``error_order + 1``.
    """

    error_order: ClassVar[int]


class AbstractImplicitSolver(AbstractSolver):
    """A (linearly) implicit solver: one linear solve per step.

    It holds a linear-solver value (``CG(...)``) as a field named ``linear_solver``
    and integrates a ``LinearTerm`` whose operator is symmetric positive
    semi-definite; for those it is stable for every step size.
    """

    linear_solver: Any


class AbstractSecondOrderSolver(AbstractSolver):
    """A solver written for ``x'' = a(t, x, x')``: the state is ``(x, v)``.

    Its stability is stated for ``x'' = -A x`` (oscillator roots), not for the
    first-order system.
    """

    term_type: ClassVar[type[Term] | tuple[type[Term], ...]] = SecondOrderTerm


class AbstractMultistepSolver(AbstractSolver):
    """A multistep method: a history at a constant spacing, and a start-up.

    It needs constant steps, so ``solve()`` refuses an adaptive controller.
    """


class AbstractIntervalSolver(AbstractSolver):
    """A solver that integrates a whole interval itself (its own step control).

    ``solve()`` validates the inputs and hands the whole problem to
    :meth:`integrate` instead of running its stepping loop.
    """

    @abstractmethod
    def integrate(
        self,
        term: Term,
        t0: float,
        ts: Tensor,
        y0: Any,
        args: Any,
        *,
        dt0: float | None,
        max_steps: int,
        adjoint: Any,
        jump_ts: tuple[float, ...] = (),
    ) -> Any:
        """Integrate from ``t0`` through the output times ``ts``; return a Solution.

        ``jump_ts`` are the term's discontinuities in ``(t0, t1)``; an adaptive
        method must not step over them.
        """
