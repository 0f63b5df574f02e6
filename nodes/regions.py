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
a region sounds the same whatever the block size.  Nothing here reads a file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .base import Items, Param, db_to_gain

CURVES = ("linear", "equal_power", "s_curve")
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
    with the file's length ``file_s``, spans outside the file.  Without it, a region
    that plays to the end of the file has no known end and its overlaps wait for the
    file."""
    out = []
    timed = []
    for i, r in _usable(regions):
        at, src, length = _number(r, "at_s"), _number(r, "from_s"), _number(r, "length_s")
        if file_s is not None:
            if src >= file_s:
                out.append(f"region {i} starts at {src:.3f} s of the file, which is only "
                           f"{file_s:.3f} s long")
                continue
            if length and src + length > file_s + 1e-9:
                out.append(f"region {i} runs to {src + length:.3f} s of the file, past its "
                           f"end at {file_s:.3f} s")
                continue
            length = length or file_s - src
        fades = _number(r, "fade_in_s") + _number(r, "fade_out_s")
        if length and fades > length + 1e-9:
            out.append(f"region {i}'s fades ({_number(r, 'fade_in_s'):g} s in, "
                       f"{_number(r, 'fade_out_s'):g} s out) are longer than the region "
                       f"({length:g} s)")
        if length:
            timed.append((at, at + length, i))
    timed.sort()
    for k in range(1, len(timed)):
        a0, b0, i0 = timed[k - 1]
        a1, b1, i1 = timed[k]
        if b1 <= b0 or a1 == a0:
            inner, outer = ((i1, a1, b1), (i0, a0, b0)) if b1 <= b0 else \
                ((i0, a0, b0), (i1, a1, b1))
            out.append(f"{_describe(*inner)} lies inside {_describe(*outer)}; regions may "
                       "overlap only partly (a crossfade)")
        elif k >= 2 and a1 < timed[k - 2][1]:
            out.append(f"regions {timed[k - 2][2]}, {i0} and {i1} all sound at {a1:.3f} s; "
                       "at most two regions overlap at a time (a crossfade)")
    return out


def check(regions) -> list[str]:
    """The regions' rules that need no file (the parameter's own check)."""
    return problems(regions)


def spans(regions: list[dict], rate: int, file_frames: int, crossfade: str,
          join_frames: int) -> list[Span]:
    """The regions (already checked against the file) as they play, in timeline
    order, with their fades and crossfades as edges."""
    found = []
    for i, r in enumerate(regions):
        start = int(round(_number(r, "at_s") * rate))
        source = int(round(_number(r, "from_s") * rate))
        length = int(round(_number(r, "length_s") * rate)) or file_frames - source
        length = min(length, file_frames - source)
        if length <= 0:
            continue
        found.append((start, start + length, source, i, r))
    found.sort(key=lambda s: (s[0], s[1]))
    out = [Span(i, a, b, src, db_to_gain(_number(r, "gain_db"))) for a, b, src, i, r in found]
    lengths = [s.end - s.start for s in out]
    fades_in = [True] * len(out)
    fades_out = [True] * len(out)
    for k in range(1, len(out)):
        before, after = out[k - 1], out[k]
        same = after.source - before.source == after.start - before.start
        if after.start == before.end and join_frames and not same:
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
            fades_out[k - 1] = fades_in[k] = False
    by_index = {s.index: s for s in out}
    for i, r in enumerate(regions):
        s = by_index.get(i)
        if s is None:
            continue
        n_in = int(round(_number(r, "fade_in_s") * rate))
        n_out = int(round(_number(r, "fade_out_s") * rate))
        k = out.index(s)
        if n_in and fades_in[k]:
            s.edges.append(Edge(s.start, min(n_in, s.end - s.start), _curve(r, "fade_in_curve"),
                                rising=True))
        if n_out and fades_out[k]:
            n = min(n_out, s.end - s.start)
            s.edges.append(Edge(s.end - n, n, _curve(r, "fade_out_curve"), rising=False))
    return out


def length_of(item: dict, file_s: float) -> float:
    """How long a region plays (seconds), its "to the end of the file" worked out."""
    return _number(item, "length_s") or max(0.0, file_s - _number(item, "from_s"))


def extent(regions: list, file_s: float) -> float:
    """Where the last region ends on the timeline (seconds; the file's length where
    no region is usable)."""
    ends = [_number(r, "at_s") + length_of(r, file_s) for _, r in _usable(regions)]
    return max(ends) if ends else file_s


def _ms(x: float) -> float:
    return round(max(0.0, x), 3)


def moved(regions: list, i: int, by_s: float) -> list:
    """The regions with region ``i`` moved ``by_s`` on the timeline (not before 0),
    its material with it; times to the millisecond, as a hand places them."""
    out = [dict(r) for r in regions]
    out[i]["at_s"] = _ms(_number(out[i], "at_s") + by_s)
    return out


def trimmed(regions: list, i: int, side: str, by_s: float, file_s: float) -> list:
    """The regions with region ``i``'s ``side`` ("start" or "end") moved ``by_s``: the
    material under the rest stays where it was; a region keeps at least 10 ms and
    never reaches outside its file or before the timeline's start."""
    out = [dict(r) for r in regions]
    r = out[i]
    at, src, length = _number(r, "at_s"), _number(r, "from_s"), length_of(r, file_s)
    if side == "start":
        by_s = min(max(by_s, -src, -at), length - 0.01)
        r["at_s"], r["from_s"] = _ms(at + by_s), _ms(src + by_s)
        r["length_s"] = _ms(length - by_s)
    else:
        r["length_s"] = _ms(min(max(length + by_s, 0.01), file_s - src))
    return out


def split(regions: list, i: int, at_s: float, file_s: float, rate: int) -> list:
    """The regions with region ``i`` cut in two at ``at_s`` on the timeline, on a
    sample at ``rate``: the same sound (the halves meet with their material
    continuous), each half keeping its outer fade.  A time outside the region
    changes nothing."""
    r = regions[i]
    at, src, length = _number(r, "at_s"), _number(r, "from_s"), length_of(r, file_s)
    cut = round((at_s - at) * rate) / rate
    if not 0.0 < cut < length:
        return [dict(x) for x in regions]
    first = dict(r, length_s=cut, fade_out_s=0.0)
    second = dict(r, at_s=at + cut, from_s=src + cut, fade_in_s=0.0)
    second["length_s"] = length - cut if _number(r, "length_s") else 0.0
    for part in (first, second):
        for key in ("fade_in_s", "fade_out_s", "length_s"):
            if not part.get(key):
                part.pop(key, None)
    return [dict(x) for x in regions[:i]] + [first, second] + \
        [dict(x) for x in regions[i + 1:]]


def placed_at(at_s: float) -> list[dict]:
    """The whole file as one region from ``at_s`` on the timeline (the default at 0)."""
    return [{"at_s": float(at_s)}] if at_s else list(WHOLE_FILE)


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
        left = length_s + min(offset_s, 0.0)
        if left <= 0:
            return []
        region["length_s"] = round(float(left), 9)       # no 0.19999999999999998
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


def change(before: dict, after: dict) -> str | None:
    """How a region changed, in an engineer's words: moved (on the timeline, its
    material with it), slipped (its material under it), its start or end trimmed,
    its gain or fades changed; None when it did not."""
    b = {k: _number(before, k) for k in ("at_s", "from_s", "length_s")}
    a = {k: _number(after, k) for k in ("at_s", "from_s", "length_s")}
    words = []
    moved = a["at_s"] - b["at_s"]
    slipped = a["from_s"] - b["from_s"]
    if moved and slipped == moved and b["length_s"] and \
            a["length_s"] == b["length_s"] - moved:
        words.append(f"start trimmed {'later' if moved > 0 else 'earlier'} by "
                     f"{abs(moved):.3f} s (now at {a['at_s']:.3f} s)")
    else:
        if moved:
            words.append(f"moved from {b['at_s']:.3f} s to {a['at_s']:.3f} s")
        if slipped:
            words.append(f"slipped in the file from {b['from_s']:.3f} s to "
                         f"{a['from_s']:.3f} s")
        if a["length_s"] != b["length_s"]:
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
), noun="region", max=10000, summary=describe, change=change)
