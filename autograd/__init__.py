"""A readable tensor autograd engine on NumPy.

>>> from autograd import TensorNode
>>> x = TensorNode(3.0, requires_grad=True)
>>> y = x * x + 2 * x
>>> y.backward(); x.grad
array(8., dtype=float32)
"""

# tensor first: it defines TensorNode, then imports the ops, which build on it.
from autograd.tensor import DEFAULT_DTYPE, TensorNode  # noqa: I001
from autograd.errors import (
    AnomalyError,
    GradcheckError,
    GradientError,
    GraphReleasedError,
    ShapeError,
)
from autograd.graph import OpNode, detect_anomaly, is_grad_enabled, no_grad, scope
from autograd.op import Op
from autograd.ops import (
    Add,
    BatchNorm,
    Div,
    Exp,
    Expand,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    Mean,
    Mul,
    Neg,
    Pow,
    Relu,
    Reshape,
    Select,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Sub,
    Sum,
    Tanh,
    Transpose,
)
from autograd.gradcheck import gradcheck
from autograd import functional

__all__ = [
    "DEFAULT_DTYPE", "AnomalyError", "GradcheckError", "GradientError", "GraphReleasedError",
    "ShapeError", "OpNode", "Op", "TensorNode", "detect_anomaly", "functional", "gradcheck",
    "is_grad_enabled", "no_grad", "scope",
    "Add", "BatchNorm", "Div", "Exp", "Expand", "Log", "LogSoftmax", "MatMul", "Max", "Mean",
    "Mul", "Neg", "Pow", "Relu", "Reshape", "Select", "Sigmoid", "Softmax",
    "SoftmaxCrossEntropy", "Sub", "Sum", "Tanh", "Transpose",
]  # fmt: skip
