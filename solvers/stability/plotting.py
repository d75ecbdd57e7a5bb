"""Stability-region plots: :func:`plot_stability_regions` (lazy matplotlib import)."""

from __future__ import annotations

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
    dt: float | None = None,
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
    (``x'' = -L x``). A point outside a region means that mode grows with that method.

    matplotlib is imported lazily. Without ``ax`` a standalone
    :class:`matplotlib.figure.Figure` is created (no pyplot state; works with the Agg
    backend and in notebooks); save it with ``fig.savefig(path)``.

    Args:
        solvers: A solver value or a list of them.
        lam: Optional eigenvalues (array/tensor), e.g. the graph Laplacian's spectrum.
        dt: Step size used to scale ``lam`` (required with ``lam``).
        ax: Optional matplotlib ``Axes`` to draw into.
        re: ``Re z`` window.
        im: ``Im z`` window.
        n: Grid points per axis.
        equation: ``"heat"`` or ``"wave"``: how ``lam`` maps into the ``z`` plane.
        title: Axes title (default: ``"Stability regions"`` and the ``dt``).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ValueError: for ``lam`` without ``dt``, a bad ``dt``/``equation``/window, or an
            empty solver list.
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
    if equation not in ("heat", "wave"):
        raise ValueError(
            f"{where}: `equation` must be 'heat' or 'wave'; got {equation!r}."
        )
    points = None
    if lam is not None:
        if dt is None:
            raise ValueError(
                f"{where}: `lam` was given without `dt`; pass dt=... to place the "
                "scaled spectrum -dt·λ_i in the z plane."
            )
        dt = check_real(where, "dt", dt, low=0.0, low_open=True)
        eig = _as_eigenvalues(lam)
        if equation == "heat":
            points = -dt * eig.astype(np.complex128)
        else:
            w = dt * np.sqrt(np.asarray(eig, dtype=np.complex128))
            points = np.concatenate([1j * w, -1j * w])
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
    if points is not None:
        sc = ax.scatter(
            points.real,
            points.imag,
            s=14,
            color="k",
            zorder=5,
            marker="x",
            label=("−dt·λ_i" if equation == "heat" else "±i dt·√λ_i"),
        )
        sc.set_gid("spectrum")
        handles.append(sc)
    ax.set_xlim(*window_re)
    ax.set_ylim(*window_im)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("Re z")
    ax.set_ylabel("Im z")
    ax.set_title(
        title
        if title is not None
        else "Stability regions" + (f" (dt={_num(dt)})" if dt is not None else "")
    )
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    return fig
