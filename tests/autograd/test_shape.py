"""Specification of autograd/ops/shape.py: Expand, Reshape, Transpose and Select (indexing)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd import (
    Expand,
    Reshape,
    Select,
    ShapeError,
    SoftmaxCrossEntropy,
    TensorNode,
    Transpose,
)
from autograd.testing import arrays, check_gradients, property_test, shapes

EXAMPLES = settings.default.max_examples  # from the profile in tests/conftest.py


# ----- Expand ------------------------------------------------------------------------------------


@given(data=st.data())
def test_expand_gradient_matches_central_differences(data):
    shape = data.draw(shapes(), label="shape")
    other = data.draw(hnp.broadcastable_shapes(shape, max_dims=4, max_side=3), label="other")
    target = np.broadcast_shapes(shape, other)
    check_gradients(lambda x: x.expand(target), data.draw(arrays(shape)))


def test_expand_backward_sums_over_new_and_stretched_axes():
    x = TensorNode(np.array([[1.0], [2.0]]), requires_grad=True)  # (2, 1)
    y = x.expand(3, 2, 4)
    assert y.shape == (3, 2, 4)
    assert np.shares_memory(y.value, x.value)  # a view, not a copy
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[12.0], [12.0]])  # 3 copies * 4 columns each


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_of_an_expanded_0d_leaf_is_a_0d_array_not_a_numpy_scalar(dtype):
    x = TensorNode(np.array(2.0, dtype=dtype), requires_grad=True)
    x.expand(2, 3).sum().backward()
    assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == dtype
    assert x.grad == 6.0


def test_expand_to_an_incompatible_shape_is_a_shape_error_naming_both_shapes():
    with pytest.raises(ShapeError, match=r"Expand: cannot broadcast shape \(2, 3\) to \(4, 3\)"):
        TensorNode(np.ones((2, 3))).expand((4, 3))


# ----- Reshape -----------------------------------------------------------------------------------


@st.composite
def array_and_new_shape(draw):
    x = draw(arrays())
    size = x.size
    candidates = [(size,), (-1,), (1, size), (size, 1, 1), x.shape[::-1], (*x.shape, 1)]
    if size % 2 == 0:
        candidates += [(2, size // 2), (-1, 2)]
    if size == 1:
        candidates.append(())
    return x, draw(st.sampled_from(candidates))


@given(array_and_new_shape())
def test_reshape_gradient_matches_central_differences(x_and_shape):
    x, new_shape = x_and_shape
    check_gradients(lambda x: x.reshape(new_shape), x)


def test_reshape_accepts_separate_ints_a_tuple_or_minus_one():
    x = TensorNode(np.arange(6.0))
    assert x.reshape(2, 3).shape == (2, 3)
    assert x.reshape((3, 2)).shape == (3, 2)
    assert x.reshape(-1, 1).shape == (6, 1)
    assert Reshape.do_forward(x, shape=6).shape == (6,)


def test_reshape_to_a_different_size_is_a_shape_error_naming_both_shapes():
    with pytest.raises(ShapeError) as caught:
        TensorNode(np.ones((2, 3))).reshape(4, 2)
    message = str(caught.value)
    assert message.startswith("Reshape:") and "(2, 3)" in message and "(4, 2)" in message


# ----- Transpose ---------------------------------------------------------------------------------


@given(data=st.data())
def test_transpose_gradient_matches_central_differences_for_any_permutation(data):
    x = data.draw(arrays(), label="x")
    axes = data.draw(st.permutations(range(x.ndim)), label="axes")
    negative = data.draw(st.lists(st.booleans(), min_size=x.ndim, max_size=x.ndim))
    axes = tuple(a - x.ndim if flip else a for a, flip in zip(axes, negative))  # -1 is the last
    check_gradients(lambda x: x.transpose(axes), x)


def test_T_reverses_the_axes_and_its_gradient_matches():
    property_test(lambda x: x.T, arrays(), max_examples=EXAMPLES)
    assert TensorNode(np.ones((2, 3, 4))).T.shape == (4, 3, 2)


def test_transpose_forms_agree():
    x = TensorNode(np.arange(24.0).reshape(2, 3, 4))
    expected = np.transpose(x.value, (1, 2, 0))
    np.testing.assert_array_equal(x.transpose(1, 2, 0).value, expected)
    np.testing.assert_array_equal(x.transpose((1, 2, 0)).value, expected)
    np.testing.assert_array_equal(x.transpose([1, -1, 0]).value, expected)
    np.testing.assert_array_equal(x.transpose().value, x.value.T)


def test_transpose_with_negative_axes_gets_the_inverse_permutation_in_backward():
    x = TensorNode(np.arange(6.0).reshape(2, 3), requires_grad=True)
    weights = np.arange(6.0).reshape(3, 2)
    (x.transpose(-1, 0) * TensorNode(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad, weights.T)


@pytest.mark.parametrize("axes", [(0, 0), (0,), (0, 2), (0, 1, 2)], ids=str)
def test_transpose_with_axes_that_are_not_a_permutation_is_a_shape_error(axes):
    with pytest.raises(ShapeError, match=r"Transpose: axes .* are not a permutation .*\(2, 3\)"):
        Transpose.do_forward(TensorNode(np.ones((2, 3))), axes=axes)


# ----- Select (indexing) -------------------------------------------------------------------------


@given(data=st.data())
def test_basic_indexing_gradient_matches_central_differences(data):
    """Ints (negative too), slices with steps, None and Ellipsis, alone or in tuples."""
    x = data.draw(arrays(shapes(min_dims=1)), label="x")
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True), label="index")
    check_gradients(lambda x: x[index], x)


@given(data=st.data())
def test_integer_array_indexing_gradient_matches_central_differences(data):
    """Integer arrays may repeat an index: its gradients accumulate."""
    x = data.draw(arrays(shapes(min_dims=1)), label="x")
    index = data.draw(hnp.integer_array_indices(x.shape), label="index")
    check_gradients(lambda x: x[index], x)


@given(data=st.data())
def test_boolean_mask_gradient_matches_central_differences(data):
    x = data.draw(arrays(shapes(min_dims=1)), label="x")
    mask = data.draw(hnp.arrays(bool, x.shape), label="mask")
    check_gradients(lambda x: x[mask], x)


def test_repeated_integer_indices_accumulate_their_gradients():
    x = TensorNode(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    x[np.array([0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_index_forms_select_what_numpy_selects():
    value = np.arange(24.0).reshape(2, 3, 4)
    x = TensorNode(value, requires_grad=True)
    mask = value[0, :, 0] > 3
    for index in [
        1,
        -1,
        slice(None, None, -1),
        (0, slice(1, None), -1),
        (Ellipsis, 2),
        (None, 1),
        np.array([1, 1, 0]),
        (slice(None), np.array([2, 0, 2]), np.array([3, 3, 1])),
        (0, mask),
        value > 10,
        [0, 0],
    ]:
        np.testing.assert_array_equal(x[index].value, value[index])


def test_mixed_tuple_index_gradient_is_placed_where_elements_were_taken():
    x = TensorNode(np.zeros((2, 3)), requires_grad=True)
    x[1, np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 0.0], [2.0, 0.0, 1.0]])


def test_index_given_as_a_tensor_node_of_integers_is_accepted():
    x = TensorNode(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = x[TensorNode(np.array([2, 2]))]
    np.testing.assert_array_equal(y.value, [3.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 2.0])


def test_tensor_nodes_given_as_constants_reach_the_op_as_their_arrays():
    x = TensorNode(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows, columns = TensorNode(np.array([1, 0])), TensorNode(np.array([2, 2]))
    y = x[rows, columns]  # an index tuple whose parts are TensorNodes
    np.testing.assert_array_equal(y.value, [5.0, 2.0])
    index = y.source.constants["index"]
    assert all(type(part) is np.ndarray for part in index)
    loss = SoftmaxCrossEntropy.do_forward(x, labels=TensorNode(np.array([0, 2])))
    assert type(loss.source.constants["labels"]) is np.ndarray
    (y.sum() + loss).backward()
    assert x.grad.shape == (2, 3)


def test_out_of_range_index_is_an_index_error_naming_select_and_the_shape():
    with pytest.raises(IndexError, match=r"Select: index invalid for shape \(2, 3\)"):
        TensorNode(np.ones((2, 3)))[5]


def test_select_is_recorded_as_a_select_op():
    x = TensorNode(np.ones(3), requires_grad=True)
    assert x[0].source.op is Select


# ----- PyTorch as the oracle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, target",
    [((), (3,)), ((1,), (2, 3)), ((3, 1), (2, 3, 4)), ((2, 3), (2, 3)), ((1, 1), (4, 1))],
    ids=str,
)
def test_expand_matches_torch(matches_torch, shape, target):
    x = np.random.default_rng(4).normal(size=shape)
    matches_torch(lambda x: x.expand(target), lambda x: x.expand(target), x)
    assert Expand.do_forward(TensorNode(x), shape=target).shape == target


@pytest.mark.parametrize("shape, target", [((2, 3), (3, 2)), ((2, 3, 4), (-1, 4)), ((1,), ())])
def test_reshape_matches_torch(matches_torch, shape, target):
    x = np.random.default_rng(5).normal(size=shape)
    matches_torch(lambda x: x.reshape(target), lambda x: x.reshape(target), x)


@pytest.mark.parametrize("axes", [(1, 0, 2), (2, 0, 1), (-1, 0, 1), (0, 1, 2)], ids=str)
def test_transpose_matches_torch_permute(matches_torch, axes):
    x = np.random.default_rng(6).normal(size=(2, 3, 4))
    matches_torch(lambda x: x.transpose(axes), lambda x: x.permute(axes), x)


@pytest.mark.parametrize(
    "make_index",
    [
        lambda x: 1,
        lambda x: -1,
        lambda x: (slice(None), 2),
        lambda x: (slice(None, None, 2), slice(1, 3)),
        lambda x: np.array([0, 2, 2, 0, 2]),
        lambda x: (np.array([0, 0, 1]), np.array([3, 3, 3])),
        lambda x: x > 0,
        lambda x: (1, x[0] > 0),
        lambda x: (Ellipsis, np.array([1, 1])),
    ],
    ids=["int", "negative", "slice-int", "steps", "repeats", "pairs", "mask", "mixed", "ellipsis"],
)
def test_indexing_matches_torch(torch, matches_torch, make_index):
    x = np.random.default_rng(7).normal(size=(3, 4))
    index = make_index(x)

    def to_torch(part):
        return torch.from_numpy(part) if isinstance(part, np.ndarray) else part

    torch_index = tuple(map(to_torch, index)) if isinstance(index, tuple) else to_torch(index)
    matches_torch(lambda x: x[index], lambda x: x[torch_index], x)
