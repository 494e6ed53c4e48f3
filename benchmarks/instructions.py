"""Instructions per op, counted by valgrind's callgrind: a figure that does not drift with load.

    python -m benchmarks.instructions          # needs valgrind (apt-get install valgrind)

Seconds on a shared machine wander by tens of percent from run to run; executed instructions do
not. Each mode runs a chain of ``(y * w + x).tanh()`` on 4x4 float32 arrays twice, with a short
and a long chain, under callgrind; the difference divided by the extra ops is the cost of one op,
free of start-up costs (importing NumPy, the interpreter itself). Modes:

- ``numpy``: the same forward arithmetic in NumPy: the floor of any NumPy engine's forward;
- ``no_grad``: the engine's forward under ``no_grad()``: dispatch without recording a graph;
- ``forward``: the engine's forward, recording the graph;
- ``forward+backward``: forward, ``backward()``, and freeing the graph;
- ``replay``: forward and backward of a recorded chain of 301 ops replayed by
  ``autograd.replay`` (the count is of replays: 1 against 6, recording cancels out).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

MODES = ("numpy", "no_grad", "forward", "forward+backward", "replay")
SHORT, LONG = 100, 600  # chain lengths in units of 3 ops
REPLAYED_UNITS, FEW, MANY = 100, 1, 6  # replay: one chain of 3 * 100 + 1 ops, replayed 1 or 6 times


def run_chain(mode: str, units: int) -> None:
    """The measured work: ``units`` repeats of (y * w + x).tanh(), three ops each."""
    import numpy as np

    from autograd import TensorNode, no_grad, replay

    rng = np.random.default_rng(0)
    x = TensorNode(rng.standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    w = TensorNode(0.3 * rng.random((4, 4)).astype(np.float32), requires_grad=True)
    if mode == "numpy":
        y, weight, shift = x.value, w.value, x.value
        for _ in range(units):
            y = np.tanh(y * weight + shift)
        return
    if mode == "no_grad":
        with no_grad():
            y = x
            for _ in range(units):
                y = (y * w + x).tanh()
        return
    if mode == "replay":  # units: how many times the recorded chain replays

        def chain():
            y = x
            for _ in range(REPLAYED_UNITS):
                y = (y * w + x).tanh()
            return y.sum()

        step = replay.trace(chain)
        step(), step()  # two eager calls record the chain
        for _ in range(units):
            step()
        return
    y = x
    for _ in range(units):
        y = (y * w + x).tanh()
    if mode == "forward+backward":
        y.sum().backward()
    del y


def count(mode: str, units: int, root: str | None = None) -> int:
    """Instructions executed by a fresh interpreter running ``run_chain(mode, units)``, with the
    engine imported from ``root`` (a copy of the project) if given."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions", "--worker", mode, str(units),
    ]  # fmt: skip
    # A fixed hash seed: dict and set layouts, and so the count, repeat from run to run.
    environment = dict(
        os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0"
    )
    if root is not None:
        environment["PYTHONPATH"] = root
    result = subprocess.run(
        command, capture_output=True, text=True, env=environment, check=True, cwd=root
    )
    found = re.search(r"Collected : (\d+)", result.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no total:\n{result.stderr[-2000:]}")
    return int(found.group(1))


def per_op(mode: str, root: str | None = None) -> float:
    if mode == "replay":
        few, many = count(mode, FEW, root), count(mode, MANY, root)
        return (many - few) / ((3 * REPLAYED_UNITS + 1) * (MANY - FEW))
    return (count(mode, LONG, root) - count(mode, SHORT, root)) / (3 * (LONG - SHORT))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        run_chain(argv[1], 5)  # warm up: first calls fill caches that later ones reuse
        run_chain(argv[1], int(argv[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 1
    print(f"instructions per op, chain of (y * w + x).tanh() on 4x4 float32 ({SHORT} vs {LONG})")
    for mode in MODES:
        print(f"  {mode:<18} {per_op(mode):>9,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
