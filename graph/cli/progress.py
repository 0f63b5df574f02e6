"""A terminal progress bar for renders, drawn on stderr once a render passes a second."""

from __future__ import annotations

import sys
import time


class _Line:
    """One line redrawn in place on a terminal (nothing elsewhere), at most every
    ``every`` seconds but always at the end, and wiped by :meth:`close`."""

    width = 78
    every = 0.1

    def __init__(self, stream=None, force: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False

    def _due(self, finished: bool) -> bool:
        """Whether to draw now (and if so, the draw is counted from now)."""
        now = time.monotonic()
        if not self.enabled or (now - self.last_draw < self.every and not finished):
            return False
        self.last_draw = now
        return True

    def _draw(self, line: str) -> None:
        self.stream.write("\r" + line)
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.drawn = False


def _bar(frac: float, width: int) -> str:
    filled = int(min(1.0, frac) * width)
    return "#" * filled + "-" * (width - filled)


class ProgressBar(_Line):
    """Callable as a render's ``progress(done, total)``; draws only on a terminal.

    The bar and the estimate cover the whole render; told of its passes (the render
    calls :meth:`begin_pass`), the line names the pass where there are several
    ("analysis 1/2", then "rendering 2/2"), shows where that pass is in the song, and
    counts the speed as the report does: seconds of song per second of the render
    (two passes over a song take twice as long, not twice as much song).  On a machine
    that has not compiled the kernels yet it says so, unless told ``kernels_ready``
    (the command compiled them ahead: :mod:`mixgraph.nodes.kernels.warmup`).
    """

    def __init__(self, sample_rate: int, *, label: str = "rendering", delay_s: float = 1.0,
                 stream=None, force: bool = False, kernels_ready: bool = False):
        super().__init__(stream, force)
        self.sample_rate = sample_rate
        self.label = label
        self.delay_s = delay_s
        self.current = None            # the pass under way (a RenderPass), once told
        if self.enabled and not kernels_ready:      # (else compiled ahead, and said so)
            from mixgraph.nodes.kernels import cached

            if not cached():
                self.stream.write("first render on this machine: compiling the DSP kernels "
                                  "(once)\n")

    def begin_pass(self, current) -> None:
        """A pass of the render begins (a :class:`mixgraph.core.renderer.RenderPass`)."""
        self.current = current

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed < self.delay_s or not self._due(done >= total):
            return
        frac = done / total if total else 1.0
        label, song, song_done = self.label, done, done
        if self.current is not None:
            p = self.current
            if p.count > 1:
                label = f"{'analysis' if p.name == 'analysis' else self.label} " \
                        f"{p.number}/{p.count}"
            song = min(max(done - p.start, 0), p.song_frames)
            song_done = frac * p.song_frames
        speed = song_done / self.sample_rate / elapsed if elapsed > 0 else 0.0
        eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
        self._draw(f"{label} {frac * 100:3.0f}% [{_bar(frac, 28)}] "
                   f"{song / self.sample_rate:7.1f} s {speed:5.0f}x  eta {eta:4.0f} s ")


class BatchProgress(_Line):
    """Callable as a batch's ``progress(done, total, running)``: jobs done, and the
    ones under way with how far each has got; draws only on a terminal."""

    width = 110
    every = 0.2

    def __call__(self, done: int, total: int, running: dict) -> None:
        if not self._due(done >= total):
            return
        frac = (done + sum(running.values())) / total if total else 1.0
        under_way = "  ".join(f"{k} {v * 100:.0f}%" for k, v in sorted(running.items()))
        line = (f"batch {done}/{total} [{_bar(frac, 20)}] "
                f"{time.monotonic() - self.started:5.0f} s  {under_way}")
        self._draw(line[:self.width].ljust(self.width))


class PlayStatus(_Line):
    """Callable as a playback's ``status(dict)``: where the song is, what the monitored
    signal measures, the underruns; draws only on a terminal."""

    width = 100

    def __call__(self, now: dict) -> None:
        if not self._due(False):
            return

        def lufs(key):
            v = now.get(key)
            return "     -" if v is None else f"{v:6.1f}"

        line = (f"playing {_clock(now['position_s'])}  M {lufs('momentary_lufs')} "
                f"S {lufs('short_term_lufs')} I {lufs('integrated_lufs')} LUFS  "
                f"TP {lufs('true_peak_dbtp')} dBTP  underruns {now['underruns']}  "
                f"CPU {now['cpu_load'] * 100:3.0f}%")
        self._draw(line[:self.width].ljust(self.width))


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"
