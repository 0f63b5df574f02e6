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
import threading
import time

import jack
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
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    scheduling = "--realtime" if may_run_realtime() else "--no-realtime"
    server = subprocess.Popen(["jackd", scheduling, "-n", name, "-d", "dummy",
                               "-r", str(rate), "-p", str(period)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
                raise RuntimeError("jackd did not start: "
                                   + server.stderr.read().decode()[-500:]) from None
            time.sleep(0.1)


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


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
    """What arrives at two JACK input ports, period by period, with frame times."""

    def __init__(self):
        self.client = jack.Client("mixgraph-capture", no_start_server=True)
        self.ports = [self.client.inports.register(f"in_{i}") for i in range(2)]
        self.blocks: list[tuple[int, np.ndarray]] = []
        self.xruns = 0                  # the server's own: periods it missed
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()
        self.linked = threading.Event()
        threading.Thread(target=self._link, daemon=True).start()

    def _process(self, frames: int) -> None:
        self.blocks.append((self.client.last_frame_time,
                            np.stack([p.get_array().copy() for p in self.ports])))

    def _xrun(self, delay_us: float) -> None:
        self.xruns += 1

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
        frames = np.concatenate([np.arange(t, t + b.shape[1]) for t, b in self.blocks])
        audio = np.concatenate([b for _, b in self.blocks], axis=1)
        np.savez(path, audio=audio, frames=frames, events=json.dumps(events))
        self.client.close()


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
