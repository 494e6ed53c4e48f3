"""Export a model to ONNX, the exchange format that ONNX Runtime runs and Netron draws.

    >>> import autograd.onnx
    >>> autograd.onnx.export(model, example_input, "model.onnx")    # a Module, or any function
    >>> autograd.onnx.run("model.onnx", x)                           # ONNX Runtime's outputs

``export`` records the forward pass on the example (a Module is put in evaluation mode for it:
dropout off, batch norm with its running statistics) and writes one ONNX node per op (a few for
indexing), the parameters as initialisers named as ``named_parameters()`` names them. The batch
axis (axis 0 of every input) stays dynamic: the model runs at any batch size.

Each op maps to ONNX nodes by a plain function in ``MAPPINGS`` (mappings.py). An op of your own
needs one too, given to ``export``; a mapping receives the graph being written and the call of
the op (its ONNX input names, its constants, its values) and returns the names of its outputs:

    >>> def square_to_onnx(graph, call):
    ...     x = call.inputs[0]
    ...     return graph.add("Mul", [x, x])
    >>> autograd.onnx.export(fn, x, "model.onnx", mappings={Square: square_to_onnx})

Needs the ``onnx`` package (``pip install autograd-nn[onnx]``); ``run`` needs ``onnxruntime``.
Importing this module needs neither.
"""

from autograd.onnx.exporter import OPSET, Call, OnnxGraph, export, run, session
from autograd.onnx.mappings import MAPPINGS

__all__ = ["MAPPINGS", "OPSET", "Call", "OnnxGraph", "export", "run", "session"]
