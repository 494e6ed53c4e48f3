"""Layers, forward and backward against PyTorch with the same weights; Dropout's statistics;
containers; the MLP's structure; bad inputs."""

import math
import re

import numpy as np
import pytest

from autograd import ShapeError, TensorNode
from nn import (
    MLP,
    BatchNorm1d,
    Dropout,
    Flatten,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from nn.functional import cross_entropy

TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def random(shape, seed=0, scale=1.0, loc=0.0):
    return (loc + scale * np.random.default_rng(seed).normal(size=shape)).astype(np.float32)


def leaf(array):
    return TensorNode(np.array(array, dtype=np.float32), requires_grad=True)


def torch_leaf(torch, array):
    return torch.tensor(np.array(array, dtype=np.float32), requires_grad=True)


def backward_both(ours, theirs, upstream, torch):
    ours.backward(upstream)
    theirs.backward(torch.tensor(upstream))


# ----- Linear ------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_shape", [(5,), (2, 3), ()])
def test_linear_matches_torch_with_transposed_weights(torch, bias, batch_shape):
    layer = Linear(4, 3, bias=bias, rng=0)
    if bias:
        layer.bias.value[...] = random(3, seed=1)
    reference = torch.nn.Linear(4, 3, bias=bias)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(layer.weight.value.T))
        if bias:
            reference.bias.copy_(torch.tensor(layer.bias.value))

    x = random((*batch_shape, 4), seed=2)
    ours_x, theirs_x = leaf(x), torch_leaf(torch, x)
    ours, theirs = layer(ours_x), reference(theirs_x)
    np.testing.assert_allclose(ours.value, theirs.detach().numpy(), **TOLERANCE)

    backward_both(ours, theirs, random(ours.shape, seed=3), torch)
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), **TOLERANCE)
    np.testing.assert_allclose(layer.weight.grad, reference.weight.grad.numpy().T, **TOLERANCE)
    if bias:
        np.testing.assert_allclose(layer.bias.grad, reference.bias.grad.numpy(), **TOLERANCE)


def test_linear_weight_has_the_in_out_layout():
    layer = Linear(5, 2)
    assert layer.weight.shape == (5, 2) and layer.bias.shape == (2,)


def test_linear_accepts_plain_numpy_arrays():
    layer = Linear(3, 2, rng=0)
    x = random((4, 3))
    np.testing.assert_allclose(layer(x).value, x @ layer.weight.value, rtol=1e-6)


def test_a_wrong_feature_count_into_linear_names_the_layer_and_both_counts():
    layer = Linear(3, 2)
    with pytest.raises(ShapeError) as raised:
        layer(np.zeros((4, 5), dtype=np.float32))
    message = str(raised.value)
    assert "Linear(in_features=3, out_features=2" in message
    assert "3 features" in message and "(4, 5)" in message and "5 features" in message


def test_an_unknown_linear_init_is_refused():
    with pytest.raises(ValueError, match="'glorot', 'he'"):
        Linear(3, 2, init="orthogonal")


@pytest.mark.parametrize("size", [0, -1, 2.5, True])
def test_linear_sizes_must_be_positive_integers(size):
    with pytest.raises(ValueError, match="positive integer"):
        Linear(size, 2)


# ----- BatchNorm1d -------------------------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_matches_torch_over_training_steps_then_in_evaluation(torch, affine):
    ours = BatchNorm1d(3, momentum=0.2, affine=affine)
    theirs = torch.nn.BatchNorm1d(3, momentum=0.2, affine=affine)
    if affine:
        gamma, beta = random(3, seed=10, loc=1.0), random(3, seed=11)
        ours.weight.value[...] = gamma
        ours.bias.value[...] = beta
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(gamma))
            theirs.bias.copy_(torch.tensor(beta))

    for step in range(4):
        x = random((6, 3), seed=step, scale=2.0, loc=1.5)
        ours_x, theirs_x = leaf(x), torch_leaf(torch, x)
        ours_y, theirs_y = ours(ours_x), theirs(theirs_x)
        np.testing.assert_allclose(ours_y.value, theirs_y.detach().numpy(), **TOLERANCE)
        backward_both(ours_y, theirs_y, random(x.shape, seed=20 + step), torch)
        np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), **TOLERANCE)
        if affine:
            np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOLERANCE)
            np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), **TOLERANCE)
            ours.zero_grad()
            theirs.zero_grad()

    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), **TOLERANCE)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), **TOLERANCE)

    ours.eval()
    theirs.eval()
    x = random((5, 3), seed=99)
    ours_x, theirs_x = leaf(x), torch_leaf(torch, x)
    ours_y, theirs_y = ours(ours_x), theirs(theirs_x)
    np.testing.assert_allclose(ours_y.value, theirs_y.detach().numpy(), **TOLERANCE)
    backward_both(ours_y, theirs_y, random(x.shape, seed=98), torch)
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), **TOLERANCE)


def test_batchnorm_in_evaluation_leaves_running_statistics_alone():
    norm = BatchNorm1d(2)
    norm(random((4, 2)))
    mean, var = norm.running_mean.copy(), norm.running_var.copy()
    norm.eval()(random((4, 2), seed=1))
    np.testing.assert_array_equal(norm.running_mean, mean)
    np.testing.assert_array_equal(norm.running_var, var)


def test_batchnorm_in_evaluation_handles_a_single_example():
    norm = BatchNorm1d(2).eval()
    np.testing.assert_allclose(norm(np.array([[1.0, 2.0]])).value, [[1.0, 2.0]], rtol=1e-4)


def test_batchnorm_without_affine_has_no_parameters():
    norm = BatchNorm1d(4, affine=False)
    assert list(norm.parameters()) == []
    assert list(norm.state_dict()) == ["running_mean", "running_var"]


def test_batchnorm_refuses_the_wrong_number_of_features():
    with pytest.raises(ShapeError, match=r"\(batch, 3\), got shape \(4, 2\)"):
        BatchNorm1d(3)(np.zeros((4, 2)))


# ----- Dropout -----------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keeps_about_one_minus_p_and_scales_the_kept_values(p):
    n = 20_000
    x = random(n, loc=3.0) + 5  # no zeros in the input
    y = Dropout(p, rng=1)(TensorNode(x)).value
    kept = y != 0
    # Binomial(n, 1 - p): the kept fraction lies within 5 standard deviations of 1 - p.
    assert abs(kept.mean() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)


def test_dropout_in_evaluation_is_the_identity():
    x = leaf(random(10))
    assert Dropout(0.5).eval()(x) is x


def test_dropout_with_a_seed_is_reproducible_and_draws_new_masks_per_call():
    x = TensorNode(np.ones(100, dtype=np.float32))
    first, second = Dropout(0.5, rng=3), Dropout(0.5, rng=3)
    a, b = first(x).value, first(x).value
    np.testing.assert_array_equal(a, second(x).value)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("p", [1.2, 1.0, -0.5])
def test_dropout_refuses_a_probability_outside_zero_one(p):
    with pytest.raises(ValueError, match=re.escape(repr(p))):
        Dropout(p)


# ----- activations and Flatten -------------------------------------------------------------


@pytest.mark.parametrize(
    "ours, reference",
    [
        (ReLU(), lambda torch, x: torch.relu(x)),
        (Sigmoid(), lambda torch, x: torch.sigmoid(x)),
        (Tanh(), lambda torch, x: torch.tanh(x)),
        (Softmax(axis=1), lambda torch, x: torch.softmax(x, dim=1)),
        (Softmax(axis=0), lambda torch, x: torch.softmax(x, dim=0)),
        (LogSoftmax(axis=-1), lambda torch, x: torch.log_softmax(x, dim=-1)),
    ],
    ids=["relu", "sigmoid", "tanh", "softmax1", "softmax0", "log_softmax"],
)
def test_activation_layers_match_torch(torch, ours, reference):
    x = random((4, 5), seed=7, scale=3.0)
    ours_x, theirs_x = leaf(x), torch_leaf(torch, x)
    ours_y, theirs_y = ours(ours_x), reference(torch, theirs_x)
    np.testing.assert_allclose(ours_y.value, theirs_y.detach().numpy(), **TOLERANCE)
    backward_both(ours_y, theirs_y, random(x.shape, seed=8), torch)
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), **TOLERANCE)


def test_flatten_keeps_the_batch_axis_and_routes_gradients_back():
    x = leaf(random((2, 3, 4)))
    y = Flatten()(x)
    assert y.shape == (2, 12)
    np.testing.assert_array_equal(y.value, x.value.reshape(2, 12))
    y.sum().backward()
    assert x.grad.shape == (2, 3, 4)


# ----- Sequential --------------------------------------------------------------------------


def test_sequential_applies_its_modules_in_order():
    first, second = Linear(3, 4, rng=0), Linear(4, 2, rng=1)
    model = Sequential(first, ReLU(), second)
    x = random((5, 3))
    expected = np.maximum(x @ first.weight.value, 0) @ second.weight.value
    np.testing.assert_allclose(model(x).value, expected, rtol=1e-5)


def test_sequential_is_indexable_sized_iterable_and_sliceable():
    model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    assert len(model) == 3
    assert isinstance(model[1], ReLU) and model[-1].out_features == 2
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    head = model[:2]
    assert isinstance(head, Sequential) and head(random((1, 3))).shape == (1, 4)


# ----- MLP ---------------------------------------------------------------------------------


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_mlp_stacks_linear_activation_and_a_final_linear():
    model = MLP(4, [8, 6], 3, activation="tanh")
    assert layer_types(model) == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [model.layers[i].out_features for i in (0, 2, 4)] == [8, 6, 3]


def test_mlp_inserts_batchnorm_before_and_dropout_after_the_activation():
    model = MLP(4, [8], 3, batchnorm=True, dropout=0.3)
    assert layer_types(model) == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert model.layers[3].p == 0.3


def test_mlp_accepts_a_single_hidden_width():
    assert layer_types(MLP(4, 8, 3)) == ["Linear", "ReLU", "Linear"]


def test_mlp_defaults_to_he_for_relu_and_glorot_otherwise():
    relu = MLP(400, [300], 2, rng=0).layers[0].weight.value
    sigmoid = MLP(400, [300], 2, activation="sigmoid", rng=0).layers[0].weight.value
    assert abs(relu.std() - math.sqrt(2 / 400)) < 0.02 * math.sqrt(2 / 400)
    assert abs(sigmoid.std() - math.sqrt(2 / 700)) < 0.02 * math.sqrt(2 / 700)


def test_mlp_with_a_seed_is_reproducible():
    first, second = MLP(3, [5], 2, rng=4), MLP(3, [5], 2, rng=4)
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters()):
        np.testing.assert_array_equal(a.value, b.value, err_msg=name)


def test_mlp_matches_the_same_network_in_torch(torch):
    model = MLP(4, [6, 5], 3, batchnorm=True, rng=0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(4, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.ReLU(),
        torch.nn.Linear(6, 5),
        torch.nn.BatchNorm1d(5),
        torch.nn.ReLU(),
        torch.nn.Linear(5, 3),
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            index, kind = name.split(".")[1:]
            value = parameter.value.T if parameter.ndim == 2 else parameter.value
            getattr(reference[int(index)], kind).copy_(torch.tensor(value))

    x = random((8, 4), seed=5)
    ours, theirs = model(x), reference(torch.tensor(x))
    np.testing.assert_allclose(ours.value, theirs.detach().numpy(), **TOLERANCE)
    labels = np.arange(8) % 3
    cross_entropy(ours, labels).backward()
    torch.nn.functional.cross_entropy(theirs, torch.tensor(labels)).backward()
    for name, parameter in model.named_parameters():
        index, kind = name.split(".")[1:]
        expected = getattr(reference[int(index)], kind).grad.numpy()
        expected = expected.T if parameter.ndim == 2 else expected
        np.testing.assert_allclose(parameter.grad, expected, err_msg=name, **TOLERANCE)


def test_mlp_refuses_an_unknown_activation_listing_the_choices():
    with pytest.raises(ValueError, match=r"'gelu'.*\['relu', 'sigmoid', 'tanh'\]"):
        MLP(2, [4], 2, activation="gelu")


def test_mlp_refuses_a_bad_dropout_probability():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MLP(2, [4], 2, dropout=1.2)


def test_numpy_integers_and_floats_are_accepted_as_sizes_and_probabilities():
    model = MLP(np.int64(4), np.int64(8), np.int32(3), dropout=np.float64(0.1), rng=0)
    assert model(np.zeros((5, 4), np.float32)).shape == (5, 3)
    assert model.num_parameters() == 4 * 8 + 8 + 8 * 3 + 3
    drop = Dropout(np.float32(0.3))
    assert drop.p == pytest.approx(0.3) and type(drop.p) is float
