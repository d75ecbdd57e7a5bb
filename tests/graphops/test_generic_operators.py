"""Generic operator tests, driven by the one registry ``helpers.operators()``.

For every operator, with and without learned edge weights:

* ``op @ x`` equals its dense matrix, which equals ``to_scipy()`` (independent of the
  sparse kernel: scipy's own product);
* ``.T`` is the plain transpose and ``.adjoint()`` the adjoint in the weighted inner
  products of :mod:`graphops` (node space: identity; edge space: the edge measure);
* ``torch.autograd.gradcheck`` with respect to ``x`` and the edge weights;
* ``.to(dtype)`` moves the values and the product follows;
* ``repr`` names the operator's class.
"""

from __future__ import annotations

import pytest
import torch

from conftest import make_random_graph
from helpers import operators

OPERATORS = [pytest.param(build, id=name) for name, build in operators()]


def _graph_and_weight(n=9, seed=2):
    graph = make_random_graph(n, 0.4, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    w = torch.rand(graph.num_edges, generator=gen) + 0.5
    return graph, w


def _measure(op, space: str) -> torch.Tensor:
    """The inner-product weights of a space (ones on nodes, the edge measure on edges).

    Block (sheaf) operators act on node-major stalks, so their node space has
    ``shape[1]`` rows; edges carry the operator's own edge measure.
    """
    if space == "edge":
        return op.edge_measure
    rows = op.shape[0] if op.codomain == "node" else op.shape[1]
    return torch.ones(rows, dtype=op.dtype)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("build", OPERATORS)
def test_product_matches_dense_and_scipy(build, weighted):
    graph, w = _graph_and_weight()
    op = build(graph, w if weighted else None)
    x = torch.randn(op.shape[1], 3)
    dense = op.to_dense()
    torch.testing.assert_close(op @ x, dense @ x, rtol=1e-12, atol=1e-12)
    scipy_out = torch.from_numpy(op.to_scipy() @ x.numpy())
    torch.testing.assert_close(op @ x, scipy_out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("build", OPERATORS)
def test_transpose_and_weighted_adjoint(build):
    graph, w = _graph_and_weight()
    op = build(graph, w)
    dense = op.to_dense()
    torch.testing.assert_close(op.T.to_dense(), dense.T, rtol=1e-12, atol=1e-12)
    # <A x, y>_codomain = <x, A* y>_domain  <=>  A* = M_dom^{-1} A^T M_cod
    m_dom, m_cod = _measure(op, op.domain), _measure(op, op.codomain)
    expected = (dense.T * m_cod) / m_dom.unsqueeze(1)
    torch.testing.assert_close(
        op.adjoint().to_dense(), expected, rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("build", OPERATORS)
def test_gradcheck_wrt_input_and_edge_weights(build):
    graph, w0 = _graph_and_weight(n=6, seed=4)
    gen = torch.Generator().manual_seed(4)
    op0 = build(graph, w0)
    x = torch.randn(op0.shape[1], 2, generator=gen).requires_grad_(True)
    w = w0.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, w: build(graph, w) @ x, (x, w))


@pytest.mark.parametrize("build", OPERATORS)
def test_to_dtype_moves_the_values(build):
    graph, w = _graph_and_weight()
    op = build(graph, w).to(dtype=torch.float32)
    x = torch.randn(op.shape[1], 2, dtype=torch.float32)
    assert op.dtype == torch.float32 and (op @ x).dtype == torch.float32
    torch.testing.assert_close(
        op @ x, build(graph, w).to_dense().float() @ x, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("build", OPERATORS)
def test_repr_names_the_class(build):
    graph, w = _graph_and_weight()
    op = build(graph, w)
    assert repr(op).startswith(type(op).__name__ + "(")
