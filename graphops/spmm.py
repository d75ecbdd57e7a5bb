"""The one fixed-pattern sparse kernel behind every graph operator.

A :class:`SparsePattern` is a CSR sparsity structure (row pointers, column ids, its
transpose and the permutation between the two) built **once per graph**. An operator
only supplies the ``nnz`` values, so applying it never rebuilds an index structure:

* forward: ``y = A x`` with torch's CSR SpMM (``torch.sparse.mm``);
* backward w.r.t. ``x``: ``A^T g``, the same SpMM on the cached transposed pattern;
* backward w.r.t. the values: ``dA_k = <g_{row_k}, x_{col_k}>``, an SDDMM
  (``torch.sparse.sampled_addmm``), instead of torch's generic sparse autograd
  (which is orders of magnitude slower, see ``benchmarks/README.md``);
* forward-mode (``torch.func.jvp``): ``dy = A(dv) x + A(v) dx``.

The SDDMM is also a differentiable kernel of its own (:func:`sddmm`,
``s_k = <a_{row_k}, b_{col_k}>`` on a fixed pattern), which attention scores use
instead of gathering both end points' rows for every entry; its derivatives are
SpMMs on the pattern and its transpose. :meth:`SparsePattern.block_diagonal`
stacks ``k`` copies of a pattern, so ``k`` attention heads are one call.

Backends: ``"csr"`` (default, the kernel above), ``"gather"`` (pure torch gather +
``index_add``, a reference) and ``"scatter"`` (``torch_scatter.scatter_add``, needs
the optional ``torch-scatter``). All give the same result up to round-off; pick one
per call (``op.matmul(x, backend=...)``) or globally (:func:`set_backend`,
:func:`use_backend`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "BACKENDS",
    "SIGNAL_DTYPES",
    "SparsePattern",
    "check_signal_dtype",
    "get_backend",
    "map_nested",
    "set_backend",
    "sddmm",
    "spmm",
    "use_backend",
]

# torch warns (once per process) that CSR support is "beta" when the first CSR tensor
# is built. The kernel is covered by our own tests (tests/graphops/test_spmm.py), so
# that notice is noise; it is silenced only around the calls that build CSR tensors
# (:func:`_csr_tensor`), never globally, so the user's own warning filters are intact.
_CSR_BETA = "Sparse CSR tensor support is in beta"

BACKENDS = ("csr", "gather", "scatter")
_backend = "csr"

# dtypes an operator can be applied to: the CPU CSR kernel has no half, bfloat16 or
# integer version, and the gather backend would silently compute an integer `x` in
# integer arithmetic (truncating the values), so those are refused up front.
SIGNAL_DTYPES = frozenset(
    {torch.float32, torch.float64, torch.complex64, torch.complex128}
)


def check_signal_dtype(where: str, x: Tensor, op_dtype: torch.dtype) -> None:
    """Refuse a signal ``x`` whose dtype no backend computes correctly.

    One attribute check, no reduction: what every operator application runs.

    Args:
        where: The operator's name for the message, e.g. ``"Laplacian()"``.
        x: The signal about to be multiplied.
        op_dtype: The operator's dtype, named in the suggested fix.

    Raises:
        TypeError: ``x.dtype`` is not float32/float64 (or complex64/complex128).

    Example:
        >>> check_signal_dtype("Laplacian()", torch.ones(3, 1), torch.float32)
    """
    if x.dtype not in SIGNAL_DTYPES:
        raise TypeError(
            f"{where}: `x` must be float32 or float64 (or complex); got dtype "
            f"{x.dtype}. Cast it first: op @ x.to(op.dtype) (here {op_dtype})."
        )


def _csr_tensor(
    crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]
) -> Tensor:
    """``torch.sparse_csr_tensor`` without torch's "beta" notice (and nothing else)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CSR_BETA, category=UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def _check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(
            f"graphops: `backend` must be one of {BACKENDS}; got {name!r}."
        )
    if name == "scatter":
        try:
            import torch_scatter  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "graphops: backend 'scatter' needs the optional torch-scatter package; "
                "it is not installed. `pip install graphpde[scatter]` or use 'csr'."
            ) from exc
    return name


def set_backend(name: str) -> None:
    """Select the default sparse backend: ``"csr"``, ``"gather"`` or ``"scatter"``."""
    global _backend
    _backend = _check_backend(name)


def get_backend() -> str:
    """The current default sparse backend."""
    return _backend


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager: use backend ``name`` inside the ``with`` block."""
    global _backend
    old = _backend
    _backend = _check_backend(name)
    try:
        yield
    finally:
        _backend = old


def map_nested(obj: Any, fn: Callable[[Tensor], Tensor], memo: dict[int, Any]) -> Any:
    """Apply ``fn`` to every tensor in ``obj``, keeping shared objects shared.

    Handles tensors, tuples (named ones too), lists, dicts, and any object with a
    ``map_tensors(fn, memo)`` method (:class:`SparsePattern`,
    :class:`~graphops.graph.Graph`, :class:`~graphops.operators.GraphOperator`);
    anything else is returned as is. ``memo`` maps ``id(original)`` to its copy,
    so an object reachable twice is copied once.

    Args:
        obj: What to map.
        fn: Tensor map, e.g. ``lambda t: t.to(device)``.
        memo: Copies made so far.

    Returns:
        ``obj`` with its tensors mapped (the same object where nothing changed).
    """
    if isinstance(obj, Tensor):
        if id(obj) not in memo:
            memo[id(obj)] = fn(obj)
        return memo[id(obj)]
    if not isinstance(obj, type) and callable(getattr(obj, "map_tensors", None)):
        return obj.map_tensors(fn, memo)
    if isinstance(obj, (tuple, list)):
        items = [map_nested(v, fn, memo) for v in obj]
        if all(a is b for a, b in zip(items, obj, strict=True)):
            return obj
        if isinstance(obj, list):
            return items
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        out = {k: map_nested(v, fn, memo) for k, v in obj.items()}
        return obj if all(out[k] is obj[k] for k in obj) else out
    return obj


class SparsePattern:
    """A fixed CSR sparsity pattern of an ``R x C`` matrix, with a lazy transpose.

    Built from COO entries by :meth:`from_coo`, which also returns the permutation
    from the caller's entry order to CSR order, so values are laid out with one
    gather. Patterns carry no values and hold no autograd state.
    """

    __slots__ = ("crow", "col", "row", "shape", "_t", "_diag")

    def __init__(self, crow: Tensor, col: Tensor, row: Tensor, shape: tuple[int, int]):
        """Wrap CSR arrays (``crow``, ``col``) plus the row of every entry."""
        self.crow, self.col, self.row, self.shape = crow, col, row, shape
        self._t: tuple[SparsePattern, Tensor] | None = None
        self._diag: tuple[Tensor, bool] | None = None

    @classmethod
    def from_coo(
        cls, row: Tensor, col: Tensor, shape: tuple[int, int]
    ) -> tuple[SparsePattern, Tensor]:
        """Pattern of unique entries ``(row[k], col[k])``, and the order of values.

        ``order`` is such that the CSR value at position ``p`` is the caller's entry
        ``order[p]``.

        Args:
            row: Row index of every entry ``[nnz]``.
            col: Column index of every entry ``[nnz]``.
            shape: ``(R, C)``.

        Returns:
            ``(pattern, order)``.
        """
        order = torch.argsort(row * shape[1] + col)
        r, c = row[order], col[order]
        counts = torch.bincount(r, minlength=shape[0])
        crow = torch.zeros(shape[0] + 1, dtype=torch.int64, device=row.device)
        crow[1:] = torch.cumsum(counts, 0)
        return cls(crow, c.contiguous(), r.contiguous(), shape), order

    @property
    def nnz(self) -> int:
        """Number of stored entries."""
        return int(self.col.numel())

    @property
    def transpose(self) -> tuple[SparsePattern, Tensor]:
        """``(pattern_T, perm)``: transposed pattern; ``values_T = values[perm]``."""
        if self._t is None:
            pt, perm = SparsePattern.from_coo(
                self.col, self.row, (self.shape[1], self.shape[0])
            )
            pt._t = (self, torch.argsort(perm))
            self._t = (pt, perm)
        return self._t

    @property
    def diagonal(self) -> tuple[Tensor, bool]:
        """``(on, full)``: mask of the stored diagonal entries; do all rows have one.

        Computed once; one host sync the first time.
        """
        if self._diag is None:
            on = self.row == self.col
            full = self.shape[0] == self.shape[1] and int(on.sum()) == self.shape[0]
            self._diag = (on, full)
        return self._diag

    def tensor(self, values: Tensor) -> Tensor:
        """A torch CSR tensor with this pattern and ``values`` (no copy of indices)."""
        return _csr_tensor(self.crow, self.col, values, self.shape)

    def map_tensors(
        self, fn: Callable[[Tensor], Tensor], memo: dict[int, Any] | None = None
    ) -> SparsePattern:
        """A copy with ``fn`` applied to every index tensor, cached ones included.

        The lazily built transpose (and its permutation) and the diagonal mask are
        carried along, so nothing is rebuilt on the new device. ``memo`` maps
        ``id(old object)`` to its copy, so a pattern shared by several operators
        (or by a graph's cache) is copied once.

        Args:
            fn: Tensor map, e.g. ``lambda t: t.to(device)``.
            memo: Shared copies made so far (``None``: a fresh one).

        Returns:
            The copy (``self`` if ``fn`` returned every tensor unchanged).
        """
        memo = {} if memo is None else memo
        if id(self) in memo:
            return memo[id(self)]
        crow, col, row = fn(self.crow), fn(self.col), fn(self.row)
        if crow is self.crow and col is self.col and row is self.row:
            memo[id(self)] = self
            return self
        new = SparsePattern(crow, col, row, self.shape)
        memo[id(self)] = new
        if self._diag is not None:
            new._diag = (fn(self._diag[0]), self._diag[1])
        if self._t is not None:
            pt, perm = self._t
            new._t = (pt.map_tensors(fn, memo), fn(perm))
        return new

    def to(self, device: torch.device | str) -> SparsePattern:
        """Copy to ``device`` (with the cached transpose and diagonal mask)."""
        return self.map_tensors(lambda t: t.to(device))

    def block_diagonal(self, k: int) -> SparsePattern:
        """The pattern of ``diag(A, A, ..., A)`` (``k`` copies), in CSR order.

        Entry ``p`` of copy ``c`` is at position ``c * nnz + p`` and joins row
        ``c * R + row_p`` to column ``c * C + col_p``, so values laid out as
        ``[k, nnz]`` (row-major) are the values of the block-diagonal matrix.

        Args:
            k: Number of copies (``>= 1``).

        Returns:
            A ``(k R) x (k C)`` pattern (``self`` when ``k == 1``).
        """
        if k == 1:
            return self
        r, c = self.shape
        nnz, dev = self.nnz, self.crow.device
        copy = torch.arange(k, device=dev).unsqueeze(1)
        crow = torch.cat(
            [(self.crow[:-1] + copy * nnz).reshape(-1), self.crow.new_tensor([k * nnz])]
        )
        col = (self.col + copy * c).reshape(-1)
        row = (self.row + copy * r).reshape(-1)
        return SparsePattern(crow, col, row, (k * r, k * c))


def _csr_mm(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    if pattern.nnz == 0:
        return x.new_zeros(pattern.shape[0], x.shape[1])
    return torch.sparse.mm(pattern.tensor(values), x)


def _sddmm(pattern: SparsePattern, a: Tensor, b: Tensor) -> Tensor:
    """``out_k = <a[row_k], b[col_k]>`` for every stored entry ``k``."""
    if pattern.nnz == 0:
        return a.new_zeros(0)
    s = torch.sparse.sampled_addmm(
        pattern.tensor(a.new_zeros(pattern.nnz)), a, b.transpose(0, 1), beta=0.0
    )
    return s.values()


def _product(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    """``A(values) @ x`` inside a backward pass.

    Through the differentiable Function when a graph is being built
    (``create_graph=True``); otherwise straight into a fresh buffer with
    ``addmm(beta=0)``, which skips ``torch.sparse.mm``'s zero-fill and copy.
    """
    if pattern.nnz == 0 or (
        torch.is_grad_enabled() and (values.requires_grad or x.requires_grad)
    ):
        return _SpMM.apply(values, x, pattern, None)
    out = x.new_empty(pattern.shape[0], x.shape[1])
    return torch.addmm(out, pattern.tensor(values), x, beta=0.0, out=out)


class _SDDMM(torch.autograd.Function):
    """``s_k = <a[row_k], b[col_k]>`` on a fixed pattern, with SpMM derivatives."""

    @staticmethod
    def forward(a: Tensor, b: Tensor, pattern: SparsePattern) -> Tensor:
        # A copy, not the CSR result's `values()` alias: a dense tensor whose base
        # is sparse breaks code that inspects `_base` (dynamo's resume after the
        # graph break of `sddmm` under torch.compile does).
        return _sddmm(pattern, a, b).clone()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: D102
        a, b, pattern = inputs
        ctx.pattern = pattern
        ctx.save_for_backward(a, b)
        ctx.save_for_forward(a, b)

    @staticmethod
    def backward(ctx, grad_s: Tensor):  # noqa: D102
        # d<a_r, b_c> = <da_r, b_c> + <a_r, db_c>: grad_a = G b, grad_b = G^T a,
        # with G the matrix of the pattern holding grad_s. Both are SpMMs through
        # the differentiable Function, so second derivatives exist too.
        a, b = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_a = _product(pattern, grad_s, b)
        if ctx.needs_input_grad[1]:
            pt, perm = pattern.transpose
            grad_b = _product(pt, grad_s[perm], a)
        return grad_a, grad_b, None

    @staticmethod
    def jvp(ctx, d_a: Tensor | None, d_b: Tensor | None, *_):  # noqa: D102
        # Forward mode runs under functorch wrappers, which CSR tensors do not
        # support: the same products with gathers.
        a, b = ctx.saved_tensors
        p: SparsePattern = ctx.pattern
        out = None
        if d_a is not None:
            out = (d_a.index_select(0, p.row) * b.index_select(0, p.col)).sum(-1)
        if d_b is not None:
            t = (a.index_select(0, p.row) * d_b.index_select(0, p.col)).sum(-1)
            out = t if out is None else out + t
        return out


@torch.compiler.disable
def sddmm(pattern: SparsePattern, a: Tensor, b: Tensor) -> Tensor:
    """Sampled dense-dense product ``s_k = <a[row_k], b[col_k]>``, differentiable.

    The entries of ``a @ b.T`` at the stored positions of ``pattern``, computed by
    ``torch.sparse.sampled_addmm`` without forming the dense product or gathering
    an ``[nnz, F]`` copy of either factor. Backward: ``grad_a = G b`` and
    ``grad_b = G^T a`` (SpMMs with the incoming gradient ``G`` as values on the
    pattern and its cached transpose); forward mode uses gathers. Under
    ``torch.compile`` it runs eagerly (a graph break; dynamo cannot trace an
    autograd Function with a custom ``jvp``).

    Args:
        pattern: ``R x C`` pattern.
        a: Dense ``[R, F]``.
        b: Dense ``[C, F]`` (same dtype and device as ``a``).

    Returns:
        ``[nnz]`` in CSR order.

    Raises:
        ValueError: ``a`` or ``b`` of the wrong shape, or different widths.

    Example:
        >>> p, order = SparsePattern.from_coo(
        ...     torch.tensor([0, 1]), torch.tensor([1, 0]), (2, 2))
        >>> a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> sddmm(p, a, a)   # <a_0, a_1> at (0, 1) and (1, 0)
        tensor([11., 11.])
    """
    r, c = pattern.shape
    for name, m, n in (("a", a, r), ("b", b, c)):
        if not isinstance(m, Tensor) or m.dim() != 2 or m.shape[0] != n:
            raise ValueError(
                f"sddmm: `{name}` must be a dense [{n}, F] tensor (one row per "
                f"{'row' if name == 'a' else 'column'} of the {r} x {c} pattern); "
                f"got {tuple(m.shape) if isinstance(m, Tensor) else type(m).__name__}."
            )
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"sddmm: `a` and `b` need the same width; got {a.shape[1]} and "
            f"{b.shape[1]}."
        )
    return _SDDMM.apply(a, b, pattern)


class _Prebuilt:
    """Holds an operator's cached CSR tensor.

    Passed to the autograd Function as a plain object, not a tensor argument,
    because functorch transforms try to wrap tensor arguments and CSR tensors
    cannot be wrapped.
    """

    __slots__ = ("csr",)

    def __init__(self, csr: Tensor) -> None:
        """Wrap the tensor."""
        self.csr = csr


class _SpMM(torch.autograd.Function):
    """``y = A(values) @ x`` on a fixed pattern with SpMM / SDDMM derivatives."""

    @staticmethod
    def forward(
        values: Tensor, x: Tensor, pattern: SparsePattern, prebuilt: _Prebuilt | None
    ) -> Tensor:
        if (
            prebuilt is not None
        ):  # built once by the operator: nothing constructed per call
            return torch.sparse.mm(prebuilt.csr, x)
        return _csr_mm(pattern, values, x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: D102
        values, x, pattern = inputs[:3]
        ctx.pattern = pattern
        ctx.save_for_backward(values, x)
        ctx.save_for_forward(values, x)

    @staticmethod
    def backward(ctx, grad_y: Tensor):  # noqa: D102
        values, x = ctx.saved_tensors
        pattern: SparsePattern = ctx.pattern
        grad_values = grad_x = None
        if ctx.needs_input_grad[1]:
            pt, perm = pattern.transpose
            grad_x = _SpMM.apply(values[perm], grad_y, pt, None)
        if ctx.needs_input_grad[0]:
            grad_values = _sddmm(pattern, grad_y, x)
        return grad_values, grad_x, None, None

    @staticmethod
    def jvp(ctx, d_values: Tensor | None, d_x: Tensor | None, *_):  # noqa: D102
        # Forward mode runs under functorch wrappers, which torch's CSR tensors do
        # not support; the gather form is the same product with dense ops.
        values, x = ctx.saved_tensors
        p: SparsePattern = ctx.pattern
        out = None
        if d_x is not None:
            out = _gather_mm(p, values, d_x)
        if d_values is not None:
            t = _gather_mm(p, d_values, x)
            out = t if out is None else out + t
        return out


def _gather_mm(pattern: SparsePattern, values: Tensor, x: Tensor) -> Tensor:
    msg = values.unsqueeze(1) * x.index_select(0, pattern.col)
    return x.new_zeros(pattern.shape[0], x.shape[1]).index_add(0, pattern.row, msg)


def spmm(
    pattern: SparsePattern,
    values: Tensor,
    x: Tensor,
    backend: str | None = None,
    csr: Tensor | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """``A @ x`` for the matrix with ``pattern`` and ``values``; differentiable in both.

    Args:
        pattern: Sparsity pattern (``R x C``).
        values: ``[nnz]`` values in CSR order.
        x: Dense ``[C, F]``.
        backend: ``None`` (the global default), ``"csr"``, ``"gather"`` or
            ``"scatter"``.
        csr: Optional prebuilt ``pattern.tensor(values.detach())`` (operators cache it),
            so applying an operator constructs nothing.
        out: Optional ``[R, F]`` buffer of ``x``'s dtype and device; the product is
            written into it and ``out`` is returned. With a prebuilt ``csr`` and
            nothing to differentiate it is computed in place by
            ``addmm(out, csr, x, beta=0)``, which skips ``torch.sparse.mm``'s
            zero-fill and copy (several times faster on CPU for ``[N, 64]``
            blocks; what CG's iterations use).

    Returns:
        Dense ``[R, F]`` (``out`` when given).
    """
    name = _backend if backend is None else _check_backend(backend)
    if name == "csr":
        if pattern.nnz == 0:
            y = x.new_zeros(pattern.shape[0], x.shape[1])
            return y if out is None else out.copy_(y)
        if csr is not None and not (
            torch.is_grad_enabled() and (values.requires_grad or x.requires_grad)
        ):
            # Nothing to differentiate: skip the autograd Function (its Python
            # dispatch costs ~40 us, a large share of a Cora-size product).
            # Functorch transforms (torch.func.jvp) wrap `x`, which CSR products
            # reject; the Function below handles those (and re-raises real errors).
            try:
                if out is None:
                    return torch.sparse.mm(csr, x)
                # beta=0: `out`'s old contents (even NaN) are ignored, not scaled.
                return torch.addmm(out, csr, x, beta=0.0, out=out)
            except RuntimeError:
                pass
        y = _SpMM.apply(values, x, pattern, None if csr is None else _Prebuilt(csr))
    elif name == "gather":
        y = _gather_mm(pattern, values, x)
    else:
        import torch_scatter

        msg = values.unsqueeze(1) * x.index_select(0, pattern.col)
        y = torch_scatter.scatter_add(
            msg, pattern.row, dim=0, dim_size=pattern.shape[0]
        )
    return y if out is None else out.copy_(y)
