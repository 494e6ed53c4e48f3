"""The fused softmax cross-entropy: one op instead of five, with a one-line backward."""

from __future__ import annotations

import numpy as np

from autograd.errors import ShapeError
from autograd.op import Op
from autograd.ops.activation import stable_log_softmax

REDUCTIONS = ("mean", "sum", "none")


class SoftmaxCrossEntropy(Op):
    """loss_i = -log softmax(logits_i)[label_i], averaged (or summed) over the batch;
    dL/dlogits_i = dL/dloss * (softmax(logits_i) - onehot(label_i)) / n   (n = 1 for "sum")

    ``logits`` has shape (n, classes); ``labels`` is an integer array of shape (n,), given as a
    constant: ``SoftmaxCrossEntropy.do_forward(logits, labels=y)``.
    """

    @staticmethod
    def forward(context, logits, labels, reduction="mean"):
        labels = np.asarray(getattr(labels, "value", labels))
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"SoftmaxCrossEntropy: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        if logits.ndim != 2 or labels.shape != logits.shape[:1]:
            raise ShapeError(
                f"SoftmaxCrossEntropy: logits must have shape (n, classes) and labels (n,), "
                f"got logits {logits.shape} and labels {labels.shape}"
            )
        if labels.dtype.kind not in "iu":
            raise TypeError(
                f"SoftmaxCrossEntropy: labels must be integers (class indices), got {labels.dtype}"
            )
        classes = logits.shape[1]
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"SoftmaxCrossEntropy: labels must lie in [0, {classes}), got values from "
                f"{labels.min()} to {labels.max()}"
            )
        log_probs = stable_log_softmax(logits, axis=1)
        losses = -log_probs[np.arange(len(labels)), labels]
        context["log_probs"], context["labels"], context["reduction"] = (
            log_probs,
            labels,
            reduction,
        )
        if reduction == "none":
            return losses
        total = losses.sum()
        return np.asarray(total / max(len(labels), 1) if reduction == "mean" else total)

    @staticmethod
    def backward(context, grad_output):
        log_probs, labels, reduction = context["log_probs"], context["labels"], context["reduction"]
        grad = np.exp(log_probs)
        grad[np.arange(len(labels)), labels] -= 1
        if reduction == "none":
            return grad * grad_output[:, np.newaxis]
        scale = grad_output / len(labels) if reduction == "mean" else grad_output
        grad *= scale
        return grad
