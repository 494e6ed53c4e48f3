"""Specification of autograd/ops/linalg.py: MatMul with np.matmul's rules.

1-D @ 1-D (a dot product), 1-D @ 2-D, 2-D @ 1-D, 2-D @ 2-D and batched N-D with broadcast batch
axes: gradients against central differences and values and gradients against torch.matmul.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import MatMul, ShapeError, TensorNode
from autograd.testing import arrays, property_test

EXAMPLES = settings.default.max_examples  # from the profile in tests/conftest.py

sides = st.integers(1, 4)


@st.composite
def matmul_operands(draw, a_ndim: int, b_ndim: int):
    """Arrays of a_ndim and b_ndim axes (3 means batched) with matching inner axes and batch
    axes that broadcast (size-1 batch axes included)."""
    n, k, m = draw(sides), draw(sides), draw(sides)
    batch = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    batch_a = [draw(st.sampled_from([size, 1])) for size in batch]
    batch_b = [draw(st.sampled_from([size, 1])) for size in batch]
    drop = draw(st.integers(0, len(batch)))  # one operand may have fewer batch axes
    batch_b = batch_b[drop:] if draw(st.booleans()) else batch_b
    shape_a = {1: (k,), 2: (n, k), 3: (*batch_a, n, k)}[a_ndim]
    shape_b = {1: (k,), 2: (k, m), 3: (*batch_b, k, m)}[b_ndim]
    return draw(arrays(shape_a)), draw(arrays(shape_b))


CASES = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (3, 2), (2, 3), (3, 1), (1, 3)]
CASE_IDS = ["1d@1d", "1d@2d", "2d@1d", "2d@2d", "nd@nd", "nd@2d", "2d@nd", "nd@1d", "1d@nd"]


@pytest.mark.parametrize("a_ndim, b_ndim", CASES, ids=CASE_IDS)
def test_matmul_gradients_match_central_differences(a_ndim, b_ndim):
    property_test(MatMul, inputs=matmul_operands(a_ndim, b_ndim), max_examples=EXAMPLES)


@pytest.mark.parametrize("a_ndim, b_ndim", CASES, ids=CASE_IDS)
@given(data=st.data())
def test_matmul_value_equals_numpy_matmul(a_ndim, b_ndim, data):
    a, b = data.draw(matmul_operands(a_ndim, b_ndim))
    np.testing.assert_allclose((TensorNode(a) @ TensorNode(b)).value, np.matmul(a, b))


def test_dot_product_gradients_are_the_other_vector():
    a = TensorNode(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = TensorNode(np.array([4.0, 5.0, 6.0]), requires_grad=True)
    y = a @ b
    assert y.shape == ()
    y.backward()
    np.testing.assert_array_equal(a.grad, [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(b.grad, [1.0, 2.0, 3.0])


def test_broadcast_batch_axes_sum_their_gradient_back():
    # w (3, 2) is shared by both matrices of the batch, so its gradient adds theirs.
    x = np.arange(12.0).reshape(2, 2, 3)
    w = TensorNode(np.ones((3, 2)), requires_grad=True)
    (TensorNode(x) @ w).sum().backward()
    column_sums = x.sum(axis=(0, 1))  # d/dw[i, j] of sum(x @ w) = sum over batch, rows of x[.., i]
    np.testing.assert_array_equal(w.grad, np.stack([column_sums, column_sums], axis=1))


def test_only_inputs_that_require_grad_get_a_gradient():
    a = TensorNode(np.ones((2, 3)))
    b = TensorNode(np.ones((3, 4)), requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad is None
    np.testing.assert_array_equal(b.grad, np.full((3, 4), 2.0))


def test_numpy_array_on_the_left_of_at_gives_a_node():
    b = TensorNode(np.ones((3, 2)), requires_grad=True)
    y = np.ones((4, 3)) @ b
    assert isinstance(y, TensorNode) and y.shape == (4, 2)


# ----- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((2, 3), (2, 3)), ((3,), (4,)), ((2, 3), (4,)), ((5,), (4, 2)), ((2, 2, 3), (2, 4))],
    ids=str,
)
def test_inner_axis_mismatch_is_a_shape_error_naming_both_shapes(shape_a, shape_b):
    with pytest.raises(ShapeError) as caught:
        TensorNode(np.ones(shape_a)) @ TensorNode(np.ones(shape_b))
    message = str(caught.value)
    assert message.startswith("MatMul:")
    assert str(shape_a) in message and str(shape_b) in message


def test_batch_axes_that_do_not_broadcast_are_a_shape_error():
    with pytest.raises(
        ShapeError, match=r"MatMul: batch axes of shapes \(2, 3, 4\) and \(5, 4, 1\)"
    ):
        TensorNode(np.ones((2, 3, 4))) @ TensorNode(np.ones((5, 4, 1)))


def test_scalar_operand_is_a_shape_error_suggesting_multiplication():
    with pytest.raises(ShapeError, match=r"MatMul: .* \(\) and \(3,\).*use \*"):
        TensorNode(2.0) @ TensorNode(np.ones(3))


# ----- PyTorch as the oracle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [
        ((3,), (3,)),
        ((3,), (3, 2)),
        ((2, 3), (3,)),
        ((2, 3), (3, 4)),
        ((5, 2, 3), (5, 3, 4)),
        ((5, 2, 3), (3, 4)),
        ((2, 3), (5, 3, 4)),
        ((2, 1, 2, 3), (4, 3, 2)),
        ((3,), (2, 3, 4)),
        ((2, 2, 3), (3,)),
        ((1, 1), (1, 1)),
    ],
    ids=str,
)
def test_matmul_matches_torch(matches_torch, shape_a, shape_b):
    rng = np.random.default_rng(3)
    matches_torch(
        lambda a, b: a @ b, lambda a, b: a @ b, rng.normal(size=shape_a), rng.normal(size=shape_b)
    )
