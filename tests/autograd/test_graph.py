"""Specification of autograd/graph.py (and Op.do_forward): graph shapes, the backward pass,
grad modes, released graphs, memory, custom ops, scopes, errors and anomaly detection."""

from __future__ import annotations

import gc
import inspect
import weakref
from pathlib import Path

import numpy as np
import pytest

import autograd
from autograd import (
    AnomalyError,
    GradientError,
    GraphReleasedError,
    Mul,
    Op,
    OpNode,
    ShapeError,
    TensorNode,
    detect_anomaly,
    is_grad_enabled,
    no_grad,
    scope,
)
from autograd.graph import walk

THIS_FILE = Path(__file__).name


def leaf(*values) -> TensorNode:
    return TensorNode(np.array(values if len(values) > 1 else values[0]), requires_grad=True)


# ----- graph shapes ------------------------------------------------------------------------------


def test_diamond_adds_the_gradients_of_both_paths():
    x = leaf(2.0)
    a = x * 3.0  # da/dx = 3
    b = x**2  # db/dx = 2x = 4
    (a + b).backward()
    assert x.grad == 7.0


def test_node_used_twice_by_one_op_gets_both_gradients():
    x = leaf(1.0, -2.0, 3.0)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])  # 2x


def test_shared_sub_expression_accumulates_before_it_propagates():
    x, y = leaf(2.0), leaf(3.0)
    s = x * y  # 6
    z = s * s + s  # dz/ds = 2s + 1 = 13
    z.backward()
    assert x.grad == 13.0 * 3.0 and y.grad == 13.0 * 2.0


def test_backward_calls_on_new_graphs_accumulate_on_leaves_until_zero_grad():
    x = leaf(1.0, 2.0)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 + 4.0])
    x.zero_grad()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_intermediate_gradients_are_dropped_unless_asked_for():
    x = leaf(1.0, 2.0)
    h = x * 2.0
    kept = (x * 3.0).retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad, h.value)  # d(sum(h * k))/dk = h
    np.testing.assert_array_equal(x.grad, 2.0 * 3 * x.value * 2)  # 12 x


def test_backward_with_retain_grads_keeps_every_intermediate_gradient():
    x = leaf(1.0, 2.0)
    h = x * 2.0
    y = h.exp()
    loss = y.sum()
    loss.backward(retain_grads=True)
    assert loss.grad == 1.0
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])
    np.testing.assert_allclose(h.grad, np.exp(h.value))


def test_second_backward_with_retain_graph_doubles_leaf_grads_exactly():
    x = leaf(0.5, -1.5)
    h = (x * 3.0).retain_grad()
    loss = (h * h).sum()  # dloss/dh = 2h, dloss/dx = 18x
    loss.backward(retain_graph=True)
    first_x, first_h = x.grad.copy(), h.grad.copy()
    np.testing.assert_allclose(first_x, 18.0 * x.value)
    loss.backward()
    # The retained h.grad (accumulated like a leaf's) must not be fed back into the second pass.
    np.testing.assert_allclose(x.grad, 2.0 * first_x, rtol=0)
    np.testing.assert_allclose(h.grad, 2.0 * first_h, rtol=0)


def test_node_that_also_feeds_a_branch_not_leading_to_the_loss_gets_its_full_gradient():
    x = leaf(1.0, 2.0)
    h = x * 2.0
    unused = h.exp() * 5.0  # h also feeds this branch, which the loss never uses
    loss = (h * 3.0).sum()
    loss.backward(retain_grads=True)
    np.testing.assert_array_equal(h.grad, [3.0, 3.0])
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    assert unused.grad is None


def test_backward_from_a_leaf_gives_it_a_gradient_of_one():
    x = leaf(4.0)
    x.backward()
    assert x.grad == 1.0


def test_backward_with_an_explicit_grad_for_a_non_scalar_root():
    x = leaf(1.0, 2.0, 3.0)
    (x * 2.0).backward(grad=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -2.0])
    x.zero_grad()
    (x * 2.0).backward(grad=TensorNode(np.array([1.0, 1.0, 1.0])))
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_gradient_arrays_handed_out_are_never_modified_afterwards():
    x = leaf(1.0, 2.0)
    (x * 3.0).sum().backward()
    first = x.grad
    snapshot = first.copy()
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(first, snapshot)
    np.testing.assert_array_equal(x.grad, [8.0, 8.0])


def test_leaf_gradients_are_separate_arrays_that_can_be_edited_in_place():
    a, b = leaf(1.0, 2.0), leaf(3.0, 4.0)
    ((a + b) * 1.0).sum().backward()
    a.grad *= 10.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


# ----- deep graphs -------------------------------------------------------------------------------


@pytest.mark.slow
def test_chain_of_100000_multiplications_gives_c_to_the_n_without_recursion_error():
    n, c = 100_000, 1.0001
    x = leaf(1.0)
    y = x
    for _ in range(n):
        y = y * c
    y.backward()
    np.testing.assert_allclose(x.grad, c**n, rtol=1e-9)


@pytest.mark.slow
def test_chain_of_100000_additions_gives_gradient_one_and_frees_cleanly():
    x = leaf(0.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    assert y.item() == 100_000.0
    first_link = weakref.ref(y.source.inputs[0])
    y.backward()
    assert x.grad == 1.0
    del y  # deallocating a 100,000-deep chain must not overflow the C stack either
    assert first_link() is None


# ----- grad modes --------------------------------------------------------------------------------


def test_no_grad_records_nothing():
    x = leaf(1.0, 2.0)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert y.source is None and not y.requires_grad
    assert is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception_and_when_nested():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0  # noqa: B018
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()  # the inner block restores "off", not "on"
    assert is_grad_enabled()


def test_ops_on_inputs_that_need_no_grad_record_nothing():
    x = TensorNode(np.ones(3))
    y = (x * 2.0 + 1.0).relu().sum()
    assert y.source is None and not y.requires_grad


def test_mixed_inputs_record_which_inputs_need_a_gradient():
    x, constant = leaf(1.0, 2.0), TensorNode(np.array([3.0, 4.0]))
    y = x * constant
    assert y.requires_grad
    assert y.source.context["needs_input_grad"] == (True, False)
    y.sum().backward()
    assert constant.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


# ----- released graphs ---------------------------------------------------------------------------


def test_backward_releases_contexts_and_a_second_backward_is_a_clear_error():
    x = leaf(1.0, 2.0)
    h = x.exp()
    loss = (h * h).sum()
    loss.backward()
    assert h.source.context is None and loss.source.context is None
    with pytest.raises(GraphReleasedError) as caught:
        loss.backward()
    message = str(caught.value)
    assert "Sum" in message and "retain_graph=True" in message


class FailsOnce(Op):
    """Identity, whose backward raises the first time it runs: a pass that fails partway."""

    failures = 1

    @staticmethod
    def forward(context, x):
        return x.copy()

    @staticmethod
    def backward(context, grad_output):
        if FailsOnce.failures:
            FailsOnce.failures -= 1
            raise RuntimeError("backward failed")
        return grad_output


def test_a_pass_that_fails_partway_changes_nothing_and_can_be_run_again():
    x, w = leaf(1.0, 2.0), leaf(3.0, 4.0)
    x.grad = np.array([10.0, 10.0], dtype=x.dtype)
    hidden = (x * w).exp()  # the ops before the failure: Mul, Exp
    loss = (FailsOnce.do_forward(hidden) * w).sum()  # ...and after it: Mul, Sum
    with pytest.raises(RuntimeError, match="backward failed"):
        loss.backward()
    # Sum and the second Mul ran; nothing was stored and nothing was released.
    np.testing.assert_array_equal(x.grad, [10.0, 10.0])
    assert w.grad is None
    assert all(op_node.context is not None for op_node in walk([loss])[0])
    with pytest.raises(ValueError, match="read-only"):
        w.value[0] = 0.0  # the leaves the graph saved are still locked
    loss.backward()
    expected_w = np.exp(x.value * w.value) * (1 + x.value * w.value)
    np.testing.assert_allclose(w.grad, expected_w, rtol=1e-6)
    np.testing.assert_allclose(x.grad, 10 + np.exp(x.value * w.value) * w.value**2, rtol=1e-6)


def test_retain_graph_keeps_contexts_for_a_second_backward():
    x = leaf(1.0, 2.0)
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    assert loss.source.context is not None
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_a_new_graph_over_a_released_part_is_refused():
    x = leaf(1.0, 2.0)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(GraphReleasedError, match="Exp"):
        (h * 2.0).sum().backward()


def test_a_refused_backward_leaves_every_gradient_as_it_was():
    x = leaf(1.0, 2.0)
    h = x.exp()
    h.sum().backward()
    before = x.grad.copy()
    loss = (x * 3.0).sum() + (h * 2.0).sum()  # one path is fresh, the other released
    with pytest.raises(GraphReleasedError):
        loss.backward()
    np.testing.assert_array_equal(x.grad, before)


# ----- memory ------------------------------------------------------------------------------------


class Sentinel:
    """A weak-referenceable object an op keeps in its context, to see when the context dies."""


class KeepsSentinel(Op):
    """y = x, saving a Sentinel in its context."""

    @staticmethod
    def forward(context, x):
        context["sentinel"] = Sentinel()
        return x.copy()

    @staticmethod
    def backward(context, grad_output):
        return grad_output


@pytest.fixture
def gc_disabled():
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


@pytest.mark.parametrize("mode", ["no backward", "backward", "retain_graph", "retain_grads"])
def test_graph_is_freed_by_reference_counting_alone(gc_disabled, mode):
    x = leaf(1.0, 2.0)
    h = KeepsSentinel.do_forward(x)
    y = (h * 2.0).exp()
    loss = y.sum()
    sentinel = weakref.ref(h.source.context["sentinel"])
    intermediates = [weakref.ref(node) for node in (h, y, loss)]
    if mode == "backward":
        loss.backward()
    elif mode == "retain_graph":
        loss.backward(retain_graph=True)
    elif mode == "retain_grads":
        loss.backward(retain_graph=True, retain_grads=True)
    del h, y, loss
    assert all(ref() is None for ref in intermediates)
    assert sentinel() is None  # the OpNode and its context went too
    assert x.value is not None  # the leaf the user holds is untouched


def test_op_node_holds_its_output_values_but_not_the_nodes_it_made():
    x = leaf(1.0)
    y = x * 2.0
    op_node = y.source
    assert isinstance(op_node, OpNode) and op_node.output_values[0] is y.value
    assert op_node.op is Mul and op_node.inputs[0] is x
    node = weakref.ref(y)
    del y
    assert node() is None  # nothing in the graph kept it alive


# ----- custom ops --------------------------------------------------------------------------------


class SplitHalves(Op):
    """(first, second) = (x[:n], x[n:]) with n = len(x) // 2;
    dL/dx = concatenate(dL/dfirst, dL/dsecond)"""

    @staticmethod
    def forward(context, x):
        n = len(x) // 2
        return x[:n].copy(), x[n:].copy()

    @staticmethod
    def backward(context, grad_first, grad_second):
        return np.concatenate([grad_first, grad_second])


def test_multi_output_op_gives_zero_gradient_for_an_output_the_loss_does_not_use():
    x = leaf(1.0, 2.0, 3.0, 4.0)
    first, second = SplitHalves.do_forward(x)
    assert first.source is second.source
    assert walk([first, second])[1][first.source] == [second, first]  # reached by the walk
    (first * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 0.0, 0.0])


def test_multi_output_op_adds_the_gradients_of_both_outputs():
    x = leaf(1.0, 2.0, 3.0, 4.0)
    first, second = SplitHalves.do_forward(x)
    ((first * 2.0).sum() + (second * 5.0).sum()).backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 5.0, 5.0])


def test_multi_output_op_whose_unused_output_was_dropped_still_backpropagates():
    x = leaf(1.0, 2.0, 3.0, 4.0)
    first = SplitHalves.do_forward(x)[0]  # the second output is freed at once
    (first * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 0.0, 0.0])


class WrongShapeBackward(Op):
    """y = 2x, with a backward that wrongly drops the last axis."""

    @staticmethod
    def forward(context, x):
        return 2 * x

    @staticmethod
    def backward(context, grad_output):
        return 2 * grad_output.sum(axis=-1)


def test_backward_returning_the_wrong_shape_is_a_shape_error_naming_the_op():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ShapeError) as caught:
        WrongShapeBackward.do_forward(x).sum().backward()
    message = str(caught.value)
    assert "WrongShapeBackward" in message and "(2,)" in message and "(2, 3)" in message


class TwoGradientsForOneInput(Op):
    @staticmethod
    def forward(context, x):
        return x.copy()

    @staticmethod
    def backward(context, grad_output):
        return grad_output, grad_output


def test_backward_returning_the_wrong_number_of_gradients_is_a_gradient_error_naming_the_op():
    with pytest.raises(GradientError, match="TwoGradientsForOneInput.backward returned 2 .* 1"):
        TwoGradientsForOneInput.do_forward(leaf(1.0)).backward()


def test_scope_labels_op_nodes_with_the_owners_active_when_they_were_made():
    x = leaf(1.0, 2.0)
    outside = x * 2.0
    with scope("encoder"):
        a = x * 3.0
        with scope("layer1"):
            b = a.relu()
        c = b.sum()
    assert outside.source.scope == ()
    assert a.source.scope == ("encoder",) and c.source.scope == ("encoder",)
    assert b.source.scope == ("encoder", "layer1")
    assert (x + 1.0).source.scope == ()  # restored on exit


# ----- errors ------------------------------------------------------------------------------------


def test_backward_from_a_non_scalar_without_grad_is_a_gradient_error_naming_the_shape():
    with pytest.raises(GradientError, match=r"shape \(2, 3\).*\.sum\(\)"):
        (leaf(np.ones((2, 3))) * 2.0).backward()


def test_backward_with_a_grad_of_the_wrong_shape_is_a_shape_error():
    with pytest.raises(
        ShapeError, match=r"gradient has shape \(2,\) but the output has shape \(3,\)"
    ):
        (leaf(1.0, 2.0, 3.0) * 2.0).backward(grad=np.ones(2))


def test_backward_on_a_node_that_does_not_require_grad_is_a_gradient_error():
    with pytest.raises(GradientError, match="does not require grad"):
        (TensorNode(np.ones(3)) * 2.0).sum().backward()
    with pytest.raises(GradientError, match="does not require grad"):
        TensorNode(1.0).backward()


# ----- anomaly detection -------------------------------------------------------------------------


def here() -> int:
    """The line number of the caller: where the next op is created is ``here() + 1``."""
    return inspect.currentframe().f_back.f_lineno


@pytest.mark.parametrize("value", [0.0, -1.0], ids=["log of 0", "log of a negative"])
def test_detect_anomaly_names_the_forward_op_and_the_user_line(value):
    x = leaf(1.0, value)
    with np.errstate(divide="ignore", invalid="ignore"):
        with detect_anomaly(), pytest.raises(AnomalyError) as caught:
            line = here() + 1
            x.log()
    message = str(caught.value)
    assert message.startswith("Log forward produced NaN or inf")
    assert f"{THIS_FILE}:{line}" in message


def test_detect_anomaly_notes_when_an_input_was_already_non_finite():
    with detect_anomaly(), pytest.raises(AnomalyError, match="Mul forward .* input 0"):
        TensorNode(np.array([np.inf])) * 2.0


def test_detect_anomaly_names_the_backward_op_and_where_it_was_created():
    x = leaf(0.0, 4.0)
    with np.errstate(divide="ignore"), detect_anomaly():
        line = here() + 1
        y = x**0.5  # finite forward (0 and 2); the gradient 0.5 / sqrt(0) is inf
        with pytest.raises(AnomalyError) as caught:
            y.sum().backward()
    message = str(caught.value)
    assert message.startswith("Pow backward produced NaN or inf in the gradient of input 0")
    assert f"{THIS_FILE}:{line}" in message


def test_detect_anomaly_catches_an_overflow_in_div_backward():
    a, b = leaf(1.0), leaf(1e-200)
    with np.errstate(over="ignore"), detect_anomaly():
        line = here() + 1
        y = a / b  # 1e200 is finite; dy/db = -a / b**2 = -1e400 overflows
        with pytest.raises(AnomalyError) as caught:
            y.backward()
    message = str(caught.value)
    assert message.startswith("Div backward produced NaN or inf in the gradient of input 1")
    assert f"{THIS_FILE}:{line}" in message


def test_without_detect_anomaly_non_finite_values_pass_silently():
    with np.errstate(divide="ignore"):
        y = leaf(0.0).log()
    assert y.item() == -np.inf
    assert not autograd.modes.local.modes.anomaly_enabled


def test_detect_anomaly_is_switched_off_again_after_an_error():
    with pytest.raises(AnomalyError):
        with np.errstate(invalid="ignore"), detect_anomaly():
            leaf(-1.0).log()
    assert not autograd.modes.local.modes.anomaly_enabled
    with np.errstate(invalid="ignore"):
        assert np.isnan(leaf(-1.0).log().item())


def test_a_first_order_backward_adds_into_a_grad_left_by_create_graph():
    x = leaf(2.0)
    (x**3).backward(create_graph=True)  # x.grad = 3 x^2, a node of a graph
    (x * 5.0).backward()
    assert isinstance(x.grad, TensorNode) and x.grad.item() == 12.0 + 5.0


def test_large_graph_raises_the_collectors_first_threshold_inside_and_restores_it_after():
    before = gc.get_threshold()
    x = leaf(0.5)
    with pytest.raises(RuntimeError, match="an error inside the block"):
        with autograd.large_graph():
            assert gc.get_threshold()[0] >= 100_000
            assert gc.get_threshold()[1:] == before[1:]
            y = x
            for _ in range(1_000):
                y = y * 1.001
            y.backward()
            raise RuntimeError("an error inside the block")
    assert gc.get_threshold() == before
    np.testing.assert_allclose(x.grad, 1.001**1_000, rtol=1e-4)


def test_a_recorded_op_leaves_three_objects_for_the_cycle_collector():
    """The TensorNode, the OpNode and its inputs tuple; the context dict, the output values and
    the locked arrays are not tracked once a young collection has looked at them. Fewer tracked
    objects per op make the collector's full passes over a large live graph cheaper."""
    c, d = TensorNode(np.float32(0.5)), TensorNode(np.float32(0.25))
    y = TensorNode(np.float32(1.0), requires_grad=True)
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(500):
        y = y * c + d
    gc.collect(0)
    gc.collect(1)  # untracks what holds no Python objects; the graph itself is alive
    per_op = (len(gc.get_objects()) - before) / 1000
    assert 2.9 < per_op < 3.1


# ----- a leaf changed under a live graph (issue 15) -----------------------------------------------


def test_a_leaf_rebound_to_another_shape_before_backward_is_named_not_the_op():
    w = TensorNode(np.ones(3, np.float32), requires_grad=True)
    loss = (w * TensorNode(np.arange(3, dtype=np.float32))).sum()
    w.value = np.ones(4, np.float32)
    with pytest.raises(ShapeError, match=r"leaf that now has shape \(4,\).*was replaced"):
        loss.backward()


def test_a_locked_leaf_resized_in_place_is_named_at_backward():
    w = TensorNode(np.ones(3, np.float32), requires_grad=True)
    loss = (w * TensorNode(np.arange(3, dtype=np.float32))).sum()
    w.value.resize((4,), refcheck=False)  # NumPy's resize ignores the read-only flag
    with pytest.raises(ShapeError, match="resized in place"):
        loss.backward()
