"""The three datasets: loaders, and the facts about each (titles, sizes, class names, augmentation).

Everything here is plain NumPy: a dataset is a pair of arrays `(x, y)`, and the model code turns
batches into TensorNodes itself. Every problem with the files raises `DatasetError`, whose message
names the file and says what to do about it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nn.data import formats, sources
from nn.data.formats import Split, check_label_range, read_cifar_batch, read_idx, to_unit_float
from nn.data.sources import DATASETS, SPLITS, data_root, ensure_file
from nn.data.transforms import random_crop, random_horizontal_flip
from nn.errors import DatasetError, MissingDataError
from nn.init import Seed, as_generator

#: Class names, in label order.
CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "cifar10": [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ],
}  # fmt: skip

#: Images in the official training split of each dataset.
TRAIN_SIZES = {"mnist": 60_000, "fashion-mnist": 60_000, "cifar10": 50_000}

#: One image's (channels, height, width), as a CNN sees it.
IMAGE_SHAPES = {"mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}

#: Per dataset: the padding for random shifts, and whether mirror images are allowed
#: (a mirrored digit is another symbol; a mirrored shirt is still a shirt).
AUGMENTATION = {"mnist": (2, False), "fashion-mnist": (2, True), "cifar10": (4, True)}


def load_split(
    dataset: str,
    split: str,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> Split:
    """Load one split ("train" or "test") of one dataset ("mnist", "fashion-mnist", "cifar10").

    Returns `(x, y)`: images as float32 in [0, 1], shaped (N, 28, 28) for the MNISTs and
    (N, 3, 32, 32) for CIFAR-10 (channels first, as the file stores them); labels as int64.
    `mirrors` replaces the default download URLs (see `MIRRORS`) by your own base URLs.

    Example:
        >>> x, y = load_split("mnist", "test")
        >>> x.shape, y[:3]   # ((10000, 28, 28), array([7, 2, 1]))
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if isinstance(mirrors, str):  # one URL given as a plain string
        mirrors = [mirrors]
    urls = tuple(mirrors) if mirrors is not None else sources.MIRRORS[dataset]
    root = data_root(root)
    if dataset == "cifar10":
        return _load_cifar_split(root, split, download, urls)

    folder = root / dataset
    images_name, labels_name = sources.IDX_FILES[split]
    images_path = ensure_file(dataset, folder, images_name, download, urls)
    labels_path = ensure_file(dataset, folder, labels_name, download, urls)
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetError(f"{images_path} holds images of shape {images.shape[1:]}, not 28x28.")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path} is not a label file (it has {labels.ndim} dimensions).")
    if len(images) != len(labels):
        raise DatasetError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels;"
            " one of the two files is not from the same release. Replace both."
        )
    check_label_range(labels, labels_path)
    return to_unit_float(images), labels.astype(np.int64)


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Handwritten digits: 60,000 train and 10,000 test images, 28x28 grey, labels 0-9.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist()
        >>> x_train.shape, x_train.dtype   # ((60000, 28, 28), dtype('float32'))
    """
    return _load_both("mnist", root, download, mirrors)


def load_fashion_mnist(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Zalando's clothing images, a drop-in for MNIST that is harder to get right: 60k + 10k.

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        >>> np.bincount(y_test)   # 1000 of each of the 10 classes
    """
    return _load_both("fashion-mnist", root, download, mirrors)


def load_cifar10(
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Small colour photos in 10 classes: 50,000 train and 10,000 test, shaped (N, 3, 32, 32).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_cifar10()
        >>> x_train[0, 0]   # the red channel of the first image, 32x32 values in [0, 1]
    """
    return _load_both("cifar10", root, download, mirrors)


def _load_both(
    dataset: str,
    root: str | os.PathLike[str] | None,
    download: bool,
    mirrors: Sequence[str] | None,
) -> tuple[Split, Split]:
    train = load_split(dataset, "train", root, download, mirrors)
    test = load_split(dataset, "test", root, download, mirrors)
    return train, test


def _load_cifar_split(root: Path, split: str, download: bool, mirrors: Sequence[str]) -> Split:
    folder = root / sources.CIFAR_FOLDER
    names = sources.CIFAR_BATCHES[split]
    missing = [name for name in names if not (folder / name).exists()]
    if missing and not download:
        raise MissingDataError(
            f"CIFAR-10 file {missing[0]} is missing from {folder}. Download it with"
            f" load_cifar10(download=True), or extract the official archive"
            f" {sources.CIFAR_ARCHIVE} (from {', '.join(mirrors)}) into {root}.",
            "cifar10",
            folder / missing[0],
            "download=False",
        )
    if missing:
        archive = sources.fetch(
            "cifar10", sources.CIFAR_ARCHIVE, sources.CIFAR_SHA256, root, mirrors
        )
        formats.extract_cifar(archive, folder)
        archive.unlink()  # the batches hold the same data; no need to keep 160 MB twice

    batches = [read_cifar_batch(folder / name) for name in names]
    pixels = np.concatenate([data for data, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    # Each row is 1024 red, then 1024 green, then 1024 blue bytes, each a 32x32 row-major image.
    return to_unit_float(pixels.reshape(-1, 3, 32, 32)), labels


def augment(
    images: np.ndarray,
    dataset: str,
    rng: Seed = None,
    padding: int | None = None,
    flip: bool | None = None,
) -> np.ndarray:
    """Random shifts (pad with ``padding`` zeros, then crop back at a random place) and random
    horizontal flips; ``None`` takes the dataset's choice from `AUGMENTATION` (a mirrored digit is
    another symbol, so MNIST is not flipped). Padding 0 means no shift.

    Grey (N, H, W) and colour (N, C, H, W) batches keep their shape.

    >>> xb = augment(xb, "fashion-mnist", rng=np.random.default_rng(0))
    >>> xb = augment(xb, "cifar10", rng, padding=2, flip=False)
    """
    default_padding, default_flip = AUGMENTATION[dataset]
    padding = default_padding if padding is None else padding
    flip = default_flip if flip is None else flip
    rng = as_generator(rng)
    batch = images if images.ndim == 4 else images[:, np.newaxis]  # grey: one channel
    if padding:
        batch = random_crop(batch, padding, rng)
    if flip:
        batch = random_horizontal_flip(batch, rng=rng)
    return batch.reshape(images.shape)
