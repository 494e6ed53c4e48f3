"""Dtype promotion follows PyTorch (issue 9), checked against PyTorch itself over a table.

The policy (autograd/dtypes.py): Python numbers are weak; a 0-d node does not promote an n-d
one of the same kind; otherwise the wider type of the highest kind (bool < int < float) wins;
integer division gives float32. float16 arithmetic keeps constants and counts out of float16.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

from autograd import TensorNode

DTYPES = ["float16", "float32", "float64", "int32", "int64", "bool"]
OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "@": operator.matmul,
}
SCALARS = [2, 0.5, True]


@pytest.fixture
def torch():
    """PyTorch with its own default dtype (float32), which sets the dtype of int / int."""
    torch = pytest.importorskip("torch")
    assert torch.get_default_dtype() == torch.float32
    return torch


def ones(dtype: str, ndim: int) -> np.ndarray:
    return np.ones((2, 2)[:ndim], dtype=dtype)


def torch_dtype(torch, function, *operands):
    """The dtype of PyTorch's result, or None where PyTorch refuses the operation."""
    try:
        result = function(*operands)
    except (RuntimeError, TypeError):
        return None
    return str(result.dtype).removeprefix("torch.")


@pytest.mark.parametrize(("dtype_a", "dtype_b"), list(itertools.product(DTYPES, DTYPES)))
def test_two_nodes_promote_as_in_pytorch(torch, dtype_a, dtype_b):
    mismatches = []
    for (name, function), ndim_a, ndim_b in itertools.product(OPERATORS.items(), (0, 2), (0, 2)):
        if name == "@" and not (ndim_a and ndim_b):
            continue  # matmul needs at least one axis on each side
        a, b = ones(dtype_a, ndim_a), ones(dtype_b, ndim_b)
        expected = torch_dtype(torch, function, torch.from_numpy(a), torch.from_numpy(b))
        if expected is None:
            continue
        ours = str(function(TensorNode(a), TensorNode(b)).dtype)
        if ours != expected:
            mismatches.append(
                f"{dtype_a}[{ndim_a}d] {name} {dtype_b}[{ndim_b}d]: {ours}, torch {expected}"
            )
    assert not mismatches


@pytest.mark.parametrize(("dtype", "number"), list(itertools.product(DTYPES, SCALARS)))
def test_python_numbers_are_weak_as_in_pytorch(torch, dtype, number):
    mismatches = []
    for (name, function), ndim, swap in itertools.product(OPERATORS.items(), (0, 2), (False, True)):
        if name == "@" or (dtype == "float16" and ndim == 0):
            continue  # matmul takes no numbers; 0-d float16 has its own test below
        array = ones(dtype, ndim)
        operands = (number, torch.from_numpy(array)) if swap else (torch.from_numpy(array), number)
        expected = torch_dtype(torch, function, *operands)
        if expected is None:
            continue
        node = TensorNode(array)
        ours = str((function(number, node) if swap else function(node, number)).dtype)
        if ours != expected:
            order = (
                f"{number!r} {name} {dtype}[{ndim}d]"
                if swap
                else f"{dtype}[{ndim}d] {name} {number!r}"
            )
            mismatches.append(f"{order}: {ours}, torch {expected}")
    assert not mismatches


def test_a_number_beside_a_0d_float16_node_keeps_float16():
    assert (TensorNode(np.float16(3.0)) * 0.5).dtype == np.float16


# ----- the cases the issue names -------------------------------------------------------------


def test_a_float32_model_stays_float32_beside_a_0d_float64_node_and_an_int64_array():
    rng = np.random.default_rng(0)
    x = TensorNode(rng.standard_normal((4, 3)).astype(np.float32))
    w = TensorNode(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    scale = TensorNode(np.float64(0.5))
    mask = TensorNode(np.array([[1, 0], [0, 1], [1, 1], [0, 0]], dtype=np.int64))
    hidden = (x @ w) * scale * mask + TensorNode(np.float64(1.0))
    loss = (hidden * hidden).mean()
    assert hidden.dtype == np.float32 and loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32


def test_int64_plus_one_stays_int64():
    assert (TensorNode(np.arange(3)) + 1).dtype == np.int64
    assert (1 + TensorNode(np.arange(3))).dtype == np.int64


def test_int64_times_a_half_is_float32():
    result = TensorNode(np.arange(3)) * 0.5
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.value, [0.0, 0.5, 1.0])


def test_integer_division_is_float32_and_not_truncated():
    result = TensorNode(np.array([1, 3], dtype=np.int32)) / TensorNode(np.array([2, 2]))
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.value, [0.5, 1.5])


def test_python_numbers_keep_a_float_nodes_dtype():
    for dtype in (np.float16, np.float32, np.float64):
        x = TensorNode(np.ones(3, dtype=dtype))
        assert (x * 0.5).dtype == dtype and (2 - x).dtype == dtype and (x / 3).dtype == dtype


def test_gradients_come_back_in_each_inputs_dtype():
    x32 = TensorNode(np.ones(3, np.float32), requires_grad=True)
    x64 = TensorNode(np.ones(3, np.float64), requires_grad=True)
    (x32 * x64).sum().backward()
    assert x32.grad.dtype == np.float32 and x64.grad.dtype == np.float64


# ----- float16: constants and counts never overflow ------------------------------------------


def float16_data(*shape: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float16)


def test_float16_mean_over_70000_elements_has_pytorchs_gradient(torch):
    data = float16_data(70_000)
    x = TensorNode(data, requires_grad=True)
    x.mean().backward()
    theirs = torch.tensor(data, requires_grad=True)
    theirs.mean().backward()
    assert x.grad.dtype == np.float16
    assert np.all(x.grad > 0)  # the count 70,000 overflows float16: the gradient was 0
    np.testing.assert_array_equal(x.grad, theirs.grad.numpy())


def test_float16_mean_is_at_least_as_accurate_as_pytorchs(torch):
    data = float16_data(3, 70_000)
    truth = data.astype(np.float64).mean(axis=1)
    ours = TensorNode(data).mean(axis=1).value
    theirs = torch.tensor(data).mean(dim=1).numpy()
    assert ours.dtype == np.float16
    ulp = np.spacing(np.abs(truth).astype(np.float16)).astype(np.float64)
    assert np.all(np.abs(ours - truth) <= np.abs(theirs - truth) + ulp)


def test_float16_divided_by_1e5_matches_pytorch(torch):
    data = float16_data(1000) * 100
    x = TensorNode(data, requires_grad=True)
    y = x / 1e5
    y.sum().backward()
    theirs = torch.tensor(data, requires_grad=True)
    their_y = theirs / 1e5
    their_y.sum().backward()
    assert y.dtype == np.float16 and np.count_nonzero(y.value) == np.count_nonzero(data)
    np.testing.assert_array_equal(y.value, their_y.detach().numpy())
    np.testing.assert_array_equal(x.grad, theirs.grad.numpy())
    assert np.all(np.isfinite(x.grad)) and np.all(x.grad > 0)


def test_a_large_number_divided_by_a_float16_node_is_as_accurate_as_pytorch(torch):
    data = np.array([1e3, 2e3, 7e3], dtype=np.float16)
    truth = 1e5 / data.astype(np.float64)
    ours = (1e5 / TensorNode(data)).value
    theirs = (1e5 / torch.tensor(data)).numpy()
    assert ours.dtype == np.float16
    assert np.all(np.abs(ours - truth) <= np.abs(theirs - truth))
