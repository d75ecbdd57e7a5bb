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
SDDMM for the edge values, so learned edge weights train cheaply.
"""

import importlib
from typing import Any

from graphops.energy import dirichlet_energy, edge_homophily, mean_average_distance
from graphops.graph import Graph
from graphops.operators import (
    Adjacency,
    Divergence,
    EdgeToNodeMean,
    Gradient,
    GraphOperator,
    Laplacian,
    NodeToEdgeMean,
)
from graphops.sheaf import SheafLaplacian
from graphops.spectral import lam_max, laplacian_eigenvectors
from graphops.spmm import get_backend, set_backend, use_backend

__all__ = [
    "Adjacency",
    "Divergence",
    "EdgeToNodeMean",
    "Gradient",
    "Graph",
    "GraphOperator",
    "Laplacian",
    "NodeToEdgeMean",
    "SheafLaplacian",
    "datasets",
    "dirichlet_energy",
    "edge_homophily",
    "get_backend",
    "lam_max",
    "laplacian_eigenvectors",
    "mean_average_distance",
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
