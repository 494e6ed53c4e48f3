"""How long pictures take: Graphviz on graphs of a few hundred ops, and the step-through page in a
real browser (Debian's Chromium through Playwright).

    python -m benchmarks.pictures              # both parts (the browser part needs chromium)
    python -m benchmarks.pictures render       # only the render times
    python -m benchmarks.pictures browser      # only the page's load and step times

The graphs are those that made Graphviz hang before the never-hang measures of
autograd/viz/picture.py: an unrolled recurrence ``x = x * w + 1`` (one leaf feeding every other
op), 100 branches of one intermediate, and a 40-layer MLP. Each render is timed with the
measures on and, with ``--without``, with each of them off (the unbounded ones stop at 120 s).
The stepper is measured on a 301-op recurrence: the page's load (navigation start to the load
event, its script included), and each step (the click's handler and the layout it causes).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from autograd import TensorNode, viz
from autograd.viz import picture

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def recurrence(steps: int = 100) -> TensorNode:
    """x = x * w + 1, ``steps`` times: 2 * steps + 1 ops, w used by ``steps`` of them."""
    x = TensorNode(np.ones(3, np.float32), requires_grad=True, name="x")
    w = TensorNode(np.full(3, 0.5, np.float32), requires_grad=True, name="w")
    for _ in range(steps):
        x = x * w + 1
    return x.sum()


def branches(count: int = 100) -> TensorNode:
    """An intermediate h = tanh(x) feeding ``count`` branches that are summed: 3 * count + 2 ops."""
    x = TensorNode(np.ones(3, np.float32), requires_grad=True, name="x")
    h = x.tanh()
    total = h
    for i in range(count):
        total = total + (h * float(i)).exp()
    return total.sum()


def mlp(layers: int = 40) -> TensorNode:
    rng = np.random.default_rng(0)
    h = TensorNode(rng.normal(size=(4, 3)).astype(np.float32))
    for _ in range(layers):
        w = TensorNode(rng.normal(size=(3, 3)).astype(np.float32), requires_grad=True)
        b = TensorNode(np.zeros(3, np.float32), requires_grad=True)
        h = (h @ w + b).relu()
    return h.sum()


GRAPHS = {
    "recurrence x = x * w + 1 (201 ops)": recurrence,
    "100 branches of tanh(x) (302 ops)": branches,
    "MLP of 40 layers (161 ops)": mlp,
}


def dot_seconds(source: str, limit: float = 120.0) -> float | None:
    """Seconds that ``dot -Tsvg`` takes on the DOT text; None past ``limit``."""
    start = time.perf_counter()
    try:
        subprocess.run(
            ["dot", "-Tsvg"], input=source.encode(), capture_output=True, timeout=limit, check=True
        )
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - start


def render_times(without: bool) -> None:
    variants = {"as shipped": (picture.COPY_SHARED_ABOVE, True)}
    if without:
        variants["no copies"] = (None, True)
        variants["no copies, unbounded"] = (None, False)
    for label, make in GRAPHS.items():
        for variant, (copies, bounded) in variants.items():
            saved = picture.LAYOUT_EFFORT
            picture.LAYOUT_EFFORT = saved if bounded else {}
            try:
                source = viz.to_dot(make(), copy_shared_above=copies).source
            finally:
                picture.LAYOUT_EFFORT = saved
            seconds = dot_seconds(source)
            shown = "> 120 s (stopped)" if seconds is None else f"{seconds:.2f} s"
            print(f"  {label:<36} {variant:<22} dot: {shown}", flush=True)


STEP_TIMES = """
(root) => {
  const next = root.querySelector('[data-action="next"]');
  const times = [];
  for (let k = 0; k < 301; k++) {
    const start = performance.now();
    next.click();
    root.getBoundingClientRect();  // the layout the step causes, in the measurement
    document.body.offsetHeight;
    times.push(performance.now() - start);
  }
  return times;
}
"""


def browser_times(repeats: int = 5) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("  no chromium: apt-get install chromium", file=sys.stderr)
        return
    start = time.perf_counter()
    trace = viz.step_through(recurrence(150))
    html = trace.to_html(full_page=True)
    built = time.perf_counter() - start
    print(f"  301-op recurrence: step_through and the page in Python: {built:.2f} s")
    print(f"  page size: {len(html.encode()) / 1e6:.2f} MB")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        path = Path(folder) / "stepper.html"
        path.write_text(html, encoding="utf-8")
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        loads, steps = [], []
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(path.as_uri())
            loads.append(
                page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
            )
            steps += page.evaluate(STEP_TIMES, page.locator(".ag-stepper").element_handle())
            page.close()
        browser.close()
    print(f"  load (navigation start to load event), {repeats} loads: median "
          f"{statistics.median(loads):.0f} ms, max {max(loads):.0f} ms")  # fmt: skip
    print(f"  one step (click to layout done), {len(steps)} steps: median "
          f"{statistics.median(steps):.2f} ms, 99th percentile "
          f"{sorted(steps)[int(0.99 * len(steps))]:.2f} ms, max {max(steps):.2f} ms")  # fmt: skip


def main(argv: list[str]) -> int:
    parts = [a for a in argv if not a.startswith("--")] or ["render", "browser"]
    if "render" in parts:
        print("Graphviz's dot on graphs that used to hang it:")
        render_times(without="--without" in argv)
    if "browser" in parts:
        print("The step-through page in headless Chromium:")
        browser_times()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
