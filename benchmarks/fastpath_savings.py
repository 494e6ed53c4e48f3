"""What each fast path saves: instructions per op with it, and with its plain version instead.

    python -m benchmarks.fastpath_savings      # needs valgrind; a few minutes

A fast path stays only while its count shows it pays for its lines. For each one, this copies
the engine to a scratch folder, replaces the fast path by the plain code it stands for, and
counts instructions per op of ``(y * w + x).tanh()``, forward and backward, as
``benchmarks.instructions`` does; the saving is the plain count minus the count with every fast
path in place. benchmarks/EDITIONS.md records the figures.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.instructions import per_op

ROOT = Path(__file__).resolve().parents[1]

#: Each fast path of autograd/fastpaths.py, and the body of the plain function it replaces.
PLAIN_BODIES = {
    "wrap": "return tuple(map(autograd.tensor.as_node, inputs))",
    "aligned": "return False  # ops/shape.py's broadcast for every elementwise op",
    "needs_input_grad": "return tuple([x.requires_grad for x in nodes])",
    "forward": (
        "return op.forward(context, *autograd.higher_order.input_values(nodes, context), "
        "**constants)"
    ),
    "output_nodes": "return tuple([autograd.tensor.TensorNode(y, requires_grad) for y in outputs])",
}

#: The fast path inside graph.run_backward: a single output's gradient taken without a call.
SINGLE_OUTPUT = re.compile(
    r"        if len\(op_node.output_values\) == 1:.*?\n        else:\n"
    r"            (output_grads = take_output_grads\(op_node, outputs, grads, create_graph\)\n)",
    re.S,
)


def plain_fastpath(source: str, name: str) -> str:
    """fastpaths.py with function ``name``'s body (after its docstring) replaced."""
    start = source.index(f"\ndef {name}(")
    docstring_end = source.index('"""', source.index('"""', start) + 3) + 3
    end = source.find("\n\n\n", docstring_end)
    end = len(source) if end == -1 else end
    return source[:docstring_end] + "\n    " + PLAIN_BODIES[name] + source[end:]


def scratch_copy(folder: Path, name: str | None) -> str:
    """The engine and the benchmarks copied into ``folder``, with fast path ``name`` plain."""
    for package in ("autograd", "benchmarks"):
        shutil.copytree(ROOT / package, folder / package)
    if name in PLAIN_BODIES:
        path = folder / "autograd" / "fastpaths.py"
        path.write_text(plain_fastpath(path.read_text(), name))
    elif name == "single output in backward":
        path = folder / "autograd" / "graph.py"
        source, found = SINGLE_OUTPUT.subn(r"        \1", path.read_text())
        if found != 1:
            raise RuntimeError("graph.run_backward no longer has the single-output fast path")
        path.write_text(source)
    return str(folder)


def main() -> int:
    names = [None, *PLAIN_BODIES, "single output in backward"]
    counts = {}
    with tempfile.TemporaryDirectory() as scratch:
        for number, name in enumerate(names):
            folder = scratch_copy(Path(scratch) / str(number), name)
            counts[name] = per_op("forward+backward", folder)
            label = "all fast paths in place" if name is None else f"{name} plain"
            print(f"  {label:<38} {counts[name]:>9,.0f}", flush=True)
    print("saved per op, forward + backward:")
    for name in names[1:]:
        print(f"  {name:<38} {counts[name] - counts[None]:>9,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
