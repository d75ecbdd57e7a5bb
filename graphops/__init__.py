r"""Sparse graph operators: the spatial discretisation behind graph PDEs.

Sign conventions (written once; every operator links here)
=========================================================

A :class:`Graph` on ``N`` nodes stores each **undirected** edge ``e = {i, j}``
exactly once, oriented from the smaller to the larger node id (``i < j``), with a
weight ``w_e >= 0``. ``M = graph.num_edges`` counts undirected edges, so an edge
signal has shape ``[M, F]`` and no edge-space work is done twice. (PyG stores both
directions; ``graph.directed_edge_index`` gives that ``[2, 2M]`` view when needed.)

* **Inner products.** Node space: ``<x, y>_V = sum_i x_i y_i``. Edge space:
  ``<F, H>_E = sum_e w_e F_e H_e`` (weights are the edge measure; no 1/2, because
  each undirected edge appears once).
* **Gradient** (node -> edge): ``(grad x)_e = x_j - x_i`` for ``e = (i, j)``,
  ``i < j``. As a matrix this is the oriented incidence ``B`` (``[M, N]``).
* **Divergence** (edge -> node): ``div := -grad^*``, the negative adjoint with
  respect to the inner products above, i.e. ``div = -B^T W`` and
  ``(div F)_i = sum_{e=(i,j)} w_e F_e - sum_{e=(j,i)} w_e F_e``: the weighted net
  outflow of the flux ``F`` at node ``i``.
* **Laplacian**: ``L := -div o grad = B^T W B = D - W``, symmetric positive
  semi-definite; ``L 1 = 0`` and ``x^T L x = sum_e w_e (x_j - x_i)^2``.
* **PDEs.** Heat flow (diffusion) is ``y' = -L y``; the wave equation is
  ``x'' = -L x``. A GCN layer ``x <- A_gcn x`` is one explicit Euler step of size 1
  of ``y' = -L_gcn y`` with ``L_gcn = I - A_gcn``.

Shapes: node signals are ``[N, F]`` (a scalar field is ``[N, 1]``), edge signals
``[M, F]``, trajectories ``[T, N, F]``. A batch of graphs is one block-diagonal graph.

Every operator applies with ``op @ x`` through one fixed-pattern sparse kernel
(:mod:`graphops.spmm`) whose backward pass is a transposed SpMM for ``x`` and an
SDDMM for the edge values, so learned edge weights train cheaply. What other code
may use of an operator (diagonal, CSR tensor, values, ``shifted``, ``to``) is the
protocol written in :class:`GraphOperator`; block CG on it is :mod:`graphops.linalg`.

Devices: where the graph lives and what moves with what
======================================================

* :class:`Graph` and the operators are plain Python objects, not ``nn.Module``\ s.
  ``graph.to(device, dtype)`` and ``op.to(device, dtype)`` return moved copies;
  the cached sparse structures (patterns, transposes, diagonal masks, the CSR
  tensor) move with them, so nothing is rebuilt on the new device. Index tensors
  keep ``int64``; only floating tensors take ``dtype``.
* **The graph in** ``args`` (the usual case, as in PyG's ``model(x, graph)``): it is
  data, like ``x``, and the caller moves it: ``solve(term, ..., args=graph.to(dev))``.
  Operators built from it inside ``term.operator(t, y, args)`` or ``forward`` are on
  its device; nothing is stored on the term.
* **A graph or operator held by a term** (``LinearTerm(Laplacian(graph))``): it is
  part of the module, and ``term.to(...)`` / ``model.to(...)`` moves it together
  with the parameters and buffers (see :mod:`solvers.terms`). Operators hidden in a
  closure (``LinearTerm(lambda t, y, args: ...)``) are not found; build them from
  ``args`` instead.
"""

import importlib
from typing import Any

from graphops.curvature import (
    CurvatureSummary,
    balanced_forman_curvature,
    curvature_summary,
    forman_curvature,
)
from graphops.energy import dirichlet_energy, mean_average_distance
from graphops.graph import Graph
from graphops.homophily import (
    adjusted_homophily,
    class_insensitive_homophily,
    edge_homophily,
    node_homophily,
)
from graphops.linalg import CG, CGResult, cg_solve
from graphops.operators import (
    Adjacency,
    Divergence,
    EdgeToNodeMean,
    Gradient,
    GraphOperator,
    Laplacian,
    NodeToEdgeMean,
)
from graphops.partition import Partition, RankPlan, halo_plan, partition
from graphops.paths import UNREACHABLE, hop_distances, receptive_field_sizes
from graphops.resistance import effective_resistance
from graphops.rewiring import SDRFRecord, diffusion_matrix, diffusion_rewire, sdrf
from graphops.sheaf import SheafLaplacian
from graphops.spectral import lam_max, laplacian_eigenvectors, random_walk_encoding
from graphops.spmm import get_backend, set_backend, use_backend

__all__ = [
    "Adjacency",
    "CG",
    "CGResult",
    "CurvatureSummary",
    "Divergence",
    "EdgeToNodeMean",
    "Gradient",
    "Graph",
    "GraphOperator",
    "Laplacian",
    "NodeToEdgeMean",
    "Partition",
    "RankPlan",
    "SDRFRecord",
    "SheafLaplacian",
    "UNREACHABLE",
    "adjusted_homophily",
    "balanced_forman_curvature",
    "cg_solve",
    "class_insensitive_homophily",
    "curvature_summary",
    "datasets",
    "diffusion_matrix",
    "diffusion_rewire",
    "dirichlet_energy",
    "edge_homophily",
    "effective_resistance",
    "forman_curvature",
    "halo_plan",
    "get_backend",
    "hop_distances",
    "lam_max",
    "laplacian_eigenvectors",
    "mean_average_distance",
    "node_homophily",
    "partition",
    "random_walk_encoding",
    "receptive_field_sizes",
    "sdrf",
    "set_backend",
    "use_backend",
]


def __getattr__(name: str) -> Any:
    """Import :mod:`graphops.datasets` on first access, so ``import graphops`` is light.

    The benchmark readers and the download code stay unloaded until a dataset is
    used (PEP 562); ``graphops.datasets.load`` and ``from graphops import datasets``
    work as before.
    """
    if name == "datasets":
        return importlib.import_module("graphops.datasets")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
