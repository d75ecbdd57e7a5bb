"""AdamsBashforth(order=2..4): coefficients, order, start-up, stability, gradients."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import torch

from graphops import Graph, Laplacian
from solvers._errors import StabilityWarning
from solvers.adjoint import Backprop, Checkpoint
from solvers.base import AbstractMultistepSolver
from solvers.controllers import PIController
from solvers.explicit_rk import RK4, Dopri5, Euler, Heun
from solvers.leapfrog import TwoStepLeapfrog
from solvers.linear_stability import Multistep
from solvers.multistep import AdamsBashforth
from solvers.solution import Status
from solvers.solve import solve
from solvers.stability import root_condition, stability_bound
from solvers.terms import LinearTerm, ODETerm, SecondOrderTerm

from helpers import drive_steps as run
from helpers import empirical_order, heat_problem, wave_problem

ABS = [AdamsBashforth(order=k) for k in (2, 3, 4)]


# ---------------------------------------------------------------------------------
# coefficients and stability analysis
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ABS, ids=repr)
def test_order_conditions(solver):
    """sum_j b_j (-j)^q = 1/(q+1) for q < k: exact for polynomials of degree < k."""
    k = solver.order
    b = solver.weights
    assert len(b) == k
    for q in range(k):
        assert sum(bj * (-j) ** q for j, bj in enumerate(b)) == pytest.approx(
            1 / (q + 1), abs=1e-14
        )
    q = k  # the next condition fails: the order is exactly k
    assert sum(bj * (-j) ** q for j, bj in enumerate(b)) != pytest.approx(
        1 / (q + 1), abs=1e-6
    )


@pytest.mark.parametrize(
    ("order", "bound"), [(2, Fraction(1)), (3, Fraction(6, 11)), (4, Fraction(3, 10))]
)
def test_stability_bound_literature_values(order, bound):
    solver = AdamsBashforth(order=order)
    assert stability_bound(solver) == pytest.approx(float(bound), rel=1e-12)
    assert solver.max_stable_dt(8.0) == pytest.approx(float(bound) / 8.0, rel=1e-12)
    assert solver.max_stable_dt(0.0) is None


@pytest.mark.parametrize("solver", ABS, ids=repr)
def test_characteristic_roots(solver):
    k = solver.order
    b = np.array(solver.weights)
    desc = solver.linear_stability()
    assert isinstance(desc, Multistep)
    for z in (0.0, -0.3, 0.2 + 0.5j, -1.7):
        roots = desc.roots(z)
        assert roots.shape == (k,)
        expected = np.concatenate([[1.0], -(1.0 + z * b[0]) * np.ones(1), -z * b[1:]])
        np.testing.assert_allclose(np.poly(roots), expected, rtol=1e-10, atol=1e-12)
    zs = np.linspace(-1, 0, 7).reshape(7, 1) + 1j * np.linspace(0, 1, 3)
    assert desc.roots(zs).shape == (7, 3, k)
    # z = 0: the principal root 1 and k - 1 parasitic roots at 0
    np.testing.assert_allclose(
        np.sort(np.abs(desc.roots(0.0))),
        [0.0] * (k - 1) + [1.0],
        atol=1e-12,
    )
    # the mode y' = -lam y at step dt is z = -dt lam, broadcast
    dt, lam = np.ones((2, 1)), np.ones(4)
    assert desc.roots(-dt * lam).shape == (2, 4, k)
    # the boundary of the real interval: a root on the unit circle
    r = stability_bound(solver)
    assert np.abs(desc.roots(-r)).max() == pytest.approx(1.0, abs=1e-9)
    assert np.abs(desc.roots(-1.01 * r)).max() > 1.0
    # root_condition reads the same description
    np.testing.assert_allclose(
        root_condition(solver, -0.3), np.abs(desc.roots(-0.3)).max()
    )


# ---------------------------------------------------------------------------------
# convergence order
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ABS, ids=repr)
def test_order_on_heat_problem(grid_graph, solver):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    exact = hp.exact(1.0)
    dts = [0.04 * 2.0**-k for k in range(6)]  # 0.04 * lam_max < 0.3: AB4 stable
    errs = [
        (solve(term, solver, y0=hp.y0, t1=1.0, dt0=dt).y1 - exact).abs().max()
        for dt in dts
    ]
    assert empirical_order(dts, errs) == pytest.approx(solver.order, abs=0.2)


def test_order_on_second_order_state(grid_graph):
    """A SecondOrderTerm as the first-order system (x, v)' = (v, a): tuple states."""
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    exact = wp.exact(1.0)[0]
    dts = [0.05 * 2.0**-k for k in range(5)]
    errs = [
        (
            solve(term, AdamsBashforth(order=3), y0=(wp.x0, wp.v0), t1=1.0, dt0=dt).y1[
                0
            ]
            - exact
        )
        .abs()
        .max()
        for dt in dts
    ]
    assert empirical_order(dts, errs) == pytest.approx(3.0, abs=0.2)


# ---------------------------------------------------------------------------------
# start-up, history and evaluation counts
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ABS, ids=repr)
def test_startup_is_rk4_then_one_evaluation_per_step(grid_graph, solver):
    hp = heat_problem(grid_graph)
    calls = []
    term = ODETerm(lambda t, y, args: calls.append(t) or -(hp.L @ y))
    ys, evals = run(term, solver, hp.y0, 0.01, 10)
    k = solver.order
    assert evals == [4] * (k - 1) + [1] * (10 - k + 1)
    assert len(calls) == sum(evals)
    # the start-up steps are exactly RK4 steps
    rk, _ = run(term, RK4(), hp.y0, 0.01, k - 1)
    for a, b in zip(ys[:k], rk, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-15)
    # and the first multistep step is the textbook formula on the recorded history
    f = [term(0.01 * j, ys[j], None) for j in range(k)]
    manual = ys[k - 1] + 0.01 * sum(
        bj * f[k - 1 - j] for j, bj in enumerate(solver.weights)
    )
    torch.testing.assert_close(ys[k], manual, rtol=0, atol=1e-15)


def test_custom_startup_solver(grid_graph):
    hp = heat_problem(grid_graph)
    solver = AdamsBashforth(order=2, startup=Heun())
    assert repr(solver) == "AdamsBashforth(order=2, startup=Heun())"
    _, evals = run(LinearTerm(hp.L), solver, hp.y0, 0.01, 4)
    assert evals == [2, 1, 1, 1]  # Heun's 2 stages, the first one handed over
    _, evals = run(
        LinearTerm(hp.L), AdamsBashforth(order=3, startup=Dopri5()), hp.y0, 0.01, 4
    )
    assert evals == [
        7,
        7,
        1,
        1,
    ]  # 6 Dopri5 stages after the handed-over f(t_n, y_n), plus that f


def test_step_size_change_restarts_history(grid_graph):
    """A changed dt (e.g. a final step clipped to t1) re-runs the start-up."""
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    solver = AdamsBashforth(order=4)
    errs = []
    dts = [0.02 * 2.0**-k for k in range(4)]
    for dt in dts:
        state = solver.init(term, 0.0, hp.y0, None)
        y, t, evals = hp.y0, 0.0, []
        for h in [dt] * (round(1.0 / dt) - 1) + [
            dt / 2,
            dt / 2,
        ]:  # the last dt is split
            s = solver.step(term, t, h, y, None, state)
            y, state, t = s.y1, s.state, t + h
            evals.append(s.rhs_evals)
        assert evals[-3:] == [1, 4, 4]  # the short steps are RK4 steps
        errs.append((y - hp.exact(1.0)).abs().max())
    assert empirical_order(dts, errs) == pytest.approx(4.0, abs=0.25)


def test_solve_counts_and_refuses_adaptive_controller(grid_graph):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    sol = solve(term, AdamsBashforth(order=4), y0=hp.y0, t1=1.0, dt0=0.01)
    assert sol.stats.num_steps == 100 and sol.stats.num_rhs_evals == 3 * 4 + 97
    err = float((sol.y1 - hp.exact(1.0)).abs().max())
    # output times that split the grid unevenly restart the history, accuracy is kept
    sol = solve(
        term,
        AdamsBashforth(order=4),
        y0=hp.y0,
        t1=1.0,
        dt0=0.01,
        saveat=torch.tensor([0.333, 1.0]),
    )
    assert sol.stats.num_steps == 34 + 67
    assert sol.stats.num_rhs_evals == 2 * 3 * 4 + (101 - 6)  # two start-ups
    assert float((sol.y1 - hp.exact(1.0)).abs().max()) <= 2 * err
    with pytest.raises(TypeError, match="needs a constant step"):
        solve(
            term,
            AdamsBashforth(order=2),
            y0=hp.y0,
            t1=1.0,
            dt0=0.01,
            controller=PIController(rtol=1e-6, atol=1e-8),
        )


def test_tiny_step_rounding_does_not_restart(grid_graph):
    hp = heat_problem(grid_graph)
    solver = AdamsBashforth(order=2)
    state = solver.init(LinearTerm(hp.L), 0.0, hp.y0, None)
    s1 = solver.step(LinearTerm(hp.L), 0.0, 0.1, hp.y0, None, state)
    s2 = solver.step(LinearTerm(hp.L), 0.1, 0.1 * (1 + 1e-15), s1.y1, None, s1.state)
    assert s2.rhs_evals == 1


# ---------------------------------------------------------------------------------
# CFL
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ABS, ids=repr)
def test_cfl_limit(grid_graph, solver):
    hp = heat_problem(grid_graph, mode="top")
    term = LinearTerm(hp.L)
    lam_max = float(hp.evals[-1])
    dt_max = solver.max_stable_dt(lam_max)
    norm0 = float(hp.y0.norm())
    dt = 0.95 * dt_max
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)  # solve's own check agrees
        sol = solve(
            term, solver, y0=hp.y0, t1=200 * dt, dt0=dt, saveat=dt * torch.arange(201.0)
        )
    assert float(sol.ys.flatten(1).norm(dim=1).max()) <= norm0 * (1 + 1e-9)
    # 500 steps: the start-up barely excites the unstable parasitic root of AB4
    dt = 1.05 * dt_max
    with pytest.warns(
        StabilityWarning, match=r"AdamsBashforth(\(order=\d\))? with dt="
    ):
        sol = solve(term, solver, y0=hp.y0, t1=500 * dt, dt0=dt, throw=False)
    assert sol.status is Status.NONFINITE or float(sol.y1.norm()) > 10 * norm0


# ---------------------------------------------------------------------------------
# dtype, gradients
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_preserved(grid_graph, dtype):
    term = LinearTerm(Laplacian(grid_graph))
    y0 = torch.randn(grid_graph.num_nodes, 2, dtype=dtype)
    ys, _ = run(term, AdamsBashforth(order=3), y0, 0.01, 4)
    assert all(y.dtype == dtype for y in ys)


@pytest.mark.parametrize("solver", ABS, ids=repr)
def test_gradcheck_startup_and_multistep_step(solver):
    graph = Graph(
        torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 3]]), 6, directed="symmetrize"
    )
    gen = torch.Generator().manual_seed(6)
    y0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    w = (0.5 + torch.rand(graph.num_edges, generator=gen)).requires_grad_()
    term = ODETerm(lambda t, y, w: -(Laplacian(graph, edge_weight=w) @ y))

    def f(y0, w):  # k - 1 start-up steps, then one Adams-Bashforth step
        ys, _ = run(term, solver, y0, 0.1, solver.order, args=w)
        return ys[-1]

    assert torch.autograd.gradcheck(f, (y0, w))


def test_solve_checkpoint_gives_the_same_gradient():
    """The history (and the RK4 start-up state) survive torch.utils.checkpoint."""
    graph = Graph(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]), 4, directed="symmetrize")
    w = (0.5 + torch.rand(graph.num_edges)).requires_grad_()
    y0 = torch.randn(4, 2, requires_grad=True)
    term = ODETerm(lambda t, y, w: -(Laplacian(graph, edge_weight=w) @ y))
    grads = []
    for adjoint in (Backprop(), Checkpoint()):
        sol = solve(
            term,
            AdamsBashforth(order=4),
            y0=y0,
            t1=1.0,
            dt0=0.05,
            args=w,
            adjoint=adjoint,
        )
        grads.append(torch.autograd.grad(sol.y1.square().sum(), (y0, w)))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------
# configuration errors
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("order", [1, 5, 0, 2.0, True, "2"])
def test_bad_order(order):
    with pytest.raises(ValueError, match="`order` must be 2, 3 or 4"):
        AdamsBashforth(order=order)


@pytest.mark.parametrize("startup", ["rk4", RK4, None])
def test_startup_must_be_a_solver(startup):
    with pytest.raises(TypeError, match="`startup` must be a solver"):
        AdamsBashforth(order=2, startup=startup)


@pytest.mark.parametrize(
    ("startup", "why"),
    [
        (AdamsBashforth(order=2), "keeps a history"),
        (TwoStepLeapfrog(), "only integrates a SecondOrderTerm"),
    ],
    ids=repr,
)
def test_startup_must_be_a_general_one_step_method(startup, why):
    with pytest.raises(
        ValueError,
        match=f"`startup` must be a one-step method for any first-order term.*{why}",
    ):
        AdamsBashforth(order=3, startup=startup)


def test_startup_order_too_low():
    with pytest.raises(ValueError, match="`startup` must have order >= order - 1 = 2"):
        AdamsBashforth(order=3, startup=Euler())
    AdamsBashforth(order=3, startup=Heun())  # order 2 >= 3 - 1 is fine


def test_max_stable_dt_rejects_bad_lam_max():
    with pytest.raises(
        ValueError, match="AdamsBashforth.max_stable_dt: `lam_max` must be a finite"
    ):
        AdamsBashforth(order=2).max_stable_dt(float("inf"))
    with pytest.raises(
        TypeError, match="AdamsBashforth.max_stable_dt: `lam_max` must be a real"
    ):
        AdamsBashforth(order=2).max_stable_dt("8.0")


def test_repr_and_equality():
    assert repr(AdamsBashforth(order=4)) == "AdamsBashforth(order=4, startup=RK4())"
    assert AdamsBashforth(order=3) == AdamsBashforth(order=3)
    assert issubclass(AdamsBashforth, AbstractMultistepSolver)
