"""The README's code runs and says what it claims."""

from __future__ import annotations

import html
import re
import runpy
import shutil
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).parents[1] / "README.md"
DOCS = Path(__file__).parents[1] / "docs"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_tour_runs_and_the_scalar_gradients_match_the_hand_derived_ones(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    if not __import__("shutil").which("dot"):
        pytest.skip("Graphviz's dot program is not installed")
    monkeypatch.chdir(tmp_path)  # the tour renders graph.svg into the working directory
    scalar, neuron, custom_op = python_blocks()[:3]

    # Each block runs on its own, in a fresh namespace, as a reader would paste it.
    namespace: dict = {}
    exec(scalar, namespace)
    # d = relu(a*b + b**3 - a) + 2a at a=-4, b=2: dd/da = (b - 1) + 2, dd/db = a + 3b^2.
    assert namespace["a"].grad == pytest.approx(3.0)
    assert namespace["b"].grad == pytest.approx(8.0)
    assert isinstance(namespace["a"].grad, np.ndarray)

    exec(neuron, {})
    assert (tmp_path / "graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    exec(custom_op, {})  # gradcheck and property_test raise if the op were wrong


def test_the_custom_op_block_runs_on_its_own():
    """Without Graphviz too: the Softplus block needs nothing from the blocks before it."""
    exec(python_blocks()[2], {})


def test_the_training_snippet_trains(monkeypatch):
    """Run the snippet on 512 synthetic images instead of downloading Fashion-MNIST."""
    from nn import data

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 512)
    images = rng.random((512, 28, 28), dtype=np.float32) * 0.1
    images[np.arange(512), labels, :] += 1.0  # class k lights up row k: learnable
    split = ((images, labels), (images[:64], labels[:64]))
    monkeypatch.setattr(data, "load_fashion_mnist", lambda *args, **kwargs: split)

    namespace: dict = {}
    exec(python_blocks()[3], namespace)
    model, loss = namespace["model"], namespace["loss"]
    assert np.isfinite(loss.item()) and loss.item() < np.log(10)  # better than chance
    assert all(p.grad is not None for p in model.parameters())


def test_the_gradients_of_gradients_snippet_gives_the_hand_derived_derivatives():
    namespace: dict = {}
    exec(python_blocks()[4], namespace)
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(namespace["g"].value, 3 * x**2)  # f = sum(x^3)
    np.testing.assert_allclose(namespace["h"].value, 6 * x)
    np.testing.assert_allclose(namespace["h_again"].value, 6 * x)
    np.testing.assert_allclose(namespace["x"].grad.value, 3 * x**2)
    f, func = namespace["f"], namespace["func"]
    np.testing.assert_allclose(func.hessian(f)(x), np.diag(6 * x))
    np.testing.assert_allclose(func.hvp(f)(x, np.ones(2)), 6 * x)


def svg_texts(path: Path) -> list[str]:
    """Every text the picture shows (labels of nodes and edges), sorted: layout order varies."""
    found = re.findall(r"<text[^>]*>(.*?)</text>", path.read_text(), re.S)
    return sorted(html.unescape(text) for text in found)


def test_the_readme_picture_is_what_docs_graph_py_draws_today(tmp_path):
    """docs/graph.png and docs/graph.svg are regenerated whenever the pictures change."""
    pytest.importorskip("graphviz")
    if not shutil.which("dot"):
        pytest.skip("Graphviz's dot program is not installed")
    shutil.copy(DOCS / "graph.py", tmp_path / "graph.py")
    runpy.run_path(str(tmp_path / "graph.py"), run_name="__main__")  # writes beside itself
    assert svg_texts(DOCS / "graph.svg") == svg_texts(tmp_path / "graph.svg")
    # What the README says of it: operands of Sub and MatMul numbered, formulas shown, and no
    # operand label that reads as a tensor's name (the bias is named b).
    texts = svg_texts(DOCS / "graph.svg")
    assert texts.count("①") == 2 and texts.count("②") == 2 and texts.count("b") == 1
    assert "① - ②" in texts and "① @ ②" in texts


def test_the_core_line_count_in_the_readme_is_the_files_line_count():
    stated = re.search(r"The core is three files .*?, (\d+) lines", README.read_text(), re.S)
    assert stated is not None, "the README no longer states the core's size"
    package = README.parent / "autograd"
    files = ("tensor.py", "op.py", "graph.py")
    lines = sum(len((package / name).read_text().splitlines()) for name in files)
    assert int(stated.group(1)) == lines


def test_the_replay_block_records_twice_then_replays():
    block = next(b for b in python_blocks() if "replay.trace" in b)
    namespace: dict = {}
    exec(block, namespace)
    assert namespace["step"].traces == 2  # five calls: two recorded, three replayed
    assert np.isfinite(namespace["loss"].item())


def test_the_speed_table_quotes_the_medians_of_results_md():
    """The README's speed figures are those of the last `make bench` run, not edited by hand."""
    readme = README.read_text()
    table = readme[readme.index("| figure | engine, eager |") :]
    table = table[: table.index("\n\n")]
    quoted = re.findall(r"(?<!≤ )(?<![\d.])(\d+(?:\.\d+)?) (?:ms|µs/op|s)\b", table)  # not targets
    results = (README.parent / "benchmarks" / "RESULTS.md").read_text()
    medians = set(re.findall(r"^\| [^|]+ \| ([\d.]+) \| [\d.]+ \|$", results, re.M))
    assert len(quoted) >= 10
    assert [value for value in quoted if value not in medians] == []
    ratios = re.findall(r"(\d\.\d\d)x (?:NumPy|PyTorch)", table)
    assert len(ratios) >= 8
    assert [ratio for ratio in ratios if f"{ratio}x" not in results] == []


def test_the_convolution_block_trains_a_cnn_step():
    block = next(b for b in python_blocks() if "nn.Conv2d" in b)
    namespace: dict = {}
    exec(block, namespace)
    assert namespace["model"][0].weight.grad.shape == (16, 1, 3, 3)
    assert np.isfinite(namespace["loss"].item())
