r"""Preconditioned conjugate gradients on ``[N, F]`` blocks; implicit-diff gradients.

:class:`CG` solves ``A X = B`` for a symmetric positive definite ``A`` given matrix
free (a :class:`~graphops.operators.GraphOperator` or a callable), with ``X`` and
``B`` of shape ``[N, F]``: all ``F`` feature columns are solved at once.

**What "block" means here.** The ``F`` columns are ``F`` *independent* CG
recurrences, vectorised: one sparse product ``A P`` on the ``[N, F]`` block per
iteration, but per-column step lengths ``alpha_k``, ``beta_k`` and a per-column
stopping test. A column that has converged (or failed) is *frozen*: its step length
is set to zero, so its iterate, residual and iteration count no longer change,
while the other columns go on. Each column therefore reproduces the single-vector
preconditioned CG of Hestenes & Stiefel (1952) / Saad (2003, Alg. 9.1) exactly (up
to round-off), which is what ``scipy.sparse.linalg.cg`` runs. This is *not*
O'Leary's block CG with a shared Krylov space.

**Stopping rule** (scipy's, per column ``k``; ``r_k`` is the recursively updated
residual, as in scipy):

.. math:: \|b_k - A x_k\|_2 \le \max(\mathrm{rtol}\,\|b_k\|_2,\ \mathrm{atol})

A column with ``b_k = 0`` returns ``x_k = 0`` after 0 iterations (as scipy).

**Failures are values, not exceptions.** Non-convergence within ``max_iters``,
non-positive curvature ``p^T A p <= 0`` of an active column (the operator is not
positive definite), a non-finite residual, or a non-positive diagonal for the Jacobi
preconditioner end the solve with ``CGResult.success = False`` and a full message;
implicit solvers turn that into ``Status.LINEAR_SOLVE_FAILED``. Only bad *input*
(shapes, types, a non-symmetric operator) raises.

**Host syncs.** The per-column freezing is done with device-side masks; the only
host synchronisation in the iteration is one small reduction every ``check_every``
iterations to decide whether to stop (plus at most two per solve: the Jacobi
diagonal check, and whether a graph operator stores its whole diagonal so that the
shift can be fused into its values).

**Cache blocking (CPU).** When the ``[N, F]`` iteration vectors exceed 4 MiB, the
columns are processed in cache-sized chunks (a power of two of columns) one after
another; since the columns are independent recurrences this changes neither the
results nor the per-column iteration counts, only the speed of the memory-bound
sparse product on large graphs.

**Gradients** use implicit differentiation, never unrolling: with
``X = A(\theta)^{-1} B`` and a cotangent ``\bar X``, the backward pass solves the
adjoint system ``A^T G = \bar X`` (``A^T = A``) with the same CG settings and
returns

.. math::

    \bar B = G, \qquad
    \bar\theta = -\Big(\frac{\partial (A X)}{\partial \theta}\Big)^T G

the latter as **one** vector-Jacobian product of the matvec at the (detached)
solution: ``torch.autograd.grad(A(X), params, grad_outputs=-G)``. For a graph
operator the parameters are its ``nnz`` values, so the gradient reaches learned
edge weights through the usual autograd graph; the memory cost is independent of
the number of CG iterations.

**Why this lives in graphops, not solvers.** CG is linear algebra on graph
operators: it needs an operator's diagonal, its cached CSR tensor and its
differentiable values (the :class:`~graphops.operators.GraphOperator` protocol)
and the kernel of :mod:`graphops.spmm`, and nothing of time stepping (no term,
step, state or controller). Placing it next to the operators keeps the layering
one-way (``solvers.implicit`` imports it downward, as it imports the operators),
lets other graph code (spectral methods, preconditioned smoothers, a model's
own linear solve) use it without importing the ODE package, and keeps the CSR fast
path in one place: CG applies ``shift I + scale A`` through
:meth:`~graphops.operators.GraphOperator.shifted` and ``matmul(x, out=...)``
instead of building its own sparse tensors. Its outcome is therefore its own
value (:class:`CGResult` with ``success``, ``reason`` and ``message``), not a
solver status; implicit solvers map a failure to ``Status.LINEAR_SOLVE_FAILED``.
``solvers`` re-exports :class:`CG`, :func:`cg_solve` and :class:`CGResult`.

References:
    Hestenes & Stiefel (1952); Saad (2003), *Iterative Methods for Sparse Linear
    Systems*, 2nd ed., Alg. 9.1 (preconditioned CG).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from graphops._checks import check_int, check_real, is_real_number
from graphops.operators import GraphOperator, _affine

__all__ = ["CG", "CGResult", "cg_solve"]

Preconditioner = Literal["jacobi"] | None
_PRECONDITIONERS = ("jacobi", None)

# Per-column status codes (device-side int8 tensor).
_ACTIVE, _CONVERGED, _BREAKDOWN, _NONFINITE = 0, 1, 2, 3

Matvec = Callable[[Tensor], Tensor]
Reduce = Callable[[Tensor], Tensor]


def _reducer(A: object) -> Reduce | None:
    """``A.allreduce`` for a distributed operator, else ``None``.

    Distributed means it overrides the identity of ``GraphOperator.allreduce``.
    """
    if isinstance(A, GraphOperator) and (
        type(A).allreduce is not GraphOperator.allreduce
    ):
        return A.allreduce
    return None


# ---------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class CGResult:
    """Outcome of :meth:`CG.solve`.

    Attributes:
        x: Solution ``[N, F]`` (the last iterate on failure); differentiable w.r.t.
            ``B`` and the operator's parameters (implicit differentiation).
        success: Every column converged.
        reason: ``"converged"``, ``"max_iters"``, ``"breakdown"`` (non-positive
            curvature), ``"nonfinite"`` or ``"preconditioner"`` (non-positive
            diagonal for Jacobi).
        message: Empty on success; otherwise what failed, where and a likely fix.
        num_iters: Block iterations performed (each is one block matvec ``A P``).
        num_matvecs: Block matvecs in all: ``num_iters`` plus one for the initial
            residual when ``x0`` is given.
        iterations: ``[F]`` int64, iterations each column was active (as scipy
            would count them for that column alone).
        converged: ``[F]`` bool, per-column convergence.
        residual: ``[F]`` final relative residual ``||r_k|| / ||b_k||`` of the
            recursive residual (``0`` for ``b_k = 0``).
    """

    x: Tensor
    success: bool
    reason: str
    message: str
    num_iters: int
    num_matvecs: int
    iterations: Tensor
    converged: Tensor
    residual: Tensor

    def __repr__(self) -> str:
        """The outcome; each name is an attribute (or an expression of one)."""
        res = f"{float(self.residual.max()):.2e}" if self.residual.numel() else "n/a"
        return (
            f"CGResult(success={self.success}, reason={self.reason!r}, "
            f"num_iters={self.num_iters}, num_matvecs={self.num_matvecs}, "
            f"x.shape={tuple(self.x.shape)}, residual.max()={res})"
        )


@dataclass
class _Raw:
    """Internal result of the iteration (device tensors, no host syncs)."""

    x: Tensor
    code: int  # the last host-synced summary: 0 all done, 1 some active, >= 2 failure
    num_iters: int
    num_matvecs: int
    status: Tensor
    iterations: Tensor
    rnorm: Tensor
    bnorm: Tensor
    tol: Tensor
    fail_iter: Tensor
    curvature: Tensor
    bad_diag: tuple[int, float] | None = None


# ---------------------------------------------------------------------------------
# The solver value
# ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CG:
    r"""Jacobi-preconditioned conjugate gradients for SPD ``A X = B``, ``X`` ``[N, F]``.

    ``F`` independent, vectorised CG recurrences (per-column step lengths,
    converged columns frozen); see :mod:`graphops.linalg`. One iteration costs one
    sparse block product ``A P`` plus ``O(N F)`` vector work, and at most one
    host synchronisation every ``check_every`` iterations.

    With ``M = diag(A)`` (Jacobi) or ``M = I``, ``r_0 = b - A x_0`` and
    ``z_0 = p_0 = M^{-1} r_0``, each active column iterates (Saad 2003, Alg. 9.1):

    .. math::

        \alpha_j = \frac{r_j^T z_j}{p_j^T A p_j}, \quad
        x_{j+1} = x_j + \alpha_j p_j, \quad
        r_{j+1} = r_j - \alpha_j A p_j, \\
        z_{j+1} = M^{-1} r_{j+1}, \quad
        \beta_j = \frac{r_{j+1}^T z_{j+1}}{r_j^T z_j}, \quad
        p_{j+1} = z_{j+1} + \beta_j p_j,

    and column ``k`` stops (scipy's criterion, with the recursive residual) when

    .. math:: \|r_k\|_2 \le \max(\mathrm{rtol}\,\|b_k\|_2,\ \mathrm{atol}).

    ``p_j^T A p_j \le 0`` for an active column (non-zero residual) means ``A`` is
    not positive definite; the solve stops and reports it.

    Args:
        rtol: Relative tolerance (``>= 0``). Required: tolerances are a user
            decision. Implicit time steppers want it well below the time
            discretisation error (e.g. ``1e-10``).
        atol: Absolute tolerance on ``||r_k||`` (``>= 0``); ``rtol`` and ``atol``
            must not both be 0.
        max_iters: Iteration budget; ``None`` means ``10 * N`` (scipy's default).
        preconditioner: ``"jacobi"`` (the operator's diagonal; for
            ``I + theta dt L`` that is ``1 + theta dt diag(L)``) or ``None``.
        check_every: Test for termination (one host sync) every this many
            iterations. Per-column freezing happens on the device every
            iteration regardless, so results and per-column iteration counts do
            not depend on it; only up to ``check_every - 1`` idle block
            iterations may be spent after the last column converged.

    Raises:
        TypeError: a field has the wrong type.
        ValueError: a field is out of range.

    Example:
        >>> from graphops import Graph, Laplacian
        >>> g = Graph(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
        >>> b = torch.ones(3, 2, dtype=g.dtype)
        >>> res = CG(rtol=1e-10).solve(Laplacian(g), b, shift=1.0, scale=0.5)
        >>> res.success, torch.allclose(res.x, b)   # (I + 0.5 L) 1 = 1
        (True, True)

    References:
        Hestenes & Stiefel (1952); Saad (2003), Alg. 9.1.
    """

    rtol: float
    atol: float = 0.0
    max_iters: int | None = None
    preconditioner: Preconditioner = "jacobi"
    check_every: int = 1

    def __post_init__(self) -> None:  # noqa: D105
        for name in ("rtol", "atol"):
            fix = f"Pass e.g. {name}=1e-10."
            check_real("CG", name, getattr(self, name), low=0.0, fix=fix)
        if self.rtol == 0 and self.atol == 0:
            raise ValueError(
                "CG: `rtol` and `atol` are both 0, so the stopping rule ||b - Ax|| <= "
                "max(rtol*||b||, atol) can never be met in floating point; got "
                "rtol=0, atol=0. Pass rtol > 0 (e.g. 1e-10) or atol > 0."
            )
        if self.max_iters is not None:
            check_int(
                "CG", "max_iters", self.max_iters, low=1, fix="Or None for 10 * N."
            )
        check_int("CG", "check_every", self.check_every, low=1)
        if self.preconditioner not in _PRECONDITIONERS:
            raise ValueError(
                f"CG: `preconditioner` must be one of {_PRECONDITIONERS}; got "
                f"{self.preconditioner!r}. Use 'jacobi' (diagonal scaling) or None."
            )

    # -- public entry point --------------------------------------------------------
    def solve(
        self,
        A: GraphOperator | Matvec,
        B: Tensor,
        *,
        x0: Tensor | None = None,
        shift: float | Tensor = 0.0,
        scale: float | Tensor = 1.0,
        diagonal: Tensor | None = None,
        params: Sequence[Tensor] | None = None,
    ) -> CGResult:
        r"""Solve ``(shift I + scale A) X = B``, all columns at once.

        .. math:: (c\,I + s\,A)\,X = B, \qquad X, B \in \mathbb{R}^{N \times F}

        Args:
            A: A symmetric node-to-node :class:`~graphops.operators.GraphOperator`
                (``A.is_symmetric`` must be true), or a callable ``A(X) -> [N, F]``
                that applies a symmetric matrix to a block.
            B: Right-hand side ``[N, F]`` (floating).
            x0: Initial guess ``[N, F]`` (warm start); never modified; not
                differentiated through. ``None`` means zeros.
            shift: ``c`` above (a number or 0-d tensor; a tensor that requires grad
                gets a gradient).
            scale: ``s`` above (same rules as ``shift``). ``(c, s) = (1, theta dt)``
                is the matrix of a theta-method step ``I + theta dt L``.
            diagonal: ``[N]`` diagonal of ``A`` (before shift/scale) for the Jacobi
                preconditioner; required when ``A`` is a callable. For a graph
                operator it defaults to ``A.shifted(shift, scale).diagonal()``
                (the operator protocol); a given one takes precedence.
            params: Tensors a callable ``A`` depends on differentiably (e.g. a
                learned matrix); gradients reach them by one vector-Jacobian product
                of ``A`` in the backward pass. For a graph operator with ``nnz``
                values this is automatic (the values, hence the edge weights) and
                ``params`` must not be given. A callable that captures tensors
                requiring grad that are **not** listed here gets no gradient for
                them.

        Returns:
            :class:`CGResult`; ``result.x`` is differentiable w.r.t. ``B``,
            ``params`` (or the operator's values) and tensor ``shift``/``scale``.

        Raises:
            TypeError: ``A`` is neither a graph operator nor callable; ``B``/``x0``
                are not floating tensors.
            ValueError: wrong shapes/devices, a non-symmetric or non-square operator,
                Jacobi without a diagonal for a callable, or ``params`` for a graph
                operator whose values are tracked automatically.

        Shapes:
            ``B``, ``x0``, ``result.x``: ``[N, F]``; ``diagonal``: ``[N]``;
            ``result.iterations``, ``.converged``, ``.residual``: ``[F]``.
        """
        B = _check_block(B, "B")
        n = B.shape[0]
        if x0 is not None:
            x0 = _check_block(x0, "x0")
            if x0.shape != B.shape or x0.dtype != B.dtype or x0.device != B.device:
                raise ValueError(
                    "CG.solve: `x0` must match `B` in shape, dtype and device; got "
                    f"x0 {tuple(x0.shape)} {x0.dtype} on {x0.device} and B "
                    f"{tuple(B.shape)} {B.dtype} on {B.device}. Pass x0=None to start "
                    "from zeros."
                )
        shift = _check_scalar(shift, "shift")
        scale = _check_scalar(scale, "scale")
        matvec, fast, diag, param_list = self._operator_parts(
            A, B, n, shift, scale, diagonal, params
        )
        reduce = _reducer(A)
        inv_diag = None
        bad_diag = None
        if self.preconditioner == "jacobi":
            with torch.no_grad():
                diag = diag.detach().to(B.dtype)
                ok = torch.isfinite(diag) & (diag > 0)
                n_bad = int((~ok).sum()) if n > 0 else 0  # one host sync per solve
                if reduce is not None:  # every piece must take the same branch
                    n_bad = int(reduce(B.new_tensor([float(n_bad)]))[0])
                if n_bad:
                    i = int((~ok).nonzero()[0]) if bool((~ok).any()) else -1
                    bad_diag = (i, float(diag[i]) if i >= 0 else float("nan"))
                inv_diag = (1.0 / diag).unsqueeze(1)
        if bad_diag is not None:
            return self._result(self._bad_preconditioner(B, x0, bad_diag), B.shape[1])
        return _cg_with_implicit_grad(
            self, matvec, fast, B, x0, inv_diag, param_list, reduce
        )

    # -- helpers -------------------------------------------------------------------
    def _operator_parts(self, A, B, n, shift, scale, diagonal, params):
        """``(matvec, fast matvec, diagonal or None, params)`` of ``shift I + scale A``.

        ``matvec`` is differentiable in ``params`` (used once, for the VJP in the
        backward pass); the fast one is what the iterations call, without autograd.
        Graph operators are used only through their protocol: ``A.shifted`` gives
        ``shift I + scale A`` (on the built-in operators: the same cached pattern
        with the identity fused into the diagonal), whose ``diagonal()`` is the
        Jacobi preconditioner, whose ``values`` carry the gradient, and whose
        ``matmul(x, out=...)`` is the kernel's in-place CSR product.
        """
        if isinstance(A, GraphOperator):
            if A.domain != "node" or A.codomain != "node" or tuple(A.shape) != (n, n):
                raise ValueError(
                    f"CG.solve: `A` must be a node -> node operator of shape [N, N] = "
                    f"[{n}, {n}] matching `B` [{n}, F]; got {A!r}. Use a Laplacian "
                    "(plus a shift) on the same graph."
                )
            if not A.is_symmetric:
                raise ValueError(
                    f"CG.solve: CG needs a symmetric operator; got {A!r} with "
                    "is_symmetric=False (normalization='rw' or per-direction [2M] edge "
                    "weights such as raw attention). Symmetrise the weights "
                    "(normalization='sym', or one [M] weight per edge), or use an "
                    "explicit solver (RK4, Dopri5) for non-symmetric operators."
                )
            if A.device != B.device:
                raise ValueError(
                    f"CG.solve: `B` is on {B.device} but the operator is on "
                    f"{A.device}. Move the operator with A.to(device) (or the graph "
                    "with graph.to(device)), or B with B.to(device)."
                )
            if A.values is not None and params:
                raise ValueError(
                    f"CG.solve: `params` is for callables (and matrix-free graph "
                    f"operators); the values of {A!r} are tracked automatically, so "
                    "gradients reach its edge weights. Drop `params`."
                )
            op = A if A.dtype == B.dtype else A.to(dtype=B.dtype)
            shifted = op.shifted(shift, scale)
            if self.preconditioner == "jacobi":
                if diagonal is None:
                    diag = shifted.diagonal().detach()
                else:
                    diag = _check_diagonal(diagonal, n, B, shift, scale)
            else:
                diag = None
            fused = shifted.values
            if fused is not None:
                # On one pattern: the gradient is the VJP w.r.t. the fused values,
                # which carry shift, scale and the edge weights.
                plist = [fused] if fused.requires_grad else []
                return shifted.matmul, _buffered(shifted), diag, plist
            plist = list(params) if params is not None else []
            if op.values is not None and op.values.requires_grad:
                plist.append(op.values)
            return shifted.matmul, shifted.matmul, diag, _with_scalars(
                plist, shift, scale
            )
        if not callable(A):
            raise TypeError(
                f"CG.solve: `A` must be a GraphOperator or a callable X -> A @ X; got "
                f"{type(A).__name__}. Build e.g. Laplacian(graph)."
            )
        fn = A

        def matvec(x: Tensor) -> Tensor:
            return _affine(fn(x), x, shift, scale)

        diag = None
        if self.preconditioner == "jacobi":
            if diagonal is None:
                raise ValueError(
                    "CG.solve: the Jacobi preconditioner needs `diagonal=` ([N], "
                    "the diagonal of A) when `A` is a callable; got diagonal=None. "
                    "Pass it, or use CG(..., preconditioner=None)."
                )
            diag = _check_diagonal(diagonal, n, B, shift, scale)
        plist = list(params) if params is not None else []
        return matvec, matvec, diag, _with_scalars(plist, shift, scale)

    def _bad_preconditioner(
        self, B: Tensor, x0: Tensor | None, bad: tuple[int, float]
    ) -> _Raw:
        f = B.shape[1]
        z = B.new_zeros(f)
        x = (
            x0.detach().clone() if x0 is not None else torch.zeros_like(B)
        ).requires_grad_(False)
        return _Raw(
            x=x,
            code=4,
            num_iters=0,
            num_matvecs=0,
            status=torch.full((f,), _ACTIVE, dtype=torch.int8, device=B.device),
            iterations=torch.zeros(f, dtype=torch.int64, device=B.device),
            rnorm=z,
            bnorm=z,
            tol=z,
            fail_iter=torch.zeros(f, dtype=torch.int64, device=B.device),
            curvature=z,
            bad_diag=bad,
        )

    def _result(self, raw: _Raw, f: int, x: Tensor | None = None) -> CGResult:
        """Build the public result; host syncs happen only on the failure path."""
        x = raw.x if x is None else x
        bsafe = torch.where(raw.bnorm > 0, raw.bnorm, torch.ones_like(raw.bnorm))
        rel = torch.where(raw.bnorm > 0, raw.rnorm / bsafe, raw.rnorm)
        converged = raw.status == _CONVERGED
        common = dict(
            x=x,
            num_iters=raw.num_iters,
            num_matvecs=raw.num_matvecs,
            iterations=raw.iterations,
            converged=converged,
            residual=rel,
        )
        if raw.code == 0:
            return CGResult(success=True, reason="converged", message="", **common)
        reason, message = self._diagnose(raw, rel, f)
        return CGResult(success=False, reason=reason, message=message, **common)

    def _diagnose(self, raw: _Raw, rel: Tensor, f: int) -> tuple[str, str]:
        if raw.bad_diag is not None:
            i, v = raw.bad_diag
            return "preconditioner", (
                "CG: the Jacobi preconditioner needs a positive diagonal; got "
                f"diag(A)[{i}]={v:.3g}. The operator is not positive definite "
                "(negative edge weights or a negative shift?); fix the operator, or "
                "pass preconditioner=None to see where CG fails."
            )
        status = raw.status.cpu()
        if bool((status == _BREAKDOWN).any()):
            k = int((status == _BREAKDOWN).nonzero()[0])
            return "breakdown", (
                "CG found non-positive curvature "
                f"pᵀAp={float(raw.curvature[k]):.2e} at iteration "
                f"{int(raw.fail_iter[k])} (column {k} of {f}): the operator "
                "is not positive definite. Implicit solvers need A symmetric positive "
                "semi-definite (check for negative edge weights or a negative shift); "
                "use an explicit solver (RK4, Dopri5) for indefinite operators."
            )
        if bool((status == _NONFINITE).any()):
            k = int((status == _NONFINITE).nonzero()[0])
            return "nonfinite", (
                "CG produced a non-finite residual at iteration "
                f"{int(raw.fail_iter[k])} (column {k} of {f}). The right-hand side, "
                "`x0` or the operator contains NaN or inf; check the inputs (e.g. "
                "exploding learned edge weights)."
            )
        active = (status == _ACTIVE).nonzero().flatten()
        relc = rel.detach().cpu()
        k = int(active[relc[active].argmax()])
        n_conv = int((status == _CONVERGED).sum())
        if self.atol == 0:
            crit = f"relative residual {float(relc[k]):.1e} > rtol={self.rtol:g}"
        else:
            crit = (
                f"residual norm {float(raw.rnorm[k]):.1e} > max(rtol*||b||, atol)="
                f"{float(raw.tol[k]):.1e}, relative residual {float(relc[k]):.1e}"
            )
        hint = (
            'try preconditioner="jacobi"'
            if self.preconditioner is None
            else "increase `max_iters` or loosen `rtol`"
        )
        return "max_iters", (
            f"CG did not converge in {raw.num_iters} iterations ({crit} in column "
            f"{k}; {n_conv}/{f} columns converged). The operator may be "
            f"ill-conditioned or not SPD (negative edge weights?); {hint}."
        )


# ---------------------------------------------------------------------------------
# Functional form
# ---------------------------------------------------------------------------------
def cg_solve(
    A: GraphOperator | Matvec,
    B: Tensor,
    params: Sequence[Tensor] = (),
    *,
    solver: CG,
    x0: Tensor | None = None,
    diagonal: Tensor | None = None,
) -> CGResult:
    r"""Solve ``A X = B`` by CG, differentiable by implicit differentiation.

    Functional form of :meth:`CG.solve` for a matvec that depends on learned
    tensors: the forward solve runs without autograd; the backward pass solves
    ``A G = \bar X`` by CG and returns ``\bar B = G`` and
    ``\bar\theta = -(\partial(A X)/\partial\theta)^T G`` through one
    vector-Jacobian product of ``A`` at the detached solution.

    .. math:: X = A(\theta)^{-1} B

    Args:
        A: Symmetric graph operator, or a callable ``X -> A(theta) X`` that is
            differentiable in ``params``.
        B: Right-hand side ``[N, F]``.
        params: Tensors ``theta`` the callable depends on; gradients reach them
            (and everything upstream of them, e.g. edge weights). Not needed for
            graph operators, whose values are found automatically.
        solver: The :class:`CG` configuration (also used for the adjoint solve).
        x0: Initial guess (not modified, not differentiated).
        diagonal: ``[N]`` diagonal of ``A`` for the Jacobi preconditioner when
            ``A`` is a callable.

    Returns:
        :class:`CGResult`; ``.x`` carries the gradient.

    Raises:
        TypeError: ``solver`` is not a :class:`CG`.

    Example:
        >>> gen = torch.Generator().manual_seed(0)
        >>> Q = torch.randn(8, 8, generator=gen, dtype=torch.float64).requires_grad_()
        >>> b = torch.randn(8, 1, generator=gen, dtype=torch.float64)
        >>> mv = lambda X: X + Q @ (Q.T @ X)          # I + Q Q^T, SPD
        >>> res = cg_solve(mv, b, [Q], solver=CG(rtol=1e-12, preconditioner=None))
        >>> res.x.sum().backward()                    # Q.grad by one adjoint solve
        >>> Q.grad.shape
        torch.Size([8, 8])

    References:
        Hestenes & Stiefel (1952); Saad (2003).
    """
    if not isinstance(solver, CG):
        raise TypeError(
            f"cg_solve: `solver` must be a CG(...) value; got {type(solver).__name__}. "
            "Pass solver=CG(rtol=1e-10)."
        )
    return solver.solve(
        A,
        B,
        x0=x0,
        diagonal=diagonal,
        params=None if isinstance(A, GraphOperator) and not params else params,
    )


# ---------------------------------------------------------------------------------
# Implementation
# ---------------------------------------------------------------------------------
def _check_block(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        got = (
            f"tensor of dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        )
        raise TypeError(
            f"CG.solve: `{name}` must be a floating tensor [N, F]; got {got}."
        )
    if x.dim() != 2:
        raise ValueError(
            f"CG.solve: `{name}` must be 2-D [N, F] (a single right-hand side is "
            f"[N, 1]); got shape {tuple(x.shape)}. Use {name}.unsqueeze(-1)."
        )
    return x


def _check_scalar(v: object, name: str) -> float | Tensor:
    if isinstance(v, Tensor):
        if v.dim() != 0 or not v.is_floating_point():
            raise ValueError(
                f"CG.solve: `{name}` must be a number or a 0-d floating tensor; got a "
                f"tensor of shape {tuple(v.shape)} and dtype {v.dtype}."
            )
        return v
    if not is_real_number(v):
        raise TypeError(
            f"CG.solve: `{name}` must be a real number or a 0-d tensor; got "
            f"{type(v).__name__}."
        )
    return float(v)


def _detach(v: float | Tensor) -> float | Tensor:
    return v.detach() if isinstance(v, Tensor) else v


def _check_diagonal(
    diagonal: object, n: int, B: Tensor, shift: float | Tensor, scale: float | Tensor
) -> Tensor:
    """The user's ``diagonal`` of ``A``, checked, as that of ``shift I + scale A``."""
    if not isinstance(diagonal, Tensor) or diagonal.shape != (n,):
        got = (
            tuple(diagonal.shape)
            if isinstance(diagonal, Tensor)
            else type(diagonal).__name__
        )
        raise ValueError(
            f"CG.solve: `diagonal` must be a tensor of shape [N]=[{n}]; got {got}."
        )
    return diagonal.detach().to(B.dtype) * _detach(scale) + _detach(shift)


def _with_scalars(
    plist: list[Tensor], shift: float | Tensor, scale: float | Tensor
) -> list[Tensor]:
    """``plist`` (checked) plus tensor ``shift``/``scale`` that require grad."""
    for k, p in enumerate(plist):
        if not isinstance(p, Tensor):
            raise TypeError(
                f"CG.solve: `params` must hold tensors; got {type(p).__name__} at "
                f"position {k}."
            )
    for v in (shift, scale):
        if isinstance(v, Tensor) and v.requires_grad and not any(v is p for p in plist):
            plist.append(v)
    return plist


def _buffered(op: GraphOperator) -> Matvec:
    """``op``'s product into one reused output block, for the iterations.

    The kernel writes ``A P`` into the buffer in place (for the CSR backend with
    ``addmm(..., beta=0, out=)``, which skips ``torch.sparse.mm``'s zero-fill and
    copy: several times faster on CPU for ``[N, 64]`` blocks). The returned block
    is overwritten by the next call.
    """
    buf: list[Tensor] = []

    def matvec(x: Tensor) -> Tensor:
        if not buf or buf[0].shape != x.shape or buf[0].dtype != x.dtype:
            buf[:] = [x.new_empty(op.shape[0], x.shape[1])]
        return op.matmul(x, out=buf[0])

    return matvec


def _cg_with_implicit_grad(
    cfg: CG,
    matvec: Matvec,
    fast: Matvec,
    B: Tensor,
    x0: Tensor | None,
    inv_diag: Tensor | None,
    params: list[Tensor],
    reduce: Reduce | None = None,
) -> CGResult:
    f = B.shape[1]
    needs_grad = torch.is_grad_enabled() and (
        B.requires_grad or any(p.requires_grad for p in params)
    )
    if not needs_grad:
        with torch.no_grad():
            raw = _pcg_blocked(cfg, fast, B, x0, inv_diag, reduce)
        return cfg._result(raw, f)
    info: list[_Raw] = []
    x = _CGSolveFn.apply(
        B, cfg, (matvec, fast, reduce), x0, inv_diag, info, *params
    )
    return cfg._result(info[0], f, x=x)


class _CGSolveFn(torch.autograd.Function):
    """``X = A(params)^{-1} B`` with the adjoint-solve backward (no unrolling)."""

    @staticmethod
    def forward(ctx, B, cfg, matvecs, x0, inv_diag, info, *params):  # noqa: D102
        matvec, fast, reduce = matvecs
        raw = _pcg_blocked(cfg, fast, B, x0, inv_diag, reduce)
        info.append(raw)
        ctx.cfg, ctx.matvec, ctx.fast, ctx.inv_diag, ctx.params = (
            cfg,
            matvec,
            fast,
            inv_diag,
            params,
        )
        ctx.reduce = reduce
        ctx.save_for_backward(raw.x)
        return raw.x

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_x):  # noqa: D102
        (x,) = ctx.saved_tensors
        cfg: CG = ctx.cfg
        adj = _pcg_blocked(
            cfg, ctx.fast, grad_x.contiguous(), None, ctx.inv_diag, ctx.reduce
        )
        if adj.code != 0:
            _, msg = cfg._diagnose(adj, _relative(adj), grad_x.shape[1])
            raise RuntimeError(
                "CG backward: the adjoint solve A G = dL/dX failed, so the gradient "
                f"would be wrong. {msg}"
            )
        g = adj.x
        grad_b = g if ctx.needs_input_grad[0] else None
        n_fixed = 6
        wanted = [
            i for i, p in enumerate(ctx.params) if ctx.needs_input_grad[n_fixed + i]
        ]
        grads: list[Tensor | None] = [None] * len(ctx.params)
        if wanted:
            with torch.enable_grad():
                ax = ctx.matvec(x.detach())
                got = torch.autograd.grad(
                    ax,
                    [ctx.params[i] for i in wanted],
                    grad_outputs=-g,
                    allow_unused=True,
                )
            for i, gi in zip(wanted, got, strict=True):
                grads[i] = gi
        return (grad_b, None, None, None, None, None, *grads)


def _relative(raw: _Raw) -> Tensor:
    bsafe = torch.where(raw.bnorm > 0, raw.bnorm, torch.ones_like(raw.bnorm))
    return torch.where(raw.bnorm > 0, raw.rnorm / bsafe, raw.rnorm)


def _coldot(a: Tensor, b: Tensor, tmp: Tensor) -> Tensor:
    """Column-wise dot products ``[F]`` of two ``[N, F]`` blocks (``tmp``: scratch)."""
    return torch.mul(a, b, out=tmp).sum(0)


def _residual_dots(
    r: Tensor, weights: Tensor | None, tmp: Tensor, reduce: Reduce | None = None
) -> tuple[Tensor, Tensor]:
    """``(||r_k||^2, r_k^T M^{-1} r_k)`` per column; ``weights = [1; diag(M)^-1]^T``.

    ``tmp`` is an ``[N, F]`` scratch block (no allocation per iteration);
    ``reduce`` sums the dot products over processes (distributed operators).
    """
    rsq = torch.mul(r, r, out=tmp)
    if weights is None:
        rr = rsq.sum(0)
        if reduce is not None:
            rr = reduce(rr)
        return rr, rr
    both = weights @ rsq  # [2, F]
    if reduce is not None:
        both = reduce(both)  # one reduction for both dot products
    return both[0], both[1]


# On CPU a block whose iteration vectors exceed this many bytes is solved in column
# chunks that stay cache resident (each chunk is the same independent per-column
# recurrence, so results and per-column counts are unchanged). Measured on a 2-core
# EPYC (32 MiB L3): N = 50 000, F = 64, the sparse product costs 0.64 ms/column as
# one block but 0.15 ms/column in chunks of 8 columns.
_CHUNK_BYTES = 4 * 2**20


def _chunk_width(b: Tensor) -> int:
    n, f = b.shape
    if b.device.type != "cpu" or f <= 1 or n * f * b.element_size() <= _CHUNK_BYTES:
        return f
    width = max(1, _CHUNK_BYTES // max(1, n * b.element_size()))
    return 1 << (width.bit_length() - 1)  # a power of two, <= the budget


def _pcg_blocked(
    cfg: CG,
    matvec: Matvec,
    B: Tensor,
    x0: Tensor | None,
    inv_diag: Tensor | None,
    reduce: Reduce | None = None,
) -> _Raw:
    """:func:`_pcg` on the whole block, or on cache-sized column chunks (CPU).

    A distributed solve (``reduce`` given) is never chunked: the chunk width
    depends on the local row count, which differs between the pieces.
    """
    width = _chunk_width(B)
    if reduce is not None or width >= B.shape[1]:
        return _pcg(cfg, matvec, B, x0, inv_diag, reduce)
    parts: list[_Raw] = []
    failed = False
    for k in range(0, B.shape[1], width):
        cols = slice(k, k + width)
        if failed:  # a failure ends the solve, as in one block
            b = B[:, cols]
            xk = torch.zeros_like(b) if x0 is None else x0[:, cols].detach().clone()
            parts.append(_unsolved(b, xk))
            continue
        parts.append(
            _pcg(
                cfg,
                matvec,
                B[:, cols].contiguous(),
                None if x0 is None else x0[:, cols].contiguous(),
                inv_diag,
            )
        )
        failed = parts[-1].code >= 2
    codes = [r.code for r in parts]
    code = max(codes) if max(codes) >= 2 else int(any(c == 1 for c in codes))
    cat = lambda name: torch.cat([getattr(r, name) for r in parts], dim=-1)  # noqa: E731
    return _Raw(
        x=cat("x"),
        code=code,
        num_iters=max(r.num_iters for r in parts),
        num_matvecs=max(r.num_matvecs for r in parts),
        status=cat("status"),
        iterations=cat("iterations"),
        rnorm=cat("rnorm"),
        bnorm=cat("bnorm"),
        tol=cat("tol"),
        fail_iter=cat("fail_iter"),
        curvature=cat("curvature"),
    )


def _unsolved(b: Tensor, x: Tensor) -> _Raw:
    """Columns left unsolved after an earlier chunk failed (not converged)."""
    f = b.shape[1]
    bnorm = torch.linalg.vector_norm(b, dim=0)
    return _Raw(
        x=x,
        code=1,
        num_iters=0,
        num_matvecs=0,
        status=torch.full((f,), _ACTIVE, dtype=torch.int8, device=b.device),
        iterations=torch.zeros(f, dtype=torch.int64, device=b.device),
        rnorm=bnorm.clone(),
        bnorm=bnorm,
        tol=bnorm.new_zeros(f),
        fail_iter=torch.zeros(f, dtype=torch.int64, device=b.device),
        curvature=bnorm.new_zeros(f),
    )


def _pcg(
    cfg: CG,
    matvec: Matvec,
    B: Tensor,
    x0: Tensor | None,
    inv_diag: Tensor | None,
    reduce: Reduce | None = None,
) -> _Raw:
    """The vectorised preconditioned CG iteration (runs without autograd).

    Per-column bookkeeping is device-side boolean masks (``active``, ``failed``);
    a frozen column gets ``alpha = beta = 0``, so its ``x`` is unchanged bit for bit.
    ``reduce`` (a distributed operator's ``allreduce``) sums the column dot
    products over the pieces, so every piece takes the same steps and branches.
    """
    n, f = B.shape
    dev = B.device
    B = B.detach()
    if reduce is None:
        bnorm = torch.linalg.vector_norm(B, dim=0)
    else:
        n = int(reduce(B.new_tensor([float(n)]))[0])
        bnorm = reduce((B * B).sum(0)).sqrt()
    max_iters = cfg.max_iters if cfg.max_iters is not None else 10 * n
    tol = torch.clamp(bnorm * cfg.rtol, min=cfg.atol)  # max(rtol ||b||, atol)
    zero_b = bnorm == 0
    num_matvecs = 0
    if x0 is None:
        x = torch.zeros_like(B)
        r = B.clone()
    else:
        # A column with b = 0 has the solution 0 (as scipy); never touch x0 itself.
        x = torch.where(zero_b, torch.zeros_like(B), x0.detach())
        r = B - matvec(x)
        num_matvecs = 1
    # ||r||^2 and r^T M^{-1} r in one pass: [1; diag(M)^{-1}]^T (r * r) (one GEMM).
    weights = (
        None
        if inv_diag is None
        else torch.cat([torch.ones_like(inv_diag), inv_diag], 1).T
    )
    # One scratch block for the products inside the dot products: an [N, F]
    # temporary per iteration would be allocated (and page-faulted) every time.
    tmp = torch.empty_like(B)
    rr, rz = _residual_dots(r, weights, tmp, reduce)
    rnorm = rr.sqrt()
    # NaN residuals stay active and are caught at the next check.
    active = ~(zero_b | (rnorm <= tol))
    failed = torch.zeros(f, dtype=torch.bool, device=dev)
    iterations = torch.zeros(f, dtype=torch.int64, device=dev)
    fail_iter = torch.zeros(f, dtype=torch.int64, device=dev)
    curvature = B.new_zeros(f)
    p = r.clone() if inv_diag is None else r * inv_diag  # p_0 = z_0 = M^{-1} r_0
    it = 0
    code = 1
    while True:
        if it % cfg.check_every == 0 or it == max_iters:
            # The one host sync: 0 = all converged, 1 = some active, >= 2 = a failure
            # (non-positive curvature seen, or a non-finite residual).
            nonfinite = active & ~torch.isfinite(rnorm)
            code = int(
                active.any().to(torch.int8)
                + 2 * (failed | nonfinite).any().to(torch.int8)
            )
            if code != 1:
                break
        if it == max_iters:
            break
        q = matvec(p)
        pq = _coldot(p, q, tmp) if reduce is None else reduce(_coldot(p, q, tmp))
        bad = active & ~(torch.isfinite(pq) & (pq > 0))
        curvature = torch.where(bad, pq, curvature)  # NaN/inf: reported non-finite
        fail_iter = torch.where(bad, it + 1, fail_iter)
        failed = failed | bad
        active = active & ~bad
        alpha = torch.where(active, rz / pq, 0.0)
        x.addcmul_(p, alpha)
        r.addcmul_(q, alpha, value=-1.0)
        iterations += active
        rr, rz_new = _residual_dots(r, weights, tmp, reduce)
        rnorm = torch.where(active, rr.sqrt(), rnorm)
        active = active & ~(rnorm <= tol)
        beta = torch.where(active, rz_new / rz, 0.0)
        rz = rz_new
        if inv_diag is None:
            torch.addcmul(r, p, beta, out=p)  # p = r + beta p, one pass
        else:
            p.mul_(beta).addcmul_(r, inv_diag)  # p = M^{-1} r + beta p, z not stored
        it += 1
        num_matvecs += 1
    nonfinite = active & ~torch.isfinite(rnorm)
    fail_iter = torch.where(nonfinite, iterations, fail_iter)
    curvature = torch.where(nonfinite, torch.nan, curvature)
    failed = failed | nonfinite
    status = torch.full((f,), _CONVERGED, dtype=torch.int8, device=dev)
    status = torch.where(active & ~failed, _ACTIVE, status)
    status = torch.where(
        failed, torch.where(torch.isfinite(curvature), _BREAKDOWN, _NONFINITE), status
    )
    return _Raw(
        x=x,
        code=code,
        num_iters=it,
        num_matvecs=num_matvecs,
        status=status,
        iterations=iterations,
        rnorm=rnorm,
        bnorm=bnorm,
        tol=tol,
        fail_iter=fail_iter,
        curvature=curvature,
    )
