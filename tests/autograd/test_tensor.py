"""Specification of autograd/tensor.py: TensorNode's values, operators, methods and repr."""

from __future__ import annotations

import numpy as np
import pytest

from autograd import DEFAULT_DTYPE, Add, Div, Mul, Sub, TensorNode

# ----- value conversion --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [3, 2.5, True, [1, 2], [[1.0], [2.0]], [True, False]], ids=repr)
def test_python_numbers_and_lists_become_float32(value):
    node = TensorNode(value)
    assert DEFAULT_DTYPE is np.float32
    assert node.dtype == np.float32
    np.testing.assert_array_equal(node.value, np.asarray(value, dtype=np.float64))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int8, bool])
def test_numpy_arrays_keep_their_dtype_and_are_not_copied(dtype):
    array = np.zeros((2, 3), dtype=dtype)
    node = TensorNode(array)
    assert node.dtype == dtype
    assert node.value is array


@pytest.mark.parametrize("scalar", [np.float64(1.5), np.float32(1.5), np.int32(3), np.bool_(1)])
def test_numpy_scalars_keep_their_dtype(scalar):
    node = TensorNode(scalar)
    assert node.dtype == scalar.dtype and node.shape == ()


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        np.array(["a", "b"]),
        np.array([object()]),
        1j,
        np.ones(2, dtype=complex),
        None,
        [1, "a"],
    ],
    ids=["str", "str array", "object array", "complex", "complex array", "None", "mixed list"],
)
def test_non_numeric_values_are_a_type_error(value):
    with pytest.raises(TypeError, match="TensorNode values must be numeric"):
        TensorNode(value)


def test_a_tensor_node_as_value_is_a_type_error_suggesting_detach():
    with pytest.raises(TypeError, match="detach"):
        TensorNode(TensorNode(1.0))


@pytest.mark.parametrize("value", [np.arange(3), np.array([True, False]), np.int64(4)], ids=repr)
def test_integer_or_bool_tensor_asked_to_require_grad_is_a_type_error(value):
    with pytest.raises(TypeError, match=r"only floating-point TensorNodes can require grad, got"):
        TensorNode(value, requires_grad=True)


# ----- operators with numbers and arrays ---------------------------------------------------------


@pytest.mark.parametrize(
    "expression, value, grad, op",
    [
        # x = 3; each derivative worked out by hand.
        (lambda x: 2 * x, 6.0, 2.0, Mul),
        (lambda x: x * 2, 6.0, 2.0, Mul),
        (lambda x: 1 - x, -2.0, -1.0, Sub),
        (lambda x: x - 1, 2.0, 1.0, Sub),
        (lambda x: 1 + x, 4.0, 1.0, Add),
        (lambda x: x + 1, 4.0, 1.0, Add),
        (lambda x: x / 3, 1.0, 1 / 3, Div),
        (lambda x: 6 / x, 2.0, -6 / 9, Div),
        (lambda x: x**2, 9.0, 6.0, None),
        (lambda x: 2**x, 8.0, 8.0 * np.log(2.0), None),
        (lambda x: -x, -3.0, -1.0, None),
    ],
    ids=["2*x", "x*2", "1-x", "x-1", "1+x", "x+1", "x/3", "6/x", "x**2", "2**x", "-x"],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numbers_on_either_side_keep_the_nodes_dtype(expression, value, grad, op, dtype):
    x = TensorNode(np.array(3.0, dtype=dtype), requires_grad=True)
    y = expression(x)
    assert isinstance(y, TensorNode) and y.dtype == dtype
    if op is not None:
        assert y.source.op is op
    np.testing.assert_allclose(y.value, value, rtol=1e-6)
    y.backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad, grad, rtol=1e-6)


def test_numpy_scalars_as_operands_keep_the_nodes_dtype():
    x = TensorNode(np.ones(2, dtype=np.float32))
    assert (x * np.float64(2.0)).dtype == np.float32
    assert (np.float64(2.0) + x).dtype == np.float32


@pytest.mark.parametrize(
    "expression, expected",
    [
        (lambda a, x: a * x, [2.0, 6.0]),
        (lambda a, x: a + x, [3.0, 5.0]),
        (lambda a, x: a - x, [1.0, 1.0]),
        (lambda a, x: a / x, [2.0, 1.5]),
        (lambda a, x: a @ x, 8.0),
    ],
    ids=["*", "+", "-", "/", "@"],
)
def test_numpy_array_on_the_left_gives_a_tensor_node_that_tracks_gradients(expression, expected):
    a = np.array([2.0, 3.0])
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    y = expression(a, x)
    assert isinstance(y, TensorNode)
    np.testing.assert_allclose(y.value, expected)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (2,)


def test_tensor_exponent_is_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"\(y \* x.log\(\)\).exp\(\)"):
        TensorNode(2.0) ** TensorNode(3.0)


# ----- methods and attributes --------------------------------------------------------------------


@pytest.mark.parametrize("base", [0, -2.0])
def test_a_power_with_a_non_positive_base_is_a_clear_error(base):
    with pytest.raises(ValueError, match="base must be a positive number"):
        base ** TensorNode(3.0)


def test_a_power_with_a_non_numeric_base_is_a_type_error():
    with pytest.raises(TypeError):
        "2" ** TensorNode(3.0)


def test_numpy_like_attributes():
    x = TensorNode(np.zeros((2, 3, 4)))
    assert (x.shape, x.ndim, x.size, x.dtype, len(x)) == ((2, 3, 4), 3, 24, np.float64, 2)


def test_item_returns_a_python_number_and_numpy_returns_the_value():
    x = TensorNode(np.array([[2.5]]))
    assert x.item() == 2.5 and isinstance(x.item(), float)
    assert x.numpy() is x.value


def test_detach_gives_a_leaf_sharing_the_value_outside_the_graph():
    x = TensorNode(np.ones(3), requires_grad=True, name="x")
    y = x * 2
    detached = y.detach()
    assert detached.is_leaf and detached.source is None and not detached.requires_grad
    assert np.shares_memory(detached.value, y.value) and detached.name == y.name
    assert detached.value is not y.value  # a view: create_graph matches saved arrays by identity


def test_zero_grad_forgets_the_gradient():
    x = TensorNode(np.ones(3), requires_grad=True)
    x.sum().backward()
    assert x.grad is not None
    x.zero_grad()
    assert x.grad is None
    x.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])  # not 2: the old grad was dropped


def test_is_leaf_and_source():
    x = TensorNode(np.ones(3), requires_grad=True)
    y = x.exp()
    assert x.is_leaf and x.source is None
    assert not y.is_leaf and y.source.inputs == (x,) and y.requires_grad


def test_method_forms_of_reshape_transpose_and_T_agree_with_numpy():
    value = np.arange(24.0).reshape(2, 3, 4)
    x = TensorNode(value)
    np.testing.assert_array_equal(x.reshape(4, 6).value, value.reshape(4, 6))
    np.testing.assert_array_equal(x.reshape((6, -1)).value, value.reshape(6, -1))
    np.testing.assert_array_equal(x.reshape([24]).value, value.reshape(24))
    np.testing.assert_array_equal(x.transpose(2, 0, 1).value, value.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.transpose((2, 0, 1)).value, value.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.transpose().value, value.T)
    np.testing.assert_array_equal(x.T.value, value.T)
    np.testing.assert_array_equal(x.expand(5, 2, 3, 4).value[3], value)
    np.testing.assert_array_equal(x.expand((5, 2, 3, 4)).value[4], value)


def test_method_forms_of_the_other_ops_agree_with_numpy():
    value = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = TensorNode(value)
    np.testing.assert_allclose(x.sum(axis=0).value, value.sum(axis=0))
    np.testing.assert_allclose(x.mean(keepdims=True).value, value.mean(keepdims=True))
    np.testing.assert_allclose(x.max(axis=-1).value, value.max(axis=-1))
    np.testing.assert_allclose(x.exp().value, np.exp(value))
    np.testing.assert_allclose(x.relu().value, np.maximum(value, 0))
    np.testing.assert_allclose(x.tanh().value, np.tanh(value))
    np.testing.assert_allclose(x.sigmoid().value, 1 / (1 + np.exp(-value)))


# ----- repr --------------------------------------------------------------------------------------


def test_repr_shows_values_and_only_the_notable_attributes():
    assert repr(TensorNode([1.0, 2.0])) == "TensorNode([1., 2.])"
    leaf = TensorNode([1.0, 2.0], requires_grad=True, name="w")
    assert repr(leaf) == "TensorNode([1., 2.], name='w', requires_grad=True)"
    assert repr(leaf * 2) == "TensorNode([2., 4.], op=Mul)"
    assert repr(TensorNode(np.arange(3))) == "TensorNode([0, 1, 2], dtype=int64)"


def test_repr_of_a_large_array_is_summarised_and_multiline_arrays_align():
    text = repr(TensorNode(np.arange(1000.0)))
    assert "..." in text and len(text) < 100
    lines = repr(TensorNode(np.ones((2, 2)))).splitlines()
    assert lines[1].index("[") == lines[0].index("[[") + 1


def test_functional_forms_build_the_same_ops_as_the_methods():
    import autograd.functional as F

    x = TensorNode(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    pairs = [
        (F.relu(x), x.relu()),
        (F.sigmoid(x), x.sigmoid()),
        (F.tanh(x), x.tanh()),
        (F.exp(x), x.exp()),
        (F.log(x * x), (x * x).log()),
        (F.softmax(x, axis=0), x.softmax(axis=0)),
        (F.log_softmax(x), x.log_softmax()),
        (F.matmul(x, x), x @ x),
        (F.sum(x, axis=1), x.sum(axis=1)),
        (F.mean(x, keepdims=True), x.mean(keepdims=True)),
        (F.max(x, axis=0), x.max(axis=0)),
        (F.reshape(x, (4,)), x.reshape(4)),
        (F.transpose(x, (1, 0)), x.transpose(1, 0)),
        (F.expand(x, (3, 2, 2)), x.expand(3, 2, 2)),
    ]
    for functional_form, method_form in pairs:
        assert functional_form.source.op is method_form.source.op
        np.testing.assert_array_equal(functional_form.value, method_form.value)


def test_an_op_output_has_every_slot_that_a_new_tensornode_has():
    # fastpaths.output_nodes builds op outputs without __init__: it must set the same slots
    output = TensorNode([1.0, 2.0], requires_grad=True) * 2
    for slot in TensorNode.__slots__:
        if slot != "__weakref__":
            getattr(output, slot)  # AttributeError if output_nodes forgot one
