"""Recording a model's forward pass and writing it as an ONNX graph.

The steps: run the model on the example with the inputs requiring grad, so that every op that
depends on them is recorded; run it again one row larger, to see which sizes follow the batch;
then hand each recorded op, in the order it ran, to its mapping (mappings.py), which adds ONNX
nodes to an ``OnnxGraph``. Leaves become initialisers, named from ``named_parameters()`` and
``named_buffers()`` where the model has them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from autograd.errors import MissingPackageError, OnnxExportError
from autograd.graph import OpNode, walk
from autograd.modes import enable_grad
from autograd.ops import AvgUnpool2d, ConvTranspose2d, Expand, Reshape
from autograd.tensor import TensorNode

#: The ONNX operator set the exported models use (ONNX 1.13 and ONNX Runtime 1.14 onwards).
OPSET = 18
#: The file format written: the oldest that holds opset 18, so that older runtimes read it too.
IR_VERSION = 8
#: The name of the dynamic batch axis in the model's inputs and outputs.
BATCH = "batch"
#: The constants that may change with the batch, by op: their mappings turn sizes that follow
#: the batch into run-time sizes, or read only sizes that do not (the images' height and width).
#: Any other op whose constants change with the batch cannot be exported with a dynamic batch.
BATCH_SIZED = {
    Reshape: {"shape"},
    Expand: {"shape"},
    ConvTranspose2d: {"input_shape"},
    AvgUnpool2d: {"input_shape"},
}


def import_package(name: str, extra: str, purpose: str):
    """``importlib.import_module(name)``, or a MissingPackageError naming the extra to install."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise MissingPackageError(name, extra, purpose) from error


# ----- recording -----------------------------------------------------------------------------


@dataclass
class Trace:
    """One recorded forward pass: the input and output nodes, the ops in the order they ran, and
    for each op's outputs the ops that read them."""

    inputs: tuple[TensorNode, ...]
    outputs: tuple[TensorNode, ...]
    ops: list[OpNode]
    consumers: dict[tuple[int, int], list[OpNode]]


def output_index(node: TensorNode) -> int:
    """Which output of its op ``node`` is (an op's output nodes are not kept by the OpNode)."""
    for index, value in enumerate(node.source.output_values):
        if value is node.value:
            return index
    raise AssertionError("a node is not among the outputs of its own op")  # cannot happen


def record(fn: Callable, examples: tuple[np.ndarray, ...]) -> Trace:
    """Run ``fn`` on copies of the examples that require grad, and keep the graph it made."""
    inputs = tuple(TensorNode(np.array(x), requires_grad=True) for x in examples)
    with enable_grad():
        result = fn(*inputs)
    outputs = tuple(result) if isinstance(result, tuple | list) else (result,)
    for position, output in enumerate(outputs):
        if not isinstance(output, TensorNode):
            raise OnnxExportError(
                f"export: the model returned {type(output).__name__} as output {position}; "
                "it must return a TensorNode or a tuple of them"
            )
    order, _ = walk(outputs)
    order.reverse()  # the order the ops ran in
    consumers: dict[tuple[int, int], list[OpNode]] = {}
    for op_node in order:
        for x in op_node.inputs:
            if x.source is not None:
                consumers.setdefault((id(x.source), output_index(x)), []).append(op_node)
    return Trace(inputs, outputs, order, consumers)


def as_examples(example_input) -> tuple[np.ndarray, ...]:
    """The example inputs as a tuple of float arrays."""
    parts = example_input if isinstance(example_input, tuple | list) else (example_input,)
    if isinstance(example_input, list) and not all(
        isinstance(x, TensorNode | np.ndarray) for x in example_input
    ):
        parts = (example_input,)  # a nested list of numbers is one input
    # Numbers and lists become arrays as TensorNode makes them (float32); arrays keep their dtype.
    examples = tuple(x.value if isinstance(x, TensorNode) else TensorNode(x).value for x in parts)
    for position, x in enumerate(examples):
        if x.dtype.kind != "f":
            raise OnnxExportError(
                f"export: input {position} has dtype {x.dtype}; export follows the graph from "
                "float inputs (convert it, e.g. x.astype(np.float32))"
            )
    return examples


def one_row_more(examples: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...] | None:
    """The examples with their first row repeated at the end (batch b + 1), or None when no
    input has a batch axis. Inputs with a batch axis must agree on its size."""
    batched = [x for x in examples if x.ndim]
    if not batched:
        return None
    if len({len(x) for x in batched}) > 1:
        sizes = ", ".join(str(x.shape) for x in examples)
        raise OnnxExportError(
            f"export: the inputs' first axes differ ({sizes}), so none of them is the batch "
            "axis; pass dynamic_batch=False to export with these sizes fixed"
        )
    return tuple(np.concatenate([x, x[:1]]) if x.ndim else x for x in examples)


def same_constant(a, b) -> bool:
    """Whether two recorded constants (numbers, arrays, tuples, slices, dtypes) are equal."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and bool(np.array_equal(a, b))
        )
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(same_constant(x, y) for x, y in zip(a, b))
    if isinstance(a, slice) and isinstance(b, slice):
        return same_constant((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    return type(a) is type(b) and bool(a == b)


def pair_ops(trace: Trace, twin: Trace) -> dict[int, OpNode]:
    """Each op of ``trace`` with the same op of ``twin`` (recorded one row larger); an error when
    the two graphs differ, since then the graph itself depends on the batch size."""
    changed = len(trace.ops) != len(twin.ops) or any(
        a.op is not b.op or len(a.inputs) != len(b.inputs) for a, b in zip(trace.ops, twin.ops)
    )
    if changed:
        raise OnnxExportError(
            "export: the model builds a different graph for a batch one row larger, so its "
            "graph depends on the batch size; pass dynamic_batch=False to export it for the "
            "example's batch size only"
        )
    for a, b in zip(trace.ops, twin.ops):
        for key in sorted(a.constants.keys() | b.constants.keys()):  # one order every run
            if key in BATCH_SIZED.get(a.op, ()):
                continue
            if not same_constant(a.constants.get(key), b.constants.get(key)):
                raise OnnxExportError(
                    f"export: {a.op.__name__}'s constant {key!r} changes with the batch size, "
                    "which its ONNX mapping cannot follow; pass dynamic_batch=False to export "
                    "it for the example's batch size only"
                )
    return {id(a): b for a, b in zip(trace.ops, twin.ops)}


def changed_axes(shape: tuple[int, ...], twin_shape: tuple[int, ...]) -> list[int]:
    """The axes whose size differs between a value and its twin (those that follow the batch)."""
    return [axis for axis, (a, b) in enumerate(zip(shape, twin_shape)) if a != b]


# ----- the ONNX graph being written ---------------------------------------------------------


@dataclass
class Call:
    """One recorded application of an op, as its mapping sees it.

    ``inputs`` are the ONNX names of its inputs; ``op_node`` the OpNode (its ``constants``, its
    input nodes and ``output_values``); ``twin`` the same op recorded at batch b + 1 (None for a
    static batch); ``consumers`` the ops that read each output.
    """

    op_node: OpNode
    inputs: list[str]
    twin: OpNode | None
    consumers: list[list[OpNode]]

    @property
    def constants(self) -> dict:
        return self.op_node.constants

    @property
    def input_values(self) -> list[np.ndarray]:
        return [x.value for x in self.op_node.inputs]

    @property
    def output_values(self) -> tuple[np.ndarray, ...]:
        return self.op_node.output_values

    def dynamic_axes(self, output: int = 0) -> list[int]:
        """The axes of an output whose size follows the batch."""
        if self.twin is None:
            return []
        return changed_axes(self.output_values[output].shape, self.twin.output_values[output].shape)

    def input_dynamic_axes(self, position: int) -> list[int]:
        """The axes of an input whose size follows the batch."""
        if self.twin is None:
            return []
        return changed_axes(
            self.op_node.inputs[position].value.shape, self.twin.inputs[position].value.shape
        )


class OnnxGraph:
    """The nodes and initialisers written so far, and the names in use.

    A mapping calls ``add`` for each ONNX node and ``constant`` for each constant tensor:

    >>> y = graph.add("Relu", [call.inputs[0]])
    >>> shape = graph.int64s([0, -1]); graph.add("Reshape", [y, shape])
    """

    def __init__(self, onnx, names: Names | None = None) -> None:
        self.onnx = onnx
        self.names = names or Names(None)  # the model's names for parameters, buffers, modules
        self.nodes: list = []
        self.initializers: list = []
        self.prefix = ""  # the module the current op ran in, for node names
        self.batch_input: str | None = None  # a graph input whose axis 0 is the batch
        self._used: set[str] = set()
        self._constants: dict[int, str] = {}  # id of a named array or leaf -> its initialiser
        self._batch_size: str | None = None

    def unique(self, hint: str) -> str:
        name, count = hint, 1
        while name in self._used:
            count += 1
            name = f"{hint}_{count}"
        self._used.add(name)
        return name

    def add(self, op_type: str, inputs: Sequence[str], outputs: int = 1, **attributes):
        """Add one ONNX node; returns its output name (a tuple of names for several)."""
        name = self.unique(f"{self.prefix}/{op_type}" if self.prefix else op_type)
        names = [name] if outputs == 1 else [self.unique(f"{name}:{i}") for i in range(outputs)]
        self.nodes.append(
            self.onnx.helper.make_node(op_type, list(inputs), names, name=name, **attributes)
        )
        return names[0] if outputs == 1 else tuple(names)

    def constant(self, array, hint: str = "constant", key: object = None, scoped=True) -> str:
        """An initialiser holding ``array``; the same name again for the same ``key`` object.
        Its name is ``hint`` after the current module's name, unless not ``scoped``."""
        if key is not None and id(key) in self._constants:
            return self._constants[id(key)]
        name = self.unique(f"{self.prefix}/{hint}" if scoped and self.prefix else hint)
        array = np.array(array, order="C")  # a copy (np.ascontiguousarray makes 0-d 1-d)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        if key is not None:
            self._constants[id(key)] = name
        return name

    def int64s(self, values, hint: str = "constant") -> str:
        """A 1-D int64 initialiser (shapes, axes, indices)."""
        return self.constant(np.asarray(list(values), dtype=np.int64), hint)

    def cast(self, name: str, dtype_from, dtype_to) -> str:
        """``name`` converted to ``dtype_to`` by a Cast node, or as it is if already of it."""
        if np.dtype(dtype_from) == np.dtype(dtype_to):
            return name
        return self.add("Cast", [name], to=self.onnx.helper.np_dtype_to_tensor_dtype(dtype_to))

    def batch_size(self) -> str:
        """A 1-D int64 tensor holding the batch size at run time, ``[b]`` (made once)."""
        if self._batch_size is None:
            prefix, self.prefix = self.prefix, ""
            self._batch_size = self.add("Shape", [self.batch_input], start=0, end=1)
            self.prefix = prefix
        return self._batch_size

    def runtime_shape(self, shape: tuple[int, ...], twin_shape: tuple[int, ...], op: str) -> str:
        """A 1-D int64 tensor holding ``shape`` at run time: each size that follows the batch is
        a multiple of it, k * b, computed from the batch size; the others are constants."""
        batch = self.batch_size()
        parts, fixed = [], []
        for size, twin_size in zip(shape, twin_shape):
            if size == twin_size:
                fixed.append(size)
                continue
            factor = twin_size - size  # k * (b + 1) - k * b
            example_batch = size // factor if factor > 0 else -1
            if factor <= 0 or size != factor * example_batch:
                raise OnnxExportError(
                    f"export: {op} has a size that changes with the batch but is not a multiple "
                    f"of it ({size}, then {twin_size}); pass dynamic_batch=False"
                )
            if fixed:
                parts.append(self.int64s(fixed, "shape"))
                fixed = []
            parts.append(batch if factor == 1 else self.add("Mul", [batch, self.int64s([factor])]))
        if fixed:
            parts.append(self.int64s(fixed, "shape"))
        return parts[0] if len(parts) == 1 else self.add("Concat", parts, axis=0)

    def rename(self, old: str, new: str) -> None:
        """Call a tensor ``new`` wherever it is made or read."""
        for node in self.nodes:
            for names in (node.input, node.output):
                for position, name in enumerate(names):
                    if name == old:
                        names[position] = new


# ----- export --------------------------------------------------------------------------------


def export(
    model: Callable,
    example_input,
    path: str | Path | BinaryIO,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    mappings: Mapping[type, Callable] | None = None,
):
    """Write ``model`` (a Module or any function of TensorNodes) as an ONNX file (a path, or a
    binary file object), and return the ``onnx.ModelProto``.

    The forward pass is recorded on ``example_input`` (an array, or a tuple of arrays for several
    inputs); a Module runs in evaluation mode for it and gets its own mode back after. Inputs
    are named ``input_names`` (default ``input``, or ``input_0``, ``input_1``, ...), outputs
    ``output_names`` (default ``output``, ...). With ``dynamic_batch`` the first axis of every
    input (and the axes that follow it) is ``batch`` and takes any size. ``mappings`` maps your
    own Op classes to functions that write them (see the module's docstring).

    >>> autograd.onnx.export(model, np.zeros((1, 784), np.float32), "model.onnx")
    >>> autograd.onnx.run("model.onnx", x)[0].shape      # any batch size
    """
    from autograd.onnx.mappings import MAPPINGS  # the mappings build on this module

    onnx = import_package("onnx", "onnx", "ONNX export")
    examples = as_examples(example_input)
    input_names = default_names(input_names, len(examples), "input")
    twin_examples = one_row_more(examples) if dynamic_batch else None
    modes = training_modes(model)
    if modes:
        model.eval()
    try:
        trace = record(model, examples)
        twin = None
        if twin_examples is not None:
            try:
                twin = record(model, twin_examples)
            except (ValueError, IndexError, TypeError) as error:
                raise OnnxExportError(
                    f"export: the model fails on a batch one row larger than the example "
                    f"({error}), so axis 0 cannot be a dynamic batch axis; pass "
                    "dynamic_batch=False"
                ) from error
    finally:
        for module, training in modes:
            module.training = training
    output_names = default_names(output_names, len(trace.outputs), "output")
    twins = pair_ops(trace, twin) if twin is not None else {}
    names = Names(model)

    graph = OnnxGraph(onnx, names)
    known: dict[tuple, str] = {}  # (id of an op, output index) or (id of a leaf,) -> its name
    for node, name in zip(trace.inputs, input_names):
        known[(id(node),)] = name
        if graph.batch_input is None and node.value.ndim and twin is not None:
            graph.batch_input = name
    write_ops(graph, trace, twins, {**MAPPINGS, **(mappings or {})}, known)
    name_outputs(graph, trace, output_names, known)
    batch = next(((len(x), len(x) + 1) for x in examples if x.ndim), None)
    twin_inputs = twin.inputs if twin is not None else [None] * len(trace.inputs)
    twin_outputs = twin.outputs if twin is not None else [None] * len(trace.outputs)
    graph_inputs = [
        value_info(onnx, name, node, twin_node, batch)
        for node, name, twin_node in zip(trace.inputs, input_names, twin_inputs)
    ]
    graph_outputs = [
        value_info(onnx, name, node, twin_node, batch)
        for node, name, twin_node in zip(trace.outputs, output_names, twin_outputs)
    ]
    model_proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes, "autograd", graph_inputs, graph_outputs, graph.initializers
        ),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="autograd-nn",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model_proto, full_check=True)
    onnx.save(model_proto, path if hasattr(path, "write") else str(path))
    return model_proto


def write_ops(graph: OnnxGraph, trace: Trace, twins: dict, table: Mapping, known: dict) -> None:
    """Hand each recorded op, in the order it ran, to its mapping, and note its outputs' names."""
    for op_node in trace.ops:
        mapping = table.get(op_node.op)
        if mapping is None:
            raise OnnxExportError(unmapped_message(op_node.op))
        twin_op = twins.get(id(op_node))
        inputs = [
            tensor_name(graph, x, known, twin_op and twin_op.inputs[i], op_node.op)
            for i, x in enumerate(op_node.inputs)
        ]
        outputs = len(op_node.output_values)
        consumers = [trace.consumers.get((id(op_node), i), []) for i in range(outputs)]
        graph.prefix = graph.names.scope(op_node)
        result = mapping(graph, Call(op_node, inputs, twin_op, consumers))
        result = (result,) if isinstance(result, str) else tuple(result)
        if len(result) != outputs:
            raise OnnxExportError(
                f"export: the ONNX mapping of {op_node.op.__name__} returned {len(result)} "
                f"output names for the op's {outputs} outputs"
            )
        known.update(((id(op_node), i), name) for i, name in enumerate(result))
    graph.prefix = ""


def name_outputs(graph: OnnxGraph, trace: Trace, output_names: list[str], known: dict) -> None:
    """Give the model's outputs their names: the node that makes one is renamed; an input, a
    constant, an output given twice, or a name no node makes gets an Identity node."""
    made = {name for node in graph.nodes for name in node.output}
    for node, name in zip(trace.outputs, output_names):
        produced = (id(node.source), output_index(node)) if node.source is not None else None
        if produced is not None and known[produced] in made - set(output_names):
            graph.rename(known[produced], name)
            known[produced] = name
            made.add(name)
        else:
            source = tensor_name(graph, node, known)
            graph.nodes.append(graph.onnx.helper.make_node("Identity", [source], [name], name=name))


def training_modes(model) -> list[tuple[object, bool]]:
    """Each module of a Module with its ``training`` flag, to give them back after export (a
    function has none)."""
    if not isinstance(getattr(model, "training", None), bool):
        return []
    listing = getattr(model, "named_modules", None)
    modules = [module for _, module in listing()] if callable(listing) else [model]
    return [(module, module.training) for module in modules]


def default_names(names: Sequence[str] | None, count: int, stem: str) -> list[str]:
    if names is None:
        return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]
    names = list(names)
    if len(names) != count or len(set(names)) != count:
        raise OnnxExportError(
            f"export: {stem}_names must give {count} distinct names, one per {stem}, got {names}"
        )
    return names


def unmapped_message(op: type) -> str:
    return (
        f"export: the op {op.__name__} (from {op.__module__}) has no ONNX mapping. Write a "
        f"function mapping(graph, call) that adds its ONNX nodes with graph.add(...) and returns "
        f"the output names, and pass it as export(..., mappings={{{op.__name__}: mapping}}); "
        "autograd.onnx's docstring has an example, autograd/onnx/mappings.py the built-in ones"
    )


class Names:
    """Names from the model, if it is a Module: its parameters, buffers and sub-modules."""

    def __init__(self, model) -> None:
        def named(method: str) -> dict[int, str]:
            listing = getattr(model, method, None)
            return {id(thing): name for name, thing in listing()} if callable(listing) else {}

        self.parameters = named("named_parameters")
        self.buffers = named("named_buffers")
        self.modules = named("named_modules")

    def scope(self, op_node: OpNode) -> str:
        """The innermost named module (or string scope) the op was recorded in, or ''."""
        for owner in reversed(op_node.scope):
            if isinstance(owner, str):
                return owner
            if self.modules.get(id(owner)):
                return self.modules[id(owner)]
        return ""


def tensor_name(
    graph: OnnxGraph,
    node: TensorNode,
    known: dict,
    twin: TensorNode | None = None,
    reader: type | None = None,
) -> str:
    """The ONNX name of an op's input: an earlier op's output, a graph input, or an initialiser
    made on first use for a leaf (named as ``named_parameters()`` names it, if it does).

    A constant whose shape follows the batch (``twin``, the same input one row larger, says so;
    a number broadcast against the input is one) is written once along those axes, and expanded
    at run time, unless its ``reader`` broadcasts (Add, Mul, ...) and so expands it anyway.
    """
    if node.source is not None:
        return known[(id(node.source), output_index(node))]
    if (id(node),) in known:
        return known[(id(node),)]
    if twin is not None and twin.value.shape != node.value.shape:
        return batch_shaped_constant(graph, node.value, twin.value.shape, reader)
    hint = graph.names.parameters.get(id(node)) or node.name or "constant"
    parameter = id(node) in graph.names.parameters
    known[(id(node),)] = graph.constant(node.value, hint, scoped=not parameter)
    return known[(id(node),)]


def batch_shaped_constant(graph: OnnxGraph, value: np.ndarray, twin_shape: tuple, reader) -> str:
    dynamic = changed_axes(value.shape, twin_shape)
    one_row = value[
        tuple(slice(0, 1) if axis in dynamic else slice(None) for axis in range(value.ndim))
    ]
    if value.ndim != len(twin_shape) or not np.array_equal(
        np.broadcast_to(one_row, value.shape), value
    ):
        raise OnnxExportError(
            f"export: a constant of shape {value.shape} (made from the batch inside "
            f"{reader.__name__}'s inputs) has different values for different rows, so it "
            "cannot follow the batch size; pass dynamic_batch=False"
        )
    name = graph.constant(one_row, "constant")
    if reader.broadcasts:
        return name
    shape = graph.runtime_shape(value.shape, twin_shape, reader.__name__)
    return graph.add("Expand", [name, shape])


def value_info(onnx, name: str, node: TensorNode, twin: TensorNode | None, batch: tuple):
    """The declared type and shape of a graph input or output; sizes that follow the batch (they
    differ in its ``twin``, recorded one row larger) are symbolic: ``batch`` when they equal it
    (``batch`` is its size in the two traces)."""
    dims: list = list(node.value.shape)
    if twin is not None:
        for axis in changed_axes(node.value.shape, twin.value.shape):
            pair = (node.value.shape[axis], twin.value.shape[axis])
            dims[axis] = BATCH if pair == batch else f"{name}_{axis}"
    elem_type = onnx.helper.np_dtype_to_tensor_dtype(node.value.dtype)
    return onnx.helper.make_tensor_value_info(name, elem_type, dims)


def session(model):
    """An ONNX Runtime session for an exported model (a path or an ``onnx.ModelProto``), on one
    CPU thread; its ``run(None, {name: array})`` returns the outputs.

    >>> runtime = autograd.onnx.session("model.onnx")
    >>> logits, = runtime.run(None, {"input": x})
    """
    ort = import_package("onnxruntime", "test", "running an exported model")
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    source = str(model) if isinstance(model, str | Path) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run(model, *inputs) -> list[np.ndarray]:
    """Run an exported model (a path or an ``onnx.ModelProto``) in ONNX Runtime on one CPU
    thread; returns its outputs as arrays.

    >>> logits, = autograd.onnx.run("model.onnx", x)
    """
    runtime = session(model)
    feeds = {
        spec.name: np.asarray(x.value if isinstance(x, TensorNode) else x)
        for spec, x in zip(runtime.get_inputs(), inputs, strict=True)
    }
    return runtime.run(None, feeds)
