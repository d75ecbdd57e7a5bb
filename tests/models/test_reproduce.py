"""``graphpde reproduce``: rows, smoke runs, the table, gaps, skips, resume, errors.

Most tests replace the dataset loader by a small csbm graph with the real
dataset's feature and class counts (no files), so they run the real pipeline
(``train.run`` on the preset's model) in seconds; one slow test runs two rows
on the real files when they are present.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from graphops.datasets import csbm
from graphops.datasets._registry import ALIASES, SPECS
from models.experiments import cli
from models.experiments import reproduce as rp
from models.experiments import train as training
from models.experiments.config import RunConfig, load_preset

ROWS = ["graff-texas", "gcn-cora", "graphcon-cornell"]


def _standin_loader(cfg, *, dtype=None):
    """``load_dataset`` replacement: a 60-node csbm with the dataset's F and C."""
    key = cfg.dataset.lower()
    spec = SPECS[ALIASES.get(key, key)]
    return csbm(
        60,
        spec.num_classes,
        num_features=spec.num_features,
        seed=1,
        dtype=getattr(torch, cfg.dtype) if dtype is None else dtype,
    )


@pytest.fixture
def standin(monkeypatch, tmp_path):
    """Every dataset is a small stand-in; a data root is set (unused)."""
    monkeypatch.setattr(training, "load_dataset", _standin_loader)
    monkeypatch.setenv("GRAPHPDE_DATA", str(tmp_path))


def _cfg(name):
    return RunConfig.from_dict(load_preset(name))


def test_rows_are_the_presets_with_a_published_number():
    rows = rp.table_configs()
    assert "grand-l-cora" in rows and "gcnii-full-texas" in rows
    assert "pde-gcn-d-cora-semi" not in rows
    assert all(cfg.published["value"] is not None for cfg in rows.values())


def test_smoke_rows_on_standins(standin, tmp_path):
    out = tmp_path / "out"
    res = rp.reproduce(ROWS, out, smoke=True, plots=False)
    rows = res["rows"]
    assert res["mode"] == "smoke" and [r["status"] for r in rows] == ["done"] * 3
    # Cheapest first.
    costs = [r["cost"] for r in rows]
    assert costs == sorted(costs) and {r["name"] for r in rows} == set(ROWS)
    for r in rows:
        assert r["runs"] == 1 and 0.0 <= r["mean"] <= 100.0
        # gap = ours - published, in points.
        assert r["gap"] == pytest.approx(r["mean"] - r["published"]["value"])
        summary = json.loads((out / r["name"] / "summary.json").read_text())
        assert summary["results"][0]["epochs"] == rp.SMOKE_EPOCHS
        assert r["note"] == ""  # smoke rows get no gap reasons
    saved = json.loads((out / "reproduce.json").read_text())
    assert [r["name"] for r in saved["rows"]] == [r["name"] for r in rows]
    md = (out / "reproduce.md").read_text()
    assert "smoke mode" in md and "| graff-texas | graff | texas |" in md


def test_table_format_and_cells():
    recs = [
        {
            "name": "a-cora",
            "model": "gcn",
            "dataset": "cora",
            "status": "done",
            "protocol": "planetoid-public",
            "select": "val_loss",
            "std_kind": "population",
            "runs": 10,
            "mean": 80.123,
            "std": 0.456,
            "published": {"value": 81.5, "std": None},
            "gap": -1.377,
            "wall_s": 150.0,
            "note": "",
        },
        {
            "name": "b-pubmed",
            "model": "gcnii",
            "dataset": "pubmed",
            "status": "skipped",
            "reason": "data missing: no allx",
            "select": "val_loss",
            "std_kind": "population",
            "published": {"value": 90.3, "std": 0.4},
        },
    ]
    lines = rp.format_table(recs).strip().splitlines()
    assert lines[0].startswith("| preset | model | dataset | protocol | runs |")
    assert all(line.count("|") == 11 for line in lines)
    assert (
        "| a-cora | gcn | cora | planetoid-public, val loss, pop. std | 10 | "
        "80.12 ± 0.46 | 81.50 | -1.38 | 2.5 min |  |" == lines[2]
    )
    assert "| skipped | 90.30 ± 0.40 |" in lines[3]
    assert lines[3].endswith("| data missing: no allx |")


def test_gap_note_threshold_and_reasons():
    pde = _cfg("pde-gcn-d-texas")
    assert rp.gap_note(pde, -1.5) == "" and rp.gap_note(pde, 1.49) == ""
    note = rp.gap_note(pde, -4.0, test_max=92.5)
    assert "test accuracy" in note and "§2.7" in note and "92.50" in note
    assert "end time" in note
    assert "end time" in rp.gap_note(_cfg("pde-gcn-h-cornell"), -30.0)
    assert "§3.3" in rp.gap_note(_cfg("grand-l-cora"), -2.0)
    assert "directed" in rp.gap_note(_cfg("graphcon-texas"), 3.0)
    assert "NF" in rp.gap_note(_cfg("nsd-diag-film"), -9.0)
    assert "NF" not in rp.gap_note(_cfg("nsd-diag-cornell"), -9.0)
    assert rp.gap_note(pde, float("nan")) == ""


def test_full_mode_notes_carry_the_reason_and_test_max(standin, tmp_path, monkeypatch):
    cfg = _cfg("pde-gcn-d-texas")

    def fake_run(cfg, out, **kw):
        return {
            "protocol": "geom-gcn-10",
            "protocol_statement": "10 splits",
            "runs": 10,
            "test_acc": {"mean": 80.0, "std": 2.0},
            "val_acc": {"mean": 81.0, "std": 2.0},
            "test_max": {"mean": 85.0, "std": 1.0},
            "gap": 80.0 - cfg.published["value"],
            "energy_t1": 1.0,
            "diverged": [],
            "wall_s": 3.0,
        }

    monkeypatch.setattr(training, "run", fake_run)
    res = rp.reproduce(["pde-gcn-d-texas"], tmp_path / "o", plots=False)
    (row,) = res["rows"]
    assert row["gap"] == pytest.approx(80.0 - cfg.published["value"])
    assert "§2.7" in row["note"] and "test max 85.00" in row["note"]
    md = (tmp_path / "o" / "reproduce.md").read_text()
    assert "full protocols" in md and "test max 85.00" in md


def test_rows_without_data_are_skipped_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("GRAPHPDE_DATA", raising=False)
    res = rp.reproduce(["gcn-cora"], tmp_path / "a", smoke=True, plots=False)
    (row,) = res["rows"]
    assert row["status"] == "skipped" and "no data root" in row["reason"]
    empty = tmp_path / "empty"
    empty.mkdir()
    res = rp.reproduce(
        ["gcn-cora"], tmp_path / "b", smoke=True, data_root=str(empty), plots=False
    )
    (row,) = res["rows"]
    assert row["status"] == "skipped" and row["reason"].startswith("data missing")
    assert "skipped" in (tmp_path / "b" / "reproduce.md").read_text()


def test_a_failing_row_is_reported_and_the_others_run(standin, tmp_path, monkeypatch):
    real_run = training.run

    def run(cfg, out, **kw):
        if cfg.model == "gcn":
            raise RuntimeError("solver gave up\nsecond line")
        return real_run(cfg, out, **kw)

    monkeypatch.setattr(training, "run", run)
    res = rp.reproduce(["gcn-cora", "graff-texas"], tmp_path, smoke=True, plots=False)
    status = {r["name"]: (r["status"], r["reason"]) for r in res["rows"]}
    assert status["gcn-cora"] == ("failed", "RuntimeError: solver gave up")
    assert status["graff-texas"][0] == "done"


def test_resume_reuses_finished_rows(standin, tmp_path, monkeypatch):
    out = tmp_path / "out"
    first = rp.reproduce(["gcn-cora"], out, smoke=True, plots=False)
    with pytest.raises(FileExistsError, match="--resume"):
        rp.reproduce(["gcn-cora"], out, smoke=True, plots=False)

    def no_run(*a, **k):
        raise AssertionError("a finished row was run again")

    monkeypatch.setattr(training, "run", no_run)
    again = rp.reproduce(["gcn-cora"], out, smoke=True, resume=True, plots=False)
    (a,), (b,) = first["rows"], again["rows"]
    assert b["reused"] is True and a["reused"] is False
    assert (b["mean"], b["std"], b["wall_s"]) == (a["mean"], a["std"], a["wall_s"])


def test_resume_continues_an_unfinished_row(standin, tmp_path):
    out = tmp_path / "out"
    rp.reproduce(["gcn-cora"], out, smoke=True, plots=False)
    (out / "gcn-cora" / "summary.json").unlink()
    res = rp.reproduce(["gcn-cora"], out, smoke=True, resume=True, plots=False)
    (row,) = res["rows"]
    assert row["status"] == "done" and row["reused"] is False


def test_depth_configs_and_table():
    cfgs = rp.depth_configs()
    assert len(cfgs) == len(rp.DEPTH_MODELS) * 2 * len(rp.DEPTH_LAYERS)
    c = cfgs["depth-pde-gcn-h-citeseer-L64"]
    assert (c.model, c.dataset, c.layers, c.published) == (
        "pde-gcn-h",
        "citeseer",
        64,
        None,
    )
    assert c.model_args["h"] == 2.0 and "NF" in c.provenance["layers"]
    assert rp.depth_configs(layers=(2,), seeds=3)["depth-gcn-cora-L2"].seeds == 3
    recs = [
        {
            "model": "gcn",
            "dataset": "cora",
            "layers": n,
            "status": "done",
            "mean": 80.0 - n,
            "std": 1.0,
            "energy_t1": 10.0 / n,
            "diverged": [],
        }
        for n in (2, 4)
    ]
    recs.append({"model": "gcnii", "dataset": "cora", "layers": 4, "status": "failed"})
    text = rp.format_depth(recs)
    assert "| model | dataset | L=2 | L=4 |" in text
    assert "| gcn | cora | 78.0 ± 1.0 | 76.0 ± 1.0 |" in text
    assert "| gcnii | cora |  | failed |" in text
    assert "| gcn | cora | 5 | 2.5 |" in text


def _small_depth(seeds=None, **_):
    """GCN and GCNII on the Cora stand-in at 2 and 4 layers."""
    out = {}
    for name in ("gcn-cora", "gcnii-cora"):
        base = RunConfig.from_dict(load_preset(name))
        for n in (2, 4):
            out[f"depth-{name}-L{n}"] = dataclasses.replace(
                base, name=f"depth-{name}-L{n}", layers=n, published=None
            )
    return out


@pytest.mark.slow
def test_depth_smoke_on_standins(standin, tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "depth_configs", _small_depth)
    res = rp.reproduce([], tmp_path, depth=True, smoke=True, plots=False)
    assert res["rows"] == [] and len(res["depth"]) == 4
    assert all(r["status"] == "done" for r in res["depth"])
    text = (tmp_path / "reproduce.md").read_text()
    assert "## Depth" in text and "| gcnii | cora |" in text


def test_estimated_cost_orders_by_work():
    cost = {
        n: rp.estimated_cost(_cfg(n))
        for n in ("gcn-cora", "gcnii-cora", "graff-texas", "graff-squirrel")
    }
    assert cost["graff-texas"] < cost["graff-squirrel"]
    assert cost["gcn-cora"] < cost["gcnii-cora"]
    smoke = rp._smoke(_cfg("gcnii-cora"))
    assert rp.estimated_cost(smoke) < cost["gcnii-cora"]


def test_reproduce_api_errors(tmp_path):
    with pytest.raises(ValueError, match="Did you mean 'graff-texas'"):
        rp.reproduce(["graff-texs"], tmp_path)
    with pytest.raises(ValueError, match="nothing to run"):
        rp.reproduce([], tmp_path)


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--rows", "graff-texs", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "Did you mean 'graff-texas'?" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert "rows to run must be given" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--depth", "--depth-seeds", "0"])
    assert exc.value.code == 2
    assert "`--depth-seeds` must be a positive int" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--all", "--threads", "0"])
    assert exc.value.code == 2
    assert "`--threads` must be >= 1; got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--all", "--rows", "gcn-cora"])
    assert "not allowed with" in capsys.readouterr().err


def test_cli_help_and_run(standin, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["reproduce", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--smoke" in text and "--resume" in text and "graphpde reproduce" in text
    out = tmp_path / "o"
    code = cli.main(
        ["reproduce", "--rows", "gcn-cora", "--smoke", "--out", str(out), "--no-plots"]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "[1/1] gcn-cora:" in printed and "1 done" in printed
    assert (out / "reproduce.md").exists()


def test_cli_exit_status_1_when_a_row_fails(standin, tmp_path, monkeypatch, capsys):
    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(training, "run", boom)
    code = cli.main(
        [
            "reproduce",
            "--rows",
            "gcn-cora",
            "--smoke",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "failed: gcn-cora: RuntimeError: boom" in captured.err
    assert "[1/1]" not in captured.out


@pytest.mark.slow
def test_smoke_on_real_data(shared_data, tmp_path):
    res = rp.reproduce(
        ["graff-texas", "gcn-cora"],
        tmp_path,
        smoke=True,
        data_root=str(shared_data),
        plots=False,
    )
    rows = {r["name"]: r for r in res["rows"]}
    assert all(r["status"] == "done" for r in rows.values())
    assert rows["graff-texas"]["protocol"] == "geom-gcn-10"
    assert rows["gcn-cora"]["protocol"] == "planetoid-public"


def test_table_only_trains_nothing_and_lists_unfinished_rows(tmp_path, monkeypatch):
    from models.experiments import reproduce as rep
    from models.experiments import train as training

    def no_training(*a, **k):
        raise AssertionError("--table-only must not train")

    monkeypatch.setattr(training, "run", no_training)
    started = tmp_path / "graff-texas"
    (started / "runs" / "split0-seed0").mkdir(parents=True)
    (started / "runs" / "split0-seed0" / "result.json").write_text("{}")
    (started / "config.json").write_text("{}")
    result = rep.reproduce(
        ["graff-texas", "graff-cornell"], tmp_path, table_only=True, plots=False
    )
    by = {r["name"]: r for r in result["rows"]}
    assert by["graff-texas"]["status"] == "not run"
    assert "interrupted: 1 run(s) finished" in by["graff-texas"]["reason"]
    assert by["graff-cornell"]["reason"] == "not run yet"
    assert "not run" in (tmp_path / "reproduce.md").read_text()


def test_table_only_reports_an_interrupted_row_as_partial(tmp_path, monkeypatch):
    """An interrupted row: mean ± population std of its runs, "k of n", no gap."""
    import numpy as np

    monkeypatch.setattr(training, "run", lambda *a, **k: pytest.fail("trained"))
    cfg = rp.table_configs()["graff-texas"]
    row = tmp_path / "graff-texas"
    row.mkdir()
    (row / "config.json").write_text(json.dumps(cfg.to_dict()))
    accs = [0.80, 0.85, 0.9]
    for split, acc in enumerate(accs):
        run = row / "runs" / f"split{split}-seed{split * 1000}"
        run.mkdir(parents=True)
        res = training.RunResult(
            split=split,
            seed=split * 1000,
            best_epoch=3,
            val_acc=0.7,
            val_loss=0.5,
            test_acc=acc,
            test_max=acc + 0.01,
            epochs=10,
            stopped="patience",
            energy_t0=2.0,
            energy_t1=1.0,
            nfe=4,
            wall_s=10.0 + split,
        )
        (run / "result.json").write_text(json.dumps(res.to_dict()))
    result = rp.reproduce(["graff-texas"], tmp_path, table_only=True, plots=False)
    (rec,) = result["rows"]
    assert rec["status"] == "partial"
    assert (rec["runs"], rec["runs_expected"]) == (3, 10)
    assert rec["mean"] == pytest.approx(np.mean(accs) * 100)
    assert rec["std"] == pytest.approx(np.std(accs) * 100)  # population, as the preset
    assert rec["wall_s"] == pytest.approx(33.0)
    assert rec.get("gap") is None
    table = (tmp_path / "reproduce.md").read_text()
    line = next(x for x in table.splitlines() if x.startswith("| graff-texas"))
    assert "partial: 85.00 ± 4.08" in line and "| 3 of 10 |" in line
    assert "not the protocol's number" in line and "--resume" in line
    # Results of another configuration are not mixed in: listed as not run.
    other = dataclasses.replace(cfg, lr=cfg.lr * 2)
    (row / "config.json").write_text(json.dumps(other.to_dict()))
    result = rp.reproduce(["graff-texas"], tmp_path, table_only=True, plots=False)
    assert result["rows"][0]["status"] == "not run"
    assert "interrupted: 3 run(s) finished" in result["rows"][0]["reason"]


def test_partial_depth_cells_say_so():
    rec = {
        "model": "gcn",
        "dataset": "cora",
        "layers": 2,
        "status": "partial",
        "mean": 80.0,
        "std": 1.0,
        "runs": 3,
        "runs_expected": 10,
        "energy_t1": 0.5,
    }
    text = rp.format_depth([rec])
    assert "80.0 ± 1.0 (partial, 3 of 10 runs)" in text
    assert "0.5 (partial, 3 of 10 runs)" in text


def test_expected_runs_counts_splits_and_seeds():
    cfgs = rp.table_configs()
    assert rp.expected_runs(cfgs["graff-texas"]) == 10  # 10 Geom-GCN splits
    assert rp.expected_runs(cfgs["gcn-cora"]) == 10  # public split x 10 seeds
    assert rp.expected_runs(cfgs["grand-l-cora"]) == 20
    assert (
        rp.expected_runs(dataclasses.replace(cfgs["graff-texas"], splits=[0, 1])) == 2
    )


def test_depth_subset_configs_and_errors():
    cfgs = rp.depth_configs(layers=(2, 8), datasets=("CiteSeer",), models=("GCN",))
    assert sorted(cfgs) == ["depth-gcn-citeseer-L2", "depth-gcn-citeseer-L8"]
    assert cfgs["depth-gcn-citeseer-L8"].layers == 8
    with pytest.raises(ValueError, match="unknown model 'gcnn'. Did you mean"):
        rp.depth_configs(models=("gcnn",))
    with pytest.raises(ValueError, match="unknown dataset 'pubmed'"):
        rp.depth_configs(datasets=("pubmed",))
    with pytest.raises(ValueError, match="`layers` must be positive ints; got"):
        rp.depth_configs(layers=(2, 0))
    with pytest.raises(ValueError, match="`seeds` must be a positive int"):
        rp.depth_configs(seeds=0)


def test_cli_depth_subset(standin, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(
        [
            "reproduce",
            "--depth",
            "--depth-models",
            "gcn",
            "--depth-datasets",
            "cora",
            "--depth-layers",
            "2,3",
            "--smoke",
            "--no-plots",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    res = json.loads((out / "reproduce.json").read_text())
    assert [r["name"] for r in res["depth"]] == [
        "depth-gcn-cora-L2",
        "depth-gcn-cora-L3",
    ]
    assert all(r["status"] == "done" for r in res["depth"])
    assert "| gcn | cora |" in (out / "reproduce.md").read_text()
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--rows", "gcn-cora", "--depth-layers", "2"])
    assert "they need --depth; got them without it" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "--depth", "--depth-layers", "2,x"])
    assert "comma-separated ints" in capsys.readouterr().err


def _fake_runs(folder, cfg, n):
    """``n`` finished runs of ``cfg`` in ``folder`` (an interrupted row)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(cfg.to_dict()))
    for i in range(n):
        run = folder / "runs" / f"split0-seed{i}"
        run.mkdir(parents=True)
        res = training.RunResult(
            split=0,
            seed=i,
            best_epoch=1,
            val_acc=0.5,
            val_loss=1.0,
            test_acc=0.5 + 0.1 * i,
            test_max=0.9,
            epochs=2,
            stopped="patience",
            energy_t0=1.0,
            energy_t1=0.5,
            nfe=2,
            wall_s=1.0,
        )
        (run / "result.json").write_text(json.dumps(res.to_dict()))


@pytest.mark.parametrize("kind", ["row", "depth"])
def test_the_partial_note_names_the_command_that_continues_it(
    kind, tmp_path, monkeypatch
):
    """The note's command, run (as --table-only), selects exactly that row.

    ``--out`` is named, and a depth run gets its ``--depth`` flags and its
    seed count.
    """
    import shlex

    monkeypatch.setattr(training, "run", lambda *a, **k: pytest.fail("trained"))
    out = tmp_path / "rec"
    if kind == "row":
        cfg = rp.table_configs()["graff-texas"]
        _fake_runs(out / "graff-texas", cfg, 2)
        result = rp.reproduce(["graff-texas"], out, table_only=True, plots=False)
    else:
        cfg = rp.depth_configs((4,), ("cora",), seeds=3, models=("pde-gcn-d",))
        name, cfg = next(iter(cfg.items()))
        _fake_runs(out / "depth" / name, cfg, 2)
        result = rp.reproduce(
            [],
            out,
            depth=True,
            depth_models=("pde-gcn-d",),
            depth_datasets=("cora",),
            depth_layers=(4,),
            depth_seeds=3,
            table_only=True,
            plots=False,
        )
    (rec,) = result["rows"] + result["depth"]
    assert rec["status"] == "partial"
    command = rec["reason"].split("`")[1]
    argv = shlex.split(command)
    assert argv[:2] == ["graphpde", "reproduce"] and "--resume" in argv
    argv = [a if a != "--resume" else "--table-only" for a in argv[1:]]
    (out / "reproduce.json").unlink()  # the command must write it again
    assert cli.main([*argv, "--quiet", "--no-plots"]) == 0
    again = json.loads((out / "reproduce.json").read_text())
    (same,) = again["rows"] + again["depth"]
    assert (same["name"], same["status"], same["runs"]) == (rec["name"], "partial", 2)
    assert same["runs_expected"] == (10 if kind == "row" else 3)
