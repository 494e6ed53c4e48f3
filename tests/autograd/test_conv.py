"""Specification of autograd/ops/conv.py: convolution and pooling over NCHW images.

Outputs and gradients agree with PyTorch in float64 on drawn shapes, strides, paddings, dilations
and groups, and with central differences to first and second order; float32 stays float32;
non-contiguous (channels-last) inputs give the same answers; max-pooling's ties go to the first
maximum of each window and overlapping windows add their gradients; bad shapes are clear errors.
(Second derivatives against PyTorch's double backward are in test_higher_order.py, with every
other op's.)
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import (
    AvgPool2d,
    Conv2d,
    ConvTranspose2d,
    MaxPool2d,
    ShapeError,
    TensorNode,
)
from autograd import functional as AF
from autograd.testing import check_gradients, convolutions, poolings

# PyTorch warns that padding="same" with an even kernel makes a padded copy: not our concern.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

EXAMPLES = settings.default.max_examples  # from the profile in tests/conftest.py
FEW = max(3, EXAMPLES // 6)  # central differences cost a forward pass per input element


def _torch():
    torch = pytest.importorskip("torch")
    return torch


def _conv(x, w, b, arguments):
    return AF.conv2d(x, w, b, **arguments)


def _torch_conv(torch, x, w, b, arguments):
    return torch.nn.functional.conv2d(x, w, b, **arguments)


def _ours_and_theirs(ours, theirs, inputs, seed=0):
    """Outputs and gradients (of a random weighting of the output) from both engines."""
    torch = _torch()
    nodes = [None if x is None else TensorNode(x, requires_grad=True) for x in inputs]
    tensors = [None if x is None else torch.tensor(x, requires_grad=True) for x in inputs]
    y = ours(*nodes)
    weights = np.random.default_rng(seed).normal(size=y.shape)
    (y * weights).sum().backward()
    t = theirs(torch, *tensors)
    (t * torch.tensor(weights)).sum().backward()
    our_grads = [None if n is None else n.grad for n in nodes]
    their_grads = [None if t_ is None else t_.grad.numpy() for t_ in tensors]
    return (y.value, our_grads), (t.detach().numpy(), their_grads)


def _assert_same(ours, theirs, tolerance=1e-10):
    (y, grads), (t, their_grads) = ours, theirs
    np.testing.assert_allclose(y, t, rtol=tolerance, atol=tolerance, err_msg="output")
    for index, (g, tg) in enumerate(zip(grads, their_grads, strict=True)):
        if g is not None:
            np.testing.assert_allclose(
                g, tg, rtol=tolerance, atol=tolerance, err_msg=f"input {index}"
            )


# ----- convolution -----------------------------------------------------------------------------


@given(convolutions())
def test_conv2d_output_and_gradients_match_torch_in_float64(convolution):
    x, w, b, arguments = convolution
    _assert_same(
        *_ours_and_theirs(
            lambda x, w, b: _conv(x, w, b, arguments),
            lambda torch, x, w, b: _torch_conv(torch, x, w, b, arguments),
            (x, w, b),
        )
    )


@settings(max_examples=FEW)
@given(convolutions(max_side=3, max_groups=2))
def test_conv2d_first_and_second_derivatives_match_central_differences(convolution):
    x, w, b, arguments = convolution
    inputs = (x, w) if b is None else (x, w, b)
    check_gradients(
        lambda *nodes: _conv(*nodes[:2], nodes[2] if b is not None else None, arguments),
        *inputs,
        order=2,
    )


def test_conv2d_keeps_float32():
    rng = np.random.default_rng(0)
    x = TensorNode(rng.normal(size=(2, 3, 6, 5)).astype(np.float32), requires_grad=True)
    w = TensorNode(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    b = TensorNode(rng.normal(size=4).astype(np.float32), requires_grad=True)
    y = AF.conv2d(x, w, b, padding=1)
    y.sum().backward()
    assert y.dtype == np.float32
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


@given(convolutions())
def test_conv2d_of_a_channels_last_input_equals_that_of_a_contiguous_one(convolution):
    x, w, b, arguments = convolution
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    outputs = []
    for layout in (x, channels_last):
        node, weight = TensorNode(layout, requires_grad=True), TensorNode(w, requires_grad=True)
        y = _conv(node, weight, b, arguments)
        y.sum().backward()
        outputs.append((y.value, node.grad, weight.grad))
    for ours, theirs in zip(*outputs, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_input_rows_that_no_window_reaches_get_zero_gradient_and_keep_the_input_shape():
    # 3x3 kernel, stride 2 on 6 rows: windows start at rows 0 and 2, so row 5 is never read.
    x = np.arange(36.0).reshape(1, 1, 6, 6)
    w = np.ones((1, 1, 3, 3))
    ours, theirs = _ours_and_theirs(
        lambda x, w: _conv(x, w, None, {"stride": 2}),
        lambda torch, x, w: torch.nn.functional.conv2d(x, w, stride=2),
        (x, w),
    )
    assert ours[0].shape == (1, 1, 2, 2)
    assert ours[1][0].shape == x.shape
    assert not ours[1][0][0, 0, 5].any() and not ours[1][0][0, 0, :, 5].any()
    _assert_same(ours, theirs)


def test_padding_same_keeps_the_size_even_for_an_even_kernel_with_the_extra_row_at_the_end():
    x, w = np.random.default_rng(0).normal(size=(1, 2, 5, 6)), np.ones((3, 2, 2, 4))
    ours, theirs = _ours_and_theirs(
        lambda x, w: _conv(x, w, None, {"padding": "same"}),
        lambda torch, x, w: torch.nn.functional.conv2d(x, w, padding="same"),
        (x, w),
    )
    assert ours[0].shape == (1, 3, 5, 6)
    _assert_same(ours, theirs)


def test_depthwise_convolution_filters_each_channel_on_its_own():
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 5))
    w = np.zeros((3, 1, 1, 1))
    w[:, 0, 0, 0] = [1.0, 2.0, 3.0]
    y = AF.conv2d(TensorNode(x), TensorNode(w), groups=3)
    np.testing.assert_allclose(y.value, x * np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1))


def test_conv2d_backward_is_a_transposed_convolution_op_and_a_weight_gradient_op():
    x = TensorNode(np.ones((1, 1, 4, 4)), requires_grad=True)
    w = TensorNode(np.ones((1, 1, 3, 3)), requires_grad=True)
    y = AF.conv2d(x, w, padding=1)
    grad_x, grad_w = autograd.grad(y.sum(), [x, w], create_graph=True)
    assert grad_x.source.op is ConvTranspose2d
    assert grad_w.source.op is autograd.Conv2dWeightGrad
    # Each corner pixel is read by 4 windows of the 3x3 kernel, an edge pixel by 6, others by 9.
    edge, middle = [4, 6, 6, 4], [6, 9, 9, 6]
    np.testing.assert_array_equal(grad_x.value[0, 0], [edge, middle, middle, edge])


def test_hessian_through_a_small_cnn_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 1, 5, 5))
    w2 = rng.normal(size=(2, 2, 2, 2))
    w1 = rng.normal(size=(2, 1, 3, 3)) * 0.5

    def ours(w):
        h = AF.conv2d(TensorNode(x), w, padding=1).tanh()
        h = AF.max_pool2d(h, 2, stride=1)
        h = AF.avg_pool2d(AF.conv2d(h, TensorNode(w2), stride=2), 2, padding=1)
        return (h * h).sum()

    def theirs(w):
        f = torch.nn.functional
        h = f.conv2d(torch.tensor(x), w, padding=1).tanh()
        h = f.max_pool2d(h, 2, stride=1)
        h = f.avg_pool2d(f.conv2d(h, torch.tensor(w2), stride=2), 2, padding=1)
        return (h * h).sum()

    hessian = autograd.func.hessian(ours)(w1)
    expected = torch.autograd.functional.hessian(theirs, torch.tensor(w1)).numpy()
    assert hessian.shape == w1.shape * 2
    np.testing.assert_allclose(hessian, expected, rtol=1e-9, atol=1e-10)


# ----- pooling ---------------------------------------------------------------------------------


@given(poolings(unique=False), st.sampled_from(["max", "avg"]))
def test_pooling_output_and_gradient_match_torch_in_float64(pooling, kind):
    x, arguments = pooling
    ours = getattr(AF, f"{kind}_pool2d")
    _assert_same(
        *_ours_and_theirs(
            lambda x: ours(x, **arguments),
            lambda torch, x: getattr(torch.nn.functional, f"{kind}_pool2d")(x, **arguments),
            (x,),
        )
    )


@settings(max_examples=FEW)
@given(poolings(max_side=3), st.sampled_from([MaxPool2d, AvgPool2d]))
def test_pooling_first_and_second_derivatives_match_central_differences(pooling, op):
    x, arguments = pooling
    check_gradients(lambda x: op.do_forward(x, **arguments), x, order=2)


def test_max_pool_ties_give_the_gradient_to_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 1, 4, 4))  # after a ReLU: windows of zeros
    x[0, 0, 2, 3] = x[0, 0, 3, 2] = 1.0  # a tie of ones in the last window
    node = TensorNode(x, requires_grad=True)
    AF.max_pool2d(node, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[0, 0] = expected[0, 2] = expected[2, 0] = expected[2, 3] = 1.0
    np.testing.assert_array_equal(node.grad[0, 0], expected)
    torch = _torch()
    t = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(t, 2).sum().backward()
    np.testing.assert_array_equal(node.grad, t.grad.numpy())


def test_overlapping_max_pool_windows_add_their_gradients():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the maximum of all four 2x2 windows (stride 1)
    node = TensorNode(x, requires_grad=True)
    AF.max_pool2d(node, 2, stride=1).sum().backward()
    assert node.grad[0, 0, 1, 1] == 4.0 and node.grad.sum() == 4.0


def test_max_pool_pads_with_minus_infinity_so_negative_inputs_win_over_padding():
    x = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y = AF.max_pool2d(TensorNode(x), 3, stride=1, padding=1)
    np.testing.assert_array_equal(y.value[0, 0], [[-1.0, -1.0], [-1.0, -1.0]])


def test_max_pool_propagates_nan_as_torch_does():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan
    y = AF.max_pool2d(TensorNode(x), 2)
    assert np.isnan(y.value[0, 0, 0, 0]) and not np.isnan(y.value[0, 0, 1:, 1:]).any()


def test_avg_pool_counts_padding_in_the_average():
    y = AF.avg_pool2d(TensorNode(np.ones((1, 1, 2, 2))), 2, stride=1, padding=1)
    np.testing.assert_allclose(
        y.value[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    )


@pytest.mark.parametrize("function", [AF.max_pool2d, AF.avg_pool2d])
def test_pooling_keeps_float32(function):
    x = TensorNode(np.random.default_rng(0).normal(size=(2, 3, 6, 6)).astype(np.float32), True)
    y = function(x, 3, stride=2, padding=1)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == np.float32


# ----- errors ----------------------------------------------------------------------------------


def test_channels_that_do_not_match_the_weight_are_a_clear_error():
    with pytest.raises(ShapeError, match=r"Conv2d: the input has 2 channels .* expects 3"):
        AF.conv2d(TensorNode(np.ones((1, 2, 5, 5))), TensorNode(np.ones((4, 3, 3, 3))))


def test_channels_that_do_not_split_into_groups_are_a_clear_error():
    with pytest.raises(ShapeError, match=r"channels do not split into groups=2: .* 3 channels"):
        AF.conv2d(TensorNode(np.ones((1, 3, 5, 5))), TensorNode(np.ones((4, 1, 3, 3))), groups=2)


def test_a_kernel_larger_than_the_padded_input_is_a_clear_error():
    with pytest.raises(
        ShapeError, match=r"kernel \(5, 5\) is larger than the padded input \(4, 4\)"
    ):
        AF.conv2d(TensorNode(np.ones((1, 1, 2, 2))), TensorNode(np.ones((1, 1, 5, 5))), padding=1)
    with pytest.raises(ShapeError, match=r"MaxPool2d: the kernel \(3, 3\) is larger"):
        AF.max_pool2d(TensorNode(np.ones((1, 1, 2, 2))), 3)


def test_padding_same_with_a_stride_above_one_is_a_clear_error():
    with pytest.raises(ValueError, match=r'padding="same" needs stride 1, got stride \(2, 2\)'):
        AF.conv2d(
            TensorNode(np.ones((1, 1, 5, 5))),
            TensorNode(np.ones((1, 1, 3, 3))),
            stride=2,
            padding="same",
        )


@pytest.mark.parametrize(
    "function",
    [
        lambda x: AF.conv2d(x, TensorNode(np.ones((2, 3, 3, 3)))),
        lambda x: AF.max_pool2d(x, 2),
        lambda x: AF.avg_pool2d(x, 2),
    ],
)
def test_an_input_that_is_not_4d_is_a_clear_error_saying_how_to_add_the_batch_axis(function):
    with pytest.raises(ShapeError, match=r"4-d input .* got shape \(3, 8, 8\).*x\[None\]"):
        function(TensorNode(np.ones((3, 8, 8))))


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"stride": 0}, "stride must be an int >= 1"),
        ({"stride": 1.5}, r"stride must be an int >= 1 or a pair of them, got 1.5"),
        ({"padding": -1}, "padding must be"),
        ({"padding": "full"}, 'padding must be an int, a pair, "same" or "valid"'),
        ({"dilation": (1, 2, 3)}, "dilation must be an int >= 1 or a pair"),
        ({"groups": 0}, "groups must be a positive int"),
    ],
)
def test_bad_convolution_arguments_are_clear_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        Conv2d.do_forward(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), **arguments)


def test_pooling_padding_above_half_the_kernel_is_a_clear_error():
    with pytest.raises(ValueError, match=r"padding \(2, 2\) must be at most half the kernel"):
        AF.max_pool2d(TensorNode(np.ones((1, 1, 8, 8))), 3, padding=2)


def test_max_pool_gives_an_infinite_gradient_only_to_its_window_maximum():
    # The scatter multiplies by a 0/1 mask for speed; 0 * inf would be NaN elsewhere.
    x = TensorNode(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y = AF.max_pool2d(x, 2)
    y.backward(np.array([[[[np.inf, 1.0], [2.0, 3.0]]]]))
    expected = np.zeros((4, 4))
    expected[1, 1], expected[1, 3], expected[3, 1], expected[3, 3] = np.inf, 1.0, 2.0, 3.0
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_max_pool_sends_the_gradient_of_a_window_holding_nans_to_its_last_nan_as_torch():
    torch = _torch()
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    node, t = TensorNode(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    AF.max_pool2d(node, 2).sum().backward()
    torch.nn.functional.max_pool2d(t, 2).sum().backward()
    np.testing.assert_array_equal(node.grad, t.grad.numpy())
    assert node.grad[0, 0, 1, 0] == 1.0
