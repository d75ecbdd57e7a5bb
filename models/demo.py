"""`make demo`: over-smoothing as diffusion, trained deep networks, and every solver.

Runs on built-in synthetic data (no download) and writes PNG plots to ``--out``:

1. **Over-smoothing is diffusion.** Repeated explicit Euler steps of heat flow
   with the GCN Laplacian, ``x <- x - h L_gcn x`` (``h = 1`` is exactly the
   propagation ``A_gcn x`` of a GCN layer without weights), on a contextual SBM
   drive the Dirichlet energy and the mean average distance of the features to
   zero: depth acts as time. Table + ``oversmoothing.png``.
2. **Depth study of trained networks.** A GCN (explicit Euler of a diffusion,
   step 1) and a PDE-GCN_H (leapfrog of a wave equation) trained at 2, 4, 8, 16
   and 32 layers on a contextual SBM with the experiments core
   (:func:`models.experiments.train.train_one`: model selection on validation
   accuracy, test accuracy at the best validation epoch). Table of test accuracy
   and the Dirichlet energy of the selected model's final hidden state per depth,
   + ``depth.png``; the run folders go to ``runs/``.
3. **Swapping the solver is one line.** Heat flow ``y' = -L y`` on a ring of
   cliques, integrated by every solver, compared with the exact solution from an
   eigendecomposition: error, steps, RHS evaluations, linear iterations, time and
   the CFL bound each was run under, and why Heun can be less accurate than Euler
   near the stability limit. Table + ``stability_regions.png`` (each method's
   stability region with the graph's spectrum scaled by the step(s) that method
   actually ran with).

``--quick`` runs a tiny configuration (a smoke test, not a result).
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from graphops import (
    Laplacian,
    dirichlet_energy,
    edge_homophily,
    lam_max,
    mean_average_distance,
)
from graphops.datasets import csbm, ring_of_cliques
from models.experiments.config import RunConfig
from models.experiments.train import RunResult


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


#: Resolution of the demo's PNG files (dots per inch).
DPI = 150
#: Font sizes of the demo's plots (matplotlib rc parameters).
PLOT_STYLE: dict[str, float] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
}


def _pyplot():
    """``matplotlib.pyplot`` on the Agg backend (ImportError without matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: The layers of the over-smoothing table and plot markers.
_LAYERS_SHOWN = (0, 1, 2, 4, 8, 16, 32, 64)
#: The steps of part 1: h = 1 is exactly a GCN layer's propagation.
_OVERSMOOTHING_STEPS = {"h = 0.5": 0.5, "h = 1 (GCN layer: A_gcn x)": 1.0}


def oversmoothing(out: Path, *, layers: int = 64, seed: int = 0) -> str:
    """Part 1: energy and MAD of features under repeated GCN diffusion steps.

    ``x_(k+1) = x_k - h L_gcn x_k`` with ``L_gcn = I - A_gcn`` and ``A_gcn =
    D~^(-1/2) (A + I) D~^(-1/2)``: explicit Euler of heat flow with the GCN
    Laplacian; ``h = 1`` gives ``A_gcn x_k``, the propagation of a GCN layer. The
    energy is ``tr(x^T L_gcn x)`` (``dirichlet_energy(..., normalization="gcn")``),
    which is zero exactly on the steady state of this flow.
    """
    data = csbm(
        600, num_classes=3, homophily=0.8, num_features=16, mean_degree=6.0, seed=seed
    )
    g, x0 = data.graph.to(dtype=torch.float64), data.x.to(torch.float64)
    L = Laplacian(g, "gcn")
    lam = lam_max(L)
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for label, h in _OVERSMOOTHING_STEPS.items():
        x, rows = x0.clone(), []
        for k in range(layers + 1):
            if k in _LAYERS_SHOWN or k == layers:
                rows.append(
                    (
                        k,
                        float(dirichlet_energy(x, g, normalization="gcn")),
                        float(mean_average_distance(x)),
                    )
                )
            x = x - h * (L @ x)
        curves[label] = rows
    half, gcn = curves.values()
    rows = [
        [str(k), f"{e1:.3e}", f"{m1:.3f}", f"{e2:.3e}", f"{m2:.3f}"]
        for (k, e1, m1), (_, e2, m2) in zip(half, gcn, strict=True)
    ]
    text = (
        f"Over-smoothing on a contextual SBM: {g.num_nodes} nodes, "
        f"{g.num_edges} edges, 3 classes, lam_max(L_gcn) = {lam:.3f}\n"
        "x_(k+1) = x_k - h L_gcn x_k, L_gcn = I - A_gcn (explicit Euler of heat "
        "flow, stable for h < 2/lam_max); h = 1 is x_(k+1) = A_gcn x_k, the "
        "propagation of a GCN layer without weights. Energy tr(x^T L_gcn x).\n\n"
        + _table(
            ["layer k", "energy h=0.5", "MAD h=0.5", "energy h=1 (GCN)", "MAD h=1"],
            rows,
        )
    )
    try:
        plt = _pyplot()
        with plt.rc_context(PLOT_STYLE):
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
            for label, rows in curves.items():
                ks = [r[0] for r in rows]
                energy = [max(r[1], 1e-300) for r in rows]
                axes[0].semilogy(ks, energy, "o-", label=label)
                axes[1].plot(ks, [r[2] for r in rows], "o-", label=label)
            axes[0].set(
                xlabel="layer k (time = k h)",
                ylabel="Dirichlet energy tr(xᵀ L_gcn x)",
                title="Energy decays: over-smoothing",
            )
            axes[1].set(
                xlabel="layer k",
                ylabel="mean average distance (MAD)",
                title="Features become indistinguishable",
            )
            for ax in axes:
                ax.legend()
                ax.grid(alpha=0.3)
            fig.tight_layout()
            path = out / "oversmoothing.png"
            fig.savefig(path, dpi=DPI)
            plt.close(fig)
        text += f"\n\nPlot: {path}"
    except ImportError:
        text += "\n\n(matplotlib not installed: no plot; `pip install graphpde[demo]`)"
    return text


#: The models of the depth study, in table order: registry name -> label.
DEPTH_MODELS: dict[str, str] = {"gcn": "GCN", "pde-gcn-h": "PDE-GCN_H"}
#: Depths (layers = steps) of the depth study.
DEPTHS: tuple[int, ...] = (2, 4, 8, 16, 32)
#: Training settings shared by both models (the standard GCN setting).
TRAINING: dict[str, float] = {"lr": 0.01, "weight_decay": 5e-4, "dropout": 0.5}


def _check_depths(where: str, depths: Sequence[int]) -> list[int]:
    """``depths`` as a list, checked: integers >= 2, strictly increasing."""
    values = list(depths) if isinstance(depths, Sequence) else None
    if (
        not values
        or any(isinstance(d, bool) or not isinstance(d, int) for d in values)
        or any(d < 2 for d in values)
        or any(b <= a for a, b in zip(values, values[1:], strict=False))
    ):
        raise ValueError(
            f"{where}: `depths` must be a non-empty, strictly increasing sequence of "
            f"integers >= 2 (a GCN has at least 2 layers); got {depths!r}. Pass e.g. "
            "--depths 2,4,8,16,32."
        )
    return values


def _parse_depths(text: str) -> list[int]:
    """``"2,4,8"`` -> ``[2, 4, 8]`` (checked by :func:`_check_depths`)."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"demo: `--depths` must be comma-separated integers; got {text!r}. Pass "
            "e.g. --depths 2,4,8,16,32."
        ) from None
    return _check_depths("demo", values)


def depth_config(
    model: str,
    depth: int,
    *,
    epochs: int = 100,
    num_nodes: int = 600,
    homophily: float = 0.8,
    hidden: int = 32,
    h: float = 1.0,
    seed: int = 0,
    dtype: str = "float32",
) -> RunConfig:
    """The :class:`~models.experiments.config.RunConfig` of one depth-study run.

    Args:
        model: ``"gcn"`` or ``"pde-gcn-h"``.
        depth: Number of layers (steps).
        epochs: Epochs (no early stopping).
        num_nodes: Nodes of the contextual SBM (3 classes, 16 features, mean
            degree 6).
        homophily: Its expected edge homophily.
        hidden: Hidden width of both models.
        h: PDE-GCN_H's step (end time ``depth * h``); GCN steps are 1.
        seed: Seed of the graph and of the initialisation and dropout.
        dtype: ``"float32"`` or ``"float64"``.

    Returns:
        The configuration (``train_one`` runs it).
    """
    args: dict[str, float] = {"hidden": hidden, "dropout": TRAINING["dropout"]}
    if model == "pde-gcn-h":
        # The step goes in as a model argument, not `dt`: an explicit `dt` makes
        # train_one run its stability check, a Jacobian power iteration that costs
        # seconds per run. Both h = 1 and from_config's default h = 2 (tuned for
        # PDE-GCN_D on Cora) are inside leapfrog's range at initialisation on the
        # demo graph (dt_max about 3.7), but with h = 2 training raised
        # StabilityWarnings (the state grew more than 10^4-fold) and the 32-layer
        # run fell to 52% test accuracy; h = 1 raised none.
        args["h"] = h
    return RunConfig(
        model=model,
        dataset=(
            f"csbm:num_nodes={num_nodes},num_classes=3,homophily={homophily},"
            f"num_features=16,mean_degree=6.0,seed={seed}"
        ),
        name=f"demo-{model}-L{depth}",
        model_args=args,
        layers=depth,
        epochs=epochs,
        lr=TRAINING["lr"],
        weight_decay=TRAINING["weight_decay"],
        select="val_acc",
        seed=seed,
        dtype=dtype,
        description="make demo: depth study (one seed)",
    )


def depth_study(
    out: Path,
    *,
    depths: Sequence[int] = DEPTHS,
    epochs: int = 100,
    num_nodes: int = 600,
    homophily: float = 0.8,
    hidden: int = 32,
    h: float = 1.0,
    seed: int = 0,
    dtype: str = "float32",
    progress: bool = False,
) -> tuple[str, dict[str, list[RunResult]]]:
    """Part 2: GCN and PDE-GCN_H trained at each depth; accuracy and final energy.

    Each run is :func:`models.experiments.train.train_one` on split 0 with one
    seed, its folder ``out/runs/<model>-L<depth>/`` (``config.json``,
    ``metrics.json``, ``best.pt``, ``result.json``). The reported test accuracy is
    the one at the epoch of best validation accuracy; the energy is the Dirichlet
    energy of that selected model's hidden state after the last layer
    (``RunResult.energy_t1``).

    Args:
        out: Folder for ``depth.png`` and ``runs/``.
        depths: Numbers of layers, strictly increasing, each >= 2.
        epochs: Epochs per run.
        num_nodes: Nodes of the contextual SBM.
        homophily: Its expected edge homophily.
        hidden: Hidden width.
        h: PDE-GCN_H's step.
        seed: Seed of the graph and of every run.
        dtype: ``"float32"`` or ``"float64"``.
        progress: tqdm bars (runs and epochs).

    Returns:
        ``(text, results)``: the printed report and, per model name of
        :data:`DEPTH_MODELS`, the :class:`RunResult` of each depth in order.

    Raises:
        ValueError: bad ``depths`` (and the run configuration's own checks).
    """
    from tqdm.auto import tqdm

    from models.experiments.data import load_dataset
    from models.experiments.train import train_one

    depths = _check_depths("depth_study", depths)
    kw = dict(
        epochs=epochs,
        num_nodes=num_nodes,
        homophily=homophily,
        hidden=hidden,
        h=h,
        seed=seed,
        dtype=dtype,
    )
    jobs = [(m, d, depth_config(m, d, **kw)) for m in DEPTH_MODELS for d in depths]
    ds = load_dataset(jobs[0][2])
    start = time.perf_counter()
    results: dict[str, list[RunResult]] = {m: [] for m in DEPTH_MODELS}
    bar = tqdm(jobs, desc="depth study", disable=not progress, file=sys.stderr)
    for model, depth, cfg in bar:
        label = f"{DEPTH_MODELS[model]} L={depth}"
        bar.set_description(label)
        run_dir = out / "runs" / f"{model}-L{depth}"
        run_dir.mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "config.json")
        r = train_one(
            cfg, ds, split=0, seed=seed, run_dir=run_dir, progress=progress, desc=label
        )
        results[model].append(r)
    bar.close()
    wall = time.perf_counter() - start

    train_m, val_m, test_m = ds.split(0)
    chance = 1.0 / ds.num_classes
    rows = [
        [str(d)]
        + [
            cell
            for m in DEPTH_MODELS
            for cell in (
                f"{100 * results[m][i].test_acc:.1f}%",
                f"{results[m][i].energy_t1:.3e}",
            )
        ]
        for i, d in enumerate(depths)
    ]
    headers = ["depth"] + [
        col
        for label in DEPTH_MODELS.values()
        for col in (f"{label} test acc", f"{label} energy(t1)")
    ]
    text = (
        f"Contextual SBM: {ds.graph.num_nodes} nodes, {ds.graph.num_edges} edges, "
        f"{ds.num_classes} classes (chance {100 * chance:.1f}%), measured edge "
        f"homophily {edge_homophily(ds.graph, ds.y):.2f}, {ds.num_features} "
        f"features; one split of {int(train_m.sum())}/{int(val_m.sum())}/"
        f"{int(test_m.sum())} train/val/test nodes.\n"
        f"Both models: hidden {hidden}, dropout {TRAINING['dropout']}, Adam lr "
        f"{TRAINING['lr']}, weight decay {TRAINING['weight_decay']}, {epochs} "
        "epochs, no early stopping. Test accuracy at the epoch of best validation "
        "accuracy (model selection on validation only).\n"
        f"ONE seed ({seed}) per cell: differences of a few points are within "
        "seed-to-seed noise.\n"
        "GCN: L graph convolutions (Euler steps of size 1 of a diffusion). "
        f"PDE-GCN_H: L leapfrog steps of size h = {h:g} of a wave equation "
        "(from_config's default h = 2 let the trained state grow more than "
        "10^4-fold on the default demo graph).\n"
        "energy(t1): Dirichlet energy sum_e |h_j - h_i|^2 (unnormalised) of the "
        "hidden state after the last layer (what the decoder reads), of the "
        "selected model in evaluation mode.\n\n"
        + _table(headers, rows)
        + "\n\n"
        + "\n".join(
            _verdict(DEPTH_MODELS[m], depths, results[m], chance) for m in DEPTH_MODELS
        )
        + f"\n\nRun folders: {out / 'runs'}/<model>-L<depth>/ "
        f"({len(jobs)} runs, {wall:.1f} s)."
    )
    try:
        path = _depth_plot(out / "depth.png", depths, results, chance, seed=seed)
        text += f"\nPlot: {path}"
    except ImportError:
        text += "\n(matplotlib not installed: no plot; `pip install graphpde[demo]`)"
    return text, results


def _verdict(
    label: str, depths: list[int], results: list[RunResult], chance: float
) -> str:
    """One sentence on what the measured numbers of one model show."""
    first, last = results[0], results[-1]
    change = (
        f" ({last.energy_t1 / first.energy_t1:.1e}x)" if first.energy_t1 > 0 else ""
    )
    line = (
        f"{label}: test accuracy {100 * first.test_acc:.1f}% at {depths[0]} layers, "
        f"{100 * last.test_acc:.1f}% at {depths[-1]}; energy(t1) "
        f"{first.energy_t1:.2e} -> {last.energy_t1:.2e}{change}. "
    )
    margin = first.test_acc - chance
    if margin <= 0:
        return line + f"No better than chance even at {depths[0]} layers."
    lost = [
        d
        for d, r in zip(depths, results, strict=True)
        if r.test_acc - chance < margin / 2
    ]
    if lost:
        return line + (
            "Loses more than half of its margin over chance at depth "
            f"{', '.join(map(str, lost))}."
        )
    return line + (
        "Keeps more than half of its margin over chance at every depth: no "
        "collapse at these depths."
    )


def _depth_plot(
    path: Path,
    depths: list[int],
    results: dict[str, list[RunResult]],
    chance: float,
    *,
    seed: int,
) -> Path:
    """``depth.png``: test accuracy and final energy against depth (log scales)."""
    plt = _pyplot()
    with plt.rc_context(PLOT_STYLE):
        return _draw_depth_plot(plt, path, depths, results, chance, seed=seed)


def _draw_depth_plot(
    plt,
    path: Path,
    depths: list[int],
    results: dict[str, list[RunResult]],
    chance: float,
    *,
    seed: int,
) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for model, label in DEPTH_MODELS.items():
        rs = results[model]
        axes[0].plot(depths, [100 * r.test_acc for r in rs], "o-", label=label)
        axes[1].plot(depths, [max(r.energy_t1, 1e-300) for r in rs], "o-", label=label)
    axes[0].axhline(100 * chance, color="gray", ls="--", lw=1, label="chance")
    axes[0].set(
        xscale="log",
        xlabel="layers (depth)",
        ylabel="test accuracy at best validation epoch (%)",
        title=f"Accuracy vs depth (one seed: {seed})",
    )
    axes[1].set(
        xscale="log",
        yscale="log",
        xlabel="layers (depth)",
        ylabel="Dirichlet energy of the final state",
        title="Energy after the last layer",
    )
    for ax in axes:
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.minorticks_off()
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


#: Solver runs of part 3 and the stability panel each is drawn in.
_PANELS = (
    "explicit Runge-Kutta",
    "Adams-Bashforth 3",
    "adaptive Dopri5",
    "implicit (CG)",
)


def solver_runs() -> dict[str, Any]:
    """Part 3's computations: heat flow on a ring of cliques under every solver.

    Returns:
        ``{"graph", "evals", "evecs", "lam", "t1", "dt", "exact", "runs"}`` with
        ``runs`` a list of dicts (``name``, ``solver``, ``panel``, ``steps``: the
        step sizes the solver actually took, ``adaptive``, ``sol``, ``diff``: the
        error ``y(t1) - exact`` ``[N, F]``, ``error``: its max, ``wall_s``,
        ``bound``).
    """
    from solvers import (
        CG,
        RK4,
        AdamsBashforth,
        CrankNicolson,
        Dopri5,
        Euler,
        Heun,
        ImplicitEuler,
        LinearTerm,
        PIController,
        SaveAt,
        TorchDiffEq,
        solve,
    )

    g = ring_of_cliques(8, 6)
    L = Laplacian(g)
    lam = lam_max(L)
    evals, evecs = torch.linalg.eigh(L.to_dense())
    gen = torch.Generator().manual_seed(0)
    y0 = torch.randn(g.num_nodes, 4, generator=gen)
    t1 = 2.0
    exact = evecs @ (torch.exp(-evals * t1).unsqueeze(1) * (evecs.T @ y0))
    term = LinearTerm(L)
    dt = 0.9 * 2.0 / lam  # 90% of the explicit Euler limit
    rk, ab, ad, im = _PANELS
    specs = [
        ("Euler", Euler(), rk, dict(dt0=dt)),
        ("Heun", Heun(), rk, dict(dt0=dt)),
        ("RK4", RK4(), rk, dict(dt0=dt)),
        ("Euler (dt/2)", Euler(), rk, dict(dt0=dt / 2)),
        ("Heun (dt/2)", Heun(), rk, dict(dt0=dt / 2)),
        ("RK4 (dt/2)", RK4(), rk, dict(dt0=dt / 2)),
        ("AdamsBashforth(3)", AdamsBashforth(order=3), ab, dict(dt0=0.5 / lam)),
        (
            "Dopri5 + PI",
            Dopri5(),
            ad,
            dict(controller=PIController(rtol=1e-6, atol=1e-8)),
        ),
        ("ImplicitEuler + CG", ImplicitEuler(CG(rtol=1e-10)), im, dict(dt0=0.05)),
        ("CrankNicolson + CG", CrankNicolson(CG(rtol=1e-10)), im, dict(dt0=0.05)),
        (
            "TorchDiffEq(dopri5)",
            TorchDiffEq(method="dopri5", rtol=1e-6, atol=1e-8),
            None,
            dict(),
        ),
    ]
    runs = []
    for name, solver, panel, kw in specs:
        adaptive = "dt0" not in kw
        if adaptive and panel is not None:
            # record every accepted step, to draw the steps Dopri5 really took
            kw = dict(kw, saveat=SaveAt(steps=True))
        start = time.perf_counter()
        sol = solve(term, solver, y0=y0, t1=t1, **kw)
        wall = time.perf_counter() - start
        if not adaptive:
            steps = [float(sol.stats.dt)]
        elif panel is not None:
            sizes = torch.diff(sol.ts)
            steps = [float(sizes.min()), float(sizes.max())]
        else:
            steps = []
        diff = sol.ys[-1] - exact
        runs.append(
            {
                "name": name,
                "solver": solver,
                "panel": panel,
                "adaptive": adaptive,
                "steps": steps,
                "sol": sol,
                "diff": diff,
                "error": float(diff.abs().max()),
                "wall_s": wall,
                "bound": solver.max_stable_dt(lam),
            }
        )
    return {
        "graph": g,
        "evals": evals,
        "evecs": evecs,
        "lam": lam,
        "t1": t1,
        "dt": dt,
        "exact": exact,
        "runs": runs,
    }


def heun_note(result: dict[str, Any], *, smooth_below: float = 1.0) -> str:
    """Why Heun's error compares with Euler's as it does, from the measured runs.

    Near the stability limit the error of both methods is the stiffest modes'
    error, not the truncation error their order describes: per step, Euler
    multiplies the top mode by ``R(z) = 1 + z`` and Heun by ``1 + z + z^2/2``
    (``z = -dt lam_max``), against ``e^z`` for the exact flow. The note states
    those factors, both errors split into their parts on the smooth eigenmodes
    (the orthogonal projection onto the eigenvectors with ``lam_i <
    smooth_below``) and on the rest (max over nodes and features of each part),
    and the comparison at half the step.

    Args:
        result: :func:`solver_runs`'s result.
        smooth_below: Eigenvalue threshold of the "smooth" modes.

    Returns:
        The sentences (each comparison word computed from the numbers).
    """
    runs = {r["name"]: r for r in result["runs"]}
    evals, evecs, lam = result["evals"], result["evecs"], result["lam"]
    smooth = evecs[:, evals < smooth_below]
    # projections are basis-free (eigenvalues of the ring of cliques repeat)
    to_smooth = smooth @ smooth.T

    def split(r: dict[str, Any]) -> tuple[float, float]:
        part = to_smooth @ r["diff"]
        return float(part.abs().max()), float((r["diff"] - part).abs().max())

    def cmp(a: float, b: float) -> str:
        return "exceeds" if a > b else "is below"

    eu, he = runs["Euler"], runs["Heun"]
    dt = eu["steps"][0]
    z = -dt * lam
    (eu_s, eu_x), (he_s, he_x) = split(eu), split(he)
    eu2, he2 = runs["Euler (dt/2)"], runs["Heun (dt/2)"]
    z2 = -eu2["steps"][0] * lam
    return (
        f"Heun's error ({he['error']:.2e}) {cmp(he['error'], eu['error'])} "
        f"Euler's ({eu['error']:.2e}) at dt = {dt:.4f}: the step is near the "
        f"stability limit, and there the error is the stiff modes' error, not the "
        f"truncation error that the order describes (order is about small |z|). "
        f"For the top mode z = -dt lam_max = {z:.3f}: per step Euler multiplies it "
        f"by 1 + z = {1 + z:+.3f}, Heun by 1 + z + z^2/2 = {1 + z + z * z / 2:+.3f}, "
        f"the exact flow by e^z = {math.exp(z):.3f}. The error's part on the "
        f"smooth eigenmodes (lam_i < {smooth_below:g}): Heun {he_s:.1e} vs Euler "
        f"{eu_s:.1e}; on the other modes: Heun {he_x:.1e} vs Euler {eu_x:.1e} "
        f"(max over nodes and features). At dt/2 = {eu2['steps'][0]:.4f} "
        f"(z = {z2:.3f}) Heun's error ({he2['error']:.2e}) "
        f"{cmp(he2['error'], eu2['error'])} Euler's ({eu2['error']:.2e})."
    )


def stability_figure(result: dict[str, Any]) -> Any:
    """Each method's stability region with the spectrum at the steps it ran with.

    One panel per group of :data:`_PANELS`; a method run at several steps (the
    ``dt/2`` rows, the smallest and largest step Dopri5's controller accepted)
    gets one set of points per step, ``z_i = -dt lam_i``
    (:func:`solvers.stability.plot_stability_regions`).

    Args:
        result: :func:`solver_runs`'s result.

    Returns:
        The matplotlib ``Figure``.
    """
    from matplotlib.figure import Figure

    from solvers.stability import plot_stability_regions

    windows = {
        _PANELS[0]: ((-4.5, 1.0), (-3.5, 3.5)),
        _PANELS[1]: ((-1.2, 0.4), (-0.9, 0.9)),
        _PANELS[2]: ((-4.5, 1.0), (-3.5, 3.5)),
        _PANELS[3]: ((-4.5, 1.0), (-3.5, 3.5)),
    }
    fig = Figure(figsize=(12, 10.5))
    axes = fig.subplots(2, 2).ravel()
    for ax, panel in zip(axes, _PANELS, strict=True):
        runs = [r for r in result["runs"] if r["panel"] == panel]
        solvers, steps = [], []
        for r in runs:
            if repr(r["solver"]) not in map(repr, solvers):
                solvers.append(r["solver"])
            steps += [s for s in r["steps"] if all(abs(s - t) > 1e-12 for t in steps)]
        if runs[0]["adaptive"]:
            title = f"{panel}: accepted steps {steps[0]:.3g} to {steps[-1]:.3g}"
        else:
            title = f"{panel}: dt = " + ", ".join(f"{s:.4g}" for s in steps)
        (re, im) = windows[panel]
        plot_stability_regions(
            solvers,
            lam=result["evals"],
            dt=steps,
            ax=ax,
            re=re,
            im=im,
            n=300,
            title=title,
        )
    fig.suptitle(
        "Stability regions |R(z)| <= 1 and the spectrum z = -dt λ_i of the ring of "
        "cliques, at the step(s) each method ran with"
    )
    fig.tight_layout()
    return fig


def solver_comparison(out: Path) -> str:
    """Part 3: every solver on heat flow with the exact solution."""
    result = solver_runs()
    g, lam, t1 = result["graph"], result["lam"], result["t1"]
    rows = []
    for r in result["runs"]:
        sol, bound = r["sol"], r["bound"]
        if r["adaptive"]:
            dt_used = "adaptive"
        else:
            dt_used = f"{r['steps'][0]:.4f}"
        rows.append(
            [
                r["name"],
                dt_used,
                "none (A-stable)" if bound is None else f"{bound:.4f}",
                f"{r['error']:.2e}",
                str(sol.stats.num_steps),
                str(sol.stats.num_rhs_evals),
                str(sol.stats.num_linear_iters),
                f"{r['wall_s'] * 1e3:.1f} ms",
            ]
        )
    text = (
        f"Heat flow y' = -L y on a ring of 8 cliques of 6 ({g.num_nodes} nodes, "
        f"{g.num_edges} edges), "
        f"F = 4, t1 = {t1}, lam_max(L) = {lam:.3f}; exact solution from eigh(L)\n\n"
        + _table(
            [
                "solver",
                "dt",
                "CFL dt_max",
                "max error",
                "steps",
                "RHS evals",
                "linear iters",
                "time",
            ],
            rows,
        )
        + "\n\n"
        + textwrap.fill(heun_note(result), width=88)
    )
    try:
        plt = _pyplot()
        with plt.rc_context(PLOT_STYLE):
            fig = stability_figure(result)
            path = out / "stability_regions.png"
            fig.savefig(path, dpi=DPI)
        text += (
            f"\n\nPlot: {path} (each method's region |R(z)| <= 1 and the spectrum "
            "z = -dt lam_i at the step(s) that method ran with; TorchDiffEq(dopri5) "
            "is not drawn: it is the same method as Dopri5)"
        )
    except ImportError:
        text += "\n\n(matplotlib not installed: no plot)"
    return text


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m models.demo``."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--out", default="demo_out", help="folder for the PNG plots (default: demo_out)"
    )
    ap.add_argument(
        "--layers", type=int, default=64, help="diffusion steps in part 1 (default: 64)"
    )
    ap.add_argument(
        "--depths",
        default=",".join(map(str, DEPTHS)),
        help="layers of the trained models in part 2 (default: 2,4,8,16,32)",
    )
    ap.add_argument(
        "--epochs",
        type=int,
        default=100,
        help="epochs per run in part 2 (default: 100)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="tiny configuration (90 nodes, depths 2,4, 10 epochs): a smoke test",
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    a = ap.parse_args(argv)
    if a.layers < 1:
        ap.error(f"--layers must be >= 1; got {a.layers}")
    if a.epochs < 1:
        ap.error(f"--epochs must be >= 1; got {a.epochs}")
    try:
        depths = _parse_depths(a.depths)
    except ValueError as exc:
        ap.error(str(exc))
    study: dict[str, object] = {"depths": depths, "epochs": a.epochs}
    if a.quick:
        study = {"depths": [2, 4], "epochs": 10, "num_nodes": 90}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    progress = not a.quiet and sys.stderr.isatty()
    start = time.perf_counter()
    threads = torch.get_num_threads()
    # The demo graphs are small: one thread avoids OpenMP overhead.
    torch.set_num_threads(1)
    try:
        print("=" * 78)
        print("1. Over-smoothing is diffusion: depth acts as time")
        print("=" * 78)
        print(oversmoothing(out, layers=a.layers))
        print()
        print("=" * 78)
        print("2. Trained at depth: GCN (diffusion) against PDE-GCN_H (wave equation)")
        print("=" * 78)
        text, _ = depth_study(out, progress=progress, **study)
        print(text)
        print()
        print("=" * 78)
        print("3. One line swaps the solver: heat flow against its exact solution")
        print("=" * 78)
        print(solver_comparison(out))
    finally:
        torch.set_num_threads(threads)
    print(f"\nTotal wall time: {time.perf_counter() - start:.1f} s.")


if __name__ == "__main__":
    main()
