"""Convolutional networks, three ways: a conv layer, a max-pool layer, a CNN's training step.

- ``engine``: the engine's ops (``autograd.functional``), as a user would write them;
  ``engine, replay`` (CNN step only): the same step through ``autograd.replay``.
- ``numpy``: the same computation written by hand in NumPy, the floor for an engine on NumPy:
  the patch matrix by a strided window view and one copy, one batched matrix product, the
  input's gradient by a loop over kernel offsets adding strided slices, the weight's by one
  product with a patch matrix laid out rows first; no graph, no gradient for the network's
  input, ReLU in place.
- ``torch``: PyTorch on the CPU, eager, one thread.

Every contender starts from the same weights and batch; ``check_same_work`` compares their
results before anything is timed.

The CNN is a small Fashion-MNIST network: conv 3x3 1->32 (padding 1), ReLU, max-pool 2,
conv 3x3 32->64 (padding 1), ReLU, max-pool 2, flatten, linear 3136->128, ReLU, linear 128->10,
softmax cross-entropy, then an SGD update.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from autograd import SoftmaxCrossEntropy, TensorNode
from autograd import functional as AF
from benchmarks.mlp import EngineMLP, ReplayMLP, TorchMLP

LEARNING_RATE = 0.01


# ----- hand-written NumPy ----------------------------------------------------------------------


def numpy_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, padding: int):
    """Stride-1 convolution by the patch matrix; returns y and the padded input."""
    n, c, h, width = x.shape
    o, _, kh, kw = w.shape
    if padding:
        xp = np.zeros((n, c, h + 2 * padding, width + 2 * padding), x.dtype)
        xp[:, :, padding : padding + h, padding : padding + width] = x
    else:
        xp = x
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (n, c, oh, ow, kh, kw)
    oh, ow = windows.shape[2:4]
    patches = np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3)).reshape(n, -1, oh * ow)
    y = np.matmul(w.reshape(o, -1), patches).reshape(n, o, oh, ow)
    y += b.reshape(-1, 1, 1)
    return y, xp


def numpy_conv_backward(g, xp, w, x_shape, padding: int, input_grad: bool = True):
    """(dL/dx or None, dL/dw, dL/db) of numpy_conv, from its padded input."""
    n, o, oh, ow = g.shape
    _, c, kh, kw = w.shape
    # dL/dw = sum over images and positions of g x patches: one product over (K, N*L), with the
    # patch matrix built rows first (c, kh, kw, n, oh, ow) from the window view. (Measured: this
    # beats keeping the forward's (N, K, L) patch matrix and transposing it, 6.0 against 7.4 ms
    # for the CNN's second layer, and np.tensordot, which makes that transposed copy too.)
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))
    patch_rows = np.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3)).reshape(c * kh * kw, -1)
    g_rows = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, -1)
    grad_w = (patch_rows @ g_rows.T).T.reshape(w.shape)
    grad_b = g.sum(axis=(0, 2, 3))
    if not input_grad:
        return None, grad_w, grad_b
    # cols = w^T @ g with rows ordered (i, j, c): each kernel offset adds one block.
    w_rows = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, o)
    cols = np.matmul(w_rows, g.reshape(n, o, oh * ow)).reshape(n, kh, kw, c, oh, ow)
    h, width = x_shape[2:]
    padded = np.zeros((n, c, h + 2 * padding, width + 2 * padding), g.dtype)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i : i + oh, j : j + ow] += cols[:, i, j]
    grad_x = np.ascontiguousarray(padded[:, :, padding : padding + h, padding : padding + width])
    return grad_x, grad_w, grad_b


def numpy_max_pool(x: np.ndarray, k: int = 2):
    """k x k max-pooling, stride k; returns y and each window's first argmax (0..k*k-1)."""
    n, c, h, w = x.shape
    windows = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::k, ::k]
    stacked = np.ascontiguousarray(windows.transpose(4, 5, 0, 1, 2, 3)).reshape(k * k, n, c, -1)
    y = np.maximum.reduce(stacked, axis=0)
    argmax = np.zeros(y.shape, np.uint8)
    found = np.zeros(y.shape, bool)
    for offset in range(k * k):
        first = stacked[offset] == y
        first &= ~found
        argmax += first * np.uint8(offset)
        found |= first
    return y.reshape(n, c, h // k, w // k), argmax.reshape(n, c, h // k, w // k)


def numpy_max_pool_backward(g: np.ndarray, argmax: np.ndarray, x_shape, k: int = 2):
    grad = np.zeros(x_shape, g.dtype)
    for offset in range(k * k):
        i, j = divmod(offset, k)
        grad[:, :, i::k, j::k] += g * (argmax == offset)
    return grad


# ----- 1. a conv layer -------------------------------------------------------------------------


@dataclass
class ConvProblem:
    """x (N, C, H, W), a 3x3 weight, a bias and an upstream gradient, float32."""

    x: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    grad_output: np.ndarray
    padding: int = 1

    @classmethod
    def make(cls, shape=(64, 32, 16, 16), out_channels: int = 64, seed: int = 0) -> ConvProblem:
        rng = np.random.default_rng(seed)
        n, c, h, w = shape
        bound = 1 / np.sqrt(c * 9)
        return cls(
            rng.standard_normal(shape, dtype=np.float32),
            rng.uniform(-bound, bound, (out_channels, c, 3, 3)).astype(np.float32),
            rng.uniform(-bound, bound, out_channels).astype(np.float32),
            rng.standard_normal((n, out_channels, h, w), dtype=np.float32),
        )


def conv_contenders(problem: ConvProblem, torch=None) -> dict:
    """name -> a function doing forward + backward once and returning (dx, dw, db) arrays."""
    p = problem
    x = TensorNode(p.x, requires_grad=True)
    w = TensorNode(p.weight, requires_grad=True)
    b = TensorNode(p.bias, requires_grad=True)

    def engine():
        y = AF.conv2d(x, w, b, padding=p.padding)
        y.backward(p.grad_output)
        grads = x.grad, w.grad, b.grad
        x.grad = w.grad = b.grad = None
        return grads

    def numpy():
        _, padded = numpy_conv(p.x, p.weight, p.bias, p.padding)
        return numpy_conv_backward(p.grad_output, padded, p.weight, p.x.shape, p.padding)

    contenders = {"engine": engine, "numpy": numpy}
    if torch is not None:
        tx = torch.tensor(p.x, requires_grad=True)
        tw = torch.tensor(p.weight, requires_grad=True)
        tb = torch.tensor(p.bias, requires_grad=True)
        tg = torch.tensor(p.grad_output)

        def torch_step():
            y = torch.nn.functional.conv2d(tx, tw, tb, padding=p.padding)
            y.backward(tg)
            grads = tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()
            tx.grad = tw.grad = tb.grad = None
            return grads

        contenders["torch"] = torch_step
    return contenders


# ----- 2. a max-pool layer ---------------------------------------------------------------------


@dataclass
class PoolProblem:
    x: np.ndarray
    grad_output: np.ndarray

    @classmethod
    def make(cls, shape=(64, 64, 16, 16), seed: int = 0) -> PoolProblem:
        rng = np.random.default_rng(seed)
        n, c, h, w = shape
        x = np.maximum(rng.standard_normal(shape, dtype=np.float32), 0)  # after a ReLU: ties
        return cls(x, rng.standard_normal((n, c, h // 2, w // 2), dtype=np.float32))


def max_pool_contenders(problem: PoolProblem, torch=None) -> dict:
    """name -> a function doing 2x2 max-pooling forward + backward once, returning (dx,)."""
    p = problem
    x = TensorNode(p.x, requires_grad=True)

    def engine():
        AF.max_pool2d(x, 2).backward(p.grad_output)
        grad, x.grad = x.grad, None
        return (grad,)

    def numpy():
        _, argmax = numpy_max_pool(p.x)
        return (numpy_max_pool_backward(p.grad_output, argmax, p.x.shape),)

    contenders = {"engine": engine, "numpy": numpy}
    if torch is not None:
        tx = torch.tensor(p.x, requires_grad=True)
        tg = torch.tensor(p.grad_output)

        def torch_step():
            torch.nn.functional.max_pool2d(tx, 2).backward(tg)
            grad, tx.grad = tx.grad.numpy(), None
            return (grad,)

        contenders["torch"] = torch_step
    return contenders


def check_same_results(what: str, contenders: dict, rtol: float = 1e-5) -> None:
    """Every contender's arrays equal numpy's to ``rtol`` of their largest element (float32
    sums of thousands of terms differ in their last digits); AssertionError naming the one that
    is not."""
    reference = contenders["numpy"]()
    for name, run_once in contenders.items():
        for index, (ours, expected) in enumerate(zip(run_once(), reference, strict=True)):
            worst = float(np.abs(ours - expected).max())
            if not worst <= rtol * float(np.abs(expected).max()):
                raise AssertionError(
                    f"{what}: {name} result {index} differs from numpy (max abs {worst:.3g})"
                )


def timed_calls(run_once, calls: int) -> float:
    """CPU seconds of this process per call, over ``calls`` consecutive calls.

    CPU time rather than wall time: on this shared 2-core machine the load is often 5 to 10, and
    wall time then counts the time other jobs hold the core. Every contender runs on one thread,
    so its CPU time is its work (slowed still by the caches and memory other jobs share).
    """
    start = time.process_time()
    for _ in range(calls):
        run_once()
    return (time.process_time() - start) / calls


# ----- 3. a CNN's training step ----------------------------------------------------------------


@dataclass
class CNNProblem:
    """A Fashion-MNIST-shaped batch and the CNN's initial weights (PyTorch's default init)."""

    x: np.ndarray  # (batch, 1, 28, 28) float32
    labels: np.ndarray  # (batch,) int64
    weights: list[np.ndarray]  # conv1 w, b, conv2 w, b, fc1 w (in, out), b, fc2 w, b

    @classmethod
    def make(cls, batch: int = 128, channels=(32, 64), hidden: int = 128, seed: int = 0):
        rng = np.random.default_rng(seed)
        x = rng.random((batch, 1, 28, 28), dtype=np.float32)
        labels = rng.integers(0, 10, batch)
        weights = []
        for c_in, c_out in zip((1, *channels[:-1]), channels):
            bound = 1 / np.sqrt(c_in * 9)
            weights.append(rng.uniform(-bound, bound, (c_out, c_in, 3, 3)).astype(np.float32))
            weights.append(rng.uniform(-bound, bound, c_out).astype(np.float32))
        for fan_in, fan_out in ((channels[-1] * 7 * 7, hidden), (hidden, 10)):
            bound = 1 / np.sqrt(fan_in)
            weights.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
            weights.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
        return cls(x, labels, weights)


class EngineCNN(EngineMLP):
    """The CNN step with the engine's ops: the MLP benchmark's step (forward, backward, SGD
    update), with a convolutional network as its loss.

    >>> model = EngineCNN(CNNProblem.make(batch=4))
    >>> loss = model.step()   # forward, backward, SGD update, zero grads
    """

    def loss(self, x: TensorNode, labels) -> TensorNode:
        conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b = self.params
        h = AF.max_pool2d(AF.conv2d(x, conv1_w, conv1_b, padding=1).relu(), 2)
        h = AF.max_pool2d(AF.conv2d(h, conv2_w, conv2_b, padding=1).relu(), 2)
        h = h.reshape(h.shape[0], -1)
        h = (h @ fc1_w + fc1_b).relu()
        return SoftmaxCrossEntropy.do_forward(h @ fc2_w + fc2_b, labels=labels)


class ReplayCNN(EngineCNN, ReplayMLP):
    """The engine's CNN step through ``autograd.replay`` (recorded by two steps when made):
    ReplayMLP's recording and step, EngineCNN's loss.

    >>> model = ReplayCNN(CNNProblem.make(batch=4))
    >>> loss = model.step()   # replayed forward and backward, SGD update, zero grads
    """


class NumpyCNN:
    """The CNN step by hand in NumPy.

    >>> loss = NumpyCNN(CNNProblem.make(batch=4)).step()
    """

    def __init__(self, problem: CNNProblem) -> None:
        self.params = [w.copy() for w in problem.weights]
        self.x, self.labels = problem.x, problem.labels
        self.rows = np.arange(len(problem.labels))

    def step(self) -> float:
        conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b = self.params
        rows, labels, n = self.rows, self.labels, len(self.labels)
        # Forward, keeping what backward needs; ReLU in place (its output is its own mask).
        a1, padded1 = numpy_conv(self.x, conv1_w, conv1_b, 1)
        np.maximum(a1, 0, out=a1)
        p1, argmax1 = numpy_max_pool(a1)
        a2, padded2 = numpy_conv(p1, conv2_w, conv2_b, 1)
        np.maximum(a2, 0, out=a2)
        p2, argmax2 = numpy_max_pool(a2)
        flat = p2.reshape(n, -1)
        h = flat @ fc1_w
        h += fc1_b
        np.maximum(h, 0, out=h)
        logits = h @ fc2_w
        logits += fc2_b
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        sums = exp.sum(axis=1, keepdims=True)
        loss = np.log(sums).mean() - logits[rows, labels].mean()

        # Backward.
        grad = exp
        grad /= sums
        grad[rows, labels] -= 1
        grad /= n
        grad_fc2_w, grad_fc2_b = h.T @ grad, grad.sum(axis=0)
        grad = grad @ fc2_w.T
        grad *= h > 0
        grad_fc1_w, grad_fc1_b = flat.T @ grad, grad.sum(axis=0)
        grad = (grad @ fc1_w.T).reshape(p2.shape)
        grad = numpy_max_pool_backward(grad, argmax2, a2.shape)
        grad *= a2 > 0
        grad, grad_conv2_w, grad_conv2_b = numpy_conv_backward(grad, padded2, conv2_w, p1.shape, 1)
        grad = numpy_max_pool_backward(grad, argmax1, a1.shape)
        grad *= a1 > 0
        _, grad_conv1_w, grad_conv1_b = numpy_conv_backward(
            grad, padded1, conv1_w, self.x.shape, 1, input_grad=False
        )
        grads = [grad_conv1_w, grad_conv1_b, grad_conv2_w, grad_conv2_b,
                 grad_fc1_w, grad_fc1_b, grad_fc2_w, grad_fc2_b]  # fmt: skip
        for p, g in zip(self.params, grads, strict=True):
            p -= LEARNING_RATE * g
        return loss

    def weights(self) -> list[np.ndarray]:
        return self.params


class TorchCNN(TorchMLP):
    """The CNN step in PyTorch (CPU, eager): TorchMLP's step and manual SGD update, with a
    convolutional network as its loss."""

    def loss(self):
        torch = self.torch
        f = torch.nn.functional
        conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b = self.params
        h = f.max_pool2d(torch.relu(f.conv2d(self.x, conv1_w, conv1_b, padding=1)), 2)
        h = f.max_pool2d(torch.relu(f.conv2d(h, conv2_w, conv2_b, padding=1)), 2)
        h = torch.relu(h.flatten(1) @ fc1_w + fc1_b)
        return f.cross_entropy(h @ fc2_w + fc2_b, self.labels)


def make_cnn_models(problem: CNNProblem, torch=None) -> dict[str, object]:
    models = {
        "engine": EngineCNN(problem),
        "engine, replay": ReplayCNN(problem),
        "numpy": NumpyCNN(problem),
    }
    if torch is not None:
        models["torch"] = TorchCNN(problem, torch)
    return models
