"""Every exception the network library raises, in one place.

Each subclasses the builtin a caller would catch anyway (``ValueError`` for a state dict that does
not fit, ``ImportError`` for a missing optional package), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from pathlib import Path


class StateDictError(ValueError):
    """A state dict does not fit the model: names the missing, unexpected or misshapen keys."""


class ArrayFileError(ValueError):
    """An ``.npz`` file of arrays cannot be read (truncated, or not an .npz): names the file."""


class ParameterInUseError(ValueError):
    """An optimiser step on a parameter that a live graph saved for backward (read-only)."""


class DatasetError(Exception):
    """A dataset file is missing, could not be downloaded, or is not the file it should be.

    >>> try: load_split("mnist", "train", root="/tmp/empty", download=False)
    ... except DatasetError as error: print(error)  # names the file and what to do
    """


class MissingDataError(DatasetError):
    """A dataset file is not on disk and could not be downloaded.

    Besides its message it carries the facts a caller needs to give its own advice: ``dataset``,
    ``path`` (where the file was looked for) and ``reason`` (why it could not be fetched).

    >>> except MissingDataError as error: print(error.path)   # .../mnist/train-images-idx3-ubyte.gz
    """

    def __init__(self, message: str, dataset: str, path: Path, reason: str = "") -> None:
        super().__init__(message)
        self.dataset, self.path, self.reason = dataset, Path(path), reason


class MissingPackageError(ImportError):
    """An optional package is not installed: the message names it and the extra that brings it.

    >>> import_optional("tqdm", "nn")
    MissingPackageError: tqdm is not installed: pip install 'autograd-nn[nn]' (or pip install tqdm)
    """


class TrainError(Exception):
    """A training run cannot start or go on (bad option, unwritable folder, diverging loss)."""


class OptionError(TrainError):
    """A bad value for one command-line option; ``option`` is its spelling, e.g. ``--hidden``.

    >>> str(OptionError("--limit-train", "must be at least 1, got 0"))
    '--limit-train: must be at least 1, got 0'
    """

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class DivergedError(TrainError):
    """The training loss became NaN or infinite; names the epoch and the step."""

    def __init__(self, message: str, epoch: int, step: int) -> None:
        super().__init__(message)
        self.epoch, self.step = epoch, step
