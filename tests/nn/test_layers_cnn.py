"""nn.CNN, the network of ``python -m nn.train --model cnn``: its layers, its sizes, its errors."""

from __future__ import annotations

import numpy as np
import pytest

import nn
from autograd import ShapeError, TensorNode
from nn import functional as F


def test_each_stage_is_convolutions_then_a_pool_and_the_head_is_an_mlp():
    model = nn.CNN(3, (32, 32), [[8, 8], [16]], [24], 10, batchnorm=True, dropout=0.1, rng=0)
    kinds = [type(layer).__name__ for layer in model.features]
    assert kinds == [
        "Conv2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
        "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten",
    ]  # fmt: skip
    convs = [layer for layer in model.features if isinstance(layer, nn.Conv2d)]
    assert all(conv.bias is None for conv in convs)  # batch norm's shift does a bias's work
    assert model.head.layers[0].in_features == 16 * 8 * 8  # 32 -> 16 -> 8
    assert model(np.zeros((2, 3, 32, 32), np.float32)).shape == (2, 10)
    assert model.first_filters().shape == (8, 3, 3, 3)


def test_without_batch_norm_the_convolutions_have_biases_and_odd_sizes_are_floored():
    model = nn.CNN(1, (15, 9), [[4], [4]], [8], 3, activation="tanh", rng=0)
    convs = [layer for layer in model.features if isinstance(layer, nn.Conv2d)]
    assert all(conv.bias is not None for conv in convs)
    assert not any(isinstance(layer, nn.BatchNorm2d) for layer in model.features)
    assert any(isinstance(layer, nn.Tanh) for layer in model.features)
    assert model.head.layers[0].in_features == 4 * 3 * 2  # 15 -> 7 -> 3, 9 -> 4 -> 2
    assert model(np.zeros((5, 1, 15, 9), np.float32)).shape == (5, 3)


def test_a_seed_gives_the_same_network_and_a_trained_one_reloads(tmp_path):
    first = nn.CNN(1, (8, 8), [[4]], [8], 10, batchnorm=True, rng=3)
    second = nn.CNN(1, (8, 8), [[4]], [8], 10, batchnorm=True, rng=3)
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters()):
        assert np.array_equal(a.value, b.value), name

    x = np.random.default_rng(0).normal(size=(6, 1, 8, 8)).astype(np.float32)
    optimizer = nn.optim.Adam(first.parameters(), lr=1e-2)
    loss = F.cross_entropy(first(TensorNode(x)), np.arange(6))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    first.save(tmp_path / "cnn.npz")
    reloaded = nn.CNN(1, (8, 8), [[4]], [8], 10, batchnorm=True, rng=9).load(tmp_path / "cnn.npz")
    first.eval()
    reloaded.eval()
    assert np.array_equal(first(x).value, reloaded(x).value)
    assert first(x).value.dtype == np.float32


def test_a_batch_of_the_wrong_shape_is_named_with_what_would_fit():
    model = nn.CNN(1, (28, 28), [[4]], [8], 10, rng=0)
    with pytest.raises(
        ShapeError, match=r"CNN expects images of shape \(batch, 1, 28, 28\).*x\[:, None\]"
    ):
        model(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ShapeError, match=r"got shape \(2, 3, 32, 32\)"):
        model(np.zeros((2, 3, 32, 32), np.float32))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(stages=[[4]] * 4, image_size=(12, 12)), "4 stages each halve the image.*at most 3"),
        (dict(stages=[]), "every stage needs at least one convolution"),
        (dict(stages=[[4], []]), "every stage needs at least one convolution"),
        (dict(activation="gelu"), "unknown activation 'gelu'"),
    ],
)
def test_bad_architectures_are_refused_naming_what_is_wrong(arguments, message):
    options = dict(in_channels=1, image_size=(28, 28), stages=[[4]], hidden=[8], out_features=10)
    options.update(arguments)
    with pytest.raises(ValueError, match=message):
        nn.CNN(**options)
