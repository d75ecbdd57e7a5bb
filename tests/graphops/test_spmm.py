"""The shared sparse kernel: forward/backward against dense math and all backends."""

import pytest
import torch

from graphops import Laplacian, get_backend, set_backend, use_backend
from graphops.spmm import SparsePattern, spmm

from conftest import make_random_graph


def random_pattern(r, c, nnz, seed=0):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(r * c, generator=g)[:nnz]
    return SparsePattern.from_coo(keys // c, keys % c, (r, c))


def test_from_coo_order_and_transpose():
    row = torch.tensor([2, 0, 1, 0])
    col = torch.tensor([1, 2, 0, 0])
    p, order = SparsePattern.from_coo(row, col, (3, 3))
    vals_in = torch.tensor([1.0, 2.0, 3.0, 4.0])
    dense = torch.zeros(3, 3)
    dense[row, col] = vals_in
    assert torch.equal(p.tensor(vals_in[order]).to_dense(), dense)
    pt, perm = p.transpose
    assert torch.equal(pt.tensor(vals_in[order][perm]).to_dense(), dense.T)
    # transpose of the transpose maps back
    ptt, perm2 = pt.transpose
    assert ptt is p
    assert torch.equal(vals_in[order][perm][perm2], vals_in[order])


def test_spmm_rectangular_forward_backward():
    p, _ = random_pattern(6, 9, 20)
    v = torch.randn(p.nnz, requires_grad=True)
    x = torch.randn(9, 3, requires_grad=True)
    y = spmm(p, v, x)
    dense = torch.zeros(6, 9).index_put((p.row, p.col), v)
    assert torch.allclose(y, dense @ x)
    assert torch.autograd.gradcheck(lambda v, x: spmm(p, v, x), (v, x))
    assert torch.autograd.gradgradcheck(lambda v, x: spmm(p, v, x), (v, x))


@pytest.mark.parametrize("backend", ["csr", "gather"])
def test_backends_agree(backend):
    g = make_random_graph(50, 0.1, seed=5)
    w = (torch.rand(g.num_edges) + 0.1).requires_grad_()
    x = torch.randn(50, 4, requires_grad=True)
    ref = Laplacian(g, "sym", edge_weight=w).matmul(x, backend="csr")
    out = Laplacian(g, "sym", edge_weight=w).matmul(x, backend=backend)
    assert torch.allclose(out, ref, atol=1e-13)
    gw_ref, gx_ref = torch.autograd.grad(ref.square().sum(), (w, x))
    gw, gx = torch.autograd.grad(out.square().sum(), (w, x))
    assert torch.allclose(gw, gw_ref, atol=1e-12) and torch.allclose(
        gx, gx_ref, atol=1e-12
    )


def test_scatter_backend_equals_default():
    pytest.importorskip(
        "torch_scatter", reason="optional torch-scatter backend not installed"
    )
    g = make_random_graph(60, 0.1, seed=6)
    w = (torch.rand(g.num_edges) + 0.1).requires_grad_()
    x = torch.randn(60, 5, requires_grad=True)
    ref = Laplacian(g, None, edge_weight=w) @ x
    with use_backend("scatter"):
        out = Laplacian(g, None, edge_weight=w) @ x
    assert torch.allclose(out, ref, atol=1e-12)
    gref = torch.autograd.grad(ref.sum(), (w, x))
    gout = torch.autograd.grad(out.sum(), (w, x))
    assert all(
        torch.allclose(a, b, atol=1e-12) for a, b in zip(gref, gout, strict=True)
    )


def test_global_backend_switch_and_errors():
    assert get_backend() == "csr"
    with use_backend("gather"):
        assert get_backend() == "gather"
    assert get_backend() == "csr"
    set_backend("gather")
    set_backend("csr")
    with pytest.raises(ValueError, match="`backend` must be one of"):
        set_backend("cusparse")


def test_scatter_backend_missing_message(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *a, **k):
        if name == "torch_scatter":
            raise ImportError("no torch_scatter")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match="needs the optional torch-scatter"):
        set_backend("scatter")


def test_no_sparse_autograd_graph_is_built():
    """Backward is our SpMM/SDDMM Function, not torch's generic sparse autograd."""
    g = make_random_graph(30, 0.2, seed=7)
    w = (torch.rand(g.num_edges) + 0.1).requires_grad_()
    x = torch.randn(30, 2, requires_grad=True)
    y = Laplacian(g, edge_weight=w) @ x
    assert "SpMM" in type(y.grad_fn).__name__


@pytest.mark.parametrize("grad_mode", [True, False])
def test_forward_ad_dual_tensors(grad_mode):
    """Dual tensors reach the kernel's fast path or its Function; both are exact."""
    import torch.autograd.forward_ad as fwAD

    g = make_random_graph(20, 0.3, seed=8)
    L = Laplacian(g, "sym")
    x, dx = torch.randn(20, 3), torch.randn(20, 3)
    with torch.set_grad_enabled(grad_mode), fwAD.dual_level():
        y = L @ fwAD.make_dual(x, dx)
        primal, tangent = fwAD.unpack_dual(y)
    assert torch.allclose(primal, L @ x)
    assert torch.allclose(tangent, L @ dx)


def _csr_calls() -> None:
    """Operators, products, gradients (SDDMM) and a CG solve: every CSR builder."""
    from graphops import CG, Graph, Laplacian

    g = Graph(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
    w = torch.ones(2, requires_grad=True)
    (Laplacian(g, edge_weight=w) @ torch.ones(3, 1)).sum().backward()
    assert CG(rtol=1e-8).solve(Laplacian(g), torch.ones(3, 1), shift=1.0).success


def test_csr_beta_notice_is_not_filtered_globally():
    import warnings

    # No global filter: importing graphops leaves the user's filters alone.
    assert not any(
        f[1] is not None and f[1].pattern.startswith("Sparse CSR")
        for f in warnings.filters
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _csr_calls()
    assert not caught, [str(c.message) for c in caught]


@pytest.mark.slow
def test_csr_beta_notice_is_silenced_only_around_our_calls():
    import inspect
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    # A fresh process (torch shows the notice once per process) with every warning
    # an error: our CSR calls emit nothing.
    body = textwrap.dedent(inspect.getsource(_csr_calls))
    code = f"import torch\n{body}\n_csr_calls()\n"
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr
    # Outside our calls torch's notice is untouched.
    code = (
        "import warnings, torch, graphops\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    torch.sparse_csr_tensor(torch.tensor([0, 1]), torch.tensor([0]),\n"
        "                            torch.tensor([1.0]), (1, 1))\n"
        "assert any('Sparse CSR' in str(x.message) for x in w), w\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr


def test_sddmm_against_dense_product_with_derivatives():
    from graphops.spmm import sddmm

    p, _ = random_pattern(7, 5, 15, seed=3)
    a = torch.randn(7, 4, requires_grad=True)
    b = torch.randn(5, 4, requires_grad=True)
    assert torch.allclose(sddmm(p, a, b), (a @ b.T)[p.row, p.col])
    f = lambda a, b: sddmm(p, a, b)  # noqa: E731
    assert torch.autograd.gradcheck(f, (a, b), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(f, (a, b))


def test_sddmm_refuses_mismatched_factors():
    from graphops.spmm import sddmm

    p, _ = random_pattern(4, 3, 5)
    with pytest.raises(ValueError, match=r"sddmm: `b` must be a dense \[3, F\]"):
        sddmm(p, torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="same width; got 2 and 3"):
        sddmm(p, torch.randn(4, 2), torch.randn(3, 3))


def test_block_diagonal_pattern_is_torch_block_diag():
    p, _ = random_pattern(4, 3, 6, seed=5)
    vals = torch.randn(3, p.nnz)
    blocks = p.block_diagonal(3)
    dense = torch.block_diag(*(p.tensor(v).to_dense() for v in vals))
    assert blocks.shape == (12, 9)
    assert torch.equal(blocks.tensor(vals.reshape(-1)).to_dense(), dense)
    assert torch.equal(
        blocks.row, blocks.tensor(vals.reshape(-1)).to_sparse_coo().indices()[0]
    )
    assert p.block_diagonal(1) is p
