"""TensorNodes among NumPy arrays and Python builtins (issue 9).

NumPy functions either run the engine's op or raise a TypeError naming what to use instead;
nothing ever silently builds an array of objects, which would cut the graph.
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd import TensorNode


def leaf(values) -> TensorNode:
    return TensorNode(np.array(values, dtype=np.float32), requires_grad=True)


# ----- NumPy functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numpy_function", "method"),
    [
        (np.exp, lambda x: x.exp()),
        (np.log, lambda x: x.log()),
        (np.tanh, lambda x: x.tanh()),
        (np.negative, lambda x: -x),
        (np.abs, lambda x: abs(x)),
        (np.sum, lambda x: x.sum()),
        (np.mean, lambda x: x.mean()),
        (np.max, lambda x: x.max()),
    ],
    ids=["exp", "log", "tanh", "negative", "abs", "sum", "mean", "max"],
)
def test_numpy_functions_on_a_node_run_the_engines_op(numpy_function, method):
    x, same = leaf([1.0, 2.5]), leaf([1.0, 2.5])
    result = numpy_function(x)
    assert isinstance(result, TensorNode) and result.source is not None
    result.sum().backward()
    method(same).sum().backward()
    np.testing.assert_allclose(result.value, method(same).value)
    np.testing.assert_allclose(x.grad, same.grad)


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda x: np.sin(x), "np.sin"),
        (lambda x: np.sqrt(x), "np.sqrt"),
        (lambda x: np.maximum(x, 0), "np.maximum"),
        (lambda x: np.add.reduce(x), "np.add.reduce"),
        (lambda x: np.concatenate([x, x]), "np.concatenate"),
        (lambda x: np.dot(x, x), "np.dot"),
    ],
    ids=["sin", "sqrt", "maximum", "add.reduce", "concatenate", "dot"],
)
def test_unsupported_numpy_functions_raise_a_type_error_naming_the_alternative(call, named):
    with pytest.raises(TypeError, match=named) as error:
        call(leaf([1.0, 2.0]))
    assert "node's methods" in str(error.value) and "write an Op" in str(error.value)


def test_np_exp_names_the_node_method_when_it_cannot_run():
    with pytest.raises(TypeError, match=r"x\.exp\(\)"):
        np.exp(leaf([1.0]), out=np.empty(1, np.float32))


# ----- np.asarray never builds an object array ------------------------------------------------


def test_asarray_of_a_constant_node_is_its_value():
    node = TensorNode(np.array([1.0, 2.0], dtype=np.float32))
    array = np.asarray(node)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, [1.0, 2.0])


def test_asarray_of_a_list_of_constant_nodes_is_a_numeric_array():
    array = np.asarray([TensorNode(1.0), TensorNode(2.0)])
    assert array.dtype == np.float32 and array.shape == (2,)


@pytest.mark.parametrize(
    "convert",
    [np.asarray, np.array, lambda x: np.array([x, x]), lambda x: np.asarray(x, dtype=object)],
    ids=["asarray", "array", "list of nodes", "dtype object"],
)
def test_asarray_of_a_node_that_requires_grad_is_a_type_error(convert):
    with pytest.raises(TypeError, match="cut the graph"):
        convert(leaf([1.0, 2.0]))


# ----- Python builtins ------------------------------------------------------------------------


def test_float_and_int_of_a_one_element_node():
    assert float(leaf([2.5])) == 2.5
    assert float(TensorNode(np.ones((1, 1)))) == 1.0
    assert int(TensorNode(3.7)) == 3


@pytest.mark.parametrize("convert", [float, int, bool])
def test_converting_a_node_of_several_elements_is_a_value_error(convert):
    with pytest.raises(ValueError, match=r"exactly one element, got shape \(2,\)"):
        convert(leaf([1.0, 2.0]))


def test_bool_of_a_one_element_node_is_its_truth_like_pytorch():
    assert bool(TensorNode(0.5)) is True
    assert bool(TensorNode([0.0])) is False
    assert bool(leaf([1.0]) > 0) is True


def test_comparisons_return_constant_boolean_nodes():
    x = leaf([1.0, -2.0])
    for result, expected in [
        (x > 0, [True, False]),
        (x >= -2, [True, True]),
        (x < 0, [False, True]),
        (x <= 1, [True, True]),
        (x == 1, [True, False]),
        (x != 1, [False, True]),
        (0 < x, [True, False]),
        (np.zeros(2, np.float32) < x, [True, False]),
    ]:
        assert isinstance(result, TensorNode) and result.dtype == np.bool_
        assert not result.requires_grad and result.source is None
        np.testing.assert_array_equal(result.value, expected)


def test_abs_has_gradient_sign_x():
    x = leaf([1.5, -2.0, 0.0])
    y = abs(x)
    y.sum().backward()
    np.testing.assert_array_equal(y.value, [1.5, 2.0, 0.0])
    np.testing.assert_array_equal(x.grad, [1.0, -1.0, 0.0])


def test_nodes_work_as_dict_keys_and_in_sets_by_identity():
    x, y = leaf([1.0, 2.0]), leaf([1.0, 2.0])
    names = {x: "x", y: "y"}
    assert names[x] == "x" and names[y] == "y"
    assert len({x, y, x}) == 2
    assert x in {x} and y not in {x}


# ----- arrays on the left ---------------------------------------------------------------------


def test_array_times_node_is_a_node_with_gradients():
    x = leaf([1.0, -2.0])
    y = np.array([2.0, 3.0], dtype=np.float32) * x
    assert isinstance(y, TensorNode) and y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


def test_array_matmul_node_is_a_node_with_gradients():
    x = leaf([[1.0], [-2.0]])
    matrix = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    y = matrix @ x
    assert isinstance(y, TensorNode)
    np.testing.assert_array_equal(y.value, [[-3.0], [-5.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, matrix.sum(axis=0, keepdims=True).T)


@pytest.mark.parametrize(
    ("operation", "expected_grad"),
    [
        (lambda a, x: a + x, [1.0, 1.0]),
        (lambda a, x: a - x, [-1.0, -1.0]),
        (lambda a, x: a / x, [-2.0, -0.75]),
    ],
    ids=["add", "subtract", "divide"],
)
def test_array_on_the_left_of_other_operators_keeps_the_graph(operation, expected_grad):
    x = leaf([1.0, -2.0])
    y = operation(np.array([2.0, 3.0], dtype=np.float32), x)
    assert isinstance(y, TensorNode)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, expected_grad)


def test_a_numpy_scalar_times_a_node_keeps_the_graph():
    x = leaf([1.0, -2.0])
    y = np.float32(3.0) * x
    assert isinstance(y, TensorNode)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
