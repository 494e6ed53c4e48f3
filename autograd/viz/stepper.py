"""Watch backpropagation happen: ``step_through(loss)`` runs ``loss.backward()`` and records every
step, for a page that steps through it on the graph's picture.

The backward loop (graph.py) tells an observer of each op it visits: the gradients that arrived
at the op's outputs, and the gradient its backward returned for each input, before they are added
in. The recorder keeps them, with each input's gradient before and after the addition, so a node
used twice shows ``before + contribution = after``. Nothing is recorded, and nothing costs,
outside ``step_through``.

>>> trace = step_through(loss, names=locals())
>>> trace                          # in Jupyter: the stepper
>>> trace.save_html("backward.html")
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np

from autograd import checks
from autograd.graph import OpNode, sum_grads, walk
from autograd.modes import local
from autograd.tensor import TensorNode
from autograd.viz.picture import COPY_SHARED_ABOVE


@dataclass(frozen=True)
class Sent:
    """What one op's backward sent to one of its inputs. ``gradient`` is None where the input
    needs none (a constant); else ``before`` is the input's gradient so far (None: this is the
    first to reach it) and ``after`` the sum that the backward pass keeps."""

    index: int
    node: TensorNode
    gradient: np.ndarray | None
    before: np.ndarray | None
    after: np.ndarray | None


@dataclass(frozen=True)
class BackwardStep:
    """One op's visit by the backward pass: ``number`` is its place in the pass (1 = first, as
    the picture numbers it), ``output_grads`` the gradients that arrived at its outputs (one per
    output; zeros for an output no path reached), ``sent`` one :class:`Sent` per input."""

    number: int
    op_node: OpNode
    output_grads: tuple
    sent: tuple


class BackwardTrace:
    """The recording of one backward pass, and the page that steps through it.

    ``steps`` (one :class:`BackwardStep` per op the pass ran, in order), ``root``, ``seed`` (the
    gradient the pass started from) and ``earlier_grads`` (leaf -> the ``.grad`` it held before
    this pass, for leaves that held one). In Jupyter it displays as the stepper;
    ``save_html(path)`` writes the same as one self-contained page; ``to_html()`` gives it as
    text (a fresh element id each time, so two outputs never touch each other).

    >>> trace = step_through(loss)
    >>> len(trace.steps), trace.steps[0].op_node.op.__name__
    (7, 'Mean')
    """

    def __init__(self, root, seed, steps, earlier_grads, picture_options) -> None:
        self.root = root
        self.seed = seed
        self.steps = steps
        self.earlier_grads = earlier_grads
        self.picture_options = picture_options

    def to_html(self, full_page: bool = False) -> str:
        """The stepper as HTML: inline SVG, the steps as JSON, and its script; with
        ``full_page`` a whole document (what ``save_html`` writes)."""
        from autograd.viz import page

        return page.page_html(self, full_page)

    def _repr_html_(self) -> str:
        return self.to_html()

    def save_html(self, path) -> pathlib.Path:
        """Write the stepper as one self-contained HTML file (no network needed) and return its
        path.

        >>> step_through(loss).save_html("backward.html")
        PosixPath('backward.html')
        """
        path = pathlib.Path(path)
        path.write_text(self.to_html(full_page=True), encoding="utf-8")
        return path

    def __repr__(self) -> str:
        return (
            f"<BackwardTrace: {len(self.steps)} steps of the backward pass; display it in "
            "Jupyter, or save_html(path) and open the file in a browser>"
        )


def step_through(
    loss: TensorNode,
    grad=None,
    names=None,
    show_values: bool | None = None,
    collapse=None,
    group_scopes: bool = True,
    rankdir: str = "TB",
    copy_shared_above: int | None = COPY_SHARED_ABOVE,
    retain_graph: bool | None = None,
) -> BackwardTrace:
    """Run ``loss.backward(grad, retain_graph)`` and record every step, for a page that steps
    through the pass on the graph's picture (the same picture as ``to_dot`` with these options).

    Leaves get their ``.grad`` exactly as ``loss.backward()`` would give it. The recording keeps
    every gradient of the pass until the trace is dropped: meant for graphs that fit on a screen.

    >>> trace = step_through(loss, names=locals())
    >>> trace                                  # in Jupyter: first/prev/next/last, play, slider
    """
    if not isinstance(loss, TensorNode):
        raise TypeError(f"step_through: expected the TensorNode to differentiate, got {loss!r}")
    ops, _ = walk([loss])
    leaves = {id(x): x for op_node in ops for x in op_node.inputs if x.source is None}
    if loss.source is None:
        leaves[id(loss)] = loss
    earlier = {key: x.grad for key, x in leaves.items() if x.requires_grad and x.grad is not None}
    recorder = _Recorder({id(op_node): number for number, op_node in enumerate(ops, start=1)})
    modes = local.modes
    previous, modes.observer = modes.observer, recorder
    try:
        loss.backward(grad, retain_graph=retain_graph)
    finally:
        modes.observer = previous
    seed = checks.seed(loss, grad, False, "step_through")
    options = {
        "names": names,
        "show_values": show_values,
        "collapse": collapse,
        "group_scopes": group_scopes,
        "rankdir": rankdir,
        "copy_shared_above": copy_shared_above,
    }
    earlier_grads = [(leaves[key], grad) for key, grad in earlier.items()]
    return BackwardTrace(loss, seed, recorder.steps, earlier_grads, options)


class _Recorder:
    """The observer of one backward pass (see Modes.observer): keeps each step."""

    def __init__(self, numbers: dict) -> None:
        self.numbers = numbers  # id(op_node) -> its place in the pass
        self.steps: list[BackwardStep] = []

    def __call__(self, op_node, outputs, output_grads, input_grads, pending) -> None:
        so_far = {}  # id(node) -> gradient, after the inputs of this op sent so far
        sent = []
        for index, (node, node_grad) in enumerate(zip(op_node.inputs, input_grads)):
            if node_grad is None or not node.requires_grad:  # the pass skips these too
                sent.append(Sent(index, node, None, None, None))
                continue
            node_grad = checks.conform(op_node, node, node_grad)  # as the pass does
            before = so_far.get(id(node), pending.get(node))
            after = node_grad if before is None else sum_grads(before, node_grad)
            so_far[id(node)] = after
            sent.append(Sent(index, node, _array(node_grad), _array(before), _array(after)))
        arrived = tuple(_array(g) for g in output_grads)
        number = self.numbers[id(op_node)]
        self.steps.append(BackwardStep(number, op_node, arrived, tuple(sent)))


def _array(gradient):
    """A gradient as an array (a create_graph pass hands TensorNodes)."""
    return gradient.value if isinstance(gradient, TensorNode) else gradient
