"""Where the dataset files come from: the data root, the mirrors, the checksums, the download.

One folder per dataset under a *data root* (see `data_root`), holding the files under their
official names, exactly as the publishers distribute them:

    <root>/mnist/                 train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
                                  t10k-images-idx3-ubyte.gz,  t10k-labels-idx1-ubyte.gz
    <root>/fashion-mnist/         the same four names
    <root>/cifar-10-batches-py/   data_batch_1 .. data_batch_5, test_batch, batches.meta

A missing file is downloaded from the first mirror in `MIRRORS` that answers, and its SHA-256 is
checked before it gets its official name. Files already on disk are checked too, so a truncated or
corrupt file is never read as if it were the real one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from nn.errors import DatasetError, MissingDataError
from nn.optional import import_optional

DATASETS = ("mnist", "fashion-mnist", "cifar10")
SPLITS = ("train", "test")
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
LOADERS = {"mnist": "load_mnist", "fashion-mnist": "load_fashion_mnist", "cifar10": "load_cifar10"}

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

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 of the official gzip files (the same values as `sha256sum` prints).
SHA256 = {
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
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR_MEMBERS = (*CIFAR_BATCHES["train"], *CIFAR_BATCHES["test"], "batches.meta")


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
    pooch = import_optional("pooch")  # here, so that reading local files does not need pooch
    return Path(pooch.os_cache("autograd-nn"))


def split_files(dataset: str, split: str) -> list[Path]:
    """The files one split needs, relative to the data root.

    >>> split_files("mnist", "test")
    [PosixPath('mnist/t10k-images-idx3-ubyte.gz'), PosixPath('mnist/t10k-labels-idx1-ubyte.gz')]
    """
    if dataset == "cifar10":
        return [Path(CIFAR_FOLDER) / name for name in CIFAR_BATCHES[split]]
    return [Path(dataset) / name for name in IDX_FILES[split]]


def available_datasets(root: str | os.PathLike[str] | None = None) -> list[str]:
    """The datasets whose files (both splits) are all present under the data root, unchecked.

    >>> available_datasets("/work/shared/data")
    ['fashion-mnist']
    """
    folder = data_root(root)
    return [
        dataset
        for dataset in DATASETS
        if all(
            (folder / path).is_file() for split in SPLITS for path in split_files(dataset, split)
        )
    ]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_file(
    dataset: str, folder: Path, name: str, download: bool, mirrors: Sequence[str]
) -> Path:
    """Return the path of a verified copy of `name`, downloading it first if needed."""
    path = folder / name
    loader = LOADERS[dataset]
    if not path.exists():
        if not download:
            raise MissingDataError(
                f"{TITLES[dataset]} file {name} is missing from {folder}. Download it with"
                f" {loader}(download=True), or place the official file at {path}"
                f" (it is served at {', '.join(mirrors)}).",
                dataset,
                path,
                "download=False",
            )
        fetch(dataset, name, SHA256[dataset][name], folder, mirrors)
    expected = SHA256[dataset][name]
    actual = sha256(path)
    if actual != expected:
        raise DatasetError(
            f"{path} is corrupt or not the official file: its SHA-256 is {actual}, expected"
            f" {expected}. Delete it and call {loader}(download=True) to fetch a fresh copy,"
            " or replace it with the official file."
        )
    return path


def fetch(dataset: str, name: str, sha256: str, folder: Path, mirrors: Sequence[str]) -> Path:
    """Fetch `name` from the first mirror that serves it with the right SHA-256.

    pooch streams into a temporary file in `folder`, checks the hash, and only then renames it to
    `name`; on any failure it deletes the temporary file. So an interrupted or tampered download
    never leaves a file with the official name behind.
    """
    pooch = import_optional("pooch")
    pooch.get_logger().setLevel("WARNING")  # the progress bar says enough; errors are ours
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
            failures.append((url, _short_reason(error)))
    raise MissingDataError(
        f"Could not download {name} from any mirror:\n"
        + "".join(f"  {url}: {reason}\n" for url, reason in failures)
        + f"Check your internet connection, pass mirrors=[...] that work, or place the official"
        f" file at {folder / name}.",
        dataset,
        folder / name,
        "; ".join(sorted({f"{urlparse(url).netloc}: {reason}" for url, reason in failures})),
    )


def _short_reason(error: Exception) -> str:
    """One short phrase for a failed download, instead of a page of urllib3 detail."""
    text = str(error).splitlines()[0] if str(error) else ""
    if "Max retries exceeded" in text or "Failed to resolve" in text or not text:
        return f"{type(error).__name__}: no connection"
    return f"{type(error).__name__}: {text[:200]}"


def explain_missing(error: MissingDataError, can_change_dataset: bool = True) -> str:
    """What a user of ``python -m nn.train`` can do about a dataset file that is not there.

    Names the file and the one folder it was looked for in, the options that point elsewhere,
    and (if ``can_change_dataset``) the datasets already present under the same root.
    """
    root = error.path.parent.parent
    relative = error.path.relative_to(root)
    title = TITLES[error.dataset]
    could_not = ""
    if error.reason and error.reason != "download=False":
        could_not = f" and could not be downloaded ({error.reason})"
    message = (
        f"{title} file {error.path.name} is missing from {error.path.parent}{could_not}."
        f" Place it there, or give --data-root (or set AUTOGRAD_DATA to) a folder that holds"
        f" {relative}."
    )
    present = [name for name in available_datasets(root) if name != error.dataset]
    if present and can_change_dataset:
        offers = ", ".join(f"{TITLES[n]} (--dataset {n})" for n in present)
        message += f" Already in {root}: {offers}."
    return message
