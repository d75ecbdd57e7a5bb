r"""Run folders: atomic files, resumable checkpoints and the random-number state.

Layout of a run folder::

    config.json          the resolved RunConfig
    summary.json         protocol, per-run results, mean +- std (when finished)
    summary.md           the same for people
    learning_curves.png  losses and accuracies per epoch (every run)
    energy.png           Dirichlet energy along the integration time (best model)
    runs/split<i>-seed<k>/
        metrics.json     per-epoch metrics
        checkpoint.pt    resumable state (model, optimiser, scheduler, RNG, loop)
        best.pt          the selected model's weights
        result.json      written last: the run is finished

Every file is written to a temporary file in the same directory and renamed over
the target (:func:`atomic_write`), so a kill at any moment leaves either the old
or the new complete file, never a half-written one. ``result.json`` is written
only after ``best.pt`` and the final ``metrics.json``, so a run with a
``result.json`` is complete.
"""

from __future__ import annotations

import io
import json
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "atomic_write",
    "get_rng_state",
    "load_checkpoint",
    "read_json",
    "save_torch",
    "set_rng_state",
    "write_json",
]


def atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` through ``write(file)`` to a temporary file, then rename.

    The temporary file lives in the target's directory (so the rename is atomic
    on POSIX and Windows), is flushed and fsync'ed before the rename, and is
    removed if ``write`` raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: Path, data: Any) -> None:
    """Atomically write ``data`` as indented JSON."""
    text = json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def save_torch(path: Path, obj: Any) -> None:
    """Atomically ``torch.save`` ``obj``."""
    atomic_write(path, lambda f: torch.save(obj, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_torch` (weights-only unpickling).

    Raises:
        RuntimeError: the file is not a readable checkpoint (with the path).
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RuntimeError(
            f"load_checkpoint: `{path}` must be a checkpoint written by graphpde; "
            f"got an unreadable file ({type(exc).__name__}: {exc}). Delete it to "
            "restart that run from scratch."
        ) from exc


def get_rng_state() -> dict[str, Any]:
    """Every random-number state a run consumes: torch (CPU, CUDA), numpy, random.

    The numpy and Python states are stored as tensors/lists of ints so that the
    checkpoint loads with ``weights_only=True``.
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": _python_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` captured."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (
            n["kind"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["gauss"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    raise TypeError(f"write_json: cannot serialise {type(obj).__name__}")
