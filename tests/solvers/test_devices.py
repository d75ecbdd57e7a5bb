"""Devices: graphs, operators and the terms that hold them move as one (``.to``).

A walker collects every tensor reachable from an object (attributes, slots,
containers, the index arrays inside CSR tensors), so a cache that a ``.to`` forgot
is found, not just the attributes a test thought of.
"""

from __future__ import annotations

import types

import pytest
import torch
from torch import nn

from graphops import (
    Adjacency,
    Divergence,
    Gradient,
    Graph,
    GraphOperator,
    Laplacian,
    lam_max,
)
from solvers import RK4, LinearTerm, SecondOrderTerm, Term, solve

_SKIP = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    torch.dtype,
    torch.device,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
)


def reachable_tensors(root: object) -> list[torch.Tensor]:
    """Every tensor reachable from ``root``; a CSR tensor counts as its 3 arrays."""
    seen: set[int] = set()
    found: list[torch.Tensor] = []
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if obj.layout == torch.sparse_csr:
                found += [obj.crow_indices(), obj.col_indices(), obj.values()]
            else:
                found.append(obj)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        else:
            stack.extend(getattr(obj, "__dict__", {}).values())
            for cls in type(obj).__mro__:
                for slot in getattr(cls, "__slots__", ()):
                    if hasattr(obj, slot):
                        stack.append(getattr(obj, slot))
    return found


def _warm_caches(g: Graph) -> list[GraphOperator]:
    """Operators on ``g`` with every lazy structure built (transposes, masks, CSR)."""
    ops = [Laplacian(g, "sym"), Adjacency(g, "gcn"), Gradient(g), Divergence(g)]
    x = torch.randn(g.num_nodes, 2)
    for op in ops:
        if op.domain == "node":
            op.matmul(x)
        if op.codomain == "node" and op.domain == "node":
            op.diagonal()
        # the lazily built transposes (and their permutations)
        op.adjoint().matmul(torch.randn(op.shape[0], 1))
    lam_max(ops[0])
    return ops


class _HoldsGraph(Term):
    """A learned diffusion that keeps its graph (not the usual `args` style)."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.graph = graph
        self.log_w = nn.Parameter(torch.zeros(graph.num_edges))

    def forward(self, t, y, args=None):
        return -(Laplacian(self.graph, edge_weight=self.log_w.exp()) @ y)


class _PerLayer(Term):
    """One operator per layer, kept in a list; layer k acts on [k, k + 1)."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.ops = [Laplacian(graph, "sym"), Laplacian(graph, "gcn")]
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, t, y, args=None):
        return -self.scale * (self.ops[min(int(t), 1)] @ y)


def _terms(g: Graph) -> dict[str, Term]:
    L = _warm_caches(g)[0]
    source = torch.randn(g.num_nodes, 2)
    return {
        "LinearTerm": LinearTerm(L, source=source),
        "SecondOrderTerm": SecondOrderTerm(operator=L),
        "term holding a graph": _HoldsGraph(g),
        "operators in a list": _PerLayer(g),
    }


TERMS = ["LinearTerm", "SecondOrderTerm", "term holding a graph", "operators in a list"]


@pytest.mark.parametrize("name", TERMS)
def test_term_to_dtype_leaves_no_tensor_behind(random_graph, name):
    term = _terms(random_graph)[name]
    before = reachable_tensors(term)
    assert any(t.dtype == torch.float64 for t in before)
    assert term.to(torch.float32) is term
    after = reachable_tensors(term)
    floats = [t for t in after if t.is_floating_point()]
    assert floats and all(t.dtype == torch.float32 for t in floats)
    # index tensors kept their integer dtype
    assert any(t.dtype == torch.int64 for t in after)
    y = torch.randn(random_graph.num_nodes, 2, dtype=torch.float32)
    if name == "SecondOrderTerm":
        assert term(0.0, (y, y))[1].dtype == torch.float32
    else:
        assert term(0.0, y).dtype == torch.float32
        sol = solve(term, RK4(), y0=y, t1=0.1, dt0=0.05)
        assert sol.ys.dtype == torch.float32
    # and back, through nn.Module.double()
    term.double()
    floats = [t for t in reachable_tensors(term) if t.is_floating_point()]
    assert all(t.dtype == torch.float64 for t in floats)


@pytest.mark.parametrize("name", TERMS)
def test_term_to_meta_leaves_no_tensor_behind(random_graph, name):
    term = _terms(random_graph)[name]
    term.to("meta")
    tensors = reachable_tensors(term)
    assert tensors and all(t.device.type == "meta" for t in tensors)


def test_term_move_keeps_sharing_and_cached_numbers(random_graph):
    L = _warm_caches(random_graph)[0]
    lam = lam_max(L)
    term = LinearTerm(L).to(torch.float32).to("meta")
    op = term.operator(0.0, None)
    assert op is not L and op.device.type == "meta" and op.dtype == torch.float32
    # the operator's pattern is still the one cached on its (moved) graph
    cached = [v[0] for v in op.graph._cache.values() if isinstance(v, tuple)]
    assert any(op.pattern is p for p in cached)
    assert op.csr() is not None and op.csr().device.type == "meta"
    # a device move keeps lam_max; a dtype change drops it (recomputed on demand)
    moved = L.to("meta")
    assert moved.cache[("lam_max", "lanczos", 300, 1e-10, 0)] == lam
    keys = L.to(torch.float32).cache
    assert not any(isinstance(k, tuple) and k[0] == "lam_max" for k in keys)


def test_operator_and_graph_to(random_graph):
    ops = _warm_caches(random_graph)
    for op in ops:
        assert op.to("cpu") is op and op.to(dtype=torch.float64) is op
        m = op.to("meta")
        assert all(t.device.type == "meta" for t in reachable_tensors(m))
        assert m.shape == op.shape and repr(m).endswith(("device=meta)", ").T"))
        f = op.to(torch.float32)
        x = torch.randn(op.shape[1], 2)
        assert torch.allclose(f @ x.float(), (op @ x).float(), atol=1e-5)
    g32 = random_graph.to(torch.float32)
    assert g32.dtype == torch.float32 and g32.edge_index is random_graph.edge_index
    gm = random_graph.to("meta")
    assert all(t.device.type == "meta" for t in reachable_tensors(gm))
    assert set(gm._cache) == set(random_graph._cache)
    with pytest.raises(TypeError, match=r"Laplacian.to: `dtype` must be a floating"):
        ops[0].to(dtype=torch.int64)
    with pytest.raises(TypeError, match=r"Graph.to: `dtype` must be a floating dtype"):
        random_graph.to(torch.int32)


def test_gradients_flow_through_a_moved_operator(random_graph):
    w = (torch.rand(random_graph.num_edges) + 0.5).requires_grad_()
    L = Laplacian(random_graph, edge_weight=w).to(torch.float32)
    (gw,) = torch.autograd.grad((L @ torch.ones(random_graph.num_nodes, 1)).sum(), w)
    assert gw.dtype == torch.float64


def test_user_operator_moves_through_the_protocol_default(path_graph):
    class Dense(GraphOperator):
        domain = codomain = "node"

        def __init__(self, graph, a):
            self.graph, self.a = graph, a

        def matmul(self, x, *, backend=None, out=None):
            return self.a @ x

        def adjoint(self):
            return self

        @property
        def is_symmetric(self):
            return True

        def to_dense(self):
            return self.a

        def to_scipy(self):
            raise AssertionError("not used")

    op = Dense(path_graph, torch.eye(10))
    term = LinearTerm(op).to("meta")
    assert all(t.device.type == "meta" for t in reachable_tensors(term))
    assert term.operator(0.0, None).a.device.type == "meta"


def test_operators_in_a_list_stay_shared_after_the_move(random_graph):
    term = _PerLayer(random_graph).to(torch.float32)
    a, b = term.ops
    assert a.dtype == b.dtype == torch.float32
    # both were built on one graph: one copy of it (and of its node pattern)
    assert a.graph is b.graph and a.pattern is b.pattern
