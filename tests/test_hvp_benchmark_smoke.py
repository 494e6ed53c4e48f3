"""Smoke tests of benchmarks/hvp.py: it runs at tiny sizes, its H v is right, and its table is
complete. Nothing here is about speed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

# benchmarks/ is not an installed package; make it importable however pytest is started.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import hvp  # noqa: E402

TINY = ["--rounds", "1", "--repeats", "1", "--batch", "4", "--sizes", "8,5,3", "--n", "5"]


def test_the_benchmark_runs_at_tiny_sizes_and_prints_a_row_per_workload(capsys):
    assert hvp.main(TINY) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert len(table) == 4  # header, rule, two workloads
    assert "MLP 8-5-3" in table[2] and "Rosenbrock function of 5" in table[3]
    for row in table[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 7
        assert cells[1].endswith(("ms", "µs"))  # the engine's H v was timed
        assert cells[6].split("x")[0].replace(".", "").isdigit()  # create_graph / first-order


@pytest.mark.parametrize("make", [hvp.rosenbrock_workload, hvp.mlp_workload])
def test_engine_hvp_matches_central_differences_of_its_gradients(make):
    workload = make(n=6) if make is hvp.rosenbrock_workload else make(batch=4, sizes=(8, 5, 3))
    hvp.check_same_hvp(workload, torch=None)  # raises if H v were wrong


def test_rosenbrock_hvp_matches_the_hessian_by_hand():
    workload = hvp.rosenbrock_workload(n=4)
    (x,), (v,) = workload.params, workload.direction
    hessian = np.zeros((4, 4))
    for i in range(3):  # the term 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2
        hessian[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        hessian[i, i + 1] += -400 * x[i]
        hessian[i + 1, i] += -400 * x[i]
        hessian[i + 1, i + 1] += 200
    np.testing.assert_allclose(hvp.engine_hvp(workload)[0], hessian @ v, rtol=1e-12)


def test_check_same_hvp_rejects_an_engine_loss_that_is_another_function():
    torch = pytest.importorskip("torch")
    workload = hvp.rosenbrock_workload(n=5)
    wrong = hvp.Workload(
        workload.name,
        workload.params,
        workload.direction,
        lambda params: hvp.rosenbrock(params[0]) * 1.5,  # a different function: different H v
        workload.torch_loss,
    )
    with pytest.raises(AssertionError, match="Rosenbrock"):
        hvp.check_same_hvp(wrong, torch)


def test_engine_and_torch_agree_on_the_mlp_hvp():
    torch = pytest.importorskip("torch")
    hvp.check_same_hvp(hvp.mlp_workload(batch=4, sizes=(8, 5, 3)), torch)
