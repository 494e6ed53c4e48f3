"""Matrix multiplication, with np.matmul's rules: 1-D, 2-D and batched N-D."""

from __future__ import annotations

import numpy as np

from autograd.errors import ShapeError
from autograd.op import Op
from autograd.ops.shape import unbroadcast


class MatMul(Op):
    """y = a @ b;  dL/da = dL/dy @ b^T,  dL/db = a^T @ dL/dy

    (transposes swap the last two axes; broadcast batch axes are summed back; a 1-D operand
    is treated as a row (for a) or a column (for b) vector, as np.matmul does)
    """

    promotes = True
    differentiable_backward = True

    @staticmethod
    def forward(context, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(
                f"MatMul: operands must have at least 1 axis, got shapes {a.shape} and {b.shape}; "
                "use * to multiply by a scalar"
            )
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ShapeError(
                f"MatMul: cannot multiply shapes {a.shape} and {b.shape}: the last axis of the "
                f"first ({a.shape[-1]}) must equal the "
                f"{'first' if b.ndim == 1 else 'second-to-last'} axis of the second ({inner_b})"
            )
        try:
            y = np.matmul(a, b)
        except ValueError:
            raise ShapeError(
                f"MatMul: batch axes of shapes {a.shape} and {b.shape} do not broadcast"
            ) from None
        context["a"], context["b"] = a, b
        return y

    @staticmethod
    def backward(context, grad_output):
        a, b = context["a"], context["b"]
        needs_a, needs_b = context["needs_input_grad"]
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the general bookkeeping
            grad_a = grad_output @ b.T if needs_a else None
            grad_b = a.T @ grad_output if needs_b else None
            return grad_a, grad_b

        # Promote 1-D operands to matrices as np.matmul does, then undo it at the end.
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        g = grad_output
        if b.ndim == 1:  # restore the column axis first: for 1-D @ 1-D, g is 0-d
            g = np.expand_dims(g, -1)
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        grad_a = grad_b = None
        if needs_a:
            grad_a = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if needs_b:
            grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b
