"""Heap allocations per MLP step, engine beside hand-written NumPy, counted by valgrind's DHAT.

    python -m benchmarks.allocations          # needs valgrind (apt-get install valgrind)

Time spent in an elementwise op on a (128, 256) float32 array is mostly memory traffic, and a
fresh 128 KiB array is fresh memory: every temporary an op allocates costs time that no count
of instructions shows. DHAT counts every ``malloc`` of the process (NumPy's array buffers, and
Python objects too large for its own small-object allocator); each contender runs a short and a
long stretch of steps under it, and the difference divided by the extra steps is one step's
allocations, free of start-up costs. Blocks of at least ``LARGE_BYTES`` are the arrays; the rest
is small change (shapes, strides, dicts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CONTENDERS = ("engine", "numpy")
SHORT, LONG = 3, 13  # steps
LARGE_BYTES = 4096


def run_steps(contender: str, steps: int) -> None:
    """The measured work: one warm-up step, then ``steps`` steps of one contender."""
    from benchmarks.mlp import EngineMLP, MLPProblem, NumpyMLP

    model = {"engine": EngineMLP, "numpy": NumpyMLP}[contender](MLPProblem.make())
    model.step()
    for _ in range(steps):
        model.step()


def count(contender: str, steps: int) -> tuple[int, int, int, int]:
    """(bytes, blocks) in all, and (bytes, blocks) of at least LARGE_BYTES, allocated by a fresh
    interpreter running ``run_steps(contender, steps)``."""
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "dhat.json")
        command = [
            "valgrind", "--tool=dhat", f"--dhat-out-file={out}",
            sys.executable, "-m", "benchmarks.allocations", "--worker", contender, str(steps),
        ]  # fmt: skip
        environment = dict(
            os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0"
        )
        subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
        with open(out) as file:
            profile = json.load(file)
    total_bytes = total_blocks = large_bytes = large_blocks = 0
    for site in profile["pps"]:  # one entry per allocation site: total bytes and blocks
        total_bytes += site["tb"]
        total_blocks += site["tbk"]
        if site["tb"] >= LARGE_BYTES * site["tbk"]:  # a site whose blocks average >= 4 KiB
            large_bytes += site["tb"]
            large_blocks += site["tbk"]
    return total_bytes, total_blocks, large_bytes, large_blocks


def per_step(contender: str) -> tuple[float, ...]:
    short, long = count(contender, SHORT), count(contender, LONG)
    return tuple((b - a) / (LONG - SHORT) for a, b in zip(short, long))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        run_steps(argv[1], int(argv[2]))
        return 0
    print("per MLP step   all: KiB   blocks    arrays (>= 4 KiB a block): KiB   blocks")
    for contender in CONTENDERS:
        total_bytes, total_blocks, large_bytes, large_blocks = per_step(contender)
        print(
            f"{contender:<12} {total_bytes / 1024:>10,.0f} {total_blocks:>8,.0f}"
            f"    {large_bytes / 1024:>30,.0f} {large_blocks:>8,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
