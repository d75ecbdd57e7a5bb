"""Set models: DeepSets, the recurrent set model with SIRE, tasks, training, CLI.

References are independent of the code under test: per-set numpy computations of
the pooling and of the task targets, a hand-unrolled tanh recurrence, closed-form
surface distances and areas of the point-cloud shapes, and a closed-form value of
the SIRE penalty for a function reading the first element.
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn

from models.experiments.cli import main as cli_main
from models.sets import (
    SHAPES,
    DeepSets,
    FitConfig,
    RecurrentSetModel,
    build_model,
    evaluate,
    fit,
    make_task,
    permutation_sensitivity,
    permute_sets,
    perturb_locally,
    random_permutations,
    random_transpositions,
    sample_point_clouds,
    sample_surface,
    set_mask,
    sire_penalty,
    sire_state_penalty,
)
from models.sets.cli import parse_lengths, run_sets, run_table
from models.sets.tasks import TORUS_R, TORUS_r, load_digits

SKLEARN_WHY = "the digits task needs scikit-learn: pip install 'graphpde[sets]'"


def _padded(seed: int = 0, b: int = 5, n: int = 7, d: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, d, generator=g)
    lengths = torch.randint(1, n + 1, (b,), generator=g)
    lengths[0] = n
    return x, lengths, g


# -- DeepSets -----------------------------------------------------------------------
@pytest.mark.parametrize("pool", ["sum", "mean", "max"])
def test_deepsets_is_invariant_and_ignores_padding(pool):
    x, n, g = _padded()
    m = DeepSets.mlp(3, 2, hidden=16, pool=pool)
    y = m(x, n)
    # permute the real elements of every set, and overwrite the padding
    xp = permute_sets(x, random_permutations(n, x.shape[1], generator=g))
    pad = ~set_mask(x, n)
    xp[pad] = 1e3 * torch.randn(int(pad.sum()), 3, generator=g)
    assert torch.allclose(m(xp, n), y, atol=1e-12, rtol=0)
    # each set alone, unpadded, gives the same output
    for b in range(len(n)):
        alone = m(x[b : b + 1, : n[b]])
        assert torch.allclose(alone[0], y[b], atol=1e-12, rtol=0)


@pytest.mark.parametrize("pool", ["sum", "mean", "max"])
def test_deepsets_pooling_matches_numpy(pool):
    x, n, _ = _padded(1)
    m = DeepSets(nn.Identity(), nn.Identity(), pool)
    out = m(x, n).numpy()
    for b in range(len(n)):
        s = x[b, : n[b]].numpy()
        ref = {"sum": s.sum(0), "mean": s.mean(0), "max": s.max(0)}[pool]
        np.testing.assert_allclose(out[b], ref, rtol=1e-12, atol=1e-12)


def test_deepsets_errors():
    with pytest.raises(ValueError, match="`pool` must be one of"):
        DeepSets(nn.Identity(), nn.Identity(), "median")
    with pytest.raises(TypeError, match="`phi` must be a torch.nn.Module"):
        DeepSets(lambda x: x, nn.Identity())
    with pytest.raises(ValueError, match="`depth` must be >= 1"):
        DeepSets.mlp(1, 1, depth=0)


def test_set_mask_errors():
    x = torch.zeros(2, 4, 1)
    with pytest.raises(ValueError, match=r"`x` must be a padded batch of sets"):
        set_mask(torch.zeros(2, 4), None)
    with pytest.raises(TypeError, match="`lengths` must be an integer tensor"):
        set_mask(x, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"`lengths` must have shape \(2,\)"):
        set_mask(x, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="`lengths` must lie in 1..4"):
        set_mask(x, torch.tensor([0, 2]))
    with pytest.raises(ValueError, match="`lengths` must lie in 1..4"):
        set_mask(x, torch.tensor([5, 2]))


# -- transpositions, permutations ---------------------------------------------------
def test_random_transpositions_swap_two_real_positions():
    n = torch.tensor([1, 2, 5, 8, 8])
    g = torch.Generator().manual_seed(0)
    for local in (False, True):
        for _ in range(50):
            idx = random_transpositions(n, 8, local=local, generator=g)
            for b, length in enumerate(n.tolist()):
                moved = (idx[b] != torch.arange(8)).nonzero().flatten().tolist()
                assert sorted(idx[b].tolist()) == list(range(8))
                if length == 1:
                    assert moved == []
                    continue
                assert len(moved) == 2 and max(moved) < length
                i, j = moved
                assert idx[b, i] == j and idx[b, j] == i
                if local:
                    assert j == i + 1


def test_random_transpositions_are_uniform_over_pairs():
    g = torch.Generator().manual_seed(1)
    idx = random_transpositions(torch.full((6000,), 3), 3, generator=g)
    fixed = (idx == torch.arange(3)).nonzero()[:, 1]  # the position left in place
    counts = torch.bincount(fixed, minlength=3).double() / 6000
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.03)


def test_random_permutations_keep_padding_and_shuffle_real_positions():
    n = torch.tensor([3, 6])
    g = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(200):
        idx = random_permutations(n, 6, generator=g)
        assert idx[0, 3:].tolist() == [3, 4, 5]
        assert sorted(idx[0, :3].tolist()) == [0, 1, 2]
        seen.add(tuple(idx[0, :3].tolist()))
    assert len(seen) == 6  # every permutation of 3 elements appears


# -- the SIRE penalty ---------------------------------------------------------------
def test_sire_penalty_zero_for_invariant_positive_otherwise():
    x, n, g = _padded(2)
    ds = DeepSets.mlp(3, 2, hidden=8)
    with torch.no_grad():
        assert float(sire_penalty(ds, x, n, num_transpositions=4, generator=g)) < 1e-20
        rnn = RecurrentSetModel(3, 2, hidden=8, cell="gru")
        assert float(sire_penalty(rnn, x, n, num_transpositions=4, generator=g)) > 1e-6


def test_sire_penalty_closed_form_for_first_element():
    # f(x) = x_1; sets of length 2 and a local swap: the penalty is mean |x1 - x2|^2
    x = torch.randn(10, 2, 3)
    pen = sire_penalty(lambda x, n: x[:, 0], x, local=True, num_transpositions=3)
    ref = ((x[:, 0] - x[:, 1]) ** 2).sum(dim=1).mean()
    assert torch.allclose(pen, ref, rtol=1e-12)


def test_sire_penalty_gradient_flows_to_every_parameter():
    x, n, g = _padded(3)
    m = RecurrentSetModel(3, 2, hidden=8, cell="lstm", lam=1.0, num_transpositions=2)
    m.penalty(x, n, generator=g).backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_sire_state_penalty_matches_a_hand_computation():
    # one set of length 4, local swaps: recompute s_{i+1}(x) and s_{i+1}(swapped x)
    # with a hand-unrolled tanh recurrence for the sampled i
    m = RecurrentSetModel(2, 1, hidden=3, cell="tanh", lam=1.0, target="state",
                          local=True)
    x = torch.randn(1, 4, 2)
    w_ih, w_hh = m.rnn.weight_ih_l0, m.rnn.weight_hh_l0
    b = m.rnn.bias_ih_l0 + m.rnn.bias_hh_l0

    def run(seq, upto):
        h = torch.zeros(3)
        for t in range(upto + 1):
            h = torch.tanh(w_ih @ seq[t] + w_hh @ h + b)
        return h

    g = torch.Generator().manual_seed(3)
    idx = random_transpositions(torch.tensor([4]), 4, local=True, generator=g)
    i = int((idx[0] != torch.arange(4)).nonzero()[0])
    swapped = x[0, idx[0]]
    ref = (run(swapped, i + 1) - run(x[0], i + 1)).pow(2).sum()
    pen = m.penalty(x, torch.tensor([4]), generator=torch.Generator().manual_seed(3))
    assert torch.allclose(pen, ref, atol=1e-12)


def test_sire_state_penalty_zero_for_equal_elements_and_gradient_flows():
    m = RecurrentSetModel(1, 1, hidden=4, cell="gru", target="state")
    same = torch.full((3, 5, 1), 0.7)
    assert float(sire_state_penalty(m, same, num_transpositions=2).detach()) == 0.0
    x, n, g = _padded(7, d=1)
    pen = sire_state_penalty(m, x, n, num_transpositions=2, generator=g)
    assert float(pen.detach()) > 0
    pen.backward()
    assert m.rnn.weight_hh_l0.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="`num_transpositions` must be an integer"):
        sire_state_penalty(m, x, n, num_transpositions=0)


def test_states_are_the_per_step_recurrence():
    x, n, _ = _padded(8)
    m = RecurrentSetModel(3, 2, hidden=5, cell="lstm")
    s = m.states(x, n)
    for b in range(len(n)):
        assert torch.allclose(s[b, n[b] - 1], m.state(x, n)[b], atol=1e-12)
        assert not s[b, n[b] :].any()
        prefix = m.state(x[b : b + 1, :2], torch.tensor([min(2, int(n[b]))]))
        assert torch.allclose(s[b, min(2, int(n[b])) - 1], prefix[0], atol=1e-12)


def test_sire_penalty_errors():
    x = torch.randn(2, 3, 1)
    with pytest.raises(ValueError, match="`num_transpositions` must be an integer"):
        sire_penalty(lambda x, n: x[:, 0], x, num_transpositions=0)


# -- the recurrent set model --------------------------------------------------------
def test_recurrent_model_matches_hand_unrolled_tanh_rnn_and_ignores_padding():
    x, n, _ = _padded(4)
    m = RecurrentSetModel(3, 2, hidden=5, cell="tanh")
    w_ih, w_hh = m.rnn.weight_ih_l0, m.rnn.weight_hh_l0
    b_ih, b_hh = m.rnn.bias_ih_l0, m.rnn.bias_hh_l0
    out = m.state(x, n)
    for b in range(len(n)):
        h = torch.zeros(5)
        for t in range(int(n[b])):
            h = torch.tanh(w_ih @ x[b, t] + b_ih + w_hh @ h + b_hh)
        assert torch.allclose(out[b], h, atol=1e-12)


@pytest.mark.parametrize("cell", ["gru", "lstm", "tanh"])
def test_recurrent_model_reads_only_real_elements(cell):
    x, n, g = _padded(5)
    m = RecurrentSetModel(3, 2, hidden=6, cell=cell)
    y = m(x, n)
    xg = x.clone()
    pad = ~set_mask(x, n)
    xg[pad] = 1e3 * torch.randn(int(pad.sum()), 3, generator=g)
    assert torch.allclose(m(xg, n), y, atol=1e-12)
    for b in range(len(n)):
        assert torch.allclose(m(x[b : b + 1, : n[b]])[0], y[b], atol=1e-12)


def test_recurrent_model_moves_with_to():
    m = RecurrentSetModel(1, 2, hidden=4).to(torch.float32)
    assert all(p.dtype == torch.float32 for p in m.parameters())
    assert m(torch.randn(2, 3, 1, dtype=torch.float32)).dtype == torch.float32


def test_recurrent_model_errors():
    with pytest.raises(ValueError, match="`cell` must be one of"):
        RecurrentSetModel(1, 1, cell="transformer")
    with pytest.raises(ValueError, match="`lam` must be >= 0"):
        RecurrentSetModel(1, 1, lam=-1.0)
    with pytest.raises(ValueError, match="`num_transpositions` must be an integer"):
        RecurrentSetModel(1, 1, num_transpositions=0)
    with pytest.raises(ValueError, match="`target` must be one of output, state"):
        RecurrentSetModel(1, 1, target="logits")


def test_lambda_zero_is_the_plain_rnn():
    # lam = 0: the penalty is never evaluated, so training equals the plain RNN's
    task = make_task("sum")
    cfg = FitConfig(epochs=2, num_train=64, num_val=32, dtype="float64")
    torch.manual_seed(0)
    plain = build_model("rnn-gru", task, hidden=8)
    torch.manual_seed(0)
    zero = RecurrentSetModel(1, 1, hidden=8, cell="gru", lam=0.0)

    def boom(*a, **k):
        raise AssertionError("penalty evaluated at lam = 0")

    zero.penalty = boom
    fit(plain, task, cfg)
    fit(zero, task, cfg)
    a, b = plain.state_dict(), zero.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


# -- tasks --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "parity", "range", "variance", "half-range"])
def test_synthetic_targets_match_numpy(name):
    task = make_task(name)
    b = task.sample(40, (2, 9), torch.Generator().manual_seed(0), dtype=torch.float64)
    assert b.lengths.min() >= 2 and b.lengths.max() <= 9
    for k in range(len(b)):
        s = b.x[k, : b.lengths[k], 0].numpy()
        assert not b.x[k, b.lengths[k] :].any()  # zero padding
        h = len(s) // 2
        ref = {
            "sum": s.sum(),
            "parity": int(s.sum()) % 2,
            "range": s.max() - s.min(),
            "variance": s.var(),
            "half-range": s[:h].max() - s[h:].min(),
        }[name]
        assert float(b.y[k]) == pytest.approx(float(ref), abs=1e-12)
    if name == "parity":
        assert set(np.unique(b.x[set_mask(b.x, b.lengths)].numpy())) <= {0.0, 1.0}


def test_task_errors():
    with pytest.raises(ValueError, match="`name` must be one of"):
        make_task("median")
    with pytest.raises(ValueError, match="`noise` and `swaps` must be >= 0"):
        make_task("pointcloud", noise=-1.0)
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"`lengths` must satisfy 2 <= lo <= hi"):
        make_task("half-range").sample(3, (1, 5), g)
    with pytest.raises(ValueError, match=r"`lengths` must be a pair"):
        make_task("sum").sample(3, "ab", g)
    with pytest.raises(ValueError, match="`num` must be an integer >= 1"):
        make_task("sum").sample(0, (1, 5), g)
    with pytest.raises(ValueError, match="`shape` must be one of"):
        sample_surface("klein bottle", 5, g)


# -- point clouds -------------------------------------------------------------------
def _distance_to_surface(shape: str, p: np.ndarray) -> np.ndarray:
    x, y, z = p.T
    rho = np.hypot(x, y)
    if shape == "sphere":
        return np.abs(np.linalg.norm(p, axis=1) - 1)
    if shape == "cube":
        q = np.abs(p) - 1
        outside = np.linalg.norm(np.maximum(q, 0), axis=1)
        return outside + np.abs(np.minimum(q.max(axis=1), 0))
    if shape == "torus":
        return np.abs(np.hypot(rho - TORUS_R, z) - TORUS_r)

    def seg(ax, az, bx, bz):  # distance in the (rho, z) half-plane to a segment
        t = np.clip(((rho - ax) * (bx - ax) + (z - az) * (bz - az))
                    / ((bx - ax) ** 2 + (bz - az) ** 2), 0, 1)
        return np.hypot(rho - ax - t * (bx - ax), z - az - t * (bz - az))

    if shape == "cylinder":  # profile: top cap, side, bottom cap
        return np.minimum.reduce([seg(0, 1, 1, 1), seg(1, 1, 1, -1), seg(0, -1, 1, -1)])
    # cone: side from apex (0, 1) to rim (1, -1), base disc at z = -1
    return np.minimum(seg(0, 1, 1, -1), seg(0, -1, 1, -1))


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_point_clouds_lie_on_their_surfaces(noise):
    g = torch.Generator().manual_seed(0)
    x, labels, tf = sample_point_clouds(
        40, 300, generator=g, noise=noise, dtype=torch.float64
    )
    assert set(labels.tolist()) == set(range(len(SHAPES)))
    for b in range(40):
        back = (x[b] @ tf["rotation"][b] / tf["scale"][b]).numpy()
        d = _distance_to_surface(SHAPES[int(labels[b])], back)
        # 3-D Gaussian jitter: |e| < 6 sigma for every one of 300 points
        assert d.max() <= (1e-9 if noise == 0 else 6 * noise)
    rot = tf["rotation"]
    eye = torch.eye(3).expand(40, 3, 3)
    assert torch.allclose(rot @ rot.transpose(1, 2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(40), atol=1e-12)


def test_surface_samples_are_uniform_by_area():
    g = torch.Generator().manual_seed(0)
    n = 40_000
    cyl = sample_surface("cylinder", n, g)
    on_caps = (cyl[:, 2].abs() == 1) & (cyl[:, :2].norm(dim=1) < 1 - 1e-12)
    # side 4*pi, caps pi each
    assert float(on_caps.double().mean()) == pytest.approx(2 / 6, abs=0.01)
    cone = sample_surface("cone", n, g)
    base = float((cone[:, 2] == -1).double().mean())
    assert base == pytest.approx(1 / (1 + math.sqrt(5)), abs=0.01)
    # the torus: the tube angle's density is (R + r cos v) / (2 pi R)
    tor = sample_surface("torus", n, g)
    outer = float((tor[:, :2].norm(dim=1) > TORUS_R).double().mean())
    assert outer == pytest.approx(0.5 + TORUS_r / (math.pi * TORUS_R), abs=0.01)


# -- digits -------------------------------------------------------------------------
def test_perturb_locally_moves_elements_by_at_most_the_swaps():
    x = torch.arange(20.0).repeat(3, 1).unsqueeze(-1)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(perturb_locally(x, 0, g), x)
    y = perturb_locally(x, 3, g)
    for b in range(3):
        assert sorted(y[b, :, 0].tolist()) == list(range(20))
        moved = (y[b, :, 0] - torch.arange(20.0)).abs()
        assert moved.max() <= 3 and moved.max() >= 1


def test_digits_task():
    pytest.importorskip("sklearn", reason=SKLEARN_WHY)
    pixels, labels = load_digits()
    assert pixels.shape == (1797, 64) and 0 <= pixels.min() and pixels.max() == 1
    task = make_task("digits", swaps=0)
    b = task.sample(30, (64, 64), torch.Generator().manual_seed(0), split="test")
    assert b.x.shape == (30, 64, 1) and (b.lengths == 64).all()
    # unperturbed: every sample is one of the bundled images with its label
    for k in range(30):
        hit = (pixels == b.x[k, :, 0].double()).all(dim=1).nonzero().flatten()
        assert len(hit) >= 1 and int(b.y[k]) in labels[hit].tolist()
    with pytest.raises(ValueError, match="`split` must be one of train, val, test"):
        task.sample(3, (64, 64), torch.Generator(), split="dev")


def test_load_digits_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'graphpde\[sets\]'"):
        load_digits()


# -- training, sensitivity ----------------------------------------------------------
def test_permutation_sensitivity_zero_for_invariant_positive_for_rnn():
    x, n, g = _padded(6)
    assert permutation_sensitivity(DeepSets.mlp(3, 2), x, n, generator=g) < 1e-12
    rnn = RecurrentSetModel(3, 2, hidden=8)
    assert permutation_sensitivity(rnn, x, n, generator=g) > 1e-4
    with pytest.raises(ValueError, match="`num_permutations` must be an integer"):
        permutation_sensitivity(rnn, x, n, num_permutations=0)


@pytest.mark.slow
def test_sire_lowers_permutation_sensitivity_on_sum():
    # the same GRU, data and seed, trained with lam = 0 and with SIRE (seeds 0-4
    # gave sensitivity ratios 0.29-0.63 and SIRE MSEs <= 0.05 with these settings)
    task = make_task("sum")
    cfg = FitConfig(train_lengths=(2, 8), epochs=15, num_train=500, num_val=200)
    test = task.sample(300, (2, 8), torch.Generator().manual_seed(99))
    sens = {}
    for lam in (0.0, 100.0):
        torch.manual_seed(0)
        m = RecurrentSetModel(1, 1, hidden=16, cell="gru", lam=lam)
        fit(m, task, cfg)
        g = torch.Generator().manual_seed(5)
        sens[lam] = evaluate(m, task, test, num_permutations=4, generator=g)
    assert sens[100.0]["sensitivity"] < 0.75 * sens[0.0]["sensitivity"]
    # and it still learned the sum: MSE well below the target's variance
    assert sens[100.0]["mse"] < 0.1 * float(test.y.var())


def test_fit_selects_on_validation_and_records_history():
    task = make_task("parity")
    cfg = FitConfig(epochs=3, num_train=64, num_val=32)
    torch.manual_seed(0)
    m = build_model("deepsets-mean", task, hidden=8)
    res = fit(m, task, cfg)
    assert [h["epoch"] for h in res.history] == [1, 2, 3]
    vals = [h["val_metric"] for h in res.history]
    assert res.best_val == max(vals) and res.history[res.best_epoch - 1]["val_metric"]
    assert res.metric == "accuracy" and next(m.parameters()).dtype == torch.float32


def test_training_errors():
    task = make_task("sum")
    with pytest.raises(ValueError, match="`name` must be one of"):
        build_model("transformer", task)
    with pytest.raises(ValueError, match="`lam` must be > 0 for sire-gru"):
        build_model("sire-gru", task, lam=0.0)
    with pytest.raises(ValueError, match="`epochs` must be an integer >= 1"):
        FitConfig(epochs=0)
    with pytest.raises(ValueError, match="`lr` must be > 0"):
        FitConfig(lr=0.0)
    with pytest.raises(ValueError, match="`dtype` must be 'float32' or 'float64'"):
        FitConfig(dtype="half")
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module"):
        fit(lambda x, n: x, task, FitConfig())
    with pytest.raises(TypeError, match="`cfg` must be a FitConfig"):
        fit(build_model("rnn-gru", task), task, {"epochs": 1})


# -- CLI ----------------------------------------------------------------------------
def test_parse_lengths():
    assert parse_lengths("2-100") == [2, 4, 10, 21, 46, 100]
    assert parse_lengths("50,10,10") == [10, 50]
    for bad in ("10-2", "a-b", "0,3", ""):
        with pytest.raises(ValueError, match="lengths must be a range LO-HI"):
            parse_lengths(bad)


def test_cli_sets_writes_a_run_folder(tmp_path):
    out = tmp_path / "run"
    rc = cli_main(
        ["sets", "--task", "parity", "--model", "deepsets-sum,rnn-gru,sire-gru",
         "--train-lengths", "2-6", "--test-lengths", "4,12", "--epochs", "2",
         "--num-train", "64", "--num-val", "32", "--num-test", "32", "--hidden", "8",
         "--out", str(out), "--quiet", "--no-plots"]
    )
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metric"] == "accuracy"
    assert list(summary["models"]) == ["deepsets-sum", "rnn-gru", "sire-gru"]
    for name, r in summary["models"].items():
        assert [c["length"] for c in r["curve"]] == [4, 12]
        assert 0 <= r["test_in"] <= 1
        hist = json.loads((out / name / "metrics.json").read_text())
        assert len(hist) == 2
        assert torch.load(out / name / "best.pt", weights_only=True)
        assert (out / name / "result.json").exists()
    assert summary["models"]["deepsets-sum"]["sensitivity_in"] < 1e-5
    assert (out / "summary.md").read_text().startswith("# sets: parity")
    assert json.loads((out / "config.json").read_text())["lam"] == 1.0
    with pytest.raises(FileExistsError, match="`--out` must be a new folder"):
        run_sets(out, task="parity")


def test_cli_sets_plots_and_table(tmp_path):
    pytest.importorskip("matplotlib", reason="the run plots need matplotlib")
    res = run_table(tmp_path, rows=["half-range"], epochs=1, num_train=32,
                    num_val=16, num_test=16, hidden=4)
    assert (tmp_path / "half-range" / "length_curve.png").stat().st_size > 0
    table = (tmp_path / "table.md").read_text()
    assert "| half-range | mse | 2-10 | 100 |" in table
    assert res["half-range"]["config"]["lam"] == 10.0


def test_cli_sets_errors(tmp_path):
    with pytest.raises(ValueError, match="`--model` must be among"):
        run_sets(tmp_path / "a", task="sum", models=["mlp"])
    with pytest.raises(ValueError, match="`--rows` must be among"):
        run_table(tmp_path / "b", rows=["mnist"])
    with pytest.raises(SystemExit) as exc:
        cli_main(["sets", "--out", str(tmp_path / "c")])
    assert exc.value.code == 2


def test_cli_sets_help_and_bad_lengths(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["sets", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--task", "--model", "--train-lengths", "--test-lengths", "--lam",
                 "--transpositions", "--local", "--target", "--table", "--quiet"):
        assert flag in text
    with pytest.raises(SystemExit) as exc:
        cli_main(["sets", "--task", "sum", "--test-lengths", "100-2",
                  "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "lengths must be a range LO-HI" in capsys.readouterr().err
