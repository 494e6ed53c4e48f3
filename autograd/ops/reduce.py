"""Reductions over one, several or all axes (``axis=None``), with or without ``keepdims``."""

from __future__ import annotations

import numpy as np

from autograd.dtypes import weak_constant
from autograd.errors import ShapeError
from autograd.op import Op


def normalize_axes(op_name: str, axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple of axes.

    >>> normalize_axes("Sum", -1, 3)
    (2,)
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    if any(not -ndim <= a < ndim for a in axes) or ndim == 0 and axes:
        raise ShapeError(f"{op_name}: axis {axis} is out of range for an array with {ndim} axes")
    normalized = tuple(sorted(int(a) % ndim for a in axes))
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"{op_name}: axis {axis} repeats an axis")
    return normalized


def _grad_to_input(grad_output, axes, keepdims, input_shape):
    """Give the reduced gradient back its reduced axes, then broadcast it over the input."""
    if not keepdims:
        grad_output = np.expand_dims(grad_output, axes)
    return np.broadcast_to(grad_output, input_shape)


class Sum(Op):
    """y = sum of x over axes;  dL/dx = dL/dy broadcast back over the summed axes"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x, axis=None, keepdims=False):
        axes = normalize_axes("Sum", axis, x.ndim)
        context["axes"], context["keepdims"], context["input_shape"] = axes, keepdims, x.shape
        return np.asarray(x.sum(axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(context, grad_output):
        return _grad_to_input(
            grad_output, context["axes"], context["keepdims"], context["input_shape"]
        )


class Mean(Op):
    """y = mean of x over axes (n elements each);  dL/dx = dL/dy / n, broadcast back"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x, axis=None, keepdims=False):
        axes = normalize_axes("Mean", axis, x.ndim)
        count = int(np.prod([x.shape[a] for a in axes]))
        if count == 0:
            raise ShapeError(f"Mean: cannot average over empty axes {axes} of shape {x.shape}")
        context["axes"], context["keepdims"], context["input_shape"] = axes, keepdims, x.shape
        context["count"] = count
        return np.asarray(x.mean(axis=axes, keepdims=keepdims))

    @staticmethod
    def backward(context, grad_output):
        # The count as a 0-d array that keeps float16 gradients from overflowing (70,000 > the
        # largest float16): the division runs in float32 and the engine casts back, as PyTorch.
        grad = grad_output / weak_constant(context["count"], grad_output.dtype)
        return _grad_to_input(grad, context["axes"], context["keepdims"], context["input_shape"])


class Max(Op):
    """y = max of x over axes;  dL/dx = dL/dy where x equals the max, else 0
    (ties share the gradient equally, as torch.amax does)"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x, axis=None, keepdims=False):
        axes = normalize_axes("Max", axis, x.ndim)
        if any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"Max: cannot take the max over empty axes {axes} of shape {x.shape}")
        y = x.max(axis=axes, keepdims=True)
        context["is_max"], context["axes"], context["keepdims"] = x == y, axes, keepdims
        return np.asarray(y if keepdims else np.squeeze(y, axis=axes))

    @staticmethod
    def backward(context, grad_output):
        is_max, axes = context["is_max"], context["axes"]
        ties = is_max.sum(axis=axes, keepdims=True, dtype=grad_output.dtype)
        if not context["keepdims"]:
            grad_output = np.expand_dims(grad_output, axes)
        return is_max * (grad_output / ties)
