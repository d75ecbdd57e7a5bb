"""NSD training epoch: the restriction-map learner per node vs per edge.

Issue 9 (the reproduction table's cost). Neural Sheaf Diffusion learns the
restriction maps of every directed edge ``(i, j)`` from ``Φ [x_i ‖ x_j]``
(REPRODUCTION.md §5.2; the authors' ``LocalConcatSheafLearner``), and the edge
weights from ``Ψ [x_i ‖ x_j]``. Side by side in one process, under the protocol
of ``_common``:

* ``ours``: :class:`models.sheaf.SheafLearner` and ``EdgeWeightLearner`` as
  shipped: ``Φ`` is split into the columns acting on ``x_i`` and on ``x_j``,
  both products are taken **per node** (``[N, out]``) and only the ``out``
  numbers are gathered per edge;
* ``concatenation``: the authors' pattern, the same modules with a forward that
  builds the ``[2M, 2 d' C]`` concatenation (``torch.cat([x[row], x[col]], 1)``),
  applies the sparse learner's row sums when the preset asks for them, then the
  linear map (what graphpde did before).

Both sides are one model (the same parameters); only the learners' forward
differs. Before timing, their evaluation forwards are checked equal (float32,
relative difference printed; float64 with gradients in ``tests/models/test_nsd.py``).
An epoch is a training-mode forward (dropout on, the same seed for both sides),
cross entropy on every node, and the backward pass (no optimiser step, so every
round sees the same parameters).

Graphs: random graphs with the sizes of the reproduction rows (nodes, edges,
features, classes from the dataset registry, no files needed), models from the
presets ``nsd-orthogonal-squirrel`` and ``nsd-diag-chameleon``.

Run: ``python benchmarks/bench_nsd.py [--quick] [--processes 3] [--scale 0.1]``
(writes ``benchmarks/results/nsd[_quick].md``).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import types
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

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

from graphops.datasets._registry import SPECS  # noqa: E402
from models.experiments.config import load_preset  # noqa: E402
from models.experiments.registry import MODELS  # noqa: E402
from models.sheaf import EdgeWeightLearner, SheafLearner  # noqa: E402

#: (label, preset) of each configuration.
CASES = (
    ("NSD-O(d), Squirrel sizes", "nsd-orthogonal-squirrel"),
    ("NSD-Diag, Chameleon sizes", "nsd-diag-chameleon"),
)
SIDES = ("ours", "concatenation")


def _concat_sheaf(self: SheafLearner, x: Tensor, graph) -> Tensor:
    """The authors' pattern: ``Φ`` on the gathered ``[2M, 2 d' C]`` input."""
    row, col = graph.directed_edge_index
    z = torch.cat([x[row], x[col]], dim=1)
    dp, c = self.stalk_dim, self.channels
    if self.sparse == "stalks":
        z = z.reshape(-1, 2, dp, c).sum(dim=2).reshape(-1, 2 * c)
    elif self.sparse:
        z = z.reshape(-1, dp, 2 * c).sum(dim=1)
    z = self.linear(z)
    if self.act == "tanh":
        z = torch.tanh(z)
    elif self.act == "elu":
        z = F.elu(z)
    return z.reshape(-1, *self.out_shape)


def _concat_weights(self: EdgeWeightLearner, x: Tensor, graph) -> Tensor:
    row, col = graph.directed_edge_index
    omega = torch.sigmoid(self.linear(torch.cat([x[row], x[col]], dim=1)))
    m = graph.num_edges
    return (omega[:m] * omega[m:]).squeeze(1)


def concatenation_model(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of ``model`` whose learners build the concatenation."""
    other = copy.deepcopy(model)
    for mod in other.modules():
        if isinstance(mod, SheafLearner):
            mod.forward = types.MethodType(_concat_sheaf, mod)
        elif isinstance(mod, EdgeWeightLearner):
            mod.forward = types.MethodType(_concat_weights, mod)
    return other


def build_case(preset: str, scale: float = 1.0, seed: int = 0):
    """``(model, x, y, graph, sizes)`` for ``preset`` on a random graph of its sizes."""
    cfg = load_preset(preset)
    spec = SPECS[cfg["dataset"]]
    n = max(8, int(spec.num_nodes * scale))
    e = max(16, int(spec.num_edges * scale))
    f = max(4, int(spec.num_features * scale))
    c = spec.num_classes
    graph = random_graph(n, 2 * e, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=gen)
    y = torch.randint(0, c, (n,), generator=gen)
    torch.manual_seed(seed)
    mspec = MODELS[cfg["model"]]
    model = mspec.build(f, c, **mspec.fixed, **cfg["model_args"])
    sizes = f"N={n}, directed entries={2 * graph.num_edges}, F={f}"
    return model, x, y, graph, sizes


def epoch_fn(model, x, y, graph, seed: int = 0):
    """One training-mode forward + cross entropy + backward (no step)."""

    def epoch() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        torch.manual_seed(seed)
        F.cross_entropy(model(x, graph), y).backward()

    return epoch


def worker(quick: bool, scale: float, repeat: int) -> None:
    """One process: check and time every case, print the JSON result."""
    out = {}
    rounds = 2 if quick else repeat
    for label, preset in CASES:
        model, x, y, graph, sizes = build_case(preset, scale)
        other = concatenation_model(model)
        with torch.no_grad():
            a = model.eval()(x, graph)
            b = other.eval()(x, graph)
        diff = float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))
        fns = {
            "ours": epoch_fn(model, x, y, graph),
            "concatenation": epoch_fn(other, x, y, graph),
        }
        samples = interleaved(fns, rounds, min_time=0.0)
        out[label] = {"samples": samples, "diff": diff, "sizes": sizes}
    out["repeat"] = rounds
    emit(out)


def main(argv: list[str] | None = None) -> str:
    """Run the protocol, print and save the markdown table, return it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds per process")
    ap.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="shrink nodes, edges and features by this factor (default 1: the "
        "datasets' sizes)",
    )
    ap.add_argument("--repeat", type=int, default=3, help="rounds per process (3)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    add_protocol_args(ap)
    a = ap.parse_args(argv)
    if not 0 < a.scale <= 1:
        ap.error(f"--scale must be in (0, 1]; got {a.scale}")
    torch.set_num_threads(a.threads)
    if a.worker:
        worker(a.quick, a.scale, a.repeat)
        return ""
    argv_w = [f"--threads={a.threads}", f"--scale={a.scale}", f"--repeat={a.repeat}"]
    argv_w += ["--quick"] * a.quick
    before = load()
    t0 = time.perf_counter()
    procs = run_processes(__file__, argv_w, a.processes)
    wall = time.perf_counter() - t0
    after = load()
    rows, flags = [], []
    for label, _ in CASES:
        runs = [p[label]["samples"] for p in procs]
        med = {k: statistics.median(process_medians(runs, k)) for k in SIDES}
        rows.append(
            [
                label,
                procs[0][label]["sizes"],
                fmt_time(med["ours"]),
                fmt_time(med["concatenation"]),
                f"**{summarize_ratio(runs, 'concatenation', 'ours')}**",
                f"{max(p[label]['diff'] for p in procs):.1e}",
            ]
        )
        flags += [f"{label}: {f}" for f in mode_jumps(runs)]
    text = (
        "### NSD training epoch: restriction-map learner per node vs per edge\n\n"
        f"Machine: {machine()}; {a.threads} thread(s); load average before / "
        f"after: {before} / {after}; wall {wall:.0f} s; scale {a.scale:g}.\n\n"
        + table(
            [
                "configuration (preset's model)",
                "graph",
                "ours (per node)",
                "concatenation",
                "concatenation / ours",
                "max rel. diff of eval forward",
            ],
            rows,
        )
        + f"\n\n{protocol_text(a.processes, procs[0]['repeat'])}\n\n"
        + jumps_text(flags)
        + "\n"
    )
    print(text)
    save("nsd_quick" if a.quick else "nsd", text)
    return text


if __name__ == "__main__":
    main()
