"""Specification of autograd/func.py: JAX-style transforms (grad, value_and_grad, vjp, jvp, hvp,
jacobian, hessian) that nest to any order, checked against torch.func and
torch.autograd.functional in float64 on shapes drawn by hypothesis (0-d and size-1 included)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd
from autograd import TensorNode, func
from autograd.testing import arrays, shapes

MATRIX = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def _scalar_functions():
    """name -> (ours(x), theirs(x)): smooth scalar functions of an array of any shape."""
    return {
        "sum of tanh cubed": (
            lambda x: (x.tanh() ** 3).sum(),
            lambda x: (x.tanh() ** 3).sum(),
        ),
        "log-sum-exp": (
            lambda x: x.reshape(-1).log_softmax()[0] * -1.0 + (x * x).sum(),
            lambda x: x.reshape(-1).log_softmax(-1)[0] * -1.0 + (x * x).sum(),
        ),
        "sigmoid times exp": (
            lambda x: (x.sigmoid() * (x * 0.5).exp()).mean(),
            lambda x: (x.sigmoid() * (x * 0.5).exp()).mean(),
        ),
    }


FUNCTIONS = list(_scalar_functions())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_hessian_matches_torch_autograd_functional_hessian(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _scalar_functions()[name]

    @given(arrays(shapes(max_side=3)))
    def check(x):
        expected = torch.autograd.functional.hessian(theirs, torch.tensor(x))
        result = func.hessian(ours)(x)
        assert isinstance(result, np.ndarray) and result.shape == x.shape * 2
        np.testing.assert_allclose(result, expected.numpy(), rtol=1e-9, atol=1e-12)

    check()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_value_and_grad_and_hvp_match_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs = _scalar_functions()[name]

    @given(st.data())
    def check(data):
        x = data.draw(arrays(shapes(max_side=3)), label="x")
        v = data.draw(arrays(x.shape), label="v")
        their_grad, their_value = torch.func.grad_and_value(theirs)(torch.tensor(x))
        value, gradient = func.value_and_grad(ours)(x)
        np.testing.assert_allclose(value, their_value.item(), rtol=1e-12)
        np.testing.assert_allclose(gradient, their_grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(func.grad(ours)(x), their_grad.numpy(), rtol=1e-10, atol=1e-12)
        _, their_hvp = torch.autograd.functional.hvp(theirs, torch.tensor(x), torch.tensor(v))
        np.testing.assert_allclose(func.hvp(ours)(x, v), their_hvp.numpy(), rtol=1e-9, atol=1e-12)

    check()


def vector_function(a, b):
    """(2,)-valued f(a, b) of a (3,) and b (2, 3), with matmul and broadcasting; the same code
    runs on TensorNodes and on torch tensors."""
    h = b @ a
    return h.tanh() * 2.0 + (b * a).sum(axis=1) * h.sigmoid()


def test_jacobian_matches_torch_autograd_functional_jacobian_for_several_shapes():
    torch = pytest.importorskip("torch")
    cases = {
        "matrix times x": (lambda x: MATRIX @ x.tanh(), lambda x: torch.tensor(MATRIX) @ x.tanh()),
        "softmax of a matrix": (lambda x: x.softmax(axis=0), lambda x: x.softmax(0)),
        "scalar output": (lambda x: (x * x).sum(), lambda x: (x * x).sum()),
        "0-d in, vector out": (lambda x: x * np.arange(3.0), lambda x: x * torch.arange(3.0)),
    }
    inputs = {
        "matrix times x": np.array([0.3, -1.0, 0.7]),
        "softmax of a matrix": np.array([[0.1, 0.5], [-0.3, 1.2], [2.0, -1.0]]),
        "scalar output": np.array([[1.0, 2.0]]),
        "0-d in, vector out": np.array(1.5),
    }
    for name, (ours, theirs) in cases.items():
        x = inputs[name]
        expected = torch.autograd.functional.jacobian(theirs, torch.tensor(x)).numpy()
        result = func.jacobian(ours)(x)
        assert result.shape == expected.shape, name
        np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12, err_msg=name)


def test_vjp_and_jvp_of_a_function_of_two_arguments_match_torch_func():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=3), rng.normal(size=(2, 3))
    cotangent = rng.normal(size=2)
    tangents = (rng.normal(size=3), rng.normal(size=(2, 3)))
    f = vector_function
    ta, tb = torch.tensor(a), torch.tensor(b)

    output, pullback = func.vjp(f, a, b)
    their_output, their_pullback = torch.func.vjp(f, ta, tb)
    np.testing.assert_allclose(output, their_output.numpy(), rtol=1e-12)
    pulled = pullback(cotangent)
    assert isinstance(pulled, tuple) and len(pulled) == 2
    for ours, theirs in zip(pulled, their_pullback(torch.tensor(cotangent)), strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)

    output, tangent_out = func.jvp(f, (a, b), tangents)
    _, their_tangent = torch.func.jvp(f, (ta, tb), tuple(torch.tensor(t) for t in tangents))
    np.testing.assert_allclose(tangent_out, their_tangent.numpy(), rtol=1e-10, atol=1e-12)


def test_a_pullback_can_be_called_twice():
    _, pullback = func.vjp(lambda x: x * x, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(pullback(np.ones(2))[0], [2.0, 4.0])
    np.testing.assert_array_equal(pullback(np.array([1.0, 0.0]))[0], [2.0, 0.0])


# ----- nesting -------------------------------------------------------------------------------


def test_nested_grads_do_not_confuse_their_variables():
    """d/dx (x * [d/dy (x * y)](x)) = d/dx (x * x) = 2x: the inner x is a constant to the inner
    grad, yet the outer grad sees it (a confused engine answers 4x or 3x)."""
    assert func.grad(lambda x: x * func.grad(lambda y: x * y)(x))(3.0) == 6
    np.testing.assert_allclose(func.grad(lambda x: x * func.grad(lambda y: x * y)(x))(3.0), 6.0)


def test_nested_grads_with_the_same_variable_closed_over_twice():
    # d/dx [x^2 * d/dy (x * y^2) at y = x] = d/dx [x^2 * 2x^2] = 8 x^3
    def inner_slope(x):
        return func.grad(lambda y: x * y * y)(x)

    np.testing.assert_allclose(func.grad(lambda x: x * x * inner_slope(x))(2.0), 64.0)


def test_grad_of_grad_of_grad_is_the_third_derivative_as_torch_computes_it():
    torch = pytest.importorskip("torch")

    def ours(x):
        return (x.tanh() * x**3).sum()

    def theirs(x):
        return (x.tanh() * x**3).sum()

    x = np.array(0.7)
    third = func.grad(func.grad(func.grad(ours)))(x)
    t = torch.tensor(x, requires_grad=True)
    (first,) = torch.autograd.grad(theirs(t), t, create_graph=True)
    (second,) = torch.autograd.grad(first, t, create_graph=True)
    (their_third,) = torch.autograd.grad(second, t)
    np.testing.assert_allclose(third, their_third.item(), rtol=1e-10)


def test_hessian_of_a_function_with_constant_gradient_is_zero():
    np.testing.assert_array_equal(
        func.hessian(lambda x: (x * 2.0).sum())(np.ones(3)), np.zeros((3, 3))
    )


def test_transforms_called_on_nodes_that_require_grad_return_nodes_to_differentiate_again():
    x = TensorNode(np.array([1.0, 2.0]), requires_grad=True)
    slope = func.grad(lambda y: (y**3).sum())(x)  # 3 x^2
    assert isinstance(slope, TensorNode) and slope.requires_grad
    (curvature,) = autograd.grad(slope.sum(), x)
    np.testing.assert_array_equal(curvature.value, [6.0, 12.0])
    assert x.grad is None


def test_transforms_called_on_python_numbers_return_float32_arrays_as_tensornode_does():
    result = func.grad(lambda x: x * x)(3.0)
    assert type(result) is np.ndarray and result.dtype == np.float32
    assert result == 6.0


# ----- argnums ---------------------------------------------------------------------------------


def test_grad_with_an_argnums_tuple_returns_one_gradient_per_chosen_argument():
    def f(a, b, c):
        return (a * b * b + c).sum()

    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    grads = func.grad(f, argnums=(0, 2))(a, b, c)
    assert isinstance(grads, tuple) and len(grads) == 2
    np.testing.assert_array_equal(grads[0], b * b)
    np.testing.assert_array_equal(grads[1], [1.0, 1.0])
    np.testing.assert_array_equal(func.grad(f, argnums=1)(a, b, c), 2 * a * b)
    np.testing.assert_array_equal(func.grad(f, argnums=-1)(a, b, c), [1.0, 1.0])
    value, (grad_b,) = func.value_and_grad(f, argnums=(1,))(a, b, c)
    np.testing.assert_array_equal(value, (a * b * b + c).sum())
    np.testing.assert_array_equal(grad_b, 2 * a * b)


def test_grad_gives_zeros_for_an_argument_the_function_does_not_use():
    grads = func.grad(lambda a, b: (a * a).sum(), argnums=(0, 1))(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(grads[1], np.zeros(3))


def test_grad_refuses_an_argnum_out_of_range():
    with pytest.raises(ValueError, match="argnums 2 out of range for 2 arguments"):
        func.grad(lambda a, b: (a * b).sum(), argnums=2)(1.0, 2.0)


def test_grad_refuses_a_function_with_a_non_scalar_output():
    with pytest.raises(TypeError, match=r"scalar TensorNode, got \(2,\).*jacobian"):
        func.grad(lambda x: x * x)(np.ones(2))


# ----- transforms inside transforms --------------------------------------------------------------


def test_grad_of_an_hvp_is_a_third_derivative_matching_torch():
    torch = pytest.importorskip("torch")
    x, v = np.array([0.3, -0.5, 1.2]), np.array([1.0, 2.0, -1.0])
    ours = func.grad(lambda x: (func.hvp(lambda y: (y.tanh() ** 3).sum())(x, v) * v).sum())(x)
    t, tv = torch.tensor(x, requires_grad=True), torch.tensor(v)
    (first,) = torch.autograd.grad((t.tanh() ** 3).sum(), t, create_graph=True)
    (second,) = torch.autograd.grad((first * tv).sum(), t, create_graph=True)
    (third,) = torch.autograd.grad((second * tv).sum(), t)
    np.testing.assert_allclose(ours, third.numpy(), rtol=1e-10)


def test_grad_of_a_jacobian_that_closes_over_the_outer_variable_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.3, -0.5, 1.2])
    ours = func.grad(lambda x: func.jacobian(lambda y: y.tanh() * x)(x).sum())(x)
    t = torch.tensor(x, requires_grad=True)
    jacobian = torch.autograd.functional.jacobian(lambda y: y.tanh() * t, t, create_graph=True)
    (theirs,) = torch.autograd.grad(jacobian.sum(), t)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10)


def test_grad_of_a_pullback_differentiates_through_the_vjp():
    x = np.array([0.3, -0.5, 1.2])

    def total_slope(x):  # sum over i of d/da (a^2 x)_i at a = x: sum(2 x^2)
        _, pullback = func.vjp(lambda a: a * a * x, x)
        return pullback(np.ones(3))[0].sum()

    np.testing.assert_allclose(func.grad(total_slope)(x), 4 * x, rtol=1e-12)


def test_jacobian_of_a_function_that_ignores_its_input_is_zero():
    result = func.jacobian(lambda x: TensorNode(np.ones(2)))(np.ones(3))
    np.testing.assert_array_equal(result, np.zeros((2, 3)))
