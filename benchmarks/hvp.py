"""Hessian-vector products (second derivatives) beside PyTorch's, and what create_graph costs.

    python -m benchmarks.hvp               # about half a minute; prints a markdown table
    python -m benchmarks.hvp --rounds 3    # quicker, noisier

Two workloads, each timed on the engine and on PyTorch (CPU) in the same run:

- ``mlp``: the loss of the MLP of ``benchmarks/mlp.py`` (784-256-128-10, ReLU, softmax
  cross-entropy, batch 128, float32), and H v with respect to all its weights and biases;
- ``rosenbrock``: a small scalar function, the extended Rosenbrock function of 100 float64
  variables, sum(100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2), where the per-op cost is all there is.

Both engines compute H v the same way, reverse over reverse: g = grad(f, w, create_graph=True),
then grad(g . v, w). Before timing, their H v must agree. Per workload the contenders are:

- ``hvp``: forward, create_graph backward, second backward (engine and torch);
- ``gradient``: forward and a first-order backward (engine and torch), the unit an HVP is
  measured in;
- ``backward`` and ``create_graph backward``: the engine's backward alone, without and with
  ``create_graph=True``, to show what recording costs (the forward runs off the clock; freeing
  the gradients and the graph is on it).

As in ``benchmarks.run``: every library on one BLAS thread, contenders timed in turns round after
round, medians reported.
"""

import os

# Run as a program: one BLAS thread, set before NumPy (or anything importing it) is loaded, since
# BLAS reads these once, at load time. Imported (by the smoke test), it changes nothing.
if __name__ == "__main__":
    for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402

import autograd  # noqa: E402
from autograd import SoftmaxCrossEntropy, TensorNode  # noqa: E402
from benchmarks.mlp import MLPProblem  # noqa: E402
from benchmarks.timing import Stats, import_torch, interleaved_rounds, machine_info  # noqa: E402

# ----- the two functions, written once for each engine -------------------------------------


def mlp_loss_engine(params: list, x: TensorNode, labels: np.ndarray) -> TensorNode:
    """The MLP's mean cross-entropy, built from the engine's ops."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i != len(params) - 2:
            h = h.relu()
    return SoftmaxCrossEntropy.do_forward(h, labels=labels)


def mlp_loss_torch(torch, params: list, x, labels):
    """The same loss in PyTorch."""
    h = x
    for i in range(0, len(params), 2):
        h = h @ params[i] + params[i + 1]
        if i != len(params) - 2:
            h = torch.relu(h)
    return torch.nn.functional.cross_entropy(h, labels)


def rosenbrock(x):
    """sum(100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2): the same code runs on both engines."""
    head, tail = x[:-1], x[1:]
    return (100 * (tail - head * head) ** 2 + (1 - head) ** 2).sum()


# ----- one workload: a loss of some parameters, and a direction v ---------------------------


@dataclass
class Workload:
    """A scalar function of a list of parameters, as NumPy arrays, with a direction ``v``.

    ``engine_loss(params)`` and ``torch_loss(torch, params)`` build the same loss from
    TensorNodes and from tensors.

    >>> workload = rosenbrock_workload(n=5)
    >>> [p.shape for p in workload.params], [d.shape for d in workload.direction]
    ([(5,)], [(5,)])
    """

    name: str
    params: list[np.ndarray]
    direction: list[np.ndarray]
    engine_loss: Callable
    torch_loss: Callable | None


def mlp_workload(batch: int = 128, sizes: tuple[int, ...] = (784, 256, 128, 10)) -> Workload:
    problem = MLPProblem.make(batch=batch, sizes=sizes)
    rng = np.random.default_rng(1)
    x = TensorNode(problem.x)
    torch_inputs = {}  # the batch as tensors, made once on first use

    def torch_loss(torch, params):
        if not torch_inputs:
            torch_inputs.update(x=torch.from_numpy(problem.x), y=torch.from_numpy(problem.labels))
        return mlp_loss_torch(torch, params, torch_inputs["x"], torch_inputs["y"])

    return Workload(
        name=f"MLP {'-'.join(map(str, sizes))} loss, batch {batch}, float32, H v w.r.t. weights",
        params=problem.weights,
        direction=[rng.standard_normal(w.shape).astype(w.dtype) for w in problem.weights],
        engine_loss=lambda params: mlp_loss_engine(params, x, problem.labels),
        torch_loss=torch_loss,
    )


def rosenbrock_workload(n: int = 100) -> Workload:
    rng = np.random.default_rng(2)
    return Workload(
        name=f"Rosenbrock function of {n} float64 variables",
        params=[rng.uniform(-1.5, 1.5, n)],
        direction=[rng.standard_normal(n)],
        engine_loss=lambda params: rosenbrock(params[0]),
        torch_loss=lambda torch, params: rosenbrock(params[0]),
    )


# ----- the computations that are timed ------------------------------------------------------


def engine_hvp(workload: Workload) -> list[np.ndarray]:
    """H v by reverse over reverse: grad(grad(f) . v)."""
    params = [TensorNode(p, requires_grad=True) for p in workload.params]
    loss = workload.engine_loss(params)
    grads = autograd.grad(loss, params, create_graph=True)
    slope = sum((g * v).sum() for g, v in zip(grads, workload.direction))
    return [hv.value for hv in autograd.grad(slope, params)]


def engine_gradient(workload: Workload) -> list[np.ndarray]:
    params = [TensorNode(p, requires_grad=True) for p in workload.params]
    return [g.value for g in autograd.grad(workload.engine_loss(params), params)]


def engine_backward_seconds(workload: Workload, create_graph: bool) -> float:
    """Seconds of the backward pass, and of freeing what it made and the graph it walked; the
    forward runs first, off the clock. (Freeing is on the clock because a first-order pass frees
    the forward's saved arrays as it goes, while a create_graph pass keeps them until the
    gradients die: stopping the clock before that would flatter it.)"""
    params = [TensorNode(p, requires_grad=True) for p in workload.params]
    loss = workload.engine_loss(params)
    started = time.perf_counter()
    grads = autograd.grad(loss, params, create_graph=create_graph)
    del grads, loss
    return time.perf_counter() - started


def torch_hvp(torch, workload: Workload, tensors: tuple) -> list[np.ndarray]:
    params, direction = tensors
    params = [p.detach().requires_grad_() for p in params]
    grads = torch.autograd.grad(workload.torch_loss(torch, params), params, create_graph=True)
    slope = sum((g * v).sum() for g, v in zip(grads, direction))
    return [hv.numpy() for hv in torch.autograd.grad(slope, params)]


def torch_gradient(torch, workload: Workload, tensors: tuple) -> list[np.ndarray]:
    params = [p.detach().requires_grad_() for p in tensors[0]]
    return [g.numpy() for g in torch.autograd.grad(workload.torch_loss(torch, params), params)]


def check_same_hvp(workload: Workload, torch, rtol: float = 2e-3, atol: float = 1e-5) -> None:
    """Raise AssertionError unless the engine's H v equals PyTorch's (or, without PyTorch, a
    central difference of the engine's gradients along v)."""
    ours = engine_hvp(workload)
    if torch is not None:
        reference = torch_hvp(torch, workload, _tensors(torch, workload))
        source = "torch"
    else:
        eps = 1e-3 if workload.params[0].dtype == np.float32 else 1e-6
        shifted = [
            at_params(
                workload, [p + sign * eps * v for p, v in zip(workload.params, workload.direction)]
            )
            for sign in (1, -1)
        ]
        ahead, behind = (engine_gradient(w) for w in shifted)
        reference = [(a - b) / (2 * eps) for a, b in zip(ahead, behind)]
        source, rtol, atol = "central differences", 2e-2, 1e-3
    for index, (mine, theirs) in enumerate(zip(ours, reference)):
        scale = max(float(np.abs(theirs).max()), 1.0)
        if not np.allclose(mine, theirs, rtol=rtol, atol=atol * scale):
            worst = float(np.abs(mine - theirs).max())
            raise AssertionError(
                f"{workload.name}: H v of parameter {index} differs from {source} by {worst:.3g}"
            )


def at_params(workload: Workload, params: list[np.ndarray]) -> Workload:
    """The same workload at other parameter values."""
    return Workload(
        workload.name, params, workload.direction, workload.engine_loss, workload.torch_loss
    )


def _tensors(torch, workload: Workload) -> tuple:
    return (
        [torch.from_numpy(p.copy()) for p in workload.params],
        [torch.from_numpy(v) for v in workload.direction],
    )


# ----- timing -------------------------------------------------------------------------------


def _repeated(compute: Callable[[], object], repeats: int) -> Callable[[], float]:
    """A contender for interleaved_rounds: seconds per call, over ``repeats`` calls."""

    def run_once() -> float:
        started = time.perf_counter()
        for _ in range(repeats):
            compute()
        return (time.perf_counter() - started) / repeats

    return run_once


def _backward_only(workload: Workload, create_graph: bool, repeats: int) -> Callable[[], float]:
    def run_once() -> float:
        total = sum(engine_backward_seconds(workload, create_graph) for _ in range(repeats))
        return total / repeats

    return run_once


@dataclass
class HVPResult:
    """The timings of one workload: Stats in seconds per call, keyed by contender."""

    workload: str
    stats: dict[str, Stats]

    def median(self, name: str) -> float | None:
        stats = self.stats.get(name)
        return None if stats is None else stats.median

    def ratio(self, numerator: str, denominator: str) -> float | None:
        """The median over rounds of the ratio within each round: a slow spell of the machine
        that hits a whole round cancels out of it."""
        top, bottom = self.stats.get(numerator), self.stats.get(denominator)
        if top is None or bottom is None:
            return None
        return statistics.median(t / b for t, b in zip(top.samples, bottom.samples))


def bench_workload(workload: Workload, torch, rounds: int, repeats: int) -> HVPResult:
    """Check that both engines compute the same H v, then time every contender in turns."""
    check_same_hvp(workload, torch)
    contenders = {
        "engine hvp": _repeated(lambda: engine_hvp(workload), repeats),
        "engine gradient": _repeated(lambda: engine_gradient(workload), repeats),
        "engine backward": _backward_only(workload, False, repeats),
        "engine create_graph backward": _backward_only(workload, True, repeats),
    }
    if torch is not None:
        tensors = _tensors(torch, workload)
        contenders["torch hvp"] = _repeated(lambda: torch_hvp(torch, workload, tensors), repeats)
        contenders["torch gradient"] = _repeated(
            lambda: torch_gradient(torch, workload, tensors), repeats
        )
    for run_once in contenders.values():  # warm up: imports, caches, first allocations
        run_once()
    return HVPResult(workload.name, interleaved_rounds(contenders, rounds))


# ----- the report ---------------------------------------------------------------------------


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def _times(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def markdown_table(results: list[HVPResult]) -> str:
    """One row per workload: medians, and the ratios that matter."""
    lines = [
        "| workload | engine H v | PyTorch H v | engine / PyTorch | H v / gradient: engine "
        "| H v / gradient: PyTorch | engine create_graph backward / first-order backward |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        backward = result.median("engine backward")
        recording = result.median("engine create_graph backward")
        lines.append(
            f"| {result.workload} | {_time(result.median('engine hvp'))} "
            f"| {_time(result.median('torch hvp'))} "
            f"| {_times(result.ratio('engine hvp', 'torch hvp'))} "
            f"| {_times(result.ratio('engine hvp', 'engine gradient'))} "
            f"| {_times(result.ratio('torch hvp', 'torch gradient'))} "
            f"| {_times(result.ratio('engine create_graph backward', 'engine backward'))} "
            f"({_time(recording)} vs {_time(backward)}) |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--repeats", type=int, default=10, help="calls per round (default 10)")
    parser.add_argument("--batch", type=int, default=128, help="MLP batch size (default 128)")
    parser.add_argument(
        "--sizes", default="784,256,128,10", help="MLP layer sizes (default 784,256,128,10)"
    )
    parser.add_argument("--n", type=int, default=100, help="Rosenbrock variables (default 100)")
    args = parser.parse_args(argv)

    torch = import_torch()
    info = machine_info(torch)
    for key in ("Engine revision", "CPU", "Load average at start (1, 5, 15 min)", "NumPy",
                "PyTorch", "BLAS threads"):  # fmt: skip
        print(f"- {key}: {info[key]}")
    print()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    workloads = [mlp_workload(args.batch, sizes), rosenbrock_workload(args.n)]
    results = [bench_workload(w, torch, args.rounds, args.repeats) for w in workloads]
    print(markdown_table(results))
    print()
    print(
        f"Times are medians of {args.rounds} interleaved rounds of {args.repeats} calls each, "
        "ratios the medians of the ratios within each round; H v is "
        "reverse over reverse in both engines (PyTorch: torch.autograd.grad with "
        "create_graph=True), checked equal before timing. A gradient is a forward and a "
        "first-order backward; the last column times the engine's backward alone (and freeing "
        "what it made)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
