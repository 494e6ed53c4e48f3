"""Op: the base class of every differentiable operation.

An op is a class with two static methods over raw NumPy arrays:

    forward(context, *inputs, **constants) -> array | tuple of arrays
    backward(context, *output_grads)       -> array | tuple of arrays, one per input

``forward`` saves in ``context`` (a dict) what ``backward`` will need. ``do_forward`` is the
glue: it wraps inputs as TensorNodes, broadcasts elementwise inputs, calls ``forward``, and records
an ``OpNode`` when some input requires a gradient. The backward pass (graph.py) calls ``backward``
with the gradients of the outputs and never needs to know which op it is.
"""

from __future__ import annotations

# TensorNode's methods call the ops, and the ops subclass Op; so this module reaches the graph and
# TensorNode through the package, at call time: importing it never runs tensor.py or graph.py.
import numpy as np

import autograd
from autograd import debug
from autograd.dtypes import conform_outputs
from autograd.fastpaths import aligned, forward, needs_input_grad, output_nodes, wrap
from autograd.modes import local


class Op:
    """Subclass this, define ``forward`` and ``backward``, then call ``MyOp.do_forward(x)``.

    >>> class Square(Op):
    ...     'y = x^2;  dL/dx = dL/dy * 2x'
    ...     differentiable_backward = True   # backward also runs on TensorNodes
    ...     @staticmethod
    ...     def forward(context, x):
    ...         context["x"] = x
    ...         return x * x
    ...     @staticmethod
    ...     def backward(context, grad_output):
    ...         return grad_output * 2 * context["x"]
    >>> Square.do_forward(TensorNode(3.0, requires_grad=True)).backward()
    """

    #: Elementwise ops with several inputs broadcast them first by inserting Expand nodes, and
    #: their output takes the promoted dtype of the inputs (PyTorch's rules, see dtypes.py).
    broadcasts = False
    #: Ops that are not elementwise but promote dtypes all the same (MatMul).
    promotes = False
    #: True when ``backward`` also runs on TensorNodes (operators, methods and NumPy functions
    #: that TensorNode supports, never ``.value``), so a ``create_graph`` pass can record it and
    #: gradients of gradients flow. Without it, second derivatives raise (higher_order.py).
    differentiable_backward = False
    #: Context keys holding float arrays that do not depend on the inputs (a create_graph pass
    #: hands them to backward as they are; other saved intermediates are withheld).
    saved_constants: tuple[str, ...] = ()

    @staticmethod
    def forward(context: dict, *inputs, **constants):
        raise NotImplementedError

    @staticmethod
    def backward(context: dict, *output_grads):
        raise NotImplementedError

    @classmethod
    def do_forward(cls, *inputs, **constants):
        """Apply the op to TensorNodes (or arrays and numbers), recording it in the graph.

        >>> y = Relu.do_forward(TensorNode([-1.0, 2.0], requires_grad=True))
        >>> y.value, y.source.op
        (array([0., 2.], dtype=float32), <class 'autograd.ops.activation.Relu'>)
        """
        nodes = wrap(inputs)  # numbers and arrays become constant leaves
        if constants:  # ...and TensorNodes given as constants (labels, indices) their arrays
            constants = autograd.tensor.plain_constants(constants)
        dtype = None
        if (cls.broadcasts or cls.promotes) and not aligned(cls, nodes):
            nodes, dtype = autograd.ops.shape.broadcast(cls, nodes)  # Expand nodes; the dtype
        modes = local.modes  # this thread's switches
        needs = needs_input_grad(nodes) if modes.grad_enabled else ()
        record = True in needs  # record only if some input needs a gradient
        context = {"needs_input_grad": needs} if record else {}
        result = forward(cls, context, nodes, constants)
        outputs = result if type(result) is tuple else (result,)
        if type(result) is not np.ndarray or dtype is not None:
            outputs = conform_outputs(outputs, context, dtype)  # arrays, of the promoted dtype
        nodes_out = output_nodes(outputs, record)
        if modes.anomaly_enabled:
            debug.check_forward(cls, nodes, nodes_out)
        if record or modes.tracing is not None:  # replay records every op of a step
            autograd.graph.OpNode(cls, context, nodes, outputs, constants, modes, nodes_out)
        return nodes_out if type(result) is tuple else nodes_out[0]
