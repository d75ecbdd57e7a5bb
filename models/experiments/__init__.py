"""Experiments: training, protocols, sweeps and reproduction of published tables.

The command line is ``graphpde`` (or ``python -m models``); see
:mod:`models.experiments.cli`. The pieces, usable from Python:

* :mod:`~models.experiments.config` - :class:`RunConfig` and the shipped presets;
* :mod:`~models.experiments.registry` - model, solver and optimiser names;
* :mod:`~models.experiments.data` - datasets (names, ``.npz`` files, built-in
  ``csbm``) and preprocessing;
* :mod:`~models.experiments.train` - one run and a whole protocol, resumable;
* :mod:`~models.experiments.runfolder` - atomic files and checkpoints;
* :mod:`~models.experiments.plots` - the run plots.
"""

from models.experiments.config import RunConfig, list_presets, load_preset
from models.experiments.train import RunResult, build_model, run, train_one

__all__ = [
    "RunConfig",
    "RunResult",
    "build_model",
    "list_presets",
    "load_preset",
    "run",
    "train_one",
]
