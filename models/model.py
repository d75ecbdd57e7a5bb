r"""GraphPDEModel: an encoder, a learned right-hand side, a chosen solver, a decoder.

A model is

.. math:: \hat y = \psi\big(Y(t_1)\big), \qquad
    \frac{dY}{dt} = f_\theta(t, Y; G), \qquad Y(t_0) = \phi(x)

with the encoder :math:`\phi`, the learned right-hand side :math:`f_\theta` (a
:class:`~solvers.terms.Term`, usually a :class:`GraphTerm`) and the decoder
:math:`\psi`. The integration is :func:`solvers.solve` with the model's ``solver``,
``controller``, step ``dt0`` and gradient strategy ``adjoint``. Those four are plain
attributes, not submodules: ``repr(model)`` shows ``solver=RK4()`` and a trained
model can be integrated differently by assigning ``model.solver = Dopri5()``.

**Depth is time.** With a fixed step the number of steps, ``model.depth``, is the
number of layers: ``ceil((t1 - t0) / dt0)`` (see :class:`~solvers.ConstantStep`).

**Where the graph lives.** The graph is an argument of every call,
``model(x, graph)`` (PyG style), and reaches the term through ``args``, so one model
runs on any graph. A family whose right-hand side needs data computed once per
forward pass (GRAND-l's attention at ``t0``, a detached copy of ``Y(t0)`` for a
source term) computes it in :meth:`GraphTerm.prepare`. ``model.to(device)`` moves
the encoder, the term and the decoder (and any operator a term holds); the graph
moves with ``graph.to(device)``.

**Time-dependent parameters** (one weight per layer, as PDE-GCN's ``K_l``) are
:class:`TimeIndexed` values; their semantics when the step or the solver changes
after training are stated there.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from graphops import Graph, dirichlet_energy, mean_average_distance
from graphops._checks import check_real, describe
from solvers import (
    CG,
    RK4,
    AbstractSolver,
    AdamsBashforth,
    ConstantStep,
    CrankNicolson,
    Dopri5,
    Euler,
    Heun,
    ImplicitEuler,
    Leapfrog,
    SaveAt,
    Solution,
    SymplecticEuler,
    solve,
)
from solvers.controllers import AbstractStepController
from solvers.stability import jacobian_eigenvalue, stable_step
from solvers.stability.jacobian import DominantEigenvalue
from solvers.terms import LinearTerm, SecondOrderTerm, Term

__all__ = [
    "GraphPDEModel",
    "GraphTerm",
    "StabilityReport",
    "StabilityRow",
    "TimeIndexed",
    "accepts",
    "check_equivariance",
    "layer_boundaries",
    "layer_index",
    "permute_graph",
]

_INTERPOLATIONS = ("constant", "linear")


def layer_boundaries(t0: float, h: float, num_layers: int) -> tuple[float, ...]:
    """The jump times ``t_k = t0 + k h``, ``k = 1 .. K-1``, of ``K`` layers.

    One expression for every per-layer rule of the package, so the times a solve
    lands on (``Term.jump_times``) compare *exactly* equal to the ones
    :func:`layer_index` looks up.
    """
    return tuple(t0 + k * h for k in range(1, num_layers))


def layer_index(boundaries: tuple[float, ...], t: float | Tensor) -> int:
    r"""The layer ``k`` of time ``t``, :math:`t \in [t_k, t_{k+1})`, in ``[0, K-1]``.

    The count of boundaries at or before ``t`` (exact comparisons, no tolerance):
    a step that :func:`solvers.solve` lands on ``t_k`` starts exactly there and
    reads layer ``k``; the step ending there is shortened by one ulp and reads
    layer ``k - 1`` to its end.
    """
    return bisect.bisect_right(boundaries, float(t))


class TimeIndexed(nn.Module):
    r"""Parameters indexed by time: one value per layer, read at any ``t``.

    ``K`` values belong to the training grid ``t_k = t0 + k h`` (``h`` the training
    step). With ``interpolation="constant"`` (default) the value at time ``t`` is

    .. math:: P(t) = P_k \quad \text{for } t \in [t_k, t_{k+1}),\qquad
        t_k = t_0 + k h, \quad k \text{ clipped to } [0, K-1],

    piecewise constant and right-continuous, so an Euler step from ``t_k`` uses
    ``P_k`` exactly as the layer-``k`` network it discretises. With
    ``interpolation="linear"``, :math:`P(t)` interpolates linearly between
    :math:`P_k` at :math:`t_k` and :math:`P_{k+1}` at :math:`t_{k+1}` and is constant
    outside ``[t_0, t_{K-1}]``; it is continuous, so no solver sees a jump.

    **When the step or the solver changes after training:**

    * a smaller step (``h / 2``) takes several steps per piece, each with the same
      :math:`P_k`: a finer discretisation of the same piecewise-constant ODE;
    * a larger step or one that is not a divisor of ``h`` reads :math:`P` at its own
      stage times, so some pieces may be skipped or straddled;
    * a multi-stage solver (RK4) evaluates stages inside ``[t_k, t_k + h]``:
      :func:`solvers.solve` lands a step on every :meth:`jump_times` time and ends
      the step before it one ulp early, so every stage of a step reads the piece
      the step started in (no stage straddles a jump);
    * times beyond ``t_{K-1} + h`` read the last value :math:`P_{K-1}`;
    * an **adaptive** solver never steps over a jump: the term's ``jump_times``
      (the ``t_k``, with ``interpolation="constant"``) are stops of every solve.

    The look-up compares ``t`` exactly with the boundaries ``t0 + k h`` (see
    :func:`layer_index`); the solve lands on those very floats.

    Args:
        values: Initial values, shape ``[K, ...]`` (``K`` layers); stored as a
            parameter (``requires_grad=False`` keeps them fixed).
        h: Training step, ``> 0``.
        t0: Start of the grid.
        interpolation: ``"constant"`` or ``"linear"``.
        requires_grad: Train the values (``False`` keeps them fixed).

    Raises:
        TypeError: ``values`` is not a tensor.
        ValueError: ``values`` has no leading layer dimension, ``h`` is not
            positive, or ``interpolation`` is unknown.

    Example:
        >>> w = TimeIndexed(torch.arange(3.0).reshape(3, 1), h=0.5, requires_grad=False)
        >>> [float(w(t)) for t in (0.0, 0.74, 1.0, 9.0)]
        [0.0, 1.0, 2.0, 2.0]
        >>> w.jump_times(0.0, 1.5)
        [0.5, 1.0]
    """

    def __init__(
        self,
        values: Tensor,
        *,
        h: float,
        t0: float = 0.0,
        interpolation: str = "constant",
        requires_grad: bool = True,
    ) -> None:
        """Store the values as a parameter (see the class docstring)."""
        super().__init__()
        if not isinstance(values, Tensor):
            raise TypeError(
                f"TimeIndexed: `values` must be a tensor [K, ...]; got "
                f"{describe(values)}."
            )
        if values.dim() < 1 or values.shape[0] < 1:
            raise ValueError(
                "TimeIndexed: `values` needs a leading layer dimension K >= 1; got "
                f"shape {tuple(values.shape)}."
            )
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"TimeIndexed: `interpolation` must be one of {_INTERPOLATIONS}; got "
                f"{interpolation!r}."
            )
        self.h = check_real("TimeIndexed", "h", h, low=0.0, low_open=True)
        self.t0 = check_real("TimeIndexed", "t0", t0)
        self.interpolation = interpolation
        self.values = nn.Parameter(values.detach().clone(), requires_grad=requires_grad)
        self._boundaries = layer_boundaries(self.t0, self.h, values.shape[0])

    @property
    def num_layers(self) -> int:
        """``K``, the number of values."""
        return self.values.shape[0]

    def _position(self, t: Any) -> float:
        return (float(t) - self.t0) / self.h

    def forward(self, t: float | Tensor) -> Tensor:
        """The value at time ``t`` (a Python float or a 0-d tensor)."""
        if self.interpolation == "constant":
            return self.values[layer_index(self._boundaries, t)]
        s = self._position(t)
        last = self.num_layers - 1
        if s <= 0.0 or last == 0:
            return self.values[0]
        if s >= last:
            return self.values[last]
        k = math.floor(s)
        w = s - k
        return (1.0 - w) * self.values[k] + w * self.values[k + 1]

    def jump_times(self, t0: float, t1: float) -> list[float]:
        """The discontinuities ``t_k`` strictly inside ``(t0, t1)`` (constant only)."""
        if self.interpolation != "constant":
            return []
        return [t for t in self._boundaries if t0 < t < t1]

    def extra_repr(self) -> str:
        """``K``, ``h`` and the interpolation."""
        return (
            f"num_layers={self.num_layers}, h={self.h:g}, "
            f"interpolation={self.interpolation!r}"
        )


class GraphTerm(Term):
    """A learned right-hand side on a graph: the hooks a :class:`GraphPDEModel` calls.

    Subclasses implement ``forward(t, y, args)`` and may override:

    1. :meth:`initial_state` - the ODE state from the encoder output (a second-order
       family returns ``(x0, v0)``);
    2. :meth:`prepare` - the ``args`` handed to every evaluation, computed once per
       forward pass from the graph and the initial state (default: the graph);
    3. :meth:`readout` - the tensor the decoder reads from the final state (default:
       the state, or its first component ``x`` for ``(x, v)``);
    4. :meth:`jump_times` - times where the right-hand side jumps (default: those of
       every :class:`TimeIndexed` submodule).
    """

    def initial_state(self, x0: Tensor) -> Any:
        """The state at ``t0`` from the encoder output ``x0`` (default: ``x0``)."""
        return x0

    def prepare(self, t0: float, y0: Any, graph: Graph) -> Any:
        """``args`` for every evaluation of this forward pass (default: ``graph``)."""
        return graph

    def readout(self, y: Any) -> Tensor:
        """What the decoder reads from a state (``y``, or ``x`` of ``(x, v)``)."""
        return y[0] if isinstance(y, tuple) else y

    def jump_times(self, t0: float, t1: float) -> list[float]:
        """Sorted times in ``(t0, t1)`` where the right-hand side is discontinuous."""
        times = set()
        for module in self.modules():
            if isinstance(module, TimeIndexed):
                times.update(module.jump_times(t0, t1))
        return sorted(times)


def _distributed(graph: Any) -> tuple[Any, Any] | None:
    """``(dgraph, edge_attr)`` when ``graph`` is a rank's graph, else ``None``.

    A rank's graph is a :class:`~models.distributed.DistributedGraph`, or a pair
    ``(dgraph, edge_attr)`` (PDE-GCN's edge features, as ``(graph, edge_attr)``
    in one process).
    """
    from models.distributed import DistributedGraph

    if isinstance(graph, DistributedGraph):
        return graph, None
    if (
        isinstance(graph, tuple)
        and len(graph) == 2
        and isinstance(graph[0], DistributedGraph)
    ):
        return graph
    return None


def _is_distributed(graph: Any) -> bool:
    """Whether ``graph`` is a rank's graph (a ``DistributedGraph`` or its pair)."""
    return _distributed(graph) is not None


def _check_module(name: str, value: Any) -> None:
    if not callable(value):
        raise TypeError(
            f"GraphPDEModel: `{name}` must be an nn.Module or a callable; got "
            f"{describe(value)}. Use nn.Identity() for none."
        )


class GraphPDEModel(nn.Module):
    r"""Encoder, learned right-hand side integrated by a solver, decoder.

    ``forward(x, graph)``: ``y0 = term.initial_state(encoder(x))``, then
    ``solve(term, solver, y0=y0, t0=t0, t1=t1, dt0=dt0, args=term.prepare(...),
    controller=controller, adjoint=adjoint)``, then ``decoder(term.readout(y(t1)))``.
    The last solve's statistics are kept in ``model.last_stats`` (steps, RHS
    evaluations) for reporting.

    Args:
        encoder: Module mapping node features ``[N, F_in]`` to the state ``[N, C]``.
        term: The learned right-hand side (a :class:`GraphTerm` or any ``Term``).
        decoder: Module mapping the final state ``[N, C]`` to outputs.
        solver: The integrator value, e.g. ``Euler()``; a plain attribute.
        t1: End time, ``> t0``.
        dt0: The step (required for ``ConstantStep``); the first step for an
            adaptive controller (``None``: automatic).
        controller: Step-size controller value; a plain attribute.
        adjoint: Gradient strategy value (``Backprop()``, ``Checkpoint()``, ...);
            ``None`` means the solver default (backpropagation through the steps).
        t0: Start time.
        max_steps: Step budget of each solve.

    Raises:
        TypeError: ``term`` is not a Term, ``solver`` not a solver, ``controller``
            not a controller, or ``encoder``/``decoder`` not callable.
        ValueError: bad times or step.

    Example:
        >>> model = GraphPDEModel(nn.Linear(2, 4), LinearTerm(Laplacian(graph)),
        ...                       nn.Linear(4, 3), solver=Euler(), t1=1.0, dt0=0.25)
        >>> model(x, graph).shape, model.depth
        (torch.Size([16, 3]), 4)
        >>> model.solver = RK4()
    """

    def __init__(
        self,
        encoder: nn.Module,
        term: Term,
        decoder: nn.Module,
        *,
        solver: AbstractSolver,
        t1: float,
        dt0: float | None = None,
        controller: AbstractStepController | None = None,
        adjoint: Any = None,
        t0: float = 0.0,
        max_steps: int = 10_000,
    ) -> None:
        """Store the parts (see the class docstring)."""
        super().__init__()
        _check_module("encoder", encoder)
        _check_module("decoder", decoder)
        if not isinstance(term, Term):
            raise TypeError(
                "GraphPDEModel: `term` must be a solvers.Term (the learned "
                f"right-hand side); got {describe(term)}."
            )
        self.encoder = encoder
        self.term = term
        self.decoder = decoder
        self.t0 = check_real("GraphPDEModel", "t0", t0)
        self.t1 = check_real("GraphPDEModel", "t1", t1)
        if not self.t1 > self.t0:
            raise ValueError(
                f"GraphPDEModel: `t1` must be greater than `t0`; got t0={self.t0:g}, "
                f"t1={self.t1:g}."
            )
        self.dt0 = (
            None
            if dt0 is None
            else check_real("GraphPDEModel", "dt0", dt0, low=0.0, low_open=True)
        )
        self.solver = solver
        self.controller = ConstantStep() if controller is None else controller
        self.adjoint = adjoint
        self.max_steps = max_steps
        self.last_stats = None

    # Plain attributes, validated on every assignment so a swap fails where it is
    # written, not at the next forward pass.
    def __setattr__(self, name: str, value: Any) -> None:
        """Validate ``solver`` and ``controller`` when they are assigned."""
        if name == "solver" and not isinstance(value, AbstractSolver):
            raise TypeError(
                "GraphPDEModel: `solver` must be a solver value such as RK4(); got "
                f"{describe(value)}."
            )
        if name == "controller" and not isinstance(value, AbstractStepController):
            raise TypeError(
                "GraphPDEModel: `controller` must be a controller value such as "
                f"ConstantStep() or PIController(rtol=..., atol=...); got "
                f"{describe(value)}."
            )
        super().__setattr__(name, value)

    @property
    def depth(self) -> int | None:
        """Number of steps of a fixed-step solve (``None`` when adaptive).

        The solve lands a step on every jump of the right-hand side (the layer
        boundaries of per-layer weights), so a step ``dt0`` larger than a layer's
        width ``h`` still takes one step per layer: the count is that of the grid
        :func:`solvers.solve` runs, not ``(t1 - t0) / dt0``.
        """
        grid = self._step_grid()
        return None if grid is None else grid[0]

    def _step_grid(self) -> tuple[int, float] | None:
        """``(number of steps, largest step)`` of the fixed-step solve, or ``None``.

        The grid :func:`solvers.solve` runs: ``ConstantStep`` splits every
        interval between consecutive stops (the term's jump times and ``t1``)
        into equal steps of at most ``dt0``.
        """
        if not isinstance(self.controller, ConstantStep) or self.dt0 is None:
            return None
        jumps = {float(v) for v in self.term.jump_times(self.t0, self.t1)}
        stops = sorted(v for v in jumps if self.t0 < v < self.t1) + [self.t1]
        times, dt = self.controller.grid(self.t0, stops, self.dt0)
        return sum(len(ts) - 1 for ts in times), dt

    def initial_state(self, x: Tensor, graph: Graph) -> tuple[Any, Any]:
        """``(y0, args)``: the encoded initial state and the term's ``args``."""
        y0 = self.encoder(x)
        distributed = _distributed(graph)
        if isinstance(self.term, GraphTerm):
            y0 = self.term.initial_state(y0)
            if distributed is not None:
                dgraph, edge_attr = distributed
                return y0, dgraph.prepare(self.term, self.t0, y0, edge_attr)
            return y0, self.term.prepare(self.t0, y0, graph)
        if distributed is not None:  # refused, naming the supported families
            distributed[0].prepare(self.term, self.t0, y0)
        return y0, graph

    def _solve_kwargs(self, graph: Any = None) -> dict[str, Any]:
        controller = self.controller
        distributed = _distributed(graph)
        if distributed is not None:  # every rank must take the same steps
            controller = distributed[0].controller(controller)
        kwargs: dict[str, Any] = {
            "t0": self.t0,
            "t1": self.t1,
            "dt0": self.dt0,
            "controller": controller,
            "max_steps": self.max_steps,
        }
        if self.adjoint is not None:
            kwargs["adjoint"] = self.adjoint
        return kwargs

    def _readout(self, y: Any) -> Tensor:
        if isinstance(self.term, GraphTerm):
            return self.term.readout(y)
        return y[0] if isinstance(y, tuple) else y

    def forward(self, x: Tensor, graph: Graph) -> Tensor:
        """Encode, integrate from ``t0`` to ``t1``, decode. ``x``: ``[N, F_in]``."""
        y0, args = self.initial_state(x, graph)
        kwargs = self._solve_kwargs(graph)
        sol = solve(self.term, self.solver, y0=y0, args=args, **kwargs)
        self.last_stats = sol.stats
        y1 = tuple(leaf[-1] for leaf in sol.ys) if isinstance(y0, tuple) else sol.ys[-1]
        return self.decoder(self._readout(y1))

    def trajectory(
        self,
        x: Tensor,
        graph: Graph,
        *,
        fn: str | Callable[[float, Tensor, Graph], Any] = "energy",
        ts: Tensor | None = None,
    ) -> Solution:
        """Record a diagnostic of the hidden state along the solve (depth as time).

        The solve is the model's own (solver, controller, step), recording
        ``fn(t, h, graph)`` of the state the decoder reads (``h``) at ``t0`` and
        after every step (or at the times ``ts``) through
        :class:`~solvers.saveat.SaveAt`: the trajectory itself is never stored, so
        a 64-layer diagnostic on Cora costs a scalar per layer.

        Args:
            x: Node features ``[N, F_in]``.
            graph: The graph.
            fn: ``"energy"`` (:func:`graphops.dirichlet_energy`, unnormalised),
                ``"mad"`` (:func:`graphops.mean_average_distance`) or a callable
                ``fn(t, h, graph)`` returning a tensor.
            ts: Output times (``None``: ``t0`` and every step).

        Returns:
            The :class:`~solvers.solution.Solution`: ``ts`` the times, ``ys`` the
            recorded values stacked along the first axis.

        Raises:
            ValueError: an unknown ``fn`` name.
        """
        if isinstance(fn, str):
            if fn not in _DIAGNOSTICS:
                raise ValueError(
                    f"GraphPDEModel.trajectory: `fn` must be one of "
                    f"{sorted(_DIAGNOSTICS)} or a callable fn(t, h, graph); got {fn!r}."
                )
            fn = _DIAGNOSTICS[fn]
        if not callable(fn):
            raise TypeError(
                "GraphPDEModel.trajectory: `fn` must be a name or a callable "
                f"fn(t, h, graph); got {describe(fn)}."
            )
        readout = self._readout

        def record(t: float, y: Any, args: Any) -> Any:
            return fn(t, readout(y), graph)

        save = SaveAt(steps=ts is None, ts=ts, fn=record)
        y0, args = self.initial_state(x, graph)
        kwargs = self._solve_kwargs(graph)
        kwargs.pop("adjoint", None)
        return solve(self.term, self.solver, y0=y0, args=args, saveat=save, **kwargs)

    def stability_report(
        self,
        x: Tensor,
        graph: Graph,
        *,
        solvers: list[AbstractSolver] | None = None,
        iters: int = 100,
        tol: float = 1e-6,
    ) -> StabilityReport:
        r"""Linear stability of the trained right-hand side at the encoded state.

        Linearises :math:`f_\theta` at :math:`(t_0, Y(t_0))`: for a
        :class:`~solvers.terms.LinearTerm` the top eigenvalue of its operator,
        otherwise the dominant eigenvalue :math:`\mu` of the Jacobian from
        Jacobian-vector products (:func:`solvers.stability.jacobian_eigenvalue`,
        computed once). Each candidate solver gets its largest stable fixed step
        for that eigenvalue (:func:`solvers.stability.stable_step`: the real-axis
        bound, or the bound along the ray through a complex :math:`\mu`; the
        oscillator bound for second-order solvers) and whether the model's own
        ``dt0`` is inside it. The estimate is local (the state moves during the
        solve) and runs in evaluation mode (dropout off) without gradients.

        Args:
            x: Node features ``[N, F_in]``.
            graph: The graph.
            solvers: Candidates (default: the model's solver, Euler, Heun, RK4,
                Dopri5, AdamsBashforth(2), Leapfrog, SymplecticEuler, ImplicitEuler
                and CrankNicolson, keeping those that accept the term).
            iters: Jacobian-vector products for the estimate.
            tol: Its convergence tolerance (``converged`` in the report).

        Returns:
            A :class:`StabilityReport` (``print`` it for a table).
        """
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                y0, args = self.initial_state(x, graph)
            term, t0 = self.term, self.t0
            y0 = tuple(v.detach() for v in y0) if isinstance(y0, tuple) else y0.detach()
            has_operator = isinstance(term, LinearTerm) or (
                isinstance(term, SecondOrderTerm)
                and term.operator(t0, y0[0], args) is not None
            )
            eig = None
            if not has_operator:
                eig = jacobian_eigenvalue(
                    term, y0, t=t0, args=args, iters=iters, tol=tol
                )
            candidates = [self.solver] + list(
                solvers if solvers is not None else _default_candidates()
            )
            rows, seen = [], set()
            for solver in candidates:
                if repr(solver) in seen or not accepts(solver, term):
                    continue
                seen.add(repr(solver))
                rows.append(self._stability_row(solver, term, y0, args, eig))
        finally:
            self.train(was_training)
        lam = None if eig is None else eig.lam
        return StabilityReport(
            model_solver=repr(self.solver),
            dt=self._fixed_dt(),
            lam=lam,
            converged=True if eig is None else eig.converged,
            rows=tuple(rows),
        )

    def _fixed_dt(self) -> float | None:
        """The largest step the fixed-step solve takes (``None`` when adaptive)."""
        grid = self._step_grid()
        return None if grid is None else grid[1]

    def _stability_row(
        self,
        solver: AbstractSolver,
        term: Term,
        y0: Any,
        args: Any,
        eig: DominantEigenvalue | None,
    ) -> StabilityRow:
        note = ""
        try:
            dt_max = stable_step(
                term,
                solver,
                y0,
                t=self.t0,
                args=args,
                eigenvalue=eig,
                where="GraphPDEModel.stability_report",
            )
        except ValueError as exc:
            dt_max, note = 0.0, str(exc).split(": ", 1)[-1]
        dt = self._fixed_dt()
        inside = None if dt is None else (dt_max is None or dt <= dt_max)
        return StabilityRow(repr(solver), dt_max, inside, note)

    def extra_repr(self) -> str:
        """The integration settings, after the submodules."""
        parts = [
            f"solver={self.solver!r}",
            f"controller={self.controller!r}",
            f"t0={self.t0:g}",
            f"t1={self.t1:g}",
            f"dt0={self.dt0!r}",
        ]
        if self.depth is not None:
            parts.append(f"depth={self.depth}")
        if self.adjoint is not None:
            parts.append(f"adjoint={self.adjoint!r}")
        return ", ".join(parts)


_DIAGNOSTICS: dict[str, Callable[[float, Tensor, Graph], Tensor]] = {
    "energy": lambda t, h, g: dirichlet_energy(h, g),
    "mad": lambda t, h, g: mean_average_distance(h),
}


def _default_candidates() -> list[AbstractSolver]:
    return [
        Euler(),
        Heun(),
        RK4(),
        Dopri5(),
        AdamsBashforth(order=2),
        Leapfrog(),
        SymplecticEuler(),
        ImplicitEuler(CG(rtol=1e-8)),
        CrankNicolson(CG(rtol=1e-8)),
    ]


def accepts(solver: AbstractSolver, term: Term) -> bool:
    """Whether ``solver`` can integrate ``term``.

    The term must be of the solver's ``term_type``, and a plain leapfrog does not
    take a velocity-dependent second-order term.

    Example:
        >>> accepts(RK4(), term), accepts(Leapfrog(), term)
        (True, False)
    """
    kinds = solver.term_type
    if not isinstance(term, kinds):
        return False
    velocity = isinstance(term, SecondOrderTerm) and term.velocity_dependent
    return not (velocity and isinstance(solver, Leapfrog))


@dataclass(frozen=True)
class StabilityRow:
    """One solver of a :class:`StabilityReport`.

    Attributes:
        solver: The solver's repr.
        dt_max: Largest stable fixed step at the linearisation (``None``: no
            limit; ``0.0``: unstable for every step, see ``note``).
        inside: Whether the model's own fixed step is ``<= dt_max`` (``None``
            for an adaptive model).
        note: Why a solver is unstable for every step (empty otherwise).
    """

    solver: str
    dt_max: float | None
    inside: bool | None
    note: str = ""


@dataclass(frozen=True)
class StabilityReport:
    """What :meth:`GraphPDEModel.stability_report` found.

    Attributes:
        model_solver: The model's own solver (the first row).
        dt: The model's effective fixed step (``None`` when adaptive).
        lam: Dominant Jacobian eigenvalue of the learned right-hand side at the
            encoded state (``None`` for a term with an operator, whose top
            eigenvalue is used instead).
        converged: Whether that estimate converged.
        rows: One :class:`StabilityRow` per candidate solver.
    """

    model_solver: str
    dt: float | None
    lam: complex | None
    converged: bool
    rows: tuple[StabilityRow, ...]

    @property
    def inside(self) -> bool | None:
        """Whether the model's own step is inside its own solver's bound."""
        return self.rows[0].inside if self.rows else None

    def __str__(self) -> str:
        """A table: solver, largest stable step, whether the model's step fits."""
        head = f"model solver {self.model_solver}, dt = {self.dt!r}"
        if self.lam is not None:
            flag = "" if self.converged else " (estimate did not converge)"
            head += f", dominant Jacobian eigenvalue {self.lam:.4g}{flag}"
        lines = [head, f"{'solver':<44} {'dt_max':>10}  inside"]
        for r in self.rows:
            dt_max = "no limit" if r.dt_max is None else f"{r.dt_max:.4g}"
            inside = "-" if r.inside is None else ("yes" if r.inside else "NO")
            lines.append(f"{r.solver[:44]:<44} {dt_max:>10}  {inside}")
        return "\n".join(lines)


def permute_graph(graph: Graph, perm: Tensor) -> Graph:
    """The graph with its nodes relabelled: new node ``k`` is old node ``perm[k]``.

    Args:
        graph: The graph.
        perm: A permutation of ``range(num_nodes)`` (int64 ``[N]``).

    Returns:
        A graph isomorphic to ``graph`` with the same edge weights and dtype.
    """
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(perm.numel(), device=perm.device)
    ei = inverse[graph.edge_index]
    out = Graph(
        ei,
        graph.num_nodes,
        graph.edge_weight if graph.weighted else None,
        directed="symmetrize",
    )
    # An unweighted graph gets unit weights in the default dtype: keep the graph's.
    return out.to(dtype=graph.dtype)


def check_equivariance(
    model: nn.Module, graph: Graph, x: Tensor, *, seed: int = 0
) -> float:
    r"""Maximum deviation from permutation equivariance of ``model(x, graph)``.

    Draws a random permutation :math:`P` of the nodes and returns
    :math:`\max |f(Px, PGP^\top) - P f(x, G)|`. A node-level model that treats the
    graph as a set of edges gives round-off (about ``1e-15`` in float64). The model
    is run in evaluation mode (dropout off) and restored afterwards; nothing is
    differentiated.

    Args:
        model: Any module called as ``model(x, graph)`` returning ``[N, ...]``.
        graph: The graph.
        x: Node features ``[N, F]``.
        seed: Seed of the permutation.

    Returns:
        The maximum absolute deviation (a float).

    Raises:
        ValueError: ``x`` does not have one row per node.

    Example:
        >>> heat = LinearTerm(lambda t, y, g: Laplacian(g))  # the graph from args
        >>> model = GraphPDEModel(nn.Linear(2, 4), heat, nn.Linear(4, 3),
        ...                       solver=RK4(), t1=1.0, dt0=0.25)
        >>> check_equivariance(model, graph, x) < 1e-12
        True
    """
    if not isinstance(x, Tensor) or x.dim() < 1 or x.shape[0] != graph.num_nodes:
        raise ValueError(
            f"check_equivariance: `x` must have one row per node ({graph.num_nodes}); "
            f"got {describe(x)}."
        )
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(graph.num_nodes, generator=gen).to(x.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x, graph)
            out_perm = model(x[perm], permute_graph(graph, perm))
    finally:
        model.train(was_training)
    return float((out_perm - out[perm]).abs().max()) if out.numel() else 0.0
