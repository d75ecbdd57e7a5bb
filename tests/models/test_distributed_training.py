"""Full-graph training on a partitioned graph (``graphpde train --distributed``).

The reference of a distributed run is the single-process run of the same
configuration (same seed, dropout 0): its per-epoch metrics and selected
parameters must agree to 1e-10 in float64. The distributed runs are real
``torchrun`` launches (``python -m torch.distributed.run``, gloo, 2 ranks).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from graphops.partition import halo_plan, partition
from models import DistributedGraph, GraphPDEModel, check_distributable
from models.experiments.cli import main
from models.experiments.distributed import TORCHRUN_ENV, init_from_env
from models.experiments.registry import MODELS
from models.experiments.runfolder import read_json
from solvers import Euler, LinearTerm

ROOT = Path(__file__).resolve().parents[2]
DATA = "csbm:num_nodes=120"
PY = sys.executable


#: dropout the --dropout flag leaves on (GRAFF's input dropout)
NO_DROPOUT = {"graff": ["--set", "input_dropout=0"]}


def _args(model: str, out: Path, epochs: int = 6) -> list[str]:
    return [
        "train", "--model", model, "--dataset", DATA, "--epochs", str(epochs),
        "--dtype", "float64", "--seeds", "1", "--dropout", "0", "--quiet",
        "--no-plots", "--out", str(out), *NO_DROPOUT.get(model, []),
    ]


def _command(argv: list[str], world: int | None) -> tuple[list[str], dict]:
    """``graphpde`` under torchrun with ``world`` ranks (``None``: a plain process)."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    launch = [] if world is None else [
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(world)
    ]
    return [PY, *launch, "-m", "models", *argv], env


def _torchrun(argv: list[str], world: int | None = 2) -> subprocess.CompletedProcess:
    """Run :func:`_command` to its end."""
    cmd, env = _command(argv, world)
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


#: Extra options of a model's runs: every dropout 0 (GRAND smaller, for time), the
#: attention coupling.
_SMALL_GRAND = ["--set", "input_dropout=0", "--hidden", "16", "--set", "heads=2",
                "--set", "attention_dim=8", "--set", "t1=4.0"]
EXTRA = {
    "grand-l": _SMALL_GRAND,
    "grand-nl": _SMALL_GRAND,
    "graphcon-gat": ["--set", 'coupling="attention"'],
    "pairnorm": ["--layers", "4"],
}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gcn", "gcnii", "graphcon", "pde-gcn-d",
                                   "pde-gcn-h", "graff", "nsd-diag", "grand-l",
                                   "grand-nl", "graphcon-gat", "pairnorm"])
def test_torchrun_training_equals_single_process(tmp_path, model):
    dist_out, ref_out = tmp_path / "dist", tmp_path / "ref"
    extra = EXTRA.get(model, [])
    model = model.removesuffix("-gat")
    proc = _torchrun([*_args(model, dist_out), *extra, "--distributed"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the reference: the same command in one plain process (a fresh interpreter,
    # as the ranks are, so no state of the test session leaks into either)
    ref = _torchrun([*_args(model, ref_out), *extra], world=None)
    assert ref.returncode == 0, ref.stderr[-3000:]
    # one run folder, written once (by rank 0), with the rank count recorded
    summary = read_json(dist_out / "summary.json")
    assert summary["distributed"]["world_size"] == 2
    assert proc.stdout.count("run folder:") == 1
    run_a, run_b = dist_out / "runs" / "split0-seed0", ref_out / "runs" / "split0-seed0"
    hist_a = read_json(run_a / "metrics.json")
    hist_b = read_json(run_b / "metrics.json")
    assert len(hist_a) == len(hist_b) == 6
    for a, b in zip(hist_a, hist_b, strict=True):
        for key in ("train_loss", "val_loss", "train_acc", "val_acc", "test_acc"):
            assert abs(a[key] - b[key]) < 1e-10, (key, a, b)
        assert a["nfe"] == b["nfe"]
    # the loss moved: the parameters were trained, not left at their init
    assert abs(hist_a[-1]["train_loss"] - hist_a[0]["train_loss"]) > 1e-3
    pa = torch.load(run_a / "best.pt", weights_only=True)
    pb = torch.load(run_b / "best.pt", weights_only=True)
    assert pa.keys() == pb.keys()
    for k in pa:
        torch.testing.assert_close(pa[k], pb[k], rtol=0, atol=1e-10)
    ra, rb = read_json(run_a / "result.json"), read_json(run_b / "result.json")
    assert ra["best_epoch"] == rb["best_epoch"]
    assert ra["test_acc"] == rb["test_acc"]
    # the Dirichlet energies are reduced over the ranks
    assert abs(ra["energy_t1"] - rb["energy_t1"]) < 1e-10 * max(1.0, rb["energy_t1"])


def _launch(argv: list[str], world: int = 2) -> subprocess.Popen:
    """Start :func:`_command` in the background (the ranks are its children)."""
    cmd, env = _command(argv, world)
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _children(pid: int) -> list[int]:
    """The process ids whose parent is ``pid`` (Linux ``/proc``)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killed_distributed_run_resumes_equal_to_an_uninterrupted_one(tmp_path):
    """SIGKILL every process of a 2-rank run in its second run, resume it.

    The finished first run is read back; the second continues from its
    checkpoint. With dropout on, so every rank's own random-number state must
    be restored: the resumed runs' metrics and weights are identical to the
    uninterrupted distributed run's.
    """
    import signal
    import time

    args = [
        "train", "--model", "gcn", "--dataset", DATA, "--epochs", "30",
        "--checkpoint-every", "3", "--dtype", "float64", "--seeds", "2",
        "--dropout", "0.5", "--quiet", "--no-plots",
    ]
    killed = tmp_path / "killed"
    proc = _launch([*args, "--out", str(killed), "--distributed"])
    ckpt = killed / "runs" / "split0-seed1" / "checkpoint.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not ckpt.exists():
        time.sleep(0.01)
    # the ranks first (torchrun starts them in sessions of their own), then
    # the launcher: nothing survives to finish the run
    ranks = _children(proc.pid)
    for pid in ranks:
        os.kill(pid, signal.SIGKILL)
    proc.kill()
    proc.wait()
    assert len(ranks) == 2
    assert ckpt.exists(), "no checkpoint was written before the deadline"
    assert (killed / "runs" / "split0-seed0" / "result.json").exists()
    assert not (killed / "runs" / "split0-seed1" / "result.json").exists(), (
        "the run finished before it could be killed; the test did not interrupt it"
    )
    state = torch.load(ckpt, weights_only=True)
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    assert 0 < state["loop"]["epoch"] < 30
    time.sleep(0.5)  # nothing writes any more
    assert not (killed / "runs" / "split0-seed1" / "result.json").exists()
    done = _torchrun([*args[:1], "--out", str(killed), "--resume", "--quiet",
                      "--no-plots", "--distributed"])
    assert done.returncode == 0, done.stderr[-3000:]
    # seed 0 was read back, seed 1 continued from its checkpoint's epoch
    assert "| 0 | 0 |" in done.stdout and "| 0 | 1 |" in done.stdout
    ref = tmp_path / "ref"
    proc = _torchrun([*args, "--out", str(ref), "--distributed"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    for k in (0, 1):
        a, b = ref / "runs" / f"split0-seed{k}", killed / "runs" / f"split0-seed{k}"
        assert read_json(a / "metrics.json") == read_json(b / "metrics.json")
        wa = torch.load(a / "best.pt", weights_only=True)
        wb = torch.load(b / "best.pt", weights_only=True)
        for key in wa:
            assert torch.equal(wa[key], wb[key]), key
        ra, rb = read_json(a / "result.json"), read_json(b / "result.json")
        ra.pop("wall_s"), rb.pop("wall_s")
        assert ra == rb


def test_resume_with_another_number_of_ranks_is_refused(tmp_path):
    import datetime

    import torch.distributed as dist

    from models.experiments.distributed import _resume_state

    ckpt = tmp_path / "checkpoint.pt"
    torch.save({"world_size": 2}, ckpt)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0, world_size=1,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        assert _resume_state(tmp_path / "none.pt") is None
        with pytest.raises(ValueError, match="number of ranks that wrote its .*: 2; "
                           "got 1. Launch torchrun with --nproc-per-node 2"):
            _resume_state(ckpt)
    finally:
        dist.destroy_process_group()


# -- in one process -----------------------------------------------------------------
def _model(name: str, **kw):
    spec = MODELS[name]
    return spec.build(4, 3, **spec.fixed, **kw)


@pytest.mark.parametrize(
    "name", ["gcn", "res-gcn", "gcnii", "graphcon", "pde-gcn-d", "pde-gcn-h",
             "pde-gcn-m", "graff", "nsd-diag", "nsd-orthogonal", "nsd-general",
             "pairnorm", "grand-l", "grand-nl"]
)
def test_supported_families_pass_the_check(name):
    check_distributable(_model(name))


def test_graphcon_attention_is_accepted_and_an_unknown_coupling_refused():
    from models import graphcon

    m = graphcon.from_config(4, 3, coupling="attention")
    check_distributable(m)
    m.term.coupling = nn.Linear(4, 4)
    with pytest.raises(ValueError, match="couples through a module"):
        check_distributable(m)


def test_distributed_graph_refuses_a_term_in_the_forward_pass(random_graph):
    plan = halo_plan(random_graph, partition(random_graph, 2, method="bfs"), 0)
    dg = DistributedGraph(plan)
    assert dg.num_nodes == plan.num_owned
    assert "rank=0, parts=2" in repr(dg)
    from graphops import Laplacian

    model = GraphPDEModel(nn.Identity(), LinearTerm(Laplacian(random_graph)),
                          nn.Identity(), solver=Euler(), t1=1.0, dt0=1.0)
    x = torch.zeros(plan.num_owned, 2, dtype=random_graph.dtype)
    with pytest.raises(ValueError, match="term LinearTerm, which does global"):
        model(x, dg)


def test_distributed_graph_type_check():
    with pytest.raises(TypeError, match="`plan` must be a RankPlan; got str"):
        DistributedGraph("plan")


def test_without_torchrun_env_the_error_says_how_to_launch(monkeypatch, capsys,
                                                            tmp_path):
    for k in TORCHRUN_ENV:
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(RuntimeError, match="must be launched by torchrun"):
        init_from_env()
    with pytest.raises(SystemExit, match="torchrun --nproc-per-node K"):
        main([*_args("gcn", tmp_path / "r"), "--distributed"])
    assert not (tmp_path / "r").exists()


def test_cli_distributed_option_checks(tmp_path):
    # --resume reads the folder's config: refused before any process group
    with pytest.raises(SystemExit, match="needs a run folder with config.json"):
        main([*_args("gcn", tmp_path / "r"), "--distributed", "--resume"])
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{}")
    with pytest.raises(SystemExit, match="the options come from the run folder"):
        main([*_args("gcn", tmp_path / "r"), "--distributed", "--resume"])
    with pytest.raises(SystemExit, match="`--dist-timeout` must be > 0"):
        main([*_args("gcn", tmp_path / "r"), "--distributed", "--dist-timeout", "0"])
