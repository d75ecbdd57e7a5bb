"""Eigenvectors for positional encodings against dense eigh / scipy eigsh."""

import numpy as np
import pytest
import torch

from graphops import (
    Graph,
    Laplacian,
    lam_max,
    laplacian_eigenvectors,
    random_walk_encoding,
)

from conftest import make_grid_graph


def test_eigenvectors_small(grid_graph):
    vals, vecs = laplacian_eigenvectors(grid_graph, 4)
    L = Laplacian(grid_graph, "sym").to_dense()
    assert torch.allclose(L @ vecs, vecs * vals, atol=1e-10)
    ref = np.linalg.eigvalsh(L.numpy())[1:5]
    assert np.allclose(vals.numpy(), ref)
    # sign convention: largest-magnitude entry positive
    idx = vecs.abs().argmax(0)
    assert (vecs[idx, torch.arange(4)] > 0).all()


@pytest.mark.slow
def test_eigenvectors_large_uses_eigsh():
    g = make_grid_graph(50, 45)  # 2250 nodes > dense threshold
    vals, vecs = laplacian_eigenvectors(g, 3, normalization=None)
    L = Laplacian(g)
    assert torch.allclose(L @ vecs, vecs * vals, atol=1e-7)
    assert vals[0] > 1e-6  # the zero eigenvalue was dropped


def test_eigenvector_errors(grid_graph):
    with pytest.raises(ValueError, match="`k` must be an int"):
        laplacian_eigenvectors(grid_graph, 0)
    with pytest.raises(ValueError, match="`k` must be an int"):
        laplacian_eigenvectors(grid_graph, 25)
    with pytest.raises(
        TypeError, match=r"laplacian_eigenvectors: `k` must be an int; got float 2\.0"
    ):
        laplacian_eigenvectors(grid_graph, 2.0)


def test_lam_max_argument_errors(grid_graph):
    L = Laplacian(grid_graph)
    with pytest.raises(ValueError, match=r"lam_max: `max_iters` must be an int >= 1"):
        lam_max(L, max_iters=0)
    with pytest.raises(TypeError, match=r"lam_max: `tol` must be a real number"):
        lam_max(L, tol="small")
    with pytest.raises(ValueError, match=r"lam_max: `tol` must be a finite real"):
        lam_max(L, tol=0.0)
    with pytest.raises(ValueError, match=r"lam_max: `seed` must be an int >= 0"):
        lam_max(L, seed=-1)


def test_eigenvectors_refuse_the_string_none(grid_graph):
    with pytest.raises(
        ValueError,
        match=r"laplacian_eigenvectors: `normalization` must be one of .*got the "
        r"string 'none'\. For no normalisation pass normalization=None",
    ):
        laplacian_eigenvectors(grid_graph, 2, normalization="none")


# -- random-walk structural encodings ------------------------------------------------
def _rwse_reference(g, k):
    w = g.to_dense().numpy()
    d = w.sum(1)
    p = np.where(d[:, None] > 0, w / np.where(d > 0, d, 1)[:, None], 0.0)
    out, q = [], np.eye(len(d))
    for _ in range(k):
        q = q @ p
        out.append(np.diag(q).copy())
    return np.stack(out, 1)


def test_random_walk_encoding_cycle_and_complete_graph():
    from math import comb

    from graphops.datasets import cycle_graph

    # C_n, n > k: a closed s-walk takes s/2 steps each way: C(s, s/2) / 2^s, 0 if odd
    k = 6
    rw = random_walk_encoding(cycle_graph(9), k)
    want = [comb(s, s // 2) / 2**s if s % 2 == 0 else 0.0 for s in range(1, k + 1)]
    assert torch.allclose(rw, torch.tensor(want).expand(9, k), atol=1e-14)
    # K_n: P = (J - I)/(n - 1), eigenvalues 1 and -1/(n-1) (n-1 times), so
    # (P^s)_ii = (1 + (n - 1)(-1/(n - 1))^s) / n
    import networkx as nx

    n = 5
    rw = random_walk_encoding(Graph.from_networkx(nx.complete_graph(n)), 4)
    want = [(1 + (n - 1) * (-1 / (n - 1)) ** s) / n for s in range(1, 5)]
    assert torch.allclose(rw, torch.tensor(want).expand(n, 4), atol=1e-14)


def test_random_walk_encoding_weighted_against_matrix_powers():
    from conftest import make_random_graph

    g = make_random_graph(30, 0.1, seed=2)  # weighted, some isolated nodes
    ref = _rwse_reference(g, 5)
    for block in (7, 1024):
        rw = random_walk_encoding(g, 5, block_size=block)
        assert np.allclose(rw.numpy(), ref, atol=1e-13)
    assert random_walk_encoding(g.to(torch.float32), 2).dtype == torch.float32


def test_random_walk_encoding_errors(grid_graph):
    with pytest.raises(TypeError, match=r"random_walk_encoding: `graph` must be"):
        random_walk_encoding(None, 3)
    with pytest.raises(ValueError, match=r"random_walk_encoding: `k` must be"):
        random_walk_encoding(grid_graph, 0)
    with pytest.raises(TypeError, match=r"random_walk_encoding: `k` must be an int"):
        random_walk_encoding(grid_graph, 2.0)
    with pytest.raises(ValueError, match=r"random_walk_encoding: `block_size` must"):
        random_walk_encoding(grid_graph, 2, block_size=0)
