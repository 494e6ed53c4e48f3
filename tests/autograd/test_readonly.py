"""Specification of autograd/readonly.py: leaf values are read-only exactly while some recorded op
holds them, also when several threads lock and unlock one array at once (issue 15)."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import autograd
from autograd import TensorNode
from autograd.readonly import _locked, lock, unlock


@pytest.fixture
def short_switch_interval():
    """Switch threads every microsecond, so that a race shows within a second."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def run_in_three_threads(work) -> list:
    """Run ``work`` in three threads at once; the errors they raised."""
    errors = []

    def guarded():
        try:
            work()
        except BaseException as error:  # noqa: BLE001  (reported in the main thread)
            errors.append(error)

    threads = [threading.Thread(target=guarded) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def assert_free(w: TensorNode) -> None:
    """No op holds ``w``: its value is writable, as an optimiser step needs."""
    assert id(w.value) not in _locked
    assert w.value.flags.writeable
    w.value -= 0.1


def test_lock_and_unlock_of_one_leaf_in_three_threads_leave_exact_counts(short_switch_interval):
    w = TensorNode(np.ones(3, np.float32), requires_grad=True)

    def work():
        for _ in range(200_000):  # about a second: main lost counts or raised KeyError each run
            unlock(lock((w,)))

    assert run_in_three_threads(work) == []
    assert_free(w)


def test_graphs_on_a_shared_parameter_in_three_threads_leave_it_writable(short_switch_interval):
    w = TensorNode(np.ones((4, 3), np.float32), requires_grad=True)

    def work():
        for _ in range(2000):
            autograd.grad((TensorNode(np.ones((2, 4), np.float32)) @ w).sum(), w)

    assert run_in_three_threads(work) == []
    assert_free(w)


def test_a_leaf_is_read_only_while_a_graph_holds_it_and_writable_after():
    w = TensorNode(np.ones(3, np.float32), requires_grad=True)
    loss = (w * 2.0).sum()
    with pytest.raises(ValueError, match="read-only"):
        w.value += 1
    loss.backward()
    assert_free(w)
