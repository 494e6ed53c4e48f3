"""The benchmarks, each a function returning a ``Comparison`` (or memory runs) to report.

Every function takes its sizes as arguments, so the smoke test can run them all in a second
with tiny sizes; ``run.py`` calls them with the real ones.
"""

from __future__ import annotations

import gc
import statistics
from dataclasses import dataclass, field

import autograd
from benchmarks import chains, conv, memory, mlp, profiling
from benchmarks.timing import CollectorClock, Stats, interleaved_rounds

#: Said under each benchmark that times the replayed engine.
REPLAY_NOTE = (
    "'engine, replay' is the engine's step through autograd.replay: recorded by two eager steps "
    "before timing (the second checks the first), then replayed (each op's forward and backward "
    "on arrays, no graph built)."
)


@dataclass
class Comparison:
    """One benchmark's timings per contender, the ratios to report, and its target.

    ``stats`` maps a contender to its Stats in seconds (None when PyTorch is not installed);
    ``scale`` and ``unit`` turn seconds into what is printed (1e3 and "ms", for example).
    """

    title: str
    unit: str
    scale: float
    stats: dict[str, Stats | None]
    ratios: list[tuple[str, str]]  # (numerator, denominator) contender pairs
    target: str  # in words, e.g. "engine <= 1.10x numpy"
    target_met: bool | None  # judged on medians; None when it cannot be judged
    replay_target_met: bool | None = None  # the same target, for 'engine, replay'
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # extra figures for the report

    def ratio(self, numerator: str, denominator: str, of: str = "median") -> float | None:
        """median/median, min/min, or (``of="paired"``) the median over rounds of the ratio
        within each round, which a slow spell affecting a whole round cancels out of."""
        top, bottom = self.stats.get(numerator), self.stats.get(denominator)
        if top is None or bottom is None:
            return None
        if of == "paired":
            return statistics.median(t / b for t, b in zip(top.samples, bottom.samples))
        return getattr(top, of) / getattr(bottom, of)


def _warm_up_then_time(contenders: dict, rounds: int) -> dict[str, Stats]:
    """One untimed call per contender (imports, caches, first allocations), then the rounds."""
    for run_once in contenders.values():
        run_once()
    return interleaved_rounds(contenders, rounds)


# ----- 1. MLP step -------------------------------------------------------------------------


def bench_mlp(
    torch=None,
    rounds: int = 9,
    steps: int = 30,
    batch: int = 128,
    sizes: tuple[int, ...] = (784, 256, 128, 10),
    target_ratio: float = 1.10,
) -> Comparison:
    """Seconds per SGD step of the MLP: engine, engine replayed, hand-written NumPy, PyTorch."""
    problem = mlp.MLPProblem.make(batch=batch, sizes=sizes)
    models = mlp.make_models(problem, torch)
    loss = mlp.check_same_work(models)
    contenders = {name: _steps_of(model, steps) for name, model in models.items()}
    stats = _warm_up_then_time(contenders, rounds)
    stats.setdefault("torch", None)
    comparison = Comparison(
        title=f"MLP {'-'.join(map(str, sizes))} SGD step, batch {batch}, float32",
        unit="ms/step",
        scale=1e3,
        stats=stats,
        ratios=[
            ("engine", "numpy"),
            ("torch", "numpy"),
            ("engine", "torch"),
            ("engine, replay", "numpy"),
            ("engine, replay", "torch"),
        ],
        target=f"engine <= {target_ratio:.2f}x numpy",
        target_met=None,
        notes=[
            f"{rounds} rounds of {steps} steps per contender; before timing, one step of each "
            f"gave the same loss ({loss:.6f}) and the same updated weights.",
            REPLAY_NOTE,
        ],
    )
    comparison.target_met = comparison.ratio("engine", "numpy") <= target_ratio
    comparison.replay_target_met = comparison.ratio("engine, replay", "numpy") <= target_ratio
    return comparison


def _steps_of(model, steps: int):
    return lambda: mlp.timed_steps(model, steps)


def mlp_profile(
    rounds: int = 9,
    steps: int = 30,
    batch: int = 128,
    sizes: tuple[int, ...] = (784, 256, 128, 10),
) -> profiling.Breakdown:
    """The engine's MLP step split by phase and by op (see profiling.timed_ops), entry by
    entry the median over ``rounds`` rounds of ``steps`` steps."""
    model = mlp.EngineMLP(mlp.MLPProblem.make(batch=batch, sizes=sizes))
    model.step()
    return profiling.median_breakdown(
        [profiling.mlp_breakdown(model, steps) for _ in range(rounds)]
    )


# ----- 2. small-op overhead ----------------------------------------------------------------


def bench_small_ops(
    torch=None, rounds: int = 9, units: int = 333, repeats: int = 5, target_us: float = 5.0
) -> Comparison:
    """Seconds per op of a chain of cheap 4x4 ops, forward and backward."""
    chain = chains.SmallOpChain(units=units)
    contenders = {
        "engine": lambda: chain.engine(repeats),
        "engine, replay": lambda: chain.replay(repeats),
        "numpy": lambda: chain.numpy(repeats),
    }
    if torch is not None:
        contenders["torch"] = lambda: chain.torch(torch, repeats)
    checks = {name: run_once()[1:] for name, run_once in contenders.items()}
    _check_close("small-op chain", checks)
    stats = interleaved_rounds(
        {name: _first(run_once) for name, run_once in contenders.items()}, rounds
    )
    stats.setdefault("torch", None)
    comparison = Comparison(
        title=f"Small-op overhead: chain of {chain.ops} ops on 4x4 float32, forward + backward",
        unit="us/op",
        scale=1e6,
        stats=stats,
        ratios=[
            ("engine", "numpy"),
            ("engine", "torch"),
            ("torch", "numpy"),
            ("engine, replay", "numpy"),
            ("engine, replay", "torch"),
        ],
        target=f"engine <= {target_us:g} us/op",
        target_met=stats["engine"].median * 1e6 <= target_us,
        replay_target_met=stats["engine, replay"].median * 1e6 <= target_us,
        notes=[
            f"ops per chain: {chain.ops} ((y * a[k] + b[k]).tanh() x {units}, then sum); "
            f"{repeats} chains per round, {rounds} rounds; {2 * chains.LEAVES + 1} leaves "
            "require grad; all contenders gave the same loss and leaf gradients.",
            REPLAY_NOTE,
        ],
    )
    comparison.details["breakdown"] = profiling.median_of_dicts(
        [profiling.chain_breakdown(chain, repeats) for _ in range(rounds)]
    )
    return comparison


def _first(run_once):
    return lambda: run_once()[0]


def _check_close(what: str, checks: dict[str, tuple], rtol: float = 1e-4) -> None:
    reference = checks["numpy"]
    for name, values in checks.items():
        for value, expected in zip(values, reference):
            if abs(value - expected) > rtol * max(abs(expected), 1e-6):
                raise AssertionError(f"{what}: {name} gave {values}, numpy gave {reference}")


def small_ops_cprofile(units: int = 333, repeats: int = 5, top: int = 10) -> str:
    """cProfile's top functions (by own time) over the engine's small-op chain."""
    chain = chains.SmallOpChain(units=units)
    chain.engine(1)
    return profiling.cprofile_top(lambda: chain.engine(repeats), top=top)


# ----- 3. long chain -----------------------------------------------------------------------


def bench_long_chain(
    torch=None, rounds: int = 5, ops: int = 100_000, target_seconds: float = 1.0
) -> Comparison:
    """Seconds to build, backward and free a chain of ``ops`` ops on a 0-d tensor."""
    chain = chains.LongChain(ops=ops)
    clocks = []

    def engine_counting_collections() -> float:
        with CollectorClock() as clock:
            seconds, _ = chain.engine()
        clocks.append(clock)
        return seconds

    def engine_without_gc() -> float:
        gc.disable()
        try:
            return chain.engine()[0]
        finally:
            gc.enable()

    def engine_in_large_graph() -> float:
        with autograd.large_graph():
            return chain.engine()[0]

    contenders = {
        "engine": engine_counting_collections,
        "engine, large_graph()": engine_in_large_graph,
        "engine, gc off": engine_without_gc,
        "engine, replay": lambda: chain.replay()[0],
        "numpy": lambda: chain.numpy()[0],
    }
    checks = {
        "engine": (chain.engine()[1],),
        "engine, replay": (chain.replay()[1],),
        "numpy": (chain.numpy()[1],),
    }
    if torch is not None:
        contenders["torch"] = lambda: chain.torch(torch)[0]
        checks["torch"] = (chain.torch(torch)[1],)
    _check_close("long chain", checks)
    gc_enabled_before = gc.isenabled()
    gc.enable()  # the default, which this benchmark is about
    try:
        stats = interleaved_rounds(contenders, rounds)
    finally:
        if not gc_enabled_before:
            gc.disable()
    stats.setdefault("torch", None)
    counts = [statistics.median(c.collections[g] for c in clocks) for g in range(3)]
    seconds = [statistics.median(c.seconds[g] for c in clocks) for g in range(3)]
    comparison = Comparison(
        title=f"Chain of {chain.ops:,} ops on a 0-d tensor (y * c + d), forward + backward + free",
        unit="s",
        scale=1.0,
        stats=stats,
        ratios=[
            ("engine", "torch"),
            ("engine, large_graph()", "engine"),
            ("engine, gc off", "torch"),
            ("engine", "numpy"),
            ("engine, replay", "torch"),
        ],
        target=f"engine <= {target_seconds:g} s (cycle collector on)",
        target_met=stats["engine"].median <= target_seconds,
        replay_target_met=stats["engine, replay"].median <= target_seconds,
        notes=[
            f"{rounds} rounds. With the cycle collector on (the default), the engine's chain "
            f"ran {counts[0]:g}/{counts[1]:g}/{counts[2]:g} collections of generations 0/1/2, "
            f"which took {seconds[0]:.3f}/{seconds[1]:.3f}/{seconds[2]:.3f} s (medians over "
            "rounds, timed through gc.callbacks). 'engine, large_graph()' is the same code inside "
            "autograd.large_graph() (the collector runs less often), 'engine, gc off' under "
            "gc.disable().",
            REPLAY_NOTE,
        ],
    )
    comparison.details["gc_collections_per_chain"] = counts
    comparison.details["gc_seconds_per_chain"] = seconds
    return comparison


# ----- 4. memory ---------------------------------------------------------------------------


def bench_memory(
    steps: int = 200,
    every: int = 20,
    batch: int = 128,
    sizes: tuple[int, ...] = (784, 256, 128, 10),
) -> list[memory.MemoryRun]:
    """Memory of the engine's MLP training, with the cycle collector on, then off."""
    problem = mlp.MLPProblem.make(batch=batch, sizes=sizes)
    return [
        memory.measure_memory(problem, steps=steps, every=every, gc_enabled=enabled)
        for enabled in (True, False)
    ]


# ----- 5. convolutional networks (issue 16) --------------------------------------------------


def bench_conv(
    torch=None,
    rounds: int = 9,
    calls: int = 5,
    shape: tuple[int, ...] = (64, 32, 16, 16),
    out_channels: int = 64,
    target_ratio: float = 2.0,
) -> Comparison:
    """Seconds per forward + backward of a 3x3 convolution with padding 1 and a bias."""
    problem = conv.ConvProblem.make(shape, out_channels)
    contenders = conv.conv_contenders(problem, torch)
    conv.check_same_results("conv", contenders)
    return _layer_comparison(
        f"Conv2d 3x3, padding 1, {tuple(shape)} -> {out_channels} channels, forward + backward "
        "(x, weight and bias gradients), float32",
        contenders, rounds, calls, target_ratio,
    )  # fmt: skip


def bench_max_pool(
    torch=None,
    rounds: int = 9,
    calls: int = 20,
    shape: tuple[int, ...] = (64, 64, 16, 16),
    target_ratio: float = 2.0,
) -> Comparison:
    """Seconds per forward + backward of 2x2 max-pooling (stride 2) after a ReLU (with ties)."""
    contenders = conv.max_pool_contenders(conv.PoolProblem.make(shape), torch)
    conv.check_same_results("max-pool", contenders)
    return _layer_comparison(
        f"MaxPool2d 2x2 on {tuple(shape)} (after a ReLU), forward + backward, float32",
        contenders, rounds, calls, target_ratio,
    )  # fmt: skip


def _layer_comparison(title, contenders, rounds, calls, target_ratio) -> Comparison:
    stats = _warm_up_then_time(
        {name: _calls_of(run_once, calls) for name, run_once in contenders.items()}, rounds
    )
    stats.setdefault("torch", None)
    comparison = Comparison(
        title=title,
        unit="ms",
        scale=1e3,
        stats=stats,
        ratios=[("engine", "torch"), ("engine", "numpy"), ("numpy", "torch")],
        target=f"engine <= {target_ratio:.1f}x torch",
        target_met=None,
        notes=[
            f"{rounds} rounds of {calls} calls per contender; before timing, every contender "
            "gave the same gradients.",
            CONV_NUMPY_NOTE,
        ],
    )
    ratio = comparison.ratio("engine", "torch")
    comparison.target_met = None if ratio is None else ratio <= target_ratio
    return comparison


def _calls_of(run_once, calls: int):
    return lambda: conv.timed_calls(run_once, calls)


#: Said under each convolution benchmark.
CONV_NUMPY_NOTE = (
    "Times are CPU seconds of the process (time.process_time), not wall time: the machine is "
    "shared and often loaded far beyond its 2 cores; every contender runs on one thread. "
    "'numpy' is the same computation by hand (benchmarks/conv.py): the engine's algorithms "
    "without a graph."
)


def bench_cnn(
    torch=None,
    rounds: int = 9,
    steps: int = 3,
    batch: int = 128,
    torch_ratio: float = 2.0,
    numpy_ratio: float = 1.10,
) -> Comparison:
    """Seconds per SGD step of the Fashion-MNIST CNN: engine, replayed, NumPy, PyTorch."""
    models = conv.make_cnn_models(conv.CNNProblem.make(batch=batch), torch)
    loss = mlp.check_same_work(models, what="CNN")
    stats = _warm_up_then_time(
        {name: _calls_of(model.step, steps) for name, model in models.items()}, rounds
    )
    stats.setdefault("torch", None)
    comparison = Comparison(
        title=f"CNN SGD step (Fashion-MNIST shapes, 1x28x28), batch {batch}, float32",
        unit="ms/step",
        scale=1e3,
        stats=stats,
        ratios=[
            ("engine", "torch"),
            ("engine", "numpy"),
            ("engine, replay", "torch"),
            ("engine, replay", "numpy"),
            ("numpy", "torch"),
        ],
        target=f"engine <= {torch_ratio:.1f}x torch and <= {numpy_ratio:.2f}x numpy",
        target_met=None,
        notes=[
            "conv 3x3 1->32 (padding 1), ReLU, max-pool 2, conv 3x3 32->64 (padding 1), ReLU, "
            "max-pool 2, linear 3136->128, ReLU, linear 128->10, softmax cross-entropy, SGD.",
            f"{rounds} rounds of {steps} steps per contender; before timing, one step of each "
            f"gave the same loss ({loss:.6f}) and the same updated weights.",
            CONV_NUMPY_NOTE,
            REPLAY_NOTE,
        ],
    )

    def met(name: str) -> bool | None:
        versus_torch = comparison.ratio(name, "torch")
        versus_numpy = comparison.ratio(name, "numpy")
        within_numpy = versus_numpy <= numpy_ratio
        return (
            within_numpy if versus_torch is None else versus_torch <= torch_ratio and within_numpy
        )

    comparison.target_met, comparison.replay_target_met = met("engine"), met("engine, replay")
    return comparison


def cnn_profile(rounds: int = 5, steps: int = 2, batch: int = 128) -> profiling.Breakdown:
    """The engine's CNN step split by phase and by op, as ``mlp_profile``. Conv2d's and
    MaxPool2d's backward call the forward of ConvTranspose2d, Conv2dWeightGrad and MaxUnpool2d
    (their backward ops): those forwards are inside the backward's time."""
    model = conv.EngineCNN(conv.CNNProblem.make(batch=batch))
    model.step()
    return profiling.median_breakdown(
        [profiling.mlp_breakdown(model, steps) for _ in range(rounds)]
    )
