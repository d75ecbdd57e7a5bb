"""``graphpde sets``: DeepSets, the plain RNN and SIRE on set tasks; a run folder.

One run trains every ``--model`` on one ``--task`` (same data, same seed) and
tests it at every size of ``--test-lengths``::

    config.json          the options
    <model>/metrics.json per-epoch training loss, SIRE penalty, validation metric
    <model>/best.pt      the selected (best validation) weights
    <model>/result.json  the fit summary and the test metrics per length (last)
    summary.json         every model's final metrics
    summary.md           the same as a table
    length_curve.png     test metric and permutation sensitivity against length

``--table`` runs the README table instead (:data:`TABLE`: every task, DeepSets,
the plain GRU and SIRE-GRU) into ``<out>/<row>/`` run folders and writes
``table.md`` and ``table.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.sets.tasks import TASKS, make_task
from models.sets.train import (
    MODEL_NAMES,
    FitConfig,
    build_model,
    evaluate,
    fit,
    length_curve,
)

__all__ = ["TABLE", "add_parser", "main", "parse_lengths", "run_sets", "run_table"]

#: The README table: one entry per row, options of :func:`run_sets`. Every row
#: trains ``deepsets-sum``, ``rnn-gru`` and ``sire-gru``.
TABLE: dict[str, dict[str, Any]] = {
    **{
        name: {
            "task": name,
            "train_lengths": (2, 10),
            "test_lengths": [2, 5, 10, 20, 50, 100],
            "epochs": 40,
            "lam": 1.0 if name == "parity" else 10.0,
        }
        for name in ("sum", "parity", "range", "variance", "half-range")
    },
    "pointcloud": {
        "task": "pointcloud",
        "train_lengths": (100, 100),
        "test_lengths": [100, 1000],
        "epochs": 25,
        "num_train": 1500,
        "lam": 1.0,
    },
    "digits": {
        "task": "digits",
        "train_lengths": (64, 64),
        "test_lengths": [64],
        "epochs": 40,
        "local": True,
        "lam": 1.0,
    },
}
TABLE_MODELS = ("deepsets-sum", "rnn-gru", "sire-gru")


def parse_lengths(text: str, *, grid: int = 6) -> list[int]:
    """``"2-100"`` -> ``grid`` sizes log-spaced in ``[2, 100]``; ``"5,10"`` -> [5, 10].

    Raises:
        ValueError: not a range ``LO-HI`` (``1 <= LO <= HI``) or a comma list.

    Example:
        >>> parse_lengths("2-100")
        [2, 4, 10, 21, 46, 100]
        >>> parse_lengths("10,50")
        [10, 50]
    """
    try:
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-"))
            if not 1 <= lo <= hi:
                raise ValueError
            vals = np.unique(np.geomspace(lo, hi, grid).round().astype(int))
            return [int(v) for v in vals]
        vals = [int(v) for v in text.split(",") if v.strip()]
        if not vals or min(vals) < 1:
            raise ValueError
        return sorted(set(vals))
    except ValueError:
        raise ValueError(
            f"sets: lengths must be a range LO-HI (1 <= LO <= HI) or a comma list "
            f"of sizes >= 1; got {text!r}. Example: 2-10 or 10,50,100."
        ) from None


def _pair(text: str) -> tuple[int, int]:
    vals = parse_lengths(text, grid=2)
    return vals[0], vals[-1]


def run_sets(
    out: Path,
    *,
    task: str,
    models: list[str] | tuple[str, ...] = TABLE_MODELS,
    train_lengths: tuple[int, int] = (2, 10),
    test_lengths: list[int] | None = None,
    hidden: int = 32,
    lam: float = 1.0,
    transpositions: int = 1,
    local: bool = False,
    target: str = "output",
    epochs: int = 20,
    num_train: int = 2000,
    num_val: int = 500,
    num_test: int = 500,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    noise: float = 0.02,
    swaps: int = 8,
    progress: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Train ``models`` on ``task`` and write a run folder (layout: module docstring).

    Returns:
        The summary (also ``summary.json``): per model, the selected epoch, the
        validation metric, the test metric on sets of the training sizes
        (``test_in``), the metric and sensitivity at each test length, and the
        training time.

    Raises:
        ValueError: unknown task or model, bad options (from the builders).
        FileExistsError: ``out`` already holds a finished run.
    """
    from tqdm import tqdm

    from models.experiments.runfolder import save_torch, write_json

    out = Path(out)
    if (out / "summary.json").exists():
        raise FileExistsError(
            f"sets: `--out` must be a new folder; got {str(out)!r}, which holds a "
            "finished run. Pick another --out or delete it."
        )
    the_task = make_task(task, noise=noise, swaps=swaps)
    for name in models:
        if name not in MODEL_NAMES:
            raise ValueError(
                f"sets: `--model` must be among {', '.join(MODEL_NAMES)}; got "
                f"{name!r}."
            )
    test_lengths = list(test_lengths or [train_lengths[1]])
    cfg = FitConfig(
        train_lengths=tuple(train_lengths),
        epochs=epochs,
        num_train=num_train,
        num_val=num_val,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
    )
    config = {
        "task": task,
        "models": list(models),
        "test_lengths": test_lengths,
        "hidden": hidden,
        "lam": lam,
        "transpositions": transpositions,
        "local": local,
        "target": target,
        "num_test": num_test,
        "noise": noise,
        "swaps": swaps,
        **{k: v for k, v in vars(cfg).items()},
    }
    write_json(out / "config.json", config)
    summary: dict[str, Any] = {"task": task, "metric": None, "models": {}}
    bar = tqdm(models, desc=f"sets {task}", disable=not progress, file=sys.stderr)
    for name in bar:
        torch.manual_seed(seed)
        model = build_model(
            name,
            the_task,
            hidden=hidden,
            lam=lam,
            num_transpositions=transpositions,
            local=local,
            target=target,
        )
        run_dir = out / name
        history: list[dict[str, float]] = []

        def on_epoch(
            rec: dict[str, float],
            run_dir: Path = run_dir,
            history: list[dict[str, float]] = history,
        ) -> None:
            history.append(rec)
            write_json(run_dir / "metrics.json", history)

        res = fit(model, the_task, cfg, progress=progress, desc=name, on_epoch=on_epoch)
        save_torch(run_dir / "best.pt", model.state_dict())
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(seed + 20_000)
        data_in = the_task.sample(
            num_test, cfg.train_lengths, g, split="test", dtype=cfg.torch_dtype
        )
        ev_in = evaluate(model, the_task, data_in, generator=g)
        curve = length_curve(
            model, the_task, test_lengths, num=num_test, seed=seed + 10_000
        )
        record = {
            "model": name,
            "fit": res.to_dict(),
            "test_in": ev_in,
            "curve": curve,
            "test_seconds": time.perf_counter() - t0,
        }
        write_json(run_dir / "result.json", record)
        summary["metric"] = res.metric
        summary["models"][name] = {
            "best_epoch": res.best_epoch,
            "val": res.best_val,
            "test_in": ev_in[res.metric],
            "sensitivity_in": ev_in["sensitivity"],
            "curve": [
                {
                    "length": c["length"],
                    res.metric: c[res.metric],
                    "sensitivity": c["sensitivity"],
                }
                for c in curve
            ],
            "train_seconds": res.seconds,
        }
    summary["config"] = config
    write_json(out / "summary.json", summary)
    (out / "summary.md").write_text(format_summary(summary))
    if plots:
        plot_length_curves(summary, out / "length_curve.png")
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """A run's summary as Markdown: one row per model."""
    m = summary["metric"]
    cfg = summary["config"]
    lo, hi = cfg["train_lengths"]
    lengths = [c["length"] for c in next(iter(summary["models"].values()))["curve"]]
    head = (
        f"| model | best epoch | val {m} | test {m} (sizes {lo}-{hi}) | "
        + " | ".join(f"{m} @ {n}" for n in lengths)
        + " | sensitivity @ "
        + str(lengths[-1])
        + " | train s |"
    )
    lines = [
        f"# sets: {summary['task']} (seed {cfg['seed']})",
        "",
        head,
        "|" + " --- |" * (head.count("|") - 1),
    ]
    for name, r in summary["models"].items():
        cells = [
            name,
            str(r["best_epoch"]),
            f"{r['val']:.4g}",
            f"{r['test_in']:.4g}",
            *(f"{c[m]:.4g}" for c in r["curve"]),
            f"{r['curve'][-1]['sensitivity']:.3g}",
            f"{r['train_seconds']:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_length_curves(summary: dict[str, Any], path: Path) -> None:
    """Test metric and permutation sensitivity against set size, every model."""
    from models.experiments.plots import _pyplot

    plt = _pyplot()
    m = summary["metric"]
    fig, (ax_m, ax_s) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, r in summary["models"].items():
        n = [c["length"] for c in r["curve"]]
        ax_m.plot(n, [c[m] for c in r["curve"]], "o-", ms=3, label=name)
        ax_s.plot(n, [c["sensitivity"] for c in r["curve"]], "o-", ms=3, label=name)
    lo, hi = summary["config"]["train_lengths"]
    for ax in (ax_m, ax_s):
        ax.axvspan(lo, hi, color="0.9", label="training sizes")
        ax.set_xscale("log")
        ax.set_xlabel("set size")
    ax_m.set(ylabel=m, title=f"{summary['task']}: test {m}")
    if m == "mse":
        ax_m.set_yscale("log")
    ax_s.set(ylabel="mean |f(x) - f(pi x)|", title="permutation sensitivity")
    ax_m.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_table(
    out: Path,
    *,
    rows: list[str] | None = None,
    lam: float | None = None,
    seed: int = 0,
    progress: bool = False,
    plots: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """Run the README table (:data:`TABLE`) into ``out/<row>/``; write table.md.

    Args:
        out: The table's folder.
        rows: Row names of :data:`TABLE` (default all).
        lam: SIRE weight of every row (default: each row's own, :data:`TABLE`).
        seed: Seed of every row.
        progress: tqdm bars.
        plots: Each row's length_curve.png.
        **overrides: Options of :func:`run_sets` applied to every row (e.g. a
            smaller ``epochs`` for a smoke run).

    Returns:
        ``{row: summary}`` (also ``table.json``).
    """
    from models.experiments.runfolder import write_json

    rows = list(rows or TABLE)
    unknown = [r for r in rows if r not in TABLE]
    if unknown:
        raise ValueError(
            f"sets: `--rows` must be among {', '.join(TABLE)}; got {unknown}."
        )
    start = time.perf_counter()
    results = {}
    for row in rows:
        opts = {**TABLE[row], **overrides}
        if lam is not None:
            opts["lam"] = lam
        results[row] = run_sets(
            Path(out) / row,
            models=TABLE_MODELS,
            seed=seed,
            progress=progress,
            plots=plots,
            **opts,
        )
    seconds = time.perf_counter() - start
    write_json(Path(out) / "table.json", {"seconds": seconds, "rows": results})
    (Path(out) / "table.md").write_text(format_table(results, seconds))
    return results


def format_table(results: dict[str, Any], seconds: float) -> str:
    """The table as Markdown: per task, each model's in-range and longest test."""
    lines = [
        "| task | metric | train sizes | test size | "
        + " | ".join(TABLE_MODELS)
        + " | sensitivity (" + ", ".join(TABLE_MODELS) + ") |",
        "|" + " --- |" * (5 + len(TABLE_MODELS)),
    ]
    for row, s in results.items():
        m = s["metric"]
        lo, hi = s["config"]["train_lengths"]
        models = [s["models"][k] for k in TABLE_MODELS]
        cells = [f"{r['test_in']:.4g}" for r in models]
        sens = ", ".join(f"{r['sensitivity_in']:.2g}" for r in models)
        lines.append(f"| {row} | {m} | {lo}-{hi} | {lo}-{hi} | {' | '.join(cells)} "
                     f"| {sens} |")
        longest = models[0]["curve"][-1]["length"]
        if longest > hi:
            cells = [f"{r['curve'][-1][m]:.4g}" for r in models]
            sens = ", ".join(f"{r['curve'][-1]['sensitivity']:.2g}" for r in models)
            lines.append(f"| {row} | {m} | {lo}-{hi} | {longest} | "
                         f"{' | '.join(cells)} | {sens} |")
    lines.append("")
    lines.append(f"Wall time: {seconds:.0f} s.")
    return "\n".join(lines) + "\n"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``graphpde sets`` on the subparsers ``sub``."""
    p = sub.add_parser(
        "sets",
        help="set models: DeepSets vs RNN vs SIRE (permutation invariance)",
        description="Train DeepSets, a plain recurrent network and the same network "
        "with the SIRE permutation-invariance penalty on a set task, test them on "
        "longer sets than they were trained on, and write a run folder "
        "(config.json, <model>/metrics.json, best.pt, result.json, summary.json/.md, "
        "length_curve.png). Examples:\n"
        "  graphpde sets --task parity --model sire-gru --train-lengths 2-10 "
        "--test-lengths 2-100\n"
        "  graphpde sets --task sum --model deepsets-sum,rnn-gru,sire-gru --lam 10\n"
        "  graphpde sets --task digits --model rnn-gru,sire-gru --local\n"
        "  graphpde sets --table --out runs/sets-table   (the README table)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("what to run")
    g.add_argument("--task", choices=TASKS, help="the task (required without --table)")
    g.add_argument(
        "--model",
        default=",".join(TABLE_MODELS),
        help=f"comma list of {', '.join(MODEL_NAMES)} (default %(default)s)",
    )
    g.add_argument("--table", action="store_true", help="run the README table")
    g.add_argument(
        "--rows", help="with --table: comma list of rows (default all: "
        + ", ".join(TABLE) + ")"
    )
    g.add_argument("--train-lengths", default="2-10", help="LO-HI (default 2-10)")
    g.add_argument(
        "--test-lengths",
        default="2-100",
        help="LO-HI (6 log-spaced sizes) or a comma list (default 2-100)",
    )
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=int, default=32, help="width (default 32)")
    g.add_argument(
        "--lam",
        type=float,
        help="SIRE weight (default 1; with --table each row's own)",
    )
    g.add_argument(
        "--transpositions", type=int, default=1, help="SIRE swaps per set (default 1)"
    )
    g.add_argument(
        "--local", action="store_true", help="SIRE swaps neighbouring positions only"
    )
    g.add_argument(
        "--target",
        choices=("output", "state"),
        default="output",
        help="SIRE compares the final output (default) or the state right after "
        "the swapped pair",
    )
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=20)
    g.add_argument("--num-train", type=int, default=2000)
    g.add_argument("--num-val", type=int, default=500)
    g.add_argument("--num-test", type=int, default=500, help="test sets per size")
    g.add_argument("--batch-size", type=int, default=64)
    g.add_argument("--lr", type=float, default=3e-3)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="cpu")
    g.add_argument("--threads", type=int, help="torch threads")
    g.add_argument("--noise", type=float, default=0.02, help="point-cloud jitter")
    g.add_argument("--swaps", type=int, default=8, help="digits: neighbour swaps")
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, help="run folder (default runs/sets-...)")
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run ``graphpde sets`` from parsed arguments."""
    progress = not args.quiet and sys.stderr.isatty()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if args.table:
        out = args.out or Path("runs") / f"sets-table-{stamp}"
        rows = [r.strip() for r in args.rows.split(",")] if args.rows else None
        results = run_table(
            out,
            rows=rows,
            lam=args.lam,
            seed=args.seed,
            progress=progress,
            plots=not args.no_plots,
            device=args.device,
        )
        print((Path(out) / "table.md").read_text())
        print(f"table folder: {out}")
        return 0 if results else 1
    if args.task is None:
        raise ValueError("sets: `--task` must be given (or --table); got none.")
    out = args.out or Path("runs") / f"sets-{args.task}-{stamp}"
    task = make_task(args.task)
    train_lengths = _pair(args.train_lengths)
    test_lengths = parse_lengths(args.test_lengths)
    if task.fixed_length is not None:
        train_lengths = (task.fixed_length, task.fixed_length)
        test_lengths = [task.fixed_length]
    summary = run_sets(
        out,
        task=args.task,
        models=[m.strip() for m in args.model.split(",") if m.strip()],
        train_lengths=train_lengths,
        test_lengths=test_lengths,
        hidden=args.hidden,
        lam=1.0 if args.lam is None else args.lam,
        transpositions=args.transpositions,
        local=args.local,
        target=args.target,
        epochs=args.epochs,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        device=args.device,
        noise=args.noise,
        swaps=args.swaps,
        progress=progress,
        plots=not args.no_plots,
    )
    print(format_summary(summary))
    print(f"run folder: {out}")
    return 0
