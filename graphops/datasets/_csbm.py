"""The contextual stochastic block model (CSBM), a dataset with a homophily knob."""

from __future__ import annotations

import math

import numpy as np
import torch

from graphops._checks import check_int, check_real, describe
from graphops.datasets._common import graph_from_pairs, numpy_rng
from graphops.datasets._dataset import GraphDataset

__all__ = ["csbm"]


def _triangle_pairs(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair ``(i, j)``, ``i < j``, of index ``t`` in ``[0, m (m - 1) / 2)``.

    Pairs are ordered (0, 1), (0, 2), (1, 2), (0, 3), ... (column by column).
    """
    j = np.floor((1 + np.sqrt(1 + 8 * t.astype(np.float64))) / 2).astype(np.int64)
    # Guard the float square root against off-by-one for large t.
    j = np.where(j * (j - 1) // 2 > t, j - 1, j)
    j = np.where((j + 1) * j // 2 <= t, j + 1, j)
    return t - j * (j - 1) // 2, j


def csbm(
    num_nodes: int,
    num_classes: int = 2,
    homophily: float = 0.8,
    num_features: int = 16,
    mean_degree: float = 5.0,
    feature_signal: float = 1.0,
    seed: int | torch.Generator = 0,
    *,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    dtype: torch.dtype | None = None,
) -> GraphDataset:
    r"""Contextual stochastic block model with a homophily knob.

    Labels are balanced (class sizes differ by at most one) and randomly placed.
    Each pair ``{i, j}`` is an edge independently with probability ``p_in`` if
    ``y_i = y_j`` and ``p_out`` otherwise, chosen so that the expected number of
    edges is ``num_nodes * mean_degree / 2`` and the expected fraction of
    same-label edges (the :func:`edge_homophily`) is ``homophily``:

    .. math:: p_\text{in} = h M / P_\text{in}, \qquad
              p_\text{out} = (1 - h) M / P_\text{out}

    with ``M = N d / 2`` and ``P_in``, ``P_out`` the numbers of same-label and
    cross-label node pairs. Features are Gaussian around class means:
    ``x_i = feature_signal * mu_{y_i} + eps_i`` with unit-norm random ``mu_c`` and
    ``eps_i ~ N(0, I / num_features)`` (so ``|eps_i|`` is about 1 and
    ``feature_signal`` is a signal-to-noise ratio; 0 gives pure noise). One random
    train/val/test split (masks ``[N]``) with the given ``fractions``.

    Args:
        num_nodes: Number of nodes ``N``, ``>= 2 * num_classes``.
        num_classes: Number of classes ``C``, ``>= 2``.
        homophily: Expected edge homophily ``h`` in ``[0, 1]``.
        num_features: Feature dimension ``F``, ``>= 1``.
        mean_degree: Expected mean degree ``d > 0``.
        feature_signal: Scale of the class means, ``>= 0``.
        seed: Int seed, or a ``torch.Generator`` (which advances).
        fractions: Train / val / test fractions (non-negative, summing to 1).
        dtype: Floating dtype of the features; ``None`` is the default dtype.

    Returns:
        A :class:`GraphDataset` named ``"csbm"``.

    Raises:
        TypeError, ValueError: an argument has the wrong type or range, or
            ``mean_degree`` is too large for ``num_nodes`` (a probability above 1).

    References:
        Deshpande et al. (2018).
    """
    where = "csbm"
    n = check_int(where, "num_nodes", num_nodes, low=2, fix="Pass the number of nodes.")
    c = check_int(
        where, "num_classes", num_classes, low=2, fix="Pass at least 2 classes."
    )
    if n < 2 * c:
        raise ValueError(
            f"{where}: `num_nodes` must be >= 2 * num_classes = {2 * c} (two nodes per "
            f"class); got {n}. Pass more nodes or fewer classes."
        )
    h = check_real(
        where,
        "homophily",
        homophily,
        low=0.0,
        high=1.0,
        fix="Pass a fraction such as 0.8.",
    )
    f = check_int(
        where,
        "num_features",
        num_features,
        low=1,
        fix="Pass a feature dimension such as 16.",
    )
    d = check_real(
        where,
        "mean_degree",
        mean_degree,
        low=0.0,
        low_open=True,
        high_open=True,
        fix="Pass a positive mean degree.",
    )
    signal = check_real(
        where,
        "feature_signal",
        feature_signal,
        low=0.0,
        high_open=True,
        fix="Pass a non-negative scale.",
    )
    if (
        not isinstance(fractions, (tuple, list))
        or len(fractions) != 3
        or any(
            isinstance(q, bool) or not isinstance(q, (int, float)) or not q >= 0
            for q in fractions
        )
        or abs(sum(fractions) - 1.0) > 1e-9
    ):
        raise ValueError(
            f"{where}: `fractions` must be three non-negative numbers summing to 1 "
            f"(train, val, test); got {fractions!r}. Pass e.g. (0.6, 0.2, 0.2)."
        )
    if dtype is None:
        dtype = torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"{where}: `dtype` must be a floating torch.dtype or None; got "
            f"{describe(dtype)}. Pass e.g. torch.float32."
        )
    rng = numpy_rng(seed, where)

    y = rng.permutation(np.arange(n) % c)
    members = [np.flatnonzero(y == k) for k in range(c)]
    sizes = np.array([m.size for m in members], dtype=np.int64)
    pairs_in = int((sizes * (sizes - 1) // 2).sum())
    pairs_out = n * (n - 1) // 2 - pairs_in
    m_target = n * d / 2
    p_in, p_out = h * m_target / pairs_in, (1 - h) * m_target / pairs_out
    if p_in > 1 or p_out > 1:
        raise ValueError(
            f"{where}: `mean_degree` must be small enough for edge probabilities <= 1; "
            f"got mean_degree={d:g} with num_nodes={n}, homophily={h:g} "
            f"(p_in={p_in:.3g}, "
            f"p_out={p_out:.3g}). Pass a smaller mean_degree or more nodes."
        )
    blocks: list[np.ndarray] = []
    for a in range(c):
        ma = members[a]
        count = rng.binomial(ma.size * (ma.size - 1) // 2, p_in)
        i, j = _triangle_pairs(
            rng.choice(ma.size * (ma.size - 1) // 2, size=count, replace=False)
        )
        blocks.append(np.stack([ma[i], ma[j]]))
        for b in range(a + 1, c):
            mb = members[b]
            count = rng.binomial(ma.size * mb.size, p_out)
            t = rng.choice(ma.size * mb.size, size=count, replace=False)
            blocks.append(np.stack([ma[t // mb.size], mb[t % mb.size]]))
    graph = graph_from_pairs(np.concatenate(blocks, axis=1), n)

    means = rng.standard_normal((c, f))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = signal * means[y] + rng.standard_normal((n, f)) / math.sqrt(f)

    order = rng.permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = min(int(round(fractions[1] * n)), n - n_train)
    masks = [np.zeros(n, dtype=bool) for _ in range(3)]
    masks[0][order[:n_train]] = True
    masks[1][order[n_train : n_train + n_val]] = True
    masks[2][order[n_train + n_val :]] = True
    return GraphDataset(
        name="csbm",
        graph=graph.to(dtype=dtype),
        x=torch.from_numpy(x).to(dtype),
        y=torch.from_numpy(y.astype(np.int64)),
        train_mask=torch.from_numpy(masks[0]),
        val_mask=torch.from_numpy(masks[1]),
        test_mask=torch.from_numpy(masks[2]),
        num_classes=c,
    )
