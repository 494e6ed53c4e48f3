"""Specification of autograd/gradcheck.py: backward against central differences in float64."""

from __future__ import annotations

import re

import numpy as np
import pytest

from autograd import GradcheckError, GradientError, Op, TensorNode, gradcheck
from autograd.gradcheck import numerical_gradient


class SquareWithOneWrongElement(Op):
    """y = x^2, whose backward is 2x except at [1, 2], where it adds 1 (a deliberate bug)."""

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return x * x

    @staticmethod
    def backward(context, grad_output):
        grad = 2 * context["x"] * grad_output
        grad[1, 2] += 1.0
        return grad


class NanBackward(Op):
    """y = x, with a backward that returns NaN."""

    @staticmethod
    def forward(context, x):
        return x.copy()

    @staticmethod
    def backward(context, grad_output):
        return grad_output * np.nan


def test_correct_ops_pass_and_return_true():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    assert gradcheck(lambda a, b: (a @ b).tanh().sum(), [a, b]) is True
    assert gradcheck(lambda x: x.softmax().max(), [rng.normal(size=5)]) is True
    assert gradcheck(lambda x: (x * x).mean(), [TensorNode(np.array(1.5))]) is True


def test_wrong_backward_raises_naming_the_input_the_worst_element_and_both_values():
    x = np.arange(12.0).reshape(3, 4) / 10
    other = np.ones(2)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda o, x: o.sum() + SquareWithOneWrongElement.do_forward(x).sum(), [other, x])
    message = str(caught.value)
    assert "input 1" in message and "(3, 4)" in message and "index (1, 2)" in message
    (analytic,) = map(float, re.findall(r"backward gives (-?[\d.e+-]+)", message))
    (numerical,) = map(float, re.findall(r"central differences give (-?[\d.e+-]+)", message))
    expected_numerical = 2 * x[1, 2]  # d(x^2)/dx = 2x = 1.2
    assert analytic == pytest.approx(expected_numerical + 1.0, rel=1e-12)
    assert numerical == pytest.approx(expected_numerical, rel=1e-6)


def test_error_names_the_input_when_it_has_a_name():
    x = TensorNode(np.ones((2, 3)), requires_grad=True, name="weights")
    with pytest.raises(GradcheckError, match=r"input 0 \('weights'\)"):
        gradcheck(lambda x: SquareWithOneWrongElement.do_forward(x).sum(), [x])


def test_nan_gradient_is_a_failure_not_a_pass():
    with pytest.raises(GradcheckError, match="backward gives nan"):
        gradcheck(lambda x: NanBackward.do_forward(x).sum(), [np.ones(3)])
    with pytest.raises(GradcheckError, match="backward gives nan"):
        gradcheck(lambda x: NanBackward.do_forward(x), [np.array(2.0)])


def test_missing_gradient_counts_as_zero_and_fails_when_it_should_not_be():
    class ForgetsItsInput(Op):
        @staticmethod
        def forward(context, x):
            return 3 * x

        @staticmethod
        def backward(context, grad_output):
            return None

    with pytest.raises(GradcheckError, match=r"backward gives 0.0, central differences give 2.99"):
        gradcheck(lambda x: ForgetsItsInput.do_forward(x).sum(), [np.ones(2)])


@pytest.mark.parametrize(
    "fn, shape",
    [
        (lambda x: x * 2.0, "shape (3,); reduce it"),
        (lambda x: 3.0, "a float"),
        (lambda x: x.value.sum(), "a float64"),
    ],
    ids=["vector", "number", "array"],
)
def test_fn_that_does_not_return_a_scalar_node_is_a_clear_error(fn, shape):
    with pytest.raises(
        GradientError, match=rf"fn must return a scalar TensorNode, got {re.escape(shape)}"
    ):
        gradcheck(fn, [np.ones(3)])


def test_float32_inputs_are_checked_in_float64_and_left_unchanged():
    seen_dtypes = []

    def fn(x):
        seen_dtypes.append(x.dtype)
        return (x * x * x).sum()  # curvature that float32 central differences could not resolve

    x = TensorNode(np.array([0.3, -1.7, 2.2], dtype=np.float32), requires_grad=True)
    original = x.value.copy()
    assert gradcheck(fn, [x], atol=1e-8, rtol=1e-6)
    assert set(seen_dtypes) == {np.dtype(np.float64)}
    assert x.value.dtype == np.float32 and x.grad is None
    np.testing.assert_array_equal(x.value, original)


def test_only_inputs_marked_as_requiring_grad_are_checked_when_any_is_marked():
    checked = TensorNode(np.ones(2), requires_grad=True)
    unchecked = TensorNode(np.ones(2))  # were it checked: backward gives 0, differences give 5
    assert gradcheck(lambda a, b: (a * 2.0).sum() + (b * 5.0).sum(), [checked, unchecked])
    unchecked.requires_grad = True
    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(
            lambda a, b: (a * 2.0).sum() + NanBackward.do_forward(b).sum(), [checked, unchecked]
        )


def test_integer_inputs_are_constants():
    index = np.array([2, 0])
    assert gradcheck(lambda x, i: x[i].sum() * 3.0, [np.arange(4.0), index])


def test_numerical_gradient_is_central_differences_and_restores_the_input():
    x = TensorNode(np.array([1.0, 2.0]))
    grad = numerical_gradient(lambda x: (x * x * x).sum(), [x], 0, eps=1e-3)
    # ((x + e)^3 - (x - e)^3) / 2e = 3x^2 + e^2 exactly
    np.testing.assert_allclose(grad, [3.0 + 1e-6, 12.0 + 1e-6], rtol=1e-9)
    np.testing.assert_array_equal(x.value, [1.0, 2.0])
