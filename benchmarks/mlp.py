"""One SGD step of an MLP (784-256-128-10, ReLU, softmax cross-entropy), four ways.

- ``EngineMLP``: built from the engine's ops, exactly as a user would write it.
- ``ReplayMLP``: the same step through ``autograd.replay``: traced once, then replayed.
- ``NumpyMLP``: the same forward, backward and update written by hand in NumPy. It is the floor
  for any engine built on NumPy: the same arithmetic with no graph, no bookkeeping, and no work
  an engine could skip (no gradient for the input, activations updated in place).
- ``TorchMLP``: the same network in PyTorch on the CPU, with the same manual update.

All three start from the same weights and see the same batch; ``check_same_work`` proves that
they compute the same loss and the same update before anything is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from autograd import SoftmaxCrossEntropy, TensorNode, no_grad, replay

LEARNING_RATE = 0.01


@dataclass
class MLPProblem:
    """A batch and initial weights, shared by every implementation.

    >>> problem = MLPProblem.make(batch=4, sizes=(8, 5, 3))
    >>> [w.shape for w in problem.weights]
    [(8, 5), (5,), (5, 3), (3,)]
    """

    x: np.ndarray  # (batch, sizes[0]) float32
    labels: np.ndarray  # (batch,) int64
    weights: list[np.ndarray]  # W1, b1, W2, b2, ... float32

    @classmethod
    def make(
        cls, batch: int = 128, sizes: tuple[int, ...] = (784, 256, 128, 10), seed: int = 0
    ) -> MLPProblem:
        rng = np.random.default_rng(seed)
        x = rng.random((batch, sizes[0]), dtype=np.float32)  # like pixels in [0, 1)
        labels = rng.integers(0, sizes[-1], size=batch)
        weights = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(6.0 / fan_in)  # He uniform, suited to ReLU
            weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
            weights.append(rng.uniform(-0.1, 0.1, fan_out).astype(np.float32))
        return cls(x, labels, weights)


class EngineMLP:
    """The MLP step written with the engine's ops.

    >>> model = EngineMLP(MLPProblem.make(batch=4, sizes=(8, 5, 3)))
    >>> loss = model.step()   # forward, backward, SGD update, zero grads
    """

    def __init__(self, problem: MLPProblem) -> None:
        self.params = [TensorNode(w.copy(), requires_grad=True) for w in problem.weights]
        self.x = TensorNode(problem.x)
        self.labels = problem.labels

    def forward(self) -> TensorNode:
        return self.loss(self.x, self.labels)

    def loss(self, x: TensorNode, labels: np.ndarray | TensorNode) -> TensorNode:
        """The network and its loss on one batch."""
        h = x
        last = len(self.params) - 2
        for i in range(0, len(self.params), 2):
            weight, bias = self.params[i], self.params[i + 1]
            h = h @ weight + bias
            if i != last:
                h = h.relu()
        return SoftmaxCrossEntropy.do_forward(h, labels=labels)

    def update(self) -> None:
        with no_grad():
            for p in self.params:
                p.value -= LEARNING_RATE * p.grad
                p.zero_grad()

    def step(self) -> np.ndarray:
        loss = self.forward()
        loss.backward()
        self.update()
        return loss.value

    def weights(self) -> list[np.ndarray]:
        return [p.value for p in self.params]


class ReplayMLP(EngineMLP):
    """The engine's MLP step through ``autograd.replay``: recorded when made (two steps without
    the update, their gradients then dropped), so every ``step`` replays.

    >>> model = ReplayMLP(MLPProblem.make(batch=4, sizes=(8, 5, 3)))
    >>> loss = model.step()   # replayed forward and backward, SGD update, zero grads
    """

    def __init__(self, problem: MLPProblem) -> None:
        super().__init__(problem)
        self.replayed_step = replay.trace(self.loss)
        for _ in range(2):  # the first call records the program, the second checks it
            self.replayed_step(self.x.value, self.labels)
        for p in self.params:
            p.zero_grad()

    def step(self) -> np.ndarray:
        loss = self.replayed_step(self.x.value, self.labels)
        self.update()
        return loss.value


class NumpyMLP:
    """The MLP step written by hand in NumPy: the floor for a NumPy engine.

    >>> model = NumpyMLP(MLPProblem.make(batch=4, sizes=(8, 5, 3)))
    >>> loss = model.step()
    """

    def __init__(self, problem: MLPProblem) -> None:
        self.params = [w.copy() for w in problem.weights]
        self.x = problem.x
        self.labels = problem.labels
        self.rows = np.arange(len(problem.labels))

    def step(self) -> float:
        params, rows, labels = self.params, self.rows, self.labels
        layers = len(params) // 2

        # Forward: keep each layer's input; ReLU in place (its output is its own mask).
        inputs = []
        h = self.x
        for layer in range(layers):
            inputs.append(h)
            z = h @ params[2 * layer]
            z += params[2 * layer + 1]
            if layer != layers - 1:
                np.maximum(z, 0, out=z)
            h = z
        logits = h
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        sums = exp.sum(axis=1, keepdims=True)
        loss = np.log(sums).mean() - logits[rows, labels].mean()

        # Backward: dL/dlogits = (softmax - onehot) / n, then layer by layer.
        grad = exp
        grad /= sums
        grad[rows, labels] -= 1
        grad /= len(labels)
        grads = [None] * len(params)
        for layer in reversed(range(layers)):
            layer_input = inputs[layer]
            grads[2 * layer] = layer_input.T @ grad
            grads[2 * layer + 1] = grad.sum(axis=0)
            if layer > 0:  # the network's input needs no gradient
                grad = grad @ params[2 * layer].T
                grad *= layer_input > 0

        for p, g in zip(params, grads):
            p -= LEARNING_RATE * g
        return loss

    def weights(self) -> list[np.ndarray]:
        return self.params


class TorchMLP:
    """The MLP step in PyTorch (CPU), with the same manual SGD update.

    >>> model = TorchMLP(MLPProblem.make(batch=4, sizes=(8, 5, 3)), torch)
    >>> loss = model.step()
    """

    def __init__(self, problem: MLPProblem, torch) -> None:
        self.torch = torch
        self.params = [torch.tensor(w, requires_grad=True) for w in problem.weights]
        self.x = torch.from_numpy(problem.x)
        self.labels = torch.from_numpy(problem.labels)

    def loss(self):
        """The network and its loss on the batch."""
        h = self.x
        last = len(self.params) - 2
        for i in range(0, len(self.params), 2):
            h = h @ self.params[i] + self.params[i + 1]
            if i != last:
                h = self.torch.relu(h)
        return self.torch.nn.functional.cross_entropy(h, self.labels)

    def step(self):
        torch = self.torch
        loss = self.loss()
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= LEARNING_RATE * p.grad
                p.grad = None
        return loss.detach()

    def weights(self) -> list[np.ndarray]:
        return [p.detach().numpy() for p in self.params]


def make_models(problem: MLPProblem, torch=None) -> dict[str, object]:
    """One model per implementation, keyed "engine", "engine, replay", "numpy" and (if available)
    "torch"."""
    models = {
        "engine": EngineMLP(problem),
        "engine, replay": ReplayMLP(problem),
        "numpy": NumpyMLP(problem),
    }
    if torch is not None:
        models["torch"] = TorchMLP(problem, torch)
    return models


def check_same_work(
    models: dict[str, object], rtol: float = 1e-4, atol: float = 1e-5, what: str = "MLP"
) -> float:
    """Take one step with each model and require equal losses and equal updated weights.

    Returns the common loss. Raises AssertionError naming the model that disagrees.
    """
    losses = {name: float(model.step()) for name, model in models.items()}
    reference_loss = losses["numpy"]
    reference_weights = models["numpy"].weights()
    for name, model in models.items():
        if not np.isclose(losses[name], reference_loss, rtol=rtol, atol=atol):
            raise AssertionError(f"{what}: {name} loss {losses[name]} != numpy {reference_loss}")
        for index, (w, w_ref) in enumerate(zip(model.weights(), reference_weights)):
            if not np.allclose(w, w_ref, rtol=rtol, atol=atol):
                worst = float(np.abs(w - w_ref).max())
                raise AssertionError(
                    f"{what}: {name} parameter {index} differs from numpy after one step "
                    f"(max abs difference {worst:.3g})"
                )
    return reference_loss


def timed_steps(model, steps: int) -> float:
    """Seconds per step over ``steps`` consecutive steps."""
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return (time.perf_counter() - start) / steps
