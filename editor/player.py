"""Listening: renders from a position and plays through the system's audio output.

Uses sounddevice (PortAudio) when it is installed and an output device exists;
otherwise ``available`` is False and ``reason`` says why, so the editor's Play button
can say so instead of failing.  The monitor level is applied on the way to the
device only (engineers check mixes at low and high levels); it never touches a render.
"""

from __future__ import annotations

import threading
import time

import numpy as np


def probe() -> tuple[bool, str]:
    try:
        import sounddevice as sd
    except ImportError:
        return False, "no audio playback: install sounddevice (pip install sounddevice)"
    except OSError as exc:                         # PortAudio library missing
        return False, f"no audio playback: {exc}"
    try:
        device = sd.query_devices(kind="output")
    except Exception as exc:
        return False, f"no audio output device ({str(exc).splitlines()[0]})"
    if not device or device.get("max_output_channels", 0) < 1:
        return False, "no audio output device"
    return True, f"plays through {device.get('name', 'the default output')}"


class Player:
    def __init__(self):
        self.available, self.reason = probe()
        self.monitor_db = -12.0
        self.position_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    @property
    def playing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def play(self, graph, source: str, start_s: float = 0.0) -> None:
        if not self.available:
            raise RuntimeError(self.reason)
        self.stop()
        self._stop.clear()
        self.error = None
        self.position_s = start_s
        snapshot = graph.copy()
        self._thread = threading.Thread(target=self._run, args=(snapshot, source, start_s),
                                        name="mixgraph-play", daemon=True)
        self._thread.start()

    def _run(self, graph, source: str, start_s: float) -> None:
        import sounddevice as sd

        from mixgraph import preview

        try:
            stream = None
            for start, block in preview(graph, source, start_s=start_s, cancel=self._stop):
                if stream is None:
                    stream = sd.OutputStream(samplerate=graph.sample_rate,
                                             channels=block.shape[0], dtype="float32")
                    stream.start()
                gain = 10 ** (self.monitor_db / 20)
                stream.write(np.ascontiguousarray((block * gain).T, dtype=np.float32))
                self.position_s = (start + block.shape[1]) / graph.sample_rate
                if self._stop.is_set():
                    break
            if stream is not None:
                stream.stop()
                stream.close()
        except Exception as exc:
            self.error = str(exc).splitlines()[0]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._thread = None
        time.sleep(0)
