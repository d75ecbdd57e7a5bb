"""Hostile inputs to ``solve``, the controllers, solvers and stability tools (issue 7).

Every case is one line of a table: what is called, and the exception type with its
message (``match=``), the status with its message, or the warning. A property test
fuzzes ``solve()``'s inputs: a finite state with ``SUCCESS``, another documented
status, or a clear ``TypeError``/``ValueError``/``TermSolverMismatch``, never
another exception type.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from graphops import Gradient, Laplacian
from solvers import (
    RK4,
    AbstractAdaptiveSolver,
    AdamsBashforth,
    Checkpoint,
    ConstantStep,
    Dopri5,
    Euler,
    Leapfrog,
    LinearTerm,
    ODETerm,
    PIController,
    SaveAt,
    SecondOrderTerm,
    SolveFailed,
    StabilityWarning,
    Status,
    TermSolverMismatch,
    TorchDiffEq,
    TorchDiffEqAdjoint,
    solve,
)
from solvers.stability import (
    imag_axis_bound,
    jacobian_eigenvalue,
    jacobian_lam_max,
    recommend_dt,
    stable_step,
)

from conftest import make_grid_graph
from helpers import all_solvers

G = make_grid_graph(4, 4)
L = Laplacian(G)
N = G.num_nodes
Y = torch.randn(
    N, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64
)
X = Y[:, :1]
DECAY = ODETerm(lambda t, y, a: -y)
HEAT = LinearTerm(L)
WAVE = SecondOrderTerm(operator=L)
PI = PIController(rtol=1e-5, atol=1e-7)


def _solve(term=DECAY, solver=None, **kw):
    """``solve`` with defaults, so a case names only what it makes hostile."""
    kw.setdefault("y0", Y)
    kw.setdefault("t1", 1.0)
    kw.setdefault("dt0", 0.1)
    return solve(term, RK4() if solver is None else solver, **kw)


def _f(fn):
    return ODETerm(fn)


# -- (id, call, exception type, message): validation at the boundary ---------------
RAISES = [
    ("term-not-a-term", lambda: _solve(term=lambda t, y, a: -y), TypeError,
     r"`term` must be a Term"),
    ("solver-class", lambda: _solve(solver=Euler), TypeError,
     r"got the class Euler\. Write Euler\(\)"),
    ("solver-string", lambda: _solve(solver="rk4"), TypeError,
     r"`solver` must be an AbstractSolver"),
    ("leapfrog-on-odeterm", lambda: _solve(solver=Leapfrog()), TermSolverMismatch,
     r"Leapfrog needs a SecondOrderTerm"),
    ("y0-list", lambda: _solve(y0=[[1.0]]), TypeError, r"`y0` must be a tensor"),
    ("y0-int", lambda: _solve(y0=torch.ones(3, 1, dtype=torch.long)), TypeError,
     r"`y0` must be floating point; got dtype torch\.int64"),
    ("y0-nan", lambda: _solve(y0=torch.tensor([[math.nan]])), ValueError,
     r"`y0` must be finite"),
    ("y0-inf", lambda: _solve(y0=torch.tensor([[math.inf]])), ValueError,
     r"`y0` must be finite"),
    ("y0-mixed-dtypes", lambda: _solve(y0=(X, X.float())), ValueError,
     r"all tensors of `y0` must share dtype"),
    ("linear-y0-1d", lambda: _solve(term=HEAT, y0=X[:, 0]), ValueError,
     r"needs node signals of shape \[N, F\]; got \(16,\)"),
    ("linear-y0-tuple", lambda: _solve(term=HEAT, y0=(X, X)), TypeError,
     r"LinearTerm needs `y0` as a tensor \[N, F\]"),
    ("wave-y0-tensor", lambda: _solve(term=WAVE, y0=X), TypeError,
     r"needs the state `y0`=\(x0, v0\)"),
    ("wave-y0-shapes", lambda: _solve(term=WAVE, y0=(X, Y)), ValueError,
     r"x0 and v0 of the same shape; got \(16, 1\) and \(16, 2\)"),
    ("t1-before-t0", lambda: _solve(t0=1.0, t1=0.5), ValueError,
     r"`t1` must be greater than `t0`"),
    ("t1-equals-t0", lambda: _solve(t0=1.0, t1=1.0), ValueError,
     r"`t1` must be greater than `t0`"),
    ("t1-nan", lambda: _solve(t1=math.nan), ValueError, r"`t1`"),
    ("t1-inf", lambda: _solve(t1=math.inf), ValueError, r"`t1`"),
    ("t1-string", lambda: _solve(t1="1"), TypeError, r"`t1`"),
    ("t0-vector", lambda: _solve(t0=torch.zeros(2)), (TypeError, ValueError), r"`t0`"),
    ("dt0-zero", lambda: _solve(dt0=0.0), ValueError, r"`dt0`"),
    ("dt0-negative", lambda: _solve(dt0=-0.1), ValueError, r"`dt0`"),
    ("dt0-nan", lambda: _solve(dt0=math.nan), ValueError, r"`dt0`"),
    ("dt0-inf", lambda: _solve(dt0=math.inf), ValueError, r"`dt0`"),
    ("dt0-below-dt-min", lambda: _solve(
        solver=Dopri5(), dt0=1e-4,
        controller=PIController(rtol=1e-5, atol=1e-7, dt_min=1e-3)),
     ValueError, r"`dt0` must be at least the controller's dt_min"),
    ("max-steps-zero", lambda: _solve(max_steps=0), ValueError, r"`max_steps`"),
    ("max-steps-negative", lambda: _solve(max_steps=-5), ValueError, r"`max_steps`"),
    ("max-steps-float", lambda: _solve(max_steps=1.5), TypeError, r"`max_steps`"),
    ("throw-string", lambda: _solve(throw="yes"), TypeError,
     r"`throw` must be a bool"),
    ("controller-class", lambda: _solve(controller=ConstantStep), TypeError,
     r"got the class ConstantStep"),
    ("controller-string", lambda: _solve(controller="pi"), TypeError,
     r"`controller` must be ConstantStep\(\) or PIController"),
    ("pi-with-euler", lambda: _solve(solver=Euler(), controller=PI), TypeError,
     r"needs an adaptive solver"),
    ("pi-with-multistep", lambda: _solve(solver=AdamsBashforth(order=2),
                                         controller=PI), TypeError,
     r"needs a constant step"),
    ("adjoint-class", lambda: _solve(adjoint=Checkpoint), TypeError,
     r"got the class Checkpoint"),
    ("adjoint-string", lambda: _solve(adjoint="backprop"), TypeError,
     r"`adjoint` must be Backprop\(\)"),
    ("checkpoint-adaptive", lambda: _solve(solver=Dopri5(), controller=PI,
                                           adjoint=Checkpoint()), ValueError,
     r"needs controller=ConstantStep\(\)"),
    ("tde-adjoint-no-tol", lambda: _solve(adjoint=TorchDiffEqAdjoint()), ValueError,
     r"needs `rtol` and `atol`"),
    ("saveat-list", lambda: _solve(saveat=[0.5, 1.0]), TypeError,
     r"`saveat` must be a 1-D tensor"),
    ("saveat-2d", lambda: _solve(saveat=torch.ones(2, 2)), ValueError,
     r"non-empty 1-D floating tensor"),
    ("saveat-empty", lambda: _solve(saveat=torch.ones(0)), ValueError,
     r"non-empty 1-D floating tensor"),
    ("saveat-int", lambda: _solve(saveat=torch.tensor([1])), ValueError,
     r"non-empty 1-D floating tensor"),
    ("saveat-decreasing", lambda: _solve(saveat=torch.tensor([0.8, 0.2])),
     ValueError, r"strictly increasing"),
    ("saveat-outside", lambda: _solve(saveat=torch.tensor([0.5, 2.0])), ValueError,
     r"must lie within \[t0, t1\]"),
    ("saveat-nan", lambda: _solve(saveat=torch.tensor([0.5, math.nan])), ValueError,
     r"`saveat` must be finite"),
    ("savesteps-torchdiffeq", lambda: _solve(solver=TorchDiffEq("rk4"),
                                             saveat=SaveAt(steps=True)),
     ValueError, r"SaveAt\(steps=True\) needs the package's stepping loop"),
    ("pi-no-tolerances", lambda: PIController(), TypeError, r"rtol"),
    ("pi-negative-rtol", lambda: PIController(rtol=-1.0, atol=1e-6), ValueError,
     r"rtol"),
    # class 5: the term's output is checked at its first evaluation
    ("rhs-none", lambda: _solve(term=_f(lambda t, y, a: None)), ValueError,
     r"ODETerm\(<lambda>\) returned NoneType"),
    ("rhs-broadcast-row", lambda: _solve(term=_f(lambda t, y, a: y[:1])), ValueError,
     r"returned a tensor of shape \(1, 2\)"),
    ("rhs-scalar", lambda: _solve(term=_f(lambda t, y, a: y.sum())), ValueError,
     r"returned a tensor of shape \(\), dtype"),
    ("rhs-float32", lambda: _solve(term=_f(lambda t, y, a: y.float())), ValueError,
     r"shape \(16, 2\), dtype torch\.float32 at t=0"),
    ("rhs-too-few-rows", lambda: _solve(term=_f(lambda t, y, a: y[:3])), ValueError,
     r"returned a tensor of shape \(3, 2\)"),
    ("rhs-tuple", lambda: _solve(term=_f(lambda t, y, a: (y, y))), ValueError,
     r"returned a tuple of"),
    ("rhs-none-adaptive", lambda: _solve(term=_f(lambda t, y, a: None),
                                         solver=Dopri5(), controller=PI),
     ValueError, r"returned NoneType"),
    ("rhs-row-torchdiffeq", lambda: _solve(term=_f(lambda t, y, a: y[:1]),
                                           solver=TorchDiffEq("rk4")),
     ValueError, r"returned a tensor of shape \(1, 2\)"),
    ("rhs-numpy", lambda: _solve(term=_f(lambda t, y, a: y.numpy())), ValueError,
     r"returned an array of shape \(16, 2\)"),
    ("wave-accel-row", lambda: _solve(
        term=SecondOrderTerm(lambda t, x, v, a: x[:1]), y0=(X, X)), ValueError,
     r"acceleration a\(t, x, v\) must match x0 .*returned a tensor of shape \(1, 1\)"),
    ("leapfrog-accel-row", lambda: _solve(
        term=SecondOrderTerm(lambda t, x, v, a: x[:1]), solver=Leapfrog(),
        y0=(X, X)), ValueError, r"SecondOrderTerm returned a tensor of shape \(1, 1\)"),
    ("leapfrog-accel-none", lambda: _solve(
        term=SecondOrderTerm(lambda t, x, v, a: None), solver=Leapfrog(),
        y0=(X, X)), ValueError, r"returned NoneType None at t=0"),
    ("leapfrog-accel-float32", lambda: _solve(
        term=SecondOrderTerm(lambda t, x, v, a: -x.float()), solver=Leapfrog(),
        y0=(X, X)), ValueError, r"shape \(16, 1\), dtype torch\.float32"),
    ("linear-gradient-node-to-edge", lambda: _solve(term=LinearTerm(Gradient(G))),
     ValueError, r"got Gradient from node to edge signals"),
    ("linear-gradient-implicit", lambda: _solve(
        term=LinearTerm(lambda t, y, a: Gradient(G))), ValueError,
     r"mapping the state's space onto itself"),
    ("linear-source-rows", lambda: _solve(term=LinearTerm(L, torch.ones(4, 2))),
     ValueError, r"`source` must have the state's shape and dtype \(16, 2\)"),
    ("linear-source-row", lambda: _solve(term=LinearTerm(L, torch.ones(1, 2))),
     ValueError, r"got \(1, 2\), torch\.float64"),
    ("linear-source-float32", lambda: _solve(
        term=LinearTerm(L, torch.ones(N, 2, dtype=torch.float32))), ValueError,
     r"got \(16, 2\), torch\.float32"),
    ("linear-source-callable-list", lambda: _solve(
        term=LinearTerm(L, lambda t, y, a: [0.0])), TypeError,
     r"`source` must be \(or return\) a tensor"),
    ("linear-operator-not-op", lambda: _solve(
        term=LinearTerm(lambda t, y, a: torch.eye(N))), TypeError,
     r"must be \(or return\) a GraphOperator; got Tensor"),
    # class 3: a Jacobian estimate that cannot see the RHS raises
    ("jac-detached", lambda: jacobian_lam_max(_f(lambda t, y, a: -3 * y.detach()), Y),
     ValueError, r"products do not see the right-hand side; got \|J v\| = 0"),
    ("jac-half-detached", lambda: jacobian_lam_max(
        _f(lambda t, y, a: -3 * y.detach() - 3 * y), Y), ValueError,
     r"do not see the right-hand side"),
    ("jac-numpy", lambda: jacobian_lam_max(
        _f(lambda t, y, a: torch.as_tensor(-y.detach().numpy())), Y), ValueError,
     r"do not see the right-hand side|cannot be differentiated in forward mode"),
    ("recommend-dt-detached", lambda: recommend_dt(
        _f(lambda t, y, a: -3 * y.detach()), Euler(), Y), ValueError,
     r"recommend_dt|jacobian_eigenvalue"),
    ("stable-step-detached", lambda: stable_step(
        _f(lambda t, y, a: -3 * y.detach()), RK4(), Y), ValueError,
     r"do not see the right-hand side"),
    ("jac-iters-zero", lambda: jacobian_eigenvalue(DECAY, Y, iters=0), ValueError,
     r"`iters`"),
    ("jac-tol-zero", lambda: jacobian_eigenvalue(DECAY, Y, tol=0.0), ValueError,
     r"`tol`"),
    ("jac-not-callable", lambda: jacobian_eigenvalue(3, Y), TypeError,
     r"`term` must be a Term or a callable"),
    ("jac-int-state", lambda: jacobian_eigenvalue(DECAY, torch.ones(3, dtype=int)),
     TypeError, r"`y` must be a floating tensor"),
    ("recommend-safety-zero", lambda: recommend_dt(HEAT, RK4(), X, safety=0.0),
     ValueError, r"`safety`"),
    ("recommend-safety-big", lambda: recommend_dt(HEAT, RK4(), X, safety=1.5),
     ValueError, r"`safety`"),
    ("recommend-euler-wave", lambda: recommend_dt(WAVE, Euler(), (X, X)), ValueError,
     r"Euler is unstable for every dt"),
]


@pytest.mark.parametrize(
    ("call", "exc", "match"), [c[1:] for c in RAISES], ids=[c[0] for c in RAISES]
)
def test_hostile_input_raises(call, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(exc, match=match):
            call()


# -- (id, call, status, message): numerical failures end with a status -------------
def _blowup(t, y, a):
    return y * (1e308 if t > 0.45 else 1.0)


STATUSES = [
    ("budget-fixed", lambda: _solve(dt0=1e-3, max_steps=5, throw=False),
     Status.MAX_STEPS, r"max_steps"),
    ("budget-adaptive", lambda: _solve(solver=Dopri5(), controller=PI, max_steps=2,
                                       throw=False), Status.MAX_STEPS, r"max_steps"),
    ("rhs-nan-fixed", lambda: _solve(term=_f(lambda t, y, a: y * math.nan),
                                     throw=False), Status.NONFINITE, r"non-finite"),
    ("rhs-inf-later", lambda: _solve(term=_f(_blowup), throw=False),
     Status.NONFINITE, r"failed at t=0\.[45]"),
    ("rhs-nan-adaptive", lambda: _solve(term=_f(lambda t, y, a: y * math.nan),
                                        solver=Dopri5(), controller=PI, throw=False),
     Status.NONFINITE, r"for every step size tried"),
    ("dt-min-stiff", lambda: _solve(term=_f(lambda t, y, a: -1e9 * y), solver=Dopri5(),
                                    controller=PIController(rtol=1e-8, atol=1e-10,
                                                            dt_min=1e-3),
                                    dt0=0.1, throw=False),
     Status.DT_MIN, r"dt_min"),
    ("legit-growth", lambda: _solve(term=_f(lambda t, y, a: y), throw=False),
     Status.SUCCESS, r"^$"),
    ("unstable-is-success-with-warning", lambda: _solve(
        term=_f(lambda t, y, a: -(L @ y)), solver=Euler(), dt0=0.5, t1=20.0,
        throw=False), Status.SUCCESS, r"^$"),
]


@pytest.mark.parametrize(
    ("call", "status", "match"), [c[1:] for c in STATUSES], ids=[c[0] for c in STATUSES]
)
def test_hostile_numerics_end_with_a_status(call, status, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sol = call()
    assert sol.status is status, sol.message
    assert re.search(match, sol.message), sol.message


def test_throw_carries_the_partial_solution():
    with pytest.raises(SolveFailed, match=r"non-finite") as info:
        _solve(term=_f(_blowup))
    assert info.value.solution.status is Status.NONFINITE


# -- (id, call, warning, message): divergence is never silent (class 4) ------------
WARNS = [
    ("odeterm-beyond-limit", lambda: _solve(
        term=_f(lambda t, y, a: -(L @ y)), solver=Euler(), dt0=0.5, t1=20.0),
     StabilityWarning, r"max \|y\| grew from .*recommend_dt"),
    ("torchdiffeq-euler-beyond-limit", lambda: _solve(
        term=_f(lambda t, y, a: -(L @ y)), solver=TorchDiffEq("euler"), dt0=0.5,
        t1=20.0), StabilityWarning, r"with TorchDiffEq and fixed steps dt=0\.5"),
    ("euler-wave", lambda: _solve(term=WAVE, solver=Euler(), y0=(X, 0 * X),
                                  dt0=0.01), StabilityWarning,
     r"Euler is unstable for every dt on the undamped wave equation"),
    ("ab2-wave", lambda: _solve(term=WAVE, solver=AdamsBashforth(order=2),
                                y0=(X, 0 * X), dt0=0.01), StabilityWarning,
     r"AdamsBashforth is unstable for every dt"),
    ("linear-beyond-limit", lambda: _solve(term=HEAT, solver=Euler(), dt0=0.5,
                                           t1=1.0), StabilityWarning,
     r"exceeds the linear stability limit"),
    ("jacobian-not-converged", lambda: jacobian_lam_max(HEAT, Y, iters=1),
     RuntimeWarning, r"did not converge"),
]


@pytest.mark.parametrize(
    ("call", "warning", "match"), [c[1:] for c in WARNS], ids=[c[0] for c in WARNS]
)
def test_divergence_warns(call, warning, match):
    with pytest.warns(warning, match=match):
        call()


# -- (id, call): no false alarm on stable or legitimately growing solves -----------
QUIET = [
    ("rk4-wave", lambda: _solve(term=WAVE, y0=(X, 0 * X), dt0=0.05)),
    ("leapfrog-wave", lambda: _solve(term=WAVE, solver=Leapfrog(), y0=(X, 0 * X),
                                     dt0=0.05)),
    ("heat-stable", lambda: _solve(term=HEAT, dt0=0.05)),
    ("linear-growth", lambda: _solve(term=_f(lambda t, y, a: torch.ones_like(y)),
                                     t1=100.0, dt0=1.0)),
    ("zero-start", lambda: _solve(term=_f(lambda t, y, a: y + 1.0), y0=0 * Y)),
    ("exp-growth-moderate", lambda: _solve(term=_f(lambda t, y, a: y), t1=5.0)),
]


@pytest.mark.parametrize("call", [c[1] for c in QUIET], ids=[c[0] for c in QUIET])
def test_no_false_alarm(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert call().status is Status.SUCCESS


def test_jacobian_estimates_still_see_honest_terms():
    # the difference-quotient check passes for smooth, nonlinear and constant RHS
    assert jacobian_lam_max(HEAT, X) == pytest.approx(
        float(torch.linalg.eigvalsh(L.to_dense()).max()), rel=1e-6
    )
    jacobian_lam_max(_f(lambda t, y, a: -torch.tanh(y) * y), Y)
    assert recommend_dt(_f(lambda t, y, a: torch.ones_like(y)), Euler(), Y) is None
    assert imag_axis_bound(Euler()) == 0.0
    # a ReLU at exact zeros of a sparse state is a kink, not a hidden Jacobian
    sparse = torch.zeros(N, 2, dtype=torch.float64)
    sparse[0, 0] = 1.0
    relu = _f(lambda t, y, a: -(L @ torch.relu(y)))
    assert jacobian_lam_max(relu, sparse, iters=200, tol=1e-4) >= 0.0


def test_first_output_check_costs_no_rhs_evaluation():
    sol = _solve(solver=Euler(), dt0=0.1)
    assert sol.stats.num_rhs_evals == 10


# -- property: fuzzed solve() inputs -----------------------------------------------
SOLVERS = all_solvers()
ALLOWED = (TypeError, ValueError, TermSolverMismatch)


def _mostly(good: list, bad: list) -> st.SearchStrategy:
    """Valid values most of the time (so solves run), a hostile one sometimes."""
    return st.sampled_from(good * 4 + bad)


@st.composite
def _solve_inputs(draw):
    solver = draw(st.sampled_from(SOLVERS))
    terms = {"decay": DECAY, "heat": HEAT, "wave": WAVE}
    fits = [k for k, v in terms.items() if isinstance(v, solver.term_type)]
    kind = draw(_mostly(fits, ["decay", "heat", "wave"]))
    t0 = draw(_mostly([0.0, -1.0, 1e-3], [2.0, math.nan, math.inf]))
    t1 = draw(_mostly([1.0, 3.0, 0.05], [0.0, -1.0, math.nan]))
    dt0 = draw(_mostly([None, 0.1, 0.02, 1e-3], [0.0, -0.1, math.inf, 2.0, 1e-9]))
    max_steps = draw(_mostly([10_000, 50], [1, 3, 0, -1]))
    rtol = draw(_mostly([1e-3, 1e-6], [0.0, 1.0]))
    atol = draw(_mostly([1e-6, 1e-9], [0.0]))
    adaptive = draw(st.booleans()) and isinstance(solver, AbstractAdaptiveSolver)
    adaptive = adaptive or draw(st.sampled_from([False] * 9 + [True]))
    rows = draw(_mostly([N], [0, 1]))
    cols = draw(st.sampled_from([1, 2]))
    dtype = draw(_mostly([torch.float64, torch.float32], [torch.int64]))
    saveat = draw(_mostly([None, "mid", "ends"], ["bad"]))
    return (solver, t0, t1, dt0, max_steps, rtol, atol, adaptive, rows, cols, dtype,
            kind, saveat)


def _controller(adaptive, rtol, atol):
    if not adaptive:
        return ConstantStep()
    return PIController(rtol=rtol, atol=atol)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_solve_inputs())
def test_fuzzed_solve_gives_a_status_or_a_clear_error(inputs):
    (solver, t0, t1, dt0, max_steps, rtol, atol, adaptive, rows, cols, dtype, kind,
     saveat) = inputs
    n = rows
    x0 = torch.linspace(0.0, 1.0, max(n, 1) * cols, dtype=torch.float64)[
        : n * cols
    ].reshape(n, cols).to(dtype)
    if kind == "decay":
        term, y0 = DECAY, x0
    elif kind == "heat":
        term, y0 = HEAT, x0
    else:
        term, y0 = WAVE, (x0, torch.zeros_like(x0))
    kw = {}
    if saveat == "mid":
        kw["saveat"] = torch.tensor([0.5 * (t0 + t1), t1], dtype=torch.float64)
    elif saveat == "ends":
        kw["saveat"] = torch.tensor([t0, t1], dtype=torch.float64)
    elif saveat == "bad":
        kw["saveat"] = torch.tensor([t1, t0], dtype=torch.float64)
    try:
        controller = _controller(adaptive, rtol, atol)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = solve(term, solver, y0=y0, t0=t0, t1=t1, dt0=dt0,
                        max_steps=max_steps, controller=controller, throw=False, **kw)
    except ALLOWED as exc:
        event(f"raised {type(exc).__name__}: {str(exc)[:60]}")
        return
    event(f"status {sol.status.name}")
    assert isinstance(sol.status, Status)
    if sol.status is Status.SUCCESS:
        ys = sol.ys if isinstance(sol.ys, tuple) else (sol.ys,)
        assert all(bool(torch.isfinite(v).all()) for v in ys)
    else:
        assert sol.message


def test_catalogue_size():
    # issue 7 asks for a catalogue; this file holds the solvers' part of it
    assert len(RAISES) + len(STATUSES) + len(WARNS) + len(QUIET) >= 50
    assert np.unique([c[0] for c in RAISES + STATUSES + WARNS + QUIET]).size == (
        len(RAISES) + len(STATUSES) + len(WARNS) + len(QUIET)
    )
