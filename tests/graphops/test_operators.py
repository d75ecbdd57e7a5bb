"""Operator identities against independent references (dense, scipy.csgraph)."""

import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from graphops import (
    Adjacency,
    Divergence,
    EdgeToNodeMean,
    Gradient,
    Graph,
    Laplacian,
    NodeToEdgeMean,
    lam_max,
)

from conftest import make_random_graph

NORMS = [None, "sym", "rw", "gcn"]


def dense_reference(g: Graph, norm):
    a = g.to_dense()
    d = a.sum(1)
    n = g.num_nodes
    if norm is None:
        return torch.diag(d) - a
    if norm == "gcn":
        s = (d + 1).rsqrt()
        return torch.eye(n) - s[:, None] * (a + torch.eye(n)) * s[None, :]
    conn = (d > 0).to(a.dtype)
    inv = torch.where(d > 0, 1 / d, torch.zeros_like(d))
    if norm == "sym":
        return torch.diag(conn) - inv.sqrt()[:, None] * a * inv.sqrt()[None, :]
    return torch.diag(conn) - inv[:, None] * a


@pytest.mark.parametrize("norm", NORMS, ids=repr)
def test_laplacian_matches_dense_reference(random_graph, norm):
    L = Laplacian(random_graph, norm)
    ref = dense_reference(random_graph, norm)
    assert torch.allclose(L.to_dense(), ref, atol=1e-13)
    x = torch.randn(random_graph.num_nodes, 3)
    assert torch.allclose(L @ x, ref @ x, atol=1e-12)
    assert np.allclose(L.to_scipy().toarray(), ref.numpy(), atol=1e-13)
    assert L.is_symmetric == (norm != "rw")


@pytest.mark.parametrize("normed", [False, True])
def test_laplacian_matches_scipy_csgraph(normed):
    g = make_random_graph(30, 0.1, seed=3)  # has isolated nodes
    assert (g.degree() == 0).any()
    ref = csgraph.laplacian(g.to_scipy().toarray(), normed=normed)
    L = Laplacian(g, "sym" if normed else None)
    assert np.allclose(L.to_dense().numpy(), ref, atol=1e-13)


@pytest.mark.parametrize("norm", NORMS, ids=repr)
def test_adjacency_is_identity_minus_laplacian(random_graph, norm):
    A = Adjacency(random_graph, norm).to_dense()
    L = Laplacian(random_graph, norm).to_dense()
    conn = (
        torch.diag((random_graph.degree() > 0).to(A.dtype))
        if norm in ("sym", "rw")
        else torch.eye(random_graph.num_nodes)
    )
    if norm is None:
        conn = torch.diag(random_graph.degree())
    assert torch.allclose(conn - A, L, atol=1e-13)


def test_gcn_step_is_euler_step(random_graph):
    x = torch.randn(random_graph.num_nodes, 4)
    L = Laplacian(random_graph, "gcn")
    A = Adjacency(random_graph, "gcn")
    assert torch.allclose(x - 1.0 * (L @ x), A @ x, atol=1e-13)


def test_gradient_divergence_identities(random_graph):
    g = random_graph
    x = torch.randn(g.num_nodes, 3)
    F = torch.randn(g.num_edges, 3)
    w = g.edge_weight[:, None]
    G, D = Gradient(g), Divergence(g)
    # <grad x, F>_E = -<x, div F>_V
    assert torch.allclose(((G @ x) * F * w).sum(), -(x * (D @ F)).sum())
    # adjoint: <G x, F>_E = <x, G* F>_V and G* = -div
    assert torch.allclose(((G @ x) * F * w).sum(), (x * (G.adjoint() @ F)).sum())
    assert torch.allclose(G.adjoint().to_dense(), -D.to_dense())
    assert torch.allclose(D.adjoint().to_dense(), -G.to_dense())
    # L = -div grad = G^T W G
    Gd = G.to_dense()
    assert torch.allclose(
        Laplacian(g).to_dense(), Gd.T @ torch.diag(g.edge_weight) @ Gd, atol=1e-13
    )
    assert torch.allclose(-(D @ (G @ x)), Laplacian(g) @ x, atol=1e-12)
    # explicit entries: (grad x)_e = x_j - x_i
    i, j = g.edge_index
    assert torch.allclose(G @ x, x[j] - x[i])
    # plain transpose
    assert torch.allclose(G.T.to_dense(), Gd.T)


def test_averaging_operators(random_graph):
    g = random_graph
    x = torch.randn(g.num_nodes, 2)
    F = torch.randn(g.num_edges, 2)
    i, j = g.edge_index
    assert torch.allclose(NodeToEdgeMean(g) @ x, 0.5 * (x[i] + x[j]))
    m = EdgeToNodeMean(g)
    d = g.degree()
    ref = (
        torch.zeros(g.num_nodes, 2)
        .index_add(0, i, g.edge_weight[:, None] * F)
        .index_add(0, j, g.edge_weight[:, None] * F)
    )
    ref = torch.where(
        d[:, None] > 0, ref / d.clamp_min(1e-300)[:, None], torch.zeros_like(ref)
    )
    assert torch.allclose(m @ F, ref)
    # constants are preserved where the degree is positive
    ones = torch.ones(g.num_edges, 1)
    assert torch.allclose((m @ ones)[d > 0], torch.ones(int((d > 0).sum()), 1))
    # weighted adjoints
    w = g.edge_weight[:, None]
    for op in (NodeToEdgeMean(g), m):
        a = op.adjoint()
        if op.domain == "node":
            assert torch.allclose(((op @ x) * F * w).sum(), (x * (a @ F)).sum())
        else:
            assert torch.allclose(((op @ F) * x).sum(), (F * w * (a @ x)).sum())


@pytest.mark.parametrize("norm", [None, "sym", "gcn"], ids=repr)
def test_psd_symmetric_and_kernel(random_graph, norm):
    L = Laplacian(random_graph, norm)
    dense = L.to_dense()
    assert torch.allclose(dense, dense.T)
    assert torch.linalg.eigvalsh(dense).min() > -1e-12
    if norm is None:
        assert torch.allclose(
            L @ torch.ones(random_graph.num_nodes, 1),
            torch.zeros(random_graph.num_nodes, 1),
            atol=1e-13,
        )


def test_lam_max_sym_at_most_two_and_matches_eigsh(random_graph):
    from scipy.sparse.linalg import eigsh

    for norm in (None, "sym", "gcn"):
        L = Laplacian(random_graph, norm)
        ref = eigsh(L.to_scipy(), k=1, which="LA")[0][0]
        assert lam_max(L) == pytest.approx(ref, rel=1e-8)
        assert lam_max(L, method="gershgorin") >= ref - 1e-12
        assert lam_max(L, method="power", max_iters=2000, tol=1e-9) == pytest.approx(
            ref, rel=1e-3
        )
    assert lam_max(Laplacian(random_graph, "sym")) <= 2 + 1e-12


def test_directed_weights_give_nonsymmetric_operator(random_graph):
    g = random_graph
    w = torch.rand(2 * g.num_edges) + 0.1
    L = Laplacian(g, None, edge_weight=w)
    assert not L.is_symmetric
    n = g.num_nodes
    W = torch.zeros(n, n)
    src, dst = g.directed_edge_index
    W[src, dst] = w
    assert torch.allclose(L.to_dense(), torch.diag(W.sum(1)) - W)
    # the row-sum property of a Laplacian still holds
    assert torch.allclose(L @ torch.ones(n, 1), torch.zeros(n, 1), atol=1e-12)


@pytest.mark.parametrize(
    "op_cls",
    [Gradient, Divergence, NodeToEdgeMean, EdgeToNodeMean],
    ids=lambda c: c.__name__,
)
def test_gradcheck_edge_ops(op_cls):
    g = make_random_graph(7, 0.5, seed=1)
    w = (torch.rand(g.num_edges) + 0.2).requires_grad_()
    dom = g.num_nodes if op_cls in (Gradient, NodeToEdgeMean) else g.num_edges
    x = torch.randn(dom, 2, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, x: op_cls(g, edge_weight=w) @ x, (w, x))


@pytest.mark.parametrize("norm", NORMS, ids=repr)
@pytest.mark.parametrize("directed", [False, True], ids=["sym_w", "dir_w"])
def test_gradcheck_laplacian(norm, directed):
    g = make_random_graph(8, 0.5, seed=2)
    m = g.num_edges * (2 if directed else 1)
    w = (torch.rand(m) + 0.2).requires_grad_()
    x = torch.randn(8, 2, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w, x: Laplacian(g, norm, edge_weight=w) @ x, (w, x)
    )
    assert torch.autograd.gradcheck(
        lambda w, x: Adjacency(g, norm, edge_weight=w) @ x, (w, x)
    )


def test_jvp_matches_forward_difference():
    from torch.func import jvp

    g = make_random_graph(9, 0.4, seed=4)
    w = torch.rand(g.num_edges) + 0.2
    x = torch.randn(9, 2)
    dw, dx = torch.randn_like(w), torch.randn_like(x)
    f = lambda w, x: Laplacian(g, "sym", edge_weight=w) @ x  # noqa: E731
    _, tangent = jvp(f, (w, x), (dw, dx))
    eps = 1e-6
    fd = (f(w + eps * dw, x + eps * dx) - f(w - eps * dw, x - eps * dx)) / (2 * eps)
    assert torch.allclose(tangent, fd, atol=1e-8)


def permute_graph(g: Graph, perm: torch.Tensor) -> Graph:
    inv = torch.argsort(perm)  # new id of old node k is inv[k]
    return Graph(
        inv[g.directed_edge_index],
        g.num_nodes,
        torch.cat([g.edge_weight, g.edge_weight]),
    )


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 25),
    p=st.floats(0.05, 0.6),
    seed=st.integers(0, 10_000),
    norm=st.sampled_from(NORMS),
)
def test_property_identities(n, p, seed, norm):
    g = make_random_graph(n, p, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=gen)
    L = Laplacian(g, norm)
    # permutation equivariance: L(P g) P x = P L(g) x
    perm = torch.randperm(n, generator=gen)
    gp = permute_graph(g, perm)
    assert torch.allclose(Laplacian(gp, norm) @ x[perm], (L @ x)[perm], atol=1e-12)
    # invariance to edge order (shuffle the directed input columns)
    dei = g.directed_edge_index
    order = torch.randperm(dei.shape[1], generator=gen)
    w2 = torch.cat([g.edge_weight, g.edge_weight])
    gs = Graph(dei[:, order], n, w2[order])
    assert torch.allclose(Laplacian(gs, norm) @ x, L @ x, atol=1e-13)
    if norm != "rw":
        q = (x * (L @ x)).sum()
        assert q >= -1e-12
    if norm is None:
        # x^T L x = sum_e w_e (x_j - x_i)^2
        i, j = g.edge_index
        assert torch.allclose(
            (x * (L @ x)).sum(), (g.edge_weight[:, None] * (x[j] - x[i]) ** 2).sum()
        )
    if norm == "sym" and g.num_edges > 0:
        assert lam_max(L) <= 2 + 1e-10


def test_empty_graph_operators():
    g = Graph(torch.empty(2, 0, dtype=torch.long), 4)
    x = torch.randn(4, 2)
    assert torch.equal(Laplacian(g) @ x, torch.zeros(4, 2))
    assert (Gradient(g) @ x).shape == (0, 2)
    assert torch.equal(Laplacian(g, "sym") @ x, torch.zeros(4, 2))
    assert torch.allclose(Laplacian(g, "gcn") @ x, torch.zeros(4, 2))


def test_operator_errors(random_graph):
    g = random_graph
    with pytest.raises(ValueError, match="`normalization` must be one of"):
        Laplacian(g, "both")
    with pytest.raises(ValueError, match=r"`edge_weight` must have shape \[M\]"):
        Laplacian(g, edge_weight=torch.ones(3))
    with pytest.raises(
        ValueError,
        match=r"`edge_weight` must have shape \[M\]=\[\d+\], one weight per edge",
    ):
        Gradient(g, edge_weight=torch.ones(2 * g.num_edges))
    with pytest.raises(TypeError, match="must be a floating tensor"):
        Laplacian(g, edge_weight=torch.ones(g.num_edges, dtype=torch.long))
    with pytest.raises(ValueError, match="finite and >= 0"):
        Laplacian(g, edge_weight=-torch.ones(g.num_edges))
    with pytest.raises(ValueError, match=r"expected a node signal of shape \[40, F\]"):
        Laplacian(g) @ torch.randn(40)
    with pytest.raises(
        ValueError, match=r"Divergence\(\): expected an edge signal of shape \[96, F\]"
    ):
        Divergence(g) @ torch.randn(3, 1)
    with pytest.raises(ValueError, match="only node -> node operators have a diagonal"):
        Gradient(g).diagonal()
    with pytest.raises(ValueError, match="`method` must be one of"):
        lam_max(Laplacian(g), method="qr")
    with pytest.raises(ValueError, match="needs a node -> node GraphOperator"):
        lam_max(Gradient(g))
    with pytest.raises(ValueError, match="needs a symmetric operator"):
        lam_max(Laplacian(g, "rw"))


def test_validate_false_skips_value_check(random_graph):
    w = -torch.ones(random_graph.num_edges)
    L = Laplacian(
        random_graph, edge_weight=w, validate=False
    )  # the caller's responsibility
    assert L.to_dense().trace() < 0


def test_dtype_follows_input(random_graph):
    L = Laplacian(random_graph, "sym")
    y = L @ torch.randn(random_graph.num_nodes, 3, dtype=torch.float32)
    assert y.dtype == torch.float32


def test_diagonal(random_graph):
    L = Laplacian(random_graph)
    assert torch.allclose(L.diagonal(), random_graph.degree())
    assert torch.allclose(
        Laplacian(random_graph, "gcn").diagonal(),
        torch.diagonal(Laplacian(random_graph, "gcn").to_dense()),
    )


def test_lam_max_is_cached(random_graph):
    L = Laplacian(random_graph)
    v = lam_max(L)
    assert any(k[0] == "lam_max" for k in L.cache)
    assert lam_max(L) == v


def test_no_normalisation_is_spelled_none(random_graph):
    assert Laplacian(random_graph, None).normalization is None
    for where, build in (
        ("Laplacian", lambda n: Laplacian(random_graph, n)),
        ("Adjacency", lambda n: Adjacency(random_graph, n)),
    ):
        for text in ("none", "None"):
            with pytest.raises(
                ValueError,
                match=rf"{where}: `normalization` must be one of \(None, 'sym', "
                rf"'rw', 'gcn'\); got the string '{text}'\. For no normalisation "
                r"pass normalization=None \(the Python value\)",
            ):
                build(text)
    with pytest.raises(
        ValueError,
        match=r"Laplacian: `normalization` must be one of .*; got int 2\. None = no "
        r"normalisation \(D - W\); 'sym' = ",
    ):
        Laplacian(random_graph, 2)


def test_reprs_name_the_attributes(path_graph):
    L = Laplacian(path_graph, "sym")
    assert repr(L) == (
        "Laplacian(normalization='sym', shape=(10, 10), dtype=torch.float64, "
        "device=cpu)"
    )
    assert L.normalization == "sym" and L.shape == (10, 10)
    G = Gradient(path_graph)
    assert repr(G) == "Gradient(shape=(9, 10), dtype=torch.float64, device=cpu)"
    # derived operators show how they were made; the shape is the original's
    assert repr(G.T) == (
        "Gradient(shape=(9, 10), dtype=torch.float64, device=cpu).T"
    ) and G.T.shape == (10, 9)
    assert repr(G.adjoint().T).startswith("Divergence(shape=(10, 9), ")
    assert repr(L.scale(2.0)).endswith("device=cpu).scale(2)")
    assert repr(L.shifted(1.0, 0.5)).endswith(".shifted(shift=1, scale=0.5)")
    assert repr(L.to(dtype=torch.float32)).startswith(
        "Laplacian(normalization='sym', shape=(10, 10), dtype=torch.float32"
    )
    assert repr(path_graph) == (
        "Graph(num_nodes=10, num_edges=9, weighted=False, dtype=torch.float64, "
        "device=cpu)"
    )


@pytest.mark.parametrize("norm", NORMS, ids=repr)
def test_shifted_fuses_the_identity(random_graph, norm):
    L = Laplacian(random_graph, norm)
    n = random_graph.num_nodes
    B = L.shifted(0.7, 0.3)
    assert B.pattern is L.pattern
    assert torch.allclose(B.to_dense(), 0.7 * torch.eye(n) + 0.3 * L.to_dense())
    assert torch.allclose(B.diagonal(), 0.7 + 0.3 * L.diagonal())
    assert B.is_symmetric == L.is_symmetric
    assert L.shifted() is L
    x = torch.randn(n, 2)
    out = torch.full((n, 2), float("nan"))
    y = B.matmul(x, out=out)
    assert y is out and torch.allclose(y, B.to_dense() @ x, atol=1e-12)
    # tensor shift/scale are differentiable
    c = torch.tensor(0.7, requires_grad=True)
    (gc,) = torch.autograd.grad((L.shifted(c, 0.3) @ x).sum(), c)
    assert torch.allclose(gc, x.sum())
    with pytest.raises(
        ValueError, match=r"Gradient\(.*\)\.shifted: only node -> node operators"
    ):
        Gradient(random_graph).shifted(1.0)


@pytest.mark.parametrize("backend", ["csr", "gather"])
def test_matmul_out_buffer(random_graph, backend):
    L = Laplacian(random_graph)
    x = torch.randn(random_graph.num_nodes, 3)
    out = torch.empty(random_graph.num_nodes, 3)
    y = L.matmul(x, backend=backend, out=out)
    assert y is out and torch.allclose(y, L.to_dense() @ x, atol=1e-12)
    # with autograd the product is still differentiable when written into `out`
    w = random_graph.edge_weight.clone().requires_grad_()
    y = Laplacian(random_graph, edge_weight=w).matmul(x, backend=backend, out=out)
    (gw,) = torch.autograd.grad(y.sum(), w)
    ref = torch.autograd.grad((Laplacian(random_graph, edge_weight=w) @ x).sum(), w)
    assert torch.allclose(gw, ref[0])


def test_empty_pattern_with_out_buffer():
    g = Graph(torch.empty(2, 0, dtype=torch.long), 3)
    out = torch.full((0, 2), 1.0)
    assert Gradient(g).matmul(torch.randn(3, 2), out=out) is out


def test_csr_and_values_protocol(random_graph):
    L = Laplacian(random_graph, "sym")
    csr = L.csr()
    assert csr is L.csr()  # cached
    assert csr.layout == torch.sparse_csr and not csr.values().requires_grad
    assert torch.allclose(csr.to_dense(), L.to_dense())
    assert torch.equal(csr.values(), L.values)
