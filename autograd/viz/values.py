"""How the step-through page shows an array: small ones in full, large ones as a summary and a
small heatmap. Each becomes a plain dict (a "card") that the page's script draws.

>>> card(np.array([0.5, -2.0], np.float32))["text"]
'[0.5, -2]'
"""

from __future__ import annotations

import numpy as np

#: Arrays with at most this many elements are shown in full.
FULL_SIZE = 16
#: A heatmap has at most this many rows and columns of cells (each the mean of a block).
HEAT_SIZE = 16
#: Cell levels from -9 to 9, one character each: "0" is -9, "9" is 0, "I" is +9; "!" marks a
#: cell holding a NaN or an infinity.
LEVELS = "0123456789ABCDEFGHI"


def card(array) -> dict:
    """What the page shows of ``array``: ``shape`` and ``dtype``, then ``text`` (every element,
    4 significant digits) and ``values`` (exact, for checking) when it is small; else ``norm``,
    ``min``, ``max`` over the finite elements, ``nan`` and ``inf`` counts and a ``heat`` map.

    >>> card(np.ones((100, 100)))["norm"]
    '100'
    """
    array = np.asarray(array)
    shape = "scalar" if array.ndim == 0 else str(tuple(array.shape))
    shown = {"shape": shape, "dtype": str(array.dtype)}
    if array.size <= FULL_SIZE:
        shown["text"] = format_array(array)
        shown["values"] = _exact(array)
        return shown
    values = array.astype(np.float64)
    finite_mask = np.isfinite(values)
    finite = values[finite_mask]
    shown["nan"] = int(np.isnan(values).sum())
    shown["inf"] = int(np.isinf(values).sum())
    if finite.size:
        shown["norm"] = _number(np.linalg.norm(finite))
        shown["min"] = _number(finite.min())
        shown["max"] = _number(finite.max())
    shown["heat"] = heatmap(np.where(finite_mask, values, 0.0), finite_mask)
    return shown


def format_array(array: np.ndarray) -> str:
    """Every element with 4 significant digits, rows on their own lines (as NumPy prints).

    >>> format_array(np.array([[1 / 3, -2.0]]))
    '[[0.3333, -2]]'
    """
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return np.array2string(array, separator=", ")
    return np.array2string(
        array, separator=", ", formatter={"float_kind": _number}, max_line_width=60
    )


def heatmap(values: np.ndarray, finite_mask: np.ndarray) -> dict:
    """At most HEAT_SIZE x HEAT_SIZE block means of ``values`` seen as a matrix (rows: the first
    axis), each as one character of LEVELS on a scale of -max|mean| .. +max|mean|.

    >>> heatmap(np.array([[-1.0, 0.0, 1.0]]), np.ones((1, 3), bool))["cells"]
    '09I'
    """
    if values.ndim == 0:
        values, finite_mask = values.reshape(1, 1), finite_mask.reshape(1, 1)
    elif values.ndim == 1:
        values, finite_mask = values.reshape(1, -1), finite_mask.reshape(1, -1)
    else:
        values = values.reshape(values.shape[0], -1)
        finite_mask = finite_mask.reshape(values.shape)
    rows, columns = (np.linspace(0, n, min(n, HEAT_SIZE) + 1).astype(int) for n in values.shape)
    sums = np.add.reduceat(np.add.reduceat(values, rows[:-1], axis=0), columns[:-1], axis=1)
    counts = np.outer(np.diff(rows), np.diff(columns))
    means = sums / counts
    broken = np.add.reduceat(
        np.add.reduceat((~finite_mask).astype(np.int64), rows[:-1], axis=0), columns[:-1], axis=1
    )
    scale = float(np.abs(means).max())
    levels = np.zeros(means.shape, int) if scale == 0 else np.rint(means / scale * 9).astype(int)
    cells = np.array(list(LEVELS))[levels + 9]
    cells[broken > 0] = "!"
    return {
        "rows": int(means.shape[0]),
        "columns": int(means.shape[1]),
        "scale": _number(scale),
        "cells": "".join(cells.ravel()),
    }


def _number(value) -> str:
    return f"{float(value) + 0.0:.4g}"  # + 0.0 turns -0 into 0


def _exact(array: np.ndarray):
    """The elements as JSON numbers (a float32 becomes the float64 of the same value); NaN and
    infinities, which JSON lacks, as the strings "nan", "inf", "-inf"."""
    values = array.tolist()
    if array.dtype.kind != "f" or np.isfinite(array).all():
        return values
    return np.vectorize(lambda v: v if np.isfinite(v) else str(v), otypes=[object])(
        array.astype(np.float64)
    ).tolist()
