r"""Neural Sheaf Diffusion: the discrete Diag, O(d) ("Bundle") and General models.

Bodnar et al. (2022); REPRODUCTION.md §5 (every equation below is V1-code, the
authors' ``models/disc_models.py``). Every node carries a ``d' x C`` block (``d``
learned stalk dimensions, plus one for each fixed channel ``add_lp``/``add_hp``,
``d' = d + add_lp + add_hp``), stored node-major as ``X ∈ R^{(N d') x C}`` (the layout
of :mod:`graphops.sheaf`).

**Sheaf learner** (§5.2 step 4). At layer ``t`` the restriction maps come from the
features: for every directed edge ``(i, j)`` of ``graph.directed_edge_index``

.. math:: F_{i⊴e}(t) = \mathrm{map}\big(\phi(\Phi_t\, [x_i \,\|\, x_j])\big),
    \qquad x_i = \mathcal D_t(X)_i \in \mathbb R^{d' C}

with ``Φ_t`` a linear map without bias, ``φ`` = ``sheaf_act`` (tanh) and ``map``
the identity (``"diag"``: ``d`` numbers, the diagonal of ``F``; ``"general"``:
``d x d`` numbers) or :func:`graphops.sheaf.orthogonal_maps` (``"orthogonal"``:
``d(d-1)/2`` numbers, Householder by default). ``\mathcal D_t`` is dropout with
``p = dropout`` for ``t > 0`` and none at ``t = 0``. The reverse direction ``(j, i)``
gives ``F_{j⊴e}``. Optional edge weights (``"orthogonal"`` in the code):
``ω_ij = sigmoid(Ψ_t [x_i ‖ x_j])`` and the maps of edge ``e`` are scaled by
``s_e = ω_ij ω_ji``. The operator is the normalised sheaf Laplacian
``Δ_F(t) = (D + I)^{-1/2} L_F (D + I)^{-1/2}``
(:class:`graphops.sheaf.SheafLaplacian`), rebuilt at every layer.

**Update** (§5.2 step 4):

.. math::

    Z_t = \sigma\big(Δ_{F(t)}\, (I_N \otimes W_1^t)\, \mathcal D(X_t)\, W_2^t\big),
    \qquad X_{t+1} = (1 + \tanh ε_t) \odot X_t - Z_t,

``σ`` = ELU, ``W_1^t`` ``d' x d'`` (identity init), ``W_2^t`` ``C x C`` (orthogonal
init), ``ε_t ∈ R^{d'}`` (zero init) broadcast over nodes and channels, ``\mathcal D``
a dropout independent of the learner's. :class:`SheafDiffusionTerm` is the
right-hand side

.. math:: \frac{dX}{dt} = \tanh(ε_t) \odot X - Z_t(X),

so :class:`~solvers.Euler` with ``dt = 1`` (``h``) gives exactly the update above:
one NSD layer per step. ``W_1^t, W_2^t, ε_t`` are :class:`~models.TimeIndexed`
values and the learners a ``ModuleList`` indexed by the same rule, layer
``k(t)`` with ``t in [t0 + k h, t0 + (k+1) h)``, clipped to ``[0, K-1]``. A
multi-stage solver rebuilds the sheaf at every stage from the stage state (the ODE
the layers discretise); in
training mode every evaluation draws new dropout masks, so train multi-stage models
without dropout or compare them in ``eval()`` mode.

**Encoder and decoder** (§5.2 steps 1-3 and 5, :func:`from_config`):
``Dropout(input_dropout) -> Linear(F, d'C) -> ELU -> Dropout(dropout) ->
[Linear(d'C, d'C)] -> reshape [N d', C]``; decoder ``reshape [N, d'C] ->
Linear(d'C, classes)``, logits (the log-softmax and NLL loss belong to training).

**Paper-versus-code choices** (the spec has V1-code only; these are the places
where this implementation had to choose):

* Edge weights: as the code, ``s_e = ω_ij ω_ji`` scales both maps of edge ``e``,
  passed to ``SheafLaplacian`` as one ``[M]`` weight, so the edge couples with
  ``s_e^2 F_{i⊴e}^T F_{j⊴e}`` and node ``i`` gets ``Σ_e s_e^2``. (Passing the raw
  ``[2M]`` ``ω`` would couple with ``ω_ij ω_ji`` instead; not done.) The code builds
  them for O(d) only and ignores the flag for Diag and General; here
  ``edge_weights=None`` means exactly that, and ``edge_weights=True`` also works
  for Diag and General (an extension).
* General normalisation: ``SheafLaplacian`` differentiates ``(D_i + I)^{-1/2}`` in
  closed form, finite at repeated eigenvalues, so the code's training-time
  ``U(±1e-3)`` diagonal jitter is not applied; its clamp to ``[-1, 1]`` is a no-op.
* ``normalised`` applies to every kind (the code always normalises O(d)).
* ``sparse_learner``: the code (``LocalConcatSheafLearnerVariant``, Texas script)
  reshapes ``[x_i ‖ x_j]`` (``2 d' C`` numbers) to ``d' x 2C`` and sums the rows,
  which mixes stalks of ``i`` and ``j`` (for ``d' = 3``: ``[x_{i0} + x_{i2} +
  x_{j1} ‖ x_{i1} + x_{j0} + x_{j2}]``). ``sparse_learner=True`` (or ``"code"``) is
  that form, the one the published Texas number came from; ``"stalks"`` is the
  form the spec's words describe, ``[Σ_k x_{ik} ‖ Σ_k x_{jk}]``. Both give ``2C``
  inputs.
* ``orthogonal_method="matrix_exp"`` takes ``d(d-1)/2`` numbers (the code's
  ``d(d+1)/2`` include a diagonal that cancels).
* ``d >= 2`` for O(d) and General, as the code asserts.
* ``W_2^t`` is stored as the matrix multiplying from the right (the transpose of
  the code's ``nn.Linear`` weight); both are orthogonal at initialisation.
* Optimiser groups (:func:`param_groups`, §5.3): the sheaf group holds the
  restriction-map learners only; the edge-weight learners go with the rest, as the
  code's name filter (``"sheaf_learner" in name``) does.

**Presets** (§5.4, V1-code ``exp/scripts``; no configuration was released for Cora,
CiteSeer, PubMed, Film, or for the General model: NF): :data:`PRESETS` holds the
model arguments of :func:`from_config` and :data:`TRAINING_PRESETS` the optimiser
and stopping settings, both keyed by dataset.

References:
    C. Bodnar, F. Di Giovanni, B. P. Chamberlain, P. Liò, M. M. Bronstein. Neural
    Sheaf Diffusion: A Topological Perspective on Heterophily and Oversmoothing in
    GNNs. NeurIPS 2022. Code: twitter-research/neural-sheaf-diffusion.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphops import Graph
from graphops._checks import check_int, check_real, describe
from graphops.sheaf import SheafLaplacian, orthogonal_maps
from models.model import (
    GraphPDEModel,
    GraphTerm,
    TimeIndexed,
    layer_boundaries,
    layer_index,
)
from solvers import Euler

__all__ = [
    "PRESETS",
    "TRAINING_PRESETS",
    "EdgeWeightLearner",
    "FromStalks",
    "SheafArgs",
    "SheafDiffusionTerm",
    "SheafLearner",
    "ToStalks",
    "from_config",
    "param_groups",
]

KINDS = ("diag", "orthogonal", "general")
SHEAF_ACTIVATIONS = ("tanh", "id", "elu")
SPARSE_LEARNERS = (False, True, "code", "stalks")
ORTHOGONAL_METHODS = ("householder", "matrix_exp")

# §5.4 (V1-code, exp/scripts/run_<dataset>.sh): the model arguments of from_config.
PRESETS: dict[str, dict[str, Any]] = {
    "texas": dict(
        kind="orthogonal",
        d=3,
        layers=4,
        hidden=20,
        input_dropout=0.0,
        dropout=0.7,
        add_lp=False,
        add_hp=False,
        sparse_learner=True,
        second_linear=False,
        edge_weights=True,
    ),
    "wisconsin": dict(
        kind="orthogonal",
        d=3,
        layers=2,
        hidden=32,
        input_dropout=0.0,
        dropout=0.7276458263736642,
        add_lp=True,
        add_hp=True,
        sparse_learner=False,
        second_linear=False,
        edge_weights=True,
    ),
    "cornell": dict(
        kind="diag",
        d=4,
        layers=2,
        hidden=16,
        input_dropout=0.2,
        dropout=0.7,
        add_lp=True,
        add_hp=False,
        sparse_learner=False,
        second_linear=False,
    ),
    "chameleon": dict(
        kind="diag",
        d=4,
        layers=5,
        hidden=32,
        input_dropout=0.7,
        dropout=0.0,
        add_lp=True,
        add_hp=False,
        sparse_learner=False,
        second_linear=True,
    ),
    "squirrel": dict(
        kind="orthogonal",
        d=3,
        layers=5,
        hidden=32,
        input_dropout=0.7,
        dropout=0.0,
        add_lp=True,
        add_hp=False,
        sparse_learner=False,
        second_linear=True,
        edge_weights=True,
    ),
}

# §5.4 (V1-code): Adam learning rate, the two weight decays of param_groups, and the
# stopping rule (epochs, patience, "loss" = lowest validation loss, "acc" = highest
# validation accuracy).
TRAINING_PRESETS: dict[str, dict[str, Any]] = {
    "texas": dict(
        lr=0.02,
        weight_decay=5e-3,
        sheaf_decay=5e-3,
        epochs=1500,
        early_stopping=200,
        stop_strategy="loss",
    ),
    "wisconsin": dict(
        lr=0.02,
        weight_decay=0.0006685729356079199,
        sheaf_decay=0.0006685729356079199,
        epochs=500,
        early_stopping=200,
        stop_strategy="loss",
    ),
    "cornell": dict(
        lr=0.02,
        weight_decay=0.0006914841722570725,
        sheaf_decay=0.00031764232712732976,
        epochs=500,
        early_stopping=200,
        stop_strategy="loss",
    ),
    "chameleon": dict(
        lr=0.01,
        weight_decay=0.0002969905682317406,
        sheaf_decay=0.0012638885974822734,
        epochs=1000,
        early_stopping=100,
        stop_strategy="acc",
    ),
    "squirrel": dict(
        lr=0.01,
        weight_decay=0.00011215791366362148,
        sheaf_decay=0.00011215791366362148,
        epochs=1000,
        early_stopping=100,
        stop_strategy="acc",
    ),
}


# ---------------------------------------------------------------------------------
# Argument checks shared by the classes and from_config
# ---------------------------------------------------------------------------------
def _check_bool(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: `{name}` must be a bool; got {describe(value)}.")
    return value


def _check_choice(where: str, name: str, value: Any, choices: tuple) -> Any:
    # `in` on a tuple holding False/True would accept 0 and 1: compare types too.
    if not any(type(value) is type(c) and value == c for c in choices):
        raise ValueError(f"{where}: `{name}` must be one of {choices}; got {value!r}.")
    return value


def _check_stalk_dim(where: str, kind: str, d: Any) -> int:
    _check_choice(where, "kind", kind, KINDS)
    low = 1 if kind == "diag" else 2
    d = check_int(where, "d", d)
    if d < low:
        raise ValueError(
            f"{where}: `d` must be >= {low} for kind={kind!r}; got {d}. O(d) and "
            "general maps need d >= 2 (as the authors' code asserts); use "
            "kind='diag' for d = 1."
        )
    return d


def _map_shape(kind: str, d: int) -> tuple[int, ...]:
    if kind == "diag":
        return (d,)
    if kind == "orthogonal":
        return (d * (d - 1) // 2,)
    return (d, d)


def _edge_linear(x: Tensor, graph: Graph, weight: Tensor, where: str) -> Tensor:
    """``W [x_i ‖ x_j]`` for every directed edge ``(i, j)``: ``[2M, W.shape[0]]``.

    Computed as ``(x W_i^T)[i] + (x W_j^T)[j]`` with ``W = [W_i | W_j]``: the
    products are taken per node and only the ``W.shape[0]`` outputs are gathered
    per edge, never the ``[2M, 2 d' C]`` concatenation (on Squirrel that is a
    ``[396706, 256]`` tensor per layer, built, multiplied and differentiated).
    Equal to ``torch.cat([x[row], x[col]], 1) @ W.T`` up to rounding (tested).
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"{where}: `graph` must be a Graph; got {describe(graph)}.")
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != graph.num_nodes:
        raise ValueError(
            f"{where}: `x` must be node features [N, d'*C] with N={graph.num_nodes}; "
            f"got {describe(x)}. Reshape the stalk state with "
            "x.reshape(graph.num_nodes, -1)."
        )
    if 2 * x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"{where}: `x` must have d'*C = {weight.shape[1] // 2} columns; got "
            f"{x.shape[1]}."
        )
    row, col = graph.directed_edge_index
    out, f = weight.shape[0], x.shape[1]
    both = x @ torch.cat([weight[:, :f], weight[:, f:]]).T  # [N, 2 * out]
    return both[:, :out].index_select(0, row) + both[:, out:].index_select(0, col)


# ---------------------------------------------------------------------------------
# Learners
# ---------------------------------------------------------------------------------
class SheafLearner(nn.Module):
    r"""Restriction-map parameters :math:`\phi(\Phi [x_i \| x_j])` per directed edge.

    ``Φ`` is a linear map without bias (PyTorch's default init, as the authors'
    ``LocalConcatSheafLearner``), ``φ`` = ``act``. With ``sparse`` the ``2 d' C``
    inputs are first summed to ``2C`` (see :mod:`models.sheaf` for the two forms).

    Args:
        stalk_dim: ``d'``, the stalk dimension of the features (fixed channels
            included).
        channels: ``C``, channels per stalk dimension.
        out_shape: Shape of the output per edge: ``(d,)``, ``(d(d-1)/2,)`` or
            ``(d, d)``.
        act: ``"tanh"`` (default), ``"id"`` or ``"elu"`` (the code's ``sheaf_act``).
        sparse: ``False`` (all ``2 d' C`` inputs), ``True``/``"code"`` (the
            authors' row sum of the ``d' x 2C`` reshape) or ``"stalks"`` (per-node
            stalk sums).

    Raises:
        TypeError: non-integer sizes.
        ValueError: non-positive sizes, an empty ``out_shape`` dimension, an
            unknown ``act`` or ``sparse``.

    Shapes:
        ``x``: ``[N, d'*C]`` -> ``[2M, *out_shape]`` in
        ``graph.directed_edge_index`` order.

    Example:
        >>> learner = SheafLearner(2, 4, (2,))        # diagonal maps, d = d' = 2
        >>> learner(torch.randn(16, 8), graph).shape[1:]
        torch.Size([2])
    """

    def __init__(
        self,
        stalk_dim: int,
        channels: int,
        out_shape: tuple[int, ...],
        *,
        act: str = "tanh",
        sparse: bool | str = False,
    ) -> None:
        """Create the linear map (see the class docstring)."""
        super().__init__()
        where = "SheafLearner"
        self.stalk_dim = check_int(where, "stalk_dim", stalk_dim, low=1)
        self.channels = check_int(where, "channels", channels, low=1)
        self.out_shape = tuple(
            check_int(where, "out_shape", s, low=0) for s in out_shape
        )
        if not self.out_shape:
            raise ValueError(
                f"{where}: `out_shape` must have at least one dimension; got "
                f"{out_shape!r}."
            )
        self.act = _check_choice(where, "act", act, SHEAF_ACTIVATIONS)
        self.sparse = _check_choice(where, "sparse", sparse, SPARSE_LEARNERS)
        fan_in = 2 * self.channels if self.sparse else 2 * self.stalk_dim * channels
        self.linear = nn.Linear(fan_in, math.prod(self.out_shape), bias=False)

    def full_weight(self) -> Tensor:
        r"""``Φ`` as a map of the whole ``[x_i ‖ x_j]``: ``[out, 2 d' C]``.

        The sparse forms sum inputs before ``Φ``, which is the same as one
        linear map of the concatenation with ``Φ``'s columns repeated: for
        ``"stalks"`` input ``h d' C + k C + m`` (node ``h``, stalk row ``k``,
        channel ``m``) gets column ``h C + m``; for the code's form input
        ``k 2C + m`` of the ``d' x 2C`` reshape gets column ``m``.
        """
        w = self.linear.weight
        dp, c = self.stalk_dim, self.channels
        if self.sparse == "stalks":
            return w.reshape(-1, 2, 1, c).expand(-1, 2, dp, c).reshape(-1, 2 * dp * c)
        if self.sparse:
            return w.repeat(1, dp)
        return w

    def forward(self, x: Tensor, graph: Graph) -> Tensor:
        """The parameters for every directed edge (see the class docstring)."""
        z = _edge_linear(x, graph, self.full_weight(), "SheafLearner")
        if self.act == "tanh":
            z = torch.tanh(z)
        elif self.act == "elu":
            z = F.elu(z)
        return z.reshape(-1, *self.out_shape)

    def extra_repr(self) -> str:
        """Sizes and options."""
        return (
            f"stalk_dim={self.stalk_dim}, channels={self.channels}, "
            f"out_shape={self.out_shape}, act={self.act!r}, sparse={self.sparse!r}"
        )


class EdgeWeightLearner(nn.Module):
    r"""Edge weights ``s_e = ω_ij ω_ji``, ``ω_ij = sigmoid(Ψ [x_i ‖ x_j])``.

    ``Ψ`` is a linear map to one number without bias (the authors'
    ``EdgeWeightLearner``). The product is symmetric, one weight per undirected
    edge, and scales both restriction maps of the edge.

    Args:
        stalk_dim: ``d'``.
        channels: ``C``.

    Raises:
        TypeError: non-integer sizes.
        ValueError: non-positive sizes.

    Shapes:
        ``x``: ``[N, d'*C]`` -> ``[M]`` (``graph.edge_index`` order), in ``(0, 1)``.

    Example:
        >>> EdgeWeightLearner(2, 4)(torch.randn(16, 8), graph).shape
        torch.Size([24])
    """

    def __init__(self, stalk_dim: int, channels: int) -> None:
        """Create the linear map (see the class docstring)."""
        super().__init__()
        dp = check_int("EdgeWeightLearner", "stalk_dim", stalk_dim, low=1)
        c = check_int("EdgeWeightLearner", "channels", channels, low=1)
        self.linear = nn.Linear(2 * dp * c, 1, bias=False)

    def forward(self, x: Tensor, graph: Graph) -> Tensor:
        """``s_e`` for every undirected edge (see the class docstring)."""
        omega = torch.sigmoid(
            _edge_linear(x, graph, self.linear.weight, "EdgeWeightLearner")
        )
        m = graph.num_edges
        return (omega[:m] * omega[m:]).squeeze(1)


# ---------------------------------------------------------------------------------
# The right-hand side
# ---------------------------------------------------------------------------------
class SheafArgs(NamedTuple):
    """What :meth:`SheafDiffusionTerm.prepare` hands to every evaluation.

    Attributes:
        graph: The graph.
        laplacian: ``None`` (the sheaf is rebuilt at every evaluation) or the
            Laplacian built once from the initial state (``rebuild_sheaf=False``,
            the code's ``linear=True``).
    """

    graph: Graph
    laplacian: SheafLaplacian | None = None


class SheafDiffusionTerm(GraphTerm):
    r"""The discrete NSD layers as a right-hand side (REPRODUCTION.md §5.2).

    .. math:: \frac{dX}{dt} = \tanh(ε_t) \odot X - \sigma\big(Δ_{F(t)}
        (I_N \otimes W_1^t)\, \mathcal D(X)\, W_2^t\big)

    with ``Δ_{F(t)}`` rebuilt from ``X`` by the layer's :class:`SheafLearner` (and
    :class:`EdgeWeightLearner`); Euler with ``dt = h`` gives the NSD layer
    :math:`X \leftarrow (1 + \tanh ε_t) \odot X - Z_t`. Details and the choices
    made: :mod:`models.sheaf`.

    Args:
        d: Learned stalk dimension (``>= 1`` for ``"diag"``, ``>= 2`` otherwise).
        channels: ``C``, channels per stalk dimension (``hidden_channels``).
        num_layers: Number of layers ``K``.
        kind: ``"diag"``, ``"orthogonal"`` (the code's ``BundleSheaf``) or
            ``"general"``.
        add_lp: Fixed signless-Laplacian (high-pass) channel; see
            :class:`~graphops.sheaf.SheafLaplacian` for the naming quirk.
        add_hp: Fixed ordinary-Laplacian (low-pass) channel.
        normalised: Diffuse with ``Δ_F = (D + I)^{-1/2} L_F (D + I)^{-1/2}``.
        edge_weights: Learn ``s_e`` (:class:`EdgeWeightLearner`); ``None``: on for
            ``"orthogonal"``, off otherwise (the code's behaviour).
        sheaf_act: Activation of the learner: ``"tanh"``, ``"id"`` or ``"elu"``.
        sparse_learner: ``False``, ``True``/``"code"`` or ``"stalks"``; see
            :class:`SheafLearner`.
        orthogonal_method: ``"householder"`` or ``"matrix_exp"`` (``"orthogonal"``).
        dropout: Dropout on the state before the update, and on the learner's
            input for layers ``t > 0``.
        left_weights: Use ``W_1^t`` (else the identity).
        right_weights: Use ``W_2^t`` (else the identity).
        use_act: ``σ`` = ELU (else the identity).
        rebuild_sheaf: Rebuild the sheaf at every evaluation (default); ``False``
            builds it once from the initial state in :meth:`prepare` (the code's
            ``linear=True``), with one learner.
        h: Training step: layer ``k`` owns ``[t0 + k h, t0 + (k+1) h)``.
        t0: Start time of layer 0.

    Raises:
        TypeError: a non-integer size or a flag that is not a bool.
        ValueError: bad sizes, ``kind``, ``sheaf_act``, ``sparse_learner``,
            ``orthogonal_method``, ``dropout`` or ``h``.

    Shapes:
        ``y``: ``[N*d', C]`` (node-major) -> ``[N*d', C]``, ``d' = d + add_lp +
        add_hp``; ``args``: the graph or a :class:`SheafArgs`.

    Example:
        >>> term = SheafDiffusionTerm(2, 4, num_layers=2, kind="orthogonal")
        >>> model = GraphPDEModel(nn.Sequential(nn.Linear(3, 8), ToStalks(2)), term,
        ...                       nn.Sequential(FromStalks(2), nn.Linear(8, 2)),
        ...                       solver=Euler(), t1=2.0, dt0=1.0)
        >>> model(torch.randn(16, 3), graph).shape
        torch.Size([16, 2])
    """

    def __init__(
        self,
        d: int,
        channels: int,
        num_layers: int,
        *,
        kind: str = "diag",
        add_lp: bool = False,
        add_hp: bool = False,
        normalised: bool = True,
        edge_weights: bool | None = None,
        sheaf_act: str = "tanh",
        sparse_learner: bool | str = False,
        orthogonal_method: str = "householder",
        dropout: float = 0.0,
        left_weights: bool = True,
        right_weights: bool = True,
        use_act: bool = True,
        rebuild_sheaf: bool = True,
        h: float = 1.0,
        t0: float = 0.0,
    ) -> None:
        """Create the learners and the per-layer parameters (see the class)."""
        super().__init__()
        where = "SheafDiffusionTerm"
        self.d = _check_stalk_dim(where, kind, d)
        self.kind = kind
        self.channels = check_int(where, "channels", channels, low=1)
        self.num_layers = check_int(where, "num_layers", num_layers, low=1)
        flags = {
            "add_lp": add_lp,
            "add_hp": add_hp,
            "normalised": normalised,
            "left_weights": left_weights,
            "right_weights": right_weights,
            "use_act": use_act,
            "rebuild_sheaf": rebuild_sheaf,
        }
        for name, value in flags.items():
            _check_bool(where, name, value)
        if edge_weights is None:
            edge_weights = kind == "orthogonal"
        self.edge_weights = _check_bool(where, "edge_weights", edge_weights)
        self.add_lp, self.add_hp = add_lp, add_hp
        self.normalised = normalised
        self.left_weights, self.right_weights = left_weights, right_weights
        self.use_act = use_act
        self.rebuild_sheaf = rebuild_sheaf
        self.sheaf_act = _check_choice(where, "sheaf_act", sheaf_act, SHEAF_ACTIVATIONS)
        self.sparse_learner = _check_choice(
            where, "sparse_learner", sparse_learner, SPARSE_LEARNERS
        )
        self.orthogonal_method = _check_choice(
            where, "orthogonal_method", orthogonal_method, ORTHOGONAL_METHODS
        )
        self.dropout = check_real(
            where, "dropout", dropout, low=0.0, high=1.0, high_open=True
        )
        self.h = check_real(where, "h", h, low=0.0, low_open=True)
        self.t0 = check_real(where, "t0", t0)
        self._boundaries = layer_boundaries(self.t0, self.h, self.num_layers)

        dp = self.stalk_dim
        c, k = self.channels, self.num_layers
        num_learners = k if rebuild_sheaf else 1
        shape = _map_shape(kind, self.d)
        self.sheaf_learners = nn.ModuleList(
            SheafLearner(dp, c, shape, act=sheaf_act, sparse=sparse_learner)
            for _ in range(num_learners)
        )
        self.weight_learners = nn.ModuleList(
            EdgeWeightLearner(dp, c) for _ in range(num_learners if edge_weights else 0)
        )
        self.left_weight = None
        if left_weights:
            eye = torch.eye(dp).expand(k, dp, dp).clone()
            self.left_weight = TimeIndexed(eye, h=self.h, t0=self.t0)
        self.right_weight = None
        if right_weights:
            w2 = torch.empty(k, c, c)
            for w in w2:
                nn.init.orthogonal_(w)
            self.right_weight = TimeIndexed(w2, h=self.h, t0=self.t0)
        self.epsilon = TimeIndexed(torch.zeros(k, dp), h=self.h, t0=self.t0)

    @property
    def stalk_dim(self) -> int:
        """``d' = d + add_lp + add_hp``."""
        return self.d + int(self.add_lp) + int(self.add_hp)

    def layer(self, t: float | Tensor) -> int:
        """The layer index ``k(t)``: the rule of :func:`models.model.layer_index`."""
        return layer_index(self._boundaries, t)

    def jump_times(self, t0: float, t1: float) -> list[float]:
        """Every layer boundary ``t0 + k h`` (``k = 1 .. K-1``) inside ``(t0, t1)``."""
        return [t for t in self._boundaries if t0 < t < t1]

    def _check_state(self, y: Any, graph: Graph) -> None:
        rows = graph.num_nodes * self.stalk_dim
        if (
            not isinstance(y, Tensor)
            or y.dim() != 2
            or y.shape != (rows, self.channels)
        ):
            raise ValueError(
                f"SheafDiffusionTerm: the state must be node-major stalks [N*d', C] "
                f"= [{rows}, {self.channels}] (N={graph.num_nodes}, "
                f"d'={self.stalk_dim}); got {describe(y)}. Encode with ToStalks(d')."
            )

    def restriction_maps(
        self, layer: int, y: Tensor, graph: Graph
    ) -> tuple[Tensor, Tensor | None]:
        """The maps and edge weights of ``layer`` from the state ``y``.

        Args:
            layer: Layer index ``k`` (``0`` when ``rebuild_sheaf=False``).
            y: State ``[N*d', C]``.
            graph: The graph.

        Returns:
            ``(maps, s)``: ``maps`` ``[2M, d]`` (``"diag"``) or ``[2M, d, d]`` in
            ``graph.directed_edge_index`` order, and ``s`` ``[M]`` or ``None``.
        """
        self._check_state(y, graph)
        return self._maps(layer, self._learner_input(layer, y, graph.num_nodes), graph)

    def _learner_input(self, layer: int, y: Tensor, n: int) -> Tensor:
        """The learner's node features ``[n, d'*C]`` (dropout for ``layer > 0``)."""
        p = self.dropout if layer > 0 else 0.0
        return F.dropout(y, p=p, training=self.training).reshape(n, -1)

    def _maps(
        self, layer: int, xm: Tensor, graph: Graph
    ) -> tuple[Tensor, Tensor | None]:
        """``(maps, s)`` of ``layer`` from the node features ``xm`` on ``graph``."""
        idx = layer if self.rebuild_sheaf else 0
        maps = self.sheaf_learners[idx](xm, graph)
        if self.kind == "orthogonal":
            maps = orthogonal_maps(maps, self.d, method=self.orthogonal_method)
        weights = self.weight_learners[idx](xm, graph) if self.edge_weights else None
        return maps, weights

    def laplacian_options(self) -> dict[str, Any]:
        """The options of the :class:`~graphops.sheaf.SheafLaplacian` it builds.

        Everything but the graph, the maps and the edge weights: ``kind``,
        ``normalised``, ``add_lp``, ``add_hp`` and ``validate=False`` (the
        learner's tanh/sigmoid and ``orthogonal_maps`` make valid inputs by
        construction, so the host-syncing checks are skipped).
        """
        return dict(
            kind=self.kind,
            normalised=self.normalised,
            add_lp=self.add_lp,
            add_hp=self.add_hp,
            validate=False,
        )

    def sheaf_laplacian(self, layer: int, y: Tensor, graph: Graph) -> SheafLaplacian:
        """``Δ_F`` (or ``L_F``) of ``layer`` built from the state ``y``.

        Args:
            layer: Layer index ``k``.
            y: State ``[N*d', C]``.
            graph: The graph.

        Returns:
            A :class:`~graphops.sheaf.SheafLaplacian` on ``[N*d', C]`` signals (on a
            rank's :class:`~models.distributed.DistributedGraph`, the
            :class:`~graphops.distributed.DistributedSheafLaplacian` of its
            block, built by :meth:`DistributedGraph.sheaf_laplacian
            <models.distributed.DistributedGraph.sheaf_laplacian>`).
        """
        if not isinstance(graph, Graph):
            from models.distributed import DistributedGraph

            if isinstance(graph, DistributedGraph):
                return graph.sheaf_laplacian(self, layer, y)
        maps, weights = self.restriction_maps(layer, y, graph)
        return SheafLaplacian(
            graph, maps, edge_weight=weights, **self.laplacian_options()
        )

    def prepare(self, t0: float, y0: Tensor, graph: Graph) -> SheafArgs:
        """The graph, and the Laplacian from ``y0`` when ``rebuild_sheaf=False``."""
        if self.rebuild_sheaf:
            return SheafArgs(graph)
        return SheafArgs(graph, self.sheaf_laplacian(0, y0, graph))

    def forward(self, t: float | Tensor, y: Tensor, args: Any = None) -> Tensor:
        """The right-hand side at ``t`` (see the class docstring)."""
        if isinstance(args, Graph):
            args = SheafArgs(args)
        if not isinstance(args, SheafArgs):
            raise TypeError(
                "SheafDiffusionTerm: `args` must be the graph or a SheafArgs; got "
                f"{describe(args)}. Pass args=term.prepare(t0, y0, graph)."
            )
        graph, lap = args
        self._check_state(y, graph)
        if lap is None:
            if not self.rebuild_sheaf:
                raise ValueError(
                    "SheafDiffusionTerm: with rebuild_sheaf=False the sheaf comes from "
                    "the initial state; got no Laplacian in `args`. Pass "
                    "args=term.prepare(t0, y0, graph)."
                )
            lap = self.sheaf_laplacian(self.layer(t), y, graph)
        n, dp, c = graph.num_nodes, self.stalk_dim, self.channels
        z = F.dropout(y, p=self.dropout, training=self.training)
        if self.left_weight is not None:
            z = (self.left_weight(t) @ z.reshape(n, dp, c)).reshape(n * dp, c)
        if self.right_weight is not None:
            z = z @ self.right_weight(t)
        z = lap @ z
        if self.use_act:
            z = F.elu(z)
        eps = torch.tanh(self.epsilon(t)).reshape(1, dp, 1)
        return (eps * y.reshape(n, dp, c)).reshape(n * dp, c) - z

    def extra_repr(self) -> str:
        """Kind, sizes and the options that differ from the defaults."""
        parts = [
            f"kind={self.kind!r}",
            f"d={self.d}",
            f"stalk_dim={self.stalk_dim}",
            f"channels={self.channels}",
            f"num_layers={self.num_layers}",
        ]
        if not self.normalised:
            parts.append("normalised=False")
        if self.dropout:
            parts.append(f"dropout={self.dropout:g}")
        if not self.rebuild_sheaf:
            parts.append("rebuild_sheaf=False")
        if self.h != 1.0:
            parts.append(f"h={self.h:g}")
        return ", ".join(parts)


# ---------------------------------------------------------------------------------
# Encoder / decoder reshapes, constructor, optimiser groups
# ---------------------------------------------------------------------------------
class ToStalks(nn.Module):
    """``[N, d'*C] -> [N*d', C]``: node ``i``'s ``d'C`` features become rows ``i*d'..``.

    Args:
        stalk_dim: ``d'``.

    Raises:
        TypeError: ``stalk_dim`` is not an int.
        ValueError: ``stalk_dim < 1``, or (forward) an input whose width is not a
            multiple of ``d'``.

    Example:
        >>> ToStalks(2)(torch.arange(8.0).reshape(2, 4))
        tensor([[0., 1.],
                [2., 3.],
                [4., 5.],
                [6., 7.]])
    """

    def __init__(self, stalk_dim: int) -> None:
        """Store ``d'``."""
        super().__init__()
        self.stalk_dim = check_int("ToStalks", "stalk_dim", stalk_dim, low=1)

    def forward(self, x: Tensor) -> Tensor:
        """Reshape ``x`` ``[N, d'*C]`` to ``[N*d', C]``."""
        dp = self.stalk_dim
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] % dp:
            raise ValueError(
                f"ToStalks: expected node features [N, d'*C] with d'={dp}; got "
                f"{describe(x)}. Make the encoder width a multiple of d'."
            )
        return x.reshape(x.shape[0] * dp, x.shape[1] // dp)

    def extra_repr(self) -> str:
        """``d'``."""
        return f"stalk_dim={self.stalk_dim}"


class FromStalks(nn.Module):
    """``[N*d', C] -> [N, d'*C]``, the inverse of :class:`ToStalks`.

    Args:
        stalk_dim: ``d'``.

    Raises:
        TypeError: ``stalk_dim`` is not an int.
        ValueError: ``stalk_dim < 1``, or (forward) a row count that is not a
            multiple of ``d'``.

    Example:
        >>> FromStalks(2)(torch.arange(8.0).reshape(4, 2))
        tensor([[0., 1., 2., 3.],
                [4., 5., 6., 7.]])
    """

    def __init__(self, stalk_dim: int) -> None:
        """Store ``d'``."""
        super().__init__()
        self.stalk_dim = check_int("FromStalks", "stalk_dim", stalk_dim, low=1)

    def forward(self, x: Tensor) -> Tensor:
        """Reshape ``x`` ``[N*d', C]`` to ``[N, d'*C]``."""
        dp = self.stalk_dim
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] % dp:
            raise ValueError(
                f"FromStalks: expected a stalk signal [N*d', C] with d'={dp}; got "
                f"{describe(x)}."
            )
        return x.reshape(x.shape[0] // dp, dp * x.shape[1])

    def extra_repr(self) -> str:
        """``d'``."""
        return f"stalk_dim={self.stalk_dim}"


def from_config(
    num_features: int,
    num_classes: int,
    kind: str = "diag",
    *,
    d: int = 2,
    layers: int = 2,
    hidden: int = 20,
    input_dropout: float = 0.0,
    dropout: float = 0.0,
    add_lp: bool = False,
    add_hp: bool = False,
    normalised: bool = True,
    edge_weights: bool | None = None,
    sheaf_act: str = "tanh",
    sparse_learner: bool | str = False,
    orthogonal_method: str = "householder",
    second_linear: bool = False,
    use_act: bool = True,
    left_weights: bool = True,
    right_weights: bool = True,
    rebuild_sheaf: bool = True,
) -> GraphPDEModel:
    """The discrete NSD model of REPRODUCTION.md §5.2 with the code's defaults.

    Defaults (§5.3, V1-code ``exp/parser.py``): ``d = 2``, ``layers = 2``,
    ``hidden = 20`` (``hidden_channels``), no dropout, no fixed channels, normalised,
    tanh learner, Householder maps, ``edge_weights`` for O(d) only. The model is
    ``encoder -> Euler(dt = 1) for `layers` steps of SheafDiffusionTerm ->
    decoder``, one NSD layer per step; the decoder returns logits.

    Presets (§5.4, V1-code ``exp/scripts``; ``from_config(F, C, **PRESETS[name])``,
    training settings in ``TRAINING_PRESETS[name]``):

    ===========  ==========  ===  ======  ======  ===========  ========  ======
    dataset      kind        d    layers  hidden  in/dropout   lp/hp     other
    ===========  ==========  ===  ======  ======  ===========  ========  ======
    texas        orthogonal  3    4       20      0 / 0.7      no/no     sparse
    wisconsin    orthogonal  3    2       32      0 / 0.728    yes/yes
    cornell      diag        4    2       16      0.2 / 0.7    yes/no
    chameleon    diag        4    5       32      0.7 / 0      yes/no    2nd lin
    squirrel     orthogonal  3    5       32      0.7 / 0      yes/no    2nd lin
    ===========  ==========  ===  ======  ======  ===========  ========  ======

    Cora, CiteSeer, PubMed, Film and every General-sheaf configuration: NF.

    Args:
        num_features: Input width ``F``.
        num_classes: Output width.
        kind: ``"diag"``, ``"orthogonal"`` or ``"general"``.
        d: Learned stalk dimension.
        layers: Number of layers (Euler steps of size 1, ``t1 = layers``).
        hidden: ``C``, channels per stalk dimension; the hidden width is ``d' C``.
        input_dropout: Dropout on the input features.
        dropout: Dropout after the encoder's activation, before every update and
            on the learner's input for layers ``t > 0``.
        add_lp: Fixed signless-Laplacian channel (high-pass, the code's name).
        add_hp: Fixed Laplacian channel (low-pass).
        normalised: Use the normalised sheaf Laplacian.
        edge_weights: Learned edge weights (``None``: O(d) only, as the code).
        sheaf_act: Learner activation.
        sparse_learner: ``False``, ``True``/``"code"`` or ``"stalks"``.
        orthogonal_method: ``"householder"`` or ``"matrix_exp"``.
        second_linear: A second ``Linear(d'C, d'C)`` at the end of the encoder.
        use_act: ELU in the encoder and in the update.
        left_weights: Per-layer ``W_1``.
        right_weights: Per-layer ``W_2``.
        rebuild_sheaf: A new sheaf at every layer (the code's default).

    Returns:
        A :class:`~models.GraphPDEModel` with ``solver=Euler()``, ``dt0 = 1``.

    Raises:
        TypeError: non-integer sizes or non-bool flags.
        ValueError: bad sizes, dropouts or options (see
            :class:`SheafDiffusionTerm`).

    Example:
        >>> model = from_config(3, 2, "general", d=2, layers=2, hidden=4)
        >>> model(torch.randn(16, 3), graph).shape
        torch.Size([16, 2])
    """
    where = "sheaf.from_config"
    f_in = check_int(where, "num_features", num_features, low=1)
    n_out = check_int(where, "num_classes", num_classes, low=1)
    d = _check_stalk_dim(where, kind, d)
    layers = check_int(where, "layers", layers, low=1)
    hidden = check_int(where, "hidden", hidden, low=1)
    p_in = check_real(
        where, "input_dropout", input_dropout, low=0.0, high=1.0, high_open=True
    )
    p = check_real(where, "dropout", dropout, low=0.0, high=1.0, high_open=True)
    _check_bool(where, "second_linear", second_linear)
    _check_bool(where, "use_act", use_act)
    term = SheafDiffusionTerm(
        d,
        hidden,
        layers,
        kind=kind,
        add_lp=add_lp,
        add_hp=add_hp,
        normalised=normalised,
        edge_weights=edge_weights,
        sheaf_act=sheaf_act,
        sparse_learner=sparse_learner,
        orthogonal_method=orthogonal_method,
        dropout=p,
        left_weights=left_weights,
        right_weights=right_weights,
        use_act=use_act,
        rebuild_sheaf=rebuild_sheaf,
    )
    dp = term.stalk_dim
    width = dp * hidden
    enc: list[nn.Module] = [nn.Dropout(p_in), nn.Linear(f_in, width)]
    if use_act:
        enc.append(nn.ELU())
    enc.append(nn.Dropout(p))
    if second_linear:
        enc.append(nn.Linear(width, width))
    enc.append(ToStalks(dp))
    decoder = nn.Sequential(FromStalks(dp), nn.Linear(width, n_out))
    return GraphPDEModel(
        nn.Sequential(*enc),
        term,
        decoder,
        solver=Euler(),
        t1=float(layers),
        dt0=1.0,
    )


def param_groups(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    sheaf_decay: float | None = None,
) -> list[dict[str, Any]]:
    """Adam parameter groups of REPRODUCTION.md §5.3 (V1-code ``exp/run.py``).

    The restriction-map learners (``sheaf_learners`` of every
    :class:`SheafDiffusionTerm` in ``model``) get ``sheaf_decay``; every other
    parameter, the edge-weight learners included (as the code's name filter),
    gets ``weight_decay``; one shared learning rate.

    Args:
        model: A model holding at least one :class:`SheafDiffusionTerm`.
        lr: Learning rate, ``> 0``.
        weight_decay: Weight decay of the other parameters, ``>= 0``.
        sheaf_decay: Weight decay of the learners (``None``: ``weight_decay``).

    Returns:
        ``[{"params": learners, "weight_decay": sheaf_decay, "lr": lr},
        {"params": others, "weight_decay": weight_decay, "lr": lr}]``, for
        ``torch.optim.Adam``.

    Raises:
        TypeError: ``model`` holds no :class:`SheafDiffusionTerm`.
        ValueError: a negative decay or a non-positive ``lr``.

    Example:
        >>> model = from_config(3, 2)
        >>> opt = torch.optim.Adam(param_groups(model, 0.01, 5e-4, 1e-3))
    """
    where = "sheaf.param_groups"
    lr = check_real(where, "lr", lr, low=0.0, low_open=True)
    wd = check_real(where, "weight_decay", weight_decay, low=0.0)
    sd = (
        wd
        if sheaf_decay is None
        else check_real(where, "sheaf_decay", sheaf_decay, low=0.0)
    )
    terms = [m for m in model.modules() if isinstance(m, SheafDiffusionTerm)]
    if not terms:
        raise TypeError(
            f"{where}: `model` must contain a SheafDiffusionTerm; got "
            f"{type(model).__name__}. Build it with models.sheaf.from_config."
        )
    sheaf = [p for term in terms for p in term.sheaf_learners.parameters()]
    ids = {id(p) for p in sheaf}
    others = [p for p in model.parameters() if id(p) not in ids]
    return [
        {"params": sheaf, "weight_decay": sd, "lr": lr},
        {"params": others, "weight_decay": wd, "lr": lr},
    ]
