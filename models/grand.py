r"""GRAND (graph neural diffusion with attention) and BLEND (Beltrami flow).

GRAND (Chamberlain et al. 2021; REPRODUCTION.md §3) diffuses the encoded features
with a learned, attention-weighted adjacency :math:`A(X)`:

.. math::

    X(0) = \phi(x), \qquad
    \frac{dX}{dt} = \sigma(\hat\alpha)\,\big(A(X) - I\big) X
        + \hat\beta\, \bar X(0), \qquad
    \hat y = \psi\big(X(T)\big),

with :math:`\bar X(0)` a **detached** copy of :math:`X(0)` (no gradient reaches the
encoder through the source), learned scalars :math:`\hat\alpha, \hat\beta`
initialised at 0 (so the diffusion factor starts at 0.5 and the source at 0), and
:math:`A(X)` the head-averaged multi-head attention of
:func:`graphops.attention.attention_weights` on both directions of every edge plus a
self-loop per node:

.. math::

    A_{ab} = \frac1H \sum_{h=1}^H
    \operatorname{norm}_{g(a,b)}\Big(\frac{\langle W_Q^h X_a, W_K^h X_b\rangle}
    {\sqrt{d_k}}\Big).

* **GRAND-l** computes :math:`A` once per forward pass from :math:`X(0)`
  (:meth:`GRAND.prepare`) and keeps it for the whole integration;
* **GRAND-nl** recomputes :math:`A(X(t))` at every evaluation of the right-hand side
  (REPRODUCTION.md §3.1, maintainer mapping: both use the attention block;
  GRAND-l = ``--function laplacian``, GRAND-nl = ``--function transformer``).

Encoder :math:`\phi`: ``Dropout(input_dropout) -> Linear`` with **no activation**
(``use_mlp=False``); decoder :math:`\psi`: ``ReLU -> Dropout(dropout) -> Linear``
(``fc_out=False``), REPRODUCTION.md §3.2 items 1 and 5 (V1-code). The default
integrator is ``Dopri5()`` with ``PIController(rtol=tol_scale * 1e-9,
atol=tol_scale * 1e-7)`` (§3.2 item 4; note that the *absolute* tolerance gets the
larger factor, as in the code's ``set_tol``).

**BLEND** (Chamberlain et al. 2021b, "Beltrami flow"; REPRODUCTION.md §3.3 says only
that ``best_params.py`` entries were BLEND-era runs with ``beltrami: True``). The
state is the concatenation :math:`Z = [U, P]` of encoded features :math:`U` and
encoded positional coordinates :math:`P` (Laplacian eigenvectors,
:func:`positional_encoding`), and both are diffused jointly by the same equation,
with the attention computed from the whole state:

.. math::

    Z(0) = \big[\,W_x\,\mathrm{drop}(x) + b_x,\; W_p\,\mathrm{drop}(p) + b_p\,\big],
    \quad
    \frac{dZ}{dt} = \sigma(\hat\alpha)\big(A(Z) - I\big)Z + \hat\beta\,\bar Z(0),
    \quad \hat y = \psi\big(Z(T)\big).

This is the authors' code path (V1-code, ``GNN.forward`` with ``beltrami``:
separate ``mx``/``mp`` encoders, concatenation, hidden width = feature + position
widths, decoder on the whole state) for the ``scaled_dot`` score. Not implemented
(NF for the published configuration): the code's BLEND ``exp_kernel`` multiplies two
kernels with separate Q/K projections of features and positions (here one Q/K
reads the concatenated state for every score), the KNN/rewiring of the BLEND paper,
and its positional encodings other than Laplacian eigenvectors (the code also offers
DIGL/DeepWalk encodings; which one produced BLEND's numbers is NF here). Widths of
the positional channels: NF, the defaults of :func:`blend_from_config` are choices.

**Paper versus code** (every choice; defaults in brackets):

* score scale :math:`1/\sqrt{d_k}` (code) or :math:`1/d_k` (paper):
  ``dot_scaling="sqrt"`` [code; also the standard transformer scaling] or
  ``"linear"``;
* normalisation softmax (paper) or squareplus (released Cora/CiteSeer configs):
  :class:`GRAND` defaults to ``"softmax"``, :func:`from_config` to ``"squareplus"``;
* normalisation index: the paper's :math:`A` is row-stochastic
  (``attention_norm_idx=0``, :class:`GRAND` default); the released configs use
  ``attention_norm_idx=1`` (column-stochastic :math:`A`; :func:`from_config`
  default). See :mod:`graphops.attention` for which index is which;
* the :math:`\sigma(\hat\alpha)` factor and the source :math:`\hat\beta\bar X(0)`
  are the code's (``add_source=True``); the paper writes
  :math:`dX/dt = (A - I)X`. ``add_source=False`` drops the source;
* :math:`W_Q, W_K` weights initialised to the constant ``1e-5`` (code; the paper
  says "a constant"), biases with PyTorch's default initialisation (code);
  ``qk_init=None`` keeps PyTorch's default for the weights too;
* self-loops are in the attention edge set with their own scores (code:
  ``self_loop_weight > 0``; the weight value itself only enters under
  ``reweight_attention``, which no released config sets and is not implemented, so
  the graph's edge weights are not used either);
* ANODE augmentation and the adjoint are off in the released configs (the paper
  says both were used); augmentation is not implemented, the adjoint is
  ``model.adjoint``;
* the code aborts a solve after ``max_nfe`` right-hand-side evaluations; here the
  budget is ``max_steps = ceil(max_nfe / 6)`` steps (Dopri5 evaluates 6 times per
  step).

**Not here: the test-time early-stop integrator.** The authors' ``GNNEarly``
evaluates with an "early-stop Dormand-Prince" that integrates to ``3 T``, decodes
after every accepted step and keeps the state with the best validation accuracy
(REPRODUCTION.md §3.2 item 6). That is a training/evaluation protocol and belongs to
the training code (issue 9); a model built here integrates to ``t1`` (``--no_early``
behaviour).

References:
    Chamberlain, Rowbottom, Gorinova, Webb, Rossi & Bronstein (2021), "GRAND: Graph
    Neural Diffusion", ICML. Chamberlain, Rowbottom, Eynard, Di Giovanni, Dong &
    Bronstein (2021), "Beltrami Flow and Neural Diffusion on Graphs", NeurIPS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from graphops import Graph, laplacian_eigenvectors
from graphops._checks import check_int, check_real, describe
from graphops.attention import AttentionWeights, attention_weights
from models._blocks import MLP
from models.model import GraphPDEModel, GraphTerm, _is_distributed
from solvers import AbstractSolver, ConstantStep, Dopri5, PIController
from solvers.base import AbstractAdaptiveSolver
from solvers.controllers import AbstractStepController

__all__ = [
    "BLENDEncoder",
    "CITESEER",
    "CORA",
    "GRAND",
    "GRANDArgs",
    "GRANDAttention",
    "blend_from_config",
    "from_config",
    "positional_encoding",
]

_SCORES = ("scaled_dot", "exp_kernel")
_NORMALIZATIONS = ("softmax", "squareplus")
_SCALINGS = ("sqrt", "linear")

#: Released GRAND-l configuration for Cora (V1-code, ``best_params.py`` on ``main``;
#: REPRODUCTION.md §3.3; BLEND-era tuning, not proven to be Table 1's config).
#: Training keys (issue 9): adamax, lr 0.022924849756740397, weight decay
#: 0.00507685443154266 on all parameters, ``epoch`` 100 (99 updates).
CORA: dict[str, Any] = {
    "hidden": 80,
    "heads": 8,
    "attention_dim": 128,
    "attention_type": "scaled_dot",
    "normalization": "squareplus",
    "attention_norm_idx": 1,
    "self_loop_weight": 1.0,
    "input_dropout": 0.5,
    "dropout": 0.046878964627763316,
    "t1": 18.294754260552843,
    "tol_scale": 821.9773048827274,
    "max_nfe": 2000,
    "add_source": True,
}

#: Released GRAND-l configuration for CiteSeer (V1-code, REPRODUCTION.md §3.3).
#: Training keys (issue 9): adam, lr 0.00863585231323069, weight decay 0.1,
#: ``epoch`` 250.
CITESEER: dict[str, Any] = {
    "hidden": 80,
    "heads": 8,
    "attention_dim": 32,
    "attention_type": "exp_kernel",
    "normalization": "squareplus",
    "attention_norm_idx": 1,
    "self_loop_weight": 1.0,
    "input_dropout": 0.6803233752085334,
    "dropout": 0.7488085003122172,
    "t1": 7.874113442879092,
    "tol_scale": 2.9010446330432815,
    "max_nfe": 3000,
    "add_source": True,
}


def _choice(where: str, name: str, value: Any, options: tuple) -> Any:
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{where}: `{name}` must be one of {options}; got {value!r}.")
    return value


class GRANDAttention(nn.Module):
    r"""Multi-head attention of GRAND: query/key maps and the kernel parameters.

    ``forward(x, graph)`` returns the head-averaged
    :class:`~graphops.attention.AttentionWeights` of
    :func:`graphops.attention.attention_weights` with queries ``W_Q x + b_Q`` and
    keys ``W_K x + b_K`` (``Linear(in_features -> attention_dim)`` each, split into
    ``heads`` heads of ``d_k = attention_dim / heads``).

    .. math:: s^h_{ab} = \frac{\langle (W_Q x_a + b_Q)^h,
        (W_K x_b + b_K)^h \rangle}{\sqrt{d_k}}

    Args:
        in_features: Width of the state.
        attention_dim: ``heads * d_k`` (``None``: ``in_features``, as the code).
        heads: Number of heads, dividing ``attention_dim``.
        attention_type: ``"scaled_dot"`` or ``"exp_kernel"`` (then learned
            ``output_var`` and ``lengthscale``, initialised at 1 as in the code).
        normalization: ``"softmax"`` or ``"squareplus"``.
        attention_norm_idx: ``0`` (row-stochastic ``A``) or ``1``
            (column-stochastic, the released configs).
        self_loops: Include a self-loop per node.
        dot_scaling: ``"sqrt"`` (code) or ``"linear"`` (paper).
        qk_init: Constant for the weights of ``W_Q`` and ``W_K`` (code: ``1e-5``);
            ``None`` keeps PyTorch's default initialisation.
        method: How the scores are computed (``attention_weights``' ``method``):
            ``"auto"`` [default] (one SDDMM for ``scaled_dot``), ``"sddmm"`` or
            ``"gather"`` (the reference). Same values; a plain attribute, so
            ``term.attention.method = "gather"`` switches an existing model.

    Raises:
        ValueError: an unknown option, or ``heads`` not dividing ``attention_dim``.
    """

    def __init__(
        self,
        in_features: int,
        attention_dim: int | None = None,
        *,
        heads: int = 1,
        attention_type: str = "scaled_dot",
        normalization: str = "softmax",
        attention_norm_idx: int = 0,
        self_loops: bool = True,
        dot_scaling: str = "sqrt",
        qk_init: float | None = 1e-5,
        method: str = "auto",
    ) -> None:
        """Build the query and key maps (see the class docstring)."""
        super().__init__()
        where = "GRANDAttention"
        in_features = check_int(where, "in_features", in_features, low=1)
        attention_dim = (
            in_features
            if attention_dim is None
            else check_int(where, "attention_dim", attention_dim, low=1)
        )
        self.heads = check_int(where, "heads", heads, low=1)
        if attention_dim % self.heads:
            raise ValueError(
                f"{where}: `heads`={self.heads} must divide `attention_dim`="
                f"{attention_dim}; got remainder {attention_dim % self.heads}. Use an "
                "attention_dim that is a multiple of heads."
            )
        self.attention_type = _choice(where, "attention_type", attention_type, _SCORES)
        self.normalization = _choice(
            where, "normalization", normalization, _NORMALIZATIONS
        )
        self.attention_norm_idx = _choice(
            where, "attention_norm_idx", attention_norm_idx, (0, 1)
        )
        self.dot_scaling = _choice(where, "dot_scaling", dot_scaling, _SCALINGS)
        self.self_loops = bool(self_loops)
        self.method = _choice(where, "method", method, ("auto", "sddmm", "gather"))
        if self.method == "sddmm" and self.attention_type != "scaled_dot":
            raise ValueError(
                f"{where}: method='sddmm' computes scaled_dot scores only; got "
                f"attention_type={self.attention_type!r}. Use method='auto'."
            )
        self.Q = nn.Linear(in_features, attention_dim)
        self.K = nn.Linear(in_features, attention_dim)
        if qk_init is not None:
            c = check_real(where, "qk_init", qk_init)
            # Code (V1): `init_weights` sets the weights to the constant 1e-5 "so
            # training starts from a well-conditioned system"; biases keep
            # PyTorch's default initialisation.
            nn.init.constant_(self.Q.weight, c)
            nn.init.constant_(self.K.weight, c)
        if self.attention_type == "exp_kernel":
            self.output_var = nn.Parameter(torch.ones(()))
            self.lengthscale = nn.Parameter(torch.ones(()))

    def forward(self, x: Tensor, graph: Graph) -> AttentionWeights:
        """The attention of the state ``x`` (``[N, in_features]``) on ``graph``.

        On a rank's :class:`~models.distributed.DistributedGraph` (``x`` its owned
        rows) the owned rows of it, :func:`graphops.distributed.distributed_attention`.
        """
        kernel = self.attention_type == "exp_kernel"
        options = dict(
            heads=self.heads,
            score=self.attention_type,
            normalization=self.normalization,
            norm_idx=self.attention_norm_idx,
            self_loops=self.self_loops,
            scaling=self.dot_scaling,
            output_var=self.output_var if kernel else None,
            lengthscale=self.lengthscale if kernel else None,
            method=self.method,
        )
        if _is_distributed(graph):
            # a rank's entries are its local edges: scored by gathers there
            options.pop("method")
            return graph.attention(x, self.Q, self.K, **options)
        return attention_weights(self.Q(x), self.K(x), graph, **options)

    def extra_repr(self) -> str:
        """The attention options."""
        return (
            f"heads={self.heads}, attention_type={self.attention_type!r}, "
            f"normalization={self.normalization!r}, "
            f"attention_norm_idx={self.attention_norm_idx}, "
            f"self_loops={self.self_loops}, dot_scaling={self.dot_scaling!r}"
        )


@dataclass(frozen=True)
class GRANDArgs:
    """What :meth:`GRAND.prepare` hands to every evaluation of one forward pass.

    Attributes:
        graph: The graph.
        attention: The frozen attention of GRAND-l (``None`` for GRAND-nl, which
            recomputes it at every evaluation).
        x0: Detached copy of the initial state (the source term).
    """

    graph: Graph
    attention: AttentionWeights | None
    x0: Tensor


class GRAND(GraphTerm):
    r"""GRAND's right-hand side: attention diffusion with a learned source.

    .. math::

        f(t, X) = \sigma(\hat\alpha)\,\big(A - I\big) X + \hat\beta\,\bar X(0),
        \qquad A = A(X(0)) \text{ (GRAND-l) or } A(X(t)) \text{ (GRAND-nl)}

    The product :math:`A X` is one SpMM with ``[2M]`` per-direction weights
    (:class:`~graphops.operators.Adjacency`) plus the self-loop diagonal
    (:class:`~graphops.attention.AttentionWeights`). A plain explicit-solver term:
    :math:`A` is not symmetric, so the implicit CG solvers do not apply.

    Args:
        hidden: Width of the state.
        nonlinear: ``False`` for GRAND-l (attention once, at ``t0``), ``True`` for
            GRAND-nl (attention at every evaluation).
        attention_dim: ``heads * d_k`` (``None``: ``hidden``).
        heads: Number of attention heads.
        attention_type: ``"scaled_dot"`` or ``"exp_kernel"``.
        normalization: ``"softmax"`` (paper) or ``"squareplus"`` (released configs).
        attention_norm_idx: ``0`` (row-stochastic, paper) or ``1`` (configs).
        self_loops: Self-loops in the attention edge set.
        dot_scaling: ``"sqrt"`` (code) or ``"linear"`` (paper).
        qk_init: Constant initial weight of the query/key maps (``None``: default).
        add_source: Include the source :math:`\hat\beta \bar X(0)`.

    Raises:
        ValueError: a bad option (see :class:`GRANDAttention`).
        TypeError: evaluated with ``args`` that are not :class:`GRANDArgs`.

    Example:
        >>> term = GRAND(2, heads=2)
        >>> args = term.prepare(0.0, x0, graph)
        >>> term(0.0, x0, args).shape
        torch.Size([16, 2])
    """

    def __init__(
        self,
        hidden: int,
        *,
        nonlinear: bool = False,
        attention_dim: int | None = None,
        heads: int = 1,
        attention_type: str = "scaled_dot",
        normalization: str = "softmax",
        attention_norm_idx: int = 0,
        self_loops: bool = True,
        dot_scaling: str = "sqrt",
        qk_init: float | None = 1e-5,
        add_source: bool = True,
    ) -> None:
        """Build the attention and the scalars (see the class docstring)."""
        super().__init__()
        self.nonlinear = bool(nonlinear)
        self.add_source = bool(add_source)
        self.attention = GRANDAttention(
            hidden,
            attention_dim,
            heads=heads,
            attention_type=attention_type,
            normalization=normalization,
            attention_norm_idx=attention_norm_idx,
            self_loops=self_loops,
            dot_scaling=dot_scaling,
            qk_init=qk_init,
        )
        # Code (V1): `alpha_train` and `beta_train` are scalars initialised at 0.
        self.alpha_train = nn.Parameter(torch.zeros(()))
        self.beta_train = nn.Parameter(torch.zeros(()))

    def prepare(self, t0: float, y0: Tensor, graph: Graph) -> GRANDArgs:
        """The detached source and, for GRAND-l, the attention of ``y0``.

        The attention of GRAND-l keeps its gradient (it is part of the forward
        pass); only the source copy is detached (V1-code ``set_x0``).
        """
        attention = None if self.nonlinear else self.attention(y0, graph)
        return GRANDArgs(graph, attention, y0.detach())

    def forward(self, t: float | Tensor, y: Tensor, args: GRANDArgs) -> Tensor:
        """``dX/dt`` at state ``y`` (``[N, hidden]``)."""
        if not isinstance(args, GRANDArgs):
            raise TypeError(
                "GRAND: `args` must be the GRANDArgs returned by "
                f"term.prepare(t0, y0, graph); got {describe(args)}. Build the model "
                "with GraphPDEModel (it calls prepare) or call prepare yourself."
            )
        attention = args.attention
        if attention is None:
            attention = self.attention(y, args.graph)
        f = torch.sigmoid(self.alpha_train) * (attention @ y - y)
        if self.add_source:
            f = f + self.beta_train * args.x0
        return f

    def extra_repr(self) -> str:
        """Variant and source flag."""
        variant = "nl" if self.nonlinear else "l"
        return f"variant={variant!r}, add_source={self.add_source}"


class BLENDEncoder(nn.Module):
    r"""BLEND's encoder: features and positional coordinates encoded separately.

    The input is ``[x, p]`` (``num_features`` feature columns, then ``pos_dim``
    positional columns, e.g. from :func:`positional_encoding`); the output is

    .. math:: Z(0) = [\,W_x\,\mathrm{drop}(x) + b_x,\ W_p\,\mathrm{drop}(p) + b_p\,]

    (V1-code, ``GNN.forward`` with ``beltrami``: ``mx`` and ``mp``, input dropout on
    both, no activation).

    Args:
        num_features: Feature columns of the input.
        pos_dim: Positional columns of the input.
        feat_hidden: Encoded feature width.
        pos_hidden: Encoded positional width.
        input_dropout: Dropout on both inputs.

    Raises:
        ValueError: a non-positive width, or an input of the wrong width.
    """

    def __init__(
        self,
        num_features: int,
        pos_dim: int,
        feat_hidden: int,
        pos_hidden: int,
        *,
        input_dropout: float = 0.0,
    ) -> None:
        """Build the two linear maps (see the class docstring)."""
        super().__init__()
        where = "BLENDEncoder"
        self.num_features = check_int(where, "num_features", num_features, low=1)
        self.pos_dim = check_int(where, "pos_dim", pos_dim, low=1)
        self.mx = MLP(
            [num_features, check_int(where, "feat_hidden", feat_hidden, low=1)],
            dropout=input_dropout,
        )
        self.mp = MLP(
            [pos_dim, check_int(where, "pos_hidden", pos_hidden, low=1)],
            dropout=input_dropout,
        )

    def forward(self, x: Tensor) -> Tensor:
        """``[N, num_features + pos_dim] -> [N, feat_hidden + pos_hidden]``."""
        width = self.num_features + self.pos_dim
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != width:
            raise ValueError(
                f"BLENDEncoder: the input must be [N, num_features + pos_dim] = "
                f"[N, {width}] (features, then positions); got {describe(x)}. "
                "Concatenate the positions: torch.cat([x, positional_encoding(graph, "
                f"{self.pos_dim})], 1)."
            )
        feats, pos = x.split([self.num_features, self.pos_dim], dim=1)
        return torch.cat([self.mx(feats), self.mp(pos)], dim=1)


def positional_encoding(graph: Graph, k: int) -> Tensor:
    """BLEND's positional coordinates: the ``k`` first non-trivial eigenvectors.

    Eigenvectors of the symmetric normalised Laplacian (smallest eigenvalues, the
    trivial one dropped, signs fixed) from :func:`graphops.laplacian_eigenvectors`.
    Computed once per graph, outside the model; concatenate them to the features.
    Eigenvectors of repeated eigenvalues (e.g. several connected components) are
    defined only up to a rotation, so the encoding is not permutation equivariant
    there.

    Args:
        graph: The graph.
        k: Number of coordinates.

    Returns:
        ``[N, k]`` in the graph's dtype.

    Example:
        >>> p = positional_encoding(graph, 2)
        >>> x_in = torch.cat([x, p], 1)   # input of a blend_from_config model
    """
    return laplacian_eigenvectors(graph, k, normalization="sym")[1]


def _check_dropouts(where: str, input_dropout: float, dropout: float) -> None:
    for name, p in (("input_dropout", input_dropout), ("dropout", dropout)):
        check_real(where, name, p, low=0.0, high=1.0, high_open=True)


def _decoder(hidden: int, num_classes: int, dropout: float) -> nn.Sequential:
    """``ReLU -> Dropout -> Linear`` (V1-code ``GNN.forward``, ``fc_out=False``)."""
    p = float(dropout)
    layers: list[nn.Module] = [nn.ReLU()]
    if p > 0:
        layers.append(nn.Dropout(p))
    layers.append(nn.Linear(hidden, num_classes))
    return nn.Sequential(*layers)


def _integration(
    where: str,
    solver: AbstractSolver | None,
    controller: AbstractStepController | None,
    tol_scale: float,
    max_nfe: int,
) -> tuple[AbstractSolver, AbstractStepController, int]:
    tol = check_real(where, "tol_scale", tol_scale, low=0.0, low_open=True)
    nfe = check_int(where, "max_nfe", max_nfe, low=1)
    if solver is None:
        solver = Dopri5()
    if controller is None:
        if isinstance(solver, AbstractAdaptiveSolver):
            # Code (V1) `set_tol`: atol = tol_scale * 1e-7, rtol = tol_scale * 1e-9.
            controller = PIController(rtol=tol * 1e-9, atol=tol * 1e-7)
        else:
            controller = ConstantStep()
    # Dopri5 evaluates the right-hand side 6 times per step (FSAL).
    return solver, controller, max(1, math.ceil(nfe / 6))


def _check_variant(where: str, variant: str) -> bool:
    _choice(where, "variant", variant, ("l", "nl"))
    return variant == "nl"


def _self_loops(where: str, self_loop_weight: float) -> bool:
    w = check_real(where, "self_loop_weight", self_loop_weight, low=0.0)
    return w > 0


def from_config(
    num_features: int,
    num_classes: int,
    *,
    variant: Literal["l", "nl"] = "l",
    hidden: int = CORA["hidden"],
    heads: int = CORA["heads"],
    attention_dim: int = CORA["attention_dim"],
    attention_type: str = CORA["attention_type"],
    normalization: str = CORA["normalization"],
    attention_norm_idx: int = CORA["attention_norm_idx"],
    self_loop_weight: float = CORA["self_loop_weight"],
    input_dropout: float = CORA["input_dropout"],
    dropout: float = CORA["dropout"],
    t1: float = CORA["t1"],
    tol_scale: float = CORA["tol_scale"],
    max_nfe: int = CORA["max_nfe"],
    add_source: bool = CORA["add_source"],
    dot_scaling: str = "sqrt",
    qk_init: float | None = 1e-5,
    solver: AbstractSolver | None = None,
    controller: AbstractStepController | None = None,
    dt0: float | None = None,
) -> GraphPDEModel:
    r"""GRAND-l or GRAND-nl with the released Cora configuration as defaults.

    Defaults (V1-code, ``best_params.py`` on ``main``, REPRODUCTION.md §3.3; these
    are BLEND-era tuning runs, not proven to be the configuration of the paper's
    Table 1; GRAND-nl configurations are NF, so ``variant="nl"`` reuses them):
    hidden 80, 8 heads, attention_dim 128 (``d_k = 16``), ``scaled_dot``,
    squareplus, ``attention_norm_idx=1``, self-loop weight 1, input dropout 0.5,
    dropout 0.046878964627763316, ``T = 18.294754260552843``,
    ``tol_scale = 821.9773048827274`` (atol 8.22e-5, rtol 8.22e-7),
    ``max_nfe = 2000``, source on. :data:`CITESEER` holds the CiteSeer keys:
    ``from_config(f, c, **CITESEER)``.

    .. math:: \hat y = \psi(X(T)),\quad
        \dot X = \sigma(\hat\alpha)(A - I)X + \hat\beta \bar X(0),\quad
        X(0) = \phi(x)

    Args:
        num_features: Input width.
        num_classes: Output width.
        variant: ``"l"`` (attention from :math:`X(0)`, once) or ``"nl"``
            (recomputed at every evaluation).
        hidden: State width (V1-code ``hidden_dim``).
        heads: Attention heads.
        attention_dim: ``heads * d_k``.
        attention_type: ``"scaled_dot"`` or ``"exp_kernel"``.
        normalization: ``"squareplus"`` (code ``square_plus=True``) or
            ``"softmax"``.
        attention_norm_idx: ``1`` (configs: column-stochastic) or ``0``
            (row-stochastic).
        self_loop_weight: ``> 0`` adds self-loops to the attention edge set, ``0``
            leaves them out (the value only matters under the code's
            ``reweight_attention``, not implemented).
        input_dropout: Dropout before the encoder.
        dropout: Dropout before the decoder's linear map.
        t1: Integration time ``T``.
        tol_scale: Tolerance scale: ``atol = tol_scale * 1e-7``,
            ``rtol = tol_scale * 1e-9`` (used when the controller is built here).
        max_nfe: Evaluation budget; the solve gets ``ceil(max_nfe / 6)`` steps.
        add_source: The source term :math:`\hat\beta \bar X(0)`.
        dot_scaling: ``"sqrt"`` (code) or ``"linear"`` (paper).
        qk_init: Constant initial weight of ``W_Q``, ``W_K`` (code ``1e-5``).
        solver: Integrator (default ``Dopri5()``).
        controller: Step controller (default: ``PIController`` from ``tol_scale``
            for an adaptive solver, ``ConstantStep()`` otherwise).
        dt0: Step of a fixed-step solver (first step of an adaptive one).

    Returns:
        A :class:`~models.model.GraphPDEModel` called as ``model(x, graph)``.

    Raises:
        ValueError: an unknown ``variant`` or option, or a value out of range.

    Example:
        >>> model = from_config(2, 3, hidden=4, heads=2, attention_dim=4,
        ...                     solver=RK4(), t1=1.0, dt0=0.5)
        >>> model(x, graph).shape
        torch.Size([16, 3])
    """
    where = "grand.from_config"
    nonlinear = _check_variant(where, variant)
    check_int(where, "num_features", num_features, low=1)
    check_int(where, "num_classes", num_classes, low=1)
    check_int(where, "hidden", hidden, low=1)
    _check_dropouts(where, input_dropout, dropout)
    solver, controller, max_steps = _integration(
        where, solver, controller, tol_scale, max_nfe
    )
    term = GRAND(
        hidden,
        nonlinear=nonlinear,
        attention_dim=attention_dim,
        heads=heads,
        attention_type=attention_type,
        normalization=normalization,
        attention_norm_idx=attention_norm_idx,
        self_loops=_self_loops(where, self_loop_weight),
        dot_scaling=dot_scaling,
        qk_init=qk_init,
        add_source=add_source,
    )
    return GraphPDEModel(
        MLP([num_features, hidden], dropout=input_dropout),
        term,
        _decoder(hidden, num_classes, dropout),
        solver=solver,
        t1=t1,
        dt0=dt0,
        controller=controller,
        max_steps=max_steps,
    )


def blend_from_config(
    num_features: int,
    num_classes: int,
    *,
    pos_dim: int = 16,
    feat_hidden: int = 64,
    pos_hidden: int = 16,
    variant: Literal["l", "nl"] = "l",
    heads: int = CORA["heads"],
    attention_dim: int = CORA["attention_dim"],
    attention_type: str = CORA["attention_type"],
    normalization: str = CORA["normalization"],
    attention_norm_idx: int = CORA["attention_norm_idx"],
    self_loop_weight: float = CORA["self_loop_weight"],
    input_dropout: float = CORA["input_dropout"],
    dropout: float = CORA["dropout"],
    t1: float = CORA["t1"],
    tol_scale: float = CORA["tol_scale"],
    max_nfe: int = CORA["max_nfe"],
    add_source: bool = CORA["add_source"],
    dot_scaling: str = "sqrt",
    qk_init: float | None = 1e-5,
    solver: AbstractSolver | None = None,
    controller: AbstractStepController | None = None,
    dt0: float | None = None,
) -> GraphPDEModel:
    r"""BLEND: GRAND's flow on the joint state of features and positions.

    The input is ``[x, p]`` with ``p = positional_encoding(graph, pos_dim)``
    concatenated after the ``num_features`` feature columns; :class:`BLENDEncoder`
    maps it to ``Z(0) = [U(0), P(0)]`` (width ``feat_hidden + pos_hidden``), the
    :class:`GRAND` term diffuses the whole state with attention computed from the
    whole state, and the decoder reads the whole final state (V1-code, ``beltrami``
    path). ``variant="l"`` is the default because the BLEND-era ``best_params``
    entries (``beltrami: True``) use the attention block with the ``laplacian``
    function, i.e. attention computed once from :math:`Z(0)` (V1-code,
    REPRODUCTION.md §3.3); ``variant="nl"`` recomputes it from the evolving
    features and positions at every evaluation, the flow as the BLEND paper writes
    it (which variant produced BLEND's published numbers: NF).

    Provenance: ``pos_dim``, ``feat_hidden`` and ``pos_hidden`` are **NF** (the
    spec has no BLEND configuration; the defaults are choices with the same total
    width 80 as GRAND's Cora config); every other default is GRAND's Cora value
    (V1-code, BLEND-era ``best_params.py`` entries, REPRODUCTION.md §3.3).

    .. math:: \dot Z = \sigma(\hat\alpha)(A(Z) - I)Z + \hat\beta \bar Z(0)

    Args:
        num_features: Feature columns of the input.
        num_classes: Output width.
        pos_dim: Positional columns of the input (NF).
        feat_hidden: Encoded feature width (NF).
        pos_hidden: Encoded positional width (NF).
        variant: ``"l"`` (attention from :math:`Z(0)`, once) or ``"nl"``
            (at every evaluation).
        heads: Attention heads.
        attention_dim: ``heads * d_k``.
        attention_type: ``"scaled_dot"`` or ``"exp_kernel"`` (one kernel on the
            joint state; the code's product of two kernels is not implemented).
        normalization: ``"squareplus"`` or ``"softmax"``.
        attention_norm_idx: ``1`` (column-stochastic) or ``0`` (row-stochastic).
        self_loop_weight: ``> 0`` adds self-loops, ``0`` leaves them out.
        input_dropout: Dropout on features and positions before the encoders.
        dropout: Dropout before the decoder's linear map.
        t1: Integration time.
        tol_scale: ``atol = tol_scale * 1e-7``, ``rtol = tol_scale * 1e-9``.
        max_nfe: Evaluation budget (``ceil(max_nfe / 6)`` steps).
        add_source: The source term.
        dot_scaling: ``"sqrt"`` (code) or ``"linear"`` (paper).
        qk_init: Constant initial weight of ``W_Q``, ``W_K``.
        solver: Integrator (default ``Dopri5()``).
        controller: Step controller (default from ``tol_scale`` when adaptive).
        dt0: Step of a fixed-step solver.

    Returns:
        A :class:`~models.model.GraphPDEModel` called as ``model(x_and_p, graph)``.

    Raises:
        ValueError: an unknown ``variant`` or option, or a value out of range.

    Example:
        >>> model = blend_from_config(2, 3, pos_dim=2, feat_hidden=4, pos_hidden=2,
        ...                           heads=2, attention_dim=4, solver=RK4(),
        ...                           t1=1.0, dt0=0.5)
        >>> x_in = torch.cat([x, positional_encoding(graph, 2)], 1)
        >>> model(x_in, graph).shape
        torch.Size([16, 3])
    """
    where = "grand.blend_from_config"
    nonlinear = _check_variant(where, variant)
    check_int(where, "num_classes", num_classes, low=1)
    _check_dropouts(where, input_dropout, dropout)
    encoder = BLENDEncoder(
        num_features, pos_dim, feat_hidden, pos_hidden, input_dropout=input_dropout
    )
    hidden = feat_hidden + pos_hidden
    solver, controller, max_steps = _integration(
        where, solver, controller, tol_scale, max_nfe
    )
    term = GRAND(
        hidden,
        nonlinear=nonlinear,
        attention_dim=attention_dim,
        heads=heads,
        attention_type=attention_type,
        normalization=normalization,
        attention_norm_idx=attention_norm_idx,
        self_loops=_self_loops(where, self_loop_weight),
        dot_scaling=dot_scaling,
        qk_init=qk_init,
        add_source=add_source,
    )
    return GraphPDEModel(
        encoder,
        term,
        _decoder(hidden, num_classes, dropout),
        solver=solver,
        t1=t1,
        dt0=dt0,
        controller=controller,
        max_steps=max_steps,
    )
