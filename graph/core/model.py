"""The graph model: nodes with ids, types and parameters, and links between ports.

``Graph`` is the only model of a project; the command line, the Python API and the
editor all work on it.  Interactive edits (``add``, ``connect``, ``set``, ...) are
checked at once and raise a :class:`MixgraphError` naming what is wrong.  A graph
read from a file is taken as written, so that :func:`mixgraph.core.validation.validate` can
report every problem in it at once.

A port is written ``"node.port"``; a bare ``"node"`` means the node's default port
(``out`` for a link's start, ``in`` for its end).  Several links into one input
port are summed.
"""

from __future__ import annotations

import copy
import os
import warnings
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import mixgraph.nodes  # noqa: F401  (registers the node catalogue)
from mixgraph.nodes.base import Sink, close_matches, find_class, node_class
from mixgraph.nodes.switching import switch_problems
from mixgraph.errors import GraphError, ParameterError, ProjectFileError

FORMAT_NAME = "mixgraph"
FORMAT_VERSION = 1
ID_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}$")
DEFAULT_SETTINGS = {"max_tail_s": 30.0, "tempo_bpm": 0.0, "beats_per_bar": 4.0}
SETTINGS_RANGES = {"max_tail_s": (0.0, 3600.0), "tempo_bpm": (0.0, 999.0),
                   "beats_per_bar": (1.0, 32.0)}              # tempo 0: none (a grid in s)
# a template's rule for files no slot matches (its "template" section, see binding):
# an error unless the template says otherwise
UNMATCHED_RULES = ("error", "catch_all", "leave_out")
KNOWN_KEYS = ("format", "version", "kind", "sample_rate", "settings", "meta", "template",
              "nodes", "links", "ui")


@dataclass(frozen=True)
class PortRef:
    """One end of a link: a node id and a port name (``None``: the default port)."""

    node: str
    port: str | None = None

    @classmethod
    def parse(cls, text: str) -> "PortRef":
        if not isinstance(text, str) or not text:
            raise GraphError(f"a link end must be 'node' or 'node.port', got {text!r}")
        node, dot, port = text.partition(".")
        if dot and not port:
            raise GraphError(f"a link end must be 'node' or 'node.port', got {text!r}")
        return cls(node, port or None)

    def __str__(self) -> str:
        return f"{self.node}.{self.port}" if self.port else self.node


@dataclass(frozen=True)
class Link:
    """A connection from an output port to an input port."""

    src: PortRef
    dst: PortRef

    def to_document(self) -> list[str]:
        return [str(self.src), str(self.dst)]

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}"


@dataclass
class NodeSpec:
    """A node as the document holds it: raw parameter values, automation as dicts."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    #: bypassed: the node's main input passes to its outputs unchanged, with no
    #: latency (as if the node were not there); a bypassed source is silent.  Or a
    #: step automation of 0 (in) and 1 (bypassed): the node comes in and goes out at
    #: moments of the song (:mod:`mixgraph.nodes.switching`)
    bypass: bool | dict = False

    @property
    def bypassed(self) -> bool:
        """Bypassed all the time (``bypass: true``)."""
        return self.bypass is True

    @property
    def switched(self) -> bool:
        """Its bypass automated (a step lane)."""
        return isinstance(self.bypass, dict)

    @property
    def bypass_words(self) -> str:
        """How the editor labels its bypass: "bypassed", "bypass automated" or ""."""
        return "bypassed" if self.bypassed else "bypass automated" if self.switched else ""

    def node_class(self):
        """The registered class of this node's type, or ``None`` if unknown."""
        return find_class(self.type)

    def with_role(self, role: str) -> tuple[str, ...]:
        """Names of this node's parameters with ``role`` (none if its type is unknown)."""
        cls = self.node_class()
        return () if cls is None else cls.with_role(role)

    def params_writing(self, path: str | None) -> dict[str, Any]:
        """A copy of the parameters, with the file the node writes (its ``writes``
        parameter) set to ``path`` where one is given (an output redirected)."""
        params = dict(self.params)
        if path is not None:
            params.update((name, str(path)) for name in self.with_role("writes"))
        return params

    def value(self, name: str) -> Any:
        """The parameter's value as written, or its default."""
        if name in self.params:
            return self.params[name]
        cls = self.node_class()
        if cls is None or name not in cls.param_table():
            raise ParameterError(f"node '{self.id}' has no parameter {name!r}",
                                 node=self.id, param=name)
        return copy.deepcopy(cls.param_table()[name].default)

    def to_document(self) -> dict:
        doc: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.version != 1:
            doc["version"] = self.version
        if self.params:
            doc["params"] = copy.deepcopy(self.params)
        if self.bypass:
            doc["bypass"] = copy.deepcopy(self.bypass) if self.switched else True
        return doc


class LinkList(list):
    """The graph's links, in document order (a plain list to read and to change), that
    counts its changes, so that the graph knows when its index of them is stale."""

    changes = 0

    def _changed(self, result=None):
        self.changes += 1
        return result


def _counting(name: str):
    method = getattr(list, name)

    def changed(self, *args, **kwargs):
        return self._changed(method(self, *args, **kwargs))

    changed.__name__ = name
    return changed


for _name in ("append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse",
              "__setitem__", "__delitem__", "__iadd__", "__imul__"):
    setattr(LinkList, _name, _counting(_name))
del _name


class _LinkIndex:
    """The links as a set and by node (out and in), for checks that must not walk the
    whole list for each new link; built from a :class:`LinkList` at one change count."""

    def __init__(self, links: LinkList):
        self.changes = links.changes
        self.known: set[Link] = set()
        self.out: dict[str, list[Link]] = {}
        self.into: dict[str, list[Link]] = {}
        for link in links:
            self.add(link)

    def add(self, link: Link) -> None:
        self.known.add(link)
        self.out.setdefault(link.src.node, []).append(link)
        self.into.setdefault(link.dst.node, []).append(link)


class Graph:
    """A mix/master project: nodes, links, settings and the editor's layout.

    >>> g = Graph(sample_rate=48000)
    >>> g.add("tone", id="a", freq_hz=440.0)
    'a'
    >>> g.add("output", id="master", path="a.wav")
    'master'
    >>> g.connect("a", "master")
    Link(src=PortRef(node='a', port='out'), dst=PortRef(node='master', port='in'))
    """

    def __init__(self, sample_rate: int = 48000, *, base_dir: str | os.PathLike | None = None,
                 settings: dict | None = None, meta: dict | None = None):
        self.sample_rate = sample_rate
        self.nodes: dict[str, NodeSpec] = {}
        self.links = LinkList()
        self.ui: dict[str, dict] = {}
        self.settings: dict[str, Any] = dict(settings or {})
        self.meta: dict[str, Any] = dict(meta or {})
        self.template: dict[str, Any] = {}     # a template's description and binding rules
        self.extra: dict[str, Any] = {}        # unknown top-level keys, kept as written
        self.kind: str | None = None
        self.path: Path | None = None         # the file this graph was loaded from / saved to
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()

    @property
    def links(self) -> LinkList:
        """The links in document order; assigning a list takes a copy of it."""
        return self._links

    @links.setter
    def links(self, value) -> None:
        self._links = LinkList(value)
        self._index: _LinkIndex | None = None

    def _indexed(self) -> _LinkIndex:
        """The index of the links, rebuilt if the list changed since it was made."""
        if self._index is None or self._index.changes != self._links.changes:
            self._index = _LinkIndex(self._links)
        return self._index

    # ------------------------------------------------------------------ access
    def __contains__(self, node_id: str) -> bool:
        return node_id in self.nodes

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> NodeSpec:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise GraphError(f"there is no node {node_id!r}"
                             f"{close_matches(node_id, self.nodes)}", node=node_id) from None

    def setting(self, name: str) -> Any:
        return self.settings.get(name, DEFAULT_SETTINGS[name])

    def links_into(self, node_id: str) -> list[Link]:
        return list(self._indexed().into.get(node_id, ()))

    def links_from(self, node_id: str) -> list[Link]:
        return list(self._indexed().out.get(node_id, ()))

    def resolve_path(self, path: str) -> Path:
        """A path parameter as a filesystem path (relative ones against ``base_dir``)."""
        p = Path(path).expanduser()
        return Path(os.path.normpath(p if p.is_absolute() else self.base_dir / p))

    def full(self, ref: PortRef, *, as_input: bool) -> PortRef:
        """``ref`` with its default port filled in, where the node's type is known."""
        if ref.port is not None:
            return ref
        spec = self.nodes.get(ref.node)
        cls = spec.node_class() if spec else None
        if cls is None:
            return ref
        port = cls.default_input() if as_input else cls.default_output()
        return PortRef(ref.node, port) if port else ref

    # ------------------------------------------------------------------- edits
    def add(self, type: str, id: str | None = None, **params: Any) -> str:
        """Add a node; returns its id (``type_N`` if none is given)."""
        cls = node_class(type)
        if id is None:
            n = 1
            while f"{type}_{n}" in self.nodes:
                n += 1
            id = f"{type}_{n}"
        self._check_new_id(id)
        retired = [name for name in params if name in cls.retired]
        if retired:                          # a script of before: made current, with a warning
            warnings.warn(f"{type}: {', '.join(retired)}: {cls.retired[retired[0]]}; "
                          "the old form stops working in a later release", FutureWarning,
                          stacklevel=2)
            params = cls.migrate(params, cls.version - 1)
        spec = NodeSpec(id, type, {}, cls.version)
        spec.params = self._checked(spec, cls, params)
        self.nodes[id] = spec
        return id

    def set_bypass(self, node_id: str, on: bool | dict = True) -> None:
        """Bypass a node (its main input passes through) or bring it back, or automate
        its bypass (a step automation of 0 and 1); an output cannot be bypassed (mute
        what feeds it, or remove it)."""
        spec = self.node(node_id)
        if on and issubclass(node_class(spec.type), Sink):
            raise GraphError(f"output '{node_id}' cannot be bypassed: it writes the "
                             "file; mute what feeds it, or remove it", node=node_id)
        if isinstance(on, dict):
            problems = switch_problems(on)
            if problems:
                raise ParameterError(f"node '{node_id}': bypass: {problems[0]}",
                                     node=node_id, param="bypass")
            spec.bypass = copy.deepcopy(on)
        else:
            spec.bypass = bool(on)

    def set(self, node_id: str, name: str, value: Any) -> None:
        """Set a parameter (a value or an automation dict), checked at once."""
        spec = self.node(node_id)
        spec.params = self._checked(spec, node_class(spec.type), {name: value})

    def _checked(self, spec: NodeSpec, cls, updates: dict[str, Any]) -> dict[str, Any]:
        """``spec``'s parameters with ``updates`` applied, or ParameterError.

        Each value is checked against its row of the table; the rules that join
        several parameters are checked once, on the result.
        """
        table = cls.param_table()
        updates = {name: _plain(value) for name, value in updates.items()}
        for name, value in updates.items():
            if name not in table:
                raise ParameterError(f"node '{spec.id}' ({spec.type}) has no parameter "
                                     f"{name!r}{cls.unknown_param(name)}",
                                     node=spec.id, param=name)
            if self.kind == "template" and name in cls.with_role("reads") and value == "":
                continue                          # a template's slot: no file yet
            problems = table[name].problems(value)
            if problems:
                raise ParameterError(f"node '{spec.id}': {problems[0]}", node=spec.id,
                                     param=name)
            if table[name].kind == "nodes":
                missing = [m for m in value if m not in self.nodes]
                if missing:
                    raise ParameterError(f"node '{spec.id}': {name} names {missing[0]!r}, "
                                         "which is not a node of this graph",
                                         node=spec.id, param=name)
        merged = dict(spec.params, **copy.deepcopy(updates))
        problems = cls.check_params(merged, self.sample_rate)
        if problems:
            raise ParameterError(f"node '{spec.id}': {problems[0]}", node=spec.id,
                                 param=next(iter(updates), None))
        return merged

    def unset(self, node_id: str, name: str) -> None:
        """Return a parameter to its default."""
        self.node(node_id).params.pop(name, None)

    def connect(self, src: str | PortRef, dst: str | PortRef) -> Link:
        """Link an output port to an input port; refuses unknown ports and cycles."""
        link = Link(self.full(_ref(src), as_input=False), self.full(_ref(dst), as_input=True))
        problem = self.link_problem(link)
        if problem:
            raise problem
        index = self._indexed()
        self.links.append(link)
        index.add(link)
        index.changes = self.links.changes
        return link

    def link_problem(self, link: Link) -> GraphError | None:
        """Why ``link`` cannot be added to this graph, or ``None`` if it can."""
        for end, as_input in ((link.src, False), (link.dst, True)):
            if end.node not in self.nodes:
                return GraphError(f"link {link}: there is no node {end.node!r}"
                                  f"{close_matches(end.node, self.nodes)}", node=end.node)
            problem = self.port_problem(link, end, as_input)
            if problem:
                return problem
        if link in self._indexed().known:
            return GraphError(f"link {link} already exists", node=link.dst.node,
                              port=link.dst.port)
        if link.src.node == link.dst.node or self._reaches(link.dst.node, link.src.node):
            path = self._path(link.dst.node, link.src.node) or [link.dst.node]
            cycle = " -> ".join([link.src.node] + path)
            return GraphError(f"link {link} would make a cycle: {cycle}",
                              node=link.src.node)
        return None

    def port_problem(self, link: Link, end: PortRef, as_input: bool) -> GraphError | None:
        """What is wrong with ``end`` of ``link`` (an input end if ``as_input``): a port
        the node does not have, or one of the wrong direction; None if nothing."""
        cls = self.nodes[end.node].node_class()
        if cls is None:
            return None                          # unknown types are reported elsewhere
        ins, outs = cls.input_names(), cls.output_names()
        want, other = (ins, outs) if as_input else (outs, ins)
        role = "input" if as_input else "output"
        if end.port is None:
            return GraphError(f"link {link}: node '{end.node}' ({cls.type_name}) has no "
                              f"{role} port", node=end.node)
        if end.port in want:
            return None
        if end.port in other:
            return GraphError(f"link {link}: '{end.port}' is an "
                              f"{'output' if as_input else 'input'} of '{end.node}'; a link "
                              "goes from an output (" + (", ".join(outs) or "none") +
                              ") to an input (" + (", ".join(ins) or "none") + ")",
                              node=end.node, port=end.port)
        return GraphError(f"link {link}: node '{end.node}' ({cls.type_name}) has no {role} "
                          f"port '{end.port}' ({role}s: {', '.join(want) or 'none'})"
                          f"{close_matches(end.port, want)}", node=end.node, port=end.port)

    def disconnect(self, src: str | PortRef, dst: str | PortRef) -> Link:
        """Remove the link from ``src`` to ``dst``."""
        link = Link(self.full(_ref(src), as_input=False), self.full(_ref(dst), as_input=True))
        try:
            self.links.remove(link)
        except ValueError:
            raise GraphError(f"there is no link {link}", node=link.dst.node) from None
        return link

    def remove(self, node_id: str) -> list[Link]:
        """Remove a node with its links, layout and group memberships; returns the links."""
        self.node(node_id)
        gone = [l for l in self.links if node_id in (l.src.node, l.dst.node)]
        self.links = [l for l in self.links if l not in gone]
        del self.nodes[node_id]
        self.ui.pop(node_id, None)
        for spec, name in self._node_list_params():
            if node_id in spec.params[name]:
                spec.params[name] = [m for m in spec.params[name] if m != node_id]
        return gone

    def keep_only_feeding(self, wanted: Iterable[str]) -> list[str]:
        """Remove every node that feeds none of ``wanted`` (nor controls, as a group,
        a node that does); returns the removed ids."""
        keep: set[str] = set()
        todo = list(wanted)
        while todo:
            node = todo.pop()
            if node in keep:
                continue
            keep.add(node)
            todo.extend(l.src.node for l in self.links_into(node))
            todo.extend(spec.id for spec, name in self._node_list_params()
                        if node in spec.params[name])
        gone = [node_id for node_id in self.nodes if node_id not in keep]
        for node_id in gone:
            self.remove(node_id)
        return gone

    def rename(self, old: str, new: str) -> None:
        """Give a node a new id, keeping its links, layout and group memberships."""
        spec = self.node(old)
        if new == old:
            return
        self._check_new_id(new)
        self.nodes = {(new if k == old else k): v for k, v in self.nodes.items()}
        spec.id = new

        def moved(ref: PortRef) -> PortRef:
            return PortRef(new, ref.port) if ref.node == old else ref

        self.links = [Link(moved(l.src), moved(l.dst)) for l in self.links]
        if old in self.ui:
            self.ui[new] = self.ui.pop(old)
        for owner, name in self._node_list_params():
            owner.params[name] = [new if m == old else m for m in owner.params[name]]

    def _node_list_params(self):
        for spec in self.nodes.values():
            cls = spec.node_class()
            if cls is None:
                continue
            for p in cls.params:
                if p.kind == "nodes" and isinstance(spec.params.get(p.name), list):
                    yield spec, p.name

    def _check_new_id(self, node_id: str) -> None:
        if not isinstance(node_id, str) or not ID_PATTERN.fullmatch(node_id):
            raise GraphError(f"node id {node_id!r} must be 1-128 letters, digits, '_' or "
                             "'-' (no dots or spaces)", node=str(node_id))
        if node_id in self.nodes:
            raise GraphError(f"there is already a node '{node_id}'", node=node_id)

    def _successors(self, node_id: str) -> set[str]:
        return {l.dst.node for l in self._indexed().out.get(node_id, ())}

    def _reaches(self, a: str, b: str) -> bool:
        return self._path(a, b) is not None

    def _path(self, a: str, b: str) -> list[str] | None:
        """Node ids of a path from a to b along links (a and b included), if any."""
        parent = {a: None}
        todo = [a]
        while todo:
            cur = todo.pop()
            if cur == b:
                path = []
                while cur is not None:
                    path.append(cur)
                    cur = parent[cur]
                return path[::-1]
            for nxt in self._successors(cur):
                if nxt not in parent:
                    parent[nxt] = cur
                    todo.append(nxt)
        return None

    # ---------------------------------------------------------------- document
    def to_document(self) -> dict:
        """The project as plain data (the file format's schema)."""
        doc: dict[str, Any] = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
        if self.kind:
            doc["kind"] = self.kind
        doc["sample_rate"] = self.sample_rate
        if self.settings:
            doc["settings"] = copy.deepcopy(self.settings)
        if self.meta:
            doc["meta"] = copy.deepcopy(self.meta)
        if self.template:
            doc["template"] = copy.deepcopy(self.template)
        doc["nodes"] = [spec.to_document() for spec in self.nodes.values()]
        doc["links"] = [l.to_document() for l in self.links]
        if self.ui:
            doc["ui"] = copy.deepcopy(self.ui)
        doc.update(copy.deepcopy(self.extra))
        return doc

    @classmethod
    def from_document(cls, doc: dict, *, base_dir: str | os.PathLike | None = None,
                      where: str = "the project") -> "Graph":
        """Build a graph from a (current-version) document, taking it as written but
        for a node saved by an older version of its type, which that type migrates.

        Shapes are checked here (a node must have an id and a type, a link is a pair
        of strings); whether types, ports and values make sense is for ``validate``.
        """
        problems: list[str] = []
        if not isinstance(doc, dict):
            raise ProjectFileError(f"{where} must hold a JSON object / msgpack map at the top")
        g = cls(sample_rate=doc.get("sample_rate", 48000), base_dir=base_dir)
        g.kind = doc.get("kind")
        for key in ("settings", "meta", "template", "ui"):
            value = doc.get(key, {})
            if not isinstance(value, dict):
                problems.append(f"'{key}' must be an object, got {type(value).__name__}")
            else:
                setattr(g, key, copy.deepcopy(value))
        g.extra = {k: copy.deepcopy(v) for k, v in doc.items() if k not in KNOWN_KEYS}
        raw_nodes = doc.get("nodes", [])
        if not isinstance(raw_nodes, list):
            problems.append("'nodes' must be a list")
            raw_nodes = []
        for i, raw in enumerate(raw_nodes):
            if not isinstance(raw, dict):
                problems.append(f"node {i} must be an object with 'id' and 'type'")
                continue
            nid, ntype = raw.get("id"), raw.get("type")
            label = f"node {i}" + (f" ('{nid}')" if isinstance(nid, str) else "")
            if not isinstance(nid, str) or not ID_PATTERN.fullmatch(nid):
                problems.append(f"{label}: id must be 1-128 letters, digits, '_' or '-' "
                                f"(no dots or spaces), got {nid!r}")
                continue
            if nid in g.nodes:
                problems.append(f"node id '{nid}' is used twice")
                continue
            if not isinstance(ntype, str) or not ntype:
                problems.append(f"{label}: 'type' must be a node type name, got {ntype!r}")
                continue
            params = raw.get("params", {})
            if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
                problems.append(f"{label}: 'params' must be an object")
                continue
            version = raw.get("version", 1)
            if not isinstance(version, int) or isinstance(version, bool) or version < 1:
                problems.append(f"{label}: 'version' must be a positive whole number")
                continue
            bypass = raw.get("bypass", False)
            if not isinstance(bypass, (bool, dict)):
                problems.append(f"{label}: 'bypass' must be true or false, or a step "
                                "automation of 0 and 1")
                continue
            wrong = switch_problems(bypass) if isinstance(bypass, dict) else []
            if wrong:
                problems.append(f"{label}: bypass: {wrong[0]}")
                continue
            extra = set(raw) - {"id", "type", "params", "version", "bypass"}
            if extra:
                problems.append(f"{label}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
                continue
            params = copy.deepcopy(params)
            cls = find_class(ntype)
            if cls is not None and version < cls.version:
                try:
                    params = cls.migrate(params, version)
                except ParameterError as exc:
                    problems.append(f"{label}: {exc.message}")
                    continue
                version = cls.version
            g.nodes[nid] = NodeSpec(nid, ntype, params, version, bypass)
        raw_links = doc.get("links", [])
        if not isinstance(raw_links, list):
            problems.append("'links' must be a list")
            raw_links = []
        for i, raw in enumerate(raw_links):
            if (not isinstance(raw, list) or len(raw) != 2
                    or not all(isinstance(x, str) for x in raw)):
                problems.append(f"link {i} must be a pair [\"node.port\", \"node.port\"], "
                                f"got {raw!r}"[:200])
                continue
            try:
                src, dst = PortRef.parse(raw[0]), PortRef.parse(raw[1])
            except GraphError as exc:
                problems.append(f"link {i}: {exc.message}")
                continue
            g.links.append(Link(g.full(src, as_input=False), g.full(dst, as_input=True)))
        if problems:
            raise ProjectFileError(f"{where} is malformed: " + "; ".join(problems[:20]) +
                                   (f"; and {len(problems) - 20} more" if len(problems) > 20
                                    else ""))
        return g

    def replace_with(self, doc: dict) -> None:
        """Take the content of ``doc`` in place (same object, same file and folder)."""
        other = Graph.from_document(doc, base_dir=self.base_dir)
        for key in ("sample_rate", "nodes", "links", "ui", "settings", "meta", "template",
                    "extra", "kind"):
            setattr(self, key, getattr(other, key))

    def copy(self) -> "Graph":
        g = Graph.from_document(self.to_document(), base_dir=self.base_dir)
        g.path = self.path
        return g

    def rebase(self, new_base: str | os.PathLike) -> None:
        """Move the graph to another folder.

        Relative paths of files it reads (stems, impulse responses) are rewritten so
        they still name the same files; output paths stay as they are, so the project
        renders next to its new file.
        """
        new_base = Path(new_base).resolve()
        old_base = self.base_dir.resolve()
        if new_base != old_base:
            for spec in self.nodes.values():
                cls = spec.node_class()
                if cls is None:
                    continue
                for name in cls.with_role("reads"):
                    value = spec.params.get(name)
                    if isinstance(value, str) and value \
                            and not Path(value).expanduser().is_absolute():
                        target = (old_base / value).resolve()
                        spec.params[name] = Path(os.path.relpath(target, new_base)).as_posix()
        self.base_dir = new_base

    def __repr__(self) -> str:
        return (f"Graph(sample_rate={self.sample_rate}, nodes={len(self.nodes)}, "
                f"links={len(self.links)})")


def _plain(value: Any) -> Any:
    """``value`` as the document holds it: tuples become lists, all the way down."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _ref(x: str | PortRef) -> PortRef:
    return x if isinstance(x, PortRef) else PortRef.parse(x)

