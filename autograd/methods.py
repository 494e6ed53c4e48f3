"""TensorNode's operators and NumPy-like methods: each is a line that calls an op.

``x * y`` is ``Mul.do_forward(x, y)``, ``x.sum()`` is ``Sum.do_forward(x)``; the engine itself
(tensor.py, op.py, graph.py) never depends on them. NumPy functions on TensorNodes
(``np.exp(x)``) run the same ops through interop.py.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np

from autograd import interop, ops, tensor
from autograd.dtypes import weak_constant

if TYPE_CHECKING:
    from autograd.tensor import TensorNode


class TensorMethods:
    """The operators and methods of TensorNode (its base class; it holds no data of its own)."""

    __slots__ = ()

    # ----- NumPy-like attributes ---------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def size(self) -> int:
        return self.value.size

    @property
    def dtype(self) -> np.dtype:
        return self.value.dtype

    def item(self) -> float | int | bool:
        return self.value.item()

    def numpy(self) -> np.ndarray:
        return self.value

    def astype(self, dtype) -> TensorNode:
        """The value in another dtype; gradients flow back in this node's dtype."""
        return ops.Cast.do_forward(self, dtype=np.dtype(dtype))

    def __len__(self) -> int:
        return len(self.value)

    def __bool__(self) -> bool:
        return bool(self._single("bool"))

    def __float__(self) -> float:
        return float(self._single("float"))

    def __int__(self) -> int:
        return int(self._single("int"))

    def _single(self, what: str):
        if self.value.size != 1:
            raise ValueError(
                f"{what}() of a TensorNode needs exactly one element, got shape {self.shape}; "
                "reduce it first (e.g. .sum() or .any() on .value)"
            )
        return self.value.item()

    # ----- operators -------------------------------------------------------------------------
    # Python numbers are weak (PyTorch's rule): they take this node's dtype when they fit it.

    def _operand(self, other) -> TensorNode:
        """A constant leaf for the other operand of an operator."""
        if isinstance(other, TensorMethods):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, np.generic):
            return tensor.TensorNode(weak_constant(other, self.value.dtype, self.value.ndim))
        return tensor.TensorNode(other)

    def __add__(self, other) -> TensorNode:
        if not isinstance(other, TensorMethods):
            other = self._operand(other)
        return ops.Add.do_forward(self, other)

    def __radd__(self, other) -> TensorNode:
        return ops.Add.do_forward(self._operand(other), self)

    def __sub__(self, other) -> TensorNode:
        if not isinstance(other, TensorMethods):
            other = self._operand(other)
        return ops.Sub.do_forward(self, other)

    def __rsub__(self, other) -> TensorNode:
        return ops.Sub.do_forward(self._operand(other), self)

    def __mul__(self, other) -> TensorNode:
        if not isinstance(other, TensorMethods):
            other = self._operand(other)
        return ops.Mul.do_forward(self, other)

    def __rmul__(self, other) -> TensorNode:
        return ops.Mul.do_forward(self._operand(other), self)

    def __truediv__(self, other) -> TensorNode:
        if not isinstance(other, TensorMethods):
            other = self._operand(other)
        return ops.Div.do_forward(self, other)

    def __rtruediv__(self, other) -> TensorNode:
        return ops.Div.do_forward(self._operand(other), self)

    def __neg__(self) -> TensorNode:
        return ops.Neg.do_forward(self)

    def __abs__(self) -> TensorNode:
        return ops.Abs.do_forward(self)

    def __pow__(self, exponent) -> TensorNode:
        if isinstance(exponent, TensorMethods):
            raise TypeError(
                "x ** y supports a constant exponent only; for a TensorNode exponent write "
                "(y * x.log()).exp()"
            )
        return ops.Pow.do_forward(self, exponent=exponent)

    def __rpow__(self, base) -> TensorNode:
        # base ** x = exp(x * log(base)), which needs a constant positive base.
        if not isinstance(base, numbers.Real):
            return NotImplemented
        if base <= 0:
            raise ValueError(f"base ** x: the base must be a positive number, got {base!r}")
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other) -> TensorNode:
        if not isinstance(other, TensorMethods):
            other = self._operand(other)
        return ops.MatMul.do_forward(self, other)

    def __rmatmul__(self, other) -> TensorNode:
        return ops.MatMul.do_forward(self._operand(other), self)

    def __getitem__(self, index) -> TensorNode:
        return ops.Select.do_forward(self, index=index)

    # Comparisons give constant boolean nodes, elementwise as in NumPy (no gradient flows
    # through a comparison). Nodes still hash by identity, so they work as dict keys.
    def __eq__(self, other) -> TensorNode:  # type: ignore[override]
        return interop.constant(np.equal, self, other)

    def __ne__(self, other) -> TensorNode:  # type: ignore[override]
        return interop.constant(np.not_equal, self, other)

    def __lt__(self, other) -> TensorNode:
        return interop.constant(np.less, self, other)

    def __le__(self, other) -> TensorNode:
        return interop.constant(np.less_equal, self, other)

    def __gt__(self, other) -> TensorNode:
        return interop.constant(np.greater, self, other)

    def __ge__(self, other) -> TensorNode:
        return interop.constant(np.greater_equal, self, other)

    __hash__ = object.__hash__

    # ----- methods ---------------------------------------------------------------------------

    def sum(self, axis=None, keepdims: bool = False) -> TensorNode:
        return ops.Sum.do_forward(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> TensorNode:
        return ops.Mean.do_forward(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> TensorNode:
        return ops.Max.do_forward(self, axis=axis, keepdims=keepdims)

    def exp(self) -> TensorNode:
        return ops.Exp.do_forward(self)

    def log(self) -> TensorNode:
        return ops.Log.do_forward(self)

    def relu(self) -> TensorNode:
        return ops.Relu.do_forward(self)

    def sigmoid(self) -> TensorNode:
        return ops.Sigmoid.do_forward(self)

    def tanh(self) -> TensorNode:
        return ops.Tanh.do_forward(self)

    def softmax(self, axis: int = -1) -> TensorNode:
        return ops.Softmax.do_forward(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> TensorNode:
        return ops.LogSoftmax.do_forward(self, axis=axis)

    def reshape(self, *shape) -> TensorNode:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; one axis may be -1."""
        return ops.Reshape.do_forward(self, shape=_one_tuple(shape))

    def transpose(self, *axes) -> TensorNode:
        """Reverse the axes, or permute them: ``x.transpose(1, 0, 2)``."""
        return ops.Transpose.do_forward(self, axes=_one_tuple(axes) or None)

    @property
    def T(self) -> TensorNode:  # noqa: N802  (NumPy's name)
        return ops.Transpose.do_forward(self, axes=None)

    def expand(self, *shape) -> TensorNode:
        """Broadcast to ``shape`` as NumPy would, without copying."""
        return ops.Expand.do_forward(self, shape=_one_tuple(shape))

    # ----- NumPy functions on nodes (interop.py) ------------------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """``np.exp(x)``, ``array * x`` and friends run the engine's ops; others raise."""
        return interop.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """The few NumPy functions that backward formulas use (reshape, sum, ...)."""
        return interop.array_function(func, args, kwargs)


def _one_tuple(args: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike: the arguments as one tuple."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], tuple | list) else args
