"""Anomaly detection: name the op, and the user's line, that first made a NaN or an infinity.

Nothing here is part of the algorithm; ``detect_anomaly()`` (in modes.py) turns these checks on.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from autograd.errors import AnomalyError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_code_location() -> str:
    """``file:line`` of the innermost stack frame outside this package: the user's call."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _non_finite(array) -> bool:
    array = getattr(array, "value", array)  # a create_graph pass hands TensorNodes
    return array.dtype.kind in "fc" and not np.isfinite(array).all()


def check_forward(op: type, inputs, outputs) -> None:
    """Raise if an output of ``op`` is NaN or infinite, saying whether an input already was."""
    for index, output in enumerate(outputs):
        if _non_finite(output.value):
            culprit = [i for i, x in enumerate(inputs) if _non_finite(x.value)]
            note = f" (its input {culprit[0]} was already non-finite)" if culprit else ""
            raise AnomalyError(
                f"{op.__name__} forward produced NaN or inf in output {index}{note}; "
                f"the op was created at {user_code_location()}"
            )


def check_backward(op_node, node, grad) -> None:
    """Raise if the gradient that ``op_node``'s backward gave its input ``node`` is not finite."""
    if _non_finite(grad):
        index = next(i for i, x in enumerate(op_node.inputs) if x is node)
        where = op_node.created_at or "an unknown line (forward ran outside detect_anomaly)"
        raise AnomalyError(
            f"{op_node.op.__name__} backward produced NaN or inf in the gradient of input "
            f"{index} (shape {op_node.inputs[index].value.shape}); the op was created at {where}"
        )
