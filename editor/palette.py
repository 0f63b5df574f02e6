"""Adding nodes and acting on one: the node palette (Tab, or a right-click on the
canvas) and a node's right-click menu (rename, duplicate, delete)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .dialogs import shown
from .session import palette

if TYPE_CHECKING:
    from .app import EditorApp

PALETTE_W, PALETTE_H = 360, 420
ENTER_PAD = getattr(dpg, "mvKey_NumPadEnter", -1)


class Palette:
    """The node palette: type to filter, Up/Down to choose, Enter or a click to add,
    Escape to close.  The node lands where the palette was asked for: the right-click
    on the canvas, the mouse when Tab is pressed over the canvas, else the middle of
    what the canvas shows."""

    def __init__(self, app: EditorApp):
        self.app = app
        self.pos = (60.0, 60.0)                # where the next node goes (canvas)
        self.names: list[str] = []             # the types listed, in order
        self.choice = 0                        # the one Enter adds

    def build(self) -> None:
        with dpg.window(tag="palette", label="Add node", show=False, width=PALETTE_W,
                        height=PALETTE_H, modal=False, no_collapse=True):
            dpg.add_input_text(tag="palette_filter", hint="search: eq, reverb, limit ...",
                               width=-1, callback=lambda: self.fill(), on_enter=False)
            self.app.text_inputs.add(dpg.last_item())
            dpg.add_child_window(tag="palette_list", height=-1)
        with dpg.theme(tag="palette_chosen"):
            with dpg.theme_component(dpg.mvButton):
                dpg.add_theme_color(dpg.mvThemeCol_Button, (60, 100, 160))

    @property
    def shown(self) -> bool:
        return shown("palette")

    def fill(self) -> None:
        dpg.delete_item("palette_list", children_only=True)
        self.names = []
        for name, category, summary in palette(dpg.get_value("palette_filter")):
            dpg.add_button(label=f"{name:<22} {category}", parent="palette_list", width=-1,
                           callback=lambda s, a, u: self.add(u), user_data=name)
            with dpg.tooltip(dpg.last_item()):
                dpg.add_text(summary)
            self.names.append(name)
        self.choose(0)

    def choose(self, index: int) -> None:
        """Highlight entry ``index`` (kept within the list) for Enter."""
        buttons = dpg.get_item_children("palette_list", 1) or []
        if not buttons:
            self.choice = 0
            return
        self.choice = max(0, min(index, len(buttons) - 1))
        for i, b in enumerate(buttons):
            dpg.bind_item_theme(b, "palette_chosen" if i == self.choice else 0)

    def on_key(self, key) -> bool:
        """Escape, Enter, Up and Down while the palette is open; True if taken."""
        if not self.shown:
            return False
        if key == dpg.mvKey_Escape:
            dpg.hide_item("palette")
        elif key in (dpg.mvKey_Return, ENTER_PAD):
            if self.names:
                self.add(self.names[self.choice])
        elif key == dpg.mvKey_Down:
            self.choose(self.choice + 1)
        elif key == dpg.mvKey_Up:
            self.choose(self.choice - 1)
        else:
            return False
        return True

    def show(self, pos: tuple[float, float] | None = None,
             at: tuple[float, float] | None = None) -> None:
        """Open the palette; the node goes to canvas position ``pos`` (default: under
        the mouse if it is over the canvas, else the middle of the view), and the
        window opens at viewport point ``at`` (default: the mouse), kept on screen."""
        board = self.app.board
        mouse = dpg.get_mouse_pos(local=False)
        if pos is None:
            pos = board.model_point(*mouse) if dpg.is_item_hovered("editor") \
                else board.visible_centre()
        self.pos = pos
        dpg.set_value("palette_filter", "")
        self.fill()
        x, y = at or mouse
        width, height = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        dpg.configure_item("palette", pos=(int(max(0, min(x, width - PALETTE_W))),
                                           int(max(0, min(y, height - PALETTE_H)))))
        dpg.show_item("palette")
        dpg.focus_item("palette_filter")

    def show_at_mouse(self) -> None:
        """Open the palette where the canvas was right-clicked; the node goes there."""
        mouse = dpg.get_mouse_pos(local=False)
        self.show(self.app.board.model_point(*mouse), at=mouse)

    def add(self, type_name: str) -> str | None:
        dpg.hide_item("palette")
        made = self.app.edit(self.app.session.add_node, type_name, self.pos)
        if made:
            self.app.panel.focus(made)               # its parameters, in the panel
        return made


class NodeMenu:
    def __init__(self, app: EditorApp):
        self.app = app
        self.node: str | None = None

    def build(self) -> None:
        with dpg.window(tag="node_menu", show=False, popup=True, no_title_bar=True):
            dpg.add_text("", tag="node_menu_title")
            dpg.add_button(label="Rename...", width=150, callback=lambda: self.rename())
            dpg.add_button(label="Bypass", tag="node_menu_bypass", width=150,
                           callback=lambda: self.toggle_bypass())
            dpg.add_button(label="Show all", tag="node_menu_expand", width=150,
                           callback=lambda: self.toggle_expanded())
            dpg.add_button(label="Duplicate", width=150,
                           callback=lambda: self.apply(self.app.session.duplicate))
            dpg.add_button(label="Delete", width=150,
                           callback=lambda: self.apply(self.app.session.remove_nodes))

    def open(self, nid: str) -> None:
        self.node = nid
        dpg.set_value("node_menu_title", nid)
        bypassed = self.app.session.graph.nodes[nid].bypass
        dpg.configure_item("node_menu_bypass", label="Bring back" if bypassed else "Bypass")
        expanded = self.app.session.graph.ui.get(nid, {}).get("expanded", False)
        dpg.configure_item("node_menu_expand", label="Compact" if expanded else "Show all")
        dpg.configure_item("node_menu", pos=dpg.get_mouse_pos(local=False))
        dpg.show_item("node_menu")

    def apply(self, fn) -> None:
        dpg.hide_item("node_menu")
        if self.node:
            self.app.edit(fn, [self.node])

    def on_key(self, key) -> bool:
        """Escape closes the menu; True if taken."""
        if key == dpg.mvKey_Escape and dpg.is_item_shown("node_menu"):
            dpg.hide_item("node_menu")
            return True
        return False

    def toggle_expanded(self) -> None:
        """All the node's parameters on the canvas, or only its key controls."""
        dpg.hide_item("node_menu")
        if self.node:
            on = not self.app.session.graph.ui.get(self.node, {}).get("expanded", False)
            self.app.edit(self.app.session.set_expanded, self.node, on)
            self.app.panel.focus(self.node)

    def toggle_bypass(self) -> None:
        """Bypass the node (its input passes through), or bring it back."""
        dpg.hide_item("node_menu")
        if self.node:
            on = not self.app.session.graph.nodes[self.node].bypass
            self.app.edit(self.app.session.set_bypass, [self.node], on)

    def rename(self) -> None:
        dpg.hide_item("node_menu")
        old = self.node
        if old:                                   # once the menu has closed (a modal
            self.app.soon(lambda: self.app.dialogs.ask_text(   # opened from a closing
                f"Rename {old}", old,                          # popup never shows)
                lambda new: self.app.edit(self.app.session.rename, old, new)))
