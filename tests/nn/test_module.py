"""Module and Parameter: registration, traversal, modes, state dicts, saving, repr."""

import subprocess
import sys

import numpy as np
import pytest

import nn
from autograd import TensorNode
from nn import MLP, BatchNorm1d, Linear, Module, ModuleList, Parameter, ReLU, Sequential
from nn.module import StateDictError


class TwoLayer(Module):
    def __init__(self, hidden=4):
        super().__init__()
        self.encoder = Linear(3, hidden, rng=0)
        self.blocks = ModuleList([Linear(hidden, hidden, rng=1), Linear(hidden, 2, rng=2)])
        self.scale = Parameter(np.ones(2))

    def forward(self, x):
        h = self.encoder(x).relu()
        for block in self.blocks:
            h = block(h)
        return h * self.scale


def arrays_of(model):
    return {name: array.copy() for name, array in model.state_dict().items()}


def assert_same_arrays(first, second):
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


# ----- Parameter -----------------------------------------------------------------------------


def test_parameter_is_a_float32_tensor_node_that_requires_grad():
    parameter = Parameter(np.zeros(3))  # float64 input
    assert isinstance(parameter, TensorNode)
    assert parameter.dtype == np.float32
    assert parameter.requires_grad and parameter.is_leaf


def test_parameter_converts_integers_and_lists_to_float32():
    assert Parameter(np.arange(3)).dtype == np.float32
    assert Parameter([1, 2]).dtype == np.float32


def test_parameter_keeps_an_explicit_dtype():
    assert Parameter(np.zeros(3), dtype=np.float64).dtype == np.float64


def test_parameter_copies_its_input_so_updates_do_not_touch_the_callers_array():
    source = np.zeros(3, dtype=np.float32)
    parameter = Parameter(source)
    parameter.value += 1
    np.testing.assert_array_equal(source, 0)


def test_parameter_repr_names_the_class():
    assert repr(Parameter([1.0])).startswith("Parameter(")


def test_parameters_work_in_arithmetic_with_tensor_nodes():
    w = Parameter([2.0, 3.0])
    (TensorNode([1.0, 1.0]) * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [1.0, 1.0])


# ----- registration and traversal ----------------------------------------------------------


def test_named_parameters_use_dotted_names_through_containers():
    names = [name for name, _ in TwoLayer().named_parameters()]
    assert names == [
        "scale",
        "encoder.weight",
        "encoder.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.weight",
        "blocks.1.bias",
    ]


def test_named_parameters_of_an_mlp_follow_the_sequential_indices():
    names = [name for name, _ in MLP(2, [4], 3).named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]


def test_parameters_yields_the_registered_objects_themselves():
    model = TwoLayer()
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]
    assert any(p is model.encoder.weight for p in model.parameters())


def test_children_are_the_direct_submodules_in_assignment_order():
    model = TwoLayer()
    assert [name for name, _ in model.named_children()] == ["encoder", "blocks"]
    assert list(model.children()) == [model.encoder, model.blocks]


def test_named_modules_lists_every_module_depth_first_with_its_name():
    names = [name for name, _ in TwoLayer().named_modules()]
    assert names == ["", "encoder", "blocks", "blocks.0", "blocks.1"]


def test_a_shared_parameter_is_listed_once():
    shared = Linear(2, 2, rng=0)
    model = Sequential(shared, ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_reassigning_a_parameter_attribute_to_a_plain_value_unregisters_it():
    model = TwoLayer()
    model.scale = 2.0
    assert "scale" not in [name for name, _ in model.named_parameters()]


def test_deleting_a_submodule_unregisters_it():
    model = TwoLayer()
    del model.encoder
    assert not any(name.startswith("encoder") for name, _ in model.named_parameters())


def test_a_plain_list_of_modules_is_refused_with_a_pointer_to_module_list():
    class Broken(Module):
        def __init__(self):
            super().__init__()
            self.layers = [Linear(2, 2), Linear(2, 2)]

    with pytest.raises(TypeError, match="ModuleList"):
        Broken()


def test_forgetting_super_init_is_a_clear_error():
    class Forgetful(Module):
        def __init__(self):
            self.layer = Linear(2, 2)

    with pytest.raises(RuntimeError, match=r"super\(\).__init__\(\)"):
        Forgetful()


def test_a_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="forward"):
        Module()(1.0)


def test_register_buffer_requires_an_array():
    with pytest.raises(TypeError, match="NumPy array"):
        Module().register_buffer("count", 3)


def test_module_list_is_indexable_iterable_and_sized():
    layers = ModuleList([Linear(2, 3), Linear(3, 4)])
    assert len(layers) == 2
    assert layers[-1].out_features == 4
    assert [layer.in_features for layer in layers] == [2, 3]
    assert len(layers[1:]) == 1


# ----- modes and gradients -----------------------------------------------------------------


def test_train_and_eval_propagate_to_every_submodule():
    model = MLP(2, [4, 4], 3, batchnorm=True, dropout=0.5)
    assert model.eval() is model
    assert all(not module.training for module in model.modules())
    model.train()
    assert all(module.training for module in model.modules())


def test_zero_grad_clears_every_parameter_gradient():
    model = TwoLayer()
    model(np.ones((2, 3), dtype=np.float32)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_calling_a_module_labels_its_ops_with_the_module_scope():
    inner = Linear(3, 2, rng=0)
    model = Sequential(inner)
    y = model(np.ones((1, 3), dtype=np.float32))
    assert y.source.scope == (model, inner)


# ----- state dicts -------------------------------------------------------------------------


def test_state_dict_holds_parameters_and_buffers_by_dotted_name():
    model = Sequential(Linear(3, 4), BatchNorm1d(4))
    assert list(model.state_dict()) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
    ]


def test_state_dict_is_a_copy_that_later_updates_do_not_change():
    model = TwoLayer()
    state = model.state_dict()
    model.encoder.weight.value += 1
    assert not np.array_equal(state["encoder.weight"], model.encoder.weight.value)


def test_state_dict_round_trips_into_a_fresh_model():
    source, target = TwoLayer(), TwoLayer()
    for parameter in source.parameters():
        parameter.value[...] = np.random.default_rng(1).normal(size=parameter.shape)
    target.load_state_dict(source.state_dict())
    assert_same_arrays(arrays_of(source), arrays_of(target))
    x = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(source(x).value, target(x).value)


def test_load_state_dict_copies_in_place_so_parameter_objects_survive():
    model = TwoLayer()
    weight = model.encoder.weight
    array = weight.value
    model.load_state_dict(TwoLayer().state_dict())
    assert model.encoder.weight is weight and weight.value is array


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda state: state.pop("blocks.1.bias"), r"missing keys \['blocks.1.bias'\]"),
        (lambda state: state.update(extra=np.zeros(2)), r"unexpected keys \['extra'\]"),
        (
            lambda state: state.update({"encoder.weight": np.zeros((3, 5))}),
            r"'encoder.weight' has shape \(3, 5\) in the state dict but \(3, 4\) in the model",
        ),
    ],
    ids=["missing", "unexpected", "wrong-shape"],
)
def test_a_bad_state_dict_raises_and_leaves_the_model_unchanged(corrupt, message):
    model = TwoLayer()
    before = arrays_of(model)
    state = {name: array + 1 for name, array in model.state_dict().items()}
    corrupt(state)
    with pytest.raises(StateDictError, match=message):
        model.load_state_dict(state)
    assert_same_arrays(before, arrays_of(model))


def test_a_state_dict_from_another_architecture_is_refused_naming_the_keys():
    model = MLP(2, [4], 3)
    before = arrays_of(model)
    with pytest.raises(StateDictError) as raised:
        model.load_state_dict(MLP(2, [5], 3).state_dict())
    assert "layers.0.weight" in str(raised.value) and "(2, 5)" in str(raised.value)
    assert_same_arrays(before, arrays_of(model))


def test_state_dict_error_is_a_value_error():
    assert issubclass(StateDictError, ValueError)


def test_batchnorm_running_statistics_are_saved_and_restored():
    source = BatchNorm1d(3)
    source(np.random.default_rng(0).normal(2.0, 3.0, size=(8, 3)).astype(np.float32))
    target = BatchNorm1d(3).load_state_dict(source.state_dict())
    np.testing.assert_array_equal(target.running_mean, source.running_mean)
    np.testing.assert_array_equal(target.running_var, source.running_var)
    assert not np.allclose(target.running_mean, 0)


# ----- save and load -----------------------------------------------------------------------


def test_save_and_load_round_trip_through_an_npz_file(tmp_path):
    source = MLP(3, [5], 2, batchnorm=True, rng=0)
    source(np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32))  # move the stats
    path = tmp_path / "model.npz"
    source.save(path)
    target = MLP(3, [5], 2, batchnorm=True, rng=1).load(path)
    assert_same_arrays(arrays_of(source), arrays_of(target))


def test_save_writes_exactly_the_path_given_and_leaves_no_temporary_file(tmp_path):
    Linear(2, 2).save(tmp_path / "checkpoint")
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint"]
    Linear(2, 2).load(tmp_path / "checkpoint")


def test_load_validates_the_file_like_load_state_dict(tmp_path):
    path = tmp_path / "other.npz"
    MLP(3, [6], 2).save(path)
    model = MLP(3, [5], 2)
    before = arrays_of(model)
    with pytest.raises(StateDictError, match="layers.0.weight"):
        model.load(path)
    assert_same_arrays(before, arrays_of(model))


# ----- repr --------------------------------------------------------------------------------


def test_repr_shows_the_tree_and_the_parameter_count():
    text = repr(MLP(2, [4], 3))
    assert text.splitlines()[:6] == [
        "MLP(",
        "  (layers): Sequential(",
        "    (0): Linear(in_features=2, out_features=4, bias=True)",
        "    (1): ReLU()",
        "    (2): Linear(in_features=4, out_features=3, bias=True)",
        "  )",
    ]
    assert text.endswith(f"parameters: {2 * 4 + 4 + 4 * 3 + 3}")


def test_num_parameters_counts_every_trainable_number():
    assert Linear(3, 2).num_parameters() == 3 * 2 + 2
    assert Linear(3, 2, bias=False).num_parameters() == 3 * 2
    assert nn.BatchNorm1d(4, affine=False).num_parameters() == 0


def test_repr_groups_thousands_in_the_count():
    assert repr(Linear(100, 100)).endswith("parameters: 10,100")


def test_importing_nn_loads_neither_the_datasets_nor_their_dependencies():
    code = (
        "import sys, nn; "
        "print(sorted(m for m in ('nn.data', 'pooch', 'tqdm', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_parameters_named_file_and_allow_pickle_survive_save_and_load(tmp_path):
    class Awkward(nn.Module):
        def __init__(self):
            super().__init__()
            self.file = nn.Parameter(np.array([1.0, 2.0]))
            self.allow_pickle = nn.Parameter(np.array([3.0, 4.0, 5.0]))

    Awkward().save(tmp_path / "awkward.npz")
    restored = Awkward()
    restored.file.value[:] = 0
    restored.allow_pickle.value[:] = 0
    restored.load(tmp_path / "awkward.npz")
    np.testing.assert_array_equal(restored.file.value, [1.0, 2.0])
    np.testing.assert_array_equal(restored.allow_pickle.value, [3.0, 4.0, 5.0])


def test_saving_to_a_missing_folder_names_the_users_path(tmp_path):
    target = tmp_path / "missing" / "model.npz"
    with pytest.raises(FileNotFoundError, match=str(target).replace(".", r"\.")) as caught:
        nn.MLP(2, [3], 2, rng=0).save(target)
    assert ".partial" not in str(caught.value)


# ----- loading while a graph holds the parameters (issue 15) --------------------------------------


def test_load_state_dict_while_a_graph_is_alive_changes_nothing_and_says_why():
    from nn.errors import ParameterInUseError

    model = MLP(4, [5], 3, rng=0)
    state = {name: array + 1 for name, array in model.state_dict().items()}
    before = model.state_dict()
    loss = model(TensorNode(np.ones((2, 4), np.float32))).sum()  # holds the weights read-only
    with pytest.raises(ParameterInUseError, match="nothing was changed.*del loss"):
        model.load_state_dict(state)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])  # not half loaded
    del loss
    model.load_state_dict(state)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, state[name])
