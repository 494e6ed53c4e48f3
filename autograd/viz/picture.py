"""Pictures of the computation graph: Graphviz DOT, SVG/PNG/PDF files, inline display in Jupyter.

Data flows top to bottom (or left to right: ``rankdir="LR"``): input TensorNode -> OpNode ->
output TensorNode. Tensors are rounded boxes (blue: a leaf that requires grad, where gradients
collect; grey and dashed: a constant; green and bold: the root), ops are yellow ellipses numbered
in the order the backward pass visits them, and anything holding a NaN or an infinity is drawn in
red. The edges into an op whose operands cannot be swapped (Sub, Div, MatMul, Pow, Select) are
labelled with circled numbers and the op shows its formula (``① - ②``), so ``p - r`` is never
read as ``r - p``, and no label can be mistaken for a variable's name. Ops that a
``create_graph=True`` backward recorded (the graph of a gradient) are pink, framed by the op whose
backward made them. A graph of scalars shows every value and gradient (as micrograd does); a
tensor graph shows shapes unless asked.

One traversal builds one plain description of the graph (``to_json``); the DOT picture
(``to_dot``), the files (``render``) and the step-through page (stepper.py) are drawn from it.
Only ``to_dot`` and ``render`` need the ``graphviz`` Python package, and only ``render`` (and
inline SVG) needs Graphviz's ``dot`` program, so the package is imported inside the functions:
``import autograd`` works without it.

Pictures come back in seconds whatever the graph's shape: a tensor used by many ops is drawn
once beside each (``copy_shared_above``), Graphviz's layout effort is bounded
(``LAYOUT_EFFORT``), ``dot`` runs with a time limit, and a graph too large to lay out stops with
a PictureTooLargeError saying what to pass instead.

>>> loss = ((x @ w + b).relu() - target).mean()
>>> render(loss, "graph.svg", names=locals())        # or to_dot(loss) in a notebook
"""

from __future__ import annotations

import functools
import html
import numbers
import pathlib
import shutil
import subprocess
from collections.abc import Mapping

import numpy as np

from autograd.errors import GraphvizNotFoundError, PictureTooLargeError
from autograd.graph import OpNode, walk
from autograd.higher_order import BackwardOf
from autograd.tensor import TensorNode

INSTALL_GRAPHVIZ_PACKAGE = (
    "graph pictures need the graphviz Python package: pip install autograd-nn[viz] "
    "(or pip install graphviz); to_json(...) works without it"
)
INSTALL_DOT_PROGRAM = (
    "Graphviz's `dot` program was not found on PATH; install it with "
    "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install -c conda-forge graphviz`, or from https://graphviz.org/download/ (Windows). "
    "Without it, to_dot(...).source gives the DOT text and to_json(...) the graph as dicts"
)

#: Tensors with at most this many elements show their values (and gradients) in full.
TINY_SIZE = 4
#: A tensor used by more ops than this is drawn once beside each of them (and an intermediate
#: once more where it is made): one node with a hundred edges across the whole picture costs
#: Graphviz minutes and the reader the thread.
COPY_SHARED_ABOVE = 10
#: Above this many boxes and ellipses no layout comes back in seconds: PictureTooLargeError.
MAX_DRAWN_NODES = 2500
#: Seconds that ``dot`` may take before PictureTooLargeError (the bounds below keep it far lower).
DOT_TIMEOUT = 60
#: Graphviz's layout effort, bounded on pictures of more than BOUNDED_ABOVE nodes (smaller ones
#: get Graphviz's full effort): network-simplex iterations per node (nslimit, nslimit1) and
#: crossing-minimisation passes (mclimit). A random graph of 360 ops takes 1 s of dot's time
#: instead of 3.4 s; the measurements are in notes/viz.md.
LAYOUT_EFFORT = {"nslimit": "1", "nslimit1": "1", "mclimit": "0.5"}
BOUNDED_ABOVE = 100

#: Ops whose inputs may be swapped without changing the result: their edges need no labels.
COMMUTATIVE = {"Add", "Mul"}
#: The formula of each op whose operands cannot be swapped, in circled numbers, and its edges
#: are labelled ①, ②: numbers, never letters, so they cannot clash with a tensor named ``b``.
OPERANDS = {
    "Sub": "① - ②",
    "Div": "① / ②",
    "MatMul": "① @ ②",
    "Pow": "① ** ②",
    "Select": "①[②]",
}

FONT = "Helvetica"
RED = "#dc2626"
STYLES = {  # Graphviz attributes for each kind of node
    "leaf": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbeafe", "color": "#2563eb"},
    "constant": {
        "shape": "box",
        "style": "rounded,filled,dashed",
        "fillcolor": "#f3f4f6",
        "color": "#6b7280",
        "fontcolor": "#374151",
    },
    "intermediate": {"shape": "box", "style": "rounded", "color": "#6b7280"},
    "root": {
        "shape": "box",
        "style": "rounded,filled,bold",
        "fillcolor": "#dcfce7",
        "color": "#16a34a",
        "penwidth": "2",
    },
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#fef3c7", "color": "#d97706"},
    "backward_op": {  # recorded by a create_graph backward: the graph of a gradient
        "shape": "ellipse",
        "style": "filled",
        "fillcolor": "#fce7f3",
        "color": "#db2777",
    },
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "#ede9fe", "color": "#7c3aed"},
}
CLUSTER_COLOURS = {"module": ("#7c3aed", "#5b21b6"), "backward": ("#db2777", "#9d174d")}
BACKWARD_LEGEND = (
    "pink ops, framed by the op whose backward made them, were recorded by a "
    "create_graph=True backward: they compute the gradient"
)


# ----- public functions ----------------------------------------------------------------------


def to_json(
    root: TensorNode,
    show_values: bool | None = None,
    show_grads: bool = True,
    names=None,
    collapse=None,
    copy_shared_above: int | None = COPY_SHARED_ABOVE,
) -> dict:
    """The graph that produced ``root`` as plain, JSON-serialisable ``{"nodes", "edges"}``.

    Each node has an ``id``, a ``kind`` (``"tensor"``, ``"op"`` or ``"module"`` for a collapsed
    module) and a ``label``; tensors add ``role`` (``"leaf"``, ``"constant"``,
    ``"intermediate"``, ``"root"``), ``name``, ``shape``, ``dtype``, ``requires_grad``,
    ``non_finite``, ``value_summary``, ``grad_summary`` and ``copy_of`` (for a tensor drawn
    once beside each of its many uses: the id of the tensor's own node, else None); ops add ``op``,
    ``constants``, ``visit_order`` (1 = first op the backward pass visits) and
    ``made_by_backward`` (recorded by a create_graph backward); every node has ``scope`` (labels
    of the modules it was built in, outermost first), ``scope_ids`` and ``scope_kinds``
    (``"module"``, or ``"backward"`` for the backward of an op in a create_graph pass). Each
    edge has ``source``, ``target``, ``input_index`` (which input of the target op, None for
    other edges) and ``label`` (the operand's number, e.g. ``"①"``, on edges into
    non-commutative ops, else None). The options are those of :func:`to_dot`.

    >>> graph = to_json((x * x).sum())
    >>> [node["op"] for node in graph["nodes"] if node["kind"] == "op"]
    ['Mul', 'Sum']
    """
    return _describe(root, show_values, show_grads, names, collapse, copy_shared_above)


def to_dot(
    root: TensorNode,
    show_values: bool | None = None,
    show_grads: bool = True,
    names=None,
    collapse=None,
    group_scopes: bool = True,
    rankdir: str = "TB",
    copy_shared_above: int | None = COPY_SHARED_ABOVE,
):
    """A ``graphviz.Digraph`` (a :class:`GraphPicture`) of the graph that produced ``root``.

    ``show_values`` adds each tensor's values (min/mean/max beyond 4 elements); by default
    (None) a graph of scalars shows them and a tensor graph does not. ``show_grads``
    adds each gradient present (its norm beyond 4 elements). ``names`` names tensors: a dict
    such as ``locals()`` (entries that are not TensorNodes or floats, or start with ``_``, are
    ignored; a float names the constants of that value made from a Python number, e.g.
    ``{"ε": 1e-5}``), any object
    with ``named_parameters()`` (a module: ``layers.0.weight``), or a list of these; a node's own
    ``name=`` wins. ``collapse`` draws each op built inside a module's scope as one box: a
    module, a list of modules, or True for every innermost module. ``group_scopes`` frames the
    ops of each module in a dashed cluster; ``rankdir`` is ``"TB"`` (top to bottom) or ``"LR"``
    (left to right, for long chains). A tensor used by more than ``copy_shared_above`` ops is
    drawn once beside each (None: never). ``.source`` is the DOT
    text; in Jupyter the picture displays inline.

    >>> picture = to_dot(loss, names=locals(), show_values=True)
    >>> print(picture.source)          # or picture.render(...), or just `picture` in Jupyter
    """
    description = _describe(root, show_values, show_grads, names, collapse, copy_shared_above)
    return draw(description, group_scopes, rankdir)


def render(root: TensorNode, path, format: str | None = None, **to_dot_options) -> pathlib.Path:
    """Draw the graph of ``root`` into an image file and return the file's path.

    ``format`` is ``"svg"``, ``"png"``, ``"pdf"`` (or any Graphviz format); by default it is taken
    from the path's suffix, else SVG, whose suffix is then added. Options are those of to_dot.
    Raises GraphvizNotFoundError, saying how to install it, when the ``dot`` program is missing.

    >>> render(loss, "docs/graph.png", names=locals())
    PosixPath('docs/graph.png')
    """
    graphviz = _import_graphviz()
    path = pathlib.Path(path)
    suffix = path.suffix.lstrip(".").lower()
    if format is None:
        format = suffix if suffix in graphviz.FORMATS else "svg"
    format = format.lower()
    if format not in graphviz.FORMATS:
        raise ValueError(f"render: unknown format {format!r}; use 'svg', 'png' or 'pdf'")
    if suffix in graphviz.FORMATS and suffix != format:
        raise ValueError(f"render: the path {str(path)!r} ends in .{suffix} but format={format!r}")
    if suffix != format:
        path = path.with_name(f"{path.name}.{format}")

    image = run_dot(to_dot(root, **to_dot_options).source, format)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image)
    return path


def run_dot(source: str, format: str) -> bytes:
    """Graphviz's ``dot`` run on DOT text, with a time limit; the image as bytes."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizNotFoundError(INSTALL_DOT_PROGRAM)
    try:
        result = subprocess.run(
            [program, f"-T{format}"], input=source.encode(), capture_output=True,
            timeout=DOT_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise PictureTooLargeError(
            f"Graphviz's dot took more than {DOT_TIMEOUT} s to lay out this graph; draw less of "
            "it: collapse=True (each module as one box), a part of the graph (to_dot of an "
            "intermediate node), or to_json(...) for the graph as data"
        ) from None
    if result.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


# ----- the one description of the graph ------------------------------------------------------


def _describe(
    root, show_values, show_grads, names, collapse, copy_shared_above, grads=None, keys=None
) -> dict:
    """Walk the graph once and describe every node and edge as plain dicts. ``grads`` (tensor
    id -> array) stands in for ``.grad`` where given (the step-through knows every gradient);
    ``keys``, if given, is filled with the node id of each tensor and op (by their ``id``)."""
    if not isinstance(root, TensorNode):
        raise TypeError(f"expected the TensorNode whose graph to draw, got {type(root).__name__}")
    ops, reached = walk([root])  # reached[op]: its outputs on some path to the root
    visit_order = {id(op_node): step for step, op_node in enumerate(ops, start=1)}
    tensor_names, module_paths = _names(names)
    scopes = _Scopes(ops, module_paths)
    collapsed = scopes.keys_to_collapse(collapse)

    # Which group draws each op: the op itself, or the box of the outermost collapsed module.
    group_of_op, box_scope = {}, {}  # box scope: the scope path around the collapsed module
    for op_node in ops:
        group = f"op{visit_order[id(op_node)]}"
        for position, owner in enumerate(op_node.scope):
            if scopes.key(owner) in collapsed:
                group = scopes.id_of(op_node.scope[: position + 1])
                box_scope[group] = op_node.scope[:position]
                break
        group_of_op[id(op_node)] = group

    forward_order = ops[::-1]
    tensors = {}  # id -> TensorNode, in order of first appearance going forward
    producer = {}  # tensor id -> group of the op that made it
    consumers = {}  # tensor id -> groups of the ops that use it, in forward order
    for op_node in forward_order:
        group = group_of_op[id(op_node)]
        for x in op_node.inputs:
            tensors.setdefault(id(x), x)
            consumers.setdefault(id(x), {})[group] = True
        for output in reached[op_node]:
            if output is not None:
                tensors.setdefault(id(output), output)
                producer[id(output)] = group
    tensors.setdefault(id(root), root)
    if show_values is None:  # a scalar graph shows its numbers, micrograd style
        show_values = all(tensor.value.ndim == 0 for tensor in tensors.values())

    def hidden(tensor_id) -> bool:  # made and used only inside one collapsed module
        group = producer.get(tensor_id)
        return (
            group in box_scope
            and tensor_id != id(root)
            and consumers.get(tensor_id, {}).keys() <= {group}
        )

    def copied(tensor_id) -> bool:  # drawn once beside each of its users
        uses = len(consumers.get(tensor_id, ()))
        return copy_shared_above is not None and uses > copy_shared_above

    tensor_ids = {key: f"t{index}" for index, key in enumerate(tensors)}
    if keys is not None:
        keys.update(tensor_ids)
        keys.update(group_of_op)
    nodes, edges, drawn, seen_edges = [], [], set(), set()
    grads = {} if grads is None else grads

    def add_tensor(tensor_id, scope, group=None) -> str:
        """Describe the tensor once (or once per user, if copied); its node's id."""
        node_id = tensor_ids[tensor_id]
        tensor, copy = tensors[tensor_id], None
        if group is not None and copied(tensor_id):
            users = list(consumers[tensor_id])
            use = users.index(group) + 1
            copy = [f"use {use} of {len(users)}"]
            if tensor.source is not None:  # where to find its own node
                copy.append(
                    f"from {tensor.source.op.__name__}, step {visit_order[id(tensor.source)]}"
                )
            node_id = f"{node_id}u{use}"
        if node_id in drawn or hidden(tensor_id):
            return node_id
        drawn.add(node_id)
        node = _describe_tensor(
            tensor,
            tensor_id == id(root),
            tensor_names,
            show_values,
            show_grads,
            grads.get(tensor_id, tensor.grad),
            copy,
        )
        node["id"], node["copy_of"] = node_id, tensor_ids[tensor_id] if copy else None
        nodes.append(dict(node, **scopes.describe(scope)))
        return node_id

    def add_edge(source, target, input_index=None, label=None) -> None:
        if input_index is None and (source, target) in seen_edges:
            return  # a box uses each input once, and an op has each output once
        seen_edges.add((source, target))
        edge = {"source": source, "target": target, "input_index": input_index, "label": label}
        edges.append(edge)

    for op_node in forward_order:
        group = group_of_op[id(op_node)]
        is_box = group in box_scope
        scope = box_scope[group] if is_box else op_node.scope
        input_ids = [add_tensor(id(x), (), group) for x in op_node.inputs]
        if group not in drawn:
            drawn.add(group)
            if is_box:
                box_ops = [o for o in forward_order if group_of_op[id(o)] == group]
                label = scopes.label(op_node.scope[len(scope)])
                node = _describe_box(group, label, box_ops, visit_order)
            else:
                node = _describe_op(op_node, group, visit_order[id(op_node)])
            nodes.append(dict(node, **scopes.describe(scope)))
        labels = _operand_labels(op_node)
        for index, (x, input_id) in enumerate(zip(op_node.inputs, input_ids)):
            if not is_box:
                add_edge(input_id, group, index, labels[index])
            elif producer.get(id(x)) != group:
                add_edge(input_id, group)
        for output in reached[op_node]:
            if output is not None and not hidden(id(output)):
                add_edge(group, add_tensor(id(output), scope))
    add_tensor(id(root), ())  # a root without a graph: a leaf, or made under no_grad
    drawn_count = len(nodes)
    if drawn_count > MAX_DRAWN_NODES:
        raise PictureTooLargeError(
            f"this picture would have {drawn_count} nodes ({len(ops)} ops), more than "
            f"{MAX_DRAWN_NODES} that Graphviz lays out in seconds; draw less of it: "
            + (
                "collapse=True (each module as one box), "
                if scopes.owners and not collapsed
                else ""
            )
            + "a part of the graph (to_dot of an intermediate node), or to_json(...) for the "
            "graph as data"
        )
    return {"nodes": nodes, "edges": edges}


def _describe_tensor(
    tensor, is_root, tensor_names, show_values, show_grads, grad, copy=None
) -> dict:
    if is_root:
        role = "root"
    elif tensor.source is not None:
        role = "intermediate"
    else:
        role = "leaf" if tensor.requires_grad else "constant"
    name = tensor.name or tensor_names.get(id(tensor))
    if name is None and role == "constant" and not any(tensor.value.strides):
        name = _constant_name(tensor.value, tensor_names)  # a number, or one broadcast
    if isinstance(grad, TensorNode):  # a create_graph pass: the gradient is a node
        grad = grad.value
    value = tensor.value
    value_note, grad_note = _non_finite_note(value), None
    grad_summary = None
    if grad is not None:
        grad_note = _non_finite_note(grad)
        if show_grads:
            grad_summary = "grad " + _summary(grad, norm=True)
    value_summary = "value " + _summary(value, norm=False) if show_values else None

    shape_text = f"{tuple(value.shape)} {value.dtype}" if value.ndim else f"scalar {value.dtype}"
    lines = [name] if name else []
    lines += copy or []  # "use 3 of 100": a copy of a tensor that many ops use
    lines += [shape_text, value_summary, grad_summary]
    lines += [f"value has {value_note}" if value_note else None]
    lines += [f"grad has {grad_note}" if grad_note else None]
    return {
        "id": None,
        "kind": "tensor",
        "role": role,
        "label": "\n".join(line for line in lines if line),
        "name": name,
        "shape": list(value.shape),
        "dtype": str(value.dtype),
        "requires_grad": tensor.requires_grad,
        "non_finite": bool(value_note or grad_note),
        "value_summary": value_summary,
        "grad_summary": grad_summary,
    }


def _operand_labels(op_node: OpNode) -> list[str | None]:
    """The number of each input on its edge (①, ②, ...): None where the order cannot matter."""
    count, op_name = len(op_node.inputs), op_node.op.__name__
    if count < 2 or op_name in COMMUTATIVE:
        return [None] * count
    return [operand_number(i) for i in range(count)]


def operand_number(index: int) -> str:
    """①, ②, ... ⑳ for input 0, 1, ... 19 of an op; then (21), (22), ..."""
    return chr(0x2460 + index) if index < 20 else f"({index + 1})"


def _describe_op(op_node: OpNode, node_id: str, step: int) -> dict:
    op_name = op_node.op.__name__
    shown, plain = {}, {}  # the constants as label text and as JSON values
    for key, value in op_node.constants.items():  # do_forward's keywords, kept after backward
        if value is None or key == "keepdims" and not value:
            continue
        shown[key], plain[key] = _constant_text(value), _plain(value)
    formula = OPERANDS.get(op_name) if len(op_node.inputs) > 1 else None
    lines = [op_name] + ([formula] if formula else [])
    lines += [f"{key}={text}" for key, text in shown.items()]
    lines.append(f"backward step {step}")
    return {
        "id": node_id,
        "kind": "op",
        "label": "\n".join(lines),
        "op": op_name,
        "constants": plain,
        "visit_order": step,
        "made_by_backward": any(isinstance(owner, BackwardOf) for owner in op_node.scope),
        "non_finite": False,
    }


def _describe_box(node_id: str, module_label: str, box_ops: list, visit_order: dict) -> dict:
    op_names = [op_node.op.__name__ for op_node in box_ops]
    steps = sorted(visit_order[id(op_node)] for op_node in box_ops)
    listed = ", ".join(op_names[:4]) + (", ..." if len(op_names) > 4 else "")
    if steps == list(range(steps[0], steps[-1] + 1)) and len(steps) > 1:
        steps_text = f"backward steps {steps[0]}-{steps[-1]}"
    else:
        steps_text = (
            "backward step"
            + ("s " if len(steps) > 1 else " ")
            + ", ".join(str(step) for step in steps)
        )
    count = f"{len(op_names)} op" + ("s" if len(op_names) > 1 else "")
    return {
        "id": node_id,
        "kind": "module",
        "label": f"{module_label}\n{count}: {listed}\n{steps_text}",
        "module": module_label,
        "ops": op_names,
        "visit_order": steps,
        "non_finite": False,
    }


# ----- names and scopes ----------------------------------------------------------------------


def _names(names) -> tuple[dict, dict]:
    """Tensor names (keyed by ``id``, or by ``("constant", value)`` for a float naming scalar
    constants) and module paths (keyed by ``id``) from the ``names=`` argument."""
    tensor_names, module_paths = {}, {}
    entries = names if isinstance(names, list | tuple) else [names]
    for entry in entries:
        if entry is None:
            continue
        if hasattr(entry, "named_parameters"):
            for path, parameter in entry.named_parameters():
                if isinstance(parameter, TensorNode):
                    tensor_names.setdefault(id(parameter), path)
            if hasattr(entry, "named_modules"):
                for path, module in entry.named_modules():
                    module_paths.setdefault(id(module), path)
        elif isinstance(entry, Mapping):
            for name, value in entry.items():
                if str(name).startswith("_"):
                    continue
                if isinstance(value, TensorNode):
                    tensor_names.setdefault(id(value), str(name))
                elif isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
                    tensor_names.setdefault(("constant", float(value)), str(name))
        else:
            raise TypeError(
                "names= takes a dict of TensorNodes (e.g. locals()), an object with "
                f"named_parameters() (a module), or a list of these; got {type(entry).__name__}"
            )
    return tensor_names, module_paths


def _constant_name(value: np.ndarray, tensor_names: dict) -> str | None:
    """The name given to a float equal to this constant, a number or a number broadcast (in the
    constant's dtype: the float32 constant made from 1e-5 is not exactly 1e-5)."""
    if value.size == 0:
        return None
    number = value.reshape(-1)[0]
    for key, name in tensor_names.items():
        if type(key) is tuple and np.asarray(key[1], value.dtype) == number:
            return name
    return None


class _Scopes:
    """The owners (modules, names, or the backward of an op) that the ops were built inside,
    via autograd.scope()."""

    def __init__(self, ops: list[OpNode], module_paths: dict) -> None:
        self.module_paths = module_paths
        self.ids = {}  # scope path (tuple of owner keys) -> "scope1", ...
        self.labels = {}  # scope id -> label
        self.kinds = {}  # scope id -> "module" or "backward"
        self.innermost = {}  # owner key -> True while no op was built in a scope inside it
        self.owners = {}  # owner key -> owner
        self.steps = {op_node.number: step for step, op_node in enumerate(ops, start=1)}
        for op_node in reversed(ops):
            for position, owner in enumerate(op_node.scope):
                key = self.key(owner)
                self.owners[key] = owner
                is_innermost = position == len(op_node.scope) - 1
                self.innermost[key] = self.innermost.get(key, True) and is_innermost
                self.id_of(op_node.scope[: position + 1])

    @staticmethod
    def key(owner):
        """Modules are told apart by identity, scope names by their text."""
        return owner if isinstance(owner, str) else id(owner)

    def id_of(self, scope: tuple) -> str:
        path = tuple(self.key(owner) for owner in scope)
        if path not in self.ids:
            self.ids[path] = scope_id = f"scope{len(self.ids) + 1}"
            self.labels[scope_id] = self.label(scope[-1])
            self.kinds[scope_id] = "backward" if isinstance(scope[-1], BackwardOf) else "module"
        return self.ids[path]

    def label(self, owner) -> str:
        if isinstance(owner, str):
            return owner
        if isinstance(owner, BackwardOf):
            step = self.steps.get(owner.op_number)
            return f"backward of the {owner.op_name}" + (f" of step {step}" if step else "")
        path = self.module_paths.get(id(owner))
        return f"{path} ({type(owner).__name__})" if path else type(owner).__name__

    def describe(self, scope: tuple) -> dict:
        ids = [self.id_of(scope[: depth + 1]) for depth in range(len(scope))]
        kinds = [self.kinds[i] for i in ids]
        return {"scope": [self.labels[i] for i in ids], "scope_ids": ids, "scope_kinds": kinds}

    def keys_to_collapse(self, collapse) -> set:
        if collapse is None or collapse is False:
            return set()
        if collapse is True:
            return {
                key
                for key, innermost in self.innermost.items()
                if innermost and not isinstance(self.owners[key], BackwardOf)
            }
        wanted = collapse if isinstance(collapse, list | tuple) else [collapse]
        keys = set()
        for owner in wanted:
            if self.key(owner) not in self.owners:
                known = ", ".join(sorted({self.label(o) for o in self.owners.values()})) or "none"
                raise ValueError(
                    f"collapse: no op of this graph was built inside {self.label(owner)}; "
                    f"the graph's scopes are: {known} (ops are scoped by autograd.scope(owner), "
                    "which nn.Module.__call__ uses)"
                )
            keys.add(self.key(owner))
        return keys


# ----- text ----------------------------------------------------------------------------------


def _summary(array: np.ndarray, norm: bool) -> str:
    """The array itself when tiny; else its norm, or its min, mean and max over finite values."""
    if array.size <= TINY_SIZE:
        if array.dtype.kind == "f":
            text = np.array2string(array, separator=", ", formatter={"float_kind": _number})
        else:
            text = np.array2string(array, separator=", ")
        return " ".join(text.split())
    values = array.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "no finite values"
    if norm:
        return f"norm {np.linalg.norm(finite):.4g}"
    return f"min {finite.min():.4g}  mean {finite.mean():.4g}  max {finite.max():.4g}"


def _number(value) -> str:
    return f"{value + 0.0:.4g}"  # + 0.0 turns -0 into 0


def _non_finite_note(array: np.ndarray) -> str | None:
    """``"2 NaN, 1 inf"`` when the array holds NaN or infinities, else None."""
    if array.dtype.kind not in "fc" or np.isfinite(array).all():
        return None
    counts = [(int(np.isnan(array).sum()), "NaN"), (int(np.isinf(array).sum()), "inf")]
    return ", ".join(f"{count} {kind}" for count, kind in counts if count)


def _constant_text(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}" if value.size > TINY_SIZE else str(value.tolist())
    if isinstance(value, slice):
        parts = ["" if p is None else str(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts if value.step is not None else parts[:2])
    if value is Ellipsis:
        return "..."
    if isinstance(value, tuple) and any(isinstance(p, slice | np.ndarray) for p in value):
        return "[" + ", ".join(_constant_text(p) for p in value) + "]"
    if isinstance(value, np.generic):
        return str(value.item())
    return str(value)


def _plain(value):
    """``value`` made JSON-serialisable: tuples become lists, NumPy scalars Python numbers."""
    if isinstance(value, tuple | list):
        return [_plain(part) for part in value]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= TINY_SIZE else _constant_text(value)
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return _constant_text(value)


# ----- drawing -------------------------------------------------------------------------------


def draw(description: dict, group_scopes: bool = True, rankdir: str = "TB", element_ids=False):
    """The GraphPicture of a description made by ``_describe``. ``element_ids`` gives every
    node and edge an ``id`` in the SVG (the step-through finds them by it)."""
    graphviz = _import_graphviz()
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir={rankdir!r}: use 'TB' (top to bottom) or 'LR' (left to right)")
    graph_attr = {"rankdir": rankdir, "fontname": FONT, "nodesep": "0.3", "ranksep": "0.35"}
    if len(description["nodes"]) > BOUNDED_ABOVE:
        graph_attr.update(LAYOUT_EFFORT)
    if any(node.get("made_by_backward") for node in description["nodes"]):
        graph_attr.update(label=BACKWARD_LEGEND, labelloc="b", fontsize="10", fontcolor="#9d174d")
    picture = _picture_class()(
        name="autograd",
        graph_attr=graph_attr,
        node_attr={"fontname": FONT, "fontsize": "11", "margin": "0.12,0.05"},
        edge_attr={"color": "#4b5563", "arrowsize": "0.7"},
    )

    members: dict[tuple, list[dict]] = {}  # scope path -> its nodes; () is the top level
    scope_labels: dict[str, tuple[str, str]] = {}
    kinds = {}
    for node in description["nodes"]:
        path = tuple(node["scope_ids"]) if group_scopes else ()
        members.setdefault(path, []).append(node)
        scope_labels.update(zip(node["scope_ids"], node["scope"]))
        kinds.update(zip(node["scope_ids"], node["scope_kinds"]))
        for depth in range(len(path)):  # make sure every enclosing cluster is drawn
            members.setdefault(path[:depth], [])
    _draw_nodes(graphviz, picture, (), members, scope_labels, kinds, element_ids)
    for number, edge in enumerate(description["edges"]):
        attributes = {"id": f"e{number}"} if element_ids else {}
        if edge["label"]:
            attributes.update(label=graphviz.nohtml(edge["label"]), fontsize="13")
        picture.edge(edge["source"], edge["target"], **attributes)
    return picture


def _draw_nodes(
    graphviz, container, path: tuple, members: dict, labels: dict, kinds: dict, element_ids
) -> None:
    """Draw the nodes of one scope, then each scope nested in it as a dashed cluster."""
    for node in members[path]:
        kind = node["kind"]
        if kind == "op" and node["made_by_backward"]:
            kind = "backward_op"
        attributes = dict(STYLES[node["role"] if kind == "tensor" else kind])
        if node["non_finite"]:
            attributes.update(color=RED, fontcolor=RED, penwidth="2")
        lines = [line.replace("\\", "\\\\") for line in node["label"].split("\n")]
        attributes["label"] = graphviz.nohtml("\\n".join(lines))
        if element_ids:
            attributes["id"] = node["id"]
        container.node(node["id"], **attributes)
    for child in members:
        if len(child) == len(path) + 1 and child[: len(path)] == path:
            frame, text = CLUSTER_COLOURS[kinds[child[-1]]]
            with container.subgraph(name="cluster_" + "_".join(child)) as cluster:
                cluster.attr(
                    label=graphviz.nohtml(labels[child[-1]].replace("\\", "\\\\")),
                    style="dashed,rounded",
                    color=frame,
                    fontcolor=text,
                    fontname=FONT,
                    fontsize="10",
                    labeljust="l",
                )
                _draw_nodes(graphviz, cluster, child, members, labels, kinds, element_ids)


def _import_graphviz():
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(INSTALL_GRAPHVIZ_PACKAGE) from error
    return graphviz


@functools.cache
def _picture_class() -> type:
    """GraphPicture is defined on first use, because its base class lives in graphviz."""
    graphviz = _import_graphviz()

    class GraphPicture(graphviz.Digraph):
        """A graphviz.Digraph that displays in Jupyter with a time limit on ``dot``, and still
        displays, as its DOT source, when ``dot`` is missing.

        >>> picture = to_dot(loss)
        >>> picture          # in Jupyter: the SVG, or the DOT source if Graphviz is missing
        """

        def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
            try:
                return {"image/svg+xml": run_dot(self.source, "svg").decode()}
            except GraphvizNotFoundError:
                note = INSTALL_DOT_PROGRAM + ". The DOT source of the graph:"
                return {
                    "text/plain": f"{note}\n\n{self.source}",
                    "text/html": f"<p>{html.escape(note)}</p><pre>{html.escape(self.source)}</pre>",
                }

    GraphPicture.__qualname__ = "GraphPicture"
    return GraphPicture
