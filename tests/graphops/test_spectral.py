"""Eigenvectors for positional encodings against dense eigh / scipy eigsh."""

import numpy as np
import pytest
import torch

from graphops import Laplacian, lam_max, laplacian_eigenvectors

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
