"""SheafLaplacian and orthogonal_maps against independent dense references.

The reference assembles the block matrix with plain Python loops over the edges, and
normalises with a per-node ``torch.linalg.eigh`` of the full ``d' x d'`` block, so it
shares no code (and no kind-specific shortcut) with :mod:`graphops.sheaf`.
"""

import itertools

import numpy as np
import pytest
import torch

from graphops import Graph, Laplacian, SheafLaplacian, lam_max
from graphops.sheaf import orthogonal_maps

from conftest import make_grid_graph, make_random_graph

KINDS = ["diag", "orthogonal", "general"]
CHANNELS = [(False, False), (True, False), (False, True), (True, True)]


# ---------------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------------
def random_maps(g: Graph, kind: str, d: int, gen=None) -> torch.Tensor:
    m = g.num_edges
    if kind == "diag":
        return torch.randn(m, 2, d, generator=gen)
    if kind == "orthogonal":
        return orthogonal_maps(torch.randn(m, 2, d * (d - 1) // 2, generator=gen), d)
    return torch.randn(m, 2, d, d, generator=gen)


def full_maps(maps: torch.Tensor, kind: str) -> torch.Tensor:
    """``[M, 2, d, d]`` matrices (diagonal maps embedded)."""
    return torch.diag_embed(maps) if kind == "diag" else maps


def omega_ends(g: Graph, omega):
    m = g.num_edges
    if omega is None:
        return torch.ones(m), torch.ones(m)
    if omega.shape[0] == m:
        return omega, omega
    return omega[:m], omega[m:]


def dense_reference(
    g: Graph,
    maps: torch.Tensor,
    kind: str,
    normalised=False,
    omega=None,
    add_lp=False,
    add_hp=False,
) -> torch.Tensor:
    f = full_maps(maps, kind)
    n, d = g.num_nodes, f.shape[-1]
    signs = [1.0] * add_lp + [-1.0] * add_hp
    dt = d + len(signs)
    oi, oj = omega_ends(g, omega)
    L = torch.zeros(n * dt, n * dt)
    for e in range(g.num_edges):
        i, j = int(g.edge_index[0, e]), int(g.edge_index[1, e])
        w = float(g.edge_weight[e])
        fi, fj = oi[e] * f[e, 0], oj[e] * f[e, 1]
        bi, bj = slice(i * dt, i * dt + d), slice(j * dt, j * dt + d)
        L[bi, bi] += w * fi.T @ fi
        L[bj, bj] += w * fj.T @ fj
        L[bi, bj] -= w * fi.T @ fj
        L[bj, bi] -= w * fj.T @ fi
        for c, sign in enumerate(signs):
            a, b = i * dt + d + c, j * dt + d + c
            L[a, a] += w
            L[b, b] += w
            L[a, b] += sign * w
            L[b, a] += sign * w
    if not normalised:
        return L
    S = torch.zeros_like(L)
    for i in range(n):
        blk = slice(i * dt, (i + 1) * dt)
        lam, u = torch.linalg.eigh(L[blk, blk] + torch.eye(dt))
        S[blk, blk] = u @ torch.diag(lam**-0.5) @ u.T
    return S @ L @ S


def gauge_sheaf(g: Graph, kind: str, d: int, gen):
    """Maps ``F_{i⊴e} = A_e R_i^{-1}`` with a global section ``x_i = R_i v``."""
    n, m = g.num_nodes, g.num_edges
    i, j = g.edge_index
    if kind == "diag":
        r = torch.rand(n, d, generator=gen) + 0.5
        a = torch.rand(m, d, generator=gen) + 0.5
        maps = torch.stack([a / r[i], a / r[j]], 1)
        return maps, lambda v: (r.unsqueeze(-1) * v).reshape(-1)
    if kind == "orthogonal":
        r = orthogonal_maps(torch.randn(n, d * (d - 1) // 2, generator=gen), d)
        a = orthogonal_maps(torch.randn(m, d * (d - 1) // 2, generator=gen), d)
    else:
        r = torch.randn(n, d, d, generator=gen) + 3 * torch.eye(d)
        a = torch.randn(m, d, d, generator=gen)
    rinv = torch.linalg.inv(r)
    maps = torch.stack([a @ rinv[i], a @ rinv[j]], 1)
    return maps, lambda v: (r @ v).reshape(-1)


def stalk(x: torch.Tensor) -> torch.Tensor:
    """``[N, d, F] -> [N*d, F]`` (node-major)."""
    return x.reshape(-1, x.shape[-1])


@pytest.fixture
def small_graph() -> Graph:
    return make_random_graph(10, 0.35, seed=1)


# ---------------------------------------------------------------------------------
# Operator == dense reference, all kinds and options
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("normalised", [False, True], ids=["L", "norm"])
@pytest.mark.parametrize("weights", [None, "M", "2M"], ids=repr)
@pytest.mark.parametrize("channels", CHANNELS, ids=lambda c: f"lp{c[0]:d}hp{c[1]:d}")
def test_matches_dense_reference(small_graph, kind, normalised, weights, channels):
    g = small_graph
    d = 3
    maps = random_maps(g, kind, d)
    omega = None
    if weights is not None:
        omega = torch.rand(g.num_edges * (1 if weights == "M" else 2)) + 0.1
    add_lp, add_hp = channels
    op = SheafLaplacian(
        g,
        maps,
        kind,
        normalised=normalised,
        edge_weight=omega,
        add_lp=add_lp,
        add_hp=add_hp,
    )
    ref = dense_reference(g, maps, kind, normalised, omega, add_lp, add_hp)
    dt = d + add_lp + add_hp
    assert op.shape == (g.num_nodes * dt, g.num_nodes * dt)
    assert op.stalk_dim == dt and op.learned_dim == d
    assert op.is_symmetric
    assert torch.allclose(op.to_dense(), ref, atol=1e-12)
    assert torch.equal(op.to_dense(), op.to_dense().T)
    x = torch.randn(g.num_nodes * dt, 4)
    assert torch.allclose(op @ x, ref @ x, atol=1e-12)
    assert np.allclose(op.to_scipy().toarray(), ref.numpy(), atol=1e-12)
    assert torch.allclose(op.diagonal(), torch.diagonal(ref), atol=1e-12)
    evals = torch.linalg.eigvalsh(ref)
    assert evals.min() >= -1e-10
    if normalised:
        assert evals.max() <= 2 + 1e-10


@pytest.mark.parametrize("kind", KINDS)
def test_directed_layout_equals_pair_layout(small_graph, kind):
    g = small_graph
    maps = random_maps(g, kind, 2)
    directed = torch.cat([maps[:, 0], maps[:, 1]])
    a = SheafLaplacian(g, maps, kind, normalised=True, add_lp=True)
    b = SheafLaplacian(g, directed, kind, normalised=True, add_lp=True)
    assert torch.equal(a.to_dense(), b.to_dense())


def test_energy_is_sum_of_edge_disagreements(small_graph):
    g = small_graph
    maps = random_maps(g, "general", 3)
    omega = torch.rand(2 * g.num_edges) + 0.1
    op = SheafLaplacian(g, maps, "general", edge_weight=omega)
    x = torch.randn(g.num_nodes, 3)
    i, j = g.edge_index
    oi, oj = omega_ends(g, omega)
    diff = (oj[:, None, None] * maps[:, 1]) @ x[j].unsqueeze(-1) - (
        oi[:, None, None] * maps[:, 0]
    ) @ x[i].unsqueeze(-1)
    energy = (g.edge_weight * diff.squeeze(-1).pow(2).sum(-1)).sum()
    assert torch.allclose((x.reshape(-1) * (op @ x.reshape(-1, 1))[:, 0]).sum(), energy)


# ---------------------------------------------------------------------------------
# Structure: PSD, spectrum, trivial sheaf, fixed channels, global sections
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(4))
def test_psd_and_normalised_spectrum_in_0_2(kind, seed):
    gen = torch.Generator().manual_seed(seed)
    g = make_random_graph(14, 0.3, seed=seed)
    maps = random_maps(g, kind, 3, gen)
    if kind != "orthogonal":
        maps = 3 * maps
    omega = torch.rand(g.num_edges, generator=gen) + 0.1
    for normalised, (lp, hp) in itertools.product([False, True], CHANNELS):
        op = SheafLaplacian(
            g,
            maps,
            kind,
            normalised=normalised,
            edge_weight=omega,
            add_lp=lp,
            add_hp=hp,
        )
        evals = torch.linalg.eigvalsh(op.to_dense())
        assert evals.min() >= -1e-10
        if normalised:
            assert evals.max() <= 2 + 1e-10
            assert lam_max(op) <= 2 + 1e-8


def test_normalised_general_entries_within_unit_interval(small_graph):
    # the authors clamp these entries to [-1, 1]; Cauchy-Schwarz makes that a no-op
    maps = 5 * random_maps(small_graph, "general", 3)
    op = SheafLaplacian(small_graph, maps, "general", normalised=True)
    assert op.values.abs().max() <= 1 + 1e-12


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", [1, 2, 3])
def test_trivial_sheaf_is_laplacian_kron_identity(small_graph, kind, d):
    g = small_graph
    m = g.num_edges
    ident = torch.ones(m, 2, d) if kind == "diag" else torch.eye(d).repeat(m, 2, 1, 1)
    L = Laplacian(g).to_dense()
    eye = torch.eye(d)
    op = SheafLaplacian(g, ident, kind)
    assert torch.allclose(op.to_dense(), torch.kron(L, eye), atol=1e-13)
    # normalised: (D + I)^{-1/2} L (D + I)^{-1/2}, D = degree (the GCN-style scaling)
    s = (g.degree() + 1).rsqrt()
    norm = s[:, None] * L * s[None, :]
    op = SheafLaplacian(g, ident, kind, normalised=True)
    assert torch.allclose(op.to_dense(), torch.kron(norm, eye), atol=1e-13)
    # scalar map weights omega scale the edge weights by omega^2
    omega = torch.rand(m) + 0.1
    op = SheafLaplacian(g, ident, kind, edge_weight=omega)
    lw = Laplacian(g, edge_weight=g.edge_weight * omega**2).to_dense()
    assert torch.allclose(op.to_dense(), torch.kron(lw, eye), atol=1e-13)


@pytest.mark.parametrize("normalised", [False, True])
def test_fixed_channels_are_signless_and_ordinary_laplacians(small_graph, normalised):
    g = small_graph
    d = 2
    op = SheafLaplacian(
        g,
        random_maps(g, "diag", d),
        "diag",
        normalised=normalised,
        add_lp=True,
        add_hp=True,
    )
    dense = op.to_dense().reshape(g.num_nodes, d + 2, g.num_nodes, d + 2)
    W, deg = g.to_dense(), g.degree()
    signless, ordinary = torch.diag(deg) + W, torch.diag(deg) - W
    if normalised:
        s = (deg + 1).rsqrt()
        signless = s[:, None] * signless * s[None, :]
        ordinary = s[:, None] * ordinary * s[None, :]
    # add_lp is stalk dimension d, add_hp is d + 1 (the authors' order)
    assert torch.allclose(dense[:, d, :, d], signless, atol=1e-13)
    assert torch.allclose(dense[:, d + 1, :, d + 1], ordinary, atol=1e-13)
    # the fixed channels do not couple to the learned ones
    assert torch.all(dense[:, :d, :, d:] == 0) and torch.all(dense[:, d, :, d + 1] == 0)


@pytest.mark.parametrize("kind", KINDS)
def test_constant_section_of_trivial_sheaf_is_in_kernel(kind):
    g = make_grid_graph(3, 4)
    d, m = 3, g.num_edges
    ident = torch.ones(m, 2, d) if kind == "diag" else torch.eye(d).repeat(m, 2, 1, 1)
    v = torch.randn(d)
    x = v.repeat(g.num_nodes).unsqueeze(1)
    assert torch.allclose(SheafLaplacian(g, ident, kind) @ x, torch.zeros_like(x))
    # normalised: the kernel is (D + I)^{1/2} ker L
    op = SheafLaplacian(g, ident, kind, normalised=True)
    y = (g.degree() + 1).sqrt().repeat_interleave(d).unsqueeze(1) * x
    assert torch.allclose(op @ y, torch.zeros_like(y), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_gauge_sections_span_the_kernel(kind):
    # maps F_{i⊴e} = A_e R_i^{-1} on a graph with cycles: x_i = R_i v is a global
    # section for every v, and (connected graph, generic A_e) nothing else is
    gen = torch.Generator().manual_seed(3)
    g = make_grid_graph(3, 3)
    d = 3
    maps, section = gauge_sheaf(g, kind, d, gen)
    op = SheafLaplacian(g, maps, kind)
    for _ in range(3):
        x = section(torch.randn(d, 1, generator=gen).expand(g.num_nodes, d, 1))
        assert torch.allclose(op @ x.unsqueeze(1), torch.zeros(len(x), 1), atol=1e-10)
    evals = torch.linalg.eigvalsh(op.to_dense())
    assert int((evals.abs() < 1e-9).sum()) == d


def test_orthogonal_section_transported_along_a_tree():
    # on a tree every O(d) sheaf has global sections: transport x from the root
    gen = torch.Generator().manual_seed(5)
    parent = [0, 0, 0, 1, 1, 2]
    child = [1, 2, 3, 4, 5, 6]
    g = Graph(torch.tensor([parent, child]), 7, directed="symmetrize")
    d = 3
    maps = random_maps(g, "orthogonal", d, gen)
    fmap = {}
    for e in range(g.num_edges):
        i, j = int(g.edge_index[0, e]), int(g.edge_index[1, e])
        fmap[(i, j)], fmap[(j, i)] = (maps[e, 0], maps[e, 1]), (maps[e, 1], maps[e, 0])
    x = torch.zeros(7, d)
    x[0] = torch.randn(d, generator=gen)
    for p, c in zip(parent, child, strict=True):
        fp, fc = fmap[(p, c)]
        # F_c x_c = F_p x_p, and F_c is orthogonal
        x[c] = fc.T @ fp @ x[p]
    op = SheafLaplacian(g, maps, "orthogonal")
    assert torch.allclose(op @ x.reshape(-1, 1), torch.zeros(7 * d, 1), atol=1e-12)
    evals = torch.linalg.eigvalsh(op.to_dense())
    assert int((evals.abs() < 1e-9).sum()) == d


# ---------------------------------------------------------------------------------
# Adjoint, transpose, scale, backends, permutation equivariance
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_adjoint_identity_and_transpose(small_graph, kind):
    g = small_graph
    op = SheafLaplacian(
        g, random_maps(g, kind, 2), kind, normalised=True, add_lp=True, add_hp=True
    )
    x = torch.randn(op.shape[1], 3)
    y = torch.randn(op.shape[0], 3)
    assert torch.allclose((op @ x * y).sum(), (x * (op.adjoint() @ y)).sum())
    assert op.adjoint() is op and op.T is op
    neg = -op
    assert neg.shape == op.shape and neg.is_symmetric
    assert torch.allclose(neg @ x, -(op @ x))
    assert torch.allclose(op.scale(2.5) @ x, 2.5 * (op @ x))
    assert "SheafLaplacian(kind=" in repr(op) and f"shape={op.shape}" in repr(op)


@pytest.mark.parametrize("backend", ["csr", "gather"])
def test_backends_agree(small_graph, backend):
    op = SheafLaplacian(small_graph, random_maps(small_graph, "general", 2), "general")
    x = torch.randn(op.shape[1], 2)
    assert torch.allclose(op.matmul(x, backend=backend), op.to_dense() @ x)


def permute_sheaf(g: Graph, maps: torch.Tensor, omega: torch.Tensor, perm):
    """Relabel nodes (new id of old node k is inv[k]) and carry the maps along."""
    inv = torch.argsort(perm)
    gp = Graph(inv[g.directed_edge_index], g.num_nodes, torch.cat([g.edge_weight] * 2))
    where = {}
    for e in range(g.num_edges):
        i, j = (int(v) for v in inv[g.edge_index[:, e]])
        where[(i, j)] = (e, 0, 1)
        where[(j, i)] = (e, 1, 0)
    m = g.num_edges
    pm, po = torch.empty_like(maps), torch.empty_like(omega)
    for e in range(gp.num_edges):
        old, a, b = where[(int(gp.edge_index[0, e]), int(gp.edge_index[1, e]))]
        pm[e, 0], pm[e, 1] = maps[old, a], maps[old, b]
        po[e], po[m + e] = omega[old + a * m], omega[old + b * m]
    return gp, pm, po


@pytest.mark.parametrize("kind", KINDS)
def test_permutation_equivariance(kind):
    gen = torch.Generator().manual_seed(11)
    g = make_random_graph(9, 0.4, seed=7)
    d = 2
    maps = random_maps(g, kind, d, gen)
    omega = torch.rand(2 * g.num_edges, generator=gen) + 0.1
    perm = torch.randperm(g.num_nodes, generator=gen)
    gp, pm, po = permute_sheaf(g, maps, omega, perm)
    kw = dict(normalised=True, add_lp=True, add_hp=True)
    op = SheafLaplacian(g, maps, kind, edge_weight=omega, **kw)
    opp = SheafLaplacian(gp, pm, kind, edge_weight=po, **kw)
    x = torch.randn(g.num_nodes, d + 2, 3)
    assert torch.allclose(opp @ stalk(x[perm]), stalk((op @ stalk(x)).view_as(x)[perm]))


# ---------------------------------------------------------------------------------
# Differentiability
# ---------------------------------------------------------------------------------
def tiny_graph() -> Graph:
    return make_random_graph(5, 0.6, seed=2)


@pytest.mark.parametrize("kind", ["diag", "general"])
@pytest.mark.parametrize("normalised", [False, True], ids=["L", "norm"])
def test_gradcheck_maps_weights_and_x(kind, normalised):
    g = tiny_graph()
    assert 0 < g.num_edges and g.num_nodes <= 6
    maps = random_maps(g, kind, 2).requires_grad_()
    omega = (torch.rand(2 * g.num_edges) + 0.2).requires_grad_()
    x = torch.randn(g.num_nodes * 3, 2, requires_grad=True)

    def f(maps, omega, x):
        op = SheafLaplacian(
            g, maps, kind, normalised=normalised, edge_weight=omega, add_hp=True
        )
        return op @ x

    assert torch.autograd.gradcheck(f, (maps, omega, x))


@pytest.mark.parametrize("normalised", [False, True], ids=["L", "norm"])
def test_gradcheck_orthogonal_through_parameters(normalised):
    g = tiny_graph()
    params = torch.randn(g.num_edges, 2, 1, requires_grad=True)
    omega = (torch.rand(g.num_edges) + 0.2).requires_grad_()
    x = torch.randn(g.num_nodes * 2, 2, requires_grad=True)

    def f(params, omega, x):
        maps = orthogonal_maps(params, 2)
        op = SheafLaplacian(
            g, maps, "orthogonal", normalised=normalised, edge_weight=omega
        )
        return op @ x

    assert torch.autograd.gradcheck(f, (params, omega, x))


def test_gradcheck_at_repeated_eigenvalues_and_forward_ad():
    # identity maps make every node block deg_i * I: torch's eigh backward divides
    # by zero there; the closed-form divided differences do not
    g = tiny_graph()
    maps = torch.eye(2).repeat(g.num_edges, 2, 1, 1).requires_grad_()
    x = torch.randn(g.num_nodes * 2, 2, requires_grad=True)

    def f(maps, x):
        return SheafLaplacian(g, maps, "general", normalised=True) @ x

    (grad,) = torch.autograd.grad(f(maps, x).pow(2).sum(), maps)
    assert torch.isfinite(grad).all()
    assert torch.autograd.gradcheck(f, (maps, x), check_forward_ad=True)


def test_func_jvp_matches_finite_difference():
    from torch.func import jvp

    g = tiny_graph()
    maps = random_maps(g, "general", 2)
    x = torch.randn(g.num_nodes * 2, 3)
    dm, dx = torch.randn_like(maps), torch.randn_like(x)

    def f(maps, x):
        return SheafLaplacian(g, maps, "general", normalised=True) @ x

    _, tangent = jvp(f, (maps, x), (dm, dx))
    eps = 1e-6
    fd = (f(maps + eps * dm, x + eps * dx) - f(maps - eps * dm, x - eps * dx)) / (
        2 * eps
    )
    assert torch.allclose(tangent, fd, atol=1e-8)


def test_double_backward_through_normalisation_is_refused():
    g = tiny_graph()
    maps = random_maps(g, "general", 2).requires_grad_()
    op = SheafLaplacian(g, maps, "general", normalised=True)
    (grad,) = torch.autograd.grad(op.values.sum(), maps, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()


# ---------------------------------------------------------------------------------
# Caching, dtypes, empty graphs
# ---------------------------------------------------------------------------------
def test_pattern_built_once_per_graph_kind_and_dim(small_graph):
    g = small_graph
    a = SheafLaplacian(g, random_maps(g, "diag", 2), "diag")
    b = SheafLaplacian(g, random_maps(g, "diag", 2), "diag", normalised=True)
    assert a.pattern is b.pattern
    c = SheafLaplacian(g, random_maps(g, "diag", 2), "diag", add_lp=True)
    d = SheafLaplacian(g, random_maps(g, "diag", 2), "diag", add_hp=True)
    assert c.pattern is d.pattern and c.pattern is not a.pattern
    o = SheafLaplacian(g, random_maps(g, "orthogonal", 2), "orthogonal")
    q = SheafLaplacian(g, random_maps(g, "general", 2), "general")
    n, m = g.num_nodes, g.num_edges
    # diag: all blocks diagonal; O(d): diagonal node blocks; general: all dense
    assert a.pattern.nnz == n * 2 + 2 * m * 2
    assert o.pattern.nnz == n * 2 + 2 * m * 4
    assert q.pattern.nnz == n * 4 + 2 * m * 4


def test_float32_maps_give_float32_operator(small_graph):
    maps = random_maps(small_graph, "general", 2).float()
    op = SheafLaplacian(small_graph, maps, "general", normalised=True, add_lp=True)
    assert op.dtype == torch.float32
    x = torch.randn(op.shape[1], 2, dtype=torch.float32)
    assert (op @ x).dtype == torch.float32
    ortho = orthogonal_maps(torch.randn(small_graph.num_edges, 2, 3).float(), 3)
    SheafLaplacian(small_graph, ortho, "orthogonal")  # passes the float32 check


@pytest.mark.parametrize("kind", KINDS)
def test_graph_without_edges(kind):
    g = Graph(torch.empty(2, 0, dtype=torch.long), 3)
    maps = random_maps(g, kind, 2)
    op = SheafLaplacian(g, maps, kind, normalised=True, add_lp=True)
    assert op.shape == (9, 9)
    assert torch.equal(op.to_dense(), torch.zeros(9, 9))
    assert torch.equal(op @ torch.ones(9, 1), torch.zeros(9, 1))


def test_validate_false_skips_the_orthogonality_check(small_graph):
    maps = random_maps(small_graph, "general", 2)
    op = SheafLaplacian(small_graph, maps, "orthogonal", validate=False)
    assert op.shape[0] == 2 * small_graph.num_nodes


# ---------------------------------------------------------------------------------
# orthogonal_maps
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["householder", "matrix_exp"])
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_orthogonal_maps_are_orthogonal(method, d):
    params = 2 * torch.randn(6, 2, d * (d - 1) // 2)
    q = orthogonal_maps(params, d, method=method)
    assert q.shape == (6, 2, d, d)
    eye = torch.eye(d).expand_as(q)
    assert torch.allclose(q.mT @ q, eye, atol=1e-12)
    assert torch.allclose(q @ q.mT, eye, atol=1e-12)
    det = torch.linalg.det(q)
    expected = (-1.0) ** d if method == "householder" else 1.0
    assert torch.allclose(det, torch.full_like(det, expected))


def test_householder_is_product_of_reflections():
    d = 3
    params = torch.randn(d * (d - 1) // 2)
    a = torch.zeros(d, d)
    rows, cols = torch.tril_indices(d, d, -1)
    a[rows, cols] = params
    a = a + torch.eye(d)
    q = torch.eye(d)
    for k in range(d):
        v = a[:, k : k + 1]
        q = q @ (torch.eye(d) - 2 * v @ v.T / (v.T @ v))
    assert torch.allclose(orthogonal_maps(params, d), q, atol=1e-13)


@pytest.mark.parametrize("method", ["householder", "matrix_exp"])
def test_gradcheck_orthogonal_maps(method):
    params = torch.randn(4, 3, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p: orthogonal_maps(p, 3, method=method), (params,)
    )


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------
def test_sheaf_laplacian_errors(small_graph):
    g = small_graph
    m = g.num_edges
    diag = torch.rand(m, 2, 2)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        SheafLaplacian(g, diag, "bundle")
    with pytest.raises(TypeError, match="`maps` must be a floating tensor"):
        SheafLaplacian(g, diag.long(), "diag")
    with pytest.raises(TypeError, match="`maps` must be a floating tensor"):
        SheafLaplacian(g, [[1.0]], "diag")
    with pytest.raises(ValueError, match=r"must have shape \[M, 2, d\] or \[2M, d\]"):
        SheafLaplacian(g, torch.rand(m, 3, 2), "diag")
    with pytest.raises(ValueError, match=r"\[M, 2, d, d\] or \[2M, d, d\] with M="):
        SheafLaplacian(g, diag, "general")
    with pytest.raises(ValueError, match=r"\[M, 2, d, d\]"):
        SheafLaplacian(g, torch.rand(m, 2, 2, 3), "general")
    with pytest.raises(ValueError, match="stalk dimension d .* must be >= 1"):
        SheafLaplacian(g, torch.rand(m, 2, 0), "diag")
    with pytest.raises(ValueError, match="`maps` is on meta but the graph is on cpu"):
        SheafLaplacian(g, torch.rand(m, 2, 2, device="meta"), "diag")
    with pytest.raises(TypeError, match="`normalised` must be a bool"):
        SheafLaplacian(g, diag, "diag", normalised=1)
    with pytest.raises(TypeError, match="`add_lp` must be a bool"):
        SheafLaplacian(g, diag, "diag", add_lp="yes")
    with pytest.raises(ValueError, match="`maps` must be finite"):
        SheafLaplacian(g, diag.clone().fill_(float("nan")), "diag")
    with pytest.raises(ValueError, match=r"`edge_weight` must have shape \[M\]"):
        SheafLaplacian(g, diag, "diag", edge_weight=torch.ones(3))
    with pytest.raises(ValueError, match="`edge_weight` must be finite and >= 0"):
        SheafLaplacian(g, diag, "diag", edge_weight=-torch.ones(m))
    with pytest.raises(ValueError, match="needs orthogonal maps"):
        SheafLaplacian(g, torch.rand(m, 2, 2, 2) + 1, "orthogonal")
    op = SheafLaplacian(g, diag, "diag", add_lp=True)
    with pytest.raises(
        ValueError, match=r"expected a stalk signal of shape \[N\*d', F\]"
    ):
        op @ torch.randn(g.num_nodes, 3, 2)
    with pytest.raises(ValueError, match=r"\[30, F\] \(N=10, d'=3"):
        op @ torch.randn(g.num_nodes * 2, 1)


def test_orthogonal_maps_errors():
    with pytest.raises(TypeError, match="`d` must be an int"):
        orthogonal_maps(torch.randn(3), 3.0)
    with pytest.raises(ValueError, match="`d` must be an int >= 1"):
        orthogonal_maps(torch.randn(0), 0)
    with pytest.raises(ValueError, match="`method` must be one of"):
        orthogonal_maps(torch.randn(3), 3, method="cayley")
    with pytest.raises(TypeError, match="`params` must be a floating tensor"):
        orthogonal_maps(torch.ones(3, dtype=torch.long), 3)
    with pytest.raises(ValueError, match=r"\[\.\.\., d\(d-1\)/2\] = \[\.\.\., 3\]"):
        orthogonal_maps(torch.randn(5, 6), 3)
