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

from autograd import checks, debug, tensor
from autograd.modes import local
from autograd.readonly import lock, unlock

_numbers = itertools.count()  # creation order: an op is always numbered after its inputs' ops
_setflags = np.ndarray.setflags


class OpNode:
    """One application of an Op: the op class, its saved ``context``, its ``inputs``, the
    ``output_values`` it made and its ``constants`` (keyword arguments such as ``axis``).

    Recording it makes its outputs read-only, and the leaf values among its inputs too while it
    holds its context (readonly.py): a value saved for backward cannot change under it.

    >>> y = x * w
    >>> y.source.op, y.source.inputs
    (<class 'autograd.ops.arithmetic.Mul'>, (x, w))
    """

    __slots__ = (
        "op", "context", "inputs", "output_values", "constants", "locked", "number", "scope",
        "created_at",
    )  # fmt: skip

    def __init__(self, op, context, inputs, output_values, constants, modes, outputs=()) -> None:
        self.op = op
        self.context = context
        self.inputs = inputs
        self.output_values = output_values
        self.constants = constants  # kept after backward, for pictures
        self.locked = lock(inputs)
        self.number = next(_numbers)
        self.scope = modes.scope  # modes: this thread's switches, which do_forward has read
        self.created_at = debug.user_code_location() if modes.anomaly_enabled else None
        for node in outputs:
            node.source = self
            _setflags(node.value, False)

    def release(self) -> None:
        """Free the saved context, and let go of the leaf values this op held read-only."""
        if self.context is not None:
            self.context = None
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
    return sorted(reached, key=_number, reverse=True), reached


_number = operator.attrgetter("number")


def backward(root, grad=None, retain_graph=None, create_graph=False, retain_grads=False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    Called as ``loss.backward()``. ``grad`` is d(something)/d(root), required when the root is not
    a scalar. Intermediate nodes keep their gradient only if ``retain_grad()`` was called on them
    or ``retain_grads=True``. With ``create_graph=True`` every ``.grad`` is a TensorNode that can
    be differentiated again; it refers back to the leaf, a reference cycle that Python's cycle
    collector frees (``autograd.grad`` makes none).
    """
    grads = run_backward([root], [grad], retain_graph, create_graph, retain_grads)
    stored: set = set()  # ids of the arrays this pass put in some .grad
    for node, node_grad in grads.items():
        store_grad(node, node_grad, create_graph, stored)


def run_backward(roots, seeds, retain_graph, create_graph, retain_grads, wanted=(), caller=None):
    """The backward pass. Returns the gradients of the leaves reached, and of the nodes that
    keep theirs (``retain_grad()``, ``retain_grads``, or ``wanted``): arrays, or TensorNodes of a
    new graph under ``create_graph``.

    The steps: seed the roots, order the ops, then for each op check it was not released, call
    its backward with its outputs' gradients, and add what it returns into its inputs' pending
    gradients. A pass that fails changes nothing: ops are released only once it is through.
    """
    grads: dict = {}
    for root, seed in zip(roots, seeds, strict=True):
        seed = checks.seed(root, seed, create_graph, caller or "backward")
        grads[root] = sum_grads(grads[root], seed) if root in grads else seed
    order, outputs_of = walk(roots)
    wanted, kept = set(wanted), {}
    modes = local.modes
    anomaly_enabled, observer = modes.anomaly_enabled, modes.observer  # observer: see modes.py
    call_backward = checks.call_backward if observer is None else checks.observed(observer, grads)
    for op_node in order:
        if op_node.context is None:  # freed by an earlier pass
            raise checks.released(op_node)
        outputs = outputs_of[op_node]
        for output in outputs:
            if (output.retains_grad or retain_grads or output in wanted) and output in grads:
                kept[output] = grads[output]
        if len(op_node.output_values) == 1:  # one output: take_output_grads, without a call
            output_grads = grads.pop(outputs[0], None)
            output_grads = None if output_grads is None else (output_grads,)
        else:
            output_grads = take_output_grads(op_node, outputs, grads, create_graph)
        if output_grads is None:  # no gradient reached this op
            continue
        input_grads = call_backward(op_node, outputs, output_grads, create_graph)
        for node, node_grad in zip(op_node.inputs, input_grads):
            if node_grad is None or not node.requires_grad:
                continue
            value = node.value
            if (
                type(node_grad) is not np.ndarray  # a TensorNode, or a NumPy scalar
                or node_grad.shape != value.shape
                or node_grad.dtype is not value.dtype  # NumPy's dtypes are shared objects
            ):
                node_grad = checks.conform(op_node, node, node_grad)
            if anomaly_enabled:
                debug.check_backward(op_node, node, node_grad)
            pending = grads.get(node)
            grads[node] = node_grad if pending is None else sum_grads(pending, node_grad)
    if not (create_graph if retain_graph is None else retain_graph):
        for op_node in order:
            op_node.release()
    kept.update((x, g) for x, g in grads.items() if x.source is None)
    return kept


def take_output_grads(op_node: OpNode, outputs: list, grads: dict, create_graph: bool):
    """The gradients of an op's outputs, in order, taken out of ``grads`` so that they are freed
    as the pass moves on; zeros for outputs no path reached; None when none was reached."""
    arrived = {id(x.value): grads.pop(x, None) for x in outputs}
    if all(g is None for g in arrived.values()):
        return None
    output_grads = []
    for value in op_node.output_values:
        output_grad = arrived.get(id(value))
        if output_grad is None:
            output_grad = np.zeros_like(value)
            output_grad = tensor.TensorNode(output_grad) if create_graph else output_grad
        output_grads.append(output_grad)
    return tuple(output_grads)


def sum_grads(pending, node_grad):
    """Gradients arriving at one node from several consumers, added (into a new array)."""
    total = pending + node_grad
    return np.asarray(total) if isinstance(total, np.generic) else total  # 0-d sums: scalars


def store_grad(node, node_grad, create_graph: bool, stored: set) -> None:
    """Accumulate into ``node.grad``. A ``.grad`` array shares memory with nothing else, so users
    may clip or scale it in place: views, and arrays this pass already stored, are copied."""
    if create_graph or not isinstance(node.grad, np.ndarray | None):  # a graph: sums stay nodes
        node.grad = node_grad if node.grad is None else node.grad + node_grad
    elif node.grad is not None:
        node.grad = np.asarray(node.grad + node_grad)  # a new array: handed-out ones never change
    elif node_grad.base is None and id(node_grad) not in stored:
        node.grad = node_grad
    else:
        node.grad = node_grad.copy()
    stored.add(id(node.grad))
