"""Helpers for the dataset tests: where the raw files are, copies, graph checks.

Tests that need the real raw files read ``$GRAPHPDE_DATA`` if set, else the
repository's sibling ``shared/data`` directory, and skip when the files are absent.
Corrupt-file tests work on copies under ``tmp_path``; nothing writes into the data
directory.
"""

from __future__ import annotations

import functools
import os
import pickle
import shutil
import warnings
from pathlib import Path

import pytest

from graphops.datasets import DATA_ENV_VAR, GraphDataset, load
from graphops.graph import Graph

_SHARED = Path(__file__).parents[3] / "shared" / "data"
DATA = Path(os.environ[DATA_ENV_VAR]) if os.environ.get(DATA_ENV_VAR) else _SHARED

PLANETOID_FOLDER = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}

GEOM_STEM = {
    "chameleon": "chameleon",
    "squirrel": "squirrel",
    "actor": "film",
    "cornell": "cornell",
    "texas": "texas",
    "wisconsin": "wisconsin",
}

PLANETOID_EXTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")

# edge_homophily on the undirected loop-free Graph (each undirected edge once).
UNDIRECTED_HOMOPHILY = {
    "cora": 0.810,
    "citeseer": 0.736,
    "chameleon": 0.230,
    "squirrel": 0.222,
    "actor": 0.217,
    "cornell": 0.296,
    "texas": 0.061,
    "wisconsin": 0.178,
}
# Squirrel (21 MB of text, 198k edges) loads in 0.3-0.7 s on an idle CPU and in over
# 1 s on a busy one, so its cases are marked slow; it is parsed once per session.
SLOW_SETS = {"squirrel"}


def relpaths(name: str, split: str | None = None) -> list[str]:
    """Raw files of a dataset, relative to the data root."""
    if name in PLANETOID_FOLDER:
        folder = PLANETOID_FOLDER[name]
        files = [f"Planetoid/{folder}/raw/ind.{name}.{ext}" for ext in PLANETOID_EXTS]
        stem = name
    else:
        stem = GEOM_STEM[name]
        files = [
            f"geom-gcn/new_data/{stem}/out1_graph_edges.txt",
            f"geom-gcn/new_data/{stem}/out1_node_feature_label.txt",
        ]
    if split == "geom-gcn" or name in GEOM_STEM:
        files += [f"geom-gcn/splits/{stem}_split_0.6_0.2_{i}.npz" for i in range(10)]
    return files


def need_data(name: str, split: str | None = None) -> Path:
    """The data root, or skip when a file of ``name`` is absent."""
    absent = [p for p in relpaths(name, split) if not (DATA / p).is_file()]
    if absent:
        pytest.skip(
            f"raw files of {name!r} not found under {DATA} (set {DATA_ENV_VAR}); "
            f"missing {absent[0]}"
        )
    return DATA


def copy_dataset(name: str, dst: Path, split: str | None = None) -> Path:
    """Copy the raw files of ``name`` into ``dst`` (same layout); returns ``dst``."""
    src = need_data(name, split)
    for rel in relpaths(name, split):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dst / rel)
    return dst


def read_raw_pickle(path: Path):
    """Unpickle a raw Planetoid file with the plain (unrestricted) unpickler."""
    # The Python-2 pickles name scipy's deprecated `scipy.sparse.csr` module.
    with warnings.catch_warnings(), open(path, "rb") as fh:
        warnings.simplefilter("ignore", DeprecationWarning)
        return pickle.load(fh, encoding="latin1")


def write_pickle(path: Path, obj) -> None:
    """Write ``obj`` as a protocol-2 pickle, like the upstream files."""
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


@functools.cache
def _cached(name: str, split: str | None) -> GraphDataset:
    return load(name, DATA, split=split)


def load_shared(name: str, split: str | None = None) -> GraphDataset:
    """``load(name, DATA)``, parsed once per session (tests must not mutate it)."""
    need_data(name, split)
    return _cached(name, split)


def fast_or_slow(names):
    """Parameters for ``names``, with the sets in ``SLOW_SETS`` marked slow."""
    return [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW_SETS else n for n in names
    ]


def assert_symmetric_simple(g: Graph) -> None:
    """Symmetric adjacency, no self-loops, each edge stored once as ``i < j``."""
    a = g.to_scipy()
    assert (a != a.T).nnz == 0
    assert a.diagonal().sum() == 0
    assert bool((g.edge_index[0] < g.edge_index[1]).all())


def planetoid_raw(tmp_path: Path, name: str = "cora") -> Path:
    """Copy the raw files of ``name`` into ``tmp_path``; its Planetoid raw folder."""
    copy_dataset(name, tmp_path)
    return tmp_path / "Planetoid" / PLANETOID_FOLDER[name] / "raw"
