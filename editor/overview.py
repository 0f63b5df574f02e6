"""The overview (O, View > Overview): the whole graph at a glance, legible.

Dear PyGui's node editor cannot zoom, and the demo's 38 nodes laid out at full size
are 3.6 by 1.5 thousand pixels.  Rather than shrink the canvas until its text is
unreadable, the overview draws a map of its own: each node a labelled box (its id and
type, coloured by kind, red if it has a problem, grey if bypassed, a level bar while
playing), in columns by signal flow as the canvas is arranged, the columns wrapped
into bands when they are more than the window is wide (the master chain then sits
under the mix).  A click on a box goes to that node on the canvas.  ``plan`` is pure
(it places the boxes); :class:`Overview` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import Graph

from .board import HOME_GUESS
from .dialogs import ToggledWindow
from .layout import depths
from .player import meter_line

if TYPE_CHECKING:
    from .app import EditorApp

BOX_W, BOX_H = 138, 36
PITCH_X, PITCH_Y = 160, 46
BAND_GAP = 28
MARGIN = 12
MIN_SCALE = 0.6                  # below this the names would not be legible: scroll
COLOURS = {"sources": (46, 92, 62), "mixing": (112, 84, 40), "eq": (52, 72, 110),
           "dynamics": (52, 72, 110), "space": (70, 60, 110), "pitch": (56, 96, 96),
           "master": (100, 56, 96),
           "meters": (60, 60, 60), "output": (120, 50, 50)}
PROBLEM, BYPASSED, OTHER = (200, 60, 60), (70, 70, 70), (60, 60, 60)


@dataclass
class Box:
    id: str
    type: str
    category: str
    x: float
    y: float
    bypass: bool = False

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x <= self.x + BOX_W and self.y <= y <= self.y + BOX_H


def plan(graph: Graph, width: float) -> tuple[dict[str, Box], list[tuple[str, str]],
                                              tuple[float, float]]:
    """Boxes (at scale 1) for a map ``width`` pixels wide, the node-to-node links, and
    the map's size.  Columns by depth; within a column, each node near the rows of
    what feeds it (fewer crossings); as many columns as fit side by side per band."""
    depth = depths(graph)
    columns: dict[int, list[str]] = {}
    for nid in graph.nodes:
        columns.setdefault(depth.get(nid, 0), []).append(nid)
    feeders: dict[str, list[str]] = {}
    links = sorted({(l.src.node, l.dst.node) for l in graph.links})
    for a, b in links:
        feeders.setdefault(b, []).append(a)
    row: dict[str, float] = {}
    index = {nid: i for i, nid in enumerate(graph.nodes)}
    for d in sorted(columns):
        def key(nid: str) -> tuple[float, int]:
            fed = [row[f] for f in feeders.get(nid, []) if f in row]
            return (sum(fed) / len(fed) if fed else index[nid] / 1000.0, index[nid])
        columns[d].sort(key=key)
        for r, nid in enumerate(columns[d]):
            row[nid] = r
    fit = max(1, int((width - 2 * MARGIN + PITCH_X - BOX_W) // PITCH_X))
    boxes: dict[str, Box] = {}
    top, right = MARGIN, 0.0
    for band in range(0, (max(columns, default=0)) // fit + 1):
        tall = 0
        for d in range(band * fit, (band + 1) * fit):
            for r, nid in enumerate(columns.get(d, [])):
                spec = graph.nodes[nid]
                cls = spec.node_class()
                x = MARGIN + (d - band * fit) * PITCH_X
                boxes[nid] = Box(nid, spec.type, cls.category if cls else "", x,
                                 top + r * PITCH_Y, spec.bypassed)
                right = max(right, x + BOX_W)
            tall = max(tall, len(columns.get(d, [])))
        if tall:
            top += tall * PITCH_Y + BAND_GAP
    if not boxes:
        return boxes, links, (2 * MARGIN, 2 * MARGIN)
    return boxes, links, (right + MARGIN, top - BAND_GAP + MARGIN)


def scaled_plan(graph: Graph, width: float, height: float):
    """``plan`` at the largest scale (at most 1, at least MIN_SCALE) at which the map
    fits ``height``; the scale comes with it.  Wider bands at a smaller scale."""
    scale = 1.0
    for _ in range(3):
        boxes, links, (w, h) = plan(graph, width / scale)
        fitting = max(MIN_SCALE, min(1.0, height / h if h else 1.0))
        if abs(fitting - scale) < 0.01:
            break
        scale = fitting
    return boxes, links, (w, h), scale


class Overview(ToggledWindow):
    tag = "overview"

    def __init__(self, app: EditorApp):
        self.app = app
        self.boxes: dict[str, Box] = {}
        self.scale = 1.0
        self.bars: dict[str, int] = {}          # node id -> its level bar
        self.drawn = None                       # (session, revision, width) drawn for

    def build(self) -> None:
        with dpg.window(tag=self.tag, label="Overview: click a node to go to it "
                        "(O or Escape closes)", show=False, no_collapse=True,
                        horizontal_scrollbar=True):
            dpg.add_drawlist(1, 1, tag="overview_map")

    def toggle(self) -> None:
        """Open over the canvas and the inspector (or close)."""
        if not self.shown:
            x, y = self.app.board.home or HOME_GUESS
            w = dpg.get_viewport_client_width() - 2 * x
            h = dpg.get_viewport_client_height() - y - 30
            dpg.configure_item(self.tag, pos=(int(x), int(y)), width=int(w), height=int(h))
        super().toggle()

    def on_key(self, key) -> bool:
        """O or Escape closes the overview; True if taken."""
        if self.shown and key in (dpg.mvKey_Escape, dpg.mvKey_O):
            dpg.hide_item(self.tag)
            return True
        return False

    def sync(self, force: bool = False) -> None:
        if not (force or self.shown):
            return
        session = self.app.session
        graph = session.graph
        drawn = (id(session), session.revision, dpg.get_item_width(self.tag))
        if drawn == self.drawn and not force:
            return
        self.drawn = drawn
        width = (dpg.get_item_width(self.tag) or 1200) - 24
        height = (dpg.get_item_height(self.tag) or 800) - 48
        self.boxes, links, (w, h), self.scale = scaled_plan(graph, width, height)
        self.draw(links, w, h)

    def draw(self, links: list[tuple[str, str]], w: float, h: float) -> None:
        s = self.scale
        dpg.delete_item("overview_map", children_only=True)
        dpg.configure_item("overview_map", width=int(w * s) + 2, height=int(h * s) + 2)
        problems = self.app.session.problems()
        for a, b in links:
            if a in self.boxes and b in self.boxes:
                p0 = ((self.boxes[a].x + BOX_W) * s, (self.boxes[a].y + BOX_H / 2) * s)
                p3 = (self.boxes[b].x * s, (self.boxes[b].y + BOX_H / 2) * s)
                reach = max(30.0 * s, abs(p3[0] - p0[0]) * 0.4)
                dpg.draw_bezier_cubic(p0, (p0[0] + reach, p0[1]), (p3[0] - reach, p3[1]), p3,
                                      color=(150, 150, 150, 160), thickness=1,
                                      parent="overview_map")
        self.bars = {}
        for box in self.boxes.values():
            x0, y0, x1, y1 = box.x * s, box.y * s, (box.x + BOX_W) * s, (box.y + BOX_H) * s
            fill = BYPASSED if box.bypass else COLOURS.get(box.category, OTHER)
            dpg.draw_rectangle((x0, y0), (x1, y1), fill=fill, color=PROBLEM
                               if box.id in problems else (200, 200, 200, 90),
                               thickness=2 if box.id in problems else 1, rounding=3,
                               parent="overview_map")
            dpg.draw_text((x0 + 5 * s, y0 + 3 * s), _fit(box.id, BOX_W - 10), size=13 * s,
                          color=(240, 240, 240), parent="overview_map")
            dpg.draw_text((x0 + 5 * s, y0 + 18 * s), box.type + (" (bypassed)" if box.bypass
                                                                 else ""),
                          size=11 * s, color=(190, 190, 190), parent="overview_map")
            self.bars[box.id] = dpg.draw_rectangle((x0 + 2, y1 - 4 * s), (x0 + 2, y1 - 1),
                                                   fill=(90, 200, 90), color=(0, 0, 0, 0),
                                                   parent="overview_map")

    def draw_meters(self, readings: dict) -> None:
        """The nodes' levels (while playing) as bars along the boxes' bottom edges."""
        if not self.shown:
            return
        s = self.scale
        for nid, bar in self.bars.items():
            box = self.boxes[nid]
            fill = meter_line(readings[nid])[0] if nid in readings else 0.0
            x0, y1 = box.x * s + 2, (box.y + BOX_H) * s
            dpg.configure_item(bar, pmin=(x0, y1 - 4 * s),
                               pmax=(x0 + fill * (BOX_W * s - 4), y1 - 1))

    def on_release(self) -> None:
        """A click on a box (on its release, so nothing under the overview gets the
        click once it has closed): go to that node on the canvas."""
        if not (self.shown and dpg.is_item_hovered("overview_map")):
            return
        mx, my = dpg.get_mouse_pos(local=False)
        x0, y0 = dpg.get_item_rect_min("overview_map")
        x, y = (mx - x0) / self.scale, (my - y0) / self.scale
        hit = next((b.id for b in self.boxes.values() if b.contains(x, y)), None)
        if hit is not None:
            dpg.hide_item(self.tag)
            self.app.board.go_to(hit)

    def box_centre(self, nid: str) -> tuple[float, float]:
        """Where a node's box is drawn in the viewport (for tests and screenshots)."""
        x0, y0 = dpg.get_item_rect_min("overview_map")
        b = self.boxes[nid]
        return x0 + (b.x + BOX_W / 2) * self.scale, y0 + (b.y + BOX_H / 2) * self.scale


def _fit(text: str, width: float, char: float = 7.0) -> str:
    """``text`` cut with an ellipsis to about ``width`` pixels of the default font."""
    most = int(width // char)
    return text if len(text) <= most else text[:most - 1] + "~"
