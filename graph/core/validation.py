"""Validation: every problem in a graph, found before any audio is touched.

``validate(graph)`` returns a :class:`Validation` with ``errors`` (a list of
:class:`MixgraphError`, each naming the node, parameter, port, path or cycle) and
``warnings`` (sentences).  ``check(graph)`` raises :class:`ValidationError`
holding all the errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


from mixgraph.errors import (AudioFileError, GraphError, MixgraphError, ParameterError,
                             ProjectFileError, ValidationError)
from mixgraph.nodes.audiofile import MAX_RATE, MIN_RATE, info
from mixgraph.nodes.base import Sink, close_matches, node_types
from mixgraph.nodes.layouts import channels_problem

from .model import DEFAULT_SETTINGS, SETTINGS_RANGES, UNMATCHED_RULES, Graph, Link
from .policy import undithered_pcm16
from .walk import adjacency, find_cycles, reaching



@dataclass
class Validation:
    errors: list[MixgraphError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_errors(self, where: str | None = None) -> None:
        if self.errors:
            raise ValidationError(self.errors, where)


def validate(graph: Graph, *, check_files: bool = True,
             output_paths: dict[str, str | os.PathLike] | None = None,
             allow_outside: bool | None = None) -> Validation:
    """Every problem in ``graph``.

    ``output_paths`` replaces the paths of output nodes (``{node_id: path}``), as the
    command line's ``-o`` does; they are checked like the graph's own.
    A project read from a file may not write outside its own folder (an absolute
    output path, or one that climbs out with ``..``) unless ``allow_outside``; paths
    given in ``output_paths`` are the caller's and always allowed.  Graphs built in
    code (no file) are trusted unless ``allow_outside`` is False.
    """
    v = Validation()
    err = v.errors.append
    types = node_types()

    rate = graph.sample_rate
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        err(ProjectFileError(f"sample_rate must be a whole number of Hz between {MIN_RATE} "
                             f"and {MAX_RATE}, got {rate!r}"))
        rate = 48000
    for key, value in graph.settings.items():
        if key not in DEFAULT_SETTINGS:
            err(ProjectFileError(f"unknown setting {key!r}{close_matches(key, DEFAULT_SETTINGS)}"
                                 f" (settings: {', '.join(DEFAULT_SETTINGS)})"))
            continue
        lo, hi = SETTINGS_RANGES[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not lo <= value <= hi:
            err(ProjectFileError(f"setting {key} must be between {lo:g} and {hi:g}, "
                                 f"got {value!r}"))

    template = graph.kind == "template"        # its stems are slots: no file yet
    if template:
        _check_template(graph, err)
    elif graph.kind not in (None, "project"):
        err(ProjectFileError(f"this is a {graph.kind!r} document, not a project; "
                             "mixgraph renders projects (and binds templates)"))

    # ------------------------------------------------------------ nodes, params
    known: dict[str, type] = {}
    for spec in graph:
        cls = types.get(spec.type)
        if cls is None:
            err(GraphError(f"node '{spec.id}' has unknown type {spec.type!r}"
                           f"{close_matches(spec.type, types)}", node=spec.id))
            continue
        known[spec.id] = cls
        if spec.version > cls.version:
            err(GraphError(f"node '{spec.id}' was saved by a newer mixgraph ({spec.type} "
                           f"version {spec.version}; this mixgraph knows version "
                           f"{cls.version})", node=spec.id))
        table = cls.param_table()
        slots = cls.with_role("reads") if template else ()     # a slot's file, unbound
        bad_param = False
        for name, value in spec.params.items():
            if name in slots and value == "":
                continue
            if name not in table:
                err(ParameterError(f"node '{spec.id}' ({spec.type}) has no parameter "
                                   f"{name!r}{cls.unknown_param(name)}",
                                   node=spec.id, param=name))
                bad_param = True
                continue
            for problem in table[name].problems(value):
                err(ParameterError(f"node '{spec.id}': {problem}", node=spec.id, param=name))
                bad_param = True
            if table[name].kind == "nodes" and isinstance(value, list):
                for member in value:
                    if isinstance(member, str) and member not in graph.nodes:
                        err(ParameterError(f"node '{spec.id}': {name} names {member!r}, "
                                           "which is not a node of this graph"
                                           f"{close_matches(member, graph.nodes)}",
                                           node=spec.id, param=name))
        for p in cls.params:
            if p.name in slots:
                continue
            if p.required and p.name not in spec.params:
                err(ParameterError(f"node '{spec.id}' ({spec.type}) needs a {p.name}",
                                   node=spec.id, param=p.name))
                bad_param = True
        if not bad_param:
            params = spec.params_writing((output_paths or {}).get(spec.id))
            for problem in cls.check_params(params, rate):
                err(ParameterError(f"node '{spec.id}': {problem}", node=spec.id))

    # ------------------------------------------------------------------ links
    good: list[Link] = []
    seen: set[tuple] = set()
    for link in graph.links:
        problem = None
        for end, as_input in ((link.src, False), (link.dst, True)):
            if end.node not in graph.nodes:
                problem = GraphError(f"link {link}: there is no node {end.node!r}"
                                     f"{close_matches(end.node, graph.nodes)}", node=end.node)
                break
            if end.node in known:
                problem = graph.port_problem(link, end, as_input)
                if problem:
                    break
        key = (link.src.node, link.src.port, link.dst.node, link.dst.port)
        if problem is None and key in seen:
            problem = GraphError(f"link {link} appears twice (it would be summed twice)",
                                 node=link.dst.node, port=link.dst.port)
        seen.add(key)
        if problem is not None:
            err(problem)
        elif link.src.node in known and link.dst.node in known:
            good.append(link)

    succ, pred = adjacency(graph.nodes, ((l.src.node, l.dst.node) for l in good))
    for cycle in find_cycles(succ, pred):
        err(GraphError("links form a cycle: " + _cycle_text(cycle), node=cycle[0]))

    # ------------------------------------------------------ dangling inputs
    fed: dict[str, set[str]] = {}
    for l in good:
        fed.setdefault(l.dst.node, set()).add(l.dst.port)
    sinks = {s.id for s in graph if s.id in known and issubclass(known[s.id], Sink)}
    heard = reaching(pred, sinks)
    for spec in graph:
        cls = known.get(spec.id)
        if cls is None or spec.id not in heard:          # not heard: left out (below)
            continue
        for port in cls.inputs:
            if port.optional or port.name in fed.get(spec.id, ()):
                continue
            if spec.id in sinks:
                err(GraphError(f"output '{spec.id}' has no input; link something to "
                               f"'{spec.id}.{port.name}'", node=spec.id, port=port.name))
            else:
                err(GraphError(f"node '{spec.id}' ({spec.type}) has nothing linked to its "
                               f"input '{port.name}'", node=spec.id, port=port.name))
    if not sinks:
        err(GraphError("the project has no output node, so a render would write nothing; "
                       "add an 'output'"))
    for spec in graph:
        if spec.bypass and spec.id in sinks:
            err(GraphError(f"output '{spec.id}' cannot be bypassed: it writes the file; "
                           "mute what feeds it, or remove it", node=spec.id))
        if spec.id in known and spec.id not in heard:
            v.warnings.append(f"node '{spec.id}' does not reach any output: it is left "
                              "out of the render")

    v.warnings += undithered_pcm16(graph, pred, sinks)

    # ------------------------------------------------------------------ files
    if check_files:
        _check_files(graph, output_paths or {}, v)
    if allow_outside is None:
        allow_outside = graph.path is None
    if not allow_outside:
        _check_inside(graph, output_paths or {}, v)
    return v


def _check_inside(graph: Graph, overrides: dict, v: Validation) -> None:
    """Outputs of a project from a file stay inside the project's folder."""
    base = os.path.normpath(os.path.realpath(graph.base_dir))
    for spec in graph:
        for name in spec.with_role("writes"):
            value = spec.params.get(name)
            if spec.id in overrides or not isinstance(value, str) or not value \
                    or "\x00" in value:
                continue
            try:
                target = os.path.normpath(os.path.realpath(graph.resolve_path(value)))
            except (OSError, ValueError):
                continue                                # reported with the files
            if os.path.commonpath([base, target]) != base:
                v.errors.append(GraphError(
                    f"output '{spec.id}': {value} is outside the project's folder; a project "
                    "only writes inside its folder unless you pass --allow-outside (or "
                    "choose the file with -o)", node=spec.id, param=name, path=target))


def _check_template(graph: Graph, err) -> None:
    t = graph.template
    rule = t.get("unmatched", "error")
    if rule not in UNMATCHED_RULES:
        err(ProjectFileError(f"template: 'unmatched' must be one of "
                             f"{', '.join(UNMATCHED_RULES)}, got {rule!r}"))
    into = t.get("catch_all_into")
    if rule == "catch_all" and not (isinstance(into, str) and into in graph.nodes):
        err(ProjectFileError(f"template: 'catch_all_into' must name a node that unmatched "
                             f"files feed, got {t.get('catch_all_into')!r}"))
    for key, what in (("ignore", "file-name patterns"), ("ignore_families", "family names")):
        value = t.get(key, [])
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            err(ProjectFileError(f"template: '{key}' must be a list of {what}"))
    words = t.get("vocabulary", {})
    if not isinstance(words, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(w, str) for w in v)
            for k, v in words.items()):
        err(ProjectFileError("template: 'vocabulary' must map family names to lists of "
                             "words"))
    if not isinstance(t.get("mastering", False), bool):
        err(ProjectFileError("template: 'mastering' must be true or false"))
    if not any(s.type == "stem" for s in graph):
        err(ProjectFileError("the template has no stem slots to bind"))


def check(graph: Graph, **kwargs) -> Validation:
    """Validate and raise :class:`ValidationError` if anything is wrong."""
    v = validate(graph, **kwargs)
    v.raise_errors(str(graph.path) if graph.path else None)
    return v


CYCLE_SHOWN = 12                       # nodes of a long cycle named in its message


def _cycle_text(cycle: list[str]) -> str:
    """``a -> b -> c -> a``; a long cycle names its first and last nodes and how many
    lie between."""
    if len(cycle) <= CYCLE_SHOWN:
        return " -> ".join(cycle + [cycle[0]])
    head, tail = cycle[:CYCLE_SHOWN - 2], cycle[-2:]
    return (" -> ".join(head) + f" -> ... ({len(cycle) - CYCLE_SHOWN} more) -> "
            + " -> ".join(tail + [cycle[0]]))


def _check_files(graph: Graph, overrides: dict, v: Validation) -> None:
    err = v.errors.append
    reads: dict[str, tuple[str, Path]] = {}
    for spec in graph:
        for name in spec.with_role("reads"):
            value = spec.params.get(name)
            if not isinstance(value, str) or not value or "\x00" in value:
                continue                          # reported with the parameters
            path = graph.resolve_path(value)
            try:
                found = info(path)
            except AudioFileError as exc:
                err(AudioFileError(f"{spec.type} '{spec.id}': {exc.message}", node=spec.id,
                                   param=name, path=str(path)))
                continue
            if (problem := channels_problem(found.channels)) is not None:
                err(AudioFileError(f"{spec.type} '{spec.id}': {value} {problem}",
                                   node=spec.id, param=name, path=str(path)))
            seconds = found.frames / found.samplerate
            for param, problem in spec.node_class().file_problems(spec.params, seconds):
                err(ParameterError(f"{spec.type} '{spec.id}': {param}: {problem}",
                                   node=spec.id, param=param))
            v.warnings += [f"{spec.type} '{spec.id}': {notice}"
                           for notice in spec.node_class().file_notices(spec.params, seconds)]
            reads[_key(path)] = (spec.id, path)
    if graph.path is not None:
        reads.setdefault(_key(graph.path), ("the project file", graph.path))
    written: dict[str, str] = {}
    for spec in graph:
        for name in spec.with_role("writes"):
            value = overrides.get(spec.id, spec.params.get(name))
            if not isinstance(value, str) or not value or "\x00" in value:
                continue                          # reported with the parameters
            path = graph.resolve_path(value)
            try:
                key = _key(path)
                is_dir = path.is_dir()
            except (OSError, ValueError) as exc:
                err(AudioFileError(f"output '{spec.id}': cannot use {value} "
                                   f"({getattr(exc, 'strerror', None) or exc})", node=spec.id,
                                   param=name, path=str(path)))
                continue
            if key in reads:
                owner, _ = reads[key]
                what = owner if owner == "the project file" else f"the source of '{owner}'"
                err(AudioFileError(f"output '{spec.id}': {value} is {what}; a render never "
                                   "overwrites its sources", node=spec.id, param=name,
                                   path=str(path)))
            elif key in written:
                err(AudioFileError(f"outputs '{written[key]}' and '{spec.id}' both write "
                                   f"{value}", node=spec.id, param=name, path=str(path)))
            elif is_dir:
                err(AudioFileError(f"output '{spec.id}': {value} is a folder", node=spec.id,
                                   param=name, path=str(path)))
            written[key] = spec.id


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))
