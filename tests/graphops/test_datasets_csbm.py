"""Tests for csbm, the contextual stochastic block model with a homophily knob."""

from __future__ import annotations

import re

import pytest
import torch

from graphops.datasets import (
    csbm,
    edge_homophily,
)

from dataset_helpers import assert_symmetric_simple


@pytest.mark.parametrize(
    ("h", "c"), [(0.1, 2), (0.5, 3), (0.8, 2), (0.9, 5), (1.0, 3), (0.0, 2)]
)
def test_csbm_homophily_matches_knob(h, c):
    ds = csbm(3000, num_classes=c, homophily=h, mean_degree=10.0, seed=1)
    assert edge_homophily(ds.graph, ds.y) == pytest.approx(h, abs=0.02)
    assert 2 * ds.num_edges / ds.num_nodes == pytest.approx(10.0, rel=0.05)
    assert torch.bincount(ds.y).tolist() == [
        3000 // c + (k < 3000 % c) for k in range(c)
    ]
    assert_symmetric_simple(ds.graph)


def test_csbm_features_split_and_seed():
    ds = csbm(600, num_classes=3, num_features=8, feature_signal=3.0, seed=2)
    assert ds.x.shape == (600, 8) and ds.x.dtype == torch.get_default_dtype()
    assert ds.num_classes == 3 and ds.name == "csbm"
    # class means are 3 apart in norm, noise about 1: nearest-mean classifies well
    means = torch.stack([ds.x[ds.y == k].mean(0) for k in range(3)])
    predicted = torch.cdist(ds.x, means).argmin(1)
    assert float((predicted == ds.y).double().mean()) > 0.95
    train, val, test = ds.split()
    assert (int(train.sum()), int(val.sum()), int(test.sum())) == (360, 120, 120)
    assert bool((train ^ val ^ test).all()) and not bool((train & val).any())
    again = csbm(600, num_classes=3, num_features=8, feature_signal=3.0, seed=2)
    assert torch.equal(again.x, ds.x) and torch.equal(
        again.graph.edge_index, ds.graph.edge_index
    )
    assert torch.equal(again.train_mask, ds.train_mask)
    other = csbm(600, num_classes=3, num_features=8, feature_signal=3.0, seed=3)
    assert not torch.equal(other.graph.edge_index, ds.graph.edge_index)
    noise = csbm(
        600,
        num_features=4,
        feature_signal=0.0,
        dtype=torch.float32,
        fractions=(0.5, 0.0, 0.5),
    )
    assert noise.x.dtype == torch.float32 and int(noise.val_mask.sum()) == 0


def _case_id(match: str) -> str:
    """``"csbm-num_nodes"`` from ``r"csbm: `num_nodes` must ..."``."""
    found = re.match(r"(\w+): `(\w+)`", match)
    return "-".join(found.groups()) if found else re.sub(r"\W+", "", match)[:24]


CSBM_ERRORS = [
    (
        lambda: csbm(10, num_classes=1),
        ValueError,
        r"csbm: `num_classes` must be an int >= 2; got 1",
    ),
    (
        lambda: csbm(5, num_classes=3),
        ValueError,
        (
            r"csbm: `num_nodes` must be >= 2 \* num_classes = 6 \(two nodes per "
            r"class\); got 5"
        ),
    ),
    (
        lambda: csbm(100, homophily=1.2),
        ValueError,
        r"csbm: `homophily` must be a finite real number in \[0, 1\]; got 1\.2",
    ),
    (
        lambda: csbm(100, mean_degree=0),
        ValueError,
        r"csbm: `mean_degree` must be a finite real number in \(0, inf\); got 0",
    ),
    (
        lambda: csbm(100, mean_degree=80.0),
        ValueError,
        (
            r"csbm: `mean_degree` must be small enough for edge probabilities <= 1; "
            r"got mean_degree=80 with num_nodes=100"
        ),
    ),
    (
        lambda: csbm(100, feature_signal=-1.0),
        ValueError,
        r"csbm: `feature_signal` must be a finite real number in \[0, inf\); got -1\.0",
    ),
    (
        lambda: csbm(100, num_features=0),
        ValueError,
        r"csbm: `num_features` must be an int >= 1; got 0",
    ),
    (
        lambda: csbm(100, fractions=(0.5, 0.5, 0.5)),
        ValueError,
        (
            r"csbm: `fractions` must be three non-negative numbers summing to 1 "
            r"\(train, val, test\); got \(0\.5, 0\.5, 0\.5\)"
        ),
    ),
    (
        lambda: csbm(100, fractions=(1.0, 0.0)),
        ValueError,
        r"`fractions` must be three non-negative numbers",
    ),
    (
        lambda: csbm(100, dtype=torch.int32),
        TypeError,
        r"csbm: `dtype` must be a floating torch\.dtype or None; got .*int32",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    CSBM_ERRORS,
    ids=[f"{k}-{_case_id(m)}" for k, (_, _, m) in enumerate(CSBM_ERRORS)],
)
def test_csbm_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
