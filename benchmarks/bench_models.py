"""Model families: cost of one forward and one forward+backward on a Cora-size graph.

Every family of :mod:`models` is built by its ``from_config`` with its paper's
depth and solver (widths reduced to 64 so the table runs in minutes on 2 cores),
on a contextual SBM with Cora's size (2708 nodes, mean degree 4, 128 features, 7
classes), float32. Reported per family: the solver, steps and right-hand-side
evaluations of one forward pass, the median time of a forward pass in evaluation
mode without gradients, and of a training step (forward, cross-entropy on all
nodes, backward). The 16-layer Euler GCN is the reference ("x GCN"; the 2-layer
GCN row is relative to itself).

Timing follows the protocol of ``_common``: in each worker process every family's
forward and training step take turns in the same interleaved rounds, so each
ratio to the GCN pairs samples taken back to back; ``--processes`` processes;
median ratio and spread; mode jumps flagged.

Run: ``python benchmarks/bench_models.py [--quick] [--processes 3]`` (writes
``benchmarks/results/models.md``).
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
    run_processes,
    save,
    summarize_ratio,
    table,
)

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


REFERENCE = "GCN (16 layers)"


def _rounds(quick: bool) -> int:
    return 3 if quick else 7


def worker(quick: bool) -> None:
    """One process of the protocol: every family interleaved, then emit."""
    torch.manual_seed(0)
    n = 600 if quick else 2708
    data = csbm(n, num_classes=7, homophily=0.8, num_features=128, mean_degree=4.0)
    x, graph, y = data.x.float(), data.graph.to(dtype=torch.float32), data.y
    fns, info = {}, []
    for name, build in families(x.shape[1], 7):
        model = build()

        def forward(model=model):
            model.eval()
            with torch.no_grad():
                return model(x, graph)

        def train_step(model=model):
            model.train()
            model.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(x, graph), y)
            loss.backward()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            forward()
        stats = model.last_stats
        info.append(
            dict(
                name=name,
                solver=repr(model.solver),
                steps=stats.num_steps,
                evals=stats.num_rhs_evals,
            )
        )
        fns[f"{name} fwd"] = forward
        fns[f"{name} train"] = train_step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = interleaved(fns, _rounds(quick), min_time=0.1)
    emit(dict(n=graph.num_nodes, edges=graph.num_edges, info=info, samples=samples))


def main(argv: list[str] | None = None) -> str:
    """Time every family under the protocol, print and save the table, return it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 600-node graph")
    add_protocol_args(parser)
    opts = parser.parse_args(argv)
    if opts.worker:
        worker(opts.quick)
        return ""
    load_before = load()
    procs = run_processes(__file__, ["--quick"] if opts.quick else [], opts.processes)
    load_after = load()
    runs = [p["samples"] for p in procs]
    med = {k: statistics.median(process_medians(runs, k)) for k in runs[0]}
    rows = []
    for fam in procs[0]["info"]:
        name = fam["name"]
        ref = name if name.startswith("GCN (2") else REFERENCE
        rows.append(
            [
                name,
                fam["solver"],
                fam["steps"],
                fam["evals"],
                fmt_time(med[f"{name} fwd"]),
                str(summarize_ratio(runs, f"{name} fwd", f"{ref} fwd")),
                fmt_time(med[f"{name} train"]),
                str(summarize_ratio(runs, f"{name} train", f"{ref} train")),
            ]
        )
    headers = [
        "family",
        "solver",
        "steps",
        "RHS evals",
        "forward (eval, no grad)",
        "x GCN (forward)",
        "training step (fwd + bwd)",
        "x GCN (training step)",
    ]
    text = (
        f"## Model families{' (quick)' if opts.quick else ''}\n\n"
        f"Machine: {machine()}; load average before / after: {load_before} / "
        f"{load_after}\n\n"
        f"Graph: CSBM, N = {procs[0]['n']}, {procs[0]['edges']} undirected edges, "
        "128 features, 7 classes, float32. 'x GCN' is the family's time over the "
        "16-layer Euler GCN's (the 2-layer row over itself), from samples taken in "
        "the same rounds.\n\n"
        + table(headers, rows)
        + f"\n\n{protocol_text(opts.processes, _rounds(opts.quick))}\n\n"
        f"{jumps_text(mode_jumps(runs))}\n"
    )
    print(text)
    save("models_quick" if opts.quick else "models", text)
    return text


if __name__ == "__main__":
    main()
