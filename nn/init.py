"""Weight initialisers: Glorot/Xavier and He/Kaiming, filled in place.

Why the scale matters: a layer ``y = x @ W`` with ``fan_in`` inputs multiplies the variance of its
input by ``fan_in * Var(W)``. Choosing ``Var(W)`` to cancel that keeps activations (and, through
the backward pass, gradients) at a steady size from layer to layer, so deep stacks train.

- Glorot & Bengio (2010), for tanh/sigmoid: ``Var(W) = 2 / (fan_in + fan_out)``.
- He et al. (2015), for ReLU, which zeroes half its inputs: ``Var(W) = 2 / fan_in``.

Layout: our Linear stores its weight as ``(in_features, out_features)`` (so forward is
``x @ W``), hence ``fan_in = shape[0]`` and ``fan_out = shape[1]``. PyTorch stores
``(out, in)`` and reads the fans the other way round; the resulting distributions are the same.

Randomness: every function takes ``rng``, a ``np.random.Generator`` or an int seed. Without it,
the module-wide generator is used, which ``manual_seed(n)`` resets for reproducible runs.
"""

from __future__ import annotations

import math

import numpy as np

from autograd import TensorNode

__all__ = [
    "as_generator",
    "fans",
    "kaiming_normal_",
    "kaiming_uniform_",
    "manual_seed",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_global_generator = np.random.default_rng()

RELU_GAIN = math.sqrt(2.0)

#: What the initialisers fill in place: a Parameter (or any TensorNode) or a float array.
Weights = np.ndarray | TensorNode
Seed = np.random.Generator | int | None


def manual_seed(seed: int) -> None:
    """Reset the generator used whenever no ``rng`` is given (initialisers, Dropout).

    >>> nn.init.manual_seed(0)
    >>> model = nn.MLP(2, [16], 2)      # the same weights on every run
    """
    global _global_generator
    _global_generator = np.random.default_rng(seed)


def as_generator(rng: Seed = None) -> np.random.Generator:
    """``rng`` itself if it is a Generator, a new Generator seeded with it if it is an int, and
    the module-wide generator (see ``manual_seed``) if it is None.

    >>> as_generator(0).random() == as_generator(0).random()
    True
    """
    if rng is None:
        return _global_generator
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}"
    )


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(in_features, out_features)`` (Linear), or
    of a convolution's weight ``(out_channels, in_channels / groups, kh, kw)`` (PyTorch's
    layout, which Conv2d keeps): fan_in = in/groups * kh * kw, fan_out = out * kh * kw.

    >>> fans((784, 128)), fans((16, 3, 5, 5))
    ((784, 128), (75, 400))
    """
    if len(shape) == 4:
        receptive_field = int(shape[2]) * int(shape[3])
        return int(shape[1]) * receptive_field, int(shape[0]) * receptive_field
    if len(shape) != 2:
        raise ValueError(
            f"fan-in and fan-out are defined for 2-D weights of shape (in_features, "
            f"out_features) and 4-D convolution weights of shape (out_channels, in_channels, "
            f"kh, kw), got shape {tuple(shape)}"
        )
    return int(shape[0]), int(shape[1])


def _target_array(tensor: Weights, function: str) -> np.ndarray:
    """The array to fill in place: a Parameter's value, or the array itself."""
    array = tensor.value if isinstance(tensor, TensorNode) else tensor
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise TypeError(
            f"{function} fills a floating-point NumPy array or Parameter in place, got "
            f"{type(tensor).__name__}"
            + (f" of {array.dtype}" if isinstance(array, np.ndarray) else "")
        )
    return array


def _fill_uniform(tensor: Weights, bound: float, rng: Seed, function: str) -> Weights:
    array = _target_array(tensor, function)
    array[...] = as_generator(rng).uniform(-bound, bound, size=array.shape)
    return tensor


def _fill_normal(tensor: Weights, std: float, rng: Seed, function: str) -> Weights:
    array = _target_array(tensor, function)
    array[...] = as_generator(rng).normal(0.0, std, size=array.shape)
    return tensor


def xavier_uniform_(tensor: Weights, gain: float = 1.0, rng: Seed = None) -> Weights:
    """Fill with U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)), so Var = 2 gain^2 / (in+out).

    >>> w = Parameter(np.empty((256, 128)))
    >>> xavier_uniform_(w, rng=0)
    """
    fan_in, fan_out = fans(_target_array(tensor, "xavier_uniform_").shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill_uniform(tensor, bound, rng, "xavier_uniform_")


def xavier_normal_(tensor: Weights, gain: float = 1.0, rng: Seed = None) -> Weights:
    """Fill with N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> w = Parameter(np.empty((256, 128)))
    >>> xavier_normal_(w, rng=0)
    """
    fan_in, fan_out = fans(_target_array(tensor, "xavier_normal_").shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill_normal(tensor, std, rng, "xavier_normal_")


def _kaiming_fan(shape: tuple[int, ...], mode: str, function: str) -> int:
    fan_in, fan_out = fans(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"{function}: mode must be 'fan_in' or 'fan_out', got {mode!r}")


def kaiming_uniform_(
    tensor: Weights, mode: str = "fan_in", gain: float = RELU_GAIN, rng: Seed = None
) -> Weights:
    """Fill with U(-a, a), a = gain * sqrt(3 / fan); the default gain sqrt(2) suits ReLU.

    >>> w = Parameter(np.empty((784, 128)))
    >>> kaiming_uniform_(w, rng=0)                 # std = sqrt(2 / 784)
    """
    fan = _kaiming_fan(_target_array(tensor, "kaiming_uniform_").shape, mode, "kaiming_uniform_")
    bound = gain * math.sqrt(3.0 / fan)
    return _fill_uniform(tensor, bound, rng, "kaiming_uniform_")


def kaiming_normal_(
    tensor: Weights, mode: str = "fan_in", gain: float = RELU_GAIN, rng: Seed = None
) -> Weights:
    """Fill with N(0, std^2), std = gain / sqrt(fan); the default gain sqrt(2) suits ReLU.

    >>> w = Parameter(np.empty((784, 128)))
    >>> kaiming_normal_(w, rng=0)                  # std = sqrt(2 / 784)
    """
    fan = _kaiming_fan(_target_array(tensor, "kaiming_normal_").shape, mode, "kaiming_normal_")
    std = gain / math.sqrt(fan)
    return _fill_normal(tensor, std, rng, "kaiming_normal_")


def uniform_(tensor: Weights, low: float, high: float, rng: Seed = None) -> Weights:
    """Fill with U(low, high).

    >>> b = Parameter(np.empty(16))
    >>> uniform_(b, -0.1, 0.1, rng=0)
    """
    array = _target_array(tensor, "uniform_")
    array[...] = as_generator(rng).uniform(low, high, size=array.shape)
    return tensor


def zeros_(tensor: Weights) -> Weights:
    """Fill with zeros (biases start at zero).

    >>> b = Parameter(np.empty(128))
    >>> zeros_(b)
    """
    _target_array(tensor, "zeros_")[...] = 0
    return tensor
