"""Specification of autograd/viz.py: the graph as DOT text, JSON dicts, image files and in Jupyter.

The DOT text is parsed (a small parser for the subset that the graphviz package writes), so the
tests check exact nodes, edges and label lines rather than searching for substrings.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import TensorNode, scope
from autograd.graph import walk

graphviz = pytest.importorskip("graphviz")
viz = pytest.importorskip("autograd.viz")

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed"
)


# ----- a parser for the DOT that graphviz writes -----------------------------------------------

ATTRIBUTE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]"]+)')
NODE = re.compile(r"^(\w+) \[(.*)\]$")
EDGE = re.compile(r"^(\w+) -> (\w+)(?: \[(.*)\])?$")


def unquote(text: str) -> str:
    """A DOT value as text: quotes removed, escapes read, \\n as a newline."""
    if not text.startswith('"'):
        return text
    out, chars = [], iter(text[1:-1])
    for char in chars:
        if char == "\\":
            following = next(chars)
            out.append("\n" if following in "nlr" else following)
        else:
            out.append(char)
    return "".join(out)


def attributes(text: str | None) -> dict[str, str]:
    return {key: unquote(value) for key, value in ATTRIBUTE.findall(text or "")}


def parse_dot(source: str) -> dict:
    """Nodes (id -> attributes, plus the clusters around them), edges (list of pairs), clusters."""
    nodes, edges, clusters, open_clusters, edge_labels = {}, [], {}, [], {}
    lines = [line.strip() for line in source.strip().splitlines()]
    assert lines[0].startswith("digraph") and lines[0].endswith("{") and lines[-1] == "}"
    for line in lines[1:-1]:
        if line.startswith("subgraph "):
            name = line.split()[1]
            clusters[name] = {"parent": open_clusters[-1] if open_clusters else None}
            open_clusters.append(name)
        elif line == "}":
            open_clusters.pop()
        elif line.split(" ")[0] in ("graph", "node", "edge"):
            continue
        elif match := EDGE.match(line):
            edges.append((match[1], match[2]))
            if "label" in attributes(match[3]):
                edge_labels[(match[1], match[2])] = attributes(match[3])["label"]
        elif match := NODE.match(line):
            nodes[match[1]] = dict(attributes(match[2]), cluster=tuple(open_clusters))
        elif open_clusters:  # attribute statement of a cluster: label=... style=...
            clusters[open_clusters[-1]].update(attributes(line))
        else:
            raise AssertionError(f"unexpected DOT line: {line!r}")
    assert not open_clusters
    return {"nodes": nodes, "edges": edges, "clusters": clusters, "edge_labels": edge_labels}


def label_lines(node: dict) -> list[str]:
    return node["label"].split("\n")


def ops_by_name(parsed: dict) -> dict[str, str]:
    """Op name (first label line of an ellipse) -> node id, for graphs where each op is unique."""
    found = {}
    for node_id, node in parsed["nodes"].items():
        if node["shape"] == "ellipse":
            name = label_lines(node)[0]
            assert name not in found, f"{name} appears twice"
            found[name] = node_id
    return found


def node_named(parsed: dict, first_line: str) -> str:
    matches = [i for i, n in parsed["nodes"].items() if label_lines(n)[0] == first_line]
    assert len(matches) == 1, f"{first_line!r} labels {len(matches)} nodes"
    return matches[0]


def step_of(node: dict) -> int:
    (step,) = [int(line.split()[-1]) for line in label_lines(node) if "backward step" in line]
    return step


# ----- small graphs ----------------------------------------------------------------------------


def neuron():
    """y = relu(x @ w + b), with b broadcast by an Expand; returns the nodes by name."""
    rng = np.random.default_rng(0)
    x = TensorNode(rng.normal(size=(4, 3)).astype(np.float32))
    w = TensorNode(rng.normal(size=(3, 2)).astype(np.float32), requires_grad=True)
    b = TensorNode(np.array([0.5, -0.5], np.float32), requires_grad=True)
    xw = x @ w
    z = xw + b
    y = z.relu()
    return {"x": x, "w": w, "b": b, "xw": xw, "z": z, "y": y}


class FakeLinear:
    """Stands in for nn.Linear: parameters, named_parameters(), a forward under scope(self)."""

    def __init__(self, n_in: int, n_out: int) -> None:
        self.weight = TensorNode(np.full((n_in, n_out), 0.1, np.float32), requires_grad=True)
        self.bias = TensorNode(np.zeros(n_out, np.float32), requires_grad=True)

    def named_parameters(self):
        return [("weight", self.weight), ("bias", self.bias)]

    def __call__(self, x):
        with scope(self):
            return x @ self.weight + self.bias


class FakeModel:
    """Two FakeLinear layers with a relu between, with PyTorch-style parameter and module paths."""

    def __init__(self) -> None:
        self.layers = [FakeLinear(3, 4), FakeLinear(4, 2)]

    def named_parameters(self):
        return [
            (f"layers.{i}.{name}", parameter)
            for i, layer in enumerate(self.layers)
            for name, parameter in layer.named_parameters()
        ]

    def named_modules(self):
        return [("", self)] + [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def __call__(self, x):
        with scope(self):
            return self.layers[1](self.layers[0](x).relu())


# ----- structure -------------------------------------------------------------------------------


def test_neuron_graph_has_exactly_its_tensors_ops_and_data_flow_edges():
    g = neuron()
    parsed = parse_dot(viz.to_dot(g["y"], names=g).source)
    ops = ops_by_name(parsed)
    assert set(ops) == {"Expand", "MatMul", "Add", "Relu"}
    tensors = {name: node_named(parsed, name) for name in ("x", "w", "b", "xw", "z", "y")}
    expanded_b = [
        i for i, n in parsed["nodes"].items() if i not in ops.values() and i not in tensors.values()
    ]
    assert len(expanded_b) == 1 and len(parsed["nodes"]) == 11
    expected = {
        (tensors["x"], ops["MatMul"]),
        (tensors["w"], ops["MatMul"]),
        (ops["MatMul"], tensors["xw"]),
        (tensors["b"], ops["Expand"]),
        (ops["Expand"], expanded_b[0]),
        (tensors["xw"], ops["Add"]),
        (expanded_b[0], ops["Add"]),
        (ops["Add"], tensors["z"]),
        (tensors["z"], ops["Relu"]),
        (ops["Relu"], tensors["y"]),
    }
    assert Counter(parsed["edges"]) == Counter(expected)


def test_tensor_labels_give_name_shape_and_dtype():
    g = neuron()
    parsed = parse_dot(viz.to_dot(g["y"], names=g).source)
    assert label_lines(parsed["nodes"][node_named(parsed, "w")]) == ["w", "(3, 2) float32"]
    assert label_lines(parsed["nodes"][node_named(parsed, "x")]) == ["x", "(4, 3) float32"]
    scalar = (g["y"].sum() * 2).sum()
    root = parse_dot(viz.to_dot(scalar).source)["nodes"]
    assert [label_lines(n) for n in root.values() if n["shape"] == "box"][-1] == ["scalar float32"]


def test_ops_are_numbered_in_the_order_the_backward_pass_visits_them():
    g = neuron()
    loss = (g["y"] * g["y"]).mean()
    parsed = parse_dot(viz.to_dot(loss).source)
    op_ids = [i for i, n in parsed["nodes"].items() if n["shape"] == "ellipse"]
    drawn = sorted(
        (step_of(parsed["nodes"][i]), label_lines(parsed["nodes"][i])[0]) for i in op_ids
    )
    expected = [(i, op.op.__name__) for i, op in enumerate(walk([loss])[0], 1)]
    assert drawn == expected
    assert drawn[:3] == [(1, "Mean"), (2, "Mul"), (3, "Relu")]


def test_leaves_with_grad_constants_intermediates_and_root_are_drawn_distinctly():
    g = neuron()
    nodes = parse_dot(viz.to_dot(g["y"], names=g).source)["nodes"]

    def look(name):
        node = nodes[node_named({"nodes": nodes}, name)]
        return node["shape"], node["style"], node.get("fillcolor"), node["color"]

    looks = {name: look(name) for name in ("w", "x", "z", "y")}
    assert looks["w"] == look("b")  # both leaves that require grad
    assert len(set(looks.values())) == 4
    assert "dashed" in looks["x"][1]  # a constant: no gradient flows into it
    assert "bold" in looks["y"][1]


def test_a_node_used_twice_appears_once_with_one_edge_per_use():
    x = TensorNode([1.0, 2.0], requires_grad=True, name="x")
    square = x * x
    a = square.exp()
    y = a * a + a
    parsed = parse_dot(viz.to_dot(y, names={"a": a}).source)
    x_id, a_id = node_named(parsed, "x"), node_named(parsed, "a")
    mul_ids = [i for i, n in parsed["nodes"].items() if label_lines(n)[0] == "Mul"]
    assert len(mul_ids) == 2
    edges = Counter(parsed["edges"])
    square_op = next(m for m in mul_ids if edges[(x_id, m)])
    assert edges[(x_id, square_op)] == 2
    other_mul = next(m for m in mul_ids if m != square_op)
    add = ops_by_name({"nodes": {i: n for i, n in parsed["nodes"].items() if i not in mul_ids}})
    assert edges[(a_id, other_mul)] == 2 and edges[(a_id, add["Add"])] == 1
    assert sum(1 for source, _ in parsed["edges"] if source == a_id) == 3


def test_a_graph_after_backward_still_draws_with_the_same_numbering():
    g = neuron()
    loss = g["y"].sum()
    before = viz.to_json(loss)
    loss.backward()  # releases every op's context
    after = viz.to_json(loss, show_grads=False)
    assert [n["id"] for n in after["nodes"]] == [n["id"] for n in before["nodes"]]
    assert after["edges"] == before["edges"]
    steps = {n["op"]: n["visit_order"] for n in after["nodes"] if n["kind"] == "op"}
    assert steps == {n["op"]: n["visit_order"] for n in before["nodes"] if n["kind"] == "op"}
    expand = next(n for n in after["nodes"] if n["kind"] == "op" and n["op"] == "Expand")
    assert expand["constants"] == {"shape": [4, 2]}  # read from the output, not the context


def test_a_leaf_or_a_graph_free_root_is_a_single_node():
    x = TensorNode([1.0, 2.0], requires_grad=True, name="x")
    parsed = parse_dot(viz.to_dot(x).source)
    assert list(parsed["nodes"]) == ["t0"] and parsed["edges"] == []
    assert label_lines(parsed["nodes"]["t0"]) == ["x", "(2,) float32"]


def test_drawing_something_other_than_a_tensornode_is_a_type_error():
    with pytest.raises(TypeError, match="TensorNode"):
        viz.to_dot(np.ones(3))


# ----- names -----------------------------------------------------------------------------------


def test_names_come_from_name_then_a_locals_style_dict_then_parameter_paths():
    x = TensorNode(np.ones((2, 3), np.float32), name="inputs")
    layer = FakeLinear(3, 2)
    hidden = layer(x)
    out = hidden.relu()
    _private = out
    names = {"x": x, "hidden": hidden, "_private": out, "layer": layer, "count": 3}
    parsed = parse_dot(viz.to_dot(out, names=[names, layer]).source)
    first_lines = {label_lines(n)[0] for n in parsed["nodes"].values()}
    assert {"inputs", "hidden", "weight", "bias"} <= first_lines  # name= beats the dict's "x"
    assert "x" not in first_lines and "_private" not in first_lines


def test_parameter_paths_of_a_duck_typed_module_name_its_parameters():
    model = FakeModel()
    loss = model(TensorNode(np.ones((5, 3), np.float32))).sum()
    graph = viz.to_json(loss, names=model)
    named = {n["name"]: n["shape"] for n in graph["nodes"] if n["kind"] == "tensor" and n["name"]}
    assert named == {
        "layers.0.weight": [3, 4],
        "layers.0.bias": [4],
        "layers.1.weight": [4, 2],
        "layers.1.bias": [2],
    }


def test_names_of_an_unsupported_type_are_refused_clearly():
    with pytest.raises(TypeError, match="named_parameters"):
        viz.to_json(TensorNode(1.0), names=["not a mapping"])


def test_labels_with_quotes_and_backslashes_survive_the_dot_text():
    name = 'say "hi" \\ back'
    parsed = parse_dot(viz.to_dot(TensorNode(1.0, name=name)).source)
    assert label_lines(parsed["nodes"]["t0"])[0] == name


# ----- constants, values, gradients ------------------------------------------------------------


@pytest.mark.parametrize("after_backward", [False, True])
def test_op_labels_show_the_constants_the_user_gave_even_after_backward(after_backward):
    x = TensorNode(np.ones(3, np.float32), requires_grad=True)
    loss = ((x + np.ones((2, 3), np.float32)) ** 2).sum(axis=1).expand((4, 2)).mean()
    if after_backward:
        loss.backward()  # releases every saved context; the constants stay on the OpNodes
    nodes = parse_dot(viz.to_dot(loss).source)["nodes"]
    labels = {
        label_lines(n)[0]: label_lines(n)[1:-1] for n in nodes.values() if n["shape"] == "ellipse"
    }
    expands = [label_lines(n)[1] for n in nodes.values() if label_lines(n)[0] == "Expand"]
    assert sorted(expands) == ["shape=(2, 3)", "shape=(4, 2)"]
    assert labels["Pow"] == ["exponent=2"]
    assert labels["Sum"] == ["axis=1"]
    assert labels["Mean"] == []  # .mean() over everything: no constant given
    assert labels["Add"] == []


def test_non_finite_values_and_gradients_are_red_and_say_so():
    x = TensorNode([1.0, -1.0, 0.0], requires_grad=True, name="x")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = x.log()
        loss = logs.sum()
        loss.backward(retain_grads=True)
    nodes = parse_dot(viz.to_dot(loss, names={"logs": logs}).source)["nodes"]
    logs_node = nodes[node_named({"nodes": nodes}, "logs")]
    x_node = nodes[node_named({"nodes": nodes}, "x")]
    assert "value has 1 NaN, 1 inf" in label_lines(logs_node)
    assert "grad has 1 inf" in label_lines(x_node)
    finite = TensorNode([1.0], name="ok")
    ok_node = parse_dot(viz.to_dot(finite).source)["nodes"]["t0"]
    assert logs_node["color"] == x_node["color"] == logs_node["fontcolor"] != ok_node["color"]
    assert logs_node["color"] in ("red", "#dc2626")


def test_show_values_gives_tiny_values_in_full_and_min_mean_max_otherwise():
    rng = np.random.default_rng(1)
    big = TensorNode(rng.normal(size=(5, 4)), requires_grad=True, name="big")
    tiny = TensorNode(np.array([0.25, -2.0]), requires_grad=True, name="tiny")
    loss = big.sum() + tiny.sum()
    nodes = parse_dot(viz.to_dot(loss, show_values=True).source)["nodes"]
    big_lines = label_lines(nodes[node_named({"nodes": nodes}, "big")])
    numbers = re.fullmatch(r"value min (\S+)  mean (\S+)  max (\S+)", big_lines[2]).groups()
    expected = [big.value.min(), big.value.mean(), big.value.max()]
    np.testing.assert_allclose([float(n) for n in numbers], expected, rtol=1e-3)
    tiny_lines = label_lines(nodes[node_named({"nodes": nodes}, "tiny")])
    assert tiny_lines[2] == "value [0.25, -2]"
    hidden = parse_dot(viz.to_dot(loss).source)["nodes"]
    assert label_lines(hidden[node_named({"nodes": hidden}, "big")]) == ["big", "(5, 4) float64"]


def test_show_grads_gives_the_gradient_norm_after_backward_and_can_be_turned_off():
    rng = np.random.default_rng(2)
    w = TensorNode(rng.normal(size=(3, 3)).astype(np.float32), requires_grad=True, name="w")
    loss = (w * w).sum()
    loss.backward(retain_grads=True)
    nodes = parse_dot(viz.to_dot(loss).source)["nodes"]
    w_lines = label_lines(nodes[node_named({"nodes": nodes}, "w")])
    norm = float(re.fullmatch(r"grad norm (\S+)", w_lines[2])[1])
    np.testing.assert_allclose(norm, np.linalg.norm(2 * w.value), rtol=1e-3)
    root = [n for n in nodes.values() if "bold" in n["style"]][0]
    assert label_lines(root)[-1] == "grad 1"
    quiet = parse_dot(viz.to_dot(loss, show_grads=False).source)["nodes"]
    assert label_lines(quiet[node_named({"nodes": quiet}, "w")]) == ["w", "(3, 3) float32"]


# ----- JSON ------------------------------------------------------------------------------------


def test_json_is_serialisable_and_describes_the_same_graph_as_the_dot():
    g = neuron()
    loss = g["y"].mean()
    loss.backward(retain_graph=True)
    graph = viz.to_json(loss, names=g, show_values=True)
    assert json.loads(json.dumps(graph)) == graph
    parsed = parse_dot(viz.to_dot(loss, names=g, show_values=True).source)
    assert {n["id"]: n["label"] for n in graph["nodes"]} == {
        i: n["label"] for i, n in parsed["nodes"].items()
    }
    assert Counter((e["source"], e["target"]) for e in graph["edges"]) == Counter(parsed["edges"])
    by_name = {n["name"]: n for n in graph["nodes"] if n["kind"] == "tensor" and n["name"]}
    assert by_name["w"]["role"] == "leaf" and by_name["x"]["role"] == "constant"
    assert by_name["w"]["shape"] == [3, 2] and by_name["w"]["dtype"] == "float32"
    ops = {n["op"]: n for n in graph["nodes"] if n["kind"] == "op"}
    assert ops["Expand"]["constants"] == {"shape": [4, 2]} and ops["Mean"]["visit_order"] == 1
    roots = [n for n in graph["nodes"] if n.get("role") == "root"]
    assert len(roots) == 1 and roots[0]["shape"] == []


def test_json_edges_run_from_tensors_into_ops_with_their_input_index():
    a = TensorNode([3.0], requires_grad=True, name="a")
    b = TensorNode([1.0], requires_grad=True, name="b")
    graph = viz.to_json(a - b)
    ids = {n["name"]: n["id"] for n in graph["nodes"] if n.get("name")}
    (sub,) = [n["id"] for n in graph["nodes"] if n["kind"] == "op"]
    into_sub = {e["source"]: e["input_index"] for e in graph["edges"] if e["target"] == sub}
    assert into_sub == {ids["a"]: 0, ids["b"]: 1}


def op_chains():
    """Random small graphs: each step applies an op to earlier nodes, so nodes get shared."""
    unary = [
        lambda x: x.exp(),
        lambda x: x.tanh(),
        lambda x: x * 2,
        lambda x: x.sum(axis=0, keepdims=True),
    ]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b]
    step = st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 100), st.integers(0, 100))
    return st.lists(step, min_size=1, max_size=10).map(lambda steps: (steps, unary, binary))


@settings(max_examples=40, deadline=None)
@given(op_chains())
def test_every_tensor_and_op_appears_once_and_every_edge_joins_a_tensor_and_an_op(chain):
    steps, unary, binary = chain
    nodes = [TensorNode(np.ones((2, 3)) * 0.1, requires_grad=True), TensorNode(np.ones(3) * 0.2)]
    for is_unary, which, first, second in steps:
        a, b = nodes[first % len(nodes)], nodes[second % len(nodes)]
        nodes.append(unary[which](a) if is_unary else binary[which % 3](a, b))
    root = nodes[-1]
    graph = viz.to_json(root)
    parsed = parse_dot(viz.to_dot(root).source)

    # The reference: every TensorNode and OpNode reachable from the root, by identity.
    tensors, ops, todo = {id(root)}, set(), [root]
    while todo:
        node = todo.pop()
        if node.source is not None and id(node.source) not in ops:
            ops.add(id(node.source))
            for x in node.source.inputs:
                tensors.add(id(x))
                todo.append(x)
    kinds = Counter(n["kind"] for n in graph["nodes"])
    assert kinds == Counter({"tensor": len(tensors), "op": len(ops)} if ops else {"tensor": 1})
    assert set(parsed["nodes"]) == {n["id"] for n in graph["nodes"]}
    kind_of = {n["id"]: n["kind"] for n in graph["nodes"]}
    assert all({kind_of[s], kind_of[t]} == {"tensor", "op"} for s, t in parsed["edges"])
    steps_drawn = sorted(n["visit_order"] for n in graph["nodes"] if n["kind"] == "op")
    assert steps_drawn == list(range(1, len(ops) + 1))


# ----- modules: clusters and collapsing --------------------------------------------------------


def test_ops_built_inside_a_module_are_framed_in_a_cluster_named_after_it():
    model = FakeModel()
    loss = model(TensorNode(np.ones((5, 3), np.float32))).sum()
    parsed = parse_dot(viz.to_dot(loss, names=model).source)
    labels = {name: c["label"] for name, c in parsed["clusters"].items()}
    assert sorted(labels.values()) == [
        "FakeModel",
        "layers.0 (FakeLinear)",
        "layers.1 (FakeLinear)",
    ]
    outer = next(name for name, label in labels.items() if label == "FakeModel")
    layer0 = next(name for name, label in labels.items() if label.startswith("layers.0"))
    assert parsed["clusters"][layer0]["parent"] == outer
    in_layer0 = sorted(
        label_lines(n)[0]
        for n in parsed["nodes"].values()
        if n["cluster"] and n["cluster"][-1] == layer0 and n["shape"] == "ellipse"
    )
    assert in_layer0 == ["Add", "Expand", "MatMul"]
    outside = [label_lines(n)[0] for n in parsed["nodes"].values() if not n["cluster"]]
    assert "Sum" in outside and "layers.0.weight" in outside
    flat = parse_dot(viz.to_dot(loss, group_scopes=False).source)
    assert flat["clusters"] == {} and len(flat["nodes"]) == len(parsed["nodes"])


def test_collapsing_a_module_draws_its_ops_as_one_box_between_its_inputs_and_outputs():
    layer = FakeLinear(3, 2)
    x = TensorNode(np.ones((4, 3), np.float32), name="x")
    h = layer(x)
    loss = h.relu().sum()
    parsed = parse_dot(viz.to_dot(loss, names=[layer, {"h": h}], collapse=layer).source)
    boxes = [i for i, n in parsed["nodes"].items() if n["shape"] == "box3d"]
    assert len(boxes) == 1
    box = boxes[0]
    assert label_lines(parsed["nodes"][box])[0] == "FakeLinear"
    ellipses = sorted(
        label_lines(n)[0] for n in parsed["nodes"].values() if n["shape"] == "ellipse"
    )
    assert ellipses == ["Relu", "Sum"]
    into_box = {source for source, target in parsed["edges"] if target == box}
    assert into_box == {node_named(parsed, name) for name in ("x", "weight", "bias")}
    assert [target for source, target in parsed["edges"] if source == box] == [
        node_named(parsed, "h")
    ]
    assert len(parsed["nodes"]) == 9  # x, weight, bias, box, h, Relu, its output, Sum, root


def test_collapse_true_collapses_every_innermost_module_and_keeps_the_ops_between():
    model = FakeModel()
    loss = model(TensorNode(np.ones((5, 3), np.float32))).sum()
    graph = viz.to_json(loss, names=model, collapse=True)
    boxes = [n for n in graph["nodes"] if n["kind"] == "module"]
    assert sorted(n["module"] for n in boxes) == ["layers.0 (FakeLinear)", "layers.1 (FakeLinear)"]
    assert all(sorted(n["ops"]) == ["Add", "Expand", "MatMul"] for n in boxes)
    assert sorted(n["op"] for n in graph["nodes"] if n["kind"] == "op") == ["Relu", "Sum"]
    all_steps = sorted(
        s for n in graph["nodes"] for s in ([n["visit_order"]] if n["kind"] == "op" else [])
    ) + sorted(s for n in boxes for s in n["visit_order"])
    assert sorted(all_steps) == list(range(1, 9))
    whole = viz.to_json(loss, names=model, collapse=model)
    assert [n["kind"] for n in whole["nodes"]].count("module") == 1
    assert sorted(n["op"] for n in whole["nodes"] if n["kind"] == "op") == ["Sum"]


def test_collapsing_a_module_that_built_nothing_in_the_graph_is_refused_clearly():
    loss = FakeLinear(3, 2)(TensorNode(np.ones((1, 3), np.float32))).sum()
    with pytest.raises(ValueError, match="collapse: no op of this graph was built inside"):
        viz.to_json(loss, collapse=FakeLinear(3, 2))


# ----- files, Jupyter, missing Graphviz --------------------------------------------------------


@needs_dot
def test_render_writes_a_valid_svg_and_png_and_returns_their_paths(tmp_path):
    loss = neuron()["y"].sum()
    svg = viz.render(loss, tmp_path / "graph.svg", show_values=True)
    assert svg == tmp_path / "graph.svg"
    assert ElementTree.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    png = viz.render(loss, tmp_path / "graph", format="png")
    assert png == tmp_path / "graph.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert viz.render(loss, tmp_path / "plain").suffix == ".svg"
    with pytest.raises(ValueError, match="ends in .png"):
        viz.render(loss, tmp_path / "graph.png", format="svg")


def test_render_without_the_dot_program_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    loss = neuron()["y"].sum()
    from autograd.errors import GraphvizNotFoundError

    assert viz.GraphvizNotFoundError is GraphvizNotFoundError  # its home is autograd.errors
    with pytest.raises(GraphvizNotFoundError) as caught:
        viz.render(loss, tmp_path / "graph.svg")
    message = str(caught.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert "to_dot(...).source" in message and "to_json" in message
    assert isinstance(caught.value, RuntimeError)
    assert not (tmp_path / "graph.svg").exists()


@needs_dot
def test_in_jupyter_the_picture_displays_as_svg():
    bundle = viz.to_dot(neuron()["y"])._repr_mimebundle_()
    assert ElementTree.fromstring(bundle["image/svg+xml"]).tag.endswith("svg")


def test_in_jupyter_without_dot_the_picture_falls_back_to_its_dot_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    picture = viz.to_dot(neuron()["y"])
    assert isinstance(picture, graphviz.Digraph)
    bundle = picture._repr_mimebundle_()
    assert bundle["text/plain"].endswith(picture.source)
    assert "apt-get install graphviz" in bundle["text/plain"]
    assert "<pre>" in bundle["text/html"]


def test_without_the_graphviz_package_autograd_imports_and_to_dot_says_what_to_install():
    script = (
        "import sys; sys.modules['graphviz'] = None\n"
        "import autograd, autograd.viz as viz\n"
        "x = autograd.TensorNode([1.0], requires_grad=True)\n"
        "assert viz.to_json(x * 2)['nodes']\n"
        "try:\n"
        "    viz.to_dot(x * 2)\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "pip install autograd-nn[viz]" in result.stdout


# ----- operand order and scalar values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "op", "formula"),
    [
        (lambda p, r: p - r, "Sub", "① - ②"),
        (lambda p, r: p / r, "Div", "① / ②"),
        (lambda p, r: p.reshape((1, 2)) @ r.reshape((2, 1)), "MatMul", "① @ ②"),
    ],
)
def test_edges_into_non_commutative_ops_name_the_operands_in_order(make, op, formula):
    p = TensorNode([3.0, 2.0], requires_grad=True, name="p")
    r = TensorNode([1.0, 2.0], requires_grad=True, name="r")
    root = make(p, r)
    graph = viz.to_json(root)
    (op_node,) = [n for n in graph["nodes"] if n.get("op") == op]
    into = {e["input_index"]: e["label"] for e in graph["edges"] if e["target"] == op_node["id"]}
    assert into == {0: "①", 1: "②"}
    assert label_lines(op_node)[:2] == [op, formula]

    parsed = parse_dot(viz.to_dot(root).source)
    labelled = {parsed["nodes"][source]["label"].split("\n")[0]: label
                for (source, target), label in parsed["edge_labels"].items()
                if target == op_node["id"]}  # fmt: skip
    if op != "MatMul":  # MatMul's inputs are the reshaped p and r, not p and r themselves
        assert labelled == {"p": "①", "r": "②"}
    else:
        assert sorted(labelled.values()) == ["①", "②"]


def test_edges_into_commutative_ops_carry_no_operand_label():
    p = TensorNode([3.0], requires_grad=True, name="p")
    r = TensorNode([1.0], requires_grad=True, name="r")
    graph = viz.to_json(p * r + r)
    assert all(edge["label"] is None for edge in graph["edges"])
    assert parse_dot(viz.to_dot(p * r + r).source)["edge_labels"] == {}


def test_a_scalar_graph_shows_values_and_gradients_by_default():
    a = TensorNode(-4.0, requires_grad=True, name="a")
    b = TensorNode(2.0, requires_grad=True, name="b")
    d = a * b - a
    d.backward()
    nodes = {n["name"]: n for n in viz.to_json(d)["nodes"] if n.get("name")}
    assert label_lines(nodes["a"]) == ["a", "scalar float32", "value -4", "grad 1"]
    assert label_lines(nodes["b"]) == ["b", "scalar float32", "value 2", "grad -4"]
    assert viz.to_json(d, show_values=False)["nodes"][0]["value_summary"] is None


def test_a_tensor_graph_keeps_shapes_without_values_by_default():
    x = TensorNode(np.ones((2, 3), np.float32), requires_grad=True, name="x")
    loss = (x * 2).sum()
    nodes = {n["name"]: n for n in viz.to_json(loss)["nodes"] if n.get("name")}
    assert nodes["x"]["value_summary"] is None
    assert "(2, 3) float32" in label_lines(nodes["x"])


# ----- naming what a lesson talks about --------------------------------------------------------


def test_a_float_in_names_names_the_scalar_constants_of_that_value_and_ints_do_not():
    x = TensorNode(np.ones(3, np.float32), requires_grad=True, name="x")
    eps, count = 1e-5, 2
    variance = (x * x).mean()
    mu = x.mean()
    root = (variance + eps) * count + mu
    nodes = viz.to_json(root, names={"eps": eps, "count": count, "σ²": variance, "μ": mu})["nodes"]
    named = {n["name"]: n for n in nodes if n["kind"] == "tensor" and n["name"]}
    assert set(named) == {"x", "eps", "σ²", "μ"}
    assert named["eps"]["role"] == "constant" and named["eps"]["shape"] == []
    broadcast = x + eps  # the number becomes a (3,) constant, a broadcast view
    ones = x * TensorNode(np.full(3, eps, np.float32))  # an array that holds eps: not named
    nodes = viz.to_json(broadcast + ones, names={"eps": eps})["nodes"]
    constants = [n for n in nodes if n.get("role") == "constant"]
    assert sorted(str(n["name"]) for n in constants) == ["None", "eps"]


# ----- the graph of a gradient -----------------------------------------------------------------


def test_ops_recorded_by_a_create_graph_backward_are_drawn_apart_with_a_legend():
    from autograd import grad

    w = TensorNode(np.float64(0.8), requires_grad=True, name="w")
    y = (w * 1.5).tanh()
    (dy_dw,) = grad(y, w, create_graph=True)
    graph = viz.to_json(dy_dw, names={"y": y})
    ops = [n for n in graph["nodes"] if n["kind"] == "op"]
    forward = sorted(n["op"] for n in ops if not n["made_by_backward"])
    assert forward == ["Mul", "Tanh"]
    backward_scopes = {n["scope"][-1] for n in ops if n["made_by_backward"]}
    assert backward_scopes == {"backward of the Tanh of step 5", "backward of the Mul of step 6"}
    assert all(n["scope_kinds"] == ["backward"] for n in ops if n["made_by_backward"])
    parsed = parse_dot(viz.to_dot(dy_dw, names={"y": y}).source)
    colours = {
        n["fillcolor"] for n in parsed["nodes"].values() if n["shape"] == "ellipse"
    }  # two kinds of op: the forward's and the backward's
    assert len(colours) == 2
    frames = {c["color"] for c in parsed["clusters"].values()}
    assert frames == {viz.picture.CLUSTER_COLOURS["backward"][0]}
    assert "create_graph=True" in viz.to_dot(dy_dw).source  # the legend line
    assert "create_graph" not in viz.to_dot(y).source


# ----- pictures that never hang ----------------------------------------------------------------


def recurrence(steps=100):
    """x = x * w + 1 a hundred times: w feeds 100 ops (the graph that used to hang Graphviz)."""
    x = TensorNode(np.ones(3, np.float32), requires_grad=True, name="x")
    w = TensorNode(np.full(3, 0.5, np.float32), requires_grad=True, name="w")
    for _ in range(steps):
        x = x * w + 1
    return x.sum()


def test_a_tensor_used_by_many_ops_is_drawn_once_beside_each_use():
    graph = viz.to_json(recurrence())
    copies = [n for n in graph["nodes"] if n.get("name") == "w"]
    assert len(copies) == 100 and len({n["copy_of"] for n in copies}) == 1
    assert sorted(label_lines(n)[1] for n in copies)[:2] == ["use 1 of 100", "use 10 of 100"]
    into = Counter(e["source"] for e in graph["edges"])
    assert all(into[n["id"]] == 1 for n in copies)
    few = viz.to_json(recurrence(10))
    assert [n.get("name") for n in few["nodes"]].count("w") == 1  # 10 uses: drawn once
    whole = viz.to_json(recurrence(), copy_shared_above=None)
    assert [n.get("name") for n in whole["nodes"]].count("w") == 1


def test_an_intermediate_used_by_many_ops_keeps_its_node_and_says_where_it_comes_from():
    x = TensorNode(np.ones(2, np.float32), requires_grad=True)
    h = x.tanh()
    total = h
    for i in range(12):
        total = total + h * float(i)
    graph = viz.to_json(total.sum(), names={"h": h})
    nodes = [n for n in graph["nodes"] if n.get("name") == "h"]
    assert len(nodes) == 1 + 13 and sum(n["copy_of"] is None for n in nodes) == 1
    copy = next(n for n in nodes if n["copy_of"])
    assert label_lines(copy)[2].startswith("from Tanh, step ")


@needs_dot
def test_the_200_op_recurrence_renders(tmp_path):
    """It used to take Graphviz minutes; now a fraction of a second (notes/viz.md)."""
    path = viz.render(recurrence(), tmp_path / "chain.svg")
    assert ElementTree.parse(path).getroot().tag.endswith("svg")


def test_a_picture_too_large_to_lay_out_says_what_to_pass_instead(monkeypatch):
    monkeypatch.setattr(viz.picture, "MAX_DRAWN_NODES", 50)
    with pytest.raises(viz.PictureTooLargeError, match=r"would have \d+ nodes .*to_json"):
        viz.to_dot(recurrence(30))
    model = FakeModel()
    loss = model(TensorNode(np.ones((5, 3), np.float32)))
    for _ in range(6):
        loss = model(loss[:, :1] @ TensorNode(np.ones((1, 3), np.float32)))
    with pytest.raises(viz.PictureTooLargeError, match="collapse=True"):
        viz.to_json(loss.sum(), names=model)
    assert viz.to_json(loss.sum(), names=model, collapse=model)  # what the message suggests


@needs_dot
def test_dot_taking_too_long_stops_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(viz.picture, "DOT_TIMEOUT", 1e-4)
    with pytest.raises(viz.PictureTooLargeError, match="took more than"):
        viz.picture.run_dot(viz.to_dot(recurrence(5)).source, "svg")


def test_large_pictures_bound_graphvizs_effort_and_small_ones_do_not():
    big = parse_dot(viz.to_dot(recurrence(60)).source)
    small = parse_dot(viz.to_dot(recurrence(3)).source)
    assert "nslimit" in viz.to_dot(recurrence(60)).source
    assert "nslimit" not in viz.to_dot(recurrence(3)).source
    assert len(big["nodes"]) > viz.picture.BOUNDED_ABOVE >= len(small["nodes"])


def test_left_to_right_is_an_option_and_a_wrong_direction_is_refused():
    assert "rankdir=LR" in viz.to_dot(recurrence(3), rankdir="LR").source
    with pytest.raises(ValueError, match="rankdir='sideways'"):
        viz.to_dot(recurrence(3), rankdir="sideways")
