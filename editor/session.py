"""The editor's command layer: every edit of the graph goes through a ``Session``.

A session holds the one :class:`mixgraph.Graph` the editor shows (it never keeps a
second copy of a value), the file it belongs to, whether it has unsaved changes,
and the history for undo and redo.  Each edit is a method that changes the graph
through the model's own checked operations (so a cycle or a bad value is refused
with the model's message) and records a step: the document before and after.
Consecutive changes of one parameter (a slider being dragged) merge into one step.

Nothing here draws; the editor redraws from ``session.graph`` after each edit.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mixgraph import Graph, MixgraphError, ParameterError, load, save, validate
from mixgraph.nodes.base import node_class

HISTORY_LIMIT = 200
CLIP_FORMAT = "mixgraph-nodes"
COALESCE_S = 1.5


@dataclass
class Step:
    label: str
    before: dict
    after: dict
    key: Any = None
    at: float = field(default_factory=time.monotonic)
    base_before: Path | None = None          # the folder relative paths were written for
    base_after: Path | None = None


class Session:
    """An open project: the graph, its file, its history."""

    def __init__(self, graph: Graph | None = None, path: str | os.PathLike | None = None):
        self.graph = graph if graph is not None else Graph()
        self.path = Path(path) if path else (self.graph.path if graph is not None else None)
        if self.graph.nodes and not any("pos" in self.graph.ui.get(n, {})
                                        for n in self.graph.nodes):
            from .layout import arrange    # a project written in code: lay it out once

            arrange(self.graph)
        self.undo_stack: list[Step] = []
        self.redo_stack: list[Step] = []
        self.dirty = False
        self.listeners: list[Callable[[str], None]] = []
        self._saved = self.graph.to_document()     # what the file holds: dirty = differs
        self._last_key: Any = None                 # the key of the edit before this one
        self.revision = 0                          # counts changes (views redraw on one)

    # --------------------------------------------------------------- files
    @classmethod
    def open(cls, path: str | os.PathLike) -> "Session":
        return cls(load(path), path)

    @property
    def title(self) -> str:
        name = self.path.name if self.path else "untitled"
        return f"{name}{' *' if self.dirty else ''}"

    def save(self, path: str | os.PathLike | None = None) -> Path:
        target = Path(path) if path else self.path
        if target is None:
            raise MixgraphError("the project has no file yet; choose one with Save As")
        save(self.graph, target)
        self.path = target
        self._saved = self.graph.to_document()
        self.dirty = False
        self._notify("saved")
        return target

    def document(self) -> dict:
        return self.graph.to_document()

    # ------------------------------------------------------------- history
    def _edit(self, label: str, change: Callable[[], Any], key: Any = None) -> Any:
        before = self.graph.to_document()
        base = self.graph.base_dir
        try:
            result = change()
        except Exception:
            self.graph.replace_with(before)           # a refused edit changes nothing
            self.graph.base_dir = base
            raise
        after = self.graph.to_document()
        if after == before and self.graph.base_dir == base:
            return result
        last = self.undo_stack[-1] if self.undo_stack else None
        if key is not None and key == self._last_key and last is not None \
                and last.key == key and time.monotonic() - last.at < COALESCE_S:
            last.after, last.at = after, time.monotonic()
            last.base_after = self.graph.base_dir
        else:
            self.undo_stack.append(Step(label, before, after, key, base_before=base,
                                        base_after=self.graph.base_dir))
            del self.undo_stack[:-HISTORY_LIMIT]
        self._last_key = key
        self.redo_stack.clear()
        self.dirty = after != self._saved
        self._notify(label)
        return result

    def undo(self) -> str | None:
        if not self.undo_stack:
            return None
        step = self.undo_stack.pop()
        self._restore(step.before, step.base_before)
        self.redo_stack.append(step)
        self._notify(f"undo {step.label}")
        return step.label

    def redo(self) -> str | None:
        if not self.redo_stack:
            return None
        step = self.redo_stack.pop()
        self._restore(step.after, step.base_after)
        self.undo_stack.append(step)
        self._notify(f"redo {step.label}")
        return step.label

    def _restore(self, doc: dict, base: Path | None) -> None:
        """Put a recorded state back, with the folder its relative paths were written
        for (a Save As into another folder rewrites paths for the new folder)."""
        current = self.graph.base_dir
        if base is not None:
            self.graph.base_dir = base
        self.graph.replace_with(doc)
        if base is not None and base != current:
            self.graph.rebase(current)            # paths now name the same files from here
        self._last_key = None                     # an undo or redo ends a drag
        self.dirty = self.graph.to_document() != self._saved

    def _notify(self, what: str) -> None:
        self.revision += 1
        for listener in self.listeners:
            listener(what)

    # --------------------------------------------------------------- edits
    def add_node(self, type_name: str, pos: tuple[float, float] = (40, 40),
                 node_id: str | None = None, **params) -> str:
        def change():
            new = self.graph.add(type_name, id=node_id or _fresh_id(self.graph, type_name),
                                 **params)
            self.graph.ui[new] = {"pos": [float(pos[0]), float(pos[1])]}
            return new
        return self._edit(f"add {type_name}", change)

    def add_linked(self, type_name: str, pos: tuple[float, float], pin: str) -> str:
        """Add a node at ``pos`` linked to ``pin`` ("node.port"): an output pin feeds the
        new node's main input, an input pin is fed by its main output.  One step; a
        link the model refuses refuses the whole edit."""
        def change():
            new = self.graph.add(type_name, id=_fresh_id(self.graph, type_name))
            self.graph.ui[new] = {"pos": [float(pos[0]), float(pos[1])]}
            if self.pin_is_input(pin):
                self.graph.connect(new, pin)
            else:
                self.graph.connect(pin, new)
            return new
        return self._edit(f"add {type_name} linked to {pin}", change)

    def insert_on_link(self, node_id: str, link: tuple[str, str],
                       pos: tuple[float, float]) -> str:
        """Put a node (dropped onto a link) into that link: src -> node -> dst, where
        it was dropped.  One step."""
        src, dst = link

        def change():
            self.graph.ui[node_id] = dict(self.graph.ui.get(node_id, {}),
                                          pos=[float(pos[0]), float(pos[1])])
            self.graph.disconnect(src, dst)
            self.graph.connect(src, node_id)
            self.graph.connect(node_id, dst)
            return node_id
        return self._edit(f"insert {node_id} into {src} -> {dst}", change)

    def pin_is_input(self, pin: str) -> bool:
        """Whether "node.port" names an input port."""
        node, _, port = pin.partition(".")
        cls = self.graph.node(node).node_class()
        return cls is not None and port in cls.input_names()

    def fitting_types(self, pin: str) -> set[str]:
        """The node types that can be linked to ``pin``: ones with a main input for an
        output pin, with a main output for an input pin."""
        from mixgraph.nodes.base import node_types

        want_output = self.pin_is_input(pin)
        return {name for name, cls in node_types().items()
                if (cls.default_output() if want_output else cls.default_input())}

    def remove_nodes(self, node_ids: list[str]) -> None:
        def change():
            for nid in node_ids:
                if nid in self.graph.nodes:
                    self.graph.remove(nid)
        self._edit(f"delete {', '.join(node_ids)}", change)

    def delete(self, node_ids: list[str], links: list[tuple[str, str]]) -> None:
        """Delete nodes (with their links) and links, as one step."""
        def change():
            for src, dst in links:
                if src.split(".")[0] not in node_ids and dst.split(".")[0] not in node_ids:
                    self.graph.disconnect(src, dst)
            for nid in node_ids:
                if nid in self.graph.nodes:
                    self.graph.remove(nid)
        what = [*node_ids, *(f"{a} -> {b}" for a, b in links)]
        self._edit(f"delete {', '.join(what)}", change)

    def set_expanded(self, node_id: str, on: bool) -> None:
        """Show all of a node's parameters on the canvas, or only its key controls."""
        def change():
            self.graph.node(node_id)
            entry = dict(self.graph.ui.get(node_id, {}))
            if on:
                entry["expanded"] = True
            else:
                entry.pop("expanded", None)
            self.graph.ui[node_id] = entry
        self._edit(f"{'expand' if on else 'compact'} {node_id}", change)

    def set_bypass(self, node_ids: list[str], on: bool) -> None:
        """Bypass nodes, or bring them back (one step)."""
        def change():
            for nid in node_ids:
                self.graph.set_bypass(nid, on)
        self._edit(f"{'bypass' if on else 'bring back'} {', '.join(node_ids)}", change)

    def connect(self, src: str, dst: str) -> None:
        self._edit(f"link {src} -> {dst}", lambda: self.graph.connect(src, dst))

    def disconnect(self, src: str, dst: str) -> None:
        self._edit(f"unlink {src} -> {dst}", lambda: self.graph.disconnect(src, dst))

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        self._edit(f"{node_id}.{name}", lambda: self.graph.set(node_id, name, value),
                   key=("param", node_id, name))

    def gesture(self, node_id: str, name: str, value: Any, label: str) -> None:
        """Set a parameter by one gesture of its own (a region split, moved or
        trimmed): one undo step, never merged with the edit before it."""
        self._edit(label, lambda: self.graph.set(node_id, name, value))

    def reset_param(self, node_id: str, name: str) -> None:
        self._edit(f"reset {node_id}.{name}", lambda: self.graph.unset(node_id, name))

    def set_automation(self, node_id: str, name: str, points: list, curve: str,
                       fixed: Any, label: str = "") -> None:
        """A lane's points as the parameter's automation (or the node's bypass, a step
        lane), one step; no points: the fixed value ``fixed`` (what the lane held)."""
        from .lanes import BYPASS

        def change():
            if name == BYPASS:
                on = {"automation": points, "curve": "step"} if points else bool(fixed)
                self.graph.set_bypass(node_id, on)
            elif points:
                self.graph.set(node_id, name, {"automation": points, "curve": curve})
            else:
                self.graph.set(node_id, name, fixed)
        self._edit(label or f"automation of {node_id}.{name}", change)

    # ---------------------------------------------- a list parameter's items
    def add_item(self, node_id: str, name: str) -> None:
        """Append the item the parameter's declaration makes new (the list editor's
        "+ band"); the node refuses it, with its own message, if it cannot take one."""
        items, rows = self._items(node_id, name)
        self._edit(f"add {items.noun} to {node_id}.{name}",
                   lambda: self.graph.set(node_id, name, rows + [items.new()]))

    def remove_item(self, node_id: str, name: str, index: int) -> None:
        items, rows = self._items(node_id, name)
        self._edit(f"remove {items.noun} {index} of {node_id}.{name}",
                   lambda: self.graph.set(node_id, name,
                                          [r for i, r in enumerate(rows) if i != index]))

    def set_item(self, node_id: str, name: str, index: int, field: str, value: Any) -> None:
        """Set one field of one item (a drag on it is one undo step, as for a parameter)."""
        items, rows = self._items(node_id, name)
        if not (0 <= index < len(rows) and isinstance(rows[index], dict)):
            raise ParameterError(f"node '{node_id}': {name} has no {items.noun} {index}",
                                 node=node_id, param=name)
        rows[index][field] = value
        self._edit(f"{node_id}.{name} {items.noun} {index} {field}",
                   lambda: self.graph.set(node_id, name, rows),
                   key=("item", node_id, name, index, field))

    def _items(self, node_id: str, name: str):
        """The parameter's item declaration and a copy of its items as they are."""
        spec = self.graph.node(node_id)
        rows = spec.value(name)
        items = node_class(spec.type).param_table()[name].items
        if items is None:
            raise ParameterError(f"node '{node_id}': {name} is not a list of items",
                                 node=node_id, param=name)
        return items, copy.deepcopy(rows) if isinstance(rows, list) else []

    def rename(self, old: str, new: str) -> None:
        self._edit(f"rename {old} to {new}", lambda: self.graph.rename(old, new))

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        def change():
            for nid, (x, y) in positions.items():
                if nid in self.graph.nodes:
                    self.graph.ui[nid] = dict(self.graph.ui.get(nid, {}),
                                              pos=[float(x), float(y)])
        self._edit("move", change, key=("move", tuple(sorted(positions))))

    def duplicate(self, node_ids: list[str], offset: tuple[float, float] = (40, 40)) -> list[str]:
        """Copies of the nodes with their parameters and the links among them."""
        return self.paste(self.clip(node_ids), offset=offset,
                          label=f"duplicate {', '.join(node_ids)}")

    def clip(self, node_ids: list[str]) -> dict:
        """The nodes, the links among them and where they sit, as plain data to paste
        into this project or another (the files they read named by absolute path)."""
        chosen = set(node_ids)
        nodes = []
        for nid in node_ids:
            doc = self.graph.node(nid).to_document()
            spec = self.graph.node(nid)
            for name in spec.with_role("reads"):
                value = doc.get("params", {}).get(name)
                if isinstance(value, str) and value:
                    doc["params"][name] = str(self.graph.resolve_path(value))
            nodes.append(doc)
        links = [l.to_document() for l in self.graph.links
                 if l.src.node in chosen and l.dst.node in chosen]
        pos = {nid: list(self.graph.ui.get(nid, {}).get("pos", [40, 40])) for nid in node_ids}
        return {"format": CLIP_FORMAT, "nodes": nodes, "links": links, "pos": pos}

    def paste(self, clip: dict, at: tuple[float, float] | None = None,
              offset: tuple[float, float] = (40, 40), label: str = "paste") -> list[str]:
        """Add a clip's nodes (ids kept where free) and links, as one step: its
        top-left corner at ``at``, or moved by ``offset``.  A clip is checked as a
        project file is (plain data, known keys); a node that would write a file
        another node writes writes a copy beside it."""
        if not isinstance(clip, dict) or clip.get("format") != CLIP_FORMAT:
            raise ParameterError("nothing to paste: the clipboard holds no mixgraph nodes")
        parsed = Graph.from_document({"format": "mixgraph", "version": 1,
                                      "nodes": clip.get("nodes", []),
                                      "links": clip.get("links", [])}, where="the clipboard")
        pos = clip.get("pos") if isinstance(clip.get("pos"), dict) else {}
        spots = {nid: _point(pos.get(nid)) for nid in parsed.nodes}
        if at is not None and spots:
            left = min(x for x, _ in spots.values())
            top = min(y for _, y in spots.values())
            offset = (at[0] - left, at[1] - top)

        def change():
            written = {str(self.graph.resolve_path(s.params[n])) for s in self.graph
                       for n in s.with_role("writes") if s.params.get(n)}
            made: dict[str, str] = {}
            new_ids: dict[str, str] = {}
            for nid in parsed.nodes:
                taken = set(self.graph.nodes) | set(new_ids.values())
                new_ids[nid] = nid if nid not in taken else _fresh_id(taken, nid)
            for nid, spec in parsed.nodes.items():
                params = copy.deepcopy(spec.params)
                cls = spec.node_class()
                for name in spec.with_role("writes"):     # a copy writes its own file
                    value = params.get(name)
                    if value and str(self.graph.resolve_path(value)) in written:
                        p = Path(value)
                        params[name] = str(p.with_name(f"{p.stem}_copy{p.suffix}"))
                new = new_ids[nid]
                self.graph.add(spec.type, id=new, **{k: v for k, v in params.items()
                                                     if not _names_nodes(cls, k)})
                self.graph.nodes[new].bypass = copy.deepcopy(spec.bypass)
                x, y = spots[nid]
                self.graph.ui[new] = {"pos": [x + offset[0], y + offset[1]]}
                made[nid] = new
            # member lists once every node exists: members copied with it name the
            # copies; others, the nodes of that name here (if there are any)
            for nid, spec in parsed.nodes.items():
                cls = spec.node_class()
                for p in (cls.params if cls is not None else ()):
                    if p.kind == "nodes" and p.name in spec.params:
                        self.graph.set(made[nid], p.name,
                                       [new_ids.get(m, m) for m in spec.params[p.name]
                                        if m in new_ids or m in self.graph.nodes])
            for link in parsed.links:
                self.graph.connect(f"{made[link.src.node]}.{link.src.port}",
                                   f"{made[link.dst.node]}.{link.dst.port}")
            return list(made.values())
        return self._edit(label, change)

    def arrange(self) -> None:
        """Tidy the layout (one undoable step)."""
        from .layout import arrange
        self._edit("arrange", lambda: arrange(self.graph))

    def set_template_rules(self, rules: dict) -> None:
        """Replace a template's rules (its ``template`` section) as one undoable step;
        rules validation refuses are refused with its message."""
        if self.graph.kind != "template":
            raise MixgraphError("this project is not a template: save it as one first "
                                "(File > Save as template...)")

        def change() -> None:
            self.graph.template = dict(rules)
            wrong = [e.message for e in validate(self.graph, check_files=False).errors
                     if e.message.startswith("template:")]
            if wrong:
                raise MixgraphError(wrong[0])
        self._edit("template rules", change)

    def replace_graph(self, graph: Graph, label: str = "replace") -> None:
        """Take another graph's content as one undoable step (new from template ...)."""
        self._edit(label, lambda: self.graph.replace_with(graph.to_document()))
        self.graph.base_dir = graph.base_dir

    # ---------------------------------------------------------- questions
    def problems(self) -> dict[str | None, list[str]]:
        """Validation problems by node id (None: the project as a whole)."""
        found: dict[str | None, list[str]] = {}
        result = validate(self.graph)
        for err in result.errors:
            found.setdefault(err.node if err.node in self.graph.nodes else None,
                             []).append(err.message)
        return found

    def can_connect(self, src: str, dst: str) -> str | None:
        """Why a link cannot be made (one sentence), or None if it can."""
        from mixgraph.core.model import Link, PortRef

        try:
            link = Link(self.graph.full(PortRef.parse(src), as_input=False),
                        self.graph.full(PortRef.parse(dst), as_input=True))
        except MixgraphError as exc:
            return exc.message
        problem = self.graph.link_problem(link)
        return problem.message if problem else None


def _names_nodes(cls, name: str) -> bool:
    """Whether a parameter holds node ids (a group's members)."""
    table = cls.param_table() if cls is not None else {}
    return name in table and table[name].kind == "nodes"


def _point(value) -> tuple[float, float]:
    """A position from a clip (plain data): two numbers, else the default."""
    if isinstance(value, list) and len(value) == 2 and \
            all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return float(value[0]), float(value[1])
    return 40.0, 40.0


def _fresh_id(taken, base: str) -> str:
    """``base_n`` for the first n not among ``taken`` (a graph, or a set of ids)."""
    taken = taken.nodes if isinstance(taken, Graph) else taken
    base = base.rstrip("0123456789_") or base
    n = 1
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def palette(query: str = "") -> list[tuple[str, str, str]]:
    """(type, category, summary) of the node types whose name or summary has ``query``,
    from the registry (never a hand-kept list); built-ins first, and first of all the
    ones whose name is, starts with or holds what was typed."""
    from mixgraph.nodes.base import node_types

    q = query.lower().strip()
    out = []
    for name, cls in node_types().items():
        if cls.category == "test":
            continue
        text = f"{name} {cls.category} {cls.summary}".lower()
        if all(word in text for word in q.split()):
            out.append((name, cls.category, cls.summary))

    def rank(entry) -> int:            # the name typed first, then names that start so
        name = entry[0]
        return 0 if name == q else 1 if name.startswith(q) else 2 if q in name else 3
    return sorted(out, key=rank) if q else out


def node_summary(type_name: str) -> str:
    return node_class(type_name).summary
