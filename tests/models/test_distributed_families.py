"""GRAFF, NSD and PDE-GCN with edge features on a partitioned graph vs one process.

Each launch starts 2 or 4 gloo ranks of ``_dist_family_worker.py`` (through
``tests/graphops/_dist_worker.launch``) that run every case on their block; the
tests compare the gathered owned rows, the gradients summed over the ranks and
the parameters after one full-graph SGD step with one process, to 1e-10 in
float64 (dropout 0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "graphops")]

import _dist_family_worker as FW  # noqa: E402
import _dist_worker as W  # noqa: E402

from graphops.partition import halo_plan, partition  # noqa: E402
from graphops.sheaf import SheafLaplacian  # noqa: E402
from models import DistributedGraph, check_distributable  # noqa: E402
from models.experiments.registry import MODELS  # noqa: E402

from conftest import SHARED_DATA  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)
SLOW = pytest.mark.slow
WORKER = str(HERE / "_dist_family_worker.py")


def _launch(world: int, tmp: Path, graph: str = "random") -> list[dict]:
    return W.launch(world, tmp, graph=graph, script=WORKER)


@pytest.fixture(
    scope="module",
    params=[pytest.param(2, marks=SLOW), pytest.param(4, marks=SLOW)],
    ids=["2ranks", "4ranks"],
)
def fam_run(request, tmp_path_factory):
    world = request.param
    return "random", _launch(world, tmp_path_factory.mktemp(f"fam{world}"))


#: the real datasets and the folder each needs under GRAPHPDE_DATA
DATASETS = {"texas": "geom-gcn", "cora": "Planetoid"}


@pytest.fixture(scope="module", params=[pytest.param(k, marks=SLOW) for k in DATASETS])
def data_run(request, tmp_path_factory):
    name = request.param
    if not (SHARED_DATA / DATASETS[name]).exists():
        pytest.skip(f"{name} not found under {SHARED_DATA} (set GRAPHPDE_DATA)")
    return name, _launch(2, tmp_path_factory.mktemp(f"fam-{name}"), graph=name)


def _gather(res: list[dict], get, rows: int) -> torch.Tensor:
    """The global ``[N * rows, ...]`` tensor from every rank's owned node rows."""
    parts = [get(r) for r in res]
    n = sum(len(r["owned"]) for r in res)
    out = parts[0].new_zeros((n, rows, *parts[0].shape[1:]))
    for r, p in zip(res, parts, strict=True):
        out[r["owned"]] = p.reshape(len(r["owned"]), rows, *p.shape[1:])
    return out.reshape(n * rows, *parts[0].shape[1:])


def _check_case(graph_name: str, res: list[dict], name: str) -> None:
    graph, x, y, mask, cot, ea, ea2 = FW.problem(graph_name)
    model = FW.build_model(name, x.shape[1], cot.shape[1])
    attr = FW.edge_attr_of(name, ea, ea2)
    ref = FW.run_case(
        model,
        x,
        y,
        mask,
        cot,
        graph if attr is None else (graph, attr),
        int(mask.sum()),
    )
    # forward: the owned rows of the single-process output
    torch.testing.assert_close(_gather(res, lambda r: r[name]["y"], 1), ref["y"], **TOL)
    # gradients summed over the ranks (all-reduced: the same on every rank)
    for r in res:
        for g, g_ref in zip(r[name]["grads"], ref["grads"], strict=True):
            if g_ref is None:
                assert g is None
                continue
            torch.testing.assert_close(g, g_ref, **TOL)
    trained = [g for g in ref["grads"] if g is not None]
    assert trained and all(g.abs().max() > 0 for g in trained)
    # one training step: the same loss and the same updated parameters
    torch.testing.assert_close(res[0][name]["loss"], ref["loss"], **TOL)
    for p, p_ref in zip(res[0][name]["params"], ref["params"], strict=True):
        torch.testing.assert_close(p, p_ref, **TOL)


@pytest.mark.parametrize("name", sorted(FW.CASES))
def test_model_forward_gradients_and_one_step(fam_run, name):
    _check_case(*fam_run, name)


@pytest.mark.parametrize("name", FW.DATA_CASES)
def test_model_on_a_real_dataset(data_run, name):
    _check_case(*data_run, name)


def _check_operator(graph_name: str, res: list[dict]) -> None:
    graph = FW.problem(graph_name)[0]
    for key in FW.OPERATOR_CASES:
        kind, opts, maps, omega, x, cot = FW.sheaf_inputs(graph, key)
        maps, omega = maps.requires_grad_(), omega.requires_grad_()
        x = x.requires_grad_()
        y = SheafLaplacian(graph, maps, kind, edge_weight=omega, **opts) @ x
        (y * cot).sum().backward()
        dp = x.shape[0] // graph.num_nodes
        got_y = _gather(res, lambda r, k=key: r["operator"][k][0], dp)
        got_x = _gather(res, lambda r, k=key: r["operator"][k][1], dp)
        torch.testing.assert_close(got_y, y.detach(), **TOL)
        torch.testing.assert_close(got_x, x.grad, **TOL)
        # gradients w.r.t. the global maps and weights: summed over the ranks
        summed_maps = sum(r["operator"][key][2] for r in res)
        summed_w = sum(r["operator"][key][3] for r in res)
        torch.testing.assert_close(summed_maps, maps.grad, **TOL)
        torch.testing.assert_close(summed_w, omega.grad, **TOL)


def test_sheaf_laplacian_operator_forward_and_backward(fam_run):
    _check_operator(*fam_run)


def test_sheaf_laplacian_operator_on_a_real_dataset(data_run):
    _check_operator(*data_run)


# -- in one process -----------------------------------------------------------------
def test_pde_gcn_with_edge_features_passes_the_check():
    spec = MODELS["pde-gcn-d"]
    check_distributable(spec.build(4, 3, **spec.fixed, edge_features=2))


@pytest.fixture
def one_rank(tmp_path):
    with W.one_rank_group(tmp_path):
        yield


@pytest.mark.usefixtures("one_rank")
def test_one_rank_sheaf_laplacian_equals_the_operator_and_checks_inputs():
    from graphops.distributed import DistributedSheafLaplacian

    graph = FW.problem("random")[0]
    plan = halo_plan(graph, partition(graph, 1), 0)
    kind, opts, maps, omega, x, _ = FW.sheaf_inputs(graph, "general")
    lm, lw = FW.local_maps(plan, maps, omega)
    op = DistributedSheafLaplacian(plan, lm, kind, edge_weight=lw, **opts)
    ref = SheafLaplacian(graph, maps, kind, edge_weight=omega, **opts)
    torch.testing.assert_close(op @ x, ref @ x, **TOL)
    torch.testing.assert_close(op.to_dense(), ref.to_dense(), **TOL)
    torch.testing.assert_close(op.diagonal(), ref.diagonal(), **TOL)
    assert op.shape == ref.shape == (180, 180) and op.is_symmetric
    assert op.adjoint() is op and op.to_scipy().shape == (180, 180)
    assert repr(op).startswith("DistributedSheafLaplacian(SheafLaplacian(kind=")
    with pytest.raises(
        ValueError, match=r"stalks, d'=3\)=\[180, F\]; got \(60, 2\)\. Reshape"
    ):
        op @ torch.zeros(60, 2, dtype=torch.float64)
    with pytest.raises(TypeError, match="`plan` must be a RankPlan; got str"):
        DistributedSheafLaplacian("plan", lm)
    with pytest.raises(ValueError, match="`maps` for kind='general' must have shape"):
        DistributedSheafLaplacian(plan, lm[:, :, 0], "general")
    two = halo_plan(graph, partition(graph, 2), 1)
    with pytest.raises(ValueError, match="the plan must be this process's"):
        DistributedSheafLaplacian(two, lm)


@pytest.mark.usefixtures("one_rank")
def test_edge_attr_is_refused_for_a_term_without_edge_features():
    graph = FW.problem("random")[0]
    plan = halo_plan(graph, partition(graph, 1), 0)
    model = FW.build_model("nsd-diag", 5, 3)
    x = torch.zeros(plan.num_owned, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="`edge_attr` is taken by PDE-GCN with edge"):
        model(x, (DistributedGraph(plan), torch.zeros(graph.num_edges, 2)))
    pde = FW.build_model("pde-gcn-d-edge", 5, 3)
    with pytest.raises(ValueError, match=r"`edge_attr` must be a tensor \[M, F_e\]"):
        pde(x, (DistributedGraph(plan), torch.zeros(3, FW.FE)))


def test_edge_term_of_a_subset_of_rows_is_the_subset_of_the_edge_term():
    graph, *_, ea, ea2 = FW.problem("random")
    term = FW.build_model("pde-gcn-d-edge", 5, 3).term
    m = graph.num_edges
    rows = torch.tensor([3, 0, 7])
    for attr in (ea, ea2):
        full = term.edge_term(m, attr)
        sub = term.edge_term(m, attr, rows=rows)
        torch.testing.assert_close(sub, torch.cat([full[rows], full[m + rows]]))
