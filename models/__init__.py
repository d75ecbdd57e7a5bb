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
    StabilityReport,
    StabilityRow,
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
from models.sheaf import (
    EdgeWeightLearner,
    FromStalks,
    SheafDiffusionTerm,
    SheafLearner,
    ToStalks,
)

__all__ = [
    "AttentionCoupling",
    "BLENDEncoder",
    "check_equivariance",
    "EdgeWeightLearner",
    "FromStalks",
    "GCNCoupling",
    "GCNIIArgs",
    "GCNIITerm",
    "GCNTerm",
    "GRAFFTerm",
    "GRAND",
    "GRANDArgs",
    "GRANDAttention",
    "GraphCONTerm",
    "GraphPDEModel",
    "GraphTerm",
    "pairnorm",
    "PDEGCNDiffusion",
    "PDEGCNHyperbolic",
    "PDEGCNMixed",
    "PDEGCNTerm",
    "permute_graph",
    "StabilityReport",
    "StabilityRow",
    "SheafDiffusionTerm",
    "SheafLearner",
    "StepDropout",
    "TimeIndexed",
    "ToStalks",
]
