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
                             default_filename="untitled",
                             callback=lambda s, a: self.save(chosen_path(a))):
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
        path = self.app.session.path
        dpg.configure_item("save_dialog", default_filename=path.stem if path else "untitled")
        dpg.show_item("save_dialog")


def chosen_path(answer: dict) -> str:
    """The path a file chooser's answer names: a typed absolute path as it is; a name
    in the folder shown; never a hidden file (leading dots are the chooser's, not
    the user's)."""
    from pathlib import Path

    name = answer.get("file_name") or ""
    folder = answer.get("current_path") or ""
    typed = Path(name)
    if typed.is_absolute():
        return str(typed)
    if not name:
        return answer["file_path_name"]
    clean = typed.name.lstrip(".") or "untitled"
    return str(Path(folder) / typed.parent / clean)
