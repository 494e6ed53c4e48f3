"""The ops, one module per family. Each op states its forward and backward in its docstring.

This is the one list of the package's ops; ``autograd`` exports exactly these.
"""

from autograd.ops.activation import LogSoftmax, Relu, Sigmoid, Softmax, Tanh
from autograd.ops.arithmetic import Abs, Add, Div, Exp, Log, Mul, Neg, Pow, Sub
from autograd.ops.conv import (
    AvgPool2d,
    AvgUnpool2d,
    Conv2d,
    Conv2dWeightGrad,
    ConvTranspose2d,
    MaxPool2d,
    MaxUnpool2d,
    WindowGather2d,
)
from autograd.ops.linalg import MatMul
from autograd.ops.loss import SoftmaxCrossEntropy
from autograd.ops.normalization import BatchNorm
from autograd.ops.reduce import Max, Mean, Sum
from autograd.ops.shape import Cast, Expand, Reshape, Scatter, Select, Transpose

__all__ = [
    "Abs", "Add", "AvgPool2d", "AvgUnpool2d", "BatchNorm", "Cast", "Conv2d", "Conv2dWeightGrad",
    "ConvTranspose2d", "Div", "Exp", "Expand", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool2d",
    "MaxUnpool2d", "Mean", "Mul", "Neg", "Pow", "Relu", "Reshape", "Scatter", "Select", "Sigmoid",
    "Softmax", "SoftmaxCrossEntropy", "Sub", "Sum", "Tanh", "Transpose", "WindowGather2d",
]  # fmt: skip
