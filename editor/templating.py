"""Templates and versions from the window: a new project from a template and a stems
folder, the open project saved as a template, and a named version of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import MixgraphError

from .session import Session

if TYPE_CHECKING:
    from .app import EditorApp


class Templating:
    def __init__(self, app: EditorApp):
        self.app = app

    def build(self) -> None:
        with dpg.file_dialog(tag="stems_dialog", show=False, directory_selector=True,
                             width=700, height=420,
                             callback=lambda s, a: self.new_from_template(
                                 dpg.get_value("template_choice"), a["file_path_name"])):
            pass
        with dpg.window(tag="template_window", label="New from template", show=False,
                        modal=True, width=560, height=330):
            dpg.add_combo(tag="template_choice", width=-1, items=[])
            dpg.add_text("", tag="template_about", wrap=540)
            dpg.add_text("Assign files to slots (FILE=SLOT, one per line):")
            dpg.add_input_text(tag="template_assign", multiline=True, width=-1, height=50)
            dpg.add_text("Ignore files whose names fit (one pattern per line):")
            dpg.add_input_text(tag="template_ignore", multiline=True, width=-1, height=40)
            dpg.add_checkbox(tag="template_leave_out",
                             label="leave out what no slot or catch-all takes")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Choose stems folder...",
                               callback=lambda: (dpg.hide_item("template_window"),
                                                 dpg.show_item("stems_dialog")))
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("template_window"))

    def open_template_dialog(self) -> None:
        from mixgraph.workflows.templates import list_templates

        found = list_templates()
        dpg.configure_item("template_choice", items=[t.name for t in found],
                           callback=lambda s, v: dpg.set_value(
                               "template_about", next(t.description for t in found
                                                      if t.name == v)))
        if found:
            dpg.set_value("template_choice", found[0].name)
            dpg.set_value("template_about", found[0].description)
        dpg.show_item("template_window")

    def new_from_template(self, name: str, stems: str) -> None:
        from mixgraph.workflows.binding import bind, parse_assignments
        from mixgraph.workflows.templates import load_template

        def lines(tag: str) -> list[str]:
            return [t for t in str(dpg.get_value(tag) or "").splitlines() if t.strip()]

        try:
            template = load_template(name)
            graph, binding = bind(template, Path(stems), Path(stems).resolve().parent,
                                  assign=parse_assignments(lines("template_assign")),
                                  ignore=lines("template_ignore"),
                                  leave_out=bool(dpg.get_value("template_leave_out")))
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
            return
        session = Session(graph)
        session.dirty = True
        self.app.replace_session(session)
        self.show_binding(binding)
        self.app.status(f"bound {len(binding.of('bound'))} files to {name}; see the "
                        "binding table")

    def show_binding(self, binding) -> None:
        """The binding table in a window of its own (every file's fate and why)."""
        if dpg.does_item_exist("binding_window"):
            dpg.delete_item("binding_window")
        with dpg.window(tag="binding_window", label="Binding", width=900, height=360):
            for line in binding.lines():
                dpg.add_text(line)

    def save_template(self, name: str) -> None:
        from mixgraph.workflows.templates import save_user_template

        try:
            target = save_user_template(self.app.session.graph, name, overwrite=True)
            self.app.status(f"saved template {name!r} ({target})")
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)

    def save_version(self, name: str) -> None:
        from mixgraph.workflows.versions import save_version

        session = self.app.session
        if session.path is None or session.dirty:
            if not self.app.files.save():
                return
        try:
            v = save_version(self.app.session.path, name)
            self.app.status(f"saved version {v.id}")
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
