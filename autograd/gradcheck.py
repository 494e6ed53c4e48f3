"""Numerical gradient checking: compare backward with central differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from autograd.errors import GradcheckError, GradientError
from autograd.graph import no_grad
from autograd.tensor import TensorNode


def numerical_gradient(
    fn: Callable[..., TensorNode], inputs: Sequence[TensorNode], index: int, eps: float = 1e-6
) -> np.ndarray:
    """d fn / d inputs[index] by central differences: (f(x + eps) - f(x - eps)) / (2 eps).

    ``inputs[index].value`` is perturbed in place, one element at a time, and restored.
    """
    value = inputs[index].value
    grad = np.zeros(value.shape, dtype=np.float64)
    flat_value, flat_grad = value.reshape(-1), grad.reshape(-1)
    with no_grad():
        for i in range(flat_value.size):
            original = flat_value[i]
            flat_value[i] = original + eps
            plus = float(fn(*inputs).value)
            flat_value[i] = original - eps
            minus = float(fn(*inputs).value)
            flat_value[i] = original
            flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(
    fn: Callable[..., TensorNode],
    inputs: Sequence[TensorNode | np.ndarray],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check the gradients of a scalar ``fn(*inputs)`` against central differences.

    Inputs are copied to float64; those that require grad (every float input, when none is
    marked) are checked. Returns True, or raises GradcheckError naming the input, the worst
    element and both values.

    >>> x = TensorNode(np.random.randn(3, 4), requires_grad=True)
    >>> gradcheck(lambda x: (x * x).sum(), [x])
    True
    """
    nodes = [x if isinstance(x, TensorNode) else TensorNode(x) for x in inputs]
    checked = [i for i, x in enumerate(nodes) if x.requires_grad]
    if not checked:
        checked = [i for i, x in enumerate(nodes) if x.value.dtype.kind == "f"]
    copies = [
        TensorNode(
            np.array(x.value, dtype=np.float64) if x.value.dtype.kind == "f" else x.value.copy(),
            requires_grad=i in checked,
            name=x.name,
        )
        for i, x in enumerate(nodes)
    ]

    output = fn(*copies)
    if not isinstance(output, TensorNode):
        raise GradientError(
            f"gradcheck: fn must return a scalar TensorNode, got a {type(output).__name__}; "
            "compute it with TensorNode operations (not on .value), so it has a graph"
        )
    if output.value.size != 1:
        raise GradientError(
            f"gradcheck: fn must return a scalar TensorNode, got shape {output.shape}; "
            "reduce it, e.g. .sum()"
        )
    if output.requires_grad:
        output.backward()

    for i in checked:
        analytic = copies[i].grad
        if analytic is None:
            analytic = np.zeros(copies[i].value.shape)
        numerical = numerical_gradient(fn, copies, i, eps)
        error = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
        # A NaN compares False with everything, so it would pass a plain "> 0" test: make it fail.
        error = np.where(np.isnan(error), np.inf, error)
        if error.size and error.max() > 0:
            worst = np.unravel_index(np.argmax(error), error.shape)
            name = f" ({copies[i].name!r})" if copies[i].name else ""
            raise GradcheckError(
                f"gradcheck: gradient of input {i}{name} with shape {copies[i].value.shape} "
                f"disagrees at index {tuple(int(k) for k in worst)}: backward gives "
                f"{float(analytic[worst])!r}, central differences give {float(numerical[worst])!r} "
                f"(atol={atol}, rtol={rtol}, eps={eps})"
            )
    return True
