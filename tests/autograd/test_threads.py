"""Threads (issue 9): grad mode, anomaly mode and scope belong to the thread that set them.

What is thread-safe: building graphs and running backward in several threads at once, also on
shared parameters, as long as no two threads accumulate into the same ``.grad`` at the same time
(``autograd.grad`` never touches ``.grad``). The threads here are interleaved step by step with
Events and Barriers, so each test is deterministic: no sleeps, no timing.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import autograd
from autograd import AnomalyError, TensorNode, detect_anomaly, is_grad_enabled, no_grad, scope

TIMEOUT = 10  # seconds; only reached if a test is broken, never part of the interleaving


def run_in_threads(*functions) -> None:
    """Run each function in its own thread, wait for all, and re-raise the first error."""
    errors = []

    def guarded(function):
        try:
            function()
        except BaseException as error:  # noqa: BLE001  (reported in the main thread)
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "a thread is stuck: the interleaving is broken"
    if errors:
        raise errors[0]


def wait(event: threading.Event) -> None:
    assert event.wait(TIMEOUT), "the other thread never got there"


def parameter() -> TensorNode:
    return TensorNode(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)


def test_no_grad_in_one_thread_leaves_another_threads_ops_tracked():
    w = parameter()
    inside, built = threading.Event(), threading.Event()
    results = {}

    def evaluating():
        with no_grad():
            inside.set()
            wait(built)
            results["evaluating"] = (w * 2).requires_grad

    def training():
        wait(inside)
        y = w * 2
        results["training"] = (y.requires_grad, y.source is not None)
        built.set()

    run_in_threads(evaluating, training)
    assert results == {"evaluating": False, "training": (True, True)}


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_threads_mode():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with no_grad():
            first_in.set()
            wait(second_in)
        first_out.set()
        seen["first after its block"] = is_grad_enabled()

    def second():
        wait(first_in)
        with no_grad():
            second_in.set()
            wait(first_out)
            seen["second inside its block, after the first left"] = is_grad_enabled()
        seen["second after its block"] = is_grad_enabled()

    run_in_threads(first, second)
    assert seen == {
        "first after its block": True,
        "second inside its block, after the first left": False,
        "second after its block": True,
    }
    assert is_grad_enabled()  # and the main thread never saw either block


def test_a_new_thread_starts_with_grad_enabled_even_inside_no_grad():
    seen = []
    with no_grad():
        run_in_threads(lambda: seen.append(is_grad_enabled()))
    assert seen == [True]


def test_detect_anomaly_is_per_thread():
    inside, checked = threading.Event(), threading.Event()
    results = {}

    def debugging():
        with detect_anomaly():
            inside.set()
            wait(checked)
            with pytest.raises(AnomalyError), np.errstate(divide="ignore"):
                TensorNode(np.zeros(1, np.float32), requires_grad=True).log()
            results["debugging"] = "raised"

    def other():
        wait(inside)
        with np.errstate(divide="ignore"):  # -inf, and no check in this thread
            y = TensorNode(np.zeros(1, np.float32), requires_grad=True).log()
        results["other"] = float(y.value[0])
        checked.set()

    run_in_threads(debugging, other)
    assert results == {"debugging": "raised", "other": -np.inf}


def test_scope_labels_only_the_ops_of_its_own_thread():
    w = parameter()
    inside, built = threading.Event(), threading.Event()
    scopes = {}

    def encoder():
        with scope("encoder"):
            inside.set()
            wait(built)
            scopes["encoder"] = (w * 2).source.scope

    def other():
        wait(inside)
        scopes["other"] = (w * 3).source.scope
        built.set()

    run_in_threads(encoder, other)
    assert scopes == {"encoder": ("encoder",), "other": ()}


# ----- backward in several threads: what is promised ---------------------------------------


def test_threads_can_take_gradients_of_their_own_graphs_on_shared_parameters():
    """The promised recipe for data parallelism: autograd.grad in each thread, summed after."""
    w = parameter()
    count = 8
    barrier = threading.Barrier(count)
    grads = [None] * count

    def worker(index):
        def run():
            barrier.wait(TIMEOUT)  # all graphs on w are alive at once
            loss = (w * w * float(index)).sum()
            barrier.wait(TIMEOUT)
            (grads[index],) = autograd.grad(loss, w)

        return run

    run_in_threads(*[worker(index) for index in range(count)])
    for index, grad in enumerate(grads):
        np.testing.assert_array_equal(grad.value, 2 * index * w.value)
    assert w.grad is None
    w.value[:] = 0  # every graph was released, so the parameter can be updated


def test_threads_can_run_backward_at_once_on_graphs_with_their_own_leaves():
    count = 8
    barrier = threading.Barrier(count)
    leaves = [parameter() for _ in range(count)]

    def worker(index):
        def run():
            loss = (leaves[index] * float(index)).sum()
            barrier.wait(TIMEOUT)
            loss.backward()

        return run

    run_in_threads(*[worker(index) for index in range(count)])
    for index, x in enumerate(leaves):
        np.testing.assert_array_equal(x.grad, [index, index])


def test_backward_into_one_leaf_from_several_threads_sums_when_serialized_by_a_lock():
    w = parameter()
    count = 8
    barrier, backward_lock = threading.Barrier(count), threading.Lock()

    def worker():
        loss = (w * 3).sum()
        barrier.wait(TIMEOUT)
        with backward_lock:  # .grad accumulation is not atomic: the documented recipe
            loss.backward()

    run_in_threads(*[worker] * count)
    np.testing.assert_array_equal(w.grad, [3.0 * count, 3.0 * count])


def test_updating_a_parameter_while_another_thread_holds_a_graph_on_it_raises():
    w = parameter()
    built, tried, done = threading.Event(), threading.Event(), threading.Event()
    outcome = {}

    def forward_then_backward():
        loss = (w * w).sum()
        built.set()
        wait(tried)
        loss.backward()
        done.set()

    def updater():
        wait(built)
        try:
            w.value -= 1
        except ValueError as error:
            outcome["during"] = str(error)
        tried.set()
        wait(done)
        w.value -= 1
        outcome["after"] = w.value.tolist()

    run_in_threads(forward_then_backward, updater)
    assert "read-only" in outcome["during"]
    assert outcome["after"] == [0.0, 1.0]
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])  # the gradient at the value it saw
