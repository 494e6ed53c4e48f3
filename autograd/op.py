"""Op: the base class of every differentiable operation.

An op is a class with two static methods over raw NumPy arrays:

    forward(context, *inputs, **constants) -> array | tuple of arrays
    backward(context, *output_grads)       -> array | tuple of arrays, one per input

``forward`` saves in ``context`` (a dict) what ``backward`` will need. ``do_forward`` is the
glue: it unwraps TensorNodes, calls ``forward``, and records an ``OpNode`` in the graph when
some input requires a gradient. Nothing else in the engine knows about particular ops.
"""

from __future__ import annotations

import numpy as np

from autograd import graph
from autograd.errors import ShapeError
from autograd.tensor import TensorNode, as_node


class Op:
    """Subclass this, define ``forward`` and ``backward``, then call ``MyOp.do_forward(x)``.

    >>> class Square(Op):
    ...     forward = staticmethod(lambda context, x: (context.update(x=x), x * x)[1])
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
        nodes = [x if type(x) is TensorNode else as_node(x) for x in inputs]
        if cls.broadcasts:
            nodes = broadcast_nodes(cls.__name__, nodes)

        record = False
        if graph.grad_enabled:
            for x in nodes:
                if x.requires_grad:
                    record = True
                    break
        context = {"needs_input_grad": tuple([x.requires_grad for x in nodes])} if record else {}
        result = cls.forward(context, *[x.value for x in nodes], **constants)

        if type(result) is tuple:
            outputs = tuple([TensorNode.from_op(value, record) for value in result])
        else:
            outputs = (TensorNode.from_op(result, record),)
        if graph.anomaly_enabled:
            graph.check_forward_anomaly(cls, nodes, outputs)
        if record:
            source = graph.OpNode(cls, context, nodes, outputs)
            for output in outputs:
                output.source = source
        return outputs if type(result) is tuple else outputs[0]


def broadcast_nodes(op_name: str, nodes: list[TensorNode]) -> list[TensorNode]:
    """Bring nodes to one shape as NumPy broadcasting would, by inserting Expand nodes.

    This is the single place where broadcasting happens, so it is visible in the graph and its
    backward (a sum over the broadcast axes) is written once, in Expand.
    """
    shape = nodes[0].value.shape
    for x in nodes:
        if x.value.shape != shape:
            break
    else:
        return nodes
    shapes = [x.value.shape for x in nodes]
    try:
        target = np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(s) for s in shapes)
        raise ShapeError(
            f"{op_name}: shapes {listed} do not broadcast: aligned from the right, each pair "
            "of axes must be equal or one of them 1"
        ) from None
    from autograd.ops.shape import Expand  # shape ops are ops themselves: import when needed

    return [x if x.value.shape == target else Expand.do_forward(x, shape=target) for x in nodes]
