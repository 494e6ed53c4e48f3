"""``python -m nn.train --grid``: train every combination of some options, rank the results.

    python -m nn.train --grid lr=1e-3,1e-2 hidden=256,512x2 --epochs 5

The grid folder (``--out``, else ``runs/<dataset>-grid``) holds one run folder per point, named
by the point (``hidden=512-512_lr=0.01``: the same name in the tables and the plot), plus
``grid.json``, ``results.csv``, ``results.md`` and ``validation.png``. Run again, a point is
reused only if its whole configuration (``config.json``) equals the one asked for and it
finished; a point trained with another configuration is refused, saying what changed, unless
``--overwrite`` asks to retrain it.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

from nn import plots
from nn.data.prepare import load_raw, prepare_data
from nn.errors import DivergedError, OptionError
from nn.options import show_value
from nn.runs import config_changes, finished, resolved, write_json
from nn.train import TrainConfig, fit, grid_keys, parse_option

__all__ = ["parse_grid", "point_name", "run_grid"]


def parse_grid(items: Sequence[str]) -> dict[str, list]:
    """``["lr=1e-3,1e-2", "hidden=256,512x2"]`` as ``{"lr": [...], "hidden": [...]}``.

    >>> parse_grid(["lr=1e-3,1e-2", "hidden=256,512x2"])
    {'lr': [0.001, 0.01], 'hidden': [[256], [512, 512]]}
    """
    grid: dict[str, list] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values:
            raise OptionError("--grid", f"expected KEY=V1,V2,... got {item!r}")
        if key not in grid_keys():
            raise OptionError(
                "--grid", f"unknown option {key!r}; KEY is one of: {', '.join(grid_keys())}"
            )
        if key in grid:
            raise OptionError(
                "--grid", f"{key} is given twice; list all its values once: {key}=V1,V2,..."
            )
        parsed = []
        for text in values.split(","):
            try:
                parsed.append(parse_option(key, text))
            except ValueError as error:
                raise OptionError("--grid", f"cannot read {key}={text}: {error}") from None
            if parsed.count(parsed[-1]) > 1:  # the same point twice would share one folder
                raise OptionError(
                    "--grid", f"{key}={show_value(parsed[-1])} is given twice; list each value once"
                )
        grid[key] = parsed
    return grid


def point_name(point: dict) -> str:
    """A grid point's name, the same in its folder, the tables and the plot.

    >>> point_name({"hidden": [512, 512], "lr": 0.01})
    'hidden=512-512_lr=0.01'
    """
    return "_".join(f"{key}={show_value(value)}" for key, value in point.items())


def run_grid(
    base: TrainConfig, grid: dict[str, list], quiet: bool = False, overwrite: bool = False
) -> list[dict]:
    """Train every combination of the grid's values; finished, identical points are reused.

    >>> run_grid(TrainConfig(dataset="fashion-mnist", epochs=2), {"lr": [1e-3, 1e-2]})
    """
    base.validate()
    root = Path(base.out) if base.out is not None else Path("runs") / f"{base.dataset}-grid"
    if (root / "config.json").is_file():
        raise OptionError("--out", f"{root} holds a single run, not a grid; choose another folder")
    keys = list(grid)
    points = [dict(zip(keys, values)) for values in itertools.product(*grid.values())]
    configs = []
    for point in points:
        config = dataclasses.replace(base, out=None, **point)
        try:
            config.validate()
        except OptionError as error:
            raise OptionError("--grid", f"{point_name(point)}: {error}") from None
        if "channels" in grid and config.model != "cnn":
            raise OptionError(
                "--grid",
                f"{point_name(point)}: channels shapes the stages of a CNN; add --model cnn",
            )
        configs.append(resolved(config, root / point_name(point)))

    changed = {}
    for point, config in zip(points, configs):
        differences = config_changes(Path(config.out), config)
        if differences:
            changed[point_name(point)] = differences
    if changed and not overwrite:
        listing = "; ".join(f"{name}: {', '.join(diff)}" for name, diff in changed.items())
        raise OptionError(
            "--grid",
            f"{root} holds points trained with another configuration ({listing});"
            " give another --out, or add --overwrite to retrain them",
        )

    raw = load_raw(base)
    root.mkdir(parents=True, exist_ok=True)
    write_json(root / "grid.json", {"base": dataclasses.asdict(base), "grid": grid})
    results = []
    for number, (point, config) in enumerate(zip(points, configs), 1):
        name, folder = point_name(point), Path(config.out)
        reuse = finished(folder) and name not in changed
        print(f"[{number}/{len(points)}] {name}" + ("  (done already, skipped)" if reuse else ""))
        if not reuse:
            try:  # an unfinished point of this same configuration is ours to redo
                fit(config, prepare_data(raw, config), quiet=quiet, overwrite=True, announce=False)
            except DivergedError as error:
                print(f"  {error}")
        summary = json.loads((folder / "summary.json").read_text())
        history_file = folder / "metrics.json"
        history = json.loads(history_file.read_text()) if history_file.is_file() else []
        results.append({**point, **summary, "run": name, "history": history, "folder": str(folder)})
    write_grid_results(results, keys, root)
    print((root / "results.md").read_text())
    print(f"{len(results)} points; results in {root}")
    return results


def write_grid_results(results: list[dict], keys: list[str], root: Path) -> None:
    """results.csv and results.md, best validation accuracy first, and validation.png."""
    ranked = sorted(results, key=lambda row: -(row["best_val_accuracy"] or 0))
    columns = ["run", *keys, "best_val_accuracy", "test_accuracy", "epochs_completed"]
    columns.append("train_seconds")
    with open(root / "results.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in ranked:
            writer.writerow([_csv_cell(row[column]) for column in columns])
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(_cell(row[column]) for column in columns) + " |" for row in ranked),
    ]
    (root / "results.md").write_text("\n".join(lines) + "\n")
    histories = {row["run"]: row["history"] for row in ranked}
    plots.plot_validation(histories, root / "validation.png", f"grid {root.name}: validation")


def _csv_cell(value):
    if value is None:
        return ""
    return show_value(value) if isinstance(value, list | bool) else value


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else show_value(value)
