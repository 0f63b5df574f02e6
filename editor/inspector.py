"""A node's parameter widgets, drawn from its parameter table.

Each parameter gets the widget :func:`widgets.spec_for` describes; a change goes to
the session as an edit and the widget is redrawn from the model (it keeps no value of
its own).  EQ bands get a band editor (a row per band, "+ band"); a member list is
edited as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import dearpygui.dearpygui as dpg

from mixgraph.nodes.base import node_class
from mixgraph.nodes.eq import BAND_FIELDS, BAND_TYPES, SLOPES

from .widgets import WidgetSpec, describe_automation, model_value, shown_value

if TYPE_CHECKING:
    from .app import EditorApp
    from .canvas import NodeView, ParamView

WIDGET_WIDTH = 120


class Inspector:
    def __init__(self, app: EditorApp):
        self.app = app
        self.param_items: dict[tuple[str, str], Any] = {}

    def _param(self, nid: str, name: str):
        return node_class(self.app.session.graph.nodes[nid].type).param_table()[name]

    def _set(self, nid: str, name: str, value: Any) -> None:
        self.app.edit(self.app.session.set_param, nid, name, value)

    # ================================================================ widgets
    def draw(self, nid: str, p: ParamView) -> None:
        """The widget of parameter ``p`` of node ``nid`` (inside its node attribute)."""
        s = p.spec
        if p.automated:
            with dpg.group(horizontal=True):
                dpg.add_text(f"{p.name}: {describe_automation(p.value)}")
                dpg.add_button(label="clear", user_data=(nid, p.name),
                               callback=lambda s_, a, u: self.app.edit(
                                   self.app.session.reset_param, *u))
            self.param_items[(nid, p.name)] = None
            return
        if s.kind in ("bands", "members", "list"):
            item = dpg.add_group(tag=f"list::{nid}::{p.name}")
            self.param_items[(nid, p.name)] = item
            self.rebuild_list(nid, p)
            return
        item = self.add_widget(s, shown_value(self._param(nid, p.name), p.value),
                               self.on_change, (nid, p.name), label=p.name, width=WIDGET_WIDTH)
        if s.doc:
            with dpg.tooltip(item):
                dpg.add_text(s.doc)
        self.param_items[(nid, p.name)] = item

    def add_widget(self, s: WidgetSpec, value: Any, callback: Callable, user_data: Any,
                   label: str = "", width: int = WIDGET_WIDTH, parent: Any = 0) -> int:
        """The Dear PyGui widget ``s`` describes, showing ``value``."""
        common = dict(callback=callback, user_data=user_data, parent=parent)
        if s.kind == "drag_float":
            return dpg.add_drag_float(label=label, default_value=float(value), width=width,
                                      min_value=s.min, max_value=s.max, format=s.format,
                                      speed=s.speed, clamped=True, **common)
        if s.kind == "drag_int":
            return dpg.add_drag_int(label=label, default_value=int(value), width=width,
                                    min_value=int(s.min or 0), max_value=int(s.max or 10**9),
                                    **common)
        if s.kind == "combo":
            return dpg.add_combo(label=label, items=s.items, default_value=value, width=width,
                                 **common)
        if s.kind == "checkbox":
            return dpg.add_checkbox(label=label, default_value=bool(value), **common)
        item = dpg.add_input_text(label=label, default_value=str(value), width=width,
                                  on_enter=True, **common)
        self.app.text_inputs.add(item)
        return item

    def on_change(self, sender, value, user_data) -> None:
        nid, name = user_data
        self._set(nid, name, model_value(self._param(nid, name), value))

    def refresh(self, view: NodeView) -> None:
        """Show a node's new values in the widgets it has (same shape)."""
        table = node_class(view.type).param_table()
        for p in view.params:
            item = self.param_items.get((view.id, p.name))
            if item is None or p.automated:
                continue
            if p.spec.kind in ("bands", "members"):
                self.rebuild_list(view.id, p)
            elif dpg.does_item_exist(item):
                dpg.set_value(item, shown_value(table[p.name], p.value))

    def forget(self, nid: str) -> None:
        """A node left the canvas: drop its widgets."""
        for key in [k for k in self.param_items if k[0] == nid]:
            del self.param_items[key]

    # ================================================================== lists
    def rebuild_list(self, nid: str, p: ParamView) -> None:
        group = f"list::{nid}::{p.name}"
        if not dpg.does_item_exist(group):
            return
        dpg.delete_item(group, children_only=True)
        if p.spec.kind == "bands":
            self._band_editor(nid, p.name, list(p.value), group)
        elif p.spec.kind == "members":
            dpg.add_input_text(label=p.name, parent=group, width=WIDGET_WIDTH,
                               default_value=", ".join(p.value), on_enter=True,
                               hint="node ids, comma separated", user_data=(nid, p.name),
                               callback=lambda s, v, u: self._set(
                                   u[0], u[1], [x.strip() for x in v.split(",") if x.strip()]))
        else:
            dpg.add_text(f"{p.name}: {p.value}", parent=group, wrap=280)

    def _band_editor(self, nid: str, name: str, bands: list, parent) -> None:
        dpg.add_text(name, parent=parent)

        def setter(i, key):
            def cb(sender, value, user_data):
                new = [dict(b) for b in bands]
                if key == "type":
                    new[i]["type"] = value
                elif key == "slope_db_oct":
                    new[i][key] = int(value)
                elif key == "on":
                    new[i][key] = bool(value)
                else:
                    new[i][key] = float(value)
                self._set(nid, name, new)
            return cb

        for i, band in enumerate(bands):
            values = {k: band.get(k, f.default) for k, f in BAND_FIELDS.items()}
            with dpg.group(horizontal=True, parent=parent):
                dpg.add_checkbox(default_value=bool(values["on"]), callback=setter(i, "on"))
                dpg.add_combo(items=list(BAND_TYPES), default_value=values["type"], width=90,
                              callback=setter(i, "type"))
                gains = values["type"] in ("bell", "low_shelf", "high_shelf")
                for key, fmt, width in (("freq_hz", "%.0f Hz", 80), ("gain_db", "%.1f dB", 64),
                                        ("q", "Q %.2f", 60)):
                    if (key == "gain_db" and not gains) or \
                            (key == "q" and values["type"] in ("highpass", "lowpass")):
                        continue
                    v = values[key]
                    if isinstance(v, dict):
                        dpg.add_text(f"{key} automated")
                        continue
                    f = BAND_FIELDS[key]
                    dpg.add_drag_float(default_value=float(v), width=width, format=fmt,
                                       min_value=f.min, max_value=f.max, clamped=True,
                                       speed=max((f.max - f.min) / 2000, 0.01),
                                       callback=setter(i, key))
                if values["type"] in ("highpass", "lowpass"):
                    dpg.add_combo(items=[str(x) for x in SLOPES], width=50,
                                  default_value=str(values["slope_db_oct"]),
                                  callback=setter(i, "slope_db_oct"))
                dpg.add_button(label="x", user_data=i, callback=lambda s, a, u: self._set(
                    nid, name, [b for j, b in enumerate(bands) if j != u]))
        dpg.add_button(label="+ band", parent=parent, callback=lambda: self._set(
            nid, name, bands + [{"type": "bell", "freq_hz": 1000.0, "gain_db": 0.0, "q": 1.0}]))
