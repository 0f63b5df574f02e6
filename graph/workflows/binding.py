"""Binding a song's files to a template: every file gets exactly one fate.

A template's ``stem`` nodes are *slots*.  A slot says which instrument families it
takes (``family``, best first), which qualifiers make a file fit it better or worse
(``prefer``, ``avoid``), the side of a left/right pair it takes (``side``), and
whether it takes one file or several (``multiple``); older templates' file-name
patterns (``match``, then ``fallback``) still work.  File names are read as a family
plus qualifiers (:mod:`.names`): "Lead Gtr" is a guitar, never a vocal.

``bind`` reads a folder of audio files (and its subfolders) and gives every file one
fate, listed in the binding table:

- **bound** to a slot: the best-fitting file first (family, then qualifiers, then
  side); a slot that takes one file takes one, and a second that fits it as well goes
  to the next slot that fits (a lead vocal's double to the backing vocals), else to
  the catch-all; the table says so.  A slot that takes several gives each file a
  strip of its own (stem, EQ, compressor, channel ... up to the bus or group they
  share), and a left/right pair in one slot is panned hard left and right;
- **catch-all**: a file no slot fits, through a channel of its own into the node the
  template names (where the template has one);
- **ignored** by a rule: the user's ``--ignore`` patterns, the template's ``ignore``
  patterns and its ``ignore_families`` (click, guide, count-in, reference, a mix or
  an already mastered print);
- **left out**, only where the template's rule is ``leave_out`` or the user asked;
- **unusable** (empty, unreadable, more channels than the engine mixes): an error,
  as is a file nothing takes, unless the user ignores or leaves it out.

Each stem keeps its place on the session's timeline (a BWF ``bext`` or iXML time
reference: the earliest start is song time 0); the project runs at the rate most
files share (or the one asked for); slots no file came to go, with everything they
alone fed.  The bound project remembers where it came from (``meta["binding"]``),
so that saving it as a template gives back the slots, the rules and the parts the
song lacked (:func:`mixgraph.workflows.templates.to_template`).
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mixgraph.core.model import Graph
from mixgraph.errors import MixgraphError, ProjectFileError
from mixgraph.nodes.audiofile import info, time_reference
from mixgraph.nodes.layouts import channels_problem
from mixgraph.nodes.regions import placed_at

from .names import Reading, read_name, vocabulary, words_of

AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".aif", ".aiff", ".ogg", ".oga", ".w64", ".caf",
                  ".rf64", ".mp3")
#: the template parameters of a slot (kept in a bound project's record, not its stems)
SLOT_PARAMS = ("match", "fallback", "family", "prefer", "avoid", "side", "multiple")
#: families a mastered print is read as, and the figures that make a mix look mastered
MASTERED_TRUE_PEAK_DBTP = -1.0
MASTERED_LOUDNESS_LUFS = -16.0
FATES = ("bound", "catch-all", "ignored", "left out", "unusable")


@dataclass
class Fate:
    """What became of one file."""

    file: str                      # its path under the stems folder (posix)
    fate: str                      # one of FATES
    slot: str = ""                 # the slot (bound) or the node it feeds (catch-all)
    nodes: list[str] = field(default_factory=list)   # node ids made or filled for it
    why: str = ""                  # in words
    reading: str = ""              # family; qualifiers; side
    offset_s: float = 0.0          # where it starts on the song's timeline
    rate: int = 0
    channels: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Binding:
    """What ``bind`` did: one :class:`Fate` per file, the notices, the template
    nodes removed for want of a file, and the project's rate."""

    files: list[Fate] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    sample_rate: int = 0

    # ------------------------------------------------------------- views
    def of(self, fate: str) -> list[Fate]:
        return [f for f in self.files if f.fate == fate]

    @property
    def bound(self) -> dict[str, list[str]]:
        """slot -> the files it took (their names as in the folder)."""
        out: dict[str, list[str]] = {}
        for f in self.of("bound"):
            out.setdefault(f.slot, []).append(f.file)
        return out

    @property
    def ignored(self) -> list[str]:
        return [f.file for f in self.of("ignored")]

    @property
    def caught(self) -> list[str]:
        return [f.file for f in self.of("catch-all")]

    @property
    def unmatched(self) -> list[str]:
        return [f.file for f in self.of("left out")]

    def table(self) -> list[str]:
        """The binding table: one line per file (file, fate, slot, offset, why)."""
        rows = [("file", "fate", "slot or rule", "starts", "why")]
        for f in self.files:
            rows.append((f.file, f.fate, f.slot or "-",
                         f"{f.offset_s:.3f} s" if f.fate in ("bound", "catch-all") else "-",
                         f.why))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        return ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4]
                for r in rows]

    def lines(self) -> list[str]:
        """The table, then what a user must know, then what was removed."""
        out = self.table() + self.attention()
        if self.removed:
            out.append(f"removed (no file for them): {', '.join(self.removed)}")
        out.append(f"project rate: {self.sample_rate} Hz")
        return out

    def attention(self) -> list[str]:
        """Ties settled, files re-routed or left out, mastered prints: notices."""
        out = [f"notice: {n}" for n in self.notices]
        left = self.unmatched
        if left:
            out.append(f"warning: left out: {', '.join(left)}")
        return out

    def to_dict(self) -> dict:
        return {"files": [f.to_dict() for f in self.files], "notices": list(self.notices),
                "removed": list(self.removed), "sample_rate": self.sample_rate,
                "bound": self.bound, "ignored": self.ignored, "catch_all": self.caught,
                "left_out": self.unmatched}

    @classmethod
    def from_dict(cls, doc: dict) -> "Binding":
        """The inverse of :meth:`to_dict` (a batch manifest's record)."""
        return cls(files=[Fate(**f) for f in doc.get("files", [])],
                   notices=list(doc.get("notices", [])),
                   removed=list(doc.get("removed", [])),
                   sample_rate=int(doc.get("sample_rate", 0)))


def parse_assignments(texts) -> dict[str, str]:
    """``["Vox B.wav=lead_vox", ...]`` (``--assign`` and the editor's list) as
    ``{file: slot}``."""
    out = {}
    for text in texts:
        name, eq, slot = str(text).strip().rpartition("=")
        if not eq or not name.strip() or not slot.strip():
            raise ProjectFileError(f"assignment {text!r}: write it as FILE=SLOT")
        out[name.strip()] = slot.strip()
    return out


# ------------------------------------------------------------------ the folder
def audio_files(folder: Path) -> list[Path]:
    """The audio files under ``folder`` (subfolders too, hidden ones not), by path."""
    if not folder.is_dir():
        raise ProjectFileError(f"stems folder not found: {folder}", path=str(folder))
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / n for n in names
                  if not n.startswith(".") and Path(n).suffix.lower() in AUDIO_SUFFIXES]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix().lower())


def _fits_pattern(pattern: str, path: Path) -> bool:
    p = pattern.lower()
    return (fnmatch.fnmatchcase(" ".join(words_of(path.name)), p)
            or fnmatch.fnmatchcase(path.stem.lower(), p)
            or fnmatch.fnmatchcase(path.name.lower(), p))


@dataclass
class _File:
    path: Path
    rel: str
    reading: Reading
    rate: int = 0
    channels: int = 0
    start: float | None = None      # time reference, s after midnight

    def shown_reading(self) -> str:
        """'vocals (double, lead)', 'overheads (left)', 'no family'."""
        more = sorted(self.reading.qualifiers) + ([self.reading.side]
                                                   if self.reading.side else [])
        family = self.reading.family or "no family"
        return f"{family} ({', '.join(more)})" if more else family


def _usable(f: _File) -> str:
    """'' if the file can be mixed, else why not (and reads its rate and channels)."""
    try:
        found = info(f.path)
    except MixgraphError as exc:
        return exc.message
    if found.frames <= 0:
        return "it holds no audio"
    if (problem := channels_problem(found.channels)) is not None:
        return f"it {problem}"
    f.rate, f.channels = found.samplerate, found.channels
    f.start = time_reference(f.path, found.samplerate)
    return ""


# ------------------------------------------------------------------ the slots
@dataclass
class _Slot:
    id: str
    families: list[str]
    prefer: set[str]
    avoid: set[str]
    side: str
    multiple: bool
    match: list[str]
    fallback: list[str]
    taken: list[_File] = field(default_factory=list)

    def score(self, f: _File) -> tuple[int, int, int] | None:
        """How well a file fits: (family rank, qualifiers, side), None if it does not."""
        r = f.reading
        if self.side and r.side and r.side != self.side:
            return None
        rank = 0
        if r.family in self.families:
            rank = 3 if self.families.index(r.family) == 0 else 2
        elif any(_fits_pattern(p, f.path) for p in self.match):
            rank = 3
        elif any(_fits_pattern(p, f.path) for p in self.fallback):
            rank = 1
        elif r.family is None and self.prefer & r.qualifiers:
            rank = 1                   # 'Lead.wav': no family, a qualifier this slot likes
        if not rank:
            return None
        quals = len(self.prefer & r.qualifiers) - len(self.avoid & r.qualifiers)
        return rank, quals, int(bool(self.side) and r.side == self.side)

    def has_room(self) -> bool:
        return self.multiple or not self.taken


def _slots(g: Graph) -> list[_Slot]:
    out = []
    for spec in g:
        if spec.type != "stem" or spec.params.get("path"):
            continue
        p = spec.params
        out.append(_Slot(spec.id, list(p.get("family", [])), set(p.get("prefer", [])),
                         set(p.get("avoid", [])), p.get("side", ""),
                         bool(p.get("multiple", False)), list(p.get("match", [])),
                         list(p.get("fallback", []))))
    return out


# ------------------------------------------------------------------ binding
def bind(template: Graph, stems_dir: str | os.PathLike, project_dir: str | os.PathLike, *,
         assign: dict[str, str] | None = None, ignore: list[str] | tuple = (),
         leave_out: bool = False, sample_rate: int | None = None) -> tuple[Graph, Binding]:
    """A project from ``template`` with its slots bound to the files in ``stems_dir``.

    ``assign`` binds files to slots by hand (``{file: slot}``; a file by its path under
    the folder or its name), ``ignore`` adds file-name patterns to ignore, and
    ``leave_out`` leaves out what no slot or catch-all takes (else that is an error, as
    is an unusable file).  ``sample_rate`` sets the project's rate (else the rate most
    files share).  Paths in the project are relative to ``project_dir``.
    """
    stems_dir = Path(stems_dir).resolve()
    project_dir = Path(project_dir).resolve()
    config = dict(template.template)
    families = vocabulary(config.get("vocabulary"))
    result = Binding()
    files = [_File(p, p.relative_to(stems_dir).as_posix(), read_name(p.name, families))
             for p in audio_files(stems_dir)]
    todo = _settle_rules(files, config, list(ignore), result, stems_dir)
    g = _project(template, project_dir, config)
    slots = _slots(g)
    unknown = [f"{s.id}: {fam}" for s in slots for fam in s.families if fam not in families]
    if unknown:
        raise ProjectFileError(f"the template names families its vocabulary does not have "
                               f"({'; '.join(unknown)}); families: {', '.join(families)}")
    forced = _assigned(todo, slots, assign or {})
    homeless = _place(todo, slots, forced, result)
    crowded = {f.rel for f in homeless if any(s.score(f) is not None for s in slots)}
    _route_the_rest(homeless, g, config, leave_out, stems_dir, project_dir, result, crowded)
    placed = [f for s in slots for f in s.taken]
    rate = _project_rate(placed + [f for f in files if _caught(result, f)], sample_rate)
    g.sample_rate = result.sample_rate = rate
    record = _record(template, config, g, slots)
    _build_strips(g, slots, project_dir, result, record)
    _place_in_time(g, [f for f in files if f.start is not None], result)
    empty = [s.id for s in slots if not s.taken]
    for node_id in empty:
        g.remove(node_id)
    result.removed = empty + _prune(g)
    record["lacked"] = _lacked(template, result.removed)
    record["caught"] = [n for f in result.of("catch-all") for n in f.nodes]
    g.meta["binding"] = record
    _check_mastered(config, result, stems_dir)
    result.files.sort(key=lambda f: f.file.lower())
    return g, result


def _settle_rules(files: list[_File], config: dict, user_ignore: list[str],
                  result: Binding, folder: Path) -> list[_File]:
    """Fates that need no slot: unusable files and files a rule ignores.  Returns the
    rest."""
    rest = []
    template_ignore = list(config.get("ignore", []))
    ignore_families = set(config.get("ignore_families", []))
    for f in files:
        rule = next((f"--ignore {p}" for p in user_ignore if _fits_pattern(p, f.path)
                     or fnmatch.fnmatchcase(f.rel.lower(), p.lower())), None) \
            or next((f"the template ignores {p}" for p in template_ignore
                     if _fits_pattern(p, f.path)), None) \
            or (f"the template ignores {f.reading.family} tracks"
                if f.reading.family in ignore_families else None)
        if rule is not None:
            result.files.append(Fate(f.rel, "ignored", why=rule, reading=f.shown_reading()))
            continue
        problem = _usable(f)
        if problem:
            result.files.append(Fate(f.rel, "unusable", why=problem,
                                     reading=f.shown_reading()))
            continue
        rest.append(f)
    unusable = result.of("unusable")
    if unusable:
        listed = "; ".join(f"{u.file}: {u.why}" for u in unusable)
        raise ProjectFileError(f"cannot use {len(unusable)} file"
                               f"{'s' if len(unusable) != 1 else ''} in {folder} "
                               f"({listed}); leave {'them' if len(unusable) != 1 else 'it'} "
                               "out with --ignore NAME")
    return rest


def _project(template: Graph, project_dir: Path, config: dict) -> Graph:
    g = template.copy()
    g.kind = None
    g.path = None                              # a new project, not the template's file
    g.base_dir = project_dir
    g.template = {}
    g.meta.setdefault("template", config.get("name") or
                      (template.path.stem if template.path else "template"))
    return g


def _assigned(files: list[_File], slots: list[_Slot],
              assign: dict[str, str]) -> dict[str, _Slot]:
    """--assign FILE=SLOT, checked: file rel path -> slot."""
    by_id = {s.id: s for s in slots}
    out = {}
    for wanted, slot_id in assign.items():
        matches = [f for f in files if wanted in (f.rel, f.path.name)]
        if not matches:
            raise ProjectFileError(f"--assign {wanted}={slot_id}: there is no usable file "
                                   f"{wanted!r} in the stems folder")
        if slot_id not in by_id:
            raise ProjectFileError(f"--assign {wanted}={slot_id}: the template has no slot "
                                   f"{slot_id!r} (slots: {', '.join(by_id)})")
        for f in matches:
            out[f.rel] = by_id[slot_id]
    return out


def _place(files: list[_File], slots: list[_Slot], forced: dict[str, _Slot],
           result: Binding) -> list[_File]:
    """Fill the slots, best fits first; returns the files no slot with room fits."""
    for f in files:
        if f.rel in forced:
            forced[f.rel].taken.append(f)
    free = [f for f in files if f.rel not in forced]
    pairs = []
    for fi, f in enumerate(free):
        for si, s in enumerate(slots):
            score = s.score(f)
            if score is not None:
                pairs.append((score, fi, si))
    pairs.sort(key=lambda x: (-x[0][0], -x[0][1], -x[0][2], x[1], x[2]))
    placed: dict[int, int] = {}
    for score, fi, si in pairs:
        if fi not in placed and slots[si].has_room():
            slots[si].taken.append(free[fi])
            placed[fi] = si
    best = {}                                   # file -> its best score and slots there
    for score, fi, si in pairs:
        if fi not in best or score == best[fi][0]:
            best.setdefault(fi, (score, []))[1].append(si)
    for fi, (score, at) in best.items():
        got = slots[placed[fi]].score(free[fi]) if fi in placed else None
        if got == score:
            rivals = [slots[si] for si in at if si != placed[fi] and not slots[si].taken]
            if rivals:                       # equal slots, one file: the template's order
                result.notices.append(
                    f"{free[fi].rel} fits {slots[placed[fi]].id} and "
                    f"{', '.join(s.id for s in rivals)} equally; it went to "
                    f"{slots[placed[fi]].id}, the first in the template")
            continue
        slot = next(slots[si] for si in at if not slots[si].multiple and slots[si].taken)
        first = slot.taken[0]
        went = f"went to {slots[placed[fi]].id}" if fi in placed else \
            "found no other slot with room"
        how = "; it takes one file and took {0} (assigned by hand)" if first.rel in forced \
            else "equally; it takes one file and took {0} (first by name)" \
            if slot.score(first) == score else "too; it takes one file and {0} fits it better"
        result.notices.append(
            f"{first.rel} and {free[fi].rel} fit slot {slot.id} {how.format(first.rel)}; "
            f"{free[fi].rel} {went} (choose with --assign FILE=SLOT)")
    return [f for fi, f in enumerate(free) if fi not in placed]


def _route_the_rest(files: list[_File], g: Graph, config: dict, leave_out: bool,
                    stems_dir: Path, project_dir: Path, result: Binding,
                    crowded: set[str]) -> None:
    """Files no slot took (``crowded``: those a full slot fits): the catch-all, left out
    by a rule, or an error."""
    if not files:
        return
    rule = config.get("unmatched", "error")
    if rule == "catch_all":
        into = config.get("catch_all_into", "")
        if not isinstance(into, str) or into not in g.nodes:
            raise ProjectFileError(f"the template routes unmatched files into {into!r}, "
                                   "which is not one of its nodes")
        for f in files:
            nodes = _catch_all(g, f, into, project_dir)
            why = f"no slot takes {f.shown_reading()}" if f.rel not in crowded else \
                f"the slots for {f.reading.family} are full"
            result.files.append(Fate(f.rel, "catch-all", into, nodes,
                                     why + ": its own channel into " + into,
                                     f.shown_reading(), rate=f.rate, channels=f.channels))
        return
    if rule == "leave_out" or leave_out:
        for f in files:
            why = "the template leaves out what no slot takes" if rule == "leave_out" \
                else "--leave-out"
            result.files.append(Fate(f.rel, "left out", why=why, reading=f.shown_reading(),
                                     rate=f.rate, channels=f.channels))
        return
    listed = ", ".join(f"{f.rel} ({f.shown_reading()})" for f in files)
    raise ProjectFileError(f"no slot of the template takes {listed}; bind "
                           f"{'them' if len(files) > 1 else 'it'} with --assign FILE=SLOT, "
                           "or pass --ignore NAME or --leave-out")


def _caught(result: Binding, f: _File) -> bool:
    return any(x.file == f.rel and x.fate == "catch-all" for x in result.files)


def _project_rate(files: list[_File], asked: int | None) -> int:
    if asked:
        return int(asked)
    counts = Counter(f.rate for f in files if f.rate)
    if not counts:
        return 48000
    top = max(counts.values())
    return max(rate for rate, n in counts.items() if n == top)


# ------------------------------------------------------------------ strips
def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(os.path.relpath(path, folder)).as_posix()
    except ValueError:                     # another drive on Windows
        return str(path)


def strip_of(g: Graph, stem_id: str) -> list[str]:
    """A stem's strip: the stem, then every node whose main input is fed only from the
    strip, up to the first mixing point (a bus or group): its EQ, compressor, channel,
    and sends fed by it alone.  In document order."""
    strip = {stem_id}
    changed = True
    while changed:
        changed = False
        for spec in g:
            cls = spec.node_class()
            if spec.id in strip or cls is None or cls.summing or not cls.inputs:
                continue
            main = cls.default_input()
            feeds = [l for l in g.links_into(spec.id) if l.dst.port == main]
            if feeds and all(l.src.node in strip for l in feeds):
                strip.add(spec.id)
                changed = True
    return [n for n in g.nodes if n in strip]


def _copy_strip(g: Graph, strip: list[str], k: int,
                stem: tuple[str, dict]) -> dict[str, str]:
    """A copy of a strip (ids with ``_k``; ``stem``: the stem's id and its parameters
    for the copy), linked as the original: inside it, to what it feeds, and from what
    feeds its nodes' other ports (a sidechain).  Returns the new id of each node."""
    new = {}
    for nid in strip:
        new[nid] = _free_id(g, f"{nid}_{k}")
        spec = g.nodes[nid]
        params = stem[1] if nid == stem[0] else copy.deepcopy(spec.params)
        g.add(spec.type, id=new[nid], **params)
        g.nodes[new[nid]].bypass = copy.deepcopy(spec.bypass)
        pos = g.ui.get(nid, {}).get("pos")
        if pos:
            g.ui[new[nid]] = {"pos": [pos[0], pos[1] + 70 * (k - 1)]}
    for link in list(g.links):
        src, dst = link.src.node, link.dst.node
        if src in new or dst in new:
            g.connect(f"{new.get(src, src)}.{link.src.port}",
                      f"{new.get(dst, dst)}.{link.dst.port}")
    return new


def _build_strips(g: Graph, slots: list[_Slot], project_dir: Path, result: Binding,
                  record: dict) -> None:
    """Point each slot's stem at its first file; every further file gets a copy of the
    slot's strip; a left/right pair in one slot is panned hard left and right."""
    for slot in slots:
        if not slot.taken:
            continue
        strip = strip_of(g, slot.id)
        template_params = dict(g.nodes[slot.id].params)
        for k, f in enumerate(slot.taken, start=1):
            params = {n: v for n, v in template_params.items() if n not in SLOT_PARAMS}
            params["path"] = _relative(f.path, project_dir)
            if k == 1:
                ids = {n: n for n in strip}
                g.nodes[slot.id].params = params
            else:
                ids = _copy_strip(g, strip, k, (slot.id, params))
                record["copies"] += list(ids.values())
            record["stems"][ids[slot.id]] = slot.id
            liked = sorted(slot.prefer & f.reading.qualifiers)
            why = f"{f.shown_reading()} fits {slot.id}" + \
                (f" (it prefers {', '.join(liked)})" if liked else "")
            nodes = [ids[slot.id]] + [ids[n] for n in strip if n != slot.id]
            result.files.append(Fate(f.rel, "bound", slot.id, nodes, why, f.shown_reading(),
                                     rate=f.rate, channels=f.channels))
        _pan_pairs(g, slot, strip, result)


def _pan_pairs(g: Graph, slot: _Slot, strip: list[str], result: Binding) -> None:
    """Files of one slot that differ only by side get hard left and right pans on the
    first node of their strips that pans."""
    if len(slot.taken) < 2:
        return
    fates = {f.file: f for f in result.files if f.slot == slot.id and f.fate == "bound"}

    def key(f: _File):
        return (f.reading.family, f.reading.qualifiers, f.reading.number,
                tuple(w for w in f.reading.words if w not in ("l", "r", "left", "right",
                                                              "lt", "rt", "lft", "rgt")))
    sides = {}
    for f in slot.taken:
        if f.reading.side:
            sides.setdefault(key(f), {})[f.reading.side] = f
    for pair in sides.values():
        if set(pair) != {"left", "right"}:
            continue
        for side, f in pair.items():
            fate = fates[f.rel]
            panner = next((n for n in fate.nodes if "pan" in g.nodes[n].params
                           or _pans(g, n)), None)
            if panner is not None:
                g.set(panner, "pan", -1.0 if side == "left" else 1.0)
                fate.why += f"; panned hard {side} (a left/right pair)"


def _pans(g: Graph, node_id: str) -> bool:
    cls = g.nodes[node_id].node_class()
    return cls is not None and "pan" in cls.param_table() and not cls.summing


def _catch_all(g: Graph, f: _File, into: str, project_dir: Path) -> list[str]:
    base = re.sub(r"[^a-z0-9_]+", "_", " ".join(f.reading.words)).strip("_") or "stem"
    stem_id = _free_id(g, base)
    g.add("stem", id=stem_id, path=_relative(f.path, project_dir))
    channel = g.add("channel", id=_free_id(g, f"{stem_id}_ch"), gain_db=-6.0)
    g.connect(stem_id, channel)
    g.connect(channel, into)
    return [stem_id, channel]


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


# ------------------------------------------------------------------ time and record
def _place_in_time(g: Graph, timed: list[_File], result: Binding) -> None:
    """Each stem at its file's place on the session's timeline: the earliest start is
    song time 0 (files without a time reference start there too)."""
    if not timed:
        return
    zero = min(f.start for f in timed)
    starts = {f.rel: f.start - zero for f in timed}
    for fate in result.files:
        if fate.file in starts and fate.fate in ("bound", "catch-all") and fate.nodes:
            offset = round(starts[fate.file], 6)
            fate.offset_s = offset
            if offset:
                stem = g.nodes[fate.nodes[0]]
                g.set(stem.id, stem.with_role("regions")[0], placed_at(offset))
                fate.why += f"; starts at {offset:.3f} s (its time reference)"
    untimed = [f.file for f in result.files if f.fate in ("bound", "catch-all")
               and f.file not in starts]
    if untimed:
        result.notices.append(f"{', '.join(untimed)} carry no time reference: placed at "
                              "the song's start, where the earliest stem with one starts")


def _record(template: Graph, config: dict, g: Graph, slots: list[_Slot]) -> dict:
    """What a bound project remembers of its template (see the module notes)."""
    return {"template": g.meta.get("template"), "rules": copy.deepcopy(config),
            "slots": {s.id: {k: copy.deepcopy(template.nodes[s.id].params[k])
                             for k in SLOT_PARAMS if k in template.nodes[s.id].params}
                      for s in slots},
            "stems": {}, "copies": [], "caught": [],
            "lacked": {"nodes": [], "links": [], "ui": {}}}


def _lacked(template: Graph, removed: list[str]) -> dict:
    """The part of the template a song lacked, as the template has it: the nodes taken
    out (empty slots and what they alone fed), the links that touch them and their
    places in the editor."""
    gone = [i for i in removed if i in template.nodes]
    return {"nodes": [template.nodes[i].to_document() for i in gone],
            "links": [l.to_document() for l in template.links
                      if l.src.node in gone or l.dst.node in gone],
            "ui": {i: copy.deepcopy(template.ui[i]) for i in gone if i in template.ui}}


def _check_mastered(config: dict, result: Binding, stems_dir: Path) -> None:
    """A template that masters (its ``mastering`` flag) warns when the mix it took
    already looks mastered, with the figures."""
    if not config.get("mastering"):
        return
    from mixgraph.nodes.meters import meter_file

    for fate in result.of("bound"):
        found = meter_file(stems_dir / fate.file)
        tp, lufs = found.get("true_peak_dbtp"), found.get("integrated_lufs")
        if tp is not None and lufs is not None and tp > MASTERED_TRUE_PEAK_DBTP \
                and lufs > MASTERED_LOUDNESS_LUFS:
            result.notices.append(
                f"{fate.file} already looks mastered (true peak {tp:.1f} dBTP, "
                f"{lufs:.1f} LUFS): mastering it again squashes it; bind the unmastered "
                "mix if there is one")
