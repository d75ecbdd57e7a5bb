"""`make demo` (`models.demo`): the depth study is checked against its run folders.

The depth study (part 2) runs once on a tiny contextual SBM in float64. Its table
must have one row per depth with the numbers of the runs; each run's reported
test accuracy must be the one at the epoch of best validation accuracy (read
back from ``metrics.json``); and each energy must equal an independent
recomputation: the selected model rebuilt from the run folder's ``config.json``
and ``best.pt``, the decoder's input captured by a forward hook in evaluation
mode, and :func:`graphops.dirichlet_energy` of it.
"""

from __future__ import annotations

import json

import pytest
import torch

from graphops import dirichlet_energy
from models import demo
from models.experiments.config import RunConfig
from models.experiments.data import load_dataset
from models.experiments.train import RunResult, build_model

DEPTHS = [2, 3]
TINY = dict(depths=DEPTHS, epochs=4, num_nodes=60, hidden=8, dtype="float64")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """``(out, text, results)`` of one tiny depth study."""
    out = tmp_path_factory.mktemp("demo")
    text, results = demo.depth_study(out, **TINY)
    return out, text, results


def _table_rows(text: str) -> list[list[str]]:
    """The data rows of the depth table in ``text`` (split on whitespace)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("depth"))
    assert set(lines[start + 1]) == {"-"}
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def test_table_has_one_row_per_depth_with_the_run_numbers(study):
    out, text, results = study
    assert list(results) == ["gcn", "pde-gcn-h"]
    header = next(line for line in text.splitlines() if "depth" in line.split())
    assert header.split() == [
        "depth",
        *("GCN", "test", "acc", "GCN", "energy(t1)"),
        *("PDE-GCN_H", "test", "acc", "PDE-GCN_H", "energy(t1)"),
    ]
    rows = _table_rows(text)
    assert [int(r[0]) for r in rows] == DEPTHS
    for i, row in enumerate(rows):
        g, p = results["gcn"][i], results["pde-gcn-h"][i]
        assert row[1:] == [
            f"{100 * g.test_acc:.1f}%",
            f"{g.energy_t1:.3e}",
            f"{100 * p.test_acc:.1f}%",
            f"{p.energy_t1:.3e}",
        ]
    assert "ONE seed (0)" in text
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib not installed: no plot" in text
    else:
        assert (out / "depth.png").stat().st_size > 0


def test_runs_select_on_validation(study):
    out, _, results = study
    for model, runs in results.items():
        for depth, r in zip(DEPTHS, runs, strict=True):
            run_dir = out / "runs" / f"{model}-L{depth}"
            assert json.loads((run_dir / "result.json").read_text()) == r.to_dict()
            hist = json.loads((run_dir / "metrics.json").read_text())
            assert len(hist) == TINY["epochs"] == r.epochs
            vals = [h["val_acc"] for h in hist]
            # The first epoch with the best validation accuracy, its test accuracy.
            best = vals.index(max(vals))
            assert r.best_epoch == best
            assert r.test_acc == hist[best]["test_acc"]
            cfg = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
            assert (cfg.model, cfg.layers, cfg.select) == (model, depth, "val_acc")


def test_energies_equal_an_independent_recomputation(study):
    out, _, results = study
    for model, runs in results.items():
        for depth, r in zip(DEPTHS, runs, strict=True):
            run_dir = out / "runs" / f"{model}-L{depth}"
            cfg = RunConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
            ds = load_dataset(cfg)
            net = build_model(cfg, ds)
            net.load_state_dict(torch.load(run_dir / "best.pt", weights_only=True))
            net.eval()
            seen: list[torch.Tensor] = []
            net.decoder.register_forward_pre_hook(
                lambda m, a, seen=seen: seen.append(a[0])
            )
            with torch.no_grad():
                net(ds.x, ds.graph)
            assert net.depth == depth and seen[0].dtype == torch.float64
            energy = float(dirichlet_energy(seen[0], ds.graph))
            assert energy > 0
            assert r.energy_t1 == pytest.approx(energy, rel=1e-10)


def test_energy_check_can_fail(study):
    """The recomputation distinguishes models: another depth's energy differs."""
    _, _, results = study
    e = [r.energy_t1 for r in results["gcn"]]
    assert e[0] != pytest.approx(e[1], rel=1e-6)


def _result(acc: float, energy: float) -> RunResult:
    return RunResult(0, 0, 0, acc, 0.0, acc, acc, 1, "epochs", energy, energy, 0, 0.0)


def test_verdict_is_computed_from_the_numbers():
    chance = 1 / 3
    collapse = demo._verdict(
        "GCN",
        [2, 8, 32],
        [_result(0.9, 10.0), _result(0.8, 1.0), _result(0.3, 0.1)],
        chance,
    )
    assert "90.0% at 2 layers, 30.0% at 32" in collapse
    assert "1.00e+01 -> 1.00e-01 (1.0e-02x)" in collapse
    assert "more than half of its margin over chance at depth 32." in collapse
    flat = demo._verdict("H", [2, 32], [_result(0.9, 1.0), _result(0.7, 2.0)], chance)
    assert "no collapse at these depths" in flat
    none = demo._verdict("X", [2, 4], [_result(0.3, 0.0), _result(0.3, 0.0)], chance)
    assert "No better than chance even at 2 layers" in none
    assert "x)" not in none


@pytest.mark.parametrize("depths", [[1, 2], [], [4, 2], [2, 2], [2.0, 4], (True, 4)])
def test_depth_study_rejects_bad_depths(tmp_path, depths):
    with pytest.raises(ValueError, match=r"depth_study: `depths` must be .*got"):
        demo.depth_study(tmp_path, depths=depths)
    assert not (tmp_path / "runs").exists()


def test_parse_depths():
    assert demo._parse_depths("2,4,8") == [2, 4, 8]
    with pytest.raises(ValueError, match=r"demo: `--depths` must be comma-separated"):
        demo._parse_depths("2,x")
    with pytest.raises(ValueError, match=r"demo: `depths` must be .*got \[4, 2\]"):
        demo._parse_depths("4,2")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--depths", "1,2"], "`depths` must be"),
        (["--depths", "two"], "`--depths` must be comma-separated"),
        (["--epochs", "0"], "--epochs must be >= 1; got 0"),
        (["--layers", "0"], "--layers must be >= 1; got 0"),
    ],
)
def test_cli_rejects_bad_options(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        demo.main([*argv, "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_quick_runs_every_part(tmp_path, capsys):
    pytest.importorskip(
        "matplotlib",
        reason="the plots need matplotlib: pip install 'graphpde[demo]' "
        "(make test installs it)",
    )
    threads = torch.get_num_threads()
    demo.main(["--quick", "--quiet", "--out", str(tmp_path)])
    assert torch.get_num_threads() == threads
    text = capsys.readouterr().out
    for part in ("1. Over-smoothing", "2. Trained at depth", "3. One line swaps"):
        assert part in text
    assert [int(r[0]) for r in _table_rows(text.split("2. Trained at depth")[1])] == [
        2,
        4,
    ]
    for png in ("oversmoothing.png", "depth.png", "stability_regions.png"):
        assert (tmp_path / png).stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "gcn-L2",
        "gcn-L4",
        "pde-gcn-h-L2",
        "pde-gcn-h-L4",
    ]


# -- part 1: the GCN operator ------------------------------------------------------
def test_oversmoothing_h1_column_is_gcn_propagation(tmp_path):
    from graphops.datasets import csbm

    text = demo.oversmoothing(tmp_path, layers=4)
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("layer k"))
    rows = [line.split() for line in lines[start + 2 : start + 6]]
    assert [int(r[0]) for r in rows] == [0, 1, 2, 4]
    # independent reference: dense A_gcn = D~^-1/2 (A + I) D~^-1/2, x_k = A_gcn^k x_0
    data = csbm(600, num_classes=3, homophily=0.8, num_features=16, mean_degree=6.0)
    g = data.graph.to(dtype=torch.float64)
    a = g.to_dense() + torch.eye(g.num_nodes)
    s = a.sum(1).rsqrt()
    a_gcn = s[:, None] * a * s[None, :]
    l_gcn = torch.eye(g.num_nodes) - a_gcn
    x = data.x.to(torch.float64)
    for row, k in zip(rows, (0, 1, 2, 4), strict=True):
        xk = torch.linalg.matrix_power(a_gcn, k) @ x
        energy = float(torch.trace(xk.T @ l_gcn @ xk))
        assert float(row[3]) == pytest.approx(energy, rel=1e-3)  # printed to 4 digits
        half = torch.linalg.matrix_power(torch.eye(g.num_nodes) - 0.5 * l_gcn, k) @ x
        assert float(row[1]) == pytest.approx(
            float(torch.trace(half.T @ l_gcn @ half)), rel=1e-3
        )


# -- part 3: solvers, the Heun note and the stability panels -----------------------
@pytest.fixture(scope="module")
def solver_result():
    return demo.solver_runs()


def test_solver_runs_record_the_steps_taken(solver_result):
    runs = {r["name"]: r for r in solver_result["runs"]}
    for r in runs.values():
        if not r["adaptive"]:
            assert r["steps"] == [r["sol"].stats.dt]
            n = r["sol"].stats.num_steps
            assert r["steps"][0] * n == pytest.approx(solver_result["t1"])
    assert runs["Euler (dt/2)"]["steps"][0] == pytest.approx(
        runs["Euler"]["steps"][0] / 2, rel=0.2
    )
    lo, hi = runs["Dopri5 + PI"]["steps"]
    sizes = torch.diff(runs["Dopri5 + PI"]["sol"].ts)
    assert (lo, hi) == (float(sizes.min()), float(sizes.max())) and lo < hi
    assert sizes.sum() == pytest.approx(solver_result["t1"])


def test_heun_note_is_computed_from_the_runs(solver_result):
    import numpy as np

    runs = {r["name"]: r for r in solver_result["runs"]}
    note = demo.heun_note(solver_result)
    eu, he = runs["Euler"], runs["Heun"]
    word = "exceeds" if he["error"] > eu["error"] else "is below"
    assert note.startswith(f"Heun's error ({he['error']:.2e}) {word} Euler's")
    z = -eu["steps"][0] * solver_result["lam"]
    assert f"1 + z = {1 + z:+.3f}" in note
    assert f"1 + z + z^2/2 = {1 + z + z * z / 2:+.3f}" in note
    # the split into smooth / other eigenmodes, recomputed with numpy's eigh
    lap = demo.Laplacian(solver_result["graph"]).to_dense().double().numpy()
    w, v = np.linalg.eigh(lap)
    proj = v[:, w < 1.0] @ v[:, w < 1.0].T
    exact = solver_result["exact"].double().numpy()
    for name, r in (("Euler", eu), ("Heun", he)):
        err = r["sol"].ys[-1].double().numpy() - exact
        assert f"{name} {np.abs(proj @ err).max():.1e}" in note
        assert f"{name} {np.abs(err - proj @ err).max():.1e}" in note
    eu2, he2 = runs["Euler (dt/2)"], runs["Heun (dt/2)"]
    word2 = "exceeds" if he2["error"] > eu2["error"] else "is below"
    assert f"Heun's error ({he2['error']:.2e}) {word2} Euler's" in note


def test_stability_figure_draws_each_method_at_its_own_steps(solver_result):
    import numpy as np

    pytest.importorskip(
        "matplotlib",
        reason="the plots need matplotlib: pip install 'graphpde[demo]' "
        "(make test installs it)",
    )
    fig = demo.stability_figure(solver_result)
    evals = solver_result["evals"].double().numpy()
    assert len(fig.axes) == 4
    for ax, panel in zip(fig.axes, demo._PANELS, strict=True):
        drawn = []
        for sc in (c for c in ax.collections if c.get_gid() == "spectrum"):
            off = sc.get_offsets()
            dt = -off[-1, 0] / evals[-1]
            np.testing.assert_allclose(off[:, 0], -dt * evals, rtol=1e-6, atol=1e-9)
            drawn.append(dt)
        runs = [r for r in solver_result["runs"] if r["panel"] == panel]
        wanted = sorted({s for r in runs for s in r["steps"]})
        np.testing.assert_allclose(sorted(drawn), wanted, rtol=1e-6)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        names = {type(r["solver"]).__name__ for r in runs}
        assert all(any(n in entry for entry in legend) for n in names)
