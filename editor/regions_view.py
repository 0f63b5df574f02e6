"""The regions strip: a stem's clip regions drawn over its file's waveform, above the
regions' rows in the inspector, and edited with the mouse there.

The strip is the stem's stretch of the song's timeline, from 0 to the end of its last
region.  Each region is a box holding the waveform of the part of the file it plays
(peaks, loudest channel), its gain and fades drawn as a line along its top, its number
in a corner; overlapping regions (a crossfade) overlap on the strip.  With the mouse:

- drag a region to move it on the timeline (its material with it);
- drag one of its edges (within a few pixels) to trim it: the material under the rest
  stays where it was;
- double-click in a region to split it there (the two halves play the same sound).

Each gesture is one edit (one undo step) through the session, as the rows below are;
the rows type exact values.  The waveform is read once per file (in a thread, so a
long file does not hold up the window) and kept while the file is unchanged.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg
import numpy as np

from mixgraph.nodes import regions as rg
from mixgraph.nodes.base import db_to_gain

if TYPE_CHECKING:
    from .app import EditorApp

STRIP_W, STRIP_H = 316, 76
EDGE = 6                          # pixels either side of a region's edge that grab it
BUCKETS = 4096                    # peaks kept per file
TOP = 12                          # room for the ruler above the boxes
SHORTEST_S = 0.01                 # a region trimmed by hand keeps at least this
FILLS = ((52, 92, 140, 110), (140, 96, 52, 110))
WAVES = ((150, 200, 255), (255, 200, 140))


# ================================================================ pure parts
def file_peaks(path: Path, buckets: int = BUCKETS) -> tuple[np.ndarray, float]:
    """The file's peak level (loudest channel) in ``buckets`` equal stretches, and its
    length in seconds, read block by block at the file's own rate."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        frames, rate = f.frames, f.samplerate
        per = max(1, -(-frames // buckets))
        out = np.zeros(-(-frames // per))
        for k, block in enumerate(f.blocks(blocksize=per * 256, dtype="float32",
                                           always_2d=True)):
            loud = np.abs(block).max(axis=1)
            pad = -len(loud) % per
            if pad:
                loud = np.concatenate([loud, np.zeros(pad, dtype=loud.dtype)])
            got = loud.reshape(-1, per).max(axis=1)
            out[k * 256:k * 256 + len(got)] = got
    return out, frames / rate


@dataclass
class Box:
    """A region as the strip draws it: pixels [x0, x1), and the file's seconds at x0."""

    index: int
    x0: float
    x1: float
    from_s: float
    seconds_per_px: float


def boxes(regions: list, file_s: float, width: float,
          shown: float | None = None) -> tuple[list[Box], float]:
    """The boxes of the regions on a strip ``width`` pixels wide, and the seconds the
    strip shows: ``shown``, else the end of the last region (at least a second)."""
    shown = shown or max(rg.extent(regions, file_s), 1.0)
    per_px = shown / width
    out = []
    for i, r in enumerate(regions):
        if not isinstance(r, dict) or rg.REGION.problems([r]):
            continue
        values = rg.REGION.values(r)
        at, length = values["at_s"], rg.length_of(r, file_s)
        out.append(Box(i, at / per_px, (at + length) / per_px, values["from_s"], per_px))
    return out, shown


def column_peaks(peaks: np.ndarray, file_s: float, box: Box) -> np.ndarray:
    """The loudest peak under each pixel column of a box."""
    n = max(1, int(box.x1) - int(box.x0))
    edges = box.from_s + np.arange(n + 1) * box.seconds_per_px
    idx = np.clip((edges / file_s * len(peaks)).astype(int), 0, len(peaks))
    out = np.zeros(n)
    for k in range(n):
        a, b = idx[k], max(idx[k + 1], idx[k] + 1)
        if a < len(peaks):
            out[k] = peaks[a:b].max()
    return out


def grab(found: list[Box], x: float) -> tuple[int, str] | None:
    """What a press at pixel ``x`` takes: (region, "start" | "end" | "body"); an edge
    within :data:`EDGE` pixels wins over a body (the nearest edge; where two meet, the
    one on the side of the press), the later region over the earlier."""
    edges = [(abs(x - at), (x < at) == (side == "end"), b.index, side)
             for b in found for side, at in (("start", b.x0), ("end", b.x1))
             if abs(x - at) <= EDGE]
    if edges:
        _, _, index, side = min(edges, key=lambda e: (e[0], not e[1]))
        return index, side
    for b in reversed(found):
        if b.x0 <= x < b.x1:
            return b.index, "body"
    return None


def _grid(seconds: float, rate: int) -> float:
    """A length of time as whole samples at ``rate`` (what a gesture moves by)."""
    return round(seconds * rate) / rate


def _floor_grid(seconds: float, rate: int) -> float:
    return math.floor(seconds * rate + 1e-6) / rate


def moved(regions: list, i: int, by_s: float, rate: int) -> list:
    """The regions with region ``i`` moved ``by_s`` on the timeline (by whole samples,
    not before 0), its material with it."""
    out = [dict(r) for r in regions]
    at = float(out[i].get("at_s", 0.0))
    out[i]["at_s"] = at + max(_grid(by_s, rate), -_floor_grid(at, rate))
    return out


def trimmed(regions: list, i: int, side: str, by_s: float, file_s: float,
            rate: int) -> list:
    """The regions with region ``i``'s ``side`` ("start" or "end") moved ``by_s`` (by
    whole samples): the material under the rest stays where it was; a region keeps
    at least :data:`SHORTEST_S` and never reaches outside its file or before the
    timeline's start."""
    out = [dict(r) for r in regions]
    r = out[i]
    values = rg.REGION.values(r)
    at, src, length = values["at_s"], values["from_s"], rg.length_of(r, file_s)
    by = _grid(by_s, rate)
    if side == "start":
        by = min(max(by, -_floor_grid(min(src, at), rate)), _floor_grid(length - SHORTEST_S,
                                                                        rate))
        r["at_s"], r["from_s"], r["length_s"] = at + by, src + by, length - by
    else:
        r["length_s"] = min(max(length + by, SHORTEST_S), file_s - src)
    return out


def split(regions: list, i: int, at_s: float, file_s: float, rate: int) -> list:
    """The regions with region ``i`` cut in two at ``at_s`` on the timeline, on a
    sample: the same sound (the halves meet with their material continuous), each
    half keeping its outer fade.  A time outside the region changes nothing."""
    r = regions[i]
    values = rg.REGION.values(r)
    at, src, length = values["at_s"], values["from_s"], rg.length_of(r, file_s)
    cut = _grid(at_s - at, rate)
    if not 0.0 < cut < length:
        return [dict(x) for x in regions]
    first = dict(r, length_s=cut, fade_out_s=0.0)
    second = dict(r, at_s=at + cut, from_s=src + cut, fade_in_s=0.0)
    second["length_s"] = length - cut if values["length_s"] else 0.0
    for part in (first, second):
        for key in ("fade_in_s", "fade_out_s", "length_s"):
            if not part.get(key):
                part.pop(key, None)
    return [dict(x) for x in regions[:i]] + [first, second] + \
        [dict(x) for x in regions[i + 1:]]


# ================================================================== the view
class RegionStrip:
    def __init__(self, app: EditorApp):
        self.app = app
        self.node: str | None = None
        self.tag: str | None = None
        self.file_s = 0.0
        self.shown_s = 1.0
        self.found: list[Box] = []
        self.pressed: tuple | None = None     # (region, side, mouse x, regions then)
        self._peaks: dict[tuple, tuple[np.ndarray, float]] = {}
        self._reading: set[tuple] = set()
        self._fresh = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------ drawing
    def draw(self, nid: str, parent) -> None:
        """The strip of stem ``nid`` (inside ``parent``), with its waveform when read."""
        self.node = nid
        self.tag = f"regions_strip::{nid}"
        if dpg.does_item_exist(self.tag):
            dpg.delete_item(self.tag)
        dpg.add_drawlist(width=STRIP_W, height=STRIP_H, tag=self.tag, parent=parent)
        self.redraw()

    def _file_stamp(self) -> tuple | None:
        """(path, size, mtime) of the stem's file, or None where it has none."""
        spec = self.app.session.graph.nodes.get(self.node)
        if spec is None:
            return None
        reads = spec.with_role("reads")
        value = spec.params.get(reads[0]) if reads else None
        if not value:
            return None
        path = self.app.session.graph.resolve_path(value)
        try:
            st = path.stat()
        except OSError:
            return None
        return path, st.st_size, st.st_mtime_ns

    def _regions(self) -> list:
        return list(self.app.session.graph.nodes[self.node].value(self._name()))

    def redraw(self, preview: list | None = None) -> None:
        if self.tag is None or not dpg.does_item_exist(self.tag):
            return
        dpg.delete_item(self.tag, children_only=True)
        dpg.draw_rectangle((0, 0), (STRIP_W, STRIP_H), fill=(24, 24, 28),
                           color=(70, 70, 70), parent=self.tag)
        key = self._file_stamp()
        with self._lock:
            read = self._peaks.get(key) if key else None
        if key is None:
            dpg.draw_text((6, TOP + 6), "no file", color=(150, 150, 150), size=13,
                          parent=self.tag)
            return
        if read is None:
            self._read(key)
            dpg.draw_text((6, TOP + 6), "reading the waveform ...", color=(150, 150, 150),
                          size=13, parent=self.tag)
            return
        peaks, self.file_s = read
        regions = preview if preview is not None else self._regions()
        self.found, self.shown_s = boxes(regions, self.file_s, STRIP_W,
                                         self.pressed[4] if self.pressed else None)
        self._ruler()
        mid, half = TOP + (STRIP_H - TOP) / 2, (STRIP_H - TOP) / 2 - 3
        for b in self.found:
            fill, wave = FILLS[b.index % 2], WAVES[b.index % 2]
            dpg.draw_rectangle((b.x0, TOP), (b.x1, STRIP_H - 1), fill=fill, color=wave,
                               parent=self.tag)
            cols = column_peaks(peaks, self.file_s, b)
            env = self._envelope(regions[b.index], len(cols))
            for k, (p, g) in enumerate(zip(cols, env)):
                h = min(1.0, p * g) * half
                if h >= 0.5:
                    x = b.x0 + k + 0.5
                    dpg.draw_line((x, mid - h), (x, mid + h), color=wave, parent=self.tag)
            line = [(b.x0 + k + 0.5, STRIP_H - 2 - g * (STRIP_H - TOP - 4))
                    for k, g in enumerate(env)]
            if len(line) > 1:
                dpg.draw_polyline(line, color=(240, 240, 240, 160), parent=self.tag)
            dpg.draw_text((b.x0 + 2, TOP + 1), str(b.index), color=(230, 230, 230),
                          size=12, parent=self.tag)

    def _ruler(self) -> None:
        step = next(s for s in (0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 1e9)
                    if self.shown_s / s <= 8)
        t = 0.0
        while t <= self.shown_s:
            x = t / self.shown_s * STRIP_W
            dpg.draw_line((x, 0), (x, TOP - 2), color=(120, 120, 120), parent=self.tag)
            dpg.draw_text((x + 2, -1), f"{t:g}", color=(140, 140, 140), size=11,
                          parent=self.tag)
            t += step

    def _envelope(self, region: dict, n: int) -> np.ndarray:
        """The region's gain (its own and its fades) across ``n`` columns, 0..1 of
        full height at 0 dB (crossfades are heard, not drawn)."""
        v = rg.REGION.values(region)
        length = max(rg.length_of(region, self.file_s), 1e-9)
        t = (np.arange(n) + 0.5) / max(n, 1) * length
        g = np.full(n, db_to_gain(v["gain_db"]))
        for side, where in (("in", t), ("out", length - t)):
            fade = v[f"fade_{side}_s"]
            if fade > 0:
                g *= np.where(where < fade, rg.shape(v[f"fade_{side}_curve"],
                                                     np.clip(where / fade, 0, 1)), 1.0)
        return np.minimum(g, 1.0)

    def _read(self, key: tuple) -> None:
        if key in self._reading:
            return
        self._reading.add(key)

        def work():
            try:
                found = file_peaks(key[0])
            except Exception:                      # unreadable: validation says why
                found = (np.zeros(1), 1.0)
            with self._lock:
                self._peaks[key] = found
                self._fresh = True                 # drawn by the next frame's tick

        threading.Thread(target=work, daemon=True, name="waveform").start()

    # -------------------------------------------------------------- mouse
    def _mouse_x(self) -> float | None:
        if self.tag is None or not dpg.does_item_exist(self.tag) \
                or not dpg.is_item_visible(self.tag):
            return None
        mx, my = dpg.get_mouse_pos(local=False)
        x0, y0 = dpg.get_item_rect_min(self.tag)
        if 0 <= mx - x0 <= STRIP_W and 0 <= my - y0 <= STRIP_H:
            return mx - x0
        return None

    def tick(self) -> None:
        """Once a frame: a press, drag, release or double-click on the strip."""
        if self.node is None or self.node not in self.app.session.graph.nodes:
            self.node, self.tag, self.pressed = None, None, None
            return
        with self._lock:
            fresh, self._fresh = self._fresh, False
        if fresh:
            self.redraw()
        down = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if self.pressed is None:
            x = self._mouse_x()
            if x is None:
                return
            if dpg.is_mouse_button_double_clicked(dpg.mvMouseButton_Left):
                self.split_at(x)
            elif down and dpg.is_mouse_button_clicked(dpg.mvMouseButton_Left):
                found = grab(self.found, x)
                if found is not None:          # the scale holds still while dragging
                    self.pressed = (*found, x, self._regions(), self.shown_s)
        elif down:
            self.redraw(self._dragged())
        else:
            after = self._dragged()
            i, side, _, before, _ = self.pressed
            self.pressed = None
            if after != before:
                what = "move" if side == "body" else f"trim the {side} of"
                self._edit(after, f"{what} region {i} of {self.node}")
            self.redraw()

    def _edit(self, regions: list, label: str) -> None:
        """One gesture's regions as an edit, if they fit the file (a region moved
        onto one that plays to the file's end is refused here, with the file known,
        not at the next render)."""
        wrong = rg.problems(regions, self.file_s)
        if wrong:
            self.app.status(f"{self.node}: regions: {wrong[0]}", error=True)
            return
        self.app.edit(self.app.session.gesture, self.node, self._name(), regions, label)

    @property
    def rate(self) -> int:
        return self.app.session.graph.sample_rate

    def _name(self) -> str:
        return self.app.session.graph.nodes[self.node].node_class().with_role("regions")[0]

    def _dragged(self) -> list:
        i, side, x_then, before, shown = self.pressed
        mx, _ = dpg.get_mouse_pos(local=False)
        by = (mx - dpg.get_item_rect_min(self.tag)[0] - x_then) * shown / STRIP_W
        if by == 0:                                  # a click, not a drag
            return before
        if side == "body":
            return moved(before, i, by, self.rate)
        return trimmed(before, i, side, by, self.file_s, self.rate)

    def split_at(self, x: float) -> None:
        regions = self._regions()
        for b in reversed(self.found):
            if b.x0 < x < b.x1:
                after = split(regions, b.index, x * self.shown_s / STRIP_W, self.file_s,
                              self.rate)
                if after != regions:
                    self._edit(after, f"split region {b.index} of {self.node}")
                return
