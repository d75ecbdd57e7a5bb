r"""Smoothness measures of node signals: Dirichlet energy and MAD.

Conventions: :mod:`graphops` (each undirected edge counted once).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from graphops._checks import describe
from graphops.graph import Graph
from graphops.homophily import edge_homophily
from graphops.operators import _check_normalization

# edge_homophily lives in graphops.homophily; re-exported here, where it used to be.
__all__ = ["dirichlet_energy", "edge_homophily", "mean_average_distance"]

_ENERGY_NORMS = (None, "sym", "gcn", "rusch")


def _check_signal(x: Tensor, graph: Graph, where: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != graph.num_nodes:
        got = tuple(x.shape) if isinstance(x, Tensor) else describe(x)
        raise ValueError(
            f"{where}: `x` must be a node signal of shape [N, F] = "
            f"[{graph.num_nodes}, F]; got {got}. Scalar fields are [N, 1]."
        )
    _check_real_floating(x, where)


def _check_real_floating(x: Tensor, where: str) -> None:
    """Refuse integer/bool/complex ``x`` (integer arithmetic would truncate)."""
    if not x.is_floating_point():
        raise TypeError(
            f"{where}: `x` must be a real floating tensor; got dtype {x.dtype}. "
            "Cast it first: x.to(torch.float32) or x.double()."
        )


def dirichlet_energy(
    x: Tensor,
    graph: Graph,
    *,
    normalization: Literal["sym", "gcn", "rusch"] | None = None,
    edge_weight: Tensor | None = None,
) -> Tensor:
    r"""Dirichlet energy of a node signal (a 0-d tensor, differentiable).

    Each option is the quadratic form of the Laplacian with the same name
    (:class:`~graphops.operators.Laplacian`), ``E = tr(x^T L x)``, summed over the
    undirected edges once:

    * ``None``: :math:`\sum_{e=(i,j)} w_e \lVert x_j - x_i\rVert^2` with
      ``L = D - W`` (equals
      :math:`\tfrac12\sum_{i}\sum_{j} w_{ij}\lVert x_i - x_j\rVert^2`).
    * ``"sym"``: :math:`\sum_e w_e \lVert x_i/\sqrt{d_i} - x_j/\sqrt{d_j}\rVert^2`
      for ``L_sym = I - D^{-1/2} W D^{-1/2}`` (isolated nodes contribute 0), the
      degree-normalised energy of Cai & Wang (2020).
    * ``"gcn"``: :math:`\sum_e w_e \lVert x_i/\sqrt{d_i+1} - x_j/\sqrt{d_j+1}\rVert^2`
      for ``L_gcn = I - D~^{-1/2}(W + I)D~^{-1/2}``, ``D~ = D + I``: the energy
      that one GCN propagation step (an explicit Euler step of ``y' = -L_gcn y``)
      dissipates. The self-loop terms cancel exactly, so no diagonal appears.
    * ``"rusch"``:
      :math:`\frac1N \sum_i \sum_{j \in \mathcal N_i} w_{ij}\lVert x_i - x_j\rVert^2`
      = ``2 E_None / N``, the normalisation of Rusch, Bronstein & Mishra (2023),
      whose exponential decay in depth defines over-smoothing.

    Args:
        x: Node signal ``[N, F]``.
        graph: The graph.
        normalization: ``None`` (no normalisation; the Python value, as in
            :class:`~graphops.operators.Laplacian`), ``"sym"``, ``"gcn"`` or
            ``"rusch"``.
        edge_weight: Optional ``[M]`` weights replacing ``graph.edge_weight``.

    Returns:
        0-d tensor.

    Raises:
        TypeError: ``x`` is not a real floating tensor.
        ValueError: bad ``x`` or ``edge_weight`` shape, or an unknown
            ``normalization`` (the string ``"none"`` included: pass ``None``).

    Shapes:
        ``x [N, F]``, ``edge_weight [M]`` -> ``[]``.

    Example:
        >>> g = Graph(torch.tensor([[0, 1], [1, 0]]))
        >>> dirichlet_energy(torch.tensor([[0.0], [2.0]]), g)
        tensor(4.)
    """
    _check_signal(x, graph, "dirichlet_energy")
    _check_normalization("dirichlet_energy", normalization, _ENERGY_NORMS)
    w = graph.edge_weight if edge_weight is None else edge_weight
    if not isinstance(w, Tensor) or w.shape != (graph.num_edges,):
        got = tuple(w.shape) if isinstance(w, Tensor) else describe(w)
        raise ValueError(
            f"dirichlet_energy: `edge_weight` must have shape [M]=[{graph.num_edges}]; "
            f"got {got}. Pass one weight per undirected edge of graph.edge_index."
        )
    w = w.to(x.dtype)
    i, j = graph.edge_index
    if normalization in ("sym", "gcn"):
        d = graph.degree(w)
        if normalization == "gcn":
            s = (d + 1.0).rsqrt()
        else:
            s = torch.where(
                d > 0,
                d.clamp_min(torch.finfo(d.dtype).tiny).rsqrt(),
                torch.zeros_like(d),
            )
        diff = x[j] * s[j].unsqueeze(1) - x[i] * s[i].unsqueeze(1)
    else:
        diff = x[j] - x[i]
    e = (w.unsqueeze(1) * diff.square()).sum()
    if normalization == "rusch":
        e = 2.0 * e / max(graph.num_nodes, 1)
    return e


def mean_average_distance(
    x: Tensor,
    graph: Graph | None = None,
    *,
    mask: Literal["all", "neighbors"] = "all",
    chunk_size: int = 2048,
) -> Tensor:
    r"""Mean average (cosine) distance, MAD (Chen et al., 2020).

    .. math::

        \mathrm{MAD} = \frac{1}{|\{i: n_i > 0\}|} \sum_{i: n_i > 0}
        \frac{\sum_j M_{ij} (1 - \cos(x_i, x_j))}{n_i},
        \quad n_i = \sum_j M_{ij}

    with ``M`` all pairs ``i != j`` (``mask="all"``, computed in row chunks, O(N^2)
    time, O(chunk N) memory) or the graph's neighbours (``"neighbors"``). Zero rows
    of ``x`` have cosine 0 to everything. MAD near 0 means over-smoothed features.

    Args:
        x: Node features ``[N, F]``.
        graph: Needed for ``mask="neighbors"``.
        mask: ``"all"`` or ``"neighbors"``.
        chunk_size: Rows per chunk for ``"all"``.

    Returns:
        0-d tensor.

    Raises:
        TypeError: ``x`` is not a real floating tensor.
        ValueError: ``x`` is not ``[N, F]``, an unknown ``mask``, or
            ``mask="neighbors"`` without ``graph``.
    """
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValueError(
            "mean_average_distance: `x` must be [N, F]; got "
            f"{getattr(x, 'shape', type(x).__name__)}."
        )
    _check_real_floating(x, "mean_average_distance")
    if mask not in ("all", "neighbors"):
        raise ValueError(
            f"mean_average_distance: `mask` must be 'all' or 'neighbors'; got {mask!r}."
        )
    n = x.shape[0]
    norm = x.norm(dim=1, keepdim=True)
    u = x / torch.where(norm > 0, norm, torch.ones_like(norm))
    if mask == "neighbors":
        if graph is None:
            raise ValueError(
                "mean_average_distance: mask='neighbors' needs `graph`; got None. "
                "Pass graph=..."
            )
        _check_signal(x, graph, "mean_average_distance")
        i, j = graph.edge_index
        dist = 1.0 - (u[i] * u[j]).sum(1)
        tot = x.new_zeros(n).index_add(0, i, dist).index_add(0, j, dist)
        cnt = (
            x.new_zeros(n)
            .index_add(0, i, torch.ones_like(dist))
            .index_add(0, j, torch.ones_like(dist))
        )
    else:
        tot = x.new_zeros(n)
        for s in range(0, n, chunk_size):
            d = 1.0 - u[s : s + chunk_size] @ u.T
            rows = torch.arange(s, min(s + chunk_size, n), device=x.device)
            d[rows - s, rows] = 0.0
            tot[s : s + chunk_size] = d.sum(1)
        cnt = x.new_full((n,), float(max(n - 1, 0)))
    has = cnt > 0
    if not bool(has.any()):
        return x.new_zeros(())
    return (tot[has] / cnt[has]).mean()
