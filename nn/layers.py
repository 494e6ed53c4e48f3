"""Layers: Linear, BatchNorm1d, Dropout, activations, Flatten, Sequential, and the MLP built
from them. Each layer is a Module whose ``forward`` is a line or two of engine ops."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from autograd import ShapeError, TensorNode
from autograd import functional as AF
from nn import functional as F
from nn.checks import check_positive_int
from nn.init import as_generator, kaiming_normal_, xavier_uniform_
from nn.module import Module, ModuleList, Parameter

__all__ = [
    "MLP",
    "BatchNorm1d",
    "Dropout",
    "Flatten",
    "Linear",
    "LogSoftmax",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]

INITIALISERS = {"glorot": xavier_uniform_, "he": kaiming_normal_}


class Linear(Module):
    """y = x @ weight + bias, with weight of shape (in_features, out_features).

    Layout: PyTorch stores the weight as (out, in) and computes x @ W.T; we store (in, out) so
    that forward reads exactly as the math, with no transpose node in the graph. To copy weights
    from PyTorch, transpose them: ``ours.weight.value[...] = theirs.weight.detach().numpy().T``.

    ``init`` chooses the weight's scale: "glorot" (uniform, Glorot & Bengio 2010) for tanh and
    sigmoid networks, "he" (normal, He et al. 2015) for ReLU networks. The bias starts at zero.

    >>> layer = Linear(784, 128, init="he", rng=0)
    >>> layer(np.zeros((32, 784), dtype=np.float32)).shape
    (32, 128)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "glorot",
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("Linear", "in_features", in_features)
        check_positive_int("Linear", "out_features", out_features)
        if init not in INITIALISERS:
            raise ValueError(f"Linear: init must be one of {sorted(INITIALISERS)}, got {init!r}")
        self.in_features = in_features
        self.out_features = out_features
        self.weight = INITIALISERS[init](Parameter(np.zeros((in_features, out_features))), rng=rng)
        if bias:
            self.bias = Parameter(np.zeros(out_features))
        else:
            self.register_parameter("bias", None)

    def forward(self, x) -> TensorNode:
        features = np.shape(x)[-1] if np.ndim(x) else None
        if features != self.in_features:
            raise ShapeError(
                f"{self._tree()} expects inputs whose last axis has {self.in_features} "
                f"features, got shape {np.shape(x)} ({features} features)"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class BatchNorm1d(Module):
    """Normalise each feature over the batch, then scale by ``weight`` (gamma) and shift by
    ``bias`` (beta), with the engine's BatchNorm op.

    In training, batch statistics are used and the running mean and (unbiased) variance are
    updated in place: running = (1 - momentum) * running + momentum * batch. In evaluation the
    running statistics are used, so a single example gives a deterministic answer. The running
    statistics are buffers: saved by ``state_dict`` and ``save``. With ``affine=False`` gamma is
    a constant 1 and beta a constant 0 (no parameters).

    >>> norm = BatchNorm1d(128)
    >>> norm(h)                   # h of shape (batch, 128)
    """

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ) -> None:
        super().__init__()
        check_positive_int("BatchNorm1d", "num_features", num_features)
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1], got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        if affine:
            self.weight = Parameter(np.ones(num_features))
            self.bias = Parameter(np.zeros(num_features))
        else:  # constants, not parameters: nothing to train or save
            self.weight = TensorNode(np.ones(num_features, dtype=np.float32))
            self.bias = TensorNode(np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))

    def forward(self, x) -> TensorNode:
        shape = np.shape(x)
        if len(shape) != 2 or shape[1] != self.num_features:
            raise ShapeError(
                f"{self._tree()} expects inputs of shape (batch, {self.num_features}), got shape "
                f"{shape}"
            )
        return AF.batch_norm(
            x,
            self.weight,
            self.bias,
            eps=self.eps,
            training=self.training,
            running_mean=self.running_mean,
            running_var=self.running_var,
            momentum=self.momentum,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )


class Dropout(Module):
    """Inverted dropout in training (see ``nn.functional.dropout``), the identity in evaluation.

    ``rng`` is a Generator or an int seed, giving a reproducible sequence of masks; without it
    the module-wide generator of ``nn.init`` is used (``nn.init.manual_seed``).

    >>> drop = Dropout(0.2, rng=0)
    >>> drop.eval()(x) is x
    True
    """

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        F.check_dropout_probability(p)
        self.p = float(p)  # a NumPy float prints and saves as a plain number
        # A seed becomes a Generator once, so successive calls draw different masks.
        self.rng = None if rng is None else as_generator(rng)

    def forward(self, x) -> TensorNode:
        return F.dropout(x, self.p, training=self.training, rng=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ReLU(Module):
    """max(x, 0), elementwise.

    >>> ReLU()(TensorNode([-1.0, 2.0])).value
    array([0., 2.], dtype=float32)
    """

    def forward(self, x) -> TensorNode:
        return AF.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise.

    >>> Sigmoid()(TensorNode([0.0])).value
    array([0.5], dtype=float32)
    """

    def forward(self, x) -> TensorNode:
        return AF.sigmoid(x)


class Tanh(Module):
    """tanh(x), elementwise.

    >>> Tanh()(TensorNode([0.0])).value
    array([0.], dtype=float32)
    """

    def forward(self, x) -> TensorNode:
        return AF.tanh(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``axis``: probabilities (train on logits with cross_entropy).

    >>> Softmax()(TensorNode([[0.0, 0.0]])).value
    array([[0.5, 0.5]], dtype=float32)
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x) -> TensorNode:
        return AF.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """x - log(sum(exp(x))) along ``axis``: log-probabilities, for ``nll_loss``.

    >>> LogSoftmax()(TensorNode([[0.0, 0.0]])).value
    array([[-0.6931, -0.6931]], dtype=float32)
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x) -> TensorNode:
        return AF.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Flatten(Module):
    """Flatten every axis but the first (the batch): images (n, 28, 28) become (n, 784).

    >>> Flatten()(np.zeros((32, 1, 28, 28))).shape
    (32, 784)
    """

    def forward(self, x) -> TensorNode:
        x = x if isinstance(x, TensorNode) else TensorNode(x)
        if x.ndim < 1:
            raise ShapeError(f"Flatten: needs a batch axis, got a scalar of shape {x.shape}")
        return x.reshape(x.shape[0], -1)


class Sequential(ModuleList):
    """Modules applied one after the other; indexable, iterable and with a length.

    >>> model = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
    >>> model(x), model[0], len(model)
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def __getitem__(self, index: int | slice):
        if isinstance(index, slice):
            return Sequential(*list(self._modules.values())[index])
        return super().__getitem__(index)

    def forward(self, x) -> TensorNode:
        for module in self._modules.values():
            x = module(x)
        return x


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class MLP(Module):
    """A multilayer perceptron: per hidden width, Linear -> [BatchNorm1d] -> activation ->
    [Dropout]; then a final Linear producing logits (no softmax: use ``cross_entropy``).

    ``init`` defaults to "he" for ReLU and "glorot" otherwise. ``rng`` (a Generator or an int
    seed) makes the weights and dropout masks reproducible.

    >>> model = MLP(784, [256, 128], 10, batchnorm=True, dropout=0.2, rng=0)
    >>> model(np.zeros((32, 784), dtype=np.float32)).shape
    (32, 10)
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] | int,
        out_features: int,
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        init: str | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        F.check_dropout_probability(dropout)
        hidden = [hidden] if isinstance(hidden, numbers.Integral) else list(hidden)
        if init is None:
            init = "he" if activation == "relu" else "glorot"
        rng = None if rng is None else as_generator(rng)

        layers = []
        widths = [in_features, *hidden]
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers.append(Linear(fan_in, fan_out, init=init, rng=rng))
            if batchnorm:
                layers.append(BatchNorm1d(fan_out))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout, rng=rng))
        layers.append(Linear(widths[-1], out_features, init=init, rng=rng))
        self.layers = Sequential(*layers)

    def forward(self, x) -> TensorNode:
        return self.layers(x)
