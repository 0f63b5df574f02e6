"""A terminal progress bar for renders, drawn on stderr once a render passes a second."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """Callable as a render's ``progress(done, total)``; draws only on a terminal."""

    def __init__(self, sample_rate: int, *, label: str = "rendering", delay_s: float = 1.0,
                 stream=None, force: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.sample_rate = sample_rate
        self.label = label
        self.delay_s = delay_s
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < self.delay_s or (now - self.last_draw < 0.1 and done < total):
            return
        self.last_draw = now
        frac = done / total if total else 1.0
        width = 28
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        song = done / self.sample_rate
        speed = song / elapsed if elapsed > 0 else 0.0
        eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
        self.stream.write(f"\r{self.label} {frac * 100:3.0f}% [{bar}] {song:7.1f} s "
                          f"{speed:5.0f}x  eta {eta:4.0f} s ")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 78 + "\r")
            self.stream.flush()
            self.drawn = False
