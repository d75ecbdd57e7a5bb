"""solve(): validation, outputs, adaptive accuracy and cost, failures, gradients."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from torchdiffeq import odeint

import solvers
from graphops import Laplacian
from solvers import (
    RK4,
    SOLVERS,
    AbstractAdaptiveSolver,
    AbstractImplicitSolver,
    AbstractMultistepSolver,
    AbstractSolver,
    Backprop,
    Bosh3,
    Checkpoint,
    ConstantStep,
    Dopri5,
    Euler,
    LinearTerm,
    ODETerm,
    PIController,
    SecondOrderTerm,
    SolveFailed,
    StabilityWarning,
    Status,
    Step,
    TermSolverMismatch,
    TorchDiffEqAdjoint,
    get_solver,
    solve,
)

from conftest import make_path_graph, make_random_graph
from helpers import heat_problem, wave_problem


# -- dummy solvers for contract paths no real solver here takes ------------------------
@dataclass(frozen=True)
class _LinearOnly(AbstractSolver):
    order: ClassVar[int] = 1
    term_type: ClassVar[type] = LinearTerm

    def step(self, term, t0, dt, y0, args, state):
        return Step(y0 + dt * term(t0, y0, args), rhs_evals=1)


@dataclass(frozen=True)
class _Multistep(AbstractMultistepSolver, AbstractAdaptiveSolver):
    order: ClassVar[int] = 2
    error_order: ClassVar[int] = 1

    def step(self, term, t0, dt, y0, args, state):
        return Step(y0 + dt * term(t0, y0, args), y0 * 0, rhs_evals=1)


@dataclass(frozen=True)
class _NoErrorEstimate(AbstractAdaptiveSolver):
    order: ClassVar[int] = 1
    error_order: ClassVar[int] = 1

    def step(self, term, t0, dt, y0, args, state):
        return Step(y0 + dt * term(t0, y0, args), None, rhs_evals=1)


@dataclass(frozen=True)
class _FailsAt(AbstractImplicitSolver):
    """An 'implicit' solver whose linear solve fails from time `t_fail` on."""

    t_fail: float = 0.3
    order: ClassVar[int] = 1

    def step(self, term, t0, dt, y0, args, state):
        if t0 >= self.t_fail - 1e-12:
            return Step(
                y0,
                status=Status.LINEAR_SOLVE_FAILED,
                message="CG did not converge in 5 iterations",
                linear_iters=5,
            )
        return Step(y0 + dt * term(t0, y0, args), rhs_evals=1, linear_iters=7)


@pytest.fixture
def heat(grid_graph):
    return heat_problem(grid_graph)


# -- outputs ---------------------------------------------------------------------------
def test_default_saves_t1_only(heat) -> None:
    sol = solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.1)
    assert sol.success and sol.status is Status.SUCCESS and sol.message == ""
    assert sol.ys.shape == (1, 25, 2)
    torch.testing.assert_close(sol.ts, torch.tensor([1.0]))
    torch.testing.assert_close(sol.y1, heat.exact(1.0), rtol=0, atol=1e-6)


def test_saveat_with_t0_and_without_t1(heat) -> None:
    saveat = torch.tensor([0.0, 0.25, 0.6])
    sol = solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.1, saveat=saveat)
    assert sol.ys.shape == (3, 25, 2)
    assert torch.equal(sol.ts, saveat)
    assert torch.equal(sol.ys[0], heat.y0)  # t0 is saved as given, no step taken
    for t, y in zip(saveat.tolist(), sol.ys, strict=True):
        torch.testing.assert_close(y, heat.exact(t), rtol=0, atol=1e-6)
    # The grid lands on 0.25 (3 steps), 0.6 (4 steps) and t1 (4 steps).
    assert sol.stats.num_steps == 3 + 4 + 4


def test_constant_step_records_effective_dt(heat) -> None:
    sol = solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.3)
    assert sol.stats.dt == 0.25 and sol.stats.num_steps == 4
    ref = solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.25)
    torch.testing.assert_close(sol.ys, ref.ys, rtol=1e-15, atol=1e-15)


def test_time_reaches_term_as_float_with_offset_t0() -> None:
    # y' = cos(t) from t0 = 1 (given as a 0-d tensor) to t1 = 2:
    # y = y0 + sin(t) - sin(1).
    seen = []

    def rhs(t, y, args):
        seen.append(type(t))
        return torch.full_like(y, math.cos(t))

    y0 = torch.zeros(2, 1)
    sol = solve(ODETerm(rhs), RK4(), y0=y0, t0=torch.tensor(1.0), t1=2.0, dt0=0.01)
    torch.testing.assert_close(
        sol.y1, torch.full((2, 1), math.sin(2) - math.sin(1)), rtol=0, atol=1e-12
    )
    assert set(seen) == {float}


def test_tuple_state_outputs(grid_graph) -> None:
    wp = wave_problem(grid_graph)
    saveat = torch.tensor([0.5, 1.0])
    sol = solve(
        SecondOrderTerm(operator=wp.L),
        RK4(),
        y0=(wp.x0, wp.v0),
        t1=1.0,
        dt0=0.01,
        saveat=saveat,
    )
    xs, vs = sol.ys
    assert xs.shape == vs.shape == (2, 25, 2)
    x1, v1 = sol.y1
    torch.testing.assert_close(x1, wp.exact(1.0)[0], rtol=0, atol=1e-9)
    torch.testing.assert_close(v1, wp.exact(1.0)[1], rtol=0, atol=1e-9)


def test_dtype_preserved_float32(heat) -> None:
    sol = solve(
        LinearTerm(heat.L),
        Dopri5(),
        y0=heat.y0.float(),
        t1=1.0,
        controller=PIController(1e-5, 1e-7),
    )
    assert sol.ys.dtype == torch.float32 and sol.ts.dtype == torch.float32
    torch.testing.assert_close(sol.y1, heat.exact(1.0).float(), rtol=1e-4, atol=1e-5)


def test_float32_linspace_saveat_is_snapped(heat) -> None:
    saveat = torch.linspace(0.0, 0.7, 8, dtype=torch.float32)
    sol = solve(
        LinearTerm(heat.L), RK4(), y0=heat.y0, t0=0.0, t1=0.7, dt0=0.05, saveat=saveat
    )
    assert sol.ys.shape[0] == 8 and sol.success


# -- adaptive accuracy and cost --------------------------------------------------------
def test_dopri5_matches_torchdiffeq_scipy_and_exact(heat) -> None:
    saveat = torch.linspace(0.0, 1.0, 6)
    sol = solve(
        LinearTerm(heat.L),
        Dopri5(),
        y0=heat.y0,
        t1=1.0,
        saveat=saveat,
        controller=PIController(rtol=1e-10, atol=1e-12),
    )
    exact = torch.stack([heat.exact(t) for t in saveat.tolist()])
    torch.testing.assert_close(sol.ys, exact, rtol=0, atol=1e-9)

    ref = odeint(
        lambda t, y: -(heat.L @ y),
        heat.y0,
        saveat,
        rtol=1e-10,
        atol=1e-12,
        method="dopri5",
    )
    torch.testing.assert_close(sol.ys, ref, rtol=0, atol=1e-9)

    A = heat.L.to_scipy()
    for method, rtol in (("RK45", 1e-10), ("DOP853", 1e-13)):
        r = solve_ivp(
            lambda t, y: -(A @ y.reshape(25, 2)).ravel(),
            (0.0, 1.0),
            heat.y0.numpy().ravel(),
            method=method,
            t_eval=saveat.numpy(),
            rtol=rtol,
            atol=1e-12,
        )
        ref_scipy = torch.from_numpy(r.y.T.reshape(6, 25, 2).copy())
        torch.testing.assert_close(sol.ys, ref_scipy, rtol=0, atol=1e-9)


def test_error_falls_with_tolerance(heat) -> None:
    errs, nfes = [], []
    for rtol in (1e-3, 1e-5, 1e-7, 1e-9):
        sol = solve(
            LinearTerm(heat.L),
            Dopri5(),
            y0=heat.y0,
            t1=1.0,
            controller=PIController(rtol, rtol * 1e-2),
        )
        errs.append(float((sol.y1 - heat.exact(1.0)).abs().max()))
        nfes.append(sol.stats.num_rhs_evals)
    assert all(b < a for a, b in zip(errs, errs[1:], strict=False)), errs
    assert all(b > a for a, b in zip(nfes, nfes[1:], strict=False)), nfes
    assert errs[-1] < 1e-9


def test_adaptive_lands_on_saveat_and_fills_stats(heat) -> None:
    saveat = torch.tensor([0.1, 0.37, 0.5, 1.0])
    sol = solve(
        LinearTerm(heat.L),
        Dopri5(),
        y0=heat.y0,
        t1=1.0,
        saveat=saveat,
        controller=PIController(1e-8, 1e-10),
    )
    for t, y in zip(saveat.tolist(), sol.ys, strict=True):
        torch.testing.assert_close(y, heat.exact(t), rtol=0, atol=1e-8)
    s = sol.stats
    assert s.num_steps == s.num_accepted + s.num_rejected and s.num_accepted >= 4
    assert (
        s.num_rhs_evals == 2 + 6 * s.num_steps
    )  # f0 + initial-step probe + 6 per FSAL step
    assert s.num_linear_iters == 0 and s.dt is None


@pytest.mark.parametrize("solver", [Bosh3(), Dopri5()], ids=repr)
def test_adaptive_counts_match_actual_calls(solver, heat) -> None:
    calls = []

    def rhs(t, y, args):
        calls.append(t)
        return -(heat.L @ y)

    sol = solve(
        ODETerm(rhs), solver, y0=heat.y0, t1=2.0, controller=PIController(1e-6, 1e-8)
    )
    assert sol.stats.num_rhs_evals == len(calls)


def test_bosh3_adaptive(heat) -> None:
    sol = solve(
        LinearTerm(heat.L),
        Bosh3(),
        y0=heat.y0,
        t1=1.0,
        controller=PIController(rtol=1e-8, atol=1e-10),
    )
    assert sol.success
    torch.testing.assert_close(sol.y1, heat.exact(1.0), rtol=0, atol=1e-7)


def test_given_dt0_used_as_first_step(heat) -> None:
    calls = []

    def rhs(t, y, args):
        calls.append(t)
        return -(heat.L @ y)

    solve(
        ODETerm(rhs),
        Dopri5(),
        y0=heat.y0,
        t1=1.0,
        dt0=0.01,
        controller=PIController(1e-6, 1e-8),
    )
    # f0, then the first step's stages sit at t0 + c_i * 0.01 (no initial-step probe).
    assert calls[1] == pytest.approx(0.2 * 0.01)


@pytest.mark.parametrize("tols", [(1e-6, 1e-8), (1e-8, 1e-10)], ids=repr)
@pytest.mark.parametrize("graph_kind", ["grid", "random"])
def test_nfe_within_10_percent_of_torchdiffeq(tols, graph_kind, grid_graph) -> None:
    g, norm, t1 = (
        (grid_graph, None, 1.0)
        if graph_kind == "grid"
        else (make_random_graph(), "sym", 5.0)
    )
    hp = heat_problem(g, norm)
    rtol, atol = tols
    calls = [0]

    def f(t, y):
        calls[0] += 1
        return -(hp.L @ y)

    odeint(f, hp.y0, torch.tensor([0.0, t1]), rtol=rtol, atol=atol, method="dopri5")
    sol = solve(
        LinearTerm(hp.L),
        Dopri5(),
        y0=hp.y0,
        t1=t1,
        controller=PIController(rtol=rtol, atol=atol),
    )
    assert abs(sol.stats.num_rhs_evals - calls[0]) <= 0.1 * calls[0], (
        sol.stats.num_rhs_evals,
        calls[0],
    )


# -- failures --------------------------------------------------------------------------
def test_max_steps_adaptive(heat) -> None:
    sol = solve(
        LinearTerm(heat.L),
        Dopri5(),
        y0=heat.y0,
        t1=1.0,
        controller=PIController(1e-8, 1e-10),
        max_steps=3,
        throw=False,
        saveat=torch.tensor([0.0, 0.01, 1.0]),
    )
    assert sol.status is Status.MAX_STEPS and not sol.success
    assert sol.stats.num_steps == 3
    assert sol.message.startswith("Dopri5 stopped at t=")
    assert (
        "`max_steps`=3 reached before t1=1" in sol.message
        and "Raise max_steps" in sol.message
    )
    assert len(sol.ts) == sol.ys.shape[0] >= 1  # the partial solution: times reached


def test_max_steps_constant_raises_with_partial_solution(heat) -> None:
    with pytest.raises(
        SolveFailed,
        match=r"RK4 stopped at t=0\.3 \(step 30\): `max_steps`=30 reached before "
        r"t1=1; ConstantStep needs 100 steps of dt=0\.01\. Raise max_steps or dt0\.",
    ) as info:
        solve(
            LinearTerm(heat.L),
            RK4(),
            y0=heat.y0,
            t1=1.0,
            dt0=0.01,
            max_steps=30,
            saveat=torch.linspace(0, 1, 11),
        )
    partial = info.value.solution
    assert partial.status is Status.MAX_STEPS
    torch.testing.assert_close(partial.ts, torch.tensor([0.0, 0.1, 0.2, 0.3]))
    assert partial.ys.shape == (4, 25, 2)
    assert partial.stats.num_steps == 30


def test_dt_min_by_underflow_on_finite_time_blow_up() -> None:
    # y' = y^2, y(0) = 1 blows up at t = 1.
    term = ODETerm(lambda t, y, args: y * y)
    sol = solve(
        term,
        Dopri5(),
        y0=torch.ones(1, 1),
        t1=2.0,
        controller=PIController(1e-6, 1e-8),
        throw=False,
    )
    assert sol.status is Status.DT_MIN
    assert re.search(
        r"^Dopri5 failed at t=1\.0\d* \(step \d+\): dt=.* underflowed .* rejected "
        r"steps? in a row, "
        r"\d+ in all \(error estimate .*\)\. The RHS is likely stiff or diverging",
        sol.message,
    ), sol.message


def test_dt_min_threshold() -> None:
    term = ODETerm(lambda t, y, args: y * y)
    with pytest.raises(
        SolveFailed,
        match=r"Dopri5 failed at t=.*: dt=.* fell below dt_min=1e-08 after .*try "
        r"ImplicitEuler\(CG\(\.\.\.\)\) or check the learned diffusivity\.",
    ) as info:
        solve(
            term,
            Dopri5(),
            y0=torch.ones(1, 1),
            t1=2.0,
            controller=PIController(1e-6, 1e-8, dt_min=1e-8),
        )
    assert info.value.solution.status is Status.DT_MIN


def _nan_after(t_bad: float, heat):
    def rhs(t, y, args):
        out = -(heat.L @ y)
        return out * math.nan if t > t_bad else out

    return ODETerm(rhs)


def test_nonfinite_fixed_step_names_time_and_step(heat) -> None:
    saveat = torch.linspace(0.0, 1.0, 11)
    sol = solve(
        _nan_after(0.53, heat),
        RK4(),
        y0=heat.y0,
        t1=1.0,
        dt0=0.1,
        saveat=saveat,
        throw=False,
    )
    assert sol.status is Status.NONFINITE
    assert sol.message.startswith(
        "RK4 failed at t=0.5 (step 6, dt=0.1): the state became non-finite (NaN or "
        "inf)."
    )
    assert "check the term" in sol.message
    # Outputs up to the last finite state only.
    torch.testing.assert_close(sol.ts, saveat[:6])
    assert torch.isfinite(sol.ys).all()


def test_nonfinite_found_exactly_across_sync_windows(heat) -> None:
    # Euler evaluates f at t_n only: the NaN appears in step 21 (from t=2), inside
    # the second 16-step window.
    sol = solve(
        _nan_after(1.95, heat), Euler(), y0=heat.y0, t1=4.0, dt0=0.1, throw=False
    )
    assert sol.status is Status.NONFINITE
    assert sol.message.startswith("Euler failed at t=2 (step 21, dt=0.1)")


def test_nonfinite_adaptive(heat) -> None:
    with pytest.raises(
        SolveFailed,
        match=r"Dopri5 failed at t=0\.53\d* \(step \d+\): the state became non-finite "
        r"\(NaN or inf\) for every step size tried",
    ) as info:
        solve(
            _nan_after(0.53, heat),
            Dopri5(),
            y0=heat.y0,
            t1=1.0,
            controller=PIController(1e-6, 1e-8),
        )
    assert info.value.solution.status is Status.NONFINITE


def test_nonfinite_from_instability_names_the_limit(heat) -> None:
    with pytest.warns(StabilityWarning):
        sol = solve(
            LinearTerm(heat.L), RK4(), y0=heat.y0, t1=400.0, dt0=0.5, throw=False
        )
    assert sol.status is Status.NONFINITE
    assert (
        "exceeds the linear stability limit 2.785/λ_max = 0.385 (λ_max=7.236)"
        in sol.message
    )


def test_linear_solve_failure_propagates(heat) -> None:
    sol = solve(
        LinearTerm(heat.L),
        _FailsAt(0.3),
        y0=heat.y0,
        t1=1.0,
        dt0=0.1,
        throw=False,
        saveat=torch.linspace(0, 1, 11),
    )
    assert sol.status is Status.LINEAR_SOLVE_FAILED
    assert (
        sol.message
        == "_FailsAt failed at t=0.3 (step 4, dt=0.1): "
        "CG did not converge in 5 iterations"
    )
    assert sol.stats.num_steps == 4 and sol.stats.num_accepted == 3
    assert sol.stats.num_linear_iters == 3 * 7 + 5
    torch.testing.assert_close(sol.ts, torch.tensor([0.0, 0.1, 0.2, 0.3]))


# -- stability warning -----------------------------------------------------------------
def test_stability_warning_message_and_stacklevel(heat) -> None:
    with pytest.warns(
        StabilityWarning,
        match=r"^RK4 with dt=0\.5 exceeds the linear stability limit "
        r"2\.785/λ_max = 0\.385 \(λ_max=7\.236\)\. Reduce dt0 or use ImplicitEuler\.$",
    ) as record:
        solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.5)
    assert record[0].filename == __file__


def test_stability_warning_uses_effective_dt(heat) -> None:
    # dt0 = 0.4 > 0.385, but t1 = 1 splits into 3 steps of 1/3 < 0.385: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)
        solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.4)


def test_no_stability_warning_without_operator_or_with_adaptive(
    heat, grid_graph
) -> None:
    wp = wave_problem(grid_graph)
    with warnings.catch_warnings():
        warnings.simplefilter("error", StabilityWarning)
        solve(
            ODETerm(lambda t, y, a: -(heat.L @ y)), RK4(), y0=heat.y0, t1=1.0, dt0=0.5
        )
        solve(
            LinearTerm(heat.L),
            Dopri5(),
            y0=heat.y0,
            t1=1.0,
            controller=PIController(1e-3, 1e-6),
        )
        # First-order RK on (x, v): eigenvalues on the imaginary axis; the real-axis
        # bound does not apply, so nothing is claimed.
        solve(SecondOrderTerm(operator=wp.L), RK4(), y0=(wp.x0, wp.v0), t1=1.0, dt0=0.5)
        solve(
            LinearTerm(heat.L), _FailsAt(10.0), y0=heat.y0, t1=1.0, dt0=0.5
        )  # implicit


# -- gradients -------------------------------------------------------------------------
def _loss_fixed(graph, y0, w, **kw):
    term = LinearTerm(Laplacian(graph, edge_weight=w))
    sol = solve(
        term, RK4(), y0=y0, t1=1.0, dt0=0.05, saveat=torch.tensor([0.5, 1.0]), **kw
    )
    return (
        sol.ys**2 * torch.linspace(1, 2, sol.ys.numel()).reshape(sol.ys.shape)
    ).sum()


def test_backprop_matches_finite_differences_fixed_step() -> None:
    graph = make_path_graph(7)
    g = torch.Generator().manual_seed(4)
    y0 = torch.randn(7, 2, generator=g, requires_grad=True)
    w = (torch.rand(graph.num_edges, generator=g) + 0.5).requires_grad_(True)
    gy, gw = torch.autograd.grad(_loss_fixed(graph, y0, w), (y0, w))
    dy, dw = torch.randn(7, 2, generator=g), torch.randn(graph.num_edges, generator=g)
    eps = 1e-6
    with torch.no_grad():
        fd = (
            _loss_fixed(graph, y0 + eps * dy, w + eps * dw)
            - _loss_fixed(graph, y0 - eps * dy, w - eps * dw)
        ) / (2 * eps)
    assert float((gy * dy).sum() + (gw * dw).sum()) == pytest.approx(
        float(fd), rel=1e-7
    )


def test_backprop_matches_finite_differences_adaptive() -> None:
    graph = make_path_graph(7)
    g = torch.Generator().manual_seed(6)
    y0 = torch.randn(7, 2, generator=g)
    w = (torch.rand(graph.num_edges, generator=g) + 0.5).requires_grad_(True)
    ctrl = PIController(rtol=1e-10, atol=1e-12)

    def loss(weight):
        sol = solve(
            LinearTerm(Laplacian(graph, edge_weight=weight)),
            Dopri5(),
            y0=y0,
            t1=1.0,
            controller=ctrl,
        )
        return (sol.y1**2).sum()

    (gw,) = torch.autograd.grad(loss(w), w)
    d = torch.randn(graph.num_edges, generator=g)
    eps = 1e-4
    with torch.no_grad():
        fd = (loss(w + eps * d) - loss(w - eps * d)) / (2 * eps)
    assert float((gw * d).sum()) == pytest.approx(float(fd), rel=1e-5)


def _saved_bytes(fn) -> tuple[int, torch.Tensor]:
    total = [0]

    def pack(t):
        total[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return total[0], out


def test_checkpoint_same_gradients_less_memory(grid_graph) -> None:
    hp = heat_problem(grid_graph)
    w = (torch.rand(grid_graph.num_edges) + 0.5).requires_grad_(True)

    def loss(ck):
        term = LinearTerm(Laplacian(grid_graph, edge_weight=w))
        sol = solve(
            term,
            Dopri5(),
            y0=hp.y0,
            t1=0.5,
            dt0=0.01,
            adjoint=Checkpoint() if ck else Backprop(),
            saveat=torch.tensor([0.25, 0.37, 0.5]),
        )
        return (sol.ys**2).sum(), sol

    bytes_plain, (l_plain, sol_plain) = _saved_bytes(lambda: loss(False))
    bytes_ckpt, (l_ckpt, sol_ckpt) = _saved_bytes(lambda: loss(True))
    torch.testing.assert_close(sol_ckpt.ys, sol_plain.ys, rtol=0, atol=0)
    assert sol_ckpt.stats.num_rhs_evals == sol_plain.stats.num_rhs_evals
    (g_plain,) = torch.autograd.grad(l_plain, w)
    (g_ckpt,) = torch.autograd.grad(l_ckpt, w)
    torch.testing.assert_close(g_ckpt, g_plain, rtol=1e-13, atol=1e-15)
    # Without: 50 steps x 7 stages of saved activations stay alive until backward.
    # With: only the ~sqrt(50) segment boundaries (the checkpoint keeps its inputs);
    # the activations inside a segment are recomputed, one segment at a time.
    assert bytes_ckpt < bytes_plain / 10, (bytes_ckpt, bytes_plain)


def test_checkpoint_without_grad_is_plain(heat) -> None:
    with torch.no_grad():
        a = solve(
            LinearTerm(heat.L),
            RK4(),
            y0=heat.y0,
            t1=1.0,
            dt0=0.1,
            adjoint=Checkpoint(),
        )
    b = solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.1)
    torch.testing.assert_close(a.ys, b.ys, rtol=0, atol=0)


# -- validation ------------------------------------------------------------------------
def test_term_must_be_a_term(heat) -> None:
    with pytest.raises(
        TypeError,
        match=r"solve: `term` must be a Term .*got function\. Wrap a function f\(t, y, "
        r"args\) with ODETerm\(f\)\.",
    ):
        solve(lambda t, y, a: -y, RK4(), y0=heat.y0, t1=1.0, dt0=0.1)


def test_solver_must_be_an_instance(heat) -> None:
    term = LinearTerm(heat.L)
    with pytest.raises(
        TypeError,
        match=r"solve: `solver` must be a solver instance; got the class RK4\. Write "
        r"RK4\(\)\.",
    ):
        solve(term, RK4, y0=heat.y0, t1=1.0, dt0=0.1)
    with pytest.raises(
        TypeError,
        match=r"solve: `solver` must be an AbstractSolver such as RK4\(\) .*got str "
        r"'rk4'.*get_solver",
    ):
        solve(term, "rk4", y0=heat.y0, t1=1.0, dt0=0.1)


def test_term_solver_mismatch(heat) -> None:
    with pytest.raises(
        TermSolverMismatch,
        match=r"solve: _LinearOnly needs a LinearTerm \(a term with \.operator\); "
        r"got ODETerm\. Wrap the equation in a LinearTerm or use one of: .*Dopri5.*RK4",
    ):
        solve(ODETerm(lambda t, y, a: -y), _LinearOnly(), y0=heat.y0, t1=1.0, dt0=0.1)
    assert issubclass(TermSolverMismatch, TypeError)


@pytest.mark.parametrize(
    ("term_kind", "y0", "exc", "match"),
    [
        (
            "second",
            "tensor",
            TypeError,
            r"a SecondOrderTerm needs the state `y0`=\(x0, v0\), a tuple of two "
            r"tensors; got a tensor of shape \(25, 2\)",
        ),
        (
            "second",
            "mismatch",
            ValueError,
            r"needs x0 and v0 of the same shape; got \(25, 2\) and \(25, 1\)",
        ),
        (
            "linear",
            "tuple",
            TypeError,
            r"LinearTerm needs `y0` as a tensor \[N, F\]; got a tuple of 2",
        ),
        (
            "ode",
            "list",
            TypeError,
            r"`y0` must be a tensor \[N, F\] .*got list \[1\.0, 2\.0\]\. Convert with "
            r"torch\.as_tensor",
        ),
        (
            "ode",
            "empty-tuple",
            TypeError,
            r"ODETerm needs `y0` as a tensor \[N, F\] or a tuple of tensors; got a "
            r"tuple of 0",
        ),
        (
            "ode",
            "int",
            TypeError,
            r"`y0` must be floating point; got dtype torch\.int64",
        ),
        (
            "ode",
            "mixed",
            ValueError,
            r"all tensors of `y0` must share dtype and device",
        ),
        (
            "linear",
            "1d",
            ValueError,
            r"LinearTerm needs node signals of shape \[N, F\]; got \(25,\)\. "
            r".*unsqueeze",
        ),
        ("ode", "nan", ValueError, r"`y0` must be finite; got NaN or inf"),
    ],
    ids=repr,
)
def test_invalid_y0(term_kind, y0, exc, match, heat) -> None:
    x = heat.y0
    term = {
        "second": SecondOrderTerm(operator=heat.L),
        "linear": LinearTerm(heat.L),
        "ode": ODETerm(lambda t, y, a: y),
    }[term_kind]
    nan = x.clone()
    nan[0, 0] = math.nan
    value = {
        "tensor": x,
        "mismatch": (x, x[:, :1]),
        "tuple": (x, x),
        "list": [1.0, 2.0],
        "empty-tuple": (),
        "int": torch.ones(3, 1, dtype=torch.int64),
        "mixed": (x, x.float()),
        "1d": x[:, 0],
        "nan": nan,
    }[y0]
    with pytest.raises(exc, match=match):
        solve(term, RK4(), y0=value, t1=1.0, dt0=0.1)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (
            dict(t0=1.0, t1=0.5),
            ValueError,
            r"`t1` must be greater than `t0`; got t0=1, t1=0\.5\. Integrating backward",
        ),
        (dict(t1=math.nan), ValueError, r"`t1` must be a finite real number"),
        (
            dict(t1="1"),
            TypeError,
            r"solve: `t1` must be a real number; got str '1'\. Pass a Python float or "
            r"a 0-d tensor\.",
        ),
        (
            dict(t0=torch.ones(2)),
            TypeError,
            r"`t0` must be a real number; got a tensor of shape \(2,\)",
        ),
        (
            dict(dt0=None),
            ValueError,
            r"ConstantStep needs `dt0` > 0; got None\. Pass dt0=\.\.\., or use an "
            r"adaptive",
        ),
        (
            dict(dt0=0.0),
            ValueError,
            r"solve: `dt0` must be a finite real number in \(0, inf\); got 0\.0",
        ),
        (dict(dt0=-0.1), ValueError, r"`dt0` must be a finite real number in \(0"),
        (
            dict(max_steps=0),
            ValueError,
            r"solve: `max_steps` must be an int >= 1; got 0\. Pass e\.g\. "
            r"max_steps=10_000\.",
        ),
        (
            dict(max_steps=10.0),
            TypeError,
            r"`max_steps` must be an int; got float 10\.0",
        ),
        (
            dict(max_steps=True),
            TypeError,
            r"`max_steps` must be an int; got bool True",
        ),
        (dict(throw="yes"), TypeError, r"solve: `throw` must be a bool; got str 'yes'"),
        (
            dict(adjoint=Checkpoint),
            TypeError,
            r"`adjoint` must be a gradient-strategy instance; got the class "
            r"Checkpoint\. Write Checkpoint\(\)\.",
        ),
        (
            dict(adjoint=True),
            TypeError,
            r"`adjoint` must be Backprop\(\), Checkpoint\(segments=None\) or "
            r"TorchDiffEqAdjoint\(method=\.\.\., rtol=\.\.\., atol=\.\.\.\); "
            r"got bool True",
        ),
        (
            dict(adjoint=TorchDiffEqAdjoint(method="dopri5")),
            ValueError,
            r"needs `rtol` and `atol` for the backward solve of RK4; got rtol=None",
        ),
        (
            dict(controller=ConstantStep),
            TypeError,
            r"must be a controller instance; got the class ConstantStep",
        ),
        (
            dict(controller="pi"),
            TypeError,
            r"`controller` must be ConstantStep\(\) or PIController",
        ),
        (
            dict(controller=PIController(1e-3, 1e-6)),
            TypeError,
            r"solve: PIController\(rtol=0\.001, atol=1e-06\) needs an "
            r"adaptive solver \(one with an error estimate\); got RK4\. Use one of "
            r"Bosh3, Dopri5",
        ),
        (
            dict(saveat=[0.5, 1.0]),
            TypeError,
            r"`saveat` must be a 1-D tensor of output times, a SaveAt\(\.\.\.\) or "
            r"None; got list",
        ),
        (
            dict(saveat=torch.ones(2, 2)),
            ValueError,
            r"`saveat` must be a non-empty 1-D floating tensor .*shape \(2, 2\)",
        ),
        (
            dict(saveat=torch.tensor([1, 2])),
            ValueError,
            r"`saveat` must be a non-empty 1-D floating tensor .*torch\.int64",
        ),
        (dict(saveat=torch.tensor([])), ValueError, r"`saveat` must be a non-empty"),
        (
            dict(saveat=torch.tensor([0.5, 0.2])),
            ValueError,
            r"`saveat` must be strictly increasing; got saveat\[0\]=0\.5 >= "
            r"saveat\[1\]=0\.2",
        ),
        (
            dict(saveat=torch.tensor([0.5, 1.5])),
            ValueError,
            r"`saveat` must lie within \[t0, t1\] = \[0, 1\]; got \[0\.5, 1\.5\]",
        ),
        (dict(saveat=torch.tensor([math.nan])), ValueError, r"`saveat` must be finite"),
        (
            dict(saveat=torch.tensor([1.0 - 1e-14, 1.0])),
            ValueError,
            r"`saveat` has times closer than round-off",
        ),
    ],
    ids=repr,
)
def test_invalid_arguments(kwargs, exc, match, heat) -> None:
    args = dict(y0=heat.y0, t1=1.0, dt0=0.1) | kwargs
    with pytest.raises(exc, match=match):
        solve(LinearTerm(heat.L), RK4(), **args)


def test_dt0_below_dt_min(heat) -> None:
    with pytest.raises(
        ValueError,
        match=r"`dt0` must be at least the controller's dt_min=0\.01; got dt0=0\.001",
    ):
        solve(
            LinearTerm(heat.L),
            Dopri5(),
            y0=heat.y0,
            t1=1.0,
            dt0=1e-3,
            controller=PIController(1e-3, 1e-6, dt_min=1e-2),
        )


def test_needs_constant_step(heat) -> None:
    with pytest.raises(
        TypeError,
        match=r"solve: _Multistep needs a constant step \(its history lives on a fixed "
        r"grid\); "
        r"got PIController\(.*\)\. Use controller=ConstantStep\(\) with dt0\.",
    ):
        solve(
            LinearTerm(heat.L),
            _Multistep(),
            y0=heat.y0,
            t1=1.0,
            controller=PIController(1e-3, 1e-6),
        )


def test_checkpoint_needs_constant_step(heat) -> None:
    with pytest.raises(
        ValueError,
        match=r"solve: `adjoint`=Checkpoint\(segments=None\) needs "
        r"controller=ConstantStep\(\) \(the recomputation replays a fixed grid\); got "
        r"PIController\(rtol=0\.001, atol=1e-06\)\. Use ConstantStep\(\) with dt0, or "
        r"adjoint=Backprop\(\)\.",
    ):
        solve(
            LinearTerm(heat.L),
            Dopri5(),
            y0=heat.y0,
            t1=1.0,
            controller=PIController(1e-3, 1e-6),
            adjoint=Checkpoint(),
        )


def test_keyword_only_and_unknown_kwargs(heat) -> None:
    with pytest.raises(TypeError):
        solve(LinearTerm(heat.L), RK4(), heat.y0, 1.0)  # y0, t1 are keyword-only
    with pytest.raises(TypeError, match="unexpected keyword argument 'rtol'"):
        solve(LinearTerm(heat.L), RK4(), y0=heat.y0, t1=1.0, dt0=0.1, rtol=1e-3)


@pytest.mark.parametrize(
    "controller", [ConstantStep(), PIController(1e-3, 1e-6)], ids=repr
)
def test_rhs_with_wrong_shape(controller, heat) -> None:
    # dy/dt [25, 2] for y [25, 1] would broadcast silently and change the state's shape.
    term = ODETerm(lambda t, y, a: torch.zeros(25, 2))
    with pytest.raises(
        ValueError,
        match=r"solve: the term's dy/dt must match the state y0 \(a tensor of shape "
        r"\(25, 1\), dtype torch\.float64\); ODETerm\(<lambda>\) returned a "
        r"tensor of shape \(25, 2\), dtype torch\.float64 at t=0\. Return dy/dt",
    ):
        solve(term, Dopri5(), y0=heat.y0[:, :1], t1=1.0, dt0=0.1, controller=controller)


def test_rhs_with_wrong_dtype(heat) -> None:
    term = ODETerm(
        lambda t, y, a: (-y).double()
    )  # float64 dy/dt promotes a float32 state
    with pytest.raises(
        ValueError,
        match=r"the term's dy/dt must match the state y0 \(a tensor of shape "
        r"\(25, 2\), dtype torch\.float32\); ODETerm\(<lambda>\) returned a "
        r"tensor of shape \(25, 2\), dtype torch\.float64",
    ):
        solve(term, RK4(), y0=heat.y0.float(), t1=1.0, dt0=0.1)


def test_adaptive_solver_must_return_error(heat) -> None:
    with pytest.raises(
        TypeError,
        match=r"solve: _NoErrorEstimate is an AbstractAdaptiveSolver but its step "
        r"returned "
        r"y_err=None",
    ):
        solve(
            LinearTerm(heat.L),
            _NoErrorEstimate(),
            y0=heat.y0,
            t1=1.0,
            controller=PIController(1e-3, 1e-6),
        )


# -- registry --------------------------------------------------------------------------
def test_get_solver() -> None:
    assert get_solver("RK4") == RK4()
    assert get_solver("dopri5") == Dopri5()
    assert set(SOLVERS) >= {"Euler", "Midpoint", "Heun", "RK4", "Bosh3", "Dopri5"}
    assert all(SOLVERS[name].__name__ == name for name in SOLVERS)


def test_get_solver_unknown_name_suggests() -> None:
    with pytest.raises(
        ValueError,
        match=r"get_solver: unknown solver 'dopri'\. Did you mean 'Dopri5'\? Known: "
        r"AdamsBashforth, Bosh3, CrankNicolson",
    ):
        get_solver("dopri")
    with pytest.raises(ValueError, match=r"get_solver: unknown solver 'zzz'\. Known:"):
        get_solver("zzz")
    with pytest.raises(
        TypeError, match=r"get_solver: `name` must be a string; got int"
    ):
        get_solver(4)
    with pytest.raises(TypeError):
        get_solver("RK4", rtol=1e-3)  # RK4 has no fields


def test_package_exports() -> None:
    for name in solvers.__all__:
        assert hasattr(solvers, name), name
    assert solvers.__doc__ and "RK4()" in solvers.__doc__


def test_numpy_free_of_warnings() -> None:
    # Building the tableaus and solvers emits no warnings
    # (e.g. about non-writable numpy arrays).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Dopri5().init(ODETerm(lambda t, y, a: y), 0.0, torch.ones(2, 1), None)
    assert np.isfinite(Dopri5.tableau.stability_bound)


def test_tall_finite_detects_nan_and_infinities() -> None:
    from solvers._tree import tall_finite

    y = torch.ones(5, 3)
    assert bool(tall_finite(y)) and bool(tall_finite((y, y)))
    for bad in (float("nan"), float("inf"), -float("inf")):
        z = y.clone()
        z[2, 1] = bad
        assert not bool(tall_finite(z))
        assert not bool(tall_finite((y, z)))
    assert bool(tall_finite(torch.empty(0, 3)))
    assert bool(tall_finite(torch.ones(3, dtype=torch.int64)))


def test_stability_check_skips_lanczos_when_gershgorin_proves_stability(
    grid_graph,
) -> None:
    from graphops import Laplacian

    L = Laplacian(grid_graph)  # Gershgorin bound 2 * max degree = 8
    y0 = torch.randn(grid_graph.num_nodes, 2)
    solve(LinearTerm(L), Euler(), y0=y0, t1=0.1, dt0=0.01)  # 0.01 < 2/8
    assert not any(
        k[0] == "lam_max" and k[1] == "lanczos"
        for k in L._cache
        if isinstance(k, tuple)
    )
    with pytest.warns(StabilityWarning):
        solve(
            LinearTerm(L), Euler(), y0=y0, t1=3.0, dt0=0.3, throw=False
        )  # 0.3 > 2/7.4
    assert any(
        k[0] == "lam_max" and k[1] == "lanczos"
        for k in L._cache
        if isinstance(k, tuple)
    )
