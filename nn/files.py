"""Writing files so that an interruption never leaves a half-written one under the real name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


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
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
