"""Tests for GraphDataset: sizes, splits, text, validation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from graphops.datasets import (
    GraphDataset,
    path_graph,
)


def _tiny(**overrides) -> GraphDataset:
    g = path_graph(4)
    fields = dict(
        name="tiny",
        graph=g,
        x=torch.zeros(4, 3),
        y=torch.tensor([0, 1, 0, 1]),
        train_mask=torch.tensor([True, False, False, False]),
        val_mask=torch.tensor([False, True, False, False]),
        test_mask=torch.tensor([False, False, True, True]),
        num_classes=2,
    )
    fields.update(overrides)
    return GraphDataset(**fields)


def test_graph_dataset_basics():
    ds = _tiny()
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_splits) == (4, 3, 3, 1)
    assert repr(ds) == (
        "GraphDataset(name='tiny', num_nodes=4, num_edges=3, num_features=3, "
        "num_classes=2, num_splits=1, train/val/test=1 / 1 / 2)"
    )
    text = ds.summary()
    for piece in (
        "GraphDataset 'tiny'",
        "nodes           4",
        "edges           3 (undirected",
        "features        3",
        "classes         2",
        "edge homophily  0.000",
        ("train / val / test = 1 / 1 / 2 nodes (25% / 25% / 50% of the nodes)"),
    ):
        assert piece in text
    moved = ds.to("cpu")
    assert moved is not ds and torch.equal(moved.x, ds.x) and moved.graph.num_edges == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]


def test_graph_dataset_multi_split_and_split_errors():
    masks = torch.zeros(4, 3, dtype=torch.bool)
    train = masks.clone()
    train[0] = True
    ds = _tiny(train_mask=train, val_mask=masks, test_mask=masks)
    assert ds.num_splits == 3
    assert torch.equal(ds.split(2)[0], train[:, 2])
    with pytest.raises(
        IndexError,
        match=(
            r"GraphDataset\.split: `i` must be in \[0, 3\) for 'tiny' \(3 splits\); "
            r"got 3\. Loop over range\(dataset\.num_splits\)"
        ),
    ):
        ds.split(3)
    with pytest.raises(IndexError, match=r"must be in \[0, 3\) .*got -1"):
        ds.split(-1)
    with pytest.raises(
        IndexError, match=r"must be in \[0, 1\) for 'tiny' \(1 split\); got 1"
    ):
        _tiny().split(1)
    with pytest.raises(
        TypeError, match=r"GraphDataset\.split: `i` must be an int; got str '0'"
    ):
        ds.split("0")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        (
            {"graph": "g"},
            TypeError,
            r"GraphDataset: `graph` must be a graphops Graph; got str",
        ),
        (
            {"x": torch.zeros(4, 3, dtype=torch.int64)},
            TypeError,
            r"`x` must be a floating tensor \[N, F\]",
        ),
        (
            {"x": torch.zeros(5, 3)},
            ValueError,
            r"`x` must have one row per node, \[N=4, F\]; got \(5, 3\)",
        ),
        (
            {"y": torch.tensor([0.0, 1, 0, 1])},
            TypeError,
            r"`y` must be an int64 tensor \[N=4\]",
        ),
        (
            {"y": torch.tensor([0, 1, 0])},
            ValueError,
            r"`y` must have shape \[N=4\] \(one class index per node\); got \(3,\)",
        ),
        (
            {"train_mask": torch.zeros(4)},
            TypeError,
            r"`train_mask` must be a bool tensor",
        ),
        (
            {"val_mask": torch.zeros(5, dtype=torch.bool)},
            ValueError,
            r"`val_mask` must have shape \[N=4\] or \[N=4, S\]; got \(5,\)",
        ),
        (
            {"test_mask": torch.zeros(4, 2, dtype=torch.bool)},
            ValueError,
            (
                r"all masks must have the same shape; got `train_mask` \(4,\) and "
                r"`test_mask` \(4, 2\)"
            ),
        ),
        (
            {"num_classes": 0},
            ValueError,
            r"`num_classes` must be a positive int; got 0",
        ),
        (
            {"num_classes": 1},
            ValueError,
            (
                r"labels must lie in \[0, num_classes=1\); got labels in \[0, 1\]\. "
                r"Pass num_classes=2"
            ),
        ),
    ],
    ids=[
        "graph",
        "x-dtype",
        "x-rows",
        "y-dtype",
        "y-shape",
        "mask-dtype",
        "mask-shape",
        "mask-mismatch",
        "num-classes",
        "label-range",
    ],
)
def test_graph_dataset_validation(overrides, error, match):
    with pytest.raises(error, match=match):
        _tiny(**overrides)
