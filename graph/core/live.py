"""Live playback: the graph heard in real time while it is edited.

:class:`LiveEngine` renders a graph's listening point a block at a time from any song
position (a :class:`~mixgraph.core.listen.Listener`), and takes edits while it plays:

- **a parameter change** (``set_param``) glides to its new value over 10 ms from the
  next block on, as automation would, so it reaches the ear within the render's lead
  plus the device's buffer and without a click; a parameter that cannot glide (a
  delay line's length, a loudness target, a list) is a structural change;
- **a structural change** (``update`` with the edited graph: a node or link added or
  removed, a solo, another listening point) is validated and planned in a thread of
  its own while the old graph plays on, then swapped in at a block boundary with a
  20 ms crossfade at the same song position; a graph that does not validate leaves the
  last valid one playing, and ``problem`` says why;
- **meters** (``meters()``, at least 30 times a second): peak and RMS per channel of
  every node the listening point needs, what dynamics nodes measure now (gain
  reduction, limiting), and the monitored signal's momentary, short-term and
  integrated loudness and true peak since Play;
- **a monitor section** (``monitor``: level, dim, mono, left/right swap, mute) and a
  loudness-matched A/B of two listening points (``listen`` and ``compare``, the
  quieter raised to the louder's integrated loudness); none of it touches a render;
- **rides** (``record`` then ``ride``): every glide of a parameter heard since
  ``record``, as automation points that, rendered, give exactly what was heard (a
  glide cut short by the next ends where that one starts, at its value there).

:class:`DevicePlayer` plays an engine through the sound card (sounddevice, PortAudio):
a thread renders ahead of the device into a ring of at most ``lead_s``, the device's
callback only copies from it, and a block that is not ready in time is an underrun,
counted.  Underruns are of two kinds, counted apart: ``late`` (the ring ran empty: the
engine did not keep up) and ``device_underflows`` (the ring was full but the sound
server says it missed a period, as JACK does on an xrun: the machine was late, unless
the callback itself was slow, which is counted too, as ``slow_callbacks``).  The kernels release the GIL, so the rendering thread and a
user interface share the interpreter without starving the device; while it plays, the interpreter
switches threads every millisecond and the garbage collector's full passes skip what
existed when playing began (or the graph was swapped), so no pause outlasts the ring.
"""

from __future__ import annotations

import contextlib
import gc
import math
import queue
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from mixgraph.nodes.layouts import matrix

from mixgraph.errors import MixgraphError, ParameterError
from mixgraph.nodes.meters import LoudnessMeter, MomentaryBank

from .listen import Listener
from .model import Graph
from .validation import check

RAMP_S = 0.010                    # a parameter change glides over this
CROSSFADE_S = 0.020               # a structural change fades over this
WARM_S = 0.100                    # a replanned graph starts this much early, unheard
JUMP_S = 0.005                    # a seek or a loop fades out and in over this
METER_HZ = 30                     # meters published at least this often
DIM_DB = -20.0
MATCH_MAX_DB = 12.0               # A/B raises the quieter point by this much at most
SWITCH_S = 0.001                  # the interpreter's switch interval while playing
INSTALL = ("no audio playback: install sounddevice (pip install 'mixgraph[play]'; on "
           "Linux it needs the PortAudio library: apt-get install libportaudio2)")


@dataclass
class Monitor:
    """What the engineer hears, on the way to the device only: level, dim (-20 dB),
    mono (the mid, (L + R) / 2 on both sides), left/right swap and mute."""

    level_db: float = 0.0
    dim: bool = False
    mono: bool = False
    swap: bool = False
    mute: bool = False

    def matrix(self) -> np.ndarray:
        """out = matrix @ in (2 x 2), level and dim included."""
        if self.mute:
            return np.zeros((2, 2))
        m = np.full((2, 2), 0.5) if self.mono else np.eye(2)
        if self.swap:
            m = m[::-1]
        gain = 10.0 ** ((self.level_db + (DIM_DB if self.dim else 0.0)) / 20.0)
        return m * gain


@dataclass
class _Version:
    """One planned graph, playing or about to: its listener and the graph it is of."""

    graph: Graph
    listener: Listener
    points: tuple[str, ...]
    steps: dict = field(default_factory=dict)      # node id -> step
    wanted: int = 0                                 # which structural request it answers

    def __post_init__(self):
        self.steps = {s.node_id: s for s in self.listener.steps}


def default_point(graph: Graph) -> str:
    """Where to listen by default: the output that the most of the graph flows into
    (the master's, not the mix's that the master chain is fed from); the first such."""
    from mixgraph.nodes.base import Sink

    from .walk import adjacency, reaching

    _, pred = adjacency(graph.nodes, ((l.src.node, l.dst.node) for l in graph.links))
    best, reach = None, 1
    for spec in graph:
        cls = spec.node_class()
        if cls is not None and issubclass(cls, Sink):
            n = len(reaching(pred, [spec.id]))
            if n > reach:
                best, reach = spec.id, n
    if best is None:
        raise MixgraphError("nothing to listen to: the project has no output node with "
                            "anything linked into it")
    return best


class LiveEngine:
    """A graph played in real time (see the module notes)."""

    def __init__(self, graph: Graph, *, listen: str | None = None,
                 compare: str | None = None, block_size: int = 512, start_s: float = 0.0,
                 loop: tuple[float, float] | None = None, end_s: float | None = None,
                 node_meters: bool = True):
        check(graph, allow_outside=True)
        self.node_meters = node_meters               # meter every node (the editor's)
        self.graph = graph.copy()
        self.sample_rate = graph.sample_rate
        self.block_size = block_size
        self.listen_point = listen or default_point(graph)
        self.compare_point = compare
        self.monitor = Monitor()
        self.ab = "a"                                 # which of the two is heard
        self.problem: str | None = None               # why the last edit is not heard
        self.loop = loop
        self.end_s = end_s
        self.finished = False
        self.swaps = 0                                # versions swapped in since Play
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._planning: threading.Thread | None = None
        self._ready: _Version | None = None
        self._wanted = 0                             # the newest structural request
        self._playing = 0                            # the one playing answers this one
        self._fading: tuple[_Version, int] | None = None   # the old version, frames left
        self._version = self._plan(self.graph, start_s)
        if end_s is None:                            # the song, and two seconds of tails
            self.end_s = self.song_s + 2.0
        self._matrix: np.ndarray | None = None       # the monitor's, at the last block
        self._mix = np.array([1.0, 0.0])             # weights of A and B
        self._meters = _Meters(self)
        self._jump: float | None = None
        self._seek_after: int | None = None          # a seek asked for: after this block
        self._blocks = 0                             # blocks rendered since Play
        self._glided: list[tuple] = []               # glides since the last replan began
        self._sent = self.graph.copy()               # the graph as edit() last had it
        self._rides: dict[tuple[str, str], list] = {}  # rides being recorded (record())
        self._rides_lock = threading.Lock()

    # ------------------------------------------------------------ from any thread
    @property
    def position_s(self) -> float:
        """Song time of the next frame to be rendered."""
        return self._version.listener.position / self.sample_rate

    @property
    def song_s(self) -> float:
        """Length of the song: up to the end of the last source."""
        return self._version.listener.end / self.sample_rate

    def set_param(self, node_id: str, name: str, value) -> None:
        """A parameter's new value, heard from the next block (see the module notes)."""
        self._commands.put(("param", node_id, name, value))

    def update(self, graph: Graph) -> None:
        """The edited graph: validated and planned in the background, then swapped in."""
        self._commands.put(("graph", graph.copy()))

    def edit(self, graph: Graph) -> None:
        """The graph as the user has it now, whatever changed since the last call (or
        since Play): where only parameter values changed, each glides (``set_param``);
        anything else (a node, a link, a parameter set or taken away) is replanned
        (``update``).  Where nodes sit on the canvas changes nothing."""
        before, self._sent = self._sent, graph.copy()
        changes = _parameter_changes(before, self._sent)
        if changes is None:
            self.update(self._sent)
            return
        for node_id, name, value in changes:
            self.set_param(node_id, name, value)

    def listen(self, point: str, compare: str | None = None) -> None:
        """Listen elsewhere: an output node, or any node's port (solo in place)."""
        self.listen_point, self.compare_point = point, compare
        self._commands.put(("graph", None))

    def seek(self, song_s: float) -> None:
        self._commands.put(("seek", song_s))

    def meters(self) -> dict:
        """The newest meter readings (see :class:`_Meters`)."""
        return self._meters.snapshot()

    # ------------------------------------------------------------ the render side
    def render(self, frames: int) -> np.ndarray:
        """The next ``frames`` of what the monitor sends to the device, (2, frames)
        float32; fewer where the song (and its tails) ends, none after."""
        out = np.empty((2, frames), dtype=np.float32)
        done = 0
        while done < frames:
            f = min(self.block_size, frames - done)
            stop = self._stop_at()
            if stop is not None:                         # end a loop or the song exactly
                f = min(f, max(1, stop - self._version.listener.position))
            if self.finished:                            # the song is over: no more
                return out[:, :done]
            block = self._block(f)
            out[:, done:done + block.shape[1]] = block
            done += block.shape[1]
        return out

    def _stop_at(self) -> int | None:
        """The song sample where playing stops or loops back, if any."""
        end = self.loop[1] if self.loop else self.end_s
        return None if end is None else int(round(end * self.sample_rate))

    def _block(self, f: int) -> np.ndarray:
        self._apply_commands()
        self._take_ready()
        self._blocks += 1
        version = self._version
        start = version.listener.position
        if self.end_s is not None and start >= self.end_s * self.sample_rate \
                and not self.loop:
            self.finished = True
            return np.zeros((2, 0))
        heard = self._heard(version, f)
        if self._fading is not None:
            old, left = self._fading
            before = self._heard(old, f, metered=False)
            n = min(f, left)
            w = (np.arange(n) + (CROSSFADE_S * self.sample_rate - left) + 1) / \
                (CROSSFADE_S * self.sample_rate)
            heard[:, :n] = before[:, :n] * (1.0 - w) + heard[:, :n] * w
            left -= n
            if left <= 0:
                old.listener.close()
                self._fading = None
            else:
                self._fading = (old, left)
        heard = self._loop_or_jump(heard, start, f)
        target = self.monitor.matrix()
        before = target if self._matrix is None else self._matrix
        self._matrix = target
        if np.array_equal(before, target):           # the monitor as it was
            return target @ heard
        ramp = np.linspace(0.0, 1.0, f, endpoint=False) + 1.0 / f
        return (before @ heard) * (1.0 - ramp) + (target @ heard) * ramp

    def _heard(self, version: _Version, f: int, metered: bool = True) -> np.ndarray:
        """The listening points' block, A/B weighted and loudness matched, stereo
        (``metered``: the meters read it; not the version fading out)."""
        blocks = [_stereo(b) for b in version.listener.render(f)]
        if metered:
            self._meters.take(version, blocks, f)
        if len(blocks) == 1:
            return blocks[0]
        target = np.array([1.0, 0.0]) if self.ab == "a" else np.array([0.0, 1.0])
        target = target * self._meters.matching_gains()     # the weights, level matched
        ramp = np.linspace(0.0, 1.0, f, endpoint=False) + 1.0 / f
        wa = self._mix[0] + (target[0] - self._mix[0]) * ramp
        wb = self._mix[1] + (target[1] - self._mix[1]) * ramp
        self._mix = target
        return blocks[0] * wa + blocks[1] * wb

    def _loop_or_jump(self, heard: np.ndarray, start: int, f: int) -> np.ndarray:
        """Fade out over the 5 ms before a loop's end and before a seek, and in over
        the 5 ms after the jump; by song position, so that the fades do not depend on
        how the blocks fall."""
        rate = self.sample_rate
        fade = max(1, int(JUMP_S * rate))
        if self._jump is not None:                   # after a jump: in
            since = start + np.arange(f) - int(round(self._jump * rate)) + 1
            heard *= np.clip(since / fade, 0.0, 1.0)
            if since[-1] >= fade:
                self._jump = None
        if self._seek_after is not None:             # before a seek: out, in this block
            n = min(f, fade)
            heard[:, f - n:] *= np.arange(n, 0, -1) / n
            target, self._seek_after = self._seek_after, None
            self._seek_now(target)
        elif self.loop is not None:
            a, b = (int(round(t * rate)) for t in self.loop)
            until = b - (start + np.arange(f))       # samples left to the loop's end
            if until.min() <= fade:
                heard *= np.clip(until / fade, 0.0, 1.0)
            if start + f >= b:
                self._seek_now(a)
        return heard

    def _seek_now(self, song_sample: int) -> None:
        self._version.listener.seek(song_sample)
        if self._fading is not None:
            self._fading[0].listener.close()
            self._fading = None
        self._jump = song_sample / self.sample_rate

    def _apply_commands(self) -> None:
        structural = False
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                break
            kind = command[0]
            if kind == "param":
                structural |= not self._glide(*command[1:])
            elif kind == "graph":
                if command[1] is not None:
                    self.graph = self._keep_rides(command[1])
                structural = True
            elif kind == "seek":                    # after this block, faded out
                sample = int(round(command[1] * self.sample_rate))
                if self._blocks:
                    self._seek_after = sample
                else:                               # nothing heard yet: at once
                    self._seek_now(sample)
        if structural:
            self._replan()

    def _glide(self, node_id: str, name: str, value) -> bool:
        """Apply a parameter change to the playing node; False where it needs a
        replan (it cannot glide).  The engine's copy of the graph takes it too, and a
        replan under way takes it when it is swapped in."""
        try:
            self.graph.set(node_id, name, value)
        except MixgraphError as exc:
            self.problem = exc.message
            return True
        if self._playing != self._wanted:          # a replan is under way
            self._glided.append((node_id, name, value))
        step = self._version.steps.get(node_id)
        if step is None:                           # not heard now: the graph has it
            return True
        at = self._version.listener.n - step.latency_in
        try:
            glide = step.node.change(name, value, at, max(1, int(RAMP_S * self.sample_rate)))
        except (ValueError, TypeError):            # not a value that glides
            return False
        except MixgraphError as exc:
            self.problem = exc.message
            return True
        ride = self._rides.get((node_id, name))
        if ride is not None:
            with self._rides_lock:
                ride_append(ride, glide)
        return True

    def _keep_rides(self, graph: Graph) -> Graph:
        """An edited graph, with each parameter being ridden at the value it was
        ridden to (the edit comes from a project that does not have the ride yet)."""
        with self._rides_lock:
            held = {key: points[-1][1] for key, points in self._rides.items() if points}
        for (node_id, name), value in held.items():
            if node_id in graph.nodes:
                try:
                    graph.set(node_id, name, value)
                except MixgraphError:
                    pass
        return graph

    # ------------------------------------------------------------ recording rides
    def record(self, node_id: str, name: str) -> None:
        """Write down every change of ``node_id.name`` heard from now (a ride), as the
        points of an automation that plays exactly what was heard (:meth:`ride`)."""
        with self._rides_lock:
            self._rides[(node_id, name)] = []

    def ride(self, node_id: str, name: str, stop: bool = True) -> list[list[float]]:
        """The points of the ride recorded so far ([song time s, value]; empty if the
        control was not moved), and, with ``stop``, the end of recording it."""
        with self._rides_lock:
            points = self._rides.get((node_id, name), [])
            if stop:
                self._rides.pop((node_id, name), None)
            return [list(p) for p in points]

    def _glide_again(self, version: _Version) -> bool:
        """The changes that glided while ``version`` was being planned (from a copy of
        the graph without them), made on it too; False if one of them cannot glide."""
        for node_id, name, value in self._glided:
            step = version.steps.get(node_id)
            if step is None:
                continue
            try:
                step.node.change(name, value, version.listener.n - step.latency_in, 1)
            except (ValueError, TypeError, MixgraphError):
                return False
        self._glided = []
        return True

    # ------------------------------------------------------------ structural changes
    def _plan(self, graph: Graph, start_s: float) -> _Version:
        points = (self.listen_point,) + ((self.compare_point,) if self.compare_point
                                         else ())
        listener = Listener(graph, list(points), block_size=self.block_size,
                            start_s=start_s, from_tape=False)
        return _Version(graph, listener, points)

    def _replan(self) -> None:
        """Validate and plan the engine's graph in a thread of its own."""
        self._wanted += 1
        wanted, graph = self._wanted, self.graph.copy()
        self._glided = []
        position = self.position_s

        def work() -> None:
            try:
                check(graph, allow_outside=True)
                # started a little early, so that filters and tails are warm at the
                # swap, and brought up to where the old version plays meanwhile
                version = self._plan(graph, max(0.0, position - WARM_S))
                _catch_up(version.listener, lambda: self._version.listener.position,
                          self.block_size, give_way=True)
            except Exception as exc:                # a bug too: said, not a dead engine
                said = exc.message if isinstance(exc, MixgraphError) \
                    else f"{type(exc).__name__}: {exc}"
                with self._lock:
                    if wanted == self._wanted:      # (not an edit since overtaken)
                        self.problem = said
                return
            with self._lock:
                if wanted != self._wanted:          # a newer edit overtook this one
                    version.listener.close()
                    return
                if self._ready is not None:
                    self._ready.listener.close()
                version.wanted = wanted
                self._ready = version
                self.problem = None

        self._planning = threading.Thread(target=work, name="mixgraph-replan", daemon=True)
        self._planning.start()

    def _take_ready(self) -> None:
        if self._fading is not None:                 # one crossfade at a time
            return
        with self._lock:
            ready, self._ready = self._ready, None
        if ready is None:
            return
        now = self._version.listener.position
        behind = now - ready.listener.position
        if 0 <= behind <= self.sample_rate * WARM_S:
            _catch_up(ready.listener, lambda: now, self.block_size, 0)
        else:                                       # a seek came between: start there
            ready.listener.seek(now)
        if self._fading is not None:
            self._fading[0].listener.close()
        self._fading = (self._version, max(1, int(CROSSFADE_S * self.sample_rate)))
        self._version = ready
        self._playing = ready.wanted
        self.swaps += 1
        self._meters.forget()
        if not self._glide_again(ready):
            self._replan()

    def wait_until_planned(self, timeout: float = 30.0) -> bool:
        """For tests and scripts: wait for the structural change under way to be
        planned (the engine takes an edit at its next block, and swaps the planned
        graph in at the block after); False if it was refused or timed out."""
        thread = self._planning
        if thread is not None:
            thread.join(timeout)
        return self.problem is None

    def close(self) -> None:
        thread = self._planning
        if thread is not None:
            thread.join(30.0)
        with self._lock:
            for version in (self._ready, self._fading[0] if self._fading else None):
                if version is not None:
                    version.listener.close()
            self._ready = None
        self._version.listener.close()


def _catch_up(listener: Listener, target, block: int, slack: int | None = None,
              give_way: bool = False) -> None:
    """Render ``listener`` unheard up to song sample ``target()`` (re-read as it moves),
    until it is at most ``slack`` samples behind (a block, by default); ``give_way``
    (in the planning thread): let the threads that feed the device have the
    interpreter between blocks."""
    slack = block if slack is None else slack
    while True:
        behind = target() - listener.position
        if behind <= slack:
            return
        listener.render(min(block, behind))
        if give_way:
            time.sleep(0)


def ride_append(points: list, glide) -> None:
    """A glide heard (its two points) added to a ride: a glide the new one cut short
    ends where the new one starts, at the value it had there (the new glide's first
    point), so the points trace what was heard.  A glide from before the ride's last
    glide began (a loop went back) is not written: the ride keeps its first pass."""
    (t0, v0), (t1, v1) = zip(glide.times.tolist(), glide.values.tolist())
    if len(points) >= 2 and t0 < points[-2][0]:
        return
    if points and points[-1][0] > t0:
        points.pop()
    points += [[t0, v0], [t1, v1]]


def _stereo(x: np.ndarray) -> np.ndarray:
    """What plays on the (stereo) device: mono on both sides, a surround listening
    point folded down to Lo/Ro (ITU-R BS.775, the ``downmix`` node's defaults)."""
    if x.shape[0] == 1:
        return np.vstack([x, x])
    if x.shape[0] > 2:
        return matrix(x.shape[0], 2) @ x
    return x


def _parameter_changes(before: Graph, after: Graph) -> list[tuple] | None:
    """The (node, parameter, value) changed from ``before`` to ``after`` (a value left
    out is its default); None where more than values changed (nodes, their types,
    links, the sample rate, the project's folder)."""
    if before.sample_rate != after.sample_rate or before.base_dir != after.base_dir \
            or before.settings != after.settings \
            or [str(l) for l in before.links] != [str(l) for l in after.links] \
            or before.nodes.keys() != after.nodes.keys():
        return None
    changes = []
    for node_id, spec in after.nodes.items():
        old = before.nodes[node_id]
        cls = spec.node_class()
        if old.type != spec.type or old.bypass != spec.bypass or cls is None:
            return None
        table = cls.param_table()
        for name in old.params.keys() | spec.params.keys():
            if name not in table:
                return None
            a = old.params.get(name, table[name].default)
            b = spec.params.get(name, table[name].default)
            if a != b:
                if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
                    return None                    # automation, a list: replanned
                changes.append((node_id, name, b))
    return changes


class _Meters:
    """Meter readings while playing: per node (peak and RMS per channel of its first
    output, in dBFS, and what it measures now), and the monitored signal's loudness.
    Published every 1/METER_HZ s of audio; read from any thread."""

    def __init__(self, engine: LiveEngine):
        self.engine = engine
        self.rate = engine.sample_rate
        self.every = max(1, int(self.rate / METER_HZ))
        self.lock = threading.Lock()
        self.published: dict = {"nodes": {}, "listen": {}, "compare": {}}
        self.loudness = [LoudnessMeter(self.rate, 2), LoudnessMeter(self.rate, 2)]
        self.integrated = [None, None]
        self.programme: list[dict | None] = [None, None]  # the figures since Play
        self.publishes = 0
        self.momentary = MomentaryBank(self.rate)         # kept across versions
        self.metered: tuple[_Version | None, list[int]] = (None, [])
        self.forget()

    def forget(self) -> None:
        """A new version plays: its nodes' readings start afresh (loudness goes on)."""
        self.peak = np.zeros(0)                      # per row (a node's channel)
        self.squares = np.zeros(0)
        self.frames = 0

    def rows(self, version: _Version) -> list[int]:
        """The buffers of the metered nodes' first outputs, in the bank's order (the
        bank laid out for them: a row per channel)."""
        if self.metered[0] is not version:
            steps = [s for s in version.steps.values() if s.outputs] \
                if self.engine.node_meters else []
            bufs = version.listener.plan.buffers
            self.momentary.layout(tuple(s.node_id for s in steps),
                                  tuple(bufs[s.outputs[0]].shape[0] for s in steps))
            self.metered = (version, [s.outputs[0] for s in steps])
            self.forget()
        return self.metered[1]

    def take(self, version: _Version, blocks: list[np.ndarray], f: int) -> None:
        """One block: every metered node's output at once (stacked, a row per channel),
        and what is heard."""
        rows = self.rows(version)
        if rows:
            bufs = version.listener.plan.buffers
            stack = np.concatenate([bufs[i][:, :f] for i in rows])
            self.momentary.add(stack)
            peak = np.maximum(stack.max(axis=1), -stack.min(axis=1))   # (no |x| copy)
            squares = np.einsum("ij,ij->i", stack, stack)
            if self.peak.shape == peak.shape:
                np.maximum(self.peak, peak, out=self.peak)
                self.squares += squares
            else:
                self.peak, self.squares = peak, squares
        for meter, block in zip(self.loudness, blocks):
            meter.add(block)
        self.frames += f
        if self.frames + f > self.every:             # the next block would be late
            self._publish(version)

    def _publish(self, version: _Version) -> None:
        nodes = {}
        bank = self.momentary
        if len(self.peak) and bank.keys:
            with np.errstate(divide="ignore"):
                peak_db = (20 * np.log10(self.peak)).tolist()
                rms_db = (10 * np.log10(self.squares / self.frames)).tolist()
            momentary = bank.now().tolist()
            for i, (node_id, start, width) in enumerate(zip(bank.keys, bank.starts,
                                                            bank.widths)):
                reading = {"peak_db": peak_db[start:start + width],
                           "rms_db": rms_db[start:start + width],
                           "momentary_lufs": momentary[i]}
                figures = version.steps[node_id].node.live_figures()
                if figures:
                    reading.update({k: float(v) for k, v in figures.items()})
                nodes[node_id] = reading
        heard = {}
        self.publishes += 1
        for i, key in enumerate(("listen", "compare")[:len(version.points)]):
            # integrated loudness and peaks since Play: a pass over the whole programme,
            # so once a second (the momentary and short-term figures at every publish)
            if self.publishes % METER_HZ == 1 or self.programme[i] is None:
                found = self.loudness[i].result()
                self.programme[i] = {k: found.get(k) for k in (
                    "integrated_lufs", "true_peak_dbtp", "sample_peak_dbfs")}
                self.integrated[i] = found.get("integrated_lufs")
            heard[key] = dict(self.programme[i])
            heard[key]["momentary_lufs"] = self.loudness[i].momentary_now()
            heard[key]["short_term_lufs"] = self.loudness[i].short_term_now()
        with self.lock:
            self.published = {"nodes": nodes, **heard,
                              "position_s": version.listener.position / self.rate,
                              "problem": self.engine.problem}
        self.forget()

    def matching_gains(self) -> tuple[float, float]:
        """Gains that bring A and B to the same integrated loudness (the quieter one
        raised), 1 where not yet known."""
        a, b = self.integrated
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            return 1.0, 1.0
        louder = max(a, b)
        return tuple(10 ** (min(louder - x, MATCH_MAX_DB) / 20) for x in (a, b))

    def snapshot(self) -> dict:
        with self.lock:
            return self.published


# ------------------------------------------------------------------ the device
def probe_device(device=None) -> tuple[bool, str]:
    """Whether sound can be played, and what with (or exactly what to install)."""
    try:
        import sounddevice as sd
    except ImportError:
        return False, INSTALL
    except OSError as exc:                         # PortAudio library missing
        return False, f"{INSTALL} ({str(exc).splitlines()[0]})"
    try:
        found = sd.query_devices(device, kind="output")
    except Exception as exc:
        return False, f"no audio output device ({str(exc).splitlines()[0]})"
    if not found or found.get("max_output_channels", 0) < 2:
        return False, "no stereo audio output device"
    return True, str(found.get("name", "the default output"))


def _settle_garbage() -> None:
    """Keep the garbage collector's full passes short while playing: what exists now
    (the planned graph, its buffers, the window's objects) is frozen out of them.  A
    full pass over a 64-stem session's objects takes 37 ms on its own, longer than the
    ring ahead of the device; over what a block leaves behind, well under 1 ms."""
    gc.freeze()


def start_playing(graph: Graph, *, listen: str | None = None, compare: str | None = None,
                  start_s: float = 0.0, end_s: float | None = None, loop: bool = False,
                  device=None, buffer_frames: int = 512, monitor: Monitor | None = None,
                  node_meters: bool = True) -> tuple[LiveEngine, DevicePlayer]:
    """A live engine on ``graph`` from ``start_s`` to ``end_s`` (None: the song and two
    seconds of tails), or looping that range, playing through ``device``; the one way
    ``mixgraph play`` and the editor start.  Raises MixgraphError in one sentence (and
    leaves nothing running) where it cannot: no device, a range outside the song, a
    listening point that is not there."""
    if start_s < 0:
        raise ParameterError(f"nothing to play from {start_s:g} s: the start is at 0 s or "
                             "later")
    if end_s is not None and end_s <= start_s:
        raise ParameterError(f"nothing to play from {start_s:g} s to {end_s:g} s: the end "
                             "must come after the start")
    ok, said = probe_device(device)                   # before the engine's analysis
    if not ok:
        raise MixgraphError(said)
    engine = LiveEngine(graph, listen=listen, compare=compare, start_s=start_s,
                        end_s=end_s, block_size=block_for(buffer_frames),
                        node_meters=node_meters)
    try:
        if start_s >= engine.song_s:
            raise ParameterError(f"nothing to play from {start_s:g} s: the song is "
                                 f"{engine.song_s:.1f} s long")
        if loop:
            engine.loop = (start_s, engine.song_s if end_s is None else end_s)
        if monitor is not None:
            engine.monitor = monitor
        player = DevicePlayer(engine, device=device, buffer_frames=buffer_frames)
        player.start()                               # (stops itself if it cannot start)
    except BaseException:
        engine.close()
        raise
    return engine, player


def block_for(buffer_frames: int) -> int:
    """The engine's block for a device buffer: at least 512 frames (smaller blocks cost
    more per sample than they save; the ring is ahead of the device by 40 ms anyway),
    at most 1024."""
    return max(512, min(buffer_frames, 1024))


class DevicePlayer:
    """Plays a :class:`LiveEngine` through the sound card (see the module notes)."""

    def __init__(self, engine: LiveEngine, *, device=None, buffer_frames: int = 512,
                 lead_s: float = 0.04):
        ok, said = probe_device(device)
        if not ok:
            raise MixgraphError(said)
        self.engine = engine
        self.device_name = said
        self.device = device
        self.buffer_frames = buffer_frames
        rate = engine.sample_rate
        self.lead = max(2 * buffer_frames, int(lead_s * rate))
        # what the renderer may have added past the lead (a block), and a device buffer
        self.ring = np.zeros((2, self.lead + engine.block_size + buffer_frames),
                             dtype=np.float32)
        self.filled = 0
        self.read_at = 0
        self.cond = threading.Condition()
        self.late = 0                                       # the ring ran empty
        self.late_at: list[float] = []                      # when (seconds played)
        self.device_underflows = 0                          # the server missed a period
        self.slow_callbacks = 0                             # ours, over half a buffer
        self.played = 0                                    # frames sent to the device
        self.busy_s = 0.0                                  # rendering time
        self.rendered = 0                                  # frames rendered
        self.stop_event = threading.Event()
        self.stream = None
        self.thread: threading.Thread | None = None
        self.error: str | None = None
        self.switch_interval: float | None = None           # the interpreter's, to restore
        self.swaps = 0                                      # the engine's, when last settled

    # ------------------------------------------------------------ readings
    @property
    def cpu_load(self) -> float:
        """Rendering time per second of audio rendered (1.0: the engine only just keeps
        up)."""
        audio = self.rendered / self.engine.sample_rate
        return self.busy_s / audio if audio else 0.0

    @property
    def underruns(self) -> int:
        """Blocks the listener missed, of either kind (see the module notes)."""
        return self.late + self.device_underflows

    @property
    def heard_s(self) -> float:
        """Song time reaching the device now (what was rendered, less what waits in the
        ring)."""
        with self.cond:
            waiting = self.filled
        return max(0.0, self.engine.position_s - waiting / self.engine.sample_rate)

    @property
    def playing(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    # ------------------------------------------------------------ control
    def start(self) -> None:
        """Fill the ring, open the device and play; MixgraphError (and nothing left
        running or changed) where the device cannot be opened."""
        import sounddevice as sd

        # the device's callback is Python: while playing, a thread that wants the
        # interpreter waits at most 1 ms for it (not the default 5 ms, a JACK period)
        self.switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self.switch_interval, SWITCH_S))
        try:
            self._fill()                                  # a full lead before the start
            _settle_garbage()
            self.stream = sd.OutputStream(samplerate=self.engine.sample_rate, channels=2,
                                          dtype="float32", blocksize=self.buffer_frames,
                                          device=self.device, callback=self._callback)
            self.thread = threading.Thread(target=self._run, name="mixgraph-live",
                                           daemon=True)
            self.thread.start()
            self.stream.start()
        except sd.PortAudioError as exc:
            self.stop()
            raise MixgraphError(f"cannot play through {self.device_name}: "
                                f"{str(exc).splitlines()[0]}") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.stop_event.set()
        with self.cond:
            self.cond.notify_all()
        if self.stream is not None:
            with contextlib.suppress(Exception):         # (one that never started)
                self.stream.stop()
                self.stream.close()
            self.stream = None
        if self.thread is not None:
            self.thread.join(5.0)
            self.thread = None
        if self.switch_interval is not None:
            sys.setswitchinterval(self.switch_interval)
            self.switch_interval = None
            gc.unfreeze()

    @property
    def played_s(self) -> float:
        """Seconds of sound sent to the device."""
        return self.played / self.engine.sample_rate

    def wait(self, timeout: float | None = None) -> bool:
        """Until what was rendered has been played to the end of the song (or the
        player stopped, or ``timeout``); True unless it timed out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stop_event.is_set():
            with self.cond:
                drained = self.engine.finished and self.filled == 0
            if drained:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # ------------------------------------------------------------ threads
    def _run(self) -> None:
        try:
            while not self.stop_event.is_set():
                with self.cond:
                    while self.filled >= self.lead and not self.stop_event.is_set():
                        self.cond.wait(0.1)
                if self.stop_event.is_set() or self.engine.finished:
                    return                             # the device drains the ring
                self._render_one()
        except Exception as exc:                        # said, not a silent stop
            self.error = f"{type(exc).__name__}: {exc}"
            self.stop_event.set()

    def _fill(self) -> None:
        while self.filled < self.lead and not self.engine.finished:
            self._render_one()

    def _render_one(self) -> None:
        t0 = time.perf_counter()
        if self.engine.swaps != self.swaps:               # a new graph's objects: settled
            self.swaps = self.engine.swaps
            _settle_garbage()
        block = self.engine.render(self.engine.block_size)
        self.busy_s += time.perf_counter() - t0
        f = block.shape[1]
        self.rendered += f
        with self.cond:
            size = self.ring.shape[1]
            write = (self.read_at + self.filled) % size
            first = min(f, size - write)
            self.ring[:, write:write + first] = block[:, :first]
            self.ring[:, :f - first] = block[:, first:]
            self.filled += f

    def _callback(self, outdata, frames, time_info, status) -> None:
        began = time.perf_counter()
        with self.cond:
            take = min(frames, self.filled)
            size = self.ring.shape[1]
            first = min(take, size - self.read_at)
            outdata[:first, :] = self.ring[:, self.read_at:self.read_at + first].T
            outdata[first:take, :] = self.ring[:, :take - first].T
            self.read_at = (self.read_at + take) % size
            self.filled -= take
            self.cond.notify_all()
        if take < frames:
            outdata[take:, :] = 0.0
            if not self.engine.finished:
                self.late += 1
                if len(self.late_at) < 100:
                    self.late_at.append(round(self.played / self.engine.sample_rate, 3))
        elif status.output_underflow:                  # late, though the ring was full
            self.device_underflows += 1
        self.played += take
        # a callback that takes half its buffer's time could itself make the server
        # miss a period (the copy above takes microseconds)
        if time.perf_counter() - began > 0.5 * frames / self.engine.sample_rate:
            self.slow_callbacks += 1
