"""NumPy functions on TensorNodes: ``np.exp(x)`` is ``x.exp()``, ``array * x`` is a Mul.

This is what lets one backward formula serve arrays and TensorNodes alike (gradients of
gradients): the ufuncs and the few functions formulas use run the engine's ops; anything else
raises a TypeError, never silently building an array of objects. Comparisons give constant
boolean nodes (no gradient flows through a comparison).
"""

from __future__ import annotations

import functools

import numpy as np

from autograd import ops, tensor
from autograd.modes import local


def array_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict):
    """``TensorNode.__array_ufunc__``: a supported ufunc, called plainly, runs its op."""
    run = _UFUNCS.get(ufunc)
    if method != "__call__" or kwargs or run is None:
        call = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if kwargs:
            call += f"(..., {', '.join(kwargs)}=...)"
        raise TypeError(
            f"{call} is not supported on TensorNodes (it would build an array of objects); use "
            "the node's methods (x.exp(), x.sum(), x ** 0.5, x @ y, ...) or write an Op"
        )
    return run(*inputs)


def array_function(func, args: tuple, kwargs: dict):
    """``TensorNode.__array_function__``: the allow-list below, or a TypeError."""
    run = _FUNCTIONS.get(func)
    if run is None:
        raise TypeError(
            f"np.{func.__name__} is not supported on TensorNodes; use the node's methods "
            "or write an Op (supported: " + ", ".join(f.__name__ for f in _FUNCTIONS) + ")"
        )
    return run(*args, **kwargs)


def constant(ufunc, *inputs) -> tensor.TensorNode:
    """A ufunc with no gradient (comparisons, sign) on nodes or arrays: a constant node."""
    node = tensor.TensorNode(np.asarray(ufunc(*[tensor.plain(x) for x in inputs])))
    computed = local.modes.tracing  # replay must not fix a value computed from the step's nodes
    if computed is not None and any(isinstance(x, tensor.TensorNode) for x in inputs):
        computed.append(node)
    return node


def _binary(op):
    """``np.add(a, b)`` and friends with any operand a node: the op, with the other as constant."""

    def run(a, b):
        if isinstance(a, tensor.TensorNode):
            return op.do_forward(a, a._operand(b))
        return op.do_forward(b._operand(a), b)

    return run


def _method(name):
    return lambda x, *args, **kwargs: getattr(tensor.as_node(x), name)(*args, **kwargs)


def _expand_dims(x, axis):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    shape = list(x.shape)
    for a in sorted(a % (len(shape) + len(axes)) for a in axes):
        shape.insert(a, 1)
    return x.reshape(tuple(shape))


def _swapaxes(x, axis1, axis2):
    axes = list(range(x.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return x.transpose(tuple(axes))


def _power(x, exponent):
    if isinstance(exponent, tensor.TensorNode):
        raise TypeError("np.power(x, y) with a TensorNode exponent: write (y * x.log()).exp()")
    return tensor.as_node(x) ** (exponent.item() if isinstance(exponent, np.ndarray) else exponent)


_UFUNCS = {
    np.add: _binary(ops.Add),
    np.subtract: _binary(ops.Sub),
    np.multiply: _binary(ops.Mul),
    np.true_divide: _binary(ops.Div),
    np.matmul: _binary(ops.MatMul),
    np.power: _power,
    np.negative: _method("__neg__"),
    np.absolute: _method("__abs__"),
    np.exp: _method("exp"),
    np.log: _method("log"),
    np.tanh: _method("tanh"),
}
_UFUNCS.update(
    (ufunc, functools.partial(constant, ufunc))
    for ufunc in (
        np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal, np.sign,
        np.isfinite,
    )
)  # fmt: skip

_FUNCTIONS = {
    np.reshape: lambda x, shape: tensor.as_node(x).reshape(shape),
    np.transpose: lambda x, axes=None: tensor.as_node(x).transpose(axes or ()),
    np.swapaxes: _swapaxes,
    np.expand_dims: lambda x, axis: _expand_dims(tensor.as_node(x), axis),
    np.broadcast_to: lambda x, shape: tensor.as_node(x).expand(shape),
    np.sum: lambda x, axis=None, keepdims=False: tensor.as_node(x).sum(axis, keepdims),
    np.mean: lambda x, axis=None, keepdims=False: tensor.as_node(x).mean(axis, keepdims),
    np.max: lambda x, axis=None, keepdims=False: tensor.as_node(x).max(axis, keepdims),
    np.zeros_like: lambda x, dtype=None: tensor.TensorNode(
        np.zeros_like(tensor.plain(x), dtype=dtype)
    ),
    np.ones_like: lambda x, dtype=None: tensor.TensorNode(
        np.ones_like(tensor.plain(x), dtype=dtype)
    ),
    np.shape: lambda x: x.shape,
    np.ndim: lambda x: x.ndim,
}
