r"""Effective resistance: the over-squashing distance between two nodes.

Read the graph as an electrical network whose edge ``e`` is a conductor of
conductance ``w_e`` (resistance ``1 / w_e``). The effective resistance between
``u`` and ``v`` is the voltage between them when a unit current enters at ``u`` and
leaves at ``v``:

.. math::

    R(u, v) = (e_u - e_v)^\top L^{+} (e_u - e_v), \qquad L = D - W

with ``L^+`` the Moore-Penrose pseudo-inverse of the combinatorial Laplacian
(:class:`~graphops.operators.Laplacian` with ``normalization=None``). It is a metric,
adds up along series connections and combines as ``1 / (1/R_1 + 1/R_2)`` in
parallel; ``R(u, v)`` is also the commute time between ``u`` and ``v`` divided by
``2 sum_e w_e``. Large resistance between two nodes means few, long paths join
them: the signal from one reaches the other squashed (Black, Wan, Nayyeri & Wang,
"Understanding oversquashing in GNNs through the lens of effective resistance",
ICML 2023; Di Giovanni et al., ICML 2023).

Conventions: :mod:`graphops`. Nodes in different connected components are joined
by no current path: their resistance is ``inf`` (the limit of cutting the last
wire), and ``R(u, u) = 0``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from graphops._checks import describe
from graphops.graph import Graph
from graphops.linalg import CG
from graphops.operators import Laplacian

__all__ = ["effective_resistance"]

_METHODS = ("auto", "pinv", "cg")
# Largest graph the "auto" method treats densely (an N x N inverse per component).
_DENSE_MAX = 2000


def _components(graph: Graph) -> tuple[int, np.ndarray]:
    from scipy.sparse.csgraph import connected_components

    return connected_components(graph.to_scipy(), directed=False)


def _check_pairs(pairs: object, n: int) -> Tensor:
    where = "effective_resistance"
    if not isinstance(pairs, Tensor) or pairs.is_floating_point() or (
        pairs.is_complex() or pairs.dtype == torch.bool
    ):
        raise TypeError(
            f"{where}: `pairs` must be an integer tensor [P, 2] of node ids (or None "
            f"for all pairs); got {describe(pairs)}. Pass e.g. "
            "torch.tensor([[0, 5], [2, 7]])."
        )
    if pairs.dim() != 2 or pairs.shape[1] != 2:
        raise ValueError(
            f"{where}: `pairs` must have shape [P, 2]; got {tuple(pairs.shape)}. "
            "Stack the (u, v) pairs as rows; transpose a [2, P] tensor with .T."
        )
    pairs = pairs.to("cpu", torch.int64)
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= n):
        bad = int(pairs.min()) if int(pairs.min()) < 0 else int(pairs.max())
        raise ValueError(
            f"{where}: `pairs` must hold node ids in [0, {n - 1}]; got {bad}. "
            "Drop or renumber that pair."
        )
    return pairs


def _dense_pinv_blocks(graph: Graph, comp: np.ndarray, ncomp: int) -> list:
    """``(nodes, L_c^+)`` per component: ``L_c^+ = (L_c + J/n_c)^{-1} - J/n_c``."""
    lap = Laplacian(graph).to_dense().detach().to("cpu", torch.float64)
    blocks = []
    for c in range(ncomp):
        nodes = torch.from_numpy(np.flatnonzero(comp == c))
        k = nodes.numel()
        lc = lap[nodes][:, nodes]
        j = torch.full((k, k), 1.0 / k, dtype=torch.float64)
        blocks.append((nodes, torch.linalg.inv(lc + j) - j))
    return blocks


def effective_resistance(
    graph: Graph,
    pairs: Tensor | None = None,
    *,
    method: Literal["auto", "pinv", "cg"] = "auto",
    solver: CG | None = None,
) -> Tensor:
    r"""Effective resistance between node pairs (edge weights are conductances).

    .. math:: R(u, v) = (e_u - e_v)^\top L^{+} (e_u - e_v)

    Two methods, which agree to the CG tolerance:

    * ``"pinv"``: dense pseudo-inverse, per connected component,
      ``L_c^+ = (L_c + \tfrac{1}{n_c} 1 1^\top)^{-1} - \tfrac{1}{n_c} 1 1^\top``
      (exact for a connected component: ``1`` spans the kernel of ``L_c``).
      ``O(N^2)`` memory, ``O(N^3)`` time: for small graphs and for all pairs.
    * ``"cg"``: one conjugate-gradient solve per pair, all pairs as the columns of
      one block solve (:class:`~graphops.linalg.CG`) on the **grounded** Laplacian
      ``L_g = L + \sum_c e_{g_c} e_{g_c}^\top`` with one ground node ``g_c`` per
      component. ``L_g`` is positive definite, and for ``b = e_u - e_v`` (which
      sums to 0 over the component) the solution of ``L_g x = b`` has
      ``x_{g_c} = 0`` and ``L x = b``, so ``R(u, v) = x_u - x_v``. The cost is
      that of ``P`` sparse solves; for large graphs.

    ``"auto"`` uses ``"pinv"`` for all pairs or ``N <= 2000`` and ``"cg"``
    otherwise. Pairs in different components get ``inf``; ``R(u, u) = 0``.

    Args:
        graph: The graph; ``edge_weight`` are the conductances (``1 / resistance``).
        pairs: ``[P, 2]`` integer node pairs, or ``None`` for the full ``[N, N]``
            matrix (``"pinv"`` only).
        method: ``"auto"``, ``"pinv"`` or ``"cg"``.
        solver: The CG configuration for ``"cg"`` (default ``CG(rtol=1e-10)``,
            Jacobi-preconditioned).

    Returns:
        ``[P]`` resistances, or ``[N, N]`` for ``pairs=None``, in the graph's dtype
        and on its device.

    Raises:
        TypeError: ``graph`` is not a Graph, ``pairs`` is not an integer tensor, or
            ``solver`` is not a :class:`~graphops.linalg.CG`.
        ValueError: unknown ``method``, ``pairs`` of the wrong shape or with ids out
            of range, or ``pairs=None`` with ``method="cg"``.
        RuntimeError: the CG solve did not converge (the message says why; raise
            ``max_iters`` or loosen ``rtol`` in ``solver``).

    Example:
        >>> from graphops.datasets import cycle_graph
        >>> g = cycle_graph(6)   # two paths of 3 and 3 unit resistors in parallel
        >>> round(float(effective_resistance(g, torch.tensor([[0, 3]]))), 6)
        1.5
    """
    where = "effective_resistance"
    if not isinstance(graph, Graph):
        raise TypeError(
            f"{where}: `graph` must be a graphops.Graph; got {describe(graph)}."
        )
    if method not in _METHODS:
        raise ValueError(
            f"{where}: `method` must be one of {_METHODS}; got {method!r}. Use 'pinv' "
            "for small graphs (dense), 'cg' for large ones."
        )
    if solver is not None and not isinstance(solver, CG):
        raise TypeError(
            f"{where}: `solver` must be a graphops.CG; got {describe(solver)}. Pass "
            "e.g. solver=CG(rtol=1e-10)."
        )
    n = graph.num_nodes
    to = dict(dtype=graph.dtype, device=graph.device)
    if pairs is None and method == "cg":
        raise ValueError(
            f"{where}: `pairs` is None (all N^2 = {n * n} pairs) but method='cg' "
            "solves one system per pair; got method='cg'. Pass the pairs you need, "
            "or method='pinv' for the full matrix."
        )
    if pairs is not None:
        pairs = _check_pairs(pairs, n)
    if method == "auto":
        method = "pinv" if pairs is None or n <= _DENSE_MAX else "cg"
    ncomp, comp = _components(graph)
    if method == "pinv":
        blocks = _dense_pinv_blocks(graph, comp, ncomp)
        if pairs is None:
            r = torch.full((n, n), math.inf, dtype=torch.float64)
            for nodes, lp in blocks:
                dg = lp.diagonal()
                r[nodes.unsqueeze(1), nodes] = dg[:, None] + dg[None, :] - 2 * lp
            r.fill_diagonal_(0.0)
            return r.to(**to)
        out = torch.full((pairs.shape[0],), math.inf, dtype=torch.float64)
        pos = torch.empty(n, dtype=torch.int64)
        cid = torch.from_numpy(comp.astype(np.int64))
        u, v = pairs[:, 0], pairs[:, 1]
        same = cid[u] == cid[v]
        for c, (nodes, lp) in enumerate(blocks):
            pos[nodes] = torch.arange(nodes.numel())
            sel = same & (cid[u] == c)
            a, b = pos[u[sel]], pos[v[sel]]
            out[sel] = lp[a, a] + lp[b, b] - 2 * lp[a, b]
        out[u == v] = 0.0
        return out.to(**to)
    # method == "cg": ground one node per component, solve all pairs at once
    cid = torch.from_numpy(comp.astype(np.int64))
    u, v = pairs[:, 0], pairs[:, 1]
    same = (cid[u] == cid[v]) & (u != v)
    out = torch.full((pairs.shape[0],), math.inf, dtype=torch.float64)
    out[u == v] = 0.0
    k = int(same.sum())
    if k:
        ground = torch.zeros(n, dtype=torch.float64)
        first = np.unique(comp, return_index=True)[1]
        ground[torch.from_numpy(first)] = 1.0
        lap = Laplacian(graph.to(dtype=torch.float64))
        dev = graph.device
        ground = ground.to(dev).unsqueeze(1)
        cols = torch.arange(k, device=dev)
        b = torch.zeros(n, k, dtype=torch.float64, device=dev)
        b[u[same].to(dev), cols] = 1.0
        b[v[same].to(dev), cols] -= 1.0

        def grounded(x: Tensor) -> Tensor:
            return lap @ x + ground * x

        cg = solver if solver is not None else CG(rtol=1e-10)
        with torch.no_grad():
            res = cg.solve(
                grounded, b, diagonal=lap.diagonal().detach() + ground.squeeze(1)
            )
        if not res.success:
            raise RuntimeError(
                f"{where}: the CG solve on the grounded Laplacian failed "
                f"({res.reason}): {res.message} Raise `max_iters` or loosen `rtol` in "
                "solver=CG(...), or use method='pinv' for a small graph."
            )
        x = res.x
        xu = x[u[same].to(dev), cols]
        xv = x[v[same].to(dev), cols]
        out[same] = (xu - xv).cpu()
    return out.to(**to)
