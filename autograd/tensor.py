"""TensorNode: a value, its gradient, and the OpNode that made it.

This is the object users hold. Its operators and methods are thin: each one calls an Op's
``do_forward``, which does the work and records the graph. NumPy functions on TensorNodes run the
same ops (``np.exp(x)`` is ``x.exp()``), so one backward formula serves arrays and nodes alike.
"""

from __future__ import annotations

import numbers

import numpy as np

from autograd import graph, interop, ops
from autograd.dtypes import DEFAULT_DTYPE, as_array, weak_constant


class TensorNode:
    """A node of the computation graph holding a NumPy ``value``.

    >>> x = TensorNode([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward(); x.grad
    array([2., 4.], dtype=float32)
    """

    __slots__ = (
        "value", "grad", "source", "requires_grad", "name", "retains_grad", "__weakref__",
    )  # fmt: skip

    def __init__(self, value, requires_grad: bool = False, name: str | None = None) -> None:
        if type(value) is not np.ndarray or value.dtype.kind not in "biuf":
            if isinstance(value, TensorNode):
                raise TypeError(
                    "TensorNode(...) got a TensorNode; use node.detach() for a new leaf with its "
                    "value"
                )
            value = as_array(value)
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

    # ----- graph -----------------------------------------------------------------------------

    def backward(
        self,
        grad=None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        retain_grads: bool = False,
    ) -> None:
        """Accumulate gradients of this node into every leaf that requires grad.

        >>> loss.backward()
        >>> w.grad.shape == w.shape
        True
        """
        graph.backward(self, grad, retain_graph, create_graph, retain_grads)

    def retain_grad(self) -> TensorNode:
        """Keep this intermediate node's gradient in ``.grad`` after backward (leaves always do)."""
        self.retains_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad`` becomes None)."""
        self.grad = None

    def detach(self) -> TensorNode:
        """A new leaf outside any graph: a read-only view of this value (writing through it
        could change a value some graph saved; copy it to change it: ``x.value.copy()``)."""
        view = self.value.view()
        view.flags.writeable = False
        return TensorNode(view, name=self.name)

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

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(node)``: the value, for nodes outside a graph. For a node that requires
        grad it raises, since an array would silently cut the graph (use ``.value`` knowingly)."""
        if self.requires_grad:
            raise TypeError(
                "np.asarray() of a TensorNode that requires grad would cut the graph; use "
                "node.value (or node.detach()) for its array, or the node's own methods"
            )
        return self.value if dtype is None else self.value.astype(dtype)

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
    # Python numbers are weak (PyTorch's rule): they take this node's dtype when they fit it.

    def _operand(self, other) -> TensorNode:
        """A constant leaf for the other operand of an operator."""
        if isinstance(other, TensorNode):
            return other
        if isinstance(other, numbers.Number) and not isinstance(other, np.generic):
            return TensorNode(weak_constant(other, self.value.dtype, self.value.ndim))
        return TensorNode(other)

    def __add__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._operand(other)
        return ops.Add.do_forward(self, other)

    def __radd__(self, other) -> TensorNode:
        return ops.Add.do_forward(self._operand(other), self)

    def __sub__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._operand(other)
        return ops.Sub.do_forward(self, other)

    def __rsub__(self, other) -> TensorNode:
        return ops.Sub.do_forward(self._operand(other), self)

    def __mul__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._operand(other)
        return ops.Mul.do_forward(self, other)

    def __rmul__(self, other) -> TensorNode:
        return ops.Mul.do_forward(self._operand(other), self)

    def __truediv__(self, other) -> TensorNode:
        if not isinstance(other, TensorNode):
            other = self._operand(other)
        return ops.Div.do_forward(self, other)

    def __rtruediv__(self, other) -> TensorNode:
        return ops.Div.do_forward(self._operand(other), self)

    def __neg__(self) -> TensorNode:
        return ops.Neg.do_forward(self)

    def __abs__(self) -> TensorNode:
        return ops.Abs.do_forward(self)

    def __pow__(self, exponent) -> TensorNode:
        if isinstance(exponent, TensorNode):
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
        if not isinstance(other, TensorNode):
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


def as_node(value) -> TensorNode:
    """``value`` itself if it is a TensorNode, else a constant leaf holding it."""
    return value if isinstance(value, TensorNode) else TensorNode(value)


def _one_tuple(args: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike: the arguments as one tuple."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], tuple | list) else args
