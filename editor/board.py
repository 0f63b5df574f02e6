"""The node canvas of the window: nodes, pins and links drawn from the model.

``Board.sync(problems)`` brings the drawing up to date with the session's graph,
redrawing only the nodes and links that changed (:func:`canvas.changes` says which);
a node's parameter widgets are the inspector's.  The board also turns the node
editor's gestures back into edits: a link dragged or cut, nodes dragged (one undoable
step when the drag ends), the selection deleted or duplicated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from . import canvas
from .panel import PANEL_W
from .player import meter_line

if TYPE_CHECKING:
    from .app import EditorApp

ERROR_COLOUR = (200, 60, 60)
BYPASS_COLOUR = (90, 90, 60)
FOUND_COLOUR = (40, 150, 200)
HOME_GUESS = (8.0, 80.0)          # the canvas's top-left in the window, before a node shows


class Board:
    def __init__(self, app: EditorApp):
        self.app = app
        self.node_items: dict[str, int] = {}
        self.pins: dict[int, str] = {}               # attribute item -> "node.port"
        self.node_pins: dict[str, list[int]] = {}    # node id -> its attribute items
        self.link_items: dict[tuple[str, str], int] = {}
        self.shown: tuple[dict, set] = ({}, set())
        self.offset = (0.0, 0.0)
        self.mouse_was_down = False
        self.metering = False                         # meters shown (while playing)
        self.origin = None        # where grid (0, 0) is drawn in the viewport, pan included
        self.home = None          # the same before any pan: the canvas's own top-left
        self.pressed_pin: str | None = None            # the pin a left press began on
        self.pressed_at = (0.0, 0.0)
        self.linked = False                            # a link was made since the press

    # ================================================================= setup
    def build(self) -> None:
        """The themes of a node in trouble and of a bypassed one."""
        node_theme("problem_theme", {dpg.mvNodeCol_TitleBar: ERROR_COLOUR,
                                     dpg.mvNodeCol_TitleBarHovered: (230, 80, 80),
                                     dpg.mvNodeCol_TitleBarSelected: (240, 90, 90)})
        node_theme("bypass_theme", {dpg.mvNodeCol_TitleBar: BYPASS_COLOUR,
                                    dpg.mvNodeCol_NodeBackground: (40, 40, 40)})
        node_theme("found_theme", {dpg.mvNodeCol_TitleBar: FOUND_COLOUR,
                                   dpg.mvNodeCol_TitleBarHovered: FOUND_COLOUR,
                                   dpg.mvNodeCol_TitleBarSelected: FOUND_COLOUR})

    def build_editor(self) -> None:
        with dpg.node_editor(tag="editor", callback=self.on_link,
                             delink_callback=self.on_delink, minimap=True,
                             minimap_location=dpg.mvNodeMiniMap_Location_BottomRight,
                             height=-28, width=-PANEL_W - 12):
            pass

    def frame_offset(self) -> tuple[float, float]:
        """The offset that puts the graph's top-left corner 20 pixels inside the
        canvas's as it is panned now."""
        nodes, _ = canvas.views(self.app.session.graph)
        left, top, _, _ = canvas.bounds(nodes)
        px, py = self.pan()
        return (20.0 - px - left, 20.0 - py - top)

    def find_origin(self) -> tuple[float, float] | None:
        """Where grid (0, 0) is in the viewport now, read off a drawn node (its
        rectangle against its grid position); the last one found if none is drawn.
        The first reading, made before anyone can pan, is the canvas's home."""
        for item in self.node_items.values():
            if dpg.is_item_visible(item):
                (rx, ry), (gx, gy) = dpg.get_item_rect_min(item), dpg.get_item_pos(item)
                if rx or ry:
                    self.origin = (rx - gx, ry - gy)
                    if self.home is None:
                        self.home = self.origin
                    break
        return self.origin

    def pan(self) -> tuple[float, float]:
        """How far the canvas has been panned (0, 0 until it is known)."""
        origin = self.find_origin()
        if origin is None or self.home is None:
            return (0.0, 0.0)
        return (origin[0] - self.home[0], origin[1] - self.home[1])

    def model_point(self, x: float, y: float) -> tuple[float, float]:
        """The project's canvas position under viewport point (x, y)."""
        ox, oy = self.find_origin() or HOME_GUESS
        return (x - ox - self.offset[0], y - oy - self.offset[1])

    def canvas_rect(self) -> tuple[float, float, float, float]:
        """Where the canvas is in the viewport: x0, y0, x1, y1."""
        x, y = self.home or HOME_GUESS
        w, h = dpg.get_item_rect_size("editor") or (0, 0)
        if not w or not h:
            w, h = dpg.get_viewport_client_width() - PANEL_W - 24, \
                dpg.get_viewport_client_height() - 120
        return x, y, x + w, y + h

    def visible_centre(self) -> tuple[float, float]:
        """The project's canvas position at the middle of what the canvas shows."""
        x0, y0, x1, y1 = self.canvas_rect()
        return self.model_point((x0 + x1) / 2 - 130, (y0 + y1) / 2 - 60)

    # ============================================================== drawing
    def sync(self, problems: dict) -> None:
        """Bring the canvas up to date with the model (only what changed)."""
        new = canvas.views(self.app.session.graph, problems)
        change = canvas.changes(self.shown, new)
        nodes = new[0]
        for nid in change.delete:
            self.delete_node(nid)
        for nid in change.create:
            self.draw_node(nodes[nid])
        for nid in change.refresh:
            self.refresh_node(nodes[nid])
        for nid in change.move:
            if nid in self.node_items:
                dpg.set_item_pos(self.node_items[nid], self.to_canvas(nodes[nid].pos))
        for key in change.links_remove:
            item = self.link_items.pop(key, None)
            if item is not None and dpg.does_item_exist(item):
                dpg.delete_item(item)
        for key in change.links_add:
            self.draw_link(key)
        self.shown = new

    def to_canvas(self, pos) -> list[float]:
        return [pos[0] + self.offset[0], pos[1] + self.offset[1]]

    def draw_node(self, view: canvas.NodeView) -> None:
        pins = self.node_pins.setdefault(view.id, [])
        with dpg.node(label=view.label, parent="editor", pos=self.to_canvas(view.pos),
                      user_data=view.id) as node:
            for port in view.inputs:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Input) as attr:
                    dpg.add_text(port)
                self.pins[attr] = f"{view.id}.{port}"
                pins.append(attr)
            for p in view.params:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                    self.app.inspector.draw(view.id, p)
            if view.more:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                    dpg.add_text(f"+ {view.more} in the inspector", color=(140, 140, 140))
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                dpg.add_progress_bar(tag=f"meter::{view.id}", width=200, default_value=0.0,
                                     overlay="", show=self.metering)
            with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Static):
                dpg.add_text(view.problem or "", tag=f"problem::{view.id}",
                             color=ERROR_COLOUR, wrap=260, show=bool(view.problem))
            for port in view.outputs:
                with dpg.node_attribute(attribute_type=dpg.mvNode_Attr_Output) as attr:
                    dpg.add_text(port, indent=60)
                self.pins[attr] = f"{view.id}.{port}"
                pins.append(attr)
        self.node_items[view.id] = node
        if theme_for(view):
            dpg.bind_item_theme(node, theme_for(view))

    def delete_node(self, nid: str) -> None:
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
        self.app.inspector.forget(nid)

    def refresh_node(self, view: canvas.NodeView) -> None:
        self.app.inspector.refresh(view)
        tag = f"problem::{view.id}"
        if dpg.does_item_exist(tag):
            dpg.set_value(tag, view.problem or "")
            dpg.configure_item(tag, show=bool(view.problem))
        node = self.node_items.get(view.id)
        if node is not None:
            dpg.bind_item_theme(node, theme_for(view))

    def show_meters(self, on: bool) -> None:
        """Show every node's meter (while playing) or hide them."""
        self.metering = on
        for nid in self.node_items:
            tag = f"meter::{nid}"
            if dpg.does_item_exist(tag):
                dpg.configure_item(tag, show=on)
                if not on:
                    dpg.set_value(tag, 0.0)
                    dpg.configure_item(tag, overlay="")

    def draw_figures(self, lines: dict[str, str]) -> None:
        """After a render: each node's figures (``canvas.figures_line``) on its meter
        line; the others' lines hidden."""
        for nid in self.node_items:
            tag = f"meter::{nid}"
            if dpg.does_item_exist(tag):
                dpg.set_value(tag, 0.0)
                dpg.configure_item(tag, overlay=lines.get(nid, ""), show=nid in lines)

    def draw_meters(self, readings: dict) -> None:
        """The newest readings on the nodes' meters (a node not heard reads nothing)."""
        for nid in self.node_items:
            tag = f"meter::{nid}"
            if not dpg.does_item_exist(tag):
                continue
            fill, words = meter_line(readings[nid]) if nid in readings else (0.0, "")
            dpg.set_value(tag, fill)
            dpg.configure_item(tag, overlay=words)

    def draw_link(self, key: tuple[str, str]) -> None:
        src = next((a for a, p in self.pins.items() if p == key[0]), None)
        dst = next((a for a, p in self.pins.items() if p == key[1]), None)
        if src is None or dst is None:
            return
        self.link_items[key] = dpg.add_node_link(src, dst, parent="editor")

    def clear(self) -> None:
        """Take every node off the canvas (the next sync draws them all again)."""
        for nid in list(self.node_items):
            self.delete_node(nid)
        self.shown = ({}, set())

    def frame(self) -> None:
        """Show the whole graph: its top-left corner at the view's (every node moved,
        none drawn again)."""
        self.shift(self.frame_offset())

    def shift(self, offset: tuple[float, float]) -> None:
        """Draw every node ``offset`` from its position (the links follow)."""
        self.offset = offset
        for nid, item in self.node_items.items():
            view = self.shown[0].get(nid)
            if view is not None:
                dpg.set_item_pos(item, self.to_canvas(view.pos))

    def go_to(self, nid: str) -> None:
        """Show a node in the middle of the canvas, in focus in the inspector, its
        title lit for a moment."""
        view = self.shown[0].get(nid)
        if view is None:
            return
        self.centre_on(view.pos[0], view.pos[1], view.pos[0] + 210, view.pos[1] + 160)
        self.app.panel.focus(nid)
        self.flash(nid)
        self.app.status(f"{nid} ({view.type})")

    def frame_selected(self) -> None:
        """The selected nodes in the middle of the canvas (the first in focus)."""
        nodes = self.selected_nodes()
        if not nodes:
            self.app.status("select nodes to frame (F frames the whole graph)")
            return
        views = {n: self.shown[0][n] for n in nodes if n in self.shown[0]}
        self.centre_on(*canvas.bounds(views))

    def centre_on(self, left: float, top: float, right: float, bottom: float) -> None:
        """Show the project's canvas rectangle (left, top, right, bottom) in the
        middle of the canvas as it is panned now."""
        x0, y0, x1, y1 = self.canvas_rect()
        px, py = self.pan()
        self.shift(((x1 - x0) / 2 - px - (left + right) / 2,
                    (y1 - y0) / 2 - py - (top + bottom) / 2))

    def flash(self, nid: str, frames: int = 90) -> None:
        """Light a node's title for a moment (where "go to" took the view)."""
        item = self.node_items.get(nid)
        if item is None:
            return
        dpg.bind_item_theme(item, "found_theme")
        self.app.soon(lambda: self.restore_theme(nid), frames=frames)

    def restore_theme(self, nid: str) -> None:
        item, view = self.node_items.get(nid), self.shown[0].get(nid)
        if item is not None and view is not None and dpg.does_item_exist(item):
            dpg.bind_item_theme(item, theme_for(view))

    def hovered_node(self) -> str | None:
        """The node under the mouse: its title, its body or its widgets."""
        x, y = dpg.get_mouse_pos(local=False)
        for nid, item in self.node_items.items():
            if not dpg.is_item_visible(item):
                continue
            (x0, y0), (x1, y1) = dpg.get_item_rect_min(item), dpg.get_item_rect_max(item)
            if x0 <= x <= x1 and y0 <= y <= y1:
                return nid
        return None

    # ============================================================== gestures
    def poll_moves(self) -> None:
        """After a drag ends: record where the nodes went (one undoable step), a lone
        node dropped onto a link goes into it; a link dragged from a pin and let go
        in empty space opens the palette of nodes that fit there."""
        down = dpg.is_mouse_button_down(dpg.mvMouseButton_Left)
        if down and not self.mouse_was_down:
            self.pressed_pin = self.hovered_pin()
            self.pressed_at = dpg.get_mouse_pos(local=False)
            self.linked = False
        if self.mouse_was_down and not down:
            moved = {}
            for nid, item in self.node_items.items():
                x, y = dpg.get_item_pos(item)
                pos = (x - self.offset[0], y - self.offset[1])
                view = self.shown[0].get(nid)
                if view is not None and (abs(view.pos[0] - pos[0]) > 0.5
                                         or abs(view.pos[1] - pos[1]) > 0.5):
                    moved[nid] = pos
            dropped = len(moved) == 1 and self.drop_on_link(*next(iter(moved.items())))
            if moved and not dropped:
                self.app.edit(self.app.session.move_nodes, moved)
            elif not moved and self.pressed_pin is not None:
                pin, at = self.pressed_pin, dpg.get_mouse_pos(local=False)
                far = abs(at[0] - self.pressed_at[0]) + abs(at[1] - self.pressed_at[1]) > 20
                if far and self.hovered_node() is None and dpg.is_item_hovered("editor"):
                    self.app.soon(lambda: self.linked or
                                  self.app.palette.show_at_mouse(pin=pin))
            self.pressed_pin = None
        self.mouse_was_down = down

    def hovered_pin(self) -> str | None:
        """The pin ("node.port") under the mouse."""
        for attr, pin in self.pins.items():
            if dpg.is_item_hovered(attr):
                return pin
        return None

    def drop_on_link(self, nid: str, pos: tuple[float, float]) -> bool:
        """A node with no links dropped onto a link goes into it (src -> node -> dst,
        one step); False if it was not dropped on one, or cannot go in."""
        cls = self.app.session.graph.nodes[nid].node_class()
        if cls is None or cls.default_input() is None or cls.default_output() is None:
            return False                                 # (a source, an output)
        if any(nid in (k[0].split(".")[0], k[1].split(".")[0]) for k in self.link_items):
            return False
        (x0, y0), (x1, y1) = (dpg.get_item_rect_min(self.node_items[nid]),
                              dpg.get_item_rect_max(self.node_items[nid]))
        for key in self.link_items:
            a, b = self.pin_point(key[0]), self.pin_point(key[1])
            if a is None or b is None:
                continue
            if any(x0 + 4 <= x <= x1 - 4 and y0 + 4 <= y <= y1 - 4
                   for x, y in link_curve(a, b)):
                done = self.app.edit(self.app.session.insert_on_link, nid, key, pos)
                if done:
                    self.app.status(f"inserted {nid} into {key[0]} -> {key[1]} "
                                    "(Ctrl+Z undoes)")
                return bool(done)
        return False

    def pin_point(self, pin: str) -> tuple[float, float] | None:
        """Where a pin is drawn in the viewport: its node's edge, its row's middle."""
        attr = next((a for a, p in self.pins.items() if p == pin), None)
        item = self.node_items.get(pin.split(".")[0])
        if attr is None or item is None or not dpg.is_item_visible(item):
            return None
        rows = dpg.get_item_children(attr, 1) or []
        if not rows:
            return None
        (_, ty0), (_, ty1) = dpg.get_item_rect_min(rows[0]), dpg.get_item_rect_max(rows[0])
        edge = dpg.get_item_rect_min(item)[0] if self.app.session.pin_is_input(pin) \
            else dpg.get_item_rect_max(item)[0]
        return edge, (ty0 + ty1) / 2

    def on_link(self, sender, app_data) -> None:
        a, b = app_data[0], app_data[1]
        src, dst = self.pins.get(a), self.pins.get(b)
        self.linked = True
        if src is None or dst is None:
            return
        self.app.edit(self.app.session.connect, src, dst)

    def on_delink(self, sender, link_item) -> None:
        key = next((k for k, v in self.link_items.items() if v == link_item), None)
        if key is not None:
            self.app.edit(self.app.session.disconnect, *key)

    def selected_nodes(self) -> list[str]:
        items = set(dpg.get_selected_nodes("editor"))
        return [nid for nid, item in self.node_items.items() if item in items]

    def delete_selected(self) -> None:
        """Delete the selected nodes, with their links; or, when no node is selected,
        the selected links.  (A box selection also selects every link that crosses the
        box: those are not what was meant, so they are kept.)  One undoable step."""
        nodes = self.selected_nodes()
        items = set(dpg.get_selected_links("editor"))
        links = [] if nodes else [k for k, item in self.link_items.items() if item in items]
        if nodes or links:
            self.app.edit(self.app.session.delete, nodes, links)
            n, m = len(nodes), len(links)
            self.app.status("deleted " + (f"{n} node{'s' * (n != 1)}" if n else
                                          f"{m} link{'s' * (m != 1)}") + " (Ctrl+Z undoes)")
        dpg.clear_selected_nodes("editor")
        dpg.clear_selected_links("editor")

    def copy_selected(self) -> None:
        """The selected nodes and the links among them to the clipboard (as plain
        data: they paste into this project or another, here or in another window)."""
        import json

        nodes = self.selected_nodes()
        if not nodes:
            self.app.status("select nodes to copy")
            return
        dpg.set_clipboard_text(json.dumps(self.app.session.clip(nodes)))
        self.app.status(f"copied {len(nodes)} node{'s' * (len(nodes) != 1)}")

    def paste(self) -> None:
        """The clipboard's nodes, their top-left corner under the mouse if it is over
        the canvas, else in the middle of the view."""
        import json

        try:
            clip = json.loads(dpg.get_clipboard_text() or "null")
        except ValueError:
            clip = None
        at = self.model_point(*dpg.get_mouse_pos(local=False)) \
            if dpg.is_item_hovered("editor") else self.visible_centre()
        made = self.app.edit(self.app.session.paste, clip, at)
        if made:
            self.app.status(f"pasted {', '.join(made)}")

    def duplicate_selected(self) -> None:
        nodes = self.selected_nodes()
        if nodes:
            self.app.edit(self.app.session.duplicate, nodes)


def link_curve(a: tuple[float, float], b: tuple[float, float], points: int = 40) -> list:
    """Points along a link as the node editor draws it: a cubic Bezier from an output
    pin to an input pin whose handles reach a quarter of its length sideways."""
    reach = 0.25 * ((b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2) ** 0.5
    c1, c2 = (a[0] + reach, a[1]), (b[0] - reach, b[1])
    out = []
    for i in range(points + 1):
        t = i / points
        u = 1 - t
        out.append((u ** 3 * a[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * b[0],
                    u ** 3 * a[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * b[1]))
    return out


def theme_for(view: canvas.NodeView):
    """The theme a node is drawn with: in trouble, bypassed, or the default (0)."""
    return "problem_theme" if view.problem else "bypass_theme" if view.bypass else 0


def node_theme(tag: str, colours: dict) -> None:
    """A theme for nodes: node colour slot -> colour."""
    with dpg.theme(tag=tag):
        with dpg.theme_component(dpg.mvNode):
            for slot, colour in colours.items():
                dpg.add_theme_color(slot, colour, category=dpg.mvThemeCat_Nodes)
