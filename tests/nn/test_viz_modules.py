"""Pictures of real nn models: parameter paths as names, and layers boxed by their scopes."""

from __future__ import annotations

import numpy as np
import pytest

import nn
from autograd import TensorNode
from nn import functional as F

viz = pytest.importorskip("autograd.viz")


def mlp_loss():
    model = nn.MLP(4, [3], 2, rng=0)
    x = TensorNode(np.ones((5, 4), np.float32), name="x")
    loss = F.cross_entropy(model(x), np.array([0, 1, 0, 1, 1]))
    return model, loss


def by_id(graph: dict) -> dict:
    return {node["id"]: node for node in graph["nodes"]}


def test_parameters_are_named_by_their_paths_in_the_model():
    model, loss = mlp_loss()
    graph = viz.to_json(loss, names=model)
    names = {node["name"] for node in graph["nodes"] if node["kind"] == "tensor"}
    assert names >= {"x", "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"}
    assert {name for name, _ in model.named_parameters()} <= names


def test_collapsing_every_layer_leaves_one_box_per_layer_and_the_loss_outside():
    model, loss = mlp_loss()
    graph = viz.to_json(loss, names=model, collapse=True)
    boxes = sorted(
        node["label"].splitlines()[0] for node in graph["nodes"] if node["kind"] == "module"
    )
    assert boxes == ["layers.0 (Linear)", "layers.1 (ReLU)", "layers.2 (Linear)"]
    ops = [node["op"] for node in graph["nodes"] if node["kind"] == "op"]
    assert ops == ["SoftmaxCrossEntropy"]  # every other op sits inside a layer's box

    nodes = by_id(graph)
    first = next(n for n in graph["nodes"] if n["label"].startswith("layers.0 (Linear)"))
    inputs = {nodes[e["source"]].get("name") for e in graph["edges"] if e["target"] == first["id"]}
    assert inputs == {"x", "layers.0.weight", "layers.0.bias"}
