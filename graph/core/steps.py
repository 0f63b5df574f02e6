"""The step loop: the one way the render runs its steps, wherever they run.

Four places run steps: the block loop (the steps outside chains, a block at a time),
the chains (their steps, a segment at a time, see :mod:`mixgraph.core.runners`), the
outputs that write a tail chain's segments once they are back, and a preview.  All
four run them through :class:`StepLoop`, so a step is treated alike in each:

- **A muted step** (``Step.silent``, see :func:`mixgraph.core.schedule.solo_gate`)
  does not run: its outputs are silence, its node never sees a block, nothing is read
  for it (the delay lines on its links stay put, its tape is not read) and the
  watcher is not shown it: nothing it was given can be heard.
- **Any other step** gets its inputs (:func:`gather` from the buffers, or from its
  tape in the final pass after an analysis pass), shows them to the watcher where the
  watcher watches that step (the headroom check, see :class:`Watcher`), and its node
  processes them at song time: the render clock minus the step's input latency.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Iterator, Mapping, Protocol, Sequence

import numpy as np

from .schedule import InputPort, Step
from .tape import TapeReader


class Watcher(Protocol):
    """Looks at the inputs of some steps as they run, and keeps a figure per node: the
    peak level (the headroom watch, :class:`mixgraph.core.renderer.MasterHeadroom`).
    The figures of a copy in another process come back through :meth:`peaks` and
    :meth:`merge`."""

    def watches(self, step: Step) -> bool:
        """Whether :meth:`see` wants this step's inputs (asked once per loop)."""

    def see(self, step: Step, ins: tuple, start: int) -> None:
        """The inputs a step is about to process at song time ``start``."""

    def peaks(self) -> dict[str, float]:
        """The peak seen so far at each watched node."""

    def merge(self, peaks: dict[str, float]) -> None:
        """Take in peaks seen elsewhere (another process's copy of this watcher)."""


class StepLoop:
    """Runs ``steps`` in order over a stretch of render time.

    ``buffers`` is the plan's list of buffers, looked up at every run (a chain's last
    outputs are pointed at another segment of their ring between runs).  With
    ``fixed_outputs`` the steps' output buffers are known to stay the same arrays
    (the block loop's and a preview's), and a whole run hands them over as they are,
    without building a tuple per step and block.  ``readers`` (by node id): steps that
    read their input from their tape.  ``watch``: shown the inputs of the steps it
    watches.  What is worked out per step is worked out once, here.
    """

    def __init__(self, steps: Sequence[Step], buffers: list[np.ndarray], *,
                 watch: Watcher | None = None,
                 readers: Mapping[str, TapeReader] | None = None,
                 fixed_outputs: bool = False):
        readers = readers or {}
        self.steps = list(steps)
        self.buffers = buffers
        self.watch = watch
        # per step: node, input ports, output buffers, input latency, muted, the output
        # buffers themselves (fixed_outputs), tape reader, the step if watched
        self._items = tuple(
            (step.node, tuple(step.inputs), tuple(step.outputs), step.latency_in,
             step.silent,
             tuple(buffers[b] for b in step.outputs) if fixed_outputs else None,
             readers.get(step.node_id),
             step if watch is not None and watch.watches(step) else None)
            for step in self.steps)

    def run(self, n: int, f: int, full: bool) -> None:
        """Run every step over ``f`` frames from render-clock sample ``n``; ``full``
        says that ``f`` is the buffers' whole length."""
        for work in self._works(n, f, full):
            if work is not None:
                node, ins, outs, start = work
                node.process(ins, outs, start)

    def _works(self, n: int, f: int, full: bool) -> Iterator[tuple | None]:
        """What each step's node is to process, ``(node, ins, outs, start)``, worked out
        as it is asked for (after the step before has run); None for a muted step (its
        outputs are silenced here)."""
        bufs = self.buffers
        for node, ports, outputs, latency, silent, whole, reader, watched in self._items:
            if not full:
                outs = tuple([bufs[b][:, :f] for b in outputs])
            elif whole is None:
                outs = tuple([bufs[b] for b in outputs])
            else:
                outs = whole
            if silent:
                for out in outs:
                    out.fill(0.0)
                yield None
                continue
            if reader is not None:
                ins = reader.read(f)
            else:
                ins = tuple([gather(port, bufs, f, full) for port in ports])
            if watched is not None:
                self.watch.see(watched, ins, n - latency)
            yield node, ins, outs, n - latency

    @staticmethod
    def together(loops: Sequence[StepLoop], n: int, f: int, full: bool) -> None:
        """Run loops that do not feed one another (chains) over the same stretch, step by
        step across them: the first step of each, then the second ...  Steps whose nodes
        have the same type and gang key (:meth:`~mixgraph.nodes.base.Node.gang_key`)
        process as one gang, so several strips' EQs or compressors share a compiled loop;
        each loop's steps still run in their order, and every node gets what it would
        alone, so the render is the same as running the loops one after another."""
        for row in zip_longest(*(loop._works(n, f, full) for loop in loops)):
            gangs: dict[tuple, list[tuple]] = {}
            for work in row:
                if work is None:
                    continue
                key = work[0].gang_key()
                if key is None:
                    node, ins, outs, start = work
                    node.process(ins, outs, start)
                else:
                    gangs.setdefault((type(work[0]), key), []).append(work)
            for (kind, _), members in gangs.items():
                if len(members) == 1:
                    node, ins, outs, start = members[0]
                    node.process(ins, outs, start)
                else:
                    kind.process_gang(members)


def gather(port: InputPort, bufs: list[np.ndarray], f: int, full: bool):
    """The signal at an input port for this block (a buffer, or the sum of the feeds)."""
    if port.direct is not None:
        b = bufs[port.direct]
        return b if full else b[:, :f]
    if port.stack is not None:           # chains' last outputs, summed a segment at a time
        summed = bufs[port.stack]
        return summed if full else summed[:, :f]
    if port.scratch is None:
        return None
    x = bufs[port.scratch]
    if not full:
        x = x[:, :f]
    held = None                          # the first feed, added to the second
    for i, feed in enumerate(port.feeds):
        s = bufs[feed.buffer]
        if not full:
            s = s[:, :f]
        if feed.delay is not None:
            s = feed.delay.process(s)
        if feed.placed is not None:
            s = feed.placed.process(s)
        if i == 0:
            held = s
        elif i == 1:
            np.add(held, s, out=x)       # a mono feed fills both channels of a stereo port
                                         # (any other layout was placed)
        else:
            np.add(x, s, out=x)
    if len(port.feeds) == 1:
        x[...] = held
    return x
