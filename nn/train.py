"""Train an MLP on MNIST, Fashion-MNIST or CIFAR-10 from the command line.

    python -m nn.train                                   # MNIST, the default recipe
    python -m nn.train --dataset fashion-mnist --epochs 3
    python -m nn.train --evaluate runs/mnist             # reload a run, report test accuracy
    python -m nn.train --grid lr=1e-3,1e-2 hidden=256,512x2 --epochs 5

A run writes to its output folder: ``config.json`` (every option, so the run can be reloaded),
``metrics.csv`` and ``metrics.json`` (one row per epoch, rewritten after each epoch so an
interrupted run loses nothing), ``model.npz`` (the best model by validation accuracy),
``curves.png`` (loss and accuracy per epoch) and ``confusion.png`` (on the test set).
A grid writes one such folder per point plus ``results.csv``, ``results.md`` and
``validation.png``, and skips the points already finished when it is run again.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import nn
from autograd import TensorNode, no_grad
from nn import data as datasets
from nn import functional as F

DATASETS = ("mnist", "fashion-mnist", "cifar10")
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
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")


class TrainError(Exception):
    """A problem found before training starts (bad option, unwritable folder, missing data)."""


@dataclass
class TrainConfig:
    """Every choice a run makes. The defaults are the MNIST recipe (see README)."""

    dataset: str = "mnist"
    data_root: str | None = None
    hidden: list[int] = field(default_factory=lambda: [512, 256])
    activation: str = "relu"
    batchnorm: bool = True
    dropout: float = 0.2
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "cosine"
    step_size: int = 10
    gamma: float = 0.1
    epochs: int = 15
    batch_size: int = 128
    val_split: float = 0.1
    augment: bool = False
    seed: int = 0
    limit_train: int | None = None
    out: str = "runs/latest"

    def validate(self) -> None:
        """Reject bad options before any data is loaded or any training starts."""
        if self.dataset not in DATASETS:
            raise TrainError(f"unknown dataset {self.dataset!r}; choose one of {DATASETS}")
        if self.optimizer not in OPTIMIZERS:
            raise TrainError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.schedule not in SCHEDULES:
            raise TrainError(f"unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        if self.activation not in ("relu", "sigmoid", "tanh"):
            raise TrainError(f"unknown activation {self.activation!r}; use relu, sigmoid or tanh")
        if not self.hidden or any(width < 1 for width in self.hidden):
            raise TrainError(f"hidden sizes must be positive, got {self.hidden}")
        if not 0.0 <= self.val_split < 1.0:
            raise TrainError(f"--val-split must lie in [0, 1), got {self.val_split}")
        if not 0.0 <= self.dropout < 1.0:
            raise TrainError(f"--dropout must lie in [0, 1), got {self.dropout}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise TrainError(f"--{name.replace('_', '-')} must be at least 1")
        if self.lr <= 0:
            raise TrainError(f"--lr must be positive, got {self.lr}")


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


def load_data(config: TrainConfig, statistics: dict | None = None) -> Data:
    """Load, split and normalise a dataset; images keep their shape (flattened per batch).

    With ``statistics`` (a finished run's normalisation), only the test set is loaded.
    """
    root = config.data_root
    x_test, y_test = datasets.load_split(config.dataset, "test", root=root)
    if statistics is not None:
        mean = np.asarray(statistics["mean"], dtype=np.float32)
        std = np.asarray(statistics["std"], dtype=np.float32)
        empty = x_test[:0]
        x_test = datasets.normalize(x_test, mean, std)
        return Data(empty, y_test[:0], empty, y_test[:0], x_test, y_test, mean, std)
    x, y = datasets.load_split(config.dataset, "train", root=root)
    order = np.random.default_rng(config.seed).permutation(len(x))
    if config.limit_train is not None:
        order = order[: config.limit_train]
    n_val = int(round(len(order) * config.val_split))
    val, train = order[:n_val], order[n_val:]
    x_train, y_train, x_val, y_val = x[train], y[train], x[val], y[val]
    mean, std = datasets.channel_stats(x_train)
    return Data(
        datasets.normalize(x_train, mean, std),
        y_train,
        datasets.normalize(x_val, mean, std) if n_val else x_val,
        y_val,
        datasets.normalize(x_test, mean, std),
        y_test,
        mean,
        std,
    )


#: Per dataset: the padding for random shifts, and whether mirror images are allowed
#: (a mirrored digit is another symbol; a mirrored shirt is still a shirt).
AUGMENTATION = {"mnist": (2, False), "fashion-mnist": (2, True), "cifar10": (4, True)}


def augment(images: np.ndarray, dataset: str, rng: np.random.Generator) -> np.ndarray:
    """Random shifts (pad, then crop back) and, where they make sense, horizontal flips."""
    padding, flip = AUGMENTATION[dataset]
    batch = images if images.ndim == 4 else images[:, np.newaxis]  # grey: one channel
    batch = datasets.random_crop(batch, padding, rng)
    if flip:
        batch = datasets.random_horizontal_flip(batch, rng=rng)
    return batch.reshape(images.shape)


def flat(x: np.ndarray) -> np.ndarray:
    """(N, ...) images as (N, features) rows for an MLP."""
    return x.reshape(len(x), -1)


# ----- model and optimiser -------------------------------------------------------------------


def build_model(config: TrainConfig, in_features: int, classes: int = 10) -> nn.MLP:
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


# ----- one run -------------------------------------------------------------------------------


def prepare_output(path: Path) -> Path:
    """Create the output folder and prove it is writable, before any training."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as error:
        raise TrainError(
            f"cannot write to the output folder {path}: {error.strerror or error}; "
            "choose another with --out"
        ) from None
    return path


def write_metrics(history: list[dict], out: Path) -> None:
    if not history:
        return
    with open(out / "metrics.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
    (out / "metrics.json").write_text(json.dumps(history, indent=2))


def train_one_epoch(model, optimizer, loader, config, rng, progress) -> tuple[float, float]:
    """One pass over the training data; returns the mean loss and the accuracy seen."""
    model.train()
    total_loss = total_correct = seen = 0
    started = time.perf_counter()
    for xb, yb in loader:
        if config.augment:
            xb = augment(xb, config.dataset, rng)
        logits = model(TensorNode(flat(xb)))
        loss = F.cross_entropy(logits, yb)
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


def fit(config: TrainConfig, data: Data | None = None, quiet: bool = False) -> dict:
    """Train as ``config`` says, write the run folder, and return a summary of the run.

    >>> summary = fit(TrainConfig(dataset="fashion-mnist", epochs=3, out="runs/fashion"))
    >>> summary["test_accuracy"]
    """
    from tqdm.auto import tqdm

    config.validate()
    out = prepare_output(Path(config.out))
    data = data if data is not None else load_data(config)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))
    statistics = {"mean": data.mean.tolist(), "std": data.std.tolist()}
    (out / "normalization.json").write_text(json.dumps(statistics))
    say = (lambda *args: None) if quiet else print

    model = build_model(config, data.in_features)
    optimizer, schedule = build_optimizer(config, model)
    loader = datasets.DataLoader(
        data.x_train, data.y_train, config.batch_size, shuffle=True, seed=config.seed
    )
    rng = np.random.default_rng(config.seed)
    say(f"{model!r}\ntraining on {len(data.y_train)} images, validating on {len(data.y_val)}")

    history: list[dict] = []
    best_state, best_val = model.state_dict(), -1.0
    interrupted = False
    started = time.perf_counter()
    try:
        for epoch in range(1, config.epochs + 1):
            lr = optimizer.lr
            with tqdm(
                total=len(loader),
                desc=f"epoch {epoch}/{config.epochs}",
                leave=False,
                disable=quiet or None,  # None: a bar on a terminal, none in a log file
            ) as progress:
                train_loss, train_acc = train_one_epoch(
                    model, optimizer, loader, config, rng, progress
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

    if history:
        model.load_state_dict(best_state)
    model.save(out / "model.npz")
    _, test_acc, predictions = evaluate(model, data.x_test, data.y_test)
    confusion = confusion_matrix(data.y_test, predictions)
    summary = {
        "test_accuracy": test_acc,
        "best_val_accuracy": best_val if history else None,
        "epochs_completed": len(history),
        "interrupted": interrupted,
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    plot_curves(history, out / "curves.png", title=f"{config.dataset}: {config.hidden}")
    plot_confusion(confusion, CLASS_NAMES[config.dataset], out / "confusion.png")
    say(f"test accuracy {test_acc:.4f}  (run folder: {out})")
    if interrupted:
        raise KeyboardInterrupt
    return summary


def evaluate_run(run_dir: Path, data_root: str | None = None) -> dict:
    """Reload a run folder's configuration and model, and measure it on the test set."""
    needed = ("config.json", "normalization.json", "model.npz")
    missing = [name for name in needed if not (run_dir / name).is_file()]
    if missing:
        raise TrainError(f"{run_dir} is not a finished run folder: {', '.join(missing)} missing")
    config = TrainConfig(**json.loads((run_dir / "config.json").read_text()))
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


# ----- plots ---------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no screen needed
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: list[dict], path: Path, title: str = "") -> None:
    """Loss and accuracy per epoch, train and validation."""
    if not history:
        return
    plt = _pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, [row["train_loss"] for row in history], marker="o", label="train")
    loss_ax.plot(epochs, [row["val_loss"] for row in history], marker="o", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.plot(epochs, [row["train_accuracy"] for row in history], marker="o", label="train")
    acc_ax.plot(epochs, [row["val_accuracy"] for row in history], marker="o", label="validation")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(counts: np.ndarray, class_names: Sequence[str], path: Path) -> None:
    """The confusion matrix as a heat map, with the counts written in each cell."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(counts, cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (test set)")
    threshold = counts.max() / 2 if counts.size else 0
    for (i, j), count in np.ndenumerate(counts):
        color = "white" if count > threshold else "black"
        ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color=color)
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----- grids ---------------------------------------------------------------------------------


def parse_value(key: str, text: str):
    """One grid value, typed like the TrainConfig field ``key``.

    >>> parse_value("hidden", "512x2"), parse_value("hidden", "256-128"), parse_value("lr", "1e-3")
    ([512, 512], [256, 128], 0.001)
    """
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if key not in fields or key in ("out", "data_root"):
        options = sorted(set(fields) - {"out", "data_root"})
        raise TrainError(f"--grid: unknown option {key!r}; choose among {options}")
    default = getattr(TrainConfig(), key)
    try:
        if key == "hidden":
            if "x" in text:
                width, count = text.split("x")
                return [int(width)] * int(count)
            return [int(width) for width in text.split("-")]
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, int) or key == "limit_train":
            return int(text)
        if isinstance(default, float):
            return float(text)
        return text
    except ValueError:
        raise TrainError(f"--grid: cannot read {text!r} as a value of {key}") from None


def parse_grid(items: Sequence[str]) -> dict[str, list]:
    """``["lr=1e-3,1e-2", "hidden=256,512x2"]`` as ``{"lr": [...], "hidden": [...]}``."""
    grid = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values:
            raise TrainError(f"--grid: expected key=value1,value2,... got {item!r}")
        grid[key] = [parse_value(key, value) for value in values.split(",")]
    return grid


def point_name(point: dict) -> str:
    """A folder name for one grid point, e.g. ``hidden=512x2_lr=0.01``."""

    def show(value):
        if isinstance(value, list):
            return f"{value[0]}x{len(value)}" if len(set(value)) == 1 else "-".join(map(str, value))
        return str(value)

    return "_".join(f"{key}={show(value)}" for key, value in point.items())


def run_grid(base: TrainConfig, grid: dict[str, list], quiet: bool = False) -> list[dict]:
    """Train every combination of the grid's values; finished points are not run again."""
    base.validate()
    root = prepare_output(Path(base.out))
    data = load_data(base)
    keys = list(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    results = []
    for number, point in enumerate(points, 1):
        config = dataclasses.replace(base, out=str(root / point_name(point)), **point)
        if config.dataset != base.dataset or config.val_split != base.val_split:
            raise TrainError("--grid cannot vary the dataset or the validation split")
        config.validate()
        done = Path(config.out) / "summary.json"
        print(f"[{number}/{len(points)}] {point_name(point)}", end="")
        if done.is_file() and not json.loads(done.read_text())["interrupted"]:
            print("  (done already, skipped)")
        else:
            print()
            fit(config, data, quiet=quiet)
        summary = json.loads(done.read_text())
        history = json.loads((Path(config.out) / "metrics.json").read_text())
        results.append({**point, **summary, "history": history, "folder": config.out})
    write_grid_results(results, keys, root)
    return results


def write_grid_results(results: list[dict], keys: list[str], root: Path) -> None:
    """results.csv and results.md, best validation accuracy first, and validation.png."""
    ranked = sorted(results, key=lambda row: -(row["best_val_accuracy"] or 0))
    columns = [*keys, "best_val_accuracy", "test_accuracy", "epochs_completed", "train_seconds"]
    with open(root / "results.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in ranked:
            writer.writerow([row[column] for column in columns])
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(row[column]) for column in columns) + " |" for row in ranked),
    ]
    (root / "results.md").write_text("\n".join(lines) + "\n")

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for row in ranked:
        epochs = [entry["epoch"] for entry in row["history"]]
        ax.plot(epochs, [entry["val_accuracy"] for entry in row["history"]], marker=".",
                label=point_name({key: row[key] for key in keys}))  # fmt: skip
    ax.set(xlabel="epoch", ylabel="validation accuracy", title="grid: validation accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(root / "validation.png", dpi=100)
    plt.close(fig)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list):
        return "-".join(map(str, value))
    return str(value)


# ----- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m nn.train",
        description="Train an MLP on MNIST, Fashion-MNIST or CIFAR-10.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    parser.add_argument(
        "--data-root", help="dataset folder (default: $AUTOGRAD_DATA, else a per-user cache)"
    )
    parser.add_argument(
        "--hidden",
        default="-".join(map(str, defaults.hidden)),
        help="hidden widths: 512-256, or 512x2 for two layers of 512",
    )
    parser.add_argument("--activation", choices=("relu", "sigmoid", "tanh"), default="relu")
    parser.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=defaults.optimizer)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--momentum", type=float, default=defaults.momentum, help="SGD only")
    parser.add_argument("--nesterov", action="store_true", help="SGD only")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--schedule", choices=SCHEDULES, default=defaults.schedule)
    parser.add_argument("--step-size", type=int, default=defaults.step_size, help="step schedule")
    parser.add_argument("--gamma", type=float, default=defaults.gamma, help="step schedule")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--val-split", type=float, default=defaults.val_split)
    parser.add_argument(
        "--augment", action="store_true", help="random shifts, and flips except for MNIST"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--limit-train", type=int, help="use only this many training images")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<dataset>)")
    parser.add_argument("--evaluate", metavar="RUN_DIR", help="evaluate a finished run")
    parser.add_argument("--grid", nargs="+", metavar="KEY=V1,V2", help="train every combination")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    hidden = parse_value("hidden", args.hidden)
    return TrainConfig(
        dataset=args.dataset,
        data_root=args.data_root,
        hidden=hidden,
        activation=args.activation,
        batchnorm=args.batchnorm,
        dropout=args.dropout,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        nesterov=args.nesterov,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        step_size=args.step_size,
        gamma=args.gamma,
        epochs=args.epochs,
        batch_size=args.batch_size,
        val_split=args.val_split,
        augment=args.augment,
        seed=args.seed,
        limit_train=args.limit_train,
        out=args.out or os.path.join("runs", args.dataset + ("-grid" if args.grid else "")),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.evaluate:
            result = evaluate_run(Path(args.evaluate), args.data_root)
            print(f"test accuracy {result['test_accuracy']:.4f}")
            return 0
        config = config_from_args(args)
        if args.grid:
            results = run_grid(config, parse_grid(args.grid), quiet=args.quiet)
            print((Path(config.out) / "results.md").read_text())
            print(f"{len(results)} points; results in {config.out}")
        else:
            fit(config, quiet=args.quiet)
        return 0
    except (TrainError, datasets.DatasetError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
