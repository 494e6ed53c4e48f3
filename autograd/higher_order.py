"""Gradients of gradients: a ``create_graph`` pass runs each op's own backward on TensorNodes.

An op that declares ``differentiable_backward = True`` promises that its unchanged backward also
works when handed TensorNodes (operators, methods and the NumPy functions in interop.py). The pass
then calls it with the output gradients as nodes, and with a context in which the saved inputs
and outputs are their nodes, so the formula records the graph of the gradient itself. An op that
does not declare it is still right in first order; differentiating through it again raises.
"""

from __future__ import annotations

import numpy as np

from autograd.errors import GradientError
from autograd.modes import enable_grad, no_grad
from autograd.op import Op

_WITHHELD = object()


class NodeContext(dict):
    """The context a ``create_graph`` pass hands to ``backward``: every saved float array that is
    one of the op's input or output values is replaced by that TensorNode, so the formula builds a
    graph; other float arrays (intermediates such as BatchNorm's ``xhat``) are withheld, since a
    constant there would silently drop a term of the second derivative."""

    def __init__(self, op_node, outputs: list) -> None:
        nodes = {id(x.value): x for x in op_node.inputs}
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


def differentiable_backward(op_node, outputs: list, output_grads: tuple):
    """Call the op's backward on TensorNodes, recording the graph of the gradient itself."""
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
