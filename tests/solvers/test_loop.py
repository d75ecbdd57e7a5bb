"""The one stepping loop and the controller protocol (init/adapt -> Decision)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from solvers import (
    RK4,
    AbstractFixedStepController,
    ConstantStep,
    Decision,
    Dopri5,
    LinearTerm,
    PIController,
    Schedule,
    Status,
    solve,
)

from helpers import heat_problem


class _SyncCounter(TorchDispatchMode):
    """Counts device-to-host reads (``.item()``, ``bool(tensor)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def heat(grid_graph):
    return heat_problem(grid_graph)


def test_constant_step_protocol_walks_the_grid() -> None:
    c = ConstantStep()
    state, d = c.init(
        None, RK4(), 0.0, None, None, None,
        stops=(0.5, 1.0), stop_saves=(True, False), dt0=0.3, max_steps=100,
    )  # fmt: skip
    assert d == Decision(True, 0.0, 0.25)
    seen = []
    while not d.done:
        state, d = c.adapt(state, d.t, d.dt, None, None)
        seen.append((d.t, d.save, d.done))
    assert seen == [
        (0.25, False, False),
        (0.5, True, False),
        (0.75, False, False),
        (1.0, False, True),
    ]
    assert c.schedule(0.0, (0.5, 1.0), 0.3) == Schedule(4, 0.25)


def test_constant_step_budget_decision() -> None:
    c = ConstantStep()
    state, d = c.init(
        None, RK4(), 0.0, None, None, None,
        stops=(1.0,), stop_saves=(True,), dt0=0.25, max_steps=2,
    )  # fmt: skip
    state, d = c.adapt(state, d.t, d.dt, None, None)
    state, d = c.adapt(state, d.t, d.dt, None, None)
    assert d.accept and d.status is Status.MAX_STEPS and not d.done
    assert d.message == (
        "stopped at t=0.5 (step 2): `max_steps`=2 reached before t1=1; ConstantStep "
        "needs 4 steps of dt=0.25. Raise max_steps or dt0."
    )


def test_pi_controller_lands_on_stops(heat) -> None:
    c = PIController(1e-6, 1e-8)
    term = LinearTerm(heat.L)
    f0 = term(0.0, heat.y0)
    state, d = c.init(
        term, Dopri5(), 0.0, heat.y0, None, f0,
        stops=(0.3,), stop_saves=(True,), dt0=0.5, max_steps=100,
    )  # fmt: skip
    # dt0 = 0.5 overshoots the stop: the step is shortened to land on it
    assert d.t == 0.0 and d.dt == pytest.approx(0.3) and d.rhs_evals == 0


@dataclass(frozen=True)
class _Doubling(AbstractFixedStepController):
    """A user controller: steps dt0, 2 dt0, 4 dt0, ..., the last clipped to t1."""

    def _steps(self, t0, stops, dt0):
        t1, t, dt, out = stops[-1], t0, dt0, []
        while t < t1:
            h = min(dt, t1 - t)
            out.append((t, h))
            t, dt = t + h, 2 * dt
        return out

    def init(self, term, solver, t0, y0, args, f0, *, stops, stop_saves, dt0,
             max_steps):  # fmt: skip
        steps = self._steps(t0, stops, dt0)
        return (steps, 0), Decision(True, steps[0][0], steps[0][1])

    def adapt(self, state, t, dt, y0, step):
        steps, k = state
        k += 1
        if k == len(steps):
            return (steps, k), Decision(True, t + dt, 0.0, True, done=True)
        return (steps, k), Decision(True, steps[k][0], steps[k][1])

    def schedule(self, t0, stops, dt0):
        steps = self._steps(t0, stops, dt0)
        return Schedule(len(steps), max(h for _, h in steps))


def test_a_user_controller_runs_in_the_same_loop(heat) -> None:
    calls = []

    def rhs(t, y, args):
        calls.append(t)
        return -(heat.L @ y)

    from solvers import ODETerm

    sol = solve(
        ODETerm(rhs), RK4(), y0=heat.y0, t1=1.5, dt0=0.1, controller=_Doubling()
    )
    # 0.1 + 0.2 + 0.4 + 0.8 clipped to 0.8: four steps landing on t1
    assert sol.success and sol.stats.num_steps == 4
    assert sol.stats.dt == pytest.approx(0.8)
    assert sorted(set(calls))[:2] == [0.0, 0.05]
    exact = heat.exact(1.5)
    assert float((sol.y1 - exact).abs().max()) < 0.05


def test_fixed_steps_sync_once_per_segment(heat) -> None:
    term = LinearTerm(heat.L)
    # warm up the stability check (its Gershgorin bound is cached on the operator)
    solve(term, RK4(), y0=heat.y0, t1=0.1, dt0=0.01)
    with _SyncCounter() as counter:
        sol = solve(term, RK4(), y0=heat.y0, t1=0.64, dt0=0.01)
    assert sol.stats.num_steps == 64
    # input checks (finite y0), 4 segments of 16 steps: far below one per step
    assert counter.count <= 8, counter.count


def test_adaptive_steps_sync_once_per_step(heat) -> None:
    term = LinearTerm(heat.L)
    with _SyncCounter() as counter:
        sol = solve(
            term,
            Dopri5(),
            y0=heat.y0,
            t1=1.0,
            dt0=0.05,
            controller=PIController(1e-6, 1e-8),
        )
    assert counter.count <= sol.stats.num_steps + 4, (counter.count, sol.stats)


def test_failure_message_is_prefixed_with_the_solver_name(heat) -> None:
    sol = solve(
        LinearTerm(heat.L),
        Dopri5(),
        y0=heat.y0,
        t1=1.0,
        controller=PIController(1e-8, 1e-10),
        max_steps=2,
        throw=False,
    )
    assert sol.status is Status.MAX_STEPS
    assert sol.message.startswith("Dopri5 stopped at t=")
    assert not math.isnan(sol.stats.num_rhs_evals)
