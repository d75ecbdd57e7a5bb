"""Bottleneck tasks (graphops.datasets._bottleneck): structure, labels and masks.

The trees are checked with networkx (each component a tree, root-to-leaf distance
= depth), labels by decoding the features independently (find the leaf whose key
matches the root's), the ring against ``ring_of_cliques`` and the source-target
distance against scipy's shortest paths.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import connected_components, shortest_path

from graphops.datasets import neighbors_match, ring_of_cliques, ring_of_cliques_task


def _block(ds, b, n):
    """Instance ``b`` (nodes ``b n .. b n + n - 1``): its sub-adjacency and features."""
    a = ds.graph.to_scipy().tocsr()
    sl = slice(b * n, (b + 1) * n)
    return a[sl, sl], ds.x[sl].numpy()


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_neighbors_match_trees(depth):
    nx = pytest.importorskip("networkx")
    b, n, leaves = 12, 2 ** (depth + 1) - 1, 2**depth
    ds = neighbors_match(depth, b, seed=1)
    sizes = (ds.num_nodes, ds.num_classes, ds.num_features)
    assert sizes == (b * n, leaves, 2 * leaves)
    ncomp, comp = connected_components(ds.graph.to_scipy(), directed=False)
    assert ncomp == b and np.array_equal(comp, np.repeat(np.arange(b), n))
    for k in range(b):
        adj, x = _block(ds, k, n)
        h = nx.from_scipy_sparse_array(adj)
        assert nx.is_tree(h)
        dist = nx.single_source_shortest_path_length(h, 0)
        is_leaf = np.array([h.degree(v) == 1 for v in range(n)])
        if depth > 1:
            assert h.degree(0) == 2
        assert {dist[v] for v in np.flatnonzero(is_leaf)} == {depth}
        assert int(is_leaf.sum()) == leaves
        # decode: the leaf holding the root's key, and its value
        key = int(x[0, :leaves].argmax())
        assert x[0].sum() == 1 and x[0, leaves:].sum() == 0
        leaf_keys = x[is_leaf, :leaves].argmax(1)
        vals = x[is_leaf, leaves:].argmax(1)
        assert sorted(leaf_keys.tolist()) == list(range(leaves))
        assert sorted(vals.tolist()) == list(range(leaves))  # a permutation
        assert int(ds.y[k * n]) == int(vals[leaf_keys == key][0])
        inner = ~is_leaf
        inner[0] = False
        assert x[inner].sum() == 0


def test_neighbors_match_masks_select_roots_only_and_are_seeded():
    ds = neighbors_match(3, 50, seed=2, fractions=(0.6, 0.2, 0.2))
    n = 15
    roots = torch.zeros(ds.num_nodes, dtype=torch.bool)
    roots[::n] = True
    tr, va, te = ds.split()
    assert (int(tr.sum()), int(va.sum()), int(te.sum())) == (30, 10, 10)
    assert torch.equal(tr | va | te, roots)
    again = neighbors_match(3, 50, seed=2, fractions=(0.6, 0.2, 0.2))
    assert torch.equal(again.x, ds.x) and torch.equal(again.y, ds.y)
    assert not torch.equal(neighbors_match(3, 50, seed=3).y, ds.y)
    assert ds.name == "neighborsmatch" and ds.x.dtype == torch.float64
    assert neighbors_match(2, 4, dtype=torch.float32).x.dtype == torch.float32
    # every class occurs among 50 roots of 8 classes
    assert set(ds.y[roots].tolist()) == set(range(8))


@pytest.mark.parametrize("k, s, m", [(6, 5, 3), (6, 5, 1), (7, 3, 2), (2, 4, 1)])
def test_ring_of_cliques_task_structure_and_distance(k, s, m):
    b, c, n = 5, 4, k * s
    ds = ring_of_cliques_task(k, s, m, c, b, seed=0)
    assert (ds.num_nodes, ds.num_features, ds.num_classes) == (b * n, c + 2, c)
    ref = ring_of_cliques(k, s).to_scipy().toarray()
    for j in range(b):
        adj, x = _block(ds, j, n)
        assert np.array_equal(adj.toarray(), ref)
        src, tgt = np.flatnonzero(x[:, c]), np.flatnonzero(x[:, c + 1])
        assert src.tolist() == [2] and tgt.tolist() == [m * s + 2]
        d = shortest_path(adj, unweighted=True, directed=False)
        assert d[2, m * s + 2] == 2 * min(m, k - m) + 1
        assert int(ds.y[j * n + m * s + 2]) == int(x[2, :c].argmax())
        # one class one-hot on every node but the target (distractors)
        per_node = x[:, :c].sum(1)
        assert per_node[m * s + 2] == 0
        assert np.all(np.delete(per_node, m * s + 2) == 1)
    tr, va, te = ds.split()
    targets = torch.zeros(b * n, dtype=torch.bool)
    targets[m * s + 2 :: n] = True
    assert torch.equal(tr | va | te, targets)


def test_ring_of_cliques_task_defaults_and_no_distractors():
    ds = ring_of_cliques_task(distractors=False, num_instances=10)
    n = 30
    x = ds.x.reshape(10, n, -1)
    assert float(x[:, :, :5].sum()) == 10.0  # only the sources hold a class
    assert torch.equal(x[:, 3 * 5 + 2, -1], torch.ones(10))  # far side: m = 3
    assert ds.name == "ringcliques"


@pytest.mark.parametrize(
    "call, err, match",
    [
        (lambda: neighbors_match(0), ValueError, r"`depth` must be an int in \[1, 10"),
        (lambda: neighbors_match(2.0), TypeError, r"`depth` must be an int"),
        (lambda: neighbors_match(2, 0), ValueError, r"`num_instances` must be"),
        (
            lambda: neighbors_match(2, 5, fractions=(0.5, 0.5)),
            ValueError,
            r"`fractions` must be three",
        ),
        (
            lambda: neighbors_match(2, 5, fractions=(0.0, 0.5, 0.5)),
            ValueError,
            r"positive train fraction",
        ),
        (lambda: neighbors_match(2, 5, seed=-1), TypeError, r"`seed` must be"),
        (
            lambda: neighbors_match(2, 5, dtype=torch.int64),
            TypeError,
            r"`dtype` must be a floating",
        ),
        (lambda: ring_of_cliques_task(1), ValueError, r"`num_cliques` must be"),
        (lambda: ring_of_cliques_task(4, 2), ValueError, r"`clique_size` must be"),
        (
            lambda: ring_of_cliques_task(6, 4, 4),
            ValueError,
            r"`distance` must be an int in \[1, 3\]",
        ),
        (lambda: ring_of_cliques_task(num_classes=1), ValueError, r"`num_classes`"),
        (lambda: ring_of_cliques_task(num_instances=0), ValueError, r"num_instances"),
        (
            lambda: ring_of_cliques_task(distractors=1),
            TypeError,
            r"`distractors` must be a bool",
        ),
    ],
)
def test_bottleneck_bad_input(call, err, match):
    with pytest.raises(err, match=match):
        call()
