"""The graph and the backward pass.

A TensorNode made by an op points to its ``source``, an OpNode; the OpNode points to its
``inputs``. Backward finds the OpNodes that lead to the roots, visits them latest first, and hands
each op the gradients of its outputs. Nothing points back from an OpNode to the nodes it made, so
the graph has no reference cycles and is freed by reference counting when the loss goes away.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np

from autograd import debug, higher_order, tensor
from autograd.errors import GradientError, GraphReleasedError, ShapeError
from autograd.modes import local
from autograd.readonly import lock, unlock

_numbers = itertools.count()  # creation order: an op is always numbered after its inputs' ops


class OpNode:
    """One application of an Op: the op class, its saved ``context``, its ``inputs``, the
    ``output_values`` it made and its ``constants`` (keyword arguments such as ``axis``).

    While it holds a context, the leaf values among its inputs are read-only (``lock``), so a value
    saved for backward cannot change under it.

    >>> y = x * w
    >>> y.source.op, y.source.inputs
    (<class 'autograd.ops.arithmetic.Mul'>, (x, w))
    """

    __slots__ = (
        "op", "context", "inputs", "output_values", "constants", "locked", "number", "scope",
        "created_at",
    )  # fmt: skip

    def __init__(
        self, op, context: dict, inputs: tuple, output_values: tuple, constants: dict, modes
    ) -> None:
        self.op = op
        self.context = context
        self.inputs = inputs
        self.output_values = output_values
        self.constants = constants  # kept after backward, for pictures
        self.locked = lock(inputs)
        self.number = next(_numbers)
        self.scope = modes.scope  # modes: this thread's switches, which do_forward has read
        self.created_at = debug.user_code_location() if modes.anomaly_enabled else None

    def release(self) -> None:
        """Free the saved context, and let go of the leaf values this op held read-only."""
        if self.context is not None:
            self.context = None
            if self.locked:
                unlock(self.locked)

    __del__ = release  # a graph dropped without backward unlocks its leaves too

    def __repr__(self) -> str:
        shapes = ", ".join(str(x.value.shape) if x.value.ndim else "scalar" for x in self.inputs)
        return f"OpNode({self.op.__name__}, input shapes: {shapes})"


def walk(roots) -> tuple[list[OpNode], dict[OpNode, list]]:
    """The OpNodes that lead to ``roots``, latest first (so each comes before the ops that made
    its inputs), and for each the output nodes through which the roots depend on it.

    An explicit stack, not recursion, so a chain of 100,000 ops is fine. Ops on branches that do
    not lead to a root are never seen, and cannot hold up a gradient.
    """
    reached: dict[OpNode, list] = {}
    stack = [root for root in roots if root.source is not None]
    while stack:
        node = stack.pop()
        outputs = reached.get(node.source)
        if outputs is None:
            reached[node.source] = [node]
            for x in node.source.inputs:
                if x.source is not None:
                    stack.append(x)
        elif all(output is not node for output in outputs):  # `is`: == is elementwise
            outputs.append(node)
    order = sorted(reached, key=_number, reverse=True)
    return order, reached


_number = operator.attrgetter("number")


def backward(
    root,
    grad=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    retain_grads: bool = False,
) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    Called as ``loss.backward()``. ``grad`` is d(something)/d(root), required when the root is not
    a scalar. Intermediate nodes keep their gradient only if ``retain_grad()`` was called on them
    or ``retain_grads=True``. With ``create_graph=True`` every ``.grad`` is a TensorNode that can
    be differentiated again; it refers back to the leaf, a reference cycle that Python's cycle
    collector frees (``autograd.grad`` makes none).
    """
    grads, retained = run_backward(
        [root], [grad], retain_graph, create_graph, retain_grads, "backward"
    )
    stored: set = set()  # ids of the arrays this pass put in some .grad
    for node, node_grad in retained + list(grads.items()):
        store_grad(node, node_grad, create_graph, stored)


def run_backward(roots, seeds, retain_graph, create_graph, retain_grads, caller, wanted=()) -> dict:
    """The backward pass. Returns the summed gradients of every leaf reached and of the
    ``wanted`` nodes (arrays, or TensorNodes of a new graph when ``create_graph``), and the
    gradients of the intermediate nodes that retain theirs.

    The steps: seed the roots, order the ops, check none was released, call each op's backward
    with its outputs' gradients, and add what it returns into its inputs' pending gradients.
    """
    if retain_graph is None:
        retain_graph = create_graph
    grads: dict = {}
    for root, seed in zip(roots, seeds, strict=True):
        seed = _seed(root, seed, create_graph, caller)
        grads[root] = seed if root not in grads else _sum(grads[root], seed)
    order, reached = walk(roots)
    for op_node in order:  # check before any gradient moves, so a refused pass changes nothing
        if op_node.op is higher_order.FirstOrderOnly:
            higher_order.FirstOrderOnly.backward(op_node.context, None)  # raises, naming the op
        if op_node.context is None:
            raise GraphReleasedError(
                f"backward reached {op_node.op.__name__}, whose saved values were freed by an "
                "earlier backward pass; call backward(retain_graph=True) the first time to go "
                "through the graph twice"
            )
    wanted = {id(x): x for x in wanted if x.source is not None}
    keep_all = retain_grads or bool(wanted)
    anomaly_enabled = local.modes.anomaly_enabled
    found, retained = {}, []
    for op_node in order:
        outputs = reached[op_node]
        if len(op_node.output_values) == 1:
            output_grads = (grads.pop(outputs[0], None),)
            if output_grads[0] is None:  # nothing reached this op: its gradients are zero
                continue
        else:
            output_grads = _output_grads(op_node, outputs, grads, create_graph)
            if output_grads is None:
                continue
        for output in outputs:
            if keep_all or output.retains_grad:
                output_grad = output_grads[_output_index(op_node, output)]
                if id(output) in wanted:
                    found[output] = output_grad
                elif retain_grads or output.retains_grad:
                    retained.append((output, output_grad))
        try:
            if create_graph:
                input_grads = higher_order.differentiable_backward(op_node, outputs, output_grads)
            else:
                input_grads = op_node.op.backward(op_node.context, *output_grads)
        except ValueError as error:
            _explain_read_only(op_node, error)
            raise
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(op_node.inputs):
            raise GradientError(
                f"{op_node.op.__name__}.backward returned {len(input_grads)} gradients for "
                f"{len(op_node.inputs)} inputs; return one per input (None where not needed)"
            )
        if not retain_graph:
            op_node.release()
        for node, node_grad in zip(op_node.inputs, input_grads):
            if node_grad is None or not node.requires_grad:
                continue
            value = node.value
            if (
                type(node_grad) is not np.ndarray  # a TensorNode, or a NumPy scalar
                or node_grad.shape != value.shape
                or node_grad.dtype != value.dtype
            ):
                node_grad = _conform(op_node, node, node_grad)
            if anomaly_enabled:
                debug.check_backward(op_node, node, node_grad)
            pending = grads.get(node)
            grads[node] = node_grad if pending is None else _sum(pending, node_grad)
    found.update((x, g) for x, g in grads.items() if x.source is None)
    return found, retained


def _explain_read_only(op_node: OpNode, error: ValueError) -> None:
    """A backward that wrote into a saved (read-only) array: say so, naming the op."""
    if "read-only" in str(error):
        raise GradientError(
            f"{op_node.op.__name__}.backward wrote into a read-only array: the values an op "
            "saves for backward (its inputs and outputs) are read-only while the graph lives, so "
            "that no backward can change what another one reads; compute new arrays instead of "
            "modifying them in place"
        ) from error


def _sum(pending, node_grad):
    """Gradients arriving at one node from several consumers, added (into a new array)."""
    total = pending + node_grad
    return np.asarray(total) if isinstance(total, np.generic) else total  # 0-d sums: scalars


def _seed(root, seed, create_graph: bool, caller: str):
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


def _output_grads(op_node: OpNode, outputs: list, grads: dict, create_graph: bool):
    """The gradients of an op's several outputs, in order; zeros for outputs no path reached,
    None when none was reached at all."""
    output_grads = [None] * len(op_node.output_values)
    for output in outputs:
        output_grads[_output_index(op_node, output)] = grads.pop(output, None)
    if all(g is None for g in output_grads):
        return None
    for index, value in enumerate(op_node.output_values):
        if output_grads[index] is None:
            zeros = np.zeros_like(value)
            output_grads[index] = tensor.TensorNode(zeros) if create_graph else zeros
    return tuple(output_grads)


def _output_index(op_node: OpNode, output) -> int:
    if len(op_node.output_values) == 1:
        return 0
    return next(i for i, value in enumerate(op_node.output_values) if value is output.value)


def _conform(op_node: OpNode, node, node_grad):
    """A gradient has its input's shape and dtype (NumPy gives scalars for 0-d arithmetic)."""
    value = node.value
    if isinstance(node_grad, tensor.TensorNode):
        array = node_grad.value
    else:
        array = node_grad = np.asarray(node_grad)
    if array.shape != value.shape:
        index = next(i for i, x in enumerate(op_node.inputs) if x is node)
        raise ShapeError(
            f"{op_node.op.__name__}.backward returned a gradient of shape {array.shape} for "
            f"input {index} of shape {value.shape}"
        )
    if array.dtype != value.dtype:
        return node_grad.astype(value.dtype)
    return node_grad


def store_grad(node, node_grad, create_graph: bool, stored: set) -> None:
    """Accumulate into ``node.grad``. A ``.grad`` array shares memory with nothing else, so users
    may clip or scale it in place: views, and arrays this pass already stored, are copied."""
    if create_graph or isinstance(node.grad, tensor.TensorNode):  # a graph: sums stay nodes
        node.grad = node_grad if node.grad is None else node.grad + node_grad
        return
    if node.grad is not None:
        node.grad = np.asarray(node.grad + node_grad)  # a new array: handed-out ones never change
    elif node_grad.base is None and id(node_grad) not in stored:
        node.grad = node_grad
    else:
        node.grad = node_grad.copy()
    stored.add(id(node.grad))
