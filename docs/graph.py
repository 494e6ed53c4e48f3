"""Draw the README's picture: one ReLU neuron and a squared-error loss, after backward.

.venv/bin/python docs/graph.py      # writes docs/graph.svg and docs/graph.png
"""

from pathlib import Path

import numpy as np

from autograd import TensorNode
from autograd.viz import render


def neuron() -> dict:
    """The README's neuron, its loss and their names (docs/stepper.py draws the same graph)."""
    rng = np.random.default_rng(0)
    x = TensorNode(rng.normal(size=(4, 3)).astype(np.float32))  # a batch of 4 inputs
    w = TensorNode(rng.normal(size=(3, 1)).astype(np.float32), requires_grad=True)
    b = TensorNode(np.zeros(1, np.float32), requires_grad=True)
    target = TensorNode(np.ones((4, 1), np.float32))

    y = (x @ w + b).relu()
    loss = ((y - target) ** 2).mean()
    return locals()


if __name__ == "__main__":
    names = neuron()
    names["loss"].backward(retain_grads=True)  # keep the intermediate gradients for the picture
    here = Path(__file__).parent
    for suffix in ("svg", "png"):
        print(render(names["loss"], here / f"graph.{suffix}", names=names))
