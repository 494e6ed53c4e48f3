"""Values saved for backward are read-only while their graph lives.

An op saves its inputs or outputs for backward (Mul saves both inputs, Relu its output). If one
of them changed before backward ran, the gradient would be silently wrong; so the engine refuses
the change on the spot, as MyGrad does. Op outputs are made read-only when recorded (do_forward).
Leaf values (parameters, inputs) are read-only while some recorded op that took them is alive:
backward releases each op as it passes (unless ``retain_graph``), and a graph dropped without
backward releases its ops as they are freed. So the ordinary loop (forward, backward, step)
writes freely, while an optimiser step between two backwards of one graph raises.

Limits: a view of a leaf's array taken before the graph (other than ``detach()``, which is
read-only) is not locked with it; and the counts rely on the GIL.
"""

from __future__ import annotations

import numpy as np

_setflags = np.ndarray.setflags

# The leaf values that recorded ops hold read-only: id -> entry [array, how many ops hold it].
# Counted per array, so that two graphs, or two leaves sharing one array, keep it locked until
# the last lets go; an op keeps the entries it counted, so a leaf given a new value meanwhile
# unlocks only what was locked.
_locked: dict[int, list] = {}


def lock(inputs: tuple) -> tuple:
    """Make the writable leaf values among ``inputs`` read-only; returns the entries counted."""
    entries = ()
    for x in inputs:
        if x.source is None:
            value = x.value
            entry = _locked.get(id(value))
            if entry is None:
                if not value.flags.writeable:
                    continue  # read-only already: nothing to undo later
                _setflags(value, False)
                entry = _locked[id(value)] = [value, 0]
            entry[1] += 1
            entries += (entry,)
    return entries


def unlock(entries: tuple) -> None:
    """Undo ``lock``: the last op to let go of an array makes it writable again."""
    for entry in entries:
        entry[1] -= 1
        if not entry[1]:
            del _locked[id(entry[0])]
            _setflags(entry[0], True)
