"""Optimisers and schedules: trajectories against torch.optim, state dicts, resuming, errors."""

import math

import numpy as np
import pytest

import autograd
from autograd import TensorNode
from nn import MLP, Parameter, optim
from nn.errors import ParameterInUseError
from nn.functional import cross_entropy
from nn.module import StateDictError

STEPS = 20
RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3)).astype(np.float32)
Y = RNG.normal(size=(8, 2)).astype(np.float32)
W0 = RNG.normal(size=(3, 2)).astype(np.float32)
B0 = RNG.normal(size=2).astype(np.float32)
C0 = RNG.normal(size=2).astype(np.float32)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def regression_loss(w, b, c, step, constant=TensorNode):
    """A tiny linear regression; ``c`` takes part only on even steps, so on odd steps its grad
    is None and the optimiser must skip it."""
    residual = constant(X) @ w + b - constant(Y)
    loss = (residual * residual).mean()
    if step % 2 == 0:
        loss = loss + (c * c).sum() * 0.1
    return loss


def our_trajectory(make_optimizer):
    w, b, c = Parameter(W0), Parameter(B0), Parameter(C0)
    optimizer = make_optimizer([w, b, c])
    values = []
    for step in range(STEPS):
        optimizer.zero_grad()
        regression_loss(w, b, c, step).backward()
        optimizer.step()
        values.append([w.value.copy(), b.value.copy(), c.value.copy()])
    return values


def torch_trajectory(torch, make_optimizer):
    w, b, c = (torch.tensor(v.copy(), requires_grad=True) for v in (W0, B0, C0))
    optimizer = make_optimizer([w, b, c])
    values = []
    for step in range(STEPS):
        optimizer.zero_grad(set_to_none=True)
        regression_loss(w, b, c, step, torch.tensor).backward()
        optimizer.step()
        values.append([v.detach().numpy().copy() for v in (w, b, c)])
    return values


CONFIGURATIONS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd-momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd-nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd-weight-decay": ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    "sgd-all": ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05}),
    "adam": ("Adam", {"lr": 0.05}),
    "adam-betas-eps": ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
    "adam-weight-decay": ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    "adamw": ("AdamW", {"lr": 0.05}),
    "adamw-strong-decay": ("AdamW", {"lr": 0.05, "weight_decay": 0.5}),
}


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_trajectory_matches_torch_optim(torch, configuration):
    name, settings = CONFIGURATIONS[configuration]
    ours = our_trajectory(lambda params: getattr(optim, name)(params, **settings))
    theirs = torch_trajectory(torch, lambda params: getattr(torch.optim, name)(params, **settings))
    for step, (our_values, their_values) in enumerate(zip(ours, theirs)):
        for index, (a, b) in enumerate(zip(our_values, their_values)):
            np.testing.assert_allclose(
                a, b, rtol=1e-5, atol=1e-6, err_msg=f"step {step}, parameter {index}"
            )
    assert not np.allclose(ours[-1][0], W0)  # the problem really moved the weights


@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_step_never_modifies_the_gradient_arrays(configuration):
    name, settings = CONFIGURATIONS[configuration]
    w = Parameter(W0)
    optimizer = getattr(optim, name)([w], **settings)
    for _ in range(3):
        optimizer.zero_grad()
        regression_loss(w, 0.0, 0.0, 1).backward()
        grad, copy = w.grad, w.grad.copy()
        optimizer.step()
        assert w.grad is grad
        np.testing.assert_array_equal(grad, copy)


def test_step_updates_the_value_array_in_place():
    w = Parameter(W0)
    array = w.value
    optimizer = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    optimizer.step()
    assert w.value is array and not np.array_equal(array, W0)


def test_parameters_without_a_gradient_are_left_alone():
    used, unused = Parameter([1.0]), Parameter([2.0])
    optimizer = optim.Adam([used, unused], lr=0.1)
    (used * used).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(unused.value, [2.0])
    assert int(optimizer.state_dict()["state.1.step"]) == 0


def test_zero_grad_clears_the_gradients():
    w = Parameter([1.0])
    optimizer = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    optimizer.zero_grad()
    assert w.grad is None


# ----- state dicts and resuming ------------------------------------------------------------


def test_optimizer_state_dict_round_trips():
    w = Parameter(W0)
    first = optim.Adam([w], lr=0.05)
    for _ in range(3):
        first.zero_grad()
        regression_loss(w, 0.0, 0.0, 1).backward()
        first.step()
    second = optim.Adam([Parameter(W0)], lr=0.5).load_state_dict(first.state_dict())
    assert second.lr == 0.05 and second.betas == (0.9, 0.999)
    for key, value in first.state_dict().items():
        np.testing.assert_array_equal(second.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda state: state.pop("state.0.exp_avg"), "missing keys"),
        (lambda state: state.update(momentum=np.array(0.9)), "unexpected keys"),
        (
            lambda state: state.update({"state.0.exp_avg_sq": np.zeros(3)}),
            r"'state.0.exp_avg_sq' has shape \(3,\)",
        ),
        (lambda state: state.update(lr=np.array(-1.0)), "lr must be"),
    ],
    ids=["missing", "unexpected", "wrong-shape", "bad-value"],
)
def test_a_bad_optimizer_state_dict_raises_and_changes_nothing(corrupt, message):
    optimizer = optim.Adam([Parameter(W0)], lr=0.05)
    before = optimizer.state_dict()
    state = {key: value + 1 for key, value in before.items()}
    corrupt(state)
    with pytest.raises(StateDictError, match=message):
        optimizer.load_state_dict(state)
    after = optimizer.state_dict()
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=key)


def test_an_sgd_state_dict_does_not_load_into_adam():
    sgd = optim.SGD([Parameter(W0)], lr=0.1, momentum=0.9)
    with pytest.raises(StateDictError, match="exp_avg"):
        optim.Adam([Parameter(W0)]).load_state_dict(sgd.state_dict())


SPIRAL_X = np.random.default_rng(1).normal(size=(32, 4)).astype(np.float32)
SPIRAL_Y = np.random.default_rng(2).integers(0, 3, size=32)


def train(model, optimizer, scheduler, steps, first_step=0):
    for step in range(first_step, first_step + steps):
        batch = slice(8 * (step % 4), 8 * (step % 4) + 8)
        optimizer.zero_grad()
        cross_entropy(model(SPIRAL_X[batch]), SPIRAL_Y[batch]).backward()
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: optim.Adam(params, lr=0.01, weight_decay=1e-3),
        lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    ],
    ids=["adam", "sgd-nesterov"],
)
def test_saving_loading_and_continuing_equals_not_stopping(tmp_path, make_optimizer):
    def fresh(seed):
        model = MLP(4, [8], 3, batchnorm=True, rng=seed)
        optimizer = make_optimizer(model.parameters())
        return model, optimizer, optim.StepLR(optimizer, step_size=3, gamma=0.5)

    straight, straight_optimizer, straight_scheduler = fresh(0)
    train(straight, straight_optimizer, straight_scheduler, 10)

    stopped, stopped_optimizer, stopped_scheduler = fresh(0)
    train(stopped, stopped_optimizer, stopped_scheduler, 5)
    stopped.save(tmp_path / "model.npz")
    stopped_optimizer.save(tmp_path / "optimizer.npz")
    np.savez(tmp_path / "scheduler.npz", **stopped_scheduler.state_dict())

    resumed, resumed_optimizer, resumed_scheduler = fresh(1)  # different weights to start
    resumed.load(tmp_path / "model.npz")
    resumed_optimizer.load(tmp_path / "optimizer.npz")
    resumed_scheduler.load_state_dict(dict(np.load(tmp_path / "scheduler.npz")))
    train(resumed, resumed_optimizer, resumed_scheduler, 5, first_step=5)

    for (name, expected), (_, actual) in zip(
        straight.state_dict().items(), resumed.state_dict().items()
    ):
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    assert resumed_optimizer.lr == straight_optimizer.lr


# ----- schedules ---------------------------------------------------------------------------


def schedule_pairs(torch, make_ours, make_theirs, epochs):
    ours = make_ours(optim.SGD([Parameter([0.0])], lr=0.5))
    theirs = make_theirs(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5))
    pairs = []
    for _ in range(epochs):
        pairs.append((ours.get_last_lr(), theirs.get_last_lr()[0]))
        ours.step()
        theirs.optimizer.step()
        theirs.step()
    return pairs


def test_step_lr_matches_torch(torch):
    pairs = schedule_pairs(
        torch,
        lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        12,
    )
    for epoch, (ours, theirs) in enumerate(pairs):
        assert ours == pytest.approx(theirs, rel=1e-9), f"epoch {epoch}"
    assert pairs[3][0] == pytest.approx(0.25)


@pytest.mark.parametrize("eta_min", [0.0, 0.05])
def test_cosine_annealing_matches_torch_beyond_one_period(torch, eta_min):
    pairs = schedule_pairs(
        torch,
        lambda o: optim.CosineAnnealingLR(o, T_max=5, eta_min=eta_min),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=eta_min),
        16,
    )
    for epoch, (ours, theirs) in enumerate(pairs):
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-9), f"epoch {epoch}"
    assert pairs[5][0] == pytest.approx(eta_min)


def test_a_schedule_sets_the_optimizer_learning_rate():
    optimizer = optim.SGD([Parameter([0.0])], lr=1.0)
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=2)
    scheduler.step()
    assert optimizer.lr == pytest.approx(0.5) == scheduler.get_last_lr()


@pytest.mark.parametrize(
    "make",
    [
        lambda o: optim.StepLR(o, step_size=0),
        lambda o: optim.StepLR(o, step_size=2, gamma=-1.0),
        lambda o: optim.CosineAnnealingLR(o, T_max=0),
        lambda o: optim.CosineAnnealingLR(o, T_max=3, eta_min=math.nan),
    ],
)
def test_schedules_refuse_bad_settings(make):
    with pytest.raises(ValueError):
        make(optim.SGD([Parameter([0.0])], lr=0.1))


# ----- bad arguments -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_an_empty_parameter_list_is_a_clear_error(name):
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)([], lr=0.1)


def test_an_exhausted_generator_is_an_empty_parameter_list():
    parameters = MLP(2, [3], 2).parameters()
    list(parameters)
    with pytest.raises(ValueError, match="generator can only be consumed once"):
        optim.SGD(parameters, lr=0.1)


@pytest.mark.parametrize("lr", [-0.1, math.nan, math.inf, "0.1", None])
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_an_invalid_learning_rate_is_refused(name, lr):
    with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
        getattr(optim, name)([Parameter([0.0])], lr=lr)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True needs momentum"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay"),
        (lambda p: optim.Adam(p, betas=(0.9, 1.0)), "betas"),
        (lambda p: optim.Adam(p, betas=(0.9,)), "betas"),
        (lambda p: optim.AdamW(p, eps=-1e-8), "eps"),
    ],
)
def test_invalid_hyperparameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make([Parameter([0.0])])


def test_a_repeated_parameter_is_refused():
    w = Parameter([0.0])
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)


def test_non_parameters_are_refused():
    with pytest.raises(TypeError, match="parameter 1"):
        optim.SGD([Parameter([0.0]), np.zeros(2)], lr=0.1)


def test_tensor_nodes_that_require_grad_can_be_optimised():
    x = TensorNode([3.0], requires_grad=True)
    optimizer = optim.SGD([x], lr=0.25)
    (x * x).sum().backward()
    optimizer.step()
    np.testing.assert_allclose(x.value, [1.5])


@pytest.mark.parametrize("given", ["model", "model.parameters"])
def test_passing_the_model_or_the_unbound_method_says_to_call_parameters(given):
    model = MLP(3, [4], 2, rng=0)
    params = model if given == "model" else model.parameters
    with pytest.raises(TypeError, match=r"pass model\.parameters\(\)"):
        optim.Adam(params)


def _adam_state():
    model = MLP(3, [4], 2, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=0.1)
    model(TensorNode(np.ones((2, 3), np.float32))).sum().backward()
    optimizer.step()
    return model, optimizer.state_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": np.array(-1.0)}, "lr must be"),
        ({"lr": np.array("fast")}, "expected a number"),
        ({"state.0.step": np.array(-1)}, r"state\.0\.step must be a whole number >= 0"),
        ({"state.0.step": np.array(1.5)}, r"state\.0\.step must be a whole number >= 0"),
    ],
)
def test_load_state_dict_refuses_a_bad_lr_or_step_and_changes_nothing(change, message):
    model, state = _adam_state()
    fresh = optim.Adam(model.parameters(), lr=0.5)
    with pytest.raises(StateDictError, match=message):
        fresh.load_state_dict({**state, **change})
    assert fresh.lr == 0.5 and int(fresh.state[0]["step"]) == 0


# ----- a step after backward(create_graph=True) (issue 15) ----------------------------------------


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_a_step_after_a_create_graph_backward_uses_the_grads_value_as_pytorch_does(name):
    torch = pytest.importorskip("torch")
    start = np.array([0.5, -1.0, 2.0], np.float32)
    w = Parameter(start)
    loss = (w * w * w).sum()
    loss.backward(create_graph=True)  # w.grad is a node whose graph holds w
    optimizer = getattr(optim, name)([w], lr=0.1)
    optimizer.step()

    w_torch = torch.tensor(start, requires_grad=True)
    (w_torch * w_torch * w_torch).sum().backward(create_graph=True)
    getattr(torch.optim, name)([w_torch], lr=0.1).step()
    np.testing.assert_allclose(w.value, w_torch.detach().numpy(), rtol=1e-6)
    # The grad's graph kept the values it saved: d(sum 3 w^2)/dw is still 6 w at the start.
    (second,) = autograd.grad(w.grad.sum(), w)
    np.testing.assert_allclose(second.value, 6 * start)


def test_a_step_while_a_forward_graph_is_alive_is_still_refused():
    w = Parameter(np.ones(3, np.float32))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(ParameterInUseError, match="read-only"):
        optim.SGD([w], lr=0.1).step()
