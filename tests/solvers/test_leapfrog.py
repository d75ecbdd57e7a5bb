"""Tests of Leapfrog, TwoStepLeapfrog (PDE-GCN_H) and DampedLeapfrog (PDE-GCN_M)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from graphops import Graph, Laplacian
from solvers._errors import StabilityWarning, TermSolverMismatch
from solvers.adjoint import Backprop, Checkpoint
from solvers.leapfrog import DampedLeapfrog, Leapfrog, TwoStepLeapfrog
from solvers.linear_stability import Oscillator
from solvers.solution import Status
from solvers.solve import solve
from solvers.terms import ODETerm, SecondOrderTerm

from helpers import drive_steps as run
from helpers import empirical_order, wave_problem

UNDAMPED = [Leapfrog(), TwoStepLeapfrog(), DampedLeapfrog(alpha=0.0, beta=1.0)]
ALL = [
    Leapfrog(),
    TwoStepLeapfrog(),
    TwoStepLeapfrog(start="difference"),
    DampedLeapfrog(alpha=0.5, beta=0.5),
]


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------
def trajectory(term, solver, y0, dt, num_steps, **kwargs):
    """``solve`` with every step saved: the states ``[y0, y1, ...]`` as (x, v) pairs.

    With ``dt`` a power of two the saved times are exact, so every step is ``dt``.
    """
    saveat = dt * torch.arange(num_steps + 1, dtype=torch.float64)
    sol = solve(
        term,
        solver,
        y0=y0,
        t1=num_steps * dt,
        dt0=dt,
        saveat=saveat,
        max_steps=num_steps,
        **kwargs,
    )
    assert sol.stats.num_steps == num_steps
    return list(zip(*sol.ys, strict=True)), sol


def final_x(term, solver, y0, t1, dt):
    return solve(term, solver, y0=y0, t1=t1, dt0=dt).ys[0][-1]


def damped_exact(wp, alpha: float, beta: float, t: float) -> torch.Tensor:
    """Exact x(t) of beta x'' + alpha x' = -L x, per eigenmode (2x2 matrix exp)."""
    a, b, lam = wp.evecs.T @ wp.x0, wp.evecs.T @ wp.v0, wp.evals
    if beta == 0.0:  # diffusion alpha x' = -L x; the velocity plays no role
        return wp.evecs @ (torch.exp(-lam * t / alpha).unsqueeze(1) * a)
    m = torch.zeros(len(lam), 2, 2)
    m[:, 0, 1] = 1.0
    m[:, 1, 0] = -lam / beta
    m[:, 1, 1] = -alpha / beta
    e = torch.linalg.matrix_exp(m * t)
    return wp.evecs @ (e[:, 0, 0:1] * a + e[:, 0, 1:2] * b)


def tiny_problem():
    """N = 6 nodes, F = 2, learned edge weights: for gradcheck."""
    g = Graph(
        torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 3]]), 6, directed="symmetrize"
    )
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    v0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    w = (0.5 + torch.rand(g.num_edges, generator=gen)).requires_grad_()
    return g, x0, v0, w


def learned_wave(graph):
    """X'' = -L_w x with the edge weights passed in ``args``."""
    return SecondOrderTerm(lambda t, x, v, w: -(Laplacian(graph, edge_weight=w) @ x))


# ---------------------------------------------------------------------------------
# convergence order
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "solver", UNDAMPED + [TwoStepLeapfrog(start="difference")], ids=repr
)
def test_order_on_wave_problem(grid_graph, solver):
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    exact = wp.exact(1.0)[0]
    dts = [0.1 * 2.0**-k for k in range(1, 7)]
    errs = []
    for dt in dts:
        v0 = wp.v0
        if (
            getattr(solver, "start", None) == "difference"
        ):  # the matching (x0 - x_{-1}) / dt
            v0 = wp.v0 - 0.5 * dt * term.acceleration(0.0, wp.x0, wp.v0)
        errs.append((final_x(term, solver, (wp.x0, v0), 1.0, dt) - exact).abs().max())
    assert empirical_order(dts, errs) == pytest.approx(solver.order, abs=0.2)
    assert solver.order == 2


def test_two_step_with_true_velocity_as_difference_is_first_order(grid_graph):
    """Documented pitfall: start="difference" with v0 = x'(0) loses an order."""
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    exact = wp.exact(1.0)[0]
    dts = [0.1 * 2.0**-k for k in range(1, 6)]
    errs = [
        (
            final_x(term, TwoStepLeapfrog(start="difference"), (wp.x0, wp.v0), 1.0, dt)
            - exact
        )
        .abs()
        .max()
        for dt in dts
    ]
    assert empirical_order(dts, errs) == pytest.approx(1.0, abs=0.2)


@pytest.mark.parametrize(
    ("alpha", "beta", "order"),
    [(0.0, 1.0, 2), (0.25, 0.75, 1), (0.5, 0.5, 1), (0.9, 0.1, 1), (1.0, 0.0, 1)],
)
@pytest.mark.parametrize("start", ["taylor", "difference"])
def test_damped_order_against_exact_damped_oscillator(
    grid_graph, alpha, beta, order, start
):
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    solver = DampedLeapfrog(alpha=alpha, beta=beta, start=start)
    assert solver.order == order
    exact = damped_exact(wp, alpha, beta, 1.0)
    dts = [0.1 * 2.0**-k for k in range(1, 7)]
    errs = []
    for dt in dts:
        v0 = wp.v0
        if (
            start == "difference" and alpha == 0.0
        ):  # second order needs the matching start
            v0 = wp.v0 - 0.5 * dt * term.acceleration(0.0, wp.x0, wp.v0)
        errs.append((final_x(term, solver, (wp.x0, v0), 1.0, dt) - exact).abs().max())
    assert empirical_order(dts, errs) == pytest.approx(order, abs=0.2)


# ---------------------------------------------------------------------------------
# identities: Stormer-Verlet == two-step leapfrog; the two limits of DampedLeapfrog
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "graph_name", ["path_graph", "cycle_graph", "grid_graph", "random_graph"]
)
def test_stormer_verlet_equals_two_step_leapfrog(graph_name, request):
    graph = request.getfixturevalue(graph_name)
    wp = wave_problem(graph, num_modes=3)
    term = SecondOrderTerm(operator=wp.L)
    dt, n = 0.0625, 200
    sv, _ = trajectory(term, Leapfrog(), (wp.x0, wp.v0), dt, n)
    # (a) the Taylor start reads v0 as the velocity: same (x0, v0), same positions
    ts, _ = trajectory(term, TwoStepLeapfrog(start="taylor"), (wp.x0, wp.v0), dt, n)
    # (b) the raw two-step form with the matching difference quotient
    #     w0 = (x0 - x_{-1}) / dt = v0 - (dt / 2) a(x0)
    w0 = wp.v0 - 0.5 * dt * term.acceleration(0.0, wp.x0, wp.v0)
    td, _ = trajectory(term, TwoStepLeapfrog(start="difference"), (wp.x0, w0), dt, n)
    # (c) the textbook recurrence x+ = 2x - x- + dt^2 a(x), x_{-1} = x0 - dt w0
    x_prev, x = wp.x0 - dt * w0, wp.x0
    for k in range(n + 1):
        scale = max(1.0, float(sv[k][0].abs().max()))
        for other in (ts, td):
            torch.testing.assert_close(
                other[k][0], sv[k][0], rtol=0, atol=1e-12 * scale
            )
        torch.testing.assert_close(x, sv[k][0], rtol=0, atol=1e-12 * scale)
        x_prev, x = x, 2 * x - x_prev + dt**2 * term.acceleration(0.0, x, None)
    # the second component is the backward difference quotient (SV's v_{n-1/2})
    for k in range(1, n + 1):
        torch.testing.assert_close(
            td[k][1], (td[k][0] - td[k - 1][0]) / dt, rtol=0, atol=1e-10
        )


def test_identities_hold_on_an_uneven_grid(grid_graph):
    """Output times that split the grid unevenly change dt; two-step forms follow."""
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    saveat = torch.tensor([0.3, 0.35, 1.0, 1.7, 2.0])
    kw = dict(y0=(wp.x0, wp.v0), t1=2.0, dt0=0.1, saveat=saveat)
    sv = solve(term, Leapfrog(), **kw).ys[0]
    ts = solve(term, TwoStepLeapfrog(), **kw).ys
    dw = solve(term, DampedLeapfrog(alpha=0.0, beta=1.0), **kw).ys
    torch.testing.assert_close(ts[0], sv, rtol=0, atol=1e-12)
    assert torch.equal(dw[0], ts[0]) and torch.equal(dw[1], ts[1])
    for dt0 in (0.1, 0.05):  # still second order
        errs = [
            (
                solve(term, TwoStepLeapfrog(), **{**kw, "dt0": dt}).ys[0][-1]
                - wp.exact(2.0)[0]
            )
            .abs()
            .max()
            for dt in (dt0, dt0 / 2, dt0 / 4)
        ]
        assert empirical_order([dt0, dt0 / 2, dt0 / 4], errs) == pytest.approx(
            2.0, abs=0.2
        )


def test_two_step_reproduces_pde_gcn_h(grid_graph):
    """PDE-GCN_H, f+ = 2f - f- - h^2 r(f), f^{-1} = f^0: start="difference", v0 = 0."""
    L = Laplacian(grid_graph)
    term = SecondOrderTerm(operator=L)
    x0 = torch.randn(grid_graph.num_nodes, 3)
    h, n = 0.25, 50
    ys, _ = trajectory(
        term, TwoStepLeapfrog(start="difference"), (x0, torch.zeros_like(x0)), h, n
    )
    f_prev, f = x0, x0
    for k in range(1, n + 1):
        f_prev, f = f, 2 * f - f_prev - h**2 * (L @ f)
        torch.testing.assert_close(ys[k][0], f, rtol=0, atol=1e-12)


@pytest.mark.parametrize("start", ["taylor", "difference"])
def test_damped_limit_beta_one_is_two_step_leapfrog_bitwise(random_graph, start):
    wp = wave_problem(random_graph)
    term = SecondOrderTerm(operator=wp.L)
    a, _ = trajectory(
        term,
        DampedLeapfrog(alpha=0.0, beta=1.0, start=start),
        (wp.x0, wp.v0),
        0.125,
        200,
    )
    b, _ = trajectory(term, TwoStepLeapfrog(start=start), (wp.x0, wp.v0), 0.125, 200)
    for ya, yb in zip(a, b, strict=True):
        assert torch.equal(ya[0], yb[0]) and torch.equal(ya[1], yb[1])


@pytest.mark.parametrize("start", ["taylor", "difference"])
def test_damped_limit_alpha_one_is_explicit_euler_bitwise(random_graph, start):
    L = Laplacian(random_graph)
    term = SecondOrderTerm(operator=L)
    x0 = torch.randn(random_graph.num_nodes, 2)
    v0 = torch.randn(random_graph.num_nodes, 2)  # ignored when beta = 0
    h = 0.0625
    ys, _ = trajectory(
        term, DampedLeapfrog(alpha=1.0, beta=0.0, start=start), (x0, v0), h, 100
    )
    x = x0
    for k in range(1, 101):
        x = x - h * (L @ x)  # PDE-GCN_D: f+ = f - h r(f)
        assert torch.equal(ys[k][0], x)


def test_damped_limit_alpha_one_matches_euler_solver(random_graph):
    from solvers.explicit_rk import Euler
    from solvers.terms import LinearTerm

    L = Laplacian(random_graph)
    x0 = torch.randn(random_graph.num_nodes, 2)
    saveat = torch.linspace(0.0, 1.0, 21)
    ys = solve(
        SecondOrderTerm(operator=L),
        DampedLeapfrog(alpha=1.0, beta=0.0),
        y0=(x0, torch.zeros_like(x0)),
        t1=1.0,
        dt0=0.05,
        saveat=saveat,
    ).ys[0]
    ye = solve(LinearTerm(L), Euler(), y0=x0, t1=1.0, dt0=0.05, saveat=saveat).ys
    torch.testing.assert_close(ys, ye, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------------------------
# stability (CFL) and energy
# ---------------------------------------------------------------------------------
def top_mode(graph, features=2):
    L = Laplacian(graph)
    evals, evecs = torch.linalg.eigh(L.to_dense())
    return L, float(evals[-1]), evecs[:, -1:].repeat(1, features)


@pytest.mark.parametrize(
    "solver",
    ALL + [DampedLeapfrog(alpha=1.0, beta=0.0), DampedLeapfrog(alpha=0.2, beta=0.8)],
    ids=repr,
)
def test_cfl_limit(grid_graph, solver):
    L, lam_max, x0 = top_mode(grid_graph)
    term = SecondOrderTerm(operator=L)
    dt_max = solver.max_stable_dt(lam_max)
    norm0 = float(x0.norm())

    def y0(dt):  # at rest; for start="difference" the matching w0 = -(dt/2) a(x0)
        if getattr(solver, "start", None) == "difference":
            return (x0, -0.5 * dt * term.acceleration(0.0, x0, None))
        return (x0, torch.zeros_like(x0))

    dt = 0.95 * dt_max
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)  # solve's own check agrees
        ys, _ = trajectory(term, solver, y0(dt), dt, 200)
    norms = torch.stack([y[0].norm() for y in ys])
    assert float(norms.max()) <= norm0 * (1 + 1e-9)
    dt = 1.05 * dt_max
    with pytest.warns(
        StabilityWarning, match=rf"{type(solver).__name__}(\(.*\))? with dt="
    ):
        sol = solve(term, solver, y0=y0(dt), t1=200 * dt, dt0=dt, throw=False)
    assert sol.status is Status.NONFINITE or float(sol.ys[0][-1].norm()) > 10 * norm0


def test_leapfrog_max_stable_dt_value():
    assert Leapfrog().max_stable_dt(4.0) == 1.0
    assert TwoStepLeapfrog().max_stable_dt(16.0) == 0.5
    assert Leapfrog().max_stable_dt(0.0) is None


@pytest.mark.parametrize(
    ("alpha", "beta"), [(0.0, 1.0), (0.1, 0.9), (0.5, 0.5), (0.8, 0.2), (1.0, 0.0)]
)
@pytest.mark.parametrize("lam", [0.3, 2.0, 7.5, 40.0])
def test_damped_max_stable_dt_matches_characteristic_roots(alpha, beta, lam):
    """max_stable_dt, a bisection on max |root| <= 1 and the Jury closed form agree."""
    solver = DampedLeapfrog(alpha=alpha, beta=beta)
    assert solver.linear_stability() == Oscillator(alpha, beta)
    closed_form = (alpha + math.sqrt(alpha**2 + 4.0 * beta * lam)) / lam
    assert solver.max_stable_dt(lam) == pytest.approx(closed_form, rel=1e-12)

    def stable(dt):
        roots = solver.linear_stability().mode_roots(dt, lam)
        return np.abs(roots).max() <= 1.0 + 1e-9

    lo, hi = 1e-6, 1.0
    while stable(hi):
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    assert solver.max_stable_dt(lam) == pytest.approx(lo, rel=1e-6)
    assert DampedLeapfrog(alpha=0.0, beta=1.0).max_stable_dt(lam) == pytest.approx(
        2 / math.sqrt(lam), rel=1e-14
    )
    assert DampedLeapfrog(alpha=1.0, beta=0.0).max_stable_dt(lam) == pytest.approx(
        2 / lam, rel=1e-14
    )


def test_amplification_roots_shape_and_values():
    dt = np.array([0.1, 0.5, 1.0])[:, None]
    lam = np.array([0.0, 1.0, 4.0, 5.0])
    for solver in (Leapfrog(), TwoStepLeapfrog(), DampedLeapfrog(alpha=0.3, beta=0.7)):
        roots = solver.linear_stability().mode_roots(dt, lam)
        assert roots.shape == (3, 4, 2) and roots.dtype == np.complex128
    # Leapfrog and the two-step form have the same characteristic polynomial
    assert Leapfrog().linear_stability() == TwoStepLeapfrog().linear_stability()
    leapfrog = Leapfrog().linear_stability()
    roots = leapfrog.mode_roots(1.0, 4.0)  # dt^2 lam = 4: double root -1
    np.testing.assert_allclose(roots, [-1.0, -1.0], atol=1e-7)
    r = leapfrog.mode_roots(0.3, 2.0)  # on the unit circle, conjugate pair
    np.testing.assert_allclose(np.abs(r), 1.0, rtol=1e-14)
    np.testing.assert_allclose(np.poly(r), [1, -(2 - 0.18), 1], rtol=1e-13, atol=1e-15)
    # beta = 0: the roots are 0 and Euler's 1 - dt lam
    r = DampedLeapfrog(alpha=1.0, beta=0.0).linear_stability().mode_roots(0.1, 3.0)
    np.testing.assert_allclose(np.sort(r.real), [0.0, 0.7], atol=1e-15)
    r = DampedLeapfrog(alpha=0.4, beta=0.6).linear_stability().mode_roots(0.2, 3.0)
    expected = np.array([0.6 + 0.08, -(1.2 + 0.08 - 0.12), 0.6])
    np.testing.assert_allclose(
        np.poly(r), expected / expected[0], rtol=1e-13, atol=1e-15
    )


@pytest.mark.slow
def test_leapfrog_energy_has_no_secular_drift(grid_graph):
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    e0 = float(wp.energy(wp.x0, wp.v0))
    n = 10_000
    max_err = {}
    for dt in (0.1, 0.05):
        saveat = torch.linspace(0.0, n * dt, n + 1)
        sol = solve(
            term,
            Leapfrog(),
            y0=(wp.x0, wp.v0),
            t1=n * dt,
            dt0=dt,
            saveat=saveat,
            max_steps=n,
        )
        # [N, T, F]: one matmul for all energies
        x, v = (y.transpose(0, 1) for y in sol.ys)
        lx = (wp.L @ x.flatten(1)).view_as(x)
        energy = 0.5 * (v * v).sum((0, 2)) + 0.5 * (x * lx).sum((0, 2))
        err = (energy - e0).abs() / e0
        q = n // 4
        first, last = float(err[:q].max()), float(err[-q:].max())
        assert last <= 1.5 * first  # oscillates, does not grow
        # relative error <= C dt^2 (measured C ~ 0.08)
        assert float(err.max()) <= 0.2 * dt**2
        max_err[dt] = float(err.max())
    assert max_err[0.1] / max_err[0.05] == pytest.approx(4.0, rel=0.25)  # O(dt^2)


def test_rhs_evals_and_fsal_cache(grid_graph):
    wp = wave_problem(grid_graph)
    calls = []

    def accel(t, x, v, args):
        calls.append(t)
        return -(wp.L @ x)

    term = SecondOrderTerm(accel)
    _, evals = run(term, Leapfrog(), (wp.x0, wp.v0), 0.1, 5)
    assert evals == [2, 1, 1, 1, 1] and len(calls) == 6
    assert (
        solve(term, Leapfrog(), y0=(wp.x0, wp.v0), t1=1.0, dt0=0.1).stats.num_rhs_evals
        == 11
    )
    for solver in (TwoStepLeapfrog(), DampedLeapfrog(alpha=0.5, beta=0.5)):
        calls.clear()
        _, evals = run(term, solver, (wp.x0, wp.v0), 0.1, 5)
        assert evals == [1] * 5 and len(calls) == 5
        assert (
            solve(term, solver, y0=(wp.x0, wp.v0), t1=1.0, dt0=0.1).stats.num_rhs_evals
            == 10
        )


def test_variable_step_leapfrog_keeps_cache_consistent(grid_graph):
    """Stormer-Verlet is one-step: a changed dt uses the cached a(x_n) correctly."""
    wp = wave_problem(grid_graph)
    term = SecondOrderTerm(operator=wp.L)
    solver = Leapfrog()
    state = solver.init(term, 0.0, (wp.x0, wp.v0), None)
    y, t = (wp.x0, wp.v0), 0.0
    for dt in [0.01, 0.02, 0.005] * 10:
        s = solver.step(term, t, dt, y, None, state)
        y, state, t = s.y1, s.state, t + dt
        torch.testing.assert_close(
            state, term.acceleration(t, y[0], y[1]), rtol=0, atol=0
        )
    assert (y[0] - wp.exact(t)[0]).abs().max() < 1e-4


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("solver", ALL, ids=repr)
def test_dtype_preserved(grid_graph, solver, dtype):
    L = Laplacian(grid_graph)
    term = SecondOrderTerm(operator=L)
    x0 = torch.randn(grid_graph.num_nodes, 2, dtype=dtype)
    ys, _ = run(term, solver, (x0, torch.zeros_like(x0)), 0.1, 3)
    assert ys[-1][0].dtype == dtype and ys[-1][1].dtype == dtype
    sol = solve(term, solver, y0=(x0, torch.zeros_like(x0)), t1=0.3, dt0=0.1)
    assert sol.ys[0].dtype == dtype and sol.ys[1].dtype == dtype


# ---------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "solver",
    [
        Leapfrog(),
        TwoStepLeapfrog(),
        TwoStepLeapfrog(start="difference"),
        DampedLeapfrog(alpha=0.3, beta=0.7),
    ],
    ids=repr,
)
def test_gradcheck_two_steps(solver):
    """Two steps (the first one and a steady one, i.e. with the cached state)."""
    graph, x0, v0, w = tiny_problem()
    term = learned_wave(graph)

    def f(x0, v0, w):
        ys, _ = run(term, solver, (x0, v0), 0.2, 2, args=w)
        return ys[1] + ys[2]

    assert torch.autograd.gradcheck(f, (x0, v0, w))


@pytest.mark.parametrize("solver", ALL, ids=repr)
def test_solve_checkpoint_gives_the_same_gradient(solver):
    """The solver states (cached a(x), previous dt) survive torch.utils.checkpoint."""
    graph, x0, v0, w = tiny_problem()
    grads = []
    for adjoint in (Backprop(), Checkpoint()):
        sol = solve(
            learned_wave(graph),
            solver,
            y0=(x0, v0),
            t1=2.0,
            dt0=0.1,
            args=w,
            adjoint=adjoint,
        )
        grads.append(torch.autograd.grad(sol.y1[0].square().sum(), (x0, v0, w)))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", ALL, ids=repr)
def test_refuses_first_order_term(solver, grid_graph):
    x0 = torch.zeros(grid_graph.num_nodes, 1)
    with pytest.raises(TermSolverMismatch, match="needs a SecondOrderTerm"):
        solver.init(ODETerm(lambda t, y, args: -y), 0.0, (x0, x0), None)


@pytest.mark.parametrize("solver", ALL, ids=repr)
def test_refuses_velocity_dependent_term(solver, grid_graph):
    x0 = torch.zeros(grid_graph.num_nodes, 1)
    term = SecondOrderTerm(lambda t, x, v, args: -x - v, velocity_dependent=True)
    with pytest.raises(
        TermSolverMismatch, match=r"velocity_dependent=True\. Use DampedLeapfrog"
    ):
        solver.init(term, 0.0, (x0, x0), None)
    # also a direct step() without init()
    with pytest.raises(TermSolverMismatch, match="SymplecticEuler"):
        solver.step(term, 0.0, 0.1, (x0, x0), None, None)


@pytest.mark.parametrize("solver", ALL, ids=repr)
@pytest.mark.parametrize(
    "y0",
    [torch.zeros(4, 1), (torch.zeros(4, 1),), (torch.zeros(4, 1), 0.0)],
    ids=["tensor", "1-tuple", "float"],
)
def test_refuses_non_pair_state(solver, y0):
    term = SecondOrderTerm(lambda t, x, v, args: -x)
    with pytest.raises(TypeError, match=r"must be a tuple \(x, v\) of two tensors"):
        solver.init(term, 0.0, y0, None)


@pytest.mark.parametrize(
    "cls", [TwoStepLeapfrog, lambda start: DampedLeapfrog(0.5, 0.5, start=start)]
)
def test_bad_start(cls):
    with pytest.raises(ValueError, match="`start` must be one of"):
        cls(start="euler")


@pytest.mark.parametrize(
    ("alpha", "beta", "match"),
    [
        (-0.1, 1.1, "`alpha` must be finite and >= 0"),
        (1.1, -0.1, "`beta` must be finite and >= 0"),
        (float("nan"), 1.0, "`alpha` must be finite"),
        (0.5, 0.6, r"`alpha` \+ `beta` must equal 1"),
        (0.0, 0.0, "must equal 1"),
    ],
)
def test_damped_bad_coefficients(alpha, beta, match):
    with pytest.raises(ValueError, match=match):
        DampedLeapfrog(alpha=alpha, beta=beta)


@pytest.mark.parametrize(
    ("alpha", "beta"), [(torch.tensor(0.5), 0.5), (True, 0.0), ("0.5", 0.5)]
)
def test_damped_coefficients_must_be_real_numbers(alpha, beta):
    with pytest.raises(TypeError, match="must be a real number"):
        DampedLeapfrog(alpha=alpha, beta=beta)


def test_damped_accepts_ints_and_has_readable_repr():
    s = DampedLeapfrog(alpha=0, beta=1)
    assert s.alpha == 0.0 and isinstance(s.alpha, float)
    assert repr(s) == "DampedLeapfrog(alpha=0.0, beta=1.0, start='taylor')"
    assert repr(Leapfrog()) == "Leapfrog()"
    assert (
        repr(TwoStepLeapfrog(start="difference"))
        == "TwoStepLeapfrog(start='difference')"
    )
    with pytest.raises(AttributeError):
        s.alpha = 0.5  # frozen


@pytest.mark.parametrize("solver", ALL, ids=repr)
@pytest.mark.parametrize(
    ("lam_max", "exc", "match"),
    [
        (float("inf"), ValueError, "`lam_max` must be a finite real number"),
        (float("nan"), ValueError, "`lam_max` must be a finite real number"),
        ("8.0", TypeError, "`lam_max` must be a real number"),
        (None, TypeError, "`lam_max` must be a real number"),
    ],
)
def test_max_stable_dt_rejects_bad_lam_max(solver, lam_max, exc, match):
    with pytest.raises(exc, match=rf"{type(solver).__name__}.max_stable_dt: {match}"):
        solver.max_stable_dt(lam_max)
