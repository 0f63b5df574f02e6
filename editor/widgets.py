"""Which widget edits which parameter, read from the node's parameter table.

``spec_for(param)`` describes the widget (drag with unit and range, combo, toggle,
text, file, band list, member list) without creating it, so the mapping is testable
without a display and the editor draws from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mixgraph.nodes.base import Param

UNIT_FORMATS = {"dB": "%.1f dB", "dBFS": "%.1f dBFS", "dBTP": "%.1f dBTP", "LUFS": "%.1f LUFS",
                "Hz": "%.0f Hz", "ms": "%.1f ms", "s": "%.2f s", "dB/oct": "%d dB/oct"}


@dataclass
class WidgetSpec:
    kind: str                      # drag_float, drag_int, combo, checkbox, text, path,
    #                                bands, members, list
    label: str
    doc: str = ""
    min: float | None = None
    max: float | None = None
    format: str = ""
    speed: float = 0.1
    items: list = field(default_factory=list)
    automatable: bool = False


def spec_for(param: Param) -> WidgetSpec:
    label = param.name
    if param.kind == "float":
        lo = param.min if param.min is not None else -1e6
        hi = param.max if param.max is not None else 1e6
        span = hi - lo if math.isfinite(hi - lo) else 100.0
        fmt = UNIT_FORMATS.get(param.unit, "%.3f" if span <= 2 else "%.2f")
        return WidgetSpec("drag_float", label, param.doc, lo, hi, fmt,
                          speed=max(span / 500.0, 0.001), automatable=bool(param.automatable))
    if param.kind == "int" and param.choices:
        return WidgetSpec("combo", label, param.doc, items=[str(c) for c in param.choices])
    if param.kind == "int":
        return WidgetSpec("drag_int", label, param.doc, param.min, param.max, "%d", 1.0)
    if param.kind == "choice":
        return WidgetSpec("combo", label, param.doc,
                          items=[c if c else "(auto)" for c in param.choices])
    if param.kind == "bool":
        return WidgetSpec("checkbox", label, param.doc)
    if param.kind == "path":
        return WidgetSpec("path", label, param.doc)
    if param.kind == "str":
        return WidgetSpec("text", label, param.doc)
    if param.kind == "nodes":
        return WidgetSpec("members", label, param.doc)
    if param.name == "bands":
        return WidgetSpec("bands", label, param.doc)
    return WidgetSpec("list", label, param.doc)


def shown_value(param: Param, value: Any) -> Any:
    """The value as its widget holds it (combo items are strings)."""
    if param.kind in ("choice",) and value == "":
        return "(auto)"
    if param.kind == "int" and param.choices:
        return str(value)
    return value


def model_value(param: Param, shown: Any) -> Any:
    """A widget's value as the model wants it."""
    if param.kind == "choice":
        return "" if shown == "(auto)" else shown
    if param.kind == "int":
        return int(shown)
    if param.kind == "float":
        return float(shown)
    return shown


def describe_automation(value: dict) -> str:
    points = value.get("automation", [])
    if not points:
        return "automated"
    lo = min(p[1] for p in points)
    hi = max(p[1] for p in points)
    return (f"automated: {len(points)} points, {value.get('curve', 'linear')}, "
            f"{lo:g} to {hi:g}")
