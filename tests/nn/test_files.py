"""Atomic writes: a file appears complete under its name, or not at all."""

from __future__ import annotations

import os

import numpy as np
import pytest

from nn.files import write_atomically


def test_the_file_appears_with_its_content_and_no_temporary_is_left(tmp_path):
    path = write_atomically(tmp_path / "model.npz", lambda file: file.write(b"weights"))
    assert path.read_bytes() == b"weights"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old weights")

    def interrupted(file):
        file.write(b"half of the new")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, interrupted)
    assert target.read_bytes() == b"old weights"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_the_file_gets_the_permissions_of_an_ordinary_file(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    written = write_atomically(tmp_path / "written", lambda file: None)
    assert written.stat().st_mode == plain.stat().st_mode


def test_save_arrays_keeps_names_that_np_savez_would_take_as_its_own_arguments(tmp_path):
    from nn.files import load_arrays, save_arrays

    arrays = {"file": np.arange(3.0), "allow_pickle": np.ones(2), "layers.0.weight": np.eye(2)}
    save_arrays(tmp_path / "state.npz", arrays)
    loaded = load_arrays(tmp_path / "state.npz")
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)


def test_an_unwritable_path_is_reported_by_the_name_the_caller_gave(tmp_path):
    target = tmp_path / "no-such-folder" / "model.npz"
    with pytest.raises(FileNotFoundError) as caught:
        write_atomically(target, lambda file: file.write(b"x"))
    assert caught.value.filename == str(target)
    assert ".partial" not in str(caught.value)
