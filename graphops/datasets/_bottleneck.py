r"""Bottleneck tasks: node classification that needs information from far away.

Both generators build many independent instances as **one block-diagonal graph**
(instance ``b`` holds nodes ``b * n .. (b + 1) * n - 1``), with one target node per
instance and train / val / test masks on the target nodes only, so every
node-classification model and the ``graphpde`` CLI train on them unchanged. Labels
of non-target nodes are 0 and never used (no mask selects them).

* :func:`neighbors_match` - Alon & Yahav's tree NeighborsMatch ("dictionary
  lookup"): the root of a binary tree of depth ``r`` must return the value stored
  at the leaf whose key it holds. All ``2^r`` leaves' information has to pass the
  root's two edges: over-squashing grows with the problem radius ``r``.
* :func:`ring_of_cliques_task` - a ring of cliques joined by single edges; a target
  node must output the class stored on a source node ``distance`` cliques away, past
  random distractor classes on every other node.
"""

from __future__ import annotations

import numpy as np
import torch

from graphops._checks import check_int, describe
from graphops.datasets._common import graph_from_pairs, numpy_rng
from graphops.datasets._dataset import GraphDataset

__all__ = ["neighbors_match", "ring_of_cliques_task"]

# Largest tree depth: 2^(r+1) - 1 nodes and 2^(r+1) features per tree.
_MAX_DEPTH = 10


def _check_fractions(where: str, fractions: object) -> tuple[float, float, float]:
    if (
        not isinstance(fractions, (tuple, list))
        or len(fractions) != 3
        or any(
            isinstance(q, bool) or not isinstance(q, (int, float)) or not q >= 0
            for q in fractions
        )
        or abs(sum(fractions) - 1.0) > 1e-9
        or not fractions[0] > 0
    ):
        raise ValueError(
            f"{where}: `fractions` must be three non-negative numbers summing to 1 "
            f"(train, val, test) with a positive train fraction; got {fractions!r}. "
            "Pass e.g. (0.8, 0.1, 0.1)."
        )
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def _check_dtype(where: str, dtype: object) -> torch.dtype:
    if dtype is None:
        return torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{where}: `dtype` must be a floating torch.dtype or None; got "
            f"{describe(dtype)}. Pass e.g. torch.float32."
        )
    return dtype


def _instances(
    name: str,
    pairs: np.ndarray,
    n: int,
    x: np.ndarray,
    y: np.ndarray,
    target: int,
    fractions: tuple[float, float, float],
    rng: np.random.Generator,
    dtype: torch.dtype,
    num_classes: int,
) -> GraphDataset:
    """Stack ``B`` instances of one ``n``-node pattern into a block-diagonal dataset.

    ``pairs [2, K]`` is the pattern's edge list, ``x [B, n, F]`` and ``y [B]`` the
    instances' features and target labels, ``target`` the target's local id.
    """
    b = x.shape[0]
    offsets = (np.arange(b) * n)[:, None, None]
    edges = (pairs[None] + offsets).transpose(1, 0, 2).reshape(2, -1)
    graph = graph_from_pairs(edges, b * n)
    roots = np.arange(b) * n + target
    labels = np.zeros(b * n, dtype=np.int64)
    labels[roots] = y
    order = rng.permutation(b)
    n_train = max(1, int(round(fractions[0] * b)))
    n_val = min(int(round(fractions[1] * b)), b - n_train)
    masks = [np.zeros(b * n, dtype=bool) for _ in range(3)]
    masks[0][roots[order[:n_train]]] = True
    masks[1][roots[order[n_train : n_train + n_val]]] = True
    masks[2][roots[order[n_train + n_val :]]] = True
    return GraphDataset(
        name=name,
        graph=graph.to(dtype=dtype),
        x=torch.from_numpy(x.reshape(b * n, -1)).to(dtype),
        y=torch.from_numpy(labels),
        train_mask=torch.from_numpy(masks[0]),
        val_mask=torch.from_numpy(masks[1]),
        test_mask=torch.from_numpy(masks[2]),
        num_classes=num_classes,
    )


def neighbors_match(
    depth: int = 3,
    num_instances: int = 1000,
    seed: int | torch.Generator = 0,
    *,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    dtype: torch.dtype | None = None,
) -> GraphDataset:
    r"""Tree NeighborsMatch (Alon & Yahav 2021), the problem radius as a knob.

    Each instance is a complete binary tree of depth ``r = depth``: ``2^(r+1) - 1``
    nodes numbered in heap order (node ``k`` has children ``2k + 1`` and ``2k + 2``;
    node 0 is the root, nodes ``2^r - 1 ..`` are the ``L = 2^r`` leaves). Leaf
    ``l`` (the ``l``-th leaf from the left) holds the **key** ``l`` and a **value**
    ``v_l``, where ``v`` is a uniformly random permutation of ``0 .. L-1``; the root
    holds one uniformly random key ``s``. The task: classify the root as ``v_s``
    (``L`` classes), the value of the leaf whose key matches the root's, which is
    ``r`` hops away.

    Features (``F = 2L``), as the authors' code encodes the (key, value) pairs:
    a leaf is ``[onehot(l) | onehot(v_l)]``, the root ``[onehot(s) | 0]``, and
    inner nodes are all zero. Masks select roots only (train / val / test by
    ``fractions`` of the instances); the paper reports *training* accuracy, which
    falls with ``r`` for GCN-style aggregation because the ``L`` pairs must be
    squashed into the root's fixed-width state (over-squashing).

    Differences from the authors' ``tasks/dictionary_lookup.py``: their edges point
    child -> parent only (messages flow to the root) with self-loops, while
    graphpde graphs are undirected (messages also flow down, which gives the root
    no extra information); they enumerate every key for each of up to 1000
    permutations, while each instance here draws its permutation and key
    independently (``num_instances`` of them).

    Args:
        depth: Tree depth ``r`` in ``[1, 10]`` (the problem radius).
        num_instances: Number of trees ``B >= 1``.
        seed: Int seed, or a ``torch.Generator`` (which advances).
        fractions: Train / val / test fractions of the instances (summing to 1,
            train positive).
        dtype: Floating dtype of the features (``None``: the default dtype).

    Returns:
        A :class:`GraphDataset` named ``"neighborsmatch"``: ``B (2^(r+1) - 1)`` nodes,
        ``2^r`` classes, ``2^(r+1)`` features, one split (masks ``[N]``).

    Raises:
        TypeError, ValueError: an argument has the wrong type or range.

    Example:
        >>> ds = neighbors_match(depth=2, num_instances=10)
        >>> ds.num_nodes, ds.num_classes, ds.num_features, int(ds.train_mask.sum())
        (70, 4, 8, 8)

    References:
        Alon & Yahav (2021), "On the bottleneck of graph neural networks and its
        practical implications" (ICLR), Section 4.1.
    """
    where = "neighbors_match"
    r = check_int(
        where,
        "depth",
        depth,
        low=1,
        high=_MAX_DEPTH,
        fix="Pass the tree depth (problem radius), e.g. 3.",
    )
    b = check_int(
        where,
        "num_instances",
        num_instances,
        low=1,
        fix="Pass the number of trees, e.g. 1000.",
    )
    fr = _check_fractions(where, fractions)
    dt = _check_dtype(where, dtype)
    rng = numpy_rng(seed, where)
    n_leaves = 2**r
    n = 2 ** (r + 1) - 1
    child = np.arange(1, n)
    pairs = np.stack([(child - 1) // 2, child])
    first_leaf = n_leaves - 1
    values = np.argsort(rng.random((b, n_leaves)), axis=1)  # a permutation per tree
    keys = rng.integers(0, n_leaves, size=b)
    x = np.zeros((b, n, 2 * n_leaves))
    leaf_ids = np.arange(n_leaves)
    x[:, first_leaf + leaf_ids, leaf_ids] = 1.0
    rows = np.arange(b)[:, None]
    x[rows, first_leaf + leaf_ids[None, :], n_leaves + values] = 1.0
    x[np.arange(b), 0, keys] = 1.0
    y = values[np.arange(b), keys]
    return _instances("neighborsmatch", pairs, n, x, y, 0, fr, rng, dt, n_leaves)


def ring_of_cliques_task(
    num_cliques: int = 6,
    clique_size: int = 5,
    distance: int | None = None,
    num_classes: int = 5,
    num_instances: int = 200,
    seed: int | torch.Generator = 0,
    *,
    distractors: bool = True,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    dtype: torch.dtype | None = None,
) -> GraphDataset:
    r"""Long-range label transfer on a ring of cliques; the distance is a knob.

    Each instance is :func:`~graphops.datasets.ring_of_cliques` with ``K =
    num_cliques`` cliques of ``s = clique_size`` nodes (clique ``k`` holds nodes
    ``k s .. k s + s - 1``; its node ``k s + 1`` is joined to node ``(k + 1) s``
    of the next clique). The **source** is node 2 of clique 0 and the **target**
    node 2 of clique ``m = distance``; neither touches a ring edge, and the
    shortest path between them crosses ``m`` ring edges (the bottlenecks) and has

    .. math:: d = 2 \min(m, K - m) + 1

    hops. The source holds a uniformly random class ``c``; the target must output
    ``c``. Features (``F = C + 2``): ``[onehot(class) | is_source | is_target]``;
    with ``distractors=True`` every other node holds a uniformly random class
    one-hot too (without a flag), so the source's class must be told apart by its
    flag and carried through the ring edges along with every distractor's.
    Masks select targets only.

    Args:
        num_cliques: Number of cliques ``K >= 2``.
        clique_size: Nodes per clique ``s >= 3`` (the source and target are node 2
            of their clique).
        distance: ``m`` in ``[1, K // 2]``, cliques between source and target
            (``None``: ``K // 2``, the far side of the ring).
        num_classes: Number of classes ``C >= 2``.
        num_instances: Number of rings ``B >= 1``.
        seed: Int seed, or a ``torch.Generator`` (which advances).
        distractors: Random classes on the other nodes (see above).
        fractions: Train / val / test fractions of the instances.
        dtype: Floating dtype of the features (``None``: the default dtype).

    Returns:
        A :class:`GraphDataset` named ``"ringcliques"``: ``B K s`` nodes, ``C``
        classes, ``C + 2`` features, one split (masks ``[N]``).

    Raises:
        TypeError, ValueError: an argument has the wrong type or range.

    Example:
        >>> ds = ring_of_cliques_task(4, 3, distance=2, num_instances=5)
        >>> ds.num_nodes, ds.num_features, ds.x[2, -2].item(), ds.x[8, -1].item()
        (60, 7, 1.0, 1.0)
    """
    where = "ring_of_cliques_task"
    k = check_int(
        where, "num_cliques", num_cliques, low=2, fix="Pass at least 2 cliques."
    )
    s = check_int(
        where,
        "clique_size",
        clique_size,
        low=3,
        fix="Pass at least 3 nodes per clique (node 2 holds the source / target).",
    )
    if distance is None:
        m = k // 2
    else:
        m = check_int(
            where,
            "distance",
            distance,
            low=1,
            high=k // 2,
            fix=f"Pass a number of cliques in [1, num_cliques // 2 = {k // 2}].",
        )
    c = check_int(where, "num_classes", num_classes, low=2, fix="Pass e.g. 5.")
    b = check_int(
        where, "num_instances", num_instances, low=1, fix="Pass e.g. 200."
    )
    if not isinstance(distractors, bool):
        raise TypeError(
            f"{where}: `distractors` must be a bool; got {describe(distractors)}."
        )
    fr = _check_fractions(where, fractions)
    dt = _check_dtype(where, dtype)
    rng = numpy_rng(seed, where)
    a, bb = np.triu_indices(s, 1)
    offsets = (np.arange(k) * s)[:, None]
    within = np.stack([(a + offsets).ravel(), (bb + offsets).ravel()])
    ring = np.stack([np.arange(k) * s + 1, ((np.arange(k) + 1) * s) % (k * s)])
    pairs = np.concatenate([within, ring], axis=1)
    n = k * s
    source, target = 2, m * s + 2
    y = rng.integers(0, c, size=b)
    x = np.zeros((b, n, c + 2))
    if distractors:
        noise = rng.integers(0, c, size=(b, n))
        x[np.arange(b)[:, None], np.arange(n)[None, :], noise] = 1.0
        x[:, target, :c] = 0.0
    x[:, source, :c] = 0.0
    x[np.arange(b), source, y] = 1.0
    x[:, source, c] = 1.0
    x[:, target, c + 1] = 1.0
    return _instances("ringcliques", pairs, n, x, y, target, fr, rng, dt, c)
