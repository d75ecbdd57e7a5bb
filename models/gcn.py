r"""GCN as explicit Euler diffusion, and the depth-study baselines built on it.

**GCN** (Kipf & Welling 2017; REPRODUCTION.md §7.1). The learned right-hand side

.. math:: \frac{dy}{dt} = \sigma\big(\hat A\, \mathcal D(y)\, W_t + b_t\big) - y,
    \qquad \hat A = \tilde D^{-1/2} (A + I) \tilde D^{-1/2}

(:class:`GCNTerm`; :math:`\hat A` is ``graphops.Adjacency(graph, "gcn")``,
:math:`\mathcal D` is dropout, :math:`W_t, b_t` are per-layer
:class:`~models.TimeIndexed` values) integrated by :class:`~solvers.Euler` with
``dt = 1`` gives :math:`y_{k+1} = \sigma(\hat A\,\mathcal D(y_k) W_k + b_k)`:
one GCN layer per step.

**Which network** :func:`from_config` **reproduces.** Kipf's ``L``-layer GCN
:math:`H_l = \sigma_l(\hat A\, \mathcal D(H_{l-1}) W_l + b_l)`, ``H_0 = X``, with
widths ``F -> hidden -> ... -> hidden -> C`` and no activation on the last layer
(softmax goes into the loss), exactly, parameter for parameter. Its first and last
weights change the width, so they cannot live in a width-preserving ODE state;
because :math:`\hat A (H W) = (\hat A H) W` they move out of the term:

* encoder: ``Dropout -> Linear(F, hidden, bias=False)``, i.e. :math:`\mathcal D(X)W_1`;
* term layer 0 (``input_weight=False``): :math:`\sigma(\hat A y + b_1)`, no weight;
* term layers ``1 .. L-2``: :math:`\sigma(\hat A\,\mathcal D(y) W_l + b_l)`, the
  uniform GCN layer;
* term layer ``L-1`` (``last_layer="propagate"``): :math:`\hat A\,\mathcal D(y)`,
  no weight, bias or activation;
* decoder: ``Linear(hidden, C)`` holding :math:`W_L, b_L`.

With ``input_weight=True`` and ``last_layer="hidden"`` every layer is the uniform
one: a stack of ``GCNConv(hidden, hidden)`` layers (between any encoder and decoder).

**Residual GCN** (§7.4, configuration **NF**). :math:`y' = \sigma(\hat A\,\mathcal
D(y) W_t + b_t)` (``residual=True``), so Euler with ``dt = 1`` is
:math:`f \leftarrow f + \sigma(\hat A f W_l + b_l)`, between a linear encoder and
decoder (:func:`residual_from_config`). The choice: the residual form named in the
task, not the spec's suggested linear PDE-GCN_D control, which is a PDE-GCN model.

**GCN + PairNorm** (Zhao & Akoglu 2020; §7.3). The GCN term with :func:`pairnorm`
applied after the graph convolution (bias included) and before the activation:
:math:`y' = \sigma(\mathrm{PN}(\hat A\,\mathcal D(y) W_t + b_t)) - y`. Its DeepGCN
has Kipf's structure (``L - 1`` convolutions with PairNorm and ReLU, then a plain
convolution to the classes), so :func:`pairnorm_from_config` uses the same mapping
as :func:`from_config`.

**GCNII** (Chen et al. 2020; §7.2). :class:`GCNIITerm`:

.. math:: y' = \mathrm{ReLU}\Big(S_t\big((1-\beta_t) I + \beta_t W_t\big)\Big) - y,
    \qquad S_t = (1-\alpha)\hat A\,\mathcal D(y) + \alpha H^0,
    \qquad \beta_t = \ln(\lambda / l + 1),\ l = k(t) + 1,

with :math:`H^0 = \mathrm{ReLU}(\mathrm{Linear}(\mathcal D(X)))` the encoder output,
handed to every evaluation by :meth:`GCNIITerm.prepare`. GCNII* (``variant=True``)
multiplies :math:`[\hat A\,\mathcal D(y) \,\|\, H^0]` by one ``2C x C`` weight instead
of :math:`S_t`. Euler with ``dt = 1`` is the ``L``-layer GCNII of the authors' code.

**Layer index and time.** Layer ``k`` owns ``[t0 + k h, t0 + (k+1) h)`` with ``h`` the
training step (1): :math:`k(t)` with :math:`t \in [t_0 + k h, t_0 + (k+1) h)`,
clipped to ``[0, L-1]``, the rule of :class:`~models.TimeIndexed` (constant
interpolation).
Everything per layer follows it: the weights, biases, GCNII's :math:`\beta_t`, and
the kind of layer (first, hidden, last). A finer step integrates the same
piecewise-constant ODE; :meth:`GCNTerm.jump_times` lists every layer boundary.

**Dropout** sits inside the right-hand side, on the state before the propagation
(:math:`\mathcal D(y)`), as in every reproduced code (dropout before every graph
layer). In training mode each evaluation draws a new mask: Euler evaluates once
per step, so the Euler network *is* the published one, but a multi-stage solver
(RK4, Dopri5) sees a different random function at each stage, and an adaptive
controller's error estimate is noise; train multi-stage models without dropout in
the term, or evaluate them in ``model.eval()`` mode (dropout off, deterministic),
as the generic tests do. Dropout on the input (encoder) and before the output
layer (decoder or the ``"propagate"`` layer) is as in the papers.

**Paper-versus-code choices.** GCN bias: on (PyG's ``GCNConv``); ``bias=False``
drops it. GCN init: Glorot weights, zero bias. PairNorm init: the code's
``U[-1/sqrt(out), 1/sqrt(out)]`` for weights *and* biases (LingxiaoShawn/PairNorm
``layers.py``), and its graph is Planetoid with ``\hat A`` (its ``data.py``).
GCNII: the code's layer (no bias in graph layers, weights ``U[-1/sqrt(C),
1/sqrt(C)]``, PyTorch's default init for the two linear layers); its ``--residual``
flag (off in the published scripts) is not provided.

**Optimiser settings** (issue 9; recorded here for the training code). GCN: Adam,
lr 0.01, weight decay 5e-4, 200 epochs, early-stopping window 10 on the validation
loss (§7.1, V2); copies of Kipf's TensorFlow ``models.py`` put the weight decay on
the first layer only, which here is ``model.encoder``. GCNII semi-supervised: Adam
lr 0.01, ``wd1`` on the graph-layer weights (``model.term``), ``wd2 = 5e-4`` on the
two linear layers (encoder, decoder), patience 100 on the validation loss (§7.2).
PairNorm: lr 0.005, weight decay 5e-4, 1500 epochs (§7.3).

References:
    T. N. Kipf, M. Welling. Semi-Supervised Classification with Graph Convolutional
    Networks. ICLR 2017.
    L. Zhao, L. Akoglu. PairNorm: Tackling Oversmoothing in GNNs. ICLR 2020.
    M. Chen, Z. Wei, Z. Huang, B. Ding, Y. Li. Simple and Deep Graph Convolutional
    Networks. ICML 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from graphops import Adjacency, Graph
from graphops._checks import check_int, check_real, describe
from graphops.operators import GraphOperator
from models._blocks import MLP, glorot_, uniform_fan_
from models.model import (
    GraphPDEModel,
    GraphTerm,
    TimeIndexed,
    layer_boundaries,
    layer_index,
)
from solvers import Euler

__all__ = [
    "GCNIIArgs",
    "GCNIITerm",
    "GCNTerm",
    "from_config",
    "gcnii_from_config",
    "pairnorm",
    "pairnorm_from_config",
    "residual_from_config",
]

PAIRNORM_MODES = ("PN", "PN-SI", "PN-SCS")
_LAST_LAYERS = ("hidden", "propagate")
# Added inside the square roots of PairNorm, as in the authors' code (§7.3).
_PN_EPS = 1e-6


def pairnorm(
    x: Tensor,
    mode: str = "PN",
    scale: float = 1.0,
    *,
    mean: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    r"""PairNorm of node features (Zhao & Akoglu 2020; REPRODUCTION.md §7.3).

    With :math:`\mu` the column mean of ``x`` (over nodes), :math:`s` the scale and
    :math:`\epsilon = 10^{-6}`:

    * ``"PN"``: :math:`\tilde x_i = s (x_i - \mu) /
      \sqrt{\epsilon + \tfrac1N \sum_j \|x_j - \mu\|^2}`;
    * ``"PN-SI"``: :math:`\tilde x_i = s (x_i - \mu) / \sqrt{\epsilon +
      \|x_i - \mu\|^2}`;
    * ``"PN-SCS"``: :math:`\tilde x_i = s\, x_i / \sqrt{\epsilon + \|x_i\|^2} - \mu`
      (:math:`\mu` of the *input*, as in the code).

    Args:
        x: Node features ``[N, F]``.
        mode: ``"PN"``, ``"PN-SI"`` or ``"PN-SCS"``.
        scale: The scale ``s > 0``.
        mean: The column mean over all nodes of a ``[rows, F']`` tensor
            (``None``: ``t.mean(0)``). On a partitioned graph ``x`` is a rank's
            rows and the mean is global:
            :meth:`graphops.distributed.DistributedOperator.node_mean`.

    Returns:
        The normalised features ``[N, F]``.

    Raises:
        TypeError: ``x`` is not a 2-D tensor.
        ValueError: unknown ``mode`` or a scale that is not positive.

    Example:
        >>> y = pairnorm(torch.randn(5, 3), "PN")
        >>> bool(y.mean(0).abs().max() < 1e-12), round(float(y.pow(2).sum(1).mean()), 4)
        (True, 1.0)
    """
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise TypeError(
            f"pairnorm: `x` must be a tensor of node features [N, F]; got "
            f"{describe(x)}."
        )
    if mode not in PAIRNORM_MODES:
        raise ValueError(
            f"pairnorm: `mode` must be one of {PAIRNORM_MODES}; got {mode!r}."
        )
    s = check_real("pairnorm", "scale", scale, low=0.0, low_open=True)
    if mean is None:
        mean = _column_mean
    mu = mean(x)
    if mode == "PN-SCS":
        return s * x / (_PN_EPS + x.pow(2).sum(dim=1, keepdim=True)).sqrt() - mu
    xc = x - mu
    if mode == "PN":
        return s * xc / (_PN_EPS + mean(xc.pow(2).sum(dim=1, keepdim=True))).sqrt()
    return s * xc / (_PN_EPS + xc.pow(2).sum(dim=1, keepdim=True)).sqrt()


def _column_mean(t: Tensor) -> Tensor:
    return t.mean(dim=0)


def _adjacency(args: Any, where: str) -> GraphOperator:
    """The GCN adjacency from ``args``: a prepared operator, or built from a graph."""
    if isinstance(args, GraphOperator):
        return args
    if isinstance(args, Graph):
        return Adjacency(args, "gcn")
    raise TypeError(
        f"{where}: `args` must be the graph or Adjacency(graph, 'gcn'); got "
        f"{describe(args)}. Pass args=term.prepare(t0, y0, graph)."
    )


class _LayeredTerm(GraphTerm):
    """Shared layer bookkeeping: ``K`` layers on the grid ``t0 + k h``."""

    def __init__(
        self,
        where: str,
        channels: int,
        num_layers: int,
        h: float,
        t0: float,
        dropout: float,
    ) -> None:
        super().__init__()
        self.channels = check_int(where, "channels", channels, low=1)
        self.num_layers = check_int(where, "num_layers", num_layers, low=1)
        self.h = check_real(where, "h", h, low=0.0, low_open=True)
        self.t0 = check_real(where, "t0", t0)
        p = check_real(where, "dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.dropout = nn.Dropout(p)
        self._boundaries = layer_boundaries(self.t0, self.h, self.num_layers)

    def layer(self, t: float | Tensor) -> int:
        r"""The layer index :math:`k(t)` (see the module docstring).

        :math:`t \in [t_0 + k h, t_0 + (k+1) h)` clipped to ``[0, num_layers - 1]``, the
        rule of :class:`~models.TimeIndexed` with constant interpolation.
        """
        return layer_index(self._boundaries, t)

    def jump_times(self, t0: float, t1: float) -> list[float]:
        """Every layer boundary ``t0 + k h`` (``k = 1 .. K-1``) inside ``(t0, t1)``."""
        return [t for t in self._boundaries if t0 < t < t1]


class GCNTerm(_LayeredTerm):
    r"""GCN layers as a right-hand side, one layer per unit of time.

    .. math:: y' = \sigma\big(N(\hat A\,\mathcal D(y) W_t + b_t)\big) - y

    With Euler and ``dt = h`` (1 by default) step ``k`` is the GCN layer
    :math:`y \leftarrow \sigma(N(\hat A\,\mathcal D(y) W_k + b_k))` (``residual``:
    :math:`y \leftarrow y + \sigma(\dots)`). ``N`` is :func:`pairnorm` when ``norm``
    is given, else the identity. The layer kinds, the dropout placement and the
    behaviour under other solvers are in :mod:`models.gcn`.

    Args:
        channels: Width ``C`` of the state.
        num_layers: Number of layers ``K`` (Euler steps of size ``h``).
        h: Training step: layer ``k`` owns ``[t0 + k h, t0 + (k+1) h)``.
        t0: Start time of layer 0 (the model's ``t0``).
        bias: A bias ``b_t`` per layer (not in a ``"propagate"`` last layer).
        activation: :math:`\sigma`, a module or callable (``None``: ReLU; pass
            ``nn.Identity()`` for linear layers).
        dropout: Dropout on the state before each propagation, except in a first
            layer without weight (its input is the encoder's output, dropped out
            there).
        norm: ``None`` or a :func:`pairnorm` mode, applied before the activation.
        norm_scale: PairNorm's scale ``s``.
        residual: Drop the ``- y``: Euler then gives ``y + \sigma(\dots)``.
        input_weight: ``False``: layer 0 has no weight (Kipf's first weight is the
            encoder's ``Linear``).
        last_layer: ``"hidden"`` (like the others) or ``"propagate"``: layer ``K-1``
            is :math:`\hat A\,\mathcal D(y)` with no weight, bias, norm or
            activation (Kipf's last weight and bias are the decoder's ``Linear``).

    Raises:
        TypeError: a non-integer width or layer count, or an activation that is
            not callable.
        ValueError: non-positive sizes or ``h``, a dropout outside ``[0, 1)``, an
            unknown ``norm`` or ``last_layer``.

    Shapes:
        ``y``: ``[N, C]`` -> ``[N, C]``; ``args``: the graph or
        ``Adjacency(graph, "gcn")`` (what :meth:`prepare` returns).

    Example:
        >>> term = GCNTerm(4, num_layers=3)      # three GCNConv(4, 4) + ReLU layers
        >>> model = GraphPDEModel(nn.Linear(2, 4), term, nn.Linear(4, 3),
        ...                       solver=Euler(), t1=3.0, dt0=1.0)
        >>> model(x, graph).shape
        torch.Size([16, 3])
    """

    def __init__(
        self,
        channels: int,
        num_layers: int,
        *,
        h: float = 1.0,
        t0: float = 0.0,
        bias: bool = True,
        activation: nn.Module | Callable[[Tensor], Tensor] | None = None,
        dropout: float = 0.0,
        norm: str | None = None,
        norm_scale: float = 1.0,
        residual: bool = False,
        input_weight: bool = True,
        last_layer: str = "hidden",
    ) -> None:
        """Create the per-layer parameters (see the class docstring)."""
        super().__init__("GCNTerm", channels, num_layers, h, t0, dropout)
        if activation is None:
            activation = nn.ReLU()
        if not callable(activation):
            raise TypeError(
                f"GCNTerm: `activation` must be a module or callable such as "
                f"nn.ReLU(); got {describe(activation)}."
            )
        if norm is not None and norm not in PAIRNORM_MODES:
            raise ValueError(
                f"GCNTerm: `norm` must be None or one of {PAIRNORM_MODES}; got "
                f"{norm!r}."
            )
        if last_layer not in _LAST_LAYERS:
            raise ValueError(
                f"GCNTerm: `last_layer` must be one of {_LAST_LAYERS}; got "
                f"{last_layer!r}."
            )
        self.activation = activation
        self.norm = norm
        self.norm_scale = check_real(
            "GCNTerm", "norm_scale", norm_scale, low=0.0, low_open=True
        )
        self.residual = bool(residual)
        self.input_weight = bool(input_weight)
        self.last_layer = last_layer
        c, k = self.channels, self.num_layers
        propagate = 1 if last_layer == "propagate" else 0
        # Weighted layers are first_weighted .. k - 1 - propagate; their grid starts
        # at layer first_weighted, so TimeIndexed reads the right value.
        self.first_weighted = 0 if self.input_weight else 1
        num_weights = k - self.first_weighted - propagate
        self.weight = None
        if num_weights > 0:
            self.weight = TimeIndexed(
                glorot_(torch.empty(num_weights, c, c)),
                h=self.h,
                t0=self.t0 + self.first_weighted * self.h,
            )
        num_biases = k - propagate
        self.bias = None
        if bias and num_biases > 0:
            self.bias = TimeIndexed(torch.zeros(num_biases, c), h=self.h, t0=self.t0)

    def prepare(self, t0: float, y0: Tensor, graph: Graph) -> GraphOperator:
        """``Adjacency(graph, "gcn")``, built once per forward pass."""
        return Adjacency(graph, "gcn")

    def forward(self, t: float | Tensor, y: Tensor, args: Any = None) -> Tensor:
        """The right-hand side at ``t`` (see the class docstring)."""
        a_hat = _adjacency(args, "GCNTerm")
        k = self.layer(t)
        # Layers before first_weighted take the encoder's output, already dropped
        # out there; every later layer (the "propagate" one included) drops out.
        after_first = k >= self.first_weighted
        z = self.dropout(y) if after_first else y
        if k == self.num_layers - 1 and self.last_layer == "propagate":
            z = a_hat @ z
        else:
            if after_first:
                z = z @ self.weight(t)
            z = a_hat @ z
            if self.bias is not None:
                z = z + self.bias(t)
            if self.norm is not None:
                # on a partitioned graph the mean over nodes is global
                mean = getattr(a_hat, "node_mean", None)
                z = pairnorm(z, self.norm, self.norm_scale, mean=mean)
            z = self.activation(z)
        return z if self.residual else z - y

    def extra_repr(self) -> str:
        """Width, layers and the options that differ from the uniform GCN layer."""
        parts = [f"channels={self.channels}", f"num_layers={self.num_layers}"]
        if self.h != 1.0:
            parts.append(f"h={self.h:g}")
        if self.norm is not None:
            parts.append(f"norm={self.norm!r}, norm_scale={self.norm_scale:g}")
        if self.residual:
            parts.append("residual=True")
        if not self.input_weight:
            parts.append("input_weight=False")
        if self.last_layer != "hidden":
            parts.append(f"last_layer={self.last_layer!r}")
        return ", ".join(parts)


class GCNIIArgs(NamedTuple):
    r"""What :meth:`GCNIITerm.prepare` hands to every evaluation.

    Attributes:
        adjacency: :math:`\hat A`, ``Adjacency(graph, "gcn")``.
        h0: The initial representation :math:`H^0` ``[N, C]`` (not detached: the
            gradient reaches the encoder through every layer).
    """

    adjacency: GraphOperator
    h0: Tensor


class GCNIITerm(_LayeredTerm):
    r"""GCNII layers as a right-hand side (Chen et al. 2020; REPRODUCTION.md §7.2).

    .. math:: y' = \mathrm{ReLU}\big((1-\beta_t) S_t + \beta_t S_t W_t\big) - y,
        \quad S_t = (1-\alpha)\hat A\,\mathcal D(y) + \alpha H^0,
        \quad \beta_t = \ln(\lambda/(k(t)+1) + 1)

    GCNII* (``variant=True``) replaces :math:`S_t W_t` by
    :math:`[\hat A\,\mathcal D(y) \,\|\, H^0]\, W_t` with ``W_t`` of shape
    ``[2C, C]``. With Euler and ``dt = h`` step ``k`` is layer ``l = k + 1`` of the
    authors' code. Weights are ``U[-1/sqrt(C), 1/sqrt(C)]``; there is no bias.

    Args:
        channels: Width ``C``.
        num_layers: Number of layers ``L``.
        alpha: Initial-residual weight :math:`\alpha \in [0, 1]`.
        lam: :math:`\lambda > 0` of the identity-mapping strength :math:`\beta_l`.
        variant: GCNII* instead of GCNII.
        dropout: Dropout on the state before each propagation.
        h: Training step: layer ``k`` owns ``[t0 + k h, t0 + (k+1) h)``.
        t0: Start time of layer 0 (the model's ``t0``).

    Raises:
        TypeError: a non-integer width or layer count.
        ValueError: non-positive sizes, ``h`` or ``lam``, ``alpha`` outside
            ``[0, 1]`` or a dropout outside ``[0, 1)``.

    Shapes:
        ``y``: ``[N, C]`` -> ``[N, C]``; ``args``: a :class:`GCNIIArgs`.

    Example:
        >>> term = GCNIITerm(4, num_layers=8, alpha=0.1, lam=0.5)
        >>> [round(term.beta(t), 4) for t in (0.0, 1.0, 7.0)]
        [0.4055, 0.2231, 0.0606]
    """

    def __init__(
        self,
        channels: int,
        num_layers: int,
        *,
        alpha: float = 0.1,
        lam: float = 0.5,
        variant: bool = False,
        dropout: float = 0.0,
        h: float = 1.0,
        t0: float = 0.0,
    ) -> None:
        """Create the per-layer weights (see the class docstring)."""
        super().__init__("GCNIITerm", channels, num_layers, h, t0, dropout)
        self.alpha = check_real("GCNIITerm", "alpha", alpha, low=0.0, high=1.0)
        self.lam = check_real("GCNIITerm", "lam", lam, low=0.0, low_open=True)
        self.variant = bool(variant)
        c = self.channels
        rows = 2 * c if self.variant else c
        values = uniform_fan_(torch.empty(self.num_layers, rows, c), c)
        self.weight = TimeIndexed(values, h=self.h, t0=self.t0)

    def beta(self, t: float | Tensor) -> float:
        r""":math:`\beta = \ln(\lambda / l + 1)` of layer ``l = k(t) + 1``."""
        return math.log(self.lam / (self.layer(t) + 1) + 1.0)

    def prepare(self, t0: float, y0: Tensor, graph: Graph) -> GCNIIArgs:
        """``GCNIIArgs(Adjacency(graph, "gcn"), h0=y0)``, once per forward pass."""
        return GCNIIArgs(Adjacency(graph, "gcn"), y0)

    def forward(self, t: float | Tensor, y: Tensor, args: Any = None) -> Tensor:
        """The right-hand side at ``t`` (see the class docstring)."""
        if not isinstance(args, GCNIIArgs):
            raise TypeError(
                f"GCNIITerm: `args` must be GCNIIArgs(adjacency, h0) carrying the "
                f"initial representation H^0; got {describe(args)}. Pass "
                "args=term.prepare(t0, y0, graph)."
            )
        beta = self.beta(t)
        hi = args.adjacency @ self.dropout(y)
        support = (1.0 - self.alpha) * hi + self.alpha * args.h0
        mixed = torch.cat([hi, args.h0], dim=1) if self.variant else support
        out = beta * (mixed @ self.weight(t)) + (1.0 - beta) * support
        return torch.relu(out) - y

    def extra_repr(self) -> str:
        """Width, layers, alpha, lambda and the variant."""
        text = (
            f"channels={self.channels}, num_layers={self.num_layers}, "
            f"alpha={self.alpha:g}, lam={self.lam:g}"
        )
        return text + (", variant=True" if self.variant else "")


def _check_config(
    where: str,
    num_features: int,
    num_classes: int,
    hidden: int,
    layers: int,
    minimum: int,
) -> int:
    check_int(where, "num_features", num_features, low=1)
    check_int(where, "num_classes", num_classes, low=1)
    check_int(where, "hidden", hidden, low=1)
    return check_int(
        where,
        "layers",
        layers,
        low=minimum,
        fix=f"The network needs at least {minimum} graph layers.",
    )


def _euler_model(encoder, term, decoder, layers: int) -> GraphPDEModel:
    """Euler with ``dt = 1`` over ``[0, layers]``: one step per layer."""
    return GraphPDEModel(
        encoder, term, decoder, solver=Euler(), t1=float(layers), dt0=1.0
    )


def from_config(
    num_features: int,
    num_classes: int,
    *,
    hidden: int = 16,
    layers: int = 2,
    dropout: float = 0.5,
    bias: bool = True,
) -> GraphPDEModel:
    r"""Kipf & Welling's ``layers``-layer GCN as an Euler-integrated model (§7.1).

    Exactly :math:`Z = \hat A\,\mathcal D(H_{L-1}) W_L + b_L`, :math:`H_l =
    \mathrm{ReLU}(\hat A\,\mathcal D(H_{l-1}) W_l + b_l)`, :math:`H_0 = X`, via the
    mapping of :mod:`models.gcn`: encoder ``Dropout -> Linear(F, hidden,
    bias=False)``, a :class:`GCNTerm` with ``input_weight=False`` and
    ``last_layer="propagate"``, decoder ``Linear(hidden, C)``; Euler, ``dt = 1``,
    ``t1 = layers``. Glorot weights, zero biases. Defaults: the standard
    configuration (2 layers, 16 hidden, dropout 0.5).

    Args:
        num_features: Input width ``F``.
        num_classes: Output width ``C`` (logits; softmax goes into the loss).
        hidden: Hidden width.
        layers: Number of graph convolutions ``L >= 2``.
        dropout: Dropout before every graph convolution.
        bias: Biases in the convolutions (PyG's ``GCNConv`` default).

    Returns:
        The model (``model.depth == layers``).

    Raises:
        TypeError: a non-integer size.
        ValueError: ``layers < 2``, non-positive sizes or a bad dropout.

    Example:
        >>> model = from_config(2, 3)
        >>> model(x, graph).shape, model.depth
        (torch.Size([16, 3]), 2)
    """
    layers = _check_config(
        "gcn.from_config", num_features, num_classes, hidden, layers, 2
    )
    encoder = MLP([num_features, hidden], dropout=dropout, bias=False)
    glorot_(encoder[-1].weight)
    term = GCNTerm(
        hidden,
        layers,
        bias=bias,
        dropout=dropout,
        input_weight=False,
        last_layer="propagate",
    )
    decoder = nn.Linear(hidden, num_classes, bias=bias)
    glorot_(decoder.weight)
    if bias:
        nn.init.zeros_(decoder.bias)
    return _euler_model(encoder, term, decoder, layers)


def residual_from_config(
    num_features: int,
    num_classes: int,
    *,
    hidden: int = 16,
    layers: int = 2,
    dropout: float = 0.5,
) -> GraphPDEModel:
    r"""Residual GCN (§7.4; configuration **NF**, these choices are ours).

    Encoder ``Dropout -> Linear(F, hidden)``, ``layers`` residual GCN layers
    :math:`f \leftarrow f + \mathrm{ReLU}(\hat A\,\mathcal D(f) W_l + b_l)`
    (:class:`GCNTerm` with ``residual=True``, Euler, ``dt = 1``), decoder
    ``Dropout -> Linear(hidden, C)``. Glorot weights, zero biases in the term;
    PyTorch's default init for the linear layers. The defaults are GCN's standard
    width and dropout so the two compare at equal depth.

    Args:
        num_features: Input width ``F``.
        num_classes: Output width ``C``.
        hidden: Width of the residual stream.
        layers: Number of residual graph layers ``>= 1``.
        dropout: Dropout before the encoder, every graph layer and the decoder.

    Returns:
        The model (``model.depth == layers``).

    Raises:
        TypeError: a non-integer size.
        ValueError: non-positive sizes or a bad dropout.

    Example:
        >>> model = residual_from_config(2, 3, layers=8)
        >>> model(x, graph).shape, model.depth
        (torch.Size([16, 3]), 8)
    """
    layers = _check_config(
        "gcn.residual_from_config", num_features, num_classes, hidden, layers, 1
    )
    encoder = MLP([num_features, hidden], dropout=dropout)
    term = GCNTerm(hidden, layers, dropout=dropout, residual=True)
    decoder = MLP([hidden, num_classes], dropout=dropout)
    return _euler_model(encoder, term, decoder, layers)


def pairnorm_from_config(
    num_features: int,
    num_classes: int,
    *,
    hidden: int = 64,
    layers: int = 10,
    dropout: float = 0.6,
    mode: str = "PN-SI",
    scale: float = 1.0,
) -> GraphPDEModel:
    r"""PairNorm's DeepGCN (§7.3) as an Euler-integrated model.

    ``layers - 1`` blocks ``Dropout -> GraphConv (bias) -> PairNorm -> ReLU`` and a
    last ``Dropout -> GraphConv`` to the classes, mapped as in :func:`from_config`
    (encoder ``Dropout -> Linear(F, hidden, bias=False)``; :class:`GCNTerm` with
    ``norm=mode``, ``input_weight=False``, ``last_layer="propagate"``; decoder
    ``Linear(hidden, C)``). Weights and biases ``U[-1/sqrt(out), 1/sqrt(out)]`` as
    in the authors' ``GraphConv``. Defaults: the README's DeepGCN (10 layers, PN-SI)
    with the code's hidden 64 and dropout 0.6; its ``--residual`` option is not
    provided.

    Args:
        num_features: Input width ``F``.
        num_classes: Output width ``C``.
        hidden: Hidden width.
        layers: Number of graph convolutions ``>= 2``.
        dropout: Dropout before every graph convolution.
        mode: :func:`pairnorm` mode.
        scale: PairNorm's scale ``s``.

    Returns:
        The model (``model.depth == layers``).

    Raises:
        TypeError: a non-integer size.
        ValueError: ``layers < 2``, an unknown ``mode``, a bad scale or dropout.

    Example:
        >>> model = pairnorm_from_config(2, 3, hidden=8, layers=4, mode="PN")
        >>> model(x, graph).shape, model.term.norm
        (torch.Size([16, 3]), 'PN')
    """
    layers = _check_config(
        "gcn.pairnorm_from_config", num_features, num_classes, hidden, layers, 2
    )
    if mode not in PAIRNORM_MODES:
        raise ValueError(
            f"gcn.pairnorm_from_config: `mode` must be one of {PAIRNORM_MODES}; got "
            f"{mode!r}."
        )
    encoder = MLP([num_features, hidden], dropout=dropout, bias=False)
    uniform_fan_(encoder[-1].weight, hidden)
    term = GCNTerm(
        hidden,
        layers,
        dropout=dropout,
        norm=mode,
        norm_scale=scale,
        input_weight=False,
        last_layer="propagate",
    )
    for values in (term.weight, term.bias):
        if values is not None:
            uniform_fan_(values.values, hidden)
    decoder = nn.Linear(hidden, num_classes)
    uniform_fan_(decoder.weight, num_classes)
    uniform_fan_(decoder.bias, num_classes)
    return _euler_model(encoder, term, decoder, layers)


def gcnii_from_config(
    num_features: int,
    num_classes: int,
    *,
    hidden: int = 64,
    layers: int = 64,
    alpha: float = 0.1,
    lam: float = 0.5,
    dropout: float = 0.6,
    variant: bool = False,
) -> GraphPDEModel:
    r"""GCNII (or GCNII*) as an Euler-integrated model (§7.2).

    Encoder :math:`H^0 = \mathrm{ReLU}(\mathrm{Linear}(\mathcal D(X)))`, ``layers``
    GCNII layers (:class:`GCNIITerm`, dropout before each), decoder ``Dropout ->
    Linear(hidden, C)``; Euler, ``dt = 1``. Defaults: Cora semi-supervised (64
    layers, hidden 64, alpha 0.1, lambda 0.5, dropout 0.6). The other datasets'
    settings are in REPRODUCTION.md §7.2.

    Args:
        num_features: Input width ``F``.
        num_classes: Output width ``C``.
        hidden: Width ``C`` of the graph layers.
        layers: Number of graph layers ``L >= 1``.
        alpha: Initial-residual weight.
        lam: :math:`\lambda` of :math:`\beta_l = \ln(\lambda/l + 1)`.
        dropout: Dropout before the encoder, every graph layer and the decoder.
        variant: GCNII* instead of GCNII.

    Returns:
        The model (``model.depth == layers``).

    Raises:
        TypeError: a non-integer size.
        ValueError: non-positive sizes, a bad ``alpha``, ``lam`` or dropout.

    Example:
        >>> model = gcnii_from_config(2, 3, hidden=8, layers=16, variant=True)
        >>> model(x, graph).shape, model.depth
        (torch.Size([16, 3]), 16)
    """
    layers = _check_config(
        "gcn.gcnii_from_config", num_features, num_classes, hidden, layers, 1
    )
    encoder = MLP([num_features, hidden], dropout=dropout, final_act=True)
    term = GCNIITerm(
        hidden, layers, alpha=alpha, lam=lam, variant=variant, dropout=dropout
    )
    decoder = MLP([hidden, num_classes], dropout=dropout)
    return _euler_model(encoder, term, decoder, layers)
