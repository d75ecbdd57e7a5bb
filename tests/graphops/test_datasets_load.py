"""Tests for graphops.datasets.load: names, arguments, roots, counts on real data.

The readers have their own files (test_datasets_planetoid.py,
test_datasets_geom_gcn.py); download=True is tested in test_datasets_download.py.
"""

from __future__ import annotations

import pytest
import torch

from graphops.datasets import (
    DATA_ENV_VAR,
    DATASET_NAMES,
    edge_homophily,
    load,
)

from dataset_helpers import (
    UNDIRECTED_HOMOPHILY,
    assert_symmetric_simple,
    copy_dataset,
    fast_or_slow,
    load_shared,
    need_data,
)

# MANIFEST.md §2: nodes, undirected edges, features, classes.
COUNTS = {
    "cora": (2708, 5278, 1433, 7),
    "citeseer": (3327, 4552, 3703, 6),
    "chameleon": (2277, 31371, 2325, 5),
    "squirrel": (5201, 198353, 2089, 5),
    "actor": (7600, 26659, 932, 5),
    "cornell": (183, 277, 1703, 5),
    "texas": (183, 279, 1703, 5),
    "wisconsin": (251, 450, 1703, 5),
}

# ----------------------------------------------------------------------------------
# Real data: counts, names, dtype
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", fast_or_slow(COUNTS))
def test_counts_match_manifest(name):
    ds = load_shared(name)
    n, m, f, c = COUNTS[name]
    assert (ds.num_nodes, ds.num_edges, ds.num_features, ds.num_classes) == (n, m, f, c)
    assert ds.x.shape == (n, f) and ds.x.dtype == torch.float32
    assert ds.y.shape == (n,) and ds.y.dtype == torch.int64
    assert int(ds.y.min()) == 0 and int(ds.y.max()) == c - 1
    assert ds.graph.dtype == torch.float32
    assert_symmetric_simple(ds.graph)
    assert edge_homophily(ds.graph, ds.y) == pytest.approx(
        UNDIRECTED_HOMOPHILY[name], abs=1e-3
    )


def test_film_alias_and_case_insensitive_names():
    root = need_data("actor")
    a, b = load("film", root), load_shared("actor")
    assert a.name == b.name == "actor"
    assert torch.equal(a.x, b.x) and torch.equal(a.graph.edge_index, b.graph.edge_index)
    # film features are binary indicators of index lists
    assert bool(((a.x == 0) | (a.x == 1)).all()) and bool((a.x.sum(1) > 0).any())


def test_dtype_and_root_from_env(monkeypatch):
    root = need_data("cornell")
    monkeypatch.setenv(DATA_ENV_VAR, str(root))
    ds = load("cornell", dtype=torch.float64)
    assert ds.x.dtype == torch.float64 and ds.graph.dtype == torch.float64
    assert torch.equal(ds.x, load_shared("cornell").x.double())


def test_dataset_names_constant():
    assert set(DATASET_NAMES) == set(COUNTS) | {"pubmed"}


# ----------------------------------------------------------------------------------
# load(): argument errors
# ----------------------------------------------------------------------------------


def test_unknown_name_suggests(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"load: `name` must be one of .*got 'corra'\. Did you mean 'cora'\?",
    ):
        load("corra", tmp_path)
    with pytest.raises(ValueError, match=r"Did you mean 'chameleon'\?"):
        load("chamelon", tmp_path)
    with pytest.raises(ValueError, match=r"got 'ogbn-arxiv'\. Synthetic graphs"):
        load("ogbn-arxiv", tmp_path)


def test_name_must_be_str(tmp_path):
    with pytest.raises(
        TypeError, match=r"load: `name` must be a dataset name \(str\); got int 3"
    ):
        load(3, tmp_path)


def test_bad_split(tmp_path):
    with pytest.raises(
        ValueError,
        match=(
            r"load: `split` for 'chameleon' must be one of \('geom-gcn',\); got "
            r"'public'\. Pass split='geom-gcn'"
        ),
    ):
        load("chameleon", tmp_path, split="public")
    with pytest.raises(
        ValueError,
        match=(
            r"`split` for 'cora' must be one of \('public', 'geom-gcn'\); got "
            r"'random'\. Pass split='public'"
        ),
    ):
        load("cora", tmp_path, split="random")


def test_bad_dtype_download_url_root_types(tmp_path):
    with pytest.raises(
        TypeError,
        match=r"load: `dtype` must be a floating torch.dtype; got .*torch.int64",
    ):
        load("cora", tmp_path, dtype=torch.int64)
    with pytest.raises(
        TypeError, match=r"load: `download` must be True or False; got str 'yes'"
    ):
        load("cora", tmp_path, download="yes")
    with pytest.raises(
        TypeError, match=r"load: `url` must be None, a base URL string .*got list"
    ):
        load("cora", tmp_path, url=["http://x"])
    with pytest.raises(
        ValueError,
        match=(
            r"load: the keys of `url` must be sources in \('planetoid', 'geom-gcn'\); "
            r"got \['geomgcn'\]"
        ),
    ):
        load("cora", tmp_path, url={"geomgcn": "http://x"})
    with pytest.raises(
        TypeError,
        match=(
            r"load: the values of `url` must be base URL strings; got \{'planetoid': "
            r"1\}"
        ),
    ):
        load("cora", tmp_path, url={"planetoid": 1})
    with pytest.raises(
        TypeError,
        match=r"load: `root` must be a path \(str or os.PathLike\) or None; got int 5",
    ):
        load("cora", 5)


def test_no_root_and_no_env_var(monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    with pytest.raises(
        ValueError,
        match=(
            r"load: a data directory is needed; got root=None and \$GRAPHPDE_DATA "
            r"unset\. Pass root=.* or set GRAPHPDE_DATA="
        ),
    ):
        load("cora")
    monkeypatch.setenv(DATA_ENV_VAR, "")
    with pytest.raises(ValueError, match="a data directory is needed"):
        load("cora", download=True)


def test_root_does_not_exist(tmp_path, monkeypatch):
    with pytest.raises(
        FileNotFoundError,
        match=(
            r"load: `root` must be an existing directory .*got '.*nowhere', which "
            r"does not exist\. .*download=True"
        ),
    ):
        load("cora", tmp_path / "nowhere")
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(FileNotFoundError, match=r"which is not a directory"):
        load("cora", afile)
    with pytest.raises(FileNotFoundError, match=r"which is not a directory"):
        load("cora", afile, download=True)
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"typo', which does not exist"):
        load("cora")


def test_missing_files_are_listed(tmp_path):
    root = copy_dataset("cornell", tmp_path)
    (root / "geom-gcn/splits/cornell_split_0.6_0.2_7.npz").unlink()
    (root / "geom-gcn/new_data/cornell/out1_graph_edges.txt").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=(
            r"(?s)load: 'cornell' needs 12 raw files under '.*'; got 2 "
            r"missing:\n.*out1_graph_edges\.txt\n.*cornell_split_0\.6_0\.2_7\.npz\n"
            r"Pass "
            r"download=True to fetch them \(e\.g\. from "
            r"https://raw\.githubusercontent\.com/graphdml-uiuc-jlu/geom-gcn/master/new_data/cornell/out1_graph_edges\.txt\)"
        ),
    ):
        load("cornell", root)


def test_missing_split_files_for_planetoid_geom_gcn(tmp_path):
    root = copy_dataset("cora", tmp_path)  # public files only
    assert load("cora", root).num_splits == 1
    with pytest.raises(
        FileNotFoundError, match=r"'cora' needs 18 raw files .*got 10 missing"
    ):
        load("cora", root, split="geom-gcn")


def test_truncated_edge_file_fails_the_count_check(tmp_path):
    root = copy_dataset("cornell", tmp_path)
    path = root / "geom-gcn/new_data/cornell/out1_graph_edges.txt"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))
    with pytest.raises(
        ValueError,
        match=(
            r"load: 'cornell' must have 183 nodes, 277 undirected edges, 1703 "
            r"features and 5 classes \(the published counts\); got 183, \d+, 1703 and "
            r"5 .*truncated"
        ),
    ):
        load("cornell", root)
