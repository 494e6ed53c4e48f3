"""How each op of the engine is written in ONNX (opset 18): one plain function per op.

A mapping takes the graph being written and the op's ``Call`` (its ONNX input names, its
constants, its recorded values) and returns the ONNX names of the op's outputs. Most ops are one
ONNX node. A few take several: indexing (Slice, then Squeeze or Unsqueeze), batch norm over more
than one feature axis (Reshape around BatchNormalization), the gradient ops of convolution and
pooling (Transpose around Conv; Gather or ScatterElements on the flattened input), and a size
that follows a dynamic batch where no 0 or -1 can say it (Shape, Mul and Concat compute it).

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
    AvgPool2d,
    AvgUnpool2d,
    BatchNorm,
    Cast,
    Conv2d,
    Conv2dWeightGrad,
    ConvTranspose2d,
    Div,
    Exp,
    Expand,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    MaxPool2d,
    MaxUnpool2d,
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
    WindowGather2d,
)
from autograd.ops.conv import conv_arguments, pool_arguments
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
    channels are axis 1 (BatchNorm1d, and BatchNorm2d's axes (0, 2, 3)). Over several feature
    axes (axes (0,), x of shape (n, *features)), the features are flattened into one axis
    around it."""
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
    axes = tuple(constants.get("axes", (0,)))
    if value.ndim == 2 or axes == (0, *range(2, value.ndim)):  # one statistic per channel
        return graph.add("BatchNormalization", [x, gamma, beta, *statistics], epsilon=eps)
    if axes != (0,):
        raise OnnxExportError(
            f"export: BatchNorm over axes {axes} of shape {value.shape} has no ONNX form here "
            "(ONNX normalises over every axis but the channels, axis 1); move the channels to "
            "axis 1 first"
        )
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


# ----- convolution and pooling (NCHW, as ONNX) -----------------------------------------------


def onnx_pads(padding: tuple[int, int, int, int]) -> list[int]:
    """The engine's (top, bottom, left, right) as ONNX's [top, left, bottom, right]."""
    top, bottom, left, right = padding
    return [top, left, bottom, right]


def convolution(graph: OnnxGraph, call: Call) -> str:
    """Conv2d: ONNX's Conv, with the bias as its third input when there is one."""
    x, weight = call.input_values[:2]
    stride, padding, dilation, groups = conv_arguments(
        "Conv2d", x.shape, weight.shape, *conv_constants(call.constants)
    )
    return graph.add(
        "Conv",
        same_type(graph, call),
        kernel_shape=list(weight.shape[2:]),
        strides=list(stride),
        pads=onnx_pads(padding),
        dilations=list(dilation),
        group=groups,
    )


def conv_constants(constants: dict) -> tuple:
    return tuple(
        constants.get(name, default)
        for name, default in [("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)]
    )


def transposed_convolution(
    graph, inputs, weight_shape, stride, padding, dilation, groups, grad_size, input_shape
) -> str:
    """ONNX's ConvTranspose, its output padding chosen to give back ``input_shape``'s height
    and width (rows that no window reached are zeros, in ONNX as here)."""
    extra = []
    for axis in (0, 1):
        kernel, size = weight_shape[2 + axis], input_shape[2 + axis]
        before, after = padding[2 * axis], padding[2 * axis + 1]
        span = dilation[axis] * (kernel - 1) + 1
        extra.append(size - (stride[axis] * (grad_size[axis] - 1) + span - before - after))
    return graph.add(
        "ConvTranspose",
        inputs,
        kernel_shape=list(weight_shape[2:]),
        strides=list(stride),
        pads=onnx_pads(padding),
        dilations=list(dilation),
        group=groups,
        output_padding=extra,
    )


def conv_transpose(graph: OnnxGraph, call: Call) -> str:
    """ConvTranspose2d (Conv2d's input gradient): ONNX's ConvTranspose, whose weight layout
    (in, out / groups, kh, kw) is Conv2d's weight read the other way."""
    grad, weight = call.input_values
    c = call.constants
    return transposed_convolution(
        graph,
        same_type(graph, call),
        weight.shape,
        c["stride"],
        c["padding"],
        c["dilation"],
        c["groups"],
        grad.shape[2:],
        c["input_shape"],
    )


def conv_weight_grad(graph: OnnxGraph, call: Call) -> str:
    """Conv2dWeightGrad (Conv2d's weight gradient): a convolution of x with dL/dy in which the
    batch plays the channels: Conv(x^T, g^T) with stride and dilation swapped, its surplus rows
    and columns cut to the kernel, then transposed back to (out, in, kh, kw)."""
    c = call.constants
    if c["groups"] != 1:
        raise OnnxExportError(
            "export: Conv2dWeightGrad (the weight gradient of a grouped convolution) has no ONNX "
            "form here; export a graph without gradients of grouped convolutions"
        )
    x, grad = (graph.add("Transpose", [name], perm=[1, 0, 2, 3]) for name in same_type(graph, call))
    kernel = list(c["kernel_size"])
    y = graph.add(
        "Conv",
        [x, grad],
        kernel_shape=list(call.input_values[1].shape[2:]),
        strides=list(c["dilation"]),
        pads=onnx_pads(c["padding"]),
        dilations=list(c["stride"]),
    )
    zeros, ends = graph.int64s([0, 0], "starts"), graph.int64s(kernel, "ends")
    y = graph.add("Slice", [y, zeros, ends, graph.int64s([2, 3], "axes")])
    return graph.add("Transpose", [y], perm=[1, 0, 2, 3])


def pooling(onnx_type: str, **attributes):
    """MaxPool2d and AvgPool2d: ONNX's MaxPool and AveragePool (for the average, padding counts
    as zeros: count_include_pad, PyTorch's default and ours)."""

    def mapping(graph: OnnxGraph, call: Call) -> str:
        kernel, stride, padding, _ = pool_arguments(
            call.op_node.op.__name__,
            call.input_values[0],
            call.constants["kernel_size"],
            call.constants.get("stride"),
            call.constants.get("padding", 0),
        )
        return graph.add(
            onnx_type,
            [call.inputs[0]],
            kernel_shape=list(kernel),
            strides=list(stride),
            pads=onnx_pads(padding),
            **attributes,
        )

    mapping.__name__ = mapping.__qualname__ = onnx_type.lower()
    return mapping


def avg_unpool(graph: OnnxGraph, call: Call) -> str:
    """AvgUnpool2d (AvgPool2d's gradient): a transposed convolution of each channel with a
    kernel of 1 / (kh * kw)."""
    x = call.input_values[0]
    kernel, stride, padding = (call.constants[k] for k in ("kernel", "stride", "padding"))
    channels = x.shape[1]
    weight = np.full((channels, 1, *kernel), 1 / (kernel[0] * kernel[1]), dtype=x.dtype)
    inputs = [call.inputs[0], graph.constant(weight, "weight")]
    input_shape = call.constants["input_shape"]
    return transposed_convolution(
        graph, inputs, weight.shape, stride, padding, (1, 1), channels, x.shape[2:], input_shape
    )


def window_positions(call: Call, input_shape) -> np.ndarray:
    """For each window of a max pooling, where its remembered maximum is in the flattened input,
    or -1 where it lies in the padding."""
    argmax, kernel = call.constants["argmax"], call.constants["kernel"]
    stride, (top, _, left, _) = call.constants["stride"], call.constants["padding"]
    n, c, p, q = np.indices(argmax.shape, dtype=np.int64)
    i, j = np.divmod(argmax.astype(np.int64), kernel[1])
    rows, columns = p * stride[0] + i - top, q * stride[1] + j - left
    _, channels, height, width = input_shape
    inside = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
    return np.where(inside, ((n * channels + c) * height + rows) * width + columns, -1)


def static_only(call: Call) -> None:
    if call.input_dynamic_axes(0):
        raise OnnxExportError(
            f"export: {call.op_node.op.__name__} is written for a fixed shape (its positions are "
            "computed now), but its input follows the batch; pass dynamic_batch=False"
        )


def window_gather(graph: OnnxGraph, call: Call) -> str:
    """WindowGather2d (MaxUnpool2d's gradient): Gather from the flattened input, with a zero
    appended for positions in the padding."""
    static_only(call)
    x = call.input_values[0]
    positions = window_positions(call, x.shape)
    positions = np.where(positions < 0, x.size, positions)  # the appended zero
    flat = graph.add("Reshape", [call.inputs[0], graph.int64s([-1], "shape")])
    zero = graph.constant(np.zeros(1, dtype=x.dtype), "zero")
    padded = graph.add("Concat", [flat, zero], axis=0)
    return graph.add("Gather", [padded, graph.constant(positions, "index")], axis=0)


def max_unpool(graph: OnnxGraph, call: Call) -> str:
    """MaxUnpool2d (MaxPool2d's gradient): ScatterElements (adding) into flattened zeros at the
    remembered maxima; values whose maximum lies in the padding are dropped."""
    static_only(call)
    x, input_shape = call.input_values[0], call.constants["input_shape"]
    positions = window_positions(call, input_shape).reshape(-1)
    kept = np.flatnonzero(positions >= 0)
    flat = graph.add("Reshape", [call.inputs[0], graph.int64s([-1], "shape")])
    if len(kept) < len(positions):
        flat = graph.add("Gather", [flat, graph.constant(kept, "index")], axis=0)
    zeros = graph.constant(np.zeros(int(np.prod(input_shape)), dtype=x.dtype), "zeros")
    index = graph.constant(positions[kept], "index")
    added = graph.add("ScatterElements", [zeros, index, flat], axis=0, reduction="add")
    return graph.add("Reshape", [added, graph.int64s(input_shape, "shape")])


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
    Conv2d: convolution,
    ConvTranspose2d: conv_transpose,
    Conv2dWeightGrad: conv_weight_grad,
    MaxPool2d: pooling("MaxPool"),
    AvgPool2d: pooling("AveragePool", count_include_pad=1),
    MaxUnpool2d: max_unpool,
    WindowGather2d: window_gather,
    AvgUnpool2d: avg_unpool,
}
