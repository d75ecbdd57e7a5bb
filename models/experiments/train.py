r"""Training: one run (:func:`train_one`) and a whole protocol (:func:`run`).

A run is full-batch node classification: each epoch is one optimiser step on the
cross-entropy of the training nodes (model in training mode, dropout on),
followed by an evaluation pass (evaluation mode, no gradients) that records loss
and accuracy on the train, validation and test nodes. The reported epoch is the
one with the best validation metric (``select``: highest accuracy or lowest
loss; ties keep the earlier epoch); its test accuracy is the run's result. Test
accuracy never influences selection or stopping. ``patience`` stops a run after
that many epochs without improvement of the selection metric (the counter resets
on improvement).

Runs are **resumable bit for bit** on CPU: every ``checkpoint_every`` epochs the
model, optimiser, scheduler and random-number states and the loop state (history,
best epoch, patience counter) are written atomically to ``checkpoint.pt``;
``resume=True`` restarts each unfinished run from its checkpoint, recomputing the
epochs after it exactly as an uninterrupted run would.

A run whose training loss becomes NaN or infinite stops there; the result keeps
the best epoch before it and says where and why it diverged (the summary lists
such runs). A solver failure (step-size collapse, step budget, CG not converging)
propagates as the solver's own error, with a note naming the run and epoch.
"""

from __future__ import annotations

import copy
import math
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from graphops.datasets import GraphDataset
from models.experiments.config import RunConfig
from models.experiments.data import (
    load_dataset,
    model_args_with_preprocessing,
    protocol_of,
    run_jobs,
)
from models.experiments.registry import (
    MODELS,
    make_optimizer,
    make_solver,
    set_solver,
)
from models.experiments.runfolder import (
    get_rng_state,
    load_checkpoint,
    read_json,
    save_torch,
    set_rng_state,
    write_json,
)
from models.model import GraphPDEModel
from solvers import AbstractAdaptiveSolver, Checkpoint

__all__ = [
    "RunResult",
    "UnstableStepError",
    "build_model",
    "check_same_config",
    "check_step",
    "load_trained",
    "run",
    "summarise",
    "train_one",
]


class UnstableStepError(ValueError):
    """A fixed step outside the stable range of the right-hand side at init."""


@dataclass
class RunResult:
    """The outcome of one run (one split, one seed).

    Attributes:
        split: Split index.
        seed: The seed the run used.
        best_epoch: The selected epoch (0-based).
        val_acc: Validation accuracy at ``best_epoch``.
        val_loss: Validation loss at ``best_epoch``.
        test_acc: Test accuracy at ``best_epoch`` (the run's result).
        test_max: Maximum test accuracy over all epochs (test-selected; only for
            comparison with drivers that reported it).
        epochs: Epochs trained.
        stopped: ``"epochs"``, ``"patience"`` or ``"diverged at epoch E: ..."``.
        energy_t0: Dirichlet energy of the selected model's state at ``t0``.
        energy_t1: Dirichlet energy at ``t1`` (depth as time: after the last step).
        nfe: Right-hand-side evaluations of the last training forward pass.
        wall_s: Wall time of the run in seconds (not resumed time).
        warnings: Warnings raised while training (since the last resume).
        first_warning: The first of them (empty if none).
    """

    split: int
    seed: int
    best_epoch: int
    val_acc: float
    val_loss: float
    test_acc: float
    test_max: float
    epochs: int
    stopped: str
    energy_t0: float
    energy_t1: float
    nfe: int
    wall_s: float
    warnings: int = 0
    first_warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict."""
        return dict(self.__dict__)


def build_model(cfg: RunConfig, ds: GraphDataset) -> GraphPDEModel:
    """The model of ``cfg`` for ``ds``: family, depth, step and solver applied.

    Raises:
        ValueError: incompatible options (``--dt`` on a unit-step family, a solver
            that cannot integrate the term, a fixed argument overridden, ...).
    """
    where = "build_model"
    spec = MODELS[cfg.model]
    args = model_args_with_preprocessing(cfg)
    clash = sorted(set(args) & set(spec.fixed))
    if clash:
        raise ValueError(
            f"{where}: `model_args` must not set {clash} for {cfg.model!r} (the "
            f"model name fixes {spec.fixed}); got {args}. Pick the model name "
            "instead."
        )
    if spec.time_arg == "t1" and cfg.solver is None and (cfg.layers or cfg.dt):
        raise ValueError(
            f"{where}: {cfg.model} integrates adaptively (Dopri5) by default, so "
            f"--layers/--dt need a fixed-step solver; got layers={cfg.layers}, "
            f"dt={cfg.dt}, no --solver. Pass --solver rk4 (GRAND's depth study "
            "uses RK4 with step 1)."
        )
    args = spec.depth_args(cfg.layers, cfg.dt, args)
    model = spec.build(ds.num_features, ds.num_classes, **spec.fixed, **args)
    if cfg.solver is not None:
        solver = make_solver(cfg.solver, where=where)
        if isinstance(solver, AbstractAdaptiveSolver):
            set_solver(model, solver, rtol=cfg.rtol, atol=cfg.atol, where=where)
        else:
            set_solver(model, solver, dt=cfg.dt, where=where)
    if cfg.grad_checkpoint:
        model.adjoint = Checkpoint()
    return model.to(device=cfg.device, dtype=getattr(torch, cfg.dtype))


def check_step(cfg: RunConfig, model: GraphPDEModel, ds: GraphDataset) -> None:
    """Fail fast when an explicitly chosen fixed step is unstable at initialisation.

    Only checked when the run sets ``dt`` or ``solver`` itself (a preset's own
    step is the authors' choice) and ``allow_unstable`` is False. The right-hand
    side is linearised at the encoded initial state
    (:meth:`GraphPDEModel.stability_report`); training changes it, so this
    catches steps that are wrong from the start, not every later instability.

    Raises:
        UnstableStepError: with the largest stable step and how to override.
    """
    if cfg.allow_unstable or (cfg.dt is None and cfg.solver is None):
        return
    if model.depth is None:
        return
    x, graph = ds.x.to(cfg.device), ds.graph.to(cfg.device)
    report = model.stability_report(x, graph, solvers=[])
    row = report.rows[0] if report.rows else None
    if row is None or row.inside is not False:
        return
    bound = "no stable step" if row.dt_max == 0.0 else f"dt <= {row.dt_max:.4g}"
    raise UnstableStepError(
        f"check_step: the step must lie inside the stable range of {row.solver} "
        f"for this model's right-hand side at initialisation ({bound}); got dt = "
        f"{report.dt:.4g}. Take a smaller --dt, a solver with a larger range "
        "(`graphpde stability` lists them), or pass --allow-unstable to train anyway."
    )


def _scheduler(cfg: RunConfig, opt: torch.optim.Optimizer) -> Any:
    s = cfg.scheduler
    if s is None:
        return None
    if s["kind"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    return torch.optim.lr_scheduler.StepLR(opt, s["step_size"], gamma=s["gamma"])


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _accuracy(out: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> float:
    if not bool(mask.any()):
        return float("nan")
    return float((out[mask].argmax(1) == y[mask]).double().mean())


def _better(select: str, value: float, best: float | None) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    return value > best if select == "val_acc" else value < best


def _close_epoch(
    loop: dict[str, Any], rec: dict[str, Any], cfg: RunConfig, model: torch.nn.Module
) -> dict[str, Any] | None:
    """Record an epoch in ``loop``: history, selection, patience, next epoch.

    Returns the model's state when this epoch is the new best, else ``None``.
    """
    loop["history"].append(rec)
    value = rec[cfg.select]
    best = None
    if _better(cfg.select, value, loop["best"]):
        loop["best"], loop["best_epoch"], loop["bad"] = value, rec["epoch"], 0
        best = copy.deepcopy(model.state_dict())
    else:
        loop["bad"] += 1
    loop["epoch"] = rec["epoch"] + 1
    if cfg.patience is not None and loop["bad"] >= cfg.patience:
        loop["stopped"] = "patience"
    return best


def _energy_trajectory(model: GraphPDEModel, x: torch.Tensor, graph: Any) -> Any:
    """Dirichlet energy of the decoder's input along the model's own solve.

    Sheaf models carry stalk-shaped states ``[N d', C]``; they are read as node
    features ``[N, d' C]`` (the layout of :class:`models.sheaf.FromStalks`). A
    solver that steps inside torchdiffeq (GRAFF's code grid) cannot record its
    steps, so the energy is sampled at ``depth + 1`` equally spaced times.
    """
    from graphops import dirichlet_energy
    from solvers.base import AbstractIntervalSolver

    n = graph.num_nodes

    def energy(t: float, h: torch.Tensor, g: Any) -> torch.Tensor:
        return dirichlet_energy(h if h.shape[0] == n else h.reshape(n, -1), g)

    ts = None
    inner = getattr(model.solver, "solver", model.solver)
    if isinstance(inner, AbstractIntervalSolver):
        k = max(model.depth or 1, 1)
        ts = torch.linspace(model.t0, model.t1, k + 1, dtype=x.dtype, device=x.device)
    return model.trajectory(x, graph, fn=energy, ts=ts)


def _energy(model: GraphPDEModel, x: torch.Tensor, graph: Any) -> tuple[float, float]:
    with torch.no_grad():
        sol = _energy_trajectory(model, x, graph)
    ys = sol.ys.reshape(-1)
    return float(ys[0]), float(ys[-1])


def check_same_config(cfg: RunConfig, saved: dict[str, Any], where: str) -> None:
    """Refuse to resume a folder whose ``config.json`` (``saved``) differs from ``cfg``.

    Raises:
        ValueError: a run field differs (naming them).
    """
    old = RunConfig.from_dict(saved).run_fields()
    new = cfg.run_fields()
    if old != new:
        diff = sorted(k for k in old if old.get(k) != new.get(k))
        raise ValueError(
            f"{where}: with --resume the configuration must match the folder's "
            f"config.json; got differences in {diff}. Resume with the same "
            "options (or only --out/--resume), or start a new folder."
        )


def train_one(
    cfg: RunConfig,
    ds: GraphDataset,
    *,
    split: int,
    seed: int,
    run_dir: Path,
    resume: bool = False,
    progress: bool = False,
    desc: str = "",
) -> RunResult:
    """Train one run and write its folder (see :mod:`models.experiments.runfolder`).

    Args:
        cfg: The run configuration.
        ds: The (preprocessed) dataset.
        split: Split index of ``ds``.
        seed: Seed of the initialisation and dropout.
        run_dir: The run's folder.
        resume: Continue from ``run_dir/checkpoint.pt`` if it exists.
        progress: Show a tqdm bar over epochs.
        desc: The bar's label.

    Returns:
        The :class:`RunResult` (also written to ``run_dir/result.json``).
    """
    from tqdm.auto import tqdm

    start_time = time.perf_counter()
    run_dir = Path(run_dir)
    train_m, val_m, test_m = (m.to(cfg.device) for m in ds.split(split))
    x, y, graph = ds.x.to(cfg.device), ds.y.to(cfg.device), ds.graph.to(cfg.device)
    _seed_everything(seed)
    model = build_model(cfg, ds)
    check_step(cfg, model, ds)
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
    loop: dict[str, Any] = {
        "epoch": 0,
        "history": [],
        "best": None,
        "best_epoch": -1,
        "bad": 0,
        "stopped": "epochs",
    }
    best_state = copy.deepcopy(model.state_dict())
    ckpt = run_dir / "checkpoint.pt"
    if resume and ckpt.exists():
        state = load_checkpoint(ckpt)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        loop = state["loop"]
        best_state = state["best_model"]
        set_rng_state(state["rng"])
    bar = tqdm(
        total=cfg.epochs,
        initial=loop["epoch"],
        desc=desc or "epochs",
        disable=not progress,
        leave=False,
        file=sys.stderr,
    )
    epoch = loop["epoch"]
    # Warnings raised during training (e.g. a StabilityWarning every epoch of a
    # growing state, each with a different number in its text) are collected
    # and reported once per run, with their count, instead of flooding the screen.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        while epoch < cfg.epochs and loop["stopped"] == "epochs":
            model.train()
            opt.zero_grad(set_to_none=True)
            try:
                out = model(x, graph)
                nfe = int(getattr(model.last_stats, "num_rhs_evals", 0) or 0)
                loss = F.cross_entropy(out[train_m], y[train_m])
                if not bool(torch.isfinite(loss)):
                    loop["stopped"] = (
                        f"diverged at epoch {epoch}: training loss is "
                        f"{float(loss.detach())} "
                        "(the state exploded: lower lr or dt; `graphpde stability` "
                        "checks the step)"
                    )
                    break
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                model.eval()
                with torch.no_grad():
                    ev = model(x, graph)
            except Exception as exc:
                exc.add_note(
                    f"graphpde train: while training {cfg.model} on {ds.name}, split "
                    f"{split}, seed {seed}, epoch {epoch} ({run_dir})."
                )
                raise
            rec = {
                "epoch": epoch,
                "train_loss": float(loss.detach()),
                "train_acc": _accuracy(ev, y, train_m),
                "val_loss": float(F.cross_entropy(ev[val_m], y[val_m]))
                if bool(val_m.any())
                else float("nan"),
                "val_acc": _accuracy(ev, y, val_m),
                "test_acc": _accuracy(ev, y, test_m),
                "nfe": nfe,
            }
            improved = _close_epoch(loop, rec, cfg, model)
            if improved is not None:
                best_state = improved
            epoch = loop["epoch"]
            bar.update(1)
            bar.set_postfix(
                loss=f"{rec['train_loss']:.3f}", val=f"{rec['val_acc']:.3f}"
            )
            if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
                save_torch(
                    ckpt,
                    {
                        "model": model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "scheduler": None if sched is None else sched.state_dict(),
                        "loop": loop,
                        "best_model": best_state,
                        "rng": get_rng_state(),
                    },
                )
    bar.close()
    if caught:
        first = caught[0]
        warnings.warn_explicit(
            f"{len(caught)} warning(s) while training {cfg.model} on {ds.name} "
            f"(split {split}, seed {seed}); the first: {first.message}",
            first.category,
            first.filename,
            first.lineno,
        )
    hist = loop["history"]
    if not hist:
        raise RuntimeError(
            f"train_one: {cfg.model} on {ds.name} (split {split}, seed {seed}) "
            f"diverged before its first epoch finished: {loop['stopped']}."
        )
    b = max(loop["best_epoch"], 0)
    model.load_state_dict(best_state)
    model.eval()
    e0, e1 = _energy(model, x, graph)
    save_torch(run_dir / "best.pt", best_state)
    write_json(run_dir / "metrics.json", hist)
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
        warnings=len(caught),
        first_warning=str(caught[0].message) if caught else "",
    )
    write_json(run_dir / "result.json", result.to_dict())
    return result


def load_trained(
    run: Path, *, where: str = "load_trained"
) -> tuple[RunConfig, GraphDataset, list[tuple[GraphPDEModel, dict[str, Any]]]]:
    """A finished run folder's config, dataset and (selected model, result) per run.

    Each model is rebuilt from ``config.json`` with its run's ``best.pt`` loaded,
    in evaluation mode.

    Raises:
        FileNotFoundError: ``run`` has no ``config.json`` or no finished run.
    """
    run = Path(run)
    cfg_path = run / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(
            f"{where}: `--run` must be a run folder of `graphpde train` (with "
            f"config.json); got {str(run)!r}, which has none."
        )
    cfg = RunConfig.from_dict(read_json(cfg_path), where=where)
    done = sorted((run / "runs").glob("*/result.json"))
    if not done:
        raise FileNotFoundError(
            f"{where}: `--run` must be a finished run folder (runs/*/result.json "
            f"and best.pt); got {str(run)!r} with no finished run. Finish it with "
            "`graphpde train --out RUN --resume`."
        )
    ds = load_dataset(cfg)
    trained = []
    for path in done:
        result = read_json(path)
        model = build_model(cfg, ds)
        model.load_state_dict(load_checkpoint(path.parent / "best.pt"))
        model.eval()
        trained.append((model, result))
    return cfg, ds, trained


def summarise(cfg: RunConfig, results: list[RunResult]) -> dict[str, Any]:
    """Mean and standard deviation (as ``cfg.std`` says) of the runs, in percent."""

    def stats(values: list[float]) -> dict[str, float]:
        a = np.asarray(values, dtype=np.float64) * 100.0
        ddof = 0 if cfg.std == "population" else 1
        std = float(a.std(ddof=ddof)) if len(a) > ddof else float("nan")
        return {"mean": float(a.mean()), "std": std}

    out: dict[str, Any] = {
        "runs": len(results),
        "test_acc": stats([r.test_acc for r in results]),
        "val_acc": stats([r.val_acc for r in results]),
        "std_kind": cfg.std,
        "diverged": [
            f"split {r.split} seed {r.seed}: {r.stopped}"
            for r in results
            if r.stopped.startswith("diverged")
        ],
        "energy_t1": float(np.mean([r.energy_t1 for r in results])),
        "nfe": float(np.mean([r.nfe for r in results])),
    }
    if cfg.report_test_max:
        out["test_max"] = stats([r.test_max for r in results])
    if cfg.published and cfg.published.get("value") is not None:
        out["published"] = cfg.published
        out["gap"] = out["test_acc"]["mean"] - float(cfg.published["value"])
    return out


def run(
    cfg: RunConfig,
    out: Path,
    *,
    resume: bool = False,
    progress: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Run the whole protocol of ``cfg`` into the run folder ``out``.

    Args:
        cfg: The configuration (with ``resume``, the folder's ``config.json``
            must describe the same run).
        out: The run folder.
        resume: Continue an interrupted run: finished runs are read back (their
            ``result.json`` is enough), the others restart from their
            checkpoints (or from scratch when there is none).
        progress: tqdm bars (runs and epochs).
        plots: Write the PNG plots (needs matplotlib). Runs read back without
            their ``metrics.json`` (a folder kept without its large files) are
            left out of the learning curves; the energy plot needs the first
            run's ``best.pt`` and is skipped without it.

    The summary's ``wall_s`` is the time of this call plus the recorded
    ``wall_s`` of every run read back, so a protocol finished over several
    sessions reports its whole training time.

    Returns:
        The summary dict (also ``summary.json`` and ``summary.md``).

    Raises:
        FileExistsError: ``out`` already holds a run and ``resume`` is False.
        ValueError: with ``resume``, the folder's config differs from ``cfg``.
    """
    from tqdm.auto import tqdm

    from models.experiments import plots as plotting

    out = Path(out)
    cfg_path = out / "config.json"
    if cfg_path.exists() and not resume:
        raise FileExistsError(
            f"run: `out` must be a new folder; got {str(out)!r}, which holds a run "
            "already. Pass --resume to continue it, or another --out."
        )
    if resume and cfg_path.exists():
        check_same_config(cfg, read_json(cfg_path), "run")
    t0 = time.perf_counter()
    ds = load_dataset(cfg)
    # Build one model before writing anything, so a bad option (incompatible
    # solver, unknown argument) fails without leaving a half-made run folder.
    build_model(cfg, ds)
    cfg.save(cfg_path)
    protocol, statement = protocol_of(cfg, ds)
    jobs = run_jobs(cfg, ds)
    results: list[RunResult] = []
    reused_s = 0.0
    bar = tqdm(
        jobs, desc=f"{cfg.model} on {ds.name}", disable=not progress, file=sys.stderr
    )
    for s, k, seed in bar:
        run_dir = out / "runs" / f"split{s}-seed{k}"
        done = run_dir / "result.json"
        if resume and done.exists():
            results.append(RunResult(**read_json(done)))
            reused_s += results[-1].wall_s
            continue
        r = train_one(
            cfg,
            ds,
            split=s,
            seed=seed,
            run_dir=run_dir,
            resume=resume,
            progress=progress,
            desc=f"split {s} seed {k}",
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
        "wall_s": reused_s + time.perf_counter() - t0,
        "results": [r.to_dict() for r in results],
        "deviations": cfg.deviations,
    }
    write_json(out / "summary.json", summary)
    (out / "summary.md").write_text(format_summary(summary))
    first_best = out / "runs" / f"split{jobs[0][0]}-seed{jobs[0][1]}" / "best.pt"
    if plots:
        histories = [
            read_json(path)
            for s, k, _ in jobs
            if (path := out / "runs" / f"split{s}-seed{k}" / "metrics.json").exists()
        ]
        if histories:
            plotting.learning_curves(
                histories,
                out / "learning_curves.png",
                title=f"{cfg.model} on {ds.name}"
                + (
                    f" ({len(histories)} of {len(jobs)} runs have metrics)"
                    if len(histories) < len(jobs)
                    else ""
                ),
            )
    if plots and first_best.exists():
        s, k, _ = jobs[0]
        model = build_model(cfg, ds)
        model.load_state_dict(load_checkpoint(first_best))
        model.eval()
        with torch.no_grad():
            sol = _energy_trajectory(
                model, ds.x.to(cfg.device), ds.graph.to(cfg.device)
            )
        plotting.energy_curve(
            sol.ts.cpu().numpy(),
            sol.ys.reshape(-1).cpu().numpy(),
            out / "energy.png",
            title=f"{cfg.model} on {ds.name} (selected model, split {s}, seed {k})",
        )
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as Markdown (what ``summary.md`` holds and the CLI prints)."""
    t = summary["test_acc"]
    lines = [
        f"# {summary['model']} on {summary['dataset']}"
        + (f" ({summary['name']})" if summary.get("name") else ""),
        "",
        f"**Test accuracy: {t['mean']:.2f} ± {t['std']:.2f}** "
        f"({summary['std_kind']} std, {summary['runs']} runs; validation "
        f"{summary['val_acc']['mean']:.2f} ± {summary['val_acc']['std']:.2f})",
        "",
        f"Protocol ({summary['protocol']}): {summary['protocol_statement']}",
        "",
    ]
    if "test_max" in summary:
        m = summary["test_max"]
        lines += [
            f"Test max over epochs (test-selected, for comparison only): "
            f"{m['mean']:.2f} ± {m['std']:.2f}",
            "",
        ]
    if "published" in summary:
        p = summary["published"]
        std = f" ± {p['std']}" if p.get("std") is not None else ""
        lines += [
            f"Published: {p['value']}{std} ({p.get('source', '')}); gap "
            f"{summary['gap']:+.2f} points.",
            "",
        ]
    if summary["diverged"]:
        lines += ["Diverged runs:", *[f"- {d}" for d in summary["diverged"]], ""]
    if summary.get("deviations"):
        lines += ["Deviations from the authors' code:"]
        lines += [f"- {d}" for d in summary["deviations"]] + [""]
    lines += [
        "| split | seed | best epoch | val acc | test acc | epochs | stopped |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary["results"]:
        lines.append(
            f"| {r['split']} | {r['seed']} | {r['best_epoch']} | "
            f"{100 * r['val_acc']:.2f} | {100 * r['test_acc']:.2f} | {r['epochs']} | "
            f"{r['stopped']} |"
        )
    lines += ["", f"Wall time: {summary['wall_s']:.1f} s."]
    return "\n".join(lines) + "\n"
