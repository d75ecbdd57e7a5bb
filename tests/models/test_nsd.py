"""Neural Sheaf Diffusion (models.sheaf) against a hand-unrolled reference.

The reference re-does REPRODUCTION.md §5.2 with plain loops over the edges: the
learner ``tanh(Φ [x_i ‖ x_j])`` per directed edge, Householder reflections written
out, the dense sheaf Laplacian assembled block by block and normalised with a
per-node ``eigh``, then ``X ← (1 + tanh ε) X − ELU(Δ (I ⊗ W1) X W2)``. It reads the
model's parameters but none of its code (no SheafLaplacian, no orthogonal_maps).
"""

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from graphops import Graph
from models import GraphPDEModel
from models.sheaf import (
    PRESETS,
    TRAINING_PRESETS,
    EdgeWeightLearner,
    FromStalks,
    SheafDiffusionTerm,
    SheafLearner,
    ToStalks,
    from_config,
    param_groups,
)
from solvers import Euler

from conftest import make_random_graph
from helpers import drive_steps


# ---------------------------------------------------------------------------------
# Independent reference
# ---------------------------------------------------------------------------------
def householder_reference(p: torch.Tensor, d: int) -> torch.Tensor:
    """``H_0 H_1 ... H_{d-1}``, ``v_c = e_c + (strict lower part of column c)``."""
    a = torch.zeros(d, d)
    k = 0
    for r in range(d):
        for c in range(r):
            a[r, c] = p[k]
            k += 1
    q = torch.eye(d)
    for c in range(d):
        v = torch.zeros(d)
        v[c] = 1.0
        v[c + 1 :] = a[c + 1 :, c]
        q = q @ (torch.eye(d) - 2.0 * torch.outer(v, v) / (v @ v))
    return q


def learner_input(term, xi, xj):
    dp, c = term.stalk_dim, term.channels
    z = torch.cat([xi, xj])
    if term.sparse_learner == "stalks":
        return torch.cat([xi.reshape(dp, c).sum(0), xj.reshape(dp, c).sum(0)])
    if term.sparse_learner:
        return z.reshape(dp, 2 * c).sum(0)
    return z


def act(term, z):
    return {"tanh": torch.tanh, "id": lambda v: v, "elu": F.elu}[term.sheaf_act](z)


def reference_map(term, k, xi, xj):
    """``F_{i⊴e}`` of directed edge (i, j) at layer ``k`` as a ``d x d`` matrix."""
    w = term.sheaf_learners[k].linear.weight
    out = act(term, w @ learner_input(term, xi, xj))
    if term.kind == "diag":
        return torch.diag(out)
    if term.kind == "orthogonal":
        return householder_reference(out, term.d)
    return out.reshape(term.d, term.d)


def reference_laplacian(term, k, x, g: Graph) -> torch.Tensor:
    """Dense ``Δ_F`` (or ``L_F``) from the state ``x`` ``[N*d', C]``, by loops."""
    n, d, dp = g.num_nodes, term.d, term.stalk_dim
    xm = x.reshape(n, -1)
    signs = [1.0] * term.add_lp + [-1.0] * term.add_hp
    L = torch.zeros(n * dp, n * dp)
    for e in range(g.num_edges):
        i, j = int(g.edge_index[0, e]), int(g.edge_index[1, e])
        w = float(g.edge_weight[e])
        fi = reference_map(term, k, xm[i], xm[j])
        fj = reference_map(term, k, xm[j], xm[i])
        if term.edge_weights:
            psi = term.weight_learners[k].linear.weight[0]
            om_ij = torch.sigmoid(psi @ torch.cat([xm[i], xm[j]]))
            om_ji = torch.sigmoid(psi @ torch.cat([xm[j], xm[i]]))
            fi, fj = om_ij * om_ji * fi, om_ij * om_ji * fj
        bi, bj = slice(i * dp, i * dp + d), slice(j * dp, j * dp + d)
        L[bi, bi] += w * fi.T @ fi
        L[bj, bj] += w * fj.T @ fj
        L[bi, bj] -= w * fi.T @ fj
        L[bj, bi] -= w * fj.T @ fi
        for c, sign in enumerate(signs):
            a, b = i * dp + d + c, j * dp + d + c
            L[a, a] += w
            L[b, b] += w
            L[a, b] += sign * w
            L[b, a] += sign * w
    if not term.normalised:
        return L
    S = torch.zeros_like(L)
    for i in range(n):
        blk = slice(i * dp, (i + 1) * dp)
        lam, u = torch.linalg.eigh(L[blk, blk] + torch.eye(dp))
        S[blk, blk] = u @ torch.diag(lam**-0.5) @ u.T
    return S @ L @ S


def reference_forward(model: GraphPDEModel, x, g):
    """Encoder, the unrolled layers (all iterates) and the decoder, in eval mode."""
    term = model.term
    linears = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    h = F.elu(x @ linears[0].weight.T + linears[0].bias)
    if len(linears) == 2:
        h = h @ linears[1].weight.T + linears[1].bias
    n, dp = g.num_nodes, term.stalk_dim
    X = h.reshape(n * dp, -1)
    iterates = [X]
    lap0 = reference_laplacian(term, 0, X, g)
    for k in range(term.num_layers):
        lap = reference_laplacian(term, k, X, g) if term.rebuild_sheaf else lap0
        w1 = term.left_weight.values[k]
        w2 = term.right_weight.values[k]
        eps = term.epsilon.values[k]
        Y = torch.zeros_like(X)
        for i in range(n):
            Y[i * dp : (i + 1) * dp] = w1 @ X[i * dp : (i + 1) * dp]
        Z = F.elu(lap @ (Y @ w2))
        coeff = (1.0 + torch.tanh(eps)).repeat(n).unsqueeze(1)
        X = coeff * X - Z
        iterates.append(X)
    dec = model.decoder[1]
    return iterates, X.reshape(n, -1) @ dec.weight.T + dec.bias


def perturb(model, scale=0.3, seed=0):
    """Move the identity/zero initialisations so W1 and ε matter in the check."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in (model.term.left_weight.values, model.term.epsilon.values):
            p.add_(scale * torch.randn(p.shape, generator=gen))
        for learner in model.term.sheaf_learners:
            learner.linear.weight.mul_(3.0)
    return model


CONFIGS = [
    ("diag", dict(add_lp=True, add_hp=True)),
    ("diag", dict(normalised=False, sparse_learner=True)),
    ("orthogonal", dict(add_hp=True)),
    ("orthogonal", dict(d=3, edge_weights=False, sparse_learner="stalks")),
    ("orthogonal", dict(d=3, sparse_learner=True, second_linear=True)),
    ("general", dict(add_lp=True)),
    ("general", dict(normalised=False, edge_weights=True, sheaf_act="elu")),
    ("diag", dict(rebuild_sheaf=False, layers=3)),
]


@pytest.mark.parametrize(
    "kind, kw", CONFIGS, ids=[f"{k}-{'-'.join(kw)}" for k, kw in CONFIGS]
)
def test_iterates_match_hand_unrolled_update(kind, kw):
    kw = {"d": 2, "layers": 2, "hidden": 3, **kw}
    g = make_random_graph(7, 0.5, seed=3)
    x = torch.randn(7, 4)
    model = perturb(from_config(4, 3, kind, **kw)).eval()
    ref_iterates, ref_out = reference_forward(model, x, g)

    term = model.term
    y0, args = model.initial_state(x, g)
    ys, _ = drive_steps(term, Euler(), y0, 1.0, term.num_layers, args=args)
    assert len(ys) == len(ref_iterates)
    for k, (y, ref) in enumerate(zip(ys, ref_iterates, strict=True)):
        assert torch.allclose(y, ref, atol=1e-12, rtol=1e-10), f"iterate {k}"
    assert torch.allclose(model(x, g), ref_out, atol=1e-12, rtol=1e-10)
    assert model.depth == kw["layers"]


def test_laplacian_of_term_matches_reference():
    g = make_random_graph(6, 0.6, seed=4)
    term = SheafDiffusionTerm(3, 2, 1, kind="general", add_hp=True).eval()
    y = torch.randn(6 * 4, 2)
    dense = term.sheaf_laplacian(0, y, g).to_dense()
    assert torch.allclose(dense, reference_laplacian(term, 0, y, g), atol=1e-13)


# ---------------------------------------------------------------------------------
# Structure: dropout placement, initialisation, learner forms
# ---------------------------------------------------------------------------------
def test_encoder_decoder_layout():
    model = from_config(
        5,
        3,
        "diag",
        d=3,
        hidden=4,
        add_lp=True,
        input_dropout=0.2,
        dropout=0.4,
        second_linear=True,
    )
    kinds = [type(m).__name__ for m in model.encoder]
    assert kinds == ["Dropout", "Linear", "ELU", "Dropout", "Linear", "ToStalks"]
    assert model.encoder[0].p == 0.2 and model.encoder[3].p == 0.4
    assert model.encoder[1].out_features == 4 * 4
    assert [type(m).__name__ for m in model.decoder] == ["FromStalks", "Linear"]
    assert model.decoder[1].in_features == 16
    assert isinstance(model.solver, Euler) and model.dt0 == 1.0 and model.t1 == 2.0


def test_learner_dropout_none_at_first_layer():
    g = make_random_graph(8, 0.5, seed=5)
    term = SheafDiffusionTerm(2, 3, 2, kind="diag", dropout=0.5)
    y = torch.randn(16, 3)
    term.eval()
    ref0, _ = term.restriction_maps(0, y, g)
    ref1, _ = term.restriction_maps(1, y, g)
    term.train()
    for _ in range(3):
        assert torch.equal(term.restriction_maps(0, y, g)[0], ref0)
    assert not torch.allclose(term.restriction_maps(1, y, g)[0], ref1)
    # the update's own dropout acts in training mode at every layer
    assert not torch.allclose(term(0.0, y, g), term.eval()(0.0, y, g))


def test_initialisation():
    model = from_config(3, 2, "orthogonal", d=3, hidden=5, add_lp=True, layers=3)
    term = model.term
    dp = 4
    assert term.stalk_dim == dp
    assert torch.equal(term.left_weight.values, torch.eye(dp).expand(3, dp, dp))
    w2 = term.right_weight.values
    assert torch.allclose(w2.mT @ w2, torch.eye(5).expand(3, 5, 5), atol=1e-12)
    assert torch.equal(term.epsilon.values, torch.zeros(3, dp))
    assert len(term.sheaf_learners) == 3 and len(term.weight_learners) == 3
    for learner in term.sheaf_learners:
        assert learner.linear.bias is None
        assert learner.linear.weight.shape == (3, 2 * dp * 5)
    assert term.weight_learners[0].linear.bias is None
    # edge weights default to the code: O(d) only
    assert len(from_config(3, 2, "diag").term.weight_learners) == 0
    assert len(from_config(3, 2, "general").term.weight_learners) == 0
    general = from_config(3, 2, "general", d=3, hidden=2)
    assert general.term.sheaf_learners[0].linear.out_features == 9
    assert (
        from_config(3, 2, "diag", d=3).term.sheaf_learners[0].linear.out_features == 3
    )
    single = from_config(3, 2, "diag", layers=4, rebuild_sheaf=False).term
    assert len(single.sheaf_learners) == 1


def test_spec_defaults():
    term = from_config(3, 2).term
    assert (term.kind, term.d, term.num_layers, term.channels) == ("diag", 2, 2, 20)
    assert term.normalised and term.sheaf_act == "tanh" and term.dropout == 0.0
    assert term.orthogonal_method == "householder"


def test_sparse_learner_forms():
    g = Graph(torch.tensor([[0], [1]]), 2, directed="symmetrize")
    c, dp = 2, 3
    x = torch.randn(2, dp * c)
    xi, xj = x[0].reshape(dp, c), x[1].reshape(dp, c)
    code = SheafLearner(dp, c, (1,), act="id", sparse=True)
    w = code.linear.weight[0]
    # the authors' row sum of the d' x 2C reshape (d' = 3)
    mixed = torch.cat([xi[0] + xi[2] + xj[1], xi[1] + xj[0] + xj[2]])
    assert torch.allclose(code(x, g)[0, 0], w @ mixed)
    stalks = SheafLearner(dp, c, (1,), act="id", sparse="stalks")
    stalks.linear.weight.data.copy_(code.linear.weight)
    assert torch.allclose(stalks(x, g)[1, 0], w @ torch.cat([xj.sum(0), xi.sum(0)]))


def test_jump_times_are_layer_boundaries():
    term = SheafDiffusionTerm(2, 2, 4)
    assert term.jump_times(0.0, 4.0) == [1.0, 2.0, 3.0]
    assert [term.layer(t) for t in (0.0, 0.999, 1.0, 3.5, 9.0)] == [0, 0, 1, 3, 3]


def test_general_normalised_gradient_at_repeated_eigenvalues():
    # Learner rows 0 and 3 equal, rows 1 and 2 zero: every map is tanh(u.z) I, so
    # every node block of D + I is a multiple of I (repeated eigenvalues, where a
    # generic eigh backward is not finite) while the gradient is not zero.
    g = make_random_graph(5, 0.6, seed=6)
    term = SheafDiffusionTerm(2, 2, 1, kind="general").eval()
    w = torch.zeros_like(term.sheaf_learners[0].linear.weight)
    w[0] = w[3] = torch.randn(w.shape[1])
    y = torch.randn(10, 2)
    name = "sheaf_learners.0.linear.weight"

    def f(w, y):
        return functional_call(term, {name: w}, (0.0, y, g))

    with torch.no_grad():
        term.sheaf_learners[0].linear.weight.copy_(w)
        maps, _ = term.restriction_maps(0, y, g)
    assert torch.equal(maps[:, 0, 1], torch.zeros(2 * g.num_edges))
    assert torch.equal(maps[:, 0, 0], maps[:, 1, 1]) and maps[:, 0, 0].abs().min() > 0
    w.requires_grad_(True)
    grad = torch.autograd.grad(f(w, y).sum(), w)[0]
    assert torch.isfinite(grad).all() and grad[1:3].abs().max() > 0
    assert torch.autograd.gradcheck(lambda w: f(w, y), (w,), atol=1e-6)


# ---------------------------------------------------------------------------------
# Optimiser groups and presets
# ---------------------------------------------------------------------------------
def test_param_groups_membership():
    model = from_config(3, 2, "orthogonal", d=3, hidden=2)
    groups = param_groups(model, 0.02, 5e-4, 1e-3)
    sheaf_ids = {id(p) for p in groups[0]["params"]}
    other_ids = {id(p) for p in groups[1]["params"]}
    learners = {id(p) for p in model.term.sheaf_learners.parameters()}
    assert sheaf_ids == learners
    assert not sheaf_ids & other_ids
    assert sheaf_ids | other_ids == {id(p) for p in model.parameters()}
    # edge-weight learners go with the rest, as the code's name filter does
    assert {id(p) for p in model.term.weight_learners.parameters()} <= other_ids
    assert {id(model.term.epsilon.values), id(model.decoder[1].weight)} <= other_ids
    assert (groups[0]["weight_decay"], groups[1]["weight_decay"]) == (1e-3, 5e-4)
    assert groups[0]["lr"] == groups[1]["lr"] == 0.02
    assert param_groups(model, 0.01, 5e-4)[0]["weight_decay"] == 5e-4


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_build_and_run(name):
    assert set(PRESETS) == set(TRAINING_PRESETS)
    cfg = PRESETS[name]
    model = from_config(4, 3, **cfg).eval()
    term = model.term
    assert (term.kind, term.d, term.num_layers, term.channels) == (
        cfg["kind"],
        cfg["d"],
        cfg["layers"],
        cfg["hidden"],
    )
    assert term.stalk_dim == cfg["d"] + cfg["add_lp"] + cfg["add_hp"]
    g = make_random_graph(6, 0.5, seed=7)
    out = model(torch.randn(6, 4), g)
    assert out.shape == (6, 3) and torch.isfinite(out).all()
    train = TRAINING_PRESETS[name]
    groups = param_groups(
        model, train["lr"], train["weight_decay"], train["sheaf_decay"]
    )
    assert groups[0]["weight_decay"] == train["sheaf_decay"]


def test_finer_step_runs():
    g = make_random_graph(6, 0.5, seed=8)
    model = from_config(3, 2, "general", hidden=2).eval()
    x = torch.randn(6, 3)
    model.dt0 = 0.5
    assert model.depth == 4
    with torch.no_grad():
        out = model(x, g)
    assert model.last_stats.num_steps == 4
    assert torch.isfinite(out).all()


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------
def test_constructor_errors():
    with pytest.raises(ValueError, match="`kind` must be one of"):
        from_config(3, 2, "bundle")
    with pytest.raises(ValueError, match=r"`d` must be >= 2 for kind='orthogonal'"):
        from_config(3, 2, "orthogonal", d=1)
    with pytest.raises(ValueError, match="`num_features`"):
        from_config(0, 2)
    with pytest.raises(ValueError, match="`dropout`"):
        from_config(3, 2, dropout=1.0)
    with pytest.raises(TypeError, match="`second_linear` must be a bool"):
        from_config(3, 2, second_linear=1)
    with pytest.raises(TypeError, match="`add_lp` must be a bool"):
        SheafDiffusionTerm(2, 2, 1, add_lp="yes")
    with pytest.raises(TypeError, match="`edge_weights` must be a bool"):
        SheafDiffusionTerm(2, 2, 1, edge_weights=1)
    with pytest.raises(ValueError, match="`sheaf_act` must be one of"):
        SheafDiffusionTerm(2, 2, 1, sheaf_act="relu")
    with pytest.raises(ValueError, match="`sparse_learner` must be one of"):
        SheafDiffusionTerm(2, 2, 1, sparse_learner=1)
    with pytest.raises(ValueError, match="`orthogonal_method` must be one of"):
        SheafDiffusionTerm(2, 2, 1, kind="orthogonal", orthogonal_method="cayley")
    with pytest.raises(ValueError, match="`out_shape` must have at least one"):
        SheafLearner(2, 2, ())
    with pytest.raises(ValueError, match="`stalk_dim`"):
        ToStalks(0)


def test_call_errors():
    g = make_random_graph(5, 0.6, seed=9)
    term = SheafDiffusionTerm(2, 3, 1)
    with pytest.raises(
        ValueError, match=r"state must be node-major stalks \[N\*d', C\]"
    ):
        term(0.0, torch.randn(5, 3), g)
    with pytest.raises(TypeError, match="`args` must be the graph or a SheafArgs"):
        term(0.0, torch.randn(10, 3), None)
    single = SheafDiffusionTerm(2, 3, 2, rebuild_sheaf=False)
    with pytest.raises(ValueError, match="rebuild_sheaf=False the sheaf comes from"):
        single(0.0, torch.randn(10, 3), g)
    learner = SheafLearner(2, 3, (2,))
    with pytest.raises(TypeError, match="`graph` must be a Graph"):
        learner(torch.randn(5, 6), "graph")
    with pytest.raises(ValueError, match=r"`x` must be node features \[N, d'\*C\]"):
        learner(torch.randn(4, 6), g)
    with pytest.raises(ValueError, match="must have d'\\*C = 6 columns"):
        learner(torch.randn(5, 4), g)
    with pytest.raises(ValueError, match="ToStalks: expected node features"):
        ToStalks(2)(torch.randn(5, 3))
    with pytest.raises(ValueError, match="FromStalks: expected a stalk signal"):
        FromStalks(2)(torch.randn(5, 3))
    with pytest.raises(TypeError, match="must contain a SheafDiffusionTerm"):
        param_groups(torch.nn.Linear(2, 2), 0.01, 0.0)
    with pytest.raises(ValueError, match="`lr`"):
        param_groups(from_config(3, 2), 0.0, 0.0)


@pytest.mark.parametrize("sparse", [False, True, "stalks"])
def test_learners_equal_the_concatenation_formula(sparse):
    """The per-node factorisation equals ``Φ [x_i ‖ x_j]`` built edge by edge."""
    torch.manual_seed(3)
    g = make_random_graph(12, 0.4, seed=5)
    dp, c = 3, 4
    learner = SheafLearner(dp, c, (2, 2), act="tanh", sparse=sparse).double()
    weights = EdgeWeightLearner(dp, c).double()
    x = torch.randn(12, dp * c, dtype=torch.float64, requires_grad=True)
    row, col = g.directed_edge_index
    z = torch.cat([x[row], x[col]], dim=1)  # [2M, 2 d' C], the authors' input
    if sparse == "stalks":
        zs = z.reshape(-1, 2, dp, c).sum(dim=2).reshape(-1, 2 * c)
    elif sparse:
        zs = z.reshape(-1, dp, 2 * c).sum(dim=1)
    else:
        zs = z
    ref = torch.tanh(zs @ learner.linear.weight.T).reshape(-1, 2, 2)
    got = learner(x, g)
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-12)
    omega = torch.sigmoid(z @ weights.linear.weight.T)
    m = g.num_edges
    ref_w = (omega[:m] * omega[m:]).squeeze(1)
    torch.testing.assert_close(weights(x, g), ref_w, rtol=0, atol=1e-12)
    # Gradients with respect to the input and to Φ agree as well.
    v = torch.randn_like(ref)
    params = (x, learner.linear.weight)
    g_ref = torch.autograd.grad((ref * v).sum(), params)
    g_got = torch.autograd.grad((learner(x, g) * v).sum(), params)
    for a, b in zip(g_got, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="must have d'\\*C = 12 columns; got 11"):
        weights(torch.randn(12, 11, dtype=torch.float64), g)
