r"""`solve`: the public entry point; validates everything, then runs the one loop.

The term says *what* the equation is, the solver *how* one step is taken, the
controller *where* the steps go, and the adjoint *how gradients flow*; :func:`solve`
validates the combination once, at the top, and hands a :class:`~solvers._loop.Problem`
to the stepping loop (:mod:`solvers._loop`). Capabilities are read from types
(:mod:`solvers.base` markers), never by probing attributes. Numerical failures do
not raise from inside the loop: they end the solve with a
:class:`~solvers.solution.Status` and a message saying where (``t``, step number,
``dt``), what went wrong and a likely fix, and ``throw=True`` turns that into
:class:`~solvers._errors.SolveFailed` carrying the partial
:class:`~solvers.solution.Solution`.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

import torch
from torch import Tensor

from graphops.operators import GraphOperator
from graphops.spectral import lam_max as _lam_max
from solvers._checks import check_int, check_real, describe, type_names
from solvers._errors import SolveFailed, StabilityWarning, TermSolverMismatch
from solvers._loop import Problem, peak_abs, run, stack_values, warn_if_grew
from solvers._tde_compat import FIXED as _TDE_FIXED
from solvers._tree import State, tall_finite
from solvers.adjoint import (
    AbstractAdjoint,
    Backprop,
    Checkpoint,
    TorchDiffEqAdjoint,
    continuous_adjoint,
)
from solvers.base import (
    AbstractAdaptiveSolver,
    AbstractImplicitSolver,
    AbstractIntervalSolver,
    AbstractMultistepSolver,
    AbstractSecondOrderSolver,
    AbstractSolver,
)
from solvers.controllers import (
    AbstractAdaptiveController,
    AbstractFixedStepController,
    AbstractStepController,
    ConstantStep,
    PIController,
)
from solvers.saveat import SaveAt
from solvers.solution import Solution
from solvers.stability import check_stability, imag_axis_bound
from solvers.terms import LinearTerm, SecondOrderTerm, Term

__all__ = ["solve"]


# ---------------------------------------------------------------------------------
# Validation (everything user-facing is checked here, once)
# ---------------------------------------------------------------------------------
def _solver_classes() -> list[type[AbstractSolver]]:
    """Concrete public solver classes of this package, generated from the classes."""
    out, seen, stack = [], set(), list(AbstractSolver.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
        if (
            cls.__module__.startswith("solvers.")
            and not cls.__name__.startswith("_")
            and not inspect.isabstract(cls)
            # contract item 2: a concrete solver sets `order` (the ExplicitRK
            # engine, which has no tableau, does not)
            and hasattr(cls, "order")
        ):
            out.append(cls)
    return sorted(out, key=lambda c: (c.__module__, c.__name__))


def _check_term_and_solver(term: Any, solver: Any) -> str:
    if not isinstance(term, Term):
        raise TypeError(
            "solve: `term` must be a Term (ODETerm, LinearTerm or SecondOrderTerm); "
            f"got {type(term).__name__}. Wrap a function f(t, y, args) with "
            "ODETerm(f)."
        )
    if isinstance(solver, type) and issubclass(solver, AbstractSolver):
        raise TypeError(
            "solve: `solver` must be a solver instance; got the class "
            f"{solver.__name__}. Write {solver.__name__}()."
        )
    if not isinstance(solver, AbstractSolver):
        raise TypeError(
            "solve: `solver` must be an AbstractSolver such as RK4() or Dopri5(); "
            f"got {type(solver).__name__} {solver!r}. Use solvers.get_solver(name) "
            "for names from config files."
        )
    name = type(solver).__name__
    if not isinstance(term, solver.term_type):
        needed = type_names(solver.term_type)
        hint = " (a term with .operator)" if solver.term_type is LinearTerm else ""
        alternatives = [
            c.__name__ for c in _solver_classes() if isinstance(term, c.term_type)
        ]
        alt = f" or use one of: {', '.join(alternatives)}" if alternatives else ""
        raise TermSolverMismatch(
            f"solve: {name} needs a {needed}{hint}; got {type(term).__name__}. Wrap "
            f"the equation in a {needed}{alt}."
        )
    return name


def _check_y0(term: Term, y0: Any) -> State:
    if isinstance(term, SecondOrderTerm):
        if not (
            isinstance(y0, tuple)
            and len(y0) == 2
            and all(isinstance(v, Tensor) for v in y0)
        ):
            raise TypeError(
                "solve: a SecondOrderTerm needs the state `y0`=(x0, v0), a tuple of "
                f"two tensors; got {describe(y0)}. Pass y0=(x0, "
                "torch.zeros_like(x0)) to start at rest."
            )
        if y0[0].shape != y0[1].shape:
            raise ValueError(
                "solve: `y0`=(x0, v0) needs x0 and v0 of the same shape; got "
                f"{tuple(y0[0].shape)} and {tuple(y0[1].shape)}."
            )
    elif isinstance(y0, tuple):
        if (
            isinstance(term, LinearTerm)
            or not y0
            or not all(isinstance(v, Tensor) for v in y0)
        ):
            raise TypeError(
                f"solve: {type(term).__name__} needs `y0` as a tensor [N, F]"
                + ("" if isinstance(term, LinearTerm) else " or a tuple of tensors")
                + f"; got {describe(y0)}."
            )
    elif not isinstance(y0, Tensor):
        raise TypeError(
            "solve: `y0` must be a tensor [N, F] (or a tuple (x0, v0) for a "
            f"SecondOrderTerm); got {describe(y0)}. Convert with torch.as_tensor(y0)."
        )
    leaves = y0 if isinstance(y0, tuple) else (y0,)
    for leaf in leaves:
        if not leaf.is_floating_point():
            raise TypeError(
                f"solve: `y0` must be floating point; got dtype {leaf.dtype}. Use "
                "y0.double() or y0.float()."
            )
        if leaf.dtype != leaves[0].dtype or leaf.device != leaves[0].device:
            raise ValueError(
                "solve: all tensors of `y0` must share dtype and device; got "
                f"{[(str(v.dtype), str(v.device)) for v in leaves]}."
            )
        if isinstance(term, (LinearTerm, SecondOrderTerm)) and leaf.dim() != 2:
            raise ValueError(
                f"solve: {type(term).__name__} needs node signals of shape [N, F]; "
                f"got {tuple(leaf.shape)}. Scalar fields are [N, 1]: use "
                "y0.unsqueeze(-1)."
            )
    if not bool(tall_finite(y0)):  # one sync, at the boundary
        raise ValueError(
            "solve: `y0` must be finite; got NaN or inf entries. Check the encoder "
            "output."
        )
    return y0


def _check_controller(controller: Any, solver: AbstractSolver, name: str) -> None:
    if isinstance(controller, type) and issubclass(controller, AbstractStepController):
        raise TypeError(
            "solve: `controller` must be a controller instance; got the class "
            f"{controller.__name__}. Write e.g. ConstantStep() or "
            "PIController(rtol=1e-5, atol=1e-7)."
        )
    if not isinstance(controller, AbstractStepController):
        raise TypeError(
            "solve: `controller` must be ConstantStep() or PIController(rtol=..., "
            f"atol=...); got {type(controller).__name__}."
        )
    if isinstance(solver, AbstractMultistepSolver) and not isinstance(
        controller, AbstractFixedStepController
    ):
        raise TypeError(
            f"solve: {name} needs a constant step (its history lives on a fixed "
            f"grid); got {controller!r}. Use controller=ConstantStep() with dt0."
        )
    if isinstance(controller, AbstractAdaptiveController) and not isinstance(
        solver, AbstractAdaptiveSolver
    ):
        adaptive = [
            c.__name__
            for c in _solver_classes()
            if issubclass(c, AbstractAdaptiveSolver)
        ]
        raise TypeError(
            f"solve: {controller!r} needs an adaptive solver (one with an error "
            f"estimate); got {name}. Use one of {', '.join(adaptive)}, or "
            "controller=ConstantStep() with dt0."
        )


def _check_adjoint(
    adjoint: Any, solver: AbstractSolver, controller: AbstractStepController
) -> None:
    if isinstance(adjoint, type) and issubclass(adjoint, AbstractAdjoint):
        raise TypeError(
            "solve: `adjoint` must be a gradient-strategy instance; got the class "
            f"{adjoint.__name__}. Write {adjoint.__name__}()."
        )
    if not isinstance(adjoint, AbstractAdjoint):
        raise TypeError(
            "solve: `adjoint` must be Backprop(), Checkpoint(segments=None) or "
            f"TorchDiffEqAdjoint(method=..., rtol=..., atol=...); got "
            f"{describe(adjoint)}."
        )
    if isinstance(adjoint, Checkpoint):
        if isinstance(solver, AbstractIntervalSolver):
            raise ValueError(
                f"solve: `adjoint`={adjoint!r} is not supported by {solver!r} (it "
                "integrates the interval itself); use adjoint=TorchDiffEqAdjoint() "
                "for memory independent of the steps, or adjoint=Backprop()."
            )
        if not isinstance(controller, AbstractFixedStepController):
            raise ValueError(
                f"solve: `adjoint`={adjoint!r} needs controller=ConstantStep() (the "
                f"recomputation replays a fixed grid); got {controller!r}. Use "
                "ConstantStep() with dt0, or adjoint=Backprop()."
            )
    if isinstance(adjoint, TorchDiffEqAdjoint) and not isinstance(
        solver, AbstractIntervalSolver
    ):
        if adjoint.rtol is None or adjoint.atol is None:
            raise ValueError(
                f"solve: `adjoint`={adjoint!r} needs `rtol` and `atol` for the "
                f"backward solve of {type(solver).__name__}; got rtol={adjoint.rtol}, "
                f"atol={adjoint.atol}. Pass e.g. TorchDiffEqAdjoint(rtol=1e-7, "
                "atol=1e-9)."
            )
        if adjoint.method in _TDE_FIXED and not isinstance(
            controller, AbstractFixedStepController
        ):
            raise ValueError(
                f"solve: the fixed-grid adjoint method {adjoint.method!r} steps on the "
                f"forward ConstantStep grid; got {controller!r}. Use "
                "controller=ConstantStep() with dt0, or an adaptive method such as "
                "'dopri5'."
            )


class _Outputs(NamedTuple):
    ts: Tensor  # all requested output times
    save_t0: bool  # the first output is t0 itself (saved before stepping)
    stops: list[float]  # increasing times > t0 the steps land on; the last is t1
    stop_saves: list[bool]  # whether each stop is an output time


def _as_saveat(saveat: Any) -> SaveAt:
    """``saveat`` as a :class:`SaveAt` (a tensor of times is ``SaveAt(ts=...)``)."""
    if saveat is None:
        return SaveAt()
    if isinstance(saveat, SaveAt):
        return saveat
    if isinstance(saveat, Tensor):
        return SaveAt(ts=saveat)
    raise TypeError(
        "solve: `saveat` must be a 1-D tensor of output times, a SaveAt(...) or "
        f"None; got {describe(saveat)}. Use e.g. saveat=torch.linspace(t0, t1, 11)."
    )


def _check_saveat(saveat: Any, t0: float, t1: float, y0: State) -> _Outputs:
    leaf = y0[0] if isinstance(y0, tuple) else y0
    if saveat is None:
        return _Outputs(
            torch.tensor([t1], dtype=leaf.dtype, device=leaf.device),
            False,
            [t1],
            [True],
        )
    if (
        not isinstance(saveat, Tensor)
        or saveat.dim() != 1
        or saveat.numel() == 0
        or not saveat.is_floating_point()
    ):
        got = (
            f"shape {tuple(saveat.shape)}, dtype {saveat.dtype}"
            if isinstance(saveat, Tensor)
            else describe(saveat)
        )
        raise ValueError(
            "solve: `saveat` must be a non-empty 1-D floating tensor of output "
            f"times; got {got}. Use e.g. saveat=torch.linspace(t0, t1, 11)."
        )
    times = [float(v) for v in saveat.detach().cpu().tolist()]
    if not all(math.isfinite(v) for v in times):
        raise ValueError(f"solve: `saveat` must be finite; got {times}.")
    if any(b <= a for a, b in zip(times, times[1:], strict=False)):
        k = next(
            i for i, (a, b) in enumerate(zip(times, times[1:], strict=False)) if b <= a
        )
        raise ValueError(
            "solve: `saveat` must be strictly increasing; got "
            f"saveat[{k}]={times[k]:g} >= saveat[{k + 1}]={times[k + 1]:g}. Sort it "
            "and drop duplicates (torch.unique)."
        )
    # Round-off slack, so torch.linspace(t0, t1, n) in float32 is accepted; times that
    # close to an end are snapped onto it.
    slack = (
        1e-6 * max(1.0, abs(t0), abs(t1))
        if saveat.dtype != torch.float64
        else 1e-12 * max(1.0, abs(t0), abs(t1))
    )
    if times[0] < t0 - slack or times[-1] > t1 + slack:
        raise ValueError(
            f"solve: `saveat` must lie within [t0, t1] = [{t0:g}, {t1:g}]; got "
            f"[{times[0]:g}, {times[-1]:g}]. Extend t1 or drop the outside times."
        )
    times = [
        t0 if abs(v - t0) <= slack else t1 if abs(v - t1) <= slack else v for v in times
    ]
    save_t0 = times[0] == t0
    later = times[1:] if save_t0 else times
    if len(set(later)) != len(later):
        raise ValueError(
            f"solve: `saveat` has times closer than round-off; got {times}."
        )
    stops, stop_saves = list(later), [True] * len(later)
    if not stops or stops[-1] != t1:
        stops.append(t1)
        stop_saves.append(False)
    return _Outputs(saveat, save_t0, stops, stop_saves)


def _check_jumps(term: Term, t0: float, t1: float) -> tuple[float, ...]:
    """The term's discontinuities strictly inside ``(t0, t1)``, sorted, as floats."""
    raw = term.jump_times(t0, t1)
    try:
        times = sorted({float(v) for v in raw})
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"solve: {type(term).__name__}.jump_times must return real numbers; got "
            f"{describe(raw)}."
        ) from exc
    if not all(math.isfinite(v) for v in times):
        raise ValueError(
            f"solve: {type(term).__name__}.jump_times must be finite; got {times}."
        )
    return tuple(v for v in times if t0 < v < t1)


def _merge_jumps(
    stops: list[float], stop_saves: list[bool], jumps: tuple[float, ...]
) -> tuple[list[float], list[bool]]:
    """Add the jump times to the stops (as stops that save nothing)."""
    merged = dict(zip(stops, stop_saves, strict=True))
    for v in jumps:
        merged.setdefault(v, False)
    times = sorted(merged)
    return times, [merged[v] for v in times]


# ---------------------------------------------------------------------------------
# The term's first evaluation (once per solve, no extra evaluation)
# ---------------------------------------------------------------------------------
def _describe_output(out: Any) -> str:
    if isinstance(out, Tensor):
        return f"a tensor of shape {tuple(out.shape)}, dtype {out.dtype}"
    if isinstance(out, tuple):
        return "a tuple of (" + ", ".join(_describe_output(v) for v in out) + ")"
    return describe(out)


def _check_term_output(
    term: Term, y0: State, t: Any, out: Any, what: str = "dy/dt"
) -> None:
    """The term's ``dy/dt`` must have ``y0``'s structure, shapes and dtype exactly.

    Broadcastable outputs (``[1, F]`` or a scalar for an ``[N, F]`` state) are
    refused too: a solver would silently broadcast them into every node.
    """
    want = y0 if isinstance(y0, tuple) else (y0,)
    got = out if isinstance(out, tuple) else (out,)
    ok = (
        isinstance(out, tuple) == isinstance(y0, tuple)
        and len(got) == len(want)
        and all(
            isinstance(g, Tensor) and g.shape == w.shape and g.dtype == w.dtype
            for g, w in zip(got, want, strict=False)
        )
    )
    if not ok:
        name = type(term).__name__
        fn = getattr(term, "fn", None)
        if fn is not None:
            name += f"({getattr(fn, '__name__', type(fn).__name__)})"
        where = "the state y0" if what == "dy/dt" else "x0"
        raise ValueError(
            f"solve: the term's {what} must match {where} "
            f"({_describe_output(y0)}); {name} returned {_describe_output(out)} "
            f"at t={float(t):g}. Return {what} with the exact shape and dtype of "
            f"{where} (no broadcasting, no None)."
        )


@contextlib.contextmanager
def _checked_first_call(term: Term, y0: State) -> Iterator[None]:
    """Check the term's first evaluation inside the block (a self-removing hook).

    The check rides on an evaluation the solver makes anyway; a ``LinearTerm``
    also checks its operator and source against ``y0`` at that evaluation.
    """

    def hook(module: Any, inputs: tuple, out: Any) -> None:
        handle.remove()
        _check_term_output(term, y0, inputs[0] if inputs else math.nan, out)

    # marks this hook as solve()'s own: a LinearTerm still offers its fused
    # stages (Term.affine_form) with it registered, and checks its parts itself
    hook._solve_first_call = True  # type: ignore[attr-defined]
    handle = term.register_forward_hook(hook)
    if isinstance(term, LinearTerm):
        term._validate_parts = True
    if isinstance(term, SecondOrderTerm):
        # Leapfrog-type solvers call acceleration() directly, not forward(): an
        # instance attribute shadows the method for the first call only
        accel = term.acceleration

        def first_acceleration(t: Any, x: Tensor, v: Tensor, args: Any = None) -> Any:
            term.__dict__.pop("acceleration", None)
            out = accel(t, x, v, args)
            _check_term_output(term, y0[0], t, out, what="acceleration a(t, x, v)")
            return out

        term.__dict__["acceleration"] = first_acceleration
    try:
        yield
    finally:
        handle.remove()
        term.__dict__.pop("_validate_parts", None)
        term.__dict__.pop("acceleration", None)


# ---------------------------------------------------------------------------------
# Stability check (explicit solver + fixed steps + a term with an operator)
# ---------------------------------------------------------------------------------
def _stability_limit(
    term: Term, solver: AbstractSolver, t0: float, y0: State, args: Any, dt: float
) -> tuple[float, float] | None:
    """The stability limit ``(lam_max, max_stable_dt)`` if ``dt`` may exceed it.

    ``None`` when ``dt`` is provably stable or no limit is known.

    First-order terms: a ``LinearTerm`` ``y' = -A y``. Second-order terms: only for
    solvers written for them (an ``AbstractSecondOrderSolver``, e.g. Leapfrog),
    whose ``max_stable_dt`` is stated for ``x'' = -A x``; a first-order method on the
    ``(x, v)`` system sees the eigenvalues ``+-i sqrt(lam)`` on the imaginary axis,
    where ``max_stable_dt`` (a real-axis bound) does not apply, so nothing is checked.
    """
    if isinstance(solver, AbstractImplicitSolver):
        return None
    if isinstance(term, LinearTerm):
        op = term.operator(t0, y0, args)
    elif isinstance(term, SecondOrderTerm):
        if not isinstance(solver, AbstractSecondOrderSolver):
            return None
        op = term.operator(t0, y0[0], args)
    else:
        return None
    if (
        not isinstance(op, GraphOperator)
        or op.domain != "node"
        or op.codomain != "node"
    ):
        return None
    # Gershgorin's bound (one pass over the values) is never below lam_max: when dt
    # is stable even for it, no eigenvalue estimate is needed. That matters for
    # operators rebuilt from learned weights on every call, where the Lanczos
    # estimate (cached on the operator) would otherwise be paid per solve.
    bound = _lam_max(op, method="gershgorin")
    safe = solver.max_stable_dt(bound)
    if safe is None or dt <= safe:
        return None
    lam = _lam_max(op, method="lanczos" if op.is_symmetric else "power")
    limit = solver.max_stable_dt(lam)
    return None if limit is None else (lam, limit)


# ---------------------------------------------------------------------------------
# solve
# ---------------------------------------------------------------------------------
def solve(
    term: Term,
    solver: AbstractSolver,
    *,
    y0: State,
    t1: float,
    t0: float = 0.0,
    dt0: float | None = None,
    args: Any = None,
    controller: AbstractStepController = ConstantStep(),  # noqa: B008 - frozen value
    saveat: Tensor | SaveAt | None = None,
    adjoint: AbstractAdjoint = Backprop(),  # noqa: B008 - frozen value
    max_steps: int = 10_000,
    throw: bool = True,
) -> Solution:
    r"""Integrate ``term`` from ``t0`` to ``t1`` with ``solver`` and ``controller``.

    The loop (:mod:`solvers._loop`, one loop for every controller) calls
    ``solver.init`` once and then ``solver.step`` repeatedly; the controller's
    ``init``/``adapt`` decide the steps (:mod:`solvers.controllers`). With
    :class:`~solvers.controllers.ConstantStep` every interval between output
    times is split into equal steps of at most ``dt0`` (see there); with
    :class:`~solvers.controllers.PIController` the steps adapt to the solver's
    error estimate and are shortened to land on each output
    time. How gradients flow is the ``adjoint`` value (:mod:`solvers.adjoint`): by
    default through the steps (discrete backpropagation; step-size decisions are
    constants for autograd).

    Time values are Python floats inside the loop and the term receives ``t`` as a
    Python float (a 0-d tensor ``t0``/``t1`` is read once with ``.item()``; no
    gradient flows to the times). ``y0``'s dtype and device are kept.

    Host synchronisation: an adaptive step syncs once (the accept/reject decision).
    Fixed steps keep a device-side finiteness flag and sync once every 16 steps
    (once per segment with ``adjoint=Checkpoint()``); the first non-finite step is
    then located exactly, on the failure path only. The statistics count the work done,
    which on a ``NONFINITE`` failure includes the few steps taken after the bad one
    before the check.

    **Discontinuities.** If the term's right-hand side jumps at known times
    (``term.jump_times(t0, t1)``, e.g. per-layer weights of a trained network),
    every controller lands a step on each of them and the step ending there is
    shortened by one ulp, so its last stage still reads the piece it started in
    (diffrax's ``prevbefore``); an adaptive solver never steps over a jump.

    With an explicit solver, ``ConstantStep`` and a term with an operator (a
    ``LinearTerm``, or a ``SecondOrderTerm`` with a solver written for it such as
    Leapfrog), ``solve`` estimates ``lam_max`` of the operator at ``t0`` (Lanczos if
    symmetric, else power iteration; cached on the operator) and warns with
    :class:`~solvers._errors.StabilityWarning` if the effective step exceeds
    ``solver.max_stable_dt(lam_max)``.

    Args:
        term: The equation (:class:`~solvers.terms.Term`).
        solver: The method, e.g. ``RK4()``; must accept the term (``solver.term_type``).
        y0: Initial state: a tensor ``[N, F]``, or ``(x0, v0)`` for a
            ``SecondOrderTerm`` (an ``ODETerm`` also accepts any tensor or tuple).
        t1: End time, ``> t0``.
        t0: Start time.
        dt0: The step for ``ConstantStep`` (required, ``> 0``); the first step for
            ``PIController`` (``None``: chosen automatically, one extra evaluation).
        args: Static data passed to the term (typically the ``Graph``).
        controller: ``ConstantStep()`` (default) or ``PIController(rtol=, atol=)``;
            ignored by solvers that integrate the interval themselves
            (``TorchDiffEq``).
        saveat: What to record: ``None`` (the state at ``t1``), an increasing 1-D
            floating tensor of output times in ``[t0, t1]`` (``t0`` is included
            only if listed), or a :class:`~solvers.saveat.SaveAt` (output times or
            every step, and optionally a function of the state instead of the
            state).
        max_steps: Step budget (accepted plus rejected steps), a positive int.
        throw: Raise :class:`~solvers._errors.SolveFailed` on failure (``.solution``
            holds the partial solution); ``False`` returns the failed solution.
        adjoint: The gradient strategy (:mod:`solvers.adjoint`): ``Backprop()``
            (default; through the steps), ``Checkpoint(segments=None)`` (fixed steps
            only: about ``sqrt(n)`` segments recomputed in the backward pass, memory
            ``O(sqrt(n))``, same gradients) or ``TorchDiffEqAdjoint(method=, rtol=,
            atol=)`` (the continuous adjoint: ``odeint_adjoint`` for a
            ``TorchDiffEq`` solver; for the package's solvers the forward solve runs
            under ``no_grad`` and torchdiffeq integrates the adjoint system
            backward, memory independent of the number of steps).

    Returns:
        :class:`~solvers.solution.Solution` with ``ts [T]``, ``ys [T, N, F]`` (a
        tuple of such for tuple states), ``status``, ``message`` and ``stats``
        (``stats.dt`` is the effective constant step, the largest if output times
        split the grid unevenly; ``None`` for adaptive solves).

    Raises:
        TypeError: ``term``/``solver``/``controller``/``adjoint`` of the wrong
            kind, a time or ``max_steps`` that is not a number, unknown keyword
            arguments, ``PIController`` with a solver that is not an
            ``AbstractAdaptiveSolver``, or an adaptive controller with an
            ``AbstractMultistepSolver``.
        TermSolverMismatch: the solver cannot integrate this kind of term.
        ValueError: bad ``y0``, times, ``dt0``, ``saveat``, ``max_steps``; the
            term's first evaluation (checked once per solve, no extra evaluation)
            returned something other than a tensor (tuple) with ``y0``'s exact
            shapes and dtype (broadcastable shapes included), or a ``LinearTerm``'s
            operator is not square on the state's space or its source is not shaped
            like ``y0``;
            ``Checkpoint`` with an adaptive controller or a ``TorchDiffEq`` solver;
            ``TorchDiffEqAdjoint`` without ``rtol``/``atol`` for the package's
            solvers, or with a fixed-grid ``method`` and an adaptive controller.
        SolveFailed: the solve failed and ``throw=True``.

    Warns:
        StabilityWarning: a fixed step above the linear stability limit; a
            first-order method unstable for every ``dt`` on the undamped wave
            equation (``imag_axis_bound(solver) == 0``, e.g. Euler on
            ``SecondOrderTerm(operator=A)``); or a successful fixed-step solve whose
            ``max |y|`` grew more than ``solvers._loop.GROWTH_LIMIT`` (``1e4``) times
            ``max |y0|`` (``y0 != 0``; tracked on the device with the finiteness
            flag, read once per solve). The status is not changed: an equation may
            grow that fast; filter the warning then.

    Example:
        >>> sol = solve(LinearTerm(Laplacian(graph)), RK4(), y0=x0, t1=1.0, dt0=0.1)
        >>> sol = solve(term, Dopri5(), y0=x0, t1=3.0, args=graph,
        ...             controller=PIController(rtol=1e-5, atol=1e-7))
        >>> tuple(sol.ys.shape), sol.stats.num_steps > 0
        ((1, 16, 2), True)
    """
    name = _check_term_and_solver(term, solver)
    y0 = _check_y0(term, y0)
    fix = "Pass a Python float or a 0-d tensor."
    t0 = check_real("solve", "t0", t0, fix=fix)
    t1 = check_real("solve", "t1", t1, fix=fix)
    if not t1 > t0:
        raise ValueError(
            f"solve: `t1` must be greater than `t0`; got t0={t0:g}, t1={t1:g}. "
            "Integrating backward in time is not supported; substitute s = -t "
            "(negate the right-hand side)."
        )
    if not isinstance(throw, bool):
        raise TypeError(f"solve: `throw` must be a bool; got {describe(throw)}.")
    _check_controller(controller, solver, name)
    _check_adjoint(adjoint, solver, controller)
    if dt0 is not None:
        dt0 = check_real("solve", "dt0", dt0, low=0.0, low_open=True, high_open=True)
        if isinstance(controller, PIController) and dt0 < controller.dt_min:
            raise ValueError(
                "solve: `dt0` must be at least the controller's "
                f"dt_min={controller.dt_min:g}; got dt0={dt0:g}. Raise dt0 or lower "
                "dt_min."
            )
    max_steps = check_int(
        "solve", "max_steps", max_steps, low=1, fix="Pass e.g. max_steps=10_000."
    )
    save = _as_saveat(saveat)
    leaf = y0[0] if isinstance(y0, tuple) else y0
    if save.steps:
        ts = torch.tensor([t0], dtype=leaf.dtype, device=leaf.device)
        outs = _Outputs(ts, True, [t1], [True])
    else:
        outs = _check_saveat(save.ts, t0, t1, y0)
    jumps = _check_jumps(term, t0, t1)
    if save.steps or save.fn is not None:
        if isinstance(adjoint, TorchDiffEqAdjoint) and not isinstance(
            solver, AbstractIntervalSolver
        ):
            raise ValueError(
                f"solve: {save!r} with the continuous adjoint is not supported: it "
                "differentiates the states at output times only. Use "
                "adjoint=Backprop() or Checkpoint(), or save the states."
            )
    if save.steps and isinstance(solver, AbstractIntervalSolver):
        raise ValueError(
            f"solve: SaveAt(steps=True) needs the package's stepping loop; got "
            f"{solver!r}, which steps inside torchdiffeq. Pass output times "
            "(SaveAt(ts=...)) or use a solver such as Dopri5()."
        )

    with _checked_first_call(term, y0):
        sol = _integrate(
            term, solver, controller, adjoint, y0, t0, t1, dt0, args, max_steps,
            save, outs, jumps, name,
        )
    if throw and not sol.success:
        raise SolveFailed(sol.message, sol)
    return sol


def _integrate(
    term: Term,
    solver: AbstractSolver,
    controller: AbstractStepController,
    adjoint: AbstractAdjoint,
    y0: State,
    t0: float,
    t1: float,
    dt0: float | None,
    args: Any,
    max_steps: int,
    save: SaveAt,
    outs: _Outputs,
    jumps: tuple[float, ...],
    name: str,
) -> Solution:
    """Run the validated solve: an interval solver, or the package's loop."""
    if isinstance(solver, AbstractIntervalSolver):
        # It integrates the whole interval with its own step control.
        dt_grid = solver.grid_step(dt0)
        unstable = None
        if dt_grid is not None:
            unstable = _warn_if_unstable(term, solver, t0, y0, args, dt_grid)
        sol = solver.integrate(
            term,
            t0,
            outs.ts,
            y0,
            args,
            dt0=dt0,
            max_steps=max_steps,
            adjoint=adjoint,
            jump_ts=jumps,
        )
        if dt_grid is not None and sol.success and unstable is None:
            # the growth guard of fixed steps, on the states torchdiffeq saved
            warn_if_grew(name, dt_grid, peak_abs(y0), peak_abs(sol.ys))
        if save.fn is not None:
            sol = _record_after(sol, save, args)
    else:
        stops, stop_saves = _merge_jumps(outs.stops, outs.stop_saves, jumps)
        unstable = None
        if isinstance(controller, AbstractFixedStepController):
            dt_eff = controller.schedule(t0, stops, dt0).dt
            unstable = _warn_if_unstable(term, solver, t0, y0, args, dt_eff)
        problem = Problem(
            term=term,
            solver=solver,
            controller=controller,
            args=args,
            name=name,
            t0=t0,
            ts=outs.ts,
            save_t0=outs.save_t0,
            stops=tuple(stops),
            stop_saves=tuple(stop_saves),
            dt0=dt0,
            max_steps=max_steps,
            unstable=unstable,
            jumps=jumps,
            save_steps=save.steps,
            record=None if save.fn is None else save.record,
        )
        if isinstance(adjoint, TorchDiffEqAdjoint):
            sol = continuous_adjoint(
                lambda y: run(problem, y, Backprop()), term, args, t0, y0, adjoint
            )
        else:
            sol = run(problem, y0, adjoint)
    return sol


def _record_after(sol: Solution, save: SaveAt, args: Any) -> Solution:
    """Apply ``save.fn`` to the states an interval solver saved (it keeps states)."""
    states = sol.ys
    n = sol.ts.numel()
    ts = sol.ts.tolist()
    values = [
        save.record(ts[k], tuple(y[k] for y in states) if isinstance(states, tuple)
                    else states[k], args)
        for k in range(n)
    ]
    return Solution(sol.ts, stack_values(values), sol.status, sol.message, sol.stats)


def _warn_if_unstable(
    term: Term, solver: AbstractSolver, t0: float, y0: State, args: Any, dt: float
) -> str | None:
    """Warn (at the caller of :func:`solve`) if ``dt`` exceeds the stability limit.

    Also warns, for every ``dt``, when the pair cannot be stable: a first-order
    explicit method whose stability region holds no segment of the imaginary axis
    (``imag_axis_bound(solver) == 0``, e.g. Euler) on the undamped wave equation
    ``x'' = -A x`` (a ``SecondOrderTerm`` built from an operator only).
    """
    text = _never_stable(term, solver)
    if text is not None:
        warnings.warn(StabilityWarning(text), stacklevel=4)
        return text
    limit = _stability_limit(term, solver, t0, y0, args, dt)
    if limit is None or dt <= limit[1]:
        return None
    text = check_stability(solver, dt, limit[0])
    # stacklevel 4: this helper, _integrate(), solve(), then the user's call
    warnings.warn(StabilityWarning(text), stacklevel=4)
    return text


def _never_stable(term: Term, solver: AbstractSolver) -> str | None:
    """The warning's text if ``solver`` is unstable for every ``dt`` on ``term``."""
    if (
        not isinstance(term, SecondOrderTerm)
        or term.accel is not None
        or term.velocity_dependent
        or isinstance(solver, AbstractImplicitSolver | AbstractSecondOrderSolver)
    ):
        return None
    try:
        bound = imag_axis_bound(solver)
    except (TypeError, ValueError):
        # no stability region in the z plane to read
        return None
    if bound != 0.0:
        return None
    return (
        f"{type(solver).__name__} is unstable for every dt on the undamped wave "
        "equation x'' = -A x (its eigenvalues +-i sqrt(lambda) lie on the imaginary "
        "axis, and its stability region contains no segment of it); the solution "
        "grows without bound. Use Leapfrog, SymplecticEuler or RK4 "
        "(solvers.stability.recommend_dt gives their step)."
    )
