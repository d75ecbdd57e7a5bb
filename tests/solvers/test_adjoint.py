"""Gradient strategies: Backprop, Checkpoint(segments) and the continuous adjoint."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from graphops import Laplacian
from solvers import (
    RK4,
    Backprop,
    Checkpoint,
    ConstantStep,
    Dopri5,
    Leapfrog,
    LinearTerm,
    ODETerm,
    PIController,
    SecondOrderTerm,
    TorchDiffEqAdjoint,
    solve,
)
from solvers.adjoint import find_adjoint_params

from conftest import make_path_graph


class _LearnedHeat(LinearTerm):
    """y' = -L_w y with w = softplus(raw), raw a Parameter (found automatically)."""

    def __init__(self, num_edges: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.raw = nn.Parameter(0.3 * torch.randn(num_edges, generator=g))

    def operator(self, t, y, args=None):
        return Laplacian(
            args, edge_weight=nn.functional.softplus(self.raw), validate=False
        )


def _loss(ys: torch.Tensor) -> torch.Tensor:
    weights = torch.linspace(1.0, 2.0, ys.numel()).reshape(ys.shape)
    return (weights * ys**2).sum() + ys[-1].sum()


# -- values ---------------------------------------------------------------------
def test_reprs_and_equality() -> None:
    assert repr(Backprop()) == "Backprop()" and Backprop() == Backprop()
    assert repr(Checkpoint(segments=4)) == "Checkpoint(segments=4)"


@pytest.mark.parametrize(
    ("segments", "exc", "match"),
    [
        (0, ValueError, r"Checkpoint: `segments` must be an int >= 1; got 0\. Pass"),
        (2.5, TypeError, r"Checkpoint: `segments` must be an int; got float 2\.5"),
    ],
)
def test_checkpoint_segments_are_checked(segments, exc, match) -> None:
    with pytest.raises(exc, match=match):
        Checkpoint(segments=segments)


def test_segment_length() -> None:
    assert Checkpoint().segment_length(100) == 10
    assert Checkpoint().segment_length(101) == 11
    assert Checkpoint(segments=4).segment_length(10) == 3
    assert Checkpoint(segments=50).segment_length(10) == 1
    assert Checkpoint().segment_length(1) == 1


def test_find_adjoint_params_walks_term_and_args() -> None:
    graph = make_path_graph(4)
    term = _LearnedHeat(graph.num_edges)
    w = torch.ones(3, requires_grad=True)
    frozen = torch.ones(3)
    found = find_adjoint_params(term, (graph, {"w": w, "x": frozen}))
    assert len(found) == 2 and found[0] is term.raw and found[1] is w


# -- Checkpoint(segments=k) ------------------------------------------------------
@pytest.mark.parametrize("segments", [None, 1, 3, 40])
def test_checkpoint_segments_give_backprop_gradients(segments) -> None:
    graph = make_path_graph(6)
    term = _LearnedHeat(graph.num_edges)
    y0 = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))

    def grad(adjoint):
        sol = solve(
            term,
            RK4(),
            y0=y0,
            t1=1.0,
            dt0=0.05,
            args=graph,
            saveat=torch.tensor([0.3, 1.0]),
            adjoint=adjoint,
        )
        (g,) = torch.autograd.grad(_loss(sol.ys), term.raw)
        return sol, g

    sol_bp, g_bp = grad(Backprop())
    sol_ck, g_ck = grad(Checkpoint(segments=segments))
    torch.testing.assert_close(sol_ck.ys, sol_bp.ys, rtol=0, atol=0)
    torch.testing.assert_close(g_ck, g_bp, rtol=1e-13, atol=1e-15)
    assert sol_ck.stats.num_steps == sol_bp.stats.num_steps == 20


# -- the continuous adjoint with the package's own solvers ----------------------------
def _grads(graph, y0, term, solver, controller, adjoint, dt0=None):
    y0 = y0.clone().requires_grad_(True)
    sol = solve(
        term,
        solver,
        y0=y0,
        t1=1.0,
        dt0=dt0,
        args=graph,
        controller=controller,
        saveat=torch.tensor([0.0, 0.4, 1.0]),
        adjoint=adjoint,
    )
    gy, gw = torch.autograd.grad(_loss(sol.ys), (y0, term.raw))
    return sol, gy, gw


def test_continuous_adjoint_matches_backprop_and_finite_differences() -> None:
    graph = make_path_graph(5)
    term = _LearnedHeat(graph.num_edges)
    g = torch.Generator().manual_seed(2)
    y0 = torch.randn(5, 2, generator=g)
    ctrl = PIController(rtol=1e-11, atol=1e-13)
    adj = TorchDiffEqAdjoint(rtol=1e-11, atol=1e-13)
    sol_adj, gy_adj, gw_adj = _grads(graph, y0, term, Dopri5(), ctrl, adj)
    sol_bp, gy_bp, gw_bp = _grads(graph, y0, term, Dopri5(), ctrl, Backprop())
    # same forward solve (the adjoint's forward runs our loop under no_grad)
    torch.testing.assert_close(sol_adj.ys, sol_bp.ys, rtol=0, atol=0)
    assert sol_adj.stats.num_rhs_evals == sol_bp.stats.num_rhs_evals
    torch.testing.assert_close(gy_adj, gy_bp, rtol=1e-5, atol=1e-10)
    torch.testing.assert_close(gw_adj, gw_bp, rtol=1e-5, atol=1e-10)

    # central finite differences along a random direction
    dy = torch.randn(5, 2, generator=g)
    dw = torch.randn(graph.num_edges, generator=g)
    h = 1e-5

    def loss_at(s: float) -> float:
        with torch.no_grad():
            term.raw += s * h * dw
            sol = solve(
                term,
                Dopri5(),
                y0=y0 + s * h * dy,
                t1=1.0,
                args=graph,
                controller=PIController(rtol=1e-12, atol=1e-14),
                saveat=torch.tensor([0.0, 0.4, 1.0]),
            )
            term.raw -= s * h * dw
        return float(_loss(sol.ys))

    fd = (loss_at(1.0) - loss_at(-1.0)) / (2 * h)
    directional = float((gy_adj * dy).sum() + (gw_adj * dw).sum())
    assert directional == pytest.approx(fd, rel=1e-5)


def test_continuous_adjoint_fixed_grid_method_with_constant_step() -> None:
    graph = make_path_graph(5)
    term = _LearnedHeat(graph.num_edges)
    y0 = torch.randn(5, 1, generator=torch.Generator().manual_seed(4))
    adj = TorchDiffEqAdjoint(method="rk4", rtol=1e-9, atol=1e-11)
    _, gy_adj, gw_adj = _grads(graph, y0, term, RK4(), ConstantStep(), adj, dt0=0.02)
    _, gy_bp, gw_bp = _grads(graph, y0, term, RK4(), ConstantStep(), Backprop(), 0.02)
    # RK4 on the adjoint ODE vs the discrete adjoint of RK4: both O(dt^4)
    torch.testing.assert_close(gy_adj, gy_bp, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(gw_adj, gw_bp, rtol=1e-6, atol=1e-9)


def test_continuous_adjoint_tuple_state_and_explicit_params() -> None:
    # x'' = -L_w x as a second-order term, w closed over (not a parameter): pass it.
    graph = make_path_graph(4)
    w = torch.linspace(0.5, 1.5, graph.num_edges, dtype=torch.float64)
    w.requires_grad_(True)
    term = SecondOrderTerm(operator=lambda t, x, a: Laplacian(graph, edge_weight=w))
    x0 = torch.randn(4, 1, generator=torch.Generator().manual_seed(6))
    v0 = torch.zeros(4, 1)

    def grad(adjoint):
        sol = solve(
            term, Leapfrog(), y0=(x0, v0), t1=1.0, dt0=0.01, adjoint=adjoint
        )
        (g,) = torch.autograd.grad((sol.y1[0] ** 2).sum(), w)
        return g

    g_adj = grad(TorchDiffEqAdjoint(rtol=1e-10, atol=1e-12, params=(w,)))
    g_bp = grad(Backprop())
    # Leapfrog (order 2, dt = 0.01) vs the exact flow's gradient
    torch.testing.assert_close(g_adj, g_bp, rtol=1e-3, atol=1e-6)


def test_continuous_adjoint_without_gradients_is_plain() -> None:
    graph = make_path_graph(4)
    y0 = torch.randn(4, 1, generator=torch.Generator().manual_seed(8))
    term = ODETerm(lambda t, y, a: -(Laplacian(graph) @ y))
    adj = TorchDiffEqAdjoint(rtol=1e-8, atol=1e-10)
    a = solve(term, RK4(), y0=y0, t1=1.0, dt0=0.1, adjoint=adj)
    b = solve(term, RK4(), y0=y0, t1=1.0, dt0=0.1)
    torch.testing.assert_close(a.ys, b.ys, rtol=0, atol=0)
    assert not a.ys.requires_grad


def test_fixed_grid_adjoint_needs_constant_step() -> None:
    graph = make_path_graph(4)
    y0 = torch.randn(4, 1, generator=torch.Generator().manual_seed(9))
    with pytest.raises(
        ValueError,
        match=r"solve: the fixed-grid adjoint method 'rk4' steps on the forward "
        r"ConstantStep grid; got PIController\(rtol=1e-06, atol=1e-08\)\. Use "
        r"controller=ConstantStep\(\) with dt0, or an adaptive method such as "
        r"'dopri5'\.",
    ):
        solve(
            LinearTerm(Laplacian(graph)),
            Dopri5(),
            y0=y0,
            t1=1.0,
            controller=PIController(1e-6, 1e-8),
            adjoint=TorchDiffEqAdjoint(method="rk4", rtol=1e-6, atol=1e-8),
        )
