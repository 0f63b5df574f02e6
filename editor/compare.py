"""A/B of two renders, side by side (the report's "A/B with" buttons).

Every render made in the window is kept as a :class:`Take`: its report, its plots and
the project as it was rendered.  A version can be rendered too (File > Versions...,
Render), into a folder of its own, never over the project's outputs.  Comparing two
takes shows, per output, each loudness and peak figure of A and of B and how far B
moved; each node's figures in both; what changed in the project from A to B (in the
words ``mixgraph diff`` prints); and both loudness curves on one plot.
``compare_rows`` and ``node_rows`` are pure; :class:`Compare` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import Graph

from .canvas import figures_line
from .dialogs import centre

if TYPE_CHECKING:
    from .app import EditorApp

FIGURES = (("integrated_lufs", "integrated", "LUFS"), ("short_term_max_lufs", "short-term max",
                                                        "LUFS"),
           ("lra_lu", "loudness range", "LU"), ("true_peak_dbtp", "true peak", "dBTP"),
           ("sample_peak_dbfs", "sample peak", "dBFS"), ("duration_s", "length", "s"))

DIFFERENCE = {"LUFS": "LU", "dBTP": "dB", "dBFS": "dB"}     # the unit of a difference


@dataclass
class Take:
    label: str
    report: object
    plots: dict
    document: dict = field(default_factory=dict)

    def graph(self) -> Graph:
        return Graph.from_document(self.document)


def compare_rows(a, b) -> list[tuple[str, str, str, str, str]]:
    """(output, figure, A, B, B - A) for each figure of each output the two reports
    share (outputs matched by node id, else by file name)."""
    def key(o) -> str:
        return o.get("node") or Path(o["path"]).name

    b_outputs = {key(o): o for o in b.outputs}
    rows = []
    for oa in a.outputs:
        ob = b_outputs.get(key(oa))
        if ob is None:
            continue
        for name, label, unit in FIGURES:
            va, vb = oa.get(name), ob.get(name)
            if va is None and vb is None:
                continue
            rows.append((key(oa), label, _show(va, unit), _show(vb, unit), _delta(va, vb, unit)))
    return rows


def node_rows(a, b) -> list[tuple[str, str, str]]:
    """(node, A's figures, B's figures) for every node either render measured ("-"
    where one did not)."""
    def lines(report) -> dict[str, str]:
        return {nid: figures_line(figures) for nid, (_, figures) in report.nodes.items()}

    la, lb = lines(a), lines(b)
    return [(nid, la.get(nid, "-"), lb.get(nid, "-")) for nid in dict.fromkeys([*la, *lb])]


def _show(v, unit: str) -> str:
    if v is None or v == float("-inf"):
        return "-inf"
    return f"{v:.2f} {unit}" if unit == "s" else f"{v:.1f} {unit}"


def _delta(va, vb, unit: str) -> str:
    if not (isinstance(va, (int, float)) and isinstance(vb, (int, float))) \
            or abs(va) == float("inf") or abs(vb) == float("inf"):
        return ""
    d = vb - va
    d = 0.0 if abs(d) < (0.005 if unit == "s" else 0.05) else d       # no "-0.0"
    if unit == "s":
        return f"{d:+.2f} s"
    return f"{d:+.1f} {DIFFERENCE.get(unit, unit)}"


class Compare:
    def __init__(self, app: EditorApp):
        self.app = app

    def build(self) -> None:
        with dpg.window(tag="compare_window", label="A/B", show=False, width=1100,
                        height=760, no_collapse=True):
            pass

    def show(self, a: Take, b: Take) -> None:
        """A (the earlier take) against B, side by side."""
        from mixgraph.workflows.diff import diff

        win = "compare_window"
        dpg.delete_item(win, children_only=True)
        dpg.configure_item(win, label=f"A/B: {a.label}  against  {b.label}")
        dpg.add_text(f"A: {a.label}", parent=win, color=(120, 180, 250))
        dpg.add_text(f"B: {b.label}", parent=win, color=(250, 180, 100))
        with dpg.table(parent=win, header_row=True, borders_innerH=True, borders_outerH=True,
                       row_background=True, tag="compare_outputs"):
            for head in ("output", "figure", "A", "B", "B - A"):
                dpg.add_table_column(label=head)
            for row in compare_rows(a.report, b.report):
                with dpg.table_row():
                    for cell in row:
                        dpg.add_text(cell)
        nodes = node_rows(a.report, b.report)
        if nodes:
            with dpg.table(parent=win, header_row=True, borders_innerH=True,
                           borders_outerH=True, tag="compare_nodes"):
                for head in ("node", "A", "B"):
                    dpg.add_table_column(label=head)
                for row in nodes:
                    with dpg.table_row():
                        for cell in row:
                            dpg.add_text(cell)
        changed = diff(a.graph(), b.graph()) if a.document and b.document else []
        dpg.add_text("what changed from A to B:", parent=win)
        dpg.add_text("\n".join(f"  {line}" for line in changed) or "  nothing (layout aside)",
                     parent=win, tag="compare_changes", wrap=1040)
        for nid in [n for n in a.plots if n in b.plots]:
            self._plots(win, nid, a, b)
        centre(win)
        dpg.show_item(win)
        dpg.focus_item(win)

    @staticmethod
    def _plots(win, nid: str, a: Take, b: Take) -> None:
        """An output's short-term loudness of A and of B on one plot, and their
        waveforms side by side."""
        pa, pb = a.plots[nid], b.plots[nid]
        end = max((pa["time_s"] or [1.0])[-1], (pb["time_s"] or [1.0])[-1])
        dpg.add_text(nid, parent=win)
        with dpg.group(horizontal=True, parent=win):
            with dpg.plot(label="short-term loudness", height=220, width=520):
                dpg.add_plot_legend()
                dpg.set_axis_limits(dpg.add_plot_axis(dpg.mvXAxis, label="s"), 0.0, end)
                with dpg.plot_axis(dpg.mvYAxis, label="LUFS"):
                    dpg.set_axis_limits(dpg.last_item(), -50.0, 0.0)
                    dpg.add_line_series(pa["short_term_time_s"], pa["short_term_lufs"],
                                        label="A")
                    dpg.add_line_series(pb["short_term_time_s"], pb["short_term_lufs"],
                                        label="B")
            for take, plots in (("A", pa), ("B", pb)):
                with dpg.plot(label=f"{take}: waveform", height=220, width=260):
                    dpg.set_axis_limits(dpg.add_plot_axis(dpg.mvXAxis, label="s"), 0.0, end)
                    with dpg.plot_axis(dpg.mvYAxis):
                        dpg.set_axis_limits(dpg.last_item(), -1.0, 1.0)
                        dpg.add_shade_series(plots["time_s"], plots["max"], y2=plots["min"],
                                             label=take)
