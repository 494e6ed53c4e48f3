"""What the backward pass checks at each step, so that a mistake raises instead of giving a
silently wrong gradient: the seed, a released op, and what an op's backward returns; and the
call of an op's backward that tells an observer of it (autograd.viz.step_through).

graph.py calls these; none of it is the algorithm itself.
"""

from __future__ import annotations

import numpy as np

from autograd import higher_order, tensor
from autograd.errors import GradientError, GraphReleasedError, ShapeError


def seed(root, seed, create_graph: bool, caller: str):
    """The gradient the pass starts from: ones for a scalar root, else the caller's."""
    if not isinstance(root, tensor.TensorNode) or not root.requires_grad:
        raise GradientError(
            f"{caller}: the output does not require grad (no input of the ops that made it had "
            "requires_grad=True, or it was made inside no_grad())"
        )
    if seed is None:
        if root.value.size != 1:
            raise GradientError(
                f"{caller}: the output has shape {root.value.shape}; gradients can be created "
                "implicitly only for a scalar, so reduce it first (e.g. .sum()) or pass a "
                "gradient of that shape"
            )
        seed = np.ones_like(root.value)
    elif isinstance(seed, tensor.TensorNode):
        if not create_graph:
            seed = seed.value
    else:
        seed = np.array(seed, dtype=root.value.dtype)
    if seed.shape != root.value.shape:
        raise ShapeError(
            f"{caller}: the gradient has shape {seed.shape} but the output has shape "
            f"{root.value.shape}"
        )
    if create_graph and not isinstance(seed, tensor.TensorNode):
        seed = tensor.TensorNode(seed)
    return seed


def released(op_node) -> GraphReleasedError:
    """The error for an op whose saved values an earlier pass freed."""
    return GraphReleasedError(
        f"backward reached {op_node.op.__name__}, whose saved values were freed by an earlier "
        "backward pass; call backward(retain_graph=True) the first time to go through the graph "
        "twice"
    )


def call_backward(op_node, outputs: list, output_grads: tuple, create_graph: bool) -> tuple:
    """The op's backward, called with its outputs' gradients: one gradient per input, or an
    error naming the op (a wrong count, or a write into a saved, read-only array)."""
    try:
        if create_graph:
            input_grads = higher_order.differentiable_backward(op_node, outputs, output_grads)
        else:
            input_grads = op_node.op.backward(op_node.context, *output_grads)
    except ValueError as error:
        if "read-only" in str(error):
            raise GradientError(
                f"{op_node.op.__name__}.backward wrote into a read-only array: the values an op "
                "saves for backward (its inputs and outputs) are read-only while the graph lives, "
                "so that no backward can change what another one reads; compute new arrays "
                "instead of modifying them in place"
            ) from error
        raise
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if len(input_grads) != len(op_node.inputs):
        raise GradientError(
            f"{op_node.op.__name__}.backward returned {len(input_grads)} gradients for "
            f"{len(op_node.inputs)} inputs; return one per input (None where not needed)"
        )
    return input_grads


def observed(observer, pending: dict):
    """call_backward, then telling ``observer`` of the step before the pass adds the gradients
    it returned into ``pending`` (see Modes.observer). A pass without an observer never uses it,
    so observing costs nothing when unused."""

    def call_backward_observed(op_node, outputs, output_grads, create_graph):
        input_grads = call_backward(op_node, outputs, output_grads, create_graph)
        observer(op_node, outputs, output_grads, input_grads, pending)
        return input_grads

    return call_backward_observed


def conform(op_node, node, node_grad):
    """A gradient has its input's shape and dtype (NumPy gives scalars for 0-d arithmetic)."""
    value = node.value
    if isinstance(node_grad, tensor.TensorNode):
        array = node_grad.value
    else:
        array = node_grad = np.asarray(node_grad)
    if array.shape != value.shape:
        index = next(i for i, x in enumerate(op_node.inputs) if x is node)
        name = op_node.op.__name__
        # A leaf's .value can be rebound after the forward: then it is not the array the op
        # locked (readonly.py) when it saw it.
        if node.source is None and all(locked is not value for locked in op_node.locked):
            raise ShapeError(
                f"input {index} of {name} is a leaf that now has shape {value.shape}, but the "
                f"graph saw it with shape {array.shape}: its .value was replaced by an array of "
                "another shape after the forward that used it. A graph gives gradients for the "
                "values it saw: change a leaf's value only after backward, then run the forward "
                f"again (if its value was not replaced, {name}.backward is wrong)"
            )
        resized = " (or the leaf's array was resized in place since)" if node.source is None else ""
        raise ShapeError(
            f"{name}.backward returned a gradient of shape {array.shape} for "
            f"input {index} of shape {value.shape}{resized}"
        )
    if array.dtype != value.dtype:
        return node_grad.astype(value.dtype)
    return node_grad
