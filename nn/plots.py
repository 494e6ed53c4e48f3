"""The pictures a run leaves behind: learning curves, the confusion matrix, a grid's comparison.

matplotlib is optional (the ``nn`` extra); `require_pyplot()` fails early, with one line saying
what to install, so a long run never dies at its last step for want of a plotting package.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nn.optional import import_optional


def require_pyplot():
    """matplotlib's pyplot, drawing to files only (no screen needed).

    >>> plt = require_pyplot()
    """
    matplotlib = import_optional("matplotlib")
    matplotlib.use("Agg")
    return import_optional("matplotlib.pyplot")


def _integer_epochs(ax) -> None:
    """Epochs are whole numbers: no tick at 1.5."""
    ax.xaxis.get_major_locator().set_params(integer=True)


def plot_curves(history: list[dict], path: Path, title: str = "") -> None:
    """Loss and accuracy per epoch, train and validation.

    >>> plot_curves([{"epoch": 1, "train_loss": 0.5, ...}], Path("curves.png"), "a run")
    """
    if not history:
        return
    plt = require_pyplot()
    epochs = [row["epoch"] for row in history]

    def column(name):  # a missing value (no validation split) is drawn as a gap
        return [np.nan if row[name] is None else row[name] for row in history]

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    loss_ax.plot(epochs, column("train_loss"), marker="o", label="train")
    loss_ax.plot(epochs, column("val_loss"), marker="o", label="validation")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    acc_ax.plot(epochs, column("train_accuracy"), marker="o", label="train")
    acc_ax.plot(epochs, column("val_accuracy"), marker="o", label="validation")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
        _integer_epochs(ax)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion(counts: np.ndarray, class_names: Sequence[str], path: Path) -> None:
    """The confusion matrix as a heat map, with the counts written in each cell.

    >>> plot_confusion(confusion_matrix(y_test, predictions), CLASS_NAMES["mnist"], path)
    """
    plt = require_pyplot()
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


def plot_validation(histories: dict[str, list[dict]], path: Path, title: str) -> None:
    """Validation accuracy per epoch, one line per named run (a grid's points).

    >>> plot_validation({"lr=0.01": history}, Path("validation.png"), "grid")
    """
    plt = require_pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, history in histories.items():
        epochs = [row["epoch"] for row in history]
        values = [np.nan if row["val_accuracy"] is None else row["val_accuracy"] for row in history]
        ax.plot(epochs, values, marker=".", label=name)
    ax.set(xlabel="epoch", ylabel="validation accuracy", title=title)
    ax.grid(alpha=0.3)
    _integer_epochs(ax)
    if histories:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_filters(weight: np.ndarray, path: Path, title: str = "") -> None:
    """A convolution's filters, one tile each, as the network learnt them.

    ``weight`` is (out_channels, in_channels, kh, kw). Colour filters (3 input channels) are
    drawn in colour, each stretched to the full range of brightness; others are drawn on one
    shared red (positive) to blue (negative) scale, white at zero, their input channels averaged.

    >>> plot_filters(model.first_filters(), Path("filters.png"), "first layer")
    """
    plt = require_pyplot()
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"expected filters shaped (out, in, kh, kw), got shape {weight.shape}")
    count = len(weight)
    columns = min(count, 8)
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(1.2 * columns, 1.2 * rows + 0.6), squeeze=False
    )
    colour = weight.shape[1] == 3
    limit = np.abs(weight).max() or 1.0
    for ax in axes.flat:
        ax.axis("off")
    for ax, kernel in zip(axes.flat, weight):
        if colour:  # (3, kh, kw) -> (kh, kw, 3), stretched to [0, 1]
            tile = kernel.transpose(1, 2, 0)
            spread = tile.max() - tile.min()
            ax.imshow((tile - tile.min()) / (spread or 1.0), interpolation="nearest")
        else:
            tile = kernel.mean(axis=0)
            ax.imshow(tile, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    size = "x".join(str(n) for n in weight.shape[2:])
    if colour:
        legend = f"the first convolution's {count} learnt {size} filters, in colour, each stretched"
    else:
        legend = (
            f"the first convolution's {count} learnt {size} filters: red positive, blue negative, "
            f"white 0 (one scale, -{limit:.2g} to {limit:.2g})"
        )
    fig.suptitle(f"{title}\n{legend}" if title else legend, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
