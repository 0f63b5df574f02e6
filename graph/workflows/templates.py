"""Templates: saved routings whose stems are slots, bound to a new song's files.

A template is a project document with ``"kind": "template"`` whose ``stem`` nodes are
unbound slots: each carries ``match`` patterns (and weaker ``fallback`` ones) on file
names, and may take ``multiple`` files.  Its ``template`` section says what it is and
what to do with files no slot takes::

    "template": {"description": "band mix: drums, bass, guitars, keys, vocals",
                 "unmatched": "catch_all",        # or "leave_out"
                 "catch_all_into": "mix",         # the node unmatched files feed
                 "ignore": ["*click*", "*guide*"]} # never bound, only listed

Binding (``bind``) reads a folder of audio files and fills the slots:

- names are compared lower-case with track numbers and ``_ - .`` taken out, so
  ``01_Kick_In.wav`` is ``kick in`` and matches ``kick*``;
- a file goes to the slot whose pattern fits it best: ``match`` before
  ``fallback``, then the pattern with more literal characters; a tie between slots,
  or two files for one single slot, is reported as an ambiguity;
- slots left empty are removed, and so is everything they leave dangling (a channel
  with nothing in, a send, a return fed only by it ...): no silent-but-present stems;
- files no slot takes are listed and, by the template's rule, routed through a
  catch-all channel into the mix or left out with a warning.
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mixgraph.nodes.base import close_matches
from mixgraph.errors import MixgraphError, ProjectFileError

from mixgraph.core.fileformat import load, write_document
from mixgraph.core.model import Graph

TEMPLATE_SUFFIXES = (".mgtemplate", ".json")
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg", ".oga", ".w64", ".caf",
                  ".rf64", ".mp3")


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


# -------------------------------------------------------------------- binding
def normalise(filename: str) -> str:
    """'01_Kick_In.wav' -> 'kick in': lower case, no extension, track number or
    separators."""
    name = Path(filename).stem.lower()
    name = re.sub(r"[_\-.]+", " ", name)
    name = re.sub(r"^\s*\d+\s*", "", name)
    return re.sub(r"\s+", " ", name).strip()


def _fits(pattern: str, filename: str) -> bool:
    p = pattern.lower()
    return (fnmatch.fnmatchcase(normalise(filename), p)
            or fnmatch.fnmatchcase(Path(filename).stem.lower(), p))


def _score(patterns: list[str], filename: str, tier: int) -> tuple[int, int] | None:
    best = None
    for p in patterns:
        if _fits(p, filename):
            literal = len(p.replace("*", "").replace("?", ""))
            if best is None or literal > best[1]:
                best = (tier, literal)
    return best


@dataclass
class Binding:
    """What ``bind`` did, for the user to read."""

    bound: dict[str, list[str]] = field(default_factory=dict)     # slot -> file names
    unmatched: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)             # turned down by a full slot
    ignored: list[str] = field(default_factory=list)
    caught: list[str] = field(default_factory=list)               # sent to the catch-all
    ambiguities: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)              # node ids taken out

    def lines(self) -> list[str]:
        out = [f"bound {slot}: {', '.join(files)}" for slot, files in self.bound.items()]
        out += self.attention()
        if self.ignored:
            out.append(f"ignored (the template never binds these): {', '.join(self.ignored)}")
        if self.removed:
            out.append(f"removed (no file for them): {', '.join(self.removed)}")
        return out

    def attention(self) -> list[str]:
        """What a user must know: ambiguous files, and files left out or re-routed."""
        out = [f"ambiguous: {a}" for a in self.ambiguities]
        if self.caught:
            out.append(f"unmatched, routed through a catch-all channel: "
                       f"{', '.join(self.caught)}")
        if self.unmatched:
            out.append(f"warning: unmatched and left out: {', '.join(self.unmatched)}")
        if self.declined:
            out.append(f"warning: left out (their slot took a better-fitting file): "
                       f"{', '.join(self.declined)}")
        return out

    @classmethod
    def from_dict(cls, doc: dict) -> "Binding":
        """The inverse of :meth:`to_dict` (a batch manifest's record)."""
        return cls(bound=dict(doc.get("bound", {})), unmatched=list(doc.get("unmatched", [])),
                   declined=list(doc.get("declined", [])), ignored=list(doc.get("ignored", [])),
                   caught=list(doc.get("catch_all", [])),
                   ambiguities=list(doc.get("ambiguities", [])),
                   removed=list(doc.get("removed", [])))

    def to_dict(self) -> dict:
        return {"bound": self.bound, "unmatched": self.unmatched, "declined": self.declined,
                "ignored": self.ignored,
                "catch_all": self.caught, "ambiguities": self.ambiguities,
                "removed": self.removed}


def audio_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise ProjectFileError(f"stems folder not found: {folder}", path=str(folder))
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES
                  and not p.name.startswith("."))


def bind(template: Graph, stems_dir: str | os.PathLike,
         project_dir: str | os.PathLike) -> tuple[Graph, Binding]:
    """A project from ``template`` with its slots bound to the files in ``stems_dir``.

    Paths in the project are relative to ``project_dir`` (where it will be saved).
    """
    stems_dir = Path(stems_dir).resolve()
    project_dir = Path(project_dir).resolve()
    g = template.copy()
    g.kind = None
    g.path = None                              # a new project, not the template's file
    g.base_dir = project_dir
    config = dict(template.template)
    g.template = {}
    g.meta.setdefault("template", config.get("name") or
                      (template.path.stem if template.path else "template"))
    result = Binding()
    slots = [s for s in g if s.type == "stem" and not s.params.get("path")]
    ignore = list(config.get("ignore", []))
    files = []
    for f in audio_files(stems_dir):
        if any(_fits(p, f.name) for p in ignore):
            result.ignored.append(f.name)
        else:
            files.append(f)

    # each file's best slot
    wants: dict[str, list] = {s.id: [] for s in slots}
    for f in files:
        scored = []
        for s in slots:
            score = _score(s.params.get("match", []), f.name, 2) or \
                _score(s.params.get("fallback", []), f.name, 1)
            if score:
                scored.append((score, s.id))
        if not scored:
            result.unmatched.append(f.name)
            continue
        scored.sort(key=lambda x: x[0], reverse=True)
        top = [sid for score, sid in scored if score == scored[0][0]]
        if len(top) > 1:
            result.ambiguities.append(f"{f.name} fits {' and '.join(top)} equally; bound to "
                                      f"{top[0]}")
        wants[top[0]].append((scored[0][0], f))

    # fill the slots
    for slot in slots:
        takers = sorted(wants[slot.id], key=lambda x: (-x[0][0], -x[0][1], x[1].name))
        if not takers:
            continue
        if slot.params.get("multiple"):
            chosen = [f for _, f in takers]
        else:
            chosen = [takers[0][1]]
            rest = [f.name for _, f in takers[1:]]
            if rest:
                result.ambiguities.append(f"{slot.id} takes one file: bound "
                                          f"{chosen[0].name}, left out {', '.join(rest)}")
                result.declined += rest
        _fill(g, slot.id, chosen, project_dir)
        result.bound[slot.id] = [f.name for f in chosen]

    # files no slot fits go through a catch-all first, so that the node they feed is
    # kept even when none of its own slots got a file
    rule = config.get("unmatched", "leave_out")
    if rule == "catch_all" and result.unmatched:
        into = config.get("catch_all_into", "")
        if not isinstance(into, str) or into not in g.nodes:
            raise ProjectFileError(f"the template routes unmatched files into {into!r}, "
                                   "which is not one of its nodes")
        for name in result.unmatched:
            _catch_all(g, stems_dir / name, into, project_dir)
        result.caught, result.unmatched = result.unmatched, []

    # empty slots go, with whatever they leave dangling
    empty = [s.id for s in slots if s.id not in result.bound]
    for node_id in empty:
        g.remove(node_id)
    result.removed = empty + _prune(g)
    return g, result


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:                     # another drive on Windows
        return str(path)


def _fill(g: Graph, slot_id: str, files: list[Path], project_dir: Path) -> None:
    """Bind a slot to its file(s); extra files get copies of the slot, linked alike."""
    slot = g.nodes[slot_id]
    slot.params["path"] = _relative(files[0], project_dir)
    outgoing = g.links_from(slot_id)
    pos = g.ui.get(slot_id, {}).get("pos")
    for i, extra in enumerate(files[1:], start=2):
        new_id = _free_id(g, f"{slot_id}_{i}")
        params = dict(slot.params, path=_relative(extra, project_dir))
        g.add("stem", id=new_id, **params)
        for link in outgoing:
            g.connect(f"{new_id}.{link.src.port}", str(link.dst))
        if pos:
            g.ui[new_id] = {"pos": [pos[0], pos[1] + 60 * (i - 1)]}


def _catch_all(g: Graph, path: Path, into: str, project_dir: Path) -> None:
    base = re.sub(r"[^a-z0-9_]+", "_", normalise(path.name)).strip("_") or "stem"
    stem_id = _free_id(g, base)
    g.add("stem", id=stem_id, path=_relative(path, project_dir))
    channel = g.add("channel", id=_free_id(g, f"{stem_id}_ch"), gain_db=-6.0)
    g.connect(stem_id, channel)
    g.connect(channel, into)


def _free_id(g: Graph, wanted: str) -> str:
    if wanted not in g.nodes:
        return wanted
    n = 2
    while f"{wanted}_{n}" in g.nodes:
        n += 1
    return f"{wanted}_{n}"


def _prune(g: Graph) -> list[str]:
    """Remove nodes left dangling: a required input with nothing linked, or a group that
    neither receives audio nor controls anything.  Returns their ids."""
    removed = []
    changed = True
    while changed:
        changed = False
        for spec in list(g):
            cls = spec.node_class()
            if cls is None or not cls.inputs:
                continue
            fed = {l.dst.port for l in g.links_into(spec.id)}
            dangling = any(not p.optional and p.name not in fed for p in cls.inputs)
            controls = spec.with_role("members")
            idle_group = bool(controls) and not fed and not any(
                spec.params.get(name) for name in controls)
            if dangling or idle_group:
                g.remove(spec.id)
                removed.append(spec.id)
                changed = True
    return removed


# ------------------------------------------------------------- save a template
def to_template(project: Graph, description: str = "",
                unmatched: str = "leave_out") -> Graph:
    """A template from a project: stems unbound (with match rules), all else kept."""
    t = project.copy()
    t.kind = "template"
    t.path = None
    for spec in t:
        if spec.type != "stem":
            continue
        path = spec.params.get("path", "")
        if not spec.params.get("match"):
            patterns = [f"*{normalise(spec.id)}*"]
            if path:
                name = normalise(path)
                if name and f"*{name}*" not in patterns:
                    patterns.append(name + "*")
            spec.params["match"] = patterns
        spec.params["path"] = ""
    t.template = {"description": description or project.meta.get("description", ""),
                  "unmatched": unmatched}
    return t


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
