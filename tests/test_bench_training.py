"""The benchmark's re-implementation of the authors' PDE-GCN_H loop stays faithful.

``benchmarks/bench_training.py`` times our PDE-GCN_H against a re-implementation of
the authors' layer loop (gather + ``index_add_``); the comparison is only like for
like if both compute the same network. Checked here in float64 on a small CSBM:
same log-probabilities and same parameter gradients in evaluation mode. A slow
smoke test runs part A quick under the measurement protocol (needs Cora).
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from graphops.datasets import csbm

from helpers import load_benchmark, run_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_training")


@pytest.fixture(scope="module")
def data():
    return csbm(
        120, num_classes=3, num_features=10, mean_degree=4.0, dtype=torch.float64
    )


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_authors_loop_forward_equals_ours(bench, data, layers):
    ours, ref = bench.build_pair(10, 3, layers, dtype=torch.float64)
    diff = bench.max_forward_difference(ours, ref, data.x, data.graph)
    assert diff < 1e-12
    # The check is not vacuous: another step h changes the output.
    ref.h = ref.h * 1.5
    assert bench.max_forward_difference(ours, ref, data.x, data.graph) > 1e-6


def test_authors_loop_gradients_equal_ours(bench, data):
    ours, ref = bench.build_pair(10, 3, 3, dtype=torch.float64)
    ours.eval()
    ref.eval()
    mask = data.train_mask
    x_t = data.x.t().unsqueeze(0).contiguous()
    F.nll_loss(ours(data.x, data.graph)[mask], data.y[mask]).backward()
    edges = data.graph.directed_edge_index
    F.nll_loss(ref(x_t, edges)[mask], data.y[mask]).backward()
    pairs = [
        (ours.encoder[1].weight.grad, ref.K1Nopen.grad),
        (ours.term.K.values.grad, ref.KN1.grad),
        (ours.decoder[1].weight.grad, ref.KNclose.grad),
    ]
    for a, b in pairs:
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gcn_norm_matches_the_code_operator(bench, data):
    # w_e = (d~_i d~_j)^(-1/2) with d~ = degree + 1; self-loops appended.
    g = data.graph
    i, j, w = bench.gcn_norm(g.directed_edge_index, g.num_nodes, torch.float64)
    assert i.numel() == 2 * g.num_edges + g.num_nodes
    d = g.degree() + 1.0
    torch.testing.assert_close(w, (d[i] * d[j]).rsqrt())


@pytest.mark.slow
def test_quick_part_a_under_the_protocol(shared_data, tmp_path, monkeypatch):
    # Two worker processes, one depth, two rounds: the table carries the ratio
    # with its spread and the protocol sentence; the record of both parts
    # (training_quick.md) is not overwritten by a run of part A alone.
    monkeypatch.setenv("GRAPHPDE_DATA", str(shared_data))
    proc = run_benchmark(
        "bench_training.py",
        ["--quick", "--parts", "A", "--depths", "2", "--repeats", "2"]
        + ["--processes", "2", "--threads", "1"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "Protocol (`benchmarks/_common.py`): 2 process(es) x 2 " in out
    assert "| 2 | " in out and "x (" in out  # the L = 2 row, a ratio with spread
    assert "Load average before / after" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "training_A_quick.json",
        "training_A_quick.md",
    ]
