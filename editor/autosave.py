"""Unsaved work kept safe: the window autosaves a changed project every little while
(:mod:`recovery` keeps the files), and on the next start offers to recover what a
crash left behind."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import Graph, MixgraphError

from . import recovery
from .dialogs import centre

if TYPE_CHECKING:
    from pathlib import Path

    from .app import EditorApp

AUTOSAVE_S = 20.0


class Autosave:
    def __init__(self, app: EditorApp):
        self.app = app
        self.last = time.monotonic()
        self._found: Path | None = None

    def build(self) -> None:
        with dpg.window(tag="recover_window", label="Recover", show=False, modal=True,
                        width=460, height=120):
            dpg.add_text("", tag="recover_text", wrap=440)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Recover", callback=lambda: self._recover(True))
                dpg.add_button(label="Discard", callback=lambda: self._recover(False))

    def tick(self) -> None:
        """Keep the unsaved changes once every ``AUTOSAVE_S`` seconds."""
        session = self.app.session
        if session.dirty and time.monotonic() - self.last > AUTOSAVE_S:
            try:
                recovery.autosave(session)
            except MixgraphError:
                pass
            self.last = time.monotonic()

    def offer_recovery(self) -> bool:
        session = self.app.session
        found = recovery.pending(session.path)
        if found is None:
            return False
        self._found = found
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(found.stat().st_mtime))
        dpg.set_value("recover_text", f"mixgraph did not close cleanly. Unsaved changes to "
                                      f"{session.title} from {stamp} were kept. "
                                      "Recover them?")
        centre("recover_window")
        dpg.show_item("recover_window")
        return True

    def _recover(self, yes: bool) -> None:
        dpg.hide_item("recover_window")
        session = self.app.session
        if yes:
            doc = recovery.recovered_document(self._found)
            g = Graph.from_document(doc, base_dir=session.graph.base_dir)
            session.replace_graph(g, "recover")
            self.app.status("recovered unsaved changes")
        else:
            recovery.clear(session.path)
