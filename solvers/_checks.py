"""The solvers package's input checks, written once.

Generic checks (numbers, ints, value descriptions) come from :mod:`graphops._checks`
(imports point downward); checks that know about terms, solvers and states live
here. Message format: ``<where>: <expected>; got <actual>. <fix>.``
"""

from __future__ import annotations

from graphops._checks import check_int, check_real, describe, is_real_number

__all__ = ["check_int", "check_real", "describe", "is_real_number"]
