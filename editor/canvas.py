"""The document as the canvas shows it, and what changes between two states.

``views(graph, problems)`` turns the model into one :class:`NodeView` per node
(label, pins, parameter widgets with their values, position, problem) and a set of
links; ``changes(old, new)`` says which nodes to create, delete or refresh, so an
edit redraws only what it touched.  Pure data: the editor does the drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mixgraph import Graph
from mixgraph.nodes.base import node_types

from .widgets import WidgetSpec, key_params, spec_for

GRID = (230, 120)                            # spacing for nodes with no saved position


@dataclass
class ParamView:
    name: str
    spec: WidgetSpec
    value: Any
    automated: bool


@dataclass
class NodeView:
    id: str
    type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    pos: tuple[float, float]
    params: list[ParamView] = field(default_factory=list)
    problem: str | None = None
    known: bool = True
    bypass: bool = False           # bypassed all the time
    bypass_words: str = ""         # "bypassed", "bypass automated" or ""
    more: int = 0                  # parameters not on the node (in the inspector panel)

    @property
    def label(self) -> str:
        name = f"{self.id}  ({self.type})" if self.id != self.type else self.id
        return f"{name}  - {self.bypass_words}" if self.bypass_words else name

    def shape(self) -> tuple:
        """What needs a node to be drawn again (pins, widget kinds or bypass changed)."""
        return (self.type, self.inputs, self.outputs, self.bypass_words, self.more,
                tuple((p.name, p.spec.kind, p.automated) for p in self.params))


def views(graph: Graph, problems: dict | None = None) -> tuple[dict[str, NodeView],
                                                                set[tuple[str, str]]]:
    problems = problems or {}
    types = node_types()
    out: dict[str, NodeView] = {}
    for i, spec in enumerate(graph):
        cls = types.get(spec.type)
        pos = graph.ui.get(spec.id, {}).get("pos")
        if not (isinstance(pos, (list, tuple)) and len(pos) == 2):
            pos = (20 + GRID[0] * (i % 6), 20 + GRID[1] * (i // 6))
        problem = "\n".join(problems.get(spec.id, [])) or None
        if cls is None:
            out[spec.id] = NodeView(spec.id, spec.type, (), (), (float(pos[0]), float(pos[1])),
                                    problem=problem or f"unknown node type {spec.type!r}",
                                    known=False)
            continue
        every = param_views(graph, spec.id)
        expanded = bool(graph.ui.get(spec.id, {}).get("expanded"))
        keys = key_params(cls)
        params = every if expanded else [p for p in every if p.name in keys]
        out[spec.id] = NodeView(spec.id, spec.type, cls.input_names(), cls.output_names(),
                                (float(pos[0]), float(pos[1])), params, problem,
                                bypass=spec.bypassed, bypass_words=spec.bypass_words,
                                more=len(every) - len(params))
    links = {(str(l.src), str(l.dst)) for l in graph.links}
    return out, links


def param_views(graph: Graph, node_id: str) -> list[ParamView]:
    """Every parameter of a node as the editor shows it (template-only ones only in a
    template; those another parameter makes moot left out: ``Node.shown_params``)."""
    spec = graph.nodes[node_id]
    cls = spec.node_class()
    views = []
    shown = cls.shown_params(spec.params, graph.kind == "template") if cls is not None else ()
    for p in shown:
        value = spec.params.get(p.name, p.default)
        views.append(ParamView(p.name, spec_for(p), value,
                               isinstance(value, dict) and "automation" in value))
    return views


@dataclass
class Changes:
    create: list[str] = field(default_factory=list)    # node ids to draw
    delete: list[str] = field(default_factory=list)    # node ids to take away
    refresh: list[str] = field(default_factory=list)   # same shape, new values/problem
    move: list[str] = field(default_factory=list)      # new position only
    links_add: set = field(default_factory=set)
    links_remove: set = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.create or self.delete or self.refresh or self.move
                    or self.links_add or self.links_remove)


def changes(old: tuple[dict, set], new: tuple[dict, set]) -> Changes:
    (old_nodes, old_links), (new_nodes, new_links) = old, new
    c = Changes()
    for nid, view in new_nodes.items():
        before = old_nodes.get(nid)
        if before is None:
            c.create.append(nid)
        elif before.shape() != view.shape():
            c.delete.append(nid)
            c.create.append(nid)
        else:
            if ([p.value for p in before.params] != [p.value for p in view.params]
                    or before.problem != view.problem):
                c.refresh.append(nid)
            if before.pos != view.pos:
                c.move.append(nid)
    c.delete += [nid for nid in old_nodes if nid not in new_nodes]
    recreated = set(c.delete) & set(c.create)
    c.links_add = {l for l in new_links if l not in old_links
                   or l[0].split(".")[0] in recreated or l[1].split(".")[0] in recreated}
    c.links_remove = {l for l in old_links if l not in new_links}
    return c


def bounds(nodes: dict[str, NodeView]) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of the node positions (for framing the graph)."""
    if not nodes:
        return (0.0, 0.0, 0.0, 0.0)
    xs = [v.pos[0] for v in nodes.values()]
    ys = [v.pos[1] for v in nodes.values()]
    return min(xs), min(ys), max(xs) + GRID[0], max(ys) + GRID[1]


def figures_line(figures: dict) -> str:
    """What a node measured in a render, in a line for the node: gain reduction (max
    and mean, or per band), loudness gain and limiting, an output's loudness and peak."""
    def db(v) -> str:
        return f"{v:.1f}"

    words = []
    if "gain_reduction_max_db" in figures:
        words.append(f"GR max {db(figures['gain_reduction_max_db'])} dB, mean "
                     f"{db(figures.get('gain_reduction_mean_db', 0.0))}")
    bands = sorted(k for k in figures if k.startswith("band") and k.endswith("_max_db"))
    if bands:
        words.append("GR max " + " / ".join(db(figures[k]) for k in bands) + " dB")
    if "gain_db" in figures and "output_lufs" in figures:
        words.append(f"gain {db(figures['gain_db'])} dB to {db(figures['output_lufs'])} LUFS")
    if figures.get("limiting"):
        words.append(f"limiting {db(figures.get('limiting_max_db', 0.0))} dB")
    if "integrated_lufs" in figures:
        lufs, peak = figures.get("integrated_lufs"), figures.get("true_peak_dbtp")
        words.append(("-inf" if lufs is None or lufs == float("-inf") else db(lufs))
                     + " LUFS, TP " + ("-inf" if peak is None or peak == float("-inf")
                                       else db(peak)) + " dBTP")
    return "; ".join(words)
