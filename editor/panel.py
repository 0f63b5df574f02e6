"""The inspector panel: every parameter of the node in focus that its compact node on
the canvas does not show (the node selected; else the one last added), with the same
widgets and edits as on the canvas, and the node's id, type and state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .canvas import param_views

if TYPE_CHECKING:
    from .app import EditorApp

PANEL_W = 340


class NodePanel:
    def __init__(self, app: EditorApp):
        self.app = app
        self.node: str | None = None         # the node in focus
        self.shown: tuple = ()               # what the panel was drawn for
        self.items: dict[tuple[str, str], int | None] = {}   # its widgets

    def build(self) -> None:
        """The panel, right of the canvas (inside the main window's row)."""
        with dpg.child_window(tag="node_panel", width=PANEL_W, height=-28, border=True):
            dpg.add_text("Inspector", color=(150, 150, 150))
            dpg.add_text("select a node", tag="node_panel_title")
            dpg.add_separator()
            dpg.add_group(tag="node_panel_body")

    def focus(self, nid: str | None) -> None:
        """Show this node's parameters (a node just added, or clicked)."""
        self.node = nid
        self.sync()

    def tick(self) -> None:
        """Follow the selection: one node selected is the one in focus."""
        selected = self.app.board.selected_nodes()
        if len(selected) == 1 and selected[0] != self.node:
            self.focus(selected[0])

    def sync(self) -> None:
        """Draw the panel again if the node in focus, or what it shows, changed; else
        put the model's values into its widgets."""
        if not dpg.does_item_exist("node_panel_body"):
            return
        graph = self.app.session.graph
        if self.node not in graph.nodes:
            self.node = None
        view = self.app.board.shown[0].get(self.node)
        on_node = {p.name for p in view.params} if view is not None else set()
        views = [p for p in param_views(graph, self.node) if p.name not in on_node] \
            if self.node else []
        shape = (self.node, tuple((p.name, p.spec.kind, p.automated) for p in views),
                 graph.nodes[self.node].bypass if self.node else None)
        if shape == self.shown:
            if self.node:
                self.app.inspector.refresh_params(self.node, views, self.items)
            return
        dpg.delete_item("node_panel_body", children_only=True)
        self.items = {}
        self.shown = shape
        if self.node is None:
            dpg.set_value("node_panel_title", "select a node")
            return
        spec = graph.nodes[self.node]
        dpg.set_value("node_panel_title", f"{self.node}  ({spec.type})"
                      + (f"  - {spec.bypass_words}" if spec.bypass_words else ""))
        dpg.push_container_stack("node_panel_body")
        try:
            for p in views:
                self.app.inspector.draw(self.node, p, self.items)
            if not views:
                dpg.add_text("all its parameters are on the node", color=(140, 140, 140))
            self.lane_buttons(graph)
        finally:
            dpg.pop_container_stack()

    def lane_buttons(self, graph) -> None:
        """A button per automation lane the node can have (opens it)."""
        from .lanes import automatable

        names = automatable(graph, self.node)
        if not names:
            return
        dpg.add_separator()
        dpg.add_text("Lanes (automation):", color=(150, 150, 150))
        row = None
        for k, name in enumerate(names):
            if k % 3 == 0:
                row = dpg.add_group(horizontal=True)
            dpg.add_button(label=name, parent=row, tag=f"lane_button::{self.node}::{name}",
                           user_data=(self.node, name),
                           callback=lambda s, a, u: self.app.lanes.open_lane(*u))
