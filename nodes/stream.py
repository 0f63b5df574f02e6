"""What the nodes that write or measure the song's stream share (outputs, the meter,
the audio file writer): which samples of a stream belong to the song, and joining
short blocks into long ones before a costly call.  Nothing here is a node."""

from __future__ import annotations

from collections import deque

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


class TailGroup:
    """Outputs whose tails end together (stems that must sum back to one mix): each
    keeps its stream up to the last sample that any of them keeps on its own, so all
    are one length.  Shared by their windows (:class:`SongWindow`); members may be fed
    at different song times (each is fed in order), and the end is known once every
    member has been fed to its end."""

    def __init__(self):
        self.kept = 0            # song time just after the last sample a member keeps


class SongWindow:
    """Which samples of a stream belong to the song, as outputs write and meters measure.

    Song time before 0 (the engine's pre-roll) is dropped; everything up to
    ``content`` (the end of the last source) is kept; after it, a tail is kept up to
    its last sample at or above -90 dBFS (quiet stretches are held back until
    something louder follows), and nothing at or after ``end``.  In a ``together``
    group (:class:`TailGroup`), up to the last sample any member keeps: what a
    member holds back is let through as far as the group keeps, and :meth:`flush`
    gives what the group kept after a member's own last loud sample.
    """

    THRESHOLD = 10.0 ** (TAIL_THRESHOLD_DBFS / 20.0)

    def __init__(self, content: int, end: int | None = None,
                 together: TailGroup | None = None):
        self.content = content
        self.end = end
        self.next = 0
        self.together = together if together is not None else TailGroup()
        self.held: deque[tuple[int, np.ndarray]] = deque()   # (song time, samples) held

    def feed(self, x: np.ndarray, start: int) -> list[np.ndarray]:
        """The parts of block ``x`` (song time ``start``) to keep, in order."""
        lo = max(start, self.next)
        hi = start + x.shape[1] if self.end is None else min(start + x.shape[1], self.end)
        group = self.together
        if hi <= lo:
            return self._release(group.kept)
        cut = min(max(self.content, lo), hi)
        if cut > lo:
            group.kept = max(group.kept, cut)
        seg = x[:, cut - start:hi - start]
        if hi > cut:
            loud = np.flatnonzero(np.abs(seg).max(axis=0) >= self.THRESHOLD)
            if loud.size:
                group.kept = max(group.kept, cut + int(loud[-1]) + 1)
        kept = self._release(group.kept)
        if cut > lo:
            kept.append(x[:, lo - start:cut - start])
        if hi > cut:
            last = min(max(group.kept - cut, 0), hi - cut)
            if last:
                kept.append(seg[:, :last])
            if last < seg.shape[1]:
                self.held.append((cut + last, seg[:, last:].copy()))
        self.next = hi
        return kept

    def flush(self) -> list[np.ndarray]:
        """What is held back and the group keeps (call once every member has been fed
        to its end); alone, nothing."""
        return self._release(self.together.kept)

    def _release(self, until: int) -> list[np.ndarray]:
        """The held samples before song time ``until``, in order."""
        out = []
        while self.held and self.held[0][0] < until:
            at, seg = self.held.popleft()
            n = until - at
            if n < seg.shape[1]:
                out.append(seg[:, :n])
                self.held.appendleft((until, seg[:, n:]))
                break
            out.append(seg)
        return out
