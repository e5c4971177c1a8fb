"""Constructor argument checks: a bad size is a ValueError naming the argument, raised before any layer is
built (where it would surface as a ZeroDivisionError or an opaque torch error)."""

from __future__ import annotations

import math
import numbers


def require_int(name: str, value, low: int = 1) -> int:
    """`value` as an int if it is an integer >= `low` (not a bool), else ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def require_positive(name: str, value) -> float:
    """`value` as a float if it is a finite number > 0 (not a bool), else ValueError naming `name`."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def require_divisible(name: str, value: int, heads_name: str, heads: int) -> None:
    """Attention splits `name` channels evenly over `heads_name` heads."""
    if value % heads:
        raise ValueError(f"{name}={value} is not divisible by {heads_name}={heads}")
