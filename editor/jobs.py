"""Renders that run off the UI thread, and what the report window plots.

A :class:`RenderJob` renders a snapshot of the session's graph in a thread (so the
editor stays responsive and later edits do not change a render under way), with
progress, cancel and, when done, the report and the plots: a waveform envelope and
loudness over time (momentary and short-term) of each output.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from mixgraph import Graph, MixgraphError, RenderCancelled, render


class RenderJob:
    def __init__(self, graph: Graph, block_size: int = 1024, plot_points: int = 1200,
                 output_paths: dict[str, str] | None = None):
        self.graph = Graph.from_document(graph.to_document(), base_dir=graph.base_dir)
        self.graph.path = graph.path
        self.output_paths = output_paths        # outputs written elsewhere (a version's)
        self.block_size = block_size
        self.plot_points = plot_points
        self.progress = 0.0
        self.done = False
        self.cancelled = False
        self.report = None
        self.error: str | None = None
        self.plots: dict[str, dict] = {}
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "RenderJob":
        self._thread = threading.Thread(target=self._run, name="mixgraph-render", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.report = render(self.graph, block_size=self.block_size,
                                 progress=self._progress, cancel=self._cancel,
                                 output_paths=self.output_paths)
            self.plots = {o["node"]: plot_data(Path(o["path"]), self.plot_points)
                          for o in self.report.outputs}
        except RenderCancelled:
            self.cancelled = True
        except MixgraphError as exc:
            self.error = exc.message
        except Exception as exc:                       # a bug: say so, do not crash the UI
            self.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self.progress = 1.0 if self.report else self.progress
            self.done = True

    def _progress(self, done: int, total: int) -> None:
        self.progress = done / total if total else 1.0

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done


def plot_data(path: Path, points: int = 1200) -> dict:
    """Waveform envelope (min and max per slice, channels mixed) and loudness over time."""
    import soundfile as sf

    from mixgraph.nodes.meters import meter_file

    with sf.SoundFile(str(path)) as f:
        frames, rate = f.frames, f.samplerate
        per = max(1, int(np.ceil(frames / points)))
        lows, highs = [], []
        while True:
            data = f.read(per * 256, dtype="float64", always_2d=True)
            if not len(data):
                break
            mono = data.mean(axis=1)
            usable = len(mono) // per * per
            if usable:
                chunk = mono[:usable].reshape(-1, per)
                lows += chunk.min(axis=1).tolist()
                highs += chunk.max(axis=1).tolist()
            if usable < len(mono):
                rest = mono[usable:]
                lows.append(float(rest.min()))
                highs.append(float(rest.max()))
    times = (np.arange(len(lows)) * per / rate).tolist()
    figures = meter_file(path, series=True)
    series = figures.pop("series")
    step = series["step_s"]
    m = series["momentary_lufs"]
    s = series["short_term_lufs"]
    return {"time_s": times, "min": lows, "max": highs,
            "momentary_time_s": [series["momentary_start_s"] + i * step for i in range(len(m))],
            "momentary_lufs": [v if np.isfinite(v) else -70.0 for v in m],
            "short_term_time_s": [series["short_term_start_s"] + i * step for i in range(len(s))],
            "short_term_lufs": [v if np.isfinite(v) else -70.0 for v in s],
            "figures": figures}
