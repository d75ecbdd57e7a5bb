"""Reader of the Geom-GCN raw files: edge list, node features and labels, splits.

Imported by :func:`graphops.datasets.load` only when such files are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from graphops._checks import describe
from graphops.datasets._common import Masks
from graphops.datasets._registry import corrupt_file_error as _corrupt

__all__ = ["read_geom_gcn_edges", "read_geom_gcn_nodes", "read_geom_gcn_splits"]


def _read_lines(path: Path, expected: str) -> list[str]:
    """The lines after the ``node_id`` header of a Geom-GCN text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise _corrupt(path, expected, f"non-text bytes at offset {err.start}") from err
    lines = text.splitlines()
    if len(lines) < 2:
        raise _corrupt(path, expected, f"{len(lines)} line(s)")
    if not lines[0].startswith("node_id"):
        raise _corrupt(path, expected, f"the header {lines[0][:40]!r}")
    return lines[1:]


def read_geom_gcn_edges(path: Path, *, num_nodes: int, node_file: Path) -> np.ndarray:
    """Raw node pairs ``[2, K]`` of ``out1_graph_edges.txt`` (as listed, any order).

    ``node_file`` is only named in the error when an id is outside ``[0, num_nodes)``.

    Raises:
        ValueError: the file is not a header plus ``src<TAB>dst`` lines, or an id is
            out of range.
    """
    expected = "a header line, then one 'src<TAB>dst' pair of node ids per line"
    lines = _read_lines(path, expected)
    tokens = "\t".join(lines).split("\t")
    try:
        if len(tokens) != 2 * len(lines):
            raise ValueError("wrong number of fields")
        pairs = np.array(tokens, dtype=np.int64).reshape(-1, 2).T
    except ValueError:
        # Slow path only on failure: find the first bad line for the message.
        for k, line in enumerate(lines, 2):
            fields = line.split("\t")
            if len(fields) != 2 or not all(f.strip().isdigit() for f in fields):
                raise _corrupt(path, expected, f"{line[:40]!r} on line {k}") from None
        raise  # pragma: no cover - the loop always finds the line
    if pairs.size and (int(pairs.min()) < 0 or int(pairs.max()) >= num_nodes):
        raise ValueError(
            f"load: {path} must use node ids in [0, {num_nodes}) ({node_file} lists "
            f"{num_nodes} nodes); got ids in [{int(pairs.min())}, {int(pairs.max())}]. "
            "One of the two files is truncated or corrupt: delete both and re-run with "
            "download=True."
        )
    return pairs


def _parse_dense_01(field: str) -> np.ndarray | None:
    """Fast path for ``"0,1,0,..."``: single-digit values separated by commas."""
    raw = np.frombuffer(field.encode("ascii", errors="replace"), dtype=np.uint8)
    if raw.size % 2 == 0 or np.any(raw[1::2] != ord(",")):
        return None
    digits = raw[::2] - ord("0")
    if np.any(digits > 1):
        return None
    return digits.astype(np.float32)


def read_geom_gcn_nodes(path: Path, *, film: bool) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, F]`` (float32) and labels ``[N]`` of ``out1_node_feature_label``.

    ``film=True`` reads Actor's format, where the middle field lists the indices of
    the non-zero (binary) features instead of a dense 0/1 row.

    Raises:
        ValueError: a malformed line, missing or repeated node ids, a negative label
            or feature index, or rows of different widths.
    """
    if film:
        expected = (
            "a header line, then 'id<TAB>feature indices (comma list)<TAB>label' "
            "per line"
        )
    else:
        expected = (
            "a header line, then 'id<TAB>comma list of 0/1 features<TAB>label' per line"
        )
    lines = _read_lines(path, expected)
    n = len(lines)
    ids = np.empty(n, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    rows: list[np.ndarray] = []
    for k, line in enumerate(lines):
        fields = line.split("\t")
        try:
            if len(fields) != 3:
                raise ValueError(f"{len(fields)} tab-separated fields")
            ids[k], labels[k] = int(fields[0]), int(fields[2])
            if film:
                row = np.array(fields[1].split(","), dtype=np.int64)
            else:
                row = _parse_dense_01(fields[1])
                if row is None:
                    row = np.array(fields[1].split(","), dtype=np.float32)
        except ValueError as err:
            raise _corrupt(
                path, expected, f"{line[:40]!r} on line {k + 2} ({err})"
            ) from None
        rows.append(row)
    if not np.array_equal(np.sort(ids), np.arange(n)):
        raise _corrupt(
            path,
            f"node ids 0..{n - 1}, each once ({n} node lines)",
            "missing or repeated ids",
        )
    if labels.min() < 0:
        raise _corrupt(path, "non-negative labels", f"label {int(labels.min())}")
    if film:
        lengths = np.array([r.size for r in rows])
        cols = np.concatenate(rows)
        if cols.size and cols.min() < 0:
            raise _corrupt(
                path, "non-negative feature indices", f"index {int(cols.min())}"
            )
        num_features = int(cols.max()) + 1 if cols.size else 0
        x = np.zeros((n, num_features), dtype=np.float32)
        x[np.repeat(ids, lengths), cols] = 1.0
    else:
        widths = np.array([r.size for r in rows])
        width = int(
            np.bincount(widths).argmax()
        )  # the usual width; report the odd line
        if np.any(widths != width):
            k = int(np.flatnonzero(widths != width)[0])
            raise _corrupt(
                path, f"{width} features on every line", f"{widths[k]} on line {k + 2}"
            )
        x = np.empty((n, width), dtype=np.float32)
        x[ids] = np.stack(rows)
    y = np.empty(n, dtype=np.int64)
    y[ids] = labels
    return x, y


def read_geom_gcn_splits(paths: list[Path], n: int) -> Masks:
    """Train / val / test masks ``[n, len(paths)]``, one column per split file.

    Raises:
        ValueError: a file is not an npz of three disjoint 0/1 arrays of shape
            ``(n,)``.
    """
    expected = (
        f"an npz file with 0/1 arrays train_mask, val_mask, test_mask of shape ({n},)"
    )
    cols: dict[str, list[np.ndarray]] = {
        "train_mask": [],
        "val_mask": [],
        "test_mask": [],
    }
    for path in paths:
        try:
            with np.load(path) as z:
                absent = [key for key in cols if key not in getattr(z, "files", ())]
                arrays = {} if absent else {key: np.asarray(z[key]) for key in cols}
        except Exception as err:  # noqa: BLE001 - zip/npy/zlib errors on bad bytes
            raise _corrupt(path, expected, f"{type(err).__name__}: {err}") from err
        if absent:
            raise _corrupt(path, expected, f"no array named {', '.join(absent)}")
        for key, a in arrays.items():
            if a.shape != (n,) or not (a.dtype == bool or np.isin(a, (0, 1)).all()):
                raise _corrupt(path, expected, f"{key} as {describe(a)}")
            cols[key].append(a.astype(bool))
        t, v, s = (cols[key][-1] for key in cols)
        if (t & v).any() or (t & s).any() or (v & s).any():
            raise _corrupt(path, "disjoint train/val/test masks", "overlapping masks")
    train, val, test = (np.stack(cols[key], axis=1) for key in cols)
    return train, val, test
