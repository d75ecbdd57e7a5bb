r"""Step-size controllers: *where* the steps go, separate from the method.

* :class:`ConstantStep` - a fixed grid that lands exactly on ``t1`` and on every
  output time.
* :class:`PIController` - error-controlled adaptive steps for solvers with an
  embedded error estimate (``Dopri5``, ``Bosh3``).

Controllers are frozen values. A controller follows one protocol, so
:func:`solvers.solve` has one stepping loop for every controller:

1. :meth:`AbstractStepController.init` builds the per-solve state (a value, never
   mutated) and the first :class:`Decision` (where the first step starts and how
   long it is).
2. After every step, :meth:`AbstractStepController.adapt` takes the state, the
   step's ``(t, dt)``, the state before the step and the :class:`~solvers.base.Step`,
   and returns the new state and a :class:`Decision`: keep the step or not, the
   time reached, the next step (shortened to land on the next output time),
   whether an output time was reached, whether ``t1`` was reached, and a failure
   status with its message (``MAX_STEPS``, ``DT_MIN``, ...).

What a controller *is* decides how the loop may run it (types, not flags):

* :class:`AbstractFixedStepController` (``ConstantStep``): the steps are fixed
  before the solve and ``adapt`` never reads the step's values, so the loop runs
  many steps between host synchronisations (it checks finiteness once per
  segment) and ``Checkpoint`` can cut the schedule into segments.
* :class:`AbstractAdaptiveController` (``PIController``): ``adapt`` reads the
  solver's error estimate (one host sync per step) and rejects non-finite steps
  itself; it needs an :class:`~solvers.base.AbstractAdaptiveSolver`.

The tolerances, the step bounds and the step-size law are the controller's fields.
"""

from __future__ import annotations

import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor

from solvers._checks import check_real
from solvers._tree import State, tall_finite, tmap
from solvers.solution import Status
from solvers.terms import Term

if TYPE_CHECKING:
    from solvers.base import AbstractSolver, Step

__all__ = [
    "AbstractAdaptiveController",
    "AbstractFixedStepController",
    "AbstractStepController",
    "ConstantStep",
    "Decision",
    "PIController",
    "Schedule",
]

_EPS = sys.float_info.epsilon


class Decision(NamedTuple):
    """What a controller decides after a step (or, from ``init``, before the first).

    Attributes:
        accept: Keep the step's ``y1`` (``False``: retry from the same state).
        t: The time of the state after this decision (the step's end if accepted).
        dt: The next step to try, already shortened to land on the next output
            time (unused when ``done`` or on a failure).
        save: The accepted step landed on an output time: the loop saves ``y1``.
        done: ``t1`` was reached; no further step.
        status: ``Status.SUCCESS``, or why the solve stops here (``MAX_STEPS``,
            ``DT_MIN``, ``NONFINITE``); the loop ends the solve with it.
        message: For a failure: what happened, without the solver's name (the loop
            prefixes it), e.g. ``"stopped at t=0.3 (step 30): ..."``.
        rhs_evals: Right-hand-side evaluations the controller made itself (the
            automatic first step of ``PIController`` costs one).
    """

    accept: bool
    t: float
    dt: float
    save: bool = False
    done: bool = False
    status: Status = Status.SUCCESS
    message: str = ""
    rhs_evals: int = 0


class Schedule(NamedTuple):
    """The steps of a fixed-step controller, known before the solve.

    Attributes:
        num_steps: Number of steps from ``t0`` to ``t1`` (before ``max_steps``).
        dt: The largest step (the effective constant step; ``Solution.stats.dt``
            and the ``dt`` of the stability check).
    """

    num_steps: int
    dt: float


class AbstractStepController(ABC):
    """Base of the step-size controllers: the ``init``/``adapt`` protocol.

    A new controller derives from :class:`AbstractFixedStepController` (steps
    known in advance, ``adapt`` reads no tensor) or
    :class:`AbstractAdaptiveController` (``adapt`` reads ``Step.y_err`` and must
    reject non-finite steps itself); the loop runs it accordingly.
    """

    @abstractmethod
    def init(
        self,
        term: Term,
        solver: AbstractSolver,
        t0: float,
        y0: State,
        args: Any,
        f0: State | None,
        *,
        stops: Sequence[float],
        stop_saves: Sequence[bool],
        dt0: float | None,
        max_steps: int,
    ) -> tuple[Any, Decision]:
        """The per-solve state and the first decision.

        Args:
            term: The equation.
            solver: The method (already checked against the controller).
            t0: Start time.
            y0: Initial state.
            args: Passed to the term.
            f0: ``term(t0, y0, args)`` if the loop evaluated it (adaptive
                controllers), else ``None``.
            stops: Increasing times ``> t0`` the steps must land on; the last is
                ``t1``.
            stop_saves: Whether each stop is an output time.
            dt0: ``solve``'s ``dt0`` (validated; ``None`` if not given).
            max_steps: The step budget (accepted plus rejected steps).

        Returns:
            ``(state, decision)``; ``decision.t`` is ``t0``.
        """

    @abstractmethod
    def adapt(
        self, state: Any, t: float, dt: float, y0: State, step: Step
    ) -> tuple[Any, Decision]:
        """Judge the step from ``(t, y0)`` of size ``dt``; return the next decision.

        Args:
            state: The state from ``init`` or the previous ``adapt``.
            t: Start of the step (the previous ``Decision.t``).
            dt: Its size (the previous ``Decision.dt``).
            y0: The state at ``t``.
            step: What the solver returned (``status`` is ``SUCCESS``).

        Returns:
            ``(new_state, decision)``.
        """


class AbstractFixedStepController(AbstractStepController):
    """A controller whose steps are fixed before the solve.

    Its :meth:`adapt` always accepts and never reads the step's tensors, so the
    loop may take many steps between host synchronisations, checking finiteness
    once per segment, and ``Checkpoint`` may cut the schedule into segments.
    """

    @abstractmethod
    def schedule(
        self, t0: float, stops: Sequence[float], dt0: float | None
    ) -> Schedule:
        """The number of steps and the largest step, without laying out the steps.

        Args:
            t0: Start time.
            stops: Increasing stop times ``> t0`` (the last is ``t1``).
            dt0: ``solve``'s ``dt0``.

        Raises:
            ValueError: the controller cannot plan with this ``dt0``.
        """


class AbstractAdaptiveController(AbstractStepController):
    """A controller that reads the solver's error estimate ``Step.y_err``.

    It needs an :class:`~solvers.base.AbstractAdaptiveSolver`, synchronises with
    the device once per step (accept or reject) and rejects a step whose state is
    not finite. ``Checkpoint`` does not apply (its segments replay a fixed grid).
    """


def _budget_message(t: float, k: int, max_steps: int, t1: float) -> str:
    return (
        f"stopped at t={t:.6g} (step {k}): `max_steps`={max_steps} reached before "
        f"t1={t1:g}"
    )


# ---------------------------------------------------------------------------------
# ConstantStep
# ---------------------------------------------------------------------------------
def _require_dt0(dt0: float | None) -> None:
    if dt0 is None:
        raise ValueError(
            "solve: ConstantStep needs `dt0` > 0; got None. Pass dt0=..., or use "
            "an adaptive solver with controller=PIController(rtol=..., atol=...)."
        )


def _num_steps(delta: float, dt0: float) -> int:
    """Equal steps of at most ``dt0`` over ``delta`` (``1e-9`` absorbs round-off)."""
    return max(1, math.ceil(delta / dt0 - 1e-9))


# ConstantStep's state: (the decision after each step, laid out once by init, and the
# index of the next step); a plain tuple, as adapt runs once per step.
_GridState = tuple[tuple[Decision, ...], int]


@dataclass(frozen=True)
class ConstantStep(AbstractFixedStepController):
    r"""Fixed steps of (at most) ``dt0``, landing exactly on every output time.

    The interval between two consecutive stops (``t0``, each ``saveat`` time, ``t1``)
    of length :math:`\Delta` is split into

    .. math:: n = \big\lceil \Delta / \Delta t_0 - 10^{-9} \big\rceil

    equal steps of :math:`\Delta / n \le \Delta t_0`. A non-integer
    ``(t1 - t0) / dt0`` therefore gives uniformly slightly *smaller* steps, never a
    silent short last step (torchdiffeq's fixed-grid behaviour); the ``1e-9``
    absorbs round-off such as ``1.0 / 0.1 = 10.000000000000002``. The effective step
    (the largest one if the intervals differ) is recorded in ``Solution.stats.dt``
    and is the ``dt`` that the stability check of :func:`solvers.solve` uses.

    As a controller, its :meth:`adapt` always accepts and returns the next grid
    step; it reads no tensor, so :func:`solvers.solve` runs the steps without a
    host synchronisation per step.

    Example:
        >>> sol = solve(term, RK4(), y0=x0, t1=1.0, dt0=0.3)   # 4 steps of 0.25
        >>> sol.stats.dt
        0.25
    """

    def grid(
        self, t0: float, stops: Sequence[float], dt0: float
    ) -> tuple[list[list[float]], float]:
        """The step times between consecutive stops.

        Args:
            t0: Start time.
            stops: Increasing stop times, all ``> t0`` (the last is ``t1``).
            dt0: Requested step, ``> 0``.

        Returns:
            ``(times, dt)``: for each stop, the times ``[ta, ..., tb]`` of its
            interval (``ta`` is the previous stop, ``tb`` the stop itself, both
            exact), and the largest effective step.
        """
        out, dt_eff, ta = [], 0.0, t0
        for tb in stops:
            delta = tb - ta
            n = _num_steps(delta, dt0)
            # ta + delta * k / n rather than accumulating ta + k * h: no drift.
            out.append([ta + delta * k / n for k in range(n)] + [tb])
            dt_eff = max(dt_eff, delta / n)
            ta = tb
        return out, dt_eff

    def init(
        self,
        term: Term,
        solver: AbstractSolver,
        t0: float,
        y0: State,
        args: Any,
        f0: State | None,
        *,
        stops: Sequence[float],
        stop_saves: Sequence[bool],
        dt0: float | None,
        max_steps: int,
    ) -> tuple[_GridState, Decision]:
        """Lay out the grid (see :meth:`grid`); the first decision is its first step.

        Raises:
            ValueError: ``dt0`` is ``None``.
        """
        _require_dt0(dt0)
        n, dt_eff = self.schedule(t0, stops, dt0)
        # Lay out at most max_steps + 1 steps: the work is O(max_steps), whatever
        # (t1 - t0) / dt0 is (a dt0 of 1e-12 must not allocate 1e12 steps).
        keep = min(n, max_steps + 1)
        # (start, dt, lands on an output time, end) of the first `keep` steps
        steps: list[tuple[float, float, bool, float]] = []
        ta = t0
        for tb, is_save in zip(stops, stop_saves, strict=True):
            m = _num_steps(tb - ta, dt0)
            for k in range(min(m, keep - len(steps))):
                # ta + delta * k / m rather than accumulating: no drift, exact ends.
                start = ta + (tb - ta) * k / m
                end = tb if k == m - 1 else ta + (tb - ta) * (k + 1) / m
                steps.append((start, end - start, is_save and k == m - 1, end))
            if len(steps) == keep:
                break
            ta = tb
        decisions = [
            Decision(True, steps[k][3], steps[k + 1][1], steps[k][2])
            for k in range(len(steps) - 1)
        ]
        if n <= max_steps:
            decisions.append(Decision(True, steps[-1][3], 0.0, steps[-1][2], done=True))
        else:
            k = max_steps - 1
            t1 = stops[-1]
            msg = (
                f"{_budget_message(steps[k][3], max_steps, max_steps, t1)}; "
                f"ConstantStep needs {n} steps of dt={dt_eff:.3g}. Raise max_steps "
                "or dt0."
            )
            del decisions[max_steps:]
            decisions[k] = decisions[k]._replace(status=Status.MAX_STEPS, message=msg)
        first = Decision(True, steps[0][0], steps[0][1])
        return (tuple(decisions), 0), first

    def adapt(
        self, state: _GridState, t: float, dt: float, y0: State, step: Step
    ) -> tuple[_GridState, Decision]:
        """Accept, and propose the next grid step (reads no tensor: no sync)."""
        decisions, k = state
        return (decisions, k + 1), decisions[k]

    def schedule(
        self, t0: float, stops: Sequence[float], dt0: float | None
    ) -> Schedule:
        """The number of grid steps and the effective (largest) step (cheap).

        Raises:
            ValueError: ``dt0`` is ``None``.
        """
        _require_dt0(dt0)
        num, dt_eff, ta = 0, 0.0, t0
        for tb in stops:
            n = _num_steps(tb - ta, dt0)
            num += n
            dt_eff = max(dt_eff, (tb - ta) / n)
            ta = tb
        return Schedule(num, dt_eff)

    def __repr__(self) -> str:
        """``ConstantStep()``: it has no configuration."""
        return "ConstantStep()"


# ---------------------------------------------------------------------------------
# PIController
# ---------------------------------------------------------------------------------
class _Required:
    """Sentinel for the required tolerances (shown as ``<required>`` in signatures)."""

    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: Any = _Required()


def _div_or_zero(v: Tensor, scale: Tensor) -> Tensor:
    """``v / scale``, with 0 where ``scale`` is 0 (``atol=0`` and a zero component)."""
    return torch.where(scale > 0, v / scale, torch.zeros_like(v))


def _rms(tree: State, reduce: Callable[[Tensor], Tensor] | None = None) -> Tensor:
    """Root mean square over every entry of every leaf (0-d tensor, no sync).

    ``reduce`` (e.g. a distributed operator's ``allreduce``) sums the square sum
    and the entry count over the processes that each hold a block of the state.
    """
    leaves = tree if isinstance(tree, tuple) else (tree,)
    total = sum(leaf.numel() for leaf in leaves)
    if reduce is not None:
        sq = sum((leaf.abs() ** 2).sum() for leaf in leaves)
        sq = torch.as_tensor(sq, dtype=leaves[0].real.dtype, device=leaves[0].device)
        both = reduce(torch.stack([sq, torch.full_like(sq, float(total))]))
        return torch.where(both[1] > 0, both[0] / both[1].clamp_min(1), 0.0).sqrt()
    if total == 0:
        return leaves[0].new_zeros(())
    sq = sum((leaf.abs() ** 2).sum() for leaf in leaves)
    return (sq / total).sqrt()


class _PIState(NamedTuple):
    stops: tuple[float, ...]
    stop_saves: tuple[bool, ...]
    t0: float
    error_order: int
    max_steps: int
    # index of the next stop to land on
    i_stop: int
    # the controller's own (unshortened) proposal for the next step
    dt: float
    # whether the pending step was shortened to land on stops[i_stop]
    landing: bool
    # scaled error of the last accepted step (1 at the start) and of the last step
    err_prev: float
    err: float
    num_steps: int
    num_rejected: int
    rejected_in_row: int
    last_reject_nonfinite: bool


@dataclass(frozen=True)
class PIController(AbstractAdaptiveController):
    r"""Adaptive step size from the embedded error estimate (PI control).

    A step with error estimate :math:`e` (``Step.y_err``) from :math:`y_0` to
    :math:`y_1` is scored by the RMS norm (as torchdiffeq and scipy do)

    .. math::

        \varepsilon = \Big\| \frac{e}{\mathrm{atol} + \mathrm{rtol}\,\max(|y_0|, |y_1|)}
        \Big\|_{\mathrm{RMS}}

    taken over all entries of all leaves of the state. It is accepted iff
    :math:`\varepsilon \le 1`. The next step is :math:`\Delta t_{\mathrm{new}} =
    \Delta t \cdot \mathrm{factor}` with the proportional-integral law

    .. math::

        \mathrm{factor} = \mathrm{safety}\;
        \varepsilon_n^{-(\mathrm{icoeff} + \mathrm{pcoeff})/k}\;
        \varepsilon_{n-1}^{\mathrm{pcoeff}/k},
        \qquad k = \mathrm{error\_order} + 1,

    where :math:`\varepsilon_{n-1}` is the error of the last *accepted* step (1 at
    the start), clipped to ``[1, factor_max]`` after an accepted step and to
    ``[factor_min, 1]`` after a rejected one (as torchdiffeq and diffrax: an accepted
    step never shrinks the next one, a rejected one never grows it). In Söderlind's
    notation
    :math:`\beta_1 = (\mathrm{icoeff} + \mathrm{pcoeff})/k`,
    :math:`\beta_2 = \mathrm{pcoeff}/k`. The defaults ``pcoeff=0, icoeff=1`` give
    the classical I controller ``safety * err^(-1/k)`` of Hairer's DOPRI5, scipy and
    torchdiffeq (so the step counts are comparable); ``pcoeff=0.4, icoeff=0.3`` is
    Gustafsson's PI controller (:math:`\beta_1 = 0.7/k,\ \beta_2 = 0.4/k`), which
    gives smoother step sequences when the step size is limited by stability
    (mildly stiff problems, e.g. heat flow run to large ``t``).

    With ``dt0=None`` the first step is chosen by Hairer's algorithm (as scipy's
    ``select_initial_step`` and torchdiffeq's ``_select_initial_step``), which costs
    one extra right-hand-side evaluation. Steps are shortened to land exactly on
    each ``saveat`` time and on ``t1``; the controller's unshortened proposal is
    kept for the step after. A step size below ``dt_min``, or below
    ``10 * eps * max(|t|, t1 - t0)`` (where ``t + dt`` barely differs from ``t``, or
    the step is a negligible fraction of the interval), ends the solve with
    ``Status.DT_MIN`` (``Status.NONFINITE`` if the last rejections were for NaN/inf:
    a non-finite error estimate counts as a rejection with ``factor_min``).
    Proposals above ``dt_max`` are capped at ``dt_max``; an automatic first step
    below ``dt_min`` starts at ``dt_min``.

    Args:
        rtol: Relative tolerance (required, ``>= 0``).
        atol: Absolute tolerance (required, ``>= 0``; not both zero).
        pcoeff: Proportional coefficient (``>= 0``).
        icoeff: Integral coefficient (``> 0``).
        safety: Safety factor in ``(0, 1]``.
        factor_min: Smallest step-size ratio, in ``(0, 1)``.
        factor_max: Largest step-size ratio, ``> 1``.
        dt_min: Smallest allowed step (``>= 0``).
        dt_max: Largest allowed step (``> dt_min``).
        reduce: For a state split over processes (domain decomposition): a
            callable summing a tensor over them, e.g. ``op.allreduce`` of a
            :class:`~graphops.distributed.DistributedOperator`. The RMS norms and
            the finiteness check are then global, so every process takes the same
            steps. ``None`` (default): the state is whole.

    Raises:
        TypeError: ``rtol`` or ``atol`` is missing.
        ValueError: a value outside its range.

    Example:
        >>> PIController(rtol=1e-5, atol=1e-7)
        PIController(rtol=1e-05, atol=1e-07)

    References:
        Hairer, Norsett & Wanner (1993), Sec. II.4; Gustafsson (1991); Söderlind (2002).
    """

    rtol: float = _REQUIRED
    atol: float = _REQUIRED
    _: KW_ONLY
    pcoeff: float = 0.0
    icoeff: float = 1.0
    safety: float = 0.9
    factor_min: float = 0.2
    factor_max: float = 10.0
    dt_min: float = 0.0
    dt_max: float = math.inf
    reduce: Callable[[Tensor], Tensor] | None = field(
        default=None, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        """Check that the tolerances were given and every knob is in range."""
        if self.reduce is not None and not callable(self.reduce):
            raise TypeError(
                "PIController: `reduce` must be a callable summing a tensor over "
                f"processes, or None; got {type(self.reduce).__name__}. Pass e.g. "
                "reduce=op.allreduce for a DistributedOperator."
            )
        given = {"rtol": self.rtol, "atol": self.atol}
        missing = [n for n, v in given.items() if v is _REQUIRED]
        if missing:
            names = " and ".join(f"`{n}`" for n in missing)
            raise TypeError(
                f"PIController: {names} {'is' if len(missing) == 1 else 'are'} "
                "required; there are no default tolerances because the accuracy is a "
                "modelling decision. Pass e.g. PIController(rtol=1e-5, atol=1e-7)."
            )
        # name -> (value, allowed range: bounds, and whether each end is open)
        ranges = {
            "rtol": (self.rtol, dict(low=0.0, high=1.0, high_open=True)),
            "atol": (self.atol, dict(low=0.0)),
            "pcoeff": (self.pcoeff, dict(low=0.0, high=10.0)),
            "icoeff": (self.icoeff, dict(low=0.0, high=10.0, low_open=True)),
            "safety": (self.safety, dict(low=0.0, high=1.0, low_open=True)),
            "factor_min": (
                self.factor_min,
                dict(low=0.0, high=1.0, low_open=True, high_open=True),
            ),
            "factor_max": (self.factor_max, dict(low=1.0, low_open=True)),
            "dt_min": (self.dt_min, dict(low=0.0, high_open=True)),
            "dt_max": (self.dt_max, dict(low=0.0, low_open=True)),
        }
        for name, (value, bounds) in ranges.items():
            # allow_inf: the intervals themselves say where inf is allowed.
            checked = check_real("PIController", name, value, allow_inf=True, **bounds)
            # frozen: normalise to float once
            object.__setattr__(self, name, checked)
        if self.rtol == 0.0 and self.atol == 0.0:
            raise ValueError(
                "PIController: `rtol` and `atol` cannot both be 0; got rtol=0, "
                "atol=0. Pass e.g. rtol=1e-5, atol=1e-7."
            )
        if self.atol == math.inf:
            raise ValueError("PIController: `atol` must be finite; got inf.")
        if self.dt_max <= self.dt_min:
            raise ValueError(
                "PIController: `dt_max` must be greater than `dt_min`; got "
                f"dt_min={self.dt_min:g}, dt_max={self.dt_max:g}."
            )

    # -- the pieces of the step-size law ----------------------------------------------
    def error_ratio(self, y_err: State, y0: State, y1: State) -> Tensor:
        """The scaled RMS error norm; ``inf`` if ``y1`` is not finite (0-d, no sync).

        With ``atol=0`` a component that is exactly zero in ``y0`` and ``y1`` has
        scale 0: its term is 0 if its error is 0 (the step is exact there) and
        ``inf`` otherwise (an error relative to 0 cannot be controlled), never
        ``0/0``.
        """
        with torch.no_grad():

            def scaled(e: Tensor, a: Tensor, b: Tensor) -> Tensor:
                e = e.detach()
                scale = self.atol + self.rtol * torch.maximum(
                    a.detach().abs(), b.detach().abs()
                )
                if self.atol > 0:
                    return e / scale
                zero_scale = torch.where(e == 0, 0.0, math.inf).to(e.dtype)
                return torch.where(scale > 0, e / scale, zero_scale)

            ratio = _rms(tmap(scaled, y_err, y0, y1), self.reduce)
            finite = tall_finite(y1)
            if self.reduce is not None:  # non-finite anywhere: rejected everywhere
                bad = self.reduce((~finite).to(ratio.dtype).reshape(1))[0]
                finite = bad == 0
            return torch.where(finite, ratio, torch.full_like(ratio, math.inf))

    def initial_step(
        self, term: Term, t0: float, y0: State, args: Any, f0: State, error_order: int
    ) -> float:
        r"""Hairer's starting step (one right-hand-side evaluation).

        With ``d0 = ||y0||``, ``d1 = ||f0||`` (scaled RMS norms, scale
        ``atol + rtol |y0|``): ``h0 = 0.01 d0 / d1`` (or ``1e-6`` if either is tiny),
        one Euler step to estimate the second derivative
        ``d2 = ||f(t0 + h0, y0 + h0 f0) - f0|| / h0``, and
        ``h1 = (0.01 / max(d1, d2))^(1/k)``, ``k = error_order + 1``; the result is
        ``min(100 h0, h1)``. With ``atol=0``, components whose scale is 0 (exactly
        zero in ``y0``) carry no scale information and are left out of the norms
        (they count as 0), rather than making them ``0/0``.

        Returns:
            The step as a Python float (this syncs once, at the start of a solve).

        References:
            Hairer, Norsett & Wanner (1993), Sec. II.4 ("Starting Step Size").
        """
        with torch.no_grad():
            scale = tmap(lambda y: self.atol + self.rtol * y.detach().abs(), y0)
            red = self.reduce
            d0 = float(_rms(tmap(_div_or_zero, tmap(Tensor.detach, y0), scale), red))
            f0 = tmap(Tensor.detach, f0)
            d1 = float(_rms(tmap(_div_or_zero, f0, scale), red))
            h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
            y_h = tmap(lambda y, f: y.detach() + h0 * f, y0, f0)
            f1 = term(t0 + h0, y_h, args)
            d2 = (
                float(
                    _rms(
                        tmap(
                            lambda a, b, s: _div_or_zero(a.detach() - b, s),
                            f1,
                            f0,
                            scale,
                        ),
                        red,
                    )
                )
                / h0
            )
            if not math.isfinite(d2):
                # The RHS is already non-finite one tiny step away: start tiny and let
                # the step control (and its NONFINITE report) take over.
                return h0 * 1e-3
            if max(d1, d2) <= 1e-15:
                h1 = max(1e-6, h0 * 1e-3)
            else:
                h1 = (0.01 / max(d1, d2)) ** (1.0 / (error_order + 1))
            return min(100.0 * h0, h1)

    def factor(
        self, err: float, err_prev: float, error_order: int, accepted: bool
    ) -> float:
        """Step-size ratio for the next step after a step with error ``err``.

        Args:
            err: Scaled error of this step (``inf``/``nan`` if non-finite).
            err_prev: Scaled error of the last accepted step (1 at the start).
            error_order: Order of the embedded estimate.
            accepted: Whether this step was accepted (``err <= 1``).

        Returns:
            The clipped ratio ``dt_next / dt``.
        """
        # An accepted step never shrinks the next one and a rejected step never grows
        # it (torchdiffeq and diffrax do the same; it avoids needless step changes
        # when err hovers just below 1).
        lower, upper = (1.0, self.factor_max) if accepted else (self.factor_min, 1.0)
        if not math.isfinite(err):
            return self.factor_min
        if err == 0.0:
            return upper
        k = error_order + 1
        # Hairer's guard: the previous error enters as max(err, 1e-4) so a lucky
        # near-zero error does not dominate the next step.
        raw = (
            self.safety
            * err ** (-(self.icoeff + self.pcoeff) / k)
            * max(err_prev, 1e-4) ** (self.pcoeff / k)
        )
        return min(upper, max(lower, raw))

    # -- the protocol ------------------------------------------------------------------
    def init(
        self,
        term: Term,
        solver: AbstractSolver,
        t0: float,
        y0: State,
        args: Any,
        f0: State | None,
        *,
        stops: Sequence[float],
        stop_saves: Sequence[bool],
        dt0: float | None,
        max_steps: int,
    ) -> tuple[_PIState, Decision]:
        """The first step: ``dt0``, or Hairer's choice (one extra evaluation).

        Needs ``f0`` (the loop evaluates it for adaptive controllers) when ``dt0``
        is ``None``, and ``solver.error_order`` (an adaptive solver).
        """
        error_order = solver.error_order
        evals = 0
        if dt0 is None:
            dt = self.initial_step(term, t0, y0, args, f0, error_order)
            evals = 1
            # Hairer's start is a guess; one below the floor starts at the floor.
            dt = max(dt, self.dt_min)
        else:
            dt = dt0
        state = _PIState(
            stops=tuple(stops),
            stop_saves=tuple(stop_saves),
            t0=t0,
            error_order=error_order,
            max_steps=max_steps,
            i_stop=0,
            dt=min(dt, self.dt_max),
            landing=False,
            err_prev=1.0,
            err=math.nan,
            num_steps=0,
            num_rejected=0,
            rejected_in_row=0,
            last_reject_nonfinite=False,
        )
        state, decision = self._propose(state, t0, True, False)
        return state, decision._replace(rhs_evals=evals)

    def adapt(
        self, state: _PIState, t: float, dt: float, y0: State, step: Step
    ) -> tuple[_PIState, Decision]:
        """Accept iff the scaled error is ``<= 1`` (the one host sync per step).

        The next step is ``dt * factor`` (see :meth:`factor`), capped at
        ``dt_max``; after a step shortened to land on an output time, the
        controller's own earlier proposal is kept if it is larger.
        """
        err = float(self.error_ratio(step.y_err, y0, step.y1))
        # False for NaN
        accepted = err <= 1.0
        factor = self.factor(err, state.err_prev, state.error_order, accepted)
        dt_next = dt * factor
        state = state._replace(num_steps=state.num_steps + 1, err=err)
        save = False
        if accepted:
            t_new = t + dt
            if state.landing:
                t_new = state.stops[state.i_stop]
                save = state.stop_saves[state.i_stop]
                # The step was shortened to land; resume from the controller's own
                # proposal rather than from the (possibly tiny) shortened step.
                dt_next = max(dt_next, state.dt)
                state = state._replace(i_stop=state.i_stop + 1)
            state = state._replace(err_prev=err, rejected_in_row=0)
        else:
            t_new = t
            state = state._replace(
                num_rejected=state.num_rejected + 1,
                rejected_in_row=state.rejected_in_row + 1,
                last_reject_nonfinite=not math.isfinite(err),
            )
        state = state._replace(dt=min(dt_next, self.dt_max))
        return self._propose(state, t_new, accepted, save)

    def _propose(
        self, state: _PIState, t: float, accept: bool, save: bool
    ) -> tuple[_PIState, Decision]:
        """The decision at ``t``: done, a failure, or the next (landing) step."""
        stops = state.stops
        if state.i_stop == len(stops):
            return state, Decision(accept, t, 0.0, save, done=True)
        dt, t1 = state.dt, stops[-1]
        if math.isnan(dt):
            # Never reached by the step law (factors are clipped), but a NaN step
            # must stop the solve rather than slip past the dt_min comparison.
            msg = (
                f"failed at t={t:.10g} (step {state.num_steps}): the step size became "
                "NaN. Check rtol/atol and the error estimate of the solver."
            )
            return state, Decision(
                accept, t, dt, save, status=Status.DT_MIN, message=msg
            )
        if dt < self.dt_min or dt <= 10.0 * _EPS * max(abs(t), abs(t1 - state.t0)):
            status, msg = self._dt_min_failure(state, t)
            return state, Decision(accept, t, dt, save, status=status, message=msg)
        if state.num_steps >= state.max_steps:
            msg = (
                f"{_budget_message(t, state.num_steps, state.max_steps, t1)} (last "
                f"dt={dt:.3g}, {state.num_rejected} steps rejected). Raise max_steps, "
                "loosen rtol/atol, or use an implicit solver if the problem is stiff."
            )
            return state, Decision(
                accept, t, dt, save, status=Status.MAX_STEPS, message=msg
            )
        t_stop = stops[state.i_stop]
        landing = t + dt >= t_stop - 4.0 * _EPS * abs(t_stop)
        state = state._replace(landing=landing)
        return state, Decision(accept, t, t_stop - t if landing else dt, save)

    def _dt_min_failure(self, state: _PIState, t: float) -> tuple[Status, str]:
        in_row, k, dt = state.rejected_in_row, state.num_steps, state.dt
        rejected = (
            f"{in_row} rejected step{'s' if in_row != 1 else ''} in a row, "
            f"{state.num_rejected} in all"
        )
        if state.last_reject_nonfinite:
            return Status.NONFINITE, (
                f"failed at t={t:.10g} (step {k}): the state became non-finite "
                f"(NaN or inf) for every step size tried, down to dt={dt:.2g} after "
                f"{rejected}. The right-hand side returns NaN/inf at or just after "
                f"t={t:.10g}; check the term (and its learned parameters) there."
            )
        if dt < self.dt_min:
            what = f"dt={dt:.2g} fell below dt_min={self.dt_min:.2g}"
        else:
            floor = 10 * _EPS * max(abs(t), abs(state.stops[-1] - state.t0))
            what = (
                f"dt={dt:.2g} underflowed (below 10·eps·max(|t|, t1-t0) = {floor:.2g})"
            )
        err = state.err
        estimate = f" (error estimate {err:.2g})" if not math.isnan(err) else ""
        return Status.DT_MIN, (
            f"failed at t={t:.10g} (step {k}): {what} after {rejected}{estimate}. "
            "The RHS is likely stiff or diverging (finite-time blow-up); try "
            "ImplicitEuler(CG(...)) or check the learned diffusivity."
        )

    def __repr__(self) -> str:
        """The tolerances and every knob that differs from its default."""
        parts = [f"rtol={self.rtol!r}", f"atol={self.atol!r}"]
        # name -> (value, default)
        knobs = {
            "pcoeff": (self.pcoeff, 0.0),
            "icoeff": (self.icoeff, 1.0),
            "safety": (self.safety, 0.9),
            "factor_min": (self.factor_min, 0.2),
            "factor_max": (self.factor_max, 10.0),
            "dt_min": (self.dt_min, 0.0),
            "dt_max": (self.dt_max, math.inf),
        }
        parts += [f"{k}={v!r}" for k, (v, d) in knobs.items() if v != d]
        return f"PIController({', '.join(parts)})"
