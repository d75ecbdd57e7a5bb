"""Shared benchmark utilities: timing by median of repeats, graphs, markdown tables."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
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
    """Write a result file atomically (temp file, then rename)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path
