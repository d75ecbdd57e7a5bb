r"""Names the command line accepts: models, solvers, optimisers, and how they combine.

Every user-facing name resolves here, case-insensitively, and an unknown one fails
with the closest known name suggested (:func:`resolve`). A :class:`ModelSpec` says
how the generic knobs of a run map onto a family's ``from_config`` arguments:

* ``layers`` - the number of steps (``L``);
* ``dt`` - the step size ``h`` (only for families with a step parameter; for the
  discrete-layer families the step is 1 and ``--dt`` is refused);
* the end time is always ``T = L * h`` (depth as time). For the two families whose
  configuration is stated as an end time (GRAND, GRAFF), ``layers`` and ``dt``
  set ``T`` and the step together.

:func:`make_solver` builds solver values from names; :func:`check_compatible`
rejects a solver that cannot integrate a model's term (a leapfrog on a first-order
term, an implicit solver on a nonlinear one) before any training starts.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from graphops._checks import describe
from models import gcn, graff, grand, graphcon, pde_gcn, sheaf
from models.graphcon import StepDropout
from models.model import GraphPDEModel, accepts
from solvers import (
    CG,
    RK4,
    AbstractAdaptiveSolver,
    AbstractSolver,
    AdamsBashforth,
    Bosh3,
    ConstantStep,
    CrankNicolson,
    Dopri5,
    Euler,
    Heun,
    ImplicitEuler,
    Leapfrog,
    LinearTerm,
    Midpoint,
    PIController,
    SecondOrderTerm,
    SymplecticEuler,
    TwoStepLeapfrog,
)

__all__ = [
    "MODELS",
    "OPTIMIZERS",
    "SOLVER_NAMES",
    "ModelSpec",
    "check_compatible",
    "make_optimizer",
    "make_solver",
    "resolve",
    "set_solver",
]


def resolve(where: str, kind: str, name: Any, known: Iterable[str]) -> str:
    """The canonical spelling of ``name`` among ``known``, or a did-you-mean error.

    Args:
        where: The caller, for the message.
        kind: What is named (``"model"``, ``"solver"``, ...), for the message.
        name: The user's spelling (case and ``_``/``-`` are ignored).
        known: The accepted names.

    Returns:
        The matching entry of ``known``.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: no entry matches; the closest one is suggested.
    """
    known = list(known)
    if not isinstance(name, str):
        raise TypeError(
            f"{where}: the {kind} name must be a string; got {describe(name)}. "
            f"Known: {', '.join(known)}."
        )
    key = name.strip().lower().replace("_", "-")
    by_key = {k.lower().replace("_", "-"): k for k in known}
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.4)
    hint = f"Did you mean {by_key[close[0]]!r}? " if close else ""
    raise ValueError(
        f"{where}: unknown {kind} {name!r}. {hint}Known: {', '.join(known)}."
    )


# -- solvers ------------------------------------------------------------------------
def _implicit(cls: type) -> Callable[[], AbstractSolver]:
    return lambda: cls(CG(rtol=1e-8))


_SOLVERS: dict[str, Callable[[], AbstractSolver]] = {
    "euler": Euler,
    "midpoint": Midpoint,
    "heun": Heun,
    "rk4": RK4,
    "bosh3": Bosh3,
    "dopri5": Dopri5,
    "ab2": lambda: AdamsBashforth(order=2),
    "ab3": lambda: AdamsBashforth(order=3),
    "ab4": lambda: AdamsBashforth(order=4),
    "leapfrog": Leapfrog,
    "two-step-leapfrog": lambda: TwoStepLeapfrog(start="difference"),
    "symplectic-euler": SymplecticEuler,
    "implicit-euler": _implicit(ImplicitEuler),
    "crank-nicolson": _implicit(CrankNicolson),
}
#: Solver names accepted by ``--solver`` (implicit ones use CG at rtol 1e-8).
SOLVER_NAMES: tuple[str, ...] = tuple(_SOLVERS)


def make_solver(name: str, *, where: str = "make_solver") -> AbstractSolver:
    """The solver value named ``name`` (one of :data:`SOLVER_NAMES`).

    Raises:
        ValueError: unknown name, with a suggestion.
    """
    return _SOLVERS[resolve(where, "solver", name, SOLVER_NAMES)]()


def check_compatible(
    model: GraphPDEModel, solver: AbstractSolver, *, where: str
) -> None:
    """Fail fast when ``solver`` cannot integrate ``model.term``.

    Raises:
        ValueError: names the term's kind and lists the solvers that accept it.
    """
    inner = solver.solver if isinstance(solver, StepDropout) else solver
    if accepts(inner, model.term):
        return
    ok = [n for n in SOLVER_NAMES if accepts(_SOLVERS[n](), model.term)]
    term = model.term
    if isinstance(term, SecondOrderTerm):
        kind = "a second-order term (position and velocity)"
    elif isinstance(term, LinearTerm):
        kind = "a linear first-order term"
    else:
        kind = "a nonlinear first-order term"
    raise ValueError(
        f"{where}: the solver must accept the model's right-hand side "
        f"({type(term).__name__}, {kind}); got {inner!r}. Solvers that accept it: "
        f"{', '.join(ok)}."
    )


def set_solver(
    model: GraphPDEModel,
    solver: AbstractSolver,
    *,
    dt: float | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-6,
    where: str = "set_solver",
) -> None:
    """Swap the integrator of a built model (checked), keeping its end time.

    An adaptive solver gets a :class:`~solvers.PIController` with ``rtol``/``atol``
    (``dt`` is then its first step, default automatic); a fixed-step one gets
    :class:`~solvers.ConstantStep` with step ``dt`` (default: the model's own).
    GraphCON's step dropout (:class:`~models.graphcon.StepDropout`) stays wrapped
    around a fixed-step one-step solver.

    Raises:
        ValueError: incompatible solver (:func:`check_compatible`), or a fixed-step
            solver with no step known.
    """
    check_compatible(model, solver, where=where)
    old = model.solver
    if isinstance(solver, AbstractAdaptiveSolver):
        model.controller = PIController(rtol=rtol, atol=atol)
        model.dt0 = dt
        model.solver = solver
        return
    step = dt if dt is not None else model.dt0
    if step is None:
        raise ValueError(
            f"{where}: a fixed-step solver needs a step; got no --dt and the model "
            f"has none (it was adaptive). Pass --dt."
        )
    if isinstance(old, StepDropout) and type(solver) in (Euler, SymplecticEuler):
        solver = StepDropout(solver, old.p)
    model.controller = ConstantStep()
    model.dt0 = float(step)
    model.solver = solver


# -- models -------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """How one model name is built and how the generic depth/step knobs map onto it.

    Attributes:
        name: The command-line name.
        build: ``build(num_features, num_classes, **model_args) -> GraphPDEModel``.
        fixed: Arguments always passed (e.g. ``variant="H"``); not overridable.
        layers_arg: The ``from_config`` argument holding the number of steps.
        step_arg: The argument holding the step (``None``: unit-step layers).
        time_arg: The argument holding the end time, for families configured by
            ``T`` (GRAND, GRAFF); ``None`` when ``T = layers * step``.
        groups: ``groups(model, lr, weight_decay, **extra) -> param groups`` for the
            family's optimiser (``None``: one group).
        group_keys: The ``extra`` keys ``groups`` accepts (``param_groups`` in a
            run config).
        summary: One line for ``--help``.
    """

    name: str
    build: Callable[..., GraphPDEModel]
    fixed: dict[str, Any] = field(default_factory=dict)
    layers_arg: str | None = "layers"
    step_arg: str | None = None
    time_arg: str | None = None
    groups: Callable[..., list[dict[str, Any]]] | None = None
    group_keys: tuple[str, ...] = ()
    summary: str = ""

    def depth_args(
        self, layers: int | None, dt: float | None, model_args: dict[str, Any]
    ) -> dict[str, Any]:
        """``model_args`` updated for ``layers`` steps of size ``dt`` (either None).

        Raises:
            ValueError: ``dt`` for a unit-step family, or ``layers`` for GRAND with
                an adaptive solver left in place (the caller handles the solver).
        """
        out = dict(model_args)
        if dt is not None and self.step_arg is None:
            raise ValueError(
                f"model {self.name!r}: its layers are unit steps of a discrete "
                f"network and it has no step-size parameter; got --dt {dt:g}. "
                "Change the depth with --layers, or pick a family with a step "
                "(pde-gcn-*, graphcon, grand, graff)."
            )
        if self.time_arg is None:
            if layers is not None:
                out[self.layers_arg] = int(layers)
            if dt is not None:
                out[self.step_arg] = float(dt)
            return out
        # Families configured by an end time: T = layers * step.
        step = float(dt) if dt is not None else out.get(self.step_arg)
        if layers is not None:
            if step is None:
                step = 1.0
            out[self.time_arg] = float(layers) * step
        if dt is not None or layers is not None:
            out[self.step_arg] = step
        return out


def _gcnii_groups(
    model: nn.Module, lr: float, weight_decay: float, wd_term: float | None = None
) -> list[dict[str, Any]]:
    """GCNII's two groups (REPRODUCTION.md §7.2).

    ``wd_term`` (``wd1``) on the graph layers (``model.term``), ``weight_decay``
    (``wd2``) on the dense layers.
    """
    term = list(model.term.parameters())
    ids = {id(p) for p in term}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [
        {
            "params": term,
            "lr": lr,
            "weight_decay": weight_decay if wd_term is None else wd_term,
        },
        {"params": rest, "lr": lr, "weight_decay": weight_decay},
    ]


def _pde_gcn_groups(
    model: nn.Module,
    lr: float,
    weight_decay: float,
    lr_K: float | None = None,
    lr_alpha: float | None = None,
) -> list[dict[str, Any]]:
    return pde_gcn.param_groups(
        model,
        lr=lr,
        lr_K=lr if lr_K is None else lr_K,
        wd=weight_decay,
        lr_alpha=lr_alpha,
    )


def _sheaf_groups(
    model: nn.Module, lr: float, weight_decay: float, sheaf_decay: float | None = None
) -> list[dict[str, Any]]:
    return sheaf.param_groups(model, lr, weight_decay, sheaf_decay)


def _spec(name: str, build: Callable[..., GraphPDEModel], **kw: Any) -> ModelSpec:
    return ModelSpec(name=name, build=build, **kw)


#: Model names accepted by ``--model``, in the order ``--help`` lists them.
MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _spec(
            "gcn", gcn.from_config, summary="Kipf & Welling GCN (explicit Euler, h=1)"
        ),
        _spec("res-gcn", gcn.residual_from_config, summary="residual GCN"),
        _spec("pairnorm", gcn.pairnorm_from_config, summary="deep GCN with PairNorm"),
        _spec(
            "gcnii",
            gcn.gcnii_from_config,
            groups=_gcnii_groups,
            group_keys=("wd_term",),
            summary="GCNII (initial residual + identity mapping)",
        ),
        *(
            _spec(
                f"pde-gcn-{v.lower()}",
                pde_gcn.from_config,
                fixed={"variant": v},
                step_arg="h",
                groups=_pde_gcn_groups,
                group_keys=("lr_K", "lr_alpha"),
                summary=f"PDE-GCN_{v} ({desc})",
            )
            for v, desc in (
                ("D", "diffusion, explicit Euler"),
                ("H", "hyperbolic, leapfrog"),
                ("M", "mixed, learned per-layer blend"),
            )
        ),
        _spec(
            "grand-l",
            grand.from_config,
            fixed={"variant": "l"},
            layers_arg=None,
            step_arg="dt0",
            time_arg="t1",
            summary="GRAND-l (attention fixed at t0, Dopri5)",
        ),
        _spec(
            "grand-nl",
            grand.from_config,
            fixed={"variant": "nl"},
            layers_arg=None,
            step_arg="dt0",
            time_arg="t1",
            summary="GRAND-nl (attention re-evaluated, Dopri5)",
        ),
        _spec(
            "graphcon",
            graphcon.from_config,
            step_arg="dt",
            summary="GraphCON-GCN (coupled oscillators, IMEX)",
        ),
        _spec(
            "graff",
            graff.from_config,
            layers_arg=None,
            step_arg="step_size",
            time_arg="time",
            summary="GRAFF (gradient flow, symmetric W, Euler)",
        ),
        *(
            _spec(
                f"nsd-{k}",
                sheaf.from_config,
                fixed={"kind": k},
                groups=_sheaf_groups,
                group_keys=("sheaf_decay",),
                summary=f"neural sheaf diffusion, {k} restriction maps",
            )
            for k in sheaf.KINDS
        ),
    )
}
# GRAND without a suffix is GRAND-l (the paper's headline model).
MODELS["grand"] = MODELS["grand-l"]

#: Optimisers accepted by ``optimizer`` in a run config.
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamax": torch.optim.Adamax,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}


def make_optimizer(
    spec: ModelSpec,
    model: nn.Module,
    *,
    optimizer: str,
    lr: float,
    weight_decay: float,
    param_groups: dict[str, Any] | None = None,
    where: str = "make_optimizer",
) -> torch.optim.Optimizer:
    """The optimiser of a run, with the family's parameter groups.

    Raises:
        ValueError: unknown optimiser, or a ``param_groups`` key the family does
            not have.
    """
    name = resolve(where, "optimizer", optimizer, OPTIMIZERS)
    extra = dict(param_groups or {})
    unknown = sorted(set(extra) - set(spec.group_keys))
    if unknown:
        accepted = ", ".join(spec.group_keys) or "none"
        raise ValueError(
            f"{where}: `param_groups` keys must be ones model {spec.name!r} has "
            f"({accepted}); got {unknown}. Remove them or pick the family they "
            "belong to."
        )
    if spec.groups is None:
        groups: Any = [
            {"params": list(model.parameters()), "lr": lr, "weight_decay": weight_decay}
        ]
    else:
        groups = spec.groups(model, lr, weight_decay, **extra)
    groups = [g for g in groups if len(list(g["params"])) > 0]
    return OPTIMIZERS[name](groups, lr=lr)
