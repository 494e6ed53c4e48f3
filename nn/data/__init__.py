"""Datasets (MNIST, Fashion-MNIST, CIFAR-10), a DataLoader, normalisation and augmentation.

Everything here is plain NumPy: a dataset is a pair of arrays ``(x, y)``, and the model code
turns batches into TensorNodes itself. One module per subject:

    sources      where the files come from: data root, mirrors, checksums, download
    formats      reading the files: gzipped IDX, pickled CIFAR-10 batches
    datasets     the loaders, and each dataset's facts (class names, sizes, augmentation)
    loader       DataLoader
    transforms   normalisation and augmentation
    prepare      a run's arrays: seeded validation split, training statistics (nn.data.prepare)

>>> from nn.data import DataLoader, load_fashion_mnist
>>> (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
"""

from nn.data.datasets import (
    AUGMENTATION,
    CLASS_NAMES,
    IMAGE_SHAPES,
    TRAIN_SIZES,
    augment,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    load_split,
)
from nn.data.formats import NUM_CLASSES, read_idx
from nn.data.loader import DataLoader
from nn.data.sources import (
    DATASETS,
    MIRRORS,
    SPLITS,
    TITLES,
    available_datasets,
    data_root,
    explain_missing,
    split_files,
)
from nn.data.transforms import channel_stats, normalize, random_crop, random_horizontal_flip
from nn.errors import DatasetError, MissingDataError

__all__ = [
    "AUGMENTATION",
    "CLASS_NAMES",
    "DATASETS",
    "IMAGE_SHAPES",
    "MIRRORS",
    "NUM_CLASSES",
    "SPLITS",
    "TITLES",
    "TRAIN_SIZES",
    "DataLoader",
    "DatasetError",
    "MissingDataError",
    "augment",
    "available_datasets",
    "channel_stats",
    "data_root",
    "explain_missing",
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist",
    "load_split",
    "normalize",
    "random_crop",
    "random_horizontal_flip",
    "read_idx",
    "split_files",
]
