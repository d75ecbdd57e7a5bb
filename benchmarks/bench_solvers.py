"""Solver benchmark: the fixed-step loop, stiff heat flow, memory of backprop.

Side by side in one run, F = 64, the right-hand side heat flow ``y' = -L y``:

1. **Loop overhead.** Fixed-step Euler and RK4 through graphpde's
   ``solve(LinearTerm(Laplacian(g, "sym")), Euler() / RK4(), ..., ConstantStep())``
   versus ``torchdiffeq.odeint(func, y0, [0, t1], method="euler" / "rk4",
   options=dict(step_size=dt))`` with ``func = lambda t, y: -(L @ y)`` on the *same*
   graphpde operator (so only the loop differs) and, for reference, a plain torch CSR
   matrix; torchode's fixed-step Euler and RK4 (its Runge-Kutta engine on the same
   tableau) if torchode is installed; and graphpde with the operator behind a
   callable, which takes the generic (unfused) stages. Same number of steps
   (checked through the evaluation counts), same final state (checked with
   ``allclose``), float32, under ``torch.no_grad()``. Graphs:
   Cora-size (N = 2708, about 10.5k directed edges) and 1M directed edges
   (N = 200k), both ``_common.random_graph``.
2. **Stiff heat flow.** The combinatorial Laplacian ``L = D - W`` of a random graph
   with high-degree hubs (heavy-tailed degrees, as in citation graphs), run to a
   time ``T`` with ``T * lam_max >= 1000`` (250 with ``--quick``), from ``y0`` =
   smooth (low Laplacian eigenvectors) + rough (white noise). Exact solution by a
   float64 eigendecomposition; the solves run in float32, errors are evaluated in
   float64.
   Every method is tuned to the same relative error (1e-3): graphpde's Dopri5 with a
   PI controller and torchdiffeq's dopri5 over decades of ``rtol`` (``atol = rtol``),
   ImplicitEuler and CrankNicolson over the number of fixed steps. The search is
   deterministic and runs once, in the parent process; the chosen settings are
   then timed under the protocol (each worker re-checks their errors first).
3. **Memory of backpropagation.** 64 fixed RK4 steps with learnable edge weights
   (the operator is rebuilt from them at every evaluation), loss = sum of the final
   state, on a 200k-edge graph, with and without ``adjoint=Checkpoint()``. Each
   configuration runs in a fresh subprocess and reports the bytes saved for
   backward (``saved_tensors_hooks``, unique storages), the RSS after the forward
   pass and the peak RSS during forward + backward (``VmHWM``, reset just before),
   both relative to the RSS before the solve, under glibc's default ``malloc`` and
   with ``MALLOC_MMAP_THRESHOLD_`` fixed (so freed blocks go back to the system at
   once). Gradients with and without checkpointing are compared.

Parts 1 and 2 follow the measurement protocol of ``_common`` (interleaved rounds,
``--processes`` worker processes, median ratio and spread, mode jumps flagged);
part 3 measures memory, one fresh process per configuration. Ratios are the
result; absolute times depend on the load. The thread count (1 or 2) is chosen
per graph by a short probe of the kernels both sides share (or set by
``--threads``), and the same count is used for every side.

Run: ``python benchmarks/bench_solvers.py [--quick] [--parts 1 2 3] [--threads 1]
[--processes 3]`` (prints one markdown table per part and writes
``benchmarks/results/solvers.md``, or ``solvers_quick.md``; a run of some parts
only writes ``solvers_part<k...>[_quick].md``, e.g. ``solvers_part2.md``).
"""

from __future__ import annotations

import argparse
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
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    PROCESSES,
    add_protocol_args,
    emit,
    fmt_time,
    interleaved,
    jumps_text,
    load,
    machine,
    mode_jumps,
    process_medians,
    protocol_text,
    random_graph,
    reset_peak,
    run_processes,
    save,
    status_bytes,
    summarize_ratio,
    table,
)
from torchdiffeq import odeint  # noqa: E402

from graphops import Graph, Laplacian, lam_max  # noqa: E402
from solvers import (  # noqa: E402
    CG,
    RK4,
    Backprop,
    Checkpoint,
    ConstantStep,
    CrankNicolson,
    Dopri5,
    Euler,
    ImplicitEuler,
    LinearTerm,
    PIController,
    solve,
)

F = 64
ERROR_TARGET = 1e-3  # part 2: relative error at which the methods are compared
CG_RTOL = 1e-6  # part 2: well below the error target
MMAP_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


# ---------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------
def _pick_threads(fn: Callable[[], object], rounds: int = 5) -> tuple[int, str]:
    """1 or 2 threads, whichever runs ``fn`` faster here (ties go to 2)."""
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for th in (1, 2):
            torch.set_num_threads(th)
            fn()
            t0 = time.perf_counter()
            fn()
            times[th].append(time.perf_counter() - t0)
    med = {th: statistics.median(v) for th, v in times.items()}
    best = 1 if med[1] < 0.95 * med[2] else 2
    torch.set_num_threads(best)
    return best, f"probe 1 thread {fmt_time(med[1])}, 2 threads {fmt_time(med[2])}"


# ---------------------------------------------------------------------------------
# Part 1: fixed-step loop overhead
# ---------------------------------------------------------------------------------
class _CountingFunc:
    """``func(t, y) = -(A @ y)`` for torchdiffeq, counting its evaluations."""

    def __init__(self, op) -> None:
        self.op, self.nfe = op, 0

    def __call__(self, t, y):
        self.nfe += 1
        return -(self.op @ y)


def _torchode_solver(method: str, func: Callable):
    """A torchode fixed-step solver for `method` on the flat state `[1, N*F]`.

    torchode treats dimension 0 as a batch of independent problems, so the graph
    state travels as one row. torchode has Euler but no classical RK4: RK4 is its
    ``ExplicitRungeKutta`` on the same tableau (zero error weights, unused under a
    fixed step), as a user of torchode would write it.
    """
    import torchode as to
    from torchode.interpolation import LinearInterpolation
    from torchode.single_step_methods.runge_kutta import (
        ButcherTableau as ToTableau,
    )
    from torchode.single_step_methods.runge_kutta import ExplicitRungeKutta

    term = to.ODETerm(func)
    if method == "euler":
        step = to.Euler(term)
    else:
        tab = ToTableau.from_lists(
            c=[0.0, 0.5, 0.5, 1.0],
            a=[[], [0.5], [0.0, 0.5], [0.0, 0.0, 1.0]],
            b=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
            b_err=[0.0, 0.0, 0.0, 0.0],
        )

        class _RK4(ExplicitRungeKutta):
            def convergence_order(self):
                return 4

            def build_interpolation(self, data):
                return LinearInterpolation(data.t0, data.dt, data.y0, data.y1)

        step = _RK4(term, tab)
    return to.AutoDiffAdjoint(step, to.FixedStepController()), to.InitialValueProblem


def _has_torchode() -> bool:
    try:
        import torchode  # noqa: F401
    except ImportError:
        return False
    return True


def _part1_case(
    label: str, n: int, e: int, steps: int, repeat: int, threads: int | None
) -> tuple[list[dict], str]:
    """One graph, both methods, in this process: per-round samples and checks."""
    g = random_graph(n, e, seed=0).to(dtype=torch.float32)
    L = Laplacian(g, "sym")
    csr = L.pattern.tensor(L.values.detach())  # the same matrix as a plain torch CSR
    y0 = torch.randn(n, F, generator=torch.Generator().manual_seed(1))
    dt = 1.0 / 32.0  # exact in binary: both grids have exactly `steps` steps
    t1 = steps * dt
    tt = torch.tensor([0.0, t1])
    big = n * F * 4 > 16 * 2**20  # one call takes seconds: no calibration call
    with_torchode = _has_torchode()
    rows = []
    with torch.no_grad():
        if threads is None:
            threads, probe = _pick_threads(
                lambda: [torch.add(y0, L @ y0, alpha=dt) for _ in range(4)]
            )
        else:
            torch.set_num_threads(threads)
            probe = "set by --threads"
        note = f"{label}: {threads} thread(s) ({probe})."
        for method, solver, stages in (("euler", Euler(), 1), ("rk4", RK4(), 4)):
            evals = steps * stages
            # First solve with a new operator: includes solve()'s lam_max estimate (then
            # cached on that operator); it also warms up graphpde's side.
            term = LinearTerm(Laplacian(g, "sym"))
            t0 = time.perf_counter()
            sol = solve(term, solver, y0=y0, t1=t1, dt0=dt, controller=ConstantStep())
            cold = time.perf_counter() - t0
            # The same equation with the operator behind a callable: the engine
            # cannot know it is fixed, so it takes the generic (unfused) stages.
            fixed_op = term.operator(0.0, y0)
            term_unfused = LinearTerm(lambda t, y, args, op=fixed_op: op)
            f_op, f_csr = _CountingFunc(L), _CountingFunc(csr)
            outs = {"ours": sol.ys[-1]}

            def run_ours(s=solver, m=term):
                return solve(m, s, y0=y0, t1=t1, dt0=dt, controller=ConstantStep())

            def run_unfused(s=solver, m=term_unfused, outs=outs):
                outs["unfused"] = solve(
                    m, s, y0=y0, t1=t1, dt0=dt, controller=ConstantStep()
                ).ys[-1]

            def run_tde(f, key, m=method, outs=outs):
                f.nfe = 0
                outs[key] = odeint(f, y0, tt, method=m, options=dict(step_size=dt))[-1]

            def rhs_only(k=evals):  # the evaluations alone: a floor for any loop
                for _ in range(k):
                    -(L @ y0)

            fns = {
                "ours": run_ours,
                "unfused": run_unfused,
                "tde_op": lambda f=f_op: run_tde(f, "tde_op"),
                "tde_csr": lambda f=f_csr: run_tde(f, "tde_csr"),
                "floor": rhs_only,
            }
            f_to = _CountingFunc(L)
            if with_torchode:
                to_solver, ivp_cls = _torchode_solver(
                    method, lambda t, y, f=f_to: f(t, y.view(n, F)).view(1, -1)
                )
                ivp = ivp_cls(y0=y0.reshape(1, -1), t_eval=tt[None])
                dt_to = torch.tensor([dt])

                def run_torchode(s=to_solver, ivp=ivp, f=f_to, d=dt_to, outs=outs):
                    f.nfe = 0
                    outs["torchode"] = s.solve(ivp, dt0=d).ys[0, -1].view(n, F)

                fns["torchode"] = run_torchode
            # big graphs: the RHS-alone floor is timed once (it varies least)
            samples = interleaved(
                fns, repeat, calibrate=not big, once=("floor",) if big else ()
            )
            nfes = [f_op.nfe, f_csr.nfe] + ([f_to.nfe] if with_torchode else [])
            if not (
                sol.stats.num_steps == steps
                and sol.stats.num_rhs_evals == evals
                and all(v == evals for v in nfes)
            ):
                raise RuntimeError(
                    "bench_solvers: step counts differ: graphpde "
                    f"{sol.stats.num_steps} steps / {sol.stats.num_rhs_evals} "
                    f"evaluations, torchdiffeq / torchode {nfes} "
                    f"evaluations; expected {steps} steps of {stages} stage(s)."
                )
            ours_y = outs["ours"]
            scale = float(ours_y.abs().max())
            others = [
                k for k in ("unfused", "tde_op", "tde_csr", "torchode") if k in outs
            ]
            diff = max(float((ours_y - outs[k]).abs().max()) for k in others) / scale
            close = all(
                torch.allclose(ours_y, outs[k], rtol=1e-4, atol=1e-5 * scale)
                for k in others
            )
            rows.append(
                dict(
                    label=label,
                    n=n,
                    nnz=L.pattern.nnz,
                    threads=threads,
                    method=method,
                    steps=steps,
                    evals=evals,
                    cold=cold,
                    diff=diff,
                    close=close,
                    big=big,
                    samples=samples,
                )
            )
    return rows, note


def _part1_cases(quick: bool) -> list[tuple[str, int, int, int, int]]:
    # (label, N, directed edges, steps, rounds); the 1M-edge case takes seconds per
    # call, so it runs fewer steps (the loop overhead is per step) and rounds.
    cases = [("Cora-size", 2708, 10_556, 50, 5 if quick else 15)]
    if not quick:
        cases.append(("1M edges", 200_000, 1_000_000, 8, 3))
    return cases


def part1_worker(quick: bool, threads: int | None) -> dict:
    """One process of part 1's protocol: every case, samples and checks."""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    rows, notes = [], []
    for label, n, e, steps, repeat in _part1_cases(quick):
        r, nt = _part1_case(label, n, e, steps, repeat, threads)
        rows += r
        notes.append(nt)
    return dict(rows=rows, notes=notes)


def part1(quick: bool, processes: int = PROCESSES, threads: int | None = None) -> str:
    argv = ["--parts", "1"] + (["--quick"] if quick else [])
    if threads is not None:
        argv += ["--threads", str(threads)]
    load_before = load()
    procs = run_processes(__file__, argv, processes)
    load_after = load()
    with_torchode = "torchode" in procs[0]["rows"][0]["samples"]
    out, flags = [], []
    for i, r in enumerate(procs[0]["rows"]):
        runs = [p["rows"][i]["samples"] for p in procs]
        med = {k: statistics.median(process_medians(runs, k)) for k in runs[0]}
        vs_tde = summarize_ratio(runs, "tde_op", "ours")
        vs_to = summarize_ratio(runs, "torchode", "ours") if with_torchode else None
        over_floor = summarize_ratio(runs, "ours", "floor")
        vs_unfused = summarize_ratio(runs, "unfused", "ours")
        flags += [
            f"{r['label']} {r['method']}, {s}"
            for s in mode_jumps(runs, ["ours", "tde_op", "floor"])
        ]
        if r["big"]:
            target = ">= 0.95x (at most 1.05x slower)"
            met = vs_tde.median >= 1 / 1.05
        else:
            target = ">= 1.5x / >= 1.2x / <= 1.1x"
            met = (
                vs_tde.median >= 1.5
                and (vs_to is None or vs_to.median >= 1.2)
                and over_floor.median <= 1.1
            )
        diffs = max(p["rows"][i]["diff"] for p in procs)
        close = all(p["rows"][i]["close"] for p in procs)
        out.append(
            [
                r["label"],
                r["n"],
                r["nnz"],
                r["threads"],
                r["method"],
                f"{r['steps']} ({r['evals']})",
                fmt_time(med["ours"]),
                fmt_time(med["tde_op"]),
                fmt_time(med["torchode"]) if with_torchode else "n/a",
                fmt_time(med["floor"]),
                f"**{vs_tde}**",
                f"**{vs_to}**" if vs_to is not None else "n/a",
                f"**{over_floor}**",
                target,
                "yes" if met else "**no**",
                str(vs_unfused),
                f"{summarize_ratio(runs, 'tde_csr', 'ours')}",
                fmt_time(statistics.median(p["rows"][i]["cold"] for p in procs)),
                f"{diffs:.1e} ({'allclose' if close else '**not close**'})",
            ]
        )
    headers = [
        "graph",
        "N",
        "nnz",
        "threads",
        "method",
        "steps (RHS evals)",
        "graphpde solve",
        "torchdiffeq, same operator",
        "torchode, same operator",
        "RHS evaluations alone",
        "speed-up vs torchdiffeq",
        "speed-up vs torchode",
        "graphpde / RHS alone",
        "target (tde / torchode / RHS alone)",
        "met",
        "speed-up vs graphpde unfused",
        "speed-up vs torchdiffeq, torch CSR",
        "graphpde first solve, new operator",
        "max rel. difference",
    ]
    notes = procs[0]["notes"]
    repeat = max(c[4] for c in _part1_cases(quick))
    return (
        "### 1. Fixed-step loop: graphpde solve() vs torchdiffeq odeint and torchode "
        f"(heat flow y' = -L_sym y, F = {F}, float32, no_grad)\n\n"
        f"Load average before / after: {load_before} / {load_after}.\n\n"
        + table(headers, out)
        + "\n\nEvery side applies the same graphpde operator "
        "(`func = lambda t, y: -(L @ y)`; torchode's on the state flattened to "
        "`[1, N*F]`, its batch layout), so the ratios are the loop's cost; the "
        "CSR column uses a plain `torch.sparse_csr_tensor`. 'RHS evaluations "
        "alone' calls `-(L @ y)` as often as the solve does, with no loop. "
        "'graphpde unfused' is the same solve with the operator behind a callable "
        "(`LinearTerm(lambda t, y, args: L)`), so the engine takes the generic "
        "stages instead of the term's fused ones. dt = 1/32. 'first solve, new "
        "operator' is one call with a freshly built operator, which includes "
        "solve()'s lam_max estimate for the stability check (cached on the "
        "operator afterwards). Ratios: median (min-max) over processes.\n\n"
        + protocol_text(processes, repeat)
        + "\n\n"
        + "\n".join(f"- {s}" for s in notes)
        + "\n\n"
        + jumps_text(flags)
        + "\n"
    )


# ---------------------------------------------------------------------------------
# Part 2: stiff heat flow at matched error
# ---------------------------------------------------------------------------------
def _hub_graph(n: int, e: int, hubs: int, hub_degree: int, seed: int = 0) -> Graph:
    """``random_graph``-style edges plus ``hubs`` nodes.

    Each hub is linked to ``hub_degree`` random nodes.
    """
    gen = torch.Generator().manual_seed(seed)
    m = e // 2
    src = torch.randint(0, n, (m,), generator=gen)
    dst = torch.randint(0, n, (m,), generator=gen)
    hs = torch.arange(hubs).repeat_interleave(hub_degree)
    ht = torch.randint(0, n, (hubs * hub_degree,), generator=gen)
    ei = torch.stack([torch.cat([src, hs]), torch.cat([dst, ht])])
    return Graph(ei, n, directed="symmetrize")


class _AdaptiveCount(_CountingFunc):
    """Counting func with torchdiffeq's accept/reject callbacks."""

    def __init__(self, op) -> None:
        super().__init__(op)
        self.accepted = self.rejected = 0

    def callback_accept_step(self, t0, y0, dt) -> None:  # noqa: D102
        self.accepted += 1

    def callback_reject_step(self, t0, y0, dt) -> None:  # noqa: D102
        self.rejected += 1


# Method names of part 2, in table order.
P2_DOPRI5 = "graphpde Dopri5 + PIController"
P2_TDE = "torchdiffeq dopri5"
P2_CN = "graphpde CrankNicolson"
P2_IE = "graphpde ImplicitEuler"
P2_TARGET = 10.0  # implicit >= 10x less wall time than Dopri5 at equal error


def _part2_rounds(quick: bool) -> int:
    return 3 if quick else 5


class _StiffProblem:
    """Part 2's problem: the hub graph, y0, the exact y(T) and the four methods.

    Built identically (same seeds) in the parent, which searches the cheapest
    settings, and in every worker, which times them.
    """

    def __init__(self, quick: bool) -> None:
        # --quick: a smaller graph and a milder T * lam_max (a smoke run)
        if quick:
            n, e, hubs, hub_deg, stiffness = 600, 3_600, 4, 400, 250.0
        else:
            n, e, hubs, hub_deg, stiffness = 2_500, 15_000, 10, 400, 1000.0
        self.n, self.hubs, self.hub_deg = n, hubs, hub_deg
        self.g = g = _hub_graph(n, e, hubs, hub_deg)
        lam, vecs = np.linalg.eigh(Laplacian(g).to_dense().to(torch.float64).numpy())
        self.lam, self.lam_top = lam, float(lam[-1])
        # T * lam_max >= stiffness
        self.big_t = big_t = math.ceil(stiffness / self.lam_top * 100) / 100
        rng = np.random.default_rng(0)
        k0 = int((lam <= 1e-8).sum())  # kernel: constant per connected component
        # smooth: the 8 slowest decaying modes; rough: white noise without its
        # kernel part (every method integrates the kernel exactly)
        slow = vecs[:, k0 : k0 + 8]
        smooth = slow @ rng.standard_normal((8, F))
        smooth /= np.sqrt((smooth**2).mean(0))
        rough = rng.standard_normal((n, F))
        rough -= vecs[:, :k0] @ (vecs[:, :k0].T @ rough)
        self.y0n = y0n = smooth + rough
        self.exact = vecs @ (np.exp(-lam * big_t)[:, None] * (vecs.T @ y0n))
        self.exact_norm = float(np.linalg.norm(self.exact))
        self.L = Laplacian(g.to(dtype=torch.float32))
        self.term = LinearTerm(self.L)
        self.y0 = torch.tensor(y0n, dtype=torch.float32)
        self.tt = torch.tensor([0.0, big_t])
        self.methods = {
            P2_DOPRI5: self._ours_dopri5,
            P2_TDE: self._tde_dopri5,
            P2_CN: lambda k: self._implicit(CrankNicolson, k),
            P2_IE: lambda k: self._implicit(ImplicitEuler, k),
        }

    def rel_err(self, y: torch.Tensor) -> float:
        diff = y.to(torch.float64).numpy() - self.exact
        return float(np.linalg.norm(diff)) / self.exact_norm

    def run(self, name: str, setting) -> tuple[torch.Tensor, dict]:
        """One solve of method ``name``: final state and its counts."""
        return self.methods[name](setting)

    def _ours_dopri5(self, rtol):
        sol = solve(
            self.term,
            Dopri5(),
            y0=self.y0,
            t1=self.big_t,
            controller=PIController(rtol=rtol, atol=rtol),
            max_steps=1_000_000,
        )
        s = sol.stats
        return sol.ys[-1], dict(
            steps=f"{s.num_accepted} + {s.num_rejected} rejected",
            evals=s.num_rhs_evals,
            cg=0,
        )

    def _tde_dopri5(self, rtol):
        f = _AdaptiveCount(self.L)
        y = odeint(f, self.y0, self.tt, rtol=rtol, atol=rtol, method="dopri5")[-1]
        return y, dict(steps=f"{f.accepted} + {f.rejected} rejected", evals=f.nfe, cg=0)

    def _implicit(self, cls, k):
        sol = solve(
            self.term,
            cls(CG(rtol=CG_RTOL)),
            y0=self.y0,
            t1=self.big_t,
            dt0=self.big_t / k,
            max_steps=10 * k,
        )
        s = sol.stats
        return sol.ys[-1], dict(
            steps=str(s.num_steps), evals=s.num_rhs_evals, cg=s.num_linear_iters
        )

    def threads(self, threads: int | None) -> tuple[int, str]:
        """Set the thread count (probed 1 vs 2 when ``None``); return it, a note."""
        if threads is not None:
            torch.set_num_threads(threads)
            return threads, "set by --threads"
        y0, L = self.y0, self.L
        with torch.no_grad():
            return _pick_threads(
                lambda: [torch.add(y0, L @ y0, alpha=0.1) for _ in range(4)]
            )


def _part2_search(p: _StiffProblem, quick: bool) -> tuple[dict, dict]:
    """The cheapest setting of each method meeting the error target.

    Returns ``(best, scan)``: method -> setting (``None``: target not reached),
    and ``(method, setting)`` -> ``{"err", "time"}`` of every search run (one
    run each, in this process: the search's times are indicative only).
    """
    scan: dict[tuple[str, object], dict] = {}

    def err(name, setting):
        t0 = time.perf_counter()
        y, _ = p.run(name, setting)
        scan[(name, setting)] = dict(err=p.rel_err(y), time=time.perf_counter() - t0)
        return scan[(name, setting)]["err"]

    def cheapest(name, settings):
        """First setting in the sequence that meets the error target."""
        return next((s for s in settings if err(name, s) <= ERROR_TARGET), None)

    def step_search(name, k, order, k_max):
        """Smallest step count (up to ~5%) meeting the error target.

        Grow by the error model err ~ k^-order (at least doubling), then bisect
        once between the last miss and the first hit.
        """
        miss = None
        while k <= k_max:
            e = err(name, k)
            if e <= ERROR_TARGET:
                break
            miss = k
            k = max(2 * k, math.ceil(k * (e / ERROR_TARGET) ** (1 / order) * 1.05))
        else:
            return None
        if miss is not None and k - miss > 2:
            mid = (miss + k) // 2
            if err(name, mid) <= ERROR_TARGET:
                k = mid
        return k

    rtols = [1e-3, 1e-4, 1e-5, 1e-6]
    with torch.no_grad():
        best = {P2_DOPRI5: cheapest(P2_DOPRI5, rtols)}
        start = rtols.index(best[P2_DOPRI5] or 1e-6)
        best[P2_TDE] = cheapest(P2_TDE, rtols[start:])
        k_cap = 2_000 if quick else 20_000
        best[P2_CN] = step_search(P2_CN, 5, 2, k_cap)
        best[P2_IE] = step_search(P2_IE, 50, 1, k_cap)
    return best, scan


def part2_worker(quick: bool, threads: int, settings: dict) -> dict:
    """One process of part 2's protocol: the chosen settings, interleaved.

    A first call of each method (warm-up, not timed) gives its error and counts;
    then :func:`_part2_rounds` interleaved rounds, one solve per sample.
    """
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    p = _StiffProblem(quick)
    p.threads(threads)
    fns, checks = {}, {}
    with torch.no_grad():
        for name, s in settings.items():
            if s is None:
                continue
            y, info = p.run(name, s)
            checks[name] = dict(info, err=p.rel_err(y))
            fns[name] = lambda name=name, s=s: p.run(name, s)
        samples = interleaved(fns, _part2_rounds(quick), calibrate=False)
    return dict(samples=samples, checks=checks)


def part2(quick: bool, processes: int = PROCESSES, threads: int | None = None) -> str:
    """Search the settings here, time them under the protocol in workers."""
    p = _StiffProblem(quick)
    threads, probe = p.threads(threads)
    t0 = time.perf_counter()
    best, scan = _part2_search(p, quick)
    t_search = time.perf_counter() - t0
    argv = ["--parts", "2", "--threads", str(threads)]
    argv += ["--part2-settings", json.dumps(best)] + (["--quick"] if quick else [])
    load_before = load()
    procs = run_processes(__file__, argv, processes)
    load_after = load()
    runs = [pr["samples"] for pr in procs]
    timed = [name for name in best if name in runs[0]]
    med = {k: statistics.median(process_medians(runs, k)) for k in timed}
    ratio = {
        (ref, k): summarize_ratio(runs, ref, k)
        for ref in (P2_DOPRI5, P2_TDE)
        if ref in timed
        for k in timed
    }
    rows = []
    for name, s in best.items():
        if s is None:
            rows.append([name, "target not reached", "", "", "", "", "", "", "", ""])
            continue
        c = procs[0]["checks"][name]
        err = max(pr["checks"][name]["err"] for pr in procs)
        setting = (
            f"rtol = atol = {s:g}"
            if "opri" in name
            else f"dt = T/{s} = {p.big_t / s:.3g}"
        )

        def vs(ref, name=name):
            r = ratio.get((ref, name))
            return "-" if r is None else str(r)

        rows.append(
            [
                name,
                setting,
                c["steps"],
                c["evals"],
                c["cg"] or "-",
                c["evals"] + c["cg"],
                f"{err:.2e}" + ("" if err <= ERROR_TARGET else " (**above target**)"),
                fmt_time(med[name]),
                f"**{vs(P2_DOPRI5)}**",
                f"**{vs(P2_TDE)}**",
            ]
        )
    headers = [
        "method",
        "setting (cheapest meeting the target)",
        "steps",
        "RHS evals",
        "CG iterations",
        "operator applications",
        "rel. error (max over processes)",
        "wall time",
        "speed-up vs graphpde Dopri5",
        "speed-up vs torchdiffeq dopri5",
    ]
    verdict = []
    for ref in (P2_DOPRI5, P2_TDE):
        cands = [(ratio[(ref, k)], k) for k in (P2_CN, P2_IE) if (ref, k) in ratio]
        if not cands:
            verdict.append(f"vs {ref}: n/a")
            continue
        r, k = max(cands, key=lambda c: c[0].median)
        met = "met" if r.median >= P2_TARGET else "**missed**"
        some = r.low < P2_TARGET <= r.median  # met on the median only
        every = ", not in every process" if some else ""
        verdict.append(
            f"best implicit ({k.split()[-1]} + CG) vs {ref}: {r} -> {met}{every} "
            f"(target >= {P2_TARGET:g}x)"
        )
    flags = mode_jumps(runs)
    scan_text = "; ".join(
        f"{name.split()[1] if name != P2_TDE else 'torchdiffeq dopri5'} "
        f"{('rtol ' + format(s, 'g')) if 'opri' in name else ('T/' + str(s))}: "
        f"{info['err']:.1e} in {fmt_time(info['time'])}"
        for (name, s), info in scan.items()
    )
    lam = p.lam
    return (
        f"### 2. Stiff heat flow at matched error {ERROR_TARGET:g} "
        f"(L = D - W, F = {F}, float32 solves, float64 errors)\n\n"
        f"Graph: N = {p.n}, {p.g.num_edges} undirected edges, random edges plus "
        f"{p.hubs} hubs of degree ~{p.hub_deg}; lam_max = {p.lam_top:.1f}, "
        f"smallest non-zero eigenvalue {lam[lam > 1e-8].min():.3f} "
        f"(kernel dimension {(lam <= 1e-8).sum()}); "
        f"T = {p.big_t:g}, T * lam_max = {p.big_t * p.lam_top:.0f}. y0 = the 8 "
        "eigenvectors of the smallest non-zero eigenvalues (random combinations, "
        "RMS 1 per column) + white noise (RMS 1, kernel part removed). "
        "Error = ||y(T) - y_exact(T)||_F / ||y_exact(T)||_F "
        "(||y_exact(T)|| / ||y0|| = "
        f"{p.exact_norm / float(np.linalg.norm(p.y0n)):.3f}). "
        f"CG: Jacobi, rtol = {CG_RTOL:g}. {threads} thread(s) ({probe}). "
        "The settings were searched once in the parent process (deterministic: "
        f"{t_search:.0f} s); every worker re-solves each chosen setting once "
        "(warm-up, its error and counts checked) and then times them interleaved, "
        "one solve per sample. Load average before / after the workers: "
        f"{load_before} / {load_after}.\n\n"
        + table(headers, rows)
        + "\n\nResult: "
        + "; ".join(verdict)
        + ". 'operator applications' = RHS evaluations + CG iterations (each one "
        "sparse product on [N, 64]). ImplicitEuler is first order, so its step "
        "count grows like 1/error; CrankNicolson (second order, but only A-stable: "
        "stiff modes decay like ((1 - z/2)/(1 + z/2))^n) needs enough steps to "
        "damp the rough part of y0.\n\n"
        + protocol_text(processes, _part2_rounds(quick))
        + "\n\n"
        + jumps_text(flags)
        + f"\n\nAll runs of the search (error, time of that one run): {scan_text}.\n"
    )


# ---------------------------------------------------------------------------------
# Part 3: memory of backpropagation through 64 RK4 steps
# ---------------------------------------------------------------------------------
class _LearnedHeat(LinearTerm):
    """``y' = -L_sym(w) y`` with learnable edge weights.

    The operator is rebuilt from the weights at every call.
    """

    def __init__(self, graph: Graph, weight: torch.Tensor) -> None:
        super().__init__()
        self.graph, self.weight = graph, weight

    def operator(self, t, y, args=None):  # noqa: D102
        return Laplacian(self.graph, "sym", edge_weight=self.weight, validate=False)


def _memory_worker(spec: dict) -> None:
    """One configuration of part 3, in a fresh process; prints one JSON line."""
    torch.set_num_threads(spec["threads"])
    n, e, steps, ck = spec["n"], spec["e"], spec["steps"], spec["checkpoint"]
    g = random_graph(n, e, seed=0).to(dtype=torch.float32)
    gen = torch.Generator().manual_seed(2)
    w = (torch.rand(g.num_edges, generator=gen) + 0.5).requires_grad_()
    term = _LearnedHeat(g, w)
    y0 = torch.randn(n, F, generator=gen)
    dt = 1.0 / steps
    # warm-up (pattern caches, first-call effects): one step, forward and backward
    adjoint = Checkpoint() if ck else Backprop()
    solve(term, RK4(), y0=y0, t1=dt, dt0=dt, adjoint=adjoint).ys[-1].sum().backward()
    w.grad = None
    # cost of one Lanczos estimate of the rebuilt operator (for the report)
    t0 = time.perf_counter()
    lam_max(term.operator(0.0, y0))
    t_lam = time.perf_counter() - t0
    gc.collect()
    exact_peak = reset_peak()
    rss0 = status_bytes("VmRSS") or 0
    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    storages: dict[int, int] = {}

    def pack(t):
        s = t.untyped_storage()
        storages.setdefault(s.data_ptr(), s.nbytes())
        return t

    t0 = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        sol = solve(term, RK4(), y0=y0, t1=1.0, dt0=dt, adjoint=adjoint)
    t_fwd = time.perf_counter() - t0
    rss_fwd = status_bytes("VmRSS") or 0
    sol.ys[-1].sum().backward()
    t_all = time.perf_counter() - t0
    if exact_peak:
        peak = (status_bytes("VmHWM") or 0) - rss0
    else:  # ru_maxrss cannot be reset: an upper bound on the delta
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - min(
            maxrss0, rss0
        )
    torch.save(w.grad, spec["grad_path"])
    print(
        json.dumps(
            dict(
                t_fwd=t_fwd,
                t_all=t_all,
                t_lam=t_lam,
                saved=sum(storages.values()),
                rss_fwd=rss_fwd - rss0,
                peak=peak,
                exact_peak=exact_peak,
                steps=sol.stats.num_steps,
                evals=sol.stats.num_rhs_evals,
                nnz=Laplacian(g).pattern.nnz,
            )
        )
    )


def _probe_threads(n: int, e: int) -> tuple[int, str]:
    """Thread count for part 3, probed on its graph (in this process)."""
    lap = Laplacian(random_graph(n, e, seed=0).to(dtype=torch.float32), "sym")
    x = torch.randn(n, F)
    with torch.no_grad():
        return _pick_threads(
            lambda: [torch.add(x, lap @ x, alpha=0.1) for _ in range(4)]
        )


def part3(quick: bool) -> str:
    n, e = (2_000, 8_000) if quick else (50_000, 200_000)
    steps = 64
    threads, probe = _probe_threads(n, e)
    allocators = [("glibc default", {}), ("MALLOC_MMAP_THRESHOLD_=131072", MMAP_ENV)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for alloc, env in allocators:
            for ck in (False, True):
                path = os.path.join(tmp, f"grad_{len(results)}.pt")
                spec = dict(
                    n=n,
                    e=e,
                    steps=steps,
                    checkpoint=ck,
                    threads=threads,
                    grad_path=path,
                )
                proc = subprocess.run(
                    [sys.executable, __file__, "--memory-worker", json.dumps(spec)],
                    capture_output=True,
                    text=True,
                    env={**os.environ, **env},
                )
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"bench_solvers: memory worker failed:\n{proc.stderr[-4000:]}"
                    )
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                res.update(alloc=alloc, ck=ck, grad=torch.load(path))
                results.append(res)
    ref = results[0]["grad"]
    scale = float(ref.abs().max())
    rows = []
    for r in results:
        diff = float((r["grad"] - ref).abs().max()) / scale
        base = next(b for b in results if b["alloc"] == r["alloc"] and not b["ck"])
        rows.append(
            [
                r["alloc"],
                "yes" if r["ck"] else "no",
                f"{r['steps']} ({r['evals']})",
                fmt_time(r["t_all"]),
                fmt_time(r["t_fwd"]),
                f"{r['saved'] / 2**20:.0f} MiB",
                f"{r['rss_fwd'] / 2**20:.0f} MiB",
                f"{r['peak'] / 2**20:.0f} MiB"
                + ("" if r["exact_peak"] else " (ru_maxrss)"),
                f"{base['peak'] / max(r['peak'], 1):.1f}x",
                f"{diff:.1e}",
            ]
        )
    headers = [
        "allocator",
        "checkpoint",
        "steps (RHS evals)",
        "forward + backward",
        "of which forward",
        "saved for backward (hooks, unique storages)",
        "RSS after forward",
        "peak RSS (forward + backward)",
        "peak reduction vs no checkpoint",
        "grad max rel. diff vs first row",
    ]
    state_mib = n * F * 4 / 2**20
    return (
        f"### 3. Memory of backpropagation: {steps} RK4 steps, learnable edge "
        f"weights (F = {F}, float32)\n\n"
        f"Graph: random, N = {n}, {e} directed edges (nnz = {results[0]['nnz']}); "
        f"one state [N, F] = {state_mib:.1f} MiB; the operator "
        "Laplacian(g, 'sym', edge_weight=w) is rebuilt at every evaluation; "
        "loss = sum of the final state. One fresh subprocess per row, "
        f"{threads} thread(s) ({probe}). Memory is relative to the RSS just "
        "before the solve. With adjoint=Checkpoint(), saved tensors inside the "
        "checkpointed segments are not held (the hooks see only what is kept "
        "outside them).\n\n"
        + table(headers, rows)
        + "\n\nFor reference, a Lanczos lam_max estimate of the rebuilt operator "
        f"costs {fmt_time(results[0]['t_lam'])} here; solve()'s stability check "
        "only pays it when dt exceeds the Gershgorin-based bound (not the case in "
        "these runs).\n"
    )


# ---------------------------------------------------------------------------------
def result_name(parts: list[int], quick: bool) -> str:
    """``solvers``, or ``solvers_part2`` etc. when not every part ran (+ ``_quick``).

    A run of some parts does not overwrite the record of the others.
    """
    chosen = sorted(set(parts))
    name = (
        "solvers"
        if chosen == [1, 2, 3]
        else "solvers_part" + "".join(str(k) for k in chosen)
    )
    return name + ("_quick" if quick else "")


def main(argv: list[str] | None = None) -> str:
    """Run the three parts, print and save the tables, and return the text."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small graphs only (under a minute)"
    )
    parser.add_argument(
        "--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3]
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for parts 1 and 2 (default: probe 1 vs 2 per graph)",
    )
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    parser.add_argument("--part2-settings", help=argparse.SUPPRESS)
    add_protocol_args(parser, "the protocol of parts 1 and 2")
    opts = parser.parse_args(argv)
    if opts.memory_worker:
        _memory_worker(json.loads(opts.memory_worker))
        return ""
    if opts.worker:
        if opts.parts == [2]:
            settings = json.loads(opts.part2_settings)
            emit(part2_worker(opts.quick, opts.threads, settings))
        else:
            emit(part1_worker(opts.quick, opts.threads))
        return ""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    t_start = time.perf_counter()
    header = (
        f"## Solver benchmark{' (quick)' if opts.quick else ''}\n\n"
        f"Machine: {machine()}\n"
    )
    parts = {
        1: lambda q: part1(q, opts.processes, opts.threads),
        2: lambda q: part2(q, opts.processes, opts.threads),
        3: part3,
    }
    sections = []
    for k in opts.parts:
        t0 = time.perf_counter()
        sections.append(parts[k](opts.quick))
        print(sections[-1], flush=True)
        print(f"(part {k}: {time.perf_counter() - t0:.0f} s)\n", flush=True)
    text = (
        header
        + "\n"
        + "\n".join(sections)
        + f"\nTotal time: {time.perf_counter() - t_start:.0f} s.\n"
    )
    save(result_name(opts.parts, opts.quick), text)
    return text


if __name__ == "__main__":
    main()
