"""Models: a learned right-hand side (a :class:`solvers.Term`) plus a chosen solver.

:class:`GraphPDEModel` is encoder -> :func:`solvers.solve` of a learned
:class:`GraphTerm` -> decoder; the solver, controller and step are plain attributes,
swappable after training. :class:`TimeIndexed` holds per-layer parameters with
stated semantics when the step changes, and :func:`check_equivariance` tests any
node-level model for permutation equivariance. The command-line demo is
``python -m models.demo``.
"""

from models.model import (
    GraphPDEModel,
    GraphTerm,
    TimeIndexed,
    check_equivariance,
    permute_graph,
)
from models.sheaf import (
    EdgeWeightLearner,
    FromStalks,
    SheafDiffusionTerm,
    SheafLearner,
    ToStalks,
)

__all__ = [
    "EdgeWeightLearner",
    "FromStalks",
    "GraphPDEModel",
    "GraphTerm",
    "SheafDiffusionTerm",
    "SheafLearner",
    "TimeIndexed",
    "ToStalks",
    "check_equivariance",
    "permute_graph",
]
