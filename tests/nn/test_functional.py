"""Losses and layer functions, forward and backward, against PyTorch; and their errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import ShapeError, TensorNode
from nn import functional as F


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def leaf(array):
    return TensorNode(np.asarray(array, dtype=np.float32), requires_grad=True)


def torch_leaf(torch, array):
    return torch.tensor(np.asarray(array, dtype=np.float32), requires_grad=True)


def random_logits(seed, n=6, classes=4, scale=3.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(n, classes))).astype(np.float32), rng.integers(0, classes, n)


def run_loss(loss, reduction):
    """Backward with a fixed upstream gradient, so "none" is checked too."""
    upstream = np.linspace(0.5, 1.5, loss.size).reshape(loss.shape).astype(np.float32)
    loss.backward(upstream)
    return upstream


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cross_entropy_matches_torch(torch, reduction, seed):
    logits, labels = random_logits(seed)
    ours = leaf(logits)
    loss = F.cross_entropy(ours, labels, reduction=reduction)
    upstream = run_loss(loss, reduction)

    theirs = torch_leaf(torch, logits)
    expected = torch.nn.functional.cross_entropy(theirs, torch.tensor(labels), reduction=reduction)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(loss.value, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_torch(torch, reduction):
    logits, labels = random_logits(3)
    ours = leaf(logits)
    loss = F.nll_loss(F.log_softmax(ours, axis=1), labels, reduction=reduction)
    upstream = run_loss(loss, reduction)

    theirs = torch_leaf(torch, logits)
    expected = torch.nn.functional.nll_loss(
        torch.log_softmax(theirs, dim=1), torch.tensor(labels), reduction=reduction
    )
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(loss.value, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch(torch, reduction):
    rng = np.random.default_rng(4)
    prediction, target = rng.normal(size=(2, 5, 3)).astype(np.float32)
    ours = leaf(prediction)
    loss = F.mse_loss(ours, target, reduction=reduction)
    upstream = run_loss(loss, reduction)

    theirs = torch_leaf(torch, prediction)
    expected = torch.nn.functional.mse_loss(theirs, torch.tensor(target), reduction=reduction)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(loss.value, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_mse_loss_keeps_a_float32_prediction_float32_with_a_float64_target():
    loss = F.mse_loss(leaf(np.zeros(3)), np.ones(3, dtype=np.float64))
    assert loss.dtype == np.float32


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy_with_logits_matches_torch(torch, reduction):
    rng = np.random.default_rng(5)
    logits = np.concatenate([4 * rng.normal(size=8), [0.0, -0.0, 120.0, -120.0]])
    targets = np.concatenate([rng.uniform(size=8), [1.0, 0.0, 0.0, 1.0]]).astype(np.float32)
    ours = leaf(logits)
    loss = F.binary_cross_entropy_with_logits(ours, targets, reduction=reduction)
    upstream = run_loss(loss, reduction)

    theirs = torch_leaf(torch, logits)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        theirs, torch.tensor(targets), reduction=reduction
    )
    expected.backward(torch.tensor(upstream))
    assert np.all(np.isfinite(loss.value))
    np.testing.assert_allclose(loss.value, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_binary_cross_entropy_gradient_at_zero_is_sigmoid_minus_target():
    logits = leaf([0.0, 0.0])
    F.binary_cross_entropy_with_logits(logits, [1.0, 0.0], reduction="sum").backward()
    np.testing.assert_allclose(logits.grad, [-0.5, 0.5])


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(2, 5),
    st.integers(0, 2**32 - 1),
    st.floats(0.1, 30.0),
)
def test_cross_entropy_equals_nll_of_log_softmax(n, classes, seed, scale):
    logits, labels = random_logits(seed, n, classes, scale)
    fused = F.cross_entropy(TensorNode(logits), labels)
    composed = F.nll_loss(F.log_softmax(TensorNode(logits), axis=1), labels)
    np.testing.assert_allclose(fused.value, composed.value, rtol=1e-5, atol=1e-5)


def test_linear_is_x_at_w_plus_b_and_bias_is_optional():
    rng = np.random.default_rng(6)
    x, w, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    y = F.linear(TensorNode(x), TensorNode(w), TensorNode(b))
    np.testing.assert_allclose(y.value, x @ w + b)
    np.testing.assert_allclose(F.linear(TensorNode(x), TensorNode(w)).value, x @ w)


def test_activation_functions_are_re_exported():
    x = TensorNode([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(F.relu(x).value, [0.0, 0.0, 2.0])
    np.testing.assert_allclose(F.sigmoid(x).value, 1 / (1 + np.exp(-x.value)), rtol=1e-6)
    np.testing.assert_allclose(F.tanh(x).value, np.tanh(x.value), rtol=1e-6)
    np.testing.assert_allclose(F.softmax(x).value.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(F.log_softmax(x).value).sum(), 1.0, rtol=1e-6)


def test_dropout_in_evaluation_returns_its_input():
    x = leaf(np.ones(5))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0, training=True) is x


def test_dropout_gradient_is_the_scaled_mask():
    x = leaf(np.ones(1000))
    y = F.dropout(x, 0.25, rng=0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.value)  # y = mask / (1 - p) for x = 1
    assert set(np.unique(y.value)) == {np.float32(0), np.float32(1 / 0.75)}


# ----- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_labels_out_of_range_are_refused_naming_the_class_count(loss):
    with pytest.raises(ValueError, match=r"\[0, 4\) for 4 classes, got values from 0 to 4"):
        loss(leaf(np.zeros((3, 4))), np.array([0, 4, 1]))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_negative_labels_are_refused(loss):
    with pytest.raises(ValueError, match="from -1"):
        loss(leaf(np.zeros((3, 4))), np.array([0, -1, 1]))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_float_labels_are_refused_with_a_fix(loss):
    with pytest.raises(TypeError, match=r"astype\(np.int64\)"):
        loss(leaf(np.zeros((3, 4))), np.array([0.0, 1.0, 1.0]))


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_labels_must_have_one_entry_per_row(loss):
    with pytest.raises(ShapeError, match=r"labels \(2,\)"):
        loss(leaf(np.zeros((3, 4))), np.array([0, 1]))


def test_scores_must_be_a_matrix():
    with pytest.raises(ShapeError, match=r"logits \(4,\)"):
        F.cross_entropy(leaf(np.zeros(4)), np.array([0]))


@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy_with_logits])
def test_prediction_and_target_shapes_must_match(loss):
    with pytest.raises(ShapeError, match=r"\(3, 1\) but target has shape \(3,\)"):
        loss(leaf(np.zeros((3, 1))), np.zeros(3))


@pytest.mark.parametrize(
    "loss, arguments",
    [
        (F.cross_entropy, (np.zeros((2, 3)), np.array([0, 1]))),
        (F.nll_loss, (np.zeros((2, 3)), np.array([0, 1]))),
        (F.mse_loss, (np.zeros(2), np.zeros(2))),
        (F.binary_cross_entropy_with_logits, (np.zeros(2), np.zeros(2))),
    ],
)
def test_an_unknown_reduction_is_refused(loss, arguments):
    scores, target = arguments
    with pytest.raises(ValueError, match="reduction must be one of"):
        loss(leaf(scores), target, reduction="average")


@pytest.mark.parametrize("p", [1.2, 1.0, -0.1, "0.5"])
def test_dropout_probability_must_be_in_zero_one(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout(leaf(np.ones(3)), p)
