"""Specification of autograd/viz/stepper.py: step_through records the backward pass exactly, through
the one observer hook of the backward loop, which costs nothing when unused."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import GradientError, TensorNode, grad, scope
from autograd.graph import walk
from autograd.modes import local
from autograd.ops import Mul

viz = pytest.importorskip("autograd.viz")


def scalar_graph():
    """The README's first example: a is used three times, b twice."""
    a = TensorNode(-4.0, requires_grad=True, name="a")
    b = TensorNode(2.0, requires_grad=True, name="b")
    c = a * b + b**3
    d = (c - a).relu() + 2 * a
    return a, b, d


def neuron(seed=0):
    rng = np.random.default_rng(seed)
    x = TensorNode(rng.normal(size=(4, 3)).astype(np.float32), name="x")
    w = TensorNode(rng.normal(size=(3, 2)).astype(np.float32), requires_grad=True, name="w")
    b = TensorNode(np.array([0.5, -0.5], np.float32), requires_grad=True, name="b")
    loss = ((x @ w + b).relu() * (x @ w)).mean()  # x @ w twice: two MatMuls feed w
    return {"x": x, "w": w, "b": b, "loss": loss}


def contributions(trace, node) -> list:
    return [
        s for step in trace.steps for s in step.sent if s.node is node and s.gradient is not None
    ]


def test_there_is_one_step_per_op_in_the_order_backward_visits_them():
    g = neuron()
    ops, _ = walk([g["loss"]])
    trace = viz.step_through(g["loss"])
    assert [step.op_node for step in trace.steps] == ops
    assert [step.number for step in trace.steps] == list(range(1, len(ops) + 1))


def test_the_recorded_contributions_add_up_to_each_grad_exactly():
    g = neuron()
    trace = viz.step_through(g["loss"])
    for leaf in (g["w"], g["b"]):
        sent = contributions(trace, leaf)
        total = None
        for s in sent:
            assert (s.before is None) == (total is None)
            if total is not None:
                np.testing.assert_array_equal(s.before, total)
                np.testing.assert_array_equal(s.after, total + s.gradient)
            total = s.gradient if total is None else total + s.gradient
        np.testing.assert_array_equal(total, leaf.grad)
        np.testing.assert_array_equal(sent[-1].after, leaf.grad)
    assert len(contributions(trace, g["w"])) == 2 and len(contributions(trace, g["b"])) == 1


def test_step_through_leaves_the_same_grad_as_backward():
    recorded, plain = neuron(), neuron()
    viz.step_through(recorded["loss"])
    plain["loss"].backward()
    for name in ("w", "b"):
        np.testing.assert_array_equal(recorded[name].grad, plain[name].grad)
        assert recorded[name].grad.dtype == plain[name].grad.dtype
    assert recorded["x"].grad is None


def test_a_node_used_twice_in_one_op_gets_before_plus_contribution_equals_after():
    x = TensorNode([1.0, -2.0], requires_grad=True, name="x")
    trace = viz.step_through((x * x).sum())
    (mul,) = [step for step in trace.steps if step.op_node.op is Mul]
    first, second = mul.sent
    assert first.before is None and second.before is first.after
    np.testing.assert_array_equal(second.after, first.gradient + second.gradient)
    np.testing.assert_array_equal(x.grad, 2 * x.value)


def test_the_arrived_gradients_are_those_the_outputs_received():
    a, b, d = scalar_graph()
    trace = viz.step_through(d)
    assert trace.steps[0].output_grads[0] == 1.0 and trace.seed == 1.0
    after = {}  # tensor id -> its gradient after the steps so far
    for step in trace.steps:
        for output_grad, value in zip(step.output_grads, step.op_node.output_values):
            producer_output = [x for x in after if after[x][0] is value]
            if producer_output:
                np.testing.assert_array_equal(output_grad, after[producer_output[0]][1])
        for sent in step.sent:
            if sent.gradient is not None:
                after[id(sent.node)] = (sent.node.value, sent.after)
    assert a.grad == 3.0 and b.grad == 8.0


def test_constants_are_recorded_as_needing_no_gradient():
    g = neuron()
    trace = viz.step_through(g["loss"])
    to_x = [s for step in trace.steps for s in step.sent if s.node is g["x"]]
    assert to_x and all(s.gradient is None and s.after is None for s in to_x)


def test_a_leaf_that_held_a_grad_keeps_accumulating_and_the_trace_says_so():
    x = TensorNode([1.0, 2.0], requires_grad=True, name="x")
    (x * 3).sum().backward()
    trace = viz.step_through((x * x).sum())
    np.testing.assert_array_equal(x.grad, 3 + 2 * x.value)
    ((leaf, earlier),) = trace.earlier_grads
    assert leaf is x
    np.testing.assert_array_equal(earlier, [3.0, 3.0])


def test_a_non_scalar_loss_takes_its_gradient_like_backward():
    x = TensorNode([1.0, 2.0], requires_grad=True)
    trace = viz.step_through(x * 2, grad=[1.0, -1.0])
    np.testing.assert_array_equal(trace.seed, [1.0, -1.0])
    np.testing.assert_array_equal(x.grad, [2.0, -2.0])


def test_something_other_than_a_tensornode_is_a_type_error():
    with pytest.raises(TypeError, match="step_through"):
        viz.step_through(np.ones(3))


# ----- the hook --------------------------------------------------------------------------------


def test_the_observer_is_unset_outside_step_through_even_after_an_error():
    assert local.modes.observer is None
    with pytest.raises(GradientError, match="scalar"):
        viz.step_through(TensorNode([1.0, 2.0], requires_grad=True) * 2)  # needs grad=
    assert local.modes.observer is None
    viz.step_through(scalar_graph()[2])
    assert local.modes.observer is None


def test_the_observer_sees_the_steps_of_its_own_thread_only():
    seen = []
    a, b, d = scalar_graph()
    local.modes.observer = lambda op_node, *rest: seen.append(op_node)
    try:
        other = threading.Thread(target=lambda: scalar_graph()[2].backward())
        other.start()
        other.join()
        assert seen == []
        d.backward()
    finally:
        local.modes.observer = None
    assert seen == walk([d])[0]


def test_step_through_under_retain_graph_can_be_repeated_and_accumulates():
    a, b, d = scalar_graph()
    viz.step_through(d, retain_graph=True)
    trace = viz.step_through(d)
    assert a.grad == 6.0 and len(trace.earlier_grads) == 2


def test_a_create_graph_pass_is_recorded_by_the_observer_as_values():
    x = TensorNode(2.0, requires_grad=True)
    seen = []
    local.modes.observer = lambda op_node, outputs, arrived, sent, pending: seen.append(sent)
    try:
        (dy,) = grad(x**3, x, create_graph=True)
    finally:
        local.modes.observer = None
    assert len(seen) == 1 and isinstance(seen[0][0], TensorNode)
    assert dy.item() == 12.0


def test_ops_inside_a_collapsed_module_are_still_each_a_step():
    class Layer:
        def __init__(self):
            self.weight = TensorNode(np.full((3, 2), 0.1, np.float32), requires_grad=True)

        def named_parameters(self):
            return [("weight", self.weight)]

        def __call__(self, x):
            with scope(self):
                return (x @ self.weight).tanh()

    layer = Layer()
    loss = layer(TensorNode(np.ones((2, 3), np.float32))).sum()
    trace = viz.step_through(loss, names=layer, collapse=layer)
    assert [step.op_node.op.__name__ for step in trace.steps] == ["Sum", "Tanh", "MatMul"]
    assert "<svg" in trace.to_html()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(0, 50)), max_size=8))
def test_on_random_graphs_grads_match_backward_and_contributions_add_up(program):
    def build():
        nodes = [TensorNode(np.array([0.3, -0.2]), requires_grad=True), TensorNode(0.5)]
        for kind, first, second in program:
            p, q = nodes[first % len(nodes)], nodes[second % len(nodes)]
            nodes.append(p.tanh() if kind == 0 else p * q if kind == 1 else p - q)
        return nodes[0], (nodes[-1] * nodes[0]).sum()

    leaf, loss = build()
    trace = viz.step_through(loss)
    other_leaf, other_loss = build()
    other_loss.backward()
    np.testing.assert_array_equal(leaf.grad, other_leaf.grad)
    np.testing.assert_array_equal(contributions(trace, leaf)[-1].after, leaf.grad)
    assert len(trace.steps) == len(walk([other_loss])[0])
