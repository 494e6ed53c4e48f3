"""The grid: values parsed like their options, points ranked, resumed only when unchanged."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from nn import grid, train

SHARED = Path(os.environ.get("AUTOGRAD_DATA") or Path(__file__).parents[2] / "../shared/data")


def _require(dataset: str, *files: str) -> None:
    for name in files:
        if not (SHARED / dataset / name).is_file():
            pytest.skip(f"{SHARED / dataset / name} is not available")


def small_config(tmp_path: Path, **changes) -> train.TrainConfig:
    options = dict(dataset="fashion-mnist", data_root=str(SHARED), hidden=[64], batch_size=64)
    options.update(changes)
    return train.TrainConfig(**options)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_grid_values_are_parsed_like_their_options():
    parsed = grid.parse_grid(["lr=1e-3,1e-2", "hidden=256,512x2,256-128", "batchnorm=true,false"])
    assert parsed == {
        "lr": [0.001, 0.01],
        "hidden": [[256], [512, 512], [256, 128]],
        "batchnorm": [True, False],
    }
    with pytest.raises(train.TrainError, match="--grid: unknown option 'colour'"):
        grid.parse_grid(["colour=red"])
    with pytest.raises(train.TrainError, match="--grid: cannot read lr=fast"):
        grid.parse_grid(["lr=fast"])


def test_grid_runs_every_point_ranks_them_and_resumes_without_redoing_finished_points(
    tmp_path, capsys
):
    _require("fashion-mnist", "train-images-idx3-ubyte.gz")
    base = small_config(tmp_path, epochs=1, limit_train=1000, out=str(tmp_path / "grid"))
    points = {"lr": [1e-3, 1e-2], "hidden": [[16], [32]]}
    results = grid.run_grid(base, points, quiet=True)
    assert len(results) == 4

    root = Path(base.out)
    rows = read_csv(root / "results.csv")
    accuracies = [float(row["best_val_accuracy"]) for row in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    assert (root / "results.md").read_text().count("\n") == 2 + 4
    assert (root / "validation.png").is_file()

    # Mark one point as interrupted: a second run redoes it, and only it.
    interrupted = root / grid.point_name({"lr": 0.01, "hidden": [32]}) / "summary.json"
    summary = json.loads(interrupted.read_text())
    interrupted.write_text(json.dumps({**summary, "interrupted": True}))
    capsys.readouterr()
    grid.run_grid(base, points, quiet=True)
    printed = capsys.readouterr().out
    assert printed.count("done already, skipped") == 3
    assert json.loads(interrupted.read_text())["interrupted"] is False
