"""The README's ONNX section: its code runs and says what it claims, its pictures are what
docs/onnx_pictures.py draws today."""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).parents[1]
DOCS = REPO / "docs"


def onnx_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return next(block for block in blocks if "autograd.onnx.export" in block)


def test_the_onnx_block_exports_and_onnx_runtime_agrees(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it writes mlp.onnx into the working directory
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(onnx_block(), {})
    assert (tmp_path / "mlp.onnx").is_file()
    assert 0 <= float(printed.getvalue()) < 1e-5  # "float32 rounding only"


def pictures():
    return runpy.run_path(str(DOCS / "onnx_pictures.py"))  # not as __main__: draws nothing


def test_the_netron_picture_shows_the_nodes_the_pictured_mlp_exports_to(tmp_path):
    import onnx

    import autograd.onnx

    model, example = pictures()["model_and_example"]()
    autograd.onnx.export(model, example, tmp_path / "mlp.onnx")
    nodes = [node.op_type for node in onnx.load(tmp_path / "mlp.onnx").graph.node]
    layer = ["MatMul", "Expand", "Add", "BatchNormalization", "Relu"]
    assert nodes == layer * 2 + layer[:3]  # what docs/onnx-netron.png shows, top to bottom
    assert (DOCS / "onnx-netron.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_our_picture_is_what_docs_onnx_pictures_py_draws_today(tmp_path):
    pytest.importorskip("graphviz")
    if not shutil.which("dot"):
        pytest.skip("Graphviz's dot program is not installed")
    drawn = pictures()["draw_ours"](tmp_path / "ours.svg")

    def texts(path: Path) -> list[str]:
        return re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text())

    assert texts(drawn) == texts(DOCS / "onnx-autograd.svg")
    assert "layers.0.weight" in texts(drawn)
