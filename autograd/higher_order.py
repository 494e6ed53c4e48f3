"""Gradients of gradients: a ``create_graph`` pass runs each op's own backward on TensorNodes.

An op that declares ``differentiable_backward = True`` promises that its unchanged backward also
works when handed TensorNodes (operators, methods and the NumPy functions in interop.py). The pass
then calls it with the output gradients as nodes, and with a context in which the saved inputs
and outputs are their nodes, so the formula records the graph of the gradient itself. An op that
does not declare it is still right in first order; differentiating through it again raises.

``grad`` is the entry point: the backward pass of graph.py, returning gradients instead of
storing them in ``.grad``.
"""

from __future__ import annotations

import numpy as np

from autograd import graph, tensor
from autograd.errors import GradientError
from autograd.modes import enable_grad, no_grad, scope
from autograd.op import Op


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as TensorNodes; ``.grad`` is
    left alone. With ``create_graph=True`` they are nodes of a graph, to differentiate again.

    >>> (dy_dx,) = grad(x ** 3, x, create_graph=True)     # 3 x^2
    >>> (d2y_dx2,) = grad(dy_dx, x)                       # 6 x
    """
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"grad: {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give one per "
            "output (None for a scalar output)"
        )
    for index, x in enumerate(inputs):
        if not isinstance(x, tensor.TensorNode) or not x.requires_grad:
            raise GradientError(
                f"grad: input {index} does not require grad, so no gradient flows to it; create "
                "it with requires_grad=True"
            )
    grads = graph.run_backward(
        outputs, grad_outputs, retain_graph, create_graph, False, wanted=inputs, caller="grad"
    )
    result = []
    for index, x in enumerate(inputs):
        node_grad = grads.get(x)
        if node_grad is None and not allow_unused:
            raise GradientError(
                f"grad: input {index} (shape {x.shape}) is not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if node_grad is not None and not create_graph:
            node_grad = tensor.TensorNode(node_grad)
        result.append(node_grad)
    return tuple(result)


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


# ----- a create_graph pass ---------------------------------------------------------------------

_WITHHELD = object()
#: The context key under which ``input_values`` keeps the arrays an op's forward received, when
#: two of its inputs held one array (not a string: no backward reads it).
INPUT_VALUES = object()


def input_values(nodes: tuple, context: dict) -> list:
    """The arrays an op's forward receives: each input's value, except that a second node
    holding the same array (``x.value * x``, ``A @ TensorNode(A)``) gets a view of it. Saved
    arrays are matched to input nodes by identity in a create_graph pass (``NodeContext``); with
    one array for two nodes, the pass could not tell the constant from the leaf. Recorded ops
    (those with a context) keep the arrays under ``INPUT_VALUES``.

    >>> values = input_values((TensorNode(a), TensorNode(a)), context)   # [a, a.view()]
    """
    values = [x.value for x in nodes]
    if len(nodes) < 2 or not context:
        return values
    seen: dict[int, object] = {}
    for index, (value, x) in enumerate(zip(values, nodes)):
        holder = seen.setdefault(id(value), x)
        if holder is not x:  # another node holds this array: give this one its own view
            values[index] = value.view()
            context[INPUT_VALUES] = values
    return values


class NodeContext(dict):
    """The context a ``create_graph`` pass hands to ``backward``: every saved float array that is
    one of the op's input or output values is replaced by that TensorNode, so the formula builds a
    graph; other float arrays (intermediates such as BatchNorm's ``xhat``) are withheld, since a
    constant there would silently drop a term of the second derivative."""

    def __init__(self, op_node, outputs: list) -> None:
        values = op_node.context.get(INPUT_VALUES) or [x.value for x in op_node.inputs]
        nodes = {id(value): x for value, x in zip(values, op_node.inputs)}
        nodes.update((id(x.value), x) for x in outputs)
        constants = op_node.op.saved_constants
        super().__init__(
            (key, _saved_as_node(value, nodes, key in constants))
            for key, value in op_node.context.items()
        )
        self.op_name = op_node.op.__name__

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if value is _WITHHELD:
            raise GradientError(
                f"{self.op_name}.backward read context[{key!r}], a value its forward computed "
                "that is neither an input nor an output; under create_graph=True it would be a "
                f"constant and the second derivative silently wrong. Recompute it from the "
                "inputs in backward, or list the key in saved_constants if it does not depend on "
                "them"
            )
        return value


def _saved_as_node(value, nodes: dict, constant: bool):
    if type(value) is not np.ndarray or value.dtype.kind != "f" or constant:
        return value
    return nodes.get(id(value), _WITHHELD)


class BackwardOf:
    """The scope of the ops that a create_graph pass records for one op's backward, so that
    pictures can draw the graph of a gradient apart from the forward graph."""

    __slots__ = ("op_name", "op_number")

    def __init__(self, op_node) -> None:  # not the OpNode itself: it would keep it alive
        self.op_name, self.op_number = op_node.op.__name__, op_node.number

    def __repr__(self) -> str:
        return f"backward of {self.op_name}"


def differentiable_backward(op_node, outputs: list, output_grads: tuple):
    """Call the op's backward on TensorNodes, recording the graph of the gradient itself."""
    with scope(BackwardOf(op_node)):
        return _call_backward_on_nodes(op_node, outputs, output_grads)


def _call_backward_on_nodes(op_node, outputs: list, output_grads: tuple):
    op = op_node.op
    if op.differentiable_backward:
        with enable_grad():
            return op.backward(NodeContext(op_node, outputs), *output_grads)
    # An op whose backward runs on arrays only: its first derivative is right, and a node that
    # refuses to be differentiated again stands for it in the new graph.
    with no_grad():
        input_grads = op.backward(op_node.context, *[g.value for g in output_grads])
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    return tuple(
        None
        if g is None
        else FirstOrderOnly.do_forward(*output_grads, *op_node.inputs, value=g, op_name=op.__name__)
        for g in input_grads
    )


class FirstOrderOnly(Op):
    """Stands, in a create_graph pass, for the gradient computed by an op whose backward runs on
    arrays only. Its value is right; differentiating through it raises, naming that op."""

    @staticmethod
    def forward(context, *inputs, value, op_name):
        context["op_name"] = op_name
        return value

    @staticmethod
    def backward(context, grad_output):
        raise GradientError(
            f"{context['op_name']}.backward ran on arrays in a create_graph pass, so its "
            "gradient cannot be differentiated again; declare differentiable_backward = True on "
            "the op once its backward also works on TensorNodes (autograd.testing.gradgradcheck "
            "checks it)"
        )
