"""Input checks shared by the package (and by :mod:`solvers`, which imports downward).

Every message follows one format: ``<where>: <what was expected>; got <actual>.
<how to fix>.`` with argument names in backticks. ``where`` is the public entry
point the user called (``"Graph"``, ``"PIController"``, ``"solve"``), so the error
names the call the user wrote, not a private helper.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
from torch import Tensor

__all__ = ["check_int", "check_real", "describe", "is_real_number"]


def describe(value: Any) -> str:
    """A short description of ``value`` for error messages.

    Tensors and arrays show shape and dtype; tuples show their element types;
    anything else its type and (short) repr.

    Example:
        >>> import torch
        >>> describe(torch.zeros(2, 3, dtype=torch.float32))
        'a tensor of shape (2, 3) and dtype torch.float32'
        >>> describe(0.5)
        'float 0.5'
    """
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, tuple):
        kinds = ", ".join(type(v).__name__ for v in value)
        return f"a tuple of {len(value)} ({kinds})"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def is_real_number(value: Any) -> bool:
    """Whether ``value`` is a real Python/numpy number (``bool`` excluded)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_real(
    where: str,
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    fix: str = "",
) -> float:
    """Check that ``value`` is a finite real number in an interval; return it as float.

    A 0-d (one-element) real tensor is read with ``.item()``. Infinite values are
    refused unless ``allow_inf`` (e.g. ``dt_max=inf`` meaning "no bound").

    Args:
        where: The public call, e.g. ``"PIController"``.
        name: The argument's name.
        value: What the user passed.
        low: Lower end of the interval.
        high: Upper end of the interval.
        low_open: Exclude ``low``.
        high_open: Exclude ``high``.
        allow_inf: Accept ``+-inf`` when inside the interval.
        fix: A sentence that says how to fix it (appended to the message).

    Returns:
        ``float(value)``.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is NaN or outside the interval.

    Example:
        >>> check_real("CG", "rtol", 1e-8, low=0.0)
        1e-08
    """
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        value = value.item()
    suffix = f" {fix}" if fix else ""
    if not is_real_number(value):
        raise TypeError(
            f"{where}: `{name}` must be a real number; got {describe(value)}.{suffix}"
        )
    v = float(value)
    ok = not math.isnan(v)
    ok = ok and (v > low if low_open else v >= low)
    ok = ok and (v < high if high_open else v <= high)
    ok = ok and (math.isfinite(v) or allow_inf)
    if not ok:
        what = "a real number" if allow_inf else "a finite real number"
        if low > -math.inf or high < math.inf:
            lo = f"{'(' if low_open else '['}{low:g}"
            hi = f"{high:g}{')' if high_open else ']'}"
            what += f" in {lo}, {hi}"
        raise ValueError(f"{where}: `{name}` must be {what}; got {value!r}.{suffix}")
    return v


def check_int(
    where: str,
    name: str,
    value: Any,
    *,
    low: int | None = None,
    high: int | None = None,
    fix: str = "",
) -> int:
    """Check that ``value`` is an integer (``bool`` excluded) in ``[low, high]``.

    Args:
        where: The public call.
        name: The argument's name.
        value: What the user passed.
        low: Smallest allowed value (``None``: no bound).
        high: Largest allowed value (``None``: no bound).
        fix: A sentence that says how to fix it.

    Returns:
        ``int(value)``.

    Raises:
        TypeError: ``value`` is not an integer.
        ValueError: ``value`` is out of range.

    Example:
        >>> check_int("solve", "max_steps", 10, low=1)
        10
    """
    suffix = f" {fix}" if fix else ""
    if isinstance(value, bool) or not isinstance(value, (Integral, np.integer)):
        raise TypeError(
            f"{where}: `{name}` must be an int; got {describe(value)}.{suffix}"
        )
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        span = (
            f">= {low}"
            if high is None
            else f"<= {high}"
            if low is None
            else f"in [{low}, {high}]"
        )
        raise ValueError(f"{where}: `{name}` must be an int {span}; got {v}.{suffix}")
    return v
