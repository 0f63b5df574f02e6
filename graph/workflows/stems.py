"""Stem export: the mix delivered as the parts that sum back to it, for stem mastering.

Every link into the mix bus becomes a stem: a ``group`` gives a stem named after the
group, and anything else that feeds the mix bus directly (an effect return, a channel
outside any group) gives one named after itself.  Inserts between a submix and the mix
bus (a glue compressor after the drum group) belong to that submix's stem and take its
name, unless that name is already taken by another stem.  Only what feeds the stems is
rendered: the mix bus and the master chain after it are dropped from the graph.  So
the stems add up, sample for sample, to what enters the mix bus (the mix, as far as
stems go); the mix bus's own fader and everything after it (the master chain) are
left off.  Stems are time-aligned with the mix (each output drops its own latency)
and end together, where the mix ends: every file (the channel files of
``channels=True`` too) runs to the last sample at or above -90 dBFS in any of them,
as one output of the mix would, so they are all one length and sum back to the mix
over the whole of it (see :class:`mixgraph.nodes.stream.TailGroup`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mixgraph.nodes.base import Sink
from mixgraph.errors import GraphError

from mixgraph.core.model import Graph
from mixgraph.core.renderer import render


def find_mix_bus(graph: Graph) -> str:
    """The bus that feeds the master chain (or the output), else the node called 'mix'."""
    types = {s.id: s.node_class() for s in graph}
    for spec in graph:
        cls = types[spec.id]
        if cls is None or cls.category != "master":
            continue
        for link in graph.links_into(spec.id):
            src = types.get(link.src.node)
            if src is not None and src.category == "mixing" and src.type_name in ("bus", "group"):
                return link.src.node
    if "mix" in graph.nodes:
        return "mix"
    buses = [s.id for s in graph if s.type == "bus"]
    if len(buses) == 1:
        return buses[0]
    raise GraphError("cannot tell which bus is the mix bus; name it with --mix-bus")


def stem_graph(graph: Graph, folder: str | os.PathLike, mix_bus: str | None = None,
               channels: bool = False, subtype: str = "FLOAT") -> tuple[Graph, dict[str, Path]]:
    """A copy of ``graph`` whose only outputs are the stems (and channel files)."""
    folder = Path(folder).absolute()
    g = graph.copy()
    mix = mix_bus or find_mix_bus(g)
    if mix not in g.nodes:
        raise GraphError(f"there is no node {mix!r} to take stems from")
    for spec in list(g):
        cls = spec.node_class()
        if cls is not None and issubclass(cls, Sink):
            g.remove(spec.id)
    feeds = g.links_into(mix)
    if not feeds:
        raise GraphError(f"nothing is linked into '{mix}', so there are no stems to take")
    paths: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for link in feeds:
        counts[link.src.node] = counts.get(link.src.node, 0) + 1
    names = [link.src.node if counts[link.src.node] == 1 else
             f"{link.src.node}_{link.src.port}" for link in feeds]
    owners = [_owner(g, link.src.node) if counts[link.src.node] == 1 else None
              for link in feeds]
    taken = [o for o in owners if o is not None]
    names = [o if o is not None and taken.count(o) == 1 and o not in names else n
             for n, o in zip(names, owners)]
    for link, name in zip(feeds, names):
        out = _free(g, f"stem__{_safe(name)}")
        path = folder / f"{_safe(name)}.wav"
        g.add("output", id=out, path=str(path), subtype=subtype)
        g.connect(str(link.src), out)
        paths[out] = path
    if channels:
        for spec in [s for s in g if s.type == "channel"]:
            out = _free(g, f"channel__{_safe(spec.id)}")
            path = folder / "channels" / f"{_safe(spec.id)}.wav"
            g.add("output", id=out, path=str(path), subtype=subtype)
            g.connect(f"{spec.id}.out", out)
            paths[out] = path
    g.keep_only_feeding(paths)
    return g, paths


_INSERT_CATEGORIES = {"eq", "dynamics", "meters", "master"}


def _owner(g: Graph, node: str) -> str | None:
    """The submix (group or bus) a chain of single-input inserts hangs off, if any."""
    seen = set()
    while node not in seen:
        seen.add(node)
        spec = g.node(node)
        if spec.type in ("group", "bus"):
            return node
        cls = spec.node_class()
        if cls is None or (cls.category not in _INSERT_CATEGORIES and
                           spec.type not in ("gain", "stereo_width")):
            return None
        main = [l for l in g.links_into(node) if l.dst.port == "in"]
        if len(main) != 1 or len(g.links_from(main[0].src.node)) != 1:
            return None
        node = main[0].src.node
    return None


def render_stems(graph: Graph, folder: str | os.PathLike, mix_bus: str | None = None,
                 channels: bool = False, subtype: str = "FLOAT", block_size: int = 1024,
                 progress=None, workers: int | None = None):
    """Render the stems into ``folder``; returns the render report.  Every file
    written ends together (see the module notes)."""
    g, paths = stem_graph(graph, folder, mix_bus, channels, subtype)
    return render(g, block_size=block_size, progress=progress, allow_outside=True,
                  same_length=set(paths), workers=workers)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", name)


def _free(g: Graph, wanted: str) -> str:
    n, candidate = 2, wanted
    while candidate in g.nodes:
        candidate, n = f"{wanted}_{n}", n + 1
    return candidate
