r"""GraphCON: graph-coupled oscillator networks (Rusch et al. 2022).

Spec: ``shared/REPRODUCTION.md`` section 4. The node features are the positions of
oscillators coupled through the graph,

.. math::

    X'' = \sigma\big(F_\theta(X)\big) - \gamma X - \alpha X',

written as a first-order system on the state :math:`(X, Y)` with :math:`Y = X'`
(:class:`GraphCONTerm` is a :class:`~solvers.terms.SecondOrderTerm`). The initial
state is :math:`X^0 = Y^0 = \mathrm{ReLU}(\mathrm{Enc}(x))` (spec 4.2/4.3) and the
decoder reads :math:`X^N`. The default integrator is the IMEX / symplectic Euler
step of the paper (spec 4.2), :class:`solvers.SymplecticEuler`:

.. math::

    Y^n = Y^{n-1} + \Delta t\,\big[\sigma(F(X^{n-1})) - \gamma X^{n-1}
          - \alpha Y^{n-1}\big], \qquad X^n = X^{n-1} + \Delta t\, Y^n .

``SymplecticEuler`` updates the velocity first, from the old position and the old
velocity, then the position from the **new** velocity: exactly this recurrence
(checked by ``tests/models/test_graphcon.py`` against a hand-unrolled loop).

**Couplings** :math:`\sigma(F(X))` (the activation is part of the coupling):

* :class:`GCNCoupling` (GraphCON-GCN, spec 4.2 items 3-4): one GCN layer shared by
  all steps, :math:`\mathrm{GCN}(X) = \hat A X \Theta + b` with
  :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` (``Adjacency(graph,
  "gcn")``), plus the residual variants of the authors' code:
  ``res_version=1``: :math:`\mathrm{ReLU}(\mathrm{GCN}(X) - R(X\Theta))`;
  ``res_version=2``: :math:`\mathrm{ReLU}(\mathrm{GCN}(X) - X\Theta + R(X))`;
  ``res_version=0``: :math:`\mathrm{ReLU}(\mathrm{GCN}(X))` (the paper's plain
  form); :math:`R` is a separate ``Linear`` with bias.
* :class:`AttentionCoupling` (GraphCON-GAT, spec 4.2): a GAT layer with ``heads``
  heads (per-edge softmax attention over the neighbours and the node itself, built
  from ``Adjacency`` operators with per-direction ``[2M]`` weights), a residual
  ``Linear`` to the concatenated heads, ELU, then the heads are averaged.

**Paper vs code choices** (each can be expressed; the default is stated):

* *Dropout inside the recurrence.* The authors' code applies dropout to
  :math:`Y^n` and :math:`X^n` after every step. That is not part of an ODE
  right-hand side, so it is not in the term: it is the solver value
  :class:`StepDropout` wrapping a fixed-step solver (``StepDropout(
  SymplecticEuler(), p)``), active only in training mode. Swapping the solver
  (``model.solver = RK4()``) integrates the ODE without it; in evaluation mode it
  is the plain inner solver. :func:`from_config` uses it by default
  (``step_dropout=True``) because the published numbers came from the code
  (spec 4.2 lists it as part of the discretisation). The dropout on
  :math:`X^0` and :math:`Y^0` (two independent masks) is done by
  :meth:`GraphCONTerm.initial_state`.
* *The dropout-key bug* (spec 4.3): the best-params dictionary stores the dropout
  under ``dropout`` but the model reads ``drop``, whose default is ``0.3``, so the
  released script runs every WebKB dataset with dropout 0.3. :func:`from_config`
  defaults to that effective value; pass
  ``dropout=GRAPHCON_HETEROPHILIC[name]["dropout"]`` for the stored one. Which one
  produced the paper's numbers is not known (NF).
* *Head averaging.* The code averages the heads with ``view(N, -1, heads).mean(-1)``
  on the concatenated ``[N, heads * C]`` output, which averages groups of
  ``heads`` *consecutive channels* (mostly of one head), not the heads.
  ``head_average="heads"`` (default) averages the heads;
  ``head_average="code"`` reproduces the code's reshaping.
* *Directed graphs.* The heterophilic code reads the WebKB edges as a directed
  graph (spec 1.3); :class:`graphops.Graph` is undirected, so a directed input
  must be symmetrised (``directed="symmetrize"``).
* ``alpha`` multiplies the velocity and ``gamma`` the position, as in the README
  equation (the code's names agree).

**Initialisation** (spec 4.3 item 7): every weight matrix of the GCN model
(encoder, GCN, residual, decoder) is drawn from
:math:`U[-1/\sqrt{\text{hidden}}, 1/\sqrt{\text{hidden}}]`; biases keep their
PyTorch defaults and the GCN bias starts at zero (PyG's ``GCNConv``). The GAT model
of the code has no such reset: Glorot for the attention layer, PyTorch defaults
elsewhere.

References:
    Rusch, Chamberlain, Rowbottom, Mishra & Bronstein (2022), Graph-Coupled
    Oscillator Networks, ICML. Code: tk-rusch/GraphCON at ``3326c48``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphops import Adjacency, Graph
from graphops._checks import check_int, check_real, describe
from models._blocks import glorot_, uniform_fan_
from models.model import GraphPDEModel, GraphTerm, _is_distributed
from solvers import AbstractSolver, SymplecticEuler
from solvers.base import (
    AbstractAdaptiveSolver,
    AbstractIntervalSolver,
    AbstractMultistepSolver,
    Step,
)
from solvers.terms import SecondOrderTerm, Term

__all__ = [
    "GRAPHCON_HETEROPHILIC",
    "AttentionCoupling",
    "GCNCoupling",
    "GraphCONTerm",
    "StepDropout",
    "from_config",
]

# Spec 4.3 (V1-code, heterophilic_graphs/best_params.py). "dropout" is the value
# stored under the key the model never reads (the dropout-key bug); lr and
# weight_decay are training settings, kept here for the training code.
GRAPHCON_HETEROPHILIC: dict[str, dict[str, Any]] = {
    "cornell": {
        "hidden": 256,
        "layers": 1,
        "alpha": 0.0,
        "gamma": 0.0,
        "dt": 1.0,
        "lr": 0.00721,
        "weight_decay": 0.0012708787092020595,
        "dropout": 0.15,
        "res_version": 1,
        "provenance": "V1-code",
    },
    "wisconsin": {
        "hidden": 64,
        "layers": 2,
        "alpha": 0.0,
        "gamma": 0.0,
        "dt": 1.0,
        "lr": 0.00356,
        "weight_decay": 0.008126619200091946,
        "dropout": 0.23,
        "res_version": 2,
        "provenance": "V1-code",
    },
    "texas": {
        "hidden": 256,
        "layers": 2,
        "alpha": 0.0,
        "gamma": 0.0,
        "dt": 1.0,
        "lr": 0.00155,
        "weight_decay": 0.0008549327066268375,
        "dropout": 0.68,
        "res_version": 2,
        "provenance": "V1-code",
    },
}

# The command-line default of `drop`, the key the model reads (spec 4.3).
_EFFECTIVE_DROPOUT = 0.3

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu,
    "elu": F.elu,
    "tanh": torch.tanh,
    "identity": lambda x: x,
}


def _activation(where: str, act: str) -> Callable[[Tensor], Tensor]:
    if act not in _ACTIVATIONS:
        raise ValueError(
            f"{where}: `act` must be one of {sorted(_ACTIVATIONS)}; got {act!r}."
        )
    return _ACTIVATIONS[act]


class GCNCoupling(nn.Module):
    r"""GraphCON's shared GCN coupling :math:`\sigma(F(X))` with the code's residuals.

    .. math::

        \mathrm{GCN}(X) = \hat A X \Theta + b, \qquad
        \sigma(F(X)) = \begin{cases}
        \sigma(\mathrm{GCN}(X)) & \text{res\_version} = 0 \\
        \sigma(\mathrm{GCN}(X) - R(X\Theta)) & \text{res\_version} = 1 \\
        \sigma(\mathrm{GCN}(X) - X\Theta + R(X)) & \text{res\_version} = 2
        \end{cases}

    with :math:`\hat A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}` (PyG ``GCNConv``'s
    operator, ``Adjacency(graph, "gcn")``) and :math:`R` a ``Linear`` with bias
    (spec 4.2 item 4). One layer is shared by every step.

    Args:
        channels: Width ``C`` of ``X``.
        res_version: ``0`` (no residual), ``1`` or ``2``.
        act: ``"relu"`` (the code's), ``"elu"``, ``"tanh"`` or ``"identity"``.

    Raises:
        ValueError: bad ``channels``, ``res_version`` or ``act``.

    Shapes:
        ``x``: ``[N, C]`` -> ``[N, C]``.
    """

    def __init__(self, channels: int, *, res_version: int = 1, act: str = "relu"):
        """Build the layer (see the class docstring)."""
        super().__init__()
        c = check_int("GCNCoupling", "channels", channels, low=1)
        if res_version not in (0, 1, 2) or isinstance(res_version, bool):
            raise ValueError(
                "GCNCoupling: `res_version` must be 0 (none), 1 or 2; got "
                f"{res_version!r}."
            )
        self.res_version = res_version
        self.act_name = act
        self.act = _activation("GCNCoupling", act)
        # GCNConv's weight Theta (no bias inside the product) and its own bias.
        self.lin = nn.Linear(c, c, bias=False)
        self.bias = nn.Parameter(torch.zeros(c))
        self.res = nn.Linear(c, c) if res_version else None

    def prepare(self, graph: Graph) -> Adjacency:
        """The GCN operator of ``graph``, built once per forward pass."""
        return Adjacency(graph, "gcn")

    def forward(self, x: Tensor, adj: Adjacency) -> Tensor:
        """``sigma(F(x))`` with the operator from :meth:`prepare`."""
        xw = self.lin(x)
        h = adj @ xw + self.bias
        if self.res_version == 1:
            h = h - self.res(xw)
        elif self.res_version == 2:
            h = h - xw + self.res(x)
        return self.act(h)

    def extra_repr(self) -> str:
        """``res_version`` and the activation."""
        return f"res_version={self.res_version}, act={self.act_name!r}"


class AttentionCoupling(nn.Module):
    r"""GraphCON-GAT's coupling: GAT attention, a residual, ELU, heads averaged.

    For each head :math:`h` (PyG ``GATConv``, recomputed from the current
    :math:`X` at every evaluation):

    .. math::

        e^h_{ij} = \mathrm{LeakyReLU}\big(a_{\mathrm{dst}}^h \cdot W^h x_i
                   + a_{\mathrm{src}}^h \cdot W^h x_j\big), \qquad
        \alpha^h_{ij} = \frac{\exp e^h_{ij}}{\sum_{k \in N(i) \cup \{i\}}
                        \exp e^h_{ik}},

        \mathrm{GAT}^h(X)_i = \alpha^h_{ii} W^h x_i
            + \sum_{j \in N(i)} \alpha^h_{ij} W^h x_j + b^h,

    then :math:`\sigma(F(X)) = \mathrm{mean}_h\, \mathrm{ELU}\big(\mathrm{GAT}^h(X) +
    R^h(X)\big)` with :math:`R` a ``Linear`` to the concatenated heads. The
    neighbour sum is ``Adjacency(graph, None, edge_weight=alpha)`` with the
    per-direction ``[2M]`` attention weights (rows sum to one with the self term).

    Args:
        channels: Width ``C`` of ``X``.
        heads: Number of heads (the code's 4).
        negative_slope: LeakyReLU slope of the scores (PyG's 0.2).
        act: Activation after the residual (``"elu"``, the code's).
        head_average: ``"heads"`` averages the heads; ``"code"`` reproduces the
            code's ``view(N, -1, heads).mean(-1)`` (module docstring).

    Raises:
        ValueError: bad sizes, slope, activation or ``head_average``.

    Shapes:
        ``x``: ``[N, C]`` -> ``[N, C]``.
    """

    def __init__(
        self,
        channels: int,
        *,
        heads: int = 4,
        negative_slope: float = 0.2,
        act: str = "elu",
        head_average: str = "heads",
    ):
        """Build the layer (see the class docstring)."""
        super().__init__()
        c = check_int("AttentionCoupling", "channels", channels, low=1)
        h = check_int("AttentionCoupling", "heads", heads, low=1)
        self.negative_slope = check_real(
            "AttentionCoupling", "negative_slope", negative_slope, low=0.0
        )
        if head_average not in ("heads", "code"):
            raise ValueError(
                "AttentionCoupling: `head_average` must be 'heads' or 'code'; got "
                f"{head_average!r}."
            )
        self.channels, self.heads, self.head_average = c, h, head_average
        self.act_name = act
        self.act = _activation("AttentionCoupling", act)
        self.lin = nn.Linear(c, h * c, bias=False)
        self.att_src = nn.Parameter(torch.empty(h, c))
        self.att_dst = nn.Parameter(torch.empty(h, c))
        self.bias = nn.Parameter(torch.zeros(h * c))
        self.res = nn.Linear(c, h * c)
        # PyG GATConv's initialisation (the code's GAT model keeps it).
        glorot_(self.lin.weight)
        glorot_(self.att_src)
        glorot_(self.att_dst)

    def prepare(self, graph: Graph) -> Graph:
        """The graph itself: the attention depends on ``X`` at every evaluation."""
        return graph

    def attention(self, x: Tensor, graph: Graph) -> tuple[Tensor, Tensor, Tensor]:
        """``(alpha_edges [2M, H], alpha_self [N, H], Wx [N, H, C])``.

        ``alpha_edges[k, h]`` is the weight node ``directed_edge_index[0, k]`` gives
        to node ``directed_edge_index[1, k]``; each node's weights (neighbours and
        itself) sum to one.
        """
        n = x.shape[0]
        hx = self.lin(x).view(n, self.heads, self.channels)
        s_src = (hx * self.att_src).sum(-1)
        s_dst = (hx * self.att_dst).sum(-1)
        i, j = graph.directed_edge_index
        e = F.leaky_relu(s_dst[i] + s_src[j], self.negative_slope)
        e_self = F.leaky_relu(s_dst + s_src, self.negative_slope)
        # A per-node shift leaves the softmax unchanged; detached, it only keeps
        # exp() in range and adds nothing to the gradient.
        index = i.unsqueeze(1).expand_as(e)
        shift = e_self.detach().scatter_reduce(
            0, index, e.detach(), "amax", include_self=True
        )
        w = torch.exp(e - shift[i])
        w_self = torch.exp(e_self - shift)
        denom = w_self.index_add(0, i, w)
        return w / denom[i], w_self / denom, hx

    def forward(self, x: Tensor, graph: Graph) -> Tensor:
        """``sigma(F(x))``, heads averaged.

        On a rank's :class:`~models.distributed.DistributedGraph` (``x`` its owned
        rows): row ``i`` reads only the rows of ``i`` and its neighbours (the
        softmax is over ``i``'s own edges), so it is evaluated on the rank's owned
        and ghost rows after one halo exchange, and the owned rows are kept
        (:meth:`~models.distributed.DistributedGraph.local_rows`).
        """
        if _is_distributed(graph):
            return graph.local_rows(self.forward, x)
        n = x.shape[0]
        alpha, alpha_self, hx = self.attention(x, graph)
        out = torch.stack(
            [
                Adjacency(graph, None, edge_weight=alpha[:, k], validate=False)
                @ hx[:, k]
                + alpha_self[:, k : k + 1] * hx[:, k]
                for k in range(self.heads)
            ],
            dim=1,
        )
        h = self.act(out.reshape(n, -1) + self.bias + self.res(x))
        if self.head_average == "heads":
            return h.view(n, self.heads, self.channels).mean(1)
        return h.view(n, self.channels, self.heads).mean(-1)

    def extra_repr(self) -> str:
        """Heads, activation and head averaging."""
        return (
            f"heads={self.heads}, act={self.act_name!r}, "
            f"head_average={self.head_average!r}"
        )


class GraphCONTerm(GraphTerm, SecondOrderTerm):
    r"""GraphCON's right-hand side on the state :math:`(X, Y)`, :math:`Y = X'`.

    .. math:: X' = Y, \qquad Y' = \sigma(F(X)) - \gamma X - \alpha Y

    The acceleration reads the velocity only through :math:`-\alpha Y`, so the term
    is ``velocity_dependent`` exactly when ``alpha != 0`` (then the leapfrog
    solvers refuse it; ``SymplecticEuler`` and the first-order solvers accept it).

    Args:
        coupling: :class:`GCNCoupling`, :class:`AttentionCoupling` or any module
            with ``prepare(graph)`` and ``forward(x, prepared) -> sigma(F(x))``.
        alpha: Damping of the velocity, ``>= 0``.
        gamma: Restoring force on the position, ``>= 0``.
        dropout: Dropout on :math:`X^0` and :math:`Y^0` (two masks, as the code;
            spec 4.2 item 2), training mode only.

    Raises:
        TypeError: ``coupling`` has no ``prepare``/``forward``.
        ValueError: negative ``alpha``/``gamma`` or a dropout outside ``[0, 1)``.

    Shapes:
        state ``(x, v)``: ``[N, C]`` each.

    Example:
        >>> term = GraphCONTerm(GCNCoupling(4, res_version=0), alpha=1.0, gamma=1.0)
        >>> x0 = torch.randn(graph.num_nodes, 4)
        >>> y0 = term.initial_state(x0)
        >>> dx, dv = term(0.0, y0, term.prepare(0.0, y0, graph))
    """

    def __init__(
        self,
        coupling: nn.Module,
        *,
        alpha: float = 1.0,
        gamma: float = 1.0,
        dropout: float = 0.0,
    ) -> None:
        """Store the coupling and the coefficients (see the class docstring)."""
        if not (
            isinstance(coupling, nn.Module)
            and callable(getattr(coupling, "prepare", None))
        ):
            raise TypeError(
                "GraphCONTerm: `coupling` must be an nn.Module with prepare(graph) "
                f"and forward(x, prepared); got {describe(coupling)}. Use "
                "GCNCoupling(channels) or AttentionCoupling(channels)."
            )
        a = check_real("GraphCONTerm", "alpha", alpha, low=0.0)
        g = check_real("GraphCONTerm", "gamma", gamma, low=0.0)
        p = check_real(
            "GraphCONTerm", "dropout", dropout, low=0.0, high=1.0, high_open=True
        )
        super().__init__(self._accel, velocity_dependent=a != 0.0)
        self.coupling = coupling
        self.alpha, self.gamma, self.dropout = a, g, p

    def _accel(self, t: Any, x: Tensor, v: Tensor, args: Any) -> Tensor:
        out = self.coupling(x, args)
        if self.gamma != 0.0:
            out = out - self.gamma * x
        if self.alpha != 0.0:
            out = out - self.alpha * v
        return out

    def initial_state(self, x0: Tensor) -> tuple[Tensor, Tensor]:
        """``(X0, Y0)``: both the encoder output, each with its own dropout mask."""
        y = F.dropout(x0, self.dropout, self.training)
        x = F.dropout(x0, self.dropout, self.training)
        return x, y

    def prepare(self, t0: float, y0: Any, graph: Graph) -> Any:
        """The coupling's per-forward data (the GCN operator, or the graph)."""
        return self.coupling.prepare(graph)

    def extra_repr(self) -> str:
        """The coefficients."""
        return f"alpha={self.alpha:g}, gamma={self.gamma:g}, dropout={self.dropout:g}"


@dataclass(frozen=True)
class StepDropout(AbstractSolver):
    r"""Dropout on every component of the state after each step of a solver.

    The GraphCON code applies dropout to :math:`Y^n` and :math:`X^n` after every
    IMEX step (spec 4.2). That is a property of the discretisation, not of the
    ODE, so it is a solver value wrapping a fixed-step, one-step solver:

    .. math:: y_{n+1} = \mathrm{Dropout}_p\big(\Phi_{\Delta t}(y_n)\big)

    with :math:`\Phi` the inner solver's step and independent masks per component
    and step. It is active only while the term is in training mode
    (``term.training``), so in evaluation mode the result equals the inner solver's
    to the bit. Adaptive, multistep and whole-interval (torchdiffeq) solvers are
    refused: an error estimate or a history across a random mask means nothing.

    Args:
        solver: The inner one-step fixed-step solver (``SymplecticEuler()``).
        p: Dropout probability in ``[0, 1)``.

    Raises:
        TypeError: ``solver`` is not a solver value.
        ValueError: ``solver`` is adaptive, multistep or integrates a whole
            interval, or ``p`` is outside ``[0, 1)``.

    Example:
        >>> model = from_config(4, 2, hidden=8, step_dropout=False)
        >>> model.solver = StepDropout(SymplecticEuler(), p=0.3)
        >>> model.eval()(torch.randn(graph.num_nodes, 4), graph).shape
        torch.Size([16, 2])
    """

    solver: AbstractSolver = SymplecticEuler()
    p: float = 0.3

    # The inner solver checks the term in init(); this wrapper is not adaptive, so
    # solve() refuses an adaptive controller (dropout between steps needs the
    # steps of ConstantStep).
    term_type: ClassVar[type[Term]] = Term

    def __post_init__(self) -> None:
        """Validate the inner solver and ``p``."""
        if not isinstance(self.solver, AbstractSolver):
            raise TypeError(
                "StepDropout: `solver` must be a solver value such as "
                f"SymplecticEuler(); got {describe(self.solver)}."
            )
        markers = (
            AbstractAdaptiveSolver,
            AbstractMultistepSolver,
            AbstractIntervalSolver,
        )
        if isinstance(self.solver, markers):
            raise ValueError(
                "StepDropout: `solver` must be a fixed-step one-step solver; got "
                f"{self.solver!r}. Use SymplecticEuler(), Euler() or RK4()."
            )
        p = check_real("StepDropout", "p", self.p, low=0.0, high=1.0, high_open=True)
        object.__setattr__(self, "p", p)

    @property
    def order(self) -> int:
        """The inner solver's order (without dropout)."""
        return self.solver.order

    def init(self, term: Term, t0: Any, y0: Any, args: Any) -> Any:
        """The inner solver's state (it validates the term)."""
        return self.solver.init(term, t0, y0, args)

    def after_jump(self, state: Any) -> Any:
        """The inner solver's rule."""
        return self.solver.after_jump(state)

    def step(
        self, term: Term, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """The inner step, then dropout on each state component (training only)."""
        s = self.solver.step(term, t0, dt, y0, args, state)
        if not (term.training and self.p > 0.0):
            return s
        y1 = s.y1
        if isinstance(y1, tuple):
            y1 = tuple(F.dropout(leaf, self.p, True) for leaf in y1)
        else:
            y1 = F.dropout(y1, self.p, True)
        return s._replace(y1=y1)

    def linear_stability(self) -> Any:
        """The inner solver's (dropout is not analysed)."""
        return self.solver.linear_stability()


def _table_row(dataset: str) -> dict[str, Any]:
    key = dataset.lower() if isinstance(dataset, str) else dataset
    if key not in GRAPHCON_HETEROPHILIC:
        raise ValueError(
            "graphcon.from_config: `dataset` must be one of "
            f"{sorted(GRAPHCON_HETEROPHILIC)} (spec 4.3; other datasets are NF); got "
            f"{dataset!r}. Pass every hyperparameter explicitly for others."
        )
    return GRAPHCON_HETEROPHILIC[key]


def from_config(
    num_features: int,
    num_classes: int,
    *,
    dataset: str = "texas",
    hidden: int | None = None,
    layers: int | None = None,
    dt: float | None = None,
    alpha: float | None = None,
    gamma: float | None = None,
    res_version: int | None = None,
    dropout: float = _EFFECTIVE_DROPOUT,
    step_dropout: bool = True,
    coupling: str = "gcn",
    heads: int = 4,
    head_average: str = "heads",
) -> GraphPDEModel:
    r"""GraphCON of the heterophilic code with the spec 4.3 defaults.

    ``x -> Dropout(p) -> Linear -> ReLU`` gives :math:`X^0 = Y^0` (dropout on each),
    ``layers`` steps of size ``dt`` of :class:`GraphCONTerm` with
    ``StepDropout(SymplecticEuler(), p)`` (or ``SymplecticEuler()`` with
    ``step_dropout=False``), then a ``Linear`` decoder on :math:`X^N`;
    ``t1 = layers * dt``. Every value left ``None`` comes from the ``dataset`` row of
    :data:`GRAPHCON_HETEROPHILIC`.

    Args:
        num_features: Input width.
        num_classes: Output width (the code hard-codes 5, the WebKB classes).
        dataset: ``"texas"``, ``"wisconsin"`` or ``"cornell"`` (spec 4.3 table).
        hidden: Width ``nhid``.
        layers: Number of steps ``N``.
        dt: Step :math:`\Delta t` (1 in the code).
        alpha: Velocity damping :math:`\alpha`.
        gamma: Position restoring coefficient :math:`\gamma`.
        res_version: ``0`` (none), ``1`` or ``2`` (GCN coupling only).
        dropout: One dropout probability everywhere, as the code. Default 0.3,
            the value the released script runs with (the dropout-key bug); the
            stored value is ``GRAPHCON_HETEROPHILIC[dataset]["dropout"]``.
        step_dropout: Dropout after every step (the code's form) through
            :class:`StepDropout`.
        coupling: ``"gcn"`` (GraphCON-GCN) or ``"attention"`` (GraphCON-GAT).
        heads: Attention heads (``coupling="attention"``).
        head_average: ``"heads"`` or ``"code"`` (:class:`AttentionCoupling`).

    Returns:
        The :class:`~models.GraphPDEModel`.

    Raises:
        ValueError: unknown ``dataset`` or ``coupling``, or a bad value.

    Example:
        >>> model = from_config(1703, 5, dataset="texas")
        >>> model.depth, model.solver
        (2, StepDropout(solver=SymplecticEuler(), p=0.3))
    """
    row = _table_row(dataset)
    c = check_int(
        "graphcon.from_config",
        "hidden",
        row["hidden"] if hidden is None else hidden,
        low=1,
    )
    n = check_int(
        "graphcon.from_config",
        "layers",
        row["layers"] if layers is None else layers,
        low=1,
    )
    h = check_real(
        "graphcon.from_config",
        "dt",
        row["dt"] if dt is None else dt,
        low=0.0,
        low_open=True,
    )
    p = check_real(
        "graphcon.from_config", "dropout", dropout, low=0.0, high=1.0, high_open=True
    )
    if coupling == "gcn":
        block: nn.Module = GCNCoupling(
            c, res_version=row["res_version"] if res_version is None else res_version
        )
    elif coupling == "attention":
        block = AttentionCoupling(c, heads=heads, head_average=head_average)
    else:
        raise ValueError(
            "graphcon.from_config: `coupling` must be 'gcn' or 'attention'; got "
            f"{coupling!r}."
        )
    term = GraphCONTerm(
        block,
        alpha=row["alpha"] if alpha is None else alpha,
        gamma=row["gamma"] if gamma is None else gamma,
        dropout=p,
    )
    encoder = nn.Sequential(
        nn.Dropout(p),
        nn.Linear(
            check_int("graphcon.from_config", "num_features", num_features, low=1), c
        ),
        nn.ReLU(),
    )
    decoder = nn.Linear(
        c, check_int("graphcon.from_config", "num_classes", num_classes, low=1)
    )
    if coupling == "gcn":
        # Spec 4.3 item 7: every parameter named "weight" ~ U[-1/sqrt(nhid), ...].
        for module in (encoder, term, decoder):
            for name, param in module.named_parameters():
                if "weight" in name:
                    uniform_fan_(param, c)
    solver: AbstractSolver = SymplecticEuler()
    if step_dropout and p > 0.0:
        solver = StepDropout(solver, p)
    return GraphPDEModel(encoder, term, decoder, solver=solver, t1=n * h, dt0=h)
