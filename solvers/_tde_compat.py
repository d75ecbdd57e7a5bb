"""The one place that reads torchdiffeq's private internals (``torchdiffeq._impl``).

The :class:`~solvers.torchdiffeq.TorchDiffEq` adapter needs torchdiffeq's method
table (to list, validate and classify the methods), its fixed-grid base class, the
Adams-Bashforth coefficients (for the stability analysis) and the step callbacks
(``callback_step``/``callback_accept_step``/``callback_reject_step``, added in
0.2.4) that count steps and enforce ``max_steps``. These are not public API, so the
dependency is bounded to the versions checked (:data:`SUPPORTED`, also in
``setup.cfg``) and a missing name raises one clear ``ImportError``.
"""

from __future__ import annotations

import difflib
import importlib
from types import SimpleNamespace
from typing import Any

__all__ = ["FIXED", "METHODS", "SUPPORTED", "TDE", "check_method", "load_internals"]

#: The torchdiffeq versions whose internals the adapter was checked against.
SUPPORTED = ">=0.2.4,<0.3"


def load_internals() -> SimpleNamespace:
    """Import what the adapter uses from torchdiffeq, or fail with one clear error.

    Returns:
        A namespace with ``odeint``, ``odeint_adjoint``, ``SOLVERS`` (method name ->
        solver class), ``FixedGridODESolver`` and ``BASHFORTH_DIVISOR``.

    Raises:
        ImportError: torchdiffeq is missing, or a name the adapter uses is not where
            the supported versions keep it.
    """
    try:
        tde = importlib.import_module("torchdiffeq")
        odeint_mod = importlib.import_module("torchdiffeq._impl.odeint")
        solvers_mod = importlib.import_module("torchdiffeq._impl.solvers")
        adams_mod = importlib.import_module("torchdiffeq._impl.fixed_adams")
        misc_mod = importlib.import_module("torchdiffeq._impl.misc")
        found = SimpleNamespace(
            odeint=tde.odeint,
            odeint_adjoint=tde.odeint_adjoint,
            SOLVERS=odeint_mod.SOLVERS,
            FixedGridODESolver=solvers_mod.FixedGridODESolver,
            BASHFORTH_DIVISOR=adams_mod._BASHFORTH_DIVISOR,
            callbacks=set(misc_mod._all_callback_names),
        )
        needed = {"callback_step", "callback_accept_step", "callback_reject_step"}
        if not needed <= found.callbacks:
            raise AttributeError(f"step callbacks {sorted(needed - found.callbacks)}")
    except (ImportError, AttributeError) as exc:
        version = _installed_version()
        raise ImportError(
            f"solvers.torchdiffeq: needs torchdiffeq{SUPPORTED} (the adapter uses "
            f"torchdiffeq's internal `_impl` modules); got {version}, where "
            f"{exc} is missing. Install a supported version with "
            f"pip install 'torchdiffeq{SUPPORTED}'."
        ) from exc
    return found


def _installed_version() -> str:
    try:
        from importlib.metadata import version

        return f"torchdiffeq {version('torchdiffeq')}"
    except Exception:  # noqa: BLE001 - any failure means we cannot tell
        return "no installed torchdiffeq"


#: What the adapter uses from torchdiffeq (see :func:`load_internals`).
TDE = load_internals()

# torchdiffeq's "scipy_solver" calls scipy through numpy: no autograd, no callbacks.
# Use scipy.integrate.solve_ivp directly for that.
_EXCLUDED = {"scipy_solver"}
#: The torchdiffeq method names the adapter accepts.
METHODS: tuple[str, ...] = tuple(m for m in TDE.SOLVERS if m not in _EXCLUDED)
#: The fixed-grid ones among them (they need a step size).
FIXED = frozenset(
    m for m in METHODS if issubclass(TDE.SOLVERS[m], TDE.FixedGridODESolver)
)


def check_method(where: str, name: str, method: Any) -> str:
    """Check a torchdiffeq method name (with a suggestion for a near miss).

    Raises:
        ValueError: ``method`` is not a known method name.
    """
    if not isinstance(method, str) or method not in METHODS:
        close = difflib.get_close_matches(
            str(method).lower(), METHODS, n=1, cutoff=0.5
        )
        hint = f"Did you mean {close[0]!r}? " if close else ""
        extra = (
            " ('scipy_solver' is not supported: call scipy.integrate.solve_ivp)"
            if method == "scipy_solver"
            else ""
        )
        raise ValueError(
            f"{where}: unknown `{name}` {method!r}{extra}. {hint}Known torchdiffeq "
            f"methods: {', '.join(METHODS)}."
        )
    return method
