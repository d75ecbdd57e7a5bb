"""GRAND-l, GRAND-nl and BLEND against dense implementations written here.

The reference attention is a dense ``[heads, N, N]`` score matrix masked to the
edges plus the diagonal and normalised per row or column; the reference
right-hand side is ``sigmoid(alpha) (A - I) X + beta X0`` with dense matrices.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from graphops import laplacian_eigenvectors
from models import GraphPDEModel, check_equivariance
from models.grand import (
    CITESEER,
    CORA,
    GRAND,
    BLENDEncoder,
    GRANDArgs,
    GRANDAttention,
    blend_from_config,
    from_config,
    positional_encoding,
)
from solvers import RK4, ConstantStep, Dopri5, Euler, PIController

from conftest import make_random_graph


def dense_attention(att: GRANDAttention, x, graph):
    """Dense A(x) from the module's own Q/K maps (scaled_dot or exp_kernel)."""
    n = x.shape[0]
    h = att.heads
    q = att.Q(x).reshape(n, h, -1).transpose(0, 1)
    k = att.K(x).reshape(n, h, -1).transpose(0, 1)
    d_k = q.shape[-1]
    if att.attention_type == "scaled_dot":
        div = math.sqrt(d_k) if att.dot_scaling == "sqrt" else d_k
        s = q @ k.transpose(1, 2) / div
    else:
        dist = ((q[:, :, None] - k[:, None, :]) ** 2).sum(-1)
        s = att.output_var**2 * torch.exp(-dist / (2 * att.lengthscale**2))
    mask = torch.eye(n, dtype=torch.bool)
    i, j = graph.edge_index
    mask[i, j] = mask[j, i] = True
    dim = 2 if att.attention_norm_idx == 0 else 1
    if att.normalization == "softmax":
        a = torch.softmax(s.masked_fill(~mask, -math.inf), dim=dim)
    else:
        z = s - s[:, mask].max()
        sp = (z + torch.sqrt(z * z + 4)) / 2 * mask
        a = sp / sp.sum(dim=dim, keepdim=True)
    return a.mean(0)


def dense_rhs(term: GRAND, y, x0, A):
    n = y.shape[0]
    alpha = torch.sigmoid(term.alpha_train)
    return alpha * (A - torch.eye(n)) @ y + term.beta_train * x0


def _term(nonlinear, **kw):
    term = GRAND(4, nonlinear=nonlinear, heads=2, attention_dim=6, qk_init=None, **kw)
    with torch.no_grad():
        term.alpha_train.fill_(0.3)
        term.beta_train.fill_(-0.7)
    return term


@pytest.fixture
def graph():
    return make_random_graph(10, 0.3, seed=2)


CONFIGS = [
    dict(normalization="softmax", attention_norm_idx=0),
    dict(normalization="squareplus", attention_norm_idx=1),
    dict(normalization="squareplus", attention_norm_idx=0, dot_scaling="linear"),
    dict(attention_type="exp_kernel", normalization="softmax", attention_norm_idx=1),
]


@pytest.mark.parametrize("kw", CONFIGS)
def test_grand_l_rhs_matches_dense_with_attention_frozen_at_x0(graph, kw):
    term = _term(False, **kw)
    x0, y = torch.randn(10, 4), torch.randn(10, 4)
    args = term.prepare(0.0, x0, graph)
    A0 = dense_attention(term.attention, x0, graph)
    torch.testing.assert_close(term(0.3, y, args), dense_rhs(term, y, x0, A0))
    # Frozen: a different state does not change A.
    torch.testing.assert_close(args.attention.to_dense(), A0)


@pytest.mark.parametrize("kw", CONFIGS)
def test_grand_nl_recomputes_attention_at_every_state(graph, kw):
    term = _term(True, **kw)
    x0, y1, y2 = torch.randn(10, 4), torch.randn(10, 4), torch.randn(10, 4)
    args = term.prepare(0.0, x0, graph)
    assert args.attention is None
    A1 = dense_attention(term.attention, y1, graph)
    A2 = dense_attention(term.attention, y2, graph)
    assert (A1 - A2).abs().max() > 1e-3
    torch.testing.assert_close(term(0.0, y1, args), dense_rhs(term, y1, x0, A1))
    torch.testing.assert_close(term(0.0, y2, args), dense_rhs(term, y2, x0, A2))


def test_row_stochastic_attention_makes_constants_steady(graph):
    # With norm_idx=0, (A - I) 1 = 0: without source a constant state is steady.
    term = GRAND(3, heads=1, normalization="squareplus", qk_init=None, add_source=False)
    c = torch.ones(10, 3) * torch.tensor([1.0, -2.0, 0.5])
    args = term.prepare(0.0, torch.randn(10, 3), graph)
    assert term(0.0, c, args).abs().max() < 1e-14


def test_source_is_detached_and_alpha_beta_start_at_zero(graph):
    term = GRAND(4, nonlinear=True, heads=2, attention_dim=4)
    assert term.alpha_train.item() == 0.0 and term.beta_train.item() == 0.0
    with torch.no_grad():
        term.beta_train.fill_(2.0)
    x0 = torch.randn(10, 4, requires_grad=True)
    args = term.prepare(0.0, x0, graph)
    y = torch.randn(10, 4)
    term(0.0, y, args).sum().backward()
    assert x0.grad is None
    assert term.beta_train.grad is not None
    # GRAND-l: the attention at t0 does keep its gradient to X(0).
    term_l = GRAND(4, heads=2, attention_dim=4, qk_init=None)
    x0 = torch.randn(10, 4, requires_grad=True)
    term_l(0.0, y, term_l.prepare(0.0, x0, graph)).sum().backward()
    assert x0.grad is not None and x0.grad.abs().max() > 0


def test_qk_init_constant_weights_default_biases():
    att = GRANDAttention(5, 8, heads=2)
    for lin in (att.Q, att.K):
        assert torch.all(lin.weight == 1e-5)
        assert lin.bias.std() > 0
    att = GRANDAttention(5, 8, heads=2, qk_init=None)
    assert att.Q.weight.std() > 0


def test_one_euler_step_of_the_whole_model(graph):
    # Model wiring: encoder -> attention at X(0) -> one Euler step -> decoder.
    torch.manual_seed(1)
    model = from_config(
        3,
        2,
        hidden=4,
        heads=2,
        attention_dim=4,
        solver=Euler(),
        t1=0.5,
        dt0=0.5,
        qk_init=None,
    ).eval()
    x = torch.randn(10, 3)
    enc, dec = model.encoder, model.decoder
    x0 = enc(x)
    A = dense_attention(model.term.attention, x0, graph)
    x1 = x0 + 0.5 * dense_rhs(model.term, x0, x0, A)
    torch.testing.assert_close(model(x, graph), dec(x1))


def test_from_config_cora_defaults():
    model = from_config(1433, 7)
    term = model.term
    assert isinstance(term, GRAND) and not term.nonlinear and term.add_source
    att = term.attention
    assert att.heads == 8 and att.Q.out_features == 128 and att.Q.in_features == 80
    assert att.attention_type == "scaled_dot" and att.normalization == "squareplus"
    assert att.attention_norm_idx == 1 and att.self_loops
    assert att.dot_scaling == "sqrt"
    assert model.t1 == CORA["t1"] == 18.294754260552843
    assert isinstance(model.solver, Dopri5)
    assert isinstance(model.controller, PIController)
    # tol_scale: atol = tol_scale * 1e-7, rtol = tol_scale * 1e-9 (the code's names).
    assert math.isclose(model.controller.atol, 821.9773048827274e-7)
    assert math.isclose(model.controller.rtol, 821.9773048827274e-9)
    assert model.max_steps == math.ceil(2000 / 6)
    # Encoder: Dropout(0.5) -> Linear, no activation. Decoder: ReLU -> Dropout ->
    # Linear.
    assert [type(m) for m in model.encoder] == [nn.Dropout, nn.Linear]
    assert model.encoder[0].p == 0.5
    assert [type(m) for m in model.decoder] == [nn.ReLU, nn.Dropout, nn.Linear]
    assert model.decoder[1].p == 0.046878964627763316
    assert from_config(3, 2, variant="nl").term.nonlinear


def test_citeseer_preset_exp_kernel_runs(graph):
    model = from_config(3, 2, **{**CITESEER, "t1": 0.2}).eval()
    att = model.term.attention
    assert att.attention_type == "exp_kernel" and att.Q.out_features == 32
    assert model.decoder[1].p == CITESEER["dropout"]
    out = model(torch.randn(10, 3), graph)
    assert out.shape == (10, 2) and torch.isfinite(out).all()


def test_dopri5_matches_fine_rk4(graph):
    torch.manual_seed(0)
    model = from_config(
        3,
        2,
        variant="nl",
        hidden=4,
        heads=2,
        attention_dim=4,
        t1=0.5,
        qk_init=None,
        tol_scale=1e-2,
    ).eval()
    x = torch.randn(10, 3)
    # The default integrator: Dopri5 under PIController(atol=1e-9, rtol=1e-11).
    adaptive = model(x, graph)
    assert model.last_stats.num_steps > 1
    model.solver, model.controller, model.dt0 = RK4(), ConstantStep(), 0.05
    torch.testing.assert_close(adaptive, model(x, graph), rtol=1e-7, atol=1e-8)


def test_explicit_controller_is_kept():
    ctrl = PIController(rtol=1e-3, atol=1e-5)
    assert from_config(3, 2, controller=ctrl).controller is ctrl
    assert isinstance(from_config(3, 2, solver=RK4(), dt0=0.1).controller, ConstantStep)


def test_self_loop_weight_zero_drops_self_loops(graph):
    model = from_config(3, 2, self_loop_weight=0.0, hidden=4, heads=2, attention_dim=4)
    assert not model.term.attention.self_loops
    args = model.term.prepare(0.0, torch.randn(10, 4), graph)
    assert args.attention.self_weight is None


# -- BLEND ----------------------------------------------------------------------------
def test_positional_encoding_is_laplacian_eigenvectors(graph):
    p = positional_encoding(graph, 3)
    torch.testing.assert_close(p, laplacian_eigenvectors(graph, 3)[1])


def test_blend_encoder_and_joint_diffusion(graph):
    torch.manual_seed(0)
    model = blend_from_config(
        3,
        2,
        pos_dim=2,
        feat_hidden=3,
        pos_hidden=2,
        heads=1,
        attention_dim=5,
        solver=RK4(),
        t1=0.5,
        dt0=0.25,
        qk_init=None,
    ).eval()
    assert isinstance(model.encoder, BLENDEncoder) and not model.term.nonlinear
    x, p = torch.randn(10, 3), positional_encoding(graph, 2)
    z0 = model.encoder(torch.cat([x, p], 1))
    # Z(0) = [mx(x), mp(p)]: features and positions encoded separately.
    torch.testing.assert_close(z0[:, :3], model.encoder.mx(x))
    torch.testing.assert_close(z0[:, 3:], model.encoder.mp(p))
    # The attention reads the positional channels, and they are diffused too.
    args = model.term.prepare(0.0, z0, graph)
    f = model.term(0.0, z0, args)
    A = dense_attention(model.term.attention, z0, graph)
    torch.testing.assert_close(f, dense_rhs(model.term, z0, z0, A))
    assert f[:, 3:].abs().max() > 0
    z_moved = z0.clone()
    z_moved[:, 3:] += torch.randn(10, 2)
    A_moved = dense_attention(model.term.attention, z_moved, graph)
    assert (A - A_moved).abs().max() > 1e-3
    assert model.decoder[-1].in_features == 5
    out = model(torch.cat([x, p], 1), graph)
    assert out.shape == (10, 2)


def test_blend_equivariant_on_a_connected_graph():
    g = make_random_graph(10, 0.5, seed=0)
    model = blend_from_config(
        3,
        2,
        pos_dim=2,
        feat_hidden=3,
        pos_hidden=2,
        heads=1,
        attention_dim=5,
        solver=RK4(),
        t1=0.5,
        dt0=0.25,
    )
    x = torch.cat([torch.randn(10, 3), positional_encoding(g, 2)], 1)
    assert check_equivariance(model, g, x) < 1e-10


# -- errors ---------------------------------------------------------------------------
def test_errors(graph):
    with pytest.raises(ValueError, match=r"`variant` must be one of \('l', 'nl'\)"):
        from_config(3, 2, variant="rw")
    with pytest.raises(ValueError, match=r"blend_from_config: `variant`"):
        blend_from_config(3, 2, variant="x")
    with pytest.raises(ValueError, match=r"`heads`=3 must divide `attention_dim`=8"):
        GRANDAttention(4, 8, heads=3)
    with pytest.raises(ValueError, match=r"`attention_type` must be one of"):
        GRAND(4, attention_type="pearson")
    with pytest.raises(ValueError, match=r"`normalization` must be one of"):
        GRAND(4, normalization="sparsemax")
    with pytest.raises(ValueError, match=r"`attention_norm_idx` must be one of"):
        GRAND(4, attention_norm_idx=2)
    with pytest.raises(ValueError, match=r"`dot_scaling` must be one of"):
        GRAND(4, dot_scaling="none")
    with pytest.raises(ValueError, match=r"`qk_init` must be"):
        GRANDAttention(4, qk_init=float("nan"))
    with pytest.raises(ValueError, match=r"`self_loop_weight` must be"):
        from_config(3, 2, self_loop_weight=-1.0)
    with pytest.raises(ValueError, match=r"`tol_scale` must be"):
        from_config(3, 2, tol_scale=0.0)
    with pytest.raises(ValueError, match=r"`max_nfe` must be"):
        from_config(3, 2, max_nfe=0)
    with pytest.raises(ValueError, match=r"from_config: `dropout` must be"):
        from_config(3, 2, dropout=1.0)
    with pytest.raises(ValueError, match=r"blend_from_config: `input_dropout` must"):
        blend_from_config(3, 2, input_dropout=-0.1)
    with pytest.raises(ValueError, match=r"`attention_norm_idx` must be one of"):
        GRAND(4, attention_norm_idx=True)
    with pytest.raises(ValueError, match=r"`hidden` must be"):
        from_config(3, 2, hidden=0)
    with pytest.raises(ValueError, match=r"`pos_dim` must be"):
        BLENDEncoder(3, 0, 2, 2)
    enc = BLENDEncoder(3, 2, 4, 2)
    with pytest.raises(ValueError, match=r"\[N, 5\] \(features, then positions\)"):
        enc(torch.randn(10, 3))
    term = GRAND(4)
    with pytest.raises(TypeError, match=r"`args` must be the GRANDArgs"):
        term(0.0, torch.randn(10, 4), graph)
    assert isinstance(term.prepare(0.0, torch.randn(10, 4), graph), GRANDArgs)


def test_repr_names_the_variant():
    model = from_config(3, 2, variant="nl", hidden=4, heads=2, attention_dim=4)
    text = repr(model)
    assert "variant='nl'" in text and "normalization='squareplus'" in text
    assert "solver=Dopri5()" in text
    assert isinstance(model, GraphPDEModel)


def test_attention_methods_give_the_same_model(graph):
    # The scores by SDDMM (default for scaled_dot) and by gathers: same outputs
    # and parameter gradients through a whole GRAND-nl solve.
    torch.manual_seed(0)
    model = from_config(6, 3, variant="nl", hidden=8, heads=2, attention_dim=8).eval()
    for p in model.term.attention.parameters():
        nn.init.normal_(p, std=0.5)
    x = torch.randn(graph.num_nodes, 6)
    outs = []
    for method in ("sddmm", "gather"):
        model.term.attention.method = method
        out = model(x, graph)
        grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
        outs.append((out, grads))
    (a, ga), (b, gb) = outs
    assert torch.allclose(a, b, atol=1e-12)
    for u, v in zip(ga, gb, strict=True):
        assert torch.allclose(u, v, atol=1e-10)
    with pytest.raises(ValueError, match="method='sddmm' computes scaled_dot"):
        GRANDAttention(4, heads=2, attention_type="exp_kernel", method="sddmm")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.compile internals
def test_term_compiles(graph):
    # `model.term.compile()` (torch.compile) runs GRAND-nl with our kernels as
    # graph breaks and gives the eager result.
    torch.manual_seed(0)
    model = from_config(
        6,
        3,
        variant="nl",
        hidden=8,
        heads=2,
        attention_dim=8,
        solver=RK4(),
        t1=1.0,
        dt0=0.5,
    ).eval()
    x = torch.randn(graph.num_nodes, 6)
    eager = model(x, graph)
    model.term.compile()
    with torch.no_grad():
        assert torch.allclose(model(x, graph), eager, atol=1e-12)
