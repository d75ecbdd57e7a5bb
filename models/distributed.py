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
the graph only through the operators :mod:`graphops.distributed` provides (the
adjacency, the graph gradient and divergence, the sheaf Laplacian, edge
attention, global node means) and row-wise maps. GCN and residual GCN
(:class:`~models.GCNTerm`), GCNII (:class:`~models.GCNIITerm`: its initial residual
:math:`H^0` is row-wise,
so each rank keeps its own rows), GraphCON-GCN (:class:`~models.GraphCONTerm`
with a :class:`~models.GCNCoupling`) and GRAFF (:class:`~models.graff.GRAFFTerm`:
:math:`\bar A` is the distributed ``Adjacency(graph, "sym")`` or ``"gcn"``; the
channel maps :math:`\Omega, W` and the source :math:`\beta F(0)` are row-wise).

PDE-GCN_D/H/M (:class:`~models.pde_gcn.PDEGCNTerm`): its ``prepare``
gets :class:`~graphops.distributed.DistributedGradient` and
:class:`~graphops.distributed.DistributedDivergence` on the rank's local edges,
with the operator weights ``c`` and scaling ``s`` computed from the *global*
degrees (``plan.global_degree``); its edge field is then ``[2 M_local, C]``
(a cut edge on both ranks) and only owned rows of the divergence are formed, so
nothing is counted twice. Edge features are passed as in one process,
``model(x_block, (dgraph, edge_attr))`` with the *whole* graph's ``[M, F_e]`` or
``[2M, F_e]``; the rank keeps the rows ``plan.edge_ids`` of its local edges, in
the global orientation of the distributed gradient (the forward half of the
edge field is the direction ``i -> j``, ``i < j`` global ids, so a ``[2M, F_e]``
row ``M + e`` is the reverse direction of edge ``e`` on every rank).

NSD (:class:`~models.sheaf.SheafDiffusionTerm`, every ``kind``, fixed channels,
edge weights, ``rebuild_sheaf`` on or off): its sheaf Laplacian is built by
:meth:`DistributedGraph.sheaf_laplacian` from the same state as in one process
(the current state of each evaluation, or ``y0`` with ``rebuild_sheaf=False``):
the learner's input rows are halo-exchanged once, every local edge computes its
maps and edge weights, and
:class:`~graphops.distributed.DistributedSheafLaplacian` takes the ghosts' node
blocks :math:`D_v` from their owners.

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
steps. Every built-in family is supported; :func:`check_distributable` refuses
a term it does not know (a custom one, or GraphCON with another coupling) with a
``ValueError`` that names the supported families.

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
    DistributedSheafLaplacian,
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
    "pde-gcn-d/h/m",
    "graff",
    "nsd-diag/orthogonal/general",
    "pairnorm",
    "grand-l",
    "grand-nl",
    "graphcon (attention coupling)",
)


def _refuse(where: str, what: str, why: str) -> ValueError:
    return ValueError(
        f"{where}: the model must be one whose term touches the graph only through "
        f"the operators of graphops.distributed "
        f"({', '.join(SUPPORTED)}); got {what}, which {why}. "
        "Train it on one process (without --distributed)."
    )


def _term_reason(term: Any) -> str | None:
    """Why ``term`` cannot run on a partitioned graph (``None``: it can)."""
    from models.gcn import GCNIITerm, GCNTerm
    from models.graff import GRAFFTerm
    from models.grand import GRAND
    from models.graphcon import AttentionCoupling, GCNCoupling, GraphCONTerm
    from models.pde_gcn import PDEGCNTerm
    from models.sheaf import SheafDiffusionTerm

    if isinstance(
        term, GCNTerm | GCNIITerm | GRAND | PDEGCNTerm | GRAFFTerm | SheafDiffusionTerm
    ):
        return None
    if isinstance(term, GraphCONTerm):
        if isinstance(term.coupling, GCNCoupling | AttentionCoupling):
            return None
        return "couples through a module the partitioned graph does not know"
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

    def adjacency(self, normalization: str = "gcn") -> DistributedOperator:
        """The adjacency ``Adjacency(graph, normalization)`` on this rank's block."""
        return DistributedOperator(
            self.plan, Adjacency, normalization=normalization, group=self.group
        )

    def prepare(
        self, term: Any, t0: float, y0: Any, edge_attr: Tensor | None = None
    ) -> Any:
        """The ``args`` of ``term`` for this forward pass, on this rank's block.

        What ``term.prepare(t0, y0, graph)`` returns on the whole graph, with the
        distributed adjacency (or, for PDE-GCN, the distributed gradient and
        divergence; for NSD, a term that builds its sheaf Laplacian through
        :meth:`sheaf_laplacian`) in place of the global ones. Collective only
        through the operators' later applications (building the adjacency
        exchanges nothing), except NSD with ``rebuild_sheaf=False``, whose sheaf
        is built here, and GRAND-l, whose attention of ``y0`` exchanges the halo.
        GRAND and GraphCON-GAT get their own ``prepare`` with this graph (module
        docstring).

        Args:
            term: The model's term.
            t0: Start time.
            y0: This rank's rows of the initial state.
            edge_attr: PDE-GCN's edge features of the *whole* graph, ``[M, F_e]``
                or ``[2M, F_e]`` (what ``model(x, (graph, edge_attr))`` takes in
                one process; ``model(x_block, (dgraph, edge_attr))`` passes
                them); the rank keeps the rows of its local edges.

        Raises:
            ValueError: ``term`` is not of a supported family, or ``edge_attr``
                is given to a term that takes none.
        """
        from models.gcn import GCNIIArgs, GCNIITerm
        from models.graff import GRAFFTerm
        from models.pde_gcn import PDEGCNTerm
        from models.sheaf import SheafDiffusionTerm

        reason = _term_reason(term)
        if reason is not None:
            raise _refuse(
                "DistributedGraph.prepare", f"term {type(term).__name__}", reason
            )
        if isinstance(term, PDEGCNTerm):
            return self._pde_gcn_args(term, edge_attr)
        if edge_attr is not None:
            raise ValueError(
                "DistributedGraph.prepare: `edge_attr` is taken by PDE-GCN with edge "
                f"features only; got edge features for term {type(term).__name__}. "
                "Call model(x, dgraph) without them."
            )
        if isinstance(term, GCNIITerm):
            return GCNIIArgs(self.adjacency(), y0)
        if isinstance(term, GRAFFTerm):
            return self._graff_args(term, y0)
        if isinstance(term, SheafDiffusionTerm):
            # the term builds its sheaf through self.sheaf_laplacian
            return term.prepare(t0, y0, self)
        args = self._attention_args(term, t0, y0)
        if args is not None:
            return args
        return self.adjacency()

    def _graff_args(self, term: Any, y0: Tensor) -> Any:
        """GRAFF's ``(A_bar, F(0))`` on this rank: its source term is row-wise."""
        return self.adjacency(term.normalization), term.source_state(y0)

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

    def sheaf_laplacian(self, term: Any, layer: int, y: Tensor) -> Any:
        """NSD's sheaf Laplacian of ``layer`` from this rank's rows ``y``.

        What :meth:`models.sheaf.SheafDiffusionTerm.sheaf_laplacian` builds on
        the whole graph, on this rank's block: the learner's input rows are
        halo-exchanged once (the maps of an edge read both end points), the
        maps and edge weights of every local edge are computed on the rank,
        and :class:`~graphops.distributed.DistributedSheafLaplacian` completes
        the ghosts' node blocks from their owners. Collective.

        Args:
            term: A :class:`~models.sheaf.SheafDiffusionTerm`.
            layer: Layer index ``k``.
            y: This rank's state ``[n_own*d', C]`` (node-major stalks).

        Returns:
            The :class:`~graphops.distributed.DistributedSheafLaplacian`.
        """
        plan = self.plan
        term._check_state(y, self)
        xm = term._learner_input(layer, y, plan.num_owned)
        xl = torch.cat([xm, halo_exchange(xm, plan, self.group)])
        maps, weights = term._maps(layer, xl, plan.local_graph)
        return DistributedSheafLaplacian(
            plan,
            maps,
            edge_weight=weights,
            group=self.group,
            **term.laplacian_options(),
        )

    def _pde_gcn_args(self, term: Any, edge_attr: Tensor | None) -> Any:
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
            edge_term=term.edge_term(
                plan.global_num_edges, edge_attr, rows=plan.edge_ids
            ),
        )

    def __repr__(self) -> str:
        """``DistributedGraph(rank=0, parts=2, owned=..., ghosts=...)``."""
        p = self.plan
        return (
            f"DistributedGraph(rank={p.rank}, parts={p.num_parts}, "
            f"owned={p.num_owned}, ghosts={p.num_ghosts})"
        )
