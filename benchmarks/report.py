"""The benchmarks' results as a terminal table and as the Markdown of RESULTS.md."""

from __future__ import annotations

import datetime

from benchmarks import suite
from benchmarks.memory import FLAT_BYTES_PER_STEP, MemoryRun
from benchmarks.profiling import Breakdown

CONTENDER_ORDER = (
    "engine",
    "engine, large_graph()",
    "engine, gc off",
    "engine, replay",
    "numpy",
    "torch",
)


def _figure(value: float, scale: float) -> str:
    scaled = value * scale
    if scaled >= 100:
        return f"{scaled:.0f}"
    if scaled >= 10:
        return f"{scaled:.1f}"
    return f"{scaled:.3g}" if scaled < 1 else f"{scaled:.2f}"


def _ratio_text(comparison: suite.Comparison, numerator: str, denominator: str) -> str:
    median = comparison.ratio(numerator, denominator)
    if median is None:
        return "torch not installed"
    best = comparison.ratio(numerator, denominator, of="min")
    paired = comparison.ratio(numerator, denominator, of="paired")
    return f"{median:.2f}x (per round {paired:.2f}x, min/min {best:.2f}x)"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not judged"}[met]


def comparison_rows(comparison: suite.Comparison) -> list[tuple[str, str, str]]:
    """(contender, median, min) in display units, in a fixed order."""
    rows = []
    for name in CONTENDER_ORDER:
        if name not in comparison.stats:
            continue
        stats = comparison.stats[name]
        if stats is None:
            rows.append((name, "not installed", "not installed"))
        else:
            rows.append(
                (
                    name,
                    _figure(stats.median, comparison.scale),
                    _figure(stats.min, comparison.scale),
                )
            )
    return rows


#: The timed comparisons, in the order of the report (the memory runs are number 4).
TIMED = ("mlp", "small_ops", "long_chain")
CONVOLUTION = ("conv", "max_pool", "cnn")  # issue 16, numbered from 5


def _numbered(results: dict, keys: tuple[str, ...], start: int) -> list[tuple[int, str]]:
    return list(enumerate([key for key in keys if key in results], start=start))


def text_report(results: dict) -> str:
    """The table printed on the terminal."""
    lines = []
    for number, key in _numbered(results, TIMED, 1):
        lines += _comparison_text(number, key, results[key])
    if "memory" in results:
        lines.append("4. Memory over the engine's MLP training (tracemalloc after each step, RSS)")
        for run in results["memory"]:
            lines.append(f"   {_memory_summary(run)}")
        lines.append("")
    if "mlp_profile" in results:
        lines.append("Engine MLP step by phase and op (ms per step, timed ops):")
        lines.extend(f"   {line}" for line in _breakdown_lines(results["mlp_profile"]))
        lines.append("")
    for number, key in _numbered(results, CONVOLUTION, 5):
        lines += _comparison_text(number, key, results[key])
    if "cnn_profile" in results:
        lines.append("Engine CNN step by op (ms per step, timed ops):")
        lines.extend(f"   {line}" for line in _op_lines(results["cnn_profile"]))
        lines.append("")
    lines.append(f"Total benchmark time: {results['seconds']:.0f} s")
    return "\n".join(lines)


def _comparison_text(number: int, key: str, comparison: suite.Comparison) -> list[str]:
    lines = [f"{number}. {comparison.title}"]
    lines.append(f"   {'contender':<16}{'median':>14}{'min':>14}   ({comparison.unit})")
    for name, median, best in comparison_rows(comparison):
        lines.append(f"   {name:<16}{median:>14}{best:>14}")
    for numerator, denominator in comparison.ratios:
        text = _ratio_text(comparison, numerator, denominator)
        lines.append(f"   {numerator} / {denominator}: {text}")
    lines.append(f"   target: {comparison.target}: {_verdict(comparison.target_met)}")
    if comparison.stats.get("engine, replay"):
        lines.append(f"   the same for 'engine, replay': {_verdict(comparison.replay_target_met)}")
    lines.extend(f"   {note}" for note in comparison.notes)
    if key == "small_ops":
        lines.append(f"   engine per op: {_chain_breakdown_text(comparison.details['breakdown'])}")
    lines.append("")
    return lines


def _chain_breakdown_text(breakdown: dict[str, float]) -> str:
    us = {part: seconds * 1e6 for part, seconds in breakdown.items()}
    return (
        f"forward {us['forward']:.2f} us (inside the ops {us['forward inside ops']:.2f}), "
        f"backward {us['backward']:.2f} us (inside the ops {us['backward inside ops']:.2f}), "
        f"freeing the graph {us['freeing the graph']:.2f} us"
    )


def _megabytes(n: float) -> str:
    if abs(n) < 2**20:
        return f"{n / 2**10:.1f} KB"
    return f"{n / 2**20:.2f} MB"


def _memory_summary(run: MemoryRun) -> str:
    first, last = run.samples[0], run.samples[-1]
    return (
        f"gc {'on ' if run.gc_enabled else 'off'}: traced {_megabytes(first.current)} -> "
        f"{_megabytes(last.current)} over {last.step} steps (slope "
        f"{run.current_slope:+.1f} B/step), peak in step {_megabytes(last.peak)} (slope "
        f"{run.peak_slope:+.1f} B/step), RSS {_megabytes(first.rss)} -> {_megabytes(last.rss)} "
        f"(slope {run.rss_slope:+.0f} B/step); gc.collect() at the samples found "
        f"{run.unreachable_found_by_gc} unreachable objects in all; flat: "
        f"{'yes' if run.flat else 'NO'}"
    )


def _breakdown_lines(breakdown: Breakdown) -> list[str]:
    lines = []
    for phase in ("forward", "backward"):
        total = breakdown.phases[phase]
        inside = breakdown.op_total(phase)
        ops = sorted(
            ((name, t) for (name, kind), t in breakdown.op_seconds.items() if kind == phase),
            key=lambda item: -item[1],
        )
        per_op = ", ".join(
            f"{name} x{breakdown.op_calls[(name, phase)]:.0f} {t * 1e3:.3f}" for name, t in ops
        )
        lines.append(
            f"{phase}: {total * 1e3:.3f} = inside ops {inside * 1e3:.3f} "
            f"+ bookkeeping {(total - inside) * 1e3:.3f}  [{per_op}]"
        )
    lines.append(f"update (SGD, zero_grad): {breakdown.phases['update'] * 1e3:.3f}")
    return lines


def _op_lines(breakdown: Breakdown) -> list[str]:
    """Each phase's time, then every op's forward and backward, largest first. (Ops that run
    inside another op's backward, such as ConvTranspose2d inside Conv2d's, are listed too: their
    time is part of that backward's.)"""
    lines = [
        ", ".join(f"{phase} {seconds * 1e3:.2f}" for phase, seconds in breakdown.phases.items())
    ]
    ops = sorted(breakdown.op_seconds.items(), key=lambda item: -item[1])
    lines += [
        f"{name}.{kind} x{breakdown.op_calls[(name, kind)]:.0f}: {seconds * 1e3:.2f}"
        for (name, kind), seconds in ops
        if seconds * 1e3 >= 0.05
    ]
    return lines


def markdown_report(
    results: dict, info: dict[str, str], command: str, rounds: int, cprofile_text: str = ""
) -> str:
    """The text of RESULTS.md (with cProfile's table of the small-op chain, if given)."""
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    out = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks.run --write`; do not edit by hand (re-run instead).",
        "",
        f"- Command: `{command}`",
        f"- Date: {date}; the whole run took {results['seconds']:.0f} s",
        *[f"- {key}: {value}" for key, value in info.items()],
        f"- Rounds: {rounds} (the long chain: at most 5); contenders are timed in turns, round "
        "after round, and each figure is the median over rounds (min alongside). Ratios are "
        "of medians; in brackets, the median of the ratios within each round, and the ratio "
        "of the minima. Targets are judged on medians.",
        "- `numpy` is the same computation written by hand in NumPy, without a graph: the floor "
        "for any engine built on NumPy.",
        "- Instruction counts per op before and after the second edition, and the Hessian-vector "
        "product beside PyTorch, are in [EDITIONS.md](EDITIONS.md), kept by hand.",
        "",
        "## Summary",
        "",
        "The issue's aim is the engine faster than PyTorch eager on all three: the last two "
        "columns give each engine mode's median over PyTorch's, from the same rounds "
        "(below 1.00x is faster).",
        "",
        "| Benchmark | Engine (median) | Ratio | Target | Met | Replay (median) | Replay: met "
        "| engine / torch | replay / torch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    out += _summary_rows(results, TIMED)
    flat = all(run.flat for run in results["memory"])
    out.append(
        f"| Memory over {results['memory'][0].samples[-1].step} MLP steps, gc on and off | "
        f"see below | | flat (traced growth < {FLAT_BYTES_PER_STEP} B/step) | "
        f"{'met' if flat else 'NOT met'} | | | | |"
    )
    for number, key in _numbered(results, TIMED, 1):
        comparison = results[key]
        out += ["", f"## {number}. {comparison.title}", ""]
        out += _comparison_markdown(comparison)
        if key == "small_ops":
            out.append(
                "- Engine time per op, with every op's forward and backward timed separately "
                "(median over rounds; the timers add a little): "
                + _chain_breakdown_text(comparison.details["breakdown"])
            )
    out += [
        "",
        "## 4. Memory over the engine's MLP training",
        "",
        "tracemalloc's traced bytes after each step (when the step's graph should be gone), the "
        "peak inside the steps since the previous sample, and the process's RSS, every "
        f"{_sample_every(results['memory'][0])} steps. With the cycle collector disabled, only "
        "reference counting frees the graphs.",
        "",
        "| Cycle collector | Step | Traced | Peak in step | RSS |",
        "|---|---|---|---|---|",
    ]
    for run in results["memory"]:
        for sample in run.samples:
            out.append(
                f"| {'on' if run.gc_enabled else 'off'} | {sample.step} | "
                f"{_megabytes(sample.current)} | {_megabytes(sample.peak)} | "
                f"{_megabytes(sample.rss)} |"
            )
    out.append("")
    out += [f"- {_memory_summary(run)}" for run in results["memory"]]
    out += [
        "",
        "## Where the engine's MLP step spends its time",
        "",
        "Each op's forward and backward timed separately (a wrapper in benchmarks/profiling.py, "
        "not in the engine); bookkeeping is the rest of the phase: building nodes, the "
        "topological sort, routing gradients. Milliseconds per step, calls per step after x.",
        "",
    ]
    out += [f"- {line}" for line in _breakdown_lines(results["mlp_profile"])]
    if cprofile_text:
        out += [
            "",
            "## cProfile of the engine's small-op chain (top 10 by own time)",
            "",
            "```",
            cprofile_text.strip(),
            "```",
        ]
    out.append("")
    if "cnn" in results:
        out += ["", convolution_markdown(results, info, command, rounds)]
    return "\n".join(out)


#: Around the convolution benchmarks' part of RESULTS.md, which a run with ``--only
#: convolution --write`` replaces on its own.
BLOCK_START, BLOCK_END = "<!-- convolution benchmarks: start -->", "<!-- convolution: end -->"


def convolution_markdown(results: dict, info: dict[str, str], command: str, rounds: int) -> str:
    """The convolution benchmarks' part of RESULTS.md, between BLOCK_START and BLOCK_END."""
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    keys = [key for key in CONVOLUTION if key in results]
    out = [
        BLOCK_START,
        "## Convolutional networks",
        "",
        f"- Command: `{command}`; date: {date}; {rounds} rounds; "
        + "; ".join(f"{key}: {value}" for key, value in info.items()),
        "- Times are CPU seconds of the benchmark's process, interleaved as above: wall time "
        "on this shared machine counts the time other jobs hold the cores.",
        "",
        "| Benchmark | Engine (median) | Ratio | Target | Met | Replay (median) | Replay: met "
        "| engine / torch | replay / torch |",
        "|---|---|---|---|---|---|---|---|---|",
        *_summary_rows(results, CONVOLUTION),
    ]
    for number, key in enumerate(keys, start=5):
        comparison = results[key]
        out += ["", f"## {number}. {comparison.title}", ""]
        out += _comparison_markdown(comparison)
    if "cnn_profile" in results:
        out += [
            "",
            "## Where the engine's CNN step spends its time",
            "",
            "Milliseconds per step (wall time), each op's forward and backward timed as for the "
            "MLP. Conv2d's backward calls ConvTranspose2d.forward (the input's gradient) and "
            "Conv2dWeightGrad.forward (the weight's); MaxPool2d's calls MaxUnpool2d.forward: "
            "those lines are parts of the backward lines, not additions to them.",
            "",
        ]
        out += [f"- {line}" for line in _op_lines(results["cnn_profile"])]
    return "\n".join(out + ["", BLOCK_END, ""])


def replace_convolution_block(document: str, block: str) -> str:
    """``document`` (RESULTS.md) with its convolution block replaced by ``block`` (appended
    when it has none)."""
    if BLOCK_START in document and BLOCK_END in document:
        before = document[: document.index(BLOCK_START)]
        after = document[document.index(BLOCK_END) + len(BLOCK_END) :].lstrip("\n")
        return before + block + after
    return document.rstrip("\n") + "\n\n" + block


def _summary_rows(results: dict, keys: tuple[str, ...]) -> list[str]:
    rows = []
    for key in [key for key in keys if key in results]:
        comparison = results[key]
        numerator, denominator = comparison.ratios[0]
        engine = comparison.stats["engine"]
        replay = comparison.stats.get("engine, replay")
        versus = [
            f"{comparison.ratio(name, 'torch'):.2f}x"
            if comparison.stats.get("torch") and comparison.stats.get(name)
            else "n/a"
            for name in ("engine", "engine, replay")
        ]
        replay_text = (
            f"{_figure(replay.median, comparison.scale)} {comparison.unit}" if replay else ""
        )
        rows.append(
            f"| {comparison.title} | {_figure(engine.median, comparison.scale)} "
            f"{comparison.unit} | {numerator}/{denominator} "
            f"{_ratio_text(comparison, numerator, denominator)} | {comparison.target} | "
            f"{_verdict(comparison.target_met)} | {replay_text} | "
            f"{_verdict(comparison.replay_target_met) if replay else ''} | {versus[0]} | "
            f"{versus[1]} |"
        )
    return rows


def _comparison_markdown(comparison: suite.Comparison) -> list[str]:
    """A comparison's table of contenders, its ratios, target and notes."""
    out = [f"| Contender | Median ({comparison.unit}) | Min ({comparison.unit}) |", "|---|---|---|"]
    out += [f"| {name} | {median} | {best} |" for name, median, best in comparison_rows(comparison)]
    out.append("")
    for numerator, denominator in comparison.ratios:
        out.append(
            f"- {numerator} / {denominator}: {_ratio_text(comparison, numerator, denominator)}"
        )
    out.append(f"- Target: {comparison.target}: **{_verdict(comparison.target_met)}**")
    if comparison.stats.get("engine, replay"):
        out.append(
            f"- The same target for 'engine, replay': **{_verdict(comparison.replay_target_met)}**"
        )
    return out + [f"- {note}" for note in comparison.notes]


def _sample_every(run: MemoryRun) -> int:
    return run.samples[1].step - run.samples[0].step if len(run.samples) > 1 else 0
