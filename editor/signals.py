"""What a lane draws under its curve: a node's signal as rendered (its peaks across
the lane, and its level in dBFS), gathered block by block from a listener on the
node's output, so a long song is never held whole."""

from __future__ import annotations

import numpy as np


def measure_signals(graph, nodes: list[str], columns: int) -> tuple[float, dict] | None:
    """(the song's length in s, each node's :class:`SignalShape`), rendered a block at
    a time; None where the graph cannot play."""
    from mixgraph.core.listen import Listener

    points = []
    for nid in nodes:
        cls = graph.node(nid).node_class()
        port = cls.default_output() if cls is not None else None
        if port:
            points.append((nid, f"{nid}.{port}"))
    if not points:
        return None
    try:
        listener = Listener(graph, [p for _, p in points])
    except Exception:                         # a graph that cannot play: no signal yet
        return None
    try:
        end, rate = listener.end, listener.sample_rate
        shapes = [SignalShape(end, rate, columns) for _ in points]
        for _ in range(-(-end // listener.block_size)):
            for shape, block in zip(shapes, listener.render(listener.block_size)):
                shape.add(block)
    finally:
        listener.close()
    return max(1.0, end / rate), {nid: shape.result() for (nid, _), shape in zip(points, shapes)}


class SignalShape:
    """A signal as a lane draws it, gathered block by block: its peak per column (0
    to 1) and its level in dBFS (RMS over 400 ms around each column's middle)."""

    def __init__(self, frames: int, rate: int, columns: int):
        self.frames = max(1, frames)
        self.columns = columns
        self.edges = np.linspace(0, self.frames, columns + 1).astype(int)
        self.peaks = np.zeros(columns)
        self.hop = max(1, rate // 100)                 # power kept per 10 ms
        self.power: list[float] = []
        self.window = max(1, int(0.4 * rate) // self.hop)
        self.done = 0
        self._rest = np.zeros(0)

    def add(self, block: np.ndarray) -> None:
        n = min(block.shape[1], self.frames - self.done)
        if n <= 0:
            return
        x = block[:, :n]
        col = np.searchsorted(self.edges, self.done + np.arange(n), side="right") - 1
        np.maximum.at(self.peaks, np.clip(col, 0, self.columns - 1), np.abs(x).max(axis=0))
        power = np.concatenate([self._rest, (x ** 2).mean(axis=0)])
        whole = len(power) // self.hop * self.hop
        self.power += power[:whole].reshape(-1, self.hop).mean(axis=1).tolist()
        self._rest = power[whole:]
        self.done += n

    def result(self) -> dict:
        power = np.array(self.power or [0.0])
        csum = np.concatenate([[0.0], np.cumsum(power)])
        centres = ((self.edges[:-1] + self.edges[1:]) // 2 // self.hop).clip(0, len(power))
        lo = (centres - self.window // 2).clip(0, len(power))
        hi = (centres + self.window // 2).clip(0, len(power))
        mean = (csum[hi] - csum[lo]) / np.maximum(1, hi - lo)
        return {"peak": np.minimum(1.0, self.peaks),
                "level_db": 10 * np.log10(np.maximum(mean, 1e-10))}
