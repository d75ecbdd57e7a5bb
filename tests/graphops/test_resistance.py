"""Effective resistance against numpy.linalg.pinv and the series/parallel rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graphops import CG, Graph, effective_resistance
from graphops.datasets import cycle_graph, path_graph

from conftest import make_random_graph


def _all_pairs(n: int) -> torch.Tensor:
    return torch.combinations(torch.arange(n), 2)


def _pinv_reference(g: Graph) -> np.ndarray:
    w = g.to_dense().numpy()
    lap = np.diag(w.sum(1)) - w
    lp = np.linalg.pinv(lap)
    d = np.diag(lp)
    return d[:, None] + d[None, :] - 2 * lp


@pytest.mark.parametrize("method", ["pinv", "cg"])
def test_against_numpy_pinv(method):
    g = make_random_graph(30, 0.25, seed=3)  # weighted; connected at this density
    from scipy.sparse.csgraph import connected_components

    assert connected_components(g.to_scipy())[0] == 1
    ref = _pinv_reference(g)
    pairs = _all_pairs(30)
    r = effective_resistance(g, pairs, method=method)
    assert np.allclose(r.numpy(), ref[pairs[:, 0], pairs[:, 1]], rtol=1e-8, atol=0)
    full = effective_resistance(g)
    assert np.allclose(full.numpy(), ref, rtol=1e-10, atol=1e-12)
    assert torch.equal(full.diagonal(), torch.zeros(30))


@pytest.mark.parametrize("method", ["pinv", "cg"])
def test_series_rule_on_a_weighted_path(method):
    # resistors 1/w_e in series: R(0, k) = sum_{e < k} 1 / w_e
    w = torch.tensor([1.0, 2.0, 0.5, 4.0, 1.0])
    ei = torch.stack([torch.arange(5), torch.arange(1, 6)])
    g = Graph(ei, 6, w, directed="symmetrize")
    pairs = torch.stack([torch.zeros(6, dtype=torch.int64), torch.arange(6)], 1)
    r = effective_resistance(g, pairs, method=method)
    want = torch.cat([torch.zeros(1), torch.cumsum(1.0 / w, 0)])
    assert torch.allclose(r, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["pinv", "cg"])
def test_parallel_rule_on_cycles(method):
    # C_n: two paths of k and n - k unit resistors in parallel: k (n - k) / n
    n = 9
    g = cycle_graph(n)
    pairs = torch.stack([torch.zeros(n, dtype=torch.int64), torch.arange(n)], 1)
    r = effective_resistance(g, pairs, method=method)
    want = torch.tensor([k * (n - k) / n for k in range(n)])
    assert torch.allclose(r, want, rtol=1e-9, atol=1e-12)
    # weighted cycle of 4: the two arcs between 0 and 2 have 1/1 + 1/2 and 1/4 + 1/4
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    g4 = Graph(ei, 4, torch.tensor([1.0, 2.0, 4.0, 4.0]), directed="symmetrize")
    r1, r2 = 1 / 1 + 1 / 2, 1 / 4 + 1 / 4
    got = effective_resistance(g4, torch.tensor([[0, 2]]), method=method)
    assert float(got) == pytest.approx(1 / (1 / r1 + 1 / r2), rel=1e-9)


@pytest.mark.parametrize("method", ["pinv", "cg"])
def test_disconnected_pairs_are_infinite(method):
    # a path 0-1-2, an edge 3-4 and an isolated node 5
    g = Graph(torch.tensor([[0, 1, 3], [1, 2, 4]]), 6, directed="symmetrize")
    pairs = torch.tensor([[0, 2], [3, 4], [0, 3], [5, 5], [2, 5], [4, 3]])
    r = effective_resistance(g, pairs, method=method)
    assert r.tolist()[:2] == pytest.approx([2.0, 1.0], rel=1e-9)
    assert r[2] == math.inf and r[4] == math.inf
    assert r[3] == 0.0
    assert float(r[5]) == pytest.approx(1.0, rel=1e-9)
    full = effective_resistance(g)
    assert full[0, 4] == math.inf and full[1, 2] == pytest.approx(1.0)


def test_auto_uses_cg_on_large_graphs(monkeypatch):
    import graphops.resistance as mod

    g = path_graph(50)
    monkeypatch.setattr(mod, "_DENSE_MAX", 10)
    called = {}
    original = mod._dense_pinv_blocks

    def spy(*a, **k):
        called["pinv"] = True
        return original(*a, **k)

    monkeypatch.setattr(mod, "_dense_pinv_blocks", spy)
    r = effective_resistance(g, torch.tensor([[0, 49], [10, 20]]))
    assert "pinv" not in called
    assert torch.allclose(r, torch.tensor([49.0, 10.0]), rtol=1e-9)


def test_dtype_and_errors():
    g = path_graph(4).to(torch.float32)
    r = effective_resistance(g, torch.tensor([[0, 3]]))
    assert r.dtype == torch.float32 and float(r) == pytest.approx(3.0)
    g = path_graph(4)
    with pytest.raises(TypeError, match=r"effective_resistance: `graph` must be"):
        effective_resistance(None)
    with pytest.raises(ValueError, match=r"effective_resistance: `method` must be"):
        effective_resistance(g, method="exact")
    with pytest.raises(TypeError, match=r"effective_resistance: `solver` must be"):
        effective_resistance(g, torch.tensor([[0, 1]]), solver=1e-8)
    with pytest.raises(TypeError, match=r"`pairs` must be an integer tensor \[P, 2\]"):
        effective_resistance(g, torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"`pairs` must have shape \[P, 2\]; got \(2,"):
        effective_resistance(g, torch.tensor([[0, 1, 2], [1, 2, 3]]))
    with pytest.raises(ValueError, match=r"`pairs` must hold node ids in \[0, 3\]"):
        effective_resistance(g, torch.tensor([[0, 4]]))
    with pytest.raises(ValueError, match=r"`pairs` is None .* method='cg'"):
        effective_resistance(g, method="cg")
    with pytest.raises(RuntimeError, match=r"CG solve on the grounded Laplacian"):
        effective_resistance(
            path_graph(30),
            torch.tensor([[0, 29]]),
            method="cg",
            solver=CG(rtol=1e-12, max_iters=2),
        )
