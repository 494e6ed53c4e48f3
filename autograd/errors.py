"""Every exception the engine raises, in one place.

Each is a subclass of the builtin a user would catch anyway (``ValueError`` for bad shapes,
``RuntimeError`` for misuse of the graph), so ``except ValueError`` keeps working.
"""


class ShapeError(ValueError):
    """Shapes that do not fit an op: the message names the op, the shapes and what would fit.

    >>> TensorNode(np.ones((2, 3))) @ TensorNode(np.ones((2, 3)))
    ShapeError: MatMul: cannot multiply shapes (2, 3) and (2, 3): ...
    """


class GraphReleasedError(RuntimeError):
    """A backward pass reached an OpNode whose saved context was freed by an earlier pass."""


class GradientError(RuntimeError):
    """``backward`` cannot start: a non-scalar root without ``grad``, or a root needing no grad."""


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()``: the first op that produced a NaN or an infinity."""


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree: names the input, the element and both values."""


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is missing, so the graph cannot be rendered to an image.

    >>> render(loss, "graph.svg")   # on a machine without Graphviz
    GraphvizNotFoundError: Graphviz's `dot` program was not found on PATH; install it with ...
    """


class PictureTooLargeError(ValueError):
    """A graph too large to lay out as a picture in seconds: says what to pass instead.

    >>> to_dot(loss_of_a_big_model)
    PictureTooLargeError: this picture would have 4210 nodes (1390 ops), ...; collapse=True ...
    """


class MissingPackageError(ImportError):
    """An optional package is not installed: one line naming it and the extra that brings it.

    The engine needs only NumPy; ``autograd.testing`` needs hypothesis and ``autograd.viz``
    graphviz. (``nn`` has its own, for tqdm, pooch and matplotlib: the engine never imports nn.)

    >>> import autograd.testing   # without hypothesis
    MissingPackageError: hypothesis is not installed (property tests need it): pip install ...
    """

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{package} is not installed ({purpose} need it): "
            f"pip install 'autograd-nn[{extra}]' (or pip install {package})",
            name=package,
        )


class ReplayError(RuntimeError):
    """``autograd.replay`` cannot record a step without risking a wrong replay: names what fn did
    (a constant made inside it, an array constant that is not an argument) and what to do."""
