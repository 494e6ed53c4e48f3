"""Smoke tests of benchmarks/: each benchmark runs once at tiny sizes and returns sane results.

These are not benchmarks and assert nothing about speed; they keep the benchmark code from
silently rotting as the engine changes (a renamed op, a changed signature, a broken report).
"""

from __future__ import annotations

import gc
import math
import sys
import tracemalloc
from pathlib import Path

import pytest

# benchmarks/ is not an installed package; make it importable however pytest is started.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import conv, fastpath_savings, instructions, report, suite  # noqa: E402
from benchmarks.chains import SmallOpChain  # noqa: E402
from benchmarks.mlp import MLPProblem, check_same_work, make_models  # noqa: E402
from benchmarks.profiling import all_op_classes, timed_ops  # noqa: E402

TINY_SIZES = (8, 5, 3)  # two layers: MatMul, Expand and Add twice, Relu once


def _assert_sane_comparison(
    comparison: suite.Comparison, contenders: set[str], judged: bool = True
) -> None:
    assert set(comparison.stats) == contenders | {"torch"}
    for name in contenders:
        stats = comparison.stats[name]
        assert len(stats.samples) == 1
        assert math.isfinite(stats.median) and stats.median > 0
        assert stats.min <= stats.median
    assert comparison.target_met in ((True, False) if judged else (None,))
    assert comparison.title and comparison.unit and comparison.notes


@pytest.fixture(scope="module")
def tiny_results():
    """Every benchmark once, at tiny sizes, without PyTorch."""
    return {
        "mlp": suite.bench_mlp(None, rounds=1, steps=1, batch=4, sizes=TINY_SIZES),
        "small_ops": suite.bench_small_ops(None, rounds=1, units=3, repeats=1),
        "long_chain": suite.bench_long_chain(None, rounds=1, ops=200),
        "memory": suite.bench_memory(steps=4, every=2, batch=4, sizes=TINY_SIZES),
        "mlp_profile": suite.mlp_profile(rounds=1, steps=2, batch=4, sizes=TINY_SIZES),
        "conv": suite.bench_conv(None, rounds=1, calls=1, shape=(2, 3, 5, 5), out_channels=4),
        "max_pool": suite.bench_max_pool(None, rounds=1, calls=1, shape=(2, 3, 4, 6)),
        "cnn": suite.bench_cnn(None, rounds=1, steps=1, batch=4),
        "cnn_profile": suite.cnn_profile(rounds=1, steps=1, batch=4),
        "seconds": 1.0,
    }


def test_mlp_benchmark_times_engine_and_numpy_and_reports_torch_missing(tiny_results):
    comparison = tiny_results["mlp"]
    _assert_sane_comparison(comparison, {"engine", "engine, replay", "numpy"})
    assert comparison.stats["torch"] is None
    assert comparison.ratio("torch", "numpy") is None
    assert comparison.ratio("engine", "numpy") > 0


def test_small_op_benchmark_times_each_contender_and_splits_engine_time(tiny_results):
    comparison = tiny_results["small_ops"]
    _assert_sane_comparison(comparison, {"engine", "engine, replay", "numpy"})
    breakdown = comparison.details["breakdown"]
    assert breakdown["forward inside ops"] <= breakdown["forward"]
    assert breakdown["backward inside ops"] <= breakdown["backward"]


def test_long_chain_benchmark_counts_collections_and_restores_the_collector(tiny_results):
    comparison = tiny_results["long_chain"]
    _assert_sane_comparison(
        comparison,
        {"engine", "engine, large_graph()", "engine, gc off", "engine, replay", "numpy"},
    )
    assert len(comparison.details["gc_collections_per_chain"]) == 3
    assert all(seconds >= 0 for seconds in comparison.details["gc_seconds_per_chain"])
    assert gc.isenabled()


def test_memory_benchmark_samples_flat_memory_with_and_without_the_collector(tiny_results):
    runs = tiny_results["memory"]
    assert [run.gc_enabled for run in runs] == [True, False]
    for run in runs:
        assert [sample.step for sample in run.samples] == [0, 2, 4]
        assert all(sample.peak >= sample.current > 0 for sample in run.samples)
        assert run.flat  # a graph kept alive by a cycle would grow by kilobytes per step
        assert run.unreachable_found_by_gc == 0  # reference counting freed every graph
    assert gc.isenabled() and not tracemalloc.is_tracing()


def test_mlp_profile_counts_each_op_once_per_use(tiny_results):
    breakdown = tiny_results["mlp_profile"]
    assert breakdown.op_calls[("MatMul", "forward")] == 2
    assert breakdown.op_calls[("MatMul", "backward")] == 2
    assert breakdown.op_calls[("Relu", "forward")] == 1
    assert breakdown.op_calls[("SoftmaxCrossEntropy", "backward")] == 1
    assert set(breakdown.phases) == {"forward", "backward", "update"}
    assert 0 < breakdown.op_total("forward") <= breakdown.phases["forward"]


def test_reports_show_every_benchmark_and_say_torch_is_not_installed(tiny_results):
    text = report.text_report(tiny_results)
    markdown = report.markdown_report(tiny_results, {"CPU": "test"}, "python -m x", rounds=1)
    for key in ("mlp", "small_ops", "long_chain", "conv", "max_pool", "cnn"):
        assert tiny_results[key].title in text
        assert tiny_results[key].title in markdown
    assert "not installed" in text and "not installed" in markdown
    assert "Memory" in markdown and "| off | 4 |" in markdown


def test_every_benchmark_times_the_replayed_engine_and_reports_its_ratio_to_torch(tiny_results):
    text = report.text_report(tiny_results)
    markdown = report.markdown_report(tiny_results, {"CPU": "test"}, "python -m x", rounds=1)
    for key in ("mlp", "small_ops", "long_chain"):
        comparison = tiny_results[key]
        assert comparison.stats["engine, replay"].median > 0
        assert ("engine, replay", "torch") in comparison.ratios
        assert suite.REPLAY_NOTE in comparison.notes
    assert text.count("engine, replay / torch: torch not installed") == 4  # with the CNN's
    assert markdown.count("| engine, replay |") == 4


def test_convolution_benchmarks_time_engine_and_numpy_and_profile_the_cnn(tiny_results):
    for key in ("conv", "max_pool"):  # judged against torch, which is not installed
        _assert_sane_comparison(tiny_results[key], {"engine", "numpy"}, judged=False)
    _assert_sane_comparison(tiny_results["cnn"], {"engine", "engine, replay", "numpy"})
    breakdown = tiny_results["cnn_profile"]
    assert breakdown.op_calls[("Conv2d", "forward")] == 2
    assert breakdown.op_calls[("ConvTranspose2d", "forward")] == 1  # the input needs no gradient
    assert breakdown.op_calls[("MaxUnpool2d", "forward")] == 2
    text = report.text_report(tiny_results)
    assert "Engine CNN step by op" in text and "Conv2dWeightGrad.forward x2" in text


def test_convolution_contenders_that_disagree_are_caught():
    problem = conv.ConvProblem.make((2, 3, 5, 5), 4)
    contenders = conv.conv_contenders(problem)
    contenders["engine"] = lambda: tuple(2 * g for g in contenders["numpy"]())
    with pytest.raises(AssertionError, match="conv: engine result 0 differs from numpy"):
        conv.check_same_results("conv", contenders)


def test_replayed_contenders_compute_what_the_engine_computes():
    chain = SmallOpChain(units=4)
    _, engine_loss, engine_grads = chain.engine(1)
    assert chain.replay(2)[1:] == (engine_loss, engine_grads)  # traced once, then replayed
    assert chain.replayed[1].traces == 2
    models = make_models(MLPProblem.make(batch=4, sizes=TINY_SIZES))
    models["engine, replay"].params[0].value *= 2  # different weights: caught as for any model
    with pytest.raises(AssertionError, match="engine, replay"):
        check_same_work(models)


def test_timed_ops_restores_every_op_even_after_an_error():
    originals = {
        (cls, kind): cls.__dict__.get(kind)
        for cls in all_op_classes()
        for kind in ("forward", "backward")
    }
    with pytest.raises(RuntimeError), timed_ops():
        raise RuntimeError("inside the block")
    for (cls, kind), original in originals.items():
        assert cls.__dict__.get(kind) is original


def test_small_op_chain_gives_the_same_loss_and_gradients_in_engine_and_numpy():
    chain = SmallOpChain(units=4)
    _, engine_loss, engine_grads = chain.engine(1)
    _, numpy_loss, numpy_grads = chain.numpy(1)
    assert engine_loss == pytest.approx(numpy_loss, rel=1e-5)
    assert engine_grads == pytest.approx(numpy_grads, rel=1e-4)


def test_check_same_work_rejects_a_model_that_computes_something_else():
    problem = MLPProblem.make(batch=4, sizes=TINY_SIZES)
    models = make_models(problem)
    models["engine"].params[0].value *= 2  # different weights: no longer the same work
    with pytest.raises(AssertionError, match="engine"):
        check_same_work(models)


def test_mlp_models_agree_with_torch_when_installed():
    torch = pytest.importorskip("torch")
    comparison = suite.bench_mlp(torch, rounds=1, steps=1, batch=4, sizes=TINY_SIZES)
    assert comparison.stats["torch"].median > 0
    models = make_models(MLPProblem.make(batch=4, sizes=TINY_SIZES), torch)
    assert set(models) == {"engine", "engine, replay", "numpy", "torch"}
    check_same_work(models)  # raises if torch's loss or update differs from NumPy's


@pytest.mark.parametrize("mode", instructions.MODES)
def test_every_instruction_count_mode_runs_its_chain(mode):
    instructions.run_chain(mode, 3)  # what callgrind measures, here without valgrind


def test_instruction_counts_are_read_from_callgrinds_total(monkeypatch):
    class Finished:
        stderr = "==1== Events    : Ir\n==1== Collected : 123456\n"

    monkeypatch.setattr(instructions.subprocess, "run", lambda *args, **kwargs: Finished())
    assert instructions.count("numpy", 10) == 123456


@pytest.mark.parametrize("name", [*fastpath_savings.PLAIN_BODIES, "single output in backward"])
def test_each_fast_path_has_a_plain_version_the_savings_script_can_put_in_its_place(name, tmp_path):
    folder = Path(fastpath_savings.scratch_copy(tmp_path, name))
    changed = [
        path.name
        for path in (folder / "autograd").glob("*.py")
        if path.read_text() != (fastpath_savings.ROOT / "autograd" / path.name).read_text()
    ]
    assert len(changed) == 1  # fastpaths.py, or graph.py for the one in backward
    compile((folder / "autograd" / changed[0]).read_text(), changed[0], "exec")


def test_a_convolution_only_run_rewrites_its_part_of_the_results_and_keeps_the_rest(tiny_results):
    full = report.markdown_report(tiny_results, {"CPU": "test"}, "python -m x", rounds=1)
    assert full.count(report.BLOCK_START) == 1 and full.count(report.BLOCK_END) == 1
    convolution = {key: tiny_results[key] for key in ("conv", "max_pool", "cnn", "cnn_profile")}
    assert "CNN SGD step" in report.text_report({**convolution, "seconds": 1.0})
    block = report.convolution_markdown(convolution, {"CPU": "other"}, "python -m y", rounds=2)
    updated = report.replace_convolution_block(full, block)
    main_part = full[: full.index(report.BLOCK_START)]
    assert updated == main_part + block
    assert report.replace_convolution_block(main_part, block) == main_part.rstrip() + "\n\n" + block
