"""Saving and loading, in one place: ``.npz`` files of named arrays, written atomically.

Models (``Module.save``), optimisers and schedules (``Optimizer.save``) and CIFAR-10 extraction
all write through `write_atomically`, so an interruption never leaves a half-written file under
the real name, and an error names the path the caller gave, not a temporary file.
"""

from __future__ import annotations

import os
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nn.errors import ArrayFileError

__all__ = ["load_arrays", "save_arrays", "write_atomically"]


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a new file beside ``path``, then rename it to ``path``.

    The rename is atomic, so readers see the old file or the complete new one, never a part;
    if ``write`` fails, the temporary file is removed and ``path`` is left as it was.

    >>> write_atomically("model.npz", lambda file: np.savez(file, **arrays))
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        with open(temporary, "xb") as file:  # a fresh name, and the usual permissions
            write(file)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.filename is not None and Path(error.filename) == temporary:
            # The user never heard of the temporary name: report their path.
            raise type(error)(error.errno, error.strerror, str(path)) from None
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def save_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as an ``.npz`` file at exactly ``path`` (no suffix is added).

    Any name is allowed, ``file`` and ``allow_pickle`` included (``np.savez(file, **arrays)``
    would take those two as its own arguments). Readable with ``np.load`` or `load_arrays`.

    >>> save_arrays("model.npz", model.state_dict())
    """

    def write(file: BinaryIO) -> None:
        with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    write_atomically(path, write)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The named arrays of an ``.npz`` file (never unpickling anything).

    A file that is truncated or not an ``.npz`` raises ArrayFileError naming it.

    >>> state = load_arrays("model.npz")
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, ValueError) as error:  # OSError: a missing file
        raise ArrayFileError(
            f"{path} is not a complete .npz file of arrays ({error}); it may have been cut "
            "short by a copy or a full disk: write it again"
        ) from None
