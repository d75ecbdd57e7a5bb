"""One rank of the distributed tests (tests/graphops/test_distributed.py).

Not collected by pytest (leading underscore). :func:`launch` starts ``world``
processes of this file on one host (gloo, ``file://`` rendezvous, a timeout on the
process group); each builds its partition plan, runs every case on its block and
saves the results, which the tests compare with single-process references.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import torch  # noqa: E402

from graphops import Adjacency, Laplacian  # noqa: E402
from graphops.distributed import DistributedOperator, halo_exchange  # noqa: E402
from graphops.linalg import CG  # noqa: E402
from graphops.partition import halo_plan, partition  # noqa: E402
from graphops.spectral import lam_max  # noqa: E402

FAMILIES = {"Laplacian": Laplacian, "Adjacency": Adjacency}
NORMS = (None, "sym", "rw", "gcn")
RK4_T1, RK4_DT = 1.0, 0.1
SAVEAT = torch.linspace(0.0, 1.0, 6, dtype=torch.float64)
IE_T1, IE_DT = 1.0, 0.25


def build_graph(name: str):
    """The test graph, the same in every process."""
    if name == "random":
        from conftest import make_random_graph

        return make_random_graph(60, 0.1, seed=1)
    from graphops import datasets

    return datasets.load("cora", os.environ["GRAPHPDE_DATA"]).graph.to(torch.float64)


def inputs(graph, f: int = 3):
    """Seeded global signal, cotangent and learned weights ([M] and [2M])."""
    g = torch.Generator().manual_seed(7)
    n, m = graph.num_nodes, graph.num_edges
    x = torch.randn(n, f, generator=g, dtype=torch.float64)
    c = torch.randn(n, f, generator=g, dtype=torch.float64)
    w = torch.rand(m, generator=g, dtype=torch.float64) + 0.1
    w2 = torch.rand(2 * m, generator=g, dtype=torch.float64) + 0.1
    return x, c, w, w2


def gcn_model():
    """A 2-layer GCN as an Euler solve (seeded): the same in every process."""
    from torch import nn

    from models import GCNTerm, GraphPDEModel
    from solvers import Euler

    torch.manual_seed(3)
    return GraphPDEModel(nn.Linear(5, 4), GCNTerm(4, num_layers=2), nn.Linear(4, 3),
                         solver=Euler(), t1=2.0, dt0=1.0).to(torch.float64)


def train_data(n: int):
    """Seeded features ``[N, 5]``, labels in 3 classes, a training mask."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    mask = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
    return x, y, mask


def train_step(model, x, y, mask, graph, n_train: int, reduce=None) -> tuple:
    """One full-graph SGD step: loss, then the parameters after the update.

    ``reduce`` (distributed) sums the per-rank loss and gradients, as
    DistributedDataParallel does with replicated parameters.
    """
    logits = model(x, graph)
    loss = torch.nn.functional.cross_entropy(
        logits[mask], y[mask], reduction="sum"
    ) / n_train
    model.zero_grad()
    loss.backward()
    loss = loss.detach()
    params = [p for p in model.parameters() if p.requires_grad]
    if reduce is not None:
        loss = reduce(loss)
        for p in params:
            p.grad = reduce(p.grad)
    with torch.no_grad():
        for p in params:
            p -= 0.1 * p.grad
    return loss, [p.detach().clone() for p in params]


def run_cases(graph, parts: int, rank: int, method: str, full: bool) -> dict:
    """Every case on this rank's block; ``full=False`` runs the Cora subset."""
    from solvers import (
        RK4,
        Dopri5,
        Euler,
        ImplicitEuler,
        LinearTerm,
        ODETerm,
        PIController,
        solve,
    )

    part = partition(graph, parts, method=method)
    plan = halo_plan(graph, part, rank)
    own = plan.owned
    x, c, w, w2 = inputs(graph)
    out = {"owned": own, "edge_ids": plan.edge_ids}
    xo = x[own]
    # the raw halo exchange and its backward
    xl = xo.clone().requires_grad_()
    gh = halo_exchange(xl, plan)
    (gh * c[plan.ghosts]).sum().backward()
    out["halo"], out["halo_grad"] = gh.detach(), xl.grad
    fams = FAMILIES if full else {"Laplacian": Laplacian}
    norms = NORMS if full else ("sym", "gcn")
    for fname, fam in fams.items():
        for norm in norms:
            key = f"{fname}/{norm}"
            op = DistributedOperator(plan, fam, normalization=norm)
            out[f"matmul/{key}"] = op @ xo
            if full:
                out[f"T/{key}"] = op.T @ xo
            for wname, wg in (("M", w), ("2M", w2)) if full else (("M", w),):
                wl = wg.clone().requires_grad_()
                xl = xo.clone().requires_grad_()
                wloc = plan.local_edge_weight(wl)
                op = DistributedOperator(
                    plan, fam, edge_weight=wloc, normalization=norm
                )
                y = op @ xl
                (y * c[own]).sum().backward()
                out[f"w{wname}/{key}"] = (y.detach(), xl.grad, wl.grad)
    op = DistributedOperator(plan, Laplacian, normalization="sym")
    sol = solve(LinearTerm(op), RK4(), y0=xo, t1=RK4_T1, dt0=RK4_DT, saveat=SAVEAT)
    out["rk4"] = sol.ys
    # gradient through the solve w.r.t. learned weights
    wl = w.clone().requires_grad_()
    opw = DistributedOperator(
        plan, Laplacian, normalization="sym", edge_weight=plan.local_edge_weight(wl)
    )
    sol = solve(LinearTerm(opw), RK4(), y0=xo, t1=RK4_T1, dt0=RK4_DT)
    (sol.ys[-1] * c[own]).sum().backward()
    out["rk4_grad"] = wl.grad
    if not full:
        return out
    opn = DistributedOperator(plan, Laplacian)
    sol = solve(ODETerm(lambda t, y, a: -(opn @ y)), Euler(), y0=xo, t1=0.2, dt0=0.02)
    out["euler_ode"] = sol.ys
    sol = solve(LinearTerm(opn), ImplicitEuler(CG(rtol=1e-13)), y0=xo, t1=IE_T1,
                dt0=IE_DT)
    out["implicit_euler"] = sol.ys
    ctrl = PIController(rtol=1e-6, atol=1e-9, reduce=opn.allreduce)
    sol = solve(LinearTerm(opn), Dopri5(), y0=xo, t1=1.0, controller=ctrl)
    out["dopri5"] = (sol.ys, sol.stats.num_accepted, sol.stats.num_rejected)
    res = CG(rtol=1e-13).solve(opn, c[own], shift=1.0, scale=0.5)
    out["cg"] = (res.x, res.num_iters, bool(res.success))
    # CG backward: the adjoint solve is distributed too
    b = c[own].clone().requires_grad_()
    res = CG(rtol=1e-13).solve(opn, b, shift=1.0, scale=0.5)
    (res.x * xo).sum().backward()
    out["cg_grad"] = b.grad
    # learned weights through CG and ImplicitEuler (gradient via the adjoint solve)
    wl = w.clone().requires_grad_()
    opw = DistributedOperator(plan, Laplacian, edge_weight=plan.local_edge_weight(wl))
    res = CG(rtol=1e-13).solve(opw, c[own], shift=1.0, scale=0.5)
    sol = solve(LinearTerm(opw), ImplicitEuler(CG(rtol=1e-13)), y0=xo, t1=0.5,
                dt0=0.25)
    ((res.x * xo).sum() + (sol.ys[-1] * c[own]).sum()).backward()
    out["implicit_grad"] = wl.grad
    # one training step of a GCN model on the partitioned graph: the model code is
    # unchanged; it takes the rank's DistributedGraph, whose prepare hands the term
    # the distributed adjacency, and the loss and gradients are summed over the ranks
    import torch.distributed as dist

    from models import DistributedGraph

    def summed(t):
        t = t.clone()
        dist.all_reduce(t)
        return t

    model = gcn_model()
    xs, ys, mask = train_data(graph.num_nodes)
    out["train"] = train_step(model, xs[own], ys[own], mask[own],
                              DistributedGraph(plan), int(mask.sum()), summed)
    for every in (1, 3):
        mr = opn.multirate(every)
        sol = solve(LinearTerm(mr), RK4(), y0=xo, t1=0.5, dt0=0.05)
        out[f"multirate/{every}"] = (sol.ys[-1], mr.count)
    for meth in ("gershgorin", "power", "lanczos"):
        out[f"lam_max/{meth}"] = lam_max(opn, method=meth)
    # a rw (non-symmetric) operator through power iteration
    out["lam_max/rw_power"] = lam_max(
        DistributedOperator(plan, Laplacian, normalization="rw"), method="power"
    )
    return out


def edge_cases(graph, parts: int, rank: int, method: str) -> dict:
    """The edge-space operators on this rank's block (``--case edge``).

    ``y = Div_w(softplus(Grad(x) K))``: a non-odd nonlinearity between the two,
    so the edge orientation must be the global one; ``w`` a learned global ``[M]``
    tensor.
    """
    from graphops.distributed import DistributedDivergence, DistributedGradient

    part = partition(graph, parts, method=method)
    plan = halo_plan(graph, part, rank)
    own = plan.owned
    x, c, w, _ = inputs(graph)
    kmat = edge_k(x.shape[1])
    out = {"owned": own, "edge_ids": plan.edge_ids}
    xl = x[own].clone().requires_grad_()
    wl = w.clone().requires_grad_()
    grad = DistributedGradient(plan)
    div = DistributedDivergence(plan, plan.local_edge_weight(wl))
    g = grad @ xl
    y = div @ torch.nn.functional.softplus(g @ kmat)
    (y * c[own]).sum().backward()
    out["edge/grad"] = g.detach()
    out["edge/div_softplus"] = (y.detach(), xl.grad, wl.grad)
    # the linear Div_w(K Grad x), K a learned per-edge weight, and the adjoints
    xl = x[own].clone().requires_grad_()
    wl = w.clone().requires_grad_()
    kl = (w.flip(0) + 0.5).clone().requires_grad_()
    div = DistributedDivergence(plan, plan.local_edge_weight(wl))
    y = div @ (plan.local_edge_weight(kl).unsqueeze(1) * (grad @ xl))
    (y * c[own]).sum().backward()
    out["edge/div_k"] = (y.detach(), xl.grad, wl.grad, kl.grad)
    out["edge/adjoint"] = grad.adjoint() @ (grad @ x[own])
    out["edge/div_adjoint"] = div.adjoint() @ x[own]
    # a global edge sum counts every edge once
    mask = grad.owned_edges
    out["edge/count"] = int(mask.sum())
    out["edge/sum"] = (g[mask] ** 2).sum()
    # PDE-GCN models on the partitioned graph: output rows and summed gradients
    import torch.distributed as dist

    from models import DistributedGraph

    xs, _, _ = train_data(graph.num_nodes)
    cot = torch.randn(graph.num_nodes, 3, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(13))
    for key, kw in PDE_GCN_CASES.items():
        model = pde_gcn_model(**kw)
        y = model(xs[own], DistributedGraph(plan))
        (y * cot[own]).sum().backward()
        grads = []
        for p in model.parameters():
            gp = p.grad.clone()
            dist.all_reduce(gp)
            grads.append(gp)
        out[f"pde/{key}"] = (y.detach(), grads)
    return out


#: PDE-GCN configurations of the edge cases (variant, operator, activation).
PDE_GCN_CASES = {
    "D-code-relu": dict(variant="D", operator="code", activation="relu"),
    "D-paper-tanh": dict(variant="D", operator="paper", activation="tanh"),
    "H-paper-relu": dict(variant="H", operator="paper", activation="relu"),
    "M-code-tanh": dict(variant="M", operator="code", activation="tanh"),
}


def pde_gcn_model(**kw):
    """A seeded 3-layer PDE-GCN (dropout 0, float64): the same in every process."""
    from models import pde_gcn

    torch.manual_seed(17)
    return pde_gcn.from_config(5, 3, hidden=4, layers=3, h=0.5, dropout=0.0,
                               **kw).to(torch.float64)


def edge_k(f: int):
    """The seeded ``[F, F]`` matrix of the edge cases."""
    g = torch.Generator().manual_seed(5)
    return torch.randn(f, f, generator=g, dtype=torch.float64)


#: Attention families and PairNorm (``--case attn``): name -> builder keywords.
ATTN_CASES = {
    "grand-l": dict(family="grand", variant="l"),
    "grand-l-softmax-rows": dict(family="grand", variant="l", normalization="softmax",
                                 attention_norm_idx=0, qk_init=None),
    "grand-l-kernel": dict(family="grand", variant="l", attention_type="exp_kernel",
                           normalization="softmax", qk_init=None),
    "grand-nl": dict(family="grand", variant="nl", qk_init=None),
    "grand-nl-softmax": dict(family="grand", variant="nl", normalization="softmax",
                             qk_init=None),
    "grand-l-dopri5": dict(family="grand", variant="l", qk_init=None, adaptive=True),
    "graphcon-gat": dict(family="graphcon"),
    "pairnorm-PN": dict(family="pairnorm", mode="PN"),
    "pairnorm-PN-SI": dict(family="pairnorm", mode="PN-SI"),
    "pairnorm-PN-SCS": dict(family="pairnorm", mode="PN-SCS"),
}


def attn_model(family: str, adaptive: bool = False, **kw):
    """A seeded small model of an attention family or PairNorm (float64, dropout 0)."""
    from models import gcn, grand, graphcon
    from solvers import RK4

    # initialised in float64 whatever the process's default (the tests' conftest
    # sets it; a worker on Cora never imports it)
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(19)
    if family == "grand":
        steps = {} if adaptive else dict(solver=RK4(), dt0=0.25)
        m = grand.from_config(5, 3, hidden=4, heads=2, attention_dim=4,
                              input_dropout=0.0, dropout=0.0, t1=1.0,
                              tol_scale=1e3, **steps, **kw)
    elif family == "graphcon":
        m = graphcon.from_config(5, 3, coupling="attention", hidden=4, heads=2,
                                 layers=3, dropout=0.0, step_dropout=False)
    else:
        m = gcn.pairnorm_from_config(5, 3, hidden=4, layers=3, dropout=0.0, **kw)
    return m.to(torch.float64)


#: The subset run on Cora (one launch, two ranks).
ATTN_CORA = ("grand-l", "grand-nl", "graphcon-gat", "pairnorm-PN")


def attention_cases(graph, parts: int, rank: int, method: str, keys=None) -> dict:
    """Attention families and PairNorm on this rank's block (``--case attn``).

    Per model: the owned output rows, the parameter gradients of a seeded
    cotangent summed over the ranks, and one SGD step (loss and parameters).
    """
    import torch.distributed as dist

    from models import DistributedGraph

    def summed(t):
        t = t.clone()
        dist.all_reduce(t)
        return t

    plan = halo_plan(graph, partition(graph, parts, method=method), rank)
    own = plan.owned
    xs, ys, mask = train_data(graph.num_nodes)
    cot = torch.randn(graph.num_nodes, 3, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(13))
    out = {"owned": own}
    for key in ATTN_CASES if keys is None else keys:
        model = attn_model(**ATTN_CASES[key])
        y = model(xs[own], DistributedGraph(plan))
        (y * cot[own]).sum().backward()
        grads = [summed(p.grad) for p in model.parameters()]
        nfe = model.last_stats.num_rhs_evals
        step = train_step(model, xs[own], ys[own], mask[own], DistributedGraph(plan),
                          int(mask.sum()), summed)
        out[f"attn/{key}"] = (y.detach(), grads, nfe, step)
    return out


def main() -> None:
    """Entry point of one rank."""
    rank_main(_cases)


def _cases(a: argparse.Namespace) -> dict:
    """Every case of ``--case`` on this rank (see :func:`main`)."""
    graph = build_graph(a.graph)
    if a.case == "fail":
        plan = halo_plan(graph, partition(graph, a.world, method=a.method), a.rank)
        op = DistributedOperator(plan, Laplacian, normalization="sym")
        x = torch.ones(plan.num_owned, 2, dtype=torch.float64)
        x = op @ x  # one exchange that works
        if a.rank == 1:
            raise RuntimeError("injected failure on rank 1")
        for _ in range(3):  # the other ranks wait for rank 1's rows
            x = op @ x
        return {}
    if a.case == "edge":
        return edge_cases(graph, a.world, a.rank, a.method)
    if a.case == "attn":
        keys = ATTN_CORA if a.graph == "cora" else None
        return attention_cases(graph, a.world, a.rank, a.method, keys)
    return run_cases(graph, a.world, a.rank, a.method, a.case == "all")


def rank_main(body: Callable[[argparse.Namespace], dict]) -> None:
    """One rank of :func:`launch`: parse its command line, join the group, run.

    Saves ``body(args)`` as ``rank{r}.pt`` in ``--out``; on any error prints the
    traceback and exits 1 at once (no clean-up that could wait on failed peers).
    Also the entry point of other worker files (``launch(..., script=...)``).
    """
    import torch.distributed as dist

    ap = argparse.ArgumentParser()
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world", type=int, required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--graph", default="random")
    ap.add_argument("--case", default="all")
    ap.add_argument("--method", default="spectral")
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=a.init,
        rank=a.rank,
        world_size=a.world,
        timeout=datetime.timedelta(seconds=a.timeout),
    )
    try:
        result = body(a)
        torch.save(result, Path(a.out) / f"rank{a.rank}.pt")
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)  # no clean-up that could wait on the failed peers
    dist.destroy_process_group()


@contextlib.contextmanager
def one_rank_group(tmp: Path):
    """A one-rank gloo group in this process (``file://`` rendezvous in ``tmp``)."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp / 'rdv'}", rank=0, world_size=1,
        timeout=datetime.timedelta(seconds=30),
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


def launch(
    world: int,
    tmp: Path,
    *,
    graph: str = "random",
    case: str = "all",
    method: str = "spectral",
    timeout: float = 60.0,
    deadline: float = 300.0,
    script: str | None = None,
) -> list[dict]:
    """Run ``world`` ranks of this file; their results, or a RuntimeError.

    ``script`` runs another worker file with the same command line (it saves
    ``rank{r}.pt`` into ``--out`` as :func:`main` does).

    Raises:
        RuntimeError: a rank exited non-zero (its stderr tail is in the message),
            or the ranks did not all finish within ``deadline`` seconds (they are
            killed, so nothing is left hanging).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    init = f"file://{tmp / 'rendezvous'}"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    procs, logs = [], []
    for r in range(world):
        log = open(tmp / f"rank{r}.err", "w+")  # noqa: SIM115 - closed below
        cmd = [sys.executable, script or __file__, "--rank", str(r), "--world",
               str(world), "--init", init, "--out", str(tmp), "--graph", graph,
               "--case", case, "--method", method, "--timeout", str(timeout)]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, env=env))
        logs.append(log)
    start = time.monotonic()
    hung = False
    for p in procs:
        left = deadline - (time.monotonic() - start)
        try:
            p.wait(timeout=max(left, 0.1))
        except subprocess.TimeoutExpired:
            hung = True
            break
    if hung:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    failed = []
    for r, (p, log) in enumerate(zip(procs, logs, strict=True)):
        log.seek(0)
        text = log.read()
        log.close()
        if p.returncode != 0:
            failed.append(f"rank {r} failed (exit {p.returncode}):\n{text[-1500:]}")
    if hung:
        raise RuntimeError(f"ranks did not finish within {deadline:.0f} s (killed)")
    if failed:
        raise RuntimeError("\n".join(failed))
    return [torch.load(tmp / f"rank{r}.pt", weights_only=False) for r in range(world)]


if __name__ == "__main__":
    main()
