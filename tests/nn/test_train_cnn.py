"""The training command with ``--model cnn``: images reach the network as NCHW in their own
shape, augmentation is chosen by options, and the run folder shows the first layer's filters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nn
from nn import data as datasets
from nn import grid, train
from nn.errors import OptionError
from nn.options import parse_channels

REPO = Path(__file__).parents[2]
SHARED = Path(os.environ.get("AUTOGRAD_DATA") or REPO / "../shared/data").resolve()
PNG = b"\x89PNG\r\n\x1a\n"


def _require_fashion_mnist() -> None:
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        if not (SHARED / "fashion-mnist" / name).is_file():
            pytest.skip(f"{SHARED / 'fashion-mnist' / name} is not available")


def run_command(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m nn.train ARGS`` as a user types it, with AUTOGRAD_DATA set."""
    environment = {**os.environ, "AUTOGRAD_DATA": str(SHARED)}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "nn.train", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
    )


def record_input_shapes(monkeypatch) -> list[tuple]:
    """Every input shape a CNN is called with, from here on."""
    shapes: list[tuple] = []
    forward = nn.CNN.forward

    def recording(self, x):
        shapes.append(np.shape(x))
        return forward(self, x)

    monkeypatch.setattr(nn.CNN, "forward", recording)
    return shapes


# ----- the command, as a user runs it ---------------------------------------------------------


def test_a_small_cnn_trained_one_epoch_on_3000_fashion_mnist_images_passes_75_percent(tmp_path):
    _require_fashion_mnist()
    result = run_command(
        tmp_path,
        "--dataset", "fashion-mnist", "--model", "cnn", "--channels", "8-16", "--hidden", "32",
        "--limit-train", "3000", "--epochs", "1", "--batch-size", "32", "--lr", "3e-3",
        "--out", "run", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    out = tmp_path / "run"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs_completed"] == 1
    assert 0 < summary["train_cpu_seconds"]  # beside the wall-clock time, for shared machines
    assert summary["test_accuracy"] > 0.75  # on all 10,000 test images; chance is 0.10
    assert (out / "filters.png").read_bytes()[:8] == PNG
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "cnn" and config["channels"] == "8-16"
    # The saved model is a CNN that --evaluate rebuilds from config.json, to the same accuracy.
    evaluated = run_command(tmp_path, "--evaluate", "run")
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout.strip() == f"test accuracy {summary['test_accuracy']:.4f}"


def test_cifar10_cnn_pipeline_runs_end_to_end_on_format_exact_batches(
    tmp_path, monkeypatch, write_cifar_batches
):
    write_cifar_batches(tmp_path / "data" / "cifar-10-batches-py", per_batch=40)
    shapes = record_input_shapes(monkeypatch)
    out = tmp_path / "run"
    code = train.main(
        [
            "--dataset", "cifar10", "--data-root", str(tmp_path / "data"), "--model", "cnn",
            "--channels", "4x2-8", "--hidden", "16", "--augment", "--crop-padding", "4",
            "--flip", "true", "--epochs", "2", "--batch-size", "20", "--out", str(out), "--quiet",
        ]
    )  # fmt: skip
    assert code == 0

    # Every batch reached the network as colour images in their own shape, channels first.
    assert {shape[1:] for shape in shapes} == {(3, 32, 32)}
    config = json.loads((out / "config.json").read_text())
    assert (config["model"], config["channels"]) == ("cnn", "4x2-8")
    assert (config["augment"], config["crop_padding"], config["flip"]) == (True, 4, True)
    assert len(json.loads((out / "metrics.json").read_text())) == 2
    assert (out / "filters.png").read_bytes()[:8] == PNG
    model = train.build_model(train.TrainConfig(**config), (3, 32, 32)).load(out / "model.npz")
    assert model.first_filters().shape == (4, 3, 3, 3)
    assert 0.0 <= train.evaluate_run(out)["test_accuracy"] <= 1.0


def test_grey_images_reach_the_cnn_with_one_channel_axis(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.random((60, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 60)
    data = train.Data(x[:40], y[:40], x[40:50], y[40:50], x[50:], y[50:], np.zeros(1), np.ones(1))
    shapes = record_input_shapes(monkeypatch)
    config = train.TrainConfig(
        dataset="fashion-mnist", model="cnn", channels="4", hidden=[8], epochs=1,
        batch_size=16, augment=True, data_root=str(tmp_path), out=str(tmp_path / "run"),
    )  # fmt: skip
    train.fit(config, data, quiet=True)
    assert {shape[1:] for shape in shapes} == {(1, 28, 28)}
    assert [shape[0] for shape in shapes[:3]] == [16, 16, 8]  # the training batches


# ----- options --------------------------------------------------------------------------------


def test_channels_are_stages_of_convolutions_each_ending_in_a_pool():
    assert parse_channels("32-64") == [[32], [64]]
    assert parse_channels("32x2-64x3") == [[32, 32], [64, 64, 64]]
    model = train.build_model(
        train.TrainConfig(model="cnn", channels="8x2-16", hidden=[32], batchnorm=False),
        (1, 28, 28),
    )
    convs = [layer for layer in model.features if isinstance(layer, nn.Conv2d)]
    pools = [layer for layer in model.features if isinstance(layer, nn.MaxPool2d)]
    assert [conv.weight.shape for conv in convs] == [(8, 1, 3, 3), (8, 8, 3, 3), (16, 8, 3, 3)]
    assert len(pools) == 2
    assert model.head.layers[0].in_features == 16 * 7 * 7  # 28 -> 14 -> 7


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channels": "32,64"}, "--channels: expected channels per stage joined by '-'"),
        ({"channels": "32x0"}, "--channels: channels and convolutions per stage must be at"),
        ({"crop_padding": 2}, "--crop-padding: needs --augment"),
        ({"flip": True}, "--flip: needs --augment"),
        ({"crop_padding": -1, "augment": True}, "--crop-padding: must be at least 0"),
        ({"model": "resnet"}, "--model: unknown value 'resnet'"),
        ({"model": "cnn", "channels": "8-8-8-8-8"}, "--channels: 5 stages .* at most 4"),
    ],
)
def test_bad_cnn_options_are_named_before_training(changes, message):
    with pytest.raises(OptionError, match=message):
        train.TrainConfig(**changes).validate()


def test_channels_without_a_cnn_is_refused_rather_than_ignored(tmp_path, capsys):
    code = train.main(["--channels", "8-16", "--out", str(tmp_path / "run"), "--quiet"])
    error = capsys.readouterr().err
    assert code == 2 and "--channels" in error and "--model cnn" in error
    assert not (tmp_path / "run").exists()


def test_help_shows_the_model_the_architecture_and_the_augmentation_options(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--model {mlp,cnn}", "--channels STAGES", "--crop-padding", "--flip BOOL"):
        assert option in text
    assert "(default: 32-64)" in text and "(default: 2 for the MNISTs, 4 for CIFAR-10)" in text
    grid_keys = text.split("KEY is one of:")[1]
    for key in ("model", "channels", "crop_padding", "flip"):
        assert key in grid_keys


def test_a_grid_varies_the_architecture(tmp_path, capsys):
    _require_fashion_mnist()
    base = train.TrainConfig(
        dataset="fashion-mnist", data_root=str(SHARED), model="cnn", hidden=[8], epochs=1,
        limit_train=200, batch_size=50, out=str(tmp_path / "grid"),
    )  # fmt: skip
    points = grid.parse_grid(["channels=4,4x2-8"])
    assert points == {"channels": ["4", "4x2-8"]}
    results = grid.run_grid(base, points, quiet=True)
    assert sorted(row["run"] for row in results) == ["channels=4", "channels=4x2-8"]
    for name, first_layer in (("channels=4", 4), ("channels=4x2-8", 4)):
        config = train.TrainConfig(
            **json.loads((tmp_path / "grid" / name / "config.json").read_text())
        )
        model = train.build_model(config, (1, 28, 28)).load(tmp_path / "grid" / name / "model.npz")
        assert model.first_filters().shape == (first_layer, 1, 3, 3)
    with pytest.raises(
        OptionError, match="--grid: channels=4: channels shapes the stages of a CNN"
    ):
        grid.run_grid(train.TrainConfig(**{**vars(base), "model": "mlp"}), points, quiet=True)


# ----- augmentation ---------------------------------------------------------------------------


def test_augmentation_options_override_the_datasets_choices():
    rng = np.random.default_rng(0)
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10:18, 4:8] = 1.0  # a bar on the left
    # No padding and no flip: the images pass unchanged.
    assert np.array_equal(
        datasets.augment(image, "fashion-mnist", rng, padding=0, flip=False), image
    )
    # Flips asked for on MNIST: some digits are mirrored (the dataset alone would never do it).
    mirrored = [datasets.augment(image, "mnist", rng, padding=0, flip=True) for _ in range(20)]
    assert any(np.array_equal(m, image[:, :, ::-1]) for m in mirrored)
    assert all(np.array_equal(m, image) or np.array_equal(m, image[:, :, ::-1]) for m in mirrored)
    # A wider padding shifts further: up to 6 pixels, never more.
    shifted = [datasets.augment(image, "mnist", rng, padding=6) for _ in range(200)]
    columns = [np.flatnonzero(s[0].sum(axis=0))[0] for s in shifted if s.sum() == image.sum()]
    assert min(columns) == 0 and max(columns) == 10  # the bar starts at 4: 4 - 6 is cut off


def test_the_filters_picture_draws_grey_and_colour_filters(tmp_path):
    from nn import plots

    rng = np.random.default_rng(0)
    plots.plot_filters(rng.normal(size=(12, 1, 3, 3)), tmp_path / "grey.png", "grey")
    plots.plot_filters(rng.normal(size=(5, 3, 5, 5)), tmp_path / "colour.png")
    assert (tmp_path / "grey.png").read_bytes()[:8] == PNG
    assert (tmp_path / "colour.png").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match=r"\(out, in, kh, kw\)"):
        plots.plot_filters(np.zeros((3, 3)), tmp_path / "bad.png")


def test_the_readme_cnn_recipes_are_commands_the_parser_accepts():
    readme = (REPO / "README.md").read_text()
    recipes = re.findall(r'make train ARGS="([^"]*--model cnn[^"]*)"', readme)
    assert len(recipes) >= 4  # the example, two Fashion-MNIST recipes and CIFAR-10's
    for recipe in recipes:
        given = vars(train.build_parser().parse_args(recipe.split()))
        config = train.TrainConfig(**{k: v for k, v in given.items() if k in train.CONFIG_FIELDS})
        config.validate()
        assert config.model == "cnn"


def test_a_run_folders_flip_and_crop_padding_are_read_back_with_their_types(tmp_path):
    from nn import runs

    fields = {**vars(train.TrainConfig(model="cnn", augment=True)), "flip": True}
    (tmp_path / "config.json").write_text(json.dumps({**fields, "crop_padding": 3}))
    config = runs.read_config(tmp_path / "config.json", train.TrainConfig)
    assert (config.flip, config.crop_padding) == (True, 3)
    (tmp_path / "config.json").write_text(json.dumps({**fields, "flip": "yes"}))
    with pytest.raises(OptionError, match="'flip' is \"yes\", which is not true or false or null"):
        runs.read_config(tmp_path / "config.json", train.TrainConfig)
