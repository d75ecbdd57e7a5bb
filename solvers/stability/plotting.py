"""Stability-region plots: :func:`plot_stability_regions` (lazy matplotlib import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from solvers._checks import check_real
from solvers.linear_stability import Oscillator
from solvers.stability.analysis import (
    _check_window,
    _describe,
    _name,
    _num,
    imag_axis_bound,
    stability_region,
)

__all__ = ["plot_stability_regions"]


def _as_eigenvalues(lam: Any) -> np.ndarray:
    if isinstance(lam, Tensor):
        lam = lam.detach().cpu().numpy()
    arr = np.asarray(lam).reshape(-1)
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ValueError(
            "plot_stability_regions: `lam` must be a finite array of eigenvalues (e.g. "
            f"torch.linalg.eigvalsh(L.to_dense())); got {lam!r}."
        )
    return arr


def plot_stability_regions(
    solvers: Any,
    *,
    lam: Any = None,
    dt: float | Sequence[float] | None = None,
    ax: Any = None,
    re: tuple[float, float] = (-5.0, 1.0),
    im: tuple[float, float] = (-4.0, 4.0),
    n: int = 400,
    equation: str = "heat",
    title: str | None = None,
):
    """Draw each method's stability region boundary and, optionally, a scaled spectrum.

    The boundary is the contour ``root_condition = 1`` (lightly filled inside);
    second-order methods are drawn as their imaginary-axis segment. With ``lam`` and
    ``dt`` the scaled spectrum is overlaid as points: ``z_i = -dt lambda_i`` for
    ``equation="heat"`` (``y' = -L y``), ``z = +-i dt sqrt(lambda_i)`` for ``"wave"``
    (``x'' = -L x``), and ``z_i = dt mu_i`` for ``"jacobian"``, where ``lam`` holds
    (complex) eigenvalues ``mu_i`` of the Jacobian of a right-hand side ``y' = f(y)``
    (e.g. :func:`~solvers.stability.jacobian_spectrum` of a learned one). A point
    outside a region means that mode grows with that method. ``dt`` may be a list
    of steps: one set of points per step (a method run at several steps, or
    methods run at different ones), each with its own marker and legend entry.

    matplotlib is imported lazily. Without ``ax`` a standalone
    :class:`matplotlib.figure.Figure` is created (no pyplot state; works with the Agg
    backend and in notebooks); save it with ``fig.savefig(path)``.

    Args:
        solvers: A solver value or a list of them.
        lam: Optional eigenvalues (array/tensor), e.g. the graph Laplacian's spectrum.
        dt: Step size used to scale ``lam`` (required with ``lam``), or a list of
            step sizes.
        ax: Optional matplotlib ``Axes`` to draw into.
        re: ``Re z`` window.
        im: ``Im z`` window.
        n: Grid points per axis.
        equation: ``"heat"``, ``"wave"`` or ``"jacobian"``: how ``lam`` maps into
            the ``z`` plane.
        title: Axes title (default: ``"Stability regions"`` and the ``dt``).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: for ``lam`` without ``dt``, a bad ``dt``/``equation``/window, an
            empty solver list or an empty list of steps, or complex ``lam`` for
            ``"heat"``/``"wave"`` (Laplacian eigenvalues are real; use
            ``"jacobian"`` for complex ones).
        TypeError: if a solver has no region in the ``z`` plane (a damped
            oscillator, an unanalysed method) or ``dt`` is not a number.

    Example:
        >>> evals = torch.linalg.eigvalsh(Laplacian(graph).to_dense())
        >>> fig = plot_stability_regions([Euler(), RK4()], lam=evals, dt=0.3)
        >>> fig.savefig("stability.png")
    """
    where = "plot_stability_regions"
    solver_list = list(solvers) if isinstance(solvers, list | tuple) else [solvers]
    if not solver_list:
        raise ValueError(
            "plot_stability_regions: `solvers` is empty; pass at least one solver."
        )
    if equation not in ("heat", "wave", "jacobian"):
        raise ValueError(
            f"{where}: `equation` must be 'heat', 'wave' or 'jacobian'; got "
            f"{equation!r}."
        )
    steps: list[float] = []
    if dt is not None:
        many = isinstance(dt, list | tuple | np.ndarray)
        if many and len(dt) == 0:
            raise ValueError(
                f"{where}: `dt` must be a step or a non-empty list of steps; got an "
                "empty list. Pass dt=0.1 or dt=[0.1, 0.2]."
            )
        steps = [
            check_real(where, "dt", d, low=0.0, low_open=True)
            for d in (dt if many else [dt])
        ]
    point_sets = []
    if lam is not None:
        if dt is None:
            raise ValueError(
                f"{where}: `lam` was given without `dt`; pass dt=... to place the "
                "scaled spectrum -dt·λ_i in the z plane."
            )
        eig = _as_eigenvalues(lam)
        if equation != "jacobian" and np.iscomplexobj(eig) and np.any(eig.imag):
            raise ValueError(
                f"{where}: `lam` must be real for equation={equation!r} (eigenvalues "
                "of a symmetric Laplacian); got complex values. Pass "
                "equation='jacobian' to place dt·μ_i for Jacobian eigenvalues μ_i."
            )
        for d in steps:
            if equation == "heat":
                point_sets.append(-d * eig.real.astype(np.complex128))
            elif equation == "wave":
                w = d * np.sqrt(np.asarray(eig.real, dtype=np.complex128))
                point_sets.append(np.concatenate([1j * w, -1j * w]))
            else:
                point_sets.append(d * eig.astype(np.complex128))
    window_re, window_im = (
        _check_window(where, "re", re),
        _check_window(where, "im", im),
    )

    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if ax is None:
        fig = Figure(figsize=(6.4, 5.6))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    colors = [f"C{i % 10}" for i in range(len(solver_list))]
    handles = []
    for solver, color in zip(solver_list, colors, strict=True):
        label = _name(solver)
        if isinstance(_describe(where, solver), Oscillator):
            b = imag_axis_bound(solver)
            ax.plot(
                [0.0, 0.0], [-b, b], color=color, lw=4, solid_capstyle="butt", alpha=0.8
            )
        else:
            x, y, g = stability_region(solver, re, im, n)
            g = np.where(np.isfinite(g), g, 1e300)
            ax.contourf(x, y, g, levels=[0.0, 1.0], colors=[color], alpha=0.12)
            ax.contour(x, y, g, levels=[1.0], colors=[color], linewidths=1.5)
        handles.append(Line2D([], [], color=color, lw=2, label=label))
    ax.axhline(0.0, color="0.6", lw=0.6, zorder=0)
    ax.axvline(0.0, color="0.6", lw=0.6, zorder=0)
    label = {"heat": "−dt·λ_i", "wave": "±i dt·√λ_i", "jacobian": "dt·μ_i"}[equation]
    markers = [("x", "k"), ("+", "C3"), ("1", "0.35"), ("2", "C4")]
    for i, (d, points) in enumerate(zip(steps, point_sets, strict=False)):
        marker, color = markers[i % len(markers)]
        sc = ax.scatter(
            points.real,
            points.imag,
            s=14 if len(steps) == 1 else 22,
            color=color,
            zorder=5,
            marker=marker,
            label=label if len(steps) == 1 else f"{label}, dt = {_num(d)}",
        )
        sc.set_gid("spectrum")
        handles.append(sc)
    ax.set_xlim(*window_re)
    ax.set_ylim(*window_im)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("Re z")
    ax.set_ylabel("Im z")
    if title is None:
        title = "Stability regions"
        if len(steps) == 1:
            title += f" (dt={_num(steps[0])})"
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    return fig
