"""Function transforms in the style of JAX: ``grad(f)`` is a function that returns f's gradient.

They are built on ``autograd.grad`` and nest to any order, because every gradient they compute is
itself a node of a graph when it has to be (``create_graph``). Each transform gives ``f`` fresh
variables, so nested transforms never confuse whose derivative is whose:

>>> grad(lambda x: x * grad(lambda y: x * y)(x))(3.0)     # d/dx (x * x) = 2x, not 4x
array(6., dtype=float32)

Called on numbers or arrays, a transform returns arrays; called on TensorNodes that require grad
(inside another transform, or on your own leaves) it returns TensorNodes, to differentiate again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autograd.dtypes import DEFAULT_DTYPE, as_array
from autograd.higher_order import grad as graph_grad
from autograd.modes import enable_grad
from autograd.ops import Scatter
from autograd.tensor import TensorNode


def grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The gradient of a scalar function with respect to argument ``argnums`` (or a tuple of them).

    >>> grad(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))      # 3 x^2
    array([ 3., 12.])
    """

    def gradient(*args):
        return value_and_grad(f, argnums)(*args)[1]

    return gradient


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Like ``grad``, but returns ``(f(*args), gradient)`` from one forward pass.

    >>> value, gradient = value_and_grad(lambda x: (x * x).sum())(np.array([1.0, 2.0]))
    """

    def run(*args):
        nested = _nested(args)
        args, variables = _variables(args, argnums)
        with enable_grad():
            value = f(*args)
        if not isinstance(value, TensorNode) or value.size != 1:
            shape = value.shape if isinstance(value, TensorNode) else type(value).__name__
            raise TypeError(
                f"grad: f must return a scalar TensorNode, got {shape}; use jacobian() for "
                "functions with several outputs, or reduce the output first (e.g. .sum())"
            )
        grads = _grads(value, variables, None, nested)
        gradient = grads[0] if isinstance(argnums, int) else tuple(grads)
        return _result(value, nested), _result(gradient, nested)

    return run


def vjp(f: Callable, *primals):
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` gives the cotangent times f's Jacobian,
    one result per primal (a tuple).

    >>> y, pullback = vjp(lambda x: x * x, np.array([1.0, 2.0]))
    >>> pullback(np.ones(2))        # (array([2., 4.]),)
    """
    nested = _nested(primals)
    args, variables = _variables(primals, tuple(range(len(primals))))
    with enable_grad():
        output = f(*args)

    def pullback(cotangent):  # may be called many times: the graph is kept
        grads = _grads(output, variables, cotangent, nested, keep=True)
        return tuple(_result(g, nested) for g in grads)

    return _result(output, nested), pullback


def jvp(f: Callable, primals: Sequence, tangents: Sequence):
    """``(f(*primals), J @ tangents)``, the directional derivative, by two reverse passes: the
    vjp u -> u^T J is linear in u, so differentiating u^T J v with respect to u gives J v.

    >>> jvp(lambda x: x ** 2, (np.array([1.0, 2.0]),), (np.array([1.0, 0.0]),))[1]
    array([2., 0.])
    """
    nested = _nested(tuple(primals) + tuple(tangents))
    args, variables = _variables(tuple(primals), tuple(range(len(primals))))
    with enable_grad():
        output = f(*args)
        u = TensorNode(np.zeros_like(output.value), requires_grad=True)
        pulled = graph_grad(output, variables, u, create_graph=True, allow_unused=True)
        total = None
        for g, tangent in zip(pulled, tangents, strict=True):
            if g is not None:
                term = (g * tangent).sum()
                total = term if total is None else total + term
    if total is None:
        return _result(output, nested), _result(TensorNode(np.zeros_like(output.value)), nested)
    (tangent_out,) = _grads(total, [u], None, nested)
    return _result(output, nested), _result(tangent_out, nested)


def hvp(f: Callable) -> Callable:
    """``hvp(f)(x, v)``: the Hessian of scalar f at x times v, without forming the Hessian.

    >>> hvp(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]), np.array([1.0, 1.0]))   # 6 x v
    array([ 6., 12.])
    """

    def product(x, v):
        return grad(lambda y: (grad(f)(y) * v).sum())(x)

    return product


def jacobian(f: Callable) -> Callable:
    """``jacobian(f)(x)``: every derivative of every output, shaped ``output.shape + x.shape``.

    >>> jacobian(lambda x: x * x)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """

    def full(x):
        nested = _nested((x,))
        args, (variable,) = _variables((x,), 0)
        with enable_grad():
            output = f(*args)
        rows = []
        for index in np.ndindex(output.shape):
            basis = np.zeros_like(output.value)
            basis[index] = 1
            (row,) = _grads(output, [variable], basis, nested, keep=True)
            rows.append(row)
        if not rows:
            return np.zeros(output.shape + variable.shape, dtype=output.dtype)
        stacked = _stack(rows)
        return _result(stacked.reshape(output.shape + variable.shape), nested)

    return full


def hessian(f: Callable) -> Callable:
    """``hessian(f)(x)``: the matrix of second derivatives of scalar f, shaped ``x.shape * 2``.

    >>> hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacobian(grad(f))


# ----- the shared steps ------------------------------------------------------------------------


def _nested(args) -> bool:
    """Called on nodes of a graph (inside another transform)? Then gradients must be graphs too."""
    return any(isinstance(x, TensorNode) and x.requires_grad for x in args)


def _variables(args: tuple, argnums):
    """Fresh variables for the differentiated arguments. A node of an outer graph is passed
    through an identity op, so it stays connected to that graph, yet is a variable of its own."""
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    args = list(args)
    variables = []
    for position in positions:
        if not -len(args) <= position < len(args):
            raise ValueError(f"argnums {argnums} out of range for {len(args)} arguments")
        x = args[position]
        if isinstance(x, TensorNode) and x.requires_grad:
            with enable_grad():
                variable = x.reshape(x.shape)
        else:
            value = x.value if isinstance(x, TensorNode) else as_array(x)  # numbers: float32
            if value.dtype.kind != "f":
                value = value.astype(DEFAULT_DTYPE)
            variable = TensorNode(value, requires_grad=True)
        args[position] = variable
        variables.append(variable)
    return tuple(args), variables


def _grads(output, variables, cotangent, nested: bool, keep: bool = False) -> list:
    """d(output)/d(variables), zeros for a variable the output does not use."""
    if not output.requires_grad:  # the output does not depend on them (JAX: zeros)
        return [TensorNode(np.zeros_like(x.value)) for x in variables]
    grads = graph_grad(
        output, variables, cotangent, retain_graph=keep or nested, create_graph=nested,
        allow_unused=True,
    )  # fmt: skip
    return [
        TensorNode(np.zeros_like(x.value)) if g is None else g
        for g, x in zip(grads, variables, strict=True)
    ]


def _stack(rows: list) -> TensorNode:
    """Rows of one shape stacked along a new first axis, keeping their graphs: each is scattered
    to its place in a zero array and the results added."""
    shape = (len(rows),) + rows[0].shape
    parts = [Scatter.do_forward(row, index=i, shape=shape) for i, row in enumerate(rows)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def _result(value, nested: bool):
    """A TensorNode inside a graph; its array at the top level."""
    if isinstance(value, tuple):
        return tuple(_result(v, nested) for v in value)
    if nested or not isinstance(value, TensorNode):
        return value
    return value.value
