"""``graphpde sweep``: depth, step and solver sweeps (tiny csbm, float64, CPU)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from models.experiments import cli, sweep, train
from models.experiments.config import RunConfig
from models.experiments.data import load_dataset
from models.experiments.registry import make_solver, set_solver
from models.experiments.runfolder import load_checkpoint, read_json
from solvers import SolveFailed

DATA = "csbm:num_nodes=60"


def _base(**kw):
    args = {
        "model": "gcn",
        "dataset": DATA,
        "dtype": "float64",
        "epochs": 3,
        "model_args": {"hidden": 8},
    }
    args.update(kw)
    return RunConfig(**args)


@pytest.fixture(scope="module")
def layers_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("layers") / "sweep"
    result = sweep.layers_sweep(_base(), ["gcn", "pde-gcn-h"], [2, 3], out)
    return out, result


@pytest.mark.slow
def test_layers_sweep_cells_table_json_png(layers_out):
    out, result = layers_out
    for name in ("sweep.md", "sweep.json", "sweep.png", "sweep-config.json"):
        assert (out / name).is_file(), name
    saved = read_json(out / "sweep.json")
    cells = {(c["model"], c["layers"]) for c in saved["cells"]}
    assert cells == {("gcn", 2), ("gcn", 3), ("pde-gcn-h", 2), ("pde-gcn-h", 3)}
    for cell in saved["cells"]:
        assert cell["status"] == "ok"
        folder = out / cell["folder"]
        assert cell["folder"] == f"{cell['model']}/layers-{cell['layers']}"
        assert read_json(folder / "config.json")["layers"] == cell["layers"]
        runs = sorted((folder / "runs").glob("*/result.json"))
        assert len(runs) == 1
        result = read_json(runs[0])
        assert cell["energy_t1"] == result["energy_t1"]
        assert cell["test_acc"]["mean"] == pytest.approx(100 * result["test_acc"])
    table = (out / "sweep.md").read_text()
    assert "| gcn |" in table and "| pde-gcn-h |" in table
    assert "layers 2 | layers 3" in table
    assert "Final Dirichlet energy" in table


@pytest.mark.slow
def test_resume_skips_finished_cells(layers_out, tmp_path, monkeypatch):
    src, _ = layers_out
    out = tmp_path / "copy"
    shutil.copytree(src, out)

    def refuse(*args, **kwargs):
        raise AssertionError("a finished cell was retrained")

    monkeypatch.setattr(train, "run", refuse)
    result = sweep.layers_sweep(
        _base(), ["gcn", "pde-gcn-h"], [2, 3], out, resume=True, plots=False
    )
    assert all(c.get("resumed") for c in result["cells"])
    # An unfinished cell (no summary.json) is the only one that runs again.
    (out / "gcn" / "layers-3" / "summary.json").unlink()
    calls = []
    monkeypatch.undo()
    real = train.run

    def count(cfg, folder, **kwargs):
        calls.append(folder)
        return real(cfg, folder, **kwargs)

    monkeypatch.setattr(train, "run", count)
    sweep.layers_sweep(
        _base(), ["gcn", "pde-gcn-h"], [2, 3], out, resume=True, plots=False
    )
    assert [p.relative_to(out).as_posix() for p in calls] == ["gcn/layers-3"]


@pytest.mark.slow
def test_sweep_folder_is_not_overwritten(layers_out):
    out, _ = layers_out
    with pytest.raises(FileExistsError, match="must be a new folder"):
        sweep.layers_sweep(_base(), ["gcn", "pde-gcn-h"], [2, 3], out, plots=False)
    with pytest.raises(ValueError, match=r"must match .*differences in \['values'\]"):
        sweep.layers_sweep(
            _base(), ["gcn", "pde-gcn-h"], [2, 4], out, resume=True, plots=False
        )


def test_grand_depth_uses_rk4_step_1(tmp_path):
    base = _base(epochs=1)
    cells, notes = sweep._cells(base, "layers", ["grand", "gcn"], [3], None)
    assert [c["solver"] for c in cells] == ["rk4", None]
    assert "fixed-step RK4 with step 1" in notes[0]
    ds = load_dataset(base)
    model = train.build_model(cells[0]["cfg"], ds)
    assert (model.t1, model.dt0, model.depth) == (3.0, 1.0, 3)
    # An explicit --solver is kept, and no note is added.
    cells, notes = sweep._cells(_base(solver="euler"), "layers", ["grand"], [3], None)
    assert cells[0]["solver"] == "euler" and notes == []


def test_dt_layers():
    assert sweep.dt_layers(8.0, 0.5) == 16
    assert sweep.dt_layers(1.0, 1 / 3) == 3
    with pytest.raises(ValueError, match=r"whole number of steps .*T / dt = 3\.33"):
        sweep.dt_layers(1.0, 0.3)
    with pytest.raises(ValueError, match="positive number"):
        sweep.dt_layers(1.0, -0.5)
    with pytest.raises(TypeError, match="must be a number"):
        sweep.dt_layers("8", 0.5)


def test_dt_sweep_refuses_a_family_without_a_step(tmp_path):
    with pytest.raises(ValueError, match="no step-size parameter"):
        sweep.dt_sweep(_base(), ["gcn"], [1.0], 2.0, tmp_path / "x")
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_dt_sweep_cli(tmp_path, capsys):
    out = tmp_path / "dt"
    argv = ["sweep", "--param", "dt", "--values", "1,0.5", "--model", "pde-gcn-h"]
    argv += ["--t-end", "2", "--dataset", DATA, "--dtype", "float64"]
    argv += ["--epochs", "2", "--hidden", "8", "--out", str(out), "--quiet"]
    argv += ["--no-plots"]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Step sweep at T = 2" in printed
    saved = read_json(out / "sweep.json")
    got = [(c["dt"], c["layers"]) for c in saved["cells"]]
    assert got == [(1.0, 2), (0.5, 4)]
    cfg = read_json(out / "pde-gcn-h" / "dt-0.5" / "config.json")
    assert (cfg["dt"], cfg["layers"]) == (0.5, 4)
    assert not (out / "sweep.png").exists()


# -- solver sweep --------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    runs = {}
    for name, kw in (
        ("pde-gcn-h", {"layers": 2, "seeds": 2}),
        ("gcn", {"layers": 2}),
    ):
        cfg = _base(model=name, epochs=5, **kw)
        train.run(cfg, root / name, plots=False)
        runs[name] = root / name
    return runs


def _row(result, label):
    return next(r for r in result["rows"] if r["label"] == label)


def test_solver_sweep_own_solver_reproduces_training(trained, tmp_path):
    run = trained["pde-gcn-h"]
    result = sweep.solver_sweep(run, tmp_path / "s")
    for name in ("sweep.md", "sweep.json", "sweep.png"):
        assert (tmp_path / "s" / name).is_file()
    own = result["rows"][0]
    assert own["own"] and own["label"].startswith("own: TwoStepLeapfrog")
    recorded = [read_json(p) for p in sorted(run.glob("runs/*/result.json"))]
    assert own["test_acc"]["mean"] == pytest.approx(
        100 * np.mean([r["test_acc"] for r in recorded])
    )
    assert own["val_acc"]["mean"] == pytest.approx(
        100 * np.mean([r["val_acc"] for r in recorded])
    )
    # Independent check: rebuild the selected model and evaluate it directly.
    cfg = RunConfig.from_dict(read_json(run / "config.json"))
    ds = load_dataset(cfg)
    for r in recorded:
        model = train.build_model(cfg, ds)
        path = run / "runs" / f"split{r['split']}-seed{r['seed'] - cfg.seed}"
        model.load_state_dict(load_checkpoint(path / "best.pt"))
        model.eval()
        with torch.no_grad():
            out = model(ds.x, ds.graph)
        _, _, test = ds.split(r["split"])
        acc = float((out[test].argmax(1) == ds.y[test]).double().mean())
        assert acc == r["test_acc"]
        # Dopri5 at tight tolerance and RK4 at dt/2 approximate the same ODE.
        logits = {}
        for label, name, dt, tol in (
            ("rk4", "rk4", model.dt0 / 2, None),
            ("dopri5", "dopri5", None, (1e-6, 1e-9)),
        ):
            m = train.build_model(cfg, ds)
            m.load_state_dict(model.state_dict())
            m.eval()
            kw = {} if tol is None else {"rtol": tol[0], "atol": tol[1]}
            set_solver(m, make_solver(name), dt=dt, **kw)
            with torch.no_grad():
                logits[label] = m(ds.x, ds.graph)
        diff = float((logits["rk4"] - logits["dopri5"]).abs().max())
        assert diff < 1e-2 * float(logits["dopri5"].abs().max())
    assert _row(result, "rk4 dt/2")["ode_error"] == pytest.approx(diff, abs=1e-6)
    assert _row(result, sweep._REFERENCE)["ode_error"] == 0.0
    # The wave equation: Euler has no stable step; adaptive rows have no verdict.
    assert _row(result, "euler dt")["inside"] is False
    assert _row(result, "euler dt")["dt_max"] == 0.0
    assert _row(result, "dopri5 rtol=0.001")["inside"] is None
    assert _row(result, "rk4 dt/2")["nfe"] == 4 * 2 * model.depth
    for label in ("implicit-euler dt", "crank-nicolson dt"):
        row = _row(result, label)
        assert row["status"] == "skipped"
        assert "needs a linear term; PDEGCNHyperbolic is second order" in row["reason"]
    table = (tmp_path / "s" / "sweep.md").read_text()
    assert "| implicit-euler dt | " in table and "skipped: needs a linear" in table


def test_solver_sweep_first_order_model_skips_leapfrogs(trained, tmp_path):
    result = sweep.solver_sweep(trained["gcn"], tmp_path / "s", plots=False)
    for label in ("leapfrog dt", "two-step-leapfrog dt", "symplectic-euler dt"):
        row = _row(result, label)
        assert row["status"] == "skipped"
        assert "needs a second-order term; GCNTerm is nonlinear" in row["reason"]
    # GCN's own solver is Euler with h = 1: that row is marked as the model's own.
    assert _row(result, "euler dt")["own"] is True
    assert _row(result, "euler dt")["test_acc"] == result["rows"][0]["test_acc"]
    # GCN has per-layer weights (h = 1): the solve lands on every layer boundary,
    # so the requested 2dt runs at dt and repeats that row exactly.
    twice, once = _row(result, "rk4 2dt"), _row(result, "rk4 dt")
    assert twice["dt"] == 2.0 and twice["dt_taken"] == 1.0
    assert twice["nfe"] == once["nfe"] == 4 * 2
    assert twice["test_acc"] == once["test_acc"]
    assert twice["ode_error"] == once["ode_error"]
    assert twice["inside"] == once["inside"]
    assert _row(result, "rk4 dt/2")["dt_taken"] == 0.5
    assert any("lands a step on each" in n for n in result["notes"])
    assert "| rk4 2dt | 2 -> 1 |" in sweep.format_sweep(result)


def test_solver_sweep_reports_failures(trained, tmp_path, monkeypatch):
    real = sweep._evaluate

    def flaky(model, ds, result, cfg):
        if repr(model.solver) == "Heun()" and model.dt0 == 1.0:
            raise SolveFailed("Heun failed at t=0.5: step budget exhausted", None)
        if repr(model.solver) == "RK4()" and model.dt0 == 4.0:
            for p in model.decoder.parameters():
                p.data.fill_(float("nan"))
        return real(model, ds, result, cfg)

    monkeypatch.setattr(sweep, "_evaluate", flaky)
    result = sweep.solver_sweep(trained["pde-gcn-h"], tmp_path / "s")
    heun = _row(result, "heun dt/2")
    assert heun["status"] == "failed"
    assert heun["message"] == (
        "2/2 runs: SolveFailed: Heun failed at t=0.5: step budget exhausted"
    )
    rk4 = _row(result, "rk4 2dt")
    assert rk4["status"] == "failed" and "non-finite output" in rk4["message"]
    assert _row(result, "rk4 dt")["status"] == "ok"
    table = (tmp_path / "s" / "sweep.md").read_text()
    assert "failed: 2/2 runs: SolveFailed" in table
    assert (tmp_path / "s" / "sweep.png").is_file()


def test_solver_sweep_needs_a_finished_run(tmp_path, trained):
    with pytest.raises(FileNotFoundError, match="with config.json"):
        sweep.solver_sweep(tmp_path / "nothing", tmp_path / "s")
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(trained["gcn"] / "config.json", half / "config.json")
    with pytest.raises(FileNotFoundError, match="no finished run"):
        sweep.solver_sweep(half, tmp_path / "s")
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "sweep.json").write_text(json.dumps({}))
    with pytest.raises(FileExistsError, match="holds a sweep already"):
        sweep.solver_sweep(trained["gcn"], tmp_path / "done")
    with pytest.raises(ValueError, match="`--dt` must hold positive numbers"):
        sweep.solver_sweep(trained["gcn"], tmp_path / "s2", dt=-1.0)


# -- command-line errors -------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--param", "layer"], "unknown --param value 'layer'. Did you mean 'layers'?"),
        (
            ["--param", "layers", "--values", "2", "--models", "gcnn,pde-gcn-h"],
            "unknown model 'gcnn'. Did you mean 'gcn'?",
        ),
        (["--param", "layers", "--models", "gcn"], "`--values` must list"),
        (["--param", "layers", "--values", "2"], "`--models` must name"),
        (
            ["--param", "layers", "--values", "2,x", "--models", "gcn"],
            "`--values` must hold positive integers",
        ),
        (
            ["--param", "layers", "--values", "2", "--model", "gcn", "--layers", "4"],
            "`--layers` must be left unset",
        ),
        (
            ["--param", "layers", "--values", "2", "--model", "gcn", "--t-end", "4"],
            "`--t-end` belongs to `--param dt`",
        ),
        (
            ["--param", "dt", "--values", "1", "--model", "pde-gcn-h"],
            "`--t-end` .* is required",
        ),
        (
            [
                "--param",
                "dt",
                "--values",
                "0,1",
                "--model",
                "pde-gcn-h",
                "--t-end",
                "2",
            ],
            "`--values` must hold positive numbers",
        ),
        (
            ["--param", "dt", "--values", "1", "--model", "pde-gcn-h", "--t-end", "2"]
            + ["--dt", "0.5"],
            "`--dt` must be left unset",
        ),
        (
            ["--param", "dt", "--values", "0.3", "--model", "pde-gcn-h"]
            + ["--t-end", "1"],
            "whole number of steps",
        ),
        (["--param", "solver"], "`--param solver` needs `--run`"),
        (
            ["--param", "solver", "--run", "x", "--model", "gcn", "--epochs", "3"],
            "run options must be left unset .*got --epochs, --model",
        ),
        (
            ["--param", "layers", "--values", "2", "--model", "gcn", "--run", "x"],
            "`--run` belongs to `--param solver`",
        ),
        (
            ["--param", "layers", "--values", "2", "--models", "gcn,pde-gcn-h"]
            + ["--dt", "0.5"],
            "no step-size parameter.*sweep cell gcn/layers-2",
        ),
    ],
)
def test_cli_errors(argv, message, capsys, tmp_path):
    argv = ["sweep", *argv, "--out", str(tmp_path / "o")]
    if "--dataset" not in argv and "solver" not in argv:
        argv += ["--dataset", DATA]
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("graphpde sweep: error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "o").exists()


def test_help_documents_the_three_sweeps(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    text = capsys.readouterr().out
    for word in ("--param layers", "--param dt", "--param solver", "--t-end", "--run"):
        assert word in text


def test_solver_sweep_states_a_missing_or_rough_stability_estimate(
    trained, tmp_path, monkeypatch
):
    real = sweep._stable_steps

    def rough(model, ds, cfg, entries):
        steps = real(model, ds, cfg, entries)
        steps["warning"] = "the eigenvalue estimate did not converge"
        return steps

    monkeypatch.setattr(sweep, "_stable_steps", rough)
    result = sweep.solver_sweep(trained["gcn"], tmp_path / "a", plots=False)
    assert "did not converge for 1/1 run(s)" in result["notes"][0]
    assert "did not converge for 1/1" in (tmp_path / "a" / "sweep.md").read_text()
    monkeypatch.setattr(sweep, "_stable_steps", lambda *a: {"error": "jvp failed"})
    result = sweep.solver_sweep(trained["gcn"], tmp_path / "b", plots=False)
    row = _row(result, "rk4 dt")
    assert row["inside"] is None and row["dt_max"] is None
    assert row["stability_note"] == "no stability estimate: jvp failed"
