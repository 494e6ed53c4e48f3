"""Run the benchmarks and print a table; ``--write`` also rewrites benchmarks/RESULTS.md.

    python -m benchmarks.run              # default run, about a minute
    python -m benchmarks.run --quick      # a few seconds, smaller sizes, for a quick look
    python -m benchmarks.run --profile    # also print cProfile's top 10 for the small-op chain
    python -m benchmarks.run --write      # rewrite benchmarks/RESULTS.md
    python -m benchmarks.run --only convolution --write   # conv, max-pool, CNN step only:
                                          # rewrites their part of RESULTS.md, keeps the rest

Every library runs on one BLAS thread, so that the figures measure the code rather than the
number of cores, and do not depend on what else the machine is doing.
"""

import os

# Before NumPy (or anything importing it) is loaded: BLAS reads these once, at load time.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from benchmarks import suite  # noqa: E402
from benchmarks.report import (  # noqa: E402
    convolution_markdown,
    markdown_report,
    replace_convolution_block,
    text_report,
)
from benchmarks.timing import import_torch, machine_info  # noqa: E402

RESULTS_PATH = Path(__file__).with_name("RESULTS.md")


def run_convolution(torch, rounds: int, quick: bool) -> dict:
    """The convolution benchmarks (issue 16) at full size, or small with ``quick``."""
    if quick:
        return {
            "conv": suite.bench_conv(torch, rounds=rounds, calls=1, shape=(16, 16, 16, 16)),
            "max_pool": suite.bench_max_pool(torch, rounds=rounds, calls=2),
            "cnn": suite.bench_cnn(torch, rounds=rounds, steps=1, batch=32),
            "cnn_profile": suite.cnn_profile(rounds=rounds, steps=1, batch=32),
        }
    return {
        "conv": suite.bench_conv(torch, rounds=rounds),
        "max_pool": suite.bench_max_pool(torch, rounds=rounds),
        "cnn": suite.bench_cnn(torch, rounds=rounds),
        "cnn_profile": suite.cnn_profile(rounds=min(rounds, 5)),
    }


def run_all(torch, rounds: int, quick: bool) -> dict:
    """Every benchmark at full size, or at small sizes with ``quick``."""
    started = time.perf_counter()
    if quick:
        results = {
            "mlp": suite.bench_mlp(torch, rounds=rounds, steps=5),
            "small_ops": suite.bench_small_ops(torch, rounds=rounds, units=100, repeats=2),
            "long_chain": suite.bench_long_chain(torch, rounds=min(rounds, 3), ops=20_000),
            "memory": suite.bench_memory(steps=40, every=10),
            "mlp_profile": suite.mlp_profile(rounds=rounds, steps=5),
        }
    else:
        results = {
            "mlp": suite.bench_mlp(torch, rounds=rounds),
            "small_ops": suite.bench_small_ops(torch, rounds=rounds),
            "long_chain": suite.bench_long_chain(torch, rounds=min(rounds, 5)),
            "memory": suite.bench_memory(),
            "mlp_profile": suite.mlp_profile(rounds=rounds),
        }
    results.update(run_convolution(torch, rounds, quick))
    results["seconds"] = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--profile", action="store_true", help="cProfile the small-op chain")
    parser.add_argument("--write", action="store_true", help=f"rewrite {RESULTS_PATH.name}")
    parser.add_argument(
        "--only",
        choices=["convolution"],
        help="run only these benchmarks; --write then rewrites only their part of the results",
    )
    args = parser.parse_args(argv)
    if args.quick and args.rounds == parser.get_default("rounds"):
        args.rounds = 3

    torch = import_torch()
    info = machine_info(torch)
    for key, value in info.items():
        print(f"{key}: {value}")
    print()
    if args.only == "convolution":
        started = time.perf_counter()
        results = run_convolution(torch, rounds=args.rounds, quick=args.quick)
        results["seconds"] = time.perf_counter() - started
    else:
        results = run_all(torch, rounds=args.rounds, quick=args.quick)
    print(text_report(results))

    cprofile_text = ""
    if args.profile:
        cprofile_text = suite.small_ops_cprofile(units=100 if args.quick else 333)
        print("\ncProfile of the engine's small-op chain (top 10 by own time):")
        print(cprofile_text)

    if args.write:
        command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
        if args.only == "convolution":  # the rest of the file stays as the last full run left it
            block = convolution_markdown(results, info, command.strip(), args.rounds)
            report = replace_convolution_block(RESULTS_PATH.read_text(), block)
        else:
            report = markdown_report(results, info, command.strip(), args.rounds, cprofile_text)
        RESULTS_PATH.write_text(report)
        print(f"\nWrote {RESULTS_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
