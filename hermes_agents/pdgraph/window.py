"""A fixed-size window of the most recent numbers, kept in one numpy array."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray


class RingBuffer:
    """The ``capacity`` most recent values appended; older ones are overwritten.

    Buffers that are always appended together keep their positions aligned, so values at the
    same index of ``values()`` belong to the same observation.
    """

    __slots__ = ("_data", "_next", "count")

    def __init__(self, capacity: int, dtype: DTypeLike = np.float64) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._data: NDArray[np.generic] = np.zeros(capacity, dtype=dtype)
        self._next = 0
        self.count = 0

    @property
    def capacity(self) -> int:
        """How many values the window keeps."""
        return int(self._data.shape[0])

    def append(self, value: float) -> None:
        """Add ``value``, dropping the oldest once full."""
        self._data[self._next] = value
        self._next = (self._next + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def values(self) -> NDArray[np.generic]:
        """A copy of the values held (storage order, aligned across buffers)."""
        return self._data[: self.count].copy()

    @property
    def nbytes(self) -> int:
        """Bytes of storage held."""
        return int(self._data.nbytes)
