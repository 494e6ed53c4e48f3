"""autograd.onnx: every op and the models round-trip through ONNX Runtime with the engine's
outputs, every export passes the ONNX checker, and what cannot be exported says why."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd.onnx
import nn
from autograd import Op, TensorNode
from autograd import functional as AF
from autograd.errors import MissingPackageError, OnnxExportError
from autograd.ops import (
    AvgUnpool2d,
    Conv2dWeightGrad,
    ConvTranspose2d,
    MaxPool2d,
    MaxUnpool2d,
    Scatter,
    WindowGather2d,
)
from autograd.ops.conv import conv_arguments, pool_arguments
from autograd.testing import (
    arrays,
    axes,
    broadcastable_arrays,
    convolutions,
    poolings,
    shapes,
)

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

few = settings(max_examples=12)


def export(fn, *inputs, **options):
    """Export to memory; check the file as ONNX's own checker does, with strict shape inference."""
    buffer = io.BytesIO()
    autograd.onnx.export(fn, inputs, buffer, **options)
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model, full_check=True)
    onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", autograd.onnx.OPSET)]
    return model


def engine(fn, *inputs):
    result = fn(*[TensorNode(x, requires_grad=True) for x in inputs])  # as export records it
    return [y.value for y in (result if isinstance(result, tuple) else (result,))]


def assert_round_trip(fn, *inputs, other_batches=(), **options):
    """ONNX Runtime gives the engine's outputs (float32 tolerance) on the example, and on
    inputs with ``other_batches`` rows (made by repeating the example's rows)."""
    model = export(fn, *inputs, **options)
    batches = [inputs]
    for size in other_batches:
        batches.append(tuple(np.resize(x, (size, *x.shape[1:])) for x in inputs))
    for batch in batches:
        expected = engine(fn, *batch)
        got = autograd.onnx.run(model, *batch)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            assert a.shape == b.shape and a.dtype == b.dtype
            scale = 1 + float(np.abs(b).max(initial=0))  # sums may cancel: float32 of it
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-5 * scale)
    return model


def one_row_more(x):
    return () if np.ndim(x) == 0 else (len(x) + 1,)


# ----- each op -------------------------------------------------------------------------------


UNARY = {
    "neg": lambda x: -x,
    "abs": abs,
    "exp": lambda x: x.exp(),
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
    "tanh": lambda x: x.tanh(),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=0)))
def test_unary_ops_round_trip_at_any_batch_size(name, x):
    assert_round_trip(UNARY[name], x, other_batches=one_row_more(x))


@few
@given(x=arrays(dtype=np.float32, min_value=0.1, max_value=5.0))
def test_log_round_trips(x):
    assert_round_trip(lambda x: x.log(), x, other_batches=one_row_more(x))


@few
@given(x=arrays(dtype=np.float32, min_value=0.1), p=st.sampled_from([0, 1, 2, 3, 0.5, -1.5]))
def test_pow_round_trips(x, p):
    assert_round_trip(lambda x: x**p, x)


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@few
@given(pair=broadcastable_arrays(dtype=np.float32, away_from=0.0, margin=0.1))
def test_binary_ops_round_trip_with_broadcasting(name, pair):
    assert_round_trip(BINARY[name], *pair, dynamic_batch=False)


@pytest.mark.parametrize("name", sorted(BINARY))
@few
@given(pair=broadcastable_arrays(dtype=np.float32, away_from=0.0, margin=0.1))
def test_a_constant_broadcast_into_a_batch_keeps_the_batch_dynamic(name, pair):
    a, b = pair
    x = np.ones((3, *np.broadcast_shapes(a.shape, b.shape)), np.float32) * a
    assert_round_trip(lambda x: BINARY[name](x, TensorNode(b)), x, other_batches=(1, 5))


def test_mixed_dtypes_are_cast_to_the_promoted_type():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.linspace(1, 2, 3)  # float64: the result is float64, as in PyTorch
    model = assert_round_trip(lambda x, y: x * y, x, y, dynamic_batch=False)
    assert "Cast" in [node.op_type for node in model.graph.node]


@st.composite
def matmul_operands(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    a_shape = draw(st.sampled_from([(k,), (m, k), (*batch, m, k)]))
    b_shape = draw(st.sampled_from([(k,), (k, n), (*batch[-1:], k, n)]))
    return draw(arrays(a_shape, np.float32)), draw(arrays(b_shape, np.float32))


@few
@given(pair=matmul_operands())
def test_matmul_round_trips_for_vectors_matrices_and_batches(pair):
    assert_round_trip(lambda a, b: a @ b, *pair, dynamic_batch=False)


@st.composite
def array_and_axis(draw, min_dims=0, single=False):
    x = draw(arrays(dtype=np.float32, shape=shapes(min_dims=min_dims)))
    if single:
        return x, draw(st.integers(-x.ndim, x.ndim - 1))
    return x, draw(axes(x.ndim)), draw(st.booleans())


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@few
@given(drawn=array_and_axis(min_dims=1, single=True))
def test_softmaxes_round_trip_along_any_axis(name, drawn):
    x, axis = drawn
    assert_round_trip(lambda x: getattr(x, name)(axis=axis), x, other_batches=one_row_more(x))


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
@few
@given(drawn=array_and_axis())
def test_reductions_round_trip_over_any_axes(name, drawn):
    x, axis, keepdims = drawn
    assert_round_trip(
        lambda x: getattr(x, name)(axis=axis, keepdims=keepdims), x, other_batches=one_row_more(x)
    )


@st.composite
def array_and_new_shape(draw):
    x = draw(arrays(dtype=np.float32, shape=shapes(min_dims=0)))
    sizes = list(x.shape) + [1] * draw(st.integers(0, 2))
    new_shape = draw(st.permutations(sizes))
    if new_shape and draw(st.booleans()):
        new_shape[draw(st.integers(0, len(new_shape) - 1))] = -1
    return x, tuple(new_shape)


@few
@given(drawn=array_and_new_shape())
def test_reshape_round_trips(drawn):
    x, new_shape = drawn
    assert_round_trip(lambda x: x.reshape(new_shape), x, dynamic_batch=False)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.reshape(len(x), -1),  # flatten: the batch axis kept
        lambda x: x.reshape(-1),  # the batch folded into one axis
        lambda x: x.reshape(len(x) * 2, 3, -1),  # a multiple of the batch
        lambda x: x.reshape(len(x), 2, 3, 2).reshape(len(x), 12),
    ],
)
def test_reshapes_that_follow_the_batch_run_at_any_batch_size(fn):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert_round_trip(fn, x, other_batches=(1, 3, 8))


@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=0)), data=st.data())
def test_transpose_round_trips(x, data):
    axes = data.draw(st.none() | st.permutations(range(x.ndim)))
    assert_round_trip(lambda x: x.transpose(*(axes or ())), x, other_batches=one_row_more(x))


@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=0)), data=st.data())
def test_expand_round_trips(x, data):
    target = data.draw(hnp.broadcastable_shapes(x.shape, min_dims=x.ndim, max_side=4))
    target = np.broadcast_shapes(x.shape, target)
    assert_round_trip(lambda x: x.expand(*target), x, dynamic_batch=False)


def test_an_expand_read_by_a_reduction_follows_the_batch_at_run_time():
    x = np.arange(6, dtype=np.float32).reshape(2, 1, 3)
    assert_round_trip(lambda x: x.expand(len(x), 4, 3).sum(axis=1), x, other_batches=(1, 5))


@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=1)), data=st.data())
def test_basic_indexing_round_trips_at_any_batch_size(x, data):
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    assert_round_trip(lambda x: x[index], x, other_batches=one_row_more(x))


@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=1)), data=st.data())
def test_integer_array_indexing_round_trips(x, data):
    index = data.draw(hnp.integer_array_indices(x.shape))
    assert_round_trip(lambda x: x[index], x, dynamic_batch=False)


@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=1)), data=st.data())
def test_boolean_mask_indexing_round_trips(x, data):
    mask = data.draw(hnp.arrays(bool, x.shape))
    assert_round_trip(lambda x: x[mask], x, dynamic_batch=False)


def test_one_index_array_on_a_later_axis_keeps_the_batch_dynamic():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert_round_trip(lambda x: x[:, [3, 0, 0, -1]], x, other_batches=(1, 6))


@few
@given(x=arrays(dtype=np.float32, shape=shapes(min_dims=1)), data=st.data())
def test_scatter_round_trips(x, data):
    index = data.draw(hnp.integer_array_indices(x.shape))
    picked = x[index]
    fn = lambda y: Scatter.do_forward(y, index=index, shape=x.shape)  # noqa: E731
    assert_round_trip(fn, picked, dynamic_batch=False)


@pytest.mark.parametrize(
    ("dtype_in", "dtype_out"),
    [(np.float32, np.float64), (np.float64, np.float32), (np.float32, np.int32)],
)
def test_cast_round_trips(dtype_in, dtype_out):
    x = np.linspace(-3.3, 4.7, 12).astype(dtype_in).reshape(3, 4)
    assert_round_trip(lambda x: x.astype(dtype_out), x, other_batches=(1, 5))


@few
@given(x=arrays(dtype=np.float32, shape=hnp.array_shapes(min_dims=2, max_dims=4)))
def test_batch_norm_in_evaluation_round_trips(x):
    features = x.shape[1:]
    rng = np.random.default_rng(0)
    gamma, beta = (TensorNode(rng.normal(size=features).astype(np.float32)) for _ in range(2))
    mean = rng.normal(size=features).astype(np.float32)
    var = rng.uniform(0.5, 2.0, size=features).astype(np.float32)

    def fn(x):
        return AF.batch_norm(x, gamma, beta, training=False, running_mean=mean, running_var=var)

    assert_round_trip(fn, x, other_batches=(1, len(x) + 2))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_softmax_cross_entropy_round_trips(reduction):
    logits = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, -100, 2])
    fn = lambda x: AF.softmax_cross_entropy(x, labels, reduction=reduction)  # noqa: E731
    assert_round_trip(fn, logits, dynamic_batch=False)


def test_float64_models_round_trip():
    x = np.random.default_rng(0).normal(size=(3, 4))
    w = TensorNode(np.random.default_rng(1).normal(size=(4, 2)))
    assert_round_trip(lambda x: (x @ w).tanh().softmax(axis=1), x, other_batches=(1, 7))


@few
@given(drawn=convolutions(dtype=np.float32))
def test_conv2d_round_trips_at_any_batch_size(drawn):
    x, w, b, arguments = drawn
    weight = TensorNode(w)
    bias = None if b is None else TensorNode(b)
    fn = lambda x: AF.conv2d(x, weight, bias, **arguments)  # noqa: E731
    assert_round_trip(fn, x, other_batches=(len(x) + 2,))


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@few
@given(drawn=poolings(dtype=np.float32))
def test_poolings_round_trip_at_any_batch_size(name, drawn):
    x, arguments = drawn
    fn = lambda x: getattr(AF, name)(x, **arguments)  # noqa: E731
    assert_round_trip(fn, x, other_batches=(len(x) + 2,))


def normalized(x, w, arguments):
    stride, padding, dilation, groups = conv_arguments(
        "Conv2d",
        x.shape,
        w.shape,
        *(arguments[k] for k in ("stride", "padding", "dilation", "groups")),
    )
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@few
@given(drawn=convolutions(dtype=np.float32))
def test_conv_gradient_ops_round_trip(drawn):
    x, w, _, arguments = drawn
    arguments = normalized(x, w, arguments)
    g = AF.conv2d(x, w, **arguments).value.copy()  # dL/dy of the convolution's shape
    weight = TensorNode(w)

    def input_grad(g):
        return ConvTranspose2d.do_forward(g, weight, input_shape=x.shape, **arguments)

    def weight_grad(x, g):
        return Conv2dWeightGrad.do_forward(x, g, kernel_size=w.shape[2:], **arguments)

    assert_round_trip(input_grad, g, dynamic_batch=False)
    if arguments["groups"] == 1:
        assert_round_trip(weight_grad, x, g, dynamic_batch=False)
    else:
        with pytest.raises(OnnxExportError, match="grouped convolution"):
            export(weight_grad, x, g, dynamic_batch=False)


@few
@given(drawn=poolings(dtype=np.float32))
def test_pooling_gradient_ops_round_trip(drawn):
    x, arguments = drawn
    context: dict = {}
    y = MaxPool2d.forward(context, x, **arguments)
    kernel, stride, padding, _ = pool_arguments("MaxPool2d", x, **arguments)
    windows = dict(argmax=context["argmax"], kernel=kernel, stride=stride, padding=padding)

    def max_unpool(g):
        return MaxUnpool2d.do_forward(g, input_shape=x.shape, **windows)

    def window_gather(x):
        return WindowGather2d.do_forward(x, **windows)

    def avg_unpool(g):
        spread = dict(kernel=kernel, stride=stride, padding=padding)
        return AvgUnpool2d.do_forward(g, input_shape=x.shape, **spread)

    assert_round_trip(max_unpool, y, dynamic_batch=False)
    assert_round_trip(window_gather, x, dynamic_batch=False)
    assert_round_trip(avg_unpool, y, dynamic_batch=False)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_the_input_gradient_of_a_small_cnn_exports_at_any_batch_size(pool):
    rng = np.random.default_rng(0)
    w = TensorNode(rng.normal(size=(4, 2, 3, 3)).astype(np.float32))

    def input_gradient(x):  # ConvTranspose2d, MaxUnpool2d or AvgUnpool2d, ... in the graph
        y = getattr(AF, pool)(AF.conv2d(x, w, padding=1).tanh(), 2)
        (grad,) = autograd.grad((y * y).sum(), [x], create_graph=True)
        return grad

    x = rng.normal(size=(2, 2, 6, 6)).astype(np.float32)
    if pool == "avg_pool2d":
        assert_round_trip(input_gradient, x, other_batches=(1, 3))
    else:  # MaxUnpool2d's remembered maxima are constants of the example's shape
        with pytest.raises(OnnxExportError, match="MaxUnpool2d's constant.*dynamic_batch=False"):
            export(input_gradient, x)
        assert_round_trip(input_gradient, x, dynamic_batch=False)


def test_every_op_of_the_engine_has_a_mapping():
    assert set(autograd.onnx.MAPPINGS) == {getattr(autograd, name) for name in autograd.ops.__all__}


# ----- models --------------------------------------------------------------------------------


def trained_mlp(batchnorm: bool) -> nn.MLP:
    """A small MLP whose batch norm has running statistics away from their start."""
    model = nn.MLP(12, [16, 8], 5, batchnorm=batchnorm, dropout=0.3, rng=0)
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(32, 12)).astype(np.float32)
    for _ in range(3):
        model(x)  # training mode: running statistics move
    return model


@pytest.mark.parametrize("batchnorm", [False, True])
def test_the_mlp_runs_in_onnx_runtime_at_several_batch_sizes(batchnorm):
    model = trained_mlp(batchnorm)
    x = np.random.default_rng(2).normal(size=(4, 12)).astype(np.float32)
    exported = export(model, x)
    model.eval()
    for size in (1, 4, 17, 100):
        batch = np.random.default_rng(size).normal(size=(size, 12)).astype(np.float32)
        (got,) = autograd.onnx.run(exported, batch)
        np.testing.assert_allclose(got, model(batch).value, rtol=1e-5, atol=1e-5)


def test_a_cnn_with_batch_norm_runs_in_onnx_runtime_at_several_batch_sizes():
    rng = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, rng=1),
        nn.AvgPool2d(2, stride=1),
        nn.Flatten(),
        nn.Linear(6, 3, rng=2),
    )
    for _ in range(3):  # training mode: batch norm's running statistics move
        model(rng.normal(1.0, 2.0, size=(8, 1, 10, 10)).astype(np.float32))
    exported = export(model, np.zeros((2, 1, 10, 10), np.float32))
    assert "BatchNormalization" in [node.op_type for node in exported.graph.node]
    model.eval()
    for size in (1, 5, 32):
        batch = rng.normal(size=(size, 1, 10, 10)).astype(np.float32)
        (got,) = autograd.onnx.run(exported, batch)
        np.testing.assert_allclose(got, model(batch).value, rtol=1e-5, atol=1e-5)


def test_the_mlp_is_one_onnx_node_per_op_with_parameters_named_as_the_model_names_them():
    model = trained_mlp(batchnorm=True)
    exported = export(model, np.zeros((2, 12), np.float32))
    layer = ["MatMul", "Expand", "Add", "BatchNormalization", "Relu"]
    assert [node.op_type for node in exported.graph.node] == layer * 2 + layer[:3]
    initialisers = {t.name: onnx.numpy_helper.to_array(t) for t in exported.graph.initializer}
    for name, parameter in model.named_parameters():
        np.testing.assert_array_equal(initialisers[name], parameter.value)
    for name, buffer in model.named_buffers():
        np.testing.assert_array_equal(initialisers[name], buffer)
    (batch_axis,) = [d.dim_param for d in exported.graph.input[0].type.tensor_type.shape.dim][:1]
    assert batch_axis == "batch"
    assert [i.name for i in exported.graph.input] == ["input"]
    assert [o.name for o in exported.graph.output] == ["output"]


@pytest.mark.parametrize("training", [True, False])
def test_export_runs_the_model_in_evaluation_mode_and_restores_each_modules_mode(training):
    model = trained_mlp(batchnorm=True).train(training)
    model.layers[5].train(not training)  # one module in the other mode
    modes = [module.training for module in model.modules()]
    running_mean = model.layers[1].running_mean.copy()
    exported = export(model, np.ones((3, 12), np.float32))
    assert [module.training for module in model.modules()] == modes
    np.testing.assert_array_equal(model.layers[1].running_mean, running_mean)  # not updated
    assert "Dropout" not in [node.op_type for node in exported.graph.node]


def test_names_for_inputs_and_outputs_and_several_of_each():
    w = TensorNode(np.ones((3, 2), np.float32), requires_grad=True, name="w")
    model = export(
        lambda a, b: (a @ w, a + b, a),
        np.ones((2, 3), np.float32),
        np.zeros((2, 3), np.float32),
        input_names=["a", "b"],
        output_names=["projected", "total", "same"],
    )
    assert [i.name for i in model.graph.input] == ["a", "b"]
    assert [o.name for o in model.graph.output] == ["projected", "total", "same"]
    assert "w" in [t.name for t in model.graph.initializer]
    a, b = np.arange(12, dtype=np.float32).reshape(4, 3), np.ones((4, 3), np.float32)
    projected, total, same = autograd.onnx.run(model, a, b)
    np.testing.assert_array_equal(same, a)
    np.testing.assert_allclose(total, a + b)


def test_examples_may_be_nodes_lists_or_numbers_and_lists_become_float32():
    model = export(lambda x: x * 2, [[1.0, 2.0], [3.0, 4.0]])
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    model = export(lambda x: x.exp(), TensorNode(np.ones((2, 1)), requires_grad=True))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert_round_trip(lambda x: x.tanh(), np.float32(0.5))


def test_a_static_batch_export_fixes_the_batch_size():
    model = export(lambda x: x.relu(), np.ones((2, 3), np.float32), dynamic_batch=False)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3]


# ----- what cannot be exported ---------------------------------------------------------------


class Square(Op):
    """y = x^2;  dL/dx = dL/dy * 2x"""

    @staticmethod
    def forward(context, x):
        context["x"] = x
        return x * x

    @staticmethod
    def backward(context, grad_output):
        return grad_output * 2 * context["x"]


def test_an_op_without_a_mapping_is_named_with_how_to_add_one():
    with pytest.raises(OnnxExportError, match=r"Square .*has no ONNX mapping.*mappings=\{Square"):
        export(lambda x: Square.do_forward(x) + 1, np.ones((2, 3), np.float32))


def test_a_mapping_given_to_export_writes_your_own_op():
    def square_to_onnx(graph, call):
        x = call.inputs[0]
        return graph.add("Mul", [x, x])

    x = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    fn = lambda x: Square.do_forward(x).sum(axis=1)  # noqa: E731
    assert_round_trip(fn, x, other_batches=(5,), mappings={Square: square_to_onnx})


def test_batch_norm_in_training_mode_is_refused():
    ones = TensorNode(np.ones(3, np.float32))
    with pytest.raises(OnnxExportError, match="training mode"):
        export(lambda x: AF.batch_norm(x, ones, ones), np.ones((4, 3), np.float32))


def test_a_graph_that_depends_on_the_batch_size_asks_for_a_static_batch():
    def fn(x):  # a different op when the batch is odd
        return x.relu() if len(x) % 2 else x.tanh()

    with pytest.raises(OnnxExportError, match="dynamic_batch=False"):
        export(fn, np.ones((2, 3), np.float32))
    labels = np.array([0, 1])
    with pytest.raises(OnnxExportError, match="one row larger.*dynamic_batch=False"):
        export(lambda x: AF.softmax_cross_entropy(x, labels), np.ones((2, 3), np.float32))


def test_integer_inputs_and_non_node_outputs_are_refused():
    with pytest.raises(OnnxExportError, match="dtype int64"):
        export(lambda x: x, np.ones(3, np.int64))
    with pytest.raises(OnnxExportError, match="returned ndarray"):
        export(lambda x: x.value, np.ones(3, np.float32))


def test_without_the_onnx_package_export_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(MissingPackageError, match=r"pip install 'autograd-nn\[onnx\]'"):
        autograd.onnx.export(lambda x: x.relu(), np.ones(3, np.float32), io.BytesIO())


def test_autograd_and_autograd_onnx_import_without_onnx():
    code = (
        "import sys; sys.modules['onnx'] = sys.modules['onnxruntime'] = None\n"
        "import autograd, autograd.onnx\n"
        "print(autograd.onnx.OPSET)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(autograd.onnx.OPSET)


def test_a_constant_made_as_large_as_the_batch_follows_it():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    column_sums = lambda x: x.T @ np.ones((len(x), 1), np.float32)  # noqa: E731
    assert_round_trip(column_sums, x, other_batches=(1, 5))
    with pytest.raises(OnnxExportError, match="different values for different rows"):
        export(lambda x: x + np.arange(len(x), dtype=np.float32)[:, None], x)
