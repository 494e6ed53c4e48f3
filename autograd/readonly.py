"""Values saved for backward are read-only while their graph lives.

An op saves its inputs or outputs for backward (Mul saves both inputs, Relu its output). If one
of them changed before backward ran, the gradient would be silently wrong; so the engine refuses
the change on the spot, as MyGrad does. Op outputs are made read-only when recorded (do_forward).
Leaf values (parameters, inputs) are read-only while some recorded op that took them is alive:
backward releases each op as it passes (unless ``retain_graph``), and a graph dropped without
backward releases its ops as they are freed. So the ordinary loop (forward, backward, step)
writes freely, while an optimiser step between two backwards of one graph raises.

Graphs built in several threads may share leaves: the counts change under a lock, so that no
two threads read and write a count at once (which lost counts, leaving a parameter read-only with
no graph alive, or unlocked one that a graph still held).

Limits: a view of a leaf's array taken before the graph (other than ``detach()``, which is
read-only) is not locked with it.
"""

from __future__ import annotations

import threading

import numpy as np

_setflags = np.ndarray.setflags

# The leaf values that recorded ops hold read-only: id -> how many ops hold it. Counted per
# array, so that two graphs, or two leaves sharing one array, keep it locked until the last lets
# go. An op keeps the arrays it counted (not the leaves, whose value may be replaced meanwhile):
# a tuple of arrays, which the cycle collector stops tracking, as it holds no Python objects.
_locked: dict[int, int] = {}
_counting = threading.Lock()  # held while a count is read and written
_acquire, _release = _counting.acquire, _counting.release  # bound once: no lookup per op


def lock(inputs: tuple) -> tuple:
    """Make the writable leaf values among ``inputs`` read-only; returns the arrays counted."""
    arrays = ()
    held = False  # the lock is taken at the first leaf: ops on intermediates never wait for it
    for x in inputs:
        if x.source is None:
            if not held:
                held = _acquire()
            value = x.value
            count = _locked.get(id(value))
            if count is None:
                if not value.flags.writeable:
                    continue  # read-only already: nothing to undo later
                _setflags(value, False)
                count = 0
            _locked[id(value)] = count + 1
            arrays += (value,)
    if held:
        _release()
    return arrays


def unlock(arrays: tuple) -> None:
    """Undo ``lock``: the last op to let go of an array makes it writable again."""
    if not arrays:
        return
    _acquire()
    try:  # free in Python 3.11 unless something raises: the lock is never left held
        for value in arrays:
            count = _locked[id(value)] - 1
            if count:
                _locked[id(value)] = count
            else:
                del _locked[id(value)]
                _setflags(value, True)
    finally:
        _release()
