"""Measured fast paths. Each is a named function with one line saying what it saves, and stays
only while its instruction count shows it pays for its lines (benchmarks/EDITIONS.md records the
counts); the code that reads as the algorithm calls them.
"""

from __future__ import annotations

import autograd

_new = object.__new__


def output_node(value, requires_grad: bool):
    """``TensorNode(value, requires_grad)`` for an op's output, whose value is known to be an
    array: Python 3.11 calls a class with ``__init__`` through a slow path; this saves about
    2,100 instructions on every op. It sets every slot ``__init__`` sets (a test checks)."""
    node = _new(autograd.tensor.TensorNode)
    node.value = value
    node.grad = node.source = node.name = None
    node.requires_grad = requires_grad
    node.retains_grad = False
    return node
