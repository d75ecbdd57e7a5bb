"""The benchmark registry: which datasets exist and which raw files make each one.

Nothing here reads a file or touches the network; :func:`graphops.datasets.load`
resolves a name against this registry, lists the files it needs, and hands them to
the reader of the dataset's source (Planetoid or Geom-GCN).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

#: Environment variable consulted by :func:`load` when ``root`` is not given.
DATA_ENV_VAR = "GRAPHPDE_DATA"

#: Upstream base addresses used by ``load(..., download=True)``, one per source.
#: Planetoid files are ``<base>/<file>``; Geom-GCN files are
#: ``<base>/new_data/<name>/<file>`` and ``<base>/splits/<file>``.
DEFAULT_URLS: Mapping[str, str] = MappingProxyType(
    {
        "planetoid": "https://github.com/kimiyoung/planetoid/raw/master/data",
        "geom-gcn": "https://raw.githubusercontent.com/graphdml-uiuc-jlu/geom-gcn/master",
    }
)

NUM_GEOM_GCN_SPLITS = 10
PLANETOID_EXTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")


@dataclass(frozen=True)
class Spec:
    """What a dataset is made of and the counts it must reproduce."""

    # canonical name, e.g. "actor"
    name: str
    # key of DEFAULT_URLS
    source: str
    # "cora" in ind.cora.x; "film" in new_data/film and film_split_*
    stem: str
    # Planetoid folder ("Cora"); "" for Geom-GCN sets
    folder: str
    # allowed `split` values, the first is the default
    splits: tuple[str, ...]
    # Published counts (shared/data/MANIFEST.md §2, equal to PyG's): a mismatch means
    # a truncated file or a different release, never a silent success. `num_edges`
    # counts undirected, unique edges without self-loops.
    num_nodes: int
    num_edges: int
    num_features: int
    num_classes: int


_PLANETOID_SPLITS = ("public", "geom-gcn")
_GEOM_GCN_SPLITS = ("geom-gcn",)

SPECS: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec(
            "cora", "planetoid", "cora", "Cora", _PLANETOID_SPLITS, 2708, 5278, 1433, 7
        ),
        Spec(
            "citeseer",
            "planetoid",
            "citeseer",
            "CiteSeer",
            _PLANETOID_SPLITS,
            3327,
            4552,
            3703,
            6,
        ),
        Spec(
            "pubmed",
            "planetoid",
            "pubmed",
            "PubMed",
            _PLANETOID_SPLITS,
            19717,
            44324,
            500,
            3,
        ),
        Spec(
            "chameleon",
            "geom-gcn",
            "chameleon",
            "",
            _GEOM_GCN_SPLITS,
            2277,
            31371,
            2325,
            5,
        ),
        Spec(
            "squirrel",
            "geom-gcn",
            "squirrel",
            "",
            _GEOM_GCN_SPLITS,
            5201,
            198353,
            2089,
            5,
        ),
        Spec("actor", "geom-gcn", "film", "", _GEOM_GCN_SPLITS, 7600, 26659, 932, 5),
        Spec("cornell", "geom-gcn", "cornell", "", _GEOM_GCN_SPLITS, 183, 277, 1703, 5),
        Spec("texas", "geom-gcn", "texas", "", _GEOM_GCN_SPLITS, 183, 279, 1703, 5),
        Spec(
            "wisconsin",
            "geom-gcn",
            "wisconsin",
            "",
            _GEOM_GCN_SPLITS,
            251,
            450,
            1703,
            5,
        ),
    )
}
ALIASES = {"film": "actor"}

#: Names accepted by :func:`load` (``"film"`` is an alias of ``"actor"``).
DATASET_NAMES: tuple[str, ...] = tuple(SPECS)


@dataclass(frozen=True)
class RawFile:
    """One raw file: where it lives under ``root`` and where it lives upstream."""

    # POSIX path relative to root (and to a mirror given as url="...")
    relpath: str
    # key of DEFAULT_URLS
    source: str
    # path relative to the source's base URL
    upstream: str

    @property
    def planetoid_ext(self) -> str:
        """``"test.index"`` for ``ind.cora.test.index``; ``"x"`` for ``ind.cora.x``."""
        return self.upstream.split(".", 2)[2]

    @property
    def is_geom_gcn_split(self) -> bool:
        """Whether this is one of the ten Geom-GCN split files."""
        return self.relpath.startswith("geom-gcn/splits/")


def _planetoid_file(spec: Spec, ext: str) -> RawFile:
    fname = f"ind.{spec.stem}.{ext}"
    return RawFile(f"Planetoid/{spec.folder}/raw/{fname}", "planetoid", fname)


def _geom_gcn_split_file(stem: str, i: int) -> RawFile:
    fname = f"{stem}_split_0.6_0.2_{i}.npz"
    return RawFile(f"geom-gcn/splits/{fname}", "geom-gcn", f"splits/{fname}")


def _geom_gcn_data_file(stem: str, fname: str) -> RawFile:
    return RawFile(
        f"geom-gcn/new_data/{stem}/{fname}", "geom-gcn", f"new_data/{stem}/{fname}"
    )


def required_files(spec: Spec, split: str) -> list[RawFile]:
    """The raw files ``load`` reads for ``spec`` with ``split``, data files first.

    Planetoid sets need the eight ``ind.<name>.*`` files; Geom-GCN sets the edge
    file then the node file. ``split="geom-gcn"`` adds the ten split files.
    """
    if spec.source == "planetoid":
        files = [_planetoid_file(spec, ext) for ext in PLANETOID_EXTS]
    else:
        files = [
            _geom_gcn_data_file(spec.stem, "out1_graph_edges.txt"),
            _geom_gcn_data_file(spec.stem, "out1_node_feature_label.txt"),
        ]
    if split == "geom-gcn":
        files += [
            _geom_gcn_split_file(spec.stem, i) for i in range(NUM_GEOM_GCN_SPLITS)
        ]
    return files


def corrupt_file_error(path: Path, expected: str, got: str) -> ValueError:
    """The error for a raw file whose content is not what its format promises."""
    return ValueError(
        f"load: {path} must be {expected}; got {got}. The file is truncated or "
        "corrupt: delete it and re-run with download=True, or copy a good version "
        "into that place."
    )
