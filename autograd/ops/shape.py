"""Ops that move values around without arithmetic: broadcast, reshape, transpose, index."""

from __future__ import annotations

import numpy as np

from autograd.dtypes import result_type
from autograd.errors import ShapeError
from autograd.op import Op


def broadcast(op, nodes: tuple) -> tuple[tuple, np.dtype | None]:
    """Align an op's inputs: elementwise ops get one shape, by Expand nodes inserted as NumPy
    broadcasting would; and when the dtypes differ, the dtype of the output (dtypes.py).

    This is the one place broadcasting happens, so it is visible in the graph, and its backward
    (``unbroadcast``, a sum over the broadcast axes) is written once, in Expand.
    """
    first = nodes[0].value
    dtype = None
    for x in nodes:
        if x.value.dtype != first.dtype:
            dtype = result_type([x.value for x in nodes])
            break
    if op.broadcasts:
        for x in nodes:
            if x.value.shape != first.shape:
                target = broadcast_shape(op.__name__, [x.value.shape for x in nodes])
                nodes = tuple(
                    [y if y.shape == target else Expand.do_forward(y, shape=target) for y in nodes]
                )
                break
    return nodes, dtype


def broadcast_shape(op_name: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """NumPy's rule: align shapes from the right; each axis must agree or be 1.

    >>> broadcast_shape("Add", [(128, 256), (256,)])
    (128, 256)
    """
    ndim = max(len(shape) for shape in shapes)
    target = [1] * ndim
    for shape in shapes:
        for axis, size in enumerate(shape, ndim - len(shape)):  # aligned from the right
            if size != 1 and size != target[axis]:
                if target[axis] != 1:
                    listed = " and ".join(map(str, shapes))
                    raise ShapeError(
                        f"{op_name}: shapes {listed} do not broadcast: aligned from the right, "
                        "each pair of axes must be equal or one of them 1"
                    )
                target[axis] = size
    return tuple(target)


def unbroadcast(grad, shape: tuple[int, ...]):
    """Sum ``grad`` over the axes that broadcasting added or stretched, back down to ``shape``.

    The backward of broadcasting (Expand and MatMul's batch axes use it); arrays or TensorNodes.

    >>> unbroadcast(np.ones((4, 2, 3)), (2, 1)).tolist()
    [[12.0], [12.0]]
    """
    if grad.shape == shape:
        return grad
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

    differentiable_backward = True

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

    differentiable_backward = True

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

    differentiable_backward = True

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

    differentiable_backward = True

    @staticmethod
    def forward(context, x, index):
        try:
            y = x[index]
        except IndexError as error:
            raise IndexError(f"Select: index invalid for shape {x.shape}: {error}") from None
        context["index"], context["input_shape"] = index, x.shape
        return y

    @staticmethod
    def backward(context, grad_output):
        index, shape = context["index"], context["input_shape"]
        if isinstance(grad_output, np.ndarray):
            return Scatter.forward({}, grad_output, index=index, shape=shape)
        return Scatter.do_forward(grad_output, index=index, shape=shape)


class Scatter(Op):
    """y = zeros(shape) with x added at index (repeated indices accumulate);  dL/dx = dL/dy[index]

    Select's backward, as an op of its own so that it can be differentiated again.
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, x, index, shape):
        context["index"] = index
        y = np.zeros(shape, dtype=x.dtype)
        if _is_basic_index(index):
            y[index] = x
        else:
            np.add.at(y, index, x)
        return y

    @staticmethod
    def backward(context, grad_output):
        return grad_output[context["index"]]


class Cast(Op):
    """y = x as another dtype;  dL/dx = dL/dy as x's dtype"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x, dtype):
        context["input_dtype"] = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(context, grad_output):
        return grad_output.astype(context["input_dtype"])
