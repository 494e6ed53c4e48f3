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

    ``axes`` are the axes normalised over, the batch's: (0,) by default (BatchNorm1d, features
    of shape x.shape[1:]); (0, 2, 3) for images (N, C, H, W), one statistic per channel
    (BatchNorm2d). gamma, beta and the running statistics have the shape of the other axes, and
    n above is the number of values per feature.
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
        axes=(0,),
    ):
        axes = tuple(axes)
        features = tuple(size for axis, size in enumerate(x.shape) if axis not in axes)
        if x.ndim < 2 or 0 not in axes or gamma.shape != features or beta.shape != features:
            layout = "(batch, *features)" if axes == (0,) else f"normalised over axes {axes}"
            raise ShapeError(
                f"BatchNorm: x must have shape {layout} with gamma and beta of the shape of the "
                f"other axes {features}; got x {x.shape}, gamma {gamma.shape}, beta {beta.shape}"
            )
        # gamma, beta and the statistics of shape features, laid out to broadcast against x
        # (for images, (C,) becomes (C, 1, 1)).
        broadcast_shape = tuple(1 if axis in axes else size for axis, size in enumerate(x.shape))
        as_broadcast = _broadcaster(x.ndim, axes, broadcast_shape)
        if training:
            n = x.size // max(1, int(np.prod(features)))
            if n < 2:
                raise ValueError(
                    f"BatchNorm: training needs more than one row (value per feature) to "
                    f"compute a variance, got x of shape {x.shape}; use evaluation mode for "
                    "single rows"
                )
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = np.mean(centered * centered, axis=axes, keepdims=True)
            if running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean.reshape(features)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / (n - 1)) * var.reshape(features)
            inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
            context["x"], context["inv_std"], context["eps"] = x, inv_std, eps
        else:
            if running_mean is None or running_var is None:
                raise ValueError("BatchNorm: evaluation mode needs running_mean and running_var")
            # Copies: a later training step updates the running statistics in place.
            mean = as_broadcast(running_mean).astype(x.dtype)
            centered = x - mean
            inv_std = (1 / np.sqrt(as_broadcast(running_var) + eps)).astype(x.dtype, copy=False)
            context["x"], context["running_mean"] = x, mean
            context["running_inv_std"] = inv_std
        xhat = centered * inv_std
        context["xhat"], context["gamma"], context["training"] = xhat, gamma, training
        context["axes"] = axes
        return xhat * as_broadcast(gamma) + as_broadcast(beta)

    @staticmethod
    def backward(context, grad_output):
        training, gamma, axes = context["training"], context["gamma"], context["axes"]
        needs_x, needs_gamma, needs_beta = context["needs_input_grad"]
        if isinstance(grad_output, np.ndarray):
            xhat = context["xhat"]
            inv_std = context["inv_std"] if training else context["running_inv_std"]
        else:  # create_graph: recompute them from x, so the new graph sees how they depend on it
            xhat, inv_std = _normalize(context)
        grad_beta = grad_output.sum(axis=axes)
        grad_gamma = (grad_output * xhat).sum(axis=axes)
        grad_x = None
        if needs_x:
            as_broadcast = _broadcaster(grad_output.ndim, axes, None)
            if training:
                n = grad_output.size // max(1, grad_beta.size)
                grad_x = (as_broadcast(gamma) * inv_std / n) * (
                    n * grad_output - as_broadcast(grad_beta) - xhat * as_broadcast(grad_gamma)
                )
            else:
                grad_x = grad_output * (as_broadcast(gamma) * inv_std)
        return grad_x, (grad_gamma if needs_gamma else None), (grad_beta if needs_beta else None)


def _broadcaster(ndim: int, axes: tuple, shape):
    """A function laying out an array of the features' shape to broadcast against x: itself
    when only axis 0 is normalised over (NumPy aligns from the right), else reshaped with 1 at
    the normalised axes."""
    if axes == (0,):
        return lambda value: value

    def as_broadcast(value):
        kept = iter(value.shape)
        return value.reshape(tuple(1 if axis in axes else next(kept) for axis in range(ndim)))

    return as_broadcast


def _normalize(context):
    """xhat and 1 / sqrt(var + eps), as TensorNodes, from the input node (training) or from the
    running statistics (evaluation)."""
    x, axes = context["x"], context["axes"]
    if not context["training"]:
        inv_std = context["running_inv_std"]
        return (x - context["running_mean"]) * inv_std, inv_std
    centered = x - x.mean(axis=axes, keepdims=True)
    inv_std = 1 / ((centered * centered).mean(axis=axes, keepdims=True) + context["eps"]) ** 0.5
    return centered * inv_std, inv_std
