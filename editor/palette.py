"""Adding nodes and acting on one: the node palette (Tab, or a right-click on the
canvas) and a node's right-click menu (rename, duplicate, delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .session import palette

if TYPE_CHECKING:
    from .app import EditorApp


class Palette:
    def __init__(self, app: EditorApp):
        self.app = app
        self.pos = (60.0, 60.0)                # where the next node goes (canvas)

    def build(self) -> None:
        with dpg.window(tag="palette", label="Add node", show=False, width=360, height=420,
                        modal=False, no_collapse=True):
            dpg.add_input_text(tag="palette_filter", hint="search: eq, reverb, limit ...",
                               width=-1, callback=lambda: self.fill())
            self.app.text_inputs.add(dpg.last_item())
            dpg.add_child_window(tag="palette_list", height=-1)

    def fill(self) -> None:
        dpg.delete_item("palette_list", children_only=True)
        for name, category, summary in palette(dpg.get_value("palette_filter")):
            dpg.add_button(label=f"{name:<22} {category}", parent="palette_list", width=-1,
                           callback=lambda s, a, u: self.add(u), user_data=name)
            with dpg.tooltip(dpg.last_item()):
                dpg.add_text(summary)

    def show(self, pos: tuple[float, float] | None = None) -> None:
        if pos is not None:
            self.pos = pos
        dpg.set_value("palette_filter", "")
        self.fill()
        dpg.show_item("palette")
        dpg.focus_item("palette_filter")

    def show_at_mouse(self) -> None:
        """Open the palette where the canvas was right-clicked; the node goes there."""
        x, y = dpg.get_mouse_pos(local=True)
        offset = self.app.board.offset
        self.show((x - offset[0], y - offset[1] - 40))
        dpg.configure_item("palette", pos=dpg.get_mouse_pos(local=False))

    def add(self, type_name: str) -> str | None:
        dpg.hide_item("palette")
        return self.app.edit(self.app.session.add_node, type_name, self.pos)


class NodeMenu:
    def __init__(self, app: EditorApp):
        self.app = app
        self.node: str | None = None

    def build(self) -> None:
        with dpg.window(tag="node_menu", show=False, popup=True, no_title_bar=True):
            dpg.add_text("", tag="node_menu_title")
            dpg.add_button(label="Rename...", width=150, callback=lambda: self.rename())
            dpg.add_button(label="Duplicate", width=150,
                           callback=lambda: self.apply(self.app.session.duplicate))
            dpg.add_button(label="Delete", width=150,
                           callback=lambda: self.apply(self.app.session.remove_nodes))

    def open(self, nid: str) -> None:
        self.node = nid
        dpg.set_value("node_menu_title", nid)
        dpg.configure_item("node_menu", pos=dpg.get_mouse_pos(local=False))
        dpg.show_item("node_menu")

    def apply(self, fn) -> None:
        dpg.hide_item("node_menu")
        if self.node:
            self.app.edit(fn, [self.node])

    def rename(self) -> None:
        dpg.hide_item("node_menu")
        old = self.node
        if old:
            self.app.dialogs.ask_text(f"Rename {old}", old, lambda new: self.app.edit(
                self.app.session.rename, old, new))
