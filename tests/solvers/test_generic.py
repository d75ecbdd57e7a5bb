"""Generic solver tests, driven by the one registry ``helpers.all_solvers()``.

Every solver gets, from its capability types alone (no per-solver code here):

* ``repr`` that rebuilds an equal value, and dtype preservation;
* the empirical order of convergence on an exact problem: heat flow ``y' = -L y``
  for first-order methods, the (damped) wave equation for second-order ones;
* the CFL limit from ``max_stable_dt`` (stable at 0.95x, unstable at 1.05x, on the
  worst mode), or unconditional stability for implicit methods;
* ``torch.autograd.gradcheck`` of one step with respect to the state and learned
  edge weights.

A new solver is covered by adding one line to ``helpers.all_solvers()``.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import solvers
from graphops import Laplacian
from solvers import (
    DampedLeapfrog,
    LinearTerm,
    SecondOrderTerm,
    StabilityWarning,
    Status,
    solve,
)
from solvers.base import (
    AbstractImplicitSolver,
    AbstractIntervalSolver,
    AbstractSecondOrderSolver,
)

from conftest import make_grid_graph, make_path_graph
from helpers import all_solvers, empirical_order, heat_problem, wave_problem

SOLVERS = [pytest.param(s, id=repr(s)) for s in all_solvers()]
NAMESPACE = {name: getattr(solvers, name) for name in solvers.__all__}


def _self_stepping(solver) -> bool:
    """An interval solver with its own step control (torchdiffeq's adaptive ones)."""
    return isinstance(solver, AbstractIntervalSolver) and not solver.fixed_grid


def _damping(solver) -> tuple[float, float]:
    """``(alpha, beta)`` of the equation ``beta x'' + alpha x' = -L x`` solved."""
    if isinstance(solver, DampedLeapfrog):
        return solver.alpha, solver.beta
    return 0.0, 1.0


def _damped_wave_exact(wp, alpha: float, beta: float, t: float) -> torch.Tensor:
    """x(t) of ``beta x'' + alpha x' + L x = 0``, per mode (2x2 matrix exp)."""
    a = wp.evecs.T @ wp.x0
    b = wp.evecs.T @ wp.v0
    out = torch.empty_like(a)
    for k, lam in enumerate(wp.evals.tolist()):
        m = torch.tensor([[0.0, 1.0], [-lam / beta, -alpha / beta]]) * t
        e = torch.linalg.matrix_exp(m)
        out[k] = e[0, 0] * a[k] + e[0, 1] * b[k]
    return wp.evecs @ out


def _initial_state(solver, x0, v0):
    return (x0, v0) if isinstance(solver, AbstractSecondOrderSolver) else x0


@pytest.mark.parametrize("solver", SOLVERS)
def test_repr_rebuilds_an_equal_value(solver):
    assert eval(repr(solver), NAMESPACE) == solver


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_is_kept(solver, dtype):
    graph = make_grid_graph(3, 3).to(dtype=dtype)
    x0 = torch.randn(graph.num_nodes, 2, dtype=dtype)
    if isinstance(solver, AbstractSecondOrderSolver):
        term, y0 = SecondOrderTerm(operator=Laplacian(graph)), (x0, 0 * x0)
    else:
        term, y0 = LinearTerm(Laplacian(graph)), x0
    sol = solve(term, solver, y0=y0, t1=0.5, dt0=0.05)
    leaves = sol.ys if isinstance(sol.ys, tuple) else (sol.ys,)
    assert all(leaf.dtype == dtype for leaf in leaves)


@pytest.mark.slow
@pytest.mark.parametrize("solver", SOLVERS)
def test_empirical_order(solver):
    if _self_stepping(solver):
        pytest.skip("adaptive interval solver: it chooses its own steps")
    graph = make_grid_graph(5, 5)
    if isinstance(solver, AbstractSecondOrderSolver):
        wp = wave_problem(graph)
        alpha, beta = _damping(solver)
        exact = _damped_wave_exact(wp, alpha, beta, 1.0)
        term, y0, lam = SecondOrderTerm(operator=wp.L), (wp.x0, wp.v0), wp.evals[-1]
    else:
        hp = heat_problem(graph)
        exact = hp.exact(1.0)
        term, y0, lam = LinearTerm(hp.L), hp.y0, hp.evals[-1]
    limit = solver.max_stable_dt(float(lam))
    base = 0.25 if limit is None else min(0.25, 0.9 * limit)
    dts = [base * 2.0**-k for k in range(1, 7)]
    errs = []
    for dt in dts:
        y1 = solve(term, solver, y0=y0, t1=1.0, dt0=dt).ys
        x1 = y1[0][-1] if isinstance(y1, tuple) else y1[-1]
        errs.append((x1 - exact).abs().max())
    assert empirical_order(dts, errs) == pytest.approx(solver.order, abs=0.2)


@pytest.mark.slow
@pytest.mark.parametrize("solver", SOLVERS)
def test_cfl_limit_on_the_worst_mode(solver):
    if _self_stepping(solver):
        pytest.skip("adaptive interval solver: no fixed step to limit")
    graph = make_grid_graph(5, 5)
    L = Laplacian(graph)
    evals, evecs = torch.linalg.eigh(L.to_dense())
    lam, x0 = float(evals[-1]), evecs[:, -1:].repeat(1, 2)
    second = isinstance(solver, AbstractSecondOrderSolver)
    term = SecondOrderTerm(operator=L) if second else LinearTerm(L)
    y0 = _initial_state(solver, x0, torch.zeros_like(x0))
    norm0 = float(x0.norm())

    def first(ys):
        return ys[0] if isinstance(ys, tuple) else ys

    dt_star = solver.max_stable_dt(lam)
    if dt_star is None:
        assert isinstance(solver, AbstractImplicitSolver)
        dt = 100.0 / lam
        ts = dt * torch.arange(1, 21.0)
        xs = first(solve(term, solver, y0=y0, t1=20 * dt, dt0=dt, saveat=ts).ys)
        norms = xs.flatten(1).norm(dim=1)
        # Non-increasing up to round-off: the top eigenvector from eigh carries a
        # ~1e-15 null-space component, which no solver damps.
        assert (norms[1:] <= norms[:-1] + 1e-12 * norm0).all()
        assert norms[0] <= norm0
        return
    dt = 0.95 * dt_star
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)
        ts = dt * torch.arange(1, 401.0)
        xs = first(solve(term, solver, y0=y0, t1=400 * dt, dt0=dt, saveat=ts).ys)
    norms = xs.flatten(1).norm(dim=1)
    if second:
        # An oscillator's amplitude is bounded but not monotone (symplectic Euler
        # conserves a modified energy): no secular growth, and far below 10x.
        assert float(norms[200:].max()) <= 1.01 * float(norms[:200].max())
        assert float(norms.max()) <= 5 * norm0
    else:
        assert float(norms.max()) <= norm0 * (1 + 1e-9)
    # 500 steps: a multistep start-up barely excites the parasitic root at first.
    dt = 1.05 * dt_star
    with pytest.warns(StabilityWarning, match="exceeds the linear stability limit"):
        sol = solve(term, solver, y0=y0, t1=500 * dt, dt0=dt, throw=False)
    grown = float(first(sol.ys)[-1].norm()) > 10 * norm0
    assert sol.status is Status.NONFINITE or grown


@pytest.mark.parametrize("solver", SOLVERS)
def test_gradcheck_one_step(solver):
    graph = make_path_graph(5)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(5, 2, generator=gen).requires_grad_(True)
    w = (torch.rand(graph.num_edges, generator=gen) + 0.5).requires_grad_(True)
    second = isinstance(solver, AbstractSecondOrderSolver)

    def one_step(x, weight):
        L = Laplacian(graph, edge_weight=weight)
        term = SecondOrderTerm(operator=L) if second else LinearTerm(L)
        y = (x, 0.5 * x) if second else x
        state = solver.init(term, 0.0, y, None)
        step = solver.step(term, 0.0, 0.1, y, None, state)
        out = step.y1 if isinstance(step.y1, tuple) else (step.y1,)
        return out if step.y_err is None else (*out, step.y_err)

    assert torch.autograd.gradcheck(one_step, (x, w))
