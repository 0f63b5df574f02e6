"""The node editor window (Dear PyGui).

A view and a controller over a :class:`mixgraph.editor.session.Session`: every widget edits the
graph through the session (which keeps undo and redo), and after every change the
canvas is brought up to date from the model (``sync``), redrawing only the nodes and
links that changed.  Rendering and playback run in threads; the window polls them
once a frame.

Keys: Delete (selection), Ctrl+S, Ctrl+O, Ctrl+Z, Ctrl+Shift+Z (redo), Space
(play/stop), F (frame the graph), Tab (node palette); right-click the canvas for the
palette, a node for rename/duplicate/delete.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import dearpygui.dearpygui as dpg

from mixgraph import MixgraphError
from mixgraph.nodes.base import node_class
from mixgraph.nodes.eq import BAND_FIELDS, BAND_TYPES, SLOPES

from . import canvas, recovery
from .jobs import RenderJob
from .player import Player
from .session import Session, palette
from .widgets import describe_automation, model_value, shown_value

AUTOSAVE_S = 20.0
ERROR_COLOUR = (200, 60, 60)
WIDGET_WIDTH = 120


class EditorApp:
    def __init__(self, session: Session, width: int = 1400, height: int = 900):
        self.session = session
        self.width, self.height = width, height
        self.node_items: dict[str, int] = {}
        self.pins: dict[int, str] = {}               # attribute item -> "node.port"
        self.node_pins: dict[str, list[int]] = {}    # node id -> its attribute items
        self.link_items: dict[tuple[str, str], int] = {}
        self.param_items: dict[tuple[str, str], Any] = {}
        self.shown: tuple[dict, set] = ({}, set())
        self.offset = (0.0, 0.0)
        self.job: RenderJob | None = None
        self.player = Player()
        self.status_text = ""
        self.palette_pos = (60.0, 60.0)
        self.context_node: str | None = None
        self.pending_action: Callable[[], None] | None = None
        self.last_autosave = time.monotonic()
        self.mouse_was_down = False
        self.text_inputs: set[int] = set()
        self.running = True
        session.listeners.append(lambda what: self.sync())

    # ================================================================= setup
    def build(self) -> None:
        dpg.create_context()
        dpg.create_viewport(title=self._title(), width=self.width, height=self.height,
                            disable_close=True)
        dpg.set_exit_callback(lambda: self.request_quit())
        self._themes()
        with dpg.window(tag="main", no_title_bar=True, no_move=True, no_resize=True,
                        no_collapse=True):
            self._menus()
            with dpg.group(horizontal=True):
                dpg.add_button(label="Render", callback=lambda: self.start_render())
                dpg.add_button(tag="play", label="Play", callback=lambda: self.toggle_play(),
                               width=70)
                dpg.add_text("from")
                dpg.add_drag_float(tag="position", width=80, min_value=0.0, max_value=3600.0,
                                   speed=0.1, format="%.1f s")
                dpg.add_text("monitor")
                dpg.add_slider_float(tag="monitor", width=120, min_value=-60.0, max_value=0.0,
                                     default_value=self.player.monitor_db, format="%.0f dB",
                                     callback=lambda s, v: setattr(self.player, "monitor_db", v))
                dpg.add_text("listen to")
                dpg.add_combo(tag="listen", width=160, items=[])
                dpg.add_text("", tag="play_note", color=(160, 160, 160))
            with dpg.node_editor(tag="editor", callback=self._on_link,
                                 delink_callback=self._on_delink, minimap=True,
                                 minimap_location=dpg.mvNodeMiniMap_Location_BottomRight,
                                 height=-28):
                pass
            dpg.add_text("", tag="status")
        dpg.set_primary_window("main", True)
        self._palette_window()
        self._node_menu()
        self._dialogs()
        self._handlers()
        if not self.player.available:
            dpg.configure_item("play", label="Play (off)")
            dpg.set_value("play_note", self.player.reason)
        self.offset = self._frame_offset()
        self.sync()

    def _frame_offset(self) -> tuple[float, float]:
        nodes, _ = canvas.views(self.session.graph)
        left, top, _, _ = canvas.bounds(nodes)
        return (20.0 - left, 20.0 - top)

    def _themes(self) -> None:
        with dpg.theme(tag="problem_theme"):
            with dpg.theme_component(dpg.mvNode):
                dpg.add_theme_color(dpg.mvNodeCol_TitleBar, ERROR_COLOUR,
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_TitleBarHovered, (230, 80, 80),
                                    category=dpg.mvThemeCat_Nodes)
                dpg.add_theme_color(dpg.mvNodeCol_TitleBarSelected, (240, 90, 90),
                                    category=dpg.mvThemeCat_Nodes)

    def _menus(self) -> None:
        with dpg.menu_bar():
            with dpg.menu(label="File"):
                dpg.add_menu_item(label="New", callback=lambda: self.guard(self.new_empty))
                dpg.add_menu_item(label="New from template...",
                                  callback=lambda: self.guard(self.open_template_dialog))
                dpg.add_menu_item(label="Open...", shortcut="Ctrl+O",
                                  callback=lambda: self.guard(self.open_dialog))
                dpg.add_menu_item(label="Save", shortcut="Ctrl+S", callback=lambda: self.save())
                dpg.add_menu_item(label="Save as...", callback=lambda: self.save_as_dialog())
                dpg.add_menu_item(label="Save as template...",
                                  callback=lambda: self.ask_text("Template name", "",
                                                                 self.save_template))
                dpg.add_menu_item(label="Save version...",
                                  callback=lambda: self.ask_text("Version name", "",
                                                                 self.save_version))
                dpg.add_separator()
                dpg.add_menu_item(label="Quit", callback=lambda: self.request_quit())
            with dpg.menu(label="Edit"):
                dpg.add_menu_item(label="Undo", shortcut="Ctrl+Z", callback=lambda: self.undo())
                dpg.add_menu_item(label="Redo", shortcut="Ctrl+Shift+Z",
                                  callback=lambda: self.redo())
                dpg.add_menu_item(label="Add node...", shortcut="Tab",
                                  callback=lambda: self.show_palette())
                dpg.add_menu_item(label="Duplicate", callback=lambda: self.duplicate_selected())
                dpg.add_menu_item(label="Delete", shortcut="Delete",
                                  callback=lambda: self.delete_selected())
                dpg.add_menu_item(label="Frame graph", shortcut="F",
                                  callback=lambda: self.frame())
                dpg.add_menu_item(label="Arrange", callback=lambda: (
                    self._call(self.session.arrange), self.frame()))
            with dpg.menu(label="Render"):
                dpg.add_menu_item(label="Render...", callback=lambda: self.start_render())
                dpg.add_menu_item(label="Play / Stop", shortcut="Space",
                                  callback=lambda: self.toggle_play())

    def _palette_window(self) -> None:
        with dpg.window(tag="palette", label="Add node", show=False, width=360, height=420,
                        modal=False, no_collapse=True):
            dpg.add_input_text(tag="palette_filter", hint="search: eq, reverb, limit ...",
                               width=-1, callback=lambda: self._fill_palette())
            self.text_inputs.add(dpg.last_item())
            dpg.add_child_window(tag="palette_list", height=-1)

    def _fill_palette(self) -> None:
        dpg.delete_item("palette_list", children_only=True)
        for name, category, summary in palette(dpg.get_value("palette_filter")):
            dpg.add_button(label=f"{name:<22} {category}", parent="palette_list", width=-1,
                           callback=lambda s, a, u: self.add_from_palette(u), user_data=name)
            with dpg.tooltip(dpg.last_item()):
                dpg.add_text(summary)

    def _node_menu(self) -> None:
        with dpg.window(tag="node_menu", show=False, popup=True, no_title_bar=True):
            dpg.add_text("", tag="node_menu_title")
            dpg.add_button(label="Rename...", width=150, callback=lambda: self._rename_context())
            dpg.add_button(label="Duplicate", width=150,
                           callback=lambda: self._on_context(self.session.duplicate))
            dpg.add_button(label="Delete", width=150,
                           callback=lambda: self._on_context(self.session.remove_nodes))

    def _dialogs(self) -> None:
        with dpg.file_dialog(tag="open_dialog", show=False, width=700, height=420,
                             callback=lambda s, a: self.open_path(a["file_path_name"])):
            dpg.add_file_extension(".mgraph")
            dpg.add_file_extension(".json")
        with dpg.file_dialog(tag="save_dialog", show=False, width=700, height=420,
                             callback=lambda s, a: self.save(a["file_path_name"])):
            dpg.add_file_extension(".mgraph")
            dpg.add_file_extension(".json")
        with dpg.file_dialog(tag="stems_dialog", show=False, directory_selector=True,
                             width=700, height=420,
                             callback=lambda s, a: self.new_from_template(
                                 dpg.get_value("template_choice"), a["file_path_name"])):
            pass
        with dpg.window(tag="template_window", label="New from template", show=False,
                        modal=True, width=520, height=170):
            dpg.add_combo(tag="template_choice", width=-1, items=[])
            dpg.add_text("", tag="template_about", wrap=500)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Choose stems folder...",
                               callback=lambda: (dpg.hide_item("template_window"),
                                                 dpg.show_item("stems_dialog")))
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("template_window"))
        with dpg.window(tag="ask_window", label="", show=False, modal=True, width=420,
                        height=110):
            dpg.add_input_text(tag="ask_value", width=-1, on_enter=True,
                               callback=lambda: self._answer())
            self.text_inputs.add(dpg.last_item())
            with dpg.group(horizontal=True):
                dpg.add_button(label="OK", callback=lambda: self._answer())
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("ask_window"))
        with dpg.window(tag="confirm_window", label="Unsaved changes", show=False, modal=True,
                        width=420, height=110):
            dpg.add_text("", tag="confirm_text", wrap=400)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save", callback=lambda: self._confirm("save"))
                dpg.add_button(label="Discard", callback=lambda: self._confirm("discard"))
                dpg.add_button(label="Cancel", callback=lambda: self._confirm("cancel"))
        with dpg.window(tag="recover_window", label="Recover", show=False, modal=True,
                        width=460, height=120):
            dpg.add_text("", tag="recover_text", wrap=440)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Recover", callback=lambda: self._recover(True))
                dpg.add_button(label="Discard", callback=lambda: self._recover(False))
        with dpg.window(tag="render_window", label="Render", show=False, width=420,
                        height=110, no_collapse=True):
            dpg.add_progress_bar(tag="render_progress", width=-1, overlay="0 %")
            dpg.add_button(label="Cancel", tag="render_cancel",
                           callback=lambda: self.job and self.job.cancel())
        with dpg.window(tag="report_window", label="Render report", show=False, width=1000,
                        height=700, pos=(120, 80)):
            pass

    def _handlers(self) -> None:
        with dpg.handler_registry():
            dpg.add_key_press_handler(callback=self._on_key)
            dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Right,
                                        callback=lambda: self._on_right_click())

    # ============================================================== drawing
    def _title(self) -> str:
        return f"mixgraph - {self.session.title}"

    def sync(self) -> None:
        """Bring the canvas up to date with the model (only what changed)."""
        if not dpg.does_item_exist("editor"):
            return
        problems = self.session.problems()
        new = canvas.views(self.session.graph, problems)
        change = canvas.changes(self.shown, new)
        nodes = new[0]
        for nid in change.delete:
            self._delete_node(nid)
        for nid in change.create:
            self._draw_node(nodes[nid])
        for nid in change.refresh:
            self._refresh_node(nodes[nid])
        for nid in change.move:
            if nid in self.node_items:
                dpg.set_item_pos(self.node_items[nid], self._to_canvas(nodes[nid].pos))
        for key in change.links_remove:
            item = self.link_items.pop(key, None)
            if item is not None and dpg.does_item_exist(item):
                dpg.delete_item(item)
        for key in change.links_add:
            self._draw_link(key)
        self.shown = new
        overall = problems.get(None)
        if overall:
            self.status(overall[0], error=True)
        dpg.set_viewport_title(self._title())
        outputs = [s.id for s in self.session.graph if s.type == "output"]
        dpg.configure_item("listen", items=outputs)
        if outputs and dpg.get_value("listen") not in outputs:
            dpg.set_value("listen", outputs[0])

    def _to_canvas(self, pos) -> list[float]:
        return [pos[0] + self.offset[0], pos[1] + self.offset[1]]

    def _draw_node(self, view: canvas.NodeView) -> None:
        pins = self.node_pins.setdefault(view.id, [])
        with dpg.node(label=view.label, parent="editor", pos=self._to_canvas(view.pos),
                      user_data=view.id) as node:
            for port in view.inputs:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Input) as attr:
                    dpg.add_text(port)
                self.pins[attr] = f"{view.id}.{port}"
                pins.append(attr)
            for p in view.params:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                    self._param_widget(view.id, p)
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                dpg.add_text(view.problem or "", tag=f"problem::{view.id}",
                             color=ERROR_COLOUR, wrap=260, show=bool(view.problem))
            for port in view.outputs:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Output) as attr:
                    dpg.add_text(port, indent=60)
                self.pins[attr] = f"{view.id}.{port}"
                pins.append(attr)
        self.node_items[view.id] = node
        if view.problem:
            dpg.bind_item_theme(node, "problem_theme")

    def _delete_node(self, nid: str) -> None:
        item = self.node_items.pop(nid, None)
        for attr in self.node_pins.pop(nid, []):
            self.pins.pop(attr, None)
        for key in [k for k in self.link_items
                    if k[0].split(".")[0] == nid or k[1].split(".")[0] == nid]:
            link = self.link_items.pop(key)
            if dpg.does_item_exist(link):
                dpg.delete_item(link)
        if item is not None and dpg.does_item_exist(item):
            dpg.delete_item(item)
        for key in [k for k in self.param_items if k[0] == nid]:
            del self.param_items[key]

    def _refresh_node(self, view: canvas.NodeView) -> None:
        cls = node_class(view.type)
        table = cls.param_table()
        for p in view.params:
            item = self.param_items.get((view.id, p.name))
            if item is None or p.automated:
                continue
            if p.spec.kind in ("bands", "members"):
                self._rebuild_list_widget(view.id, p)
            elif dpg.does_item_exist(item):
                dpg.set_value(item, shown_value(table[p.name], p.value))
        tag = f"problem::{view.id}"
        if dpg.does_item_exist(tag):
            dpg.set_value(tag, view.problem or "")
            dpg.configure_item(tag, show=bool(view.problem))
        node = self.node_items.get(view.id)
        if node is not None:
            dpg.bind_item_theme(node, "problem_theme" if view.problem else 0)

    def _draw_link(self, key: tuple[str, str]) -> None:
        src = next((a for a, p in self.pins.items() if p == key[0]), None)
        dst = next((a for a, p in self.pins.items() if p == key[1]), None)
        if src is None or dst is None:
            return
        self.link_items[key] = dpg.add_node_link(src, dst, parent="editor")

    # --------------------------------------------------------------- params
    def _param_widget(self, nid: str, p) -> None:
        s = p.spec
        if p.automated:
            with dpg.group(horizontal=True):
                dpg.add_text(f"{p.name}: {describe_automation(p.value)}")
                dpg.add_button(label="clear", user_data=(nid, p.name),
                               callback=lambda s_, a, u: self._call(self.session.reset_param,
                                                                     *u))
            self.param_items[(nid, p.name)] = None
            return
        param = node_class(self.session.graph.nodes[nid].type).param_table()[p.name]
        value = shown_value(param, p.value)
        cb = self._param_callback
        ud = (nid, p.name)
        if s.kind == "drag_float":
            item = dpg.add_drag_float(label=p.name, default_value=float(value), width=WIDGET_WIDTH,
                                      min_value=s.min, max_value=s.max, format=s.format,
                                      speed=s.speed, clamped=True, callback=cb, user_data=ud)
        elif s.kind == "drag_int":
            item = dpg.add_drag_int(label=p.name, default_value=int(value), width=WIDGET_WIDTH,
                                    min_value=int(s.min or 0), max_value=int(s.max or 10**9),
                                    callback=cb, user_data=ud)
        elif s.kind == "combo":
            item = dpg.add_combo(label=p.name, items=s.items, default_value=value,
                                 width=WIDGET_WIDTH, callback=cb, user_data=ud)
        elif s.kind == "checkbox":
            item = dpg.add_checkbox(label=p.name, default_value=bool(value), callback=cb,
                                    user_data=ud)
        elif s.kind in ("text", "path"):
            item = dpg.add_input_text(label=p.name, default_value=str(value), width=WIDGET_WIDTH,
                                      on_enter=True, callback=cb, user_data=ud)
            self.text_inputs.add(item)
        else:
            item = dpg.add_group(tag=f"list::{nid}::{p.name}")
            self.param_items[(nid, p.name)] = item
            self._rebuild_list_widget(nid, p)
            return
        if s.doc:
            with dpg.tooltip(item):
                dpg.add_text(s.doc)
        self.param_items[(nid, p.name)] = item

    def _param_callback(self, sender, value, user_data) -> None:
        nid, name = user_data
        param = node_class(self.session.graph.nodes[nid].type).param_table()[name]
        self._call(self.session.set_param, nid, name, model_value(param, value))

    def _rebuild_list_widget(self, nid: str, p) -> None:
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
                               callback=lambda s, v, u: self._call(
                                   self.session.set_param, u[0], u[1],
                                   [x.strip() for x in v.split(",") if x.strip()]))
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
                self._call(self.session.set_param, nid, name, new)
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
                dpg.add_button(label="x", user_data=i, callback=lambda s, a, u: self._call(
                    self.session.set_param, nid, name, [b for j, b in enumerate(bands) if j != u]))
        dpg.add_button(label="+ band", parent=parent, callback=lambda: self._call(
            self.session.set_param, nid, name,
            bands + [{"type": "bell", "freq_hz": 1000.0, "gain_db": 0.0, "q": 1.0}]))

    # ============================================================= actions
    def _call(self, fn, *args) -> Any:
        """Run an edit; a refusal goes to the status bar and changes nothing."""
        try:
            result = fn(*args)
            self.status("")
            return result
        except MixgraphError as exc:
            self.status(exc.message, error=True)
            self.sync()                                # put widgets back to the model
        except Exception as exc:                       # pragma: no cover - a bug
            self.status(f"internal error: {type(exc).__name__}: {exc}", error=True)
        return None

    def status(self, text: str, error: bool = False) -> None:
        self.status_text = text
        if dpg.does_item_exist("status"):
            dpg.set_value("status", text)
            dpg.configure_item("status", color=ERROR_COLOUR if error else (200, 200, 200))

    def _on_link(self, sender, app_data) -> None:
        a, b = app_data[0], app_data[1]
        src, dst = self.pins.get(a), self.pins.get(b)
        if src is None or dst is None:
            return
        self._call(self.session.connect, src, dst)

    def _on_delink(self, sender, link_item) -> None:
        key = next((k for k, v in self.link_items.items() if v == link_item), None)
        if key is not None:
            self._call(self.session.disconnect, *key)

    def selected_nodes(self) -> list[str]:
        items = set(dpg.get_selected_nodes("editor"))
        return [nid for nid, item in self.node_items.items() if item in items]

    def delete_selected(self) -> None:
        links = set(dpg.get_selected_links("editor"))
        nodes = self.selected_nodes()
        for key, item in list(self.link_items.items()):
            if item in links and key[0].split(".")[0] not in nodes \
                    and key[1].split(".")[0] not in nodes:
                self._call(self.session.disconnect, *key)
        if nodes:
            self._call(self.session.remove_nodes, nodes)
        dpg.clear_selected_nodes("editor")
        dpg.clear_selected_links("editor")

    def duplicate_selected(self) -> None:
        nodes = self.selected_nodes()
        if nodes:
            self._call(self.session.duplicate, nodes)

    def undo(self) -> None:
        label = self.session.undo()
        self.status(f"undid {label}" if label else "nothing to undo")

    def redo(self) -> None:
        label = self.session.redo()
        self.status(f"redid {label}" if label else "nothing to redo")

    def show_palette(self, pos: tuple[float, float] | None = None) -> None:
        if pos is not None:
            self.palette_pos = pos
        dpg.set_value("palette_filter", "")
        self._fill_palette()
        dpg.show_item("palette")
        dpg.focus_item("palette_filter")

    def add_from_palette(self, type_name: str) -> str | None:
        dpg.hide_item("palette")
        return self._call(self.session.add_node, type_name, self.palette_pos)

    def _on_right_click(self) -> None:
        for nid, item in self.node_items.items():
            if dpg.is_item_hovered(item):
                self.context_node = nid
                dpg.set_value("node_menu_title", nid)
                dpg.configure_item("node_menu", pos=dpg.get_mouse_pos(local=False))
                dpg.show_item("node_menu")
                return
        if dpg.is_item_hovered("editor"):
            x, y = dpg.get_mouse_pos(local=True)
            self.show_palette((x - self.offset[0], y - self.offset[1] - 40))
            dpg.configure_item("palette", pos=dpg.get_mouse_pos(local=False))

    def _on_context(self, fn) -> None:
        dpg.hide_item("node_menu")
        if self.context_node:
            self._call(fn, [self.context_node])

    def _rename_context(self) -> None:
        dpg.hide_item("node_menu")
        old = self.context_node
        if old:
            self.ask_text(f"Rename {old}", old, lambda new: self._call(self.session.rename,
                                                                        old, new))

    def frame(self) -> None:
        """Show the whole graph: redraw it with its top-left corner at the view's."""
        self.offset = self._frame_offset()
        for nid in list(self.node_items):
            self._delete_node(nid)
        self.shown = ({}, set())
        self.sync()

    def poll_moves(self) -> None:
        """After a drag ends, record where the nodes went (one undoable step)."""
        down = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if self.mouse_was_down and not down:
            moved = {}
            for nid, item in self.node_items.items():
                x, y = dpg.get_item_pos(item)
                pos = (x - self.offset[0], y - self.offset[1])
                view = self.shown[0].get(nid)
                if view is not None and (abs(view.pos[0] - pos[0]) > 0.5
                                         or abs(view.pos[1] - pos[1]) > 0.5):
                    moved[nid] = pos
            if moved:
                self._call(self.session.move_nodes, moved)
        self.mouse_was_down = down

    # ------------------------------------------------------------- keyboard
    def _typing(self) -> bool:
        return any(dpg.does_item_exist(i) and dpg.is_item_active(i) for i in self.text_inputs)

    def _on_key(self, sender, key) -> None:
        if self._typing():
            return
        ctrl = dpg.is_key_down(dpg.mvKey_LControl) or dpg.is_key_down(dpg.mvKey_RControl)
        shift = dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift)
        if ctrl and key == dpg.mvKey_Z:
            self.redo() if shift else self.undo()
        elif ctrl and key == dpg.mvKey_S:
            self.save()
        elif ctrl and key == dpg.mvKey_O:
            self.guard(self.open_dialog)
        elif key == dpg.mvKey_Delete:
            self.delete_selected()
        elif key == dpg.mvKey_Spacebar:
            self.toggle_play()
        elif key == dpg.mvKey_F and not ctrl:
            self.frame()
        elif key == dpg.mvKey_Tab:
            self.show_palette()

    # ---------------------------------------------------------------- files
    def guard(self, action: Callable[[], None]) -> None:
        """Run an action that leaves this project, asking about unsaved changes first."""
        if not self.session.dirty:
            action()
            return
        self.pending_action = action
        dpg.set_value("confirm_text", f"{self.session.title.rstrip(' *')} has unsaved "
                                      "changes. Save them first?")
        dpg.show_item("confirm_window")

    def _confirm(self, choice: str) -> None:
        dpg.hide_item("confirm_window")
        action, self.pending_action = self.pending_action, None
        if choice == "cancel" or action is None:
            return
        if choice == "save" and not self.save():
            return
        recovery.clear(self.session.path)
        action()

    def _replace_session(self, session: Session) -> None:
        self.session = session
        session.listeners.append(lambda what: self.sync())
        self.offset = (0.0, 0.0)
        for nid in list(self.node_items):
            self._delete_node(nid)
        self.shown = ({}, set())
        self.frame()

    def new_empty(self) -> None:
        self._replace_session(Session())

    def open_dialog(self) -> None:
        dpg.show_item("open_dialog")

    def open_path(self, path: str) -> None:
        try:
            self._replace_session(Session.open(path))
            self.status(f"opened {path}")
        except MixgraphError as exc:
            self.status(exc.message, error=True)

    def open_template_dialog(self) -> None:
        from mixgraph.workflows.templates import list_templates

        found = list_templates()
        dpg.configure_item("template_choice", items=[t.name for t in found],
                           callback=lambda s, v: dpg.set_value(
                               "template_about", next(t.description for t in found
                                                      if t.name == v)))
        if found:
            dpg.set_value("template_choice", found[0].name)
            dpg.set_value("template_about", found[0].description)
        dpg.show_item("template_window")

    def new_from_template(self, name: str, stems: str) -> None:
        from mixgraph.workflows.templates import bind, load_template

        try:
            template = load_template(name)
            graph, binding = bind(template, Path(stems), Path(stems).resolve().parent)
        except MixgraphError as exc:
            self.status(exc.message, error=True)
            return
        session = Session(graph)
        session.dirty = True
        self._replace_session(session)
        self.status("; ".join(binding.lines()[-2:]))

    def save(self, path: str | None = None) -> bool:
        if path is None and self.session.path is None:
            self.save_as_dialog()
            return False
        try:
            target = self.session.save(path)
        except MixgraphError as exc:
            self.status(exc.message, error=True)
            return False
        recovery.clear(None)
        recovery.clear(target)
        dpg.set_viewport_title(self._title())
        self.status(f"saved {target}")
        return True

    def save_as_dialog(self) -> None:
        dpg.show_item("save_dialog")

    def save_template(self, name: str) -> None:
        from mixgraph.workflows.templates import save_user_template

        try:
            target = save_user_template(self.session.graph, name, overwrite=True)
            self.status(f"saved template {name!r} ({target})")
        except MixgraphError as exc:
            self.status(exc.message, error=True)

    def save_version(self, name: str) -> None:
        from mixgraph.workflows.versions import save_version

        if self.session.path is None or self.session.dirty:
            if not self.save():
                return
        try:
            v = save_version(self.session.path, name)
            self.status(f"saved version {v.id}")
        except MixgraphError as exc:
            self.status(exc.message, error=True)

    def ask_text(self, title: str, value: str, then: Callable[[str], None]) -> None:
        self._ask_then = then
        dpg.configure_item("ask_window", label=title)
        dpg.set_value("ask_value", value)
        dpg.show_item("ask_window")
        dpg.focus_item("ask_value")

    def _answer(self) -> None:
        dpg.hide_item("ask_window")
        value = dpg.get_value("ask_value").strip()
        if value:
            self._ask_then(value)

    def offer_recovery(self) -> bool:
        found = recovery.pending(self.session.path)
        if found is None:
            return False
        self._recovery_file = found
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(found.stat().st_mtime))
        dpg.set_value("recover_text", f"mixgraph did not close cleanly. Unsaved changes to "
                                      f"{self.session.title} from {stamp} were kept. "
                                      "Recover them?")
        dpg.show_item("recover_window")
        return True

    def _recover(self, yes: bool) -> None:
        dpg.hide_item("recover_window")
        if yes:
            doc = recovery.recovered_document(self._recovery_file)
            from mixgraph import Graph

            g = Graph.from_document(doc, base_dir=self.session.graph.base_dir)
            self.session.replace_graph(g, "recover")
            self.status("recovered unsaved changes")
        else:
            recovery.clear(self.session.path)

    def request_quit(self) -> None:
        self.guard(self.quit)

    def quit(self) -> None:
        recovery.clear(self.session.path)
        self.player.stop()
        self.running = False
        dpg.stop_dearpygui()

    # --------------------------------------------------------- render, play
    def start_render(self) -> RenderJob | None:
        if self.job is not None and not self.job.done:
            return self.job
        problems = self.session.problems()
        if problems:
            first = next(iter(problems.values()))[0]
            self.status(f"cannot render: {first}", error=True)
            return None
        self.job = RenderJob(self.session.graph).start()
        dpg.set_value("render_progress", 0.0)
        dpg.show_item("render_window")
        return self.job

    def _poll_job(self) -> None:
        job = self.job
        if job is None:
            return
        dpg.set_value("render_progress", job.progress)
        dpg.configure_item("render_progress", overlay=f"{job.progress * 100:.0f} %")
        if job.done:
            dpg.hide_item("render_window")
            self.job = None
            if job.report is not None:
                self.show_report(job)
                self.status(job.report.format().splitlines()[0])
            elif job.cancelled:
                self.status("render cancelled; nothing was written")
            else:
                self.status(job.error or "render failed", error=True)

    def show_report(self, job: RenderJob) -> None:
        dpg.delete_item("report_window", children_only=True)
        report = job.report
        with dpg.table(parent="report_window", header_row=True, resizable=True,
                       borders_innerH=True, borders_outerH=True, row_background=True):
            for head in ("output", "I LUFS", "S max", "M max", "LRA LU", "true peak dBTP",
                         "sample peak dBFS", "correlation", "length s"):
                dpg.add_table_column(label=head)
            for o in report.outputs:
                with dpg.table_row():
                    dpg.add_text(Path(o["path"]).name)
                    for key in ("integrated_lufs", "short_term_max_lufs", "momentary_max_lufs",
                                "lra_lu", "true_peak_dbtp", "sample_peak_dbfs"):
                        dpg.add_text(_num(o.get(key)))
                    c = o.get("correlation")
                    dpg.add_text("mono" if c is None else f"{c:+.2f}")
                    dpg.add_text(f"{o['duration_s']:.2f}")
        for w in report.warnings:
            dpg.add_text(f"warning: {w}", parent="report_window", color=(230, 170, 60),
                         wrap=860)
        for node_id, plots in job.plots.items():
            dpg.add_text(node_id, parent="report_window")
            with dpg.group(horizontal=True, parent="report_window"):
                end = plots["time_s"][-1] if plots["time_s"] else 1.0
                with dpg.plot(label="waveform", height=220, width=470):
                    x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="s")
                    dpg.set_axis_limits(x_axis, 0.0, end)
                    with dpg.plot_axis(dpg.mvYAxis):
                        dpg.set_axis_limits(dpg.last_item(), -1.0, 1.0)
                        dpg.add_shade_series(plots["time_s"], plots["max"],
                                             y2=plots["min"], label="level")
                with dpg.plot(label="loudness", height=220, width=470):
                    dpg.add_plot_legend()
                    x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="s")
                    dpg.set_axis_limits(x_axis, 0.0, end)
                    with dpg.plot_axis(dpg.mvYAxis, label="LUFS"):
                        dpg.set_axis_limits(dpg.last_item(), -50.0, 0.0)
                        dpg.add_line_series(plots["momentary_time_s"], plots["momentary_lufs"],
                                            label="momentary")
                        dpg.add_line_series(plots["short_term_time_s"],
                                            plots["short_term_lufs"], label="short-term")
        dpg.show_item("report_window")

    def toggle_play(self) -> None:
        if not self.player.available:
            self.status(self.player.reason, error=True)
            return
        if self.player.playing:
            self.player.stop()
            dpg.configure_item("play", label="Play")
            return
        source = dpg.get_value("listen")
        if not source:
            self.status("add an output to listen to", error=True)
            return
        try:
            self.player.play(self.session.graph, source, dpg.get_value("position"))
            dpg.configure_item("play", label="Stop")
        except Exception as exc:
            self.status(str(exc), error=True)

    # ----------------------------------------------------------------- loop
    def tick(self) -> None:
        """Work done once per frame: drags, render progress, playback, autosave."""
        self.poll_moves()
        self._poll_job()
        if self.player.available and not self.player.playing \
                and dpg.get_item_label("play") == "Stop":
            dpg.configure_item("play", label="Play")
            if self.player.error:
                self.status(self.player.error, error=True)
        if self.session.dirty and time.monotonic() - self.last_autosave > AUTOSAVE_S:
            try:
                recovery.autosave(self.session)
            except MixgraphError:
                pass
            self.last_autosave = time.monotonic()

    def run(self) -> None:
        dpg.setup_dearpygui()
        dpg.show_viewport()
        self.offer_recovery()
        while self.running and dpg.is_dearpygui_running():
            self.tick()
            dpg.render_dearpygui_frame()
        dpg.destroy_context()


def _num(v) -> str:
    if v is None:
        return "-inf"
    return f"{v:.1f}" if abs(v) != float("inf") else "-inf"


def main(project: str | None = None) -> int:
    session = Session.open(project) if project else Session()
    app = EditorApp(session)
    app.build()
    app.run()
    return 0
