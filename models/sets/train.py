r"""Training and evaluation of set models: fit, evaluate, permutation sensitivity.

:func:`fit` trains any set model ``f(x, lengths)`` (a :class:`DeepSets`, a
:class:`RecurrentSetModel` with or without SIRE) on a :class:`SetTask` with Adam,
on one fixed training sample drawn from the task's seeded generator, and keeps
the weights of the epoch with the best *validation* score (accuracy for
classification, mean squared error for regression); the test sets are drawn
afterwards, by :func:`length_curve`, from a generator of their own. Every model
trained with the same ``seed`` sees the same data in the same order; the SIRE
transpositions come from a separate generator, so ``lam`` changes nothing else.

:func:`permutation_sensitivity` measures how far a model is from invariant:
the mean of :math:`|f(x) - f(\pi x)|` over sets and random permutations
:math:`\pi` of their real elements, with :math:`f` the prediction (the output
for regression, the class probabilities for classification).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.sets.deepsets import POOLINGS, DeepSets
from models.sets.recurrent import (
    CELLS,
    RecurrentSetModel,
    permute_sets,
    random_permutations,
)
from models.sets.tasks import SetBatch, SetTask

__all__ = [
    "MODEL_NAMES",
    "FitConfig",
    "FitResult",
    "build_model",
    "evaluate",
    "fit",
    "length_curve",
    "permutation_sensitivity",
    "predict",
]

#: Model names of :func:`build_model`: ``deepsets-<pool>``, ``rnn-<cell>`` (the
#: plain recurrent network, lambda = 0) and ``sire-<cell>`` (with SIRE).
MODEL_NAMES: tuple[str, ...] = (
    *(f"deepsets-{p}" for p in POOLINGS),
    *(f"rnn-{c}" for c in CELLS),
    *(f"sire-{c}" for c in CELLS),
)


def build_model(
    name: str,
    task: SetTask,
    *,
    hidden: int = 32,
    lam: float = 1.0,
    num_transpositions: int = 1,
    local: bool = False,
    target: str = "output",
) -> nn.Module:
    """The model ``name`` (one of :data:`MODEL_NAMES`) sized for ``task``.

    Args:
        name: ``deepsets-sum|mean|max``, ``rnn-gru|lstm|tanh`` or
            ``sire-gru|lstm|tanh``.
        task: The task (input and output sizes).
        hidden: Width (DeepSets MLPs, recurrent state and head).
        lam: SIRE weight of the ``sire-*`` models (> 0).
        num_transpositions: SIRE transpositions per set.
        local: SIRE swaps neighbouring positions only.
        target: SIRE compares the ``"output"`` or the ``"state"``.

    Returns:
        The module (float32, CPU: call ``.to(device, dtype)``).

    Raises:
        ValueError: unknown name, or ``lam <= 0`` for a ``sire-*`` model.

    Example:
        >>> from models.sets.tasks import make_task
        >>> type(build_model("sire-gru", make_task("sum"))).__name__
        'RecurrentSetModel'
    """
    if name not in MODEL_NAMES:
        raise ValueError(
            f"build_model: `name` must be one of {', '.join(MODEL_NAMES)}; got "
            f"{name!r}."
        )
    kind, _, arg = name.partition("-")
    if kind == "deepsets":
        return DeepSets.mlp(task.in_dim, task.out_dim, hidden=hidden, pool=arg)
    if kind == "sire" and not lam > 0:
        raise ValueError(
            f"build_model: `lam` must be > 0 for {name} (use rnn-{arg} for the "
            f"plain network); got {lam}."
        )
    return RecurrentSetModel(
        task.in_dim,
        task.out_dim,
        hidden=hidden,
        cell=arg,
        lam=lam if kind == "sire" else 0.0,
        num_transpositions=num_transpositions,
        local=local,
        target=target,
    )


@dataclass
class FitConfig:
    """Training options of :func:`fit`.

    Attributes:
        train_lengths: ``(lo, hi)`` set sizes of the training and validation sets.
        epochs: Passes over the training sample.
        num_train: Training sets.
        num_val: Validation sets.
        batch_size: Sets per step.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        seed: Seeds the data (and, through the caller, the weights).
        device: Where to train.
        dtype: ``"float32"`` or ``"float64"``.
        clip: Gradient-norm clipping (0: none).
    """

    train_lengths: tuple[int, int] = (2, 10)
    epochs: int = 20
    num_train: int = 2000
    num_val: int = 500
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    clip: float = 1.0

    def __post_init__(self) -> None:
        """Check the options."""
        for key in ("epochs", "num_train", "num_val", "batch_size"):
            v = getattr(self, key)
            if not isinstance(v, int) or v < 1:
                raise ValueError(
                    f"FitConfig: `{key}` must be an integer >= 1; got {v!r}."
                )
        if not self.lr > 0:
            raise ValueError(f"FitConfig: `lr` must be > 0; got {self.lr}.")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(
                f"FitConfig: `dtype` must be 'float32' or 'float64'; got "
                f"{self.dtype!r}."
            )

    @property
    def torch_dtype(self) -> torch.dtype:
        """The ``torch.dtype`` of :attr:`dtype`."""
        return getattr(torch, self.dtype)


@dataclass
class FitResult:
    """What :func:`fit` returns (the model itself holds the selected weights).

    Attributes:
        history: One dict per epoch: ``epoch``, ``train_loss`` (task loss),
            ``penalty`` (SIRE, 0 without), ``val_loss``, ``val_metric``,
            ``val_sensitivity``, ``seconds``.
        best_epoch: The selected epoch (1-based).
        best_val: Its validation metric.
        metric: ``"accuracy"`` or ``"mse"``.
        seconds: Training wall time.
    """

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val: float = float("nan")
    metric: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _metric_name(task: SetTask) -> str:
    return "accuracy" if task.kind == "classification" else "mse"


def _better(task: SetTask, a: float, b: float) -> bool:
    return a > b if task.kind == "classification" else a < b


def task_loss(task: SetTask, out: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy (classification) or mean squared error (regression)."""
    if task.kind == "classification":
        return F.cross_entropy(out, y)
    return F.mse_loss(out[:, 0], y.to(out.dtype))


def predict(task: SetTask, out: Tensor) -> Tensor:
    """The prediction compared by :func:`permutation_sensitivity`.

    Regression: the output ``[B, 1]``; classification: the class probabilities.
    """
    return out.softmax(dim=-1) if task.kind == "classification" else out


@torch.no_grad()
def permutation_sensitivity(
    f: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    lengths: Tensor,
    *,
    num_permutations: int = 4,
    generator: torch.Generator | None = None,
) -> float:
    r"""Mean :math:`|f(x) - f(\pi x)|` over sets, random permutations and outputs.

    Each permutation shuffles the real elements of every set uniformly (the
    padding stays); the absolute difference is averaged over output components,
    sets and ``num_permutations`` permutations. Zero for an invariant ``f``.

    Args:
        f: ``f(x, lengths) -> [B, k]`` (e.g. a model followed by :func:`predict`).
        x: Padded sets ``[B, L, d]``.
        lengths: ``[B]`` sizes.
        num_permutations: Permutations per set (>= 1).
        generator: Random source of the permutations.

    Returns:
        The mean absolute change.

    Raises:
        ValueError: ``num_permutations < 1``.

    Example:
        >>> x, n = torch.randn(5, 4, 1), torch.full((5,), 4)
        >>> permutation_sensitivity(lambda x, n: x.amax(dim=1), x, n)
        0.0
    """
    if not isinstance(num_permutations, int) or num_permutations < 1:
        raise ValueError(
            "permutation_sensitivity: `num_permutations` must be an integer >= 1; "
            f"got {num_permutations!r}."
        )
    ref = f(x, lengths)
    total = 0.0
    for _ in range(num_permutations):
        idx = random_permutations(lengths, x.shape[1], generator=generator)
        total += float((f(permute_sets(x, idx), lengths) - ref).abs().mean())
    return total / num_permutations


@torch.no_grad()
def evaluate(
    model: nn.Module,
    task: SetTask,
    data: SetBatch,
    *,
    batch_size: int = 256,
    num_permutations: int = 2,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """Loss, metric (accuracy or MSE) and permutation sensitivity on ``data``.

    Args:
        model: The set model (its device and dtype are used for ``data``).
        task: The task.
        data: The sets.
        batch_size: Sets per forward pass.
        num_permutations: Permutations per set for the sensitivity (0: skip).
        generator: Random source of the permutations.

    Returns:
        ``{"loss", "accuracy" or "mse", "sensitivity"}`` (sensitivity NaN when
        skipped).
    """
    was_training = model.training
    model.eval()
    p = next(model.parameters())
    loss = metric = sens = 0.0
    n_total = len(data)
    for start in range(0, n_total, batch_size):
        b = data.subset(slice(start, start + batch_size))
        x, n, y = b.x.to(p.device, p.dtype), b.lengths.to(p.device), b.y.to(p.device)
        out = model(x, n)
        w = len(b) / n_total
        loss += w * float(task_loss(task, out, y))
        if task.kind == "classification":
            metric += w * float((out.argmax(dim=-1) == y).to(torch.float64).mean())
        else:
            metric += w * float(F.mse_loss(out[:, 0], y.to(out.dtype)))
        if num_permutations:
            sens += w * permutation_sensitivity(
                lambda x, n: predict(task, model(x, n)),
                x,
                n,
                num_permutations=num_permutations,
                generator=generator,
            )
    model.train(was_training)
    return {
        "loss": loss,
        _metric_name(task): metric,
        "sensitivity": sens if num_permutations else float("nan"),
    }


def fit(
    model: nn.Module,
    task: SetTask,
    cfg: FitConfig,
    *,
    progress: bool = False,
    desc: str = "",
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``model`` on ``task``; keep the weights of the best validation epoch.

    The loss is the task loss plus, for a :class:`RecurrentSetModel` with
    ``lam > 0``, ``lam`` times its SIRE penalty. The training and validation sets
    are drawn once from ``torch.Generator().manual_seed(cfg.seed)`` (sizes in
    ``cfg.train_lengths``); the transpositions from ``seed + 1``.

    Args:
        model: The set model (moved to ``cfg.device``/``cfg.dtype`` here).
        task: The task.
        cfg: Training options.
        progress: A tqdm bar over epochs (stderr).
        desc: The bar's label.
        on_epoch: Called with each epoch's record (e.g. to write metrics.json).

    Returns:
        The :class:`FitResult`; ``model`` holds the selected weights.

    Raises:
        TypeError: ``model`` is not an ``nn.Module`` or ``cfg`` not a
            :class:`FitConfig`.
    """
    from tqdm import tqdm

    if not isinstance(model, nn.Module):
        raise TypeError(
            f"fit: `model` must be a torch.nn.Module; got {type(model).__name__}."
        )
    if not isinstance(cfg, FitConfig):
        raise TypeError(f"fit: `cfg` must be a FitConfig; got {type(cfg).__name__}.")
    start_time = time.perf_counter()
    dtype = cfg.torch_dtype
    model.to(cfg.device, dtype)
    g_data = torch.Generator().manual_seed(cfg.seed)
    g_pen = torch.Generator().manual_seed(cfg.seed + 1)
    g_eval = torch.Generator().manual_seed(cfg.seed + 2)
    train = task.sample(cfg.num_train, cfg.train_lengths, g_data, dtype=dtype)
    val = task.sample(
        cfg.num_val, cfg.train_lengths, g_data, split="val", dtype=dtype
    )
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    lam = float(getattr(model, "lam", 0.0))
    result = FitResult(metric=_metric_name(task))
    best_state = copy.deepcopy(model.state_dict())
    bar = tqdm(
        range(1, cfg.epochs + 1),
        desc=desc or "epochs",
        disable=not progress,
        leave=False,
        file=sys.stderr,
    )
    for epoch in bar:
        model.train()
        order = torch.randperm(len(train), generator=g_data)
        tot_loss = tot_pen = 0.0
        for s in range(0, len(train), cfg.batch_size):
            b = train.subset(order[s : s + cfg.batch_size]).to(cfg.device)
            out = model(b.x, b.lengths)
            loss = task_loss(task, out, b.y)
            pen = torch.zeros((), device=out.device, dtype=out.dtype)
            if lam > 0:
                pen = model.penalty(b.x, b.lengths, generator=g_pen, reference=out)
            opt.zero_grad()
            (loss + lam * pen).backward()
            if cfg.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            w = len(b) / len(train)
            tot_loss += w * float(loss.detach())
            tot_pen += w * float(pen.detach())
        ev = evaluate(model, task, val, num_permutations=1, generator=g_eval)
        rec = {
            "epoch": epoch,
            "train_loss": tot_loss,
            "penalty": tot_pen,
            "val_loss": ev["loss"],
            "val_metric": ev[result.metric],
            "val_sensitivity": ev["sensitivity"],
            "seconds": time.perf_counter() - start_time,
        }
        result.history.append(rec)
        if on_epoch is not None:
            on_epoch(rec)
        if result.best_epoch == 0 or _better(task, rec["val_metric"], result.best_val):
            result.best_epoch, result.best_val = epoch, rec["val_metric"]
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(val=f"{rec['val_metric']:.4g}", best=f"{result.best_val:.4g}")
    bar.close()
    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - start_time
    return result


def length_curve(
    model: nn.Module,
    task: SetTask,
    lengths: Sequence[int],
    *,
    num: int = 500,
    seed: int = 10_000,
    num_permutations: int = 2,
    split: str = "test",
) -> list[dict[str, float]]:
    """Test metric and sensitivity of ``model`` at each set size in ``lengths``.

    Args:
        model: A trained set model.
        task: The task.
        lengths: Set sizes (each evaluated on ``num`` fresh sets of exactly
            that size; a fixed-length task uses its own size).
        num: Sets per size.
        seed: Seeds the test sets (distinct from any training seed in use).
        num_permutations: Permutations per set for the sensitivity.
        split: Digits: which images.

    Returns:
        One dict per size: ``length``, the metric, ``loss``, ``sensitivity``.
    """
    p = next(model.parameters())
    rows = []
    for n in lengths:
        g = torch.Generator().manual_seed(seed + int(n))
        data = task.sample(num, (int(n), int(n)), g, split=split, dtype=p.dtype)
        ev = evaluate(model, task, data, num_permutations=num_permutations, generator=g)
        rows.append({"length": int(task.fixed_length or n), **ev})
    return rows
