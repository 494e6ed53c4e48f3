"""Convolution and pooling over images in NCHW layout (batch, channels, height, width).

How a convolution is computed here (the "patch matrix", also called im2col):

1. Pad the input with zeros.
2. Look at it through a strided window view: ``windows[n, c, i, j, p, q]`` is the input pixel
   under kernel offset (i, j) when the kernel sits at output position (p, q). No copy is made:
   the view only steps through the padded input's memory with other strides.
3. Copy that view once into a contiguous patch matrix of shape
   (batch, groups, channels/groups * kh * kw, out_height * out_width).
4. One batched matrix product with the weight, reshaped to (groups, out/groups, in/groups*kh*kw),
   gives every output pixel of every image.

The backward pass is two more convolutions, each an op with its own backward, so gradients of
gradients work:

- dL/dx is a *transposed* convolution of dL/dy with the same weight (ConvTranspose2d): each
  output gradient is spread back over the window it came from; written as one matrix product
  followed by a loop over the kh * kw kernel offsets that adds strided slices (never a loop over
  output positions, and not ``np.add.at``, which is about 7x slower).
- dL/dw is a convolution of the input with dL/dy (Conv2dWeightGrad): the patch matrix times dL/dy.

Pooling takes the same windows: MaxPool2d keeps each window's first maximum (in row-major order,
as PyTorch) and remembers where it was; its backward scatters the gradient back there
(MaxUnpool2d), whose backward gathers from the same places (WindowGather2d). AvgPool2d's
backward spreads each gradient evenly over its window (AvgUnpool2d), whose backward is AvgPool2d.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from autograd.errors import ShapeError
from autograd.op import Op

# ----- arguments -------------------------------------------------------------------------------


def pair(op_name: str, name: str, value, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, as a pair: 3 -> (3, 3); each at least ``minimum``.

    >>> pair("Conv2d", "stride", 2, 1)
    (2, 2)
    """
    if isinstance(value, numbers.Integral):
        values = (value, value)
    else:
        values = tuple(value) if isinstance(value, tuple | list) else (value,)
    if len(values) != 2 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum for v in values
    ):
        raise ValueError(
            f"{op_name}: {name} must be an int >= {minimum} or a pair of them, got {value!r}"
        )
    return int(values[0]), int(values[1])


def conv_padding(
    op_name: str, padding, kernel: tuple[int, int], stride: tuple[int, int], dilation
) -> tuple[int, int, int, int]:
    """Padding as (top, bottom, left, right) from an int, a pair, "valid" (none) or "same" (the
    output as large as the input; the odd pixel, if any, goes at the bottom and right, as
    PyTorch does).

    >>> conv_padding("Conv2d", "same", (3, 3), (1, 1), (1, 1))
    (1, 1, 1, 1)
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding != "same":
            raise ValueError(
                f'{op_name}: padding must be an int, a pair, "same" or "valid", got {padding!r}'
            )
        if stride != (1, 1):
            raise ValueError(
                f'{op_name}: padding="same" needs stride 1, got stride {stride}; with a larger '
                "stride the output cannot keep the input's size. Give the padding as a number "
                "(for a 3x3 kernel, padding=1)"
            )
        total_h, total_w = (d * (k - 1) for d, k in zip(dilation, kernel))
        return total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2
    if isinstance(padding, tuple | list) and len(padding) == 4:  # (top, bottom, left, right)
        if all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0 for p in padding
        ):
            return tuple(int(p) for p in padding)
    ph, pw = pair(op_name, "padding", padding, 0)
    return ph, ph, pw, pw


def output_size(
    size: int, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int = 1
) -> int:
    """PyTorch's formula: floor((size + padding - dilation * (kernel - 1) - 1) / stride) + 1.

    >>> output_size(28, 3, 1, 1, 1)
    28
    """
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def _check_image(op_name: str, x: np.ndarray) -> None:
    if x.ndim != 4:
        hint = (
            f"; for one image add the batch axis first: x[None] has shape {(1, *x.shape)}"
            if x.ndim == 3
            else ""
        )
        raise ShapeError(
            f"{op_name}: expects a 4-d input (batch, channels, height, width), got shape "
            f"{x.shape}{hint}"
        )


def _check_fits(op_name, x_shape, kernel, padding, dilation) -> tuple[int, int]:
    """The padded input's (height, width), or an error when the (dilated) kernel is larger."""
    _, _, height, width = x_shape
    top, bottom, left, right = padding
    span = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel))
    padded = (height + top + bottom, width + left + right)
    if span[0] > padded[0] or span[1] > padded[1]:
        dilated = f" (dilated to {span})" if span != tuple(kernel) else ""
        raise ShapeError(
            f"{op_name}: the kernel {tuple(kernel)}{dilated} is larger than the padded input "
            f"{padded} (input {x_shape}, padding {padding}); use a smaller kernel, more padding "
            "or a larger image"
        )
    return padded


def _pad(x: np.ndarray, padding: tuple[int, int, int, int], value=0.0) -> np.ndarray:
    """x with ``padding`` (top, bottom, left, right) rows and columns of ``value`` around each
    image; x itself when there is none."""
    top, bottom, left, right = padding
    if not (top or bottom or left or right):
        return x
    n, c, h, w = x.shape
    padded = np.full((n, c, h + top + bottom, w + left + right), value, dtype=x.dtype)
    padded[:, :, top : top + h, left : left + w] = x
    return padded


def _crop(padded: np.ndarray, padding: tuple[int, int, int, int], shape) -> np.ndarray:
    """The inverse of ``_pad``: the part of ``padded`` that the input occupied (a copy)."""
    top, _, left, _ = padding
    if padded.shape == tuple(shape):
        return padded
    return np.ascontiguousarray(padded[:, :, top : top + shape[2], left : left + shape[3]])


def _windows(padded: np.ndarray, kernel, stride, dilation, out_size) -> np.ndarray:
    """A read-only view ``windows[n, c, i, j, p, q]`` = padded[n, c, p*sh + i*dh, q*sw + j*dw]:
    kernel offset (i, j) at output position (p, q). No copy."""
    sn, sc, sh, sw = padded.strides
    return as_strided(
        padded,
        shape=(*padded.shape[:2], *kernel, *out_size),
        strides=(sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
        writeable=False,
    )


def _offset_slices(kernel, stride, dilation, out_size):
    """For each kernel offset (i, j), the slices of the padded input it reads at every output
    position: rows i*dh, i*dh + sh, ..., and columns likewise."""
    for i in range(kernel[0]):
        rows = slice(
            i * dilation[0], i * dilation[0] + stride[0] * (out_size[0] - 1) + 1, stride[0]
        )
        for j in range(kernel[1]):
            columns = slice(
                j * dilation[1], j * dilation[1] + stride[1] * (out_size[1] - 1) + 1, stride[1]
            )
            yield i, j, (Ellipsis, rows, columns)


def _patches(
    x, kernel, stride, padding, dilation, groups, batch_last=False
) -> tuple[np.ndarray, tuple[int, int]]:
    """The patch matrix of x, one contiguous copy of the window view, and the output's (height,
    width). Its shape is (batch, groups, in/groups * kh * kw, out_h * out_w), or with
    ``batch_last`` (groups, in/groups * kh * kw, batch * out_h * out_w), which the weight's
    gradient multiplies in one product."""
    padded = _pad(x, padding)
    out_size = (
        output_size(padded.shape[2], kernel[0], stride[0], 0, 0, dilation[0]),
        output_size(padded.shape[3], kernel[1], stride[1], 0, 0, dilation[1]),
    )
    windows = _windows(padded, kernel, stride, dilation, out_size)
    n, c = x.shape[:2]
    rows = c // groups * kernel[0] * kernel[1]
    if batch_last:  # (c, kh, kw, n, out_h, out_w)
        patches = np.ascontiguousarray(windows.transpose(1, 2, 3, 0, 4, 5))
        return patches.reshape(groups, rows, n * out_size[0] * out_size[1]), out_size
    patches = np.ascontiguousarray(windows)
    return patches.reshape(n, groups, rows, out_size[0] * out_size[1]), out_size


def conv_arguments(op_name: str, x_shape, weight_shape, stride, padding, dilation, groups):
    """Check a convolution's shapes and arguments; returns (stride, padding, dilation, groups)
    normalised: pairs, padding as (top, bottom, left, right)."""
    stride = pair(op_name, "stride", stride, 1)
    dilation = pair(op_name, "dilation", dilation, 1)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op_name}: groups must be a positive int, got {groups!r}")
    if len(weight_shape) != 4:
        raise ShapeError(
            f"{op_name}: the weight must be 4-d (out_channels, in_channels / groups, kh, kw), "
            f"got shape {tuple(weight_shape)}"
        )
    out_channels, group_channels, kh, kw = weight_shape
    padding = conv_padding(op_name, padding, (kh, kw), stride, dilation)
    channels = x_shape[1]
    if channels % groups or out_channels % groups:
        raise ShapeError(
            f"{op_name}: channels do not split into groups={groups}: the input has {channels} "
            f"channels and the weight {out_channels} output channels (shape "
            f"{tuple(weight_shape)}); both must be multiples of groups"
        )
    if channels // groups != group_channels:
        raise ShapeError(
            f"{op_name}: the input has {channels} channels (shape {tuple(x_shape)}) but the "
            f"weight of shape {tuple(weight_shape)} expects {group_channels * groups} "
            f"(in_channels / groups = {group_channels}, groups = {groups}); give the input "
            f"{group_channels * groups} channels or a weight of shape "
            f"({out_channels}, {channels // groups}, {kh}, {kw})"
        )
    _check_fits(op_name, x_shape, (kh, kw), padding, dilation)
    return stride, padding, dilation, int(groups)


# ----- convolution -----------------------------------------------------------------------------


class Conv2d(Op):
    """Cross-correlation, as in every deep-learning library (the kernel is not flipped):

        y[n, o, p, q] = b[o] + sum over c, i, j of
                        w[o, c, i, j] * xpad[n, g*C/G + c, p*sh + i*dh, q*sw + j*dw]
        (g = the group of output channel o; C/G input channels per group)
        dL/dx = ConvTranspose2d(dL/dy, w)        the transposed convolution
        dL/dw = Conv2dWeightGrad(x, dL/dy)       a convolution of x with dL/dy
        dL/db = sum of dL/dy over (n, p, q)

    x (N, C, H, W); w (O, C / groups, kh, kw); b (O,) or absent. ``stride``, ``padding`` (an
    int, a pair, "same" or "valid") and ``dilation`` take an int or a pair.

    >>> y = Conv2d.do_forward(x, w, b, stride=1, padding=1)   # x (8, 3, 32, 32), w (16, 3, 3, 3)
    """

    promotes = True
    differentiable_backward = True

    @staticmethod
    def forward(context, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        _check_image("Conv2d", x)
        stride, padding, dilation, groups = conv_arguments(
            "Conv2d", x.shape, weight.shape, stride, padding, dilation, groups
        )
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ShapeError(
                f"Conv2d: the bias must have shape ({weight.shape[0]},), one per output channel "
                f"of the weight {weight.shape}, got {bias.shape}"
            )
        y = _convolve(x, weight, stride, padding, dilation, groups)
        if bias is not None:
            y += bias.reshape(-1, 1, 1).astype(y.dtype, copy=False)
        context["x"], context["weight"] = x, weight
        context["arguments"] = stride, padding, dilation, groups
        return y

    @staticmethod
    def backward(context, grad_output):
        x, weight = context["x"], context["weight"]
        stride, padding, dilation, groups = context["arguments"]
        needs = context["needs_input_grad"]
        grad_x = grad_weight = grad_bias = None
        arrays = isinstance(grad_output, np.ndarray)
        if needs[0]:
            arguments = dict(
                stride=stride, padding=padding, dilation=dilation, groups=groups,
                input_shape=x.shape,
            )  # fmt: skip
            if arrays:
                grad_x = ConvTranspose2d.forward({}, grad_output, weight, **arguments)
            else:
                grad_x = ConvTranspose2d.do_forward(grad_output, weight, **arguments)
        if needs[1]:
            arguments = dict(
                stride=stride, padding=padding, dilation=dilation, groups=groups,
                kernel_size=weight.shape[2:],
            )  # fmt: skip
            if arrays:
                grad_weight = Conv2dWeightGrad.forward({}, x, grad_output, **arguments)
            else:
                grad_weight = Conv2dWeightGrad.do_forward(x, grad_output, **arguments)
        if len(needs) == 3 and needs[2]:
            grad_bias = grad_output.sum(axis=(0, 2, 3))
        return (grad_x, grad_weight) if len(needs) == 2 else (grad_x, grad_weight, grad_bias)


def _convolve(x, weight, stride, padding, dilation, groups) -> np.ndarray:
    """y = w @ patches(x), per group: the forward of Conv2d without the bias."""
    out_channels, group_channels, kh, kw = weight.shape
    patches, out_size = _patches(x, (kh, kw), stride, padding, dilation, groups)
    w = weight.reshape(groups, out_channels // groups, group_channels * kh * kw)
    if w.dtype != patches.dtype:
        dtype = np.result_type(w, patches)
        w, patches = w.astype(dtype, copy=False), patches.astype(dtype, copy=False)
    y = np.matmul(w, patches)  # (N, G, O/G, L): one matrix product per image and group
    return y.reshape(x.shape[0], out_channels, *out_size)


class ConvTranspose2d(Op):
    """The transposed convolution: Conv2d's input gradient, as an op of its own.

        y = zeros of input_shape;  for each output position (p, q) and kernel offset (i, j):
            ypad[n, c, p*sh + i*dh, q*sw + j*dw] += sum over o of w[o, c, i, j] * g[n, o, p, q]
        dL/dg = Conv2d(dL/dy, w)                  (the convolution it transposes)
        dL/dw = Conv2dWeightGrad(dL/dy, g)

    Computed as cols = w^T @ g (the patch matrix's gradient), then one strided add per kernel
    offset into the padded input's shape, then the padding cut off. Rows and columns that no
    window reached (when the stride does not divide the input) get zero.
    """

    promotes = True
    differentiable_backward = True

    @staticmethod
    def forward(context, grad_output, weight, stride, padding, dilation, groups, input_shape):
        context["grad_output"], context["weight"] = grad_output, weight
        context["arguments"] = stride, padding, dilation, groups, tuple(input_shape)
        out_channels, group_channels, kh, kw = weight.shape
        n, _, out_h, out_w = grad_output.shape
        dtype = np.result_type(grad_output, weight)
        # The weight's rows ordered (i, j, c), so that cols[:, :, i, j] below is one block.
        w = weight.astype(dtype, copy=False).reshape(groups, -1, group_channels, kh, kw)
        w = np.ascontiguousarray(w.transpose(0, 3, 4, 2, 1)).reshape(groups, -1, w.shape[1])
        g = grad_output.astype(dtype, copy=False).reshape(n, groups, -1, out_h * out_w)
        cols = np.matmul(w, g).reshape(n, groups, kh, kw, group_channels, out_h, out_w)
        top, bottom, left, right = padding
        _, channels, height, width = input_shape
        padded = np.zeros((n, channels, height + top + bottom, width + left + right), dtype)
        by_group = padded.reshape(n, groups, group_channels, *padded.shape[2:])
        for i, j, where in _offset_slices((kh, kw), stride, dilation, (out_h, out_w)):
            by_group[where] += cols[:, :, i, j]
        return _crop(padded, padding, input_shape)

    @staticmethod
    def backward(context, grad_input):
        grad_output, weight = context["grad_output"], context["weight"]
        stride, padding, dilation, groups, _ = context["arguments"]
        needs_g, needs_w = context["needs_input_grad"]
        arrays = isinstance(grad_input, np.ndarray)
        grad_g = grad_w = None
        arguments = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        if needs_g:
            if arrays:
                grad_g = _convolve(grad_input, weight, stride, padding, dilation, groups)
            else:
                grad_g = Conv2d.do_forward(grad_input, weight, **arguments)
        if needs_w:
            kernel = weight.shape[2:]
            if arrays:
                grad_w = Conv2dWeightGrad.forward(
                    {}, grad_input, grad_output, kernel_size=kernel, **arguments
                )
            else:
                grad_w = Conv2dWeightGrad.do_forward(
                    grad_input, grad_output, kernel_size=kernel, **arguments
                )
        return grad_g, grad_w


class Conv2dWeightGrad(Op):
    """Conv2d's weight gradient, as an op of its own: a convolution of x with g = dL/dy.

    y[o, c, i, j] = sum over n, p, q of g[n, o, p, q] * xpad[n, c', p*sh + i*dh, q*sw + j*dw]
    (c' = channel c of output channel o's group), i.e. per group  y = g @ patches(x)^T
    dL/dx = ConvTranspose2d(g, dL/dy)         dL/dy plays the weight
    dL/dg = Conv2d(x, dL/dy)
    """

    promotes = True
    differentiable_backward = True

    @staticmethod
    def forward(context, x, grad_output, stride, padding, dilation, groups, kernel_size):
        context["x"], context["grad_output"] = x, grad_output
        context["arguments"] = stride, padding, dilation, groups
        kernel = tuple(kernel_size)
        patches, out_size = _patches(x, kernel, stride, padding, dilation, groups, True)
        n, out_channels = grad_output.shape[:2]
        dtype = np.result_type(x, grad_output)
        g = grad_output.reshape(n, groups, out_channels // groups, out_size[0] * out_size[1])
        # Sum over images and positions in one product per group: (G, K, N*L) @ (G, N*L, O/G),
        # then transposed (measured faster than (G, O/G, N*L) @ (G, N*L, K)).
        g = g.astype(dtype, copy=False).transpose(1, 2, 0, 3).reshape(groups, -1, n * g.shape[3])
        grad_weight = np.matmul(patches.astype(dtype, copy=False), g.transpose(0, 2, 1))
        grad_weight = grad_weight.transpose(0, 2, 1)  # (G, O/G, K)
        return grad_weight.reshape(out_channels, x.shape[1] // groups, *kernel)

    @staticmethod
    def backward(context, grad_weight_grad):
        x, grad_output = context["x"], context["grad_output"]
        stride, padding, dilation, groups = context["arguments"]
        needs_x, needs_g = context["needs_input_grad"]
        arrays = isinstance(grad_weight_grad, np.ndarray)
        arguments = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        grad_x = grad_g = None
        if needs_x:
            if arrays:
                grad_x = ConvTranspose2d.forward(
                    {}, grad_output, grad_weight_grad, input_shape=x.shape, **arguments
                )
            else:
                grad_x = ConvTranspose2d.do_forward(
                    grad_output, grad_weight_grad, input_shape=x.shape, **arguments
                )
        if needs_g:
            if arrays:
                grad_g = _convolve(x, grad_weight_grad, stride, padding, dilation, groups)
            else:
                grad_g = Conv2d.do_forward(x, grad_weight_grad, **arguments)
        return grad_x, grad_g


# ----- pooling ---------------------------------------------------------------------------------


def pool_arguments(op_name: str, x, kernel_size, stride, padding):
    """Check a pooling's arguments against x; returns (kernel, stride, padding, out_size), with
    padding as (top, bottom, left, right). The stride defaults to the kernel; padding may be at
    most half the kernel, as in PyTorch (a window of padding alone would pool nothing)."""
    _check_image(op_name, x)
    kernel = pair(op_name, "kernel_size", kernel_size, 1)
    stride = kernel if stride is None else pair(op_name, "stride", stride, 1)
    ph, pw = pair(op_name, "padding", padding, 0)
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise ValueError(
            f"{op_name}: padding {(ph, pw)} must be at most half the kernel {kernel}, i.e. at "
            f"most {(kernel[0] // 2, kernel[1] // 2)}"
        )
    padding = (ph, ph, pw, pw)
    padded = _check_fits(op_name, x.shape, kernel, padding, (1, 1))
    out_size = tuple(output_size(p, k, s, 0, 0) for p, k, s in zip(padded, kernel, stride))
    return kernel, stride, padding, out_size


class MaxPool2d(Op):
    """The largest value of each window; padding counts as -inf:

        y[n, c, p, q] = max over (i, j) of xpad[n, c, p*sh + i, q*sw + j]
        dL/dx = MaxUnpool2d(dL/dy): each window's gradient goes to its maximum, the first in
                row-major order when several are equal (as PyTorch); overlapping windows add.

    A NaN in a window is its maximum, as in PyTorch.

    >>> y = MaxPool2d.do_forward(x, kernel_size=2)            # x (8, 16, 28, 28) -> (8, 16, 14, 14)
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, x, kernel_size, stride=None, padding=0):
        kernel, stride, padding, out_size = pool_arguments(
            "MaxPool2d", x, kernel_size, stride, padding
        )
        stacked = _stacked_windows(_pad(x, padding, -np.inf), kernel, stride, out_size)
        y = np.maximum.reduce(stacked, axis=0)
        # Where each maximum is: the first offset k (row-major in the window) equal to it.
        argmax = np.zeros(y.shape, dtype=np.min_scalar_type(len(stacked) - 1))
        found = np.zeros(y.shape, dtype=bool)
        for k, values in enumerate(stacked):
            first = values == y
            first &= ~found
            argmax += first * argmax.dtype.type(k)
            found |= first
        if np.isnan(x.sum()):  # rare, so a second pass: a window's NaN is its maximum
            _point_at_nans(stacked, argmax)
        context["argmax"] = argmax
        context["arguments"] = kernel, stride, padding, tuple(x.shape)
        return y

    @staticmethod
    def backward(context, grad_output):
        kernel, stride, padding, input_shape = context["arguments"]
        arguments = dict(
            argmax=context["argmax"], kernel=kernel, stride=stride, padding=padding,
            input_shape=input_shape,
        )  # fmt: skip
        if isinstance(grad_output, np.ndarray):
            return MaxUnpool2d.forward({}, grad_output, **arguments)
        return MaxUnpool2d.do_forward(grad_output, **arguments)


def _stacked_windows(padded, kernel, stride, out_size) -> np.ndarray:
    """The window view copied once, offsets first: shape (kh * kw, N, C, out_h, out_w), where
    ``stacked[i * kw + j]`` holds kernel offset (i, j) of every window. The passes over it are
    then over contiguous arrays (on the strided view each would run in rows of out_w)."""
    windows = _windows(padded, kernel, stride, (1, 1), out_size)
    stacked = np.ascontiguousarray(windows.transpose(2, 3, 0, 1, 4, 5))
    return stacked.reshape(kernel[0] * kernel[1], *stacked.shape[2:])


def _point_at_nans(stacked, argmax) -> None:
    """Where a window holds a NaN, its maximum is the NaN, the last one in row-major order when
    there are several (PyTorch's kernel takes each NaN it meets)."""
    for k, values in enumerate(stacked):
        argmax[np.isnan(values)] = k


def _where(mask, values) -> np.ndarray:
    """``values`` where ``mask`` holds, else 0. A product is several times faster than
    np.where, but 0 * inf is NaN: with an infinity or NaN among the values, np.where."""
    with np.errstate(invalid="ignore"):  # 0 * inf, handled below
        selected = values * mask
    if not np.isfinite(selected.sum()):
        return np.where(mask, values, 0).astype(values.dtype, copy=False)
    return selected


class MaxUnpool2d(Op):
    """Max-pooling's backward, an op of its own: a scatter to the remembered maxima.

    y = zeros of input_shape;  ypad[n, c, p*sh + i, q*sw + j] += x[n, c, p, q]
        where (i, j) is window (p, q)'s argmax
    dL/dx = WindowGather2d(dL/dy): the values at the same places
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, x, argmax, kernel, stride, padding, input_shape):
        context["arguments"] = dict(argmax=argmax, kernel=kernel, stride=stride, padding=padding)
        top, bottom, left, right = padding
        n, c, height, width = input_shape
        padded = np.zeros((n, c, height + top + bottom, width + left + right), x.dtype)
        offsets = np.arange(kernel[0] * kernel[1], dtype=argmax.dtype).reshape(-1, 1, 1, 1, 1)
        spread = _where(argmax == offsets, x)  # (kh * kw, N, C, out_h, out_w)
        for i, j, where in _offset_slices(kernel, stride, (1, 1), x.shape[2:]):
            padded[where] += spread[i * kernel[1] + j]
        return _crop(padded, padding, input_shape)

    @staticmethod
    def backward(context, grad_output):
        if isinstance(grad_output, np.ndarray):
            return WindowGather2d.forward({}, grad_output, **context["arguments"])
        return WindowGather2d.do_forward(grad_output, **context["arguments"])


class WindowGather2d(Op):
    """The value at each window's remembered position (MaxPool2d's forward, with the positions
    given): MaxUnpool2d's backward, as an op of its own.

        y[n, c, p, q] = xpad[n, c, p*sh + i, q*sw + j]  where (i, j) = argmax[n, c, p, q]
        dL/dx = MaxUnpool2d(dL/dy)
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, x, argmax, kernel, stride, padding):
        context["arguments"] = dict(
            argmax=argmax, kernel=kernel, stride=stride, padding=padding, input_shape=x.shape
        )
        stacked = _stacked_windows(_pad(x, padding), kernel, stride, argmax.shape[2:])
        return np.take_along_axis(stacked, argmax[None].astype(np.intp), axis=0)[0]

    @staticmethod
    def backward(context, grad_output):
        if isinstance(grad_output, np.ndarray):
            return MaxUnpool2d.forward({}, grad_output, **context["arguments"])
        return MaxUnpool2d.do_forward(grad_output, **context["arguments"])


class AvgPool2d(Op):
    """The mean of each window; padding counts as zeros in the mean (PyTorch's default):

    y[n, c, p, q] = sum over (i, j) of xpad[n, c, p*sh + i, q*sw + j] / (kh * kw)
    dL/dx = AvgUnpool2d(dL/dy): each gradient spread evenly over its window
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, x, kernel_size, stride=None, padding=0):
        kernel, stride, padding, out_size = pool_arguments(
            "AvgPool2d", x, kernel_size, stride, padding
        )
        context["arguments"] = dict(
            kernel=kernel, stride=stride, padding=padding, input_shape=tuple(x.shape)
        )
        y = _stacked_windows(_pad(x, padding), kernel, stride, out_size).sum(axis=0)
        y *= np.asarray(1 / (kernel[0] * kernel[1]), dtype=x.dtype)
        return y

    @staticmethod
    def backward(context, grad_output):
        if isinstance(grad_output, np.ndarray):
            return AvgUnpool2d.forward({}, grad_output, **context["arguments"])
        return AvgUnpool2d.do_forward(grad_output, **context["arguments"])


class AvgUnpool2d(Op):
    """Average-pooling's backward, an op of its own: each value spread evenly over its window.

    y = zeros of input_shape;  ypad[n, c, p*sh + i, q*sw + j] += x[n, c, p, q] / (kh * kw)
    dL/dx = AvgPool2d(dL/dy)
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, x, kernel, stride, padding, input_shape):
        context["arguments"] = kernel, stride, padding
        top, bottom, left, right = padding
        n, c, height, width = input_shape
        padded = np.zeros((n, c, height + top + bottom, width + left + right), x.dtype)
        share = x * np.asarray(1 / (kernel[0] * kernel[1]), dtype=x.dtype)
        for _, _, where in _offset_slices(kernel, stride, (1, 1), x.shape[2:]):
            padded[where] += share
        return _crop(padded, padding, input_shape)

    @staticmethod
    def backward(context, grad_output):
        kernel, stride, padding = context["arguments"]
        arguments = dict(kernel_size=kernel, stride=stride, padding=(padding[0], padding[2]))
        if isinstance(grad_output, np.ndarray):
            return AvgPool2d.forward({}, grad_output, **arguments)
        return AvgPool2d.do_forward(grad_output, **arguments)
