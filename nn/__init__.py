"""A small neural-network library built on the public API of `autograd`.

>>> import nn
>>> model = nn.MLP(784, [128], 10, rng=0)
>>> optimizer = nn.optim.Adam(model.parameters(), lr=1e-3)

Datasets live in `nn.data` (import it explicitly: it is kept out of this import so that `import nn`
needs nothing beyond NumPy).
"""

from nn import errors, functional, init, optim
from nn.errors import ParameterInUseError, StateDictError
from nn.init import manual_seed
from nn.layers import (
    CNN,
    MLP,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from nn.module import Module, ModuleList, Parameter

__all__ = [
    "CNN",
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "ParameterInUseError",
    "StateDictError",
    "Tanh",
    "errors",
    "functional",
    "init",
    "manual_seed",
    "optim",
]
