"""Op: the base class of every differentiable operation.

An op is a class with two static methods over raw NumPy arrays:

    forward(context, *inputs, **constants) -> array | tuple of arrays
    backward(context, *output_grads)       -> array | tuple of arrays, one per input

``forward`` saves in ``context`` (a dict) what ``backward`` will need. ``do_forward`` is the
glue: it wraps inputs as TensorNodes, broadcasts elementwise inputs, calls ``forward``, and records
an ``OpNode`` in the graph when some input requires a gradient. The backward pass (graph.py) calls
``backward`` with the gradients of the outputs and never needs to know which op it is.
"""

from __future__ import annotations

import operator

import numpy as np

# TensorNode's methods call the ops, and the ops subclass Op; so this module reaches the graph and
# TensorNode through the package, at call time: importing it never runs tensor.py or graph.py.
import autograd
from autograd import debug
from autograd.fastpaths import output_node
from autograd.modes import local

_setflags = np.ndarray.setflags


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
    #: True when ``backward`` also runs on TensorNodes (it uses operators, methods and NumPy
    #: functions that TensorNode supports, and never ``.value``), so a ``create_graph`` pass can
    #: record it and gradients of gradients flow. Without it, second derivatives raise.
    differentiable_backward = False
    #: Context keys holding float arrays that do not depend on the inputs (a create_graph pass
    #: hands them to backward as they are; other saved intermediates are withheld).
    saved_constants: tuple[str, ...] = ()

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
        for x in inputs:  # wrap: numbers and arrays become constant leaves
            if not isinstance(x, autograd.tensor.TensorNode):
                nodes = as_nodes(inputs)
                break
        dtype = None
        if (cls.broadcasts or cls.promotes) and not aligned(cls.broadcasts, nodes):
            nodes, dtype = autograd.ops.shape.broadcast(cls, nodes)  # broadcast, promote
        modes = local.modes  # this thread's switches
        record = False
        if modes.grad_enabled:  # record only if some input needs a gradient
            for x in nodes:
                if x.requires_grad:
                    record = True
                    break
        context = {"needs_input_grad": needs_input_grad(nodes)} if record else {}
        if len(nodes) == 2:  # forward; by fixed arity, not *map(): saves ~1,800 instructions
            result = cls.forward(context, nodes[0].value, nodes[1].value, **constants)
        elif len(nodes) == 1:
            result = cls.forward(context, nodes[0].value, **constants)
        else:
            result = cls.forward(context, *map(_value, nodes), **constants)
        outputs = result if type(result) is tuple else (result,)
        if dtype is not None or type(result) is not np.ndarray:  # several, a scalar, or a cast
            outputs = conform_outputs(outputs, context, dtype)
        if len(outputs) == 1:  # not a list comprehension, which builds a function: ~2,500 fewer
            nodes_out = (output_node(outputs[0], record),)
        else:
            nodes_out = tuple([output_node(y, record) for y in outputs])
        if modes.anomaly_enabled:
            debug.check_forward(cls, nodes, nodes_out)
        if record:  # record: the graph, and outputs that cannot change under it
            source = autograd.graph.OpNode(cls, context, nodes, outputs, constants, modes)
            for node in nodes_out:
                node.source = source
                _setflags(node.value, False)
        return nodes_out if type(result) is tuple else nodes_out[0]


_value = operator.attrgetter("value")
_requires_grad = operator.attrgetter("requires_grad")


def needs_input_grad(nodes: tuple) -> tuple:
    """Which inputs need a gradient: the flags an op's backward reads from its context."""
    if len(nodes) == 2:  # by fixed arity, not map(): saves ~1,000 instructions per op
        return (nodes[0].requires_grad, nodes[1].requires_grad)
    return tuple(map(_requires_grad, nodes))


def as_nodes(inputs: tuple) -> tuple:
    """The inputs as TensorNodes: numbers and arrays become constant leaves."""
    return tuple([autograd.tensor.as_node(x) for x in inputs])


def aligned(same_shape: bool, nodes: tuple) -> bool:
    """Fast path: two inputs of one dtype (and one shape, if ``same_shape``) need no Expand node
    and no promotion, the common case."""
    if len(nodes) != 2:
        return False
    a, b = nodes[0].value, nodes[1].value
    return a.dtype is b.dtype and (not same_shape or a.shape == b.shape)


def conform_outputs(outputs: tuple, context: dict, dtype) -> tuple:
    """Outputs as arrays of the promoted dtype. NumPy returns scalars for 0-d results; a context
    entry that saved such a scalar is replaced by the array, so it is still the output's value."""
    conformed = []
    for y in outputs:
        array = np.asarray(y)
        if dtype is not None and array.dtype != dtype and array.dtype.kind == dtype.kind:
            array = array.astype(dtype)  # the promoted dtype (Div of integers stays float)
        if array is not y:
            for key, value in context.items():
                if value is y:
                    context[key] = array
        conformed.append(array)
    return tuple(conformed)
