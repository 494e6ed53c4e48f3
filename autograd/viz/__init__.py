"""Pictures of the computation graph, and a step-through of the backward pass.

- ``to_json(loss)``: the graph as plain dicts (no Graphviz needed);
- ``to_dot(loss)``: a Graphviz picture, inline in Jupyter; ``render(loss, "graph.svg")``: a file;
- ``step_through(loss)``: runs ``loss.backward()`` and records every step, for a page that steps
  through it op by op (inline in Jupyter, or ``.save_html("backward.html")``).

>>> from autograd import viz
>>> trace = viz.step_through(loss, names=locals())     # then `trace` in Jupyter
"""

from autograd.errors import GraphvizNotFoundError, PictureTooLargeError
from autograd.viz.picture import render, to_dot, to_json
from autograd.viz.stepper import BackwardStep, BackwardTrace, Sent, step_through

__all__ = [
    "BackwardStep", "BackwardTrace", "GraphvizNotFoundError", "PictureTooLargeError", "Sent",
    "render", "step_through", "to_dot", "to_json",
]  # fmt: skip
