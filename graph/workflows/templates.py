"""Templates: saved routings whose stems are slots, bound to a new song's files.

A template is a project document with ``"kind": "template"`` whose ``stem`` nodes are
unbound slots (see :mod:`.binding` for what a slot declares and how a folder of
files is bound to them).  Its ``template`` section says what it is and what to do
with the files no slot takes::

    "template": {"description": "band mix: drums, bass, guitars, keys, vocals",
                 "unmatched": "catch_all",        # or "leave_out"; else an error
                 "catch_all_into": "mix",         # the node unmatched files feed
                 "ignore_families": ["click", "guide", "count_in", "reference"],
                 "ignore": ["*scratch take*"],    # file-name patterns, never bound
                 "vocabulary": {"keys": ["mellotron"]}}   # words added to families

This module finds templates (shipped with mixgraph, or the user's own), loads them,
and saves a project as one (:func:`to_template`: a bound project gives back its
template's slots and rules).
"""

from __future__ import annotations

import copy
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mixgraph.nodes.base import close_matches
from mixgraph.errors import MixgraphError, ProjectFileError

from mixgraph.core.fileformat import load, write_document
from mixgraph.core.model import Graph

TEMPLATE_SUFFIXES = (".mgtemplate", ".json")


# ------------------------------------------------------------------ locations
def shipped_dir() -> Path:
    """Templates shipped with mixgraph: ``templates/`` of the package data
    :mod:`mixgraph.projects` (the repository's projects/templates)."""
    from importlib.resources import files

    return Path(str(files("mixgraph.projects") / "templates"))


def user_dir() -> Path:
    """The user's templates: $XDG_DATA_HOME/mixgraph/templates on Linux."""
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "mixgraph" / "templates"


@dataclass
class TemplateInfo:
    name: str
    path: Path
    source: str                  # "shipped" or "user"
    description: str


def list_templates() -> list[TemplateInfo]:
    """Shipped and user templates, by name (a user template hides a shipped one)."""
    found: dict[str, TemplateInfo] = {}
    for source, folder in (("shipped", shipped_dir()), ("user", user_dir())):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in TEMPLATE_SUFFIXES:
                continue
            try:
                g = load(path)
                description = str(g.template.get("description", ""))
            except MixgraphError as exc:
                description = f"(unreadable: {exc.message})"
            found[path.stem] = TemplateInfo(path.stem, path, source, description)
    return sorted(found.values(), key=lambda t: t.name)


def find_template(name: str) -> Path:
    """A template's file from its name (user templates first) or a path to one."""
    candidate = Path(name).expanduser()
    if candidate.suffix.lower() in TEMPLATE_SUFFIXES and candidate.is_file():
        return candidate
    templates = {t.name: t.path for t in list_templates()}
    if name in templates:
        return templates[name]
    raise ProjectFileError(f"there is no template {name!r}{close_matches(name, templates)} "
                           f"(templates: {', '.join(sorted(templates)) or 'none'})")


def load_template(name: str) -> Graph:
    path = find_template(name)
    g = load(path)
    if g.kind != "template":
        raise ProjectFileError(f"{path} is a project, not a template (its kind is "
                               f"{g.kind!r}); save it as one with 'mixgraph template save'")
    return g


# ------------------------------------------------------------- save a template
def to_template(project: Graph, description: str = "") -> Graph:
    """A template from a project.

    A project made by binding (it keeps a record in ``meta["binding"]``) gives back the
    template it came from, with what was changed since: each bound stem becomes the
    slot it filled again (the strips made for a slot's further files and the
    catch-all's channels go), the slots and parts the song lacked come back, and the
    template's rules (ignore lists, catch-all, vocabulary, description) are kept.  A
    stem added by hand, like every stem of a project made by hand, becomes a slot for
    its file's family (or, where its name has none, for names like it).
    """
    t = project.copy()
    t.kind = "template"
    t.path = None
    record = t.meta.pop("binding", None) or {}
    for node_id in record.get("copies", []) + record.get("caught", []):
        if node_id in t.nodes:
            t.remove(node_id)
    slots = record.get("slots", {})
    stems = record.get("stems", {})
    for spec in list(t):
        if spec.type != "stem":
            continue
        slot = stems.get(spec.id)
        if slot is not None and slot == spec.id and slot in slots:
            spec.params.update(copy.deepcopy(slots[slot]))
        elif not any(spec.params.get(k) for k in ("match", "family")):
            spec.params.update(_slot_for(spec))
        spec.params["path"] = ""
        for name in spec.with_role("regions"):    # the next song's files say where
            spec.params.pop(name, None)
    _restore(t, record.get("lacked", {}))
    rules = copy.deepcopy(record.get("rules", {})) or {"unmatched": "error"}
    rules["description"] = description or rules.get("description") or \
        project.meta.get("description", "")
    t.template = rules
    return t


def _slot_for(spec) -> dict:
    """Slot rules for a stem that did not come from a slot: its file's family (and
    side), else a pattern of its id."""
    from .names import read_name, words_of

    reading = read_name(str(spec.params.get("path") or spec.id))
    if reading.family:
        out = {"family": [reading.family]}
        if reading.side:
            out["side"] = reading.side
        return out
    return {"match": [f"*{' '.join(words_of(spec.id))}*"]}


def _restore(t: Graph, lacked: dict) -> None:
    """Put back the template's nodes a song lacked (where their ids are free), with
    their links and places."""
    added = []
    for doc in lacked.get("nodes", []):
        if doc.get("id") in t.nodes:
            continue
        t.add(doc["type"], id=doc["id"], **copy.deepcopy(doc.get("params", {})))
        added.append(doc["id"])
        if doc["id"] in lacked.get("ui", {}):
            t.ui[doc["id"]] = copy.deepcopy(lacked["ui"][doc["id"]])
    for src, dst in lacked.get("links", []):
        ends = {src.split(".")[0], dst.split(".")[0]}
        if ends & set(added) and ends <= set(t.nodes):
            try:
                t.connect(src, dst)
            except MixgraphError:          # the project changed around it since
                pass


def save_user_template(project: Graph, name: str, description: str = "",
                       overwrite: bool = False) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-. ]{0,63}", name):
        raise ProjectFileError(f"template name {name!r} must be 1-64 letters, digits, spaces, "
                               "'_', '-' or '.'")
    folder = user_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.mgtemplate"
    if target.exists() and not overwrite:
        raise ProjectFileError(f"there is already a user template {name!r} ({target}); "
                               "pass --force to replace it")
    # written as is: a template's paths (outputs, IRs) stay relative to the project that
    # will be made from it, not to the template folder
    write_document(to_template(project, description).to_document(), target)
    return target
