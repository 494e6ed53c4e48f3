"""The fused softmax cross-entropy: one op instead of five, with a one-line backward, and the
label check that every loss over class labels shares."""

from __future__ import annotations

import numpy as np

from autograd.errors import ShapeError
from autograd.op import Op

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op_name: str, reduction) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op_name}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def check_class_labels(
    op_name: str, scores_name: str, scores_shape: tuple, labels, ignore_index: int = -100
) -> np.ndarray:
    """``labels`` as an integer array of shape (n,) with values in [0, classes) or equal to
    ``ignore_index``, for scores of shape (n, classes); otherwise an error that names the op, both
    shapes and the fix.

    >>> check_class_labels("nll_loss", "log_probs", (3, 4), [0, 3, 1])
    array([0, 3, 1])
    """
    labels = np.asarray(labels)  # a TensorNode of labels gives its array (integers need no grad)
    if len(scores_shape) != 2 or labels.shape != tuple(scores_shape[:1]):
        raise ShapeError(
            f"{op_name}: {scores_name} must have shape (n, classes) and labels shape (n,), got "
            f"{scores_name} {tuple(scores_shape)} and labels {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"{op_name}: labels must be integers (class indices), got dtype {labels.dtype}; "
            "convert with labels.astype(np.int64)"
        )
    classes = scores_shape[1]
    counted = labels
    if labels.size and labels.min() < 0:  # ignored rows (or bad labels): check the others
        counted = labels[labels != ignore_index]
    if counted.size and (counted.min() < 0 or counted.max() >= classes):
        raise ValueError(
            f"{op_name}: labels must lie in [0, {classes}) for {classes} classes, got values "
            f"from {counted.min()} to {counted.max()} (labels equal to ignore_index="
            f"{ignore_index} are skipped)"
        )
    return labels


class SoftmaxCrossEntropy(Op):
    """p = softmax(logits_i);  loss_i = -log p_i[label_i], averaged (or summed) over the rows
    whose label is not ``ignore_index``;
    dL/dlogits_i = dL/dloss * (p_i - onehot(label_i)) / n   (n = 1 for "sum"; 0 for ignored rows)

    ``logits`` has shape (n, classes); ``labels`` is an integer array of shape (n,), given as a
    constant: ``SoftmaxCrossEntropy.do_forward(logits, labels=y)``. The mean over no rows is NaN,
    as in PyTorch, and its gradient 0.
    """

    differentiable_backward = True

    @staticmethod
    def forward(context, logits, labels, reduction="mean", ignore_index=-100):
        check_reduction("SoftmaxCrossEntropy", reduction)
        labels = check_class_labels(
            "SoftmaxCrossEntropy", "logits", logits.shape, labels, ignore_index
        )
        counted = labels != ignore_index
        if counted.all():  # the common case: every row counts
            counted = None
        else:
            labels = np.where(counted, labels, 0)  # any class: the row's weight is 0
        rows = np.arange(len(labels))
        # -log p[label] = log(sum(exp(shifted))) - shifted[label], with the row max subtracted
        # first so that exp never overflows.
        shifted = logits - (logits.max(axis=1, keepdims=True) if logits.size else 0)
        probabilities = np.exp(shifted)
        totals = probabilities.sum(axis=1, keepdims=True)
        losses = np.log(totals[:, 0]) - shifted[rows, labels]
        if counted is not None:
            losses *= counted
        probabilities /= totals  # the softmax, kept for backward
        context["logits"], context["probabilities"] = logits, probabilities
        context["labels"], context["counted"], context["reduction"] = labels, counted, reduction
        if reduction == "none":
            return losses
        total = losses.sum(dtype=logits.dtype)
        if reduction == "sum":
            return np.asarray(total)
        count = len(labels) if counted is None else counted.sum()
        return np.asarray(total / count if count else np.nan, dtype=logits.dtype)

    @staticmethod
    def backward(context, grad_output):
        labels, counted, reduction = context["labels"], context["counted"], context["reduction"]
        n = len(labels)
        if reduction == "none":
            scale = grad_output.reshape((n, 1))
        elif reduction == "sum":
            scale = grad_output
        else:  # no row counted: the loss is NaN (as in PyTorch) and the gradient 0
            scale = grad_output / max(n if counted is None else counted.sum(), 1)
        if counted is not None:
            scale = scale * counted[:, np.newaxis].astype(context["logits"].dtype)
        if isinstance(grad_output, np.ndarray):  # arrays: a copy of the saved softmax, in place
            grad = context["probabilities"].copy()
            grad[np.arange(n), labels] -= 1
            grad *= scale
            return grad
        # create_graph: the softmax recomputed from the logits, so the new graph depends on them
        onehot = np.zeros(context["logits"].shape, dtype=context["logits"].dtype)
        onehot[np.arange(n), labels] = 1
        return (context["logits"].softmax(axis=1) - onehot) * scale
