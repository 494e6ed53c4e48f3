"""Take the README's screenshot of the step-through page: the neuron of docs/graph.py, stopped at
the backward step of its MatMul, photographed by headless Chromium (Debian's, via Playwright).

.venv/bin/python docs/stepper.py [out.png]   # writes docs/stepper.png (needs chromium, Graphviz)
"""

import runpy
import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from autograd.viz import step_through

HERE = Path(__file__).parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
STEP = 7  # the MatMul: w gets its gradient, the constant x none


def main(out: Path = HERE / "stepper.png") -> Path:
    names = runpy.run_path(str(HERE / "graph.py"), run_name="docs")["neuron"]()
    trace = step_through(names["loss"], names=names)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        page_path = trace.save_html(Path(folder) / "stepper.html")
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1100, "height": 1650}, device_scale_factor=1)
        page.goto(page_path.as_uri())
        page.locator(".ag-bar input[type=range]").fill(str(STEP))
        page.locator(".ag-stepper").screenshot(path=str(out))
        browser.close()
    return out


if __name__ == "__main__":
    print(main(*[Path(arg) for arg in sys.argv[1:2]]))
