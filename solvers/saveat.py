r"""`SaveAt`: what :func:`solvers.solve` records, and when.

By default a solve keeps the state at ``t1`` only. ``SaveAt(ts=...)`` keeps it at
given output times (the steps land on them), ``SaveAt(steps=True)`` after every
accepted step, and ``fn`` records a *function* of the state instead of the state
(as diffrax's ``SaveAt(fn=...)``), so per-step diagnostics such as the Dirichlet
energy along a 64-layer network on Cora cost a scalar per step, not a stored
``[N, F]`` state::

    energy = SaveAt(steps=True, fn=lambda t, y, g: dirichlet_energy(y, g))
    sol = solve(term, Euler(), y0=x0, t1=64.0, dt0=1.0, args=graph, saveat=energy)
    sol.ts, sol.ys        # [65] times (t0 and every step), [65] energies
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from graphops._checks import describe

__all__ = ["SaveAt"]


@dataclass(frozen=True)
class SaveAt:
    """Output times and what is recorded at them.

    Args:
        ts: Increasing 1-D floating tensor of output times in ``[t0, t1]``
            (``t0`` is recorded only if listed); ``None`` records ``t1`` only.
        steps: Record ``t0`` and the end of every accepted step instead of ``ts``
            (``ts`` must then be ``None``); for depth-as-time diagnostics.
        fn: Record ``fn(t, y, args)`` (a tensor or a tuple of tensors of fixed
            shapes) instead of the state ``y``. ``Solution.ys`` then stacks its
            values along a new first axis. ``fn`` is called on the solve's
            states with gradients flowing, so a loss may use what it returns.

    Raises:
        TypeError: ``steps`` not a bool, ``fn`` not callable or ``ts`` not a tensor.
        ValueError: both ``ts`` and ``steps=True``.

    Example:
        >>> rec = SaveAt(steps=True, fn=lambda t, y, args: (y * y).sum())
        >>> sol = solve(term, Euler(), y0=x0, t1=1.0, dt0=0.25, saveat=rec)
        >>> sol.ts.tolist(), tuple(sol.ys.shape)
        ([0.0, 0.25, 0.5, 0.75, 1.0], (5,))
    """

    ts: Tensor | None = field(default=None, compare=False)
    steps: bool = False
    fn: Callable[[float, Any, Any], Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Validate the fields (the times are checked against the interval later)."""
        if not isinstance(self.steps, bool):
            raise TypeError(
                f"SaveAt: `steps` must be a bool; got {describe(self.steps)}."
            )
        if self.fn is not None and not callable(self.fn):
            raise TypeError(
                "SaveAt: `fn` must be a callable fn(t, y, args) or None; got "
                f"{describe(self.fn)}."
            )
        if self.ts is not None and not isinstance(self.ts, Tensor):
            raise TypeError(
                "SaveAt: `ts` must be a 1-D floating tensor of output times or None; "
                f"got {describe(self.ts)}. Use e.g. torch.linspace(t0, t1, 11)."
            )
        if self.steps and self.ts is not None:
            raise ValueError(
                "SaveAt: pass either `ts` or `steps=True`, not both; got both. "
                "steps=True records t0 and every step (which lands on no extra times)."
            )

    def record(self, t: float, y: Any, args: Any) -> Any:
        """What is stored for the state ``y`` at time ``t``."""
        return y if self.fn is None else self.fn(t, y, args)

    def __repr__(self) -> str:
        """The non-default fields (``ts`` as its length, ``fn`` by name)."""
        parts = []
        if self.ts is not None:
            parts.append(f"ts=<{self.ts.numel()} times>")
        if self.steps:
            parts.append("steps=True")
        if self.fn is not None:
            parts.append(f"fn={getattr(self.fn, '__name__', type(self.fn).__name__)}")
        return f"SaveAt({', '.join(parts)})"
