"""Hop distances and receptive fields (graphops.paths): scipy and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import shortest_path

from graphops import (
    UNREACHABLE,
    Graph,
    hop_distances,
    receptive_field_sizes,
)
from graphops.datasets import cycle_graph, grid_graph, path_graph, ring_of_cliques

from conftest import make_random_graph


def scipy_hops(graph: Graph) -> np.ndarray:
    """All-pairs hop distances by scipy (unweighted), -1 where unreachable."""
    a = graph.to_scipy()
    a.data[:] = 1.0
    d = shortest_path(a, unweighted=True, directed=False)
    return np.where(np.isinf(d), -1, d).astype(np.int64)


def two_components() -> Graph:
    """A random graph, a path 0-1-2 disjoint from it and an isolated node."""
    g = make_random_graph(30, 0.1, seed=3)
    ei = g.directed_edge_index + 3
    extra = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    return Graph(torch.cat([ei, extra], 1), 34)


@pytest.mark.parametrize(
    "graph",
    [make_random_graph(40, 0.08, seed=s) for s in range(3)]
    + [two_components(), ring_of_cliques(4, 5)],
    ids=repr,
)
def test_all_pairs_match_scipy(graph):
    assert np.array_equal(hop_distances(graph).numpy(), scipy_hops(graph))


def test_max_hops_cuts_off_and_sources_select_rows():
    g = make_random_graph(50, 0.05, seed=1)
    full = scipy_hops(g)
    src = [7, 0, 7, 49]
    d = hop_distances(g, src, max_hops=2).numpy()
    ref = full[src]
    ref = np.where(ref > 2, UNREACHABLE, ref)
    assert np.array_equal(d, ref)
    assert np.array_equal(hop_distances(g, torch.tensor(src)).numpy(), full[src])
    assert np.array_equal(hop_distances(g, 5).numpy(), full[5])
    assert hop_distances(g, np.int64(5)).shape == (50,)


def test_edge_weights_are_ignored_zero_weight_edges_count():
    ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    g = Graph(ei, 3, torch.tensor([0.0, 0.0, 5.0, 5.0]))
    assert hop_distances(g, 0).tolist() == [0, 1, 2]


def test_networkx_reference_on_small_world():
    nx = pytest.importorskip("networkx")
    h = nx.connected_watts_strogatz_graph(60, 4, 0.2, seed=0)
    g = Graph.from_networkx(h)
    d = hop_distances(g, [0, 17])
    for row, s in zip(d, [0, 17], strict=True):
        ref = nx.single_source_shortest_path_length(h, s)
        assert row.tolist() == [ref[v] for v in range(60)]


def test_chunks_of_sources_agree(monkeypatch):
    import graphops.paths as paths

    g = make_random_graph(30, 0.1, seed=2)
    whole = hop_distances(g)
    monkeypatch.setattr(paths, "_BLOCK", 30 * 4)  # 4 sources per block
    assert torch.equal(hop_distances(g), whole)


def test_receptive_field_closed_forms():
    # path: node i sees min(i, k) + min(n-1-i, k) + 1 nodes
    n, k = 9, 5
    r = receptive_field_sizes(path_graph(n), k)
    i, kk = np.arange(n)[:, None], np.arange(k + 1)[None, :]
    assert np.array_equal(r.numpy(), np.minimum(i, kk) + np.minimum(n - 1 - i, kk) + 1)
    # cycle of n: min(2k + 1, n) for every node
    r = receptive_field_sizes(cycle_graph(11), 7)
    assert np.array_equal(
        r.numpy(), np.broadcast_to(np.minimum(2 * np.arange(8) + 1, 11), (11, 8))
    )
    # grid interior: 2k^2 + 2k + 1 while the diamond fits
    r = receptive_field_sizes(grid_graph(11, 11), 5, nodes=60)
    kk = np.arange(6)
    assert r.tolist() == (2 * kk**2 + 2 * kk + 1).tolist()


def test_receptive_field_matches_distance_counts():
    g = two_components()
    d = scipy_hops(g)
    r = receptive_field_sizes(g, 6, nodes=[0, 3, 33])
    for row, s in zip(r.numpy(), [0, 3, 33], strict=True):
        ref = [int(((d[s] >= 0) & (d[s] <= k)).sum()) for k in range(7)]
        assert row.tolist() == ref
    assert receptive_field_sizes(g, 3, nodes=33).tolist() == [1, 1, 1, 1]


def test_empty_sources_and_graph_without_edges():
    g = Graph(torch.empty(2, 0, dtype=torch.int64), 4)
    assert hop_distances(g).tolist() == [
        [0 if i == j else -1 for j in range(4)] for i in range(4)
    ]
    assert hop_distances(g, []).shape == (0, 4)
    assert receptive_field_sizes(g, 2, nodes=[]).shape == (0, 3)


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda g: hop_distances("g"), TypeError, r"`graph` must be a graphops Graph"),
        (lambda g: hop_distances(g, 2.5), TypeError, r"`sources` must be None, an int"),
        (lambda g: hop_distances(g, True), TypeError, r"`sources` must be None"),
        (
            lambda g: hop_distances(g, [[0, 1]]),
            TypeError,
            r"`sources` must be None",
        ),
        (lambda g: hop_distances(g, [0, 10]), ValueError, r"in \[0, 10\); got 10"),
        (lambda g: hop_distances(g, max_hops=-1), ValueError, r"`max_hops` must be"),
        (
            lambda g: receptive_field_sizes(g, 1.0),
            TypeError,
            r"`max_hops` must be an int",
        ),
        (
            lambda g: receptive_field_sizes(g, 2, nodes=-1),
            ValueError,
            r"`nodes` must hold node ids in \[0, 10\); got -1",
        ),
        (
            lambda g: receptive_field_sizes([], 2),
            TypeError,
            r"receptive_field_sizes: `graph` must be",
        ),
    ],
)
def test_bad_input_raises(call, err, match):
    with pytest.raises(err, match=match):
        call(path_graph(10))
