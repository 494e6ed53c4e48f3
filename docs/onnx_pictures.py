"""Draw the README's ONNX pictures: one small MLP as Netron draws its ONNX export, and as
autograd.viz draws the engine's graph of the same forward pass.

.venv/bin/python docs/onnx_pictures.py          # docs/onnx-autograd.{svg,png}, docs/onnx-netron.png

Netron's picture needs the ``netron`` package (``pip install netron``: it serves Netron's page on
localhost, offline), Playwright for Python (``pip install playwright``; no browser download) and
Debian's Chromium (``apt-get install chromium``), which Playwright drives headless to take the
screenshot. Without them only our own picture is drawn.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import autograd.onnx
import nn
from autograd import TensorNode
from autograd.viz import render

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
NETRON = str(Path(sys.executable).with_name("netron"))  # the netron package's command


def model_and_example() -> tuple[nn.MLP, np.ndarray]:
    """The MLP of both pictures, in evaluation mode, and an example batch of one image."""
    model = nn.MLP(784, [128, 64], 10, batchnorm=True, dropout=0.2, rng=0).eval()
    return model, np.zeros((1, 784), np.float32)


def draw_ours(path: Path) -> Path:
    """autograd.viz's picture of the MLP's forward pass on the example (the graph export sees)."""
    model, example = model_and_example()
    x = TensorNode(example, name="input")
    return render(model(x), path, names=model, show_grads=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def draw_netron(onnx_path: Path, path: Path, width: int = 560, height: int = 1500) -> Path:
    """Serve ``onnx_path`` with Netron on localhost and screenshot its page with Chromium."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [NETRON, str(onnx_path), "--host", "localhost", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # wait until it listens
            with socket.socket() as probe:
                if probe.connect_ex(("localhost", port)) == 0:
                    break
            time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(
                viewport={"width": width, "height": height}, device_scale_factor=2
            )
            page.goto(f"http://localhost:{port}/")
            accept = page.get_by_text("Accept")  # Netron's first-visit notice
            accept.wait_for(timeout=15000)
            accept.click()
            page.wait_for_selector("#canvas .node", timeout=15000)
            page.mouse.move(0, 0)  # no node highlighted under the pointer
            page.wait_for_timeout(500)
            box = page.locator("#canvas > g").first.bounding_box()  # the graph alone
            margin = 12
            clip = {
                "x": box["x"] - margin,
                "y": box["y"] - margin,
                "width": box["width"] + 2 * margin,
                "height": box["height"] + 2 * margin,
            }
            page.screenshot(path=str(path), clip=clip)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    return path


def main() -> None:
    for suffix in ("svg", "png"):
        print(draw_ours(HERE / f"onnx-autograd.{suffix}"))
    model, example = model_and_example()
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = Path(folder) / "mlp.onnx"
        autograd.onnx.export(model, example, onnx_path)
        if Path(NETRON).exists() and Path(CHROMIUM).exists():
            print(draw_netron(onnx_path, HERE / "onnx-netron.png"))


if __name__ == "__main__":
    main()
