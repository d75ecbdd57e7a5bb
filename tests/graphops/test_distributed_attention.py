"""Attention (GRAND, GraphCON-GAT) and PairNorm on a partitioned graph.

2 and 4 gloo processes (:func:`_dist_worker.launch`, ``--case attn``) run each
model on their block of a random graph (and of Cora, when present); the owned
output rows, the per-rank parameter gradients summed over the ranks and one SGD
step must equal the single-process model to 1e-10 in float64 (dropout 0). The
one-rank tests check the distributed attention weights against
:func:`graphops.attention.attention_weights` entry by entry, the global maximum's
backward, and the argument checks.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _dist_worker as W  # noqa: E402

from graphops.attention import attention_weights  # noqa: E402
from graphops.distributed import (  # noqa: E402
    DistributedAttention,
    allreduce_sum,
    distributed_attention,
)
from graphops.partition import halo_plan, partition  # noqa: E402

from conftest import SHARED_DATA  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)
SLOW = pytest.mark.slow


@pytest.fixture(
    scope="module",
    params=[pytest.param(2, marks=SLOW), pytest.param(4, marks=SLOW)],
    ids=["2ranks", "4ranks"],
)
def attn_run(request, tmp_path_factory):
    world = request.param
    res = W.launch(world, tmp_path_factory.mktemp(f"attn{world}"), case="attn")
    return W.build_graph("random"), res


def _check_case(graph, res, key):
    """Owned rows, summed gradients and one SGD step against one process."""
    xs, ys, mask = W.train_data(graph.num_nodes)
    cot = torch.randn(
        graph.num_nodes,
        3,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(13),
    )
    model = W.attn_model(**W.ATTN_CASES[key])
    y = model(xs, graph)
    (y * cot).sum().backward()
    got = y.new_zeros(y.shape)
    for r in res:
        got[r["owned"]] = r[f"attn/{key}"][0]
    torch.testing.assert_close(got, y.detach(), **TOL)
    grads = res[0][f"attn/{key}"][1]  # all-reduced: the same on every rank
    for (name, p), g in zip(model.named_parameters(), grads, strict=True):
        assert p.grad.abs().max() > 0, name  # every parameter is exercised
        torch.testing.assert_close(g, p.grad, **TOL, msg=name)
    # the adaptive solves took the same steps on every rank as in one process
    assert {r[f"attn/{key}"][2] for r in res} == {model.last_stats.num_rhs_evals}
    loss, params = W.train_step(model, xs, ys, mask, graph, int(mask.sum()))
    d_loss, d_params = res[0][f"attn/{key}"][3]
    torch.testing.assert_close(d_loss, loss, **TOL)
    for a, b in zip(d_params, params, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("key", sorted(W.ATTN_CASES))
def test_model_forward_gradients_and_one_step(attn_run, key):
    graph, res = attn_run
    _check_case(graph, res, key)


@SLOW
@pytest.mark.skipif(
    not (SHARED_DATA / "Planetoid").exists(),
    reason=f"Cora not found under {SHARED_DATA} (set GRAPHPDE_DATA)",
)
def test_cora_two_ranks(tmp_path):
    os.environ.setdefault("GRAPHPDE_DATA", str(SHARED_DATA))
    res = W.launch(2, tmp_path, graph="cora", case="attn")
    graph = W.build_graph("cora")
    for key in W.ATTN_CORA:
        _check_case(graph, res, key)


# ---------------------------------------------------------------------------------
# one rank: the weights entry by entry, the global maximum, argument checks
# ---------------------------------------------------------------------------------
@pytest.fixture
def one_rank(tmp_path):
    import torch.distributed as dist

    dist.init_process_group(
        "gloo",
        init_method=f"file://{tmp_path / 'rdv'}",
        rank=0,
        world_size=1,
        timeout=datetime.timedelta(seconds=30),
    )
    yield
    dist.destroy_process_group()


@pytest.mark.usefixtures("one_rank")
@pytest.mark.parametrize("norm_idx", [0, 1])
@pytest.mark.parametrize("normalization", ["softmax", "squareplus"])
def test_one_rank_weights_equal_attention_weights(norm_idx, normalization):
    g = W.build_graph("random")
    plan = halo_plan(g, partition(g, 1), 0)  # one part: local ids are global ids
    torch.manual_seed(0)
    lin_q = torch.nn.Linear(3, 4).double()
    lin_k = torch.nn.Linear(3, 4).double()
    x = W.inputs(g)[0].requires_grad_()
    kw = dict(heads=2, norm_idx=norm_idx, normalization=normalization)
    att = distributed_attention(x, plan, lin_q, lin_k, **kw)
    ref = attention_weights(lin_q(x), lin_k(x), g, **kw)
    assert isinstance(att, DistributedAttention)
    assert "rank=0, parts=1, owned=60, ghosts=0" in repr(att)
    torch.testing.assert_close(att.edge_weight, ref.edge_weight, **TOL)
    torch.testing.assert_close(att.self_weight, ref.self_weight, **TOL)
    y, y_ref = att @ x, ref @ x
    torch.testing.assert_close(y, y_ref, **TOL)
    gx = torch.autograd.grad(y.sum(), [x, lin_q.weight])
    gx_ref = torch.autograd.grad(y_ref.sum(), [x, lin_q.weight])
    for a, b in zip(gx, gx_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.usefixtures("one_rank")
def test_global_max_spreads_the_gradient_over_ties_as_torch_max():
    # squareplus subtracts the maximum score; with tied maxima torch.max splits
    # the cotangent evenly between them, and so must the distributed maximum
    g = W.build_graph("random")
    plan = halo_plan(g, partition(g, 1), 0)
    x = torch.ones(g.num_nodes, 2, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        x[:5] = 2.0  # scores tie wherever both end points are in 0..4 or not

    def lin(t):
        return t

    kw = dict(heads=1, norm_idx=1, normalization="squareplus", self_loops=True)
    y = distributed_attention(x, plan, lin, lin, **kw) @ x
    y_ref = attention_weights(x, x, g, **kw) @ x
    torch.testing.assert_close(y, y_ref, **TOL)
    cot = torch.randn(
        y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2)
    )
    (gx,) = torch.autograd.grad((y * cot).sum(), x)
    (gx_ref,) = torch.autograd.grad((y_ref * cot).sum(), x)
    torch.testing.assert_close(gx, gx_ref, **TOL)


@pytest.mark.usefixtures("one_rank")
def test_allreduce_sum_and_bad_options():
    t = torch.arange(3.0, dtype=torch.float64, requires_grad=True)
    s = allreduce_sum(t)
    (2 * s).sum().backward()
    torch.testing.assert_close(s.detach(), t.detach())
    torch.testing.assert_close(t.grad, torch.full_like(t, 2.0))
    g = W.build_graph("random")
    plan = halo_plan(g, partition(g, 1), 0)
    x = W.inputs(g)[0]
    with pytest.raises(ValueError, match="distributed_attention: `norm_idx` must be"):
        distributed_attention(
            x, plan, torch.nn.Identity(), torch.nn.Identity(), norm_idx=2
        )
    with pytest.raises(ValueError, match="`normalization` must be one of"):
        distributed_attention(
            x, plan, torch.nn.Identity(), torch.nn.Identity(), normalization="sparsemax"
        )
    with pytest.raises(ValueError, match=r"`x` must have shape \[n_own, F\]"):
        distributed_attention(x[:3], plan, torch.nn.Identity(), torch.nn.Identity())
