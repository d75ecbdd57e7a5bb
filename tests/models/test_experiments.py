"""The experiments core: config, registry, training, run folders, resume, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from models.experiments import RunConfig, build_model, run, train_one
from models.experiments.cli import main
from models.experiments.data import load_dataset, protocol_of
from models.experiments.registry import (
    MODELS,
    SOLVER_NAMES,
    check_compatible,
    make_solver,
    set_solver,
)
from models.experiments.runfolder import (
    atomic_write,
    get_rng_state,
    load_checkpoint,
    read_json,
    set_rng_state,
)
from models.experiments.train import UnstableStepError, summarise
from solvers import RK4, ConstantStep, Dopri5, Euler, PIController

ROOT = Path(__file__).resolve().parents[2]
TINY = "csbm:num_nodes=80,num_features=8,mean_degree=4.0"


def tiny(**kw) -> RunConfig:
    base = dict(model="gcn", dataset=TINY, epochs=6, dtype="float64")
    base.update(kw)
    return RunConfig(**base)


# -- config -------------------------------------------------------------------------
def test_config_round_trips_through_json():
    cfg = tiny(model="pde-gcn-h", layers=3, dt=0.5, model_args={"hidden": 8})
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            {"model": "pde-gcn-hh"},
            r"unknown model 'pde-gcn-hh'\. Did you mean 'pde-gcn-h'",
        ),
        ({"solver": "rk5"}, r"unknown solver 'rk5'\. Did you mean 'rk4'"),
        ({"optimizer": "adamw"}, r"unknown optimizer 'adamw'\. Did you mean 'adam'"),
        ({"select": "test_acc"}, r"`select` must be one of"),
        ({"std": "unbiased"}, r"`std` must be one of"),
        ({"epochs": 0}, r"`epochs` must be a positive int; got 0"),
        ({"lr": -1.0}, r"`lr` must be a positive number; got -1.0"),
        ({"weight_decay": -1e-3}, r"`weight_decay` must be a number >= 0"),
        ({"splits": [0, -1]}, r"`splits` must be a list of split indices"),
        ({"dataset": ""}, r"`dataset` must be a dataset name or a path"),
        ({"scheduler": {"kind": "step"}}, r"`scheduler` must be None"),
    ],
)
def test_config_rejects_bad_values(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        tiny(**kw)


def test_config_from_dict_unknown_key_suggests():
    with pytest.raises(
        ValueError, match=r"unknown config key 'epoch'\. Did you mean 'epochs'"
    ):
        RunConfig.from_dict({"model": "gcn", "dataset": TINY, "epoch": 3})
    with pytest.raises(ValueError, match=r"`dataset` is required"):
        RunConfig.from_dict({"model": "gcn"})


# -- registry -----------------------------------------------------------------------
def test_every_solver_name_builds():
    for name in SOLVER_NAMES:
        assert make_solver(name) is not None
    assert isinstance(make_solver("RK4"), RK4)
    assert isinstance(make_solver("Dopri5"), Dopri5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_and_runs(name):
    cfg = tiny(model=name, model_args={"hidden": 8} if "nsd" not in name else {})
    ds = load_dataset(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, ds)
    out = model(ds.x, ds.graph)
    assert out.shape == (ds.num_nodes, ds.num_classes)
    assert torch.isfinite(out).all()


def test_depth_args_map_layers_and_dt_onto_each_family():
    assert MODELS["pde-gcn-h"].depth_args(8, 0.5, {}) == {"layers": 8, "h": 0.5}
    assert MODELS["graphcon"].depth_args(4, None, {}) == {"layers": 4}
    # Families configured by an end time: T = layers * step.
    assert MODELS["graff"].depth_args(6, 0.25, {}) == {"time": 1.5, "step_size": 0.25}
    assert MODELS["grand-l"].depth_args(16, None, {}) == {"t1": 16.0, "dt0": 1.0}
    assert MODELS["gcn"].depth_args(32, None, {"hidden": 4}) == {
        "layers": 32,
        "hidden": 4,
    }
    with pytest.raises(ValueError, match=r"unit steps of a discrete network"):
        MODELS["gcn"].depth_args(2, 0.5, {})


def test_built_depth_matches_layers_times_dt():
    for name, layers, dt in (
        ("pde-gcn-d", 5, 0.4),
        ("graphcon", 3, 0.5),
        ("gcn", 4, None),
    ):
        cfg = tiny(model=name, layers=layers, dt=dt)
        model = build_model(cfg, load_dataset(cfg))
        assert model.depth == layers
        assert model.t1 == pytest.approx(layers * (dt or 1.0))
    cfg = tiny(model="grand-l", layers=6, solver="rk4", model_args={"hidden": 8})
    model = build_model(cfg, load_dataset(cfg))
    assert model.depth == 6 and isinstance(model.solver, RK4)


def test_grand_depth_without_fixed_solver_is_refused():
    cfg = tiny(model="grand-l", layers=6)
    with pytest.raises(ValueError, match=r"--layers/--dt need a fixed-step solver"):
        build_model(cfg, load_dataset(cfg))


def test_incompatible_solver_fails_fast_listing_alternatives():
    cfg = tiny(model="gcn", solver="leapfrog")
    with pytest.raises(
        ValueError, match=r"nonlinear first-order term.*euler, midpoint"
    ):
        build_model(cfg, load_dataset(cfg))
    cfg = tiny(model="pde-gcn-d", solver="crank-nicolson")
    with pytest.raises(ValueError, match=r"Solvers that accept it"):
        build_model(cfg, load_dataset(cfg))


def test_set_solver_swaps_controller_and_keeps_end_time():
    cfg = tiny(model="pde-gcn-d", layers=4, dt=0.5)
    ds = load_dataset(cfg)
    model = build_model(cfg, ds)
    set_solver(model, Dopri5(), rtol=1e-7, atol=1e-9)
    assert isinstance(model.controller, PIController) and model.t1 == 2.0
    set_solver(model, RK4(), dt=0.25)
    assert isinstance(model.controller, ConstantStep) and model.depth == 8
    check_compatible(model, Euler(), where="t")


def test_graphcon_keeps_step_dropout_when_swapped():
    from models.graphcon import StepDropout
    from solvers import SymplecticEuler

    cfg = tiny(model="graphcon")
    model = build_model(cfg, load_dataset(cfg))
    assert isinstance(model.solver, StepDropout)
    set_solver(model, SymplecticEuler(), where="t")
    assert isinstance(model.solver, StepDropout)


# -- training -----------------------------------------------------------------------
def test_train_one_selects_on_validation_and_records_honestly(tmp_path):
    cfg = tiny(model="pde-gcn-d", epochs=15, layers=3, dt=0.5, model_args={"hidden": 8})
    ds = load_dataset(cfg)
    res = train_one(cfg, ds, split=0, seed=3, run_dir=tmp_path)
    hist = read_json(tmp_path / "metrics.json")
    assert len(hist) == 15
    vals = [h["val_acc"] for h in hist]
    # Highest validation accuracy, earliest on ties; the test number is that epoch's.
    assert res.best_epoch == int(np.argmax(vals))
    assert res.test_acc == hist[res.best_epoch]["test_acc"]
    assert res.test_max == max(h["test_acc"] for h in hist)
    # Independent recomputation from the saved selected weights.
    model = build_model(cfg, ds)
    model.load_state_dict(load_checkpoint(tmp_path / "best.pt"))
    model.eval()
    with torch.no_grad():
        out = model(ds.x, ds.graph)
        sol = model.trajectory(ds.x, ds.graph, fn="energy")
    _, _, test = ds.split(0)
    acc = float((out[test].argmax(1) == ds.y[test]).double().mean())
    assert acc == res.test_acc
    assert res.energy_t1 == pytest.approx(float(sol.ys[-1]))
    assert read_json(tmp_path / "result.json")["test_acc"] == res.test_acc


def test_patience_stops_after_no_improvement(tmp_path):
    cfg = tiny(epochs=200, patience=3, lr=1e-9)
    res = train_one(cfg, load_dataset(cfg), split=0, seed=0, run_dir=tmp_path)
    hist = read_json(tmp_path / "metrics.json")
    assert res.stopped == "patience"
    assert len(hist) - 1 - res.best_epoch == 3


def test_select_on_val_loss(tmp_path):
    cfg = tiny(epochs=8, select="val_loss")
    res = train_one(cfg, load_dataset(cfg), split=0, seed=0, run_dir=tmp_path)
    hist = read_json(tmp_path / "metrics.json")
    assert res.best_epoch == int(np.argmin([h["val_loss"] for h in hist]))


def test_diverged_run_is_reported_not_hidden(tmp_path, monkeypatch):
    import models.experiments.train as train_mod

    real = train_mod.F.cross_entropy
    calls = {"n": 0}

    class Shim:
        def cross_entropy(self, input, target):  # noqa: A002 - torch's own names
            loss = real(input, target)
            if input.requires_grad:
                calls["n"] += 1
                if calls["n"] == 4:
                    return loss * float("nan")
            return loss

    monkeypatch.setattr(train_mod, "F", Shim())
    res = train_one(
        tiny(epochs=10), load_dataset(tiny()), split=0, seed=0, run_dir=tmp_path
    )
    assert res.stopped.startswith("diverged at epoch 3: training loss is nan")
    assert res.epochs == 3
    summary = summarise(tiny(), [res])
    assert summary["diverged"] == [f"split 0 seed 0: {res.stopped}"]


def test_unstable_explicit_step_fails_fast_and_can_be_overridden(tmp_path):
    cfg = tiny(model="pde-gcn-d", layers=2, dt=400.0)
    ds = load_dataset(cfg)
    with pytest.raises(
        UnstableStepError, match=r"dt <= .*; got dt = 400.*--allow-unstable"
    ):
        train_one(cfg, ds, split=0, seed=0, run_dir=tmp_path / "a")
    cfg = tiny(model="pde-gcn-d", layers=2, dt=400.0, allow_unstable=True, epochs=1)
    from solvers import StabilityWarning

    with pytest.warns(StabilityWarning, match=r"beyond its stability limit"):
        train_one(cfg, ds, split=0, seed=0, run_dir=tmp_path / "b")


def test_summary_std_is_population_or_sample(tmp_path):
    cfg = tiny(seeds=3, epochs=3)
    summary = run(cfg, tmp_path / "pop", plots=False)
    accs = np.array([r["test_acc"] for r in summary["results"]]) * 100
    assert summary["test_acc"]["std"] == pytest.approx(accs.std(ddof=0))
    summary = run(tiny(seeds=3, epochs=3, std="sample"), tmp_path / "s", plots=False)
    assert summary["test_acc"]["std"] == pytest.approx(accs.std(ddof=1))
    assert summary["test_acc"]["mean"] == pytest.approx(accs.mean())


def test_run_folder_layout_and_refuses_to_overwrite(tmp_path):
    cfg = tiny(seeds=2, epochs=3, published={"value": 50.0, "std": 1.0, "source": "x"})
    summary = run(cfg, tmp_path, plots=True)
    for f in (
        "config.json",
        "summary.json",
        "summary.md",
        "learning_curves.png",
        "energy.png",
    ):
        assert (tmp_path / f).is_file(), f
    for k in (0, 1):
        for f in ("metrics.json", "checkpoint.pt", "best.pt", "result.json"):
            assert (tmp_path / "runs" / f"split0-seed{k}" / f).is_file()
    assert summary["gap"] == pytest.approx(summary["test_acc"]["mean"] - 50.0)
    assert "Published: 50.0 ± 1.0" in (tmp_path / "summary.md").read_text()
    with pytest.raises(FileExistsError, match=r"Pass --resume"):
        run(cfg, tmp_path)
    with pytest.raises(ValueError, match=r"differences in \['epochs'\]"):
        run(tiny(seeds=2, epochs=4, published=cfg.published), tmp_path, resume=True)


def test_protocol_statement_names_splits_seeds_and_selection():
    cfg = tiny(seeds=4, patience=7, report_test_max=True)
    name, text = protocol_of(cfg, load_dataset(cfg))
    assert name == "single"
    assert "4 run(s)" in text and "7 epochs without improvement" in text
    assert "validation accuracy" in text and "population" in text
    assert "test-selected" in text


# -- checkpoints and resume ---------------------------------------------------------
def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.bin"
    atomic_write(target, lambda f: f.write(b"old"))

    def broken(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_rng_state_round_trip():
    import random

    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    state = get_rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


@pytest.mark.parametrize(
    "scheduler", [None, {"kind": "step", "step_size": 3, "gamma": 0.5}]
)
def test_resume_in_process_is_bit_identical(tmp_path, scheduler):
    cfg = tiny(
        model="pde-gcn-h", epochs=12, layers=3, checkpoint_every=4, scheduler=scheduler
    )
    ds = load_dataset(cfg)
    ref = train_one(cfg, ds, split=0, seed=5, run_dir=tmp_path / "ref")
    # Interrupt after 8 epochs: keep the epoch-8 checkpoint, then resume.
    part = tmp_path / "part"
    _train_until(cfg, ds, part, stop_after=8)
    res = train_one(cfg, ds, split=0, seed=5, run_dir=part, resume=True)
    _assert_same_run(tmp_path / "ref", part, ref, res)


def _train_until(cfg, ds, run_dir, stop_after):
    import models.experiments.train as train_mod

    real = train_mod.save_torch
    seen = {"n": 0}

    def save_then_stop(path, obj):
        real(path, obj)
        if path.name == "checkpoint.pt" and obj["loop"]["epoch"] >= stop_after:
            raise KeyboardInterrupt

    train_mod.save_torch = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            train_one(cfg, ds, split=0, seed=5, run_dir=run_dir)
    finally:
        train_mod.save_torch = real
    assert seen["n"] == 0
    assert not (run_dir / "result.json").exists()


def _assert_same_run(dir_a, dir_b, res_a=None, res_b=None):
    assert read_json(dir_a / "metrics.json") == read_json(dir_b / "metrics.json")
    wa, wb = load_checkpoint(dir_a / "best.pt"), load_checkpoint(dir_b / "best.pt")
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    ra, rb = read_json(dir_a / "result.json"), read_json(dir_b / "result.json")
    ra.pop("wall_s"), rb.pop("wall_s")
    assert ra == rb


@pytest.mark.slow
def test_killed_run_resumes_bit_identical(tmp_path):
    """A SIGKILLed and resumed `graphpde train` equals a run never interrupted.

    Every metric and weight is identical.
    """
    args = [
        "train",
        "--model",
        "pde-gcn-h",
        "--dataset",
        "csbm",
        "--layers",
        "4",
        "--epochs",
        "30",
        "--seeds",
        "2",
        "--checkpoint-every",
        "3",
        "--quiet",
        "--no-plots",
        "--dtype",
        "float64",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "models", *args]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, "--out", str(killed)], env=env, cwd=tmp_path)
    ckpt = killed / "runs" / "split0-seed0" / "checkpoint.pt"
    deadline = time.time() + 120
    while time.time() < deadline:
        if ckpt.exists():
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "runs" / "split0-seed0" / "result.json").exists(), (
        "the run finished before it could be killed; the test did not interrupt it"
    )
    done = subprocess.run(
        [*cmd[:4], "--out", str(killed), "--resume", "--quiet", "--no-plots"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    ref = tmp_path / "ref"
    subprocess.run(
        [*cmd, "--out", str(ref)],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    for k in (0, 1):
        _assert_same_run(
            ref / "runs" / f"split0-seed{k}", killed / "runs" / f"split0-seed{k}"
        )
    sa, sb = read_json(ref / "summary.json"), read_json(killed / "summary.json")
    assert sa["test_acc"] == sb["test_acc"]


# -- command line -------------------------------------------------------------------
def test_cli_unknown_names_exit_2_with_suggestion(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "pde-gcn-hh", "--dataset", TINY])
    assert e.value.code == 2
    assert "Did you mean 'pde-gcn-h'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", "--preset", "grand-l-corra"])
    assert e.value.code == 2
    assert "unknown preset" in capsys.readouterr().err


def test_cli_train_writes_run_and_prints_summary(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(
        [
            "train",
            "--model",
            "gcn",
            "--dataset",
            TINY,
            "--epochs",
            "3",
            "--out",
            str(out),
            "--quiet",
            "--no-plots",
            "--set",
            "hidden=8",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "Test accuracy" in text and str(out) in text
    assert read_json(out / "config.json")["model_args"] == {"hidden": 8}


def test_cli_directed_edges_are_refused_with_reason(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "gcn", "--dataset", TINY, "--edges", "directed"])
    assert "self-adjoint" in capsys.readouterr().err


def test_cli_self_loops_only_where_the_family_has_them(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--model", "gcn", "--dataset", TINY, "--self-loops", "yes"])
    assert "operator fixes them" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "stability", "presets"])
def test_cli_help_is_complete(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    if command != "presets":
        for flag in (
            "--model",
            "--dataset",
            "--solver",
            "--layers",
            "--dt",
            "--preset",
        ):
            assert flag in text


def test_cli_stability_prints_a_table(capsys):
    assert main(["stability", "--model", "pde-gcn-h", "--dataset", TINY]) == 0
    text = capsys.readouterr().out
    assert "dt_max" in text and "model at initialisation" in text


def test_python_m_models_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "models", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert "train" in done.stdout and "stability" in done.stdout


def test_npz_dataset_with_k_splits_runs_every_split(tmp_path):
    from graphops.datasets import csbm

    ds = csbm(60, 3, num_features=4, seed=1)
    rng = np.random.default_rng(0)
    masks = {"train_masks": [], "val_masks": [], "test_masks": []}
    for _ in range(3):
        order = rng.permutation(60)
        for key, part in zip(
            masks, (order[:30], order[30:45], order[45:]), strict=True
        ):
            m = np.zeros(60, bool)
            m[part] = True
            masks[key].append(m)
    path = tmp_path / "mine.npz"
    np.savez(
        path,
        x=ds.x.numpy(),
        y=ds.y.numpy(),
        edges=ds.graph.edge_index.numpy().T,
        **{k: np.stack(v) for k, v in masks.items()},
    )
    summary = run(tiny(dataset=str(path), epochs=3), tmp_path / "r", plots=False)
    assert summary["protocol"] == "file-splits"
    assert [r["split"] for r in summary["results"]] == [0, 1, 2]
    assert "the 3 split(s) of" in summary["protocol_statement"]


def test_resume_ignores_documentary_fields(tmp_path):
    cfg = tiny(epochs=3, provenance={"lr": "old text"})
    first = run(cfg, tmp_path, plots=False)
    fixed = tiny(epochs=3, provenance={"lr": "corrected text"}, description="new")
    again = run(fixed, tmp_path, resume=True, plots=False)
    assert again["test_acc"] == first["test_acc"]
    assert read_json(tmp_path / "config.json")["provenance"] == {"lr": "corrected text"}
    assert cfg.run_fields() == fixed.run_fields()


def test_cli_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "gcn", "--dataset", TINY, "--threads", "0"])
    assert e.value.code == 2
    assert "`--threads` must be >= 1; got 0" in capsys.readouterr().err


def test_training_warnings_are_reported_once_with_a_count(tmp_path):
    from solvers import StabilityWarning

    cfg = tiny(model="pde-gcn-d", layers=2, dt=400.0, allow_unstable=True, epochs=4)
    with pytest.warns(StabilityWarning) as record:
        res = train_one(cfg, load_dataset(cfg), split=0, seed=0, run_dir=tmp_path)
    assert len(record) == 1
    assert res.warnings >= 4
    assert f"{res.warnings} warning(s) while training" in str(record[0].message)
    assert "beyond its stability limit" in res.first_warning


# -- built-in generator specs (csbm, neighborsmatch, ringcliques) --------------------
def test_builtin_specs_build_the_generators_datasets():
    from graphops.datasets import csbm, neighbors_match, ring_of_cliques_task

    ds = load_dataset(tiny(dataset="neighborsmatch:depth=2,num_instances=30,seed=4"))
    ref = neighbors_match(2, 30, seed=4)
    assert torch.equal(ds.x, ref.x) and torch.equal(ds.y, ref.y)
    assert torch.equal(ds.train_mask, ref.train_mask)
    ds = load_dataset(
        tiny(dataset="ringcliques:num_cliques=4,distance=1,distractors=false")
    )
    ref = ring_of_cliques_task(4, 5, 1, num_instances=200, distractors=False)
    assert torch.equal(ds.x, ref.x) and torch.equal(ds.y, ref.y)
    ds = load_dataset(tiny(dataset="NeighborsMatch"))  # defaults, any case
    assert ds.num_nodes == 1000 * 15
    ds = load_dataset(tiny(dataset="csbm:num_nodes=50, homophily=0.3"))
    ref = csbm(50, 3, homophily=0.3, num_features=16, mean_degree=6.0)
    assert torch.equal(ds.x, ref.x)


@pytest.mark.parametrize(
    "spec, match",
    [
        ("neighborsmatch:radius=3", r"'neighborsmatch:\.\.\.' takes key=value pairs"),
        ("neighborsmatch:depth", r"takes key=value pairs with keys \['depth'"),
        ("neighborsmatch:depth=2.5", r"neighborsmatch `depth` must be a int"),
        ("ringcliques:distractors=maybe", r"`distractors` must be true or false"),
        ("ringcliques:distance=9", r"`distance` must be an int in \[1, 3\]"),
        ("csbm:homophily=high", r"csbm `homophily` must be a float"),
        ("neighborsmatch:depth=11", r"`depth` must be an int in \[1, 10\]"),
    ],
)
def test_builtin_specs_reject_bad_keys_and_values(spec, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(tiny(dataset=spec))


def test_cli_trains_on_neighborsmatch_with_a_single_split(tmp_path, capsys):
    out = tmp_path / "nm"
    code = main(
        [
            "train",
            "--dataset",
            "neighborsmatch:depth=2,num_instances=40",
            "--model",
            "gcn",
            "--epochs",
            "2",
            "--out",
            str(out),
            "--quiet",
            "--no-plots",
        ]
    )
    assert code == 0
    assert "Test accuracy" in capsys.readouterr().out
    summary = read_json(out / "summary.json")
    assert summary["protocol"] == "single" and summary["runs"] == 1
    hist = read_json(out / "runs" / "split0-seed0" / "metrics.json")
    assert len(hist) == 2 and 0.0 <= hist[-1]["train_acc"] <= 100.0


def test_resume_from_a_kept_record_without_large_files(tmp_path):
    """Only config.json and the runs' result.json kept (the committed record).

    The finished runs are read back, the missing one is trained from scratch,
    the plots use what is there, and wall_s counts the recorded runs' time.
    """
    cfg = tiny(epochs=3, seeds=3)
    full = run(cfg, tmp_path / "full", plots=False)
    kept = tmp_path / "kept"
    (kept / "runs").mkdir(parents=True)
    (kept / "config.json").write_text((tmp_path / "full" / "config.json").read_text())
    for name in ("split0-seed0", "split0-seed1"):  # the third run never finished
        (kept / "runs" / name).mkdir()
        src = tmp_path / "full" / "runs" / name / "result.json"
        (kept / "runs" / name / "result.json").write_text(src.read_text())
    recorded = sum(r["wall_s"] for r in full["results"][:2])
    t0 = time.perf_counter()
    again = run(cfg, kept, resume=True, plots=True)
    call = time.perf_counter() - t0
    # Bit-identical: the two kept runs are read back, the third is retrained
    # from its seed exactly as in the uninterrupted protocol.
    assert again["test_acc"] == full["test_acc"]
    assert [r["test_acc"] for r in again["results"]] == [
        r["test_acc"] for r in full["results"]
    ]
    assert recorded <= again["wall_s"] <= recorded + call
    assert (kept / "learning_curves.png").exists()  # from the one run with metrics
    assert not (kept / "energy.png").exists()  # split 0 seed 0 has no best.pt
