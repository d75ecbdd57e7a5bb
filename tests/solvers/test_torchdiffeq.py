"""Tests of solvers.torchdiffeq.TorchDiffEq: torchdiffeq methods as solver values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from graphops import Laplacian
from solvers._errors import SolveFailed, StabilityWarning
from solvers.adjoint import Checkpoint, TorchDiffEqAdjoint
from solvers.base import AbstractIntervalSolver
from solvers.controllers import PIController
from solvers.explicit_rk import RK4, Dopri5
from solvers.linear_stability import NotAnalysed
from solvers.solution import Status
from solvers.solve import solve
from solvers.stability import root_condition, stability_bound, stability_function
from solvers.terms import LinearTerm, ODETerm, SecondOrderTerm
from solvers.torchdiffeq import TorchDiffEq

from helpers import heat_problem, wave_problem


class LearnedHeat(LinearTerm):
    """Heat flow y' = -L_w y with learned edge weights w = softplus(raw).

    ``raw`` is a Parameter.
    """

    def __init__(self, num_edges: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.raw = nn.Parameter(0.3 * torch.randn(num_edges, generator=g))

    def operator(self, t, y, args=None):
        return Laplacian(
            args, edge_weight=nn.functional.softplus(self.raw), validate=False
        )


def _loss(ys):
    target = torch.linspace(-1.0, 1.0, ys[-1].numel()).reshape(ys[-1].shape)
    return ((ys[-1] - target) ** 2).sum()


# ---------------------------------------------------------------------------------
# Agreement with our solvers and the exact solution
# ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_dopri5_matches_our_dopri5_and_exact(grid_graph):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    saveat = torch.linspace(0.0, 1.0, 5)
    ref = solve(
        term,
        TorchDiffEq("dopri5", rtol=1e-10, atol=1e-12),
        y0=hp.y0,
        t1=1.0,
        saveat=saveat,
    )
    ours = solve(
        term,
        Dopri5(),
        y0=hp.y0,
        t1=1.0,
        saveat=saveat,
        controller=PIController(rtol=1e-10, atol=1e-12),
    )
    exact = torch.stack([hp.exact(float(t)) for t in saveat])
    assert ref.success and ref.ys.shape == (5, *hp.y0.shape)
    torch.testing.assert_close(ref.ts, saveat)
    torch.testing.assert_close(ref.ys[0], hp.y0, rtol=0, atol=0)  # t0 listed: y0 itself
    assert (ref.ys - exact).abs().max() < 1e-9
    assert (ref.ys - ours.ys).abs().max() < 1e-9
    st = ref.stats
    assert (
        st.num_rhs_evals > 6 * st.num_accepted
        and st.num_steps == st.num_accepted + st.num_rejected
    )
    assert st.dt is None


def test_dopri5_fast(path_graph):
    hp = heat_problem(path_graph)
    sol = solve(
        LinearTerm(hp.L), TorchDiffEq("dopri5", rtol=1e-7, atol=1e-9), y0=hp.y0, t1=0.5
    )
    assert sol.success and (sol.ys[-1] - hp.exact(0.5)).abs().max() < 1e-6
    assert (
        sol.stats.num_accepted > 0
        and sol.stats.num_rhs_evals >= 6 * sol.stats.num_accepted
    )


def test_rk4_matches_our_rk4(grid_graph):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    ours = solve(term, RK4(), y0=hp.y0, t1=1.0, dt0=0.05)
    for solver, dt0 in (
        (TorchDiffEq("rk4", step_size=0.05), None),
        (TorchDiffEq("rk4"), 0.05),
    ):
        theirs = solve(term, solver, y0=hp.y0, t1=1.0, dt0=dt0)
        # torchdiffeq's rk4 is the 3/8 rule:
        # on a linear autonomous term it has the same R(z)
        assert (theirs.ys - ours.ys).abs().max() < 1e-12
        assert theirs.stats.num_rhs_evals == 4 * 20 == ours.stats.num_rhs_evals
        assert theirs.stats.num_steps == theirs.stats.num_accepted == 20
        assert theirs.stats.dt == 0.05


def test_saveat_on_the_grid(grid_graph):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    saveat = torch.linspace(0.0, 1.0, 11)
    ours = solve(term, RK4(), y0=hp.y0, t1=1.0, dt0=0.05, saveat=saveat)
    theirs = solve(
        term, TorchDiffEq("rk4", step_size=0.05), y0=hp.y0, t1=1.0, saveat=saveat
    )
    assert theirs.ys.shape == ours.ys.shape == (11, *hp.y0.shape)
    assert (theirs.ys - ours.ys).abs().max() < 1e-12


@pytest.mark.slow
def test_tuple_state_wave(grid_graph):
    wp = wave_problem(grid_graph)
    sol = solve(
        SecondOrderTerm(operator=wp.L),
        TorchDiffEq("dopri5", rtol=1e-10, atol=1e-12),
        y0=(wp.x0, wp.v0),
        t1=2.0,
    )
    x, v = wp.exact(2.0)
    assert isinstance(sol.ys, tuple) and sol.ys[0].shape == (1, *wp.x0.shape)
    assert (sol.ys[0][-1] - x).abs().max() < 1e-8 and (
        sol.ys[1][-1] - v
    ).abs().max() < 1e-8


def test_step_fallback_matches_rk4(grid_graph):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    want = RK4().step(term, 0.0, 0.1, hp.y0, None, None).y1
    st = TorchDiffEq("rk4", step_size=0.01).step(
        term, 0.0, 0.1, hp.y0, None, None
    )  # one step of dt
    assert st.status is Status.SUCCESS and st.y_err is None and st.rhs_evals == 4
    assert (st.y1 - want).abs().max() < 1e-14
    st = TorchDiffEq("dopri5", rtol=1e-10, atol=1e-12).step(
        term, 0.0, 0.1, hp.y0, None, None
    )
    assert (st.y1 - hp.exact(0.1)).abs().max() < 1e-9


# ---------------------------------------------------------------------------------
# Gradients: continuous adjoint vs backprop vs finite differences
# ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_adjoint_gradients_match_backprop_and_finite_differences(path_graph):
    hp = heat_problem(path_graph, num_modes=3, features=1)
    term = LearnedHeat(path_graph.num_edges)
    y0 = hp.y0.clone().requires_grad_(True)

    def grads(solver, **kw):
        term.zero_grad()
        y0.grad = None
        _loss(solve(term, solver, y0=y0, t1=1.0, args=path_graph, **kw).ys).backward()
        return term.raw.grad.clone(), y0.grad.clone()

    adj_w, adj_y = grads(
        TorchDiffEq("dopri5", rtol=1e-9, atol=1e-11), adjoint=TorchDiffEqAdjoint()
    )
    bp_w, bp_y = grads(TorchDiffEq("dopri5", rtol=1e-9, atol=1e-11))
    torch.testing.assert_close(adj_w, bp_w, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(adj_y, bp_y, rtol=1e-5, atol=1e-9)

    # central finite differences of the (tightly solved) loss along random directions
    ref = TorchDiffEq("dopri5", rtol=1e-12, atol=1e-14)
    gen = torch.Generator().manual_seed(11)
    dw, dy = (
        torch.randn(term.raw.shape, generator=gen),
        torch.randn(hp.y0.shape, generator=gen),
    )
    h = 1e-4

    def loss_at(s):
        with torch.no_grad():
            term.raw += s * h * dw
            out = _loss(
                solve(term, ref, y0=hp.y0 + s * h * dy, t1=1.0, args=path_graph).ys
            )
            term.raw -= s * h * dw
        return out

    fd = (loss_at(1.0) - loss_at(-1.0)) / (2 * h)
    adj = (adj_w * dw).sum() + (adj_y * dy).sum()
    assert float(adj) == pytest.approx(float(fd), rel=1e-5)


@pytest.mark.slow
def test_adjoint_finds_weights_carried_in_args(path_graph):
    hp = heat_problem(path_graph, num_modes=2, features=1)
    w = (
        torch.rand(path_graph.num_edges, generator=torch.Generator().manual_seed(7))
        + 0.5
    ).requires_grad_(True)
    term = LinearTerm(
        lambda t, y, args: Laplacian(args[0], edge_weight=args[1], validate=False)
    )

    def grad(solver, **kw):
        w.grad = None
        sol = solve(term, solver, y0=hp.y0, t1=0.5, args=(path_graph, w), **kw)
        _loss(sol.ys).backward()
        return w.grad.clone()

    bp = grad(TorchDiffEq("dopri5", rtol=1e-9, atol=1e-11))
    solver = TorchDiffEq("dopri5", rtol=1e-9, atol=1e-11)
    auto = grad(solver, adjoint=TorchDiffEqAdjoint())
    explicit = grad(solver, adjoint=TorchDiffEqAdjoint(params=(w,)))
    torch.testing.assert_close(auto, bp, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(explicit, bp, rtol=1e-5, atol=1e-9)


def test_adjoint_with_fixed_grid_method(path_graph):
    hp = heat_problem(path_graph, num_modes=2, features=1)
    term = LearnedHeat(path_graph.num_edges)
    _loss(
        solve(
            term,
            TorchDiffEq("rk4"),
            y0=hp.y0,
            t1=0.5,
            dt0=0.05,
            args=path_graph,
            adjoint=TorchDiffEqAdjoint(),
        ).ys
    ).backward()
    adj = term.raw.grad.clone()
    term.zero_grad()
    _loss(solve(term, RK4(), y0=hp.y0, t1=0.5, dt0=0.05, args=path_graph).ys).backward()
    # the discrete adjoint of RK4 and RK4 on the adjoint ODE agree to O(dt^4)
    torch.testing.assert_close(adj, term.raw.grad, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------------------------
# Failures and statistics
# ---------------------------------------------------------------------------------
def test_max_steps(grid_graph):
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    sol = solve(term, TorchDiffEq("dopri5"), y0=hp.y0, t1=1.0, max_steps=3, throw=False)
    assert sol.status is Status.MAX_STEPS and sol.stats.num_steps == 3
    assert "`max_steps`=3 reached before t1=1" in sol.message
    assert sol.ys.shape == (0, *hp.y0.shape) and sol.ts.numel() == 0
    # a fixed grid longer than the budget fails before torchdiffeq lays it out
    with pytest.raises(
        SolveFailed, match="`max_steps`=3 is less than the 10 steps of size 0.1"
    ) as info:
        solve(term, TorchDiffEq("rk4"), y0=hp.y0, t1=1.0, dt0=0.1, max_steps=3)
    assert info.value.solution.status is Status.MAX_STEPS


def test_nonfinite_fixed_grid(grid_graph):
    hp = heat_problem(grid_graph)
    saveat = torch.tensor([10.0, 2000.0])
    with pytest.warns(
        StabilityWarning, match="exceeds the linear stability limit 2/λ_max"
    ):
        sol = solve(
            LinearTerm(hp.L),
            TorchDiffEq("euler"),
            y0=hp.y0,
            t1=2000.0,
            dt0=10.0,
            saveat=saveat,
            throw=False,
        )
    assert sol.status is Status.NONFINITE and "max_stable_dt" in sol.message
    assert sol.ts.tolist() == [10.0] and sol.ys.shape == (
        1,
        *hp.y0.shape,
    )  # the finite prefix


def test_nonfinite_adaptive():
    term = ODETerm(lambda t, y, args: y * float("nan") if float(t) > 0.5 else -y)
    sol = solve(term, TorchDiffEq("dopri5"), y0=torch.ones(4, 1), t1=1.0, throw=False)
    assert sol.status is Status.NONFINITE and "NaN or inf" in sol.message


def test_dt_underflow():
    blowup = ODETerm(
        lambda t, y, args: y**2
    )  # y = 1/(1 - t): finite-time blow-up at t = 1
    sol = solve(blowup, TorchDiffEq("dopri5"), y0=torch.ones(2, 1), t1=2.0, throw=False)
    assert sol.status is Status.DT_MIN and "underflowed" in sol.message
    assert sol.stats.num_rejected > 0


def test_stability_warning_uses_the_grid_step(grid_graph):
    hp = heat_problem(grid_graph)
    with pytest.warns(
        StabilityWarning,
        match=r"TorchDiffEq.* with dt=0.5 exceeds the linear stability limit "
        r"2.785/λ_max",
    ):
        solve(
            LinearTerm(hp.L), TorchDiffEq("rk4"), y0=hp.y0, t1=1.0, dt0=0.5, throw=False
        )


# ---------------------------------------------------------------------------------
# Stability analysis of torchdiffeq methods
# ---------------------------------------------------------------------------------
def test_stability_properties():
    assert TorchDiffEq("rk4").max_stable_dt(8.0) == pytest.approx(
        RK4().max_stable_dt(8.0), rel=1e-9
    )
    assert TorchDiffEq("dopri5").max_stable_dt(8.0) == pytest.approx(
        Dopri5().max_stable_dt(8.0), rel=1e-9
    )
    assert stability_bound(TorchDiffEq("dopri5")) == pytest.approx(
        Dopri5.tableau.stability_bound, rel=1e-9
    )
    assert TorchDiffEq("rk4").max_stable_dt(0.0) is None
    assert TorchDiffEq("implicit_adams").max_stable_dt(8.0) is None
    assert math.isnan(stability_bound(TorchDiffEq("implicit_adams")))
    assert isinstance(TorchDiffEq("implicit_adams").linear_stability(), NotAnalysed)
    z = np.array([-1.0 + 0.5j, -2.7])
    np.testing.assert_allclose(
        stability_function(TorchDiffEq("dopri5"))(z),
        Dopri5().tableau.stability_function(z),
        rtol=1e-13,
    )
    assert stability_bound(TorchDiffEq("bosh3")) == pytest.approx(
        2.5127453266183, rel=1e-9
    )
    assert root_condition(TorchDiffEq("explicit_adams"), 0.0) == pytest.approx(1.0)
    with pytest.raises(TypeError, match="no fixed linear stability analysis"):
        root_condition(TorchDiffEq("implicit_adams"), 0.0)
    with pytest.raises(ValueError, match="`lam_max` must be a finite real number"):
        TorchDiffEq("rk4").max_stable_dt(float("nan"))


def test_order_repr_and_flags():
    assert (
        TorchDiffEq().order == 5
        and TorchDiffEq("rk4").order == 4
        and TorchDiffEq("euler").order == 1
    )
    assert repr(TorchDiffEq()) == "TorchDiffEq(method='dopri5', rtol=1e-07, atol=1e-09)"
    assert (
        repr(TorchDiffEq("rk4", step_size=0.1))
        == "TorchDiffEq(method='rk4', step_size=0.1)"
    )
    assert (
        repr(TorchDiffEq(rtol=1e-6))
        == "TorchDiffEq(method='dopri5', rtol=1e-06, atol=1e-09)"
    )
    assert TorchDiffEq("rk4").fixed_grid and not TorchDiffEq().fixed_grid
    assert (
        TorchDiffEq("rk4", step_size=0.2).grid_step(0.1) == 0.2
        and TorchDiffEq("rk4").grid_step(0.1) == 0.1
    )
    assert TorchDiffEq().grid_step(0.1) is None
    assert isinstance(TorchDiffEq(), AbstractIntervalSolver)
    assert TorchDiffEq("rk4") == TorchDiffEq("rk4") and hash(
        TorchDiffEq("rk4")
    ) == hash(TorchDiffEq("rk4"))


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (
            {"method": "Dopri5"},
            ValueError,
            "unknown `method` 'Dopri5'. Did you mean 'dopri5'",
        ),
        ({"method": "rk45"}, ValueError, "Known torchdiffeq methods: dopri8, dopri5"),
        ({"method": "scipy_solver"}, ValueError, "call scipy.integrate.solve_ivp"),
        (
            {"rtol": -1.0},
            ValueError,
            r"TorchDiffEq: `rtol` must be a finite real number in \[0, inf\); "
            r"got -1\.0",
        ),
        ({"rtol": "1e-3"}, TypeError, "`rtol` must be a real number; got str"),
        ({"rtol": 0.0, "atol": 0.0}, ValueError, "cannot both be 0"),
        ({"step_size": 0.1}, ValueError, "`step_size` applies to fixed-grid methods"),
        (
            {"method": "rk4", "step_size": 0.0},
            ValueError,
            r"`step_size` must be a finite real number in \(0, inf\)",
        ),
        (
            {"method": "rk4", "first_step": 0.1},
            ValueError,
            "`first_step` applies to adaptive methods",
        ),
        (
            {"first_step": -1.0},
            ValueError,
            r"`first_step` must be a finite real number in \(0, inf\)",
        ),
        ({"adjoint": True}, TypeError, "unexpected keyword argument 'adjoint'"),
    ],
)
def test_constructor_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TorchDiffEq(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (
            {"method": "rk5"},
            ValueError,
            r"TorchDiffEqAdjoint: unknown `method` 'rk5'\. Did you mean 'rk4'",
        ),
        (
            {"atol": float("inf")},
            ValueError,
            r"TorchDiffEqAdjoint: `atol` must be a finite real number in \[0, inf\]",
        ),
        ({"rtol": -1.0}, ValueError, r"`rtol` must be a finite real number in \[0"),
        (
            {"params": "w"},
            TypeError,
            r"TorchDiffEqAdjoint: `params` must be a tuple of tensors; got str 'w'\. "
            r"Pass e\.g\. tuple\(model\.parameters\(\)\)\.",
        ),
    ],
)
def test_adjoint_value_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        TorchDiffEqAdjoint(**kwargs)


def test_adjoint_values_repr_and_params():
    w = torch.ones(3, requires_grad=True)
    adj = TorchDiffEqAdjoint("rk4", rtol=1e-6, atol=1e-8, params=[w])
    assert repr(adj) == "TorchDiffEqAdjoint(method='rk4', rtol=1e-06, atol=1e-08)"
    assert adj.params == (w,) and adj == TorchDiffEqAdjoint("rk4", 1e-6, 1e-8)
    assert repr(TorchDiffEqAdjoint()) == (
        "TorchDiffEqAdjoint(method=None, rtol=None, atol=None)"
    )


def test_fixed_grid_needs_a_step(grid_graph):
    hp = heat_problem(grid_graph)
    with pytest.raises(
        ValueError, match="'rk4' is a fixed-grid method and needs a step"
    ):
        solve(LinearTerm(hp.L), TorchDiffEq("rk4"), y0=hp.y0, t1=1.0)


def test_fixed_grid_adjoint_method_needs_a_step(grid_graph):
    hp = heat_problem(grid_graph)
    with pytest.raises(
        ValueError,
        match=r"TorchDiffEq\(method='dopri5', rtol=1e-07, atol=1e-09\)\.integrate: the "
        r"fixed-grid adjoint method 'rk4' needs a step; use a fixed-grid `method`",
    ):
        solve(
            LinearTerm(hp.L),
            TorchDiffEq(),
            y0=hp.y0,
            t1=1.0,
            adjoint=TorchDiffEqAdjoint(method="rk4"),
        )


def test_checkpoint_is_rejected(grid_graph):
    hp = heat_problem(grid_graph)
    with pytest.raises(
        ValueError,
        match=r"solve: `adjoint`=Checkpoint\(segments=None\) is not supported by "
        r"TorchDiffEq\(.*\) \(it integrates the interval itself\); use "
        r"adjoint=TorchDiffEqAdjoint\(\)",
    ):
        solve(
            LinearTerm(hp.L), TorchDiffEq(), y0=hp.y0, t1=1.0, adjoint=Checkpoint()
        )


def test_integrate_refuses_other_adjoints(grid_graph):
    hp = heat_problem(grid_graph)
    with pytest.raises(
        TypeError,
        match=r"\.integrate: `adjoint` must be Backprop\(\) or "
        r"TorchDiffEqAdjoint\(\.\.\.\); got Checkpoint\(segments=None\)\.",
    ):
        TorchDiffEq().integrate(
            LinearTerm(hp.L),
            0.0,
            torch.tensor([1.0]),
            hp.y0,
            None,
            dt0=None,
            max_steps=10,
            adjoint=Checkpoint(),
        )


@pytest.mark.parametrize(
    ("ts", "match"),
    [
        (torch.tensor([0.5, 0.2]), "strictly monotone"),
        (torch.zeros(0), "non-empty 1-D"),
        (torch.ones(2, 2), "non-empty 1-D"),
    ],
)
def test_integrate_bad_times(grid_graph, ts, match):
    hp = heat_problem(grid_graph)
    with pytest.raises(ValueError, match=match):
        TorchDiffEq().integrate(LinearTerm(hp.L), 0.0, ts, hp.y0)


# ---------------------------------------------------------------------------------
# The bounded dependency on torchdiffeq's internals
# ---------------------------------------------------------------------------------
def test_internals_load_on_the_installed_version():
    from solvers import _tde_compat

    found = _tde_compat.load_internals()
    assert "dopri5" in found.SOLVERS and "rk4" in _tde_compat.FIXED
    assert _tde_compat.SUPPORTED == ">=0.2.4,<0.3"


def test_missing_internal_module_names_the_supported_range(monkeypatch):
    import sys

    from solvers import _tde_compat

    monkeypatch.setitem(sys.modules, "torchdiffeq._impl.fixed_adams", None)
    with pytest.raises(
        ImportError,
        match=r"solvers\.torchdiffeq: needs torchdiffeq>=0\.2\.4,<0\.3 \(the adapter "
        r"uses torchdiffeq's internal `_impl` modules\); got torchdiffeq [0-9.]+, "
        r"where .* is missing\. Install a supported version with pip install "
        r"'torchdiffeq>=0\.2\.4,<0\.3'\.",
    ):
        _tde_compat.load_internals()


def test_missing_step_callbacks_name_the_supported_range(monkeypatch):
    import torchdiffeq._impl.misc as misc

    from solvers import _tde_compat

    monkeypatch.setattr(misc, "_all_callback_names", ["callback_step"])
    with pytest.raises(
        ImportError,
        match=r"needs torchdiffeq>=0\.2\.4,<0\.3 .*where step callbacks "
        r"\['callback_accept_step', 'callback_reject_step'\] is missing",
    ):
        _tde_compat.load_internals()
