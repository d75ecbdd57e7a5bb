"""GRAFF: the right-hand side, the W parametrisations, the energy and the time grid.

References are dense matrices and Python loops written here: the code's roll
construction of W (spec 6.2), Euler unrolled by hand, and the energy of the
gradient-flow lemma.
"""

from __future__ import annotations

import math

import pytest
import torch

from models import GRAFFTerm
from models.graff import GRAFF_PARAMS, from_config
from solvers import Euler, TorchDiffEq

from conftest import make_random_graph


def _dense_abar(graph, self_loops=False):
    a = graph.to_dense()
    if self_loops:
        a = a + torch.eye(graph.num_nodes)
    s = a.sum(1).rsqrt()
    return s[:, None] * a * s[None, :]


def _rhs(term, abar, f, f0):
    """-F Omega + A_bar F W + beta F0 with dense matrices."""
    out = abar @ f @ term.weight() - f @ torch.diag(term.omega())
    return out + term.beta * f0


def _code_w(term):
    """The code's diag_dom W: roll row i of [P, 0] by i + 1, symmetrise, add diag."""
    d = term.channels
    w_temp = torch.cat([term.w_offdiag, torch.zeros(d, 1)], dim=1)
    w = torch.stack([torch.roll(w_temp[i], shifts=i + 1) for i in range(d)])
    w = (w + w.T) / 2
    return w + torch.diag(term.q * w.abs().sum(dim=1) + term.r)


def _prepared(term, graph, f0):
    return term.prepare(0.0, f0, graph)


@pytest.mark.parametrize("self_loops", [False, True])
@pytest.mark.parametrize("w_style", ["diag_dom", "diag"])
def test_rhs_matches_dense_reference(w_style, self_loops):
    graph = make_random_graph(10, 0.35, seed=1)
    term = GRAFFTerm(5, w_style=w_style, self_loops=self_loops)
    with torch.no_grad():
        term.beta.fill_(0.3)
    f0, f = torch.randn(10, 5), torch.randn(10, 5)
    args = _prepared(term, graph, f0)
    expected = _rhs(term, _dense_abar(graph, self_loops), f, f0)
    torch.testing.assert_close(term(0.0, f, args), expected, rtol=0, atol=1e-13)


def test_diag_dom_w_is_the_codes_construction():
    term = GRAFFTerm(6, w_style="diag_dom")
    w = term.weight()
    torch.testing.assert_close(w, _code_w(term), rtol=0, atol=1e-15)
    torch.testing.assert_close(w, w.T, rtol=0, atol=0)
    assert all(p.requires_grad for p in (term.w_offdiag, term.q, term.r))
    assert term.q.abs().max() <= 1 and term.r.abs().max() <= 1
    # Glorot on the d x (d-1) parameter.
    assert term.w_offdiag.abs().max() <= math.sqrt(6 / (6 + 5))


def test_diag_w_is_fixed_and_uniform():
    term = GRAFFTerm(6, w_style="diag")
    w = term.weight()
    assert torch.equal(w, torch.diag(torch.diagonal(w)))
    assert not term.w_diag.requires_grad
    assert term.w_diag.abs().max() <= 1
    assert term.omega_diag.requires_grad and term.omega_diag.abs().max() <= 1
    assert float(term.beta.detach()) == 0.0 and term.beta.requires_grad


def test_source_is_detached():
    graph = make_random_graph(6, 0.5, seed=2)
    f0 = torch.randn(6, 3, requires_grad=True)
    _, src = GRAFFTerm(3).prepare(0.0, f0, graph)
    assert not src.requires_grad
    assert GRAFFTerm(3, source=False).prepare(0.0, f0, graph)[1] is None


def _unrolled(model, x, graph, steps):
    """Encoder, Euler with the given step list on the dense RHS, decoder."""
    f = model.encoder(x)
    f0 = f.detach()
    abar = _dense_abar(graph, model.term.self_loops)
    for h in steps:
        f = f + h * _rhs(model.term, abar, f, f0)
    return model.decoder(f)


@pytest.mark.parametrize("w_style", ["diag_dom", "diag"])
def test_model_is_euler_unrolled(w_style):
    graph = make_random_graph(9, 0.4, seed=3)
    x = torch.randn(9, 4)
    model = from_config(4, 3, w_style=w_style, hidden=5, time=1.0, step_size=0.25)
    model.eval()
    with torch.no_grad():
        model.term.beta.fill_(-0.4)
    assert model.solver == Euler() and model.depth == 4
    # D uses the encoder MLP (two residual blocks), DD does not (spec 6.3).
    assert (len(model.encoder) == 5) == (w_style == "diag")
    expected = _unrolled(model, x, graph, [0.25] * 4)
    torch.testing.assert_close(model(x, graph), expected, rtol=0, atol=1e-13)


def test_encoder_mlp_blocks_are_residual():
    model = from_config(4, 3, w_style="diag", hidden=5).eval()
    x = torch.randn(7, 4)
    h = model.encoder[1](x)
    for block in (model.encoder[3], model.encoder[4]):
        h = h + block.lin(torch.relu(h))
    torch.testing.assert_close(model.encoder(x), h, rtol=0, atol=1e-14)


def test_grid_code_vs_equal_steps():
    """Texas: T = 0.5756, tau = 0.5. torchdiffeq: 0.5 then 0.0756; equal: 2 x 0.2878."""
    graph = make_random_graph(9, 0.4, seed=4)
    x = torch.randn(9, 4)
    code = from_config(4, 3, dataset="texas", hidden=5).eval()
    assert code.solver == TorchDiffEq("euler") and code.depth == 2
    t, tau = GRAFF_PARAMS["texas"]["time"], GRAFF_PARAMS["texas"]["step_size"]
    expected = _unrolled(code, x, graph, [tau, t - tau])
    torch.testing.assert_close(code(x, graph), expected, rtol=0, atol=1e-13)
    code.solver = Euler()
    equal = _unrolled(code, x, graph, [t / 2, t / 2])
    torch.testing.assert_close(code(x, graph), equal, rtol=0, atol=1e-13)
    assert (equal - expected).abs().max() > 1e-6
    assert from_config(4, 3, dataset="texas", grid="equal").solver == Euler()
    # Cora: T / tau = 12, both grids coincide and the native Euler is used.
    assert from_config(4, 3, dataset="cora").solver == Euler()


def test_energy_gradient_is_minus_the_rhs():
    graph = make_random_graph(10, 0.35, seed=5)
    term = GRAFFTerm(4, w_style="diag_dom")
    with torch.no_grad():
        term.beta.fill_(0.7)
    f0 = torch.randn(10, 4)
    args = _prepared(term, graph, f0)
    f = torch.randn(10, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(term.energy(f, args), f)
    torch.testing.assert_close(-grad, term(0.0, f, args), rtol=0, atol=1e-13)
    # The energy written with dense matrices and traces.
    abar, w, om = _dense_abar(graph), term.weight(), torch.diag(term.omega())
    dense = (
        0.5 * torch.trace(f @ om @ f.T)
        - 0.5 * torch.trace(f.T @ abar @ f @ w)
        - term.beta * torch.trace(f.T @ f0)
    )
    torch.testing.assert_close(term.energy(f, args), dense, rtol=0, atol=1e-12)


@pytest.mark.parametrize("w_style", ["diag_dom", "diag"])
def test_energy_decreases_along_the_flow(w_style):
    """Lemma 4.2: Euler with a small step on a gradient flow decreases E."""
    graph = make_random_graph(12, 0.3, seed=6)
    term = GRAFFTerm(4, w_style=w_style)
    with torch.no_grad():
        term.beta.fill_(0.5)
    f0 = torch.randn(12, 4)
    args = _prepared(term, graph, f0)
    solver, f, tau = Euler(), f0.clone(), 0.02
    energies = [float(term.energy(f, args).detach())]
    state = solver.init(term, 0.0, f, args)
    for k in range(100):
        step = solver.step(term, k * tau, tau, f, args, state)
        f, state = step.y1, step.state
        energies.append(float(term.energy(f, args).detach()))
    diffs = torch.tensor(energies).diff()
    assert (diffs < 0).all(), energies
    assert energies[-1] < energies[0] - 1e-3


class _NonSymmetricW(GRAFFTerm):
    """The same term with a non-symmetric W (not a GRAFF parametrisation)."""

    def __init__(self, w):
        super().__init__(w.shape[0], w_style="diag")
        self.w_full = torch.nn.Parameter(w)

    def weight(self):
        return self.w_full


def _jacobian(term, args, n, d):
    def rhs(flat):
        return term(0.0, flat.view(n, d), args).reshape(-1)

    return torch.autograd.functional.jacobian(rhs, torch.zeros(n * d))


def test_non_symmetric_w_is_no_gradient_flow():
    """Counter-check: a gradient field has a symmetric Jacobian; this one does not."""
    graph = make_random_graph(7, 0.5, seed=7)
    n, d = 7, 3
    f0 = torch.randn(n, d)
    sym = GRAFFTerm(d, w_style="diag_dom")
    jac = _jacobian(sym, _prepared(sym, graph, f0), n, d)
    torch.testing.assert_close(jac, jac.T, rtol=0, atol=1e-14)

    w = torch.randn(d, d)
    bad = _NonSymmetricW(w)
    args = _prepared(bad, graph, f0)
    jac = _jacobian(bad, args, n, d)
    assert (jac - jac.T).abs().max() > 1e-2
    f = torch.randn(n, d, requires_grad=True)
    (grad,) = torch.autograd.grad(bad.energy(f, args), f)
    assert (-grad - bad(0.0, f, args)).abs().max() > 1e-2


def test_from_config_defaults_follow_the_spec():
    cora = from_config(1433, 7)
    assert cora.term.w_style == "diag" and not cora.term.w_diag.requires_grad
    assert cora.depth == 12 and cora.t1 == 3.0 and cora.dt0 == 0.25
    assert cora.encoder[0].p == 0.5294 and cora.decoder[1].p == 0.3386
    assert cora.term.channels == 64 and len(cora.encoder) == 5
    assert not cora.term.self_loops and cora.term.source
    texas = from_config(1703, 5, dataset="texas")
    assert texas.term.w_style == "diag_dom" and texas.term.w_offdiag.requires_grad
    assert len(texas.encoder) == 2
    assert from_config(10, 5, dataset="Chameleon").term.self_loops
    released = from_config(
        10, 5, omega="zero", source=False, train_w=False, w_style="diag_dom"
    )
    assert released.term.omega() is None and released.term.beta is None
    assert not released.term.w_offdiag.requires_grad


def test_errors():
    with pytest.raises(ValueError, match="`dataset` must be one of"):
        from_config(3, 2, dataset="arxiv")
    with pytest.raises(ValueError, match="`grid` must be one of"):
        from_config(3, 2, grid="torchdiffeq")
    with pytest.raises(ValueError, match="`step_size`"):
        from_config(3, 2, step_size=0.0)
    with pytest.raises(ValueError, match="`w_style` must be one of"):
        GRAFFTerm(4, w_style="sum")
    with pytest.raises(ValueError, match="`omega` must be one of"):
        GRAFFTerm(4, omega="full")
    with pytest.raises(ValueError, match="`channels`"):
        GRAFFTerm(0)
