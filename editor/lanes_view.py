"""Automation lanes (View > Automation lanes, or a node's lanes in the inspector): a
parameter's automation (or a node's bypass) drawn along the song, over the node's
signal and its level after a render, edited with the mouse and the keyboard, and
ridden while playing.

Each lane is a strip: a header (the lane's name, its curve, its record mode, a ride
control) and a drawlist with the song's time across.  In a lane:

- double-click: a point there (snapped to the grid); a click on a point selects it
  (Shift: adds it), a drag moves the selected points (one undo step when let go); a
  drag on empty space selects the points in its box; a right-click on a point
  deletes it; Delete deletes the selection; Ctrl+C copies it and Ctrl+V pastes it
  where the mouse is, in the lane under it (this one or another);
- the point selected alone can be typed (its time and value) in the row on top;
- record (latch or touch) and Play: moving the lane's ride control (or the mixer's
  fader of that parameter) is heard at once and written when playing stops, thinned
  to the fewest points that stay within 0.1 dB (or the unit's equivalent) of what
  was heard; touch writes while the control is held, latch until Stop.

The edits themselves are :mod:`.lanes` (pure) and ``Session.set_automation``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import dearpygui.dearpygui as dpg
import numpy as np

from mixgraph.nodes.automation import Automation

from . import lanes
from .dialogs import ToggledWindow, shift_down
from .rides import Rides
from .signals import measure_signals

if TYPE_CHECKING:
    from .app import EditorApp

HEADER_W = 200
LANE_H = 96
PAD = 6
HIT = 7                                     # pixels from a point that still hit it
MODES = ("off", "latch", "touch")
CURVE, POINT, SELECTED = (240, 200, 80), (240, 200, 80), (255, 255, 255)
WAVE, LEVEL = (90, 90, 100), (90, 200, 120)


@dataclass
class Lane:
    node: str
    name: str
    mode: str = "off"
    selected: set[int] = field(default_factory=set)
    draft: list | None = None               # points being dragged (not yet an edit)
    riding: bool = False                    # the control is being moved (touch)
    released_s: float | None = None         # where a touch ride was let go
    known: list | None = None               # the points the selection refers to

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.name)

    @property
    def tag(self) -> str:
        return f"lane::{self.node}::{self.name}"


class LaneState(NamedTuple):
    points: list                 # [time s, value]
    curve: str
    fixed: float                 # the value with no points
    lo: float                    # the range drawn
    hi: float
    unit: str


class LanesView(ToggledWindow):
    tag = "lanes"

    def __init__(self, app: EditorApp):
        self.app = app
        self.lanes: list[Lane] = []
        self.grid = 0.0
        self.clip: list = []
        self.song_s = 10.0
        self.signals: dict[str, dict] = {}        # node -> envelope and level (a render)
        self.pressed: tuple | None = None         # (lane, mouse x, y, point hit or None)
        self.box: int | None = None               # the box being drawn (a drag on empty)
        self.playhead_s: float | None = None
        self.rides = Rides(app, self)
        self.measuring: threading.Thread | None = None
        self._asked = 0                           # the newest measure() asked for
        self._measured: tuple | None = None       # (asked, song s, signals), to take

    # ================================================================= window
    def build(self) -> None:
        with dpg.window(tag=self.tag, label="Automation lanes", show=False, no_collapse=True,
                        width=1000, height=320):
            with dpg.group(horizontal=True):
                dpg.add_text("snap")
                dpg.add_combo([g for g, _ in lanes.grids(self.app.session.graph)],
                              tag="lanes_grid", default_value="off", width=80,
                              callback=lambda s, v: self.set_grid(v))
                dpg.add_text("  point:")
                dpg.add_input_float(tag="lanes_time", label="s", width=90, step=0,
                                    format="%.3f", on_enter=True, enabled=False,
                                    callback=lambda: self.type_point())
                dpg.add_input_float(tag="lanes_value", label="", width=90, step=0,
                                    format="%.2f", on_enter=True, enabled=False,
                                    callback=lambda: self.type_point())
                dpg.add_text("", tag="lanes_note", color=(150, 150, 150))
            self.app.text_inputs.update({dpg.get_alias_id("lanes_time"),
                                         dpg.get_alias_id("lanes_value")})
            dpg.add_child_window(tag="lanes_body", border=False)
        with dpg.theme(tag="armed_theme"):
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (150, 40, 40))

    def toggle(self) -> None:
        if not self.shown:
            self.place()
        super().toggle()

    def place(self) -> None:
        """Along the bottom of the window, over the canvas."""
        w = dpg.get_viewport_client_width() - 16
        h = min(140 + LANE_H * 3, dpg.get_viewport_client_height() // 2)
        dpg.configure_item(self.tag, pos=(8, dpg.get_viewport_client_height() - h - 30),
                           width=w, height=h)

    @property
    def width(self) -> int:
        """The drawn timeline's width in pixels."""
        return max(200, (dpg.get_item_width(self.tag) or 1000) - HEADER_W - 40)

    def open_lane(self, node: str, name: str) -> None:
        """Show a lane (opening the window); the song length and the signal measured."""
        if not any(l.key == (node, name) for l in self.lanes):
            self.lanes.append(Lane(node, name))
        if not self.shown:
            self.place()
            dpg.show_item(self.tag)
        self.sync(force=True)
        self.measure()

    def close_lane(self, key: tuple[str, str]) -> None:
        self.lanes = [l for l in self.lanes if l.key != key]
        self.sync(force=True)

    def reset(self) -> None:
        """Another project: no lanes, signals or clip of the last one."""
        self.lanes, self.signals, self.clip, self.rides.engine = [], {}, [], None
        self._asked += 1                          # a measure under way is of the last one
        self.song_s = 10.0
        self.sync(force=True)

    def set_grid(self, label: str) -> None:
        self.grid = dict(lanes.grids(self.app.session.graph)).get(label, 0.0)

    # ================================================================= drawing
    def sync(self, force: bool = False) -> None:
        """Redraw the lanes (only while the window shows); lanes of nodes gone (or no
        longer of a kind that has them) closed; a selection the points changed under
        dropped."""
        graph = self.app.session.graph
        self.lanes = [l for l in self.lanes if l.node in graph.nodes
                      and l.name in lanes.automatable(graph, l.node)]
        for lane in self.lanes:
            now = lanes.points_of(lanes.lane_value(graph, lane.node, lane.name))[0]
            if lane.known != now:
                lane.selected, lane.known = set(), now
        if not dpg.does_item_exist("lanes_body") or not (force or self.shown):
            return
        dpg.configure_item("lanes_grid", items=[g for g, _ in lanes.grids(graph)])
        dpg.delete_item("lanes_body", children_only=True)
        for lane in self.lanes:
            self.draw_lane(lane)
        if not self.lanes:
            dpg.add_text("no lanes open: a node's lanes are in the inspector (Lanes:), or "
                         "Shift+click a control", parent="lanes_body", color=(150, 150, 150))
        self.show_point()

    def lane_state(self, lane: Lane) -> LaneState:
        """A lane as it is (being dragged: its draft points)."""
        graph = self.app.session.graph
        value = lanes.lane_value(graph, lane.node, lane.name)
        points, curve = lanes.points_of(value)
        fixed = float(value) if not isinstance(value, dict) else \
            (points[0][1] if points else 0.0)
        if lane.name == lanes.BYPASS:
            curve = "step"
        lo, hi, unit = lanes.lane_range(graph, lane.node, lane.name)
        return LaneState(lane.draft if lane.draft is not None else points, curve, fixed,
                         lo, hi, unit)

    def draw_lane(self, lane: Lane) -> None:
        points, curve, fixed, lo, hi, unit = self.lane_state(lane)
        with dpg.group(horizontal=True, parent="lanes_body"):
            with dpg.child_window(width=HEADER_W, height=LANE_H + 8, border=True):
                dpg.add_text(f"{lane.node}.{lane.name}" + (f" ({unit})" if unit else ""))
                with dpg.group(horizontal=True):
                    if lane.name != lanes.BYPASS:
                        dpg.add_combo(("linear", "exponential", "step"), default_value=curve,
                                      width=90, user_data=lane.key,
                                      callback=lambda s, v, u: self.set_curve(u, v))
                    dpg.add_button(label="x", user_data=lane.key,
                                   callback=lambda s, a, u: self.close_lane(u))
                if lane.name != lanes.BYPASS:         # off -> latch -> touch -> off
                    dpg.add_button(label=f"rec: {lane.mode}", tag=f"{lane.tag}::mode",
                                   width=-1, user_data=lane.key,
                                   callback=lambda s, a, u: self.next_mode(u))
                    if lane.mode != "off":
                        dpg.bind_item_theme(dpg.last_item(), "armed_theme")
                if lane.name != lanes.BYPASS:         # fine: a pixel is the tolerance
                    step = self.app.session.graph.node(lane.node).node_class() \
                        .param_table()[lane.name].ride_tolerance()
                    dpg.add_drag_float(tag=f"{lane.tag}::ride", width=-1, min_value=lo,
                                       max_value=hi, clamped=True, speed=step,
                                       format=f"ride %.{2 if step < 0.1 else 1}f",
                                       default_value=lanes.value_at(
                                           points, curve, fixed, self.playhead_s or 0.0),
                                       user_data=lane.key,
                                       callback=lambda s, v, u: self.rides.ride(u, v))
            with dpg.drawlist(width=self.width, height=LANE_H, tag=lane.tag):
                self.draw_timeline(lane, points, curve, fixed, lo, hi)

    def x_of(self, t: float) -> float:
        return t / self.song_s * self.width

    def t_of(self, x: float) -> float:
        return max(0.0, x / self.width * self.song_s)

    @staticmethod
    def y_of(v: float, lo: float, hi: float) -> float:
        frac = (min(hi, max(lo, v)) - lo) / (hi - lo) if hi > lo else 0.5
        return PAD + (1.0 - frac) * (LANE_H - 2 * PAD)

    @staticmethod
    def v_of(y: float, lo: float, hi: float) -> float:
        frac = 1.0 - (y - PAD) / (LANE_H - 2 * PAD)
        return lo + min(1.0, max(0.0, frac)) * (hi - lo)

    def draw_timeline(self, lane: Lane, points, curve, fixed, lo, hi) -> None:
        w, tag = self.width, lane.tag
        dpg.draw_rectangle((0, 0), (w, LANE_H), fill=(28, 28, 32), color=(70, 70, 70),
                           parent=tag)
        signal = self.signals.get(lane.node)
        if signal is not None:                   # the node's signal and level, rendered
            peaks, levels = signal["peak"], signal["level_db"]
            xs = np.linspace(0, w, len(peaks), endpoint=False)
            half = peaks * (LANE_H / 2 - PAD)     # its outline (two lines, not one a pixel)
            for edge in (LANE_H / 2 - half, LANE_H / 2 + half):
                dpg.draw_polyline(list(zip(xs, edge)), color=WAVE, parent=tag)
            level = [(x, self.y_of(v, -60.0, 0.0)) for x, v in zip(xs, levels)]
            dpg.draw_polyline(level, color=LEVEL, parent=tag)
            dpg.draw_text((w - 70, 2), "level 0 dBFS", size=11, color=LEVEL, parent=tag)
            dpg.draw_text((w - 30, LANE_H - 14), "-60", size=11, color=LEVEL, parent=tag)
        if self.grid > 0 and self.x_of(self.grid) >= 6:
            t = 0.0
            while t <= self.song_s:
                x = self.x_of(t)
                dpg.draw_line((x, 0), (x, LANE_H), color=(50, 50, 60), parent=tag)
                t += self.grid
        ts = np.linspace(0.0, self.song_s, max(2, w // 2))
        values = Automation(points, curve).at_seconds(ts) if points else np.full(len(ts), fixed)
        dpg.draw_polyline([(self.x_of(t), self.y_of(v, lo, hi)) for t, v in zip(ts, values)],
                          color=CURVE, thickness=2, parent=tag)
        for i, (t, v) in enumerate(points):
            x, y = self.x_of(t), self.y_of(v, lo, hi)
            chosen = i in lane.selected
            dpg.draw_rectangle((x - 4, y - 4), (x + 4, y + 4), color=SELECTED if chosen
                               else POINT, fill=SELECTED if chosen else (28, 28, 32),
                               parent=tag)
        dpg.draw_text((4, 2), f"{hi:g}", size=11, color=(150, 150, 150), parent=tag)
        dpg.draw_text((4, LANE_H - 14), f"{lo:g}", size=11, color=(150, 150, 150),
                      parent=tag)
        dpg.draw_line((0, 0), (0, LANE_H), color=(220, 60, 60), thickness=2,
                      tag=f"{tag}::playhead", show=self.playhead_s is not None, parent=tag)

    def show_playhead(self, song_s: float | None) -> None:
        self.playhead_s = song_s
        for lane in self.lanes:
            tag = f"{lane.tag}::playhead"
            if dpg.does_item_exist(tag):
                x = self.x_of(song_s or 0.0)
                dpg.configure_item(tag, p1=(x, 0), p2=(x, LANE_H), show=song_s is not None)

    def show_point(self) -> None:
        """The selected point's time and value in the typing row (one point only)."""
        one = [(l, next(iter(l.selected))) for l in self.lanes if len(l.selected) == 1]
        ok = len(one) == 1 and sum(len(l.selected) for l in self.lanes) == 1
        for tag in ("lanes_time", "lanes_value"):
            dpg.configure_item(tag, enabled=ok)
        if ok:
            lane, i = one[0]
            points = self.lane_state(lane)[0]
            if i < len(points):
                dpg.set_value("lanes_time", points[i][0])
                dpg.set_value("lanes_value", points[i][1])

    # ================================================================= edits
    def commit(self, lane: Lane, points: list, what: str, curve: str | None = None) -> bool:
        """The lane's new points as one edit (a bypass lane's each 0 or 1); the
        selection stays with them.  False if the project refused it."""
        _, old_curve, fixed, *_ = self.lane_state(lane)
        lane.draft = None
        if lane.name == lanes.BYPASS:
            points = lanes.on_off(points)
        session = self.app.session
        before, known = len(session.undo_stack), lane.known
        lane.known = [list(p) for p in points]       # (the edit redraws the lanes)
        self.app.edit(session.set_automation, lane.node, lane.name, points,
                      curve or old_curve, fixed, f"{what} on {lane.node}.{lane.name}")
        done = len(session.undo_stack) != before
        if not done:
            lane.known = known
        self.sync(force=True)
        return done

    def edit_range(self, lane: Lane) -> tuple[float, float]:
        """The lowest and highest value an edit may give the lane (the parameter's
        own range, wider than what a fader lane draws)."""
        lo, hi, _ = lanes.value_range(self.app.session.graph, lane.node, lane.name)
        return lo, hi

    def set_curve(self, key, curve: str) -> None:
        lane = self.find(key)
        points = self.lane_state(lane)[0]
        if points:
            self.commit(lane, points, f"{curve} curve", curve=curve)
        else:
            self.sync(force=True)

    def next_mode(self, key) -> None:
        """The lane's record mode, in turn: off, latch (writes until Stop), touch
        (writes while the control is held).  A ride is written as straight lines, so
        only a linear lane (or one with no points yet) records."""
        lane = self.find(key)
        points, curve, *_ = self.lane_state(lane)
        if lane.mode == "off" and points and curve != "linear":
            self.app.status(f"{lane.node}.{lane.name} is a {curve} lane: a ride is written "
                            "as straight lines, so make the lane linear to record on it",
                            error=True)
            return
        lane.mode = MODES[(MODES.index(lane.mode) + 1) % len(MODES)]
        if lane.mode != "off" and self.rides.engine is not None:   # armed while playing
            self.rides.engine.record(lane.node, lane.name)
        self.sync(force=True)

    def type_point(self) -> None:
        """The selected point moved to the time and value typed (the value kept in the
        parameter's whole range)."""
        lane = next((l for l in self.lanes if len(l.selected) == 1), None)
        if lane is None:
            return
        points, *_ = self.lane_state(lane)
        i = next(iter(lane.selected))
        self.commit(lane, lanes.set_point(points, i, dpg.get_value("lanes_time"),
                                          dpg.get_value("lanes_value"),
                                          *self.edit_range(lane)), "point typed")

    def find(self, key) -> Lane:
        return next(l for l in self.lanes if l.key == tuple(key))

    # ================================================================= mouse
    def hovered(self) -> tuple[Lane, float, float] | None:
        """The lane under the mouse and the mouse's place in it (pixels)."""
        if not self.shown:
            return None
        mx, my = dpg.get_mouse_pos(local=False)
        for lane in self.lanes:
            if dpg.does_item_exist(lane.tag) and dpg.is_item_visible(lane.tag):
                x0, y0 = dpg.get_item_rect_min(lane.tag)
                if 0 <= mx - x0 <= self.width and 0 <= my - y0 <= LANE_H:
                    return lane, mx - x0, my - y0
        return None

    def hit(self, lane: Lane, x: float, y: float) -> int | None:
        points, _, _, lo, hi, _ = self.lane_state(lane)
        best = None
        for i, (t, v) in enumerate(points):
            d = max(abs(self.x_of(t) - x), abs(self.y_of(v, lo, hi) - y))
            if d <= HIT and (best is None or d < best[0]):
                best = (d, i)
        return None if best is None else best[1]

    def tick(self) -> None:
        """Once a frame: presses, drags and releases in the lanes; the playhead; a
        measure finished."""
        if self._measured is not None:
            self.take_measured()
        if not self.shown:
            return
        down = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if down and self.pressed is None and dpg.is_mouse_button_clicked(
                dpg.mvMouseButton_Left):
            self.press()
        elif down and self.pressed is not None:
            self.drag()
        elif not down and self.pressed is not None:
            self.release()
        engine = self.app.playback.player.engine
        self.show_playhead(engine.position_s if engine is not None else None)
        self.rides.check_touch()

    def press(self) -> None:
        found = self.hovered()
        if found is None:
            return
        lane, x, y = found
        i = self.hit(lane, x, y)
        shift = shift_down()
        if i is not None:
            if shift:
                lane.selected ^= {i}
            elif i not in lane.selected:
                self.select_only(lane, {i})
        self.pressed = (lane, x, y, i)
        self.box = None

    def select_only(self, lane: Lane, chosen: set[int]) -> None:
        for other in self.lanes:
            other.selected = set()
        lane.selected = set(chosen)

    def drag(self) -> None:
        lane, x0, y0, i = self.pressed
        mx, my = dpg.get_mouse_pos(local=False)
        if not dpg.does_item_exist(lane.tag):
            return
        rx, ry = dpg.get_item_rect_min(lane.tag)
        x, y = mx - rx, my - ry
        if i is None:                              # a box on empty space
            if abs(x - x0) + abs(y - y0) > 4:
                if self.box is not None and dpg.does_item_exist(self.box):
                    dpg.delete_item(self.box)
                self.box = dpg.draw_rectangle((x0, y0), (x, y), color=(200, 200, 255),
                                              parent=lane.tag)
            return
        if abs(x - x0) + abs(y - y0) < 2 and lane.draft is None:
            return
        points = lanes.points_of(lanes.lane_value(self.app.session.graph, lane.node,
                                                  lane.name))[0]
        _, _, _, lo, hi, _ = self.lane_state(lane)
        dt = (x - x0) / self.width * self.song_s
        dv = self.v_of(y, lo, hi) - self.v_of(y0, lo, hi)
        lane.draft = lanes.move_points(points, sorted(lane.selected), dt, dv,
                                       *self.edit_range(lane), self.grid)
        self.redraw(lane)

    def release(self) -> None:
        lane, x0, y0, i = self.pressed
        self.pressed = None
        if lane.draft is not None:
            self.commit(lane, lane.draft, "move points")
            return
        if i is None:
            self.select_in_box(lane, x0, y0)

    def select_in_box(self, lane: Lane, x0: float, y0: float) -> None:
        if self.box is not None and dpg.does_item_exist(self.box):
            dpg.delete_item(self.box)
        self.box = None
        mx, my = dpg.get_mouse_pos(local=False)
        rx, ry = dpg.get_item_rect_min(lane.tag)
        x1, y1 = mx - rx, my - ry
        shift = shift_down()
        points, _, _, lo, hi, _ = self.lane_state(lane)
        inside = {k for k, (t, v) in enumerate(points)
                  if min(x0, x1) <= self.x_of(t) <= max(x0, x1)
                  and min(y0, y1) <= self.y_of(v, lo, hi) <= max(y0, y1)}
        if shift:
            lane.selected |= inside
        else:
            self.select_only(lane, inside)
        self.redraw(lane)

    def on_double_click(self) -> None:
        """A point where the lane was double-clicked (snapped to the grid)."""
        found = self.hovered()
        if found is None:
            return
        lane, x, y = found
        if self.hit(lane, x, y) is not None:
            return
        points, curve, fixed, lo, hi, _ = self.lane_state(lane)
        v = self.v_of(y, lo, hi)
        if lane.name == lanes.BYPASS:
            v = float(round(v))
        new, i = lanes.add_point(points, lanes.snap(self.t_of(x), self.grid), v)
        self.select_only(lane, {i})
        self.commit(lane, new, "add point")

    def on_right_click(self) -> bool:
        """A right-click on a point deletes it; True if the click was in a lane."""
        found = self.hovered()
        if found is None:
            return False
        lane, x, y = found
        i = self.hit(lane, x, y)
        if i is not None:
            points = self.lane_state(lane)[0]
            lane.selected = set()
            self.commit(lane, lanes.delete_points(points, [i]), "delete point")
        return True

    def redraw(self, lane: Lane) -> None:
        if dpg.does_item_exist(lane.tag):
            dpg.delete_item(lane.tag, children_only=True)
            self.draw_timeline(lane, *self.lane_state(lane)[:5])
        self.show_point()

    # ================================================================= keys
    def on_key(self, key) -> bool:
        """Delete, Ctrl+C and Ctrl+V over the lanes; True if taken."""
        if not self.shown or self.hovered() is None and dpg.get_active_window() not in (
                dpg.get_alias_id(self.tag), self.tag):
            return False
        if any(dpg.is_item_active(t) for t in ("lanes_time", "lanes_value")):
            return False
        ctrl = dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        chosen = [l for l in self.lanes if l.selected]
        if key == dpg.mvKey_Delete and chosen:
            for lane in chosen:
                points = self.lane_state(lane)[0]
                picked, lane.selected = sorted(lane.selected), set()
                self.commit(lane, lanes.delete_points(points, picked), "delete points")
            return True
        if ctrl and key == dpg.mvKey_C and chosen:
            lane = chosen[0]
            self.clip = lanes.copy_points(self.lane_state(lane)[0], sorted(lane.selected))
            self.app.status(f"copied {len(self.clip)} point{'s' * (len(self.clip) != 1)}")
            return True
        found = self.hovered()
        if ctrl and key == dpg.mvKey_V and found is not None and self.clip:
            lane, x, _ = found
            points = self.lane_state(lane)[0]
            at = lanes.snap(self.t_of(x), self.grid)
            self.commit(lane, lanes.paste_points(points, self.clip, at, *self.edit_range(lane)),
                        "paste points")
            return True
        return False

    def shift_click(self, item) -> None:
        """Shift+click on a parameter's control: its lane."""
        key = dpg.get_item_user_data(item) if dpg.does_item_exist(item) else None
        if shift_down() and isinstance(key, tuple) and len(key) == 2:
            node, name = key
            if name in lanes.automatable(self.app.session.graph, node):
                self.open_lane(node, name)

    # ================================================================= signal
    def measure(self, graph=None) -> None:
        """In the background: the song's length and each lane node's signal (peaks
        across the lane's width, and its level in dBFS over 400 ms), as rendered; the
        newest asked for is the one taken (by :meth:`take_measured`, on the window's
        thread)."""
        graph = (graph or self.app.session.graph).copy()
        nodes = sorted({l.node for l in self.lanes})
        self._asked += 1
        asked, width = self._asked, self.width

        def work() -> None:
            try:                              # below the sound's threads, on Linux
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            except (AttributeError, OSError):
                pass
            found = measure_signals(graph, nodes, width)
            if found is not None:
                self._measured = (asked, *found)

        self.measuring = threading.Thread(target=work, name="mixgraph-lanes", daemon=True)
        self.measuring.start()

    @property
    def busy(self) -> bool:
        """Measuring, or a measure found not yet drawn."""
        return (self.measuring is not None and self.measuring.is_alive()) \
            or self._measured is not None

    def take_measured(self) -> None:
        """What the newest measure found, drawn (an older one's is left)."""
        measured, self._measured = self._measured, None
        if measured is not None and measured[0] == self._asked:
            self.song_s, self.signals = measured[1], measured[2]
            self.sync()
