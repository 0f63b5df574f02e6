"""Listening from the editor: the live engine played through the sound card, kept while
the graph is edited (no Dear PyGui here, so it is testable without a window).

``Player.play`` starts a :class:`mixgraph.core.live.LiveEngine` on the session's graph
and a :class:`~mixgraph.core.live.DevicePlayer` for it; ``Player.edit`` hands it the
graph after each edit (a value glides, anything else is replanned and crossfaded in,
a graph that does not validate leaves the last good one playing and ``problem`` says
why).  The monitor section (level, dim, mono, swap, mute) outlives a Stop, as a
console's does.  Without sounddevice, PortAudio or an output device, ``available`` is
False and ``reason`` says exactly what to install.
"""

from __future__ import annotations

import math
import threading

from mixgraph import Graph, MixgraphError
from mixgraph.core.live import (DevicePlayer, LiveEngine, Monitor, default_point, probe_device,
                                start_playing)

MONITOR_DB = -12.0
SILENT_DB = -140.0                # a meter reads quieter than this as silence                # where the monitor level starts: a safe listening level


def listening_points(graph: Graph) -> list[str]:
    """What can be listened to: the outputs (the one the most flows into first), then
    every other node's output ports as ``node.port`` (solo in place)."""
    outputs, ports = [], []
    for spec in graph:
        cls = spec.node_class()
        if cls is None:
            continue
        if cls.output_names():
            ports += [f"{spec.id}.{port}" for port in cls.output_names()]
        elif cls.input_names():
            outputs.append(spec.id)
    try:
        master = default_point(graph)
    except MixgraphError:
        master = None
    if master in outputs:
        outputs.remove(master)
        outputs.insert(0, master)
    return outputs + ports


def probe() -> tuple[bool, str]:
    """Whether the editor can play, and through what (or what to install)."""
    ok, said = probe_device()
    return ok, (f"plays through {said}" if ok else said)


class Player:
    def __init__(self, buffer_frames: int = 512):
        self.available, self.reason = probe()
        self.buffer_frames = buffer_frames
        self.monitor = Monitor(level_db=MONITOR_DB)
        self.engine: LiveEngine | None = None
        self.on_stop = None                        # called with the engine as it stops
        self.device: DevicePlayer | None = None
        self.error: str | None = None
        self.starter: threading.Thread | None = None
        self.cancelled = threading.Event()

    @property
    def playing(self) -> bool:
        return self.device is not None and self.device.playing

    @property
    def position_s(self) -> float:
        """Song time reaching the ears now (0 when stopped)."""
        return self.device.heard_s if self.device is not None else 0.0

    def play(self, graph: Graph, listen: str | None, start_s: float = 0.0,
             compare: str | None = None, end_s: float | None = None,
             loop: bool = False, ab: str = "a") -> None:
        """Start playing ``graph`` at the listening point ``listen`` (an output, or
        ``node.port``; None: the master) from ``start_s`` to ``end_s`` (None: the song's
        end), or loop that range.  The engine is planned (and a loudness stage's
        analysis run) in a thread of its own, so the window goes on; ``starting`` until
        it plays, and ``finished()`` says if it could not start (``error``: why)."""
        if not self.available:
            raise RuntimeError(self.reason)
        self.stop()
        self.error = None
        snapshot = graph.copy()

        def start() -> None:
            try:
                engine, device = start_playing(
                    snapshot, listen=listen, compare=compare, start_s=start_s,
                    end_s=end_s, loop=loop, buffer_frames=self.buffer_frames,
                    monitor=self.monitor)
            except Exception as exc:
                self.error = getattr(exc, "message", None) or str(exc)
                return
            if self.cancelled.is_set():                 # Stop came while it started
                device.stop()
                engine.close()
                return
            engine.ab = ab
            self.engine, self.device = engine, device

        self.cancelled.clear()
        self.starter = threading.Thread(target=start, name="mixgraph-start", daemon=True)
        self.starter.start()

    @property
    def starting(self) -> bool:
        return self.starter is not None and self.starter.is_alive()

    def edit(self, graph: Graph) -> None:
        """The graph after an edit, heard without stopping."""
        if self.engine is not None:
            self.engine.edit(graph)

    def listen(self, point: str | None, compare: str | None = None) -> None:
        if self.engine is not None and point:
            self.engine.listen(point, compare)

    def readings(self) -> dict:
        """The newest meters, with the device's counts (empty when stopped)."""
        if self.engine is None or self.device is None:
            return {}
        return dict(self.engine.meters(), underruns=self.device.underruns,
                    cpu_load=self.device.cpu_load, problem=self.engine.problem)

    def finished(self) -> bool:
        """True once, when playing ended by itself (the song's end, or a failure:
        ``error`` says which), or could not start."""
        if self.device is None:
            if self.starter is not None and not self.starter.is_alive() and self.error:
                self.starter = None
                return True
            return False
        failed = self.device.error is not None
        if not failed and not (self.engine.finished and self.device.wait(0)):
            return False
        self.error = self.device.error
        self.stop()
        return True

    def stop(self) -> None:
        if self.starting:                               # it stops itself once started
            self.cancelled.set()
            self.starter.join(30.0)
        self.starter = None
        if self.device is not None:
            self.device.stop()
        if self.engine is not None:
            try:
                if self.on_stop is not None:      # what was recorded while playing
                    self.on_stop(self.engine)
            finally:
                self.engine.close()
        self.engine = self.device = None


def readout(readings: dict, position_s: float) -> str:
    """One line: where the song is, loudness and true peak since Play, the device."""
    heard = readings.get("listen", {})

    def figure(key: str) -> str:
        value = heard.get(key)
        return f"{value:.1f}" if value is not None and math.isfinite(value) else "-"

    minutes, seconds = divmod(position_s, 60)
    return (f"{int(minutes)}:{seconds:04.1f}   M {figure('momentary_lufs')}  "
            f"S {figure('short_term_lufs')}  I {figure('integrated_lufs')} LUFS   "
            f"TP {figure('true_peak_dbtp')} dBTP   underruns {readings.get('underruns', 0)}"
            f"   CPU {100 * readings.get('cpu_load', 0.0):.0f} %")


def meter_line(reading: dict) -> tuple[float, str]:
    """A node's meter: how full its bar is (peak, -60 to 0 dBFS) and what it says."""
    peak = max(reading.get("peak_db") or [-math.inf])
    fill = min(1.0, max(0.0, (peak + 60.0) / 60.0)) if math.isfinite(peak) else 0.0
    words = [f"{peak:.1f} dB" if peak > SILENT_DB else "-inf dB"]
    momentary = reading.get("momentary_lufs")
    if momentary is not None and momentary > SILENT_DB:
        words.append(f"M {momentary:.1f}")
    reduction = [v for k, v in reading.items() if k.endswith("gain_reduction_db")]
    if reduction:
        words.append("GR " + " ".join(f"{v:.1f}" for v in reduction))
    return fill, "  ".join(words)
