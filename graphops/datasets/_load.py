"""``load``: resolve a benchmark name, find (or fetch) its raw files, read them.

The readers (:mod:`._planetoid`, :mod:`._geom_gcn`) and the downloader
(:mod:`._download`) are imported inside :func:`load`, when they are used.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphops._checks import describe
from graphops.datasets._common import graph_from_pairs
from graphops.datasets._dataset import GraphDataset
from graphops.datasets._registry import (
    ALIASES,
    DATA_ENV_VAR,
    DATASET_NAMES,
    DEFAULT_URLS,
    SPECS,
    RawFile,
    Spec,
    required_files,
)

__all__ = ["load"]


def load(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    split: str | None = None,
    download: bool = False,
    dtype: torch.dtype = torch.float32,
    url: str | Mapping[str, str] | None = None,
) -> GraphDataset:
    r"""Load a node-classification benchmark from its raw files.

    **Planetoid** (``"cora"``, ``"citeseer"``, ``"pubmed"``) follows the standard
    Kipf & Welling / PyG reconstruction of the ``ind.<name>.*`` pickles: the features
    are ``allx`` followed by ``tx``, the test rows are put back at the node ids of
    ``test.index``, and CiteSeer's 15 isolated test nodes (gaps in ``test.index``)
    get all-zero features and label 0 and belong to no mask (3327 nodes). Features
    are the raw bag-of-words values, not row-normalised. ``split="public"`` (the
    default) is the Planetoid split: train = the 20 labelled nodes per class (the
    rows of ``x``), val = the next 500 nodes, test = the 1000 nodes of
    ``test.index``; the masks have shape ``[N]``.

    **Geom-GCN** (``"chameleon"``, ``"squirrel"``, ``"actor"`` (alias ``"film"``),
    ``"cornell"``, ``"texas"``, ``"wisconsin"``) reads ``out1_graph_edges.txt`` and
    ``out1_node_feature_label.txt``; the only split is ``split="geom-gcn"``: the 10
    published random splits, masks of shape ``[N, 10]``. ``split="geom-gcn"`` also
    works for the Planetoid sets (Planetoid graph and features, Geom-GCN split files).

    The split files are named ``*_split_0.6_0.2_*`` but hold about **48% / 32% /
    20%** train / val / test, not 60 / 20 / 20 (Cornell: 87 / 59 / 37 of 183
    nodes; Chameleon: 1092 / 729 / 456 of 2277). On the heterophilic sets and PubMed
    every split file covers all nodes; for Cora the files cover only 2485 of the 2708
    nodes, and CiteSeer's files 4 and 5 cover only 2120 of the 3327 nodes (1017 / 679
    / 424; the other eight cover all of them). Uncovered nodes are in no mask.

    The Geom-GCN edge files are read as undirected: one-way pairs are symmetrised,
    duplicates merged and self-loops dropped, so ``num_edges`` counts unique
    undirected edges (Chameleon 31371, not the 36101 directed pairs PyG keeps).
    Cornell and Texas share one upstream feature/label file (an upstream quirk, see
    ``shared/data/MANIFEST.md``); they differ only in their edges.

    Every loaded dataset is checked against its published node, edge, feature and
    class counts, so a truncated file is reported instead of returned.

    Args:
        name: Dataset name, case-insensitive; one of :data:`DATASET_NAMES` or
            ``"film"``.
        root: Directory holding the raw files in the layout described in
            :mod:`graphops.datasets`. ``None`` reads the ``GRAPHPDE_DATA``
            environment variable; there is no default directory.
        split: ``"public"`` (Planetoid only) or ``"geom-gcn"``; ``None`` is the
            dataset's standard split (``"public"`` for Planetoid, ``"geom-gcn"``
            otherwise).
        download: If True, fetch the *missing* raw files into ``root`` (created if
            needed) before reading. Files already present are never re-fetched.
            Without it, nothing touches the network.
        dtype: Floating dtype of the features and of the edge weights.
        url: Where ``download=True`` fetches from. ``None`` uses
            :data:`DEFAULT_URLS` (the upstream repositories). A mapping overrides
            some of those per-source bases (keys ``"planetoid"``, ``"geom-gcn"``;
            upstream layout). A string is the base address of a **mirror laid out
            like root**, e.g. ``"http://host/data"`` serving
            ``http://host/data/Planetoid/Cora/raw/ind.cora.x``.

    Returns:
        The :class:`GraphDataset` (on CPU).

    Raises:
        ValueError: unknown ``name`` (with a suggestion) or ``split``, no ``root``
            and no ``GRAPHPDE_DATA``, or a raw file that is corrupt, truncated or
            inconsistent with the others.
        TypeError: an argument has the wrong type.
        FileNotFoundError: ``root`` does not exist, or raw files are missing and
            ``download`` is False (for PubMed this includes the known gap
            ``ind.pubmed.allx``).
        DownloadError: with ``download=True``, a file could not be fetched.

    Example:
        >>> ds = load("cora", root="shared/data")        # doctest: +SKIP
        >>> train, val, test = ds.split(0)               # doctest: +SKIP
        >>> ds = load("chameleon")  # root from $GRAPHPDE_DATA   # doctest: +SKIP
        >>> [ds.split(i) for i in range(ds.num_splits)]  # 10 splits  # doctest: +SKIP

    References:
        Yang, Cohen & Salakhutdinov (2016); Kipf & Welling (2017); Pei et al. (2020).
    """
    where = "load"
    spec = _resolve_name(name)
    split = _resolve_split(spec, split)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{where}: `dtype` must be a floating torch.dtype; got {describe(dtype)}. "
            "Pass e.g. dtype=torch.float32."
        )
    if not isinstance(download, bool):
        raise TypeError(
            f"{where}: `download` must be True or False; got {describe(download)}."
        )
    _check_url(url)
    root_path = _resolve_root(root)
    files = required_files(spec, split)
    is_file = root_path.exists() and not root_path.is_dir()
    if is_file or (not root_path.exists() and not download):
        raise FileNotFoundError(
            f"{where}: `root` must be an existing directory holding the raw files "
            f"(Planetoid/..., geom-gcn/...); got '{root_path}', which "
            f"{'is not a directory' if is_file else 'does not exist'}. "
            f"Fix the path (root= or ${DATA_ENV_VAR}), or pass download=True to "
            "create it and fetch the files."
        )
    missing = [f for f in files if not (root_path / f.relpath).is_file()]
    if missing:
        if not download:
            raise _missing_files_error(spec, root_path, files, missing, url)
        from graphops.datasets._download import download_file

        for f in missing:
            download_file(_url_for(f, url), root_path / f.relpath)

    def path(f: RawFile) -> Path:
        return root_path / f.relpath

    # The readers are imported here, when used, so `import graphops` stays light.
    if spec.source == "planetoid":
        from graphops.datasets._planetoid import read_planetoid

        raw = {f.planetoid_ext: path(f) for f in files if f.source == "planetoid"}
        x, y, pairs, num_classes, masks = read_planetoid(spec, raw)
    else:
        from graphops.datasets._geom_gcn import read_geom_gcn_edges, read_geom_gcn_nodes

        edge_file, node_file = (path(f) for f in files[:2])
        x, y = read_geom_gcn_nodes(node_file, film=spec.stem == "film")
        pairs = read_geom_gcn_edges(
            edge_file, num_nodes=x.shape[0], node_file=node_file
        )
        num_classes = int(y.max()) + 1
    n = x.shape[0]
    if split == "geom-gcn":
        from graphops.datasets._geom_gcn import read_geom_gcn_splits

        split_files = [path(f) for f in files if f.is_geom_gcn_split]
        masks = read_geom_gcn_splits(split_files, n)

    graph = graph_from_pairs(pairs, n).to(dtype=dtype)
    got = (n, graph.num_edges, x.shape[1], num_classes)
    expected = (spec.num_nodes, spec.num_edges, spec.num_features, spec.num_classes)
    if got != expected:
        data_dir = root_path / Path(files[0].relpath).parent
        raise ValueError(
            f"{where}: '{spec.name}' must have {expected[0]} nodes, {expected[1]} "
            f"undirected edges, {expected[2]} features and {expected[3]} classes (the "
            f"published counts); got {got[0]}, {got[1]}, {got[2]} and {got[3]} from "
            f"the files under '{data_dir}'. A raw file is probably truncated or from "
            "another "
            "release; delete the files and re-run with download=True."
        )
    return GraphDataset(
        name=spec.name,
        graph=graph,
        x=torch.from_numpy(np.ascontiguousarray(x)).to(dtype),
        y=torch.from_numpy(y.astype(np.int64)),
        train_mask=torch.from_numpy(masks[0]),
        val_mask=torch.from_numpy(masks[1]),
        test_mask=torch.from_numpy(masks[2]),
        num_classes=num_classes,
    )


def _resolve_name(name: Any) -> Spec:
    if not isinstance(name, str):
        raise TypeError(
            f"load: `name` must be a dataset name (str); got {describe(name)}. "
            f"Pass one of {', '.join(DATASET_NAMES)}."
        )
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key in SPECS:
        return SPECS[key]
    choices = [*DATASET_NAMES, *ALIASES]
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    raise ValueError(
        f"load: `name` must be one of {', '.join(DATASET_NAMES)} (or 'film'); got "
        f"{name!r}. {hint}Synthetic graphs (csbm, grid_graph, ...) are functions of "
        "graphops.datasets, not load() names."
    )


def _resolve_split(spec: Spec, split: Any) -> str:
    if split is None:
        return spec.splits[0]
    if split not in spec.splits:
        hint = (
            "Pass split='geom-gcn' (the 10 Geom-GCN splits) or leave it unset."
            if spec.source == "geom-gcn"
            else "Pass split='public' (the Planetoid split) or split='geom-gcn'."
        )
        raise ValueError(
            f"load: `split` for '{spec.name}' must be one of {spec.splits}; got "
            f"{split!r}. {hint}"
        )
    return str(split)


def _resolve_root(root: str | os.PathLike[str] | None) -> Path:
    if root is None:
        env = os.environ.get(DATA_ENV_VAR, "")
        if not env:
            raise ValueError(
                f"load: a data directory is needed; got root=None and ${DATA_ENV_VAR} "
                f"unset. Pass root='/path/to/data' or set {DATA_ENV_VAR}=/path/to/data "
                "(the directory holding Planetoid/ and geom-gcn/); there is no default "
                "location and nothing is downloaded without download=True."
            )
        return Path(env).expanduser()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(
            f"load: `root` must be a path (str or os.PathLike) or None; got "
            f"{describe(root)}. Pass root='/path/to/data'."
        )
    return Path(root).expanduser()


def _check_url(url: Any) -> None:
    if url is None or isinstance(url, str):
        return
    if not isinstance(url, Mapping):
        raise TypeError(
            "load: `url` must be None, a base URL string (a mirror laid out like "
            "root) "
            f"or a mapping {{source: base URL}}; got {describe(url)}."
        )
    unknown = [k for k in url if k not in DEFAULT_URLS]
    if unknown:
        raise ValueError(
            f"load: the keys of `url` must be sources in {tuple(DEFAULT_URLS)}; got "
            f"{unknown!r}. Pass e.g. url={{'geom-gcn': 'http://mirror/geom-gcn'}}."
        )
    bad = {k: v for k, v in url.items() if not isinstance(v, str)}
    if bad:
        raise TypeError(
            f"load: the values of `url` must be base URL strings; got {bad!r}."
        )


def _url_for(f: RawFile, url: str | Mapping[str, str] | None) -> str:
    if isinstance(url, str):
        return f"{url.rstrip('/')}/{f.relpath}"
    bases = dict(DEFAULT_URLS)
    if url is not None:
        bases.update(url)
    return f"{bases[f.source].rstrip('/')}/{f.upstream}"


def _missing_files_error(
    spec: Spec,
    root: Path,
    files: list[RawFile],
    missing: list[RawFile],
    url: str | Mapping[str, str] | None,
) -> FileNotFoundError:
    listing = "\n".join(f"  {root / f.relpath}" for f in missing)
    pubmed_allx = next((f for f in missing if f.upstream == "ind.pubmed.allx"), None)
    if pubmed_allx is not None:
        others = [f for f in missing if f is not pubmed_allx]
        also = (
            f" {len(others)} other file(s) are missing too:\n"
            + "\n".join(f"  {root / f.relpath}" for f in others)
            + "\n"
            if others
            else " "
        )
        return FileNotFoundError(
            f"load: PubMed needs ind.pubmed.allx (the 18717 x 500 features of the "
            f"non-test nodes); got no such file: '{root / pubmed_allx.relpath}' is "
            "missing. PubMed cannot be built without it; this is a known gap of "
            "offline copies of the Planetoid data, which often hold every other "
            f"ind.pubmed.* file.{also}Pass download=True to fetch it from "
            f"{_url_for(pubmed_allx, url)}, or copy the file into "
            f"'{(root / pubmed_allx.relpath).parent}'."
        )
    source_hint = url if isinstance(url, str) else _url_for(missing[0], url)
    return FileNotFoundError(
        f"load: '{spec.name}' needs {len(files)} raw files under '{root}'; got "
        f"{len(missing)} missing:\n{listing}\nPass download=True to fetch them (e.g. "
        f"from {source_hint}), or point root= (or ${DATA_ENV_VAR}) at a directory "
        "laid out as Planetoid/<Name>/raw/ and geom-gcn/{new_data,splits}/."
    )
