r"""Datasets for runs: loading by name, file or built-in generator, and preprocessing.

``dataset`` in a :class:`~models.experiments.config.RunConfig` is one of:

* a benchmark name (``cora``, ``citeseer``, ``chameleon``, ...): read from the raw
  files under ``data_root`` or ``$GRAPHPDE_DATA`` by :func:`graphops.datasets.load`;
* a path to an ``.npz`` file: :func:`graphops.datasets.load_npz` (bring your own
  graph; the accepted keys are documented there);
* a built-in generator, ``name`` or ``name:key=value,...`` (built in memory, no
  files; keys and defaults in :data:`BUILTIN_DATASETS`, ``true``/``false`` for
  booleans):

  - ``csbm``: the contextual stochastic block model :func:`graphops.datasets.csbm`,
    e.g. ``csbm:num_nodes=400,homophily=0.3``. Defaults: 600 nodes, 3 classes,
    homophily 0.8, 16 features, mean degree 6, seed 0.
  - ``neighborsmatch``: Alon & Yahav's tree NeighborsMatch
    :func:`graphops.datasets.neighbors_match`, e.g.
    ``neighborsmatch:depth=4,num_instances=2000``. Defaults: depth 3, 1000
    trees, seed 0. Masks hold the roots only; the paper's measure is the
    *training* accuracy (``train_acc`` in ``metrics.json``).
  - ``ringcliques``: a label carried across a ring of cliques,
    :func:`graphops.datasets.ring_of_cliques_task`, e.g.
    ``ringcliques:num_cliques=8,distance=4``. Defaults: 6 cliques of 5 nodes,
    distance 3 cliques (7 hops), 5 classes, 200 rings, distractors on, seed 0.

  Each of them has a single split (protocol ``single``).

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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from graphops.datasets import GraphDataset
from models.experiments.config import RunConfig
from models.experiments.registry import MODELS

__all__ = [
    "BUILTIN_DATASETS",
    "CSBM_DEFAULTS",
    "BuiltinDataset",
    "is_builtin_dataset",
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


@dataclass(frozen=True)
class BuiltinDataset:
    """A generator usable as ``name:key=value,...`` in ``dataset``.

    Attributes:
        build: ``build(args, dtype) -> GraphDataset`` from the parsed keys.
        defaults: Every accepted key with its default (its type casts the text).
        example: A spec shown in error messages.
    """

    build: Callable[[dict[str, Any], torch.dtype], GraphDataset]
    defaults: dict[str, Any]
    example: str


def _build_csbm(args: dict[str, Any], dtype: torch.dtype) -> GraphDataset:
    import graphops.datasets as gd

    args = dict(args)
    n, c = args.pop("num_nodes"), args.pop("num_classes")
    return gd.csbm(n, c, **args, dtype=dtype)


def _build_neighborsmatch(args: dict[str, Any], dtype: torch.dtype) -> GraphDataset:
    import graphops.datasets as gd

    return gd.neighbors_match(**args, dtype=dtype)


def _build_ringcliques(args: dict[str, Any], dtype: torch.dtype) -> GraphDataset:
    import graphops.datasets as gd

    return gd.ring_of_cliques_task(**args, dtype=dtype)


#: Built-in generators by spec name (see the module docstring).
BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "csbm": BuiltinDataset(
        _build_csbm, CSBM_DEFAULTS, "csbm:num_nodes=400,homophily=0.3"
    ),
    "neighborsmatch": BuiltinDataset(
        _build_neighborsmatch,
        {"depth": 3, "num_instances": 1000, "seed": 0},
        "neighborsmatch:depth=4,num_instances=2000",
    ),
    "ringcliques": BuiltinDataset(
        _build_ringcliques,
        {
            "num_cliques": 6,
            "clique_size": 5,
            "distance": 3,
            "num_classes": 5,
            "num_instances": 200,
            "distractors": True,
            "seed": 0,
        },
        "ringcliques:num_cliques=8,distance=4",
    ),
}


def is_builtin_dataset(name: str) -> bool:
    """Whether ``name`` is a built-in generator spec (``name`` or ``name:...``)."""
    return name.partition(":")[0].strip().lower() in BUILTIN_DATASETS


def _cast(where: str, name: str, key: str, default: Any, value: str) -> Any:
    text = value.strip()
    if isinstance(default, bool):
        low = text.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(
            f"{where}: {name} `{key}` must be true or false; got {value!r}."
        )
    cast = type(default)
    try:
        return cast(text)
    except ValueError:
        raise ValueError(
            f"{where}: {name} `{key}` must be a {cast.__name__}; got {value!r}."
        ) from None


def _parse_builtin(where: str, text: str) -> tuple[BuiltinDataset, dict[str, Any]]:
    """The generator of spec ``text`` and its arguments (defaults filled in)."""
    head, _, rest = text.partition(":")
    name = head.strip().lower()
    spec = BUILTIN_DATASETS[name]
    args = dict(spec.defaults)
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in spec.defaults:
            raise ValueError(
                f"{where}: `dataset` '{name}:...' takes key=value pairs with keys "
                f"{sorted(spec.defaults)}; got {item!r}. Example: {spec.example}."
            )
        args[key] = _cast(where, name, key, spec.defaults[key], value)
    return spec, args



def load_dataset(cfg: RunConfig, *, dtype: torch.dtype | None = None) -> GraphDataset:
    """The dataset of ``cfg``, preprocessed (features row-normalised if asked).

    Raises:
        ValueError: ``edges="directed"``, a bad built-in spec (``csbm:``,
            ``neighborsmatch:``, ``ringcliques:``), or any error of the loaders or
            generators (unknown name with a suggestion, missing files with the
            path, an argument out of range).
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
    elif is_builtin_dataset(name):
        spec, args = _parse_builtin(where, name)
        ds = spec.build(args, dtype)
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
