"""Losses and layer functions over TensorNodes: ``F.cross_entropy(model(x), y)``.

Each loss takes ``reduction``: "mean" (the default: average over the batch), "sum", or "none"
(one loss per example). The activations, ``conv2d``, ``max_pool2d`` and ``avg_pool2d`` are the
engine's (PyTorch's signatures), re-exported so that one import serves.
"""

from __future__ import annotations

import numbers

import numpy as np

from autograd import ShapeError, TensorNode
from autograd import functional as AF
from autograd.functional import (
    avg_pool2d,
    check_reduction,
    conv2d,
    log_softmax,
    max_pool2d,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from nn.init import as_generator

__all__ = [
    "avg_pool2d",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]


def linear(x, weight: TensorNode, bias: TensorNode | None = None) -> TensorNode:
    """x @ weight + bias, with weight of shape (in_features, out_features); the bias row is
    broadcast over the batch by the engine (an Expand node).

    >>> y = linear(x, w, b)      # x (n, 3), w (3, 2), b (2,)  ->  y (n, 2)
    """
    y = x @ weight
    return y if bias is None else y + bias


def cross_entropy(
    logits: TensorNode, labels, reduction: str = "mean", ignore_index: int = -100
) -> TensorNode:
    """-log softmax(logits)[label], from raw scores and integer class labels, in one fused op
    (stable for any logits; its gradient is simply softmax - onehot). Rows labelled
    ``ignore_index`` count for nothing. The engine's ``softmax_cross_entropy``, by its usual name.

    >>> loss = cross_entropy(model(x), y)      # logits (n, classes), y (n,) integers
    >>> loss.backward()
    """
    return AF.softmax_cross_entropy(logits, labels, reduction, ignore_index)


def nll_loss(
    log_probs: TensorNode, labels, reduction: str = "mean", ignore_index: int = -100
) -> TensorNode:
    """-log_probs[i, label_i]: the negative log-likelihood of the labels, given log-probabilities
    (for example the output of ``log_softmax``). ``nll_loss(log_softmax(z), y)`` equals
    ``cross_entropy(z, y)``. The engine's ``nll_loss``.

    >>> loss = nll_loss(log_softmax(model(x)), y)
    """
    return AF.nll_loss(log_probs, labels, reduction, ignore_index)


def mse_loss(prediction: TensorNode, target, reduction: str = "mean") -> TensorNode:
    """(prediction - target)^2, averaged over every element for "mean" (as PyTorch does).

    >>> loss = mse_loss(model(x), y)           # y of the same shape as model(x)
    """
    check_reduction("mse_loss", reduction)
    _check_same_shape("mse_loss", "prediction", prediction, target)
    difference = prediction - _as_dtype_of(prediction, target)
    return _reduce(difference * difference, reduction)


def binary_cross_entropy_with_logits(logits: TensorNode, targets, reduction: str = "mean"):
    """-[y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] from raw scores x and targets y in
    [0, 1], in the stable form  max(x, 0) - x * y + log(1 + exp(-|x|)),  which never overflows.

    >>> loss = binary_cross_entropy_with_logits(model(x).reshape(-1), y)   # y floats, 0 or 1

    max(x, 0) and |x| are written as x times a constant mask chosen from the sign of x, with
    x = 0 counted as positive; so the gradient is exactly sigmoid(x) - y everywhere, x = 0
    included (a relu-based |x| would have gradient 0 there and be off by 1/2).
    """
    check_reduction("binary_cross_entropy_with_logits", reduction)
    _check_same_shape("binary_cross_entropy_with_logits", "logits", logits, targets)
    x = logits if isinstance(logits, TensorNode) else TensorNode(logits)
    dtype = x.value.dtype
    is_positive = x.value >= 0
    positive_part = x * is_positive.astype(dtype)  # max(x, 0)
    absolute = x * np.where(is_positive, 1, -1).astype(dtype)  # |x|
    softplus_of_negative_absolute = (1 + (-absolute).exp()).log()  # log(1 + exp(-|x|))
    losses = positive_part - x * _as_dtype_of(x, targets) + softplus_of_negative_absolute
    return _reduce(losses, reduction)


def dropout(
    x: TensorNode,
    p: float = 0.5,
    training: bool = True,
    rng: np.random.Generator | int | None = None,
) -> TensorNode:
    """Inverted dropout: zero each element with probability ``p`` and scale the survivors by
    1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling.
    Identity when not ``training`` or when p = 0.

    >>> h = dropout(h, p=0.2, training=model.training)
    """
    check_dropout_probability(p)
    if not training or p == 0:
        return x
    value = x.value if isinstance(x, TensorNode) else np.asarray(x)
    dtype = value.dtype if value.dtype.kind == "f" else np.float32
    keep = as_generator(rng).random(value.shape, dtype=np.float32) >= p
    scaled_mask = keep.astype(dtype)
    scaled_mask *= 1.0 / (1.0 - p)
    return x * TensorNode(scaled_mask)


def check_dropout_probability(p: float) -> None:
    """Dropout's p must be a probability in [0, 1); p = 1 would drop everything."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"dropout probability p must be a number in [0, 1), got {p!r}")


# ----- helpers -------------------------------------------------------------------------------


def _reduce(losses: TensorNode, reduction: str) -> TensorNode:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _as_dtype_of(node, target):
    """A constant target in the dtype of ``node``, so float64 labels keep a float32 model fast."""
    if isinstance(target, TensorNode):
        return target
    dtype = node.value.dtype if isinstance(node, TensorNode) else np.asarray(node).dtype
    return TensorNode(np.asarray(target, dtype=dtype))


def _shape(value) -> tuple[int, ...]:
    return value.shape if isinstance(value, TensorNode | np.ndarray) else np.shape(value)


def _check_same_shape(function: str, first_name: str, first, target) -> None:
    if _shape(first) != _shape(target):
        raise ShapeError(
            f"{function}: {first_name} has shape {_shape(first)} but target has shape "
            f"{_shape(target)}; they must match (no broadcasting, which would hide a mistake)"
        )
