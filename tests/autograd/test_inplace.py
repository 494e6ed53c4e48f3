"""Values saved for backward cannot change under it (issue 9).

Op outputs are read-only from the start; a leaf's value is read-only while some recorded op that
took it is alive. So an in-place write that would make a later backward silently wrong raises at
the write, with NumPy's "read-only" message, and the value becomes writable again once every
graph that saved it is released (by backward, or by being dropped).
"""

from __future__ import annotations

import numpy as np
import pytest

from autograd import TensorNode
from nn.optim import SGD, Adam


def leaf(values) -> TensorNode:
    return TensorNode(np.array(values, dtype=np.float32), requires_grad=True)


def assert_writable(node: TensorNode) -> None:
    node.value[...] = node.value  # raises if read-only


# ----- the three examples of the issue ---------------------------------------------------------


def test_writing_into_an_input_saved_by_mul_raises_at_the_write():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        x.value[:] = 0
    y.backward()
    np.testing.assert_array_equal(w.grad, [1.0, 2.0])


def test_writing_into_an_op_output_raises_at_the_write():
    x = leaf([1.0, -2.0])
    r = x.relu()
    with pytest.raises(ValueError, match="read-only"):
        r.value[:] = 5
    (r * r).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 0.0])  # no gradient leaks through relu at -2


def test_an_update_between_two_retained_backwards_raises_at_the_update():
    w = leaf([1.0, 2.0])
    loss = (w * w * w).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(ValueError, match="read-only"):
        w.value -= 0.5 * w.grad
    loss.backward()
    np.testing.assert_array_equal(w.grad, 2 * 3 * np.array([1.0, 4.0]))  # both at the old w


def test_an_optimizer_step_between_two_retained_backwards_raises_and_changes_nothing():
    w, b = leaf([1.0, 2.0]), leaf([0.5])
    (b * 2).sum().backward()  # b's graph is gone: b is writable, and has a gradient
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(ValueError, match=r"SGD.step: parameter 1 \(shape \(2,\)\) is read-only"):
        SGD([b, w], lr=0.1).step()
    np.testing.assert_array_equal(b.value, [0.5])  # nothing was updated
    del loss
    SGD([b, w], lr=0.1).step()  # the graph dropped, the step goes through
    np.testing.assert_allclose(w.value, [0.8, 1.6])


# ----- what must keep working -----------------------------------------------------------------


@pytest.mark.parametrize("optimizer_class", [SGD, Adam])
def test_the_ordinary_training_loop_runs_for_many_steps(optimizer_class):
    rng = np.random.default_rng(0)
    inputs = TensorNode(rng.standard_normal((32, 3)).astype(np.float32))
    targets = TensorNode(inputs.value @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    w = TensorNode(np.zeros((3, 1), np.float32), requires_grad=True)
    b = TensorNode(np.zeros(1, np.float32), requires_grad=True)
    optimizer = optimizer_class([w, b], lr=0.05)
    losses = []
    for _ in range(200):
        loss = ((inputs @ w + b - targets) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]
    assert_writable(w)
    assert_writable(b)


def test_values_can_change_after_backward():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    w.value[:] = 7
    w.value -= 1
    np.testing.assert_array_equal(w.value, [6.0, 6.0])


def test_values_can_change_after_a_forward_without_grad():
    from autograd import no_grad

    w = leaf([1.0, 2.0])
    with no_grad():
        (w * w).sum()
    assert_writable(w)


def test_a_graph_dropped_without_backward_unlocks_its_leaves():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    assert not w.value.flags.writeable
    del loss  # reference counting frees the graph at once; no gc.collect() needed
    assert_writable(w)


def test_retain_graph_keeps_leaves_locked_until_the_graph_is_dropped():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    assert not w.value.flags.writeable
    loss.backward(retain_graph=True)
    assert not w.value.flags.writeable
    del loss
    assert_writable(w)


def test_a_leaf_shared_by_two_graphs_stays_locked_until_both_are_released():
    w = leaf([1.0, 2.0])
    first, second = (w * 2).sum(), (w * 3).sum()
    first.backward()
    with pytest.raises(ValueError, match="read-only"):
        w.value[:] = 0
    del second
    assert_writable(w)


def test_a_leaf_used_twice_in_one_graph_unlocks_after_one_backward():
    w = leaf([1.0, 2.0])
    ((w * w) + w).sum().backward()
    assert_writable(w)


def test_a_value_that_was_read_only_stays_read_only():
    value = np.array([1.0, 2.0], dtype=np.float32)
    value.setflags(write=False)
    w = TensorNode(value, requires_grad=True)
    (w * w).sum().backward()
    assert not value.flags.writeable  # the engine never makes a user's array writable


def test_the_leaf_value_is_the_callers_array_so_the_callers_name_is_locked_too():
    value = np.array([1.0, 2.0], dtype=np.float32)
    w = TensorNode(value, requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        value[0] = 5
    loss.backward()
    value[0] = 5


def test_writing_through_a_detached_view_taken_before_the_graph_raises():
    w = leaf([1.0, 2.0])
    detached = w.detach()
    loss = (w * w).sum()
    with pytest.raises(ValueError, match="read-only"):
        detached.value[0] = 5
    loss.backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_assigning_a_new_value_to_a_locked_leaf_does_not_unlock_that_array():
    x, other = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    loss = (x * 3).sum()
    saved_output = other.relu()
    x.value = saved_output.value  # allowed, as PyTorch allows x.data = ...
    loss.backward()
    assert not saved_output.value.flags.writeable
