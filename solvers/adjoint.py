r"""How gradients flow through :func:`solvers.solve`: the gradient strategy is a value.

* :class:`Backprop` (the default): backpropagate through every step (discrete
  gradients, exact for the computed solution; memory grows with the steps).
* :class:`Checkpoint`: the same gradients, with fixed steps run in segments under
  ``torch.utils.checkpoint`` (non-reentrant): memory about ``sqrt(n)`` states for
  ``n`` steps, at the cost of one extra forward pass.
* :class:`TorchDiffEqAdjoint`: the continuous adjoint (Chen et al. 2018): the
  backward pass integrates the adjoint system with torchdiffeq; memory does not
  grow with the steps, and the gradient is that of the exact flow up to the
  adjoint's tolerances. With a :class:`~solvers.torchdiffeq.TorchDiffEq` solver it
  is ``torchdiffeq.odeint_adjoint``; with the package's own solvers the forward
  pass runs the solver under ``no_grad`` and the backward pass integrates

  .. math::

      \dot y = f(t, y), \qquad
      \dot a = -a^\top \frac{\partial f}{\partial y}, \qquad
      \dot g = -a^\top \frac{\partial f}{\partial \theta}

  from each output time back to the previous one with ``torchdiffeq.odeint``,
  restarting ``y`` from the stored forward state at every output time and adding
  the incoming gradient to ``a`` there; ``a(t_0)`` is the gradient of ``y0`` and
  ``g(t_0)`` that of the parameters ``theta``.

Example:
    >>> sol = solve(term, RK4(), y0=x0, t1=1.0, dt0=0.01, adjoint=Checkpoint())
    >>> sol = solve(term, Dopri5(), y0=x0, t1=1.0,
    ...             controller=PIController(rtol=1e-6, atol=1e-8),
    ...             adjoint=TorchDiffEqAdjoint(rtol=1e-6, atol=1e-8))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from graphops.graph import Graph
from solvers._checks import check_int, check_real, describe
from solvers._tde_compat import FIXED, TDE, check_method
from solvers._tree import State
from solvers.solution import Solution
from solvers.terms import Term

__all__ = [
    "AbstractAdjoint",
    "Backprop",
    "Checkpoint",
    "TorchDiffEqAdjoint",
    "find_adjoint_params",
]


class AbstractAdjoint:
    """Base of the gradient strategies accepted by ``solve(adjoint=...)``.

    A marker: ``solve()`` dispatches on the concrete classes below.
    """


@dataclass(frozen=True)
class Backprop(AbstractAdjoint):
    """Backpropagate through every step (discrete gradients; the default).

    Step-size decisions are constants for autograd. Memory grows with the number
    of steps times the stages per step.

    Example:
        >>> Backprop()
        Backprop()
    """


@dataclass(frozen=True)
class Checkpoint(AbstractAdjoint):
    """Backpropagate through segments recomputed in the backward pass.

    With a fixed-step controller (``ConstantStep``) the ``n`` steps run in
    ``segments`` segments under ``torch.utils.checkpoint`` (non-reentrant): the
    memory for backpropagation is the segment boundaries plus one segment's
    activations, at the cost of one extra forward pass. Gradients and outputs are
    those of :class:`Backprop`. Without gradients (``torch.no_grad``) it is plain.

    Args:
        segments: Number of segments; ``None`` gives about ``sqrt(n)`` segments of
            about ``sqrt(n)`` steps (memory ``O(sqrt(n))``).

    Raises:
        TypeError: ``segments`` is not an int.
        ValueError: ``segments`` is below 1.

    Example:
        >>> Checkpoint(), Checkpoint(segments=8)
        (Checkpoint(segments=None), Checkpoint(segments=8))
    """

    segments: int | None = None

    def __post_init__(self) -> None:
        """Check ``segments``."""
        if self.segments is not None:
            check_int(
                "Checkpoint",
                "segments",
                self.segments,
                low=1,
                fix="Pass e.g. Checkpoint(segments=8), or None for about sqrt(n).",
            )

    def segment_length(self, num_steps: int) -> int:
        """Steps per segment for a solve of ``num_steps`` fixed steps.

        Args:
            num_steps: The number of steps (``>= 0``).

        Returns:
            ``isqrt(n - 1) + 1`` (about ``sqrt(n)``) for ``segments=None``, else
            ``ceil(n / segments)``; at least 1.
        """
        if num_steps <= 1:
            return 1
        if self.segments is None:
            return math.isqrt(num_steps - 1) + 1
        return max(1, -(-num_steps // self.segments))


@dataclass(frozen=True)
class TorchDiffEqAdjoint(AbstractAdjoint):
    """The continuous adjoint, integrated backward by torchdiffeq.

    With a ``TorchDiffEq`` solver this is ``torchdiffeq.odeint_adjoint``; ``None``
    fields then take the forward solver's method and tolerances. With the
    package's own solvers the forward pass runs the solver under ``no_grad`` and
    the backward pass integrates the adjoint system with ``torchdiffeq.odeint``
    (module docs); ``rtol`` and ``atol`` are then required, ``method`` defaults to
    ``"dopri5"``, and a fixed-grid ``method`` uses the forward ``ConstantStep``
    step. The term receives ``t`` as a Python float in both passes.

    Args:
        method: torchdiffeq method of the backward solve.
        rtol: Relative tolerance of the backward solve (``>= 0``).
        atol: Absolute tolerance of the backward solve (``>= 0``).
        params: The tensors to differentiate. ``None``: the term's parameters plus
            every tensor requiring grad in ``args`` (e.g. learned edge weights in a
            ``Graph``). Pass them when the term closes over tensors that are not
            parameters (an operator built from learned weights outside the term).
            They live here, not on the solver, because they are part of the
            gradient strategy and apply to every solver.

    Raises:
        ValueError: an unknown ``method``, or a tolerance that is negative or not
            finite.
        TypeError: ``params`` is not a tuple of tensors.

    Example:
        >>> TorchDiffEqAdjoint(method="dopri5", rtol=1e-6, atol=1e-8)
        TorchDiffEqAdjoint(method='dopri5', rtol=1e-06, atol=1e-08)
    """

    method: str | None = None
    rtol: float | None = None
    atol: float | None = None
    params: tuple[Tensor, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Validate the fields once."""
        where = "TorchDiffEqAdjoint"
        if self.method is not None:
            check_method(where, "method", self.method)
        for name, value in (("rtol", self.rtol), ("atol", self.atol)):
            if value is not None:
                # frozen: normalise to float once
                object.__setattr__(self, name, check_real(where, name, value, low=0.0))
        if self.params is not None:
            params = self.params
            if not isinstance(params, list | tuple) or not all(
                isinstance(p, Tensor) for p in params
            ):
                raise TypeError(
                    f"{where}: `params` must be a tuple of tensors; got "
                    f"{describe(params)}. Pass e.g. tuple(model.parameters())."
                )
            object.__setattr__(self, "params", tuple(params))

    def resolve_params(self, term: Term, args: Any) -> tuple[Tensor, ...]:
        """``params``, or the tensors found by :func:`find_adjoint_params`."""
        if self.params is not None:
            return self.params
        return find_adjoint_params(term, args)


def find_adjoint_params(term: Any, args: Any) -> tuple[Tensor, ...]:
    """The tensors requiring grad in the term (its parameters) and in ``args``.

    ``args`` is searched through tensors, modules, ``Graph`` edge weights, tuples,
    lists, dicts and dataclasses (four levels deep).
    """
    found: dict[int, Tensor] = {}
    _collect_grad_tensors((term, args), found)
    return tuple(found.values())


def _collect_grad_tensors(obj: Any, out: dict[int, Tensor], depth: int = 0) -> None:
    if depth > 4 or obj is None:
        return
    if isinstance(obj, Tensor):
        if obj.requires_grad:
            out.setdefault(id(obj), obj)
    elif isinstance(obj, nn.Module):
        for p in obj.parameters():
            if p.requires_grad:
                out.setdefault(id(p), p)
    elif isinstance(obj, Graph):
        # learned weights carried by the graph
        _collect_grad_tensors(obj.edge_weight, out, depth + 1)
    elif isinstance(obj, tuple | list):
        for v in obj:
            _collect_grad_tensors(v, out, depth + 1)
    elif isinstance(obj, dict):
        for v in obj.values():
            _collect_grad_tensors(v, out, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # the field values of a user's dataclass in `args` (not a capability probe;
        # astuple would deep-copy the tensors)
        for f in dataclasses.fields(obj):
            _collect_grad_tensors(getattr(obj, f.name, None), out, depth + 1)


# ---------------------------------------------------------------------------------
# The continuous adjoint for the package's own solvers
# ---------------------------------------------------------------------------------
@dataclass
class _Spec:
    forward: Callable[[State], Solution]
    term: Term
    args: Any
    t0: float
    adjoint: TorchDiffEqAdjoint
    is_tuple: bool
    num_params: int
    # filled by the forward pass
    solution: Solution | None = None


def continuous_adjoint(
    forward: Callable[[State], Solution],
    term: Term,
    args: Any,
    t0: float,
    y0: State,
    adjoint: TorchDiffEqAdjoint,
) -> Solution:
    """Run ``forward(y0)`` without a graph; its outputs backpropagate by the adjoint.

    Args:
        forward: Runs the solve from a state (the package's loop).
        term: The equation (its ``f(t, y, args)`` is differentiated backward).
        args: Passed to the term.
        t0: Start time.
        y0: Initial state.
        adjoint: Method, tolerances and parameters of the backward solve.

    Returns:
        The forward :class:`~solvers.solution.Solution`, whose ``ys`` carry the
        adjoint backward pass.
    """
    params = adjoint.resolve_params(term, args)
    leaves = y0 if isinstance(y0, tuple) else (y0,)
    if not torch.is_grad_enabled() or not any(
        t.requires_grad for t in (*leaves, *params)
    ):
        with torch.no_grad():
            return forward(y0)
    spec = _Spec(
        forward, term, args, t0, adjoint, isinstance(y0, tuple), len(params)
    )
    ys = _ContinuousAdjoint.apply(spec, *leaves, *params)
    sol = spec.solution
    return dataclasses.replace(sol, ys=tuple(ys) if spec.is_tuple else ys[0])


class _ContinuousAdjoint(torch.autograd.Function):
    """Forward: the solve under ``no_grad``; backward: the adjoint ODE (module docs)."""

    @staticmethod
    def forward(ctx: Any, spec: _Spec, *tensors: Tensor) -> tuple[Tensor, ...]:
        n_leaves = len(tensors) - spec.num_params
        leaves = tensors[:n_leaves]
        y0 = tuple(leaves) if spec.is_tuple else leaves[0]
        with torch.no_grad():
            sol = spec.forward(y0)
        spec.solution = sol
        ys = sol.ys if spec.is_tuple else (sol.ys,)
        ctx.spec = spec
        ctx.n_leaves = n_leaves
        ctx.save_for_backward(*ys, *tensors[n_leaves:])
        return tuple(ys)

    @staticmethod
    def backward(ctx: Any, *grad_ys: Tensor) -> tuple[Tensor | None, ...]:
        spec: _Spec = ctx.spec
        n = ctx.n_leaves
        saved = ctx.saved_tensors
        ys, params = saved[:n], saved[n:]
        sol = spec.solution
        times = [float(v) for v in sol.ts.detach().cpu().tolist()]
        if not times:
            # the solve failed before the first output: nothing flows back
            return (None, *[None] * (n + len(params)))
        a = [torch.zeros_like(y[0]) for y in ys]
        g = [torch.zeros_like(p) for p in params]
        options: dict[str, Any] = {}
        method = spec.adjoint.method or "dopri5"
        if method in FIXED:
            options["step_size"] = float(sol.stats.dt)
        func = _AugmentedDynamics(spec.term, spec.args, n, params, spec.is_tuple)
        for k in range(len(times) - 1, -1, -1):
            a = [ai + gy[k] for ai, gy in zip(a, grad_ys, strict=True)]
            t_prev = times[k - 1] if k > 0 else spec.t0
            if t_prev == times[k]:
                continue
            y_k = [y[k] for y in ys]
            state = (*y_k, *a, *g)
            t_span = torch.tensor([times[k], t_prev], dtype=ys[0].dtype)
            out = TDE.odeint(
                func,
                state,
                t_span.to(ys[0].device),
                rtol=spec.adjoint.rtol,
                atol=spec.adjoint.atol,
                method=method,
                options=options,
            )
            final = [v[-1] for v in out]
            a = final[n : 2 * n]
            g = final[2 * n :]
        return (None, *a, *g)


class _AugmentedDynamics(nn.Module):
    """``(y, a, g) -> (f, -a^T df/dy, -a^T df/dtheta)`` for torchdiffeq."""

    def __init__(
        self,
        term: Term,
        args: Any,
        n: int,
        params: tuple[Tensor, ...],
        is_tuple: bool,
    ) -> None:
        super().__init__()
        # plain attributes: the term and params are not this module's to register
        self.__dict__["term"] = term
        self.__dict__["args"] = args
        self.__dict__["params"] = params
        self.n = n
        self.is_tuple = is_tuple

    def forward(self, t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """The augmented right-hand side at ``t``."""
        n = self.n
        y, a = state[:n], state[n : 2 * n]
        with torch.enable_grad():
            y_ = tuple(v.detach().requires_grad_(True) for v in y)
            f = self.term(float(t), y_ if self.is_tuple else y_[0], self.args)
            fs = f if isinstance(f, tuple) else (f,)
            inputs = (*y_, *self.params)
            vjp = torch.autograd.grad(
                fs, inputs, grad_outputs=a, allow_unused=True, retain_graph=False
            )
        vjp = [
            torch.zeros_like(x) if v is None else v
            for v, x in zip(vjp, inputs, strict=True)
        ]
        return (*[v.detach() for v in fs], *[-v for v in vjp])
