"""graphops.plotting: layouts and pictures checked against independent computations.

The layout is checked as an eigenvector equation of a Laplacian built here with
numpy; the pictures by reading back what matplotlib drew (segment end points,
RGBA colours, line widths, colour limits) and comparing with values computed
from the inputs and the colormaps directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graphops import Graph
from graphops.datasets import grid_graph, ring_of_cliques
from graphops.plotting import (
    draw_graph,
    plot_signal_snapshots,
    spectral_layout,
    spring_layout,
)

from conftest import make_path_graph, make_random_graph

mpl = pytest.importorskip(
    "matplotlib",
    reason="the pictures need matplotlib: pip install 'graphpde[demo]' "
    "(make test installs it)",
)


def _by_gid(ax, gid):
    (artist,) = [c for c in ax.collections if c.get_gid() == gid]
    return artist


def _dense_sym_laplacian(g: Graph) -> np.ndarray:
    n = g.num_nodes
    a = np.zeros((n, n))
    i, j = g.edge_index.numpy()
    a[i, j] = a[j, i] = g.edge_weight.numpy()
    d = a.sum(1)
    s = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    return np.eye(n) - s[:, None] * a * s[None, :]


def test_spectral_layout_is_the_second_and_third_eigenvector():
    g = make_random_graph(30, 0.2, seed=3, weighted=False)
    lap = _dense_sym_laplacian(g)
    evals = np.linalg.eigvalsh(lap)
    assert evals[2] - evals[1] > 1e-3 and evals[3] - evals[2] > 1e-3  # simple
    pos = spectral_layout(g).numpy()
    assert pos.shape == (30, 2)
    for k in range(2):
        col = pos[:, k]
        assert np.abs(col).max() == pytest.approx(1.0)
        np.testing.assert_allclose(lap @ col, evals[k + 1] * col, atol=1e-10)


def test_spectral_layout_errors():
    with pytest.raises(TypeError, match=r"spectral_layout: `graph` must be a graphops"):
        spectral_layout(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"spectral_layout: .*at least 3 nodes.*got 2"):
        spectral_layout(make_path_graph(2))


def test_spring_layout_clusters_communities_and_separates_isolated_nodes():
    g = ring_of_cliques(4, 6)  # 4 cliques of 6, joined in a ring
    # add two isolated nodes: a disconnected graph (spectral layouts degenerate there)
    g = Graph(g.edge_index, num_nodes=g.num_nodes + 2, directed="symmetrize")
    pos = spring_layout(g)
    assert pos.shape == (26, 2) and pos.dtype == g.dtype
    assert float(pos.abs().max()) == pytest.approx(1.0)
    np.testing.assert_allclose(pos.mean(0).numpy(), 0.0, atol=1e-12)
    p = pos.numpy()
    dist = np.linalg.norm(p[:, None] - p[None], axis=-1)
    clique = np.repeat(np.arange(4), 6)
    same = clique[:, None] == clique[None, :]
    off = ~np.eye(24, dtype=bool)
    inner, outer = dist[:24, :24][same & off].mean(), dist[:24, :24][~same].mean()
    assert inner < 0.5 * outer
    # every node has its own place (the isolated ones included), and the isolated
    # nodes do not squeeze the connected part into a corner
    assert dist[off.nonzero()].min() > 1e-3 and np.min(dist[24:, :24]) > 1e-3
    assert np.abs(p[:24]).max() > 0.45
    np.testing.assert_array_equal(spring_layout(g).numpy(), p)  # deterministic
    assert not np.array_equal(spring_layout(g, seed=1).numpy(), p)


def test_spring_layout_small_and_bad_input():
    single = Graph(torch.zeros(2, 0, dtype=torch.long), 1)
    assert torch.equal(spring_layout(single), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"spring_layout: `iterations` must be an int"):
        spring_layout(make_path_graph(3), iterations=0)
    with pytest.raises(ValueError, match=r"spring_layout: `gravity` must be a finite"):
        spring_layout(make_path_graph(3), gravity=-1.0)
    with pytest.raises(TypeError, match=r"spring_layout: `graph` must be a graphops"):
        spring_layout("path")


def test_draw_graph_nodes_and_edges_match_the_inputs():
    from matplotlib import colormaps

    g, pos = grid_graph(3, 4, return_pos=True)
    values = torch.linspace(-1.0, 3.0, g.num_nodes)
    w = torch.rand(g.num_edges, generator=torch.Generator().manual_seed(1))
    fig = draw_graph(g, pos, node_values=values, edge_values=w, edge_width=(1.0, 5.0))
    (ax,) = fig.axes
    lines = _by_gid(ax, "edges")
    ei = g.edge_index.numpy()
    segs = np.array(lines.get_segments())
    np.testing.assert_allclose(segs[:, 0], pos.numpy()[ei[0]])
    np.testing.assert_allclose(segs[:, 1], pos.numpy()[ei[1]])
    wn = w.numpy()
    t = (wn - wn.min()) / (wn.max() - wn.min())
    np.testing.assert_allclose(lines.get_linewidths(), 1.0 + 4.0 * t)
    lines.update_scalarmappable()  # colours are mapped from the array when drawn
    np.testing.assert_allclose(lines.get_edgecolor(), colormaps["viridis"](t))
    nodes = _by_gid(ax, "nodes")
    np.testing.assert_allclose(nodes.get_offsets(), pos.numpy())
    v = values.numpy()
    expect = colormaps["coolwarm"]((v - v.min()) / (v.max() - v.min()))
    nodes.update_scalarmappable()
    np.testing.assert_allclose(nodes.get_facecolor(), expect)


def test_draw_graph_symmetric_scale_and_given_axes(tmp_path):
    from matplotlib.figure import Figure

    g, pos = grid_graph(3, 3, return_pos=True)
    values = torch.tensor([-0.5, 0.0, 2.0, 1.0, 0.3, -1.0, 0.2, 0.1, 0.0])
    fig = Figure()
    ax = fig.add_subplot(1, 1, 1)
    out = draw_graph(g, pos, node_values=values, ax=ax, symmetric=True, colorbar=True)
    assert out is fig
    norm = _by_gid(ax, "nodes").norm
    assert (norm.vmin, norm.vmax) == (-2.0, 2.0)
    # explicit limits win over `symmetric`
    draw_graph(g, pos, node_values=values, ax=ax, vmin=0.0, vmax=1.0, symmetric=True)
    norms = [c.norm for c in ax.collections if c.get_gid() == "nodes"]
    assert (norms[-1].vmin, norms[-1].vmax) == (0.0, 1.0)
    # without values: grey nodes, uniform edges
    plain = draw_graph(g, pos, title="plain")
    assert plain.axes[0].get_title() == "plain"
    assert len(set(map(tuple, _by_gid(plain.axes[0], "nodes").get_facecolor()))) == 1
    fig.savefig(tmp_path / "g.png")
    assert (tmp_path / "g.png").stat().st_size > 0


def test_draw_graph_fixed_edge_scale():
    from matplotlib import colormaps

    g, pos = grid_graph(3, 3, return_pos=True)
    w = torch.linspace(-1.0, 1.0, g.num_edges)  # inside the scale [-2, 2], and 3.0
    w[-1] = 3.0
    fig = draw_graph(
        g, pos, edge_values=w, edge_cmap="RdBu", edge_vmin=-2.0, edge_vmax=2.0,
        edge_width=(1.0, 3.0),
    )
    lines = _by_gid(fig.axes[0], "edges")
    assert (lines.norm.vmin, lines.norm.vmax) == (-2.0, 2.0)
    t = np.clip((w.numpy() - (-2.0)) / 4.0, 0.0, 1.0)  # 3.0 clips to the top end
    np.testing.assert_allclose(lines.get_linewidths(), 1.0 + 2.0 * t)
    lines.update_scalarmappable()
    np.testing.assert_allclose(lines.get_edgecolor()[:-1], colormaps["RdBu"](t[:-1]))
    np.testing.assert_allclose(lines.get_edgecolor()[-1], colormaps["RdBu"](1.0))
    # one end given: the other is the data's
    one = draw_graph(g, pos, edge_values=w, edge_vmin=-3.0)
    norm = _by_gid(one.axes[0], "edges").norm
    assert (norm.vmin, norm.vmax) == (-3.0, 3.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"edge_vmin": 1, "edge_vmax": 1.0}, ValueError, r"`edge_vmin` must be below"),
        ({"edge_vmin": float("nan")}, ValueError, r"`edge_vmin` must be finite"),
        ({"edge_vmax": "2"}, TypeError, r"`edge_vmax` must be None or a number"),
        ({"edge_vmax": True}, TypeError, r"`edge_vmax` must be None or a number"),
        ({"pos": np.zeros((5, 2))}, ValueError, r"`pos` must be a real array of shape"),
        ({"node_values": np.zeros(4)}, ValueError, r"`node_values` must be .*\[9\]"),
        ({"edge_values": np.zeros(3)}, ValueError, r"`edge_values` must be .*\[12\]"),
        (
            {"node_values": np.r_[np.nan, np.zeros(8)]},
            ValueError,
            r"`node_values` must be finite; got 1 NaN",
        ),
        ({"edge_width": (1.0,)}, ValueError, r"`edge_width` must be two numbers"),
        ({"edge_width": (-1.0, 2.0)}, ValueError, r"`edge_width` must be two"),
        ({"graph": "grid"}, TypeError, r"`graph` must be a graphops"),
    ],
)
def test_draw_graph_errors(kwargs, error, match):
    g, pos = grid_graph(3, 3, return_pos=True)
    args = {"graph": g, "pos": pos, **kwargs}
    with pytest.raises(error, match=rf"draw_graph: .*{match}"):
        draw_graph(args.pop("graph"), args.pop("pos"), **args)


def test_plot_signal_snapshots_rows_share_a_symmetric_scale():
    g, pos = grid_graph(4, 4, return_pos=True)
    gen = torch.Generator().manual_seed(0)
    heat = torch.randn(3, g.num_nodes, 1, generator=gen)
    wave = 5.0 * torch.randn(3, g.num_nodes, generator=gen)
    fig = plot_signal_snapshots(g, pos, {"heat": heat, "wave": wave}, [0.0, 0.5, 2.0])
    panels = [a for a in fig.axes if any(c.get_gid() == "nodes" for c in a.collections)]
    assert len(panels) == 6 and len(fig.axes) == 8  # 6 panels + one colorbar per row
    assert [ax.get_title() for ax in panels[:3]] == ["t = 0", "t = 0.5", "t = 2"]
    assert [panels[0].get_ylabel(), panels[3].get_ylabel()] == ["heat", "wave"]
    for r, traj in enumerate((heat[..., 0], wave)):
        m = float(traj.abs().max())
        for c in range(3):
            nodes = _by_gid(panels[3 * r + c], "nodes")
            assert (nodes.norm.vmin, nodes.norm.vmax) == pytest.approx((-m, m))
            np.testing.assert_allclose(nodes.get_array(), traj[c].numpy())


def test_plot_signal_snapshots_panel_scale():
    g, pos = grid_graph(3, 3, return_pos=True)
    traj = torch.stack([torch.linspace(-1.0, 1.0, 9), 0.01 * torch.linspace(0, 1, 9)])
    fig = plot_signal_snapshots(g, pos, {"x": traj}, [0.0, 1.0], scale="panel")
    assert len(fig.axes) == 2  # no colorbar: every panel has its own scale
    for ax, values in zip(fig.axes, traj, strict=True):
        m = float(values.abs().max())
        norm = _by_gid(ax, "nodes").norm
        assert (norm.vmin, norm.vmax) == pytest.approx((-m, m))
        assert ax.get_xlabel() == f"max |x| = {m:.3g}"


@pytest.mark.parametrize(
    ("signals", "times", "error", "match"),
    [
        ({"a": torch.zeros(2, 16)}, [0.0, 1.0, 2.0], ValueError, r"shape \[3, 16\]"),
        ({"a": torch.zeros(3, 15)}, [0.0, 1.0, 2.0], ValueError, r"shape \[3, 16\]"),
        ({}, [0.0], ValueError, r"must not be empty; got 0 signal"),
        ({"a": torch.zeros(0, 16)}, [], ValueError, r"must not be empty"),
        ([torch.zeros(1, 16)], [0.0], TypeError, r"`signals` must be a mapping"),
        ({"a": torch.zeros(1, 16)}, [0.0], ValueError, r"`scale` must be 'row' or"),
    ],
)
def test_plot_signal_snapshots_errors(signals, times, error, match):
    g, pos = grid_graph(4, 4, return_pos=True)
    scale = "column" if "scale" in match else "row"
    with pytest.raises(error, match=rf"plot_signal_snapshots: .*{match}"):
        plot_signal_snapshots(g, pos, signals, times, scale=scale)
