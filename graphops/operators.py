r"""Graph operators: gradient, divergence, Laplacians, adjacency, averaging.

Every operator follows the sign conventions of :mod:`graphops` (edges stored once,
``(grad x)_e = x_j - x_i``, ``div = -grad^*``, ``L = -div o grad = D - W`` PSD) and
applies with ``op @ x`` through the shared kernel :func:`graphops.spmm.spmm`. The
sparsity pattern is cached on the :class:`~graphops.graph.Graph`, so constructing an
operator (for example with new learned edge weights in every forward pass) only
computes ``nnz`` values; nothing is rebuilt when it is applied.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

from graphops import spmm as _spmm
from graphops._checks import describe
from graphops.graph import Graph, _to_fn
from graphops.spmm import SparsePattern, check_signal_dtype, map_nested, spmm

__all__ = [
    "Adjacency",
    "Divergence",
    "EdgeToNodeMean",
    "Gradient",
    "GraphOperator",
    "Laplacian",
    "NodeToEdgeMean",
]

Normalization = Literal["sym", "rw", "gcn"] | None
_NORMALIZATIONS = (None, "sym", "rw", "gcn")
_MEANING = {
    None: "None = no normalisation (D - W)",
    "sym": "'sym' = I - D^-1/2 W D^-1/2",
    "rw": "'rw' = I - D^-1 W",
    "gcn": "'gcn' = I - D~^-1/2 (W + I) D~^-1/2",
    "rusch": "'rusch' = 2 E / N",
}


def _check_normalization(where: str, normalization: Any, allowed: tuple) -> None:
    """Check ``normalization`` is one of ``allowed``; ``None`` means "not normalised".

    One spelling everywhere (the PyG/torch idiom): the Python value ``None``, never
    the string ``"none"``, which is refused with a message naming ``None``.

    Args:
        where: The public call, e.g. ``"Laplacian"``.
        normalization: What the user passed.
        allowed: The accepted values.

    Raises:
        ValueError: ``normalization`` is not in ``allowed``.
    """
    if isinstance(normalization, str) and normalization.lower() == "none":
        raise ValueError(
            f"{where}: `normalization` must be one of {allowed}; got the string "
            f"{normalization!r}. For no normalisation pass normalization=None (the "
            "Python value), as in PyG."
        )
    is_str = isinstance(normalization, str)
    if not ((normalization is None or is_str) and normalization in allowed):
        got = repr(normalization) if is_str else describe(normalization)
        meaning = "; ".join(_MEANING[k] for k in allowed if k in _MEANING)
        raise ValueError(
            f"{where}: `normalization` must be one of {allowed}; got {got}. "
            f"{meaning}."
        )


# ---------------------------------------------------------------------------------
# Patterns cached on the graph (built once per graph, shared by all operators)
# ---------------------------------------------------------------------------------
def _node_pattern(graph: Graph) -> tuple[SparsePattern, Tensor]:
    """``N x N`` pattern: the diagonal plus both directions of every edge.

    Entry order of the returned gather index: ``[diag (N), (i, j) (M), (j, i) (M)]``.
    """
    c = graph._cache
    if "node_pattern" not in c:
        n, (i, j) = graph.num_nodes, graph.edge_index
        ar = torch.arange(n, device=graph.device)
        c["node_pattern"] = SparsePattern.from_coo(
            torch.cat([ar, i, j]), torch.cat([ar, j, i]), (n, n)
        )
    return c["node_pattern"]


def _incidence_pattern(graph: Graph) -> tuple[SparsePattern, Tensor]:
    """``M x N`` oriented incidence; entry order ``[(e, i) (M), (e, j) (M)]``."""
    c = graph._cache
    if "incidence_pattern" not in c:
        m, (i, j) = graph.num_edges, graph.edge_index
        ar = torch.arange(m, device=graph.device)
        c["incidence_pattern"] = SparsePattern.from_coo(
            torch.cat([ar, ar]), torch.cat([i, j]), (m, graph.num_nodes)
        )
    return c["incidence_pattern"]


def _incidence_t_pattern(graph: Graph) -> tuple[SparsePattern, Tensor]:
    """``N x M`` transposed incidence; entry order as :func:`_incidence_pattern`."""
    c = graph._cache
    if "incidence_t_pattern" not in c:
        p, order = _incidence_pattern(graph)
        pt, perm = p.transpose
        c["incidence_t_pattern"] = (pt, order[perm])
    return c["incidence_t_pattern"]


def _edge_weight(
    graph: Graph,
    edge_weight: Tensor | None,
    where: str,
    *,
    allow_directed: bool,
    validate: bool,
) -> tuple[Tensor, Tensor, bool]:
    """Return ``(w_ij, w_ji, symmetric)`` per undirected edge ``(i, j)``, ``i < j``."""
    if edge_weight is None:
        return graph.edge_weight, graph.edge_weight, True
    m = graph.num_edges
    if not isinstance(edge_weight, Tensor) or not edge_weight.is_floating_point():
        raise TypeError(
            f"{where}: `edge_weight` must be a floating tensor; got "
            f"{describe(edge_weight)}. Pass e.g. torch.rand(graph.num_edges)."
        )
    shapes = f"[M]=[{m}]" + (
        f" or [2M]=[{2 * m}] (per direction)" if allow_directed else ""
    )
    if edge_weight.dim() != 1 or edge_weight.shape[0] not in (
        (m, 2 * m) if allow_directed else (m,)
    ):
        raise ValueError(
            f"{where}: `edge_weight` must have shape {shapes}, one weight per edge of "
            f"graph.edge_index; got {tuple(edge_weight.shape)}."
        )
    if edge_weight.device != graph.device:
        raise ValueError(
            f"{where}: `edge_weight` is on {edge_weight.device} but the graph is on "
            f"{graph.device}. Use graph.to({edge_weight.device})."
        )
    if validate and edge_weight.numel() > 0:
        w = edge_weight.detach()
        if not bool((torch.isfinite(w) & (w >= 0)).all()):
            k = int((~(torch.isfinite(w) & (w >= 0))).nonzero()[0])
            raise ValueError(
                f"{where}: `edge_weight` must be finite and >= 0; got {float(w[k])} at "
                f"edge {k}. Map learned weights through softplus/exp/sigmoid."
            )
    if edge_weight.shape[0] == m:
        return edge_weight, edge_weight, True
    return edge_weight[:m], edge_weight[m:], False


class GraphOperator(ABC):
    r"""A linear map between node space (``[N, F]``) and edge space (``[M, F]``).

    Conventions: see :mod:`graphops`. ``op @ x`` applies it; :meth:`adjoint` is the
    adjoint for the inner products ``<.,.>_V`` and ``<.,.>_E`` (edge space weighted
    by the operator's edge measure); ``.T`` (on the built-in operators) is the plain
    matrix transpose.

    **The protocol.** This is everything other code (``graphops.linalg.CG``,
    ``graphops.spectral``, the solvers) may use of an operator; nothing reads
    private attributes.

    1. Must implement: :meth:`matmul`, :meth:`adjoint`, :attr:`is_symmetric`,
       :meth:`to_dense`, :meth:`to_scipy`, and the attributes ``graph``,
       ``domain`` and ``codomain`` (``"node"`` or ``"edge"``).
    2. Provided, override when there is something faster: :attr:`shape`,
       :attr:`dtype` and :attr:`device` (from ``graph``); :meth:`addmm` (the
       fused ``input + alpha * (op @ x)``); :meth:`diagonal` (from
       :meth:`to_dense`, ``O(N^2)``); :meth:`shifted` (a matrix-free
       ``shift I + scale A``); :meth:`map_tensors` and :meth:`to` (walk the
       instance's attributes, so an operator that keeps its tensors in attributes
       moves as a whole).
    3. Sparse structure, optional: :attr:`values` (the ``[nnz]`` values in CSR
       order, differentiable) and :meth:`csr` (the cached torch CSR tensor). Both
       are ``None`` for a matrix-free operator. The built-in operators have them;
       CG then iterates on the cached CSR tensor and differentiates through
       :attr:`values`.
    4. :attr:`cache`: a per-instance memo for derived quantities (the CSR tensor,
       ``lam_max`` estimates). Operators are immutable, so a memo never goes stale.
    5. :meth:`allreduce`: how a reduction over rows (an inner product, a norm, a
       maximum row sum) computed on this operator's rows becomes the global one;
       the identity here, an ``all_reduce`` for a domain-decomposed
       :class:`~graphops.distributed.DistributedOperator`. ``lam_max`` and CG
       reduce through it.

    Devices: :meth:`to` returns a moved copy that carries the sparse index
    structures and caches along (nothing is rebuilt or re-sorted on the new device);
    a :class:`~solvers.terms.Term` that holds an operator moves it with
    ``term.to(...)``.
    """

    graph: Graph
    domain: str
    codomain: str

    @abstractmethod
    def matmul(
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        """Apply the operator to ``x`` (``[size of domain, F]``).

        Args:
            x: A node or edge signal, as ``domain`` says.
            backend: Overrides the global sparse backend (:mod:`graphops.spmm`).
            out: Optional ``[size of codomain, F]`` buffer the result may be
                written into (the built-in operators do, without allocating);
                always use the returned tensor.

        Returns:
            ``[size of codomain, F]``.
        """

    def __matmul__(self, x: Tensor) -> Tensor:
        """``op @ x``, the same as :meth:`matmul` with the default backend."""
        return self.matmul(x)

    def addmm(
        self,
        input: Tensor,
        x: Tensor,
        *,
        alpha: float = 1.0,
        out: Tensor | None = None,
    ) -> Tensor:
        r"""``input + alpha * (op @ x)``, fused where the operator can.

        .. math:: \text{input} + \alpha\, A x

        What an explicit Runge-Kutta stage of ``y' = -A y`` is
        (``y0 + dt a_ij k_j`` with ``k_j = -A y_j``). This default applies the
        operator and adds; the built-in operators do both in one sparse kernel
        (``torch.addmm`` on their cached CSR tensor) when nothing needs a
        gradient, and through their differentiable product otherwise.

        Args:
            input: ``[size of codomain, F]``.
            x: ``[size of domain, F]``.
            alpha: Scale of the product (a Python number).
            out: Optional ``[size of codomain, F]`` buffer for the result (it may be
                ``input`` itself, never ``x``); used only when nothing needs a
                gradient. Always use the returned tensor.

        Returns:
            ``[size of codomain, F]``.

        Raises:
            ValueError: ``input`` is not ``[size of codomain, F]`` for ``x``'s ``F``
                (and the errors of :meth:`matmul` for ``x``).

        Example:
            >>> from graphops import Graph, Laplacian
            >>> L = Laplacian(Graph(torch.tensor([[0, 1], [1, 0]])))
            >>> y = torch.tensor([[1.0], [0.0]], dtype=L.dtype)
            >>> L.addmm(y, y, alpha=-0.5).flatten().tolist()   # y - 0.5 L y
            [0.5, 0.5]
        """
        prod = self.matmul(x)
        _check_addmm_input(self, input, prod.shape)
        if out is not None and not (
            torch.is_grad_enabled() and (input.requires_grad or prod.requires_grad)
        ):
            return torch.add(input, prod, alpha=alpha, out=out)
        return torch.add(input, prod, alpha=alpha)

    @abstractmethod
    def adjoint(self) -> GraphOperator:
        """The adjoint w.r.t. the node and (weighted) edge inner products."""

    @property
    @abstractmethod
    def is_symmetric(self) -> bool:
        """Whether the operator is self-adjoint (node -> node with symmetric matrix)."""

    @abstractmethod
    def to_dense(self) -> Tensor:
        """Dense matrix (differentiable w.r.t. learned weights)."""

    @abstractmethod
    def to_scipy(self) -> Any:
        """Detached float64 ``scipy.sparse.csr_matrix``."""

    # -- provided ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``: sizes of the codomain and domain."""
        size = {"node": self.graph.num_nodes, "edge": self.graph.num_edges}
        return (size[self.codomain], size[self.domain])

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the operator's entries (here: the graph's)."""
        return self.graph.dtype

    @property
    def device(self) -> torch.device:
        """Device of the operator's tensors (here: the graph's)."""
        return self.graph.device

    @property
    def values(self) -> Tensor | None:
        """``[nnz]`` entries in CSR order (differentiable); ``None``: matrix free."""
        return None

    def csr(self) -> Tensor | None:
        """The operator as a torch sparse CSR tensor, built once and cached.

        Its values are detached (gradients go through :attr:`values` and the
        kernel's own backward). ``None`` for a matrix-free operator or a
        structurally empty one.
        """
        return None

    @property
    def cache(self) -> dict:
        """Memo of derived quantities (the CSR tensor, ``lam_max`` estimates)."""
        store = self.__dict__.get("_cache")
        if store is None:
            store = self.__dict__["_cache"] = {}
        return store

    def diagonal(self) -> Tensor:
        """Main diagonal ``[N]`` of a node-to-node operator (e.g. for Jacobi).

        This default reads it from :meth:`to_dense`; sparse operators override it.

        Raises:
            ValueError: the operator is not node -> node.
        """
        self._require_node_to_node("diagonal")
        return torch.diagonal(self.to_dense()).clone()

    def allreduce(self, t: Tensor, op: str = "sum") -> Tensor:
        """Combine a locally computed reduction over all pieces of the operator.

        Code that reduces over the rows of a signal (inner products, norms, the
        largest row sum) passes its local result through this, so that a
        domain-decomposed operator (:class:`~graphops.distributed.
        DistributedOperator`, one block of rows per process) gets the global
        value on every process. A single-process operator holds all rows: this
        default returns ``t`` unchanged.

        Args:
            t: A tensor of partial sums (``op="sum"``) or partial maxima
                (``op="max"``).
            op: ``"sum"`` or ``"max"``.

        Returns:
            The reduction over all pieces (here: ``t``).
        """
        return t

    def shifted(
        self, shift: float | Tensor = 0.0, scale: float | Tensor = 1.0
    ) -> GraphOperator:
        r"""``shift * I + scale * op`` as an operator (node -> node only).

        .. math:: B = c\,I + s\,A

        This default applies it matrix free; the built-in operators return a new
        operator on the same cached pattern (the identity fused into the stored
        diagonal), so CG iterates on one CSR tensor.

        Args:
            shift: ``c`` (a number or a 0-d tensor, which may require grad).
            scale: ``s`` (same rules).

        Returns:
            The operator ``B``, differentiable w.r.t. tensor ``shift``/``scale``
            and the operator's own tensors.

        Raises:
            ValueError: the operator is not node -> node.
        """
        self._require_node_to_node("shifted")
        return _Shifted(self, shift, scale)

    def map_tensors(
        self, fn: Callable[[Tensor], Tensor], memo: dict[int, Any] | None = None
    ) -> GraphOperator:
        """A copy with ``fn`` applied to every tensor the operator holds.

        Walks the instance's attributes (the graph with its cached index
        structures, values, edge measure, tensors in tuples/lists/dicts), so the
        copy shares nothing on the old device. ``fn`` is what
        :meth:`torch.nn.Module._apply` passes (it casts floating tensors only);
        :meth:`to` is built on it. Objects shared between operators and graphs are
        copied once per ``memo``. A cached CSR tensor is rebuilt on the copied
        index structures (a cheap wrap, no sort); cached numbers (``lam_max``)
        are kept unless the dtype changes.

        Args:
            fn: Tensor map, e.g. ``lambda t: t.to("cuda")``.
            memo: Copies made so far, keyed by ``id`` (``None``: a fresh one).

        Returns:
            The copy, or ``self`` if ``fn`` changed no tensor.
        """
        memo = {} if memo is None else memo
        if id(self) in memo:
            return memo[id(self)]
        state = {k: v for k, v in vars(self).items() if k != "_cache"}
        moved = {k: map_nested(v, fn, memo) for k, v in state.items()}
        if all(moved[k] is state[k] for k in state):
            memo[id(self)] = self
            return self
        new = copy.copy(self)
        new.__dict__.update(moved)
        new.__dict__["_cache"] = {}
        same_dtype = new.dtype == self.dtype
        for key, value in self.cache.items():
            if isinstance(value, Tensor) and value.layout == torch.sparse_csr:
                # rebuilt from the copied index structures, never re-sorted
                continue
            if isinstance(value, Tensor) or same_dtype:
                new.cache[key] = map_nested(value, fn, memo)
        if any(
            isinstance(v, Tensor) and v.layout == torch.sparse_csr
            for v in self.cache.values()
        ):
            new.csr()
        memo[id(self)] = new
        return new

    def to(
        self,
        device: torch.device | str | torch.dtype | None = None,
        dtype: torch.dtype | None = None,
    ) -> GraphOperator:
        """A copy on ``device`` with floating tensors cast to ``dtype``.

        Index tensors keep their integer dtype; the graph and the cached sparse
        structures move along (see :meth:`map_tensors`). Like
        :meth:`torch.Tensor.to`, returns ``self`` when nothing changes.

        Args:
            device: Target device (``None``: stay); a dtype here is taken as
                ``dtype``, as in ``op.to(torch.float32)``.
            dtype: Target floating dtype (``None``: keep).

        Returns:
            The moved operator.

        Raises:
            TypeError: ``dtype`` is not a floating dtype.

        Example:
            >>> g = Graph(torch.tensor([[0, 1], [1, 0]]))
            >>> Laplacian(g).to(dtype=torch.float32).dtype
            torch.float32
        """
        return self.map_tensors(_to_fn(f"{type(self).__name__}.to", device, dtype))

    def _require_node_to_node(self, what: str) -> None:
        if self.domain != "node" or self.codomain != "node":
            raise ValueError(
                f"{self!r}.{what}: only node -> node operators have a diagonal; "
                f"got one mapping {self.domain} -> {self.codomain}. Use a Laplacian "
                "or Adjacency."
            )


def _check_addmm_input(op: GraphOperator, input: Any, shape: tuple) -> None:
    """``input`` of :meth:`GraphOperator.addmm` has the product's shape.

    Raises:
        ValueError: it does not (no broadcasting: a stage update never broadcasts).
    """
    if not isinstance(input, Tensor) or tuple(input.shape) != tuple(shape):
        got = tuple(input.shape) if isinstance(input, Tensor) else describe(input)
        raise ValueError(
            f"{type(op).__name__}.addmm: `input` must have the product's shape "
            f"{tuple(shape)}; got {got}. Pass a tensor shaped like op @ x."
        )


class _Shifted(GraphOperator):
    """``shift * I + scale * base``, matrix free (see :meth:`GraphOperator.shifted`)."""

    domain = codomain = "node"

    def __init__(
        self, base: GraphOperator, shift: float | Tensor, scale: float | Tensor
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        self.graph, self.base, self.shift, self.scale = base.graph, base, shift, scale

    def matmul(self, x, *, backend=None, out=None):  # noqa: D102
        return _affine(self.base.matmul(x, backend=backend), x, self.shift, self.scale)

    def adjoint(self) -> GraphOperator:  # noqa: D102
        return _Shifted(self.base.adjoint(), self.shift, self.scale)

    @property
    def is_symmetric(self) -> bool:  # noqa: D102
        return self.base.is_symmetric

    @property
    def dtype(self) -> torch.dtype:  # noqa: D102
        return self.base.dtype

    @property
    def device(self) -> torch.device:  # noqa: D102
        return self.base.device

    def diagonal(self) -> Tensor:  # noqa: D102
        return _affine(self.base.diagonal(), 1.0, self.shift, self.scale)

    def to_dense(self) -> Tensor:  # noqa: D102
        a = self.base.to_dense()
        return _affine(a, torch.eye(a.shape[0], dtype=a.dtype, device=a.device),
                       self.shift, self.scale)

    def to_scipy(self) -> Any:  # noqa: D102
        import scipy.sparse as sp

        c, s = (float(v) for v in (self.shift, self.scale))
        a = self.base.to_scipy()
        return (c * sp.eye(a.shape[0], format="csr") + s * a).tocsr()

    def __repr__(self) -> str:
        return f"{self.base!r}.shifted(shift={self.shift!r}, scale={self.scale!r})"


def _affine(ax, x, shift: float | Tensor, scale: float | Tensor):
    """``shift * x + scale * ax``, skipping trivial terms (``x`` may be a number)."""
    out = ax if not isinstance(scale, Tensor) and scale == 1.0 else ax * scale
    if isinstance(shift, Tensor) or shift != 0.0:
        out = out + x * shift
    return out


class _PatternOperator(GraphOperator):
    """A :class:`GraphOperator` given by a cached pattern and its ``nnz`` values.

    ``_name``/``_config`` give the constructor call (``"Laplacian"``,
    ``"normalization='sym'"``); ``_suffix`` the method calls that derived it
    (``".T"``, ``".scale(2)"``). The repr is built from them and the current
    ``shape``, ``dtype`` and ``device``, so its names are the attributes.
    """

    def __init__(
        self,
        graph: Graph,
        pattern: SparsePattern,
        values: Tensor,
        *,
        domain: str,
        codomain: str,
        symmetric: bool,
        edge_measure: Tensor | None,
        name: str,
        config: str = "",
        suffix: str = "",
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        self.graph = graph
        self._pattern = pattern
        self._values = values
        self.domain, self.codomain = domain, codomain
        self._symmetric = symmetric
        self.edge_measure = (
            edge_measure if edge_measure is not None else graph.edge_weight
        )
        self._name, self._config, self._suffix = name, config, suffix
        self._cache: dict = {}

    def _derived(
        self, pattern: SparsePattern, values: Tensor, suffix: str, **kw: Any
    ) -> _PatternOperator:
        """A new operator on ``pattern``; ``kw`` overrides domain/codomain/symmetric."""
        return _PatternOperator(
            self.graph,
            pattern,
            values,
            domain=kw.get("domain", self.domain),
            codomain=kw.get("codomain", self.codomain),
            symmetric=kw.get("symmetric", self._symmetric),
            edge_measure=self.edge_measure,
            name=self._name,
            config=self._config,
            suffix=self._suffix + suffix,
        )

    @property
    def _where(self) -> str:
        """Short name for error messages, e.g. ``Laplacian(normalization='sym').T``."""
        return f"{self._name}({self._config}){self._suffix}"

    # -- application ---------------------------------------------------------------
    def matmul(  # noqa: D102
        self, x: Tensor, *, backend: str | None = None, out: Tensor | None = None
    ) -> Tensor:
        self._check_signal(x)
        p = self._pattern
        if self._values.dtype == x.dtype:
            return spmm(p, self._values, x, backend, self.csr(), out=out)
        return spmm(p, self._values.to(x.dtype), x, backend, out=out)

    def addmm(  # noqa: D102
        self,
        input: Tensor,
        x: Tensor,
        *,
        alpha: float = 1.0,
        out: Tensor | None = None,
    ) -> Tensor:
        # One CSR kernel (torch.addmm) when nothing is differentiated: no product
        # tensor is allocated, zero-filled and added in a second pass. This is a
        # per-stage hot path, so it checks only what torch.addmm would not refuse
        # (it would broadcast `input`); anything else it refuses (device, dtype,
        # shape of x) falls through to the validated path below, which raises the
        # operator's own message.
        csr = self._cache.get("csr")
        if csr is None:
            csr = self.csr()
        if (
            csr is not None
            and isinstance(x, Tensor)
            and isinstance(input, Tensor)
            and x.dtype is self._values.dtype
            and _spmm._backend == "csr"
            and input.shape == (csr.shape[0], x.shape[-1])
            and not (
                torch.is_grad_enabled()
                and (
                    self._values.requires_grad
                    or x.requires_grad
                    or input.requires_grad
                )
            )
        ):
            try:
                if out is None:
                    return torch.addmm(input, csr, x, alpha=alpha)
                return torch.addmm(input, csr, x, alpha=alpha, out=out)
            except RuntimeError:
                # a wrong x, or a functorch-wrapped one (torch.func transforms)
                pass
        return super().addmm(input, x, alpha=alpha, out=out)

    def _check_signal(self, x: Tensor) -> None:
        """``x`` is a 2-D signal of the domain's size, on the device, of a float dtype.

        Raises:
            ValueError: wrong shape or device.
            TypeError: a dtype no backend computes (see ``check_signal_dtype``).
        """
        p = self._pattern
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] != p.shape[1]:
            got = tuple(x.shape) if isinstance(x, Tensor) else describe(x)
            article = "an" if self.domain == "edge" else "a"
            raise ValueError(
                f"{self._where}: expected {article} {self.domain} signal of shape "
                f"[{p.shape[1]}, F]; got {got}. Scalar fields are [N, 1]: "
                "use x.unsqueeze(-1)."
            )
        if x.device != self._values.device:
            raise ValueError(
                f"{self._where}: `x` is on {x.device} but the operator is on "
                f"{self._values.device}. Move one of them: op.to(x.device) or "
                "x.to(op.device)."
            )
        # one frozenset lookup: refuses half/bfloat16/integer/bool signals
        check_signal_dtype(self._where, x, self._values.dtype)

    @property
    def values(self) -> Tensor:
        """``[nnz]`` entries in CSR order (differentiable w.r.t. edge weights)."""
        return self._values

    @property
    def pattern(self) -> SparsePattern:
        """The cached :class:`~graphops.spmm.SparsePattern` (shared with the graph).

        An implementation detail of the built-in operators (benchmarks read it);
        code written against :class:`GraphOperator` uses :meth:`csr` instead.
        """
        return self._pattern

    def csr(self) -> Tensor | None:
        """The cached CSR tensor (values detached); see :meth:`GraphOperator.csr`."""
        store = self.cache
        if "csr" not in store:
            if not self._pattern.nnz:
                return None
            try:
                csr = self._pattern.tensor(self._values.detach())
            except RuntimeError:
                # values wrapped by a functorch transform (torch.func.jvp over the
                # edge weights): CSR tensors cannot wrap them; use the generic path.
                return None
            store["csr"] = csr
        return store["csr"]

    # -- structure -----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the stored pattern (block operators have more rows)."""
        return self._pattern.shape

    @property
    def is_symmetric(self) -> bool:  # noqa: D102
        return self._symmetric

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the stored values."""
        return self._values.dtype

    @property
    def device(self) -> torch.device:
        """Device of the stored values."""
        return self._values.device

    @property
    def T(self) -> GraphOperator:  # noqa: N802 - matrix transpose, as in torch
        """Plain matrix transpose (Euclidean adjoint)."""
        pt, perm = self._pattern.transpose
        return self._derived(
            pt, self._values[perm], ".T", domain=self.codomain, codomain=self.domain
        )

    def adjoint(self) -> GraphOperator:
        """Adjoint ``M_dom^{-1} A^T M_cod`` (``M_edge = diag(w)``, ``M_node = I``).

        Entries on zero-measure edges are set to 0 (the adjoint is not unique there).
        """
        if self._symmetric and self.domain == self.codomain == "node":
            return self
        pt, perm = self._pattern.transpose
        vals = self._values[perm]
        w = self.edge_measure.to(vals.dtype)
        # A^T M_cod: the column index of A^T is an edge
        if self.codomain == "edge":
            vals = vals * w[pt.col]
        # M_dom^{-1}: the row index of A^T is an edge
        if self.domain == "edge":
            wr = w[pt.row]
            vals = torch.where(
                wr > 0,
                vals / torch.where(wr > 0, wr, torch.ones_like(wr)),
                torch.zeros_like(vals),
            )
        return self._derived(
            pt,
            vals,
            ".adjoint()",
            domain=self.codomain,
            codomain=self.domain,
            symmetric=False,
        )

    def __neg__(self) -> GraphOperator:
        """``-op`` (the same pattern, negated values)."""
        return self.scale(-1.0)

    def scale(self, c: float) -> GraphOperator:
        """``c * op`` as a new operator (same pattern)."""
        return self._derived(self._pattern, self._values * c, f".scale({c:g})")

    def shifted(  # noqa: D102
        self, shift: float | Tensor = 0.0, scale: float | Tensor = 1.0
    ) -> GraphOperator:
        self._require_node_to_node("shifted")
        on, full = self._pattern.diagonal
        if not full:
            return _Shifted(self, shift, scale)
        trivial_shift = not isinstance(shift, Tensor) and shift == 0.0
        trivial_scale = not isinstance(scale, Tensor) and scale == 1.0
        if trivial_shift and trivial_scale:
            return self
        # Constant steps of an implicit method ask for the same I + theta dt A at
        # every step: with numbers (not tensors) and values that take no gradient,
        # the last shifted operator (with its CSR tensor and diagonal) is reused.
        key = None
        if not (
            isinstance(shift, Tensor)
            or isinstance(scale, Tensor)
            or self._values.requires_grad
        ):
            key = (float(shift), float(scale))
            if self.cache.get("shifted_key") == key:
                return self.cache["shifted"]
        vals = self._values if trivial_scale else self._values * scale
        if not trivial_shift:
            vals = vals + on.to(vals.dtype) * shift
        text = ", ".join(
            f"{k}={v:g}" if not isinstance(v, Tensor) else f"{k}=<tensor>"
            for k, v in (("shift", shift), ("scale", scale))
        )
        op = self._derived(self._pattern, vals, f".shifted({text})")
        if key is not None:
            self.cache["shifted_key"], self.cache["shifted"] = key, op
        return op

    def diagonal(self) -> Tensor:
        """Main diagonal ``[N]`` of a node-to-node operator (e.g. for Jacobi).

        Raises:
            ValueError: the operator is not node -> node.
        """
        self._require_node_to_node("diagonal")
        if "diagonal" in self.cache:
            return self.cache["diagonal"].clone()  # the caller may modify it
        p = self._pattern
        on, _ = p.diagonal
        diag = self._values.new_zeros(p.shape[0]).index_add(
            0, p.row[on], self._values[on]
        )
        if not diag.requires_grad:  # a constant: computed once per operator
            self.cache["diagonal"] = diag
            return diag.clone()
        return diag

    def to_dense(self) -> Tensor:  # noqa: D102
        p = self._pattern
        out = self._values.new_zeros(p.shape)
        return out.index_put((p.row, p.col), self._values, accumulate=True)

    def to_scipy(self) -> Any:  # noqa: D102
        import scipy.sparse as sp

        p = self._pattern
        return sp.csr_matrix(
            (
                self._values.detach().cpu().to(torch.float64).numpy(),
                p.col.cpu().numpy(),
                p.crow.cpu().numpy(),
            ),
            shape=p.shape,
        )

    def __repr__(self) -> str:
        """``Laplacian(normalization='sym', shape=(5, 5), dtype=..., device=cpu)``."""
        shape = self.shape
        if (self._suffix.count(".T") + self._suffix.count(".adjoint()")) % 2:
            shape = shape[::-1]
        config = f"{self._config}, " if self._config else ""
        return (
            f"{self._name}({config}shape={shape}, dtype={self.dtype}, "
            f"device={self.device}){self._suffix}"
        )


class Gradient(_PatternOperator):
    r"""Graph gradient, node signals to edge signals.

    .. math:: (\nabla x)_e = x_j - x_i, \qquad e = (i, j),\ i < j

    The matrix is the oriented incidence ``B`` (entries ``\pm 1``); ``edge_weight``
    does not change ``G x``, it is the edge measure of ``<.,.>_E`` used by
    :meth:`adjoint`, which returns ``B^T W = -Divergence(graph, edge_weight)``.
    Conventions: :mod:`graphops`.

    Args:
        graph: Validated graph.
        edge_weight: Edge measure ``[M]``; ``None`` uses ``graph.edge_weight``.
        validate: Check the weights are finite and ``>= 0`` (one reduction).

    Shapes:
        input ``[N, F]`` -> output ``[M, F]``.
    """

    def __init__(
        self, graph: Graph, edge_weight: Tensor | None = None, *, validate: bool = True
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        w, _, _ = _edge_weight(
            graph, edge_weight, "Gradient", allow_directed=False, validate=validate
        )
        p, order = _incidence_pattern(graph)
        m = graph.num_edges
        src = torch.cat(
            [
                -torch.ones(m, dtype=w.dtype, device=graph.device),
                torch.ones(m, dtype=w.dtype, device=graph.device),
            ]
        )
        super().__init__(
            graph,
            p,
            src[order],
            domain="node",
            codomain="edge",
            symmetric=False,
            edge_measure=w,
            name="Gradient",
        )

    def adjoint(self) -> GraphOperator:  # noqa: D102
        return -Divergence(self.graph, self.edge_measure, validate=False)


class Divergence(_PatternOperator):
    r"""Graph divergence, edge signals to node signals; ``-Gradient.adjoint()``.

    .. math:: (\operatorname{div} F)_i = \sum_{e=(i,j)} w_e F_e - \sum_{e=(j,i)} w_e F_e

    i.e. ``div = -B^T W``, the weighted net outflow of the flux ``F`` at node ``i``.
    Hence ``-div(grad x) = L x`` with ``L = D - W``. Conventions: :mod:`graphops`.

    Args:
        graph: Validated graph.
        edge_weight: Edge weights ``[M]`` (may require grad); ``None`` uses the graph's.
        validate: Check the weights are finite and ``>= 0`` (one reduction).

    Shapes:
        input ``[M, F]`` -> output ``[N, F]``.
    """

    def __init__(
        self, graph: Graph, edge_weight: Tensor | None = None, *, validate: bool = True
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        w, _, _ = _edge_weight(
            graph, edge_weight, "Divergence", allow_directed=False, validate=validate
        )
        pt, order = _incidence_t_pattern(graph)
        super().__init__(
            graph,
            pt,
            torch.cat([w, -w])[order],
            domain="edge",
            codomain="node",
            symmetric=False,
            edge_measure=w,
            name="Divergence",
        )

    def adjoint(self) -> GraphOperator:  # noqa: D102
        return -Gradient(self.graph, self.edge_measure, validate=False)


def _adjacency_parts(
    graph: Graph, normalization, edge_weight, where: str, validate: bool
):
    """Diagonal, forward and backward values of the (normalised) adjacency.

    The composed-ops reference of :class:`_NodeValues` (the operators use the fused
    node; tests and ``benchmarks/bench_operators.py`` compare the two).
    """
    _check_normalization(where, normalization, _NORMALIZATIONS)
    wf, wb, sym = _edge_weight(
        graph, edge_weight, where, allow_directed=True, validate=validate
    )
    i, j = graph.edge_index
    n = graph.num_nodes
    deg = wf.new_zeros(n).index_add(0, i, wf).index_add(0, j, wb)  # row sums of W
    zero_diag = wf.new_zeros(n)
    if normalization is None:
        return deg, zero_diag, wf, wb, sym
    if normalization == "gcn":
        s = (deg + 1.0).rsqrt()
        return None, s * s, s[i] * wf * s[j], s[j] * wb * s[i], sym
    connected = deg > 0
    safe = torch.where(connected, deg, torch.ones_like(deg))
    if normalization == "sym":
        s = torch.where(connected, safe.rsqrt(), torch.zeros_like(deg))
        fwd, bwd = s[i] * wf * s[j], s[j] * wb * s[i]
    else:  # "rw": row i divided by d_i
        r = torch.where(connected, 1.0 / safe, torch.zeros_like(deg))
        fwd, bwd = r[i] * wf, r[j] * wb
        sym = False
    return connected.to(wf.dtype), zero_diag, fwd, bwd, sym


def _node_values_inverse(graph: Graph) -> Tensor:
    """Inverse of the node pattern's ``order``: CSR position of each entry.

    ``values_csr[inv[k]]`` is entry ``k`` of ``[diag (N), (i, j) (M), (j, i) (M)]``,
    so the gradient of the CSR values in that entry order is one gather.
    """
    c = graph._cache
    if "node_pattern_inverse" not in c:
        _, order = _node_pattern(graph)
        c["node_pattern_inverse"] = torch.argsort(order)
    return c["node_pattern_inverse"]


class _NodePlan:
    """Everything but the weights that :class:`_NodeValues` needs (no tensors' grads).

    Passed to the autograd Function as a plain object (like ``spmm._Prebuilt``), so
    functorch transforms do not try to wrap the index tensors.
    """

    __slots__ = ("i", "j", "n", "m", "order", "inverse", "norm", "laplacian", "split")

    def __init__(self, graph: Graph, norm, laplacian: bool, split: bool) -> None:
        """Gather the cached indices of ``graph``; ``split``: weights are ``[2M]``."""
        self.i, self.j = graph.edge_index
        self.n, self.m = graph.num_nodes, graph.num_edges
        self.order = _node_pattern(graph)[1]
        self.inverse = _node_values_inverse(graph)
        self.norm, self.laplacian, self.split = norm, laplacian, split


def _node_factors(p: _NodePlan, w: Tensor):
    """``(wf, wb, deg, s)``: per-direction weights, row sums and the node scaling.

    ``s`` is ``D^-1/2`` (``"sym"``, zero on isolated nodes), ``(D + 1)^-1/2``
    (``"gcn"``), ``D^-1`` (``"rw"``, zero on isolated nodes) or ``None``.
    Out-of-place ops only, so the backward built from them is itself
    differentiable (double backward) and vmappable.
    """
    wf, wb = (w[: p.m], w[p.m :]) if p.split else (w, w)
    deg = w.new_zeros(p.n).index_add(0, p.i, wf).index_add(0, p.j, wb)
    if p.norm is None:
        return wf, wb, deg, None
    if p.norm == "gcn":
        return wf, wb, deg, (deg + 1.0).rsqrt()
    connected = deg > 0
    safe = torch.where(connected, deg, torch.ones_like(deg))
    s = safe.rsqrt() if p.norm == "sym" else safe.reciprocal()
    return wf, wb, deg, torch.where(connected, s, torch.zeros_like(s))


def _node_parts(p: _NodePlan, w: Tensor) -> Tensor:
    """The values in entry order ``[diag (N), (i, j) (M), (j, i) (M)]``."""
    wf, wb, deg, s = _node_factors(p, w)
    if p.norm is None:
        diag, fwd, bwd = deg if p.laplacian else torch.zeros_like(deg), wf, wb
    elif p.norm == "rw":
        fwd, bwd = s[p.i] * wf, s[p.j] * wb
        diag = (deg > 0).to(w.dtype) if p.laplacian else torch.zeros_like(deg)
    else:
        sij = s[p.i] * s[p.j]
        fwd, bwd = sij * wf, sij * wb
        if p.norm == "gcn":
            diag = 1.0 - s * s if p.laplacian else s * s
        else:
            diag = (deg > 0).to(w.dtype) if p.laplacian else torch.zeros_like(deg)
    if p.laplacian:
        fwd, bwd = -fwd, -bwd
    return torch.cat([diag, fwd, bwd])


class _NodeValues(torch.autograd.Function):
    """CSR values of :class:`Laplacian` / :class:`Adjacency` from the edge weights.

    One autograd node for the whole construction (degree, normalisation, gather into
    CSR order) with a hand-written backward (and forward-mode ``jvp``), instead of
    the dozen nodes of the composed ops (:func:`_adjacency_parts`). For a
    normalised operator the backward recomputes the degree from the saved weights
    (two ``index_add`` of ``M``), so it saves only ``w`` and stays differentiable
    itself (double backward).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(w: Tensor, p: _NodePlan) -> Tensor:  # noqa: D102
        return _node_parts(p, w).index_select(0, p.order)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: D102
        w, p = inputs
        ctx.p = p
        ctx.save_for_backward(w)
        ctx.save_for_forward(w)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: D102
        (w,) = ctx.saved_tensors
        p: _NodePlan = ctx.p
        n, m = p.n, p.m
        g = grad.index_select(0, p.inverse)
        gd, gf, gb = g[:n], g[n : n + m], g[n + m :]
        if p.laplacian:
            gf, gb = -gf, -gb
        if p.norm is None:  # linear in w: no degree needed
            dwf, dwb = gf, gb
            if p.laplacian:  # diag = deg
                dwf, dwb = gf + gd[p.i], gb + gd[p.j]
        else:
            wf, wb, _, s = _node_factors(p, w)
            if p.norm == "rw":
                ds = w.new_zeros(n).index_add(0, p.i, gf * wf)
                ds = ds.index_add(0, p.j, gb * wb)
                dwf, dwb = gf * s[p.i], gb * s[p.j]
                ddeg = -(s * s) * ds  # d(1/deg)
            else:
                si, sj = s[p.i], s[p.j]
                t = gf * wf + gb * wb
                ds = w.new_zeros(n).index_add(0, p.i, t * sj).index_add(0, p.j, t * si)
                if p.norm == "gcn":  # diag = s^2 (adjacency) or 1 - s^2 (Laplacian)
                    ds = ds + (-2.0 if p.laplacian else 2.0) * s * gd
                sij = si * sj
                dwf, dwb = gf * sij, gb * sij
                ddeg = -0.5 * (s * s * s) * ds  # d(deg^-1/2); zero where s = 0
            dwf, dwb = dwf + ddeg[p.i], dwb + ddeg[p.j]
        return (torch.cat([dwf, dwb]) if p.split else dwf + dwb), None

    @staticmethod
    def jvp(ctx, dw: Tensor, _p: Any) -> Tensor:  # noqa: D102
        (w,) = ctx.saved_tensors
        p: _NodePlan = ctx.p
        wf, wb, deg, s = _node_factors(p, w)
        dwf, dwb = (dw[: p.m], dw[p.m :]) if p.split else (dw, dw)
        ddeg = dw.new_zeros(p.n).index_add(0, p.i, dwf).index_add(0, p.j, dwb)
        zero = torch.zeros_like(ddeg)
        if p.norm is None:
            dd, df, db = (ddeg if p.laplacian else zero), dwf, dwb
        elif p.norm == "rw":
            dr = -(s * s) * ddeg
            df = dr[p.i] * wf + s[p.i] * dwf
            db = dr[p.j] * wb + s[p.j] * dwb
            dd = zero
        else:
            ds = -0.5 * (s * s * s) * ddeg
            si, sj = s[p.i], s[p.j]
            sij, dsij = si * sj, ds[p.i] * sj + si * ds[p.j]
            df, db = dsij * wf + sij * dwf, dsij * wb + sij * dwb
            dd = zero
            if p.norm == "gcn":
                dd = (-2.0 if p.laplacian else 2.0) * s * ds
        if p.laplacian:
            df, db = -df, -db
        return torch.cat([dd, df, db]).index_select(0, p.order)


def _node_values(
    graph: Graph,
    normalization,
    edge_weight: Tensor | None,
    where: str,
    validate: bool,
    *,
    laplacian: bool,
) -> tuple[Tensor, bool]:
    """CSR values of the (normalised) Laplacian or adjacency, and its symmetry.

    The fused counterpart of :func:`_adjacency_parts` (same values up to
    round-off, one autograd node).
    """
    _check_normalization(where, normalization, _NORMALIZATIONS)
    _, _, sym = _edge_weight(
        graph, edge_weight, where, allow_directed=True, validate=validate
    )
    w = graph.edge_weight if edge_weight is None else edge_weight
    plan = _NodePlan(graph, normalization, laplacian, split=not sym)
    return _NodeValues.apply(w, plan), sym and normalization != "rw"


class Adjacency(_PatternOperator):
    r"""(Normalised) weighted adjacency, node signals to node signals.

    ``None``: ``W``; ``"sym"``: ``D^{-1/2} W D^{-1/2}``; ``"rw"``: ``D^{-1} W``;
    ``"gcn"``: Kipf & Welling's renormalised ``D~^{-1/2}(W + I)D~^{-1/2}`` with
    ``D~ = D + I``. Isolated nodes get zero rows in ``"sym"``/``"rw"``. Conventions:
    :mod:`graphops`.

    .. math:: (A x)_i = \sum_j A_{ij} x_j

    Args:
        graph: Validated graph.
        normalization: ``None``, ``"sym"``, ``"rw"`` or ``"gcn"``.
        edge_weight: ``[M]`` symmetric weights, or ``[2M]`` per-direction weights in
            ``graph.directed_edge_index`` order (entry ``k`` for the pair ``(i, j)``
            is ``W_ij``: how much node ``i`` takes from ``j``, e.g. raw attention).
        validate: Check the weights are finite and ``>= 0`` (one reduction).

    Shapes:
        input ``[N, F]`` -> output ``[N, F]``.
    """

    def __init__(
        self,
        graph: Graph,
        normalization: Normalization = None,
        edge_weight: Tensor | None = None,
        *,
        validate: bool = True,
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        values, sym = _node_values(
            graph, normalization, edge_weight, "Adjacency", validate, laplacian=False
        )
        super().__init__(
            graph,
            _node_pattern(graph)[0],
            values,
            domain="node",
            codomain="node",
            symmetric=sym,
            edge_measure=None,
            name="Adjacency",
            config=f"normalization={normalization!r}",
        )
        self.normalization = normalization


class Laplacian(_PatternOperator):
    r"""Graph Laplacian, positive semi-definite for symmetric weights.

    ``None``: ``L = D - W = -div o grad`` (combinatorial); ``"sym"``:
    ``I - D^{-1/2} W D^{-1/2}`` (spectrum in ``[0, 2]``); ``"rw"``: ``I - D^{-1} W``
    (not symmetric; same spectrum as ``"sym"``); ``"gcn"``: ``I - A_gcn`` with
    Kipf & Welling's ``A_gcn = D~^{-1/2}(W + I)D~^{-1/2}``, so one explicit Euler
    step of ``y' = -L y`` with ``dt = 1`` is a GCN propagation. Isolated nodes have a
    zero row in ``"sym"``/``"rw"`` (as ``scipy.sparse.csgraph.laplacian(normed=True)``).
    Heat flow is ``y' = -L y``. Conventions: :mod:`graphops`.

    .. math:: (L x)_i = \sum_j W_{ij} (x_i - x_j) \quad (\text{normalization}=None)

    Args:
        graph: Validated graph.
        normalization: ``None``, ``"sym"``, ``"rw"`` or ``"gcn"``.
        edge_weight: ``[M]`` symmetric weights (learned diffusivity; may require
            grad), or ``[2M]`` per-direction weights in ``graph.directed_edge_index``
            order (raw attention; then ``is_symmetric`` is ``False``).
        validate: Check the weights are finite and ``>= 0`` (one reduction; pass
            ``False`` in a hot loop when the weights are positive by construction).

    Shapes:
        input ``[N, F]`` -> output ``[N, F]``.

    Example:
        >>> g = Graph(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))   # a path 0-1-2
        >>> L = Laplacian(g)
        >>> L.diagonal().tolist()   # the degrees
        [1.0, 2.0, 1.0]
        >>> (L @ torch.ones(3, 1, dtype=g.dtype)).flatten().tolist()   # L 1 = 0
        [0.0, 0.0, 0.0]
    """

    def __init__(
        self,
        graph: Graph,
        normalization: Normalization = None,
        edge_weight: Tensor | None = None,
        *,
        validate: bool = True,
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        values, sym = _node_values(
            graph, normalization, edge_weight, "Laplacian", validate, laplacian=True
        )
        super().__init__(
            graph,
            _node_pattern(graph)[0],
            values,
            domain="node",
            codomain="node",
            symmetric=sym,
            edge_measure=None,
            name="Laplacian",
            config=f"normalization={normalization!r}",
        )
        self.normalization = normalization


class NodeToEdgeMean(_PatternOperator):
    r"""Average of the two end points, node signals to edge signals.

    .. math:: (\bar{x})_e = \tfrac12 (x_i + x_j), \qquad e = (i, j)

    Args:
        graph: Validated graph.
        edge_weight: Edge measure ``[M]`` used by :meth:`adjoint`.
        validate: Check the weights are finite and ``>= 0``.

    Shapes:
        input ``[N, F]`` -> output ``[M, F]``.
    """

    def __init__(
        self, graph: Graph, edge_weight: Tensor | None = None, *, validate: bool = True
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        w, _, _ = _edge_weight(
            graph,
            edge_weight,
            "NodeToEdgeMean",
            allow_directed=False,
            validate=validate,
        )
        p, order = _incidence_pattern(graph)
        half = torch.full(
            (2 * graph.num_edges,), 0.5, dtype=w.dtype, device=graph.device
        )
        super().__init__(
            graph,
            p,
            half[order],
            domain="node",
            codomain="edge",
            symmetric=False,
            edge_measure=w,
            name="NodeToEdgeMean",
        )


class EdgeToNodeMean(_PatternOperator):
    r"""Weighted mean of the incident edge values, edge signals to node signals.

    .. math:: (\bar{F})_i = \frac{\sum_{e \ni i} w_e F_e}{\sum_{e \ni i} w_e}

    Isolated nodes (zero weighted degree) get 0.

    Args:
        graph: Validated graph.
        edge_weight: Edge weights ``[M]``; ``None`` uses the graph's.
        validate: Check the weights are finite and ``>= 0``.

    Shapes:
        input ``[M, F]`` -> output ``[N, F]``.
    """

    def __init__(
        self, graph: Graph, edge_weight: Tensor | None = None, *, validate: bool = True
    ) -> None:
        """Build the operator; the arguments are documented on the class."""
        w, _, _ = _edge_weight(
            graph,
            edge_weight,
            "EdgeToNodeMean",
            allow_directed=False,
            validate=validate,
        )
        deg = graph.degree(w)
        inv = torch.where(
            deg > 0,
            1.0 / torch.where(deg > 0, deg, torch.ones_like(deg)),
            torch.zeros_like(deg),
        )
        i, j = graph.edge_index
        pt, order = _incidence_t_pattern(graph)
        super().__init__(
            graph,
            pt,
            torch.cat([w * inv[i], w * inv[j]])[order],
            domain="edge",
            codomain="node",
            symmetric=False,
            edge_measure=w,
            name="EdgeToNodeMean",
        )
