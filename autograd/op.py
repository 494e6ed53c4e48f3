"""Op: the base class of every differentiable operation.

An op is a class with two static methods over raw NumPy arrays:

    forward(context, *inputs, **constants) -> array | tuple of arrays
    backward(context, *output_grads)       -> array | tuple of arrays, one per input

``forward`` saves in ``context`` (a dict) what ``backward`` will need. ``do_forward`` is the
glue: it unwraps TensorNodes, broadcasts elementwise inputs, calls ``forward``, and records an
``OpNode`` in the graph when some input requires a gradient. The backward pass (graph.py) calls
``backward`` with the gradients of the outputs and never needs to know which op it is.
"""

from __future__ import annotations

import operator

import numpy as np

from autograd import graph
from autograd.errors import ShapeError
from autograd.tensor import TensorNode, as_node


class Op:
    """Subclass this, define ``forward`` and ``backward``, then call ``MyOp.do_forward(x)``.

    >>> class Square(Op):
    ...     'y = x^2;  dL/dx = dL/dy * 2x'
    ...     @staticmethod
    ...     def forward(context, x):
    ...         context["x"] = x
    ...         return x * x
    ...     @staticmethod
    ...     def backward(context, grad_output):
    ...         return grad_output * 2 * context["x"]
    >>> Square.do_forward(TensorNode(3.0, requires_grad=True)).backward()
    """

    #: Elementwise ops with several inputs broadcast them first by inserting Expand nodes.
    broadcasts = False

    @staticmethod
    def forward(context: dict, *inputs: np.ndarray, **constants):
        raise NotImplementedError

    @staticmethod
    def backward(context: dict, *output_grads: np.ndarray):
        raise NotImplementedError

    @classmethod
    def do_forward(cls, *inputs, **constants):
        """Apply the op to TensorNodes (or arrays and numbers), recording it in the graph.

        >>> y = Relu.do_forward(TensorNode([-1.0, 2.0], requires_grad=True))
        >>> y.value, y.source.op
        (array([0., 2.], dtype=float32), <class 'autograd.ops.activation.Relu'>)
        """
        nodes = inputs
        for x in inputs:
            if not isinstance(x, TensorNode):  # nn.Parameter, a subclass, is fine as it is
                nodes = tuple([as_node(x) for x in inputs])
                break
        if cls.broadcasts and (len(nodes) != 2 or nodes[0].value.shape != nodes[1].value.shape):
            nodes = broadcast_nodes(cls.__name__, nodes)

        record = False  # record an OpNode only if some input needs a gradient
        if graph.grad_enabled:
            for x in nodes:
                if x.requires_grad:
                    record = True
                    break
        if record:
            needs_input_grad = tuple(map(_requires_grad, nodes))  # map() loops in C
            context = {
                "needs_input_grad": _SHARED_FLAGS.setdefault(needs_input_grad, needs_input_grad)
            }
        else:
            context = {}
        result = cls.forward(context, *map(_value, nodes), **constants)

        if type(result) is tuple:
            outputs = tuple([TensorNode.from_op(value, record) for value in result])
        else:
            outputs = (TensorNode.from_op(result, record),)
        if graph.anomaly_enabled:
            graph.check_forward_anomaly(cls, nodes, outputs)
        if record:
            source = graph.OpNode(cls, context, nodes, outputs, constants)
            for output in outputs:
                output.source = source
        return outputs if type(result) is tuple else outputs[0]


# One shared tuple per pattern of flags. The cycle collector stops tracking a tuple of bools,
# and then a context holding only it and arrays; a big graph then costs the collector less.
_SHARED_FLAGS: dict[tuple, tuple] = {}
_value = operator.attrgetter("value")
_requires_grad = operator.attrgetter("requires_grad")


def broadcast_nodes(op_name: str, nodes: tuple[TensorNode, ...]) -> tuple[TensorNode, ...]:
    """Bring nodes to one shape as NumPy broadcasting would, by inserting Expand nodes.

    This is the single place where broadcasting happens, so it is visible in the graph and its
    backward (a sum over the broadcast axes) is written once, in Expand.
    """
    shapes = [x.value.shape for x in nodes]
    target = broadcast_shape(op_name, shapes)
    return tuple(
        [x if x.value.shape == target else Expand.do_forward(x, shape=target) for x in nodes]
    )


def broadcast_shape(op_name: str, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """NumPy's rule: align shapes from the right; each axis must agree or be 1.

    >>> broadcast_shape("Add", [(128, 256), (256,)])
    (128, 256)
    """
    ndim = max(len(shape) for shape in shapes)
    padded = [(1,) * (ndim - len(shape)) + shape for shape in shapes]
    target = []
    for sizes in zip(*padded):
        wanted = {size for size in sizes if size != 1}
        if len(wanted) > 1:
            listed = " and ".join(str(shape) for shape in shapes)
            raise ShapeError(
                f"{op_name}: shapes {listed} do not broadcast: aligned from the right, each "
                "pair of axes must be equal or one of them 1"
            )
        target.append(wanted.pop() if wanted else 1)
    return tuple(target)


# Expand is an op like any other, so it is defined after Op (ops/shape.py imports this module).
from autograd.ops.shape import Expand  # noqa: E402
