"""The benchmarks' measurement protocol (``benchmarks/_common.py``) and its smoke run.

The protocol's arithmetic is checked on hand-made samples (ratios and flags worked
out by hand below); quick runs of the benchmarks that use it are slow smoke tests
(they start worker processes).
"""

from __future__ import annotations

import pytest

from helpers import BENCHMARKS, load_benchmark, run_benchmark


@pytest.fixture(scope="module")
def common():
    return load_benchmark("_common")


def test_ratio_pairs_rounds_inside_a_process(common):
    # process 1 jumped to a slow mode in round 2 (both sides 4x): the paired
    # ratios are 2, 2, 2 whatever the mode; process 2 gives 3, 3, 1 -> median 3
    runs = [
        {"ref": [2.0, 8.0, 2.0], "ours": [1.0, 4.0, 1.0]},
        {"ref": [3.0, 3.0, 1.0], "ours": [1.0, 1.0, 1.0]},
        {"ref": [5.0, 5.0, 5.0], "ours": [2.0, 2.0, 2.0]},
    ]
    r = common.summarize_ratio(runs, "ref", "ours")
    assert r.per_process == (2.0, 3.0, 2.5)
    assert (r.median, r.low, r.high) == (2.5, 2.0, 3.0)
    assert str(r) == "2.50x (2.00-3.00)"


def test_ratio_with_a_side_sampled_once(common):
    runs = [{"ref": [4.0, 6.0, 8.0], "floor": [2.0]}]
    r = common.summarize_ratio(runs, "ref", "floor")
    assert r.median == 3.0  # 2, 3, 4


def test_ratio_bad_input(common):
    with pytest.raises(ValueError, match="at least one process"):
        common.summarize_ratio([], "a", "b")
    with pytest.raises(ValueError, match=r"process 0 must have samples of 'a'"):
        common.summarize_ratio([{"b": [1.0]}], "a", "b")


def test_mode_jumps_flags_across_and_within_processes(common):
    steady = {"x": [1.0, 1.1, 1.0]}
    assert common.mode_jumps([steady, {"x": [1.2, 1.1, 1.3]}]) == []
    flags = common.mode_jumps([steady, {"x": [4.0, 4.1, 4.0]}])
    assert len(flags) == 1 and "across processes" in flags[0] and "4.0x" in flags[0]
    flags = common.mode_jumps([{"x": [1.0, 3.2, 1.0]}])
    assert len(flags) == 1 and "inside process 1" in flags[0]
    assert common.mode_jumps([]) == []


def test_interleaved_rotates_and_samples(common):
    order = []
    fns = {k: (lambda k=k: order.append(k)) for k in "abc"}
    out = common.interleaved(fns, 3, calibrate=False, once=("c",))
    assert order == ["a", "b", "c", "b", "a", "a", "b"]  # rotated; c only once
    assert [len(out[k]) for k in "abc"] == [3, 3, 1]
    assert all(t >= 0 for v in out.values() for t in v)
    with pytest.raises(ValueError, match="`repeat` must be >= 1"):
        common.interleaved(fns, 0)


def test_run_processes_bad_input(common):
    with pytest.raises(ValueError, match="`processes` must be >= 1"):
        common.run_processes(BENCHMARKS / "bench_cg.py", [], 0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["bench_cg.py", "--quick", "--processes", "2"],
        ["bench_solvers.py", "--quick", "--parts", "1", "--processes", "2"],
        [
            "bench_solvers.py",
            *("--quick", "--parts", "2", "--processes", "2", "--threads", "1"),
        ],
        ["bench_operators.py", "--quick", "--parts", "learned", "--processes", "2"],
        ["bench_operators.py", "--quick", "--parts", "forward", "--processes", "2"],
        ["bench_adaptive.py", "--quick", "--processes", "2"],
        ["bench_models.py", "--quick", "--processes", "2"],
    ],
    ids=[
        "cg",
        "solvers-part1",
        "solvers-part2",
        "operators-learned",
        "operators-forward",
        "adaptive",
        "models",
    ],
)
def test_quick_run_of_a_protocol_benchmark(argv, tmp_path):
    proc = run_benchmark(argv[0], argv[1:], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Protocol (`benchmarks/_common.py`): 2 process(es)" in proc.stdout
    assert "x (" in proc.stdout  # a ratio with its spread
    assert len(list(tmp_path.glob("*_quick.md"))) == 1
