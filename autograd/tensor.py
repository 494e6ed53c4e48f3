"""TensorNode: a value, its gradient, and the OpNode that made it.

This is the object users hold: a leaf (made by the user) or an op's output (``source`` is the
OpNode that made it). Its operators and methods (``x * y``, ``x.sum()``, ``x.shape``) are lines
that call ops, in methods.py; ``do_forward`` (op.py) does the work and records the graph.
"""

from __future__ import annotations

import numpy as np

from autograd import graph
from autograd.dtypes import DEFAULT_DTYPE, as_array
from autograd.methods import TensorMethods


class TensorNode(TensorMethods):
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
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.retains_grad = False

    def backward(self, grad=None, retain_graph=None, create_graph=False, retain_grads=False):
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


def as_node(value) -> TensorNode:
    """``value`` itself if it is a TensorNode, else a constant leaf holding it."""
    return value if isinstance(value, TensorNode) else TensorNode(value)


def plain_constants(constants: dict) -> dict:
    """An op's keyword constants as its forward sees them, NumPy only: a TensorNode given as one
    (class labels, an index array, or a part of an index tuple) stands for its array."""
    for value in constants.values():
        for part in value if type(value) is tuple else (value,):
            if isinstance(part, TensorNode):
                return {key: plain(value) for key, value in constants.items()}
    return constants


def plain(value):
    """A TensorNode's array (in a tuple, part by part); anything else as it is."""
    if type(value) is tuple:
        return tuple([plain(part) for part in value])
    return value.value if isinstance(value, TensorNode) else value
