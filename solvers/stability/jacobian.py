"""Jacobian spectrum of a (learned, nonlinear) right-hand side, and step-size advice.

:func:`jacobian_eigenvalue` finds the dominant eigenvalue of ``df/dy`` at a state
from Jacobian-vector products; :func:`recommend_dt` turns it (or ``lam_max`` of a
linear term's operator) into a step size through the solver's linear-stability
description.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from graphops.operators import GraphOperator
from graphops.spectral import lam_max as _lam_max
from solvers._checks import check_int, check_real
from solvers.linear_stability import (
    LinearStability,
    Multistep,
    OneStep,
    Oscillator,
    Unconditional,
)
from solvers.stability.analysis import (
    _describe,
    _name,
    _ray_stability_bound,
    imag_axis_bound,
)
from solvers.terms import LinearTerm, SecondOrderTerm, Term

__all__ = [
    "DominantEigenvalue",
    "RitzValues",
    "jacobian_eigenvalue",
    "jacobian_lam_max",
    "jacobian_spectrum",
    "recommend_dt",
    "stable_step",
]


@dataclass(frozen=True)
class DominantEigenvalue:
    """Result of :func:`jacobian_eigenvalue`.

    Attributes:
        lam: The dominant (largest-modulus) eigenvalue of ``df/dy`` (complex).
        lam_abs: ``|lam|``; compare ``solver.max_stable_dt(lam_abs)`` with your ``dt``.
        real: ``Re lam``: ``< 0`` a damped mode (heat flow: ``-lambda_max``), ``> 0`` a
            mode the ODE itself amplifies, ``~0`` with ``imag != 0`` an oscillation.
        imag: ``Im lam`` (``>= 0`` is reported for a conjugate pair).
        residual: ``||J u - lam u|| / (|lam| ||u||)`` of the Ritz pair.
        iterations: Number of Jacobian-vector products used.
        converged: Whether ``residual <= tol``.
        vector: The real part of the eigenvector estimate, with the structure of ``y``
            (e.g. the worst mode for a CFL test).
    """

    lam: complex
    lam_abs: float
    real: float
    imag: float
    residual: float
    iterations: int
    converged: bool
    vector: Any = field(default=None, repr=False, compare=False)


def _flatten(y: Any, where: str) -> tuple[Tensor, Callable[[Tensor], Any]]:
    """Flatten a tensor or tuple state to 1-D, with the inverse map."""
    leaves = list(y) if isinstance(y, tuple) else [y]
    if not leaves or not all(
        isinstance(v, Tensor) and v.is_floating_point() for v in leaves
    ):
        got = (
            type(y).__name__
            if not isinstance(y, tuple)
            else f"tuple of {[type(v).__name__ for v in y]}"
        )
        raise TypeError(
            f"{where}: `y` must be a floating tensor or a tuple of them; got {got}."
        )
    shapes = [v.shape for v in leaves]
    sizes = [v.numel() for v in leaves]
    flat = torch.cat([v.detach().reshape(-1) for v in leaves])

    def unflatten(u: Tensor) -> Any:
        parts = [
            p.reshape(s) for p, s in zip(torch.split(u, sizes), shapes, strict=True)
        ]
        return tuple(parts) if isinstance(y, tuple) else parts[0]

    return flat, unflatten


def _check_term(where: str, term: Any) -> None:
    if not callable(term):
        raise TypeError(
            f"{where}: `term` must be a Term or a callable f(t, y, args); got "
            f"{type(term).__name__}."
        )


def _linearisation(
    where: str, term: Callable, y: Any, t: float, args: Any
) -> tuple[Tensor, Callable, Callable, Callable]:
    """``(y_flat, unflatten, f_flat, jvp)`` of ``f(y) = term(t, y, args)`` at ``y``.

    ``jvp(v)`` returns ``(f(y), J v)`` (``J v`` in float64) by forward mode, under
    ``no_grad`` (no autograd graph for the parameters).
    """
    y_flat, unflatten = _flatten(y, where)

    def f_flat(u: Tensor) -> Tensor:
        out = term(t, unflatten(u), args)
        leaves = list(out) if isinstance(out, tuple) else [out]
        return torch.cat([v.reshape(-1) for v in leaves])

    def jvp(v: Tensor) -> tuple[Tensor, Tensor]:
        try:
            with torch.no_grad():
                fy, jv = torch.func.jvp(f_flat, (y_flat,), (v.to(y_flat.dtype),))
        except RuntimeError as exc:
            raise ValueError(
                f"{where}: the right-hand side cannot be differentiated in forward "
                f"mode (torch.func.jvp failed: {exc}). Keep it in torch operations "
                "(no numpy, .item() or .detach() on the state)."
            ) from exc
        return fy, jv.to(torch.float64)

    return y_flat, unflatten, f_flat, jvp


# A Jacobian-vector product differing from the difference quotient by more than this
# fraction of the quotient (beyond round-off) means the products did not see the RHS.
_JVP_MISMATCH = 0.25


def _check_sees_rhs(
    where: str,
    f_flat: Callable[[Tensor], Tensor],
    y: Tensor,
    v: Tensor,
    fy: Tensor,
    jv: Tensor,
) -> None:
    """Raise if ``J v`` (forward mode) disagrees with ``(f(y + h v) - f(y)) / h``.

    Two extra evaluations of the right-hand side, on the first Krylov vector only.
    An RHS that detaches the state, calls ``.item()`` or goes through numpy hides
    (part of) its Jacobian from forward mode: the products are then zero or too
    small, and a zero estimate would read as "no stability limit". The backward
    quotient ``(f(y) - f(y - h v)) / h`` guards against kinks: where the two
    quotients disagree (a ReLU at exact zeros of the state) ``f`` is not
    differentiable along ``v`` and nothing is concluded.
    """
    eps = torch.finfo(y.dtype).eps
    scale = max(1.0, float(y.abs().max())) if y.numel() else 1.0
    h = math.sqrt(eps) * scale
    f0 = fy.detach().to(torch.float64)
    with torch.no_grad():
        fd = (f_flat(y + h * v.to(y.dtype)).to(torch.float64) - f0) / h
    fd_norm = float(fd.norm())
    # round-off of the quotient: eps * |f(y)| / h, with a generous factor
    noise = 100.0 * eps * float(f0.norm()) / h
    diff = float((jv - fd).norm())
    if fd_norm > noise and diff > _JVP_MISMATCH * fd_norm + noise:
        with torch.no_grad():
            bd = (f0 - f_flat(y - h * v.to(y.dtype)).to(torch.float64)) / h
        if float((bd - fd).norm()) > _JVP_MISMATCH * fd_norm + noise:
            # a kink along v: no derivative to compare with
            return
        raise ValueError(
            f"{where}: the Jacobian-vector products do not see the right-hand side; "
            f"got |J v| = {float(jv.norm()):.3g} from forward mode but "
            f"|(f(y + h v) - f(y)) / h| = {fd_norm:.3g} from a difference quotient. "
            "The RHS detaches the state, calls .item() or goes through numpy; keep "
            "it in differentiable torch operations (a step-size estimate from it "
            "would be wrong, possibly 'no limit')."
        )


def jacobian_eigenvalue(
    term: Callable,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
    krylov_dim: int = 20,
) -> DominantEigenvalue:
    r"""Dominant eigenvalue of the Jacobian of ``f(y) = term(t, y, args)`` at ``y``.

    Matrix-free: only Jacobian-vector products with :func:`torch.func.jvp` are used
    (graphops kernels support forward mode), so it scales to large graphs. The
    iteration is power iteration generalised to a Krylov subspace (restarted Arnoldi
    with full re-orthogonalisation): the dominant Ritz value converges like power
    iteration's for a real dominant eigenvalue, and also for the complex-conjugate
    pairs that non-symmetric learned Jacobians produce (where plain power iteration
    oscillates). For ``LinearTerm(L)`` the result is ``-lam_max(L)``.

    .. math::

        J = \partial f / \partial y, \qquad
        J u \approx \lambda u,\ |\lambda| \text{ maximal}

    Args:
        term: A :class:`~solvers.terms.Term` or any ``f(t, y, args)``.
        y: State to linearise at: a tensor, or a tuple of tensors (flattened
            internally; for ``SecondOrderTerm`` states ``(x, v)`` the eigenvalues are
            ``+-sqrt`` of those of ``da/dx``).
        t: Time of the linearisation.
        args: Passed to the term (e.g. the graph).
        iters: Maximum number of Jacobian-vector products.
        tol: Relative residual ``||J u - lam u|| / |lam|`` to stop at.
        seed: Seed of the random start vector.
        krylov_dim: Krylov subspace size before a restart (memory: ``krylov_dim``
            copies of ``y``).

    Returns:
        A :class:`DominantEigenvalue` (``.lam_abs`` is what :func:`jacobian_lam_max`
        returns).

    Raises:
        TypeError: if ``term`` is not callable or ``y`` is not a (tuple of) floating
            tensor(s).
        ValueError: for ``iters``, ``krylov_dim`` < 1 or ``tol`` <= 0; or when the
            right-hand side is invisible to forward mode: the first Jacobian-vector
            product is checked against difference quotients (two extra RHS
            evaluations; skipped at a kink) and a mismatch (a ``.detach()``,
            ``.item()`` or numpy round trip on the state) raises instead of
            returning a too-small eigenvalue, which would read as "no stability
            limit".
    """
    where = "jacobian_eigenvalue"
    _check_term(where, term)
    check_int(where, "iters", iters, low=1)
    check_int(where, "krylov_dim", krylov_dim, low=1)
    tol = check_real(where, "tol", tol, low=0.0, low_open=True)
    y_flat, unflatten, f_flat, jvp = _linearisation(where, term, y, t, args)
    n = y_flat.numel()

    def matvec(v: Tensor) -> Tensor:
        return jvp(v)[1]

    if n == 0:
        return DominantEigenvalue(0j, 0.0, 0.0, 0.0, 0.0, 0, True, unflatten(y_flat))
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(n, generator=gen, dtype=torch.float64).to(y_flat.device)
    v = v / v.norm()
    m = min(krylov_dim, n)
    used = 0
    theta, resid = 0j, math.inf
    converged = False
    while used < iters and not converged:
        basis = [v]
        h = np.zeros((m + 1, m))
        for j in range(m):
            if used == 0:
                fy, w = jvp(basis[0])
                _check_sees_rhs(where, f_flat, y_flat, basis[0], fy, w)
            else:
                w = matvec(basis[j])
            used += 1
            q = torch.stack(basis, dim=1)  # [n, j+1]
            c1 = q.T @ w
            w = w - q @ c1
            c2 = q.T @ w  # second pass (Kahan-Parlett: twice is enough)
            w = w - q @ c2
            h[: j + 1, j] = (c1 + c2).cpu().numpy()
            beta = float(w.norm())
            h[j + 1, j] = beta
            evals, evecs = np.linalg.eig(h[: j + 1, : j + 1])
            mags = np.abs(evals)
            # among (near-)ties prefer Im >= 0 so conjugate pairs are reported stably
            k = int(np.argmax(mags + 1e-12 * mags.max() * (evals.imag >= 0)))
            theta = complex(evals[k])
            s = evecs[:, k] / np.linalg.norm(evecs[:, k])
            # ||J u - theta u|| = beta |e_j^T s| for the Ritz vector u = Q s
            resid = beta * abs(s[-1]) / max(abs(theta), 1e-300)
            invariant = beta <= 1e-14 * max(float(np.abs(h).max()), 1e-300)
            converged = resid <= tol or invariant
            if converged or used >= iters:
                break
            basis.append(w / beta)
        u = q.to(torch.complex128) @ torch.as_tensor(s, dtype=torch.complex128).to(
            q.device
        )
        if not converged:
            # restart from the Ritz vector; real + imaginary part keeps a conjugate pair
            v = u.real + u.imag
            v = v / v.norm()
    if theta.imag < 0:
        theta = theta.conjugate()
    vec = u.real if float(u.real.norm()) >= float(u.imag.norm()) else u.imag
    vec = (vec / vec.norm()).to(y_flat.dtype)
    return DominantEigenvalue(
        lam=theta,
        lam_abs=abs(theta),
        real=theta.real,
        imag=theta.imag,
        residual=float(resid) if math.isfinite(resid) else math.inf,
        iterations=used,
        converged=converged,
        vector=unflatten(vec),
    )


def jacobian_lam_max(
    term: Callable,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    iters: int = 100,
    tol: float = 1e-6,
    seed: int = 0,
) -> float:
    """``|lambda|_max`` of the Jacobian of a (learned, nonlinear) RHS at ``y``.

    Compare ``solver.max_stable_dt(jacobian_lam_max(term, y, args=graph))`` with your
    ``dt``. This is :func:`jacobian_eigenvalue` ``.lam_abs``; use that function for
    the eigenvalue itself (its real part says whether the mode is damped).

    Args:
        term: A Term or callable ``f(t, y, args)``.
        y: State (tensor or tuple of tensors).
        t: Time.
        args: Passed to the term.
        iters: Maximum Jacobian-vector products.
        tol: Relative residual tolerance.
        seed: Seed of the start vector.

    Returns:
        The modulus of the dominant eigenvalue as a float.

    Raises:
        TypeError: see :func:`jacobian_eigenvalue`.
        ValueError: see :func:`jacobian_eigenvalue`.

    Warns:
        RuntimeWarning: if the iteration did not converge within ``iters`` products.
    """
    res = jacobian_eigenvalue(term, y, t=t, args=args, iters=iters, tol=tol, seed=seed)
    if not res.converged:
        warnings.warn(
            f"jacobian_lam_max: did not converge in {res.iterations} Jacobian-vector "
            "products "
            f"(relative residual {res.residual:.2g} > tol={tol:g}); the estimate "
            f"{res.lam_abs:.4g} may be low. Increase `iters`.",
            RuntimeWarning,
            stacklevel=2,
        )
    return res.lam_abs


@dataclass(frozen=True)
class RitzValues:
    """Result of :func:`jacobian_spectrum`.

    Attributes:
        values: Ritz values (complex, ``[k]``), largest modulus first: estimates of
            the outer eigenvalues of ``df/dy``.
        residuals: ``||J u - theta u|| / |theta|`` of each Ritz pair (``[k]``): a
            small residual means that value is a (nearly) exact eigenvalue.
        iterations: Jacobian-vector products used (``k``, fewer if an invariant
            subspace was found, in which case the values are exact eigenvalues).
    """

    values: np.ndarray
    residuals: np.ndarray
    iterations: int


def jacobian_spectrum(
    term: Callable,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    k: int = 30,
    seed: int = 0,
) -> RitzValues:
    r"""Estimates of the outer spectrum of the Jacobian of a right-hand side at ``y``.

    ``k`` steps of Arnoldi (full re-orthogonalisation, one Jacobian-vector product
    each, from a random start) build an orthonormal basis ``Q`` of the Krylov space
    ``span{v, Jv, ..., J^{k-1} v}`` and the Hessenberg matrix ``H = Q^T J Q``; its
    eigenvalues, the *Ritz values*, approximate the eigenvalues of ``J`` at the
    edge of the spectrum first (the ones that decide a step size) and are exact
    once the space is invariant: at the latest when ``k`` reaches the number of
    distinct eigenvalues (a Krylov space from one vector holds each distinct
    eigenvalue once, whatever its multiplicity; ``iterations`` then stops early).
    This is the picture to overlay on a stability region
    (:func:`plot_stability_regions` with ``equation="jacobian"``: ``z = dt *
    theta``); :func:`jacobian_eigenvalue` refines only the dominant value, with
    restarts.

    Args:
        term: A :class:`~solvers.terms.Term` or any ``f(t, y, args)``.
        y: State to linearise at: a tensor or a tuple of tensors (flattened, as
            in :func:`jacobian_eigenvalue`).
        t: Time of the linearisation.
        args: Passed to the term.
        k: Krylov dimension (Jacobian-vector products), ``>= 1``; memory ``k``
            copies of ``y``.
        seed: Seed of the random start vector.

    Returns:
        :class:`RitzValues` (largest modulus first).

    Raises:
        TypeError: ``term`` is not callable or ``y`` is not a (tuple of) floating
            tensor(s).
        ValueError: ``k < 1``, or a right-hand side invisible to forward mode
            (checked as in :func:`jacobian_eigenvalue`).

    Example:
        >>> from solvers.stability import jacobian_spectrum
        >>> ritz = jacobian_spectrum(term, x0[:, :1], k=16)   # k = state size
        >>> ritz.iterations          # the 4 x 4 grid has 9 distinct eigenvalues
        9
        >>> exact = torch.linalg.eigvalsh(-Laplacian(graph).to_dense())
        >>> all(bool((exact - v.real).abs().min() < 1e-8) for v in ritz.values)
        True
    """
    where = "jacobian_spectrum"
    _check_term(where, term)
    k = check_int(where, "k", k, low=1, fix="Pass e.g. k=30.")
    y_flat, _, f_flat, jvp = _linearisation(where, term, y, t, args)
    n = y_flat.numel()
    m = min(k, n)
    if m == 0:
        empty = np.zeros(0)
        return RitzValues(empty.astype(np.complex128), empty, 0)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(n, generator=gen, dtype=torch.float64).to(y_flat.device)
    basis = [v / v.norm()]
    h = np.zeros((m + 1, m))
    size = m
    for j in range(m):
        fy, w = jvp(basis[j])
        if j == 0:
            _check_sees_rhs(where, f_flat, y_flat, basis[0], fy, w)
        q = torch.stack(basis, dim=1)
        c1 = q.T @ w
        w = w - q @ c1
        c2 = q.T @ w  # second pass (Kahan-Parlett: twice is enough)
        w = w - q @ c2
        h[: j + 1, j] = (c1 + c2).cpu().numpy()
        beta = float(w.norm())
        h[j + 1, j] = beta
        if beta <= 1e-14 * max(float(np.abs(h).max()), 1e-300):
            size = j + 1  # invariant subspace: the Ritz values are exact
            break
        if j + 1 < m:
            basis.append(w / beta)
    evals, evecs = np.linalg.eig(h[:size, :size])
    beta = h[size, size - 1]
    mags = np.abs(evals)
    residuals = beta * np.abs(evecs[-1, :]) / np.maximum(mags, 1e-300)
    order = np.argsort(-mags, kind="stable")
    return RitzValues(evals[order].astype(np.complex128), residuals[order], size)


# ---------------------------------------------------------------------------------
# Step-size advice
# ---------------------------------------------------------------------------------
def _operator_of(term: Any, y: Any, t: float, args: Any) -> GraphOperator | None:
    if isinstance(term, LinearTerm):
        return term.operator(t, y, args)
    if isinstance(term, SecondOrderTerm):
        x = y[0] if isinstance(y, tuple) else y
        return term.operator(t, x, args)
    return None


def _first_order_dt(
    solver: Any, desc: LinearStability, mu: complex
) -> float | None:
    """Largest stable step of a first-order method for an eigenvalue ``mu``."""
    mag = abs(mu)
    if mag == 0.0:
        return None
    has_region = isinstance(desc, OneStep | Multistep)
    # A real part at round-off level (+-1e-8 |mu|) is an oscillation, not growth.
    if mu.real <= 1e-8 * mag and abs(mu.imag) > 1e-6 * mag and has_region:
        b = _ray_stability_bound(solver, mu / mag, where="recommend_dt")
        return None if math.isinf(b) else b / mag
    # real (or growing) dominant mode: the negative-real-axis bound applies
    return desc.max_stable_dt(mag)


def recommend_dt(
    term: Term,
    solver: Any,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    safety: float = 0.9,
    iters: int = 100,
    tol: float = 1e-6,
) -> float | None:
    """A stable fixed step ``safety * dt_max`` for ``solver`` on ``term`` near ``y``.

    * ``LinearTerm`` (``y' = -A y + s``): ``dt_max = solver.max_stable_dt(lam_max(A))``
      with ``A = term.operator(t, y, args)`` (Lanczos if symmetric, else power).
    * ``SecondOrderTerm`` with an operator (``x'' = -A x``): second-order solvers use
      ``solver.max_stable_dt(lam_max(A))`` (``2/sqrt(lam_max)`` for Leapfrog);
      first-order
      solvers see the eigenvalues ``+-i sqrt(lam_max)`` of the ``(x, v)`` system and
      use their imaginary-axis bound (:func:`imag_axis_bound`).
    * any other term: the dominant eigenvalue ``mu`` of the Jacobian at ``y``
      (:func:`jacobian_eigenvalue`). A real (or growing) ``mu`` uses
      ``solver.max_stable_dt(|mu|)``; a complex ``mu`` with ``Re mu <= 0`` uses the
      stability interval along the ray through ``mu``; second-order solvers use
      ``|mu|^2`` (the ``lambda`` of ``x'' = -lambda x``). This linearisation is local:
      recompute it when the state changes a lot.

    Args:
        term: The term.
        solver: The solver value.
        y: Current state (tensor, or ``(x, v)``).
        t: Current time.
        args: Passed to the term (e.g. the graph).
        safety: Factor in ``(0, 1]``.
        iters: Jacobian-vector products allowed for the eigenvalue estimate (terms
            without an operator only).
        tol: Relative residual at which that estimate counts as converged; a
            ``RuntimeWarning`` says so when it did not converge.

    Returns:
        The step as a float, or ``None`` when the method has no stability limit for
        this problem (implicit solvers; ``None`` matches ``max_stable_dt``'s "no
        limit").

    Raises:
        ValueError: ``safety`` outside ``(0, 1]``, or a method that is unstable for
            every
            ``dt`` on this problem (e.g. Euler on the undamped wave equation).
    """
    where = "recommend_dt"
    safety = check_real(
        where,
        "safety",
        safety,
        low=0.0,
        high=1.0,
        low_open=True,
        fix="Use e.g. safety=0.9.",
    )
    limit = stable_step(term, solver, y, t=t, args=args, iters=iters, tol=tol)
    return None if limit is None else safety * limit


def stable_step(
    term: Term,
    solver: Any,
    y: Any,
    *,
    t: float = 0.0,
    args: Any = None,
    eigenvalue: DominantEigenvalue | None = None,
    iters: int = 100,
    tol: float = 1e-6,
    where: str = "recommend_dt",
) -> float | None:
    """The largest stable fixed step ``dt_max`` of :func:`recommend_dt` (no safety).

    Args:
        term: The term.
        solver: The solver value.
        y: Current state.
        t: Current time.
        args: Passed to the term.
        eigenvalue: A :func:`jacobian_eigenvalue` result for this term and state,
            to reuse across several solvers (terms without an operator only);
            ``None`` computes it.
        iters: Jacobian-vector products for the estimate (when computed here).
        tol: Its convergence tolerance; a ``RuntimeWarning`` says when it missed.
        where: The public call named in messages.

    Returns:
        ``dt_max``, or ``None`` when the method has no limit for this problem.

    Raises:
        ValueError: the method is unstable for every ``dt`` on this problem.
    """
    desc = _describe(where, solver)
    if isinstance(desc, Unconditional):
        return None
    second = isinstance(desc, Oscillator)
    op = _operator_of(term, y, t, args)
    if op is not None:
        lam = _lam_max(op, method="lanczos" if op.is_symmetric else "power")
        if lam == 0.0:
            return None
        if isinstance(term, SecondOrderTerm) and not second:
            b = imag_axis_bound(solver)
            if b == 0.0:
                raise ValueError(
                    f"{where}: {_name(solver)} is unstable for every dt on "
                    "x'' = -A x (its stability region contains no segment of the "
                    "imaginary axis); use Leapfrog, "
                    "SymplecticEuler or RK4."
                )
            return None if math.isinf(b) else b / math.sqrt(lam)
        return desc.max_stable_dt(lam)
    eig = eigenvalue
    if eig is None:
        eig = jacobian_eigenvalue(term, y, t=t, args=args, iters=iters, tol=tol)
        if not eig.converged:
            warnings.warn(
                f"{where}: the Jacobian eigenvalue estimate did not converge in "
                f"{iters} products (residual {eig.residual:.2g} > tol={tol:g}); the "
                "step may be off. "
                "Pass a larger `iters`.",
                RuntimeWarning,
                stacklevel=3,
            )
    if second:
        return desc.max_stable_dt(eig.lam_abs**2) if eig.lam_abs > 0 else None
    limit = _first_order_dt(solver, desc, eig.lam)
    if limit == 0.0:
        raise ValueError(
            f"{where}: {_name(solver)} is unstable for every dt at the "
            f"dominant Jacobian eigenvalue {eig.lam:.4g} (outside its stability "
            "region along that ray); use a "
            "method whose region covers it (e.g. RK4) or an implicit solver."
        )
    return limit
