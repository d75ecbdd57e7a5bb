"""Plots of runs and sweeps (matplotlib, Agg backend, imported only when plotting)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["energy_curve", "learning_curves"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "plots: matplotlib is needed for the run plots; got it missing. Install "
            "it (pip install 'graphpde[demo]') or pass --no-plots."
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(
    histories: list[list[dict[str, Any]]], path: Path, *, title: str = ""
) -> None:
    """Training/validation loss and train/val/test accuracy per epoch, every run.

    Args:
        histories: One ``metrics.json`` list per run.
        path: The PNG to write.
        title: Figure title.
    """
    plt = _pyplot()
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, hist in enumerate(histories):
        ep = [h["epoch"] for h in hist]
        alpha = 0.9 if i == 0 else 0.25
        lab = i == 0
        ax_l.plot(
            ep,
            [h["train_loss"] for h in hist],
            "C0",
            alpha=alpha,
            label="train" if lab else None,
        )
        ax_l.plot(
            ep,
            [h["val_loss"] for h in hist],
            "C1",
            alpha=alpha,
            label="validation" if lab else None,
        )
        for key, c in (("train_acc", "C0"), ("val_acc", "C1"), ("test_acc", "C2")):
            ax_a.plot(
                ep,
                [100 * h[key] for h in hist],
                c,
                alpha=alpha,
                label=key.split("_")[0] if lab else None,
            )
    ax_l.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    ax_a.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    ax_l.legend()
    ax_a.legend()
    if len(histories) > 1:
        fig.text(
            0.5,
            0.005,
            f"{len(histories)} runs; run 0 highlighted",
            ha="center",
            fontsize=8,
        )
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def energy_curve(
    ts: np.ndarray, energy: np.ndarray, path: Path, *, title: str = ""
) -> None:
    """Dirichlet energy of the hidden state along the integration time (log scale).

    Args:
        ts: Times (``t0`` and after every step).
        energy: Energy at those times.
        path: The PNG to write.
        title: Figure title.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(ts, energy, "o-", ms=3)
    positive = np.asarray(energy) > 0
    if positive.all():
        ax.set_yscale("log")
    ax.set(xlabel="integration time t (depth)", ylabel="Dirichlet energy", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
