"""Property-test any function or custom Op in one call, with hypothesis.

    >>> from autograd.testing import arrays, property_test
    >>> property_test(lambda x: x.tanh(), arrays())          # 50 drawn shapes and values

``check_gradients`` makes these promises about one set of inputs, and ``property_test`` checks
them over many drawn inputs:

1. backward agrees with central differences in float64, for every output element, for
   contiguous, transposed and strided inputs; each op's backward leaves ``grad_output`` and
   its saved values alone and gives the same result twice (all via ``autograd.gradcheck``);
2. every float input gets one gradient of its own shape and dtype: float32 in, float32 out
   (for an Op class, its own backward is also asked directly, since the engine would cast a
   float64 gradient back silently);
3. neither forward nor backward modifies the inputs;
4. with ``order=2``, second derivatives agree with central differences of the first
   (via ``autograd.gradcheck.gradgradcheck``).
Needs hypothesis (``pip install autograd-nn[test]``); the engine itself does not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from autograd.errors import MissingPackageError

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as error:
    raise MissingPackageError("hypothesis", "test", "property tests") from error

from autograd.gradcheck import gradcheck, gradgradcheck, outputs_of, weighted_sum
from autograd.op import Op
from autograd.tensor import TensorNode

__all__ = [
    "arrays",
    "axes",
    "broadcastable_arrays",
    "broadcastable_shapes",
    "check_gradients",
    "convolutions",
    "poolings",
    "property_test",
    "shapes",
]


# ----- strategies ----------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes, 0-d and size-1 axes included: ``()``, ``(1,)``, ``(3, 1, 2)``, ..."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def _inside(bound: float, dtype, toward: float) -> float:
    """The float of ``dtype`` nearest ``bound`` that is on the inside, toward ``toward``
    (hypothesis refuses bounds that a float32 cannot hold exactly, such as 0.1)."""
    rounded = np.asarray(bound, dtype=dtype)
    if (float(rounded) - bound) * (toward - bound) < 0:  # rounding went outside the range
        rounded = np.nextafter(rounded, np.asarray(toward, dtype=dtype))
    return float(rounded)


def _elements(dtype, min_value: float, max_value: float, away_from: float | None, margin: float):
    width = np.dtype(dtype).itemsize * 8
    low, high = _inside(min_value, dtype, max_value), _inside(max_value, dtype, min_value)
    values = st.floats(low, high, allow_nan=False, allow_infinity=False, width=width)
    if away_from is not None:
        # Keep clear of a kink (relu at 0) where a derivative does not exist.
        values = values.filter(lambda v: abs(v - away_from) > margin)
    return values


def arrays(
    shape=None,
    dtype=np.float64,
    min_value: float = -3.0,
    max_value: float = 3.0,
    away_from: float | None = None,
    margin: float = 1e-2,
    unique: bool = False,
):
    """Finite float arrays of ``shape`` (a tuple, or a strategy; drawn by ``shapes()`` if None).

    >>> arrays((2, 3), min_value=0.1)          # positive values, e.g. for log
    >>> arrays(away_from=0.0)                   # no element within 0.01 of zero, e.g. for relu
    """
    return hnp.arrays(
        dtype,
        shapes() if shape is None else shape,
        elements=_elements(dtype, min_value, max_value, away_from, margin),
        unique=unique,
    )


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, max_side=4):
    """Tuples of shapes that broadcast together, as NumPy's rules allow: ``((3, 1), (4,))``."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda result: result.input_shapes)


@st.composite
def broadcastable_arrays(draw, num_arrays: int = 2, dtype=np.float64, **element_options):
    """Tuples of arrays whose shapes broadcast together."""
    drawn_shapes = draw(broadcastable_shapes(num_arrays))
    return tuple(draw(arrays(shape, dtype, **element_options)) for shape in drawn_shapes)


def axes(ndim: int, allow_none: bool = True, allow_tuple: bool = True):
    """Valid ``axis`` arguments for an array with ``ndim`` axes: None, an int (negative too)
    or a tuple of distinct axes."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
    if allow_tuple:
        options.append(hnp.valid_tuple_axes(ndim))
    return st.one_of(*options)


@st.composite
def convolutions(draw, max_side: int = 6, max_groups: int = 3, dtype=np.float64):
    """A convolution to check: ``(x, weight, bias or None, arguments)`` with arguments a dict of
    ``stride``, ``padding`` (an int, a pair, "same" or "valid"), ``dilation`` and ``groups``,
    drawn so that the kernel fits the padded input (depthwise and 1x1 kernels included).

    >>> x, w, b, arguments = convolutions().example()
    >>> autograd.functional.conv2d(x, w, b, **arguments)
    """
    groups = draw(st.integers(1, max_groups), label="groups")
    in_channels = groups * draw(st.integers(1, 2), label="in_channels / groups")
    out_channels = groups * draw(st.integers(1, 2), label="out_channels / groups")
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([1, 2, 3, (1, 2), (2, 1)]), label="stride")
    dilation = draw(st.sampled_from([1, 2, (1, 2)]), label="dilation")
    paddings = [0, 1, 2, (0, 1), (2, 1), "valid"] + (["same"] if stride == 1 else [])
    padding = draw(st.sampled_from(paddings), label="padding")
    pads = {"valid": (0, 0), "same": (0, 0)}.get(padding, padding)
    pads = (pads, pads) if isinstance(pads, int) else pads
    dilations = (dilation, dilation) if isinstance(dilation, int) else dilation
    sizes = []
    for k, d, p in zip(kernel, dilations, pads):
        span = d * (k - 1) + 1
        sizes.append(draw(st.integers(max(1, span - 2 * p), max(1, span - 2 * p) + max_side - 1)))
    batch = draw(st.integers(1, 2), label="batch")
    x = draw(arrays((batch, in_channels, *sizes), dtype), label="x")
    weight = draw(arrays((out_channels, in_channels // groups, *kernel), dtype), label="weight")
    bias = draw(st.none() | arrays((out_channels,), dtype), label="bias")
    arguments = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, weight, bias, arguments


@st.composite
def poolings(draw, max_side: int = 6, dtype=np.float64, unique: bool = True):
    """A pooling to check: ``(x, arguments)`` with arguments a dict of ``kernel_size``,
    ``stride`` (None: the kernel; smaller strides overlap the windows) and ``padding`` (at most
    half the kernel). ``unique`` values keep clear of ties, where max-pooling has a kink.

    >>> x, arguments = poolings().example()
    >>> autograd.functional.max_pool2d(x, **arguments)
    """
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, 1, 2, (1, 2), 3]), label="stride")
    padding = draw(st.sampled_from([0, 1, (0, 1), (1, 0)]), label="padding")
    pads = (padding, padding) if isinstance(padding, int) else padding
    pads = tuple(min(p, k // 2) for p, k in zip(pads, kernel))
    sizes = [draw(st.integers(max(1, k - 2 * p), k + max_side)) for k, p in zip(kernel, pads)]
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sizes)
    if unique:  # a shuffle of evenly spaced values: no two within a finite difference's step
        size = int(np.prod(shape))
        order = np.array(draw(st.permutations(range(size)), label="order"), dtype=dtype)
        x = (order * (6 / size) - 3).reshape(shape)
    else:
        x = draw(arrays(shape, dtype), label="x")
    return x, dict(kernel_size=kernel, stride=stride, padding=pads)


# ----- checks --------------------------------------------------------------------------------


def _as_function(fn) -> Callable[..., TensorNode]:
    if isinstance(fn, type) and issubclass(fn, Op):
        return fn.do_forward
    return fn


def check_gradients(
    fn,
    *inputs: np.ndarray,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    check_float32: bool = True,
    order: int = 1,
) -> None:
    """Assert the promises above for ``fn`` (a function of TensorNodes, or an Op class) on
    these arrays. Float inputs are differentiated; integer inputs are passed as constants.

    >>> check_gradients(lambda a, b: a @ b, np.random.randn(2, 3), np.random.randn(3))
    >>> check_gradients(Tanh, np.random.randn(2, 3), order=2)   # second derivatives too
    """
    op = fn if isinstance(fn, type) and issubclass(fn, Op) else None
    fn = _as_function(fn)
    inputs = [np.asarray(x) for x in inputs]
    is_float = [x.dtype.kind == "f" for x in inputs]

    def nodes(dtype):
        return [
            TensorNode(x.astype(dtype), requires_grad=True) if f else TensorNode(x.copy())
            for x, f in zip(inputs, is_float, strict=True)
        ]

    probe = outputs_of("check_gradients", fn(*nodes(np.float64)))
    rng = np.random.default_rng(0)
    weights = [rng.uniform(0.5, 1.5, output.value.shape) for output in probe]

    def scalar_fn(*nodes):
        return weighted_sum(outputs_of("check_gradients", fn(*nodes)), weights)

    # Promises 2 and 3 first: a changed input or dtype also upsets gradcheck, less clearly.
    _check_dtypes_and_inputs(scalar_fn, nodes(np.float32 if check_float32 else np.float64))
    if op is not None and check_float32:
        _check_op_backward_dtypes(
            op, [x.astype(np.float32) if f else x for x, f in zip(inputs, is_float)]
        )
    gradcheck(fn, nodes(np.float64), eps=eps, atol=atol, rtol=rtol)
    if order >= 2:
        gradgradcheck(fn, nodes(np.float64), eps=eps, atol=atol, rtol=rtol)


def _check_dtypes_and_inputs(scalar_fn, nodes: list[TensorNode]) -> None:
    """One forward and backward: inputs unchanged, one gradient per input of its shape and dtype."""
    originals = [node.value.copy() for node in nodes]

    def assert_inputs_unchanged(stage: str) -> None:
        for index, (node, original) in enumerate(zip(nodes, originals, strict=True)):
            assert np.array_equal(node.value, original, equal_nan=True), (
                f"input {index} was modified in place by {stage}"
            )

    output = scalar_fn(*nodes)
    assert_inputs_unchanged("forward")
    float_dtypes = {node.value.dtype for node in nodes if node.value.dtype.kind == "f"}
    if float_dtypes == {np.dtype(np.float32)}:
        assert output.value.dtype == np.float32, (
            f"float32 inputs gave a {output.value.dtype} output: some op promotes float32"
        )
    if output.requires_grad:
        output.backward()
    assert_inputs_unchanged("backward")
    for index, node in enumerate(nodes):
        if node.grad is not None:
            assert type(node.grad) is np.ndarray, (
                f"input {index}: gradient is a {type(node.grad).__name__}, not an array"
            )
            assert node.grad.shape == node.value.shape, (
                f"input {index}: gradient shape {node.grad.shape} != input shape {node.value.shape}"
            )
            assert node.grad.dtype == node.value.dtype, (
                f"input {index}: {node.value.dtype} input got a {node.grad.dtype} gradient"
            )


def _check_op_backward_dtypes(op: type[Op], arrays: list[np.ndarray]) -> None:
    """Call an Op's own forward and backward on float32 arrays: the engine casts a float64
    gradient back to float32 silently, which hides a promotion (and its cost) from the checks
    above, so the op's backward is asked directly."""
    if op.broadcasts:
        arrays = [np.ascontiguousarray(x) for x in np.broadcast_arrays(*arrays)]
    context = {"needs_input_grad": tuple(x.dtype.kind == "f" for x in arrays)}
    outputs = op.forward(context, *arrays)
    outputs = outputs if type(outputs) is tuple else (outputs,)  # arrays, not TensorNodes here
    grads = op.backward(context, *[np.ones_like(y) for y in outputs])
    grads = grads if type(grads) is tuple else (grads,)
    for index, (x, grad) in enumerate(zip(arrays, grads)):
        if grad is not None and x.dtype.kind == "f":
            assert np.asarray(grad).dtype == x.dtype, (
                f"{op.__name__}.backward returned a {np.asarray(grad).dtype} gradient for "
                f"{x.dtype} input {index}: it promotes float32"
            )


def property_test(
    fn,
    *strategies,
    inputs=None,
    max_examples: int = 50,
    **check_options,
) -> None:
    """Run ``check_gradients(fn, ...)`` on inputs drawn by hypothesis (``order=2`` and the
    other options of check_gradients pass through).

    Give one strategy per input, or ``inputs=`` a strategy of whole input tuples (for inputs
    whose shapes must agree, e.g. ``broadcastable_arrays()``).

    >>> property_test(lambda a, b: a * b, inputs=broadcastable_arrays())
    >>> property_test(Tanh, arrays(), order=2)     # second derivatives too
    """
    if inputs is not None and strategies:
        raise TypeError("property_test: give either strategies or inputs=, not both")
    drawn = inputs if inputs is not None else st.tuples(*strategies)

    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
    )
    @given(drawn)
    def run(arrays_drawn):
        check_gradients(fn, *arrays_drawn, **check_options)

    run()
