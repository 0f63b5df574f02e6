"""Rendering from the window: the render runs in a thread (:class:`jobs.RenderJob`), the
window shows its progress once a frame, and when it is done the report: loudness and
peaks per output, warnings, and each meter's waveform and loudness plots.  Each
render is kept as a take; the report offers an A/B with the earlier ones."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph import Graph

from .canvas import figures_line
from .compare import Take
from .jobs import RenderJob

if TYPE_CHECKING:
    from .app import EditorApp


class Rendering:
    def __init__(self, app: EditorApp):
        self.app = app
        self.job: RenderJob | None = None
        self.label = ""                             # what the job renders, for its take
        self.document: dict = {}                    # and the project as it renders it
        self.takes: list[Take] = []                 # every render made here, for A/B
        self.folders: list[Path] = []               # where versions were rendered to

    def build(self) -> None:
        with dpg.window(tag="render_window", label="Render", show=False, width=420,
                        height=110, no_collapse=True):
            dpg.add_progress_bar(tag="render_progress", width=-1, overlay="0 %")
            dpg.add_button(label="Cancel", tag="render_cancel",
                           callback=lambda: self.job and self.job.cancel())
        with dpg.window(tag="report_window", label="Render report", show=False, width=1000,
                        height=700, pos=(120, 80)):
            pass

    def start(self, graph: Graph | None = None, label: str = "") -> RenderJob | None:
        """Render the project (or ``graph``, a version, with its outputs written to a
        folder of its own); the report joins the takes to compare."""
        if self.job is not None and not self.job.done:
            self.app.status("a render is under way: wait for it, or cancel it", error=True)
            return self.job
        elsewhere = graph is not None              # a version: into a folder of its own
        if graph is None:
            problems = self.app.session.problems()
            if problems:
                first = next(iter(problems.values()))[0]
                self.app.status(f"cannot render: {first}", error=True)
                return None
            graph = self.app.session.graph
        self.document = graph.to_document()          # as rendered, for "what changed"
        paths = None
        if elsewhere:                                # each output into a folder of its own
            folder = Path(tempfile.mkdtemp(prefix="mixgraph-ab-"))
            self.folders.append(folder)
            paths = {spec.id: str(folder / f"{spec.id}_{Path(str(spec.value(p))).name}")
                     for spec in graph for p in spec.with_role("writes")}
        renders = sum(t.label.startswith("render ") for t in self.takes)
        self.label = label or f"render {renders + 1} at {time.strftime('%H:%M:%S')}"
        self.job = RenderJob(graph, output_paths=paths).start()
        dpg.set_value("render_progress", 0.0)
        dpg.show_item("render_window")
        return self.job

    def poll(self) -> None:
        job = self.job
        if job is None:
            return
        dpg.set_value("render_progress", job.progress)
        dpg.configure_item("render_progress", overlay=f"{job.progress * 100:.0f} %")
        if job.done:
            dpg.hide_item("render_window")
            self.job = None
            if job.report is not None:
                self.takes.append(Take(self.label, job.report, job.plots, self.document))
                self.show_report(job)
                self.app.board.draw_figures(node_lines(job.report))
                if self.app.lanes.lanes and job.output_paths is None:   # the project's
                    self.app.lanes.measure(job.graph)     # own render: the lanes' signals
                self.app.status(job.report.format().splitlines()[0])
            elif job.cancelled:
                self.app.status("render cancelled; nothing was written")
            else:
                self.app.status(job.error or "render failed", error=True)

    def forget_folders(self) -> None:
        """Remove the folders versions were rendered into (when the window closes)."""
        for folder in self.folders:
            shutil.rmtree(folder, ignore_errors=True)
        self.folders = []

    def show_report(self, job: RenderJob) -> None:
        dpg.delete_item("report_window", children_only=True)
        dpg.configure_item("report_window", label=f"Render report: {self.takes[-1].label}")
        report = job.report
        if len(self.takes) > 1:
            with dpg.group(horizontal=True, parent="report_window"):
                dpg.add_text("A/B with:")
                latest = self.takes[-1]
                for take in reversed(self.takes[-6:-1]):
                    dpg.add_button(label=take.label, user_data=take, callback=lambda s, a, u:
                                   self.app.compare.show(u, latest))
        with dpg.table(parent="report_window", header_row=True, resizable=True,
                       borders_innerH=True, borders_outerH=True, row_background=True):
            for head in ("output", "I LUFS", "S max", "M max", "LRA LU", "true peak dBTP",
                         "sample peak dBFS", "correlation", "length s"):
                dpg.add_table_column(label=head)
            for o in report.outputs:
                with dpg.table_row():
                    dpg.add_text(Path(o["path"]).name)
                    for key in ("integrated_lufs", "short_term_max_lufs", "momentary_max_lufs",
                                "lra_lu", "true_peak_dbtp", "sample_peak_dbfs"):
                        dpg.add_text(_num(o.get(key)))
                    c = o.get("correlation")
                    dpg.add_text("mono" if c is None else f"{c:+.2f}")
                    dpg.add_text(f"{o['duration_s']:.2f}")
        for w in report.warnings:
            dpg.add_text(f"warning: {w}", parent="report_window", color=(230, 170, 60),
                         wrap=860)
        lines = {nid: line for nid, line in node_lines(report).items()
                 if nid in report.nodes}
        if lines:
            with dpg.table(parent="report_window", header_row=True, borders_innerH=True,
                           borders_outerH=True, tag="report_nodes"):
                dpg.add_table_column(label="node")
                dpg.add_table_column(label="what it did")
                for nid, line in lines.items():
                    with dpg.table_row():
                        dpg.add_text(nid)
                        dpg.add_text(line)
        target, ceiling = targets(self.app.session.graph)
        for node_id, plots in job.plots.items():
            dpg.add_text(node_id, parent="report_window")
            with dpg.group(horizontal=True, parent="report_window"):
                end = plots["time_s"][-1] if plots["time_s"] else 1.0
                with dpg.plot(label="waveform", height=220, width=470):
                    x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="s")
                    dpg.set_axis_limits(x_axis, 0.0, end)
                    with dpg.plot_axis(dpg.mvYAxis):
                        dpg.set_axis_limits(dpg.last_item(), -1.0, 1.0)
                        dpg.add_shade_series(plots["time_s"], plots["max"],
                                             y2=plots["min"], label="level")
                        if ceiling is not None:
                            a = 10 ** (ceiling / 20)
                            for y in (a, -a):
                                dpg.add_line_series([0.0, end], [y, y],
                                                    label=f"ceiling {ceiling:g} dBTP")
                with dpg.plot(label="loudness", height=220, width=470):
                    dpg.add_plot_legend()
                    x_axis = dpg.add_plot_axis(dpg.mvXAxis, label="s")
                    dpg.set_axis_limits(x_axis, 0.0, end)
                    with dpg.plot_axis(dpg.mvYAxis, label="LUFS"):
                        dpg.set_axis_limits(dpg.last_item(), -50.0, 0.0)
                        dpg.add_line_series(plots["momentary_time_s"], plots["momentary_lufs"],
                                            label="momentary")
                        dpg.add_line_series(plots["short_term_time_s"],
                                            plots["short_term_lufs"], label="short-term")
                        if target is not None:
                            dpg.add_line_series([0.0, end], [target, target],
                                                label=f"target {target:g} LUFS")
        dpg.show_item("report_window")


def node_lines(report) -> dict[str, str]:
    """Each node's figures in a line: what dynamics and loudness nodes did, and each
    output's loudness and true peak."""
    lines = {nid: figures_line(figures) for nid, (_, figures) in report.nodes.items()}
    for o in report.outputs:
        if o.get("node"):
            lines[o["node"]] = figures_line(o)
    return {nid: line for nid, line in lines.items() if line}


def targets(graph) -> tuple[float | None, float | None]:
    """The loudness target and the true-peak ceiling the graph aims at (its loudness
    stage's, else a limiter's ceiling), for lines on the report's plots."""
    target = ceiling = None
    for spec in graph:
        if spec.type == "loudness":
            target = spec.value("target_lufs")
            ceiling = spec.value("ceiling_dbtp")
        elif spec.type == "limiter" and ceiling is None:
            ceiling = spec.value("ceiling_dbtp")
    numbers = [v if isinstance(v, (int, float)) else None for v in (target, ceiling)]
    return numbers[0], numbers[1]


def _num(v) -> str:
    if v is None:
        return "-inf"
    return f"{v:.1f}" if abs(v) != float("inf") else "-inf"
