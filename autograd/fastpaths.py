"""Measured fast paths. Each is a named function with one line saying what it saves, and stays
only while its instruction count shows it pays for its lines (benchmarks/EDITIONS.md records the
counts); ``Op.do_forward`` calls them, and reads as its steps.

Most take one or two inputs by fixed arity: Python 3.11 builds and unpacks a tuple for every
``*args`` call, and a function object for every comprehension.
"""

from __future__ import annotations

import autograd

_new = object.__new__


def wrap(inputs: tuple) -> tuple:
    """The inputs as TensorNodes (numbers and arrays become constant leaves); the same tuple
    when they are nodes already, without a call per input."""
    for x in inputs:
        if not isinstance(x, autograd.tensor.TensorNode):
            return tuple(map(autograd.tensor.as_node, inputs))
    return inputs


def aligned(op, nodes: tuple) -> bool:
    """Two inputs of one dtype (and one shape, for an elementwise op) need no Expand node and no
    promotion, the common case: saves ops/shape.py's general ``broadcast``."""
    if len(nodes) != 2:
        return False
    a, b = nodes[0].value, nodes[1].value
    return a.dtype is b.dtype and (not op.broadcasts or a.shape == b.shape)


def needs_input_grad(nodes: tuple) -> tuple:
    """Which inputs need a gradient (the flags an op's backward reads from its context). For one
    or two inputs, a shared tuple: none is built, and the context dict holding it is not tracked
    by the cycle collector (a dict of arrays and untracked tuples is not)."""
    if len(nodes) == 2:
        return _FLAG_PAIRS[nodes[0].requires_grad][nodes[1].requires_grad]
    if len(nodes) == 1:
        return _FLAGS[nodes[0].requires_grad]
    return tuple([x.requires_grad for x in nodes])


_FLAGS = ((False,), (True,))
_FLAG_PAIRS = (((False, False), (False, True)), ((True, False), (True, True)))


def forward(op, context: dict, nodes: tuple, constants: dict):
    """``op.forward(context, *values, **constants)``, with no ``*`` or ``**`` for one or two
    inputs and no constants (unless two inputs hold one array)."""
    if not constants:
        if len(nodes) == 2:
            a, b = nodes[0].value, nodes[1].value
            if a is not b or nodes[0] is nodes[1]:
                return op.forward(context, a, b)
        elif len(nodes) == 1:
            return op.forward(context, nodes[0].value)
    return op.forward(context, *autograd.higher_order.input_values(nodes, context), **constants)


def output_nodes(outputs: tuple, requires_grad: bool) -> tuple:
    """TensorNodes for an op's outputs, built without ``__init__`` (Python 3.11 calls a class
    with ``__init__`` through a slow path). Each sets every slot ``__init__`` sets (a test
    checks)."""
    nodes = []
    for value in outputs:
        node = _new(autograd.tensor.TensorNode)
        node.value = value
        node.grad = node.source = node.name = None
        node.requires_grad = requires_grad
        node.retains_grad = False
        nodes.append(node)
    return tuple(nodes)
