"""GRAND-nl training epoch on Cora: our kernels vs the authors' operator pattern.

Issue 13, target 5. One full-batch training epoch of GRAND-nl
(:func:`models.grand.from_config`, ``variant="nl"``, the released Cora
configuration: hidden 80, 8 heads of ``d_k = 16``, ``scaled_dot`` scores,
squareplus over the columns, Dopri5 with ``tol_scale`` 822, ``T = 18.29``), side
by side in one process, under the protocol of ``_common``:

* ``ours``: attention scores by one SDDMM over all heads
  (:func:`graphops.spmm.sddmm` on the block-diagonal pattern), ``A X`` by the CSR
  kernel;
* ``ours, gather scores``: the same model with ``term.attention.method =
  "gather"`` (the scores gather both end points' ``[E, heads, d_k]`` rows);
* ``authors' pattern``: :class:`AuthorsGRANDnl`, a re-implementation of the
  right-hand side of the authors' ``ODEFuncTransformerAtt`` with
  ``SpGraphTransAttentionLayer`` (REPRODUCTION.md §3.2, V1-code): ``Q``, ``K``
  **and** ``V`` linear maps on every evaluation (``V`` is computed and unused
  without ``mix_features``, as in the code), scores by gathering ``q[edge[0]]``
  and ``k[edge[1]]``, squareplus normalised with a scatter sum (``index_add_``,
  what ``torch_scatter``'s ``scatter(reduce="sum")`` does) plus ``1e-16``, the
  head average, and ``torch_sparse.spmm``'s pattern for ``A X``:
  ``x.index_select(0, col) * value`` then a scatter sum into the rows.

All three run inside the same ``solve()`` (our Dopri5 and PI controller), so the
comparison isolates the operator pattern; the solver comparison with torchdiffeq
and torchode is ``bench_adaptive.py``. Before timing, the three forward passes are
checked equal (evaluation mode, float32, ``< 1e-4`` relative; float64 to
``1e-12`` with gradients in ``tests/test_bench_grand.py``) with the same
evaluation counts. An epoch is: forward in training mode (dropout on, the same
seed for every side), NLL on the training nodes, backward, Adamax step with
**lr 0** (the released optimiser's arithmetic, but the parameters stay at their
initial values, so every round integrates the same ODE with the same steps).

**Part 2: ``torch.compile``.** The same ``ours`` model with ``model.term.compile()``
(inductor), against eager, interleaved: the epoch, and the right-hand side alone
(forward, and forward + backward). Compilation time (first call) is reported
separately. Our SpMM and SDDMM run eagerly inside the compiled right-hand side
(graph breaks: dynamo does not trace autograd Functions with a custom ``jvp``).

Run: ``python benchmarks/bench_grand.py [--quick] [--processes 3] [--no-compile]``
(writes ``benchmarks/results/grand[_quick].md``). The data root is
``$GRAPHPDE_DATA`` or the repository's sibling ``shared/data``; without Cora the
script says so and exits 0.
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

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
    run_processes,
    save,
    summarize_ratio,
    table,
)
from bench_training import load_cora  # noqa: E402

from graphops.attention import attention_edge_index  # noqa: E402
from models import grand  # noqa: E402
from models.grand import GRAND  # noqa: E402
from models.model import GraphPDEModel, GraphTerm  # noqa: E402

TARGET = 3.0
SIDES = ("ours", "ours, gather scores", "authors' pattern")


class AuthorsGRANDnl(GraphTerm):
    """The authors' GRAND-nl right-hand side (operator pattern), our parameters.

    Shares ``Q``, ``K``, ``alpha_train`` and ``beta_train`` with the GRAND term it
    is built from; adds the code's value map ``V`` (computed on every evaluation,
    unused without ``mix_features``). ``prepare`` returns the attention edge list
    (both directions plus self-loops, the code's ``add_remaining_self_loops``
    graph; entry order does not change the sums) and the detached source.
    """

    def __init__(self, term: GRAND) -> None:
        """Share the parameters of ``term`` (a GRAND-nl term)."""
        super().__init__()
        att = term.attention
        if att.normalization != "squareplus" or att.attention_type != "scaled_dot":
            raise ValueError(
                "AuthorsGRANDnl: re-implements the released Cora configuration "
                "(scaled_dot, squareplus); got "
                f"{att.attention_type!r}, {att.normalization!r}."
            )
        self.Q, self.K, self.heads = att.Q, att.K, att.heads
        self.V = nn.Linear(att.Q.in_features, att.Q.out_features)
        self.norm_idx = att.attention_norm_idx
        self.alpha_train, self.beta_train = term.alpha_train, term.beta_train
        self.add_source = term.add_source

    def prepare(self, t0, y0, graph):  # noqa: D102
        return attention_edge_index(graph), y0.detach()

    def forward(self, t, x: Tensor, args) -> Tensor:  # noqa: D102
        edge, x0 = args
        n, h = x.shape[0], self.heads
        q = self.Q(x).view(n, h, -1)
        k = self.K(x).view(n, h, -1)
        self.V(x)  # the code computes the values on every call
        d_k = q.shape[-1]
        prods = (q[edge[0]] * k[edge[1]]).sum(-1) / math.sqrt(d_k)
        # utils.squareplus: global max, algebraic rectifier, scatter-sum normalise
        z = prods - prods.max()
        z = (z + torch.sqrt(z * z + 4.0)) / 2.0
        index = edge[self.norm_idx]
        total = torch.zeros(n, h, dtype=z.dtype).index_add_(0, index, z) + 1e-16
        attention = (z / total.index_select(0, index)).mean(1)
        # torch_sparse.spmm(edge, value, n, n, x): gather, scale, scatter-sum
        msg = x.index_select(0, edge[1]) * attention.unsqueeze(-1)
        ax = torch.zeros_like(x).index_add_(0, edge[0], msg)
        f = torch.sigmoid(self.alpha_train) * (ax - x)
        if self.add_source:
            f = f + self.beta_train * x0
        return f


def build_models(num_features: int, num_classes: int, seed: int = 0, dtype=None):
    """``{side: model}`` with identical parameters (the authors' adds ``V``)."""
    torch.manual_seed(seed)
    ours = grand.from_config(num_features, num_classes, variant="nl")
    if dtype is not None:
        ours = ours.to(dtype)
    gather = copy.deepcopy(ours)
    gather.term.attention.method = "gather"
    authors = copy.deepcopy(ours)
    authors.term = AuthorsGRANDnl(authors.term).to(dtype or torch.get_default_dtype())
    return dict(zip(SIDES, (ours, gather, authors), strict=True))


def forward_eval(model: GraphPDEModel, x: Tensor, graph) -> tuple[Tensor, int]:
    """Evaluation-mode output and the number of right-hand-side evaluations."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x, graph)
    finally:
        model.train(was)
    return out, model.last_stats.num_rhs_evals


def epoch_fn(model: GraphPDEModel, data, seed: int = 0):
    """One training epoch (Adamax with lr 0: parameters unchanged)."""
    opt = torch.optim.Adamax(model.parameters(), lr=0.0, weight_decay=0.0)
    x, graph, y, mask = data.x, data.graph, data.y, data.train_mask

    def epoch() -> None:
        torch.manual_seed(seed)  # same dropout masks on every side
        model.train()
        opt.zero_grad(set_to_none=True)
        loss = F.nll_loss(F.log_softmax(model(x, graph), -1)[mask], y[mask])
        loss.backward()
        opt.step()

    return epoch


def rhs_fns(model: GraphPDEModel, x0: Tensor, graph):
    """The right-hand side alone at the encoded state: forward, forward + backward."""
    term = model.term
    args = term.prepare(0.0, x0, graph)
    y = x0.detach().requires_grad_()

    def fwd() -> None:
        with torch.no_grad():
            term(0.0, y, args)

    def fwd_bwd() -> None:
        term(0.0, y, args).square().sum().backward()

    return fwd, fwd_bwd


def piece_fns(models: dict, data) -> dict:
    """One evaluation's pieces, forward + backward, at the encoded state.

    ``Q, K maps`` (shared by every side); the attention weights from given
    queries and keys by SDDMM and by gathers; ``A X`` with given weights by our
    CSR kernel and by the ``torch_sparse.spmm`` pattern (gather, scale,
    ``index_add_``); and the whole right-hand side, ours and the authors'.
    """
    from graphops.attention import AttentionWeights, attention_weights

    ours, authors = models["ours"], models["authors' pattern"]
    att, graph = ours.term.attention, data.graph
    y = ours.encoder(data.x).detach().requires_grad_()
    q = att.Q(y).detach().requires_grad_()
    k = att.K(y).detach().requires_grad_()
    kw = dict(heads=att.heads, normalization=att.normalization)
    kw["norm_idx"] = att.attention_norm_idx
    w = attention_weights(q, k, graph, **kw)
    w_edge = w.edge_weight.detach().requires_grad_()
    w_self = w.self_weight.detach().requires_grad_()
    edge = attention_edge_index(graph)
    w_all = torch.cat([w_edge, w_self]).detach().requires_grad_()

    def maps() -> None:
        (att.Q(y).sum() + att.K(y).sum()).backward()

    def weights(method: str):
        def fn() -> None:
            a = attention_weights(q, k, graph, method=method, **kw)
            (a.edge_weight.sum() + a.self_weight.square().sum()).backward()

        return fn

    def ax_ours() -> None:
        (AttentionWeights(graph, w_edge, w_self) @ y).square().sum().backward()

    def ax_authors() -> None:
        msg = y.index_select(0, edge[1]) * w_all.unsqueeze(-1)
        torch.zeros_like(y).index_add_(0, edge[0], msg).square().sum().backward()

    fns = {"Q, K maps": maps}
    fns["weights: sddmm"], fns["weights: gather"] = weights("sddmm"), weights("gather")
    fns["A X: ours"], fns["A X: authors'"] = ax_ours, ax_authors
    fns["RHS: ours"] = rhs_fns(ours, y.detach(), graph)[1]
    fns["RHS: authors'"] = rhs_fns(authors, y.detach(), graph)[1]
    return fns


def worker(quick: bool, do_compile: bool) -> None:
    """One process: check the sides agree, time them interleaved, emit."""
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    data = load_cora()
    models = build_models(data.x.shape[1], data.num_classes)
    outs = {k: forward_eval(m, data.x, data.graph) for k, m in models.items()}
    ref, nfe = outs["ours"]
    scale = float(ref.abs().max())
    check = {k: (float((o - ref).abs().max()) / scale, n) for k, (o, n) in outs.items()}
    for k, (diff, n) in check.items():
        assert diff < 1e-4 and n == nfe, (
            f"bench_grand: {k!r} differs from ours by {diff:.1e} (relative) with "
            f"{n} vs {nfe} evaluations; the comparison would not be like for like."
        )
    repeat = 2 if quick else 5
    fns = {k: epoch_fn(m, data) for k, m in models.items()}
    samples = interleaved(fns, repeat, calibrate=False)
    result = {"check": check, "nfe": nfe, "epoch": samples, "repeat": repeat}
    result["pieces"] = interleaved(piece_fns(models, data), 5 * repeat)
    if do_compile:
        eager = models["ours"]
        compiled = copy.deepcopy(eager)
        compiled.term.compile()
        t0 = time.perf_counter()
        out_c, n_c = forward_eval(compiled, data.x, data.graph)
        compile_fwd = time.perf_counter() - t0
        fn_c = epoch_fn(compiled, data)
        t0 = time.perf_counter()
        fn_c()
        compile_epoch = time.perf_counter() - t0
        x0 = eager.encoder(data.x).detach()
        fe, fbe = rhs_fns(eager, x0, data.graph)
        fc, fbc = rhs_fns(compiled, x0, data.graph)
        for f in (fc, fbc):
            f()  # compile outside the timing
        result["compile"] = {
            "first_forward_s": compile_fwd,
            "first_epoch_s": compile_epoch,
            "diff": float((out_c - ref).abs().max()) / scale,
            "nfe": n_c,
            "epoch": interleaved(
                {"eager": fns["ours"], "compiled": fn_c}, repeat, calibrate=False
            ),
            "rhs": interleaved({"eager": fe, "compiled": fc}, 5 * repeat),
            "rhs_bwd": interleaved({"eager": fbe, "compiled": fbc}, 5 * repeat),
        }
    emit(result)


def _flags(runs, tag: str) -> list[str]:
    return [f"{tag}: {f}" for f in mode_jumps(runs)]


def main(argv: list[str] | None = None) -> str:
    """Run the protocol, print and save the markdown tables, return them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds per process")
    ap.add_argument("--no-compile", action="store_true", help="skip part 2")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    add_protocol_args(ap)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.worker:
        worker(a.quick, not a.no_compile)
        return ""
    if load_cora() is None:
        return ""
    argv_w = [f"--threads={a.threads}"] + ["--quick"] * a.quick
    argv_w += ["--no-compile"] * a.no_compile
    before = load()
    t_start = time.perf_counter()
    procs = run_processes(__file__, argv_w, a.processes)
    wall = time.perf_counter() - t_start
    after = load()
    runs = [p["epoch"] for p in procs]
    med = {k: statistics.median(process_medians(runs, k)) for k in SIDES}
    first = procs[0]
    rows = [
        [
            k,
            fmt_time(med[k]),
            "1.00x" if k == "ours" else f"**{summarize_ratio(runs, k, 'ours')}**",
            f"{first['check'][k][0]:.1e}",
            first["check"][k][1],
        ]
        for k in SIDES
    ]
    flags = _flags(runs, "epoch")
    pieces = [p["pieces"] for p in procs]
    pmed = {k: statistics.median(process_medians(pieces, k)) for k in pieces[0]}
    prow = []
    for slow, fast in (
        ("weights: gather", "weights: sddmm"),
        ("A X: authors'", "A X: ours"),
        ("RHS: authors'", "RHS: ours"),
    ):
        prow.append(
            [
                f"{fast.split(':')[0]}: {fast.split(': ')[1]} vs {slow.split(': ')[1]}",
                fmt_time(pmed[fast]),
                fmt_time(pmed[slow]),
                f"**{summarize_ratio(pieces, slow, fast)}**",
            ]
        )
    prow.append(["Q, K maps (shared)", fmt_time(pmed["Q, K maps"]), "", ""])
    flags += _flags(pieces, "pieces")
    text = (
        "### GRAND-nl training epoch on Cora: ours vs the authors' operator "
        "pattern\n\n"
        f"Machine: {machine()}; {a.threads} thread(s); load average before / "
        f"after: {before} / {after}; wall {wall:.0f} s.\n\n"
        + table(
            [
                "implementation",
                "epoch",
                f"slower than ours by (target >= {TARGET:g}x for the authors')",
                "max rel. diff of eval forward",
                "RHS evals (forward)",
            ],
            rows,
        )
        + "\n\nOne evaluation of the right-hand side, forward + backward, by piece "
        "(at the encoded state of the untrained model; attention weights from "
        "given queries and keys; `A X` with given weights, gradients of the "
        "weights and the state):\n\n"
        + table(["piece", "ours", "other", "other / ours"], prow)
        + f"\n\n{protocol_text(a.processes, first['repeat'])} The pieces: "
        f"{5 * first['repeat']} rounds.\n"
    )
    if "compile" in first:
        comp = [p["compile"] for p in procs]
        crow = []
        for key, label in (
            ("epoch", "training epoch"),
            ("rhs", "RHS forward (no_grad)"),
            ("rhs_bwd", "RHS forward + backward"),
        ):
            r = [c[key] for c in comp]
            m = {k: statistics.median(process_medians(r, k)) for k in r[0]}
            crow.append(
                [
                    label,
                    fmt_time(m["eager"]),
                    fmt_time(m["compiled"]),
                    f"**{summarize_ratio(r, 'eager', 'compiled')}**",
                ]
            )
            flags += _flags(r, f"compile {label}")
        first_fwd = statistics.median(c["first_forward_s"] for c in comp)
        first_ep = statistics.median(c["first_epoch_s"] for c in comp)
        text += (
            "\n#### `model.term.compile()` (inductor) vs eager, the same model\n\n"
            + table(["what", "eager", "compiled", "speed-up"], crow)
            + f"\n\nFirst compiled forward pass (compiles): {first_fwd:.1f} s; "
            f"first compiled training epoch (compiles the backward): "
            f"{first_ep:.1f} s (medians over processes). Max relative difference "
            f"compiled vs eager: {max(c['diff'] for c in comp):.1e}; evaluations "
            f"{comp[0]['nfe']} vs {first['nfe']}.\n"
        )
    text += (
        f"\nMode jumps (absolute times moved by more than {JUMP}x):\n"
        + "\n".join(f"- {f}" for f in flags)
        + "\n"
        if flags
        else f"\nNo mode jumps (no absolute time moved by more than {JUMP}x).\n"
    )
    print(text)
    save("grand_quick" if a.quick else "grand", text)
    return text


if __name__ == "__main__":
    main()
