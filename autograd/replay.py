"""Trace and replay: record one training step's ops once, then rerun only their arithmetic.

Eager mode builds a graph on every step (a TensorNode and an OpNode per op, a walk to order them)
although an MLP's step runs the same ops on arrays of the same shapes every time. ``trace(fn)``
runs the first step eagerly and writes down its program: the ops in creation order, where each
input comes from (an argument of the step, a leaf read fresh through ``leaf.value``, a fixed
number, an earlier op's output), each op's keyword constants, and which inputs need a gradient.
The second step runs eagerly too and must record the same program. Later steps replay it: every
op's ``forward`` with a fresh context, then every op's ``backward`` latest first, summing
gradients into the leaves' ``.grad`` as ``loss.backward()`` does. No TensorNode or OpNode is
built. tinygrad's TinyJit and CUDA graphs work the same way.

While recording, every op is recorded, even one that needs no gradient (``m.sum()`` of a mask,
``1 / temperature``, a frozen layer, a ``no_grad()`` block): replay reruns it. As with
``jax.jit``, Python runs only while recording: control flow, Python numbers (``x * 0.5``),
Python state such as ``model.training``, and numbers taken out of the graph (``float(x)``,
``.item()``, NumPy on ``.value``) keep the values they had then, and fn's Python side
effects (prints, counters) happen on those calls only. The check on the second call catches such
a value that changed between the first two calls; after changing one later, call ``reset()``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from autograd.dtypes import conform_outputs
from autograd.errors import GradientError, ReplayError
from autograd.graph import store_grad, sum_grads, walk
from autograd.modes import local
from autograd.ops import Expand
from autograd.tensor import TensorNode


def trace(fn: Callable[..., TensorNode]) -> Replay:
    """``fn(*nodes) -> scalar loss`` as a step that records itself on its first two calls and
    replays after; also a decorator.

    >>> train_step = trace(lambda x, y: F.cross_entropy(model(x), y))
    >>> loss = train_step(x_batch, y_batch)   # every parameter's .grad, as loss.backward() gives
    """
    return Replay(fn)


class Replay:
    """A training step that replays its recorded ops. Call it with NumPy arrays; ``fn`` receives
    them as constant TensorNodes and reaches its parameters itself (a model, a closure). Each call
    accumulates gradients into ``.grad`` of every leaf that requires grad, exactly as
    ``loss.backward()``, and returns the loss as a TensorNode outside any graph.

    The guards (a refusal is a ``ReplayError`` that says what to do, raised before backward):

    - Arguments of new shapes or dtypes: recorded anew; one program is kept per signature.
    - A leaf that changed shape or dtype, or started or stopped requiring grad: recorded anew.
    - The first two calls of a signature run eagerly and must record the same program (same
      ops, constants and fixed numbers), else refused: fn reached its data through Python.
    - Arrays given to ops as keyword constants (labels, indices) are matched to the arguments by
      identity and replaced on replay; any other array constant (labels computed inside fn,
      nn.BatchNorm1d's running statistics, which BatchNorm updates in place) is refused.
    - Every op fn runs is recorded and rerun, whether or not it needs a gradient. A leaf made
      inside fn (not by an op) would be replayed with its value from the trace: fixed if it holds
      one number (a Python number, perhaps broadcast), refused if not (a dropout mask,
      ``TensorNode(np.random...)``, a value computed with NumPy), and refused if it is a
      comparison or ``np.sign`` of the step's nodes (``x > 0``, Relu's mask in a create_graph
      pass), whatever its shape. A NumPy broadcast of an argument or leaf is replayed as Expand.
    - ``retain_grad()`` on an intermediate (replay keeps no intermediate gradient), and a traced
      step called inside fn (its backward would run now, and never on replay): refused.
    - Outside grad mode: refused. Inside ``detect_anomaly()``: every call runs eagerly.

    Limits: ops whose result does not reach the loss are not replayed; a leaf replaced by another
    TensorNode (rather than updated in place or through ``.value``) needs ``reset()``.

    >>> step = Replay(lambda x, y: F.cross_entropy(model(x), y))
    >>> for x, y in batches: optimizer.zero_grad(); step(x, y); optimizer.step()
    """

    def __init__(self, fn: Callable[..., TensorNode]) -> None:
        self.fn = fn
        self.programs: dict[tuple, _Program] = {}  # per argument signature
        self.traces = 0  # how many calls recorded a program, eagerly (the others replayed one)

    def __call__(self, *arrays: np.ndarray) -> TensorNode:
        modes = local.modes
        if not modes.grad_enabled:
            raise GradientError(
                "replay: a step runs backward, which no_grad() turns off; call it outside no_grad()"
            )
        for index, array in enumerate(arrays):
            if not isinstance(array, np.ndarray):
                raise TypeError(
                    f"replay: argument {index} must be a NumPy array, got {type(array).__name__}; "
                    "pass node.value for a TensorNode (leaves to differentiate are reached by fn "
                    "itself, as a model reaches its parameters)"
                )
        if modes.tracing is not None:
            raise ReplayError(
                "replay: a traced step was called inside another traced step's fn; it would run "
                "its own backward now (which the outer step could not undo if refused) and not "
                "at all when the outer step replays. Call the inner step's fn instead"
            )
        if modes.anomaly_enabled:  # detect_anomaly checks ops as eager mode builds them
            nodes = [TensorNode(array) for array in arrays]
            loss = self.fn(*nodes)
            loss.backward()
            return TensorNode(loss.value)
        signature = tuple([(array.shape, array.dtype) for array in arrays])
        program = self.programs.get(signature)
        unchanged = program is not None and program.leaves_unchanged()
        if unchanged and program.verified:
            return TensorNode(program.run(arrays))
        return self._trace(arrays, signature, program if unchanged else None)

    def reset(self) -> None:
        """Forget every recorded program: the next call of each signature traces again."""
        self.programs.clear()

    def _trace(self, arrays: tuple, signature: tuple, first: _Program | None) -> TensorNode:
        """Run fn eagerly and record its program; on the second call, check that it is the
        program the first call recorded. Backward runs after the checks, so that a refused step
        changes no gradient."""
        nodes = [TensorNode(array) for array in arrays]
        # The TensorNodes that exist before fn runs: leaves among them are read fresh on replay,
        # leaves made by fn are constants of this one call. (Kept alive, so no id is reused;
        # type(), not isinstance, which would read every object's __class__.)
        existing = {id(x): x for x in gc.get_objects() if issubclass(type(x), TensorNode)}
        # While fn runs, every op is recorded, even one whose inputs need no gradient (a mask's
        # sum, 1 / temperature): replay reruns it on the new arguments and leaves.
        modes, computed = local.modes, []
        modes.tracing = computed
        try:
            loss = self.fn(*nodes)
        finally:
            modes.tracing = None
        if not isinstance(loss, TensorNode):
            raise TypeError(f"replay: fn must return a TensorNode (the loss), got {type(loss)}")
        program = _Program(loss, nodes, existing, computed)
        del existing, computed
        if first is not None:
            program.verified = True
            difference = program.difference(first)
            if difference:
                program._refuse(
                    f"its first two calls recorded different steps ({difference}): fn reaches "
                    "its data or Python state through Python (control flow, float() or .item(), "
                    ".value, a no_grad() block, a gradient taken inside fn), which replay would "
                    "fix at one call's value. Run this step eagerly"
                )
        if program.refusal:
            del loss  # free the graph first: its leaves stay read-only while it lives
            raise ReplayError(program.refusal)
        loss.backward()
        self.programs[signature] = program
        self.traces += 1
        return TensorNode(loss.value)


class _Argument(NamedTuple):
    """In a keyword constant: "the step's argument number ``index``" (labels, indices)."""

    index: int


class _Program:
    """One traced step. Every value the step uses has a slot in a list: the arguments first, then
    leaves, fixed constants and op outputs in the order the ops met them. Each op is recorded as
    (op, input slots, constants, constants to fill from the arguments, output slots, output
    dtypes, needs_input_grad, the inputs that need a gradient with their dtypes). ``refusal``
    says why the step cannot be replayed, if it cannot."""

    def __init__(self, loss: TensorNode, arguments: list, existing: dict, computed: list) -> None:
        self.refusal = ""
        self.verified = False  # True once a second call recorded the same program
        self.leaves: list[tuple] = []  # (leaf, slot, shape, dtype, requires_grad)
        self.initial: list = [None] * len(arguments)  # slot -> value fixed at trace time
        self.steps: list[tuple] = []
        self.slots = {id(node): index for index, node in enumerate(arguments)}
        self.argument_ids: dict[int, int | None] = {id(node): i for i, node in enumerate(arguments)}
        for index, node in enumerate(arguments):  # the same array twice: ambiguous (None)
            array_id = id(node.value)
            self.argument_ids[array_id] = None if array_id in self.argument_ids else index
        self.arguments, self.existing = arguments, existing
        self.computed = {id(node) for node in computed}  # comparisons of the step's nodes
        self._record(loss)
        del self.arguments, self.existing, self.computed  # needed while recording only

    def _record(self, loss: TensorNode) -> None:
        order, reached = walk([loss])
        for op_node in reversed(order):  # creation order: an op's inputs have their slots
            name = op_node.op.__name__
            if any(node.retains_grad for node in reached[op_node]):
                return self._refuse(
                    f"the output of {name} has retain_grad(), and a replayed step keeps no "
                    "intermediate gradient; run this step eagerly to read it"
                )
            if any(id(node) in self.existing for node in reached[op_node]):
                return self._refuse(
                    f"{name} was recorded before the step, so eager mode would run it once and "
                    "replay every time; compute it inside fn, or detach() it"
                )
            inputs = tuple([self._slot(x, name) for x in op_node.inputs])
            constants, to_fill = dict(op_node.constants), []
            for key, value in op_node.constants.items():
                template = self._template(value, name, key, op_node.constants)
                if template is not value:
                    to_fill.append((key, template))
                    del constants[key]
            if self.refusal:
                return
            outputs = self._add_step(
                op_node.op, inputs, constants, tuple(to_fill), op_node.output_values,
                [x.requires_grad for x in op_node.inputs], [x.value.dtype for x in op_node.inputs],
            )  # fmt: skip
            for node in reached[op_node]:
                index = next(i for i, y in enumerate(op_node.output_values) if y is node.value)
                self.slots[id(node)] = outputs[index]
        self.loss = self._slot(loss, "the loss")
        # What run() reads of each step, forward in order and backward in reverse.
        self.forward_steps = [(step[0].forward,) + step[1:7] for step in self.steps]
        self.backward_steps = [(step[0].backward, step[4], step[7]) for step in self.steps[::-1]]
        self.grad_leaves = [(leaf, slot) for leaf, slot, *_, needed in self.leaves if needed]

    def _add_step(self, op, inputs, constants, to_fill, output_values, flags, input_dtypes):
        """Record one op; returns the slots of its outputs."""
        outputs = tuple(range(len(self.initial), len(self.initial) + len(output_values)))
        self.initial += [None] * len(outputs)
        wanted = tuple([(i, inputs[i], input_dtypes[i]) for i in range(len(inputs)) if flags[i]])
        dtypes = tuple([y.dtype for y in output_values])
        self.steps.append((op, inputs, constants, to_fill, outputs, dtypes, tuple(flags), wanted))
        return outputs

    def _refuse(self, message: str) -> None:
        self.refusal = self.refusal or "replay cannot record this step: " + message

    def _slot(self, x: TensorNode, consumer: str) -> int:
        """The slot of an op input: an op output's or argument's, or a new one for a leaf."""
        slot = self.slots.get(id(x))
        if slot is None:
            slot = self.slots[id(x)] = self._leaf_slot(x, consumer)
        return slot

    def _leaf_slot(self, x: TensorNode, consumer: str) -> int:
        value = x.value
        if id(x) in self.existing:  # made before the step: read fresh on every call
            self.leaves.append((x, len(self.initial), value.shape, value.dtype, x.requires_grad))
            self.initial.append(None)
            return len(self.initial) - 1
        if self.argument_ids.get(id(value)) is not None:  # TensorNode(argument) inside fn
            return self.argument_ids[id(value)]
        # Made inside fn. A broadcast of an argument or of a leaf from outside, made with NumPy
        # rather than an op, is replayed as the Expand it is.
        source = self._broadcast_source(value, consumer)
        if source is not None:
            (output,) = self._add_step(
                Expand, (source,), {"shape": value.shape}, (), (value,), [False], [value.dtype]
            )
            return output
        self.initial.append(value)
        if id(x) in self.computed:  # a comparison or np.sign of the step's nodes: not an op
            self._refuse(
                f"an input of {consumer} is a mask or sign of shape {x.shape} computed from the "
                "step's values by a comparison (x > 0, np.sign; also inside Relu's or Abs's "
                "backward in a create_graph pass), which records no op; replay would reuse its "
                "value from this call. Run this step eagerly"
            )
        elif any(value.strides):  # not one number (0-d, or broadcast): refused
            self._refuse(
                f"an input of {consumer} is an array of shape {x.shape} made inside fn outside "
                "the graph (a constant such as a dropout mask, TensorNode(np.random...), or a "
                "value computed through .value or NumPy); replay would reuse its value from this "
                "call. Pass it as an argument of the step, make it before the step, or run this "
                "step eagerly"
            )
        return len(self.initial) - 1  # a Python number, fixed as jax.jit fixes them

    def _broadcast_source(self, value: np.ndarray, consumer: str) -> int | None:
        """The slot of the argument or leaf from outside whose value ``value`` is a broadcast of
        (``np.broadcast_to``: the same memory, with stride 0 along the broadcast axes)."""
        if value.base is None:
            return None
        for node in self.arguments + list(self.existing.values()):  # arguments first
            source = node.value
            owner = source if source.base is None else source.base  # NumPy: a view of a view
            if node.source is not None or value.base is not owner:  # has the first's base
                continue
            try:
                expanded = np.broadcast_to(source, value.shape)
            except ValueError:  # not a broadcast: a view made by another op (reshape, ...)
                continue
            if expanded.strides == value.strides and expanded.ctypes.data == value.ctypes.data:
                return self._slot(node, consumer)
        return None

    def _template(self, value, name: str, key: str, constants: dict):
        """A keyword constant as replay passes it: ``value`` itself, or an ``_Argument`` (or a
        tuple of parts, for indices) when it is an argument of the step."""
        if type(value) is tuple:
            parts = tuple([self._template(part, name, key, constants) for part in value])
            return value if all(p is v for p, v in zip(parts, value)) else parts
        if id(value) in self.argument_ids:
            index = self.argument_ids[id(value)]
            if index is None:
                self._refuse(f"{name}'s {key}= is an array passed as two arguments; pass copies")
            return _Argument(index)
        if isinstance(value, np.ndarray | TensorNode):  # 0-d too: computed, not a Python number
            hint = ""
            if name == "BatchNorm" and constants.get("training", True):
                hint = (
                    " (nn.BatchNorm1d's running statistics: module state, which BatchNorm "
                    "updates in place in training; train models with BatchNorm1d eagerly)"
                )
            elif name == "BatchNorm":
                hint = (
                    " (nn.BatchNorm1d's running statistics, read in evaluation mode: module "
                    "state, which load_state_dict or a training step may change; run steps "
                    "with BatchNorm1d eagerly)"
                )
            self._refuse(
                f"{name}'s {key}= is an array of shape {value.shape} that is not an argument of "
                f"the step{hint}; replay would reuse this array. Pass it as an argument"
            )
        return value

    def difference(self, first: _Program) -> str:
        """What differs from the program of the first call ("" if nothing)."""
        if len(self.steps) != len(first.steps):
            return f"{len(first.steps)} ops, then {len(self.steps)}"
        for number, (step, first_step) in enumerate(zip(self.steps, first.steps)):
            if step != first_step:
                return f"op {number}: {first_step[0].__name__}, then {step[0].__name__}"
        for value, first_value in zip(self.initial, first.initial):
            if not _same(value, first_value):
                return f"a number fixed at trace time: {first_value}, then {value}"
        if [leaf[1:] + (id(leaf[0]),) for leaf in self.leaves] != [
            leaf[1:] + (id(leaf[0]),) for leaf in first.leaves
        ]:
            return "the leaves it reads"
        return ""

    def leaves_unchanged(self) -> bool:
        """Whether every leaf still has the shape, dtype and requires_grad of the trace."""
        for leaf, _, shape, dtype, requires_grad in self.leaves:
            value = leaf.value
            if value.shape != shape or value.dtype != dtype or leaf.requires_grad != requires_grad:
                return False
        return True

    def run(self, arrays: tuple) -> np.ndarray:
        """Forward, then backward, of the recorded ops on new arrays; returns the loss.

        The loops call each op as ``do_forward`` and ``backward()`` would, on arrays alone;
        inputs are passed by fixed arity, not by a list comprehension, as in ``do_forward``.
        """
        values = self.initial.copy()
        values[: len(arrays)] = arrays
        for leaf, slot, *_ in self.leaves:
            values[slot] = leaf.value
        contexts = []
        for forward, inputs, constants, to_fill, outputs, dtypes, flags in self.forward_steps:
            context = {"needs_input_grad": flags}
            if to_fill:
                constants = constants | {key: _fill(template, arrays) for key, template in to_fill}
            if constants:
                result = forward(context, *[values[slot] for slot in inputs], **constants)
            elif len(inputs) == 2:
                result = forward(context, values[inputs[0]], values[inputs[1]])
            elif len(inputs) == 1:
                result = forward(context, values[inputs[0]])
            else:
                result = forward(context, *[values[slot] for slot in inputs])
            if type(result) is np.ndarray and result.dtype is dtypes[0]:  # one array, as traced
                values[outputs[0]] = result
            else:
                results = result if type(result) is tuple else (result,)
                for slot, dtype, y in zip(outputs, dtypes, results):  # as do_forward does
                    (values[slot],) = conform_outputs((y,), context, dtype)
            contexts.append(context)

        grads = [None] * len(values)
        grads[self.loss] = np.ones_like(values[self.loss])
        for backward, outputs, wanted in self.backward_steps:
            context = contexts.pop()  # freed as the pass goes, as backward() frees it
            if len(outputs) == 1:
                output_grad = grads[outputs[0]]
                if output_grad is None:
                    continue  # nothing reached this op
                grads[outputs[0]] = None
                input_grads = backward(context, output_grad)
            else:
                output_grads = _output_grads(outputs, grads, values)
                if output_grads is None:
                    continue
                input_grads = backward(context, *output_grads)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            for index, slot, dtype in wanted:  # the inputs that need a gradient
                grad = input_grads[index]
                if grad is None:
                    continue
                if type(grad) is not np.ndarray or grad.dtype is not dtype:
                    grad = np.asarray(grad).astype(dtype, copy=False)
                pending = grads[slot]
                grads[slot] = grad if pending is None else sum_grads(pending, grad)

        stored: set = set()  # ids of the arrays this call put in some .grad, as backward() keeps
        for leaf, slot in self.grad_leaves:
            if grads[slot] is not None:
                store_grad(leaf, grads[slot], False, stored)
        return values[self.loss]


def _output_grads(outputs: tuple, grads: list, values: list) -> tuple | None:
    """The gradients of an op's several outputs; zeros for those not reached, None if none was."""
    output_grads = [grads[slot] for slot in outputs]
    if all(grad is None for grad in output_grads):
        return None
    for index, slot in enumerate(outputs):
        grads[slot] = None
        if output_grads[index] is None:
            output_grads[index] = np.zeros_like(values[slot])
    return tuple(output_grads)


def _same(a, b) -> bool:
    """Two fixed values (arrays, or None for a slot filled on each call) are the same."""
    if a is None or b is None:
        return a is b
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def _fill(template, arrays: tuple):
    """A keyword constant with the step's arguments put in."""
    if type(template) is _Argument:
        return arrays[template.index]
    if type(template) is tuple:
        return tuple([_fill(part, arrays) for part in template])
    return template
