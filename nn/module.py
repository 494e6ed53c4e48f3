"""Module and Parameter: the bookkeeping that turns a few ops into a trainable model.

A ``Module`` is a class whose ``forward`` builds a graph from its inputs and its parameters. What
it adds over a plain function is bookkeeping: assigning a ``Parameter`` or another ``Module`` to
an attribute registers it, so the model can list its parameters for an optimiser, switch all its
layers between training and evaluation, and save or restore every array by a dotted name such as
``layers.0.weight``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from autograd import TensorNode, scope
from nn.errors import ParameterInUseError, StateDictError
from nn.files import load_arrays, save_arrays

__all__ = ["Module", "ModuleList", "Parameter", "StateDictError", "save_arrays"]


class Parameter(TensorNode):
    """A trainable array: a TensorNode that requires grad, float32 unless ``dtype`` says otherwise.

    The value is copied (and converted to ``dtype``), so later in-place updates by an optimiser
    never touch the array you passed in.

    >>> w = Parameter(np.zeros((3, 2)))
    >>> w.dtype, w.requires_grad
    (dtype('float32'), True)
    """

    __slots__ = ()

    def __init__(self, value, dtype=np.float32, name: str | None = None) -> None:
        value = getattr(value, "value", value)  # a TensorNode's array
        super().__init__(np.array(value, dtype=dtype), requires_grad=True, name=name)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__().removeprefix("TensorNode")


class Module:
    """Base class of layers and models: subclass it, assign parameters and sub-modules as
    attributes in ``__init__``, and write ``forward``.

    >>> class Affine(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.weight = Parameter(np.ones((3, 2)))
    ...     def forward(self, x):
    ...         return x @ self.weight
    >>> [name for name, _ in Affine().named_parameters()]
    ['weight']
    """

    def __init__(self) -> None:
        # object.__setattr__ because our own __setattr__ relies on these dicts existing.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})
        self.training = True

    # ----- calling ---------------------------------------------------------------------------

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(...)")

    def __call__(self, *args, **kwargs):
        """Run ``forward``, labelling the ops it creates with this module (``OpNode.scope``)."""
        with scope(self):
            return self.forward(*args, **kwargs)

    # ----- registration ----------------------------------------------------------------------
    # Registered objects live both in a registry (for traversal) and in __dict__ (so that
    # ``self.weight`` is an ordinary, fast attribute lookup).

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}: call super().__init__() at the start of __init__, "
                f"before assigning attributes such as {name!r}"
            )
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.register_module(name, value)
        elif name in self._buffers:
            self.register_buffer(name, value)
        else:
            _refuse_unregistered_containers(self, name, value)
            self._forget(name)
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)

    def register_parameter(self, name: str, parameter: Parameter | None) -> None:
        """Register ``parameter`` under ``name`` (what ``self.name = Parameter(...)`` does).
        None records an absent parameter, such as a Linear's bias with ``bias=False``.

        >>> self.register_parameter("bias", None)
        """
        if parameter is not None and not isinstance(parameter, Parameter):
            raise TypeError(
                f"{type(self).__name__}.{name} must be a Parameter or None, got "
                f"{type(parameter).__name__}"
            )
        self._forget(name)
        self._parameters[name] = parameter
        object.__setattr__(self, name, parameter)

    def register_module(self, name: str, module: Module) -> None:
        """Register a sub-module under ``name`` (what ``self.name = SomeModule()`` does).

        >>> self.register_module("encoder", Linear(4, 2))
        """
        if not isinstance(module, Module):
            raise TypeError(
                f"{type(self).__name__}.{name} must be a Module, got {type(module).__name__}"
            )
        self._forget(name)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Register an array that is state but not trained, such as BatchNorm's running mean:
        it is saved in ``state_dict`` and restored by ``load_state_dict``, but has no gradient.

        >>> self.register_buffer("running_mean", np.zeros(features, dtype=np.float32))
        """
        if not isinstance(array, np.ndarray):
            raise TypeError(
                f"buffer {type(self).__name__}.{name} must be a NumPy array, got "
                f"{type(array).__name__}"
            )
        self._forget(name)
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ----- traversal -------------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``, "" at the top) and every sub-module, depth first.

        >>> [name for name, _ in MLP(2, [4], 3).named_modules()]
        ['', 'layers', 'layers.0', 'layers.1', 'layers.2']
        """
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (_join(name, child_name), child) for child_name, child in module.named_children()
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules as ``(name, module)`` pairs, in the order they were set.

        >>> [name for name, _ in MLP(2, [4], 3).named_children()]
        ['layers']
        """
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in the order they were set."""
        yield from self._modules.values()

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name; a parameter shared by two layers appears once.

        >>> [name for name, _ in MLP(2, [4], 3).named_parameters()]
        ['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias']
        """
        seen = set()
        for module_name, module in self.named_modules():
            for name, parameter in module._parameters.items():
                if parameter is not None and id(parameter) not in seen:
                    seen.add(id(parameter))
                    yield _join(module_name, name), parameter

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter, for an optimiser: ``SGD(model.parameters(), lr=0.1)``."""
        for _, parameter in self.named_parameters():
            yield parameter

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        """Every buffer (non-trained state, such as running statistics) with its dotted name."""
        for module_name, module in self.named_modules():
            for name, array in module._buffers.items():
                yield _join(module_name, name), array

    def num_parameters(self) -> int:
        """The number of trainable numbers: the sum of the parameters' sizes.

        >>> Linear(3, 2).num_parameters()
        8
        """
        return sum(parameter.size for parameter in self.parameters())

    # ----- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Put this module and all sub-modules in training mode (Dropout drops, BatchNorm uses
        batch statistics). Returns the module, so ``model = Model().train()`` works."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all sub-modules in evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``grad`` becomes None) before the next backward."""
        for parameter in self.parameters():
            parameter.grad = None

    # ----- saving and loading ----------------------------------------------------------------

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Dotted name -> the live array (no copy) of every parameter and buffer."""
        arrays = {}
        for module_name, module in self.named_modules():
            for name, parameter in module._parameters.items():
                if parameter is not None:
                    arrays[_join(module_name, name)] = parameter.value
            for name, array in module._buffers.items():
                arrays[_join(module_name, name)] = array
        return arrays

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter and buffer, by dotted name; later training does not change it.

        >>> list(BatchNorm1d(3).state_dict())
        ['weight', 'bias', 'running_mean', 'running_var']
        """
        return {name: array.copy() for name, array in self._state_arrays().items()}

    def load_state_dict(self, state: dict) -> Module:
        """Copy the arrays of ``state`` into this model's parameters and buffers, in place.

        Every key, shape and dtype is checked first; on any mismatch a StateDictError lists them
        all and nothing is changed, so a model is never left half loaded.

        >>> model.load_state_dict(other_model.state_dict())
        """
        targets = self._state_arrays()
        values = {name: np.asarray(getattr(value, "value", value)) for name, value in state.items()}
        problems = state_dict_problems(targets, values, where="in the model")
        for name, target in targets.items():
            value = values.get(name)
            if value is None or value.shape != target.shape:
                continue
            if not np.can_cast(value.dtype, target.dtype, casting="same_kind"):
                problems.append(
                    f"{name!r} has dtype {value.dtype} in the state dict, which cannot be "
                    f"stored in the model's {target.dtype}"
                )
        if problems:
            raise StateDictError(
                f"cannot load this state dict into {type(self).__name__} (nothing was changed): "
                + "; ".join(problems)
            )
        in_use = [name for name, target in targets.items() if not target.flags.writeable]
        if in_use:
            raise ParameterInUseError(
                f"{type(self).__name__}.load_state_dict: a graph that saved "
                f"{', '.join(map(repr, in_use))} for backward is still alive (a backward with "
                "retain_graph=True, or a forward whose result you still hold), so they are "
                "read-only and nothing was changed; loading now would make that graph's next "
                "backward silently wrong. Run that backward first, or drop the graph (del loss), "
                "then load"
            )
        for name, target in targets.items():
            np.copyto(target, values[name], casting="same_kind")
        return self

    def save(self, path: str | os.PathLike) -> None:
        """Write ``state_dict()`` to an ``.npz`` file at exactly ``path``.

        >>> model.save("model.npz")
        """
        save_arrays(path, self.state_dict())

    def load(self, path: str | os.PathLike) -> Module:
        """Load a file written by ``save``, checked like ``load_state_dict``. Returns the module.

        >>> model = MLP(784, [128], 10).load("model.npz")
        """
        return self.load_state_dict(load_arrays(path))

    # ----- printing --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text between the parentheses of this module's line in ``repr``, e.g. sizes."""
        return ""

    def _tree(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in children:
            child_text = child._tree().replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        lines.append(")")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """The tree of sub-modules, as PyTorch prints it, then the number of parameters."""
        count = self.num_parameters()
        if count == 0:
            return self._tree()
        return f"{self._tree()}\nparameters: {count:,}"


class ModuleList(Module):
    """A list of modules that registers them (a plain Python list would hide them from
    ``parameters()``). Indexable, iterable, ``len``; names its items "0", "1", ...

    >>> self.blocks = ModuleList([Linear(4, 4) for _ in range(3)])
    >>> len(self.blocks), self.blocks[0]
    """

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end, registered under the next index."""
        self.register_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _refuse_unregistered_containers(owner: Module, name: str, value) -> None:
    """A list or dict of modules or parameters would be invisible to ``parameters()``: say so."""
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return
    if any(isinstance(item, Module | Parameter) for item in items):
        raise TypeError(
            f"{type(owner).__name__}.{name}: a plain {type(value).__name__} of modules or "
            "parameters would not be registered (parameters() and state_dict() would miss them); "
            "use ModuleList([...]) or Sequential(...), or assign each one as its own attribute"
        )


def state_dict_problems(
    own: dict[str, np.ndarray], given: dict[str, np.ndarray], where: str = "here"
) -> list[str]:
    """What stops ``given`` from loading into ``own``: missing and unexpected keys, and arrays
    whose shapes differ. Modules and optimisers both check with this before changing anything.

    >>> state_dict_problems({"w": np.zeros(2)}, {"w": np.zeros(3)})
    ["'w' has shape (3,) in the state dict but (2,) here"]
    """
    problems = []
    missing = [key for key in own if key not in given]
    unexpected = [key for key in given if key not in own]
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected}")
    for key, array in own.items():
        if key in given and given[key].shape != array.shape:
            problems.append(
                f"{key!r} has shape {given[key].shape} in the state dict but {array.shape} {where}"
            )
    return problems
