"""`python -m nn.train` as a user runs it: a subprocess on small slices of Fashion-MNIST.

Each test proves one promise of the command line: run folders never lie, and every mistake is
one line naming the option, with exit code 2 and no traceback. Data comes from AUTOGRAD_DATA
(the shared folder); nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
SHARED = Path(os.environ.get("AUTOGRAD_DATA") or REPO / "../shared/data").resolve()
TINY = [
    "--dataset", "fashion-mnist", "--limit-train", "300", "--epochs", "1", "--hidden", "16",
    "--batch-size", "64", "--quiet",
]  # fmt: skip
#: A refusing proxy: any download attempt fails at once, as it would offline.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}


@pytest.fixture(autouse=True)
def _fashion_mnist_present():
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        if not (SHARED / "fashion-mnist" / name).is_file():
            pytest.skip(f"{SHARED / 'fashion-mnist' / name} is not available")


def run(cwd: Path, *args: str, env: dict | None = None, code: str | None = None):
    """Run ``python -m nn.train ARGS`` in ``cwd`` with AUTOGRAD_DATA set (unless ``env`` says)."""
    environment = {**os.environ, "AUTOGRAD_DATA": str(SHARED), **OFFLINE}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")])
    for key, value in (env or {}).items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    command = ["-c", code, *args] if code else ["-m", "nn.train", *args]
    return subprocess.run(
        [sys.executable, *command], cwd=cwd, env=environment, capture_output=True, text=True
    )


def strict_json(path: Path):
    def refuse(constant):
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def one_line_error(result) -> str:
    """The error a user sees: exactly one line on stderr, exit code 2, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# ----- run folders never lie -----------------------------------------------------------------


def test_two_default_runs_get_a_folder_each_and_say_which(tmp_path):
    first = run(tmp_path, *TINY)
    second = run(tmp_path, *TINY, "--seed", "1")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr

    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "fashion-mnist",
        "fashion-mnist-2",
    ]
    for result, folder in ((first, "fashion-mnist"), (second, "fashion-mnist-2")):
        config = strict_json(tmp_path / "runs" / folder / "config.json")
        assert Path(config["out"]) == Path("runs") / folder
        assert str(Path("runs") / folder) in result.stdout  # printed, even with --quiet
    assert strict_json(tmp_path / "runs" / "fashion-mnist" / "config.json")["seed"] == 0
    assert strict_json(tmp_path / "runs" / "fashion-mnist-2" / "config.json")["seed"] == 1


def test_a_reused_out_is_refused_and_the_old_run_is_left_as_it_was(tmp_path):
    out = tmp_path / "run"
    assert run(tmp_path, *TINY, "--out", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    error = one_line_error(run(tmp_path, *TINY, "--epochs", "2", "--out", str(out)))

    assert "--out" in error and str(out) in error and "--overwrite" in error
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_overwrite_removes_every_file_of_the_old_run_even_if_the_new_one_stops_early(tmp_path):
    out = tmp_path / "run"
    assert run(tmp_path, *TINY, "--epochs", "2", "--out", str(out)).returncode == 0
    assert (out / "curves.png").is_file() and (out / "metrics.csv").is_file()

    # The new run diverges in its first epoch: it writes no model, metrics or plots of its own.
    diverging = ["--optimizer", "sgd", "--no-batchnorm", "--lr", "1e10"]
    result = run(tmp_path, *TINY, *diverging, "--out", str(out), "--overwrite")

    assert result.returncode == 1, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "normalization.json",
        "summary.json",
    ]
    assert strict_json(out / "config.json")["lr"] == 1e10


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("precious")
    error = one_line_error(run(tmp_path, *TINY, "--out", "notes", "--overwrite"))
    assert "--out" in error and "not a training run" in error
    assert (tmp_path / "notes" / "thesis.tex").read_text() == "precious"


def test_a_grid_rerun_with_other_epochs_is_refused_naming_the_change_then_retrained(tmp_path):
    grid = [*TINY, "--out", "grid", "--grid", "lr=1e-3,1e-2"]
    assert run(tmp_path, *grid).returncode == 0

    error = one_line_error(run(tmp_path, *grid, "--epochs", "2"))
    assert "--grid" in error and "epochs 1 -> 2" in error and "--overwrite" in error

    rerun = run(tmp_path, *grid, "--epochs", "2", "--overwrite")
    assert rerun.returncode == 0, rerun.stderr
    assert "done already" not in rerun.stdout
    for point in ("lr=0.001", "lr=0.01"):
        assert strict_json(tmp_path / "grid" / point / "config.json")["epochs"] == 2
        assert strict_json(tmp_path / "grid" / point / "summary.json")["epochs_completed"] == 2

    again = run(tmp_path, *grid, "--epochs", "2")  # the same configuration: nothing to redo
    assert again.returncode == 0 and again.stdout.count("done already") == 2


def test_a_grid_names_each_point_the_same_everywhere_and_does_not_print_the_model(tmp_path):
    result = run(tmp_path, *TINY, "--out", "grid", "--grid", "hidden=8x2,16-8")
    assert result.returncode == 0, result.stderr
    names = ["hidden=8-8", "hidden=16-8"]
    assert sorted(p.name for p in (tmp_path / "grid").iterdir() if p.is_dir()) == sorted(names)
    results_md = (tmp_path / "grid" / "results.md").read_text()
    results_csv = (tmp_path / "grid" / "results.csv").read_text()
    for name in names:
        assert name in results_md and name in results_csv and name in result.stdout
    assert "Linear(" not in result.stdout and "MLP(" not in result.stdout


def test_evaluate_finds_the_data_the_run_used_without_autograd_data(tmp_path):
    assert run(tmp_path, *TINY, "--out", "run").returncode == 0
    assert strict_json(tmp_path / "run" / "config.json")["data_root"] == str(SHARED)

    # No AUTOGRAD_DATA, and an empty home, so no cache folder could hold the data either.
    env = {"AUTOGRAD_DATA": None, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    result = run(tmp_path, "--evaluate", "run", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("test accuracy 0.")


def test_a_diverging_lr_stops_naming_epoch_and_step_and_summary_json_stays_strict(tmp_path):
    diverging = ["--optimizer", "sgd", "--no-batchnorm", "--lr", "1e10"]
    result = run(tmp_path, *TINY, *diverging, "--out", "run")

    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "epoch 1, step" in lines[0] and "lower --lr" in lines[0]
    summary = strict_json(tmp_path / "run" / "summary.json")
    assert summary["diverged"].startswith("the training loss became")
    assert summary["test_accuracy"] is None and summary["epochs_completed"] == 0


def test_a_run_diverging_after_its_first_epoch_keeps_its_best_model_and_says_so(tmp_path):
    diverging = [
        "--dataset",
        "fashion-mnist",
        "--limit-train",
        "500",
        "--epochs",
        "8",
        "--hidden",
        "64",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.99",
        "--lr",
        "30",
        "--no-batchnorm",
        "--dropout",
        "0",
        "--schedule",
        "none",
        "--quiet",
    ]  # fmt: skip  (diverges in epoch 4: the step's graph was kept alive by the error)
    result = run(tmp_path, *diverging, "--out", "run")

    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "training diverged; try a lower --lr" in lines[0]
    summary = strict_json(tmp_path / "run" / "summary.json")
    assert summary["epochs_completed"] >= 1 and summary["diverged"]
    assert summary["test_accuracy"] is not None
    assert (tmp_path / "run" / "model.npz").is_file()


DAMAGES = {  # what is done to a finished run folder: what the one-line error must name
    "truncated model.npz": "model.npz",
    '"hidden": "16"': "config.json: field 'hidden'",
    '"lr": -1': "config.json: field 'lr'",
    '"batchnorm": "yes"': "config.json: field 'batchnorm'",
}


def test_a_damaged_run_folder_under_evaluate_is_one_line_naming_file_and_field(tmp_path):
    assert run(tmp_path, *TINY, "--out", "run").returncode == 0
    for number, (damage, named) in enumerate(DAMAGES.items()):
        folder = tmp_path / f"damaged-{number}"
        shutil.copytree(tmp_path / "run", folder)
        if damage == "truncated model.npz":
            data = (folder / "model.npz").read_bytes()
            (folder / "model.npz").write_bytes(data[: len(data) // 2])
        else:
            key, value = damage.split(": ")
            config = json.loads((folder / "config.json").read_text())
            config[json.loads(key)] = json.loads(value)
            (folder / "config.json").write_text(json.dumps(config))
        line = one_line_error(run(tmp_path, "--evaluate", folder.name))
        assert named in line, (damage, line)


def test_summary_json_is_strict_json_without_a_validation_split(tmp_path):
    assert run(tmp_path, *TINY, "--val-split", "0", "--out", "run").returncode == 0
    assert strict_json(tmp_path / "run" / "summary.json")["best_val_accuracy"] is None
    assert strict_json(tmp_path / "run" / "metrics.json")[0]["val_loss"] is None


# ----- the command line explains itself ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--hidden", "512,256"], "--hidden"),
        (["--limit-train", "0"], "--limit-train"),
        (["--lr", "fast"], "--lr"),
        (["--limit-train", "5", "--val-split", "0.05"], "--val-split"),  # 0.25 of an image
        (["--limit-train", "2", "--val-split", "0.9"], "--val-split"),  # no training image
        (["--grid", "lr=1e-3", "lr=1e-2"], "--grid"),
        (["--grid", "lr=1e-3,0.001"], "--grid"),  # one point twice, in one folder
        (["--out", "/proc/nn-train/run"], "--out"),  # a folder the system will not create
        (["--grid", "seed=0,-1"], "--grid"),
        (["--grid", "dataset=mnist,cifar10"], "--grid"),
        (["--evaluate", "runs/x", "--epochs", "3"], "--evaluate"),
        (["--evaluate", "runs/x"], "--evaluate"),
    ],
)
def test_each_bad_value_is_one_line_naming_its_option_and_leaves_no_folder(tmp_path, args, option):
    error = one_line_error(run(tmp_path, *TINY[:-1], *args))  # not --quiet for --evaluate's sake
    assert option in error
    assert not (tmp_path / "runs").exists()


def test_training_options_given_with_evaluate_are_named(tmp_path):
    error = one_line_error(run(tmp_path, "--evaluate", "runs/x", "--epochs", "3", "--lr", "1"))
    assert "--epochs" in error and "--lr" in error


def test_help_shows_every_default_once_and_lists_the_grid_keys(tmp_path):
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split()).split("training options:")[1]  # argparse wraps lines
    for option in ("--dataset", "--hidden", "--lr", "--epochs", "--limit-train", "--out"):
        after = text.split(f"{option} ", 1)[1]
        assert "(default: " in after.split("--", 1)[0], option
    assert text.count("(default:") >= 21
    assert "(default: None)" not in text and "(default: none)" not in text
    for key in ("hidden", "lr", "epochs", "batch_size", "weight_decay", "limit_train"):
        assert key in text.split("KEY is one of:")[1]


def test_missing_data_says_which_file_where_and_what_to_type(tmp_path):
    root = tmp_path / "data"
    (root / "fashion-mnist").mkdir(parents=True)
    for file in (SHARED / "fashion-mnist").iterdir():
        (root / "fashion-mnist" / file.name).symlink_to(file)

    error = one_line_error(run(tmp_path, "--dataset", "mnist", "--data-root", str(root)))

    assert "train-images-idx3-ubyte.gz" in error and str(root / "mnist") in error
    assert "--data-root" in error and "AUTOGRAD_DATA" in error
    assert "--dataset fashion-mnist" in error  # what is already there
    assert "load_mnist(" not in error and "urllib3" not in error
    assert not (tmp_path / "runs").exists()  # no empty run folder


@pytest.mark.parametrize(("package", "env"), [("tqdm", {}), ("matplotlib", {}), ("pooch", {})])
def test_a_missing_optional_package_is_one_line_naming_the_extra(tmp_path, package, env):
    code = (
        f"import sys; sys.modules[{package!r}] = None; sys.argv[0] = 'nn.train'\n"
        "from nn.train import main; sys.exit(main())"
    )
    args = list(TINY)
    if package == "pooch":  # pooch is needed only to find the cache folder, or to download
        env = {"AUTOGRAD_DATA": None}
    error = one_line_error(run(tmp_path, *args, code=code, env=env))
    assert f"{package} is not installed" in error and "autograd-nn[nn]" in error
    assert not (tmp_path / "runs").exists()
