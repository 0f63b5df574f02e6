"""Adding nodes and finding them: the node palette (Tab, a right-click on the canvas, or
a link dropped in empty space), going to a node by name (Ctrl+F), and a node's
right-click menu (rename, bypass, duplicate, delete)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .dialogs import shown
from .session import palette

if TYPE_CHECKING:
    from .app import EditorApp

PALETTE_W, PALETTE_H = 360, 420
ENTER_PAD = getattr(dpg, "mvKey_NumPadEnter", -1)


class Chooser(ABC):
    """A window that lists entries filtered by what is typed: Up/Down choose, Enter or a
    click picks, Escape closes.  ``entries`` says what is listed, ``pick`` what a
    choice does; the window is ``tag`` (its field ``tag_filter``, its list ``tag_list``)."""

    tag = ""
    title = ""
    hint = ""

    def __init__(self, app: EditorApp):
        self.app = app
        self.keys: list[str] = []              # the entries listed, in order
        self.choice = 0                        # the one Enter picks

    def build(self) -> None:
        with dpg.window(tag=self.tag, label=self.title, show=False, width=PALETTE_W,
                        height=PALETTE_H, modal=False, no_collapse=True):
            dpg.add_input_text(tag=f"{self.tag}_filter", hint=self.hint, width=-1,
                               callback=lambda: self.fill(), on_enter=False)
            self.app.text_inputs.add(dpg.last_item())
            dpg.add_child_window(tag=f"{self.tag}_list", height=-1)
        if not dpg.does_item_exist("chooser_chosen"):
            with dpg.theme(tag="chooser_chosen"):
                with dpg.theme_component(dpg.mvButton):
                    dpg.add_theme_color(dpg.mvThemeCol_Button, (60, 100, 160))

    @abstractmethod
    def entries(self, query: str) -> list[tuple[str, str, str]]:
        """(key, label, tooltip) of what matches ``query``."""

    @abstractmethod
    def pick(self, key: str) -> None:
        """Do what choosing ``key`` does."""

    @property
    def shown(self) -> bool:
        return shown(self.tag)

    def fill(self) -> None:
        listing = f"{self.tag}_list"
        dpg.delete_item(listing, children_only=True)
        self.keys = []
        for key, label, tip in self.entries(dpg.get_value(f"{self.tag}_filter")):
            dpg.add_button(label=label, parent=listing, width=-1,
                           callback=lambda s, a, u: self._pick(u), user_data=key)
            if tip:
                with dpg.tooltip(dpg.last_item()):
                    dpg.add_text(tip)
            self.keys.append(key)
        self.choose(0)

    def choose(self, index: int) -> None:
        """Highlight entry ``index`` (kept within the list) for Enter."""
        buttons = dpg.get_item_children(f"{self.tag}_list", 1) or []
        if not buttons:
            self.choice = 0
            return
        self.choice = max(0, min(index, len(buttons) - 1))
        for i, b in enumerate(buttons):
            dpg.bind_item_theme(b, "chooser_chosen" if i == self.choice else 0)

    def on_key(self, key) -> bool:
        """Escape, Enter, Up and Down while the window is open; True if taken."""
        if not self.shown:
            return False
        if key == dpg.mvKey_Escape:
            dpg.hide_item(self.tag)
        elif key in (dpg.mvKey_Return, ENTER_PAD):
            if self.keys:
                self._pick(self.keys[self.choice])
        elif key == dpg.mvKey_Down:
            self.choose(self.choice + 1)
        elif key == dpg.mvKey_Up:
            self.choose(self.choice - 1)
        else:
            return False
        return True

    def open(self, at: tuple[float, float] | None = None, title: str | None = None) -> None:
        """Show the window at viewport point ``at`` (default: the mouse), kept on
        screen, with an empty filter."""
        dpg.configure_item(self.tag, label=title or self.title)
        dpg.set_value(f"{self.tag}_filter", "")
        self.fill()
        x, y = at or dpg.get_mouse_pos(local=False)
        width, height = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        dpg.configure_item(self.tag, pos=(int(max(0, min(x, width - PALETTE_W))),
                                          int(max(0, min(y, height - PALETTE_H)))))
        dpg.show_item(self.tag)
        dpg.focus_item(f"{self.tag}_filter")

    def _pick(self, key: str) -> None:
        dpg.hide_item(self.tag)
        self.pick(key)


class Palette(Chooser):
    """The node palette.  The node lands where the palette was asked for: the
    right-click on the canvas, the mouse when Tab is pressed over the canvas, else the
    middle of what the canvas shows.  Opened by a link dragged from a pin into empty
    space, it lists only the nodes with a port that fits, and links the new one."""

    tag = "palette"
    title = "Add node"
    hint = "search: eq, reverb, limit ..."

    def __init__(self, app: EditorApp):
        super().__init__(app)
        self.pos = (60.0, 60.0)                # where the next node goes (canvas)
        self.pin: str | None = None            # "node.port" the new node is linked to

    def entries(self, query: str) -> list[tuple[str, str, str]]:
        fits = None if self.pin is None else self.app.session.fitting_types(self.pin)
        return [(name, f"{name:<22} {category}", summary)
                for name, category, summary in palette(query)
                if fits is None or name in fits]

    def show(self, pos: tuple[float, float] | None = None,
             at: tuple[float, float] | None = None, pin: str | None = None) -> None:
        """Open the palette; the node goes to canvas position ``pos`` (default: under
        the mouse if it is over the canvas, else the middle of the view), and the
        window opens at viewport point ``at`` (default: the mouse).  With ``pin``, only
        nodes that can link to it are listed, and the one added is linked."""
        board = self.app.board
        if pos is None:
            pos = board.model_point(*dpg.get_mouse_pos(local=False)) \
                if dpg.is_item_hovered("editor") else board.visible_centre()
        self.pos, self.pin = pos, pin
        self.open(at, title=f"Add a node linked to {pin}" if pin else None)

    def show_at_mouse(self, pin: str | None = None) -> None:
        """Open the palette where the canvas was right-clicked (or a link was dropped);
        the node goes there."""
        mouse = dpg.get_mouse_pos(local=False)
        self.show(self.app.board.model_point(*mouse), at=mouse, pin=pin)

    def pick(self, key: str) -> None:
        self.add(key)

    def add(self, type_name: str) -> str | None:
        dpg.hide_item(self.tag)
        session = self.app.session
        if self.pin is not None:
            made = self.app.edit(session.add_linked, type_name, self.pos, self.pin)
        else:
            made = self.app.edit(session.add_node, type_name, self.pos)
        if made:
            self.app.panel.focus(made)               # its parameters, in the panel
        return made


class GoTo(Chooser):
    """Go to a node (Ctrl+F): type part of its id or type, Enter: the canvas shows it
    in the middle, in focus in the inspector."""

    tag = "goto"
    title = "Go to node"
    hint = "node id or type: kick, comp, master ..."

    def entries(self, query: str) -> list[tuple[str, str, str]]:
        words = query.lower().split()
        return [(spec.id, f"{spec.id:<24} {spec.type}", "")
                for spec in self.app.session.graph
                if all(w in f"{spec.id} {spec.type}".lower() for w in words)]

    def show(self) -> None:
        w, _ = dpg.get_item_rect_size("editor") or (800, 0)
        x, y = dpg.get_item_rect_min("editor") or (0, 0)
        self.open(at=(x + (w - PALETTE_W) / 2, y + 40))

    def pick(self, key: str) -> None:
        self.app.board.go_to(key)


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
        bypassed = self.app.session.graph.nodes[nid].bypassed
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
            spec = self.app.session.graph.nodes[self.node]
            had_lane = spec.switched
            self.app.edit(self.app.session.set_bypass, [self.node], not spec.bypassed)
            if had_lane:
                self.app.status(f"{self.node}: its bypass lane gave way to a bypass all "
                                "the time (Ctrl+Z brings the lane back)")

    def rename(self) -> None:
        dpg.hide_item("node_menu")
        old = self.node
        if old:                                   # once the menu has closed (a modal
            self.app.soon(lambda: self.app.dialogs.ask_text(   # opened from a closing
                f"Rename {old}", old,                          # popup never shows)
                lambda new: self.app.edit(self.app.session.rename, old, new)))
