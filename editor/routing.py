"""The routing matrix (View > Routing): sources, strips, sends and returns against the
groups, buses and effect returns they may feed (:func:`strips.routing`).  A ticked cell is a link from
the row's output to the column's input; clicking a cell makes or removes it, as the
session's edit (undoable; a cycle is refused with its reason), so the matrix and the
canvas are two views of one graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .dialogs import ToggledWindow
from .strips import routing

if TYPE_CHECKING:
    from .app import EditorApp


class RoutingView(ToggledWindow):
    tag = "routing"

    def __init__(self, app: EditorApp):
        self.app = app
        self.shown_shape: tuple = ()
        self.cells: dict[tuple[str, str], int] = {}

    def build(self) -> None:
        with dpg.window(tag="routing", label="Routing", show=False, width=560, height=520,
                        pos=(820, 90), no_collapse=True):
            dpg.add_group(tag="routing_table")

    def sync(self, force: bool = False) -> None:
        """Redraw the table if its rows or columns changed, else tick what is linked.
        Nothing while the matrix is closed (opening it syncs)."""
        if not dpg.does_item_exist("routing_table") or not (force or self.shown):
            return
        now = routing(self.app.session.graph)
        shape = (tuple(now.rows), tuple(now.columns))
        if shape != self.shown_shape:
            self.draw(now)
            self.shown_shape = shape
        for key, item in self.cells.items():
            dpg.set_value(item, key in now.linked)

    def draw(self, now) -> None:
        dpg.delete_item("routing_table", children_only=True)
        self.cells = {}
        with dpg.table(parent="routing_table", header_row=True, borders_innerV=True,
                       borders_outerH=True, scrollY=True, height=-1, freeze_rows=1,
                       policy=dpg.mvTable_SizingFixedFit):
            dpg.add_table_column(label="from \\ to")
            for column in now.columns:
                dpg.add_table_column(label=column)
            for row in now.rows:
                with dpg.table_row():
                    dpg.add_text(row)
                    for column in now.columns:
                        self.cells[(row, column)] = dpg.add_checkbox(
                            default_value=(row, column) in now.linked,
                            user_data=(row, column),
                            callback=lambda s, v, u: self.set(*u, v))

    def set(self, row: str, column: str, on: bool) -> None:
        session = self.app.session
        if on:
            self.app.edit(session.connect, row, column)
        else:
            self.app.edit(session.disconnect, f"{row}.out", f"{column}.in")
        self.sync(force=True)                      # a refused edit: the tick goes back
