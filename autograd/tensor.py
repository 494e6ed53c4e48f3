"""TensorNode: a value, its gradient, and the OpNode that made it.

This is the object users hold. Its operators and methods are thin: each one calls an Op's
``do_forward``, which does the work and records the graph.
"""

from __future__ import annotations

import numbers

import numpy as np

from autograd import graph

DEFAULT_DTYPE = np.float32


def as_array(value) -> np.ndarray:
    """A NumPy array for ``value``: arrays keep their dtype, Python numbers and lists become
    float32. Strings, objects and complex numbers are refused with a TypeError.

    >>> as_array([1, 2]).dtype, as_array(np.arange(3)).dtype
    (dtype('float32'), dtype('int64'))
    """
    if isinstance(value, TensorNode):
        raise TypeError(
            "TensorNode(...) got a TensorNode; use node.detach() for a new leaf with its value"
        )
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"TensorNode values must be numeric (bool, int or float), got {array.dtype} from "
            f"{type(value).__name__}"
        )
    if not isinstance(value, np.ndarray | np.generic):
        array = array.astype(DEFAULT_DTYPE)
    return array


def as_node(value) -> TensorNode:
    """``value`` itself if it is a TensorNode, else a constant leaf holding it."""
    return value if isinstance(value, TensorNode) else TensorNode(value)


class TensorNode:
    """A node of the computation graph holding a NumPy ``value``.

    >>> x = TensorNode([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad
    array([2., 4.], dtype=float32)
    """

    __slots__ = ("value", "grad", "source", "requires_grad", "name", "retains_grad", "__weakref__")
    # Make NumPy defer to our reflected operators: ``array * node`` calls ``node.__rmul__``.
    __array_ufunc__ = None

    def __init__(self, value, requires_grad: bool = False, name: str | None = None) -> None:
        if type(value) is not np.ndarray:
            value = as_array(value)
        elif value.dtype.kind not in "biuf":
            raise TypeError(f"TensorNode values must be numeric, got an array of {value.dtype}")
        if requires_grad and value.dtype.kind != "f":
            raise TypeError(
                f"only floating-point TensorNodes can require grad, got {value.dtype}; "
                "convert first, e.g. TensorNode(x.astype(np.float32), requires_grad=True)"
            )
        self.value = value
        self.grad = None
        self.source = None
        self.requires_grad = requires_grad
        self.name = name
        self.retains_grad = False

    @classmethod
    def from_op(cls, value, requires_grad: bool) -> TensorNode:
        """An op's output: the fast path of __init__ for values an op's forward returned."""
        node = cls.__new__(cls)
        node.value = value if type(value) is np.ndarray else as_array(value)
        node.grad = node.source = node.name = None
        node.requires_grad = requires_grad
        node.retains_grad = False
        return node

    # ----- graph -----------------------------------------------------------------------------

    def backward(self, grad=None, retain_graph: bool = False, retain_grads: bool = False) -> None:
        """Accumulate gradients of this node into every leaf that requires grad.

        >>> loss.backward()
        >>> w.grad.shape == w.shape
        True
        """
        graph.backward(self, grad, retain_graph=retain_graph, retain_grads=retain_grads)

    def retain_grad(self) -> TensorNode:
        """Keep this intermediate node's gradient in ``.grad`` after backward (leaves always do)."""
        self.retains_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad`` becomes None)."""
        self.grad = None

    def detach(self) -> TensorNode:
        """A new leaf sharing this value, outside any graph."""
        return TensorNode(self.value, name=self.name)

    @property
    def is_leaf(self) -> bool:
        return self.source is None

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

    def __len__(self) -> int:
        return len(self.value)

    def __repr__(self) -> str:
        body = np.array2string(self.value, precision=4, separator=", ", threshold=20)
        body = body.replace("\n", "\n" + " " * 11)
        extras = "".join(
            [
                f", dtype={self.value.dtype}" if self.value.dtype != DEFAULT_DTYPE else "",
                f", name={self.name!r}" if self.name else "",
                f", op={self.source.op.__name__}" if self.source is not None else "",
                ", requires_grad=True" if self.requires_grad and self.source is None else "",
            ]
        )
        return f"TensorNode({body}{extras})"

    # ----- operators -------------------------------------------------------------------------
    # Python numbers take this node's dtype, as in PyTorch, so float32 stays float32.

    def _constant(self, other) -> TensorNode:
        """A constant leaf for the other operand of an operator (never a TensorNode here)."""
        if isinstance(other, numbers.Number) and self.value.dtype.kind == "f":
            return TensorNode(np.asarray(other, dtype=self.value.dtype))
        return TensorNode(other)

    def __add__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._constant(other)
        return Add.do_forward(self, other)

    def __radd__(self, other) -> TensorNode:
        return Add.do_forward(self._constant(other), self)

    def __sub__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._constant(other)
        return Sub.do_forward(self, other)

    def __rsub__(self, other) -> TensorNode:
        return Sub.do_forward(self._constant(other), self)

    def __mul__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._constant(other)
        return Mul.do_forward(self, other)

    def __rmul__(self, other) -> TensorNode:
        return Mul.do_forward(self._constant(other), self)

    def __truediv__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._constant(other)
        return Div.do_forward(self, other)

    def __rtruediv__(self, other) -> TensorNode:
        return Div.do_forward(self._constant(other), self)

    def __neg__(self) -> TensorNode:
        return Neg.do_forward(self)

    def __pow__(self, exponent) -> TensorNode:
        if isinstance(exponent, TensorNode):
            raise TypeError(
                "x ** y supports a constant exponent only; for a TensorNode exponent write "
                "(y * x.log()).exp()"
            )
        return Pow.do_forward(self, exponent=exponent)

    def __rpow__(self, base) -> TensorNode:
        # base ** x = exp(x * log(base)), which needs a constant positive base.
        if not isinstance(base, numbers.Real):
            return NotImplemented
        if base <= 0:
            raise ValueError(f"base ** x: the base must be a positive number, got {base!r}")
        return (self * float(np.log(base))).exp()

    def __matmul__(self, other) -> TensorNode:
        return MatMul.do_forward(self, as_node(other))

    def __rmatmul__(self, other) -> TensorNode:
        return MatMul.do_forward(as_node(other), self)

    def __getitem__(self, index) -> TensorNode:
        return Select.do_forward(self, index=index)

    # ----- methods ---------------------------------------------------------------------------

    def sum(self, axis=None, keepdims: bool = False) -> TensorNode:
        return Sum.do_forward(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False) -> TensorNode:
        return Mean.do_forward(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> TensorNode:
        return Max.do_forward(self, axis=axis, keepdims=keepdims)

    def exp(self) -> TensorNode:
        return Exp.do_forward(self)

    def log(self) -> TensorNode:
        return Log.do_forward(self)

    def relu(self) -> TensorNode:
        return Relu.do_forward(self)

    def sigmoid(self) -> TensorNode:
        return Sigmoid.do_forward(self)

    def tanh(self) -> TensorNode:
        return Tanh.do_forward(self)

    def softmax(self, axis: int = -1) -> TensorNode:
        return Softmax.do_forward(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> TensorNode:
        return LogSoftmax.do_forward(self, axis=axis)

    def reshape(self, *shape) -> TensorNode:
        """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``; one axis may be -1."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return Reshape.do_forward(self, shape=shape)

    def transpose(self, *axes) -> TensorNode:
        """Reverse the axes, or permute them: ``x.transpose(1, 0, 2)``."""
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return Transpose.do_forward(self, axes=axes or None)

    @property
    def T(self) -> TensorNode:  # noqa: N802  (NumPy's name)
        return Transpose.do_forward(self, axes=None)

    def expand(self, *shape) -> TensorNode:
        """Broadcast to ``shape`` as NumPy would, without copying."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return Expand.do_forward(self, shape=shape)


# The ops import TensorNode, so they are imported after it is defined.
from autograd.ops.activation import LogSoftmax, Relu, Sigmoid, Softmax, Tanh  # noqa: E402
from autograd.ops.arithmetic import Add, Div, Exp, Log, Mul, Neg, Pow, Sub  # noqa: E402
from autograd.ops.linalg import MatMul  # noqa: E402
from autograd.ops.reduce import Max, Mean, Sum  # noqa: E402
from autograd.ops.shape import Expand, Reshape, Select, Transpose  # noqa: E402
