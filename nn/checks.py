"""Argument checks shared by layers, optimisers and schedules: each names its owner and value."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_number(owner: str, name: str, value) -> None:
    """``value`` must be a finite, non-negative real number.

    >>> check_number("SGD", "momentum", -0.9)
    ValueError: SGD: momentum must be a finite number >= 0, got -0.9
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")


def check_positive_int(owner: str, name: str, value) -> None:
    """``value`` must be an integer >= 1 (not a bool).

    >>> check_positive_int("Linear", "in_features", 0)
    ValueError: Linear: in_features must be a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
