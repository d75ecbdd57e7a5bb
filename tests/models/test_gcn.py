"""GCN family (`models.gcn`): each network against an independent reference.

The references are written here from the papers' recurrences: a dense
``D~^{-1/2}(A + I)D~^{-1/2}`` built with numpy from a raw edge list, the layers
unrolled by hand; PyG's ``GCNConv`` when PyG is installed; PairNorm from its
formulas. Everything in float64, seeded, on small graphs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphops import Adjacency, Graph
from models import GCNIIArgs, GCNIITerm, GCNTerm, GraphPDEModel, pairnorm
from models import gcn as gcn_family
from solvers import Euler, solve

N, FEATURES, CLASSES = 9, 5, 3


def _edge_list(n=N, seed=0):
    """A raw weighted edge list (each undirected edge once) with no isolated node."""
    rng = np.random.default_rng(seed)
    edges = {(i, i + 1) for i in range(n - 1)}
    while len(edges) < 2 * n:
        i, j = sorted(rng.choice(n, 2, replace=False))
        edges.add((int(i), int(j)))
    edges = sorted(edges)
    weights = rng.uniform(0.2, 1.5, len(edges))
    return edges, weights


def _graph(edges, weights, n=N):
    ei = torch.tensor(edges).T
    return Graph(ei, n, torch.tensor(weights), directed="symmetrize")


def _a_hat(edges, weights, n=N):
    """Kipf & Welling's renormalised adjacency, dense, from the edge list (numpy)."""
    a = np.zeros((n, n))
    for (i, j), w in zip(edges, weights, strict=True):
        a[i, j] = a[j, i] = w
    a_tilde = a + np.eye(n)
    d = a_tilde.sum(axis=1)
    return torch.tensor(a_tilde / np.sqrt(np.outer(d, d)))


@pytest.fixture
def problem():
    edges, weights = _edge_list()
    x = torch.randn(N, FEATURES, generator=torch.Generator().manual_seed(3))
    return _graph(edges, weights), _a_hat(edges, weights), x


def _randomize(model, seed=7):
    """Non-zero values for every parameter (biases start at zero)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen))
    return model


# ---------------------------------------------------------------------------------
# GCN: the uniform layer stack, and Kipf's network through from_config
# ---------------------------------------------------------------------------------
def test_uniform_stack_is_a_gcn_layer_stack(problem):
    graph, a_hat, x = problem
    hidden, layers = 4, 3
    term = GCNTerm(hidden, layers)
    model = _randomize(
        GraphPDEModel(
            nn.Linear(FEATURES, hidden),
            term,
            nn.Linear(hidden, CLASSES),
            solver=Euler(),
            t1=float(layers),
            dt0=1.0,
        )
    )
    h = model.encoder(x)
    for k in range(layers):
        h = torch.relu(a_hat @ h @ term.weight.values[k] + term.bias.values[k])
    expected = model.decoder(h)
    assert model.depth == layers
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)


def _kipf_reference(model, a_hat, x, train=False):
    """Kipf's L-layer GCN from the model's parameters, unrolled by hand."""
    p = model.term.dropout.p
    w = [model.encoder[-1].weight.T]
    if model.term.weight is not None:
        w += list(model.term.weight.values)
    w.append(model.decoder.weight.T)
    b = list(model.term.bias.values) + [model.decoder.bias]
    h = x
    for layer, (wl, bl) in enumerate(zip(w, b, strict=True)):
        h = a_hat @ (F.dropout(h, p, training=train) @ wl) + bl
        if layer < len(w) - 1:
            h = torch.relu(h)
    return h


@pytest.mark.parametrize("layers", [2, 4])
def test_from_config_is_kipfs_gcn(problem, layers):
    graph, a_hat, x = problem
    model = _randomize(
        gcn_family.from_config(FEATURES, CLASSES, hidden=6, layers=layers)
    )
    model.eval()
    assert model.depth == layers
    torch.testing.assert_close(
        model(x, graph), _kipf_reference(model, a_hat, x), rtol=0, atol=1e-13
    )


def test_from_config_dropout_placement_matches_kipf(problem):
    # Same seed, same order of dropout draws (input, then each hidden state before
    # its convolution): the training-mode outputs agree exactly.
    graph, a_hat, x = problem
    model = _randomize(gcn_family.from_config(FEATURES, CLASSES, hidden=6, layers=3))
    model.train()
    torch.manual_seed(11)
    out = model(x, graph)
    torch.manual_seed(11)
    expected = _kipf_reference(model, a_hat, x, train=True)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-13)
    torch.manual_seed(12)
    assert not torch.allclose(model(x, graph), out)


def test_from_config_defaults():
    model = gcn_family.from_config(FEATURES, CLASSES)
    assert model.depth == 2 and isinstance(model.solver, Euler)
    assert model.encoder[-1].weight.shape == (16, FEATURES)
    assert model.term.dropout.p == 0.5 and model.encoder[0].p == 0.5
    assert model.term.weight is None
    assert model.term.bias.values.shape == (1, 16)
    assert model.decoder.weight.shape == (CLASSES, 16)
    assert not model.term.bias.values.any() and not model.decoder.bias.any()


def test_kipf_layers_without_weights_and_jump_times():
    term = GCNTerm(4, 2, input_weight=False, last_layer="propagate")
    assert term.weight is None and term.bias.num_layers == 1
    assert term.jump_times(0.0, 2.0) == [1.0]
    assert GCNTerm(4, 4).jump_times(0.5, 9.0) == [1.0, 2.0, 3.0]
    # The weights of layers 1..L-2 sit on the grid from t = 1: layer k reads W_k.
    term = GCNTerm(4, 4, input_weight=False, last_layer="propagate")
    assert term.weight.num_layers == 2
    assert torch.equal(term.weight(1.0), term.weight.values[0])
    assert torch.equal(term.weight(2.5), term.weight.values[1])


def test_term_accepts_the_graph_as_args(problem):
    graph, _, x = problem
    term = _randomize(GCNTerm(FEATURES, 2, input_weight=False, last_layer="propagate"))
    kwargs = {"y0": x, "t1": 2.0, "dt0": 1.0}
    a = solve(term, Euler(), args=graph, **kwargs).ys[-1]
    b = solve(term, Euler(), args=term.prepare(0.0, x, graph), **kwargs).ys[-1]
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_smaller_step_integrates_the_same_layers(problem):
    # dt = 1/4 takes four steps per layer, each with that layer's parameters: the
    # layer index follows TimeIndexed's piecewise-constant rule.
    graph, _, x = problem
    term = _randomize(GCNTerm(FEATURES, 3))
    assert [term.layer(t) for t in (0.0, 0.75, 1.0, 2.99, 3.0, 7.0)] == [
        0,
        0,
        1,
        2,
        2,
        2,
    ]
    a_hat = Adjacency(graph, "gcn").to_dense()
    y, dt = x, 0.25
    for step in range(12):
        k = step // 4
        f = torch.relu(a_hat @ y @ term.weight.values[k] + term.bias.values[k])
        y = y + dt * (f - y)
    out = solve(term, Euler(), y0=x, t1=3.0, dt0=dt, args=graph).ys[-1]
    torch.testing.assert_close(out, y, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------
# PyG's GCNConv (optional dependency)
# ---------------------------------------------------------------------------------
def _pyg_conv(weight, bias):
    from torch_geometric.nn import GCNConv

    conv = GCNConv(weight.shape[0], weight.shape[1], bias=bias is not None)
    with torch.no_grad():
        conv.lin.weight.copy_(weight.T)
        if bias is not None:
            conv.bias.copy_(bias)
    return conv


def test_matches_pyg_gcnconv(problem):
    pytest.importorskip(
        "torch_geometric", reason="PyG is optional; the dense reference above covers it"
    )
    graph, _, x = problem
    ei, w = graph.directed_edge_index, torch.cat([graph.edge_weight] * 2)
    # Kipf's 2-layer GCN: GCNConv(F, h) -> ReLU -> GCNConv(h, C).
    model = _randomize(gcn_family.from_config(FEATURES, CLASSES, hidden=6)).eval()
    conv1 = _pyg_conv(model.encoder[-1].weight.T, model.term.bias.values[0])
    conv2 = _pyg_conv(model.decoder.weight.T, model.decoder.bias)
    expected = conv2(torch.relu(conv1(x, ei, w)), ei, w)
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)
    # The uniform stack: three GCNConv(F, F) + ReLU.
    term = _randomize(GCNTerm(FEATURES, 3))
    h = x
    for k in range(3):
        conv = _pyg_conv(term.weight.values[k], term.bias.values[k])
        h = torch.relu(conv(h, ei, w))
    out = solve(term, Euler(), y0=x, t1=3.0, dt0=1.0, args=graph).ys[-1]
    torch.testing.assert_close(out, h, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------
# Residual GCN
# ---------------------------------------------------------------------------------
def test_residual_gcn_recurrence(problem):
    graph, a_hat, x = problem
    model = _randomize(
        gcn_family.residual_from_config(FEATURES, CLASSES, hidden=4, layers=3)
    ).eval()
    term = model.term
    f = x @ model.encoder[-1].weight.T + model.encoder[-1].bias
    for k in range(3):
        f = f + torch.relu(a_hat @ f @ term.weight.values[k] + term.bias.values[k])
    expected = f @ model.decoder[-1].weight.T + model.decoder[-1].bias
    assert model.depth == 3
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)


# ---------------------------------------------------------------------------------
# PairNorm
# ---------------------------------------------------------------------------------
def _pairnorm_numpy(x, mode, s, eps=1e-6):
    x = np.asarray(x.detach() if isinstance(x, torch.Tensor) else x)
    mu = x.mean(axis=0)
    if mode == "PN-SCS":
        return s * x / np.sqrt(eps + (x**2).sum(axis=1, keepdims=True)) - mu
    xc = x - mu
    if mode == "PN":
        return s * xc / np.sqrt(eps + (xc**2).sum(axis=1).mean())
    return s * xc / np.sqrt(eps + (xc**2).sum(axis=1, keepdims=True))


@pytest.mark.parametrize("mode", ["PN", "PN-SI", "PN-SCS"])
@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
def test_pairnorm_formulas(mode, scale):
    x = 3.0 * torch.randn(7, 4) + 2.0
    out = pairnorm(x, mode, scale)
    np.testing.assert_allclose(
        out.numpy(), _pairnorm_numpy(x.numpy(), mode, scale), rtol=1e-13, atol=1e-14
    )


def test_pairnorm_properties():
    x = 3.0 * torch.randn(7, 4) + 2.0
    eps = 1e-6
    # PN: centred, mean squared row norm s^2 m / (m + eps) with m that of x - mu.
    out, xc = pairnorm(x, "PN", 2.0), x - x.mean(0)
    m = float(xc.pow(2).sum(1).mean())
    assert out.mean(0).abs().max() < 1e-13
    assert math.isclose(
        float(out.pow(2).sum(1).mean()), 4.0 * m / (m + eps), rel_tol=1e-13
    )
    # PN-SI: every row has norm s sqrt(r / (r + eps)).
    r = xc.pow(2).sum(1)
    norms = pairnorm(x, "PN-SI", 2.0).norm(dim=1)
    torch.testing.assert_close(norms, 2.0 * (r / (r + eps)).sqrt(), rtol=1e-13, atol=0)
    # PN-SCS: rows of norm ~s, then shifted by the input's column mean.
    shifted = pairnorm(x, "PN-SCS", 2.0) + x.mean(0)
    q = x.pow(2).sum(1)
    torch.testing.assert_close(
        shifted.norm(dim=1), 2.0 * (q / (q + eps)).sqrt(), rtol=1e-13, atol=0
    )


def test_pairnorm_deep_gcn_recurrence(problem):
    # DeepGCN: (L-1) x [dropout -> GraphConv -> PairNorm -> ReLU], dropout -> GraphConv.
    graph, a_hat, x = problem
    layers, hidden = 4, 6
    model = _randomize(
        gcn_family.pairnorm_from_config(
            FEATURES, CLASSES, hidden=hidden, layers=layers, mode="PN", scale=3.0
        )
    ).eval()
    term = model.term
    weights = [model.encoder[-1].weight.T, *term.weight.values]
    h = x
    for wl, bl in zip(weights, term.bias.values, strict=True):
        h = torch.relu(torch.tensor(_pairnorm_numpy(a_hat @ h @ wl + bl, "PN", 3.0)))
    expected = a_hat @ h @ model.decoder.weight.T + model.decoder.bias
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-12)


def test_pairnorm_from_config_defaults_and_init():
    model = gcn_family.pairnorm_from_config(FEATURES, CLASSES)
    term = model.term
    assert model.depth == 10 and term.norm == "PN-SI" and term.norm_scale == 1.0
    assert term.channels == 64 and term.dropout.p == 0.6
    # The authors' GraphConv init: U[-1/sqrt(out), 1/sqrt(out)], biases included.
    for tensor, out in [
        (model.encoder[-1].weight, 64),
        (term.weight.values, 64),
        (term.bias.values, 64),
        (model.decoder.weight, CLASSES),
        (model.decoder.bias, CLASSES),
    ]:
        bound = 1.0 / math.sqrt(out)
        assert tensor.abs().max() <= bound and tensor.abs().max() > 0.5 * bound


# ---------------------------------------------------------------------------------
# GCNII
# ---------------------------------------------------------------------------------
def _gcnii_reference(model, a_hat, x, train=False):
    """The authors' code form, theta * (S W) + (1 - theta) * r, unrolled by hand."""
    term = model.term
    p, alpha, lam = term.dropout.p, term.alpha, term.lam
    lin0, lin1 = model.encoder[-2], model.decoder[-1]
    h0 = torch.relu(lin0(F.dropout(x, p, training=train)))
    h = h0
    for i in range(term.num_layers):
        theta = math.log(lam / (i + 1) + 1)
        hi = a_hat @ F.dropout(h, p, training=train)
        s = (1 - alpha) * hi + alpha * h0
        support = torch.cat([hi, h0], 1) if term.variant else s
        h = torch.relu(theta * (support @ term.weight.values[i]) + (1 - theta) * s)
    return lin1(F.dropout(h, p, training=train))


@pytest.mark.parametrize("variant", [False, True])
def test_gcnii_recurrence(problem, variant):
    graph, a_hat, x = problem
    model = _randomize(
        gcn_family.gcnii_from_config(
            FEATURES, CLASSES, hidden=4, layers=5, alpha=0.2, lam=1.5, variant=variant
        )
    ).eval()
    assert model.term.weight.values.shape == (5, 8 if variant else 4, 4)
    torch.testing.assert_close(
        model(x, graph), _gcnii_reference(model, a_hat, x), rtol=0, atol=1e-13
    )


def test_gcnii_paper_form_and_dropout_placement(problem):
    graph, a_hat, x = problem
    model = _randomize(
        gcn_family.gcnii_from_config(FEATURES, CLASSES, hidden=4, layers=3)
    )
    term = model.term
    # The paper's form S((1 - beta) I + beta W) with beta_l = ln(lambda / l + 1).
    eye = torch.eye(4)
    for layer, t in ((1, 0.0), (2, 1.0), (3, 2.0)):
        beta = math.log(term.lam / layer + 1)
        assert term.beta(t) == pytest.approx(beta, rel=1e-15)
    model.eval()
    h0 = model.encoder(x)
    h = h0
    for i in range(3):
        beta = math.log(term.lam / (i + 1) + 1)
        s = (1 - term.alpha) * (a_hat @ h) + term.alpha * h0
        h = torch.relu(s @ ((1 - beta) * eye + beta * term.weight.values[i]))
    torch.testing.assert_close(model(x, graph), model.decoder(h), rtol=0, atol=1e-13)
    # Training mode: dropout on the input, before every layer and before the output.
    model.train()
    torch.manual_seed(5)
    out = model(x, graph)
    torch.manual_seed(5)
    expected = _gcnii_reference(model, a_hat, x, train=True)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-13)


def test_gcnii_from_config_defaults_and_init():
    model = gcn_family.gcnii_from_config(FEATURES, CLASSES)
    term = model.term
    assert model.depth == 64 and term.num_layers == 64 and term.channels == 64
    assert (term.alpha, term.lam, term.dropout.p) == (0.1, 0.5, 0.6)
    assert model.encoder[0].p == 0.6 and model.decoder[0].p == 0.6
    assert isinstance(model.encoder[-1], nn.ReLU) and not term.variant
    bound = 1.0 / math.sqrt(64)
    w = term.weight.values
    assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound
    assert term.jump_times(0.0, 64.0) == [float(k) for k in range(1, 64)]


def test_gcnii_source_reaches_the_term_through_prepare(problem):
    graph, _, x = problem
    term = GCNIITerm(FEATURES, 2)
    args = term.prepare(0.0, x, graph)
    assert isinstance(args, GCNIIArgs) and args.h0 is x
    with pytest.raises(TypeError, match=r"GCNIITerm: `args` must be GCNIIArgs"):
        term(0.0, x, graph)


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------
def test_pairnorm_errors():
    with pytest.raises(TypeError, match=r"pairnorm: `x` must be a tensor"):
        pairnorm(torch.ones(3), "PN")
    with pytest.raises(ValueError, match=r"pairnorm: `mode` must be one of"):
        pairnorm(torch.ones(3, 2), "SI")
    with pytest.raises(ValueError, match=r"pairnorm: `scale` must be"):
        pairnorm(torch.ones(3, 2), "PN", 0.0)


def test_gcn_term_errors(problem):
    graph, _, x = problem
    with pytest.raises(TypeError, match=r"GCNTerm: `activation` must be a module"):
        GCNTerm(4, 2, activation="relu")
    with pytest.raises(ValueError, match=r"GCNTerm: `norm` must be None or one of"):
        GCNTerm(4, 2, norm="batch")
    with pytest.raises(ValueError, match=r"GCNTerm: `last_layer` must be one of"):
        GCNTerm(4, 2, last_layer="linear")
    with pytest.raises(ValueError, match=r"GCNTerm: `norm_scale` must be"):
        GCNTerm(4, 2, norm="PN", norm_scale=-1.0)
    with pytest.raises(ValueError, match=r"GCNTerm: `num_layers` must be"):
        GCNTerm(4, 0)
    with pytest.raises(TypeError, match=r"GCNTerm: `channels` must be"):
        GCNTerm(4.5, 2)
    with pytest.raises(ValueError, match=r"GCNTerm: `dropout` must be"):
        GCNTerm(4, 2, dropout=1.0)
    with pytest.raises(ValueError, match=r"GCNTerm: `h` must be"):
        GCNTerm(4, 2, h=0.0)
    term = GCNTerm(FEATURES, 2)
    with pytest.raises(TypeError, match=r"GCNTerm: `args` must be the graph or"):
        term(0.0, x, None)


def test_gcnii_term_errors():
    with pytest.raises(ValueError, match=r"GCNIITerm: `alpha` must be"):
        GCNIITerm(4, 2, alpha=1.5)
    with pytest.raises(ValueError, match=r"GCNIITerm: `lam` must be"):
        GCNIITerm(4, 2, lam=0.0)


def test_from_config_errors():
    with pytest.raises(
        ValueError, match=r"gcn.from_config: `layers` must be .*at least 2"
    ):
        gcn_family.from_config(FEATURES, CLASSES, layers=1)
    with pytest.raises(ValueError, match=r"gcn.pairnorm_from_config: `layers`"):
        gcn_family.pairnorm_from_config(FEATURES, CLASSES, layers=1)
    with pytest.raises(ValueError, match=r"gcn.residual_from_config: `layers`"):
        gcn_family.residual_from_config(FEATURES, CLASSES, layers=0)
    with pytest.raises(ValueError, match=r"gcn.gcnii_from_config: `hidden`"):
        gcn_family.gcnii_from_config(FEATURES, CLASSES, hidden=0)
    with pytest.raises(TypeError, match=r"gcn.from_config: `num_features`"):
        gcn_family.from_config(2.0, CLASSES)
    with pytest.raises(ValueError, match=r"gcn.from_config: `num_classes`"):
        gcn_family.from_config(FEATURES, 0)
    with pytest.raises(ValueError, match=r"gcn.pairnorm_from_config: `mode` must be"):
        gcn_family.pairnorm_from_config(FEATURES, CLASSES, mode="SI")
