r"""`TorchDiffEq`: any torchdiffeq method as a solver value.

It serves as a reference integrator and as the continuous-adjoint backend.

torchdiffeq integrates a whole interval in one call, with its own step control, so
this solver does not fit the one-step loop of :func:`solvers.solve`. It is an
:class:`~solvers.base.AbstractIntervalSolver`, so :func:`solvers.solve` hands it the
whole problem through :meth:`TorchDiffEq.integrate` (``solve()`` still validates the
inputs and raises :class:`~solvers._errors.SolveFailed` on failure). Its
:meth:`TorchDiffEq.step` also works (one ``odeint`` call per step), so the value drops
into any code that drives solvers step by step.

Configuration follows STYLE section 0: the common torchdiffeq options are fields
(``step_size``, ``first_step``), not an ``options`` dict; the step budget comes from
``solve(max_steps=...)`` and the gradient strategy from ``solve(adjoint=...)``
(``TorchDiffEqAdjoint`` selects ``odeint_adjoint``).

torchdiffeq's private internals are read in one place, :mod:`solvers._tde_compat`,
which bounds the supported versions (``torchdiffeq>=0.2.4,<0.3``) and raises a
clear ``ImportError`` otherwise.

Sign conventions (heat flow ``y' = -L y`` with ``L`` PSD) are those of :mod:`graphops`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from solvers._checks import check_real
from solvers._tde_compat import FIXED as _FIXED
from solvers._tde_compat import TDE
from solvers._tde_compat import check_method as _check_method
from solvers.adjoint import AbstractAdjoint, Backprop, TorchDiffEqAdjoint
from solvers.base import AbstractIntervalSolver, Step
from solvers.linear_stability import (
    LinearStability,
    Multistep,
    NotAnalysed,
    OneStep,
)
from solvers.solution import Solution, Stats, Status
from solvers.tableau import ButcherTableau
from solvers.terms import Term

__all__ = ["TorchDiffEq"]

_TDE_SOLVERS = TDE.SOLVERS
_BASHFORTH_DIVISOR = TDE.BASHFORTH_DIVISOR

# Fixed-grid Runge-Kutta methods of torchdiffeq have s = p <= 4 stages, so their
# stability function is the degree-p Taylor polynomial of e^z (Hairer & Wanner
# (1996), Sec. IV.2), whatever the tableau (rk4 is Kutta's 3/8 rule).
_TAYLOR_DEGREE = {"euler": 1, "midpoint": 2, "heun2": 2, "heun3": 3, "rk4": 4}
# torchdiffeq's explicit_adams warms up with RK4 and then runs Adams-Bashforth of
# order min(steps so far, max_order - 1) = 11 with its default max_order = 12.
_EXPLICIT_ADAMS_ORDER = 11


class _GridTooLong(Exception):
    """A fixed grid longer than `max_steps` (checked before torchdiffeq builds it)."""


class _BudgetExceeded(Exception):
    """Raised from torchdiffeq's step callback when `max_steps` is used up."""


class _TermFunc(nn.Module):
    """``func(t, y) = term(t, y, args)`` for torchdiffeq, counting the work.

    An ``nn.Module`` holding the term as a submodule, so ``odeint_adjoint`` finds the
    term's parameters. torchdiffeq calls the ``callback_*`` hooks on every step
    attempt, acceptance and rejection; they fill :class:`~solvers.solution.Stats`
    and enforce the step budget.
    """

    def __init__(self, term: Any, args: Any, max_steps: int | None) -> None:
        super().__init__()
        if isinstance(term, nn.Module):
            self.term = term
        else:  # a plain callable: not a submodule (it has no parameters to find)
            self.__dict__["term"] = term
        # never registered: args may hold modules of their own
        self.__dict__["args"] = args
        self.max_steps = max_steps
        self.nfe = 0
        self.attempts = 0
        self.accepted = 0
        self.rejected = 0
        self.t_last: Tensor | None = None
        self.dt_last: Tensor | None = None

    def where(self) -> tuple[float, float]:
        """``(t, dt)`` of the last step attempt (host sync; failure path only)."""
        t = math.nan if self.t_last is None else float(self.t_last.detach())
        dt = math.nan if self.dt_last is None else float(self.dt_last.detach())
        return t, dt

    def forward(self, t: Tensor, y: Any) -> Any:  # noqa: D102
        self.nfe += 1
        return self.term(t, y, self.args)

    def callback_step(self, t0: Tensor, y0: Any, dt: Tensor) -> None:  # noqa: D102
        if self.max_steps is not None and self.attempts >= self.max_steps:
            raise _BudgetExceeded
        self.attempts += 1
        # kept as tensors: read (a host sync) on the failure path only
        self.t_last, self.dt_last = t0, dt


class _AdaptiveTermFunc(_TermFunc):
    """:class:`_TermFunc` plus the accept/reject hooks of adaptive torchdiffeq solvers.

    Fixed-grid solvers warn about hooks they do not call, so they get the base class.
    """

    def callback_accept_step(self, t0: Tensor, y0: Any, dt: Tensor) -> None:  # noqa: D102
        self.accepted += 1

    def callback_reject_step(self, t0: Tensor, y0: Any, dt: Tensor) -> None:  # noqa: D102
        self.rejected += 1


def _check_positive(
    where: str, name: str, value: Any, *, allow_zero: bool = False
) -> float:
    return check_real(
        where, name, value, low=0.0, low_open=not allow_zero, high_open=True
    )


@dataclass(frozen=True)
class TorchDiffEq(AbstractIntervalSolver):
    r"""Any torchdiffeq method as a solver value.

    Wraps the methods of `torchdiffeq <https://github.com/rtqichen/torchdiffeq>`_.
    Use it as a reference integrator, or with
    ``solve(..., adjoint=TorchDiffEqAdjoint())`` for the continuous adjoint
    (``odeint_adjoint``: memory independent of the number of steps; the gradient is
    that of the exact flow, up to the adjoint tolerances). Adaptive
    methods (``dopri5``, ``bosh3``, ``dopri8``, ``fehlberg2``, ``adaptive_heun``) use
    ``rtol``/``atol`` with torchdiffeq's own error control; fixed-grid methods
    (``euler``, ``midpoint``, ``heun2``, ``heun3``, ``rk4``, ``explicit_adams``,
    ``implicit_adams``) step with ``step_size`` (default: ``solve``'s ``dt0``). With
    ``solve``, the controller stays ``ConstantStep()`` (torchdiffeq controls its own
    steps); ``saveat`` times are hit by dense interpolation (adaptive) or linear
    interpolation between grid points (fixed grid: choose ``step_size`` dividing
    the output spacing for grid-exact outputs). ``order`` is the method's;
    ``max_stable_dt`` uses its stability function (fixed-grid RK: the Taylor
    polynomial, e.g. ``rk4`` ``2.785/lam_max``; adaptive RK: the propagated tableau;
    ``explicit_adams``: Adams-Bashforth 11; ``implicit_adams``: ``None``, not
    analysed). Tensor and tuple states (``(x, v)``) are supported.

    Note torchdiffeq's ``rk4`` is Kutta's 3/8 rule, not the classical RK4 tableau;
    on linear autonomous terms (heat flow) both give the same ``R(z)``, so the
    results agree to round-off.

    .. math:: y(t_1) = y(t_0) + \int_{t_0}^{t_1} f(t, y(t))\, dt \quad
        \text{(torchdiffeq.odeint or odeint\_adjoint)}

    Args:
        method: A torchdiffeq method name (``torchdiffeq._impl.odeint.SOLVERS``).
        rtol: Relative tolerance (adaptive methods; implicit_adams' corrector).
        atol: Absolute tolerance.
        step_size: Fixed-grid methods only: the grid step (``None``: ``solve``'s
            ``dt0``). A last shorter step lands on ``t1``.
        first_step: Adaptive methods only: the first step (``None``: ``solve``'s
            ``dt0`` if given, else torchdiffeq's automatic choice).

    Raises:
        ValueError: unknown ``method`` (with a suggestion), bad tolerances or
            steps, ``step_size`` for an adaptive method, ``first_step`` for a
            fixed-grid one.
        TypeError: a tolerance or step that is not a number.

    Example:
        >>> tight = TorchDiffEq("dopri5", rtol=1e-10, atol=1e-12)
        >>> ref = solve(term, tight, y0=x0, t1=1.0, args=g)
        >>> sol = solve(term, TorchDiffEq("rk4"), y0=x0, t1=1.0, dt0=0.1, args=g)
        >>> sol = solve(term, TorchDiffEq("dopri5", rtol=1e-6, atol=1e-8), y0=x0,
        ...             t1=1.0, args=g, adjoint=TorchDiffEqAdjoint())

    References:
        Chen, Rubanova, Bettencourt & Duvenaud (2018), Neural Ordinary Differential
        Equations, NeurIPS (torchdiffeq, the adjoint method).
    """

    method: str = "dopri5"
    rtol: float = 1e-7
    atol: float = 1e-9
    step_size: float | None = None
    first_step: float | None = None

    term_type: ClassVar[type[Term]] = Term

    def __post_init__(self) -> None:
        """Validate every field once (STYLE section 6)."""
        where = "TorchDiffEq"
        _check_method(where, "method", self.method)
        _check_positive(where, "rtol", self.rtol, allow_zero=True)
        _check_positive(where, "atol", self.atol, allow_zero=True)
        if self.rtol == 0 and self.atol == 0:
            raise ValueError(
                f"{where}: `rtol` and `atol` cannot both be 0; got rtol=0, atol=0."
            )
        fixed = self.method in _FIXED
        if self.step_size is not None:
            if not fixed:
                raise ValueError(
                    f"{where}: `step_size` applies to fixed-grid methods "
                    f"({', '.join(sorted(_FIXED))}); got step_size={self.step_size!r} "
                    f"for the adaptive method {self.method!r}. Use `first_step` and "
                    "rtol/atol, or a fixed-grid method."
                )
            _check_positive(where, "step_size", self.step_size)
        if self.first_step is not None:
            if fixed:
                raise ValueError(
                    f"{where}: `first_step` applies to adaptive methods; got "
                    f"first_step={self.first_step!r} for the fixed-grid method "
                    f"{self.method!r}. "
                    "Use `step_size`."
                )
            _check_positive(where, "first_step", self.first_step)

    def __repr__(self) -> str:
        """``TorchDiffEq(method=..., <fields that matter and are not the default>)``."""
        parts = [f"method={self.method!r}"]
        tol_used = not self.fixed_grid or self.method in (
            "implicit_adams",
            "fixed_adams",
        )
        # name -> (value, default)
        knobs = {
            "rtol": (self.rtol, 1e-7),
            "atol": (self.atol, 1e-9),
            "step_size": (self.step_size, None),
            "first_step": (self.first_step, None),
        }
        for name, (value, default) in knobs.items():
            if name in ("rtol", "atol") and tol_used or value != default:
                parts.append(f"{name}={value!r}")
        return f"TorchDiffEq({', '.join(parts)})"

    # -- properties --------------------------------------------------------------------
    @property
    def order(self) -> int:  # type: ignore[override]
        """Order of the torchdiffeq method (``explicit_adams``: its warm-up order 4)."""
        return int(getattr(_TDE_SOLVERS[self.method], "order", 4))

    @property
    def fixed_grid(self) -> bool:
        """Whether the method steps on a fixed grid (then ``max_stable_dt`` applies)."""
        return self.method in _FIXED

    def grid_step(self, dt0: float | None) -> float | None:
        """The fixed-grid step for ``solve(..., dt0=dt0)`` (``None`` if adaptive)."""
        if not self.fixed_grid:
            return None
        return self.step_size if self.step_size is not None else dt0

    def _tableau(self) -> ButcherTableau | None:
        """The propagated tableau of an adaptive torchdiffeq RK method, else ``None``.

        Rebuilt from torchdiffeq's own coefficients (``alpha`` = nodes, ``beta`` = rows
        of ``a``, ``c_sol`` = weights), so the analysis is of the code that runs.
        """
        tab = getattr(_TDE_SOLVERS[self.method], "tableau", None)
        if tab is None:
            return None
        b = tab.c_sol.detach().cpu().double().numpy()
        s = b.shape[0]
        a = np.zeros((s, s))
        for i, row in enumerate(tab.beta, start=1):
            a[i, : row.numel()] = row.detach().cpu().double().numpy()
        c = np.concatenate([[0.0], tab.alpha.detach().cpu().double().numpy()])
        return ButcherTableau(self.method, a=a, b=b, c=c, order=self.order)

    def linear_stability(self) -> LinearStability:
        """The method's linear stability, from torchdiffeq's own coefficients.

        Fixed-grid RK (``p = s <= 4`` stages): ``OneStep`` of the degree-``p``
        Taylor polynomial of ``e^z``; adaptive RK: ``OneStep`` of the propagated
        tableau's polynomial; ``explicit_adams``: ``Multistep`` of Adams-Bashforth
        11 (its steady state with the default ``max_order``);
        ``implicit_adams``/``fixed_adams``: ``NotAnalysed`` (a predictor-corrector
        with tolerance-driven iterations).
        """
        return _linear_stability(self.method)

    # -- integration -------------------------------------------------------------------
    def integrate(
        self,
        term: Any,
        t0: float,
        ts: Tensor,
        y0: Any,
        args: Any = None,
        *,
        dt0: float | None = None,
        max_steps: int | None = None,
        adjoint: AbstractAdjoint = Backprop(),  # noqa: B008 - frozen value
        jump_ts: tuple[float, ...] = (),
    ) -> Solution:
        """Integrate from ``t0`` through the output times ``ts`` in one odeint call.

        Called by :func:`solvers.solve` (which validates the inputs first).

        Args:
            term: The term ``f(t, y, args)``.
            t0: Start time.
            ts: 1-D tensor of output times, strictly monotone and beyond ``t0``
                (``ts[0] == t0`` is allowed and returns ``y0`` there).
            y0: Initial state (tensor or tuple of tensors).
            args: Passed to the term.
            dt0: Fixed-grid step if ``step_size`` is ``None``; first step of adaptive
                methods if ``first_step`` is ``None``.
            max_steps: Budget of step attempts (accepted plus rejected); ``None``:
                unlimited.
            adjoint: ``Backprop()`` (``odeint``, backpropagation through
                torchdiffeq's steps) or ``TorchDiffEqAdjoint`` (``odeint_adjoint``;
                its ``None`` fields take this solver's method and tolerances).
            jump_ts: Discontinuities of the right-hand side: an adaptive method
                gets them as torchdiffeq's ``jump_t`` (it lands on each and
                restarts its FSAL stage); a fixed grid steps where ``step_size``
                puts it (torchdiffeq evaluates a step's ends just inside it).

        Returns:
            A :class:`~solvers.solution.Solution` (``ys`` at ``ts``; on failure the
            status says why, and ``ys`` holds only the finite outputs before it).
            ``stats.num_rhs_evals`` counts the forward evaluations (the adjoint's
            backward solve is not included).

        Raises:
            ValueError: a fixed-grid method without a step, or bad ``ts``.
            TypeError: ``adjoint`` is neither ``Backprop`` nor
                ``TorchDiffEqAdjoint``.
        """
        if not isinstance(adjoint, Backprop | TorchDiffEqAdjoint):
            raise TypeError(
                f"{self!r}.integrate: `adjoint` must be Backprop() or "
                f"TorchDiffEqAdjoint(...); got {adjoint!r}."
            )
        where = f"{self!r}.integrate"
        leaf = y0[0] if isinstance(y0, tuple) else y0
        t0 = float(t0)
        if not isinstance(ts, Tensor) or ts.dim() != 1 or ts.numel() == 0:
            raise ValueError(
                f"{where}: `ts` must be a non-empty 1-D tensor of output times; "
                f"got {ts!r}."
            )
        times = ts.detach().to(device=leaf.device, dtype=leaf.dtype)
        include_t0 = float(times[0]) == t0
        t = times if include_t0 else torch.cat([times.new_tensor([t0]), times])
        diffs = t[1:] - t[:-1]
        if t.numel() > 1 and not (bool((diffs > 0).all()) or bool((diffs < 0).all())):
            raise ValueError(
                f"{where}: `ts` must be strictly monotone and beyond t0={t0:g}; "
                f"got {times.tolist()}."
            )
        options: dict[str, Any] = {}
        step = None
        if self.fixed_grid:
            step = self.grid_step(dt0)
            if step is None:
                raise ValueError(
                    f"{where}: {self.method!r} is a fixed-grid method and needs a "
                    "step; pass dt0 to solve() or "
                    f"TorchDiffEq(method={self.method!r}, step_size=...)."
                )
            options["step_size"] = float(step)
        else:
            first = self.first_step if self.first_step is not None else dt0
            if first is not None:
                options["first_step"] = float(first)
            if jump_ts:
                options["jump_t"] = torch.tensor(jump_ts, dtype=torch.float64)
        func = (_TermFunc if self.fixed_grid else _AdaptiveTermFunc)(
            term, args, max_steps
        )
        status, message = Status.SUCCESS, ""
        # torchdiffeq lays out its whole fixed grid before stepping: a grid longer
        # than the step budget fails here, in O(1) time and memory, instead of as
        # an allocator error.
        span = abs(float(t[-1]) - t0)
        needed = math.ceil(span / step - 1e-9) if step is not None else 0
        try:
            if max_steps is not None and needed > max_steps:
                raise _GridTooLong
            ys = self._odeint(func, y0, t, options, step, where, adjoint)
        except _GridTooLong:
            ys, status = None, Status.MAX_STEPS
            message = (
                f"{self!r} stopped at t={t0:g} (step 0): `max_steps`={max_steps} "
                f"is less than the {needed} steps of size {step:.3g} its fixed grid "
                f"needs to reach t1={float(times[-1]):g}. Raise max_steps or the "
                "step."
            )
        except _BudgetExceeded:
            ys, status = None, Status.MAX_STEPS
            t_last, dt_last = func.where()
            message = (
                f"{self!r} stopped at t={t_last:.6g} (step {func.attempts}): "
                f"`max_steps`={max_steps} reached before t1={float(times[-1]):g} "
                f"(last dt={dt_last:.3g}, {func.rejected} steps rejected). Raise "
                "max_steps, loosen rtol/atol, or use an implicit solver if the "
                "problem is stiff."
            )
        except AssertionError as exc:  # torchdiffeq reports numerical failure by assert
            failure = self._assert_failure(str(exc), func)
            if failure is None:
                raise
            ys, (status, message) = None, failure
        if ys is None:
            out_ts = ts[:0]
            ys = (
                tuple(v.new_empty((0, *v.shape)) for v in y0)
                if isinstance(y0, tuple)
                else leaf.new_empty((0, *leaf.shape))
            )
        else:
            out_ts = ts
            if not include_t0:
                ys = tuple(y[1:] for y in ys) if isinstance(ys, tuple) else ys[1:]
            leaves = ys if isinstance(ys, tuple) else (ys,)
            finite = torch.stack(
                [torch.isfinite(v.reshape(v.shape[0], -1)).all(dim=1) for v in leaves]
            ).all(dim=0)
            if not bool(finite.all()):  # fixed-grid methods step on through inf/NaN
                k = int((~finite).nonzero()[0])
                status = Status.NONFINITE
                fix = (
                    f"with the fixed step {step:.3g}; compare it with "
                    "solver.max_stable_dt(lam_max)."
                    if step is not None
                    else "Check the term (and its learned parameters)."
                )
                message = (
                    f"{self!r} failed before t={float(times[k]):.6g}: the state became "
                    f"non-finite (NaN or inf) {fix}"
                )
                ys = tuple(v[:k] for v in ys) if isinstance(ys, tuple) else ys[:k]
                out_ts = ts[:k]
        stats = Stats(
            num_steps=func.attempts,
            num_accepted=func.attempts if self.fixed_grid else func.accepted,
            num_rejected=func.rejected,
            num_rhs_evals=func.nfe,
            dt=float(step) if step is not None else None,
        )
        return Solution(out_ts, ys, status, message, stats)

    def _odeint(
        self,
        func: _TermFunc,
        y0: Any,
        t: Tensor,
        options: dict,
        step: Any,
        where: str,
        adjoint: AbstractAdjoint,
    ) -> Any:
        """``odeint``, or ``odeint_adjoint`` for a ``TorchDiffEqAdjoint``."""
        kwargs = dict(
            rtol=self.rtol, atol=self.atol, method=self.method, options=options
        )
        if not isinstance(adjoint, TorchDiffEqAdjoint):
            return TDE.odeint(func, y0, t, **kwargs)
        adj_method = adjoint.method or self.method
        adj_options = {}
        if adj_method in _FIXED:
            if step is None:
                raise ValueError(
                    f"{where}: the fixed-grid adjoint method {adj_method!r} needs a "
                    "step; use a fixed-grid `method` with a step, or an adaptive "
                    "adjoint method."
                )
            adj_options["step_size"] = float(step)
        return TDE.odeint_adjoint(
            func,
            y0,
            t,
            **kwargs,
            adjoint_method=adj_method,
            adjoint_rtol=self.rtol if adjoint.rtol is None else adjoint.rtol,
            adjoint_atol=self.atol if adjoint.atol is None else adjoint.atol,
            adjoint_options=adj_options,
            adjoint_params=adjoint.resolve_params(func.term, func.args),
        )

    def _assert_failure(self, text: str, func: _TermFunc) -> tuple[Status, str] | None:
        """Status and message for torchdiffeq's failure asserts (``None``: not one)."""
        t_last, dt_last = func.where()
        at = f"{self!r} failed at t={t_last:.6g} (step {func.attempts})"
        if text.startswith("underflow in dt") and dt_last == 0.0:
            # torchdiffeq replaces a non-finite proposed step by min_step = 0: the error
            # estimate was NaN/inf, i.e. the RHS returned non-finite values.
            return Status.NONFINITE, (
                f"{at}: the error estimate became non-finite, so the RHS returned NaN "
                "or inf just after this time. Check the term (and its learned "
                "parameters)."
            )
        if text.startswith("underflow in dt"):
            return Status.DT_MIN, (
                f"{at}: the step size underflowed (dt={dt_last:.2g}) after "
                f"{func.rejected} rejected steps. The RHS is likely stiff or "
                "diverging; try ImplicitEuler(CG(...)) or check the learned "
                "diffusivity."
            )
        if text.startswith("non-finite values in state"):
            return Status.NONFINITE, (
                f"{at}: the state became non-finite (NaN or inf). Check the term (and "
                "its learned parameters)."
            )
        return None

    def step(
        self, term: Term, t0: Any, dt: Any, y0: Any, args: Any, state: Any
    ) -> Step:
        """One step ``t0 -> t0 + dt`` as a torchdiffeq call over ``[t0, t0 + dt]``.

        Fixed-grid methods take exactly one step of ``dt`` (``step_size`` is
        ignored here: the caller chose ``dt``); adaptive methods integrate the
        interval with their own error control. ``y_err`` is ``None``.
        """
        t0f = float(t0)
        t1 = t0f + float(dt)
        leaf = y0[0] if isinstance(y0, tuple) else y0
        solver = (
            dataclasses.replace(self, step_size=None)
            if self.step_size is not None
            else self
        )
        sol = solver.integrate(
            term,
            t0f,
            torch.tensor([t1], dtype=leaf.dtype, device=leaf.device),
            y0,
            args,
            dt0=float(dt),
        )
        if sol.success:
            y1 = (
                tuple(v[-1] for v in sol.ys)
                if isinstance(sol.ys, tuple)
                else sol.ys[-1]
            )
        else:
            y1 = y0
        return Step(
            y1,
            None,
            None,
            rhs_evals=sol.stats.num_rhs_evals,
            status=sol.status,
            message=sol.message,
        )


@functools.cache
def _tableau_cached(method: str) -> ButcherTableau | None:
    """:meth:`TorchDiffEq._tableau`, built once per method."""
    return TorchDiffEq(method)._tableau()


@functools.cache
def _linear_stability(method: str) -> LinearStability:
    """:meth:`TorchDiffEq.linear_stability`, built once per method."""
    if method in _TAYLOR_DEGREE:
        p = _TAYLOR_DEGREE[method]
        return OneStep(tuple(1.0 / math.factorial(k) for k in range(p + 1)))
    if method == "explicit_adams":
        k = _EXPLICIT_ADAMS_ORDER
        # rho = zeta^k - zeta^(k-1); b_j multiplies zeta^(k-1-j) (increasing powers)
        rho = (0.0,) * (k - 1) + (-1.0, 1.0)
        sigma = tuple(_BASHFORTH_DIVISOR[k].double().numpy()[::-1].tolist())
        return Multistep(rho, sigma)
    tab = _tableau_cached(method)
    if tab is None:
        return NotAnalysed(
            f"TorchDiffEq(method={method!r}): the Adams-Bashforth-Moulton "
            "predictor-corrector has no fixed linear stability analysis here; use "
            "explicit_adams or rk4"
        )
    return OneStep(tab.stability_polynomial)
