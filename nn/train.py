"""Train an MLP or a CNN on MNIST, Fashion-MNIST or CIFAR-10 from the command line.

    python -m nn.train                                   # MNIST, the default recipe
    python -m nn.train --dataset fashion-mnist --epochs 3
    python -m nn.train --dataset fashion-mnist --model cnn --channels 32-64 --augment
    python -m nn.train --evaluate runs/mnist             # reload a run, report test accuracy
    python -m nn.train --grid lr=1e-3,1e-2 hidden=256,512x2 --epochs 5

A run writes to its own folder (``runs/<dataset>``, ``runs/<dataset>-2``, ... unless ``--out``
names one): ``config.json`` (every option, including the data folder used, so the run can be
reloaded), ``metrics.csv`` and ``metrics.json`` (one row per epoch, rewritten after each epoch so
an interrupted run loses nothing), ``model.npz`` (the best model by validation accuracy),
``summary.json``, ``curves.png`` and ``confusion.png``, and for a CNN ``filters.png`` (its first
layer's learnt filters). A folder that holds another run is never written into, unless
``--overwrite`` says so; then the old run is removed first.

This module holds the configuration, the loop, evaluation and the command line; the run folders
live in ``nn.runs``, the option machinery in ``nn.options``, the grid in ``nn.grid`` and the
pictures in ``nn.plots``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nn
from autograd import TensorNode, no_grad
from nn import data as datasets
from nn import functional as F
from nn import plots, runs
from nn.data.prepare import Data, as_images, flat, load_data, split_sizes
from nn.errors import (
    ArrayFileError,
    DatasetError,
    DivergedError,
    MissingDataError,
    MissingPackageError,
    OptionError,
    StateDictError,
    TrainError,
)
from nn.optional import import_optional
from nn.options import (
    Parser,
    add_options,
    at_least,
    check_value,
    conv_stages,
    flag,
    fraction,
    non_negative,
    option,
    parse_bool,
    parse_channels,
    parse_hidden,
    parse_int,
    parse_value,
    positive,
    widths,
)

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
MODELS = ("mlp", "cnn")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")

# ----- configuration -------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Every choice a run makes; each field is a command-line option. Defaults: the MNIST recipe.

    >>> TrainConfig(dataset="fashion-mnist", epochs=3, out="runs/fashion").validate()
    """

    dataset: str = option("mnist", "dataset to train on", choices=datasets.DATASETS)
    data_root: str | None = option(
        None, "dataset folder", unset="$AUTOGRAD_DATA, else a per-user cache", metavar="DIR"
    )
    model: str = option(
        "mlp", "network: an MLP, or a CNN (--channels, then --hidden)", choices=MODELS
    )
    channels: str = option(
        "32-64",
        "CNN stages, each 3x3 convolutions then a 2x2 max pool: 32-64, or 32x2-64x2 for two"
        " convolutions of 32 channels, pool, two of 64, pool",
        conv_stages,
        metavar="STAGES",
    )
    hidden: list[int] = option(
        lambda: [512, 256],
        "hidden widths (of a CNN: after its convolutions): 512-256, or 512x2 for two layers of 512",
        widths,
        parse=parse_hidden,
    )
    activation: str = option("relu", "activation after each hidden layer", choices=ACTIVATIONS)
    batchnorm: bool = option(True, "batch normalisation after each hidden Linear and each conv")
    dropout: float = option(0.2, "dropout probability after each hidden layer", fraction)
    optimizer: str = option("adam", "optimiser", choices=OPTIMIZERS)
    lr: float = option(1e-3, "learning rate", positive)
    momentum: float = option(0.9, "momentum (sgd only)", non_negative)
    nesterov: bool = option(False, "Nesterov momentum (sgd only)")
    weight_decay: float = option(0.0, "weight decay", non_negative)
    schedule: str = option("cosine", "learning-rate schedule over the epochs", choices=SCHEDULES)
    step_size: int = option(10, "epochs between decays (step schedule)", at_least(1))
    gamma: float = option(0.1, "decay factor (step schedule)", positive)
    epochs: int = option(15, "passes over the training images", at_least(1))
    batch_size: int = option(128, "images per step", at_least(1))
    val_split: float = option(0.1, "fraction of the training images held out", fraction)
    augment: bool = option(False, "random crops (shifts) and horizontal flips of training images")
    crop_padding: int | None = option(
        None,
        "zero padding of the random crops, in pixels; 0: no crops (with --augment)",
        at_least(0),
        unset="2 for the MNISTs, 4 for CIFAR-10",
        parse=parse_int,
    )
    flip: bool | None = option(
        None,
        "mirror each image left-right with probability 1/2: true or false (with --augment)",
        unset="true, but false for MNIST's digits",
        parse=parse_bool,
        metavar="BOOL",
    )
    seed: int = option(0, "seed of every random choice (split, init, dropout, order)", at_least(0))
    limit_train: int | None = option(
        None, "use only this many training images", at_least(1), unset="all", parse=parse_int
    )
    out: str | None = option(
        None,
        "output folder",
        unset="a new one: runs/<dataset>, runs/<dataset>-2, ...",
        metavar="DIR",
    )

    def validate(self) -> None:
        """Reject bad options before any data is loaded: an OptionError naming the option."""
        for spec in dataclasses.fields(self):
            problem = check_value(spec, getattr(self, spec.name))
            if problem:
                raise OptionError(flag(spec.name), problem)
        if not self.augment:
            for name in ("crop_padding", "flip"):
                if getattr(self, name) is not None:
                    raise OptionError(
                        flag(name), "needs --augment: without it there is no crop or flip"
                    )
        if self.model == "cnn":
            stages, side = (
                len(parse_channels(self.channels)),
                min(datasets.IMAGE_SHAPES[self.dataset][1:]),
            )
            if side >> stages < 1:
                raise OptionError(
                    "--channels",
                    f"{stages} stages each halve the image, but {self.dataset}'s {side}x{side}"
                    f" images allow at most {side.bit_length() - 1}",
                )
        total = datasets.TRAIN_SIZES[self.dataset]
        split_sizes(total if self.limit_train is None else min(total, self.limit_train), self)


CONFIG_FIELDS = {spec.name: spec for spec in dataclasses.fields(TrainConfig)}


def parse_option(name: str, text: str):
    """One option's value from text, typed and checked like the TrainConfig field ``name``.

    >>> parse_option("hidden", "512x2"), parse_option("lr", "1e-3")
    ([512, 512], 0.001)
    """
    return parse_value(CONFIG_FIELDS[name], text)


def grid_keys() -> list[str]:
    """The options a --grid may vary: all but the dataset, its folder and the output folder."""
    return [name for name in CONFIG_FIELDS if name not in ("dataset", "data_root", "out")]


# ----- model and optimiser -------------------------------------------------------------------


def build_model(
    config: TrainConfig, image_shape: int | Sequence[int], classes: int = 10
) -> nn.MLP | nn.CNN:
    """The MLP or CNN that ``config`` describes, its weights drawn from ``config.seed``.

    ``image_shape`` is one image's (C, H, W) or (H, W); an MLP takes a number of features too.

    >>> build_model(TrainConfig(model="cnn", channels="32-64", hidden=[128]), (1, 28, 28))
    """
    if config.model == "cnn":
        if isinstance(image_shape, int) or len(image_shape) not in (2, 3):
            raise ValueError(f"a CNN needs the image shape (C, H, W), got {image_shape!r}")
        channels, height, width = (1, *image_shape) if len(image_shape) == 2 else image_shape
        return nn.CNN(
            channels,
            (height, width),
            parse_channels(config.channels),
            config.hidden,
            classes,
            activation=config.activation,
            batchnorm=config.batchnorm,
            dropout=config.dropout,
            rng=config.seed,
        )
    return nn.MLP(
        int(np.prod(image_shape)),
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


def model_input(model: nn.Module, images: np.ndarray) -> TensorNode:
    """A batch of images as the model takes them: NCHW for a CNN, rows of features for an MLP."""
    return TensorNode(as_images(images) if isinstance(model, nn.CNN) else flat(images))


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int = 250):
    """Mean cross-entropy, accuracy and class predictions, in evaluation mode, with no graph."""
    was_training = model.training
    model.eval()
    total_loss, predictions = 0.0, []
    with no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(model_input(model, x[start : start + batch_size]))
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


def train_one_epoch(model, optimizer, loader, config, rng, progress, epoch=1):
    """One pass over the training data; returns the mean loss and the accuracy seen.

    A loss that is NaN or infinite stops the pass with a DivergedError naming epoch and step.
    """
    model.train()
    total_loss = total_correct = seen = 0
    started = time.perf_counter()
    for step, (xb, yb) in enumerate(loader, 1):
        if config.augment:
            xb = datasets.augment(xb, config.dataset, rng, config.crop_padding, config.flip)
        logits = model(model_input(model, xb))
        loss = F.cross_entropy(logits, yb)
        if not math.isfinite(loss.item()):
            loss_value = loss.item()
            # The error's traceback keeps this frame: free the graph, which holds the parameters
            # read-only, so that the best epoch's parameters can be loaded back.
            del logits, loss
            raise DivergedError(
                f"the training loss became {loss_value} at epoch {epoch}, step {step} with"
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
    out = runs.choose_out(config.out, config.dataset, overwrite)
    config = runs.resolved(config, out)
    data = data if data is not None else load_data(config)  # no folder yet if this fails
    say = (lambda *args: None) if quiet else print
    out = runs.create_out(out, config.dataset, chosen_here, overwrite)
    config = dataclasses.replace(config, out=str(out))
    if announce:
        print(f"run folder: {out}")
    runs.write_json(out / "config.json", dataclasses.asdict(config))
    statistics = {"mean": data.mean.tolist(), "std": data.std.tolist()}
    runs.write_json(out / "normalization.json", statistics)
    nn.manual_seed(config.seed)  # anything not seeded below draws from here
    model = build_model(config, data.image_shape)
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
    started, cpu_started = time.perf_counter(), time.process_time()
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
                runs.write_metrics(history, out)
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

    seconds = time.perf_counter() - started
    summary = runs.new_summary(history, best_val, interrupted, diverged, seconds)
    # On a shared machine the wall-clock time grows with the others' load; the CPU time does not.
    summary["train_cpu_seconds"] = round(time.process_time() - cpu_started, 2)
    if history:  # the best epoch's model; with no finished epoch there is nothing to keep
        model.load_state_dict(best_state)
        model.save(out / "model.npz")
        _, summary["test_accuracy"], predictions = evaluate(model, data.x_test, data.y_test)
        plots.plot_curves(
            runs.finite_or_none(history), out / "curves.png", title=runs.run_title(config)
        )
        plots.plot_confusion(
            confusion_matrix(data.y_test, predictions),
            datasets.CLASS_NAMES[config.dataset],
            out / "confusion.png",
        )
        if isinstance(model, nn.CNN):
            plots.plot_filters(model.first_filters(), out / "filters.png", runs.run_title(config))
    summary = runs.write_summary(out, summary)
    if summary["test_accuracy"] is not None:
        say(f"test accuracy {summary['test_accuracy']:.4f}")
    if announce:
        print(f"run folder: {out}")
    if interrupted:
        raise KeyboardInterrupt
    if diverged:
        raise diverged
    return summary


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
    config = runs.read_config(run_dir / "config.json", TrainConfig)
    if data_root is not None:
        config.data_root = data_root
    # The test set is normalised with the run's training statistics, as in training.
    data = load_data(config, json.loads((run_dir / "normalization.json").read_text()))
    try:
        model = build_model(config, data.image_shape).load(run_dir / "model.npz")
    except ArrayFileError as error:
        raise OptionError("--evaluate", str(error)) from None
    except StateDictError as error:
        raise OptionError("--evaluate", f"{run_dir / 'model.npz'}: {error}") from None
    _, test_acc, predictions = evaluate(model, data.x_test, data.y_test)
    return {
        "test_accuracy": test_acc,
        "confusion": confusion_matrix(data.y_test, predictions).tolist(),
    }


# ----- command line --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line, one option per TrainConfig field (plus the commands), every default shown.

    Options not given are absent from the parsed namespace, so the caller knows what was given.
    """
    parser = Parser(
        prog=PROG,
        description="Train an MLP or a CNN on MNIST, Fashion-MNIST or CIFAR-10.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
        epilog="Each run writes to its own folder; see the README's training section.",
    )
    add_options(parser.add_argument_group("training options"), TrainConfig)
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
                raise TrainError(
                    datasets.explain_missing(error, can_change_dataset=False)
                ) from None
            print(f"test accuracy {result['test_accuracy']:.4f}")
            return 0
        config = TrainConfig(**given)
        if "channels" in given and config.model != "cnn":
            raise OptionError("--channels", "shapes the stages of a CNN: add --model cnn")
        if args.grid:
            from nn import grid  # the grid builds on this module, so it is imported here

            grid.run_grid(
                config, grid.parse_grid(args.grid), quiet=args.quiet, overwrite=args.overwrite
            )
        else:
            fit(config, quiet=args.quiet, overwrite=args.overwrite)
        return 0
    except MissingDataError as error:
        print(f"{PROG}: error: {datasets.explain_missing(error)}", file=sys.stderr)
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
