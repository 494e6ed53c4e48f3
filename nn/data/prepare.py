"""Arrays ready for a model: a seeded validation split, normalised with training statistics.

The functions read a run's configuration (a ``nn.train.TrainConfig``, or anything with its
``dataset``, ``data_root``, ``seed``, ``limit_train`` and ``val_split``), so that a run, a grid
and ``--evaluate`` split and normalise the same way.

    >>> data = load_data(TrainConfig(dataset="fashion-mnist", limit_train=1000))
    >>> data.x_train.shape, data.x_val.shape
    ((900, 28, 28), (100, 28, 28))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nn.data.datasets import load_split
from nn.data.transforms import channel_stats, normalize
from nn.errors import OptionError

__all__ = ["Data", "as_images", "flat", "load_data", "load_raw", "prepare_data", "split_sizes"]


def split_sizes(total: int, config) -> tuple[int, int]:
    """How many of ``total`` images train and how many validate; an OptionError if either side
    would be empty (a validation split asked for but rounding to no image counts as empty)."""
    n_val = int(round(total * config.val_split))
    if total - n_val < 1:
        raise OptionError(
            "--val-split",
            f"{config.val_split} of {total} images leaves no training images;"
            " lower --val-split or raise --limit-train",
        )
    if config.val_split > 0 and n_val == 0:
        raise OptionError(
            "--val-split",
            f"{config.val_split} of {total} images is not one validation image;"
            " raise --limit-train, or give --val-split 0 to train without validation",
        )
    return total - n_val, n_val


@dataclass
class Data:
    """Arrays ready for a model: images normalised with training statistics, as float32."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @property
    def in_features(self) -> int:
        return int(np.prod(self.x_test.shape[1:]))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image: (1, 28, 28) for the MNISTs."""
        return as_images(self.x_test[:0]).shape[1:]


Raw = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_raw(config) -> Raw:
    """The dataset's train and test arrays, as the files hold them."""
    train = load_split(config.dataset, "train", root=config.data_root)
    test = load_split(config.dataset, "test", root=config.data_root)
    return train, test


def prepare_data(raw: Raw, config) -> Data:
    """Split off validation images (by ``config.seed``), and normalise with training statistics."""
    (x, y), (x_test, y_test) = raw
    order = np.random.default_rng(config.seed).permutation(len(x))
    if config.limit_train is not None:
        order = order[: config.limit_train]
    _, n_val = split_sizes(len(order), config)
    val, train = order[:n_val], order[n_val:]
    mean, std = channel_stats(x[train])
    x_val = normalize(x[val], mean, std) if n_val else x[val]
    return Data(
        normalize(x[train], mean, std),
        y[train],
        x_val,
        y[val],
        normalize(x_test, mean, std),
        y_test,
        mean,
        std,
    )


def load_data(config, statistics: dict | None = None) -> Data:
    """Load, split and normalise a dataset; images keep their shape (flattened per batch).

    With ``statistics`` (a finished run's normalisation), only the test set is loaded.

    """
    if statistics is None:
        return prepare_data(load_raw(config), config)
    x_test, y_test = load_split(config.dataset, "test", root=config.data_root)
    mean = np.asarray(statistics["mean"], dtype=np.float32)
    std = np.asarray(statistics["std"], dtype=np.float32)
    empty = x_test[:0]
    x_test = normalize(x_test, mean, std)
    return Data(empty, y_test[:0], empty, y_test[:0], x_test, y_test, mean, std)


def flat(x: np.ndarray) -> np.ndarray:
    """(N, ...) images as (N, features) rows for an MLP."""
    return x.reshape(len(x), -1)


def as_images(x: np.ndarray) -> np.ndarray:
    """Images as (N, C, H, W) for a CNN: grey (N, H, W) images gain a channel axis (a view).

    >>> as_images(np.zeros((5, 28, 28))).shape
    (5, 1, 28, 28)
    """
    if x.ndim == 3:
        return x[:, np.newaxis]
    if x.ndim != 4:
        raise ValueError(f"expected images shaped (N, H, W) or (N, C, H, W), got shape {x.shape}")
    return x
