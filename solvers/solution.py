"""`Solution`, `Status` and `Stats`: what `solve()` returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

__all__ = ["Solution", "Stats", "Status"]


class Status(enum.Enum):
    """Outcome of a solve; each member carries a short description."""

    SUCCESS = "the solve reached t1"
    MAX_STEPS = "the step budget `max_steps` ran out before t1"
    DT_MIN = "the adaptive step size fell below the controller's dt_min"
    NONFINITE = "the state became non-finite (NaN or inf)"
    LINEAR_SOLVE_FAILED = "the linear solver of an implicit step did not converge"

    @property
    def description(self) -> str:
        """Human-readable meaning of the status."""
        return self.value


@dataclass
class Stats:
    """Work counters of a solve (mutable while solving, then frozen by convention).

    Attributes:
        num_steps: Steps attempted (accepted plus rejected, and a failed one).
        num_accepted: Steps accepted.
        num_rejected: Steps rejected by an adaptive controller.
        num_rhs_evals: Right-hand-side evaluations.
        num_linear_iters: Linear-solver iterations (implicit solvers).
        dt: The effective constant step of a fixed-step solve (the largest if
            output times split the grid unevenly); ``None`` for adaptive solves.

    Example:
        >>> s = Stats(num_steps=3, num_accepted=3, num_rhs_evals=12)
        >>> repr(s).split(", ")[:2]
        ['Stats(num_steps=3', 'num_accepted=3']
    """

    num_steps: int = 0
    num_accepted: int = 0
    num_rejected: int = 0
    num_rhs_evals: int = 0
    num_linear_iters: int = 0
    dt: float | None = None  # the (effective) constant step, if any

    def __repr__(self) -> str:
        """The counters under their attribute names (``dt`` only when set)."""
        parts = [
            f"num_steps={self.num_steps}",
            f"num_accepted={self.num_accepted}",
            f"num_rejected={self.num_rejected}",
            f"num_rhs_evals={self.num_rhs_evals}",
            f"num_linear_iters={self.num_linear_iters}",
        ]
        if self.dt is not None:
            parts.append(f"dt={self.dt:.4g}")
        return "Stats(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class Solution:
    """Result of :func:`solvers.solve`.

    Attributes:
        ts: Output times ``[T]``.
        ys: States at ``ts``: ``[T, N, F]``, or a tuple of such for ``(x, v)`` states.
            On failure, only the times reached are included.
        status: :class:`Status`.
        message: Empty on success; otherwise where (t, step, dt) and a likely cause.
        stats: :class:`Stats`.
    """

    ts: Tensor
    ys: Any
    status: Status
    message: str = ""
    stats: Stats = field(default_factory=Stats)

    @property
    def success(self) -> bool:
        """``status is Status.SUCCESS``."""
        return self.status is Status.SUCCESS

    @property
    def y1(self) -> Any:
        """The last saved state (``ys[-1]``, leaf-wise for tuples)."""
        if isinstance(self.ys, tuple):
            return tuple(y[-1] for y in self.ys)
        return self.ys[-1]

    def __repr__(self) -> str:
        """Status, output count, state shapes, stats and any message."""
        shape = (
            tuple(tuple(y.shape) for y in self.ys)
            if isinstance(self.ys, tuple)
            else tuple(self.ys.shape)
        )
        msg = f", message={self.message!r}" if self.message else ""
        return (
            f"Solution(status={self.status.name}, ts=[{len(self.ts)}], ys={shape}, "
            f"stats={self.stats}{msg})"
        )
