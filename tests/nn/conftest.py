"""Fixtures shared by the tests of nn/."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from nn import data as datasets


@pytest.fixture
def write_cifar_batches():
    """A function writing small CIFAR-10 batches in the exact layout of its python version."""
    return _write_cifar_batches


def _write_cifar_batches(folder: Path, per_batch: int, seed: int = 0) -> None:
    """Small batches in the exact layout of CIFAR-10's python version."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        labels = rng.integers(0, 10, per_batch)
        # A learnable signal: each class brightens its own band of the red plane.
        rows = rng.integers(0, 128, (per_batch, 3072), dtype=np.uint8)
        for row, label in zip(rows, labels, strict=True):
            row[label * 100 : label * 100 + 100] = 255
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels.tolist(),
            b"data": rows,
            b"filenames": [f"{i}.png".encode() for i in range(per_batch)],
        }
        with open(folder / name, "wb") as file:
            pickle.dump(batch, file, protocol=2)
    meta = {b"label_names": [n.encode() for n in datasets.CLASS_NAMES["cifar10"]]}
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump(meta, file, protocol=2)
