"""Scale: a full-batch training epoch on CPU at 100k to 1M nodes (issue 13, target 6).

Two models, one epoch each = forward in training mode (dropout on), loss on the
training nodes, backward, Adam step, float32, width ``F = 64``:

* ``gcn``: GCN as explicit Euler steps (:func:`models.gcn.from_config`: Kipf's
  2-layer GCN, ``hidden = 64``, dropout 0.5; each layer one ``Euler`` step of
  ``dt = 1``), gradient by backpropagation through the steps;
* ``pde-gcn-h``: PDE-GCN_H (:func:`models.pde_gcn.from_config`, ``variant="H"``,
  the ``pde-gcn-h-cora-semi`` preset's 16 layers, ``h = 2``, dropout 0.6, width 64),
  checkpointed: ``model.adjoint = Checkpoint(segments)`` (default ``None``: about
  ``sqrt(16) = 4`` segments of 4 layers, recomputed in the backward pass).

**Graph.** :func:`graphops.datasets.csbm` (vectorised: pairs sampled without
replacement per block, no Python loop over nodes), 7 classes, 64 Gaussian
features, mean degree ``--degree`` (default 10). Sizes are counted the way the
other benchmarks count "edges": **directed entries**, ``2 M`` for ``M``
undirected edges, so ``1M nodes, 10M edges`` is about 5M undirected edges and
10M directed entries (``edge_index.size(1)`` in PyG). The tables give the exact
``M`` of every graph. The same graph (seed 0) is used by every process of a size.

**Protocol.** Every (model, size) runs in fresh subprocesses, one after the other
(``--processes`` of them at the largest size of ``--sizes``, ``--processes-other`` at
the others), with ``torch.set_num_threads(--threads)`` (default 2) and
``MALLOC_MMAP_THRESHOLD_=131072`` so that freed large blocks leave the process
(otherwise glibc keeps them in the heap and a later peak hides inside them). A
process builds the graph, runs one warm-up epoch, then ``--epochs`` timed epochs
(default 3); its epoch time is the median of those. Across processes the table
gives the median and the spread (min-max) of the per-process medians and flags
mode jumps (``_common.mode_jumps``). These are absolute times, not ratios: on
this shared machine they move with the load, so the load average
(``os.getloadavg()``) is recorded at the start and end of every process.

**Memory.** Measured in the process (Linux ``/proc/self/status``): the baseline
after the imports; graph construction = ``VmHWM`` (equal to ``ru_maxrss``) after
``csbm`` minus the baseline (peak) and ``VmRSS`` minus the baseline (what stays:
features, labels, masks, edge list); epoch = the high-water mark reset through
``/proc/self/clear_refs`` just before each epoch, ``VmHWM - VmRSS`` over the
epoch (growth) and the absolute ``VmHWM``. The parent also reads the child's
``ru_maxrss`` through ``os.wait4``; the resets make that the process's peak
during its last timed epoch (graph and interpreter included). CPU torch has no
allocator statistics, so torch's own accounting is the autograd graph: the bytes
of the unique storages saved for backward during the warm-up epoch's forward pass
(``saved_tensors_hooks``; with ``Checkpoint`` the tensors saved inside the
segments are not held and not counted). Components (features, edge list, CSR
patterns cached on the graph, parameters and Adam state) are the ``nbytes`` of
their tensors. Each process gets an address-space limit (``--max-gib``, default
the available memory at the start minus 2 GiB), so a size that does not fit fails
with an allocation error in its own process instead of waking the kernel's OOM
killer on a shared machine. A size is skipped, with the reason in the table, when
its process peak or its epoch time, extrapolated linearly in ``N`` from the last
size measured, would exceed the limit (less 1 GiB) or ``--max-epoch-s`` (600 s),
or when a smaller size failed; the extra processes of the largest size are
skipped when one process took longer than ``--repeat-budget-s`` (600 s).

The growth exponents ``time ~ N^a`` and ``memory ~ N^b`` are least-squares slopes
on log-log axes over the sizes measured (same mean degree, so ``M ~ N``).

Run: ``python benchmarks/bench_scale.py [--quick] [--sizes 100000,1000000]
[--models gcn,pde-gcn-h] [--processes 3]`` (writes
``benchmarks/results/scale[_quick].{md,json,png}``; ``--quick`` (alias
``--smoke``) uses graphs of 2000 and 4000 nodes and 4 PDE-GCN layers: a smoke run
of about a minute, mostly process start-up).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
# Measure the tree this file belongs to, whatever is installed.
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    RESULTS,
    fmt_time,
    machine,
    mode_jumps,
    reset_peak,
    save,
    status_bytes,
    table,
)

from graphops.datasets import csbm  # noqa: E402
from models import gcn, pde_gcn  # noqa: E402
from solvers import Checkpoint  # noqa: E402

MODELS = ("gcn", "pde-gcn-h")
SIZES = (100_000, 200_000, 500_000, 1_000_000)
QUICK_SIZES = (2_000, 4_000)
#: Directed entries per node (mean degree): 1M nodes -> about 10M directed entries.
DEGREE = 10.0
FEATURES = 64
HIDDEN = 64
CLASSES = 7
GCN_LAYERS = 2
#: The pde-gcn-h-cora-semi preset (GNcora.py driver): 16 layers, h = 2, dropout 0.6.
PDE_LAYERS, PDE_H, PDE_DROPOUT = 16, 2.0, 0.6
QUICK_PDE_LAYERS = 4
LR = 0.01
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}
GIB = 2.0**30
MIB = 2.0**20


def results_dir() -> Path:
    """``$GRAPHPDE_BENCH_RESULTS`` or ``benchmarks/results`` (as ``_common.save``)."""
    return Path(os.environ.get("GRAPHPDE_BENCH_RESULTS", RESULTS))


# ---------------------------------------------------------------------------------
# Memory helpers (Linux /proc)
# ---------------------------------------------------------------------------------
def available_bytes() -> int:
    """``MemAvailable`` of the machine in bytes (0 where unavailable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tensor_bytes(*objs: object) -> int:
    """Bytes of the unique tensor storages reachable from ``objs``.

    Walks tensors, tuples, lists, dicts and objects with ``__slots__`` or
    ``__dict__`` (e.g. the sparse patterns cached on a graph), counting each storage
    once.
    """
    seen: set[int] = set()
    storages: dict[int, int] = {}

    def walk(o: object) -> None:
        if id(o) in seen:
            return
        seen.add(id(o))
        if isinstance(o, torch.Tensor):
            if o.layout == torch.strided:
                s = o.untyped_storage()
                storages[s.data_ptr()] = s.nbytes()
            return
        if isinstance(o, dict):
            for v in o.values():
                walk(v)
        elif isinstance(o, (tuple, list)):
            for v in o:
                walk(v)
        else:
            for name in getattr(type(o), "__slots__", ()):
                walk(getattr(o, name, None))
            for v in getattr(o, "__dict__", {}).values():
                walk(v)

    for o in objs:
        walk(o)
    return sum(storages.values())


# ---------------------------------------------------------------------------------
# The measured process
# ---------------------------------------------------------------------------------
def build_model(name: str, *, pde_layers: int, segments: int | None):
    """The model and its optimiser; returns ``(model, optimizer, uses_log_probs)``."""
    torch.manual_seed(0)
    if name == "gcn":
        model = gcn.from_config(
            FEATURES, CLASSES, hidden=HIDDEN, layers=GCN_LAYERS, dropout=0.5
        )
        return model, torch.optim.Adam(model.parameters(), lr=LR), False
    if name == "pde-gcn-h":
        model = pde_gcn.from_config(
            FEATURES,
            CLASSES,
            variant="H",
            hidden=HIDDEN,
            layers=pde_layers,
            h=PDE_H,
            dropout=PDE_DROPOUT,
        )
        model.adjoint = Checkpoint(segments=segments)
        groups = pde_gcn.param_groups(model, lr=LR, lr_K=5e-5, wd=5e-4)
        return model, torch.optim.Adam(groups), True
    raise ValueError(
        f"bench_scale: `--models` must name models among {MODELS}; got {name!r}."
    )


def child(spec: dict) -> dict:
    """One (model, size) measurement in this fresh process; returns the record."""
    torch.set_num_threads(spec["threads"])
    load_start = os.getloadavg()
    gc.collect()
    rss_base = status_bytes("VmRSS") or 0
    t0 = time.perf_counter()
    data = csbm(
        spec["n"],
        num_classes=CLASSES,
        num_features=FEATURES,
        mean_degree=spec["degree"],
        seed=0,
        dtype=torch.float32,
    )
    build_s = time.perf_counter() - t0
    gc.collect()
    graph_peak = status_bytes("VmHWM") or 0
    graph_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    graph_resident = (status_bytes("VmRSS") or 0) - rss_base
    x, graph, y, mask = data.x, data.graph, data.y, data.train_mask
    model, opt, log_probs = build_model(
        spec["model"], pde_layers=spec["pde_layers"], segments=spec["segments"]
    )
    model = model.to(torch.float32)
    loss_fn = F.nll_loss if log_probs else F.cross_entropy

    def epoch() -> float:
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x, graph)[mask], y[mask])
        loss.backward()
        opt.step()
        return float(loss.detach())

    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.layout == torch.strided:
            s = t.untyped_storage()
            storages.setdefault(s.data_ptr(), s.nbytes())
        return t

    exact = reset_peak()
    rss0 = status_bytes("VmRSS") or 0
    t0 = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model.train()
        opt.zero_grad(set_to_none=True)
        out = model(x, graph)
    warm_fwd_s = time.perf_counter() - t0
    saved = sum(storages.values())
    loss = loss_fn(out[mask], y[mask])
    loss.backward()
    opt.step()
    del out, loss
    warm_s = time.perf_counter() - t0
    warm_peak = (status_bytes("VmHWM") or 0) - rss0
    components = {
        "features": tensor_bytes(x),
        "labels_masks": tensor_bytes(y, data.train_mask, data.val_mask, data.test_mask),
        "edge_list": tensor_bytes(graph.edge_index, graph.edge_weight),
        "csr_patterns": tensor_bytes(graph._cache),
        "params_adam": tensor_bytes(list(model.parameters()), opt.state),
        "saved_for_backward": saved,
    }
    times, peaks, peaks_abs, losses = [], [], [], []
    for _ in range(spec["epochs"]):
        gc.collect()
        reset_peak()
        rss0 = status_bytes("VmRSS") or 0
        t0 = time.perf_counter()
        losses.append(epoch())
        times.append(time.perf_counter() - t0)
        peaks_abs.append(status_bytes("VmHWM") or 0)
        peaks.append(peaks_abs[-1] - rss0)
    return {
        "model": spec["model"],
        "n": graph.num_nodes,
        "m": graph.num_edges,
        "threads": torch.get_num_threads(),
        "build_s": build_s,
        "rss_base": rss_base,
        "graph_peak": graph_peak - rss_base,
        "graph_peak_abs": graph_peak,
        "graph_maxrss_abs": graph_maxrss,
        "graph_resident": graph_resident,
        "warm_s": warm_s,
        "warm_fwd_s": warm_fwd_s,
        "warm_peak": warm_peak,
        "epoch_s": times,
        "epoch_peak": peaks,
        "epoch_peak_abs": peaks_abs,
        "exact_peak": exact,
        "components": components,
        "losses": losses,
        "depth": model.depth,
        "adjoint": repr(model.adjoint),
        "load_start": load_start,
        "load_end": os.getloadavg(),
    }


def run_child(spec: dict, limit: int) -> dict:
    """Run :func:`child` in a fresh process under an address-space ``limit``.

    Returns its record, plus ``ru_maxrss`` of the child (``os.wait4``); on a
    failure (an allocation refused under the limit, a crash) a record with
    ``"failed"`` holding the end of its standard error.
    """
    env = dict(os.environ, **MALLOC_ENV, OMP_NUM_THREADS=str(spec["threads"]))
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    if limit > 0:
        cmd += ["--as-limit", str(limit)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        tail = err.read()[-3000:]
    if proc.returncode != 0 or not lines:
        return {**spec, "failed": f"exit {proc.returncode}: {tail.strip()}"}
    rec = json.loads(lines[-1])
    rec["ru_maxrss_wait4"] = usage.ru_maxrss * 1024
    rec["process_wall_s"] = wall
    return rec


def skip_reason(
    n: int,
    last: tuple[int, int] | None,
    last_epoch: tuple[int, float] | None,
    limit: int,
    max_epoch_s: float,
) -> str | None:
    """Why size ``n`` is not run (``None``: run it), extrapolating linearly in ``N``.

    Args:
        n: The next size.
        last: ``(N, process peak RSS in bytes)`` of the last size measured, or None.
        last_epoch: ``(N, epoch seconds)`` of the last size measured, or None.
        limit: The address-space limit per process in bytes (0: none). The limit
            counts address space, which exceeds the RSS (libraries, thread stacks),
            so the predicted peak RSS must stay 1 GiB below it.
        max_epoch_s: Largest predicted epoch time that is still run.

    Returns:
        A sentence naming the prediction and the bound it exceeds, or ``None``.
    """
    if last is not None and limit > 0:
        predicted = last[1] * n / last[0]
        if predicted > limit - GIB:
            return (
                f"predicted process peak {fmt_bytes(predicted)} (linear from "
                f"{fmt_bytes(last[1])} at N={last[0]:,}) exceeds the limit "
                f"{fmt_bytes(limit)} less 1 GiB"
            )
    if last_epoch is not None:
        predicted_t = last_epoch[1] * n / last_epoch[0]
        if predicted_t > max_epoch_s:
            return (
                f"predicted epoch {fmt_time(predicted_t)} (linear from "
                f"{fmt_time(last_epoch[1])} at N={last_epoch[0]:,}) exceeds "
                f"--max-epoch-s {max_epoch_s:g} s"
            )
    return None


# ---------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------
def fmt_bytes(b: float | None) -> str:
    if b is None:
        return "n/a"
    if b >= GIB:
        return f"{b / GIB:.2f} GiB"
    return f"{b / MIB:.0f} MiB"


def slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ``log y`` on ``log x`` (None with < 2 points)."""
    pts = [(math.log(a), math.log(b)) for a, b in zip(xs, ys, strict=True) if b > 0]
    if len(pts) < 2:
        return None
    mx = statistics.fmean(p[0] for p in pts)
    my = statistics.fmean(p[1] for p in pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx else None


def summarize(records: list[dict]) -> dict:
    """Per (model, size): medians over processes and spreads of one size's runs."""
    ok = [r for r in records if "failed" not in r]
    out: dict = {}
    for r in ok:
        out.setdefault((r["model"], r["n"]), []).append(r)
    rows = {}
    for key, rs in out.items():
        meds = [statistics.median(r["epoch_s"]) for r in rs]
        peaks = [max(r["epoch_peak"]) for r in rs]
        rows[key] = {
            "runs": rs,
            "time": statistics.median(meds),
            "time_lo": min(meds),
            "time_hi": max(meds),
            "peak": statistics.median(peaks),
            "peak_lo": min(peaks),
            "peak_hi": max(peaks),
            "maxrss": statistics.median(r["ru_maxrss_wait4"] for r in rs),
            "jumps": mode_jumps([{"epoch": r["epoch_s"]} for r in rs], ["epoch"]),
        }
    return rows


def plot(rows: dict, models: list[str], path: Path) -> None:
    """Log-log epoch time and peak memory against nodes (120 dpi PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4.2))
    for name in models:
        keys = sorted(k for k in rows if k[0] == name)
        if not keys:
            continue
        n = [k[1] for k in keys]
        t = [rows[k]["time"] for k in keys]
        lo = [rows[k]["time"] - rows[k]["time_lo"] for k in keys]
        hi = [rows[k]["time_hi"] - rows[k]["time"] for k in keys]
        a = slope(n, t)
        ax_t.errorbar(
            n,
            t,
            yerr=[lo, hi],
            marker="o",
            capsize=3,
            label=f"{name} (a = {a:.2f})" if a is not None else name,
        )
        pk = [rows[k]["peak"] / GIB for k in keys]
        tot = [rows[k]["maxrss"] / GIB for k in keys]
        b = slope(n, pk)
        (line,) = ax_m.plot(
            n,
            pk,
            marker="o",
            label=f"{name}: epoch growth (b = {b:.2f})"
            if b is not None
            else f"{name}: epoch growth",
        )
        ax_m.plot(
            n,
            tot,
            marker="s",
            ls="--",
            color=line.get_color(),
            label=f"{name}: process peak (ru_maxrss)",
        )
    for ax, label in ((ax_t, "epoch time (s)"), (ax_m, "peak RSS (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("nodes N (mean degree fixed)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    ax_t.set_title("one training epoch (fwd + bwd + Adam), CPU")
    ax_m.set_title("peak memory")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(opts, records: list[dict], skipped: list[str], limit: int) -> str:
    """The markdown of the run."""
    rows = summarize(records)
    models = [m for m in opts.models if any(k[0] == m for k in rows)]
    body = []
    headers = [
        "model",
        "N",
        "M undirected (directed entries)",
        "processes",
        "build graph (csbm)",
        "graph: peak / resident",
        "epoch (median, spread)",
        "epoch peak RSS growth",
        "process peak, last epoch (ru_maxrss)",
        "saved for backward (hooks)",
        "load avg start -> end (1 min)",
    ]
    table_rows = []
    for (name, n), s in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rs = s["runs"]
        r0 = rs[0]
        spread = (
            f" ({fmt_time(s['time_lo'])}-{fmt_time(s['time_hi'])})"
            if len(rs) > 1
            else ""
        )
        pspread = (
            f" ({fmt_bytes(s['peak_lo'])}-{fmt_bytes(s['peak_hi'])})"
            if len(rs) > 1
            else ""
        )
        table_rows.append(
            [
                name,
                f"{n:,}",
                f"{r0['m']:,} ({2 * r0['m']:,})",
                len(rs),
                fmt_time(statistics.median(r["build_s"] for r in rs)),
                f"{fmt_bytes(r0['graph_peak'])} / {fmt_bytes(r0['graph_resident'])}",
                f"**{fmt_time(s['time'])}**{spread}",
                f"{fmt_bytes(s['peak'])}{pspread}",
                fmt_bytes(s["maxrss"]),
                fmt_bytes(r0["components"]["saved_for_backward"]),
                " / ".join(
                    f"{r['load_start'][0]:.1f} -> {r['load_end'][0]:.1f}" for r in rs
                ),
            ]
        )
    body.append(table(headers, table_rows))
    fits = []
    for name in models:
        keys = sorted(k for k in rows if k[0] == name)
        n = [k[1] for k in keys]
        a = slope(n, [rows[k]["time"] for k in keys])
        b = slope(n, [rows[k]["peak"] for k in keys])
        c = slope(n, [rows[k]["maxrss"] for k in keys])
        fits.append(
            [
                name,
                f"{n[0]:,}-{n[-1]:,}" if n else "-",
                "n/a" if a is None else f"{a:.2f}",
                "n/a" if b is None else f"{b:.2f}",
                "n/a" if c is None else f"{c:.2f}",
            ]
        )
    body.append(
        "Growth exponents (least-squares slopes on log-log axes):\n\n"
        + table(
            [
                "model",
                "sizes",
                "time ~ N^a: a",
                "epoch peak growth ~ N^b: b",
                "process peak ~ N^b: b",
            ],
            fits,
        )
    )
    comp_rows = []
    for (name, n), s in sorted(rows.items()):
        c = s["runs"][0]["components"]
        comp_rows.append(
            [
                name,
                f"{n:,}",
                fmt_bytes(c["features"]),
                fmt_bytes(c["labels_masks"]),
                fmt_bytes(c["edge_list"]),
                fmt_bytes(c["csr_patterns"]),
                fmt_bytes(c["params_adam"]),
                fmt_bytes(c["saved_for_backward"]),
                fmt_bytes(s["peak"]),
            ]
        )
    body.append(
        "Memory by component (first process of each size; tensor `nbytes`):\n\n"
        + table(
            [
                "model",
                "N",
                "features [N, 64]",
                "labels + masks",
                "edge list [2, M] + weights",
                "CSR patterns cached on the graph",
                "parameters + Adam state",
                "saved for backward (hooks)",
                "epoch peak RSS growth",
            ],
            comp_rows,
        )
    )
    jumps = [f"{k[0]} N={k[1]:,}: {j}" for k, s in rows.items() for j in s["jumps"]]
    failed = [
        f"{r['model']} N={r['n']:,}: {r['failed'].splitlines()[-1][:300]}"
        for r in records
        if "failed" in r
    ]
    notes = []
    if jumps:
        notes.append("Mode jumps (`_common.mode_jumps`, > 1.5x): " + "; ".join(jumps))
    if skipped:
        notes.append("Skipped: " + "; ".join(skipped))
    if failed:
        notes.append("Failed: " + "; ".join(failed))
    depth = {
        r["model"]: f"{r['depth']} layers, adjoint {r['adjoint']}"
        for r in records
        if "failed" not in r
    }
    title = f"### Scale: one training epoch on CPU{' (quick)' if opts.quick else ''}"
    text = (
        f"{title}\n\nMachine: {machine()}\n"
        f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{opts.threads} torch thread(s), address-space limit per process "
        f"{fmt_bytes(limit) if limit > 0 else 'none'}.\n\n"
        f"Graph: csbm, {CLASSES} classes, {FEATURES} features, mean degree "
        f"{opts.degree:g} (directed entries per node), float32. Models: "
        + "; ".join(f"{k}: {v}" for k, v in depth.items())
        + f". Epoch = train-mode forward + loss on the training nodes + backward + "
        f"Adam step; time = median of {opts.epochs} epochs after one warm-up epoch, "
        "per process; across processes median (min-max). Memory: see the "
        "module docstring of `benchmarks/bench_scale.py`.\n\n"
        + "\n\n".join(body)
        + "\n\n"
        + "".join(f"- {n}\n" for n in notes)
    )
    return text


# ---------------------------------------------------------------------------------
def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        "--smoke",
        dest="quick",
        action="store_true",
        help="tiny graphs (2000, 4000 nodes), 4 PDE-GCN layers: runs in seconds",
    )
    parser.add_argument(
        "--sizes", default=None, help="node counts, e.g. 100000,1000000"
    )
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"among {', '.join(MODELS)}"
    )
    parser.add_argument(
        "--degree", type=float, default=DEGREE, help="directed entries per node"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs")
    parser.add_argument(
        "--processes", type=int, default=3, help="processes at the largest size"
    )
    parser.add_argument(
        "--processes-other", type=int, default=1, help="processes at other sizes"
    )
    parser.add_argument(
        "--pde-layers", type=int, default=None, help="PDE-GCN_H layers (16)"
    )
    parser.add_argument(
        "--segments",
        type=int,
        default=None,
        help="Checkpoint segments of PDE-GCN_H (default: about sqrt(layers))",
    )
    parser.add_argument(
        "--max-gib",
        type=float,
        default=None,
        help="address-space limit per process (default: available - 2 GiB)",
    )
    parser.add_argument(
        "--max-epoch-s",
        type=float,
        default=600.0,
        help="skip a size whose epoch, extrapolated linearly, exceeds this (600)",
    )
    parser.add_argument(
        "--repeat-budget-s",
        type=float,
        default=600.0,
        help="run the extra processes of the largest size only if one took less",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--as-limit", type=int, default=0, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    opts.models = [m.strip() for m in opts.models.split(",") if m.strip()]
    for m in opts.models:
        if m not in MODELS:
            parser.error(f"`--models`: expected names among {MODELS}; got {m!r}.")
    if opts.sizes:
        opts.sizes = sorted(int(s) for s in opts.sizes.split(","))
    else:
        opts.sizes = list(QUICK_SIZES if opts.quick else SIZES)
    if opts.pde_layers is None:
        opts.pde_layers = QUICK_PDE_LAYERS if opts.quick else PDE_LAYERS
    if opts.epochs < 1 or opts.processes < 1 or opts.processes_other < 1:
        parser.error("`--epochs`, `--processes`, `--processes-other` must be >= 1.")
    return opts


def main(argv: list[str] | None = None) -> str:
    """Measure every (model, size), print and save the tables, return them."""
    opts = parse(argv)
    if opts.child is not None:
        if opts.as_limit > 0:
            resource.setrlimit(resource.RLIMIT_AS, (opts.as_limit, opts.as_limit))
        print(json.dumps(child(json.loads(opts.child))), flush=True)
        return ""
    torch.set_num_threads(opts.threads)
    if opts.max_gib is not None:
        limit = int(opts.max_gib * GIB)
    else:
        avail = available_bytes()
        limit = max(int(avail - 2 * GIB), 0) if avail else 0
    records: list[dict] = []
    skipped: list[str] = []
    t_start = time.perf_counter()
    for name in opts.models:
        last: tuple[int, int] | None = None  # (n, process peak) of the last size
        last_epoch: tuple[int, float] | None = None  # (n, epoch time)
        failed = False
        for n in opts.sizes:
            reason = skip_reason(n, last, last_epoch, limit, opts.max_epoch_s)
            if reason is None and failed:
                reason = "a smaller size failed"
            if reason is not None:
                skipped.append(f"{name} N={n:,}: {reason}")
                print(skipped[-1], flush=True)
                continue
            count = opts.processes if n == opts.sizes[-1] else opts.processes_other
            spec = {
                "model": name,
                "n": n,
                "degree": opts.degree,
                "threads": opts.threads,
                "epochs": opts.epochs,
                "pde_layers": opts.pde_layers,
                "segments": opts.segments,
            }
            for k in range(count):
                if k and records[-1]["process_wall_s"] > opts.repeat_budget_s:
                    skipped.append(
                        f"{name} N={n:,}: processes {k + 1}-{count} (the first took "
                        f"{records[-1]['process_wall_s']:.0f} s > --repeat-budget-s "
                        f"{opts.repeat_budget_s:g})"
                    )
                    print(skipped[-1], flush=True)
                    break
                rec = run_child(spec, limit)
                records.append(rec)
                if "failed" in rec:
                    print(f"{name} N={n:,} process {k + 1}: FAILED {rec['failed']}")
                    failed = True
                    break
                last = (n, rec["ru_maxrss_wait4"])
                last_epoch = (n, statistics.median(rec["epoch_s"]))
                print(
                    f"{name} N={n:,} M={rec['m']:,} process {k + 1}/{count}: "
                    f"epochs {[round(t, 3) for t in rec['epoch_s']]} s, peak growth "
                    f"{fmt_bytes(max(rec['epoch_peak']))}, ru_maxrss "
                    f"{fmt_bytes(rec['ru_maxrss_wait4'])}, load "
                    f"{rec['load_start'][0]:.2f} -> {rec['load_end'][0]:.2f}",
                    flush=True,
                )
    text = report(opts, records, skipped, limit)
    text += f"\nTotal time: {time.perf_counter() - t_start:.0f} s.\n"
    print(text, flush=True)
    suffix = "_quick" if opts.quick else ""
    save(f"scale{suffix}", text)
    out = results_dir()
    rows = summarize(records)
    if rows:
        plot(rows, opts.models, out / f"scale{suffix}.png")
    raw = {
        "machine": machine(),
        "argv": sys.argv[1:] if argv is None else list(argv),
        "limit": limit,
        "records": records,
        "skipped": skipped,
    }
    tmp = out / f"scale{suffix}.json.tmp"
    tmp.write_text(json.dumps(raw, indent=1))
    tmp.replace(out / f"scale{suffix}.json")
    return text


if __name__ == "__main__":
    main()
