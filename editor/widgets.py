"""Which widget edits which parameter, read from the node's parameter table.

``spec_for(param)`` describes the widget (drag with unit and range, combo, toggle,
text, file, list of items, member list) without creating it, so the mapping is testable
without a display and the editor draws from it.  A list parameter that declares its
items (:class:`mixgraph.nodes.base.Items`) gets a list editor: one row per item, a
compact widget per field (``field_spec``), packed into lines that fit a node
(``item_lines``; the layout's node heights use the same packing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mixgraph.nodes.base import Items, Param

UNIT_FORMATS = {"dB": "%.1f dB", "dBFS": "%.1f dBFS", "dBTP": "%.1f dBTP", "LUFS": "%.1f LUFS",
                "Hz": "%.0f Hz", "ms": "%.1f ms", "s": "%.2f s", "dB/oct": "%d dB/oct"}
UNIT_SUFFIXES = ("_dbfs", "_dbtp", "_lufs", "_db_oct", "_db", "_hz", "_ms", "_s")
CHAR_WIDTH = 7                    # pixels per character of the editor's font
ITEM_LINE_WIDTH = 430             # room for an item's widgets in a node that shows a list
ITEM_INDENT = 12                  # an item's second and later lines, under its first
REMOVE_WIDTH = 20                 # the "x" that ends an item's last line
SPACING = 8                       # between widgets on a line
SECONDS_PER_PIXEL = 0.01          # a time dragged: 10 ms per pixel, whatever its range
DB_PER_PIXEL = 0.1                # a level dragged: 1 dB per 10 pixels (Alt: 100x finer,
#                                   Shift: 10x coarser, as every Dear PyGui drag)


@dataclass
class WidgetSpec:
    kind: str                      # drag_float, drag_int, combo, checkbox, text, path,
    #                                items, members, list
    label: str
    doc: str = ""
    min: float | None = None
    max: float | None = None
    format: str = ""
    speed: float = 0.1
    items: list = field(default_factory=list)
    automatable: bool = False
    width: int = 0                 # an item field's widget: its width in pixels
    fields: tuple = ()             # kind "items": a WidgetSpec per item field, as declared


def spec_for(param: Param) -> WidgetSpec:
    label = param.name
    if param.kind == "float":
        lo = param.min if param.min is not None else -1e6
        hi = param.max if param.max is not None else 1e6
        span = hi - lo if math.isfinite(hi - lo) else 100.0
        fmt = UNIT_FORMATS.get(param.unit, "%.3f" if span <= 2 else "%.2f")
        speed = DB_PER_PIXEL if param.unit in ("dB", "dBFS", "dBTP", "LUFS") \
            else SECONDS_PER_PIXEL if param.unit == "s" else max(span / 500.0, 0.001)
        return WidgetSpec("drag_float", label, param.doc, lo, hi, fmt,
                          speed=speed, automatable=bool(param.automatable))
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
    if param.items is not None:
        return WidgetSpec("items", label, param.doc,
                          fields=tuple(field_spec(f, param.items) for f in param.items.fields))
    return WidgetSpec("list", label, param.doc)


def short_name(name: str) -> str:
    """A field's name without its unit suffix (``threshold_db`` -> ``threshold``)."""
    for suffix in UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return name


def field_spec(param: Param, items: Items) -> WidgetSpec:
    """The compact widget of one field in an item's row: the parameter's own widget,
    with no label beside it (the row has no room): a number says what it is in its
    format (its unit, and its short name where the unit alone does not tell the item's
    fields apart), and its width fits the widest value it can show."""
    spec = spec_for(param)
    if spec.kind in ("drag_float", "drag_int"):
        units = [f.unit for f in items.fields if f.kind in ("float", "int") and not f.choices]
        if not param.unit or units.count(param.unit) > 1:
            spec.format = f"{short_name(param.name)} {spec.format}"
        widest = max((spec.format % v for v in (param.min, param.max, param.default)
                      if v is not None), key=len)
        spec.width = CHAR_WIDTH * len(widest) + 14
        if param.min is not None and param.max is not None \
                and param.unit != "s":                          # a narrow drag: finer
            spec.speed = max((param.max - param.min) / 2000.0, 0.01)
    elif spec.kind == "combo":
        spec.width = CHAR_WIDTH * max(len(i) for i in spec.items) + 36
    elif spec.kind == "checkbox":
        spec.width = 20
    else:
        spec.width = 100
    return spec


def item_lines(spec: WidgetSpec, names,
               width: int = ITEM_LINE_WIDTH) -> list[list[WidgetSpec]]:
    """The widgets of one item's row (the fields named, in declared order) packed into
    lines ``width`` pixels wide (a node's, or the inspector panel's), the last with
    room for the item's remove button."""
    names = set(names)
    lines: list[list[WidgetSpec]] = [[]]
    used = 0
    for f in (f for f in spec.fields if f.label in names):
        if lines[-1] and used + SPACING + f.width > width:
            lines.append([])
            used = ITEM_INDENT
        used += (SPACING if lines[-1] else 0) + f.width
        lines[-1].append(f)
    if used + SPACING + REMOVE_WIDTH > width:
        lines.append([])
    return lines


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
        return float32_value(shown)
    return shown


def float32_value(shown: Any) -> float:
    """A float from a widget, which holds 32 bits: the shortest decimal that is the same
    32-bit number (a pan shown as 0.358 is 0.358, not 0.3580000102519989)."""
    import numpy as np

    return float(str(np.float32(shown)))


def describe_automation(value: dict) -> str:
    points = value.get("automation", [])
    if not points:
        return "automated"
    lo = min(p[1] for p in points)
    hi = max(p[1] for p in points)
    n = len(points)
    return f"{n} point{'s' * (n != 1)}, {value.get('curve', 'linear')}, {lo:g} to {hi:g}"


#: what a compact node shows on the canvas (the rest is in the inspector panel):
#: a strip's fader, pan, mute and solo; a processor's one or two defining controls
KEY_PARAMS = {
    "stem": ("gain_db",), "tone": ("freq_hz", "level_dbfs"), "noise": ("level_dbfs",),
    "channel": ("gain_db", "pan", "mute", "solo"), "bus": ("gain_db", "mute", "solo"),
    "group": ("gain_db", "mute", "solo"), "send": ("level_db",), "gain": ("gain_db",),
    "eq": (), "linear_phase_eq": (), "multiband_compressor": (), "meter": (),
    "compressor": ("threshold_db", "ratio"), "gate": ("threshold_db",),
    "saturation": ("drive_db",), "delay": ("time_ms", "feedback"),
    "reverb": ("decay_s", "mix"), "stereo_width": ("width",),
    "limiter": ("ceiling_dbtp",), "loudness": ("target_lufs", "ceiling_dbtp"),
    "fade": ("in_s", "out_s"), "dither": ("bit_depth",), "output": (),
}
SCALAR_KINDS = ("float", "int", "bool", "choice")


def key_params(cls) -> tuple[str, ...]:
    """The parameters a compact node of type ``cls`` shows (a type not listed: its
    first two scalar parameters)."""
    table = cls.param_table()
    names = KEY_PARAMS.get(cls.type_name)
    if names is None:
        names = tuple(p.name for p in cls.params if p.kind in SCALAR_KINDS)[:2]
    return tuple(n for n in names if n in table)
