"""Shared test settings: the hypothesis profile and PyTorch as an optional oracle.

The default profile keeps the whole suite fast; ``HYPOTHESIS_PROFILE=thorough pytest`` draws ten
times as many examples.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture
def torch():
    """PyTorch with float64 as its default dtype, or a skip when it is not installed."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


@pytest.fixture
def matches_torch(torch):
    """``matches_torch(our_fn, torch_fn, *arrays)`` asserts equal forward values and gradients.

    Float arrays become float64 leaves that require grad in both engines; other arrays are
    passed as they are (TensorNode constants here, tensors there). Each output is reduced with
    the same random weights, so every output element's gradient is compared.
    """

    def check(our_fn, torch_fn, *arrays, atol=1e-10, rtol=1e-7, seed=0):
        from autograd import TensorNode

        arrays = [np.asarray(x) for x in arrays]
        is_float = [x.dtype.kind == "f" for x in arrays]
        ours = [
            TensorNode(x.astype(np.float64), requires_grad=True) if f else TensorNode(x)
            for x, f in zip(arrays, is_float)
        ]
        theirs = [
            torch.tensor(x, dtype=torch.float64, requires_grad=True) if f else torch.tensor(x)
            for x, f in zip(arrays, is_float)
        ]
        our_out, their_out = our_fn(*ours), torch_fn(*theirs)
        np.testing.assert_allclose(
            our_out.value, their_out.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward"
        )
        weights = np.random.default_rng(seed).uniform(0.5, 1.5, our_out.shape)
        (our_out * TensorNode(weights)).sum().backward()
        (their_out * torch.tensor(weights)).sum().backward()
        for index, (node, tensor) in enumerate(zip(ours, theirs)):
            if is_float[index]:
                their_grad = np.zeros(node.shape) if tensor.grad is None else tensor.grad.numpy()
                our_grad = np.zeros(node.shape) if node.grad is None else node.grad
                np.testing.assert_allclose(
                    our_grad, their_grad, atol=atol, rtol=rtol, err_msg=f"gradient of input {index}"
                )

    return check
