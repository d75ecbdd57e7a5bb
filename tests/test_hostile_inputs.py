"""Hostile and degenerate inputs: a clear status or error, never a wrong answer.

The start of issue 7's catalogue (work sized by the step budget, ``atol=0`` with
exact zeros); a new case of a group is one line in its table.
"""

from __future__ import annotations

import math
import re
import time

import pytest
import torch

from graphops import Laplacian
from solvers import (
    RK4,
    Dopri5,
    Euler,
    LinearTerm,
    ODETerm,
    PIController,
    Status,
    TorchDiffEq,
    solve,
)

from conftest import make_grid_graph

DECAY = ODETerm(lambda t, y, args: -y)

# -- the work is sized by max_steps, not by the interval ------------------------------
# (solver, dt0, max_steps, message): a tiny dt0 must fail fast with MAX_STEPS.
BUDGET_CASES = [
    (Euler(), 1e-12, 10, r"ConstantStep needs 1000000000000 steps"),
    (RK4(), 1e-15, 3, r"`max_steps`=3 reached before t1=1"),
    (TorchDiffEq("euler"), 1e-12, 10, r"fixed grid needs to reach t1=1"),
    (TorchDiffEq("rk4"), 1e-13, 5, r"`max_steps`=5 is less than the"),
]


@pytest.mark.parametrize(("solver", "dt0", "max_steps", "match"), BUDGET_CASES)
def test_step_budget_bounds_time_and_memory(solver, dt0, max_steps, match):
    start = time.perf_counter()
    sol = solve(
        DECAY,
        solver,
        y0=torch.ones(3, 1),
        t1=1.0,
        dt0=dt0,
        max_steps=max_steps,
        throw=False,
    )
    assert sol.status is Status.MAX_STEPS
    assert sol.stats.num_steps <= max_steps
    assert time.perf_counter() - start < 5.0
    assert re.search(match, sol.message), sol.message


# -- atol = 0 with components that are exactly zero --------------------------------
def _zero_column_state(n):
    y0 = torch.randn(n, 3, generator=torch.Generator().manual_seed(0))
    y0[:, 1] = 0.0
    y0[: n // 3, 0] = 0.0
    return y0


# (state builder, rtol): a pure relative tolerance is well defined on exact zeros.
ATOL_ZERO_CASES = [
    (_zero_column_state, 1e-6),
    (lambda n: torch.zeros(n, 2), 1e-6),
    (_zero_column_state, 1e-9),
]


@pytest.mark.parametrize(("make_y0", "rtol"), ATOL_ZERO_CASES)
def test_atol_zero_with_exact_zeros(make_y0, rtol):
    graph = make_grid_graph(5, 5)
    term = LinearTerm(Laplacian(graph))
    y0 = make_y0(graph.num_nodes)
    sol = solve(
        term,
        Dopri5(),
        y0=y0,
        t1=1.0,
        controller=PIController(rtol=rtol, atol=0.0),
        throw=False,
    )
    assert sol.status is Status.SUCCESS, sol.message
    ref = solve(
        term,
        Dopri5(),
        y0=y0,
        t1=1.0,
        controller=PIController(rtol=1e-11, atol=1e-13),
    )
    scale = max(float(ref.ys.abs().max()), 1e-300)
    assert float((sol.ys - ref.ys).abs().max()) <= 1e3 * rtol * scale


def test_error_ratio_rule_on_zero_scale():
    pi = PIController(rtol=1e-6, atol=0.0)
    zero = torch.zeros(4, 1)
    # error 0 where the scale is 0: exact, contributes 0
    assert float(pi.error_ratio(zero, zero, zero)) == 0.0
    # a non-zero error relative to an exactly-zero state cannot be controlled
    err = torch.tensor([[0.0], [1e-3], [0.0], [0.0]])
    assert math.isinf(float(pi.error_ratio(err, zero, zero)))


def test_a_nan_step_size_stops_the_solve():
    pi = PIController(rtol=1e-6, atol=1e-9)
    y0 = torch.ones(2, 1)
    f0 = -y0
    state, _ = pi.init(
        DECAY,
        Dopri5(),
        0.0,
        y0,
        None,
        f0,
        stops=(1.0,),
        stop_saves=(True,),
        dt0=0.1,
        max_steps=100,
    )
    _, decision = pi._propose(state._replace(dt=math.nan), 0.0, True, False)
    assert decision.status is Status.DT_MIN
    assert "the step size became NaN" in decision.message
