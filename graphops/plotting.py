r"""Pictures of graphs and graph signals (matplotlib, imported when a function runs).

* :func:`spring_layout` and :func:`spectral_layout` -- node positions for graphs
  that come without coordinates (force-directed; from Laplacian eigenvectors);
* :func:`draw_graph` -- nodes coloured by a node signal, edges coloured and
  thickened by an edge signal (learned edge weights, attention);
* :func:`plot_signal_snapshots` -- one row per signal, one column per time: a
  diffusing and a travelling signal side by side.

Every function builds a standalone :class:`matplotlib.figure.Figure` (no pyplot
state, works with the Agg backend and inline in notebooks) unless it is given an
``ax``; save one with ``fig.savefig(path)``. ``import graphops`` does not import
this module or matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, check_real, describe
from graphops.graph import Graph
from graphops.spectral import laplacian_eigenvectors

__all__ = ["draw_graph", "plot_signal_snapshots", "spectral_layout", "spring_layout"]


def _check_graph(where: str, graph: Any) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(
            f"{where}: `graph` must be a graphops.Graph; got {describe(graph)}. "
            "Build one with graphops.Graph(edge_index)."
        )
    return graph


def _array(where: str, name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape`` (``-1``: any length)."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    want = "[" + ", ".join("T" if s == -1 else str(s) for s in shape) + "]"
    ok = (
        arr is not None
        and arr.ndim == len(shape)
        and all(s in (-1, a) for s, a in zip(shape, arr.shape, strict=True))
    )
    if not ok:
        raise ValueError(
            f"{where}: `{name}` must be a real array of shape {want}; got "
            f"{describe(value)}. Pass one value per node (or per edge, in "
            "graph.edge_index order)."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{where}: `{name}` must be finite; got {int((~np.isfinite(arr)).sum())} "
            "NaN or infinite entries. Plot a finite signal (e.g. before it blew up)."
        )
    return arr


def spectral_layout(graph: Graph) -> Tensor:
    """Node positions ``[N, 2]`` from the two smallest non-trivial eigenvectors.

    The coordinates are the 2nd and 3rd eigenvectors of the symmetric normalised
    Laplacian (:func:`graphops.laplacian_eigenvectors`), each scaled to
    ``[-1, 1]``: nodes that are strongly connected land close together, so
    communities appear as clusters. Deterministic (eigenvector signs are fixed).

    Args:
        graph: A graph with at least 3 nodes.

    Returns:
        Positions ``[N, 2]`` in the graph's dtype.

    Raises:
        TypeError: ``graph`` is not a :class:`~graphops.Graph`.
        ValueError: fewer than 3 nodes.

    Example:
        >>> pos = spectral_layout(graph)
        >>> pos.shape, float(pos.abs().max())
        (torch.Size([16, 2]), 1.0)
    """
    where = "spectral_layout"
    graph = _check_graph(where, graph)
    if graph.num_nodes < 3:
        raise ValueError(
            f"{where}: `graph` must have at least 3 nodes (two non-trivial "
            f"eigenvectors); got {graph.num_nodes}. Place the nodes by hand."
        )
    _, vecs = laplacian_eigenvectors(graph, 2)
    scale = vecs.abs().amax(dim=0).clamp_min(1e-300)
    return vecs / scale


def spring_layout(
    graph: Graph, *, iterations: int = 100, seed: int = 0, gravity: float = 1.0
) -> Tensor:
    r"""Force-directed node positions ``[N, 2]`` in ``[-1, 1]`` (Fruchterman-Reingold).

    Every pair of nodes repels with force ``k^2 / d`` and every edge attracts its
    end points with force ``w_e d^2 / k`` (``d`` their distance, ``k = 1/sqrt(N)``
    the ideal edge length, ``w_e`` the edge weight); a weak pull ``gravity * r``
    towards the centroid (``r`` the distance to it) keeps isolated nodes and small
    components from drifting off and squeezing the rest. Each iteration moves every
    node along its net force by at most a temperature that starts at 0.1 and
    cools linearly to zero; the nodes start at seeded uniform random positions in
    the unit square. The result is centred and scaled so that the largest
    coordinate magnitude is 1. Communities come out as clusters and isolated
    nodes are pushed to the rim (unlike :func:`spectral_layout`, which
    degenerates on disconnected graphs). Dense: ``O(N^2)`` time and memory per
    iteration, for drawing graphs of up to a few thousand nodes.

    Args:
        graph: The graph.
        iterations: Number of iterations, ``>= 1``.
        seed: Seed of the initial positions.
        gravity: Strength of the pull towards the centroid, ``>= 0`` (0: plain
            Fruchterman-Reingold).

    Returns:
        Positions ``[N, 2]`` in the graph's dtype (zeros for a single node).

    Raises:
        TypeError: ``graph`` is not a :class:`~graphops.Graph`, or ``iterations``
            or ``seed`` is not an int.
        ValueError: ``iterations < 1`` or a negative or non-finite ``gravity``.

    Example:
        >>> pos = spring_layout(graph, iterations=50)
        >>> pos.shape, float(pos.abs().max())
        (torch.Size([16, 2]), 1.0)

    References:
        Fruchterman & Reingold (1991), "Graph drawing by force-directed
        placement", Software: Practice and Experience 21(11).
    """
    where = "spring_layout"
    graph = _check_graph(where, graph)
    iterations = check_int(where, "iterations", iterations, low=1)
    seed = check_int(where, "seed", seed, low=0)
    gravity = check_real(where, "gravity", gravity, low=0.0)
    n = graph.num_nodes
    rng = np.random.default_rng(seed)
    pos = rng.random((n, 2))
    adj = np.zeros((n, n))
    i, j = graph.edge_index.detach().cpu().numpy()
    w = graph.edge_weight.detach().cpu().to(dtype=torch.float64).numpy()
    adj[i, j] = adj[j, i] = w
    k = 1.0 / np.sqrt(max(n, 1))
    temperature = 0.1
    cooling = temperature / iterations
    for _ in range(iterations):
        diff = pos[:, None, :] - pos[None, :, :]  # [N, N, 2], from j to i
        dist = np.maximum(np.linalg.norm(diff, axis=-1), 1e-3)
        # along diff / d: repulsion k^2 / d minus attraction w d^2 / k
        disp = np.einsum("ijc,ij->ic", diff, k * k / dist**2 - adj * dist / k)
        disp -= gravity * (pos - pos.mean(axis=0))
        length = np.maximum(np.linalg.norm(disp, axis=-1), 1e-12)
        pos += disp * (np.minimum(length, temperature) / length)[:, None]
        temperature -= cooling
    pos -= pos.mean(axis=0) if n else 0.0
    scale = np.abs(pos).max() if n else 0.0
    out = pos / scale if scale > 0 else np.zeros_like(pos)
    return torch.as_tensor(out, dtype=graph.dtype, device=graph.device)


def _norm(values: np.ndarray, vmin: float | None, vmax: float | None, sym: bool):
    from matplotlib.colors import Normalize

    if sym and vmin is None and vmax is None:
        m = float(np.abs(values).max()) if values.size else 1.0
        m = m if m > 0 else 1.0
        return Normalize(-m, m)
    lo = float(values.min()) if vmin is None else vmin
    hi = float(values.max()) if vmax is None else vmax
    return Normalize(lo, hi if hi > lo else lo + 1.0)


def draw_graph(
    graph: Graph,
    pos: Any,
    *,
    node_values: Any = None,
    edge_values: Any = None,
    ax: Any = None,
    cmap: str = "coolwarm",
    vmin: float | None = None,
    vmax: float | None = None,
    symmetric: bool = False,
    edge_cmap: str = "viridis",
    edge_vmin: float | None = None,
    edge_vmax: float | None = None,
    edge_width: tuple[float, float] = (0.6, 4.0),
    node_size: float = 40.0,
    colorbar: bool = False,
    title: str | None = None,
) -> Any:
    r"""Draw a graph: nodes coloured by a node signal, edges by an edge signal.

    Nodes are one scatter (``gid="nodes"``; colour ``cmap(norm(node_values))``, or
    grey without values). Edges are one line collection (``gid="edges"``, segment
    ``e`` from ``pos[i]`` to ``pos[j]`` for ``graph.edge_index[:, e] = (i, j)``);
    with ``edge_values`` (one per undirected edge, in ``graph.edge_index`` order)
    an edge's colour is ``edge_cmap`` of its value and its width grows linearly
    from ``edge_width[0]`` at the smallest value to ``edge_width[1]`` at the
    largest (or at ``edge_vmin`` / ``edge_vmax`` when given: a fixed scale, e.g.
    ``[-2, 2]`` for Balanced Forman curvature, so that several drawings compare;
    values outside it get the end colours and widths). For per-direction weights
    ``w`` ``[2M]`` (attention, in ``graph.directed_edge_index`` order) pass e.g.
    ``(w[:M] + w[M:]) / 2``.

    Args:
        graph: The graph.
        pos: Node positions ``[N, 2]`` (tensor or array), e.g. from
            :func:`spectral_layout` or ``grid_graph(r, c, return_pos=True)``.
        node_values: Optional ``[N]`` node signal.
        edge_values: Optional ``[M]`` edge signal.
        ax: Axes to draw into (default: a new standalone figure).
        cmap: Colormap of the node values.
        vmin: Lower end of the node colour scale (default: the data's minimum).
        vmax: Upper end (default: the data's maximum).
        symmetric: Centre the node colour scale at 0 (``[-m, m]`` with ``m`` the
            largest ``|value|``), for signed signals; ignored when ``vmin`` or
            ``vmax`` is given.
        edge_cmap: Colormap of the edge values.
        edge_vmin: Lower end of the edge colour and width scale (default: the
            data's minimum).
        edge_vmax: Upper end (default: the data's maximum); above ``edge_vmin``
            when both are given.
        edge_width: ``(thinnest, thickest)`` line width for ``edge_values``.
        node_size: Marker area of the nodes (points squared).
        colorbar: Add a colorbar for the node values (and one for the edges).
        title: Axes title.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        TypeError: ``graph`` is not a :class:`~graphops.Graph`, or ``edge_vmin`` /
            ``edge_vmax`` not ``None`` or a number.
        ValueError: ``pos``, ``node_values`` or ``edge_values`` of the wrong shape
            or not finite, ``edge_width`` not two non-negative numbers, or
            ``edge_vmin`` / ``edge_vmax`` not finite, or ``edge_vmin >= edge_vmax``.

    Example:
        >>> fig = draw_graph(graph, spectral_layout(graph), node_values=x[:, 0],
        ...                  edge_values=torch.rand(graph.num_edges), colorbar=True)
        >>> [c.get_gid() for c in fig.axes[0].collections]
        ['edges', 'nodes']
    """
    where = "draw_graph"
    graph = _check_graph(where, graph)
    n, m = graph.num_nodes, graph.num_edges
    xy = _array(where, "pos", pos, (n, 2))
    nodes = edges = None
    if node_values is not None:
        nodes = _array(where, "node_values", node_values, (n,))
    if edge_values is not None:
        edges = _array(where, "edge_values", edge_values, (m,))
    widths = np.asarray(edge_width, dtype=np.float64).reshape(-1)
    if widths.shape != (2,) or not np.all(np.isfinite(widths)) or np.any(widths < 0):
        raise ValueError(
            f"{where}: `edge_width` must be two numbers >= 0 (thinnest, thickest); "
            f"got {edge_width!r}. Pass e.g. edge_width=(0.5, 4.0)."
        )
    for name, lim in (("edge_vmin", edge_vmin), ("edge_vmax", edge_vmax)):
        if lim is None:
            continue
        if isinstance(lim, bool) or not isinstance(lim, (int, float, np.number)):
            raise TypeError(
                f"{where}: `{name}` must be None or a number; got {describe(lim)}. "
                "Pass e.g. edge_vmin=-2.0, edge_vmax=2.0."
            )
        if not np.isfinite(lim):
            raise ValueError(
                f"{where}: `{name}` must be finite; got {lim!r}. "
                "Pass e.g. edge_vmin=-2.0, edge_vmax=2.0."
            )
    if edge_vmin is not None and edge_vmax is not None and not edge_vmin < edge_vmax:
        raise ValueError(
            f"{where}: `edge_vmin` must be below `edge_vmax`; got {edge_vmin!r} and "
            f"{edge_vmax!r}. Pass e.g. edge_vmin=-2.0, edge_vmax=2.0."
        )

    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if ax is None:
        fig = Figure(figsize=(5.0, 4.4))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    ei = graph.edge_index.detach().cpu().numpy()
    segments = np.stack([xy[ei[0]], xy[ei[1]]], axis=1)  # [M, 2, 2]
    if edges is None:
        lines = LineCollection(segments, colors="0.65", linewidths=0.8, zorder=1)
    else:
        lo = float(edge_vmin) if edge_vmin is not None else (
            float(edges.min()) if m else 0.0
        )
        hi = float(edge_vmax) if edge_vmax is not None else (
            float(edges.max()) if m else 1.0
        )
        enorm = Normalize(lo, hi if hi > lo else lo + 1.0)
        scaled = np.clip(enorm(edges), 0.0, 1.0) if hi > lo else np.full(m, 0.5)
        lines = LineCollection(
            segments,
            cmap=edge_cmap,
            norm=enorm,
            linewidths=widths[0] + (widths[1] - widths[0]) * np.asarray(scaled),
            zorder=1,
        )
        lines.set_array(edges)
    lines.set_gid("edges")
    ax.add_collection(lines)
    if nodes is None:
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=node_size, c="0.3", zorder=2)
    else:
        norm = _norm(nodes, vmin, vmax, symmetric)
        sc = ax.scatter(
            xy[:, 0],
            xy[:, 1],
            s=node_size,
            c=nodes,
            cmap=cmap,
            norm=norm,
            edgecolors="0.2",
            linewidths=0.4,
            zorder=2,
        )
    sc.set_gid("nodes")
    if colorbar and nodes is not None:
        fig.colorbar(sc, ax=ax, shrink=0.8, label="node value")
    if colorbar and edges is not None:
        fig.colorbar(lines, ax=ax, shrink=0.8, label="edge value")
    pad = 0.05 * max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-12)
    ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
    ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)
    return fig


def plot_signal_snapshots(
    graph: Graph,
    pos: Any,
    signals: Mapping[str, Any],
    times: Sequence[float],
    *,
    cmap: str = "coolwarm",
    node_size: float = 30.0,
    panel_size: float = 2.4,
    scale: str = "row",
) -> Any:
    r"""A grid of pictures: one row per signal, one column per time.

    Each signal is a trajectory ``[T, N]`` (or ``[T, N, 1]``, e.g. ``sol.ys`` of a
    one-channel solve with ``saveat=times``). Panel ``(r, c)`` draws the graph with
    the nodes coloured by row ``r``'s values at ``times[c]``
    (:func:`draw_graph`) on a colour scale centred at 0. With ``scale="row"`` a
    row shares one scale ``[-m, m]`` (``m`` the largest ``|value|`` of the row),
    shown by a colorbar, so decay is visible across a row; with
    ``scale="panel"`` each panel uses its own ``m``, written under the panel
    (``max |x| = m``), so the shape stays visible while the amplitude decays.

    Args:
        graph: The graph.
        pos: Node positions ``[N, 2]``.
        signals: Row label -> trajectory ``[T, N]`` or ``[T, N, 1]``.
        times: The ``T`` times of the columns (for the titles).
        cmap: Colormap (diverging, default ``"coolwarm"``).
        node_size: Marker area of the nodes.
        panel_size: Width and height of one panel in inches.
        scale: ``"row"`` (one colour scale per row) or ``"panel"`` (one per panel).

    Returns:
        The matplotlib ``Figure``.

    Raises:
        TypeError: ``graph`` is not a Graph or ``signals`` is not a mapping.
        ValueError: no signals or no times, a trajectory whose shape does not
            match ``(len(times), N)``, a non-finite value, or an unknown ``scale``.

    Example:
        >>> sol = solve(term, RK4(), y0=x0[:, :1], t1=1.0, dt0=0.1,
        ...             saveat=torch.tensor([0.0, 0.5, 1.0]))
        >>> _, pos = datasets.grid_graph(4, 4, return_pos=True)
        >>> fig = plot_signal_snapshots(graph, pos, {"heat": sol.ys}, [0.0, 0.5, 1.0])
        >>> len(fig.axes)           # 3 panels and one colorbar
        4
    """
    where = "plot_signal_snapshots"
    graph = _check_graph(where, graph)
    if not isinstance(signals, Mapping):
        raise TypeError(
            f"{where}: `signals` must be a mapping label -> trajectory [T, N]; got "
            f"{describe(signals)}. Pass e.g. {{'heat': sol.ys}}."
        )
    if scale not in ("row", "panel"):
        raise ValueError(
            f"{where}: `scale` must be 'row' or 'panel'; got {scale!r}. 'row' shares "
            "a colour scale along each row, 'panel' scales every panel on its own."
        )
    ts = _array(where, "times", list(times), (-1,))
    if not signals or ts.size == 0:
        raise ValueError(
            f"{where}: `signals` and `times` must not be empty; got {len(signals)} "
            f"signal(s) and {ts.size} time(s). Pass at least one of each."
        )
    n, t = graph.num_nodes, ts.size
    rows = {}
    for label, traj in signals.items():
        if isinstance(traj, Tensor):
            traj = traj.detach().cpu().numpy()
        if getattr(traj, "ndim", 0) == 3 and traj.shape[-1] == 1:
            traj = traj[..., 0]  # one channel [T, N, 1] -> [T, N]
        rows[str(label)] = _array(where, f"signals[{label!r}]", traj, (t, n))
    xy = _array(where, "pos", pos, (n, 2))

    from matplotlib.figure import Figure

    fig = Figure(
        figsize=(panel_size * t + 0.9, panel_size * len(rows)), layout="constrained"
    )
    axes = fig.subplots(len(rows), t, squeeze=False)
    for r, (label, values) in enumerate(rows.items()):
        m = float(np.abs(values).max())
        lim = m if m > 0 else 1.0
        for c in range(t):
            if scale == "panel":
                m = float(np.abs(values[c]).max())
                lim = m if m > 0 else 1.0
                axes[r, c].set_xlabel(f"max |x| = {m:.3g}")
            draw_graph(
                graph,
                xy,
                node_values=values[c],
                ax=axes[r, c],
                cmap=cmap,
                vmin=-lim,
                vmax=lim,
                node_size=node_size,
                title=f"t = {ts[c]:g}" if r == 0 else None,
            )
        axes[r, 0].set_ylabel(label)
        if scale == "row":
            scatter = [s for s in axes[r, -1].collections if s.get_gid() == "nodes"][0]
            fig.colorbar(scatter, ax=list(axes[r]), shrink=0.85)
    return fig
