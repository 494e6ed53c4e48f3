"""Specification of the convolutional layers of nn/layers.py: Conv2d, MaxPool2d, AvgPool2d and
BatchNorm2d, against PyTorch's layers with the same weights; their initialisation, errors, and a
CNN training step replayed by ``autograd.replay`` bit for bit equal to eager mode."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from autograd import ShapeError, TensorNode, replay
from nn import functional as F
from nn import optim


def _torch():
    return pytest.importorskip("torch")


def _images(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


# ----- Conv2d ----------------------------------------------------------------------------------


@settings(max_examples=10)
@given(
    groups=st.sampled_from([1, 2]),
    kernel_size=st.sampled_from([1, 3, (2, 3)]),
    stride=st.sampled_from([1, 2]),
    padding=st.sampled_from([0, 1, "valid"]),
    bias=st.booleans(),
)
def test_conv2d_layer_matches_torch_with_the_same_weights(
    groups, kernel_size, stride, padding, bias
):
    torch = _torch()
    ours = nn.Conv2d(4, 6, kernel_size, stride, padding, groups=groups, bias=bias, rng=0)
    theirs = torch.nn.Conv2d(4, 6, kernel_size, stride, padding, groups=groups, bias=bias)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.value))
        if bias:
            theirs.bias.copy_(torch.tensor(ours.bias.value))
    x = _images(2, 4, 7, 6)
    y = ours(x)
    expected = theirs(torch.tensor(x))
    np.testing.assert_allclose(y.value, expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert y.dtype == ours.weight.grad.dtype == np.float32


def test_conv2d_initialisation_is_pytorchs_uniform_within_one_over_sqrt_fan_in():
    conv = nn.Conv2d(8, 64, 3, groups=2, rng=0)
    bound = 1 / math.sqrt(8 // 2 * 3 * 3)
    for values in (conv.weight.value, conv.bias.value):
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    # U(-a, a) has standard deviation a / sqrt(3)
    np.testing.assert_allclose(conv.weight.value.std(), bound / math.sqrt(3), rtol=0.05)
    assert conv.weight.shape == (64, 4, 3, 3) and conv.weight.dtype == np.float32


def test_conv2d_with_the_same_seed_starts_with_the_same_weights():
    first, second = nn.Conv2d(3, 4, 3, rng=7), nn.Conv2d(3, 4, 3, rng=7)
    np.testing.assert_array_equal(first.weight.value, second.weight.value)
    np.testing.assert_array_equal(first.bias.value, second.bias.value)
    assert not np.array_equal(first.weight.value, nn.Conv2d(3, 4, 3, rng=8).weight.value)


def test_conv2d_parameters_and_repr():
    conv = nn.Conv2d(3, 100, 3, padding="same")
    assert conv.num_parameters() == 3 * 100 * 9 + 100
    assert repr(conv).startswith("Conv2d(3, 100, kernel_size=(3, 3), padding='same')")
    assert nn.Conv2d(3, 4, 3, bias=False).bias is None
    assert [name for name, _ in conv.named_parameters()] == ["weight", "bias"]


def test_conv2d_layer_errors_name_the_layer_the_shapes_and_what_would_fit():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    with pytest.raises(
        ShapeError,
        match=r"Conv2d\(3, 8, .*\) expects images of shape \(batch, "
        r"3, height, width\), got shape \(3, 28, 28\).* x\[None\]",
    ):
        conv(np.zeros((3, 28, 28), dtype=np.float32))
    with pytest.raises(
        ShapeError, match=r"expects images of shape \(batch, 3, .* \(2, 1, 28, 28\)"
    ):
        conv(np.zeros((2, 1, 28, 28), dtype=np.float32))
    with pytest.raises(
        ShapeError, match=r"kernel \(5, 5\) .* larger than the padded image \(3, 3\)"
    ):
        nn.Conv2d(1, 2, 5)(np.zeros((1, 1, 3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r'padding="same" needs stride 1'):
        nn.Conv2d(1, 2, 3, stride=2, padding="same")
    with pytest.raises(
        ValueError,
        match=r"in_channels \(3\) and out_channels \(4\) must both be "
        r"multiples of groups \(2\)",
    ):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size must be an int >= 1 or a pair"):
        nn.Conv2d(3, 4, 0)


# ----- pooling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("arguments", [(2,), (3, 2, 1), ((2, 3), (1, 2), (1, 0))])
def test_pooling_layers_match_torch(layer, arguments):
    torch = _torch()
    x = _images(2, 3, 7, 8)
    tx = torch.tensor(x, requires_grad=True)
    node = TensorNode(x, requires_grad=True)
    y = getattr(nn, layer)(*arguments)(node)
    expected = getattr(torch.nn, layer)(*arguments)(tx)
    np.testing.assert_allclose(y.value, expected.detach().numpy(), rtol=1e-6)
    y.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(node.grad, tx.grad.numpy(), rtol=1e-6)


def test_pooling_layers_have_no_parameters_and_print_their_sizes():
    assert nn.MaxPool2d(2).num_parameters() == 0
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2))"
    assert (
        repr(nn.AvgPool2d(3, 1, 1))
        == "AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )
    with pytest.raises(ValueError, match=r"MaxPool2d: padding \(2, 2\) must be at most half"):
        nn.MaxPool2d(3, padding=2)


# ----- BatchNorm2d -----------------------------------------------------------------------------


def test_batchnorm2d_matches_torch_in_training_and_evaluation_with_running_statistics():
    torch = _torch()
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2), torch.nn.BatchNorm2d(3, momentum=0.2)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        gamma, beta = rng.uniform(0.5, 2, 3), rng.normal(size=3)
        ours.weight.value[...], ours.bias.value[...] = gamma, beta
        theirs.weight.copy_(torch.tensor(gamma)), theirs.bias.copy_(torch.tensor(beta))
    for step in range(3):
        x = _images(4, 3, 5, 6, seed=step) * 2 + step
        node, tx = TensorNode(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, expected = ours(node), theirs(tx)
        weights = rng.normal(size=y.shape).astype(np.float32)
        (y * weights).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(y.value, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(node.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4)
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-5)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)
        ours.zero_grad(), theirs.zero_grad()
    ours.eval(), theirs.eval()
    x = _images(1, 3, 4, 4, seed=9)
    node, tx = TensorNode(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, expected = ours(node), theirs(tx)
    y.sum().backward(), expected.sum().backward()
    np.testing.assert_allclose(y.value, expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(node.grad, tx.grad.numpy(), rtol=1e-5)
    assert y.dtype == np.float32


def test_batchnorm2d_keeps_one_statistic_per_channel_in_its_state_dict():
    norm = nn.BatchNorm2d(5)
    state = norm.state_dict()
    assert {key: value.shape for key, value in state.items()} == {
        "weight": (5,),
        "bias": (5,),
        "running_mean": (5,),
        "running_var": (5,),
    }


def test_batchnorm2d_errors_name_the_layer_and_the_expected_shape():
    with pytest.raises(
        ShapeError,
        match=r"BatchNorm2d\(4, .*\) expects inputs of shape \(batch, "
        r"4, height, width\), got shape \(2, 4\)",
    ):
        nn.BatchNorm2d(4)(np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(ShapeError, match=r"\(batch, 4, height, width\), got shape \(2, 3, 5, 5\)"):
        nn.BatchNorm2d(4)(np.zeros((2, 3, 5, 5), dtype=np.float32))


# ----- a CNN -----------------------------------------------------------------------------------


def _cnn(seed: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=seed),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, rng=seed + 1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 2 * 2, 10, rng=seed + 2),
    )


def test_a_cnn_training_step_replays_bit_for_bit_equal_to_eager_mode():
    eager_model, replay_model = _cnn(0), _cnn(0)
    eager_optimizer = optim.SGD(eager_model.parameters(), lr=0.1, momentum=0.9)
    replay_optimizer = optim.SGD(replay_model.parameters(), lr=0.1, momentum=0.9)
    step = replay.trace(lambda x, y: F.cross_entropy(replay_model(x), y))
    rng = np.random.default_rng(0)
    for _ in range(4):
        x, y = rng.normal(size=(6, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 6)
        eager_optimizer.zero_grad()
        expected = F.cross_entropy(eager_model(TensorNode(x)), y)
        expected.backward()
        replay_optimizer.zero_grad()
        np.testing.assert_array_equal(step(x, y).value, expected.value)
        for p, q in zip(replay_model.parameters(), eager_model.parameters(), strict=True):
            np.testing.assert_array_equal(p.grad, q.grad)
        eager_optimizer.step()
        replay_optimizer.step()
    assert step.traces == 2


def test_a_cnn_with_batchnorm2d_learns_a_simple_task():
    """Bright top half against bright bottom half: a few SGD steps separate them."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 32)
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32) * 0.3
    x[labels == 0, :, :4] += 1.0
    x[labels == 1, :, 4:] += 1.0
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 2, rng=1),
    )
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
    model.eval()
    accuracy = (model(x).value.argmax(axis=1) == labels).mean()
    assert loss.value < 0.3 and accuracy == 1.0
