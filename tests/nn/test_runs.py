"""Specification of nn/runs.py: which folder a run gets, when one is refused, what it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nn import runs
from nn.errors import OptionError
from nn.train import TrainConfig


def test_a_new_run_takes_the_next_free_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runs.choose_out(None, "mnist", overwrite=False) == Path("runs/mnist")
    Path("runs/mnist").mkdir(parents=True)
    Path("runs/mnist-2").mkdir()
    assert runs.choose_out(None, "mnist", overwrite=False) == Path("runs/mnist-3")
    # A run that took the chosen folder meanwhile pushes this one to the next.
    assert runs.create_out(Path("runs/mnist"), "mnist", chosen_here=True, overwrite=False) == Path(
        "runs/mnist-3"
    )


def test_a_folder_holding_a_run_is_refused_unless_overwrite_and_then_emptied(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "curves.png").write_text("old")
    with pytest.raises(OptionError, match="--out: .* already holds a run .*--overwrite"):
        runs.choose_out(str(out), "mnist", overwrite=False)
    assert runs.choose_out(str(out), "mnist", overwrite=True) == out
    runs.create_out(out, "mnist", chosen_here=False, overwrite=True)
    assert list(out.iterdir()) == []


def test_overwrite_never_replaces_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OptionError, match="not a training run's"):
        runs.choose_out(str(tmp_path), "mnist", overwrite=True)


def test_config_changes_name_each_changed_option_but_not_the_folder(tmp_path):
    before = TrainConfig(epochs=1, hidden=[16], out="a")
    runs.write_json(tmp_path / "config.json", before.__dict__)
    assert runs.config_changes(tmp_path, TrainConfig(epochs=1, hidden=[16], out="b")) == []
    now = TrainConfig(epochs=2, hidden=[16, 16], out="b")
    assert runs.config_changes(tmp_path, now) == ["hidden 16 -> 16-16", "epochs 1 -> 2"]
    assert runs.config_changes(tmp_path / "nothing", now) is None


def test_what_a_run_writes_is_strict_json(tmp_path):
    summary = runs.new_summary([], float("nan"), False, None, 1.234)
    summary["test_accuracy"] = float("inf")
    written = runs.write_summary(tmp_path, summary)
    assert written["test_accuracy"] is None and written["best_val_accuracy"] is None
    assert written["train_seconds"] == 1.23

    def refuse(constant):
        raise ValueError(constant)

    assert json.loads((tmp_path / "summary.json").read_text(), parse_constant=refuse) == written
    runs.write_metrics([{"epoch": 1, "val_loss": float("nan")}], tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text()) == [{"epoch": 1, "val_loss": None}]
    assert (tmp_path / "metrics.csv").read_text().splitlines() == ["epoch,val_loss", "1,"]


def test_finished_means_a_summary_of_a_run_that_was_not_interrupted(tmp_path):
    assert not runs.finished(tmp_path)
    runs.write_summary(tmp_path, runs.new_summary([{}], 0.5, True, None, 0.0))
    assert not runs.finished(tmp_path)
    runs.write_summary(tmp_path, runs.new_summary([{}], 0.5, False, None, 0.0))
    assert runs.finished(tmp_path)
