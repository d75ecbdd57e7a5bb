"""The solvers package's input checks, written once.

Generic checks (numbers, ints, value descriptions) come from :mod:`graphops._checks`
(imports point downward); checks that know about terms and solvers live here.
Message format: ``<where>: <expected>; got <actual>. <fix>.``
"""

from __future__ import annotations

from graphops._checks import check_int, check_real, describe, is_real_number

__all__ = ["check_int", "check_real", "describe", "is_real_number", "type_names"]


def type_names(types: type | tuple[type, ...]) -> str:
    """``"LinearTerm"`` or ``"LinearTerm or SecondOrderTerm"`` for messages.

    Example:
        >>> type_names((int, float))
        'int or float'
    """
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(t.__name__ for t in types)
