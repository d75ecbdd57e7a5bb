r"""Benchmark graphs: Planetoid / Geom-GCN raw-file readers and synthetic graphs.

Three families of graphs live here.

* :func:`load` reads the **raw files** of the usual node-classification benchmarks
  (Planetoid: Cora, CiteSeer, PubMed; Geom-GCN: Chameleon, Squirrel, Actor, Cornell,
  Texas, Wisconsin) from a local directory and returns a :class:`GraphDataset`.
  There is **no hidden I/O**: the directory is the ``root`` argument or the
  ``GRAPHPDE_DATA`` environment variable (there is no default location), and nothing
  is downloaded unless ``download=True`` is passed.
* Synthetic graphs built in memory, without files: :func:`path_graph`,
  :func:`cycle_graph`, :func:`grid_graph`, :func:`ring_of_cliques`,
  :func:`barbell_graph`, :func:`random_geometric_graph`, :func:`small_world_graph`,
  :func:`karate_club` and the contextual stochastic block model :func:`csbm`
  (a :class:`GraphDataset` with a homophily knob).
* Bottleneck tasks (:class:`GraphDataset`\ s of many instances in one
  block-diagonal graph, masks on the target nodes): :func:`neighbors_match`
  (Alon & Yahav's tree NeighborsMatch, the tree depth as the problem radius) and
  :func:`ring_of_cliques_task` (a label carried across the ring's bottleneck edges).
* Your own graph: :func:`from_arrays` builds a :class:`GraphDataset` from numpy
  arrays, torch tensors or nested lists (features, labels, an edge list ``[2, E]`` or
  ``[E, 2]``, masks ``[N]``, ``[N, K]`` or ``[K, N]``), checking each array and naming
  it in every error; :func:`load_npz` reads the same arrays from an ``.npz`` file
  (keys ``x``/``node_features``, ``y``/``node_labels``, ``edge_index``/``edges``,
  ``train_mask(s)``, ``val_mask(s)``, ``test_mask(s)``, optional ``num_classes``).

Every graph is a :class:`~graphops.graph.Graph`: undirected, unweighted (all weights
one), without self-loops, each undirected edge stored once (see :mod:`graphops` for
the conventions). ``num_edges`` therefore counts **undirected** edges, half of PyG's
``edge_index.size(1)``.

Raw-data layout under ``root`` (the upstream repositories' own layout)::

    Planetoid/{Cora,CiteSeer,PubMed}/raw/ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}
    geom-gcn/new_data/<name>/out1_graph_edges.txt
    geom-gcn/new_data/<name>/out1_node_feature_label.txt
    geom-gcn/splits/<name>_split_0.6_0.2_<0..9>.npz

where the Geom-GCN ``<name>`` is ``chameleon``, ``squirrel``, ``film`` (Actor),
``cornell``, ``texas``, ``wisconsin``, ``cora``, ``citeseer`` or ``pubmed``.

Layout of the package (the modules are private; import from ``graphops.datasets``):
``_registry`` (names, published counts, raw-file layout), ``_load`` (:func:`load`),
``_dataset`` (:class:`GraphDataset`), ``_planetoid`` and ``_geom_gcn`` (the raw-file
readers), ``_download`` (HTTP), ``_synthetic`` (the generators), ``_csbm`` and
``_arrays`` (:func:`from_arrays`, :func:`load_npz`) and ``_bottleneck``
(the bottleneck tasks).
:func:`edge_homophily` lives in :mod:`graphops.homophily` and is re-exported here.

Every public name is resolved lazily on first access (PEP 562), and ``load`` imports
a reader or the downloader only when it needs one: ``import graphops`` loads none of
this package, and ``graphops.datasets.path_graph`` does not load the pickle reader or
the HTTP client code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphops.datasets._arrays import from_arrays, load_npz
    from graphops.datasets._bottleneck import neighbors_match, ring_of_cliques_task
    from graphops.datasets._csbm import csbm
    from graphops.datasets._dataset import GraphDataset
    from graphops.datasets._download import DownloadError
    from graphops.datasets._load import load
    from graphops.datasets._registry import DATA_ENV_VAR, DATASET_NAMES, DEFAULT_URLS
    from graphops.datasets._synthetic import (
        barbell_graph,
        cycle_graph,
        grid_graph,
        karate_club,
        path_graph,
        random_geometric_graph,
        ring_of_cliques,
        small_world_graph,
    )
    from graphops.homophily import edge_homophily

__all__ = [
    "DATASET_NAMES",
    "DATA_ENV_VAR",
    "DEFAULT_URLS",
    "DownloadError",
    "GraphDataset",
    "barbell_graph",
    "csbm",
    "cycle_graph",
    "edge_homophily",
    "from_arrays",
    "grid_graph",
    "karate_club",
    "load",
    "load_npz",
    "neighbors_match",
    "path_graph",
    "random_geometric_graph",
    "ring_of_cliques",
    "ring_of_cliques_task",
    "small_world_graph",
]

# Public name -> the module that defines it.
_WHERE: dict[str, str] = {
    "DATASET_NAMES": "graphops.datasets._registry",
    "DATA_ENV_VAR": "graphops.datasets._registry",
    "DEFAULT_URLS": "graphops.datasets._registry",
    "DownloadError": "graphops.datasets._download",
    "GraphDataset": "graphops.datasets._dataset",
    "barbell_graph": "graphops.datasets._synthetic",
    "csbm": "graphops.datasets._csbm",
    "cycle_graph": "graphops.datasets._synthetic",
    "edge_homophily": "graphops.homophily",
    "from_arrays": "graphops.datasets._arrays",
    "grid_graph": "graphops.datasets._synthetic",
    "karate_club": "graphops.datasets._synthetic",
    "load": "graphops.datasets._load",
    "load_npz": "graphops.datasets._arrays",
    "neighbors_match": "graphops.datasets._bottleneck",
    "ring_of_cliques_task": "graphops.datasets._bottleneck",
    "path_graph": "graphops.datasets._synthetic",
    "random_geometric_graph": "graphops.datasets._synthetic",
    "ring_of_cliques": "graphops.datasets._synthetic",
    "small_world_graph": "graphops.datasets._synthetic",
}


def __getattr__(name: str) -> Any:
    """Import the module defining public ``name`` on first access (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    # Cache it, so later lookups are plain attribute reads.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (``dir()`` lists them before they are first loaded)."""
    return sorted({*globals(), *__all__})
