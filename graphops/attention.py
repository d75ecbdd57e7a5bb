r"""Multi-head attention weights on the edges of a graph (GRAND, BLEND, GAT-like).

The attention of GRAND (Chamberlain et al. 2021; REPRODUCTION.md §3.2) is a
weighted adjacency ``A(X)`` whose entries are normalised scores between the two
end points of every directed edge, plus a self-loop per node. This module computes
those weights from per-node queries and keys and hands them to the one sparse
kernel through :class:`~graphops.operators.Adjacency` with ``[2M]`` per-direction
edge weights; the self-loops, which a :class:`~graphops.graph.Graph` does not
store, are a diagonal term added separately (:class:`AttentionWeights`).

**Edge set and conventions.** The attention edge set is ``graph.directed_edge_index``
(both directions of every undirected edge: the ``M`` forward pairs ``(i, j)``,
``i < j``, then the ``M`` reversed pairs) followed, with ``self_loops=True``, by the
``N`` self-loops ``(a, a)`` (:func:`attention_edge_index`). Entry ``e = (a, b)`` of
that list is the matrix entry ``A_ab`` in the convention of :mod:`graphops`
operators, ``(A x)_a = sum_b A_ab x_b`` (row ``a`` takes from column ``b``), which is
also the convention of ``torch_sparse.spmm(edge_index, ...)`` in the authors' code
(row ``edge_index[0]``). The query is read at the row node and the key at the
column node, as in the code (``src = q[edge[0]]``, ``dst = k[edge[1]]``).

**Scores** (per head :math:`h`, :math:`q^h_a, k^h_b \in \mathbb{R}^{d_k}`):

.. math::

    s^h_{ab} = \frac{\langle q^h_a, k^h_b\rangle}{\sqrt{d_k}}
    \quad(\texttt{scaled\_dot}), \qquad
    s^h_{ab} = \sigma^2 \exp\Big(-\frac{\lVert q^h_a - k^h_b\rVert^2}{2\ell^2}\Big)
    \quad(\texttt{exp\_kernel}).

``scaling="sqrt"`` divides the dot product by :math:`\sqrt{d_k}` (the authors' code,
V1-code); ``scaling="linear"`` divides by :math:`d_k` as the paper writes it
(V1-paper). The kernel's :math:`\sigma` and :math:`\ell` are learned by the caller.

**Normalisation** over the group of entries sharing ``edge_index[norm_idx]``:

.. math::

    \text{softmax: } a_e = \frac{e^{s_e}}{\sum_{e' \in g(e)} e^{s_{e'}}}, \qquad
    \text{squareplus: } a_e = \frac{\operatorname{sp}(s_e - m)}
    {\sum_{e' \in g(e)} \operatorname{sp}(s_{e'} - m)},\quad
    \operatorname{sp}(z) = \frac{z + \sqrt{z^2 + 4}}{2},

with :math:`m` the **global** maximum of all scores (all entries, all heads), as in
the authors' ``utils.squareplus`` (V1-code); squareplus is not shift invariant, so
this matters. The softmax subtracts the per-group maximum (detached), which does not
change its value. Heads are averaged after normalisation into one weight per entry.

**Which index makes the operator row-stochastic.** With ``norm_idx=0`` the groups
are the rows ``a``: :math:`\sum_b A_{ab} = 1` for every node with at least one entry
(every node when ``self_loops=True``), so ``A`` is row-stochastic in the
:mod:`graphops` convention and ``(A - I) x`` has zero row sums. With ``norm_idx=1``
(the released Cora and CiteSeer configurations of GRAND, PyG's "target" index) the
groups are the columns ``b``: ``A`` is column-stochastic, the transpose of a
row-stochastic matrix on a symmetric edge set (REPRODUCTION.md §3.2 item 2).

The graph's own edge weights are not used: the authors' code multiplies the scores
by them only under ``reweight_attention``, which no released configuration sets.

References:
    Chamberlain, Rowbottom, Gorinova, Webb, Rossi & Bronstein (2021), "GRAND: Graph
    Neural Diffusion", ICML. Barron (2021), "Squareplus: a softplus-like algebraic
    rectifier", arXiv:2112.11687.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from graphops._checks import check_int, describe
from graphops.graph import Graph
from graphops.operators import Adjacency
from graphops.spmm import SparsePattern, sddmm

__all__ = [
    "AttentionWeights",
    "attention_edge_index",
    "attention_scores",
    "attention_weights",
    "normalize_scores",
]

Score = Literal["scaled_dot", "exp_kernel"]
Normalization = Literal["softmax", "squareplus"]
Method = Literal["auto", "sddmm", "gather"]
_METHODS = ("auto", "sddmm", "gather")
_SCORES = ("scaled_dot", "exp_kernel")
_NORMALIZATIONS = ("softmax", "squareplus")
_SCALINGS = ("sqrt", "linear")


def attention_edge_index(graph: Graph, *, self_loops: bool = True) -> Tensor:
    """The attention edge set: both directions of every edge, then the self-loops.

    Args:
        graph: Validated graph.
        self_loops: Append the ``N`` pairs ``(a, a)``.

    Returns:
        int64 ``[2, 2M + N]`` (``[2, 2M]`` without self-loops): first
        ``graph.directed_edge_index``, then ``(a, a)`` for ``a = 0..N-1``. Row 0 is
        the row (query) node of the entry, row 1 the column (key) node.
    """
    directed = graph.directed_edge_index
    if not self_loops:
        return directed
    # Cached on the graph like the operators' sparsity patterns (built once).
    c = graph._cache
    if "attention_edge_index" not in c:
        ar = torch.arange(graph.num_nodes, device=graph.device)
        c["attention_edge_index"] = torch.cat([directed, torch.stack([ar, ar])], dim=1)
    return c["attention_edge_index"]


def _layout(where: str, heads: int, width: int, scaling: str) -> tuple[int, int, float]:
    """``(heads, d_k, scale)`` of ``scaled_dot`` scores, validated."""
    if scaling not in _SCALINGS:
        raise ValueError(
            f"{where}: `scaling` must be one of {_SCALINGS}; got {scaling!r}. 'sqrt' "
            "divides by sqrt(d_k) (authors' code), 'linear' by d_k (paper)."
        )
    heads = check_int(where, "heads", heads, low=1)
    if width % heads:
        raise ValueError(
            f"{where}: `heads`={heads} must divide the width of `q` and `k`; got "
            f"width {width}. Use an attention dimension that is a multiple of heads."
        )
    d_k = width // heads
    return heads, d_k, math.sqrt(d_k) if scaling == "sqrt" else float(d_k)


def _check_qk(where: str, q: Tensor, k: Tensor, num_nodes: int | None) -> None:
    for name, v in (("q", q), ("k", k)):
        if not isinstance(v, Tensor) or v.dim() != 2 or not v.is_floating_point():
            raise ValueError(
                f"{where}: `{name}` must be a floating tensor [N, heads * d_k]; got "
                f"{describe(v)}."
            )
    if q.shape != k.shape:
        raise ValueError(
            f"{where}: `q` and `k` must have the same shape; got {tuple(q.shape)} and "
            f"{tuple(k.shape)}."
        )
    if num_nodes is not None and q.shape[0] != num_nodes:
        raise ValueError(
            f"{where}: `q` and `k` need one row per node ({num_nodes}); got "
            f"{q.shape[0]} rows."
        )


def attention_scores(
    q: Tensor,
    k: Tensor,
    edge_index: Tensor,
    *,
    heads: int = 1,
    score: Score = "scaled_dot",
    scaling: Literal["sqrt", "linear"] = "sqrt",
    output_var: Tensor | float | None = None,
    lengthscale: Tensor | float | None = None,
) -> Tensor:
    r"""Unnormalised multi-head scores ``s^h_e`` of the entries ``e = (a, b)``.

    See the module docstring for the formulas. The ``heads * d_k`` columns of ``q``
    and ``k`` are split into ``heads`` consecutive blocks of ``d_k`` columns.

    Args:
        q: Queries ``[N, heads * d_k]``, read at the row node ``edge_index[0]``.
        k: Keys ``[N, heads * d_k]``, read at the column node ``edge_index[1]``.
        edge_index: int64 ``[2, E]`` entries (e.g. :func:`attention_edge_index`).
        heads: Number of heads, dividing the width of ``q``.
        score: ``"scaled_dot"`` or ``"exp_kernel"``.
        scaling: ``"sqrt"`` divides the dot product by :math:`\sqrt{d_k}` (code),
            ``"linear"`` by :math:`d_k` (paper); ``scaled_dot`` only.
        output_var: The kernel's :math:`\sigma` (``exp_kernel`` only; required).
        lengthscale: The kernel's :math:`\ell` (``exp_kernel`` only; required).

    Returns:
        ``[E, heads]`` scores.

    Raises:
        ValueError: bad shapes, an unknown ``score`` or ``scaling``, ``heads`` not
            dividing the width, or a missing kernel parameter.

    Shapes:
        ``q``, ``k``: ``[N, heads * d_k]``; ``edge_index``: ``[2, E]`` ->
        ``[E, heads]``.
    """
    where = "attention_scores"
    _check_qk(where, q, k, None)
    if score not in _SCORES:
        raise ValueError(f"{where}: `score` must be one of {_SCORES}; got {score!r}.")
    heads, d_k, scale = _layout(where, heads, q.shape[1], scaling)
    if (
        not isinstance(edge_index, Tensor)
        or edge_index.dim() != 2
        or edge_index.shape[0] != 2
    ):
        raise ValueError(
            f"{where}: `edge_index` must be an int64 tensor [2, E]; got "
            f"{describe(edge_index)}. Use attention_edge_index(graph)."
        )
    src = q.view(-1, heads, d_k)[edge_index[0]]
    dst = k.view(-1, heads, d_k)[edge_index[1]]
    if score == "scaled_dot":
        return (src * dst).sum(-1) / scale
    if output_var is None or lengthscale is None:
        raise ValueError(
            f"{where}: score='exp_kernel' needs `output_var` and `lengthscale`; got "
            f"output_var={output_var!r}, lengthscale={lengthscale!r}. Pass the "
            "learned kernel parameters."
        )
    sq = ((src - dst) ** 2).sum(-1)
    return output_var**2 * torch.exp(-sq / (2.0 * lengthscale**2))


def normalize_scores(
    scores: Tensor,
    index: Tensor,
    num_nodes: int,
    *,
    normalization: Normalization = "softmax",
) -> Tensor:
    """Normalise scores over the groups of entries sharing ``index``.

    ``softmax`` subtracts the (detached) per-group maximum, exponentiates and divides
    by the group sum; ``squareplus`` subtracts the global maximum, maps
    ``z -> (z + sqrt(z^2 + 4)) / 2`` and divides by the group sum (the authors'
    ``utils.squareplus``). Segment maxima and sums use ``scatter_reduce`` and
    ``index_add`` (no loop over nodes); every group sum is positive, so no epsilon
    is added.

    Args:
        scores: ``[E]`` or ``[E, heads]``.
        index: int64 ``[E]`` group of every entry, in ``[0, num_nodes)``.
        num_nodes: Number of groups.
        normalization: ``"softmax"`` or ``"squareplus"``.

    Returns:
        Weights with the shape of ``scores``, ``> 0``, summing to 1 over every
        non-empty group (per head).

    Raises:
        ValueError: an unknown ``normalization`` or an ``index`` of the wrong length.
    """
    where = "normalize_scores"
    _check_normalization(where, None, normalization)
    if (
        not isinstance(index, Tensor)
        or index.dim() != 1
        or index.shape[0] != scores.shape[0]
    ):
        raise ValueError(
            f"{where}: `index` must be an int64 tensor [E] with E={scores.shape[0]} "
            f"(one group per score); got {describe(index)}."
        )
    return _normalize(scores, index, num_nodes, normalization)


def _normalize(
    scores: Tensor,
    index: Tensor,
    num_groups: int,
    normalization: str,
    complete: Callable[[Tensor], Tensor] | None = None,
    global_max: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """:func:`normalize_scores` without the checks, with two hooks for a partition.

    ``complete`` maps the ``[num_groups, ...]`` per-group maxima and sums computed
    from the entries held here to the complete ones (a rank replaces the rows of
    groups whose entries it does not all hold by their owners'); ``global_max``
    replaces ``scores.max()`` (a rank reduces it over the ranks).
    """
    if scores.numel() == 0:
        return scores
    shape = (num_groups, *scores.shape[1:])
    idx = index.view(-1, *([1] * (scores.dim() - 1))).expand_as(scores)
    if normalization == "softmax":
        group_max = scores.new_zeros(shape).scatter_reduce(
            0, idx, scores.detach(), "amax", include_self=False
        )
        if complete is not None:
            group_max = complete(group_max)
        out = torch.exp(scores - group_max.gather(0, idx))
    else:
        z = scores - (scores.max() if global_max is None else global_max(scores))
        out = 0.5 * (z + torch.sqrt(z * z + 4.0))
    total = out.new_zeros(shape).index_add(0, index, out)
    if complete is not None:
        total = complete(total)
    return out / total.gather(0, idx)


@dataclass(frozen=True)
class AttentionWeights:
    r"""Head-averaged attention ``A = W + diag(s)`` ready for the sparse kernel.

    ``W`` holds the off-diagonal entries as ``[2M]`` per-direction edge weights in
    ``graph.directed_edge_index`` order (entry ``k`` for the pair ``(a, b)`` is
    ``W_ab``), applied through ``Adjacency(graph, None, edge_weight)``; ``s`` holds
    the self-loop weights, a diagonal term added separately because a
    :class:`~graphops.graph.Graph` stores no self-loops.

    .. math:: (A x)_a = \sum_{b \ne a} W_{ab}\, x_b + s_a x_a

    Attributes:
        graph: The graph.
        edge_weight: ``[2M]`` per-direction weights ``W_ab >= 0``.
        self_weight: ``[N]`` self-loop weights, or ``None`` (no self-loops).

    Shapes:
        ``self @ x``: input ``[N, F]`` -> output ``[N, F]``.
    """

    graph: Graph
    edge_weight: Tensor
    self_weight: Tensor | None

    def adjacency(self) -> Adjacency:
        """The off-diagonal part ``W`` as an :class:`~graphops.operators.Adjacency`.

        Built on first use and kept, so GRAND-l's frozen attention is applied at
        every evaluation without rebuilding the operator.
        """
        op = self.__dict__.get("_adjacency")
        if op is None:
            op = Adjacency(self.graph, None, self.edge_weight, validate=False)
            # Not a field: the dataclass is frozen, the cache is an implementation
            # detail (written to the instance dict as functools.cached_property does).
            self.__dict__["_adjacency"] = op
        return op

    def matmul(self, x: Tensor) -> Tensor:
        """``A x`` for ``x`` of shape ``[N, F]``: one SpMM plus the diagonal term."""
        return _add_self(self.adjacency() @ x, self.self_weight, x)

    def __matmul__(self, x: Tensor) -> Tensor:
        """``A x``, as :meth:`matmul`."""
        return self.matmul(x)

    def to_dense(self) -> Tensor:
        """Dense ``[N, N]`` matrix ``A`` (differentiable)."""
        dense = self.adjacency().to_dense()
        if self.self_weight is None:
            return dense
        return dense + torch.diag(self.self_weight)


def attention_weights(
    q: Tensor,
    k: Tensor,
    graph: Graph,
    *,
    heads: int = 1,
    score: Score = "scaled_dot",
    normalization: Normalization = "softmax",
    norm_idx: int = 0,
    self_loops: bool = True,
    scaling: Literal["sqrt", "linear"] = "sqrt",
    output_var: Tensor | float | None = None,
    lengthscale: Tensor | float | None = None,
    method: Method = "auto",
) -> AttentionWeights:
    r"""Multi-head attention of a graph, normalised and averaged over heads.

    Scores (:func:`attention_scores`) on :func:`attention_edge_index`, normalised
    per head over the groups ``edge_index[norm_idx]`` (:func:`normalize_scores`),
    then averaged over heads. ``norm_idx=0`` gives a row-stochastic ``A``
    (``sum_b A_ab = 1``) in the :mod:`graphops` convention; ``norm_idx=1`` (the
    authors' released GRAND configurations) a column-stochastic one.

    .. math:: A_{ab} = \frac{1}{H} \sum_{h=1}^{H} a^h_{ab}

    Args:
        q: Queries ``[N, heads * d_k]`` (read at the row node).
        k: Keys ``[N, heads * d_k]`` (read at the column node).
        graph: Validated graph.
        heads: Number of heads.
        score: ``"scaled_dot"`` or ``"exp_kernel"``.
        normalization: ``"softmax"`` or ``"squareplus"``.
        norm_idx: ``0`` (normalise each row) or ``1`` (each column).
        self_loops: Include the self-loops ``(a, a)`` in the edge set.
        scaling: ``"sqrt"`` (code) or ``"linear"`` (paper) for ``scaled_dot``.
        output_var: The kernel's :math:`\sigma` (``exp_kernel``).
        lengthscale: The kernel's :math:`\ell` (``exp_kernel``).
        method: How ``scaled_dot`` scores are computed. ``"sddmm"``: one
            sampled dense-dense product (:func:`graphops.spmm.sddmm`) over all
            heads on the block-diagonal pattern of the edge set, with SpMM
            derivatives (no ``[E, heads, d_k]`` gathers; the pattern is cached on
            the graph); ``"gather"``: :func:`attention_scores` (gather both end
            points' rows per entry, the reference). ``"auto"`` [default]: sddmm
            for ``scaled_dot``, gather for ``exp_kernel`` (whose squared distance
            is computed exactly, not as ``|q|^2 + |k|^2 - 2<q, k>``). Both give
            the same weights up to round-off.

    Returns:
        :class:`AttentionWeights` (``[2M]`` edge weights, ``[N]`` self weights).

    Raises:
        ValueError: ``q``/``k`` without one row per node, ``norm_idx`` not 0 or 1,
            ``method`` unknown or ``"sddmm"`` with ``exp_kernel``, or any error of
            :func:`attention_scores` / :func:`normalize_scores`.

    Shapes:
        ``q``, ``k``: ``[N, heads * d_k]`` -> edge weights ``[2M]``, self weights
        ``[N]``.

    Example:
        >>> q = torch.randn(graph.num_nodes, 8)
        >>> w = attention_weights(q, q, graph, heads=2)
        >>> y = w @ x   # [N, F]
    """
    where = "attention_weights"
    _check_qk(where, q, k, graph.num_nodes)
    _check_normalization(where, norm_idx, normalization)
    if q.device != graph.device:
        raise ValueError(
            f"{where}: `q` is on {q.device} but the graph is on {graph.device}. "
            f"Use graph.to({q.device})."
        )
    if method not in _METHODS:
        raise ValueError(
            f"{where}: `method` must be one of {_METHODS}; got {method!r}."
        )
    if method == "sddmm" and score != "scaled_dot":
        raise ValueError(
            f"{where}: method='sddmm' computes scaled_dot scores only; got "
            f"score={score!r}. Use method='auto' or 'gather'."
        )
    edge_index = attention_edge_index(graph, self_loops=self_loops)
    if score == "scaled_dot" and method != "gather":
        heads, d_k, scale = _layout(where, heads, q.shape[1], scaling)
        blocks, rows, cols, inverse = _attention_pattern(
            graph, edge_index, heads, self_loops
        )

        def stack(m: Tensor) -> Tensor:  # head h of node a -> row h * N + a
            return m.reshape(-1, heads, d_k).transpose(0, 1).reshape(-1, d_k)

        # All heads in one sampled product on the block-diagonal pattern; the
        # normalisation and head average run in CSR order, then one [E] gather
        # returns the weights to the order of `edge_index`.
        scores = sddmm(blocks, stack(q), stack(k)).view(heads, -1).t().contiguous()
        scores = scores / scale
        group = rows if norm_idx == 0 else cols
        weights = _normalize(scores, group, graph.num_nodes, normalization)
        weights = weights.mean(-1)[inverse]
    else:
        weights = _head_averaged(
            q,
            k,
            edge_index,
            graph.num_nodes,
            norm_idx,
            normalization,
            heads=heads,
            score=score,
            scaling=scaling,
            output_var=output_var,
            lengthscale=lengthscale,
        )
    m2 = 2 * graph.num_edges
    return AttentionWeights(graph, weights[:m2], weights[m2:] if self_loops else None)


def _attention_pattern(
    graph: Graph, edge_index: Tensor, heads: int, self_loops: bool
) -> tuple[SparsePattern, Tensor, Tensor, Tensor]:
    """The SDDMM layout of the attention edge set, cached on the graph.

    Returns ``(blocks, rows, cols, inverse)``: the block-diagonal pattern of
    ``heads`` copies of the edge set (CSR order), the row and column node of every
    entry in CSR order, and the permutation from CSR order back to the order of
    ``edge_index`` (``w_edges = w_csr[inverse]``).
    """
    key = ("attention_sddmm", bool(self_loops), int(heads))
    c = graph._cache
    if key not in c:
        n = graph.num_nodes
        pattern, order = SparsePattern.from_coo(edge_index[0], edge_index[1], (n, n))
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=order.device)
        c[key] = (pattern.block_diagonal(heads), pattern.row, pattern.col, inverse)
    return c[key]


def _head_averaged(
    q: Tensor,
    k: Tensor,
    edge_index: Tensor,
    num_groups: int,
    norm_idx: int,
    normalization: str,
    complete: Callable[[Tensor], Tensor] | None = None,
    global_max: Callable[[Tensor], Tensor] | None = None,
    **score_options: Any,
) -> Tensor:
    """``[E]`` weights of the entries ``edge_index``: scored, normalised, averaged.

    The body of :func:`attention_weights` on any entry list (the distributed
    attention passes a rank's local entries and the hooks of :func:`_normalize`).
    """
    scores = attention_scores(q, k, edge_index, **score_options)
    return _normalize(
        scores, edge_index[norm_idx], num_groups, normalization, complete, global_max
    ).mean(-1)


def _check_normalization(where: str, norm_idx: Any, normalization: Any) -> None:
    """Check ``norm_idx`` (skipped when ``None``) and ``normalization``."""
    if norm_idx is not None and (norm_idx not in (0, 1) or isinstance(norm_idx, bool)):
        raise ValueError(
            f"{where}: `norm_idx` must be 0 (normalise rows: row-stochastic) or 1 "
            f"(normalise columns, the authors' GRAND configs); got {norm_idx!r}."
        )
    if normalization not in _NORMALIZATIONS:
        raise ValueError(
            f"{where}: `normalization` must be one of {_NORMALIZATIONS}; got "
            f"{normalization!r}."
        )


def _add_self(out: Tensor, self_weight: Tensor | None, x: Tensor) -> Tensor:
    """``out + diag(self_weight) x`` (``out`` when there are no self-loops)."""
    if self_weight is None:
        return out
    return out + self_weight.to(x.dtype).unsqueeze(-1) * x
