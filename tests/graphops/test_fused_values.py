"""The fused value construction of Laplacian/Adjacency (one autograd node, issue 13).

The reference is the composed-ops path :func:`graphops.operators._adjacency_parts`
(degree by ``index_add``, normalisation, ``cat`` and a gather into CSR order), whose
derivatives torch's autograd computes op by op: forward values, gradients,
double backward, forward mode and batched gradients must agree with it.
"""

import pytest
import torch

from graphops import Adjacency, Graph, Laplacian
from graphops.operators import _adjacency_parts, _node_pattern

from conftest import make_random_graph

NORMS = [None, "sym", "rw", "gcn"]
CLASSES = {"Laplacian": Laplacian, "Adjacency": Adjacency}


def graph_with_isolated_nodes(seed: int = 0) -> Graph:
    """A random weighted graph plus two isolated nodes (zero rows in sym/rw)."""
    g = make_random_graph(9, 0.4, seed=seed)
    return Graph(g.directed_edge_index, g.num_nodes + 2, torch.cat([g.edge_weight] * 2))


def unfused_values(g: Graph, norm, w: torch.Tensor, cls: str) -> torch.Tensor:
    """CSR values built with the composed ops (what the operators did before)."""
    ident, adj_diag, fwd, bwd, _ = _adjacency_parts(g, norm, w, cls, True)
    _, order = _node_pattern(g)
    if cls == "Adjacency":
        return torch.cat([adj_diag, fwd, bwd])[order]
    diag = ident - adj_diag if ident is not None else 1.0 - adj_diag
    return torch.cat([diag, -fwd, -bwd])[order]


def weights(g: Graph, directed: bool) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    m = g.num_edges * (2 if directed else 1)
    return (torch.rand(m, generator=gen, dtype=torch.float64) + 0.2).requires_grad_()


CASES = [
    (cls, norm, directed)
    for cls in CLASSES
    for norm in NORMS
    for directed in (False, True)
]


@pytest.mark.parametrize(("cls", "norm", "directed"), CASES)
def test_forward_values_equal_the_unfused_path(cls, norm, directed):
    g = graph_with_isolated_nodes()
    w = weights(g, directed)
    fused = CLASSES[cls](g, norm, edge_weight=w).values
    ref = unfused_values(g, norm, w, cls)
    assert fused.dtype == torch.float64
    assert (fused - ref).abs().max().item() <= 1e-14


@pytest.mark.parametrize(("cls", "norm", "directed"), CASES)
def test_gradient_equals_the_unfused_path_and_gradcheck(cls, norm, directed):
    g = graph_with_isolated_nodes(seed=1)
    w = weights(g, directed)
    r = torch.randn(g.num_nodes + 2 * g.num_edges, dtype=torch.float64)
    fused = CLASSES[cls](g, norm, edge_weight=w).values
    (g_fused,) = torch.autograd.grad((fused * r).sum(), w)
    (g_ref,) = torch.autograd.grad((unfused_values(g, norm, w, cls) * r).sum(), w)
    assert torch.allclose(g_fused, g_ref, rtol=1e-12, atol=1e-13)
    assert torch.autograd.gradcheck(
        lambda v: CLASSES[cls](g, norm, edge_weight=v).values, (w,)
    )


@pytest.mark.parametrize("norm", NORMS)
def test_double_backward_through_the_fused_node(norm):
    g = graph_with_isolated_nodes(seed=2)
    w = weights(g, directed=True)
    x = torch.randn(g.num_nodes, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(
        lambda v, y: Laplacian(g, norm, edge_weight=v) @ y, (w, x)
    )


@pytest.mark.parametrize(("cls", "norm", "directed"), CASES)
def test_forward_mode_matches_the_unfused_path(cls, norm, directed):
    from torch.func import jvp

    g = graph_with_isolated_nodes(seed=4)
    w = weights(g, directed).detach()
    dw = torch.randn_like(w)
    _, t_fused = jvp(lambda v: CLASSES[cls](g, norm, edge_weight=v).values, (w,), (dw,))
    _, t_ref = jvp(lambda v: unfused_values(g, norm, v, cls), (w,), (dw,))
    assert torch.allclose(t_fused, t_ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("norm", NORMS)
def test_batched_gradients_match_one_at_a_time(norm):
    g = graph_with_isolated_nodes(seed=5)
    w = weights(g, directed=False)
    v = Laplacian(g, norm, edge_weight=w).values
    rs = torch.randn(3, v.shape[0], dtype=torch.float64)
    (batched,) = torch.autograd.grad(v, w, rs, retain_graph=True, is_grads_batched=True)
    for k in range(3):
        (one,) = torch.autograd.grad(v, w, rs[k], retain_graph=True)
        assert torch.allclose(batched[k], one, rtol=1e-13, atol=1e-14)


def test_default_weights_use_the_graph_weights():
    g = graph_with_isolated_nodes(seed=6)
    for norm in NORMS:
        fused = Laplacian(g, norm).values
        ref = unfused_values(g, norm, g.edge_weight, "Laplacian")
        assert (fused - ref).abs().max().item() <= 1e-14
        assert Laplacian(g, norm).is_symmetric == (norm != "rw")
