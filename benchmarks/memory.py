"""Memory over many training steps: it must stay flat, and reference counting alone must free
each step's graph.

The graph has no reference cycles (an OpNode holds its outputs weakly), so when ``loss`` goes
out of scope at the end of a step, every node, context and saved array of that step is freed at
once. Run with the cycle collector disabled, memory must still stay flat, and ``gc.collect()``
must find nothing to collect.

Each sample first calls ``gc.collect()``. Besides counting unreachable objects, a full
collection empties CPython's free lists: freed tuples, for example, are kept for reuse (up to
2,000 of each size) and tracemalloc still counts them, so without this the first few hundred
steps would show a slow, bounded "growth" that is CPython's, not the engine's.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from benchmarks.mlp import EngineMLP, MLPProblem
from benchmarks.timing import rss_bytes

# Growth below this many bytes per step counts as flat. One step's graph holds about 1 MB of
# activations for the default MLP, so a leaked graph grows a thousand times faster than this.
FLAT_BYTES_PER_STEP = 1024


@dataclass
class MemorySample:
    step: int
    current: int  # bytes traced by tracemalloc after the step (the graph is gone by then)
    peak: int  # highest traced bytes since the previous sample (inside the step)
    rss: int  # resident set size of the process
    unreachable: int  # objects gc.collect() found unreachable just before this sample


@dataclass
class MemoryRun:
    """Samples of one run and what they show.

    >>> run = measure_memory(MLPProblem.make(batch=4, sizes=(8, 5, 3)), steps=4, every=2)
    >>> run.flat
    True
    """

    gc_enabled: bool
    samples: list[MemorySample] = field(default_factory=list)

    @property
    def unreachable_found_by_gc(self) -> int:
        """Objects that only the cycle collector could free, summed over the samples."""
        return sum(s.unreachable for s in self.samples)

    @property
    def current_slope(self) -> float:
        """Least-squares growth of traced memory, in bytes per step."""
        return _slope([s.step for s in self.samples], [s.current for s in self.samples])

    @property
    def peak_slope(self) -> float:
        return _slope([s.step for s in self.samples], [s.peak for s in self.samples])

    @property
    def rss_slope(self) -> float:
        return _slope([s.step for s in self.samples], [s.rss for s in self.samples])

    @property
    def flat(self) -> bool:
        return abs(self.current_slope) < FLAT_BYTES_PER_STEP


def _slope(steps: list[int], values: list[int]) -> float:
    if len(steps) < 2:
        return 0.0
    return float(np.polyfit(np.array(steps, dtype=float), np.array(values, dtype=float), 1)[0])


def measure_memory(
    problem: MLPProblem, steps: int = 200, every: int = 20, gc_enabled: bool = True
) -> MemoryRun:
    """Train the engine's MLP for ``steps`` steps, sampling memory every ``every`` steps.

    ``every`` warm-up steps run under tracing first, and their end is step 0: one-off
    allocations (caches, the first gradient buffers) must not look like growth. Each sample's
    peak is the highest traced memory since the previous sample.
    """
    model = EngineMLP(problem)
    # Readings go into an array allocated before tracing starts: recording a sample must not
    # itself allocate memory that the next sample would count as growth.
    sample_steps = range(0, steps + 1, every)
    readings = np.zeros((len(sample_steps), 4), dtype=np.int64)
    was_enabled = gc.isenabled()
    gc.collect()
    if not gc_enabled:
        gc.disable()
    tracemalloc.start()
    try:
        for _ in range(every):  # warm-up
            model.step()
        _read(readings[0])
        for step in range(1, steps + 1):
            model.step()
            if step % every == 0:
                _read(readings[step // every])
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    samples = [MemorySample(step, *map(int, row)) for step, row in zip(sample_steps, readings)]
    return MemoryRun(gc_enabled=gc_enabled, samples=samples)


def _read(row: np.ndarray) -> None:
    """Fill ``row`` with (traced bytes, peak traced bytes since the last reading, RSS,
    unreachable objects found by a full collection)."""
    row[3] = gc.collect()  # also empties the free lists (see the module's docstring)
    row[0], row[1] = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    row[2] = rss_bytes()
