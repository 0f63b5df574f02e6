"""Running the plan's chains (see :mod:`mixgraph.core.schedule`) inline, in threads or in
forked worker processes.

A chain runs a segment (several blocks) at a time.  While the block loop reads
segment k of every chain, the workers compute the next segments into the other places
of each chain's ring of segments (``RING`` in all).  Each chain's nodes always see the
same segments in the same order, so the render is bit-identical for any number of
workers.

Every runner implements :class:`Runner`, the protocol the block loop uses (see
:mod:`mixgraph.core.renderer`): ask for a segment of some chains, wait for it, reset
nodes between passes, collect what the workers measured.  :class:`Inline` runs the
chains when asked, :class:`Threads` in a pool of threads, :class:`Processes` in
forked processes; :func:`make_runner` picks one.

Threads share the interpreter lock: the kernels release it, but each node's Python
glue needs it, and the block loop holds it most of the time, so threads give little.
Where the platform can fork and no other thread is running, the workers are processes
instead: the render's own process is one of them (it runs the block loop and the
chains left to it), the others are forked.  A child is a copy of the prepared plan;
it runs only its chains, writing their last outputs into shared memory (mapped
before the fork), and answers over a pipe.  Resets between passes go over the same
pipe, and so do the chain nodes' reports and the peaks the child's copy of the
headroom watcher saw: :meth:`Runner.reports` hands them to the render as
:class:`ChainReports`, and the render merges the peaks into its own watcher.
Children never touch output nodes and leave with ``os._exit``, so no temporary file
or finaliser of the parent runs twice.
"""

from __future__ import annotations

import mmap
import os
import pickle
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from mixgraph.errors import MixgraphError

from .schedule import RING, Chain, Plan, Stack
from .steps import StepLoop, Watcher

MIN_PARALLEL_SEGMENTS = 4              # shorter renders are not worth a worker


@dataclass
class ChainReports:
    """What a runner's workers measured in other processes: the reports of their chain
    nodes (node id: figures, or None) and the peak each watched node's input reached
    in their copy of the watcher (see :meth:`mixgraph.core.steps.Watcher.peaks`).
    Empty where the chains ran in the render's own process: their nodes and the
    watcher are the render's own."""

    nodes: dict[str, dict | None] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)

    def add(self, other: "ChainReports") -> None:
        """Take in another worker's figures (the higher peak where both saw a node)."""
        self.nodes.update(other.nodes)
        for node_id, peak in other.peaks.items():
            self.peaks[node_id] = max(self.peaks.get(node_id, peak), peak)


@runtime_checkable
class Runner(Protocol):
    """How a render runs the plan's chains: the block loop asks for segments of chains
    (:meth:`start`) and waits for each before it reads it (:meth:`wait`)."""

    #: whether :meth:`start` may return before the work is done (then the block loop
    #: asks for segments ahead of the one it reads)
    asynchronous: bool

    def start(self, chains: list[int], k: int) -> int:
        """Ask for segment ``k`` of ``chains``; returns a ticket for :meth:`wait`."""

    def wait(self, ticket: int | None = None) -> None:
        """Wait until a request is done (by default the oldest not yet waited for);
        raises the first error any worker met doing it."""

    def adds_up(self, stack: Stack) -> bool:
        """Whether the runner sums ``stack`` itself once its feeds are done (else the
        block loop does, when it comes to the segment)."""

    def drain(self) -> None:
        """Wait for everything asked for."""

    def reset(self, node_ids: set[str]) -> None:
        """Reset those of the named nodes that live in the workers only (the plan's
        own nodes are reset by the caller)."""

    def reports(self) -> ChainReports:
        """What the workers measured in other processes (after :meth:`drain`)."""

    def close(self) -> None:
        """Stop the workers and free what they hold."""


class ChainLoops:
    """Runs segments of the plan's chains in the calling thread: each chain's steps
    through a :class:`~mixgraph.core.steps.StepLoop` of its own, made once."""

    def __init__(self, plan: Plan, watch: Watcher | None = None):
        self.plan = plan
        self.loops = [StepLoop(chain.steps, plan.buffers, watch=watch)
                      for chain in plan.chains]

    def run(self, c: int, k: int) -> None:
        """Compute segment ``k`` of chain ``c`` into place ``k % RING`` of its rings."""
        self.run_all([c], k)

    def run_all(self, chains: list[int], k: int) -> None:
        """Compute segment ``k`` of ``chains``, side by side: their steps in lockstep,
        so that alike nodes of several chains process together (see
        :meth:`~mixgraph.core.steps.StepLoop.together`)."""
        plan = self.plan
        bufs = plan.buffers
        for c in chains:
            chain = plan.chains[c]
            for (b, _), ring in zip(chain.ends, chain.segments):
                bufs[b] = ring[k % RING]
            if chain.inlet is not None:
                bufs[chain.inlet] = chain.inlet_segments[k % RING]
        n, f = plan.segment_span(k)
        if len(chains) == 1:
            self.loops[chains[0]].run(n, f, f == plan.segment)
        elif chains:
            StepLoop.together([self.loops[c] for c in chains], n, f, f == plan.segment)


class Inline:
    """Chains run in the calling thread, when the block loop asks for them (a
    :class:`Runner`)."""

    asynchronous = False

    def __init__(self, plan: Plan, watch: Watcher | None = None):
        self.plan = plan
        self.chains = ChainLoops(plan, watch)

    def start(self, chains: list[int], k: int) -> int:
        """Ask for segment ``k`` of ``chains`` (here: compute it now); returns a ticket
        for :meth:`wait`."""
        self.chains.run_all(chains, k)
        return 0

    def wait(self, ticket: int | None = None) -> None:
        """Wait for a request (by default the oldest not yet waited for)."""

    def adds_up(self, stack: Stack) -> bool:
        return False

    def drain(self) -> None:
        pass

    def reset(self, node_ids: set[str]) -> None:
        pass                           # the plan's own nodes are reset by the caller

    def reports(self) -> ChainReports:
        return ChainReports()          # everything ran here

    def close(self) -> None:
        pass


class Threads(Inline):
    """Chains run in a pool of threads; a chain's next segment waits for its last (a
    :class:`Runner`; the threads share the render's nodes and watcher)."""

    asynchronous = True

    def __init__(self, plan: Plan, watch: Watcher | None, workers: int):
        from concurrent.futures import ThreadPoolExecutor

        super().__init__(plan, watch)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="mixgraph-chain")
        self.pending: dict[int, list] = {}    # ticket: its jobs, in the order asked
        self.tickets = 0
        self.last: dict = {}              # per chain: its latest job

    def _job(self, c: int, k: int, before) -> None:
        if before is not None:
            before.result()
        self.chains.run(c, k)

    def start(self, chains: list[int], k: int) -> int:
        jobs = []
        for c in chains:
            job = self.pool.submit(self._job, c, k, self.last.get(c))
            self.last[c] = job
            jobs.append(job)
        self.tickets += 1
        self.pending[self.tickets] = jobs
        return self.tickets

    def wait(self, ticket: int | None = None) -> None:
        ticket = next(iter(self.pending)) if ticket is None else ticket
        for job in self.pending.pop(ticket):
            job.result()

    def drain(self) -> None:
        while self.pending:
            for job in self.pending.pop(next(iter(self.pending))):
                job.exception()
        self.last = {}

    def close(self) -> None:
        self.drain()
        self.pool.shutdown()


class Processes:
    """``workers`` share the chains: the render's own process, which also runs the
    block loop (its share is smaller by what the loop costs), and ``workers - 1``
    forked worker processes (a :class:`Runner`).  One process per core: a third
    process on two cores would make the scheduler share them out in thirds, and the
    busiest worker would run at two thirds of its speed."""

    asynchronous = True

    def __init__(self, plan: Plan, watch: Watcher | None, workers: int):
        from multiprocessing import Pipe

        self.plan = plan
        self.chains = ChainLoops(plan, watch)
        _share_segments(plan)
        owners = _balance(plan.chains, workers, plan.stacks, _loop_weight(plan))
        self.owner = {c: w for w, mine in enumerate(owners) for c in mine}
        # a stack whose feeds one worker runs is summed by that worker, while the
        # feeds are fresh in its cache (the same reduction the block loop would do)
        self.summing = {id(st): self.owner[st.members[0][0]] for st in plan.stacks
                        if len({self.owner[c] for c, _ in st.members}) == 1}
        self.own_stacks = [st for st in plan.stacks if self.summing.get(id(st)) == 0]
        self.conns: dict[int, object] = {}       # per forked worker (1, 2 ...): its pipe
        self.pids: list[int] = []
        self.waiting: dict[int, set[int]] = {}   # ticket: the workers yet to answer it
        self.queued: dict[int, deque] = {}       # per worker: its tickets, in order
        self.answers: dict[int, list] = {}       # ticket: answers received so far
        self.tickets = 0
        try:
            for w, theirs in enumerate(owners):
                if w == 0 or not theirs:
                    continue
                parent, child = Pipe()
                pid = os.fork()
                if pid == 0:                              # pragma: no cover (child)
                    for conn in [*self.conns.values(), parent]:
                        conn.close()
                    _child(child, plan, self.chains, set(theirs), watch,
                           [st for st in plan.stacks if self.summing.get(id(st)) == w])
                child.close()
                self.conns[w] = parent
                self.queued[w] = deque()
                self.pids.append(pid)
        except BaseException:
            self.close()
            raise

    def _ask(self, per_worker: dict[int, tuple]) -> int:
        """Send each forked worker its message; returns the ticket."""
        self.tickets += 1
        for w, message in per_worker.items():
            try:
                self.conns[w].send(message)
            except OSError:                    # the worker died (broken pipe)
                raise _worker_died() from None
            self.queued[w].append(self.tickets)
        self.waiting[self.tickets] = set(per_worker)
        self.answers[self.tickets] = []
        return self.tickets

    def adds_up(self, stack: Stack) -> bool:
        return id(stack) in self.summing

    def start(self, chains: list[int], k: int) -> int:
        """Ask the workers for their chains' segment ``k``, then run this process's
        own (so that they run at the same time)."""
        by_worker: dict[int, list[int]] = {}
        for c in chains:
            by_worker.setdefault(self.owner[c], []).append(c)
        here = by_worker.pop(0, [])
        ticket = self._ask({w: ("run", k, cs) for w, cs in by_worker.items()})
        self.chains.run_all(here, k)
        _add_up(self.plan, self.own_stacks, set(here), k)
        return ticket

    def wait(self, ticket: int | None = None) -> None:
        self._answers(ticket)

    def _answers(self, ticket: int | None = None) -> list:
        """The workers' answers to a request (by default the oldest not yet waited
        for); a worker answers in the order it was asked, so earlier answers are kept."""
        ticket = next(iter(self.waiting)) if ticket is None else ticket
        for w in sorted(self.waiting[ticket]):
            while ticket in self.queued[w]:
                try:
                    answer = self.conns[w].recv()
                except (EOFError, OSError):               # the worker died (reset pipe)
                    answer = ("error", _worker_died())
                got = self.queued[w].popleft()
                self.waiting[got].discard(w)
                self.answers[got].append(answer)
        del self.waiting[ticket]
        answers = self.answers.pop(ticket)
        errors = [a[1] for a in answers if a[0] == "error"]
        if errors:
            raise errors[0]
        return [a[1] for a in answers]

    def drain(self) -> None:
        error = None
        while self.waiting:
            try:
                self.wait()
            except Exception as exc:
                error = error or exc
        if error is not None:
            raise error

    def reset(self, node_ids: set[str]) -> None:
        self.drain()
        self._answers(self._ask({w: ("reset", node_ids) for w in self.conns}))

    def reports(self) -> ChainReports:
        self.drain()
        found = ChainReports()
        for theirs in self._answers(self._ask({w: ("report",) for w in self.conns})):
            found.add(theirs)
        return found

    def close(self) -> None:
        for conn in self.conns.values():
            try:
                conn.send(("exit",))
            except OSError:
                pass
        for conn in self.conns.values():
            conn.close()
        for pid in self.pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.conns, self.pids, self.waiting, self.queued = {}, [], {}, {}


def _worker_died() -> MixgraphError:
    return MixgraphError("a render worker process stopped unexpectedly (killed, or out of "
                         "memory); nothing was written")


def _child(conn, plan: Plan, loops: ChainLoops, mine: set[int], watch: Watcher | None,
           stacks: list[Stack]) -> None:  # pragma: no cover
    """A worker process's life: answer the parent's requests, then leave quietly.
    ``stacks``: the sums of chain ends it makes once it has run all their chains."""
    chain_nodes = {s.node_id: s.node for c in mine for s in plan.chains[c].steps}
    try:
        while True:
            message = conn.recv()
            try:
                if message[0] == "run":
                    _, k, chains = message
                    loops.run_all(chains, k)
                    _add_up(plan, stacks, set(chains), k)
                    conn.send(("ok", None))
                elif message[0] == "reset":
                    for node_id, node in chain_nodes.items():
                        if node_id in message[1]:
                            node.reset()
                    conn.send(("ok", None))
                elif message[0] == "report":
                    reports = {nid: node.report() for nid, node in chain_nodes.items()}
                    seen = {} if watch is None else {
                        nid: peak for nid, peak in watch.peaks().items()
                        if nid in chain_nodes}
                    conn.send(("ok", ChainReports(reports, seen)))
                else:
                    break
            except BaseException as exc:
                conn.send(("error", _portable(exc)))
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        os._exit(0)


def _add_up(plan: Plan, stacks: list[Stack], ran: set[int], k: int) -> None:
    """Sum segment ``k`` of those ``stacks`` whose chains were all in ``ran``."""
    _, frames = plan.segment_span(k)
    for stack in stacks:
        if all(c in ran for c, _ in stack.members):
            stack.add_up(k, frames)


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a MixgraphError saying it."""
    try:
        return pickle.loads(pickle.dumps(exc))
    except Exception:
        return MixgraphError(str(exc) or type(exc).__name__)


def _share_segments(plan: Plan) -> None:
    """Move every chain's rings of segments (and tail chains' inlets, and stacks of
    rings whole) into one shared anonymous mapping."""
    stacked = {(c, j) for st in plan.stacks for c, j in st.members}
    rings = [ring for c, chain in enumerate(plan.chains)
             for j, ring in enumerate(chain.segments) if (c, j) not in stacked] + [
        chain.inlet_segments for chain in plan.chains if chain.inlet is not None]
    size = sum(part.nbytes for ring in rings for part in ring) + sum(
        st.rings.nbytes + st.sums.nbytes for st in plan.stacks)
    if not size:
        return
    memory = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
    offset = 0

    def moved(a: np.ndarray) -> np.ndarray:
        nonlocal offset
        there = np.ndarray(a.shape, dtype=a.dtype, buffer=memory, offset=offset)
        there[...] = a
        offset += a.nbytes
        return there

    for st in plan.stacks:               # a stack stays one block of memory
        st.rings = moved(st.rings)
        st.sums = moved(st.sums)
        for i, (c, j) in enumerate(st.members):
            plan.chains[c].segments[j] = tuple(st.rings[r, i] for r in range(RING))

    def shared(ring):
        return tuple(moved(part) for part in ring)

    for c, chain in enumerate(plan.chains):
        chain.segments = [ring if (c, j) in stacked else shared(ring)
                          for j, ring in enumerate(chain.segments)]
        if chain.inlet is not None:
            chain.inlet_segments = shared(chain.inlet_segments)
    plan.shared = memory


def _weight(steps) -> float:
    """The steps' rough cost per sample: each node's cost times its channels (a sink's
    are its input's)."""
    return sum(s.node.cost * max(s.out_channels or tuple(p.channels or 1 for p in s.inputs),
                                 default=1) for s in steps)


LOOP_STEP_BLOCK = 600.0  # a loop step's Python per block, in weight x samples (the
#                          session bench: the loop's CPU time is 36 + 9800 / block)


def _loop_weight(plan: Plan) -> float:
    """What the block loop costs, in chain weights: its own steps' work, outputs
    included (a sink weighs as its input's channels), and their Python per block."""
    steps = [s for s in plan.steps if s.chain is None]
    return _weight(steps) + LOOP_STEP_BLOCK * len(steps) / plan.block_size


def _balance(chains: list[Chain], workers: int, stacks: list[Stack] = (),
             loop: float = 0.0) -> list[list[int]]:
    """Chains shared among workers; worker 0 starts with ``loop`` (the block loop runs
    there).  The chains a stack sums are a unit, the heaviest unit first to the least
    loaded worker; then single chains move from the busiest worker to the least busy
    while that lowers the busiest load, taken first from units already split, so that
    as few stacks as possible are summed outside their worker.  Returns every
    worker's chains (worker 0's may be empty)."""
    weight = [_weight(chain.steps) for chain in chains]
    together = {c: {c} for c in range(len(chains))}       # chains that share a stack
    for st in stacks:
        unit = set().union(*(together[c] for c, _ in st.members))
        for c in unit:
            together[c] = unit
    units = sorted({tuple(sorted(u)) for u in together.values()},
                   key=lambda u: (-sum(weight[c] for c in u), u))
    loads = [loop] + [0.0] * (workers - 1)
    owner: dict[int, int] = {}
    for unit in units:
        w = loads.index(min(loads))
        owner.update((c, w) for c in unit)
        loads[w] += sum(weight[c] for c in unit)
    while workers > 1:
        busy, idle = loads.index(max(loads)), loads.index(min(loads))
        gap = loads[busy] - loads[idle]
        movable = [c for c in owner if owner[c] == busy and 0 < weight[c] < gap]
        if not movable:
            break

        def preference(c: int):
            split = any(owner[m] != busy for m in together[c])
            return (not split, abs(gap / 2 - weight[c]), c)   # nearest half the gap

        c = min(movable, key=preference)
        owner[c] = idle
        loads[busy] -= weight[c]
        loads[idle] += weight[c]
    return [sorted(c for c in owner if owner[c] == w) for w in range(workers)]


def make_runner(plan: Plan, workers: int, watch: Watcher | None = None) -> Runner:
    """The way this render runs its chains: inline for one worker, a short render or
    fewer than two chains; else forked processes where :func:`_fork_allowed`, threads
    where not (``workers`` at most one per chain)."""
    segments = -(-plan.end_frames // plan.segment) if plan.segment else 0
    if workers <= 1 or len(plan.chains) < 2 or segments < MIN_PARALLEL_SEGMENTS:
        return Inline(plan, watch)
    workers = min(workers, len(plan.chains))
    if _fork_allowed():
        return Processes(plan, watch, workers)
    return Threads(plan, watch, workers)


def _fork_allowed() -> bool:
    """Forking is safe only while this is the process's one thread; MIXGRAPH_NO_FORK=1
    turns it off (threads are used instead)."""
    return (hasattr(os, "fork") and threading.active_count() == 1
            and not os.environ.get("MIXGRAPH_NO_FORK"))
