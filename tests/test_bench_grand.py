"""The benchmark's re-implementation of the authors' GRAND-nl RHS stays faithful.

``benchmarks/bench_grand.py`` times GRAND-nl (our SDDMM scores and CSR kernel)
against the same model with gathered scores and against a re-implementation of the
authors' ``ODEFuncTransformerAtt`` operator pattern (gathers and ``index_add_``).
The comparison is like for like only if all three compute the same network:
checked here in float64 on a small CSBM, outputs and parameter gradients.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from graphops.datasets import csbm

from helpers import load_benchmark, run_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_grand")


@pytest.fixture(scope="module")
def data():
    return csbm(60, num_classes=3, num_features=8, mean_degree=4.0, dtype=torch.float64)


def _qk(model):
    term = model.term
    att = getattr(term, "attention", term)
    return att.Q, att.K


def _params(model):
    """Every shared parameter, in one order for every side (not the code's V)."""
    Q, K = _qk(model)
    t = model.term
    return [
        *model.encoder.parameters(),
        *model.decoder.parameters(),
        Q.weight,
        Q.bias,
        K.weight,
        K.bias,
        t.alpha_train,
        t.beta_train,
    ]


def _loss_and_grads(model, data):
    model.eval()
    out = model(data.x, data.graph)
    loss = F.cross_entropy(out[data.train_mask], data.y[data.train_mask])
    return (
        out,
        model.last_stats.num_rhs_evals,
        torch.autograd.grad(loss, _params(model)),
    )


def test_three_sides_compute_the_same_network(bench, data):
    models = bench.build_models(8, 3, dtype=torch.float64)
    # Move away from the constant 1e-5 start of Q and K and the zero source
    # weight, the same way on every side.
    gen = torch.Generator().manual_seed(1)
    Q, K = _qk(models["ours"])
    q = torch.randn(Q.weight.shape, generator=gen, dtype=torch.float64) * 0.3
    k = torch.randn(K.weight.shape, generator=gen, dtype=torch.float64) * 0.3
    for m in models.values():
        Q, K = _qk(m)
        with torch.no_grad():
            Q.weight.copy_(q)
            K.weight.copy_(k)
            m.term.beta_train.fill_(0.3)
    ref_out, ref_nfe, ref_grads = _loss_and_grads(models["ours"], data)
    for side in ("ours, gather scores", "authors' pattern"):
        out, nfe, grads = _loss_and_grads(models[side], data)
        assert nfe == ref_nfe
        assert torch.allclose(out, ref_out, atol=1e-12, rtol=0)
        for g, r in zip(grads, ref_grads, strict=True):
            assert torch.allclose(g, r, atol=1e-10, rtol=1e-8)
    # Not vacuous: normalising the other index changes the output.
    authors = models["authors' pattern"]
    authors.term.norm_idx = 0
    with torch.no_grad():
        out = authors.eval()(data.x, data.graph)
    assert (out - ref_out).abs().max() > 1e-6


def test_authors_pattern_refuses_other_configurations(bench):
    from models import grand

    term = grand.from_config(4, 2, variant="nl", normalization="softmax").term
    with pytest.raises(ValueError, match="released Cora configuration"):
        bench.AuthorsGRANDnl(term)


@pytest.mark.slow
def test_quick_run(shared_data, tmp_path, monkeypatch):
    # the data folder comes from GRAPHPDE_DATA or the sibling shared/data
    monkeypatch.setenv("GRAPHPDE_DATA", str(shared_data))
    proc = run_benchmark(
        "bench_grand.py", ["--quick", "--no-compile", "--processes", "1"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "authors' pattern" in proc.stdout and "x (" in proc.stdout
    assert (tmp_path / "grand_quick.md").exists()
