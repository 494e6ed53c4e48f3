"""Specification of autograd/ops/loss.py: the fused SoftmaxCrossEntropy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd import ShapeError, SoftmaxCrossEntropy, TensorNode
from autograd.functional import softmax_cross_entropy
from autograd.testing import arrays, check_gradients

REDUCTIONS = ["mean", "sum", "none"]


@st.composite
def logits_and_labels(draw):
    rows, classes = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    logits = draw(arrays((rows, classes)))
    labels = draw(hnp.arrays(np.int64, rows, elements=st.integers(0, classes - 1)))
    return logits, labels


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(logits_and_labels())
def test_gradient_matches_central_differences(reduction, logits_labels):
    check_gradients(
        lambda logits, labels: softmax_cross_entropy(logits, labels, reduction=reduction),
        *logits_labels,
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(logits_and_labels())
def test_fused_loss_equals_minus_log_softmax_at_the_labels(reduction, logits_labels):
    logits, labels = logits_labels
    picked = -TensorNode(logits).log_softmax(axis=1).value[np.arange(len(labels)), labels]
    expected = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    loss = softmax_cross_entropy(TensorNode(logits), labels, reduction=reduction)
    np.testing.assert_allclose(loss.value, expected, rtol=1e-12)


def test_gradient_is_softmax_minus_one_hot_over_the_batch_size():
    logits = TensorNode(np.log(np.array([[1.0, 1.0, 2.0], [3.0, 1.0, 1e-300]])), True)
    softmax_cross_entropy(logits, np.array([2, 0])).backward()
    # softmax rows: [1/4, 1/4, 1/2] and [3/4, 1/4, ~0]; minus the one-hot, divided by n = 2.
    np.testing.assert_allclose(
        logits.grad, [[0.125, 0.125, -0.25], [-0.125, 0.125, 0.0]], atol=1e-15
    )


def test_labels_may_be_given_as_an_integer_tensor_node():
    loss = SoftmaxCrossEntropy.do_forward(
        TensorNode(np.zeros((2, 4))), labels=TensorNode(np.array([1, 3]))
    )
    np.testing.assert_allclose(loss.value, np.log(4.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logits_near_1e4_give_a_finite_correct_loss_and_gradient(dtype):
    logits = TensorNode(np.array([[1e4, 1e4 - 2.0, -1e4], [-1e4, 0.0, 1e4]], dtype=dtype), True)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = softmax_cross_entropy(logits, np.array([1, 0]), reduction="sum")
            loss.backward()
    # Row 1: -log softmax at label 1 = log(1 + e^-2 + e^-2e4) - (-2) = 2 + log(1 + e^-2).
    # Row 2: label 0 is 2e4 below the max, so its loss is 2e4 (+ log(1 + e^-1e4) = 0).
    np.testing.assert_allclose(loss.value, 2 + np.log1p(np.exp(-2.0)) + 2e4, rtol=1e-6)
    assert loss.dtype == dtype and logits.grad.dtype == dtype
    p = 1 / (1 + np.exp(-2.0))  # softmax of row 1 at label 0
    np.testing.assert_allclose(logits.grad, [[p, (1 - p) - 1, 0.0], [-1.0, 0.0, 1.0]], atol=1e-6)


def test_float32_logits_give_float32_loss_and_gradient_for_every_reduction():
    for reduction in REDUCTIONS:
        logits = TensorNode(np.ones((3, 4), dtype=np.float32), requires_grad=True)
        loss = softmax_cross_entropy(logits, np.array([0, 1, 3]), reduction=reduction)
        loss.backward(grad=np.ones(loss.shape))
        assert loss.dtype == np.float32 and logits.grad.dtype == np.float32


# ----- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels", [np.array([0, 3]), np.array([-1, 0])], ids=["too big", "negative"]
)
def test_labels_out_of_range_are_a_clear_error(labels):
    with pytest.raises(ValueError, match=r"SoftmaxCrossEntropy: labels must lie in \[0, 3\)"):
        softmax_cross_entropy(TensorNode(np.zeros((2, 3))), labels)


@pytest.mark.parametrize(
    "labels", [np.array([0.0, 1.0]), np.array([True, False])], ids=["float", "bool"]
)
def test_non_integer_labels_are_a_type_error(labels):
    with pytest.raises(TypeError, match="SoftmaxCrossEntropy: labels must be integers"):
        softmax_cross_entropy(TensorNode(np.zeros((2, 3))), labels)


@pytest.mark.parametrize(
    "logits_shape, labels_shape",
    [((2, 3), (3,)), ((2, 3), (2, 1)), ((3,), (1,)), ((2, 3, 4), (2,))],
    ids=str,
)
def test_wrong_shapes_are_a_shape_error_naming_both_shapes(logits_shape, labels_shape):
    with pytest.raises(ShapeError) as caught:
        softmax_cross_entropy(TensorNode(np.zeros(logits_shape)), np.zeros(labels_shape, int))
    message = str(caught.value)
    assert message.startswith("SoftmaxCrossEntropy:")
    assert str(logits_shape) in message and str(labels_shape) in message


def test_unknown_reduction_is_a_clear_error():
    with pytest.raises(ValueError, match="reduction must be one of .* got 'avg'"):
        softmax_cross_entropy(TensorNode(np.zeros((2, 3))), np.array([0, 1]), reduction="avg")


# ----- PyTorch as the oracle ---------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (8, 3), (32, 10)], ids=str)
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_matches_torch_cross_entropy(torch, matches_torch, reduction, shape, scale):
    rng = np.random.default_rng(14)
    logits = rng.normal(scale=scale, size=shape)
    labels = rng.integers(0, shape[1], size=shape[0])
    matches_torch(
        lambda x, y: softmax_cross_entropy(x, y, reduction=reduction),
        lambda x, y: torch.nn.functional.cross_entropy(x, y, reduction=reduction),
        logits,
        labels,
        rtol=1e-9,
    )
