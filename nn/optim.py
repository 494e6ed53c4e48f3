"""Optimisers (SGD, Adam, AdamW) and learning-rate schedules (StepLR, CosineAnnealingLR).

An optimiser holds a list of parameters and, for each one, a few NumPy arrays of state (a
momentum buffer, Adam's moment estimates). ``step()`` reads each parameter's ``grad`` and
updates its ``value`` in place. The updates are plain NumPy on ``.value`` arrays, so they build
no graph. Two rules keep them safe and lean:

- ``p.grad`` is never modified in place (gradient arrays may be shared between nodes), and
- intermediate results go into preallocated scratch arrays (``out=``), so a step allocates
  nothing once the first one is done.

Typical loop:

    optimizer = Adam(model.parameters(), lr=1e-3)
    for x, y in loader:
        optimizer.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

The formulas and defaults match ``torch.optim``, so trajectories agree to float32 precision.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable

import numpy as np

from autograd import TensorNode
from nn.checks import check_number, check_positive_int
from nn.errors import ParameterInUseError, StateDictError
from nn.files import load_arrays, save_arrays
from nn.module import Module, state_dict_problems

__all__ = ["SGD", "Adam", "AdamW", "CosineAnnealingLR", "LRScheduler", "Optimizer", "StepLR"]


class Optimizer:
    """Base class: keeps the parameters, their state arrays and the hyperparameters.

    Subclasses list their ``hyperparameters`` (attribute names saved in ``state_dict``), make
    each parameter's state in ``initial_state`` and write one parameter's update in ``update``.

    >>> optimizer = SGD(model.parameters(), lr=0.1)
    >>> optimizer.zero_grad(); loss.backward(); optimizer.step()
    """

    hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[TensorNode], **hyperparameters) -> None:
        name = type(self).__name__
        if isinstance(params, Module) or callable(params):
            given = "a Module" if isinstance(params, Module) else "the method itself"
            raise TypeError(
                f"{name} takes the parameters, not {given}: pass model.parameters(), "
                f"as in {name}(model.parameters(), lr=...)"
            )
        params = list(params)
        if not params:
            raise ValueError(
                f"{name} got an empty parameter list; pass model.parameters() of a model that "
                "has parameters (a generator can only be consumed once)"
            )
        for index, parameter in enumerate(params):
            if not isinstance(parameter, TensorNode) or parameter.value.dtype.kind != "f":
                raise TypeError(
                    f"{name}: parameter {index} must be a floating-point Parameter (TensorNode), "
                    f"got {type(parameter).__name__}"
                )
        if len({id(parameter) for parameter in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears more than once in the list")
        self.check_hyperparameters(hyperparameters)
        for key, value in hyperparameters.items():
            setattr(self, key, value)
        self.params = params
        self.state = [self.initial_state(parameter.value) for parameter in params]
        self._scratch: dict[tuple[int, int], np.ndarray] = {}

    # ----- what subclasses define ------------------------------------------------------------

    def check_hyperparameters(self, values: dict) -> None:
        """Raise ValueError for an invalid value (called before anything is set)."""
        check_number(type(self).__name__, "lr", values["lr"])

    def initial_state(self, value: np.ndarray) -> dict[str, np.ndarray]:
        """The state arrays of one parameter before the first step."""
        return {}

    def update(self, index: int, value: np.ndarray, grad: np.ndarray) -> None:
        """Update parameter ``index`` in place: ``value`` is its array, ``grad`` its gradient."""
        raise NotImplementedError

    # ----- the loop --------------------------------------------------------------------------

    def step(self) -> None:
        """Update every parameter that has a gradient; parameters whose grad is None are skipped
        (they took no part in the loss), and their state is left as it was.

        A ``.grad`` that is a node (``backward(create_graph=True)``) counts by its value. Its
        graph holds the parameter read-only, so the update goes into a copy that becomes the
        parameter's value: that graph keeps the values it saved, as PyTorch's keeps its own.
        """
        for index, parameter in enumerate(self.params):  # check all first: a refused step
            grad = parameter.grad  # changes nothing
            if grad is None or isinstance(grad, TensorNode) or parameter.value.flags.writeable:
                continue
            raise ParameterInUseError(
                f"{type(self).__name__}.step: parameter {index} (shape {parameter.shape}) is "
                "read-only because a graph that saved it for backward is still alive (a "
                "backward with retain_graph=True, or a forward whose result you still hold); "
                "updating it now would make that graph's next backward silently wrong. Run "
                "that backward first, or drop the graph (del loss), then step"
            )
        for index, parameter in enumerate(self.params):
            grad = parameter.grad
            if grad is None:
                continue
            if not isinstance(grad, TensorNode):
                self.update(index, parameter.value, grad)
            elif parameter.value.flags.writeable:
                self.update(index, parameter.value, grad.value)
            else:  # held by the graph of its own .grad: update a copy
                value = parameter.value.copy()
                self.update(index, value, grad.value)
                parameter.value = value

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``grad`` becomes None)."""
        for parameter in self.params:
            parameter.grad = None

    def scratch(self, index: int, slot: int = 0) -> np.ndarray:
        """A reusable array shaped like parameter ``index``, for intermediate results."""
        buffer = self._scratch.get((index, slot))
        if buffer is None:
            buffer = self._scratch[(index, slot)] = np.empty_like(self.params[index].value)
        return buffer

    # ----- saving and loading ----------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat dict of arrays (ready for ``np.savez``): the hyperparameters by name, and each
        parameter's state as ``state.<index>.<name>``. A copy: later steps do not change it.

        >>> sorted(SGD([w], lr=0.1, momentum=0.9).state_dict())
        ['lr', 'momentum', 'nesterov', 'state.0.momentum_buffer', 'weight_decay']
        """
        result = {name: np.array(getattr(self, name)) for name in self.hyperparameters}
        for index, state in enumerate(self.state):
            for key, array in state.items():
                result[f"state.{index}.{key}"] = array.copy()
        return result

    def load_state_dict(self, state: dict) -> Optimizer:
        """Restore hyperparameters and state from ``state_dict()``, after checking every key and
        shape; on a mismatch a StateDictError lists the problems and nothing is changed.

        >>> optimizer.load_state_dict(saved)
        """
        own = self.state_dict()
        values = {key: np.asarray(value) for key, value in state.items()}
        problems = state_dict_problems(own, values)
        name = type(self).__name__
        if problems:
            raise StateDictError(
                f"cannot load this state dict into {name} with {len(self.params)} parameters "
                "(nothing was changed): " + "; ".join(problems)
            )
        try:
            hyperparameters = {
                key: _like(getattr(self, key), values[key]) for key in self.hyperparameters
            }
            self.check_hyperparameters(hyperparameters)
            for index, parameter_state in enumerate(self.state):
                for key, array in parameter_state.items():
                    _check_counter(f"state.{index}.{key}", array, values[f"state.{index}.{key}"])
        except (TypeError, ValueError) as error:
            raise StateDictError(f"cannot load this state dict into {name}: {error}") from None
        for key, value in hyperparameters.items():
            setattr(self, key, value)
        for index, parameter_state in enumerate(self.state):
            for key, array in parameter_state.items():
                np.copyto(array, values[f"state.{index}.{key}"], casting="unsafe")
        return self

    def save(self, path: str | os.PathLike) -> None:
        """Write ``state_dict()`` to an ``.npz`` file, to resume training later.

        >>> optimizer.save("optimizer.npz")
        """
        save_arrays(path, self.state_dict())

    def load(self, path: str | os.PathLike) -> Optimizer:
        """Load a file written by ``save``, checked like ``load_state_dict``.

        >>> optimizer = Adam(model.parameters()).load("optimizer.npz")
        """
        return self.load_state_dict(load_arrays(path))

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({settings}; {len(self.params)} parameters)"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and L2 weight decay,
    as torch.optim.SGD (without dampening):

        g = grad + weight_decay * w
        buffer = momentum * buffer + g                      (when momentum > 0)
        direction = g + momentum * buffer  if nesterov  else  buffer   (or g without momentum)
        w = w - lr * direction

    >>> optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(
        self,
        params: Iterable[TensorNode],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay
        )

    def check_hyperparameters(self, values: dict) -> None:
        super().check_hyperparameters(values)
        check_number("SGD", "momentum", values["momentum"])
        check_number("SGD", "weight_decay", values["weight_decay"])
        if values["nesterov"] and values["momentum"] <= 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")

    def initial_state(self, value: np.ndarray) -> dict[str, np.ndarray]:
        return {"momentum_buffer": np.zeros_like(value)} if self.momentum else {}

    def update(self, index: int, value: np.ndarray, grad: np.ndarray) -> None:
        step = self.scratch(index, 0)
        if self.weight_decay:
            g = np.multiply(value, self.weight_decay, out=self.scratch(index, 1))
            g += grad
        else:
            g = grad
        if self.momentum:
            buffer = self.state[index]["momentum_buffer"]
            buffer *= self.momentum
            buffer += g
            if self.nesterov:
                np.multiply(buffer, self.momentum, out=step)
                step += g
                step *= self.lr
            else:
                np.multiply(buffer, self.lr, out=step)
        else:
            np.multiply(g, self.lr, out=step)
        value -= step


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as torch.optim.Adam: weight decay is L2, added to the gradient.

        g = grad + weight_decay * w;   t = t + 1
        m = beta1 * m + (1 - beta1) * g;    v = beta2 * v + (1 - beta2) * g^2
        w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    >>> optimizer = Adam(model.parameters(), lr=1e-3)
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[TensorNode],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        betas = tuple(betas)
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def check_hyperparameters(self, values: dict) -> None:
        name = type(self).__name__
        super().check_hyperparameters(values)
        check_number(name, "eps", values["eps"])
        check_number(name, "weight_decay", values["weight_decay"])
        betas = values["betas"]
        if len(betas) != 2 or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas!r}")

    def initial_state(self, value: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "step": np.zeros((), dtype=np.int64),
            "exp_avg": np.zeros_like(value),
            "exp_avg_sq": np.zeros_like(value),
        }

    def update(self, index: int, value: np.ndarray, grad: np.ndarray) -> None:
        if self.weight_decay:  # L2 regularisation: into the gradient, hence into m and v
            g = np.multiply(value, self.weight_decay, out=self.scratch(index, 1))
            g += grad
        else:
            g = grad
        self.adam_step(index, value, g)

    def adam_step(self, index: int, value: np.ndarray, g: np.ndarray) -> None:
        """The Adam update of ``value`` from gradient ``g``, shared with AdamW."""
        state = self.state[index]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        t = int(state["step"])
        beta1, beta2 = self.betas
        buffer = self.scratch(index, 0)

        m *= beta1  # m = beta1 * m + (1 - beta1) * g
        np.multiply(g, 1 - beta1, out=buffer)
        m += buffer
        v *= beta2  # v = beta2 * v + (1 - beta2) * g * g
        np.multiply(g, g, out=buffer)
        buffer *= 1 - beta2
        v += buffer

        np.sqrt(v, out=buffer)  # denominator: sqrt(v_hat) + eps, with v_hat = v / (1 - beta2^t)
        buffer /= math.sqrt(1 - beta2**t)
        buffer += self.eps
        np.divide(m, buffer, out=buffer)  # m_hat / denominator, with m_hat = m / (1 - beta1^t)
        buffer *= self.lr / (1 - beta1**t)
        value -= buffer


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as torch.optim.AdamW: the
    weights shrink by lr * weight_decay each step, outside the adaptive scaling,

        w = w * (1 - lr * weight_decay);   then the Adam update with g = grad.

    >>> optimizer = AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(
        self,
        params: Iterable[TensorNode],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def update(self, index: int, value: np.ndarray, grad: np.ndarray) -> None:
        if self.weight_decay:
            value *= 1 - self.lr * self.weight_decay
        self.adam_step(index, value, grad)


# ----- learning-rate schedules ---------------------------------------------------------------


class LRScheduler:
    """Base class: sets ``optimizer.lr`` to ``lr_at(epoch)``; call ``step()`` once per epoch.

    Subclasses define ``lr_at``. The values match torch.optim.lr_scheduler epoch by epoch.

    >>> scheduler = StepLR(optimizer, step_size=10)
    >>> for epoch in range(30): train_one_epoch(); scheduler.step()
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self._set(self.lr_at(0))

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def _set(self, lr: float) -> None:
        self.optimizer.lr = self.last_lr = lr

    def step(self) -> None:
        """Move to the next epoch and set the optimiser's learning rate for it."""
        self.last_epoch += 1
        self._set(self.lr_at(self.last_epoch))

    def get_last_lr(self) -> float:
        """The learning rate this schedule set last (a float; torch returns a one-item list)."""
        return self.last_lr

    def state_dict(self) -> dict[str, np.ndarray]:
        """``base_lr`` and ``last_epoch``, as arrays (for ``np.savez``)."""
        return {"base_lr": np.array(self.base_lr), "last_epoch": np.array(self.last_epoch)}

    def load_state_dict(self, state: dict) -> LRScheduler:
        """Resume the schedule where ``state_dict()`` was taken, setting the optimiser's lr."""
        if set(state) != {"base_lr", "last_epoch"}:
            raise StateDictError(
                f"{type(self).__name__}: expected keys ['base_lr', 'last_epoch'], got "
                f"{sorted(state)}"
            )
        self.base_lr = float(state["base_lr"])
        self.last_epoch = int(state["last_epoch"])
        self._set(self.lr_at(self.last_epoch))
        return self


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size): divide by 1/gamma every step_size epochs.

    >>> scheduler = StepLR(optimizer, step_size=10, gamma=0.1)   # 0.1, ..., 0.01 from epoch 10
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        check_positive_int("StepLR", "step_size", step_size)
        check_number("StepLR", "gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: from base_lr down
    to eta_min over T_max epochs along half a cosine (and back up after, as in PyTorch).

    >>> scheduler = CosineAnnealingLR(optimizer, T_max=50)
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        check_positive_int("CosineAnnealingLR", "T_max", T_max)
        check_number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (self.base_lr - self.eta_min) * cosine


# ----- helpers -------------------------------------------------------------------------------


def _check_counter(key: str, own: np.ndarray, given: np.ndarray) -> None:
    """A state array of integers (Adam's ``step``) counts something: whole numbers >= 0 only."""
    if own.dtype.kind not in "iu":
        return
    if given.dtype.kind not in "biuf" or not np.all(np.isfinite(given)):
        raise ValueError(f"{key} must be a whole number >= 0, got {given!r}")
    if np.any(given < 0) or np.any(given != np.round(given)):
        raise ValueError(f"{key} must be a whole number >= 0, got {given.tolist()}")


def _like(current, array: np.ndarray):
    """A loaded hyperparameter array as a Python value of the same kind as ``current``."""
    if isinstance(current, bool):
        return bool(array)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"expected a number like {current!r}, got {array.tolist()!r}")
    if isinstance(current, tuple):
        return tuple(float(item) for item in array)
    return float(array)
