r"""Sheaf Laplacians: the operator of Neural Sheaf Diffusion on the one sparse kernel.

A *cellular sheaf* on a graph attaches a vector space (a *stalk*) ``R^d`` to every
node and every edge, and to every incidence ``i ⊴ e`` a linear *restriction map*
``F_{i⊴e}: R^d -> R^d``. Its coboundary compares the two ends of an edge in the
edge's stalk, and its Laplacian ``L_F = δ^T W δ`` generalises ``L = B^T W B``
(:mod:`graphops` conventions: each undirected edge ``e = (i, j)`` stored once with
``i < j``, edge measure ``w_e`` = ``graph.edge_weight``):

.. math::

    (\delta x)_e = F_{j⊴e} x_j - F_{i⊴e} x_i, \qquad
    (L_F)_{ij} = -w_e F_{i⊴e}^\top F_{j⊴e}, \qquad
    (L_F)_{ii} = \sum_{e \ni i} w_e F_{i⊴e}^\top F_{i⊴e}.

``L_F`` is symmetric positive semi-definite, its kernel holds the *global sections*
(``F_{i⊴e} x_i = F_{j⊴e} x_j`` on every edge), and the trivial sheaf (all maps
``I_d``) gives ``L ⊗ I_d``. The NSD models (Bodnar et al., 2022) diffuse with the
augmented normalisation ``Δ_F = (D + I)^{-1/2} L_F (D + I)^{-1/2}``, ``D`` the block
diagonal of ``L_F``, whose spectrum lies in ``[0, 2)`` (``x^T L_F x <= 2 x^T D x``).

**Layout.** A signal has one ``d'``-row block per node, **node-major**: rows
``i*d' .. i*d' + d' - 1`` of ``[N*d', F]`` belong to node ``i`` (NSD's
``X ∈ R^{(N·d')×C}``; ``x.reshape(N * d', F)`` of a contiguous ``[N, d', F]``).
``d' = d + add_lp + add_hp``: the learned stalk dimensions come first, then the
fixed channels (``add_lp`` before ``add_hp``, as in the authors' code).

**Maps.** ``maps`` holds ``F_{i⊴e}`` and ``F_{j⊴e}`` for every undirected edge
``e = (i, j)`` of ``graph.edge_index`` (``i < j``), either as ``[M, 2, ...]``
(``maps[:, 0]`` for the smaller node ``i``, ``maps[:, 1]`` for ``j``) or as
``[2M, ...]`` in ``graph.directed_edge_index`` order (the pair ``(i, j)`` gives
``F_{i⊴e}``, its reverse ``(j, i)`` gives ``F_{j⊴e}``: what a learner evaluated
on directed edges, ``Φ([x_i ‖ x_j])``, returns). ``...`` is ``[d]`` for
``kind="diag"`` (the diagonal of each map) and ``[d, d]`` otherwise.

References:
    Hansen & Ghrist (2019); Bodnar, Di Giovanni, Chamberlain, Liò & Bronstein (2022),
    "Neural Sheaf Diffusion", code twitter-research/neural-sheaf-diffusion
    (``models/laplacian_builders.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from graphops._checks import describe
from graphops.graph import Graph
from graphops.operators import GraphOperator, _edge_weight, _PatternOperator
from graphops.spmm import SparsePattern

__all__ = ["SheafLaplacian", "orthogonal_maps"]

SheafKind = Literal["diag", "orthogonal", "general"]
_KINDS = ("diag", "orthogonal", "general")
_ORTHOGONAL_METHODS = ("householder", "matrix_exp")


# ---------------------------------------------------------------------------------
# Orthogonal restriction maps from d(d-1)/2 free parameters
# ---------------------------------------------------------------------------------
def orthogonal_maps(
    params: Tensor,
    d: int,
    *,
    method: Literal["householder", "matrix_exp"] = "householder",
) -> Tensor:
    r"""Orthogonal ``d x d`` matrices from ``d(d-1)/2`` unconstrained parameters each.

    The parameters fill the strictly lower triangle of a ``d x d`` matrix ``A``.

    * ``"householder"`` (the NSD default, ``torch_householder_orgqr``): the columns
      ``v_k`` of ``A + I`` are Householder vectors and
      ``Q = H_1 H_2 ... H_d`` with ``H_k = I - 2 v_k v_k^T / ||v_k||^2``
      (``torch.linalg.householder_product``). ``det Q = (-1)^d``.
    * ``"matrix_exp"``: ``Q = exp(A - A^T)``, the exponential of a skew-symmetric
      matrix, a rotation (``det Q = +1``). The authors' ``matrix_exp`` option also
      fills the diagonal, which cancels in ``A - A^T``; here it is not a parameter.

    Both are differentiable everywhere, so the maps can be learned (for example as
    ``tanh`` of a linear layer, as in NSD) and passed to
    ``SheafLaplacian(..., kind="orthogonal")``.

    Args:
        params: Floating tensor ``[..., d(d-1)/2]``.
        d: Stalk dimension, ``>= 1`` (``d = 1`` takes no parameters).
        method: ``"householder"`` or ``"matrix_exp"``.

    Returns:
        ``[..., d, d]`` orthogonal matrices (``Q^T Q = I`` up to round-off).

    Raises:
        TypeError: ``params`` is not a floating tensor, or ``d`` is not an int.
        ValueError: bad ``d``, ``method`` or last dimension of ``params``.

    Shapes:
        ``[..., d(d-1)/2] -> [..., d, d]``.

    Example:
        >>> from graphops.sheaf import orthogonal_maps
        >>> q = orthogonal_maps(torch.randn(5, 3), 3)
        >>> torch.allclose(q.mT @ q, torch.eye(3).expand(5, 3, 3))
        True
    """
    where = "orthogonal_maps"
    if isinstance(d, bool) or not isinstance(d, int):
        raise TypeError(f"{where}: `d` must be an int; got {describe(d)}.")
    if d < 1:
        raise ValueError(f"{where}: `d` must be an int >= 1; got {d}.")
    if method not in _ORTHOGONAL_METHODS:
        raise ValueError(
            f"{where}: `method` must be one of {_ORTHOGONAL_METHODS}; got {method!r}."
        )
    if not isinstance(params, Tensor) or not params.is_floating_point():
        raise TypeError(
            f"{where}: `params` must be a floating tensor; got {describe(params)}."
        )
    k = d * (d - 1) // 2
    if params.dim() < 1 or params.shape[-1] != k:
        raise ValueError(
            f"{where}: `params` must have shape [..., d(d-1)/2] = [..., {k}] for "
            f"d={d}; got {tuple(params.shape)}. Give d(d-1)/2 numbers per map."
        )
    batch = params.shape[:-1]
    rows, cols = torch.tril_indices(d, d, offset=-1, device=params.device)
    a = params.new_zeros(*batch, d, d)
    a[..., rows, cols] = params
    if method == "matrix_exp":
        return torch.matrix_exp(a - a.mT)
    v = a + torch.eye(d, dtype=params.dtype, device=params.device)
    # tau_k = 2 / ||v_k||^2 makes every factor an exact reflection (as in
    # torch_householder_orgqr, used by the authors' code).
    tau = 2.0 / (v * v).sum(-2)
    return torch.linalg.householder_product(v, tau)


# ---------------------------------------------------------------------------------
# (A + I)^{-1/2} for symmetric PSD blocks, with a gradient that stays finite
# ---------------------------------------------------------------------------------
class _AugmentedInvSqrt(torch.autograd.Function):
    r"""``S = (A + I)^{-1/2}`` for a batch of symmetric PSD ``d x d`` matrices ``A``.

    Forward: eigendecomposition ``A + I = U diag(λ) U^T`` (all ``λ >= 1``),
    ``S = U diag(λ^{-1/2}) U^T``. Derivative (Daleckii–Krein):
    ``dS = U (K ∘ (U^T dA U)) U^T`` with the divided differences
    ``K_ab = (λ_a^{-1/2} - λ_b^{-1/2}) / (λ_a - λ_b) = -1 / (s_a s_b (s_a + s_b))``,
    ``s = sqrt(λ)``. The closed form is also the limit for ``λ_a = λ_b``, so repeated
    eigenvalues (e.g. identity maps, ``A = deg_i I``) need no special case: torch's
    generic ``eigh`` backward divides by ``λ_a - λ_b`` and returns inf/NaN there,
    which is why the authors jitter the diagonal by U(±1e-3) during training.
    """

    @staticmethod
    def forward(a: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # noqa: D102
        eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        lam, u = torch.linalg.eigh(a + eye)
        s = lam.sqrt()
        out = (u / s.unsqueeze(-2)) @ u.mT
        return 0.5 * (out + out.mT), u, s

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: D102
        _, u, s = output
        ctx.mark_non_differentiable(u, s)
        ctx.save_for_backward(u, s)
        ctx.save_for_forward(u, s)

    @staticmethod
    def _frechet(u: Tensor, s: Tensor, g: Tensor) -> Tensor:
        """``U (K ∘ (U^T sym(g) U)) U^T``: the derivative, self-adjoint in ``g``."""
        k = -1.0 / (
            s.unsqueeze(-1) * s.unsqueeze(-2) * (s.unsqueeze(-1) + s.unsqueeze(-2))
        )
        inner = u.mT @ (0.5 * (g + g.mT)) @ u
        return u @ (k * inner) @ u.mT

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor, _grad_u: Tensor, _grad_s: Tensor):  # noqa: D102
        u, s = ctx.saved_tensors
        return _AugmentedInvSqrt._frechet(u, s, grad_out)

    @staticmethod
    def jvp(ctx, d_a: Tensor):  # noqa: D102
        u, s = ctx.saved_tensors
        return _AugmentedInvSqrt._frechet(u, s, d_a), None, None


def _augmented_inv_sqrt(a: Tensor) -> Tensor:
    """``(a + I)^{-1/2}`` for symmetric PSD blocks ``a`` (``[..., d, d]``)."""
    return _AugmentedInvSqrt.apply(a)[0]


# ---------------------------------------------------------------------------------
# The block CSR pattern, built once per (graph, kind, d, fixed channels)
# ---------------------------------------------------------------------------------
def _sheaf_pattern(
    graph: Graph, kind: str, d: int, extra: int
) -> tuple[SparsePattern, Tensor]:
    """``N d' x N d'`` pattern (``d' = d + extra``) and the gather from entry order.

    Entry order (the values are concatenated in the same order):

    1. learned node blocks: ``[N, d]`` diagonals (``"diag"``, ``"orthogonal"``: the
       O(d) node block is ``(sum_e w_e ω²) I``) or ``[N, d, d]`` (``"general"``);
    2. learned ``(i, j)`` blocks: ``[M, d]`` (``"diag"``) or ``[M, d, d]``;
    3. learned ``(j, i)`` blocks, same layout (values: the transposed ``(i, j)``);
    4. fixed channels: ``[N, extra]`` node entries, ``[M, extra]`` for ``(i, j)``,
       ``[M, extra]`` for ``(j, i)``.
    """
    key = ("sheaf_pattern", kind, d, extra)
    c = graph._cache
    if key not in c:
        n, (i, j) = graph.num_nodes, graph.edge_index
        dt = d + extra
        dev = graph.device
        node = torch.arange(n, device=dev)
        a = torch.arange(d, device=dev)
        rows: list[Tensor] = []
        cols: list[Tensor] = []

        def diag_entries(r: Tensor, c_: Tensor, k: Tensor) -> None:
            rows.append((r.unsqueeze(1) * dt + k).reshape(-1))
            cols.append((c_.unsqueeze(1) * dt + k).reshape(-1))

        def dense_entries(r: Tensor, c_: Tensor) -> None:
            shape = (r.shape[0], d, d)
            rr = r.view(-1, 1, 1) * dt + a.view(1, -1, 1)
            cc = c_.view(-1, 1, 1) * dt + a.view(1, 1, -1)
            rows.append(rr.expand(shape).reshape(-1))
            cols.append(cc.expand(shape).reshape(-1))

        if kind == "general":
            dense_entries(node, node)
        else:
            diag_entries(node, node, a)
        if kind == "diag":
            diag_entries(i, j, a)
            diag_entries(j, i, a)
        else:
            dense_entries(i, j)
            dense_entries(j, i)
        if extra:
            f = torch.arange(d, dt, device=dev)
            diag_entries(node, node, f)
            diag_entries(i, j, f)
            diag_entries(j, i, f)
        c[key] = SparsePattern.from_coo(
            torch.cat(rows), torch.cat(cols), (n * dt, n * dt)
        )
    return c[key]


# ---------------------------------------------------------------------------------
# The operator
# ---------------------------------------------------------------------------------
class SheafLaplacian(_PatternOperator):
    r"""Sheaf Laplacian ``L_F``, or its normalised form ``Δ_F``, on stalks ``R^d'``.

    Conventions, layout and the ``maps`` formats: :mod:`graphops.sheaf` (and
    :mod:`graphops` for the graph). With ``ω`` the optional ``edge_weight`` (scaling
    the maps, ``F ← ω F``) and ``w_e`` = ``graph.edge_weight`` (the edge measure, 1
    on the unweighted graphs of the NSD experiments):

    .. math::

        (L_F)_{ij} = -w_e\,ω_{i⊴e} ω_{j⊴e} F_{i⊴e}^\top F_{j⊴e}, \qquad
        (L_F)_{ii} = \sum_{e \ni i} w_e\,ω_{i⊴e}^2 F_{i⊴e}^\top F_{i⊴e}, \qquad
        Δ_F = (D + I)^{-1/2} L_F (D + I)^{-1/2}

    with ``D = blockdiag((L_F)_{ii})``. The three ``kind``\ s of the NSD models:

    * ``"diag"``: ``maps`` ``[M, 2, d]`` hold the diagonals; every block is diagonal
      (``d`` scalar Laplacians, one per stalk dimension) and ``D`` is normalised per
      stalk dimension.
    * ``"orthogonal"``: ``maps`` ``[M, 2, d, d]`` in ``O(d)`` (build them with
      :func:`orthogonal_maps`; orthogonality is the caller's job and is checked when
      ``validate``). Since ``F^T F = I`` the node blocks are the scalars
      ``sum_e w_e ω²`` times ``I_d``, stored as ``N*d`` diagonal entries and not
      computed from the maps (as in the authors' code), and ``D`` is one scalar per
      node.
    * ``"general"``: ``maps`` ``[M, 2, d, d]`` arbitrary; ``(D_i + I)^{-1/2}`` is the
      symmetric inverse square root by eigendecomposition, with a closed-form
      derivative that stays finite at repeated eigenvalues (so no training jitter).
      The authors also clamp the normalised entries to ``[-1, 1]``; that is a no-op
      (every entry of ``Δ_F`` lies in ``[-1, 1]`` by Cauchy–Schwarz), so it is omitted.

    **Fixed channels** (one extra stalk dimension each, after the learned ones,
    ``add_lp`` first; not scaled by ``ω``; normalised by ``(deg + 1)^{-1/2}`` when
    ``normalised``). Mind the naming quirk of the NSD code, kept here so configs
    transfer: ``add_lp`` adds the **signless** Laplacian ``D + W`` (diagonal = degree,
    off-diagonal ``+w_e``), a **high-pass** channel, and ``add_hp`` adds the ordinary
    Laplacian ``D - W`` (off-diagonal ``-w_e``), a **low-pass** channel; the
    authors' parser help strings say the same, despite the flag names.

    The block CSR pattern (``N d'`` rows) is built once per ``(graph, kind, d,
    number of fixed channels)`` and cached on the graph; constructing the operator
    from new maps (every layer of an NSD model) only computes the values, and the
    backward pass to the values is the kernel's SDDMM.

    Args:
        graph: Validated graph.
        maps: Restriction maps, ``[M, 2, d]`` / ``[2M, d]`` (``"diag"``) or
            ``[M, 2, d, d]`` / ``[2M, d, d]`` (``"orthogonal"``, ``"general"``); may
            require grad.
        kind: ``"diag"``, ``"orthogonal"`` or ``"general"``.
        normalised: Return ``Δ_F = (D + I)^{-1/2} L_F (D + I)^{-1/2}`` (NSD's
            ``normalised=True``, augmented) instead of ``L_F``.
        edge_weight: Optional scalars ``ω`` that scale the maps: ``[M]`` (both ends
            of an edge) or ``[2M]`` per end in ``graph.directed_edge_index`` order
            (NSD's per-direction ``sigmoid`` weights: edge ``e`` then couples with
            ``ω_{i⊴e} ω_{j⊴e}`` and node ``i`` gets ``sum_e ω_{i⊴e}^2``). Unlike
            ``Laplacian``'s ``edge_weight``, they multiply ``graph.edge_weight``
            rather than replace it, and enter quadratically. May require grad.
        add_lp: Append the signless-Laplacian (high-pass) channel; see above.
        add_hp: Append the ordinary-Laplacian (low-pass) channel; see above.
        validate: Check that ``maps`` and ``edge_weight`` are finite (and ``>= 0``
            for ``edge_weight``) and, for ``"orthogonal"``, that ``F^T F = I`` to
            ``sqrt(eps)``; each check is one reduction and a host sync. Pass ``False``
            in a hot loop when the inputs are valid by construction.

    Raises:
        TypeError: ``maps``/``edge_weight`` is not a floating tensor, or a flag is
            not a bool.
        ValueError: unknown ``kind``, wrong shapes or device, non-finite values,
            negative ``edge_weight``, or (``validate``) non-orthogonal maps.

    Shapes:
        input ``[N*d', F]`` -> output ``[N*d', F]``, node-major (rows
        ``i*d' .. i*d'+d'-1`` are node ``i``), ``d' = d + add_lp + add_hp``.

    Example:
        >>> maps = torch.rand(graph.num_edges, 2, 3)   # diagonal maps, d = 3
        >>> L = SheafLaplacian(graph, maps, "diag", normalised=True)
        >>> L.shape
        (48, 48)
        >>> (L @ torch.randn(16 * 3, 4)).shape
        torch.Size([48, 4])

    References:
        Hansen & Ghrist (2019); Bodnar et al. (2022).
    """

    def __init__(
        self,
        graph: Graph,
        maps: Tensor,
        kind: SheafKind = "diag",
        *,
        normalised: bool = False,
        edge_weight: Tensor | None = None,
        add_lp: bool = False,
        add_hp: bool = False,
        validate: bool = True,
    ) -> None:
        """Validate the inputs and compute the ``nnz`` values (see the class)."""
        self._setup(
            graph, maps, kind, normalised, edge_weight, add_lp, add_hp, validate, None
        )

    def _setup(
        self,
        graph: Graph,
        maps: Tensor,
        kind: str,
        normalised: bool,
        edge_weight: Tensor | None,
        add_lp: bool,
        add_hp: bool,
        validate: bool,
        complete: Callable[[Tensor], Tensor] | None,
    ) -> None:
        """The constructor's work; ``complete`` fixes the node quantities.

        ``complete`` (``None`` in one process) maps every per-node quantity summed
        over the graph's edges (the node blocks of ``L_F`` and the degrees,
        ``[N, ...]``) to the one to use, before the normalisation: on a rank of a
        partitioned graph (:class:`graphops.distributed.DistributedSheafLaplacian`)
        it replaces the ghost nodes' rows, which miss their edges to other ranks,
        by their owners'.
        """
        where = "SheafLaplacian"
        fi, fj, d = _check_maps(graph, maps, kind, where)
        for name, flag in (
            ("normalised", normalised),
            ("add_lp", add_lp),
            ("add_hp", add_hp),
            ("validate", validate),
        ):
            if not isinstance(flag, bool):
                raise TypeError(
                    f"{where}: `{name}` must be a bool; got {describe(flag)}."
                )
        if validate and maps.numel() and not bool(torch.isfinite(maps.detach()).all()):
            raise ValueError(
                f"{where}: `maps` must be finite; got NaN or inf. Check the sheaf "
                "learner (a tanh/sigmoid output keeps the maps bounded)."
            )
        if edge_weight is None:
            oi = oj = None
        else:
            oi, oj, _ = _edge_weight(
                graph, edge_weight, where, allow_directed=True, validate=validate
            )
            oi, oj = oi.to(maps.dtype), oj.to(maps.dtype)
        if validate and kind == "orthogonal":
            _check_orthogonal(fi, fj, where)

        dtype = maps.dtype
        w = graph.edge_weight.to(dtype)
        i, j = graph.edge_index
        n = graph.num_nodes
        if kind == "diag":
            if oi is not None:
                fi, fj = oi.unsqueeze(1) * fi, oj.unsqueeze(1) * fj
            off = -(w.unsqueeze(1) * fi * fj)
            node = fi.new_zeros(n, d)
            node = node.index_add(0, i, w.unsqueeze(1) * fi * fi)
            node = node.index_add(0, j, w.unsqueeze(1) * fj * fj)
            if complete is not None:
                node = complete(node)
            if normalised:
                s = (node + 1.0).rsqrt()
                off = s[i] * off * s[j]
                node = node * s * s
            fwd = off.reshape(-1)
            parts = [node.reshape(-1), fwd, fwd]
        else:
            if oi is not None:
                fi = oi.view(-1, 1, 1) * fi
                fj = oj.view(-1, 1, 1) * fj
            off = -(w.view(-1, 1, 1) * (fi.mT @ fj))
            if kind == "orthogonal":
                if oi is None:
                    node = graph.degree(w)
                else:
                    node = w.new_zeros(n).index_add(0, i, w * oi * oi)
                    node = node.index_add(0, j, w * oj * oj)
                if complete is not None:
                    node = complete(node)
                if normalised:
                    s = (node + 1.0).rsqrt()
                    off = (s[i] * s[j]).view(-1, 1, 1) * off
                    node = node * s * s
                node_vals = node.unsqueeze(1).expand(n, d).reshape(-1)
            else:
                node = fi.new_zeros(n, d, d)
                node = node.index_add(0, i, w.view(-1, 1, 1) * (fi.mT @ fi))
                node = node.index_add(0, j, w.view(-1, 1, 1) * (fj.mT @ fj))
                if complete is not None:
                    node = complete(node)
                if normalised:
                    s = _augmented_inv_sqrt(node)
                    off = s[i] @ off @ s[j]
                    node = s @ node @ s
                # exact symmetry of the node blocks makes the whole matrix symmetric
                # (the (j, i) blocks are the transposed (i, j) blocks by construction)
                node_vals = (0.5 * (node + node.mT)).reshape(-1)
            parts = [node_vals, off.reshape(-1), off.mT.reshape(-1)]

        extra = int(add_lp) + int(add_hp)
        if extra:
            deg = graph.degree(w)
            if complete is not None:
                deg = complete(deg)
            sign = [1.0] * int(add_lp) + [-1.0] * int(add_hp)
            fixed_off = w.unsqueeze(1) * torch.tensor(
                sign, dtype=dtype, device=w.device
            )
            fixed_node = deg.unsqueeze(1).expand(n, extra)
            if normalised:
                s = (deg + 1.0).rsqrt()
                fixed_off = (s[i] * s[j]).unsqueeze(1) * fixed_off
                fixed_node = fixed_node * (s * s).unsqueeze(1)
            fixed_off = fixed_off.reshape(-1)
            parts += [fixed_node.reshape(-1), fixed_off, fixed_off]

        pattern, order = _sheaf_pattern(graph, kind, d, extra)
        config = (
            f"kind={kind!r}, d={d}, normalised={normalised}, add_lp={add_lp}, "
            f"add_hp={add_hp}"
        )
        super().__init__(
            graph,
            pattern,
            torch.cat(parts)[order],
            domain="node",
            codomain="node",
            symmetric=True,
            edge_measure=None,
            name="SheafLaplacian",
            config=config,
        )
        self.kind = kind
        self.learned_dim = d
        self.stalk_dim = d + extra
        self.normalised = normalised
        self.add_lp = add_lp
        self.add_hp = add_hp

    def matmul(
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        """Apply to a node-major stalk signal ``x`` of shape ``[N*d', F]``."""
        rows = self.shape[1]
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != rows:
            got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            n, dt = self.graph.num_nodes, self.stalk_dim
            raise ValueError(
                f"{self._where}: expected a stalk signal of shape [N*d', F] = "
                f"[{rows}, F] (N={n}, d'={dt}, node-major); got {got}. Reshape an "
                f"[N, d', F] signal with x.reshape({rows}, -1)."
            )
        return super().matmul(x, backend=backend, out=out)

    @property
    def T(self) -> GraphOperator:  # noqa: N802 - matrix transpose, as in torch
        """The operator itself: sheaf Laplacians are symmetric."""
        return self

    def adjoint(self) -> GraphOperator:
        """The operator itself: ``L_F`` and ``Δ_F`` are self-adjoint in ``<.,.>_V``."""
        return self

    def _derived(self, pattern, values, suffix, **kw):
        """A scaled or shifted copy that keeps the stalk layout and attributes."""
        out = copy.copy(self)
        out._pattern, out._values, out._cache = pattern, values, {}
        out._suffix = self._suffix + suffix
        out._symmetric = kw.get("symmetric", self._symmetric)
        return out


def _check_maps(
    graph: Graph, maps: Tensor, kind: str, where: str
) -> tuple[Tensor, Tensor, int]:
    """Validate ``maps`` (cheap: no host sync) and split them into both ends."""
    if kind not in _KINDS:
        raise ValueError(
            f"{where}: `kind` must be one of {_KINDS}; got {kind!r}. 'diag' takes "
            "[M, 2, d] diagonals, 'orthogonal' and 'general' take [M, 2, d, d] maps."
        )
    if not isinstance(maps, Tensor) or not maps.is_floating_point():
        raise TypeError(
            f"{where}: `maps` must be a floating tensor; got {describe(maps)}."
        )
    m = graph.num_edges
    block = 1 if kind == "diag" else 2
    want = "[M, 2, d] or [2M, d]" if kind == "diag" else "[M, 2, d, d] or [2M, d, d]"
    shape = tuple(maps.shape)
    square = block == 1 or (maps.dim() >= 2 and shape[-1] == shape[-2])
    if maps.dim() == block + 2 and shape[:2] == (m, 2) and square:
        fi, fj = maps[:, 0], maps[:, 1]
    elif maps.dim() == block + 1 and shape[0] == 2 * m and square:
        fi, fj = maps[:m], maps[m:]
    else:
        raise ValueError(
            f"{where}: `maps` for kind={kind!r} must have shape {want} with M={m} "
            f"(one map per end of every edge of graph.edge_index); got {shape}."
        )
    d = shape[-1]
    if d < 1:
        raise ValueError(
            f"{where}: the stalk dimension d (last dimension of `maps`) must be >= 1; "
            f"got {shape}."
        )
    if maps.device != graph.device:
        raise ValueError(
            f"{where}: `maps` is on {maps.device} but the graph is on {graph.device}. "
            f"Use graph.to({maps.device})."
        )
    return fi, fj, d


def _check_orthogonal(fi: Tensor, fj: Tensor, where: str) -> None:
    """Raise unless every map satisfies ``F^T F = I`` to ``sqrt(eps)``."""
    if fi.shape[0] == 0:
        return
    f = torch.cat([fi, fj]).detach()
    eye = torch.eye(f.shape[-1], dtype=f.dtype, device=f.device)
    err = (f.mT @ f - eye).abs().amax(dim=(-2, -1))
    tol = torch.finfo(f.dtype).eps ** 0.5
    worst = float(err.max())
    if not worst <= tol:
        k = int(err.argmax())
        m = fi.shape[0]
        end = "i" if k < m else "j"
        raise ValueError(
            f"{where}: kind='orthogonal' needs orthogonal maps (F^T F = I); got "
            f"max |F^T F - I| = {worst:.3g} > {tol:.3g} for F_{{{end}⊴e}} of edge "
            f"{k % m}. Build them with graphops.sheaf.orthogonal_maps, or use "
            "kind='general'."
        )
