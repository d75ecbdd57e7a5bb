"""Block CG benchmark: ``CG.solve`` on ``[N, 64]`` versus column-by-column scipy CG.

The system is one implicit-Euler step of heat flow with ``dt = 1``,
``(I + L) X = B`` for the combinatorial Laplacian of a random graph, in float64,
Jacobi-preconditioned on both sides, at the same ``rtol`` (the same stopping rule
``||b - A x|| <= rtol ||b||``). graphpde solves all 64 columns in one vectorised
recurrence (one sparse block product per iteration); the reference calls
``scipy.sparse.linalg.cg`` once per column, which is what one would do without a
block solver. Both results are checked against each other.

torch runs single-threaded by default (``--threads 1``), like scipy's ``cg``, so the
ratio measures the block formulation rather than parallelism; ``--threads 1 2`` adds
rows with two threads (on a busy 2-core host OpenMP contention makes those slower).

Timing follows the protocol of ``_common`` (interleaved rounds inside a process,
``--processes`` processes, median ratio and spread, mode jumps flagged).

Run: ``python benchmarks/bench_cg.py [--quick] [--threads 1 2] [--processes 3]``
(prints a markdown table and writes ``benchmarks/results/cg.md``; a few minutes on
2 cores).
"""

from __future__ import annotations

import os

# scipy's cg is single-threaded except for numpy's BLAS dot products; pin that BLAS
# to one thread (before numpy is imported) so both sides are measured single-threaded
# and OpenBLAS thread contention on a busy host does not distort the reference.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    JUMP,
    add_protocol_args,
    emit,
    fmt_time,
    interleaved,
    load,
    machine,
    mode_jumps,
    process_medians,
    protocol_text,
    random_graph,
    run_processes,
    save,
    summarize_ratio,
    table,
)

from graphops import Laplacian  # noqa: E402
from graphops.linalg import CG, _chunk_width  # noqa: E402

F = 64
RTOL = 1e-8
TARGET = 5.0


def _scipy_columns(a, b: np.ndarray, rtol: float) -> tuple[np.ndarray, list[int]]:
    """Column-by-column Jacobi-preconditioned scipy CG; returns (X, iterations)."""
    m = sp.diags(1.0 / a.diagonal())
    xs, its = [], []
    for k in range(b.shape[1]):
        count = [0]

        def cb(_x, count=count):
            count[0] += 1

        x, info = spla.cg(a, b[:, k], rtol=rtol, M=m, callback=cb)
        if info != 0:
            raise RuntimeError(
                f"bench_cg: scipy cg did not converge on column {k} (info={info})."
            )
        xs.append(x)
        its.append(count[0])
    return np.stack(xs, 1), its


def bench(label: str, n: int, e: int, *, repeat: int) -> dict:
    """Time both solvers, interleaved, in this process, and check they agree.

    Returns the per-round samples (the protocol of ``_common``), the iteration
    counts and the largest relative difference between the two solutions.
    """
    g = random_graph(n, e, seed=0)
    L = Laplacian(g)
    a = (sp.eye(n) + L.to_scipy()).tocsr()
    gen = torch.Generator().manual_seed(1)
    b = torch.randn(n, F, dtype=torch.float64, generator=gen)
    bn = b.numpy()
    cg = CG(rtol=RTOL)

    res = cg.solve(L, b, shift=1.0)  # warm-up (and the result to compare)
    if not res.success:
        raise RuntimeError(f"bench_cg: {res.message}")
    x_sp, its = _scipy_columns(a, bn, RTOL)
    # Roofline parts, in the same rounds: the block product CG runs once per
    # iteration (on the same column chunks as CG), one streaming pass over an
    # [N, F] block (p += q: 3 N F 8 bytes), and scipy's kernel on all columns.
    shifted = L.shifted(1.0)
    width = _chunk_width(b)
    chunks = [b[:, k : k + width].contiguous() for k in range(0, F, width)]
    outs = [torch.empty_like(c) for c in chunks]
    pb, qb = b.clone(), b.clone()
    cols = [np.ascontiguousarray(bn[:, k]) for k in range(F)]

    def spmm() -> None:
        for c, o in zip(chunks, outs, strict=True):
            shifted.matmul(c, out=o)

    def spmv_cols() -> None:
        for c in cols:
            a @ c

    samples = interleaved(
        {
            "ours": lambda: cg.solve(L, b, shift=1.0),
            "scipy": lambda: _scipy_columns(a, bn, RTOL),
            "spmm": spmm,
            "stream": lambda: pb.add_(qb),
            "spmv": spmv_cols,
        },
        repeat,
        calibrate=False,
    )
    scale = np.abs(x_sp).max()
    diff = float(np.abs(res.x.numpy() - x_sp).max() / scale)
    ours_its = res.iterations.tolist()
    # true residuals of both solutions, relative to ||b|| column by column
    r_ours = np.linalg.norm(bn - a @ res.x.numpy(), axis=0) / np.linalg.norm(bn, axis=0)
    r_sp = np.linalg.norm(bn - a @ x_sp, axis=0) / np.linalg.norm(bn, axis=0)
    return {
        "label": label,
        "N": n,
        "chunk": width,
        "iters": res.num_iters,
        "nnz": L.values.numel(),
        "iters_scipy": f"{min(its)}-{max(its)}",
        "iters_ours": f"{min(ours_its)}-{max(ours_its)}",
        "res_ours": float(r_ours.max()),
        "res_scipy": float(r_sp.max()),
        "samples": samples,
        "diff": diff,
    }


def _cases(quick: bool) -> list[tuple[str, int, int, int]]:
    # (label, N, directed edges, rounds): more rounds where one run is short.
    cases = [("Cora-size", 2708, 10_556, 5 if quick else 15)]
    if not quick:
        cases.append(("200k edges", 50_000, 200_000, 5))
    return cases


def worker(opts: argparse.Namespace) -> None:
    """One process of the protocol: every case and thread count, then emit."""
    torch.set_default_dtype(torch.float64)
    out = []
    for threads in opts.threads:
        torch.set_num_threads(threads)
        for label, n, e, repeat in _cases(opts.quick):
            r = bench(label, n, e, repeat=repeat)
            r["threads"] = threads
            out.append(r)
    emit(out)


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark, print and save a markdown table, and return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small graph only, fewer repeats"
    )
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1],
        help="torch thread counts to run (scipy's cg is single-threaded; default 1)",
    )
    add_protocol_args(parser)
    opts = parser.parse_args(argv)
    if opts.worker:
        worker(opts)
        return ""
    argv_w = (["--quick"] if opts.quick else []) + [
        "--threads",
        *map(str, opts.threads),
    ]
    load_before = load()
    procs = run_processes(__file__, argv_w, opts.processes)
    load_after = load()
    rows, flags = [], []
    for i, first in enumerate(procs[0]):
        runs = [p[i]["samples"] for p in procs]
        ratio = summarize_ratio(runs, "scipy", "ours")
        t_ours = statistics.median(process_medians(runs, "ours"))
        t_sp = statistics.median(process_medians(runs, "scipy"))
        flags += [f"{first['label']}, {s}" for s in mode_jumps(runs)]
        rows.append(
            [
                first["label"],
                first["N"],
                first["nnz"],
                first["threads"],
                f"{first['iters_ours']} / {first['iters_scipy']}",
                fmt_time(t_ours),
                fmt_time(t_sp),
                f"**{ratio}**",
                f"{first['res_ours']:.1e} / {first['res_scipy']:.1e}",
                f"{first['diff']:.1e}",
            ]
        )
    roof = []
    for i, first in enumerate(procs[0]):
        runs = [p[i]["samples"] for p in procs]
        med = {k: statistics.median(process_medians(runs, k)) for k in runs[0]}
        n, nnz, k = first["N"], first["nnz"], first["iters"]
        block = n * F * 8
        # bytes of one block product: values + column ids (8 + 8 per entry), the
        # gathered rows of P (F doubles per entry) and the written block
        spmm_bytes = nnz * 16 + nnz * F * 8 + block
        stream_bw = 3 * block / med["stream"]
        # the least vector traffic of one CG iteration, fully fused: read p, q, x,
        # r, write x, r, p (7 blocks), at the streaming bandwidth measured here
        vec_min = 7 * block / stream_bw
        t_iter = med["ours"] / k
        roof.append(
            [
                first["label"],
                first["chunk"],
                k,
                fmt_time(t_iter),
                fmt_time(med["spmm"]),
                f"{med['spmm'] / t_iter:.0%}",
                f"{spmm_bytes / 2**20:.1f} MiB, {spmm_bytes / med['spmm'] / 1e9:.1f}"
                " GB/s",
                f"{stream_bw / 1e9:.1f} GB/s",
                fmt_time(t_iter - med["spmm"]),
                fmt_time(vec_min),
                fmt_time(med["spmv"]),
                f"{med['scipy'] / (k * med['spmm']):.1f}x",
                f"{med['scipy'] / (k * (med['spmm'] + vec_min)):.1f}x",
            ]
        )
    roof_headers = [
        "graph",
        "CG column chunk",
        "iterations",
        "ours per iteration",
        "block product (same chunks)",
        "share of the iteration",
        "product: bytes, achieved",
        "streaming pass (p += q)",
        "vector work per iteration (rest)",
        "fused minimum (7 blocks at stream speed)",
        "scipy kernel: 64 x (A @ column)",
        "ceiling: scipy / (iterations x product)",
        "ceiling with fused vector work",
    ]
    headers = [
        "graph",
        "N",
        "nnz(I + L)",
        "torch threads",
        "CG iterations per column, ours / scipy",
        f"graphpde CG.solve, [N, {F}] block",
        f"scipy cg x {F} columns",
        f"speed-up, median (spread) (target >= {TARGET:g}x)",
        "max relative residual, ours / scipy",
        "max rel. difference",
    ]
    repeat = max(c[3] for c in _cases(opts.quick))
    text = (
        f"### Block CG: (I + L) X = B, X [N, {F}], float64, Jacobi, rtol={RTOL:g}\n\n"
        f"Machine: {machine()}; load average before / after: {load_before} / "
        f"{load_after}\n\n{table(headers, rows)}\n\n"
        f"{protocol_text(opts.processes, repeat)}\n\n"
        "Roofline (same processes and rounds; medians). No block CG can take less "
        "than `iterations x block product`; the ceilings divide scipy's time by "
        "that floor (and by it plus the least vector traffic of a fully fused "
        "iteration):\n\n"
        f"{table(roof_headers, roof)}\n\n"
        + (
            "Mode jumps (absolute times moved by more than "
            f"{JUMP}x):\n" + "\n".join(f"- {f}" for f in flags)
            if flags
            else f"No mode jumps (no absolute time moved by more than {JUMP}x)."
        )
        + "\n"
    )
    print(text)
    save("cg_quick" if opts.quick else "cg", text)
    return text


if __name__ == "__main__":
    main()
