"""ButcherTableau: consistency, order conditions, stability function and bound."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from solvers import ButcherTableau
from solvers.explicit_rk import (
    BOSH3_TABLEAU,
    DOPRI5_TABLEAU,
    EULER_TABLEAU,
    HEUN_TABLEAU,
    MIDPOINT_TABLEAU,
    RK4_TABLEAU,
)

TABLEAUS = [
    EULER_TABLEAU,
    MIDPOINT_TABLEAU,
    HEUN_TABLEAU,
    RK4_TABLEAU,
    BOSH3_TABLEAU,
    DOPRI5_TABLEAU,
]
EMBEDDED = [t for t in TABLEAUS if t.b_err is not None]
IDS = [t.name for t in TABLEAUS]

# Literature values of the real stability interval (Hairer & Wanner II, Sec. IV.2;
# Bogacki & Shampine 1989; Dormand & Prince 1980).
STABILITY_BOUNDS = {
    "Euler": 2.0,
    "Midpoint": 2.0,
    "Heun": 2.0,
    "RK4": 2.7853,
    "Bosh3": 2.5127,
    "Dopri5": 3.3066,
}


def order_conditions(
    a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> dict[int, list[tuple[str, float, float]]]:
    """Order conditions (one per rooted tree) up to order 5: (label, value, target)."""
    one = np.ones_like(c)
    ac, ac2, ac3 = a @ c, a @ c**2, a @ c**3
    return {
        1: [("b.1", b @ one, 1.0)],
        2: [("b.c", b @ c, 1 / 2)],
        3: [("b.c^2", b @ c**2, 1 / 3), ("b.Ac", b @ ac, 1 / 6)],
        4: [
            ("b.c^3", b @ c**3, 1 / 4),
            ("b.(c*Ac)", b @ (c * ac), 1 / 8),
            ("b.Ac^2", b @ ac2, 1 / 12),
            ("b.AAc", b @ (a @ ac), 1 / 24),
        ],
        5: [
            ("b.c^4", b @ c**4, 1 / 5),
            ("b.(c^2*Ac)", b @ (c**2 * ac), 1 / 10),
            ("b.(c*Ac^2)", b @ (c * ac2), 1 / 15),
            ("b.(c*AAc)", b @ (c * (a @ ac)), 1 / 30),
            ("b.(Ac*Ac)", b @ (ac * ac), 1 / 20),
            ("b.Ac^3", b @ ac3, 1 / 20),
            ("b.A(c*Ac)", b @ (a @ (c * ac)), 1 / 40),
            ("b.AAc^2", b @ (a @ ac2), 1 / 60),
            ("b.AAAc", b @ (a @ (a @ ac)), 1 / 120),
        ],
    }


@pytest.mark.parametrize("tab", TABLEAUS, ids=IDS)
def test_consistency(tab: ButcherTableau) -> None:
    assert (
        tab.a.dtype == np.float64
        and tab.b.dtype == np.float64
        and tab.c.dtype == np.float64
    )
    np.testing.assert_allclose(tab.a.sum(axis=1), tab.c, atol=1e-14)
    assert tab.b.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.all(np.triu(tab.a) == 0.0)
    assert tab.num_stages == len(tab.b)
    assert tab.explicit is True
    if tab.b_err is not None:
        assert tab.b_err.sum() == pytest.approx(0.0, abs=1e-14)


@pytest.mark.parametrize("tab", TABLEAUS, ids=IDS)
def test_order_conditions(tab: ButcherTableau) -> None:
    conds = order_conditions(tab.a, tab.b, tab.c)
    for p in range(1, tab.order + 1):
        for label, value, target in conds[p]:
            assert value == pytest.approx(target, abs=1e-13), (
                f"{tab.name}: order-{p} condition {label}"
            )
    if tab.order < 5:  # the order is sharp: some condition of the next order fails
        assert any(abs(v - t) > 1e-8 for _, v, t in conds[tab.order + 1])


@pytest.mark.parametrize("tab", EMBEDDED, ids=[t.name for t in EMBEDDED])
def test_embedded_order_conditions(tab: ButcherTableau) -> None:
    b_hat = tab.b - tab.b_err
    conds = order_conditions(tab.a, b_hat, tab.c)
    for p in range(1, tab.error_order + 1):
        for label, value, target in conds[p]:
            assert value == pytest.approx(target, abs=1e-13), (
                f"{tab.name} b_hat: order-{p} {label}"
            )
    assert any(abs(v - t) > 1e-8 for _, v, t in conds[tab.error_order + 1])


def test_fsal_flags() -> None:
    assert {t.name: t.fsal for t in TABLEAUS} == {
        "Euler": False,
        "Midpoint": False,
        "Heun": False,
        "RK4": False,
        "Bosh3": True,
        "Dopri5": True,
    }


@pytest.mark.parametrize("tab", TABLEAUS, ids=IDS)
def test_stability_bound_matches_literature(tab: ButcherTableau) -> None:
    assert tab.stability_bound == pytest.approx(STABILITY_BOUNDS[tab.name], abs=1e-3)
    r = tab.stability_bound
    # The definition: |R(-x)| <= 1 on [0, r], and > 1 just beyond.
    xs = np.linspace(0.0, r, 2001)
    assert np.all(np.abs(tab.stability_function(-xs)) <= 1.0 + 1e-12)
    assert abs(tab.stability_function(-(r + 1e-6))) > 1.0


def test_stability_bound_exact_ends() -> None:
    assert EULER_TABLEAU.stability_bound == 2.0
    assert HEUN_TABLEAU.stability_bound == pytest.approx(2.0, abs=1e-14)


@pytest.mark.parametrize(
    "tab",
    [EULER_TABLEAU, MIDPOINT_TABLEAU, HEUN_TABLEAU, RK4_TABLEAU, BOSH3_TABLEAU],
    ids=repr,
)
def test_stability_function_is_taylor_polynomial(tab: ButcherTableau) -> None:
    # p-stage order-p methods (Bosh3: its 4th stage has weight 0) reproduce exp(z)
    # to order p and have no further terms.
    z = np.array([-2.5, -1.0, 0.3, 1j, -1 + 2j])
    taylor = sum(z**j / math.factorial(j) for j in range(tab.order + 1))
    np.testing.assert_allclose(
        tab.stability_function(z), taylor, rtol=1e-13, atol=1e-13
    )
    np.testing.assert_allclose(
        tab.stability_polynomial,
        [1 / math.factorial(j) for j in range(tab.order + 1)],
        rtol=1e-13,
    )


def test_dopri5_stability_polynomial() -> None:
    expected = [1 / math.factorial(j) for j in range(6)] + [1 / 600]
    np.testing.assert_allclose(
        DOPRI5_TABLEAU.stability_polynomial, expected, rtol=1e-12
    )


@pytest.mark.parametrize("tab", TABLEAUS, ids=IDS)
def test_stability_function_vectorised_and_matches_polynomial(
    tab: ButcherTableau,
) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4)) * 2 + 1j * rng.normal(size=(3, 4))
    r = tab.stability_function(z)
    assert r.shape == (3, 4) and r.dtype == np.complex128
    np.testing.assert_allclose(
        r, np.polynomial.polynomial.polyval(z, tab.stability_polynomial), rtol=1e-12
    )
    assert tab.stability_function(0.0) == pytest.approx(1.0)
    assert np.shape(tab.stability_function(-1.0)) == ()


def test_frozen_and_read_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RK4_TABLEAU.order = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        RK4_TABLEAU.a[1, 0] = 0.3


def test_repr() -> None:
    assert (
        repr(DOPRI5_TABLEAU)
        == "ButcherTableau(name='Dopri5', num_stages=7, order=5, error_order=4, "
        "fsal=True)"
    )
    assert (
        repr(EULER_TABLEAU)
        == "ButcherTableau(name='Euler', num_stages=1, order=1, fsal=False)"
    )


def test_custom_tableau_from_lists() -> None:
    # Ralston's 2nd-order method (Ralston 1962):
    # minimal error bound among 2-stage methods.
    tab = ButcherTableau(
        "Ralston", a=[[0, 0], [2 / 3, 0]], b=[1 / 4, 3 / 4], c=[0, 2 / 3], order=2
    )
    assert tab.num_stages == 2 and not tab.fsal
    assert tab.stability_bound == pytest.approx(2.0)


# -- validation -----------------------------------------------------------------------
_A2 = [[0.0, 0.0], [1.0, 0.0]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            dict(a=[[0.0, 0.5], [1.0, 0.0]], b=[0.5, 0.5], c=[0.5, 1.0], order=2),
            r"strictly lower triangular .*a\[0, 1\]=0\.5",
        ),
        (
            dict(a=[[0.5, 0.0], [1.0, 0.0]], b=[0.5, 0.5], c=[0.5, 1.0], order=2),
            r"strictly lower triangular",
        ),
        (
            dict(a=_A2, b=[0.5, 0.5], c=[0.0, 0.9], order=2),
            r"row sums of `a` must equal `c`.*row 1",
        ),
        (
            dict(a=_A2, b=[0.5, 0.6], c=[0.0, 1.0], order=2),
            r"`b` must sum to 1 \(consistency\); got sum\(b\)=1\.1",
        ),
        (
            dict(
                a=_A2,
                b=[0.5, 0.5],
                c=[0.0, 1.0],
                order=2,
                b_err=[0.1, 0.0],
                error_order=1,
            ),
            r"`b_err` = b - b_hat must sum to 0",
        ),
        (
            dict(a=_A2, b=[0.5, 0.5], c=[0.0, 1.0], order=2, b_err=[0.1, -0.1]),
            r"needs `error_order`",
        ),
        (
            dict(a=_A2, b=[0.5, 0.5], c=[0.0, 1.0], order=2, error_order=1),
            r"`error_order` is given \(1\) but `b_err` is None",
        ),
        (
            dict(
                a=_A2,
                b=[0.5, 0.5],
                c=[0.0, 1.0],
                order=2,
                b_err=[0.1, -0.1, 0.0],
                error_order=1,
            ),
            r"`b_err` must have shape \(2,\)",
        ),
        (
            dict(a=_A2, b=[0.5, 0.5], c=[0.0, 1.0], order=0),
            r"`order` must be a positive int; got 0",
        ),
        (
            dict(a=_A2, b=[0.5, 0.5], c=[0.0, 1.0], order=2.0),
            r"`order` must be a positive int; got 2\.0",
        ),
        (
            dict(a=[[0.0]], b=[0.5, 0.5], c=[0.0, 1.0], order=1),
            r"`a` must be \[s, s\] and `b`, `c` must be \[s\]",
        ),
        (
            dict(a=[0.0, 1.0], b=[0.5, 0.5], c=[0.0, 1.0], order=1),
            r"`a` must be 2-D; got shape \(2,\)",
        ),
        (dict(a=_A2, b=[0.5, math.nan], c=[0.0, 1.0], order=2), r"`b` must be finite"),
        (
            dict(a=_A2, b=["x", 0.5], c=[0.0, 1.0], order=2),
            r"`b` must be a float array",
        ),
    ],
    ids=[
        "upper",
        "diagonal",
        "row-sums",
        "sum-b",
        "sum-b_err",
        "missing-error_order",
        "error_order-without-b_err",
        "b_err-shape",
        "order-0",
        "order-float",
        "shapes",
        "a-1d",
        "nan",
        "non-numeric",
    ],
)
def test_invalid_tableau_raises(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ButcherTableau("Bad", **kwargs)


def test_invalid_name_raises() -> None:
    with pytest.raises(ValueError, match="`name` must be a non-empty string"):
        ButcherTableau("", a=[[0.0]], b=[1.0], c=[0.0], order=1)
