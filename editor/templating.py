"""Templates and versions from the window: a new project from a template and a stems
folder, the open project saved as a template, and a named version of it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import MixgraphError

from .session import Session
from .dialogs import centre

if TYPE_CHECKING:
    from .app import EditorApp


UNMATCHED_CHOICES = ("error", "catch_all", "leave_out")


def rule_fields(rules: dict) -> dict[str, str]:
    """A template's rules as the text of the rules window's fields."""
    words = rules.get("vocabulary") or {}
    return {"description": str(rules.get("description", "")),
            "unmatched": str(rules.get("unmatched", "error")),
            "catch_all_into": str(rules.get("catch_all_into", "")),
            "ignore_families": ", ".join(rules.get("ignore_families") or []),
            "ignore": "\n".join(rules.get("ignore") or []),
            "vocabulary": "\n".join(f"{fam}: {', '.join(ws)}" for fam, ws in words.items())}


def rules_from_fields(fields: dict[str, str], old: dict) -> dict:
    """The rules the fields say (keys the window does not show are kept from ``old``);
    MixgraphError for a vocabulary line that is not 'family: word, word'."""
    def items(text: str, sep: str) -> list[str]:
        return [w.strip() for w in text.replace("\n", sep).split(sep) if w.strip()]

    rules = dict(old)
    rules["description"] = fields["description"].strip()
    rules["unmatched"] = fields["unmatched"]
    if fields["unmatched"] == "catch_all":
        rules["catch_all_into"] = fields["catch_all_into"]
    else:
        rules.pop("catch_all_into", None)
    rules["ignore_families"] = items(fields["ignore_families"], ",")
    rules["ignore"] = items(fields["ignore"], "\n")
    vocabulary = {}
    for line in fields["vocabulary"].splitlines():
        if not line.strip():
            continue
        family, colon, words = line.partition(":")
        if not colon or not family.strip():
            raise MixgraphError(f"vocabulary line {line.strip()!r}: write it as "
                                "'family: word, word'")
        vocabulary[family.strip().lower()] = [w.lower() for w in items(words, ",")]
    rules["vocabulary"] = vocabulary
    for key in ("ignore", "ignore_families", "vocabulary"):
        if not rules[key]:
            rules.pop(key)
    return rules


class Templating:
    def __init__(self, app: EditorApp):
        self.app = app

    def build(self) -> None:
        self.build_rules_window()
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
        centre("template_window")
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

    def build_rules_window(self) -> None:
        with dpg.window(tag="rules_window", label="Template rules", show=False, modal=True,
                        width=560, height=430):
            dpg.add_text("Description:")
            dpg.add_input_text(tag="rules_description", width=-1)
            dpg.add_text("A file no slot takes:")
            dpg.add_combo(UNMATCHED_CHOICES, tag="rules_unmatched", width=200)
            dpg.add_text("Catch-all into (node):")
            dpg.add_combo([], tag="rules_catch_all_into", width=-1)
            dpg.add_text("Ignore families (comma separated):")
            dpg.add_input_text(tag="rules_ignore_families", width=-1)
            dpg.add_text("Ignore file names (one pattern per line):")
            dpg.add_input_text(tag="rules_ignore", multiline=True, width=-1, height=50)
            dpg.add_text("Vocabulary (family: word, word; one family per line):")
            dpg.add_input_text(tag="rules_vocabulary", multiline=True, width=-1, height=60)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Apply", tag="rules_apply",
                               callback=lambda: self.apply_rules())
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("rules_window"))

    def open_rules(self) -> None:
        """Edit > Template rules...: the open template's rules in a window."""
        graph = self.app.session.graph
        if graph.kind != "template":
            self.app.status("this project is not a template: save it as one first "
                            "(File > Save as template...)", error=True)
            return
        dpg.configure_item("rules_catch_all_into", items=list(graph.nodes))
        for key, text in rule_fields(graph.template).items():
            dpg.set_value(f"rules_{key}", text)
        centre("rules_window")
        dpg.show_item("rules_window")

    def apply_rules(self) -> None:
        fields = {key: str(dpg.get_value(f"rules_{key}") or "") for key in
                  ("description", "unmatched", "catch_all_into", "ignore_families",
                   "ignore", "vocabulary")}
        try:
            rules = rules_from_fields(fields, self.app.session.graph.template)
            self.app.session.set_template_rules(rules)
        except MixgraphError as exc:
            self.app.status(exc.message, error=True)
            return
        dpg.hide_item("rules_window")
        self.app.status("template rules changed")

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
