"""Shared benchmark utilities: the measurement protocol, graphs, markdown tables.

**The measurement protocol** (issue 13). This machine switches between speed modes
at random between processes (the same ``L @ x`` takes 0.8 ms in one process and
3.2 ms in the next), while inside one process the mode usually holds. So every
comparison

1. interleaves the implementations inside one process (:func:`interleaved`: each
   round runs every implementation once, in a rotating order), so both sides of a
   ratio see the same mode;
2. is repeated in at least 3 processes (:func:`run_processes`: the benchmark
   script re-invokes itself with ``--worker``; each worker prints its samples as
   one JSON line);
3. reports the median of the per-process ratios and their spread (min-max), where
   a process's ratio is the median over its rounds of the *paired* ratio (the two
   samples of one round were taken back to back) (:func:`summarize_ratio`);
4. flags a run whose absolute times jumped between modes: an implementation whose
   per-process medians differ by more than :data:`JUMP` across processes, or whose
   samples inside one process do (:func:`mode_jumps`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> str:
    """A one-line description of where the numbers were measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {dev}, "
        f"{datetime.date.today().isoformat()}"
    )


def timeit(
    fn: Callable[[], object],
    *,
    repeat: int = 7,
    warmup: int = 2,
    min_time: float = 0.05,
) -> float:
    """Median wall time of one call in seconds (calls batched to >= ``min_time``)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / one))
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / inner)
    return statistics.median(samples)


def random_graph(num_nodes: int, num_directed_edges: int, seed: int = 0, device="cpu"):
    """Erdos-Renyi-like graph with about ``num_directed_edges`` stored entries.

    Both directions of every edge are stored.
    """
    from graphops import Graph

    g = torch.Generator().manual_seed(seed)
    m = num_directed_edges // 2
    src = torch.randint(0, num_nodes, (m,), generator=g)
    dst = torch.randint(0, num_nodes, (m,), generator=g)
    return Graph(torch.stack([src, dst]), num_nodes, directed="symmetrize").to(device)


def status_bytes(field: str) -> int | None:
    """A field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``, ...) in bytes.

    Returns:
        The value, or ``None`` where the file or the field is unavailable.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak() -> bool:
    """Reset ``VmHWM`` (and with it ``ru_maxrss``) to the current RSS (Linux >= 4.0).

    Returns:
        False where ``/proc/self/clear_refs`` cannot be written.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def fmt_time(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def save(name: str, text: str) -> Path:
    """Write a result file atomically (temp file, then rename).

    Into ``benchmarks/results/``, or the folder named by the environment variable
    ``GRAPHPDE_BENCH_RESULTS`` (the smoke tests write there, not into the tree).
    """
    results = Path(os.environ.get("GRAPHPDE_BENCH_RESULTS", RESULTS))
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{name}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------------
# The measurement protocol
# ---------------------------------------------------------------------------------
# A factor between two times of the same code that counts as a jump between speed
# modes (the modes seen on this machine differ by 2-4x; run-to-run noise inside a
# mode stays well below 1.5x).
JUMP = 1.5
# Processes per comparison (the protocol's minimum).
PROCESSES = 3
WORKER_FLAG = "--worker"


def add_protocol_args(
    parser: argparse.ArgumentParser, what: str = "the protocol"
) -> None:
    """Add the protocol's options: ``--processes`` and the hidden worker flag.

    Args:
        parser: An ``argparse.ArgumentParser``.
        what: What the processes are for, in the help text.
    """
    parser.add_argument(
        "--processes",
        type=int,
        default=PROCESSES,
        help=f"processes of {what} (default {PROCESSES})",
    )
    parser.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)


def load() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"1.62, 1.50, 1.47"``."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def interleaved(
    fns: dict[str, Callable[[], object]],
    repeat: int,
    *,
    min_time: float = 0.05,
    calibrate: bool = True,
    once: tuple[str, ...] = (),
) -> dict[str, list[float]]:
    """Seconds per call of each function, per round, the functions taking turns.

    Every round runs each function once (``inner`` calls, see below) in an order
    that rotates from round to round, so sample ``r`` of every function was taken
    in the same stretch of time. With ``calibrate`` a first call of each (also a
    warm-up) sets how many calls make up one sample (at least ``min_time``
    seconds); otherwise every sample is one call. Functions named in ``once`` run
    in the first round only (one sample).

    Args:
        fns: Name -> zero-argument callable.
        repeat: Number of rounds.
        min_time: Target duration of one sample when calibrating.
        calibrate: Batch short calls into samples of at least ``min_time``.
        once: Names sampled in the first round only.

    Returns:
        Name -> list of per-call times in seconds, one per round.

    Raises:
        ValueError: ``repeat < 1``.
    """
    if repeat < 1:
        raise ValueError(f"interleaved: `repeat` must be >= 1; got {repeat}.")
    names = list(fns)
    inner = dict.fromkeys(names, 1)
    if calibrate:
        for k in names:
            t0 = time.perf_counter()
            fns[k]()
            inner[k] = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeat):
        shift = r % len(names)
        for k in names[shift:] + names[:shift]:
            if r and k in once:
                continue
            t0 = time.perf_counter()
            for _ in range(inner[k]):
                fns[k]()
            samples[k].append((time.perf_counter() - t0) / inner[k])
    return samples


def run_processes(
    script: str | Path, argv: Sequence[str], processes: int = PROCESSES
) -> list[object]:
    """Run ``script`` in ``processes`` fresh Python processes, one after the other.

    Each runs ``python script *argv --worker`` and must print its result as JSON
    on its last line of standard output (:func:`emit`). The workers run in turn,
    never at the same time, so they do not compete for the cores.

    Args:
        script: The benchmark script (usually ``__file__``).
        argv: Its arguments (without ``--worker``).
        processes: How many processes.

    Returns:
        The decoded JSON result of each process, in order.

    Raises:
        ValueError: ``processes < 1``.
        RuntimeError: A worker failed (its standard error is included).
    """
    if processes < 1:
        raise ValueError(f"run_processes: `processes` must be >= 1; got {processes}.")
    out = []
    for k in range(processes):
        proc = subprocess.run(
            [sys.executable, str(script), *argv, WORKER_FLAG],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"run_processes: worker {k + 1}/{processes} of {script} failed "
                f"(exit {proc.returncode}):\n{proc.stderr[-4000:]}"
            )
        lines = proc.stdout.strip().splitlines()
        if not lines:
            raise RuntimeError(
                f"run_processes: worker {k + 1}/{processes} of {script} printed "
                "nothing; it must end with emit(result)."
            )
        out.append(json.loads(lines[-1]))
    return out


def emit(result: object) -> None:
    """Print a worker's result as the one JSON line :func:`run_processes` reads."""
    print(json.dumps(result), flush=True)


@dataclass(frozen=True)
class Ratio:
    """A speed ratio measured under the protocol.

    Attributes:
        median: Median over processes of each process's ratio.
        low: Smallest per-process ratio.
        high: Largest per-process ratio.
        per_process: Each process's ratio (median of its paired per-round ratios).
    """

    median: float
    low: float
    high: float
    per_process: tuple[float, ...]

    def __str__(self) -> str:
        """``"2.31x (2.20-2.45)"``: median and spread."""
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f})"


def summarize_ratio(
    runs: Sequence[dict[str, Sequence[float]]], slow: str, fast: str
) -> Ratio:
    """How many times faster ``fast`` ran than ``slow``: median and spread.

    Args:
        runs: One mapping per process, name -> per-round times (from
            :func:`interleaved`).
        slow: The numerator's name (the reference).
        fast: The denominator's name.

    Returns:
        The :class:`Ratio`. Inside a process the rounds are paired (sample ``r`` of
        both was taken back to back) and the process's ratio is the median of the
        paired ratios; a side sampled once (``once``) is paired with every round.

    Raises:
        ValueError: ``runs`` is empty or a process lacks ``slow`` or ``fast``.
    """
    if not runs:
        raise ValueError("summarize_ratio: `runs` must hold at least one process.")
    per = []
    for k, run in enumerate(runs):
        if slow not in run or fast not in run:
            raise ValueError(
                f"summarize_ratio: process {k} must have samples of {slow!r} and "
                f"{fast!r}; got {sorted(run)}."
            )
        a, b = list(run[slow]), list(run[fast])
        n = max(len(a), len(b))
        a = a * n if len(a) == 1 else a
        b = b * n if len(b) == 1 else b
        per.append(statistics.median(x / y for x, y in zip(a, b, strict=False)))
    return Ratio(statistics.median(per), min(per), max(per), tuple(per))


def process_medians(
    runs: Sequence[dict[str, Sequence[float]]], name: str
) -> list[float]:
    """The median time of ``name`` in each process."""
    return [statistics.median(run[name]) for run in runs]


def mode_jumps(
    runs: Sequence[dict[str, Sequence[float]]], names: Sequence[str] | None = None
) -> list[str]:
    """Flags for absolute times that jumped between speed modes.

    Args:
        runs: One mapping per process, name -> per-round times.
        names: The implementations to inspect (default: all of the first process).

    Returns:
        One sentence per implementation whose per-process medians differ by more
        than :data:`JUMP` (across processes) or whose samples inside one process
        do (within a process); empty when none jumped.
    """
    if not runs:
        return []
    names = list(runs[0]) if names is None else list(names)
    flags = []
    for name in names:
        meds = process_medians(runs, name)
        if max(meds) > JUMP * min(meds):
            flags.append(
                f"{name}: per-process medians {fmt_time(min(meds))} to "
                f"{fmt_time(max(meds))} ({max(meds) / min(meds):.1f}x) across "
                "processes"
            )
        for k, run in enumerate(runs):
            xs = run[name]
            if len(xs) > 1 and max(xs) > JUMP * min(xs):
                flags.append(
                    f"{name}: samples {fmt_time(min(xs))} to {fmt_time(max(xs))} "
                    f"inside process {k + 1}"
                )
    return flags


def protocol_text(processes: int, repeat: int) -> str:
    """One sentence describing how the numbers of a table were measured."""
    return (
        f"Protocol (`benchmarks/_common.py`): {processes} process(es) x {repeat} "
        "interleaved rounds; a process's ratio is the median of its paired "
        "per-round ratios; the table gives the median over processes and the "
        "spread (min-max); absolute times are the median over processes of the "
        "per-process medians."
    )


def jumps_text(flags: Sequence[str]) -> str:
    """The mode-jump list printed under a table (from :func:`mode_jumps`)."""
    if not flags:
        return f"No mode jumps (no absolute time moved by more than {JUMP}x)."
    return f"Mode jumps (absolute times moved by more than {JUMP}x):\n" + "\n".join(
        f"- {f}" for f in flags
    )
