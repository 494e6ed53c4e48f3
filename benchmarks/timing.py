"""Interleaved timing rounds, their statistics, and a description of the machine.

The machine is noisy (other jobs share it), so contenders are timed in turns, round after round
(engine, numpy, torch, engine, numpy, torch, ...): a slow spell hits every contender alike, and
the median over rounds ignores it. The minimum is reported too: it is the best the code can do.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Samples of one quantity (seconds, usually), one per round.

    >>> Stats([3.0, 1.0, 2.0]).median, Stats([3.0, 1.0, 2.0]).min
    (2.0, 1.0)
    """

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)


def interleaved_rounds(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, Stats]:
    """Call each contender once per round, in turn, and collect what each call returns.

    Each contender runs its own workload and returns the time it took (per step, per op, ...).
    A full collection before each call keeps one contender's garbage from being collected on
    another contender's clock.

    >>> stats = interleaved_rounds({"a": lambda: 1.0, "b": lambda: 2.0}, rounds=3)
    >>> stats["b"].median
    2.0
    """
    results = {name: Stats() for name in contenders}
    for _ in range(rounds):
        for name, run_once in contenders.items():
            gc.collect()
            results[name].samples.append(run_once())
    return results


class CollectorClock:
    """Counts the cycle collector's runs inside a ``with`` block, and the time they take, per
    generation (0, 1, 2), through ``gc.callbacks``.

    >>> with CollectorClock() as clock:
    ...     gc.collect()
    >>> clock.collections[2]
    1
    """

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = None

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            generation = info["generation"]
            self.collections[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started
            self._started = None

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info) -> None:
        gc.callbacks.remove(self._callback)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm (0 where there is no /proc)."""
    try:
        with open("/proc/self/statm") as statm:
            resident_pages = int(statm.read().split()[1])
    except OSError:
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what the platform module knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def engine_revision() -> str:
    """The git commit measured, marked "+ uncommitted changes" when autograd/ differs from it."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "autograd"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown (git not available)"
    if not commit:
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes in autograd/" if changed else "")


def machine_info(torch_module=None) -> dict[str, str]:
    """The facts a reader needs to compare figures across machines."""
    import numpy as np

    return {
        "Engine revision": engine_revision(),
        "CPU": cpu_model(),
        "Cores (os.cpu_count)": str(os.cpu_count()),
        "Load average at start (1, 5, 15 min)": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "Platform": platform.platform(),
        "Python": sys.version.split()[0],
        "NumPy": np.__version__,
        "PyTorch": torch_module.__version__ if torch_module is not None else "not installed",
        "BLAS threads": ", ".join(
            f"{name}={os.environ.get(name, 'unset')}"
            for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        )
        + (
            f"; torch.get_num_threads()={torch_module.get_num_threads()}"
            if torch_module is not None
            else ""
        ),
    }


def import_torch():
    """PyTorch, limited to one thread, or None when it is not installed (it is optional)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch
