"""Operator kernel benchmark (issue: foundation, section 6).

Side by side in one run, F = 64, float32: applying the combinatorial Laplacian
``L = D - W`` with graphpde's kernel versus raw torch CSR ``@``, ``torch.sparse.mm``
on COO, scipy CSR, gather + ``index_add_`` and torch-scatter's ``scatter_add`` (when
installed); then forward+backward with learnable edge weights versus torch's
built-in sparse autograd and gather + ``index_add_`` autograd.

Run: ``python benchmarks/bench_operators.py [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import fmt_time, machine, random_graph, save, table, timeit  # noqa: E402

from graphops import Laplacian  # noqa: E402


def bench_graph(
    label: str,
    n: int,
    e: int,
    *,
    f: int = 64,
    sparse_autograd: bool = True,
    device="cpu",
) -> dict:
    g = random_graph(n, e, device=device).to(dtype=torch.float32)
    x = torch.randn(n, f, device=device)
    L = Laplacian(g)
    csr = L.pattern.tensor(L.values)  # the same matrix as a plain torch CSR tensor
    coo = csr.to_sparse_coo().coalesce()
    sci = L.to_scipy().astype("float32")
    xn = x.cpu().numpy()
    row, col, vals = L.pattern.row, L.pattern.col, L.values

    def gather_add(v, xx):
        return xx.new_zeros(n, f).index_add_(
            0, row, v.unsqueeze(1) * xx.index_select(0, col)
        )

    res = {"label": label, "N": n, "nnz": L.pattern.nnz, "E_und": g.num_edges}
    res["ours"] = timeit(lambda: L @ x)
    res["csr"] = timeit(lambda: csr @ x)
    res["coo"] = timeit(lambda: torch.sparse.mm(coo, x))
    res["scipy"] = timeit(lambda: sci @ xn) if device == "cpu" else None
    res["gather"] = timeit(lambda: gather_add(vals, x))
    try:
        import torch_scatter

        res["scatter"] = timeit(
            lambda: torch_scatter.scatter_add(
                vals.unsqueeze(1) * x.index_select(0, col), row, dim=0, dim_size=n
            )
        )
    except ImportError:
        res["scatter"] = None

    # forward + backward with learnable edge weights (operator built inside: the
    # realistic training step, where the weights change every iteration)
    w = (torch.rand(g.num_edges, device=device) + 0.5).requires_grad_()
    xg = x.clone().requires_grad_()

    def ours_fb():
        y = Laplacian(g, edge_weight=w, validate=False) @ xg
        y.backward(torch.ones_like(y))

    def ours_fwd_learned():
        with torch.no_grad():
            return Laplacian(g, edge_weight=w, validate=False) @ xg

    res["ours_fwd_learned"] = timeit(ours_fwd_learned)
    res["ours_fb"] = timeit(ours_fb)

    # reference: torch's generic sparse autograd on the same values graph
    idx = torch.stack([row, col])

    def lap_values(wt):
        # the same values as Laplacian(g, edge_weight=wt), built with dense ops
        return Laplacian(g, edge_weight=wt, validate=False).values

    def torch_sparse_fb():
        a = torch.sparse_coo_tensor(idx, lap_values(w), (n, n))
        y = torch.sparse.mm(a, xg)
        y.backward(torch.ones_like(y))

    def gather_fb():
        y = gather_add(lap_values(w), xg)
        y.backward(torch.ones_like(y))

    res["gather_fb"] = timeit(gather_fb, repeat=3, warmup=1)
    res["torch_sparse_fb"] = (
        timeit(torch_sparse_fb, repeat=1, warmup=0, min_time=0)
        if sparse_autograd
        else None
    )
    # correctness of the comparison: same gradients
    w.grad = None
    xg.grad = None
    ours_fb()
    gw = w.grad.clone()
    w.grad = None
    xg.grad = None
    gather_fb()
    assert torch.allclose(gw, w.grad, rtol=1e-3, atol=1e-3), "gradient mismatch"
    return res


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--quick", action="store_true", help="small graphs only (smoke test)"
    )
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    cases = [("Cora-size", 2708, 10556, True)]
    if not a.quick:
        cases += [
            ("200k edges", 50_000, 200_000, True),
            ("1M edges", 200_000, 1_000_000, False),
        ]
    results = [
        bench_graph(lbl, n, e, sparse_autograd=sa, device=a.device)
        for lbl, n, e, sa in cases
    ]

    def ratio(num, den):
        return "n/a" if num is None or den is None else f"{num / den:.2f}x"

    fwd_rows = [
        [
            r["label"],
            r["N"],
            r["nnz"],
            fmt_time(r["ours"]),
            fmt_time(r["csr"]),
            fmt_time(r["coo"]),
            fmt_time(r["scipy"]),
            fmt_time(r["gather"]),
            fmt_time(r["scatter"]),
            ratio(r["csr"], r["ours"]),
            ratio(r["gather"], r["ours"]),
        ]
        for r in results
    ]
    fb_rows = [
        [
            r["label"],
            fmt_time(r["ours_fwd_learned"]),
            fmt_time(r["ours_fb"]),
            ratio(r["ours_fb"], r["ours_fwd_learned"]),
            fmt_time(r["gather_fb"]),
            fmt_time(r["torch_sparse_fb"]),
            ratio(r["gather_fb"], r["ours_fb"]),
            ratio(r["torch_sparse_fb"], r["ours_fb"]),
        ]
        for r in results
    ]
    text = (
        f"### Operator kernel (F = 64, float32, L = D - W)\n\nMachine: {machine()}\n\n"
        "Forward `L @ x` (operator prebuilt):\n\n"
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
            ],
            fwd_rows,
        )
        + "\n\nForward + backward with learnable edge weights "
        "(operator rebuilt from the weights each call):\n\n"
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
        + "\n"
    )
    print(text)
    save("operators" + ("_quick" if a.quick else ""), text)
    return text


if __name__ == "__main__":
    main()
