"""Specification of higher-order differentiation: gradients of gradients, for every op.

Each op's second derivatives are checked two ways, on shapes drawn by hypothesis (0-d, size-1
axes and broadcasting included):

- against PyTorch's double backward, ``torch.autograd.grad(..., create_graph=True)``, in float64:
  for y = f(x), a random grad_output v and a random direction u, the gradient of
  u . (v^T dy/dx) with respect to x (a Hessian-vector product) and to v (the Jacobian-vector
  product J u) must agree;
- against central differences of first derivatives (``gradgradcheck``), which needs no oracle.

Then: a gradient penalty through nn layers, a third derivative, the refusal of ops that do not
declare a differentiable backward, and the semantics of ``backward(create_graph=True)`` and
``autograd.grad``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd
import nn
from autograd import (
    Abs,
    AvgPool2d,
    AvgUnpool2d,
    BatchNorm,
    Conv2dWeightGrad,
    ConvTranspose2d,
    Div,
    Exp,
    GradientError,
    Log,
    LogSoftmax,
    MaxPool2d,
    MaxUnpool2d,
    Op,
    Relu,
    Scatter,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
    TensorNode,
    WindowGather2d,
)
from autograd import functional as AF
from autograd.gradcheck import gradgradcheck
from autograd.ops.conv import conv_arguments, pool_arguments
from autograd.testing import (
    arrays,
    axes,
    broadcastable_shapes,
    convolutions,
    poolings,
    property_test,
    shapes,
)
from nn import functional as NF

EXAMPLES = settings.default.max_examples  # from the profile in tests/conftest.py
FEW = max(3, EXAMPLES // 6)  # central differences of first derivatives cost one pass per element


# ----- the cases: an input strategy, our function and PyTorch's ----------------------------------


class Drawn(NamedTuple):
    """Inputs for one check, and the same function written for each engine."""

    label: str
    inputs: tuple  # float arrays are differentiated; integer arrays are constants (labels)
    ours: Callable
    theirs: Callable  # theirs(torch, *tensors)
    smooth: bool = True  # False at a kink (ties of max), where central differences jump

    def __repr__(self) -> str:
        shapes_ = ", ".join(str(np.shape(x)) for x in self.inputs)
        return f"Drawn({self.label}, input shapes {shapes_})"


class Case(NamedTuple):
    name: str
    draw: st.SearchStrategy  # of Drawn
    tolerance: float = 1e-8  # relative and absolute, against PyTorch
    central_differences: bool = True  # False where float32 makes them meaningless (Cast)
    #: Inputs that the first derivative does not depend on (a bias): left out of gradgradcheck,
    #: whose zero second derivative the test at the end of this file proves.
    linear_inputs: tuple[int, ...] = ()


def _elementwise(name, method, torch_method, **element_options) -> Case:
    return Case(
        name,
        arrays(**element_options).map(
            lambda x: Drawn(name, (x,), method, lambda torch, t: torch_method(torch, t))
        ),
    )


@st.composite
def _binary(draw, name, operator, positive_second=False):
    shape_a, shape_b = draw(broadcastable_shapes(2))
    a = draw(arrays(shape_a))
    b = draw(arrays(shape_b, min_value=0.5) if positive_second else arrays(shape_b))
    return Drawn(f"a {name} b", (a, b), operator, lambda torch, a, b: operator(a, b))


@st.composite
def _pow(draw):
    exponent = draw(st.sampled_from([0, 1, 2, 3, 5, -1, 0.5, 2.5, -1.5]))
    if float(exponent).is_integer() and exponent >= 0:
        x = draw(arrays())
    else:
        x = draw(arrays(min_value=0.5, max_value=3.0))
    return Drawn(f"x ** {exponent}", (x,), lambda x: x**exponent, lambda torch, x: x**exponent)


@st.composite
def _matmul(draw):
    kind = draw(st.sampled_from(["1d @ 1d", "1d @ 2d", "2d @ 1d", "2d @ 2d", "batched"]))
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    if kind == "batched":
        batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3))
        a_shape, b_shape = batch_a + (n, k), batch_b + (k, m)
    else:
        a_shape = (k,) if kind.startswith("1d") else (n, k)
        b_shape = (k,) if kind.endswith("1d") else (k, m)
    a, b = draw(arrays(a_shape)), draw(arrays(b_shape))
    return Drawn(f"matmul {kind}", (a, b), lambda a, b: a @ b, lambda torch, a, b: a @ b)


@st.composite
def _expand(draw):
    shape, other = draw(broadcastable_shapes(2))
    target = np.broadcast_shapes(shape, other)
    return Drawn(
        f"expand to {target}",
        (draw(arrays(shape)),),
        lambda x: x.expand(target),
        lambda torch, x: x.expand(target),
    )


@st.composite
def _reshape(draw):
    x = draw(arrays())
    target = draw(st.sampled_from([(-1,), x.shape[::-1], (1,) + x.shape, (x.size, 1)]))
    return Drawn(
        f"reshape to {target}",
        (x,),
        lambda x: x.reshape(target),
        lambda torch, x: x.reshape(target),
    )


@st.composite
def _transpose(draw):
    x = draw(arrays())
    axes_ = draw(st.none() | st.permutations(range(x.ndim)).map(tuple))
    permutation = tuple(reversed(range(x.ndim))) if axes_ is None else axes_
    ours = (lambda x: x.T) if axes_ is None else (lambda x: x.transpose(axes_))
    return Drawn(f"transpose {axes_}", (x,), ours, lambda torch, x: x.permute(permutation))


def _torch_index(torch, index):
    """The same index for a torch tensor: arrays become tensors, the rest stays."""
    parts = index if isinstance(index, tuple) else (index,)
    converted = tuple(torch.tensor(p) if isinstance(p, np.ndarray) else p for p in parts)
    return converted if isinstance(index, tuple) else converted[0]


@st.composite
def _select(draw):
    kind = draw(st.sampled_from(["repeated integers", "basic", "boolean mask", "rows and columns"]))
    if kind == "repeated integers":
        x = draw(arrays(shapes(min_dims=1)))
        n = x.shape[0]
        index = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
    elif kind == "basic":
        x = draw(arrays())
        index = draw(hnp.basic_indices(x.shape, allow_newaxis=False))
        parts = index if isinstance(index, tuple) else (index,)
        assume(all(not isinstance(p, slice) or p.step is None or p.step > 0 for p in parts))
    elif kind == "boolean mask":
        x = draw(arrays(shapes(min_dims=1)))
        index = draw(hnp.arrays(np.bool_, x.shape))
    else:  # as nll_loss picks one element per row, a column repeated
        x = draw(arrays(shapes(min_dims=2, max_dims=2)))
        rows = np.arange(x.shape[0])
        columns = np.array(draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=len(rows),
                                         max_size=len(rows))))  # fmt: skip
        index = (rows, columns)
    return Drawn(
        f"select {kind} {index!r}",
        (x,),
        lambda x: x[index],
        lambda torch, x: x[_torch_index(torch, index)],
    )


@st.composite
def _scatter(draw):
    shape = draw(shapes(min_dims=1))
    n = shape[0]
    if draw(st.booleans()):
        index = np.array(draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
        x = draw(arrays((len(index),) + shape[1:]))
    else:
        index = draw(st.integers(-n, n - 1))
        x = draw(arrays(shape[1:]))

    def theirs(torch, x):
        zeros = torch.zeros(shape, dtype=x.dtype)
        return zeros.index_put((torch.as_tensor(index),), x, accumulate=True)

    return Drawn(
        f"scatter at {index!r} into {shape}",
        (x,),
        lambda x: Scatter.do_forward(x, index=index, shape=shape),
        theirs,
    )


def _cast_case() -> Case:
    def ours(x):
        y = x.astype(np.float32)
        return (y * y).astype(np.float64)

    def theirs(torch, x):
        y = x.float()
        return (y * y).double()

    return Case(
        "Cast",
        arrays().map(lambda x: Drawn("cast to float32 and back", (x,), ours, theirs)),
        tolerance=1e-5,
        central_differences=False,
    )


def _torch_dims(axis, ndim) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


@st.composite
def _reduction(draw, name):
    if name == "max" and draw(st.booleans()):  # values 1/4 apart: no ties, no kink
        grid = st.integers(-12, 12).map(lambda k: k / 4)
        x = draw(hnp.arrays(np.float64, shapes(max_side=3), elements=grid, unique=True))
        smooth = True
    else:
        x = draw(arrays())
        smooth = name != "max"
    axis = draw(axes(x.ndim))
    keepdims = draw(st.booleans())
    dims = _torch_dims(axis, x.ndim)
    torch_name = {"sum": "sum", "mean": "mean", "max": "amax"}[name]

    def theirs(torch, x):
        if not dims:  # torch reduces everything for dim=(); NumPy reduces nothing
            return x
        return getattr(torch, torch_name)(x, dim=dims, keepdim=keepdims)

    return Drawn(
        f"{name}(axis={axis}, keepdims={keepdims})",
        (x,),
        lambda x: getattr(x, name)(axis=axis, keepdims=keepdims),
        theirs,
        smooth,
    )


@st.composite
def _softmax(draw, op, torch_name):
    x = draw(arrays(shapes(min_dims=1)))
    axis = draw(st.integers(-x.ndim, x.ndim - 1))
    return Drawn(
        f"{op.__name__}(axis={axis})",
        (x,),
        lambda x: op.do_forward(x, axis=axis),
        lambda torch, x: getattr(torch, torch_name)(x, dim=axis),
    )


def _spread_rows(draw, n, features):
    """x of shape (n, features) whose every column varies (BatchNorm divides by its spread)."""
    values = st.integers(-12, 12).map(lambda k: k / 4)
    x = draw(hnp.arrays(np.float64, (n, features), elements=values))
    assume(x.var(axis=0).min() > 0.05)
    return x


@st.composite
def _batch_norm(draw, training):
    n = draw(st.integers(2 if training else 1, 5))
    features = draw(st.integers(1, 3))
    x = _spread_rows(draw, n, features)
    gamma, beta = draw(arrays((features,))), draw(arrays((features,)))
    if training:
        return Drawn(
            "batch norm, training",
            (x, gamma, beta),
            lambda x, g, b: BatchNorm.do_forward(x, g, b, eps=1e-5, training=True),
            lambda torch, x, g, b: torch.nn.functional.batch_norm(
                x, None, None, g, b, training=True, eps=1e-5
            ),
        )
    running_mean = draw(arrays((features,)))
    running_var = draw(arrays((features,), min_value=0.2, max_value=3.0))
    return Drawn(
        "batch norm, evaluation",
        (x, gamma, beta),
        lambda x, g, b: BatchNorm.do_forward(
            x, g, b, eps=1e-5, training=False, running_mean=running_mean, running_var=running_var
        ),
        lambda torch, x, g, b: torch.nn.functional.batch_norm(
            x,
            torch.tensor(running_mean),
            torch.tensor(running_var),
            g,
            b,
            training=False,
            eps=1e-5,
        ),  # fmt: skip
    )


def _normalised(x_shape, w_shape, arguments) -> dict:
    """A convolution's arguments as the backward ops take them (pairs; padding as 4 sides)."""
    stride, padding, dilation, groups = conv_arguments("Conv2d", x_shape, w_shape, **arguments)
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def _torch_gradient(torch, fn, of, grad_output):
    """PyTorch's gradient of fn at ``of`` (a fixed array) for grad_output, as a graph."""
    at = torch.tensor(of, requires_grad=True)
    (grad,) = torch.autograd.grad(fn(at), at, grad_output, create_graph=True)
    return grad


@st.composite
def _convolution(draw, part):
    x, w, b, arguments = draw(convolutions(max_side=3, max_groups=2))
    conv = torch_conv = None  # the case's functions, defined per part below
    if part == "Conv2d":
        inputs = (x, w) if b is None else (x, w, b)

        def conv(x, w, *b):
            return AF.conv2d(x, w, *b, **arguments)

        def torch_conv(torch, x, w, *b):
            with warnings.catch_warnings():  # padding="same" with an even kernel: a copy
                warnings.simplefilter("ignore", UserWarning)
                return torch.nn.functional.conv2d(x, w, *b, **arguments)

        return Drawn(f"conv2d {arguments}, bias {b is not None}", inputs, conv, torch_conv)
    normalised = _normalised(x.shape, w.shape, arguments)
    with autograd.no_grad():
        out_shape = AF.conv2d(x, w, **arguments).shape
    g = draw(arrays(out_shape), label="grad_output")
    if part == "ConvTranspose2d":
        return Drawn(
            f"conv_transpose2d {normalised}",
            (g, w),
            lambda g, w: ConvTranspose2d.do_forward(g, w, input_shape=x.shape, **normalised),
            lambda torch, g, w: _torch_gradient(
                torch, lambda x: torch.nn.functional.conv2d(x, w, **arguments), x, g
            ),
        )
    return Drawn(
        f"conv2d_weight_grad {normalised}",
        (x, g),
        lambda x, g: Conv2dWeightGrad.do_forward(x, g, kernel_size=w.shape[2:], **normalised),
        lambda torch, x, g: _torch_gradient(
            torch, lambda w: torch.nn.functional.conv2d(x, w, **arguments), w, g
        ),
    )


@st.composite
def _pooling(draw, part):
    x, arguments = draw(poolings(max_side=3))
    kind = "avg" if part.startswith("Avg") else "max"

    def torch_pool(torch, x):
        return getattr(torch.nn.functional, f"{kind}_pool2d")(x, **arguments)

    if part in ("MaxPool2d", "AvgPool2d"):
        op = MaxPool2d if kind == "max" else AvgPool2d
        return Drawn(
            f"{part} {arguments}", (x,), lambda x: op.do_forward(x, **arguments), torch_pool
        )
    context = {}
    with autograd.no_grad():
        out_shape = (
            (MaxPool2d if kind == "max" else AvgPool2d).forward(context, x, **arguments).shape
        )
    kernel, stride, padding, _ = pool_arguments(part, x, **arguments)
    if part == "WindowGather2d":  # values at the argmax of x, of another array h
        h = draw(arrays(x.shape), label="h")

        def gather(torch, h):
            _, index = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True,
                                                      **arguments)  # fmt: skip
            return h.flatten(2).gather(2, index.flatten(2)).reshape(out_shape)

        return Drawn(
            f"{part} {arguments}",
            (h,),
            lambda h: WindowGather2d.do_forward(
                h, argmax=context["argmax"], kernel=kernel, stride=stride, padding=padding
            ),
            gather,
        )
    g = draw(arrays(out_shape), label="grad_output")
    if part == "MaxUnpool2d":
        ours = lambda g: MaxUnpool2d.do_forward(  # noqa: E731
            g, argmax=context["argmax"], kernel=kernel, stride=stride, padding=padding,
            input_shape=x.shape,
        )  # fmt: skip
    else:
        ours = lambda g: AvgUnpool2d.do_forward(  # noqa: E731
            g, kernel=kernel, stride=stride, padding=padding, input_shape=x.shape
        )
    return Drawn(
        f"{part} {arguments}",
        (g,),
        ours,
        lambda torch, g: _torch_gradient(torch, lambda x: torch_pool(torch, x), x, g),
    )


@st.composite
def _batch_norm_images(draw):
    """BatchNorm2d's case: (n, channels, h, w) normalised over axes (0, 2, 3), in training."""
    n, channels, height, width = (draw(st.integers(1, 3)) for _ in range(4))
    height = max(height, 2)  # at least two values per channel
    x = _spread_rows(draw, n * height * width, channels)  # one row per pixel, a column a channel
    x = x.reshape(n, height, width, channels).transpose(0, 3, 1, 2).copy()
    gamma, beta = draw(arrays((channels,))), draw(arrays((channels,)))
    return Drawn(
        "batch norm over images, training",
        (x, gamma, beta),
        lambda x, g, b: BatchNorm.do_forward(x, g, b, eps=1e-5, training=True, axes=(0, 2, 3)),
        lambda torch, x, g, b: torch.nn.functional.batch_norm(
            x, None, None, g, b, training=True, eps=1e-5
        ),
    )


@st.composite
def _labelled(draw, ignore=False):
    """Logits (n, classes) and integer labels, at least one of them not ignored."""
    n, classes = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    logits = draw(arrays((n, classes)))
    labels = np.array(draw(st.lists(st.integers(0, classes - 1), min_size=n, max_size=n)))
    if ignore and n > 1:
        ignored = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        ignored[0] = False
        labels = np.where(ignored, -100, labels)
    return logits, labels


@st.composite
def _fused_cross_entropy(draw):
    logits, labels = draw(_labelled(ignore=True))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Drawn(
        f"SoftmaxCrossEntropy({reduction}), labels {labels}",
        (logits, labels),
        lambda z, y: SoftmaxCrossEntropy.do_forward(z, labels=y, reduction=reduction),
        lambda torch, z, y: torch.nn.functional.cross_entropy(z, y, reduction=reduction),
    )


@st.composite
def _autograd_nll_loss(draw):
    logits, labels = draw(_labelled(ignore=True))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return Drawn(
        f"autograd.functional.nll_loss({reduction}) of log_softmax, labels {labels}",
        (logits, labels),
        lambda z, y: AF.nll_loss(z.log_softmax(), y, reduction=reduction),
        lambda torch, z, y: torch.nn.functional.nll_loss(
            torch.log_softmax(z, dim=-1), y, reduction=reduction
        ),
    )


@st.composite
def _nn_loss(draw, name):
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    if name in ("cross_entropy", "nll_loss"):
        logits, labels = draw(_labelled())
        if name == "cross_entropy":
            ours = lambda z, y: NF.cross_entropy(z, y, reduction=reduction)  # noqa: E731
            theirs = lambda torch, z, y: torch.nn.functional.cross_entropy(  # noqa: E731
                z, y, reduction=reduction
            )
        else:  # nll_loss is linear: composed with log_softmax it has second derivatives
            ours = lambda z, y: NF.nll_loss(NF.log_softmax(z), y, reduction=reduction)  # noqa: E731
            theirs = lambda torch, z, y: torch.nn.functional.nll_loss(  # noqa: E731
                torch.log_softmax(z, dim=-1), y, reduction=reduction
            )
        return Drawn(f"nn.functional.{name}({reduction})", (logits, labels), ours, theirs)
    shape = draw(shapes())
    prediction = draw(arrays(shape))
    if name == "mse_loss":
        target = draw(arrays(shape))
    else:
        target = draw(arrays(shape, min_value=0.0, max_value=1.0))
    return Drawn(
        f"nn.functional.{name}({reduction}), target differentiated too",
        (prediction, target),
        lambda x, t: getattr(NF, name)(x, t, reduction=reduction),
        lambda torch, x, t: getattr(torch.nn.functional, name)(x, t, reduction=reduction),
    )


CASES = [
    Case("Add", _binary("+", lambda a, b: a + b)),
    Case("Sub", _binary("-", lambda a, b: a - b)),
    Case("Mul", _binary("*", lambda a, b: a * b)),
    Case("Div", _binary("/", lambda a, b: a / b, positive_second=True)),
    _elementwise("Neg", lambda x: -x, lambda torch, x: -x),
    Case("Pow", _pow()),
    _elementwise("Exp", lambda x: x.exp(), lambda torch, x: x.exp()),
    _elementwise("Log", lambda x: x.log(), lambda torch, x: x.log(), min_value=0.2),
    _elementwise("Abs", lambda x: abs(x), lambda torch, x: x.abs(), away_from=0.0),
    Case("MatMul", _matmul()),
    Case("Expand", _expand()),
    Case("Reshape", _reshape()),
    Case("Transpose", _transpose()),
    Case("Select", _select()),
    Case("Scatter", _scatter()),
    _cast_case(),
    Case("Sum", _reduction("sum")),
    Case("Mean", _reduction("mean")),
    Case("Max", _reduction("max")),
    _elementwise("Relu", lambda x: x.relu(), lambda torch, x: x.relu(), away_from=0.0),
    _elementwise(
        "Sigmoid",
        lambda x: x.sigmoid(),
        lambda torch, x: x.sigmoid(),
        min_value=-6.0,
        max_value=6.0,
    ),  # fmt: skip
    _elementwise("Tanh", lambda x: x.tanh(), lambda torch, x: x.tanh()),
    Case("Softmax", _softmax(Softmax, "softmax")),
    Case("LogSoftmax", _softmax(LogSoftmax, "log_softmax")),
    Case("BatchNorm training", _batch_norm(training=True), tolerance=1e-7, linear_inputs=(2,)),
    Case("BatchNorm evaluation", _batch_norm(training=False), linear_inputs=(2,)),
    Case("BatchNorm over images", _batch_norm_images(), tolerance=1e-7, linear_inputs=(2,)),
    Case("Conv2d", _convolution("Conv2d"), linear_inputs=(2,)),
    Case("ConvTranspose2d", _convolution("ConvTranspose2d")),
    Case("Conv2dWeightGrad", _convolution("Conv2dWeightGrad")),
    Case("MaxPool2d", _pooling("MaxPool2d")),
    Case("MaxUnpool2d", _pooling("MaxUnpool2d")),
    Case("WindowGather2d", _pooling("WindowGather2d")),
    Case("AvgPool2d", _pooling("AvgPool2d")),
    Case("AvgUnpool2d", _pooling("AvgUnpool2d")),
    Case("SoftmaxCrossEntropy", _fused_cross_entropy()),
    Case("autograd.functional.nll_loss", _autograd_nll_loss()),
    Case("nn.functional.cross_entropy", _nn_loss("cross_entropy")),
    Case("nn.functional.nll_loss", _nn_loss("nll_loss")),
    Case("nn.functional.mse_loss", _nn_loss("mse_loss")),
    Case(
        "nn.functional.binary_cross_entropy_with_logits",
        _nn_loss("binary_cross_entropy_with_logits"),
    ),
]


def test_the_cases_cover_every_op_in_the_package():
    covered = {case.name.split()[0] for case in CASES}
    assert set(autograd.ops.__all__) <= covered, set(autograd.ops.__all__) - covered


# ----- the oracle: PyTorch's double backward --------------------------------------------------


def _zeros_for_none(grads, like):
    return [np.zeros(x.shape) if g is None else _array(g) for g, x in zip(grads, like, strict=True)]


def _array(g):
    return g.value if isinstance(g, TensorNode) else g.detach().numpy(force=True)


def double_backward(engine: str, fn, inputs: tuple, v: np.ndarray, directions: list):
    """(y, first derivatives v^T dy/dx, then the gradients of sum(u * first) with respect to
    the x and to v), computed by one engine: ``autograd`` or PyTorch."""
    is_float = [np.asarray(x).dtype.kind == "f" for x in inputs]
    if engine == "autograd":
        nodes = [TensorNode(np.array(x), requires_grad=f) for x, f in zip(inputs, is_float)]
        grad, variable, call = autograd.grad, TensorNode, fn
    else:
        import torch

        nodes = [torch.tensor(np.array(x), requires_grad=bool(f)) for x, f in zip(inputs, is_float)]

        def grad(outputs, inputs, grad_outputs=None, create_graph=False, allow_unused=False):
            return torch.autograd.grad(
                outputs, inputs, grad_outputs, create_graph=create_graph, allow_unused=allow_unused
            )

        def variable(value, requires_grad):
            return torch.tensor(value, requires_grad=requires_grad)

        def call(*xs):
            return fn(torch, *xs)

    wrt = [x for x, f in zip(nodes, is_float) if f]
    y = call(*nodes)
    seed = variable(v.astype(_array(y).dtype), requires_grad=True)
    firsts = grad(y, wrt, grad_outputs=seed, create_graph=True, allow_unused=True)
    slope = None
    for first, u in zip(firsts, directions, strict=True):
        if first is not None:
            term = (first * variable(u, requires_grad=False)).sum()
            slope = term if slope is None else slope + term
    if slope is None or not slope.requires_grad:  # zero, or independent of x and of v
        seconds = [None] * (len(wrt) + 1)
    else:
        seconds = grad(slope, wrt + [seed], allow_unused=True)
    return (
        _array(y),
        _zeros_for_none(firsts, wrt),
        _zeros_for_none(seconds, wrt + [seed]),
    )


def assert_double_backward_matches_torch(drawn: Drawn, tolerance: float) -> None:
    rng = np.random.default_rng(0)
    floats = [x for x in drawn.inputs if np.asarray(x).dtype.kind == "f"]
    directions = [rng.normal(size=np.shape(x)) for x in floats]
    with autograd.no_grad():
        output_shape = drawn.ours(*[TensorNode(np.array(x)) for x in drawn.inputs]).shape
    v = rng.normal(size=output_shape)
    ours = double_backward("autograd", drawn.ours, drawn.inputs, v, directions)
    theirs = double_backward("torch", drawn.theirs, drawn.inputs, v, directions)
    names = ["output"] + [f"first derivative {i}" for i in range(len(floats))]
    names += [f"H u for input {i}" for i in range(len(floats))] + ["J u (derivative by v)"]
    for name, a, b in zip(
        names, [ours[0], *ours[1], *ours[2]], [theirs[0], *theirs[1], *theirs[2]]
    ):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance, err_msg=f"{drawn}: {name}")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_second_derivatives_match_torch_double_backward(case: Case):
    pytest.importorskip("torch")

    @given(case.draw)
    def check(drawn):
        assert_double_backward_matches_torch(drawn, case.tolerance)

    check()


# ----- no oracle: central differences of first derivatives ------------------------------------


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.central_differences], ids=lambda case: case.name
)
def test_second_derivatives_match_central_differences_of_first(case: Case):
    @settings(max_examples=FEW)
    @given(case.draw)
    def check(drawn):
        assume(drawn.smooth)
        inputs = [
            TensorNode(
                np.array(x), requires_grad=x.dtype.kind == "f" and i not in case.linear_inputs
            )
            for i, x in enumerate(drawn.inputs)
        ]
        assert gradgradcheck(drawn.ours, inputs)

    check()


@pytest.mark.parametrize("op", [Exp, Log, Abs, Relu, Sigmoid, Tanh], ids=lambda op: op.__name__)
def test_property_test_of_order_2_passes_every_elementwise_op(op):
    away = {"Abs": 0.0, "Relu": 0.0}.get(op.__name__)
    low = 0.2 if op is Log else -3.0
    property_test(op, arrays(min_value=low, away_from=away), order=2, max_examples=FEW)


def test_property_test_of_order_2_passes_division_with_broadcasting():
    @st.composite
    def numerator_and_denominator(draw):
        shape_a, shape_b = draw(broadcastable_shapes(2))
        return draw(arrays(shape_a)), draw(arrays(shape_b, min_value=0.5))

    property_test(Div, inputs=numerator_and_denominator(), order=2, max_examples=FEW)


# ----- a gradient penalty through layers, against PyTorch with the same weights ----------------


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_gradient_penalty_through_linear_batchnorm_activation_and_cross_entropy_matches_torch(
    activation,
):
    """d/dw ||d loss/d x||^2, the penalty of WGAN-GP and input-gradient regularisation."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x_value, labels = rng.normal(size=(6, 4)), np.array([0, 1, 2, 1, 0, 2])
    first = nn.Linear(4, 5, rng=1)
    norm = nn.BatchNorm1d(5)
    last = nn.Linear(5, 3, rng=2)
    weights = {
        "w1": rng.normal(size=(4, 5)), "b1": rng.normal(size=5), "gamma": rng.uniform(0.5, 2, 5),
        "beta": rng.normal(size=5), "w2": rng.normal(size=(5, 3)), "b2": rng.normal(size=3),
    }  # fmt: skip
    layers = {"w1": (first, "weight"), "b1": (first, "bias"), "gamma": (norm, "weight"),
              "beta": (norm, "bias"), "w2": (last, "weight"), "b2": (last, "bias")}  # fmt: skip
    for key, (layer, attribute) in layers.items():  # float64 copies of the same weights
        setattr(layer, attribute, nn.Parameter(weights[key], dtype=np.float64))
    ours = [first.weight, first.bias, norm.weight, norm.bias, last.weight, last.bias]
    x = TensorNode(x_value, requires_grad=True)
    loss = NF.cross_entropy(last(getattr(NF, activation)(norm(first(x)))), labels)
    (input_grad,) = autograd.grad(loss, x, create_graph=True)
    penalty = (input_grad * input_grad).sum()
    our_grads = autograd.grad(penalty, ours)

    tw = {k: torch.tensor(v, requires_grad=True) for k, v in weights.items()}
    tx = torch.tensor(x_value, requires_grad=True)
    h = torch.nn.functional.linear(tx, tw["w1"].T, tw["b1"])
    h = torch.nn.functional.batch_norm(h, None, None, tw["gamma"], tw["beta"], training=True)
    h = getattr(torch, activation)(h)
    their_loss = torch.nn.functional.cross_entropy(h @ tw["w2"] + tw["b2"], torch.tensor(labels))
    (their_input_grad,) = torch.autograd.grad(their_loss, tx, create_graph=True)
    their_penalty = (their_input_grad**2).sum()
    their_grads = torch.autograd.grad(their_penalty, list(tw.values()))

    np.testing.assert_allclose(loss.value, their_loss.item(), rtol=1e-10)
    np.testing.assert_allclose(input_grad.value, their_input_grad.detach().numpy(), rtol=1e-8)
    np.testing.assert_allclose(penalty.value, their_penalty.item(), rtol=1e-8)
    for name, ours_, theirs in zip(weights, our_grads, their_grads, strict=True):
        np.testing.assert_allclose(
            ours_.value, theirs.numpy(), rtol=1e-7, atol=1e-10, err_msg=f"d penalty / d {name}"
        )


# ----- third derivatives ---------------------------------------------------------------------


WEIGHTS = np.array([1.0, 2.0, -1.0, 0.5, 1.5, -2.0])


def _batch_norm_cubed(x):
    """sum(xhat^3) for x as 3 rows of 2 features; written out in PyTorch from primitives,
    because torch 2.13's F.batch_norm gives wrong third derivatives (it disagrees with this
    formula and with central differences of its own second derivatives)."""
    x = x.reshape(3, 2)
    centered = x - x.mean(0)
    return ((centered / ((centered * centered).mean(0) + 1e-5) ** 0.5) ** 3).sum()


THIRD_DERIVATIVE_CASES = {
    "tanh": (lambda x: x.tanh().sum(), lambda torch, x: x.tanh().sum()),
    "x ** 5": (lambda x: (x**5).sum(), lambda torch, x: (x**5).sum()),
    "softmax": (
        lambda x: (x.softmax() * WEIGHTS).sum(),
        lambda torch, x: (x.softmax(-1) * torch.tensor(WEIGHTS)).sum(),
    ),
    "batch norm": (
        lambda x: (BatchNorm.do_forward(x.reshape(3, 2), np.ones(2), np.zeros(2)) ** 3).sum(),
        lambda torch, x: _batch_norm_cubed(x),
    ),
    "fused cross-entropy": (
        lambda x: SoftmaxCrossEntropy.do_forward(x.reshape(2, 3), labels=np.array([2, 0])),
        lambda torch, x: torch.nn.functional.cross_entropy(x.reshape(2, 3), torch.tensor([2, 0])),
    ),
}


@pytest.mark.parametrize("name", THIRD_DERIVATIVE_CASES)
def test_third_derivatives_match_torch(name):
    """d/dx of u . (d/dx of u . grad f): three backward passes, each differentiating the last."""
    torch = pytest.importorskip("torch")
    ours, theirs = THIRD_DERIVATIVE_CASES[name]
    x_value = np.array([0.3, -1.2, 0.8, 2.0, -0.4, 1.1])
    u = np.array([1.0, -0.5, 2.0, 0.25, -1.5, 0.75])
    x = TensorNode(x_value, requires_grad=True)
    (first,) = autograd.grad(ours(x), x, create_graph=True)
    (second,) = autograd.grad((first * u).sum(), x, create_graph=True)
    (third,) = autograd.grad((second * u).sum(), x)

    tx = torch.tensor(x_value, requires_grad=True)
    tu = torch.tensor(u)
    (t_first,) = torch.autograd.grad(theirs(torch, tx), tx, create_graph=True)
    (t_second,) = torch.autograd.grad((t_first * tu).sum(), tx, create_graph=True)
    (t_third,) = torch.autograd.grad((t_second * tu).sum(), tx)
    for order, a, b in [(1, first, t_first), (2, second, t_second), (3, third, t_third)]:
        np.testing.assert_allclose(
            a.value, b.detach().numpy(), rtol=1e-8, atol=1e-10, err_msg=f"{name}, order {order}"
        )
    assert np.abs(third.value).max() > 1e-3  # a real third derivative, not a silent zero


def test_fifth_power_differentiated_five_times_is_120_then_zero():
    x = TensorNode(np.array(1.5), requires_grad=True)
    y = x**5
    derivatives = []
    for _ in range(5):
        (y,) = autograd.grad(y, x, create_graph=True)
        derivatives.append(float(y.value))
    np.testing.assert_allclose(
        derivatives, [5 * 1.5**4, 20 * 1.5**3, 60 * 1.5**2, 120 * 1.5, 120.0], rtol=1e-12
    )


# ----- the refusal: ops whose backward runs on arrays only -------------------------------------


class CubeOnArrays(Op):
    """y = x^3;  dL/dx = dL/dy * 3x^2, written for arrays only (no differentiable_backward)."""

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return x**3

    @staticmethod
    def backward(context, grad_output):
        return grad_output * 3 * context["x"] ** 2


class SquareReadingAnIntermediate(Op):
    """y = x^2, whose backward reads a saved intermediate (2x) that is neither input nor output."""

    differentiable_backward = True

    @staticmethod
    def forward(context, x):
        context["twice_x"] = 2 * x
        return x * x

    @staticmethod
    def backward(context, grad_output):
        return grad_output * context["twice_x"]


def test_an_op_without_differentiable_backward_works_in_first_order():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    CubeOnArrays.do_forward(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])


def test_an_op_without_differentiable_backward_gives_a_right_first_derivative_under_create_graph():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    (first,) = autograd.grad((CubeOnArrays.do_forward(x) * x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(first.value, [4.0, 32.0])  # d/dx x^4 = 4x^3
    assert first.requires_grad  # the Mul in the chain is differentiable; CubeOnArrays is not


def test_differentiating_through_an_op_without_differentiable_backward_again_raises_naming_it():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    (first,) = autograd.grad(CubeOnArrays.do_forward(x).sum(), x, create_graph=True)
    with pytest.raises(
        GradientError, match=r"CubeOnArrays\.backward ran on arrays.*differentiable_backward"
    ):
        autograd.grad(first.sum(), x)


def test_the_refusal_is_never_a_silent_zero_even_when_other_paths_carry_second_derivatives():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    (first,) = autograd.grad((CubeOnArrays.do_forward(x) + x**2).sum(), x, create_graph=True)
    with pytest.raises(GradientError, match="CubeOnArrays"):
        autograd.grad(first.sum(), x)
    (x**3 * CubeOnArrays.do_forward(x)).sum().backward(create_graph=True)
    with pytest.raises(GradientError, match="CubeOnArrays"):
        x.grad.sum().backward()


def test_a_differentiable_backward_that_reads_a_saved_intermediate_raises_naming_the_key():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    SquareReadingAnIntermediate.do_forward(x).sum().backward()  # first order: fine
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    y = SquareReadingAnIntermediate.do_forward(x).sum()
    with pytest.raises(
        GradientError, match=r"SquareReadingAnIntermediate\.backward read context\['twice_x'\]"
    ):
        autograd.grad(y, x, create_graph=True)


# ----- backward(create_graph=True) and autograd.grad ------------------------------------------


def test_backward_with_create_graph_makes_grad_a_node_that_can_be_differentiated():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    assert isinstance(x.grad, TensorNode) and x.grad.requires_grad
    np.testing.assert_array_equal(x.grad.value, [3.0, 12.0])
    first = x.grad
    x.zero_grad()
    first.sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 12.0])  # 6x


def test_backward_with_create_graph_accumulates_into_grad_as_a_node():
    x = TensorNode(np.array(2.0), requires_grad=True)
    (x * x).backward(create_graph=True)
    (x * x * x).backward(create_graph=True)
    np.testing.assert_allclose(x.grad.value, 4.0 + 12.0)
    (second,) = autograd.grad(x.grad, x)
    np.testing.assert_allclose(second.value, 2.0 + 12.0)


def test_grad_returns_nodes_and_leaves_dot_grad_alone():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    w = TensorNode(np.array([3.0, 4.0]), requires_grad=True)
    x.grad = np.array([100.0, 100.0])
    gx, gw = autograd.grad((x * w).sum(), [x, w])
    assert isinstance(gx, TensorNode) and not gx.requires_grad
    np.testing.assert_array_equal(gx.value, [3.0, 4.0])
    np.testing.assert_array_equal(gw.value, [1.0, 2.0])
    np.testing.assert_array_equal(x.grad, [100.0, 100.0])
    assert w.grad is None


def test_grad_of_one_input_gives_a_one_tuple():
    x = TensorNode(np.array(3.0), requires_grad=True)
    result = autograd.grad(x * x, x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_array_equal(result[0].value, 6.0)


def test_grad_outputs_weight_each_output_and_several_outputs_add_up():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    (g,) = autograd.grad([x * x, x * 3.0], x, grad_outputs=[np.array([1.0, 10.0]), np.ones(2)])
    np.testing.assert_array_equal(g.value, [2.0 * 1 + 3, 4.0 * 10 + 3])


def test_grad_outputs_as_nodes_that_require_grad_can_be_differentiated_by():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    v = TensorNode(np.array([5.0, 7.0]), requires_grad=True)
    (g,) = autograd.grad(x * x, x, grad_outputs=v, create_graph=True)  # 2 x v
    gx, gv = autograd.grad(g.sum(), [x, v])
    np.testing.assert_array_equal(gx.value, [10.0, 14.0])
    np.testing.assert_array_equal(gv.value, [2.0, 4.0])


def test_grad_of_a_non_scalar_output_needs_grad_outputs_of_its_shape():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradientError, match="implicitly only for a scalar"):
        autograd.grad(x * x, x)
    with pytest.raises(autograd.ShapeError, match=r"gradient has shape \(3,\)"):
        autograd.grad(x * x, x, grad_outputs=np.ones(3))
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        autograd.grad(x * x, x, grad_outputs=[np.ones(2), np.ones(2)])


def test_grad_frees_the_graph_unless_retain_graph_or_create_graph():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    autograd.grad(y, x)
    with pytest.raises(autograd.GraphReleasedError, match="retain_graph=True"):
        autograd.grad(y, x)

    y = (x * x).sum()
    autograd.grad(y, x, retain_graph=True)
    (again,) = autograd.grad(y, x)
    np.testing.assert_array_equal(again.value, [2.0, 4.0])

    y = (x * x).sum()
    autograd.grad(y, x, create_graph=True)  # retain_graph defaults to create_graph
    (again,) = autograd.grad(y, x)
    np.testing.assert_array_equal(again.value, [2.0, 4.0])


def test_differentiating_a_gradient_again_needs_only_the_graph_create_graph_built():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    y = (x**3).sum()
    (first,) = autograd.grad(y, x, create_graph=True, retain_graph=False)
    (second,) = autograd.grad(first.sum(), x)  # the first graph's contexts are gone: not needed
    np.testing.assert_array_equal(second.value, [6.0, 12.0])
    with pytest.raises(autograd.GraphReleasedError):
        autograd.grad(y, x)


def test_grad_refuses_an_unused_input_unless_allow_unused():
    x = TensorNode(np.array(1.0), requires_grad=True)
    unused = TensorNode(np.array(2.0), requires_grad=True)
    with pytest.raises(GradientError, match=r"input 1 \(shape \(\)\) is not used.*allow_unused"):
        autograd.grad(x * x, [x, unused], retain_graph=True)
    gx, gu = autograd.grad(x * x, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.value, 2.0)
    assert gu is None


def test_grad_refuses_inputs_that_do_not_require_grad():
    x = TensorNode(np.array(1.0), requires_grad=True)
    constant = TensorNode(np.array(2.0))
    with pytest.raises(GradientError, match="input 1 does not require grad"):
        autograd.grad(x * constant, [x, constant])
    with pytest.raises(GradientError, match="input 0 does not require grad"):
        autograd.grad(x * 2.0, np.array(1.0))


def test_grad_refuses_an_output_that_does_not_require_grad():
    x = TensorNode(np.array(1.0), requires_grad=True)
    with autograd.no_grad():
        y = x * x
    with pytest.raises(GradientError, match="grad: the output does not require grad"):
        autograd.grad(y, x)


def test_grad_with_respect_to_an_intermediate_node():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    h = x * x
    (gh,) = autograd.grad((h * h).sum(), h, create_graph=True)  # 2h
    np.testing.assert_array_equal(gh.value, [2.0, 8.0])
    (gx,) = autograd.grad(gh.sum(), x)  # d/dx 2x^2 = 4x
    np.testing.assert_array_equal(gx.value, [4.0, 8.0])


def test_a_first_derivative_that_does_not_depend_on_x_has_no_graph_to_differentiate():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    (first,) = autograd.grad((x * 3.0).sum(), x, create_graph=True)
    np.testing.assert_array_equal(first.value, [3.0, 3.0])
    assert not first.requires_grad  # as in PyTorch: a linear function's gradient is constant
    with pytest.raises(GradientError, match="does not require grad"):
        autograd.grad(first.sum(), x)


# ----- inputs that enter linearly -------------------------------------------------------------


def test_gradgradcheck_expects_zero_second_derivatives_for_an_input_that_enters_linearly():
    assert gradgradcheck(lambda a, b: a * a + b, [np.ones(2), np.ones(2)])


def test_a_refused_second_derivative_frees_nothing_so_a_retry_refuses_the_same_way():
    x = TensorNode(np.array([0.5, -1.0]), requires_grad=True)
    (first,) = autograd.grad((CubeOnArrays.do_forward(x) * x).sum(), x, create_graph=True)
    for _ in range(2):
        with pytest.raises(GradientError, match=r"CubeOnArrays\.backward ran on arrays"):
            autograd.grad(first.sum(), x)


# ----- a constant and a leaf holding one array (issue 15) -----------------------------------------

ALIASED = {
    # name: (f(constant array, leaf) for both engines, the second derivative by hand)
    "x.value * x": (lambda a, x: ((a * x) ** 2).sum(), lambda a: 2 * a * a),
    "x.value / x": (lambda a, x: ((a / x) ** 2).sum(), lambda a: -2 * a * a * -4 / a**4),
    "x - x.value": (lambda a, x: ((x - a) ** 3).sum(), lambda a: 0 * a),
}


@pytest.mark.parametrize("name", list(ALIASED))
def test_a_constant_holding_the_leafs_array_is_a_constant_in_second_order(name):
    torch = pytest.importorskip("torch")

    f, expected = ALIASED[name]
    arr = np.array([1.0, 2.0, 3.0])
    x = TensorNode(arr, requires_grad=True)
    (g,) = autograd.grad(f(x.value, x), x, create_graph=True)
    (gg,) = autograd.grad(g.sum(), x)
    x_torch = torch.tensor(arr, requires_grad=True)
    (g_torch,) = torch.autograd.grad(f(torch.tensor(arr), x_torch), x_torch, create_graph=True)
    (gg_torch,) = torch.autograd.grad(g_torch.sum(), x_torch)
    np.testing.assert_allclose(gg.value, gg_torch.numpy(), rtol=1e-12)
    if name != "x.value / x":
        np.testing.assert_allclose(gg.value, expected(arr), rtol=1e-12)
    np.testing.assert_allclose(g.value, g_torch.detach().numpy(), rtol=1e-12)


def test_an_array_times_the_leaf_made_from_it_matches_the_maths():
    arr = np.array([1.0, 2.0, 3.0])
    x = TensorNode(arr, requires_grad=True)
    (g,) = autograd.grad(((arr * x) ** 2).sum(), x, create_graph=True)  # 2 arr^2 x
    np.testing.assert_allclose(autograd.grad(g.sum(), x)[0].value, 2 * arr**2)


def test_a_matrix_times_the_leaf_made_from_it_matches_pytorch():
    torch = pytest.importorskip("torch")

    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = TensorNode(a, requires_grad=True)
    (g,) = autograd.grad(((a @ x) ** 2).sum(), x, create_graph=True)  # 2 A^T A X
    (gg,) = autograd.grad((g * g).sum(), x)  # 8 (A^T A)^T (A^T A) X
    gram = a.T @ a
    np.testing.assert_allclose(gg.value, 8 * gram.T @ gram @ a)
    x_torch = torch.tensor(a, requires_grad=True)
    (g_torch,) = torch.autograd.grad(
        ((torch.tensor(a) @ x_torch) ** 2).sum(), x_torch, create_graph=True
    )
    (gg_torch,) = torch.autograd.grad((g_torch * g_torch).sum(), x_torch)
    np.testing.assert_allclose(gg.value, gg_torch.numpy())
