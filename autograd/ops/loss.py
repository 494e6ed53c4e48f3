"""The fused softmax cross-entropy: one op instead of five, with a one-line backward, and the
label check that every loss over class labels shares."""

from __future__ import annotations

import numpy as np

from autograd.errors import ShapeError
from autograd.op import Op

REDUCTIONS = ("mean", "sum", "none")


def check_class_labels(op_name: str, scores_name: str, scores_shape: tuple, labels) -> np.ndarray:
    """``labels`` as an integer array of shape (n,) with values in [0, classes), for scores of
    shape (n, classes); otherwise an error that names the op, both shapes and the fix.

    >>> check_class_labels("nll_loss", "log_probs", (3, 4), [0, 3, 1])
    array([0, 3, 1])
    """
    labels = np.asarray(getattr(labels, "value", labels))
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
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"{op_name}: labels must lie in [0, {classes}) for {classes} classes, got values "
            f"from {labels.min()} to {labels.max()}"
        )
    return labels


class SoftmaxCrossEntropy(Op):
    """p = softmax(logits_i);  loss_i = -log p_i[label_i], averaged (or summed) over the batch;
    dL/dlogits_i = dL/dloss * (p_i - onehot(label_i)) / n   (n = 1 for "sum")

    ``logits`` has shape (n, classes); ``labels`` is an integer array of shape (n,), given as a
    constant: ``SoftmaxCrossEntropy.do_forward(logits, labels=y)``.
    """

    @staticmethod
    def forward(context, logits, labels, reduction="mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"SoftmaxCrossEntropy: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        labels = check_class_labels("SoftmaxCrossEntropy", "logits", logits.shape, labels)
        rows = np.arange(len(labels))
        # -log p[label] = log(sum(exp(shifted))) - shifted[label], with the row max subtracted
        # first so that exp never overflows.
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        totals = probabilities.sum(axis=1, keepdims=True)
        losses = np.log(totals[:, 0]) - shifted[rows, labels]
        probabilities /= totals  # the softmax, kept for backward
        context["probabilities"], context["labels"], context["reduction"] = (
            probabilities,
            labels,
            reduction,
        )
        if reduction == "none":
            return losses
        total = losses.sum()
        return np.asarray(total / max(len(labels), 1) if reduction == "mean" else total)

    @staticmethod
    def backward(context, grad_output):
        labels, reduction = context["labels"], context["reduction"]
        grad = context["probabilities"].copy()  # a copy: retain_graph may run backward again
        grad[np.arange(len(labels)), labels] -= 1
        if reduction == "none":
            return grad * grad_output[:, np.newaxis]
        grad *= grad_output / len(labels) if reduction == "mean" else grad_output
        return grad
