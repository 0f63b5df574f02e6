"""What the nodes that write or measure the song's stream share (outputs, the meter,
the audio file writer): which samples of a stream belong to the song, and joining
short blocks into long ones before a costly call.  Nothing here is a node."""

from __future__ import annotations

import numpy as np

from .base import DTYPE

TAIL_THRESHOLD_DBFS = -90.0


class Batcher:
    """Hands ``emit`` blocks of at least ``chunk`` frames: a block that long passes
    straight through, shorter ones are copied and joined first (libsndfile calls and
    the meter's bookkeeping cost per call, not per frame).  Call :meth:`flush` at the
    end for what is left."""

    def __init__(self, emit, chunk: int = 8192):
        self.emit = emit
        self.chunk = chunk
        self._held: list[np.ndarray] = []
        self._frames = 0

    def add(self, x: np.ndarray) -> None:
        if x.shape[1] >= self.chunk and not self._held:
            self.emit(x)
            return
        self._held.append(np.array(x, dtype=DTYPE))
        self._frames += x.shape[1]
        if self._frames >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if self._held:
            x = np.concatenate(self._held, axis=1)
            self._held, self._frames = [], 0
            self.emit(x)


class SongWindow:
    """Which samples of a stream belong to the song, as outputs write and meters measure.

    Song time before 0 (the engine's pre-roll) is dropped; everything up to
    ``content`` (the end of the last source) is kept; after it, a tail is kept up to
    its last sample at or above -90 dBFS (quiet stretches are held back until
    something louder follows), and nothing at or after ``end``.
    """

    THRESHOLD = 10.0 ** (TAIL_THRESHOLD_DBFS / 20.0)

    def __init__(self, content: int, end: int | None = None):
        self.content = content
        self.end = end
        self.next = 0
        self.held: list[np.ndarray] = []

    def feed(self, x: np.ndarray, start: int) -> list[np.ndarray]:
        """The parts of block ``x`` (song time ``start``) to keep, in order."""
        lo = max(start, self.next)
        hi = start + x.shape[1] if self.end is None else min(start + x.shape[1], self.end)
        if hi <= lo:
            return []
        kept = []
        cut = min(max(self.content, lo), hi)
        if cut > lo:
            kept.append(x[:, lo - start:cut - start])
        if hi > cut:
            seg = x[:, cut - start:hi - start]
            loud = np.flatnonzero(np.abs(seg).max(axis=0) >= self.THRESHOLD)
            if loud.size == 0:
                self.held.append(seg.copy())
            else:
                kept += self.held
                self.held = []
                last = int(loud[-1]) + 1
                kept.append(seg[:, :last])
                if last < seg.shape[1]:
                    self.held.append(seg[:, last:].copy())
        self.next = hi
        return kept
