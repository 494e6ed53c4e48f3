"""Specification of autograd/viz/page.py and values.py: the step-through page is one self-contained
piece of HTML (inline SVG, JSON data, a script), the same for the same graph apart from its id,
safe to embed beside others, and readable without JavaScript."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ElementTree
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from autograd import TensorNode

pytest.importorskip("graphviz")
viz = pytest.importorskip("autograd.viz")
from autograd.viz import page, picture, values  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed"
)
SCRIPT = (Path(page.__file__).parent / "stepper.js").read_text()


def neuron_loss(name_of_w="w"):
    rng = np.random.default_rng(0)
    x = TensorNode(rng.normal(size=(4, 3)).astype(np.float32), name="x")
    w = TensorNode(rng.normal(size=(3, 1)).astype(np.float32), requires_grad=True, name=name_of_w)
    b = TensorNode(np.zeros(1, np.float32), requires_grad=True, name="b")
    loss = (((x @ w + b).relu() - 1.0) ** 2).mean()
    return loss, w, b


def page_data(html: str) -> dict:
    (text,) = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return json.loads(text)


def uid_of(html: str) -> str:
    return re.search(r'<div id="(ag-[0-9a-f]+)" class="ag-stepper"', html).group(1)


def test_two_recordings_of_one_graph_give_the_same_page_apart_from_its_id():
    first = viz.step_through(neuron_loss()[0]).to_html()
    second = viz.step_through(neuron_loss()[0]).to_html()
    assert uid_of(first) != uid_of(second)
    assert first.replace(uid_of(first), "ID") == second.replace(uid_of(second), "ID")


def test_every_output_has_a_fresh_id_and_every_selector_is_scoped_to_it():
    trace = viz.step_through(neuron_loss()[0])
    html = trace.to_html()
    uid = uid_of(html)
    assert uid_of(trace.to_html()) != uid
    style = re.sub(r"/\*.*?\*/", "", re.search(r"<style>(.*?)</style>", html, re.S).group(1))
    selectors = [rule.split("{")[0] for rule in style.split("}") if "{" in rule]
    assert selectors and all(
        part.strip().startswith(f"#{uid}") for s in selectors for part in s.split(",")
    )
    assert html.count(f'getElementById("{uid}")') == 1  # where document.currentScript is not
    assert "getElementById" not in SCRIPT and "document.querySelector" not in SCRIPT
    assert len(re.findall(r'\sid="', html)) == 2  # the stepper and its data: nothing global


def test_the_page_reaches_no_network_uses_no_eval_and_no_storage():
    html = viz.step_through(neuron_loss()[0]).to_html(full_page=True)
    for banned in ("eval(", "Function(", "fetch(", "XMLHttpRequest", "localStorage",
                   "sessionStorage", "document.cookie", "import(", "<link", "src="):  # fmt: skip
        assert banned not in html, banned
    addresses = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert addresses <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "default-src 'none'" in html  # the full page forbids any request outright


def test_names_cannot_end_the_script_element_that_holds_the_data():
    x = TensorNode([1.0, 2.0], requires_grad=True, name="</script><b>x&y</b>")
    html = viz.step_through((x * x).sum()).to_html()
    assert html.count("</script>") == 2  # the data's and the code's own
    assert "<b>" not in html
    data = page_data(html)
    assert data["steps"][-1]["sent"][0]["label"] == "</script><b>x&y</b>"


def test_without_javascript_the_picture_shows_every_gradient_and_says_what_stepping_needs():
    loss, w, b = neuron_loss()
    html = viz.step_through(loss, names=locals()).to_html()
    assert page.NO_SCRIPT_NOTE.split(".")[0] in html and "trust" in html
    svg = re.search(r"<svg.*</svg>", html, re.S).group(0)
    texts = [t for t in re.findall(r"<text[^>]*>(.*?)</text>", svg)]
    assert "grad " + picture._summary(w.grad, True) in texts
    assert "grad " + picture._summary(b.grad, True) in texts
    grad_lines = re.findall(r'<text[^>]*class="ag-grad"[^>]*>(.*?)</text>', svg)
    assert len(grad_lines) == 9  # w, b, the root and six intermediates: every gradient
    ElementTree.fromstring(svg)  # well-formed


def test_the_picture_is_to_dots_picture_with_the_same_labels():
    loss, w, b = neuron_loss()
    trace = viz.step_through(loss, names={"w": w, "b": b})
    svg = re.search(r"<svg.*</svg>", trace.to_html(), re.S).group(0)
    drawn = sorted(map(unescape, re.findall(r"<text[^>]*>(.*?)</text>", svg)))
    dot_svg = picture.run_dot(viz.to_dot(loss, names={"w": w, "b": b}).source, "svg").decode()
    expected = sorted(map(unescape, re.findall(r"<text[^>]*>(.*?)</text>", dot_svg)))
    static = [t for t in expected if not t.startswith("grad ")]
    assert [t for t in drawn if not t.startswith("grad ")] == static
    assert "①" in drawn and "① @ ②" in drawn


def test_the_data_holds_one_step_per_op_and_each_leafs_exact_grad():
    loss, w, b = neuron_loss()
    trace = viz.step_through(loss, names=locals())
    data = page_data(trace.to_html())
    assert [s["name"] for s in data["steps"]] == [s.op_node.op.__name__ for s in trace.steps]
    leaves = {leaf["label"]: leaf for leaf in data["leaves"]}
    assert leaves["w"]["card"]["values"] == w.grad.tolist()
    assert leaves["b"]["card"]["values"] == b.grad.tolist()
    assert leaves["w"]["card"]["text"] == values.format_array(w.grad)
    matmul = next(s for s in data["steps"] if s["name"] == "MatMul")
    assert matmul["formula"].startswith("y = a @ b;  dL/da = dL/dy @ b^T")
    assert [(s["operand"], s["parameter"]) for s in matmul["sent"]] == [("①", "a"), ("②", "b")]
    assert matmul["sent"][0]["none"] == "needs no gradient (a constant)"
    assert len(matmul["edgesIn"]) == 1  # the edge from w: x, a constant, is sent nothing
    assert len(matmul["edgesOut"]) == 1 and len(matmul["receiving"]) == 1


def test_save_html_writes_one_self_contained_document(tmp_path):
    path = viz.step_through(neuron_loss()[0]).save_html(tmp_path / "backward.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert '<meta charset="utf-8">' in text and "<svg" in text


def test_in_jupyter_the_trace_displays_as_html():
    trace = viz.step_through(neuron_loss()[0])
    assert trace._repr_html_().startswith("<div id=")
    assert "7 steps" in repr(trace)


def test_a_formula_comes_from_the_docstring_or_from_a_derivative_attribute():
    from autograd.ops import BatchNorm, Mul

    assert page.formula_of(Mul) == "y = a * b;  dL/da = dL/dy * b,  dL/db = dL/dy * a"
    assert "dL/dx = gamma / (n * sqrt(var + eps))" in page.formula_of(BatchNorm)

    class Stated:
        """Some op."""

        derivative = "dL/dx = dL/dy * 3"

    assert page.formula_of(Stated) == "dL/dx = dL/dy * 3"


# ----- values ----------------------------------------------------------------------------------


def test_a_small_array_is_shown_in_full_and_kept_exactly():
    shown = values.card(np.array([[0.5, -2.0], [1e-7, 3.0]], np.float32))
    assert shown["shape"] == "(2, 2)" and shown["dtype"] == "float32"
    assert shown["text"] == "[[0.5, -2],\n [1e-07, 3]]"
    assert shown["values"] == np.array([[0.5, -2.0], [1e-7, 3.0]], np.float32).tolist()
    assert values.card(np.float64(2.5))["shape"] == "scalar"


def test_a_large_array_is_shown_as_norm_min_max_non_finite_counts_and_a_heatmap():
    array = np.arange(40 * 30, dtype=np.float64).reshape(40, 30) - 600
    array[0, 0], array[5, 5], array[6, 6] = np.nan, np.inf, -np.inf
    shown = values.card(array)
    assert "text" not in shown and shown["nan"] == 1 and shown["inf"] == 2
    finite = array[np.isfinite(array)]
    assert shown["min"] == f"{finite.min():.4g}" and shown["max"] == f"{finite.max():.4g}"
    assert float(shown["norm"]) == pytest.approx(np.linalg.norm(finite), rel=1e-3)
    heat = shown["heat"]
    assert (heat["rows"], heat["columns"]) == (16, 16) and len(heat["cells"]) == 256
    assert heat["cells"][0] == "!" and heat["cells"][-1] == values.LEVELS[-1]
    assert set(heat["cells"]) <= set(values.LEVELS + "!")
    json.dumps(shown, allow_nan=False)


def test_a_heatmap_of_a_vector_is_one_row():
    heat = values.card(np.linspace(-1, 1, 50))["heat"]
    assert heat["rows"] == 1 and heat["columns"] == 16
    assert heat["cells"][0] == "0" and heat["cells"][-1] == "I"  # -max to +max
