"""Homophily measures (graphops.homophily; edge_homophily also in energy, datasets)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from graphops import (
    Graph,
    adjusted_homophily,
    class_insensitive_homophily,
    node_homophily,
)
from graphops.datasets import (
    cycle_graph,
    edge_homophily,
    path_graph,
    ring_of_cliques,
)

from dataset_helpers import (
    GEOM_STEM,
    UNDIRECTED_HOMOPHILY,
    fast_or_slow,
    load_shared,
    need_data,
)

# MANIFEST.md §2 homophily: directed pairs of the raw edge file (self-loops included),
# PyG's convention on the raw data.
MANIFEST_HOMOPHILY = {
    "chameleon": 0.235,
    "squirrel": 0.224,
    "actor": 0.219,
    "cornell": 0.305,
    "texas": 0.108,
    "wisconsin": 0.196,
}


def test_edge_homophily():
    g = path_graph(4)
    assert edge_homophily(g, torch.tensor([0, 0, 1, 1])) == pytest.approx(2 / 3)
    assert edge_homophily(g, torch.tensor([0, 0, 0, 0])) == 1.0
    with pytest.raises(
        TypeError,
        match=(
            r"edge_homophily: `y` must be an integer label tensor \[N\]; got a tensor "
            r"of shape \(4,\) and dtype torch\.float"
        ),
    ):
        edge_homophily(g, torch.zeros(4))
    with pytest.raises(
        ValueError, match=r"edge_homophily: `y` must have shape \[N=4\]; got \(4, 1\)"
    ):
        edge_homophily(g, torch.zeros(4, 1, dtype=torch.int64))
    with pytest.raises(
        ValueError,
        match=(
            r"edge_homophily: homophily is undefined on a graph without edges; got "
            r"num_edges=0"
        ),
    ):
        edge_homophily(path_graph(1), torch.zeros(1, dtype=torch.int64))


@pytest.mark.parametrize("name", fast_or_slow(MANIFEST_HOMOPHILY))
def test_homophily_conventions(name):
    """Ours counts undirected edges once; MANIFEST counts directed file pairs."""
    root = need_data(name)
    ds = load_shared(name)
    stem = GEOM_STEM[name]
    pairs = np.loadtxt(
        root / f"geom-gcn/new_data/{stem}/out1_graph_edges.txt",
        skiprows=1,
        dtype=np.int64,
    )
    pairs = np.unique(pairs, axis=0)
    y = ds.y.numpy()
    assert np.mean(y[pairs[:, 0]] == y[pairs[:, 1]]) == pytest.approx(
        MANIFEST_HOMOPHILY[name], abs=1e-3
    )
    assert edge_homophily(ds.graph, ds.y) == pytest.approx(
        UNDIRECTED_HOMOPHILY[name], abs=1e-3
    )


# -- node, class-insensitive and adjusted homophily ----------------------------------
def _reference(nxg, y):
    """The four measures by their definitions, with loops over networkx neighbours."""
    y = [int(v) for v in y]
    edges = list(nxg.edges())
    edge = sum(y[a] == y[b] for a, b in edges) / len(edges)
    fr = [
        sum(y[u] == y[v] for u in nxg[v]) / nxg.degree(v)
        for v in nxg.nodes
        if nxg.degree(v) > 0
    ]
    node = sum(fr) / len(fr)
    classes = sorted(set(y))
    n = len(y)
    cis = 0.0
    for k in classes:
        members = [v for v in nxg.nodes if y[v] == k]
        deg = sum(nxg.degree(v) for v in members)
        hit = sum(sum(y[u] == k for u in nxg[v]) for v in members)
        h_k = hit / deg if deg else 0.0
        cis += max(0.0, h_k - len(members) / n)
    cis /= len(classes) - 1
    two_m = 2 * len(edges)
    chance = sum(
        (sum(nxg.degree(v) for v in nxg.nodes if y[v] == k) / two_m) ** 2
        for k in classes
    )
    adj = (edge - chance) / (1 - chance)
    return edge, node, cis, adj


def test_path_by_hand():
    # path 0-1-2-3, labels 0 0 1 1: edges 2/3 same; node fractions 1, 1/2, 1/2, 1;
    # class 0: 2 same-class ends of 3 degree, share 1/2 -> excess 1/6 (class 1
    # alike), / (C - 1) = 1/3; degree totals 3, 3 of 6: chance 1/2, adjusted
    # (2/3 - 1/2) / (1 - 1/2) = 1/3
    g, y = path_graph(4), torch.tensor([0, 0, 1, 1])
    assert node_homophily(g, y) == pytest.approx(0.75)
    assert class_insensitive_homophily(g, y) == pytest.approx(1 / 3)
    assert adjusted_homophily(g, y) == pytest.approx(1 / 3)


def test_alternating_cycle_is_perfectly_heterophilous():
    g, y = cycle_graph(8), torch.arange(8) % 2
    assert edge_homophily(g, y) == 0.0
    assert node_homophily(g, y) == 0.0
    assert class_insensitive_homophily(g, y) == 0.0
    assert adjusted_homophily(g, y) == pytest.approx(-1.0)
    # all one class within each clique of a ring of cliques: perfect homophily
    ring = ring_of_cliques(3, 4)
    yr = torch.arange(12) // 4
    assert adjusted_homophily(ring, yr) < 1.0  # the 3 ring edges join classes
    assert node_homophily(ring, yr) > edge_homophily(ring, yr) - 1.0


@pytest.mark.parametrize("seed", range(3))
def test_against_definitions(seed):
    nxg = nx.gnp_random_graph(40, 0.12, seed=seed)
    nxg.add_nodes_from([40, 41])  # isolated nodes: left out of node homophily
    g = Graph.from_networkx(nxg)
    y = torch.randint(0, 3 + seed, (42,), generator=torch.Generator().manual_seed(seed))
    edge, node, cis, adj = _reference(nxg, y)
    assert edge_homophily(g, y) == pytest.approx(edge)
    assert node_homophily(g, y) == pytest.approx(node)
    assert class_insensitive_homophily(g, y) == pytest.approx(cis)
    assert adjusted_homophily(g, y) == pytest.approx(adj)


def test_adjusted_is_near_zero_for_labels_independent_of_the_graph():
    gen = torch.Generator().manual_seed(0)
    nxg = nx.gnp_random_graph(600, 0.02, seed=0)
    g = Graph.from_networkx(nxg)
    y = torch.randint(0, 4, (600,), generator=gen)
    assert abs(adjusted_homophily(g, y)) < 0.05
    assert edge_homophily(g, y) == pytest.approx(0.25, abs=0.05)


def test_one_module_three_import_paths():
    import graphops
    import graphops.energy
    import graphops.homophily

    assert graphops.homophily.edge_homophily is graphops.energy.edge_homophily
    assert graphops.datasets.edge_homophily is graphops.homophily.edge_homophily
    for name in (
        "node_homophily",
        "class_insensitive_homophily",
        "adjusted_homophily",
    ):
        assert getattr(graphops, name) is getattr(graphops.homophily, name)
        assert name in graphops.__all__


@pytest.mark.parametrize(
    "fn", [node_homophily, class_insensitive_homophily, adjusted_homophily]
)
def test_errors(fn):
    where = fn.__name__
    g = path_graph(4)
    with pytest.raises(TypeError, match=rf"{where}: `graph` must be a graphops\.Graph"):
        fn(None, torch.zeros(4, dtype=torch.int64))
    with pytest.raises(TypeError, match=rf"{where}: `y` must be an integer label"):
        fn(g, torch.zeros(4))
    with pytest.raises(ValueError, match=rf"{where}: `y` must have shape \[N=4\]"):
        fn(g, torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match=rf"{where}: homophily is undefined"):
        fn(path_graph(1), torch.zeros(1, dtype=torch.int64))


def test_one_class_errors():
    g = path_graph(4)
    with pytest.raises(
        ValueError, match=r"class_insensitive_homophily: needs at least 2 classes"
    ):
        class_insensitive_homophily(g, torch.zeros(4, dtype=torch.int64))
    # two classes, but every edge end in class 0 (class 1 is an isolated node)
    g5 = Graph(torch.tensor([[0, 1], [1, 2]]), 5, directed="symmetrize")
    with pytest.raises(
        ValueError, match=r"adjusted_homophily: every edge end has the same label"
    ):
        adjusted_homophily(g5, torch.tensor([0, 0, 0, 0, 1]))
