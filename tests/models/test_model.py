"""The models core: GraphPDEModel, TimeIndexed and jumps, trajectories, reports."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from graphops import Laplacian, dirichlet_energy, mean_average_distance
from models import (
    GraphPDEModel,
    GraphTerm,
    StabilityReport,
    TimeIndexed,
    check_equivariance,
    permute_graph,
)
from models import gcn as gcn_family
from solvers import (
    RK4,
    ConstantStep,
    Dopri5,
    Euler,
    LinearTerm,
    ODETerm,
    PIController,
    SaveAt,
    TermSolverMismatch,
    solve,
)

from conftest import make_grid_graph, make_random_graph


class PiecewiseDrift(GraphTerm):
    """y' = c(t) with c piecewise constant in time: the exact solution is known."""

    def __init__(self, values, h):
        super().__init__()
        self.c = TimeIndexed(
            torch.tensor(values).reshape(-1, 1, 1), h=h, requires_grad=False
        )
        self.times = []

    def forward(self, t, y, args=None):
        self.times.append(float(t))
        return self.c(t).expand_as(y)


def _exact_drift(values, h, t):
    """Integral of the piecewise-constant c from 0 to t (last value beyond K h)."""
    total, k = 0.0, 0
    while t > 0:
        span = h if k < len(values) - 1 else t
        total += values[min(k, len(values) - 1)] * min(span, t)
        t -= span
        k += 1
    return total


# -- TimeIndexed ----------------------------------------------------------------------
def test_time_indexed_piecewise_constant_and_linear():
    w = TimeIndexed(torch.tensor([[1.0], [2.0], [4.0]]), h=0.5, requires_grad=False)
    assert [float(w(t)) for t in (0.0, 0.49, 0.5, 0.99, 1.0, 7.0)] == [
        1.0,
        1.0,
        2.0,
        2.0,
        4.0,
        4.0,
    ]
    assert w.jump_times(0.0, 2.0) == [0.5, 1.0]
    assert w.jump_times(0.6, 2.0) == [1.0]
    lin = TimeIndexed(
        torch.tensor([[1.0], [2.0], [4.0]]),
        h=0.5,
        interpolation="linear",
        requires_grad=False,
    )
    assert [float(lin(t)) for t in (-1.0, 0.25, 0.75, 1.0, 3.0)] == [
        1.0,
        1.5,
        3.0,
        4.0,
        4.0,
    ]
    assert lin.jump_times(0.0, 2.0) == []


def test_time_indexed_reads_the_left_piece_one_ulp_before_a_jump():
    w = TimeIndexed(torch.tensor([[1.0], [2.0]]), h=0.1, requires_grad=False)
    jump = w.jump_times(0.0, 1.0)[0]
    assert float(w(math.nextafter(jump, -math.inf))) == 1.0
    assert float(w(jump)) == 2.0


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(values=[1.0], h=1.0), TypeError, "`values` must be a tensor"),
        (dict(values=torch.tensor(1.0), h=1.0), ValueError, "leading layer dim"),
        (dict(values=torch.ones(2), h=0.0), ValueError, "`h` must be a finite"),
        (
            dict(values=torch.ones(2), h=1.0, interpolation="cubic"),
            ValueError,
            "`interpolation` must be one of",
        ),
    ],
)
def test_time_indexed_bad_input(kwargs, exc, match):
    values = kwargs.pop("values")
    with pytest.raises(exc, match=match):
        TimeIndexed(values, **kwargs)


# -- jumps: solve lands on them, and no stage straddles one ---------------------------
@pytest.mark.parametrize("solver", [Euler(), RK4()], ids=repr)
def test_fixed_steps_read_one_piece_per_step(solver):
    values, h = [1.0, -2.0, 3.0, 0.5], 0.25
    term = PiecewiseDrift(values, h)
    y0 = torch.zeros(1, 1)
    # dt0 = 0.2 is no divisor of h: the grid is split at every jump.
    sol = solve(term, solver, y0=y0, t1=1.0, dt0=0.2)
    assert float(sol.ys[-1]) == pytest.approx(_exact_drift(values, h, 1.0), abs=1e-14)


def test_adaptive_solver_never_steps_over_a_jump():
    values, h = [1.0, -20.0, 3.0, 0.5], 0.25
    term = PiecewiseDrift(values, h)
    sol = solve(
        term,
        Dopri5(),
        y0=torch.zeros(1, 1),
        t1=1.0,
        controller=PIController(rtol=1e-10, atol=1e-12),
        saveat=SaveAt(steps=True),
    )
    assert float(sol.ys[-1]) == pytest.approx(_exact_drift(values, h, 1.0), abs=1e-12)
    # every jump is a step end, and no step is rejected (no stage saw two pieces)
    assert {0.25, 0.5, 0.75} <= set(sol.ts.tolist())
    assert sol.stats.num_rejected == 0


def test_without_landing_an_adaptive_step_would_straddle_the_jump():
    # The same drift written without declaring its jumps: Dopri5 happily takes
    # steps across them (the reason terms declare jump_times).
    values, h = [1.0, -20.0, 3.0, 0.5], 0.25
    inner = PiecewiseDrift(values, h)
    hidden = ODETerm(lambda t, y, args: inner(t, y))
    sol = solve(
        hidden,
        Dopri5(),
        y0=torch.zeros(1, 1),
        t1=1.0,
        controller=PIController(rtol=1e-10, atol=1e-12),
        saveat=SaveAt(steps=True),
    )
    assert not {0.25, 0.5, 0.75} <= set(sol.ts.tolist())


def test_bad_jump_times_raise():
    class Bad(PiecewiseDrift):
        def jump_times(self, t0, t1):
            return [float("nan")]

    with pytest.raises(ValueError, match="jump_times must be finite"):
        solve(Bad([1.0], 1.0), Euler(), y0=torch.zeros(1, 1), t1=1.0, dt0=0.1)

    class Wrong(PiecewiseDrift):
        def jump_times(self, t0, t1):
            return ["soon"]

    with pytest.raises(TypeError, match="jump_times must return real numbers"):
        solve(Wrong([1.0], 1.0), Euler(), y0=torch.zeros(1, 1), t1=1.0, dt0=0.1)


# -- SaveAt ------------------------------------------------------------------------
def test_saveat_fn_records_a_function_of_every_step(grid_graph):
    L = Laplacian(grid_graph)
    y0 = torch.randn(grid_graph.num_nodes, 3)
    term = LinearTerm(L)
    energy = SaveAt(steps=True, fn=lambda t, y, args: (y * (L @ y)).sum())
    sol = solve(term, Euler(), y0=y0, t1=1.0, dt0=0.25, saveat=energy)
    full = solve(term, Euler(), y0=y0, t1=1.0, dt0=0.25, saveat=torch.linspace(0, 1, 5))
    assert sol.ts.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    expected = torch.stack([(y * (L @ y)).sum() for y in full.ys])
    torch.testing.assert_close(sol.ys, expected, rtol=1e-14, atol=1e-14)


def test_saveat_fn_with_output_times_and_tuple_values(grid_graph):
    term = LinearTerm(Laplacian(grid_graph))
    y0 = torch.randn(grid_graph.num_nodes, 2)
    rec = SaveAt(ts=torch.tensor([0.5, 1.0]), fn=lambda t, y, a: (y.sum(), y.norm()))
    sol = solve(term, RK4(), y0=y0, t1=1.0, dt0=0.1, saveat=rec)
    ref = solve(term, RK4(), y0=y0, t1=1.0, dt0=0.1, saveat=torch.tensor([0.5, 1.0]))
    sums, norms = sol.ys
    torch.testing.assert_close(sums, ref.ys.sum(dim=(1, 2)))
    torch.testing.assert_close(norms, ref.ys.flatten(1).norm(dim=1))


def test_saveat_fn_gradients_flow(grid_graph):
    w = torch.ones(grid_graph.num_edges, requires_grad=True)
    term = LinearTerm(Laplacian(grid_graph, edge_weight=w))
    y0 = torch.randn(grid_graph.num_nodes, 2)
    sol = solve(
        term,
        Euler(),
        y0=y0,
        t1=0.5,
        dt0=0.1,
        saveat=SaveAt(steps=True, fn=lambda t, y, a: y.square().sum()),
    )
    sol.ys.sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(steps=1), TypeError, "`steps` must be a bool"),
        (dict(fn=3), TypeError, "`fn` must be a callable"),
        (dict(ts=[0.5]), TypeError, "`ts` must be a 1-D floating tensor"),
        (
            dict(ts=torch.tensor([0.5]), steps=True),
            ValueError,
            "pass either `ts` or `steps=True`",
        ),
    ],
)
def test_saveat_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        SaveAt(**kwargs)


def test_saveat_steps_refused_where_it_cannot_work(grid_graph):
    from solvers import TorchDiffEq, TorchDiffEqAdjoint

    term = LinearTerm(Laplacian(grid_graph))
    y0 = torch.randn(grid_graph.num_nodes, 2)
    with pytest.raises(ValueError, match=r"SaveAt\(steps=True\) needs the package"):
        solve(
            term, TorchDiffEq("rk4"), y0=y0, t1=1.0, dt0=0.1, saveat=SaveAt(steps=True)
        )
    with pytest.raises(ValueError, match="with the continuous adjoint"):
        solve(
            term,
            RK4(),
            y0=y0,
            t1=1.0,
            dt0=0.1,
            saveat=SaveAt(steps=True),
            adjoint=TorchDiffEqAdjoint(rtol=1e-6, atol=1e-8),
        )


# -- GraphPDEModel -----------------------------------------------------------------
def _heat_model(solver=None, dt0=0.25):
    term = LinearTerm(lambda t, y, g: Laplacian(g, "sym"))
    return GraphPDEModel(
        nn.Linear(3, 4),
        term,
        nn.Linear(4, 2),
        solver=Euler() if solver is None else solver,
        t1=1.0,
        dt0=dt0,
    )


def test_model_forward_equals_hand_written_pipeline(random_graph):
    model = _heat_model(RK4())
    x = torch.randn(random_graph.num_nodes, 3)
    y0 = model.encoder(x)
    sol = solve(
        LinearTerm(Laplacian(random_graph, "sym")), RK4(), y0=y0, t1=1.0, dt0=0.25
    )
    torch.testing.assert_close(model(x, random_graph), model.decoder(sol.ys[-1]))
    assert model.depth == 4
    assert model.last_stats.num_steps == 4
    assert "solver=RK4()" in repr(model) and "depth=4" in repr(model)


def test_solver_swap_is_an_assignment_and_is_validated(random_graph):
    model = _heat_model()
    x = torch.randn(random_graph.num_nodes, 3)
    model.solver, model.controller = Dopri5(), PIController(rtol=1e-8, atol=1e-10)
    assert model.depth is None
    out = model(x, random_graph)
    model.solver, model.controller = RK4(), ConstantStep()
    model.dt0 = 0.01
    torch.testing.assert_close(model(x, random_graph), out, rtol=1e-6, atol=1e-8)
    with pytest.raises(TypeError, match="`solver` must be a solver value"):
        model.solver = "rk4"
    with pytest.raises(TypeError, match="`controller` must be a controller value"):
        model.controller = RK4()


def test_incompatible_solver_names_the_alternatives(random_graph):
    from solvers import Leapfrog

    model = _heat_model(Leapfrog())
    with pytest.raises(TermSolverMismatch, match="use one of: .*RK4"):
        model(torch.randn(random_graph.num_nodes, 3), random_graph)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(term=nn.Linear(2, 2)), TypeError, "`term` must be a solvers.Term"),
        (dict(encoder=3), TypeError, "`encoder` must be an nn.Module"),
        (dict(t1=0.0), ValueError, "`t1` must be greater than `t0`"),
        (dict(dt0=-1.0), ValueError, "`dt0` must be a finite real number"),
        (dict(solver="euler"), TypeError, "`solver` must be a solver value"),
    ],
)
def test_model_bad_input(kwargs, exc, match):
    args = dict(
        encoder=nn.Identity(),
        term=LinearTerm(lambda t, y, g: Laplacian(g)),
        decoder=nn.Identity(),
        solver=Euler(),
        t1=1.0,
        dt0=0.5,
    )
    args.update(kwargs)
    encoder, term, decoder = args.pop("encoder"), args.pop("term"), args.pop("decoder")
    with pytest.raises(exc, match=match):
        GraphPDEModel(encoder, term, decoder, **args)


def test_check_equivariance_detects_a_model_that_is_not():
    graph = make_random_graph(12, 0.3)
    x = torch.randn(12, 3)
    fixed = LinearTerm(Laplacian(graph))  # ignores the graph it is called with
    model = GraphPDEModel(
        nn.Linear(3, 3), fixed, nn.Identity(), solver=Euler(), t1=1.0, dt0=0.5
    )
    assert check_equivariance(model, graph, x) > 1e-3
    with pytest.raises(ValueError, match="`x` must have one row per node"):
        check_equivariance(model, graph, x[:5])


def test_permute_graph_relabels_nodes():
    graph = make_random_graph(9, 0.4)
    perm = torch.randperm(9)
    dense = graph.to_dense()
    torch.testing.assert_close(
        permute_graph(graph, perm).to_dense(), dense[perm][:, perm]
    )


def test_permute_graph_keeps_the_dtype_of_an_unweighted_graph():
    graph = make_grid_graph(3, 3).to(dtype=torch.float32)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert permute_graph(graph, torch.randperm(9)).dtype == torch.float32
    finally:
        torch.set_default_dtype(old)


def test_trajectory_records_energy_and_mad_per_layer(grid_graph):
    model = gcn_family.from_config(3, 2, hidden=6, layers=4).eval()
    x = torch.randn(grid_graph.num_nodes, 3)
    energy = model.trajectory(x, grid_graph)
    mad = model.trajectory(x, grid_graph, fn="mad")
    assert energy.ts.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    # reference: the states, stored, then measured
    y0, args = model.initial_state(x, grid_graph)
    states = solve(
        model.term,
        model.solver,
        y0=y0,
        t1=model.t1,
        dt0=model.dt0,
        args=args,
        saveat=torch.arange(0.0, 5.0),
    ).ys
    torch.testing.assert_close(
        energy.ys, torch.stack([dirichlet_energy(h, grid_graph) for h in states])
    )
    torch.testing.assert_close(
        mad.ys, torch.stack([mean_average_distance(h) for h in states])
    )
    with pytest.raises(ValueError, match="`fn` must be one of"):
        model.trajectory(x, grid_graph, fn="entropy")


@pytest.mark.parametrize(
    ("dt0", "steps", "dt"), [(1.0, 3, 1.0), (2.0, 3, 1.0), (0.4, 9, 1.0 / 3)]
)
def test_depth_and_step_count_the_grid_solve_runs(dt0, steps, dt):
    # GCN with 3 layers of width h = 1: the solve lands on every layer boundary,
    # so a step of 2 still takes one step per layer and 0.4 takes 3 per layer.
    graph = make_grid_graph(3, 3)
    model = gcn_family.from_config(3, 2, hidden=4, layers=3).eval()
    model.dt0 = dt0
    x = torch.randn(graph.num_nodes, 3)
    with torch.no_grad():
        model(x, graph)
    assert model.last_stats.num_steps == steps  # what solve() actually ran
    assert model.depth == steps
    assert model.last_stats.dt == pytest.approx(dt)
    assert model.stability_report(x, graph).dt == pytest.approx(dt)


def test_stability_report_matches_a_dense_jacobian():
    graph = make_grid_graph(3, 3)
    model = gcn_family.from_config(3, 2, hidden=4, layers=3).eval()
    x = torch.randn(graph.num_nodes, 3)
    report = model.stability_report(x, graph)
    assert isinstance(report, StabilityReport)
    assert report.rows[0].solver == repr(model.solver) and report.dt == 1.0
    # reference: the dense Jacobian of the RHS at the encoded state, its eigenvalue
    # of largest modulus, and Euler's disc |1 + dt mu| <= 1 along that ray
    y0, args = model.initial_state(x, graph)
    y0 = y0.detach()

    def rhs(flat):
        return model.term(model.t0, flat.reshape(y0.shape), args).reshape(-1)

    jac = torch.autograd.functional.jacobian(rhs, y0.reshape(-1))
    evals = torch.linalg.eigvals(jac)
    mu = complex(evals[evals.abs().argmax()])
    assert abs(abs(report.lam) - abs(mu)) < 1e-4 * abs(mu)
    euler = next(r for r in report.rows if r.solver == "Euler()")
    assert euler.dt_max == pytest.approx(-2 * mu.real / abs(mu) ** 2, rel=1e-4)
    assert euler.inside == (1.0 <= euler.dt_max)
    assert "dt_max" in str(report)


def test_stability_report_of_a_linear_term_uses_its_operator(grid_graph):
    model = _heat_model(RK4(), dt0=0.25)
    x = torch.randn(grid_graph.num_nodes, 3)
    report = model.stability_report(x, grid_graph)
    lam = float(torch.linalg.eigvalsh(Laplacian(grid_graph, "sym").to_dense())[-1])
    assert report.lam is None and report.inside is True
    rk4 = report.rows[0]
    assert rk4.dt_max == pytest.approx(RK4().max_stable_dt(lam), rel=1e-6)
    implicit = next(r for r in report.rows if r.solver.startswith("ImplicitEuler"))
    assert implicit.dt_max is None and implicit.inside is True
