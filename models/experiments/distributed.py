r"""Full-graph training on a partitioned graph (``graphpde train --distributed``).

Launched by ``torchrun --nproc-per-node K``, every process (rank) runs the same
program on its part of the graph:

* the process group is created from torchrun's environment (``RANK``,
  ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo on CPU, NCCL when
  ``--device cuda`` (each rank on GPU ``LOCAL_RANK``), with a timeout, so that a
  failed rank makes the others raise instead of hanging;
* every rank loads the same dataset and partitions the same graph
  (:func:`graphops.partition.partition`, seed 0; rank 0's assignment is broadcast
  and checked against each rank's own), then keeps the owned rows of the
  features, labels and masks;
* parameters are **replicated**: every rank builds the model with the run's seed
  and the copies are checked equal to rank 0's before training;
* the loss is the sum over ranks of the local masked cross-entropy sums divided
  by the global number of training nodes, so after the backward pass the
  gradients summed over the ranks (``all_reduce``, as DistributedDataParallel
  does) are exactly those of the single-process loss;
* metrics (accuracies, validation loss, Dirichlet energies) are reduced over the
  ranks, so every rank sees the same numbers and makes the same model selection
  and early-stopping decisions;
* only rank 0 writes the run folder (the writers of
  :mod:`models.experiments.runfolder`, atomic renames);
* an adaptive solve (GRAND's Dopri5) measures its error over every rank
  (:meth:`models.distributed.DistributedGraph.controller`), so all ranks take the
  same steps and the ``nfe`` column is the single-process one.

Without dropout a run equals the single-process run to rounding (float64: 1e-10).
With dropout it does not: each rank draws the masks of its own rows from its own
generator, so the masks differ from those of a single process.

**Resume** (``--resume``): every rank's random-number state is gathered into
rank 0's checkpoint (``rng_ranks``, with the world size); on resume rank 0 reads
the checkpoint and broadcasts it (the other ranks need not see the run folder),
and every rank restores the replicated model, optimiser, scheduler and loop
state and its own random-number state, so an interrupted run continues exactly as
the uninterrupted one. A run is resumed with the same number of ranks.

Limitations: only the families of :data:`models.distributed.SUPPORTED` are
accepted; no ``energy.png`` is drawn.
"""

from __future__ import annotations

import copy
import datetime
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from graphops.datasets import GraphDataset
from graphops.distributed import DistributedOperator
from graphops.operators import Laplacian
from graphops.partition import Partition, RankPlan, halo_plan, partition
from models.distributed import DistributedGraph, check_distributable
from models.experiments.config import RunConfig
from models.experiments.data import load_dataset, protocol_of, run_jobs
from models.experiments.registry import MODELS, make_optimizer
from models.experiments.runfolder import (
    get_rng_state,
    load_checkpoint,
    read_json,
    save_torch,
    set_rng_state,
    write_json,
)
from models.experiments.train import (
    RunResult,
    _close_epoch,
    _scheduler,
    _seed_everything,
    build_model,
    check_same_config,
    check_step,
    format_summary,
    summarise,
)

__all__ = [
    "TORCHRUN_ENV",
    "init_from_env",
    "partition_dataset",
    "run_distributed",
    "train_one_distributed",
]

#: The environment variables torchrun sets and the process group reads.
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _dist():
    import torch.distributed as dist

    return dist


def init_from_env(device: str = "cpu", timeout_s: float = 600.0) -> tuple[int, int]:
    """Create the default process group from torchrun's environment.

    Args:
        device: ``"cpu"`` (gloo) or a CUDA device (NCCL; the rank's GPU is
            ``LOCAL_RANK``).
        timeout_s: Seconds a collective waits before raising (a failed peer).

    Returns:
        ``(rank, world_size)``.

    Raises:
        RuntimeError: the process was not launched by torchrun (its environment
            variables are missing).
    """
    missing = [k for k in TORCHRUN_ENV if k not in os.environ]
    if missing:
        raise RuntimeError(
            "graphpde train --distributed: the process must be launched by torchrun, "
            f"which sets {', '.join(TORCHRUN_ENV)}; got none of {missing} set. Run "
            "`torchrun --nproc-per-node K -m models train --distributed ...` (or "
            "`python -m torch.distributed.run --nproc-per-node K -m models train "
            "--distributed ...`)."
        )
    dist = _dist()
    backend = "gloo"
    if str(device).startswith("cuda"):
        backend = "nccl"
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        dist.init_process_group(
            backend, timeout=datetime.timedelta(seconds=float(timeout_s))
        )
    return dist.get_rank(), dist.get_world_size()


def _sum(t: Tensor) -> Tensor:
    """``t`` summed over the ranks (a new tensor; not differentiable)."""
    t = t.detach().clone()
    _dist().all_reduce(t)
    return t


def _agree(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank (every rank gets the same answer)."""
    return bool(_sum(torch.tensor([int(flag)], dtype=torch.int64)).item() > 0)


def partition_dataset(
    ds: GraphDataset, device: str = "cpu"
) -> tuple[Partition, RankPlan]:
    """This rank's partition and plan of ``ds.graph`` (the same on every rank).

    Every rank partitions the graph itself (seed 0) and checks its assignment
    against rank 0's, which is broadcast.

    Raises:
        RuntimeError: the ranks computed different partitions.
    """
    dist = _dist()
    rank, world = dist.get_rank(), dist.get_world_size()
    part = partition(ds.graph, world, seed=0)
    ref = part.assignment.clone()
    dist.broadcast(ref, 0)
    if _agree(not torch.equal(ref, part.assignment)):
        raise RuntimeError(
            "partition_dataset: every rank must compute the same partition; got "
            "different assignments on different ranks. Install the same pymetis "
            "on every host (or none)."
        )
    return part, halo_plan(ds.graph, part, rank).to(device)


def _from_rank0(read: Any) -> Any:
    """``read()`` evaluated on rank 0 and broadcast to every rank (one object)."""
    dist = _dist()
    box = [read() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, 0)
    return box[0]


def _resume_state(ckpt: Path) -> dict[str, Any] | None:
    """Rank 0's checkpoint, broadcast (``None``: there is none), checked.

    Raises:
        ValueError: it was written by a run with another number of ranks.
    """
    state = _from_rank0(lambda: load_checkpoint(ckpt) if ckpt.exists() else None)
    if state is None:
        return None
    world = _dist().get_world_size()
    if state.get("world_size") != world:
        raise ValueError(
            f"train_one_distributed: a run must be resumed with the number of ranks "
            f"that wrote its checkpoint ({ckpt}): {state.get('world_size')}; got "
            f"{world}. Launch torchrun with --nproc-per-node "
            f"{state.get('world_size')}."
        )
    return state


def _check_replicated(model: torch.nn.Module) -> None:
    """Raise unless every rank's parameters equal rank 0's."""
    dist = _dist()
    differs = False
    for p in model.state_dict().values():
        if not isinstance(p, Tensor):
            continue
        ref = p.detach().clone()
        dist.broadcast(ref, 0)
        differs |= not torch.equal(ref, p)
    if _agree(differs):
        raise RuntimeError(
            "train_one_distributed: the parameters must be replicated (equal on "
            "every rank after seeding); got different initial parameters on some "
            "rank. Build the model deterministically from the run's seed."
        )


def _allreduce_grads(params: list[torch.nn.Parameter]) -> None:
    """Sum the gradients over the ranks; a parameter without any keeps ``None``."""
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.int64)
    has = _sum(has)
    for p, h in zip(params, has.tolist(), strict=True):
        if h == 0:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        _dist().all_reduce(p.grad)


def _energies(model, x: Tensor, dgraph: DistributedGraph) -> tuple[float, float]:
    """Dirichlet energy ``tr(H^T L H)`` at ``t0`` and ``t1``, summed over ranks."""
    lap = DistributedOperator(dgraph.plan, Laplacian, group=dgraph.group)
    n = dgraph.num_nodes

    def energy(t: float, h: Tensor, g: Any) -> Tensor:
        h = h if h.shape[0] == n else h.reshape(n, -1)  # NSD's stalks, as train_one
        return _sum((h * (lap @ h)).sum())

    with torch.no_grad():
        sol = model.trajectory(x, dgraph, fn=energy)
    ys = sol.ys.reshape(-1)
    return float(ys[0]), float(ys[-1])


def train_one_distributed(
    cfg: RunConfig,
    ds: GraphDataset,
    plan: RankPlan,
    *,
    split: int,
    seed: int,
    run_dir: Path,
    resume: bool = False,
    progress: bool = False,
    desc: str = "",
) -> RunResult:
    """Train one run on this rank's block; rank 0 writes ``run_dir``.

    Collective: every rank calls it with the same arguments (its own ``plan``).
    The loop is that of :func:`models.experiments.train.train_one` with the loss,
    gradients and metrics reduced over the ranks (module docstring).

    Args:
        cfg: The run configuration.
        ds: The (preprocessed) dataset, the whole of it.
        plan: This rank's plan of ``ds.graph`` (:func:`partition_dataset`).
        split: Split index of ``ds``.
        seed: Seed of the initialisation (and of this rank's dropout).
        run_dir: The run's folder (written by rank 0 only).
        resume: Continue from rank 0's ``run_dir/checkpoint.pt`` if it exists
            (module docstring).
        progress: A tqdm bar over epochs (rank 0).
        desc: The bar's label.

    Returns:
        The :class:`~models.experiments.train.RunResult` (the same on every rank).

    Raises:
        ValueError: the model family cannot run on a partitioned graph, or the
            checkpoint to resume was written with another number of ranks.
    """
    from tqdm.auto import tqdm

    dist = _dist()
    rank = dist.get_rank()
    start_time = time.perf_counter()
    run_dir = Path(run_dir)
    dev = cfg.device
    own = plan.owned.to(dev)
    masks = [m.to(dev) for m in ds.split(split)]
    counts = [int(m.sum()) for m in masks]  # global counts: train, val, test
    tr, va, te = (m[own] for m in masks)
    x, y = ds.x.to(dev)[own], ds.y.to(dev)[own]
    dgraph = DistributedGraph(plan)
    _seed_everything(seed)
    model = build_model(cfg, ds)
    check_distributable(model, "graphpde train --distributed")
    check_step(cfg, model, ds)
    _check_replicated(model)
    # every rank draws its own dropout masks
    torch.manual_seed(seed + 1000003 * rank)
    spec = MODELS[cfg.model]
    opt = make_optimizer(
        spec,
        model,
        optimizer=cfg.optimizer,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        param_groups=cfg.param_groups,
    )
    sched = _scheduler(cfg, opt)
    params = list(model.parameters())
    loop: dict[str, Any] = {
        "epoch": 0, "history": [], "best": None, "best_epoch": -1, "bad": 0,
        "stopped": "epochs",
    }
    best_state = copy.deepcopy(model.state_dict())
    ckpt = run_dir / "checkpoint.pt"
    state = _resume_state(ckpt) if resume else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        loop = state["loop"]
        best_state = state["best_model"]
        set_rng_state(state["rng_ranks"][rank])
    bar = tqdm(
        total=cfg.epochs, initial=loop["epoch"], desc=desc or "epochs", leave=False,
        file=sys.stderr, disable=not progress or rank != 0,
    )
    epoch = loop["epoch"]
    n_train = max(counts[0], 1)
    while epoch < cfg.epochs and loop["stopped"] == "epochs":
        model.train()
        opt.zero_grad(set_to_none=True)
        try:
            out = model(x, dgraph)
            nfe = int(getattr(model.last_stats, "num_rhs_evals", 0) or 0)
            local = F.cross_entropy(out[tr], y[tr], reduction="sum") / n_train
            local.backward()
            loss = float(_sum(local))
            if not math.isfinite(loss):
                loop["stopped"] = (
                    f"diverged at epoch {epoch}: training loss is {loss} (the state "
                    "exploded: lower lr or dt; `graphpde stability` checks the step)"
                )
                break
            _allreduce_grads(params)
            opt.step()
            if sched is not None:
                sched.step()
            model.eval()
            with torch.no_grad():
                ev = model(x, dgraph)
        except Exception as exc:
            exc.add_note(
                f"graphpde train --distributed (rank {rank}): while training "
                f"{cfg.model} on {ds.name}, split {split}, seed {seed}, epoch {epoch}."
            )
            raise
        hit = ev.argmax(1) == y
        stats = torch.stack([
            hit[tr].sum().to(ev.dtype),
            hit[va].sum().to(ev.dtype),
            hit[te].sum().to(ev.dtype),
            F.cross_entropy(ev[va], y[va], reduction="sum"),
        ])
        stats = _sum(stats).tolist()

        def acc(k: int, stats=stats) -> float:
            return stats[k] / counts[k] if counts[k] else float("nan")

        rec = {
            "epoch": epoch,
            "train_loss": loss,
            "train_acc": acc(0),
            "val_loss": stats[3] / counts[1] if counts[1] else float("nan"),
            "val_acc": acc(1),
            "test_acc": acc(2),
            "nfe": nfe,
        }
        improved = _close_epoch(loop, rec, cfg, model)
        if improved is not None:
            best_state = improved
        epoch = loop["epoch"]
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", val=f"{rec['val_acc']:.3f}")
        if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
            # every rank's random-number state (its own dropout masks), gathered
            rngs = [None] * dist.get_world_size()
            dist.all_gather_object(rngs, get_rng_state())
            if rank == 0:
                save_torch(ckpt, {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": None if sched is None else sched.state_dict(),
                    "loop": loop,
                    "best_model": best_state,
                    "rng": rngs[0],
                    "rng_ranks": rngs,
                    "world_size": len(rngs),
                })
    bar.close()
    hist = loop["history"]
    if not hist:
        raise RuntimeError(
            f"train_one_distributed: {cfg.model} on {ds.name} (split {split}, seed "
            f"{seed}) diverged before its first epoch finished: {loop['stopped']}."
        )
    b = max(loop["best_epoch"], 0)
    model.load_state_dict(best_state)
    model.eval()
    e0, e1 = _energies(model, x, dgraph)
    result = RunResult(
        split=split,
        seed=seed,
        best_epoch=b,
        val_acc=hist[b]["val_acc"],
        val_loss=hist[b]["val_loss"],
        test_acc=hist[b]["test_acc"],
        test_max=max(h["test_acc"] for h in hist),
        epochs=len(hist),
        stopped=loop["stopped"],
        energy_t0=e0,
        energy_t1=e1,
        nfe=hist[-1]["nfe"],
        wall_s=time.perf_counter() - start_time,
    )
    if rank == 0:
        save_torch(run_dir / "best.pt", best_state)
        write_json(run_dir / "metrics.json", hist)
        write_json(run_dir / "result.json", result.to_dict())
    dist.barrier()
    return result


def run_distributed(
    cfg: RunConfig,
    out: Path,
    *,
    resume: bool = False,
    progress: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Run the protocol of ``cfg`` on a partitioned graph; rank 0 writes ``out``.

    Collective: every rank of the default process group calls it with the same
    ``cfg`` and ``out`` (:func:`init_from_env` first). With ``resume``, finished
    runs are read back (by rank 0, broadcast) and the others continue from their
    checkpoints (:func:`train_one_distributed`).

    Returns:
        The summary dict (the same on every rank; ``summary.json`` has a
        ``distributed`` entry with the world size and the partition).

    Raises:
        FileExistsError: ``out`` already holds a run and ``resume`` is False.
        ValueError: the model family cannot run on a partitioned graph, or with
            ``resume`` the folder's config differs from ``cfg``.
    """
    from tqdm.auto import tqdm

    from models.experiments import plots as plotting

    dist = _dist()
    rank, world = dist.get_rank(), dist.get_world_size()
    out = Path(out)
    cfg_path = out / "config.json"
    saved = _from_rank0(lambda: read_json(cfg_path) if cfg_path.exists() else None)
    if saved is not None and not resume:
        raise FileExistsError(
            f"run_distributed: `out` must be a new folder; got {str(out)!r}, which "
            "holds a run already. Pass --resume to continue it, or another --out."
        )
    if saved is not None:
        check_same_config(cfg, saved, "run_distributed")
    t0 = time.perf_counter()
    ds = load_dataset(cfg)
    # refuse a bad option or family before writing anything
    check_distributable(build_model(cfg, ds), "graphpde train --distributed")
    part, plan = partition_dataset(ds, cfg.device)
    if rank == 0:
        cfg.save(cfg_path)
    protocol, statement = protocol_of(cfg, ds)
    jobs = run_jobs(cfg, ds)
    results: list[RunResult] = []
    bar = tqdm(jobs, desc=f"{cfg.model} on {ds.name} ({world} ranks)",
               disable=not progress or rank != 0, file=sys.stderr)
    for s, k, seed in bar:
        run_dir = out / "runs" / f"split{s}-seed{k}"
        done = run_dir / "result.json"
        finished = _from_rank0(lambda d=done: read_json(d) if d.exists() else None)
        if resume and finished is not None:
            results.append(RunResult(**finished))
            continue
        r = train_one_distributed(
            cfg, ds, plan, split=s, seed=seed, run_dir=run_dir, resume=resume,
            progress=progress, desc=f"split {s} seed {k}",
        )
        results.append(r)
        bar.set_postfix(test=f"{100 * r.test_acc:.1f}")
    summary = {
        "name": cfg.name,
        "model": cfg.model,
        "dataset": ds.name,
        "protocol": protocol,
        "protocol_statement": statement,
        **summarise(cfg, results),
        "wall_s": time.perf_counter() - t0,
        "results": [r.to_dict() for r in results],
        "deviations": cfg.deviations,
        "distributed": {
            "world_size": world,
            "backend": dist.get_backend(),
            "partition": repr(part),
            "edge_cut": part.edge_cut,
            "sizes": list(part.sizes),
        },
    }
    if rank == 0:
        write_json(out / "summary.json", summary)
        (out / "summary.md").write_text(format_summary(summary))
        if plots:
            plotting.learning_curves(
                [read_json(out / "runs" / f"split{s}-seed{k}" / "metrics.json")
                 for s, k, _ in jobs],
                out / "learning_curves.png",
                title=f"{cfg.model} on {ds.name} ({world} ranks)",
            )
    dist.barrier()
    return summary
