"""Automation lanes as data: the points of a parameter's automation and the edits made
on them (add, move, delete, paste, a recorded ride merged in), snapped to a grid in
seconds or, when the project has a tempo, in beats and bars; values kept in the
parameter's range.  Pure functions over lists of ``[time_s, value]``; the session
turns a result into one undoable edit (``Session.set_automation``), and the lanes
window (:mod:`.lanes_view`) draws them.
"""

from __future__ import annotations

import bisect
from typing import Any

from mixgraph import Graph
from mixgraph.nodes.automation import Automation
from mixgraph.nodes.base import Sink

BYPASS = "bypass"                    # the lane of a node's bypass (a step lane, 0 or 1)
RIDE_GLIDE_S = 0.010                 # a ride ends by gliding back over this (as live)
SECOND_GRIDS = (0.05, 0.1, 0.25, 0.5, 1.0)


def points_of(value: Any) -> tuple[list[list[float]], str]:
    """A parameter's automation points and curve (none for a fixed value)."""
    if Automation.is_automation(value):
        return [[float(t), float(v)] for t, v in value["automation"]], \
            value.get("curve", "linear")
    return [], "linear"


def lane_value(graph: Graph, node_id: str, name: str) -> Any:
    """What the lane edits: the parameter's value as the document holds it (its
    default if unset), or the node's bypass (as 0 or 1, or its step automation)."""
    spec = graph.node(node_id)
    if name == BYPASS:
        return spec.bypass if spec.switched else float(spec.bypassed)
    return spec.value(name)


def lane_range(graph: Graph, node_id: str, name: str) -> tuple[float, float, str]:
    """(lowest, highest, unit) of what a lane draws: the parameter's range, a fader's
    from -48 to +12 dB (its useful travel)."""
    lo, hi, unit = value_range(graph, node_id, name)
    if unit == "dB" and lo < -48.0 and hi <= 24.0:
        lo, hi = -48.0, min(hi, 12.0)
    return lo, hi, unit


def value_range(graph: Graph, node_id: str, name: str) -> tuple[float, float, str]:
    """(lowest, highest, unit) a lane's values may take: the parameter's range (a
    bypass lane's 0 and 1; a side without a bound, a unit either way)."""
    if name == BYPASS:
        return 0.0, 1.0, ""
    p = graph.node(node_id).node_class().param_table()[name]
    lo = p.min if p.min is not None else -1.0
    hi = p.max if p.max is not None else max(1.0, lo + 1.0)
    return float(lo), float(hi), p.unit


def automatable(graph: Graph, node_id: str) -> list[str]:
    """The lanes a node can have: its automatable parameters, and its bypass (not an
    output's: it writes the file)."""
    spec = graph.node(node_id)
    cls = spec.node_class()
    if cls is None:
        return []
    names = [p.name for p in cls.shown_params(spec.params, graph.kind == "template")
             if p.automatable]
    return names + ([] if issubclass(cls, Sink) else [BYPASS])


def value_at(points: list, curve: str, fixed: float, t: float) -> float:
    """The lane's value at song time ``t``."""
    if not points:
        return fixed
    return float(Automation(points, curve).at_seconds(t))


# ------------------------------------------------------------------ the grid
def grids(graph: Graph) -> list[tuple[str, float]]:
    """The grids a lane snaps to: off, seconds, and beats and bars where the project
    has a tempo (``settings.tempo_bpm``)."""
    out = [("off", 0.0)] + [(f"{g:g} s", g) for g in SECOND_GRIDS]
    bpm = float(graph.setting("tempo_bpm"))
    if bpm > 0:
        beat = 60.0 / bpm
        bar = beat * float(graph.setting("beats_per_bar"))
        out += [("1/16", beat / 4), ("1/8", beat / 2), ("beat", beat), ("bar", bar)]
    return out


def snap(t: float, grid: float) -> float:
    """``t`` on the grid (unchanged with no grid), never before 0."""
    if grid <= 0:
        return max(0.0, t)
    return max(0.0, round(t / grid) * grid)


def clamp(v: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, v))


# ------------------------------------------------------------------ edits
def on_off(points: list) -> list:
    """A bypass lane's points: each value 0 or 1 (the nearer)."""
    return [[t, 1.0 if v >= 0.5 else 0.0] for t, v in points]


def add_point(points: list, t: float, v: float) -> tuple[list, int]:
    """A point added in time order (after any at the same time); its index."""
    out = [list(p) for p in points]
    i = bisect.bisect_right([p[0] for p in out], t)
    out.insert(i, [float(t), float(v)])
    return out, i


def move_points(points: list, chosen: list[int], dt: float, dv: float,
                lo: float, hi: float, grid: float = 0.0) -> list:
    """The chosen points moved by ``dt`` seconds and ``dv`` (each value kept in
    [lo, hi]; the first chosen point snapped to the grid and the others moved as far);
    a moved point never passes a point that did not move."""
    out = [list(p) for p in points]
    chosen = sorted(set(i for i in chosen if 0 <= i < len(out)))
    if not chosen:
        return out
    first = out[chosen[0]][0]
    dt = snap(first + dt, grid) - first if grid > 0 else dt
    for i in chosen:
        before = max((out[j][0] for j in range(i) if j not in chosen), default=0.0)
        after = min((out[j][0] for j in range(i + 1, len(out)) if j not in chosen),
                    default=float("inf"))
        out[i] = [clamp(out[i][0] + dt, before, after), clamp(out[i][1] + dv, lo, hi)]
    return out


def set_point(points: list, index: int, t: float, v: float, lo: float, hi: float) -> list:
    """A point given a typed time and value (kept between its neighbours and in range;
    no point at ``index``: the points as they are)."""
    out = [list(p) for p in points]
    if not 0 <= index < len(out):
        return out
    before = out[index - 1][0] if index > 0 else 0.0
    after = out[index + 1][0] if index + 1 < len(out) else float("inf")
    out[index] = [clamp(float(t), before, after), clamp(float(v), lo, hi)]
    return out


def delete_points(points: list, chosen: list[int]) -> list:
    gone = set(chosen)
    return [list(p) for i, p in enumerate(points) if i not in gone]


def copy_points(points: list, chosen: list[int]) -> list:
    """The chosen points with times from the first of them (a clip to paste)."""
    picked = [points[i] for i in sorted(set(chosen)) if 0 <= i < len(points)]
    if not picked:
        return []
    t0 = picked[0][0]
    return [[p[0] - t0, p[1]] for p in picked]


def paste_points(points: list, clip: list, at: float, lo: float, hi: float) -> list:
    """A clip put at song time ``at``: the points it spans are replaced, its values
    kept in this lane's range."""
    if not clip:
        return [list(p) for p in points]
    end = at + clip[-1][0]
    kept = [list(p) for p in points if not at <= p[0] <= end]
    new = [[at + dt, clamp(v, lo, hi)] for dt, v in clip]
    return sorted(kept + new, key=lambda p: p[0])


def merge_ride(points: list, curve: str, fixed: float, ride: list, end: float,
               touch: bool, glide: float = RIDE_GLIDE_S) -> list:
    """A recorded ride written into a lane: the lane's points from the ride's first
    to ``end`` give way to the ride, its last value holding to ``end``.  In touch
    mode ``end`` is where the control was let go, and the lane then glides back
    (over ``glide`` seconds, no click) to what it was (its automation, or its fixed
    value); in latch mode ``end`` is Stop, and only automation after it goes on (a
    fixed value stays as the ride left it)."""
    if not ride:
        return [list(p) for p in points]
    start = ride[0][0]
    end = max(end, ride[-1][0])
    back = end + glide
    before = [list(p) for p in points if p[0] < start]
    after = [list(p) for p in points if p[0] > back]
    held = [[end, ride[-1][1]]] if end > ride[-1][0] else []
    resume = [[back, value_at(points, curve, fixed, back)]] if touch or after else []
    return before + [list(p) for p in ride] + held + resume + after
