"""The two file formats: gzipped IDX (MNIST, Fashion-MNIST) and pickled CIFAR-10 batches.

Readers check what they read (shapes, counts, label range) and raise `DatasetError` naming the
file; checksums are checked elsewhere (`nn.data.sources`), before a file gets here.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nn.data.sources import CIFAR_FOLDER, CIFAR_MEMBERS
from nn.errors import DatasetError
from nn.files import write_atomically

NUM_CLASSES = 10
Split = tuple[np.ndarray, np.ndarray]

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


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 in [0, 1] (in place after the one copy that astype makes)."""
    x = pixels.astype(np.float32)
    x /= 255.0
    return x


def check_label_range(labels: np.ndarray, source: Path) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DatasetError(
            f"{source} has labels from {labels.min()} to {labels.max()}, outside"
            f" 0..{NUM_CLASSES - 1}; it is not the official file. Replace it."
        )


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


def read_cifar_batch(path: Path) -> Split:
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
    check_label_range(labels, path)
    return data, labels


def extract_cifar(archive: Path, folder: Path) -> None:
    """Copy the expected batch files out of the archive into `folder`, and nothing else.

    We choose every output path ourselves (never the archive's), so a member named
    "../../something" or a link cannot write outside `folder`.
    """
    wanted = {f"{CIFAR_FOLDER}/{name}": name for name in CIFAR_MEMBERS}
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
    missing = sorted(set(CIFAR_MEMBERS) - found)
    if missing:
        raise DatasetError(f"{archive} lacks {', '.join(missing)}. Delete it and download again.")
