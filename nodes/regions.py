"""Clip regions: the spans of a stem's file that play, where they play on the song's
timeline, their gains and fades, and the crossfades where they meet or overlap.

A region is plain data in the project (an item of the stem's ``regions`` list, see
:data:`REGION`): ``at_s`` on the timeline, ``from_s`` in the file, ``length_s`` (0: to
the end of the file), ``gain_db``, and a fade in and out, each a length and a curve.
The stem's default is one region holding the whole file from the timeline's start;
an empty list plays nothing.

Where two regions overlap, the overlap is a crossfade: the earlier region fades out
and the later one in across it, at equal power (or equal gain, the stem's
``crossfade``), in place of their own fades at those edges.  Where one ends exactly
where the next begins, a crossfade of ``crossfade_ms`` is centred on the join, made
from the file beyond each region's edge (as far as the file has material there).
Where both regions play the same samples of the file at the same time (a region
split in two), the crossfade is at equal gain whatever is set, so the file plays
through unchanged.  At most two regions sound at a time, and neither lies inside
the other.

Everything here works in samples at the render's rate, from absolute song time, so
a region sounds the same whatever the block size.  Times become samples by one rule
(:func:`samples`: to the nearest sample, a half up, blind to a float's last bits), and
each edge by itself: a region starts at ``samples(at_s)``, ends at
``samples(at_s + length_s)`` and plays file sample ``samples(from_s)`` first, so two
regions whose times meet in seconds meet on a sample, and a region split, moved or
trimmed by whole samples keeps its material exactly where it was.  Nothing here
reads a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .base import Items, Param, db_to_gain

CURVES = ("linear", "equal_power", "s_curve")
#: how far (in samples) a time may sit below a half sample and still round up: the
#: error of a sum of seconds, never a time anyone meant
_HALF_SLACK = 1e-4


def samples(seconds: float, rate: int) -> int:
    """A time in whole samples at ``rate``: the nearest, a half rounding up (also a
    half that float arithmetic left a hair short of one)."""
    return math.floor(seconds * rate + 0.5 + _HALF_SLACK)
#: the crossfade laws: at equal power (uncorrelated material keeps its loudness) or at
#: equal gain (the same material on both sides keeps its level)
CROSSFADES = ("equal_power", "equal_gain")


def _seconds(name: str, doc: str, top: float = 86400.0) -> Param:
    return Param(name, 0.0, min=0.0, max=top, unit="s", automatable=False, doc=doc)


#: the default: the whole file from the start of the timeline
WHOLE_FILE: list[dict] = [{}]


def shape(curve: str, t: np.ndarray) -> np.ndarray:
    """A rise from 0 to 1 at positions ``t`` in [0, 1]: ``linear`` t, ``equal_power``
    sin(pi t / 2), ``s_curve`` (1 - cos(pi t)) / 2."""
    if curve == "linear":
        return t
    if curve == "equal_power":
        return np.sin(0.5 * math.pi * t)
    return 0.5 - 0.5 * np.cos(math.pi * t)


@dataclass
class Edge:
    """A rise (``rising``) or fall of ``frames`` samples from song sample ``start``.

    Sample j of it is taken at the middle of its sample: a rise at t = (j + 1/2) / n,
    a fall at 1 - t, so a crossfade's two sides meet in the middle and an
    equal-power pair sums to exactly one in power."""

    start: int
    frames: int
    curve: str
    rising: bool

    def gains(self, a: int, b: int) -> np.ndarray | None:
        """Its gains for song samples [a, b) (1 after a rise, 0 after a fall), or None
        where it does not reach them."""
        lo, hi = max(a, self.start), min(b, self.start + self.frames)
        if hi <= lo:
            return None
        j = np.arange(lo - self.start, hi - self.start, dtype=np.float64)
        n = self.frames
        g = np.ones(b - a)
        g[lo - a:hi - a] = shape(self.curve, (j + 0.5) / n if self.rising else (n - j - 0.5) / n)
        if self.rising:
            g[:lo - a] = 0.0
        else:
            g[hi - a:] = 0.0
        return g


@dataclass
class Span:
    """A region as it plays: song samples [start, end) from file sample ``source``, at
    ``gain``, shaped by its edges; ``index`` is its place in the list as written."""

    index: int
    start: int
    end: int
    source: int
    gain: float
    edges: list[Edge] = field(default_factory=list)

    def envelope(self, a: int, b: int) -> np.ndarray | float:
        """The span's gain over song samples [a, b) (inside the span): a number where
        no edge reaches them."""
        env: np.ndarray | float = self.gain
        for edge in self.edges:
            g = edge.gains(a, b)
            if g is not None:
                env = env * g
        return env


def _number(item: dict, key: str) -> float:
    return float(item.get(key, REGION.table()[key].default))


def _curve(item: dict, key: str) -> str:
    return str(item.get(key, REGION.table()[key].default))


def _usable(regions) -> list[tuple[int, dict]]:
    """The regions whose fields are all right (others are reported field by field)."""
    if not isinstance(regions, list):
        return []
    return [(i, r) for i, r in enumerate(regions)
            if isinstance(r, dict) and not REGION.problems([r])]


def _describe(i: int, a: float, b: float) -> str:
    return f"region {i} ({a:.3f}-{b:.3f} s)"


def problems(regions, file_s: float | None = None) -> list[str]:
    """What is wrong with the regions as a whole (sentences naming the region):
    fades longer than the region, more than two regions at once, one inside another;
    with the file's length ``file_s``, a region that starts at or after the file's
    end.  Without it, a region that plays to the end of the file has no known end and
    its overlaps wait for the file."""
    out = []
    timed = []
    for i, r in _usable(regions):
        at, src = _number(r, "at_s"), _number(r, "from_s")
        length = _number(r, "length_s")
        if file_s is not None:
            if src >= file_s:
                out.append(f"region {i} starts at {src:.3f} s of the file, which is only "
                           f"{file_s:.3f} s long")
                continue
            length = min(length, file_s - src) if length else file_s - src
        fades = _number(r, "fade_in_s") + _number(r, "fade_out_s")
        if length and fades > length + 1e-9:
            out.append(f"region {i}'s fades ({_number(r, 'fade_in_s'):g} s in, "
                       f"{_number(r, 'fade_out_s'):g} s out) are longer than the region "
                       f"({length:g} s)")
        if length:
            timed.append((at, at + length, i))
    timed.sort()
    kept: list[tuple[float, float, int]] = []       # the regions not inside another
    for a1, b1, i1 in timed:
        if kept and (b1 <= kept[-1][1] or a1 == kept[-1][0]):
            a0, b0, i0 = kept[-1]
            inner, outer = ((i1, a1, b1), (i0, a0, b0)) if b1 <= b0 else \
                ((i0, a0, b0), (i1, a1, b1))
            out.append(f"{_describe(*inner)} lies inside {_describe(*outer)}; regions may "
                       "overlap only partly (a crossfade)")
            if inner[0] == i0:
                kept[-1] = (a1, b1, i1)
            continue
        if len(kept) >= 2 and a1 < kept[-2][1]:
            out.append(f"regions {kept[-2][2]}, {kept[-1][2]} and {i1} all sound at "
                       f"{a1:.3f} s; at most two regions overlap at a time (a crossfade)")
        kept.append((a1, b1, i1))
    return out


def overruns(regions, file_s: float) -> list[str]:
    """The regions that run past the end of their file (``file_s`` seconds): they
    play to its end (a stem of version 1 cut by a ``length_s`` longer than its file
    becomes such a region), and this says so."""
    return [f"region {i} runs to {_number(r, 'from_s') + _number(r, 'length_s'):.3f} s of "
            f"the file, past its end at {file_s:.3f} s: it plays to the end"
            for i, r in _usable(regions) if _number(r, "length_s")
            and _number(r, "from_s") < file_s
            and _number(r, "from_s") + _number(r, "length_s") > file_s + 1e-9]


def spans(regions: list[dict], rate: int, file_frames: int, crossfade: str,
          join_frames: int) -> list[Span]:
    """The regions (already checked against the file) as they play, in timeline
    order (so their ends are in order too: none lies inside another), with their
    crossfades and fades as edges."""
    out = _placed(regions, rate, file_frames)
    own_fades = _crossfaded(out, file_frames, crossfade, join_frames)
    at = {span.index: k for k, span in enumerate(out)}
    for i, r in enumerate(regions):
        if i in at:
            _fade(out[at[i]], r, rate, *own_fades[at[i]])
    return out


def _placed(regions: list[dict], rate: int, file_frames: int) -> list[Span]:
    """Each usable region's span, its edges and first file sample each rounded by
    :func:`samples`, in timeline order; a region with nothing of the file to play is
    left out."""
    found = []
    for i, r in enumerate(regions):
        at, length = _number(r, "at_s"), _number(r, "length_s")
        start, source = samples(at, rate), samples(_number(r, "from_s"), rate)
        end = max(samples(at + length, rate), start + 1) if length else \
            start + file_frames - source
        end = min(end, start + file_frames - source)
        if end > start:
            found.append(Span(i, start, end, source, db_to_gain(_number(r, "gain_db"))))
    found.sort(key=lambda s: (s.start, s.end))
    return found


def _crossfaded(out: list[Span], file_frames: int, crossfade: str,
                join_frames: int) -> list[tuple[bool, bool]]:
    """Crossfades where neighbours overlap, and where they meet (made by reaching
    into the file beyond each edge); returns, per span, whether its own fade in and
    out still apply (a crossfade replaces them)."""
    lengths = [s.end - s.start for s in out]
    own = [[True, True] for _ in out]
    for k in range(1, len(out)):
        before, after = out[k - 1], out[k]
        same = after.source - before.source == after.start - before.start
        if after.start == before.end and join_frames and not (same and
                                                              after.gain == before.gain):
            # a join: each side reaches into the file beyond its edge by up to half
            # the crossfade, as far as the file has material there, no further than
            # half of either region, and never into a third region's sound
            reach = [join_frames // 2, after.source, lengths[k - 1] // 2, lengths[k] // 2,
                     file_frames - (before.source + before.end - before.start)]
            if k >= 2:
                reach.append(after.start - out[k - 2].end)
            if k + 1 < len(out):
                reach.append(out[k + 1].start - before.end)
            half = min(reach)
            if half > 0:
                before.end += half
                after.start -= half
                after.source -= half
        if after.start < before.end:
            law = "linear" if same or crossfade == "equal_gain" else "equal_power"
            frames = before.end - after.start
            before.edges.append(Edge(after.start, frames, law, rising=False))
            after.edges.append(Edge(after.start, frames, law, rising=True))
            own[k - 1][1] = own[k][0] = False
    return [tuple(o) for o in own]


def _fade(span: Span, region: dict, rate: int, fade_in: bool, fade_out: bool) -> None:
    """A region's own fades as edges of its span (where no crossfade replaced them)."""
    n_in = samples(_number(region, "fade_in_s"), rate)
    n_out = samples(_number(region, "fade_out_s"), rate)
    if n_in and fade_in:
        span.edges.append(Edge(span.start, min(n_in, span.end - span.start),
                               _curve(region, "fade_in_curve"), rising=True))
    if n_out and fade_out:
        n = min(n_out, span.end - span.start)
        span.edges.append(Edge(span.end - n, n, _curve(region, "fade_out_curve"),
                               rising=False))


def length_of(item: dict, file_s: float) -> float:
    """How long a region plays (seconds), its "to the end of the file" worked out."""
    rest = max(0.0, file_s - _number(item, "from_s"))
    return min(_number(item, "length_s"), rest) if _number(item, "length_s") else rest


def extent(regions: list, file_s: float) -> float:
    """Where the last region ends on the timeline (seconds; the file's length where
    no region is usable)."""
    ends = [_number(r, "at_s") + length_of(r, file_s) for _, r in _usable(regions)]
    return max(ends) if ends else file_s


def placed_at(at_s: float) -> list[dict]:
    """The whole file as one region from ``at_s`` on the timeline (the default at 0)."""
    return [{"at_s": float(at_s)}] if at_s else [{}]


def from_offset(offset_s: float, length_s: float) -> list[dict]:
    """Regions for the stem of old, placed by ``offset_s`` (negative: its start cut)
    and cut after ``length_s`` (0: none): the whole file from ``offset_s``, or one
    region of it.  A stem whose length ended before the song's start plays nothing."""
    region: dict = {}
    if offset_s > 0:
        region["at_s"] = float(offset_s)
    elif offset_s < 0:
        region["from_s"] = float(-offset_s)
    if length_s > 0:
        left = round(float(length_s + min(offset_s, 0.0)), 9)   # not 0.19999999999999998
        if left < 1e-6:                                          # under a sample
            return []
        region["length_s"] = left
    return [region]


def describe(item: dict) -> str:
    """A region in an engineer's words: "12.000-20.000 s from 4.000 s of the file,
    -3.0 dB, fade in 0.010 s"."""
    at, src, length = (_number(item, k) for k in ("at_s", "from_s", "length_s"))
    where = f"{at:.3f}-{at + length:.3f} s" if length else f"from {at:.3f} s to the file's end"
    words = [f"{where}, from {src:.3f} s of the file"]
    if _number(item, "gain_db"):
        words.append(f"{_number(item, 'gain_db'):+.1f} dB")
    for side in ("in", "out"):
        n = _number(item, f"fade_{side}_s")
        if n:
            words.append(f"fade {side} {n:.3f} s {_curve(item, f'fade_{side}_curve')}")
    return ", ".join(words)


def alike(a: dict, b: dict) -> float:
    """How alike two regions are, for a diff to tell which became which: the same
    material (where in the file, and its place against the timeline) counts most,
    then the same length and the same place."""
    same = [_rounded(_number(a, k) - _number(b, k)) == 0.0
            for k in ("from_s", "length_s", "at_s")]
    slip = _rounded((_number(a, "from_s") - _number(a, "at_s"))
                    - (_number(b, "from_s") - _number(b, "at_s"))) == 0.0
    return 4 * same[0] + 2 * slip + same[1] + same[2]


def _rounded(seconds: float) -> float:
    """A difference of times as a user would tell it: to the nanosecond (what the
    sums of a drag leave in the last bits is no change)."""
    return round(seconds, 9) + 0.0


def change(before: dict, after: dict) -> str | None:
    """How a region changed, in an engineer's words: moved (on the timeline, its
    material with it), slipped (its material under it), its start or end trimmed,
    its gain or fades changed; None when it did not."""
    b = {k: _number(before, k) for k in ("at_s", "from_s", "length_s")}
    a = {k: _number(after, k) for k in ("at_s", "from_s", "length_s")}
    words = []
    moved = _rounded(a["at_s"] - b["at_s"])
    slipped = _rounded(a["from_s"] - b["from_s"])
    if moved and slipped == moved and b["length_s"] and \
            _rounded(a["length_s"] - b["length_s"] + moved) == 0.0:
        words.append(f"start trimmed {'later' if moved > 0 else 'earlier'} by "
                     f"{abs(moved):.3f} s (now at {a['at_s']:.3f} s)")
    else:
        if moved:
            words.append(f"moved from {b['at_s']:.3f} s to {a['at_s']:.3f} s")
        if slipped:
            words.append(f"slipped in the file from {b['from_s']:.3f} s to "
                         f"{a['from_s']:.3f} s")
        if _rounded(a["length_s"] - b["length_s"]):
            show = {k: f"{v:.3f} s" if v else "the file's end" for k, v in
                    (("b", b["length_s"]), ("a", a["length_s"]))}
            words.append(f"end trimmed from {show['b']} to {show['a']} long"
                         if a["length_s"] and b["length_s"] else
                         f"length from {show['b']} to {show['a']}")
    if _number(after, "gain_db") != _number(before, "gain_db"):
        words.append(f"gain from {_number(before, 'gain_db'):+.1f} dB to "
                     f"{_number(after, 'gain_db'):+.1f} dB")
    for side in ("in", "out"):
        k, c = f"fade_{side}_s", f"fade_{side}_curve"
        if (_number(before, k), _curve(before, c)) != (_number(after, k), _curve(after, c)):
            words.append(f"fade {side} from {_number(before, k):.3f} s {_curve(before, c)} "
                         f"to {_number(after, k):.3f} s {_curve(after, c)}")
    return ", ".join(words) or None


#: a region as the project holds it (the stem's ``regions`` list)
REGION = Items((
    _seconds("at_s", "where the region starts on the song's timeline"),
    _seconds("from_s", "where in the file it starts"),
    _seconds("length_s", "how long it plays (0: to the end of the file)"),
    Param("gain_db", 0.0, min=-120.0, max=24.0, unit="dB", automatable=False,
          doc="the region's own gain, on top of the stem's"),
    _seconds("fade_in_s", "fade in at its start (a crossfade replaces it)", 3600.0),
    Param("fade_in_curve", "equal_power", kind="choice", choices=CURVES,
          doc="shape of the fade in"),
    _seconds("fade_out_s", "fade out at its end (a crossfade replaces it)", 3600.0),
    Param("fade_out_curve", "equal_power", kind="choice", choices=CURVES,
          doc="shape of the fade out"),
), noun="region", max=10000, summary=describe, change=change, alike=alike)
