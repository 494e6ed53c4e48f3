"""Layers: Linear, Conv2d, pooling, BatchNorm1d/2d, Dropout, activations, Flatten, Sequential,
and the MLP built from them. Each layer is a Module whose ``forward`` is a line or two of engine
ops."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from autograd import ShapeError, TensorNode
from autograd import functional as AF
from autograd.ops.conv import conv_padding, output_size, pair
from nn import functional as F
from nn.checks import check_positive_int
from nn.init import as_generator, fans, kaiming_normal_, kaiming_uniform_, uniform_, xavier_uniform_
from nn.module import Module, ModuleList, Parameter

__all__ = [
    "CNN",
    "MLP",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
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

    #: The axes normalised over (the engine's BatchNorm ``axes``), and the input it expects.
    axes: tuple[int, ...] = (0,)
    layout = "(batch, {})"

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_positive_int(name, "num_features", num_features)
        if not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
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
        expected = self.layout.format(self.num_features)
        if len(shape) != len(self.axes) + 1 or shape[1] != self.num_features:
            raise ShapeError(
                f"{self._tree()} expects inputs of shape {expected}, got shape {shape}"
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
            axes=self.axes,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )


class BatchNorm2d(BatchNorm1d):
    """BatchNorm1d for images (batch, channels, height, width): each channel is normalised over
    the batch and every pixel (axes 0, 2 and 3), with one gamma, beta, running mean and running
    variance per channel, as PyTorch's BatchNorm2d. The same engine op (BatchNorm, with
    ``axes=(0, 2, 3)``), so batch normalisation's maths lives in one place.

    >>> norm = BatchNorm2d(16)
    >>> norm(h)                   # h of shape (batch, 16, height, width)
    """

    axes = (0, 2, 3)
    layout = "(batch, {}, height, width)"


class Conv2d(Module):
    """A 2-d convolution over images (batch, in_channels, height, width), as PyTorch's Conv2d:
    ``weight`` of shape (out_channels, in_channels / groups, kh, kw) and ``bias`` (out_channels,).

    ``padding`` is an int, a pair, "valid" (none) or "same" (output as large as the input; stride
    1 only). ``groups`` splits the channels into independent groups (``groups=in_channels``: a
    depthwise convolution). Output size per axis: floor((size + 2 padding - dilation (kernel - 1)
    - 1) / stride) + 1.

    Initialisation as PyTorch's: weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
    fan_in = in_channels / groups * kh * kw (PyTorch's kaiming_uniform_ with a = sqrt(5)).
    ``rng`` (a Generator or an int seed) makes them reproducible.

    >>> conv = Conv2d(1, 16, kernel_size=3, padding=1, rng=0)
    >>> conv(np.zeros((32, 1, 28, 28), dtype=np.float32)).shape
    (32, 16, 28, 28)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("Conv2d", "in_channels", in_channels)
        check_positive_int("Conv2d", "out_channels", out_channels)
        check_positive_int("Conv2d", "groups", groups)
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = pair("Conv2d", "stride", stride, 1)
        self.dilation = pair("Conv2d", "dilation", dilation, 1)
        conv_padding("Conv2d", padding, self.kernel_size, self.stride, self.dilation)  # checks
        self.padding = (
            padding if isinstance(padding, str) else pair("Conv2d", "padding", padding, 0)
        )
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"Conv2d: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"both be multiples of groups ({groups})"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        rng = as_generator(rng)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        # PyTorch's kaiming_uniform_(a=sqrt(5)): gain sqrt(2 / (1 + a^2)) = sqrt(1/3), so the
        # bound gain * sqrt(3 / fan_in) is 1 / sqrt(fan_in).
        self.weight = kaiming_uniform_(Parameter(np.zeros(shape)), gain=math.sqrt(1 / 3), rng=rng)
        if bias:
            bound = 1 / math.sqrt(fans(shape)[0])
            self.bias = uniform_(Parameter(np.zeros(out_channels)), -bound, bound, rng=rng)
        else:
            self.register_parameter("bias", None)

    def forward(self, x) -> TensorNode:
        shape = np.shape(x)
        if len(shape) != 4 or shape[1] != self.in_channels:
            hint = ""
            if len(shape) == 3 and shape[0] == self.in_channels:
                hint = f"; for one image add the batch axis: x[None] has shape {(1, *shape)}"
            raise ShapeError(
                f"{self._tree()} expects images of shape (batch, {self.in_channels}, height, "
                f"width), got shape {shape}{hint}"
            )
        top, bottom, left, right = conv_padding(
            "Conv2d", self.padding, self.kernel_size, self.stride, self.dilation
        )
        sizes = [
            output_size(size, k, s, before, after, d)
            for size, k, s, before, after, d in zip(
                shape[2:], self.kernel_size, self.stride, (top, left), (bottom, right),
                self.dilation,
            )
        ]  # fmt: skip
        if min(sizes) < 1:
            padded = (shape[2] + top + bottom, shape[3] + left + right)
            raise ShapeError(
                f"{self._tree()}: the kernel {self.kernel_size} (dilation {self.dilation}) is "
                f"larger than the padded image {padded} of input shape {shape}; use a larger "
                "image, more padding or a smaller kernel"
            )
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
        text += f", stride={self.stride}" if self.stride != (1, 1) else ""
        text += f", padding={self.padding!r}" if self.padding not in ((0, 0), "valid") else ""
        text += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        text += f", groups={self.groups}" if self.groups != 1 else ""
        return text + (", bias=False" if self.bias is None else "")


class MaxPool2d(Module):
    """The largest value of each ``kernel_size`` window, windows ``stride`` apart (default: the
    kernel size), over images (batch, channels, height, width); padding counts as -inf. No
    parameters.

    >>> MaxPool2d(2)(np.zeros((32, 16, 28, 28), dtype=np.float32)).shape
    (32, 16, 14, 14)
    """

    function = staticmethod(F.max_pool2d)

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = pair(name, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else pair(name, "stride", stride, 1)
        self.padding = pair(name, "padding", padding, 0)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(
                f"{name}: padding {self.padding} must be at most half the kernel {self.kernel_size}"
            )

    def forward(self, x) -> TensorNode:
        return self.function(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        text = f"kernel_size={self.kernel_size}"
        text += f", stride={self.stride}" if self.stride != self.kernel_size else ""
        return text + (f", padding={self.padding}" if self.padding != (0, 0) else "")


class AvgPool2d(MaxPool2d):
    """The mean of each ``kernel_size`` window, windows ``stride`` apart (default: the kernel
    size); padding counts as zeros in the mean (PyTorch's default). No parameters.

    >>> AvgPool2d(2)(np.zeros((32, 16, 28, 28), dtype=np.float32)).shape
    (32, 16, 14, 14)
    """

    function = staticmethod(F.avg_pool2d)


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


class CNN(Module):
    """A convolutional network for images: convolution stages, then an MLP head giving logits.

    Each stage is, per entry of ``stages``, a 3x3 Conv2d (padding 1, so the size is kept) ->
    [BatchNorm2d] -> activation, and then a 2x2 MaxPool2d that halves height and width. The
    head flattens what the last stage gives and is an ``MLP`` with the ``hidden`` widths
    (dropout, if any, after each hidden layer). ``stages=[[32], [64]]`` on 1x28x28 images is
    conv 1->32, pool to 14x14, conv 32->64, pool to 7x7, then the head on 64*7*7 = 3,136 features.

    >>> model = CNN(1, (28, 28), [[32], [64]], [128], 10, batchnorm=True, rng=0)
    >>> model(np.zeros((8, 1, 28, 28), dtype=np.float32)).shape
    (8, 10)
    """

    def __init__(
        self,
        in_channels: int,
        image_size: tuple[int, int],
        stages: Sequence[Sequence[int]],
        hidden: Sequence[int] | int,
        out_features: int,
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__()
        check_positive_int("CNN", "in_channels", in_channels)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"CNN: unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}"
            )
        if not stages or any(not stage for stage in stages):
            raise ValueError(f"CNN: every stage needs at least one convolution, got {stages!r}")
        height, width = image_size
        if min(height, width) >> len(stages) < 1:
            raise ValueError(
                f"CNN: {len(stages)} stages each halve the image, but {height}x{width} images"
                f" allow at most {min(height, width).bit_length() - 1}; give fewer stages"
            )
        rng = None if rng is None else as_generator(rng)
        self.in_channels = in_channels
        self.image_size = (height, width)

        layers: list[Module] = []
        channels = in_channels
        for stage in stages:
            for out_channels in stage:
                layers.append(
                    Conv2d(channels, out_channels, 3, padding=1, bias=not batchnorm, rng=rng)
                )
                if batchnorm:
                    layers.append(BatchNorm2d(out_channels))
                layers.append(ACTIVATIONS[activation]())
                channels = out_channels
            layers.append(MaxPool2d(2))
            height, width = height // 2, width // 2
        layers.append(Flatten())
        self.features = Sequential(*layers)
        self.head = MLP(
            channels * height * width,
            hidden,
            out_features,
            activation=activation,
            batchnorm=batchnorm,
            dropout=dropout,
            rng=rng,
        )

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, image_size={self.image_size}"

    def first_filters(self) -> np.ndarray:
        """The first convolution's weights, (out_channels, in_channels, 3, 3): what it looks for."""
        return self.features[0].weight.value

    def forward(self, x) -> TensorNode:
        shape = np.shape(x)
        if len(shape) != 4 or shape[1:] != (self.in_channels, *self.image_size):
            expected = (self.in_channels, *self.image_size)
            hint = " (grey images: add the channel axis with x[:, None])" * (
                shape[1:] == expected[1:]
            )
            raise ShapeError(
                f"CNN expects images of shape (batch, {', '.join(map(str, expected))}),"
                f" got shape {shape}{hint}"
            )
        return self.head(self.features(x))
