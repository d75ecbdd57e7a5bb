"""``graphpde tune``: validation-only search, preset output, budgets, spaces, errors."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import sys
import warnings

import pytest
import torch

from models.experiments import cli
from models.experiments import train as train_mod
from models.experiments import tune as tune_mod
from models.experiments.config import RunConfig, load_preset
from models.experiments.runfolder import read_json
from models.experiments.tune import (
    SPACES,
    Space,
    default_space,
    format_result,
    load_space,
    tune,
)
from solvers import SolveFailed, StabilityWarning

DATA = "csbm:num_nodes=60"
WHY = "graphpde tune needs the optional extra: pip install 'graphpde[tune]'"


@pytest.fixture
def optuna():
    """Skip the test when optuna (the ``tune`` extra) is not installed."""
    return pytest.importorskip("optuna", reason=WHY)


def _cfg(**kw) -> RunConfig:
    args = {
        "model": "gcn",
        "dataset": DATA,
        "epochs": 3,
        "dtype": "float64",
        "seed": 3,
        **kw,
    }
    return RunConfig(**args)


def _write(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


# -- the search ----------------------------------------------------------------------
def test_tune_writes_a_loadable_preset_inside_the_space(optuna, tmp_path):
    result = tune(_cfg(), "generic", study_dir=tmp_path / "s", trials=3, echo=None)
    space = SPACES["generic"]
    assert result.preset == tmp_path / "s" / "best.json"
    preset = load_preset(result.preset)
    cfg = RunConfig.from_dict(preset)
    assert preset["published"] is None
    assert "tuned by graphpde tune: space 'generic'" in preset["provenance"]["tuned"]
    assert "3 trials (3 complete)" in preset["provenance"]["tuned"]
    values = {
        "lr": cfg.lr,
        "weight_decay": cfg.weight_decay,
        "model_args.dropout": cfg.model_args["dropout"],
        "model_args.hidden": cfg.model_args["hidden"],
    }
    assert {p.name for p in space.params} == set(values)
    for p in space.params:
        assert p.contains(values[p.name]), (p.name, values[p.name], p.text())
    assert values == result.best_params
    # The preset is the best trial: its validation accuracy is the maximum.
    rows = list(csv.DictReader((tmp_path / "s" / "trials.csv").open()))
    assert [r["state"] for r in rows] == ["complete"] * 3
    accs = [float(r["val_acc"]) for r in rows]
    assert result.best_val_acc == pytest.approx(max(accs), abs=1e-6)
    assert all(float(r["duration_s"]) > 0 for r in rows)
    study = read_json(tmp_path / "s" / "study.json")
    assert study["status"] == "finished" and study["trials_complete"] == 3
    assert study["best"]["params"] == result.best_params
    # graphpde train loads it, and only now is the test set evaluated.
    code = cli.main(
        ["train", "--preset", str(result.preset), "--out", str(tmp_path / "t")]
        + ["--quiet", "--no-plots"]
    )
    assert code == 0
    summary = read_json(tmp_path / "t" / "summary.json")
    assert math.isfinite(summary["test_acc"]["mean"])
    assert summary["name"] == "tuned-gcn-csbm"


def test_the_objective_never_sees_the_test_set(optuna, tmp_path, monkeypatch):
    seen = []
    real = train_mod.train_one

    def spy(cfg, ds, **kw):
        seen.append((int(ds.test_mask.sum()), int(ds.val_mask.sum())))
        return real(cfg, ds, **kw)

    monkeypatch.setattr(train_mod, "train_one", spy)
    result = tune(
        _cfg(seeds=2), "generic", study_dir=tmp_path / "s", trials=2, echo=None
    )
    full = tune_mod.load_dataset(_cfg())
    assert int(full.test_mask.sum()) > 0
    # 2 trials x 2 seeds, each on a dataset with no test node (validation intact).
    assert seen == [(0, int(full.val_mask.sum()))] * 4
    for r in result.trials:
        assert not any("test" in k for k in r)
        assert r["val_acc"] == pytest.approx(sum(r["val_accs"]) / 2)
    for path in (tmp_path / "s" / "trials").glob("*/*/result.json"):
        res = read_json(path)
        assert math.isnan(res["test_acc"]) and math.isnan(res["test_max"])
        assert not (path.parent / "best.pt").exists()
    text = (tmp_path / "s" / "trials.json").read_text()
    assert "test" not in text


def test_minute_budget_stops_before_the_trial_budget(optuna, tmp_path):
    result = tune(
        _cfg(),
        "generic",
        study_dir=tmp_path / "s",
        trials=200,
        minutes=0.3 / 60,
        echo=None,
    )
    assert 1 <= len(result.trials) < 200
    assert result.status == "finished"


def test_a_failed_trial_is_recorded_and_the_search_goes_on(
    optuna, tmp_path, monkeypatch
):
    real = train_mod.train_one
    calls = []

    def fail_first(cfg, ds, **kw):
        calls.append(kw["run_dir"])
        if len(calls) == 1:
            raise SolveFailed("Dopri5 failed at t=0.5: step budget exhausted.", None)
        return real(cfg, ds, **kw)

    monkeypatch.setattr(train_mod, "train_one", fail_first)
    lines = []
    result = tune(
        _cfg(), "generic", study_dir=tmp_path / "s", trials=3, echo=lines.append
    )
    states = [r["state"] for r in result.trials]
    assert states == ["fail", "complete", "complete"]
    assert result.trials[0]["error"] == (
        "SolveFailed: Dopri5 failed at t=0.5: step budget exhausted."
    )
    assert result.best_trial in (1, 2)
    assert lines[0].startswith("trial 0 (1/3): fail: SolveFailed")
    text = format_result(result)
    assert "3 trials, 2 complete, 1 failed" in text
    assert "failed: SolveFailed" in text


def test_an_interrupted_search_still_writes_its_best_preset(
    optuna, tmp_path, monkeypatch
):
    real = train_mod.train_one
    calls = []

    def interrupt_third(cfg, ds, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(cfg, ds, **kw)

    monkeypatch.setattr(train_mod, "train_one", interrupt_third)
    result = tune(_cfg(), "generic", study_dir=tmp_path / "s", trials=10, echo=None)
    assert result.status == "interrupted"
    assert [r["state"] for r in result.trials] == ["complete", "complete", "fail"]
    assert "KeyboardInterrupt" in result.trials[2]["error"]
    assert load_preset(result.preset)["lr"] == result.best_params["lr"]
    assert read_json(tmp_path / "s" / "study.json")["status"] == "interrupted"


def test_warnings_of_a_trial_are_counted_not_shown(optuna, tmp_path, monkeypatch):
    real = train_mod.train_one

    def warn_twice(cfg, ds, **kw):
        warnings.warn("max |y| grew from 2 to 1e12", StabilityWarning, stacklevel=2)
        warnings.warn("max |y| grew from 2 to 1e13", StabilityWarning, stacklevel=2)
        return real(cfg, ds, **kw)

    monkeypatch.setattr(train_mod, "train_one", warn_twice)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = tune(
            _cfg(seeds=2), "generic", study_dir=tmp_path / "s", trials=1, echo=None
        )
    (rec,) = result.trials
    assert rec["warnings"] == 4
    assert rec["warning"] == "StabilityWarning: max |y| grew from 2 to 1e12"
    row = next(csv.DictReader((tmp_path / "s" / "trials.csv").open()))
    assert row["warnings"] == "4"


def test_an_unrelated_error_stops_the_search(optuna, tmp_path, monkeypatch):
    def broken(cfg, ds, **kw):
        raise KeyError("a bug, not a numerical failure")

    monkeypatch.setattr(train_mod, "train_one", broken)
    with pytest.raises(KeyError, match="a bug"):
        tune(_cfg(), "generic", study_dir=tmp_path / "s", trials=3, echo=None)


@pytest.mark.slow
def test_failed_trials_are_recorded_and_none_complete_is_an_error(optuna, tmp_path):
    # dt = 60 is far outside PDE-GCN_H's stable range at initialisation: every
    # trial fails the step check, is recorded as failed, and no preset is written.
    space = _write(
        tmp_path / "space.json",
        {
            "fixed": {"dt": 60.0, "layers": 2},
            "params": {"lr": {"type": "float", "low": 1e-3, "high": 1e-1}},
        },
    )
    cfg = _cfg(model="pde-gcn-h", model_args={"hidden": 8})
    with pytest.raises(ValueError, match="none complete.*UnstableStepError"):
        tune(cfg, space, study_dir=tmp_path / "s", trials=1, echo=None)
    rows = read_json(tmp_path / "s" / "trials.json")
    assert [r["state"] for r in rows] == ["fail"]
    assert all("stable range" in r["error"] for r in rows)
    assert not (tmp_path / "s" / "best.json").exists()


def test_pde_gcn_space_samples_lr_alpha_only_for_the_mixed_model(optuna, tmp_path):
    lines = []
    result = tune(
        _cfg(model="pde-gcn-m", epochs=2),
        "pde-gcn",
        study_dir=tmp_path / "s",
        trials=1,
        explicit={"layers", "dt"},
        echo=lines.append,
    )
    assert "param_groups.lr_alpha" in result.best_params
    assert "layers" not in result.best_params and "dt" not in result.best_params
    assert lines and lines[0].startswith("trial 0 (1/1): ")
    preset = load_preset(result.preset)
    assert preset["model_args"]["hidden"] == 64
    assert preset["provenance"]["model_args.hidden"] == "fixed by space 'pde-gcn'"
    active = {p.name for p in SPACES["pde-gcn"].params if not p.models}
    assert "param_groups.lr_alpha" not in active


# -- command line ----------------------------------------------------------------------
def test_cli_flags_fix_searched_parameters(optuna, tmp_path, capsys):
    out = tmp_path / "best.json"
    code = cli.main(
        ["tune", "--model", "gcn", "--dataset", DATA, "--epochs", "2"]
        + ["--dtype", "float64", "--lr", "0.05", "--set", "hidden=8"]
        + ["--trials", "2", "--study-dir", str(tmp_path / "s")]
        + ["--out-preset", str(out), "--quiet"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "best: trial" in printed and f"graphpde train --preset {out}" in printed
    preset = load_preset(out)
    assert preset["lr"] == 0.05 and preset["model_args"]["hidden"] == 8
    study = read_json(tmp_path / "s" / "study.json")
    assert study["space"]["searched"] == ["weight_decay", "model_args.dropout"]
    assert study["space"]["fixed_by_flags"] == {"lr": 0.05, "model_args.hidden": 8}


def test_cli_show_space_and_help(capsys):
    assert cli.main(["tune", "--space", "nsd", "--show-space"]) == 0
    text = capsys.readouterr().out
    assert "orth_webkb_sweep" in text and "param_groups.sheaf_decay" in text
    with pytest.raises(SystemExit) as exc:
        cli.main(["tune", "--help"])
    assert exc.value.code == 0
    assert "validation" in capsys.readouterr().out


def test_default_spaces_follow_the_family():
    assert default_space("pde-gcn-h") == "pde-gcn"
    assert default_space("grand") == "grand"
    assert default_space("nsd-orthogonal") == "nsd"
    assert default_space("graff") == "generic"


def test_builtin_spaces_fit_their_families():
    for model in ("pde-gcn-d", "pde-gcn-h", "pde-gcn-m", "grand-l", "nsd-diag"):
        space = SPACES[default_space(model)]
        names = [p.name for p in space.params] + list(space.fixed)
        tune_mod._check_fits(space, model, names)
    for model in ("gcn", "gcnii", "graphcon", "graff", "grand-nl", "nsd-general"):
        space = SPACES["generic"]
        tune_mod._check_fits(space, model, [p.name for p in space.params])


def test_spaces_transcribe_the_spec():
    nsd = {p.name: p for p in SPACES["nsd"].params}
    assert nsd["weight_decay"].low == pytest.approx(1.0e-4, rel=0.02)
    assert nsd["weight_decay"].high == pytest.approx(1.1e-3, rel=0.02)
    assert nsd["model_args.dropout"].contains(0.9)
    assert not nsd["model_args.dropout"].contains(0.95)
    pde = {p.name: p for p in SPACES["pde-gcn"].params}
    assert pde["dt"].clean(0.1 + 16 * 0.1) == 1.7
    assert pde["dt"].text() == "U[0.1, 3] step 0.1"
    assert pde["layers"].text() == "{2, ..., 64}"
    assert pde["lr"].text() == "log-U[0.001, 0.1]"
    grand = {p.name: p for p in SPACES["grand"].params}
    assert grand["model_args.attention_dim"].choices == (16, 32, 64, 128)
    assert SPACES["grand"].fixed == {"model_args.input_dropout": 0.5}


# -- errors ---------------------------------------------------------------------------
def test_missing_optuna_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install 'graphpde\[tune\]'"):
        tune(_cfg(), "generic", study_dir=tmp_path / "s", trials=1, echo=None)
    with pytest.raises(SystemExit, match=r"graphpde tune: error: .*graphpde\[tune\]"):
        cli.main(["tune", "--model", "gcn", "--dataset", DATA])
    assert not (tmp_path / "s").exists()


def test_unknown_space_name_suggests(tmp_path):
    with pytest.raises(
        ValueError, match="unknown space 'pde-gnc'. Did you mean 'pde-gcn'"
    ):
        load_space("pde-gnc")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_space(str(tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="must be JSON; got a parse error at line 1"):
        load_space(bad)


def test_unknown_space_name_is_a_one_line_cli_error(optuna, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["tune", "--model", "gcn", "--dataset", DATA, "--space", "generc"])
    assert exc.value.code == 2
    assert "Did you mean 'generic'" in capsys.readouterr().err


LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "a space must be a JSON object with `params`"),
        ({"params": {"lr": LR}, "prams": 1}, "unknown space key 'prams'. Did you mean"),
        ({"params": {}}, "`params` must be a non-empty object"),
        ({"params": {"lr": LR}, "fixed": [1]}, "`fixed` must be an object"),
        ({"params": {"weight_decy": LR}}, "Did you mean 'weight_decay'"),
        ({"params": {"seed": LR}}, "unknown tunable option 'seed'"),
        ({"params": {"foo.bar": LR}}, "must be model_args.<key> or param_groups"),
        ({"params": {"lr": 0.1}}, "must be an object with `type`"),
        ({"params": {"lr": {**LR, "lo": 1}}}, "unknown parameter key 'lo'. Did you"),
        ({"params": {"lr": {"type": "flaot", "low": 0, "high": 1}}}, "Did you mean"),
        ({"params": {"lr": {"type": "categorical", "choices": []}}}, "non-empty list"),
        (
            {"params": {"lr": {"type": "categorical", "choices": [[1]]}}},
            "`choices` must be JSON scalars",
        ),
        ({"params": {"lr": {"type": "float", "low": 1}}}, "takes `low` and `high`"),
        ({"params": {"lr": {**LR, "low": "a"}}}, "`low` must be a number"),
        ({"params": {"lr": {**LR, "high": 1e999}}}, "`high` must be finite"),
        ({"params": {"lr": {**LR, "low": 1.0}}}, "`low` must be below `high`"),
        (
            {"params": {"lr": {**LR, "low": 0.0}}},
            "log-uniform parameter needs `low` > 0",
        ),
        ({"params": {"lr": {**LR, "step": 0.1}}}, "not combined with `log`"),
        ({"params": {"lr": {**LR, "log": "yes"}}}, "`log` must be true or false"),
        (
            {"params": {"layers": {"type": "int", "low": 1.5, "high": 4}}},
            "whole-number `low`",
        ),
        ({"params": {"lr": {**LR, "models": []}}}, "`models` must be a non-empty list"),
        ({"params": {"lr": {**LR, "models": ["gnc"]}}}, "unknown model 'gnc'"),
        ({"params": {"lr": LR}, "fixed": {"lr": 0.1}}, "either searched or fixed"),
        ({"params": {"lr": LR}, "name": 3}, "`name` must be a string"),
        ({"params": {3: LR}}, "a parameter name must be a string"),
    ],
)
def test_bad_space_files_are_refused(tmp_path, data, match):
    if isinstance(data, dict) and 3 in data.get("params", {}):
        # JSON keys are always strings: check the parser directly.
        with pytest.raises(TypeError, match=match):
            tune_mod._parse_space("tune", data, "x")
        return
    with pytest.raises(ValueError, match=match):
        load_space(_write(tmp_path / "space.json", data))


def test_space_that_does_not_fit_the_model(optuna, tmp_path):
    with pytest.raises(ValueError, match="sets `model_args.d`, which model 'gcn'"):
        tune(_cfg(), "nsd", study_dir=tmp_path / "s", trials=1, echo=None)
    space = _write(
        tmp_path / "space.json",
        {"params": {"model_args.dropuot": {"type": "float", "low": 0, "high": 1}}},
    )
    with pytest.raises(ValueError, match="Did you mean model_args.dropout"):
        tune(_cfg(), space, study_dir=tmp_path / "s", trials=1, echo=None)
    space = _write(tmp_path / "space2.json", {"params": {"param_groups.lr_K": LR}})
    with pytest.raises(ValueError, match="its group keys are none"):
        tune(_cfg(), space, study_dir=tmp_path / "s", trials=1, echo=None)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"trials": None}, "a budget is needed"),
        ({"trials": 0}, "`trials` must be a positive int"),
        ({"minutes": -1.0}, "`minutes` must be a positive number"),
        (
            {
                "explicit": {
                    "lr",
                    "weight_decay",
                    "model_args.dropout",
                    "model_args.hidden",
                }
            },
            "at least one parameter must be searched",
        ),
    ],
)
def test_bad_budgets_and_all_fixed(optuna, tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        tune(_cfg(), "generic", study_dir=tmp_path / "s", echo=None, **kw)


def test_existing_outputs_are_never_overwritten(optuna, tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.json").write_text("{}")
    with pytest.raises(FileExistsError, match="holds a study already"):
        tune(_cfg(), "generic", study_dir=tmp_path / "s", trials=1, echo=None)
    (tmp_path / "p.json").write_text("{}")
    with pytest.raises(FileExistsError, match="a preset is never overwritten"):
        tune(
            _cfg(),
            "generic",
            study_dir=tmp_path / "s2",
            out_preset=tmp_path / "p.json",
            trials=1,
            echo=None,
        )


def test_a_split_without_validation_nodes_is_refused(optuna, tmp_path, monkeypatch):
    real = tune_mod.load_dataset

    def no_val(cfg):
        ds = real(cfg)
        return dataclasses.replace(ds, val_mask=torch.zeros_like(ds.val_mask))

    monkeypatch.setattr(tune_mod, "load_dataset", no_val)
    with pytest.raises(ValueError, match="every split must have validation nodes"):
        tune(_cfg(), "generic", study_dir=tmp_path / "s", trials=1, echo=None)


def test_space_objects_pass_through():
    space = SPACES["generic"]
    assert load_space(space) is space
    assert isinstance(load_space("GENERIC"), Space)
    assert "fixed 64" in SPACES["pde-gcn"].describe()
