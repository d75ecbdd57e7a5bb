"""Operator kernel benchmark (issue: foundation, section 6; protocol: issue 13).

Both parts follow the protocol of ``_common`` (interleaved rounds inside a process,
``--processes`` processes, median ratio and spread, mode jumps flagged).

Part ``forward``, F = 64, float32: applying the combinatorial Laplacian
``L = D - W`` with graphpde's kernel versus raw torch CSR ``@``, ``torch.sparse.mm``
on COO, scipy CSR, gather + ``index_add_`` and torch-scatter's ``scatter_add`` (when
installed), all checked to give the same product; then forward+backward with
learnable edge weights versus torch's built-in sparse autograd (seconds per call:
sampled in the first round only) and gather + ``index_add_`` autograd.

Part ``learned`` (issue 13, target 3): forward + backward with the operator rebuilt
from learned edge weights on every call, against the forward apply of a prebuilt
operator, the same step with the composed-ops value construction (before the fused
node), the kernel's own forward + backward with leaf values (the floor), and
gather + ``index_add_`` autograd.

Run: ``python benchmarks/bench_operators.py [--quick] [--parts forward learned]
[--processes 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
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
    run_processes,
    save,
    summarize_ratio,
    table,
)

from graphops import Laplacian  # noqa: E402
from graphops.operators import (  # noqa: E402
    _adjacency_parts,
    _node_pattern,
    _PatternOperator,
)
from graphops.spmm import spmm  # noqa: E402

F = 64
TARGET = 4.0


def _forward_cases(quick: bool) -> list[tuple[str, int, int, bool, int]]:
    """``(label, N, directed edges, time torch sparse autograd, rounds)``."""
    cases = [("Cora-size", 2708, 10_556, True, 5 if quick else 15)]
    if not quick:
        cases += [
            ("200k edges", 50_000, 200_000, True, 7),
            ("1M edges", 200_000, 1_000_000, False, 3),
        ]
    return cases


def bench_graph(
    label: str,
    n: int,
    e: int,
    sparse_autograd: bool,
    repeat: int,
    *,
    device="cpu",
) -> dict:
    """One process's interleaved samples of the forward and fwd+bwd tables."""
    g = random_graph(n, e, device=device).to(dtype=torch.float32)
    x = torch.randn(n, F, device=device)
    L = Laplacian(g)
    csr = L.pattern.tensor(L.values)  # the same matrix as a plain torch CSR tensor
    coo = csr.to_sparse_coo().coalesce()
    sci = L.to_scipy().astype("float32")
    xn = x.cpu().numpy()
    row, col, vals = L.pattern.row, L.pattern.col, L.values
    sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)

    def synced(fn):
        def call():
            out = fn()
            sync()
            return out

        return call

    def gather_add(v, xx):
        return xx.new_zeros(n, F).index_add_(
            0, row, v.unsqueeze(1) * xx.index_select(0, col)
        )

    fwd = {
        "ours": lambda: L @ x,
        "csr": lambda: csr @ x,
        "coo": lambda: torch.sparse.mm(coo, x),
        "gather": lambda: gather_add(vals, x),
    }
    if device == "cpu":
        fwd["scipy"] = lambda: sci @ xn
    try:
        import torch_scatter

        fwd["scatter"] = lambda: torch_scatter.scatter_add(
            vals.unsqueeze(1) * x.index_select(0, col), row, dim=0, dim_size=n
        )
    except ImportError:
        pass
    # the comparison is only meaningful if all compute the same product
    ref = (L @ x).cpu()
    scale = float(ref.abs().max())
    for k, fn in fwd.items():
        got = torch.as_tensor(fn()).cpu()
        assert float((got - ref).abs().max()) <= 1e-4 * scale, f"{label}: {k}"

    # forward + backward with learnable edge weights (operator built inside: the
    # realistic training step, where the weights change every iteration)
    w = (torch.rand(g.num_edges, device=device) + 0.5).requires_grad_()
    xg = x.clone().requires_grad_()
    idx = torch.stack([row, col])

    def lap_values(wt):
        # the same values as Laplacian(g, edge_weight=wt), built with dense ops
        return Laplacian(g, edge_weight=wt, validate=False).values

    def ours_fb():
        y = Laplacian(g, edge_weight=w, validate=False) @ xg
        y.backward(torch.ones_like(y))

    def ours_fwd_learned():
        with torch.no_grad():
            return Laplacian(g, edge_weight=w, validate=False) @ xg

    def torch_sparse_fb():
        a = torch.sparse_coo_tensor(idx, lap_values(w), (n, n))
        y = torch.sparse.mm(a, xg)
        y.backward(torch.ones_like(y))

    def gather_fb():
        y = gather_add(lap_values(w), xg)
        y.backward(torch.ones_like(y))

    # correctness of the comparison: same gradients
    w.grad = None
    ours_fb()
    gw = w.grad.clone()
    w.grad = None
    gather_fb()
    assert torch.allclose(gw, w.grad, rtol=1e-3, atol=1e-3), "gradient mismatch"
    fb = {
        "ours_fwd_learned": ours_fwd_learned,
        "ours_fb": ours_fb,
        "gather_fb": gather_fb,
    }
    if sparse_autograd:
        # seconds per call at 200k edges: sampled in the first round only
        fb["torch_sparse_fb"] = torch_sparse_fb
    samples = interleaved({k: synced(v) for k, v in fwd.items()}, repeat)
    samples |= interleaved(
        {k: synced(v) for k, v in fb.items()}, repeat, once=("torch_sparse_fb",)
    )
    return {
        "label": label,
        "N": n,
        "nnz": L.pattern.nnz,
        "samples": samples,
    }


def forward_worker(quick: bool, device: str) -> None:
    """One process of the protocol for part ``forward``: every case, then emit."""
    torch.manual_seed(0)
    emit([bench_graph(*c, device=device) for c in _forward_cases(quick)])


def forward_part(quick: bool, device: str, processes: int) -> str:
    """Part ``forward`` under the protocol; the markdown text."""
    argv_w = ["--parts", "forward", "--device", device] + (["--quick"] if quick else [])
    load_before = load()
    procs = run_processes(__file__, argv_w, processes)
    load_after = load()
    fwd_rows, fb_rows, flags = [], [], []
    for i, first in enumerate(procs[0]):
        runs = [p[i]["samples"] for p in procs]
        med = {k: statistics.median(process_medians(runs, k)) for k in runs[0]}
        flags += [f"{first['label']}, {f}" for f in mode_jumps(runs)]

        def t(k, med=med):
            return fmt_time(med[k]) if k in med else "not run"

        def r(slow, fast, runs=runs, bold=False):
            if slow not in runs[0] or fast not in runs[0]:
                return "n/a"
            text = str(summarize_ratio(runs, slow, fast))
            return f"**{text}**" if bold else text

        fwd_rows.append(
            [
                first["label"],
                first["N"],
                first["nnz"],
                t("ours"),
                t("csr"),
                t("coo"),
                t("scipy"),
                t("gather"),
                t("scatter"),
                r("csr", "ours", bold=True),
                r("gather", "ours", bold=True),
                r("coo", "ours"),
                r("scipy", "ours"),
                r("scatter", "ours"),
            ]
        )
        fb_rows.append(
            [
                first["label"],
                t("ours_fwd_learned"),
                t("ours_fb"),
                r("ours_fb", "ours_fwd_learned", bold=True),
                t("gather_fb"),
                t("torch_sparse_fb"),
                r("gather_fb", "ours_fb"),
                r("torch_sparse_fb", "ours_fb", bold=True),
            ]
        )
    repeat = max(c[4] for c in _forward_cases(quick))
    text = (
        f"### Operator kernel (F = {F}, float32, L = D - W)\n\n"
        f"Machine: {machine()}; load average before / after: {load_before} / "
        f"{load_after}\n\n"
        "Forward `L @ x` (operator prebuilt); speed = the other's time / ours:\n\n"
        + table(
            [
                "graph",
                "N",
                "nnz",
                "graphpde",
                "torch CSR @",
                "torch.sparse.mm COO",
                "scipy CSR",
                "gather+index_add_",
                "torch-scatter",
                "speed vs CSR (target >= 0.9x)",
                "speed vs gather (target >= 8x)",
                "speed vs COO",
                "speed vs scipy",
                "speed vs torch-scatter",
            ],
            fwd_rows,
        )
        + "\n\nForward + backward with learnable edge weights "
        "(operator rebuilt from the weights each call; torch sparse autograd is "
        "sampled once per process, in the first round):\n\n"
        + table(
            [
                "graph",
                "fwd (learned w)",
                "fwd+bwd",
                "fwd+bwd / fwd (target <= 4x)",
                "gather+index_add_ fwd+bwd",
                "torch sparse autograd fwd+bwd",
                "speed-up vs gather",
                "speed-up vs torch sparse autograd (target >= 100x)",
            ],
            fb_rows,
        )
        + f"\n\n{protocol_text(processes, repeat)}\n\n{jumps_text(flags)}\n"
    )
    print(text)
    save("operators" + ("_quick" if quick else ""), text)
    return text


def _learned_cases(quick: bool) -> list[tuple[str, int, int, int]]:
    """``(label, N, directed edges, rounds)`` of part ``learned``."""
    cases = [("Cora-size", 2708, 10_556, 5 if quick else 15)]
    if not quick:
        cases += [
            ("200k edges", 50_000, 200_000, 7),
            ("1M edges", 200_000, 1_000_000, 3),
        ]
    return cases


def bench_learned(label: str, n: int, e: int, repeat: int) -> dict:
    """One process's interleaved samples of the learned-weights step on one graph."""
    g = random_graph(n, e).to(dtype=torch.float32)
    x = torch.randn(n, F)
    gy = torch.randn(n, F)  # the upstream gradient, as a loss would hand it
    prebuilt = Laplacian(g)
    pattern, order = _node_pattern(g)
    w = (torch.rand(g.num_edges) + 0.5).requires_grad_()
    xg = x.clone().requires_grad_()
    leaf = prebuilt.values.detach().clone().requires_grad_()

    def unfused_values(wt):
        deg, _, fwd, bwd, _ = _adjacency_parts(g, None, wt, "bench", False)
        return torch.cat([deg, -fwd, -bwd])[order]

    def fused():
        y = Laplacian(g, edge_weight=w, validate=False) @ xg
        return torch.autograd.grad(y, (w, xg), gy)

    def unfused():
        # the Laplacian as it was built before the fused node (composed ops, then
        # the same operator class and kernel)
        op = _PatternOperator(
            g,
            pattern,
            unfused_values(w),
            domain="node",
            codomain="node",
            symmetric=True,
            edge_measure=None,
            name="Laplacian",
            config="normalization=None",
        )
        y = op @ xg
        return torch.autograd.grad(y, (w, xg), gy)

    def kernel():
        y = spmm(pattern, leaf, xg)
        return torch.autograd.grad(y, (leaf, xg), gy)

    def gather():
        v = unfused_values(w)
        msg = v.unsqueeze(1) * xg.index_select(0, pattern.col)
        y = xg.new_zeros(n, F).index_add(0, pattern.row, msg)
        return torch.autograd.grad(y, (w, xg), gy)

    def forward():
        with torch.no_grad():
            return prebuilt @ x

    # the comparison is only meaningful if all give the same gradients
    ref = fused()
    for other in (unfused, gather) if e <= 200_000 else (unfused,):
        got = other()
        for a, b in zip(ref, got, strict=True):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-3), f"{label}: gradients"
    fns = {
        "forward": forward,
        "fused": fused,
        "unfused": unfused,
        "kernel": kernel,
    }
    if e <= 200_000:
        fns["gather"] = gather
    samples = interleaved(fns, repeat)
    return {"label": label, "N": n, "nnz": pattern.nnz, "samples": samples}


def learned_worker(quick: bool) -> None:
    """One process of the protocol for part ``learned``: every case, then emit."""
    torch.manual_seed(0)
    emit([bench_learned(*c) for c in _learned_cases(quick)])


def learned_part(quick: bool, processes: int) -> str:
    """Part ``learned`` under the protocol; the markdown text."""
    argv_w = ["--parts", "learned"] + (["--quick"] if quick else [])
    load_before = load()
    procs = run_processes(__file__, argv_w, processes)
    load_after = load()
    rows, flags = [], []
    for i, first in enumerate(procs[0]):
        runs = [p[i]["samples"] for p in procs]
        med = {k: statistics.median(process_medians(runs, k)) for k in runs[0]}
        flags += [f"{first['label']}, {f}" for f in mode_jumps(runs)]
        gather = "gather" in runs[0]
        rows.append(
            [
                first["label"],
                first["N"],
                first["nnz"],
                fmt_time(med["forward"]),
                fmt_time(med["fused"]),
                fmt_time(med["unfused"]),
                fmt_time(med["kernel"]),
                fmt_time(med["gather"]) if gather else "not run",
                f"**{summarize_ratio(runs, 'fused', 'forward')}**",
                str(summarize_ratio(runs, "kernel", "forward")),
                str(summarize_ratio(runs, "unfused", "fused")),
                str(summarize_ratio(runs, "gather", "fused")) if gather else "n/a",
            ]
        )
    headers = [
        "graph",
        "N",
        "nnz",
        "forward, prebuilt L @ x",
        "fwd+bwd, rebuilt (fused values)",
        "fwd+bwd, rebuilt (composed values, before)",
        "kernel fwd+bwd, leaf values (floor)",
        "gather+index_add_ fwd+bwd",
        f"fwd+bwd / prebuilt fwd (target <= {TARGET:g}x)",
        "kernel floor / prebuilt fwd",
        "speed-up of the fused values",
        "speed-up vs gather",
    ]
    repeat = max(c[3] for c in _learned_cases(quick))
    text = (
        f"### Learned edge weights: fwd+bwd vs prebuilt forward (L = D - W, F = {F}, "
        "float32)\n\n"
        f"Machine: {machine()}; load average before / after: {load_before} / "
        f"{load_after}\n\n"
        "Every call rebuilds `Laplacian(g, edge_weight=w, validate=False)` and "
        "returns the gradients w.r.t. `w` and `x` (`torch.autograd.grad` with a "
        "given upstream gradient).\n\n"
        f"{table(headers, rows)}\n\n{protocol_text(processes, repeat)}\n\n"
        f"{jumps_text(flags)}\n"
    )
    print(text)
    save("operators_learned" + ("_quick" if quick else ""), text)
    return text


def main(argv: list[str] | None = None) -> str:
    """Run the selected parts, print and save their markdown, and return it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small graphs only (smoke test)"
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--parts",
        nargs="+",
        choices=["forward", "learned"],
        default=["forward", "learned"],
        help="forward: the kernel against the other implementations; learned: target 3",
    )
    add_protocol_args(ap)
    a = ap.parse_args(argv)
    if a.worker:
        # a worker runs the one part its parent asked for
        if a.parts == ["forward"]:
            forward_worker(a.quick, a.device)
        else:
            learned_worker(a.quick)
        return ""
    out = []
    if "forward" in a.parts:
        out.append(forward_part(a.quick, a.device, a.processes))
    if "learned" in a.parts:
        out.append(learned_part(a.quick, a.processes))
    return "\n".join(out)


if __name__ == "__main__":
    main()
