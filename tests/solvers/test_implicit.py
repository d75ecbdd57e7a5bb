"""ImplicitEuler, CrankNicolson: order, stability, sources, errors, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from graphops import Gradient, Graph, Laplacian
from solvers import CG
from solvers._errors import SolveFailed, TermSolverMismatch
from solvers.adjoint import Backprop, Checkpoint
from solvers.base import (
    AbstractAdaptiveSolver,
    AbstractImplicitSolver,
    AbstractMultistepSolver,
    Step,
)
from solvers.implicit import CrankNicolson, ImplicitEuler
from solvers.solution import Status
from solvers.solve import solve
from solvers.terms import LinearTerm, ODETerm

from conftest import make_grid_graph, make_random_graph
from helpers import empirical_order, heat_problem

TIGHT = CG(rtol=1e-13)
SOLVERS = [ImplicitEuler(TIGHT), CrankNicolson(TIGHT)]


def run(term, solver, y0, dt, num_steps, t0=0.0, args=None):
    """Drive ``solver.step`` by hand; returns the final state and the list of Steps."""
    state = solver.init(term, t0, y0, args)
    t, y, steps = t0, y0, []
    for _ in range(num_steps):
        st = solver.step(term, t, dt, y, args, state)
        assert st.status is Status.SUCCESS, st.message
        y, state, t = st.y1, st.state, t + dt
        steps.append(st)
    return y, steps


def modal(p, y0, s, t: float, kind: str):
    """Exact solution of y' = -L y + s(t) per eigenmode (L = V diag(lam) V^T).

    ``kind="constant"``: s(t) = s; ``kind="sin"``: s(t) = sin(t) s.
    """
    lam = p.evals.unsqueeze(1)
    c0, sh = p.evecs.T @ y0, p.evecs.T @ s
    decay = torch.exp(-lam * t)
    if kind == "constant":
        safe = torch.where(lam > 1e-12, lam, torch.ones_like(lam))
        phi = torch.where(
            lam > 1e-12, -torch.expm1(-lam * t) / safe, torch.full_like(lam, t)
        )
    else:  # int_0^t e^{-lam (t - tau)} sin(tau) dtau
        phi = (lam * math.sin(t) - math.cos(t) + decay) / (1.0 + lam * lam)
    return p.evecs @ (decay * c0 + phi * sh)


# ---------------------------------------------------------------------------------
# Contract
# ---------------------------------------------------------------------------------
def test_class_attributes_and_repr():
    assert ImplicitEuler.order == 1 and CrankNicolson.order == 2
    for cls in (ImplicitEuler, CrankNicolson):
        assert cls.term_type is LinearTerm
        assert issubclass(cls, AbstractImplicitSolver)
        assert not issubclass(cls, AbstractAdaptiveSolver | AbstractMultistepSolver)
        assert cls().max_stable_dt(1e6) is None
    assert repr(ImplicitEuler(CG(rtol=1e-10))) == (
        "ImplicitEuler(linear_solver=CG(rtol=1e-10, atol=0.0, max_iters=None, "
        "preconditioner='jacobi', check_every=1))"
    )
    assert CrankNicolson() == CrankNicolson(linear_solver=CG(rtol=1e-10))


def test_linear_solver_must_be_cg():
    with pytest.raises(
        TypeError,
        match=r"ImplicitEuler: `linear_solver` must be a CG\(...\) value; got str. "
        r"Pass e.g. ImplicitEuler\(CG\(rtol=1e-10\)\)",
    ):
        ImplicitEuler("cg")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"CrankNicolson: `linear_solver` must be a CG"):
        CrankNicolson(linear_solver=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_one_step_equals_the_dense_theta_method(solver, random_graph):
    L = Laplacian(random_graph)
    y0 = torch.randn(random_graph.num_nodes, 3)
    dt, th = 0.3, solver.theta
    st = solver.step(
        LinearTerm(L), 0.0, dt, y0, None, solver.init(LinearTerm(L), 0.0, y0, None)
    )
    eye, a = torch.eye(random_graph.num_nodes), L.to_dense()
    ref = torch.linalg.solve(eye + th * dt * a, (eye - (1 - th) * dt * a) @ y0)
    assert isinstance(st, Step) and st.status is Status.SUCCESS and st.message == ""
    assert st.y_err is None
    assert torch.allclose(st.y1, ref, rtol=0, atol=1e-11)
    # Work counts: linear_iters = CG iterations; rhs_evals = the other matvecs with A
    # (initial CG residual, plus the explicit A y0 of Crank-Nicolson).
    assert st.linear_iters > 0
    assert st.rhs_evals == (1 if isinstance(solver, ImplicitEuler) else 2)


# ---------------------------------------------------------------------------------
# Convergence order
# ---------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_empirical_order_heat(solver, grid_graph):
    p = heat_problem(grid_graph)
    exact = p.exact(1.0)
    dts = [0.1 * 2.0**-k for k in range(1, 7)]
    errs = []
    for dt in dts:
        y, _ = run(LinearTerm(p.L), solver, p.y0, dt, round(1.0 / dt))
        errs.append(float((y - exact).abs().max()))
    assert empirical_order(dts, errs) == pytest.approx(solver.order, abs=0.2)


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_error_ratio_on_halving_dt(solver, grid_graph):
    """Fast version of the order test: halving dt divides the error by ~2^order."""
    p = heat_problem(grid_graph)
    exact = p.exact(0.5)
    e1 = float((run(LinearTerm(p.L), solver, p.y0, 0.05, 10)[0] - exact).abs().max())
    e2 = float((run(LinearTerm(p.L), solver, p.y0, 0.025, 20)[0] - exact).abs().max())
    assert math.log2(e1 / e2) == pytest.approx(solver.order, abs=0.2)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["constant", "sin"])
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_source_term_matches_exact_solution_and_order(solver, kind, grid_graph):
    p = heat_problem(grid_graph)
    s = torch.randn_like(p.y0)  # has a component along the constant null vector of L
    if kind == "constant":
        term = LinearTerm(p.L, source=s)
    else:
        term = LinearTerm(p.L, source=lambda t, y, args: math.sin(float(t)) * s)
    exact = modal(p, p.y0, s, 1.0, kind)
    dts = [0.1 * 2.0**-k for k in range(1, 6)]
    errs = [
        float((run(term, solver, p.y0, dt, round(1.0 / dt))[0] - exact).abs().max())
        for dt in dts
    ]
    assert errs[-1] < 5e-3
    assert empirical_order(dts, errs) == pytest.approx(solver.order, abs=0.2)


def test_implicit_euler_reaches_the_steady_state_at_huge_dt():
    """L-stability: one step with dt -> inf lands on the steady state L y = s."""
    L = Laplacian(make_grid_graph(6, 6))
    s = torch.randn(36, 2)
    s = s - s.mean(0)  # consistent: s is orthogonal to the null vector of L
    y0 = torch.randn(36, 2)
    st = ImplicitEuler(CG(rtol=1e-12)).step(
        LinearTerm(L, source=s), 0.0, 1e8, y0, None, None
    )
    assert st.status is Status.SUCCESS
    assert torch.allclose(L @ st.y1, s, atol=1e-6)
    assert torch.allclose(
        st.y1.mean(0), y0.mean(0), atol=1e-10
    )  # the mean is conserved


# ---------------------------------------------------------------------------------
# Stability
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_unconditionally_stable_on_the_top_mode(solver, grid_graph):
    p = heat_problem(grid_graph, mode="top")
    lam = float(p.evals[-1])
    dt = 100.0 / lam
    _, steps = run(LinearTerm(p.L), solver, p.y0, dt, 30)
    norms = [float(p.y0.norm())] + [float(s.y1.norm()) for s in steps]
    # Strictly decreasing until the mode has decayed to round-off; after that the
    # round-off component along the (conserved) null vector of L remains.
    for a, b in zip(norms, norms[1:], strict=False):
        assert b < a or b < 1e-13, norms
    # The top eigenvector is multiplied by the stability function R(-dt lam) exactly.
    z = -dt * lam
    r = (1 + (1 - solver.theta) * z) / (1 - solver.theta * z)
    assert torch.allclose(steps[0].y1, r * p.y0, atol=1e-10)


# ---------------------------------------------------------------------------------
# Errors at the boundary
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_non_symmetric_operator_raises(solver, grid_graph):
    y0 = torch.randn(25, 2)
    rw = LinearTerm(Laplacian(grid_graph, "rw"))
    name = type(solver).__name__
    msg = (
        rf"{name}: the operator must be symmetric for the CG solve; got "
        rf"Laplacian\(normalization='rw', shape=\(25, 25\).*explicit solver \(RK4, "
        rf"Dopri5\).*symmetrise the weights"
    )
    with pytest.raises(ValueError, match=msg):
        solver.init(rw, 0.0, y0, None)
    with pytest.raises(ValueError, match=msg):
        solver.step(rw, 0.0, 0.1, y0, None, None)
    w2 = (
        torch.rand(2 * grid_graph.num_edges) + 0.1
    )  # per-direction weights (raw attention)
    attn = LinearTerm(Laplacian(grid_graph, edge_weight=w2))
    with pytest.raises(
        ValueError,
        match=r"is_symmetric=False \(normalization='rw', or per-direction \[2M\] edge "
        r"weights",
    ):
        solver.init(attn, 0.0, y0, None)
    with pytest.raises(ValueError, match="must be symmetric"):
        solve(attn, solver, y0=y0, t1=1.0, dt0=0.1)


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_wrong_term_and_state_raise(solver, grid_graph):
    name = type(solver).__name__
    L = Laplacian(grid_graph)
    y0 = torch.randn(25, 2)
    ode = ODETerm(lambda t, y, args: -y)
    with pytest.raises(
        TermSolverMismatch,
        match=rf"{name}: needs a LinearTerm \(a term with .operator, y' = -A y \+ s\); "
        rf"got ODETerm",
    ):
        solver.init(ode, 0.0, y0, None)
    with pytest.raises(TermSolverMismatch, match=rf"{name}: needs a LinearTerm"):
        solver.step(ode, 0.0, 0.1, y0, None, None)
    with pytest.raises(TermSolverMismatch, match=rf"solve: {name} needs a LinearTerm"):
        solve(ode, solver, y0=y0, t1=1.0, dt0=0.1)
    with pytest.raises(
        TypeError, match=rf"{name}: the state must be a 2-D tensor \[N, F\]; got tuple"
    ):
        solver.init(LinearTerm(L), 0.0, (y0, y0), None)
    with pytest.raises(
        ValueError,
        match=rf"{name}: the state must be a 2-D floating tensor \[N, F\]; got shape "
        rf"\(25,\)",
    ):
        solver.step(LinearTerm(L), 0.0, 0.1, y0[:, 0], None, None)
    with pytest.raises(
        TypeError,
        match=rf"{name}: term.operator\(t, y, args\) must return a GraphOperator; got "
        rf"Tensor",
    ):
        solver.init(LinearTerm(lambda t, y, args: L.to_dense()), 0.0, y0, None)
    with pytest.raises(
        ValueError,
        match=rf"{name}: the operator must map node signals to node signals with shape "
        rf"\[N, N\]=\[25, 25\]",
    ):
        solver.init(LinearTerm(Gradient(grid_graph)), 0.0, y0, None)
    with pytest.raises(ValueError, match=r"the operator must map node signals"):
        solver.init(LinearTerm(Laplacian(make_grid_graph(4, 4))), 0.0, y0, None)
    bad_source = LinearTerm(L, source=torch.randn(25, 3))
    with pytest.raises(
        ValueError,
        match=rf"{name}: the source must broadcast to the state shape \(25, 1\); got a "
        rf"right-hand side of shape \(25, 3\)",
    ):
        solver.step(bad_source, 0.0, 0.1, y0[:, :1], None, None)


def test_operator_is_frozen_at_the_start_of_the_step(grid_graph):
    L = Laplacian(grid_graph)
    seen = []

    def op(t, y, args):
        seen.append(float(t))
        return L

    y0 = torch.randn(25, 1)
    for solver in SOLVERS:
        seen.clear()
        solver.step(LinearTerm(op), 0.5, 0.25, y0, None, None)
        assert seen == [0.5]


# ---------------------------------------------------------------------------------
# Linear-solver failure becomes a status, not an exception
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls", [ImplicitEuler, CrankNicolson], ids=lambda c: c.__name__
)
def test_cg_failure_gives_linear_solve_failed(cls, grid_graph):
    solver = cls(CG(rtol=1e-12, max_iters=2))
    term = LinearTerm(Laplacian(grid_graph))
    y0 = torch.randn(25, 2)
    st = solver.step(term, 0.0, 1.0, y0, None, solver.init(term, 0.0, y0, None))
    assert st.status is Status.LINEAR_SOLVE_FAILED
    assert st.linear_iters == 2
    assert st.message.startswith(
        "CG did not converge in 2 iterations (relative residual "
    )
    assert "> rtol=1e-12" in st.message
    sol = solve(term, solver, y0=y0, t1=2.0, dt0=1.0, throw=False)
    assert sol.status is Status.LINEAR_SOLVE_FAILED and not sol.success
    assert sol.message.startswith(
        f"{cls.__name__} failed at t=0 (step 1, dt=1): CG did not converge in 2 "
        f"iterations"
    )
    assert sol.stats.num_linear_iters == 2
    with pytest.raises(
        SolveFailed, match=r"CG did not converge in 2 iterations"
    ) as info:
        solve(term, solver, y0=y0, t1=2.0, dt0=1.0)
    assert info.value.solution.status is Status.LINEAR_SOLVE_FAILED


def test_negative_edge_weights_are_reported_as_not_spd(grid_graph):
    w = torch.ones(grid_graph.num_edges)
    w[:10] = -1.0
    term = LinearTerm(Laplacian(grid_graph, edge_weight=w, validate=False))
    y0 = torch.randn(25, 2)
    for solver in (
        ImplicitEuler(CG(rtol=1e-10)),
        ImplicitEuler(CG(rtol=1e-10, preconditioner=None)),
    ):
        st = solver.step(term, 0.0, 10.0, y0, None, None)
        assert st.status is Status.LINEAR_SOLVE_FAILED
        assert "not positive definite" in st.message


# ---------------------------------------------------------------------------------
# Warm start
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_warm_start_from_state_saves_iterations_not_accuracy(solver):
    p = heat_problem(make_grid_graph(10, 10), num_modes=6, features=3)
    term = LinearTerm(p.L)
    state = solver.init(term, 0.0, p.y0, None)
    assert state is None  # the first step starts from y0
    y_warm, y_cold, it_warm, it_cold = p.y0, p.y0, 0, 0
    for k in range(10):
        st = solver.step(term, 0.02 * k, 0.02, y_warm, None, state)
        y_warm, state, it_warm = st.y1, st.state, it_warm + st.linear_iters
        cold = solver.step(term, 0.02 * k, 0.02, y_cold, None, None)
        y_cold, it_cold = cold.y1, it_cold + cold.linear_iters
    assert it_warm < it_cold
    assert torch.allclose(y_warm, y_cold, rtol=0, atol=1e-11)


# ---------------------------------------------------------------------------------
# solve() integration
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_via_solve_matches_manual_loop_and_counts_work(solver, grid_graph):
    p = heat_problem(grid_graph)
    term = LinearTerm(p.L)
    y_loop, steps = run(term, solver, p.y0, 0.1, 10)
    sol = solve(term, solver, y0=p.y0, t1=1.0, dt0=0.1, saveat=torch.tensor([0.5, 1.0]))
    assert sol.success and sol.ys.shape == (2, 25, 2)
    assert torch.allclose(sol.ys[-1], y_loop, rtol=0, atol=1e-12)
    assert torch.allclose(sol.ys[-1], p.exact(1.0), atol=0.02)
    assert sol.stats.num_linear_iters == sum(s.linear_iters for s in steps)
    assert sol.stats.num_rhs_evals == sum(s.rhs_evals for s in steps)


# ---------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------
def _tiny():
    g = Graph(
        torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 5, 3]]), 6, directed="symmetrize"
    )
    gen = torch.Generator().manual_seed(3)
    y0 = torch.randn(6, 2, generator=gen, requires_grad=True)
    w = (0.5 + torch.rand(g.num_edges, generator=gen)).requires_grad_()
    s = torch.randn(6, 2, generator=gen, requires_grad=True)
    return g, y0, w, s


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_gradcheck_one_step(solver):
    g, y0, w, s = _tiny()

    def f(y0, w, s):
        term = LinearTerm(Laplacian(g, edge_weight=w), source=s)
        return solver.step(term, 0.0, 0.4, y0, None, None).y1

    assert torch.autograd.gradcheck(f, (y0, w, s), eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_gradient_through_several_steps_vs_finite_differences(solver):
    g, y0, w, _ = _tiny()
    c = torch.randn(6, 2, generator=torch.Generator().manual_seed(9))

    def loss(w):
        term = LinearTerm(Laplacian(g, edge_weight=w))
        y, _ = run(term, solver, y0.detach(), 0.3, 5)
        return (y * c).sum()

    (grad,) = torch.autograd.grad(loss(w), w)
    eps = 1e-6
    fd = torch.zeros_like(w)
    with torch.no_grad():
        for k in range(w.numel()):
            e = torch.zeros_like(w)
            e[k] = eps
            fd[k] = (loss(w + e) - loss(w - e)) / (2 * eps)
    assert torch.allclose(grad, fd, rtol=1e-6, atol=1e-9)
    # Through solve(), with and without checkpointing, the same gradient.
    for adjoint in (Backprop(), Checkpoint()):
        term = LinearTerm(Laplacian(g, edge_weight=w))
        y = solve(term, solver, y0=y0.detach(), t1=1.5, dt0=0.3, adjoint=adjoint).ys[-1]
        (gs,) = torch.autograd.grad((y * c).sum(), w)
        assert torch.allclose(gs, grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_gradient_matches_dense_theta_method(solver):
    g, y0, w, s = _tiny()
    dt, th = 0.3, solver.theta

    def dense(y0, w, s):
        a = Laplacian(g, edge_weight=w).to_dense()
        eye = torch.eye(6)
        y = y0
        for _ in range(3):
            y = torch.linalg.solve(
                eye + th * dt * a, (eye - (1 - th) * dt * a) @ y + dt * s
            )
        return y

    y, _ = run(LinearTerm(Laplacian(g, edge_weight=w), source=s), solver, y0, dt, 3)
    ref = dense(y0, w, s)
    assert torch.allclose(y, ref, atol=1e-11)
    c = torch.randn(6, 2)
    got = torch.autograd.grad((y * c).sum(), (y0, w, s))
    exp = torch.autograd.grad((ref * c).sum(), (y0, w, s))
    for a, b in zip(got, exp, strict=True):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-11)


def test_random_graph_learned_weights_train():
    """Smoke test: a loss through ImplicitEuler decreases under descent on w."""
    g = make_random_graph(30, 0.15, seed=1)
    y0 = torch.randn(30, 2)
    target = torch.zeros(30, 2)
    raw = torch.zeros(g.num_edges, requires_grad=True)
    opt = torch.optim.SGD([raw], lr=0.5)
    losses = []
    for _ in range(5):
        term = LinearTerm(Laplacian(g, edge_weight=torch.nn.functional.softplus(raw)))
        y = solve(term, ImplicitEuler(CG(rtol=1e-10)), y0=y0, t1=1.0, dt0=0.5).ys[-1]
        loss = ((y - y.mean(0)) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach().item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_tensor_times_and_float32_state(solver, grid_graph):
    p = heat_problem(grid_graph)
    term = LinearTerm(p.L, source=lambda t, y, args: torch.cos(torch.as_tensor(t)) * y)
    ref = solver.step(term, 0.2, 0.1, p.y0, None, None)
    st = solver.step(term, torch.tensor(0.2), torch.tensor(0.1), p.y0, None, None)
    assert torch.allclose(st.y1, ref.y1, rtol=0, atol=1e-13)
    st32 = solver.step(LinearTerm(p.L), 0.0, 0.1, p.y0.float(), None, None)
    assert st32.y1.dtype == torch.float32 and st32.status is Status.SUCCESS


@pytest.mark.parametrize("solver", SOLVERS, ids=repr)
def test_gradcheck_wrt_a_learned_step_size(solver):
    g, y0, w, s = _tiny()
    dt = torch.tensor(0.4, requires_grad=True)

    def f(dt, w):
        term = LinearTerm(Laplacian(g, edge_weight=w), source=s.detach())
        return solver.step(term, 0.0, dt, y0.detach(), None, None).y1

    assert torch.autograd.gradcheck(f, (dt, w), eps=1e-6, atol=1e-8, rtol=1e-6)
