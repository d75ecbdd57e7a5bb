"""Caches that let constant-step implicit solves reuse ``I + theta dt A`` (issue 13).

``shifted(shift, scale)`` with numbers returns the last shifted operator again
(its CSR tensor and diagonal come along), ``diagonal()`` is computed once; neither
applies when a gradient must flow. Results are compared with the dense matrix.
"""

from __future__ import annotations

import scipy.sparse.linalg as spla
import torch

from graphops import Laplacian
from graphops.linalg import CG

from conftest import make_random_graph


def test_shifted_operator_is_reused_for_the_same_numbers():
    L = Laplacian(make_random_graph(20, 0.3))
    a = L.shifted(1.0, 0.25)
    assert L.shifted(1.0, 0.25) is a
    dense = torch.eye(20) + 0.25 * L.to_dense()
    assert torch.allclose(a.to_dense(), dense, rtol=0, atol=1e-15)
    b = L.shifted(1.0, 0.5)  # a new step size: a new operator, then cached
    assert b is not a and L.shifted(1.0, 0.5) is b
    assert torch.allclose(
        b.to_dense(), torch.eye(20) + 0.5 * L.to_dense(), rtol=0, atol=1e-15
    )


def test_shifted_not_cached_for_tensors_or_gradients():
    g = make_random_graph(12, 0.4)
    L = Laplacian(g)
    s = torch.tensor(0.3)
    assert L.shifted(1.0, s) is not L.shifted(1.0, s)
    w = (torch.rand(g.num_edges) + 0.5).requires_grad_()
    Lw = Laplacian(g, edge_weight=w)
    a = Lw.shifted(1.0, 0.2)
    assert a is not Lw.shifted(1.0, 0.2)
    (grad,) = torch.autograd.grad(a.values.pow(2).sum(), w)
    assert grad.abs().sum() > 0


def test_diagonal_cached_but_safe_to_modify():
    L = Laplacian(make_random_graph(15, 0.3))
    d = L.diagonal()
    ref = torch.diagonal(L.to_dense())
    assert torch.equal(d, ref)
    d += 100.0  # the caller's copy
    assert torch.equal(L.diagonal(), ref)


def test_cg_with_the_cached_shift_matches_scipy():
    # two solves at the same step size: the second reuses the shifted operator
    g = make_random_graph(40, 0.15)
    L = Laplacian(g)
    b = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    cg = CG(rtol=1e-12)
    first = cg.solve(L, b, shift=1.0, scale=0.3)
    second = cg.solve(L, b, shift=1.0, scale=0.3)
    assert torch.equal(first.x, second.x)
    assert torch.equal(first.iterations, second.iterations)
    a = (L.shifted(1.0, 0.3)).to_scipy()
    for k in range(3):
        ref, info = spla.cg(a, b[:, k].numpy(), rtol=1e-13, atol=0.0)
        assert info == 0
        assert abs(first.x[:, k].numpy() - ref).max() <= 1e-10 * abs(ref).max()
