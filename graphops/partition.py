r"""Graph partitioning and halo plans for domain decomposition.

A graph too large for one process is split into ``parts`` pieces; each process
(*rank*) owns the nodes of one piece and keeps a *halo* of ghost nodes, its
off-partition neighbours, whose values it receives from their owners before every
operator application (:mod:`graphops.distributed`).

* :func:`partition` assigns every node to one part: METIS through the optional
  ``pymetis`` package (``method="metis"``), or a built-in recursive bisection:
  spectral (``"spectral"``, split at the weighted median of the Fiedler vector of
  the piece's combinatorial Laplacian) or breadth-first (``"bfs"``, the first half
  of a BFS order from a pseudo-peripheral node). ``"auto"`` takes METIS when
  ``pymetis`` imports, else spectral. The result reports the edge cut and balance.
* :func:`halo_plan` precomputes, once, everything rank ``r`` needs: its owned nodes
  (local order: ascending global id), its ghosts (ordered by owner, then id), the
  rows it sends to every peer and where the rows it receives go, and the local
  graph (the edges with at least one owned end point) with the global degree of
  every local node.

Local node order on rank ``r``: ``[owned (n_own), ghosts (n_ghost)]``. The ghosts
received from peer ``q`` are a contiguous block, and the rows ``r`` sends to ``q``
are listed in ``q``'s ghost order, so an exchange is a gather, a send, a receive
and a copy.

Example:
    >>> from graphops.datasets import path_graph
    >>> g = path_graph(6)
    >>> p = partition(g, 2, method="bfs")
    >>> p.sizes, p.edge_cut
    ((3, 3), 1)
    >>> plan = halo_plan(g, p, rank=0)
    >>> plan.owned.tolist(), plan.ghosts.tolist()
    ([0, 1, 2], [3])
    >>> {q: s.tolist() for q, s in plan.send.items()}   # local rows sent to rank 1
    {1: [2]}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, describe
from graphops.graph import Graph, _to_fn
from graphops.spmm import map_nested

__all__ = ["METHODS", "Partition", "RankPlan", "halo_plan", "partition"]

METHODS = ("auto", "metis", "spectral", "bfs")
Method = Literal["auto", "metis", "spectral", "bfs"]
# below this many nodes a piece's Fiedler vector comes from a dense eigh
_DENSE_LIMIT = 600


@dataclass(frozen=True, eq=False)
class Partition:
    """An assignment of every node to one of ``num_parts`` parts.

    Attributes:
        assignment: ``[N]`` int64, the part of every node.
        num_parts: Number of parts ``K``.
        method: The method that produced it (``"metis"``, ``"spectral"``, ``"bfs"``).
        edge_cut: Number of undirected edges whose end points lie in different parts.
        sizes: Number of nodes in each part.
    """

    assignment: Tensor
    num_parts: int
    method: str
    edge_cut: int
    sizes: tuple[int, ...]

    @property
    def balance(self) -> float:
        """``max(sizes) * K / N`` (1.0 is perfectly balanced; METIS's measure)."""
        n = int(self.assignment.numel())
        return max(self.sizes) * self.num_parts / n if n else 1.0

    def owned(self, part: int) -> Tensor:
        """Global ids of the nodes of ``part``, ascending (``[n_part]`` int64)."""
        part = check_int("Partition.owned", "part", part, low=0)
        if part >= self.num_parts:
            raise ValueError(
                f"Partition.owned: `part` must be < num_parts={self.num_parts}; got "
                f"{part}. Parts are numbered 0..{self.num_parts - 1}."
            )
        return (self.assignment == part).nonzero().flatten()

    def __repr__(self) -> str:
        """``Partition(num_parts=2, method='bfs', edge_cut=1, balance=1.000)``."""
        return (
            f"Partition(num_parts={self.num_parts}, method={self.method!r}, "
            f"edge_cut={self.edge_cut}, balance={self.balance:.3f})"
        )


@dataclass(frozen=True, eq=False)
class RankPlan:
    """Everything rank ``rank`` needs for halo exchanges, computed once.

    Local node order: ``[owned, ghosts]``; local index ``k < num_owned`` is
    ``owned[k]``, ``num_owned + k`` is ``ghosts[k]``.

    Attributes:
        rank: This rank (part).
        num_parts: Number of ranks ``K``.
        num_nodes: Number of nodes ``N`` of the whole graph.
        owned: ``[n_own]`` global ids owned here, ascending.
        ghosts: ``[n_ghost]`` global ids of the off-partition neighbours of the
            owned nodes, ordered by owner, then id.
        ghost_owner: ``[n_ghost]`` rank owning each ghost.
        send: ``{peer: local owned rows [k]}``: the rows peer needs, in its ghost
            order. Only peers sharing an edge appear (the same peers as ``recv``).
        recv: ``{peer: positions in ghosts [k]}``, a contiguous range per peer.
        local_graph: The graph on the ``n_own + n_ghost`` local nodes holding every
            edge with at least one owned end point (ghost-ghost edges are left out),
            in canonical order, with the global graph's weights.
        edge_ids: ``[M_local]`` id (in ``graph.edge_index``) of every local edge.
        edge_flipped: ``[M_local]`` bool, the local edge ``(a, b)``, ``a < b``, is
            the global edge read backwards (an owned node with a larger global id
            than its ghost neighbour); used for per-direction ``[2M]`` weights.
        global_degree: ``[n_own + n_ghost]`` weighted degree of every local node
            in the whole graph (a ghost's edges to other ranks included).
    """

    rank: int
    num_parts: int
    num_nodes: int
    owned: Tensor
    ghosts: Tensor
    ghost_owner: Tensor
    send: dict[int, Tensor]
    recv: dict[int, Tensor]
    local_graph: Graph
    edge_ids: Tensor
    edge_flipped: Tensor
    global_degree: Tensor
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def num_owned(self) -> int:
        """Number of owned nodes."""
        return int(self.owned.numel())

    @property
    def num_ghosts(self) -> int:
        """Number of ghost (halo) nodes."""
        return int(self.ghosts.numel())

    @property
    def peers(self) -> list[int]:
        """Ranks this rank exchanges with, ascending."""
        return sorted(self.recv)

    def halo_bytes(self, num_features: int = 1, itemsize: int = 8) -> tuple[int, int]:
        """``(sent, received)`` bytes of one exchange of ``num_features`` columns."""
        sent = sum(int(s.numel()) for s in self.send.values())
        return (
            sent * num_features * itemsize,
            self.num_ghosts * num_features * itemsize,
        )

    def local_edge_weight(self, edge_weight: Tensor) -> Tensor:
        """This rank's slice of global edge weights, in local edge order.

        Args:
            edge_weight: ``[M]`` symmetric weights, or ``[2M]`` per-direction weights
                in ``graph.directed_edge_index`` order, of the whole graph.

        Returns:
            ``[M_local]`` or ``[2M_local]`` (in ``local_graph.directed_edge_index``
            order); a differentiable gather.

        Raises:
            ValueError: ``edge_weight`` is not a 1-D tensor of length ``M`` or ``2M``.
        """
        m = self.global_num_edges
        if not isinstance(edge_weight, Tensor) or edge_weight.dim() != 1 or (
            edge_weight.shape[0] not in (m, 2 * m)
        ):
            raise ValueError(
                "RankPlan.local_edge_weight: `edge_weight` must be a 1-D tensor of "
                f"shape [M]=[{m}] or [2M]=[{2 * m}] (the whole graph's); got "
                f"{describe(edge_weight)}."
            )
        e = self.edge_ids.to(edge_weight.device)
        if edge_weight.shape[0] == m:
            return edge_weight[e]
        flip = self.edge_flipped.to(edge_weight.device)
        fwd = torch.where(flip, edge_weight[m + e], edge_weight[e])
        bwd = torch.where(flip, edge_weight[e], edge_weight[m + e])
        return torch.cat([fwd, bwd])

    @property
    def global_num_edges(self) -> int:
        """Number of undirected edges ``M`` of the whole graph."""
        return int(self._cache["global_num_edges"])

    def map_tensors(
        self, fn: Callable[[Tensor], Tensor], memo: dict[int, Any] | None = None
    ) -> RankPlan:
        """A copy with ``fn`` applied to every tensor (caches included).

        Cached per-pattern structures (built by :mod:`graphops.distributed`) are
        re-keyed to the copied patterns. What :meth:`to` and
        ``DistributedOperator.to`` use.
        """
        memo = {} if memo is None else memo
        if id(self) in memo:
            return memo[id(self)]
        names = [f.name for f in fields(self) if f.name != "_cache"]
        state = {k: map_nested(getattr(self, k), fn, memo) for k in names}
        new = RankPlan(**state)
        memo[id(self)] = new
        for key, value in self._cache.items():
            value = map_nested(value, fn, memo)
            if isinstance(key, tuple) and len(key) == 2 and isinstance(value, tuple):
                key = (key[0], id(value[0]))  # keyed by the (copied) pattern
            new._cache[key] = value
        return new

    def to(
        self,
        device: torch.device | str | torch.dtype | None = None,
        dtype: torch.dtype | None = None,
    ) -> RankPlan:
        """A copy on ``device`` (floating tensors cast to ``dtype``).

        Build or move the plan onto the device the exchange runs on (e.g. CUDA
        for NCCL) before building operators on it.
        """
        return self.map_tensors(_to_fn("RankPlan.to", device, dtype))


# ---------------------------------------------------------------------------------
# partition
# ---------------------------------------------------------------------------------
def _pymetis():
    """The ``pymetis`` module, or ``None`` when it is not installed."""
    try:
        return importlib.import_module("pymetis")
    except ImportError:
        return None


def partition(
    graph: Graph, parts: int, method: Method = "auto", seed: int = 0
) -> Partition:
    """Split the nodes of ``graph`` into ``parts`` balanced parts with a small cut.

    Args:
        graph: The graph (weights are ignored: the cut counts edges).
        parts: Number of parts, ``1 <= parts <= graph.num_nodes``.
        method: ``"metis"`` (needs ``pymetis``: ``pip install pymetis``),
            ``"spectral"`` (recursive spectral bisection), ``"bfs"`` (recursive BFS
            bisection) or ``"auto"`` (METIS if ``pymetis`` imports, else spectral).
        seed: Seed of METIS and of the start vectors / start nodes of the built-in
            methods; the result is deterministic for a given seed.

    Returns:
        The :class:`Partition`. The built-in methods give part sizes within one of
        ``N * k / parts`` at every level of the recursion (so ``balance`` is close
        to 1); METIS allows its default imbalance.

    Raises:
        TypeError: ``graph`` is not a Graph, or ``parts``/``seed`` is not an int.
        ValueError: ``parts`` out of range, or an unknown ``method``.
        ImportError: ``method="metis"`` without ``pymetis``.
    """
    if not isinstance(graph, Graph):
        raise TypeError(
            f"partition: `graph` must be a Graph; got {describe(graph)}. Build one "
            "with Graph(edge_index)."
        )
    n = graph.num_nodes
    parts = check_int("partition", "parts", parts, low=1)
    if parts > max(n, 1):
        raise ValueError(
            f"partition: `parts` must be <= graph.num_nodes={n}; got {parts}. Every "
            "part needs at least one node."
        )
    seed = check_int("partition", "seed", seed, low=0)
    if method not in METHODS:
        raise ValueError(
            f"partition: `method` must be one of {METHODS}; got {method!r}. 'auto' "
            "uses METIS when pymetis is installed, else 'spectral'."
        )
    adj = graph.to_scipy("csr")
    adj.data[:] = 1.0
    if method == "auto":
        method = "metis" if _pymetis() is not None else "spectral"
    if method == "metis":
        assignment = _metis(adj, parts, seed)
    else:
        assignment = np.zeros(n, dtype=np.int64)
        rng = np.random.default_rng(seed)
        _recursive_bisection(adj, np.arange(n), parts, 0, assignment, method, rng)
    assign = torch.from_numpy(assignment).to(torch.int64)
    i, j = graph.edge_index.cpu()
    cut = int((assign[i] != assign[j]).sum())
    sizes = tuple(int(c) for c in torch.bincount(assign, minlength=parts))
    return Partition(assign, parts, method, cut, sizes)


def _metis(adj, parts: int, seed: int) -> np.ndarray:
    """METIS k-way partition through ``pymetis``."""
    pymetis = _pymetis()
    if pymetis is None:
        raise ImportError(
            "partition: method='metis' needs the optional pymetis package; it is not "
            "installed. `pip install pymetis`, or use method='spectral' or 'bfs'."
        )
    if parts == 1:
        return np.zeros(adj.shape[0], dtype=np.int64)
    opts = pymetis.Options(seed=seed)
    if hasattr(pymetis, "CSRAdjacency"):  # pymetis >= 2025.2; xadj/adjncy deprecated
        csr = pymetis.CSRAdjacency(adj.indptr, adj.indices)
        _, membership = pymetis.part_graph(parts, adjacency=csr, options=opts)
    else:
        _, membership = pymetis.part_graph(
            parts, xadj=adj.indptr, adjncy=adj.indices, options=opts
        )
    return np.asarray(membership, dtype=np.int64)


def _recursive_bisection(adj, nodes, k, first, out, method, rng) -> None:
    """Assign ``nodes`` to parts ``first .. first + k - 1`` by recursive bisection."""
    if k == 1:
        out[nodes] = first
        return
    k_left = k // 2
    n_left = int(round(len(nodes) * k_left / k))
    order = _bisection_order(adj[nodes][:, nodes], n_left, method, rng)
    left, right = nodes[order[:n_left]], nodes[order[n_left:]]
    _recursive_bisection(adj, np.sort(left), k_left, first, out, method, rng)
    _recursive_bisection(
        adj, np.sort(right), k - k_left, first + k_left, out, method, rng
    )


def _bisection_order(sub, n_left: int, method: str, rng) -> np.ndarray:
    """An order of a piece's nodes whose first ``n_left`` form the left half.

    Whole connected components come first, smallest first (ties: smallest node), so
    the split point falls inside one component only, the last one reached; that
    component is ordered by its Fiedler vector (``"spectral"``) or a BFS from a
    pseudo-peripheral node (``"bfs"``). A disconnected piece is thus never cut
    through its small components, and the Fiedler vector is only asked of a
    connected graph, where it is unique up to sign.
    """
    from scipy.sparse.csgraph import connected_components

    _, label = connected_components(sub, directed=False)
    sizes = np.bincount(label)
    first_node = np.full(len(sizes), sub.shape[0])
    np.minimum.at(first_node, label, np.arange(sub.shape[0]))
    comp_order = np.lexsort((first_node, sizes))
    order, filled = [], 0
    for c in comp_order:
        members = np.flatnonzero(label == c)
        if filled < n_left < filled + len(members):
            sub_c = sub[members][:, members]
            inner = (
                _fiedler_order(sub_c, rng)
                if method == "spectral"
                else _bfs_order(sub_c, rng)
            )
            members = members[inner]
        order.append(members)
        filled += len(members)
    return np.concatenate(order)


def _fiedler_order(sub, rng) -> np.ndarray:
    """Nodes of a connected piece sorted by their Fiedler-vector entry."""
    n = sub.shape[0]
    if n <= 2:
        return np.arange(n)
    v = _fiedler_vector(sub, rng)
    v = v * np.sign(v[np.argmax(np.abs(v))])  # a fixed sign: largest entry positive
    return np.lexsort((np.arange(n), np.round(v, 12)))


def _fiedler_vector(sub, rng) -> np.ndarray:
    """An eigenvector of the second-smallest eigenvalue of a connected piece's ``L``.

    Dense ``eigh`` for small pieces. Otherwise ARPACK Lanczos for the smallest
    eigenpair of ``L + c 11^T / n`` (``c`` above ``lambda_max``, so the constant
    null vector moves to the top of the spectrum and cannot be returned in place
    of, or mixed with, the Fiedler pair); when that does not converge (a small
    gap: meshes, long paths), shift-invert just below 0, where ``L - sigma I`` is
    positive definite and its LU stays sparse.
    """
    import scipy.sparse as sp

    n = sub.shape[0]
    deg = np.asarray(sub.sum(axis=1)).ravel()
    lap = (sp.diags(deg) - sub).tocsc()
    if n <= _DENSE_LIMIT:
        return np.linalg.eigh(lap.toarray())[1][:, 1]
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    ones = np.full(n, 1.0 / np.sqrt(n))
    c = 2.0 * float(deg.max()) + 1.0  # Gershgorin: above every eigenvalue of L

    def deflated(x: np.ndarray) -> np.ndarray:
        x = np.ravel(x)
        return lap @ x + c * ones * (ones @ x)

    v0 = rng.standard_normal(n)
    try:
        op = LinearOperator((n, n), matvec=deflated, dtype=np.float64)
        _, vecs = eigsh(op, k=1, which="SA", v0=v0, maxiter=50, tol=1e-8)
        return vecs[:, 0]
    except ArpackNoConvergence:
        vals, vecs = eigsh(lap, k=2, sigma=-1e-6, which="LM", v0=v0)
        return vecs[:, int(np.argmax(vals))]


def _bfs_order(sub, rng) -> np.ndarray:
    """A BFS order of a connected piece from a pseudo-peripheral node."""
    from scipy.sparse.csgraph import breadth_first_order

    start = int(rng.integers(sub.shape[0]))
    first = breadth_first_order(sub, start, directed=False, return_predecessors=False)
    # the last node reached is far from `start`: a pseudo-peripheral start
    return breadth_first_order(
        sub, int(first[-1]), directed=False, return_predecessors=False
    )


# ---------------------------------------------------------------------------------
# halo plan
# ---------------------------------------------------------------------------------
def halo_plan(graph: Graph, part: Partition, rank: int) -> RankPlan:
    """Precompute rank ``rank``'s owned and ghost nodes, send and receive lists.

    Every rank computes its own plan from the whole graph (``O(N + M)``); the
    lists agree between ranks by construction: rank ``r`` sends ``q`` exactly its
    owned end points of the ``r``-``q`` cut edges, ascending, which is the block of
    ``q``'s ghosts owned by ``r``.

    Args:
        graph: The whole graph.
        part: A :class:`Partition` of it.
        rank: This rank, ``0 <= rank < part.num_parts``.

    Returns:
        The :class:`RankPlan`.

    Raises:
        TypeError: ``graph``/``part`` of the wrong type, ``rank`` not an int.
        ValueError: ``part`` is for a different number of nodes, or ``rank`` out of
            range.
    """
    if not isinstance(graph, Graph):
        raise TypeError(
            f"halo_plan: `graph` must be a Graph; got {describe(graph)}. Pass the "
            "graph that was partitioned."
        )
    if not isinstance(part, Partition):
        raise TypeError(
            f"halo_plan: `part` must be a Partition; got {describe(part)}. Build it "
            "with partition(graph, parts)."
        )
    n = graph.num_nodes
    if part.assignment.numel() != n:
        raise ValueError(
            f"halo_plan: `part` must assign the graph's {n} nodes; got a partition "
            f"of {part.assignment.numel()} nodes. Partition this graph."
        )
    rank = check_int("halo_plan", "rank", rank, low=0)
    if rank >= part.num_parts:
        raise ValueError(
            f"halo_plan: `rank` must be < num_parts={part.num_parts}; got {rank}."
        )
    dev = graph.device
    assign = part.assignment.to(dev)
    i, j = graph.edge_index
    mine = assign == rank
    owned = mine.nonzero().flatten()
    # ghosts: the other end point of edges with exactly one end here
    cut_i = mine[i] & ~mine[j]  # i owned, j ghost
    cut_j = mine[j] & ~mine[i]  # j owned, i ghost
    ghost_ids = torch.unique(torch.cat([j[cut_i], i[cut_j]]))
    owner = assign[ghost_ids]
    by_owner = torch.argsort(owner * n + ghost_ids)
    ghosts, ghost_owner = ghost_ids[by_owner], owner[by_owner]
    n_own, n_ghost = int(owned.numel()), int(ghosts.numel())
    g2l = torch.full((n,), -1, dtype=torch.int64, device=dev)
    g2l[owned] = torch.arange(n_own, device=dev)
    g2l[ghosts] = torch.arange(n_own, n_own + n_ghost, device=dev)
    recv, send = {}, {}
    for q in torch.unique(ghost_owner).tolist():
        recv[q] = (ghost_owner == q).nonzero().flatten()
        # my owned end points of edges to q's nodes, ascending global id
        to_q = torch.unique(
            torch.cat([i[cut_i & (assign[j] == q)], j[cut_j & (assign[i] == q)]])
        )
        send[q] = g2l[to_q]
    # local graph: edges with at least one owned end point, canonical local order
    keep = (mine[i] | mine[j]).nonzero().flatten()
    li, lj = g2l[i[keep]], g2l[j[keep]]
    lo, hi = torch.minimum(li, lj), torch.maximum(li, lj)
    n_loc = n_own + n_ghost
    perm = torch.argsort(lo * max(n_loc, 1) + hi)
    edge_ids = keep[perm]
    local = Graph._from_canonical(
        torch.stack([lo[perm], hi[perm]]),
        n_loc,
        graph.edge_weight[edge_ids],
        graph.weighted,
    )
    deg = graph.degree()
    local_nodes = torch.cat([owned, ghosts])
    plan = RankPlan(
        rank=rank,
        num_parts=part.num_parts,
        num_nodes=n,
        owned=owned,
        ghosts=ghosts,
        ghost_owner=ghost_owner,
        send=send,
        recv=recv,
        local_graph=local,
        edge_ids=edge_ids,
        edge_flipped=(li > lj)[perm],
        global_degree=deg[local_nodes],
    )
    plan._cache["global_num_edges"] = graph.num_edges
    return plan
