r"""Spectral estimates and positional encodings.

:func:`lam_max` estimates the largest eigenvalue (for CFL bounds);
:func:`laplacian_eigenvectors` and :func:`random_walk_encoding` give node positional
and structural encodings.

``lam_max`` results are memoised in the operator's :attr:`~graphops.operators.
GraphOperator.cache`, so a solver that checks its step size against the stability
limit pays for the estimate once. Only the operator protocol is used (``matmul``,
``csr()``, ``to_scipy()``, ``shape``, ``dtype``, ``device``, ``cache``), so any
:class:`~graphops.operators.GraphOperator` works.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from graphops._checks import check_int, check_real
from graphops.graph import Graph
from graphops.operators import (
    _NORMALIZATIONS,
    Adjacency,
    GraphOperator,
    Laplacian,
    _check_normalization,
)

__all__ = ["lam_max", "laplacian_eigenvectors", "random_walk_encoding"]

_METHODS = ("lanczos", "power", "gershgorin")


def _distributed(op: GraphOperator) -> bool:
    """Whether ``op`` reduces over pieces (overrides ``GraphOperator.allreduce``)."""
    return type(op).allreduce is not GraphOperator.allreduce


def _norm(op: GraphOperator, v: Tensor) -> float:
    """``||v||_2`` over all pieces of ``op``'s rows."""
    if not _distributed(op):
        return float(v.norm())
    return float(op.allreduce(v.square().sum().reshape(1)).sqrt()[0])


def _gershgorin(op: GraphOperator) -> float:
    """``max_i sum_j |A_ij|``, on the operator's device when it has a CSR tensor."""
    if _distributed(op):
        local = _gershgorin_local(op)
        return float(op.allreduce(torch.tensor([local], dtype=torch.float64), "max")[0])
    return _gershgorin_local(op)


def _gershgorin_local(op: GraphOperator) -> float:
    """:func:`_gershgorin` on the rows this process holds."""
    csr = op.csr()
    if csr is None:
        a = op.to_scipy()
        return float(np.max(np.asarray(abs(a).sum(axis=1)).ravel(), initial=0.0))
    # row sums of |A| from the CSR arrays: one pass, one host sync
    crow, vals = csr.crow_indices(), csr.values().abs()
    row = torch.repeat_interleave(
        torch.arange(op.shape[0], device=vals.device), crow.diff()
    )
    rows = vals.new_zeros(op.shape[0]).index_add(0, row, vals)
    return float(rows.max()) if rows.numel() else 0.0


def _power(op: GraphOperator, iters: int, tol: float, seed: int) -> float:
    n = op.shape[1]
    g = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(n, 1, generator=g, dtype=torch.float64).to(op.device)
    v = v / _norm(op, v)
    lam = 0.0
    with torch.no_grad():
        for _ in range(iters):
            w = op.matmul(v.to(op.dtype)).to(torch.float64)
            new = _norm(op, w)
            if new == 0.0:
                return 0.0
            v = w / new
            if abs(new - lam) <= tol * new:
                return new
            lam = new
    return lam


def _lanczos(op: GraphOperator, iters: int, tol: float, seed: int) -> float:
    """Lanczos with full re-orthogonalisation; returns the top Ritz value."""
    n = op.shape[1]
    dist = _distributed(op)
    # the Krylov dimension is bounded by the global size, not this piece's rows
    total = int(op.allreduce(torch.tensor([float(n)]))[0]) if dist else n
    k = min(iters, total)
    g = torch.Generator(device="cpu").manual_seed(seed)
    q = torch.randn(n, 1, generator=g, dtype=torch.float64).to(op.device)
    q = q / _norm(op, q)
    basis = [q]
    alpha, beta = [], []
    prev = None
    with torch.no_grad():
        for m in range(k):
            w = op.matmul(basis[-1].to(op.dtype)).to(torch.float64)
            a = (w * basis[-1]).sum()
            a = float(op.allreduce(a.reshape(1))[0] if dist else a)
            alpha.append(a)
            qs = torch.cat(basis, dim=1)
            for _ in range(2):  # twice is enough (Kahan-Parlett)
                c = qs.T @ w
                w = w - qs @ (op.allreduce(c) if dist else c)
            b = _norm(op, w)
            if not (math.isfinite(a) and math.isfinite(b)):
                # NaN/inf operator values: eigvalsh would raise a LinAlgError
                return math.nan
            t = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
            top = float(np.linalg.eigvalsh(t)[-1])
            if (
                prev is not None
                and abs(top - prev) <= tol * max(abs(top), 1e-300)
                and m >= 4
            ):
                return top
            prev = top
            if b <= 1e-12 * max(abs(top), 1.0):
                return top
            beta.append(b)
            basis.append(w / b)
    return prev if prev is not None else 0.0


def lam_max(
    op: GraphOperator,
    *,
    method: Literal["lanczos", "power", "gershgorin"] = "lanczos",
    max_iters: int = 300,
    tol: float = 1e-10,
    seed: int = 0,
    cache: bool = True,
) -> float:
    """Largest eigenvalue of a node operator, cached on the operator.

    * ``"lanczos"`` (default, symmetric operators): Lanczos with full
      re-orthogonalisation until the top Ritz value changes by less than ``tol``
      (relative). Converges from below, typically to ~1e-10 in a few dozen products.
    * ``"power"``: power iteration on ``|lambda|_max`` (for non-symmetric but
      diagonalisable operators such as the ``"rw"`` Laplacian); slower.
    * ``"gershgorin"``: a guaranteed upper bound ``max_i sum_j |A_ij|`` (``2 d_max``
      for ``D - W``, ``2`` for ``"sym"``), free and safe for CFL bounds.

    Args:
        op: A node-to-node :class:`~graphops.operators.GraphOperator`.
        method: ``"lanczos"``, ``"power"`` or ``"gershgorin"``.
        max_iters: Iteration cap for the iterative methods.
        tol: Relative stopping tolerance.
        seed: Seed of the random start vector.
        cache: Store/reuse the result in ``op.cache``.

    Returns:
        The estimate as a Python float.

    Raises:
        TypeError: ``max_iters``/``seed`` are not ints or ``tol`` not a number.
        ValueError: unknown method, a non-node operator, Lanczos on a
            non-symmetric operator, ``max_iters``/``tol``/``seed`` out of range, or
            an operator with non-finite (NaN/inf) values.
    """
    if method not in _METHODS:
        raise ValueError(
            f"lam_max: `method` must be one of {_METHODS}; got {method!r}. Use "
            "'lanczos' for symmetric operators, 'power' or 'gershgorin' otherwise."
        )
    max_iters = check_int("lam_max", "max_iters", max_iters, low=1)
    tol = check_real("lam_max", "tol", tol, low=0.0, low_open=True)
    seed = check_int("lam_max", "seed", seed, low=0)
    if (
        not isinstance(op, GraphOperator)
        or op.domain != "node"
        or op.codomain != "node"
    ):
        raise ValueError(
            f"lam_max: needs a node -> node GraphOperator; got {op!r}. Build e.g. "
            "Laplacian(graph)."
        )
    if method == "lanczos" and not op.is_symmetric:
        raise ValueError(
            f"lam_max: method='lanczos' needs a symmetric operator; got {op!r}. "
            "Use method='power' or method='gershgorin'."
        )
    key = ("lam_max", method, max_iters, tol, seed)
    store = op.cache
    if cache and key in store:
        return store[key]
    if op.shape[0] == 0:
        val = 0.0
    elif method == "gershgorin":
        val = _gershgorin(op)
    elif method == "power":
        val = _power(op, max_iters, tol, seed)
    else:
        val = _lanczos(op, max_iters, tol, seed)
    if not math.isfinite(val):
        raise ValueError(
            f"lam_max: the operator must have finite values; got a non-finite "
            f"estimate ({val}) from {op!r} (NaN/inf entries, e.g. from "
            "validate=False with non-finite weights). Check "
            "torch.isfinite(op.values).all() and fix the weights."
        )
    if cache:
        store[key] = val
    return val


def laplacian_eigenvectors(
    graph: Graph,
    k: int,
    *,
    normalization: Literal["sym", "rw", "gcn"] | None = "sym",
    drop_first: bool = True,
) -> tuple[Tensor, Tensor]:
    """The ``k`` smallest Laplacian eigenpairs, e.g. for positional encodings.

    Dense ``eigh`` for ``N <= 2000``, else scipy ``eigsh`` in shift-invert mode.
    Signs are fixed so each vector's largest-magnitude entry is positive (eigenvectors
    are otherwise defined up to sign).

    **Sign-flip (and basis) caveat for positional encodings.** An eigenvector ``v``
    and ``-v`` are equally valid, and for a repeated eigenvalue (a cycle, a grid,
    any graph with symmetries) every orthonormal basis of the eigenspace is. The
    sign rule above is a convention, not a canonical choice: it breaks when the
    two largest-magnitude entries are (nearly) tied, so a small change of the graph
    can flip a vector, and the basis of a repeated eigenvalue is whatever the
    eigensolver returns. A model that reads these vectors as node features can
    therefore learn an arbitrary sign or rotation and fail to transfer across
    graphs. Remedies: flip the signs at random in every training step (Dwivedi et
    al. 2020, "Benchmarking graph neural networks"), use a sign-invariant network
    ``f(v) + f(-v)`` (SignNet/BasisNet, Lim et al. 2023), or use an encoding with
    no such ambiguity, such as :func:`random_walk_encoding` (diagonals of
    random-walk powers; invariant to node relabelling, though less expressive).

    Args:
        graph: The graph.
        k: Number of eigenpairs (after dropping the first if ``drop_first``).
        normalization: Laplacian normalisation (``"rw"`` is treated as ``"sym"``,
            which has the same spectrum).
        drop_first: Skip the trivial smallest eigenpair (constant / ``sqrt(d)``).

    Returns:
        ``(eigenvalues [k], eigenvectors [N, k])`` in the graph's dtype and device.

    Raises:
        TypeError: ``k`` is not an int.
        ValueError: ``k`` is out of range, or an unknown ``normalization``.
    """
    n = graph.num_nodes
    k = check_int(
        "laplacian_eigenvectors",
        "k",
        k,
        low=1,
        high=n - (1 if drop_first else 0),
        fix="Ask for at most N eigenpairs, N - 1 with drop_first=True.",
    )
    total = k + (1 if drop_first else 0)
    _check_normalization("laplacian_eigenvectors", normalization, _NORMALIZATIONS)
    norm = "sym" if normalization == "rw" else normalization
    op = Laplacian(graph, norm)
    if n <= 2000 or total >= n - 1:
        evals, evecs = np.linalg.eigh(
            op.to_dense().detach().cpu().to(torch.float64).numpy()
        )
        evals, evecs = evals[:total], evecs[:, :total]
    else:
        from scipy.sparse.linalg import eigsh

        evals, evecs = eigsh(op.to_scipy(), k=total, sigma=-1e-3, which="LM")
        order = np.argsort(evals)
        evals, evecs = evals[order], evecs[:, order]
    if drop_first:
        evals, evecs = evals[1:], evecs[:, 1:]
    idx = np.abs(evecs).argmax(axis=0)
    signs = np.sign(evecs[idx, np.arange(evecs.shape[1])])
    evecs = evecs * np.where(signs == 0, 1.0, signs)
    to = dict(dtype=graph.dtype, device=graph.device)
    return torch.as_tensor(evals.copy(), **to), torch.as_tensor(evecs.copy(), **to)


def random_walk_encoding(graph: Graph, k: int, *, block_size: int = 1024) -> Tensor:
    r"""Random-walk structural encoding: return probabilities of 1..k-step walks.

    With the random-walk matrix ``P = D^{-1} W``, node ``i`` gets

    .. math:: \mathrm{RWSE}(i) = \big(P_{ii}, (P^2)_{ii}, \dots, (P^k)_{ii}\big)

    the probability that a random walk from ``i`` is back at ``i`` after ``s`` steps
    (Dwivedi, Luu, Laurent, Bengio & Bresson 2022, "Graph neural networks with
    learnable structural and positional representations"; GraphGPS's RWSE). Unlike
    Laplacian eigenvectors it has no sign or basis ambiguity (see
    :func:`laplacian_eigenvectors`). Since ``P = D^{-1/2} S D^{1/2}`` with ``S =
    D^{-1/2} W D^{-1/2}``, ``(P^s)_{ii} = (S^s)_{ii}``: the diagonals are computed by
    applying ``S`` (``Adjacency(graph, "sym")``, the one sparse kernel) ``k`` times
    to blocks of ``block_size`` unit vectors, ``O(k \cdot nnz \cdot N)`` work and
    ``O(N \cdot block\_size)`` memory, never forming ``P^s``. Weights are used;
    isolated nodes get zeros.

    Args:
        graph: The graph.
        k: Number of walk lengths (``>= 1``).
        block_size: Unit vectors per block.

    Returns:
        ``[N, k]`` tensor (column ``s - 1`` holds ``diag(P^s)``) in the graph's
        dtype and on its device.

    Raises:
        TypeError: ``graph`` is not a Graph, or ``k``/``block_size`` not ints.
        ValueError: ``k`` or ``block_size`` below 1.

    Example:
        >>> from graphops.datasets import cycle_graph
        >>> rwse = random_walk_encoding(cycle_graph(6), 4)   # 0, 1/2, 0, 3/8
        >>> [round(v, 6) for v in rwse[0].tolist()]
        [0.0, 0.5, 0.0, 0.375]
    """
    if not isinstance(graph, Graph):
        raise TypeError(
            "random_walk_encoding: `graph` must be a graphops.Graph; got "
            f"{type(graph).__name__}."
        )
    k = check_int("random_walk_encoding", "k", k, low=1)
    block_size = check_int("random_walk_encoding", "block_size", block_size, low=1)
    n = graph.num_nodes
    g64 = graph.to(dtype=torch.float64)
    op = Adjacency(g64, "sym")
    out = torch.zeros(n, k, dtype=torch.float64, device=graph.device)
    with torch.no_grad():
        for c0 in range(0, n, block_size):
            c1 = min(c0 + block_size, n)
            rows = torch.arange(c0, c1, device=graph.device)
            cols = torch.arange(c1 - c0, device=graph.device)
            x = torch.zeros(n, c1 - c0, dtype=torch.float64, device=graph.device)
            x[rows, cols] = 1.0
            for s in range(k):
                x = op @ x
                out[c0:c1, s] = x[rows, cols]
    return out.to(graph.dtype)
