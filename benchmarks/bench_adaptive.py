"""Adaptive-step benchmark (issue 13, target 4): graphpde vs torchode vs torchdiffeq.

Heat flow ``y' = -L_sym y`` (F = 64, float32, no_grad) from ``t = 0`` to ``T``,
integrated by graphpde's ``Dopri5``/``Bosh3`` with ``PIController`` (its default
``pcoeff=0, icoeff=1``: the classical I controller), torchdiffeq's
``dopri5``/``bosh3`` and torchode's ``Dopri5`` (and ``Bosh3``, built from its
``ExplicitRungeKutta`` on the Bogacki-Shampine tableau, which torchode does not
ship) with ``IntegralController``, all at the same ``rtol``/``atol`` and from the
same first step ``dt0``, so the step sequences can be identical. Each solver's
steps and right-hand-side evaluations are counted and reported. torchode runs on
the state flattened to ``[1, N*F]`` (it treats dimension 0 as a batch).

Timing follows the protocol of ``_common`` (interleaved rounds inside a process,
``--processes`` processes, median ratio and spread, mode jumps flagged).

Run: ``python benchmarks/bench_adaptive.py [--quick] [--processes 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import torch

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
from torchdiffeq import odeint  # noqa: E402

from graphops import Laplacian  # noqa: E402
from solvers import Bosh3, Dopri5, LinearTerm, PIController, solve  # noqa: E402

F = 64
RTOL, ATOL = 1e-4, 1e-6
DT0 = 0.01
TARGET_TO, TARGET_TDE = 1.5, 4.0


class _Count:
    """``f(t, y) = -(L @ y)`` counting evaluations, accepted and rejected steps."""

    def __init__(self, op, shape=None) -> None:
        self.op, self.shape = op, shape
        self.nfe = self.accepted = self.rejected = 0

    def __call__(self, t, y):
        self.nfe += 1
        if self.shape is None:
            return -(self.op @ y)
        return -(self.op @ y.view(self.shape)).view(1, -1)

    def callback_accept_step(self, t0, y0, dt) -> None:  # noqa: D102
        self.accepted += 1

    def callback_reject_step(self, t0, y0, dt) -> None:  # noqa: D102
        self.rejected += 1


def _torchode(method: str, func):
    """Torchode's adaptive solver for ``method`` ("dopri5" or "bosh3")."""
    import torchode as to
    from torchode.interpolation import ThirdOrderPolynomialInterpolation
    from torchode.single_step_methods.runge_kutta import (
        ButcherTableau,
        ExplicitRungeKutta,
    )

    term = to.ODETerm(func)
    if method == "dopri5":
        step = to.Dopri5(term)
    else:
        tab = ButcherTableau.from_lists(
            c=[0.0, 0.5, 0.75, 1.0],
            a=[[], [0.5], [0.0, 0.75], [2 / 9, 1 / 3, 4 / 9]],
            b=[2 / 9, 1 / 3, 4 / 9, 0.0],
            b_low_order=[7 / 24, 1 / 4, 1 / 3, 1 / 8],
        )

        class _Bosh3(ExplicitRungeKutta):
            def convergence_order(self):
                return 3

            def build_interpolation(self, data):
                return ThirdOrderPolynomialInterpolation.from_k(
                    data.t0, data.dt, data.y0, data.y1, data.k
                )

        step = _Bosh3(term, tab)
    ctrl = to.IntegralController(atol=ATOL, rtol=RTOL, term=term)
    return to.AutoDiffAdjoint(step, ctrl)


def _cases(quick: bool) -> list[tuple[str, int, int, float, int]]:
    """``(label, N, directed edges, T, rounds)``."""
    cases = [("Cora-size", 2708, 10_556, 1.0, 5 if quick else 15)]
    if not quick:
        cases.append(("1M edges", 200_000, 1_000_000, 1.0, 2))
    return cases


def bench(label: str, n: int, e: int, t1: float, repeat: int) -> list[dict]:
    """Both methods on one graph in this process: samples, counts, agreement."""
    import torchode as to

    g = random_graph(n, e, seed=0).to(dtype=torch.float32)
    L = Laplacian(g, "sym")
    y0 = torch.randn(n, F, generator=torch.Generator().manual_seed(1))
    tt = torch.tensor([0.0, t1])
    rows = []
    for method, solver in (("dopri5", Dopri5()), ("bosh3", Bosh3())):
        term = LinearTerm(L)
        ctrl = PIController(rtol=RTOL, atol=ATOL)
        f_tde, f_to = _Count(L), _Count(L, (n, F))
        to_solver = _torchode(method, f_to)
        ivp = to.InitialValueProblem(y0=y0.reshape(1, -1), t_eval=tt[None])
        dt0_to = torch.tensor([DT0])
        outs, counts = {}, {}

        def ours(m=solver, tm=term, c=ctrl, outs=outs, counts=counts):
            sol = solve(tm, m, y0=y0, t1=t1, dt0=DT0, controller=c)
            s = sol.stats
            outs["ours"] = sol.ys[-1]
            counts["ours"] = (s.num_accepted, s.num_rejected, s.num_rhs_evals)

        def tde(m=method, f=f_tde, outs=outs, counts=counts):
            f.nfe = f.accepted = f.rejected = 0
            outs["tde"] = odeint(
                f, y0, tt, rtol=RTOL, atol=ATOL, method=m,
                options=dict(first_step=DT0),
            )[-1]
            counts["tde"] = (f.accepted, f.rejected, f.nfe)

        def tode(f=f_to, s=to_solver, ivp=ivp, d=dt0_to, outs=outs, counts=counts):
            f.nfe = 0
            sol = s.solve(ivp, dt0=d)
            outs["torchode"] = sol.ys[0, -1].view(n, F)
            acc = int(sol.stats["n_accepted"][0])
            counts["torchode"] = (acc, int(sol.stats["n_steps"][0]) - acc, f.nfe)

        with torch.no_grad():
            samples = interleaved(
                {"ours": ours, "tde": tde, "torchode": tode},
                repeat,
                calibrate=n * F * 4 <= 16 * 2**20,
            )
        scale = float(outs["ours"].abs().max())
        diff = {
            k: float((outs["ours"] - outs[k]).abs().max()) / scale
            for k in ("tde", "torchode")
        }
        rows.append(
            dict(
                label=label, n=n, nnz=L.pattern.nnz, method=method, t1=t1,
                counts=counts, diff=diff, samples=samples,
            )
        )
    return rows


def worker(quick: bool) -> None:
    """One process of the protocol: every case, then emit."""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    emit([r for c in _cases(quick) for r in bench(*c)])


def _counts(c: tuple[int, int, int]) -> str:
    return f"{c[0]} + {c[1]} rej. ({c[2]})"


def main(argv: list[str] | None = None) -> str:
    """Run the benchmark, print and save a markdown table, and return it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="Cora-size only")
    add_protocol_args(ap)
    a = ap.parse_args(argv)
    if a.worker:
        worker(a.quick)
        return ""
    load_before = load()
    procs = run_processes(__file__, ["--quick"] if a.quick else [], a.processes)
    load_after = load()
    rows, flags = [], []
    for i, first in enumerate(procs[0]):
        runs = [p[i]["samples"] for p in procs]
        med = {k: statistics.median(process_medians(runs, k)) for k in runs[0]}
        tag = f"{first['label']} {first['method']}"
        flags += [f"{tag}, {f}" for f in mode_jumps(runs)]
        c = first["counts"]
        rows.append(
            [
                first["label"],
                first["nnz"],
                first["method"],
                _counts(c["ours"]),
                _counts(c["torchode"]),
                _counts(c["tde"]),
                fmt_time(med["ours"]),
                fmt_time(med["torchode"]),
                fmt_time(med["tde"]),
                f"**{summarize_ratio(runs, 'torchode', 'ours')}**",
                f"**{summarize_ratio(runs, 'tde', 'ours')}**",
                f"{first['diff']['torchode']:.1e} / {first['diff']['tde']:.1e}",
            ]
        )
    headers = [
        "graph",
        "nnz",
        "method",
        "graphpde steps (RHS evals)",
        "torchode steps (evals)",
        "torchdiffeq steps (evals)",
        "graphpde",
        "torchode",
        "torchdiffeq",
        f"vs torchode (>= {TARGET_TO:g}x)",
        f"vs torchdiffeq (>= {TARGET_TDE:g}x)",
        "max rel. difference of y(T) from graphpde: torchode / torchdiffeq",
    ]
    repeat = max(c[4] for c in _cases(a.quick))
    text = (
        f"### Adaptive steps: heat flow y' = -L_sym y, F = {F}, float32, T = 1, "
        f"rtol = {RTOL:g}, atol = {ATOL:g}, dt0 = {DT0:g}\n\n"
        f"Machine: {machine()}; load average before / after: {load_before} / "
        f"{load_after}\n\n{table(headers, rows)}\n\n"
        f"{protocol_text(a.processes, repeat)}\n\n"
        + (
            f"Mode jumps (absolute times moved by more than {JUMP}x):\n"
            + "\n".join(f"- {f}" for f in flags)
            if flags
            else f"No mode jumps (no absolute time moved by more than {JUMP}x)."
        )
        + "\n"
    )
    print(text)
    save("adaptive_quick" if a.quick else "adaptive", text)
    return text


if __name__ == "__main__":
    main()
