r"""Domain decomposition: partition statistics and time per distributed ``L @ x``.

Four modes::

    # edge cut, balance, halo sizes and bytes per operator application
    python benchmarks/bench_distributed.py stats [--data DIR] [--big]

    # time per application with K processes (gloo, one thread each)
    OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc-per-node K \\
        benchmarks/bench_distributed.py time [--graph cora|random] [--features 64]

    # papers100M paper estimate from the measured SpMM throughput
    python benchmarks/bench_distributed.py costmodel [--bandwidth 25 --latency 2]

    # multirate: error of stale halos (exchange every k-th application) on heat flow
    OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc-per-node K \\
        benchmarks/bench_distributed.py multirate [--rows 30]

``stats`` needs one process. Bytes per application: every ghost row is received
once per application, so the bytes moved are ``sum_r n_ghost(r) * F * itemsize``
(the same number is sent). ``time`` reports, on rank 0, the median over repeats
of the per-step time of the slowest rank (a barrier closes every repeat), for the
full ``op @ x``, the halo exchange alone and the local SpMM alone, forward and
forward + backward; with one process it also times the plain single-process
operator for reference.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from graphops import Graph, Laplacian  # noqa: E402
from graphops.partition import halo_plan, partition  # noqa: E402


def random_graph(n: int = 10_000, avg_pairs: int = 5, seed: int = 0) -> Graph:
    """Erdos-Renyi-like: ``avg_pairs * n`` uniform random pairs, symmetrised."""
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, avg_pairs * n), generator=g)
    return Graph(ei, n, directed="symmetrize")


def load(name: str, data: str | None) -> Graph:
    """``cora``/``squirrel`` (from ``data``), ``random`` (10k) or ``grid1m``."""
    if name in ("cora", "squirrel"):
        from graphops import datasets

        return datasets.load(name, data or os.environ["GRAPHPDE_DATA"]).graph
    if name == "grid1m":
        from graphops.datasets import grid_graph

        return grid_graph(1000, 1000)
    return random_graph()


def stats(args) -> None:
    """Print the partition table (markdown)."""
    names = ["cora", "squirrel", "random"] + (["grid1m"] if args.big else [])
    names = [args.only] if args.only else names
    print("| graph | N | M | parts | method | edge cut (% of M) | balance | "
          "ghosts max / total | messages | bytes per L@x, F=1 f64 | "
          "F=64 f32 | partition s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        try:
            graph = load(name, args.data)
        except (KeyError, FileNotFoundError) as exc:
            print(f"| {name} | skipped: {exc} |")
            continue
        for method in args.methods.split(","):
            for k in (2, 4, 8):
                t0 = time.perf_counter()
                part = partition(graph, k, method=method)
                secs = time.perf_counter() - t0
                plans = [halo_plan(graph, part, r) for r in range(k)]
                ghosts = [p.num_ghosts for p in plans]
                msgs = sum(len(p.send) for p in plans)
                total = sum(ghosts)
                pct = 100 * part.edge_cut / graph.num_edges
                print(
                    f"| {name} | {graph.num_nodes} | {graph.num_edges} | {k} | "
                    f"{method} | {part.edge_cut} ({pct:.1f}%)"
                    f" | {part.balance:.3f} | {max(ghosts)} / {total} | {msgs} | "
                    f"{_kb(total * 8)} | {_kb(total * 64 * 4)} | {secs:.2f} |",
                    flush=True,
                )


def _kb(b: int) -> str:
    return f"{b / 1024:.1f} KiB" if b < 2**20 else f"{b / 2**20:.2f} MiB"


def _timed(fn, steps: int, repeats: int) -> float:
    """Median over repeats of seconds per call, the slowest rank's (barriers)."""
    import torch.distributed as dist

    for _ in range(3):
        fn()
    out = []
    for _ in range(repeats):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        dist.barrier()
        out.append((time.perf_counter() - t0) / steps)
    return statistics.median(out)


def time_steps(args) -> None:
    """Time ``op @ x`` on this rank's block; rank 0 prints one markdown row."""
    import torch.distributed as dist

    from graphops.distributed import DistributedOperator, halo_exchange
    from graphops.spmm import spmm

    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    rank, world = dist.get_rank(), dist.get_world_size()
    graph = load(args.graph, args.data).to(torch.float32)
    part = partition(graph, world, method=args.method)
    plan = halo_plan(graph, part, rank)
    op = DistributedOperator(plan, Laplacian, normalization="sym")
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(plan.num_owned, args.features, generator=g)
    xg = x.clone().requires_grad_()
    b, (v_in, v_halo), (c_in, c_halo) = (
        op._blocks, op._split_values(x.dtype), op._csr(x.dtype)
    )
    ghosts = x.new_zeros(plan.num_ghosts, args.features)

    def local():
        y = spmm(b.inner, v_in, x, None, c_in)
        return y + spmm(b.halo, v_halo, ghosts, None, c_halo) if b.halo.nnz else y

    def fwd_bwd():
        (op @ xg).sum().backward()

    res = {
        "op @ x": _timed(lambda: op @ x, args.steps, args.repeats),
        "halo exchange": _timed(lambda: halo_exchange(x, plan), args.steps,
                                args.repeats),
        "local SpMM": _timed(local, args.steps, args.repeats),
        "fwd+bwd": _timed(fwd_bwd, args.steps, args.repeats),
    }
    if world == 1:
        L = Laplacian(graph, "sym")
        res["single-process L @ x"] = _timed(lambda: L @ x, args.steps, args.repeats)
    if rank == 0:
        cells = " | ".join(f"{k}: {1e3 * v:.3f} ms" for k, v in res.items())
        print(f"| {args.graph} | {world} | {args.features} | {part.edge_cut} | "
              f"{cells} |", flush=True)
    dist.destroy_process_group()


def multirate(args) -> None:
    """Heat flow with stale halos: error against the exact solution vs ``every``.

    ``y' = -L y`` on a ``rows x rows`` grid (combinatorial Laplacian) from a hot
    corner square (a third of the side), RK4 to ``t = 1``; the exact solution is
    ``V exp(-Lambda t) V^T y0`` (dense eigendecomposition). Rank 0 prints one row
    per ``(dt, every)``.
    """
    import torch.distributed as dist

    from graphops.datasets import grid_graph
    from graphops.distributed import DistributedOperator
    from solvers import RK4, LinearTerm, solve

    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    rank, world = dist.get_rank(), dist.get_world_size()
    graph = grid_graph(args.rows, args.rows).to(torch.float64)
    part = partition(graph, world, method=args.method)
    plan = halo_plan(graph, part, rank)
    # a hot square in one corner: heat crosses every cut of the partitions
    side = torch.arange(args.rows) < args.rows // 3
    y0 = (side[:, None] & side[None, :]).to(torch.float64).reshape(-1, 1)
    op = DistributedOperator(plan, Laplacian)
    if rank == 0:
        lam, vec = torch.linalg.eigh(Laplacian(graph).to_dense())
        exact = vec @ (torch.exp(-lam)[:, None] * (vec.T @ y0))
        print(f"grid {args.rows}x{args.rows}, {world} ranks, {part}")
        print("| dt | every | exchanges | max abs error | rel. L2 error | "
              "error / error(every=1) |")
        print("|---|---|---|---|---|---|")
    for dt in (0.01, 0.05):
        base = None
        for every in (1, 2, 4, 8, 16):
            mr = op.multirate(every)
            y = solve(LinearTerm(mr), RK4(), y0=y0[plan.owned], t1=1.0, dt0=dt).ys[-1]
            blocks = [None] * world
            dist.all_gather_object(blocks, (plan.owned, y))
            if rank == 0:
                full = torch.zeros_like(y0)
                for owned, b in blocks:
                    full[owned] = b
                err = float((full - exact).abs().max())
                rel = float((full - exact).norm() / exact.norm())
                base = err if base is None else base
                exchanges = -(-mr.count // every)
                print(f"| {dt} | {every} | {exchanges} | {err:.2e} | {rel:.2e} | "
                      f"{err / base:.3g} |", flush=True)
    dist.destroy_process_group()


def cost_model(args) -> None:
    """A paper estimate for papers100M-scale graphs from measured SpMM throughput.

    Compute per rank: the local SpMM's ``nnz * F`` multiply-adds at the
    throughput measured here (one thread, a 200k-node random graph, ``F`` float32
    columns, out of cache). Communication per application: the ghost rows'
    bytes at a stated bandwidth plus a stated latency per message. Assumed, not
    measured: the network, the halo size (ghost rows per rank as a multiple of the
    owned rows, capped at ``N - N/K``; two scenarios) and one message per peer with
    ``min(K - 1, 64)`` peers. Memory per rank: the operator structures as
    implemented (about 52 bytes per stored entry: the extended pattern with its row
    array, the two block patterns and their CSR tensors) plus six ``[rows, F]``
    float32 blocks (an RK4 state, four stages, one temporary) over owned + ghost
    rows.
    """
    from graphops.spmm import spmm

    torch.set_num_threads(1)
    graph = random_graph(200_000, 8, seed=1).to(torch.float32)
    L = Laplacian(graph, "sym")
    x = torch.randn(graph.num_nodes, args.features)
    nnz = L.pattern.nnz
    csr = L.csr()
    secs = statistics.median(
        _wall(lambda: spmm(L.pattern, L.values, x, None, csr)) for _ in range(5)
    )
    rate = nnz * args.features / secs
    n, m, f = 111_059_956, 1_600_000_000, args.features
    bw, lat = args.bandwidth * 1e9, args.latency * 1e-6
    print(f"measured SpMM throughput: {rate / 1e9:.2f} G entry-columns/s "
          f"(nnz={nnz}, F={f}, {1e3 * secs:.1f} ms per product, one thread)")
    print(f"network (assumed): {args.bandwidth:g} GB/s per rank, "
          f"{args.latency:g} us per message")
    print("| ranks | halo / owned (assumed) | nnz per rank | compute ms | comm ms | "
          "RK4 steps/s, no overlap | RK4 steps/s, full overlap | memory per rank |")
    print("|---|---|---|---|---|---|---|---|")
    for k in (16, 64, 256):
        for ratio in (0.5, 2.0):
            own = n / k
            ghosts = min(ratio * own, n - own)
            nnz_r = own + 2 * m / k
            comp = nnz_r * f / rate
            comm = ghosts * f * 4 / bw + min(k - 1, 64) * lat
            rk4 = 4  # applications per RK4 step
            mem = 52 * nnz_r + 6 * (own + ghosts) * f * 4
            print(f"| {k} | {ratio:g} | {nnz_r / 1e6:.0f}M | {1e3 * comp:.0f} | "
                  f"{1e3 * comm:.1f} | {1 / (rk4 * (comp + comm)):.3g} | "
                  f"{1 / (rk4 * max(comp, comm)):.3g} | {mem / 2**30:.1f} GiB |",
                  flush=True)


def _wall(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    """Parse the mode and run it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("stats", "time", "multirate", "costmodel"))
    ap.add_argument("--bandwidth", type=float, default=25.0,
                    help="costmodel: GB/s per rank (assumed)")
    ap.add_argument("--latency", type=float, default=2.0,
                    help="costmodel: microseconds per message (assumed)")
    ap.add_argument("--rows", type=int, default=30, help="multirate: grid side")
    ap.add_argument("--data", default=os.environ.get("GRAPHPDE_DATA"))
    ap.add_argument("--big", action="store_true", help="add a 1M-node grid")
    ap.add_argument("--only", default=None, help="one graph for stats")
    ap.add_argument("--methods", default="spectral,bfs", help="for stats")
    ap.add_argument(
        "--graph", default="cora", choices=("cora", "squirrel", "random", "grid1m")
    )
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--method", default="spectral")
    args = ap.parse_args()
    modes = {"stats": stats, "time": time_steps, "multirate": multirate,
             "costmodel": cost_model}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
