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
import sys
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


def gc_collections() -> list[int]:
    """How many collections the cycle collector has run so far, per generation."""
    return [generation["collections"] for generation in gc.get_stats()]


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


def machine_info(torch_module=None) -> dict[str, str]:
    """The facts a reader needs to compare figures across machines."""
    import numpy as np

    return {
        "CPU": cpu_model(),
        "Cores (os.cpu_count)": str(os.cpu_count()),
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
