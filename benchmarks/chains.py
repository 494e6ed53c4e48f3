"""Chains of cheap ops, where the engine's per-op bookkeeping is all there is to measure.

- The small-op chain: a realistic mix of elementwise ops on 4x4 tensors (multiply by a leaf,
  add a leaf, tanh, repeated), summed, then backward. NumPy's own cost per op here is about a
  microsecond, so the time per op is the engine's overhead per op.
- The long chain: 100,000 ops on a 0-d tensor (y = y * c, y = y + d, alternately), then
  backward. It proves that backward needs no recursion and shows what a deep graph costs,
  including the work of the cycle collector and of freeing the graph.

Each comes four ways: the engine, the engine through ``autograd.replay`` (traced once, before
timing, then replayed), the same arithmetic written by hand in NumPy (the floor), and PyTorch.
"""

from __future__ import annotations

import time

import numpy as np

from autograd import TensorNode, replay

SMALL_SHAPE = (4, 4)
LEAVES = 8  # distinct multipliers and addends, reused along the chain


class SmallOpChain:
    """Leaves and a starting tensor for the small-op chain, as NumPy arrays.

    ``units`` blocks of three ops (``y * a[k]``, ``+ b[k]``, ``tanh``), then a sum:
    ``ops == 3 * units + 1`` ops in all.

    >>> chain = SmallOpChain(units=10)
    >>> chain.ops
    31
    """

    def __init__(self, units: int = 333, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.units = units
        self.ops = 3 * units + 1
        self.x = rng.standard_normal(SMALL_SHAPE).astype(np.float32)
        self.multipliers = [
            rng.uniform(0.5, 1.5, SMALL_SHAPE).astype(np.float32) for _ in range(LEAVES)
        ]
        self.addends = [
            rng.uniform(-0.5, 0.5, SMALL_SHAPE).astype(np.float32) for _ in range(LEAVES)
        ]
        self.replayed = None  # (leaves, traced step), made by the first call of ``replay``

    def engine_leaves(self) -> tuple[TensorNode, list[TensorNode], list[TensorNode]]:
        """x, the multipliers and the addends as leaves that require grad."""
        x = TensorNode(self.x, requires_grad=True)
        multipliers = [TensorNode(a, requires_grad=True) for a in self.multipliers]
        addends = [TensorNode(b, requires_grad=True) for b in self.addends]
        return x, multipliers, addends

    def engine_forward(self, x, multipliers, addends) -> TensorNode:
        """The chain, built with the engine's ops; returns the loss."""
        y = x
        for k in range(self.units):
            y = (y * multipliers[k % LEAVES] + addends[k % LEAVES]).tanh()
        return y.sum()

    def engine(self, repeats: int) -> tuple[float, float, float]:
        """Build, backward and zero the chain ``repeats`` times.

        Returns (seconds per op, the loss, the sum of all leaves' gradients), as the others do.
        """
        x, multipliers, addends = self.engine_leaves()
        leaves = [x, *multipliers, *addends]
        start = time.perf_counter()
        for _ in range(repeats):
            for leaf in leaves:
                leaf.zero_grad()
            loss = self.engine_forward(x, multipliers, addends)
            loss.backward()
        elapsed = time.perf_counter() - start
        return elapsed / (repeats * self.ops), float(loss.item()), _sum_grads(leaves)

    def replay(self, repeats: int) -> tuple[float, float, float]:
        """The engine's chain through ``autograd.replay``: recorded on the first call (not timed),
        then replayed ``repeats`` times. Returns what ``engine`` returns."""
        if self.replayed is None:
            x, multipliers, addends = self.engine_leaves()
            step = replay.trace(lambda: self.engine_forward(x, multipliers, addends))
            step(), step()  # two eager steps: the first records the program, the second checks it
            self.replayed = [x, *multipliers, *addends], step
        leaves, step = self.replayed
        start = time.perf_counter()
        for _ in range(repeats):
            for leaf in leaves:
                leaf.zero_grad()
            loss = step()
        elapsed = time.perf_counter() - start
        return elapsed / (repeats * self.ops), float(loss.item()), _sum_grads(leaves)

    def engine_phases(self, repeats: int) -> dict[str, float]:
        """Seconds per op spent building the chain, in backward, and freeing the graph."""
        x, multipliers, addends = self.engine_leaves()
        leaves = [x, *multipliers, *addends]
        phases = {"forward": 0.0, "backward": 0.0, "free": 0.0}
        for _ in range(repeats):
            for leaf in leaves:
                leaf.zero_grad()
            start = time.perf_counter()
            loss = self.engine_forward(x, multipliers, addends)
            built = time.perf_counter()
            loss.backward()
            done = time.perf_counter()
            del loss
            freed = time.perf_counter()
            phases["forward"] += built - start
            phases["backward"] += done - built
            phases["free"] += freed - done
        return {phase: seconds / (repeats * self.ops) for phase, seconds in phases.items()}

    def numpy(self, repeats: int) -> tuple[float, float, float]:
        """The same forward and backward by hand: the floor for a NumPy engine."""
        multipliers, addends = self.multipliers, self.addends
        start = time.perf_counter()
        for _ in range(repeats):
            grad_multipliers = [None] * LEAVES
            grad_addends = [None] * LEAVES
            chain_inputs, outputs = [], []
            y = self.x
            for k in range(self.units):
                chain_inputs.append(y)
                y = np.tanh(y * multipliers[k % LEAVES] + addends[k % LEAVES])
                outputs.append(y)
            loss = y.sum()
            grad = np.ones_like(y)  # d(sum)/dy
            for k in reversed(range(self.units)):
                grad = grad * (1 - outputs[k] * outputs[k])  # through tanh
                j = k % LEAVES
                grad_addends[j] = grad if grad_addends[j] is None else grad_addends[j] + grad
                grad_a = grad * chain_inputs[k]
                grad_multipliers[j] = (
                    grad_a if grad_multipliers[j] is None else grad_multipliers[j] + grad_a
                )
                grad = grad * multipliers[j]
        elapsed = time.perf_counter() - start
        leaf_grads = [grad, *grad_multipliers, *grad_addends]
        return (
            elapsed / (repeats * self.ops),
            float(loss),
            float(sum(g.sum() for g in leaf_grads if g is not None)),
        )

    def torch(self, torch, repeats: int) -> tuple[float, float, float]:
        """The same chain in PyTorch."""
        x = torch.tensor(self.x, requires_grad=True)
        multipliers = [torch.tensor(a, requires_grad=True) for a in self.multipliers]
        addends = [torch.tensor(b, requires_grad=True) for b in self.addends]
        leaves = [x, *multipliers, *addends]
        start = time.perf_counter()
        for _ in range(repeats):
            for leaf in leaves:
                leaf.grad = None
            y = x
            for k in range(self.units):
                y = torch.tanh(y * multipliers[k % LEAVES] + addends[k % LEAVES])
            loss = y.sum()
            loss.backward()
        elapsed = time.perf_counter() - start
        return elapsed / (repeats * self.ops), float(loss.item()), _sum_grads(leaves)


def _sum_grads(leaves) -> float:
    """A checksum of a backward pass: the sum of every leaf's gradient (None counts as 0)."""
    return float(sum(float(leaf.grad.sum()) for leaf in leaves if leaf.grad is not None))


class LongChain:
    """A chain of ``ops`` ops on a 0-d float32 tensor: y = y * c and y = y + d, alternately.

    c and d are constants (no gradient), x is the leaf; the time covers building the graph,
    backward, and freeing the graph.

    >>> seconds, grad_x = LongChain(ops=10).numpy()   # grad_x == 1.00001 ** 5
    """

    def __init__(self, ops: int = 100_000) -> None:
        self.ops = ops - ops % 2
        self.c = np.float32(1.00001)
        self.d = np.float32(1e-5)
        self.replayed = None  # (x, traced step), made by the first call of ``replay``

    def engine(self) -> tuple[float, float]:
        x = TensorNode(np.float32(1.0), requires_grad=True)
        c, d = TensorNode(np.asarray(self.c)), TensorNode(np.asarray(self.d))
        start = time.perf_counter()
        y = x
        for _ in range(self.ops // 2):
            y = y * c + d
        y.backward()
        del y
        return time.perf_counter() - start, float(x.grad)

    def replay(self) -> tuple[float, float]:
        """The engine's chain through ``autograd.replay``: recorded on the first call (not timed),
        then one replay, timed."""
        if self.replayed is None:
            x = TensorNode(np.float32(1.0), requires_grad=True)
            c, d = TensorNode(np.asarray(self.c)), TensorNode(np.asarray(self.d))

            def chain() -> TensorNode:
                y = x
                for _ in range(self.ops // 2):
                    y = y * c + d
                return y

            step = replay.trace(chain)
            step(), step()  # two eager steps: the first records the program, the second checks it
            self.replayed = x, step
        x, step = self.replayed
        x.zero_grad()
        start = time.perf_counter()
        step()
        return time.perf_counter() - start, float(x.grad)

    def numpy(self) -> tuple[float, float]:
        """Forward saving what backward needs, then backward: the floor for a NumPy engine."""
        c, d = np.asarray(self.c), np.asarray(self.d)
        start = time.perf_counter()
        y = np.asarray(np.float32(1.0))
        for _ in range(self.ops // 2):
            y = y * c + d  # nothing to save: the backward of y * c needs only c
        grad = np.ones_like(y)
        for _ in range(self.ops // 2):
            grad = grad * c  # through + d (identity), then through * c
        return time.perf_counter() - start, float(grad)

    def torch(self, torch) -> tuple[float, float]:
        x = torch.tensor(1.0, requires_grad=True)
        c, d = torch.tensor(float(self.c)), torch.tensor(float(self.d))
        start = time.perf_counter()
        y = x
        for _ in range(self.ops // 2):
            y = y * c + d
        y.backward()
        del y
        return time.perf_counter() - start, float(x.grad)
