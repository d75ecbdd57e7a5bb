"""Forman and Balanced Forman curvature against values derived by hand.

The closed forms below are worked out from the definitions (Forman: ``4 - d_i - d_j
(+ 3 #triangles)``; Balanced Forman: Definition 1 of Topping et al., ICLR 2022) for
each graph, and a loop-and-set implementation of Definition 1 written here checks
the vectorised one on random graphs.
"""

from __future__ import annotations

from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
import torch

import graphops.curvature as curvature_module
from graphops import (
    Graph,
    balanced_forman_curvature,
    curvature_summary,
    forman_curvature,
)
from graphops.datasets import barbell_graph, cycle_graph, grid_graph, path_graph


def bfc_by_definition(nxg: nx.Graph, i: int, j: int) -> Fraction:
    """Definition 1 with Python sets, one edge at a time, in exact fractions."""
    si, sj = set(nxg[i]), set(nxg[j])
    di, dj = len(si), len(sj)
    if min(di, dj) == 1:
        return Fraction(0)
    tri = len(si & sj)
    near = si - sj - {j}  # k in S1(i) \ B1(j)
    far = sj - si - {i}  # w in S1(j) \ B1(i)
    through_k = [len(set(nxg[k]) & far) for k in near]
    through_w = [len(set(nxg[w]) & near) for w in far]
    squares = sum(c > 0 for c in through_k) + sum(c > 0 for c in through_w)
    gamma = max(through_k + through_w + [0])
    big, small = max(di, dj), min(di, dj)
    ric = (
        Fraction(2, di)
        + Fraction(2, dj)
        - 2
        + Fraction(2 * tri, big)
        + Fraction(tri, small)
    )
    if gamma:
        ric += Fraction(squares, gamma * big)
    return ric


def _edges(g: Graph) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in g.edge_index.T]


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_complete_graph(n):
    g = Graph.from_networkx(nx.complete_graph(n))
    # d = n - 1, #triangles = n - 2, no 4-cycle without a diagonal:
    # 4/(n-1) - 2 + 3(n-2)/(n-1) = n/(n-1)
    assert torch.allclose(
        balanced_forman_curvature(g), torch.full((g.num_edges,), n / (n - 1))
    )
    assert torch.equal(forman_curvature(g), torch.full((g.num_edges,), 6.0 - 2 * n))
    # augmented: 6 - 2n + 3(n - 2) = n
    assert torch.equal(
        forman_curvature(g, augmented=True), torch.full((g.num_edges,), float(n))
    )


@pytest.mark.parametrize(("n", "expected"), [(3, 1.5), (4, 1.0), (5, 0.0), (9, 0.0)])
def test_cycle(n, expected):
    # C3 = K3; C4: one 4-cycle on each side, gamma_max = 1: 1 + 1 - 2 + 2/2 = 1;
    # C5 and longer: 2/2 + 2/2 - 2 = 0
    g = cycle_graph(n)
    assert torch.allclose(
        balanced_forman_curvature(g), torch.full((n,), expected, dtype=g.dtype)
    )
    f_aug = 0.0 if n > 3 else 3.0  # 4 - 2 - 2 (+ 3 for the one triangle)
    assert torch.equal(forman_curvature(g), torch.zeros(n))
    assert torch.equal(forman_curvature(g, augmented=True), torch.full((n,), f_aug))


def test_grid():
    # 4 x 5 lattice; the value depends only on the end degrees (worked out from the
    # definition: every 4-cycle is a unit square, gamma_max = 1):
    #   corner-boundary (2, 3): 1 + 2/3 - 2 + 2/3 = 1/3
    #   boundary-boundary (3, 3): 4/3 - 2 + 2/3 = 0
    #   boundary-interior (3, 4): 2/3 + 1/2 - 2 + 4/4 = 1/6
    #   interior (4, 4): 1 - 2 + 4/4 = 0
    expected = {(2, 3): 1 / 3, (3, 3): 0.0, (3, 4): 1 / 6, (4, 4): 0.0}
    g = grid_graph(4, 5)
    deg = g.degree()
    ric = balanced_forman_curvature(g)
    seen = set()
    for k, (a, b) in enumerate(_edges(g)):
        key = tuple(sorted((int(deg[a]), int(deg[b]))))
        seen.add(key)
        assert float(ric[k]) == pytest.approx(expected[key], abs=1e-12)
    assert seen == set(expected)
    # Forman: 4 - d_i - d_j, no triangles in a grid
    i, j = g.edge_index
    f = 4.0 - deg[i] - deg[j]
    assert torch.equal(forman_curvature(g), f)
    assert torch.equal(forman_curvature(g, augmented=True), f)


def test_tree():
    # balanced binary tree of depth 3: root degree 2, internal 3, leaves 1; no cycles
    g = Graph.from_networkx(nx.balanced_tree(2, 3))
    deg = g.degree()
    ric = balanced_forman_curvature(g)
    for k, (a, b) in enumerate(_edges(g)):
        da, db = int(deg[a]), int(deg[b])
        want = 0.0 if min(da, db) == 1 else 2 / da + 2 / db - 2
        assert float(ric[k]) == pytest.approx(want, abs=1e-12)
    # the root edges: 1 + 2/3 - 2 = -1/3; internal: 4/3 - 2 = -2/3
    assert float(ric.min()) == pytest.approx(-2 / 3)
    assert sorted({round(float(v), 6) for v in ric}) == [-0.666667, -0.333333, 0.0]


def test_path_is_flat():
    assert torch.equal(balanced_forman_curvature(path_graph(6)), torch.zeros(5))


@pytest.mark.parametrize("m", [3, 5, 10])
def test_barbell_bridge(m):
    # two K_m joined by one edge (m-1, m): the bridge ends have degree m, no
    # triangle and no 4-cycle on the bridge: Ric = 4/m - 2, the unique minimum.
    g = barbell_graph(m, 0)
    ric = balanced_forman_curvature(g)
    edges = _edges(g)
    bridge = edges.index((m - 1, m))
    assert float(ric[bridge]) == pytest.approx(4 / m - 2)
    others = torch.cat([ric[:bridge], ric[bridge + 1 :]])
    assert float(others.min()) > float(ric[bridge])
    # clique edges away from the bridge: K_m's value m/(m-1); clique edges at a
    # bridge end u (d_u = m, d_x = m - 1, m - 2 triangles, the only near node v has
    # no far partner): 2/m + 2/(m-1) - 2 + 2(m-2)/m + (m-2)/(m-1)
    at_end = 2 / m + 2 / (m - 1) - 2 + 2 * (m - 2) / m + (m - 2) / (m - 1)
    for k, (a, b) in enumerate(edges):
        if k == bridge:
            continue
        touches = {a, b} & {m - 1, m}
        want = at_end if touches else m / (m - 1)
        assert float(ric[k]) == pytest.approx(want, abs=1e-12)
    s = curvature_summary(ric, g)
    assert s.argmin == (m - 1, m)
    assert s.min == pytest.approx(4 / m - 2)


def test_complete_bipartite_has_gamma_two():
    # K_{2,3}: edge (a, b), d_a = 3, d_b = 2. Near side of a: the other two b's,
    # each adjacent to the one far node a2; a2 closes both cycles: gamma_max = 2,
    # #sq = 2 + 1. Ric = 2/3 + 1 - 2 + (1/2) * 3 / 3 = 1/6.
    g = Graph.from_networkx(nx.complete_bipartite_graph(2, 3))
    assert torch.allclose(balanced_forman_curvature(g), torch.full((6,), 1 / 6))


@pytest.mark.parametrize("seed", range(4))
def test_matches_definition_on_random_graphs(seed):
    nxg = nx.gnp_random_graph(30, 0.2 + 0.1 * seed, seed=seed)
    g = Graph.from_networkx(nxg)
    ric = balanced_forman_curvature(g)
    ref = [float(bfc_by_definition(nxg, a, b)) for a, b in _edges(g)]
    assert np.allclose(ric.numpy(), ref, rtol=0, atol=1e-14)
    # augmented Forman: triangles counted with networkx
    tri = [len(set(nxg[a]) & set(nxg[b])) for a, b in _edges(g)]
    deg = dict(nxg.degree())
    f = [4 - deg[a] - deg[b] + 3 * t for (a, b), t in zip(_edges(g), tri, strict=True)]
    assert forman_curvature(g, augmented=True).tolist() == f


def test_chunked_product_gives_the_same(monkeypatch):
    nxg = nx.gnp_random_graph(40, 0.3, seed=1)
    g = Graph.from_networkx(nxg)
    whole = balanced_forman_curvature(g)
    monkeypatch.setattr(curvature_module, "_WORK_PER_CHUNK", 50)
    assert torch.equal(balanced_forman_curvature(g), whole)


def test_weights_ignored_isolated_nodes_and_dtype():
    g = Graph(
        torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]]),
        num_nodes=5,
        edge_weight=torch.tensor([1.0, 1.0, 5.0, 5.0, 0.5, 0.5]),
    )
    assert torch.allclose(balanced_forman_curvature(g), torch.full((3,), 1.5))
    g32 = g.to(torch.float32)
    assert balanced_forman_curvature(g32).dtype == torch.float32
    assert forman_curvature(g32).dtype == torch.float32
    empty = Graph(torch.zeros(2, 0, dtype=torch.int64), num_nodes=3)
    assert balanced_forman_curvature(empty).shape == (0,)
    assert forman_curvature(empty, augmented=True).shape == (0,)
    s = curvature_summary(balanced_forman_curvature(empty), empty)
    assert s.num_edges == 0 and s.argmin is None and np.isnan(s.min)


def test_summary_values():
    g = grid_graph(4, 5)
    ric = balanced_forman_curvature(g)
    s = curvature_summary(ric, g, quantiles=(0.0, 0.5, 1.0))
    assert s.quantiles[0.0] == pytest.approx(float(ric.min()))
    assert s.quantiles[1.0] == pytest.approx(float(ric.max()))
    assert s.quantiles[0.5] == pytest.approx(float(np.median(ric.numpy())))
    assert s.mean == pytest.approx(float(ric.mean()))
    assert s.fraction_negative == 0.0
    assert "min=0.000" in str(s)


def test_errors():
    g = path_graph(3)
    with pytest.raises(
        TypeError, match=r"balanced_forman_curvature: `graph` must be a graphops\.Graph"
    ):
        balanced_forman_curvature(nx.path_graph(3))
    with pytest.raises(
        TypeError, match=r"forman_curvature: `graph` must be a graphops\.Graph"
    ):
        forman_curvature(None)
    with pytest.raises(
        TypeError, match=r"forman_curvature: `augmented` must be a bool"
    ):
        forman_curvature(g, augmented=1)
    with pytest.raises(TypeError, match=r"curvature_summary: `graph` must be"):
        curvature_summary(torch.zeros(2), None)
    with pytest.raises(
        TypeError, match=r"curvature_summary: `curvature` must be a floating tensor"
    ):
        curvature_summary(torch.zeros(2, dtype=torch.int64), g)
    with pytest.raises(
        ValueError, match=r"curvature_summary: `curvature` must have shape \[M\]=\[2\]"
    ):
        curvature_summary(torch.zeros(3), g)
    with pytest.raises(
        ValueError, match=r"curvature_summary: `quantiles` must lie in \[0, 1\]"
    ):
        curvature_summary(torch.zeros(2), g, quantiles=(1.5,))
