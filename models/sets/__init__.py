r"""Set models: permutation invariance built in (DeepSets) or learned (SIRE).

* :class:`DeepSets` - :math:`\rho(\mathrm{pool}_i \phi(x_i))` with sum, mean or
  max pooling (Zaheer et al. 2017): invariant by construction;
* :class:`RecurrentSetModel` - a GRU, LSTM or tanh RNN read over the set, with
  the SIRE regulariser :func:`sire_penalty` (Cohen-Karlik, Ben David &
  Globerson, NeurIPS 2020): invariance learned;
* :mod:`models.sets.tasks` - sum, parity, range, variance, half-range, point
  clouds of parametric shapes and locally perturbed 8x8 digits;
* :mod:`models.sets.train` - :func:`fit`, :func:`evaluate`,
  :func:`length_curve` and :func:`permutation_sensitivity`.

The command line is ``graphpde sets`` (:mod:`models.sets.cli`).
"""

from models.sets.deepsets import POOLINGS, DeepSets, set_mask
from models.sets.recurrent import (
    CELLS,
    RecurrentSetModel,
    permute_sets,
    random_permutations,
    random_transpositions,
    sire_penalty,
    sire_state_penalty,
)
from models.sets.tasks import (
    SHAPES,
    TASKS,
    SetBatch,
    SetTask,
    make_task,
    perturb_locally,
    sample_point_clouds,
    sample_surface,
)
from models.sets.train import (
    MODEL_NAMES,
    FitConfig,
    FitResult,
    build_model,
    evaluate,
    fit,
    length_curve,
    permutation_sensitivity,
)

__all__ = [
    "CELLS",
    "DeepSets",
    "FitConfig",
    "FitResult",
    "MODEL_NAMES",
    "POOLINGS",
    "RecurrentSetModel",
    "SHAPES",
    "SetBatch",
    "SetTask",
    "TASKS",
    "build_model",
    "evaluate",
    "fit",
    "length_curve",
    "make_task",
    "permutation_sensitivity",
    "permute_sets",
    "perturb_locally",
    "random_permutations",
    "random_transpositions",
    "sample_point_clouds",
    "sample_surface",
    "set_mask",
    "sire_penalty",
    "sire_state_penalty",
]
