"""The scale benchmark (``benchmarks/bench_scale.py``): its helpers and a smoke run.

The pure helpers are checked against values worked out by hand (log-log slope,
storage accounting, the skip rule); one in-process measurement of a tiny graph
checks the record against the graph it built; the smoke run (slow: it starts
worker processes) runs the CLI end to end into a temporary folder.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from helpers import load_benchmark, run_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_scale")


def test_slope_recovers_a_power_law(bench):
    xs = [1e5, 2e5, 5e5, 1e6]
    assert bench.slope(xs, [3.0 * x**1.5 for x in xs]) == pytest.approx(1.5)
    assert bench.slope(xs, [7.0 for _ in xs]) == pytest.approx(0.0, abs=1e-12)
    # one point, or only non-positive values: no slope
    assert bench.slope([1e5], [2.0]) is None
    assert bench.slope([1.0, 2.0], [0.0, 5.0]) is None


def test_tensor_bytes_counts_each_storage_once(bench):
    from graphops.spmm import SparsePattern

    a = torch.zeros(10, 4, dtype=torch.float32)  # 160 bytes
    b = torch.zeros(3, dtype=torch.int64)  # 24 bytes
    pattern, _ = SparsePattern.from_coo(
        torch.tensor([0, 1, 1]), torch.tensor([1, 0, 1]), (2, 2)
    )
    # crow [3] + col [3] + row [3], int64: 72 bytes (found through __slots__)
    nested = {"x": a, "view": a[2:], "t": (b, [b, a.t()]), "p": pattern}
    assert bench.tensor_bytes(nested) == 160 + 24 + 72
    assert bench.tensor_bytes(a, a) == 160
    assert bench.tensor_bytes({}) == 0


def test_skip_reason(bench):
    gib = bench.GIB
    # 2 GiB at 100k -> 20 GiB at 1M: over a 16 GiB limit, under a 24 GiB one
    reason = bench.skip_reason(1_000_000, (100_000, 2 * gib), None, 16 * gib, 600)
    assert reason is not None and "20.00 GiB" in reason and "16.00 GiB" in reason
    assert bench.skip_reason(1_000_000, (100_000, 2 * gib), None, 24 * gib, 600) is None
    # no limit: memory never skips
    assert bench.skip_reason(1_000_000, (100_000, 2 * gib), None, 0, 600) is None
    # 70 s at 100k -> 700 s at 1M: over 600 s
    reason = bench.skip_reason(1_000_000, None, (100_000, 70.0), 0, 600.0)
    assert reason is not None and "700.00 s" in reason and "--max-epoch-s" in reason
    assert bench.skip_reason(1_000_000, None, (100_000, 50.0), 0, 600.0) is None
    assert bench.skip_reason(100, None, None, gib, 1.0) is None


@pytest.mark.parametrize("model", ["gcn", "pde-gcn-h"])
def test_child_record_matches_its_graph(bench, model):
    from graphops.datasets import csbm

    threads = torch.get_num_threads()
    spec = dict(
        model=model, n=300, degree=6.0, threads=threads, epochs=2, pde_layers=2,
        segments=2,
    )  # fmt: skip
    rec = bench.child(spec)
    assert torch.get_num_threads() == threads
    g = csbm(300, num_classes=7, num_features=64, mean_degree=6.0, seed=0).graph
    assert (rec["n"], rec["m"]) == (300, g.num_edges)
    assert len(rec["epoch_s"]) == len(rec["epoch_peak"]) == 2
    assert all(t > 0 for t in rec["epoch_s"])
    assert all(math.isfinite(v) for v in rec["losses"])
    c = rec["components"]
    assert c["features"] == 300 * 64 * 4  # float32 [N, 64]
    # edge_index [2, M] int64 + edge_weight [M] float32
    assert c["edge_list"] == g.num_edges * (2 * 8 + 4)
    assert c["csr_patterns"] > 0 and c["saved_for_backward"] > 0
    assert rec["depth"] == 2  # GCN_LAYERS and pde_layers
    if model == "pde-gcn-h":
        assert rec["adjoint"] == "Checkpoint(segments=2)"


@pytest.mark.slow
def test_a_process_over_its_memory_limit_fails_cleanly(bench):
    spec = dict(
        model="gcn", n=300, degree=6.0, threads=1, epochs=1, pde_layers=2,
        segments=None,
    )  # fmt: skip
    # 256 MiB of address space is not enough to import torch: the child fails
    # with its own error and the parent reports it instead of raising
    rec = bench.run_child(spec, 256 * 2**20)
    assert "failed" in rec and rec["failed"].startswith("exit ")


@pytest.mark.slow
def test_quick_run_writes_table_json_and_plot(tmp_path):
    # GCN only (the PDE-GCN child is the in-process test above): 3 processes
    argv = ["--smoke", "--sizes", "300,600", "--processes", "2", "--epochs", "1"]
    argv += ["--threads", "1", "--models", "gcn"]
    proc = run_benchmark("bench_scale.py", argv, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Growth exponents" in proc.stdout
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["scale_quick.json", "scale_quick.md", "scale_quick.png"]
    raw = json.loads((tmp_path / "scale_quick.json").read_text())
    runs = [(r["model"], r["n"]) for r in raw["records"]]
    # one process at the smaller size, two at the largest
    assert runs == [("gcn", 300), ("gcn", 600), ("gcn", 600)]
    assert all("failed" not in r and r["ru_maxrss_wait4"] > 0 for r in raw["records"])
