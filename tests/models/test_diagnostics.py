"""Over-squashing diagnostics (models/diagnostics.py) against exact references.

* a linear diffusion model (explicit Euler on heat flow, ``y = (I - dt L)^k x``)
  against the exact powers of the dense propagation matrix, for both reductions;
* a nonlinear GCN against a per-entry dense Jacobian (``torch.autograd.functional``);
* sampled targets against the full computation, grouping by distance against
  scipy's shortest paths, normalisation, eval mode and mode restoring, errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.sparse.csgraph import shortest_path
from torch import nn

from graphops import Laplacian
from graphops.datasets import csbm, path_graph
from models import gcn, pde_gcn
from models.diagnostics import jacobian_sensitivity, sensitivity_by_distance
from models.model import GraphPDEModel
from solvers import Euler, LinearTerm

from conftest import make_random_graph


def heat_model(graph, dt=0.2, steps=3):
    """Identity encoder/decoder, ``steps`` Euler steps of ``y' = -L y``."""
    return GraphPDEModel(
        nn.Identity(),
        LinearTerm(Laplacian(graph)),
        nn.Identity(),
        solver=Euler(),
        t1=dt * steps,
        dt0=dt,
    )


def hops(graph):
    a = graph.to_scipy()
    a.data[:] = 1.0
    d = shortest_path(a, unweighted=True, directed=False)
    return np.where(np.isinf(d), -1, d).astype(np.int64)


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_linear_diffusion_matches_powers_of_propagation_matrix(steps):
    g = make_random_graph(20, 0.15, seed=1)
    dt, f = 0.15, 3
    p = torch.eye(20) - dt * Laplacian(g).to_dense()
    pk = torch.linalg.matrix_power(p, steps)
    x = torch.randn(20, f)
    model = heat_model(g, dt, steps)
    assert torch.allclose(model(x, g), pk @ x, atol=1e-12)
    s = jacobian_sensitivity(model, x, g, batch_size=7)
    assert torch.allclose(s, f * pk.abs(), atol=1e-12)
    s = jacobian_sensitivity(model, x, g, reduce="norm")
    assert torch.allclose(s, f**0.5 * pk.abs(), atol=1e-12)
    # the support is the k-hop neighbourhood: zero beyond k hops
    d = torch.from_numpy(hops(g))
    far = (d > steps) | (d < 0)
    assert bool((s[far] == 0).all())


def test_targets_and_sources_select_the_block():
    g = make_random_graph(15, 0.2, seed=2)
    model = heat_model(g)
    x = torch.randn(15, 2)
    full = jacobian_sensitivity(model, x, g)
    t, s = [3, 0, 9], torch.tensor([14, 2])
    block = jacobian_sensitivity(model, x, g, targets=t, sources=s, batch_size=1)
    assert torch.allclose(block, full[t][:, s], atol=1e-14)
    assert jacobian_sensitivity(model, x, g, targets=4).shape == (1, 15)


def test_nonlinear_gcn_matches_dense_jacobian():
    ds = csbm(24, 2, num_features=3, mean_degree=3.0, seed=4)
    model = gcn.from_config(3, 2, hidden=5, layers=3)
    x = ds.x
    jac = torch.autograd.functional.jacobian(
        lambda z: model.eval()(z, ds.graph), x
    )  # [N, C, N, F]
    ref_sum = jac.abs().sum((1, 3))
    ref_norm = jac.square().sum((1, 3)).sqrt()
    model.train()
    assert torch.allclose(jacobian_sensitivity(model, x, ds.graph), ref_sum)
    s = jacobian_sensitivity(model, x, ds.graph, reduce="norm", batch_size=3)
    assert torch.allclose(s, ref_norm)


def test_eval_mode_during_measurement_and_modes_restored():
    ds = csbm(30, 2, num_features=4, seed=0)
    model = pde_gcn.from_config(4, 2, variant="H", hidden=6, layers=3, dropout=0.5)
    model.train()
    model.decoder.eval()  # a mixed state must come back as it was
    modes = [m.training for m in model.modules()]
    a = jacobian_sensitivity(model, ds.x, ds.graph, targets=[0, 1])
    b = jacobian_sensitivity(model, ds.x, ds.graph, targets=[0, 1])
    assert torch.equal(a, b)  # deterministic: dropout was off
    assert [m.training for m in model.modules()] == modes
    model.eval()
    assert torch.equal(jacobian_sensitivity(model, ds.x, ds.graph, targets=[0, 1]), a)


def test_fallback_without_vmap_gives_the_same_values(monkeypatch):
    import models.diagnostics as diag

    g = make_random_graph(12, 0.3, seed=5)
    model, x = heat_model(g), torch.randn(12, 2)
    ref = jacobian_sensitivity(model, x, g)
    real = torch.autograd.grad

    def no_vmap(*args, **kwargs):
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("no vmap rule")
        return real(*args, **kwargs)

    monkeypatch.setattr(diag.torch.autograd, "grad", no_vmap)
    assert torch.allclose(jacobian_sensitivity(model, x, g, batch_size=5), ref)


def test_by_distance_groups_the_full_matrix():
    g = make_random_graph(25, 0.1, seed=6)  # may have several components
    model, x = heat_model(g, 0.1, 4), torch.randn(25, 2)
    full = jacobian_sensitivity(model, x, g).numpy()
    d = hops(g)
    prof = sensitivity_by_distance(model, x, g)
    r = int(d.max()) + 1
    assert prof.distance.tolist() == list(range(r))
    for k in range(r):
        sel = d == k
        assert int(prof.count[k]) == int(sel.sum())
        assert float(prof.mean[k]) == pytest.approx(full[sel].mean(), abs=1e-14)
        assert float(prof.max[k]) == pytest.approx(full[sel].max(), abs=1e-14)
    assert int(prof.count.sum()) == int((d >= 0).sum())


def test_sampled_targets_equal_the_rows_of_the_full_computation():
    g = make_random_graph(30, 0.12, seed=7)
    model, x = heat_model(g), torch.randn(30, 1)
    full = jacobian_sensitivity(model, x, g).numpy()
    d = hops(g)
    prof = sensitivity_by_distance(model, x, g, num_targets=8, seed=3, max_distance=3)
    t = prof.targets.numpy()
    assert len(set(t.tolist())) == 8
    again = sensitivity_by_distance(model, x, g, num_targets=8, seed=3)
    assert torch.equal(again.targets, prof.targets)  # seeded
    for k in range(4):
        sel = d[t] == k
        assert int(prof.count[k]) == int(sel.sum())
        if sel.any():
            assert float(prof.mean[k]) == pytest.approx(full[t][sel].mean())
    assert prof.distance.tolist() == [0, 1, 2, 3]


def test_normalized_rows_sum_to_one_and_empty_distances_are_nan():
    g = path_graph(6)
    model, x = heat_model(g, 0.2, 2), torch.randn(6, 2)
    prof = sensitivity_by_distance(model, x, g, normalize=True, max_distance=4)
    full = jacobian_sensitivity(model, x, g)
    share = full / full.sum(1, keepdim=True)
    d = torch.from_numpy(hops(g))
    assert float(prof.mean[1]) == pytest.approx(float(share[d == 1].mean()))
    # two Euler steps: nothing beyond two hops (pairs exist, sensitivity zero)
    assert float(prof.max[3]) == 0.0
    assert "r=0" in repr(prof) and "normalized=True" in repr(prof)
    one = sensitivity_by_distance(model, x, g, targets=[0], max_distance=7)
    assert int(one.count[6]) == 0 and torch.isnan(one.mean[6])


def test_plot_draws_the_mean_curve():
    pytest.importorskip("matplotlib", reason="matplotlib is an optional extra")
    import matplotlib

    matplotlib.use("Agg")
    g = path_graph(5)
    prof = sensitivity_by_distance(heat_model(g), torch.ones(5, 1), g)
    ax = prof.plot(label="heat")
    assert len(ax.lines) == 1 and ax.get_legend() is not None


def test_plot_leaves_out_zero_means_beyond_reach():
    pytest.importorskip("matplotlib", reason="matplotlib is an optional extra")
    import matplotlib

    matplotlib.use("Agg")
    g = path_graph(5)
    # two Euler steps reach two hops: distances 3 and 4 have pairs but mean 0
    prof = sensitivity_by_distance(heat_model(g, steps=2), torch.ones(5, 1), g)
    assert prof.count[3:].tolist() == [4, 2] and prof.mean[3:].tolist() == [0, 0]
    (line,) = prof.plot().lines
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(line.get_ydata(), prof.mean[:3].numpy())


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"model": 3}, TypeError, r"`model` must be callable"),
        ({"graph": "g"}, TypeError, r"`graph` must be a graphops Graph"),
        ({"x": torch.ones(6, dtype=torch.int64)}, TypeError, r"`x` must be a float"),
        ({"x": torch.ones(5, 2)}, ValueError, r"one row per node, \[N=6, F\]"),
        ({"reduce": "max"}, ValueError, r"`reduce` must be one of"),
        ({"targets": 1.5}, TypeError, r"`targets` must be None, an int"),
        ({"sources": [0, 6]}, ValueError, r"`sources` must hold node ids .*got 6"),
        ({"batch_size": 0}, ValueError, r"`batch_size` must be an int >= 1"),
        (
            {"model": lambda x, g: x.sum()},
            ValueError,
            r"must return a tensor \[N=6, C\]",
        ),
    ],
)
def test_sensitivity_bad_input(kwargs, err, match):
    g = path_graph(6)
    args = {"model": heat_model(g), "x": torch.ones(6, 2), "graph": g, **kwargs}
    model, x, graph = args.pop("model"), args.pop("x"), args.pop("graph")
    with pytest.raises(err, match=match):
        jacobian_sensitivity(model, x, graph, **args)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"num_targets": 0}, ValueError, r"`num_targets` must be an int >= 1"),
        ({"num_targets": 2, "seed": -1}, ValueError, r"`seed` must be an int >= 0"),
        ({"max_distance": -2}, ValueError, r"`max_distance` must be an int >= 0"),
        ({"normalize": 1}, TypeError, r"`normalize` must be a bool"),
        ({"reduce": "l2"}, ValueError, r"sensitivity_by_distance: `reduce`"),
    ],
)
def test_by_distance_bad_input(kwargs, err, match):
    g = path_graph(6)
    with pytest.raises(err, match=match):
        sensitivity_by_distance(heat_model(g), torch.ones(6, 1), g, **kwargs)
