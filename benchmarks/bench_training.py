"""Training cost: PDE-GCN_H against the authors' layer loop, GRAND-nl's growing NFE.

**Part A** (issue 9 §5). One full-batch training epoch of PDE-GCN_H on Cora (public
split): forward in training mode (dropout on), NLL on the 140 training nodes,
backward, Adam step, at L = 2, 4, 8, 16, 32, 64 layers, width 64, float32, three
implementations side by side:

* ``ours``: :func:`models.pde_gcn.from_config` (``variant="H"``), gradient by
  backpropagation through the steps (the default);
* ``ours + Checkpoint()``: the same model with ``model.adjoint = Checkpoint()``
  (about ``sqrt(L)`` segments recomputed in the backward pass);
* ``authors' loop``: :class:`AuthorsPDEGCNH`, a re-implementation of the layer loop
  of the authors' code (REPRODUCTION.md §2.2-2.4, ``graphNet.py`` /
  ``graphOps.py``): channel-first ``[1, C, N]`` features, PyG ``gcn_norm`` rebuilt
  in every forward pass (self-loops appended), the gradient as a gather
  (``index_select``) on both ends of the directed edge list times the edge
  weights, the divergence as two ``index_add_`` into a zero tensor, ``K_l`` and
  ``K_l^T`` as 1x1 convolutions, the leapfrog update with a ``clone`` of the
  state per layer.

Epoch times follow the measurement protocol of ``_common``: ``--processes``
worker processes (default 3), each running, per depth, one warm-up epoch of every
implementation and then ``--repeats`` interleaved rounds of one epoch each; the
table gives the median over processes of the per-process paired ratios with
their spread (min-max), and the mode jumps. Before timing, every worker checks at
every depth that the re-implementation gives our forward output (evaluation
mode, weights copied across) to ``1e-5``, so the comparison is like for like.
Peak memory is measured per configuration in a fresh subprocess: the growth of the
resident set (``VmHWM - VmRSS``, the high-water mark reset through
``/proc/self/clear_refs`` just before the measured epoch, after one warm-up epoch),
with ``MALLOC_MMAP_THRESHOLD_=131072`` so that freed large blocks leave the
process (with glibc's adaptive threshold they stay in the heap and the warm-up
epoch hides the peak of the measured one).

**Part B.** GRAND-nl (:func:`models.grand.from_config`, ``variant="nl"``, the
released Cora configuration: Dopri5 with ``tol_scale`` 822) trained on Cora with
the released optimiser (Adamax, lr 0.0229, weight decay 0.00508) for a fixed number
of epochs, one seed, and the remedies: looser tolerances (``tol_scale`` x100,
x1e4), fixed-step RK4 (dt = 1) and Euler (dt = 1). The Dopri5 runs are capped at
``max_nfe`` 300 (the released 2000 would hold ~16 GiB for backpropagation, see
:func:`grand_variants`); a solve that exceeds the cap raises ``SolveFailed``
(status ``MAX_STEPS``) and that variant stops there. Per epoch: right-hand-side
evaluations of the forward pass (``model.last_stats``), forward and backward time,
the growth of the resident set during the epoch (as in part A; each variant runs in
its own subprocess with ``MALLOC_MMAP_THRESHOLD_=131072``). The backward pass
backpropagates through the solver's operations and evaluates the right-hand side
zero times (checked by counting the term's calls). Accuracies are those of the
final model, evaluated with the variant's own solver.

Run: ``python benchmarks/bench_training.py [--quick] [--parts A,B] [--threads 1]
[--depths 2,64] [--repeats 5] [--processes 3]`` (writes
``benchmarks/results/training[_quick].{md,json}``, or ``training_A`` /
``training_B`` when one part runs, and part B's plot
``training_nfe[_quick].png``). The data root is ``$GRAPHPDE_DATA`` or the
repository's sibling ``shared/data``; without Cora the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
# Measure the tree this file belongs to, whatever is installed.
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    PROCESSES,
    RESULTS,
    add_protocol_args,
    emit,
    fmt_time,
    interleaved,
    jumps_text,
    machine,
    mode_jumps,
    process_medians,
    protocol_text,
    run_processes,
    save,
    summarize_ratio,
    table,
)
from _common import load as load_average  # noqa: E402

from graphops import Graph  # noqa: E402
from graphops.datasets import DATA_ENV_VAR, load  # noqa: E402
from models import grand, pde_gcn  # noqa: E402
from models.model import GraphPDEModel  # noqa: E402
from solvers import (  # noqa: E402
    RK4,
    Checkpoint,
    ConstantStep,
    Euler,
    SolveFailed,
    StabilityWarning,
)

DEPTHS = (2, 4, 8, 16, 32, 64)
QUICK_DEPTHS = (2, 8)
HIDDEN = 64
#: The step of PDE-GCN_H here. ``from_config``'s default (h = 2, ``GNcora.py``'s
#: value for the diffusion model) makes the hyperbolic model blow up in training
#: mode at 64 layers (dropout 0.6 rescales the edge field by 2.5); 0.5 is on the
#: authors' search grid {1/L, 2/L, ..., 3} for every depth here.
H_STEP = 0.5
DROPOUT = 0.6
#: Adam groups of REPRODUCTION.md §2.5 (lr inside the Optuna range).
LR, LR_K, WD = 0.01, 5e-5, 5e-4
GRAND_LR, GRAND_WD = 0.022924849756740397, 0.00507685443154266
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}
#: Evaluation cap of the Dopri5 runs of part B (see grand_variants).
GRAND_MAX_NFE = 300


# ---------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------
def data_root() -> Path:
    """``$GRAPHPDE_DATA``, else the repository's sibling ``shared/data``."""
    env = os.environ.get(DATA_ENV_VAR)
    return Path(env) if env else HERE.parents[1] / "shared" / "data"


def load_cora():
    """Cora (public split), or ``None`` with a message when the files are absent."""
    root = data_root()
    if not (root / "Planetoid" / "Cora").exists():
        print(
            f"bench_training: Cora not found under {root}/Planetoid/Cora; set "
            f"{DATA_ENV_VAR} to the folder holding Planetoid/Cora. Skipped.",
            flush=True,
        )
        return None
    return load("cora", root=root)


# ---------------------------------------------------------------------------------
# The authors' layer loop, re-implemented (REPRODUCTION.md §2.2-2.4)
# ---------------------------------------------------------------------------------
def gcn_norm(edge_index: Tensor, num_nodes: int, dtype: torch.dtype):
    """PyG ``gcn_norm(edge_index)``: ``(I, J, w)`` with self-loops appended.

    Unit weights, self-loops of weight 1, degrees counted on the target index
    ``J``, ``w_e = (d_I d_J)^(-1/2)`` (REPRODUCTION.md §2.2: the authors' model
    rebuilds this in every forward pass and discards any other weights).
    """
    loop = torch.arange(num_nodes, device=edge_index.device)
    i = torch.cat([edge_index[0], loop])
    j = torch.cat([edge_index[1], loop])
    ones = torch.ones(i.numel(), dtype=dtype, device=edge_index.device)
    deg = torch.zeros(num_nodes, dtype=dtype, device=edge_index.device)
    deg.index_add_(0, j, ones)
    dis = deg.rsqrt()
    dis.masked_fill_(torch.isinf(dis), 0.0)
    return i, j, dis[i] * dis[j]


class AuthorsPDEGCNH(nn.Module):
    """PDE-GCN_H as the authors' ``graphNetwork_nodesOnly`` computes it.

    Features are channel-first ``[1, C, N]``; ``K_open`` ``[C, F_in]``, ``K_l``
    ``[L, C, C]`` and ``K_close`` ``[classes, C]`` are 1x1 convolution kernels (no
    bias). One forward pass: ``gcn_norm``; dropout, ``relu(K_open x)``, dropout
    (``f_0``); per layer ``g = w (f[:, :, I] - f[:, :, J])``, dropout on ``g``,
    ``K_l^T relu(K_l g)``, divergence by ``index_add_`` (``+w`` at ``I``, ``-w`` at
    ``J``), ``f <- 2 f - f_old - h^2 div``; dropout, ``K_close``, log-softmax.

    Args:
        num_features: ``F_in``.
        num_classes: Output classes.
        hidden: ``C``.
        layers: ``L``.
        h: The step.
        dropout: ``p`` (all four places).
    """

    def __init__(
        self,
        num_features: int,
        num_classes: int,
        *,
        hidden: int,
        layers: int,
        h: float,
        dropout: float,
    ) -> None:
        super().__init__()
        self.h, self.dropout, self.layers = float(h), float(dropout), int(layers)
        self.K1Nopen = nn.Parameter(torch.empty(hidden, num_features))
        self.KN1 = nn.Parameter(torch.empty(layers, hidden, hidden))
        self.KNclose = nn.Parameter(torch.empty(num_classes, hidden))

    @classmethod
    def from_model(cls, model: GraphPDEModel) -> AuthorsPDEGCNH:
        """The same network with the weights of one of ours (copied)."""
        term = model.term
        k_open, k_close = model.encoder[1].weight, model.decoder[1].weight
        out = cls(
            k_open.shape[1],
            k_close.shape[0],
            hidden=term.channels,
            layers=term.layers,
            h=term.h,
            dropout=term.dropout,
        )
        with torch.no_grad():
            out.K1Nopen.copy_(k_open)
            out.KN1.copy_(term.K.values)
            out.KNclose.copy_(k_close)
        return out.to(k_open.dtype)

    def forward(self, xn: Tensor, edge_index: Tensor) -> Tensor:
        """Log-probabilities ``[N, classes]`` from ``xn`` ``[1, F_in, N]``.

        ``edge_index`` ``[2, 2M]`` holds both directions of every edge.
        """
        n = xn.shape[-1]
        p, train = self.dropout, self.training
        i, j, w = gcn_norm(edge_index, n, xn.dtype)
        xn = F.dropout(xn, p=p, training=train)
        xn = F.relu(F.conv1d(xn, self.K1Nopen.unsqueeze(-1)))
        xn = F.dropout(xn, p=p, training=train)
        xn_old = xn
        for layer in range(self.layers):
            k = self.KN1[layer]
            # graphOps.nodeGrad: W * (x[:, :, I] - x[:, :, J]).
            grad = w * (xn.index_select(2, i) - xn.index_select(2, j))
            grad = F.dropout(grad, p=p, training=train)
            # singleLayer(openclose=False): conv K, relu, conv K^T.
            dxe = F.conv1d(F.relu(F.conv1d(grad, k.unsqueeze(-1))), k.t().unsqueeze(-1))
            # graphOps.edgeDiv: two index_add_ into zeros.
            dxn = xn.new_zeros(xn.shape[0], xn.shape[1], n)
            dxn.index_add_(2, i, w * dxe)
            dxn.index_add_(2, j, -w * dxe)
            tmp = xn.clone()
            xn = 2 * xn - xn_old - (self.h**2) * dxn
            xn_old = tmp
        xn = F.dropout(xn, p=p, training=train)
        xn = F.conv1d(xn, self.KNclose.unsqueeze(-1)).squeeze(0).t()
        return F.log_softmax(xn, dim=1)


def build_pair(
    num_features: int, num_classes: int, layers: int, *, seed: int = 0, dtype=None
) -> tuple[GraphPDEModel, AuthorsPDEGCNH]:
    """Our PDE-GCN_H and the authors' loop with identical parameters."""
    torch.manual_seed(seed)
    ours = pde_gcn.from_config(
        num_features,
        num_classes,
        variant="H",
        hidden=HIDDEN,
        layers=layers,
        h=H_STEP,
        dropout=DROPOUT,
    )
    if dtype is not None:
        ours = ours.to(dtype)
    return ours, AuthorsPDEGCNH.from_model(ours)


def max_forward_difference(
    ours: GraphPDEModel, ref: AuthorsPDEGCNH, x: Tensor, graph: Graph
) -> float:
    """Largest ``|ours - authors'|`` of the log-probabilities, evaluation mode."""
    was = ours.training, ref.training
    ours.eval()
    ref.eval()
    try:
        with torch.no_grad():
            a = ours(x, graph)
            b = ref(x.t().unsqueeze(0).contiguous(), graph.directed_edge_index)
    finally:
        ours.train(was[0])
        ref.train(was[1])
    return float((a - b).abs().max())


def adam_groups_ref(ref: AuthorsPDEGCNH) -> list[dict]:
    """The §2.5 groups for the re-implementation (same values as ours)."""
    return [
        {"params": [ref.KN1], "lr": LR_K, "weight_decay": 0.0},
        {"params": [ref.K1Nopen, ref.KNclose], "lr": LR, "weight_decay": WD},
    ]


def epoch_fns(data, layers: int) -> dict:
    """``{name: (module, epoch function)}`` for one depth (shared start weights)."""
    x, graph, y, mask = data.x, data.graph, data.y, data.train_mask
    ours, ref = build_pair(x.shape[1], data.num_classes, layers)
    ours_ck, _ = build_pair(x.shape[1], data.num_classes, layers)
    ours_ck.adjoint = Checkpoint()
    xt = x.t().unsqueeze(0).contiguous()
    edges = graph.directed_edge_index
    fns = {}
    for name, model, call in (
        ("ours", ours, lambda m: m(x, graph)),
        ("ours + Checkpoint()", ours_ck, lambda m: m(x, graph)),
        ("authors' loop", ref, lambda m: m(xt, edges)),
    ):
        groups = (
            adam_groups_ref(model)
            if isinstance(model, AuthorsPDEGCNH)
            else pde_gcn.param_groups(model, lr=LR, lr_K=LR_K, wd=WD)
        )
        opt = torch.optim.Adam(groups)

        def epoch(model=model, call=call, opt=opt) -> float:
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = F.nll_loss(call(model)[mask], y[mask])
            loss.backward()
            opt.step()
            return float(loss.detach())

        fns[name] = (model, epoch)
    return fns


# ---------------------------------------------------------------------------------
# Part A: time (the protocol: workers) and memory (a subprocess per cell)
# ---------------------------------------------------------------------------------
#: The implementations of part A, in table order.
NAMES = ("ours", "ours + Checkpoint()", "authors' loop")
#: Largest eval-mode forward difference (float32) that counts as the same network.
FORWARD_TOL = 1e-5


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"bench_training: no {field} in /proc/self/status")


def memory_child(impl: str, layers: int) -> None:
    """Print ``{"peak_mib", "after_mib", "loss"}`` of one epoch (run in a child)."""
    torch.manual_seed(0)
    data = load_cora()
    name, epoch = impl, epoch_fns(data, layers)[impl][1]
    epoch()
    open("/proc/self/clear_refs", "w").write("5")
    before = _rss_kib("VmRSS")
    loss = epoch()
    peak = _rss_kib("VmHWM")
    after = _rss_kib("VmRSS")
    print(
        json.dumps(
            {
                "impl": name,
                "layers": layers,
                "peak_mib": (peak - before) / 1024,
                "after_mib": (after - before) / 1024,
                "loss": loss,
            }
        )
    )


def measure_memory(impl: str, layers: int) -> float | None:
    """Peak RSS growth (MiB) of one epoch, in a fresh subprocess."""
    env = dict(os.environ, **MALLOC_ENV)
    cmd = [sys.executable, __file__, "--memory-child", f"{impl}|{layers}"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        print(res.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"]


def part_a_worker(data, depths, repeats: int) -> dict:
    """One process of part A's protocol: per depth, check, warm up, interleave.

    Per depth: the eval-mode forward of the authors' loop must equal ours (weights
    copied) to :data:`FORWARD_TOL`; one warm-up epoch of each implementation
    (a :class:`StabilityWarning` is an error); then ``repeats`` interleaved
    rounds of one epoch each.

    Raises:
        RuntimeError: The two networks differ (the comparison would not be like
            for like).
    """
    out = {"threads": torch.get_num_threads(), "depths": {}}
    for layers in depths:
        fns = epoch_fns(data, layers)
        ours, ref = fns["ours"][0], fns["authors' loop"][0]
        diff = max_forward_difference(ours, ref, data.x, data.graph)
        if not diff < FORWARD_TOL:
            raise RuntimeError(
                f"bench_training: the authors' loop differs from ours by {diff:.2e} "
                f"at L = {layers} (expected < {FORWARD_TOL:g}); the comparison "
                "would not be like for like. Check AuthorsPDEGCNH against "
                "models.pde_gcn."
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error", StabilityWarning)
            for name in NAMES:
                fns[name][1]()
            samples = interleaved(
                {name: fns[name][1] for name in NAMES}, repeats, calibrate=False
            )
        out["depths"][str(layers)] = {"samples": samples, "diff": diff}
    return out


def part_a(
    data, depths, repeats: int, processes: int = PROCESSES, argv=()
) -> tuple[str, dict]:
    """Epoch time (protocol) and peak memory per depth: (markdown, raw numbers).

    ``argv`` are the options the workers need besides the depths and repeats
    (``--threads``).
    """
    wargv = ["--parts", "A", "--depths", ",".join(str(d) for d in depths)]
    wargv += ["--repeats", str(repeats), *argv]
    load_before = load_average()
    procs = run_processes(__file__, wargv, processes)
    load_after = load_average()
    rows, raw, flags = [], {}, []
    slow = NAMES[2]
    for layers in depths:
        runs = [p["depths"][str(layers)]["samples"] for p in procs]
        diff = max(p["depths"][str(layers)]["diff"] for p in procs)
        med = {n: statistics.median(process_medians(runs, n)) for n in NAMES}
        vs_ours = summarize_ratio(runs, slow, NAMES[0])
        vs_ck = summarize_ratio(runs, slow, NAMES[1])
        ck_cost = summarize_ratio(runs, NAMES[1], NAMES[0])
        flags += [f"L = {layers}, {f}" for f in mode_jumps(runs)]
        mem = {n: measure_memory(n, layers) for n in NAMES}
        raw[layers] = {
            "time_s": med,
            "per_process_median_s": {n: process_medians(runs, n) for n in NAMES},
            "authors_over_ours": asdict(vs_ours),
            "authors_over_checkpoint": asdict(vs_ck),
            "checkpoint_over_ours": asdict(ck_cost),
            "peak_mib": mem,
            "forward_max_diff": diff,
        }
        row = [layers] + [fmt_time(med[n]) for n in NAMES]
        row += [f"**{vs_ours}**", str(vs_ck), str(ck_cost)]
        row += ["n/a" if mem[n] is None else f"{mem[n]:.0f} MiB" for n in NAMES]
        row.append(f"{diff:.1e}")
        rows.append(row)
        print(row, flush=True)
    headers = (
        ["layers"]
        + [f"epoch: {n}" for n in NAMES]
        + [
            "authors' / ours (target >= 3x at 64)",
            "authors' / ours + Checkpoint()",
            "ours + Checkpoint() / ours",
        ]
        + [f"peak RSS growth: {n}" for n in NAMES]
        + ["max abs diff of eval forward (max over processes)"]
    )
    threads = procs[0]["threads"]
    text = (
        "#### A. PDE-GCN_H training epoch on Cora: ours vs the authors' loop\n\n"
        f"Cora public split ({data.graph.num_nodes} nodes, {data.graph.num_edges} "
        f"undirected edges, {data.x.shape[1]} features), width {HIDDEN}, h = "
        f"{H_STEP}, dropout {DROPOUT}, float32, {threads} thread(s). "
        "Epoch = forward (train mode) + NLL on the training mask + backward + Adam "
        "step; one sample = one epoch, after one warm-up epoch of each "
        "implementation per process. Peak RSS growth: VmHWM - VmRSS over one epoch "
        "after a warm-up epoch, fresh subprocess per cell, "
        "MALLOC_MMAP_THRESHOLD_=131072. Load average before / after the timing "
        f"workers: {load_before} / {load_after}.\n\n"
        + table(headers, rows)
        + "\n\n"
        + protocol_text(processes, repeats)
        + "\n\n"
        + jumps_text(flags)
        + "\n"
    )
    return text, raw


# ---------------------------------------------------------------------------------
# Part B: GRAND-nl, NFE during training and the remedies
# ---------------------------------------------------------------------------------
def grand_variants(f: int, c: int) -> list[tuple[str, object]]:
    """``(label, build)`` of the GRAND-nl variants.

    Every Dopri5 variant gets ``max_nfe = GRAND_MAX_NFE`` instead of the released
    2000: backpropagating through the solve keeps about 17 MiB per accepted
    evaluation on Cora, so the released cap means up to ~16 GiB of saved tensors
    before it fires (the machine has 24 GiB, shared).
    """
    tol = grand.CORA["tol_scale"]
    cap = GRAND_MAX_NFE

    def dopri5(scale: float):
        return lambda: grand.from_config(
            f, c, variant="nl", tol_scale=scale * tol, max_nfe=cap
        )

    def fixed(solver):
        return lambda: grand.from_config(
            f, c, variant="nl", solver=solver, controller=ConstantStep(), dt0=1.0
        )

    return [
        (f"Dopri5, released tol (tol_scale {tol:.0f}), max_nfe {cap}", dopri5(1.0)),
        (f"Dopri5, tol_scale x100, max_nfe {cap}", dopri5(100.0)),
        (f"Dopri5, tol_scale x1e4, max_nfe {cap}", dopri5(1e4)),
        ("RK4, dt = 1 (19 steps)", fixed(RK4())),
        ("Euler, dt = 1 (19 steps)", fixed(Euler())),
    ]


def accuracy(out: Tensor, y: Tensor, mask: Tensor) -> float:
    return float((out[mask].argmax(1) == y[mask]).float().mean())


def train_grand(label: str, build, data, epochs: int) -> dict:
    """Train one variant; per-epoch NFE and times, final accuracies."""
    x, graph, y = data.x, data.graph, data.y
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.Adamax(model.parameters(), lr=GRAND_LR, weight_decay=GRAND_WD)
    calls = [0]
    hook = model.term.register_forward_hook(
        lambda *a: calls.__setitem__(0, calls[0] + 1)
    )
    rec = {
        "label": label,
        "nfe": [],
        "steps": [],
        "rejected": [],
        "fwd_s": [],
        "bwd_s": [],
        "bwd_rhs_calls": [],
        "peak_rss_mib": [],
        "loss": [],
        "failed": None,
    }
    t_start = time.perf_counter()
    for ep in range(epochs):
        model.train()
        opt.zero_grad(set_to_none=True)
        open("/proc/self/clear_refs", "w").write("5")
        rss0 = _rss_kib("VmRSS")
        t0 = time.perf_counter()
        try:
            out = model(x, graph)
        except SolveFailed as err:
            st = err.solution.stats
            rec["failed"] = {
                "epoch": ep + 1,
                "message": str(err),
                "status": err.solution.status.name,
                "nfe": st.num_rhs_evals,
            }
            print(f"  {label}: epoch {ep + 1} failed: {err}", flush=True)
            break
        t1 = time.perf_counter()
        st = model.last_stats
        loss = F.cross_entropy(out[data.train_mask], y[data.train_mask])
        calls[0] = 0
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        rec["nfe"].append(st.num_rhs_evals)
        rec["steps"].append(st.num_accepted)
        rec["rejected"].append(st.num_rejected)
        rec["fwd_s"].append(t1 - t0)
        rec["bwd_s"].append(t2 - t1)
        rec["bwd_rhs_calls"].append(calls[0])
        rec["peak_rss_mib"].append((_rss_kib("VmHWM") - rss0) / 1024)
        rec["loss"].append(float(loss))
    rec["train_s"] = time.perf_counter() - t_start
    hook.remove()
    rec["epochs_done"] = len(rec["nfe"])
    model.eval()
    try:
        with torch.no_grad():
            out = model(x, graph)
        rec["eval_nfe"] = model.last_stats.num_rhs_evals
        rec["val_acc"] = accuracy(out, y, data.val_mask)
        rec["test_acc"] = accuracy(out, y, data.test_mask)
    except SolveFailed as err:
        rec["eval_failed"] = str(err)
    return rec


def plot_nfe(records: list[dict], path: Path) -> None:
    """NFE per epoch (log scale), one line per variant; x marks a failed solve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for rec in records:
        ep = list(range(1, len(rec["nfe"]) + 1))
        (line,) = ax.plot(ep, rec["nfe"], marker=".", label=rec["label"])
        if rec["failed"]:
            ax.plot(
                [rec["failed"]["epoch"]],
                [rec["failed"]["nfe"]],
                "x",
                color=line.get_color(),
                markersize=10,
                mew=2,
            )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RHS evaluations (forward pass)")
    ax.set_title("GRAND-nl on Cora: NFE per training epoch (x: solve failed)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def grand_child(k: int, epochs: int) -> None:
    """Train variant ``k`` and print its record as JSON (run in a child)."""
    data = load_cora()
    label, build = grand_variants(data.x.shape[1], data.num_classes)[k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print(json.dumps(train_grand(label, build, data, epochs)))


def part_b(data, quick: bool, suffix: str) -> tuple[str, list[dict]]:
    """Train every variant; returns (markdown, records); writes the plot."""
    epochs = 6 if quick else 30
    records = []
    env = dict(os.environ, **MALLOC_ENV)
    for k, (label, _) in enumerate(grand_variants(1, 2)):
        print(f"  GRAND-nl: {label}", flush=True)
        cmd = [sys.executable, __file__, "--grand-child", f"{k}|{epochs}"]
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"bench_training: GRAND-nl child failed:\n{res.stderr}")
        records.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"  -> NFE {records[-1]['nfe']}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    png = RESULTS / f"training_nfe{suffix}.png"
    plot_nfe(records, png)
    rows = []
    for r in records:
        n = r["epochs_done"]
        nfe = r["nfe"]
        first = nfe[0] if nfe else None
        status = (
            f"failed at epoch {r['failed']['epoch']} ({r['failed']['status']}, "
            f"{r['failed']['nfe']} evals)"
            if r["failed"]
            else "ok"
        )
        acc = (
            f"{100 * r['val_acc']:.1f} / {100 * r['test_acc']:.1f}"
            if "val_acc" in r
            else "n/a (eval solve failed)"
        )
        rows.append(
            [
                r["label"],
                f"{n} / {epochs}",
                status,
                first if first is not None else "-",
                max(nfe) if nfe else "-",
                nfe[-1] if nfe else "-",
                sum(nfe),
                max(r["bwd_rhs_calls"]) if nfe else "-",
                fmt_time(statistics.median(r["fwd_s"])) if nfe else "-",
                fmt_time(statistics.median(r["bwd_s"])) if nfe else "-",
                fmt_time(r["fwd_s"][-1] + r["bwd_s"][-1]) if nfe else "-",
                fmt_time(r["train_s"]),
                f"{max(r['peak_rss_mib']):.0f} MiB" if nfe else "-",
                acc,
            ]
        )
    headers = [
        "variant",
        "epochs done",
        "status",
        "NFE epoch 1",
        "max NFE",
        "last NFE",
        "total NFE",
        "RHS calls in backward",
        "median fwd",
        "median bwd",
        "last epoch (fwd + bwd)",
        "training wall time",
        "max peak RSS growth in an epoch",
        "val / test acc (%)",
    ]
    text = (
        "#### B. GRAND-nl on Cora: RHS evaluations during training and remedies\n\n"
        f"Released Cora configuration (hidden 80, 8 heads, T = "
        f"{grand.CORA['t1']:.2f}), Adamax lr {GRAND_LR:.4f}, weight decay "
        f"{GRAND_WD:.4f}, {epochs} epochs, one seed (0), float32. NFE = RHS "
        "evaluations of the training forward pass (model.last_stats, rejected steps "
        "included). Each variant in its own subprocess, MALLOC_MMAP_THRESHOLD_=131072. "
        "Accuracy of the final model (eval mode, the variant's own "
        f"solver; public split). Plot: `results/{png.name}`.\n\n"
        + table(headers, rows)
        + "\n"
    )
    return text, records


# ---------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> str:
    """Run the parts, print and save the tables, return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few depths and epochs")
    parser.add_argument("--parts", default="A,B", help="A, B or A,B (default)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--depths", default=None, help="part A depths, e.g. 2,64 (default: all)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="part A interleaved rounds per process (default 5; 3 quick)",
    )
    add_protocol_args(parser, "part A's protocol")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--grand-child", default=None, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
        # Children (memory, GRAND-nl) inherit the thread count.
        os.environ["OMP_NUM_THREADS"] = str(opts.threads)
    if opts.memory_child:
        impl, layers = opts.memory_child.split("|")
        memory_child(impl, int(layers))
        return ""
    if opts.grand_child:
        k, epochs = opts.grand_child.split("|")
        grand_child(int(k), int(epochs))
        return ""
    data = load_cora()
    if data is None:
        return ""
    parts = {p.strip().upper() for p in opts.parts.split(",")}
    depths = (
        tuple(int(d) for d in opts.depths.split(","))
        if opts.depths
        else (QUICK_DEPTHS if opts.quick else DEPTHS)
    )
    repeats = opts.repeats or (3 if opts.quick else 5)
    if opts.worker:
        emit(part_a_worker(data, depths, repeats))
        return ""
    suffix = "_quick" if opts.quick else ""
    t0 = time.perf_counter()
    sections, raw = [], {"machine": machine(), "quick": opts.quick}
    if "A" in parts:
        argv_w = [] if opts.threads is None else ["--threads", str(opts.threads)]
        text, raw["A"] = part_a(data, depths, repeats, opts.processes, argv_w)
        print(text, flush=True)
        sections.append(text)
    if "B" in parts:
        text, raw["B"] = part_b(data, opts.quick, suffix)
        print(text, flush=True)
        sections.append(text)
    total = time.perf_counter() - t0
    raw["total_s"] = total
    text = (
        f"### Training (issue 9){' (quick)' if opts.quick else ''}\n\n"
        f"Machine: {machine()}\n\n"
        + "\n".join(sections)
        + f"\nTotal time: {total:.0f} s.\n"
    )
    # A run of one part does not overwrite the record of both.
    name = "training" if parts >= {"A", "B"} else "training_" + "".join(sorted(parts))
    path = save(name + suffix, text)
    path.with_suffix(".json").write_text(json.dumps(raw, indent=1))
    return text


if __name__ == "__main__":
    main()
