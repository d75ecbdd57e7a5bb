"""Graph construction, canonical form, validation errors and conversions."""

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphops import Graph


def test_canonical_form_stores_each_edge_once():
    ei = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]])
    g = Graph(ei)
    assert g.num_nodes == 3 and g.num_edges == 3
    assert torch.equal(g.edge_index, torch.tensor([[0, 0, 1], [1, 2, 2]]))
    assert torch.equal(g.edge_weight, torch.ones(3))
    assert g.directed_edge_index.shape == (2, 6)
    assert not g.weighted
    assert "num_edges=3" in repr(g)


def test_duplicates_are_summed_and_loops_dropped():
    ei = torch.tensor([[0, 0, 1, 1, 2], [1, 1, 0, 0, 2]])
    w = torch.tensor([1.0, 2.0, 0.5, 2.5, 7.0])
    g = Graph(ei, 3, w)
    assert g.num_edges == 1
    assert g.edge_weight.tolist() == [3.0]


def test_symmetrize_takes_max_of_directions():
    ei = torch.tensor([[0, 1, 2], [1, 0, 1]])
    w = torch.tensor([1.0, 3.0, 2.0])
    g = Graph(ei, 4, w, directed="symmetrize")
    assert g.edge_index.tolist() == [[0, 1], [1, 2]]
    assert g.edge_weight.tolist() == [3.0, 2.0]
    assert g.num_nodes == 4  # isolated node kept


def test_empty_graph_and_isolated_nodes():
    g = Graph(torch.empty(2, 0, dtype=torch.long), 5)
    assert g.num_edges == 0 and g.num_nodes == 5
    assert g.degree().tolist() == [0.0] * 5


def test_weight_gradient_flows_through_coalescing():
    ei = torch.tensor([[0, 1, 0], [1, 0, 1]])
    w = torch.tensor([1.0, 2.0, 1.0], requires_grad=True)
    g = Graph(ei, 2, w)
    g.edge_weight.sum().backward()
    assert torch.allclose(w.grad, torch.full((3,), 0.5))


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(edge_index=[[0, 1], [1, 0]]), TypeError, "integer tensor"),
        (
            dict(edge_index=torch.tensor([[0.0, 1.0], [1.0, 0.0]])),
            TypeError,
            "integer dtype",
        ),
        (dict(edge_index=torch.tensor([0, 1])), ValueError, r"shape \[2, E\]"),
        (
            dict(edge_index=torch.tensor([[0, 57], [57, 0]]), num_nodes=50),
            ValueError,
            "refers to node 57 but `num_nodes`=50",
        ),
        (
            dict(edge_index=torch.tensor([[0, -1], [-1, 0]]), num_nodes=5),
            ValueError,
            "non-negative node ids",
        ),
        (
            dict(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=-1),
            ValueError,
            r"Graph: `num_nodes` must be an int >= 0; got -1\. Pass the node count",
        ),
        (
            dict(edge_index=torch.tensor([[0, 1], [1, 0]]), num_nodes=2.0),
            TypeError,
            r"Graph: `num_nodes` must be an int; got float 2\.0",
        ),
        (
            dict(edge_index=torch.tensor([[0, 1], [1, 0]]), edge_weight=torch.ones(3)),
            ValueError,
            r"shape \[E\]=\[2\]",
        ),
        (
            dict(
                edge_index=torch.tensor([[0, 1], [1, 0]]),
                edge_weight=torch.tensor([1.0, float("nan")]),
            ),
            ValueError,
            "must be finite",
        ),
        (
            dict(
                edge_index=torch.tensor([[0, 1], [1, 0]]),
                edge_weight=torch.tensor([-1.0, -1.0]),
            ),
            ValueError,
            "must be >= 0",
        ),
        (
            dict(edge_index=torch.tensor([[0, 1], [1, 1]]), self_loops="error"),
            ValueError,
            "no self-loops allowed",
        ),
        (
            dict(edge_index=torch.tensor([[0], [1]])),
            ValueError,
            r"\(0, 1\) without \(1, 0\)",
        ),
        (
            dict(
                edge_index=torch.tensor([[0, 1], [1, 0]]),
                edge_weight=torch.tensor([1.0, 2.0]),
            ),
            ValueError,
            "equal weights in both directions",
        ),
        (
            dict(edge_index=torch.tensor([[0, 1], [1, 0]]), directed="maybe"),
            ValueError,
            "`directed` must be one of",
        ),
        (
            dict(edge_index=torch.tensor([[0, 1], [1, 0]]), self_loops="keep"),
            ValueError,
            "`self_loops` must be one of",
        ),
    ],
)
def test_validation_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Graph(**kwargs)


def test_immutable():
    g = Graph(torch.tensor([[0, 1], [1, 0]]))
    with pytest.raises(AttributeError, match="Graph is immutable"):
        g.num_nodes = 3


def test_scipy_round_trip(random_graph):
    a = random_graph.to_scipy()
    assert (abs(a - a.T)).max() == 0
    g2 = Graph.from_scipy(a)
    assert torch.equal(g2.edge_index, random_graph.edge_index)
    assert torch.allclose(g2.edge_weight, random_graph.edge_weight)
    assert torch.allclose(random_graph.to_dense(), torch.from_numpy(a.toarray()))


def test_from_scipy_errors():
    with pytest.raises(TypeError, match="scipy sparse matrix or numpy"):
        Graph.from_scipy([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="must be square"):
        Graph.from_scipy(sp.random(3, 4, density=0.5))


def test_from_dense_and_errors():
    a = torch.tensor([[0.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    g = Graph.from_dense(a)
    assert g.edge_weight.tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="square 2-D tensor"):
        Graph.from_dense(torch.ones(2, 3))


def test_from_networkx_matches_edges():
    nx = pytest.importorskip("networkx")
    gnx = nx.karate_club_graph()
    g = Graph.from_networkx(gnx, weight=None)
    assert g.num_nodes == 34 and g.num_edges == 78
    gw = Graph.from_networkx(gnx)  # karate edges carry a "weight" attribute
    assert gw.weighted
    ref = nx.to_scipy_sparse_array(gnx, weight="weight")
    assert np.allclose(gw.to_scipy().toarray(), ref.toarray())
    with pytest.raises(TypeError, match="must be a networkx graph"):
        Graph.from_networkx(42)


def test_from_pyg_duck_typed():
    data = SimpleNamespace(
        edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]),
        num_nodes=4,
        edge_attr=torch.tensor([1.0, 1.0, 3.0, 3.0]),
    )
    g = Graph.from_pyg(data)
    assert g.num_nodes == 4 and g.edge_weight.tolist() == [1.0, 3.0]
    with pytest.raises(TypeError, match="needs an `edge_index`"):
        Graph.from_pyg(object())


def test_to_device_and_dtype(random_graph):
    g32 = random_graph.to(dtype=torch.float32)
    assert g32.dtype == torch.float32 and g32.edge_index is random_graph.edge_index
    assert random_graph.to("cpu") is random_graph
    with pytest.raises(TypeError, match="floating dtype"):
        random_graph.to(dtype=torch.int64)
