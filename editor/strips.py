"""The mixer view's model: one strip per channel, bus and group of the graph, with the
sends fed from it, read from the graph as it is (no Dear PyGui here, so it is testable
without a window).  The view (:mod:`.mixer`) draws the strips and turns its gestures
into the session's edits, so the mixer and the canvas are two views of one graph."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixgraph import Graph

STRIP_TYPES = ("channel", "group", "bus")      # in this order, left to right
FADER_TOP_DB = 12.0
FADER_FLOOR_DB = -60.0                         # the fader's bottom: below is "-inf"


@dataclass
class Send:
    id: str
    level_db: float
    to: str                                    # where the send goes ("" if nowhere)
    automated: bool = False


@dataclass
class Strip:
    id: str
    type: str
    gain_db: float
    pan: float
    mute: bool
    solo: bool
    sends: list[Send] = field(default_factory=list)
    automated: frozenset = frozenset()         # parameters that follow automation

    def shape(self) -> tuple:
        """What needs the strip drawn again (not its values)."""
        return (self.id, self.type, tuple((s.id, s.to, s.automated) for s in self.sends),
                self.automated)


def strips(graph: Graph) -> list[Strip]:
    """The graph's strips: channels, then groups, then buses, each in graph order."""
    fed_from: dict[str, list[str]] = {}
    goes_to: dict[str, str] = {}
    for link in graph.links:
        fed_from.setdefault(link.src.node, []).append(link.dst.node)
        goes_to.setdefault(link.src.node, link.dst.node)
    out = []
    for kind in STRIP_TYPES:
        for spec in graph:
            if spec.type != kind:
                continue
            sends = [Send(d, _number(graph.nodes[d].value("level_db")), goes_to.get(d, ""),
                          isinstance(graph.nodes[d].value("level_db"), dict))
                     for d in fed_from.get(spec.id, []) if graph.nodes[d].type == "send"]
            automated = frozenset(n for n in ("gain_db", "pan")
                                  if isinstance(spec.value(n), dict))
            out.append(Strip(spec.id, kind, _number(spec.value("gain_db")),
                             _number(spec.value("pan")), bool(spec.value("mute")),
                             bool(spec.value("solo")), sends, automated))
    return out


def _number(value) -> float:
    """A parameter's value as a number to show (an automated one: its first point)."""
    if isinstance(value, dict):
        points = value.get("automation") or [[0.0, 0.0]]
        return float(points[0][1])
    return float(value)


def fader_position(gain_db: float) -> float:
    """Where the fader shows a gain (the floor for anything quieter)."""
    return min(FADER_TOP_DB, max(FADER_FLOOR_DB, gain_db))


@dataclass
class Routing:
    """The routing matrix: what can feed a mix point (rows), the mix points (columns),
    and which row feeds which column now (``linked``: (row, column) pairs)."""

    rows: list[str]
    columns: list[str]
    linked: set[tuple[str, str]]


FEEDS = ("stem", "channel", "send", "group", "bus", "reverb", "delay")
MIX_POINTS = ("group", "bus", "reverb", "delay")     # reverbs and delays: sends' returns


def routing(graph: Graph) -> Routing:
    """Sources, strips, sends and returns against the groups, buses and effect returns
    they may feed (a row's main output to a column's main input)."""
    rows = [s.id for s in graph if s.type in FEEDS]
    columns = [s.id for s in graph if s.type in MIX_POINTS]
    linked = {(l.src.node, l.dst.node) for l in graph.links
              if l.src.node in rows and l.dst.node in columns
              and l.src.port == "out" and l.dst.port == "in"}
    return Routing(rows, columns, linked)
