"""DataLoader: batches of NumPy arrays, one epoch per `for` loop."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from nn.init import Seed, as_generator


class DataLoader:
    """Iterate over `(x_batch, y_batch)` pairs of NumPy arrays, one epoch per `for` loop.

    With `shuffle=True` every epoch visits the samples in a new random order, drawn from `rng`
    (a Generator or an int seed; two loaders with the same seed give the same epochs). Without
    it, the order comes from nn's generator, which `nn.manual_seed(n)` resets. `seed` is the old
    name of `rng`, still accepted.
    The last, smaller batch is kept unless `drop_last=True`.

    Example:
        >>> loader = DataLoader(x_train, y_train, batch_size=128, shuffle=True, rng=0)
        >>> for xb, yb in loader: ...   # len(loader) batches per epoch
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        batch_size: int = 64,
        shuffle: bool = False,
        rng: Seed = None,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        if seed is not None and rng is not None:
            raise TypeError("DataLoader: give rng or its old name seed, not both")
        self.rng = as_generator(rng if seed is None else seed)

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.x)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for i in range(len(self)):
            # Indexing with an array copies just this batch, never the whole dataset.
            indices = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.x[indices], self.y[indices]
