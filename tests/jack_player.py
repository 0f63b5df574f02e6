"""Plays a project through PortAudio into a running JACK server and records what
arrives there, for tests/test_playback.py (run as a script, in a process of its own:
PortAudio finds the JACK server only if it is running when PortAudio starts).

    python jack_player.py SCENARIO PROJECT OUT.npz [BUFFER_FRAMES]

A JACK client with two input ports is linked to PortAudio's outputs as soon as they
appear, and keeps every period it receives with the JACK frame time it started at.
The scenario plays the project with mixgraph's live engine and device player and
makes its edits while it plays, noting the JACK frame time of each.  OUT.npz holds
the capture (``audio``, ``frames``: the frame time of each sample) and ``events``
(JSON: what was done when, the player's counts).

Also used by bench/live.py: :func:`start_server` (a JACK server of one's own) and
:func:`edit_heard_after` (when a fader move was heard).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from mixgraph import load
from mixgraph.core.live import DevicePlayer, LiveEngine, block_for


def may_run_realtime() -> bool:
    """Whether this machine lets us schedule threads in real time (as a studio's JACK
    runs; without it, on two busy cores, the server itself misses periods)."""
    import shutil

    return shutil.which("chrt") is not None and subprocess.run(
        ["chrt", "-f", "10", "true"], capture_output=True).returncode == 0


def start_server(name: str, rate: int, period: int, timeout_s: float = 10.0):
    """Start ``jackd`` (dummy driver: no sound card) named ``name``, in real time where
    the machine allows it, and wait until it takes clients; returns the process and the
    environment that makes PortAudio and JACK clients use it.  Raises RuntimeError
    (with jackd's words) if it does not start."""
    import jack

    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    scheduling = "--realtime" if may_run_realtime() else "--no-realtime"
    # jackd says two lines (~130 bytes) on every xrun: into a file, not a pipe no one
    # reads; a full pipe (64 KB, some 500 xruns, a loaded run's worth) holds jackd at
    # SIGTERM (measured), stop_server kills it, and a killed jackd keeps its place in
    # JACK's registry of servers: eight places, a dead one given back only to a
    # server of its name, then "Too many servers already active" for every other
    said = tempfile.TemporaryFile()
    server = subprocess.Popen(["jackd", scheduling, "-n", name, "-d", "dummy",
                               "-r", str(rate), "-p", str(period)], env=env,
                              stdout=subprocess.DEVNULL, stderr=said)
    server.said = said
    deadline = time.monotonic() + timeout_s
    jack.set_error_function(lambda message: None)       # "cannot connect", until it can
    while True:
        try:
            jack.Client("mixgraph-probe", no_start_server=True, servername=name).close()
            jack.set_error_function(None)
            return server, env
        except jack.JackError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                server.wait()
                said.seek(0)
                words = said.read().decode(errors="replace")[-500:]
                said.close()
                raise RuntimeError("jackd did not start: " + words) from None
            time.sleep(0.1)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    said = getattr(server, "said", None)
    if said is not None:
        said.close()


def envelope(x: np.ndarray, frames: np.ndarray, freq: float, rate: int, hop: int = 16):
    """The peak over each period of a ``freq`` Hz tone, every ``hop`` samples, and the
    frame time of each."""
    period = int(rate / freq) + 1
    peaks = np.array([np.abs(x[i:i + period]).max() for i in range(0, len(x) - period, hop)])
    return peaks, frames[::hop][:len(peaks)]


def edit_heard_after(audio: np.ndarray, frames: np.ndarray, events: dict, before: float,
                     after: float, freq: float = 440.0) -> float:
    """Seconds from the scenario's one edit to the capture's tone level crossing half
    way from ``before`` to ``after`` (peak levels)."""
    (edit,) = events["actions"]
    loud = np.flatnonzero(np.abs(audio).max(axis=0) > 1e-4)
    span = slice(loud[0], loud[-1] + 1)
    peaks, at = envelope(audio[0, span], frames[span], freq, events["rate"])
    crossed = at[np.flatnonzero((peaks < (before + after) / 2) if after < before
                                else (peaks > (before + after) / 2))]
    return (crossed[crossed > edit["frame"]][0] - edit["frame"]) / events["rate"]


class Capture:
    """What arrives at two JACK input ports, period by period: each period's samples,
    the JACK frame time it started at, and when (the monotonic clock) the process
    callback ran; and when the server said it had an xrun.

    Measured on this two-core VM (dummy driver, 256-frame periods): when the server
    has an xrun while a client is still in its previous cycle, what this client
    keeps can lose a period, repeat one, or take its two ports from two periods one
    after the other (the left from period n, the right from n + 1); always at a
    period's boundary, always with an xrun reported within a few tens of ms.  The
    engine never sees it (it is the server's scheduling, not the stream), so the
    tests compare a capture with :func:`compare`, which realigns after an xrun only.
    In the same cycles ``last_frame_time`` can already read the next period's time
    (a period read late); :meth:`save` gives each period the latest frame time
    consistent with the ones after it."""

    def __init__(self):
        import jack

        self.client = jack.Client("mixgraph-capture", no_start_server=True)
        self.ports = [self.client.inports.register(f"in_{i}") for i in range(2)]
        self.blocks: list[tuple[int, np.ndarray]] = []
        self.cycle_us: list[int] = []      # when each process callback ran (monotonic)
        self.xrun_us: list[int] = []       # when each xrun was reported (monotonic)
        self.xruns = 0                     # the server's own: periods it missed
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()
        self.linked = threading.Event()
        threading.Thread(target=self._link, daemon=True).start()

    def _process(self, frames: int) -> None:
        self.cycle_us.append(time.monotonic_ns() // 1000)
        self.blocks.append((self.client.last_frame_time,
                            np.stack([p.get_array().copy() for p in self.ports])))

    def _xrun(self, delay_us: float) -> None:
        self.xruns += 1
        self.xrun_us.append(time.monotonic_ns() // 1000)

    def _link(self) -> None:
        for _ in range(10000):                       # up to 20 s
            outs = self.client.get_ports("PortAudio", is_audio=True, is_output=True)
            if len(outs) >= 2:
                for out, port in zip(outs, self.ports):
                    self.client.connect(out, port)
                self.linked.set()
                return
            time.sleep(0.002)

    def now(self) -> int:
        return self.client.frame_time

    def save(self, path: str, events: dict) -> None:
        self.client.deactivate()
        blocks, cycle_us = self.blocks, self.cycle_us
        sizes = np.array([b.shape[1] for _, b in blocks], dtype=np.int64)
        starts = np.array([t for t, _ in blocks], dtype=np.int64)
        # a period read late says the next one's frame time: no period starts later
        # than the next one's start less its length
        for i in range(len(starts) - 2, -1, -1):
            starts[i] = min(starts[i], starts[i + 1] - sizes[i])
        frames = np.concatenate([np.arange(t, t + n) for t, n in zip(starts, sizes)])
        audio = np.concatenate([b for _, b in blocks], axis=1)
        np.savez(path, audio=audio, frames=frames, events=json.dumps(events),
                 block_sizes=sizes, block_us=np.array(cycle_us, dtype=np.int64),
                 xrun_us=np.array(self.xrun_us, dtype=np.int64))
        self.client.close()


# ------------------------------------------------------------- judging a capture
# A server xrun may shift what the capture client keeps by whole periods from one
# period to the next: periods lost (up to this many; measured: one to four) or the
# last one kept again (measured: once), never one from further back ...
SLIP_PERIODS = 8
# ... and the client hears of it (a notification, in a thread that is not real time)
# up to 18 ms after the period it disturbed was captured (measured, 235 slips under
# load); a period counts as disturbed if an xrun was reported from this long before
# its callback ran to this long after
XRUN_BEFORE_S, XRUN_AFTER_S = 0.025, 0.150


class Heard:
    """A capture as saved by :meth:`Capture.save`: ``audio`` (2, n), ``frames`` (the
    JACK frame time of each sample), ``events``; ``starts`` (where each period
    starts in ``audio``, and its end) and ``disturbed`` (per period: an xrun was
    reported near it, see XRUN_BEFORE_S), and ``xruns`` (each xrun's place in the
    audio: the first period whose callback ran after it was reported; -1 before the
    capture began)."""

    def __init__(self, audio, frames, events: dict, block_sizes, block_us=None,
                 xrun_us=None, rate: int = 48000):
        self.audio = np.asarray(audio, dtype=np.float64)
        self.frames = frames
        self.events = events
        self.rate = rate
        self.starts = np.concatenate([[0], np.cumsum(block_sizes)]).astype(np.int64)
        self.block_us = (np.zeros(len(block_sizes), dtype=np.int64) if block_us is None
                         else np.asarray(block_us, dtype=np.int64))
        self.xrun_us = (np.zeros(0, dtype=np.int64) if xrun_us is None
                        else np.asarray(xrun_us, dtype=np.int64))
        near = np.zeros(len(block_sizes), dtype=bool)
        for x in self.xrun_us:
            near |= ((self.block_us >= x - XRUN_AFTER_S * 1e6)
                     & (self.block_us <= x + XRUN_BEFORE_S * 1e6))
        self.disturbed = near
        after = np.searchsorted(self.block_us, self.xrun_us)
        self.xruns = np.where(after > 0, self.starts[np.minimum(after, len(block_sizes))], -1)

    @classmethod
    def load(cls, path) -> Heard:
        got = np.load(path)
        events = json.loads(str(got["events"]))
        return cls(got["audio"], got["frames"], events, got["block_sizes"],
                   got["block_us"], got["xrun_us"], rate=events.get("rate", 48000))

    def xruns_within(self, lo: int, hi: int) -> int:
        return int(((self.xruns >= lo) & (self.xruns < hi)).sum())

    def disturbed_within(self, lo: int, hi: int) -> bool:
        """Whether a period overlapping audio[lo:hi] is disturbed."""
        first = np.searchsorted(self.starts, lo, side="right") - 1
        last = np.searchsorted(self.starts, hi, side="left")
        return bool(self.disturbed[max(first, 0):last].any())

    def seconds(self, i: int) -> str:
        return f"{i / self.rate:.3f} s"


class Segment:
    """audio[:, start:stop] is reference ``ref`` at ``start + offset`` on, sample for
    sample."""

    def __init__(self, start: int, stop: int, ref: int, offset: int):
        self.start, self.stop, self.ref, self.offset = start, stop, ref, offset

    def __repr__(self) -> str:
        return f"Segment({self.start}:{self.stop} ref {self.ref} at {self.offset:+d})"


class Comparison:
    """What :func:`compare` found: ``segments`` (exact stretches, in order), the
    stretches between them (``gaps``), the periods taken as the server's (each of
    their channels a period-slipped copy of a reference, near an xrun), and where the
    comparison ended (``end``: the span's end, or where the reference ran out)."""

    def __init__(self, heard: Heard, lo: int, end: int, segments: list[Segment],
                 torn: set[int], what: str):
        self.heard, self.lo, self.end = heard, lo, end
        self.segments, self.torn, self.what = segments, torn, what

    @property
    def covered(self) -> float:
        return sum(s.stop - s.start for s in self.segments) / max(1, self.end - self.lo)

    def gaps(self) -> list[tuple[int, int, Segment | None, Segment | None]]:
        """Each stretch of the compared span no segment holds (and each place two
        segments meet with no stretch between them): start, stop, the segments
        before and after it."""
        out, at, before = [], self.lo, None
        for seg in self.segments + [None]:
            stop = self.end if seg is None else seg.start
            if stop > at or (before is not None and seg is not None):
                out.append((at, stop, before, seg))
            if seg is not None:
                at, before = seg.stop, seg
        return out

    def realignments(self) -> list[tuple[int, int]]:
        """Where (capture index) the alignment changed, and by how much."""
        return [(b.start, b.offset - a.offset) for a, b in zip(self.segments, self.segments[1:])
                if b.offset != a.offset]

    def check(self, transitions: int = 0, *, min_covered: float = 0.9) -> list[tuple[int, int]]:
        """Raises AssertionError, naming the capture time, unless every sample
        compared is in a sample-exact segment, or in a period the server disturbed
        (an xrun reported near it, and each of its channels a copy of a reference
        shifted by whole periods), or in one of ``transitions`` changes from one
        reference to the next at the same alignment (the crossfade, glide or ramp
        the test looks at itself), in order; and unless the segments hold
        ``min_covered`` of it.  (The alignment changes only at a disturbed period,
        by whole periods: :func:`compare` looks for no other.)  Returns the
        transitions: (start, stop) of what lies between the two references."""
        h = self.heard
        found = []
        for start, stop, before, after in self.gaps():
            if before is not None and after is not None and after.ref != before.ref:
                assert after.ref == before.ref + 1 and after.offset == before.offset, (
                    f"at {h.seconds(start)} the capture goes from {self.what} "
                    f"{before.ref} to {after.ref} and shifts by "
                    f"{after.offset - before.offset} samples at once (a server xrun near: "
                    f"{h.disturbed_within(start - 1, stop + 1)})")
                found.append((start, stop))
                continue
            periods = range(np.searchsorted(h.starts, start, side="right") - 1,
                            np.searchsorted(h.starts, stop, side="left"))
            if all(p in self.torn for p in periods):
                continue                                 # the server's, accounted for
            near = h.disturbed_within(start, stop)
            raise AssertionError(
                f"the capture differs from {self.what} at {h.seconds(start)} to "
                f"{h.seconds(stop)} of the capture ({stop - start} samples"
                + (", a server xrun near, but no shift of whole periods explains it"
                   if near else ", no server xrun near") + ")")
        assert len(found) == transitions, (
            f"{len(found)} changes of reference, not {transitions}: at "
            + ", ".join(f"{h.seconds(a)}-{h.seconds(b)}" for a, b in found))
        assert self.covered >= min_covered, (
            f"only {self.covered:.1%} of the capture matches {self.what} sample for "
            f"sample ({len(self.torn)} periods disturbed by the server's "
            f"{h.xruns_within(self.lo, self.end)} xruns)")
        return found

    def summary(self) -> str:
        h = self.heard
        return (f"{h.xruns_within(self.lo, self.end)} server xruns while compared, "
                f"{len(self.realignments())} realignments "
                f"{[(h.seconds(a), s) for a, s in self.realignments()]}, "
                f"{len(self.torn)} periods taken as the server's, "
                f"{self.covered:.2%} sample-exact")


def compare(heard: Heard, refs, at: int, *, lo: int, hi: int, tol: float = 1e-6,
            until: int | None = None, period: int = 256, what: str = "the render"
            ) -> Comparison:
    """Compare ``heard.audio[:, lo:hi]`` with ``refs`` (one or more (2, n) arrays, in
    the order the capture should go through them), capture index i against reference
    index i + offset, starting at ``at`` (the reference index of capture index
    ``lo``), period by period (the capture's own periods, whose boundaries are the
    only places the server disturbs it), stopping where the reference index reaches
    ``until`` (the first reference's length by default).

    A period matches if every sample of it is within ``tol`` of the current
    reference at the current offset, or of a later reference at that offset (a
    change the test made).  A disturbed period (see :class:`Heard`) that does not
    may match at an offset shifted by whole periods as the server shifts it (up to
    SLIP_PERIODS periods lost, or the one before kept again: never a period from
    further back, so two periods swapped are not the server's), and the comparison
    goes on from there; one that matches nowhere is the server's if each of its
    channels matches on its own at such a shift (the two ports read from two
    periods).  The edges of segments are then found sample by sample.  See
    :meth:`Comparison.check`."""
    refs = [np.asarray(r, dtype=np.float64) for r in refs]
    audio = heard.audio
    until = refs[0].shape[1] if until is None else until
    offset = at - lo
    ref = 0
    segments: list[Segment] = []
    torn: set[int] = set()
    slips = sorted((k * period for k in range(-1, SLIP_PERIODS + 1) if k),
                   key=lambda d: (abs(d), d))

    def fits(s: int, e: int, r: int, o: int, channels=slice(None)) -> bool:
        a, z = s + o, e + o
        if a < 0 or z > refs[r].shape[1]:
            return False
        return bool(np.abs(audio[channels, s:e] - refs[r][channels, a:z]).max() <= tol)

    end = hi
    unsettled = 0                      # periods that may still slip after a disturbed one
    first = max(0, np.searchsorted(heard.starts, lo, side="right") - 1)
    for p in range(first, len(heard.starts) - 1):
        s, e = max(heard.starts[p], lo), min(heard.starts[p + 1], hi)
        if s >= e:
            if heard.starts[p] >= hi:
                break
            continue
        if s + offset >= until:
            end = s
            break
        if e + offset > until:
            e = end = until - offset
        tries = [(ref, offset)] + [(r, offset) for r in range(ref + 1, len(refs))]
        may_slip = bool(heard.disturbed[p]) or unsettled > 0
        if may_slip:
            tries += [(r, offset + d) for d in slips for r in range(ref, len(refs))]
        hit = next(((r, o) for r, o in tries if fits(s, e, r, o)), None)
        if hit is not None:
            r, o = hit
            if segments and segments[-1].stop == s and (segments[-1].ref, segments[-1].offset) == hit:
                segments[-1].stop = e
            else:
                segments.append(Segment(s, e, r, o))
            ref, offset, unsettled = r, o, 0
            continue
        if may_slip and all(any(fits(s, e, r, offset + d, ch) for d in [0] + slips
                                for r in range(len(refs))) for ch in range(audio.shape[0])):
            torn.add(p)
        unsettled = SLIP_PERIODS if heard.disturbed[p] else max(0, unsettled - 1)
        if end != hi and e == end:
            break
    # the segments' edges, sample by sample, into the stretches between them
    for i, seg in enumerate(segments):
        limit = segments[i + 1].start if i + 1 < len(segments) else end
        ref_ = refs[seg.ref]
        while seg.stop < limit and 0 <= seg.stop + seg.offset < ref_.shape[1] and np.abs(
                audio[:, seg.stop] - ref_[:, seg.stop + seg.offset]).max() <= tol:
            seg.stop += 1
    for i, seg in enumerate(segments):
        limit = segments[i - 1].stop if i else lo
        ref_ = refs[seg.ref]
        while seg.start > limit and 0 <= seg.start - 1 + seg.offset < ref_.shape[1] and np.abs(
                audio[:, seg.start - 1] - ref_[:, seg.start - 1 + seg.offset]).max() <= tol:
            seg.start -= 1
    return Comparison(heard, lo, end, segments, torn, what)


def main() -> None:
    scenario, project, out = sys.argv[1:4]
    buffer = int(sys.argv[4]) if len(sys.argv) > 4 else 512
    graph = load(project)
    capture = Capture()
    events: dict = {"actions": []}
    engine = LiveEngine(graph, block_size=block_for(buffer))
    player = DevicePlayer(engine, buffer_frames=buffer)

    def act(name: str, do) -> None:
        frame = capture.now()
        do()
        events["actions"].append({"name": name, "frame": frame,
                                  "position_s": engine.position_s})

    if scenario == "monitor":
        engine.monitor.mono = True
    player.start()
    if not capture.linked.wait(20.0):
        raise SystemExit("PortAudio's ports never appeared in the JACK server")
    if scenario == "demo":                  # the 8 s demo, looped, for 10.5 s
        engine.loop = (0.0, engine.song_s)
        time.sleep(10.5)
    elif scenario == "fader":
        time.sleep(1.0)
        act("fader", lambda: engine.set_param("a_ch", "gain_db", -12.0))
        time.sleep(1.0)
    elif scenario == "link":
        time.sleep(1.0)
        edited = graph.copy()
        edited.connect("b", "mix")
        act("link", lambda: engine.update(edited))
        time.sleep(1.0)
        events["problem"] = engine.problem
    elif scenario == "monitor":
        time.sleep(1.0)
        act("dim", lambda: setattr(engine.monitor, "dim", True))
        time.sleep(1.0)
    elif scenario == "plain":               # two seconds as they are, nothing done
        time.sleep(2.0)
    else:
        raise SystemExit(f"no scenario {scenario!r}")
    player.stop()
    events.update(underruns=player.underruns, late=player.late, late_at=player.late_at,
                  slow_callbacks=player.slow_callbacks,

                  device_underflows=player.device_underflows, jack_xruns=capture.xruns,
                  played_s=player.played_s,
                  device=player.device_name, cpu_load=player.cpu_load,
                  buffer_frames=player.buffer_frames, rate=engine.sample_rate,
                  error=player.error)
    engine.close()
    capture.save(out, events)


if __name__ == "__main__":
    main()
