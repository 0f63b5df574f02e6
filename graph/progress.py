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
        if self.enabled:
            from nodes.kernels import cached

            if not cached():
                self.stream.write("first render on this machine: compiling the DSP kernels "
                                  "(about 10 s, once)\n")

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


class BatchProgress:
    """Callable as a batch's ``progress(done, total, running)``: jobs done, and the
    ones under way with how far each has got; draws only on a terminal."""

    def __init__(self, stream=None, force: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int, running: dict) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_draw < 0.2 and done < total:
            return
        self.last_draw = now
        width = 20
        frac = (done + sum(running.values())) / total if total else 1.0
        filled = int(min(1.0, frac) * width)
        bar = "#" * filled + "-" * (width - filled)
        under_way = "  ".join(f"{k} {v * 100:.0f}%" for k, v in sorted(running.items()))
        line = f"batch {done}/{total} [{bar}] {now - self.started:5.0f} s  {under_way}"
        self.stream.write("\r" + line[:110].ljust(110))
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()
            self.drawn = False
