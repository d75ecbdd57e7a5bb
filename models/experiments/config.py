r"""The resolved configuration of a run (:class:`RunConfig`) and the shipped presets.

A run is fully described by one :class:`RunConfig`: the model and its
``from_config`` arguments, the dataset and its preprocessing, the protocol (which
splits, how many seeds), the integration (solver, step, depth), and the training
(optimiser, epochs, early stopping, model selection). It is written to every run
folder as ``config.json`` and read back by ``--resume`` and by the solver sweep.

Presets ship in ``models/presets/<name>.json``, one file per model x dataset. A
preset file holds the :class:`RunConfig` fields it sets plus three documentary
keys:

* ``provenance`` - for each value, its evidence tag and source in
  ``shared/REPRODUCTION.md`` (V1 primary source, V2 secondary, NF not found);
* ``published`` - the paper's number for this model and dataset (``value``,
  ``std``, ``source``), or null;
* ``deviations`` - where this preset knowingly differs from the authors' code.

Command-line flags override preset values (:func:`merge`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from graphops._checks import describe
from models.experiments.registry import MODELS, OPTIMIZERS, SOLVER_NAMES, resolve

__all__ = [
    "PROTOCOLS",
    "RunConfig",
    "list_presets",
    "load_preset",
    "merge",
]

#: ``select`` values: the validation metric that picks the reported epoch.
SELECT = ("val_acc", "val_loss")
#: ``std`` values: population (``np.std``, what the papers report) or sample.
STD = ("population", "sample")
#: ``edges`` values. ``"directed"`` is refused: graphpde operators are self-adjoint
#: (see :func:`models.experiments.data.prepare`).
EDGES = ("symmetrize", "directed")
#: Protocol names, stated in every summary (see :mod:`models.experiments.protocol`).
PROTOCOLS = ("planetoid-public", "geom-gcn-10", "file-splits", "single")


@dataclass
class RunConfig:
    """Everything that determines a run; JSON-serialisable.

    Attributes:
        model: A name of :data:`~models.experiments.registry.MODELS`.
        dataset: A dataset name (``graphops.datasets.load``), a built-in
            generator spec (``"csbm"``, ``"neighborsmatch:depth=4"``,
            ``"ringcliques:distance=3"``; no files, see
            :mod:`models.experiments.data`) or a path to an ``.npz`` file.
        name: A label for the run (the preset name, if any).
        model_args: Keyword arguments of the family's ``from_config``.
        data_root: Directory of the raw files (``None``: ``$GRAPHPDE_DATA``).
        split: ``"public"`` or ``"geom-gcn"`` (``None``: the dataset's standard).
        splits: Which splits of a multi-split dataset to run (``None``: all).
        seeds: Runs (initialisations) per split.
        seed: Base seed; run ``k`` of split ``i`` uses ``seed + 1000 * i + k``.
        self_loops: Override the family's self-loop option where it has one
            (GRAFF ``self_loops``, GRAND ``self_loop_weight``); ``None``: keep.
        normalize_features: Row-normalise the features (rows sum to 1).
        edges: ``"symmetrize"`` (the only supported value; see ``EDGES``).
        solver: Integrator name (``None``: the family's own).
        dt: Step size (``None``: the family's own).
        layers: Number of steps (``None``: the family's own).
        rtol: Relative tolerance of an adaptive solver set by ``solver``.
        atol: Absolute tolerance of an adaptive solver set by ``solver``.
        optimizer: A name of :data:`~models.experiments.registry.OPTIMIZERS`.
        lr: Learning rate.
        weight_decay: Weight decay (L2, as in the authors' Adam).
        param_groups: The family's extra group settings (e.g. PDE-GCN ``lr_K``).
        scheduler: Learning-rate schedule, stepped once per epoch: ``None``
            (constant, what every paper config here uses), ``{"kind": "step",
            "step_size": k, "gamma": g}`` or ``{"kind": "cosine"}`` (to 0 at
            ``epochs``).
        epochs: Maximum number of epochs (optimiser steps).
        patience: Stop after this many epochs without improvement of ``select``
            (``None``: run all epochs).
        select: The validation metric that picks the reported epoch.
        report_test_max: Also report the maximum test accuracy over epochs (what
            PDE-GCN's drivers selected on), labelled, never as the headline.
        std: ``"population"`` or ``"sample"`` standard deviation in the summary.
        grad_checkpoint: Train with :class:`solvers.Checkpoint` (memory ~ sqrt(L)).
        allow_unstable: Train with a ``dt`` outside the stable range at
            initialisation instead of failing fast.
        checkpoint_every: Write the resumable checkpoint every this many epochs.
        dtype: ``"float32"`` or ``"float64"``.
        device: Torch device string.
        description: Free text.
        provenance: Evidence tag and source of each value (presets).
        published: The published number ``{"value", "std", "source"}`` or None.
        deviations: Known differences from the authors' code.
    """

    model: str
    dataset: str
    name: str = ""
    model_args: dict[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    split: str | None = None
    splits: list[int] | None = None
    seeds: int = 1
    seed: int = 0
    self_loops: bool | None = None
    normalize_features: bool = False
    edges: str = "symmetrize"
    solver: str | None = None
    dt: float | None = None
    layers: int | None = None
    rtol: float = 1e-3
    atol: float = 1e-6
    optimizer: str = "adam"
    lr: float = 0.01
    weight_decay: float = 5e-4
    param_groups: dict[str, Any] = field(default_factory=dict)
    scheduler: dict[str, Any] | None = None
    epochs: int = 200
    patience: int | None = None
    select: str = "val_acc"
    report_test_max: bool = False
    std: str = "population"
    grad_checkpoint: bool = False
    allow_unstable: bool = False
    checkpoint_every: int = 10
    dtype: str = "float32"
    device: str = "cpu"
    description: str = ""
    provenance: dict[str, str] = field(default_factory=dict)
    published: dict[str, Any] | None = None
    deviations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Canonicalise names and check every value (clear errors, no surprises)."""
        where = "RunConfig"
        self.model = resolve(where, "model", self.model, MODELS)
        self.optimizer = resolve(where, "optimizer", self.optimizer, OPTIMIZERS)
        if self.solver is not None:
            self.solver = resolve(where, "solver", self.solver, SOLVER_NAMES)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise TypeError(
                f"{where}: `dataset` must be a dataset name or a path to an .npz "
                f"file; got {describe(self.dataset)}."
            )
        if not isinstance(self.model_args, dict):
            raise TypeError(
                f"{where}: `model_args` must be a dict of from_config arguments; got "
                f"{describe(self.model_args)}."
            )
        _choice(where, "select", self.select, SELECT)
        _choice(where, "std", self.std, STD)
        _choice(where, "edges", self.edges, EDGES)
        _choice(where, "dtype", self.dtype, ("float32", "float64"))
        _positive_int(where, "seeds", self.seeds)
        _positive_int(where, "epochs", self.epochs)
        _positive_int(where, "checkpoint_every", self.checkpoint_every)
        if self.patience is not None:
            _positive_int(where, "patience", self.patience)
        if self.layers is not None:
            _positive_int(where, "layers", self.layers)
        for key in ("lr", "dt", "rtol", "atol"):
            value = getattr(self, key)
            if value is None and key == "dt":
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not value > 0
            ):
                raise ValueError(
                    f"{where}: `{key}` must be a positive number; got {value!r}."
                )
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, int | float) or wd < 0:
            raise ValueError(
                f"{where}: `weight_decay` must be a number >= 0; got {wd!r}."
            )
        _check_scheduler(where, self.scheduler)
        if self.splits is not None:
            if not isinstance(self.splits, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0
                for s in self.splits
            ):
                raise ValueError(
                    f"{where}: `splits` must be a list of split indices >= 0; got "
                    f"{self.splits!r}. Pass e.g. --splits 0,1,2."
                )

    #: Fields that document a run without changing its result.
    DOCUMENTARY = ("name", "description", "provenance", "published", "deviations")

    def run_fields(self) -> dict[str, Any]:
        """The fields that determine the result (all but :attr:`DOCUMENTARY`).

        Resuming compares these: a preset whose provenance text was corrected
        still resumes (and reuses) the runs made with it.
        """
        return {k: v for k, v in self.to_dict().items() if k not in self.DOCUMENTARY}

    # -- JSON ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "RunConfig") -> RunConfig:
        """Build from a dict (a preset or a run's ``config.json``).

        Raises:
            ValueError: an unknown key (with a suggestion) or a missing
                ``model``/``dataset``.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                resolve(where, "config key", key, names)
        for key in ("model", "dataset"):
            if key not in data:
                raise ValueError(
                    f"{where}: `{key}` is required; got keys {sorted(data)}. Pass "
                    f"--{key} or use a preset."
                )
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write ``config.json`` (atomically: temporary file, then rename)."""
        from models.experiments.runfolder import write_json

        write_json(path, self.to_dict())


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied (``None`` overrides are ignored).

    ``model_args`` and ``param_groups`` are merged key by key.
    """
    out = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("model_args", "param_groups") and isinstance(value, dict):
            out[key] = {**out.get(key, {}), **value}
        else:
            out[key] = value
    return out


def _preset_dir() -> Any:
    return resources.files("models") / "presets"


def list_presets() -> list[str]:
    """The names of the shipped presets (``models/presets/*.json``), sorted."""
    return sorted(
        p.name[: -len(".json")]
        for p in _preset_dir().iterdir()
        if p.name.endswith(".json")
    )


def load_preset(name: str | Path) -> dict[str, Any]:
    """A shipped preset by name, or a preset file by path, as a dict.

    Raises:
        ValueError: unknown preset name (with a suggestion).
        FileNotFoundError: a path that does not exist.
    """
    where = "load_preset"
    if isinstance(name, Path) or str(name).endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise FileNotFoundError(
                f"{where}: preset file {str(path)!r} does not exist. Pass a shipped "
                f"preset name ({', '.join(list_presets()[:4])}, ...) or a path."
            )
        text = path.read_text()
    else:
        name = resolve(where, "preset", name, list_presets())
        text = (_preset_dir() / f"{name}.json").read_text()
    data = json.loads(text)
    data.setdefault("name", Path(str(name)).stem)
    return data


def _check_scheduler(where: str, value: Any) -> None:
    if value is None:
        return
    ok = isinstance(value, dict) and (
        value == {"kind": "cosine"}
        or (
            value.get("kind") == "step"
            and set(value) == {"kind", "step_size", "gamma"}
            and isinstance(value["step_size"], int)
            and value["step_size"] > 0
            and isinstance(value["gamma"], int | float)
            and 0 < value["gamma"] <= 1
        )
    )
    if not ok:
        raise ValueError(
            f"{where}: `scheduler` must be None, {{'kind': 'cosine'}} or {{'kind': "
            f"'step', 'step_size': k > 0, 'gamma': g in (0, 1]}}; got {value!r}."
        )


def _choice(where: str, key: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ValueError(f"{where}: `{key}` must be one of {options}; got {value!r}.")


def _positive_int(where: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: `{key}` must be a positive int; got {value!r}.")
