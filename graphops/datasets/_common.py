"""Helpers shared by the readers and the generators: edge pairs to Graph, seeding."""

from __future__ import annotations

import numpy as np
import torch

from graphops._checks import describe
from graphops.graph import Graph

#: Train / val / test boolean masks, each ``[N]`` or ``[N, S]``.
Masks = tuple[np.ndarray, np.ndarray, np.ndarray]


def graph_from_pairs(pairs: np.ndarray, n: int) -> Graph:
    """Unweighted undirected Graph from ``[2, K]`` pairs in any direction.

    Duplicates and self-loops are allowed: each distinct ``{i, j}``, ``i != j``, gets
    weight one.

    De-duplicating here rather than in :class:`Graph` matters: Graph sums the weights
    of repeated pairs, and benchmark edge files list many edges twice.

    Args:
        pairs: ``[2, K]`` integer node ids.
        n: Number of nodes.

    Returns:
        The graph (its constructor rejects ids outside ``[0, n)``).
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(2, -1)
    a, b = np.minimum(pairs[0], pairs[1]), np.maximum(pairs[0], pairs[1])
    keep = a != b
    # unique columns of the (min, max) pairs: exact for any ids (a key a * n + b
    # overflows int64 for huge n and silently aliases ids >= n from a damaged
    # file); Graph then checks the ids against `n`
    i, j = np.unique(np.stack([a[keep], b[keep]]), axis=1)
    ei = torch.from_numpy(np.stack([np.concatenate([i, j]), np.concatenate([j, i])]))
    return Graph(ei, n)


def numpy_rng(seed: int | torch.Generator, where: str) -> np.random.Generator:
    """One numpy Generator from an int seed or a torch.Generator (which advances).

    Raises:
        TypeError: ``seed`` is neither a non-negative int nor a ``torch.Generator``.
    """
    if isinstance(seed, torch.Generator):
        return np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=seed)))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(
            f"{where}: `seed` must be a non-negative int or a torch.Generator; got "
            f"{describe(seed)}. Pass e.g. seed=0."
        )
    return np.random.default_rng(int(seed))
