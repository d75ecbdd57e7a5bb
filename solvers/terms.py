r"""Terms: *what* the equation is, separate from *how* it is integrated.

A term is an :class:`torch.nn.Module` (so learned parameters train and torchdiffeq's
adjoint sees them) with ``forward(t, y, args) -> dy/dt``. ``args`` carries static
data such as the :class:`graphops.Graph`. States are a tensor ``[N, F]`` or a tuple
of tensors (``(x, v)`` for second-order terms). Sign conventions: :mod:`graphops`
(``L`` is PSD, heat flow is ``y' = -L y``, the wave equation ``x'' = -L x``).

**Devices: what moves with** ``term.to(...)``. Parameters, buffers and submodules,
as for any module; a constant ``source`` tensor of :class:`LinearTerm` (a
buffer); and every :class:`~graphops.operators.GraphOperator` or
:class:`~graphops.graph.Graph` held as an attribute of the term (``Term._apply``
moves them with :meth:`~graphops.operators.GraphOperator.map_tensors`, with their
cached sparse structures), so ``model.to("cuda")`` leaves nothing behind. The graph
passed in ``args`` at call time is data and is moved by the caller, like ``x``; an
operator built inside a callable (``LinearTerm(lambda t, y, args: ...)``) lives on
the device of the graph it is built from. See :mod:`graphops` for the full picture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from graphops.graph import Graph
from graphops.operators import GraphOperator
from graphops.spmm import map_nested

__all__ = ["FixedAffine", "LinearTerm", "ODETerm", "SecondOrderTerm", "Term"]


def _holds_graph_objects(value: Any) -> bool:
    """An operator or graph, or a tuple/list of them (e.g. one operator per layer).

    nn.Module's own dicts (``_parameters``, ``_buffers``, ``_modules``) are never
    matched, so registered tensors are moved by :class:`torch.nn.Module` only.
    """
    if isinstance(value, (GraphOperator, Graph)):
        return True
    return (
        isinstance(value, (tuple, list))
        and len(value) > 0
        and all(isinstance(v, (GraphOperator, Graph)) for v in value)
    )


@dataclass(frozen=True, eq=False)
class FixedAffine:
    r"""Capability: the right-hand side is ``f(y) = -A y + s``, fixed over a solve.

    A term hands this value out (:meth:`Term.affine_form`) when its operator
    ``A`` and source ``s`` do not change with ``t`` or ``y`` during the solve.
    A solver asks for it once per solve, in its ``init``, and then writes its
    stage updates as fused operator calls (:meth:`stage`: one ``addmm`` instead
    of a product, a negation and an add) without evaluating the term.

    .. math:: \text{stage}(u, x, \alpha) = u + \alpha f(x) = u - \alpha A x
        + \alpha s

    Attributes:
        operator: ``A`` (a :class:`~graphops.operators.GraphOperator`).
        source: ``s`` (a tensor shaped like the state) or ``None``.
        requires_grad: Whether ``A``'s values (or a matrix-free operator, assumed
            to) or ``s`` take part in autograd; solvers reuse stage buffers only
            when nothing does.
    """

    operator: GraphOperator
    source: Tensor | None = None

    @property
    def requires_grad(self) -> bool:  # noqa: D102
        values = self.operator.values
        return (
            values is None
            or values.requires_grad
            or (self.source is not None and self.source.requires_grad)
        )

    def stage(
        self, u: Tensor, x: Tensor, alpha: float, *, out: Tensor | None = None
    ) -> Tensor:
        """``u + alpha * f(x)`` in one fused operator call.

        Args:
            u: The base, shaped like the state.
            x: Where ``f`` is evaluated.
            alpha: Step times tableau coefficient (a Python number).
            out: Optional buffer for the result (may be ``u``, never ``x``);
                used only when nothing needs a gradient.

        Returns:
            A tensor shaped like the state.
        """
        if self.source is not None:
            u = torch.add(u, self.source, alpha=alpha)
        return self.operator.addmm(u, x, alpha=-alpha, out=out)


class Term(nn.Module):
    """Base class: ``forward(t, y, args)`` returns ``dy/dt`` shaped like ``y``.

    Graph operators and graphs stored as attributes of a term (alone, or in a
    tuple or list of them) are part of it:
    ``term.to(device, dtype)`` (and everything else that goes through
    :meth:`torch.nn.Module._apply`: ``.double()``, ``.cuda()``, ``model.to``) moves
    them along with the parameters and buffers.
    """

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Term:
        """Apply ``fn`` to parameters and buffers, then to held operators and graphs.

        Args:
            fn: The tensor map :meth:`torch.nn.Module.to` and friends pass.
            recurse: Also apply to submodules (as in :class:`torch.nn.Module`).

        Returns:
            ``self``.
        """
        super()._apply(fn, recurse)
        # One memo for the whole term: an operator and the graph it is built on
        # (or two operators on one graph) stay shared after the move.
        memo: dict[int, Any] = {}
        for name, value in list(vars(self).items()):
            if _holds_graph_objects(value):
                self.__dict__[name] = map_nested(value, fn, memo)
        return self

    def jump_times(self, t0: float, t1: float) -> list[float]:
        """Times in ``(t0, t1)`` where the right-hand side is discontinuous.

        :func:`solvers.solve` lands a step on each (an adaptive solver never steps
        over one). The default is none; a term with per-layer (piecewise-constant
        in time) parameters lists its layer boundaries.
        """
        return []

    def affine_form(self, t0: float, y0: Any, args: Any) -> FixedAffine | None:
        """The right-hand side as a :class:`FixedAffine`, if it is one for the solve.

        Solvers call this once per solve (never per step) to find out whether
        they may fuse their stages; ``None`` (the default) means "evaluate the
        term". A term returns a value only when ``forward`` would compute exactly
        ``-A y + s`` with the same ``A`` and ``s`` at every ``t`` and ``y`` of the
        solve, and when nothing observes its evaluations (hooks).
        """
        return None

    def forward(self, t: float | Tensor, y: Any, args: Any = None) -> Any:  # noqa: D102
        raise TypeError(
            f"{type(self).__name__}: a Term must define forward(t, y, args); use "
            "ODETerm(fn) "
            "to wrap a function."
        )


class ODETerm(Term):
    """Any right-hand side ``y' = fn(t, y, args)``.

    Args:
        fn: Callable ``fn(t, y, args) -> dy/dt``. If it is an ``nn.Module`` it is
            registered as a submodule, so its parameters are found by optimisers.

    Example:
        >>> term = ODETerm(lambda t, y, args: -y)
    """

    def __init__(self, fn: Callable[[Any, Any, Any], Any]) -> None:
        """Build the term; the arguments are documented on the class."""
        super().__init__()
        if not callable(fn):
            raise TypeError(
                "ODETerm: `fn` must be callable fn(t, y, args); got "
                f"{type(fn).__name__}. "
                "Pass a function or an nn.Module."
            )
        self.fn = fn

    def forward(self, t, y, args=None):  # noqa: D102
        return self.fn(t, y, args)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            ""
            if isinstance(self.fn, nn.Module)
            else f"fn={getattr(self.fn, '__name__', repr(self.fn))}"
        )


class LinearTerm(Term):
    r"""A linear right-hand side ``y' = -A(t) y + s(t)`` with ``A`` a graph operator.

    Implicit solvers (``ImplicitEuler``, ``CrankNicolson``) and the stability
    analysis use the structure: ``A`` should be positive semi-definite (a
    Laplacian), so ``-A`` is dissipative. Subclasses with learned diffusivity
    override :meth:`operator` (and :meth:`source`); coefficients are evaluated at
    the start of each step by linearly implicit methods (exact for linear terms).

    .. math:: \frac{dy}{dt} = -A(t, y)\, y + s(t)

    Args:
        operator: A :class:`~graphops.operators.GraphOperator`, or a callable
            ``(t, y, args) -> GraphOperator``; ``None`` only in subclasses that
            override :meth:`operator`.
        source: ``None``, a tensor ``[N, F]`` (constant source) or a callable
            ``(t, y, args) -> Tensor``.

    Example:
        >>> from graphops import Graph, Laplacian
        >>> graph = Graph(torch.tensor([[0, 1], [1, 0]]))
        >>> term = LinearTerm(Laplacian(graph, "sym"))   # heat flow y' = -L y
        >>> y = torch.tensor([[1.0], [0.0]], dtype=graph.dtype)
        >>> term(0.0, y, graph).flatten().tolist()
        [-1.0, 1.0]
    """

    def __init__(
        self,
        operator: GraphOperator | Callable | None = None,
        source: Tensor | Callable | None = None,
    ) -> None:
        """Build the term; the arguments are documented on the class."""
        super().__init__()
        if operator is not None and not (
            isinstance(operator, GraphOperator) or callable(operator)
        ):
            raise TypeError(
                "LinearTerm: `operator` must be a GraphOperator or a callable (t, y, "
                "args) -> "
                f"GraphOperator; got {type(operator).__name__}. Build e.g. "
                "Laplacian(graph)."
            )
        if source is not None and not (isinstance(source, Tensor) or callable(source)):
            raise TypeError(
                "LinearTerm: `source` must be None, a tensor or a callable; got "
                f"{type(source).__name__}."
            )
        self._operator = operator
        if isinstance(source, Tensor):
            # a buffer, so term.to(...) moves it; not persistent: it is part of
            # the equation given at construction, not a trained state
            self.register_buffer("_source", source, persistent=False)
        else:
            self._source = source

    def operator(self, t, y, args=None) -> GraphOperator:
        """The operator ``A`` at time ``t`` (``y`` for state-dependent models)."""
        if self._operator is None:
            raise TypeError(
                f"{type(self).__name__}: no `operator` was given; pass "
                "LinearTerm(operator=...) "
                "or override operator(t, y, args) in a subclass."
            )
        if isinstance(self._operator, GraphOperator):
            return self._operator
        return self._operator(t, y, args)

    def source(self, t, y, args=None) -> Tensor | None:
        """The source ``s(t)`` or ``None``."""
        if self._source is None or isinstance(self._source, Tensor):
            return self._source
        return self._source(t, y, args)

    def affine_form(self, t0: float, y0: Any, args: Any) -> FixedAffine | None:
        """``FixedAffine(A, s)`` when ``A`` is a fixed operator and ``s`` constant.

        That is: ``operator`` was given as a
        :class:`~graphops.operators.GraphOperator` (not a callable), ``source`` as
        ``None`` or a tensor, the subclass overrides none of ``forward``,
        ``operator`` and ``source``, the state is a tensor, and no forward hook
        (other than :func:`solvers.solve`'s own first-call check) or pre-hook is
        registered on the term. The operator and source are checked against
        ``y0`` here, since the fused stages never call :meth:`forward`.

        Raises:
            TypeError: ``source`` is not a tensor (see :class:`LinearTerm`).
            ValueError: ``A`` does not map the state's space onto itself, or
                ``s`` does not match the state's shape and dtype.
        """
        cls = type(self)
        if (
            not isinstance(self._operator, GraphOperator)
            or not (self._source is None or isinstance(self._source, Tensor))
            or not isinstance(y0, Tensor)
            or cls.forward is not LinearTerm.forward
            or cls.operator is not LinearTerm.operator
            or cls.source is not LinearTerm.source
            or self._forward_pre_hooks
            or any(
                not getattr(h, "_solve_first_call", False)
                for h in self._forward_hooks.values()
            )
        ):
            return None
        _check_linear_parts(self, self._operator, self._source, y0)
        return FixedAffine(self._operator, self._source)

    # solve() sets this on the instance for its first evaluation: the operator and
    # source are then checked against y once per solve, never in the steps.
    _validate_parts = False

    def forward(self, t, y, args=None):  # noqa: D102
        op = self.operator(t, y, args)
        if self._validate_parts:
            self._validate_parts = False
            _check_linear_parts(self, op, self.source(t, y, args), y)
        ay = op @ y
        s = self.source(t, y, args)
        # One pass over the fresh product instead of a negation plus an add.
        return ay.neg_() if s is None else torch.sub(s, ay)

    def extra_repr(self) -> str:  # noqa: D102
        op = self._operator
        return f"operator={op!r}" if isinstance(op, GraphOperator) else ""


def _check_linear_parts(term: LinearTerm, op: Any, s: Any, y: Any) -> None:
    """``A`` must be square on the state's space and ``s`` shaped like ``y``.

    Raises:
        TypeError: ``op`` is not a ``GraphOperator``, or ``s`` not a tensor.
        ValueError: ``op`` is not square on ``y``'s space, or ``s``'s shape/dtype.
    """
    name = type(term).__name__
    if not isinstance(op, GraphOperator):
        raise TypeError(
            f"{name}: `operator` must be (or return) a GraphOperator; got "
            f"{type(op).__name__}. Return e.g. Laplacian(graph) from the callable."
        )
    if not isinstance(y, Tensor) or y.dim() < 1:
        return
    if op.domain != op.codomain or op.shape[1] != y.shape[0]:
        raise ValueError(
            f"{name}: y' = -A y needs `operator` A mapping the state's space onto "
            f"itself ({y.shape[0]} rows); got {type(op).__name__} from "
            f"{op.domain} to {op.codomain} signals, shape {tuple(op.shape)}. Use a "
            "square operator such as Laplacian(graph) (Gradient maps node to edge "
            "signals; its adjoint composition is the Laplacian)."
        )
    if s is None:
        return
    if not isinstance(s, Tensor):
        raise TypeError(
            f"{name}: `source` must be (or return) a tensor shaped like y "
            f"{tuple(y.shape)}; got {type(s).__name__}."
        )
    if s.shape != y.shape or s.dtype != y.dtype:
        raise ValueError(
            f"{name}: `source` must have the state's shape and dtype "
            f"{tuple(y.shape)}, {y.dtype}; got {tuple(s.shape)}, {s.dtype}. Build it "
            "like y (a constant per-feature source: s.expand_as(y))."
        )


class SecondOrderTerm(Term):
    r"""A second-order equation ``x'' = a(t, x, x')`` on the state ``(x, v)``.

    ``forward(t, (x, v), args)`` returns ``(v, a(t, x, v))``, so every first-order
    solver also integrates it; ``Leapfrog`` (Stormer-Verlet) uses
    :meth:`acceleration` directly and needs ``a`` independent of ``v``.

    .. math:: \ddot x = a(t, x, \dot x)

    Args:
        accel: Callable ``accel(t, x, v, args) -> Tensor``; or ``None`` with
            ``operator`` for the linear wave equation ``x'' = -A x``.
        operator: Optional operator ``A`` (GraphOperator or callable
            ``(t, x, args) -> GraphOperator``) of a linear wave term; used by the
            stability analysis (leapfrog limit ``dt * sqrt(lam_max) < 2``).
        velocity_dependent: Whether ``accel`` reads ``v`` (damping); Leapfrog
            refuses such terms.

    Example:
        >>> from graphops import Graph, Laplacian
        >>> graph = Graph(torch.tensor([[0, 1], [1, 0]]))
        >>> wave = SecondOrderTerm(operator=Laplacian(graph))   # x'' = -L x
        >>> x = torch.tensor([[1.0], [0.0]], dtype=graph.dtype)
        >>> wave.acceleration(0.0, x, torch.zeros_like(x)).flatten().tolist()
        [-1.0, 1.0]
    """

    def __init__(
        self,
        accel: Callable | None = None,
        *,
        operator: GraphOperator | Callable | None = None,
        velocity_dependent: bool = False,
    ) -> None:
        """Build the term; the arguments are documented on the class."""
        super().__init__()
        if accel is None and operator is None:
            raise ValueError(
                "SecondOrderTerm: pass `accel` (a callable accel(t, x, v, args)) or "
                "`operator` "
                "(for x'' = -A x); got neither."
            )
        if accel is not None and not callable(accel):
            raise TypeError(
                "SecondOrderTerm: `accel` must be callable; got "
                f"{type(accel).__name__}."
            )
        self.accel = accel
        self._operator = operator
        self.velocity_dependent = bool(velocity_dependent)

    def operator(self, t, x, args=None) -> GraphOperator | None:
        """The operator ``A`` of a linear wave term, else ``None``."""
        if self._operator is None or isinstance(self._operator, GraphOperator):
            return self._operator
        return self._operator(t, x, args)

    def acceleration(self, t, x: Tensor, v: Tensor, args=None) -> Tensor:
        """``a(t, x, v)``."""
        if self.accel is not None:
            return self.accel(t, x, v, args)
        return -(self.operator(t, x, args) @ x)

    def forward(self, t, y, args=None):  # noqa: D102
        if not isinstance(y, tuple) or len(y) != 2:
            raise TypeError(
                "SecondOrderTerm: the state must be a tuple (x, v); got "
                f"{type(y).__name__}. Pass y0=(x0, v0)."
            )
        x, v = y
        return (v, self.acceleration(t, x, v, args))
