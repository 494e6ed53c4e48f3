"""Numerical gradient checking: compare backward with central differences in float64.

``gradcheck(fn, inputs)`` checks, for the inputs given:

1. each op's backward leaves ``grad_output`` and its saved ``context`` alone, and gives the
   same gradients when run twice on the same context (as ``backward(retain_graph=True)`` does);
2. the gradient of ``sum(v * fn(*inputs))`` agrees with central differences, first for v = 1,
   then for random v (so a backward that ignores ``grad_output`` is caught);
3. the same with the inputs laid out as transposed and as strided views, not only as fresh
   contiguous arrays.

``gradgradcheck`` does the same one order up: Hessian-vector products against central
differences of first derivatives (it needs ``autograd.grad`` and ops that declare
``differentiable_backward``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import autograd
from autograd.errors import GradcheckError, GradientError
from autograd.graph import OpNode, walk
from autograd.modes import no_grad
from autograd.tensor import TensorNode

#: How the checked inputs are laid out in memory; the values are the same in all three.
LAYOUTS = ("contiguous", "transposed", "strided")


def central_differences(f: Callable[[], float], value: np.ndarray, eps: float) -> np.ndarray:
    """d f() / d value: nudge each element of ``value`` in place by +-eps, then restore it.

    Indexing writes through any view, so this works for transposed and strided arrays too.
    """
    grad = np.zeros(value.shape, dtype=np.float64)
    for index in np.ndindex(value.shape):
        original = value[index]
        value[index] = original + eps
        plus = f()
        value[index] = original - eps
        minus = f()
        value[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def numerical_gradient(
    fn: Callable[..., TensorNode], inputs: Sequence[TensorNode], index: int, eps: float = 1e-6
) -> np.ndarray:
    """d fn / d inputs[index] of a scalar fn by central differences: (f(x+eps) - f(x-eps)) / 2eps.

    >>> numerical_gradient(lambda x: (x * x).sum(), [TensorNode(np.array([1.0, 2.0]))], 0)
    array([2., 4.])
    """
    with no_grad():
        return central_differences(lambda: float(fn(*inputs).value), inputs[index].value, eps)


def weighted_sum(outputs: Sequence[TensorNode], weights: Sequence[np.ndarray]) -> TensorNode:
    """sum over k of (weights[k] * outputs[k]).sum(): one scalar in which every element counts.
    Its backward hands each output exactly its weights as ``grad_output``."""
    total = None
    for output, weight in zip(outputs, weights, strict=True):
        term = (output * weight.astype(output.value.dtype)).sum()
        total = term if total is None else total + term
    return total


def gradcheck(
    fn: Callable[..., TensorNode | tuple[TensorNode, ...]],
    inputs: Sequence[TensorNode | np.ndarray],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    projections: int = 2,
) -> bool:
    """Check the backward of ``fn(*inputs)`` (any shape, or a tuple) against central differences.

    Inputs are copied to float64; those that require grad (every float input, when none is
    marked) are checked. Returns True, or raises GradcheckError naming the op or the input,
    the element and both values (see the module docstring for what is checked).

    >>> x = TensorNode(np.random.randn(3, 4), requires_grad=True)
    >>> gradcheck(lambda x: Softplus.do_forward(x), [x])
    True
    """
    nodes = [x if isinstance(x, TensorNode) else TensorNode(x) for x in inputs]
    checked = _checked_inputs(nodes)
    outputs = outputs_of("gradcheck", fn(*_float64_copies(nodes, checked)))
    rng = np.random.default_rng(0)
    for projection in range(projections):
        # First v = 1, the gradient of sum(y) a user expects; then random weights.
        if projection == 0:
            weights = [np.ones(y.value.shape) for y in outputs]
            of = "of sum(output)"
        else:
            weights = [rng.normal(size=y.value.shape) for y in outputs]
            of = "of sum(v * output) for a random v; it passed for v = 1, so backward misuses "
            of += "grad_output"

        def projected(*xs, weights=weights):
            return weighted_sum(outputs_of("gradcheck", fn(*xs)), weights)

        numeric_copies = _float64_copies(nodes, checked)
        numeric = {i: numerical_gradient(projected, numeric_copies, i, eps) for i in checked}
        for layout, copies in _layouts(nodes, checked):
            outputs = outputs_of("gradcheck", fn(*copies))
            result = weighted_sum(outputs, weights)
            if result.requires_grad:
                _check_each_backward(result)
                result.backward()
            details = f"{of}; inputs {layout}; ops: {_op_names(outputs)}"
            for i in checked:
                analytic = copies[i].grad
                if analytic is None:  # nothing reached this input: its gradient is zero
                    analytic = np.zeros(copies[i].value.shape)
                _compare("gradcheck", copies[i], i, analytic, numeric[i], details, atol, rtol, eps)
    return True


def gradgradcheck(
    fn: Callable[..., TensorNode | tuple[TensorNode, ...]],
    inputs: Sequence[TensorNode | np.ndarray],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Check second derivatives: for s = sum(v * fn(*inputs)) with random v and a random
    direction u, the Hessian-vector product H u from differentiating backward's graph
    (``autograd.grad(..., create_graph=True)``) against central differences of the first
    derivatives. Every op in fn must declare ``differentiable_backward = True``.

    >>> gradgradcheck(lambda x: x.tanh(), [np.random.randn(3)])
    True
    """
    nodes = [x if isinstance(x, TensorNode) else TensorNode(x) for x in inputs]
    checked = _checked_inputs(nodes)
    outputs = outputs_of("gradgradcheck", fn(*_float64_copies(nodes, checked)))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=y.value.shape) for y in outputs]
    directions = {i: rng.normal(size=nodes[i].value.shape) for i in checked}

    def slope(xs, create_graph: bool) -> TensorNode | None:
        """u . ds/dx: the first derivative along u, as a node (None if it is zero)."""
        s = weighted_sum(outputs_of("gradgradcheck", fn(*xs)), weights)
        if not s.requires_grad:
            return None
        firsts = autograd.grad(s, [xs[i] for i in checked], create_graph=create_graph)
        total = None
        for i, first in zip(checked, firsts, strict=True):
            if first is not None:
                term = (first * directions[i]).sum()
                total = term if total is None else total + term
        return total

    def slope_value(xs) -> float:
        total = slope(xs, create_graph=False)
        return 0.0 if total is None else float(total.value)

    # d/dx_j (u . ds/dx) = (H u)_j, since the Hessian is symmetric.
    numeric_copies = _float64_copies(nodes, checked)
    numeric = {
        i: central_differences(lambda: slope_value(numeric_copies), numeric_copies[i].value, eps)
        for i in checked
    }
    for layout, copies in _layouts(nodes, checked):
        total = slope(copies, create_graph=True)
        wrt = [copies[i] for i in checked]
        if total is None or not total.requires_grad:
            seconds = [None] * len(checked)
        else:
            seconds = autograd.grad(total, wrt, allow_unused=True)
        ops = _op_names(outputs_of("gradgradcheck", fn(*copies)))
        details = f"H u for s = sum(v * output), random v and u; inputs {layout}; ops: {ops}"
        for i, second in zip(checked, seconds, strict=True):
            analytic = np.zeros(numeric[i].shape) if second is None else second.value
            _compare("gradgradcheck", copies[i], i, analytic, numeric[i], details, atol, rtol, eps)
    return True


# ----- the checks on each op's backward ------------------------------------------------------


def _check_each_backward(root: TensorNode) -> None:
    """Run every op's backward in root's graph twice on its own context, with fresh random
    ``grad_output`` arrays, and raise if it wrote into them, changed its saved values, or gave
    different gradients the second time."""
    for op_node in walk([root])[0]:
        _check_backward(op_node)


def _check_backward(op_node: OpNode) -> None:
    name = f"{op_node.op.__name__}.backward"
    rng = np.random.default_rng(1)
    grad_outputs = [rng.normal(size=y.shape).astype(y.dtype) for y in op_node.output_values]
    saved = {key: array.copy() for key, array in _saved_arrays(op_node.context)}

    def run() -> tuple:
        given = [g.copy() for g in grad_outputs]
        try:
            grads = op_node.op.backward(op_node.context, *given)
        except ValueError as error:
            if "read-only" not in str(error):
                raise
            raise GradcheckError(
                f"{name} tried to write into a read-only array ({error}): it must not modify "
                "grad_output or its saved values in place; compute new arrays instead"
            ) from error
        for k, (before, after) in enumerate(zip(grad_outputs, given)):
            _must_equal(before, after, f"{name} wrote into grad_output {k}", _GRAD_OUTPUT_HINT)
        for key, array in _saved_arrays(op_node.context):
            _must_equal(
                saved[key], array, f"{name} modified its saved context[{key}] in place",
                "a second backward through the graph (retain_graph=True) would be wrong; "
                "compute new arrays instead",
            )  # fmt: skip
        return grads if isinstance(grads, tuple) else (grads,)

    first, second = run(), run()
    for k, (a, b) in enumerate(zip(first, second)):
        if (a is None) != (b is None) or (a is not None and not np.array_equal(a, b, True)):
            _must_equal(
                np.asarray(a), np.asarray(b),
                f"{name} gave a different gradient for input {k} the second time on the same "
                "context", "backward must leave its context as it found it",
            )  # fmt: skip


_GRAD_OUTPUT_HINT = (
    "the engine hands one gradient array to several ops, so this corrupts another op's "
    "gradient; compute a new array (grad_output * 2, not grad_output *= 2)"
)


def _saved_arrays(context: dict):
    """(key, array) for each array in context, looking inside tuples and lists too."""
    for key, value in context.items():
        if isinstance(value, np.ndarray):
            yield repr(key), value
        elif isinstance(value, tuple | list):
            for k, item in enumerate(value):
                if isinstance(item, np.ndarray):
                    yield f"{key!r}][{k}", item


def _must_equal(before: np.ndarray, after: np.ndarray, what: str, hint: str) -> None:
    if before.shape != after.shape:
        raise GradcheckError(f"{what}: shape {before.shape} became {after.shape}; {hint}")
    differs = ~((before == after) | (np.isnan(before) & np.isnan(after)))
    if differs.any():
        index = tuple(int(k) for k in np.argwhere(differs)[0])
        raise GradcheckError(
            f"{what}: element {index} was {float(before[index])!r}, then "
            f"{float(after[index])!r}; {hint}"
        )


# ----- helpers --------------------------------------------------------------------------------


def _checked_inputs(nodes: list[TensorNode]) -> list[int]:
    checked = [i for i, x in enumerate(nodes) if x.requires_grad]
    return checked or [i for i, x in enumerate(nodes) if x.value.dtype.kind == "f"]


def _float64_copies(
    nodes: list[TensorNode], checked: list[int], layout: str = "contiguous"
) -> list[TensorNode]:
    """Fresh leaves: checked inputs in float64 (laid out as asked), the others as they are."""
    return [
        TensorNode(laid_out(x.value.astype(np.float64), layout), requires_grad=True, name=x.name)
        if i in checked
        else TensorNode(x.value.copy(), name=x.name)
        for i, x in enumerate(nodes)
    ]


def _layouts(nodes: list[TensorNode], checked: list[int]):
    """(layout, fresh float64 copies laid out so) for each of LAYOUTS that differs from the
    contiguous one (0-d and 1-d inputs have no other layout worth trying)."""
    for layout in LAYOUTS:
        copies = _float64_copies(nodes, checked, layout)
        if layout == "contiguous" or not all(copies[i].value.flags.c_contiguous for i in checked):
            yield layout, copies


def laid_out(array: np.ndarray, layout: str) -> np.ndarray:
    """The same values, stored contiguously, transposed (Fortran order), or strided.

    >>> laid_out(np.ones((2, 3)), "strided").strides    # every other float64 of a buffer
    (48, 16)
    """
    if layout == "transposed":
        return np.array(array, order="F")
    if layout == "strided":
        padded = np.zeros(array.shape + (2,), array.dtype)  # each element followed by a gap
        padded[..., 0] = array
        return padded[..., 0]
    return np.array(array, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d


def outputs_of(check: str, result) -> tuple[TensorNode, ...]:
    """``fn``'s result as a tuple of TensorNodes, or an error naming ``check``."""
    outputs = result if isinstance(result, tuple) else (result,)
    for output in outputs:
        if not isinstance(output, TensorNode):
            raise GradientError(
                f"{check}: fn must return a TensorNode (or a tuple of them), got a "
                f"{type(output).__name__}; compute it with TensorNode operations (not on "
                ".value), so it has a graph"
            )
    return outputs


def _op_names(outputs: Sequence[TensorNode]) -> str:
    """The ops that made the outputs, in the order they ran: "Mul, Sum"."""
    names = []
    for output in outputs:
        if output.source is not None:
            names += [op_node.op.__name__ for op_node in reversed(walk([output])[0])]
    return ", ".join(dict.fromkeys(names)) or "none"


_WORDING = {  # check: (what is compared, the analytic side, the numerical side)
    "gradcheck": ("gradient", "backward gives", "central differences give"),
    "gradgradcheck": (
        "second derivative",
        "double backward gives",
        "central differences of backward give",
    ),
}


def _compare(check, node, i, analytic, numeric, details, atol, rtol, eps) -> None:
    """Raise GradcheckError at the worst element where analytic and numeric disagree."""
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    # A NaN compares False with everything, so it would pass a plain "> 0" test: make it fail.
    error = np.where(np.isnan(error), np.inf, error)
    if error.size and error.max() > 0:
        worst = np.unravel_index(np.argmax(error), error.shape)
        name = f" ({node.name!r})" if node.name else ""
        quantity, analytic_side, numeric_side = _WORDING[check]
        raise GradcheckError(
            f"{check}: {quantity} of input {i}{name} with shape {node.value.shape} disagrees at "
            f"index {tuple(int(k) for k in worst)}: {analytic_side} {float(analytic[worst])!r}, "
            f"{numeric_side} {float(numeric[worst])!r} ({details}; atol={atol}, rtol={rtol}, "
            f"eps={eps})"
        )
