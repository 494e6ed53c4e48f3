"""Datasets (MNIST, Fashion-MNIST, CIFAR-10), a DataLoader, normalisation and augmentation.

Everything here is plain NumPy: a dataset is a pair of arrays `(x, y)`, and the model code turns
batches into TensorNodes itself. This module does not import `autograd`.

Where the files live: one folder per dataset under a *data root* (see `data_root`), holding the
files under their official names, exactly as the publishers distribute them:

    <root>/mnist/                 train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                                  t10k-images-idx3-ubyte.gz,  t10k-labels-idx1-ubyte.gz
    <root>/fashion-mnist/         the same four names
    <root>/cifar-10-batches-py/   data_batch_1 .. data_batch_5, test_batch, batches.meta

A missing file is downloaded (with `download=True`, the default) from the first mirror in
`MIRRORS` that answers, and its SHA-256 is checked before it gets its official name. Files already
on disk are checked too, so a truncated or corrupt file is never read as if it were the real one.
Every loader takes `mirrors=[...]`, a list of base URLs that replaces the defaults, for example a
local copy on your network.

Every problem with the files raises `DatasetError`, whose message names the file and says what to
do about it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import pickle
import shutil
import tarfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nn.files import write_atomically

__all__ = [
    "MIRRORS",
    "DataLoader",
    "DatasetError",
    "channel_stats",
    "data_root",
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist",
    "load_split",
    "normalize",
    "random_crop",
    "random_horizontal_flip",
    "read_idx",
]


class DatasetError(Exception):
    """A dataset file is missing, could not be downloaded, or is not the file it should be.

    Example:
        >>> try: load_split("mnist", "train", root="/tmp/empty", download=False)
        ... except DatasetError as error: print(error)  # names the file and what to do
    """


# ----------------------------------------------------------------------------------------------
# Where the files come from
# ----------------------------------------------------------------------------------------------

DATASETS = ("mnist", "fashion-mnist", "cifar10")
SPLITS = ("train", "test")

# Base URLs, tried in order. The original MNIST host (yann.lecun.com) refuses downloads.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
_LOADERS = {"mnist": "load_mnist", "fashion-mnist": "load_fashion_mnist", "cifar10": "load_cifar10"}

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 of the official gzip files (the same values as `sha256sum` prints).
_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",  # noqa: E501
    },
}

# CIFAR-10 ships as one archive; the batch files inside it carry no checksum of their own.
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
_CIFAR_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_CIFAR_MEMBERS = (*_CIFAR_BATCHES["train"], *_CIFAR_BATCHES["test"], "batches.meta")

NUM_CLASSES = 10


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds one sub-folder per dataset.

    It is `root` if you give one, else the `AUTOGRAD_DATA` environment variable, else a per-user
    cache folder (for example ~/.cache/autograd-nn on Linux).

    Example:
        >>> data_root("~/datasets")
        PosixPath('/home/you/datasets')
    """
    if root is not None:
        return Path(root).expanduser()
    from_env = os.environ.get("AUTOGRAD_DATA", "")
    if from_env:  # an empty variable (as `make` may export) counts as unset
        return Path(from_env).expanduser()
    import pooch  # imported here so that reading local files does not need pooch installed

    return Path(pooch.os_cache("autograd-nn"))


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------

Split = tuple[np.ndarray, np.ndarray]


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
    urls = tuple(mirrors) if mirrors is not None else MIRRORS[dataset]
    root = data_root(root)
    if dataset == "cifar10":
        return _load_cifar_split(root, split, download, urls)

    folder = root / dataset
    images_name, labels_name = _IDX_FILES[split]
    images_path = _ensure_file(dataset, folder, images_name, download, urls)
    labels_path = _ensure_file(dataset, folder, labels_name, download, urls)
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
    _check_label_range(labels, labels_path)
    return _to_unit_float(images), labels.astype(np.int64)


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


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 in [0, 1] (in place after the one copy that astype makes)."""
    x = pixels.astype(np.float32)
    x /= 255.0
    return x


def _check_label_range(labels: np.ndarray, source: Path) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DatasetError(
            f"{source} has labels from {labels.min()} to {labels.max()}, outside"
            f" 0..{NUM_CLASSES - 1}; it is not the official file. Replace it."
        )


# ----------------------------------------------------------------------------------------------
# Files on disk: presence, checksum, download
# ----------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ensure_file(
    dataset: str, folder: Path, name: str, download: bool, mirrors: Sequence[str]
) -> Path:
    """Return the path of a verified copy of `name`, downloading it first if needed."""
    path = folder / name
    loader = _LOADERS[dataset]
    if not path.exists():
        if not download:
            raise DatasetError(
                f"{_TITLES[dataset]} file {name} is missing from {folder}. Download it with"
                f" {loader}(download=True), or place the official file at {path}"
                f" (it is served at {', '.join(mirrors)})."
            )
        _download(name, _SHA256[dataset][name], folder, mirrors)
    expected = _SHA256[dataset][name]
    actual = _sha256(path)
    if actual != expected:
        raise DatasetError(
            f"{path} is corrupt or not the official file: its SHA-256 is {actual}, expected"
            f" {expected}. Delete it and call {loader}(download=True) to fetch a fresh copy,"
            " or replace it with the official file."
        )
    return path


def _download(name: str, sha256: str, folder: Path, mirrors: Sequence[str]) -> Path:
    """Fetch `name` from the first mirror that serves it with the right SHA-256.

    pooch streams into a temporary file in `folder`, checks the hash, and only then renames it to
    `name`; on any failure it deletes the temporary file. So an interrupted or tampered download
    never leaves a file with the official name behind.
    """
    import pooch

    progressbar = importlib.util.find_spec("tqdm") is not None
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            pooch.retrieve(
                url, known_hash=f"sha256:{sha256}", fname=name, path=folder, progressbar=progressbar
            )
            return folder / name
        except (OSError, ValueError) as error:  # network errors are OSErrors; bad hash: ValueError
            failures.append(f"  {url}: {error}")
    raise DatasetError(
        f"Could not download {name} from any mirror:\n" + "\n".join(failures) + "\nCheck your"
        f" internet connection, pass mirrors=[...] that work, or place the official file at"
        f" {folder / name}."
    )


# ----------------------------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)
# ----------------------------------------------------------------------------------------------

_IDX_MAGIC = {2049: 1, 2051: 3}  # magic number -> number of dimensions (labels, images)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (the MNIST format) into a uint8 array.

    The header is a big-endian magic number (2049 for labels, 2051 for images) and one uint32 per
    dimension; the bytes follow. No checksum is checked here: `load_split` does that.

    Example:
        >>> read_idx("mnist/t10k-labels-idx1-ubyte.gz")[:5]
        array([7, 2, 1, 0, 4], dtype=uint8)
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as file:
            content = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(
            f"{path} is not a complete gzip file ({error}); it is probably truncated."
            " Delete it and download it again."
        ) from error
    if len(content) < 4:
        raise DatasetError(f"{path} is too short to hold an IDX header. Replace it.")
    magic = int.from_bytes(content[:4], "big")
    if magic not in _IDX_MAGIC:
        raise DatasetError(
            f"{path} has magic number {magic}, expected 2049 (labels) or 2051 (images);"
            " it is not an MNIST-format file."
        )
    ndim = _IDX_MAGIC[magic]
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise DatasetError(f"{path} ends inside its header; it is truncated. Replace it.")
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    payload = len(content) - header_size
    if payload != expected:
        what = "truncated" if payload < expected else "followed by extra bytes"
        raise DatasetError(
            f"{path} announces shape {shape} ({expected} bytes) but holds {payload} bytes:"
            f" it is {what}. Replace it with the official file."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header_size).reshape(shape)


# ----------------------------------------------------------------------------------------------
# CIFAR-10 ("python version": pickled batches)
# ----------------------------------------------------------------------------------------------


def _latin1_encode(text: str, encoding: str) -> bytes:
    """Stand-in for `_codecs.encode`, which Python 3 uses to pickle bytes with protocol 2."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected encoding {encoding!r} in a CIFAR-10 batch")
    return text.encode("latin1")


def _numpy_global(module: str, name: str) -> Any:
    # NumPy 2 renamed numpy.core to numpy._core; the original files (NumPy 1) use the old name.
    core = getattr(np, "_core", None) or np.core
    return getattr(core.multiarray, name)


# The globals a CIFAR-10 batch may name: NumPy's array reconstruction, and nothing else.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): lambda module, name: np.ndarray,
    ("numpy", "dtype"): lambda module, name: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_global,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_global,
    ("numpy.core.multiarray", "scalar"): _numpy_global,
    ("numpy._core.multiarray", "scalar"): _numpy_global,
    ("_codecs", "encode"): lambda module, name: _latin1_encode,
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that only builds NumPy arrays, lists, dicts, numbers and strings.

    A pickle names every function it wants called (a "global"). A plain `pickle.load` imports and
    calls whatever is named, which lets a doctored file run any code. We refuse all globals that
    the CIFAR-10 format does not need, before anything is called.
    """

    def __init__(self, file: BinaryIO, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        resolve = _ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise DatasetError(
                f"{self.path} refers to {module}.{name}, which a CIFAR-10 batch never needs;"
                " refusing to load it, since it could run arbitrary code. Delete the folder and"
                " download the official archive again with load_cifar10(download=True)."
            )
        return resolve(module, name)


def _read_cifar_batch(path: Path) -> Split:
    """One batch file -> (pixels uint8 (n, 3072), labels int64 (n,)), checked for consistency."""
    try:
        with open(path, "rb") as file:
            batch = _BatchUnpickler(file, path).load()
    except DatasetError:
        raise
    except Exception as error:  # a damaged pickle can fail in many ways; all mean the same here
        raise DatasetError(
            f"{path} is not a readable CIFAR-10 batch ({type(error).__name__}: {error})."
            " Delete the folder and download it again with load_cifar10(download=True)."
        ) from error

    def invalid(reason: str) -> DatasetError:
        return DatasetError(f"{path} is not a valid CIFAR-10 batch: {reason}. Replace the folder.")

    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise invalid("expected a dict with keys b'data' and b'labels'")
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise invalid("b'data' must be a 2-d uint8 array")
    if data.shape[1] != 3 * 32 * 32:
        raise invalid(f"each image must have 3072 bytes, not {data.shape[1]}")
    if not isinstance(labels, list) or not all(isinstance(label, int) for label in labels):
        raise invalid("b'labels' must be a list of integers")
    if len(labels) != len(data):
        raise invalid(f"{len(data)} images but {len(labels)} labels")
    labels = np.array(labels, dtype=np.int64)
    _check_label_range(labels, path)
    return data, labels


def _load_cifar_split(root: Path, split: str, download: bool, mirrors: Sequence[str]) -> Split:
    folder = root / _CIFAR_FOLDER
    names = _CIFAR_BATCHES[split]
    missing = [name for name in names if not (folder / name).exists()]
    if missing and not download:
        raise DatasetError(
            f"CIFAR-10 file {missing[0]} is missing from {folder}. Download it with"
            f" load_cifar10(download=True), or extract the official archive {_CIFAR_ARCHIVE}"
            f" (from {', '.join(mirrors)}) into {root}."
        )
    if missing:
        archive = _download(_CIFAR_ARCHIVE, _CIFAR_SHA256, root, mirrors)
        _extract_cifar(archive, folder)
        archive.unlink()  # the batches hold the same data; no need to keep 160 MB twice

    batches = [_read_cifar_batch(folder / name) for name in names]
    pixels = np.concatenate([data for data, _ in batches])
    labels = np.concatenate([labels for _, labels in batches])
    # Each row is 1024 red, then 1024 green, then 1024 blue bytes, each a 32x32 row-major image.
    return _to_unit_float(pixels.reshape(-1, 3, 32, 32)), labels


def _extract_cifar(archive: Path, folder: Path) -> None:
    """Copy the expected batch files out of the archive into `folder`, and nothing else.

    We choose every output path ourselves (never the archive's), so a member named
    "../../something" or a link cannot write outside `folder`.
    """
    wanted = {f"{_CIFAR_FOLDER}/{name}": name for name in _CIFAR_MEMBERS}
    found = set()
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            name = wanted.get(member.name)
            if name is None:
                continue  # readme.html, or anything we did not ask for
            source = tar.extractfile(member) if member.isfile() else None
            if source is None:
                raise DatasetError(f"{archive}: {member.name} is not a regular file. Delete it.")
            write_atomically(
                folder / name, lambda file, source=source: shutil.copyfileobj(source, file)
            )
            found.add(name)
    missing = sorted(set(_CIFAR_MEMBERS) - found)
    if missing:
        raise DatasetError(f"{archive} lacks {', '.join(missing)}. Delete it and download again.")


# ----------------------------------------------------------------------------------------------
# Batching
# ----------------------------------------------------------------------------------------------


class DataLoader:
    """Iterate over `(x_batch, y_batch)` pairs of NumPy arrays, one epoch per `for` loop.

    With `shuffle=True` every epoch visits the samples in a new random order, drawn from a
    generator seeded with `seed` (so two loaders with the same seed give the same epochs).
    The last, smaller batch is kept unless `drop_last=True`.

    Example:
        >>> loader = DataLoader(x_train, y_train, batch_size=128, shuffle=True, seed=0)
        >>> for xb, yb in loader: ...   # len(loader) batches per epoch
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 64,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.x)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for i in range(len(self)):
            # Indexing with an array copies just this batch, never the whole dataset.
            indices = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.x[indices], self.y[indices]


# ----------------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------------


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


def random_crop(
    x: np.ndarray, padding: int = 4, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Pad each image with `padding` zeros on every side, then cut out an H x W window at a random
    place (chosen per image). The standard CIFAR-10 augmentation: it shifts images a little.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> xb = random_crop(xb, padding=4, rng=rng)   # same shape, contents shifted by up to 4
    """
    _check_nchw(x)
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    rng = np.random.default_rng(rng)
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


def random_horizontal_flip(
    x: np.ndarray, p: float = 0.5, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Mirror each image left-to-right with probability `p`; returns a new array.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> xb = random_horizontal_flip(xb, rng=rng)   # about half the images are mirrored
    """
    _check_nchw(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p}")
    rng = np.random.default_rng(rng)
    flip = rng.random(len(x)) < p
    out = x.copy()
    out[flip] = x[flip, :, :, ::-1]
    return out
