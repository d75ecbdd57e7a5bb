"""Tests of solvers.stability.

Stability functions and regions, CFL bounds, step advice.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

matplotlib.use("Agg")

from graphops import Laplacian, lam_max  # noqa: E402
from solvers import CG  # noqa: E402
from solvers.explicit_rk import RK4, Bosh3, Dopri5, Euler, Heun, Midpoint  # noqa: E402
from solvers.imex import SymplecticEuler  # noqa: E402
from solvers.implicit import CrankNicolson, ImplicitEuler  # noqa: E402
from solvers.leapfrog import DampedLeapfrog, Leapfrog, TwoStepLeapfrog  # noqa: E402
from solvers.linear_stability import ray_bound  # noqa: E402
from solvers.multistep import AdamsBashforth  # noqa: E402
from solvers.stability import (  # noqa: E402
    CFLRow,
    DominantEigenvalue,
    LinearStability,
    Multistep,
    NotAnalysed,
    OneStep,
    Oscillator,
    Unconditional,
    cfl_table,
    check_stability,
    imag_axis_bound,
    jacobian_eigenvalue,
    jacobian_lam_max,
    jacobian_spectrum,
    max_stable_dt,
    plot_stability_regions,
    recommend_dt,
    root_condition,
    stability_bound,
    stability_function,
    stability_region,
)
from solvers.terms import LinearTerm, ODETerm, SecondOrderTerm  # noqa: E402
from solvers.torchdiffeq import TorchDiffEq  # noqa: E402

from conftest import make_grid_graph, make_random_graph  # noqa: E402
from helpers import heat_problem  # noqa: E402

RK4_BOUND = 2.785293563405282  # real root of |1 - x + x^2/2 - x^3/6 + x^4/24| = 1
Z = np.array([[-2.5 + 0.3j, -1.0, 0.0], [0.4 - 1.1j, 2j, -0.01 + 0.0j]])

# Every explicit first-order solver whose bound follows from its stability function.
FIRST_ORDER = [
    (Euler(), 2.0),
    (Midpoint(), 2.0),
    (Heun(), 2.0),
    (RK4(), RK4_BOUND),
    (Bosh3(), 2.5127453266183286),
    (Dopri5(), 3.3065678926349),  # Hairer & Wanner (1996), Fig. IV.2.1: ~3.31
    (AdamsBashforth(order=2), 1.0),
    (AdamsBashforth(order=3), 6.0 / 11.0),
    (AdamsBashforth(order=4), 3.0 / 10.0),
    (TorchDiffEq("euler"), 2.0),
    (TorchDiffEq("rk4"), RK4_BOUND),
    (TorchDiffEq("dopri5"), 3.3065678926349),
]
SECOND_ORDER = [Leapfrog(), TwoStepLeapfrog(), SymplecticEuler()]
IMPLICIT = [ImplicitEuler(CG(rtol=1e-10)), CrankNicolson(CG(rtol=1e-10))]


def _taylor(z, p):
    return sum(z**k / math.factorial(k) for k in range(p + 1))


# ---------------------------------------------------------------------------------
# Stability functions
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("solver", "closed_form"),
    [
        (Euler(), lambda z: 1 + z),
        (Heun(), lambda z: _taylor(z, 2)),
        (Midpoint(), lambda z: _taylor(z, 2)),
        (RK4(), lambda z: _taylor(z, 4)),
        (Bosh3(), lambda z: _taylor(z, 3)),  # the FSAL 4th stage has b_4 = 0
        (Dopri5(), lambda z: _taylor(z, 5) + z**6 / 600),
        (ImplicitEuler(CG(rtol=1e-10)), lambda z: 1 / (1 - z)),
        (CrankNicolson(CG(rtol=1e-10)), lambda z: (1 + z / 2) / (1 - z / 2)),
        (TorchDiffEq("rk4"), lambda z: _taylor(z, 4)),
        (TorchDiffEq("heun3"), lambda z: _taylor(z, 3)),
        (TorchDiffEq("dopri5"), lambda z: _taylor(z, 5) + z**6 / 600),
    ],
    ids=lambda v: repr(v) if not callable(v) or hasattr(v, "step") else "",
)
def test_stability_function_closed_forms(solver, closed_form):
    r = stability_function(solver)
    got = r(Z)
    assert got.shape == Z.shape and got.dtype == np.complex128
    np.testing.assert_allclose(
        got, closed_form(Z.astype(complex)), rtol=1e-13, atol=1e-14
    )
    assert np.asarray(r(-1.0)).shape == ()  # scalars work too


def test_stability_function_is_the_tableau_one():
    # one source of truth: the RK stability function equals the tableau's own
    for solver in (RK4(), Dopri5(), Bosh3()):
        np.testing.assert_allclose(
            stability_function(solver)(Z),
            solver.tableau.stability_function(Z),
            rtol=1e-13,
        )


@pytest.mark.parametrize(
    "solver",
    [AdamsBashforth(order=3), Leapfrog(), TorchDiffEq("explicit_adams")],
    ids=repr,
)
def test_stability_function_rejects_multistep_and_second_order(solver):
    with pytest.raises(TypeError, match="use root_condition"):
        stability_function(solver)


def test_stability_function_rejects_unknown_solver():
    with pytest.raises(TypeError, match="stability_function: expected a solver value"):
        stability_function(object())
    with pytest.raises(TypeError, match="an unanalysed method, which has no single"):
        stability_function(TorchDiffEq("implicit_adams"))


# ---------------------------------------------------------------------------------
# Root condition
# ---------------------------------------------------------------------------------
def test_root_condition_of_one_step_methods_is_abs_r():
    np.testing.assert_allclose(
        root_condition(RK4(), Z), np.abs(_taylor(Z.astype(complex), 4)), rtol=1e-13
    )


def test_adams_bashforth_weights_match_torchdiffeq():
    from torchdiffeq._impl.fixed_adams import _BASHFORTH_DIVISOR

    for k in (2, 3, 4):
        np.testing.assert_allclose(
            AdamsBashforth(order=k).weights, _BASHFORTH_DIVISOR[k].numpy(), rtol=1e-15
        )


def test_root_condition_adams_bashforth():
    # AB2 at z = -1: zeta^2 - (1 - 3/2) zeta - 1/2 = (zeta + 1)(zeta - 1/2):
    # |zeta|max = 1
    assert root_condition(AdamsBashforth(order=2), -1.0) == pytest.approx(
        1.0, abs=1e-12
    )
    # at z = 0 the principal root is 1 and the spurious ones 0
    assert root_condition(AdamsBashforth(order=4), 0.0) == pytest.approx(1.0, abs=1e-12)
    assert (
        root_condition(AdamsBashforth(order=3), -0.6) > 1.0
    )  # just outside [-6/11, 0]


@pytest.mark.parametrize("solver", SECOND_ORDER, ids=repr)
def test_root_condition_leapfrog_matches_amplification_roots(solver):
    dt = np.array([0.1, 0.5, 0.9, 1.1])
    lam = np.array([4.0, 4.0, 4.0, 4.0])  # dt^2 lam = 0.04, 1, 3.24, 4.84
    z = 1j * dt * np.sqrt(lam)
    want = np.abs(solver.linear_stability().mode_roots(dt, lam)).max(axis=-1)
    np.testing.assert_allclose(root_condition(solver, z), want, rtol=1e-12)
    assert (
        np.all(root_condition(solver, z[:3]) <= 1 + 1e-12)
        and root_condition(solver, z[3]) > 1
    )


def test_root_condition_rejects_damped_leapfrog():
    with pytest.raises(TypeError, match="no stability region in the z plane"):
        root_condition(DampedLeapfrog(alpha=0.3, beta=0.7), 1j)


# ---------------------------------------------------------------------------------
# Bounds
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("solver", "bound"), FIRST_ORDER, ids=repr)
def test_real_axis_bound(solver, bound):
    assert stability_bound(solver) == pytest.approx(bound, rel=1e-9)


@pytest.mark.parametrize(("solver", "bound"), FIRST_ORDER, ids=repr)
def test_max_stable_dt_agrees_with_analysis(solver, bound):
    # each solver's hand-written max_stable_dt against the independent analysis
    for lam in (0.5, 8.0):
        assert solver.max_stable_dt(lam) * lam == pytest.approx(
            stability_bound(solver), rel=1e-9
        )


@pytest.mark.parametrize("solver", SECOND_ORDER, ids=repr)
def test_leapfrog_bound_is_two_over_sqrt_lam(solver):
    assert stability_bound(solver) == pytest.approx(2.0, rel=1e-12)
    assert solver.max_stable_dt(9.0) == pytest.approx(
        stability_bound(solver) / 3.0, rel=1e-12
    )


@pytest.mark.parametrize("solver", IMPLICIT, ids=repr)
def test_implicit_methods_are_a_stable(solver):
    assert stability_bound(solver) == math.inf
    assert solver.max_stable_dt(8.0) is None


@pytest.mark.parametrize(
    ("solver", "bound"),
    [
        (Euler(), 0.0),
        (AdamsBashforth(order=2), 0.0),
        (RK4(), 2 * math.sqrt(2)),
        (Bosh3(), math.sqrt(3)),
        (AdamsBashforth(order=3), 0.7236272269866),
        (Leapfrog(), 2.0),
    ],
    ids=repr,
)
def test_imag_axis_bound(solver, bound):
    assert imag_axis_bound(solver) == pytest.approx(bound, rel=1e-9, abs=1e-12)


def test_explicit_adams_of_torchdiffeq_uses_ab11():
    solver = TorchDiffEq("explicit_adams")
    assert 0.0 < stability_bound(solver) < 0.01  # AB11's interval is tiny
    assert TorchDiffEq("implicit_adams").max_stable_dt(8.0) is None


# ---------------------------------------------------------------------------------
# Regions and plots
# ---------------------------------------------------------------------------------
def test_stability_region_grid():
    x, y, g = stability_region(Euler(), re=(-3.0, 1.0), im=(-2.0, 2.0), n=41)
    assert x.shape == y.shape == g.shape == (41, 41)
    assert x[0, 0] == -3.0 and x[0, -1] == 1.0 and y[0, 0] == -2.0 and y[-1, 0] == 2.0
    np.testing.assert_allclose(g, np.abs(1 + x + 1j * y), rtol=1e-13)
    x, y, g = stability_region(
        AdamsBashforth(order=3), n=41
    )  # Re step 0.15, Im step 0.2
    row = np.argmin(np.abs(y[:, 0]))
    assert y[row, 0] == pytest.approx(0.0, abs=1e-12)
    real = x[row]
    assert np.all(g[row][(real < -0.01) & (real > -0.5)] < 1.0)  # inside (-6/11, 0)
    assert np.all(g[row][real < -0.6] > 1.0) and np.all(g[row][real > 0.01] > 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"re": (1.0, -1.0)}, "`re` must be a pair"),
        ({"im": (0.0,)}, "`im` must be a pair"),
        ({"n": 1}, "`n` must be an int"),
    ],
)
def test_stability_region_bad_window(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stability_region(RK4(), **kwargs)


def _spectrum_offsets(fig):
    (ax,) = fig.axes
    (sc,) = [c for c in ax.collections if c.get_gid() == "spectrum"]
    return sc.get_offsets()


def test_plot_stability_regions_overlays_scaled_spectrum(grid_graph):
    from matplotlib.figure import Figure

    evals = torch.linalg.eigvalsh(Laplacian(grid_graph).to_dense())
    solvers = [
        Euler(),
        RK4(),
        AdamsBashforth(order=2),
        Leapfrog(),
        ImplicitEuler(CG(rtol=1e-10)),
    ]
    fig = plot_stability_regions(solvers, lam=evals, dt=0.3, n=60)
    assert isinstance(fig, Figure)
    off = _spectrum_offsets(fig)
    np.testing.assert_allclose(off[:, 0], -0.3 * evals.numpy())
    np.testing.assert_allclose(off[:, 1], 0.0)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:2] == ["Euler", "RK4"] and labels[-1] == "−dt·λ_i"


def test_plot_stability_regions_wave_and_given_axes(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 1, 1)
    lam = np.array([0.0, 1.0, 4.0])
    out = plot_stability_regions(
        Leapfrog(), lam=lam, dt=0.5, ax=ax, equation="wave", n=20
    )
    assert out is fig
    off = _spectrum_offsets(fig)
    np.testing.assert_allclose(
        np.sort(off[:, 1]), np.sort(np.r_[0.5 * np.sqrt(lam), -0.5 * np.sqrt(lam)])
    )
    fig.savefig(tmp_path / "regions.png")
    assert (tmp_path / "regions.png").stat().st_size > 0


def test_plot_stability_regions_jacobian_eigenvalues_and_several_steps():
    mu = np.array([-2.0 + 1.0j, -0.5 - 3.0j, -1.0])
    fig = plot_stability_regions(
        [Euler(), RK4()], lam=mu, dt=[0.5, 0.25], equation="jacobian", n=40
    )
    (ax,) = fig.axes
    sets = [c for c in ax.collections if c.get_gid() == "spectrum"]
    assert len(sets) == 2
    for sc, dt in zip(sets, (0.5, 0.25), strict=True):
        off = sc.get_offsets()
        np.testing.assert_allclose(off[:, 0] + 1j * off[:, 1], dt * mu)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["Euler", "RK4", "dt·μ_i, dt = 0.5", "dt·μ_i, dt = 0.25"]
    assert ax.get_title() == "Stability regions"
    one = plot_stability_regions(Euler(), lam=[1.0, 2.0], dt=[0.3], n=20)
    assert one.axes[0].get_title() == "Stability regions (dt=0.3)"


@pytest.mark.parametrize(
    ("solvers", "kwargs", "match"),
    [
        ([RK4()], {"lam": [1.0, 2.0]}, "`lam` was given without `dt`"),
        (
            [RK4()],
            {"lam": [1.0], "dt": -1.0},
            r"`dt` must be a finite real number in \(0",
        ),
        ([RK4()], {"lam": [float("nan")], "dt": 0.1}, "`lam` must be a finite array"),
        (
            [RK4()],
            {"equation": "diffusion"},
            "`equation` must be 'heat', 'wave' or 'jacobian'",
        ),
        ([RK4()], {"lam": [1.0], "dt": []}, "`dt` must be a step or a non-empty list"),
        ([RK4()], {"lam": [1.0], "dt": [0.1, -1.0]}, r"`dt` must be a finite real"),
        (
            [RK4()],
            {"lam": np.array([1.0 + 1j]), "dt": 0.1},
            r"`lam` must be real for equation='heat'.*equation='jacobian'",
        ),
        ([], {}, "`solvers` is empty"),
    ],
)
def test_plot_stability_regions_errors(solvers, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_stability_regions(solvers, **kwargs)


# ---------------------------------------------------------------------------------
# CFL helpers and the StabilityWarning message
# ---------------------------------------------------------------------------------
def test_check_stability_message_matches_style():
    msg = check_stability(RK4(), 0.5, 8.0)
    assert msg == (
        "RK4 with dt=0.5 exceeds the linear stability limit 2.785/λ_max = 0.348 "
        "(λ_max=8.0). "
        "Reduce dt0 or use ImplicitEuler."
    )
    assert check_stability(RK4(), 0.3, 8.0) is None
    assert check_stability(RK4(), torch.tensor(0.5), 8.0) == msg
    assert check_stability(ImplicitEuler(CG(rtol=1e-10)), 100.0, 8.0) is None
    assert check_stability(RK4(), 0.5, 0.0) is None  # a zero operator has no limit


def test_check_stability_message_for_other_methods():
    assert "2/√λ_max = 0.707 (λ_max=8.0). Reduce dt0." in check_stability(
        Leapfrog(), 0.8, 8.0
    )
    msg = check_stability(AdamsBashforth(order=3), 0.1, 8.0)
    assert (
        msg.startswith("AdamsBashforth(order=3) with dt=0.1")
        and "0.5455/λ_max = 0.0682" in msg
    )
    assert "dt_max = 0.63" in check_stability(
        DampedLeapfrog(alpha=0.3, beta=0.7), 0.8, 8.0
    )


@pytest.mark.parametrize(
    ("dt", "lam", "match"),
    [
        (0.0, 8.0, r"`dt` must be a finite real number in \(0, inf\]"),
        (float("nan"), 8.0, r"`dt` must be a finite real number in \(0, inf\]"),
        (0.1, -1.0, r"`lam_max` must be a finite real number in \[0, inf\]"),
        (0.1, float("inf"), "`lam_max` must be a finite"),
    ],
)
def test_check_stability_errors(dt, lam, match):
    with pytest.raises(ValueError, match=match):
        check_stability(RK4(), dt, lam)


def test_max_stable_dt_delegates():
    assert max_stable_dt(RK4(), 8.0) == RK4().max_stable_dt(8.0)
    assert max_stable_dt(Leapfrog(), 4.0) == pytest.approx(1.0)
    assert max_stable_dt(RK4(), 0.0) is None
    with pytest.raises(TypeError, match="expected a solver value"):
        max_stable_dt("RK4", 8.0)
    with pytest.raises(
        ValueError, match=r"`lam_max` must be a finite real number in \[0"
    ):
        max_stable_dt(RK4(), -2.0)


def test_cfl_table_rows():
    rows = cfl_table(
        [
            Euler(),
            RK4(),
            Leapfrog(),
            ImplicitEuler(CG(rtol=1e-10)),
            DampedLeapfrog(alpha=0.5, beta=0.5),
        ],
        8.0,
    )
    assert all(isinstance(r, CFLRow) for r in rows)
    euler, rk4, leap, ie, damped = rows
    assert (euler.solver, euler.formula, euler.max_dt) == (
        "Euler",
        "2/λ_max",
        pytest.approx(0.25),
    )
    assert rk4.bound == pytest.approx(RK4_BOUND) and rk4.max_dt == pytest.approx(
        RK4_BOUND / 8
    )
    assert leap.formula == "2/√λ_max" and leap.max_dt == pytest.approx(2 / math.sqrt(8))
    assert ie.bound == math.inf and ie.formula == "none" and ie.max_dt is None
    assert math.isnan(damped.bound) and damped.formula == "dt_max"
    assert "no limit" in str(ie) and "2.785/λ_max" in str(rk4)
    with pytest.raises(
        ValueError, match=r"cfl_table: `lam_max` must be a finite real number in \(0"
    ):
        cfl_table([RK4()], 0.0)
    with pytest.raises(TypeError, match="cfl_table: expected a solver value"):
        cfl_table(["RK4"], 8.0)


# ---------------------------------------------------------------------------------
# Jacobian spectrum
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "graph_fn",
    [lambda: make_grid_graph(5, 5), lambda: make_random_graph()],
    ids=["grid", "random"],
)
def test_jacobian_lam_max_of_linear_term_is_lam_max(graph_fn):
    graph = graph_fn()
    L = Laplacian(graph)
    y = torch.randn(graph.num_nodes, 3)
    res = jacobian_eigenvalue(LinearTerm(L), y)
    assert isinstance(res, DominantEigenvalue) and res.converged
    assert res.lam_abs == pytest.approx(lam_max(L), rel=1e-6)
    assert (
        res.real < 0 and abs(res.imag) < 1e-8 * res.lam_abs
    )  # -lam_max: a damped mode
    assert jacobian_lam_max(LinearTerm(L), y) == pytest.approx(lam_max(L), rel=1e-6)
    v = res.vector  # the top eigenvector of L, in every feature column combination
    assert v.shape == y.shape
    assert torch.linalg.norm(L @ v + res.lam.real * v) < 1e-3 * res.lam_abs


def _dense_eigs(term, y, args=None):
    f = lambda u: term(0.0, u.reshape(y.shape), args).reshape(-1)  # noqa: E731
    jac = torch.autograd.functional.jacobian(f, y.reshape(-1))
    return np.linalg.eigvals(jac.numpy())


class _NonlinearDiffusion(nn.Module):
    """y' = -L tanh(y W) with a fixed weight W (non-symmetric Jacobian)."""

    def __init__(self, L, features):
        super().__init__()
        g = torch.Generator().manual_seed(3)
        self.L = L
        self.weight = nn.Parameter(torch.randn(features, features, generator=g))

    def forward(self, t, y, args=None):
        return -(self.L @ torch.tanh(y @ self.weight))


@pytest.mark.slow
def test_jacobian_eigenvalue_of_nonlinear_term_matches_dense(grid_graph):
    term = ODETerm(_NonlinearDiffusion(Laplacian(grid_graph), 3))
    y = 0.5 * torch.randn(grid_graph.num_nodes, 3)
    eigs = _dense_eigs(term, y)
    res = jacobian_eigenvalue(term, y, iters=300, tol=1e-10)
    assert res.converged
    assert res.lam_abs == pytest.approx(np.abs(eigs).max(), rel=1e-6)
    assert np.min(np.abs(eigs - res.lam)) < 1e-6 * res.lam_abs  # the eigenvalue itself
    assert term.fn.weight.grad is None  # forward mode only: no graph, no gradients


def test_jacobian_eigenvalue_complex_pair():
    # y' = y M with M = [[a, -b], [b, a]]: eigenvalues a +- ib
    # (power iteration alone oscillates)
    m = torch.tensor([[-1.0, -3.0], [3.0, -1.0]])
    d = torch.diag(torch.linspace(0.1, 1.0, 6))
    term = ODETerm(lambda t, y, args: d @ y @ m)
    res = jacobian_eigenvalue(term, torch.randn(6, 2), tol=1e-10)
    assert res.converged
    assert res.lam == pytest.approx(complex(-1.0, 3.0), rel=1e-8)
    assert res.lam_abs == pytest.approx(math.sqrt(10), rel=1e-8)


@pytest.mark.slow
def test_jacobian_eigenvalue_tuple_state(grid_graph):
    L = Laplacian(grid_graph)
    x = torch.randn(grid_graph.num_nodes, 2)
    res = jacobian_eigenvalue(
        SecondOrderTerm(operator=L), (x, torch.zeros_like(x)), tol=1e-10, iters=400
    )
    # the (x, v) system has eigenvalues +-i sqrt(lambda)
    assert res.lam_abs == pytest.approx(math.sqrt(lam_max(L)), rel=1e-6)
    assert abs(res.real) < 1e-6 * res.lam_abs
    assert isinstance(res.vector, tuple) and res.vector[0].shape == x.shape


def test_jacobian_lam_max_warns_when_not_converged(random_graph):
    y = torch.randn(random_graph.num_nodes, 2)
    with pytest.warns(
        RuntimeWarning, match="did not converge in 2 Jacobian-vector products"
    ):
        jacobian_lam_max(LinearTerm(Laplacian(random_graph)), y, iters=2)


@pytest.mark.parametrize(
    ("term", "y", "kwargs", "exc", "match"),
    [
        ("f", torch.ones(3, 1), {}, TypeError, "`term` must be a Term or a callable"),
        (
            ODETerm(lambda t, y, a: -y),
            torch.ones(3, 1, dtype=torch.int64),
            {},
            TypeError,
            "`y` must be a floating tensor",
        ),
        (
            ODETerm(lambda t, y, a: -y),
            [torch.ones(3, 1)],
            {},
            TypeError,
            "`y` must be a floating tensor",
        ),
        (
            ODETerm(lambda t, y, a: -y),
            torch.ones(3, 1),
            {"iters": 0},
            ValueError,
            "`iters` must be an int >= 1",
        ),
        (
            ODETerm(lambda t, y, a: -y),
            torch.ones(3, 1),
            {"tol": 0.0},
            ValueError,
            r"`tol` must be a finite real number in \(0",
        ),
    ],
)
def test_jacobian_eigenvalue_errors(term, y, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        jacobian_eigenvalue(term, y, **kwargs)


def test_jacobian_spectrum_of_a_laplacian_is_its_distinct_eigenvalues():
    g = make_grid_graph(4, 5)
    L = Laplacian(g)
    exact = np.linalg.eigvalsh(-L.to_dense().numpy())
    distinct = exact[np.r_[True, np.diff(exact) > 1e-9]]
    res = jacobian_spectrum(LinearTerm(L), torch.randn(g.num_nodes, 1), k=50)
    # a Krylov space from one vector sees each distinct eigenvalue once, and stops
    assert res.iterations == distinct.size
    np.testing.assert_allclose(np.sort(res.values.real), distinct, atol=1e-9)
    np.testing.assert_allclose(res.values.imag, 0.0, atol=1e-9)
    assert np.all(res.residuals < 1e-8)
    assert np.all(np.diff(np.abs(res.values)) <= 0)  # largest modulus first


def test_jacobian_spectrum_non_symmetric_equals_numpy_eig():
    gen = torch.Generator().manual_seed(5)
    a = torch.randn(9, 9, generator=gen)
    res = jacobian_spectrum(ODETerm(lambda t, y, args: a @ y), torch.ones(9, 1), k=9)
    exact = np.linalg.eigvals(a.numpy())
    assert res.iterations == 9 and np.any(np.abs(exact.imag) > 0.1)  # complex pairs
    for value in exact:
        assert np.min(np.abs(res.values - value)) < 1e-8 * np.abs(exact).max()


def test_jacobian_spectrum_outer_values_converge_first():
    g = make_grid_graph(12, 12)
    L = Laplacian(g)
    top = np.linalg.eigvalsh(L.to_dense().numpy())[-1]
    res = jacobian_spectrum(LinearTerm(L), torch.randn(g.num_nodes, 2), k=40)
    assert res.iterations == 40 and res.values.shape == (40,)
    assert res.values[0].real == pytest.approx(-top, rel=1e-8)
    assert res.residuals[0] < 1e-6 < res.residuals.max()  # interior not converged


def test_jacobian_spectrum_of_the_wave_system():
    g = make_grid_graph(3, 3)
    L = Laplacian(g)
    x = torch.randn(g.num_nodes, 1)
    res = jacobian_spectrum(SecondOrderTerm(operator=L), (x, torch.zeros_like(x)))
    lam = np.linalg.eigvalsh(L.to_dense().numpy())
    # (x, v)' = (v, -L x): eigenvalues +-i sqrt(lambda)
    want = np.concatenate([1j * np.sqrt(np.abs(lam)), -1j * np.sqrt(np.abs(lam))])
    for value in res.values:
        assert np.min(np.abs(want - value)) < 1e-7
    assert np.max(np.abs(res.values.real)) < 1e-7


@pytest.mark.parametrize(
    ("term", "kwargs", "exc", "match"),
    [
        ("f", {}, TypeError, "jacobian_spectrum: `term` must be a Term or a callable"),
        (ODETerm(lambda t, y, a: -y), {"k": 0}, ValueError, "`k` must be an int >= 1"),
        (
            ODETerm(lambda t, y, a: -3 * y.detach()),
            {},
            ValueError,
            "jacobian_spectrum: the Jacobian-vector products do not see",
        ),
    ],
)
def test_jacobian_spectrum_errors(term, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        jacobian_spectrum(term, torch.ones(3, 1), **kwargs)


# ---------------------------------------------------------------------------------
# recommend_dt
# ---------------------------------------------------------------------------------
def test_recommend_dt_rk4_heat_flow_is_stable(grid_graph):
    hp = heat_problem(grid_graph, mode="top")
    term = LinearTerm(hp.L)
    dt = recommend_dt(term, RK4(), hp.y0)
    assert dt == pytest.approx(0.9 * RK4_BOUND / lam_max(hp.L), rel=1e-12)
    # and it is stable on the worst mode: 200 steps of the amplification factor
    r = stability_function(RK4())(-dt * hp.evals[-1].item())
    assert abs(r) ** 200 <= 1.0
    assert recommend_dt(term, RK4(), hp.y0, safety=1.0) == pytest.approx(
        RK4_BOUND / lam_max(hp.L), rel=1e-12
    )


def test_recommend_dt_implicit_is_none(grid_graph):
    hp = heat_problem(grid_graph)
    assert recommend_dt(LinearTerm(hp.L), ImplicitEuler(CG(rtol=1e-10)), hp.y0) is None


def test_recommend_dt_wave(grid_graph):
    L = Laplacian(grid_graph)
    x = torch.randn(grid_graph.num_nodes, 1)
    y = (x, torch.zeros_like(x))
    wave = SecondOrderTerm(operator=L)
    root = math.sqrt(lam_max(L))
    assert recommend_dt(wave, Leapfrog(), y) == pytest.approx(0.9 * 2 / root, rel=1e-9)
    # RK4 on the (x, v) system: eigenvalues +-i sqrt(lam) on the imaginary axis
    assert recommend_dt(wave, RK4(), y) == pytest.approx(
        0.9 * 2 * math.sqrt(2) / root, rel=1e-9
    )
    with pytest.raises(
        ValueError, match="Euler is unstable for every dt on x'' = -A x"
    ):
        recommend_dt(wave, Euler(), y)


@pytest.mark.slow
def test_recommend_dt_nonlinear_uses_jacobian(grid_graph):
    term = ODETerm(_NonlinearDiffusion(Laplacian(grid_graph), 2))
    y = 0.3 * torch.randn(grid_graph.num_nodes, 2)
    res = jacobian_eigenvalue(term, y)
    dt = recommend_dt(term, Euler(), y, safety=0.5)
    if abs(res.imag) <= 1e-6 * res.lam_abs and res.real < 0:
        assert dt == pytest.approx(0.5 * 2.0 / res.lam_abs, rel=1e-9)
    # whichever branch: the dominant mode is stable at the recommended step
    assert root_condition(Euler(), dt * res.lam) <= 1.0
    # second-order methods read |mu|^2 as the lambda of x'' = -lambda x
    wave = SecondOrderTerm(lambda t, x, v, a: -(Laplacian(grid_graph) @ torch.tanh(x)))
    x = 0.1 * torch.randn(grid_graph.num_nodes, 1)
    mu = jacobian_eigenvalue(
        wave, (x, torch.zeros_like(x)), tol=1e-10, iters=400
    ).lam_abs
    assert recommend_dt(wave, Leapfrog(), (x, torch.zeros_like(x))) == pytest.approx(
        0.9 * 2.0 / mu, rel=1e-5
    )


@pytest.mark.parametrize("safety", [0.0, 1.5, -0.1, float("nan")])
def test_recommend_dt_bad_safety(grid_graph, safety):
    hp = heat_problem(grid_graph)
    with pytest.raises(
        ValueError, match=r"`safety` must be a finite real number in \(0, 1\]"
    ):
        recommend_dt(LinearTerm(hp.L), RK4(), hp.y0, safety=safety)
    with pytest.raises(TypeError, match=r"`safety` must be a real number"):
        recommend_dt(LinearTerm(hp.L), RK4(), hp.y0, safety=True)
    with pytest.raises(TypeError, match="recommend_dt: expected a solver value"):
        recommend_dt(LinearTerm(hp.L), "RK4", hp.y0)


def test_recommend_dt_warns_when_the_eigenvalue_estimate_did_not_converge(grid_graph):
    from graphops import Laplacian
    from solvers import ODETerm

    L = Laplacian(grid_graph)
    term = ODETerm(lambda t, y, args: -(L @ torch.tanh(y)))
    y = torch.randn(grid_graph.num_nodes, 2)
    with pytest.warns(
        RuntimeWarning,
        match=r"recommend_dt: the Jacobian eigenvalue estimate did not converge "
        r"in 1 products",
    ):
        recommend_dt(term, RK4(), y, iters=1, tol=1e-14)


# ---------------------------------------------------------------------------------
# One description per solver, and cross-checks between independent computations
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("solver", "kind"),
    [
        (RK4(), OneStep),
        (Dopri5(), OneStep),
        (TorchDiffEq("rk4"), OneStep),
        (TorchDiffEq("dopri5"), OneStep),
        (AdamsBashforth(order=3), Multistep),
        (TorchDiffEq("explicit_adams"), Multistep),
        (Leapfrog(), Oscillator),
        (TwoStepLeapfrog(), Oscillator),
        (SymplecticEuler(), Oscillator),
        (DampedLeapfrog(alpha=0.3, beta=0.7), Oscillator),
        (ImplicitEuler(CG(rtol=1e-10)), Unconditional),
        (CrankNicolson(CG(rtol=1e-10)), Unconditional),
        (TorchDiffEq("implicit_adams"), NotAnalysed),
    ],
    ids=repr,
)
def test_each_solver_returns_one_description(solver, kind):
    desc = solver.linear_stability()
    assert type(desc) is kind and isinstance(desc, LinearStability)
    assert desc == solver.linear_stability()  # a value: equal and hashable
    hash(desc)
    # max_stable_dt derives from the description, and so do the analysis functions
    assert solver.max_stable_dt(8.0) == desc.max_stable_dt(8.0)
    assert max_stable_dt(desc, 8.0) == max_stable_dt(solver, 8.0)
    assert stability_bound(desc) == stability_bound(solver) or math.isnan(
        stability_bound(solver)
    )


def test_literature_bounds_from_polynomial_roots_and_tableau():
    # three independent routes to the real-axis bound of each RK method: the
    # description's polynomial, the tableau's (I - zA)^-1 form, and the literature
    for solver, literature in ((Euler(), 2.0), (RK4(), RK4_BOUND), (Dopri5(), 3.3066)):
        tab = solver.tableau
        bound = stability_bound(solver)
        assert bound == pytest.approx(literature, rel=1e-4)
        assert abs(tab.stability_function(-bound)) == pytest.approx(1.0, abs=1e-9)
        assert abs(tab.stability_function(-(bound + 1e-6))) > 1.0
    assert stability_bound(Euler()) == 2.0  # exact end
    # AB2 as a multistep method and as its companion-matrix roots (numpy.roots)
    for order, literature in ((2, 1.0), (3, 6 / 11), (4, 3 / 10)):
        desc = AdamsBashforth(order=order).linear_stability()
        assert desc.bound == pytest.approx(literature, rel=1e-12)
        z = -0.7 + 0.2j
        coeffs = np.asarray(desc.rho) - z * np.asarray(desc.sigma)
        np.testing.assert_allclose(
            np.sort_complex(desc.roots(z)),
            np.sort_complex(np.roots(coeffs[::-1])),
            rtol=1e-10,
        )
    # leapfrog: dt sqrt(lam) < 2 from the closed form of the roots
    for lam in (0.5, 4.0, 9.0):
        assert Leapfrog().max_stable_dt(lam) == 2.0 / math.sqrt(lam)
    # a OneStep and a one-step Multistep (rho = zeta - 1, sigma = 1) agree: Euler
    assert Multistep((-1.0, 1.0), (1.0,)).bound == OneStep((1.0, 1.0)).bound == 2.0


def test_description_values_directly():
    euler = OneStep((1.0, 1.0))
    np.testing.assert_allclose(stability_function(euler)(Z), 1 + Z)
    assert imag_axis_bound(Oscillator()) == pytest.approx(2.0)
    assert imag_axis_bound(CrankNicolson(CG(rtol=1e-10))) == math.inf
    ie = OneStep((1.0,), (1.0, -1.0))
    assert ie.bound == math.inf  # no exit from the unit disc on the real axis
    # Euler on the imaginary axis: |1 + is| > 1 at once (shorter than `start`: 0)
    assert ray_bound(lambda s: np.abs(1.0 + 1j * s), start=1e-2) == 0.0
    assert Oscillator(alpha=1.0, beta=0.0).max_stable_dt(4.0) == pytest.approx(0.5)
    assert Oscillator().max_stable_dt(0.0) is None
    assert NotAnalysed().max_stable_dt(8.0) is None
    assert math.isnan(Oscillator(alpha=0.5, beta=0.5).bound)


def test_default_description_is_not_analysed():
    from solvers.base import AbstractSolver, Step

    class _Bare(AbstractSolver):
        order = 1

        def step(self, term, t0, dt, y0, args, state):
            return Step(y0)

    desc = _Bare().linear_stability()
    assert isinstance(desc, NotAnalysed) and "_Bare" in desc.reason
    assert _Bare().max_stable_dt(8.0) is None
    assert check_stability(_Bare(), 100.0, 8.0) is None
    with pytest.raises(TypeError, match="no linear stability analysis is known"):
        root_condition(_Bare(), -1.0)


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (lambda: OneStep(()), ValueError, "OneStep: `numerator` must be a non-empty"),
        (
            lambda: OneStep((1.0,), (float("nan"),)),
            ValueError,
            "`denominator` must be a non-empty sequence of finite",
        ),
        (lambda: OneStep("ab"), ValueError, "`numerator` must be a non-empty"),
        (
            lambda: Multistep((1.0,), (1.0, 2.0)),
            ValueError,
            "Multistep: `sigma` must not be longer than `rho`",
        ),
        (lambda: Oscillator(alpha=-0.1), ValueError, "Oscillator: `alpha` must be"),
        (lambda: Oscillator(beta="1"), TypeError, "Oscillator: `beta` must be a real"),
        (
            lambda: Oscillator(alpha=0.0, beta=0.0),
            ValueError,
            "`alpha` \\+ `beta` must be > 0",
        ),
        (
            lambda: Unconditional(function=RK4()),
            TypeError,
            "Unconditional: `function` must be a OneStep",
        ),
    ],
)
def test_description_validation(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


def test_descriptions_without_a_region_raise():
    with pytest.raises(TypeError, match="damped oscillator's roots depend on dt"):
        Oscillator(alpha=0.3, beta=0.7).roots(1j)
    with pytest.raises(TypeError, match="damped oscillator's roots depend on dt"):
        Oscillator(alpha=0.3, beta=0.7).root_modulus(1j)
    with pytest.raises(TypeError, match="no linear stability analysis is known: why"):
        NotAnalysed("why").roots(0.0)
    with pytest.raises(TypeError, match="has no stability region in the z plane"):
        Unconditional().roots(0.0)
    with pytest.raises(TypeError, match="states no stability function"):
        root_condition(Unconditional(), -1.0)
    with pytest.raises(TypeError, match="an unanalysed method"):
        stability_function(Unconditional())
    with pytest.raises(TypeError, match="`lam_max` must be a real number"):
        OneStep((1.0, 1.0)).max_stable_dt("8")
    with pytest.raises(ValueError, match="Oscillator.max_stable_dt: `lam_max`"):
        Oscillator().max_stable_dt(float("nan"))


def test_window_and_grid_types():
    with pytest.raises(TypeError, match="stability_region: `re` must be a real"):
        stability_region(RK4(), re=("a", 1.0))
    with pytest.raises(TypeError, match="`n` must be an int"):
        stability_region(RK4(), n=2.5)
    with pytest.raises(TypeError, match="check_stability: `dt` must be a real number"):
        check_stability(RK4(), "0.1", 8.0)


@pytest.mark.parametrize("real", [3.9e-13, 0.0, -4e-10])
def test_round_off_real_part_is_an_oscillation(real):
    # A Jacobian estimate of an undamped oscillator lands at +-round-off off the
    # imaginary axis; Euler and Heun must stay "unstable for every dt" either way
    # (the real-axis bound 2/|mu| would wrongly call dt = 2 stable).
    from solvers.stability.jacobian import stable_step

    mu = complex(real, 0.5645)
    eig = DominantEigenvalue(mu, abs(mu), mu.real, mu.imag, 0.0, 10, True)
    term = ODETerm(lambda t, y, args: -y)
    y = torch.zeros(4, dtype=torch.float64)
    for solver in (Euler(), Heun()):
        with pytest.raises(ValueError, match="unstable for every dt"):
            stable_step(term, solver, y, eigenvalue=eig)
    rk4 = stable_step(term, RK4(), y, eigenvalue=eig)
    assert rk4 == pytest.approx(imag_axis_bound(RK4()) / abs(mu), rel=1e-3)
