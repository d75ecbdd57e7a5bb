"""Synthetic graphs built in memory: path, cycle, grid, cliques, random, karate club.

Every graph is unweighted and undirected, without self-loops (see :mod:`graphops`).
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, check_real
from graphops.datasets._common import graph_from_pairs, numpy_rng
from graphops.graph import Graph

__all__ = [
    "barbell_graph",
    "cycle_graph",
    "grid_graph",
    "karate_club",
    "path_graph",
    "random_geometric_graph",
    "ring_of_cliques",
    "small_world_graph",
]


def _pos(array: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64)).to(
        torch.get_default_dtype()
    )


def _circle(n: int) -> np.ndarray:
    theta = 2 * np.pi * np.arange(n) / max(n, 1)
    return np.stack([np.cos(theta), np.sin(theta)], axis=1)


@overload
def path_graph(n: int, *, return_pos: Literal[False] = ...) -> Graph: ...
@overload
def path_graph(n: int, *, return_pos: Literal[True]) -> tuple[Graph, Tensor]: ...
def path_graph(n: int, *, return_pos: bool = False) -> Graph | tuple[Graph, Tensor]:
    """Path ``0 - 1 - ... - (n-1)``: ``n`` nodes, ``n - 1`` edges.

    Args:
        n: Number of nodes, ``>= 1``.
        return_pos: Also return node coordinates ``[n, 2]`` (``(i, 0)``).

    Returns:
        The graph, or ``(graph, pos)`` with ``return_pos=True``.

    Raises:
        TypeError, ValueError: ``n`` is not an int ``>= 1``.
    """
    n = check_int("path_graph", "n", n, low=1, fix="Pass the number of nodes.")
    i = np.arange(n - 1)
    g = graph_from_pairs(np.stack([i, i + 1]), n)
    if return_pos:
        return g, _pos(np.stack([np.arange(n), np.zeros(n)], axis=1))
    return g


@overload
def cycle_graph(n: int, *, return_pos: Literal[False] = ...) -> Graph: ...
@overload
def cycle_graph(n: int, *, return_pos: Literal[True]) -> tuple[Graph, Tensor]: ...
def cycle_graph(n: int, *, return_pos: bool = False) -> Graph | tuple[Graph, Tensor]:
    """Cycle ``0 - 1 - ... - (n-1) - 0``: ``n`` nodes, ``n`` edges.

    Args:
        n: Number of nodes, ``>= 3`` (smaller cycles would need multi-edges).
        return_pos: Also return node coordinates ``[n, 2]`` on the unit circle.

    Returns:
        The graph, or ``(graph, pos)`` with ``return_pos=True``.

    Raises:
        TypeError, ValueError: ``n`` is not an int ``>= 3``.
    """
    n = check_int("cycle_graph", "n", n, low=3, fix="Use path_graph for 1 or 2 nodes.")
    i = np.arange(n)
    g = graph_from_pairs(np.stack([i, (i + 1) % n]), n)
    return (g, _pos(_circle(n))) if return_pos else g


@overload
def grid_graph(rows: int, cols: int, *, return_pos: Literal[False] = ...) -> Graph: ...
@overload
def grid_graph(
    rows: int, cols: int, *, return_pos: Literal[True]
) -> tuple[Graph, Tensor]: ...
def grid_graph(
    rows: int, cols: int, *, return_pos: bool = False
) -> Graph | tuple[Graph, Tensor]:
    """2-D lattice (4-neighbour grid), node ``r * cols + c`` at row ``r``, column ``c``.

    ``rows * cols`` nodes and ``rows (cols - 1) + cols (rows - 1)`` edges. Its
    Laplacian is the 5-point finite-difference Laplacian with Neumann boundaries.

    Args:
        rows: Number of rows, ``>= 1``.
        cols: Number of columns, ``>= 1``.
        return_pos: Also return coordinates ``[rows * cols, 2]``, ``(c, r)``.

    Returns:
        The graph, or ``(graph, pos)`` with ``return_pos=True``.

    Raises:
        TypeError, ValueError: ``rows`` or ``cols`` is not an int ``>= 1``.
    """
    rows = check_int(
        "grid_graph", "rows", rows, low=1, fix="Pass a positive number of rows."
    )
    cols = check_int(
        "grid_graph", "cols", cols, low=1, fix="Pass a positive number of columns."
    )
    node = np.arange(rows * cols).reshape(rows, cols)
    horizontal = np.stack([node[:, :-1].ravel(), node[:, 1:].ravel()])
    vertical = np.stack([node[:-1, :].ravel(), node[1:, :].ravel()])
    g = graph_from_pairs(np.concatenate([horizontal, vertical], axis=1), rows * cols)
    if return_pos:
        r, c = np.divmod(np.arange(rows * cols), cols)
        return g, _pos(np.stack([c, r], axis=1))
    return g


def ring_of_cliques(num_cliques: int, clique_size: int) -> Graph:
    """Cliques joined in a ring by single edges (networkx's ``ring_of_cliques``).

    Clique ``k`` holds nodes ``k * s .. k * s + s - 1`` (``s = clique_size``); node
    ``k * s + 1`` is joined to node ``((k + 1) * s) mod N``. ``N = num_cliques * s``
    nodes and ``num_cliques * (s (s - 1) / 2 + 1)`` edges: a graph with bottlenecks,
    used to show over-squashing.

    Args:
        num_cliques: Number of cliques, ``>= 2``.
        clique_size: Nodes per clique, ``>= 2``.

    Returns:
        The graph.

    Raises:
        TypeError, ValueError: an argument is not an int ``>= 2``.
    """
    k = check_int(
        "ring_of_cliques",
        "num_cliques",
        num_cliques,
        low=2,
        fix="Pass at least 2 cliques.",
    )
    s = check_int(
        "ring_of_cliques",
        "clique_size",
        clique_size,
        low=2,
        fix="Pass at least 2 nodes per clique.",
    )
    a, b = np.triu_indices(s, 1)
    offsets = (np.arange(k) * s)[:, None]
    within = np.stack([(a + offsets).ravel(), (b + offsets).ravel()])
    ring = np.stack([np.arange(k) * s + 1, ((np.arange(k) + 1) * s) % (k * s)])
    return graph_from_pairs(np.concatenate([within, ring], axis=1), k * s)


def barbell_graph(clique_size: int, path_length: int) -> Graph:
    """Two cliques joined by a path (networkx's ``barbell_graph(m1, m2)``).

    Nodes ``0 .. m1-1`` are the left clique, ``m1 .. m1+m2-1`` the path and the last
    ``m1`` nodes the right clique (``m1 = clique_size``, ``m2 = path_length``):
    ``2 m1 + m2`` nodes and ``m1 (m1 - 1) + m2 + 1`` edges.

    Args:
        clique_size: Nodes per clique, ``>= 2``.
        path_length: Nodes on the connecting path, ``>= 0`` (0 joins the cliques by
            one edge).

    Returns:
        The graph.

    Raises:
        TypeError, ValueError: ``clique_size < 2`` or ``path_length < 0``.
    """
    m1 = check_int(
        "barbell_graph",
        "clique_size",
        clique_size,
        low=2,
        fix="Pass at least 2 nodes per clique.",
    )
    m2 = check_int(
        "barbell_graph",
        "path_length",
        path_length,
        low=0,
        fix="Pass 0 or more path nodes.",
    )
    a, b = np.triu_indices(m1, 1)
    right = m1 + m2
    chain = np.arange(m1 - 1, right + 1)  # last left node, the path, first right node
    pairs = np.concatenate(
        [
            np.stack([a, b]),
            np.stack([a + right, b + right]),
            np.stack([chain[:-1], chain[1:]]),
        ],
        axis=1,
    )
    return graph_from_pairs(pairs, 2 * m1 + m2)


@overload
def random_geometric_graph(
    n: int,
    radius: float,
    dim: int = ...,
    seed: int | torch.Generator = ...,
    *,
    return_pos: Literal[False] = ...,
) -> Graph: ...
@overload
def random_geometric_graph(
    n: int,
    radius: float,
    dim: int = ...,
    seed: int | torch.Generator = ...,
    *,
    return_pos: Literal[True],
) -> tuple[Graph, Tensor]: ...
def random_geometric_graph(
    n: int,
    radius: float,
    dim: int = 2,
    seed: int | torch.Generator = 0,
    *,
    return_pos: bool = False,
) -> Graph | tuple[Graph, Tensor]:
    """Random geometric graph: ``n`` uniform points in ``[0, 1]^dim``.

    Two nodes are joined when their Euclidean distance is ``<= radius``.

    Args:
        n: Number of nodes, ``>= 1``.
        radius: Connection radius, ``> 0`` (Euclidean distance).
        dim: Dimension of the unit cube, ``>= 1``.
        seed: Int seed, or a ``torch.Generator`` (which advances).
        return_pos: Also return the points ``[n, dim]``.

    Returns:
        The graph, or ``(graph, pos)`` with ``return_pos=True``.

    Raises:
        TypeError, ValueError: an argument has the wrong type or range.
    """
    from scipy.spatial import cKDTree

    where = "random_geometric_graph"
    n = check_int(where, "n", n, low=1, fix="Pass the number of nodes.")
    radius = check_real(
        where,
        "radius",
        radius,
        low=0.0,
        low_open=True,
        high_open=True,
        fix="Pass a positive radius, e.g. 0.1.",
    )
    dim = check_int(where, "dim", dim, low=1, fix="Pass the dimension, e.g. dim=2.")
    points = numpy_rng(seed, where).random((n, dim))
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray").T
    g = graph_from_pairs(pairs, n)
    return (g, _pos(points)) if return_pos else g


@overload
def small_world_graph(
    n: int,
    k: int,
    p: float,
    seed: int | torch.Generator = ...,
    *,
    return_pos: Literal[False] = ...,
) -> Graph: ...
@overload
def small_world_graph(
    n: int,
    k: int,
    p: float,
    seed: int | torch.Generator = ...,
    *,
    return_pos: Literal[True],
) -> tuple[Graph, Tensor]: ...
def small_world_graph(
    n: int,
    k: int,
    p: float,
    seed: int | torch.Generator = 0,
    *,
    return_pos: bool = False,
) -> Graph | tuple[Graph, Tensor]:
    """Watts–Strogatz small-world graph (networkx's ``watts_strogatz_graph`` algorithm).

    Start from a ring where each node is joined to its ``k / 2`` nearest neighbours
    on each side, then for each offset ``j = 1 .. k/2`` and each node ``u`` rewire
    the edge ``(u, u + j)`` with probability ``p`` to ``(u, w)``, ``w`` uniform among
    the nodes that are neither ``u`` nor already its neighbours. The number of edges
    stays ``n k / 2``.

    Args:
        n: Number of nodes, ``>= 3``.
        k: Ring-lattice degree, even, ``2 <= k < n``.
        p: Rewiring probability in ``[0, 1]`` (0 is the ring lattice).
        seed: Int seed, or a ``torch.Generator`` (which advances).
        return_pos: Also return ring-layout coordinates ``[n, 2]``.

    Returns:
        The graph, or ``(graph, pos)`` with ``return_pos=True``.

    Raises:
        TypeError, ValueError: an argument has the wrong type or range.

    References:
        Watts & Strogatz (1998).
    """
    where = "small_world_graph"
    n = check_int(where, "n", n, low=3, fix="Pass at least 3 nodes.")
    k = check_int(where, "k", k, low=2, fix="Pass an even degree such as k=4.")
    if k % 2 or k >= n:
        raise ValueError(
            f"{where}: `k` must be even and < n={n}; got k={k}. Pass an even degree "
            f"below {n}, e.g. k={min(4, n - 1 - (n - 1) % 2)}."
        )
    p = check_real(
        where,
        "p",
        p,
        low=0.0,
        high=1.0,
        fix="Pass a rewiring probability such as p=0.1.",
    )
    rng = numpy_rng(seed, where)
    adj: list[set[int]] = [set() for _ in range(n)]
    for u in range(n):
        for j in range(1, k // 2 + 1):
            v = (u + j) % n
            adj[u].add(v)
            adj[v].add(u)
    for j in range(1, k // 2 + 1):
        for u in range(n):
            v = (u + j) % n
            if rng.random() >= p or v not in adj[u] or len(adj[u]) >= n - 1:
                continue
            w = int(rng.integers(n))
            while w == u or w in adj[u]:
                w = int(rng.integers(n))
            adj[u].discard(v)
            adj[v].discard(u)
            adj[u].add(w)
            adj[w].add(u)
    pairs = np.array(
        [(u, w) for u in range(n) for w in adj[u] if u < w], dtype=np.int64
    ).T
    g = graph_from_pairs(pairs, n)
    return (g, _pos(_circle(n))) if return_pos else g


# Zachary (1977), "An information flow model for conflict and fission in small
# groups", the 78 friendships among 34 club members, nodes numbered 0..33 as in
# networkx.karate_club_graph(). Row u lists the neighbours v > u.
_KARATE_NEIGHBOURS: dict[int, tuple[int, ...]] = {
    0: (1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 17, 19, 21, 31),
    1: (2, 3, 7, 13, 17, 19, 21, 30),
    2: (3, 7, 8, 9, 13, 27, 28, 32),
    3: (7, 12, 13),
    4: (6, 10),
    5: (6, 10, 16),
    6: (16,),
    8: (30, 32, 33),
    9: (33,),
    13: (33,),
    14: (32, 33),
    15: (32, 33),
    18: (32, 33),
    19: (33,),
    20: (32, 33),
    22: (32, 33),
    23: (25, 27, 29, 32, 33),
    24: (25, 27, 31),
    25: (31,),
    26: (29, 33),
    27: (33,),
    28: (31, 33),
    29: (32, 33),
    30: (32, 33),
    31: (32, 33),
    32: (33,),
}
# Faction after the split: 0 = "Mr. Hi", 1 = "Officer" (networkx's `club` attribute).
_KARATE_CLUB = (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0,
                0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)  # fmt: skip


@overload
def karate_club(*, return_labels: Literal[False] = ...) -> Graph: ...
@overload
def karate_club(*, return_labels: Literal[True]) -> tuple[Graph, Tensor]: ...
def karate_club(*, return_labels: bool = False) -> Graph | tuple[Graph, Tensor]:
    """Zachary's karate club: 34 nodes, 78 edges, unweighted.

    Node numbering and edges equal ``networkx.karate_club_graph()`` (whose edge
    ``weight`` interaction counts are not used here).

    Args:
        return_labels: Also return the faction labels ``[34]`` (int64; 0 = Mr. Hi,
            1 = Officer).

    Returns:
        The graph, or ``(graph, labels)`` with ``return_labels=True``.

    References:
        Zachary (1977).
    """
    pairs = np.array(
        [(u, v) for u, vs in _KARATE_NEIGHBOURS.items() for v in vs], dtype=np.int64
    ).T
    g = graph_from_pairs(pairs, 34)
    if return_labels:
        return g, torch.tensor(_KARATE_CLUB, dtype=torch.int64)
    return g
