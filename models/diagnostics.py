r"""Over-squashing diagnostics: how strongly output ``i`` depends on input ``j``.

A message-passing network (or any explicit graph-PDE solve) of depth ``k`` mixes
information only along paths of at most ``k`` edges, and what reaches node ``i``
from a node ``j`` at distance ``r`` has to squeeze through the edges in between.
The **Jacobian sensitivity** (Alon & Yahav 2021; Topping et al. 2022)

.. math:: S_{ij} = \sum_{c, f} \Big| \frac{\partial y_{ic}}{\partial x_{jf}} \Big|
    \quad (\texttt{reduce="sum"}) \qquad\text{or}\qquad
    S_{ij} = \Big\| \frac{\partial y_i}{\partial x_j} \Big\|_F
    \quad (\texttt{reduce="norm"})

of the output ``y = model(x, graph)`` (``[N, C]``) with respect to the input
features ``x`` (``[N, F]``) measures it, and its decay with the shortest-path
distance ``d(i, j)`` is the over-squashing picture: for a diffusion (GCN) the
sensitivity to far nodes falls off quickly, exponentially on graphs whose
receptive field grows fast.

:func:`jacobian_sensitivity` computes the ``[T, S]`` block for target nodes ``i``
and source nodes ``j``: one reverse-mode pass per ``(target, output feature)``,
batched with ``torch.autograd.grad(..., is_grads_batched=True)`` (a vmap over the
backward pass), so ``T C / batch_size`` batched passes in all, each giving the
sensitivity to *every* source at once. :func:`sensitivity_by_distance` groups
these by hop distance (:func:`graphops.hop_distances`) and, on a large graph,
measures a random sample of target nodes (every pair ``(i, j)`` with a sampled
``i``: sampling sources would save no backward pass).

The measurement is made with the model in ``eval()`` mode (dropout off, so the
Jacobian is that of the deterministic network); each submodule's previous mode is
restored afterwards. It works for any callable ``model(x, graph) -> [N, C]``:
every :mod:`models` family, or a plain function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from graphops import Graph, hop_distances
from graphops._checks import check_int, describe

__all__ = [
    "SensitivityProfile",
    "jacobian_sensitivity",
    "sensitivity_by_distance",
]

_REDUCE = ("sum", "norm")


def _node_ids(where: str, name: str, nodes: Any, n: int) -> Tensor:
    """``nodes`` as 1-D int64 node ids in ``[0, n)`` (``None``: all)."""
    if nodes is None:
        return torch.arange(n)
    if isinstance(nodes, bool):
        t = None
    elif isinstance(nodes, Tensor):
        t = nodes
    elif isinstance(nodes, int):
        t = torch.tensor([nodes])
    elif isinstance(nodes, Sequence):
        try:
            t = torch.as_tensor(list(nodes), dtype=torch.int64)
        except (TypeError, ValueError, RuntimeError):
            t = None
    else:
        t = None
    if t is None or t.dtype.is_floating_point or t.dtype == torch.bool or t.dim() > 1:
        raise TypeError(
            f"{where}: `{name}` must be None, an int, a sequence of ints or a 1-D "
            f"integer tensor; got {describe(nodes)}. Pass node ids such as [0, 5]."
        )
    t = t.reshape(-1).to(torch.int64).cpu()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n):
        bad = int(t[(t < 0) | (t >= n)][0])
        raise ValueError(
            f"{where}: `{name}` must hold node ids in [0, {n}); got {bad}. "
            "Pass ids of nodes of this graph."
        )
    return t


def _check_inputs(where: str, model: Any, x: Any, graph: Any, reduce: str) -> None:
    if not callable(model):
        raise TypeError(
            f"{where}: `model` must be callable as model(x, graph); got "
            f"{describe(model)}. Pass a models family or a function."
        )
    if not isinstance(graph, Graph):
        raise TypeError(
            f"{where}: `graph` must be a graphops Graph; got {describe(graph)}. "
            "Build one with Graph(edge_index, num_nodes)."
        )
    if not isinstance(x, Tensor) or not x.is_floating_point() or x.dim() != 2:
        raise TypeError(
            f"{where}: `x` must be a floating tensor [N, F]; got {describe(x)}. "
            "Pass the node features, e.g. dataset.x."
        )
    if x.shape[0] != graph.num_nodes:
        raise ValueError(
            f"{where}: `x` must have one row per node, [N={graph.num_nodes}, F]; got "
            f"{tuple(x.shape)}. Pass the features of this graph."
        )
    if reduce not in _REDUCE:
        raise ValueError(
            f"{where}: `reduce` must be one of {_REDUCE}; got {reduce!r}. Use 'sum' "
            "(entrywise L1 of each Jacobian block) or 'norm' (its Frobenius norm)."
        )


class _EvalMode:
    """Context: every submodule in ``eval()`` mode, previous modes restored on exit."""

    def __init__(self, model: Any) -> None:
        self.modules = list(model.modules()) if isinstance(model, nn.Module) else []
        self.modes: list[bool] = []

    def __enter__(self) -> None:
        self.modes = [m.training for m in self.modules]
        for m in self.modules:
            m.training = False

    def __exit__(self, *exc: object) -> None:
        for m, mode in zip(self.modules, self.modes, strict=True):
            m.training = mode


def jacobian_sensitivity(
    model: Callable[[Tensor, Graph], Tensor],
    x: Tensor,
    graph: Graph,
    *,
    targets: int | Sequence[int] | Tensor | None = None,
    sources: int | Sequence[int] | Tensor | None = None,
    reduce: str = "sum",
    batch_size: int = 64,
) -> Tensor:
    r"""The Jacobian sensitivity ``S[i, j]`` of ``model(x, graph)`` (see the module).

    ``reduce="sum"``: :math:`S_{ij} = \sum_{c,f} |\partial y_{ic} / \partial
    x_{jf}|`, the entrywise L1 norm of the ``C x F`` Jacobian block (for a linear
    propagation ``y = P x`` it is ``F |P_ij|``); ``reduce="norm"``: its Frobenius
    norm (``sqrt(F) |P_ij|`` for ``y = P x``). One backward pass per ``(target,
    output feature)``, ``batch_size`` of them batched into one vmapped pass
    (``torch.autograd.grad(..., is_grads_batched=True)``); a model whose backward
    cannot be vmapped falls back to one pass at a time (same values, slower). The
    model runs in ``eval()`` mode and its modes are restored (see the module).

    Args:
        model: Any callable ``model(x, graph) -> y`` with ``y`` of shape ``[N, C]``.
        x: Node features ``[N, F]`` (floating); not modified.
        graph: The graph on ``N`` nodes.
        targets: Output nodes ``i`` (rows): ``None`` (all), an int, a sequence or
            a 1-D integer tensor.
        sources: Input nodes ``j`` (columns), same forms.
        reduce: ``"sum"`` or ``"norm"``, see above.
        batch_size: Backward passes batched together, ``>= 1`` (memory
            ``batch_size x N x F``).

    Returns:
        ``[T, S]`` non-negative sensitivities, in ``x``'s dtype and on its device.

    Raises:
        TypeError: ``model`` not callable, ``graph`` not a Graph, ``x`` not a
            floating ``[N, F]`` tensor, node ids not integers, a non-int
            ``batch_size``.
        ValueError: ``x`` with the wrong number of rows, node ids out of range,
            an unknown ``reduce``, ``batch_size < 1``, or a model output that is
            not ``[N, C]``.

    Shapes:
        ``x [N, F]``, ``model(x, graph) [N, C]`` -> ``[T, S]``.

    Example:
        >>> from graphops import Adjacency
        >>> from graphops.datasets import path_graph
        >>> g = path_graph(4)
        >>> two_hops = lambda x, graph: Adjacency(graph) @ (Adjacency(graph) @ x)
        >>> jacobian_sensitivity(two_hops, torch.ones(4, 1), g)  # = A^2
        tensor([[1., 0., 1., 0.],
                [0., 2., 0., 1.],
                [1., 0., 2., 0.],
                [0., 1., 0., 1.]])

    References:
        Alon & Yahav (2021); Topping et al. (2022).
    """
    where = "jacobian_sensitivity"
    _check_inputs(where, model, x, graph, reduce)
    n = graph.num_nodes
    tgt = _node_ids(where, "targets", targets, n)
    src = _node_ids(where, "sources", sources, n)
    bs = check_int(where, "batch_size", batch_size, low=1, fix="Pass e.g. 64.")
    xg = x.detach().clone().requires_grad_(True)
    with _EvalMode(model), torch.enable_grad():
        y = model(xg, graph)
        if not isinstance(y, Tensor) or y.dim() != 2 or y.shape[0] != n:
            raise ValueError(
                f"{where}: `model(x, graph)` must return a tensor [N={n}, C]; got "
                f"{describe(y)}. Wrap the model so it returns node outputs."
            )
        c = y.shape[1]
        # rows of the batched backward: (target k, output feature q), k-major
        k_of = torch.arange(tgt.numel()).repeat_interleave(c)
        q_of = torch.arange(c).repeat(tgt.numel())
        out = torch.zeros(tgt.numel(), src.numel(), dtype=x.dtype, device=x.device)
        src_dev = src.to(x.device)
        for start in range(0, k_of.numel(), bs):
            ks, qs = k_of[start : start + bs], q_of[start : start + bs]
            grads = _batched_grad(y, xg, tgt[ks], qs)[:, src_dev]  # [B, S, F]
            part = grads.abs().sum(2) if reduce == "sum" else grads.square().sum(2)
            out.index_add_(0, ks.to(x.device), part)
    return out if reduce == "sum" else out.sqrt()


def _batched_grad(y: Tensor, x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``d y[rows[b], cols[b]] / d x`` for every ``b``: ``[B, N, F]``."""
    b = rows.numel()
    seeds = torch.zeros(b, *y.shape, dtype=y.dtype, device=y.device)
    seeds[torch.arange(b), rows.to(y.device), cols.to(y.device)] = 1.0
    try:
        (g,) = torch.autograd.grad(
            y, x, seeds, retain_graph=True, is_grads_batched=True, allow_unused=True
        )
    except (RuntimeError, NotImplementedError):
        # a custom autograd Function without a vmap rule: one pass per row
        g = torch.stack(
            [
                _grad_or_zero(
                    torch.autograd.grad(y, x, s, retain_graph=True, allow_unused=True),
                    x,
                )
                for s in seeds
            ]
        )
        return g
    return torch.zeros(b, *x.shape, dtype=x.dtype, device=x.device) if g is None else g


def _grad_or_zero(grads: tuple[Tensor | None, ...], x: Tensor) -> Tensor:
    return torch.zeros_like(x) if grads[0] is None else grads[0]


@dataclass(frozen=True)
class SensitivityProfile:
    """Jacobian sensitivity grouped by shortest-path distance.

    Attributes:
        distance: Hop distances ``r = 0 .. R`` (int64 ``[R + 1]``).
        mean: Mean sensitivity over the measured pairs at distance ``r``
            (``nan`` where there is no pair).
        max: Largest sensitivity at distance ``r`` (``nan`` where no pair).
        count: Number of measured pairs ``(i, j)`` at distance ``r``.
        targets: The target nodes measured (sampled or given).
        reduce: ``"sum"`` or ``"norm"`` (see :func:`jacobian_sensitivity`).
        normalized: Whether each target's row was divided by its total first.
    """

    distance: Tensor
    mean: Tensor
    max: Tensor
    count: Tensor
    targets: Tensor
    reduce: str
    normalized: bool

    def __repr__(self) -> str:
        """One line per distance: ``r``, pair count, mean and max."""
        rows = [
            f"  r={int(r):<3d} pairs={int(n):<7d} mean={float(m):.4g} "
            f"max={float(x):.4g}"
            for r, n, m, x in zip(
                self.distance, self.count, self.mean, self.max, strict=True
            )
        ]
        head = (
            f"SensitivityProfile(reduce={self.reduce!r}, normalized={self.normalized},"
            f" targets={self.targets.numel()})"
        )
        return "\n".join([head, *rows])

    def plot(self, ax: Any = None, label: str | None = None, **kwargs: Any) -> Any:
        """Mean sensitivity against distance on a log scale (matplotlib, lazily).

        Distances without pairs, and distances where the mean is exactly zero
        (beyond the model's reach: a ``k``-layer message-passing model does not
        see past ``k`` hops), are left out: a log axis cannot show zero.

        Args:
            ax: A matplotlib axes (``None``: a new figure).
            label: Legend label of the curve.
            **kwargs: Passed to ``ax.semilogy``.

        Returns:
            The axes.
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 3.5))
        keep = (self.count > 0) & (self.mean > 0)
        ax.semilogy(
            self.distance[keep].numpy(),
            self.mean[keep].numpy(),
            marker="o",
            label=label,
            **kwargs,
        )
        ax.set_xlabel("shortest-path distance d(i, j)")
        what = "normalised " if self.normalized else ""
        ax.set_ylabel(f"mean {what}|dy_i / dx_j|")
        if label is not None:
            ax.legend()
        return ax


def sensitivity_by_distance(
    model: Callable[[Tensor, Graph], Tensor],
    x: Tensor,
    graph: Graph,
    *,
    targets: int | Sequence[int] | Tensor | None = None,
    num_targets: int | None = None,
    max_distance: int | None = None,
    normalize: bool = False,
    reduce: str = "sum",
    seed: int = 0,
    batch_size: int = 64,
) -> SensitivityProfile:
    r"""Mean and max Jacobian sensitivity as a function of hop distance.

    Computes :func:`jacobian_sensitivity` for the target nodes against every node
    ``j`` and groups the pairs ``(i, j)`` by ``d(i, j)``
    (:func:`graphops.hop_distances`). Pairs in different components (no path:
    the sensitivity of a message-passing model is exactly zero there) and pairs
    beyond ``max_distance`` are left out. On a large graph pass ``num_targets``:
    that many targets are drawn uniformly without replacement (seeded), and every
    pair with a drawn target is measured, an unbiased sample of the pairs.

    Args:
        model: Any callable ``model(x, graph) -> [N, C]``.
        x: Node features ``[N, F]``.
        graph: The graph.
        targets: Candidate target nodes (``None``: all).
        num_targets: Draw this many of the candidates (``None``: use them all).
        max_distance: Largest distance reported (``None``: the largest found).
        normalize: Divide each target's sensitivities by their sum over all nodes
            first (:math:`S_{ij} / \sum_k S_{ik}`), so models of different scale
            compare: the share of ``i``'s input-dependence held by nodes at
            distance ``r``.
        reduce: ``"sum"`` or ``"norm"`` (see :func:`jacobian_sensitivity`).
        seed: Seed of the target draw.
        batch_size: As in :func:`jacobian_sensitivity`.

    Returns:
        A :class:`SensitivityProfile` (CPU float64 statistics).

    Raises:
        TypeError, ValueError: as :func:`jacobian_sensitivity`; also a bad
            ``num_targets``, ``max_distance`` or ``seed``.

    Example:
        >>> from graphops import Adjacency
        >>> from graphops.datasets import path_graph
        >>> one_hop = lambda x, graph: Adjacency(graph) @ x
        >>> p = sensitivity_by_distance(one_hop, torch.ones(5, 1), path_graph(5))
        >>> p.distance.tolist(), p.mean.tolist(), p.count.tolist()
        ([0, 1, 2, 3, 4], [0.0, 1.0, 0.0, 0.0, 0.0], [5, 8, 6, 4, 2])
    """
    where = "sensitivity_by_distance"
    _check_inputs(where, model, x, graph, reduce)
    n = graph.num_nodes
    cand = _node_ids(where, "targets", targets, n)
    if num_targets is not None:
        m = check_int(
            where, "num_targets", num_targets, low=1, fix="Pass e.g. 64 or None."
        )
        s = check_int(where, "seed", seed, low=0, fix="Pass e.g. seed=0.")
        if m < cand.numel():
            gen = torch.Generator().manual_seed(s)
            cand = cand[torch.randperm(cand.numel(), generator=gen)[:m]].sort().values
    if max_distance is not None:
        max_distance = check_int(
            where, "max_distance", max_distance, low=0, fix="Pass None or e.g. 8."
        )
    if not isinstance(normalize, bool):
        raise TypeError(
            f"{where}: `normalize` must be a bool; got {describe(normalize)}."
        )
    sens = jacobian_sensitivity(
        model, x, graph, targets=cand, reduce=reduce, batch_size=batch_size
    )
    sens = sens.detach().to("cpu", torch.float64)
    if normalize:
        total = sens.sum(1, keepdim=True)
        sens = sens / torch.where(total > 0, total, torch.ones_like(total))
    dist = hop_distances(graph, cand, max_hops=max_distance).cpu()
    keep = dist >= 0
    d, v = dist[keep], sens[keep]
    r = int(d.max()) + 1 if d.numel() else 1
    if max_distance is not None:
        r = max_distance + 1
    count = torch.zeros(r, dtype=torch.int64).index_add_(0, d, torch.ones_like(d))
    total = torch.zeros(r, dtype=torch.float64).index_add_(0, d, v)
    peak = torch.full((r,), float("-inf"), dtype=torch.float64).scatter_reduce(
        0, d, v, reduce="amax"
    )
    empty = count == 0
    mean = torch.where(empty, float("nan"), total / count.clamp(min=1))
    peak = torch.where(empty, float("nan"), peak)
    return SensitivityProfile(
        distance=torch.arange(r),
        mean=mean,
        max=peak,
        count=count,
        targets=cand,
        reduce=reduce,
        normalized=normalize,
    )
