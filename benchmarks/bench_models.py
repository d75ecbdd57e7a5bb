"""Model families: cost of one forward and one forward+backward on a Cora-size graph.

Every family of :mod:`models` is built by its ``from_config`` with its paper's
depth and solver (widths reduced to 64 so the table runs in minutes on 2 cores),
on a contextual SBM with Cora's size (2708 nodes, mean degree 4, 128 features, 7
classes), float32. Reported per family: the solver, steps and right-hand-side
evaluations of one forward pass, the median time of a forward pass in evaluation
mode without gradients, and of a training step (forward, cross-entropy on all
nodes, backward). Side by side, the Euler GCN of the same depth gives the cost
of one plain GCN layer stack as the reference column ("x GCN").

Run: ``python benchmarks/bench_models.py [--quick]`` (writes
``benchmarks/results/models.md``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from _common import fmt_time, machine, save, table, timeit  # noqa: E402

from graphops.datasets import csbm  # noqa: E402
from models import gcn, graff, grand, graphcon, pde_gcn, sheaf  # noqa: E402


def families(f: int, c: int) -> list[tuple[str, object]]:
    """``(name, build)`` of every family with its paper's depth and solver."""
    return [
        ("GCN (2 layers)", lambda: gcn.from_config(f, c, hidden=64, layers=2)),
        ("GCN (16 layers)", lambda: gcn.from_config(f, c, hidden=64, layers=16)),
        (
            "GCNII (16 layers)",
            lambda: gcn.gcnii_from_config(f, c, hidden=64, layers=16),
        ),
        ("PDE-GCN_D (16 x h=2)", lambda: pde_gcn.from_config(f, c, variant="D")),
        ("PDE-GCN_H (16 x h=2)", lambda: pde_gcn.from_config(f, c, variant="H")),
        ("PDE-GCN_M (16 x h=2)", lambda: pde_gcn.from_config(f, c, variant="M")),
        (
            "GRAND-l (Cora, Dopri5)",
            lambda: grand.from_config(f, c, variant="l", hidden=64),
        ),
        ("GraphCON-GCN (texas)", lambda: graphcon.from_config(f, c, hidden=64)),
        ("GRAFF-D (Cora)", lambda: graff.from_config(f, c)),
        (
            "NSD-diag (d=3, 4 layers)",
            lambda: sheaf.from_config(f, c, "diag", d=3, layers=4, hidden=16),
        ),
    ]


def main(argv: list[str] | None = None) -> str:
    """Time every family, print and save the table, return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 600-node graph")
    opts = parser.parse_args(argv)
    torch.manual_seed(0)
    n = 600 if opts.quick else 2708
    data = csbm(n, num_classes=7, homophily=0.8, num_features=128, mean_degree=4.0)
    x, graph, y = data.x.float(), data.graph.to(dtype=torch.float32), data.y
    rows, ref = [], {}
    for name, build in families(x.shape[1], 7):
        model = build()

        def forward(model=model):
            with torch.no_grad():
                return model(x, graph)

        def train_step(model=model):
            model.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x, graph), y)
            loss.backward()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.eval()
            t_fwd = timeit(forward, repeat=3, warmup=1, min_time=0.2)
            stats = model.last_stats
            model.train()
            t_train = timeit(train_step, repeat=3, warmup=1, min_time=0.2)
        if name.startswith("GCN ("):
            ref[name] = t_fwd
        base = ref.get("GCN (16 layers)") or ref.get("GCN (2 layers)")
        rows.append(
            [
                name,
                repr(model.solver),
                stats.num_steps,
                stats.num_rhs_evals,
                fmt_time(t_fwd),
                f"{t_fwd / base:.1f}x" if base else "1.0x",
                fmt_time(t_train),
            ]
        )
        print(rows[-1], flush=True)
    headers = [
        "family",
        "solver",
        "steps",
        "RHS evals",
        "forward (eval, no grad)",
        "x GCN",
        "training step (fwd + bwd)",
    ]
    text = (
        f"## Model families{' (quick)' if opts.quick else ''}\n\n"
        f"Machine: {machine()}\n\n"
        f"Graph: CSBM, N = {graph.num_nodes}, {graph.num_edges} undirected edges, "
        "128 features, 7 classes, float32. 'x GCN' is relative to the 16-layer "
        "Euler GCN (the 2-layer row to itself). Medians of 3 batched repeats.\n\n"
        + table(headers, rows)
        + "\n"
    )
    print(text)
    save("models_quick" if opts.quick else "models", text)
    return text


if __name__ == "__main__":
    main()
