"""Specification of autograd/gradcheck.py: backward against central differences in float64."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import GradcheckError, GradientError, Op, TensorNode, gradcheck
from autograd.gradcheck import LAYOUTS, gradgradcheck, laid_out, numerical_gradient
from autograd.testing import arrays


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
    class ForgetsItsInput(Triple):
        @staticmethod
        def backward(context, grad_output):
            return None

    with pytest.raises(GradcheckError, match=r"backward gives 0.0, central differences give 2.99"):
        gradcheck(lambda x: ForgetsItsInput.do_forward(x).sum(), [np.ones(2)])


@pytest.mark.parametrize(
    "fn, got",
    [(lambda x: 3.0, "a float"), (lambda x: x.value.sum(), "a float64")],
    ids=["number", "array"],
)
def test_fn_that_does_not_return_a_node_is_a_clear_error(fn, got):
    with pytest.raises(
        GradientError, match=rf"fn must return a TensorNode \(or a tuple of them\), got {got};"
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


@pytest.mark.parametrize(
    "value",
    [np.arange(6.0).reshape(2, 3).T, np.arange(24.0).reshape(4, 6)[::2, ::3]],
    ids=["transposed", "strided"],
)
def test_numerical_gradient_nudges_non_contiguous_values_through_the_view(value):
    x = TensorNode(value)
    grad = numerical_gradient(lambda x: (x * x).sum(), [x], 0, eps=1e-3)
    np.testing.assert_allclose(grad, 2 * value, rtol=1e-9)


@given(arrays(), st.sampled_from(LAYOUTS))
def test_numerical_gradient_is_the_same_for_every_layout(value, layout):
    x = TensorNode(laid_out(value, layout))
    grad = numerical_gradient(lambda x: (x * x * x).sum(), [x], 0, eps=1e-4)
    np.testing.assert_allclose(grad, 3 * value**2, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(x.value, value)


# ----- non-scalar outputs: the whole output is checked, with random weights ------------------


class Triple(Op):
    """y = 3x;  dL/dx = 3 dL/dy"""

    @staticmethod
    def forward(context, x):
        return 3 * x

    @staticmethod
    def backward(context, grad_output):
        return 3 * grad_output


class TripleIgnoresGradOutput(Triple):
    """Returns 3 whatever grad_output is: right for sum(y) only."""

    @staticmethod
    def backward(context, grad_output):
        return np.full_like(grad_output, 3.0)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_a_backward_that_ignores_grad_output_is_caught_on_the_op_itself(shape):
    x = np.linspace(-1, 1, 6)[: int(np.prod(shape))].reshape(shape)
    assert gradcheck(lambda x: Triple.do_forward(x), [x])
    with pytest.raises(GradcheckError, match=r"random v; it passed for v = 1, so backward misuses"):
        gradcheck(lambda x: TripleIgnoresGradOutput.do_forward(x), [x])


@settings(max_examples=30, deadline=None)
@given(arrays(min_value=-2.0, max_value=2.0))
def test_ignoring_grad_output_is_caught_for_every_drawn_shape(x):
    assert gradcheck(lambda x: Triple.do_forward(x), [x])
    with pytest.raises(GradcheckError, match="misuses grad_output"):
        gradcheck(lambda x: TripleIgnoresGradOutput.do_forward(x), [x])


def test_tuple_outputs_are_checked_together():
    assert gradcheck(lambda x: (x * 2.0, x.tanh()), [np.array([0.5, -1.0])])
    with pytest.raises(GradcheckError, match="ops: Tanh, TripleIgnoresGradOutput"):
        gradcheck(lambda x: (x.tanh(), TripleIgnoresGradOutput.do_forward(x)), [np.ones(2)])


# ----- what each op's backward must leave alone -------------------------------------------------


class TriplesGradOutputInPlace(Triple):
    """y = 3x, whose backward triples grad_output in place and returns it."""

    @staticmethod
    def backward(context, grad_output):
        grad_output *= 3
        return grad_output


class SigmoidOverwritesItsSavedOutput(Op):
    """y = sigmoid(x);  dL/dx = dL/dy * y * (1 - y), computed in place in a saved copy of y
    (the engine makes the output itself read-only; a private copy it cannot protect)."""

    @staticmethod
    def forward(context, x):
        y = 1 / (1 + np.exp(-x))
        context["y"] = y.copy()
        return y

    @staticmethod
    def backward(context, grad_output):
        y = context["y"]
        y *= 1 - y  # right the first time; a second backward sees y(1 - y) instead of y
        return grad_output * y


class CountsItsCalls(Triple):
    """y = 3x, whose backward scales by how often it ran: right only the first time."""

    @staticmethod
    def backward(context, grad_output):
        context["calls"] = context.get("calls", 0) + 1
        return 3 * grad_output * context["calls"]


class WritesIntoReadOnlySavedOutput(Triple):
    """Its saved output is read-only (as an engine may make it); backward writes into it."""

    @staticmethod
    def forward(context, x):
        y = 3 * x
        y.flags.writeable = False
        context["y"] = y
        return y

    @staticmethod
    def backward(context, grad_output):
        context["y"][...] = 0.0
        return 3 * grad_output


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


@pytest.mark.parametrize("form", ["as is", "summed"])
def test_a_backward_that_writes_into_grad_output_is_caught_naming_the_op(form):
    def fn(x):
        y = TriplesGradOutputInPlace.do_forward(x)
        return y if form == "as is" else y.sum()

    with pytest.raises(
        GradcheckError,
        match=r"TriplesGradOutputInPlace.backward wrote into grad_output 0: element \(0, 0\) "
        r"was (-?[\d.e+-]+), then (-?[\d.e+-]+); the engine hands one gradient array",
    ):
        gradcheck(fn, [X])


def test_a_backward_that_modifies_its_saved_output_is_caught_naming_the_key():
    with pytest.raises(
        GradcheckError,
        match=r"SigmoidOverwritesItsSavedOutput.backward modified its saved context\['y'\] in "
        r"place: element \(0, 0\) was 0.62\d+, then 0.23\d+; a second backward",
    ):
        gradcheck(lambda x: SigmoidOverwritesItsSavedOutput.do_forward(x), [X])
    assert gradcheck(lambda x: x.sigmoid(), [X])


def test_a_backward_that_gives_another_result_the_second_time_is_caught():
    with pytest.raises(
        GradcheckError,
        match=r"CountsItsCalls.backward gave a different gradient for input 0 the second time "
        r"on the same context: element \(0, 0\) was (-?[\d.e+-]+), then",
    ):
        gradcheck(lambda x: CountsItsCalls.do_forward(x), [X])


def test_a_backward_that_writes_into_a_read_only_saved_array_is_named():
    with pytest.raises(
        GradcheckError,
        match="WritesIntoReadOnlySavedOutput.backward tried to write into a read-only",
    ):
        gradcheck(lambda x: WritesIntoReadOnlySavedOutput.do_forward(x), [X])


# ----- inputs laid out in memory as views -------------------------------------------------------


class SquareLosesWritesOnTransposedInputs(Op):
    """y = x^2;  dL/dx = 2x dL/dy, written through grad.reshape(-1), a copy when x (and so
    np.zeros_like(x)) is transposed: the gradient stays zero."""

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return x * x

    @staticmethod
    def backward(context, grad_output):
        x = context["x"]
        grad = np.zeros_like(x)
        grad.reshape(-1)[:] = (2 * x * grad_output).reshape(-1)
        return grad


def test_inputs_are_also_tried_transposed_and_as_strided_views():
    layouts = set()

    def fn(x):
        flags = x.value.flags
        layouts.add("C" if flags.c_contiguous else "F" if flags.f_contiguous else "strided")
        return x * x

    assert gradcheck(fn, [X])
    assert layouts == {"C", "F", "strided"}


def test_a_backward_wrong_only_for_transposed_inputs_is_caught():
    def fn(x):
        return SquareLosesWritesOnTransposedInputs.do_forward(x).sum()

    assert gradcheck(fn, [X[0]])  # a 1-d input has no transposed layout
    with pytest.raises(
        GradcheckError,
        match=r"input 0 with shape \(2, 3\) disagrees at index .*backward gives 0.0, .*"
        r"inputs transposed; ops: SquareLosesWritesOnTransposedInputs, Sum",
    ):
        gradcheck(fn, [X])


# ----- second order ---------------------------


class Cube(Op):
    """y = x^3;  dL/dx = dL/dy * 3x^2 (the same formula runs on TensorNodes)"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return x * x * x

    @staticmethod
    def backward(context, grad_output):
        x = context["x"]
        return grad_output * 3 * x * x


class CubeCutsTheGraph(Cube):
    """Right in first order; on TensorNodes, .value detaches x, so the second derivative is lost."""

    @staticmethod
    def backward(context, grad_output):
        x = context["x"]
        x = x.value if isinstance(x, TensorNode) else x
        return grad_output * 3 * x * x


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_gradgradcheck_passes_a_right_second_derivative_and_catches_a_cut_graph(shape):
    x = np.linspace(-1.5, 1.2, 6)[: int(np.prod(shape))].reshape(shape)
    assert gradgradcheck(lambda x: Cube.do_forward(x), [x])
    assert gradcheck(lambda x: CubeCutsTheGraph.do_forward(x), [x])  # first order is fine
    with pytest.raises(
        GradcheckError,
        match=r"gradgradcheck: second derivative of input 0 .* double backward gives "
        r".*central differences of backward give .*ops: CubeCutsTheGraph",
    ):
        gradgradcheck(lambda x: CubeCutsTheGraph.do_forward(x), [x])


def test_gradgradcheck_checks_mixed_second_derivatives_of_several_inputs():
    a, b = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, -0.75])
    assert gradgradcheck(lambda a, b: (Cube.do_forward(a) * b, a * b * b), [a, b])
    with pytest.raises(GradcheckError, match="input 1"):
        gradgradcheck(lambda a, b: a * CubeCutsTheGraph.do_forward(b), [a, b])


def test_gradgradcheck_of_a_linear_function_expects_zero():
    assert gradgradcheck(lambda x: x * 2.0, [np.ones(3)])
