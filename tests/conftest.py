"""Shared test set-up: float64, seeded, CPU, and small graph fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from graphops import Graph
from graphops.datasets import cycle_graph, grid_graph, path_graph

torch.set_default_dtype(torch.float64)
# Test problems are tiny: one thread avoids OpenMP start-up/contention costs that
# dominate small sparse products (several ms per call with 2 threads on a busy host).
torch.set_num_threads(1)

SHARED_DATA = Path(
    os.environ.get(
        "GRAPHPDE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


# The fixed graphs come from the package's own generators (tested against networkx
# in tests/graphops/test_datasets_synthetic.py); built at call time, so in float64.
make_path_graph = path_graph
make_cycle_graph = cycle_graph
make_grid_graph = grid_graph


def make_random_graph(
    n: int = 40, p: float = 0.15, seed: int = 0, weighted: bool = True
) -> Graph:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, n, generator=g) < p
    a = torch.triu(a, 1)
    ei = a.nonzero().T
    w = torch.rand(ei.shape[1], generator=g) + 0.1 if weighted else None
    return Graph(ei, n, w, directed="symmetrize")


@pytest.fixture
def path_graph() -> Graph:
    return make_path_graph(10)


@pytest.fixture
def cycle_graph() -> Graph:
    return make_cycle_graph(12)


@pytest.fixture
def grid_graph() -> Graph:
    return make_grid_graph(5, 5)


@pytest.fixture
def random_graph() -> Graph:
    return make_random_graph()


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "MANIFEST.md").exists():
        pytest.skip(
            f"real datasets not found at {SHARED_DATA} "
            "(set GRAPHPDE_DATA to the shared/data folder)"
        )
    return SHARED_DATA
