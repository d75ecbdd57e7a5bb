"""Block CG (graphops/linalg.py): scipy agreement, failures, implicit-diff grads."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from graphops import Gradient, Graph, GraphOperator, Laplacian
from graphops.linalg import CG, CGResult, cg_solve

from conftest import make_grid_graph, make_path_graph, make_random_graph


# ---------------------------------------------------------------------------------
# Test problems: (name, A as GraphOperator or callable, kwargs for CG.solve, scipy A)
# ---------------------------------------------------------------------------------
def _dirichlet_1d(n: int = 60):
    """1-D Dirichlet Poisson: tridiag(-1, 2, -1) = L_path + e_0 e_0^T + e_n e_n^T."""
    L = Laplacian(make_path_graph(n))
    bump = torch.zeros(n)
    bump[0] = bump[-1] = 1.0

    def matvec(x):
        return L @ x + bump.unsqueeze(1) * x

    a = (L.to_scipy() + sp.diags(bump.numpy())).tocsr()
    return matvec, {"diagonal": L.diagonal() + bump}, a


def _dirichlet_2d(rows: int = 12, cols: int = 12):
    """2-D 5-point Dirichlet Poisson: L_grid + (4 - deg) on the diagonal."""
    L = Laplacian(make_grid_graph(rows, cols))
    extra = 4.0 - L.diagonal()

    def matvec(x):
        return L @ x + extra.unsqueeze(1) * x

    a = (L.to_scipy() + sp.diags(extra.numpy())).tocsr()
    return matvec, {"diagonal": L.diagonal() + extra}, a


def _shifted(graph: Graph, shift: float, scale: float = 1.0):
    L = Laplacian(graph)
    a = (scale * L.to_scipy() + shift * sp.eye(graph.num_nodes)).tocsr()
    return L, {"shift": shift, "scale": scale}, a


PROBLEMS = {
    "path+I": lambda: _shifted(make_path_graph(60), 1.0),
    "path+eps (1-D Neumann, eps=1e-2)": lambda: _shifted(make_path_graph(60), 1e-2),
    "1-D Dirichlet Poisson": _dirichlet_1d,
    "grid+I": lambda: _shifted(make_grid_graph(12, 12), 1.0),
    "grid+eps (2-D Neumann, eps=1e-2)": lambda: _shifted(make_grid_graph(12, 12), 1e-2),
    "2-D Dirichlet Poisson": _dirichlet_2d,
    "random+I": lambda: _shifted(make_random_graph(80, 0.08, seed=4), 1.0),
    "I + 0.3 L random": lambda: _shifted(make_random_graph(80, 0.08, seed=5), 1.0, 0.3),
}
RTOL = 1e-12


def _scipy_cg(a, b: np.ndarray, preconditioner, rtol=RTOL, x0=None):
    """Column-by-column scipy CG; returns (X, iteration counts)."""
    m = sp.diags(1.0 / a.diagonal()) if preconditioner == "jacobi" else None
    xs, its = [], []
    for k in range(b.shape[1]):
        count = [0]

        def cb(_x, count=count):
            count[0] += 1

        x, info = spla.cg(
            a, b[:, k], x0=None if x0 is None else x0[:, k], rtol=rtol, M=m, callback=cb
        )
        assert info == 0
        xs.append(x)
        its.append(count[0])
    return np.stack(xs, 1), its


@pytest.mark.parametrize("preconditioner", ["jacobi", None], ids=repr)
@pytest.mark.parametrize("features", [1, 5], ids=lambda f: f"F={f}")
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_matches_scipy_cg_and_spsolve(name, features, preconditioner):
    A, kw, a = PROBLEMS[name]()
    n = a.shape[0]
    b = torch.randn(n, features)
    res = CG(rtol=RTOL, preconditioner=preconditioner).solve(A, b, **kw)
    assert (
        isinstance(res, CGResult)
        and res.success
        and res.reason == "converged"
        and res.message == ""
    )
    assert bool(res.converged.all())
    assert float(res.residual.max()) <= RTOL
    x_ref = np.stack(
        [spla.spsolve(a.tocsc(), b[:, k].numpy()) for k in range(features)], 1
    )
    x_cg, its = _scipy_cg(a, b.numpy(), preconditioner)
    x = res.x.numpy()
    scale = np.abs(x_ref).max()
    assert np.abs(x - x_ref).max() <= 1e-8 * scale
    assert np.abs(x - x_cg).max() <= 1e-8 * scale
    # Same iteration, same stopping rule: per-column counts agree up to round-off at
    # the threshold (scipy stops on `<`, we on `<=`); in practice they are equal.
    ours = res.iterations.tolist()
    assert all(abs(o - s) <= 1 for o, s in zip(ours, its, strict=True)), (ours, its)
    assert res.num_iters == max(ours)
    assert res.num_matvecs == res.num_iters


def test_true_residual_meets_the_stopping_rule():
    L = Laplacian(make_random_graph(60, 0.1, seed=1))
    b = torch.randn(60, 4)
    res = CG(rtol=1e-9).solve(L, b, shift=0.5)
    true = torch.linalg.vector_norm(b - (0.5 * res.x + L @ res.x), dim=0)
    assert bool((true <= 1.01e-9 * torch.linalg.vector_norm(b, dim=0)).all())


def test_atol_stopping_rule():
    L = Laplacian(make_grid_graph(8, 8))
    b = torch.randn(64, 3)
    atol = 1e-3 * float(torch.linalg.vector_norm(b, dim=0).min())
    res = CG(rtol=1e-16, atol=atol).solve(L, b, shift=1.0)
    assert res.success
    r = torch.linalg.vector_norm(b - (res.x + L @ res.x), dim=0)
    assert bool((r <= 1.01 * atol).all())
    tight = CG(rtol=1e-12).solve(L, b, shift=1.0)
    assert res.num_iters < tight.num_iters


def test_warm_start_and_x0_not_mutated():
    L = Laplacian(make_grid_graph(10, 10))
    b = torch.randn(100, 3)
    exact = torch.linalg.solve(torch.eye(100) + L.to_dense(), b)
    x0 = exact + 1e-3 * torch.randn(100, 3)
    x0_copy = x0.clone()
    cold = CG(rtol=1e-10).solve(L, b, shift=1.0)
    warm = CG(rtol=1e-10).solve(L, b, x0=x0, shift=1.0)
    assert torch.equal(x0, x0_copy)
    assert warm.success and warm.num_iters < cold.num_iters
    a = (L.to_scipy() + sp.eye(100)).tocsr()
    x_sp, its = _scipy_cg(a, b.numpy(), "jacobi", rtol=1e-10, x0=x0.numpy())
    assert all(
        abs(o - s) <= 1 for o, s in zip(warm.iterations.tolist(), its, strict=True)
    )
    assert np.allclose(warm.x.numpy(), x_sp, rtol=0, atol=1e-9)
    assert warm.num_matvecs == warm.num_iters + 1  # the initial residual
    assert torch.allclose(warm.x, exact, atol=1e-8)
    # Starting at the solution: converged after 0 iterations, x0 returned (a copy).
    at = CG(rtol=1e-10).solve(L, b, x0=exact, shift=1.0)
    assert at.num_iters == 0 and at.success and at.x is not exact
    assert torch.equal(at.x, exact)


def test_zero_right_hand_side_returns_zeros():
    L = Laplacian(make_grid_graph(5, 5))
    res = CG(rtol=1e-10).solve(L, torch.zeros(25, 3), x0=torch.ones(25, 3), shift=1.0)
    assert res.success and res.num_iters == 0
    assert torch.equal(res.x, torch.zeros(25, 3))
    assert res.iterations.tolist() == [0, 0, 0]
    # Mixed: a zero column is 0 after 0 iterations while the others iterate.
    b = torch.randn(25, 3)
    b[:, 1] = 0.0
    res = CG(rtol=1e-10).solve(L, b, x0=torch.ones(25, 3), shift=1.0)
    assert res.success and res.iterations[1] == 0 and res.iterations[0] > 0
    assert torch.equal(res.x[:, 1], torch.zeros(25))
    assert float(res.residual[1]) == 0.0


def test_columns_are_independent_and_frozen():
    """Each column of the block solve reproduces the single-column solve and count."""
    L = Laplacian(make_random_graph(50, 0.1, seed=2))
    b = torch.randn(50, 4)
    b[:, 2] = 1.0  # (I + L) 1 = 1: unpreconditioned CG is exact after one step
    cg = CG(rtol=1e-11, preconditioner=None)
    block = cg.solve(L, b, shift=1.0)
    for k in range(4):
        single = cg.solve(L, b[:, k : k + 1], shift=1.0)
        assert int(single.iterations[0]) == int(block.iterations[k])
        assert torch.allclose(single.x[:, 0], block.x[:, k], rtol=0, atol=1e-13)
    assert int(block.iterations[2]) == 1
    assert torch.allclose(
        block.x[:, 2], torch.ones(50), atol=1e-14
    )  # frozen afterwards
    assert block.num_iters == int(block.iterations.max()) > 1


@pytest.mark.parametrize("check_every", [2, 5], ids=repr)
def test_check_every_changes_only_the_number_of_syncs(check_every):
    L = Laplacian(make_grid_graph(9, 9))
    b = torch.randn(81, 3)
    ref = CG(rtol=1e-10).solve(L, b, shift=0.1)
    res = CG(rtol=1e-10, check_every=check_every).solve(L, b, shift=0.1)
    assert torch.equal(res.iterations, ref.iterations)
    assert torch.allclose(res.x, ref.x, rtol=0, atol=1e-14)
    assert ref.num_iters <= res.num_iters < ref.num_iters + check_every


def test_max_iters_reached_reports_not_converged():
    L = Laplacian(make_grid_graph(10, 10))
    b = torch.randn(100, 2)
    res = CG(rtol=1e-10, max_iters=3).solve(L, b, shift=1e-2)
    assert not res.success and res.reason == "max_iters"
    assert res.num_iters == 3 and res.iterations.tolist() == [3, 3]
    assert not bool(res.converged.any())
    assert res.message.startswith(
        "CG did not converge in 3 iterations (relative residual "
    )
    assert "> rtol=1e-10" in res.message and "increase `max_iters`" in res.message
    none = CG(rtol=1e-10, max_iters=3, preconditioner=None).solve(L, b, shift=1e-2)
    assert 'try preconditioner="jacobi"' in none.message
    with_atol = CG(rtol=1e-10, atol=1e-12, max_iters=3).solve(L, b, shift=1e-2)
    assert "max(rtol*||b||, atol)" in with_atol.message
    assert repr(res).startswith(
        f"CGResult(success=False, reason={res.reason!r}, num_iters={res.num_iters}, "
        f"num_matvecs={res.num_matvecs}, x.shape=("
    )
    assert "residual.max()=" in repr(res)


def test_max_iters_default_is_ten_n():
    """Without max_iters the budget is 10 N (scipy's default)."""
    q = torch.randn(5, 5)
    a = torch.eye(5) + q @ q.T
    calls = [0]

    def mv(x):
        calls[0] += 1
        return a @ x

    # rtol far below round-off: the residual stagnates near 1e-16 and never meets it.
    res = CG(rtol=1e-300, preconditioner=None).solve(mv, torch.randn(5, 1))
    assert not res.success and res.reason == "max_iters"
    assert res.num_iters == 50 and calls[0] == 50


def test_indefinite_operator_reports_non_positive_curvature():
    L = Laplacian(make_grid_graph(8, 8))
    b = torch.randn(64, 3)
    res = CG(rtol=1e-10, preconditioner=None).solve(L, b, shift=-3.0)  # L - 3 I
    assert not res.success and res.reason == "breakdown"
    assert res.message.startswith("CG found non-positive curvature pᵀAp=-")
    assert "not positive definite" in res.message
    # Negative definite: detected in the very first iteration.
    neg = CG(rtol=1e-10, preconditioner=None).solve(L, b, shift=1.0, scale=-1.0)
    assert neg.reason == "breakdown" and "at iteration 1 " in neg.message


def test_jacobi_with_non_positive_diagonal_reports_failure():
    L = Laplacian(make_grid_graph(8, 8))
    res = CG(rtol=1e-10).solve(L, torch.randn(64, 2), shift=-3.0)
    assert not res.success and res.reason == "preconditioner" and res.num_iters == 0
    assert res.message.startswith(
        "CG: the Jacobi preconditioner needs a positive diagonal; got diag(A)[0]=-1"
    )


def test_non_finite_input_reports_failure():
    L = Laplacian(make_grid_graph(5, 5))
    b = torch.randn(25, 3)
    b[4, 1] = float("nan")
    res = CG(rtol=1e-10).solve(L, b, shift=1.0)
    assert not res.success and res.reason == "nonfinite"
    assert res.message.startswith(
        "CG produced a non-finite residual at iteration 0 (column 1 of 3)"
    )


def test_empty_and_float32():
    L = Laplacian(make_grid_graph(4, 4))
    assert CG(rtol=1e-6).solve(L, torch.zeros(16, 0), shift=1.0).success
    b = torch.randn(16, 2, dtype=torch.float32)
    res = CG(rtol=1e-6).solve(L, b, shift=1.0)
    assert res.success and res.x.dtype == torch.float32
    exact = torch.linalg.solve(torch.eye(16) + L.to_dense(), b.double())
    assert torch.allclose(res.x.double(), exact, atol=1e-5)


def test_repr_shows_configuration():
    assert (
        repr(CG(rtol=1e-10))
        == "CG(rtol=1e-10, atol=0.0, max_iters=None, preconditioner='jacobi', "
        "check_every=1)"
    )
    assert CG(rtol=1e-10) == CG(rtol=1e-10) and hash(CG(rtol=1e-10)) == hash(
        CG(rtol=1e-10)
    )


# ---------------------------------------------------------------------------------
# Gradients: implicit differentiation
# ---------------------------------------------------------------------------------
def _tiny():
    g = Graph(
        torch.tensor([[0, 1, 2, 3, 4, 0, 5, 6], [1, 2, 3, 4, 5, 3, 6, 0]]),
        7,
        directed="symmetrize",
    )
    gen = torch.Generator().manual_seed(3)
    w = (0.5 + torch.rand(g.num_edges, generator=gen)).requires_grad_()
    b = torch.randn(7, 2, generator=gen, requires_grad=True)
    return g, w, b


@pytest.mark.parametrize("preconditioner", ["jacobi", None], ids=repr)
def test_gradcheck_wrt_rhs_and_edge_weights(preconditioner):
    g, w, b = _tiny()
    cg = CG(rtol=1e-14, preconditioner=preconditioner)

    def f(b, w):
        return cg.solve(Laplacian(g, edge_weight=w), b, shift=1.0, scale=0.7).x

    assert torch.autograd.gradcheck(f, (b, w), eps=1e-6, atol=1e-9, rtol=1e-7)


def test_gradients_match_dense_solve():
    g, w, b = _tiny()
    c = torch.randn(7, 2)
    shift = torch.tensor(0.5, requires_grad=True)
    x = CG(rtol=1e-14).solve(Laplacian(g, edge_weight=w), b, shift=shift, scale=0.7).x
    got = torch.autograd.grad((x * c).sum(), (b, w, shift))
    a = shift * torch.eye(7) + 0.7 * Laplacian(g, edge_weight=w).to_dense()
    ref = torch.autograd.grad((torch.linalg.solve(a, b) * c).sum(), (b, w, shift))
    for gi, ri in zip(got, ref, strict=True):
        assert torch.allclose(gi, ri, rtol=1e-10, atol=1e-12)


def test_gradcheck_tensor_scale_and_callable_with_params():
    g, w, b = _tiny()
    scale = torch.tensor(0.7, requires_grad=True)

    def f(b, w, scale):
        return (
            CG(rtol=1e-14)
            .solve(Laplacian(g, edge_weight=w), b, shift=1.0, scale=scale)
            .x
        )

    assert torch.autograd.gradcheck(f, (b, w, scale), eps=1e-6, atol=1e-9, rtol=1e-7)

    q = torch.randn(7, 3, requires_grad=True)

    def h(b, q):
        def mv(x):
            return x + q @ (q.T @ x)  # I + Q Q^T, SPD

        diag = 1.0 + (q * q).sum(1)
        return cg_solve(mv, b, [q], solver=CG(rtol=1e-14), diagonal=diag).x

    assert torch.autograd.gradcheck(h, (b, q), eps=1e-6, atol=1e-9, rtol=1e-7)
    dense = torch.linalg.solve(torch.eye(7) + q @ q.T, b)
    assert torch.allclose(h(b, q), dense, atol=1e-12)


def test_cg_solve_with_graph_operator_and_consistent_singular_system():
    """Plain L (PSD, singular) with zero-mean columns: consistent, CG converges."""
    L = Laplacian(make_grid_graph(6, 6))
    b = torch.randn(36, 2)
    b = b - b.mean(0)
    res = cg_solve(L, b, solver=CG(rtol=1e-12, preconditioner=None))
    assert res.success
    assert torch.allclose(L @ res.x, b, atol=1e-10)


def test_backward_does_not_unroll_and_needs_no_grad_mode():
    g, w, b = _tiny()
    with torch.no_grad():
        res = CG(rtol=1e-12).solve(Laplacian(g, edge_weight=w), b, shift=1.0)
    assert res.x.grad_fn is None
    res = CG(rtol=1e-12).solve(Laplacian(g, edge_weight=w), b, shift=1.0)
    assert type(res.x.grad_fn).__name__ == "_CGSolveFnBackward"


def test_backward_adjoint_failure_raises():
    g, w, b = _tiny()
    A = Laplacian(g, edge_weight=w)
    exact = torch.linalg.solve(torch.eye(7) + A.to_dense().detach(), b.detach())
    # Forward converges in 0 iterations from the exact guess; the adjoint solve (from
    # zero, with the same max_iters=1) cannot.
    res = CG(rtol=1e-12, max_iters=1).solve(A, b, x0=exact, shift=1.0)
    assert res.success and res.num_iters == 0
    with pytest.raises(
        RuntimeError,
        match=r"CG backward: the adjoint solve A G = dL/dX failed.*did not converge in "
        r"1 iterations",
    ):
        (res.x * torch.randn(7, 2)).sum().backward()


# ---------------------------------------------------------------------------------
# Bad arguments
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"rtol": "1e-8"}, TypeError, r"CG: `rtol` must be a real number; got str"),
        (
            {"rtol": 1e-8, "atol": None},
            TypeError,
            r"CG: `atol` must be a real number; got NoneType",
        ),
        ({"rtol": True}, TypeError, r"`rtol` must be a real number; got bool"),
        (
            {"rtol": -1e-8},
            ValueError,
            r"CG: `rtol` must be a finite real number in \[0, inf\]; got -1e-08\. "
            r"Pass e\.g\. rtol=1e-10",
        ),
        (
            {"rtol": float("nan")},
            ValueError,
            r"`rtol` must be a finite real number in \[0, inf\]; got nan",
        ),
        (
            {"rtol": 1e-8, "atol": float("inf")},
            ValueError,
            r"CG: `atol` must be a finite real number in \[0, inf\]; got inf",
        ),
        ({"rtol": 0.0}, ValueError, r"`rtol` and `atol` are both 0"),
        (
            {"rtol": 1e-8, "max_iters": 0},
            ValueError,
            r"CG: `max_iters` must be an int >= 1; got 0\. Or None for 10 \* N",
        ),
        (
            {"rtol": 1e-8, "max_iters": 2.5},
            TypeError,
            r"CG: `max_iters` must be an int; got float 2\.5\. Or None",
        ),
        (
            {"rtol": 1e-8, "check_every": None},
            TypeError,
            r"CG: `check_every` must be an int; got NoneType None",
        ),
        (
            {"rtol": 1e-8, "check_every": 0},
            ValueError,
            r"CG: `check_every` must be an int >= 1; got 0",
        ),
        (
            {"rtol": 1e-8, "preconditioner": "ilu"},
            ValueError,
            r"CG: `preconditioner` must be one of \('jacobi', None\); got 'ilu'",
        ),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_bad_fields_raise(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        CG(**kwargs)


def test_rtol_is_required():
    with pytest.raises(TypeError, match="rtol"):
        CG()  # type: ignore[call-arg]


def test_bad_solve_arguments_raise(path_graph):
    L = Laplacian(path_graph)
    b = torch.randn(10, 2)
    cg = CG(rtol=1e-8)
    with pytest.raises(
        TypeError, match=r"CG.solve: `B` must be a floating tensor \[N, F\]; got list"
    ):
        cg.solve(L, [1.0, 2.0])
    with pytest.raises(
        TypeError,
        match=r"`B` must be a floating tensor \[N, F\]; got tensor of dtype "
        r"torch.int64",
    ):
        cg.solve(L, torch.ones(10, 2, dtype=torch.int64))
    with pytest.raises(
        ValueError,
        match=r"CG.solve: `B` must be 2-D \[N, F\].*got shape \(10,\). Use "
        r"B.unsqueeze\(-1\)",
    ):
        cg.solve(L, torch.randn(10))
    with pytest.raises(
        ValueError,
        match=r"`x0` must match `B` in shape, dtype and device; got x0 \(10, 3\)",
    ):
        cg.solve(L, b, x0=torch.zeros(10, 3))
    with pytest.raises(ValueError, match=r"`x0` must match `B`.*torch.float32"):
        cg.solve(L, b, x0=torch.zeros(10, 2, dtype=torch.float32))
    with pytest.raises(
        ValueError,
        match=r"`A` must be a node -> node operator of shape \[N, N\] = \[12, 12\]",
    ):
        cg.solve(L, torch.randn(12, 2))
    with pytest.raises(ValueError, match=r"`A` must be a node -> node operator"):
        cg.solve(Gradient(path_graph), b)
    with pytest.raises(
        ValueError,
        match=r"CG.solve: CG needs a symmetric operator; got "
        r"Laplacian\(normalization='rw', shape=\(10, 10\).*is_symmetric=False.*"
        r"explicit solver "
        r"\(RK4, Dopri5\)",
    ):
        cg.solve(Laplacian(path_graph, "rw"), b, shift=1.0)
    w2 = torch.rand(2 * path_graph.num_edges) + 0.5
    with pytest.raises(
        ValueError,
        match=r"CG needs a symmetric operator.*\[2M\] edge weights.*Symmetrise",
    ):
        cg.solve(Laplacian(path_graph, edge_weight=w2), b, shift=1.0)
    with pytest.raises(
        TypeError,
        match=r"CG.solve: `A` must be a GraphOperator or a callable X -> A @ X; got "
        r"ndarray",
    ):
        cg.solve(np.eye(10), b)
    with pytest.raises(
        ValueError,
        match=r"needs `diagonal=` \(\[N\], the diagonal of A\) when `A` is a callable",
    ):
        cg.solve(lambda x: 2 * x, b)
    with pytest.raises(
        ValueError,
        match=r"CG.solve: `diagonal` must be a tensor of shape \[N\]=\[10\]; got "
        r"\(9,\)",
    ):
        cg.solve(lambda x: 2 * x, b, diagonal=torch.ones(9))
    with pytest.raises(
        TypeError,
        match=r"CG.solve: `params` must hold tensors; got float at position 0",
    ):
        CG(rtol=1e-8, preconditioner=None).solve(lambda x: 2 * x, b, params=[1.0])
    with pytest.raises(
        TypeError,
        match=r"CG.solve: `shift` must be a real number or a 0-d tensor; got str",
    ):
        cg.solve(L, b, shift="1")
    with pytest.raises(
        ValueError,
        match=r"CG.solve: `scale` must be a number or a 0-d floating tensor; got a "
        r"tensor of shape \(2,\)",
    ):
        cg.solve(L, b, scale=torch.ones(2))
    with pytest.raises(
        ValueError,
        match=r"CG.solve: `params` is for callables .*tracked automatically.*"
        r"Drop `params`",
    ):
        cg.solve(L, b, params=[L.values])
    with pytest.raises(
        TypeError, match=r"cg_solve: `solver` must be a CG\(...\) value; got dict"
    ):
        cg_solve(L, b, solver={"rtol": 1e-8})


def test_callable_works_without_preconditioner_and_with_diagonal():
    b = torch.randn(10, 2)
    d = torch.linspace(1.0, 3.0, 10)
    res = CG(rtol=1e-12, preconditioner=None).solve(lambda x: d.unsqueeze(1) * x, b)
    assert torch.allclose(res.x, b / d.unsqueeze(1))
    res = CG(rtol=1e-12).solve(lambda x: d.unsqueeze(1) * x, b, diagonal=d)
    assert res.num_iters == 1  # Jacobi is exact for a diagonal matrix


# ---------------------------------------------------------------------------------
# Cache blocking (column chunks on CPU)
# ---------------------------------------------------------------------------------
def test_column_chunks_give_the_same_results(monkeypatch):
    import graphops.linalg as cgmod

    L = Laplacian(make_random_graph(64, 0.1, seed=7))
    b = torch.randn(64, 12)
    b[:, 5] = 0.0
    x0 = torch.randn(64, 12)
    ref = CG(rtol=1e-11).solve(L, b, x0=x0, shift=0.3)
    monkeypatch.setattr(cgmod, "_CHUNK_BYTES", 64 * 4 * 8)  # chunks of 4 columns
    assert cgmod._chunk_width(b) == 4
    res = CG(rtol=1e-11).solve(L, b, x0=x0, shift=0.3)
    assert res.success
    assert torch.equal(res.iterations, ref.iterations)
    assert res.num_iters == ref.num_iters
    assert torch.allclose(res.x, ref.x, rtol=0, atol=1e-13)
    # Gradients (the adjoint solve is chunked too).
    w = torch.rand(L.graph.num_edges, requires_grad=True)
    bb = b.clone().requires_grad_()
    x = CG(rtol=1e-12).solve(Laplacian(L.graph, edge_weight=w), bb, shift=0.3).x
    got = torch.autograd.grad(x.sum(), (bb, w))
    dense = torch.linalg.solve(
        0.3 * torch.eye(64) + Laplacian(L.graph, edge_weight=w).to_dense(), bb
    )
    exp = torch.autograd.grad(dense.sum(), (bb, w))
    for g_, e_ in zip(got, exp, strict=True):
        assert torch.allclose(g_, e_, atol=1e-9)


def test_column_chunks_stop_after_a_failing_chunk(monkeypatch):
    import graphops.linalg as cgmod

    L = Laplacian(make_grid_graph(8, 8))
    b = torch.randn(64, 8)
    monkeypatch.setattr(cgmod, "_CHUNK_BYTES", 64 * 2 * 8)  # chunks of 2 columns
    res = CG(rtol=1e-10, preconditioner=None).solve(L, b, shift=-3.0)
    assert not res.success and res.reason == "breakdown"
    assert res.message.startswith("CG found non-positive curvature")
    k = int(res.message.split("(column ")[1].split(" of")[0])  # the failing column
    stop = (k // 2 + 1) * 2  # the end of its chunk
    assert stop < 8
    assert res.iterations[stop:].tolist() == [0] * (
        8 - stop
    )  # later chunks were not run
    assert not bool(res.converged[stop:].any())
    res = CG(rtol=1e-10, max_iters=2).solve(L, b, shift=1e-2)
    assert res.reason == "max_iters" and "0/8 columns converged" in res.message


class _DenseSPD(GraphOperator):
    """A minimal user-defined operator: only the abstract methods of the protocol."""

    domain = codomain = "node"

    def __init__(self, graph: Graph, a: torch.Tensor) -> None:
        self.graph, self.a = graph, a

    def matmul(self, x, *, backend=None, out=None):
        return self.a @ x

    def adjoint(self):
        return self

    @property
    def is_symmetric(self) -> bool:
        return True

    def to_dense(self):
        return self.a

    def to_scipy(self):
        return sp.csr_matrix(self.a.detach().numpy())


def test_generic_graph_operator_uses_the_protocol_defaults(path_graph):
    q = torch.randn(10, 10)
    a = torch.eye(10) + q @ q.T / 10
    op = _DenseSPD(path_graph, a)
    b = torch.randn(10, 2)
    # The protocol's defaults: a dense diagonal, a matrix-free shift, no CSR.
    assert torch.equal(op.diagonal(), a.diagonal())
    assert op.values is None and op.csr() is None
    shifted = op.shifted(2.0, 0.5)
    assert torch.allclose(shifted.to_dense(), 2.0 * torch.eye(10) + 0.5 * a)
    assert torch.allclose(shifted.diagonal(), 2.0 + 0.5 * a.diagonal())
    exact = torch.linalg.solve(2.0 * torch.eye(10) + 0.5 * a, b)
    jacobi = CG(rtol=1e-12).solve(op, b, shift=2.0, scale=0.5)
    for res in (
        jacobi,
        CG(rtol=1e-12, preconditioner=None).solve(op, b, shift=2.0, scale=0.5),
        CG(rtol=1e-12).solve(op, b, shift=2.0, scale=0.5, diagonal=a.diagonal()),
    ):
        assert res.success
        assert torch.allclose(res.x, exact, atol=1e-10)
    # An explicit `diagonal=` is the same preconditioner as the default one.
    explicit = CG(rtol=1e-12).solve(op, b, shift=2.0, scale=0.5, diagonal=a.diagonal())
    assert torch.equal(explicit.iterations, jacobi.iterations)
    # Its hidden tensor gets a gradient only when listed in `params`.
    a_leaf = a.clone().requires_grad_()
    op = _DenseSPD(path_graph, a_leaf)
    x = CG(rtol=1e-13, preconditioner=None).solve(op, b, shift=1.0, params=[a_leaf]).x
    (ga,) = torch.autograd.grad(x.sum(), a_leaf)
    ref = torch.linalg.solve(torch.eye(10) + a_leaf, b)
    (gr,) = torch.autograd.grad(ref.sum(), a_leaf)
    assert torch.allclose(ga, gr, atol=1e-10)


def test_device_mismatch_raises(path_graph):
    b = torch.randn(10, 2, device="meta")
    with pytest.raises(
        ValueError, match=r"CG.solve: `B` is on meta but the operator is on cpu"
    ):
        CG(rtol=1e-8).solve(Laplacian(path_graph), b)
