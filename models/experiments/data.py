r"""Datasets for runs: loading by name, file or built-in generator, and preprocessing.

``dataset`` in a :class:`~models.experiments.config.RunConfig` is one of:

* a benchmark name (``cora``, ``citeseer``, ``chameleon``, ...): read from the raw
  files under ``data_root`` or ``$GRAPHPDE_DATA`` by :func:`graphops.datasets.load`;
* a path to an ``.npz`` file: :func:`graphops.datasets.load_npz` (bring your own
  graph; the accepted keys are documented there);
* ``csbm`` or ``csbm:key=value,...``: the contextual stochastic block model
  :func:`graphops.datasets.csbm` built in memory (no files), e.g.
  ``csbm:num_nodes=400,homophily=0.3``. Defaults: 600 nodes, 3 classes,
  homophily 0.8, 16 features, mean degree 6, seed 0.

Preprocessing options the papers differ on (REPRODUCTION.md §1.3):

* ``normalize_features``: rows divided by their sum (zero rows stay zero), as
  PyG's ``NormalizeFeatures`` and the authors' ``preprocess_features``;
* ``self_loops``: passed to the family's own option where it has one (GRAFF
  ``self_loops``, GRAND ``self_loop_weight``); GCN-normalised operators always
  include them (``D̃^{-1/2}(A+I)D̃^{-1/2}``) and the sheaf Laplacian never does;
* ``edges``: graphpde graphs are undirected, so every operator is self-adjoint
  and the PDE reading (energies, stability) holds. ``"directed"`` is refused with
  an explanation; presets of authors who read the Geom-GCN edge files as directed
  (PDE-GCN, GraphCON, GCNII) record that as a deviation.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from graphops.datasets import GraphDataset
from models.experiments.config import RunConfig
from models.experiments.registry import MODELS

__all__ = [
    "CSBM_DEFAULTS",
    "load_dataset",
    "model_args_with_preprocessing",
    "protocol_of",
    "run_jobs",
]

CSBM_DEFAULTS: dict[str, Any] = {
    "num_nodes": 600,
    "num_classes": 3,
    "homophily": 0.8,
    "num_features": 16,
    "mean_degree": 6.0,
    "seed": 0,
}

# Families with their own self-loop option, and how ``self_loops`` maps onto it.
_SELF_LOOP_ARGS = {
    "graff": ("self_loops", {True: True, False: False}),
    "grand-l": ("self_loop_weight", {True: 1.0, False: 0.0}),
    "grand-nl": ("self_loop_weight", {True: 1.0, False: 0.0}),
}


def _parse_csbm(where: str, text: str) -> dict[str, Any]:
    args = dict(CSBM_DEFAULTS)
    _, _, rest = text.partition(":")
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in CSBM_DEFAULTS:
            raise ValueError(
                f"{where}: `dataset` 'csbm:...' takes key=value pairs with keys "
                f"{sorted(CSBM_DEFAULTS)}; got {item!r}. Example: "
                "csbm:num_nodes=400,homophily=0.3."
            )
        cast = type(CSBM_DEFAULTS[key])
        try:
            args[key] = cast(value)
        except ValueError:
            raise ValueError(
                f"{where}: csbm `{key}` must be a {cast.__name__}; got {value!r}."
            ) from None
    return args


def load_dataset(cfg: RunConfig, *, dtype: torch.dtype | None = None) -> GraphDataset:
    """The dataset of ``cfg``, preprocessed (features row-normalised if asked).

    Raises:
        ValueError: ``edges="directed"``, a bad ``csbm:`` spec, or any error of the
            loaders (unknown name with a suggestion, missing files with the path).
    """
    import graphops.datasets as gd

    where = "load_dataset"
    if dtype is None:
        dtype = getattr(torch, cfg.dtype)
    if cfg.edges == "directed":
        raise ValueError(
            f"{where}: `edges` must be 'symmetrize'; got 'directed'. graphpde "
            "operators are built on undirected graphs, so every Laplacian is "
            "self-adjoint (the energy and stability analysis rely on it). Some "
            "authors read the Geom-GCN edge files as directed (PDE-GCN, GraphCON, "
            "GCNII); graphpde symmetrises them, a deviation recorded in those presets."
        )
    name = cfg.dataset
    if name.lower().endswith(".npz"):
        ds = gd.load_npz(name, dtype=dtype)
    elif name.lower() == "csbm" or name.lower().startswith("csbm:"):
        args = _parse_csbm(where, name)
        n, c = args.pop("num_nodes"), args.pop("num_classes")
        ds = gd.csbm(n, c, **args, dtype=dtype)
    else:
        root = cfg.data_root or os.environ.get(gd.DATA_ENV_VAR)
        ds = gd.load(name, root, split=cfg.split, dtype=dtype)
    if cfg.normalize_features:
        ds = _row_normalise(ds)
    return ds


def _row_normalise(ds: GraphDataset) -> GraphDataset:
    import dataclasses

    s = ds.x.sum(1, keepdim=True)
    x = torch.where(s != 0, ds.x / torch.where(s != 0, s, torch.ones_like(s)), ds.x)
    return dataclasses.replace(ds, x=x)


def model_args_with_preprocessing(cfg: RunConfig) -> dict[str, Any]:
    """``cfg.model_args`` with the ``self_loops`` option mapped onto the family.

    Raises:
        ValueError: ``self_loops`` set for a family whose operator fixes them.
    """
    args = dict(cfg.model_args)
    if cfg.self_loops is None:
        return args
    spec = MODELS[cfg.model]
    if spec.name not in _SELF_LOOP_ARGS:
        raise ValueError(
            f"RunConfig: `self_loops` applies to models with a self-loop option "
            f"({', '.join(sorted(_SELF_LOOP_ARGS))}); got self_loops="
            f"{cfg.self_loops} for {cfg.model!r}, whose operator fixes them (GCN "
            "normalisation always adds them; the sheaf Laplacian never does). "
            "Leave it unset."
        )
    key, values = _SELF_LOOP_ARGS[spec.name]
    args[key] = values[bool(cfg.self_loops)]
    return args


def protocol_of(cfg: RunConfig, ds: GraphDataset) -> tuple[str, str]:
    """``(protocol name, one-paragraph statement)`` of a run on ``ds``.

    The statement is written into every summary: which splits, how many runs,
    how the reported epoch is selected, and which standard deviation.
    """
    splits = _split_ids(cfg, ds)
    runs = len(splits) * cfg.seeds
    if ds.num_splits == 1 and ds.name in ("cora", "citeseer", "pubmed"):
        name = "planetoid-public"
        what = (
            f"Planetoid public split ({int(ds.train_mask.sum())} train / "
            f"{int(ds.val_mask.sum())} val / {int(ds.test_mask.sum())} test nodes) "
            f"over {cfg.seeds} seeds"
        )
    elif cfg.dataset.lower().endswith(".npz"):
        name = "file-splits"
        what = f"the {ds.num_splits} split(s) of {cfg.dataset}, using {len(splits)}"
    elif ds.num_splits > 1:
        name = "geom-gcn-10"
        what = (
            f"Geom-GCN splits {splits} (files named 0.6/0.2 but holding about "
            f"48/32/20% train/val/test), {cfg.seeds} seed(s) each"
        )
    else:
        name = "single"
        what = f"one split, {cfg.seeds} seed(s)"
    metric = "accuracy" if cfg.select == "val_acc" else "loss"
    stop = (
        f"early stopping after {cfg.patience} epochs without improvement"
        if cfg.patience
        else "no early stopping"
    )
    text = (
        f"{what}: {runs} run(s). Each run trains for at most {cfg.epochs} epochs "
        f"({stop}); the reported test accuracy is the one at the epoch of best "
        f"validation {metric} (model selection on validation only). Mean +- "
        f"{cfg.std} standard deviation over runs."
    )
    if cfg.report_test_max:
        text += (
            " 'test max' is the maximum test accuracy over epochs, what some "
            "authors' drivers reported; it is test-selected and shown only for "
            "comparison."
        )
    return name, text


def run_jobs(cfg: RunConfig, ds: GraphDataset) -> list[tuple[int, int, int]]:
    """The runs of the protocol: ``(split, k, seed)`` for every split and seed.

    Run ``k`` of split ``i`` uses ``seed = cfg.seed + 1000 * i + k``.
    """
    return [
        (s, k, cfg.seed + 1000 * s + k)
        for s in _split_ids(cfg, ds)
        for k in range(cfg.seeds)
    ]


def _split_ids(cfg: RunConfig, ds: GraphDataset) -> list[int]:
    if cfg.splits is None:
        return list(range(ds.num_splits))
    bad = [s for s in cfg.splits if s >= ds.num_splits]
    if bad:
        raise ValueError(
            f"RunConfig: `splits` must be indices in [0, {ds.num_splits}) for "
            f"{ds.name!r}; got {bad}."
        )
    return list(cfg.splits)
