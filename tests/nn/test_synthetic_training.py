"""End to end: MLPs learn small synthetic problems that no linear model can solve."""

import numpy as np

from autograd import no_grad
from nn import MLP, optim
from nn.functional import cross_entropy


def two_spirals(points_per_class: int, seed: int, noise: float = 0.1):
    """Two interleaved spirals of 1.5 turns each: class 1 is class 0 rotated by 180 degrees."""
    rng = np.random.default_rng(seed)
    angle = np.sqrt(rng.uniform(size=points_per_class)) * 3 * np.pi
    arm = np.stack([angle * np.cos(angle), angle * np.sin(angle)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + noise / (3 * np.pi) * rng.normal(
        size=(2 * points_per_class, 2)
    )
    y = np.repeat([0, 1], points_per_class)
    return x.astype(np.float32), y


def noisy_xor(points: int, seed: int):
    """Label 1 when exactly one coordinate is positive; Gaussian blobs around the four corners."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(points, 2))
    x = (2 * corners - 1) + 0.35 * rng.normal(size=(points, 2))
    return x.astype(np.float32), corners[:, 0] ^ corners[:, 1]


def accuracy(model, x, y) -> float:
    model.eval()
    with no_grad():
        predictions = model(x).value.argmax(axis=1)
    model.train()
    return float((predictions == y).mean())


def fit(model, optimizer, x, y, epochs, batch_size, seed, scheduler=None):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()


def test_an_mlp_with_adam_separates_two_spirals():
    x, y = two_spirals(300, seed=0)
    x_test, y_test = two_spirals(300, seed=1)
    model = MLP(2, [64, 64], 2, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=60, eta_min=1e-3)
    assert accuracy(model, x, y) < 0.8  # not solved by the initial weights
    fit(model, optimizer, x, y, epochs=60, batch_size=50, seed=0, scheduler=scheduler)
    assert accuracy(model, x, y) >= 0.95
    assert accuracy(model, x_test, y_test) >= 0.93


def test_an_mlp_with_batchnorm_and_dropout_separates_two_spirals():
    x, y = two_spirals(300, seed=2)
    model = MLP(2, [64, 64], 2, batchnorm=True, dropout=0.05, rng=1)
    optimizer = optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-4)
    fit(model, optimizer, x, y, epochs=60, batch_size=50, seed=1)
    assert accuracy(model, x, y) >= 0.95


def test_a_tanh_mlp_with_nesterov_sgd_learns_noisy_xor():
    x, y = noisy_xor(400, seed=3)
    x_test, y_test = noisy_xor(400, seed=4)
    model = MLP(2, [16], 2, activation="tanh", rng=2)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    fit(model, optimizer, x, y, epochs=30, batch_size=32, seed=2)
    # The blobs overlap a little (sigma 0.35 around corners 2 apart): about 99% is attainable.
    assert accuracy(model, x, y) >= 0.95
    assert accuracy(model, x_test, y_test) >= 0.95
