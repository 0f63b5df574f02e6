"""A fixed delay of whole samples (a ring buffer), for latency compensation and for
aligning a node's dry path with its delayed wet path."""

from __future__ import annotations

import numpy as np

from .base import DTYPE


class DelayLine:
    """Delays ``(channels, n)`` blocks by ``delay`` samples; blocks up to ``max_block``."""

    def __init__(self, channels: int, delay: int, max_block: int):
        self.delay = delay
        self.size = delay + max_block
        self.ring = np.zeros((channels, self.size), dtype=DTYPE)
        self.out = np.zeros((channels, max_block), dtype=DTYPE)
        self.pos = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """The delayed block (a view of an internal buffer, valid until the next call)."""
        f = x.shape[1]
        _ring_put(self.ring, self.pos, x)
        out = self.out[:, :f]
        _ring_get(self.ring, (self.pos - self.delay) % self.size, out)
        self.pos = (self.pos + f) % self.size
        return out

    def reset(self) -> None:
        self.ring[:] = 0.0
        self.pos = 0


def _ring_put(ring: np.ndarray, pos: int, x: np.ndarray) -> None:
    n, size = x.shape[1], ring.shape[1]
    first = min(n, size - pos)
    ring[:, pos:pos + first] = x[:, :first]
    if first < n:
        ring[:, :n - first] = x[:, first:]


def _ring_get(ring: np.ndarray, pos: int, out: np.ndarray) -> None:
    n, size = out.shape[1], ring.shape[1]
    first = min(n, size - pos)
    out[:, :first] = ring[:, pos:pos + first]
    if first < n:
        out[:, first:] = ring[:, :n - first]
