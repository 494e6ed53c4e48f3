"""Plain functions over TensorNodes, for those who prefer ``F.relu(x)`` to ``x.relu()``.

>>> import autograd.functional as F
>>> F.softmax(TensorNode([1.0, 2.0]))
"""

from __future__ import annotations

import numpy as np

from autograd.ops import (
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Exp,
    Expand,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    MaxPool2d,
    Mean,
    Relu,
    Reshape,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Sum,
    Tanh,
    Transpose,
)
from autograd.ops.loss import check_class_labels, check_reduction

__all__ = [
    "avg_pool2d", "batch_norm", "check_class_labels", "check_reduction", "conv2d", "exp",
    "expand", "log", "log_softmax", "matmul", "max", "max_pool2d", "mean", "nll_loss", "relu",
    "reshape", "sigmoid", "softmax", "softmax_cross_entropy", "sum", "tanh", "transpose",
]  # fmt: skip
from autograd.tensor import TensorNode, as_node


def relu(x: TensorNode) -> TensorNode:
    """max(x, 0), elementwise."""
    return Relu.do_forward(x)


def sigmoid(x: TensorNode) -> TensorNode:
    """1 / (1 + exp(-x)), elementwise, without overflow."""
    return Sigmoid.do_forward(x)


def tanh(x: TensorNode) -> TensorNode:
    return Tanh.do_forward(x)


def exp(x: TensorNode) -> TensorNode:
    return Exp.do_forward(x)


def log(x: TensorNode) -> TensorNode:
    return Log.do_forward(x)


def softmax(x: TensorNode, axis: int = -1) -> TensorNode:
    """exp(x) / sum(exp(x)) along ``axis``, with the max subtracted first."""
    return Softmax.do_forward(x, axis=axis)


def log_softmax(x: TensorNode, axis: int = -1) -> TensorNode:
    """x - logsumexp(x) along ``axis``: finite even for huge logits."""
    return LogSoftmax.do_forward(x, axis=axis)


def matmul(a: TensorNode, b: TensorNode) -> TensorNode:
    return MatMul.do_forward(a, b)


def sum(x: TensorNode, axis=None, keepdims: bool = False) -> TensorNode:  # noqa: A001
    return Sum.do_forward(x, axis=axis, keepdims=keepdims)


def mean(x: TensorNode, axis=None, keepdims: bool = False) -> TensorNode:
    return Mean.do_forward(x, axis=axis, keepdims=keepdims)


def max(x: TensorNode, axis=None, keepdims: bool = False) -> TensorNode:  # noqa: A001
    return Max.do_forward(x, axis=axis, keepdims=keepdims)


def reshape(x: TensorNode, shape: tuple[int, ...]) -> TensorNode:
    return Reshape.do_forward(x, shape=tuple(shape))


def transpose(x: TensorNode, axes: tuple[int, ...] | None = None) -> TensorNode:
    return Transpose.do_forward(x, axes=axes)


def expand(x: TensorNode, shape: tuple[int, ...]) -> TensorNode:
    return Expand.do_forward(x, shape=tuple(shape))


def batch_norm(
    x: TensorNode,
    gamma: TensorNode,
    beta: TensorNode,
    eps: float = 1e-5,
    training: bool = True,
    running_mean: np.ndarray | None = None,
    running_var: np.ndarray | None = None,
    momentum: float = 0.1,
    axes: tuple[int, ...] = (0,),
) -> TensorNode:
    """Batch normalisation over ``axes`` (axis 0 by default; (0, 2, 3) for images, one
    statistic per channel); see ``autograd.BatchNorm`` for the formulas.

    >>> y = batch_norm(x, gamma, beta)            # training: batch statistics
    >>> y = batch_norm(x, gamma, beta, training=False, running_mean=m, running_var=v)
    """
    return BatchNorm.do_forward(
        x,
        gamma,
        beta,
        eps=eps,
        training=training,
        running_mean=running_mean,
        running_var=running_var,
        momentum=momentum,
        axes=tuple(axes),
    )


def conv2d(
    x: TensorNode,
    weight: TensorNode,
    bias: TensorNode | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> TensorNode:
    """2-d convolution (cross-correlation) of images x (N, C, H, W) with weight
    (O, C / groups, kh, kw), plus bias (O,); see ``autograd.Conv2d``.

    >>> y = conv2d(x, w, b, padding=1)     # x (8, 3, 32, 32), w (16, 3, 3, 3) -> (8, 16, 32, 32)
    """
    arguments = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    if bias is None:
        return Conv2d.do_forward(x, weight, **arguments)
    return Conv2d.do_forward(x, weight, bias, **arguments)


def max_pool2d(x: TensorNode, kernel_size, stride=None, padding=0) -> TensorNode:
    """The largest value of each kernel_size window, windows ``stride`` apart (default: the
    kernel); see ``autograd.MaxPool2d``.

    >>> y = max_pool2d(x, 2)                # x (8, 16, 28, 28) -> (8, 16, 14, 14)
    """
    return MaxPool2d.do_forward(x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x: TensorNode, kernel_size, stride=None, padding=0) -> TensorNode:
    """The mean of each kernel_size window (padding counts as zeros); see ``autograd.AvgPool2d``.

    >>> y = avg_pool2d(x, 2)                # x (8, 16, 28, 28) -> (8, 16, 14, 14)
    """
    return AvgPool2d.do_forward(x, kernel_size=kernel_size, stride=stride, padding=padding)


def softmax_cross_entropy(
    logits: TensorNode, labels, reduction: str = "mean", ignore_index: int = -100
) -> TensorNode:
    """Cross-entropy of softmax(logits) against integer ``labels``, fused into one op. Rows whose
    label is ``ignore_index`` count for nothing (PyTorch's default, -100).

    >>> loss = softmax_cross_entropy(model(x), y)   # logits (n, classes), y (n,) ints
    """
    return SoftmaxCrossEntropy.do_forward(
        logits, labels=labels, reduction=reduction, ignore_index=ignore_index
    )


def nll_loss(
    log_probs: TensorNode, labels, reduction: str = "mean", ignore_index: int = -100
) -> TensorNode:
    """Negative log-likelihood of integer ``labels`` under ``log_probs`` (n, classes), built from
    Select: ``softmax_cross_entropy(z, y)`` equals ``nll_loss(log_softmax(z), y)``.

    >>> loss = nll_loss(log_softmax(model(x)), y)
    """
    check_reduction("nll_loss", reduction)
    log_probs = as_node(log_probs)
    labels = check_class_labels("nll_loss", "log_probs", log_probs.shape, labels, ignore_index)
    counted = labels != ignore_index
    rows = np.arange(len(labels))
    losses = -log_probs[rows, np.where(counted, labels, 0)] * counted
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    count = int(counted.sum())
    # No row counted: NaN, as in PyTorch, with gradient 0 (adding NaN leaves the gradient alone)
    return losses.sum() / count if count else losses.sum() + np.nan
