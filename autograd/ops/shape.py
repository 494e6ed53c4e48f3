"""Ops that move values around without arithmetic: broadcast, reshape, transpose, index."""

from __future__ import annotations

import numpy as np

from autograd.errors import ShapeError
from autograd.op import Op


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, back down to ``shape``.

    The one place where the backward of broadcasting lives (Expand and MatMul use it).

    >>> unbroadcast(np.ones((4, 2, 3)), (2, 1)).tolist()
    [[12.0], [12.0]]
    """
    if grad.shape == shape:
        return grad
    if grad.shape[1:] == shape:  # a bias: one new leading axis, the common case
        return grad.sum(axis=0)
    leading = grad.ndim - len(shape)
    stretched = tuple(
        leading + i for i, n in enumerate(shape) if n == 1 and grad.shape[leading + i] != 1
    )
    if not stretched:  # only new leading axes, as for a bias: one sum, no reshape needed
        return grad.sum(axis=tuple(range(leading)))
    summed = grad.sum(axis=tuple(range(leading)) + stretched, keepdims=True)
    return summed.reshape(shape)


class Expand(Op):
    """y = broadcast_to(x, shape), a view;  dL/dx = dL/dy summed over the broadcast axes"""

    @staticmethod
    def forward(context, x, shape):
        shape = tuple(shape)
        try:
            y = np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(
                f"Expand: cannot broadcast shape {x.shape} to {shape}: aligned from the right, "
                "each axis of the input must equal the target's or be 1"
            ) from None
        context["input_shape"] = x.shape
        return y

    @staticmethod
    def backward(context, grad_output):
        return unbroadcast(grad_output, context["input_shape"])


class Reshape(Op):
    """y = x.reshape(shape);  dL/dx = dL/dy.reshape(x.shape)"""

    @staticmethod
    def forward(context, x, shape):
        shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
        try:
            y = x.reshape(shape)
        except ValueError:
            raise ShapeError(
                f"Reshape: cannot reshape {x.shape} ({x.size} elements) to {shape}; "
                "the new shape must hold the same number of elements (one axis may be -1)"
            ) from None
        context["input_shape"] = x.shape
        return y

    @staticmethod
    def backward(context, grad_output):
        return grad_output.reshape(context["input_shape"])


class Transpose(Op):
    """y = x.transpose(axes) (reversed when axes is None);  dL/dx = dL/dy.transpose(inverse)"""

    @staticmethod
    def forward(context, x, axes=None):
        if axes is not None:
            axes = tuple(axes)
            in_range = all(-x.ndim <= a < x.ndim for a in axes)
            if not in_range or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
                raise ShapeError(
                    f"Transpose: axes {axes} are not a permutation of the {x.ndim} axes of "
                    f"shape {x.shape}"
                )
            # Negative axes count from the end; the backward's inverse needs them non-negative.
            axes = tuple(int(a) % x.ndim for a in axes)
        context["axes"] = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(context, grad_output):
        axes = context["axes"]
        inverse = None if axes is None else tuple(np.argsort(axes))
        return np.transpose(grad_output, inverse)


def _is_basic_index(index) -> bool:
    """Ints, slices, None and Ellipsis select each element at most once (no repeats)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        isinstance(part, int | slice | np.integer) or part is None or part is Ellipsis
        for part in parts
    )


class Select(Op):
    """y = x[index] (ints, slices, integer or boolean arrays);
    dL/dx = zeros of x's shape with dL/dy added at index (repeated indices accumulate)"""

    @staticmethod
    def forward(context, x, index):
        if isinstance(index, tuple):
            index = tuple(getattr(part, "value", part) for part in index)
        else:
            index = getattr(index, "value", index)  # a TensorNode of indices is allowed
        try:
            y = x[index]
        except IndexError as error:
            raise IndexError(f"Select: index invalid for shape {x.shape}: {error}") from None
        context["index"], context["input_shape"], context["dtype"] = index, x.shape, x.dtype
        return y

    @staticmethod
    def backward(context, grad_output):
        index = context["index"]
        grad = np.zeros(context["input_shape"], dtype=context["dtype"])
        if _is_basic_index(index):
            grad[index] = grad_output
        else:
            np.add.at(grad, index, grad_output)
        return grad
