"""Specification of autograd/ops/activation.py: Relu, Sigmoid, Tanh, Softmax and LogSoftmax,
including their numerical stability on huge inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import LogSoftmax, Relu, ShapeError, Sigmoid, Softmax, Tanh, TensorNode
from autograd.testing import arrays, check_gradients, property_test, shapes

EXAMPLES = settings.default.max_examples  # from the profile in tests/conftest.py

# Overflow, 0/0 and x/0 must not happen; exp(-1000) underflowing to 0 is the right answer.
STRICT = {"over": "raise", "invalid": "raise", "divide": "raise", "under": "ignore"}


def test_relu_gradient_matches_central_differences_away_from_the_kink():
    property_test(Relu, arrays(away_from=0.0), max_examples=EXAMPLES)


@pytest.mark.parametrize("op", [Sigmoid, Tanh], ids=lambda op: op.__name__)
def test_smooth_activation_gradients_match_central_differences(op):
    property_test(op, arrays(min_value=-6.0, max_value=6.0), max_examples=EXAMPLES)


@pytest.mark.parametrize("op", [Softmax, LogSoftmax], ids=lambda op: op.__name__)
@given(data=st.data())
def test_softmax_and_log_softmax_gradients_match_central_differences_along_any_axis(op, data):
    x = data.draw(arrays(shapes(min_dims=1)), label="x")
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    check_gradients(lambda x: op.do_forward(x, axis=axis), x)


def test_relu_gradient_at_zero_is_zero_as_in_torch():
    x = TensorNode(np.array([-1.0, 0.0, 2.0]), requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0])


@given(arrays(shapes(min_dims=1)), st.data())
def test_softmax_is_a_probability_distribution_along_its_axis(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    y = TensorNode(x).softmax(axis=axis).value
    assert (y > 0).all()
    np.testing.assert_allclose(y.sum(axis=axis), 1.0)
    np.testing.assert_allclose(TensorNode(x).log_softmax(axis=axis).value, np.log(y), atol=1e-12)


def test_softmax_axis_out_of_range_is_a_shape_error():
    with pytest.raises(ShapeError, match="Softmax: axis 2 is out of range"):
        TensorNode(np.ones((2, 3))).softmax(axis=2)
    with pytest.raises(ShapeError, match="LogSoftmax: axis -3 is out of range"):
        TensorNode(np.ones((2, 3))).log_softmax(axis=-3)


# ----- stability ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_of_plus_and_minus_1000_is_finite_and_exact_without_warnings(dtype):
    x = TensorNode(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=dtype), requires_grad=True)
    with np.errstate(**STRICT), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = x.sigmoid()
        y.sum().backward()
    # sigmoid(-1000) = 1 / (1 + e^1000), about 5e-435: 0 in any float; sigmoid(1000) rounds to 1.
    small = np.exp(-30.0) / (1 + np.exp(-30.0))  # sigmoid(-30) = 1 - sigmoid(30)
    expected = np.array([0.0, small, 0.5, 1 - small, 1.0])
    assert y.value.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(y.value, expected, rtol=1e-6, atol=0)
    # dy/dx = y (1 - y): 0 at +-1000, 1/4 at 0, about 9.4e-14 at +-30 (within float precision).
    expected_grad = expected * (1 - expected)
    np.testing.assert_allclose(x.grad, expected_grad, rtol=1e-6, atol=np.finfo(dtype).eps)
    assert y.value[0] == 0.0 and y.value[-1] == 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_and_log_softmax_of_logits_near_1e4_are_finite_and_correct(dtype):
    logits = np.array([[1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4, -1e4 + 2.0]], dtype=dtype)
    # Shifted by each row's max, the same rows are [0, -1, -2e4] and [-2, -2, 0].
    shifted = np.array([[0.0, -1.0, -2e4], [-2.0, -2.0, 0.0]])
    log_normalizer = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected_log = shifted - log_normalizer
    for op, expected in [(LogSoftmax, expected_log), (Softmax, np.exp(expected_log))]:
        x = TensorNode(logits, requires_grad=True)
        with np.errstate(**STRICT), warnings.catch_warnings():
            warnings.simplefilter("error")
            y = op.do_forward(x, axis=1)
            (y * TensorNode(np.array([1.0, 2.0, 3.0], dtype=dtype))).sum().backward()
        assert np.isfinite(y.value).all() and np.isfinite(x.grad).all()
        assert y.value.dtype == dtype and x.grad.dtype == dtype
        np.testing.assert_allclose(y.value, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", [Relu, Sigmoid, Tanh, Softmax, LogSoftmax], ids=lambda o: o.__name__)
def test_float32_input_gives_float32_output_and_gradient(op):
    x = TensorNode(np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    y = op.do_forward(x)
    (y * 1.5).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


# ----- PyTorch as the oracle ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (1,), (5,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_elementwise_activations_match_torch(matches_torch, name, shape):
    x = np.random.default_rng(10).normal(scale=3.0, size=shape)
    matches_torch(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), x)


@pytest.mark.parametrize("shape, axis", [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax_match_torch(torch, matches_torch, name, shape, axis):
    x = np.random.default_rng(11).normal(scale=3.0, size=shape)
    matches_torch(
        lambda x: getattr(x, name)(axis=axis),
        lambda x: getattr(torch, name)(x, dim=axis),
        x,
    )


def test_huge_logits_match_torch(torch, matches_torch):
    x = np.random.default_rng(12).normal(scale=1e4, size=(4, 5))
    matches_torch(lambda x: x.log_softmax(), lambda x: torch.log_softmax(x, dim=-1), x)
    matches_torch(lambda x: x.softmax(), lambda x: torch.softmax(x, dim=-1), x)
    matches_torch(lambda x: (x / 10).sigmoid(), lambda x: torch.sigmoid(x / 10), x)
