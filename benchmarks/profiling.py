"""Where the engine's time goes: NumPy work inside each op versus the engine's bookkeeping.

``timed_ops`` wraps every Op subclass's ``forward`` and ``backward`` with a stopwatch for the
duration of a ``with`` block, then puts the originals back. This lives in the benchmark, not in
the engine: the engine stays as students read it. Time inside ``forward``/``backward`` is the
NumPy arithmetic an op needs; the rest of a phase (``do_forward``, OpNode and TensorNode
creation, the topological sort, gradient routing) is the engine's bookkeeping.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import pstats
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from autograd import Op
from benchmarks.chains import SmallOpChain
from benchmarks.mlp import EngineMLP


def all_op_classes() -> list[type]:
    """Every subclass of Op defined so far, including subclasses of subclasses."""
    found, pending = [], [Op]
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass not in found:
                found.append(subclass)
                pending.append(subclass)
    return found


@dataclass
class OpTimes:
    """Seconds and calls per (op class name, "forward" | "backward")."""

    seconds: dict = field(default_factory=lambda: defaultdict(float))
    calls: dict = field(default_factory=lambda: defaultdict(int))

    def total(self, kind: str) -> float:
        return sum(t for (_, k), t in self.seconds.items() if k == kind)


def _stopwatch(function: Callable, key: tuple[str, str], times: OpTimes) -> Callable:
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            times.seconds[key] += time.perf_counter() - start
            times.calls[key] += 1

    return timed


@contextlib.contextmanager
def timed_ops() -> Iterator[OpTimes]:
    """Time every op's forward and backward inside the block.

    >>> with timed_ops() as times:
    ...     (TensorNode([1.0], requires_grad=True) * 2).sum().backward()
    >>> times.calls[("Mul", "forward")]
    1
    """
    times = OpTimes()
    replaced = []
    for cls in all_op_classes():
        for kind in ("forward", "backward"):
            original = cls.__dict__.get(kind)
            if isinstance(original, staticmethod):
                timed = _stopwatch(original.__func__, (cls.__name__, kind), times)
                setattr(cls, kind, staticmethod(timed))
                replaced.append((cls, kind, original))
    try:
        yield times
    finally:
        for cls, kind, original in replaced:
            setattr(cls, kind, original)


@dataclass
class Breakdown:
    """Per-step time of each phase, and how much of it is NumPy work inside the ops."""

    steps: int
    phases: dict[str, float]  # seconds per step: "forward", "backward", "update"
    op_seconds: dict[tuple[str, str], float]  # seconds per step per (op, kind)
    op_calls: dict[tuple[str, str], float]  # calls per step per (op, kind)

    def op_total(self, kind: str) -> float:
        return sum(t for (_, k), t in self.op_seconds.items() if k == kind)

    def bookkeeping(self, kind: str) -> float:
        """Seconds per step of a phase spent outside the ops' own forward/backward."""
        return self.phases[kind] - self.op_total(kind)


def mlp_breakdown(model: EngineMLP, steps: int) -> Breakdown:
    """Run ``steps`` steps of the engine's MLP with every op timed, phase by phase."""
    phases = defaultdict(float)
    with timed_ops() as times:
        for _ in range(steps):
            start = time.perf_counter()
            loss = model.forward()
            after_forward = time.perf_counter()
            loss.backward()
            after_backward = time.perf_counter()
            model.update()
            del loss
            end = time.perf_counter()
            phases["forward"] += after_forward - start
            phases["backward"] += after_backward - after_forward
            phases["update"] += end - after_backward
    return Breakdown(
        steps=steps,
        phases={kind: seconds / steps for kind, seconds in phases.items()},
        op_seconds={key: seconds / steps for key, seconds in times.seconds.items()},
        op_calls={key: calls / steps for key, calls in times.calls.items()},
    )


def chain_breakdown(chain: SmallOpChain, repeats: int) -> dict[str, float]:
    """Seconds per op of the small-op chain, by phase, with the time inside the ops."""
    with timed_ops() as times:
        phases = chain.engine_phases(repeats)
    per_op = 1 / (repeats * chain.ops)
    return {
        "forward": phases["forward"],
        "forward inside ops": times.total("forward") * per_op,
        "backward": phases["backward"],
        "backward inside ops": times.total("backward") * per_op,
        "freeing the graph": phases["free"],
    }


def median_breakdown(breakdowns: list[Breakdown]) -> Breakdown:
    """Entry by entry, the median of several breakdowns (the machine is noisy)."""
    return Breakdown(
        steps=sum(b.steps for b in breakdowns),
        phases=median_of_dicts([b.phases for b in breakdowns]),
        op_seconds=median_of_dicts([b.op_seconds for b in breakdowns]),
        op_calls=median_of_dicts([b.op_calls for b in breakdowns]),
    )


def median_of_dicts(dicts: list[dict]) -> dict:
    """For each key of the first dict, the median of its values across ``dicts``.

    >>> median_of_dicts([{"a": 1}, {"a": 5}, {"a": 2}])
    {'a': 2}
    """
    return {key: statistics.median(d.get(key, 0) for d in dicts) for key in dicts[0]}


def cprofile_top(function: Callable[[], object], top: int = 10, sort: str = "tottime") -> str:
    """cProfile's ``top`` most expensive functions for one call of ``function``, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    function()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(sort).print_stats(top)
    return out.getvalue()
