"""Elementwise arithmetic. Inputs of different shapes are broadcast by Expand nodes first,
so every op here sees arrays of one shape and its backward needs no reduction. Every backward
here reads the same on arrays and on TensorNodes, so gradients of gradients flow."""

from __future__ import annotations

import numpy as np

from autograd.dtypes import DEFAULT_DTYPE
from autograd.op import Op


class Add(Op):
    """y = a + b;  dL/da = dL/dy,  dL/db = dL/dy"""

    broadcasts = True
    differentiable_backward = True

    @staticmethod
    def forward(context, a, b):
        return a + b

    @staticmethod
    def backward(context, grad_output):
        return grad_output, grad_output


class Sub(Op):
    """y = a - b;  dL/da = dL/dy,  dL/db = -dL/dy"""

    broadcasts = True
    differentiable_backward = True

    @staticmethod
    def forward(context, a, b):
        return a - b

    @staticmethod
    def backward(context, grad_output):
        needs_a, needs_b = context["needs_input_grad"]
        return grad_output, (-grad_output if needs_b else None)


class Mul(Op):
    """y = a * b;  dL/da = dL/dy * b,  dL/db = dL/dy * a"""

    broadcasts = True
    differentiable_backward = True

    @staticmethod
    def forward(context, a, b):
        context["a"], context["b"] = a, b
        return a * b

    @staticmethod
    def backward(context, grad_output):
        needs_a, needs_b = context["needs_input_grad"]
        grad_a = grad_output * context["b"] if needs_a else None
        grad_b = grad_output * context["a"] if needs_b else None
        return grad_a, grad_b


class Div(Op):
    """y = a / b;  dL/da = dL/dy / b,  dL/db = -dL/dy * y / b"""

    broadcasts = True
    differentiable_backward = True

    @staticmethod
    def forward(context, a, b):
        y = a / b
        if a.dtype.kind != "f" and b.dtype.kind != "f":
            y = y.astype(DEFAULT_DTYPE)  # integers divided give float32, as in PyTorch
        context["b"], context["y"] = b, y
        return y

    @staticmethod
    def backward(context, grad_output):
        needs_a, needs_b = context["needs_input_grad"]
        grad_a = grad_output / context["b"]
        grad_b = -grad_a * context["y"] if needs_b else None
        return (grad_a if needs_a else None), grad_b


class Neg(Op):
    """y = -x;  dL/dx = -dL/dy"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x):
        return -x

    @staticmethod
    def backward(context, grad_output):
        return -grad_output


class Pow(Op):
    """y = x ** p for a constant p;  dL/dx = dL/dy * p * x ** (p - 1)"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x, exponent):
        if not np.isscalar(exponent):
            raise TypeError(f"Pow: the exponent must be a number, got {type(exponent).__name__}")
        context["x"], context["exponent"] = x, exponent
        if x.dtype.kind != "f":  # integer x: NumPy's rules (a cast would turn 0.5 into 0)
            return np.power(x, exponent)
        # Keep x's dtype: a Python float exponent must not promote float32 to float64.
        return np.power(x, np.asarray(exponent, dtype=x.dtype))

    @staticmethod
    def backward(context, grad_output):
        x, exponent = context["x"], context["exponent"]
        if exponent == 0:  # y = 1: the gradient is 0, also at x = 0 where x ** -1 is inf
            return np.zeros_like(grad_output)
        p = np.asarray(exponent, dtype=x.dtype)
        return grad_output * p * np.power(x, p - 1)


class Abs(Op):
    """y = |x|;  dL/dx = dL/dy * sign(x)   (0 at x = 0, as in PyTorch)"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return np.abs(x)

    @staticmethod
    def backward(context, grad_output):
        return grad_output * np.sign(context["x"])


class Exp(Op):
    """y = exp(x);  dL/dx = dL/dy * y"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x):
        y = np.exp(x)
        context["y"] = y
        return y

    @staticmethod
    def backward(context, grad_output):
        return grad_output * context["y"]


class Log(Op):
    """y = log(x);  dL/dx = dL/dy / x"""

    differentiable_backward = True

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return np.log(x)

    @staticmethod
    def backward(context, grad_output):
        return grad_output / context["x"]
