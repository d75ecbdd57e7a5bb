"""Catalogue of hostile inputs to graphops (issue 7): each gives a clear error.

Every case is one line of a table: an id, a callable that should fail, the exception
type and a ``match=`` pattern for its message. The tables are grouped by what is
attacked (Graph, operators, spectral, energy, datasets, user arrays and ``.npz``
files). A hypothesis test at the end
fuzzes edge lists, weights and ``num_nodes`` into ``Graph`` + ``Laplacian``: either
the Laplacian identities hold or a ``TypeError``/``ValueError`` is raised.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphops import (
    Adjacency,
    Divergence,
    Gradient,
    Graph,
    Laplacian,
    dirichlet_energy,
    edge_homophily,
    lam_max,
    mean_average_distance,
    use_backend,
)
from graphops.datasets import GraphDataset, from_arrays, load, load_npz
from graphops.graph import MAX_NUM_NODES

from dataset_helpers import copy_dataset

NAN, INF = float("nan"), float("inf")


def _ei(*pairs: tuple[int, int]) -> torch.Tensor:
    """``edge_index`` holding ``pairs`` as listed (directed)."""
    return torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2).T.contiguous()


def _path3() -> Graph:
    return Graph(_ei((0, 1), (1, 0), (1, 2), (2, 1)))


def _lap_nan(value: float) -> Laplacian:
    """A Laplacian whose second weight is ``value``, built without validation."""
    return Laplacian(_path3(), edge_weight=torch.tensor([1.0, value]), validate=False)


def _x(dtype: torch.dtype, rows: int = 3) -> torch.Tensor:
    return torch.ones(rows, 1).to(dtype)


# -- Graph construction ----------------------------------------------------------------
GRAPH_CASES = [
    ("list-edge-index", lambda: Graph([[0, 1], [1, 0]]), TypeError, "integer tensor"),
    ("float-edge-index", lambda: Graph(torch.tensor([[0.0, 1], [1, 0]])), TypeError,
     "integer dtype"),
    ("bool-edge-index", lambda: Graph(torch.ones(2, 2, dtype=torch.bool)), TypeError,
     "integer dtype"),
    ("complex-edge-index", lambda: Graph(torch.ones(2, 2, dtype=torch.complex64)),
     TypeError, "integer dtype"),
    ("E-by-2", lambda: Graph(torch.tensor([[0, 1], [1, 0], [1, 2]])), ValueError,
     r"shape \[2, E\]"),
    ("1-d", lambda: Graph(torch.tensor([0, 1])), ValueError, r"shape \[2, E\]"),
    ("3-d", lambda: Graph(torch.zeros(2, 1, 1, dtype=torch.int64)), ValueError,
     r"shape \[2, E\]"),
    ("negative-id", lambda: Graph(_ei((0, -1), (-1, 0))), ValueError, "non-negative"),
    ("id-beyond-n", lambda: Graph(_ei((0, 5), (5, 0)), num_nodes=3), ValueError,
     r"refers to node 5 but `num_nodes`=3"),
    ("num-nodes-str", lambda: Graph(_ei((0, 1), (1, 0)), num_nodes="3"), TypeError,
     "`num_nodes` must be an int"),
    ("num-nodes-float", lambda: Graph(_ei((0, 1), (1, 0)), num_nodes=3.0), TypeError,
     "`num_nodes` must be an int"),
    ("num-nodes-bool", lambda: Graph(_ei((0, 1), (1, 0)), num_nodes=True), TypeError,
     "`num_nodes` must be an int"),
    ("num-nodes-negative", lambda: Graph(_ei(), num_nodes=-1), ValueError, ">= 0"),
    ("num-nodes-1e12", lambda: Graph(_ei((0, 1), (1, 0), (1, 2)), num_nodes=10**12),
     ValueError, r"`num_nodes` must be <= 2\*\*31 .*got 1000000000000"),
    ("num-nodes-above-limit", lambda: Graph(_ei(), num_nodes=MAX_NUM_NODES + 1),
     ValueError, r"<= 2\*\*31"),
    ("ids-beyond-limit", lambda: Graph(_ei((0, 4 * 10**9), (4 * 10**9, 0))),
     ValueError, r"<= 2\*\*31 .*got 4000000001"),
    ("meta-edge-index", lambda: Graph(_ei((0, 1), (1, 0)).to("meta")), ValueError,
     r"meta device .*graph\.to\(\"meta\"\)"),
    ("one-direction", lambda: Graph(_ei((0, 1))), ValueError,
     r"got \(0, 1\) without \(1, 0\)"),
    ("duplicate-one-direction", lambda: Graph(_ei((0, 1), (0, 1), (1, 0))),
     ValueError, r"\(0, 1\) 2 time\(s\) but \(1, 0\) 1 time\(s\).*duplicate"),
    ("unequal-weights", lambda: Graph(_ei((0, 1), (1, 0)), edge_weight=[1.0, 2.0]),
     ValueError, r"equal weights in both directions; got w\(0, 1\)=1\.0"),
    ("self-loop-error", lambda: Graph(_ei((1, 1)), self_loops="error"), ValueError,
     "no self-loops allowed"),
    ("directed-typo", lambda: Graph(_ei(), directed="sym"), ValueError,
     "`directed` must be one of"),
    ("self-loops-typo", lambda: Graph(_ei(), self_loops="keep"), ValueError,
     "`self_loops` must be one of"),
    ("weight-nan", lambda: Graph(_ei((0, 1), (1, 0)), edge_weight=[NAN, NAN]),
     ValueError, "must be finite; got nan"),
    ("weight-inf", lambda: Graph(_ei((0, 1), (1, 0)), edge_weight=[INF, INF]),
     ValueError, "must be finite; got inf"),
    ("weight-negative", lambda: Graph(_ei((0, 1), (1, 0)), edge_weight=[-1.0, -1.0]),
     ValueError, ">= 0"),
    ("weight-shape", lambda: Graph(_ei((0, 1), (1, 0)), edge_weight=[1.0]),
     ValueError, r"shape \[E\]=\[2\]"),
    ("weight-device", lambda: Graph(_ei((0, 1), (1, 0)),
                                    edge_weight=torch.ones(2, device="meta")),
     ValueError, "is on meta"),
    ("to-int-dtype", lambda: _path3().to(torch.int64), TypeError,
     "must be a floating dtype"),
    ("immutable", lambda: setattr(_path3(), "num_nodes", 4), AttributeError,
     "immutable"),
    ("from-scipy-list", lambda: Graph.from_scipy([[0, 1], [1, 0]]), TypeError,
     "scipy sparse matrix or numpy array"),
    ("from-scipy-nonsquare", lambda: Graph.from_scipy(np.ones((2, 3))), ValueError,
     "must be square"),
    ("from-dense-nonsquare", lambda: Graph.from_dense(torch.ones(2, 3)), ValueError,
     "square 2-D tensor"),
    ("from-networkx-int", lambda: Graph.from_networkx(5), TypeError,
     "must be a networkx graph"),
    ("from-pyg-int", lambda: Graph.from_pyg(5), TypeError, "`edge_index` attribute"),
]

# -- operators: construction and application -------------------------------------------
OPERATOR_CASES = [
    ("x-float16", lambda: Laplacian(_path3()) @ _x(torch.float16), TypeError,
     r"Laplacian\(normalization=None\): `x` must be float32 or float64 .*float16.*"
     r"x\.to\(op\.dtype\)"),
    ("x-bfloat16", lambda: Laplacian(_path3()) @ _x(torch.bfloat16), TypeError,
     "bfloat16"),
    ("x-int64", lambda: Laplacian(_path3()) @ _x(torch.int64), TypeError,
     r"got dtype torch\.int64"),
    ("x-int32", lambda: Adjacency(_path3()) @ _x(torch.int32), TypeError,
     r"Adjacency\(normalization=None\): .*int32"),
    ("x-bool", lambda: Laplacian(_path3()) @ _x(torch.bool), TypeError,
     r"got dtype torch\.bool"),
    ("x-uint8", lambda: Gradient(_path3()) @ _x(torch.uint8), TypeError,
     r"Gradient\(\): .*uint8"),
    ("x-half-edge-op", lambda: Divergence(_path3()) @ _x(torch.float16, rows=2),
     TypeError, r"Divergence\(\): .*float16"),
    ("x-half-op-half", lambda: Laplacian(_path3().to(torch.float16)) @ _x(
        torch.float16), TypeError, "float16"),
    ("x-shape-rows", lambda: Laplacian(_path3()) @ torch.ones(2, 1), ValueError,
     r"node signal of shape \[3, F\]; got \(2, 1\)"),
    ("x-1d", lambda: Laplacian(_path3()) @ torch.ones(3), ValueError,
     r"x\.unsqueeze\(-1\)"),
    ("x-3d", lambda: Laplacian(_path3()) @ torch.ones(3, 1, 1), ValueError,
     r"got \(3, 1, 1\)"),
    ("x-numpy", lambda: Laplacian(_path3()) @ np.ones((3, 1)), ValueError,
     "an array of shape"),
    ("x-edge-for-node", lambda: Gradient(_path3()) @ torch.ones(2, 1), ValueError,
     r"node signal of shape \[3, F\]"),
    ("x-node-for-edge", lambda: Divergence(_path3()) @ torch.ones(3, 1), ValueError,
     r"edge signal of shape \[2, F\]"),
    ("x-meta", lambda: Laplacian(_path3()) @ torch.ones(3, 1, device="meta"),
     ValueError, "`x` is on meta"),
    ("bad-normalization", lambda: Laplacian(_path3(), normalization="foo"),
     ValueError, "`normalization` must be one of"),
    ("weight-int", lambda: Laplacian(_path3(), edge_weight=torch.ones(2, dtype=int)),
     TypeError, "must be a floating tensor"),
    ("weight-list", lambda: Gradient(_path3(), edge_weight=[1.0, 1.0]), TypeError,
     "must be a floating tensor"),
    ("weight-shape", lambda: Laplacian(_path3(), edge_weight=torch.ones(3)),
     ValueError, r"shape \[M\]=\[2\]"),
    ("weight-nan", lambda: Laplacian(_path3(), edge_weight=torch.tensor([1.0, NAN])),
     ValueError, "finite and >= 0; got nan"),
    ("weight-inf", lambda: Adjacency(_path3(), edge_weight=torch.tensor([1.0, INF])),
     ValueError, "finite and >= 0; got inf"),
    ("weight-negative", lambda: Gradient(_path3(), edge_weight=torch.tensor([1.0, -2])),
     ValueError, "finite and >= 0; got -2"),
]

# -- spectral --------------------------------------------------------------------------
SPECTRAL_CASES = [
    ("max-iters-0", lambda: lam_max(Laplacian(_path3()), max_iters=0), ValueError,
     r"`max_iters` must be an int >= 1; got 0"),
    ("max-iters-negative", lambda: lam_max(Laplacian(_path3()), max_iters=-5),
     ValueError, ">= 1"),
    ("max-iters-float", lambda: lam_max(Laplacian(_path3()), max_iters=10.0),
     TypeError, "`max_iters` must be an int"),
    ("tol-0", lambda: lam_max(Laplacian(_path3()), tol=0.0), ValueError, "`tol`"),
    ("tol-nan", lambda: lam_max(Laplacian(_path3()), tol=NAN), ValueError, "`tol`"),
    ("seed-negative", lambda: lam_max(Laplacian(_path3()), seed=-1), ValueError,
     "`seed`"),
    ("method-typo", lambda: lam_max(Laplacian(_path3()), method="arnoldi"),
     ValueError, "`method` must be one of"),
    ("edge-operator", lambda: lam_max(Gradient(_path3())), ValueError,
     "node -> node"),
    ("lanczos-nonsymmetric", lambda: lam_max(Laplacian(_path3(), "rw")), ValueError,
     "needs a symmetric operator"),
    ("nan-lanczos", lambda: lam_max(_lap_nan(NAN)), ValueError,
     r"finite values; got a non-finite estimate \(nan\)"),
    ("nan-power", lambda: lam_max(_lap_nan(NAN), method="power"), ValueError,
     "non-finite estimate"),
    ("nan-gershgorin", lambda: lam_max(_lap_nan(NAN), method="gershgorin"),
     ValueError, "non-finite estimate"),
    ("inf-lanczos", lambda: lam_max(_lap_nan(INF)), ValueError,
     "non-finite estimate"),
    ("inf-gershgorin", lambda: lam_max(_lap_nan(INF), method="gershgorin"),
     ValueError, r"non-finite estimate \(inf\)"),
]

# -- energy ----------------------------------------------------------------------------
ENERGY_CASES = [
    ("dirichlet-int-x", lambda: dirichlet_energy(_x(torch.int64), _path3()),
     TypeError, r"`x` must be a real floating tensor; got dtype torch\.int64"),
    ("dirichlet-sym-int-x", lambda: dirichlet_energy(
        _x(torch.int64), _path3(), normalization="sym"), TypeError, "real floating"),
    ("dirichlet-complex-x", lambda: dirichlet_energy(_x(torch.complex128), _path3()),
     TypeError, "real floating"),
    ("dirichlet-1d", lambda: dirichlet_energy(torch.ones(3), _path3()), ValueError,
     r"shape \[N, F\] = \[3, F\]"),
    ("dirichlet-none-norm", lambda: dirichlet_energy(
        torch.ones(3, 1), _path3(), normalization="none"), ValueError,
     "normalization"),
    ("mad-int-x", lambda: mean_average_distance(_x(torch.int64)), TypeError,
     "mean_average_distance: `x` must be a real floating tensor"),
    ("mad-1d", lambda: mean_average_distance(torch.ones(3)), ValueError,
     r"must be \[N, F\]"),
    ("mad-mask-typo", lambda: mean_average_distance(torch.ones(3, 1), mask="nbrs"),
     ValueError, "`mask` must be"),
    ("mad-neighbors-no-graph", lambda: mean_average_distance(
        torch.ones(3, 1), mask="neighbors"), ValueError, "needs `graph`"),
    ("homophily-float-y", lambda: edge_homophily(_path3(), torch.zeros(3)),
     TypeError, "integer label tensor"),
    ("homophily-shape", lambda: edge_homophily(_path3(), torch.zeros(4, dtype=int)),
     ValueError, r"shape \[N=3\]"),
    ("homophily-no-edges", lambda: edge_homophily(
        Graph(_ei(), num_nodes=2), torch.zeros(2, dtype=int)), ValueError,
     "without edges"),
]


# -- datasets: the GraphDataset container ---------------------------------------------
def _dataset(**override):
    """A valid 3-node dataset with ``override`` applied to its fields."""
    fields = dict(
        name="toy",
        graph=_path3(),
        x=torch.ones(3, 2),
        y=torch.tensor([0, 1, 0]),
        train_mask=torch.tensor([True, False, False]),
        val_mask=torch.tensor([False, True, False]),
        test_mask=torch.tensor([False, False, True]),
        num_classes=2,
    )
    fields.update(override)
    return GraphDataset(**fields)


_T, _F = True, False
DATASET_CASES = [
    ("x-nan", lambda: _dataset(x=torch.tensor([[1.0, 0], [NAN, 0], [0, 0]])),
     ValueError, r"`x` must be finite; got nan at node 1, feature 0 \(1 non-finite"),
    ("x-inf", lambda: _dataset(x=torch.tensor([[1.0, 0], [0, 0], [0, -INF]])),
     ValueError, r"got -inf at node 2, feature 1"),
    ("x-int", lambda: _dataset(x=torch.ones(3, 2, dtype=int)), TypeError,
     "floating tensor"),
    ("x-rows", lambda: _dataset(x=torch.ones(4, 2)), ValueError, "one row per node"),
    ("train-empty", lambda: _dataset(train_mask=torch.zeros(3, dtype=torch.bool)),
     ValueError, "all-False train mask in split 0"),
    ("train-empty-split-1", lambda: _dataset(
        train_mask=torch.tensor([[_T, _F], [_F, _F], [_F, _F]]),
        val_mask=torch.tensor([[_F, _F], [_T, _T], [_F, _F]]),
        test_mask=torch.tensor([[_F, _F], [_F, _F], [_T, _T]])),
     ValueError, "in split 1"),
    ("train-val-overlap", lambda: _dataset(val_mask=torch.tensor([_T, _T, _F])),
     ValueError, r"`train_mask` and `val_mask` must be disjoint; got node 0"),
    ("train-test-overlap", lambda: _dataset(test_mask=torch.tensor([_T, _F, _T])),
     ValueError, r"`train_mask` and `test_mask` must be disjoint"),
    ("val-test-overlap", lambda: _dataset(test_mask=torch.tensor([_F, _T, _T])),
     ValueError, r"`val_mask` and `test_mask` must be disjoint; got node 1"),
    ("mask-int", lambda: _dataset(train_mask=torch.tensor([1, 0, 0])), TypeError,
     "must be a bool tensor"),
    ("mask-shapes", lambda: _dataset(val_mask=torch.zeros(3, 2, dtype=torch.bool)),
     ValueError, "same shape"),
    ("label-range", lambda: _dataset(y=torch.tensor([0, 1, 2])), ValueError,
     r"labels must lie in \[0, num_classes=2\)"),
    ("y-float", lambda: _dataset(y=torch.zeros(3)), TypeError, "int64"),
    ("num-classes-0", lambda: _dataset(num_classes=0), ValueError,
     "positive int"),
    ("graph-not-graph", lambda: _dataset(graph="cora"), TypeError,
     "graphops Graph"),
]


# -- datasets: user arrays (bring your own graph) --------------------------------------
def _byog(**override):
    """from_arrays on a valid 3-node path with ``override`` applied."""
    fields = dict(
        x=np.ones((3, 2)),
        y=np.array([0, 1, 0]),
        edge_index=np.array([[0, 1], [1, 2]]),
        train_mask=np.array([1, 0, 0]),
        val_mask=np.array([0, 1, 0]),
        test_mask=np.array([0, 0, 1]),
    )
    fields.update(override)
    return from_arrays(**fields)


BYOG_CASES = [
    ("mask-as-indices", lambda: _byog(train_mask=np.array([0, 2])), ValueError,
     r"looks like node indices; convert with mask = np\.zeros\(N, bool\)"),
    ("edge-beyond-n", lambda: _byog(edge_index=np.array([[0, 3]])), ValueError,
     r"`edge_index` must hold node ids in \[0, N=3\)"),
    ("edge-fraction", lambda: _byog(edge_index=np.array([[0.0, 1.5], [1, 2]])),
     ValueError, r"node ids \(whole numbers\); got 1\.5"),
    ("x-overflow-float32", lambda: _byog(x=np.full((3, 2), 1e39)), ValueError,
     r"overflows to inf"),
    ("labels-multi-hot", lambda: _byog(y=np.ones((3, 2))), ValueError,
     "exactly one 1"),
    ("labels-negative", lambda: _byog(y=np.array([0, -1, 0])), ValueError,
     "class indices >= 0"),
    ("ragged-list", lambda: _byog(x=[[1.0, 2.0], [3.0], [4.0, 5.0]]), ValueError,
     "ragged"),
]

ALL_CASES = [
    pytest.param(fn, exc, match, id=f"{group}-{case_id}")
    for group, table in (
        ("graph", GRAPH_CASES),
        ("operator", OPERATOR_CASES),
        ("spectral", SPECTRAL_CASES),
        ("energy", ENERGY_CASES),
        ("dataset", DATASET_CASES),
        ("byog", BYOG_CASES),
    )
    for case_id, fn, exc, match in table
]


@pytest.mark.parametrize(("fn", "exc", "match"), ALL_CASES)
def test_hostile_input(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize("dtype", [torch.int64, torch.float16])
def test_gather_backend_refuses_instead_of_truncating(dtype):
    """The gather backend computed an int ``x`` in integer arithmetic before."""
    op = Laplacian(_path3(), edge_weight=torch.tensor([0.5, 0.25]))
    with use_backend("gather"), pytest.raises(TypeError, match="x.to"):
        op @ _x(dtype)


def test_complex_signal_still_exact():
    """Complex signals stay allowed: a real operator applied to re and im parts."""
    op = Laplacian(_path3(), edge_weight=torch.tensor([0.5, 0.25]))
    z = torch.randn(3, 2, dtype=torch.complex128)
    ref = op.to_dense() @ z.real + 1j * (op.to_dense() @ z.imag)
    torch.testing.assert_close(op @ z, ref)


def test_duplicate_both_directions_still_summed():
    """A duplicate listed in both directions is documented coalescing, not an error."""
    g = Graph(_ei((0, 1), (0, 1), (1, 0), (1, 0)))
    assert g.edge_weight.tolist() == [2.0]


def test_meta_graph_by_moving():
    """The route the meta-device message recommends works."""
    g = _path3().to("meta")
    assert g.device.type == "meta" and g.num_nodes == 3


def test_large_ids_below_limit_are_exact():
    """Ids near the limit canonicalise exactly (no int64 key overflow)."""
    big = MAX_NUM_NODES - 1
    g = Graph(_ei((0, big), (big, 0), (5, big), (big, 5)), num_nodes=MAX_NUM_NODES)
    assert g.edge_index.tolist() == [[0, 5], [big, big]]


# -- datasets: damaged files on disk ---------------------------------------------------
def _edit_node_file(root, edit) -> None:
    path = root / "geom-gcn/new_data/cornell/out1_node_feature_label.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


@pytest.mark.parametrize(
    ("token", "match"),
    [("nan", r"`x` must be finite; got nan at node 0"),
     ("inf", r"`x` must be finite; got inf at node 0"),
     ("1e400", r"`x` must be finite; got inf at node 0")],
)
def test_nonfinite_feature_file(tmp_path, token, match):
    root = copy_dataset("cornell", tmp_path)
    _edit_node_file(root, lambda ls: [ls[0], ls[1].replace("0,", f"{token},", 1),
                                      *ls[2:]])
    with pytest.raises(ValueError, match=match):
        load("cornell", root)


def test_all_false_train_split_file(tmp_path):
    root = copy_dataset("cornell", tmp_path)
    path = root / "geom-gcn/splits/cornell_split_0.6_0.2_4.npz"
    with np.load(path) as z:
        masks = {k: z[k] for k in z}
    masks["train_mask"] = np.zeros_like(masks["train_mask"])
    with open(path, "wb") as fh:
        np.savez(fh, **masks)
    with pytest.raises(ValueError, match="all-False train mask in split 4"):
        load("cornell", root)


# -- datasets: hostile user .npz files -------------------------------------------------
def _npz_arrays(**override):
    arrays = dict(
        x=np.ones((3, 2)),
        y=np.array([0, 1, 0]),
        edge_index=np.array([[0, 1], [1, 2]]),
        train_mask=np.array([1, 0, 0]),
        val_mask=np.array([0, 1, 0]),
        test_mask=np.array([0, 0, 1]),
    )
    arrays.update(override)
    return arrays


class _Boom:
    """Would run code when unpickled; load_npz must never unpickle it."""

    def __reduce__(self):
        return (pytest.fail, ("load_npz unpickled an object array",))


@pytest.mark.parametrize(
    ("arrays", "exc", "match"),
    [
        pytest.param(_npz_arrays(y=np.array([0, 1, _Boom()], dtype=object)),
                     ValueError, r"key `y` of 'bad\.npz' must be a plain numeric array",
                     id="pickled-object-array"),
        pytest.param(_npz_arrays(x=np.array([["a", "b"]] * 3)), TypeError,
                     r"`x` \(in bad\.npz\) must be numeric", id="string-features"),
        pytest.param(_npz_arrays(edges=np.array([[0, 1]])), ValueError,
                     r"exactly one of the keys edge_index / edges", id="both-aliases"),
        pytest.param({"features": np.ones((3, 2))}, ValueError,
                     r"unknown keys \['features'\]", id="foreign-keys"),
        pytest.param(_npz_arrays(test_mask=np.array([[0, 0, 1]] * 2)), ValueError,
                     r"same number of splits", id="split-count-mismatch"),
    ],
)
def test_hostile_npz(tmp_path, arrays, exc, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(exc, match=match):
        load_npz(path)


def test_truncated_npz(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, **_npz_arrays())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"must be an \.npz archive of plain arrays"):
        load_npz(path)


# -- property test: Graph + Laplacian on fuzzed input ----------------------------------
_ids = st.integers(min_value=-2, max_value=12)
_weights = st.one_of(
    st.floats(min_value=0.0, max_value=1e6),
    st.sampled_from([0.0, 1.0, -1.0, NAN, INF, 1e-300]),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=st.lists(st.tuples(_ids, _ids), max_size=12),
    weights=st.one_of(st.none(), st.lists(_weights, min_size=0, max_size=14)),
    num_nodes=st.one_of(st.none(), st.integers(min_value=-1, max_value=14),
                        st.sampled_from([2**31 + 1, 10**12])),
    mode=st.sampled_from(["error", "symmetrize"]),
    mirror=st.booleans(),
)
def test_fuzz_graph_laplacian(pairs, weights, num_nodes, mode, mirror):
    """Identities of ``L = D - W`` hold, or a TypeError/ValueError is raised."""
    if mirror:
        pairs = pairs + [(j, i) for i, j in pairs]
        if weights is not None:
            weights = weights + weights
    ei = torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2).T
    w = None if weights is None else torch.tensor(weights, dtype=torch.float64)
    try:
        g = Graph(ei, num_nodes, w, directed=mode)
        op = Laplacian(g)
    except (TypeError, ValueError):
        return
    n = g.num_nodes
    dense = op.to_dense()
    torch.testing.assert_close(dense, dense.T)
    torch.testing.assert_close(op @ torch.ones(n, 1), torch.zeros(n, 1),
                               atol=1e-9 * (1 + float(g.edge_weight.sum())), rtol=0)
    x = torch.randn(n, 2)
    quad = float((x * (op @ x)).sum())
    scale = float(g.edge_weight.sum()) * float((x * x).sum()) + 1e-300
    assert quad >= -1e-12 * scale
    adj = g.to_scipy()
    ref = csgraph.laplacian(sp.csr_matrix(adj)).toarray()
    np.testing.assert_allclose(dense.numpy(), ref, rtol=1e-12,
                               atol=1e-12 * max(1.0, float(np.abs(ref).max(initial=0))))
    assert math.isfinite(lam_max(op, method="gershgorin"))
