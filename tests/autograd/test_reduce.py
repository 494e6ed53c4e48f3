"""Specification of autograd/ops/reduce.py: Sum, Mean and Max over None, an int (negative too)
or a tuple of axes, with and without keepdims."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd import Max, Mean, ShapeError, Sum, TensorNode
from autograd.testing import arrays, axes, check_gradients


def well_separated(x: np.ndarray) -> np.ndarray:
    """Distinct values at least 0.4 apart, in the order of ``x``: central differences with a
    step of 1e-6 never swap two of them, so the max is differentiable there."""
    ranks = np.argsort(np.argsort(x, axis=None)).reshape(x.shape)
    return 0.5 * ranks + 0.01 * x


@pytest.mark.parametrize("op", [Sum, Mean], ids=lambda op: op.__name__)
@given(data=st.data())
def test_sum_and_mean_gradients_match_central_differences(op, data):
    x = data.draw(arrays(), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    check_gradients(lambda x: op.do_forward(x, axis=axis, keepdims=keepdims), x)


@given(data=st.data())
def test_max_gradient_matches_central_differences_on_distinct_values(data):
    x = data.draw(arrays(unique=True).map(well_separated), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    check_gradients(lambda x: x.max(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("method", ["sum", "mean", "max"])
@given(data=st.data())
def test_reductions_equal_numpy_values_and_shapes(method, data):
    x = data.draw(arrays(), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    y = getattr(TensorNode(x), method)(axis=axis, keepdims=keepdims)
    expected = getattr(np, method)(x, axis=axis, keepdims=keepdims)
    assert y.shape == np.shape(expected)
    np.testing.assert_allclose(y.value, expected)


def test_mean_gradient_is_one_over_the_count_of_averaged_elements():
    x = TensorNode(np.ones((2, 3, 4)), requires_grad=True)
    x.mean(axis=(0, 2)).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3, 4), 1 / 8))


def test_max_ties_share_the_gradient_equally():
    x = TensorNode(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_max_over_all_axes_with_ties_splits_the_gradient():
    x = TensorNode(np.array([5.0, 1.0, 5.0, 5.0]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [1 / 3, 0.0, 1 / 3, 1 / 3])


@pytest.mark.parametrize("op", [Sum, Mean, Max], ids=lambda op: op.__name__)
@pytest.mark.parametrize("axis", [2, -3, (0, 0), (0, 5)], ids=str)
def test_bad_axis_is_a_shape_error_naming_the_op_and_the_axis(op, axis):
    with pytest.raises(ShapeError) as caught:
        op.do_forward(TensorNode(np.ones((2, 3))), axis=axis)
    message = str(caught.value)
    assert message.startswith(f"{op.__name__}: axis {axis}")


def test_axis_on_a_0d_array_is_a_shape_error():
    with pytest.raises(ShapeError, match="Sum: axis 0 is out of range for an array with 0 axes"):
        TensorNode(1.0).sum(axis=0)


@pytest.mark.parametrize("op", [Mean, Max], ids=lambda op: op.__name__)
def test_mean_and_max_over_an_empty_axis_are_shape_errors(op):
    with pytest.raises(ShapeError, match=rf"{op.__name__}: .*empty axes .*\(0, 3\)"):
        op.do_forward(TensorNode(np.ones((0, 3))), axis=0)


# ----- PyTorch as the oracle ---------------------------------------------------------------------

AXES = [None, 0, -1, (0, 2), (1,)]


@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean"])
def test_sum_and_mean_match_torch(torch, matches_torch, name, axis, keepdims):
    x = np.random.default_rng(8).normal(size=(2, 3, 4))
    dim = axis if axis is not None else tuple(range(3))

    def ours(x):
        return getattr(x, name)(axis=axis, keepdims=keepdims)

    def theirs(x):
        return getattr(torch, name)(x, dim=dim, keepdim=keepdims)

    matches_torch(ours, theirs, x)


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (1,)], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_max_matches_torch_amax_with_and_without_ties(torch, matches_torch, axis, keepdims):
    dim = axis if axis is not None else (0, 1, 2)
    rng = np.random.default_rng(9)
    distinct = rng.normal(size=(2, 3, 4))
    with_ties = rng.integers(0, 3, size=(2, 3, 4)).astype(np.float64)  # many equal maxima
    for x in (distinct, with_ties):
        matches_torch(
            lambda x: x.max(axis=axis, keepdims=keepdims),
            lambda x: torch.amax(x, dim=dim, keepdim=keepdims),
            x,
        )
