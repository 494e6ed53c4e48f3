"""Specification of autograd/ops/normalization.py: BatchNorm over axis 0.

Training uses the batch statistics and an analytic backward, and updates running statistics in
place (momentum, unbiased variance); evaluation uses the running statistics.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autograd import BatchNorm, ShapeError, TensorNode
from autograd.functional import batch_norm
from autograd.testing import arrays, check_gradients, shapes


@st.composite
def batch_and_parameters(draw, min_rows: int = 2):
    """x of shape (n, *features) with gamma and beta of shape features."""
    features = draw(shapes(min_dims=1, max_dims=2), label="features")
    rows = draw(st.integers(min_rows, 5), label="rows")
    x = draw(arrays((rows, *features)), label="x")
    gamma = draw(arrays(features, min_value=0.5, max_value=2.0), label="gamma")
    beta = draw(arrays(features), label="beta")
    return x, gamma, beta


@given(batch_and_parameters())
def test_training_gradients_match_central_differences(x_gamma_beta):
    check_gradients(lambda x, g, b: BatchNorm.do_forward(x, g, b, training=True), *x_gamma_beta)


@given(batch_and_parameters(min_rows=1), st.data())
def test_evaluation_gradients_match_central_differences(x_gamma_beta, data):
    features = x_gamma_beta[1].shape
    mean = data.draw(arrays(features), label="running_mean")
    var = data.draw(arrays(features, min_value=0.1, max_value=3.0), label="running_var")

    def evaluate(x, gamma, beta):
        return BatchNorm.do_forward(
            x,
            gamma,
            beta,
            training=False,
            running_mean=mean.astype(x.dtype),
            running_var=var.astype(x.dtype),
        )

    check_gradients(evaluate, *x_gamma_beta)


@given(batch_and_parameters())
def test_training_output_has_zero_mean_and_unit_variance_before_scale_and_shift(x_gamma_beta):
    x, _, _ = x_gamma_beta
    features = x.shape[1:]
    y = batch_norm(TensorNode(x), TensorNode(np.ones(features)), TensorNode(np.zeros(features)))
    np.testing.assert_allclose(y.value.mean(axis=0), 0.0, atol=1e-7)
    var = x.var(axis=0)
    np.testing.assert_allclose(y.value.var(axis=0), var / (var + 1e-5), atol=1e-7)


def test_training_updates_running_statistics_in_place_with_momentum_and_unbiased_variance():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]])
    running_mean, running_var = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    mean_before, var_before = running_mean, running_var
    batch_norm(
        TensorNode(x),
        TensorNode(np.ones(2)),
        TensorNode(np.zeros(2)),
        running_mean=running_mean,
        running_var=running_var,
        momentum=0.25,
    )
    # Column means 3 and 12; unbiased variances (4 + 0 + 4) / 2 = 4 and (4 + 4 + 16) / 2 = 12.
    assert running_mean is mean_before and running_var is var_before  # the same arrays
    np.testing.assert_allclose(running_mean, [0.75 * 0.0 + 0.25 * 3, 0.75 * 1.0 + 0.25 * 12])
    np.testing.assert_allclose(running_var, [0.75 * 1.0 + 0.25 * 4, 0.75 * 2.0 + 0.25 * 12])


def test_evaluation_uses_running_statistics_and_leaves_them_alone():
    x = TensorNode(np.array([[3.0, 0.0]]))
    running_mean, running_var = np.array([1.0, 2.0]), np.array([4.0, 1.0])
    y = batch_norm(
        x,
        TensorNode(np.array([2.0, 1.0])),
        TensorNode(np.array([0.5, 0.0])),
        eps=0.0,
        training=False,
        running_mean=running_mean,
        running_var=running_var,
    )
    # (3 - 1) / sqrt(4) * 2 + 0.5 = 2.5;  (0 - 2) / 1 * 1 + 0 = -2
    np.testing.assert_allclose(y.value, [[2.5, -2.0]])
    np.testing.assert_array_equal(running_mean, [1.0, 2.0])
    np.testing.assert_array_equal(running_var, [4.0, 1.0])


def test_evaluation_backward_is_gamma_over_running_std():
    x = TensorNode(np.array([[3.0, 0.0], [1.0, 1.0]]), requires_grad=True)
    gamma = TensorNode(np.array([2.0, 3.0]), requires_grad=True)
    beta = TensorNode(np.zeros(2), requires_grad=True)
    y = batch_norm(
        x,
        gamma,
        beta,
        eps=0.0,
        training=False,
        running_mean=np.zeros(2),
        running_var=np.array([4.0, 9.0]),
    )
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [[1.0, 1.0], [1.0, 1.0]])  # 2 / 2 and 3 / 3
    np.testing.assert_allclose(gamma.grad, [(3 + 1) / 2, (0 + 1) / 3])  # sum of xhat
    np.testing.assert_allclose(beta.grad, [2.0, 2.0])


def test_float32_stays_float32_in_training_and_evaluation():
    x = TensorNode(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), True)
    gamma = TensorNode(np.ones(3, dtype=np.float32), requires_grad=True)
    beta = TensorNode(np.zeros(3, dtype=np.float32), requires_grad=True)
    running_mean, running_var = np.zeros(3, np.float32), np.ones(3, np.float32)
    for training in (True, False):
        y = batch_norm(
            x, gamma, beta, training=training, running_mean=running_mean, running_var=running_var
        )
        y.sum().backward()
        assert y.dtype == np.float32
        assert {x.grad.dtype, gamma.grad.dtype, beta.grad.dtype} == {np.dtype(np.float32)}
        assert running_mean.dtype == running_var.dtype == np.float32


# ----- errors ------------------------------------------------------------------------------------


def test_training_on_a_single_row_is_a_clear_error():
    with pytest.raises(ValueError, match=r"BatchNorm: training needs more than one row.*\(1, 3\)"):
        batch_norm(TensorNode(np.ones((1, 3))), TensorNode(np.ones(3)), TensorNode(np.zeros(3)))


def test_evaluation_without_running_statistics_is_a_clear_error():
    with pytest.raises(ValueError, match="BatchNorm: evaluation mode needs running_mean"):
        batch_norm(
            TensorNode(np.ones((2, 3))),
            TensorNode(np.ones(3)),
            TensorNode(np.zeros(3)),
            training=False,
        )


@pytest.mark.parametrize(
    "x_shape, gamma_shape", [((4, 3), (2,)), ((4,), (4,)), ((4, 3), (4, 3))], ids=str
)
def test_parameters_of_the_wrong_shape_are_a_shape_error_naming_all_shapes(x_shape, gamma_shape):
    with pytest.raises(ShapeError) as caught:
        batch_norm(
            TensorNode(np.ones(x_shape)),
            TensorNode(np.ones(gamma_shape)),
            TensorNode(np.zeros(gamma_shape)),
        )
    message = str(caught.value)
    assert message.startswith("BatchNorm:")
    assert str(x_shape) in message and str(gamma_shape) in message


# ----- PyTorch as the oracle ---------------------------------------------------------------------


@pytest.mark.parametrize("training", [True, False], ids=["training", "evaluation"])
@pytest.mark.parametrize("shape", [(2, 1), (5, 3), (16, 4)], ids=str)
def test_batch_norm_matches_torch_including_running_statistics(
    torch, matches_torch, training, shape
):
    rng = np.random.default_rng(13)
    x = rng.normal(loc=2.0, scale=3.0, size=shape)
    gamma, beta = rng.uniform(0.5, 2.0, shape[1]), rng.normal(size=shape[1])
    ours_mean, ours_var = rng.normal(size=shape[1]), rng.uniform(0.5, 2.0, shape[1])
    their_mean, their_var = torch.tensor(ours_mean), torch.tensor(ours_var)

    matches_torch(
        lambda x, g, b: batch_norm(
            x,
            g,
            b,
            eps=1e-3,
            training=training,
            running_mean=ours_mean,
            running_var=ours_var,
            momentum=0.3,
        ),
        lambda x, g, b: torch.nn.functional.batch_norm(
            x, their_mean, their_var, weight=g, bias=b, training=training, momentum=0.3, eps=1e-3
        ),
        x,
        gamma,
        beta,
    )
    np.testing.assert_allclose(ours_mean, their_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours_var, their_var.numpy(), rtol=1e-12)


@st.composite
def images_and_parameters(draw):
    """x of shape (n, channels, h, w), every channel spread out, with gamma and beta per channel."""
    n, channels = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    height, width = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if n * height * width < 2:
        height = 2
    grid = st.integers(-12, 12).map(lambda k: k / 4)
    x = draw(hnp.arrays(np.float64, (n, channels, height, width), elements=grid), label="x")
    assume(x.var(axis=(0, 2, 3)).min() > 0.05)
    gamma = draw(arrays((channels,), min_value=0.5, max_value=2.0), label="gamma")
    beta = draw(arrays((channels,)), label="beta")
    return x, gamma, beta


@settings(max_examples=10)
@given(images_and_parameters(), st.booleans())
def test_normalising_images_per_channel_gives_gradients_to_second_order(x_gamma_beta, training):
    channels = x_gamma_beta[1].shape
    statistics = (
        {}
        if training
        else {"running_mean": np.full(channels, 0.5), "running_var": np.full(channels, 2.0)}
    )

    def normalise(x, gamma, beta):
        return BatchNorm.do_forward(
            x,
            gamma,
            beta,
            training=training,
            axes=(0, 2, 3),
            **{k: v.astype(x.dtype) for k, v in statistics.items()},
        )

    check_gradients(normalise, *x_gamma_beta, order=2)


@settings(max_examples=10)
@given(images_and_parameters())
def test_normalising_images_per_channel_matches_torch_batch_norm_with_running_statistics(
    x_gamma_beta,
):
    torch = pytest.importorskip("torch")
    x, gamma, beta = x_gamma_beta
    channels = gamma.shape[0]
    mean, var = np.zeros(channels), np.ones(channels)
    their_mean, their_var = (
        torch.zeros(channels, dtype=torch.float64),
        torch.ones(channels, dtype=torch.float64),
    )
    for training in (True, False):
        node = TensorNode(x, requires_grad=True)
        y = batch_norm(
            node,
            TensorNode(gamma),
            TensorNode(beta),
            training=training,
            running_mean=mean,
            running_var=var,
            momentum=0.3,
            axes=(0, 2, 3),
        )
        (y * y).sum().backward()
        tx = torch.tensor(x, requires_grad=True)
        t = torch.nn.functional.batch_norm(
            tx, their_mean, their_var, torch.tensor(gamma), torch.tensor(beta), training, 0.3, 1e-5
        )
        (t * t).sum().backward()
        np.testing.assert_allclose(y.value, t.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(node.grad, tx.grad.numpy(), rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(mean, their_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(var, their_var.numpy(), rtol=1e-12)
