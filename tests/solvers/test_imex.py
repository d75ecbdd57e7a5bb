"""SymplecticEuler: the semi-implicit (IMEX) Euler step of GraphCON."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from graphops import Adjacency, Graph, Laplacian
from solvers._errors import StabilityWarning, TermSolverMismatch
from solvers.imex import SymplecticEuler
from solvers.linear_stability import Oscillator
from solvers.solution import Status
from solvers.solve import solve
from solvers.terms import ODETerm, SecondOrderTerm

from helpers import drive_steps as run
from helpers import empirical_order, wave_problem


def every_step(term, y0, dt, num_steps):
    """``solve`` saving every step (``dt`` a power of two: exact times and steps)."""
    saveat = dt * torch.arange(num_steps + 1, dtype=torch.float64)
    return solve(
        term,
        SymplecticEuler(),
        y0=y0,
        t1=num_steps * dt,
        dt0=dt,
        saveat=saveat,
        max_steps=num_steps,
    )


def energies(apply_a, ys, dt):
    """Energy 1/2|v|^2 + 1/2 x^T A x, and SE's modified energy (minus dt/2 v^T A x)."""
    x, v = (y.transpose(0, 1) for y in ys)  # [N, T, F]
    lx = apply_a(x.flatten(1)).view_as(x)
    energy = 0.5 * (v * v).sum((0, 2)) + 0.5 * (x * lx).sum((0, 2))
    return energy, energy - 0.5 * dt * (v * lx).sum((0, 2))


def test_order_on_wave_problem(grid_graph):
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    exact = wp.exact(1.0)
    dts = [0.1 * 2.0**-k for k in range(1, 7)]
    errs_x, errs_v = [], []
    for dt in dts:
        x1, v1 = solve(term, SymplecticEuler(), y0=(wp.x0, wp.v0), t1=1.0, dt0=dt).y1
        errs_x.append((x1 - exact[0]).abs().max())
        errs_v.append((v1 - exact[1]).abs().max())
    assert SymplecticEuler.order == 1
    assert empirical_order(dts, errs_x) == pytest.approx(1.0, abs=0.2)
    assert empirical_order(dts, errs_v) == pytest.approx(1.0, abs=0.2)


def test_order_with_damping_against_exact(grid_graph):
    """GraphCON's linear case x'' = -(L + gamma) x - alpha x' (velocity-dependent)."""
    wp = wave_problem(grid_graph)
    gamma, alpha = 0.5, 0.8
    term = SecondOrderTerm(
        lambda t, x, v, args: -(wp.L @ x) - gamma * x - alpha * v,
        velocity_dependent=True,
    )
    a, b, lam = wp.evecs.T @ wp.x0, wp.evecs.T @ wp.v0, wp.evals + gamma
    m = torch.zeros(len(lam), 2, 2)
    m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = 1.0, -lam, -alpha
    e = torch.linalg.matrix_exp(m)  # t = 1
    exact = wp.evecs @ (e[:, 0, 0:1] * a + e[:, 0, 1:2] * b)
    dts = [0.1 * 2.0**-k for k in range(1, 7)]
    errs = [
        (
            solve(term, SymplecticEuler(), y0=(wp.x0, wp.v0), t1=1.0, dt0=dt).y1[0]
            - exact
        )
        .abs()
        .max()
        for dt in dts
    ]
    assert empirical_order(dts, errs) == pytest.approx(1.0, abs=0.2)


def test_equals_hand_written_graphcon_bitwise(random_graph):
    """Rusch et al. (2022): Y += dt (relu(F(X)) - gamma X - alpha Y); X += dt Y."""
    torch.manual_seed(4)
    n, f = random_graph.num_nodes, 3
    adj = Adjacency(random_graph, "gcn")
    weight = torch.randn(f, f) / f
    gamma, alpha, dt = 1.3, 0.4, 0.25  # a power of two: solve's steps are exactly dt

    def conv(x):
        return adj @ (x @ weight)

    x, y = torch.randn(n, f), torch.randn(n, f)
    term = SecondOrderTerm(
        lambda t, x, v, args: torch.relu(conv(x)) - gamma * x - alpha * v,
        velocity_dependent=True,
    )
    sol = every_step(term, (x, y), dt, 30)
    assert sol.stats.num_rhs_evals == 30
    for k in range(1, 31):
        y = y + dt * (torch.relu(conv(x)) - gamma * x - alpha * y)
        x = x + dt * y
        assert torch.equal(sol.ys[0][k], x) and torch.equal(sol.ys[1][k], y)


@pytest.mark.slow
def test_modified_energy_conserved_and_energy_bounded(grid_graph):
    """Alpha = 0, linear oscillator x'' = -(L + gamma I) x, over 10^4 steps."""
    wp = wave_problem(grid_graph)
    gamma, dt, n = 0.5, 0.125, 10_000
    term = SecondOrderTerm(lambda t, x, v, args: -(wp.L @ x) - gamma * x)
    energy, modified = energies(
        lambda x: wp.L @ x + gamma * x, every_step(term, (wp.x0, wp.v0), dt, n).ys, dt
    )
    assert float((modified - modified[0]).abs().max() / modified[0]) < 1e-12
    err = (energy - energy[0]).abs() / energy[0]
    q = n // 4
    assert float(err[-q:].max()) <= 1.1 * float(err[:q].max())  # bounded, no drift
    assert float(err.max()) < 10 * dt  # O(dt) oscillation


@pytest.mark.parametrize("lam_max", [0.5, 4.0, 7.2])
def test_max_stable_dt(lam_max):
    assert SymplecticEuler().max_stable_dt(lam_max) == 2.0 / math.sqrt(lam_max)
    dt = SymplecticEuler().max_stable_dt(lam_max)
    roots = SymplecticEuler().linear_stability().mode_roots
    assert np.abs(roots(0.999 * dt, lam_max)).max() <= 1 + 1e-12
    assert np.abs(roots(1.001 * dt, lam_max)).max() > 1.01
    assert SymplecticEuler().max_stable_dt(0.0) is None


def test_cfl_limit(grid_graph):
    L = Laplacian(grid_graph)
    evals, evecs = torch.linalg.eigh(L.to_dense())
    x0 = evecs[:, -1:].repeat(1, 2)
    term = SecondOrderTerm(operator=L)
    dt_max = SymplecticEuler().max_stable_dt(float(evals[-1]))
    norm0 = float(x0.norm())
    dt, y0 = 0.95 * dt_max, (x0, torch.zeros_like(x0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)
        sol = solve(
            term,
            SymplecticEuler(),
            y0=y0,
            t1=400 * dt,
            dt0=dt,
            saveat=dt * torch.arange(401.0),
        )
    norms = sol.ys[0].flatten(1).norm(dim=1)
    # bounded: x_n has amplitude (1 + (dt^2 lam / 2)^2 / sin^2 theta)^(1/2) ~ 3.2
    assert float(norms.max()) <= 4 * norm0
    assert float(norms[200:].max()) <= 1.01 * float(norms[:200].max())
    dt = 1.05 * dt_max
    with pytest.warns(StabilityWarning, match="SymplecticEuler with dt="):
        sol = solve(term, SymplecticEuler(), y0=y0, t1=200 * dt, dt0=dt, throw=False)
    assert sol.status is Status.NONFINITE or float(sol.y1[0].norm()) > 10 * norm0


def test_amplification_roots_are_the_step_map_eigenvalues():
    dt, lam = 0.3, 5.0
    # (x, v) -> (x1, v1) = (x + dt v1, v - dt lam x)
    step_map = np.array([[1 - dt * dt * lam, dt], [-dt * lam, 1.0]])
    expected = np.linalg.eigvals(step_map)
    desc = SymplecticEuler().linear_stability()
    assert desc == Oscillator()  # the undamped leapfrog polynomial
    roots = desc.mode_roots(dt, lam)
    np.testing.assert_allclose(
        np.poly(roots), np.poly(expected), rtol=1e-13, atol=1e-14
    )
    assert desc.mode_roots(np.ones((2, 3)), 1.0).shape == (2, 3, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_preserved(grid_graph, dtype):
    term = SecondOrderTerm(operator=Laplacian(grid_graph))
    x0 = torch.randn(grid_graph.num_nodes, 2, dtype=dtype)
    ((x1, v1),) = run(term, SymplecticEuler(), (x0, torch.zeros_like(x0)), 0.1, 1)[0][
        1:
    ]
    assert x1.dtype == dtype and v1.dtype == dtype


def test_gradcheck_one_step():
    graph = Graph(
        torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 3]]), 6, directed="symmetrize"
    )
    gen = torch.Generator().manual_seed(5)
    x0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    v0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    w = (0.5 + torch.rand(graph.num_edges, generator=gen)).requires_grad_()

    def accel(t, x, v, w):  # a smooth GraphCON: tanh(A_w x) - gamma x - alpha v
        return (
            torch.tanh(Adjacency(graph, "sym", edge_weight=w) @ x) - 1.5 * x - 0.3 * v
        )

    term = SecondOrderTerm(accel, velocity_dependent=True)

    def f(x0, v0, w):
        return SymplecticEuler().step(term, 0.0, 0.3, (x0, v0), w, None).y1

    assert torch.autograd.gradcheck(f, (x0, v0, w))


def test_repr_and_frozen():
    assert repr(SymplecticEuler()) == "SymplecticEuler()"
    assert SymplecticEuler() == SymplecticEuler()


def test_accepts_velocity_dependent_term():
    term = SecondOrderTerm(lambda t, x, v, args: -x - v, velocity_dependent=True)
    x0 = torch.ones(3, 1)
    assert SymplecticEuler().init(term, 0.0, (x0, x0), None) is None


def test_refuses_first_order_term():
    x0 = torch.ones(3, 1)
    with pytest.raises(
        TermSolverMismatch, match="SymplecticEuler: needs a SecondOrderTerm"
    ):
        SymplecticEuler().init(ODETerm(lambda t, y, args: -y), 0.0, (x0, x0), None)


def test_refuses_non_pair_state():
    term = SecondOrderTerm(lambda t, x, v, args: -x)
    with pytest.raises(
        TypeError, match=r"SymplecticEuler: the state must be a tuple \(x, v\)"
    ):
        SymplecticEuler().init(term, 0.0, torch.ones(3, 1), None)


def test_max_stable_dt_rejects_bad_lam_max():
    with pytest.raises(
        ValueError, match="SymplecticEuler.max_stable_dt: `lam_max` must be a finite"
    ):
        SymplecticEuler().max_stable_dt(float("nan"))
