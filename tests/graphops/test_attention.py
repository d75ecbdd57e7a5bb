"""graphops.attention against a dense reference written here.

The reference builds the full ``[heads, N, N]`` score matrix, masks it to the edges
(both directions) plus the diagonal, normalises every row (``norm_idx=0``) or every
column (``norm_idx=1``) and averages the heads.
"""

from __future__ import annotations

import math

import pytest
import torch

from graphops import Graph
from graphops.attention import (
    AttentionWeights,
    attention_edge_index,
    attention_scores,
    attention_weights,
    normalize_scores,
)

from conftest import make_random_graph

NORMS = ["softmax", "squareplus"]


def dense_attention(
    q,
    k,
    graph,
    *,
    heads,
    normalization,
    norm_idx,
    self_loops=True,
    score="scaled_dot",
    scaling="sqrt",
    output_var=None,
    lengthscale=None,
):
    n, width = q.shape
    d_k = width // heads
    qh = q.reshape(n, heads, d_k).transpose(0, 1)  # [H, N, d_k]
    kh = k.reshape(n, heads, d_k).transpose(0, 1)
    if score == "scaled_dot":
        scale = math.sqrt(d_k) if scaling == "sqrt" else d_k
        s = qh @ kh.transpose(1, 2) / scale  # s[h, a, b] = <q_a, k_b>
    else:
        dist = ((qh[:, :, None, :] - kh[:, None, :, :]) ** 2).sum(-1)
        s = output_var**2 * torch.exp(-dist / (2 * lengthscale**2))
    mask = graph_mask(graph, self_loops)
    if normalization == "softmax":
        z = s.masked_fill(~mask, -math.inf)
        a = torch.softmax(z, dim=2 if norm_idx == 0 else 1)
    else:
        m = s[:, mask].max()
        sp = (s - m + torch.sqrt((s - m) ** 2 + 4)) / 2 * mask
        a = sp / sp.sum(dim=2 if norm_idx == 0 else 1, keepdim=True)
    a = torch.nan_to_num(a * mask, nan=0.0)
    return a.mean(0)


def graph_mask(graph, self_loops):
    n = graph.num_nodes
    mask = torch.zeros(n, n, dtype=torch.bool)
    i, j = graph.edge_index
    mask[i, j] = True
    mask[j, i] = True
    if self_loops:
        mask |= torch.eye(n, dtype=torch.bool)
    return mask


def permute_graph(graph, perm):
    """New node ``a`` is old node ``perm[a]``."""
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(perm.numel())
    return Graph(
        inverse[graph.edge_index],
        graph.num_nodes,
        graph.edge_weight,
        directed="symmetrize",
    )


def _qk(n, width, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, width, generator=gen), torch.randn(n, width, generator=gen)


@pytest.fixture
def graph():
    # Node 7 is isolated for this seed: an empty group without self-loops.
    return make_random_graph(12, 0.25, seed=1)


def test_edge_index_is_directed_pairs_then_self_loops(graph):
    ei = attention_edge_index(graph)
    m2 = 2 * graph.num_edges
    assert torch.equal(ei[:, :m2], graph.directed_edge_index)
    assert torch.equal(ei[:, m2:], torch.arange(12).expand(2, 12))
    assert torch.equal(attention_edge_index(graph, self_loops=False), ei[:, :m2])


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("norm_idx", [0, 1])
@pytest.mark.parametrize("self_loops", [True, False])
def test_matches_dense_reference_and_is_stochastic(
    graph, normalization, norm_idx, self_loops
):
    q, k = _qk(12, 6)
    w = attention_weights(
        q,
        k,
        graph,
        heads=3,
        normalization=normalization,
        norm_idx=norm_idx,
        self_loops=self_loops,
    )
    A = w.to_dense()
    ref = dense_attention(
        q,
        k,
        graph,
        heads=3,
        normalization=normalization,
        norm_idx=norm_idx,
        self_loops=self_loops,
    )
    torch.testing.assert_close(A, ref, rtol=1e-12, atol=1e-14)
    assert (A >= 0).all()
    # norm_idx=0: rows sum to 1 (row-stochastic in the graphops convention);
    # norm_idx=1: columns sum to 1. Without self-loops an isolated node has an
    # empty group (sum 0).
    sums = A.sum(1 - norm_idx)
    nonempty = graph_mask(graph, self_loops).any(1)
    torch.testing.assert_close(sums[nonempty], torch.ones(int(nonempty.sum())))
    assert (~nonempty).sum() == (0 if self_loops else 1)
    assert (sums[~nonempty] == 0).all()
    assert self_loops or (w.self_weight is None)


def test_norm_index_one_is_transpose_of_row_stochastic_with_swapped_roles(graph):
    # On a symmetric edge set, normalising columns of s(q, k) equals the transpose
    # of normalising rows of s(k, q).
    q, k = _qk(12, 4)
    cols = attention_weights(q, k, graph, heads=2, norm_idx=1).to_dense()
    rows = attention_weights(k, q, graph, heads=2, norm_idx=0).to_dense()
    torch.testing.assert_close(cols, rows.T)


def test_matmul_is_dense_product_through_adjacency(graph):
    q, k = _qk(12, 4)
    w = attention_weights(q, k, graph, heads=2, normalization="squareplus")
    x = torch.randn(12, 3)
    torch.testing.assert_close(w @ x, w.to_dense() @ x)
    # The off-diagonal part alone is an Adjacency with [2M] weights.
    off = w.adjacency().to_dense()
    assert torch.all(off.diagonal() == 0)
    torch.testing.assert_close(off + torch.diag(w.self_weight), w.to_dense())
    # Built once and kept (GRAND-l applies the same attention at every evaluation).
    assert w.adjacency() is w.adjacency()
    assert attention_edge_index(graph) is attention_edge_index(graph)


@pytest.mark.parametrize("scaling", ["sqrt", "linear"])
def test_scaled_dot_scaling(graph, scaling):
    q, k = _qk(12, 8)
    ei = attention_edge_index(graph)
    s = attention_scores(q, k, ei, heads=2, scaling=scaling)
    d_k = 4
    ref = (q[ei[0], :4] * k[ei[1], :4]).sum(-1)
    div = math.sqrt(d_k) if scaling == "sqrt" else d_k
    torch.testing.assert_close(s[:, 0], ref / div)


@pytest.mark.parametrize("normalization", NORMS)
def test_exp_kernel_matches_dense(graph, normalization):
    q, k = _qk(12, 4)
    s, ell = torch.tensor(1.3), torch.tensor(0.7)
    w = attention_weights(
        q,
        k,
        graph,
        heads=2,
        score="exp_kernel",
        normalization=normalization,
        output_var=s,
        lengthscale=ell,
    )
    ref = dense_attention(
        q,
        k,
        graph,
        heads=2,
        normalization=normalization,
        norm_idx=0,
        score="exp_kernel",
        output_var=s,
        lengthscale=ell,
    )
    torch.testing.assert_close(w.to_dense(), ref)


def test_squareplus_uses_the_global_max():
    # Two groups at different score levels: a per-group max would give both groups
    # the same weights (0.5, 0.5 shifted alike); the global max does not.
    index = torch.tensor([0, 0, 1, 1])
    scores = torch.tensor([0.0, 1.0, 10.0, 11.0]).unsqueeze(1)
    sp = normalize_scores(scores, index, 2, normalization="squareplus")
    z = scores - 11.0
    v = (z + torch.sqrt(z * z + 4)) / 2
    total = torch.zeros(2, 1).index_add(0, index, v)
    torch.testing.assert_close(sp, v / total[index])
    assert not torch.allclose(sp[:2], sp[2:])


def test_softmax_is_shift_invariant_and_one_dimensional_scores_work(graph):
    ei = attention_edge_index(graph)
    s = torch.randn(ei.shape[1])
    a = normalize_scores(s, ei[0], 12)
    torch.testing.assert_close(a, normalize_scores(s + 50.0, ei[0], 12))
    assert a.shape == s.shape


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("norm_idx", [0, 1])
def test_gradcheck_wrt_queries_and_keys(normalization, norm_idx):
    g = make_random_graph(6, 0.5, seed=1)
    q, k = _qk(6, 4, seed=2)
    x = torch.randn(6, 2)

    def f(q, k):
        w = attention_weights(
            q, k, g, heads=2, normalization=normalization, norm_idx=norm_idx
        )
        return w @ x

    inputs = (q.requires_grad_(True), k.requires_grad_(True))
    assert torch.autograd.gradcheck(f, inputs)


def test_gradcheck_exp_kernel_parameters():
    g = make_random_graph(6, 0.5, seed=1)
    q, k = _qk(6, 4, seed=2)

    def f(q, k, s, ell):
        w = attention_weights(
            q,
            k,
            g,
            heads=2,
            score="exp_kernel",
            normalization="squareplus",
            output_var=s,
            lengthscale=ell,
        )
        return torch.cat([w.edge_weight, w.self_weight])

    inputs = [
        q.requires_grad_(True),
        k.requires_grad_(True),
        torch.tensor(1.2, requires_grad=True),
        torch.tensor(0.8, requires_grad=True),
    ]
    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("norm_idx", [0, 1])
def test_permutation_equivariance(graph, normalization, norm_idx):
    q, k = _qk(12, 4)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(5))
    kw = dict(heads=2, normalization=normalization, norm_idx=norm_idx)
    A = attention_weights(q, k, graph, **kw).to_dense()
    Ap = attention_weights(q[perm], k[perm], permute_graph(graph, perm), **kw)
    torch.testing.assert_close(Ap.to_dense(), A[perm][:, perm])


def test_edge_weight_in_directed_edge_index_order(graph):
    q, k = _qk(12, 2)
    w = attention_weights(q, k, graph)
    A = w.to_dense()
    a, b = graph.directed_edge_index
    torch.testing.assert_close(w.edge_weight, A[a, b])
    torch.testing.assert_close(w.self_weight, A.diagonal())
    assert isinstance(w, AttentionWeights)


def test_graph_without_edges():
    g = Graph(torch.zeros(2, 0, dtype=torch.long), 3)
    q, k = _qk(3, 2)
    w = attention_weights(q, k, g, normalization="squareplus")
    torch.testing.assert_close(w.to_dense(), torch.eye(3))
    w = attention_weights(q, k, g, self_loops=False)
    assert w.edge_weight.numel() == 0 and w.self_weight is None
    assert torch.equal(w @ torch.ones(3, 1), torch.zeros(3, 1))


# -- errors ---------------------------------------------------------------------------
def test_errors(graph):
    q, k = _qk(12, 4)
    ei = attention_edge_index(graph)
    with pytest.raises(ValueError, match=r"`q` must be a floating tensor"):
        attention_weights(q[:, 0], k, graph)
    with pytest.raises(ValueError, match=r"`k` must be a floating tensor"):
        attention_scores(q, k.long(), ei)
    with pytest.raises(ValueError, match=r"same shape; got \(12, 4\) and \(12, 2\)"):
        attention_weights(q, k[:, :2], graph)
    with pytest.raises(ValueError, match=r"one row per node \(12\); got 5 rows"):
        attention_weights(q[:5], k[:5], graph)
    with pytest.raises(ValueError, match=r"`heads`=3 must divide the width"):
        attention_weights(q, k, graph, heads=3)
    with pytest.raises(ValueError, match=r"`heads` must be"):
        attention_scores(q, k, ei, heads=0)
    with pytest.raises(ValueError, match=r"`score` must be one of"):
        attention_weights(q, k, graph, score="cosine_sim")
    with pytest.raises(ValueError, match=r"`scaling` must be one of"):
        attention_weights(q, k, graph, scaling="none")
    with pytest.raises(ValueError, match=r"needs `output_var` and `lengthscale`"):
        attention_weights(q, k, graph, score="exp_kernel", output_var=1.0)
    with pytest.raises(ValueError, match=r"`edge_index` must be an int64 tensor"):
        attention_scores(q, k, ei[0])
    with pytest.raises(ValueError, match=r"`normalization` must be one of"):
        attention_weights(q, k, graph, normalization="sparsemax")
    with pytest.raises(ValueError, match=r"`index` must be an int64 tensor \[E\]"):
        normalize_scores(torch.ones(4), ei[0], 12)
    with pytest.raises(ValueError, match=r"`norm_idx` must be 0 .* got 2"):
        attention_weights(q, k, graph, norm_idx=2)
    with pytest.raises(ValueError, match=r"`norm_idx` must be 0 .* got True"):
        attention_weights(q, k, graph, norm_idx=True)
    meta = torch.empty(12, 4, device="meta")
    with pytest.raises(ValueError, match=r"`q` is on meta but the graph is on cpu"):
        attention_weights(meta, meta, graph)


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("norm_idx", [0, 1])
@pytest.mark.parametrize("self_loops", [True, False])
@pytest.mark.parametrize("scaling", ["sqrt", "linear"])
def test_sddmm_scores_equal_gather_scores(
    graph, normalization, norm_idx, self_loops, scaling
):
    # The default (sddmm) path against the gather reference and the dense one,
    # values and gradients of q and k.
    q, k = (t.requires_grad_() for t in _qk(12, 6, seed=4))
    kw = dict(
        heads=3,
        normalization=normalization,
        norm_idx=norm_idx,
        self_loops=self_loops,
        scaling=scaling,
    )
    fast = attention_weights(q, k, graph, method="sddmm", **kw)
    ref = attention_weights(q, k, graph, method="gather", **kw)
    auto = attention_weights(q, k, graph, **kw)
    assert torch.equal(auto.edge_weight, fast.edge_weight)
    assert torch.allclose(fast.edge_weight, ref.edge_weight, atol=1e-14)
    if self_loops:
        assert torch.allclose(fast.self_weight, ref.self_weight, atol=1e-14)
    dense = dense_attention(q, k, graph, **kw)
    assert torch.allclose(fast.to_dense(), dense, atol=1e-12)
    x = torch.randn(12, 2)
    g_fast = torch.autograd.grad((fast @ x).pow(2).sum(), (q, k))
    g_ref = torch.autograd.grad((ref @ x).pow(2).sum(), (q, k))
    for a, b in zip(g_fast, g_ref, strict=True):
        assert torch.allclose(a, b, atol=1e-12)


def test_sddmm_path_second_and_forward_derivatives(graph):
    # GRAND-nl's Jacobian tools use forward mode; training may double-backward.
    q, k = (t.requires_grad_() for t in _qk(12, 4, seed=5))

    def f(q, k):
        return attention_weights(q, k, graph, heads=2, method="sddmm").edge_weight

    assert torch.autograd.gradcheck(f, (q, k), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(f, (q, k))


def test_method_errors(graph):
    q, k = _qk(12, 4)
    with pytest.raises(ValueError, match="`method` must be one of"):
        attention_weights(q, k, graph, method="dense")
    with pytest.raises(ValueError, match="sddmm' computes scaled_dot scores only"):
        attention_weights(
            q,
            k,
            graph,
            score="exp_kernel",
            output_var=1.0,
            lengthscale=1.0,
            method="sddmm",
        )
    with pytest.raises(ValueError, match="`heads`=3 must divide"):
        attention_weights(q, k, graph, heads=3)
