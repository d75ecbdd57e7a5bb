r"""``graphpde tune``: validation-only hyperparameter search (optuna) saved as a preset.

Where the authors released no tuned values (REPRODUCTION.md lists them as NF),
``tune`` searches a space of hyperparameters with optuna's TPE sampler and writes
the best configuration as a preset file that ``graphpde train --preset FILE``
loads. optuna is an optional dependency: ``pip install 'graphpde[tune]'``.

**Validation only, by construction.** Every trial trains on a copy of the dataset
whose test mask is all False, so no test accuracy can be computed during the
search (it is NaN in the trial run folders), and the objective is the mean
validation accuracy, at the epoch selected by ``select``, over the runs of the
protocol (every split of ``splits`` x ``seeds`` seeds, the same seeds in every
trial). The test nodes are used once, afterwards, by ``graphpde train --preset``.

**Search spaces** (``--space``): a built-in name or a JSON file.

* ``pde-gcn`` - ``optuna_fully_supervised.py`` of PDE-GCN (Aug 2021), REPRODUCTION.md
  §2.6: h, dropout, lr, lr(K_l), weight decay, layers (and lr_alpha for PDE-GCN_M);
* ``grand`` - GRAND's ICML-time ``ray_tune.py``, Cora row, REPRODUCTION.md §3.3;
* ``nsd`` - NSD's ``orth_webkb_sweep.yml``, REPRODUCTION.md §5.4;
* ``generic`` - lr, weight decay, dropout and hidden width, for any model.

Without ``--space`` the model's family picks its own (``generic`` where none).
A space file is JSON::

    {
      "name": "my-space",
      "provenance": "where the ranges come from",
      "fixed": {"epochs": 300, "model_args.hidden": 64},
      "params": {
        "lr": {"type": "float", "low": 1e-3, "high": 0.1, "log": true},
        "dt": {"type": "float", "low": 0.1, "high": 3.0, "step": 0.1},
        "layers": {"type": "int", "low": 2, "high": 64},
        "model_args.dropout": {"type": "categorical", "choices": [0.5, 0.6]},
        "param_groups.lr_alpha": {"type": "float", "low": 1e-6, "high": 1e-3,
                                  "log": true, "models": ["pde-gcn-m"]}
      }
    }

A parameter name is a run option (:data:`TUNABLE`: ``lr``, ``weight_decay``,
``layers``, ``dt``, ``solver``, ...), ``model_args.<argument of the model's
from_config>`` or ``param_groups.<group key of the family>``; ``models``
restricts a parameter to some models. Precedence: preset < the space's
``fixed`` < command-line flags < sampled values, except that a parameter given by
a flag (``--lr 0.01``, ``--layers 16``, ``--set dropout=0.5``) is *not searched*:
the flag fixes it.

**Budget**: ``--trials N`` and ``--minutes M``, whichever comes first. The
minute budget is optuna's ``timeout``: it is checked before each trial starts, so
a trial that has started finishes. Trials are not pruned: each runs its epochs
(or stops by ``patience``), as ``graphpde train`` would. A trial whose step is
unstable at initialisation (``--allow-unstable`` overrides the check), whose
solver gives up, or whose training diverges before its first epoch is recorded as
failed (with the reason) and the search goes on.

**Outputs** (``--study-dir``, default ``runs/tune-<model>-<dataset>-<time>``)::

    study.json      the space, the base configuration, the budget, the status
                    and the best trial (rewritten after every trial)
    trials.json     one record per trial: number, state, validation accuracy,
                    parameters, duration, runs, error (rewritten after every trial)
    trials.csv      the same as a table
    trials/trial-<n>/config.json, split<i>-seed<k>/   each trial's run folders
                    (metrics.json, result.json; the weights are not kept)
    best.json       the best configuration as a preset (or --out-preset)

An interrupted search (Ctrl-C) still writes the tables and the best preset of
the trials that finished.
"""

from __future__ import annotations

import argparse
import copy
import csv
import dataclasses
import difflib
import functools
import inspect
import io
import json
import math
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphops._checks import describe
from models.experiments import train as _train
from models.experiments.config import RunConfig
from models.experiments.data import load_dataset, run_jobs
from models.experiments.registry import MODELS, resolve
from models.experiments.runfolder import atomic_write, write_json
from solvers import SolveFailed

__all__ = [
    "SPACES",
    "TUNABLE",
    "Param",
    "Space",
    "TuneResult",
    "add_parser",
    "default_space",
    "explicit_targets",
    "format_result",
    "load_space",
    "main",
    "tune",
]

#: The install hint of the optional dependency.
EXTRA = "pip install 'graphpde[tune]'"

#: Run options a space may search or fix (besides ``model_args.*`` and
#: ``param_groups.*``). The protocol (dataset, splits, seeds), the seeds themselves
#: and the reporting options are not hyperparameters and cannot be tuned.
TUNABLE: tuple[str, ...] = (
    "solver",
    "dt",
    "layers",
    "rtol",
    "atol",
    "optimizer",
    "lr",
    "weight_decay",
    "epochs",
    "patience",
    "self_loops",
)

_KINDS = ("float", "int", "categorical")
_PARAM_KEYS = ("type", "low", "high", "log", "step", "choices", "models")
_SPACE_KEYS = ("name", "provenance", "fixed", "params", "notes")


def _optuna() -> Any:
    """Import optuna, or fail with the extra to install."""
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(
            "graphpde tune: the search needs the optional dependency optuna; got "
            f"no importable module 'optuna' ({exc}). Install it with {EXTRA} (or "
            "pip install optuna)."
        ) from exc
    return optuna


# -- spaces ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One searched hyperparameter.

    Attributes:
        name: The target: a name of :data:`TUNABLE`, ``model_args.<key>`` or
            ``param_groups.<key>``.
        kind: ``"float"``, ``"int"`` or ``"categorical"``.
        low: Lower bound (float, int).
        high: Upper bound, inclusive (float, int).
        log: Sample uniformly in log space (float, int).
        step: Grid step from ``low`` (float, int; not with ``log``).
        choices: The values of a categorical parameter (JSON scalars).
        models: Only sample this parameter for these models (empty: all).
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()
    models: tuple[str, ...] = ()

    def suggest(self, trial: Any) -> Any:
        """Draw the value of this parameter for an optuna ``trial``."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name,
                int(self.low),
                int(self.high),
                step=int(self.step or 1),
                log=self.log,
            )
        return trial.suggest_float(
            self.name, float(self.low), float(self.high), step=self.step, log=self.log
        )

    def clean(self, value: Any) -> Any:
        """``value`` rounded onto its grid (``1.7``, not ``1.7000000000000002``)."""
        if self.kind == "float" and self.step:
            return float(round(value, 12))
        return value

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a value this parameter can take."""
        if self.kind == "categorical":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and int(value) != value:
            return False
        tol = 1e-9 * max(abs(self.high), 1.0)
        if not self.low - tol <= value <= self.high + tol:
            return False
        if self.step:
            k = (value - self.low) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def text(self) -> str:
        """The distribution in words, e.g. ``log-U[0.001, 0.1]``."""
        if self.kind == "categorical":
            return "{" + ", ".join(json.dumps(c) for c in self.choices) + "}"
        if self.kind == "int" and not self.log and (self.step or 1) == 1:
            return f"{{{int(self.low)}, ..., {int(self.high)}}}"
        grid = f" step {self.step:g}" if self.step else ""
        prefix = "log-U" if self.log else "U"
        return f"{prefix}[{self.low:g}, {self.high:g}]{grid}"


@dataclass(frozen=True)
class Space:
    """A search space: sampled parameters, fixed settings and where they come from.

    Attributes:
        name: The space's name (the built-in name, or the file's ``name`` or stem).
        provenance: Where the ranges come from (source, file, commit, section).
        params: The sampled parameters.
        fixed: Settings applied to every trial (same keys as parameter names).
        notes: Free text (e.g. how the authors' search differed).
    """

    name: str
    provenance: str
    params: tuple[Param, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def describe(self) -> str:
        """The space as text: provenance, parameters and fixed settings."""
        lines = [f"space {self.name!r}: {self.provenance}"]
        for p in self.params:
            only = f"  (only {', '.join(p.models)})" if p.models else ""
            lines.append(f"  {p.name:<26} {p.text()}{only}")
        for key, value in self.fixed.items():
            lines.append(f"  {key:<26} fixed {json.dumps(value)}")
        if self.notes:
            lines.append(f"  note: {self.notes}")
        return "\n".join(lines)


# Built-in spaces, in the JSON format of a space file (parsed by the same code).
_PDE_GCN = {
    "name": "pde-gcn",
    "provenance": "PDE-GCN `optuna_fully_supervised.py` (Aug 2021), eldadHaber/"
    "GraphNetworks branch moshebranch at 3509320d148f; REPRODUCTION.md §2.6 "
    "(V1-code): h in {0.1, 0.2, ..., 3}, dropout {0.5, 0.6, 0.7}, lr log-U[1e-3, "
    "1e-1], lr(K_l) log-U[1e-5, 1e-2], wd log-U[5e-8, 1e-3], depth {2, ..., 64}, "
    "lr_alpha log-U[1e-6, 1e-3] (mixed model), C = 64.",
    "fixed": {"model_args.hidden": 64},
    "params": {
        "dt": {"type": "float", "low": 0.1, "high": 3.0, "step": 0.1},
        "model_args.dropout": {"type": "categorical", "choices": [0.5, 0.6, 0.7]},
        "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "param_groups.lr_K": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True},
        "weight_decay": {"type": "float", "low": 5e-8, "high": 1e-3, "log": True},
        "layers": {"type": "int", "low": 2, "high": 64},
        "param_groups.lr_alpha": {
            "type": "float",
            "low": 1e-6,
            "high": 1e-3,
            "log": True,
            "models": ["pde-gcn-m"],
        },
    },
    "notes": "the authors' objective was the maximum test accuracy over epochs "
    "(REPRODUCTION.md §2.7); here it is validation accuracy. They ran 200-2000 "
    "epochs and 150-200 trials.",
}
_GRAND = {
    "name": "grand",
    "provenance": "GRAND `ray_tune.py` at f4d0198 (2021-02-03), twitter-research/"
    "graph-neural-pde, Cora row; REPRODUCTION.md §3.3 (V1-code): decay log-U[1e-3, "
    "0.1], hidden 2^{6..7}, lr U[0.01, 0.2], input dropout 0.5, dropout U[0, 0.15], "
    "T U[2, 30], optimiser {adam, adamax}, heads 2^{0..3}, attention_dim 2^{4..7}, "
    "tol_scale log-U[1, 1000].",
    "fixed": {"model_args.input_dropout": 0.5},
    "params": {
        "weight_decay": {"type": "float", "low": 1e-3, "high": 0.1, "log": True},
        "model_args.hidden": {"type": "categorical", "choices": [64, 128]},
        "lr": {"type": "float", "low": 0.01, "high": 0.2},
        "model_args.dropout": {"type": "float", "low": 0.0, "high": 0.15},
        "model_args.t1": {"type": "float", "low": 2.0, "high": 30.0},
        "optimizer": {"type": "categorical", "choices": ["adam", "adamax"]},
        "model_args.heads": {"type": "categorical", "choices": [1, 2, 4, 8]},
        "model_args.attention_dim": {
            "type": "categorical",
            "choices": [16, 32, 64, 128],
        },
        "model_args.tol_scale": {
            "type": "float",
            "low": 1.0,
            "high": 1000.0,
            "log": True,
        },
    },
    "notes": "the paper ran 1000 random trials with the ASHA scheduler; here TPE "
    "without early termination of trials. The CiteSeer row of the same script "
    "differs (REPRODUCTION.md §3.3): write it as a space file.",
}
_NSD = {
    "name": "nsd",
    "provenance": "NSD `orth_webkb_sweep.yml` (O(d) sheaf on WebKB), "
    "twitter-research/neural-sheaf-diffusion exp/; REPRODUCTION.md §5.4 "
    "(V1-code): d {2, 3, 4}, layers {2, ..., 6}, hidden {8, 16, 32}, weight_decay "
    "log-U[e^-9.2, e^-6.8], sheaf_decay log-U[e^-11, e^-6.8], both dropouts "
    "{0.0, 0.1, ..., 0.9}, add_lp and add_hp {0, 1}; lr 0.02, 1000 epochs, early "
    "stopping 200, householder maps.",
    "fixed": {"lr": 0.02, "epochs": 1000, "patience": 200},
    "params": {
        "model_args.d": {"type": "categorical", "choices": [2, 3, 4]},
        "layers": {"type": "int", "low": 2, "high": 6},
        "model_args.hidden": {"type": "categorical", "choices": [8, 16, 32]},
        "weight_decay": {
            "type": "float",
            "low": math.exp(-9.2),
            "high": math.exp(-6.8),
            "log": True,
        },
        "param_groups.sheaf_decay": {
            "type": "float",
            "low": math.exp(-11.0),
            "high": math.exp(-6.8),
            "log": True,
        },
        "model_args.input_dropout": {
            "type": "float",
            "low": 0.0,
            "high": 0.9,
            "step": 0.1,
        },
        "model_args.dropout": {"type": "float", "low": 0.0, "high": 0.9, "step": 0.1},
        "model_args.add_lp": {"type": "categorical", "choices": [False, True]},
        "model_args.add_hp": {"type": "categorical", "choices": [False, True]},
    },
    "notes": "householder is the default orthogonal map of nsd-orthogonal. The "
    "fixed epochs and patience are the sweep's; --epochs/--patience override them.",
}
_GENERIC = {
    "name": "generic",
    "provenance": "graphpde's own generic space (no published source): lr "
    "log-U[1e-3, 1e-1], weight_decay log-U[1e-6, 1e-2], dropout U[0, 0.8], hidden "
    "{16, 32, 64, 128}.",
    "params": {
        "lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
        "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
        "model_args.dropout": {"type": "float", "low": 0.0, "high": 0.8},
        "model_args.hidden": {"type": "categorical", "choices": [16, 32, 64, 128]},
    },
}
_BUILTIN = {s["name"]: s for s in (_PDE_GCN, _GRAND, _NSD, _GENERIC)}


def _check_target(where: str, name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(
            f"{where}: a parameter name must be a string; got {describe(name)}."
        )
    group, dot, key = name.partition(".")
    if dot:
        if group not in ("model_args", "param_groups") or not key:
            raise ValueError(
                f"{where}: a dotted parameter name must be model_args.<key> or "
                f"param_groups.<key>; got {name!r}. Example: model_args.dropout."
            )
        return name
    return resolve(where, "tunable option", name, TUNABLE)


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: `{key}` must be a number; got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{where}: `{key}` must be finite; got {value!r}.")
    return value


def _parse_param(where: str, name: str, spec: Any) -> Param:
    where = f"{where}, parameter {name!r}"
    if not isinstance(spec, dict):
        raise ValueError(
            f"{where}: must be an object with `type` and its bounds or choices; got "
            f'{describe(spec)}. Example: {{"type": "float", "low": 0.001, '
            '"high": 0.1, "log": true}.'
        )
    for key in spec:
        resolve(where, "parameter key", key, _PARAM_KEYS)
    kind = resolve(where, "parameter type", spec.get("type", "<missing>"), _KINDS)
    models = spec.get("models", [])
    if not isinstance(models, list) or not models and "models" in spec:
        raise ValueError(
            f"{where}: `models` must be a non-empty list of model names; got "
            f"{models!r}."
        )
    models = tuple(resolve(where, "model", m, MODELS) for m in models)
    if kind == "categorical":
        extra = sorted(set(spec) & {"low", "high", "log", "step"})
        choices = spec.get("choices")
        if extra or not isinstance(choices, list) or not choices:
            raise ValueError(
                f"{where}: a categorical parameter takes a non-empty list "
                f"`choices` (and no {extra or 'bounds'}); got {json.dumps(spec)}."
            )
        for c in choices:
            if c is not None and not isinstance(c, bool | int | float | str):
                raise ValueError(
                    f"{where}: `choices` must be JSON scalars (number, string, "
                    f"bool, null); got {describe(c)}."
                )
        return Param(name, kind, choices=tuple(choices), models=models)
    if "choices" in spec or "low" not in spec or "high" not in spec:
        raise ValueError(
            f"{where}: a {kind} parameter takes `low` and `high` (and optionally "
            f"`log` or `step`), no `choices`; got {json.dumps(spec)}."
        )
    low = _number(where, "low", spec["low"])
    high = _number(where, "high", spec["high"])
    log = spec.get("log", False)
    step = spec.get("step")
    if not isinstance(log, bool):
        raise ValueError(f"{where}: `log` must be true or false; got {log!r}.")
    if not low < high:
        raise ValueError(
            f"{where}: `low` must be below `high`; got low={low!r}, high={high!r}."
        )
    if log and low <= 0:
        raise ValueError(
            f"{where}: a log-uniform parameter needs `low` > 0; got low={low!r}."
        )
    if step is not None:
        step = _number(where, "step", step)
        if log or step <= 0:
            raise ValueError(
                f"{where}: `step` must be a positive number and not combined with "
                f"`log`; got step={step!r}, log={log}."
            )
    if kind == "int":
        for key, v in (("low", low), ("high", high), ("step", step)):
            if v is not None and int(v) != v:
                raise ValueError(
                    f"{where}: an int parameter needs whole-number `{key}`; got "
                    f"{v!r}. Use type float."
                )
    return Param(name, kind, low, high, log, step, models=models)


def _parse_space(where: str, data: Any, default_name: str) -> Space:
    if not isinstance(data, dict):
        raise ValueError(
            f"{where}: a space must be a JSON object with `params`; got "
            f"{describe(data)}. See `graphpde tune --help` for the format."
        )
    for key in data:
        resolve(where, "space key", key, _SPACE_KEYS)
    params = data.get("params")
    if not isinstance(params, dict) or not params:
        raise ValueError(
            f"{where}: `params` must be a non-empty object of parameter name -> "
            f"distribution; got {describe(params)}."
        )
    fixed = data.get("fixed", {})
    if not isinstance(fixed, dict):
        raise ValueError(
            f"{where}: `fixed` must be an object of option -> value; got "
            f"{describe(fixed)}."
        )
    parsed = tuple(
        _parse_param(where, _check_target(where, k), v) for k, v in params.items()
    )
    fixed = {_check_target(where, k): v for k, v in fixed.items()}
    both = sorted(set(fixed) & {p.name for p in parsed})
    if both:
        raise ValueError(
            f"{where}: a parameter is either searched or fixed; got {both} in both "
            "`params` and `fixed`. Remove one."
        )
    for key in ("name", "provenance", "notes"):
        if not isinstance(data.get(key, ""), str):
            raise ValueError(
                f"{where}: `{key}` must be a string; got {describe(data[key])}."
            )
    return Space(
        name=data.get("name") or default_name,
        provenance=data.get("provenance", ""),
        params=parsed,
        fixed=fixed,
        notes=data.get("notes", ""),
    )


#: The built-in spaces by name (see the module docstring for their sources).
SPACES: dict[str, Space] = {
    name: _parse_space(f"tune (built-in space {name!r})", data, name)
    for name, data in _BUILTIN.items()
}


def default_space(model: str) -> str:
    """The built-in space of a model's family (``generic`` where there is none)."""
    model = resolve("default_space", "model", model, MODELS)
    if model.startswith("pde-gcn"):
        return "pde-gcn"
    if model.startswith("grand"):
        return "grand"
    if model.startswith("nsd"):
        return "nsd"
    return "generic"


def load_space(space: str | Path | Space) -> Space:
    """A built-in space by name, or a space JSON file by path.

    Raises:
        ValueError: an unknown name (with a did-you-mean), a file that is not
            JSON, or a space that breaks the format (unknown key with a
            suggestion, bad bounds, unknown option name).
        FileNotFoundError: a ``.json`` path that does not exist.
    """
    where = "tune"
    if isinstance(space, Space):
        return space
    text = str(space)
    if isinstance(space, Path) or text.endswith(".json") or "/" in text:
        path = Path(space)
        if not path.is_file():
            raise FileNotFoundError(
                f"{where}: `--space` file {text!r} does not exist. Pass a built-in "
                f"space ({', '.join(SPACES)}) or the path of a JSON space file."
            )
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{where}: `--space` file {text!r} must be JSON; got a parse error "
                f"at line {exc.lineno}, column {exc.colno}: {exc.msg}. Fix the file."
            ) from None
        return _parse_space(f"{where} (space file {text!r})", data, path.stem)
    return SPACES[resolve(where, "space", text, SPACES)]


# -- configurations -------------------------------------------------------------------
def _set(d: dict[str, Any], target: str, value: Any) -> None:
    group, dot, key = target.partition(".")
    if dot:
        d[group] = {**d.get(group, {}), key: value}
    else:
        d[target] = value


def _get(d: dict[str, Any], target: str) -> Any:
    group, dot, key = target.partition(".")
    return d.get(group, {}).get(key) if dot else d.get(target)


def _model_arguments(model: str) -> list[str]:
    spec = MODELS[model]
    sig = inspect.signature(spec.build)
    skip = {"num_features", "num_classes", *spec.fixed}
    return [
        n
        for n, p in sig.parameters.items()
        if n not in skip and p.kind is not inspect.Parameter.VAR_KEYWORD
    ]


def _check_fits(space: Space, model: str, targets: Iterable[str]) -> None:
    """Every ``model_args``/``param_groups`` target exists for ``model``."""
    where = "tune"
    spec = MODELS[model]
    args = _model_arguments(model)
    for target in targets:
        group, dot, key = target.partition(".")
        if not dot:
            continue
        known = args if group == "model_args" else list(spec.group_keys)
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"Did you mean {group}.{close[0]}? " if close else ""
        what = "from_config arguments" if group == "model_args" else "group keys"
        raise ValueError(
            f"{where}: space {space.name!r} sets `{target}`, which model {model!r} "
            f"does not have; its {what} are {', '.join(known) or 'none'}. {hint}"
            "Use the space of this family (or --space generic, which fits every "
            "model), or write a space file."
        )


def explicit_targets(args: argparse.Namespace) -> set[str]:
    """The space targets a command line sets by flags (they are not searched).

    Args:
        args: Parsed options of :func:`~models.experiments.cli.add_run_options`.

    Returns:
        Names such as ``"lr"`` or ``"model_args.hidden"``.
    """
    out = {
        f.name
        for f in dataclasses.fields(RunConfig)
        if f.name not in ("model_args", "param_groups")
        and getattr(args, f.name, None) is not None
    }
    out |= {f"model_args.{k}" for k, _ in (getattr(args, "model_args", None) or [])}
    for key in ("hidden", "dropout"):
        if getattr(args, key, None) is not None:
            out.add(f"model_args.{key}")
    return out


# -- the search -----------------------------------------------------------------------
@dataclass
class TuneResult:
    """The outcome of a search.

    Attributes:
        space: The space's name.
        status: ``"finished"`` (budget used) or ``"interrupted"`` (Ctrl-C).
        best_trial: The best trial's number.
        best_val_acc: Its mean validation accuracy (a fraction).
        best_params: Its sampled values.
        preset: The path of the written preset.
        study_dir: The study folder.
        trials: One record per trial (see ``trials.json``).
        wall_s: Wall time of the search in seconds.
    """

    space: str
    status: str
    best_trial: int
    best_val_acc: float
    best_params: dict[str, Any]
    preset: Path
    study_dir: Path
    trials: list[dict[str, Any]]
    wall_s: float


def _without_test(ds: Any) -> Any:
    """A copy of ``ds`` whose test mask is all False (no test number can exist)."""
    return dataclasses.replace(ds, test_mask=torch.zeros_like(ds.test_mask))


def _records(
    study: Any, clean: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for t in study.trials:
        if t.state.name == "RUNNING":
            continue
        dur = t.user_attrs.get("duration_s")
        if dur is None and t.duration is not None:
            dur = t.duration.total_seconds()
        out.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "val_acc": t.value if t.state.name == "COMPLETE" else None,
                "duration_s": dur,
                "params": clean(t.params),
                "val_accs": t.user_attrs.get("val_accs", []),
                "epochs": t.user_attrs.get("epochs", []),
                "diverged": t.user_attrs.get("diverged", 0),
                "error": t.user_attrs.get("error", ""),
                "warnings": t.user_attrs.get("warnings", 0),
                "warning": t.user_attrs.get("warning", ""),
            }
        )
    return out


def _write_tables(study_dir: Path, records: list[dict[str, Any]]) -> None:
    write_json(study_dir / "trials.json", records)
    names = sorted({k for r in records for k in r["params"]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["trial", "state", "val_acc", "duration_s", *names, "epochs", "error"]
    w.writerow([*head, "warnings", "warning"])
    for r in records:
        w.writerow(
            [
                r["trial"],
                r["state"],
                "" if r["val_acc"] is None else f"{r['val_acc']:.6f}",
                "" if r["duration_s"] is None else f"{r['duration_s']:.3f}",
                *[r["params"].get(n, "") for n in names],
                " ".join(str(e) for e in r["epochs"]),
                r["error"],
                r["warnings"],
                r["warning"],
            ]
        )
    text = buf.getvalue()
    atomic_write(study_dir / "trials.csv", lambda f: f.write(text.encode()))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def tune(
    cfg: RunConfig,
    space: str | Path | Space,
    *,
    study_dir: Path,
    trials: int | None = 20,
    minutes: float | None = None,
    out_preset: Path | None = None,
    explicit: Iterable[str] = (),
    echo: Callable[[str], None] | None = print,
) -> TuneResult:
    """Search ``space`` on validation accuracy and write the best config as a preset.

    Args:
        cfg: The base configuration (model, dataset, protocol, training). The
            space's ``fixed`` settings override it, except for the targets in
            ``explicit``; its ``seed`` also seeds the sampler.
        space: A built-in space name, a space file or a :class:`Space`.
        study_dir: The study folder (must not hold a study yet).
        trials: Stop after this many trials (``None``: no limit).
        minutes: Stop starting new trials after this many minutes (``None``: no
            limit). At least one of ``trials`` and ``minutes`` must be set.
        out_preset: Where to write the best preset (default
            ``study_dir/best.json``; must not exist).
        explicit: Targets fixed by the caller (flags): not searched, not
            overridden by the space's ``fixed``.
        echo: Called with one line per finished trial (``None``: silent).

    Returns:
        The :class:`TuneResult`.

    Raises:
        ImportError: optuna is not installed (names the extra to install).
        ValueError: a bad space or budget, a space that does not fit the model,
            a split without validation nodes, or no trial finished.
        FileExistsError: ``study_dir`` holds a study, or ``out_preset`` exists.
    """
    optuna = _optuna()
    where = "tune"
    space = load_space(space)
    if trials is None and minutes is None:
        raise ValueError(
            f"{where}: a budget is needed; got neither `trials` nor `minutes`. Pass "
            "--trials N, --minutes M or both."
        )
    if trials is not None and (
        isinstance(trials, bool) or not isinstance(trials, int) or trials < 1
    ):
        raise ValueError(f"{where}: `trials` must be a positive int; got {trials!r}.")
    if minutes is not None and (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not minutes > 0
    ):
        raise ValueError(
            f"{where}: `minutes` must be a positive number; got {minutes!r}."
        )
    study_dir = Path(study_dir)
    out_preset = Path(out_preset) if out_preset is not None else study_dir / "best.json"
    if (study_dir / "study.json").exists():
        raise FileExistsError(
            f"{where}: `study_dir` must be a new folder; got {str(study_dir)!r}, which "
            "holds a study already. Pass another --study-dir."
        )
    if out_preset.exists():
        raise FileExistsError(
            f"{where}: `out_preset` must not exist (a preset is never overwritten); "
            f"got {str(out_preset)!r}. Pass another --out-preset or remove it."
        )
    explicit = set(explicit)
    spec = MODELS[cfg.model]
    # The generic depth and step options and the family's own arguments name the
    # same values (build_model applies --layers/--dt over model_args), and for the
    # families configured by an end time, T = layers x dt: a flag for one of them
    # fixes the others, so a sampled value never silently overrides a flag.
    for generic, arg in (("layers", spec.layers_arg), ("dt", spec.step_arg)):
        if arg and f"model_args.{arg}" in explicit:
            explicit.add(generic)
        if arg and generic in explicit:
            explicit.add(f"model_args.{arg}")
    linked = {"layers", "dt", f"model_args.{spec.time_arg}"}
    if spec.time_arg and explicit & linked:
        explicit |= linked
    active = [
        p
        for p in space.params
        if p.name not in explicit and (not p.models or cfg.model in p.models)
    ]
    held = [p.name for p in space.params if p.name in explicit]
    if not active:
        raise ValueError(
            f"{where}: at least one parameter must be searched; got every parameter "
            f"of space {space.name!r} fixed by flags ({', '.join(held)}). Drop some "
            "of those flags."
        )
    fixed = {k: v for k, v in space.fixed.items() if k not in explicit}
    _check_fits(space, cfg.model, [*fixed, *(p.name for p in active)])
    base = cfg.to_dict()
    for key, value in fixed.items():
        _set(base, key, value)
    base_cfg = RunConfig.from_dict(base, where=where)
    ds = load_dataset(base_cfg)
    jobs = run_jobs(base_cfg, ds)
    for s, _, _ in jobs:
        if not bool(ds.split(s)[1].any()):
            raise ValueError(
                f"{where}: every split must have validation nodes (the search "
                f"selects on validation only); got an empty validation mask in "
                f"split {s} of {ds.name!r}. Use a dataset or split with a "
                "validation set."
            )
    # The test mask is removed here, once: every trial trains on this copy, so no
    # test accuracy can be computed, read or selected on during the search.
    ds_val = _without_test(ds)

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t_start = time.perf_counter()
    study_info: dict[str, Any] = {
        "space": {
            "name": space.name,
            "provenance": space.provenance,
            "params": {p.name: p.text() for p in space.params},
            "searched": [p.name for p in active],
            "fixed": fixed,
            "fixed_by_flags": {k: _get(base, k) for k in held},
            "notes": space.notes,
        },
        "objective": (
            f"mean validation accuracy over {len(jobs)} run(s) (splits x seeds), "
            f"at the epoch of best {base_cfg.select}; the test mask is empty "
            "during the search"
        ),
        "base_config": base_cfg.to_dict(),
        "budget": {"trials": trials, "minutes": minutes},
        "sampler": f"optuna {optuna.__version__} TPESampler(seed={base_cfg.seed})",
        "started": started,
        "status": "running",
    }
    study_dir.mkdir(parents=True, exist_ok=True)
    write_json(study_dir / "study.json", study_info)

    name = f"tuned-{base_cfg.model}-{ds.name}"

    def trial_config(params: dict[str, Any]) -> RunConfig:
        d = copy.deepcopy(base)
        for key, value in params.items():
            _set(d, key, value)
        d["name"] = name
        return RunConfig.from_dict(d, where=where)

    by_name = {p.name: p for p in active}

    def clean(params: dict[str, Any]) -> dict[str, Any]:
        return {k: by_name[k].clean(v) for k, v in params.items()}

    def objective(trial: Any) -> float:
        t0 = time.perf_counter()
        try:
            params = {p.name: p.clean(p.suggest(trial)) for p in active}
            tcfg = trial_config(params)
            trial_dir = study_dir / "trials" / f"trial-{trial.number:04d}"
            tcfg.save(trial_dir / "config.json")
            vals, epochs, diverged = [], [], 0
            for s, k, seed in jobs:
                # A trial with an exploding step warns at every epoch: the warnings
                # are counted into the trial's record instead of flooding the screen.
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    r = _train.train_one(
                        tcfg,
                        ds_val,
                        split=s,
                        seed=seed,
                        run_dir=trial_dir / f"split{s}-seed{k}",
                    )
                if caught:
                    n = trial.user_attrs.get("warnings", 0)
                    trial.set_user_attr("warnings", n + len(caught))
                    if n == 0:
                        w = caught[0]
                        first = (str(w.message).splitlines() or [""])[0]
                        trial.set_user_attr(
                            "warning", f"{w.category.__name__}: {first}"
                        )
                # Trials keep their metrics and results, not their weights: the
                # preset retrains, and a long search would otherwise fill the disk.
                for weights in ("checkpoint.pt", "best.pt"):
                    (trial_dir / f"split{s}-seed{k}" / weights).unlink(missing_ok=True)
                vals.append(r.val_acc)
                epochs.append(r.epochs)
                diverged += r.stopped.startswith("diverged")
            trial.set_user_attr("val_accs", vals)
            trial.set_user_attr("epochs", epochs)
            trial.set_user_attr("diverged", diverged)
            return float(np.mean(vals))
        except (_train.UnstableStepError, SolveFailed, RuntimeError) as exc:
            # Numerical failures of one configuration (unstable step, solver giving
            # up, divergence before the first epoch): the trial fails, the search
            # goes on (optimize(catch=...)), and the reason is kept.
            first = str(exc).splitlines()[0] if str(exc) else ""
            trial.set_user_attr("error", f"{type(exc).__name__}: {first}")
            raise
        except KeyboardInterrupt:
            trial.set_user_attr("error", "KeyboardInterrupt: the search was stopped")
            raise
        finally:
            trial.set_user_attr("duration_s", time.perf_counter() - t0)

    def after_trial(study: Any, frozen: Any) -> None:
        records = _records(study, clean)
        _write_tables(study_dir, records)
        if echo is None:
            return
        r = next(x for x in records if x["trial"] == frozen.number)
        params = " ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        total = f"/{trials}" if trials is not None else ""
        if r["state"] == "complete":
            best = study.best_trial
            what = (
                f"val {100 * r['val_acc']:.2f}% (best {100 * best.value:.2f}%, "
                f"trial {best.number})"
            )
        else:
            what = f"{r['state']}: {r['error']}"
        echo(
            f"trial {r['trial']} ({len(records)}{total}): {what} | "
            f"{r['duration_s']:.1f} s | {params}"
        )

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=base_cfg.seed),
    )
    status = "finished"
    try:
        study.optimize(
            objective,
            n_trials=trials,
            timeout=None if minutes is None else 60.0 * minutes,
            catch=(_train.UnstableStepError, SolveFailed, RuntimeError),
            callbacks=[after_trial],
        )
    except KeyboardInterrupt:
        status = "interrupted"
    wall = time.perf_counter() - t_start
    records = _records(study, clean)
    _write_tables(study_dir, records)
    done = [r for r in records if r["state"] == "complete"]
    study_info.update(
        status=status,
        finished=time.strftime("%Y-%m-%d %H:%M:%S"),
        wall_s=wall,
        trials_run=len(records),
        trials_complete=len(done),
    )
    if not done:
        write_json(study_dir / "study.json", study_info)
        errors = [r["error"] for r in records if r["error"]]
        why = f" First failure: {errors[0]}." if errors else ""
        raise ValueError(
            f"{where}: at least one trial must finish to write a preset; got "
            f"{len(records)} trial(s) run, none complete ({status}, {wall:.1f} s)."
            f"{why} Raise --minutes or --trials, pass --allow-unstable, or narrow "
            f"the space (trials table: {study_dir / 'trials.csv'})."
        )
    best = study.best_trial
    best_params = clean(best.params)
    best_cfg = trial_config(best_params)
    preset = best_cfg.to_dict()
    # The base's provenance stays for the values the search did not set.
    provenance = {
        k: v
        for k, v in base_cfg.provenance.items()
        if k not in best_params and k not in fixed and k != "tuned"
    }
    provenance["tuned"] = (
        f"tuned by graphpde tune: space {space.name!r} ({space.provenance}), "
        f"{len(records)} trials ({len(done)} complete), best trial {best.number} "
        f"with validation accuracy {100 * best.value:.2f}% (mean over "
        f"{len(jobs)} run(s); test never evaluated), {started[:10]}"
    )
    for p in active:
        provenance[p.name] = f"tuned in {p.text()} (space {space.name!r})"
    for key in fixed:
        provenance[key] = f"fixed by space {space.name!r}"
    preset["provenance"] = provenance
    preset["published"] = None
    preset["description"] = (
        f"{base_cfg.model} on {ds.name}, hyperparameters selected on validation "
        f"accuracy by graphpde tune (space {space.name!r}, {len(done)} complete "
        "trials)."
    )
    write_json(out_preset, preset)
    study_info["best"] = {
        "trial": best.number,
        "val_acc": best.value,
        "params": best_params,
        "preset": str(out_preset),
    }
    write_json(study_dir / "study.json", study_info)
    return TuneResult(
        space=space.name,
        status=status,
        best_trial=best.number,
        best_val_acc=float(best.value),
        best_params=best_params,
        preset=out_preset,
        study_dir=study_dir,
        trials=records,
        wall_s=wall,
    )


def format_result(result: TuneResult, top: int = 5) -> str:
    """The search's summary: the best trials, the best values and the next command."""
    done = sorted(
        (r for r in result.trials if r["state"] == "complete"),
        key=lambda r: -r["val_acc"],
    )
    failed = [r for r in result.trials if r["state"] != "complete"]
    times = [r["duration_s"] for r in result.trials if r["duration_s"] is not None]
    lines = [
        f"tune ({result.space} space, {result.status}): {len(result.trials)} trials, "
        f"{len(done)} complete, {len(failed)} failed, {result.wall_s:.1f} s "
        f"(trial time median {np.median(times):.1f} s, max {max(times):.1f} s)",
        "",
        "| trial | val acc (%) | duration (s) | parameters |",
        "|---|---|---|---|",
    ]
    for r in done[:top]:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        lines.append(
            f"| {r['trial']} | {100 * r['val_acc']:.2f} | {r['duration_s']:.1f} | "
            f"{params} |"
        )
    lines += [
        "",
        f"best: trial {result.best_trial}, validation accuracy "
        f"{100 * result.best_val_acc:.2f}% (selection on validation only; the test "
        "mask was empty during the search)",
    ]
    lines += [f"  {k} = {_fmt(v)}" for k, v in result.best_params.items()]
    if failed:
        lines.append(f"failed: {failed[0]['error']} (first of {len(failed)})")
    lines += [
        f"preset: {result.preset}",
        f"study:  {result.study_dir} (trials.csv, trials.json, study.json)",
        f"test it once: graphpde train --preset {result.preset}",
    ]
    return "\n".join(lines)


# -- command line ---------------------------------------------------------------------
def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``graphpde tune`` on the subparsers ``sub``."""
    from models.experiments.cli import _EPILOG_DATA, add_run_options

    p = sub.add_parser(
        "tune",
        help="validation-only hyperparameter search (optuna); writes a preset",
        description="Search hyperparameters with optuna (TPE) on validation "
        "accuracy and write the best configuration as a preset file. Every trial "
        "trains on a copy of the dataset whose test mask is empty, so test "
        "accuracy is never computed during the search. Needs the optional extra: "
        f"{EXTRA}.\n\n"
        "Spaces (--space): built-in pde-gcn (PDE-GCN optuna_fully_supervised.py, "
        "Aug 2021), grand (GRAND ray_tune.py, Cora), nsd (NSD "
        "orth_webkb_sweep.yml), generic (lr, weight decay, dropout, hidden), or a "
        "JSON file (format in models/experiments/tune.py). Default: the model "
        "family's space. A flag for a searched parameter (--lr, --layers, --set "
        "dropout=0.5) fixes it instead. --seed seeds the training runs and the "
        "sampler.\n\nExamples:\n"
        "  graphpde tune --model pde-gcn-h --dataset cora --trials 50\n"
        "  graphpde tune --model gcn --dataset texas --space generic --minutes 30\n"
        "  graphpde tune --model nsd-diag --dataset cornell --epochs 300 --trials 40\n"
        "  graphpde tune --model graff --dataset csbm --space my_space.json\n"
        "  graphpde tune --space grand --show-space\n"
        "  graphpde train --preset runs/tune-.../best.json   (test it once)",
        epilog=_EPILOG_DATA,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_options(p)
    g = p.add_argument_group("search")
    g.add_argument(
        "--space",
        help=f"built-in space ({', '.join(SPACES)}) or a JSON space file "
        "(default: the model family's space)",
    )
    g.add_argument(
        "--trials",
        type=int,
        help="stop after N trials (default 20, or no limit with --minutes)",
    )
    g.add_argument(
        "--minutes",
        type=float,
        help="stop starting trials after M minutes (a running trial finishes)",
    )
    g.add_argument("--show-space", action="store_true", help="print the space and exit")
    g = p.add_argument_group("output")
    g.add_argument(
        "--study-dir",
        type=Path,
        help="trial run folders, trials.csv/json, study.json (default runs/tune-...)",
    )
    g.add_argument(
        "--out-preset",
        type=Path,
        help="the best configuration as a preset (default <study-dir>/best.json)",
    )
    g.add_argument("--quiet", action="store_true", help="no per-trial lines")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run ``graphpde tune`` from parsed arguments (see :func:`add_parser`)."""
    from models.experiments.cli import _default_out, config_from_args

    if args.show_space:
        name = args.space or (default_space(args.model) if args.model else "generic")
        print(load_space(name).describe())
        return 0
    try:
        _optuna()
    except ImportError as exc:
        raise SystemExit(f"graphpde tune: error: {exc}") from None
    cfg = config_from_args(args)
    space = load_space(args.space or default_space(cfg.model))
    study_dir = args.study_dir or _default_out("tune", cfg)
    trials = args.trials if args.trials is not None or args.minutes else 20
    echo = None if args.quiet else functools.partial(print, flush=True)
    if echo is not None:
        echo(space.describe())
    result = tune(
        cfg,
        space,
        study_dir=study_dir,
        trials=trials,
        minutes=args.minutes,
        out_preset=args.out_preset,
        explicit=explicit_targets(args),
        echo=echo,
    )
    print(format_result(result))
    return 130 if result.status == "interrupted" else 0
