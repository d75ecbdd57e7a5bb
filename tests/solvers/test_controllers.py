"""Step-size controllers: the ConstantStep grid and the PIController's pieces."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torchdiffeq._impl.misc import _compute_error_ratio, _rms_norm, _select_initial_step

from solvers import (
    AbstractAdaptiveController,
    AbstractFixedStepController,
    ConstantStep,
    LinearTerm,
    PIController,
)

from helpers import heat_problem


# -- ConstantStep ----------------------------------------------------------------------
def test_constant_step_repr_and_flags() -> None:
    assert repr(ConstantStep()) == "ConstantStep()"
    assert isinstance(ConstantStep(), AbstractFixedStepController)
    assert not isinstance(ConstantStep(), AbstractAdaptiveController)
    assert ConstantStep() == ConstantStep()


def test_grid_splits_non_integer_ratio_into_equal_smaller_steps() -> None:
    (times,), dt = ConstantStep().grid(0.0, [1.0], 0.3)
    assert dt == 0.25
    assert times == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_grid_absorbs_round_off() -> None:
    # 1.0 / 0.1 = 10.000000000000002: still 10 steps, not 11.
    (times,), dt = ConstantStep().grid(0.0, [1.0], 0.1)
    assert len(times) == 11 and times[-1] == 1.0
    assert dt == pytest.approx(0.1, rel=1e-15)


def test_grid_lands_on_every_stop() -> None:
    grid, dt = ConstantStep().grid(0.5, [0.7, 1.0, 2.5], 0.25)
    assert [g[0] for g in grid] == [0.5, 0.7, 1.0] and [g[-1] for g in grid] == [
        0.7,
        1.0,
        2.5,
    ]
    assert [len(g) - 1 for g in grid] == [
        1,
        2,
        6,
    ]  # ceil(0.2/.25), ceil(0.3/.25), ceil(1.5/.25)
    assert dt == 0.25  # the largest effective step (the last interval divides exactly)
    for g in grid:
        steps = [b - a for a, b in zip(g, g[1:], strict=False)]
        assert max(steps) - min(steps) < 1e-15  # equal steps within an interval


def test_grid_dt0_larger_than_interval() -> None:
    (times,), dt = ConstantStep().grid(0.0, [0.1], 5.0)
    assert times == [0.0, 0.1] and dt == 0.1


# -- PIController: construction --------------------------------------------------------
def test_tolerances_are_required() -> None:
    with pytest.raises(
        TypeError,
        match=r"`rtol` and `atol` are required; there are no default tolerances",
    ):
        PIController()
    with pytest.raises(TypeError, match=r"PIController: `atol` is required"):
        PIController(rtol=1e-3)


def test_repr_shows_tolerances_and_non_defaults() -> None:
    assert (
        repr(PIController(rtol=1e-5, atol=1e-7))
        == "PIController(rtol=1e-05, atol=1e-07)"
    )
    assert repr(PIController(1e-5, 1e-7, pcoeff=0.4, icoeff=0.3, dt_max=0.5)) == (
        "PIController(rtol=1e-05, atol=1e-07, pcoeff=0.4, icoeff=0.3, dt_max=0.5)"
    )
    assert issubclass(PIController, AbstractAdaptiveController)


def test_frozen_and_keyword_only() -> None:
    c = PIController(1e-5, 1e-7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.rtol = 1e-3  # type: ignore[misc]
    with pytest.raises(TypeError):
        PIController(1e-5, 1e-7, 0.4)  # the knobs after atol are keyword-only
    assert c == PIController(rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(rtol=-1e-3, atol=1e-6), r"`rtol` must be a real number in \[0, 1\)"),
        (dict(rtol=1.0, atol=1e-6), r"`rtol` must be a real number in \[0, 1\)"),
        (dict(rtol="1e-3", atol=1e-6), r"`rtol` must be a real number"),
        (dict(rtol=True, atol=1e-6), r"`rtol` must be a real number"),
        (dict(rtol=math.nan, atol=1e-6), r"`rtol` must be a real number"),
        (dict(rtol=1e-3, atol=-1.0), r"`atol` must be a real number in \[0, inf\]"),
        (dict(rtol=1e-3, atol=math.inf), r"`atol` must be finite"),
        (dict(rtol=0.0, atol=0.0), r"`rtol` and `atol` cannot both be 0"),
        (
            dict(rtol=1e-3, atol=1e-6, pcoeff=-0.1),
            r"`pcoeff` must be a real number in \[0, 10\]",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, icoeff=0.0),
            r"`icoeff` must be a real number in \(0, 10\]",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, safety=0.0),
            r"`safety` must be a real number in \(0, 1\]",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, safety=1.2),
            r"`safety` must be a real number in \(0, 1\]",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, factor_min=1.0),
            r"`factor_min` must be a real number in \(0, 1\)",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, factor_max=1.0),
            r"`factor_max` must be a real number in \(1, inf\]",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, dt_min=-1.0),
            r"`dt_min` must be a real number in \[0, inf\)",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, dt_max=0.0),
            r"`dt_max` must be a real number in \(0, inf\]",
        ),
        (
            dict(rtol=1e-3, atol=1e-6, dt_min=0.1, dt_max=0.1),
            r"`dt_max` must be greater than `dt_min`",
        ),
    ],
    ids=repr,
)
def test_invalid_values_raise(kwargs: dict, match: str) -> None:
    # Not a number at all is a TypeError (graphops._checks.check_real), out of range a
    # ValueError.
    wrong_type = any(isinstance(v, str | bool) for v in kwargs.values())
    with pytest.raises(TypeError if wrong_type else ValueError, match=match):
        PIController(**kwargs)


# -- PIController: the step-size law ---------------------------------------------------
def test_factor_i_controller() -> None:
    c = PIController(1e-6, 1e-8)
    k = 5  # Dopri5: error_order 4
    assert c.factor(0.0, 1.0, 4, accepted=True) == 10.0
    assert c.factor(1e-12, 1.0, 4, accepted=True) == 10.0  # capped at factor_max
    assert c.factor(0.5, 1.0, 4, accepted=True) == pytest.approx(0.9 * 0.5 ** (-1 / k))
    assert (
        c.factor(0.99, 1.0, 4, accepted=True) == 1.0
    )  # an accepted step never shrinks
    assert c.factor(2.0, 1.0, 4, accepted=False) == pytest.approx(0.9 * 2.0 ** (-1 / k))
    assert c.factor(1e6, 1.0, 4, accepted=False) == 0.2  # factor_min
    assert c.factor(math.inf, 1.0, 4, accepted=False) == 0.2
    assert c.factor(math.nan, 1.0, 4, accepted=False) == 0.2
    assert (
        c.factor(1.0 + 1e-12, 1.0, 4, accepted=False) <= 1.0
    )  # a rejected step never grows


def test_factor_pi_controller() -> None:
    # Gustafsson's PI: beta1 = 0.7/k, beta2 = 0.4/k.
    c = PIController(1e-6, 1e-8, pcoeff=0.4, icoeff=0.3)
    k = 3  # Bosh3: error_order 2
    assert c.factor(0.1, 0.5, 2, accepted=True) == pytest.approx(
        0.9 * 0.1 ** (-0.7 / k) * 0.5 ** (0.4 / k)
    )
    # The previous error is floored at 1e-4 (Hairer's guard against lucky steps).
    assert c.factor(2.0, 0.0, 2, accepted=False) == pytest.approx(
        0.9 * 2.0 ** (-0.7 / k) * 1e-4 ** (0.4 / k)
    )


def test_error_ratio_matches_torchdiffeq(grid_graph) -> None:
    g = torch.Generator().manual_seed(5)
    y0, y1 = torch.randn(25, 3, generator=g), torch.randn(25, 3, generator=g)
    err = 1e-6 * torch.randn(25, 3, generator=g)
    c = PIController(1e-4, 1e-7)
    expected = _compute_error_ratio(err, 1e-4, 1e-7, y0, y1, _rms_norm)
    torch.testing.assert_close(c.error_ratio(err, y0, y1), expected, rtol=1e-14, atol=0)


def test_error_ratio_tuple_is_rms_over_all_entries() -> None:
    c = PIController(0.0, 1.0)  # scale 1: the ratio is the plain RMS
    e = (torch.full((2, 1), 3.0), torch.full((6, 1), 1.0))
    zeros = (torch.zeros(2, 1), torch.zeros(6, 1))
    assert float(c.error_ratio(e, zeros, zeros)) == pytest.approx(
        math.sqrt((2 * 9 + 6 * 1) / 8)
    )


def test_error_ratio_is_inf_for_non_finite_state() -> None:
    c = PIController(1e-3, 1e-6)
    y = torch.ones(4, 1)
    bad = y.clone()
    bad[2] = math.nan
    assert float(c.error_ratio(torch.zeros(4, 1), y, bad)) == math.inf


def test_error_ratio_does_not_track_gradients() -> None:
    y = torch.ones(3, 1, requires_grad=True)
    r = PIController(1e-3, 1e-6).error_ratio(y * 1e-4, y, y * 2)
    assert not r.requires_grad


@pytest.mark.parametrize("tols", [(1e-3, 1e-6), (1e-6, 1e-8), (1e-10, 1e-12)], ids=repr)
def test_initial_step_matches_torchdiffeq(grid_graph, tols) -> None:
    hp = heat_problem(grid_graph)
    term = LinearTerm(hp.L)
    f0 = term(0.0, hp.y0)
    rtol, atol = tols
    ours = PIController(rtol, atol).initial_step(
        term, 0.0, hp.y0, None, f0, error_order=4
    )
    ref = _select_initial_step(
        lambda t, y: -(hp.L @ y),
        torch.tensor(0.0),
        hp.y0,
        4,
        rtol,
        atol,
        _rms_norm,
        f0=f0,
    )
    assert ours == pytest.approx(float(ref), rel=1e-12)


def test_initial_step_zero_state_and_rhs() -> None:
    # d0, d1 tiny and f == 0: Hairer's fallbacks h0 = 1e-6, h1 = max(1e-6, 1e-9),
    # so min(100 h0, h1) = 1e-6.
    term = LinearTerm(lambda t, y, args: _Zero())
    c = PIController(1e-6, 1e-8)
    y0 = torch.zeros(3, 1)
    assert c.initial_step(
        term, 0.0, y0, None, torch.zeros(3, 1), error_order=4
    ) == pytest.approx(1e-6)


class _Zero:
    """The zero operator (``op @ y = 0``)."""

    def __matmul__(self, y):
        return torch.zeros_like(y)
