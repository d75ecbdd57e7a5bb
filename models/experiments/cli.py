r"""The ``graphpde`` command line (also ``python -m models``).

Subcommands (``graphpde <command> --help`` documents each):

* ``train`` - train a model on a dataset under a protocol; writes a run folder;
* ``sweep`` - depth (``layers``), ``dt`` or ``solver`` sweeps;
* ``stability`` - linear stability of a model's right-hand side, every solver;
* ``reproduce`` - regenerate the published-numbers table from the presets;
* ``tune`` - validation-only hyperparameter search (optuna), written as a preset;
* ``sets`` - DeepSets vs a recurrent network vs SIRE on set tasks (models.sets);
* ``presets`` - list the shipped presets.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``main(args)``; the run options shared by ``train``, ``sweep`` and ``tune`` are
:func:`add_run_options` and :func:`config_from_args`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from models.experiments.config import RunConfig, list_presets, load_preset, merge
from models.experiments.registry import MODELS, OPTIMIZERS, SOLVER_NAMES

__all__ = ["add_run_options", "config_from_args", "main", "parse_list"]

_EPILOG_DATA = (
    "Datasets: a benchmark name (cora, citeseer, pubmed, chameleon, squirrel, actor/"
    "film, cornell, texas, wisconsin; raw files under --data-root or "
    "$GRAPHPDE_DATA), a path to an .npz file (keys documented in "
    "graphops.datasets.load_npz), or a built-in generator (no files): "
    "csbm[:key=value,...], neighborsmatch[:depth=4,num_instances=2000,...] "
    "(Alon & Yahav's tree NeighborsMatch) or ringcliques[:distance=3,...] "
    "(keys in models.experiments.data)."
)


def parse_list(text: str, cast: Any = str) -> list[Any]:
    """``"a,b,c"`` -> ``[cast(a), cast(b), cast(c)]`` (spaces ignored)."""
    return [cast(v.strip()) for v in text.split(",") if v.strip()]


def _kv(text: str) -> tuple[str, Any]:
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise argparse.ArgumentTypeError(
            f"--set takes key=value (value parsed as JSON, else a string); got {text!r}"
        )
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def _schedule(text: str) -> dict[str, Any]:
    if text == "cosine":
        return {"kind": "cosine"}
    parts = text.split(":")
    try:
        if parts[0] == "step" and len(parts) == 3:
            return {
                "kind": "step",
                "step_size": int(parts[1]),
                "gamma": float(parts[2]),
            }
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        "--scheduler takes 'cosine' or 'step:K:GAMMA' (e.g. step:100:0.5); got "
        f"{text!r}"
    )


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options that define a run (shared by train, sweep and tune)."""
    g = p.add_argument_group("what to run")
    g.add_argument(
        "--preset",
        help="a shipped preset name or a preset .json file "
        "(`graphpde presets` lists them); flags below override it",
    )
    g.add_argument("--model", help=f"model name: {', '.join(MODELS)}")
    g.add_argument(
        "--dataset",
        help="dataset name, .npz path, or csbm / neighborsmatch / "
        "ringcliques[:k=v,...]",
    )
    g.add_argument(
        "--data-root", help="directory of the raw files (default $GRAPHPDE_DATA)"
    )
    g.add_argument(
        "--set",
        dest="model_args",
        action="append",
        type=_kv,
        metavar="KEY=VALUE",
        default=[],
        help="a from_config argument of the model, e.g. --set hidden=64 "
        "(repeatable; values are JSON)",
    )
    g.add_argument(
        "--hidden", type=int, help="hidden width (shortcut for --set hidden=N)"
    )
    g.add_argument(
        "--dropout", type=float, help="dropout (shortcut for --set dropout=P)"
    )
    g = p.add_argument_group("integration (depth as time: T = layers x dt)")
    g.add_argument("--solver", help=f"solver: {', '.join(SOLVER_NAMES)}")
    g.add_argument("--layers", type=int, help="number of steps (layers)")
    g.add_argument("--dt", type=float, help="step size (families with a step)")
    g.add_argument("--rtol", type=float, help="adaptive solvers: relative tolerance")
    g.add_argument("--atol", type=float, help="adaptive solvers: absolute tolerance")
    g.add_argument(
        "--allow-unstable",
        action="store_true",
        default=None,
        help="train even if --dt is outside the stable range at init",
    )
    g.add_argument(
        "--grad-checkpoint",
        action="store_true",
        default=None,
        help="checkpointed gradients (memory ~ sqrt(layers))",
    )
    g = p.add_argument_group("protocol and data")
    g.add_argument(
        "--split",
        choices=["public", "geom-gcn"],
        help="split family (default: the dataset's standard one)",
    )
    g.add_argument(
        "--splits",
        type=lambda s: parse_list(s, int),
        help="which splits to run, e.g. 0,1,2 (default all)",
    )
    g.add_argument("--seeds", type=int, help="runs (initialisations) per split")
    g.add_argument("--seed", type=int, help="base seed")
    g.add_argument(
        "--self-loops",
        choices=["yes", "no"],
        help="self-loops, for families with the option (graff, grand)",
    )
    g.add_argument(
        "--normalize-features",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="row-normalise the features",
    )
    g.add_argument(
        "--edges",
        choices=["symmetrize", "directed"],
        help="edge handling ('directed' is refused, with the reason)",
    )
    g = p.add_argument_group("training")
    g.add_argument("--optimizer", help=f"{', '.join(OPTIMIZERS)}")
    g.add_argument("--lr", type=float, help="learning rate")
    g.add_argument("--weight-decay", type=float, help="weight decay")
    g.add_argument("--epochs", type=int, help="maximum epochs")
    g.add_argument(
        "--scheduler",
        type=_schedule,
        help="learning-rate schedule per epoch: cosine, or step:K:GAMMA "
        "(default constant)",
    )
    g.add_argument(
        "--patience",
        type=int,
        help="early stopping: epochs without validation improvement",
    )
    g.add_argument(
        "--select",
        choices=["val_acc", "val_loss"],
        help="validation metric that selects the reported epoch",
    )
    g.add_argument(
        "--report-test-max",
        action="store_true",
        default=None,
        help="also report max test accuracy over epochs (labelled; "
        "test-selected, as some authors' drivers did)",
    )
    g.add_argument(
        "--std",
        choices=["population", "sample"],
        help="standard deviation in the summary (default population)",
    )
    g.add_argument(
        "--checkpoint-every",
        type=int,
        help="epochs between resumable checkpoints (default 10)",
    )
    g.add_argument("--dtype", choices=["float32", "float64"])
    g.add_argument("--threads", type=int,
                   help="torch CPU threads (default torch's); 1 is much faster on a "
                   "busy machine. Float sums may differ in the last bits between "
                   "thread counts, so resume with the same value")
    g.add_argument("--device", help="torch device, e.g. cpu or cuda")


def config_from_args(args: argparse.Namespace, **extra: Any) -> RunConfig:
    """The :class:`RunConfig` from a preset (if any) and the flags over it."""
    base: dict[str, Any] = load_preset(args.preset) if args.preset else {}
    model_args = dict(args.model_args or [])
    if args.hidden is not None:
        model_args["hidden"] = args.hidden
    if args.dropout is not None:
        model_args["dropout"] = args.dropout
    self_loops = None if args.self_loops is None else args.self_loops == "yes"
    overrides = {
        "model": args.model,
        "dataset": args.dataset,
        "data_root": args.data_root,
        "model_args": model_args,
        "solver": args.solver,
        "layers": args.layers,
        "dt": args.dt,
        "rtol": args.rtol,
        "atol": args.atol,
        "allow_unstable": args.allow_unstable,
        "grad_checkpoint": args.grad_checkpoint,
        "split": args.split,
        "splits": args.splits,
        "seeds": args.seeds,
        "seed": args.seed,
        "self_loops": self_loops,
        "normalize_features": args.normalize_features,
        "edges": args.edges,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "epochs": args.epochs,
        "scheduler": args.scheduler,
        "patience": args.patience,
        "select": args.select,
        "report_test_max": args.report_test_max,
        "std": args.std,
        "checkpoint_every": args.checkpoint_every,
        "dtype": args.dtype,
        "device": args.device,
        **extra,
    }
    return RunConfig.from_dict(merge(base, overrides), where="graphpde")


def _default_out(kind: str, cfg: RunConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = Path(cfg.dataset).stem if cfg.dataset.endswith(".npz") else cfg.dataset
    data = data.replace(":", "_").replace(",", "_").replace("=", "")
    return Path("runs") / f"{kind}-{cfg.model}-{data}-{stamp}"


# -- train --------------------------------------------------------------------------
def _add_train(sub: Any) -> None:
    p = sub.add_parser(
        "train",
        help="train a model; writes a run folder",
        description="Train a model under a protocol (all splits x seeds) and write "
        "a run folder: config.json, per-run metrics.json and checkpoints, "
        "summary.json/.md, learning_curves.png and energy.png. Examples:\n"
        "  graphpde train --dataset cora --model pde-gcn-h --layers 64 --dt 0.5\n"
        "  graphpde train --preset grand-l-cora\n"
        "  graphpde train --dataset my_graph.npz --model gcn\n"
        "  graphpde train --out runs/x --resume   (continue an interrupted run)",
        epilog=_EPILOG_DATA,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, help="run folder (default runs/train-...)")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --out (bit-identical on CPU)",
    )
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g = p.add_argument_group(
        "distributed (launch with torchrun --nproc-per-node K -m models train ...)"
    )
    g.add_argument(
        "--distributed",
        action="store_true",
        help="full-graph training on a partitioned graph, one part per process "
        "(gcn, res-gcn, gcnii, graphcon); rank 0 writes the run folder",
    )
    g.add_argument(
        "--dist-timeout",
        type=float,
        default=600.0,
        help="seconds a collective waits for a failed peer (default 600)",
    )
    p.set_defaults(func=_train)


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _train(args: argparse.Namespace) -> int:
    from models.experiments.train import run

    if args.distributed:
        return _train_distributed(args)
    cfg = _resume_config(args) if args.resume else config_from_args(args)
    out = args.out or _default_out("train", cfg)
    summary = run(
        cfg, out, resume=args.resume, progress=_progress(args), plots=not args.no_plots
    )
    from models.experiments.train import format_summary

    print(format_summary(summary))
    print(f"run folder: {out}")
    return 0


def _resume_config(args: argparse.Namespace) -> RunConfig:
    """The configuration of the run folder ``--out`` that ``--resume`` continues."""
    from models.experiments.runfolder import read_json

    if args.out is None:
        raise SystemExit("graphpde train: --resume needs --out (the run folder).")
    cfg_path = args.out / "config.json"
    if not cfg_path.exists():
        raise SystemExit(
            f"graphpde train: --resume needs a run folder with config.json; got "
            f"{str(args.out)!r}, which has none. Start it without --resume."
        )
    own = {"out", "resume", "quiet", "no_plots", "command", "func", "threads",
           "dist_timeout", "distributed"}
    given = sorted(
        k for k, v in vars(args).items() if k not in own and v not in (None, [])
    )
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise SystemExit(
            f"graphpde train: with --resume the options come from the run "
            f"folder's config.json; got {flags}. Drop them (a changed run "
            "needs a new --out)."
        )
    return RunConfig.from_dict(read_json(cfg_path))


def _train_distributed(args: argparse.Namespace) -> int:
    """``graphpde train --distributed``: one rank of a torchrun launch."""
    from models.experiments.distributed import init_from_env, run_distributed

    if args.dist_timeout <= 0:
        raise SystemExit(
            f"graphpde train: `--dist-timeout` must be > 0 seconds; got "
            f"{args.dist_timeout}."
        )
    # with --resume every rank reads the folder's config.json (rank 0 reads the
    # checkpoints and broadcasts them)
    cfg = _resume_config(args) if args.resume else config_from_args(args)
    try:
        rank, _ = init_from_env(cfg.device, args.dist_timeout)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    import torch.distributed as dist

    try:
        # every rank writes into rank 0's folder (the default name has a time stamp)
        box = [str(args.out or _default_out("train", cfg))]
        dist.broadcast_object_list(box, 0)
        out = Path(box[0])
        summary = run_distributed(
            cfg, out, resume=args.resume, progress=_progress(args),
            plots=not args.no_plots,
        )
        if rank == 0:
            from models.experiments.train import format_summary

            print(format_summary(summary))
            print(f"run folder: {out}")
    finally:
        dist.destroy_process_group()
    return 0


# -- stability ----------------------------------------------------------------------
def _add_stability(sub: Any) -> None:
    p = sub.add_parser(
        "stability",
        help="linear stability of a model's right-hand side under every solver",
        description="Linearise the model's right-hand side at the encoded initial "
        "state and print, for every compatible solver, the largest stable fixed "
        "step and whether the model's step is inside it. With --run, the trained "
        "(selected) model of a run folder; otherwise a freshly initialised one.",
        epilog=_EPILOG_DATA,
    )
    add_run_options(p)
    p.add_argument("--run", type=Path, help="a run folder: use its trained model")
    p.set_defaults(func=_stability)


def _stability(args: argparse.Namespace) -> int:
    import torch

    from models.experiments.data import load_dataset
    from models.experiments.train import build_model, load_trained

    if args.run is not None:
        cfg, ds, trained = load_trained(args.run, where="stability")
        model = trained[0][0]
        what = f"trained model of run {trained[0][1]['split']}/{trained[0][1]['seed']}"
    else:
        cfg = config_from_args(args)
        ds = load_dataset(cfg)
        torch.manual_seed(cfg.seed)
        model = build_model(cfg, ds)
        what = "model at initialisation"
    report = model.stability_report(ds.x.to(cfg.device), ds.graph.to(cfg.device))
    print(f"{cfg.model} on {ds.name}, {what}")
    print(report)
    return 0


# -- presets ------------------------------------------------------------------------
def _add_presets(sub: Any) -> None:
    p = sub.add_parser(
        "presets",
        help="list the shipped presets",
        description="List the shipped presets (one per model x "
        "dataset) with their published target, or print one.",
    )
    p.add_argument("name", nargs="?", help="print this preset as JSON")
    p.set_defaults(func=_presets)


def _presets(args: argparse.Namespace) -> int:
    if args.name:
        print(json.dumps(load_preset(args.name), indent=2))
        return 0
    for name in list_presets():
        data = load_preset(name)
        pub = data.get("published") or {}
        target = f"published {pub['value']}" if pub.get("value") is not None else ""
        print(f"{name:<28} {data['model']:<12} {data['dataset']:<10} {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full ``graphpde`` parser (every subcommand registered)."""
    parser = argparse.ArgumentParser(
        prog="graphpde",
        description="Train, sweep, analyse and reproduce PDE-inspired graph neural "
        "networks. `graphpde <command> --help` documents each command.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    sub.required = True
    # Imported here: the subcommand modules import this module's helpers.
    from models.experiments import reproduce, sweep, tune
    from models.sets import cli as sets_cli

    _add_train(sub)
    sweep.add_parser(sub)
    _add_stability(sub)
    reproduce.add_parser(sub)
    tune.add_parser(sub)
    sets_cli.add_parser(sub)
    _add_presets(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``graphpde`` console script.

    An error in the user's input (unknown name with a did-you-mean, bad value,
    missing file, incompatible model and solver, unstable step) prints one
    ``graphpde <command>: error: ...`` message and exits with status 2. Set
    ``GRAPHPDE_TRACEBACK=1`` to see the traceback instead. Numerical failures
    (a solver giving up, CG not converging) keep their traceback and notes.
    """
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    threads = getattr(args, "threads", None)
    if threads is not None:
        if threads < 1:
            parser.exit(
                2, f"graphpde: error: `--threads` must be >= 1; got {threads}.\n"
            )
        import torch

        torch.set_num_threads(threads)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError) as exc:
        if os.environ.get("GRAPHPDE_TRACEBACK"):
            raise
        notes = "".join(f"\n  {n}" for n in getattr(exc, "__notes__", []))
        parser.exit(2, f"graphpde {args.command}: error: {exc}{notes}\n")
