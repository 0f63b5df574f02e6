"""The project's versions in the window (File > Versions...): each saved version with its
name and date, what differs between it and the project now (in the words ``mixgraph
diff`` prints), Restore (what is there now is kept as a version first, as
``mixgraph version restore`` does) and Render (for an A/B with other renders)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import MixgraphError

from .dialogs import centre
from .session import Session

if TYPE_CHECKING:
    from .app import EditorApp


class VersionsView:
    def __init__(self, app: EditorApp):
        self.app = app
        self.rows: dict[str, tuple[int, int, int]] = {}   # version id -> its buttons:
        #                                                   diff, restore, render

    def build(self) -> None:
        with dpg.window(tag="versions_window", label="Versions", show=False, width=760,
                        height=520, no_collapse=True):
            dpg.add_text("", tag="versions_note", wrap=720)
            dpg.add_group(tag="versions_list")
            dpg.add_separator()
            dpg.add_text("", tag="versions_diff_title")
            dpg.add_input_text(tag="versions_diff", multiline=True, readonly=True,
                               width=-1, height=-1)

    def open(self) -> None:
        """List the versions of the project as saved (a project never saved has none)."""
        from mixgraph.workflows.versions import list_versions

        session = self.app.session
        dpg.delete_item("versions_list", children_only=True)
        dpg.set_value("versions_diff_title", "")
        dpg.set_value("versions_diff", "")
        self.rows = {}
        found = list_versions(session.path) if session.path else []
        note = ("save the project, then File > Save version... keeps a copy"
                if session.path is None else
                f"{len(found)} version{'s' * (len(found) != 1)} of {session.path.name}"
                + (" (Diff compares with the project as it is in the window, unsaved "
                   "changes included)" if session.dirty else ""))
        dpg.set_value("versions_note", note)
        for v in reversed(found):                        # newest first
            with dpg.group(horizontal=True, parent="versions_list"):
                diff = dpg.add_button(label="Diff", user_data=v.id,
                                      callback=lambda s, a, u: self.show_diff(u))
                restore = dpg.add_button(label="Restore", user_data=v.id,
                                         callback=lambda s, a, u: self.restore(u))
                render = dpg.add_button(label="Render", user_data=v.id,
                                        callback=lambda s, a, u: self.render(u))
                dpg.add_text(f"{v.created:%Y-%m-%d %H:%M:%S}  {v.name or '(no name)'}")
            self.rows[v.id] = (diff, restore, render)
        centre("versions_window")
        dpg.show_item("versions_window")

    def show_diff(self, vid: str) -> None:
        """What changed from that version to the project as it is in the window."""
        from mixgraph import load
        from mixgraph.workflows.diff import diff
        from mixgraph.workflows.versions import find_version

        try:
            v = find_version(self.app.session.path, vid)
            lines = diff(load(v.path), self.app.session.graph)
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
            return
        dpg.set_value("versions_diff_title", f"from {v.name or v.id} to now:")
        dpg.set_value("versions_diff", "\n".join(lines) or "no differences (layout aside)")

    def render(self, vid: str) -> None:
        """Render the version (into a folder of its own) for an A/B with other renders."""
        from mixgraph import load
        from mixgraph.workflows.versions import find_version

        try:
            v = find_version(self.app.session.path, vid)
            graph = load(v.path)
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
            return
        graph.rebase(self.app.session.path.parent)    # its files named as the project's
        self.app.rendering.start(graph, label=f"version {v.name or v.id}")

    def restore(self, vid: str) -> None:
        """Put the version back (asking about unsaved changes first)."""
        self.app.dialogs.guard(lambda: self._restore(vid))

    def _restore(self, vid: str) -> None:
        from mixgraph.workflows.versions import restore_version

        path = self.app.session.path
        try:
            chosen, backup = restore_version(path, vid)
            self.app.replace_session(Session.open(path))
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
            return
        dpg.hide_item("versions_window")
        self.app.status(f"restored {chosen.name or chosen.id}; what was there is kept as "
                        f"version {backup.id}")
