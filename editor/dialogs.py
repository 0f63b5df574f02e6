"""The window's questions: a name to type (a template, a version, a node's new id), and
"save the unsaved changes first?" before an action that leaves the project."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable

import dearpygui.dearpygui as dpg

from . import recovery

if TYPE_CHECKING:
    from .app import EditorApp


class Dialogs:
    def __init__(self, app: EditorApp):
        self.app = app
        self.pending_action: Callable[[], None] | None = None
        self._then: Callable[[str], None] | None = None

    def build(self) -> None:
        with dpg.window(tag="ask_window", label="", show=False, modal=True, width=420,
                        height=110):
            dpg.add_input_text(tag="ask_value", width=-1, on_enter=True,
                               callback=lambda: self._answer())
            self.app.text_inputs.add(dpg.last_item())
            with dpg.group(horizontal=True):
                dpg.add_button(label="OK", callback=lambda: self._answer())
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("ask_window"))
        with dpg.window(tag="confirm_window", label="Unsaved changes", show=False, modal=True,
                        width=420, height=110):
            dpg.add_text("", tag="confirm_text", wrap=400)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Save", callback=lambda: self._confirm("save"))
                dpg.add_button(label="Discard", callback=lambda: self._confirm("discard"))
                dpg.add_button(label="Cancel", callback=lambda: self._confirm("cancel"))

    # -------------------------------------------------------------- a name
    def ask_text(self, title: str, value: str, then: Callable[[str], None]) -> None:
        self._then = then
        dpg.configure_item("ask_window", label=title)
        dpg.set_value("ask_value", value)
        centre("ask_window")
        dpg.show_item("ask_window")
        dpg.focus_item("ask_value")

    def _answer(self) -> None:
        dpg.hide_item("ask_window")
        value = dpg.get_value("ask_value").strip()
        if value and self._then is not None:
            self._then(value)

    # ------------------------------------------------------ unsaved changes
    def guard(self, action: Callable[[], None]) -> None:
        """Run an action that leaves this project, asking about unsaved changes first
        (playing stops first: a ride being recorded becomes one of the changes)."""
        self.app.playback.stop()
        session = self.app.session
        if not session.dirty:
            action()
            return
        self.pending_action = action
        dpg.set_value("confirm_text", f"{session.title.rstrip(' *')} has unsaved "
                                      "changes. Save them first?")
        centre("confirm_window")
        dpg.show_item("confirm_window")

    def _confirm(self, choice: str) -> None:
        dpg.hide_item("confirm_window")
        action, self.pending_action = self.pending_action, None
        if choice == "cancel" or action is None:
            return
        if choice == "save" and not self.app.files.save():
            return
        recovery.clear(self.app.session.path)
        self.app.soon(action)                  # once this dialog has closed: the action
        #                                        may open a dialog of its own


def centre(window, width: int | None = None, height: int | None = None) -> None:
    """Put a window in the middle of the viewport."""
    w = width or dpg.get_item_width(window) or 400
    h = height or dpg.get_item_height(window) or 200
    x = (dpg.get_viewport_client_width() - w) // 2
    y = (dpg.get_viewport_client_height() - h) // 3
    dpg.configure_item(window, pos=(max(0, int(x)), max(0, int(y))))


def shift_down() -> bool:
    """Whether a Shift key is held."""
    return dpg.is_key_down(dpg.mvKey_LShift) or dpg.is_key_down(dpg.mvKey_RShift)


def shown(tag) -> bool:
    """Whether a window (or any item) exists and shows."""
    return dpg.does_item_exist(tag) and dpg.is_item_shown(tag)


class ToggledWindow(ABC):
    """A window opened and closed from the View menu (the mixer, the routing matrix,
    the overview, the lanes): ``tag`` names it; ``sync(force=True)`` brings it up to
    date as it opens."""

    tag = ""

    @property
    def shown(self) -> bool:
        return shown(self.tag)

    def toggle(self) -> None:
        if self.shown:
            dpg.hide_item(self.tag)
        else:
            self.sync(force=True)
            dpg.show_item(self.tag)
            dpg.focus_item(self.tag)

    @abstractmethod
    def sync(self, force: bool = False) -> None:
        """Draw the window from the model (only while it shows, unless forced)."""
