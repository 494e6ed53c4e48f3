"""Initialisers: the variance formulas, the layout's fans, seeding, and bad arguments."""

import math

import numpy as np
import pytest

from nn import Linear, Parameter, init

SHAPE = (400, 300)  # 120,000 samples: the sample std is within ~0.5% of the true one
FAN_IN, FAN_OUT = SHAPE


@pytest.mark.parametrize(
    "initialiser, expected_std",
    [
        (init.xavier_uniform_, math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (init.xavier_normal_, math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (init.kaiming_uniform_, math.sqrt(2 / FAN_IN)),
        (init.kaiming_normal_, math.sqrt(2 / FAN_IN)),
    ],
)
def test_initialisers_give_the_standard_deviation_of_their_formula(initialiser, expected_std):
    weights = initialiser(np.empty(SHAPE, dtype=np.float32), rng=0)
    assert abs(weights.std() - expected_std) < 0.02 * expected_std
    assert abs(weights.mean()) < 0.02 * expected_std


@pytest.mark.parametrize(
    "initialiser, bound",
    [
        (init.xavier_uniform_, math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (init.kaiming_uniform_, math.sqrt(6 / FAN_IN)),
    ],
)
def test_uniform_initialisers_stay_within_their_bound_and_reach_it(initialiser, bound):
    weights = initialiser(np.empty(SHAPE), rng=0)
    assert np.abs(weights).max() <= bound
    assert np.abs(weights).max() > 0.99 * bound


def test_kaiming_fan_out_mode_uses_the_second_axis():
    weights = init.kaiming_normal_(np.empty(SHAPE), mode="fan_out", rng=0)
    expected_std = math.sqrt(2 / FAN_OUT)
    assert abs(weights.std() - expected_std) < 0.02 * expected_std


def test_gain_scales_the_standard_deviation():
    plain = init.xavier_normal_(np.empty(SHAPE), rng=3)
    scaled = init.xavier_normal_(np.empty(SHAPE), gain=2.0, rng=3)
    np.testing.assert_allclose(scaled, 2 * plain)


def test_fans_follow_the_in_out_layout():
    assert init.fans((784, 128)) == (784, 128)


def test_initialisers_fill_a_parameter_in_place_and_return_it():
    parameter = Parameter(np.zeros((20, 10)))
    array = parameter.value
    assert init.kaiming_uniform_(parameter, rng=0) is parameter
    assert parameter.value is array and parameter.dtype == np.float32
    assert np.abs(array).max() > 0


def test_zeros_fills_with_zeros():
    parameter = Parameter(np.ones(5))
    init.zeros_(parameter)
    np.testing.assert_array_equal(parameter.value, 0)


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not():
    first = init.xavier_uniform_(np.empty((5, 4)), rng=7)
    again = init.xavier_uniform_(np.empty((5, 4)), rng=7)
    other = init.xavier_uniform_(np.empty((5, 4)), rng=8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_generator_is_used_and_advanced():
    rng = np.random.default_rng(0)
    first = init.xavier_normal_(np.empty((3, 3)), rng=rng)
    second = init.xavier_normal_(np.empty((3, 3)), rng=rng)
    assert not np.array_equal(first, second)
    reference = np.random.default_rng(0).normal(0, math.sqrt(2 / 6), size=(3, 3))
    np.testing.assert_allclose(first, reference)


def test_manual_seed_makes_unseeded_calls_reproducible():
    init.manual_seed(123)
    first = Linear(6, 4).weight.value.copy()
    init.manual_seed(123)
    second = Linear(6, 4).weight.value.copy()
    np.testing.assert_array_equal(first, second)


def test_linear_uses_glorot_or_he_and_zero_bias():
    glorot = Linear(400, 300, init="glorot", rng=0)
    he = Linear(400, 300, init="he", rng=0)
    assert abs(glorot.weight.value.std() - math.sqrt(2 / 700)) < 0.02 * math.sqrt(2 / 700)
    assert abs(he.weight.value.std() - math.sqrt(2 / 400)) < 0.02 * math.sqrt(2 / 400)
    np.testing.assert_array_equal(glorot.bias.value, 0)


def test_fans_need_a_two_dimensional_weight():
    with pytest.raises(ValueError, match=r"2-D weights .* got shape \(5,\)"):
        init.xavier_uniform_(np.empty(5))


def test_an_unknown_kaiming_mode_is_refused():
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(np.empty((3, 3)), mode="fan_avg")


@pytest.mark.parametrize("target", [[[0.0, 0.0]], np.zeros((2, 2), dtype=np.int64)])
def test_only_floating_point_arrays_can_be_filled(target):
    with pytest.raises(TypeError, match="floating-point"):
        init.zeros_(target)


def test_a_bad_rng_is_refused():
    with pytest.raises(TypeError, match="Generator"):
        init.xavier_uniform_(np.empty((2, 2)), rng="seed")


def test_manual_seed_seeds_initialisation_dropout_shuffling_and_augmentation():
    import nn
    from autograd import TensorNode
    from nn.data import DataLoader, augment

    def draw():
        nn.manual_seed(7)
        model = nn.MLP(4, [8], 3, dropout=0.5)
        out = model(TensorNode(np.ones((6, 4), np.float32))).value
        order = [yb.tolist() for _, yb in DataLoader(np.zeros((10, 1)), np.arange(10), 3, True)]
        shifted = augment(np.random.default_rng(0).random((2, 28, 28), np.float32), "fashion-mnist")
        return [p.value.copy() for p in model.parameters()], out, order, shifted

    first, second = draw(), draw()
    for a, b in zip(first[0], second[0], strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]
    np.testing.assert_array_equal(first[3], second[3])


def test_the_data_loader_takes_its_randomness_as_rng_like_everything_else():
    from nn.data import DataLoader

    x, y = np.zeros((10, 1)), np.arange(10)
    orders = [[yb.tolist() for _, yb in DataLoader(x, y, 4, shuffle=True, rng=3)] for _ in "ab"]
    assert orders[0] == orders[1] and orders[0] != [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    old_name = [yb.tolist() for _, yb in DataLoader(x, y, 4, shuffle=True, seed=3)]
    assert old_name == orders[0]
