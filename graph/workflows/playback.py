"""Playing a project through the sound card, to the end of the song, a range of it, or
a loop of it until stopped: what ``mixgraph play`` does (the editor's Play drives the
same :class:`~mixgraph.core.live.LiveEngine` and keeps it while the graph is edited)."""

from __future__ import annotations

import math
import os
import threading

from mixgraph.core.fileformat import load
from mixgraph.core.live import DevicePlayer, LiveEngine, start_playing
from mixgraph.core.model import Graph

STATUS_EVERY_S = 0.1


def play(project: Graph | str | os.PathLike, *, start_s: float = 0.0,
         end_s: float | None = None, loop: bool = False, listen: str | None = None,
         device=None, buffer_frames: int = 512, status=None,
         stop: threading.Event | None = None) -> dict:
    """Play ``project`` from song time ``start_s`` to ``end_s`` (default: the end of the
    song and two seconds of tails), or loop that range (``loop``) until ``stop`` is set
    or Ctrl-C.  ``listen``: an output node, or ``node.port`` to hear one port alone.
    ``status(dict)`` is told the position, the meters and the underruns ten times a
    second.  Returns what was played: seconds, underruns, device, buffer, CPU load and
    the loudness heard."""
    graph = project if isinstance(project, Graph) else load(project)
    # (what is heard is metered; each node's meters are the editor's)
    engine, player = start_playing(graph, listen=listen, start_s=start_s, end_s=end_s,
                                   loop=loop, device=device, buffer_frames=buffer_frames,
                                   node_meters=False)
    if loop:
        end_s = engine.loop[1]
    interrupted = False
    try:
        try:
            while not player.wait(STATUS_EVERY_S):
                if stop is not None and stop.is_set():
                    break
                if status is not None:
                    status(_status(engine, player))
        except KeyboardInterrupt:
            interrupted = True
        if player.error is not None:
            raise RuntimeError(player.error)
        return dict(_status(engine, player), interrupted=interrupted,
                    listen=engine.listen_point, from_s=start_s, to_s=end_s, loop=loop,
                    sample_rate=engine.sample_rate)
    finally:
        player.stop()
        engine.close()


def _status(engine: LiveEngine, player: DevicePlayer) -> dict:
    meters = engine.meters()
    heard = meters.get("listen", {})
    return {"played_s": round(player.played_s, 3), "position_s": round(player.heard_s, 3),
            "underruns": player.underruns, "late": player.late,
            "device_underflows": player.device_underflows,
            "slow_callbacks": player.slow_callbacks, "device": player.device_name,
            "buffer_frames": player.buffer_frames, "cpu_load": round(player.cpu_load, 4),
            **{k: _figure(heard.get(k)) for k in ("momentary_lufs", "short_term_lufs",
                                                  "integrated_lufs", "true_peak_dbtp")}}


def _figure(value) -> float | None:
    """A reading for JSON: rounded, None where there is none (silence, too soon)."""
    return round(value, 2) if value is not None and math.isfinite(value) else None
