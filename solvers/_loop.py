"""The one stepping loop behind :func:`solvers.solve` (every controller uses it).

:func:`solvers.solve` validates the inputs and builds a :class:`Problem`; :func:`run`
then only loops. The loop asks the controller (``init``/``adapt``, see
:mod:`solvers.controllers`) where each step goes and runs the steps in *segments*:

* with an :class:`~solvers.controllers.AbstractFixedStepController`
  (``ConstantStep``) a segment is 16 steps (or one ``Checkpoint`` segment), run
  without a host synchronisation; finiteness is checked once per segment, and the
  first non-finite step is located by replaying the segment, on the failure path
  only;
* with any other controller (``PIController``) a segment is one step, because
  ``adapt`` reads the error estimate (one sync per step) and rejects non-finite
  steps itself.

A segment is a pure function of its inputs, so ``Checkpoint`` runs it under
``torch.utils.checkpoint`` and recomputes it in the backward pass. Numerical
failures end the solve with a :class:`~solvers.solution.Status` and a message
saying where (``t``, step number, ``dt``), what went wrong and a likely fix.
"""

from __future__ import annotations

import bisect
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint as _torch_checkpoint

from solvers._errors import StabilityWarning
from solvers._tree import State, tall_finite
from solvers.adjoint import AbstractAdjoint, Checkpoint
from solvers.base import AbstractSolver, Step
from solvers.controllers import (
    AbstractAdaptiveController,
    AbstractFixedStepController,
    AbstractStepController,
    Decision,
)
from solvers.solution import Solution, Stats, Status
from solvers.terms import Term

__all__ = ["LoopState", "Problem", "run"]

# Fixed steps check finiteness on the device and synchronise once per this many
# steps (and at the end); the first bad step is then located exactly, on the
# failure path only. Adaptive steps synchronise every step anyway (accept/reject).
_SYNC_EVERY = 16

# Growth guard of fixed steps: a successful solve whose state's max |y| exceeded this
# many times max |y0| warns (StabilityWarning): such growth is almost always an
# explicit step beyond its stability limit, not the equation. The peak is tracked on
# the device with the finiteness flag and read once, at the end of the solve.
GROWTH_LIMIT = 1e4

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class Problem:
    """What :func:`solvers.solve` validated: the static inputs of the loop.

    Attributes:
        term: The equation.
        solver: The method.
        controller: Where the steps go.
        args: Passed to the term.
        name: The solver's name for messages.
        t0: Start time.
        ts: All requested output times ``[T]``.
        save_t0: The first output time is ``t0`` (saved before stepping).
        stops: Increasing times ``> t0`` the steps land on; the last is ``t1``.
        stop_saves: Whether each stop is an output time.
        dt0: ``solve``'s ``dt0`` (``None`` if not given).
        max_steps: The step budget.
        unstable: The stability warning's text, if one was issued; it becomes the
            cause of a ``NONFINITE`` failure.
        jumps: Times in ``(t0, t1)`` where the right-hand side jumps (also stops).
        save_steps: Record ``t0`` and every accepted step (``SaveAt(steps=True)``).
        record: ``record(t, y, args)``, what is stored for a saved state (``None``:
            the state itself).
    """

    term: Term
    solver: AbstractSolver
    controller: AbstractStepController
    args: Any
    name: str
    t0: float
    ts: Tensor
    save_t0: bool
    stops: tuple[float, ...]
    stop_saves: tuple[bool, ...]
    dt0: float | None
    max_steps: int
    unstable: str | None = None
    jumps: tuple[float, ...] = ()
    save_steps: bool = False
    record: Callable[[float, Any, Any], Any] | None = None

    def solver_dt(self, t: float, dt: float) -> float:
        """The step handed to the solver for the controller's step ``(t, dt)``.

        A step ending on a jump time ``tj`` ends one ulp before it,
        ``nextafter(tj, -inf)``, so the stages at its end (``c = 1``) still read
        the piece the step started in; the controller keeps ``tj`` as the step's
        end, so the next step starts exactly on the new piece (diffrax's
        ``prevbefore``/``nextafter``). Off jumps the step is unchanged.
        """
        if not self.jumps:
            return dt
        end = t + dt
        tol = 4.0 * _EPS * max(1.0, abs(end))
        i = bisect.bisect_left(self.jumps, end - tol)
        if i < len(self.jumps) and abs(self.jumps[i] - end) <= tol:
            return math.nextafter(self.jumps[i], -math.inf) - t
        return dt

    def value(self, t: float, y: State) -> Any:
        """What is saved for the state ``y`` at ``t``."""
        return y if self.record is None else self.record(t, y, self.args)


_EPS = sys.float_info.epsilon


@dataclass
class LoopState:
    """The loop's mutable state between segments.

    Attributes:
        y: The current state.
        solver_state: What the solver carries between steps.
        controller_state: What the controller carries between steps.
        decision: The controller's last decision (the pending step, or the end).
        saves: ``(t, value)`` at the output times reached so far (``value`` is the
            state, or what ``SaveAt.fn`` returned).
        stats: Work counters.
    """

    y: State
    solver_state: Any
    controller_state: Any
    decision: Decision
    saves: list[tuple[float, Any]]
    stats: Stats
    peak: Tensor | None = None


class _Segment(NamedTuple):
    y: State
    solver_state: Any
    controller_state: Any
    decision: Decision
    # (index in the segment, t, saved value) for steps landing on outputs
    saves: list[tuple[int, float, Any]]
    num_steps: int
    num_accepted: int
    rhs_evals: int
    linear_iters: int
    # (index, t, dt, step) of a step that reported a failure
    failure: tuple[int, float, float, Step] | None
    # 0-d bool: the segment's last state is finite (no host sync); None if unchecked
    finite: Tensor | None
    # 0-d: max |y| of the segment's last state (NaN if non-finite); None if unchecked
    peak: Tensor | None = None


def run(problem: Problem, y0: State, adjoint: AbstractAdjoint) -> Solution:
    """Integrate ``problem`` from ``y0``; the only stepping loop of the package.

    Args:
        problem: The validated inputs.
        y0: Initial state.
        adjoint: ``Checkpoint`` runs fixed-step segments under
            ``torch.utils.checkpoint`` when gradients are enabled; any other value
            backpropagates through the steps.

    Returns:
        The :class:`~solvers.solution.Solution` (``throw`` is applied by ``solve``).
    """
    term, solver, controller = problem.term, problem.solver, problem.controller
    stats = Stats()
    solver_state = solver.init(term, problem.t0, y0, problem.args)
    f0 = None
    if isinstance(controller, AbstractAdaptiveController):
        # f(t0, y0) is the first stage anyway; evaluating it here lets the initial
        # step selection use it, and a rejected first step not recompute it.
        f0 = term(problem.t0, y0, problem.args)
        stats.num_rhs_evals += 1
        solver_state = solver.seed_derivative(solver_state, f0)
    controller_state, decision = controller.init(
        term,
        solver,
        problem.t0,
        y0,
        problem.args,
        f0,
        stops=problem.stops,
        stop_saves=problem.stop_saves,
        dt0=problem.dt0,
        max_steps=problem.max_steps,
    )
    stats.num_rhs_evals += decision.rhs_evals
    fixed = isinstance(controller, AbstractFixedStepController)
    seg_len, checkpointed = 1, False
    if fixed:
        schedule = controller.schedule(problem.t0, problem.stops, problem.dt0)
        stats.dt = schedule.dt
        seg_len = _SYNC_EVERY
        if isinstance(adjoint, Checkpoint) and torch.is_grad_enabled():
            checkpointed = True
            seg_len = adjoint.segment_length(min(schedule.num_steps, problem.max_steps))
    saves = [(problem.t0, problem.value(problem.t0, y0))] if problem.save_t0 else []
    ls = LoopState(y0, solver_state, controller_state, decision, saves, stats)
    peak0 = peak_abs(y0) if fixed else None
    ls.peak = peak0
    while ls.decision.status is Status.SUCCESS and not ls.decision.done:
        failure = _advance(problem, ls, seg_len, checkpointed, fixed)
        if failure is not None:
            return _finish(problem, ls, y0, *failure)
    if ls.decision.status is not Status.SUCCESS:
        return _finish(
            problem,
            ls,
            y0,
            ls.decision.status,
            f"{problem.name} {ls.decision.message}",
        )
    if peak0 is not None and ls.peak is not None and problem.unstable is None:
        warn_if_grew(problem.name, ls.stats.dt, peak0, ls.peak)
    return _finish(problem, ls, y0, Status.SUCCESS, "")


def peak_abs(y: State) -> Tensor:
    """0-d float64 ``max |y|`` over all leaves, NaN if an entry is NaN (no sync).

    One ``aminmax`` pass per leaf, the same work as the finiteness test it replaces.
    """
    leaves = y if isinstance(y, tuple) else (y,)
    out = None
    for leaf in leaves:
        if leaf.numel() == 0:
            continue
        lo, hi = torch.aminmax(leaf.detach())
        m = torch.maximum(hi, -lo).to(torch.float64)
        out = m if out is None else torch.maximum(out, m)
    return torch.zeros((), dtype=torch.float64) if out is None else out


def warn_if_grew(name: str, dt: float | None, peak0: Tensor, peak: Tensor) -> None:
    """Warn if the state grew beyond :data:`GROWTH_LIMIT` times ``max |y0|``.

    One host sync per solve. ``y0 = 0`` gives no scale and is not checked.

    Args:
        name: The solver's name for the message.
        dt: The fixed step.
        peak0: ``max |y0|`` (0-d tensor, see :func:`peak_abs`).
        peak: ``max |y|`` over the solve's checked states (0-d tensor).
    """
    p0, p = torch.stack([peak0, peak.to(peak0.device)]).tolist()
    if not (p0 > 0.0 and p > GROWTH_LIMIT * p0):
        return
    text = (
        f"solve: with {name} and fixed steps dt={dt:.3g}, max |y| grew from "
        f"{p0:.3g} to {p:.3g} (more than {GROWTH_LIMIT:g}x) although the solve "
        "succeeded; an explicit step beyond its stability limit grows like this. "
        "Compare dt0 with solvers.stability.recommend_dt(term, solver, y0, "
        "args=args), or use an adaptive controller (PIController). If the equation "
        "itself grows this fast, filter this warning."
    )
    warnings.warn(StabilityWarning(text), stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """``stacklevel`` of the first caller outside the ``solvers`` package."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
        level += 1
    return level


def _advance(
    problem: Problem, ls: LoopState, seg_len: int, checkpointed: bool, fixed: bool
) -> tuple[Status, str] | None:
    """Run one segment and fold it into ``ls``; ``(status, message)`` on failure."""
    first = ls.stats.num_steps == 0
    inputs = (problem, ls.y, ls.solver_state, ls.controller_state, ls.decision)
    if checkpointed:
        res = _torch_checkpoint(
            _run_segment, *inputs, seg_len, first, fixed, use_reentrant=False
        )
    else:
        res = _run_segment(*inputs, seg_len, first, fixed)
    stats = ls.stats
    k0 = stats.num_steps
    stats.num_steps += res.num_steps
    stats.num_accepted += res.num_accepted
    stats.num_rejected += res.num_steps - res.num_accepted - (res.failure is not None)
    stats.num_rhs_evals += res.rhs_evals
    stats.num_linear_iters += res.linear_iters
    # the one sync per segment (fixed steps only)
    if res.finite is not None and not bool(res.finite):
        bad, t, dt = _first_nonfinite_step(problem, *inputs[1:], seg_len)
        ls.saves += [(t, v) for i, t, v in res.saves if i < bad]
        cause = problem.unstable or (
            "The right-hand side returned NaN/inf, or the solution diverged; "
            "reduce dt0, use an adaptive solver (Dopri5 with PIController) or "
            "check the term."
        )
        return Status.NONFINITE, (
            f"{problem.name} failed at t={t:.6g} (step {k0 + bad + 1}, dt={dt:.3g}): "
            f"the state became non-finite (NaN or inf). {cause}"
        )
    ls.saves += [(t, v) for _, t, v in res.saves]
    if res.failure is not None:
        i, t, dt, st = res.failure
        what = st.message or st.status.description
        return st.status, (
            f"{problem.name} failed at t={t:.6g} (step {k0 + i + 1}, dt={dt:.3g}): "
            f"{what}"
        )
    ls.y, ls.solver_state = res.y, res.solver_state
    if res.peak is not None and ls.peak is not None:
        ls.peak = torch.maximum(ls.peak, res.peak)
    ls.controller_state, ls.decision = res.controller_state, res.decision
    return None


def _run_segment(
    problem: Problem,
    y: State,
    solver_state: Any,
    controller_state: Any,
    decision: Decision,
    seg_len: int,
    first: bool,
    fixed: bool,
) -> _Segment:
    """Take up to ``seg_len`` steps without synchronising (a pure function).

    Only the controller's ``adapt`` may synchronise (an adaptive one does, once per
    step). Fixed steps test finiteness once, on the segment's last state: NaN and
    inf propagate through the arithmetic of later steps, and a per-step test costs
    as much as a sparse product on small graphs. ``first`` asks for the
    shape/dtype check of the solve's first step.
    """
    term, args = problem.term, problem.args
    # bound once: this loop body runs once per step
    step, adapt, success = problem.solver.step, problem.controller.adapt, Status.SUCCESS
    solver_dt, every_step = problem.solver_dt, problem.save_steps
    after_jump = problem.solver.after_jump
    saves: list[tuple[int, float, Any]] = []
    n = accepted = rhs = lin = 0
    failure = None
    while n < seg_len and decision.status is success and not decision.done:
        t, dt = decision.t, decision.dt
        sdt = solver_dt(t, dt)
        st = step(term, t, sdt, y, args, solver_state)
        rhs += st.rhs_evals
        lin += st.linear_iters
        if st.status is not success:
            failure = (n, t, dt, st)
            n += 1
            break
        if first:
            _check_first_step(problem.name, y, st.y1)
            first = False
        if not fixed and st.y_err is None:
            raise TypeError(
                f"solve: {problem.name} is an AbstractAdaptiveSolver but its step "
                "returned y_err=None; an adaptive solver must return its error "
                "estimate."
            )
        controller_state, decision = adapt(controller_state, t, dt, y, st)
        if decision.accept:
            y, solver_state = st.y1, st.state
            if sdt != dt:
                # the step ended on a jump of the term
                solver_state = after_jump(solver_state)
            accepted += 1
            if decision.save or every_step:
                saves.append((n, decision.t, problem.value(decision.t, y)))
        n += 1
    peak = peak_abs(y) if fixed else None
    finite = None if peak is None else torch.isfinite(peak)
    return _Segment(
        y,
        solver_state,
        controller_state,
        decision,
        saves,
        n,
        accepted,
        rhs,
        lin,
        failure,
        finite,
        peak,
    )


def _first_nonfinite_step(
    problem: Problem,
    y: State,
    solver_state: Any,
    controller_state: Any,
    decision: Decision,
    seg_len: int,
) -> tuple[int, float, float]:
    """Find the first step of a segment whose new state is non-finite.

    Replays the segment step by step without gradients (failure path only).

    Returns:
        ``(index in the segment, t, dt)`` of that step.
    """
    term, solver, controller = problem.term, problem.solver, problem.controller
    t, dt = decision.t, decision.dt
    with torch.no_grad():
        for i in range(seg_len):
            t, dt = decision.t, decision.dt
            step_dt = problem.solver_dt(t, dt)
            st = solver.step(term, t, step_dt, y, problem.args, solver_state)
            if st.status is not Status.SUCCESS or not bool(tall_finite(st.y1)):
                return i, t, dt
            controller_state, decision = controller.adapt(
                controller_state, t, dt, y, st
            )
            y, solver_state = st.y1, st.state
            if step_dt != dt:
                solver_state = solver.after_jump(solver_state)
            if decision.done or decision.status is not Status.SUCCESS:
                break
    # a non-deterministic term: blame the segment's last step
    return i, t, dt


def _check_first_step(name: str, y0: State, y1: State) -> None:
    """The term's output must keep the state's structure, shape and dtype."""
    y0s = y0 if isinstance(y0, tuple) else (y0,)
    y1s = y1 if isinstance(y1, tuple) else (y1,)
    if len(y0s) != len(y1s) or any(
        a.shape != b.shape or a.dtype != b.dtype for a, b in zip(y0s, y1s, strict=False)
    ):
        got = [(tuple(v.shape), str(v.dtype)) for v in y1s]
        want = [(tuple(v.shape), str(v.dtype)) for v in y0s]
        raise ValueError(
            f"solve: the term's dy/dt must match the state; a {name} step turned "
            f"{want} into {got}. Return a tensor with y's shape and dtype from "
            "forward(t, y, args)."
        )


def stack_states(saves: Sequence[State], y0: State) -> State:
    """Stack saved states along a new first axis (leaf-wise for tuple states)."""
    if isinstance(y0, tuple):
        if not saves:
            return tuple(leaf.new_empty((0, *leaf.shape)) for leaf in y0)
        return tuple(torch.stack([s[i] for s in saves]) for i in range(len(y0)))
    if len(saves) == 1 and saves[0] is not y0:
        # one saved state (the default: t1 only) is a fresh tensor of the solve:
        # a view of it, not a copy (never a view of the caller's y0)
        return saves[0].unsqueeze(0)
    return torch.stack(list(saves)) if saves else y0.new_empty((0, *y0.shape))


def stack_values(values: Sequence[Any]) -> Any:
    """Stack recorded values (tensors, or tuples of tensors) along a new first axis."""
    if not values:
        return torch.empty(0)
    if isinstance(values[0], tuple):
        return tuple(torch.stack([v[i] for v in values]) for i in range(len(values[0])))
    return torch.stack([torch.as_tensor(v) for v in values])


def _finish(
    problem: Problem, ls: LoopState, y0: State, status: Status, message: str
) -> Solution:
    ls.stats.num_linear_iters = int(ls.stats.num_linear_iters)
    times = [t for t, _ in ls.saves]
    values = [v for _, v in ls.saves]
    if problem.save_steps:
        ts = problem.ts.new_tensor(times)
    else:
        ts = problem.ts[: len(values)]
    if problem.record is None:
        ys = stack_states(values, y0)
    else:
        ys = stack_values(values)
    return Solution(ts, ys, status, message, ls.stats)
