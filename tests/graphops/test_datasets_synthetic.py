"""Tests for the synthetic graphs of graphops.datasets (networkx as reference)."""

from __future__ import annotations

import re

import pytest
import torch

from graphops.datasets import (
    barbell_graph,
    cycle_graph,
    grid_graph,
    karate_club,
    path_graph,
    random_geometric_graph,
    ring_of_cliques,
    small_world_graph,
)
from graphops.graph import Graph

from dataset_helpers import assert_symmetric_simple


@pytest.mark.parametrize("n", [1, 2, 7])
def test_path_graph(n):
    g, pos = path_graph(n, return_pos=True)
    assert (g.num_nodes, g.num_edges) == (n, n - 1)
    assert pos.shape == (n, 2) and pos.dtype == torch.get_default_dtype()
    if n > 1:
        assert_symmetric_simple(g)
        assert g.edge_index.tolist() == [list(range(n - 1)), list(range(1, n))]


@pytest.mark.parametrize("n", [3, 10])
def test_cycle_graph(n):
    g, pos = cycle_graph(n, return_pos=True)
    assert (g.num_nodes, g.num_edges) == (n, n)
    assert_symmetric_simple(g)
    assert torch.equal(g.degree(), torch.full((n,), 2.0, dtype=g.dtype))
    assert torch.allclose(pos.norm(dim=1), torch.ones(n, dtype=pos.dtype))


@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (1, 5), (5, 1), (3, 4), (5, 5)])
def test_grid_graph(rows, cols):
    g, pos = grid_graph(rows, cols, return_pos=True)
    assert torch.equal(grid_graph(rows, cols).edge_index, g.edge_index)
    assert (g.num_nodes, g.num_edges) == (
        rows * cols,
        rows * (cols - 1) + cols * (rows - 1),
    )
    assert pos.shape == (rows * cols, 2)
    if g.num_edges:
        assert_symmetric_simple(g)
        # neighbours are at unit distance on the lattice
        i, j = g.edge_index
        assert torch.allclose(
            (pos[i] - pos[j]).norm(dim=1), torch.ones(g.num_edges, dtype=pos.dtype)
        )
        assert int(g.degree().max()) <= 4


def _edge_set(g: Graph) -> set[tuple[int, int]]:
    return set(map(tuple, g.edge_index.T.tolist()))


def _nx_edge_set(nx_graph) -> set[tuple[int, int]]:
    return {(min(u, v), max(u, v)) for u, v in nx_graph.edges()}


@pytest.mark.parametrize(("k", "s"), [(2, 2), (3, 4), (5, 3)])
def test_ring_of_cliques(k, s):
    g = ring_of_cliques(k, s)
    assert (g.num_nodes, g.num_edges) == (k * s, k * (s * (s - 1) // 2 + 1))
    assert_symmetric_simple(g)
    nx = pytest.importorskip("networkx")
    assert _edge_set(g) == _nx_edge_set(nx.ring_of_cliques(k, s))


@pytest.mark.parametrize(("m1", "m2"), [(2, 0), (3, 1), (5, 4)])
def test_barbell_graph(m1, m2):
    g = barbell_graph(m1, m2)
    assert (g.num_nodes, g.num_edges) == (2 * m1 + m2, m1 * (m1 - 1) + m2 + 1)
    assert_symmetric_simple(g)
    nx = pytest.importorskip("networkx")
    assert _edge_set(g) == _nx_edge_set(nx.barbell_graph(m1, m2))


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_random_geometric_graph(dim):
    g, pos = random_geometric_graph(60, 0.25, dim=dim, seed=3, return_pos=True)
    assert pos.shape == (60, dim) and bool(((pos >= 0) & (pos <= 1)).all())
    dist = torch.cdist(pos.double(), pos.double())
    expected = {(i, j) for i, j in (dist <= 0.25).nonzero().tolist() if i < j}
    assert _edge_set(g) == expected
    assert_symmetric_simple(g)
    again = random_geometric_graph(60, 0.25, dim=dim, seed=3)
    assert torch.equal(again.edge_index, g.edge_index)
    assert not torch.equal(
        random_geometric_graph(60, 0.25, dim=dim, seed=4).edge_index, g.edge_index
    )


def test_torch_generator_seeds():
    a = random_geometric_graph(50, 0.2, seed=torch.Generator().manual_seed(1))
    b = random_geometric_graph(50, 0.2, seed=torch.Generator().manual_seed(1))
    assert torch.equal(a.edge_index, b.edge_index)
    gen = torch.Generator().manual_seed(1)
    first = small_world_graph(30, 4, 0.5, seed=gen)
    second = small_world_graph(30, 4, 0.5, seed=gen)  # the generator advanced
    assert not torch.equal(first.edge_index, second.edge_index)


@pytest.mark.parametrize("p", [0.0, 0.2, 1.0])
def test_small_world_graph(p):
    n, k = 40, 6
    g, pos = small_world_graph(n, k, p, seed=5, return_pos=True)
    assert (g.num_nodes, g.num_edges) == (n, n * k // 2)
    assert pos.shape == (n, 2)
    assert_symmetric_simple(g)
    if p == 0.0:
        assert torch.equal(g.degree(), torch.full((n,), float(k), dtype=g.dtype))
        nx = pytest.importorskip("networkx")
        assert _edge_set(g) == _nx_edge_set(nx.watts_strogatz_graph(n, k, 0.0))
    else:
        assert torch.equal(small_world_graph(n, k, p, seed=5).edge_index, g.edge_index)
        assert not torch.equal(
            small_world_graph(n, k, p, seed=6).edge_index, g.edge_index
        )


def test_karate_club():
    g, labels = karate_club(return_labels=True)
    assert (g.num_nodes, g.num_edges) == (34, 78)
    assert labels.dtype == torch.int64 and labels.tolist().count(0) == 17
    assert_symmetric_simple(g)
    assert not g.weighted
    nx = pytest.importorskip("networkx")
    ref = nx.karate_club_graph()
    assert _edge_set(g) == _nx_edge_set(ref)
    assert labels.tolist() == [
        0 if ref.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(34)
    ]
    assert torch.equal(karate_club().edge_index, g.edge_index)


def _case_id(match: str) -> str:
    """``"path_graph-n"`` from ``r"path_graph: `n` must ..."``."""
    found = re.match(r"(\w+): `(\w+)`", match)
    return "-".join(found.groups()) if found else re.sub(r"\W+", "", match)[:24]


SYNTHETIC_ERRORS = [
    (
        lambda: path_graph(0),
        ValueError,
        r"path_graph: `n` must be an int >= 1; got 0\. Pass the number of nodes\.",
    ),
    (
        lambda: path_graph(2.0),
        TypeError,
        r"path_graph: `n` must be an int; got float 2\.0",
    ),
    (lambda: path_graph(True), TypeError, r"path_graph: `n` must be an int; got bool"),
    (
        lambda: cycle_graph(2),
        ValueError,
        r"cycle_graph: `n` must be an int >= 3; got 2\. Use path_graph",
    ),
    (
        lambda: grid_graph(0, 3),
        ValueError,
        r"grid_graph: `rows` must be an int >= 1; got 0",
    ),
    (
        lambda: grid_graph(3, -1),
        ValueError,
        r"grid_graph: `cols` must be an int >= 1; got -1",
    ),
    (
        lambda: ring_of_cliques(1, 3),
        ValueError,
        r"ring_of_cliques: `num_cliques` must be an int >= 2; got 1",
    ),
    (
        lambda: ring_of_cliques(3, 1),
        ValueError,
        r"ring_of_cliques: `clique_size` must be an int >= 2; got 1",
    ),
    (
        lambda: barbell_graph(1, 2),
        ValueError,
        r"barbell_graph: `clique_size` must be an int >= 2; got 1",
    ),
    (
        lambda: barbell_graph(3, -1),
        ValueError,
        r"barbell_graph: `path_length` must be an int >= 0; got -1",
    ),
    (
        lambda: random_geometric_graph(10, 0.0),
        ValueError,
        (
            r"random_geometric_graph: `radius` must be a finite real number in "
            r"\(0, inf\); got 0\.0"
        ),
    ),
    (
        lambda: random_geometric_graph(10, float("nan")),
        ValueError,
        r"`radius` must be a finite real number",
    ),
    (
        lambda: random_geometric_graph(10, "0.1"),
        TypeError,
        r"random_geometric_graph: `radius` must be a real number; got str",
    ),
    (
        lambda: random_geometric_graph(10, 0.1, dim=0),
        ValueError,
        r"`dim` must be an int >= 1; got 0",
    ),
    (
        lambda: random_geometric_graph(10, 0.1, seed=-1),
        TypeError,
        (
            r"random_geometric_graph: `seed` must be a non-negative int or a "
            r"torch\.Generator; got int -1"
        ),
    ),
    (
        lambda: random_geometric_graph(10, 0.1, seed=1.5),
        TypeError,
        r"`seed` must be a non-negative int or a torch\.Generator; got float",
    ),
    (
        lambda: small_world_graph(10, 3, 0.1),
        ValueError,
        (
            r"small_world_graph: `k` must be even and < n=10; got k=3\. Pass an even "
            r"degree below 10"
        ),
    ),
    (
        lambda: small_world_graph(10, 10, 0.1),
        ValueError,
        r"`k` must be even and < n=10; got k=10",
    ),
    (
        lambda: small_world_graph(10, 4, 1.5),
        ValueError,
        r"small_world_graph: `p` must be a finite real number in \[0, 1\]; got 1\.5",
    ),
    (
        lambda: small_world_graph(2, 2, 0.1),
        ValueError,
        r"small_world_graph: `n` must be an int >= 3; got 2",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    SYNTHETIC_ERRORS,
    ids=[f"{k}-{_case_id(m)}" for k, (_, _, m) in enumerate(SYNTHETIC_ERRORS)],
)
def test_synthetic_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
