r"""Hop distances and receptive fields: how far information travels in ``k`` hops.

A ``k``-layer message-passing network (or ``k`` explicit steps of a graph PDE with a
one-hop operator) lets node ``i`` see exactly the nodes within ``k`` hops of it: its
**receptive field**. How fast that set grows with ``k`` is a property of the graph
alone: on a 2-D grid an interior node sees ``2k^2 + 2k + 1`` nodes (a diamond that
grows steadily), while on a small-world graph such as a citation network a few hops
already cover most of the graph, so more depth barely adds new nodes but squeezes
ever more of them through the same edges (over-squashing; Alon & Yahav 2021).

Both functions run breadth-first search **from many sources at once** by sparse
frontier expansion: the frontiers of a chunk of sources are the columns of one
``[N, S]`` matrix, and one hop is one sparse product with the 0/1 adjacency through
the package's one kernel (:class:`~graphops.operators.Adjacency` with unit weights),
so the work per hop is vectorised over nodes *and* sources (no Python loop over
nodes). Edge weights are ignored: every stored edge is one hop, whatever its weight
(zero included). See :mod:`graphops` for the graph conventions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, describe
from graphops.graph import Graph
from graphops.operators import Adjacency

__all__ = ["UNREACHABLE", "hop_distances", "receptive_field_sizes"]

#: Hop distance reported for a node that is not reached (another connected
#: component, or farther than ``max_hops``).
UNREACHABLE = -1

# Entries of the frontier block processed at once (sources x nodes): bounds the
# memory of the dense [N, S] frontier at about 16M floats, whatever N.
_BLOCK = 1 << 24


def _check_graph(where: str, graph: Graph) -> None:
    if not isinstance(graph, Graph):
        raise TypeError(
            f"{where}: `graph` must be a graphops Graph; got {describe(graph)}. "
            "Build one with Graph(edge_index, num_nodes)."
        )


def _check_nodes(where: str, name: str, nodes: object, n: int) -> tuple[Tensor, bool]:
    """``nodes`` as a 1-D int64 tensor, and whether a single int was given."""
    if nodes is None:
        return torch.arange(n), False
    if isinstance(nodes, bool):
        raise TypeError(
            f"{where}: `{name}` must be None, an int, a sequence of ints or a 1-D "
            f"integer tensor; got {describe(nodes)}. Pass node ids such as [0, 5]."
        )
    single = isinstance(nodes, (int, np.integer)) or (
        isinstance(nodes, Tensor) and nodes.dim() == 0
    )
    if isinstance(nodes, Tensor):
        t = nodes
    elif isinstance(nodes, (int, np.integer)):
        t = torch.as_tensor(int(nodes))
    elif isinstance(nodes, Sequence) and len(nodes) == 0:
        t = torch.empty(0, dtype=torch.int64)
    elif isinstance(nodes, Sequence):
        try:
            t = torch.as_tensor(nodes)
        except (TypeError, ValueError):
            t = None
    else:
        t = None
    if (
        t is None
        or t.dtype.is_floating_point
        or t.dtype.is_complex
        or t.dtype == torch.bool
        or t.dim() > 1
    ):
        raise TypeError(
            f"{where}: `{name}` must be None, an int, a sequence of ints or a 1-D "
            f"integer tensor; got {describe(nodes)}. Pass node ids such as [0, 5]."
        )
    t = t.reshape(-1).to(torch.int64).cpu()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        bad = int(t[(t < 0) | (t >= n)][0])
        raise ValueError(
            f"{where}: `{name}` must hold node ids in [0, {n}); got {bad}. "
            "Pass ids of nodes of this graph."
        )
    return t, single


def _bfs_block(adj: Adjacency, sources: Tensor, n: int, max_hops: int) -> Tensor:
    """Hop distances ``[S, N]`` from ``sources`` (on the graph's device), -1 if unseen.

    One hop: ``new = (A @ frontier > 0) & ~visited`` on the ``[N, S]`` block.
    """
    s = sources.numel()
    dev = adj.device
    cols = torch.arange(s, device=dev)
    dist = torch.full((n, s), UNREACHABLE, dtype=torch.int64, device=dev)
    dist[sources, cols] = 0
    visited = dist == 0
    frontier = visited.to(adj.dtype)
    k = 0
    while k < max_hops and bool(frontier.any()):
        k += 1
        new = ((adj @ frontier) > 0) & ~visited
        dist[new] = k
        visited |= new
        frontier = new.to(adj.dtype)
    return dist.T


def hop_distances(
    graph: Graph,
    sources: int | Sequence[int] | Tensor | None = None,
    max_hops: int | None = None,
) -> Tensor:
    """Shortest-path hop distances from ``sources`` to every node (BFS).

    Breadth-first search from all sources at once, by sparse frontier expansion
    (see :mod:`graphops.paths`); edge weights are ignored (each edge is one hop).

    Args:
        graph: The graph; see :mod:`graphops` for conventions.
        sources: Source node ids: ``None`` (every node: the all-pairs matrix), one
            int, a sequence of ints or a 1-D integer tensor.
        max_hops: Stop the search after this many hops (``None``: until every
            reachable node is found). Nodes farther away read :data:`UNREACHABLE`.

    Returns:
        int64 distances on the graph's device: ``[S, N]`` with row ``s`` the
        distances from ``sources[s]``, or ``[N]`` when ``sources`` is one int.
        Unreached nodes (another component, or beyond ``max_hops``) hold
        :data:`UNREACHABLE` (``-1``).

    Raises:
        TypeError: ``graph`` is not a Graph, ``sources`` is not integer node ids,
            or ``max_hops`` is not an int.
        ValueError: a source id is outside ``[0, N)`` or ``max_hops < 0``.

    Shapes:
        ``[S, N]`` (``[N]`` for a single int source).

    Example:
        >>> from graphops.datasets import path_graph
        >>> hop_distances(path_graph(5), 1)
        tensor([1, 0, 1, 2, 3])
        >>> hop_distances(path_graph(5), [0, 4], max_hops=2)
        tensor([[ 0,  1,  2, -1, -1],
                [-1, -1,  2,  1,  0]])
    """
    where = "hop_distances"
    _check_graph(where, graph)
    n = graph.num_nodes
    src, single = _check_nodes(where, "sources", sources, n)
    if max_hops is None:
        hops = max(n - 1, 0)
    else:
        hops = check_int(
            where, "max_hops", max_hops, low=0, fix="Pass None or a hop count >= 0."
        )
    adj = Adjacency(
        graph,
        edge_weight=torch.ones(
            graph.num_edges, dtype=graph.dtype, device=graph.device
        ),
        validate=False,
    )
    src = src.to(graph.device)
    chunk = max(1, _BLOCK // max(n, 1))
    out = [
        _bfs_block(adj, src[i : i + chunk], n, hops)
        for i in range(0, src.numel(), chunk)
    ]
    dist = (
        torch.cat(out)
        if out
        else torch.empty(0, n, dtype=torch.int64, device=graph.device)
    )
    return dist[0] if single else dist


def receptive_field_sizes(
    graph: Graph,
    max_hops: int,
    nodes: int | Sequence[int] | Tensor | None = None,
) -> Tensor:
    """Number of nodes within ``k`` hops of each node, for ``k = 0 .. max_hops``.

    Entry ``[s, k]`` counts the nodes ``j`` with hop distance ``d(nodes[s], j) <= k``
    (the node itself included, so column 0 is all ones): the receptive field of a
    ``k``-layer message-passing network at that node. Average over nodes with
    ``.double().mean(0)``; on an infinite 2-D grid every row is ``2k^2 + 2k + 1``.

    Args:
        graph: The graph; see :mod:`graphops` for conventions.
        max_hops: Largest ``k``, ``>= 0``.
        nodes: The nodes to measure: ``None`` (all), one int, a sequence of ints or
            a 1-D integer tensor.

    Returns:
        int64 counts ``[S, max_hops + 1]`` on the graph's device (``[max_hops + 1]``
        when ``nodes`` is one int), non-decreasing along ``k`` and at most ``N``.

    Raises:
        TypeError: ``graph`` is not a Graph, ``nodes`` is not integer node ids, or
            ``max_hops`` is not an int.
        ValueError: a node id is outside ``[0, N)`` or ``max_hops < 0``.

    Shapes:
        ``[S, max_hops + 1]``.

    Example:
        >>> from graphops.datasets import grid_graph
        >>> receptive_field_sizes(grid_graph(9, 9), 3, nodes=40)  # the centre
        tensor([ 1,  5, 13, 25])
    """
    where = "receptive_field_sizes"
    _check_graph(where, graph)
    k = check_int(
        where, "max_hops", max_hops, low=0, fix="Pass a hop count such as 8."
    )
    src, single = _check_nodes(where, "nodes", nodes, graph.num_nodes)
    dist = hop_distances(graph, src, max_hops=k)
    # counts[s, d] = number of nodes at exactly d hops; cumulative sum = within d
    s = dist.shape[0]
    reached = dist >= 0
    rows = torch.arange(s, device=dist.device).unsqueeze(1).expand_as(dist)[reached]
    at = torch.zeros(s * (k + 1), dtype=torch.int64, device=dist.device)
    at = at.index_add(0, rows * (k + 1) + dist[reached], torch.ones_like(rows))
    counts = at.reshape(s, k + 1).cumsum(1)
    return counts[0] if single else counts
