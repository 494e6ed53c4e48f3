"""The training command: runs end to end, writes its run folder, evaluates, grids, stops cleanly."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

from nn import data as datasets
from nn import train

SHARED = Path(os.environ.get("AUTOGRAD_DATA") or Path(__file__).parents[2] / "../shared/data")


def _require(dataset: str, *files: str) -> Path:
    for name in files:
        if not (SHARED / dataset / name).is_file():
            pytest.skip(f"{SHARED / dataset / name} is not available")
    return SHARED


@pytest.fixture(scope="module")
def fashion_small() -> train.Data:
    """3,150 Fashion-MNIST training images, 350 for validation, 1,000 test images."""
    _require("fashion-mnist", "train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    config = train.TrainConfig(dataset="fashion-mnist", data_root=str(SHARED), limit_train=3500)
    data = train.load_data(config)
    data.x_test, data.y_test = data.x_test[:1000], data.y_test[:1000]
    return data


def small_config(tmp_path: Path, **changes) -> train.TrainConfig:
    options = dict(
        dataset="fashion-mnist",
        data_root=str(SHARED),
        hidden=[64],
        epochs=2,
        batch_size=64,
        limit_train=3500,
        out=str(tmp_path / "run"),
    )
    options.update(changes)
    return train.TrainConfig(**options)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_fit_learns_fashion_mnist_and_writes_every_file_of_the_run_folder(tmp_path, fashion_small):
    config = small_config(tmp_path)
    summary = train.fit(config, fashion_small, quiet=True)

    out = Path(config.out)
    for name in ("config.json", "normalization.json", "metrics.csv", "metrics.json"):
        assert (out / name).is_file(), name
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_csv(out / "metrics.csv")
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert set(rows[0]) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"}
    assert json.loads((out / "metrics.json").read_text())[1]["epoch"] == 2
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    # Ten classes: chance is 10%; two epochs on 3,000 images reach well above it.
    assert summary["test_accuracy"] > 0.7
    best = max(float(row["val_accuracy"]) for row in rows)
    assert summary["best_val_accuracy"] == pytest.approx(best, abs=1e-6)
    assert not summary["interrupted"]


def test_evaluate_reloads_a_run_and_reproduces_its_test_accuracy(tmp_path, fashion_small):
    config = small_config(tmp_path, epochs=1)
    train.fit(config, fashion_small, quiet=True)
    # The run measured 1,000 test images; --evaluate measures all 10,000 from the files.
    model = train.build_model(config, 784).load(Path(config.out) / "model.npz")
    _, expected, _ = train.evaluate(model, fashion_small.x_test, fashion_small.y_test)
    result = train.evaluate_run(Path(config.out))
    assert 0.7 < result["test_accuracy"] <= 1.0
    confusion = np.array(result["confusion"])
    assert confusion.sum() == 10_000
    assert abs(result["test_accuracy"] - expected) < 0.05
    assert np.isclose(np.trace(confusion) / 10_000, result["test_accuracy"])


def test_the_best_model_by_validation_accuracy_is_the_one_saved(tmp_path, fashion_small):
    config = small_config(tmp_path, epochs=3, lr=0.05)  # a high rate makes epochs uneven
    train.fit(config, fashion_small, quiet=True)
    rows = read_csv(Path(config.out) / "metrics.csv")
    model = train.build_model(config, 784).load(Path(config.out) / "model.npz")
    _, val_accuracy, _ = train.evaluate(model, fashion_small.x_val, fashion_small.y_val)
    assert val_accuracy == pytest.approx(max(float(row["val_accuracy"]) for row in rows))


def test_ctrl_c_stops_after_saving_the_model_and_the_epochs_finished(
    tmp_path, fashion_small, monkeypatch
):
    real_epoch = train.train_one_epoch
    calls = []

    def interrupted_on_the_second_epoch(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(train, "train_one_epoch", interrupted_on_the_second_epoch)
    config = small_config(tmp_path, epochs=5)
    with pytest.raises(KeyboardInterrupt):
        train.fit(config, fashion_small, quiet=True)

    out = Path(config.out)
    assert len(read_csv(out / "metrics.csv")) == 1
    assert json.loads((out / "summary.json").read_text())["interrupted"] is True
    train.build_model(config, 784).load(out / "model.npz")  # a complete, loadable model


def test_main_returns_130_on_ctrl_c(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "fit", interrupt)
    assert train.main(["--out", str(tmp_path / "run"), "--quiet"]) == 130


def test_unknown_dataset_is_refused_by_the_command_line(capsys):
    with pytest.raises(SystemExit) as stop:
        train.main(["--dataset", "imagenet"])
    assert stop.value.code == 2
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err


def test_unwritable_output_folder_is_an_error_before_any_data_is_loaded(
    tmp_path, monkeypatch, capsys
):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    def no_loading(*args, **kwargs):
        raise AssertionError("data was loaded before the output folder was checked")

    monkeypatch.setattr(train, "load_data", no_loading)
    assert train.main(["--out", str(blocker / "run"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "cannot write to the output folder" in error and str(blocker) in error


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"val_split": 1.0}, "--val-split"),
        ({"dropout": 1.0}, "--dropout"),
        ({"epochs": 0}, "--epochs"),
        ({"lr": -1.0}, "--lr"),
        ({"hidden": []}, "--hidden: widths must be positive"),
        ({"optimizer": "lbfgs"}, "--optimizer: unknown value 'lbfgs'"),
    ],
)
def test_bad_options_are_reported_before_training(changes, message):
    with pytest.raises(train.TrainError, match=message):
        train.TrainConfig(**changes).validate()


def test_mnist_training_images_missing_here_give_a_clear_error(tmp_path, capsys):
    _require("mnist", "t10k-images-idx3-ubyte.gz")
    if (SHARED / "mnist" / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("the MNIST training images are present")
    code = train.main(["--data-root", str(SHARED), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_mnist_pipeline_trains_saves_and_evaluates_on_the_real_test_set(tmp_path):
    """Only MNIST's test set exists here: train on 6,000 of its images, validate on 1,000,
    then evaluate the saved run on the full, real test file through --evaluate."""
    _require("mnist", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    x, y = datasets.load_split("mnist", "test", root=SHARED)
    assert x.shape == (10_000, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    mean, std = datasets.channel_stats(x[:6000])
    normal = datasets.normalize(x, mean, std)
    data = train.Data(
        normal[:6000], y[:6000], normal[6000:7000], y[6000:7000],
        normal[7000:], y[7000:], mean, std,
    )  # fmt: skip
    config = train.TrainConfig(
        dataset="mnist", data_root=str(SHARED), hidden=[128], epochs=3, out=str(tmp_path / "m")
    )
    summary = train.fit(config, data, quiet=True)
    assert summary["test_accuracy"] > 0.9  # on 3,000 images the model never saw
    code = train.main(["--evaluate", str(tmp_path / "m")])
    assert code == 0


def test_cifar10_trains_end_to_end_with_augmentation_on_format_exact_batches(
    tmp_path, write_cifar_batches
):
    write_cifar_batches(tmp_path / "data" / "cifar-10-batches-py", per_batch=60)
    out = tmp_path / "run"
    code = train.main(
        [
            "--dataset", "cifar10", "--data-root", str(tmp_path / "data"), "--augment",
            "--hidden", "32", "--epochs", "2", "--batch-size", "32", "--out", str(out),
            "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "cifar10" and config["augment"] is True
    assert len(read_csv(out / "metrics.csv")) == 2
    assert train.evaluate_run(out)["test_accuracy"] >= 0.0


def test_augmentation_shifts_grey_digits_without_mirroring_them():
    rng = np.random.default_rng(0)
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10:18, 4:8] = 1.0  # a bar on the left
    shifted = [datasets.augment(image, "mnist", rng) for _ in range(50)]
    assert all(s.shape == (1, 28, 28) and s.sum() == image.sum() for s in shifted)
    assert any(not np.array_equal(s, image) for s in shifted)  # it does move
    # Never mirrored: the bar stays in the left half (a shift moves it by 2 pixels at most).
    assert all(s[0, :, 14:].sum() == 0 for s in shifted)
    mirrored = [datasets.augment(image, "fashion-mnist", rng) for _ in range(50)]
    assert any(s[0, :, 14:].sum() > 0 for s in mirrored)  # clothes may be flipped
