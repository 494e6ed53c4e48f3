"""Batch normalisation, with its analytic backward."""

from __future__ import annotations

import numpy as np

from autograd.errors import ShapeError
from autograd.op import Op


class BatchNorm(Op):
    """Normalise each feature over the batch (axis 0), then scale and shift.

    Training (batch statistics, n rows):
        mean = sum(x) / n;  var = sum((x - mean)^2) / n;  xhat = (x - mean) / sqrt(var + eps)
        y = gamma * xhat + beta
        dL/dbeta = sum(g);  dL/dgamma = sum(g * xhat)
        dL/dx = gamma / (n * sqrt(var + eps)) * (n * g - dL/dbeta - xhat * dL/dgamma)
    Evaluation (given running_mean and running_var):
        y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
        dL/dx = g * gamma / sqrt(running_var + eps)

    In training, running statistics passed as arrays are updated in place with ``momentum``
    (the unbiased batch variance, as PyTorch does):
    ``BatchNorm.do_forward(x, gamma, beta, eps=1e-5, running_mean=m, running_var=v)``.
    """

    differentiable_backward = True
    saved_constants = ("running_mean", "running_inv_std")

    @staticmethod
    def forward(
        context,
        x,
        gamma,
        beta,
        eps=1e-5,
        training=True,
        running_mean=None,
        running_var=None,
        momentum=0.1,
    ):
        features = x.shape[1:]
        if x.ndim < 2 or gamma.shape != features or beta.shape != features:
            raise ShapeError(
                f"BatchNorm: x must have shape (batch, *features) with gamma and beta of shape "
                f"features; got x {x.shape}, gamma {gamma.shape}, beta {beta.shape}"
            )
        if training:
            n = x.shape[0]
            if n < 2:
                raise ValueError(
                    f"BatchNorm: training needs more than one row per batch to compute a "
                    f"variance, got x of shape {x.shape}; use evaluation mode for single rows"
                )
            mean = x.mean(axis=0)
            centered = x - mean
            var = np.mean(centered * centered, axis=0)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1)) * var
            inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
            context["x"], context["inv_std"], context["eps"] = x, inv_std, eps
        else:
            if running_mean is None or running_var is None:
                raise ValueError("BatchNorm: evaluation mode needs running_mean and running_var")
            centered = x - running_mean
            inv_std = (1 / np.sqrt(running_var + eps)).astype(x.dtype, copy=False)
            # Copies: a later training step updates the running statistics in place.
            context["x"], context["running_mean"] = x, running_mean.astype(x.dtype)
            context["running_inv_std"] = inv_std
        xhat = centered * inv_std
        context["xhat"], context["gamma"], context["training"] = xhat, gamma, training
        return xhat * gamma + beta

    @staticmethod
    def backward(context, grad_output):
        training, gamma = context["training"], context["gamma"]
        needs_x, needs_gamma, needs_beta = context["needs_input_grad"]
        if isinstance(grad_output, np.ndarray):
            xhat = context["xhat"]
            inv_std = context["inv_std"] if training else context["running_inv_std"]
        else:  # create_graph: recompute them from x, so the new graph sees how they depend on it
            xhat, inv_std = _normalize(context)
        grad_beta = grad_output.sum(axis=0)
        grad_gamma = (grad_output * xhat).sum(axis=0)
        grad_x = None
        if needs_x:
            if training:
                n = grad_output.shape[0]
                grad_x = (gamma * inv_std / n) * (n * grad_output - grad_beta - xhat * grad_gamma)
            else:
                grad_x = grad_output * (gamma * inv_std)
        return grad_x, (grad_gamma if needs_gamma else None), (grad_beta if needs_beta else None)


def _normalize(context):
    """xhat and 1 / sqrt(var + eps), as TensorNodes, from the input node (training) or from the
    running statistics (evaluation)."""
    x = context["x"]
    if not context["training"]:
        inv_std = context["running_inv_std"]
        return (x - context["running_mean"]) * inv_std, inv_std
    centered = x - x.mean(axis=0)
    inv_std = 1 / ((centered * centered).mean(axis=0) + context["eps"]) ** 0.5
    return centered * inv_std, inv_std
