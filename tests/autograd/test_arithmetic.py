"""Specification of autograd/ops/arithmetic.py: Add Sub Mul Div Neg Pow Exp Log.

Every op is property-tested against central differences in float64 over drawn shapes (0-d,
size-1 and broadcast pairs included) with ``autograd.testing``, which also checks that float32
stays float32 and that no input is modified; then compared with PyTorch on random inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

from autograd import Add, Div, Exp, Expand, Log, Mul, Neg, Pow, ShapeError, Sub, TensorNode
from autograd.testing import arrays, broadcastable_arrays, broadcastable_shapes, property_test

EXAMPLES = settings.default.max_examples  # from the profile in tests/conftest.py


@st.composite
def numerator_and_positive_denominator(draw):
    """A broadcastable pair whose second array stays away from zero, for a / b."""
    shape_a, shape_b = draw(broadcastable_shapes())
    return draw(arrays(shape_a)), draw(arrays(shape_b, min_value=0.5, max_value=3.0))


# ----- gradients against central differences -----------------------------------------------------


@pytest.mark.parametrize("op", [Add, Sub, Mul], ids=lambda op: op.__name__)
def test_binary_op_gradients_match_central_differences_on_broadcast_pairs(op):
    property_test(op, inputs=broadcastable_arrays(), max_examples=EXAMPLES)


def test_div_gradients_match_central_differences_on_broadcast_pairs():
    property_test(Div, inputs=numerator_and_positive_denominator(), max_examples=EXAMPLES)


def test_binary_operators_gradients_match_central_differences():
    property_test(
        lambda a, b: (a + b) * (a - b) / (b * b + 1.0),
        inputs=broadcastable_arrays(),
        max_examples=EXAMPLES,
    )


def test_neg_gradient_matches_central_differences():
    property_test(Neg, arrays(), max_examples=EXAMPLES)


@pytest.mark.parametrize("exponent", [2, 3, 2.0])
def test_pow_with_positive_integer_exponent_gradient_matches_on_inputs_of_any_sign(exponent):
    property_test(lambda x: x**exponent, arrays(), max_examples=EXAMPLES)


@pytest.mark.parametrize("exponent", [0.5, 1.5, -1, -0.5, -2.0])
def test_pow_with_fractional_or_negative_exponent_gradient_matches_on_positive_inputs(exponent):
    property_test(
        lambda x: Pow.do_forward(x, exponent=exponent),
        arrays(min_value=0.2, max_value=3.0),
        max_examples=EXAMPLES,
    )


def test_exp_gradient_matches_central_differences():
    property_test(Exp, arrays(), max_examples=EXAMPLES)


def test_log_gradient_matches_central_differences_on_positive_inputs():
    property_test(Log, arrays(min_value=0.1, max_value=5.0), max_examples=EXAMPLES)


# ----- exact values, derived by hand -------------------------------------------------------------


def test_div_gradients_are_one_over_b_and_minus_a_over_b_squared():
    a = TensorNode(np.array([3.0, -2.0]), requires_grad=True)
    b = TensorNode(np.array([2.0, 4.0]), requires_grad=True)
    (a / b).sum().backward()
    np.testing.assert_allclose(a.grad, [1 / 2, 1 / 4])
    np.testing.assert_allclose(b.grad, [-3 / 4, 2 / 16])


def test_pow_gradient_is_p_times_x_to_the_p_minus_one():
    x = TensorNode(np.array([4.0, 9.0]), requires_grad=True)
    (x**0.5).sum().backward()
    np.testing.assert_allclose(x.grad, [0.5 / 2, 0.5 / 3])  # 1 / (2 sqrt(x))


def test_pow_with_exponent_zero_has_gradient_zero_even_at_zero():
    x = TensorNode(np.array([0.0, -2.0, 3.0]), requires_grad=True)
    y = x**0
    np.testing.assert_array_equal(y.value, [1.0, 1.0, 1.0])
    with np.errstate(all="raise"):
        y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_broadcasting_inserts_expand_nodes_whose_backward_sums_over_broadcast_axes():
    a = TensorNode(np.ones((2, 3)), requires_grad=True)
    b = TensorNode(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = a * b
    expanded_b = y.source.inputs[1]
    assert y.source.inputs[0] is a
    assert expanded_b.source.op is Expand and expanded_b.source.inputs == (b,)
    y.sum().backward()
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])  # each b_j is used in both rows
    np.testing.assert_array_equal(a.grad, np.broadcast_to([1.0, 2.0, 3.0], (2, 3)))


def test_equal_shapes_insert_no_expand_node():
    a = TensorNode(np.ones(3), requires_grad=True)
    b = TensorNode(np.ones(3), requires_grad=True)
    assert (a + b).source.inputs == (a, b)


def test_pow_of_integer_array_follows_numpy():
    x = TensorNode(np.array([0, 1, 4, 9]))
    np.testing.assert_allclose((x**0.5).value, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal((x**2).value, [0, 1, 16, 81])


def test_pow_with_a_tensor_exponent_is_a_type_error():
    x = TensorNode(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="constant exponent"):
        x ** TensorNode(2.0)
    with pytest.raises(TypeError, match="Pow: the exponent must be a number"):
        Pow.do_forward(x, exponent=np.array([1.0, 2.0]))


# ----- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, apply",
    [
        ("Add", lambda a, b: a + b),
        ("Sub", lambda a, b: a - b),
        ("Mul", lambda a, b: a * b),
        ("Div", lambda a, b: a / b),
    ],
)
def test_shape_mismatch_is_a_shape_error_naming_the_op_and_both_shapes(name, apply):
    a = TensorNode(np.ones((2, 3)))
    b = TensorNode(np.ones((4,)))
    with pytest.raises(ShapeError) as caught:
        apply(a, b)
    message = str(caught.value)
    assert message.startswith(f"{name}:")
    assert "(2, 3)" in message and "(4,)" in message
    assert isinstance(caught.value, ValueError)


# ----- PyTorch as the oracle ---------------------------------------------------------------------

BROADCAST_PAIRS = [((), ()), ((3,), ()), ((2, 3), (3,)), ((4, 1, 3), (2, 1)), ((1,), (2, 2))]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=str)
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda a, b: a + b, lambda a, b: a + b),
        (lambda a, b: a - b, lambda a, b: a - b),
        (lambda a, b: a * b, lambda a, b: a * b),
        (lambda a, b: a / b, lambda a, b: a / b),
    ],
    ids=["add", "sub", "mul", "div"],
)
def test_binary_ops_match_torch(matches_torch, shapes, ours, theirs):
    rng = np.random.default_rng(1)
    a = rng.normal(size=shapes[0])
    b = rng.uniform(0.5, 2.0, size=shapes[1]) * rng.choice([-1, 1], size=shapes[1])
    matches_torch(ours, theirs, a, b)
    matches_torch(ours, theirs, b, a)


@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 1, 3)], ids=str)
@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda x: -x, lambda x: -x),
        (lambda x: x.exp(), lambda x: x.exp()),
        (lambda x: x.log(), lambda x: x.log()),
        (lambda x: x**2, lambda x: x**2),
        (lambda x: x**3, lambda x: x**3),
        (lambda x: x**0.5, lambda x: x**0.5),
        (lambda x: x**-1, lambda x: x**-1),
        (lambda x: x**0, lambda x: x**0),
    ],
    ids=["neg", "exp", "log", "pow2", "pow3", "pow0.5", "pow-1", "pow0"],
)
def test_unary_ops_match_torch(matches_torch, shape, ours, theirs):
    x = np.random.default_rng(2).uniform(0.2, 3.0, size=shape)
    matches_torch(ours, theirs, x)
