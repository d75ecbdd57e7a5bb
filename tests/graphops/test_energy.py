"""Dirichlet energy and MAD against direct formulas."""

import pytest
import torch

from graphops import Laplacian, dirichlet_energy, mean_average_distance


def test_dirichlet_energy_variants(random_graph):
    g = random_graph
    x = torch.randn(g.num_nodes, 3)
    e = dirichlet_energy(x, g)
    assert torch.allclose(e, torch.trace(x.T @ (Laplacian(g) @ x)))
    # 1/2 sum over ordered pairs
    a = g.to_dense()
    diff2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    assert torch.allclose(e, 0.5 * (a * diff2).sum())
    assert torch.allclose(
        dirichlet_energy(x, g, normalization="sym"),
        torch.trace(x.T @ (Laplacian(g, "sym") @ x)),
    )
    assert torch.allclose(
        dirichlet_energy(x, g, normalization="rusch"), (a * diff2).sum() / g.num_nodes
    )
    assert dirichlet_energy(torch.ones(g.num_nodes, 2), g) == 0
    assert torch.equal(dirichlet_energy(x, g, normalization=None), e)


def test_gcn_energy_is_the_gcn_laplacian_quadratic_form(random_graph):
    g = random_graph
    x = torch.randn(g.num_nodes, 3)
    e = dirichlet_energy(x, g, normalization="gcn")
    assert torch.allclose(e, (x * (Laplacian(g, normalization="gcn") @ x)).sum())
    # dense reference: L_gcn = I - D~^-1/2 (A + I) D~^-1/2, D~ = D + I
    a = g.to_dense()
    n = g.num_nodes
    s = (a.sum(1) + 1.0).rsqrt()
    l_gcn = torch.eye(n) - s[:, None] * (a + torch.eye(n)) * s[None, :]
    assert torch.allclose(e, torch.trace(x.T @ l_gcn @ x))
    # with learned weights, and constant signals are not in its kernel (unlike None)
    w = torch.rand(g.num_edges, dtype=x.dtype) + 0.1
    assert torch.allclose(
        dirichlet_energy(x, g, normalization="gcn", edge_weight=w),
        (x * (Laplacian(g, "gcn", edge_weight=w) @ x)).sum(),
    )
    assert dirichlet_energy(torch.ones(n, 1), g, normalization="gcn") >= 0


def test_energy_refuses_the_string_none(random_graph):
    x = torch.randn(random_graph.num_nodes, 1)
    with pytest.raises(
        ValueError,
        match=r"dirichlet_energy: `normalization` must be one of \(None, 'sym', "
        r"'gcn', 'rusch'\); got the string 'none'\. For no normalisation pass "
        r"normalization=None",
    ):
        dirichlet_energy(x, random_graph, normalization="none")


def test_energy_decays_under_diffusion(random_graph):
    L = Laplacian(random_graph, "sym")
    x = torch.randn(random_graph.num_nodes, 2)
    energies = []
    for _ in range(20):
        energies.append(float(dirichlet_energy(x, random_graph, normalization="sym")))
        x = x - 0.5 * (L @ x)
    assert all(b <= a + 1e-12 for a, b in zip(energies, energies[1:], strict=False))


def test_mad():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    # pairwise cosine distances: d01=1, d02=0, d12=1 -> rows: (1+0)/2, (1+1)/2, (0+1)/2
    assert mean_average_distance(x) == pytest.approx((0.5 + 1.0 + 0.5) / 3)
    assert mean_average_distance(torch.ones(5, 3)) == pytest.approx(0.0, abs=1e-12)
    assert mean_average_distance(x, chunk_size=1) == pytest.approx(
        mean_average_distance(x)
    )


def test_mad_neighbors(path_graph):
    x = torch.randn(path_graph.num_nodes, 4)
    u = x / x.norm(dim=1, keepdim=True)
    i, j = path_graph.edge_index
    d = 1 - (u[i] * u[j]).sum(1)
    tot = torch.zeros(10).index_add(0, i, d).index_add(0, j, d)
    cnt = path_graph.degree()
    assert mean_average_distance(x, path_graph, mask="neighbors") == pytest.approx(
        float((tot / cnt).mean())
    )


def test_energy_errors(random_graph):
    with pytest.raises(
        ValueError, match=r"`x` must be a node signal of shape \[N, F\]"
    ):
        dirichlet_energy(torch.randn(3), random_graph)
    with pytest.raises(ValueError, match="`normalization` must be one of"):
        dirichlet_energy(
            torch.randn(random_graph.num_nodes, 1), random_graph, normalization="l2"
        )
    with pytest.raises(ValueError, match="`edge_weight` must have shape"):
        dirichlet_energy(
            torch.randn(random_graph.num_nodes, 1),
            random_graph,
            edge_weight=torch.ones(2),
        )
    with pytest.raises(
        ValueError,
        match=r"dirichlet_energy: `edge_weight` must have shape \[M\]=\[\d+\]; got "
        r"list \[1\.0\]\. Pass one weight per undirected edge",
    ):
        dirichlet_energy(
            torch.randn(random_graph.num_nodes, 1), random_graph, edge_weight=[1.0]
        )
    with pytest.raises(ValueError, match="needs `graph`"):
        mean_average_distance(torch.randn(4, 2), mask="neighbors")
    with pytest.raises(ValueError, match="`mask` must be"):
        mean_average_distance(torch.randn(4, 2), mask="some")
    with pytest.raises(ValueError, match=r"`x` must be \[N, F\]"):
        mean_average_distance(torch.randn(4))
