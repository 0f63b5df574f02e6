"""Positions for the editor's canvas (the document's ``ui`` section).

``arrange`` lays a graph out in columns by depth (sources left, outputs right), each
column's nodes stacked with room for their height (estimated from how many pins and
parameter rows a node shows), so nodes do not overlap.
"""

from __future__ import annotations

import networkx as nx

from mixgraph.core.model import Graph

from .widgets import item_lines, key_params, spec_for

WIDTH = 210                             # a compact node (its key controls)
WIDE = 450                              # nodes that show a list of items (EQ bands ...)
ROW = 24
HEADER = 40
GAP = 24


def node_height(graph: Graph, node_id: str) -> float:
    spec = graph.nodes[node_id]
    cls = spec.node_class()
    if cls is None:
        return HEADER + ROW
    rows = len(cls.inputs) + len(cls.outputs) + 1          # and its meter, while playing
    shown = shown_params(graph, node_id)
    for p in shown:
        if p.items is not None:                  # its name, its rows, "+ band"
            items = spec.params.get(p.name, p.default)
            rows += 2 + sum(_item_rows(p, item) for item in
                            (items if isinstance(items, list) else []))
        else:
            rows += 1
    if len(shown) < len(_all_params(graph, node_id)):
        rows += 1                                # "+ n in the inspector"
    return HEADER + ROW * rows


def _all_params(graph: Graph, node_id: str) -> list:
    spec = graph.nodes[node_id]
    return spec.node_class().shown_params(spec.params, graph.kind == "template")


def shown_params(graph: Graph, node_id: str) -> list:
    """The parameters the node shows on the canvas: its key ones when compact, all
    when expanded."""
    cls = graph.nodes[node_id].node_class()
    every = _all_params(graph, node_id)
    if graph.ui.get(node_id, {}).get("expanded"):
        return every
    keys = key_params(cls)
    return [p for p in every if p.name in keys]


def _item_rows(param, item) -> int:
    """Lines one item of a list parameter takes in the editor (as it draws them)."""
    if not isinstance(item, dict):
        return 1
    return len(item_lines(spec_for(param), [f.name for f in param.items.used(item)]))


def node_width(graph: Graph, node_id: str) -> float:
    cls = graph.nodes[node_id].node_class()
    if cls is None:
        return WIDTH
    return WIDE if any(p.items is not None for p in shown_params(graph, node_id)) else WIDTH


def depths(graph: Graph) -> dict[str, int]:
    """Each node's column: the longest path to it from a node with no input."""
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    dag.add_edges_from((l.src.node, l.dst.node) for l in graph.links)
    depth: dict[str, int] = {}
    try:
        order = list(nx.topological_sort(dag))
    except nx.NetworkXUnfeasible:
        order = list(graph.nodes)
    for n in order:
        depth[n] = max((depth[p] + 1 for p in dag.predecessors(n) if p in depth), default=0)
    return depth


def arrange(graph: Graph) -> dict[str, list[float]]:
    """Set (and return) a tidy position for every node."""
    depth = depths(graph)
    widths: dict[int, float] = {}
    for n in graph.nodes:
        d = depth.get(n, 0)
        widths[d] = max(widths.get(d, 0.0), node_width(graph, n))
    left, x = {}, 20.0
    for d in sorted(widths):
        left[d] = x
        x += widths[d] + GAP * 2
    columns: dict[int, float] = {}
    positions = {}
    for n in graph.nodes:                                # document order within a column
        d = depth.get(n, 0)
        y = columns.get(d, 20.0)
        positions[n] = [left[d], y]
        columns[d] = y + node_height(graph, n) + GAP
    for n, pos in positions.items():
        graph.ui[n] = dict(graph.ui.get(n, {}), pos=pos)
    return positions
