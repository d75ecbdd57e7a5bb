"""One rank of the family tests (tests/models/test_distributed_families.py).

Not collected by pytest (leading underscore). Started by
``tests/graphops/_dist_worker.launch(..., script=__file__)`` with the same command
line: each rank runs every model case of :data:`CASES` on its block (forward with a
cotangent, gradients summed over the ranks, one full-graph SGD step) and saves
the results, which the tests compare with one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "graphops"), str(ROOT)]

import torch  # noqa: E402

from graphops.partition import halo_plan, partition  # noqa: E402

FE = 3  # edge feature width of the PDE-GCN cases


def _graff(**kw):
    from models import graff

    return lambda f, c: graff.from_config(
        f, c, hidden=6, time=1.0, step_size=0.25, dropout=0.0, input_dropout=0.0, **kw
    )


def _nsd(kind, **kw):
    from models import sheaf

    return lambda f, c: sheaf.from_config(f, c, kind, hidden=3, layers=2, **kw)


def _pde(**kw):
    from models import pde_gcn

    return lambda f, c: pde_gcn.from_config(
        f, c, hidden=4, layers=3, h=0.5, dropout=0.0, edge_features=FE, **kw
    )


#: name -> (builder(num_features, num_classes), edge features: None, "M" or "2M")
CASES = {
    "graff-dd": (_graff(w_style="diag_dom", self_loops=False), None),
    "graff-d-loops": (_graff(w_style="diag", self_loops=True, source=True), None),
    "nsd-diag": (_nsd("diag", d=2), None),
    "nsd-diag-lp-hp": (_nsd("diag", d=2, add_lp=True, add_hp=True), None),
    "nsd-orthogonal": (_nsd("orthogonal", d=3, sparse_learner=True), None),
    "nsd-orthogonal-static": (
        _nsd("orthogonal", d=2, add_lp=True, rebuild_sheaf=False),
        None,
    ),
    "nsd-general": (_nsd("general", d=2, edge_weights=True), None),
    "pde-gcn-d-edge": (_pde(variant="D", activation="relu"), "M"),
    "pde-gcn-h-edge2": (_pde(variant="H", operator="paper", activation="tanh"), "2M"),
}
#: the cases run on the real dataset (the random graph runs all of them)
DATA_CASES = ("graff-dd", "nsd-diag", "nsd-orthogonal", "pde-gcn-d-edge")


def build_model(name: str, num_features: int, num_classes: int):
    """The seeded model of case ``name`` in float64: the same in every process."""
    torch.manual_seed(23)
    return CASES[name][0](num_features, num_classes).to(torch.float64)


def problem(graph_name: str):
    """``(graph, x, y, train mask, cotangent, edge_attr [M], edge_attr [2M])``."""
    # conftest also makes float64 the default dtype, here as in the test process
    from conftest import SHARED_DATA, make_random_graph

    if graph_name == "random":
        graph = make_random_graph(60, 0.1, seed=1)
        g = torch.Generator().manual_seed(11)
        n = graph.num_nodes
        x = torch.randn(n, 5, generator=g, dtype=torch.float64)
        y = torch.randint(0, 3, (n,), generator=g)
        mask = torch.rand(n, generator=g) < 0.5
    else:
        from graphops import datasets

        ds = datasets.load(graph_name, SHARED_DATA, dtype=torch.float64)
        graph, x, y = ds.graph, ds.x, ds.y
        mask = ds.split(0)[0]
    g = torch.Generator().manual_seed(13)
    classes = int(y.max()) + 1
    cot = torch.randn(graph.num_nodes, classes, generator=g, dtype=torch.float64)
    m = graph.num_edges
    ea = torch.randn(m, FE, generator=g, dtype=torch.float64)
    ea2 = torch.randn(2 * m, FE, generator=g, dtype=torch.float64)
    return graph, x, y, mask, cot, ea, ea2


#: DistributedSheafLaplacian cases: kind -> (d, SheafLaplacian options)
OPERATOR_CASES = {
    "diag": (2, dict(normalised=True, add_lp=True, add_hp=True)),
    "orthogonal": (3, dict(normalised=True)),
    "general": (2, dict(normalised=True, add_hp=True)),
    "general-raw": (2, dict(normalised=False)),
}


def sheaf_inputs(graph, key: str):
    """Seeded global maps ``[M, 2, ...]``, edge weights ``[2M]``, stalk signal."""
    from graphops.sheaf import orthogonal_maps

    d, opts = OPERATOR_CASES[key]
    kind = key.split("-")[0]
    g = torch.Generator().manual_seed(29)
    m, n = graph.num_edges, graph.num_nodes
    dp = d + int(opts.get("add_lp", False)) + int(opts.get("add_hp", False))
    if kind == "orthogonal":
        maps = orthogonal_maps(
            torch.randn(m, 2, d * (d - 1) // 2, generator=g, dtype=torch.float64), d
        )
    else:
        shape = (m, 2, d) if kind == "diag" else (m, 2, d, d)
        maps = torch.randn(*shape, generator=g, dtype=torch.float64)
    omega = torch.rand(2 * m, generator=g, dtype=torch.float64) + 0.5
    x = torch.randn(n * dp, 2, generator=g, dtype=torch.float64)
    cot = torch.randn(n * dp, 2, generator=g, dtype=torch.float64)
    return kind, opts, maps, omega, x, cot


def local_maps(plan, maps, omega):
    """The rank's ``[M_local, 2, ...]`` maps and ``[2M_local]`` weights.

    ``maps[:, 0]`` belongs to the smaller *global* end of an edge; the local
    graph's first end is the smaller *local* id, so a flipped edge swaps them.
    """
    e, flip = plan.edge_ids, plan.edge_flipped
    mine = maps[e]
    swapped = mine.flip(1)
    view = (-1,) + (1,) * (mine.dim() - 1)
    return (
        torch.where(flip.view(view), swapped, mine),
        plan.local_edge_weight(omega),
    )


def sheaf_operator_cases(graph, plan) -> dict:
    """``DistributedSheafLaplacian @ x`` and its gradients (x, maps, weights)."""
    from graphops.distributed import DistributedSheafLaplacian

    out = {}
    n = plan.num_owned
    for key in OPERATOR_CASES:
        kind, opts, maps, omega, x, cot = sheaf_inputs(graph, key)
        dp = x.shape[0] // graph.num_nodes
        maps = maps.clone().requires_grad_()
        omega = omega.clone().requires_grad_()
        xs = x.reshape(graph.num_nodes, dp, -1)[plan.owned].reshape(n * dp, -1)
        xs = xs.clone().requires_grad_()
        lm, lw = local_maps(plan, maps, omega)
        op = DistributedSheafLaplacian(plan, lm, kind, edge_weight=lw, **opts)
        y = op @ xs
        c = cot.reshape(graph.num_nodes, dp, -1)[plan.owned].reshape(n * dp, -1)
        (y * c).sum().backward()
        out[key] = (y.detach(), xs.grad, maps.grad, omega.grad)
    return out


def edge_attr_of(name: str, ea, ea2):
    """The case's edge features (``None``: the model takes none)."""
    return {None: None, "M": ea, "2M": ea2}[CASES[name][1]]


def run_case(model, x, y, mask, cot, graph, n_train: int, reduce=None) -> dict:
    """Forward (with a cotangent), gradients, then one SGD step's loss and params.

    ``graph`` is what the model takes; ``reduce`` (distributed) sums over the
    ranks, as DistributedDataParallel does with replicated parameters.
    """
    from _dist_worker import train_step

    params = list(model.parameters())
    out = model(x, graph)
    model.zero_grad()
    (out * cot).sum().backward()
    grads = [None if p.grad is None else p.grad.clone() for p in params]
    if reduce is not None:
        grads = [None if g is None else reduce(g) for g in grads]
    loss, after = train_step(model, x, y, mask, graph, n_train, reduce)
    return {"y": out.detach(), "grads": grads, "loss": loss, "params": after}


def _cases(a) -> dict:
    """Every case on this rank's block (``--graph``: ``random`` or a dataset)."""
    import torch.distributed as dist

    from models import DistributedGraph

    def reduce(t):
        t = t.clone()
        dist.all_reduce(t)
        return t

    graph, x, y, mask, cot, ea, ea2 = problem(a.graph)
    plan = halo_plan(graph, partition(graph, a.world, method=a.method), a.rank)
    own = plan.owned
    dg = DistributedGraph(plan)
    n_train = int(mask.sum())
    names = CASES if a.graph == "random" else DATA_CASES
    result = {"owned": own, "operator": sheaf_operator_cases(graph, plan)}
    for name in names:
        model = build_model(name, x.shape[1], cot.shape[1])
        attr = edge_attr_of(name, ea, ea2)
        g = dg if attr is None else (dg, attr)
        result[name] = run_case(
            model, x[own], y[own], mask[own], cot[own], g, n_train, reduce
        )
    return result


def main() -> None:
    """Entry point of one rank (the command line of ``_dist_worker.launch``)."""
    from _dist_worker import rank_main

    rank_main(_cases)


if __name__ == "__main__":
    main()
