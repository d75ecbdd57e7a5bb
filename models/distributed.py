r"""Models on a partitioned graph: the rank's graph a model family's term accepts.

A :class:`DistributedGraph` stands for the whole graph inside one rank of a
domain-decomposed run (:mod:`graphops.distributed`): it holds the rank's
:class:`~graphops.partition.RankPlan` and process group. Pass it where a
:class:`~models.GraphPDEModel` takes its graph, with the rank's owned rows of the
features (``x[plan.owned]``)::

    logits = model(x[plan.owned], DistributedGraph(plan))

and the model computes the owned rows of the single-process ``model(x, graph)``.
The term gets its ``args`` from :meth:`DistributedGraph.prepare` instead of
:meth:`~models.GraphTerm.prepare`: for every supported family the same ``args``
with each ``Adjacency(graph, "gcn")`` replaced by the
:class:`~graphops.distributed.DistributedOperator` of the rank's plan (a halo
exchange, then the local SpMM). The family's ``forward`` runs unchanged, and so do
the encoder and decoder (row-wise maps).

**Supported families** (:data:`SUPPORTED`): those whose right-hand side touches
the graph only through the GCN adjacency, the graph gradient and divergence,
attention on edges, global means and row-wise maps. GCN and residual GCN
(:class:`~models.GCNTerm`), GCNII (:class:`~models.GCNIITerm`: its initial
residual :math:`H^0` is row-wise, so each rank keeps its own rows), GraphCON-GCN
(:class:`~models.GraphCONTerm` with a :class:`~models.GCNCoupling`) and
PDE-GCN_D/H/M (:class:`~models.pde_gcn.PDEGCNTerm` without edge features): its
``prepare`` gets :class:`~graphops.distributed.DistributedGradient` and
:class:`~graphops.distributed.DistributedDivergence` on the rank's local edges,
with the operator weights ``c`` and scaling ``s`` computed from the *global*
degrees (``plan.global_degree``); its edge field is then ``[2 M_local, C]``
(a cut edge on both ranks) and only owned rows of the divergence are formed, so
nothing is counted twice.

*PairNorm* (:class:`~models.GCNTerm` with ``norm``): its mean over all nodes is
:meth:`~graphops.distributed.DistributedOperator.node_mean`, the owned rows'
column sums all-reduced (differentiably, :func:`~graphops.distributed.allreduce_sum`)
over the global node count.

*GRAND-l and GRAND-nl* (:class:`~models.grand.GRAND`): the family's own
``prepare`` and ``forward`` run with this graph in place of the
:class:`~graphops.Graph`; :class:`~models.grand.GRANDAttention` then calls
:meth:`DistributedGraph.attention`, i.e.
:func:`graphops.distributed.distributed_attention`: one halo exchange of the
state, scores on every local entry, the owned rows of ``A(X)`` exact for
either normalisation index and for softmax and squareplus (see there), and
``A @ x`` through the owned rows of the one sparse kernel. GRAND-l computes it
once from :math:`X(0)`, GRAND-nl at every evaluation, as in one process.

*GraphCON-GAT* (:class:`~models.GraphCONTerm` with an
:class:`~models.graphcon.AttentionCoupling`): its softmax is over each node's own
edges, so row ``i`` reads only ``i``, its neighbours and the edges between
them; the coupling is evaluated on the rank's owned and ghost rows over
``plan.local_graph`` after one halo exchange and the owned rows are kept
(:meth:`DistributedGraph.local_rows`).

An adaptive controller (GRAND's ``Dopri5`` + ``PIController``) gets a global
error norm (:meth:`DistributedGraph.controller`), so every rank takes the same
steps. The others are refused with a ``ValueError`` by :func:`check_distributable`
(and by :meth:`DistributedGraph.prepare`), because they do global or edge-space
work that the distributed operators do not provide: PDE-GCN with edge features
(their rows would have to be split by the plan too), sheaf diffusion and GRAFF.

**Collectives.** Every application of the operator is a halo exchange, so all
ranks must run the same forward and backward passes (an SPMD program); the
gradients of the replicated parameters are then summed over the ranks (see
:mod:`models.experiments.distributed`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor, nn

from graphops import Adjacency
from graphops._checks import describe
from graphops.distributed import (
    DistributedAttention,
    DistributedDivergence,
    DistributedGradient,
    DistributedOperator,
    _allreduce,
    distributed_attention,
    halo_exchange,
)
from graphops.partition import RankPlan

__all__ = ["SUPPORTED", "DistributedGraph", "check_distributable"]

#: Model names (``graphpde train --model``) that train on a partitioned graph.
SUPPORTED: tuple[str, ...] = (
    "gcn",
    "res-gcn",
    "gcnii",
    "graphcon (GCN coupling)",
    "pde-gcn-d/h/m (without edge features)",
    "pairnorm",
    "grand-l",
    "grand-nl",
    "graphcon (attention coupling)",
)


def _refuse(where: str, what: str, why: str) -> ValueError:
    return ValueError(
        f"{where}: the model must be one whose term touches the graph only through "
        f"the GCN adjacency, the graph gradient and divergence or edge attention "
        f"({', '.join(SUPPORTED)}); got {what}, which {why}. "
        "Train it on one process (without --distributed)."
    )


def _term_reason(term: Any) -> str | None:
    """Why ``term`` cannot run on a partitioned graph (``None``: it can)."""
    from models.gcn import GCNIITerm, GCNTerm
    from models.grand import GRAND
    from models.graphcon import AttentionCoupling, GCNCoupling, GraphCONTerm
    from models.pde_gcn import PDEGCNTerm

    if isinstance(term, GCNTerm | GCNIITerm | GRAND):
        return None
    if isinstance(term, GraphCONTerm):
        if isinstance(term.coupling, GCNCoupling | AttentionCoupling):
            return None
        return "couples through a module the partitioned graph does not know"
    if isinstance(term, PDEGCNTerm):
        if term.edge_map is not None:
            return (
                "takes edge features (model(x, (graph, edge_attr)) has no "
                "partitioned form)"
            )
        return None
    return "does global or edge-space work the distributed operators do not provide"


def check_distributable(model: nn.Module, where: str = "check_distributable") -> None:
    """Refuse a model that cannot run on a partitioned graph.

    Args:
        model: A :class:`~models.GraphPDEModel`.
        where: The caller, for the message.

    Raises:
        ValueError: its term is not one of the supported families (module
            docstring), naming them.

    Example:
        >>> from models import gcn
        >>> check_distributable(gcn.from_config(4, 2, hidden=8, layers=2))
    """
    term = getattr(model, "term", None)
    reason = _term_reason(term)
    if reason is not None:
        raise _refuse(where, f"a model with term {type(term).__name__}", reason)


class DistributedGraph:
    """The graph of one rank of a partitioned run (pass it as ``model(x, graph)``).

    Args:
        plan: This rank's :class:`~graphops.partition.RankPlan`.
        group: The process group (``None``: the default group).

    Raises:
        TypeError: ``plan`` is not a RankPlan.

    Attributes:
        plan: The plan.
        group: The group.
    """

    def __init__(self, plan: RankPlan, group: Any = None) -> None:
        """Store the plan (see the class docstring)."""
        if not isinstance(plan, RankPlan):
            raise TypeError(
                f"DistributedGraph: `plan` must be a RankPlan; got {describe(plan)}. "
                "Build it with graphops.partition.halo_plan(graph, part, rank)."
            )
        self.plan, self.group = plan, group

    @property
    def num_nodes(self) -> int:
        """Rows this rank holds (its owned nodes)."""
        return self.plan.num_owned

    def adjacency(self) -> DistributedOperator:
        """The GCN adjacency ``Adjacency(graph, "gcn")`` on this rank's block."""
        return DistributedOperator(
            self.plan, Adjacency, normalization="gcn", group=self.group
        )

    def prepare(self, term: Any, t0: float, y0: Any) -> Any:
        """The ``args`` of ``term`` for this forward pass, on this rank's block.

        What ``term.prepare(t0, y0, graph)`` returns on the whole graph, with the
        distributed adjacency (or, for PDE-GCN, the distributed gradient and
        divergence) in place of the global ones; GRAND and GraphCON-GAT get their
        own ``prepare`` with this graph (module docstring). Collective only
        through the operators' applications (GRAND-l's attention of ``y0`` is
        one: it exchanges the halo).

        Raises:
            ValueError: ``term`` is not of a supported family.
        """
        from models.gcn import GCNIIArgs, GCNIITerm
        from models.pde_gcn import PDEGCNTerm

        reason = _term_reason(term)
        if reason is not None:
            raise _refuse(
                "DistributedGraph.prepare", f"term {type(term).__name__}", reason
            )
        if isinstance(term, GCNIITerm):
            return GCNIIArgs(self.adjacency(), y0)
        if isinstance(term, PDEGCNTerm):
            return self._pde_gcn_args(term)
        args = self._attention_args(term, t0, y0)
        if args is not None:
            return args
        return self.adjacency()

    def _attention_args(self, term: Any, t0: float, y0: Any) -> Any:
        """GRAND's and GraphCON-GAT's ``args``: the family's own, on this graph.

        ``None`` for the other families. The family's ``prepare`` receives this
        :class:`DistributedGraph` as its graph; its attention layer then calls
        :meth:`attention` (GRAND) or :meth:`local_rows` (GraphCON-GAT).
        """
        from models.grand import GRAND
        from models.graphcon import AttentionCoupling, GraphCONTerm

        if isinstance(term, GRAND) or (
            isinstance(term, GraphCONTerm)
            and isinstance(term.coupling, AttentionCoupling)
        ):
            return term.prepare(t0, y0, self)
        return None

    def attention(
        self, x: Tensor, query: Any, key: Any, **options: Any
    ) -> DistributedAttention:
        """GRAND's attention of this rank's rows ``x``: the owned rows of ``A(X)``.

        :func:`graphops.distributed.distributed_attention` with this plan and
        group; ``options`` are those of
        :func:`graphops.attention.attention_weights`. Collective.
        """
        return distributed_attention(
            x, self.plan, query, key, group=self.group, **options
        )

    def local_rows(self, fn: Any, x: Tensor) -> Tensor:
        """``fn(rows, local_graph)[:n_own]``: a map whose row ``i`` reads ``i``'s edges.

        One halo exchange of ``x`` (this rank's ``[n_own, F]`` rows); ``fn`` is
        evaluated on the owned and ghost rows, on ``plan.local_graph`` (which
        holds every edge of an owned node), and the owned rows are returned:
        exact when row ``i`` of ``fn`` depends only on the rows of ``i``, its
        neighbours and the edges between them (GraphCON-GAT's row softmax).
        The ghost rows are computed and dropped. Collective.
        """
        ghosts = halo_exchange(x, self.plan, self.group)
        out = fn(torch.cat([x, ghosts]), self.plan.local_graph)
        return out[: self.plan.num_owned]

    def controller(self, controller: Any) -> Any:
        """``controller`` with a global error norm (adaptive steps on every rank).

        A :class:`~solvers.PIController` without ``reduce`` gets one that sums
        over the ranks, so every rank accepts and rejects the same steps;
        other controllers are returned unchanged.
        """
        from solvers import PIController

        if isinstance(controller, PIController) and controller.reduce is None:
            return dataclasses.replace(controller, reduce=self.allreduce)
        return controller

    def allreduce(self, t: Tensor, op: str = "sum") -> Tensor:
        """``t`` summed (``"sum"``) or maximised (``"max"``) over the ranks.

        Collective; not differentiable (error norms, counts).
        """
        return _allreduce(t, op, self.group)

    def _pde_gcn_args(self, term: Any) -> Any:
        """PDE-GCN's prepared operators on this rank (see the module docstring)."""
        from models.pde_gcn import _Prepared, _weights_from

        plan = self.plan
        local = plan.local_graph
        i, j = local.edge_index
        deg = plan.global_degree.to(local.edge_weight.dtype)
        c, s = _weights_from(local.edge_weight, i, j, deg, term.graph_operator)
        return _Prepared(
            graph=local,
            grad=DistributedGradient(plan, group=self.group, validate=False),
            div=DistributedDivergence(plan, c, group=self.group, validate=False),
            c=c.unsqueeze(-1),
            s=None if s is None else s[: plan.num_owned].unsqueeze(-1),
            edge_term=None,
        )

    def __repr__(self) -> str:
        """``DistributedGraph(rank=0, parts=2, owned=..., ghosts=...)``."""
        p = self.plan
        return (
            f"DistributedGraph(rank={p.rank}, parts={p.num_parts}, "
            f"owned={p.num_owned}, ghosts={p.num_ghosts})"
        )
