"""A readable tensor autograd engine on NumPy.

>>> from autograd import TensorNode
>>> x = TensorNode(3.0, requires_grad=True)
>>> y = x * x + 2 * x
>>> y.backward(); x.grad
array(8., dtype=float32)
"""

from autograd import func, functional, ops, replay
from autograd.dtypes import DEFAULT_DTYPE
from autograd.errors import (
    AnomalyError,
    GradcheckError,
    GradientError,
    GraphReleasedError,
    ReplayError,
    ShapeError,
)
from autograd.gradcheck import gradcheck
from autograd.graph import OpNode
from autograd.higher_order import grad
from autograd.modes import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    large_graph,
    no_grad,
    scope,
)
from autograd.op import Op
from autograd.ops import *  # noqa: F403  (the ops, as autograd/ops/__init__.py lists them)
from autograd.tensor import TensorNode

__all__ = [
    "DEFAULT_DTYPE", "AnomalyError", "GradcheckError", "GradientError", "GraphReleasedError",
    "ReplayError", "ShapeError", "OpNode", "Op", "TensorNode", "detect_anomaly", "enable_grad",
    "func", "functional", "grad", "gradcheck", "is_grad_enabled", "large_graph", "no_grad",
    "replay", "scope",
] + ops.__all__  # fmt: skip
