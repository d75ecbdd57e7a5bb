"""PDE-GCN (models/pde_gcn.py) against independent references.

* the code's operator against a numpy replica of the authors' index arithmetic
  (directed edge list with both directions and self-loops, PyG gcn_norm weights),
  and the identity G^T G = 2 (D_w - W); the paper's operator against the dense
  normalised Laplacian;
* the layer operator r_l against a per-ordered-pair loop, and its linearity for ReLU;
* the iterates of PDE-GCN_D, _H and _M against the paper's recurrences unrolled by
  hand (float64 round-off), including the gradient with respect to theta;
* edge features (form, permutation equivariance), dropout placement,
  initialisation, from_config defaults, param_groups, and every error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from graphops import Graph
from models import GraphPDEModel, check_equivariance, pde_gcn, permute_graph
from models.pde_gcn import (
    PDEGCNDiffusion,
    PDEGCNHyperbolic,
    PDEGCNMixed,
    from_config,
    param_groups,
)
from solvers import Euler, SymplecticEuler, TwoStepLeapfrog, solve

from conftest import make_random_graph


def _graph_with_isolated() -> Graph:
    g = make_random_graph(9, 0.4, seed=3, weighted=False)
    # one more node with no edge
    return Graph(g.edge_index, 10, directed="symmetrize")


# ---------------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------------
def _ref_edges(graph: Graph, operator: str):
    """Ordered pairs (I, J) from the dense adjacency, weights c and scaling s."""
    a_dense = graph.to_dense()
    i_idx, j_idx = a_dense.nonzero(as_tuple=True)
    a = a_dense[i_idx, j_idx]
    d = a_dense.sum(1)
    if operator == "code":
        dt = d + 1.0
        c = a / torch.sqrt(dt[i_idx] * dt[j_idx])
        s = torch.ones_like(d)
    else:
        c = torch.sqrt(a / 2.0)
        s = torch.where(d > 0, d.clamp_min(1e-300) ** -0.5, torch.zeros_like(d))
    return i_idx, j_idx, c, s


def _ref_residual(f, k, graph, operator="code", act=torch.relu, e=None):
    """r(f) = G^T K^T act(K G f + e), one ordered pair at a time (vectorised)."""
    i_idx, j_idx, c, s = _ref_edges(graph, operator)
    cc = c[:, None]
    g = cc * (s[i_idx, None] * f[i_idx] - s[j_idx, None] * f[j_idx])
    z = g @ k.T
    if e is not None:
        z = z + e
    y = cc * (act(z) @ k)
    out = torch.zeros_like(f).index_add(0, i_idx, y).index_add(0, j_idx, -y)
    return s[:, None] * out


def _model(variant, operator="code", layers=4, h=0.4, act="relu", **kw):
    model = from_config(
        3,
        2,
        variant=variant,
        hidden=5,
        layers=layers,
        h=h,
        dropout=0.0,
        operator=operator,
        activation=act,
        **kw,
    )
    return model.eval()


def _f0(model, x):
    return torch.relu(x @ model.encoder[1].weight.T)


def _iterates(model, x, graph):
    """The states at t_l = l h from the model's solver (x component for (x, w))."""
    term = model.term
    y0 = term.initial_state(model.encoder(x))
    args = term.prepare(0.0, y0, graph)
    ts = torch.tensor([term.h * k for k in range(term.layers + 1)])
    sol = solve(
        term, model.solver, y0=y0, t1=model.t1, dt0=model.dt0, args=args, saveat=ts
    )
    return sol.ys[0] if isinstance(sol.ys, tuple) else sol.ys


# ---------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------
def _numpy_code_operator(n, pairs):
    """The authors' graphOps arithmetic on gcn_norm's edge list, in numpy."""
    src = np.array([p[0] for p in pairs] + list(range(n)))
    dst = np.array([p[1] for p in pairs] + list(range(n)))
    # gcn_norm: unit self-loops, degree counted on the target index.
    deg = np.zeros(n)
    np.add.at(deg, dst, 1.0)
    w = deg[src] ** -0.5 * deg[dst] ** -0.5

    def grad(x):
        return w[:, None] * (x[src] - x[dst])

    def div(g):
        out = np.zeros((n, g.shape[1]))
        np.add.at(out, src, w[:, None] * g)
        np.add.at(out, dst, -w[:, None] * g)
        return out

    return src, dst, grad, div, deg


def test_code_operator_matches_the_authors_index_arithmetic():
    graph = _graph_with_isolated()
    n = graph.num_nodes
    a = graph.to_dense().numpy()
    pairs = [(i, j) for i in range(n) for j in range(n) if a[i, j] > 0]
    src, dst, grad, div, deg = _numpy_code_operator(n, pairs)
    term = PDEGCNDiffusion(4, 2, h=1.0, operator="code")
    x = torch.randn(n, 4)
    gx = term.gradient(x, graph)
    ref = grad(x.numpy())
    pairs_np = zip(src.tolist(), dst.tolist(), strict=True)
    lookup = {(i, j): k for k, (i, j) in enumerate(pairs_np)}
    for k, (i, j) in enumerate(graph.directed_edge_index.T.tolist()):
        np.testing.assert_allclose(gx[k].numpy(), ref[lookup[(i, j)]], atol=1e-14)
    # self-loop rows of G are zero: they enter only through the degrees
    assert np.abs(ref[len(pairs) :]).max() == 0.0
    gtg = term.divergence(gx, graph).numpy()
    np.testing.assert_allclose(gtg, div(grad(x.numpy())), atol=1e-13)
    # check 3: G^T G = 2 (D_w - W), W_ij = A_ij / (d~_i d~_j)
    w_dense = a / np.outer(deg, deg)
    lap = 2.0 * (np.diag(w_dense.sum(1)) - w_dense)
    np.testing.assert_allclose(gtg, lap @ x.numpy(), atol=1e-13)


def test_paper_operator_gives_the_symmetric_normalised_laplacian():
    graph = make_random_graph(8, 0.5, seed=4)
    graph = Graph(graph.edge_index, 9, graph.edge_weight, directed="symmetrize")
    term = PDEGCNDiffusion(3, 2, h=1.0, operator="paper")
    x = torch.randn(9, 3)
    a = graph.to_dense()
    d = a.sum(1)
    s = torch.where(d > 0, d.clamp_min(1e-300) ** -0.5, torch.zeros_like(d))
    lap = torch.diag((d > 0).double()) - s[:, None] * a * s[None, :]
    out = term.divergence(term.gradient(x, graph), graph)
    torch.testing.assert_close(out, lap @ x, atol=1e-13, rtol=0)


@pytest.mark.parametrize("operator", ["code", "paper"])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_residual_matches_pairwise_loop(operator, act):
    graph = make_random_graph(10, 0.4, seed=5)
    term = PDEGCNDiffusion(4, 3, h=0.5, operator=operator, activation=act).eval()
    with torch.no_grad():
        term.K.values.normal_()
    f = torch.randn(10, 4)
    for layer in range(3):
        t = 0.5 * layer
        ref = _ref_residual(
            f, term.K.values[layer], graph, operator, getattr(torch, act)
        )
        torch.testing.assert_close(term.residual(t, f, graph), ref, atol=1e-12, rtol=0)


def test_relu_layer_is_linear_in_eval_mode():
    # sigma(z) - sigma(-z) = z for ReLU: both orientations give K^T K g.
    graph = make_random_graph(10, 0.4, seed=6)
    term = PDEGCNDiffusion(4, 1, h=1.0, operator="code").eval()
    with torch.no_grad():
        term.K.values.normal_()
    k = term.K.values[0]
    f = torch.randn(10, 4)
    a = graph.to_dense()
    dt = a.sum(1) + 1.0
    w = a**2 / torch.outer(dt, dt)
    lap_half = torch.diag(w.sum(1)) - w
    torch.testing.assert_close(
        term.residual(0.0, f, graph), lap_half @ f @ k.T @ k, atol=1e-12, rtol=0
    )


# ---------------------------------------------------------------------------------
# The three recurrences, unrolled by hand
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("operator", ["code", "paper"])
def test_diffusion_iterates_are_forward_euler(operator):
    graph = make_random_graph(9, 0.4, seed=7)
    model = _model("D", operator)
    x = torch.randn(9, 3)
    term, h = model.term, model.term.h
    f = _f0(model, x)
    ref = [f]
    for layer in range(term.layers):
        f = f - h * _ref_residual(f, term.K.values[layer], graph, operator)
        ref.append(f)
    got = _iterates(model, x, graph)
    torch.testing.assert_close(got, torch.stack(ref), atol=1e-12, rtol=0)
    logits = f @ model.decoder[1].weight.T
    torch.testing.assert_close(
        model(x, graph), F.log_softmax(logits, -1), atol=1e-12, rtol=0
    )
    assert isinstance(model.solver, Euler)


@pytest.mark.parametrize("operator", ["code", "paper"])
def test_hyperbolic_iterates_are_the_two_step_leapfrog(operator):
    graph = make_random_graph(9, 0.4, seed=8)
    model = _model("H", operator)
    x = torch.randn(9, 3)
    term, h = model.term, model.term.h
    f = _f0(model, x)
    f_prev, ref = f, [f]
    for layer in range(term.layers):
        r = _ref_residual(f, term.K.values[layer], graph, operator)
        f, f_prev = 2 * f - f_prev - h**2 * r, f
        ref.append(f)
    got = _iterates(model, x, graph)
    torch.testing.assert_close(got, torch.stack(ref), atol=1e-12, rtol=0)
    # the first step is f_1 = f_0 - h^2 r_0(f_0)
    r0 = _ref_residual(ref[0], term.K.values[0], graph, operator)
    torch.testing.assert_close(got[1], ref[0] - h**2 * r0, atol=1e-13, rtol=0)
    assert model.solver == TwoStepLeapfrog(start="difference")


def _mixed_reference(model, x, graph, operator, theta):
    term, h = model.term, model.term.h
    f = _f0(model, x)
    f_prev, ref = f, [f]
    for layer in range(term.layers):
        beta = torch.sigmoid(theta[layer])
        alpha = 1 - beta
        a1, b1 = alpha / h, beta / h**2
        r = _ref_residual(f, term.K.values[layer], graph, operator)
        f, f_prev = ((2 * b1 + a1) * f - b1 * f_prev - r) / (a1 + b1), f
        ref.append(f)
    return ref


@pytest.mark.parametrize("operator", ["code", "paper"])
def test_mixed_iterates_are_the_papers_recurrence(operator):
    graph = make_random_graph(9, 0.4, seed=9)
    model = _model("M", operator, layers=5)
    with torch.no_grad():
        model.term.theta.values.copy_(torch.tensor([0.0, 1.3, -2.0, 0.4, 3.0]))
    x = torch.randn(9, 3)
    ref = _mixed_reference(model, x, graph, operator, model.term.theta.values)
    got = _iterates(model, x, graph)
    torch.testing.assert_close(got, torch.stack(ref), atol=1e-12, rtol=0)
    assert isinstance(model.solver, SymplecticEuler)


def test_mixed_theta_is_trained_through_the_iterates():
    graph = make_random_graph(9, 0.4, seed=10)
    model = _model("M", layers=3)
    x = torch.randn(9, 3)
    theta = model.term.theta.values
    assert torch.equal(theta.detach(), torch.zeros(3))
    out = model(x, graph)
    (grad_model,) = torch.autograd.grad(out.square().sum(), theta)
    ref = _mixed_reference(model, x, graph, "code", theta)
    ref_out = F.log_softmax(ref[-1] @ model.decoder[1].weight.T, -1)
    (grad_ref,) = torch.autograd.grad(ref_out.square().sum(), theta)
    assert grad_ref.abs().min() > 0
    torch.testing.assert_close(grad_model, grad_ref, atol=1e-12, rtol=1e-10)


def test_mixed_limits_are_hyperbolic_and_diffusion():
    graph = make_random_graph(9, 0.4, seed=11)
    x = torch.randn(9, 3)
    torch.manual_seed(1)
    mixed = _model("M", layers=3)
    for variant, theta in (("H", 40.0), ("D", -800.0)):
        torch.manual_seed(1)
        other = _model(variant, layers=3)
        with torch.no_grad():
            mixed.term.theta.values.fill_(theta)
        torch.testing.assert_close(
            _iterates(mixed, x, graph), _iterates(other, x, graph), atol=1e-12, rtol=0
        )


def test_single_theta_is_shared_by_all_layers():
    model = _model("M", layers=4, per_layer_theta=False)
    assert model.term.theta.values.shape == (1,)
    alpha, beta = model.term.damping(3 * model.term.h)
    assert float(alpha.detach()) == float(beta.detach()) == 0.5


# ---------------------------------------------------------------------------------
# Edge features
# ---------------------------------------------------------------------------------
def _edge_embedding(term, graph, edge_attr):
    """E a on the ordered pairs of the dense reference (same rule for [M] rows)."""
    i_idx, j_idx, _, _ = _ref_edges(graph, term.graph_operator)
    m = graph.num_edges
    pairs = list(zip(i_idx.tolist(), j_idx.tolist(), strict=True))
    if edge_attr.shape[0] == m:
        undirected = graph.edge_index.T.tolist()
        rows = {(min(i, j), max(i, j)): k for k, (i, j) in enumerate(undirected)}
        pick = [rows[(min(i, j), max(i, j))] for i, j in pairs]
    else:
        directed = graph.directed_edge_index.T.tolist()
        rows = {tuple(p): k for k, p in enumerate(directed)}
        pick = [rows[(i, j)] for i, j in pairs]
    return edge_attr[pick] @ term.edge_map.weight.T


@pytest.mark.parametrize("per_direction", [False, True])
def test_edge_features_enter_inside_sigma(per_direction):
    graph = make_random_graph(9, 0.4, seed=12)
    term = PDEGCNDiffusion(4, 2, h=0.5, edge_features=3).eval()
    m = graph.num_edges
    edge_attr = torch.randn(2 * m if per_direction else m, 3)
    f = torch.randn(9, 4)
    e = _edge_embedding(term, graph, edge_attr)
    ref = _ref_residual(f, term.K.values[1], graph, "code", torch.relu, e)
    got = term.residual(0.5, f, (graph, edge_attr))
    torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)
    # with edge features the ReLU layer is no longer linear
    assert not torch.allclose(got, _ref_residual(f, term.K.values[1], graph))


def _permute_edge_attr(graph, new_graph, perm, edge_attr):
    if edge_attr.shape[0] == graph.num_edges:
        old = {tuple(p): k for k, p in enumerate(graph.edge_index.T.tolist())}
        new_pairs = new_graph.edge_index.T.tolist()
        return edge_attr[
            [old[tuple(sorted((int(perm[p]), int(perm[q]))))] for p, q in new_pairs]
        ]
    old = {tuple(p): k for k, p in enumerate(graph.directed_edge_index.T.tolist())}
    new_pairs = new_graph.directed_edge_index.T.tolist()
    return edge_attr[[old[(int(perm[p]), int(perm[q]))] for p, q in new_pairs]]


@pytest.mark.parametrize("variant", ["D", "H", "M"])
@pytest.mark.parametrize("per_direction", [False, True])
def test_edge_features_keep_permutation_equivariance(variant, per_direction):
    graph = make_random_graph(11, 0.35, seed=13)
    model = _model(variant, layers=3, edge_features=2)
    m = graph.num_edges
    edge_attr = torch.randn(2 * m if per_direction else m, 2)
    x = torch.randn(11, 3)
    perm = torch.randperm(11, generator=torch.Generator().manual_seed(0))
    new_graph = permute_graph(graph, perm)
    new_attr = _permute_edge_attr(graph, new_graph, perm, edge_attr)
    with torch.no_grad():
        out = model(x, (graph, edge_attr))
        out_perm = model(x[perm], (new_graph, new_attr))
    torch.testing.assert_close(out_perm, out[perm], atol=1e-12, rtol=0)


@pytest.mark.parametrize("operator", ["code", "paper"])
@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_both_operators_are_permutation_equivariant(operator, act):
    graph = make_random_graph(12, 0.3, seed=14)
    model = _model("D", operator, act=act)
    assert check_equivariance(model, graph, torch.randn(12, 3)) < 1e-12


# ---------------------------------------------------------------------------------
# Dropout, initialisation, defaults
# ---------------------------------------------------------------------------------
def test_dropout_is_on_the_edge_field_with_one_mask_per_direction():
    graph = make_random_graph(9, 0.4, seed=15)
    term = PDEGCNDiffusion(4, 1, h=1.0, dropout=0.5).train()
    f = torch.randn(9, 4)
    k = term.K.values[0]
    # reference: G f in the directed order, the same dropout draw, then the layer
    src, dst = graph.directed_edge_index
    a = graph.to_dense()
    dt = a.sum(1) + 1.0
    c = (a[src, dst] / torch.sqrt(dt[src] * dt[dst]))[:, None]
    g = c * (f[src] - f[dst])
    torch.manual_seed(3)
    g = F.dropout(g, 0.5, True)
    y = c * (torch.relu(g @ k.T) @ k)
    ref = torch.zeros_like(f).index_add(0, src, y).index_add(0, dst, -y)
    torch.manual_seed(3)
    got = term.residual(0.0, f, graph)
    torch.testing.assert_close(got, ref, atol=1e-12, rtol=0)
    assert not torch.allclose(got, term.eval().residual(0.0, f, graph))


def test_network_layout_dropout_and_initialisation():
    model = from_config(20, 4, variant="M", hidden=16, layers=3, h=0.5, dropout=0.3)
    enc, dec = model.encoder, model.decoder
    kinds = [type(m).__name__ for m in enc]
    assert kinds == ["Dropout", "Linear", "ReLU", "Dropout"]
    assert [type(m).__name__ for m in dec] == ["Dropout", "Linear", "LogSoftmax"]
    assert enc[0].p == enc[3].p == dec[0].p == model.term.dropout == 0.3
    assert enc[1].bias is None and dec[1].bias is None
    assert enc[1].weight.abs().max() <= math.sqrt(6 / (20 + 16))
    assert dec[1].weight.abs().max() <= math.sqrt(6 / (16 + 4))
    delta = model.term.K.values.detach() - torch.eye(16)
    assert delta.min() >= 0 and delta.max() < 1e-3 and delta.max() > 0
    assert torch.equal(model.term.theta.values.detach(), torch.zeros(3))
    logits = from_config(20, 4, log_softmax=False, hidden=4, layers=1).decoder
    assert [type(m).__name__ for m in logits] == ["Dropout", "Linear"]


def test_from_config_defaults_are_gncora():
    model = from_config(10, 3)
    term = model.term
    assert isinstance(model, GraphPDEModel) and isinstance(term, PDEGCNDiffusion)
    assert (term.channels, term.layers, term.h, term.dropout) == (64, 16, 2.0, 0.6)
    assert term.graph_operator == "code" and term.activation == "relu"
    assert model.depth == 16 and model.t1 == 32.0 and model.solver == Euler()
    assert isinstance(from_config(10, 3, variant="H").term, PDEGCNHyperbolic)
    assert isinstance(from_config(10, 3, variant="M").term, PDEGCNMixed)
    assert "operator='code'" in repr(model)


# ---------------------------------------------------------------------------------
# Optimiser groups
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["D", "M"])
def test_param_groups_membership(variant):
    model = from_config(6, 3, variant=variant, hidden=4, layers=2, edge_features=2)
    groups = param_groups(model, lr=0.07, lr_K=5e-5, wd=5e-4, lr_alpha=1e-3)
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert len(ids) == len(set(ids))
    k_group, base = groups[0], groups[1]
    assert k_group["params"] == [model.term.K.values]
    assert (k_group["lr"], k_group["weight_decay"]) == (5e-5, 0.0)
    base_ids = {id(p) for p in base["params"]}
    for p in (model.encoder[1].weight, model.decoder[1].weight):
        assert id(p) in base_ids
    assert id(model.term.edge_map.weight) in base_ids
    assert (base["lr"], base["weight_decay"]) == (0.07, 5e-4)
    if variant == "M":
        assert groups[2]["params"] == [model.term.theta.values]
        assert (groups[2]["lr"], groups[2]["weight_decay"]) == (1e-3, 0.0)
    else:
        assert len(groups) == 2
    # torch.optim.Adam(groups) accepts exactly these keys (not built here: the
    # first optimiser import costs seconds)
    assert all(set(g) == {"params", "lr", "weight_decay"} for g in groups)


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------
def test_param_groups_errors():
    mixed = from_config(6, 3, variant="M", hidden=4, layers=2)
    with pytest.raises(ValueError, match="needs `lr_alpha`"):
        param_groups(mixed, 0.01, 1e-5, 5e-4)
    with pytest.raises(TypeError, match="PDE-GCN term"):
        param_groups(torch.nn.Linear(2, 2), 0.01, 1e-5, 5e-4)
    with pytest.raises(ValueError, match="`lr_K`"):
        param_groups(mixed, 0.01, -1.0, 5e-4, 1e-3)


def test_constructor_errors():
    with pytest.raises(ValueError, match="`variant` must be one of"):
        from_config(3, 2, variant="X")
    with pytest.raises(ValueError, match="`operator` must be one of"):
        PDEGCNDiffusion(4, 2, h=1.0, operator="sym")
    with pytest.raises(ValueError, match="`activation` must be one of"):
        PDEGCNDiffusion(4, 2, h=1.0, activation="gelu")
    with pytest.raises(ValueError, match="`h` must be"):
        PDEGCNDiffusion(4, 2, h=0.0)
    with pytest.raises(ValueError, match="`dropout` must be"):
        PDEGCNDiffusion(4, 2, h=1.0, dropout=1.0)
    with pytest.raises(TypeError, match="`channels` must be"):
        PDEGCNDiffusion(4.5, 2, h=1.0)
    with pytest.raises(ValueError, match="`num_classes`"):
        from_config(3, 0)


def test_graph_and_edge_attr_errors():
    graph = make_random_graph(6, 0.5, seed=16)
    plain = PDEGCNDiffusion(3, 1, h=1.0)
    with_edges = PDEGCNDiffusion(3, 1, h=1.0, edge_features=2)
    with pytest.raises(TypeError, match="must be a Graph or a pair"):
        plain.prepare(0.0, None, "graph")
    with pytest.raises(ValueError, match="built with edge_features=0"):
        plain.prepare(0.0, None, (graph, torch.ones(graph.num_edges, 2)))
    with pytest.raises(ValueError, match=r"`edge_attr` must be a tensor \[M, F_e\]"):
        with_edges.prepare(0.0, None, graph)
    with pytest.raises(ValueError, match=r"`edge_attr` must be a tensor \[M, F_e\]"):
        with_edges.prepare(0.0, None, (graph, torch.ones(graph.num_edges, 3)))


def test_module_exports():
    import models

    for name in pde_gcn.__all__:
        assert hasattr(pde_gcn, name)
    for name in ("PDEGCNDiffusion", "PDEGCNHyperbolic", "PDEGCNMixed", "PDEGCNTerm"):
        assert name in models.__all__
