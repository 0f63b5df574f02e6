"""A node's parameter widgets, drawn from its parameter table.

Each parameter gets the widget :func:`widgets.spec_for` describes; a change goes to
the session as an edit and the widget is redrawn from the model (it keeps no value of
its own).  A list parameter that declares its items gets a list editor: a row per
item with a widget per field the item uses, a remove button, and "+ band" (the item's
noun) adding the declaration's new item; a member list is edited as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import dearpygui.dearpygui as dpg

from mixgraph.nodes.base import Param, node_class

from .widgets import (ITEM_INDENT, ITEM_LINE_WIDTH, WidgetSpec, describe_automation,
                      item_lines, model_value, shown_value)

if TYPE_CHECKING:
    from .app import EditorApp
    from .canvas import NodeView, ParamView

WIDGET_WIDTH = 120
PANEL_LINE_WIDTH = 310            # an item's row in the inspector panel (340 wide)


class Inspector:
    def __init__(self, app: EditorApp):
        self.app = app
        self.param_items: dict[tuple[str, str], Any] = {}
        self.auto_texts: dict[tuple[str, str], int] = {}    # an automated one's summary
        self.line_width: dict[tuple[str, str], int] = {}    # a list's rows: on a node or
        #                                                     in the (narrower) panel

    def _param(self, nid: str, name: str) -> Param:
        return node_class(self.app.session.graph.nodes[nid].type).param_table()[name]

    def _set(self, nid: str, name: str, value: Any) -> None:
        self.app.set_param(nid, name, value)

    # ================================================================ widgets
    def draw(self, nid: str, p: ParamView, items: dict | None = None) -> None:
        """The widget of parameter ``p`` of node ``nid`` (inside its node attribute, or
        the inspector panel), kept in ``items`` (default: the canvas's)."""
        items = self.param_items if items is None else items
        s = p.spec
        if p.automated:                         # what the lane holds; the lane; clear
            with dpg.group(horizontal=True):
                self.auto_texts[(nid, p.name)] = dpg.add_text(
                    f"{p.name}: {describe_automation(p.value)}")
                dpg.add_button(label="lane", user_data=(nid, p.name),
                               callback=lambda s_, a, u: self.app.lanes.open_lane(*u))
                dpg.add_button(label="clear", user_data=(nid, p.name),
                               callback=lambda s_, a, u: self.app.edit(
                                   self.app.session.reset_param, *u))
            items[(nid, p.name)] = None
            return
        if s.kind in ("items", "members", "list"):
            item = dpg.add_group(tag=f"list::{nid}::{p.name}")
            items[(nid, p.name)] = item
            self.line_width[(nid, p.name)] = ITEM_LINE_WIDTH if items is self.param_items \
                else PANEL_LINE_WIDTH
            self.rebuild_list(nid, p)
            return
        item = self.add_widget(s, shown_value(self._param(nid, p.name), p.value),
                               self.on_change, (nid, p.name), label=p.name, width=WIDGET_WIDTH)
        if s.doc:
            with dpg.tooltip(item):
                dpg.add_text(s.doc)
        items[(nid, p.name)] = item

    def add_widget(self, s: WidgetSpec, value: Any, callback: Callable, user_data: Any,
                   label: str = "", width: int = WIDGET_WIDTH, parent: Any = 0) -> int:
        """The Dear PyGui widget ``s`` describes, showing ``value``."""
        common = dict(callback=callback, user_data=user_data, parent=parent)
        if s.kind == "drag_float":
            item = dpg.add_drag_float(label=label, default_value=float(value), width=width,
                                      min_value=s.min, max_value=s.max, format=s.format,
                                      speed=s.speed, clamped=True, **common)
            if dpg.does_item_exist("lane_click"):       # Shift+click: its lane
                dpg.bind_item_handler_registry(item, "lane_click")
            return item
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
        self.refresh_params(view.id, view.params, self.param_items)

    def refresh_params(self, nid: str, params: list, items: dict) -> None:
        """Show new values of ``params`` of node ``nid`` in their widgets in ``items``
        (those being dragged or typed into are left alone)."""
        table = node_class(self.app.session.graph.nodes[nid].type).param_table()
        for p in params:
            item = items.get((nid, p.name))
            text = self.auto_texts.get((nid, p.name))
            if p.automated and text is not None and dpg.does_item_exist(text):
                dpg.set_value(text, f"{p.name}: {describe_automation(p.value)}")
            if item is None or p.automated:
                continue
            if p.spec.kind in ("items", "members"):
                self.rebuild_list(nid, p)
            elif dpg.does_item_exist(item) and not dpg.is_item_active(item):
                dpg.set_value(item, shown_value(table[p.name], p.value))

    def forget(self, nid: str) -> None:
        """A node left the canvas: drop its widgets."""
        for key in [k for k in self.param_items if k[0] == nid]:
            del self.param_items[key]
        for key in [k for k in self.auto_texts if k[0] == nid]:
            del self.auto_texts[key]
        for key in [k for k in self.line_width if k[0] == nid]:
            del self.line_width[key]

    # ================================================================== lists
    def rebuild_list(self, nid: str, p: ParamView) -> None:
        group = f"list::{nid}::{p.name}"
        if not dpg.does_item_exist(group):
            return
        dpg.delete_item(group, children_only=True)
        if p.spec.kind == "items" and self._param(nid, p.name).role == "regions":
            self.app.regions_strip.draw(nid, group)
        if p.spec.kind == "items":
            self._item_editor(nid, self._param(nid, p.name), p.spec, list(p.value), group)
        elif p.spec.kind == "members":
            dpg.add_input_text(label=p.name, parent=group, width=WIDGET_WIDTH,
                               default_value=", ".join(p.value), on_enter=True,
                               hint="node ids, comma separated", user_data=(nid, p.name),
                               callback=lambda s, v, u: self._set(
                                   u[0], u[1], [x.strip() for x in v.split(",") if x.strip()]))
        else:
            dpg.add_text(f"{p.name}: {p.value}", parent=group, wrap=280)

    def _item_editor(self, nid: str, param: Param, spec: WidgetSpec, rows: list,
                     parent) -> None:
        """One row per item: the fields it uses (as declared), then its remove button."""
        declared = param.items
        fields = declared.table()
        name = param.name
        dpg.add_text(name, parent=parent)

        def set_field(sender, value, where):
            i, key = where
            self.app.edit(self.app.session.set_item, nid, name, i, key,
                          model_value(fields[key], value))

        def remove(sender, app_data, i):
            self.app.edit(self.app.session.remove_item, nid, name, i)

        for i, row in enumerate(rows):
            if not isinstance(row, dict):                 # not an item: say so, offer x
                with dpg.group(horizontal=True, parent=parent):
                    dpg.add_text(f"{declared.noun} {i}: {row!r}")
                    dpg.add_button(label="x", user_data=i, callback=remove)
                continue
            values = declared.values(row)
            lines = item_lines(spec, [f.name for f in declared.used(row)],
                               self.line_width.get((nid, name), ITEM_LINE_WIDTH))
            for n, line in enumerate(lines):
                indent = ITEM_INDENT if n else -1         # later lines under the first
                with dpg.group(horizontal=True, parent=parent, indent=indent):
                    for f in line:
                        value = values[f.label]
                        if isinstance(value, dict):
                            dpg.add_text(f"{f.label} automated")
                            continue
                        item = self.add_widget(f, shown_value(fields[f.label], value),
                                               set_field, (i, f.label), width=f.width)
                        if f.doc:
                            with dpg.tooltip(item):
                                dpg.add_text(f"{f.label}: {f.doc}")
                    if n == len(lines) - 1:
                        dpg.add_button(label="x", user_data=i, callback=remove)
        if declared.max is None or len(rows) < declared.max:
            dpg.add_button(label=f"+ {declared.noun}", parent=parent, user_data=(nid, name),
                           callback=lambda s, a, u: self.app.edit(self.app.session.add_item,
                                                                  *u))
