r"""PDE-GCN: diffusion, hyperbolic and mixed graph networks (Eliasof et al., 2021).

Every layer applies the learned graph operator

.. math:: r_l(f) = G^\top K_l^\top \sigma\big(K_l\, \mathrm{Drop}(G f) + E a\big)

(REPRODUCTION.md §2.3) with a per-layer ``C x C`` matrix :math:`K_l` (a
:class:`~models.model.TimeIndexed` value; identity plus ``U(0, 1e-3)`` at
initialisation), :math:`\sigma` = ReLU (``tanh`` on request), dropout on the edge
field :math:`G f`, and an optional edge-feature embedding :math:`E a` (below; absent
in the paper's experiments). The three variants are three equations, each with its
default solver, so that with ``dt0 = h`` the iterates are the paper's layers:

* **PDE-GCN_D** (:class:`PDEGCNDiffusion`): :math:`f' = -r(f)`, :class:`~solvers.Euler`,
  :math:`f_{l+1} = f_l - h\, r_l(f_l)`.
* **PDE-GCN_H** (:class:`PDEGCNHyperbolic`): :math:`f'' = -r(f)` on the state
  ``(f, w)``, ``TwoStepLeapfrog(start="difference")`` from ``w_0 = 0``:
  :math:`f_{l+1} = 2 f_l - f_{l-1} - h^2 r_l(f_l)` with :math:`f_{-1} = f_0`, so
  :math:`f_1 = f_0 - h^2 r_0(f_0)`.
* **PDE-GCN_M** (:class:`PDEGCNMixed`): learned :math:`\theta_l` (init 0),
  :math:`\beta = \operatorname{sigmoid}(\theta)`, :math:`\alpha = 1 - \beta`,
  :math:`\alpha' = \alpha / h`, :math:`\beta' = \beta / h^2` and

  .. math:: f_{l+1} = \frac{(2\beta' + \alpha') f_l - \beta' f_{l-1} - r_l(f_l)}
      {\alpha' + \beta'}, \qquad f_{-1} = f_0 .

**How PDE-GCN_M is integrated exactly with a standard solver.** The recurrence is
:math:`\beta\,\delta^2 f_l / h^2 + \alpha (f_{l+1} - f_l)/h = -r_l(f_l)`. With the
backward difference :math:`w_l = (f_l - f_{l-1})/h` one has
:math:`(f_{l+1} - f_l)/h = w_l + \delta^2 f_l / h`, so the recurrence is

.. math:: w_{l+1} = w_l + h\, a_h(f_l, w_l), \quad f_{l+1} = f_l + h\, w_{l+1},
    \qquad a_h(f, w) = -\frac{r(f) + \alpha w}{\beta + \alpha h},

which is :class:`~solvers.SymplecticEuler` (velocity first, then position) on the
velocity-dependent second-order term :math:`a_h`, started from ``w_0 = 0``
(:math:`f_{-1} = f_0`). The term therefore states the equation
:math:`(\beta + \alpha h)\, f'' + \alpha f' = -r(f)`: the paper's damped wave
equation :math:`\beta f'' + \alpha f' = -r(f)` with the one-sided damping
difference moved into the inertia (``h`` is the training step held by the term,
not the solver's step). ``SymplecticEuler()`` with ``dt0 = h`` is the paper's scheme
to round-off; another solver or step integrates this same ODE. :math:`\theta` is an
ordinary parameter of the term and is trained through the iterates; the solver
stays a frozen value. The limits are exact: :math:`\beta = 1` gives PDE-GCN_H and
:math:`\beta = 0` gives :math:`f_{l+1} = f_l - h r_l(f_l)` (PDE-GCN_D).
(:class:`~solvers.DampedLeapfrog` implements the same scheme but with fixed float
``alpha``/``beta`` fields, so it cannot learn :math:`\theta`.)

**Graph operator** (``operator=``, REPRODUCTION.md §2.2). The edge field lives on
the *directed* edge list holding both directions of every undirected edge (the
``[2M]`` order of ``graph.directed_edge_index``), as in the authors' code and PyG.
With a non-odd :math:`\sigma` (ReLU) a single orientation per edge would make the
layer depend on the node numbering; summing both orientations makes it
permutation equivariant. Both operators have the form

.. math:: (G f)_{(i,j)} = c_{ij}\,(s_i f_i - s_j f_j), \qquad
    G^\top g = s \odot \operatorname{div}_c\!\big(g_{\to} - g_{\leftarrow}\big)

(``g_→``/``g_←``: the forward/reversed halves; :class:`~graphops.Gradient` and
:class:`~graphops.Divergence` with edge weights ``c`` do the work):

* ``"code"`` (default): :math:`c_{ij} = a_{ij} (\tilde d_i \tilde d_j)^{-1/2}`,
  :math:`\tilde d = d + 1`, :math:`s = 1`: PyG ``gcn_norm`` as the authors' model
  rebuilds it in every forward pass (self-loops only in the degrees; they add
  nothing to :math:`G`). Then :math:`G^\top G = 2 (D_w - W)` with
  :math:`W_{ij} = a_{ij}^2 / (\tilde d_i \tilde d_j)` (check 3): squared GCN
  weights and a factor 2, not the normalised Laplacian. The authors' code never
  passes edge weights (``a = 1``); use an unweighted :class:`~graphops.Graph` to
  match it. Directed graphs (their heterophilic loaders) are not representable
  here, since a :class:`~graphops.Graph` is undirected.
* ``"paper"``: :math:`c_{ij} = \sqrt{a_{ij}/2}`, :math:`s = d^{-1/2}` (0 for an
  isolated node), so that :math:`G^\top G = I - D^{-1/2} A D^{-1/2}`, the
  symmetric normalised Laplacian (``Laplacian(graph, "sym")``); the ``1/2`` is the
  ``1/2`` of the Dirichlet energy summed over ordered pairs. The spec only says
  the paper's prose uses "the graph gradient with weights W" (§2.2); this choice of
  weights is ours.

**Consequence of the symmetric edge list (stated for users of** ``"relu"`` **).**
Without dropout and edge features, the two orientations of an edge give
:math:`K^\top(\sigma(z) - \sigma(-z))` with :math:`z = K g`; for ReLU this is
:math:`K^\top K g`, so in evaluation mode the ReLU layer is *linear*:
:math:`r_l(f) = G_1^\top K_l^\top K_l G_1 f` (:math:`G_1` one orientation per edge,
half of :math:`G^\top G`); for ``tanh`` it is :math:`2 G_1^\top K_l^\top \tanh(K_l G_1
f)`. This is the behaviour of the authors' code; during training the two
orientations get independent dropout masks, and edge features break the symmetry.

**Edge features** (optional; the paper's remark that edge attributes enter the
edge space). With ``edge_features = F_e > 0`` the term holds
:math:`E \in \mathbb{R}^{C \times F_e}` (one map for all layers, no bias,
Glorot-uniform) and adds :math:`E a_{ij}` inside :math:`\sigma` on both
orientations of edge :math:`\{i, j\}`: ``edge_attr`` is ``[M, F_e]`` (one row per
undirected edge in ``graph.edge_index`` order, the same for both directions) or
``[2M, F_e]`` (per direction, in ``graph.directed_edge_index`` order). It is passed
with the graph, ``model(x, (graph, edge_attr))``. Permuting the nodes and the edge
rows together permutes the output (tested).

**Whole network** (§2.4): dropout :math:`p` on the input, opening
:math:`K_\text{open}` (``C x F_in``, no bias, Glorot) + ReLU + dropout
(:math:`f_0`), the ``L`` layers with dropout :math:`p` on :math:`G f`, then
dropout, closing :math:`K_\text{close}` (``classes x C``, no bias, Glorot) and
log-softmax (``log_softmax=True``, as the code; ``False`` returns logits).
Cross-entropy on log-probabilities equals the code's NLL loss, so either output
trains the same. No normalisation layer. The optimiser groups of §2.5 come from
:func:`param_groups`.

Paper-versus-code choices made here: the operator defaults to ``"code"`` because
every stored hyperparameter (``h`` in particular) was tuned with it and the
paper's tables are not available (§2.6, §2.8); the edge list holds both directions
(code); K_open/K_close are Glorot-initialised (semi-supervised drivers; the
full-supervised drivers leave them ``N(0, 0.01^2)``, §2.4); θ is per layer
(``per_layer_theta=True``, the August-2021 scripts; ``False`` gives one scalar).

References:
    Eliasof, Haber & Treister (2021), "PDE-GCN: Novel Architectures for Graph
    Neural Networks Motivated by Partial Differential Equations", NeurIPS;
    REPRODUCTION.md §2 (code: eldadHaber/GraphNetworks ``graphNet.py``,
    ``graphOps.py``, ``GNcora.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from graphops import Divergence, Gradient, Graph
from graphops._checks import check_int, check_real, describe
from models._blocks import glorot_
from models.model import GraphPDEModel, GraphTerm, TimeIndexed
from solvers import Euler, SymplecticEuler, TwoStepLeapfrog
from solvers.terms import SecondOrderTerm

__all__ = [
    "PDEGCNDiffusion",
    "PDEGCNHyperbolic",
    "PDEGCNMixed",
    "PDEGCNTerm",
    "from_config",
    "param_groups",
]

_OPERATORS = ("code", "paper")
_ACTIVATIONS = ("relu", "tanh")
_VARIANTS = ("D", "H", "M")


@dataclass(frozen=True)
class _Prepared:
    """The per-forward-pass data of a PDE-GCN term: operators and edge embedding.

    Attributes:
        graph: The graph.
        grad: Unweighted gradient ``B`` (``(B x)_e = x_j - x_i``), ``[M] <- [N]``.
        div: Divergence with the weights ``c``, ``[N] <- [M]``.
        c: Edge weights ``c`` per undirected edge, ``[M, 1]``.
        s: Node scaling ``s`` (``[N, 1]``) or ``None`` for ``s = 1``.
        edge_term: ``E a`` on the directed edge list ``[2M, C]``, or ``None``.
    """

    graph: Graph
    grad: Gradient
    div: Divergence
    c: Tensor
    s: Tensor | None
    edge_term: Tensor | None


def _operator_weights(graph: Graph, operator: str) -> tuple[Tensor, Tensor | None]:
    """``(c [M], s [N] or None)`` of the operator (see the module docstring)."""
    i, j = graph.edge_index
    return _weights_from(graph.edge_weight, i, j, graph.degree(), operator)


def _weights_from(
    a: Tensor, i: Tensor, j: Tensor, d: Tensor, operator: str
) -> tuple[Tensor, Tensor | None]:
    """``(c, s)`` from edge weights ``a`` on edges ``(i, j)`` and node degrees ``d``.

    Shared with :mod:`models.distributed`, which passes a rank's local edges and
    the global degrees of its local nodes.
    """
    if operator == "code":
        # PyG gcn_norm: unit self-loops enter the degree only.
        r = (d + 1.0).rsqrt()
        return a * r[i] * r[j], None
    connected = d > 0
    safe = torch.where(connected, d, torch.ones_like(d))
    s = torch.where(connected, safe.rsqrt(), torch.zeros_like(d))
    return (0.5 * a).sqrt(), s


class PDEGCNTerm(GraphTerm):
    r"""The PDE-GCN layer operator :math:`r_l(f)` shared by the three variants.

    .. math:: r_l(f) = G^\top K_l^\top \sigma\big(K_l\, \mathrm{Drop}(G f) + E a\big)

    See :mod:`models.pde_gcn` for the operator ``G`` (``"code"`` or ``"paper"``), the
    symmetric edge list and the optional edge features. ``K`` is a
    :class:`~models.model.TimeIndexed` ``[L, C, C]`` on the grid ``t_l = l h``
    (piecewise constant), initialised to the identity plus ``U(0, 1e-3)``
    elementwise (§2.4). Subclasses define the equation; this class is not a term
    on its own (it has no ``forward``).

    Args:
        channels: ``C``, the hidden width.
        layers: ``L``, the number of per-layer matrices.
        h: Training step (the grid of ``K``).
        dropout: Dropout probability on ``G f``, in ``[0, 1)``.
        operator: ``"code"`` (default) or ``"paper"``.
        activation: ``"relu"`` (default) or ``"tanh"``.
        edge_features: ``F_e``; ``0`` (default) means no edge features.

    Raises:
        TypeError: a size is not an integer, or ``h``/``dropout`` not a number.
        ValueError: a size is not positive, ``h`` is not positive, ``dropout`` is
            outside ``[0, 1)``, or ``operator``/``activation`` is unknown.

    Shapes:
        ``f``: ``[N, C]``; edge field ``[2M, C]``.
    """

    def __init__(
        self,
        channels: int,
        layers: int,
        *,
        h: float,
        dropout: float = 0.0,
        operator: str = "code",
        activation: str = "relu",
        edge_features: int = 0,
    ) -> None:
        """Build ``K`` and the optional edge map (see the class docstring)."""
        # Plain nn.Module initialisation: the second-order subclasses also derive
        # from SecondOrderTerm, whose __init__ wants a callable (they override
        # `acceleration` instead).
        nn.Module.__init__(self)
        where = type(self).__name__
        self.channels = check_int(where, "channels", channels, low=1)
        self.layers = check_int(where, "layers", layers, low=1)
        self.h = check_real(where, "h", h, low=0.0, low_open=True)
        self.dropout = check_real(
            where, "dropout", dropout, low=0.0, high=1.0, high_open=True
        )
        if operator not in _OPERATORS:
            raise ValueError(
                f"{where}: `operator` must be one of {_OPERATORS}; got {operator!r}. "
                "'code' is the authors' gcn_norm operator, 'paper' the normalised "
                "Laplacian I - D^-1/2 A D^-1/2."
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"{where}: `activation` must be one of {_ACTIVATIONS}; got "
                f"{activation!r}."
            )
        self.graph_operator = operator
        self.activation = activation
        self.edge_features = check_int(where, "edge_features", edge_features, low=0)
        c = self.channels
        k0 = torch.eye(c).expand(self.layers, c, c) + 1e-3 * torch.rand(
            self.layers, c, c
        )
        self.K = TimeIndexed(k0, h=self.h)
        self.edge_map = None
        if self.edge_features:
            self.edge_map = nn.Linear(self.edge_features, c, bias=False)
            glorot_(self.edge_map.weight)

    # -- per-forward-pass data -------------------------------------------------------
    def prepare(self, t0: float, y0: Any, graph: Any) -> _Prepared:
        """Operators and the edge embedding for one forward pass.

        Args:
            t0: Start time (unused: nothing here depends on time).
            y0: Initial state (unused).
            graph: A :class:`~graphops.Graph`, or ``(graph, edge_attr)`` with
                ``edge_attr`` ``[M, F_e]`` or ``[2M, F_e]``.

        Returns:
            The prepared ``args`` every evaluation reads.

        Raises:
            TypeError: ``graph`` is neither a Graph nor a ``(Graph, Tensor)`` pair.
            ValueError: edge features are missing, unexpected or of the wrong shape.
        """
        where = type(self).__name__
        edge_attr = None
        if isinstance(graph, tuple) and len(graph) == 2:
            graph, edge_attr = graph
        if not isinstance(graph, Graph):
            raise TypeError(
                f"{where}: the graph argument must be a Graph or a pair (Graph, "
                f"edge_attr); got {describe(graph)}."
            )
        edge_term = self.edge_term(graph.num_edges, edge_attr)
        c, s = _operator_weights(graph, self.graph_operator)
        return _Prepared(
            graph=graph,
            grad=Gradient(graph, validate=False),
            div=Divergence(graph, c, validate=False),
            c=c.unsqueeze(-1),
            s=None if s is None else s.unsqueeze(-1),
            edge_term=edge_term,
        )

    def edge_term(
        self, m: int, edge_attr: Any, rows: Tensor | None = None
    ) -> Tensor | None:
        """``E a`` on the directed edge list, ``[2M, C]`` (``None``: no features).

        Args:
            m: Number of undirected edges ``M`` of the graph.
            edge_attr: ``[M, F_e]``, ``[2M, F_e]`` (module docstring) or ``None``.
            rows: Only these edges (global ids, each in its global orientation):
                a rank's local edges (``plan.edge_ids``), whose edge field is
                ``[2 M_local, C]`` with the forward half the direction ``(i, j)``,
                ``i < j`` global ids (what
                :class:`~graphops.distributed.DistributedGradient` computes).

        Raises:
            ValueError: ``edge_attr`` is missing, unexpected or of the wrong shape.
        """
        where = type(self).__name__
        if self.edge_map is None:
            if edge_attr is not None:
                raise ValueError(
                    f"{where}: got `edge_attr` but the term was built with "
                    "edge_features=0. Build it with edge_features=F_e to use them."
                )
            return None
        fe = self.edge_features
        if (
            not isinstance(edge_attr, Tensor)
            or edge_attr.dim() != 2
            or edge_attr.shape[0] not in (m, 2 * m)
            or edge_attr.shape[1] != fe
        ):
            raise ValueError(
                f"{where}: `edge_attr` must be a tensor [M, F_e]=[{m}, {fe}] or "
                f"[2M, F_e]=[{2 * m}, {fe}]; got {describe(edge_attr)}. Pass "
                "model(x, (graph, edge_attr))."
            )
        directed = edge_attr.shape[0] == 2 * m
        if rows is not None:
            rows = rows.to(edge_attr.device)
            edge_attr = (
                torch.cat([edge_attr[rows], edge_attr[m + rows]])
                if directed
                else edge_attr[rows]
            )
        e = self.edge_map(edge_attr)
        return e if directed else torch.cat([e, e])

    def _args(self, args: Any) -> _Prepared:
        # A term used directly with solve(..., args=graph) prepares on the fly.
        return args if isinstance(args, _Prepared) else self.prepare(0.0, None, args)

    # -- the layer operator ----------------------------------------------------------
    def gradient(self, f: Tensor, args: Any) -> Tensor:
        """``G f`` on the directed edge list, ``[2M, C]`` (forward half first)."""
        p = self._args(args)
        u = p.grad @ (f if p.s is None else p.s.to(f.dtype) * f)
        # (B x)_e = x_j - x_i; the forward pair (i, j) carries c (s_i f_i - s_j f_j).
        cu = p.c.to(f.dtype) * u
        return torch.cat([-cu, cu])

    def divergence(self, g: Tensor, args: Any) -> Tensor:
        """``G^T g`` for a directed edge field ``g`` ``[2M, C]``, ``[N, C]``."""
        p = self._args(args)
        m = p.graph.num_edges
        out = p.div @ (g[:m] - g[m:])
        return out if p.s is None else p.s.to(out.dtype) * out

    def residual(self, t: float | Tensor, f: Tensor, args: Any) -> Tensor:
        r"""``r_l(f)`` with ``K_l = K(t)``; dropout on ``G f`` in training mode.

        ``G`` acts on the node (edge) index and ``K`` on the channels, so they
        commute: :math:`G^\top (z K) = (G^\top z) K`, and without dropout
        :math:`(G f) K^\top = G (f K^\top)`. The channel products are therefore
        taken on the ``N`` node rows instead of the ``2M`` edge rows wherever the
        formula allows (equal to the edge-side order up to rounding; tested).
        """
        p = self._args(args)
        k = self.K(t)
        if self.training and self.dropout > 0:
            z = F.dropout(self.gradient(f, p), self.dropout, True) @ k.T
        else:
            z = self.gradient(f @ k.T, p)
        if p.edge_term is not None:
            z = z + p.edge_term
        z = torch.relu(z) if self.activation == "relu" else torch.tanh(z)
        return self.divergence(z, p) @ k

    def extra_repr(self) -> str:
        """Width, depth, step, operator, activation, dropout, edge features."""
        text = (
            f"channels={self.channels}, layers={self.layers}, h={self.h:g}, "
            f"operator={self.graph_operator!r}, activation={self.activation!r}, "
            f"dropout={self.dropout:g}"
        )
        if self.edge_features:
            text += f", edge_features={self.edge_features}"
        return text


class PDEGCNDiffusion(PDEGCNTerm):
    r"""PDE-GCN_D: the diffusion equation :math:`f' = -r(f)`.

    With ``Euler()`` and ``dt0 = h``, :math:`f_{l+1} = f_l - h\, r_l(f_l)`
    (REPRODUCTION.md §2.3).

    Args, Raises, Shapes: as :class:`PDEGCNTerm`.

    Example:
        >>> term = PDEGCNDiffusion(2, 4, h=0.5)      # C = 2 channels, 4 layers
        >>> sol = solve(term, Euler(), y0=x, t1=2.0, dt0=0.5, args=graph)
        >>> sol.ys.shape
        torch.Size([1, 16, 2])
    """

    def forward(self, t: float | Tensor, y: Tensor, args: Any = None) -> Tensor:
        """``-r(f)``."""
        return -self.residual(t, y, args)


class PDEGCNHyperbolic(PDEGCNTerm, SecondOrderTerm):
    r"""PDE-GCN_H: :math:`f'' = -r(f)` on the state ``(f, w)``, started from ``w = 0``.

    With ``TwoStepLeapfrog(start="difference")`` and ``dt0 = h``,
    :math:`f_{l+1} = 2 f_l - f_{l-1} - h^2 r_l(f_l)` with :math:`f_{-1} = f_0`
    (REPRODUCTION.md §2.3). The acceleration does not depend on the velocity, so
    :class:`~solvers.Leapfrog` and every first-order solver also integrate it.

    Args, Raises, Shapes: as :class:`PDEGCNTerm`.

    Example:
        >>> term = PDEGCNHyperbolic(2, 4, h=0.5)
        >>> y0 = term.initial_state(x)       # (f0, zeros): f_{-1} = f_0
        >>> sol = solve(term, TwoStepLeapfrog(start="difference"), y0=y0, t1=2.0,
        ...             dt0=0.5, args=graph)
        >>> sol.ys[0].shape
        torch.Size([1, 16, 2])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As :class:`PDEGCNTerm`; declares a velocity-independent acceleration."""
        super().__init__(*args, **kwargs)
        self.accel = None
        self._operator = None
        self.velocity_dependent = False

    def initial_state(self, x0: Tensor) -> tuple[Tensor, Tensor]:
        """``(f_0, 0)``: the zero backward difference is :math:`f_{-1} = f_0`."""
        return x0, torch.zeros_like(x0)

    def acceleration(
        self, t: float | Tensor, x: Tensor, v: Tensor, args: Any = None
    ) -> Tensor:
        """``-r(f)``."""
        return -self.residual(t, x, args)


class PDEGCNMixed(PDEGCNHyperbolic):
    r"""PDE-GCN_M: learned damping, :math:`(\beta + \alpha h) f'' + \alpha f' = -r(f)`.

    :math:`\beta = \operatorname{sigmoid}(\theta)`, :math:`\alpha = 1 - \beta`, with
    :math:`\theta` a :class:`~models.model.TimeIndexed` value per layer (or one
    scalar), initialised to 0. The acceleration is

    .. math:: a_h(f, w) = -\frac{r(f) + \alpha\, w}{\beta + \alpha h},

    and ``SymplecticEuler()`` with ``dt0 = h`` from ``w_0 = 0`` reproduces the
    paper's recurrence exactly (derivation in :mod:`models.pde_gcn`). The term is
    velocity dependent, so the leapfrog solvers refuse it.

    Args:
        *args: As :class:`PDEGCNTerm`.
        per_layer_theta: One :math:`\theta` per layer (default, the August-2021
            scripts) or a single scalar.
        **kwargs: As :class:`PDEGCNTerm`.

    Raises:
        TypeError, ValueError: as :class:`PDEGCNTerm`.

    Example:
        >>> term = PDEGCNMixed(2, 4, h=0.5)
        >>> sol = solve(term, SymplecticEuler(), y0=term.initial_state(x), t1=2.0,
        ...             dt0=0.5, args=graph)
        >>> [float(w.detach()) for w in term.damping(0.0)]   # theta = 0
        [0.5, 0.5]
    """

    def __init__(self, *args: Any, per_layer_theta: bool = True, **kwargs: Any) -> None:
        """As :class:`PDEGCNTerm`, plus ``theta`` (zeros)."""
        super().__init__(*args, **kwargs)
        self.velocity_dependent = True
        self.per_layer_theta = bool(per_layer_theta)
        self.theta = TimeIndexed(
            torch.zeros(self.layers if self.per_layer_theta else 1), h=self.h
        )

    def damping(self, t: float | Tensor) -> tuple[Tensor, Tensor]:
        r"""``(alpha, beta)`` at time ``t`` as 0-d tensors (differentiable in θ)."""
        beta = torch.sigmoid(self.theta(t))
        return 1.0 - beta, beta

    def acceleration(
        self, t: float | Tensor, x: Tensor, v: Tensor, args: Any = None
    ) -> Tensor:
        """``-(r(f) + alpha w) / (beta + alpha h)``."""
        alpha, beta = self.damping(t)
        return -(self.residual(t, x, args) + alpha * v) / (beta + alpha * self.h)

    def extra_repr(self) -> str:
        """As :class:`PDEGCNTerm`, plus the θ layout."""
        return super().extra_repr() + f", per_layer_theta={self.per_layer_theta}"


def _default_solver(variant: str):
    if variant == "D":
        return Euler()
    if variant == "H":
        return TwoStepLeapfrog(start="difference")
    return SymplecticEuler()


def from_config(
    num_features: int,
    num_classes: int,
    *,
    variant: str = "D",
    hidden: int = 64,
    layers: int = 16,
    h: float = 2.0,
    dropout: float = 0.6,
    operator: str = "code",
    activation: str = "relu",
    edge_features: int = 0,
    per_layer_theta: bool = True,
    log_softmax: bool = True,
) -> GraphPDEModel:
    r"""The PDE-GCN network of REPRODUCTION.md §2.4 as a :class:`GraphPDEModel`.

    ``input dropout -> K_open (no bias) -> ReLU -> dropout`` (:math:`f_0`), then
    ``layers`` steps of size ``h`` of the variant's equation with its default
    solver (``Euler()``, ``TwoStepLeapfrog(start="difference")`` or
    ``SymplecticEuler()``; ``t1 = layers * h``), then ``dropout -> K_close (no bias)
    -> log-softmax``. K_open and K_close are Glorot-uniform.

    Defaults are those of the semi-supervised driver ``GNcora.py`` (Cora, dynamics
    D): ``hidden=64``, ``layers=16``, ``h=2``, ``dropout=0.6`` (V1-code, §2.6). For
    H and M no fixed driver exists and the tuned values are NF (Optuna search
    spaces only, §2.6): the same defaults are used. ``operator="code"`` because
    ``h`` was tuned with the code's operator (see :mod:`models.pde_gcn`). The
    learning rates and weight decay (base lr 0.07, lr(K) 5e-5, wd 5e-4 in
    ``GNcora.py``) go to :func:`param_groups`.

    Args:
        num_features: Input width ``F_in``.
        num_classes: Output width.
        variant: ``"D"`` (diffusion), ``"H"`` (hyperbolic) or ``"M"`` (mixed).
        hidden: ``C``, the width of every layer (``nopen = nhid`` in the code).
        layers: ``L``, the number of layers (steps).
        h: The step.
        dropout: ``p``, used in all four places.
        operator: ``"code"`` or ``"paper"`` (module docstring).
        activation: ``"relu"`` or ``"tanh"``.
        edge_features: ``F_e`` of optional edge features (``0``: none).
        per_layer_theta: Mixed model only: one θ per layer, or one scalar.
        log_softmax: Return log-probabilities (the code) or logits.

    Returns:
        The model; call it as ``model(x, graph)`` or ``model(x, (graph, edge_attr))``.

    Raises:
        ValueError: unknown ``variant`` (and the term's and sizes' checks).
        TypeError: non-integer sizes or non-numeric ``h``/``dropout``.

    Example:
        >>> model = from_config(2, 3, variant="M", hidden=8, layers=4, h=0.5)
        >>> model(x, graph).shape
        torch.Size([16, 3])
        >>> model.solver, model.depth
        (SymplecticEuler(), 4)
    """
    if variant not in _VARIANTS:
        raise ValueError(
            f"pde_gcn.from_config: `variant` must be one of {_VARIANTS}; got "
            f"{variant!r}. 'D' diffusion, 'H' hyperbolic, 'M' mixed."
        )
    num_features = check_int("pde_gcn.from_config", "num_features", num_features, low=1)
    num_classes = check_int("pde_gcn.from_config", "num_classes", num_classes, low=1)
    term_kwargs = dict(
        h=h,
        dropout=dropout,
        operator=operator,
        activation=activation,
        edge_features=edge_features,
    )
    if variant == "D":
        term: PDEGCNTerm = PDEGCNDiffusion(hidden, layers, **term_kwargs)
    elif variant == "H":
        term = PDEGCNHyperbolic(hidden, layers, **term_kwargs)
    else:
        term = PDEGCNMixed(
            hidden, layers, per_layer_theta=per_layer_theta, **term_kwargs
        )
    p = term.dropout
    k_open = nn.Linear(num_features, term.channels, bias=False)
    k_close = nn.Linear(term.channels, num_classes, bias=False)
    glorot_(k_open.weight)
    glorot_(k_close.weight)
    encoder = nn.Sequential(nn.Dropout(p), k_open, nn.ReLU(), nn.Dropout(p))
    closing: list[nn.Module] = [nn.Dropout(p), k_close]
    if log_softmax:
        closing.append(nn.LogSoftmax(dim=-1))
    return GraphPDEModel(
        encoder,
        term,
        nn.Sequential(*closing),
        solver=_default_solver(variant),
        t1=term.layers * term.h,
        dt0=term.h,
    )


def param_groups(
    model: GraphPDEModel,
    lr: float,
    lr_K: float,
    wd: float,
    lr_alpha: float | None = None,
) -> list[dict[str, Any]]:
    r"""Adam parameter groups of REPRODUCTION.md §2.5.

    * ``K_l``: learning rate ``lr_K``, weight decay 0;
    * everything else outside the term (K_open, K_close) and the edge map ``E``:
      learning rate ``lr``, weight decay ``wd``;
    * θ (mixed model only): learning rate ``lr_alpha``, weight decay 0.

    Every parameter of the model is in exactly one group.

    Args:
        model: A model from :func:`from_config` (a term of this module).
        lr: Base learning rate.
        lr_K: Learning rate of the per-layer matrices.
        wd: Weight decay of the opening/closing layers.
        lr_alpha: Learning rate of θ; required for the mixed model.

    Returns:
        A list of ``{"params", "lr", "weight_decay"}`` dicts for
        :class:`torch.optim.Adam`.

    Raises:
        TypeError: ``model`` is not a GraphPDEModel with a PDE-GCN term, or a rate
            is not a number.
        ValueError: a rate is negative, or ``lr_alpha`` is missing for PDE-GCN_M.

    Example:
        >>> model = from_config(2, 3, hidden=8, layers=4)
        >>> groups = param_groups(model, lr=0.07, lr_K=5e-5, wd=5e-4)
        >>> [(g["lr"], g["weight_decay"]) for g in groups]
        [(5e-05, 0.0), (0.07, 0.0005)]
    """
    where = "pde_gcn.param_groups"
    term = getattr(model, "term", None)
    if not isinstance(model, GraphPDEModel) or not isinstance(term, PDEGCNTerm):
        raise TypeError(
            f"{where}: `model` must be a GraphPDEModel with a PDE-GCN term (from "
            f"pde_gcn.from_config); got {describe(model)}."
        )
    lr = check_real(where, "lr", lr, low=0.0)
    lr_K = check_real(where, "lr_K", lr_K, low=0.0)
    wd = check_real(where, "wd", wd, low=0.0)
    special = [term.K.values]
    groups: list[dict[str, Any]] = [
        {"params": [term.K.values], "lr": lr_K, "weight_decay": 0.0}
    ]
    if isinstance(term, PDEGCNMixed):
        if lr_alpha is None:
            raise ValueError(
                f"{where}: the mixed model (PDE-GCN_M) needs `lr_alpha`, the "
                "learning rate of theta; got None. Pass e.g. lr_alpha=1e-3."
            )
        lr_alpha = check_real(where, "lr_alpha", lr_alpha, low=0.0)
        special.append(term.theta.values)
        groups.append(
            {"params": [term.theta.values], "lr": lr_alpha, "weight_decay": 0.0}
        )
    ids = {id(p) for p in special}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups.insert(1, {"params": rest, "lr": lr, "weight_decay": wd})
    return groups
