"""Train an MLP on MNIST, Fashion-MNIST or CIFAR-10 from the command line.

    python -m nn.train                                   # MNIST, the default recipe
    python -m nn.train --dataset fashion-mnist --epochs 3
    python -m nn.train --evaluate runs/mnist             # reload a run, report test accuracy
    python -m nn.train --grid lr=1e-3,1e-2 hidden=256,512x2 --epochs 5

A run writes to its own folder (``runs/<dataset>``, ``runs/<dataset>-2``, ... unless ``--out``
names one): ``config.json`` (every option, including the data folder used, so the run can be
reloaded), ``metrics.csv`` and ``metrics.json`` (one row per epoch, rewritten after each epoch so
an interrupted run loses nothing), ``model.npz`` (the best model by validation accuracy),
``summary.json``, ``curves.png`` and ``confusion.png``. A folder that holds another run is never
written into, unless ``--overwrite`` says so; then the old run is removed first.

This module holds the configuration, the loop, evaluation and the command line; the grid lives
in ``nn.grid`` and the pictures in ``nn.plots``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import nn
from autograd import TensorNode, no_grad
from nn import data as datasets
from nn import functional as F
from nn import plots
from nn.errors import (
    DatasetError,
    DivergedError,
    MissingDataError,
    MissingPackageError,
    OptionError,
    TrainError,
)
from nn.optional import import_optional

__all__ = [
    "Data",
    "TrainConfig",
    "TrainError",
    "build_model",
    "build_optimizer",
    "evaluate",
    "evaluate_run",
    "fit",
    "load_data",
    "main",
]

PROG = "python -m nn.train"
ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")

# ----- option values: parsing, checking, showing ---------------------------------------------


def parse_hidden(text: str) -> list[int]:
    """Hidden widths as the command line writes them.

    >>> parse_hidden("512-256"), parse_hidden("512x2"), parse_hidden("64")
    ([512, 256], [512, 512], [64])
    """
    try:
        if "x" in text:
            width, count = text.split("x")
            return [int(width)] * int(count)
        return [int(width) for width in text.split("-")]
    except ValueError:
        raise ValueError(
            f"expected widths joined by '-' (512-256) or WIDTHxLAYERS (512x2), got {text!r}"
        ) from None


def show_value(value) -> str:
    """One spelling of an option's value everywhere: folders, tables, titles, --help.

    >>> show_value([512, 256]), show_value(0.001), show_value(True), show_value(None)
    ('512-256', '0.001', 'true', 'none')
    """
    if isinstance(value, list):
        return "-".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    return str(value)


def _parse_bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1", "yes")


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected a whole number, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number such as 0.1 or 1e-3, got {text!r}") from None


def _at_least(low: int) -> Callable:
    def check(value):
        return None if value is None or value >= low else f"must be at least {low}, got {value}"

    return check


def _positive(value: float) -> str | None:
    return None if math.isfinite(value) and value > 0 else f"must be a number > 0, got {value}"


def _non_negative(value: float) -> str | None:
    return None if math.isfinite(value) and value >= 0 else f"must be a number >= 0, got {value}"


def _fraction(value: float) -> str | None:
    return None if 0.0 <= value < 1.0 else f"must lie in [0, 1), got {value}"


def _widths(value: list[int]) -> str | None:
    if not value or any(width < 1 for width in value):
        return f"widths must be positive whole numbers, got {show_value(value) or 'none'}"
    return None


def _option(default, help: str, check: Callable | None = None, choices=None, unset=None):
    """A TrainConfig field that is also a command-line option and a --grid key.

    ``unset`` says, for --help, what a default of None means.
    """
    metadata = {"help": help, "check": check, "choices": choices, "unset": unset}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainConfig:
    """Every choice a run makes; each field is a command-line option. Defaults: the MNIST recipe.

    >>> TrainConfig(dataset="fashion-mnist", epochs=3, out="runs/fashion").validate()
    """

    dataset: str = _option("mnist", "dataset to train on", choices=datasets.DATASETS)
    data_root: str | None = _option(
        None, "dataset folder", unset="$AUTOGRAD_DATA, else a per-user cache"
    )
    hidden: list[int] = _option(
        lambda: [512, 256], "hidden widths: 512-256, or 512x2 for two layers of 512", _widths
    )
    activation: str = _option("relu", "activation after each hidden layer", choices=ACTIVATIONS)
    batchnorm: bool = _option(True, "batch normalisation after each hidden Linear")
    dropout: float = _option(0.2, "dropout probability after each hidden layer", _fraction)
    optimizer: str = _option("adam", "optimiser", choices=OPTIMIZERS)
    lr: float = _option(1e-3, "learning rate", _positive)
    momentum: float = _option(0.9, "momentum (sgd only)", _non_negative)
    nesterov: bool = _option(False, "Nesterov momentum (sgd only)")
    weight_decay: float = _option(0.0, "weight decay", _non_negative)
    schedule: str = _option("cosine", "learning-rate schedule over the epochs", choices=SCHEDULES)
    step_size: int = _option(10, "epochs between decays (step schedule)", _at_least(1))
    gamma: float = _option(0.1, "decay factor (step schedule)", _positive)
    epochs: int = _option(15, "passes over the training images", _at_least(1))
    batch_size: int = _option(128, "images per step", _at_least(1))
    val_split: float = _option(0.1, "fraction of the training images held out", _fraction)
    augment: bool = _option(False, "random shifts, and flips except for MNIST")
    seed: int = _option(
        0, "seed of every random choice (split, init, dropout, order)", _at_least(0)
    )
    limit_train: int | None = _option(
        None, "use only this many training images", _at_least(1), unset="all"
    )
    out: str | None = _option(
        None, "output folder", unset="a new one: runs/<dataset>, runs/<dataset>-2, ..."
    )

    def validate(self) -> None:
        """Reject bad options before any data is loaded: an OptionError naming the option."""
        for spec in dataclasses.fields(self):
            problem = check_value(spec.name, getattr(self, spec.name))
            if problem:
                raise OptionError(flag(spec.name), problem)
        total = datasets.TRAIN_SIZES[self.dataset]
        split_sizes(total if self.limit_train is None else min(total, self.limit_train), self)


CONFIG_FIELDS = {spec.name: spec for spec in dataclasses.fields(TrainConfig)}


def flag(name: str) -> str:
    """The command-line spelling of a config field: ``val_split`` -> ``--val-split``."""
    return "--" + name.replace("_", "-")


def check_value(name: str, value) -> str | None:
    """What is wrong with ``value`` for the option ``name``, or None."""
    spec = CONFIG_FIELDS[name]
    if spec.metadata["choices"] and value not in spec.metadata["choices"]:
        return f"unknown value {value!r}; choose one of {', '.join(spec.metadata['choices'])}"
    check = spec.metadata["check"]
    return check(value) if check else None


def parse_option(name: str, text: str):
    """One option's value from text, typed and checked like the TrainConfig field ``name``.

    >>> parse_option("hidden", "512x2"), parse_option("lr", "1e-3")
    ([512, 512], 0.001)
    """
    default = getattr(TrainConfig(), name)
    if name == "hidden":
        value = parse_hidden(text)
    elif isinstance(default, bool):
        value = _parse_bool(text)
    elif isinstance(default, int) or name == "limit_train":
        value = _parse_int(text)
    elif isinstance(default, float):
        value = _parse_float(text)
    else:
        value = text
    problem = check_value(name, value)
    if problem:
        raise ValueError(problem)
    return value


def split_sizes(total: int, config: TrainConfig) -> tuple[int, int]:
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


# ----- data ----------------------------------------------------------------------------------


@dataclass
class Data:
    """Arrays ready for an MLP: images normalised with training statistics, as float32."""

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


Raw = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_raw(config: TrainConfig) -> Raw:
    """The dataset's train and test arrays, as the files hold them."""
    train = datasets.load_split(config.dataset, "train", root=config.data_root)
    test = datasets.load_split(config.dataset, "test", root=config.data_root)
    return train, test


def prepare_data(raw: Raw, config: TrainConfig) -> Data:
    """Split off validation images (by ``config.seed``), and normalise with training statistics."""
    (x, y), (x_test, y_test) = raw
    order = np.random.default_rng(config.seed).permutation(len(x))
    if config.limit_train is not None:
        order = order[: config.limit_train]
    _, n_val = split_sizes(len(order), config)
    val, train = order[:n_val], order[n_val:]
    mean, std = datasets.channel_stats(x[train])
    x_val = datasets.normalize(x[val], mean, std) if n_val else x[val]
    return Data(
        datasets.normalize(x[train], mean, std),
        y[train],
        x_val,
        y[val],
        datasets.normalize(x_test, mean, std),
        y_test,
        mean,
        std,
    )


def load_data(config: TrainConfig, statistics: dict | None = None) -> Data:
    """Load, split and normalise a dataset; images keep their shape (flattened per batch).

    With ``statistics`` (a finished run's normalisation), only the test set is loaded.

    >>> data = load_data(TrainConfig(dataset="fashion-mnist", limit_train=1000))
    """
    if statistics is None:
        return prepare_data(load_raw(config), config)
    x_test, y_test = datasets.load_split(config.dataset, "test", root=config.data_root)
    mean = np.asarray(statistics["mean"], dtype=np.float32)
    std = np.asarray(statistics["std"], dtype=np.float32)
    empty = x_test[:0]
    x_test = datasets.normalize(x_test, mean, std)
    return Data(empty, y_test[:0], empty, y_test[:0], x_test, y_test, mean, std)


def flat(x: np.ndarray) -> np.ndarray:
    """(N, ...) images as (N, features) rows for an MLP."""
    return x.reshape(len(x), -1)


# ----- model and optimiser -------------------------------------------------------------------


def build_model(config: TrainConfig, in_features: int, classes: int = 10) -> nn.MLP:
    """The MLP that ``config`` describes, its weights drawn from ``config.seed``."""
    return nn.MLP(
        in_features,
        config.hidden,
        classes,
        activation=config.activation,
        batchnorm=config.batchnorm,
        dropout=config.dropout,
        rng=config.seed,
    )


def build_optimizer(config: TrainConfig, model: nn.Module):
    """The optimiser and the learning-rate schedule (None for a constant rate)."""
    params = list(model.parameters())
    if config.optimizer == "sgd":
        optimizer = nn.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
        )
    elif config.optimizer == "adam":
        optimizer = nn.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = nn.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.schedule == "step":
        schedule = nn.optim.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    elif config.schedule == "cosine":
        schedule = nn.optim.CosineAnnealingLR(optimizer, T_max=config.epochs)
    else:
        schedule = None
    return optimizer, schedule


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 1000):
    """Mean cross-entropy, accuracy and class predictions, in evaluation mode, with no graph."""
    was_training = model.training
    model.eval()
    total_loss, predictions = 0.0, []
    with no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(TensorNode(flat(x[start : start + batch_size])))
            labels = y[start : start + batch_size]
            total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
            predictions.append(logits.value.argmax(axis=1))
    model.train(was_training)
    if not len(y):
        return float("nan"), float("nan"), np.zeros(0, dtype=np.int64)
    predictions = np.concatenate(predictions)
    return total_loss / len(y), float(np.mean(predictions == y)), predictions


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[i, j] = how many images of class i were predicted as class j."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


# ----- run folders ---------------------------------------------------------------------------

#: Files that mark a folder as a run's (or a grid's): only such folders may be overwritten.
RUN_MARKERS = ("config.json", "grid.json")


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
    path.write_text(json.dumps(finite_or_none(value), indent=2, allow_nan=False) + "\n")


def write_metrics(history: list[dict], out: Path) -> None:
    if not history:
        return
    rows = finite_or_none(history)
    with open(out / "metrics.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_json(out / "metrics.json", rows)


def run_title(config: TrainConfig) -> str:
    """The name of a run on its plots, e.g. ``fashion-mnist hidden=512-256_lr=0.001_epochs=15``."""
    keys = ("hidden", "lr", "epochs")
    return f"{config.dataset} " + "_".join(f"{k}={show_value(getattr(config, k))}" for k in keys)


# ----- one run -------------------------------------------------------------------------------


def train_one_epoch(model, optimizer, loader, config, rng, progress, epoch=1):
    """One pass over the training data; returns the mean loss and the accuracy seen.

    A loss that is NaN or infinite stops the pass with a DivergedError naming epoch and step.
    """
    model.train()
    total_loss = total_correct = seen = 0
    started = time.perf_counter()
    for step, (xb, yb) in enumerate(loader, 1):
        if config.augment:
            xb = datasets.augment(xb, config.dataset, rng)
        logits = model(TensorNode(flat(xb)))
        loss = F.cross_entropy(logits, yb)
        if not math.isfinite(loss.item()):
            raise DivergedError(
                f"the training loss became {loss.item()} at epoch {epoch}, step {step} with"
                f" --lr {optimizer.lr:g}: training diverged; try a lower --lr"
                f" (for example --lr {config.lr / 10:g})",
                epoch,
                step,
            )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

        total_loss += loss.item() * len(yb)
        total_correct += int((logits.value.argmax(axis=1) == yb).sum())
        seen += len(yb)
        progress.update(1)
        progress.set_postfix(
            loss=f"{total_loss / seen:.4f}",
            img_per_s=f"{seen / (time.perf_counter() - started):.0f}",
        )
    return total_loss / max(seen, 1), total_correct / max(seen, 1)


def resolved(config: TrainConfig, out: Path) -> TrainConfig:
    """The config as the run used it: the data folder actually read, and the output folder."""
    root = datasets.data_root(config.data_root)
    return dataclasses.replace(config, data_root=str(root.resolve()), out=str(out))


def fit(
    config: TrainConfig,
    data: Data | None = None,
    quiet: bool = False,
    overwrite: bool = False,
    announce: bool = True,
) -> dict:
    """Train as ``config`` says, write the run folder, and return a summary of the run.

    Raises DivergedError (after writing what was learned before) if the loss stops being finite.
    ``announce`` prints the run folder (first and last, even when ``quiet``) and the model; a
    grid turns it off and names its points itself.

    >>> summary = fit(TrainConfig(dataset="fashion-mnist", epochs=3, out="runs/fashion"))
    >>> summary["test_accuracy"]
    """
    config.validate()
    tqdm = import_optional("tqdm.auto").tqdm
    plots.require_pyplot()  # fail now, not after the last epoch
    chosen_here = config.out is None
    out = default_out(config.dataset) if chosen_here else Path(config.out)
    check_out(out, overwrite)
    config = resolved(config, out)
    data = data if data is not None else load_data(config)
    say = (lambda *args: None) if quiet else print
    if chosen_here:
        out = claim_new_folder(out, config.dataset)
        config = dataclasses.replace(config, out=str(out))
    else:
        make_out(out, overwrite)
    if announce:
        print(f"run folder: {out}")
    write_json(out / "config.json", dataclasses.asdict(config))
    write_json(out / "normalization.json", {"mean": data.mean.tolist(), "std": data.std.tolist()})
    nn.manual_seed(config.seed)  # anything not seeded below draws from here
    model = build_model(config, data.in_features)
    optimizer, schedule = build_optimizer(config, model)
    loader = datasets.DataLoader(
        data.x_train, data.y_train, config.batch_size, shuffle=True, rng=config.seed
    )
    rng = np.random.default_rng(config.seed)
    if announce:
        say(repr(model))
    say(f"training on {len(data.y_train)} images, validating on {len(data.y_val)}")

    history: list[dict] = []
    best_state, best_val = model.state_dict(), -math.inf
    interrupted, diverged = False, None
    started = time.perf_counter()
    # Overflow and NaN are caught by the loss check in train_one_epoch, with a better message.
    quiet_numpy = np.errstate(over="ignore", invalid="ignore", divide="ignore")
    try:
        with quiet_numpy:
            for epoch in range(1, config.epochs + 1):
                lr = optimizer.lr
                with tqdm(
                    total=len(loader),
                    desc=f"epoch {epoch}/{config.epochs}",
                    leave=False,
                    disable=quiet or None,  # None: a bar on a terminal, none in a log file
                ) as progress:
                    train_loss, train_acc = train_one_epoch(
                        model, optimizer, loader, config, rng, progress, epoch
                    )
                val_loss, val_acc, _ = evaluate(model, data.x_val, data.y_val)
                if schedule is not None:
                    schedule.step()
                history.append(
                    {
                        "epoch": epoch,
                        "lr": lr,
                        "train_loss": round(train_loss, 6),
                        "train_accuracy": round(train_acc, 6),
                        "val_loss": round(val_loss, 6),
                        "val_accuracy": round(val_acc, 6),
                        "seconds": round(time.perf_counter() - started, 2),
                    }
                )
                write_metrics(history, out)
                # With no validation split, the last epoch counts as the best.
                if np.isnan(val_acc) or val_acc > best_val:
                    best_state, best_val = model.state_dict(), val_acc
                say(
                    f"epoch {epoch:3d}  loss {train_loss:.4f}  train acc {train_acc:.4f}  "
                    f"val loss {val_loss:.4f}  val acc {val_acc:.4f}  "
                    f"({history[-1]['seconds']:.0f}s)"
                )
    except KeyboardInterrupt:
        interrupted = True
        say("\ninterrupted: saving what was trained so far")
    except DivergedError as error:
        diverged = error

    summary = {
        "test_accuracy": None,
        "best_val_accuracy": best_val if history else None,
        "epochs_completed": len(history),
        "interrupted": interrupted,
        "diverged": str(diverged) if diverged else None,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    if history:  # the best epoch's model; with no finished epoch there is nothing to keep
        model.load_state_dict(best_state)
        model.save(out / "model.npz")
        _, summary["test_accuracy"], predictions = evaluate(model, data.x_test, data.y_test)
        plots.plot_curves(finite_or_none(history), out / "curves.png", title=run_title(config))
        plots.plot_confusion(
            confusion_matrix(data.y_test, predictions),
            datasets.CLASS_NAMES[config.dataset],
            out / "confusion.png",
        )
    write_json(out / "summary.json", summary)
    if summary["test_accuracy"] is not None:
        say(f"test accuracy {summary['test_accuracy']:.4f}")
    if announce:
        print(f"run folder: {out}")
    if interrupted:
        raise KeyboardInterrupt
    if diverged:
        raise diverged
    return finite_or_none(summary)


def evaluate_run(run_dir: Path, data_root: str | None = None) -> dict:
    """Reload a run folder's configuration and model, and measure it on the test set.

    The data comes from ``data_root`` if given, else from the folder the run itself used.

    >>> evaluate_run(Path("runs/fashion-mnist"))["test_accuracy"]
    """
    needed = ("config.json", "normalization.json", "model.npz")
    missing = [name for name in needed if not (run_dir / name).is_file()]
    if missing:
        raise OptionError(
            "--evaluate", f"{run_dir} is not a finished run folder: {', '.join(missing)} missing"
        )
    try:
        config = TrainConfig(**json.loads((run_dir / "config.json").read_text()))
    except (TypeError, ValueError) as error:
        raise OptionError("--evaluate", f"{run_dir}/config.json is not readable: {error}") from None
    if data_root is not None:
        config.data_root = data_root
    # The test set is normalised with the run's training statistics, as in training.
    data = load_data(config, json.loads((run_dir / "normalization.json").read_text()))
    model = build_model(config, data.in_features).load(run_dir / "model.npz")
    _, test_acc, predictions = evaluate(model, data.x_test, data.y_test)
    return {
        "test_accuracy": test_acc,
        "confusion": confusion_matrix(data.y_test, predictions).tolist(),
    }


# ----- command line --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad value is one line: the option, what was wrong, where to read more."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _option_type(name: str) -> Callable[[str], object]:
    def parse(text: str):
        try:
            return parse_option(name, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def grid_keys() -> list[str]:
    """The options a --grid may vary: all but the dataset, its folder and the output folder."""
    return [name for name in CONFIG_FIELDS if name not in ("dataset", "data_root", "out")]


def build_parser() -> argparse.ArgumentParser:
    """The command line, one option per TrainConfig field (plus the commands), every default shown.

    Options not given are absent from the parsed namespace, so the caller knows what was given.
    """
    parser = _Parser(
        prog=PROG,
        description="Train an MLP on MNIST, Fashion-MNIST or CIFAR-10.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
        epilog="Each run writes to its own folder; see the README's training section.",
    )
    options = parser.add_argument_group("training options")
    defaults = TrainConfig()
    for name, spec in CONFIG_FIELDS.items():
        default = spec.metadata["unset"] or show_value(getattr(defaults, name))
        help_text = f"{spec.metadata['help']} (default: {default})"
        if isinstance(getattr(defaults, name), bool):
            options.add_argument(flag(name), action=argparse.BooleanOptionalAction, help=help_text)
        elif spec.metadata["choices"]:
            options.add_argument(flag(name), choices=spec.metadata["choices"], help=help_text)
        else:
            metavar = "DIR" if name in ("data_root", "out") else name.upper()
            options.add_argument(
                flag(name), type=_option_type(name), metavar=metavar, help=help_text
            )
    commands = parser.add_argument_group("what to do (default: train one run)")
    commands.add_argument(
        "--evaluate", metavar="RUN_DIR", default=None, help="measure a finished run on the test set"
    )
    commands.add_argument(
        "--grid",
        nargs="+",
        metavar="KEY=V1,V2",
        default=None,
        help="train every combination of the values; KEY is one of: " + ", ".join(grid_keys()),
    )
    commands.add_argument(
        "--overwrite",
        action="store_true",
        default=False,
        help="replace the run (or retrain the grid points) already in --out",
    )
    commands.add_argument(
        "--quiet", action="store_true", default=False, help="no progress bars or epoch lines"
    )
    return parser


def explain_missing_data(error: MissingDataError, can_change_dataset: bool = True) -> str:
    """What the command line can do about a dataset file that is not there."""
    root = error.path.parent.parent
    relative = error.path.relative_to(root)
    title = datasets.TITLES[error.dataset]
    could_not = ""
    if error.reason and error.reason != "download=False":
        could_not = f" and could not be downloaded ({error.reason})"
    message = (
        f"{title} file {error.path.name} is missing from {error.path.parent}{could_not}."
        f" Place it there, or give --data-root (or set AUTOGRAD_DATA to) a folder that holds"
        f" {relative}."
    )
    present = [name for name in datasets.available_datasets(root) if name != error.dataset]
    if present and can_change_dataset:
        offers = ", ".join(f"{datasets.TITLES[n]} (--dataset {n})" for n in present)
        message += f" Already in {root}: {offers}."
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nn.train``: returns the exit code (2 for a bad option or missing data)."""
    args = build_parser().parse_args(argv)
    given = {name: value for name, value in vars(args).items() if name in CONFIG_FIELDS}
    try:
        if args.evaluate is not None:
            extra = [flag(name) for name in given if name != "data_root"]
            extra += ["--grid"] * bool(args.grid) + ["--overwrite"] * args.overwrite
            if extra:
                raise OptionError(
                    "--evaluate",
                    f"{', '.join(extra)} would be ignored: a finished run keeps its own"
                    " configuration; --evaluate takes only --data-root and --quiet",
                )
            try:
                result = evaluate_run(Path(args.evaluate), given.get("data_root"))
            except MissingDataError as error:
                raise TrainError(explain_missing_data(error, can_change_dataset=False)) from None
            print(f"test accuracy {result['test_accuracy']:.4f}")
            return 0
        config = TrainConfig(**given)
        if args.grid:
            from nn import grid  # the grid builds on this module, so it is imported here

            grid.run_grid(
                config, grid.parse_grid(args.grid), quiet=args.quiet, overwrite=args.overwrite
            )
        else:
            fit(config, quiet=args.quiet, overwrite=args.overwrite)
        return 0
    except MissingDataError as error:
        print(f"{PROG}: error: {explain_missing_data(error)}", file=sys.stderr)
        return 2
    except DivergedError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except (TrainError, DatasetError, MissingPackageError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
