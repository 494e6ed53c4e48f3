"""The step-through page: the graph's picture as inline SVG, the recorded steps as JSON, and a
small plain-JavaScript stepper (stepper.js, stepper.css), all in one piece of HTML.

Nothing in it reaches the network: no CDN, no fonts, no images to fetch; the script reads its
data with JSON.parse (never eval) and keeps nothing in storage. Every output gets a fresh element
id and every style and lookup is scoped to it, so two steppers in one notebook never touch each
other. Where the script does not run (an untrusted notebook, a preview), the picture still shows
the graph after the pass, with every gradient, and one line says what stepping needs.
"""

from __future__ import annotations

import html
import importlib.resources
import inspect
import json
import secrets
import xml.etree.ElementTree as ElementTree

from autograd.graph import walk
from autograd.viz import values
from autograd.viz.picture import _describe, _summary, draw, operand_number, run_dot

SVG = "http://www.w3.org/2000/svg"
ElementTree.register_namespace("", SVG)
ElementTree.register_namespace("xlink", "http://www.w3.org/1999/xlink")

NO_SCRIPT_NOTE = (
    "This is the graph after the backward pass, with every gradient. Stepping through the pass "
    "needs JavaScript: in Jupyter, trust the notebook (File > Trust Notebook, or `jupyter trust "
    "notebook.ipynb`) and run the cell again, or open the page written by trace.save_html(path) "
    "in a browser."
)
#: The whole page: no request may leave it (the stepper needs none).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
)


def page_html(trace, full_page: bool = False) -> str:
    """The stepper for ``trace``, with a fresh id; a whole document when ``full_page``.

    >>> page_html(step_through(loss)).startswith('<div id="ag-')
    True
    """
    parts = getattr(trace, "_page_parts", None)
    if parts is None:
        parts = trace._page_parts = _parts(trace)
    svg, data = parts
    uid = "ag-" + secrets.token_hex(8)
    script = _asset("stepper.js")
    style = _asset("stepper.css").replace("#STEPPER", f"#{uid}")
    fragment = (
        f'<div id="{uid}" class="ag-stepper" tabindex="0">'
        f"<style>{style}</style>"
        f'<div class="ag-graph">{svg}</div>'
        f'<p class="ag-nojs">{html.escape(NO_SCRIPT_NOTE)}</p>'
        f'<script type="application/json" id="{uid}-data">{data}</script>'
        f"<script>{_STARTER.replace('UID', uid)}({script.strip()});</script>"
        "</div>"
    )
    if not full_page:
        return fragment
    title = html.escape(f"Backward pass, step by step ({len(trace.steps)} steps)")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<title>{title}</title></head>\n<body>{fragment}</body></html>\n"
    )


#: Finds this output's element (the script's own parent, or by its id), reads its data, and
#: starts the stepper on it, once; the stepper's code follows as the argument.
_STARTER = (
    "(function (start) { var here = document.currentScript; "
    'var root = here && here.parentNode && here.parentNode.id === "UID" ? here.parentNode : '
    'document.getElementById("UID"); '
    'if (!root || root.hasAttribute("data-stepping")) return; '
    'root.setAttribute("data-stepping", ""); '
    "var data = JSON.parse(root.querySelector('script[type=\"application/json\"]').textContent); "
    "start(root, data); })"
)


def _asset(name: str) -> str:
    return importlib.resources.files("autograd.viz").joinpath(name).read_text(encoding="utf-8")


def _parts(trace) -> tuple[str, str]:
    """The SVG and the JSON of the page (everything but its id), made once per trace."""
    options = trace.picture_options
    steps = trace.steps
    ops, reached = walk([trace.root])

    # Every tensor's gradient at the end: what the picture shows without the script.
    final = {id(trace.root): trace.seed}
    contributions: dict[int, int] = {}
    for step in steps:
        for sent in step.sent:
            if sent.gradient is not None:
                final[id(sent.node)] = sent.after
                contributions[id(sent.node)] = contributions.get(id(sent.node), 0) + 1
    leaves = _leaves(trace, ops)
    for leaf in leaves:
        if leaf.grad is not None:
            final[id(leaf)] = _value(leaf.grad)

    keys: dict = {}
    description = _describe(
        trace.root,
        options["show_values"],
        True,
        options["names"],
        options["collapse"],
        options["copy_shared_above"],
        grads=final,
        keys=keys,
    )
    picture = draw(description, options["group_scopes"], options["rankdir"], element_ids=True)
    svg = _scoped_svg(run_dot(picture.source, "svg"), description)

    drawn = {node["id"]: node for node in description["nodes"]}
    copies: dict[str, list[str]] = {}
    for node in description["nodes"]:
        if node["kind"] == "tensor":
            copies.setdefault(node["copy_of"] or node["id"], []).append(node["id"])

    def tensor_key(node) -> str | None:
        return keys.get(id(node))

    def label(node) -> str:
        key = tensor_key(node)
        name = drawn[key]["name"] if key in drawn else None
        if name is None and key in copies:
            name = drawn[copies[key][0]]["name"]
        if name:
            return name
        if node is trace.root:
            return "the loss"
        if node.source is not None:
            return f"output of {node.source.op.__name__} (step {numbers[id(node.source)]})"
        shape = "scalar" if node.value.ndim == 0 else str(tuple(node.value.shape))
        return ("leaf " if node.requires_grad else "constant ") + shape

    numbers = {id(op_node): number for number, op_node in enumerate(ops, start=1)}
    frame_count = len(steps) + 2  # the seed, one frame per op, the stored .grad
    events: dict[str, list] = {}  # tensor key -> [frame, text of its grad line, complete]
    arrived_so_far: dict[int, int] = {}

    def event(node, frame, gradient, complete=None) -> None:
        """The node's gradient line from ``frame`` on; complete once every use has sent one."""
        key = tensor_key(node)
        if key is None:
            return
        if complete is None:
            arrived_so_far[id(node)] = arrived_so_far.get(id(node), 0) + 1
            complete = arrived_so_far[id(node)] >= contributions.get(id(node), 0)
        events.setdefault(key, []).append([frame, "grad " + _summary(gradient, True), complete])

    event(trace.root, 0, trace.seed, complete=True)
    step_data = []
    for frame, step in enumerate(steps, start=1):
        op_node = step.op_node
        group = keys[id(op_node)]
        outputs = reached[op_node]
        output_nodes = [
            next((x for x in outputs if x.value is value), None) for value in op_node.output_values
        ]
        parameters = _parameter_names(op_node.op, len(op_node.inputs))
        labels = {id(x): label(x) for x in op_node.inputs}
        numbered = _has_operand_labels(description, group)  # Sub, MatMul, ...: edges ①, ②
        sent_data = []
        for sent in step.sent:
            entry = {
                "tensor": tensor_key(sent.node),
                "label": labels[id(sent.node)],
                "parameter": parameters[sent.index],
                "operand": operand_number(sent.index) if numbered else None,
            }
            if sent.gradient is None:
                entry["none"] = (
                    "needs no gradient (a constant)"
                    if not sent.node.requires_grad
                    else "this op's backward sent no gradient to it"
                )
            else:
                event(sent.node, frame, sent.after)
                entry["gradient"] = values.card(sent.gradient)
                entry["before"] = None if sent.before is None else values.card(sent.before)
                entry["after"] = values.card(sent.after)
            sent_data.append(entry)
        needing = {tensor_key(x) for x in op_node.inputs if x.requires_grad}  # not constants
        edges_in = _edges(description, copies, needing, group, into=True)
        edges_out = _edges(description, copies, {tensor_key(x) for x in outputs}, group, into=False)
        step_data.append(
            {
                "op": group,
                "number": step.number,
                "name": op_node.op.__name__,
                "formula": formula_of(op_node.op),
                "edgesIn": edges_in,
                "edgesOut": edges_out,
                "receiving": _ends(description, edges_in, "source", needs_gradient=True),
                "arriving": _ends(description, edges_out, "target"),
                "arrived": [
                    {
                        "tensor": None if x is None else tensor_key(x),
                        "label": "an output no path reached (zeros)" if x is None else label(x),
                        "card": values.card(g),
                    }
                    for x, g in zip(output_nodes, step.output_grads)
                ],
                "sent": sent_data,
            }
        )
    earlier = {id(leaf): grad for leaf, grad in trace.earlier_grads}
    leaf_data = []
    for leaf in leaves:
        if leaf.grad is not None:  # what the pass stored: exactly .grad
            event(leaf, frame_count - 1, _value(leaf.grad), complete=True)
        leaf_data.append(
            {
                "tensor": tensor_key(leaf),
                "label": label(leaf),
                "card": None if leaf.grad is None else values.card(_value(leaf.grad)),
                "earlier": None if id(leaf) not in earlier else values.card(earlier[id(leaf)]),
            }
        )

    forward = []
    for op_node in reversed(ops):
        forward.append(
            {
                "op": keys[id(op_node)],
                "name": op_node.op.__name__,
                "number": numbers[id(op_node)],
                "inputs": [[tensor_key(x), label(x)] for x in op_node.inputs],
                "outputs": [[tensor_key(x), label(x)] for x in reached[op_node]],
            }
        )
    tensors = {}  # those that take part in the backward pass; constants stay as drawn
    for key, node_ids in copies.items():
        if drawn[node_ids[0]]["requires_grad"]:
            tensors[key] = {"nodes": node_ids, "events": events.get(key, [])}
    value_cards = {}
    for op_node in ops:
        for x in [*op_node.inputs, *reached[op_node]]:
            key = tensor_key(x)
            if key is not None and key not in value_cards:
                value_cards[key] = values.card(x.value)
    data = {
        "steps": step_data,
        "seed": {"tensor": tensor_key(trace.root), "card": values.card(trace.seed)},
        "leaves": leaf_data,
        "tensors": tensors,
        "forward": forward,
        "values": value_cards,
    }
    return svg, _json_for_html(data)


def _leaves(trace, ops) -> list:
    """The leaves that require grad, in the order the graph first meets them."""
    found = {}
    for op_node in reversed(ops):
        for x in op_node.inputs:
            if x.source is None and x.requires_grad:
                found.setdefault(id(x), x)
    if trace.root.source is None:
        found.setdefault(id(trace.root), trace.root)
    return list(found.values())


def _value(gradient):
    return gradient.value if hasattr(gradient, "value") else gradient


def _grad_line(node: dict) -> int | None:
    """Which line of a tensor's label shows its gradient (the script rewrites it), if any."""
    lines = node["label"].split("\n")
    if node["grad_summary"] is None:
        return None
    return len(lines) - 1 - lines[::-1].index(node["grad_summary"])


def _has_operand_labels(description: dict, group: str) -> bool:
    return any(e["label"] for e in description["edges"] if e["target"] == group)


def _edges(description, copies, tensor_keys, group, into: bool) -> list[str]:
    """Ids of the drawn edges between ``group`` and the given tensors (any of their copies)."""
    drawn_ids = {node_id for key in tensor_keys if key in copies for node_id in copies[key]}
    found = []
    for number, edge in enumerate(description["edges"]):
        near, far = (edge["target"], edge["source"]) if into else (edge["source"], edge["target"])
        if near == group and far in drawn_ids:
            found.append(f"e{number}")
    return found


def _ends(description, edge_ids, end: str, needs_gradient: bool = False) -> list[str]:
    """The drawn tensors at one end of these edges (the copy beside the op, not every copy)."""
    nodes = {node["id"]: node for node in description["nodes"]}
    found = []
    for edge_id in edge_ids:
        node = nodes[description["edges"][int(edge_id[1:])][end]]
        if node["kind"] == "tensor" and (node["requires_grad"] or not needs_gradient):
            found.append(node["id"])
    return found


def _parameter_names(op, count: int) -> list[str]:
    """The names the op's forward gives its inputs (``a``, ``b``; ``x``), as in its formula."""
    try:
        parameters = list(inspect.signature(op.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        parameters = []
    positional = [
        p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) < count:
        return [f"input {i + 1}" for i in range(count)]
    return positional[:count]


def formula_of(op) -> str:
    """The op's forward and backward as its docstring states them (its first paragraph, and the
    next ones up to the first that gives dL/d...), or its ``derivative`` attribute if it has one.

    >>> formula_of(Exp)
    'y = exp(x);  dL/dx = dL/dy * y'
    """
    stated = getattr(op, "derivative", None)
    if isinstance(stated, str):
        return stated
    doc = inspect.cleandoc(op.__doc__ or "")
    if not doc:
        return f"{op.__name__} states no formula in its docstring"
    paragraphs = doc.split("\n\n")
    chosen = []
    for paragraph in paragraphs[:3]:
        chosen.append(paragraph)
        if "dL/" in paragraph:
            break
    return "\n\n".join(chosen)


def _scoped_svg(svg_bytes: bytes, description: dict) -> str:
    """Graphviz's SVG, made fit to sit in a page beside others: ids become ``data-id``
    attributes, tooltips that would show internal ids go, and each tensor's gradient line is
    marked for the script."""
    root = ElementTree.fromstring(svg_bytes)
    grad_lines = {n["id"]: _grad_line(n) for n in description["nodes"] if n["kind"] == "tensor"}
    known = {n["id"] for n in description["nodes"]}
    known.update(f"e{number}" for number in range(len(description["edges"])))
    for element in root.iter():
        element_id = element.attrib.pop("id", None)
        for title in element.findall(f"{{{SVG}}}title"):
            element.remove(title)
        if element_id in known:
            element.set("data-id", element_id)
            line = grad_lines.get(element_id)
            if line is not None:
                texts = element.findall(f"{{{SVG}}}text")
                if line < len(texts):
                    texts[line].set("class", "ag-grad")
    return ElementTree.tostring(root, encoding="unicode")


def _json_for_html(data) -> str:
    """JSON that cannot end the script element holding it: <, > and & as \\u escapes."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
