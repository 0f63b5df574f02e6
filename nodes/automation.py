"""Sample-accurate parameter automation.

In a project file an automated parameter is written as::

    {"automation": [[0.0, -60.0], [2.0, 0.0]], "curve": "linear"}

with times in seconds on the song's timeline and values in the parameter's unit.
Before the first point the first value holds, after the last point the last value.
Two points at the same time make a jump.

Curves:
- ``linear``: straight lines between points (in the parameter's own unit, so a dB
  parameter moves linearly in dB).
- ``exponential``: geometric interpolation, even steps in ratio (a frequency sweeps
  evenly in octaves); every value must be non-zero and of one sign.
- ``step``: each value holds until the next point.

Every sample's value is computed from its absolute sample index alone, so the
values do not depend on how the render is cut into blocks.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

CURVES = ("linear", "exponential", "step")
MAX_POINTS = 100_000


class Automation:
    """A breakpoint curve over song time (seconds)."""

    __slots__ = ("times", "values", "curve", "_log", "_times_list")

    def __init__(self, points, curve: str = "linear"):
        pts = [(float(t), float(v)) for t, v in points]
        self.times = np.array([t for t, _ in pts], dtype=np.float64)
        self.values = np.array([v for _, v in pts], dtype=np.float64)
        self.curve = curve
        self._log = np.log(np.abs(self.values)) if curve == "exponential" else None
        self._times_list = [float(t) for t in self.times]

    # ----------------------------------------------------------------- parsing
    @staticmethod
    def is_automation(raw: Any) -> bool:
        return isinstance(raw, dict) and "automation" in raw

    @classmethod
    def problems(cls, raw: Any) -> list[str]:
        """What is wrong with a document's automation value (empty if nothing)."""
        if not isinstance(raw, dict) or "automation" not in raw:
            return ["must be an object with an 'automation' list"]
        extra = set(raw) - {"automation", "curve"}
        if extra:
            return [f"has unknown key(s) {', '.join(sorted(map(str, extra)))} "
                    "(expected 'automation' and 'curve')"]
        pts = raw["automation"]
        curve = raw.get("curve", "linear")
        if curve not in CURVES:
            return [f"automation curve must be one of {', '.join(CURVES)}, got {curve!r}"]
        if not isinstance(pts, list) or not pts:
            return ["automation must be a non-empty list of [time_s, value] points"]
        if len(pts) > MAX_POINTS:
            return [f"automation has {len(pts):,} points; at most {MAX_POINTS:,} are allowed"]
        out: list[str] = []
        prev = -math.inf
        for i, p in enumerate(pts):
            if (not isinstance(p, (list, tuple)) or len(p) != 2
                    or not all(_is_number(x) for x in p)):
                out.append(f"automation point {i} must be [time_s, value], got {p!r}"[:200])
                continue
            t, v = finite(p[0]), finite(p[1])
            if t is None or v is None:
                shown = "a number too large" if max(map(_digits, p)) > 30 else repr(p)
                out.append(f"automation point {i} must be finite, got {shown}")
                continue
            if t < 0:
                out.append(f"automation point {i} has a negative time ({t} s)")
            if t < prev:
                out.append(f"automation times must not decrease (point {i} at {t} s "
                           f"comes after {prev} s)")
            prev = t
            if curve == "exponential" and v == 0:
                out.append(f"automation point {i} is 0; exponential curves need non-zero "
                           "values of one sign (use 'linear' for dB parameters)")
        if not out and curve == "exponential":
            signs = {math.copysign(1.0, float(p[1])) for p in pts}  # all finite by now
            if len(signs) > 1:
                out.append("exponential automation needs values of one sign "
                           "(use 'linear' for dB parameters)")
        return out

    @classmethod
    def from_document(cls, raw: dict) -> "Automation":
        return cls(raw["automation"], raw.get("curve", "linear"))

    def to_document(self) -> dict:
        return {"automation": [[float(t), float(v)] for t, v in zip(self.times, self.values)],
                "curve": self.curve}

    # -------------------------------------------------------------- evaluation
    @property
    def min(self) -> float:
        return float(self.values.min())

    @property
    def max(self) -> float:
        return float(self.values.max())

    def at_seconds(self, t: np.ndarray) -> np.ndarray:
        """Values at the times ``t`` (seconds, any shape)."""
        times, values = self.times, self.values
        t = np.asarray(t, dtype=np.float64)
        hi = np.searchsorted(times, t, side="right")          # first point after t
        lo = np.maximum(hi - 1, 0)
        held = values[lo]
        if self.curve == "step" or len(times) == 1:
            return held
        inside = (hi > 0) & (hi < len(times))
        if not inside.any():
            return held
        hi_c = np.minimum(hi, len(times) - 1)
        return np.where(inside, self._ramp(t, lo, hi_c), held)

    def _ramp(self, t, lo, hi):
        """Values between points lo and hi (arrays or ints) at times t."""
        t0, t1 = self.times[lo], self.times[hi]
        span = np.where(t1 > t0, t1 - t0, 1.0)
        frac = (t - t0) / span
        if self.curve == "linear":
            v0, v1 = self.values[lo], self.values[hi]
            return v0 + (v1 - v0) * frac
        sign = math.copysign(1.0, float(self.values[0]))
        l0, l1 = self._log[lo], self._log[hi]
        return sign * np.exp(l0 + (l1 - l0) * frac)

    def render(self, start: int, frames: int, sample_rate: float):
        """Values for the samples ``start .. start + frames - 1`` of song time.

        Returns a float where the whole block holds one value, else an array; either
        way each sample's value is the one :meth:`at_seconds` gives for it.
        """
        sr = float(sample_rate)
        first = bisect.bisect_right(self._times_list, start / sr)
        last = bisect.bisect_right(self._times_list, (start + frames - 1) / sr)
        if first == last:                                   # no point inside the block
            if first == 0 or first == len(self.times) or self.curve == "step":
                return float(self.values[max(first - 1, 0)])
            t = np.arange(start, start + frames, dtype=np.float64) / sr
            return self._ramp(t, first - 1, first)
        return self.at_seconds(np.arange(start, start + frames, dtype=np.float64) / sr)

    def __repr__(self) -> str:
        pts = ", ".join(f"({t:g}, {v:g})" for t, v in zip(self.times, self.values))
        return f"Automation([{pts}], curve={self.curve!r})"


def thin(points, tolerance: float) -> list[list[float]]:
    """The fewest of ``points`` ([time_s, value], times not decreasing) whose straight
    lines stay within ``tolerance`` of every point dropped (Ramer-Douglas-Peucker on
    the value axis).  Both the kept curve and the original are straight between their
    points, and the kept points are some of the original ones, so the largest
    difference anywhere is at an original point: the kept curve is within
    ``tolerance`` of the original at every time, not only at the points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) <= 2:
        return pts.tolist()
    t, v = pts[:, 0], pts[:, 1]
    keep = np.zeros(len(pts), dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, len(pts) - 1)]
    while spans:
        a, b = spans.pop()
        if b - a < 2:
            continue
        inner = slice(a + 1, b)
        dt = t[b] - t[a]
        if dt > 0:
            line = v[a] + (v[b] - v[a]) * (t[inner] - t[a]) / dt
        else:                                       # a jump: the later value holds
            line = np.full(b - a - 1, v[b])
        miss = np.abs(v[inner] - line)
        worst = int(np.argmax(miss))
        if miss[worst] > tolerance:
            k = a + 1 + worst
            keep[k] = True
            spans += [(a, k), (k, b)]
    return pts[keep].tolist()


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def finite(x: Any) -> float | None:
    """``x`` as a finite float, or ``None`` (NaN, infinity, or an int too big for a float)."""
    try:
        v = float(x)
    except (OverflowError, TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _digits(x: Any) -> int:
    return len(str(x)) if isinstance(x, int) else 0
