"""Partitions and halo plans, checked against dense adjacency / networkx."""

from __future__ import annotations

import importlib.util

import networkx as nx
import numpy as np
import pytest
import torch

from graphops import Graph
from graphops.partition import Partition, halo_plan, partition

from conftest import (
    make_cycle_graph,
    make_grid_graph,
    make_path_graph,
    make_random_graph,
)

BUILTIN = ("spectral", "bfs")
HAS_PYMETIS = importlib.util.find_spec("pymetis") is not None

# The module itself (`graphops.partition` the attribute is the function).
partition_module = importlib.import_module("graphops.partition")


def _cut_networkx(graph: Graph, assign: torch.Tensor) -> int:
    g = nx.Graph()
    g.add_nodes_from(range(graph.num_nodes))
    g.add_edges_from(graph.edge_index.T.tolist())
    a = assign.tolist()
    return sum(1 for u, v in g.edges() if a[u] != a[v])


def _two_cliques() -> Graph:
    a = torch.zeros(10, 10)
    a[:5, :5] = 1.0
    a[5:, 5:] = 1.0
    a.fill_diagonal_(0.0)
    # interleave the ids so the cliques are not the first/second half
    perm = torch.tensor([0, 5, 1, 6, 2, 7, 3, 8, 4, 9])
    return Graph.from_dense(a[perm][:, perm])


@pytest.mark.parametrize("method", BUILTIN)
@pytest.mark.parametrize("parts", [1, 2, 3, 4, 8])
def test_cover_cut_and_balance(method, parts):
    g = make_random_graph(60, 0.1)
    p = partition(g, parts, method=method)
    assert p.assignment.shape == (60,) and p.assignment.dtype == torch.int64
    owned = [p.owned(k) for k in range(parts)]
    # every node exactly once
    assert sorted(torch.cat(owned).tolist()) == list(range(60))
    assert p.sizes == tuple(len(o) for o in owned)
    assert p.edge_cut == _cut_networkx(g, p.assignment)
    assert max(p.sizes) - min(p.sizes) <= 1 + (parts not in (1, 2, 4, 8))
    assert p.balance == pytest.approx(max(p.sizes) * parts / 60)


@pytest.mark.parametrize("method", BUILTIN)
def test_closed_form_cuts(method):
    # a cycle is bisected with 2 cut edges; a path into 4 segments with 3
    assert partition(make_cycle_graph(16), 2, method=method).edge_cut == 2
    p = partition(make_path_graph(12), 4, method=method)
    assert p.edge_cut == 3 and p.sizes == (3, 3, 3, 3)


def test_spectral_large_pieces_closed_forms():
    # above the dense limit: ARPACK Lanczos (large gap) or shift-invert (small gap).
    # A 25 x 40 grid's Fiedler vector varies along the long side only: the cut is
    # one column of 25 edges; a path's is one edge.
    assert partition(make_grid_graph(25, 40), 2, method="spectral").edge_cut == 25
    p = partition(make_path_graph(3000), 4, method="spectral")
    assert p.edge_cut == 3 and p.sizes == (750,) * 4
    g = make_random_graph(800, 0.01, weighted=False)
    p = partition(g, 2, method="spectral")
    assert p.edge_cut == _cut_networkx(g, p.assignment) and p.sizes == (400, 400)


@pytest.mark.parametrize(
    "graph",
    [make_grid_graph(30, 30), make_path_graph(2000),
     make_random_graph(800, 0.01, weighted=False)],
    ids=["square-grid", "path", "random"],
)
def test_fiedler_vector_above_the_dense_limit(graph):
    # the Rayleigh quotient is the second-smallest eigenvalue (numpy, dense), and
    # the vector is orthogonal to the constant null vector; the square grid's
    # eigenvalue is double, where an undeflated Lanczos returned the next one
    from scipy.sparse.csgraph import connected_components

    from graphops.partition import _fiedler_vector

    adj = graph.to_scipy("csr")
    adj.data[:] = 1.0
    _, label = connected_components(adj, directed=False)
    keep = np.flatnonzero(label == np.bincount(label).argmax())
    sub = adj[keep][:, keep]
    assert sub.shape[0] > 600
    lap = np.diag(np.asarray(sub.sum(1)).ravel()) - sub.toarray()
    lam2 = np.linalg.eigvalsh(lap)[1]
    v = _fiedler_vector(sub, np.random.default_rng(0))
    v = v / np.linalg.norm(v)
    assert abs(v.sum()) < 1e-6
    assert v @ lap @ v == pytest.approx(lam2, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("method", BUILTIN)
def test_disconnected_components_are_not_cut(method):
    p = partition(_two_cliques(), 2, method=method)
    assert p.edge_cut == 0 and p.sizes == (5, 5)


@pytest.mark.parametrize("method", BUILTIN)
def test_deterministic_for_a_seed(method):
    g = make_random_graph(50, 0.1)
    a = partition(g, 4, method=method, seed=3).assignment
    b = partition(g, 4, method=method, seed=3).assignment
    assert torch.equal(a, b)


@pytest.mark.skipif(not HAS_PYMETIS, reason="pymetis (optional extra) not installed")
def test_metis():  # pragma: no cover - runs only where pymetis is installed
    g = make_random_graph(60, 0.1)
    p = partition(g, 4, method="metis")
    assert sorted(torch.cat([p.owned(k) for k in range(4)]).tolist()) == list(
        range(60)
    )
    assert p.edge_cut == _cut_networkx(g, p.assignment)
    assert partition(g, 4).method == "metis"


def test_metis_missing(monkeypatch):
    # As on a machine without the optional extra, whether or not it is installed.
    monkeypatch.setattr(partition_module, "_pymetis", lambda: None)
    g = make_path_graph(6)
    with pytest.raises(ImportError, match="pymetis"):
        partition(g, 2, method="metis")
    assert partition(g, 2).method == "spectral"  # "auto" falls back


@pytest.mark.parametrize("parts", [2, 3, 4])
def test_halo_plan_against_dense_adjacency(parts):
    g = make_random_graph(40, 0.15)
    dense = g.to_dense()
    p = partition(g, parts, method="spectral")
    assign = p.assignment
    plans = [halo_plan(g, p, r) for r in range(parts)]
    for r, plan in enumerate(plans):
        own = set(plan.owned.tolist())
        assert own == set((assign == r).nonzero().flatten().tolist())
        assert plan.owned.tolist() == sorted(own)
        nbrs = set((dense[sorted(own)] > 0).any(0).nonzero().flatten().tolist())
        # halos are exactly the off-partition neighbours
        assert set(plan.ghosts.tolist()) == nbrs - own
        assert len(plan.ghosts) == len(set(plan.ghosts.tolist()))
        assert plan.ghost_owner.tolist() == assign[plan.ghosts].tolist()
        # ordered by owner, then id; receive blocks are contiguous
        keys = list(zip(plan.ghost_owner.tolist(), plan.ghosts.tolist(), strict=True))
        assert keys == sorted(keys)
        for q, pos in plan.recv.items():
            assert pos.tolist() == list(range(int(pos[0]), int(pos[-1]) + 1))
            # what q sends me is what I receive, in the same order
            sent = plans[q].owned[plans[q].send[r]]
            assert sent.tolist() == plan.ghosts[pos].tolist()
        assert set(plan.send) == set(plan.recv)
        # local graph: the edges with an owned end point, global weights
        local = plan.local_graph
        nodes = torch.cat([plan.owned, plan.ghosts])
        got = {
            (min(a, b), max(a, b)): w
            for (a, b), w in zip(
                nodes[local.edge_index].T.tolist(), local.edge_weight.tolist(),
                strict=True,
            )
        }
        want = {
            (a, b): dense[a, b].item()
            for a, b in (dense > 0).nonzero().tolist()
            if a < b and (a in own or b in own)
        }
        assert got.keys() == want.keys()
        assert all(got[k] == pytest.approx(want[k], abs=0) for k in want)
        torch.testing.assert_close(plan.global_degree, dense.sum(1)[nodes])


def test_local_edge_weight_per_direction():
    g = make_random_graph(30, 0.2)
    p = partition(g, 3, method="bfs")
    m = g.num_edges
    w2 = torch.rand(2 * m)
    w_dense = torch.zeros(30, 30)
    w_dense[g.directed_edge_index[0], g.directed_edge_index[1]] = w2
    for r in range(3):
        plan = halo_plan(g, p, r)
        nodes = torch.cat([plan.owned, plan.ghosts])
        loc = plan.local_edge_weight(w2)
        de = nodes[plan.local_graph.directed_edge_index]
        assert torch.equal(loc, w_dense[de[0], de[1]])
        w1 = torch.rand(m)
        sym = torch.zeros(30, 30)
        sym[g.edge_index[0], g.edge_index[1]] = w1
        sym = sym + sym.T
        le = nodes[plan.local_graph.edge_index]
        assert torch.equal(plan.local_edge_weight(w1), sym[le[0], le[1]])


def test_halo_bytes():
    g = make_path_graph(6)
    plan = halo_plan(g, partition(g, 2, method="bfs"), 1)
    assert plan.halo_bytes(num_features=4) == (32, 32)
    assert plan.peers == [0] and plan.num_owned == 3 and plan.num_ghosts == 1


def test_repr():
    p = partition(make_path_graph(6), 2, method="bfs")
    assert repr(p) == (
        "Partition(num_parts=2, method='bfs', edge_cut=1, balance=1.000)"
    )


def test_bad_inputs():
    g = make_path_graph(4)
    with pytest.raises(TypeError, match="partition: `graph` must be a Graph"):
        partition(torch.zeros(2), 2)
    with pytest.raises(ValueError, match=r"`parts` must be <= graph.num_nodes=4"):
        partition(g, 5)
    with pytest.raises(ValueError, match="parts"):
        partition(g, 0)
    with pytest.raises(TypeError, match="parts"):
        partition(g, 2.0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        partition(g, 2, method="kl")
    p = partition(g, 2, method="bfs")
    with pytest.raises(ValueError, match="`part` must be < num_parts=2"):
        p.owned(2)
    with pytest.raises(TypeError, match="halo_plan: `graph` must be a Graph"):
        halo_plan("g", p, 0)
    with pytest.raises(TypeError, match="halo_plan: `part` must be a Partition"):
        halo_plan(g, "p", 0)
    with pytest.raises(ValueError, match="`part` must assign the graph's 5 nodes"):
        halo_plan(make_path_graph(5), p, 0)
    with pytest.raises(ValueError, match="`rank` must be < num_parts=2"):
        halo_plan(g, p, 2)
    plan = halo_plan(g, p, 0)
    with pytest.raises(ValueError, match=r"`edge_weight` must be a 1-D tensor"):
        plan.local_edge_weight(torch.ones(5))
    assert isinstance(p, Partition)
