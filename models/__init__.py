"""Models: a learned right-hand side (a :class:`solvers.Term`) plus a chosen solver.

:class:`GraphPDEModel` is encoder -> :func:`solvers.solve` of a learned
:class:`GraphTerm` -> decoder; the solver, controller and step are plain attributes,
swappable after training. :class:`TimeIndexed` holds per-layer parameters with
stated semantics when the step changes, and :func:`check_equivariance` tests any
node-level model for permutation equivariance. The command-line demo is
``python -m models.demo``.
"""

from models.gcn import GCNIIArgs, GCNIITerm, GCNTerm, pairnorm
from models.graff import GRAFFTerm
from models.grand import GRAND, BLENDEncoder, GRANDArgs, GRANDAttention
from models.graphcon import AttentionCoupling, GCNCoupling, GraphCONTerm, StepDropout
from models.model import (
    GraphPDEModel,
    GraphTerm,
    TimeIndexed,
    check_equivariance,
    permute_graph,
)
from models.pde_gcn import (
    PDEGCNDiffusion,
    PDEGCNHyperbolic,
    PDEGCNMixed,
    PDEGCNTerm,
)

__all__ = [
    "AttentionCoupling",
    "GCNCoupling",
    "GRAFFTerm",
    "GraphCONTerm",
    "BLENDEncoder",
    "GRAND",
    "GRANDArgs",
    "GRANDAttention",
    "GCNIIArgs",
    "GCNIITerm",
    "GCNTerm",
    "GraphPDEModel",
    "GraphTerm",
    "PDEGCNDiffusion",
    "PDEGCNHyperbolic",
    "PDEGCNMixed",
    "PDEGCNTerm",
    "StepDropout",
    "TimeIndexed",
    "check_equivariance",
    "pairnorm",
    "permute_graph",
]
