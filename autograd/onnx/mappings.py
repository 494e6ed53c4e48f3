"""How each op of the engine is written in ONNX (opset 18): one plain function per op.

A mapping takes the graph being written and the op's ``Call`` (its ONNX input names, its
constants, its recorded values) and returns the ONNX names of the op's outputs. Most ops are one
ONNX node; indexing takes a few (Slice, then Squeeze or Unsqueeze), and so does batch norm over
more than one feature axis (Reshape around BatchNormalization).

ONNX wants both operands of Add, MatMul, ... of one type, where the engine promotes (float32 and
float64 give float64): ``same_type`` casts each input to the type the op's output has.
"""

from __future__ import annotations

import numpy as np

from autograd.errors import OnnxExportError
from autograd.onnx.exporter import Call, OnnxGraph
from autograd.ops import (
    Abs,
    Add,
    BatchNorm,
    Cast,
    Div,
    Exp,
    Expand,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    Mean,
    Mul,
    Neg,
    Pow,
    Relu,
    Reshape,
    Scatter,
    Select,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Sub,
    Sum,
    Tanh,
    Transpose,
)
from autograd.ops.reduce import normalize_axes

INT64_MAX = int(np.iinfo(np.int64).max)
INT64_MIN = int(np.iinfo(np.int64).min)


def same_type(graph: OnnxGraph, call: Call) -> list[str]:
    """The op's inputs, each cast to the dtype of its (first) output where it differs."""
    dtype = call.output_values[0].dtype
    return [
        graph.cast(name, value.dtype, dtype) for name, value in zip(call.inputs, call.input_values)
    ]


def elementwise(onnx_type: str):
    """The mapping of an op that is one ONNX node of the same meaning (Add, Relu, MatMul...)."""

    def mapping(graph: OnnxGraph, call: Call) -> str:
        return graph.add(onnx_type, same_type(graph, call))

    mapping.__name__ = mapping.__qualname__ = onnx_type.lower()
    return mapping


def power(graph: OnnxGraph, call: Call) -> str:
    """x ** p: ONNX's Pow with the constant exponent as a tensor of the output's type."""
    (x,) = same_type(graph, call)
    exponent = np.asarray(call.constants["exponent"], dtype=call.output_values[0].dtype)
    return graph.add("Pow", [x, graph.constant(exponent, "exponent")])


def softmax(onnx_type: str):
    """Softmax and LogSoftmax: one ONNX node over one axis (opset 13 onwards: the axis alone)."""

    def mapping(graph: OnnxGraph, call: Call) -> str:
        (x,) = same_type(graph, call)
        axis = call.constants.get("axis", -1)
        (axis,) = normalize_axes(onnx_type, axis, call.input_values[0].ndim)
        return graph.add(onnx_type, [x], axis=axis)

    mapping.__name__ = mapping.__qualname__ = onnx_type.lower()
    return mapping


def reduction(onnx_type: str):
    """Sum, Mean and Max: ReduceSum, ReduceMean, ReduceMax, with the axes as an input (opset
    18); no axes at all (``axis=()``) leave the input as it is, as in NumPy."""

    def mapping(graph: OnnxGraph, call: Call) -> str:
        (x,) = same_type(graph, call)
        axes = normalize_axes(onnx_type, call.constants.get("axis"), call.input_values[0].ndim)
        keepdims = int(bool(call.constants.get("keepdims", False)))
        if not axes:
            return graph.add(onnx_type, [x], keepdims=keepdims, noop_with_empty_axes=1)
        return graph.add(onnx_type, [x, graph.int64s(axes, "axes")], keepdims=keepdims)

    mapping.__name__ = mapping.__qualname__ = onnx_type.lower()
    return mapping


def expand(graph: OnnxGraph, call: Call) -> str:
    """Expand to the recorded shape. A size that follows the batch is written as 1 when every
    reader of the result broadcasts (Add, Mul, ...: ONNX broadcasts as NumPy does, so the result
    is the same), else computed from the batch size at run time."""
    shape = list(call.output_values[0].shape)
    dynamic = call.dynamic_axes()
    if not dynamic:
        target = graph.int64s(shape, "shape")
    elif call.consumers[0] and all(reader.op.broadcasts for reader in call.consumers[0]):
        target = graph.int64s([1 if a in dynamic else n for a, n in enumerate(shape)], "shape")
    else:
        twin_shape = call.twin.output_values[0].shape
        target = graph.runtime_shape(tuple(shape), twin_shape, "Expand")
    return graph.add("Expand", [call.inputs[0], target])


def reshape(graph: OnnxGraph, call: Call) -> str:
    """Reshape to the recorded shape. With a dynamic batch, a size that follows the batch is 0
    (ONNX: keep the input's size) where the input has the same size on that axis, else -1 (ONNX:
    whatever remains) if it is the only one, else computed from the batch size at run time."""
    shape = list(call.output_values[0].shape)
    dynamic = call.dynamic_axes()
    if not dynamic:
        return graph.add("Reshape", [call.inputs[0], graph.int64s(shape, "shape")], allowzero=1)
    input_shape, twin_input_shape = call.input_values[0].shape, call.twin.inputs[0].value.shape
    twin_shape = call.twin.output_values[0].shape
    target = list(shape)
    for axis in dynamic:
        if axis < len(input_shape) and (input_shape[axis], twin_input_shape[axis]) == (
            shape[axis],
            twin_shape[axis],
        ):
            target[axis] = 0
    left = [axis for axis in dynamic if target[axis] != 0]
    if 0 in [shape[axis] for axis in range(len(shape)) if axis not in dynamic] or len(left) > 1:
        # An empty axis (0 would mean "keep") or several sizes to infer: sizes at run time.
        new_shape = graph.runtime_shape(tuple(shape), twin_shape, "Reshape")
        return graph.add("Reshape", [call.inputs[0], new_shape], allowzero=1)
    if left:
        target[left[0]] = -1
    return graph.add("Reshape", [call.inputs[0], graph.int64s(target, "shape")])


def transpose(graph: OnnxGraph, call: Call) -> str:
    axes = call.constants.get("axes")
    ndim = call.input_values[0].ndim
    if ndim == 0:  # ONNX cannot write an empty permutation
        return graph.add("Identity", [call.inputs[0]])
    perm = list(range(ndim))[::-1] if axes is None else [int(a) % ndim for a in axes]
    return graph.add("Transpose", [call.inputs[0]], perm=perm)


def cast(graph: OnnxGraph, call: Call) -> str:
    dtype = call.output_values[0].dtype
    return graph.add("Cast", [call.inputs[0]], to=graph.onnx.helper.np_dtype_to_tensor_dtype(dtype))


def index_parts(index, ndim: int) -> list:
    """An index as one part per input axis or new axis: Ellipsis spelled out, missing trailing
    axes as full slices, lists as arrays."""
    parts = list(index) if isinstance(index, tuple) else [index]
    parts = [np.asarray(p) if isinstance(p, list | np.ndarray) else p for p in parts]
    used = sum(1 for p in parts if p is not None and p is not Ellipsis)
    used += sum(p.ndim - 1 for p in parts if isinstance(p, np.ndarray) and p.dtype == bool)
    fill = [slice(None)] * (ndim - used)
    if any(p is Ellipsis for p in parts):
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        return parts[:at] + fill + parts[at + 1 :]
    return parts + fill


def is_basic(parts: list) -> bool:
    return all(
        isinstance(p, int | np.integer | slice) and not isinstance(p, bool) or p is None
        for p in parts
    )


def select(graph: OnnxGraph, call: Call) -> str:
    """x[index]. Ints, slices and None: Slice, then Squeeze (for ints) and Unsqueeze (for None),
    valid at any batch size. One integer array on one axis: Gather. Anything else (several
    arrays, masks): Gather from the flattened input at positions computed now, which fixes the
    input's shape."""
    x, value = call.inputs[0], call.input_values[0]
    parts = index_parts(call.constants["index"], value.ndim)
    if is_basic(parts):
        return basic_index(graph, x, parts)
    arrays = [i for i, p in enumerate(parts) if isinstance(p, np.ndarray)]
    others_full = all(p == slice(None) for i, p in enumerate(parts) if i not in arrays)
    if len(arrays) == 1 and parts[arrays[0]].dtype.kind in "iu" and others_full:
        positions = parts[arrays[0]].astype(np.int64)
        return graph.add("Gather", [x, graph.constant(positions, "index")], axis=arrays[0])
    if call.input_dynamic_axes(0):
        raise OnnxExportError(
            "export: Select with this index (several arrays or a mask) is written for a fixed "
            f"input shape, but the input's shape {value.shape} follows the batch; pass "
            "dynamic_batch=False"
        )
    positions = np.arange(value.size, dtype=np.int64).reshape(value.shape)[call.constants["index"]]
    flat = graph.add("Reshape", [x, graph.int64s([-1], "shape")])
    return graph.add("Gather", [flat, graph.constant(positions, "index")], axis=0)


def basic_index(graph: OnnxGraph, x: str, parts: list) -> str:
    starts, ends, axes, steps, squeezed, inserted = [], [], [], [], [], []
    axis = out_axis = 0
    for part in parts:
        if part is None:
            inserted.append(out_axis)
            out_axis += 1
            continue
        if isinstance(part, slice):
            step = 1 if part.step is None else part.step
            if (part.start, part.stop, step) != (None, None, 1):
                # An open end is the far end in the step's direction: ONNX clamps as NumPy does.
                first, last = (0, INT64_MAX) if step > 0 else (INT64_MAX, INT64_MIN)
                starts.append(first if part.start is None else part.start)
                ends.append(last if part.stop is None else part.stop)
                axes.append(axis)
                steps.append(step)
            out_axis += 1
        else:  # an int: the slice [i, i + 1), then squeezed
            i = int(part)
            starts.append(i)
            ends.append(INT64_MAX if i == -1 else i + 1)
            axes.append(axis)
            steps.append(1)
            squeezed.append(axis)
        axis += 1
    y = x
    if axes:
        bounds = [graph.int64s(v, name) for v, name in [(starts, "starts"), (ends, "ends")]]
        axes, steps = graph.int64s(axes, "axes"), graph.int64s(steps, "steps")
        y = graph.add("Slice", [y, *bounds, axes, steps])
    if squeezed:
        y = graph.add("Squeeze", [y, graph.int64s(squeezed, "axes")])
    if inserted:
        y = graph.add("Unsqueeze", [y, graph.int64s(inserted, "axes")])
    return y if y != x else graph.add("Identity", [x])


def scatter(graph: OnnxGraph, call: Call) -> str:
    """Select's backward: zeros of the shape with x added at the index. ScatterElements (adding)
    into the flattened zeros at positions computed now, then reshaped: a fixed shape."""
    shape, dtype = call.constants["shape"], call.output_values[0].dtype
    if call.input_dynamic_axes(0) or call.dynamic_axes():
        raise OnnxExportError(
            "export: Scatter is written for a fixed shape, but its shape follows the batch; pass "
            "dynamic_batch=False"
        )
    size = int(np.prod(shape))
    positions = np.arange(size, dtype=np.int64).reshape(shape)[call.constants["index"]]
    flat = graph.add("Reshape", [call.inputs[0], graph.int64s([-1], "shape")])
    zeros = graph.constant(np.zeros(size, dtype=dtype), "zeros")
    index = graph.constant(np.ascontiguousarray(positions).reshape(-1), "index")
    added = graph.add("ScatterElements", [zeros, index, flat], axis=0, reduction="add")
    return graph.add("Reshape", [added, graph.int64s(shape, "shape")], allowzero=1)


def batch_norm(graph: OnnxGraph, call: Call) -> str:
    """Batch norm with running statistics: ONNX's BatchNormalization (inference form), whose
    channels are axis 1. Over several feature axes (x of shape (n, *features)), the features are
    flattened into one axis around it."""
    constants = call.constants
    if constants.get("training", True):
        raise OnnxExportError(
            "export: BatchNorm ran in training mode (batch statistics), which ONNX inference "
            "does not have; export a Module (export puts it in evaluation mode) or call "
            "batch_norm with training=False and running statistics"
        )
    x, gamma, beta = same_type(graph, call)
    value = call.input_values[0]
    statistics = []
    for key in ("running_mean", "running_var"):
        array = constants[key]
        name = graph.names.buffers.get(id(array))
        statistics.append(
            graph.constant(
                array.astype(value.dtype, copy=False), name or key, key=array, scoped=not name
            )
        )
    eps = float(constants.get("eps", 1e-5))
    if value.ndim == 2:
        return graph.add("BatchNormalization", [x, gamma, beta, *statistics], epsilon=eps)
    flat = graph.int64s([-1], "shape")
    gamma, beta, *statistics = [graph.add("Reshape", [p, flat]) for p in [gamma, beta, *statistics]]
    rows = graph.add("Reshape", [x, graph.int64s([0, -1], "shape")])
    y = graph.add("BatchNormalization", [rows, gamma, beta, *statistics], epsilon=eps)
    return graph.add("Reshape", [y, graph.int64s([0, *value.shape[1:]], "shape")])


def softmax_cross_entropy(graph: OnnxGraph, call: Call) -> str:
    """The fused loss: ONNX's SoftmaxCrossEntropyLoss, with the labels as a constant."""
    (logits,) = same_type(graph, call)
    labels = graph.constant(np.asarray(call.constants["labels"], dtype=np.int64), "labels")
    reduction = call.constants.get("reduction", "mean")
    ignore_index = int(call.constants.get("ignore_index", -100))
    return graph.add(
        "SoftmaxCrossEntropyLoss", [logits, labels], reduction=reduction, ignore_index=ignore_index
    )


#: Each op of the engine and the function that writes it in ONNX.
MAPPINGS = {
    Add: elementwise("Add"),
    Sub: elementwise("Sub"),
    Mul: elementwise("Mul"),
    Div: elementwise("Div"),
    Neg: elementwise("Neg"),
    Abs: elementwise("Abs"),
    Exp: elementwise("Exp"),
    Log: elementwise("Log"),
    Pow: power,
    MatMul: elementwise("MatMul"),
    Relu: elementwise("Relu"),
    Sigmoid: elementwise("Sigmoid"),
    Tanh: elementwise("Tanh"),
    Softmax: softmax("Softmax"),
    LogSoftmax: softmax("LogSoftmax"),
    Sum: reduction("ReduceSum"),
    Mean: reduction("ReduceMean"),
    Max: reduction("ReduceMax"),
    Expand: expand,
    Reshape: reshape,
    Transpose: transpose,
    Select: select,
    Scatter: scatter,
    Cast: cast,
    BatchNorm: batch_norm,
    SoftmaxCrossEntropy: softmax_cross_entropy,
}
