"""The engine as a scalar (micrograd-style) engine: 0-d TensorNodes in the expressions of
micrograd's README and tests, with every expected value derived by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from autograd import TensorNode


def readme_expression(a, b):
    """micrograd's README example; works on TensorNodes and on torch tensors alike."""
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g, {"c": c, "d": d, "e": e, "f": f}


# By hand, at a = -4, b = 2 (so b + a = -2 < 0 and b - a = 6 > 0):
#   c = a + b                                  = -2
#   c = c + (c + 1) = 2(a + b) + 1             = -3
#   c = c + (1 + c - a) = 3a + 4b + 3          = -1
#   d = ab + b^3                               =  0
#   d = d + (2d + relu(b + a)) = 3(ab + b^3)   =  0     (relu(-2) = 0, no gradient)
#   d = d + (3d + relu(b - a)) = 12(ab + b^3) + b - a = 6
#   e = c - d = 4a + 3b + 3 - 12ab - 12b^3     = -7
#   f = e^2                                    = 49
#   g = f / 2 + 10 / f = 24.5 + 10/49          = 1210.5 / 49 = 24.7040816...
# Backward:
#   dg/df = 1/2 - 10 / f^2 = 1/2 - 10/2401     = 2381 / 4802
#   dg/de = dg/df * 2e = e - 20 / e^3 = -7 + 20/343 = -2381 / 343
#   de/da = 4 - 12b = -20;   de/db = 3 - 12a - 36b^2 = 3 + 48 - 144 = -93
#   dg/da = -2381/343 * -20 = 47620 / 343      = 138.8338192...
#   dg/db = -2381/343 * -93 = 221433 / 343     = 645.5772594...
G = 1210.5 / 49
DG_DA, DG_DB = 47620 / 343, 221433 / 343
DG_DE, DG_DF = -2381 / 343, 2381 / 4802


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_micrograd_readme_expression_matches_the_hand_derivation(dtype, rtol):
    a = TensorNode(np.array(-4.0, dtype=dtype), requires_grad=True)
    b = TensorNode(np.array(2.0, dtype=dtype), requires_grad=True)
    g, parts = readme_expression(a, b)
    assert g.shape == () and g.dtype == dtype
    assert [parts[k].item() for k in "cdef"] == [-1.0, 6.0, -7.0, 49.0]
    assert g.item() == pytest.approx(G, rel=rtol)
    g.backward(retain_grads=True)
    assert a.grad.dtype == dtype and b.grad.dtype == dtype
    assert a.grad.item() == pytest.approx(DG_DA, rel=rtol)
    assert b.grad.item() == pytest.approx(DG_DB, rel=rtol)
    assert parts["e"].grad.item() == pytest.approx(DG_DE, rel=rtol)
    assert parts["f"].grad.item() == pytest.approx(DG_DF, rel=rtol)


def sanity_expression(x):
    """micrograd's test_sanity_check expression."""
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    return y


# By hand, at x = -4:
#   z = 3x + 2 = -10;  q = relu(z) + zx = 0 + 40 = 40;  h = relu(z^2) = 100
#   y = h + q + qx = 100 + 40 - 160 = -20
#   With relu(z) = 0 and z^2 > 0: y = (3x + 2)^2 + (3x^2 + 2x)(1 + x)
#   dy/dx = 6(3x + 2) + (6x + 2)(1 + x) + (3x^2 + 2x) = -60 + 66 + 40 = 46
def test_micrograd_sanity_expression_matches_the_hand_derivation():
    x = TensorNode(np.array(-4.0), requires_grad=True)
    y = sanity_expression(x)
    assert y.item() == -20.0
    y.backward()
    assert x.grad.item() == 46.0


def test_scalars_are_0d_nodes_all_the_way_through():
    a = TensorNode(-4.0, requires_grad=True)
    b = TensorNode(2.0, requires_grad=True)
    g, parts = readme_expression(a, b)
    assert all(node.ndim == 0 for node in [g, *parts.values()])
    g.backward()
    assert a.grad.shape == () and b.grad.shape == ()


def test_readme_expression_matches_torch(torch):
    a = torch.tensor(-4.0, requires_grad=True)
    b = torch.tensor(2.0, requires_grad=True)
    g_torch, _ = readme_expression(a, b)
    g_torch.backward()
    ours_a = TensorNode(np.array(-4.0), requires_grad=True)
    ours_b = TensorNode(np.array(2.0), requires_grad=True)
    g, _ = readme_expression(ours_a, ours_b)
    g.backward()
    assert g.item() == pytest.approx(g_torch.item(), rel=1e-12)
    assert ours_a.grad.item() == pytest.approx(a.grad.item(), rel=1e-12)
    assert ours_b.grad.item() == pytest.approx(b.grad.item(), rel=1e-12)


def test_sanity_expression_matches_torch(torch):
    x_torch = torch.tensor(-4.0, requires_grad=True)
    sanity_expression(x_torch).backward()
    x = TensorNode(np.array(-4.0), requires_grad=True)
    sanity_expression(x).backward()
    assert x.grad.item() == x_torch.grad.item()
