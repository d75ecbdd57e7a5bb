r"""Discrete edge curvature: Forman and Balanced Forman (bottlenecks, over-squashing).

Negatively curved edges are bottlenecks: many nodes' worth of information must pass
through them, which is what *over-squashing* in deep message passing is made of
(Topping, Di Giovanni, Chamberlain, Dong & Bronstein, "Understanding over-squashing
and bottlenecks on graphs via curvature", ICLR 2022). Both curvatures here are
**combinatorial**: they use the graph's structure only (every stored edge counts,
edge weights are ignored), and they are returned per undirected edge, aligned with
``graph.edge_index`` (each edge once, ``i < j``; see :mod:`graphops`).

Everything is computed with sparse matrix products on the CPU (scipy.sparse, exact
integer counts), never with a Python loop over edges: triangles are
``(A \circ A^2)_{ij}``, and the 4-cycles of Balanced Forman curvature come from one
product ``U A`` of a sparse ``[2M, N]`` "far side" indicator with the adjacency (see
:func:`balanced_forman_curvature`), in row chunks so memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from graphops._checks import describe
from graphops.graph import Graph

__all__ = [
    "CurvatureSummary",
    "balanced_forman_curvature",
    "curvature_summary",
    "forman_curvature",
]

# Rows of the [2M, N] far-side matrix handled per sparse product: bounds the memory
# of U A (about this many non-zeros per chunk, 8-16 bytes each).
_WORK_PER_CHUNK = 1 << 23


def _check_graph(where: str, graph: object) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(
            f"{where}: `graph` must be a graphops.Graph; got {describe(graph)}. "
            "Build one with Graph(edge_index) or Graph.from_networkx(...)."
        )
    return graph


def _structure(graph: Graph):
    """``(A, i, j, deg)``: 0/1 CSR adjacency (int64), edges ``i < j``, degrees."""
    import scipy.sparse as sp

    n, m = graph.num_nodes, graph.num_edges
    ei = graph.edge_index.detach().cpu().numpy()
    i, j = ei[0], ei[1]
    rows = np.concatenate([i, j])
    cols = np.concatenate([j, i])
    a = sp.csr_matrix(
        (np.ones(2 * m, dtype=np.int64), (rows, cols)), shape=(n, n), dtype=np.int64
    )
    a.sum_duplicates()
    a.sort_indices()
    deg = np.diff(a.indptr).astype(np.int64)
    return a, i, j, deg


def _lookup(mat, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``mat[rows[k], cols[k]]`` of a sparse matrix, 0 where nothing is stored."""
    mat = mat.tocsr()
    mat.sum_duplicates()
    mat.sort_indices()
    n = np.int64(mat.shape[1])
    r = np.repeat(np.arange(mat.shape[0], dtype=np.int64), np.diff(mat.indptr))
    keys = r * n + mat.indices.astype(np.int64)
    want = rows.astype(np.int64) * n + cols.astype(np.int64)
    pos = np.searchsorted(keys, want)
    pos_c = np.minimum(pos, max(keys.size - 1, 0))
    hit = (pos < keys.size) & (keys[pos_c] == want) if keys.size else np.zeros(
        want.shape, dtype=bool
    )
    out = np.zeros(want.shape, dtype=mat.dtype)
    out[hit] = mat.data[pos_c[hit]]
    return out


def _triangles(a, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``#triangles(i, j) = (A^2)_{ij}`` on each edge (the entries of ``A o A^2``)."""
    return _lookup(a @ a, i, j)


def _as_tensor(values: np.ndarray, graph: Graph) -> Tensor:
    return torch.as_tensor(values, dtype=graph.dtype).to(graph.device)


def forman_curvature(graph: Graph, *, augmented: bool = False) -> Tensor:
    r"""Forman curvature of every undirected edge (combinatorial, unit weights).

    For an edge ``(i, j)`` with degrees ``d_i, d_j`` (Forman 2003, for a graph as a
    1-complex; Sreejith, Mohanraj, Jost, Saucan & Samal 2016):

    .. math:: F(i, j) = 4 - d_i - d_j

    and with ``augmented=True`` the triangles are filled in as 2-cells (the
    *augmented* Forman curvature of Samal et al. 2018, "Comparative analysis of two
    discretizations of Ricci curvature for complex networks"):

    .. math:: F^{\#}(i, j) = 4 - d_i - d_j + 3\,\#\Delta(i, j),
        \qquad \#\Delta(i, j) = (A \circ A^2)_{ij}

    the number of triangles containing the edge. Examples: a cycle ``C_n`` (``n >
    3``) has ``F = 0``; the complete graph ``K_n`` has ``F = 6 - 2n`` and
    ``F^# = n``. Edge weights are ignored.

    Args:
        graph: The graph.
        augmented: Add ``3 #triangles`` (triangles as faces).

    Returns:
        ``[M]`` curvature per undirected edge, in ``graph.edge_index`` order, in the
        graph's dtype and on its device.

    Raises:
        TypeError: ``graph`` is not a :class:`~graphops.Graph` or ``augmented`` is
            not a bool.

    Example:
        >>> from graphops.datasets import cycle_graph
        >>> forman_curvature(cycle_graph(5)).tolist()
        [0.0, 0.0, 0.0, 0.0, 0.0]
    """
    _check_graph("forman_curvature", graph)
    if not isinstance(augmented, bool):
        raise TypeError(
            f"forman_curvature: `augmented` must be a bool; got {describe(augmented)}."
            " Pass True to count triangles as faces."
        )
    a, i, j, deg = _structure(graph)
    f = 4.0 - deg[i] - deg[j]
    if augmented:
        f = f + 3.0 * _triangles(a, i, j)
    return _as_tensor(f.astype(np.float64), graph)


def _bfc_formula(
    di: np.ndarray,
    dj: np.ndarray,
    tri: np.ndarray,
    squares: np.ndarray,
    gamma: np.ndarray,
) -> np.ndarray:
    """Definition 1 of Topping et al. from the counts (vectorised, float64).

    ``squares = #sq_i + #sq_j``; ``gamma`` is gamma_max (the square term is 0 when
    it is 0, i.e. when there are no 4-cycles); 0 when ``min(d_i, d_j) <= 1``.
    """
    # One integer numerator over D d g, one division: exact zeros and signs.
    di = np.asarray(di, dtype=np.int64)
    dj = np.asarray(dj, dtype=np.int64)
    tri = np.asarray(tri, dtype=np.int64)
    sq = np.asarray(squares, dtype=np.int64)
    g = np.asarray(gamma, dtype=np.int64)
    big, small = np.maximum(di, dj), np.minimum(di, dj)
    ok = small > 1
    big, small = np.where(ok, big, 1), np.where(ok, small, 1)
    sq = np.where(g > 0, sq, 0)
    g = np.where(g > 0, g, 1)
    num = (
        2 * small * g
        + 2 * big * g
        - 2 * big * small * g
        + 2 * tri * small * g
        + tri * big * g
        + sq * small
    )
    return np.where(ok, num / (big * small * g).astype(np.float64), 0.0)


def _four_cycles(a, src: np.ndarray, dst: np.ndarray):
    r"""Per directed edge ``e = (i, j)``: ``#sq_i(i, j)`` and the largest row count.

    ``U[e, w] = 1`` iff ``w \in S_1(j) \setminus B_1(i)`` (the far side) and
    ``V[e, k] = 1`` iff ``k \in S_1(i) \setminus B_1(j)`` (the near side). Then
    ``C = (U A) \circ V`` counts, for each near-side ``k``, the far-side ``w``
    adjacent to it: the 4-cycles ``i ~ k ~ w ~ j ~ i`` without diagonals through
    ``k``. ``#sq_i`` is the number of non-zero entries of row ``e`` and the row
    maximum is that side's share of ``gamma_max``.
    """
    import scipy.sparse as sp

    n = a.shape[0]
    ne = src.size
    count = np.zeros(ne, dtype=np.int64)
    top = np.zeros(ne, dtype=np.int64)
    if ne == 0:
        return count, top
    deg = np.diff(a.indptr).astype(np.int64)
    # work of row e of U A is at most sum over w in S1(j) of d_w; chunk on it
    work = np.asarray(a @ deg).ravel()[dst] + 1
    cum = np.cumsum(work)
    cuts = np.searchsorted(
        cum, np.arange(1, int(cum[-1] // _WORK_PER_CHUNK) + 1) * _WORK_PER_CHUNK
    )
    splits = np.unique(np.concatenate([[0], cuts, [ne]]))
    for start, stop in zip(splits[:-1].tolist(), splits[1:].tolist(), strict=True):
        s, d = src[start:stop], dst[start:stop]
        rows = np.arange(stop - start)
        eye_s = sp.csr_matrix(
            (np.ones(rows.size, dtype=np.int64), (rows, s)), shape=(rows.size, n)
        )
        eye_d = sp.csr_matrix(
            (np.ones(rows.size, dtype=np.int64), (rows, d)), shape=(rows.size, n)
        )
        a_s, a_d = a[s], a[d]
        common = a_s.multiply(a_d)
        far = (a_d - common - eye_s).tocsr()  # S1(j) \ (S1(i) u {i})
        near = (a_s - common - eye_d).tocsr()  # S1(i) \ (S1(j) u {j})
        far.eliminate_zeros()
        near.eliminate_zeros()
        c = (far @ a).multiply(near).tocsr()
        c.eliminate_zeros()
        count[start:stop] = np.diff(c.indptr)
        if c.nnz:
            top[start:stop] = np.asarray(c.max(axis=1).todense()).ravel()
    return count, top


def balanced_forman_curvature(graph: Graph) -> Tensor:
    r"""Balanced Forman curvature of every undirected edge (Topping et al. 2022).

    Definition 1 of Topping, Di Giovanni, Chamberlain, Dong & Bronstein,
    "Understanding over-squashing and bottlenecks on graphs via curvature" (ICLR
    2022). With ``S_1(i)`` the neighbours of ``i``, ``B_1(i) = S_1(i) \cup \{i\}``
    and ``d_i = |S_1(i)|``, for an edge ``i ~ j``:

    * ``#Δ(i, j) = |S_1(i) ∩ S_1(j)|``: triangles on the edge,
      ``(A \circ A^2)_{ij}``;
    * ``#□_i(i, j)``: the neighbours ``k \in S_1(i) \setminus B_1(j)`` of ``i`` that
      close a 4-cycle ``i ~ k ~ w ~ j ~ i`` **without diagonals**, i.e. with some
      ``w \in S_1(j) \setminus B_1(i)`` adjacent to ``k``; ``#□_j(i, j)`` likewise
      from ``j``'s side;
    * ``γ_max(i, j)``: the largest number of such 4-cycles through one common node
      ``k`` (or ``w``), ``\max_k |S_1(k) \cap (S_1(j) \setminus B_1(i))|`` over
      both sides.

    Then ``Ric(i, j) = 0`` if ``\min(d_i, d_j) = 1`` and otherwise

    .. math::

        \mathrm{Ric}(i, j) = \frac{2}{d_i} + \frac{2}{d_j} - 2
        + 2\frac{\#\Delta(i,j)}{\max(d_i, d_j)} + \frac{\#\Delta(i,j)}{\min(d_i, d_j)}
        + \frac{\gamma_{\max}^{-1}}{\max(d_i, d_j)}
          \big(\#\square_i(i,j) + \#\square_j(i,j)\big)

    with the last term 0 when there is no 4-cycle (``γ_max = 0``). Known values:
    ``K_n``: ``n / (n - 1)``; cycles ``C_3, C_4, C_n (n ≥ 5)``: ``3/2, 1, 0``; the
    interior of a grid: ``0``; a tree edge between nodes of degrees ``d_i, d_j ≥ 2``:
    ``2/d_i + 2/d_j - 2``, so the bridge of a barbell of two ``K_m``: ``4/m - 2``.
    ``Ric > -2`` always (the degree terms exceed -2, the others are >= 0). The paper
    shows it bounds Ollivier's curvature from below and states its over-squashing
    theorem with it: edges of very negative ``Ric`` are the bottlenecks.

    The authors' reference code (jctops/understanding-oversquashing) counts
    4-cycles with a dense approximation (paths of length 2 minus adjacency) and
    differs from Definition 1 on some graphs; this function follows the definition.

    **Vectorised.** Triangles are one sparse product ``A^2`` read on the edges. For
    the 4-cycles, each directed edge ``e = (i, j)`` gets a sparse row ``U_e`` (the
    indicator of ``S_1(j) \setminus B_1(i)``) and ``V_e`` (of ``S_1(i) \setminus
    B_1(j)``); ``C = (U A) \circ V`` holds for each ``k`` in ``V_e`` the number of
    such ``w`` adjacent to it, so ``#□_i`` is the number of non-zeros of row ``e`` and
    ``γ_max`` the larger row maximum of ``e`` and its reverse. The product runs in
    row chunks (about ``2^23`` non-zeros each). Cost ``O(\sum_{(i,j)} \sum_{w \in
    S_1(j)} d_w)`` time; Cora takes well under a second.

    Args:
        graph: The graph (edge weights are ignored; every stored edge counts).

    Returns:
        ``[M]`` curvature per undirected edge in ``graph.edge_index`` order, in the
        graph's dtype and on its device.

    Raises:
        TypeError: ``graph`` is not a :class:`~graphops.Graph`.

    Example:
        >>> from graphops.datasets import barbell_graph
        >>> ric = balanced_forman_curvature(barbell_graph(4, 0))
        >>> round(float(ric.min()), 4)   # the bridge: 4/4 - 2
        -1.0
    """
    _check_graph("balanced_forman_curvature", graph)
    a, i, j, deg = _structure(graph)
    m = i.size
    if m == 0:
        return _as_tensor(np.zeros(0), graph)
    tri = _triangles(a, i, j)
    src, dst = np.concatenate([i, j]), np.concatenate([j, i])
    count, top = _four_cycles(a, src, dst)
    squares = count[:m] + count[m:]
    gamma = np.maximum(top[:m], top[m:])
    return _as_tensor(_bfc_formula(deg[i], deg[j], tri, squares, gamma), graph)


@dataclass(frozen=True)
class CurvatureSummary:
    """Summary statistics of per-edge curvature (see :func:`curvature_summary`).

    Attributes:
        num_edges: Number of edges summarised.
        min: Smallest curvature (the worst bottleneck).
        mean: Mean curvature.
        max: Largest curvature.
        quantiles: ``{q: value}`` for the requested quantiles (linear
            interpolation, as :func:`torch.quantile`).
        fraction_negative: Fraction of edges with curvature ``< 0``.
        argmin: The edge ``(i, j)`` (``i < j``) of smallest curvature, or ``None``
            without edges.
    """

    num_edges: int
    min: float
    mean: float
    max: float
    quantiles: dict[float, float] = field(default_factory=dict)
    fraction_negative: float = 0.0
    argmin: tuple[int, int] | None = None

    def __str__(self) -> str:
        """One line: ``min/mean/max``, the quantiles and the negative fraction."""
        qs = ", ".join(f"q{q:g}={v:.3f}" for q, v in self.quantiles.items())
        return (
            f"curvature over {self.num_edges} edges: min={self.min:.3f} "
            f"(edge {self.argmin}), mean={self.mean:.3f}, max={self.max:.3f}; {qs}; "
            f"{100 * self.fraction_negative:.1f}% negative"
        )


def curvature_summary(
    curvature: Tensor,
    graph: Graph,
    *,
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95),
) -> CurvatureSummary:
    """Min, mean, max, quantiles and the most negative edge of a per-edge curvature.

    Args:
        curvature: ``[M]`` values aligned with ``graph.edge_index`` (from
            :func:`forman_curvature` or :func:`balanced_forman_curvature`).
        graph: The graph the values belong to (names the argmin edge).
        quantiles: Levels in ``[0, 1]``.

    Returns:
        :class:`CurvatureSummary` (NaN statistics when the graph has no edges).

    Raises:
        TypeError: ``graph`` is not a Graph, or ``curvature`` not a floating tensor.
        ValueError: ``curvature`` is not ``[M]``, or a quantile is outside
            ``[0, 1]``.

    Example:
        >>> from graphops.datasets import barbell_graph
        >>> g = barbell_graph(4, 0)
        >>> s = curvature_summary(balanced_forman_curvature(g), g)
        >>> s.argmin, round(s.min, 3)
        ((3, 4), -1.0)
    """
    _check_graph("curvature_summary", graph)
    where = "curvature_summary"
    if not isinstance(curvature, Tensor) or not curvature.is_floating_point():
        raise TypeError(
            f"{where}: `curvature` must be a floating tensor [M]; got "
            f"{describe(curvature)}. Pass the output of balanced_forman_curvature."
        )
    if curvature.shape != (graph.num_edges,):
        raise ValueError(
            f"{where}: `curvature` must have shape [M]=[{graph.num_edges}] (one value "
            f"per edge of graph.edge_index); got {tuple(curvature.shape)}. Compute it "
            "on the same graph."
        )
    qs = tuple(float(q) for q in quantiles)
    if any(not (0.0 <= q <= 1.0) for q in qs):
        raise ValueError(
            f"{where}: `quantiles` must lie in [0, 1]; got {quantiles!r}. Pass e.g. "
            "(0.05, 0.5, 0.95)."
        )
    c = curvature.detach().to("cpu", torch.float64)
    m = c.numel()
    if m == 0:
        nan = float("nan")
        return CurvatureSummary(0, nan, nan, nan, {q: nan for q in qs}, nan, None)
    k = int(c.argmin())
    qv = torch.quantile(c, torch.tensor(qs, dtype=torch.float64)) if qs else []
    return CurvatureSummary(
        num_edges=m,
        min=float(c[k]),
        mean=float(c.mean()),
        max=float(c.max()),
        quantiles={q: float(v) for q, v in zip(qs, qv, strict=True)},
        fraction_negative=float((c < 0).double().mean()),
        argmin=(int(graph.edge_index[0, k]), int(graph.edge_index[1, k])),
    )
