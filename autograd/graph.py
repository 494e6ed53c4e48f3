"""The graph and the backward pass.

A TensorNode made by an op points to its ``source``, an OpNode; the OpNode points to its
``inputs``. Backward walks that graph from the loss in reverse topological order and hands each
op the gradients of its outputs. The OpNode holds its outputs only weakly, so the graph has no
reference cycles and is freed by plain reference counting as soon as the loss goes away.
"""

from __future__ import annotations

import contextlib
import os
import sys
import weakref
from collections.abc import Iterator

import numpy as np

from autograd.errors import AnomalyError, GradientError, GraphReleasedError, ShapeError

grad_enabled = True
anomaly_enabled = False
current_scope: tuple = ()  # what is building the graph now, outermost first (see scope())

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class OpNode:
    """One application of an Op: the op class, its saved ``context``, its ``constants``
    (keyword arguments such as ``axis``), its inputs and its outputs.

    >>> y = x * w
    >>> y.source.op, y.source.inputs
    (<class 'autograd.ops.arithmetic.Mul'>, (x, w))
    """

    __slots__ = (
        "op", "context", "constants", "inputs", "_outputs", "_output_specs", "created_at", "scope",
    )  # fmt: skip

    def __init__(
        self, op: type, context: dict | None, inputs: tuple, outputs: tuple, constants: dict
    ) -> None:
        self.op = op
        self.context = context
        self.constants = constants  # do_forward's keyword arguments; kept after backward
        self.inputs = inputs
        if len(outputs) == 1:
            # One weakref, not a tuple of one: every object here is one more for Python's cycle
            # collector to walk again and again while a big graph is being built.
            self._outputs = weakref.ref(outputs[0])
            self._output_specs = None
        else:
            self._outputs = tuple(map(weakref.ref, outputs))
            # Shapes and dtypes, for the zero gradients of outputs that were dropped.
            self._output_specs = tuple((x.value.shape, x.value.dtype) for x in outputs)
        self.created_at = user_code_location() if anomaly_enabled else None
        self.scope = current_scope

    @property
    def outputs(self) -> tuple:
        """The output TensorNodes still alive (an output nobody holds is ``None``)."""
        if self._output_specs is None:
            return (self._outputs(),)
        return tuple(ref() for ref in self._outputs)

    def __repr__(self) -> str:
        shapes = ", ".join(str(x.value.shape) if x.value.ndim else "scalar" for x in self.inputs)
        return f"OpNode({self.op.__name__}, input shapes: {shapes})"


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Build no graph inside the block: for evaluation and parameter updates.

    >>> with no_grad():
    ...     y = w * 2      # y.source is None, y.requires_grad is False
    """
    global grad_enabled
    previous, grad_enabled = grad_enabled, False
    try:
        yield
    finally:
        grad_enabled = previous


class scope:  # noqa: N801  (used like a function: ``with scope(owner):``)
    """Label the ops created inside the block with ``owner`` (a name, or a module).

    nn.Module wraps its forward in this, so a picture of the graph can box each layer's ops.
    (A class rather than a generator: it runs on every module call, and this is cheaper.)

    >>> with scope("encoder"):
    ...     h = (x @ w).relu()        # h.source.scope == ("encoder",)
    """

    __slots__ = ("owner", "previous")

    def __init__(self, owner) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        global current_scope
        self.previous = current_scope
        current_scope = current_scope + (self.owner,)

    def __exit__(self, *exc_info) -> None:
        global current_scope
        current_scope = self.previous


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return grad_enabled


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Stop at the first op that makes a NaN or an infinity, in forward or in backward.

    >>> with detect_anomaly():
    ...     (x.log() * 0).sum().backward()   # AnomalyError: Log produced -inf, created at ...
    """
    global anomaly_enabled
    previous, anomaly_enabled = anomaly_enabled, True
    try:
        yield
    finally:
        anomaly_enabled = previous


def user_code_location() -> str:
    """``file:line`` of the innermost stack frame outside this package: the user's call."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _non_finite(array: np.ndarray) -> bool:
    return array.dtype.kind in "fc" and not np.isfinite(array).all()


def check_forward_anomaly(op: type, inputs, outputs) -> None:
    for index, output in enumerate(outputs):
        if _non_finite(output.value):
            culprit = [i for i, x in enumerate(inputs) if _non_finite(x.value)]
            note = f" (its input {culprit[0]} was already non-finite)" if culprit else ""
            raise AnomalyError(
                f"{op.__name__} forward produced NaN or inf in output {index}{note}; "
                f"the op was created at {user_code_location()}"
            )


def _check_backward_anomaly(op_node: OpNode, node, grad: np.ndarray) -> None:
    if _non_finite(grad):
        index = next(i for i, x in enumerate(op_node.inputs) if x is node)
        where = op_node.created_at or "an unknown line (forward ran outside detect_anomaly)"
        raise AnomalyError(
            f"{op_node.op.__name__} backward produced NaN or inf in the gradient of input "
            f"{index} (shape {op_node.inputs[index].value.shape}); the op was created at {where}"
        )


def topological_order(root: OpNode) -> list[OpNode]:
    """OpNodes that lead to ``root``, each after every op that consumes its outputs.

    Iterative depth-first search, so a chain of 100,000 ops needs no recursion. It visits
    exactly the ops reachable backwards from the root: branches that do not lead to the loss
    are never seen, and cannot hold up a gradient.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        op_node, inputs_done = stack.pop()
        if inputs_done:
            order.append(op_node)
            continue
        if op_node in visited:
            continue
        visited.add(op_node)
        stack.append((op_node, True))
        for node in op_node.inputs:
            if node.source is not None and node.source not in visited:
                stack.append((node.source, False))
    order.reverse()
    return order


def backward(root, grad=None, retain_graph: bool = False, retain_grads: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    Called as ``loss.backward()``. ``grad`` is d(something)/d(root), required when the root is not
    a scalar. Intermediate nodes keep their gradient only if ``retain_grad()`` was called on them
    or ``retain_grads=True``. Gradient arrays are never modified in place after being handed out.
    """
    if not root.requires_grad:
        raise GradientError(
            "backward: this node does not require grad (no input of the ops that made it had "
            "requires_grad=True, or it was made inside no_grad())"
        )
    root_value = root.value
    if grad is None:
        if root_value.size != 1:
            raise GradientError(
                f"backward: the root has shape {root_value.shape}; gradients can be created "
                "implicitly only for a scalar, so reduce it first (e.g. .sum()) or pass "
                "backward(grad=...) with an array of that shape"
            )
        grad = np.ones_like(root_value)
    else:
        grad = np.array(getattr(grad, "value", grad), dtype=root_value.dtype)
        if grad.shape != root_value.shape:
            raise ShapeError(
                f"backward: grad has shape {grad.shape} but the root has shape {root_value.shape}"
            )

    if root.source is None:  # a leaf: its gradient is the seed itself
        _keep_grad(root, grad, set())
        return

    order = topological_order(root.source)
    for op_node in order:  # check before any gradient moves, so a refused pass changes nothing
        if op_node.context is None:
            raise GraphReleasedError(
                f"backward reached {op_node.op.__name__}, whose saved values were freed by an "
                "earlier backward pass; call backward(retain_graph=True) the first time to go "
                "through the graph twice"
            )
    grads = {root: grad}  # pending gradients of intermediate nodes, dropped once used
    stored = set()  # ids of the arrays this pass put in some .grad (see _owned)
    for op_node in order:
        if op_node._output_specs is None:  # one output, held by one weakref
            output = op_node._outputs()  # None if nobody holds it: then it got no gradient
            grad_output = grads.pop(output, None)
            if grad_output is None:  # nothing reached this op: its gradients are zero
                continue
            if retain_grads or output.retains_grad:
                _keep_grad(output, grad_output, stored)
            input_grads = op_node.op.backward(op_node.context, grad_output)
        else:
            output_grads = _take_output_grads(op_node, grads, retain_grads, stored)
            if output_grads is None:
                continue
            input_grads = op_node.op.backward(op_node.context, *output_grads)
        if not retain_graph:
            op_node.context = None
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(op_node.inputs):
            raise GradientError(
                f"{op_node.op.__name__}.backward returned {len(input_grads)} gradients for "
                f"{len(op_node.inputs)} inputs; return one per input (None where not needed)"
            )

        for node, node_grad in zip(op_node.inputs, input_grads):
            if node_grad is None or not node.requires_grad:
                continue
            if (
                type(node_grad) is not np.ndarray  # NumPy gives scalars for 0-d arithmetic
                or node_grad.shape != node.value.shape
                or node_grad.dtype != node.value.dtype
            ):
                node_grad = _conform(op_node, node, node_grad)
            if anomaly_enabled:
                _check_backward_anomaly(op_node, node, node_grad)
            if node.source is not None:
                pending = grads.get(node)
                grads[node] = node_grad if pending is None else pending + node_grad
            else:
                _keep_grad(node, node_grad, stored)


def _keep_grad(node, grad: np.ndarray, stored: set) -> None:
    """Accumulate ``grad`` into ``node.grad``: a leaf's, or a retained intermediate's."""
    if node.grad is not None:
        # A new array (one handed out earlier never changes); asarray: 0-d sums give scalars.
        node.grad = np.asarray(node.grad + grad)
    elif _owned(grad, stored):
        node.grad = grad
    else:
        node.grad = grad.copy()
    stored.add(id(node.grad))


def _owned(grad: np.ndarray, stored: set) -> bool:
    """May this array become a node's ``.grad`` without a copy? Users edit gradients in place
    (clipping, scaling), so a ``.grad`` must share memory with nothing else. An array that owns
    its data (not a view) and that no other ``.grad`` holds qualifies: that is every fresh
    result, such as a weight's x.T @ g. Add, which hands one array to both its inputs, does not.
    """
    return grad.base is None and id(grad) not in stored


def _take_output_grads(op_node: OpNode, grads: dict, retain_grads: bool, stored: set):
    """The gradients of a multi-output op's outputs, zeros for outputs no path reached;
    None when no output was reached at all."""
    outputs = [ref() for ref in op_node._outputs]
    output_grads = [grads.pop(output, None) for output in outputs]
    if all(g is None for g in output_grads):
        return None
    for output, grad in zip(outputs, output_grads):
        if grad is not None and (retain_grads or output.retains_grad):
            _keep_grad(output, grad, stored)
    return [
        np.zeros(shape, dtype) if grad is None else grad
        for grad, (shape, dtype) in zip(output_grads, op_node._output_specs, strict=True)
    ]


def _conform(op_node: OpNode, node, grad) -> np.ndarray:
    """A gradient is an array of its input's shape, in its input's dtype."""
    grad = np.asarray(grad)
    if grad.shape != node.value.shape:
        index = next(i for i, x in enumerate(op_node.inputs) if x is node)
        raise ShapeError(
            f"{op_node.op.__name__}.backward returned a gradient of shape {grad.shape} for "
            f"input {index} of shape {node.value.shape}"
        )
    return grad.astype(node.value.dtype, copy=False)
