"""Tests for from_arrays and load_npz: bring your own graph (issue 9 section 1).

Round trips go through datasets built by the package's own generators (csbm,
karate_club) saved with every accepted key alias and layout; the symmetrised edge
set is checked against networkx; a hypothesis test compares from_arrays with the
same dataset built directly from Graph(directed="symmetrize") and GraphDataset.
Every error path has a ``match=`` test.
"""

from __future__ import annotations

import re

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphops import Graph
from graphops.datasets import GraphDataset, csbm, from_arrays, karate_club, load_npz


def _assert_same(got: GraphDataset, ref: GraphDataset) -> None:
    """Graph, features, labels, masks and class count are exactly equal."""
    assert torch.equal(got.graph.edge_index, ref.graph.edge_index)
    assert torch.equal(got.graph.edge_weight, ref.graph.edge_weight.to(got.x.dtype))
    assert got.graph.num_nodes == ref.graph.num_nodes
    assert torch.equal(got.x, ref.x.to(got.x.dtype))
    assert got.y.dtype == torch.int64 and torch.equal(got.y, ref.y)
    for a, b in zip(
        (got.train_mask, got.val_mask, got.test_mask),
        (ref.train_mask, ref.val_mask, ref.test_mask),
        strict=True,
    ):
        assert a.dtype == torch.bool and torch.equal(a, b)
    assert got.num_classes == ref.num_classes


def _edge_set(g: Graph) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in g.edge_index.T}


def _karate_splits(k: int) -> GraphDataset:
    """Karate club with identity features and ``k`` random disjoint splits."""
    g, y = karate_club(return_labels=True)
    rng = np.random.default_rng(k)
    # each column: a random permutation cut 10 / 10 / 14
    perms = np.stack([rng.permutation(34) for _ in range(k)], 1)
    masks = [np.zeros((34, k), bool) for _ in range(3)]
    for s in range(k):
        for m, idx in zip(masks, np.split(perms[:, s], [10, 20]), strict=True):
            m[idx, s] = True
    return GraphDataset(
        name="karate",
        graph=g,
        x=torch.eye(34),
        y=y,
        train_mask=torch.from_numpy(masks[0]),
        val_mask=torch.from_numpy(masks[1]),
        test_mask=torch.from_numpy(masks[2]),
        num_classes=2,
    )


def _numpy(ds: GraphDataset) -> dict[str, np.ndarray]:
    """The dataset's arrays, edges as the canonical ``[2, M]`` (each edge once)."""
    return {
        "x": ds.x.numpy(),
        "y": ds.y.numpy(),
        "edge_index": ds.graph.edge_index.numpy(),
        "train_mask": ds.train_mask.numpy(),
        "val_mask": ds.val_mask.numpy(),
        "test_mask": ds.test_mask.numpy(),
    }


def _tiny(**override):
    """A valid 4-node path dataset's arguments, with ``override`` applied."""
    kw = dict(
        x=np.eye(4),
        y=np.array([0, 0, 1, 1]),
        edge_index=np.array([[0, 1, 2], [1, 2, 3]]),
        train_mask=np.array([1, 0, 1, 0]),
        val_mask=np.array([0, 1, 0, 0]),
        test_mask=np.array([0, 0, 0, 1]),
    )
    kw.update(override)
    return kw


# -- round trips through .npz ---------------------------------------------------------
ALIASES = {
    "x": ("x", "node_features"),
    "y": ("y", "node_labels"),
    "edge_index": ("edge_index", "edges"),
    "train_mask": ("train_mask", "train_masks"),
    "val_mask": ("val_mask", "val_masks"),
    "test_mask": ("test_mask", "test_masks"),
}


@pytest.mark.parametrize("choice", [0, 1, 2], ids=["short", "long", "mixed"])
def test_npz_round_trip_every_alias(tmp_path, choice):
    ds = csbm(80, num_classes=3, num_features=5, seed=3)
    arrays = _numpy(ds)
    keys = {
        k: aliases[choice if choice < 2 else i % 2]
        for i, (k, aliases) in enumerate(ALIASES.items())
    }
    path = tmp_path / "my_graph.npz"
    np.savez(path, **{keys[k]: v for k, v in arrays.items()})
    got = load_npz(path, dtype=torch.float64)
    _assert_same(got, ds)
    assert got.name == "my_graph"


@pytest.mark.parametrize("edges", ["2E", "E2", "both-directions", "duplicated"])
@pytest.mark.parametrize("masks", ["N", "NK", "KN"])
def test_npz_round_trip_layouts(tmp_path, edges, masks):
    ds = _karate_splits(1 if masks == "N" else 4)
    arrays = _numpy(ds)
    ei = arrays["edge_index"]
    arrays["edge_index"] = {
        "2E": ei,
        "E2": ei.T,
        "both-directions": ds.graph.directed_edge_index.numpy(),
        "duplicated": np.concatenate([ei, ei[::-1], ei], 1).T,
    }[edges]
    for k in ("train_mask", "val_mask", "test_mask"):
        m = arrays[k]
        arrays[k] = {"N": m[:, 0], "NK": m, "KN": m.T}[masks]
    np.savez(tmp_path / "k.npz", **arrays, num_classes=np.int64(2))
    got = load_npz(str(tmp_path / "k.npz"), name="club", dtype=torch.float64)
    if masks == "N":
        ref = _karate_splits(1)
        ref = GraphDataset(
            name="club",
            graph=ref.graph,
            x=ref.x,
            y=ref.y,
            train_mask=ref.train_mask[:, 0],
            val_mask=ref.val_mask[:, 0],
            test_mask=ref.test_mask[:, 0],
            num_classes=2,
        )
        assert got.train_mask.shape == (34,)
    else:
        ref = ds
        assert got.num_splits == 4
    _assert_same(got, ref)
    assert got.name == "club" and got.num_edges == 78


def test_npz_float32_default_and_int_masks(tmp_path):
    ds = csbm(40, num_classes=2, num_features=3, seed=0)
    arrays = _numpy(ds)
    for k in ("train_mask", "val_mask", "test_mask"):
        arrays[k] = arrays[k].astype(np.uint8)
    arrays["edge_index"] = arrays["edge_index"].astype(np.int32)
    # through a handle: np.savez_compressed would append ".npz" to "c.NPZ"
    with open(tmp_path / "c.NPZ", "wb") as fh:
        np.savez_compressed(fh, **arrays)
    got = load_npz(tmp_path / "c.NPZ")
    assert got.x.dtype == torch.float32 and got.graph.dtype == torch.float32
    _assert_same(got, ds)


# -- from_arrays: accepted forms ------------------------------------------------------
def test_e2_and_2e_give_the_same_graph():
    ds = csbm(50, seed=1)
    a = _numpy(ds)
    two_e = from_arrays(**a)
    e_two = from_arrays(**{**a, "edge_index": a["edge_index"].T.copy()})
    assert torch.equal(two_e.graph.edge_index, e_two.graph.edge_index)
    assert torch.equal(two_e.graph.edge_index, ds.graph.edge_index)


def test_two_by_two_edge_index_is_read_as_2e():
    # columns are pairs: (0, 2) and (1, 3); read as [E, 2] it would be (0, 1), (2, 3)
    ds = from_arrays(**_tiny(edge_index=np.array([[0, 1], [2, 3]])))
    assert _edge_set(ds.graph) == {(0, 2), (1, 3)}


def test_kn_and_nk_masks_agree_and_square_is_nk():
    ds = _karate_splits(3)
    a = _numpy(ds)
    nk = from_arrays(**a, num_classes=2)
    kn = from_arrays(
        **{**a, **{k: a[k].T for k in ("train_mask", "val_mask", "test_mask")}}
    )
    _assert_same(nk, ds)
    _assert_same(kn, ds)
    # N = K = 3: a square mask is [N, K], column s is split s
    sq = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    got = from_arrays(
        x=np.ones((3, 1)),
        y=[0, 1, 0],
        edge_index=[[0, 1]],
        train_mask=sq,
        val_mask=np.roll(sq, 1, 0),
        test_mask=np.roll(sq, 2, 0),
    )
    assert got.num_splits == 3
    assert got.split(0)[0].tolist() == [True, False, False]
    assert got.split(0)[1].tolist() == [False, True, False]


def test_one_hot_labels():
    ds = csbm(60, num_classes=4, seed=2)
    a = _numpy(ds)
    one_hot = np.eye(4, dtype=np.float32)[a["y"]]
    _assert_same(from_arrays(**{**a, "y": one_hot}), ds)
    _assert_same(from_arrays(**{**a, "y": one_hot.astype(bool)}, num_classes=4), ds)
    # an absent last class still counts: C is the number of columns
    y = np.eye(3, dtype=np.int64)[[0, 1, 0, 1]]
    assert from_arrays(**_tiny(y=y)).num_classes == 3
    assert from_arrays(**_tiny()).num_classes == 2


def test_torch_and_list_inputs():
    ds = csbm(30, num_classes=2, num_features=4, seed=5)
    a = _numpy(ds)
    from_torch = from_arrays(
        x=ds.x.clone().requires_grad_(True),
        y=ds.y,
        edge_index=ds.graph.directed_edge_index,
        train_mask=ds.train_mask,
        val_mask=ds.val_mask,
        test_mask=ds.test_mask,
        dtype=torch.float64,
    )
    _assert_same(from_torch, ds)
    assert not from_torch.x.requires_grad
    from_lists = from_arrays(**{k: v.tolist() for k, v in a.items()})
    _assert_same(from_lists, ds)


def test_feature_dtypes():
    a = _tiny(x=np.array([[1, 0], [0, 2], [3, 0], [0, 4]], dtype=np.int32))
    ds = from_arrays(**a, dtype=torch.float64)
    assert ds.x.dtype == torch.float64 and ds.x[3, 1] == 4.0
    b = from_arrays(**_tiny(x=np.eye(4, dtype=bool)))
    assert b.x.dtype == torch.float32 and torch.equal(b.x, torch.eye(4).float())
    c = from_arrays(**_tiny(x=torch.eye(4, dtype=torch.bfloat16)))
    assert torch.equal(c.x, torch.eye(4).float())
    d = from_arrays(**_tiny(x=np.eye(4, dtype=np.uint64)), dtype=torch.float16)
    assert d.x.dtype == torch.float16 and d.graph.dtype == torch.float16
    # 2**24 is exact in float32
    e = from_arrays(**_tiny(x=np.full((4, 1), 2**24, dtype=np.int64)))
    assert int(e.x[0, 0]) == 2**24


def test_whole_number_float_ids_and_labels():
    ds = from_arrays(
        **_tiny(
            edge_index=np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]]),
            y=np.array([0.0, 0.0, 1.0, 1.0]),
            train_mask=np.array([True, False, True, False]),
        )
    )
    assert ds.y.tolist() == [0, 0, 1, 1]
    assert _edge_set(ds.graph) == {(0, 1), (1, 2), (2, 3)}


def test_empty_edge_list_and_self_loops_dropped():
    for empty in (np.zeros((2, 0), int), np.zeros((0, 2), int)):
        assert from_arrays(**_tiny(edge_index=empty)).num_edges == 0
    loops = np.array([[0, 1, 1, 2], [0, 1, 2, 2]])
    assert _edge_set(from_arrays(**_tiny(edge_index=loops)).graph) == {(1, 2)}


def test_against_networkx_symmetrised_edge_set():
    rng = np.random.default_rng(7)
    n = 40
    # directed pairs with duplicates, both directions of some, and self-loops
    pairs = rng.integers(0, n, size=(300, 2))
    ds = from_arrays(
        x=rng.normal(size=(n, 3)),
        y=rng.integers(0, 3, size=n),
        edge_index=pairs,
        train_mask=np.arange(n) < 20,
        val_mask=(np.arange(n) >= 20) & (np.arange(n) < 30),
        test_mask=np.arange(n) >= 30,
    )
    ref = nx.Graph()
    ref.add_nodes_from(range(n))
    ref.add_edges_from(map(tuple, pairs.tolist()))
    ref.remove_edges_from(list(nx.selfloop_edges(ref)))
    expected = {(min(i, j), max(i, j)) for i, j in ref.edges()}
    assert _edge_set(ds.graph) == expected
    assert ds.num_edges == ref.number_of_edges()
    assert torch.equal(ds.graph.edge_weight, torch.ones(ds.num_edges))
    assert ds.graph.degree().tolist() == [ref.degree(i) for i in range(n)]


@st.composite
def _problems(draw):
    n = draw(st.integers(1, 12))
    e = draw(st.integers(0, 30))
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                 min_size=e, max_size=e)
    )
    k = draw(st.integers(1, 3))
    # per node and split: 0 train, 1 val, 2 test, 3 none; node 0 trains in each
    roles = np.array(
        draw(st.lists(st.integers(0, 3), min_size=n * k, max_size=n * k))
    ).reshape(n, k)
    roles[0] = 0
    # a square [K, N] = [N, N] is read as [N, K] (documented; tested above)
    layouts = ["N", "NK"] if k == 1 else ["NK"]
    layouts += ["KN"] if k != n else []
    layout = draw(st.sampled_from(layouts))
    transpose_edges = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return n, pairs, roles, layout, transpose_edges, seed


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_problems())
def test_property_from_arrays_equals_direct_construction(problem):
    n, pairs, roles, layout, transpose_edges, seed = problem
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = rng.integers(0, 3, size=n)
    ei = torch.tensor(pairs, dtype=torch.int64).reshape(-1, 2).T
    masks = [roles == r for r in range(3)]
    if layout == "N":
        given_masks = [m[:, 0] for m in masks]
        ref_masks = [torch.from_numpy(m[:, 0].copy()) for m in masks]
    else:
        given_masks = [m if layout == "NK" else m.T for m in masks]
        ref_masks = [torch.from_numpy(m) for m in masks]
    got = from_arrays(
        x,
        y,
        # A [2, 2] array is read as [2, E] (documented), so only a non-square
        # edge list is passed transposed.
        ei.T.numpy() if transpose_edges and ei.shape[1] != 2 else ei.numpy(),
        *given_masks,
        dtype=torch.float64,
    )
    # reference: distinct directed pairs, then Graph symmetrises (max of the two
    # directions, so every weight is one) and drops the loops
    ref = GraphDataset(
        name="custom",
        graph=Graph(torch.unique(ei, dim=1), n, directed="symmetrize"),
        x=torch.from_numpy(x),
        y=torch.from_numpy(y),
        train_mask=ref_masks[0],
        val_mask=ref_masks[1],
        test_mask=ref_masks[2],
        num_classes=int(y.max()) + 1,
    )
    _assert_same(got, ref)


# -- errors ----------------------------------------------------------------------------
_T, _F = True, False
ERRORS = [
    # x
    ("x-1d", _tiny(x=np.ones(4)), ValueError,
     r"`x` must be node features \[N, F\] .*got shape \(4,\)\. For one feature"),
    ("x-3d", _tiny(x=np.ones((4, 1, 1))), ValueError, r"\[N, F\].*\(4, 1, 1\)"),
    ("x-no-rows", _tiny(x=np.ones((0, 3))), ValueError, r"N, F >= 1; got shape"),
    ("x-no-cols", _tiny(x=np.ones((4, 0))), ValueError, r"got shape \(4, 0\)"),
    ("x-nan", _tiny(x=np.array([[1.0], [np.nan], [0], [0]])), ValueError,
     r"`x` must be finite; got nan at node 1, feature 0 \(1 non-finite"),
    ("x-overflow", _tiny(x=np.full((4, 1), 1e300)), ValueError,
     r"must be finite in torch.float32; got 1e\+300 at node 0.*overflows to inf"),
    ("x-big-int", _tiny(x=np.full((4, 1), 2**24 + 1)), ValueError,
     r"exactly representable in torch.float32 \(\|value\| <= 16777216\); got "
     r"16777217"),
    ("x-str", _tiny(x=np.array([["a"]] * 4)), TypeError,
     r"`x` must be numeric \(bool, int or float\); got an array of shape"),
    ("x-complex", _tiny(x=torch.ones(4, 1, dtype=torch.complex64)), TypeError,
     r"`x` must be real"),
    ("x-meta", _tiny(x=torch.ones(4, 1, device="meta")), ValueError,
     "meta device"),
    ("x-ragged", _tiny(x=[[1.0], [2.0, 3.0], [0.0], [0.0]]), ValueError,
     r"`x` must be a rectangular array; got a ragged nested list"),
    ("x-none", _tiny(x=None), TypeError,
     r"`x` must be a numpy array, a torch tensor or a nested list; got NoneType"),
    # y
    ("y-length", _tiny(y=np.array([0, 1, 0])), ValueError,
     r"`y` must have one label per node, \[N=4\].*got shape \(3,\)"),
    ("y-3d", _tiny(y=np.zeros((4, 2, 1))), ValueError,
     r"`y` must be \[N\] class indices or one-hot \[N, C\]; got shape \(4, 2, 1\)"),
    ("y-negative", _tiny(y=np.array([0, -1, 1, 1])), ValueError,
     r"class indices >= 0; got -1 at node 1.*if -1 marks unlabelled"),
    ("y-fraction", _tiny(y=np.array([0, 0.5, 1, 1])), ValueError,
     r"`y` must hold class indices \(whole numbers\); got 0.5 at position \[1\]"),
    ("y-nan", _tiny(y=np.array([0, np.nan, 1, 1])), ValueError,
     r"got nan at position \[1\]"),
    ("y-one-column", _tiny(y=np.zeros((4, 1), int)), ValueError,
     r"C >= 2; got shape \(4, 1\), which is ambiguous\. Pass y\.reshape\(-1\)"),
    ("y-scores", _tiny(y=np.full((4, 2), 0.5)), ValueError,
     r"one-hot \(entries 0 or 1\); got 0.5 at node 0, column 0.*y\.argmax\(1\)"),
    ("y-multi-label", _tiny(y=np.array([[1, 0], [1, 1], [0, 1], [0, 1]])),
     ValueError, r"exactly one 1; got 2 at node 1 \(1 such rows"),
    ("y-no-label", _tiny(y=np.array([[1, 0], [0, 0], [0, 1], [0, 0]])),
     ValueError, r"exactly one 1; got 0 at node 1 \(2 such rows"),
    ("y-one-hot-rows", _tiny(y=np.eye(2, 4, dtype=int)), ValueError,
     r"must be \[N=4, C\].*got shape \(2, 4\) \(transpose it\)"),
    ("y-beyond-num-classes", dict(_tiny(), num_classes=1), ValueError,
     r"`y` must lie in \[0, num_classes=1\); got label 1 at node 2\. Pass "
     r"num_classes=2"),
    ("y-one-hot-num-classes", dict(_tiny(y=np.eye(3)[[0, 1, 2, 0]]), num_classes=4),
     ValueError, r"`num_classes` must equal the 3 columns of the one-hot `y`"),
    ("num-classes-float", dict(_tiny(), num_classes=2.0), TypeError,
     r"`num_classes` must be an int; got float 2\.0"),
    ("num-classes-zero", dict(_tiny(), num_classes=0), ValueError,
     r"`num_classes` must be an int >= 1; got 0"),
    # edge_index
    ("edges-1d", _tiny(edge_index=np.array([0, 1])), ValueError,
     r"`edge_index` must be an edge list \[2, E\] or \[E, 2\]; got shape \(2,\)"),
    ("edges-3-rows", _tiny(edge_index=np.zeros((3, 3), int)), ValueError,
     r"got shape \(3, 3\)\. For a dense \[N, N\] adjacency matrix"),
    ("edges-bool", _tiny(edge_index=np.ones((2, 3), bool)), TypeError,
     r"`edge_index` must hold integer node ids; got an array"),
    ("edges-fraction", _tiny(edge_index=np.array([[0, 1.5], [1, 2]])), ValueError,
     r"`edge_index` must hold node ids \(whole numbers\); got 1\.5 at position "
     r"\[0, 1\]"),
    ("edges-beyond-n", _tiny(edge_index=np.array([[0, 1], [1, 7]])), ValueError,
     r"node ids in \[0, N=4\) \(N = rows of `x`\); got node 7 in edge 1 \(1, 7\); "
     r"1 out-of-range"),
    ("edges-negative", _tiny(edge_index=np.array([[0, -1], [1, 2]])), ValueError,
     r"got node -1 in edge 1 \(-1, 2\)"),
    ("edges-uint64-huge", _tiny(edge_index=np.array([[0], [2**64 - 1]], np.uint64)),
     ValueError, r"node ids below 2\*\*63; got 18446744073709551615"),
    ("self-loop-error", dict(_tiny(edge_index=np.array([[0, 2], [1, 2]])),
                             self_loops="error"),
     ValueError, r"no self-loops with self_loops='error'; got \(2, 2\) in edge 1"),
    ("self-loops-bad", dict(_tiny(), self_loops="keep"), ValueError,
     r"`self_loops` must be one of \('drop', 'error'\); got 'keep'"),
    # masks
    ("mask-indices", _tiny(train_mask=np.array([0, 2])), ValueError,
     r"`train_mask` must be a boolean or 0/1 mask; got the value 2 .*looks like "
     r"node indices; convert with mask = np\.zeros\(N, bool\); mask\[idx\] = True"),
    ("mask-float", _tiny(val_mask=np.array([0, 0.5, 0, 0])), ValueError,
     r"`val_mask` must be a boolean or 0/1 mask; got the value 0\.5.*Threshold"),
    ("mask-length", _tiny(test_mask=np.array([0, 1])), ValueError,
     r"`test_mask` must have one entry per node, \[N=4\].*got shape \(2,\)\. If it "
     r"lists node indices"),
    ("mask-2d-wrong", _tiny(train_mask=np.ones((3, 3), bool)), ValueError,
     r"`train_mask` must be \[N=4\], \[N, K\] or \[K, N\].*got shape \(3, 3\)"),
    ("mask-no-split", _tiny(train_mask=np.ones((4, 0), bool)), ValueError,
     r"`train_mask` must hold at least one split; got shape \(4, 0\)"),
    ("mask-3d", _tiny(train_mask=np.ones((4, 1, 1), bool)), ValueError,
     r"must be \[N=4\], \[N, K\] or \[K, N\]; got shape \(4, 1, 1\)"),
    ("mask-splits-differ", _tiny(val_mask=np.array([[0, 0], [1, 1], [0, 0], [0, 0]])),
     ValueError, r"the three masks must have the same number of splits; got "
     r"`train_mask` \[N\], `val_mask` 2 splits, `test_mask` \[N\]\..*np\.tile"),
    # passed through from GraphDataset (already clear, naming the mask)
    ("train-empty", _tiny(train_mask=np.zeros(4, bool)), ValueError,
     r"`train_mask` must select at least one node in every split; got an all-False "
     r"train mask in split 0"),
    ("masks-overlap", _tiny(val_mask=np.array([1, 1, 0, 0])), ValueError,
     r"`train_mask` and `val_mask` must be disjoint; got node 0"),
    # keywords
    ("dtype-int", dict(_tiny(), dtype=torch.int64), TypeError,
     r"`dtype` must be a floating torch\.dtype; got"),
    ("name-empty", dict(_tiny(), name=""), TypeError,
     r"`name` must be a non-empty str; got str ''"),
]


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [pytest.param(kw, exc, match, id=i) for i, kw, exc, match in ERRORS],
)
def test_from_arrays_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match) as info:
        from_arrays(**kwargs)
    assert re.match(r"(from_arrays|GraphDataset): ", str(info.value))


def test_tiny_is_valid():
    # the error cases above each break exactly one thing of this valid input
    ds = from_arrays(**_tiny())
    assert (ds.num_nodes, ds.num_edges, ds.num_classes) == (4, 3, 2)


# -- load_npz: file and key errors ----------------------------------------------------
def _save(path, **arrays):
    np.savez(path, **{**_tiny(), **arrays})
    return path


def test_npz_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`path` must be an existing \.npz "
                       r"file; got '.*nope\.npz', which does not exist"):
        load_npz(tmp_path / "nope.npz")


def test_npz_directory(tmp_path):
    (tmp_path / "d.npz").mkdir()
    with pytest.raises(FileNotFoundError, match=r"which is not a file"):
        load_npz(tmp_path / "d.npz")


def test_npz_wrong_suffix(tmp_path):
    np.save(tmp_path / "a.npy", np.ones(3))
    with pytest.raises(ValueError, match=r"`path` must name an \.npz file .*'a\.npy'"):
        load_npz(tmp_path / "a.npy")


def test_npz_path_type():
    with pytest.raises(TypeError, match=r"`path` must be a str or os\.PathLike"):
        load_npz(3)


def test_npz_garbage_file(tmp_path):
    (tmp_path / "g.npz").write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match=r"must be an \.npz archive of plain arrays"):
        load_npz(tmp_path / "g.npz")


def test_npz_holding_one_npy_array(tmp_path):
    with open(tmp_path / "one.npz", "wb") as fh:
        np.save(fh, np.ones(3))
    with pytest.raises(ValueError, match=r"holds a single an array of shape \(3,\)"):
        load_npz(tmp_path / "one.npz")


def test_npz_object_array_is_not_unpickled(tmp_path):
    path = _save(tmp_path / "o.npz", y=np.array([0, 0, 1, {"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"key `y` of 'o\.npz' must be a plain "
                       r"numeric array"):
        load_npz(path)


def test_npz_missing_keys(tmp_path):
    arrays = _tiny()
    del arrays["edge_index"], arrays["test_mask"]
    np.savez(tmp_path / "m.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"missing 'edge_index' or 'edges', 'test_mask' or 'test_masks' \(keys "
        r"present: \['x', 'y', 'train_mask', 'val_mask'\]\)",
    ):
        load_npz(tmp_path / "m.npz")


def test_npz_both_aliases(tmp_path):
    path = _save(tmp_path / "b.npz", node_features=np.eye(4))
    with pytest.raises(ValueError, match=r"exactly one of the keys x / node_features;"
                       r" got both \['x', 'node_features'\]"):
        load_npz(path)


def test_npz_unknown_key(tmp_path):
    path = _save(tmp_path / "u.npz", num_class=np.int64(2))
    with pytest.raises(ValueError, match=r"got unknown keys \['num_class'\]"):
        load_npz(path)


@pytest.mark.parametrize("bad", [np.float64(2.0), np.array([2, 3])])
def test_npz_bad_num_classes(tmp_path, bad):
    path = _save(tmp_path / "n.npz", num_classes=bad)
    with pytest.raises(ValueError, match=r"key `num_classes` of 'n\.npz' must be one "
                       "integer"):
        load_npz(path)


def test_npz_errors_name_the_key_and_file(tmp_path):
    arrays = _tiny(train_mask=np.array([0, 2]))
    arrays["train_masks"] = arrays.pop("train_mask")
    np.savez(tmp_path / "k.npz", **arrays)
    with pytest.raises(ValueError, match=r"^load_npz: `train_masks` \(in k\.npz\) "
                       "must be a boolean or 0/1 mask"):
        load_npz(tmp_path / "k.npz")


def test_npz_name_and_dtype_checked(tmp_path):
    path = _save(tmp_path / "t.npz")
    with pytest.raises(TypeError, match=r"load_npz: `name` must be a non-empty str"):
        load_npz(path, name=5)
    with pytest.raises(TypeError, match=r"load_npz: `dtype` must be a floating"):
        load_npz(path, dtype="float32")
    assert load_npz(path).name == "t"


def test_exported_lazily():
    import graphops.datasets as datasets

    assert {"from_arrays", "load_npz"} <= set(datasets.__all__)
    assert {"from_arrays", "load_npz"} <= set(dir(datasets))
    assert datasets.from_arrays.__module__ == "graphops.datasets._arrays"
    assert datasets.load_npz.__module__ == "graphops.datasets._arrays"
