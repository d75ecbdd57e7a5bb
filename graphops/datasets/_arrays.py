"""Bring your own graph: :func:`from_arrays` and :func:`load_npz`.

Both turn user arrays (features, labels, an edge list, split masks) into a
:class:`GraphDataset`, checking each array *before* the graph is built, so an error
names the argument (or the ``.npz`` key) the user wrote rather than an internal
container. The accepted forms:

===============  =========================================  ===========================
argument         shapes                                     dtypes
===============  =========================================  ===========================
``x``            ``[N, F]``                                 float, int or bool
``y``            ``[N]`` class indices, or ``[N, C]``        int (or whole-number
                 one-hot (exactly one 1 per row)            float), bool; one-hot 0/1
``edge_index``   ``[2, E]`` or ``[E, 2]`` (``[2, 2]``:       int (or whole-number
                 ``[2, E]``)                                float)
masks            ``[N]``, ``[N, K]`` or ``[K, N]`` (``[N,    bool or 0/1
                 N]``: ``[N, K]``)
===============  =========================================  ===========================

``N`` is the number of rows of ``x``; every other array must agree with it.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, describe
from graphops.datasets._common import graph_from_pairs
from graphops.datasets._dataset import GraphDataset

__all__ = ["from_arrays", "load_npz"]

# Canonical argument -> the .npz keys accepted for it (exactly one must be present).
NPZ_KEYS: dict[str, tuple[str, str]] = {
    "x": ("x", "node_features"),
    "y": ("y", "node_labels"),
    "edge_index": ("edge_index", "edges"),
    "train_mask": ("train_mask", "train_masks"),
    "val_mask": ("val_mask", "val_masks"),
    "test_mask": ("test_mask", "test_masks"),
}
# Optional .npz keys.
NPZ_OPTIONAL = ("num_classes",)

_SELF_LOOPS = ("drop", "error")
_MASKS = ("train_mask", "val_mask", "test_mask")
_INDEX_FIX = "convert with mask = np.zeros(N, bool); mask[idx] = True"


def from_arrays(
    x: Any,
    y: Any,
    edge_index: Any,
    train_mask: Any,
    val_mask: Any,
    test_mask: Any,
    *,
    name: str = "custom",
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float32,
    self_loops: Literal["drop", "error"] = "drop",
) -> GraphDataset:
    """A :class:`GraphDataset` from user arrays (numpy, torch or nested lists).

    Every array is checked before anything is built, and the error names the
    argument. ``N`` is the number of rows of ``x``.

    * ``x``: ``[N, F]`` with ``N, F >= 1``, real (float, int or bool; ints and bools
      are cast to ``dtype`` and must be exactly representable in it). Every entry
      must be finite, also after the cast to ``dtype``.
    * ``y``: ``[N]`` non-negative class indices (int, bool, or float holding whole
      numbers), or one-hot ``[N, C]`` with ``C >= 2`` (0/1 entries, exactly one 1 per
      row; converted with ``argmax``). A single column ``[N, 1]`` is refused as
      ambiguous. Other 2-D labels (scores, multi-label rows) are refused.
    * ``edge_index``: ``[2, E]`` or ``[E, 2]`` node ids in ``[0, N)`` (int, or float
      holding whole numbers). A ``[2, 2]`` array is read as ``[2, E]`` (each column is
      a pair). Pairs are read as directed and symmetrised: the graph holds ``{i, j}``
      when ``(i, j)`` or ``(j, i)`` is listed; duplicates are merged (every edge
      has weight one); self-loops ``(i, i)`` are dropped, or refused with
      ``self_loops="error"``.
    * ``train_mask``, ``val_mask``, ``test_mask``: boolean or 0/1, each ``[N]`` (one
      split), ``[N, K]`` or ``[K, N]`` (``K`` splits). ``[K, N]`` is recognised by
      ``shape[1] == N != shape[0]``; a square ``[N, N]`` is read as ``[N, K]``.
      Node-index arrays are not accepted (convert them to boolean masks). All three
      masks must have the same number of splits; the result's masks are ``[N]`` for
      1-D input and ``[N, K]`` otherwise. :class:`GraphDataset` then checks that
      every split's train mask selects a node and that the masks of a split are
      disjoint.

    Args:
        x: Node features ``[N, F]``.
        y: Node labels ``[N]`` or one-hot ``[N, C]``.
        edge_index: Edge list ``[2, E]`` or ``[E, 2]``.
        train_mask: Training nodes, ``[N]``, ``[N, K]`` or ``[K, N]``.
        val_mask: Validation nodes, same number of splits as ``train_mask``.
        test_mask: Test nodes, same number of splits as ``train_mask``.
        name: Name of the dataset (shown in its ``repr`` and summary).
        num_classes: Number of classes; ``None`` means ``C`` for one-hot labels and
            ``max(y) + 1`` otherwise.
        dtype: Floating dtype of the features and of the edge weights.
        self_loops: ``"drop"`` or ``"error"``, see above.

    Returns:
        The dataset, on the CPU (move it with ``.to(device)``).

    Raises:
        TypeError: an argument is not an array, tensor or nested list, has a
            non-numeric dtype, or ``dtype``/``name`` has the wrong type.
        ValueError: a shape, value or range check above fails.

    Shapes:
        ``x [N, F]``, ``y [N]``, masks ``[N]`` or ``[N, K]`` in the result.

    Example:
        >>> import numpy as np
        >>> from graphops.datasets import from_arrays
        >>> ds = from_arrays(
        ...     x=np.eye(4),
        ...     y=[0, 0, 1, 1],
        ...     edge_index=[[0, 1], [1, 2], [2, 3]],  # [E, 2]
        ...     train_mask=[1, 0, 1, 0],
        ...     val_mask=[0, 1, 0, 0],
        ...     test_mask=[0, 0, 0, 1],
        ... )
        >>> ds.num_nodes, ds.num_edges, ds.num_classes, ds.x.dtype
        (4, 3, 2, torch.float32)
    """
    labels = {k: f"`{k}`" for k in ("x", "y", "edge_index", *_MASKS)}
    return _build(
        "from_arrays",
        labels,
        {
            "x": x,
            "y": y,
            "edge_index": edge_index,
            "train_mask": train_mask,
            "val_mask": val_mask,
            "test_mask": test_mask,
        },
        name=name,
        num_classes=num_classes,
        dtype=dtype,
        self_loops=self_loops,
    )


def load_npz(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> GraphDataset:
    """A :class:`GraphDataset` from an ``.npz`` file (as written by ``np.savez``).

    The file holds exactly one key of each row below, and nothing else; the arrays
    are checked as in :func:`from_arrays` (errors name the key).

    ==============  ================================  =====================
    argument        accepted keys                     required
    ==============  ================================  =====================
    ``x``           ``x``, ``node_features``          yes
    ``y``           ``y``, ``node_labels``            yes
    ``edge_index``  ``edge_index``, ``edges``         yes
    ``train_mask``  ``train_mask``, ``train_masks``   yes
    ``val_mask``    ``val_mask``, ``val_masks``       yes
    ``test_mask``   ``test_mask``, ``test_masks``     yes
    ``num_classes`` ``num_classes`` (integer scalar)  no
    ==============  ================================  =====================

    Unknown keys are refused rather than ignored, so that a misspelt optional key
    (``num_class``) cannot be silently dropped. Self-loops in the edge list are
    dropped.

    Args:
        path: Path of an existing ``.npz`` file.
        name: Name of the dataset; ``None`` means the file name without ``.npz``.
        dtype: Floating dtype of the features and of the edge weights.

    Returns:
        The dataset, on the CPU.

    Raises:
        TypeError: ``path`` is not a string or path, ``name`` is not a string, or an
            array has a non-numeric dtype.
        FileNotFoundError: ``path`` does not exist or is not a file.
        ValueError: ``path`` does not end in ``.npz`` or is not a readable ``.npz``
            archive of plain arrays; a key is missing, given twice (two aliases) or
            unknown; or an array fails a check of :func:`from_arrays`.

    Example:
        >>> ds = load_npz("my_graph.npz")  # doctest: +SKIP
        >>> [ds.split(i) for i in range(ds.num_splits)]  # doctest: +SKIP
    """
    where = "load_npz"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{where}: `path` must be a str or os.PathLike naming an .npz file; got "
            f"{describe(path)}. Pass e.g. 'data/my_graph.npz'."
        )
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"{where}: `path` must be an existing .npz file; got '{p}', which does "
            "not exist. Fix the path; for the built-in benchmarks (cora, ...) use "
            "graphops.datasets.load(name, root) instead."
        )
    if not p.is_file():
        raise FileNotFoundError(
            f"{where}: `path` must be an .npz file; got '{p}', which is not a file. "
            "Name the file itself, not its directory."
        )
    if p.suffix.lower() != ".npz":
        raise ValueError(
            f"{where}: `path` must name an .npz file (written by np.savez); got "
            f"'{p.name}'. Save the arrays with np.savez(path, x=..., y=..., "
            "edge_index=..., train_mask=..., val_mask=..., test_mask=...)."
        )
    if name is None:
        name = p.stem
    arrays, num_classes = _read_npz(where, p)
    labels = {k: f"`{key}` (in {p.name})" for k, (key, _) in arrays.items()}
    return _build(
        where,
        labels,
        {k: value for k, (_, value) in arrays.items()},
        name=name,
        num_classes=num_classes,
        dtype=dtype,
        self_loops="drop",
    )


# -- reading the .npz file ----------------------------------------------------------
def _read_npz(where: str, p: Path) -> tuple[dict[str, tuple[str, Any]], int | None]:
    """Canonical argument -> (the key used, its array), and ``num_classes``."""
    try:
        # allow_pickle=False: a data file must not be able to run code. Object
        # arrays are pickles, and unpickling executes whatever the file says.
        archive = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{where}: `path` must be an .npz archive of plain arrays; got '{p}', "
            f"which numpy cannot read as one ({err}). Re-save it with "
            "np.savez(path, x=..., y=..., ...) using numeric arrays only."
        ) from err
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{where}: `path` must be an .npz archive (np.savez); got '{p}', which "
            f"holds a single {describe(archive)} (an .npy file). Save the six arrays "
            "with np.savez(path, x=..., y=..., edge_index=..., train_mask=..., "
            "val_mask=..., test_mask=...)."
        )
    with archive as z:
        files = list(z.files)
        accepted = [a for aliases in NPZ_KEYS.values() for a in aliases]
        accepted += list(NPZ_OPTIONAL)
        unknown = [k for k in files if k not in accepted]
        if unknown:
            raise ValueError(
                f"{where}: '{p.name}' must hold only the accepted keys {accepted}; "
                f"got unknown keys {unknown} (keys present: {files}). Re-save the "
                "file without them (a misspelt key would otherwise be ignored)."
            )
        chosen: dict[str, str] = {}
        missing: list[str] = []
        for canonical, aliases in NPZ_KEYS.items():
            present = [a for a in aliases if a in files]
            if len(present) > 1:
                raise ValueError(
                    f"{where}: '{p.name}' must hold exactly one of the keys "
                    f"{' / '.join(aliases)}; got both {present}. Keep one and "
                    "re-save the file."
                )
            if present:
                chosen[canonical] = present[0]
            else:
                missing.append(" or ".join(f"'{a}'" for a in aliases))
        if missing:
            raise ValueError(
                f"{where}: '{p.name}' must hold the keys for features, labels, edges "
                f"and the three masks; missing {', '.join(missing)} (keys present: "
                f"{files}). Re-save with np.savez(path, x=..., y=..., edge_index=..., "
                "train_mask=..., val_mask=..., test_mask=...)."
            )
        arrays = {c: (key, _read_key(where, p, z, key)) for c, key in chosen.items()}
        num_classes = None
        if "num_classes" in files:
            num_classes = _npz_num_classes(
                where, p, _read_key(where, p, z, "num_classes")
            )
    return arrays, num_classes


def _read_key(where: str, p: Path, z: Any, key: str) -> np.ndarray:
    """The array under ``key``; object (pickled) or damaged members are refused."""
    try:
        return z[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise ValueError(
            f"{where}: key `{key}` of '{p.name}' must be a plain numeric array; got "
            f"one numpy cannot load without pickle, or a damaged member ({err}). "
            "Re-save it as a numeric array (not a list of Python objects)."
        ) from err


def _npz_num_classes(where: str, p: Path, arr: np.ndarray) -> int:
    """``num_classes`` stored as an integer scalar array."""
    if arr.size != 1 or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: key `num_classes` of '{p.name}' must be one integer; got "
            f"{describe(arr)}. Save it as np.savez(..., num_classes=7)."
        )
    return int(arr.reshape(()))


# -- the checks, shared by both entry points -----------------------------------------
def _build(
    where: str,
    labels: dict[str, str],
    raw: dict[str, Any],
    *,
    name: Any,
    num_classes: Any,
    dtype: Any,
    self_loops: Any,
) -> GraphDataset:
    """Check and convert every array, then build the dataset."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{where}: `dtype` must be a floating torch.dtype; got {describe(dtype)}. "
            "Pass e.g. dtype=torch.float32."
        )
    if self_loops not in _SELF_LOOPS:
        raise ValueError(
            f"{where}: `self_loops` must be one of {_SELF_LOOPS}; got "
            f"{self_loops!r}. Pass 'drop' to remove loops (i, i) or 'error' to "
            "refuse them."
        )
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"{where}: `name` must be a non-empty str; got {describe(name)}. "
            "Pass e.g. name='my_graph'."
        )
    x = _features(where, labels["x"], raw["x"], dtype)
    n = int(x.shape[0])
    y, num_classes = _labels(where, labels["y"], raw["y"], n, num_classes)
    pairs = _edges(where, labels["edge_index"], raw["edge_index"], n, self_loops)
    masks = {k: _mask(where, labels[k], raw[k], n) for k in _MASKS}
    splits = {k: (None if m.ndim == 1 else m.shape[1]) for k, m in masks.items()}
    if len(set(splits.values())) > 1:
        got = ", ".join(
            f"{labels[k]} {'[N]' if s is None else f'{s} splits'}"
            for k, s in splits.items()
        )
        raise ValueError(
            f"{where}: the three masks must have the same number of splits; got "
            f"{got}. Pass one column per split in each; repeat a shared mask with "
            "np.tile(mask[:, None], (1, K))."
        )
    return GraphDataset(
        name=name,
        graph=graph_from_pairs(pairs, n).to(dtype=dtype),
        x=x,
        y=torch.from_numpy(y),
        train_mask=torch.from_numpy(masks["train_mask"]),
        val_mask=torch.from_numpy(masks["val_mask"]),
        test_mask=torch.from_numpy(masks["test_mask"]),
        num_classes=num_classes,
    )


def _to_numpy(where: str, label: str, value: Any) -> np.ndarray:
    """A numeric (bool, int, uint or float) array from an array, tensor or list."""
    if isinstance(value, Tensor):
        if value.is_meta:
            raise ValueError(
                f"{where}: {label} must hold values; got a tensor on the meta device. "
                "Build it on the CPU."
            )
        if value.is_complex():
            raise TypeError(
                f"{where}: {label} must be real (bool, int or float); got "
                f"{describe(value)}. Pass the real part, or split it into columns."
            )
        t = value.detach().cpu()
        # numpy has no bfloat16; float32 holds every bfloat16 value exactly.
        if t.dtype == torch.bfloat16:
            t = t.float()
        arr = t.numpy()
    elif isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except ValueError as err:
            raise ValueError(
                f"{where}: {label} must be a rectangular array; got a ragged nested "
                f"{type(value).__name__} ({err}). Give every row the same length."
            ) from err
    else:
        raise TypeError(
            f"{where}: {label} must be a numpy array, a torch tensor or a nested "
            f"list; got {describe(value)}. Pass e.g. np.asarray(...)."
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: {label} must be numeric (bool, int or float); got "
            f"{describe(arr)}. Convert it, e.g. with np.asarray(..., dtype=float)."
        )
    return arr


def _first(mask: np.ndarray) -> tuple[int, ...]:
    """Index of the first True entry of ``mask``."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _as_int64(
    where: str, label: str, arr: np.ndarray, what: str, fix: str
) -> np.ndarray:
    """``arr`` as int64, exactly: floats must be finite whole numbers.

    ``what`` names the entries (``"node ids"``), ``fix`` ends the message.
    """
    kind = arr.dtype.kind
    if kind == "f" and arr.size:
        bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (np.abs(arr) >= 2.0**63)
        if bad.any():
            at = _first(bad)
            raise ValueError(
                f"{where}: {label} must hold {what} (whole numbers); got "
                f"{arr[at].item()!r} at position {list(at)}. {fix}"
            )
    if kind == "u" and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise ValueError(
            f"{where}: {label} must hold {what} below 2**63; got {int(arr.max())}. "
            f"{fix}"
        )
    return arr.astype(np.int64)


def _features(where: str, label: str, value: Any, dtype: torch.dtype) -> Tensor:
    """``x`` as a finite ``[N, F]`` tensor of ``dtype``."""
    arr = _to_numpy(where, label, value)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        hint = (
            "For one feature per node reshape it to [N, 1]"
            if arr.ndim == 1
            else "Pass one row of features per node"
        )
        raise ValueError(
            f"{where}: {label} must be node features [N, F] with N, F >= 1; got "
            f"shape {arr.shape}. {hint}."
        )
    if arr.dtype.kind in "iu" and arr.size:
        # ints above 2**(mantissa bits + 1) would be rounded by the cast to `dtype`
        limit = int(2 / torch.finfo(dtype).eps)
        big = max(abs(int(arr.max())), abs(int(arr.min())))
        if big > limit:
            raise ValueError(
                f"{where}: {label} integer entries must be exactly representable in "
                f"{dtype} (|value| <= {limit}); got {big}. Pass "
                "dtype=torch.float64 or rescale the features."
            )
    if arr.dtype not in (np.float16, np.float32, np.float64):
        # bool, int and uint (checked above) and longdouble: float64 first, since
        # torch.from_numpy has no uint32/uint64/longdouble casts to float
        arr = arr.astype(np.float64)
    x = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        i, j = (int(v) for v in (~finite).nonzero()[0])
        original = float(arr[i, j])
        if np.isfinite(original):
            raise ValueError(
                f"{where}: {label} must be finite in {dtype}; got {original:g} at node "
                f"{i}, feature {j}, which overflows to {float(x[i, j])}. Pass "
                "dtype=torch.float64 or rescale the features."
            )
        raise ValueError(
            f"{where}: {label} must be finite; got {original} at node {i}, feature "
            f"{j} ({int((~finite).sum())} non-finite entries). Impute or drop the "
            "missing values before building the dataset."
        )
    return x


def _labels(
    where: str, label: str, value: Any, n: int, num_classes: Any
) -> tuple[np.ndarray, int]:
    """``y`` as int64 ``[N]`` class indices, and the number of classes."""
    arr = _to_numpy(where, label, value)
    one_hot_classes = None
    if arr.ndim == 2:
        if arr.shape[0] != n:
            hint = " (transpose it)" if arr.shape[1] == n else ""
            raise ValueError(
                f"{where}: {label} as one-hot labels must be [N={n}, C] (N = rows of "
                f"`x`); got shape {arr.shape}{hint}. Give one row per node."
            )
        if arr.shape[1] == 1:
            raise ValueError(
                f"{where}: {label} must be [N] class indices or one-hot [N, C] with "
                f"C >= 2; got shape {arr.shape}, which is ambiguous. Pass "
                "y.reshape(-1) for class indices."
            )
        off = (arr != 0) & (arr != 1)
        if off.any():
            at = _first(off)
            raise ValueError(
                f"{where}: {label} 2-D must be one-hot (entries 0 or 1); got "
                f"{arr[at].item()!r} at node {at[0]}, column {at[1]}. For class "
                "scores or probabilities pass y.argmax(1); for class indices pass "
                "[N]."
            )
        ones = (arr != 0).sum(1)
        if (ones != 1).any():
            i = int(np.flatnonzero(ones != 1)[0])
            raise ValueError(
                f"{where}: {label} one-hot rows must hold exactly one 1; got "
                f"{int(ones[i])} at node {i} ({int((ones != 1).sum())} such rows in "
                "all). "
                "Multi-label or unlabelled rows are not supported: give each node "
                "one class."
            )
        one_hot_classes = int(arr.shape[1])
        y = (arr != 0).argmax(1).astype(np.int64)
    elif arr.ndim == 1:
        if arr.shape[0] != n:
            raise ValueError(
                f"{where}: {label} must have one label per node, [N={n}] (N = rows of "
                f"`x`); got shape {arr.shape}. Check that labels and features "
                "describe the same nodes."
            )
        y = _as_int64(
            where,
            label,
            arr,
            "class indices",
            "If these are scores, pass y.argmax(1) of the [N, C] scores.",
        )
    else:
        raise ValueError(
            f"{where}: {label} must be [N] class indices or one-hot [N, C]; got "
            f"shape {arr.shape}. Pass one class index per node."
        )
    if (y < 0).any():
        i = int(np.flatnonzero(y < 0)[0])
        raise ValueError(
            f"{where}: {label} must hold class indices >= 0; got {int(y[i])} at node "
            f"{i}. Relabel with np.unique(y, return_inverse=True); if -1 marks "
            "unlabelled nodes, give them any class and keep them out of all masks."
        )
    top = int(y.max())
    if num_classes is None:
        return y, one_hot_classes if one_hot_classes is not None else top + 1
    c = check_int(
        where,
        "num_classes",
        num_classes,
        low=1,
        fix="Pass the number of classes, or None to infer it from `y`.",
    )
    if one_hot_classes is not None and c != one_hot_classes:
        raise ValueError(
            f"{where}: `num_classes` must equal the {one_hot_classes} columns of the "
            f"one-hot {label}; got {c}. Pass num_classes={one_hot_classes} or None."
        )
    if top >= c:
        raise ValueError(
            f"{where}: {label} must lie in [0, num_classes={c}); got label {top} at "
            f"node {int(np.flatnonzero(y == top)[0])}. Pass num_classes={top + 1} or "
            "None, or relabel."
        )
    return y, c


def _edges(where: str, label: str, value: Any, n: int, self_loops: str) -> np.ndarray:
    """``edge_index`` as int64 ``[2, E]`` pairs with ids in ``[0, N)``."""
    arr = _to_numpy(where, label, value)
    if arr.ndim != 2 or 2 not in arr.shape:
        hint = (
            " For a dense [N, N] adjacency matrix A pass np.stack(np.nonzero(A))."
            if arr.ndim == 2 and arr.shape[0] == arr.shape[1]
            else ""
        )
        raise ValueError(
            f"{where}: {label} must be an edge list [2, E] or [E, 2]; got shape "
            f"{arr.shape}.{hint} Stack the source and target ids as two rows "
            "(np.stack([src, dst]))."
        )
    if arr.dtype.kind == "b":
        raise TypeError(
            f"{where}: {label} must hold integer node ids; got {describe(arr)}. "
            "For a boolean adjacency matrix A pass np.stack(np.nonzero(A))."
        )
    # [2, E] wins when both dimensions are 2: each column is one pair
    pairs = arr if arr.shape[0] == 2 else arr.T
    pairs = _as_int64(
        where, label, pairs, "node ids", "Cast the ids to integers with .astype(int)."
    )
    if pairs.size:
        lo, hi = int(pairs.min()), int(pairs.max())
        if lo < 0 or hi >= n:
            bad = (pairs < 0) | (pairs >= n)
            k = int(np.flatnonzero(bad.any(0))[0])
            node = int(pairs[:, k][bad[:, k]][0])
            raise ValueError(
                f"{where}: {label} must hold node ids in [0, N={n}) (N = rows of "
                f"`x`); got node {node} in edge {k} ({int(pairs[0, k])}, "
                f"{int(pairs[1, k])}); {int(bad.any(0).sum())} out-of-range edge(s) "
                "in all. Renumber the nodes 0..N-1 (np.unique(edge_index, "
                "return_inverse=True)), or add the missing rows to the features."
            )
        loops = pairs[0] == pairs[1]
        if self_loops == "error" and loops.any():
            k = int(np.flatnonzero(loops)[0])
            raise ValueError(
                f"{where}: {label} must have no self-loops with self_loops='error'; "
                f"got ({pairs[0, k]}, {pairs[0, k]}) in edge {k} ({int(loops.sum())} "
                "in all). Pass self_loops='drop' to remove them."
            )
    return pairs


def _mask(where: str, label: str, value: Any, n: int) -> np.ndarray:
    """A mask as boolean ``[N]`` or ``[N, K]``."""
    arr = _to_numpy(where, label, value)
    if arr.dtype.kind != "b":
        off = (arr != 0) & (arr != 1)
        if off.any():
            got = arr[_first(off)]
            hint = (
                f"It looks like node indices; {_INDEX_FIX}"
                if arr.dtype.kind in "iu"
                else "Threshold or cast it to bool"
            )
            raise ValueError(
                f"{where}: {label} must be a boolean or 0/1 mask; got the value "
                f"{got.item()!r} ({describe(arr)}). {hint}."
            )
        arr = arr != 0
    if arr.ndim == 1:
        if arr.shape[0] != n:
            raise ValueError(
                f"{where}: {label} must have one entry per node, [N={n}] (N = rows of "
                f"`x`), or be [N, K] / [K, N]; got shape {arr.shape}. If it lists "
                f"node indices, {_INDEX_FIX}."
            )
        return np.ascontiguousarray(arr)
    if arr.ndim == 2:
        if arr.shape[0] == n:
            out = arr
        elif arr.shape[1] == n:
            # [K, N]: one row per split
            out = arr.T
        else:
            raise ValueError(
                f"{where}: {label} must be [N={n}], [N, K] or [K, N] (N = rows of "
                f"`x`); got shape {arr.shape}. Check that the masks belong to this "
                "graph."
            )
        if out.shape[1] < 1:
            raise ValueError(
                f"{where}: {label} must hold at least one split; got shape "
                f"{arr.shape}. Pass an [N] mask for a single split."
            )
        return np.ascontiguousarray(out)
    raise ValueError(
        f"{where}: {label} must be [N={n}], [N, K] or [K, N]; got shape {arr.shape}. "
        "Pass one boolean column (or row) per split."
    )
