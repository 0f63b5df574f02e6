"""The block renderer: runs a plan block by block, streaming from and to disk.

Memory stays flat as songs get longer: sources are read and outputs written one
block at a time, and the only buffers are the plan's ``(channels, block)`` ones (and
the chains' segments).  Outputs are written to temporary files that are renamed into
place when the whole render has succeeded; on any error or cancellation they are
removed.

Here: :func:`render` and :func:`preview`, the analysis passes and the block loop.
Steps run through the one step loop (:class:`mixgraph.core.steps.StepLoop`); the
plan's chains run a segment ahead through a runner (:mod:`mixgraph.core.runners`);
a node that needs an analysis pass reads its input from a tape
(:mod:`mixgraph.core.tape`).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import networkx as nx
import numpy as np

from mixgraph.errors import MixgraphError, ParameterError, RenderCancelled
from mixgraph.nodes.stream import TailGroup
from mixgraph.nodes.tempfiles import temp_folder

from .model import Graph
from .policy import correlation_warnings, headroom_warning, master_entries
from .report import Report
from .schedule import RING, Chain, Plan, Step, make_plan
from .runners import Inline, Runner, make_runner
from .steps import StepLoop, Watcher, gather
from .tape import Tape
from .validation import check

MAX_BLOCK = 65536
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RenderPass:
    """A pass of a render, as a progress callback's ``begin_pass`` is told of it: an
    analysis pass or the render itself, ``number`` of ``count`` (from 1).  ``start``
    is the work done before it and ``frames`` its own, in the samples that
    ``progress(done, total)`` counts; ``song_frames`` is the song's length (the
    report's ``song_s``), which a pass runs over."""

    name: str                          # "analysis" or "render"
    number: int
    count: int
    start: int
    frames: int
    song_frames: int


def render(project: Graph | str | os.PathLike, *, block_size: int = 1024,
           progress: Progress | None = None,
           output_paths: dict[str, str | os.PathLike] | None = None,
           cancel: threading.Event | None = None,
           allow_outside: bool | None = None,
           same_length: set[str] | None = None,
           workers: int | None = None) -> Report:
    """Validate and render a project; returns its :class:`Report`.

    ``project`` is a :class:`Graph` or a project file's path.  ``progress`` is
    called as ``progress(done, total)`` in samples of render time over every pass (a
    render with an analysis pass runs the song twice); where it also has a method
    ``begin_pass``, that is called with a :class:`RenderPass` as each pass begins.
    ``output_paths`` writes output nodes elsewhere (``{node_id: path}``).  Setting
    ``cancel`` stops the render (:class:`RenderCancelled`), writing nothing.
    ``allow_outside`` lets a project from a file write outside its folder (see
    :func:`mixgraph.core.validation.validate`).  The outputs named in
    ``same_length`` end together (stems that are to be summed): each keeps its tail
    up to the last sample that any of them keeps (at or above -90 dBFS, within the
    longest of their declared tails), so all are one length.

    ``workers`` (default: one per core) run independent chains of nodes in parallel
    (see :mod:`mixgraph.core.runners`).  Where the platform can fork and no other
    thread is running, they are processes: the render's own process is one of them
    (it also runs the block loop), the others are forked from it.  Otherwise (another
    thread is running, no ``os.fork``, or ``MIXGRAPH_NO_FORK=1``) they are threads.
    One worker, a short render or fewer than two chains run everything in the
    render's own thread.  The output is the same, bit for bit, for any number.
    """
    from .fileformat import load

    graph = project if isinstance(project, Graph) else load(project)
    check_block_size(block_size)
    paths = redirect_paths(graph, output_paths or {})
    workers = check_workers(workers)
    validation = check(graph, output_paths=paths, allow_outside=allow_outside)
    started = time.perf_counter()
    plan = make_plan(graph, block_size, paths)
    if same_length:
        longest = max(plan.sink_ends[n] for n in same_length)
        for n in same_length:
            plan.sink_ends[n] = longest
        plan.together = set(same_length)
        plan.end_frames = max(plan.end_frames, max(
            s.latency_in + plan.sink_ends[s.node_id] for s in plan.sinks))
    try:
        if plan.content_frames <= 0:
            raise MixgraphError("nothing to render: every source in the project is empty")
        headroom = MasterHeadroom(plan)
        elsewhere: dict = {}
        outputs = run(plan, progress=progress, cancel=cancel, watch=headroom,
                      workers=workers, reports=elsewhere)
        measured = {step.node_id: (type(step.node).type_name, found) for step in plan.steps
                    if (found := elsewhere[step.node_id] if step.node_id in elsewhere
                        else step.node.report())}
    finally:
        plan.close()
    warnings = list(validation.warnings) + headroom.warnings() + correlation_warnings(outputs)
    for node_id, (_, figures) in measured.items():
        warnings += [f"{node_id}: {w}" for w in figures.pop("warnings", [])]
    return Report(outputs=outputs, nodes=measured, notices=list(plan.notices),
                  warnings=warnings,
                  render_s=time.perf_counter() - started,
                  song_s=plan.content_frames / plan.sample_rate,
                  block_size=block_size, sample_rate=plan.sample_rate)


def redirect_paths(graph: Graph, output_paths: dict) -> dict[str, str]:
    """Output redirections as absolute paths (relative ones are taken from the current
    folder, as a command line user means them), for output nodes only."""
    from mixgraph.nodes.base import Sink

    paths = {}
    for node_id, value in output_paths.items():
        spec = graph.nodes.get(node_id)
        cls = spec.node_class() if spec is not None else None
        if cls is None or not issubclass(cls, Sink):
            raise ParameterError(f"cannot redirect {node_id!r}: it is not an output node")
        text = str(value)
        if not text or "\x00" in text:
            raise ParameterError(f"output '{node_id}': {text!r} is not a usable path")
        paths[node_id] = str(Path(text).expanduser().absolute())
    return paths


class MasterHeadroom:
    """Peak level of the mix where it enters the master chain (see
    :func:`mixgraph.core.policy.master_entries`), for the headroom warning: a
    :class:`mixgraph.core.steps.Watcher`."""

    def __init__(self, plan: Plan):
        categories = {s.node_id: type(s.node).category for s in plan.steps}
        self.entries = dict.fromkeys(master_entries(categories, plan.graph.pred), 0.0)

    def watches(self, step: Step) -> bool:
        return step.node_id in self.entries

    def see(self, step: Step, ins: tuple, start: int) -> None:
        if step.node_id in self.entries and ins and ins[0] is not None:
            x = ins[0][:, max(0, -start):]
            if x.size:
                self.entries[step.node_id] = max(self.entries[step.node_id],
                                                 float(np.abs(x).max()))

    def peaks(self) -> dict[str, float]:
        return dict(self.entries)

    def merge(self, peaks: dict[str, float]) -> None:
        for node_id, peak in peaks.items():
            self.entries[node_id] = max(self.entries[node_id], peak)

    def warnings(self) -> list[str]:
        found = (headroom_warning(node_id, peak) for node_id, peak in self.entries.items())
        return [w for w in found if w]


def check_block_size(block_size) -> None:
    """ParameterError unless ``block_size`` is a whole number from 1 to MAX_BLOCK."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) \
            or not 1 <= block_size <= MAX_BLOCK:
        raise ParameterError(f"block size must be a whole number between 1 and {MAX_BLOCK}, "
                             f"got {block_size!r}")


def check_workers(workers: int | None) -> int:
    """The number of workers to use: ``workers``, or one per core where it is None;
    ParameterError unless it is a whole number of at least 1."""
    if workers is None:
        return os.cpu_count() or 1
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ParameterError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


def run(plan: Plan, *, progress: Progress | None = None,
        cancel: threading.Event | None = None, watch: Watcher | None = None,
        workers: int = 1, reports: dict | None = None) -> list[dict]:
    """Run the analysis passes, then every block of ``plan``; returns the outputs' reports.

    A node that needs an analysis pass gets its input rendered once into a temporary
    file (its tape, :mod:`mixgraph.core.tape`); it analyses the tape, and in the final
    pass reads its input from it, so what feeds only that node is not rendered again.
    ``workers`` run the plan's chains (a :class:`~mixgraph.core.runners.Runner`); where
    they ran in other processes, their nodes' reports are put in ``reports`` and the
    peaks their copy of ``watch`` saw are merged into ``watch``.
    """
    runner = make_runner(plan, workers, watch)
    try:
        outputs = _run(plan, progress, cancel, watch, runner)
        found = runner.reports()
        if reports is not None:
            reports.update(found.nodes)
        if watch is not None:
            watch.merge(found.peaks)
        return outputs
    finally:
        runner.close()


def _run(plan: Plan, progress, cancel, watch: Watcher | None, runner: Runner) -> list[dict]:
    analysed = [s for s in plan.steps if s.node.needs_analysis]
    tracker = _Tracker(progress, plan, len(analysed) + 1)
    sinks = plan.sinks
    final = _needed(plan, {s.node_id for s in sinks}, {s.node_id for s in analysed})
    begun = []
    with temp_folder() as folder:
        try:
            tapes = _analyse(plan, folder, final, tracker, cancel, runner)
            together = TailGroup()
            for step in sinks:
                step.node.begin(plan.content_frames, plan.sink_ends[step.node_id],
                                together if step.node_id in plan.together else None)
                begun.append(step)
            tracker.begin_pass("render")
            _run_pass(plan, [s for s in plan.steps if s.node_id in final], tapes, tracker,
                      cancel, watch=watch, runner=runner)
            reports = [step.node.finish() for step in sinks]
            _publish_together([step.node for step in sinks])
            return reports
        except BaseException:
            for step in reversed(begun):      # the last writer's folder may nest in the first's
                step.node.abort()
            raise


def _publish_together(sinks: list) -> None:
    """Make every finished output visible, or none: where one cannot be moved into
    place, those already moved are taken back (what they replaced is put back)."""
    done = []
    try:
        for sink in sinks:
            done.append(sink.publish())
    except BaseException:
        for publication in reversed(done):
            try:
                publication.undo()
            except OSError:
                pass
        raise
    # every output is in place: what they replaced goes, even if a stop comes meanwhile
    stopped = None
    for publication in done:
        while True:
            try:
                publication.keep()
                break
            except KeyboardInterrupt as exc:
                stopped = exc
    if stopped is not None:
        raise stopped


def _analyse(plan: Plan, folder: Path, final: set[str], tracker: "_Tracker",
             cancel: threading.Event | None, runner: Runner | None = None
             ) -> dict[str, Tape]:
    """The analysis passes, in order; returns each analysed node's tape."""
    analysed = [s for s in plan.steps if s.node.needs_analysis]
    tapes: dict[str, Tape] = {}
    for i, step in enumerate(analysed):
        active = _needed(plan, {step.node_id}, set(tapes)) - {step.node_id}
        tape = Tape(folder, step, plan)
        tracker.begin_pass("analysis")
        _run_pass(plan, [s for s in plan.steps if s.node_id in active], tapes, tracker,
                  cancel, capture=(step, tape), runner=runner)
        tape.close()
        step.node.analyse(tape)
        tapes[step.node_id] = tape
        # what runs again starts afresh; what does not (a meter feeding only this node)
        # keeps what it measured
        again = set(final)
        for later in analysed[i + 1:]:
            again |= _needed(plan, {later.node_id}, set(tapes))
        fresh = {s.node_id for s in plan.steps if s.node_id in active and s.node_id in again}
        for s in plan.steps:
            if s.node_id in fresh:
                s.node.reset()
        if runner is not None:
            runner.reset(fresh)
        for line in plan.delay_lines:
            line.reset()
    return tapes


def analyse_for(plan: Plan, folder: Path, final: set[str],
                cancel: threading.Event | None = None) -> dict[str, Tape]:
    """The analysis passes a listener of ``final`` needs (see :mod:`.listen`): each
    analysed node's tape, in ``folder``."""
    analysed = [s for s in plan.steps if s.node.needs_analysis]
    return _analyse(plan, folder, final, _Tracker(None, plan, len(analysed)), cancel)


def needed(plan: Plan, targets: set[str], taped: set[str]) -> set[str]:
    """The targets and what they need, where taped nodes read their input from tape."""
    return _needed(plan, targets, taped)


def _needed(plan: Plan, targets: set[str], taped: set[str]) -> set[str]:
    """The targets and what they need, where taped nodes read their input from tape."""
    dag = plan.graph.copy()
    dag.remove_edges_from([e for e in plan.graph.in_edges(taped)])
    needed = set(targets)
    for t in targets:
        needed |= nx.ancestors(dag, t)
    return needed


def _run_pass(plan: Plan, steps: list[Step], tapes: dict[str, Tape], tracker: "_Tracker",
              cancel: threading.Event | None, capture=None, watch: Watcher | None = None,
              runner: Runner | None = None) -> None:
    bufs = plan.buffers
    block = plan.block_size
    total = plan.end_frames
    readers = {s.node_id: tapes[s.node_id].reader() for s in steps if s.node_id in tapes}
    chained = sorted({s.chain for s in steps if s.chain is not None})
    if runner is None:
        runner = Inline(plan, watch)
    tails = _Tails(plan, [c for c in chained if plan.chains[c].is_tail], steps, runner,
                   watch, tracker)
    segments = _Segments(plan, [c for c in chained if not plan.chains[c].is_tail], runner,
                         _read_views(steps, plan, capture))
    # the block loop: the steps outside chains (but the outputs of tail chains), in
    # runs that end where a tail chain starts and its input is gathered

    def looped(run: list[Step]) -> StepLoop:
        return StepLoop(run, bufs, watch=watch, readers=readers, fixed_outputs=True)

    loop: list[tuple[StepLoop, Chain | None]] = []
    run: list[Step] = []
    for s in steps:
        if s.node_id in tails.first:
            loop.append((looped(run), tails.first[s.node_id]))
            run = []
        elif s.chain is None and id(s) not in tails.post_ids:
            run.append(s)
    loop.append((looped(run), None))
    n = 0
    try:
        while n < total:
            f = min(block, total - n)
            full = f == block
            segments.serve(n)
            for part, chain in loop:
                part.run(n, f, full)
                if chain is not None:
                    tails.feed(chain, n, gather(chain.feed, bufs, f, full))
            if capture is not None:
                target, tape = capture
                tape.write(tuple(gather(port, bufs, f, full) for port in target.inputs))
            n += f
            tails.advance(n)
            if cancel is not None and cancel.is_set():
                raise RenderCancelled("render cancelled; nothing was written")
            if not tails.chains:          # else progress is counted as the outputs write
                tracker.advance(f)
        tails.finish()
    finally:
        segments.close()
        for reader in readers.values():
            reader.close()


def _read_views(steps: list[Step], plan: Plan, capture) -> set[int]:
    """The buffers the block loop reads one by one (not through a stack)."""
    ports = [p for s in steps if s.chain is None for p in s.inputs]
    ports += [plan.chains[c].feed for c in {s.chain for s in steps if s.chain is not None}
              if plan.chains[c].is_tail]
    if capture is not None:
        ports += capture[0].inputs
    read = set()
    for port in ports:
        if port.direct is not None:
            read.add(port.direct)
        elif port.stack is None:
            read.update(feed.buffer for feed in port.feeds)
    return read


class _Segments:
    """Serves the block loop the current block of each chain's last outputs, running
    the chains (through ``runner``, see :mod:`mixgraph.core.runners`) a segment ahead.  Ends
    that only a stack reads are not pointed at one by one."""

    def __init__(self, plan: Plan, chains: list[int], runner: Runner, read: set[int]):
        self.plan = plan
        self.chains = chains
        self.runner = runner
        self.current = -1
        self.started = 0                     # segments asked for so far
        self.tickets: deque = deque()        # of the segments asked for, in order
        running = set(chains)
        self.stacks = [st for st in plan.stacks if all(c in running for c, _ in st.members)]
        # the stacks the runner's workers do not sum themselves
        self.adding = [st for st in self.stacks if not runner.adds_up(st)]
        self.pointed = _end_views(plan, chains, read)

    def serve(self, n: int) -> None:
        """Point the chains' block buffers at render-clock block ``n``."""
        if not self.chains:
            return
        segment = self.plan.segment
        k, offset = divmod(n, segment)
        if k != self.current:
            last = (self.plan.end_frames - 1) // segment
            # keep up to RING - 1 segments on their way while this one is read
            ahead = k + (RING - 1 if self.runner.asynchronous else 0)
            while self.started <= min(ahead, last):
                self.tickets.append(self.runner.start(self.chains, self.started))
                self.started += 1
            self.runner.wait(self.tickets.popleft())
            _, frames = self.plan.segment_span(k)
            for stack in self.adding:
                stack.add_up(k, frames)
            self.current = k
        _point(self.plan, self.pointed, k, offset)
        bufs, block = self.plan.buffers, self.plan.block_size
        for stack in self.stacks:
            bufs[stack.view] = stack.sums[k % RING][:, offset:offset + block]

    def close(self) -> None:
        """Wait for work under way (when the pass stopped early its errors no longer
        matter)."""
        try:
            self.runner.drain()
        except Exception:
            pass


def _end_views(plan: Plan, chains: list[int], read: set[int] | None = None) -> list:
    """(block buffer, ring of segments) of the chains' last outputs (those in ``read``
    where given)."""
    return [(view, ring) for c in chains
            for (_, view), ring in zip(plan.chains[c].ends, plan.chains[c].segments)
            if read is None or view in read]


def _point(plan: Plan, views: list, k: int, offset: int) -> None:
    """Point each block buffer of ``views`` (see :func:`_end_views`) at the block at
    ``offset`` of segment ``k`` of its ring."""
    bufs, block = plan.buffers, plan.block_size
    for view, ring in views:
        bufs[view] = ring[k % RING][:, offset:offset + block]


class _Tails:
    """Tail chains (a master chain, see :func:`mixgraph.core.schedule.find_tail_chains`): the
    block loop gathers their input into a ring of segments; each full segment is
    handed to the runner, and the outputs they feed write it once it is back (up to
    two segments behind when the runner works alongside the loop)."""

    def __init__(self, plan: Plan, chains: list[int], steps: list[Step], runner: Runner,
                 watch: Watcher | None, tracker: "_Tracker"):
        self.plan = plan
        self.chains = chains
        self.runner = runner
        self.tracker = tracker
        self.first = {plan.chains[c].steps[0].node_id: plan.chains[c] for c in chains}
        self.views = _end_views(plan, chains)
        ends = {view for view, _ in self.views}
        self.post = [s for s in steps if s.chain is None and s.is_sink
                     and any(p.direct in ends for p in s.inputs)]
        self.post_ids = {id(s) for s in self.post}
        self.writing = StepLoop(self.post, plan.buffers, watch=watch)
        self.pending: deque = deque()        # (segment, ticket) asked for

    def feed(self, chain, n: int, x: np.ndarray) -> None:
        k, offset = divmod(n, self.plan.segment)
        chain.inlet_segments[k % RING][:, offset:offset + x.shape[1]] = x

    def advance(self, n: int) -> None:
        """After the block that ends at ``n``: hand over a completed segment."""
        if not self.chains:
            return
        segment = self.plan.segment
        if n % segment and n < self.plan.end_frames:
            return
        k = (n - 1) // segment
        self.pending.append((k, self.runner.start(self.chains, k)))
        # up to RING - 1 segments on their way: inlet and outlet slots never overlap
        while len(self.pending) > (RING - 1 if self.runner.asynchronous else 0):
            self._write(*self.pending.popleft())

    def finish(self) -> None:
        while self.pending:
            self._write(*self.pending.popleft())

    def _write(self, k: int, ticket: int) -> None:
        """Run the outputs over segment ``k`` of the tail chains' last outputs."""
        self.runner.wait(ticket)
        plan, block = self.plan, self.plan.block_size
        start, frames = plan.segment_span(k)
        end = start + frames
        for n in range(start, end, block):
            f = min(block, end - n)
            _point(plan, self.views, k, n - start)
            self.writing.run(n, f, f == block)
        self.tracker.advance(frames)


class _Tracker:
    """Progress over ``passes`` passes of ``plan``, reported at most 200 times; each
    pass is announced to a progress callback that has ``begin_pass``."""

    def __init__(self, progress: Progress | None, plan: Plan, passes: int):
        self.progress = progress
        self.plan = plan
        self.passes = passes
        self.number = 0
        total = plan.end_frames * passes
        self.total = max(total, 1)
        self.done = 0
        self.every = max(1, total // 200)
        self.next = 0

    def begin_pass(self, name: str) -> None:
        self.number += 1
        tell = getattr(self.progress, "begin_pass", None)
        if tell is not None:
            tell(RenderPass(name=name, number=self.number, count=self.passes,
                            start=self.done, frames=self.plan.end_frames,
                            song_frames=self.plan.content_frames))

    def advance(self, frames: int) -> None:
        self.done += frames
        if self.progress is not None and (self.done >= self.next or self.done >= self.total):
            self.progress(self.done, self.total)
            self.next = self.done + self.every
