"""Listening to a graph without writing anything: the signal at one or more points,
rendered a block at a time from any song position.

A :class:`Listener` plans the graph as a preview does (every step once per block, no
chains), runs the analysis passes a loudness stage needs (over the whole song, first),
and then renders only what feeds its listening points.  A point is an output node
(what flows into it) or ``node.port`` (what flows out of that port: solo in place, the
snare channel or the reverb return alone, after its processing).  Several points come
out aligned to the latest of them (a mix and its master at the same song time, for an
A/B).  Output nodes never run: a listener writes no file.

:func:`preview` streams one point of a graph as it would render; the live engine
(:mod:`mixgraph.core.live`) plays listeners through the sound card.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

import os

from mixgraph.errors import ParameterError
from mixgraph.nodes.delayline import DelayLine
from mixgraph.nodes.tempfiles import temp_folder

from .model import Graph, PortRef
from .renderer import analyse_for, needed
from .schedule import Plan, Step, make_plan
from .steps import StepLoop, gather
from .validation import check


@dataclass
class Tap:
    """A listening point: the buffer (or the sink's input port) it reads, its latency,
    and the delay that lines it up with the latest point."""

    name: str
    step: Step
    buffer: int | None             # an output port's buffer; None: the sink's input
    latency: int
    delay: DelayLine | None = None
    channels: int = 2

    def read(self, plan: Plan, f: int) -> np.ndarray:
        x = plan.buffers[self.buffer][:, :f] if self.buffer is not None else \
            gather(self.step.inputs[0], plan.buffers, f, f == plan.block_size)
        return self.delay.process(x) if self.delay is not None else x


class Listener:
    """The graph's signal at ``points``, from song time ``start_s`` (see the module
    notes).  ``render(f)`` gives the next ``f`` frames of every point (a list of
    ``(channels, f)`` arrays, fresh copies) and moves on; ``seek`` jumps.

    ``from_tape``: analysed nodes read their input back from their tape, as in a
    render (a preview hears exactly what would render); else they process their live
    input with what the analysis found (edits upstream are heard)."""

    def __init__(self, graph: Graph, points: list[str], *, block_size: int = 1024,
                 start_s: float = 0.0, cancel: threading.Event | None = None,
                 from_tape: bool = True):
        self.block_size = block_size
        self.plan = plan = make_plan(graph, block_size, chains=False, lend=False)
        self._folder = None
        self.readers: dict = {}
        try:
            self.taps = [self._tap(p) for p in points]
            latest = max(t.latency for t in self.taps)
            for t in self.taps:
                t.channels = _channels(plan, t)
                if t.latency < latest:
                    t.delay = DelayLine(t.channels, latest - t.latency, block_size)
            self.latency = latest
            sinks = {s.node_id for s in plan.sinks}
            # from tape, an analysed node needs nothing upstream in the final pass
            analysed = {s.node_id for s in plan.steps if s.node.needs_analysis}
            self.final = needed(plan, {t.step.node_id for t in self.taps},
                                analysed if from_tape else set()) - sinks
            self._folder_context = temp_folder()
            self._folder = self._folder_context.__enter__()
            tapes = analyse_for(plan, self._folder, self.final, cancel)
            self.steps = [s for s in plan.steps if s.node_id in self.final]
            if from_tape:
                self.readers = {s.node_id: tapes[s.node_id].reader() for s in self.steps
                                if s.node_id in tapes}
            self.loop = StepLoop(self.steps, plan.buffers, readers=self.readers,
                                 fixed_outputs=True)
            self.n = 0
            self.seek(int(round(start_s * plan.sample_rate)))
        except BaseException:
            self.close()
            raise

    @property
    def sample_rate(self) -> int:
        return self.plan.sample_rate

    @property
    def position(self) -> int:
        """Song time, in samples, of the next frame :meth:`render` gives."""
        return self.n - self.latency

    @property
    def end(self) -> int:
        """Song samples up to the end of the last source."""
        return self.plan.content_frames

    def _tap(self, point: str) -> Tap:
        plan = self.plan
        ref = PortRef.parse(point)
        step = next((s for s in plan.steps if s.node_id == ref.node), None)
        if step is None:
            raise ParameterError(f"cannot listen to {point!r}: there is no such node")
        if step.is_sink and ref.port in (None, "in"):
            return Tap(point, step, None, step.latency_in)
        names = type(step.node).output_names()
        port = ref.port or type(step.node).default_output()
        if port not in names:
            raise ParameterError(f"cannot listen to {point!r}: '{ref.node}' has no output "
                                 f"port {port!r}")
        return Tap(point, step, step.outputs[names.index(port)], plan.latency[ref.node])

    def seek(self, song_sample: int) -> None:
        """Go on from song time ``song_sample``.  The graph runs for its latency
        unheard, so that the first frame given is the one the sources make at
        ``song_sample``; the nodes keep what they hold (a reverb's tail goes on over
        the jump, as in a DAW's loop), and a new listener starts from silence."""
        self.n = max(0, song_sample)
        for reader in self.readers.values():
            reader.skip(self.n)
        left = self.latency
        while left > 0:
            f = min(self.block_size, left)
            self.render(f)
            left -= f

    def render(self, f: int | None = None) -> list[np.ndarray]:
        """The next ``f`` frames (at most the block size) of every point."""
        f = self.block_size if f is None else f
        self.loop.run(self.n, f, f == self.block_size)
        self.n += f
        return [t.read(self.plan, f).copy() for t in self.taps]

    def close(self) -> None:
        for reader in self.readers.values():
            reader.close()
        self.readers = {}
        if self._folder is not None:
            self._folder_context.__exit__(None, None, None)
            self._folder = None
        self.plan.close()


def _channels(plan: Plan, tap: Tap) -> int:
    if tap.buffer is not None:
        return plan.buffers[tap.buffer].shape[0]
    return tap.step.inputs[0].channels or 1


def preview(project: Graph | str | os.PathLike, source: str, *, start_s: float = 0.0,
            block_size: int = 2048, cancel: threading.Event | None = None):
    """The signal at ``source`` as it would render, from song time ``start_s``: yields
    ``(start, block)`` with block of shape (channels, n); writes nothing.

    ``source`` is an output node (what flows into it) or ``node.port`` (what flows out
    of that port).  Analysis passes run first, over the whole song; the stream then
    starts cold at ``start_s`` (tails from before it are not heard) and goes on two
    seconds past the last source."""
    from .fileformat import load

    graph = project if isinstance(project, Graph) else load(project)
    check(graph, allow_outside=True)
    listener = Listener(graph, [source], block_size=block_size, start_s=start_s,
                        cancel=cancel)
    try:
        end = listener.end + listener.sample_rate * 2
        while listener.position < end:
            start = listener.position
            (block,) = listener.render()
            yield start, block
            if cancel is not None and cancel.is_set():
                return
    finally:
        listener.close()
