"""The mixer view (View > Mixer, or M): a console over the same graph as the canvas.

One strip per channel, group and bus (:func:`strips.strips`): a meter and a fader
(drag it; double-click it to reset to 0 dB; Ctrl+click it to type a value), the gain
as a figure below it (drag for fine steps, hold Alt for finer; double-click to type
in dB), pan, mute and solo, and a level for each send fed from the strip.  Every
change is the session's edit (one undo step per gesture), so the canvas and the
mixer never disagree; an automated value is shown and not moved here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .dialogs import ToggledWindow
from .player import meter_line
from .strips import FADER_FLOOR_DB, FADER_TOP_DB, fader_position, strips
from .widgets import float32_value

if TYPE_CHECKING:
    from .app import EditorApp
    from .strips import Strip

STRIP_W = 118
FADER_H = 150
METER_W = 12


class Mixer(ToggledWindow):
    tag = "mixer"

    def __init__(self, app: EditorApp):
        self.app = app
        self.shown_shape: tuple = ()
        self.widgets: dict[tuple[str, str], int] = {}      # (node, parameter) -> item
        self.meters: dict[str, int] = {}                    # node -> its meter's bar

    def build(self) -> None:
        with dpg.window(tag="mixer", label="Mixer", show=False, width=1320, height=450,
                        pos=(20, 400), no_collapse=True, horizontal_scrollbar=True):
            dpg.add_group(tag="mixer_strips", horizontal=True)
        with dpg.item_handler_registry(tag="fader_reset"):    # and Shift+click: its lane
            dpg.add_item_double_clicked_handler(callback=lambda s, a: self.reset(a[1]))
            dpg.add_item_clicked_handler(callback=lambda s, a: self.app.lanes.shift_click(a[1]))

    # ================================================================ the model
    def sync(self, force: bool = False) -> None:
        """Redraw the strips if their set changed, else put every value the model
        holds into its widget (those being dragged or typed into are left alone).
        Nothing while the mixer is closed (opening it syncs)."""
        if not dpg.does_item_exist("mixer_strips") or not (force or self.shown):
            return
        now = strips(self.app.session.graph)
        shape = tuple(s.shape() for s in now)
        if shape != self.shown_shape:
            dpg.delete_item("mixer_strips", children_only=True)
            self.widgets, self.meters = {}, {}
            for strip in now:
                self.draw(strip)
            self.shown_shape = shape
            return
        for strip in now:
            self.show_values(strip)

    def show_values(self, strip: Strip) -> None:
        values = {"fader": fader_position(strip.gain_db), "gain_db": strip.gain_db,
                  "pan": strip.pan, "mute": strip.mute, "solo": strip.solo,
                  **{f"send:{s.id}": s.level_db for s in strip.sends}}
        for name, value in values.items():
            item = self.widgets.get((strip.id, name))
            if item is not None and not dpg.is_item_active(item):
                dpg.set_value(item, value)

    # ================================================================ drawing
    def draw(self, strip: Strip) -> None:
        nid = strip.id
        fixed = strip.automated
        with dpg.child_window(parent="mixer_strips", width=STRIP_W, height=-1,
                              border=True):
            dpg.add_text(nid[:14])
            dpg.add_text(strip.type, color=(150, 150, 150))
            with dpg.group(horizontal=True):
                with dpg.drawlist(width=METER_W, height=FADER_H):
                    dpg.draw_rectangle((0, 0), (METER_W, FADER_H), fill=(30, 30, 30),
                                       color=(70, 70, 70))
                    self.meters[nid] = dpg.draw_rectangle(
                        (1, FADER_H), (METER_W - 1, FADER_H), fill=(80, 200, 120),
                        color=(80, 200, 120), show=False)
                fader = dpg.add_slider_float(
                    vertical=True, height=FADER_H, width=30, min_value=FADER_FLOOR_DB,
                    max_value=FADER_TOP_DB, default_value=fader_position(strip.gain_db),
                    format="", enabled="gain_db" not in fixed, user_data=(nid, "gain_db"),
                    callback=lambda s, v, u: self.set(u[0], u[1], v))
                dpg.bind_item_handler_registry(fader, "fader_reset")
                self.widgets[(nid, "fader")] = fader
            self.widgets[(nid, "gain_db")] = dpg.add_drag_float(
                width=-1, default_value=strip.gain_db, format="%.1f dB", speed=0.05,
                min_value=-120.0, max_value=24.0, clamped=True,
                enabled="gain_db" not in fixed, user_data=(nid, "gain_db"),
                callback=lambda s, v, u: self.set(u[0], u[1], v))
            self.widgets[(nid, "pan")] = dpg.add_drag_float(
                width=-1, default_value=strip.pan, format="pan %.2f", speed=0.005,
                min_value=-1.0, max_value=1.0, clamped=True, enabled="pan" not in fixed,
                user_data=(nid, "pan"), callback=lambda s, v, u: self.set(u[0], u[1], v))
            with dpg.group(horizontal=True):
                for name in ("mute", "solo"):
                    self.widgets[(nid, name)] = dpg.add_checkbox(
                        label=name[0].upper(), default_value=getattr(strip, name),
                        user_data=(nid, name),
                        callback=lambda s, v, u: self.set(u[0], u[1], v))
            for send in strip.sends:
                dpg.add_text(f"> {send.to or send.id}"[:16], color=(150, 150, 150))
                self.widgets[(nid, f"send:{send.id}")] = dpg.add_drag_float(
                    width=-1, default_value=send.level_db, format="%.1f dB", speed=0.05,
                    min_value=-120.0, max_value=24.0, clamped=True,
                    enabled=not send.automated, user_data=(send.id, "level_db"),
                    callback=lambda s, v, u: self.set(u[0], u[1], v))

    def draw_meters(self, readings: dict) -> None:
        """The newest peak levels on the strips' meters (-60 to 0 dBFS)."""
        for nid, bar in self.meters.items():
            fill = meter_line(readings[nid])[0] if nid in readings else 0.0
            if dpg.does_item_exist(bar):
                dpg.configure_item(bar, pmin=(1, FADER_H * (1.0 - fill)), show=fill > 0)

    # ================================================================ edits
    def set(self, nid: str, name: str, value) -> None:
        if isinstance(value, float):
            value = float32_value(value)
        self.app.set_param(nid, name, value)

    def reset(self, fader) -> None:
        """A double-click on a fader: back to 0 dB (the parameter's default)."""
        nid, name = dpg.get_item_user_data(fader)
        self.app.edit(self.app.session.reset_param, nid, name)
