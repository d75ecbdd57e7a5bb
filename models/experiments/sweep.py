r"""``graphpde sweep``: depth, step and solver studies as one command each.

Three sweeps (``--param``):

* ``layers`` - the depth study of the over-smoothing literature. For every model
  of ``--models`` and every depth of ``--values`` a normal run folder
  ``<out>/<model>/layers-<L>/`` is trained with :func:`models.experiments.train.run`
  (resumable cell by cell; ``--resume`` skips finished cells). Each cell's
  configuration is the flags' configuration with ``model`` and ``layers`` set; a
  model's preset is applied only when ``--preset`` is given. GRAND integrates
  adaptively by default, which has no depth: unless ``--solver`` is given its
  cells use fixed-step RK4 with step 1 and ``T = L`` (GRAND paper §6.2,
  REPRODUCTION.md §3.5), and the sweep says so. Reported per cell: test and
  validation accuracy (mean ± std over the protocol's runs) and the final
  Dirichlet energy of the selected model's state (``energy_t1``, mean over runs).
* ``dt`` - depth as time at a fixed end time ``T`` (``--t-end``): for every step
  ``dt`` of ``--values``, ``layers = T / dt`` (which must be an integer) and a run
  folder ``<out>/<model>/dt-<dt>/``. Families without a step parameter are
  refused. Reported as for ``layers``, plus the right-hand-side evaluations.
* ``solver`` - a **trained** model (the selected model of every run of the
  finished run folder ``--run``) evaluated, without retraining, under every
  compatible solver and step: Euler, Heun and RK4 at the model's own step, half
  and double it; Dopri5 at ``rtol/atol`` 1e-3/1e-6 and 1e-6/1e-9; leapfrog,
  two-step leapfrog and symplectic Euler where the term is second order;
  implicit Euler and Crank-Nicolson (CG) where it is linear. Reported per solver:
  test and validation accuracy (mean over runs), right-hand-side evaluations,
  wall time of the forward pass, the largest stable step of the learned
  right-hand side and whether the step is inside it
  (:meth:`~models.model.GraphPDEModel.stability_report` linearised at the encoded
  state; ``-`` for adaptive and unconditionally stable solvers). Incompatible
  solvers are listed as skipped with the reason; a solver that fails (a
  :class:`~solvers.SolveFailed`, a non-finite output) is listed as failed with
  its message. This answers "which trained networks survive a solver swap".

Every sweep writes ``sweep.md`` (the table), ``sweep.json`` (every number) and
``sweep.png`` (its main figure) into its folder.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from graphops._checks import describe
from models.experiments import train
from models.experiments.config import RunConfig
from models.experiments.data import load_dataset
from models.experiments.registry import (
    MODELS,
    make_solver,
    resolve,
    set_solver,
)
from models.experiments.runfolder import read_json, write_json
from models.graphcon import StepDropout
from models.model import GraphPDEModel, accepts
from solvers import (
    AbstractAdaptiveSolver,
    AbstractSolver,
    Leapfrog,
    LinearTerm,
    SecondOrderTerm,
)

__all__ = [
    "PARAMS",
    "add_parser",
    "dt_layers",
    "dt_sweep",
    "format_sweep",
    "layers_sweep",
    "main",
    "solver_sweep",
]

#: The sweeps ``--param`` accepts.
PARAMS: tuple[str, ...] = ("layers", "dt", "solver")

_WHERE = "graphpde sweep"
#: The row whose logits stand for the exact flow of the learned ODE.
_REFERENCE = "dopri5 rtol=1e-06"
_GRAND_NOTE = (
    "{models}: adaptive (Dopri5) by default, which has no depth; these cells use "
    "fixed-step RK4 with {what} (GRAND paper §6.2). Pass --solver to choose "
    "another."
)


# -- cells of the training sweeps ------------------------------------------------------
def _adaptive_by_default(model: str) -> bool:
    # GRAND is the family configured by an end time integrated by Dopri5.
    return MODELS[model].time_arg == "t1"


def _check_sweep_flags(base: RunConfig, param: str) -> None:
    if base.layers is not None:
        raise ValueError(
            f"{_WHERE}: `--layers` must be left unset, the {param} sweep sets the "
            f"depth of each cell; got --layers {base.layers}. Drop it."
        )
    if param == "dt" and base.dt is not None:
        raise ValueError(
            f"{_WHERE}: `--dt` must be left unset, the dt sweep sets the step of "
            f"each cell (--values); got --dt {base.dt:g}. Drop it."
        )


def dt_layers(t_end: float, dt: float) -> int:
    """The number of steps of size ``dt`` that reach ``t_end`` exactly.

    Args:
        t_end: End time ``T > 0``.
        dt: Step ``> 0``.

    Returns:
        ``round(T / dt)``.

    Raises:
        ValueError: ``T / dt`` is not an integer within 1e-9, or a non-positive
            value.
    """
    for key, value in (("--t-end", t_end), ("dt", dt)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(
                f"{_WHERE}: `{key}` must be a number; got {describe(value)}."
            )
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"{_WHERE}: `{key}` must be a positive number; got {value!r}."
            )
    n = t_end / dt
    if abs(n - round(n)) > 1e-9 or round(n) < 1:
        raise ValueError(
            f"{_WHERE}: each dt must divide the end time into a whole number of "
            f"steps (depth as time: layers = T / dt); got T = {t_end:g}, dt = "
            f"{dt:g}, T / dt = {n:.10g}. Pick dt = T / n for integers n, e.g. "
            f"{t_end / max(1, math.ceil(n)):g} or {t_end / max(1, math.floor(n)):g}."
        )
    return int(round(n))


def _cells(
    base: RunConfig,
    param: str,
    models: list[str],
    values: list[float],
    t_end: float | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The (model, value, config, folder) of every cell, and notes for the output."""
    cells: list[dict[str, Any]] = []
    fixed_grand = [m for m in models if _adaptive_by_default(m) and base.solver is None]
    notes = []
    if fixed_grand:
        what = (
            "step 1 and end time T = layers"
            if param == "layers"
            else f"step dt and end time T = {t_end:g}"
        )
        notes.append(_GRAND_NOTE.format(models=", ".join(fixed_grand), what=what))
    for m in models:
        spec = MODELS[m]
        if param == "dt":
            # The registry's own error for a family without a step parameter.
            spec.depth_args(None, float(values[0]), {})
        for v in values:
            solver = "rk4" if m in fixed_grand else base.solver
            if param == "layers":
                layers, dt, folder = int(v), base.dt, f"layers-{int(v)}"
            else:
                assert t_end is not None
                layers, dt, folder = dt_layers(t_end, float(v)), float(v), f"dt-{v:g}"
            cfg = dataclasses.replace(
                base, model=m, layers=layers, dt=dt, solver=solver
            )
            cells.append(
                {
                    "model": m,
                    "value": v,
                    "layers": layers,
                    "dt": dt,
                    "solver": solver,
                    "cfg": cfg,
                    "folder": f"{m}/{folder}",
                }
            )
    return cells, notes


def _validate(cells: list[dict[str, Any]]) -> None:
    """Build every cell's model once, so a bad option fails before any training."""
    datasets: dict[str, Any] = {}
    for cell in cells:
        cfg = cell["cfg"]
        key = repr(
            (cfg.dataset, cfg.data_root, cfg.split, cfg.dtype, cfg.normalize_features)
        )
        if key not in datasets:
            datasets[key] = load_dataset(cfg)
        ds = datasets[key]
        try:
            torch.manual_seed(cfg.seed)
            model = train.build_model(cfg, ds)
            train.check_step(cfg, model, ds)
        except ValueError as exc:
            raise type(exc)(
                f"{exc} (sweep cell {cell['folder']}: model {cell['model']}, "
                f"layers {cell['layers']}, dt {cell['dt']}, solver {cell['solver']})"
            ) from exc


def _sweep_header(
    param: str, base: RunConfig, models: list[str], values: list[Any], extra: dict
) -> dict[str, Any]:
    return {
        "param": param,
        "models": models,
        "values": values,
        **extra,
        "base_config": base.to_dict(),
    }


def _prepare_out(out: Path, header: dict[str, Any], resume: bool) -> None:
    path = out / "sweep-config.json"
    if path.exists() and not resume:
        raise FileExistsError(
            f"{_WHERE}: `--out` must be a new folder; got {str(out)!r}, which holds "
            "a sweep already. Pass --resume to continue it, or another --out."
        )
    if resume and path.exists():
        saved = read_json(path)
        if saved != header:
            diff = sorted(k for k in header if saved.get(k) != header.get(k))
            raise ValueError(
                f"{_WHERE}: with --resume the sweep must match the folder's "
                f"sweep-config.json; got differences in {diff}. Resume with the "
                "same options, or start a new --out."
            )
    write_json(path, header)


def _run_cells(
    cells: list[dict[str, Any]],
    out: Path,
    *,
    resume: bool,
    progress: bool,
    plots: bool,
) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    rows = []
    bar = tqdm(cells, desc="sweep cells", disable=not progress, file=sys.stderr)
    for cell in bar:
        bar.set_postfix_str(cell["folder"])
        folder = out / cell["folder"]
        row = {k: cell[k] for k in ("model", "value", "layers", "dt", "solver")}
        row["folder"] = cell["folder"]
        done = folder / "summary.json"
        try:
            if resume and done.exists():
                summary = read_json(done)
                row["resumed"] = True
            else:
                summary = train.run(
                    cell["cfg"], folder, resume=resume, progress=progress, plots=plots
                )
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            # A cell that cannot be trained (solver failure, step-size collapse)
            # is reported with its message; the others still run.
            row.update(status="failed", message=f"{type(exc).__name__}: {exc}")
            rows.append(row)
            continue
        results = summary["results"]
        row.update(
            status="ok",
            runs=summary["runs"],
            test_acc=summary["test_acc"],
            val_acc=summary["val_acc"],
            energy_t0=float(np.mean([r["energy_t0"] for r in results])),
            energy_t1=summary["energy_t1"],
            nfe=summary["nfe"],
            wall_s=summary["wall_s"],
            diverged=summary["diverged"],
        )
        rows.append(row)
    return rows


def _training_sweep(
    param: str,
    base: RunConfig,
    models: list[str],
    values: list[Any],
    out: Path,
    *,
    t_end: float | None,
    resume: bool,
    progress: bool,
    plots: bool,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    _check_sweep_flags(base, param)
    cells, notes = _cells(base, param, models, values, t_end)
    _validate(cells)
    extra = {"t_end": t_end} if param == "dt" else {}
    header = _sweep_header(param, base, models, values, extra)
    out = Path(out)
    _prepare_out(out, header, resume)
    rows = _run_cells(cells, out, resume=resume, progress=progress, plots=plots)
    result = {
        **{k: v for k, v in header.items() if k != "base_config"},
        "dataset": base.dataset,
        "epochs": base.epochs,
        "std_kind": base.std,
        "notes": notes,
        "cells": rows,
        "wall_s": time.perf_counter() - t0,
    }
    _write(out, result, plots)
    return result


def layers_sweep(
    base: RunConfig,
    models: list[str],
    values: list[int],
    out: Path,
    *,
    resume: bool = False,
    progress: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Train every model at every depth; the depth study (see the module docstring).

    Args:
        base: The configuration every cell starts from (its ``model`` and
            ``layers`` are replaced per cell; ``layers`` must be unset).
        models: Model names (resolved with did-you-mean).
        values: Depths (positive ints).
        out: The sweep folder; cell ``(m, L)`` is the run folder
            ``out/m/layers-L``.
        resume: Skip finished cells and resume interrupted ones.
        progress: tqdm bars.
        plots: Write ``sweep.png`` and each cell's plots.

    Returns:
        The sweep result (also ``sweep.json``; ``cells`` holds one row per cell).

    Raises:
        ValueError: bad names or values, ``base.layers`` set, or an option that a
            cell's model refuses (checked for every cell before training).
        FileExistsError: ``out`` holds a sweep and ``resume`` is False.
    """
    models = [resolve(_WHERE, "model", m, MODELS) for m in models]
    values = [_positive_int("--values", v) for v in values]
    return _training_sweep(
        "layers",
        base,
        models,
        values,
        out,
        t_end=None,
        resume=resume,
        progress=progress,
        plots=plots,
    )


def dt_sweep(
    base: RunConfig,
    models: list[str],
    values: list[float],
    t_end: float,
    out: Path,
    *,
    resume: bool = False,
    progress: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Train every model at every step ``dt`` with ``layers = t_end / dt``.

    Args:
        base: The configuration every cell starts from (``layers`` and ``dt``
            must be unset).
        models: Model names; each must have a step parameter.
        values: Steps (positive; each must divide ``t_end``).
        t_end: The fixed end time ``T``.
        out: The sweep folder; cell ``(m, dt)`` is ``out/m/dt-<dt>``.
        resume: Skip finished cells and resume interrupted ones.
        progress: tqdm bars.
        plots: Write ``sweep.png`` and each cell's plots.

    Returns:
        The sweep result (also ``sweep.json``).

    Raises:
        ValueError: a family without a step, ``T / dt`` not an integer, ``layers``
            or ``dt`` set in ``base``.
        FileExistsError: ``out`` holds a sweep and ``resume`` is False.
    """
    models = [resolve(_WHERE, "model", m, MODELS) for m in models]
    values = [_positive_float("--values", v) for v in values]
    return _training_sweep(
        "dt",
        base,
        models,
        values,
        out,
        t_end=float(t_end),
        resume=resume,
        progress=progress,
        plots=plots,
    )


# -- the solver sweep ----------------------------------------------------------------
def _entries(base_dt: float) -> list[dict[str, Any]]:
    """The (solver, step, tolerances) combinations of the solver sweep."""
    entries = []
    for name in ("euler", "heun", "rk4"):
        for factor, tag in ((1.0, "dt"), (0.5, "dt/2"), (2.0, "2dt")):
            entries.append(
                {"solver": name, "dt": base_dt * factor, "label": f"{name} {tag}"}
            )
    for rtol, atol in ((1e-3, 1e-6), (1e-6, 1e-9)):
        entries.append(
            {
                "solver": "dopri5",
                "dt": None,
                "rtol": rtol,
                "atol": atol,
                "label": f"dopri5 rtol={rtol:g}",
            }
        )
    for name in ("leapfrog", "two-step-leapfrog", "symplectic-euler"):
        entries.append({"solver": name, "dt": base_dt, "label": f"{name} dt"})
    for name in ("implicit-euler", "crank-nicolson"):
        entries.append({"solver": name, "dt": base_dt, "label": f"{name} dt"})
    return entries


def _term_kind(term: Any) -> str:
    if isinstance(term, SecondOrderTerm):
        return "second order"
    if isinstance(term, LinearTerm):
        return "linear first order"
    return "nonlinear first order"


def _skip_reason(model: GraphPDEModel, solver: AbstractSolver) -> str:
    term = model.term
    name = type(term).__name__
    if (
        isinstance(solver, Leapfrog)
        and isinstance(term, SecondOrderTerm)
        and term.velocity_dependent
    ):
        return f"plain leapfrog needs a velocity-free force; {name} uses the velocity"
    kinds = (
        solver.term_type if isinstance(solver.term_type, tuple) else (solver.term_type,)
    )
    needs = " or ".join(_term_kind_of_type(k) for k in kinds)
    return f"needs a {needs} term; {name} is {_term_kind(term)}"


def _term_kind_of_type(kind: type) -> str:
    if issubclass(kind, SecondOrderTerm):
        return "second-order"
    if issubclass(kind, LinearTerm):
        return "linear"
    return "first-order"


def _inner(solver: AbstractSolver) -> AbstractSolver:
    return solver.solver if isinstance(solver, StepDropout) else solver


def _evaluate(
    model: GraphPDEModel, ds: Any, result: dict, cfg: RunConfig
) -> dict[str, Any]:
    """One forward pass of a (solver-swapped) model: accuracy, work, time."""
    x, y, graph = (t.to(cfg.device) for t in (ds.x, ds.y, ds.graph))
    _, val_m, test_m = (m.to(cfg.device) for m in ds.split(result["split"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        with torch.no_grad():
            out = model(x, graph)
        wall = time.perf_counter() - start
    notes = [_short(str(w.message)) for w in caught]
    nfe = int(getattr(model.last_stats, "num_rhs_evals", 0) or 0)
    if not bool(torch.isfinite(out).all()):
        return {
            "failed": "non-finite output (the state blew up under this solver/step)",
            "nfe": nfe,
            "wall_s": wall,
            "warnings": notes,
        }
    return {
        "test_acc": train._accuracy(out, y, test_m),
        "val_acc": train._accuracy(out, y, val_m),
        "nfe": nfe,
        "wall_s": wall,
        "warnings": notes,
        "logits": out,
    }


def _short(message: str) -> str:
    """The first clause of a warning or note, for a table cell."""
    return message.split(". ")[0].split(" (")[0].split("; ")[0].strip()


def _stable_steps(
    model: GraphPDEModel, ds: Any, cfg: RunConfig, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    """Largest stable step of every candidate solver for one trained model.

    One :meth:`~models.model.GraphPDEModel.stability_report` per trained model:
    the linearisation (the dominant Jacobian eigenvalue of the learned right-hand
    side at the encoded state) does not depend on the solver, so it is estimated
    once and each solver's bound read from its row. Keys are solver reprs (the
    inner solver of a step dropout), values ``(dt_max, note)``; ``"error"`` holds
    why there is no estimate.
    """
    x, graph = ds.x.to(cfg.device), ds.graph.to(cfg.device)
    candidates, seen = [_inner(model.solver)], {repr(_inner(model.solver))}
    for entry in entries:
        if entry.get("own"):
            continue
        solver = make_solver(entry["solver"], where=_WHERE)
        if repr(solver) not in seen and accepts(solver, model.term):
            seen.add(repr(solver))
            candidates.append(solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            report = model.stability_report(x, graph, solvers=candidates)
        except (ValueError, RuntimeError) as exc:
            return {"error": _short(str(exc).split(": ", 1)[-1])}
    steps: dict[str, Any] = {row.solver: (row.dt_max, row.note) for row in report.rows}
    if not report.converged:
        steps["warning"] = "the eigenvalue estimate did not converge"
    return steps


def _stability(model: GraphPDEModel, steps: dict[str, Any]) -> dict[str, Any]:
    """The stable-step verdict of a (solver-swapped) model from its bounds."""
    if "error" in steps:
        note = f"no stability estimate: {steps['error']}"
        return {"dt_max": None, "inside": None, "note": note}
    dt_max, note = steps[repr(_inner(model.solver))]
    # The step the solve actually takes, as stability_report reads it (the
    # largest step of the fixed grid, which lands on every layer boundary); no
    # verdict for an adaptive step or an unconditionally stable solver.
    dt = model._fixed_dt()
    if dt is None or dt_max is None:
        return {"dt_max": dt_max, "inside": None, "note": note}
    return {"dt_max": dt_max, "inside": dt <= dt_max, "note": note}


def _own_entry(model: GraphPDEModel) -> dict[str, Any]:
    adaptive = isinstance(model.solver, AbstractAdaptiveSolver)
    entry: dict[str, Any] = {
        "solver": repr(model.solver),
        "dt": None if adaptive else model.dt0,
        "label": f"own: {model.solver!r}",
        "own": True,
    }
    if adaptive:
        entry["rtol"] = getattr(model.controller, "rtol", None)
        entry["atol"] = getattr(model.controller, "atol", None)
    return entry


def solver_sweep(
    run: Path,
    out: Path,
    *,
    dt: float | None = None,
    progress: bool = False,
    plots: bool = True,
) -> dict[str, Any]:
    """Evaluate the trained models of a run folder under every compatible solver.

    The model of each run (``runs/*/best.pt``) is rebuilt from the folder's
    ``config.json``, loaded, put in evaluation mode and, for every combination
    of :func:`_entries` its term accepts, copied and given that solver and step
    with :func:`~models.experiments.registry.set_solver` (nothing is retrained).
    The first row is the model's own solver, as trained.

    Args:
        run: A finished ``graphpde train`` folder.
        out: The sweep folder (``sweep.md``, ``sweep.json``, ``sweep.png``).
        dt: The base step ``dt`` of the fixed-step rows (``None``: the model's own
            step; for a model trained with an adaptive solver, the mean step of
            its own solve).
        progress: A tqdm bar over the solvers.
        plots: Write ``sweep.png``.

    Returns:
        The sweep result (also ``sweep.json``): one row per combination with
        ``status`` ``"ok"``, ``"failed"`` (with ``message``) or ``"skipped"``
        (with ``reason``).

    Raises:
        FileNotFoundError: ``run`` is not a finished run folder.
        FileExistsError: ``out`` already holds a solver sweep.
    """
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    out = Path(out)
    if (out / "sweep.json").exists():
        raise FileExistsError(
            f"{_WHERE}: `--out` must be a new folder; got {str(out)!r}, which holds "
            "a sweep already. Pass another --out."
        )
    if dt is not None:
        dt = _positive_float("--dt", dt)
    cfg, ds, trained = train.load_trained(run, where=_WHERE)
    first = trained[0][0]
    recorded = float(np.mean([r["test_acc"] for _, r in trained])) * 100.0
    own = _own_entry(first)
    notes = []
    base_dt = dt
    if base_dt is None:
        base_dt = first.dt0 if own["dt"] is not None else None
    if base_dt is None:
        x, graph = ds.x.to(cfg.device), ds.graph.to(cfg.device)
        with torch.no_grad():
            first(x, graph)
        steps = max(1, int(first.last_stats.num_accepted))
        base_dt = (first.t1 - first.t0) / steps
        notes.append(
            f"The model integrates adaptively; the fixed-step rows use dt = "
            f"{base_dt:.4g}, the mean step of its own solve ({steps} steps over "
            f"[{first.t0:g}, {first.t1:g}]). Pass --dt to choose another."
        )
    rows: list[dict[str, Any]] = []
    entries = [own, *_entries(base_dt)]
    steps = [_stable_steps(model, ds, cfg, entries) for model, _ in trained]
    unconverged = sum(bool(st.get("warning")) for st in steps)
    if unconverged:
        notes.append(
            f"The Jacobian eigenvalue estimate of the learned right-hand side did "
            f"not converge for {unconverged}/{len(steps)} run(s) (100 products); "
            "dt_max and inside are approximate there."
        )
    # Logits of every evaluated row, to measure each one's distance from the
    # tight-tolerance Dopri5 solution (the learned ODE's flow, to ~1e-6).
    logits: dict[int, list[torch.Tensor]] = {}
    bar = tqdm(entries, desc="solvers", disable=not progress, file=sys.stderr)
    for entry in bar:
        bar.set_postfix_str(entry["label"])
        row = {k: entry.get(k) for k in ("label", "solver", "dt", "rtol", "atol")}
        if entry.get("own"):
            swapped = [copy.deepcopy(m) for m, _ in trained]
            row["own"] = True
        else:
            solver = make_solver(entry["solver"], where=_WHERE)
            if not accepts(solver, first.term):
                row.update(status="skipped", reason=_skip_reason(first, solver))
                rows.append(row)
                continue
            swapped = []
            for model, _ in trained:
                m = copy.deepcopy(model)
                adaptive = isinstance(solver, AbstractAdaptiveSolver)
                set_solver(
                    m,
                    solver,
                    dt=None if adaptive else entry["dt"],
                    rtol=entry.get("rtol") or 1e-3,
                    atol=entry.get("atol") or 1e-6,
                    where=_WHERE,
                )
                swapped.append(m)
            row["solver"] = repr(swapped[0].solver)
            row["own"] = row["solver"] == own["solver"] and (
                entry["dt"] is not None
                and own["dt"] is not None
                and math.isclose(entry["dt"], own["dt"])
            )
        # The step the solve takes: a fixed step lands on every layer boundary, so
        # a requested step above a per-layer model's width h runs at h.
        row["dt_taken"] = swapped[0]._fixed_dt()
        evals, failure = [], None
        for idx, (m, (_, result)) in enumerate(zip(swapped, trained, strict=True)):
            try:
                ev = _evaluate(m, ds, result, cfg)
            except (RuntimeError, ValueError, FloatingPointError) as exc:
                ev = {"failed": f"{type(exc).__name__}: {str(exc).splitlines()[0]}"}
            if "failed" in ev:
                failure = failure or ev["failed"]
                continue
            ev.update(_stability(m, steps[idx]))
            evals.append(ev)
        if failure is not None:
            row.update(
                status="failed",
                message=f"{len(trained) - len(evals)}/{len(trained)} runs: {failure}",
            )
            rows.append(row)
            continue
        row.update(_aggregate(evals, cfg.std))
        logits[len(rows)] = [ev["logits"] for ev in evals]
        rows.append(row)
    if any(_clipped(r) for r in rows):
        notes.append(
            "The right-hand side jumps at layer boundaries (per-layer weights), and "
            "a fixed-step solve lands a step on each, so a requested step above the "
            "layer width runs at that width: the dt column shows requested -> taken, "
            "and such a row repeats the row of the step it actually took."
        )
    ref = next(
        (logits.get(i) for i, r in enumerate(rows) if r["label"] == _REFERENCE), None
    )
    for i, row in enumerate(rows):
        row["ode_error"] = (
            None
            if ref is None or i not in logits
            else max(
                float((a - b).abs().max()) for a, b in zip(logits[i], ref, strict=True)
            )
        )
    result = {
        "param": "solver",
        "run": str(run),
        "model": cfg.model,
        "dataset": cfg.dataset,
        "runs": len(trained),
        "recorded_test_acc": recorded,
        "base_dt": base_dt,
        "notes": notes,
        "rows": rows,
        "wall_s": time.perf_counter() - t0,
    }
    _write(out, result, plots)
    return result


def _clipped(row: dict[str, Any]) -> bool:
    """Whether the solve took a smaller step than the row requested."""
    dt, taken = row.get("dt"), row.get("dt_taken")
    return (
        dt is not None
        and taken is not None
        and taken < dt
        and not math.isclose(taken, dt, rel_tol=1e-9)
    )


def _aggregate(evals: list[dict[str, Any]], std_kind: str) -> dict[str, Any]:
    ddof = 0 if std_kind == "population" else 1

    def stats(key: str) -> dict[str, float]:
        a = np.asarray([e[key] for e in evals], dtype=np.float64) * 100.0
        std = float(a.std(ddof=ddof)) if len(a) > ddof else float("nan")
        return {"mean": float(a.mean()), "std": std}

    insides = [e["inside"] for e in evals]
    if all(v is None for v in insides):
        inside: Any = None
    elif all(v is True for v in insides):
        inside = True
    elif all(v is False for v in insides):
        inside = False
    else:
        inside = f"{sum(v is True for v in insides)}/{len(insides)}"
    limits = [e["dt_max"] for e in evals if e["dt_max"] is not None]
    warned = sorted({w for e in evals for w in e["warnings"]})
    notes = sorted({e["note"] for e in evals if e["note"]})
    return {
        "status": "ok",
        "test_acc": stats("test_acc"),
        "val_acc": stats("val_acc"),
        "nfe": float(np.mean([e["nfe"] for e in evals])),
        "wall_s": float(np.mean([e["wall_s"] for e in evals])),
        "dt_max": min(limits) if limits else None,
        "inside": inside,
        "warnings": warned,
        "stability_note": "; ".join(notes),
    }


# -- output --------------------------------------------------------------------------
def _fmt_acc(stat: dict[str, float] | None) -> str:
    if stat is None:
        return "-"
    if math.isnan(stat["std"]):
        return f"{stat['mean']:.2f}"
    return f"{stat['mean']:.2f} ± {stat['std']:.2f}"


def _fmt_inside(value: Any) -> str:
    if value is None:
        return "-"
    if value is True:
        return "yes"
    if value is False:
        return "NO"
    return str(value)


def format_sweep(result: dict[str, Any]) -> str:
    """A sweep result as Markdown (what ``sweep.md`` holds and the CLI prints)."""
    if result["param"] == "solver":
        return _format_solver(result)
    param = result["param"]
    rows = result["cells"]
    values = result["values"]
    title = (
        f"# Depth sweep on {result['dataset']}"
        if param == "layers"
        else f"# Step sweep at T = {result['t_end']:g} on {result['dataset']}"
    )
    col = "layers" if param == "layers" else "dt"
    lines = [title, ""]
    lines += [f"Note: {n}" for n in result["notes"]]
    lines += ["" if result["notes"] else None]
    lines = [ln for ln in lines if ln is not None]
    by = {(r["model"], r["value"]): r for r in rows}

    def pivot(name: str, fmt: Any) -> list[str]:
        head = "| model | " + " | ".join(f"{col} {v:g}" for v in values) + " |"
        out = [f"**{name}**", "", head, "|---" * (len(values) + 1) + "|"]
        for m in result["models"]:
            cells = []
            for v in values:
                r = by[(m, v)]
                cells.append(fmt(r) if r["status"] == "ok" else "failed")
            out.append(f"| {m} | " + " | ".join(cells) + " |")
        return out + [""]

    lines += pivot(
        f"Test accuracy (%, mean ± {result['std_kind']} std over runs)",
        lambda r: _fmt_acc(r["test_acc"]),
    )
    lines += pivot(
        "Final Dirichlet energy (state after the last step, mean over runs)",
        lambda r: f"{r['energy_t1']:.3g}",
    )
    lines += [
        "**Every cell**",
        "",
        "| model | layers | dt | solver | test acc | val acc | energy t0 | "
        "energy t1 | NFE | wall (s) | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        solver = r["solver"] or "own"
        dt = "own" if r["dt"] is None else f"{r['dt']:g}"
        if r["status"] != "ok":
            lines.append(
                f"| {r['model']} | {r['layers']} | {dt} | {solver} | "
                f"- | - | - | - | - | - | failed: {r['message']} |"
            )
            continue
        note = "; ".join(r["diverged"]) + (" (resumed)" if r.get("resumed") else "")
        lines.append(
            f"| {r['model']} | {r['layers']} | {dt} | {solver} | "
            f"{_fmt_acc(r['test_acc'])} | {_fmt_acc(r['val_acc'])} | "
            f"{r['energy_t0']:.3g} | {r['energy_t1']:.3g} | {r['nfe']:g} | "
            f"{r['wall_s']:.1f} | {note} |"
        )
    lines += [
        "",
        f"{result['epochs']} epochs per run; run folders under "
        f"<model>/{col}-<value>/. Wall time {result['wall_s']:.1f} s.",
    ]
    return "\n".join(lines) + "\n"


def _label(row: dict[str, Any]) -> str:
    own = row.get("own") and not row["label"].startswith("own:")
    return row["label"] + (" (own)" if own else "")


def _format_solver(result: dict[str, Any]) -> str:
    lines = [
        f"# Solver sweep: trained {result['model']} on {result['dataset']}",
        "",
        f"Run folder {result['run']} (selected models of {result['runs']} run(s)); "
        f"recorded test accuracy {result['recorded_test_acc']:.2f}. Evaluation "
        "only, nothing retrained. `inside`: the step is within the largest stable "
        "step of the learned right-hand side linearised at the encoded state "
        "(`-`: adaptive or unconditionally stable). `Δ logits`: largest "
        f"difference of the logits from those of {_REFERENCE} (the flow of the "
        "learned ODE), over nodes, classes and runs.",
        "",
    ]
    lines += [f"Note: {n}" for n in result["notes"]] + ([""] if result["notes"] else [])
    lines += [
        "| solver | dt | test acc | val acc | RHS evals | wall (ms) | dt_max | "
        "inside | Δ logits | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        label = _label(r)
        if _clipped(r):
            dt = f"{r['dt']:.4g} -> {r['dt_taken']:.4g}"
        elif r.get("dt") is not None:
            dt = f"{r['dt']:.4g}"
        elif r.get("rtol") is not None:
            dt = f"adaptive (rtol {r['rtol']:g}, atol {r['atol']:g})"
        else:
            dt = "adaptive"
        if r["status"] == "skipped":
            lines.append(
                f"| {label} | {dt} | - | - | - | - | - | - | - | skipped: "
                f"{r['reason']} |"
            )
            continue
        if r["status"] == "failed":
            lines.append(
                f"| {label} | {dt} | - | - | - | - | - | - | - | failed: "
                f"{r['message']} |"
            )
            continue
        dt_max = "no limit" if r["dt_max"] is None else f"{r['dt_max']:.4g}"
        err = "-" if r["ode_error"] is None else f"{r['ode_error']:.2g}"
        # A "no stable step" note repeats what dt_max = 0 says; warnings stay.
        note = "; ".join(
            r["warnings"] or ([r["stability_note"]] if r["inside"] is not False else [])
        )

        lines.append(
            f"| {label} | {dt} | {_fmt_acc(r['test_acc'])} | "
            f"{_fmt_acc(r['val_acc'])} | {r['nfe']:g} | {1000 * r['wall_s']:.1f} | "
            f"{dt_max} | {_fmt_inside(r['inside'])} | {err} | {note} |"
        )
    lines += ["", f"Wall time {result['wall_s']:.1f} s."]
    return "\n".join(lines) + "\n"


def _write(out: Path, result: dict[str, Any], plots: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "sweep.json", result)
    (out / "sweep.md").write_text(format_sweep(result))
    if plots:
        if result["param"] == "solver":
            _plot_solver(result, out / "sweep.png")
        else:
            _plot_cells(result, out / "sweep.png")


def _plot_cells(result: dict[str, Any], path: Path) -> None:
    from models.experiments.plots import _pyplot

    plt = _pyplot()
    param = result["param"]
    panels = 2 if param == "layers" else 3
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.9))
    for i, m in enumerate(result["models"]):
        rows = [r for r in result["cells"] if r["model"] == m]
        xs = np.array([r["value"] for r in rows], dtype=float)
        ok = [r for r in rows if r["status"] == "ok"]

        def col(key: Any, rows: list = rows, ok: list = ok) -> np.ndarray:
            return np.array([key(r) if r in ok else np.nan for r in rows], dtype=float)

        acc = col(lambda r: r["test_acc"]["mean"])
        err = col(lambda r: r["test_acc"]["std"])
        energy = col(lambda r: r["energy_t1"])
        # A zero or negative energy has no place on a log axis.
        energy = np.where(energy > 0, energy, np.nan)
        c = f"C{i % 10}"
        axes[0].errorbar(
            xs,
            acc,
            yerr=np.nan_to_num(err),
            fmt="o-",
            color=c,
            capsize=3,
            ms=4,
            label=m,
        )
        axes[1].plot(xs, energy, "o-", color=c, ms=4, label=m)
        if panels == 3:
            nfe = col(lambda r: r["nfe"])
            axes[2].plot(xs, nfe, "o-", color=c, ms=4, label=m)
    xlabel = "layers (depth)" if param == "layers" else "step dt (T fixed)"
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set(ylabel="test accuracy (%)", title="accuracy")
    axes[1].set(
        ylabel="Dirichlet energy at t1", yscale="log", title="final Dirichlet energy"
    )
    if panels == 3:
        axes[2].set(ylabel="RHS evaluations per forward", title="work (NFE)")
    axes[0].legend(fontsize=8)
    title = (
        f"depth sweep on {result['dataset']}"
        if param == "layers"
        else f"dt sweep at T = {result['t_end']:g} on {result['dataset']}"
    )
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_solver(result: dict[str, Any], path: Path) -> None:
    from matplotlib.patches import Patch

    from models.experiments.plots import _pyplot

    plt = _pyplot()
    rows = [r for r in result["rows"] if r["status"] != "skipped"]
    colour = {True: "C2", False: "C3", None: "0.6"}
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(rows) + 1.6))
    labels, values, colours = [], [], []
    for r in rows:
        labels.append(_label(r))
        if r["status"] == "failed":
            values.append(0.0)
            colours.append("white")
            continue
        values.append(r["test_acc"]["mean"])
        colours.append(colour.get(r["inside"], "C1"))
    y = np.arange(len(rows))
    ax.barh(y, values, color=colours, edgecolor="k", linewidth=0.5)
    for yi, r in zip(y, rows, strict=True):
        if r["status"] == "failed":
            ax.text(1, yi, "failed", va="center", fontsize=8, color="C3")
    ax.axvline(result["recorded_test_acc"], color="k", ls="--", lw=1)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy (%)")
    ax.legend(
        handles=[
            Patch(color="C2", label="dt inside the stable range"),
            Patch(color="C3", label="dt outside it"),
            Patch(color="C1", label="some runs inside"),
            Patch(color="0.6", label="adaptive / no limit"),
            plt.Line2D([], [], color="k", ls="--", label="recorded (training)"),
        ],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    ax.set_title(f"trained {result['model']} on {result['dataset']}: solver swap")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- command line --------------------------------------------------------------------
def _positive_int(key: str, value: Any) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not number.is_integer() or number < 1:
        raise ValueError(
            f"{_WHERE}: `{key}` must hold positive integers for the layers sweep; "
            f"got {value!r}. Example: --values 2,4,8,16."
        )
    return int(number)


def _positive_float(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise ValueError(
            f"{_WHERE}: `{key}` must hold positive numbers; got {value!r}. Example: "
            "--values 1,0.5,0.25."
        )
    return number


def add_parser(sub: Any) -> None:
    """Register ``graphpde sweep`` on the ``graphpde`` subparsers."""
    from models.experiments.cli import _EPILOG_DATA, add_run_options

    p = sub.add_parser(
        "sweep",
        help="depth (layers), step (dt) or solver sweeps, with table and plot",
        description="Sweep one parameter and write sweep.md (table), sweep.json and "
        "sweep.png (main figure) into --out.\n"
        "  --param layers: train every --models at every depth of --values (one "
        "normal, resumable run folder per cell, <out>/<model>/layers-<L>/); "
        "reports test accuracy and the final Dirichlet energy per depth. GRAND "
        "cells use fixed-step RK4 with step 1, T = layers, unless --solver is "
        "given.\n"
        "  --param dt: depth as time at fixed end time --t-end: layers = T / dt for "
        "every dt of --values (T / dt must be an integer); reports accuracy, "
        "energy and RHS evaluations per dt.\n"
        "  --param solver: evaluate the trained models of the finished run folder "
        "--run, without retraining, under Euler, Heun, RK4 (dt, dt/2, 2dt), "
        "Dopri5 (two tolerances), leapfrog-type solvers (second-order terms) and "
        "implicit ones (linear terms); reports accuracy, RHS evaluations, wall "
        "time and whether dt is inside the stable range of the learned RHS.\n"
        "Examples:\n"
        "  graphpde sweep --param layers --values 2,4,8,16,32,64 \\\n"
        "      --models gcn,res-gcn,pairnorm,gcnii,pde-gcn-d,pde-gcn-h,grand,graphcon"
        " \\\n      --dataset cora --seeds 3\n"
        "  graphpde sweep --param dt --values 1,0.5,0.25,0.125 --model pde-gcn-h "
        "--t-end 8 --dataset csbm\n"
        "  graphpde sweep --param solver --run runs/train-pde-gcn-h-cora-...\n"
        "  graphpde sweep --param layers ... --out runs/s --resume  (skip finished "
        "cells)",
        epilog=_EPILOG_DATA,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g = p.add_argument_group("sweep")
    g.add_argument("--param", required=True, help="what to sweep: layers, dt, solver")
    g.add_argument(
        "--values",
        help="comma-separated values: depths (layers) or steps (dt)",
    )
    g.add_argument(
        "--models",
        help="comma-separated model names (layers, dt); --model gives one",
    )
    g.add_argument(
        "--t-end", type=float, help="dt sweep: the fixed end time T (layers = T/dt)"
    )
    g.add_argument(
        "--run",
        type=Path,
        help="solver sweep: a finished `graphpde train` run folder",
    )
    add_run_options(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", type=Path, help="sweep folder (default runs/sweep-...)")
    g.add_argument(
        "--resume",
        action="store_true",
        help="layers/dt: skip finished cells, resume interrupted ones",
    )
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=main)


def _run_option_defaults() -> dict[str, Any]:
    from models.experiments.cli import add_run_options

    p = argparse.ArgumentParser(add_help=False)
    add_run_options(p)
    return {a.dest: a.default for a in p._actions}


def _default_out(param: str, what: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    what = what.replace(":", "_").replace(",", "_").replace("=", "").replace("/", "_")
    return Path("runs") / f"sweep-{param}-{what}-{stamp}"


def main(args: argparse.Namespace) -> int:
    """Run ``graphpde sweep`` from parsed arguments; prints the table."""
    from models.experiments.cli import config_from_args, parse_list

    param = resolve(_WHERE, "--param value", args.param, PARAMS)
    progress = not args.quiet and sys.stderr.isatty()
    plots = not args.no_plots
    if param == "solver":
        defaults = _run_option_defaults()
        given = sorted(
            f"--{k.replace('_', '-')}"
            for k, d in defaults.items()
            if k != "dt" and getattr(args, k, d) != d
        )
        given += [
            f"--{k}"
            for k in ("values", "models", "t_end")
            if getattr(args, k) is not None
        ]
        if given:
            raise ValueError(
                f"{_WHERE}: `--param solver` evaluates the trained models of --run "
                f"with that folder's own configuration, so run options must be left "
                f"unset (only --dt, the base step, is read); got {', '.join(given)}. "
                "Drop them."
            )
        if args.run is None:
            raise ValueError(
                f"{_WHERE}: `--param solver` needs `--run`, a finished `graphpde "
                "train` folder; got none. Train one first (graphpde train ... --out "
                "RUN)."
            )
        out = args.out or _default_out("solver", Path(args.run).name)
        result = solver_sweep(args.run, out, dt=args.dt, progress=progress, plots=plots)
    else:
        if args.run is not None:
            raise ValueError(
                f"{_WHERE}: `--run` belongs to `--param solver`; got it with --param "
                f"{param}. Drop it."
            )
        if not args.values:
            raise ValueError(
                f"{_WHERE}: `--values` must list the {param} values to sweep; got "
                "none. Example: --values "
                + ("2,4,8,16." if param == "layers" else "1,0.5,0.25.")
            )
        names = parse_list(args.models) if args.models else []
        if not names and args.model:
            names = [args.model]
        if not names:
            raise ValueError(
                f"{_WHERE}: `--models` must name at least one model; got none. "
                f"Example: --models gcn,pde-gcn-h (known: {', '.join(MODELS)})."
            )
        names = [resolve(_WHERE, "model", n, MODELS) for n in names]
        if param == "dt" and args.t_end is None:
            raise ValueError(
                f"{_WHERE}: `--t-end` (the fixed end time T) is required by the dt "
                "sweep; got none. Example: --t-end 8 --values 1,0.5,0.25."
            )
        if param == "layers" and args.t_end is not None:
            raise ValueError(
                f"{_WHERE}: `--t-end` belongs to `--param dt`; got --t-end "
                f"{args.t_end:g} with --param layers. Drop it."
            )
        base = config_from_args(args, model=names[0])
        out = args.out or _default_out(param, base.dataset)
        values = parse_list(args.values)
        if param == "layers":
            result = layers_sweep(
                base,
                names,
                values,
                out,
                resume=args.resume,
                progress=progress,
                plots=plots,
            )
        else:
            result = dt_sweep(
                base,
                names,
                values,
                args.t_end,
                out,
                resume=args.resume,
                progress=progress,
                plots=plots,
            )
    print(format_sweep(result))
    print(f"sweep folder: {out}")
    return 0
