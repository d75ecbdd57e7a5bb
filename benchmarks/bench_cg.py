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

Run: ``python benchmarks/bench_cg.py [--quick] [--threads 1 2]`` (prints a markdown
table and writes ``benchmarks/results/cg.md``; under a minute on 2 cores).
"""

from __future__ import annotations

import os

# scipy's cg is single-threaded except for numpy's BLAS dot products; pin that BLAS
# to one thread (before numpy is imported) so both sides are measured single-threaded
# and OpenBLAS thread contention on a busy host does not distort the reference.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _common import fmt_time, machine, random_graph, save, table  # noqa: E402

from graphops import Laplacian  # noqa: E402
from graphops.linalg import CG  # noqa: E402

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
    """Time both solvers, interleaved, and check they agree.

    The two are run alternately ``repeat`` times and the minimum of each is kept:
    on a shared host the load changes over a run, and interleaving plus the
    minimum exposes both sides to the same conditions.
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
    t_ours, t_scipy = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        cg.solve(L, b, shift=1.0)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        _scipy_columns(a, bn, RTOL)
        t_scipy.append(time.perf_counter() - t0)

    scale = np.abs(x_sp).max()
    diff = float(np.abs(res.x.numpy() - x_sp).max() / scale)
    ours_its = res.iterations.tolist()
    return {
        "label": label,
        "N": n,
        "nnz": L.values.numel(),
        "iters": res.num_iters,
        "iters_scipy": f"{min(its)}-{max(its)}",
        "iters_ours": f"{min(ours_its)}-{max(ours_its)}",
        "ours": min(t_ours),
        "scipy": min(t_scipy),
        "ratio": min(t_scipy) / min(t_ours),
        "diff": diff,
    }


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
    opts = parser.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    # (label, N, directed edges, repeats): more repeats where one run is short.
    cases = [("Cora-size", 2708, 10_556, 5 if opts.quick else 25)]
    if not opts.quick:
        cases.append(("200k edges", 50_000, 200_000, 7))
    rows = []
    for threads in opts.threads:
        torch.set_num_threads(threads)
        for label, n, e, repeat in cases:
            r = bench(label, n, e, repeat=repeat)
            rows.append(
                [
                    r["label"],
                    r["N"],
                    r["nnz"],
                    threads,
                    f"{r['iters_ours']} / {r['iters_scipy']}",
                    fmt_time(r["ours"]),
                    fmt_time(r["scipy"]),
                    f"**{r['ratio']:.1f}x**",
                    f"{r['diff']:.1e}",
                ]
            )
    headers = [
        "graph",
        "N",
        "nnz(I + L)",
        "torch threads",
        "CG iterations per column, ours / scipy",
        f"graphpde CG.solve, [N, {F}] block",
        f"scipy cg x {F} columns",
        f"speed-up (target >= {TARGET:g}x)",
        "max rel. difference",
    ]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    text = (
        f"### Block CG: (I + L) X = B, X [N, {F}], float64, Jacobi, rtol={RTOL:g}\n\n"
        f"Machine: {machine()}; load average before the run: {load}\n\n"
        f"{table(headers, rows)}\n"
    )
    print(text)
    save("cg_quick" if opts.quick else "cg", text)
    return text


if __name__ == "__main__":
    main()
