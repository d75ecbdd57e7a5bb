"""`Graph`: the validated container every operator is built on.

See :mod:`graphops` for the conventions (each undirected edge stored once, ``i < j``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, describe
from graphops.spmm import map_nested

__all__ = ["MAX_NUM_NODES", "Graph"]

_DIRECTED = ("error", "symmetrize")
_SELF_LOOPS = ("drop", "error")
# Largest `num_nodes` a Graph accepts. Canonicalisation keys each pair (i, j) as
# ``i * N + j`` in int64, exact for N <= 2**31 (the key stays below 2**62), and
# operators allocate O(N) per-node arrays; above this the keys would overflow
# (negative ids, false "missing reverse edge" errors) or the allocation fail late.
MAX_NUM_NODES = 2**31


def _to_fn(
    where: str,
    device: torch.device | str | torch.dtype | None,
    dtype: torch.dtype | None,
) -> Callable[[Tensor], Tensor]:
    """The tensor map of ``.to(device, dtype)``: casts floating tensors only.

    Shared by :meth:`Graph.to` and :meth:`~graphops.operators.GraphOperator.to`;
    ``where`` names the call in the error message.
    """
    if isinstance(device, torch.dtype) and dtype is None:
        # .to(torch.float32), as with tensors and modules
        device, dtype = None, device
    if dtype is not None and not (
        isinstance(dtype, torch.dtype) and dtype.is_floating_point
    ):
        raise TypeError(
            f"{where}: `dtype` must be a floating dtype; got {describe(dtype)}. "
            "Pass e.g. torch.float32."
        )

    def fn(t: Tensor) -> Tensor:
        return t.to(device=device, dtype=dtype if t.is_floating_point() else None)

    return fn


class Graph:
    r"""An undirected weighted graph, validated once at construction.

    The input ``edge_index`` lists **directed** pairs ``(src, dst)`` as in PyG. It is
    turned into the canonical form used everywhere in graphpde: every undirected
    edge ``{i, j}`` stored once as ``(i, j)`` with ``i < j``, sorted, with one weight
    (see :mod:`graphops` for the sign conventions).

    What happens to the input, exactly:

    * **Duplicated directed pairs** are coalesced by summing their weights.
    * **Self-loops** ``(i, i)`` are dropped (``self_loops="drop"``, the default) or
      rejected (``"error"``). Dropping is exact for every operator here: the gradient
      along a loop is zero and ``D - W`` does not see it; the ``"gcn"``
      normalisation adds its own unit self-loops (PyG's ``add_remaining_self_loops``).
    * **Direction.** ``directed="error"`` (default) requires a symmetric input: each
      ``(i, j)`` needs its reverse ``(j, i)`` with the same weight (relative tolerance
      1e-6), as PyG stores undirected graphs. ``directed="symmetrize"`` accepts any
      input (for example an edge list holding each edge once) and takes the union of
      both directions with weight ``max(w_ij, w_ji)``.
    * **Isolated nodes** are allowed (``num_nodes`` may exceed the largest index).

    Args:
        edge_index: Integer tensor ``[2, E]`` of directed pairs.
        num_nodes: Number of nodes; ``None`` infers ``max(edge_index) + 1``.
        edge_weight: Finite, non-negative weights ``[E]``; ``None`` means all ones.
            May require grad (gradients flow through coalescing).
        directed: ``"error"`` or ``"symmetrize"``, see above.
        self_loops: ``"drop"`` or ``"error"``, see above.

    Raises:
        TypeError: ``edge_index`` is not an integer tensor.
        ValueError: wrong shapes, indices out of range, ``num_nodes`` above
            :data:`MAX_NUM_NODES` (``2**31``), a ``meta``-device ``edge_index``,
            non-finite or negative weights, an asymmetric input with
            ``directed="error"`` (a duplicated pair given in one direction only is
            named as such), or a self-loop with ``self_loops="error"``.

    Shapes:
        ``edge_index [2, M]`` (canonical, ``i < j``), ``edge_weight [M]``,
        ``directed_edge_index [2, 2M]`` (the ``M`` forward pairs then the ``M``
        reversed pairs).

    Example:
        >>> g = Graph(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
        >>> g.num_nodes, g.num_edges
        (3, 2)
        >>> g.edge_index   # each undirected edge once, i < j
        tensor([[0, 1],
                [1, 2]])
    """

    __slots__ = ("edge_index", "edge_weight", "num_nodes", "weighted", "_cache")

    edge_index: Tensor
    edge_weight: Tensor
    num_nodes: int
    weighted: bool

    def __init__(
        self,
        edge_index: Tensor,
        num_nodes: int | None = None,
        edge_weight: Tensor | None = None,
        *,
        directed: Literal["error", "symmetrize"] = "error",
        self_loops: Literal["drop", "error"] = "drop",
    ) -> None:
        """Validate and canonicalise; the arguments are documented on the class."""
        edge_index, num_nodes, edge_weight = _validate(
            edge_index, num_nodes, edge_weight, directed, self_loops
        )
        ei, w = _canonicalise(edge_index, num_nodes, edge_weight, directed)
        self._set(ei, num_nodes, w, weighted=edge_weight is not None)

    # -- construction helpers -------------------------------------------------------
    def _set(self, ei: Tensor, n: int, w: Tensor, weighted: bool) -> None:
        object.__setattr__(self, "edge_index", ei)
        object.__setattr__(self, "num_nodes", int(n))
        object.__setattr__(self, "edge_weight", w)
        object.__setattr__(self, "weighted", bool(weighted))
        object.__setattr__(self, "_cache", {})

    @classmethod
    def _from_canonical(
        cls, edge_index: Tensor, num_nodes: int, edge_weight: Tensor, weighted: bool
    ) -> Graph:
        """Wrap already-canonical data without re-validating (internal use)."""
        g = cls.__new__(cls)
        g._set(edge_index, num_nodes, edge_weight, weighted)
        return g

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse: a graph is validated once and never changes."""
        raise AttributeError(
            f"Graph is immutable; cannot set `{name}`. Build a new Graph, or pass "
            "learned weights to an operator: Laplacian(graph, edge_weight=w)."
        )

    # -- basic properties ------------------------------------------------------------
    @property
    def num_edges(self) -> int:
        """Number of undirected edges ``M`` (each stored once)."""
        return int(self.edge_index.shape[1])

    @property
    def device(self) -> torch.device:
        """Device of the index and weight tensors."""
        return self.edge_index.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of ``edge_weight``."""
        return self.edge_weight.dtype

    @property
    def directed_edge_index(self) -> Tensor:
        """Both directions of every edge, ``[2, 2M]``: forward pairs, then reversed."""
        c = self._cache
        if "directed_edge_index" not in c:
            c["directed_edge_index"] = torch.cat(
                [self.edge_index, self.edge_index.flip(0)], dim=1
            )
        return c["directed_edge_index"]

    def degree(self, edge_weight: Tensor | None = None) -> Tensor:
        """Weighted degree ``d_i = sum_j w_ij`` (``[N]``)."""
        w = self.edge_weight if edge_weight is None else edge_weight
        d = torch.zeros(self.num_nodes, dtype=w.dtype, device=w.device)
        d = d.index_add(0, self.edge_index[0], w)
        return d.index_add(0, self.edge_index[1], w)

    def __repr__(self) -> str:
        """The configuration: ``Graph(num_nodes=..., ..., device=...)``."""
        return (
            f"Graph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
            f"weighted={self.weighted}, dtype={self.dtype}, device={self.device})"
        )

    # -- conversions -----------------------------------------------------------------
    def to(
        self,
        device: torch.device | str | torch.dtype | None = None,
        dtype: torch.dtype | None = None,
    ) -> Graph:
        """A copy on ``device`` with the weights cast to ``dtype`` (no re-validation).

        The cached index structures (sparsity patterns, their transposes, the
        directed edge index) move along, so operators built on the copy do not
        rebuild them. Like :meth:`torch.Tensor.to`, returns ``self`` when nothing
        changes.

        Args:
            device: Target device (``None``: stay); a dtype here is taken as
                ``dtype``, as in ``graph.to(torch.float32)``.
            dtype: Floating dtype of ``edge_weight`` (``None``: keep).

        Returns:
            The moved graph.

        Raises:
            TypeError: ``dtype`` is not a floating dtype.

        Example:
            >>> g = Graph(torch.tensor([[0, 1], [1, 0]]))
            >>> g.to(dtype=torch.float64).dtype
            torch.float64
        """
        return self.map_tensors(_to_fn("Graph.to", device, dtype))

    def map_tensors(
        self, fn: Callable[[Tensor], Tensor], memo: dict[int, Any] | None = None
    ) -> Graph:
        """A copy with ``fn`` applied to every tensor, the cached structures included.

        What :meth:`to` and :meth:`torch.nn.Module.to` (through a term that holds
        the graph) use; ``memo`` (``id`` -> copy) keeps objects shared between a
        graph and its operators shared in the copy.

        Args:
            fn: Tensor map, e.g. ``lambda t: t.to("cuda")``.
            memo: Copies made so far (``None``: a fresh one).

        Returns:
            The copy, or ``self`` if ``fn`` changed neither index nor weights.
        """
        memo = {} if memo is None else memo
        if id(self) in memo:
            return memo[id(self)]
        ei = map_nested(self.edge_index, fn, memo)
        w = map_nested(self.edge_weight, fn, memo)
        if ei is self.edge_index and w is self.edge_weight:
            memo[id(self)] = self
            return self
        g = Graph._from_canonical(ei, self.num_nodes, w, self.weighted)
        memo[id(self)] = g
        g._cache.update({k: map_nested(v, fn, memo) for k, v in self._cache.items()})
        return g

    def to_scipy(self, format: str = "csr"):  # noqa: A002 - scipy's own name
        """The symmetric weighted adjacency ``W`` as a scipy sparse matrix (float64)."""
        import scipy.sparse as sp

        ei = self.directed_edge_index.detach().cpu().numpy()
        w = self.edge_weight.detach().cpu().to(torch.float64).numpy()
        w2 = np.concatenate([w, w])
        n = self.num_nodes
        return sp.coo_matrix((w2, (ei[0], ei[1])), shape=(n, n)).asformat(format)

    def to_dense(self) -> Tensor:
        """The symmetric weighted adjacency ``W`` as a dense ``[N, N]`` tensor."""
        n = self.num_nodes
        a = torch.zeros(n, n, dtype=self.dtype, device=self.device)
        i, j = self.edge_index
        a = a.index_put((i, j), self.edge_weight, accumulate=True)
        return a.index_put((j, i), self.edge_weight, accumulate=True)

    @classmethod
    def from_scipy(
        cls,
        adjacency: Any,
        *,
        directed: Literal["error", "symmetrize"] = "error",
        self_loops: Literal["drop", "error"] = "drop",
    ) -> Graph:
        """Build from a square scipy sparse (or dense numpy) adjacency matrix.

        Explicitly stored zeros are dropped. Entry ``A[i, j]`` is the weight of
        ``(i, j)``; see :class:`Graph` for ``directed`` and ``self_loops``.
        """
        import scipy.sparse as sp

        if not (sp.issparse(adjacency) or isinstance(adjacency, np.ndarray)):
            raise TypeError(
                "Graph.from_scipy: `adjacency` must be a scipy sparse matrix or numpy "
                f"array; got {describe(adjacency)}. Convert it first."
            )
        a = sp.coo_matrix(adjacency)
        if a.shape[0] != a.shape[1]:
            raise ValueError(
                f"Graph.from_scipy: `adjacency` must be square; got shape {a.shape}."
                " Pass an N x N adjacency matrix."
            )
        a.eliminate_zeros()
        ei = torch.from_numpy(np.vstack([a.row, a.col]).astype(np.int64))
        w = torch.from_numpy(np.asarray(a.data, dtype=np.float64)).to(
            torch.get_default_dtype()
        )
        return cls(ei, a.shape[0], w, directed=directed, self_loops=self_loops)

    @classmethod
    def from_dense(
        cls,
        adjacency: Tensor,
        *,
        directed: Literal["error", "symmetrize"] = "error",
        self_loops: Literal["drop", "error"] = "drop",
    ) -> Graph:
        """Build from a dense ``[N, N]`` weighted adjacency tensor (zeros = no edge)."""
        if (
            not isinstance(adjacency, Tensor)
            or adjacency.dim() != 2
            or adjacency.shape[0] != adjacency.shape[1]
        ):
            raise ValueError(
                "Graph.from_dense: `adjacency` must be a square 2-D tensor; got "
                f"{describe(adjacency)}. Pass an N x N tensor."
            )
        ei = adjacency.nonzero().T.contiguous()
        w = adjacency[ei[0], ei[1]]
        if not w.is_floating_point():
            w = w.to(torch.get_default_dtype())
        return cls(ei, adjacency.shape[0], w, directed=directed, self_loops=self_loops)

    @classmethod
    def from_networkx(
        cls,
        nx_graph: Any,
        *,
        weight: str | None = "weight",
        directed: Literal["error", "symmetrize"] | None = None,
    ) -> Graph:
        """Build from a networkx graph; nodes are numbered in ``nx_graph.nodes`` order.

        Args:
            nx_graph: A ``networkx.Graph`` (or ``DiGraph``).
            weight: Edge attribute holding the weight (missing means 1); ``None``
                ignores weights.
            directed: Defaults to ``"error"`` for a ``DiGraph`` (which must then be
                symmetric) and is irrelevant for an undirected graph.
        """
        if not hasattr(nx_graph, "nodes") or not hasattr(nx_graph, "edges"):
            raise TypeError(
                "Graph.from_networkx: `nx_graph` must be a networkx graph; got "
                f"{describe(nx_graph)}."
            )
        index = {node: k for k, node in enumerate(nx_graph.nodes)}
        src, dst, ws = [], [], []
        is_directed = bool(nx_graph.is_directed())
        for u, v, data in nx_graph.edges(data=True):
            wt = float(data.get(weight, 1.0)) if weight is not None else 1.0
            src.append(index[u])
            dst.append(index[v])
            ws.append(wt)
            if not is_directed:
                src.append(index[v])
                dst.append(index[u])
                ws.append(wt)
        ei = torch.tensor([src, dst], dtype=torch.int64).reshape(2, -1)
        w = torch.tensor(ws, dtype=torch.get_default_dtype())
        weighted = weight is not None and any(
            weight in d for _, _, d in nx_graph.edges(data=True)
        )
        g = cls(
            ei,
            len(index),
            w if weighted else None,
            directed=directed or "error",
        )
        return g

    @classmethod
    def from_pyg(
        cls, data: Any, *, directed: Literal["error", "symmetrize"] = "error"
    ) -> Graph:
        """Build from a ``torch_geometric.data.Data``.

        Uses ``edge_index``, ``num_nodes`` and a 1-D ``edge_weight`` or ``edge_attr``
        if present.

        torch_geometric is not imported: any object with those attributes works.
        """
        ei = getattr(data, "edge_index", None)
        if ei is None:
            raise TypeError(
                "Graph.from_pyg: `data` needs an `edge_index` attribute (a PyG Data "
                f"object); got {describe(data)}."
            )
        w = getattr(data, "edge_weight", None)
        if w is None:
            attr = getattr(data, "edge_attr", None)
            if isinstance(attr, Tensor) and attr.dim() == 1:
                w = attr
        return cls(ei, getattr(data, "num_nodes", None), w, directed=directed)


def _validate(edge_index, num_nodes, edge_weight, directed, self_loops):
    if directed not in _DIRECTED:
        raise ValueError(
            f"Graph: `directed` must be one of {_DIRECTED}; got {directed!r}. "
            'Use "symmetrize" for edge lists that store each edge once.'
        )
    if self_loops not in _SELF_LOOPS:
        raise ValueError(
            f"Graph: `self_loops` must be one of {_SELF_LOOPS}; got {self_loops!r}."
        )
    if isinstance(edge_index, np.ndarray):
        edge_index = torch.from_numpy(edge_index)
    if not isinstance(edge_index, Tensor):
        raise TypeError(
            "Graph: `edge_index` must be an integer tensor [2, E]; got "
            f"{describe(edge_index)}. "
            "Pass torch.tensor([[src...], [dst...]])."
        )
    if (
        edge_index.is_floating_point()
        or edge_index.is_complex()
        or edge_index.dtype == torch.bool
    ):
        raise TypeError(
            "Graph: `edge_index` must have an integer dtype (int64); got "
            f"{edge_index.dtype}. "
            "Cast with edge_index.long()."
        )
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(
            "Graph: `edge_index` must have shape [2, E]; got "
            f"{tuple(edge_index.shape)}. "
            "Transpose an [E, 2] edge list with .T."
        )
    if edge_index.is_meta:
        raise ValueError(
            "Graph: `edge_index` must hold concrete node ids; got a tensor on the "
            "meta device (no values to validate). Build the graph on the CPU, then "
            'move it with graph.to("meta").'
        )
    edge_index = edge_index.to(torch.int64)
    e = edge_index.shape[1]
    if num_nodes is None:
        num_nodes = int(edge_index.max()) + 1 if e > 0 else 0
    num_nodes = check_int(
        "Graph",
        "num_nodes",
        num_nodes,
        low=0,
        fix="Pass the node count, or None to infer max(edge_index) + 1.",
    )
    if num_nodes > MAX_NUM_NODES:
        raise ValueError(
            f"Graph: `num_nodes` must be <= 2**31 = {MAX_NUM_NODES} (edge keys "
            "i * N + j are int64 and operators allocate O(N) arrays); got "
            f"{num_nodes}. Renumber the nodes that occur in `edge_index` "
            "compactly (e.g. torch.unique(edge_index, return_inverse=True))."
        )
    if e > 0:
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0:
            raise ValueError(
                f"Graph: `edge_index` must be non-negative node ids; got {lo}. "
                "Remove or renumber the negative entries."
            )
        if hi >= num_nodes:
            raise ValueError(
                f"Graph: `edge_index` refers to node {hi} but `num_nodes`={num_nodes}. "
                f"Pass num_nodes={hi + 1} or drop the edge."
            )
    if edge_weight is not None:
        if not isinstance(edge_weight, Tensor):
            edge_weight = torch.as_tensor(edge_weight, dtype=torch.get_default_dtype())
        if not edge_weight.is_floating_point():
            edge_weight = edge_weight.to(torch.get_default_dtype())
        if edge_weight.shape != (e,):
            raise ValueError(
                f"Graph: `edge_weight` must have shape [E]=[{e}] (one per column of "
                f"`edge_index`); got {tuple(edge_weight.shape)}."
            )
        if edge_weight.device != edge_index.device:
            raise ValueError(
                f"Graph: `edge_weight` is on {edge_weight.device} but `edge_index` is "
                "on "
                f"{edge_index.device}. Move both to one device."
            )
        if e > 0:
            wd = edge_weight.detach()
            if not bool(torch.isfinite(wd).all()):
                k = int((~torch.isfinite(wd)).nonzero()[0])
                raise ValueError(
                    f"Graph: `edge_weight` must be finite; got {float(wd[k])} at edge "
                    f"{k} "
                    f"({int(edge_index[0, k])}, {int(edge_index[1, k])}). Fix or drop "
                    "that edge."
                )
            if bool((wd < 0).any()):
                k = int((wd < 0).nonzero()[0])
                raise ValueError(
                    "Graph: `edge_weight` must be >= 0 (a Laplacian needs "
                    "non-negative "
                    f"weights); got {float(wd[k])} at edge {k} "
                    f"({int(edge_index[0, k])}, "
                    f"{int(edge_index[1, k])}). Use abs(), softplus() or drop the edge."
                )
    if self_loops == "error" and e > 0:
        loops = edge_index[0] == edge_index[1]
        if bool(loops.any()):
            node = int(edge_index[0, loops.nonzero()[0]])
            raise ValueError(
                "Graph: no self-loops allowed with self_loops='error'; got a loop at "
                "node "
                f"{node} ({int(loops.sum())} in all). Pass self_loops='drop' to "
                "remove them."
            )
    return edge_index, num_nodes, edge_weight


def _unique_inverse(key: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.unique(key, sorted=True, return_inverse=True)``, faster.

    Via sort + ``unique_consecutive``, which is several times faster on
    multi-threaded CPU.
    """
    sk, perm = torch.sort(key)
    uniq, counts = torch.unique_consecutive(sk, return_counts=True)
    inv_sorted = torch.repeat_interleave(
        torch.arange(uniq.numel(), device=key.device), counts
    )
    inv = torch.empty_like(inv_sorted)
    inv[perm] = inv_sorted
    return uniq, inv


def _canonicalise(edge_index, n, edge_weight, directed):
    """Coalesce, drop loops, pair up directions, return ``(i<j index, weight)``."""
    dev = edge_index.device
    dtype = edge_weight.dtype if edge_weight is not None else torch.get_default_dtype()
    w = (
        edge_weight
        if edge_weight is not None
        else torch.ones(edge_index.shape[1], dtype=dtype, device=dev)
    )
    keep = edge_index[0] != edge_index[1]
    src, dst, w = edge_index[0, keep], edge_index[1, keep], w[keep]
    if src.numel() == 0:
        return torch.empty(2, 0, dtype=torch.int64, device=dev), w.new_zeros(0)
    # 1) coalesce duplicated directed pairs by summing
    key = src * n + dst
    ukey, inv = _unique_inverse(key)
    wd = w.new_zeros(ukey.numel()).index_add(0, inv, w)
    s, d = ukey // n, ukey % n
    # 2) pair (i, j) with (j, i) on the undirected key (min, max)
    a, b = torch.minimum(s, d), torch.maximum(s, d)
    ukey2, inv2 = _unique_inverse(a * n + b)
    m = ukey2.numel()
    fwd = s < d
    w_f = wd.new_zeros(m).index_add(0, inv2[fwd], wd[fwd])
    w_b = wd.new_zeros(m).index_add(0, inv2[~fwd], wd[~fwd])
    has_f = torch.zeros(m, dtype=torch.bool, device=dev).index_fill(0, inv2[fwd], True)
    has_b = torch.zeros(m, dtype=torch.bool, device=dev).index_fill(0, inv2[~fwd], True)
    ei = torch.stack([ukey2 // n, ukey2 % n])
    if directed == "error":
        lonely = has_f != has_b
        if bool(lonely.any()):
            k = int(lonely.nonzero()[0])
            i, j = int(ei[0, k]), int(ei[1, k])
            (p, q) = (i, j) if bool(has_f[k]) else (j, i)
            raise ValueError(
                f"Graph: an undirected graph needs both directions of every edge; got "
                f"({p}, {q}) without ({q}, {p}) ({int(lonely.sum())} such edges). Pass "
                'directed="symmetrize" to add the reverse edges (for edge lists that '
                "store each edge once)."
            )
        wf, wb = w_f.detach(), w_b.detach()
        bad = (wf - wb).abs() > 1e-6 * torch.maximum(wf.abs(), wb.abs())
        if bool(bad.any()):
            k = int(bad.nonzero()[0])
            i, j = int(ei[0, k]), int(ei[1, k])
            # multiplicity of each directed pair, only on this error path
            mult = torch.zeros(ukey.numel(), dtype=torch.int64, device=dev)
            mult = mult.index_add(0, inv, torch.ones_like(inv))
            m_f = mult.new_zeros(m).index_add(0, inv2[fwd], mult[fwd])
            m_b = mult.new_zeros(m).index_add(0, inv2[~fwd], mult[~fwd])
            cf, cb = int(m_f[k]), int(m_b[k])
            if cf != cb:
                raise ValueError(
                    "Graph: an undirected graph needs each edge the same number of "
                    f"times in both directions; got ({i}, {j}) {cf} time(s) but "
                    f"({j}, {i}) {cb} time(s) (duplicated pairs are summed, so the "
                    "weights differ). Remove the duplicate, or pass "
                    'directed="symmetrize".'
                )
            raise ValueError(
                "Graph: an undirected graph needs equal weights in both directions; "
                "got "
                f"w({i}, {j})={float(wf[k])} but w({j}, {i})={float(wb[k])}. Pass "
                'directed="symmetrize" to take the larger, or symmetrise the weights.'
            )
        weight = 0.5 * (w_f + w_b)
    else:
        weight = torch.maximum(w_f, w_b)
    return ei, weight
