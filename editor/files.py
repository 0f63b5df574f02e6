"""The project's file: new, open, save and save as (with their file choosers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import MixgraphError

from . import recovery
from .session import Session

if TYPE_CHECKING:
    from .app import EditorApp


class Files:
    def __init__(self, app: EditorApp):
        self.app = app

    def build(self) -> None:
        with dpg.file_dialog(tag="open_dialog", show=False, width=700, height=420,
                             callback=lambda s, a: self.open_path(a["file_path_name"])):
            dpg.add_file_extension(".mgraph")
            dpg.add_file_extension(".json")
        with dpg.file_dialog(tag="save_dialog", show=False, width=700, height=420,
                             callback=lambda s, a: self.save(a["file_path_name"])):
            dpg.add_file_extension(".mgraph")
            dpg.add_file_extension(".json")

    def new_empty(self) -> None:
        self.app.replace_session(Session())

    def open_dialog(self) -> None:
        dpg.show_item("open_dialog")

    def open_path(self, path: str) -> None:
        try:
            self.app.replace_session(Session.open(path))
            self.app.status(f"opened {path}")
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)

    def save(self, path: str | None = None) -> bool:
        session = self.app.session
        if path is None and session.path is None:
            self.save_as_dialog()
            return False
        try:
            target = session.save(path)
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
            return False
        recovery.clear(None)
        recovery.clear(target)
        dpg.set_viewport_title(self.app.title())
        self.app.status(f"saved {target}")
        return True

    def save_as_dialog(self) -> None:
        dpg.show_item("save_dialog")
