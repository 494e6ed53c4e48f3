"""Run folders that never lie: which folder a run gets, when one is refused, and what it holds.

Without ``--out`` a run takes a new folder (``runs/<dataset>``, ``runs/<dataset>-2``, ...); a
folder that holds another run is refused unless ``--overwrite`` says so, and then nothing of the
old run remains. Everything written is strict JSON (NaN and infinities become ``null``), so a
diverged run's ``summary.json`` still loads anywhere.

    >>> out = choose_out(None, "fashion-mnist", overwrite=False)    # runs/fashion-mnist(-N)
    >>> out = create_out(out, "fashion-mnist", chosen_here=True, overwrite=False)
    >>> write_json(out / "summary.json", {"test_accuracy": float("nan")})   # written as null
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

from nn.data import sources
from nn.errors import OptionError
from nn.options import show_value

#: Files that mark a folder as a run's (or a grid's): only such folders may be overwritten.
RUN_MARKERS = ("config.json", "grid.json")

# ----- reading a run's configuration ---------------------------------------------------------


def read_config(path: Path, config_class: type):
    """The ``config_class`` written as JSON at ``path``, every field of the type its option
    takes and valid; else an OptionError for ``--evaluate`` naming the file and the field.

    >>> config = read_config(Path("runs/mnist/config.json"), TrainConfig)
    """
    try:
        fields = json.loads(path.read_text())
        config = config_class(**fields)
    except (TypeError, ValueError) as error:
        raise OptionError("--evaluate", f"{path} is not readable: {error}") from None
    for spec in dataclasses.fields(config_class):
        value = getattr(config, spec.name)
        if not _has_type(value, spec):
            raise OptionError(
                "--evaluate",
                f"{path}: field {spec.name!r} is {json.dumps(value)}, which is not "
                f"{_type_name(spec)}; edit the file or train again",
            )
    try:
        config.validate()
    except OptionError as error:
        field = error.option.lstrip("-").replace("-", "_")
        problem = str(error).removeprefix(f"{error.option}: ")
        raise OptionError("--evaluate", f"{path}: field {field!r}: {problem}") from None
    return config


def _default(spec: dataclasses.Field):
    if spec.default is not dataclasses.MISSING:
        return spec.default
    return spec.default_factory()


def _has_type(value, spec: dataclasses.Field) -> bool:
    """Whether ``value`` (read from JSON) has the type of the option ``spec``."""
    default = _default(spec)
    if value is None:
        return default is None
    if isinstance(default, list):
        return isinstance(value, list) and all(_is_int(item) for item in value)
    if isinstance(default, bool) or (default is None and "bool" in str(spec.type)):
        return isinstance(value, bool)
    if isinstance(default, int) or (default is None and "int" in str(spec.type)):
        return _is_int(value)
    if isinstance(default, float):
        return _is_int(value) or isinstance(value, float)
    return isinstance(value, str)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_name(spec: dataclasses.Field) -> str:
    default = _default(spec)
    names = {list: "a list of whole numbers", bool: "true or false", int: "a whole number"}
    name = names.get(type(default), {float: "a number", str: "a string"}.get(type(default)))
    if default is None:
        kinds = {"bool": "true or false", "int": "a whole number"}
        kind = next((name for key, name in kinds.items() if key in str(spec.type)), "a string")
        name = kind + " or null"
    return name


# ----- choosing, refusing, creating ----------------------------------------------------------


def default_out(dataset: str, suffix: str = "") -> Path:
    """``runs/<dataset>``, or the first of ``runs/<dataset>-2``, ``-3``, ... that does not exist."""
    base = Path("runs") / f"{dataset}{suffix}"
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def check_out(path: Path, overwrite: bool) -> None:
    """Refuse a folder that holds another run (unless ``overwrite``), or that cannot be written.

    Nothing is created or removed here: that happens only once the data has loaded.
    """
    if path.exists() and not path.is_dir():
        raise OptionError("--out", f"{path} is a file, not a folder; choose another with --out")
    if path.is_dir() and any(path.iterdir()):
        held = ", ".join(sorted(entry.name for entry in path.iterdir())[:4])
        if not overwrite:
            raise OptionError(
                "--out",
                f"{path} already holds a run ({held}, ...); choose another folder,"
                " or add --overwrite to replace it",
            )
        if not any((path / marker).is_file() for marker in RUN_MARKERS):
            raise OptionError(
                "--out",
                f"{path} holds files that are not a training run's ({held}, ...);"
                " --overwrite only replaces run folders: choose another folder",
            )
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = "is a file, not a folder" if not existing.is_dir() else "is not writable"
        raise OptionError(
            "--out",
            f"cannot write to the output folder {path}: {existing} {reason};"
            " choose another with --out",
        )


def choose_out(out: str | None, dataset: str, overwrite: bool) -> Path:
    """The folder a run will write to (``out``, else a new ``runs/<dataset>-N``), checked."""
    path = default_out(dataset) if out is None else Path(out)
    check_out(path, overwrite)
    return path


def make_out(path: Path, overwrite: bool) -> Path:
    """Create the run folder; with ``overwrite``, remove every file of the old run first."""
    if overwrite and path.is_dir():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def claim_new_folder(path: Path, dataset: str) -> Path:
    """Create ``path``, or the next free ``runs/<dataset>-N`` if another run took it meanwhile."""
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            path = default_out(dataset)


def create_out(path: Path, dataset: str, chosen_here: bool, overwrite: bool) -> Path:
    """Create the folder `choose_out` chose; returns the folder actually created.

    A folder the system refuses (a read-only or virtual file system) is an OptionError too.
    """
    try:
        return claim_new_folder(path, dataset) if chosen_here else make_out(path, overwrite)
    except OSError as error:
        raise OptionError(
            "--out",
            f"cannot create the output folder {path}: {error.strerror or error};"
            " choose another with --out",
        ) from None


# ----- the configuration a run used ----------------------------------------------------------


def resolved(config, out: Path):
    """The config as the run used it: the data folder actually read, and the output folder."""
    root = sources.data_root(config.data_root)
    return dataclasses.replace(config, data_root=str(root.resolve()), out=str(out))


def config_changes(folder: Path, config) -> list[str] | None:
    """How the run in ``folder`` differs from ``config`` (``out`` aside); None if there is none.

    >>> config_changes(Path("runs/grid/lr=0.01"), config)
    ['epochs 1 -> 2']
    """
    saved = folder / "config.json"
    if not saved.is_file():
        return None
    before = json.loads(saved.read_text())
    now = dataclasses.asdict(config)
    return [
        f"{key} {show_value(before.get(key))} -> {show_value(now[key])}"
        for key in now
        if key != "out" and before.get(key) != now[key]
    ]


def finished(folder: Path) -> bool:
    """Whether the run in ``folder`` wrote its summary and was not interrupted."""
    summary = folder / "summary.json"
    if not summary.is_file():
        return False
    return not json.loads(summary.read_text())["interrupted"]


def run_title(config) -> str:
    """The name of a run on its plots, e.g. ``fashion-mnist hidden=512-256_lr=0.001_epochs=15``
    (a CNN's adds its ``channels``)."""
    keys = ("hidden", "lr", "epochs")
    if getattr(config, "model", "mlp") == "cnn":
        keys = ("channels", *keys)
    return f"{config.dataset} " + "_".join(f"{k}={show_value(getattr(config, k))}" for k in keys)


# ----- what a run writes: strict JSON, metrics, summary --------------------------------------


def finite_or_none(value):
    """NaN and infinities become None (JSON ``null``), recursively: strict JSON, always."""
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def write_json(path: Path, value) -> None:
    """``value`` as indented strict JSON (NaN and infinities as ``null``)."""
    path.write_text(json.dumps(finite_or_none(value), indent=2, allow_nan=False) + "\n")


def write_metrics(history: list[dict], out: Path) -> None:
    """``metrics.csv`` and ``metrics.json``: one row per finished epoch."""
    if not history:
        return
    rows = finite_or_none(history)
    with open(out / "metrics.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_json(out / "metrics.json", rows)


def new_summary(history, best_val, interrupted, diverged, seconds) -> dict:
    """What ``summary.json`` says of a run; ``test_accuracy`` is filled in once it is measured."""
    return {
        "test_accuracy": None,
        "best_val_accuracy": best_val if history else None,
        "epochs_completed": len(history),
        "interrupted": interrupted,
        "diverged": str(diverged) if diverged else None,
        "train_seconds": round(seconds, 2),
    }


def write_summary(out: Path, summary: dict) -> dict:
    """``summary.json``; returns the summary as written (NaN and infinities as None)."""
    summary = finite_or_none(summary)
    write_json(out / "summary.json", summary)
    return summary
