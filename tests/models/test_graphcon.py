"""GraphCON: the model against the paper's IMEX recurrence, unrolled by hand.

References are written here independently of the package: dense matrices for the
GCN operator and the GAT attention, a Python loop for the recurrence of spec 4.2.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models import GraphCONTerm, StepDropout
from models.graphcon import (
    GRAPHCON_HETEROPHILIC,
    AttentionCoupling,
    GCNCoupling,
    from_config,
)
from solvers import (
    RK4,
    AdamsBashforth,
    Dopri5,
    Euler,
    Leapfrog,
    PIController,
    SymplecticEuler,
    TermSolverMismatch,
    TorchDiffEq,
)

from conftest import make_random_graph


def _dense_gcn(graph):
    """Kipf & Welling's D~^-1/2 (A + I) D~^-1/2, dense."""
    a = graph.to_dense() + torch.eye(graph.num_nodes)
    s = a.sum(1).rsqrt()
    return s[:, None] * a * s[None, :]


def _gcn_force(coupling, a_hat, x):
    theta = coupling.lin.weight.T
    h = a_hat @ x @ theta + coupling.bias
    if coupling.res_version == 1:
        h = h - coupling.res(x @ theta)
    elif coupling.res_version == 2:
        h = h - x @ theta + coupling.res(x)
    return torch.relu(h)


def _gat_force(coupling, graph, x):
    """Dense multi-head GAT + residual, ELU, heads averaged (spec 4.2)."""
    n, heads, c = x.shape[0], coupling.heads, coupling.channels
    mask = (graph.to_dense() > 0) | torch.eye(n, dtype=torch.bool)
    outs = []
    for k in range(heads):
        w = coupling.lin.weight[k * c : (k + 1) * c].T
        hx = x @ w
        s_src = hx @ coupling.att_src[k]
        s_dst = hx @ coupling.att_dst[k]
        e = F.leaky_relu(s_dst[:, None] + s_src[None, :], coupling.negative_slope)
        att = torch.softmax(e.masked_fill(~mask, float("-inf")), dim=1)
        outs.append(att @ hx)
    h = F.elu(torch.cat(outs, dim=1) + coupling.bias + coupling.res(x))
    if coupling.head_average == "heads":
        return h.view(n, heads, c).mean(1)
    return h.view(n, c, heads).mean(-1)


def _unroll(model, x, force, steps, dt, alpha, gamma):
    """Spec 4.2: Y^n = Y + dt[s(F(X)) - gamma X - alpha Y], X^n = X + dt Y^n."""
    y = torch.relu(model.encoder[1](x))
    xx = y
    for _ in range(steps):
        y = y + dt * (force(xx) - gamma * xx - alpha * y)
        xx = xx + dt * y
    return model.decoder(xx)


@pytest.mark.parametrize("res_version", [0, 1, 2])
def test_gcn_model_is_the_paper_recurrence(res_version):
    graph = make_random_graph(10, 0.35, seed=3)
    x = torch.randn(10, 3)
    model = from_config(
        3,
        2,
        hidden=5,
        layers=4,
        dt=0.3,
        alpha=0.7,
        gamma=0.4,
        res_version=res_version,
    ).eval()
    assert isinstance(model.solver, StepDropout)
    assert model.solver.solver == SymplecticEuler()
    coupling = model.term.coupling
    a_hat = _dense_gcn(graph)
    expected = _unroll(
        model, x, lambda z: _gcn_force(coupling, a_hat, z), 4, 0.3, 0.7, 0.4
    )
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("head_average", ["heads", "code"])
def test_attention_model_is_the_paper_recurrence(head_average):
    graph = make_random_graph(9, 0.4, seed=4)
    x = torch.randn(9, 3)
    model = from_config(
        3,
        2,
        hidden=4,
        layers=3,
        dt=0.5,
        alpha=1.0,
        gamma=1.0,
        coupling="attention",
        heads=3,
        head_average=head_average,
    ).eval()
    coupling = model.term.coupling
    expected = _unroll(
        model, x, lambda z: _gat_force(coupling, graph, z), 3, 0.5, 1.0, 1.0
    )
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)


def test_attention_rows_sum_to_one():
    graph = make_random_graph(11, 0.3, seed=5)
    coupling = AttentionCoupling(3, heads=2)
    alpha, alpha_self, _ = coupling.attention(torch.randn(11, 3), graph)
    rows = alpha_self.index_add(0, graph.directed_edge_index[0], alpha)
    torch.testing.assert_close(rows, torch.ones(11, 2), rtol=0, atol=1e-14)
    assert (alpha >= 0).all() and (alpha_self > 0).all()


def test_one_step_without_damping_is_a_residual_gcn():
    """Spec 4.3: alpha = gamma = 0, dt = 1: Y1 = Y0 + ReLU(...), X1 = X0 + Y1."""
    graph = make_random_graph(8, 0.4, seed=6)
    x = torch.randn(8, 3)
    model = from_config(3, 2, dataset="cornell", hidden=6).eval()
    assert model.depth == 1 and model.term.coupling.res_version == 1
    y0 = torch.relu(model.encoder[1](x))
    y1 = y0 + _gcn_force(model.term.coupling, _dense_gcn(graph), y0)
    expected = model.decoder(y0 + y1)
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)


def test_step_dropout_is_the_codes_dropout_after_every_step():
    """Training mode: input, X0/Y0 and per-step dropout, masks drawn in order."""
    graph = make_random_graph(10, 0.35, seed=7)
    x = torch.randn(10, 3)
    p, dt, steps = 0.4, 0.5, 3
    model = from_config(3, 2, hidden=5, layers=steps, dt=dt, dropout=p, gamma=1.0)
    model.train()
    torch.manual_seed(11)
    out = model(x, graph)

    coupling, a_hat = model.term.coupling, _dense_gcn(graph)
    torch.manual_seed(11)
    h = torch.relu(model.encoder[1](F.dropout(x, p, True)))
    y = F.dropout(h, p, True)
    xx = F.dropout(h, p, True)
    for _ in range(steps):
        y = y + dt * (_gcn_force(coupling, a_hat, xx) - xx)
        xx = xx + dt * y
        xx = F.dropout(xx, p, True)
        y = F.dropout(y, p, True)
    torch.testing.assert_close(out, model.decoder(xx), rtol=0, atol=1e-13)


def test_step_dropout_in_eval_mode_is_the_inner_solver():
    graph = make_random_graph(10, 0.35, seed=8)
    x = torch.randn(10, 3)
    model = from_config(3, 2, hidden=5, layers=3, dt=0.5, alpha=0.5).eval()
    out = model(x, graph)
    model.solver = SymplecticEuler()
    assert torch.equal(out, model(x, graph))


def test_step_dropout_refuses_what_it_cannot_wrap():
    with pytest.raises(TypeError, match="`solver` must be a solver value"):
        StepDropout("symplectic", 0.1)
    for bad in (Dopri5(), AdamsBashforth(order=2), TorchDiffEq("euler")):
        with pytest.raises(ValueError, match="fixed-step one-step solver"):
            StepDropout(bad, 0.1)
    with pytest.raises(ValueError, match="`p`"):
        StepDropout(SymplecticEuler(), 1.0)
    assert StepDropout(RK4(), 0.2).order == 4
    assert StepDropout().linear_stability() == SymplecticEuler().linear_stability()


def test_step_dropout_refuses_an_adaptive_controller():
    graph = make_random_graph(8, 0.4, seed=9)
    model = from_config(3, 2, hidden=4, layers=2)
    model.controller = PIController(rtol=1e-6, atol=1e-8)
    with pytest.raises(TypeError, match="adaptive"):
        model(torch.randn(8, 3), graph)


def test_damped_term_is_refused_by_leapfrog_but_not_by_others():
    graph = make_random_graph(8, 0.4, seed=10)
    x = torch.randn(8, 3)
    damped = from_config(3, 2, hidden=4, layers=2, alpha=0.5).eval()
    assert damped.term.velocity_dependent
    damped.solver = Leapfrog()
    with pytest.raises(TermSolverMismatch, match="SymplecticEuler"):
        damped(x, graph)
    for solver in (SymplecticEuler(), Euler(), RK4()):
        damped.solver = solver
        assert torch.isfinite(damped(x, graph)).all()
    undamped = from_config(3, 2, hidden=4, layers=2, alpha=0.0).eval()
    assert not undamped.term.velocity_dependent
    undamped.solver = Leapfrog()
    assert torch.isfinite(undamped(x, graph)).all()


def test_initialisation_is_uniform_in_one_over_sqrt_hidden():
    """Spec 4.3 item 7: every weight ~ U[-1/sqrt(nhid), 1/sqrt(nhid)]."""
    hidden = 64
    model = from_config(3, 5, hidden=hidden, res_version=1)
    bound = hidden**-0.5
    weights = {n: p for n, p in model.named_parameters() if "weight" in n}
    assert set(weights) == {
        "encoder.1.weight",
        "term.coupling.lin.weight",
        "term.coupling.res.weight",
        "decoder.weight",
    }
    for name, w in weights.items():
        assert w.abs().max() <= bound, name
        assert w.abs().max() > 0.8 * bound, name
    assert (model.term.coupling.bias == 0).all()


def test_from_config_uses_the_spec_table_and_the_effective_dropout():
    texas = from_config(1703, 5)
    assert texas.depth == 2 and texas.t1 == 2.0 and texas.dt0 == 1.0
    assert texas.term.coupling.res_version == 2
    assert texas.term.alpha == 0.0 and texas.term.gamma == 0.0
    assert texas.encoder[1].out_features == 256
    # The released script reads `drop` (default 0.3), not the stored `dropout`.
    assert texas.encoder[0].p == 0.3 and texas.solver.p == 0.3
    stored = from_config(
        1703, 5, dataset="Texas", dropout=GRAPHCON_HETEROPHILIC["texas"]["dropout"]
    )
    assert stored.encoder[0].p == 0.68 and stored.term.dropout == 0.68
    wisconsin = from_config(1703, 5, dataset="wisconsin")
    assert wisconsin.encoder[1].out_features == 64 and wisconsin.depth == 2
    plain = from_config(1703, 5, step_dropout=False)
    assert plain.solver == SymplecticEuler()


def test_from_config_errors():
    with pytest.raises(ValueError, match="`dataset` must be one of"):
        from_config(3, 2, dataset="cora")
    with pytest.raises(ValueError, match="`coupling` must be 'gcn' or 'attention'"):
        from_config(3, 2, coupling="sage")
    with pytest.raises(ValueError, match="`dropout`"):
        from_config(3, 2, dropout=1.5)
    with pytest.raises(ValueError, match="`layers`"):
        from_config(3, 2, layers=0)


def test_constructor_errors():
    with pytest.raises(ValueError, match="`res_version` must be 0"):
        GCNCoupling(4, res_version=3)
    with pytest.raises(ValueError, match="`act` must be one of"):
        GCNCoupling(4, act="gelu")
    with pytest.raises(ValueError, match="`head_average` must be"):
        AttentionCoupling(4, head_average="sum")
    with pytest.raises(TypeError, match="`coupling` must be an nn.Module"):
        GraphCONTerm(torch.nn.Linear(4, 4))
    with pytest.raises(ValueError, match="`alpha`"):
        GraphCONTerm(GCNCoupling(4), alpha=-1.0)


def test_attention_model_gradcheck():
    """The GAT coupling (softmax with a detached shift) differentiates exactly."""
    graph = make_random_graph(5, 0.6, seed=12)
    model = from_config(
        2, 2, hidden=2, layers=2, dt=0.5, coupling="attention", heads=2
    ).eval()
    names = [n for n, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in model.parameters()]

    def f(x, *values):
        return torch.func.functional_call(
            model, dict(zip(names, values, strict=True)), (x, graph)
        )

    x = torch.randn(5, 2, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-6)
