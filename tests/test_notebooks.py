"""The notebooks run top to bottom, and what they show is what today's engine prints.

Each notebook is executed once per test run, in a fresh kernel, with nbclient. Every code cell's
text outputs (what it prints, the text form of its result, its error) are then compared with the
outputs saved in the file. A change to the engine that changes a lesson fails here, naming the
notebook and the cell; re-run the notebook and save it with its new outputs:

    AUTOGRAD_SAVE_NOTEBOOKS=1 .venv/bin/python -m pytest tests/test_notebooks.py

Pictures (PNG, SVG) are not compared: their bytes depend on the matplotlib and Graphviz versions.
Volatile text is handled explicitly: memory addresses (``at 0x7f...``) are normalised, and a cell
tagged ``volatile-output`` in its metadata (a timing, say) is run but its outputs are not compared.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
README = Path(__file__).parents[1] / "README.md"
VOLATILE_TAG = "volatile-output"
SAVE = os.environ.get("AUTOGRAD_SAVE_NOTEBOOKS") == "1"
ADDRESS = re.compile(r" at 0x[0-9a-f]+")
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def text_outputs(cell) -> list[str]:
    """A code cell's outputs as text: streams (one per run of the same stream, however the kernel
    chunked it), the text/plain form of results and displays, and errors; memory addresses
    normalised."""
    texts: list[str] = []
    previous_stream = None
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream" and output["name"] == previous_stream:
            texts[-1] += output["text"]
        elif kind == "stream":
            texts.append(f"[{output['name']}]\n{output['text']}")
        elif kind in ("execute_result", "display_data"):
            texts.append(f"[{kind}]\n{output.get('data', {}).get('text/plain', '')}")
        elif kind == "error":
            texts.append(f"[error]\n{output['ename']}: {output['evalue']}")
        previous_stream = output["name"] if kind == "stream" else None
    return [ADDRESS.sub(" at 0x...", text) for text in texts]


def compared_cells(notebook) -> list[tuple[int, list[str]]]:
    """(cell number, text outputs) of every code cell whose outputs are compared."""
    return [
        (number, text_outputs(cell))
        for number, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and VOLATILE_TAG not in cell.metadata.get("tags", [])
    ]


def execute(path: Path):
    """A fresh run of the notebook at ``path``, in its own folder, with a new kernel.

    One BLAS thread, as in the benchmarks: the same sums in the same order on every run, so a
    trained model's accuracy is the same to the last digit (and two notebooks run side by side
    do not fight over the two cores)."""
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        coalesce_streams=True,
    )
    single_thread = dict.fromkeys(BLAS_THREADS, "1")
    client.execute(env={**os.environ, **single_thread})
    return notebook


def stale_cells(saved, fresh) -> list[str]:
    """For each compared code cell whose text outputs differ between the two runs of a notebook,
    its number and a diff (saved -> fresh)."""
    mismatches = []
    for (number, saved_texts), (_, fresh_texts) in zip(
        compared_cells(saved), compared_cells(fresh), strict=True
    ):
        if saved_texts != fresh_texts:
            diff = difflib.unified_diff(
                "".join(saved_texts).splitlines(),
                "".join(fresh_texts).splitlines(),
                "saved",
                "fresh run",
                lineterm="",
            )
            mismatches.append(f"cell {number}:\n" + "\n".join(diff))
    return mismatches


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_the_notebook_runs_and_its_saved_text_outputs_are_a_fresh_runs(path):
    saved = nbformat.read(path, as_version=4)
    fresh = execute(path)  # raises CellExecutionError, naming the cell, if a cell fails
    if SAVE:
        nbformat.write(fresh, path)
        return
    mismatches = stale_cells(saved, fresh)
    assert not mismatches, (
        f"{path.name}: the saved outputs are not what the notebook prints today; if the change "
        f"is right, save a fresh run (AUTOGRAD_SAVE_NOTEBOOKS=1 .venv/bin/python -m pytest "
        f"tests/test_notebooks.py -k {path.stem}) and read the text again:\n\n"
        + "\n\n".join(mismatches)
    )


def notebook_printing(*cells):
    """A notebook of code cells, each given as (list of outputs, tags)."""
    notebook = nbformat.v4.new_notebook()
    for outputs, tags in cells:
        cell = nbformat.v4.new_code_cell("...", outputs=outputs)
        cell.metadata["tags"] = tags
        notebook.cells.append(cell)
    return notebook


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def result(text):
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


def test_a_changed_figure_is_stale_but_addresses_chunks_and_tagged_timings_are_not():
    saved = notebook_printing(
        ([stream("accuracy 0.951\n")], []),
        ([result("<Picture at 0x7f92ac19a7d0>")], []),
        ([stream("a\nb\n")], []),
        ([stream("took 1.2 s\n")], [VOLATILE_TAG]),
    )
    fresh = notebook_printing(
        ([stream("accuracy 0.953\n")], []),
        ([result("<Picture at 0x7fb0cc24ab90>")], []),
        ([stream("a\n"), stream("b\n")], []),  # the kernel chunked the same text
        ([stream("took 3.4 s\n")], [VOLATILE_TAG]),
    )
    (mismatch,) = stale_cells(saved, fresh)
    assert mismatch.startswith("cell 0:") and "-accuracy 0.951" in mismatch
    assert "+accuracy 0.953" in mismatch


def test_every_notebook_has_saved_outputs_and_no_volatile_cell_goes_unmarked():
    """A notebook saved without running shows nothing to a reader; and each cell whose output is
    exempt from the comparison is exempt on purpose (it prints a timing)."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for number, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            assert cell.get("execution_count") is not None, f"{path.name} cell {number} not run"
            if VOLATILE_TAG in cell.metadata.get("tags", []):
                assert re.search(r"time|%%?timeit", "".join(cell.source)), (
                    f"{path.name} cell {number} is tagged {VOLATILE_TAG} but times nothing"
                )


def test_the_readmes_notebook_3_accuracy_is_the_one_the_notebook_prints():
    """README quotes notebook 3's held-out accuracy; the notebook's saved output (which the test
    above keeps equal to a fresh run) must say the same."""
    notebook = nbformat.read(NOTEBOOKS / "03-mlp-on-mnist.ipynb", as_version=4)
    printed = "".join(text for _, texts in compared_cells(notebook) for text in texts)
    (accuracy,) = re.findall(r"held-out accuracy: ([\d.]+)%", printed)
    row = next(line for line in README.read_text().splitlines() if "notebook 3" in line)
    assert f"{accuracy}% on the other 2,000" in row, (row, accuracy)
