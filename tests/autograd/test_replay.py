"""Specification of autograd/replay.py: a replayed step gives exactly what the eager step gives
(the loss and every leaf's .grad, bit for bit), and every assumption it makes is guarded: it traces
again, or refuses with a ReplayError that says what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd
from autograd import (
    AnomalyError,
    GradientError,
    Op,
    SoftmaxCrossEntropy,
    TensorNode,
    detect_anomaly,
    no_grad,
    replay,
)
from autograd import functional as AF
from autograd.errors import ReplayError
from nn import MLP, Linear, ReLU, Sequential, Tanh, optim
from nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/ is not installed
from benchmarks.chains import LongChain, SmallOpChain  # noqa: E402
from benchmarks.mlp import EngineMLP, MLPProblem, ReplayMLP  # noqa: E402

RNG = np.random.default_rng(0)


def param(*shape, dtype=np.float32) -> TensorNode:
    return TensorNode(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


def data(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def eager(fn, *arrays) -> np.ndarray:
    """One eager step: what a replayed step must equal."""
    loss = fn(*[TensorNode(a) for a in arrays])
    loss.backward()
    return loss.value


def grads(leaves) -> list:
    return [None if leaf.grad is None else leaf.grad.copy() for leaf in leaves]


def zero(leaves) -> None:
    for leaf in leaves:
        leaf.zero_grad()


def assert_replays_like_eager(fn, leaves, *arrays, steps: int = 3) -> replay.Replay:
    """On the same leaves, ``steps`` times: an eager step, then a step of one Replay (the first
    two record, the others replay): equal loss and equal gradients, bit for bit."""
    step = replay.trace(fn)
    for _ in range(steps):
        assert_step_equals_eager(step, fn, leaves, *arrays)
    return step


def assert_step_equals_eager(step, fn, leaves, *arrays) -> None:
    """One call of ``step`` gives the loss and gradients of one eager step, bit for bit."""
    zero(leaves)
    expected_loss, expected = eager(fn, *arrays), grads(leaves)
    zero(leaves)
    loss = step(*arrays)
    assert loss.source is None and not loss.requires_grad
    np.testing.assert_array_equal(loss.value, expected_loss)
    assert loss.value.dtype == expected_loss.dtype
    for leaf, grad in zip(leaves, expected):
        if grad is None:
            assert leaf.grad is None
        else:
            np.testing.assert_array_equal(leaf.grad, grad)
            assert leaf.grad.dtype == grad.dtype == leaf.value.dtype


# ----- replay equals eager -----------------------------------------------------------------------


@given(units=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_small_op_chain_replays_equal_to_eager(units, seed):
    chain = SmallOpChain(units=units, seed=seed)
    x, multipliers, addends = chain.engine_leaves()
    leaves = [x, *multipliers, *addends]
    step = assert_replays_like_eager(
        lambda: chain.engine_forward(x, multipliers, addends), leaves, steps=4
    )
    assert step.traces == 2  # recorded and checked, then replayed


@given(ops=st.integers(1, 100).map(lambda n: 2 * n))
def test_long_chain_of_0d_ops_replays_equal_to_eager(ops):
    chain = LongChain(ops=ops)
    x = TensorNode(np.float32(1.0), requires_grad=True)
    c, d = TensorNode(np.asarray(chain.c)), TensorNode(np.asarray(chain.d))

    def long_chain():
        y = x
        for _ in range(ops // 2):
            y = y * c + d
        return y

    assert_replays_like_eager(long_chain, [x])
    assert chain.replay()[1] == chain.engine()[1]  # the benchmark's contender, too


@given(
    batch=st.integers(2, 6),
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4).map(tuple),
    seed=st.integers(0, 2**16),
)
def test_benchmark_mlp_replays_equal_to_eager_across_sgd_steps(batch, sizes, seed):
    problem = MLPProblem.make(batch=batch, sizes=sizes, seed=seed)
    eager_model, replay_model = EngineMLP(problem), ReplayMLP(problem)
    for _ in range(4):  # each replay must see the weights the previous update wrote
        np.testing.assert_array_equal(replay_model.step(), eager_model.step())
        for w_replay, w_eager in zip(replay_model.weights(), eager_model.weights()):
            np.testing.assert_array_equal(w_replay, w_eager)
    assert replay_model.replayed_step.traces == 2


def test_parameter_values_rebound_by_an_update_are_read_fresh():
    w = param(3, 2)
    x = data(4, 3)
    step = replay.trace(lambda x: ((x @ w).tanh()).sum())
    for _ in range(3):
        zero([w])
        expected = eager(lambda x: ((x @ w).tanh()).sum(), x)
        expected_grad = w.grad
        zero([w])
        np.testing.assert_array_equal(step(x).value, expected)
        np.testing.assert_array_equal(w.grad, expected_grad)
        w.value = w.value - 0.5 * w.grad  # a new array, as some optimisers do
    assert step.traces == 2


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_nn_sequential_mlp_and_its_optimiser_replay_equal_to_eager(optimizer):
    def make():
        model = Sequential(
            Linear(6, 8, rng=1), ReLU(), Linear(8, 5, rng=2), Tanh(), Linear(5, 3, rng=3)
        )
        if optimizer == "sgd":
            return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return model, optim.Adam(model.parameters(), lr=0.01)

    eager_model, eager_optimizer = make()
    replay_model, replay_optimizer = make()
    step = replay.trace(lambda x, y: F.cross_entropy(replay_model(x), y))
    for _ in range(5):
        x, y = data(7, 6), RNG.integers(0, 3, 7)  # new labels each step: substituted
        eager_optimizer.zero_grad()
        expected = F.cross_entropy(eager_model(TensorNode(x)), y)
        expected.backward()
        eager_optimizer.step()
        replay_optimizer.zero_grad()
        np.testing.assert_array_equal(step(x, y).value, expected.value)
        replay_optimizer.step()
        for p, q in zip(replay_model.parameters(), eager_model.parameters()):
            np.testing.assert_array_equal(p.value, q.value)
    assert step.traces == 2


@given(
    shapes=st.sampled_from(
        [((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 3), (4, 1)), ((2, 4, 3), (4, 3)), ((4, 3), ())]
    ),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_broadcasting_and_dtype_promotion_replay_equal_to_eager(shapes, dtype):
    x_shape, bias_shape = shapes
    w, bias = param(3, 3, dtype=dtype), param(*bias_shape)  # float32 bias: promoted with float64
    leaves = [w, bias]
    assert_replays_like_eager(
        lambda x: ((x @ w) * bias + bias - 2.0).relu().mean(), leaves, data(*x_shape), steps=2
    )


class SplitHalves(Op):
    """(a, b) = (x[:n], x[n:]) for n = len(x) // 2;  dL/dx = concatenate(dL/da, dL/db)"""

    @staticmethod
    def forward(context, x):
        n = len(x) // 2
        return x[:n].copy(), x[n:].copy()

    @staticmethod
    def backward(context, grad_a, grad_b):
        return np.concatenate([grad_a, grad_b])


@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_ops_with_several_outputs_replay_equal_to_eager(use):
    w = param(6)

    def fn(x):
        a, b = SplitHalves.do_forward(x * w)
        return {"both": (a * b).sum(), "first": a.exp().sum(), "second": (b * b).sum()}[use]

    assert_replays_like_eager(fn, [w], data(6))


def test_a_leaf_used_twice_and_leaves_not_reached_replay_equal_to_eager():
    w, v, unused, dead_end = param(3), param(3), param(3), param(3)
    unused.grad = np.ones(3, dtype=np.float32)  # untouched, in eager mode and in replay

    def fn(x):
        _ = dead_end * x  # recorded, but its result does not reach the loss
        return (w * w * x + w * v).sum()

    assert_replays_like_eager(fn, [w, v, dead_end], data(3))
    assert dead_end.grad is None
    np.testing.assert_array_equal(unused.grad, np.ones(3))


def test_gradients_accumulate_into_new_unshared_arrays_as_backward_does():
    a, b = param(3), param(3)
    step = replay.trace(lambda: (a + b).sum())  # Add hands one gradient array to both inputs
    step()
    first = a.grad
    step()  # accumulates: a new array, the one handed out before is unchanged
    np.testing.assert_array_equal(a.grad, 2 * np.ones(3))
    np.testing.assert_array_equal(first, np.ones(3))
    assert not np.shares_memory(a.grad, b.grad)
    assert a.grad.base is None and b.grad.base is None
    a.grad *= 0  # a .grad may be changed in place
    np.testing.assert_array_equal(b.grad, 2 * np.ones(3))


def test_labels_and_indices_that_are_arguments_are_replaced_on_replay():
    w = param(5, 4)

    def fn(x, labels, rows):
        logits = x @ w
        return SoftmaxCrossEntropy.do_forward(logits[rows], labels=labels)

    step = assert_replays_like_eager(fn, [w], data(6, 5), np.array([0, 3, 1]), np.array([5, 0, 2]))
    for labels, rows in [([2, 2, 1], [1, 1, 4]), ([3, 0, 0], [0, 2, 5])]:
        labels, rows, x = np.array(labels), np.array(rows), data(6, 5)
        zero([w])
        expected, expected_grad = eager(fn, x, labels, rows), w.grad
        zero([w])
        np.testing.assert_array_equal(step(x, labels, rows).value, expected)
        np.testing.assert_array_equal(w.grad, expected_grad)
    assert step.traces == 2


def test_an_argument_wrapped_again_inside_fn_is_still_that_argument():
    w = param(3, 2)
    fn = lambda x, y: F.mse_loss(x @ w, y.value)  # noqa: E731  (a TensorNode of y's array)
    step = assert_replays_like_eager(fn, [w], data(4, 3), data(4, 2))
    zero([w])
    x, y = data(4, 3), data(4, 2)
    expected, expected_grad = eager(fn, x, y), w.grad
    zero([w])
    np.testing.assert_array_equal(step(x, y).value, expected)
    np.testing.assert_array_equal(w.grad, expected_grad)


def test_batch_norm_without_running_statistics_replays_equal_to_eager():
    w, gamma, beta = param(3, 4), param(4), param(4)
    fn = lambda x: AF.batch_norm(x @ w, gamma, beta).tanh().sum()  # noqa: E731
    assert_replays_like_eager(fn, [w, gamma, beta], data(5, 3))


def test_a_replayed_step_builds_no_graph(monkeypatch):
    w = param(3)
    step = replay.trace(lambda x: (x * w).relu().sum())
    step(data(3)), step(data(3))  # recorded, checked

    def refuse(*args, **kwargs):
        raise AssertionError("replay built a graph node")

    monkeypatch.setattr(Op, "do_forward", classmethod(refuse))
    step(data(3))  # no op's do_forward: only forward and backward on arrays
    with pytest.raises(AssertionError, match="graph node"):
        (w * 2).sum()


def test_it_works_as_a_decorator_and_python_numbers_are_fixed_at_trace_time():
    w = param(3)
    scale = 2.0

    @replay.trace
    def step(x):
        return (x * w * scale).sum()

    x = np.ones(3, dtype=np.float32)
    step(x), step(x)  # recorded, and checked
    scale = 3.0  # Python is not run on replay: the number stays 2.0, as with jax.jit ...
    zero([w])
    step(x)
    np.testing.assert_array_equal(w.grad, [2.0, 2.0, 2.0])
    step.reset()  # ... until it is recorded again
    zero([w])
    step(x)
    np.testing.assert_array_equal(w.grad, [3.0, 3.0, 3.0])
    assert step.traces == 3


# ----- guards: trace again -----------------------------------------------------------------------


def test_arguments_of_new_shapes_or_dtypes_are_traced_again_one_program_each():
    w = param(3, 2)
    fn = lambda x: (x @ w).sum()  # noqa: E731
    step = assert_replays_like_eager(fn, [w], data(4, 3))
    for x in (data(5, 3), data(5, 3).astype(np.float64), data(4, 3)):
        zero([w])
        expected, expected_grad = eager(fn, x), w.grad
        zero([w])
        np.testing.assert_array_equal(step(x).value, expected)
        np.testing.assert_array_equal(w.grad, expected_grad)
    assert step.traces == 4  # (4, 3) float32 twice, then replayed; (5, 3) float32 and float64
    assert len(step.programs) == 3


@pytest.mark.parametrize("change", ["shape", "dtype", "frozen", "unfrozen"])
def test_a_leaf_that_changed_is_recorded_again(change):
    w, v = param(3, 2), param(2)
    v.requires_grad = change != "unfrozen"
    fn = lambda x: ((x @ w) * v).sum()  # noqa: E731
    step = assert_replays_like_eager(fn, [w, v], data(4, 3))
    if change == "shape":
        w.value = RNG.standard_normal((3, 1)).astype(np.float32)  # broadcast against v now
    elif change == "dtype":
        w.value = w.value.astype(np.float64)
    else:
        v.requires_grad = change == "unfrozen"
    x = data(4, 3)
    for _ in range(3):  # recorded, checked, replayed
        zero([w, v])
        expected, expected_grads = eager(fn, x), grads([w, v])
        zero([w, v])
        np.testing.assert_array_equal(step(x).value, expected)
        for leaf, grad in zip([w, v], expected_grads):
            assert (leaf.grad is None) == (grad is None)
            if grad is not None:
                np.testing.assert_array_equal(leaf.grad, grad)
                assert leaf.grad.dtype == grad.dtype
    assert step.traces == 4


# ----- guards: refuse ----------------------------------------------------------------------------


def assert_refused_and_unchanged(fn, leaves, *arrays, match: str) -> None:
    """A refused trace raises before backward: no gradient changed, no leaf left read-only."""
    for leaf in leaves:
        leaf.grad = np.full_like(leaf.value, 7.0)
    with pytest.raises(ReplayError, match=match):
        replay.trace(fn)(*arrays)
    for leaf in leaves:
        np.testing.assert_array_equal(leaf.grad, np.full_like(leaf.value, 7.0))
        assert leaf.value.flags.writeable  # the traced graph was freed
    zero(leaves)


def test_a_random_constant_made_inside_fn_is_refused():
    w = param(4, 3)
    fn = lambda x: (x @ w * TensorNode(RNG.random((2, 3)) > 0.5)).sum()  # noqa: E731
    assert_refused_and_unchanged(fn, [w], data(2, 4), match="made inside fn.*argument")


def test_dropout_in_training_is_refused_and_allowed_in_evaluation():
    model = MLP(4, [5], 2, dropout=0.5, rng=0)
    fn = lambda x, y: F.cross_entropy(model(x), y)  # noqa: E731
    x, y = data(3, 4), np.array([0, 1, 1])
    assert_refused_and_unchanged(fn, list(model.parameters()), x, y, match="dropout mask")
    model.eval()
    assert_replays_like_eager(fn, list(model.parameters()), x, y)


def test_ops_on_arguments_alone_are_recorded_and_rerun():
    w = param(6, 2)
    fn = lambda x: (x.reshape(2, 6) @ w).sum()  # noqa: E731  (x needs no grad: recorded all the same)
    step = assert_replays_like_eager(fn, [w], data(3, 4))
    assert_step_equals_eager(step, fn, [w], data(3, 4))
    assert step.traces == 2


def test_labels_or_indices_computed_inside_fn_are_refused():
    w = param(5, 3)
    fn = lambda x, y: F.cross_entropy(x @ w, y.value[::-1].copy())  # noqa: E731
    assert_refused_and_unchanged(fn, [w], data(4, 5), np.array([0, 1, 2, 0]), match="labels=")
    fn = lambda x, y: F.nll_loss((x @ w).log_softmax(), y)  # noqa: E731  (indices made inside)
    assert_refused_and_unchanged(fn, [w], data(4, 5), np.array([0, 1, 2, 0]), match="index=")


def test_an_array_passed_as_two_arguments_and_used_as_labels_is_refused():
    w = param(5, 3)
    fn = lambda x, y, z: F.cross_entropy(x @ w, y.value)  # noqa: E731
    y = np.array([0, 1, 2, 0])
    assert_refused_and_unchanged(fn, [w], data(4, 5), y, y, match="two arguments")


def test_batchnorm1d_with_running_statistics_is_refused_and_they_are_not_replayed():
    model = MLP(4, [5], 2, batchnorm=True, rng=0)
    fn = lambda x, y: F.cross_entropy(model(x), y)  # noqa: E731
    assert_refused_and_unchanged(
        fn, list(model.parameters()), data(3, 4), np.array([0, 1, 1]), match="BatchNorm1d"
    )


def test_a_node_recorded_before_the_step_is_refused():
    w = param(3)
    h = w * 2.0  # recorded outside fn: eager mode would not run it again
    fn = lambda x: (h * x).sum()  # noqa: E731
    with pytest.raises(ReplayError, match="Mul was recorded before the step"):
        replay.trace(fn)(data(3))
    assert w.grad is None


@pytest.mark.parametrize(
    "through",
    ["control flow", "float()", "a Python number changed"],
)
def test_a_step_whose_first_two_calls_differ_is_refused(through):
    w = TensorNode(np.float32(0.7), requires_grad=True)
    settings = {"scale": 2.0}

    def fn(x):
        if through == "control flow":
            return (x * w).exp() if float(x.value) > 0 else (x * w).tanh()
        if through == "float()":
            return x * w * float(x.value)
        return x * w * settings["scale"]

    step = replay.trace(fn)
    step(np.asarray(0.5, dtype=np.float32))
    settings["scale"] = 3.0
    w.grad = np.float32(7.0)
    with pytest.raises(ReplayError, match="first two calls recorded different steps"):
        step(np.asarray(-0.25, dtype=np.float32))
    assert w.grad == 7.0  # refused before backward
    assert step.traces == 1


def test_outside_grad_mode_a_step_is_refused():
    w = param(3)
    step = replay.trace(lambda x: (x * w).sum())
    with no_grad(), pytest.raises(GradientError, match="no_grad"):
        step(data(3))
    assert step.traces == 0 and w.grad is None


def test_in_anomaly_mode_every_step_runs_eagerly_and_names_the_op():
    w = TensorNode(np.array([0.5, 1.0, 2.0], dtype=np.float32), requires_grad=True)
    fn = lambda x: (x * w).log().sum()  # noqa: E731
    step = replay.trace(fn)
    with detect_anomaly(), np.errstate(divide="ignore"):
        x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
        np.testing.assert_array_equal(step(x).value, eager(fn, x))
        with pytest.raises(AnomalyError, match="Log"):
            step(np.array([1.0, 0.0, 3.0], dtype=np.float32))  # log(0)
    assert step.traces == 0


def test_arguments_must_be_arrays_and_fn_must_return_a_node():
    w = param(3)
    with pytest.raises(TypeError, match="argument 0 must be a NumPy array"):
        replay.trace(lambda x: (x * w).sum())([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="node.value"):
        replay.trace(lambda x: (x * w).sum())(TensorNode(data(3)))
    with pytest.raises(TypeError, match="must return a TensorNode"):
        replay.trace(lambda x: float((x * w).sum().value))(data(3))


def test_a_non_scalar_loss_is_the_eager_error():
    w = param(3)
    with pytest.raises(GradientError, match="shape"):
        replay.trace(lambda x: x * w)(data(3))


def test_replay_is_exported_as_a_module_only():
    assert autograd.replay is replay
    assert not hasattr(autograd, "trace") and not hasattr(autograd, "Replay")


# ----- broadcasts that are not recorded ----------------------------------------------------------


def test_arguments_broadcast_against_parameters_are_replaced_on_replay():
    w = param(4, 3)
    fn = lambda x: (x * w).tanh().sum()  # noqa: E731  (x (4, 1): an Expand not recorded)
    batches = data(12, 1)
    step = assert_replays_like_eager(fn, [w], batches[:4])  # a view, as batches are
    for x in (batches[4:8], batches[8:]):
        assert_step_equals_eager(step, fn, [w], x)
    assert step.traces == 2


@pytest.mark.parametrize("shape", [(3,), ()])
def test_constants_from_outside_broadcast_in_fn_are_read_fresh(shape):
    w = param(2, 3)
    scale = TensorNode(np.full(shape, 0.5, dtype=np.float32))  # needs no grad: Expand not recorded
    fn = lambda x: ((x @ w) * scale).sum()  # noqa: E731
    step = assert_replays_like_eager(fn, [w], data(4, 2))
    for update in ("in place", "rebound"):
        if update == "in place":
            scale.value[...] = 2.0
        else:
            scale.value = np.full(shape, -3.0, dtype=np.float32)
        assert_step_equals_eager(step, fn, [w], data(4, 2))
    assert step.traces == 2


def test_a_view_of_an_argument_made_by_an_op_is_rerun():
    w = param(4, 2)
    fn = lambda x: (x.T @ w).sum()  # noqa: E731  (a transpose of an argument: rerun)
    step = assert_replays_like_eager(fn, [w], data(4, 3))
    assert_step_equals_eager(step, fn, [w], data(4, 3))


def test_a_view_of_an_argument_made_by_numpy_is_refused():
    w = param(4, 2)
    fn = lambda x: (TensorNode(x.value.T) @ w).sum()  # noqa: E731  (not an op: fixed)
    assert_refused_and_unchanged(fn, [w], data(4, 3), match="through .value or NumPy")


# ----- values that no op needed a gradient for are rerun (issue 15) -----------------------------


def test_a_masked_mean_divides_by_the_new_masks_sum_on_replay():
    model = Linear(4, 1, rng=0)
    fn = lambda x, y, m: (((model(x).reshape(-1) - y) ** 2) * m).sum() / m.sum()  # noqa: E731
    x, y = data(6, 4), data(6)
    step = replay.trace(fn)
    leaves = list(model.parameters())
    for m in [np.ones(6, np.float32)] * 2 + [np.array([1, 1, 0, 0, 0, 1], np.float32)] * 2:
        assert_step_equals_eager(step, fn, leaves, x, y, m)
    assert step.traces == 2


@pytest.mark.parametrize("form", ["times the reciprocal", "divided", "in no_grad"])
def test_a_temperature_leaf_is_read_fresh_through_every_op(form):
    w = param(3, 4)
    temp = TensorNode(np.float32(2.0))  # no grad: the ops on it alone need no gradient

    def fn(x):
        logits = x @ w
        if form == "times the reciprocal":
            return (logits * (1 / temp)).tanh().sum()
        if form == "divided":
            return (logits / temp).tanh().sum()
        with no_grad():
            scale = 1 / temp
        return (logits * scale).tanh().sum()

    step = assert_replays_like_eager(fn, [w], data(2, 3))
    for value in (0.5, 4.0):
        temp.value = np.float32(value)
        assert_step_equals_eager(step, fn, [w], data(2, 3))
    assert step.traces == 2


def test_a_gradient_penalty_through_a_scalar_relu_is_refused():
    w = param(3)

    def fn(x):
        y = (x * w).sum().relu()  # 0-d: its mask (y > 0) is one number, from a comparison
        (g,) = autograd.grad(y, [w], create_graph=True)
        return y + (g * g).sum()

    assert_refused_and_unchanged(fn, [w], data(3), match="comparison")


def test_a_scalar_mask_computed_in_fn_is_refused():
    w = param(3)
    fn = lambda x: (x * w).sum() * (x.sum() > 0)  # noqa: E731
    assert_refused_and_unchanged(fn, [w], data(3), match="comparison")


def test_a_frozen_layer_is_rerun_with_its_current_weights():
    frozen, head = Linear(4, 3, rng=0), Linear(3, 2, rng=1)
    for p in frozen.parameters():
        p.requires_grad = False
    fn = lambda x, y: F.cross_entropy(head(frozen(x).tanh()), y)  # noqa: E731
    x, y = data(5, 4), np.array([0, 1, 1, 0, 1])
    leaves = list(head.parameters())
    step = assert_replays_like_eager(fn, leaves, x, y)
    frozen.weight.value = frozen.weight.value * 2
    assert_step_equals_eager(step, fn, leaves, x, y)
    assert step.traces == 2


def test_batchnorm_in_evaluation_mode_is_refused_for_its_statistics_not_training():
    model = MLP(4, [5], 2, batchnorm=True, rng=0)
    model.eval()
    fn = lambda x, y: F.cross_entropy(model(x), y)  # noqa: E731
    with pytest.raises(ReplayError) as refused:
        replay.trace(fn)(data(3, 4), np.array([0, 1, 1]))
    assert "running statistics" in str(refused.value)
    assert "updates in place in training;" not in str(refused.value)


def test_replay_error_is_exported_from_autograd():
    assert autograd.ReplayError is ReplayError


def test_a_traced_step_inside_another_is_refused_and_changes_no_gradient():
    w = param(3)
    inner = replay.trace(lambda x: (x * w).sum())
    outer = replay.trace(lambda x: inner(x.value) * (x * w).sum())
    w.grad = np.full(3, 7.0, np.float32)
    with pytest.raises(ReplayError, match="inside another traced step"):
        outer(data(3))
    np.testing.assert_array_equal(w.grad, np.full(3, 7.0, np.float32))


def test_retain_grad_on_an_intermediate_is_refused():
    w = param(3)

    def fn(x):
        h = (x * w).retain_grad()
        return h.tanh().sum()

    assert_refused_and_unchanged(fn, [w], data(3), match="retain_grad")


# ----- random programs: equal to eager, or refused -----------------------------------------------

UNARY = [
    "tanh", "exp_small", "relu", "sum0", "mean0", "square", "masked", "leaf_scale", "compared",
    "compared0",
]  # fmt: skip


@st.composite
def programs(draw):
    return draw(st.lists(st.sampled_from(UNARY), min_size=1, max_size=6))


@given(programs(), st.integers(0, 2**16))
def test_random_programs_replay_equal_to_eager_or_are_refused(program, seed):
    rng = np.random.default_rng(seed)
    w = TensorNode(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    scale = TensorNode(np.float32(1.5))  # a leaf that needs no grad, changed between calls

    def fn(x, m):
        h = x * w
        for name in program:
            if name == "tanh":
                h = h.tanh()
            elif name == "exp_small":
                h = (h * 0.1).exp()
            elif name == "relu":
                h = h.relu()
            elif name == "sum0":
                h = h + h.sum() / m.sum()  # a 0-d reduction of an argument
            elif name == "mean0":
                h = h * (x.mean() + 1)  # a 0-d reduction needing no gradient
            elif name == "square":
                h = h * h
            elif name == "masked":
                h = h * m
            elif name == "compared":
                h = h * (x > 0)  # a mask that is not an op: refused
            elif name == "compared0":
                h = h * (x.sum() > 0)  # and one of one number
            else:
                h = h * (1 / scale)
        return h.sum()

    step = replay.trace(fn)
    x = rng.standard_normal(3).astype(np.float32)
    for call in range(4):  # the first two calls (recorded) agree; later ones change everything
        if call >= 2:
            x = rng.standard_normal(3).astype(np.float32)
        m = np.float32([1, 2, 1]) if call < 2 else rng.integers(0, 3, 3).astype(np.float32) + 1
        scale.value = np.float32(1.5 if call < 2 else rng.uniform(0.5, 2.0))
        w.zero_grad()
        expected_loss = eager(fn, x, m)
        expected_grad = None if w.grad is None else w.grad.copy()
        w.zero_grad()
        try:
            loss = step(x, m)
        except ReplayError:
            return
        np.testing.assert_array_equal(loss.value, expected_loss)
        np.testing.assert_array_equal(w.grad, expected_grad)
