"""Edge cases with a clear answer (issue 9): PyTorch's result where it has one, else a message
that names the op and the fix, never a raw NumPy error."""

from __future__ import annotations

import numpy as np
import pytest

import autograd.functional as F
from autograd import TensorNode

SOFTMAXES = {"softmax": F.softmax, "log_softmax": F.log_softmax}


def leaf(array) -> TensorNode:
    return TensorNode(np.asarray(array, dtype=np.float64), requires_grad=True)


# ----- softmax --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SOFTMAXES)
@pytest.mark.parametrize("axis", [(0, 1), None, 1.0], ids=["tuple", "None", "float"])
def test_softmax_over_anything_but_one_int_axis_is_a_clear_type_error(name, axis):
    with pytest.raises(TypeError, match=r"axis must be a single int, got .*reshape"):
        SOFTMAXES[name](leaf(np.ones((2, 3))), axis=axis)


@pytest.mark.parametrize("name", SOFTMAXES)
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_of_an_empty_array_is_empty_as_in_pytorch(name, axis):
    x = leaf(np.ones((0, 3)))
    y = SOFTMAXES[name](x, axis=axis)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 3)


# ----- losses ---------------------------------------------------------------------------------

LOSSES = {
    "cross_entropy": (
        F.softmax_cross_entropy,
        lambda torch, z, y, **kw: torch.nn.functional.cross_entropy(z, y, **kw),
    ),
    "nll_loss": (
        lambda z, y, **kw: F.nll_loss(F.log_softmax(z, axis=1), y, **kw),
        lambda torch, z, y, **kw: torch.nn.functional.nll_loss(z.log_softmax(1), y, **kw),
    ),
}


def compare_with_torch(torch, loss_name, logits, labels, **options):
    """Our loss and gradient against PyTorch's, NaNs included."""
    ours, theirs = LOSSES[loss_name]
    x = leaf(logits)
    loss = ours(x, labels, **options)
    loss.sum().backward()
    z = torch.tensor(logits, requires_grad=True)
    their_loss = theirs(torch, z, torch.tensor(labels), **options)
    their_loss.sum().backward()
    np.testing.assert_allclose(loss.value, their_loss.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, z.grad.numpy(), rtol=1e-12, atol=1e-15)
    return loss


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_loss_over_an_empty_batch_matches_pytorch(torch, loss_name, reduction):
    loss = compare_with_torch(
        torch, loss_name, np.ones((0, 3)), np.zeros(0, np.int64), reduction=reduction
    )
    if reduction == "mean":
        assert np.isnan(loss.value)  # the mean over no rows


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    ("labels", "ignore_index"),
    [
        ([0, -100, 3, -100, 1], -100),  # PyTorch's default
        ([0, 2, 2, 1, 3], 2),
        ([0, -1, 3, 1, -1], -1),
        ([3, 3, 3, 3, 3], 3),  # every row ignored: NaN mean, zero gradient
        ([-100] * 5, -100),
    ],
    ids=["default", "a class", "minus one", "all rows", "all rows default"],
)
def test_ignore_index_matches_pytorch(torch, loss_name, reduction, labels, ignore_index):
    logits = np.random.default_rng(0).standard_normal((5, 4))
    compare_with_torch(
        torch,
        loss_name,
        logits,
        np.array(labels),
        reduction=reduction,
        ignore_index=ignore_index,
    )


@pytest.mark.parametrize("loss_name", LOSSES)
def test_ignore_index_defaults_to_minus_100(torch, loss_name):
    logits = np.random.default_rng(1).standard_normal((3, 4))
    compare_with_torch(torch, loss_name, logits, np.array([1, -100, 2]))


@pytest.mark.parametrize("loss_name", LOSSES)
def test_a_loss_with_every_row_ignored_is_nan_with_zero_gradient(loss_name):
    ours, _ = LOSSES[loss_name]
    x = leaf(np.ones((2, 3)))
    loss = ours(x, np.array([-100, -100]))
    loss.backward()
    assert np.isnan(loss.value)
    np.testing.assert_array_equal(x.grad, np.zeros((2, 3)))


@pytest.mark.parametrize("loss_name", LOSSES)
def test_a_label_out_of_range_that_is_not_ignored_names_the_classes(loss_name):
    ours, _ = LOSSES[loss_name]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) for 3 classes"):
        ours(leaf(np.ones((2, 3))), np.array([0, -100]), ignore_index=2)
