"""The graphops.datasets package: public names, lazy loading, light ``import graphops``.

``import torch`` alone already puts ``urllib.request``, ``http.client`` and ``pickle``
into ``sys.modules`` (torch.hub, torch.serialization), so checking ``sys.modules``
for them after ``import graphops`` cannot tell anything about graphops. What is in
graphops' control is which of *its own* modules run an ``import`` of them: a spy on
``builtins.__import__`` records every import statement executed by a graphops module
(cached or not), in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import graphops
import graphops.energy
from graphops import datasets

from dataset_helpers import DATA, relpaths

REPO = Path(__file__).resolve().parents[2]

# The public names of graphops.datasets before it became a package (its __all__),
# plus from_arrays and load_npz (issue 9, bring your own graph) and the bottleneck
# tasks neighbors_match and ring_of_cliques_task (issue 11).
PUBLIC_NAMES = {
    "DATASET_NAMES",
    "DATA_ENV_VAR",
    "DEFAULT_URLS",
    "DownloadError",
    "GraphDataset",
    "barbell_graph",
    "csbm",
    "cycle_graph",
    "edge_homophily",
    "from_arrays",
    "grid_graph",
    "karate_club",
    "neighbors_match",
    "ring_of_cliques_task",
    "load",
    "load_npz",
    "path_graph",
    "random_geometric_graph",
    "ring_of_cliques",
    "small_world_graph",
}

# Standard-library machinery only the downloader and the pickle reader need.
HEAVY = ("urllib", "http", "pickle", "tempfile")

_PROBE = r"""
import builtins, json, sys

data = sys.argv[1]
real_import = builtins.__import__
imported = []


def spy(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__") or ""
    if importer.split(".")[0] == "graphops" and level == 0:
        imported.append([importer, name])
    return real_import(name, globals, locals, fromlist, level)


builtins.__import__ = spy


def ours():
    return sorted(m for m in sys.modules if m.startswith("graphops.datasets"))


report = {}
import graphops

report["after_import"] = {"imports": list(imported), "modules": ours()}
del imported[:]
g = graphops.datasets.path_graph(3)
report["after_path_graph"] = {
    "imports": list(imported),
    "modules": ours(),
    "edges": g.num_edges,
}
del imported[:]
if data:
    ds = graphops.datasets.load("cornell", data)
    report["after_load_cornell"] = {
        "imports": list(imported),
        "modules": ours(),
        "nodes": ds.num_nodes,
    }
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    """What a fresh interpreter imports for ``import graphops`` and first uses."""
    have_cornell = all((DATA / p).is_file() for p in relpaths("cornell"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DATA) if have_cornell else ""],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _heavy(imports: list[list[str]]) -> list[list[str]]:
    return [[who, name] for who, name in imports if name.split(".")[0] in HEAVY]


def test_import_graphops_does_not_load_datasets(probe):
    step = probe["after_import"]
    assert step["modules"] == []
    assert _heavy(step["imports"]) == []
    # The spy works: graphops' own imports were seen.
    assert any(name == "torch" for _, name in step["imports"])


def test_synthetic_graphs_do_not_load_readers_or_download(probe):
    step = probe["after_path_graph"]
    assert step["edges"] == 2
    assert step["modules"] == [
        "graphops.datasets",
        "graphops.datasets._common",
        "graphops.datasets._synthetic",
    ]
    assert _heavy(step["imports"]) == []


def test_load_imports_only_the_reader_it_needs(probe):
    if "after_load_cornell" not in probe:
        pytest.skip(f"raw files of 'cornell' not found under {DATA}")
    step = probe["after_load_cornell"]
    assert step["nodes"] == 183
    assert "graphops.datasets._geom_gcn" in step["modules"]
    assert "graphops.datasets._planetoid" not in step["modules"]
    assert "graphops.datasets._download" not in step["modules"]
    assert _heavy(step["imports"]) == []


def test_pickle_and_urllib_are_imported_only_by_their_modules():
    """The heavy imports sit in the reader and the downloader, nowhere else."""
    import ast

    found = {}
    for path in sorted((REPO / "graphops").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name.split(".")[0] in HEAVY:
                    rel = path.relative_to(REPO).as_posix()
                    found.setdefault(rel, set()).add(name.split(".")[0])
    assert found == {
        "graphops/datasets/_download.py": {"urllib", "http", "tempfile"},
        "graphops/datasets/_planetoid.py": {"pickle"},
    }


def test_public_names_unchanged():
    assert set(datasets.__all__) == PUBLIC_NAMES
    assert PUBLIC_NAMES <= set(dir(datasets))
    for name in PUBLIC_NAMES:
        assert getattr(datasets, name) is not None
    namespace: dict = {}
    exec("from graphops.datasets import *", namespace)
    assert PUBLIC_NAMES <= set(namespace)
    assert "datasets" in graphops.__all__ and graphops.datasets is datasets


def test_submodules_do_not_shadow_public_functions():
    # Loading every private module must leave `load` and `csbm` the functions.
    from graphops.datasets import _csbm, _load  # noqa: F401

    assert callable(datasets.load) and datasets.load.__name__ == "load"
    assert callable(datasets.csbm) and datasets.csbm.__name__ == "csbm"


def test_edge_homophily_is_one_function_in_three_places():
    assert datasets.edge_homophily is graphops.edge_homophily
    assert graphops.energy.edge_homophily is graphops.edge_homophily
    assert "edge_homophily" in graphops.__all__
    assert "edge_homophily" in graphops.energy.__all__


def test_unknown_attributes_raise_attribute_error():
    with pytest.raises(
        AttributeError, match=r"module 'graphops\.datasets' has no attribute 'cora'"
    ):
        datasets.cora  # noqa: B018
    with pytest.raises(
        AttributeError, match=r"module 'graphops' has no attribute 'dataset'"
    ):
        graphops.dataset  # noqa: B018
