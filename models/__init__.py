"""Models: a learned right-hand side (a :class:`solvers.Term`) plus a chosen solver.

:class:`GraphPDEModel` is encoder -> :func:`solvers.solve` of a learned
:class:`GraphTerm` -> decoder; the solver, controller and step are plain attributes,
swappable after training. :class:`TimeIndexed` holds per-layer parameters with
stated semantics when the step changes, :meth:`GraphPDEModel.trajectory` records a
diagnostic per step, :meth:`GraphPDEModel.stability_report` linearises a trained
right-hand side, and :func:`check_equivariance` tests any node-level model for
permutation equivariance. :mod:`models.diagnostics` measures over-squashing: the
Jacobian sensitivity ``|dy_i/dx_j|`` of any model as a function of hop distance.

The families, one module each, each with ``from_config(num_features, num_classes,
...)`` building the paper's model with the defaults of the reproduction spec:

* :mod:`models.gcn` - GCN as explicit Euler diffusion, residual GCN, PairNorm, GCNII;
* :mod:`models.pde_gcn` - PDE-GCN_D / _H / _M (Eliasof, Haber & Treister 2021);
* :mod:`models.grand` - GRAND-l / GRAND-nl and BLEND (Chamberlain et al. 2021);
* :mod:`models.graphcon` - GraphCON (Rusch et al. 2022);
* :mod:`models.sheaf` - Neural Sheaf Diffusion (Bodnar et al. 2022);
* :mod:`models.graff` - GRAFF (Di Giovanni et al. 2022).

The command-line demo is ``python -m models.demo``.
"""

from models.diagnostics import (
    SensitivityProfile,
    jacobian_sensitivity,
    sensitivity_by_distance,
)
from models.distributed import DistributedGraph, check_distributable
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
    "check_distributable",
    "check_equivariance",
    "DistributedGraph",
    "EdgeWeightLearner",
    "FromStalks",
    "GCNCoupling",
    "GCNIIArgs",
    "GCNIITerm",
    "GCNTerm",
    "GRAFFTerm",
    "jacobian_sensitivity",
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
    "SensitivityProfile",
    "sensitivity_by_distance",
    "SheafLearner",
    "StepDropout",
    "TimeIndexed",
    "ToStalks",
]
