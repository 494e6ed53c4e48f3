"""Specification of autograd/testing.py: its strategies draw what they promise, and
check_gradients catches each kind of broken op it claims to catch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from autograd import GradcheckError, GradientError, Op, ShapeError, Tanh, TensorNode
from autograd.testing import (
    arrays,
    axes,
    broadcastable_arrays,
    broadcastable_shapes,
    check_gradients,
    property_test,
    shapes,
)

# ----- strategies --------------------------------------------------------------------------------


@given(shapes())
def test_shapes_stay_within_the_default_bounds(shape):
    assert 0 <= len(shape) <= 3 and all(1 <= side <= 4 for side in shape)


@pytest.mark.parametrize(
    "wanted",
    [
        lambda s: s == (),
        lambda s: s == (1,),
        lambda s: len(s) == 3 and 1 in s and max(s) > 1,
        lambda s: len(s) == 3 and min(s) >= 3,
    ],
    ids=["0-d", "(1,)", "size-1 axis among others", "big 3-d"],
)
def test_shapes_include_0d_size1_and_larger_shapes(wanted):
    assert wanted(find(shapes(), wanted))


@given(arrays())
def test_arrays_default_to_finite_float64_within_minus_3_and_3(x):
    assert x.dtype == np.float64 and np.isfinite(x).all()
    assert ((-3 <= x) & (x <= 3)).all()


@given(arrays((2, 3), dtype=np.float32, min_value=0.1, max_value=0.3))
def test_arrays_respect_shape_dtype_and_bounds_even_when_float32_cannot_hold_them(x):
    assert x.shape == (2, 3) and x.dtype == np.float32
    exact = x.astype(np.float64)  # compared in float64: 0.3 as a float32 is 0.30000001
    assert ((0.1 <= exact) & (exact <= 0.3)).all()


@given(arrays(away_from=0.0, margin=0.05))
def test_arrays_away_from_a_point_keep_their_margin(x):
    assert (np.abs(x) > 0.05).all()


@given(arrays(shapes(min_dims=1), unique=True))
def test_unique_arrays_have_no_repeated_values(x):
    assert len(np.unique(x)) == x.size


@given(broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast_together(shape_tuple):
    assert len(shape_tuple) == 3
    np.broadcast_shapes(*shape_tuple)


def test_broadcastable_shapes_include_pairs_that_really_broadcast():
    pair = find(broadcastable_shapes(), lambda p: p[0] != p[1] and len(p[0]) > len(p[1]) > 0)
    assert pair[0] != pair[1]
    np.broadcast_shapes(*pair)


@given(broadcastable_arrays(away_from=0.0))
def test_broadcastable_arrays_broadcast_and_pass_on_element_options(pair):
    a, b = pair
    assert (a + b).shape == np.broadcast_shapes(a.shape, b.shape)
    assert (np.abs(a) > 1e-2).all() and (np.abs(b) > 1e-2).all()


@given(st.integers(0, 4).flatmap(lambda ndim: st.tuples(st.just(ndim), axes(ndim))))
def test_axes_are_valid_for_an_array_of_that_many_axes(ndim_and_axis):
    ndim, axis = ndim_and_axis
    np.sum(np.ones((2,) * ndim), axis=axis)  # raises if the axis were invalid or repeated


@pytest.mark.parametrize(
    "wanted",
    [lambda a: a is None, lambda a: isinstance(a, int) and a < 0, lambda a: isinstance(a, tuple)],
    ids=["None", "negative int", "tuple"],
)
def test_axes_include_none_negative_ints_and_tuples(wanted):
    assert wanted(find(axes(3), wanted))


def test_axes_can_exclude_none_and_tuples():
    ints_only = axes(2, allow_none=False, allow_tuple=False)
    with pytest.raises(NoSuchExample):
        find(ints_only, lambda a: not isinstance(a, int))


# ----- check_gradients catches broken ops -------------------------------------------------------


class Double(Op):
    """y = 2x;  dL/dx = 2 dL/dy   (its input saved, for the broken variants below)"""

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return 2 * x

    @staticmethod
    def backward(context, grad_output):
        return 2 * grad_output


class WrongBackward(Double):
    @staticmethod
    def backward(context, grad_output):
        return 3 * grad_output


class PromotesInBackward(Double):
    @staticmethod
    def backward(context, grad_output):
        return (2 * grad_output).astype(np.float64)


class PromotesInForward(Double):
    @staticmethod
    def forward(context, x):
        return (2 * x).astype(np.float64)


class MutatesInForward(Double):
    @staticmethod
    def forward(context, x):
        x *= 2  # changes the input node's value
        return x.copy()


class MutatesInBackward(Double):
    @staticmethod
    def backward(context, grad_output):
        context["x"][...] = 0.0  # clobbers the saved input: the input node's value
        return 2 * grad_output


class WrongGradShape(Double):
    @staticmethod
    def backward(context, grad_output):
        return 2 * grad_output[..., :1]


class ReverseForgotInBackward(Op):
    """y = x[::-1], whose backward forgets to reverse: invisible to a plain sum of outputs."""

    @staticmethod
    def forward(context, x):
        return x[::-1].copy()

    @staticmethod
    def backward(context, grad_output):
        return grad_output


X = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def test_a_correct_op_passes_as_a_class_or_as_a_function():
    check_gradients(Double, X)
    check_gradients(lambda x: Double.do_forward(x) * x, X)


def test_catches_a_wrong_backward():
    with pytest.raises(GradcheckError, match="input 0"):
        check_gradients(WrongBackward, X)


def test_catches_a_backward_that_silently_promotes_float32_to_float64():
    # The engine casts the gradient back to float32, so only asking the op itself shows it.
    with pytest.raises(AssertionError, match="PromotesInBackward.backward returned a float64"):
        check_gradients(PromotesInBackward, X)
    check_gradients(PromotesInBackward, X, check_float32=False)  # otherwise correct


def test_catches_a_forward_that_promotes_float32_to_float64():
    with pytest.raises(AssertionError, match="float32 inputs gave a float64 output"):
        check_gradients(lambda x: PromotesInForward.do_forward(x), X)


def test_catches_a_forward_that_modifies_its_input():
    with pytest.raises(AssertionError, match="input 0 was modified in place by forward"):
        check_gradients(MutatesInForward, X)


def test_a_backward_that_modifies_its_input_is_refused_by_the_engine():
    with pytest.raises(GradientError, match="MutatesInBackward.backward wrote into a read-only"):
        check_gradients(MutatesInBackward, X)


def test_catches_a_gradient_of_the_wrong_shape():
    with pytest.raises(ShapeError, match=r"WrongGradShape.backward .* shape \(2, 1\)"):
        check_gradients(WrongGradShape, X)


def test_weights_non_scalar_outputs_so_every_element_counts():
    with pytest.raises(GradcheckError):
        check_gradients(ReverseForgotInBackward, np.array([1.0, 2.0, 3.0]))


def test_integer_inputs_are_passed_as_constants_and_tuples_of_outputs_are_checked():
    index = np.array([1, 1, 0])

    def gather_and_square(x, i):
        assert not i.requires_grad and i.dtype.kind == "i"
        return x[i], x * x

    check_gradients(gather_and_square, np.array([0.5, -2.0]), index)


def test_property_test_passes_a_correct_op_and_fails_a_wrong_one():
    property_test(Double, arrays(), max_examples=10)
    property_test(lambda a, b: a * b, inputs=broadcastable_arrays(), max_examples=10)
    with pytest.raises(GradcheckError):
        property_test(WrongBackward, arrays(), max_examples=10)


def test_property_test_refuses_strategies_and_inputs_together():
    with pytest.raises(TypeError, match="either strategies or inputs="):
        property_test(Double, arrays(), inputs=broadcastable_arrays())


def test_check_gradients_leaves_the_callers_arrays_alone():
    x = X.copy()
    check_gradients(lambda x: (x * x).sum(), x)
    np.testing.assert_array_equal(x, X)


class DoublesGradOutputInPlace(Double):
    @staticmethod
    def backward(context, grad_output):
        grad_output *= 2
        return grad_output


class TanhOverwritesItsSavedOutput(Op):
    """y = tanh(x);  dL/dx = dL/dy * (1 - y^2), computed in place in the saved y."""

    @staticmethod
    def forward(context, x):
        context["y"] = np.tanh(x)
        return context["y"]

    @staticmethod
    def backward(context, grad_output):
        y = context["y"]
        np.multiply(y, y, out=y)
        return grad_output * (1 - y)


class DoubleLosesWritesOnTransposedInputs(Double):
    """np.zeros_like(x) of a transposed x is transposed too, so grad.reshape(-1) is a copy."""

    @staticmethod
    def backward(context, grad_output):
        grad = np.zeros_like(context["x"])
        grad.reshape(-1)[:] = 2 * grad_output.reshape(-1)
        return grad


def test_catches_a_backward_that_writes_into_grad_output():
    with pytest.raises(
        GradcheckError, match="DoublesGradOutputInPlace.backward wrote into grad_out"
    ):
        check_gradients(DoublesGradOutputInPlace, X)


def test_a_backward_that_modifies_its_saved_output_is_refused_by_the_engine():
    with pytest.raises(
        GradientError, match=r"TanhOverwritesItsSavedOutput.backward wrote into a read-only"
    ):
        check_gradients(TanhOverwritesItsSavedOutput, X)
    check_gradients(lambda x: x.tanh(), X)


def test_catches_a_backward_wrong_only_for_transposed_inputs():
    check_gradients(DoubleLosesWritesOnTransposedInputs, X[0])  # 1-d: nothing to transpose
    with pytest.raises(GradcheckError, match="inputs transposed"):
        check_gradients(DoubleLosesWritesOnTransposedInputs, X)


def test_property_test_draws_the_shapes_that_show_a_transposed_input_bug():
    with pytest.raises(GradcheckError, match="inputs transposed"):
        property_test(DoubleLosesWritesOnTransposedInputs, arrays(), max_examples=50)


# ----- second order ---------------------------


class TanhCutsTheGraph(Tanh):
    """The engine's Tanh, but its backward reads .value: right in first order; on TensorNodes it
    detaches y, so the second derivative is lost. (test_gradcheck does the same with a Cube.)"""

    @staticmethod
    def backward(context, grad_output):
        y = context["y"]
        y = y.value if isinstance(y, TensorNode) else y
        return grad_output * (1 - y * y)


def test_check_gradients_of_order_2_compares_second_derivatives():
    check_gradients(Tanh, X, order=2)
    check_gradients(TanhCutsTheGraph, X)  # first order is right
    with pytest.raises(GradcheckError, match="gradgradcheck: second derivative of input 0"):
        check_gradients(TanhCutsTheGraph, X, order=2)


def test_property_test_of_order_2_passes_a_right_op_and_fails_a_cut_graph():
    property_test(Tanh, arrays(), order=2, max_examples=10)
    property_test(lambda a, b: a * b * b, inputs=broadcastable_arrays(), order=2, max_examples=10)
    with pytest.raises(GradcheckError, match="double backward gives"):
        property_test(TanhCutsTheGraph, arrays(), order=2, max_examples=10)


# ----- without hypothesis ------------------------------------------------------------------------


def test_importing_it_without_hypothesis_is_one_line_naming_the_test_extra():
    # sys.modules["hypothesis"] = None makes "import hypothesis" fail, as if it were not installed.
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "try:\n    import autograd.testing\n"
        "finally:\n    print('nn imported:', any(m.split('.')[0] == 'nn' for m in sys.modules))"
    )
    repo = str(Path(__file__).parents[2])
    path = os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "autograd.errors.MissingPackageError: hypothesis is not installed (property tests need"
        " it): pip install 'autograd-nn[test]' (or pip install hypothesis)"
    )
    assert result.stdout.strip() == "nn imported: False"  # the engine never imports nn


def test_the_missing_package_error_is_an_import_error_with_the_package_name():
    from autograd.errors import MissingPackageError

    error = MissingPackageError("hypothesis", "test", "property tests")
    assert isinstance(error, ImportError) and error.name == "hypothesis"
    assert str(error) == (
        "hypothesis is not installed (property tests need it): "
        "pip install 'autograd-nn[test]' (or pip install hypothesis)"
    )
