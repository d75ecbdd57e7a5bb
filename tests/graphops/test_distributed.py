"""Distributed operators and solvers: 2 and 4 gloo processes vs one process.

Each launch (:func:`_dist_worker.launch`) starts the ranks once and runs every
case; the tests compare the gathered owned rows (and summed per-rank weight
gradients) with the single-process result, to 1e-10, in float64.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _dist_worker as W  # noqa: E402

from graphops import Adjacency, Divergence, Gradient, Laplacian  # noqa: E402
from graphops.distributed import (  # noqa: E402
    DistributedOperator,
    MultirateOperator,
    halo_exchange,
)
from graphops.linalg import CG  # noqa: E402
from graphops.partition import halo_plan, partition  # noqa: E402
from solvers import (  # noqa: E402
    RK4,
    Dopri5,
    Euler,
    ImplicitEuler,
    LinearTerm,
    ODETerm,
    PIController,
    solve,
)

from conftest import SHARED_DATA  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)
# process start-up costs seconds per launch: the launching tests are slow
SLOW = pytest.mark.slow


@pytest.fixture(
    scope="module",
    params=[pytest.param(2, marks=SLOW), pytest.param(4, marks=SLOW)],
    ids=["2ranks", "4ranks"],
)
def run(request, tmp_path_factory):
    world = request.param
    res = W.launch(world, tmp_path_factory.mktemp(f"dist{world}"))
    graph = W.build_graph("random")
    return graph, res


def _gather(res, key, dim=0, n=None):
    """The global tensor from every rank's owned rows (along ``dim``)."""
    parts = [r[key] for r in res]
    n = n if n is not None else sum(len(r["owned"]) for r in res)
    shape = list(parts[0].shape)
    shape[dim] = n
    out = parts[0].new_zeros(shape)
    for r, p in zip(res, parts, strict=True):
        out.index_copy_(dim, r["owned"], p)
    return out


def _own_gather(res, values):
    n = sum(len(r["owned"]) for r in res)
    out = values[0].new_zeros((n, *values[0].shape[1:]))
    for r, v in zip(res, values, strict=True):
        out[r["owned"]] = v
    return out


def test_partition_covers_every_node_once(run):
    graph, res = run
    owned = torch.cat([r["owned"] for r in res])
    assert sorted(owned.tolist()) == list(range(graph.num_nodes))


def test_halo_exchange_and_its_backward(run):
    graph, res = run
    x, c, _, _ = W.inputs(graph)
    dense = graph.to_dense() > 0
    assign = torch.empty(graph.num_nodes, dtype=torch.int64)
    for k, r in enumerate(res):
        assign[r["owned"]] = k
    for k, r in enumerate(res):
        plan_ghosts = halo_plan(graph, partition(graph, len(res), method="spectral"),
                                k).ghosts
        torch.testing.assert_close(r["halo"], x[plan_ghosts], rtol=0, atol=0)
    # d/dx_v of sum_q <ghosts_q, c>: c_v once per other part that has v as a ghost
    count = torch.zeros(graph.num_nodes)
    for v in range(graph.num_nodes):
        parts = set(assign[dense[v]].tolist()) - {int(assign[v])}
        count[v] = len(parts)
    want = c * count[:, None]
    got = _own_gather(res, [r["halo_grad"] for r in res])
    torch.testing.assert_close(got, want, rtol=0, atol=1e-14)


@pytest.mark.parametrize("family", ["Laplacian", "Adjacency"])
@pytest.mark.parametrize("norm", W.NORMS)
def test_matmul_and_transpose(run, family, norm):
    graph, res = run
    x, _, _, _ = W.inputs(graph)
    op = W.FAMILIES[family](graph, normalization=norm)
    key = f"{family}/{norm}"
    torch.testing.assert_close(
        _own_gather(res, [r[f"matmul/{key}"] for r in res]), op @ x, **TOL
    )
    torch.testing.assert_close(
        _own_gather(res, [r[f"T/{key}"] for r in res]), op.T @ x, **TOL
    )


@pytest.mark.parametrize("family", ["Laplacian", "Adjacency"])
@pytest.mark.parametrize("norm", W.NORMS)
@pytest.mark.parametrize("wname", ["M", "2M"])
def test_learned_weights_forward_and_backward(run, family, norm, wname):
    graph, res = run
    x, c, w, w2 = W.inputs(graph)
    wl = (w if wname == "M" else w2).clone().requires_grad_()
    xl = x.clone().requires_grad_()
    y = W.FAMILIES[family](graph, normalization=norm, edge_weight=wl) @ xl
    (y * c).sum().backward()
    got = [r[f"w{wname}/{family}/{norm}"] for r in res]
    torch.testing.assert_close(_own_gather(res, [g[0] for g in got]), y.detach(), **TOL)
    torch.testing.assert_close(_own_gather(res, [g[1] for g in got]), xl.grad, **TOL)
    # each rank holds a copy of its local edges' weights: their gradients add up
    torch.testing.assert_close(sum(g[2] for g in got), wl.grad, **TOL)


def test_rk4_solve_and_its_gradient(run):
    graph, res = run
    x, c, w, _ = W.inputs(graph)
    sol = solve(LinearTerm(Laplacian(graph, "sym")), RK4(), y0=x, t1=W.RK4_T1,
                dt0=W.RK4_DT, saveat=W.SAVEAT)
    assert res[0]["rk4"].shape[0] == sol.ys.shape[0] == 6
    torch.testing.assert_close(_gather(res, "rk4", dim=1), sol.ys, **TOL)
    wl = w.clone().requires_grad_()
    sol = solve(LinearTerm(Laplacian(graph, "sym", edge_weight=wl)), RK4(), y0=x,
                t1=W.RK4_T1, dt0=W.RK4_DT)
    (sol.ys[-1] * c).sum().backward()
    torch.testing.assert_close(sum(r["rk4_grad"] for r in res), wl.grad, **TOL)


def test_euler_with_an_ode_term(run):
    graph, res = run
    x, _, _, _ = W.inputs(graph)
    L = Laplacian(graph)
    sol = solve(ODETerm(lambda t, y, a: -(L @ y)), Euler(), y0=x, t1=0.2, dt0=0.02)
    torch.testing.assert_close(_gather(res, "euler_ode", dim=1), sol.ys, **TOL)


def test_implicit_euler_and_cg(run):
    graph, res = run
    x, c, _, _ = W.inputs(graph)
    L = Laplacian(graph)
    sol = solve(LinearTerm(L), ImplicitEuler(CG(rtol=1e-13)), y0=x, t1=W.IE_T1,
                dt0=W.IE_DT)
    torch.testing.assert_close(_gather(res, "implicit_euler", dim=1), sol.ys, **TOL)
    # CG against a dense solve of (I + L/2) X = C (independent of CG)
    a = torch.eye(graph.num_nodes) + 0.5 * L.to_dense()
    want = torch.linalg.solve(a, c)
    got = _own_gather(res, [r["cg"][0] for r in res])
    torch.testing.assert_close(got, want, **TOL)
    assert all(r["cg"][2] for r in res)
    assert len({r["cg"][1] for r in res}) == 1  # every rank took the same steps
    # the backward's adjoint solve: d<X, x>/dB = (I + L/2)^{-1} x
    torch.testing.assert_close(
        _own_gather(res, [r["cg_grad"] for r in res]), torch.linalg.solve(a, x), **TOL
    )


def test_weight_gradient_through_cg_and_implicit_euler(run):
    graph, res = run
    x, c, w, _ = W.inputs(graph)
    wl = w.clone().requires_grad_()
    L = Laplacian(graph, edge_weight=wl)
    cg = CG(rtol=1e-13).solve(L, c, shift=1.0, scale=0.5)
    sol = solve(LinearTerm(L), ImplicitEuler(CG(rtol=1e-13)), y0=x, t1=0.5, dt0=0.25)
    ((cg.x * x).sum() + (sol.ys[-1] * c).sum()).backward()
    torch.testing.assert_close(sum(r["implicit_grad"] for r in res), wl.grad, **TOL)


def test_multirate_against_a_dense_stale_halo_simulation(run):
    graph, res = run
    x, _, _, _ = W.inputs(graph)
    a = Laplacian(graph).to_dense()
    part = partition(graph, len(res), method="spectral")
    plans = [halo_plan(graph, part, r) for r in range(len(res))]

    def stale_rhs(every):
        # -A y where rank r sees its ghosts as of its last exchange (dense, global)
        state = {"n": 0, "ghosts": None}

        def f(t, y, args):
            if state["n"] % every == 0:
                state["ghosts"] = [y[p.ghosts] for p in plans]
            state["n"] += 1
            out = torch.empty_like(y)
            for p, g in zip(plans, state["ghosts"], strict=True):
                o, h = p.owned, p.ghosts
                out[o] = -(a[o][:, o] @ y[o] + a[o][:, h] @ g)
            return out

        return f, state

    for every in (1, 3):
        f, state = stale_rhs(every)
        want = solve(ODETerm(f), RK4(), y0=x, t1=0.5, dt0=0.05).ys[-1]
        got = _own_gather(res, [r[f"multirate/{every}"][0] for r in res])
        torch.testing.assert_close(got, want, **TOL)
        assert all(r[f"multirate/{every}"][1] == state["n"] == 40 for r in res)
    exact = solve(LinearTerm(Laplacian(graph)), RK4(), y0=x, t1=0.5, dt0=0.05)
    stale = _own_gather(res, [r["multirate/3"][0] for r in res])
    fresh = _own_gather(res, [r["multirate/1"][0] for r in res])
    torch.testing.assert_close(fresh, exact.ys[-1], **TOL)
    assert (stale - fresh).abs().max() > 1e-6  # staleness is visible


def test_one_training_step_of_a_gcn_model(run):
    graph, res = run
    model = W.gcn_model()
    xs, ys, mask = W.train_data(graph.num_nodes)
    loss, params = W.train_step(model, xs, ys, mask, graph, int(mask.sum()))
    for r in res:
        torch.testing.assert_close(r["train"][0], loss, **TOL)
        for got, want in zip(r["train"][1], params, strict=True):
            torch.testing.assert_close(got, want, **TOL)


def test_adaptive_dopri5_with_a_global_error_norm(run):
    graph, res = run
    x, _, _, _ = W.inputs(graph)
    ctrl = PIController(rtol=1e-6, atol=1e-9)
    sol = solve(LinearTerm(Laplacian(graph)), Dopri5(), y0=x, t1=1.0, controller=ctrl)
    # every rank took the single-process steps (same counts, same states)
    for r in res:
        assert r["dopri5"][1:] == (sol.stats.num_accepted, sol.stats.num_rejected)
    got = _own_gather(res, [r["dopri5"][0][-1] for r in res])
    torch.testing.assert_close(got, sol.ys[-1], **TOL)


def test_lam_max_is_global_and_the_same_on_every_rank(run):
    graph, res = run
    L = Laplacian(graph)
    top = float(np.linalg.eigvalsh(L.to_dense().numpy()).max())
    for meth in ("gershgorin", "power", "lanczos"):
        assert len({r[f"lam_max/{meth}"] for r in res}) == 1
    assert res[0]["lam_max/gershgorin"] == pytest.approx(
        float(L.to_dense().abs().sum(1).max()), rel=1e-14
    )
    assert res[0]["lam_max/lanczos"] == pytest.approx(top, rel=1e-9)
    # power iteration stops on a relative change below 1e-10: a looser estimate
    assert res[0]["lam_max/power"] == pytest.approx(top, rel=1e-7)
    rw = np.linalg.eigvals(Laplacian(graph, "rw").to_dense().numpy()).real.max()
    assert res[0]["lam_max/rw_power"] == pytest.approx(rw, rel=1e-3)


@SLOW
@pytest.mark.skipif(
    not (SHARED_DATA / "Planetoid").exists(),
    reason=f"Cora not found under {SHARED_DATA} (set GRAPHPDE_DATA)",
)
def test_cora_two_ranks(tmp_path):
    os.environ.setdefault("GRAPHPDE_DATA", str(SHARED_DATA))
    res = W.launch(2, tmp_path, graph="cora", case="cora")
    graph = W.build_graph("cora")
    x, c, w, _ = W.inputs(graph)
    for norm in ("sym", "gcn"):
        L = Laplacian(graph, normalization=norm)
        torch.testing.assert_close(
            _own_gather(res, [r[f"matmul/Laplacian/{norm}"] for r in res]), L @ x, **TOL
        )
        wl, xl = w.clone().requires_grad_(), x.clone().requires_grad_()
        y = Laplacian(graph, normalization=norm, edge_weight=wl) @ xl
        (y * c).sum().backward()
        got = [r[f"wM/Laplacian/{norm}"] for r in res]
        torch.testing.assert_close(_own_gather(res, [g[0] for g in got]), y.detach(),
                                   **TOL)
        torch.testing.assert_close(_own_gather(res, [g[1] for g in got]), xl.grad,
                                   **TOL)
        torch.testing.assert_close(sum(g[2] for g in got), wl.grad, **TOL)
    sol = solve(LinearTerm(Laplacian(graph, "sym")), RK4(), y0=x, t1=W.RK4_T1,
                dt0=W.RK4_DT, saveat=W.SAVEAT)
    torch.testing.assert_close(_gather(res, "rk4", dim=1), sol.ys, **TOL)


@SLOW
def test_a_failing_rank_is_reported_and_nothing_hangs(tmp_path):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="rank 1 failed") as info:
        W.launch(2, tmp_path, case="fail", timeout=20.0, deadline=120.0)
    assert "injected failure on rank 1" in str(info.value)
    # rank 0 fails too (its peer is gone): an error, not a hang
    assert "rank 0 failed" in str(info.value)
    assert time.monotonic() - start < 120.0


# ---------------------------------------------------------------------------------
# in one process: a one-rank group, argument checks
# ---------------------------------------------------------------------------------
@pytest.fixture
def one_rank(tmp_path):
    with W.one_rank_group(tmp_path):
        yield


def test_not_initialised():
    g = W.build_graph("random")
    plan = halo_plan(g, partition(g, 1), 0)
    with pytest.raises(RuntimeError, match="torch.distributed is not initialised"):
        DistributedOperator(plan)
    with pytest.raises(RuntimeError, match="not initialised"):
        halo_exchange(torch.zeros(plan.num_owned, 1), plan)


pytestmark_fast = pytest.mark.usefixtures("one_rank")


@pytestmark_fast
def test_one_rank_equals_the_operator():
    g = W.build_graph("random")
    x, _, w, _ = W.inputs(g)
    plan = halo_plan(g, partition(g, 1), 0)
    for norm in W.NORMS:
        op = DistributedOperator(plan, Laplacian, normalization=norm,
                                 edge_weight=plan.local_edge_weight(w))
        torch.testing.assert_close(op @ x, Laplacian(g, norm, edge_weight=w) @ x,
                                   **TOL)
        assert op.shape == (60, 60) and op.is_symmetric == (norm != "rw")
        torch.testing.assert_close(
            op.diagonal(), Laplacian(g, norm, edge_weight=w).diagonal(), **TOL
        )
    op = DistributedOperator(plan, Adjacency, "sym")
    assert "rank=0, parts=1, owned=60, ghosts=0" in repr(op)
    torch.testing.assert_close(op.to_dense(), Adjacency(g, "sym").to_dense(), **TOL)
    assert op.to_scipy().shape == (60, 60)
    assert halo_exchange(x, plan).shape == (0, 3)


@pytestmark_fast
def test_bad_inputs():
    g = W.build_graph("random")
    plan = halo_plan(g, partition(g, 1), 0)
    with pytest.raises(TypeError, match="`plan` must be a RankPlan"):
        DistributedOperator("plan")
    with pytest.raises(TypeError, match="halo_exchange: `plan` must be a RankPlan"):
        halo_exchange(torch.zeros(3, 1), None)
    with pytest.raises(TypeError, match="halo_exchange: `x` must be a floating"):
        halo_exchange(torch.zeros(60, 1, dtype=torch.int64), plan)
    with pytest.raises(ValueError, match=r"`x` must have shape \[n_own, F\]=\[60, F\]"):
        halo_exchange(torch.zeros(59, 1), plan)
    two = halo_plan(g, partition(g, 2), 1)
    with pytest.raises(ValueError, match="the plan must be this process's"):
        DistributedOperator(two)
    with pytest.raises(ValueError, match=r"`edge_weight` must have shape \[M_local\]"):
        DistributedOperator(plan, edge_weight=torch.ones(3))
    with pytest.raises(TypeError, match="`edge_weight` must be a floating tensor"):
        DistributedOperator(plan, edge_weight=torch.ones(g.num_edges).long())
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        DistributedOperator(plan, edge_weight=-torch.ones(g.num_edges))
    with pytest.raises(ValueError, match="must build a node -> node operator"):
        DistributedOperator(plan, Gradient)
    with pytest.raises(TypeError, match="must build a GraphOperator on a sparsity"):
        DistributedOperator(plan, lambda graph, **kw: "not an operator")
    op = DistributedOperator(plan)
    with pytest.raises(ValueError, match=r"expected this rank's block of shape"):
        op @ torch.zeros(59, 1)
    with pytest.raises(TypeError, match="must be float32 or float64"):
        op @ torch.zeros(60, 1, dtype=torch.int64)
    with pytest.raises(TypeError, match="MultirateOperator: `op` must be a Distrib"):
        MultirateOperator(Laplacian(g), 2)
    with pytest.raises(ValueError, match="every"):
        op.multirate(0)
    mr = op.multirate(2)
    mr @ torch.zeros(60, 2)
    with pytest.raises(ValueError, match="must keep the width F=2"):
        mr @ torch.zeros(60, 3)
    mr.reset()
    assert (mr @ torch.ones(60, 3)).shape == (60, 3) and mr.count == 1
    assert "every=2" in repr(mr) and mr.shape == (60, 60)


def test_pi_controller_reduce_identity_is_the_plain_controller():
    g = W.build_graph("random")
    x, _, _, _ = W.inputs(g)
    term = LinearTerm(Laplacian(g))
    plain = solve(term, Dopri5(), y0=x, t1=1.0,
                  controller=PIController(rtol=1e-6, atol=1e-9))
    same = solve(term, Dopri5(), y0=x, t1=1.0,
                 controller=PIController(rtol=1e-6, atol=1e-9, reduce=lambda t: t))
    assert same.stats.num_accepted == plain.stats.num_accepted
    torch.testing.assert_close(same.ys, plain.ys, rtol=0, atol=1e-14)
    assert repr(PIController(rtol=1e-6, atol=1e-9, reduce=lambda t: t)) == (
        "PIController(rtol=1e-06, atol=1e-09)"
    )
    with pytest.raises(TypeError, match="PIController: `reduce` must be a callable"):
        PIController(rtol=1e-6, atol=1e-9, reduce=3)


@pytestmark_fast
def test_plan_and_operator_move_with_to():
    g = W.build_graph("random")
    x, _, _, _ = W.inputs(g)
    plan = halo_plan(g, partition(g, 1), 0)
    op = DistributedOperator(plan, Laplacian, normalization="sym")
    op @ x  # fills the plan's and the operator's caches
    plan32 = plan.to(torch.float32)
    assert plan32.global_degree.dtype == torch.float32
    assert plan32.owned.dtype == torch.int64
    assert plan32.local_graph.dtype == torch.float32
    assert plan.global_degree.dtype == torch.float64  # the original is unchanged
    ref = Laplacian(g.to(torch.float32), "sym") @ x.float()
    built = DistributedOperator(plan32, Laplacian, normalization="sym")
    assert built._blocks is plan32._cache[("blocks", id(built.local.pattern))][1]
    moved = op.to(torch.float32)
    assert moved.dtype == torch.float32
    assert moved.plan.global_degree.dtype == torch.float32
    for o in (built, moved):
        torch.testing.assert_close(o @ x.float(), ref, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------
# edge-space operators: gradient and divergence on the partitioned graph
# ---------------------------------------------------------------------------------
@pytest.fixture(
    scope="module",
    params=[pytest.param(2, marks=SLOW), pytest.param(4, marks=SLOW)],
    ids=["2ranks", "4ranks"],
)
def edge_run(request, tmp_path_factory):
    world = request.param
    res = W.launch(world, tmp_path_factory.mktemp(f"edge{world}"), case="edge")
    return W.build_graph("random"), res


def _edge_reference(graph):
    """Single-process values and gradients (the plain operators, autograd)."""
    x, c, w, _ = W.inputs(graph)
    kmat = W.edge_k(x.shape[1])
    ref = {"grad": Gradient(graph) @ x}
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    flux = torch.nn.functional.softplus((Gradient(graph) @ xg) @ kmat)
    y = Divergence(graph, wg) @ flux
    (y * c).sum().backward()
    ref["div_softplus"] = (y.detach(), xg.grad, wg.grad)
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    kg = (w.flip(0) + 0.5).clone().requires_grad_()
    y = Divergence(graph, wg) @ (kg.unsqueeze(1) * (Gradient(graph) @ xg))
    (y * c).sum().backward()
    ref["div_k"] = (y.detach(), xg.grad, wg.grad, kg.grad)
    return x, ref


def test_edge_gradient_is_the_global_one_at_every_local_edge(edge_run):
    graph, res = edge_run
    _, ref = _edge_reference(graph)
    for r in res:  # cut edges appear on two ranks, both equal to the global value
        torch.testing.assert_close(r["edge/grad"], ref["grad"][r["edge_ids"]], **TOL)
    held = torch.cat([r["edge_ids"] for r in res]).unique()
    assert held.numel() == graph.num_edges


@pytest.mark.parametrize("case", ["div_softplus", "div_k"])
def test_divergence_of_a_gradient_forward_and_backward(edge_run, case):
    graph, res = edge_run
    _, ref = _edge_reference(graph)
    y_ref, gx_ref, *gw_ref = ref[case]
    y = _own_gather(res, [r[f"edge/{case}"][0] for r in res])
    gx = _own_gather(res, [r[f"edge/{case}"][1] for r in res])
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(gx, gx_ref, **TOL)
    # gradients w.r.t. global [M] weights: the per-rank ones sum to the single one
    for k, g_ref in enumerate(gw_ref):
        summed = sum(r[f"edge/{case}"][2 + k] for r in res)
        torch.testing.assert_close(summed, g_ref, **TOL)


def test_edge_adjoints_and_a_global_edge_sum(edge_run):
    graph, res = edge_run
    x, ref = _edge_reference(graph)
    w = W.inputs(graph)[2]
    # Gradient.adjoint() = -Div (graph weights); Div_w.adjoint() = -Grad
    want = Gradient(graph).adjoint() @ (Gradient(graph) @ x)
    torch.testing.assert_close(
        _own_gather(res, [r["edge/adjoint"] for r in res]), want, **TOL
    )
    assert want.abs().max() > 0.1
    torch.testing.assert_close(
        torch.cat([r["edge/div_adjoint"] for r in res]),
        torch.cat([(Divergence(graph, w).adjoint() @ x)[r["edge_ids"]]
                   for r in res]),
        **TOL,
    )
    assert sum(r["edge/count"] for r in res) == graph.num_edges
    torch.testing.assert_close(
        sum(r["edge/sum"] for r in res), (ref["grad"] ** 2).sum(), **TOL
    )


@pytest.mark.parametrize("case", sorted(W.PDE_GCN_CASES))
def test_pde_gcn_model_forward_and_parameter_gradients(edge_run, case):
    graph, res = edge_run
    xs, _, _ = W.train_data(graph.num_nodes)
    cot = torch.randn(graph.num_nodes, 3, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(13))
    model = W.pde_gcn_model(**W.PDE_GCN_CASES[case])
    y = model(xs, graph)
    (y * cot).sum().backward()
    got = _own_gather(res, [r[f"pde/{case}"][0] for r in res])
    torch.testing.assert_close(got, y.detach(), **TOL)
    grads = res[0][f"pde/{case}"][1]  # all-reduced: the same on every rank
    for p, g in zip(model.parameters(), grads, strict=True):
        assert p.grad.abs().max() > 0
        torch.testing.assert_close(g, p.grad, **TOL)


@pytestmark_fast
def test_edge_operators_on_one_rank_and_bad_inputs():
    from graphops.distributed import DistributedDivergence, DistributedGradient

    g = W.build_graph("random")
    x, _, w, _ = W.inputs(g)
    plan = halo_plan(g, partition(g, 1), 0)
    grad = DistributedGradient(plan, plan.local_edge_weight(w))
    div = DistributedDivergence(plan, plan.local_edge_weight(w))
    torch.testing.assert_close(grad.to_dense(), Gradient(g).to_dense(), **TOL)
    torch.testing.assert_close(div.to_dense(), Divergence(g, w).to_dense(), **TOL)
    assert div.to_scipy().shape == div.shape == (60, g.num_edges)
    assert grad.shape == (g.num_edges, 60) and not grad.is_symmetric
    assert "DistributedGradient(rank=0, parts=1, owned=60" in repr(grad)
    torch.testing.assert_close(
        (-grad.adjoint()).to_dense(), Divergence(g, w).to_dense(), **TOL
    )
    with pytest.raises(TypeError, match="DistributedGradient: `plan` must be a Rank"):
        DistributedGradient("plan")
    two = halo_plan(g, partition(g, 2), 1)
    with pytest.raises(ValueError, match="the plan must be this process's"):
        DistributedDivergence(two)
    with pytest.raises(ValueError, match=r"`edge_weight` must have shape \[M_local\]"):
        DistributedDivergence(plan, torch.ones(3))
    with pytest.raises(TypeError, match="`edge_weight` must be a floating tensor"):
        DistributedGradient(plan, torch.ones(g.num_edges).long())
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        DistributedDivergence(plan, -torch.ones(g.num_edges))
    with pytest.raises(ValueError, match=r"expected this rank's block of shape"):
        grad @ torch.zeros(59, 1)
    with pytest.raises(ValueError, match=r"expected local edge rows of shape"):
        div @ torch.zeros(59, 1)
    with pytest.raises(TypeError, match="must be float32 or float64"):
        div @ torch.zeros(g.num_edges, 1, dtype=torch.int64)
