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
        else:
            if running_mean is None or running_var is None:
                raise ValueError("BatchNorm: evaluation mode needs running_mean and running_var")
            centered = x - running_mean
            var = running_var
        inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        xhat = centered * inv_std
        context["xhat"], context["inv_std"], context["gamma"] = xhat, inv_std, gamma
        context["training"] = training
        return xhat * gamma + beta

    @staticmethod
    def backward(context, grad_output):
        xhat, inv_std, gamma = context["xhat"], context["inv_std"], context["gamma"]
        needs_x, needs_gamma, needs_beta = context["needs_input_grad"]
        grad_beta = grad_output.sum(axis=0)
        grad_gamma = (grad_output * xhat).sum(axis=0)
        grad_x = None
        if needs_x:
            if context["training"]:
                n = grad_output.shape[0]
                grad_x = (gamma * inv_std / n) * (n * grad_output - grad_beta - xhat * grad_gamma)
            else:
                grad_x = grad_output * (gamma * inv_std)
        return grad_x, (grad_gamma if needs_gamma else None), (grad_beta if needs_beta else None)
