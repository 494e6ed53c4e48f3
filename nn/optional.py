"""Importing the optional packages (tqdm, pooch, matplotlib) with a one-line message if absent."""

from __future__ import annotations

import importlib
from types import ModuleType

from nn.errors import MissingPackageError

#: The extra of ``autograd-nn`` that installs each optional package, and what it is needed for.
EXTRAS = {
    "tqdm": ("nn", "progress bars"),
    "pooch": ("nn", "downloading datasets"),
    "matplotlib": ("nn", "plots"),
    "graphviz": ("viz", "graph pictures"),
    "hypothesis": ("test", "property tests"),
    "onnx": ("onnx", "ONNX export"),
    "onnxruntime": ("test", "running model.onnx"),
}


def import_optional(name: str) -> ModuleType:
    """``importlib.import_module(name)``, or a MissingPackageError naming the extra to install.

    >>> tqdm = import_optional("tqdm.auto")
    """
    try:
        return importlib.import_module(name)
    except ImportError as error:
        package = name.partition(".")[0]
        extra, purpose = EXTRAS.get(package, ("all", "this feature"))
        raise MissingPackageError(
            f"{package} is not installed ({purpose} need it): "
            f"pip install 'autograd-nn[{extra}]' (or pip install {package})"
        ) from error
