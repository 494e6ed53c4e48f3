"""Dtype promotion, by PyTorch's rules, so that a float32 model stays float32.

- Python numbers are weak: ``x32 * 0.5`` is float32, ``int64 + 1`` stays int64, and only a
  number of a higher kind changes the kind (``int64 * 0.5`` is float32, the default dtype).
- A 0-d node does not promote an n-d one of the same kind: ``x32 + TensorNode(np.float64(1))`` is
  float32; of a higher kind it does (``int32 array + 0-d float64`` is float64).
- Otherwise the kinds are ordered bool < integer < float, and the wider type of the highest kind
  wins. Unlike NumPy, an integer never widens a float: ``int64 + float16`` is float16.
"""

from __future__ import annotations

import numpy as np

DEFAULT_DTYPE = np.float32
_KIND_ORDER = {"b": 0, "u": 1, "i": 1, "f": 2}


def as_array(value) -> np.ndarray:
    """A NumPy array for ``value``: arrays keep their dtype, Python numbers and lists become
    float32. Strings, objects and complex numbers are refused with a TypeError.

    >>> as_array([1, 2]).dtype, as_array(np.arange(3)).dtype
    (dtype('float32'), dtype('int64'))
    """
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"TensorNode values must be numeric (bool, int or float), got {array.dtype} from "
            f"{type(value).__name__}"
        )
    if not isinstance(value, np.ndarray | np.generic):
        array = array.astype(DEFAULT_DTYPE)
    return array


def promote(a: np.dtype | None, b: np.dtype) -> np.dtype:
    """The promoted dtype of two arrays of the same category (``None`` is 'nothing yet')."""
    if a is None or a == b:
        return b
    kind_a, kind_b = _KIND_ORDER[a.kind], _KIND_ORDER[b.kind]
    if kind_a != kind_b:
        return a if kind_a > kind_b else b
    return np.promote_types(a, b)


def result_type(arrays) -> np.dtype:
    """The dtype of an elementwise op's output, by PyTorch's rules.

    >>> result_type([np.ones(3, np.float32), np.float64(2.0) * np.ones(())])
    dtype('float32')
    """
    dims = zero_dims = None
    for array in arrays:
        if array.ndim:
            dims = promote(dims, array.dtype)
        else:
            zero_dims = promote(zero_dims, array.dtype)
    if dims is None:
        return zero_dims
    if zero_dims is None or _KIND_ORDER[zero_dims.kind] <= _KIND_ORDER[dims.kind]:
        return dims
    return promote(dims, zero_dims)


def weak_constant(number, dtype: np.dtype, ndim: int = 1) -> np.ndarray:
    """A Python number beside an array of ``dtype``, as a 0-d array that does not promote it.

    Of the array's kind or a lower one, it takes the array's dtype, except that beside an n-d
    float16 array numbers stay float32 (so 1e5 does not overflow, and the op computes in float32
    as PyTorch does; the result is float16 all the same); of a higher kind it takes that kind's
    default (float32 for floats, int64 for ints).
    """
    if isinstance(number, bool):
        kind = 0
    elif isinstance(number, int):
        kind = 1
    else:
        kind = 2
    if kind <= _KIND_ORDER[dtype.kind]:
        if dtype == np.float16 and ndim:
            return np.asarray(number, dtype=np.float32)
        if kind == 1 and dtype.kind in "iu":
            info = np.iinfo(dtype)
            if not info.min <= number <= info.max:
                return np.asarray(number)  # too big for the array's dtype: NumPy's choice
        return np.asarray(number, dtype=dtype)
    return np.asarray(number, dtype=DEFAULT_DTYPE if kind == 2 else np.int64)


def conform_outputs(outputs: tuple, context: dict, dtype: np.dtype | None) -> tuple:
    """An op's outputs as arrays of the promoted ``dtype`` (None: as they are). NumPy returns
    scalars for 0-d results; a context entry that saved such a scalar is replaced by the array,
    so that it is still the output's value."""
    conformed = []
    for y in outputs:
        array = np.asarray(y)
        if dtype is not None and array.dtype != dtype and array.dtype.kind == dtype.kind:
            array = array.astype(dtype)  # the promoted dtype (Div of integers stays float)
        if array is not y:
            for key, value in context.items():
                if value is y:
                    context[key] = array
        conformed.append(array)
    return tuple(conformed)
