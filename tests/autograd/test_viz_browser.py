"""The step-through page in a real browser: Debian's Chromium, driven by Playwright for Python.

Never a downloaded browser: Chromium is launched through its executable path, and these tests are
skipped, saying why, where it or Playwright is missing (`apt-get install chromium`; `.ci/run`
installs it). Timing is measured by benchmarks/stepper.py, not asserted here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograd import TensorNode

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
pytest.importorskip("graphviz")
viz = pytest.importorskip("autograd.viz")
from autograd.viz import picture, values  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Headless, and nothing that would reach the network on its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if CHROMIUM is None:
    pytest.skip("no Chromium installed (apt-get install chromium)", allow_module_level=True)
if shutil.which("dot") is None:
    pytest.skip("Graphviz's dot program is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A page holding one or more steppers, with the console errors and requests it made."""

    def __init__(self, browser, html: str, tmp_path, javascript: bool = True, name="page"):
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        self.url = path.as_uri()
        self.context = browser.new_context(java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else 0)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.route(  # the network is blocked: only the page's own file may load
            "**/*",
            lambda route: route.continue_() if route.request.url == self.url else route.abort(),
        )
        self.page.goto(self.url)

    def stepper(self, index: int = 0):
        return self.page.locator(".ag-stepper").nth(index)

    def click(self, action: str, index: int = 0) -> None:
        self.stepper(index).locator(f'[data-action="{action}"]').click()

    def current_ops(self, index: int = 0) -> list[str]:
        nodes = self.stepper(index).locator("g.node.ag-now")
        return [nodes.nth(i).get_attribute("data-id") for i in range(nodes.count())]

    def position(self, index: int = 0) -> str:
        return self.stepper(index).locator(".ag-position").inner_text()

    def close(self) -> None:
        self.context.close()


def page_data(html: str) -> dict:
    (text,) = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return json.loads(text)


def neuron():
    rng = np.random.default_rng(0)
    x = TensorNode(rng.normal(size=(4, 3)).astype(np.float32), name="x")
    w = TensorNode(rng.normal(size=(3, 2)).astype(np.float32), requires_grad=True, name="w")
    b = TensorNode(np.array([0.5, -0.5], np.float32), requires_grad=True, name="b")
    h = x @ w + b
    loss = (h.relu() * h).mean()  # h used twice
    return loss, {"x": x, "w": w, "b": b, "h": h, "loss": loss}


def test_stepping_to_k_highlights_exactly_op_k_and_the_panel_shows_its_gradients(browser, tmp_path):
    loss, names = neuron()
    trace = viz.step_through(loss, names=names)
    html = trace.to_html(full_page=True)
    data = page_data(html)
    page = Page(browser, html, tmp_path)
    assert page.current_ops() == [] and page.position() == f"backward 0 / {len(trace.steps) + 1}"
    for k, step in enumerate(trace.steps, start=1):
        page.click("next")
        assert page.current_ops() == [data["steps"][k - 1]["op"]]
        assert (
            page.page.locator(f'[data-id="{data["steps"][k - 1]["op"]}"] text').first.text_content()
            == step.op_node.op.__name__
        )
        panel = page.stepper().locator(".ag-panel")
        arrived = panel.locator(".ag-arrived pre").all_inner_texts()
        assert arrived == [values.format_array(g) for g in step.output_grads]
        sent_cards = panel.locator(".ag-sent .ag-contribution pre").all_inner_texts()
        expected = [values.format_array(s.gradient) for s in step.sent if s.gradient is not None]
        assert sent_cards == expected
        lit = page.stepper().locator("g.edge.ag-sent, g.edge.ag-arrived")
        assert sorted(lit.nth(i).get_attribute("data-id") for i in range(lit.count())) == sorted(
            data["steps"][k - 1]["edgesIn"] + data["steps"][k - 1]["edgesOut"]
        )
    assert page.errors == []
    page.close()


def test_at_the_last_step_every_leaf_shows_exactly_its_grad(browser, tmp_path):
    loss, names = neuron()
    trace = viz.step_through(loss, names=names)
    page = Page(browser, trace.to_html(), tmp_path)
    page.click("last")
    assert page.current_ops() == []
    for name in ("w", "b"):
        leaf = names[name]
        shown = page.stepper().locator(f'.ag-leaf[data-label="{name}"] pre').inner_text()
        assert shown == values.format_array(leaf.grad)
        node = (
            page.stepper()
            .locator("g.node", has_text=name)
            .filter(has=page.page.locator("text.ag-grad"))
        )
        assert node.first.locator("text.ag-grad").text_content() == "grad " + picture._summary(
            leaf.grad, True
        )
    data = page_data(trace.to_html())
    exact = {leaf["label"]: leaf["card"]["values"] for leaf in data["leaves"]}
    assert exact == {"w": names["w"].grad.tolist(), "b": names["b"].grad.tolist()}
    page.close()


def test_a_node_used_twice_shows_before_plus_contribution_equals_after(browser, tmp_path):
    a = TensorNode(-4.0, requires_grad=True, name="a")
    b = TensorNode(2.0, requires_grad=True, name="b")
    d = (a * b - a).relu() + 2 * a
    trace = viz.step_through(d)
    page = Page(browser, trace.to_html(), tmp_path)
    sums = [
        (k, s) for k, step in enumerate(trace.steps, 1) for s in step.sent if s.before is not None
    ]
    assert sums  # a is used three times
    for k, sent in sums:
        page.page.locator(".ag-bar input[type=range]").fill(str(k))
        box = (
            page.stepper()
            .locator('.ag-sent[data-label="a"]')
            .filter(has=page.page.locator(".ag-before"))
        )
        before, contribution, after = (
            box.locator(f".ag-{part} pre").inner_text()
            for part in ("before", "contribution", "after")
        )
        assert (before, contribution, after) == tuple(
            values.format_array(x) for x in (sent.before, sent.gradient, sent.after)
        )
        assert float(before) + float(contribution) == pytest.approx(float(after))
        assert "before + contribution = after" in box.inner_text()
    page.click("last")
    shown = page.stepper().locator('.ag-leaf[data-label="a"] pre').inner_text()
    assert shown == values.format_array(a.grad) == "2"  # relu(-4) passes nothing: d = 2a
    page.close()


def test_a_node_not_yet_reached_shows_as_not_reached_never_as_zero(browser, tmp_path):
    loss, names = neuron()
    page = Page(browser, viz.step_through(loss, names=names).to_html(), tmp_path)
    w_node = page.stepper().locator("g.node.ag-unreached", has_text="w")
    assert w_node.first.locator("text.ag-grad").text_content() == "not reached"
    page.click("last")
    assert page.stepper().locator("g.node.ag-unreached").count() == 0
    page.close()


def test_with_the_network_blocked_the_page_makes_no_request_and_logs_no_error(browser, tmp_path):
    loss, names = neuron()
    page = Page(browser, viz.step_through(loss, names=names).to_html(full_page=True), tmp_path)
    page.click("last")
    page.click("forward")
    page.click("last")
    page.click("play")  # from the last frame: starts again at 0
    page.page.wait_for_function(
        "el => !el.textContent.startsWith('forward 0 ')",
        arg=page.stepper().locator(".ag-position").element_handle(),
    )
    page.click("play")
    assert page.requests == [page.url]
    assert page.errors == []
    page.close()


def test_with_javascript_off_the_final_picture_and_the_note_show(browser, tmp_path):
    loss, names = neuron()
    page = Page(browser, viz.step_through(loss, names=names).to_html(), tmp_path, javascript=False)
    note = page.stepper().locator(".ag-nojs")
    assert note.is_visible() and "needs JavaScript" in note.inner_text()
    assert page.stepper().locator("svg").is_visible()
    assert page.stepper().locator("button").count() == 0
    grad_lines = page.stepper().locator("text.ag-grad").all_text_contents()
    assert "grad " + picture._summary(names["w"].grad, True) in grad_lines
    assert not any("not reached" in line for line in grad_lines)
    page.close()


def test_two_steppers_on_one_page_step_independently(browser, tmp_path):
    first_loss, first_names = neuron()
    a = TensorNode(3.0, requires_grad=True, name="a")
    second = viz.step_through((a * a).tanh())
    html = viz.step_through(first_loss, names=first_names).to_html() + second.to_html()
    page = Page(browser, html, tmp_path)
    for _ in range(3):
        page.click("next", 0)
    assert page.position(0).startswith("backward 3 ") and page.position(1).startswith("backward 0 ")
    page.stepper(1).focus()
    page.page.keyboard.press("ArrowRight")
    page.page.keyboard.press("ArrowRight")
    assert page.position(0).startswith("backward 3 ") and page.position(1).startswith("backward 2 ")
    assert len(page.current_ops(0)) == len(page.current_ops(1)) == 1
    page.page.keyboard.press("End")
    assert page.position(1) == "backward 3 / 3" and page.position(0).startswith("backward 3 ")
    assert page.errors == []
    page.close()


def test_the_forward_view_runs_the_ops_in_the_order_they_ran(browser, tmp_path):
    loss, names = neuron()
    trace = viz.step_through(loss, names=names)
    data = page_data(trace.to_html())
    page = Page(browser, trace.to_html(), tmp_path)
    page.click("forward")
    page.click("next")
    assert page.current_ops() == [data["forward"][0]["op"]]
    assert page.stepper().locator(".ag-panel h3").inner_text().endswith(": MatMul")
    outputs = page.stepper().locator(".ag-output pre").all_inner_texts()
    assert outputs == [values.format_array(trace.steps[-1].op_node.output_values[0])]
    page.close()


def test_a_300_op_graph_loads_and_steps(browser, tmp_path):
    """Load and step times are measured by benchmarks/stepper.py (notes/viz.md has them)."""
    x = TensorNode(np.ones(3, np.float32), requires_grad=True, name="x")
    w = TensorNode(np.full(3, 0.5, np.float32), requires_grad=True, name="w")
    for _ in range(150):
        x = x * w + 1
    trace = viz.step_through(x.sum())
    assert len(trace.steps) == 301
    data = page_data(trace.to_html())
    page = Page(browser, trace.to_html(full_page=True), tmp_path)
    for k in (1, 2, 150, 301):
        page.page.locator(".ag-bar input[type=range]").fill(str(k))
        assert page.current_ops() == [data["steps"][k - 1]["op"]]
    page.click("last")
    shown = page.stepper().locator('.ag-leaf[data-label="w"] pre').inner_text()
    assert shown == values.format_array(w.grad)
    assert page.errors == []
    page.close()


def test_the_readmes_screenshot_is_taken_by_docs_stepper_py(tmp_path):
    """docs/stepper.png is what docs/stepper.py photographs (pixels vary with fonts, unchecked)."""
    script = Path(__file__).parents[2] / "docs" / "stepper.py"
    out = tmp_path / "stepper.png"  # another process: one Playwright per thread
    subprocess.run([sys.executable, str(script), str(out)], check=True, capture_output=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


INSERT_AS_JUPYTERLAB_DOES = """
([host, html]) => {
  // JupyterLab sets an output's innerHTML, then re-creates each script so that it runs.
  host.innerHTML = html;
  host.querySelectorAll("script").forEach((old) => {
    const script = document.createElement("script");
    for (const attribute of old.attributes) script.setAttribute(attribute.name, attribute.value);
    script.textContent = old.textContent;
    old.parentNode.replaceChild(script, old);
  });
}
"""


def test_an_output_inserted_as_jupyterlab_does_starts_even_shown_twice(browser, tmp_path):
    """Two views of one output hold the same id: each stepper finds its own element."""
    loss, names = neuron()
    fragment = viz.step_through(loss, names=names).to_html()
    page = Page(browser, "<div id='one'></div><div id='two'></div>", tmp_path)
    for host in ("#one", "#two"):
        page.page.evaluate(
            INSERT_AS_JUPYTERLAB_DOES, [page.page.locator(host).element_handle(), fragment]
        )
    assert page.page.locator(".ag-stepper .ag-bar").count() == 2
    page.click("next", 1)
    assert page.position(0).startswith("backward 0 ") and page.position(1).startswith("backward 1 ")
    assert page.errors == []
    page.close()
