"""Fused explicit RK stages for a fixed affine term (issue 13, target 1).

A ``LinearTerm`` with a fixed operator offers ``FixedAffine`` (``affine_form``);
the explicit RK engine then runs chain tableaux (Euler, Midpoint, Heun, RK4) as
fused ``addmm`` stages. Checked here against the stage-by-stage form (the same term
with its operator behind a callable, which cannot offer the capability), against
the exact solution, and with gradients (gradcheck).
"""

from __future__ import annotations

import pytest
import torch

import solvers.explicit_rk as erk
from graphops import Laplacian
from solvers import (
    RK4,
    Bosh3,
    Dopri5,
    Euler,
    FixedAffine,
    Heun,
    LinearTerm,
    Midpoint,
    ODETerm,
    PIController,
    SaveAt,
    solve,
)

from conftest import make_random_graph
from helpers import heat_problem

CHAIN = [Euler(), Midpoint(), Heun(), RK4()]


@pytest.fixture
def counted(monkeypatch):
    """Count the fused steps the engine takes."""
    calls = [0]
    orig = erk._fused_step

    def wrapped(*a):
        calls[0] += 1
        return orig(*a)

    monkeypatch.setattr(erk, "_fused_step", wrapped)
    return calls


def _unfused(L, source=None):
    return LinearTerm(lambda t, y, args: L, source)


@pytest.mark.parametrize("solver", CHAIN, ids=repr)
@pytest.mark.parametrize("with_source", [False, True])
def test_fused_equals_stage_by_stage(solver, with_source, counted):
    g = make_random_graph(60, 0.1)
    L = Laplacian(g, "sym")
    gen = torch.Generator().manual_seed(3)
    y0 = torch.randn(60, 5, generator=gen)
    s = torch.randn(60, 5, generator=gen) if with_source else None
    ts = torch.tensor([0.25, 0.5, 1.0])
    a = solve(LinearTerm(L, s), solver, y0=y0, t1=1.0, dt0=1 / 32, saveat=SaveAt(ts))
    assert counted[0] == 32  # every step fused
    b = solve(_unfused(L, s), solver, y0=y0, t1=1.0, dt0=1 / 32, saveat=SaveAt(ts))
    assert counted[0] == 32  # the callable operator: never fused
    assert a.stats.num_rhs_evals == b.stats.num_rhs_evals == 32 * len(
        solver.tableau.b
    )
    # every saved state (the stage buffers are reused; the saved states are not)
    rel = (a.ys - b.ys).abs().max() / b.ys.abs().max()
    assert rel <= 1e-14
    if isinstance(solver, Euler) and s is None:  # one addmm per step: same rounding
        assert rel <= 1e-15


@pytest.mark.parametrize("solver", CHAIN, ids=repr)
def test_fused_against_exact_solution(solver, grid_graph, counted):
    hp = heat_problem(grid_graph)
    exact = hp.exact(1.0)
    errs = []
    for dt in (1 / 16, 1 / 32):
        y = solve(LinearTerm(hp.L), solver, y0=hp.y0, t1=1.0, dt0=dt).ys[-1]
        ref = solve(_unfused(hp.L), solver, y0=hp.y0, t1=1.0, dt0=dt).ys[-1]
        assert (y - ref).abs().max() <= 1e-14 * exact.abs().max()
        errs.append(float((y - exact).abs().max()))
    assert counted[0] == 16 + 32
    # the method's order survives the rearrangement
    p = torch.log2(torch.tensor(errs[0] / errs[1]))
    assert float(p) == pytest.approx(solver.order, abs=0.3)


def test_fused_rk4_constant_source_exact():
    # y' = -L y + s with s in the range of L: y -> y_inf = L^+ s, exact solution
    # y(t) = y_inf + V exp(-lam t) V^T (y0 - y_inf) (L symmetric, kernel dropped)
    g = make_random_graph(30, 0.2)
    L = Laplacian(g)
    lam, V = torch.linalg.eigh(L.to_dense())
    keep = lam > 1e-9
    gen = torch.Generator().manual_seed(5)
    s = V[:, keep] @ torch.randn(int(keep.sum()), 3, generator=gen)
    y_inf = V[:, keep] @ ((V[:, keep].T @ s) / lam[keep, None])
    y0 = y_inf + V[:, keep] @ torch.randn(int(keep.sum()), 3, generator=gen)
    t1 = 0.5
    exact = y_inf + V @ (torch.exp(-lam * t1)[:, None] * (V.T @ (y0 - y_inf)))
    dt = 0.5 / float(lam.max())
    y = solve(LinearTerm(L, s), RK4(), y0=y0, t1=t1, dt0=t1 / 64).ys[-1]
    assert dt > t1 / 64
    assert (y - exact).abs().max() <= 1e-7 * exact.abs().max()


def test_gradients_flow_through_fused_stages(counted):
    g = make_random_graph(6, 0.6, seed=1)
    gen = torch.Generator().manual_seed(2)
    y0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    w = (torch.rand(g.num_edges, generator=gen) + 0.5).requires_grad_()
    s = torch.randn(6, 2, generator=gen, requires_grad=True)

    def f(y0, w, s):
        L = Laplacian(g, "sym", edge_weight=w)
        return solve(LinearTerm(L, s), RK4(), y0=y0, t1=0.3, dt0=0.1).ys[-1]

    assert torch.autograd.gradcheck(f, (y0, w, s))
    assert counted[0] > 0

    def f_unfused(y0, w, s):
        L = Laplacian(g, "sym", edge_weight=w)
        return solve(_unfused(L, s), RK4(), y0=y0, t1=0.3, dt0=0.1).ys[-1]

    gf = torch.autograd.grad(f(y0, w, s).sum(), (y0, w, s))
    gu = torch.autograd.grad(f_unfused(y0, w, s).sum(), (y0, w, s))
    for a, b in zip(gf, gu, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)


def test_no_grad_solve_reuses_buffers_and_keeps_results():
    g = make_random_graph(20, 0.3)
    L = Laplacian(g)
    y0 = torch.randn(20, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        sol = solve(
            LinearTerm(L), RK4(), y0=y0, t1=0.5, dt0=0.05, saveat=SaveAt(steps=True)
        )
    ref = solve(_unfused(L), RK4(), y0=y0, t1=0.5, dt0=0.05, saveat=SaveAt(steps=True))
    assert sol.ys.shape == ref.ys.shape == (11, 20, 3)
    assert (sol.ys - ref.ys).abs().max() <= 1e-14 * ref.ys.abs().max()
    # distinct saved states: no step's state aliases a reused buffer
    ptrs = {t.data_ptr() for t in sol.ys.unbind(0)}
    assert len(ptrs) == 11


def test_affine_form_offered_only_when_fixed():
    g = make_random_graph(10, 0.4)
    L = Laplacian(g)
    y0 = torch.zeros(10, 2)
    aff = LinearTerm(L).affine_form(0.0, y0, None)
    assert isinstance(aff, FixedAffine) and aff.operator is L and aff.source is None
    assert LinearTerm(lambda t, y, a: L).affine_form(0.0, y0, None) is None
    assert LinearTerm(L, lambda t, y, a: y).affine_form(0.0, y0, None) is None
    assert ODETerm(lambda t, y, a: -y).affine_form(0.0, y0, None) is None
    assert LinearTerm(L).affine_form(0.0, (y0, y0), None) is None

    class Learned(LinearTerm):
        def forward(self, t, y, args=None):
            return super().forward(t, y, args) * 2.0

    assert Learned(L).affine_form(0.0, y0, None) is None
    # a user's hook must see every evaluation: no fusion then
    term = LinearTerm(L)
    seen = []
    term.register_forward_hook(lambda m, i, o: seen.append(1))
    assert term.affine_form(0.0, y0, None) is None
    sol = solve(term, RK4(), y0=torch.ones(10, 2), t1=0.2, dt0=0.1)
    assert len(seen) == sol.stats.num_rhs_evals == 8
    term2 = LinearTerm(L)
    term2.register_forward_pre_hook(lambda m, i: None)
    assert term2.affine_form(0.0, y0, None) is None


def test_only_chain_tableaux_fuse():
    assert Euler._chain is not None and RK4._chain is not None
    assert RK4._chain.w == pytest.approx((1 / 3, 2 / 3, 1 / 3))
    assert RK4._chain.w0 == pytest.approx(-1 / 3)
    assert Dopri5._chain is None and Bosh3._chain is None
    # an adaptive solve of the same term still runs stage by stage
    g = make_random_graph(10, 0.4)
    y0 = torch.randn(10, 2, generator=torch.Generator().manual_seed(0))
    sol = solve(
        LinearTerm(Laplacian(g)),
        Dopri5(),
        y0=y0,
        t1=0.5,
        controller=PIController(rtol=1e-8, atol=1e-10),
    )
    assert sol.success


def test_affine_form_checks_parts():
    g = make_random_graph(10, 0.4)
    with pytest.raises(ValueError, match="`source` must have the state's shape"):
        solve(
            LinearTerm(Laplacian(g), torch.zeros(10, 3)),
            RK4(),
            y0=torch.zeros(10, 2),
            t1=0.1,
            dt0=0.05,
        )


def test_operator_addmm_matches_product_and_add():
    g = make_random_graph(15, 0.3)
    L = Laplacian(g, "sym")
    gen = torch.Generator().manual_seed(4)
    u, x = torch.randn(15, 4, generator=gen), torch.randn(15, 4, generator=gen)
    ref = u + 0.3 * (L.to_dense() @ x)
    assert torch.allclose(L.addmm(u, x, alpha=0.3), ref, rtol=0, atol=1e-14)
    out = u.clone()
    res = L.addmm(out, x, alpha=0.3, out=out)  # in place into the base
    assert res.data_ptr() == out.data_ptr()
    assert torch.allclose(res, ref, rtol=0, atol=1e-14)
    # the provided default (a matrix-free operator)
    from graphops.operators import _Shifted

    mf = _Shifted(L, 2.0, 1.0)
    ref2 = u + 0.3 * (2.0 * x + L.to_dense() @ x)
    assert torch.allclose(mf.addmm(u, x, alpha=0.3), ref2, rtol=0, atol=1e-14)
    assert torch.allclose(mf.addmm(u, x, alpha=0.3, out=u.clone()), ref2, atol=1e-14)


def test_operator_addmm_rejects_a_wrong_base():
    g = make_random_graph(15, 0.3)
    L = Laplacian(g)
    x = torch.randn(15, 4)
    with pytest.raises(ValueError, match=r"addmm: `input` must have the product's"):
        L.addmm(torch.zeros(15, 1), x)
    from graphops.operators import _Shifted

    with pytest.raises(ValueError, match=r"addmm: `input` must have the product's"):
        _Shifted(L, 1.0, 1.0).addmm(torch.zeros(15, 1), x)
