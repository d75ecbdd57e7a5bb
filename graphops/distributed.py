r"""Domain-decomposed graph operators over ``torch.distributed``.

Each process (rank ``r`` of ``K``) owns the nodes of one part of a
:class:`~graphops.partition.Partition` and holds node signals as ``[n_own, F]``
blocks, rows in the order of ``plan.owned`` (a :class:`~graphops.partition.RankPlan`
from :func:`~graphops.partition.halo_plan`). Applying an operator is

1. a **halo exchange**: every rank sends the boundary rows its peers need and
   receives its ghost rows (:func:`halo_exchange`, point-to-point ``isend`` /
   ``irecv``, one message per peer and direction); it is an autograd function whose
   backward is the reverse exchange, which sums the ghost gradients into the
   owners' rows;
2. the **local SpMM** on the owned rows of the operator built on the rank's local
   graph, through the one sparse kernel (:func:`graphops.spmm.spmm`).

:class:`DistributedOperator` wraps any node -> node operator family built on a
pattern (:class:`~graphops.operators.Laplacian` and
:class:`~graphops.operators.Adjacency`, every normalisation, symmetric ``[M]`` or
per-direction ``[2M]`` learned weights) so that its ``op @ x`` on a rank's block is
exactly the owned rows of the single-process ``op @ x``.

**Edge space.** :class:`DistributedGradient` and :class:`DistributedDivergence`
carry the edge-space operators over. On rank ``r`` the *local edges* are every
edge with at least one owned end point (``plan.local_graph``, ``[M_local]`` in its
order, ``plan.edge_ids`` their global ids); an edge signal on a rank is
``[M_local, F]``, and a cut edge is held, and computed, on both of its ranks.
After one halo exchange of ``x`` the gradient is exact at every local edge, in
the *global* orientation (``x_j - x_i``, ``i < j`` global ids; a local edge read
backwards gets a sign, so non-odd maps of edge signals, e.g. ReLU, agree with one
process). The divergence is evaluated at owned nodes only: the local edges hold
every edge incident to an owned node, so it is exact with no exchange. Learned
``[M]`` weights enter as ``plan.local_edge_weight(w)``; edge weights computed
from the node features at both ends (attention) are computable locally after the
exchange. **No double counting:** a cut edge's copy on rank ``r`` influences only
its owned end point's divergence row, so the per-rank gradients w.r.t. a global
weight tensor, summed over the ranks, are the one-process gradient; a global sum
*over edges* must mask with ``op.owned_edges`` (each edge counted by one rank).

**Degrees.** A normalised operator needs the *global* degree of a ghost node, which
has edges the rank does not hold. The local graph gets one extra *phantom* node,
joined to every ghost by an edge weighted ``d_global - d_local``, so the operator
family computes every local node's degree correctly with its own code; owned rows
never touch the phantom. With the graph's weights ``d_global`` comes from the plan
(computed once from the whole graph); with learned weights the owners' degrees are
halo-exchanged (differentiably) on each construction.

**Sheaf Laplacians.** :class:`DistributedSheafLaplacian` acts on node-major
stalks ``[n_own*d', F]`` (:mod:`graphops.sheaf`); the restriction maps of the
local edges come from the rank (a learner reads both end points after one
exchange of the state), and the ghosts' node blocks ``D_v``, which sum over
edges the rank does not hold, are exchanged from their owners (differentiably)
instead of using a phantom node.

**Collectives.** ``op @ x``, building an operator with learned weights, and
:meth:`DistributedOperator.allreduce` are collective: every rank of the group must
make the same calls in the same order (as in any SPMD program). ``lam_max`` and
:class:`~graphops.linalg.CG` reduce their inner products through
:meth:`~graphops.operators.GraphOperator.allreduce`, so every rank gets the same
numbers and takes the same branches; an adaptive solve needs
``PIController(..., reduce=op.allreduce)`` (a global error norm, so every rank
takes the same steps). Create the process group with a ``timeout`` so that a failed
rank makes the others raise instead of hanging.

``torch.distributed`` is imported on first use, never at import of this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from graphops._checks import describe
from graphops.attention import _add_self, _check_normalization, _head_averaged
from graphops.graph import Graph
from graphops.operators import GraphOperator, Laplacian
from graphops.partition import RankPlan
from graphops.spmm import (
    SIGNAL_DTYPES,
    SparsePattern,
    check_signal_dtype,
    map_nested,
    spmm,
)

__all__ = [
    "DistributedAttention",
    "DistributedDivergence",
    "DistributedGradient",
    "DistributedOperator",
    "DistributedSheafLaplacian",
    "MultirateOperator",
    "allreduce_sum",
    "distributed_attention",
    "halo_exchange",
]


def _dist():
    """``torch.distributed``, imported lazily (it is heavy and optional)."""
    import torch.distributed as dist

    return dist


def _peer(q: int, group: Any) -> int:
    """The global rank of group rank ``q`` (point-to-point calls take global ranks)."""
    return q if group is None else _dist().get_global_rank(group, q)


def _allreduce(t: Tensor, op: str, group: Any) -> Tensor:
    """``t`` summed (``"sum"``) or maximised (``"max"``) over the ranks (a copy)."""
    dist = _dist()
    red = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}[op]
    t = t.detach().clone()
    dist.all_reduce(t, op=red, group=group)
    return t


def _check_group(plan: RankPlan, group: Any, where: str) -> None:
    dist = _dist()
    if not dist.is_initialized():
        raise RuntimeError(
            f"{where}: torch.distributed is not initialised. Call "
            "torch.distributed.init_process_group(...) (or launch with torchrun) "
            "first."
        )
    rank, size = dist.get_rank(group), dist.get_world_size(group)
    if size != plan.num_parts or rank != plan.rank:
        raise ValueError(
            f"{where}: the plan must be this process's: rank {rank} of {size} in the "
            f"group; got a plan for rank {plan.rank} of {plan.num_parts} parts. Build "
            "it with halo_plan(graph, partition(graph, world_size), rank)."
        )


class _Pending:
    """Posted, not yet completed, receives of a forward halo exchange."""

    __slots__ = ("reqs", "landing")

    def __init__(self, reqs: list, landing: list) -> None:
        self.reqs, self.landing = reqs, landing

    def finish(self, recv: dict[int, Tensor], out: Tensor) -> None:
        """Wait for every message and copy the ghost rows into ``out``."""
        for req in self.reqs:
            req.wait()
        for q, buf, _ in self.landing:
            out.index_copy_(0, recv[q], buf)


def _post(x: Tensor, plan: RankPlan, group: Any) -> _Pending:
    """Start the forward exchange of ``x``'s boundary rows (non-blocking)."""
    dist = _dist()
    reqs, landing = [], []
    for q in sorted(plan.send):
        payload = x[plan.send[q]].contiguous()
        buf = x.new_empty(len(plan.recv[q]), x.shape[1])
        reqs.append(dist.isend(payload, _peer(q, group), group=group))
        reqs.append(dist.irecv(buf, _peer(q, group), group=group))
        landing.append((q, buf, payload))  # payloads live until the wait
    return _Pending(reqs, landing)


def _exchange(
    rows: Tensor,
    send: dict[int, Tensor],
    recv: dict[int, Tensor],
    out: Tensor,
    group: Any,
    reverse: bool,
) -> None:
    """Send ``rows[send[q]]`` to every peer ``q``; receive into ``out`` at ``recv[q]``.

    Forward: ``rows`` are owned rows, ``out`` the ghost rows (``recv`` is contiguous,
    received in place). Reverse: ``rows`` are ghost gradients sent back to their
    owners, which add them into ``out`` (owned-row gradients) at their send lists.
    """
    dist = _dist()
    width = rows.shape[1]
    reqs, landing = [], []
    for q in sorted(send):
        if reverse:
            payload = rows[recv[q]].contiguous()
            buf = rows.new_empty(len(send[q]), width)
        else:
            payload = rows[send[q]].contiguous()
            buf = rows.new_empty(len(recv[q]), width)
        reqs.append(dist.isend(payload, _peer(q, group), group=group))
        reqs.append(dist.irecv(buf, _peer(q, group), group=group))
        landing.append((q, buf, payload))
    for req in reqs:
        req.wait()
    for q, buf, _ in landing:
        if reverse:
            out.index_add_(0, send[q], buf)
        else:
            out.index_copy_(0, recv[q], buf)


class _HaloExchange(torch.autograd.Function):
    """Ghost rows of ``x``; the backward sends ghost gradients back to the owners."""

    @staticmethod
    def forward(ctx, x: Tensor, plan: RankPlan, group: Any) -> Tensor:  # noqa: D102
        ctx.plan, ctx.group = plan, group
        out = x.new_zeros(plan.num_ghosts, x.shape[1])
        _exchange(x.detach(), plan.send, plan.recv, out, group, reverse=False)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        plan = ctx.plan
        gx = grad.new_zeros(plan.num_owned, grad.shape[1])
        _exchange(grad.contiguous(), plan.send, plan.recv, gx, ctx.group,
                  reverse=True)
        return gx, None, None


class _HaloWait(torch.autograd.Function):
    """Completes a posted exchange (forward); the reverse exchange (backward).

    ``x`` is an input only so that the backward returns the ghost gradients summed
    into its owned rows; the rows were sent by :func:`_post` before the interior
    product, which is how communication overlaps with computation.
    """

    @staticmethod
    def forward(ctx, x, plan, group, pending):  # noqa: D102
        ctx.plan, ctx.group = plan, group
        out = x.new_zeros(plan.num_ghosts, x.shape[1])
        pending.finish(plan.recv, out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        plan = ctx.plan
        gx = grad.new_zeros(plan.num_owned, grad.shape[1])
        _exchange(grad.contiguous(), plan.send, plan.recv, gx, ctx.group,
                  reverse=True)
        return gx, None, None, None


def halo_exchange(x: Tensor, plan: RankPlan, group: Any = None) -> Tensor:
    """The ghost rows of a distributed signal, received from their owners.

    Collective over ``group``: every rank calls it with its own block (the same
    ``F``). Differentiable: the backward sends each ghost row's gradient to its
    owner, which sums it into the owned row (a node that is a ghost on several
    ranks receives from all of them).

    Args:
        x: ``[n_own, F]`` this rank's rows, in ``plan.owned`` order.
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        group: Process group (``None``: the default group); its ranks must be the
            partition's parts.

    Returns:
        ``[n_ghost, F]``: the rows of ``plan.ghosts``.

    Raises:
        TypeError: ``plan`` is not a RankPlan, ``x`` not a floating tensor.
        ValueError: ``x`` has the wrong shape, or the plan is not this rank's.
        RuntimeError: torch.distributed is not initialised.
    """
    if not isinstance(plan, RankPlan):
        raise TypeError(
            f"halo_exchange: `plan` must be a RankPlan; got {describe(plan)}. Build "
            "it with graphops.partition.halo_plan(graph, part, rank)."
        )
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise TypeError(
            f"halo_exchange: `x` must be a floating tensor; got {describe(x)}. Pass "
            "this rank's [n_own, F] block."
        )
    if x.dim() != 2 or x.shape[0] != plan.num_owned:
        raise ValueError(
            f"halo_exchange: `x` must have shape [n_own, F]=[{plan.num_owned}, F] "
            f"(this rank's owned rows); got {tuple(x.shape)}."
        )
    _check_group(plan, group, "halo_exchange")
    return _HaloExchange.apply(x, plan, group)


# ---------------------------------------------------------------------------------
# the extended local graph (owned + ghosts + one phantom node)
# ---------------------------------------------------------------------------------
def _extended(plan: RankPlan) -> tuple[Graph, Tensor]:
    """The local graph plus a phantom node joined to every ghost, and the order.

    Returns ``(graph, perm)``: the extended graph (``n_own + n_ghost + 1`` nodes; its
    edge weights are the default ones) and ``perm`` such that its canonical edges
    are ``[local edges, phantom edges][perm]``. Built once per plan.
    """
    store = plan._cache
    if "extended" not in store:
        local = plan.local_graph
        n_own, n_loc = plan.num_owned, local.num_nodes
        dev = local.device
        ghosts_l = torch.arange(n_own, n_loc, device=dev)
        phantom = torch.full_like(ghosts_l, n_loc)
        ei = torch.cat([local.edge_index, torch.stack([ghosts_l, phantom])], 1)
        perm = torch.argsort(ei[0] * (n_loc + 1) + ei[1])
        w = torch.cat([local.edge_weight, _phantom(plan, local.edge_weight,
                                                   local.edge_weight, None)])
        ext = Graph._from_canonical(ei[:, perm], n_loc + 1, w[perm], True)
        store["extended"] = (ext, perm)
    return store["extended"]


def _phantom(
    plan: RankPlan, wf: Tensor, wb: Tensor, ghost_degree: Tensor | None
) -> Tensor:
    """Phantom edge weights ``d_global - d_local`` of the ghosts."""
    i, j = plan.local_graph.edge_index
    n_loc = plan.local_graph.num_nodes
    local_deg = wf.new_zeros(n_loc).index_add(0, i, wf).index_add(0, j, wb)
    if ghost_degree is None:
        ghost_degree = plan.global_degree[plan.num_owned :].to(wf.dtype)
    return ghost_degree - local_deg[plan.num_owned :]


class _Blocks:
    """The owned rows of an extended-graph pattern, split by column.

    ``rows`` is the CSR prefix of the owned rows (``n_own x n_ext``); ``inner``
    holds its entries in owned columns (``n_own x n_own``), ``halo`` those in ghost
    columns (``n_own x n_ghost``, column ``k`` is ghost ``k``); ``inner_idx`` and
    ``halo_idx`` gather their values from the prefix values. With ``stalk = s``
    rows per node (node-major, :mod:`graphops.sheaf`) every count is ``s`` times
    larger: the owned nodes' rows and columns still come first.
    """

    __slots__ = ("rows", "inner", "inner_idx", "halo", "halo_idx")

    def map_tensors(self, fn: Callable[[Tensor], Tensor], memo: dict) -> _Blocks:
        """A copy with ``fn`` applied to every index structure."""
        if id(self) not in memo:
            new = _Blocks.__new__(_Blocks)
            for name in self.__slots__:
                setattr(new, name, map_nested(getattr(self, name), fn, memo))
            memo[id(self)] = new
        return memo[id(self)]

    def __init__(self, plan: RankPlan, pattern: SparsePattern, stalk: int) -> None:
        n_own, n_ghost = stalk * plan.num_owned, stalk * plan.num_ghosts
        nnz = int(pattern.crow[n_own])
        self.rows = SparsePattern(
            pattern.crow[: n_own + 1],
            pattern.col[:nnz],
            pattern.row[:nnz],
            (n_own, pattern.shape[1]),
        )
        row, col = self.rows.row, self.rows.col
        inner = (col < n_own).nonzero().flatten()
        halo = (col >= n_own).nonzero().flatten()
        self.inner, order = SparsePattern.from_coo(
            row[inner], col[inner], (n_own, n_own)
        )
        self.inner_idx = inner[order]
        self.halo, order = SparsePattern.from_coo(
            row[halo], col[halo] - n_own, (n_own, n_ghost)
        )
        self.halo_idx = halo[order]


def _blocks(plan: RankPlan, pattern: SparsePattern, stalk: int = 1) -> _Blocks:
    """:class:`_Blocks` of ``pattern``, built once per plan and pattern.

    A pattern is used with one ``stalk`` (its shape fixes it), so the key need
    not hold it.
    """
    key = ("blocks", id(pattern))
    store = plan._cache
    if key not in store:
        # holding `pattern` keeps its id unique
        store[key] = (pattern, _Blocks(plan, pattern, stalk))
    return store[key][1]


class DistributedOperator(GraphOperator):
    r"""A node -> node operator on a rank's block of a partitioned graph.

    ``op @ x`` with ``x`` this rank's ``[n_own, F]`` rows (``plan.owned`` order) is
    the owned rows of the single-process ``family(graph, ...) @ x_global``: a halo
    exchange, then the local SpMM on the owned rows of ``family`` built on the
    rank's local graph. Differentiable w.r.t. ``x`` (through the reverse exchange)
    and the learned ``edge_weight``.

    Args:
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        family: The operator class (or a callable with its signature),
            ``family(graph, *args, edge_weight=..., validate=False, **kwargs)``
            returning a node -> node pattern operator; :class:`Laplacian` (default)
            and :class:`~graphops.operators.Adjacency` with every normalisation.
        *args: Passed to ``family`` (e.g. the normalisation).
        edge_weight: Learned weights of the local edges, ``[M_local]`` symmetric
            or ``[2M_local]`` per direction, in ``plan.local_graph`` order (take them
            from global weights with ``plan.local_edge_weight(w)``); ``None`` uses
            the graph's. With weights, construction is collective (the owners'
            degrees are exchanged).
        group: Process group (``None``: the default group).
        validate: Check ``edge_weight`` is finite and ``>= 0``.
        **kwargs: Passed to ``family`` (e.g. ``normalization="sym"``).

    Raises:
        TypeError: ``plan`` is not a RankPlan, ``family`` does not build a pattern
            operator, or ``edge_weight`` is not a floating tensor.
        ValueError: ``edge_weight`` has the wrong shape or negative entries, the
            family is not node -> node, or the plan is not this rank's.
        RuntimeError: torch.distributed is not initialised.

    Shapes:
        input ``[n_own, F]`` -> output ``[n_own, F]``.
    """

    domain = codomain = "node"

    def __init__(
        self,
        plan: RankPlan,
        family: Callable[..., GraphOperator] = Laplacian,
        *args: Any,
        edge_weight: Tensor | None = None,
        group: Any = None,
        validate: bool = True,
        **kwargs: Any,
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        if not isinstance(plan, RankPlan):
            raise TypeError(
                f"DistributedOperator: `plan` must be a RankPlan; got "
                f"{describe(plan)}. Build it with halo_plan(graph, part, rank)."
            )
        _check_group(plan, group, "DistributedOperator")
        ext, perm = _extended(plan)
        w_ext = self._extended_weights(plan, ext, perm, edge_weight, group, validate)
        op = family(ext, *args, edge_weight=w_ext, validate=False, **kwargs)
        if not (
            isinstance(op, GraphOperator)
            and isinstance(getattr(op, "pattern", None), SparsePattern)
            and op.values is not None
        ):
            raise TypeError(
                f"DistributedOperator: `family` must build a GraphOperator on a "
                f"sparsity pattern (Laplacian, Adjacency); got {describe(op)}."
            )
        if op.domain != "node" or op.codomain != "node":
            raise ValueError(
                f"DistributedOperator: `family` must build a node -> node operator; "
                f"got {op!r}. Edge-space operators are not distributed."
            )
        self._init(plan, op, group)

    def _init(
        self, plan: RankPlan, op: GraphOperator, group: Any, stalk: int = 1
    ) -> None:
        self.plan, self.local, self.group = plan, op, group
        self.graph = plan.local_graph
        self.stalk = stalk
        self._blocks = _blocks(plan, op.pattern, stalk)
        self._values = op.values[: self._blocks.rows.nnz]

    def _wrap(self, op: GraphOperator) -> DistributedOperator:
        """``op`` (built from ``self.local``) distributed like ``self``."""
        new = type(self).__new__(type(self))
        new._init(self.plan, op, self.group, self.stalk)
        return new

    @classmethod
    def _unnormalised(
        cls, plan: RankPlan, edge_weight: Tensor, group: Any
    ) -> DistributedOperator:
        """``Adjacency(graph, None, edge_weight)`` without the degree exchange.

        An unnormalised adjacency reads no degree, so the phantom weights (which
        only ghost rows see) are left at zero; ``edge_weight`` is not checked.
        """
        from graphops.operators import Adjacency

        ext, perm = _extended(plan)
        w_ext = cls._extended_weights(
            plan, ext, perm, edge_weight, group, False, degrees=False
        )
        new = cls.__new__(cls)
        new._init(plan, Adjacency(ext, None, w_ext, validate=False), group)
        return new

    @staticmethod
    def _extended_weights(
        plan, ext, perm, edge_weight, group, validate, degrees=True
    ) -> Tensor:
        """Weights of the extended graph's edges (phantom edges included).

        ``degrees=False`` gives the phantom edges weight zero instead of
        exchanging the owners' degrees (for an operator that reads no degree).
        """
        if edge_weight is None:
            return ext.edge_weight
        m = plan.local_graph.num_edges
        where = "DistributedOperator"
        if not isinstance(edge_weight, Tensor) or not edge_weight.is_floating_point():
            raise TypeError(
                f"{where}: `edge_weight` must be a floating tensor; got "
                f"{describe(edge_weight)}. Pass plan.local_edge_weight(w)."
            )
        if edge_weight.dim() != 1 or edge_weight.shape[0] not in (m, 2 * m):
            raise ValueError(
                f"{where}: `edge_weight` must have shape [M_local]=[{m}] or "
                f"[2M_local]=[{2 * m}] (this rank's local edges); got "
                f"{tuple(edge_weight.shape)}. Pass plan.local_edge_weight(w)."
            )
        if validate and edge_weight.numel():
            w = edge_weight.detach()
            bad = ~(torch.isfinite(w) & (w >= 0))
            if bool(bad.any()):
                k = int(bad.nonzero()[0])
                raise ValueError(
                    f"{where}: `edge_weight` must be finite and >= 0; got "
                    f"{float(w[k])} at local edge {k}. Map learned weights through "
                    "softplus/exp/sigmoid."
                )
        directed = edge_weight.shape[0] == 2 * m
        wf, wb = (edge_weight[:m], edge_weight[m:]) if directed else (edge_weight,) * 2
        if degrees:
            # the owners' row sums of W, exchanged: every ghost's global degree
            i, j = plan.local_graph.edge_index
            deg = wf.new_zeros(plan.local_graph.num_nodes).index_add(0, i, wf)
            deg = deg.index_add(0, j, wb)[: plan.num_owned]
            ghost_deg = _HaloExchange.apply(deg.unsqueeze(1), plan, group).squeeze(1)
            ph = _phantom(plan, wf, wb, ghost_deg)
        else:
            ph = wf.new_zeros(plan.num_ghosts)
        fwd = torch.cat([wf, ph])[perm]
        if not directed:
            return fwd
        return torch.cat([fwd, torch.cat([wb, torch.zeros_like(ph)])[perm]])

    # -- application ---------------------------------------------------------------
    def matmul(  # noqa: D102
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        y, _ = self._apply(x, backend, None, self)
        return y if out is None else out.copy_(y)

    def _apply(
        self, x: Tensor, backend: str | None, stale: Tensor | None, caller: object
    ) -> tuple[Tensor, Tensor]:
        """``(op @ x, ghosts)``; with ``stale`` given, those ghosts (no exchange).

        ``caller`` (the operator the user applied) names the call in errors; its
        repr is built only when one is raised.
        """
        n, s = self.plan.num_owned, self.stalk
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != n * s:
            got = tuple(x.shape) if isinstance(x, Tensor) else describe(x)
            if s == 1:
                what, fix = "[n_own, F]", "Scalar fields are [n_own, 1]: use "
                fix += "x.unsqueeze(-1)."
            else:
                what = f"[n_own*d', F] (node-major stalks, d'={s})"
                fix = f"Reshape an [n_own, d', F] block with x.reshape({n * s}, -1)."
            raise ValueError(
                f"{caller!r}: expected this rank's block of shape {what}=[{n * s}, "
                f"F]; got {got}. {fix}"
            )
        if x.dtype not in SIGNAL_DTYPES:
            check_signal_dtype(repr(caller), x, self.dtype)
        b = self._blocks
        # node-major stalks: a node's s rows travel as one row of width s * F
        rows = x if s == 1 else x.reshape(n, -1)
        # post the boundary rows, multiply the interior while they travel, then
        # wait and add the ghost columns' contribution
        pending = _post(rows.detach(), self.plan, self.group) if stale is None else None
        inner_csr, halo_csr = self._csr(x.dtype)
        v_in, v_halo = self._split_values(x.dtype)
        y = spmm(b.inner, v_in, x, backend, inner_csr)
        if stale is None:
            ghosts = _HaloWait.apply(rows, self.plan, self.group, pending)
            if s != 1:
                ghosts = ghosts.reshape(-1, x.shape[1])
        else:
            ghosts = stale
        if b.halo.nnz:
            y = y + spmm(b.halo, v_halo, ghosts, backend, halo_csr)
        return y, ghosts

    def multirate(self, every: int) -> MultirateOperator:
        """This operator with a halo exchange on every ``every``-th application only.

        See :class:`MultirateOperator`.
        """
        return MultirateOperator(self, every)

    def _split_values(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """Values of the interior and ghost-column blocks (differentiable)."""
        v = self._values if self._values.dtype == dtype else self._values.to(dtype)
        return v[self._blocks.inner_idx], v[self._blocks.halo_idx]

    def _csr(self, dtype: torch.dtype) -> tuple[Tensor | None, Tensor | None]:
        """Cached CSR tensors of the two blocks (values detached), per dtype."""
        store = self.cache
        key = ("csr", dtype)
        if key not in store:
            v_in, v_halo = (v.detach() for v in self._split_values(dtype))
            b = self._blocks
            try:
                store[key] = (
                    b.inner.tensor(v_in) if b.inner.nnz else None,
                    b.halo.tensor(v_halo) if b.halo.nnz else None,
                )
            except RuntimeError:  # values wrapped by a functorch transform
                return None, None
        return store[key]

    @property
    def values(self) -> Tensor:
        """The owned rows' ``[nnz]`` values in CSR order (differentiable).

        Their columns are local (``[owned, ghosts]``), so they are no matrix of
        ``shape``; :class:`~graphops.linalg.CG` reads them only to carry the
        gradient to learned edge weights (through the solve's adjoint).
        """
        return self._values

    def allreduce(self, t: Tensor, op: str = "sum") -> Tensor:
        """``t`` summed (``op="sum"``) or maximised (``"max"``) over the ranks.

        Collective. Not differentiable (used by ``lam_max`` and CG on detached
        quantities).
        """
        return _allreduce(t, op, self.group)

    def node_mean(self, x: Tensor) -> Tensor:
        """The column mean over *all* nodes of a block signal ``[n_own, F]``: ``[F]``.

        The owned rows' column sums, summed over the ranks
        (:func:`allreduce_sum`, differentiable), over the graph's node count.
        Collective. PairNorm's mean on a partitioned graph.
        """
        return allreduce_sum(x.sum(dim=0), self.group) / self.plan.num_nodes

    # -- structure -----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(n_own, n_own)``: the block of rows and the block of ``x`` it takes.

        ``s`` times both for ``s`` stalk rows per node.
        """
        n = self.stalk * self.plan.num_owned
        return (n, n)

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self.local.dtype

    @property
    def device(self) -> torch.device:  # noqa: D102
        return self.local.device

    @property
    def is_symmetric(self) -> bool:  # noqa: D102
        return self.local.is_symmetric

    def adjoint(self) -> GraphOperator:
        """The adjoint ``A^T``, distributed the same way (its ghost rows are exact)."""
        if self.is_symmetric:
            return self
        return self._wrap(self.local.adjoint())

    @property
    def T(self) -> GraphOperator:  # noqa: N802 - matrix transpose, as in torch
        """Plain matrix transpose."""
        return self._wrap(self.local.T)

    def shifted(  # noqa: D102
        self, shift: float | Tensor = 0.0, scale: float | Tensor = 1.0
    ) -> GraphOperator:
        return self._wrap(self.local.shifted(shift, scale))

    def _local_rows_cols(self) -> tuple[int, int]:
        """Rows of the owned nodes, columns of the local nodes (no phantom)."""
        s, p = self.stalk, self.plan
        return s * p.num_owned, s * (p.num_owned + p.num_ghosts)

    def diagonal(self) -> Tensor:
        """The diagonal entries of the owned rows ``[n_own]``."""
        return self.local.diagonal()[: self._local_rows_cols()[0]]

    def to_dense(self) -> Tensor:
        """The owned rows ``[n_own, n_own + n_ghost]`` (columns in local order)."""
        r, c = self._local_rows_cols()
        return self.local.to_dense()[:r, :c]

    def to_scipy(self) -> Any:
        """The owned rows as scipy CSR ``[n_own, n_own + n_ghost]`` (local order)."""
        r, c = self._local_rows_cols()
        return self.local.to_scipy()[:r, :c].tocsr()

    def __repr__(self) -> str:
        """``DistributedOperator(Laplacian(...), rank=0, parts=2, ...)``."""
        return (
            f"{type(self).__name__}({self.local!r}, rank={self.plan.rank}, "
            f"parts={self.plan.num_parts}, owned={self.plan.num_owned}, "
            f"ghosts={self.plan.num_ghosts})"
        )


class MultirateOperator(GraphOperator):
    r"""A distributed operator that exchanges its halo every ``every`` applications.

    The multirate option ("fewer message-passing steps across physical
    locations"): application ``n`` (counted from 0 on this instance) exchanges
    fresh ghost rows when ``n % every == 0`` and otherwise reuses the last ones, so
    ``every - 1`` of every ``every`` applications send nothing. Each RK4 stage
    is one application. ``every=1`` is the :class:`DistributedOperator` itself.
    Stale ghosts make the owned rows' coupling to other parts lag, which is an
    error of order ``every * dt`` at part boundaries. ``benchmarks/bench_distributed.py
    multirate`` measures it against an exact heat-flow solution.

    **Stateful**: the counter lives on the instance, and every rank must apply it
    the same number of times (which the SPMD program does anyway). Build a new one
    (or call :meth:`reset`) for a new solve. Gradients flow through the stale ghosts
    to the application that exchanged them.

    Args:
        op: The :class:`DistributedOperator`.
        every: Applications per halo exchange, ``>= 1``.

    Raises:
        TypeError: ``op`` is not a DistributedOperator, or ``every`` not an int.
        ValueError: ``every < 1``.
    """

    domain = codomain = "node"

    def __init__(self, op: DistributedOperator, every: int) -> None:
        """Wrap ``op``; the arguments are documented on the class."""
        from graphops._checks import check_int

        if not isinstance(op, DistributedOperator):
            raise TypeError(
                f"MultirateOperator: `op` must be a DistributedOperator; got "
                f"{describe(op)}. Build it with DistributedOperator(plan, ...)."
            )
        self.base = op
        self.every = check_int("MultirateOperator", "every", every, low=1)
        self.graph = op.graph
        self.reset()

    def reset(self) -> None:
        """Restart the application counter (the next application exchanges)."""
        self.count = 0
        self._ghosts: Tensor | None = None

    def matmul(  # noqa: D102
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        fresh = self.count % self.every == 0 or self._ghosts is None
        if not fresh and self._ghosts.shape[1] != x.shape[1]:
            raise ValueError(
                f"{self!r}: `x` must keep the width F={self._ghosts.shape[1]} of the "
                f"last exchange; got F={x.shape[1]}. Call reset() for a new signal."
            )
        y, ghosts = self.base._apply(
            x, backend, None if fresh else self._ghosts, self
        )
        self._ghosts = ghosts
        self.count += 1
        return y if out is None else out.copy_(y)

    def allreduce(self, t: Tensor, op: str = "sum") -> Tensor:  # noqa: D102
        return self.base.allreduce(t, op)

    @property
    def shape(self) -> tuple[int, int]:  # noqa: D102
        return self.base.shape

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self.base.dtype

    @property
    def device(self) -> torch.device:  # noqa: D102
        return self.base.device

    @property
    def is_symmetric(self) -> bool:  # noqa: D102
        return self.base.is_symmetric

    def adjoint(self) -> GraphOperator:
        """The base operator's adjoint, with a fresh counter and the same rate."""
        return MultirateOperator(self.base.adjoint(), self.every)

    def diagonal(self) -> Tensor:  # noqa: D102
        return self.base.diagonal()

    def to_dense(self) -> Tensor:  # noqa: D102
        return self.base.to_dense()

    def to_scipy(self) -> Any:  # noqa: D102
        return self.base.to_scipy()

    def __repr__(self) -> str:
        """``MultirateOperator(DistributedOperator(...), every=4)``."""
        return f"MultirateOperator({self.base!r}, every={self.every})"


# ---------------------------------------------------------------------------------
# sheaf Laplacians
# ---------------------------------------------------------------------------------
def _with_owner_rows(t: Tensor, plan: RankPlan, group: Any) -> Tensor:
    """``t`` (``[n_own + n_ghost, ...]``) with its ghost rows replaced by the owners'.

    One (differentiable) halo exchange of the owned rows, flattened to
    ``[n_own, prod(...)]``: what a ghost's per-node quantity is when it sums over
    edges the rank does not hold.
    """
    n = plan.num_owned
    own = t[:n]
    ghosts = _HaloExchange.apply(own.reshape(n, -1), plan, group)
    return torch.cat([own, ghosts.reshape(-1, *t.shape[1:])])


class DistributedSheafLaplacian(DistributedOperator):
    r"""A sheaf Laplacian on a rank's block of a partitioned graph.

    ``op @ x`` with ``x`` this rank's node-major stalks ``[n_own*d', F]`` (the
    layout of :mod:`graphops.sheaf`, nodes in ``plan.owned`` order) is the owned
    rows of the single-process
    ``SheafLaplacian(graph, maps_global, kind, ...) @ x_global``. The maps of the
    rank's local edges (``plan.local_graph``: every edge with an owned end point)
    are computable on the rank once the state's ghost rows are there, because a
    learner maps the features of an edge's two end points. The node blocks
    :math:`D_v = \sum_{e \ni v} w_e F_{v⊴e}^\top F_{v⊴e}` (and the degrees of the
    fixed channels) of the owned nodes are complete locally; those of the ghosts
    miss their edges to other ranks, so they are replaced by their owners' through
    one halo exchange (per quantity, at construction) before the normalisation.
    Applying it is a halo exchange of ``x`` (``d' F`` numbers per node) and the
    local SpMM on the owned rows, as :class:`DistributedOperator`.

    **Gradients.** Differentiable w.r.t. ``x``, ``maps`` and ``edge_weight``. A
    cut edge's maps are computed on both of its ranks; each copy enters only its
    own rank's rows and node blocks (a ghost's block comes from its owner), so
    per-rank gradients of parameters that produced the maps, summed over the
    ranks, are the single-process gradient.

    Args:
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        maps: The restriction maps of the local edges: ``[2M_local, d]``
            (``"diag"``) or ``[2M_local, d, d]`` in
            ``plan.local_graph.directed_edge_index`` order (or
            ``[M_local, 2, ...]``), the formats of
            :class:`~graphops.sheaf.SheafLaplacian` on the local graph.
            ``F_{v⊴e}`` belongs to the incidence, not to an orientation, so a
            learner evaluated on the local graph's directed edges gives them.
        kind: ``"diag"``, ``"orthogonal"`` or ``"general"``.
        normalised: ``Δ_F = (D + I)^{-1/2} L_F (D + I)^{-1/2}`` instead of
            ``L_F``.
        edge_weight: Optional ``[M_local]`` or ``[2M_local]`` map scalings
            (local order, as ``maps``).
        add_lp: The signless-Laplacian channel.
        add_hp: The ordinary-Laplacian channel.
        group: Process group (``None``: the default group).
        validate: As :class:`~graphops.sheaf.SheafLaplacian`.

    Raises:
        TypeError: ``plan`` is not a RankPlan, or bad ``maps``/``edge_weight``
            types (as :class:`~graphops.sheaf.SheafLaplacian` on the local graph).
        ValueError: the plan is not this rank's, or bad shapes or values (as
            :class:`~graphops.sheaf.SheafLaplacian` on the local graph).
        RuntimeError: torch.distributed is not initialised.

    Shapes:
        input ``[n_own*d', F]`` -> output ``[n_own*d', F]``,
        ``d' = d + add_lp + add_hp``.
    """

    def __init__(
        self,
        plan: RankPlan,
        maps: Tensor,
        kind: str = "diag",
        *,
        normalised: bool = False,
        edge_weight: Tensor | None = None,
        add_lp: bool = False,
        add_hp: bool = False,
        group: Any = None,
        validate: bool = True,
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        from graphops.sheaf import SheafLaplacian

        if not isinstance(plan, RankPlan):
            raise TypeError(
                f"DistributedSheafLaplacian: `plan` must be a RankPlan; got "
                f"{describe(plan)}. Build it with halo_plan(graph, part, rank)."
            )
        _check_group(plan, group, "DistributedSheafLaplacian")
        local = SheafLaplacian.__new__(SheafLaplacian)
        local._setup(
            plan.local_graph,
            maps,
            kind,
            normalised,
            edge_weight,
            add_lp,
            add_hp,
            validate,
            lambda t: _with_owner_rows(t, plan, group),
        )
        self._init(plan, local, group, local.stalk_dim)


# ---------------------------------------------------------------------------------
# edge-space operators
# ---------------------------------------------------------------------------------
def _edge_sign(plan: RankPlan) -> Tensor:
    """``[M_local]`` ``+1``, or ``-1`` where the local edge is the global one reversed.

    A local edge is stored ``(a, b)`` with local ids ``a < b``; the global edge
    ``(i, j)`` has global ids ``i < j``. The two orders differ when an owned node
    has a larger global id than its ghost neighbour (``plan.edge_flipped``).
    """
    store = plan._cache
    if "edge_sign" not in store:
        flip = plan.edge_flipped
        one = torch.ones(flip.shape, dtype=plan.local_graph.edge_weight.dtype,
                         device=flip.device)
        store["edge_sign"] = torch.where(flip, -one, one)
    return store["edge_sign"]


def _local_edge_weight(
    plan: RankPlan, edge_weight: Tensor | None, where: str, validate: bool
) -> Tensor:
    """Checked ``[M_local]`` weights (``None``: the local graph's)."""
    if edge_weight is None:
        return plan.local_graph.edge_weight
    m = plan.local_graph.num_edges
    if not isinstance(edge_weight, Tensor) or not edge_weight.is_floating_point():
        raise TypeError(
            f"{where}: `edge_weight` must be a floating tensor; got "
            f"{describe(edge_weight)}. Pass plan.local_edge_weight(w)."
        )
    if edge_weight.dim() != 1 or edge_weight.shape[0] != m:
        raise ValueError(
            f"{where}: `edge_weight` must have shape [M_local]=[{m}] (this rank's "
            f"local edges); got {tuple(edge_weight.shape)}. Pass "
            "plan.local_edge_weight(w) with w of shape [M]."
        )
    if validate and edge_weight.numel():
        w = edge_weight.detach()
        bad = ~(torch.isfinite(w) & (w >= 0))
        if bool(bad.any()):
            k = int(bad.nonzero()[0])
            raise ValueError(
                f"{where}: `edge_weight` must be finite and >= 0; got "
                f"{float(w[k])} at local edge {k}. Map learned weights through "
                "softplus/exp/sigmoid."
            )
    return edge_weight


def _incidence(plan: RankPlan) -> tuple[SparsePattern, Tensor]:
    """``[M_local, n_own + n_ghost]`` local incidence; order ``[(e, a), (e, b)]``."""
    store = plan._cache
    if "incidence" not in store:
        local = plan.local_graph
        m, (a, b) = local.num_edges, local.edge_index
        ar = torch.arange(m, device=local.device)
        store["incidence"] = SparsePattern.from_coo(
            torch.cat([ar, ar]), torch.cat([a, b]), (m, local.num_nodes)
        )
    return store["incidence"]


def _incidence_t_owned(plan: RankPlan) -> tuple[SparsePattern, Tensor]:
    """The owned rows ``[n_own, M_local]`` of the transposed local incidence.

    Returns the pattern and the gather index of its entries from the order
    ``[(a, e), (b, e)]``.
    """
    store = plan._cache
    if "incidence_t_owned" not in store:
        local = plan.local_graph
        m, (a, b) = local.num_edges, local.edge_index
        ar = torch.arange(m, device=local.device)
        rows, cols = torch.cat([a, b]), torch.cat([ar, ar])
        keep = (rows < plan.num_owned).nonzero().flatten()
        pat, order = SparsePattern.from_coo(
            rows[keep], cols[keep], (plan.num_owned, m)
        )
        store["incidence_t_owned"] = (pat, keep[order])
    return store["incidence_t_owned"]


class _EdgeOperator(GraphOperator):
    """Shared parts of the distributed edge-space operators (a pattern, values)."""

    def _setup(
        self, plan: Any, edge_weight: Tensor | None, group: Any, validate: bool
    ) -> Tensor:
        where = type(self).__name__
        if not isinstance(plan, RankPlan):
            raise TypeError(
                f"{where}: `plan` must be a RankPlan; got {describe(plan)}. Build "
                "it with halo_plan(graph, part, rank)."
            )
        _check_group(plan, group, where)
        self.plan, self.group = plan, group
        self.graph = plan.local_graph
        self.edge_measure = _local_edge_weight(plan, edge_weight, where, validate)
        self._cache: dict = {}
        return self.edge_measure

    def _check_rows(self, x: Any, n: int, what: str) -> None:
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != n:
            got = tuple(x.shape) if isinstance(x, Tensor) else describe(x)
            raise ValueError(
                f"{self!r}: expected {what} of shape [{n}, F]; got {got}. Scalar "
                "fields are [rows, 1]: use x.unsqueeze(-1)."
            )
        if x.dtype not in SIGNAL_DTYPES:
            check_signal_dtype(repr(self), x, self.dtype)

    def _spmm(self, x: Tensor, backend: str | None) -> Tensor:
        v = self._values if self._values.dtype == x.dtype else self._values.to(
            x.dtype
        )
        return spmm(self._pattern, v, x, backend)

    @property
    def values(self) -> Tensor:
        """The ``[nnz]`` values in CSR order (differentiable; local columns)."""
        return self._values

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self._values.dtype

    @property
    def device(self) -> torch.device:  # noqa: D102
        return self._values.device

    @property
    def is_symmetric(self) -> bool:  # noqa: D102
        return False

    @property
    def owned_edges(self) -> Tensor:
        """``[M_local]`` bool: the local edges this rank counts in a global sum.

        A cut edge is held by both ranks of its end points; it is *counted* by
        the owner of its end point with the smaller global id, so summing an
        edge quantity over ``owned_edges`` on every rank and all-reducing counts
        every edge of the graph once.
        """
        store = self.plan._cache
        if "owned_edges" not in store:
            a = self.plan.local_graph.edge_index[0]
            b = self.plan.local_graph.edge_index[1]
            first = torch.where(self.plan.edge_flipped, b, a)  # global i's local id
            store["owned_edges"] = first < self.plan.num_owned
        return store["owned_edges"]

    def allreduce(self, t: Tensor, op: str = "sum") -> Tensor:
        """``t`` summed (``"sum"``) or maximised (``"max"``) over the ranks."""
        return _allreduce(t, op, self.group)

    def to_dense(self) -> Tensor:
        """The local matrix (columns/rows in local node and edge order)."""
        p = self._pattern
        out = self._values.new_zeros(p.shape)
        return out.index_put_((p.row, p.col), self._values.detach(), accumulate=True)

    def to_scipy(self) -> Any:
        """The local matrix as scipy CSR (local node and edge order)."""
        import scipy.sparse as sp

        p = self._pattern
        return sp.csr_matrix(
            (self._values.detach().cpu().numpy(),
             (p.row.cpu().numpy(), p.col.cpu().numpy())),
            shape=p.shape,
        )

    def __repr__(self) -> str:
        """``DistributedGradient(rank=0, parts=2, owned=..., local_edges=...)``."""
        p = self.plan
        return (
            f"{type(self).__name__}(rank={p.rank}, parts={p.num_parts}, "
            f"owned={p.num_owned}, local_edges={p.local_graph.num_edges})"
        )


class DistributedGradient(_EdgeOperator):
    r"""The graph gradient on a rank's block: owned node rows -> local edge rows.

    ``op @ x`` with ``x`` this rank's ``[n_own, F]`` rows is ``[M_local, F]``: the
    single-process ``Gradient(graph) @ x_global`` at every local edge
    (``plan.edge_ids``), in the global orientation
    :math:`(\nabla x)_e = x_j - x_i`, ``i < j`` *global* ids. One halo exchange
    brings the ghost rows; a cut edge is computed on both of its ranks.
    Differentiable w.r.t. ``x`` (the backward sends ghost gradients to their
    owners). ``edge_weight`` is only the edge measure used by :meth:`adjoint`.

    Args:
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        edge_weight: ``[M_local]`` (``plan.local_edge_weight(w)``); ``None``: the
            graph's.
        group: Process group (``None``: the default group).
        validate: Check ``edge_weight`` is finite and ``>= 0``.

    Raises:
        TypeError: ``plan`` is not a RankPlan or ``edge_weight`` not a floating
            tensor.
        ValueError: ``edge_weight`` has the wrong shape or bad entries, or the plan
            is not this rank's.
        RuntimeError: torch.distributed is not initialised.

    Shapes:
        input ``[n_own, F]`` -> output ``[M_local, F]``.
    """

    domain, codomain = "node", "edge"

    def __init__(
        self,
        plan: RankPlan,
        edge_weight: Tensor | None = None,
        *,
        group: Any = None,
        validate: bool = True,
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        w = self._setup(plan, edge_weight, group, validate)
        pat, order = _incidence(plan)
        s = _edge_sign(plan).to(w.dtype)
        self._pattern = pat
        self._values = torch.cat([-s, s])[order]

    def matmul(  # noqa: D102
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        self._check_rows(x, self.plan.num_owned, "this rank's block")
        ghosts = _HaloExchange.apply(x, self.plan, self.group)
        y = self._spmm(torch.cat([x, ghosts]), backend)
        return y if out is None else out.copy_(y)

    @property
    def shape(self) -> tuple[int, int]:
        """``(M_local, n_own)``."""
        return (self.plan.local_graph.num_edges, self.plan.num_owned)

    def adjoint(self) -> GraphOperator:
        """``-DistributedDivergence(plan, edge_weight)``, as in one process."""
        return -DistributedDivergence(
            self.plan, self.edge_measure, group=self.group, validate=False
        )

    def __neg__(self) -> DistributedGradient:
        """The operator with negated values."""
        new = DistributedGradient.__new__(DistributedGradient)
        new.__dict__.update(self.__dict__)
        new._values, new._cache = -self._values, {}
        return new


class DistributedDivergence(_EdgeOperator):
    r"""The graph divergence on a rank's block: local edge rows -> owned node rows.

    ``op @ F`` with ``F`` ``[M_local, F]`` (local edge order, global orientation,
    as :class:`DistributedGradient` returns) is ``[n_own, F]``: the owned rows of
    the single-process ``Divergence(graph, w) @ F_global``,

    .. math:: (\operatorname{div} F)_i = \sum_{e=(i,j)} w_e F_e
        - \sum_{e=(j,i)} w_e F_e .

    The local edges hold every edge incident to an owned node, so no exchange is
    needed; a cut edge's copy on this rank feeds only its owned end point, which
    is why summing per-rank gradients of global weights gives the one-process
    gradient.

    Args:
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        edge_weight: ``[M_local]`` weights (``plan.local_edge_weight(w)``, may
            require grad); ``None``: the graph's.
        group: Process group (``None``: the default group).
        validate: Check ``edge_weight`` is finite and ``>= 0``.

    Raises:
        TypeError, ValueError, RuntimeError: as :class:`DistributedGradient`.

    Shapes:
        input ``[M_local, F]`` -> output ``[n_own, F]``.
    """

    domain, codomain = "edge", "node"

    def __init__(
        self,
        plan: RankPlan,
        edge_weight: Tensor | None = None,
        *,
        group: Any = None,
        validate: bool = True,
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        w = self._setup(plan, edge_weight, group, validate)
        pat, order = _incidence_t_owned(plan)
        ws = w * _edge_sign(plan).to(w.dtype)
        self._pattern = pat
        self._values = torch.cat([ws, -ws])[order]

    def matmul(  # noqa: D102
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        self._check_rows(x, self.plan.local_graph.num_edges, "local edge rows")
        y = self._spmm(x, backend)
        return y if out is None else out.copy_(y)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_own, M_local)``."""
        return (self.plan.num_owned, self.plan.local_graph.num_edges)

    def adjoint(self) -> GraphOperator:
        """``-DistributedGradient(plan, edge_weight)``, as in one process."""
        return -DistributedGradient(
            self.plan, self.edge_measure, group=self.group, validate=False
        )

    def __neg__(self) -> DistributedDivergence:
        """The operator with negated values."""
        new = DistributedDivergence.__new__(DistributedDivergence)
        new.__dict__.update(self.__dict__)
        new._values, new._cache = -self._values, {}
        return new


# ---------------------------------------------------------------------------------
# global reductions with a backward, and attention on a rank's block
# ---------------------------------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    """``t`` summed over the ranks; the backward sums the cotangents likewise."""

    @staticmethod
    def forward(ctx, t: Tensor, group: Any) -> Tensor:  # noqa: D102
        ctx.group = group
        out = t.detach().clone()
        _dist().all_reduce(out, group=group)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        grad = grad.contiguous().clone()
        _dist().all_reduce(grad, group=ctx.group)
        return grad, None


def allreduce_sum(t: Tensor, group: Any = None) -> Tensor:
    r"""``t`` summed over the ranks, differentiably (a global reduction).

    Every rank gets the sum :math:`S = \sum_r t_r`. The training loss of a
    partitioned run is the sum of the ranks' losses, :math:`L = \sum_q L_q(S)`,
    so :math:`\partial L / \partial t_r = \sum_q \partial L_q / \partial S`: the
    backward all-reduces the cotangents too. Collective over ``group``, in the
    forward and in the backward pass.

    Args:
        t: A tensor of the same shape on every rank (e.g. column sums of the
            owned rows).
        group: Process group (``None``: the default group).

    Returns:
        The sum, a new tensor; e.g. ``allreduce_sum(x_block.sum(0)) /
        plan.num_nodes`` is the column mean over every node of the graph.
    """
    return _AllReduceSum.apply(t, group)


class _GlobalMax(torch.autograd.Function):
    """The maximum over every rank's counted entries, with ``torch.max``'s backward.

    ``torch.max(t)`` spreads the cotangent evenly over the entries equal to the
    maximum; here the cotangents of every rank are summed and spread over the
    counted entries equal to it on every rank (each global entry is counted by
    exactly one rank, so ties are counted once).
    """

    @staticmethod
    def forward(ctx, scores: Tensor, counted: Tensor, group: Any) -> Tensor:  # noqa: D102
        dist = _dist()
        mine = scores.detach()[counted]
        m = mine.max() if mine.numel() else scores.new_tensor(-torch.inf)
        m = m.reshape(1).clone()
        dist.all_reduce(m, op=dist.ReduceOp.MAX, group=group)
        ctx.group, ctx.counted, ctx.m = group, counted, m
        ctx.save_for_backward(scores)
        return m[0].clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):  # noqa: D102
        dist = _dist()
        (scores,) = ctx.saved_tensors
        mask = ctx.counted.view(-1, *([1] * (scores.dim() - 1)))
        ties = (scores == ctx.m) & mask
        both = torch.stack([grad.reshape(()), ties.sum().to(grad.dtype)])
        dist.all_reduce(both, group=ctx.group)
        return ties.to(grad.dtype) * (both[0] / both[1]), None, None


def _attention_entries(plan: RankPlan, self_loops: bool) -> tuple[Tensor, Tensor]:
    """This rank's attention entries (local ids) and which of them it counts.

    The entries are both directions of every local edge, then the owned nodes'
    self-loops: every entry of an owned row or an owned column. An entry is
    *counted* (in the global maximum) by the owner of its row.
    """
    key = ("attention_entries", bool(self_loops))
    store = plan._cache
    if key not in store:
        local = plan.local_graph
        ei = local.directed_edge_index
        if self_loops:
            ar = torch.arange(plan.num_owned, device=ei.device)
            ei = torch.cat([ei, torch.stack([ar, ar])], 1)
        store[key] = (ei, ei[0] < plan.num_owned)
    return store[key]


class DistributedAttention:
    r"""The owned rows of :class:`~graphops.attention.AttentionWeights` on a rank.

    ``att @ x`` with ``x`` this rank's ``[n_own, F]`` block is the owned rows of the
    single-process ``A x``: one halo exchange, the ``[2M_local]`` per-direction
    weights through the one sparse kernel (only the owned rows of the
    :class:`DistributedOperator`), plus the self-loop term. Applied to the very
    tensor it was computed from (GRAND-nl's ``A(X) X``) it reuses that
    computation's ghost rows instead of exchanging again. Built by
    :func:`distributed_attention`.

    .. math:: (A x)_a = \sum_{b \ne a} W_{ab}\, x_b + s_a x_a, \quad a \text{ owned}

    Attributes:
        plan: The rank's plan.
        edge_weight: ``[2M_local]`` per-direction weights in
            ``plan.local_graph.directed_edge_index`` order (exact at every entry of
            an owned row).
        self_weight: ``[n_own]`` self-loop weights, or ``None``.

    Shapes:
        ``self @ x``: input ``[n_own, F]`` -> output ``[n_own, F]``.
    """

    def __init__(
        self,
        plan: RankPlan,
        edge_weight: Tensor,
        self_weight: Tensor | None,
        group: Any = None,
        source: tuple[Tensor, Tensor] | None = None,
    ) -> None:
        """Store the weights; ``source`` is ``(x, ghosts)`` they came from."""
        self.plan, self.group = plan, group
        self.edge_weight, self.self_weight = edge_weight, self_weight
        self._op = DistributedOperator._unnormalised(plan, edge_weight, group)
        self._source = source

    def matmul(self, x: Tensor) -> Tensor:
        """``A x`` on this rank's block (an exchange unless ``x`` is the source)."""
        src = self._source
        stale = src[1] if src is not None and x is src[0] else None
        y, _ = self._op._apply(x, None, stale, self)
        return _add_self(y, self.self_weight, x)

    def __matmul__(self, x: Tensor) -> Tensor:
        """``A x``, as :meth:`matmul`."""
        return self.matmul(x)

    def __repr__(self) -> str:
        """``DistributedAttention(rank=0, parts=2, owned=..., ghosts=...)``."""
        p = self.plan
        return (
            f"DistributedAttention(rank={p.rank}, parts={p.num_parts}, "
            f"owned={p.num_owned}, ghosts={p.num_ghosts})"
        )


def distributed_attention(
    x: Tensor,
    plan: RankPlan,
    query: Callable[[Tensor], Tensor],
    key: Callable[[Tensor], Tensor],
    *,
    group: Any = None,
    norm_idx: int = 0,
    normalization: str = "softmax",
    self_loops: bool = True,
    **score_options: Any,
) -> DistributedAttention:
    r""":func:`~graphops.attention.attention_weights` of a partitioned graph.

    The owned rows of the single-process attention ``A(X)`` with queries
    ``query(X)`` and keys ``key(X)`` (row-wise maps, e.g. ``nn.Linear``), for ``x``
    this rank's ``[n_own, F]`` block:

    1. one halo exchange of ``x``; ``query`` and ``key`` are applied to the owned
       and ghost rows, so every local entry (both directions of every edge with an
       owned end point, and the owned self-loops) is scored here;
    2. normalisation over ``edge_index[norm_idx]``: the group of an owned node is
       complete here (every edge of an owned node is local). With
       ``norm_idx=1`` an owned row also reads the column groups of its ghost
       neighbours, whose maxima (softmax, detached) and sums are the owners',
       exchanged (the sums differentiably); with ``norm_idx=0`` only owned
       groups are read. Squareplus subtracts the *global* maximum score, an
       ``all_reduce`` whose backward routes the summed cotangent to the maximal
       entries as ``torch.max`` does;
    3. heads averaged, as in one process.

    Gradients reach ``x`` (ghost rows through the reverse exchange) and the
    parameters of ``query``/``key``; summed over the ranks they are the
    single-process gradients. Collective (every rank calls it in the same order).

    Args:
        x: ``[n_own, F]`` this rank's rows.
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        query: Row-wise map to the queries ``[rows, heads * d_k]``.
        key: Row-wise map to the keys.
        group: Process group (``None``: the default group).
        norm_idx: ``0`` (rows) or ``1`` (columns), as in one process.
        normalization: ``"softmax"`` or ``"squareplus"``.
        self_loops: Include the self-loops.
        **score_options: ``heads``, ``score``, ``scaling``, ``output_var``,
            ``lengthscale`` of :func:`~graphops.attention.attention_scores`.

    Returns:
        :class:`DistributedAttention`.

    Raises:
        TypeError, ValueError, RuntimeError: as :func:`halo_exchange`;
            ValueError: an unknown ``norm_idx`` or ``normalization`` or any
            error of :func:`~graphops.attention.attention_scores`.
    """
    _check_normalization("distributed_attention", norm_idx, normalization)
    ghosts = halo_exchange(x, plan, group)
    rows = torch.cat([x, ghosts])
    n_own = plan.num_owned
    entries, counted = _attention_entries(plan, self_loops)

    def complete(t: Tensor) -> Tensor:  # ghosts' column groups: their owners'
        own = t[:n_own]
        return torch.cat([own, _HaloExchange.apply(own, plan, group)])

    weights = _head_averaged(
        query(rows),
        key(rows),
        entries,
        plan.local_graph.num_nodes,
        norm_idx,
        normalization,
        complete if norm_idx == 1 else None,
        lambda s: _GlobalMax.apply(s, counted, group),
        **score_options,
    )
    m2 = 2 * plan.local_graph.num_edges
    return DistributedAttention(
        plan, weights[:m2], weights[m2:] if self_loops else None, group, (x, ghosts)
    )
