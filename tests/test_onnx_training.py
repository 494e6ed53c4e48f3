"""The training command and ONNX: a run folder holds model.onnx, and `--evaluate RUN --onnx`
checks it in ONNX Runtime against the engine; without the packages, one line says what to install.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).parents[1]
SHARED = Path(os.environ.get("AUTOGRAD_DATA") or REPO / "../shared/data").resolve()
TINY = [
    "--dataset", "fashion-mnist", "--limit-train", "300", "--epochs", "1", "--hidden", "16",
    "--batch-size", "64", "--quiet",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="needs onnx and onnxruntime",
)


def run(cwd: Path, *args: str, blocked: tuple[str, ...] = ()):
    """``python -m nn.train ARGS`` in ``cwd``, as if the ``blocked`` packages were not installed."""
    code = "".join(f"sys.modules[{name!r}] = None; " for name in blocked)
    code = (
        f"import sys; {code}sys.argv[0] = 'nn.train'\nfrom nn.train import main; sys.exit(main())"
    )
    environment = {**os.environ, "AUTOGRAD_DATA": str(SHARED)}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    if not (SHARED / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not in the shared data folder")
    cwd = tmp_path_factory.mktemp("onnx-run")
    result = run(cwd, *TINY, "--batchnorm", "--dropout", "0.2", "--out", "run")
    assert result.returncode == 0, result.stderr
    return cwd / "run"


def test_a_run_folder_holds_model_onnx_that_onnx_runtime_agrees_with(run_folder):
    assert (run_folder / "model.onnx").is_file()
    result = run(run_folder.parent, "--evaluate", "run", "--onnx")
    assert result.returncode == 0, result.stderr
    accuracy_line, onnx_line = result.stdout.splitlines()
    assert accuracy_line.startswith("test accuracy 0.")
    assert "within 0.001" in onnx_line
    assert "same prediction on 10000 of 10000 test images" in onnx_line


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_the_training_commands_cnn_runs_in_onnx_runtime_at_several_batch_sizes(tmp_path, shape):
    import autograd.onnx
    from nn import train

    config = train.TrainConfig(model="cnn", channels="4-8x2", hidden=[16], seed=1)
    model = train.build_model(config, shape)
    rng = np.random.default_rng(0)
    model(rng.normal(0.5, 2.0, size=(16, *shape)).astype(np.float32))  # batch norm's statistics
    example = train.model_input(model, np.zeros((1, *shape), np.float32)).value
    assert train.write_onnx(model, example, tmp_path)
    model.eval()
    for size in (1, 3, 20):
        images = rng.normal(size=(size, *shape)).astype(np.float32)
        (logits,) = autograd.onnx.run(tmp_path / "model.onnx", images)
        np.testing.assert_allclose(logits, model(images).value, rtol=1e-4, atol=1e-5)


def test_a_cnn_run_checks_its_model_onnx_against_the_engine(tmp_path):
    if not (SHARED / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("Fashion-MNIST is not in the shared data folder")
    cnn = ["--model", "cnn", "--channels", "4"]
    assert run(tmp_path, *TINY, *cnn, "--out", "run").returncode == 0
    result = run(tmp_path, "--evaluate", "run", "--onnx")
    assert result.returncode == 0, result.stderr
    assert "same prediction on 10000 of 10000 test images" in result.stdout


def test_without_onnx_runtime_the_check_names_what_to_install(run_folder):
    result = run(run_folder.parent, "--evaluate", "run", "--onnx", blocked=("onnxruntime",))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "python -m nn.train: error: onnxruntime is not installed (running model.onnx need it): "
        "pip install 'autograd-nn[test]' (or pip install onnxruntime)"
    ]


def test_without_onnx_training_writes_no_model_onnx(tmp_path, monkeypatch):
    import nn
    from nn import train

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    model = nn.MLP(4, [3], 2)
    assert not train.write_onnx(model, np.zeros((1, 4), np.float32), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_onnx_without_evaluate_is_refused(tmp_path):
    result = run(tmp_path, "--onnx")
    assert result.returncode == 2
    assert "--onnx" in result.stderr and "--evaluate" in result.stderr
