"""Reader of the Planetoid raw files (``ind.<name>.*``, Python-2 pickles).

The pickles are read with an allow-list unpickler (see ``_PICKLE_GLOBALS``). This
module is imported by :func:`graphops.datasets.load` only when a Planetoid set is
read, so ``import graphops`` does not load it.
"""

from __future__ import annotations

import codecs
import collections
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from graphops._checks import describe
from graphops.datasets._common import Masks
from graphops.datasets._registry import Spec
from graphops.datasets._registry import corrupt_file_error as _corrupt

__all__ = ["read_planetoid"]


# The reconstruct function numpy uses to pickle arrays, found through the public
# __reduce__ so no private numpy module path is imported here.
_NP_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]

# Allow-list for the Planetoid pickles: unpickling runs code named by the file, so a
# downloaded file may only build the few types the real files contain (protocol-2
# pickles of scipy CSR matrices, numpy arrays and a defaultdict of lists, written by
# Python 2). Mapping the old module paths here also avoids scipy's deprecated
# `scipy.sparse.csr` namespace.
_PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _NP_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NP_RECONSTRUCT,
    ("scipy.sparse.csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse._csr", "csr_matrix"): sp.csr_matrix,
    ("scipy.sparse", "csr_matrix"): sp.csr_matrix,
    ("collections", "defaultdict"): collections.defaultdict,
    # Python 3 writes protocol-2 bytes as _codecs.encode(str, "latin1"): pure.
    ("_codecs", "encode"): codecs.encode,
    ("__builtin__", "bytes"): bytes,  # empty bytes, also from Python 3
    ("builtins", "bytes"): bytes,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only the allow-listed globals of ``_PICKLE_GLOBALS``."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global '{module}.{name}' is not allowed in a Planetoid file"
            ) from None


def _read_pickle(path: Path, expected: str) -> Any:
    with open(path, "rb") as fh:
        try:
            return _RestrictedUnpickler(fh, encoding="latin1").load()
        except Exception as err:  # noqa: BLE001 - corrupt pickles raise almost anything
            raise _corrupt(path, expected, f"{type(err).__name__}: {err}") from err


def _read_matrix(path: Path, *, sparse_ok: bool) -> np.ndarray:
    kind = (
        "a Python-2 pickle of a 2-D scipy CSR matrix"
        if sparse_ok
        else "a Python-2 pickle of a 2-D numpy array"
    )
    obj = _read_pickle(path, kind)
    if sp.issparse(obj):
        try:
            # Validate indices before toarray(): its C++ kernel does not bounds-check.
            obj.check_format(full_check=True)
            arr = np.asarray(obj.toarray())
        except Exception as err:  # noqa: BLE001 - a damaged CSR fails anywhere
            raise _corrupt(path, kind, f"an unreadable sparse matrix ({err})") from err
    elif isinstance(obj, np.ndarray):
        arr = obj
    else:
        raise _corrupt(path, kind, describe(obj))
    if arr.ndim != 2:
        raise _corrupt(path, kind, f"an array of shape {arr.shape}")
    return arr


def _read_test_index(path: Path) -> np.ndarray:
    expected = "a text file of non-negative integers, one per line"
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as err:
        raise _corrupt(path, expected, f"non-text bytes ({err.reason})") from err
    lines = text.split()
    for k, token in enumerate(lines, 1):
        if not token.isdigit():
            raise _corrupt(path, expected, f"{token[:20]!r} as entry {k}")
    if not lines:
        raise _corrupt(path, expected, "an empty file")
    return np.array(lines, dtype=np.int64)


def read_planetoid(
    spec: Spec, paths: dict[str, Path]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, Masks]:
    """Kipf & Welling's / PyG's reconstruction of a Planetoid dataset.

    Args:
        spec: The registry entry (its name appears in the errors).
        paths: The eight raw files, keyed by extension (``"x"``, ..., ``"graph"``,
            ``"test.index"``).

    Returns:
        Features ``[N, F]``, labels ``[N]``, raw pairs ``[2, K]``, the number of
        classes and the public split masks.

    Raises:
        ValueError: a file is corrupt, or the files disagree with each other.
    """
    x = _read_matrix(paths["x"], sparse_ok=True)
    tx = _read_matrix(paths["tx"], sparse_ok=True)
    allx = _read_matrix(paths["allx"], sparse_ok=True)
    y = _read_matrix(paths["y"], sparse_ok=False)
    ty = _read_matrix(paths["ty"], sparse_ok=False)
    ally = _read_matrix(paths["ally"], sparse_ok=False)
    graph = _read_pickle(
        paths["graph"], "a Python-2 pickle of a dict {node: [neighbours]}"
    )
    test_index = _read_test_index(paths["test.index"])

    def need(ok: bool, what: str, got: str, *files: str) -> None:
        if not ok:
            names = ", ".join(str(paths[f]) for f in files)
            raise ValueError(
                f"load: the Planetoid files of '{spec.name}' must agree: {what}; got "
                f"{got} ({names}). One of them is truncated or from another dataset; "
                "delete them and re-run with download=True."
            )

    num_features, num_classes = allx.shape[1], ally.shape[1]
    need(
        x.shape[1] == tx.shape[1] == num_features,
        "x, tx and allx need one feature width",
        f"{x.shape[1]}, {tx.shape[1]} and {allx.shape[1]}",
        "x",
        "tx",
        "allx",
    )
    need(
        y.shape[1] == ty.shape[1] == num_classes,
        "y, ty and ally need one number of classes",
        f"{y.shape[1]}, {ty.shape[1]} and {ally.shape[1]}",
        "y",
        "ty",
        "ally",
    )
    need(
        x.shape[0] == y.shape[0],
        "x and y need the same rows",
        f"{x.shape[0]} and {y.shape[0]}",
        "x",
        "y",
    )
    need(
        allx.shape[0] == ally.shape[0],
        "allx and ally need the same rows",
        f"{allx.shape[0]} and {ally.shape[0]}",
        "allx",
        "ally",
    )
    need(
        tx.shape[0] == ty.shape[0] == test_index.size,
        "tx, ty and test.index need the same rows",
        f"{tx.shape[0]}, {ty.shape[0]} and {test_index.size}",
        "tx",
        "ty",
        "test.index",
    )

    sorted_test = np.sort(test_index)
    lo, hi = int(sorted_test[0]), int(sorted_test[-1])
    need(
        lo == allx.shape[0],
        "test.index must start right after the allx rows",
        f"first test node {lo} with {allx.shape[0]} allx rows",
        "test.index",
        "allx",
    )
    need(
        bool(np.all(np.diff(sorted_test) > 0)),
        "test.index must not repeat a node",
        "duplicates",
        "test.index",
    )
    # Test nodes missing from test.index (CiteSeer: 15 isolated nodes) become rows of
    # zeros so node ids stay aligned (Kipf's gcn/utils.py, PyG read_planetoid_data).
    span = hi - lo + 1
    tx_ext = np.zeros((span, num_features), dtype=tx.dtype)
    ty_ext = np.zeros((span, num_classes), dtype=ty.dtype)
    tx_ext[sorted_test - lo] = tx
    ty_ext[sorted_test - lo] = ty
    features = np.concatenate([allx, tx_ext]).astype(np.float64, copy=False)
    onehot = np.concatenate([ally, ty_ext])
    features[test_index] = features[sorted_test]
    onehot[test_index] = onehot[sorted_test]
    labels = onehot.argmax(1).astype(np.int64)
    n = features.shape[0]

    if not isinstance(graph, Mapping):
        raise _corrupt(
            paths["graph"],
            "a Python-2 pickle of a dict {node: [neighbours]}",
            describe(graph),
        )
    try:
        src = np.fromiter(
            (int(k) for k, nbrs in graph.items() for _ in nbrs), dtype=np.int64
        )
        dst = np.fromiter(
            (int(j) for nbrs in graph.values() for j in nbrs), dtype=np.int64
        )
    except (TypeError, ValueError) as err:
        raise _corrupt(
            paths["graph"], "a dict {int node: [int neighbours]}", str(err)
        ) from err
    if src.size:
        bad = max(int(src.max()), int(dst.max()))
        low = min(int(src.min()), int(dst.min()))
        need(
            low >= 0 and bad < n,
            f"graph node ids must lie in [0, {n})",
            f"ids in [{low}, {bad}]",
            "graph",
        )

    num_train = y.shape[0]
    need(
        num_train + 500 <= lo,
        "the 500 validation nodes must come before the test nodes",
        f"{num_train} training rows and first test node {lo}",
        "y",
        "test.index",
    )
    train = np.zeros(n, dtype=bool)
    val = np.zeros(n, dtype=bool)
    test = np.zeros(n, dtype=bool)
    train[:num_train] = True
    val[num_train : num_train + 500] = True
    test[test_index] = True
    return features, labels, np.stack([src, dst]), num_classes, (train, val, test)
