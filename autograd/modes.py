"""Per-thread switches: grad mode, anomaly mode and the scope that labels new ops.

Each thread has its own, as in PyTorch: a ``no_grad()`` block in one thread never turns off
recording in another, and blocks that overlap in time cannot leave the switch in the wrong state.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator


class Modes:
    """One thread's switches."""

    __slots__ = ("grad_enabled", "anomaly_enabled", "scope", "tracing", "observer")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly_enabled = False
        self.scope: tuple = ()  # what is building the graph now, outermost first
        # While replay.trace records a step: a list of the constant nodes computed from nodes
        # outside any op (comparisons, np.sign), and every op is recorded, needed or not.
        self.tracing: list | None = None
        #: Called by the backward loop after each op's backward, before the gradients it returned
        #: are added into the pending ones: ``observer(op_node, outputs, output_grads,
        #: input_grads, pending)``, where ``pending`` maps nodes to their gradient so far (to
        #: read, never to change). None: no call, and no cost. autograd.viz.step_through sets it.
        self.observer = None


class _PerThread(threading.local):
    def __init__(self) -> None:  # runs once in each thread that reads ``local.modes``
        self.modes = Modes()


#: ``local.modes`` is the current thread's Modes. Read it once and keep it in a variable where
#: speed counts: each read of a thread-local attribute costs as much as a small NumPy call.
local = _PerThread()


def no_grad() -> contextlib.AbstractContextManager:
    """Build no graph inside the block: for evaluation and parameter updates.

    >>> with no_grad():
    ...     y = w * 2      # y.source is None, y.requires_grad is False
    """
    return _switch("grad_enabled", False)


def enable_grad() -> contextlib.AbstractContextManager:
    """Record the graph inside the block, even within ``no_grad()``.

    >>> with no_grad(), enable_grad():
    ...     y = w * 2      # y.source is the Mul OpNode
    """
    return _switch("grad_enabled", True)


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (in this thread)."""
    return local.modes.grad_enabled


def detect_anomaly() -> contextlib.AbstractContextManager:
    """Stop at the first op that makes a NaN or an infinity, in forward or in backward.

    >>> with detect_anomaly():
    ...     (x.log() * 0).sum().backward()   # AnomalyError: Log produced -inf, created at ...
    """
    return _switch("anomaly_enabled", True)


@contextlib.contextmanager
def _switch(name: str, value: bool) -> Iterator[None]:
    """Set this thread's switch ``name`` inside the block, and restore it after, even on error."""
    modes = local.modes
    previous = getattr(modes, name)
    setattr(modes, name, value)
    try:
        yield
    finally:
        setattr(modes, name, previous)


class scope:  # noqa: N801  (used like a function: ``with scope(owner):``)
    """Label the ops created inside the block with ``owner`` (a name, or a module).

    nn.Module wraps its forward in this, so a picture of the graph can box each layer's ops.
    (A class rather than a generator: it runs on every module call, and this is cheaper.)

    >>> with scope("encoder"):
    ...     h = (x @ w).relu()        # h.source.scope == ("encoder",)
    """

    __slots__ = ("owner", "modes", "previous")

    def __init__(self, owner) -> None:
        self.owner = owner

    def __enter__(self) -> None:
        self.modes = local.modes
        self.previous = self.modes.scope
        self.modes.scope = self.previous + (self.owner,)

    def __exit__(self, *exc_info) -> None:
        self.modes.scope = self.previous


@contextlib.contextmanager
def large_graph(threshold: int = 100_000) -> Iterator[None]:
    """Let Python's cycle collector run less often inside the block: for graphs of many thousands
    of ops, which it would otherwise re-walk again and again (the graph holds no reference cycles,
    so those walks find nothing). Process-wide, like the collector itself; restored after.

    >>> with large_graph():
    ...     loss = deep_chain(x); loss.backward()
    """
    previous = gc.get_threshold()
    gc.set_threshold(max(threshold, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
