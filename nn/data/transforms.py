"""Normalisation and augmentation of image batches (plain NumPy, randomness from `rng`)."""

from __future__ import annotations

import numpy as np

from nn.init import Seed, as_generator


def _as_channels(x: np.ndarray) -> np.ndarray:
    """View (N, C, H, W) as (N, C, H*W) and (N, H, W) as (N, 1, H*W)."""
    if x.ndim == 4:
        return x.reshape(len(x), x.shape[1], -1)
    if x.ndim == 3:
        return x.reshape(len(x), 1, -1)
    raise ValueError(f"expected images shaped (N, C, H, W) or (N, H, W), got shape {x.shape}")


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each channel, over all images and pixels.

    For (N, C, H, W) images you get two arrays of shape (C,); for grey (N, H, W) images, shape
    (1,). Sums are taken in float64, a chunk of images at a time, so big datasets stay accurate
    without a float64 copy of the whole array.

    Example:
        >>> mean, std = channel_stats(x_train)       # compute on the training set only,
        >>> x_test = normalize(x_test, mean, std)    # then apply the same numbers everywhere
    """
    pixels = _as_channels(x)
    if pixels.shape[0] == 0 or pixels.shape[2] == 0:
        raise ValueError("channel_stats needs at least one pixel")
    total = np.zeros(pixels.shape[1])
    total_of_squares = np.zeros(pixels.shape[1])
    for start in range(0, len(pixels), 4096):
        chunk = pixels[start : start + 4096].astype(np.float64)
        total += chunk.sum(axis=(0, 2))
        total_of_squares += np.square(chunk).sum(axis=(0, 2))
    count = pixels.shape[0] * pixels.shape[2]
    mean = total / count
    variance = np.maximum(total_of_squares / count - mean**2, 0.0)  # clip rounding below 0
    return mean.astype(np.float32), np.sqrt(variance).astype(np.float32)


def normalize(x: np.ndarray, mean: np.ndarray | float, std: np.ndarray | float) -> np.ndarray:
    """Return (x - mean) / std per channel; float32 input gives float32 output.

    Example:
        >>> mean, std = channel_stats(x_train)
        >>> x_train = normalize(x_train, mean, std)   # each channel now has mean 0, std 1
    """
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    if x.ndim == 4:  # (N, C, H, W): one value per channel, lined up with axis 1
        channels, broadcast_shape = x.shape[1], (1, -1, 1, 1)
    elif x.ndim == 3:  # (N, H, W): grey images, a single channel
        channels, broadcast_shape = 1, (1, 1, 1)
    else:
        raise ValueError(f"expected images shaped (N, C, H, W) or (N, H, W), got shape {x.shape}")
    mean = np.asarray(mean, dtype=dtype).reshape(-1)
    std = np.asarray(std, dtype=dtype).reshape(-1)
    if mean.size not in (1, channels) or std.size not in (1, channels):
        raise ValueError(
            f"mean and std need 1 or {channels} values for images of shape {x.shape},"
            f" got {mean.size} and {std.size}"
        )
    normalized = (x - mean.reshape(broadcast_shape)) / std.reshape(broadcast_shape)
    return normalized.astype(dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Augmentation for (N, C, H, W) image batches
# ----------------------------------------------------------------------------------------------


def _check_nchw(x: np.ndarray) -> None:
    if x.ndim != 4:
        raise ValueError(f"expected a batch of images shaped (N, C, H, W), got shape {x.shape}")


def random_crop(x: np.ndarray, padding: int = 4, rng: Seed = None) -> np.ndarray:
    """Pad each image with `padding` zeros on every side, then cut out an H x W window at a random
    place (chosen per image). The standard CIFAR-10 augmentation: it shifts images a little.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> xb = random_crop(xb, padding=4, rng=rng)   # same shape, contents shifted by up to 4
    """
    _check_nchw(x)
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    rng = as_generator(rng)
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    top = rng.integers(0, 2 * padding + 1, size=n)
    left = rng.integers(0, 2 * padding + 1, size=n)
    # out[i, ch, r, col] = padded[i, ch, top[i] + r, left[i] + col], with the index arrays shaped
    # so that NumPy broadcasts them to (N, C, H, W) in one gather.
    rows = (top[:, None] + np.arange(h))[:, None, :, None]
    cols = (left[:, None] + np.arange(w))[:, None, None, :]
    images = np.arange(n)[:, None, None, None]
    channels = np.arange(c)[None, :, None, None]
    return padded[images, channels, rows, cols]


def random_horizontal_flip(x: np.ndarray, p: float = 0.5, rng: Seed = None) -> np.ndarray:
    """Mirror each image left-to-right with probability `p`; returns a new array.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> xb = random_horizontal_flip(xb, rng=rng)   # about half the images are mirrored
    """
    _check_nchw(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")
    rng = as_generator(rng)
    flip = rng.random(len(x)) < p
    out = x.copy()
    out[flip] = x[flip, :, :, ::-1]
    return out
