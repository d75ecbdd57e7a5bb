"""Tests for edge_homophily (graphops.energy, re-exported by graphops.datasets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphops.datasets import (
    edge_homophily,
    path_graph,
)

from dataset_helpers import (
    GEOM_STEM,
    UNDIRECTED_HOMOPHILY,
    fast_or_slow,
    load_shared,
    need_data,
)

# MANIFEST.md §2 homophily: directed pairs of the raw edge file (self-loops included),
# PyG's convention on the raw data.
MANIFEST_HOMOPHILY = {
    "chameleon": 0.235,
    "squirrel": 0.224,
    "actor": 0.219,
    "cornell": 0.305,
    "texas": 0.108,
    "wisconsin": 0.196,
}


def test_edge_homophily():
    g = path_graph(4)
    assert edge_homophily(g, torch.tensor([0, 0, 1, 1])) == pytest.approx(2 / 3)
    assert edge_homophily(g, torch.tensor([0, 0, 0, 0])) == 1.0
    with pytest.raises(
        TypeError,
        match=(
            r"edge_homophily: `y` must be an integer label tensor \[N\]; got a tensor "
            r"of shape \(4,\) and dtype torch\.float"
        ),
    ):
        edge_homophily(g, torch.zeros(4))
    with pytest.raises(
        ValueError, match=r"edge_homophily: `y` must have shape \[N=4\]; got \(4, 1\)"
    ):
        edge_homophily(g, torch.zeros(4, 1, dtype=torch.int64))
    with pytest.raises(
        ValueError,
        match=(
            r"edge_homophily: homophily is undefined on a graph without edges; got "
            r"num_edges=0"
        ),
    ):
        edge_homophily(path_graph(1), torch.zeros(1, dtype=torch.int64))


@pytest.mark.parametrize("name", fast_or_slow(MANIFEST_HOMOPHILY))
def test_homophily_conventions(name):
    """Ours counts undirected edges once; MANIFEST counts directed file pairs."""
    root = need_data(name)
    ds = load_shared(name)
    stem = GEOM_STEM[name]
    pairs = np.loadtxt(
        root / f"geom-gcn/new_data/{stem}/out1_graph_edges.txt",
        skiprows=1,
        dtype=np.int64,
    )
    pairs = np.unique(pairs, axis=0)
    y = ds.y.numpy()
    assert np.mean(y[pairs[:, 0]] == y[pairs[:, 1]]) == pytest.approx(
        MANIFEST_HOMOPHILY[name], abs=1e-3
    )
    assert edge_homophily(ds.graph, ds.y) == pytest.approx(
        UNDIRECTED_HOMOPHILY[name], abs=1e-3
    )
