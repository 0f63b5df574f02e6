"""Drives the real editor window with the operating system's mouse and keyboard
(xdotool), one scenario per run (started under Xvfb by test_editor_gestures.py).

    python tests/gestures_driver.py SCENARIO PROJECT RESULT.json

Nothing here calls the editor's callbacks: the mouse moves and clicks where a widget
is drawn, keys are pressed as a user presses them, and what the editor then holds
(the project, which windows show, the status line) is written to RESULT.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg

from mixgraph.editor.app import EditorApp
from mixgraph.editor.regions_view import STRIP_W
from mixgraph.editor.session import Session


FILE_DIALOG = (60, 60)            # a file chooser's top-left corner (700 x 420)
MENU_TOP = 19                     # an open menu's popup starts this far down the viewport


class Window:
    """The editor in a real window, and a user's hands on it."""

    def __init__(self, project: str | None, size: tuple[int, int] = (1400, 900)):
        self.app = EditorApp(Session.open(project) if project else Session(),
                             width=size[0], height=size[1])
        self.app.build()
        dpg.setup_dearpygui()
        dpg.show_viewport()
        self.frames(10)

    def frames(self, n: int = 3) -> None:
        for _ in range(n):
            self.app.frame()

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], check=True, timeout=30)

    # ------------------------------------------------------------ the mouse
    def screen(self, x: float, y: float) -> tuple[int, int]:
        """Screen coordinates of viewport point (x, y)."""
        vx, vy = dpg.get_viewport_pos()
        return int(vx + x), int(vy + y)

    def move(self, x: float, y: float) -> None:
        """Move the mouse to viewport point (x, y)."""
        self.xdotool("mousemove", *map(str, self.screen(x, y)))
        self.frames(2)

    def click(self, x: float, y: float, button: int = 1, ctrl: bool = False) -> None:
        self.move(x, y)
        if ctrl:
            self.xdotool("keydown", "ctrl")
        self.xdotool("mousedown", str(button))
        self.frames(2)
        self.xdotool("mouseup", str(button))
        if ctrl:
            self.xdotool("keyup", "ctrl")
        self.frames(3)

    def drag(self, a: tuple[float, float], b: tuple[float, float], steps: int = 8) -> None:
        self.move(*a)
        self.xdotool("mousedown", "1")
        self.frames(2)
        for k in range(1, steps + 1):
            self.move(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps)
        self.xdotool("mouseup", "1")
        self.frames(3)

    def pan(self, dx: float, dy: float) -> None:
        """Pan the canvas by (dx, dy) pixels: a middle-button drag on its background."""
        sx, sy = self.empty_spot(500 - dx / 2, 450 - dy / 2)
        self.move(sx, sy)
        self.xdotool("mousedown", "2")
        self.frames(3)
        for k in range(1, 11):
            self.move(sx + dx * k / 10, sy + dy * k / 10)
        self.xdotool("mouseup", "2")
        self.frames(4)

    def rect(self, item) -> tuple[float, float, float, float]:
        """Where an item is drawn in the viewport: x0, y0, x1, y1 (a window's from its
        position and size)."""
        state = dpg.get_item_state(item)
        if "rect_min" in state:
            (x0, y0), (x1, y1) = state["rect_min"], state["rect_max"]
            return x0, y0, x1, y1
        x0, y0 = dpg.get_item_pos(item)
        return x0, y0, x0 + dpg.get_item_width(item), y0 + dpg.get_item_height(item)

    def centre(self, item) -> tuple[float, float]:
        x0, y0, x1, y1 = self.rect(item)
        return (x0 + x1) / 2, (y0 + y1) / 2

    def click_item(self, item, button: int = 1, ctrl: bool = False) -> None:
        self.click(*self.centre(item), button=button, ctrl=ctrl)

    def labelled(self, label: str, kind: str = "mvButton"):
        """The shown item of a kind with a label (a button, a menu, a menu item)."""
        for item in dpg.get_all_items():
            if dpg.get_item_type(item) == f"mvAppItemType::{kind}" \
                    and dpg.get_item_label(item) == label \
                    and dpg.get_item_state(item).get("visible", True) \
                    and "rect_min" in dpg.get_item_state(item):
                return item
        raise KeyError(f"no {kind} {label!r} shown")

    def menu(self, menu_label: str, item_label: str) -> None:
        """Open a menu of the menu bar and choose an item, with the mouse.  Dear PyGui
        gives a menu's position in the bar and an open menu's items' positions in its
        popup (which opens under the bar, at the menu's x less the window padding)."""
        menu = self.find(menu_label, "mvMenu")
        mx, my = dpg.get_item_pos(menu)
        tw, th = dpg.get_text_size(menu_label)
        self.click(mx + 4 + tw / 2, my + 10)
        item = self.find(item_label, "mvMenuItem", parent=menu)
        ix, iy = dpg.get_item_pos(item)
        tw, th = dpg.get_text_size(item_label)
        self.click(mx - 8 + ix + tw / 2, MENU_TOP + iy + th / 2)

    def find(self, label: str, kind: str, parent=None):
        for item in (dpg.get_item_children(parent, 1) if parent else dpg.get_all_items()):
            if dpg.get_item_type(item) == f"mvAppItemType::{kind}" \
                    and dpg.get_item_label(item) == label:
                return item
        raise KeyError(f"no {kind} {label!r}")

    # ------------------------------------------------------------ the keys
    def key(self, *keys: str) -> None:
        for k in keys:
            self.xdotool("key", k)
            self.frames(3)

    def type(self, text: str) -> None:
        for ch in text:
            self.key({"-": "minus", ".": "period", " ": "space", "_": "underscore",
                      "/": "slash"}.get(ch, ch))

    def type_value(self, item, text: str) -> None:
        """Ctrl+click a value field (it becomes a text field), select all, type, Return."""
        self.click_item(item, ctrl=True)
        self.key("ctrl+a")
        self.type(text)
        self.key("Return")

    def save_version(self, name: str) -> None:
        """File > Save version..., the name typed, Return."""
        self.move(700, 850)
        self.menu("File", "Save version...")
        self.frames(4)
        self.key("ctrl+a")
        self.type(name)
        self.key("Return")
        self.frames(3)

    def node_title(self, nid: str) -> tuple[float, float]:
        x0, y0 = dpg.get_item_rect_min(self.app.board.node_items[nid])
        return x0 + 30, y0 + 10

    def node_body(self, nid: str) -> tuple[float, float]:
        """A point inside a node below its title and its widgets' labels: its lower
        right corner, a little in."""
        (x1, y1) = dpg.get_item_rect_max(self.app.board.node_items[nid])
        return x1 - 8, y1 - 6

    def empty_spot(self, x: float, y: float) -> tuple[float, float]:
        """The point nearest (x, y), on a 20-pixel grid, on the canvas and off every
        node (and 30 pixels clear of them)."""
        rects = [self.rect(item) for item in self.app.board.node_items.values()]
        ex0, ey0, ex1, ey1 = 20, 110, 1000, 840                 # inside the canvas
        best = None
        for gx in range(ex0, ex1, 20):
            for gy in range(ey0, ey1, 20):
                if any(x0 - 30 <= gx <= x1 + 30 and y0 - 30 <= gy <= y1 + 30
                       for x0, y0, x1, y1 in rects):
                    continue
                d = (gx - x) ** 2 + (gy - y) ** 2
                if best is None or d < best[0]:
                    best = (d, (gx, gy))
        if best is None:
            raise AssertionError("no empty place on the canvas")
        return best[1]

    def shown(self, tag: str) -> bool:
        return dpg.does_item_exist(tag) and dpg.is_item_shown(tag)


# ================================================================== scenarios
def rename(w: Window, result: dict) -> None:
    """D1, D11: right-click a node's body, Rename..., type a name, Return."""
    w.click(*w.node_body("kick"), button=3)
    result["menu_shown"] = w.shown("node_menu")
    result["menu_for"] = w.app.node_menu.node
    w.click_item(w.labelled("Rename..."))
    w.frames(4)
    result["dialog_shown"] = w.shown("ask_window")
    x, y = w.centre("ask_window")
    result["dialog_centre"] = [x, y]
    w.key("ctrl+a")
    w.type("kick_in")
    w.key("Return")
    result["nodes"] = sorted(w.app.session.graph.nodes)


def bypass(w: Window, result: dict) -> None:
    """A node bypassed from its right-click menu, drawn as such, undone with Ctrl+Z."""
    w.click(*w.node_body("kick_comp"), button=3)
    w.click_item(w.labelled("Bypass"))
    w.frames(4)
    result["bypassed"] = w.app.session.graph.nodes["kick_comp"].bypass
    result["label"] = dpg.get_item_label(w.app.board.node_items["kick_comp"])
    w.click(*w.node_body("kick_comp"), button=3)
    result["menu_says"] = dpg.get_item_label("node_menu_bypass")
    w.key("Escape")
    w.move(760, 600)
    w.key("ctrl+z")
    result["after_undo"] = w.app.session.graph.nodes["kick_comp"].bypass


def routing_matrix(w: Window, result: dict) -> None:
    """View > Routing: a cell clicked links a channel to a bus, clicked again unlinks
    it; a cell that would make a cycle is refused with the reason; undo."""
    w.move(700, 850)
    w.menu("View", "Routing")
    w.frames(5)
    result["shown"] = w.shown("routing")
    cells = w.app.routing.cells
    result["rows"] = sorted({r for r, _ in cells})
    result["columns"] = sorted({c for _, c in cells})
    links = lambda: sorted(f"{l.src} -> {l.dst}" for l in w.app.session.graph.links)  # noqa
    before = links()
    w.click_item(cells[("keys_ch", "fx")])
    result["added"] = sorted(set(links()) - set(before))
    result["ticked"] = dpg.get_value(cells[("keys_ch", "fx")])
    w.click_item(cells[("keys_ch", "fx")])
    result["after_second_click"] = links() == before
    w.click_item(cells[("mix", "drums")])              # mix is fed by drums: a cycle
    result["cycle_status"] = w.app.status_text
    result["cycle_ticked"] = dpg.get_value(cells[("mix", "drums")])
    result["unchanged"] = links() == before
    w.click_item(cells[("kick_ch", "drums")])           # unlink the kick from the drums
    result["unlinked"] = sorted(set(before) - set(links()))
    w.key("ctrl+z")
    result["undone"] = links() == before
    dpg.output_frame_buffer(file=str(Path.cwd() / "routing.png"))
    w.frames(3)


def versions(w: Window, result: dict) -> None:
    """File > Save version... (a name typed), a gain changed and saved, File >
    Versions...: Diff says what changed in an engineer's words; Restore puts the
    version back and keeps what was there as a version."""
    w.save_version("first mix")
    result["status_saved"] = w.app.status_text
    w.type_value(w.app.inspector.param_items[("kick_ch", "gain_db")], "-9")
    w.key("ctrl+s")
    w.move(700, 850)
    w.menu("File", "Versions...")
    w.frames(4)
    result["shown"] = w.shown("versions_window")
    rows = w.app.versions.rows
    result["versions"] = len(rows)
    (vid,) = rows
    w.click_item(rows[vid][0])
    result["diff"] = dpg.get_value("versions_diff")
    w.click_item(rows[vid][1])
    w.frames(5)
    result["gain_after_restore"] = w.app.session.graph.nodes["kick_ch"].value("gain_db")
    result["status_restored"] = w.app.status_text
    from mixgraph.workflows.versions import list_versions

    result["names_after"] = [v.name for v in list_versions(w.app.session.path)]


def copy_paste(w: Window, result: dict) -> None:
    """Two linked nodes selected (click, Ctrl+click), Ctrl+C, File > New, Ctrl+V with
    the mouse over the canvas: the nodes, their link and the file the stem reads
    arrive in the new project, under the mouse; Ctrl+Z takes them away again."""
    w.click(*w.node_title("kick"))
    w.click(*w.node_title("kick_eq"), ctrl=True)
    result["selected"] = sorted(w.app.board.selected_nodes())
    w.move(760, 600)
    w.key("ctrl+c")
    result["status_copied"] = w.app.status_text
    stem_file = str(w.app.session.graph.resolve_path(
        w.app.session.graph.nodes["kick"].params["path"]))
    w.move(700, 850)
    w.menu("File", "New")
    w.frames(4)
    w.move(500, 400)
    w.key("ctrl+v")
    w.frames(4)
    graph = w.app.session.graph
    result["nodes"] = sorted(graph.nodes)
    result["links"] = sorted(f"{l.src} -> {l.dst}" for l in graph.links)
    result["reads_same_file"] = str(graph.resolve_path(graph.nodes["kick"].params["path"])) \
        == stem_file if "kick" in graph.nodes else False
    result["kick_at"] = list(dpg.get_item_rect_min(w.app.board.node_items["kick"])) \
        if "kick" in w.app.board.node_items else None
    w.key("ctrl+z")
    result["after_undo"] = sorted(w.app.session.graph.nodes)


def render_figures(w: Window, result: dict) -> None:
    """Render clicked: the report lists what each node did, and the canvas shows it on
    the nodes."""
    w.click_item(w.labelled("Render"))
    wait_for_render(w)
    result["report_shown"] = w.shown("report_window")
    board = w.app.board
    result["lines"] = {nid: dpg.get_item_configuration(f"meter::{nid}")["overlay"]
                       for nid in board.node_items
                       if dpg.is_item_shown(f"meter::{nid}")}
    rows = dpg.get_item_children("report_nodes", 1) if dpg.does_item_exist("report_nodes") \
        else []
    result["report_rows"] = [dpg.get_value(dpg.get_item_children(r, 1)[0]) for r in rows]
    plots = [i for i in dpg.get_all_items() if dpg.get_item_type(i) == "mvAppItemType::mvPlot"
             and dpg.get_item_label(i) == "loudness" and dpg.is_item_visible(i)]
    wx0, wy0, wx1, wy1 = w.rect("report_window")
    result["loudness_plots"] = [list(w.rect(i)) for i in plots      # the ones seen whole
                                if wx0 <= w.rect(i)[0] and w.rect(i)[3] <= wy1]
    result["report_shot"] = screenshot(w, "report")


def wait_for_render(w: Window) -> None:
    deadline = time.monotonic() + 120
    while w.app.rendering.job is not None and time.monotonic() < deadline:
        w.frames(1)
    w.frames(4)


def ab_reports(w: Window, result: dict) -> None:
    """A/B of two renders: a version saved, the kick raised 6 dB and saved, the
    version rendered from File > Versions..., the project rendered; the report's
    "A/B with" button shows both side by side with what changed."""
    w.save_version("before")
    w.type_value(w.app.inspector.param_items[("kick_ch", "gain_db")], "4")
    w.key("ctrl+s")
    w.move(700, 850)
    w.menu("File", "Versions...")
    w.frames(4)
    (vid,) = w.app.versions.rows
    w.click_item(w.app.versions.rows[vid][2])
    wait_for_render(w)
    result["status_after_version"] = w.app.status_text
    result["version_outputs"] = [o["path"] for o in w.app.rendering.takes[-1].report.outputs]
    w.key("Escape")
    dpg.hide_item("versions_window")
    dpg.hide_item("report_window")
    w.frames(2)
    w.click_item(w.labelled("Render"))
    wait_for_render(w)
    result["takes"] = [t.label for t in w.app.rendering.takes]
    w.click_item(w.labelled(w.app.rendering.takes[0].label))
    w.frames(4)
    result["compare_shown"] = w.shown("compare_window")
    result["title"] = dpg.get_item_label("compare_window")
    rows = dpg.get_item_children("compare_outputs", 1)
    result["rows"] = [[dpg.get_value(c) for c in dpg.get_item_children(r, 1)] for r in rows]
    result["changes"] = dpg.get_value("compare_changes")
    w.app.rendering.forget_folders()
    result["version_folder_left"] = any(Path(p).parent.exists()
                                        for p in result["version_outputs"])


def views_drawn(w: Window, result: dict) -> None:
    """What the canvas, the mixer and the routing matrix draw, for the test to read
    off screenshots: nodes' title bars (one bypassed from its menu), each strip's
    fader and each matrix cell, with where they are and what they should show."""
    board = w.app.board
    w.click(*w.node_body("kick_comp"), button=3)
    w.click_item(w.labelled("Bypass"))
    w.move(*w.empty_spot(900, 700))
    w.frames(4)
    result["titles"] = {nid: [*w.rect(item), w.app.session.graph.nodes[nid].bypass]
                        for nid, item in board.node_items.items()
                        if dpg.is_item_visible(item)}
    result["canvas_shot"] = screenshot(w, "canvas")
    w.move(700, 850)
    w.menu("View", "Mixer")
    w.frames(5)
    m, graph = w.app.mixer, w.app.session.graph
    result["faders"] = {nid: [*w.rect(item), graph.nodes[nid].value("gain_db")]
                        for (nid, name), item in m.widgets.items()
                        if name == "fader" and dpg.is_item_visible(item)}
    result["mixer_shot"] = screenshot(w, "mixer")
    w.key("Escape")
    dpg.hide_item("mixer")
    w.move(700, 850)
    w.menu("View", "Routing")
    w.frames(5)
    from mixgraph.editor.strips import routing

    linked = routing(graph).linked
    result["cells"] = [[*w.rect(item), key in linked]
                       for key, item in w.app.routing.cells.items()
                       if dpg.is_item_visible(item)]
    result["routing_shot"] = screenshot(w, "routing")


def from_scratch(w: Window, result: dict) -> None:
    """Build a small graph with the mouse and keys only: File > New; a tone from the
    palette; a channel and an output each from a link dragged out of a pin into empty
    space; the output's file typed; a cycle tried and refused; the fader typed and
    undone; Render; the report read."""
    board = w.app.board
    w.move(700, 850)
    w.menu("File", "New")
    w.frames(4)
    w.click(*w.empty_spot(120, 200), button=3)
    w.type("tone")
    w.key("Return")
    made = []
    for after, kind in (("tone_1", "channel"), ("channel_1", "output")):
        pin = board.pin_point(f"{after}.out")
        w.drag(pin, w.empty_spot(pin[0] + 160, pin[1] + 40))
        w.frames(3)
        w.type(kind)
        w.key("Return")
        w.frames(3)
        made.append(w.app.palette.pin)
    result["pins"] = made
    result["nodes"] = sorted(w.app.session.graph.nodes)
    result["links"] = sorted([str(l.src), str(l.dst)] for l in w.app.session.graph.links)
    # the output's file, typed into its field
    field = w.app.inspector.param_items.get(("output_1", "path")) or \
        w.app.panel.items.get(("output_1", "path"))
    w.click_item(field)
    w.key("ctrl+a")
    w.type("mix.wav")
    w.key("Return")
    w.frames(3)
    result["path"] = w.app.session.graph.nodes["output_1"].value("path")
    # a cycle: a gain fed by the channel, linked back into the channel's input
    pin = board.pin_point("channel_1.out")
    w.drag(pin, w.empty_spot(pin[0] - 260, pin[1] + 200))      # (clear of the minimap)
    w.type("gain")
    w.key("Return")
    w.frames(3)
    w.drag(board.pin_point("gain_1.out"), board.pin_point("channel_1.in"))
    w.frames(3)
    result["cycle_status"] = w.app.status_text
    result["links_after_cycle"] = len(w.app.session.graph.links)
    # the fader typed, then undone
    w.type_value(w.app.inspector.param_items[("channel_1", "gain_db")], "-6")
    result["gain_typed"] = w.app.session.graph.nodes["channel_1"].value("gain_db")
    w.move(*w.empty_spot(700, 700))
    w.key("ctrl+z")
    result["gain_undone"] = w.app.session.graph.nodes["channel_1"].value("gain_db")
    w.click_item(w.labelled("Render"))
    wait_for_render(w)
    result["report_shown"] = w.shown("report_window")
    rows = dpg.get_item_children("report_window", 1) or []
    table = next((r for r in rows if dpg.get_item_type(r) == "mvAppItemType::mvTable"), None)
    cells = [dpg.get_item_children(r, 1) for r in dpg.get_item_children(table, 1)] \
        if table else []
    result["report"] = [[dpg.get_value(c) for c in row] for row in cells]


def lane_ride(w: Window, result: dict) -> None:
    """Automation drawn by hand: Shift+click on a channel's gain opens its lane; three
    double-clicks add three points, each then typed exactly (time, value); the middle
    one dragged, and the drag undone; Ctrl+S."""
    board, lanes = w.app.board, w.app.lanes
    field = w.app.inspector.param_items[("c", "gain_db")]
    fx, fy = w.centre(field)
    w.move(fx, fy)
    w.xdotool("keydown", "shift")
    w.click(fx, fy)
    w.xdotool("keyup", "shift")
    w.frames(6)
    result["lane_shown"] = w.shown("lanes")
    result["lanes"] = [list(l.key) for l in lanes.lanes]
    deadline = time.monotonic() + 30
    while lanes.busy and time.monotonic() < deadline:
        w.frames(1)
    w.frames(3)
    result["song_s"] = lanes.song_s
    lane = lanes.lanes[0]
    for t, v in ((1.0, -20.0), (2.0, -6.0), (3.0, -12.0)):
        x0, y0 = dpg.get_item_rect_min(lane.tag)
        x = x0 + lanes.x_of(t + 0.13)
        y = y0 + lanes.y_of(v + 1.5, *lanes.lane_state(lane)[3:5])
        w.move(x, y)
        w.xdotool("click", "--repeat", "2", "--delay", "60", "1")
        w.frames(4)
        for tag, value in (("lanes_time", t), ("lanes_value", v)):
            w.click_item(tag)
            w.key("ctrl+a")
            w.type(f"{value:g}")
            w.key("Return")
            w.frames(3)
    result["typed"] = lanes.lane_state(lane)[0]
    # drag the middle point up and to the right
    x0, y0 = dpg.get_item_rect_min(lane.tag)
    lo, hi = lanes.lane_state(lane)[3:5]
    px, py = x0 + lanes.x_of(2.0), y0 + lanes.y_of(-6.0, lo, hi)
    w.drag((px, py), (px + 40, py - 15))
    w.frames(3)
    result["dragged"] = lanes.lane_state(lane)[0]
    w.move(*w.empty_spot(600, 300))
    w.key("ctrl+z")
    w.frames(3)
    result["undone"] = lanes.lane_state(lane)[0]
    w.key("ctrl+s")
    w.frames(3)
    result["saved"] = str(w.app.session.path)
    # render: the lane shows the node's level beside the ride
    w.click_item(w.labelled("Render"))
    wait_for_render(w)
    dpg.hide_item("report_window")
    deadline = time.monotonic() + 30
    w.frames(2)
    while (lanes.busy or "c" not in lanes.signals) and time.monotonic() < deadline:
        w.frames(1)
    w.frames(4)
    level = lanes.signals["c"]["level_db"]
    result["level_at"] = {str(t): float(level[int(lanes.x_of(t))]) for t in (0.5, 2.0, 3.5)}
    result["lane_shot"] = screenshot(w, "lane")
    result["lane_origin"] = list(dpg.get_item_rect_min(lane.tag))
    result["x_at"] = {str(t): lanes.x_of(t) for t in (0.5, 2.0, 3.5)}
    result["y_of_level"] = {str(t): lanes.y_of(v, -60.0, 0.0)
                            for t, v in ((0.5, level[int(lanes.x_of(0.5))]),
                                         (2.0, level[int(lanes.x_of(2.0))]),
                                         (3.5, level[int(lanes.x_of(3.5))]))}
    # the node's bypass as a step lane: from the inspector's Lanes, a point at 1
    w.click(*w.node_title("c"))
    w.frames(3)
    w.click_item("lane_button::c::bypass")
    w.frames(4)
    bypass = lanes.find(("c", "bypass"))
    x0, y0 = dpg.get_item_rect_min(bypass.tag)
    w.move(x0 + lanes.x_of(2.5), y0 + lanes.y_of(0.9, 0.0, 1.0))
    w.xdotool("click", "--repeat", "2", "--delay", "60", "1")
    w.frames(4)
    result["bypass"] = w.app.session.graph.nodes["c"].bypass
    result["label"] = dpg.get_item_label(board.node_items["c"])


def lane_edits(w: Window, result: dict) -> None:
    """Points selected with a box, copied (Ctrl+C) and pasted (Ctrl+V) into another
    lane where the mouse is, their values kept in that lane's range; a point deleted
    with a right-click, two with Delete; each an undo step."""
    lanes = w.app.lanes
    w.app.lanes.open_lane("c", "gain_db")
    w.app.lanes.open_lane("c", "pan")
    w.frames(4)
    deadline = time.monotonic() + 30
    while lanes.busy and time.monotonic() < deadline:
        w.frames(1)
    w.frames(3)
    gain, pan = lanes.find(("c", "gain_db")), lanes.find(("c", "pan"))
    lo, hi = lanes.lane_state(gain)[3:5]
    gx, gy = dpg.get_item_rect_min(gain.tag)
    # a box around the points at 1 s and 2 s (not the one at 3 s)
    w.drag((gx + lanes.x_of(0.8), gy + 4), (gx + lanes.x_of(2.3), gy + 90))
    result["selected"] = sorted(gain.selected)
    w.key("ctrl+c")
    px, py = dpg.get_item_rect_min(pan.tag)
    w.move(px + lanes.x_of(0.5), py + 40)
    w.key("ctrl+v")
    w.frames(3)
    result["pan_points"] = lanes.lane_state(pan)[0]
    # a right-click on the gain lane's point at 3 s deletes it
    w.click(gx + lanes.x_of(3.0), gy + lanes.y_of(-12.0, lo, hi), button=3)
    w.frames(3)
    result["gain_after_right_click"] = lanes.lane_state(gain)[0]
    # click the first pasted pan point, Shift+click the second, Delete
    plo, phi = lanes.lane_state(pan)[3:5]
    for (t, v), shift in zip(result["pan_points"], (False, True)):
        if shift:
            w.xdotool("keydown", "shift")
        w.click(px + lanes.x_of(t), py + lanes.y_of(v, plo, phi))
        if shift:
            w.xdotool("keyup", "shift")
    result["pan_selected"] = sorted(pan.selected)
    w.key("Delete")
    w.frames(3)
    result["pan_after_delete"] = w.app.session.graph.nodes["c"].params.get("pan", 0.0)
    w.move(*w.empty_spot(600, 300))
    for _ in range(2):
        w.key("ctrl+z")
    result["pan_after_two_undos"] = lanes.lane_state(pan)[0]
    result["gain_after_two_undos"] = lanes.lane_state(gain)[0]


def template_after_unsaved(w: Window, result: dict) -> None:
    """D1: with unsaved changes, File > New from template..., Discard: the template
    window opens."""
    w.click_item(w.app.inspector.param_items[("kick_ch", "gain_db")], ctrl=True)
    w.key("ctrl+a")
    w.type("-6")
    w.key("Return")
    result["dirty"] = w.app.session.dirty
    w.move(700, 850)
    w.menu("File", "New from template...")
    result["asked"] = w.shown("confirm_window")
    w.click_item(w.labelled("Discard"))
    w.frames(5)
    result["template_window_shown"] = w.shown("template_window")


def add_at_cursor(w: Window, result: dict) -> None:
    """D2, D9: right-click three empty places and add a node at each with the keyboard
    (type, Down, Enter); Escape closes the palette."""
    places = [(300, 600), (700, 300), (1000, 700)]
    added = []
    for i, (x, y) in enumerate(places):
        w.click(x, y, button=3)
        if not w.shown("palette"):
            result["palette_not_shown_at"] = [x, y]
            return
        w.type("gain")
        if i == 1:
            w.key("Down", "Up")                   # down and back: still the first
        w.key("Return")
        fresh = [n for n in w.app.session.graph.nodes if n.startswith("gain")
                 and n not in added]
        added += fresh
        w.frames(4)
        item = w.app.board.node_items[fresh[0]]
        result.setdefault("placed", []).append({"asked": [x, y],
                                                "drawn": list(dpg.get_item_rect_min(item)),
                                                "type": w.app.session.graph.nodes[fresh[0]].type})
    w.click(500, 500, button=3)
    result["palette_open"] = w.shown("palette")
    w.key("Escape")
    result["palette_after_escape"] = w.shown("palette")


def frame_after_pan(w: Window, result: dict) -> None:
    """D3, D2: pan the canvas (middle drag on its background), add a node under a
    right-click, then F: the graph's top-left node is back where it started."""
    kick = w.app.board.node_items["kick"]
    result["kick_before"] = list(dpg.get_item_rect_min(kick))
    sx, sy = w.empty_spot(770, 640)
    w.move(sx, sy)
    w.xdotool("mousedown", "2")
    w.frames(3)
    for k in range(1, 11):
        w.move(sx - 25 * k, sy - 12 * k)
    w.xdotool("mouseup", "2")
    w.frames(4)
    result["kick_panned"] = list(dpg.get_item_rect_min(kick))
    ax, ay = w.empty_spot(700, 700)
    result["asked_at"] = [ax, ay]
    w.click(ax, ay, button=3)
    w.type("gain")
    w.key("Return")
    w.frames(4)
    (added,) = [n for n in w.app.session.graph.nodes if n.startswith("gain")]
    result["added_at"] = list(dpg.get_item_rect_min(w.app.board.node_items[added]))
    w.move(*w.empty_spot(760, 600))
    w.key("f")
    w.frames(4)
    result["kick_framed"] = list(dpg.get_item_rect_min(w.app.board.node_items["kick"]))


def typing_is_not_a_shortcut(w: Window, result: dict) -> None:
    """D4: a node selected, another node's gain typed into (Home, Delete, f, space):
    nothing but the field changes.  Then Delete in the Save as dialog's name field."""
    w.click(*w.node_title("kick"))
    result["selected"] = w.app.board.selected_nodes()
    field = w.app.inspector.param_items[("snare_ch", "gain_db")]
    w.click_item(field, ctrl=True)
    w.key("Home", "Delete", "f", "space", "End", "BackSpace")
    w.key("Return")
    result["nodes_after_field"] = sorted(w.app.session.graph.nodes)
    result["playing"] = w.app.playback.player.playing
    result["status_after_field"] = w.app.status_text      # Play without a device says so
    result["player_reason"] = w.app.playback.player.reason
    result["offset"] = list(w.app.board.offset)
    w.click(*w.node_title("kick"))
    w.move(700, 850)
    w.menu("File", "Save as...")
    w.frames(5)
    result["save_dialog_shown"] = w.shown("save_dialog")
    w.key("Delete", "f", "space")
    result["nodes_after_dialog"] = sorted(w.app.session.graph.nodes)
    w.key("Escape")


def box_delete(w: Window, result: dict) -> None:
    """D5: a box around one node that a link crosses, Delete: only the node goes (its
    own links with it), in one undo step."""
    board = w.app.board
    links_before = sorted(map(list, board.link_items))
    (x0, y0) = dpg.get_item_rect_min(board.node_items["b"])
    (x1, y1) = dpg.get_item_rect_max(board.node_items["b"])
    w.drag((x0 - 15, y0 - 15), (x1 + 15, y1 + 40))
    result["selected_nodes"] = board.selected_nodes()
    result["selected_links"] = len(dpg.get_selected_links("editor"))
    w.move(x1 + 200, y1 + 200)
    w.key("Delete")
    result["nodes"] = sorted(w.app.session.graph.nodes)
    result["links"] = sorted([str(l.src), str(l.dst)] for l in w.app.session.graph.links)
    result["status"] = w.app.status_text
    w.key("ctrl+z")
    result["links_after_undo"] = sorted([str(l.src), str(l.dst)]
                                        for l in w.app.session.graph.links)
    result["links_before"] = links_before
    result["nodes_after_undo"] = sorted(w.app.session.graph.nodes)


def save_as_name(w: Window, result: dict) -> None:
    """D6: File > Save as..., type a name, Return: that file, not a hidden one."""
    w.move(700, 850)
    w.menu("File", "Save as...")
    w.frames(5)
    x, y = FILE_DIALOG                                   # where Dear PyGui opens it
    w.click(x + 300, y + 420 - 41)                       # the file name field
    w.key("ctrl+a")
    w.type("scratch")
    w.click(x + 19, y + 420 - 18)                        # OK
    w.frames(5)
    result["session_path"] = str(w.app.session.path)
    result["status"] = w.app.status_text
    # an absolute path typed into the name field is that path
    target = Path.cwd() / "elsewhere" / "abs.mgraph"
    target.parent.mkdir()
    w.move(700, 850)
    w.menu("File", "Save as...")
    w.frames(5)
    w.click(x + 300, y + 420 - 41)
    w.key("ctrl+a")
    w.type(str(target))
    w.click(x + 19, y + 420 - 18)
    w.frames(5)
    result["absolute_path"] = str(w.app.session.path)


def listen_after_new(w: Window, result: dict) -> None:
    """D7: File > New clears what "listen to" offers and shows."""
    result["listen_before"] = dpg.get_value("listen")
    w.move(700, 850)
    w.menu("File", "New")
    w.frames(5)
    result["listen_after"] = dpg.get_value("listen")
    result["listen_items"] = dpg.get_item_configuration("listen")["items"]


def typed_value_saved_exactly(w: Window, result: dict) -> None:
    """D8: a pan typed as 0.358 is saved as 0.358."""
    w.type_value(w.app.inspector.param_items[("kick_ch", "pan")], "0.358")
    w.key("ctrl+s")
    result["saved"] = str(w.app.session.path)


def labels_and_dialogs(w: Window, result: dict) -> None:
    """D12: the Play button's label fits it; a dialog opens in the middle."""
    item = "play"
    (x0, _), (x1, _) = dpg.get_item_rect_min(item), dpg.get_item_rect_max(item)
    text_w, _ = dpg.get_text_size(dpg.get_item_label(item))
    result["play_label"] = dpg.get_item_label(item)
    result["play_width"] = x1 - x0
    result["play_text_width"] = text_w
    w.move(700, 850)
    w.menu("File", "Save version...")
    w.frames(4)
    result["dialog_centre"] = list(w.centre("ask_window"))
    result["viewport"] = [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()]
    w.key("Escape")


def mixer(w: Window, result: dict) -> None:
    """The mixer view: opened from the View menu; a fader dragged, a gain typed, a
    double-click resetting the fader, mute clicked, a pan and a send level typed, and
    the fader's drag undone in one step."""
    w.move(700, 850)
    w.menu("View", "Mixer")
    w.frames(5)
    result["shown"] = w.shown("mixer")
    m = w.app.mixer
    graph = w.app.session.graph
    gain = lambda: graph.nodes["kick_ch"].value("gain_db")      # noqa: E731
    result["gain_before"] = gain()
    x, y = w.centre(m.widgets[("kick_ch", "fader")])
    w.drag((x, y - 40), (x, y + 20))
    result["gain_dragged"] = gain()
    w.key("ctrl+z")
    result["gain_undone"] = gain()
    w.click_item(m.widgets[("kick_ch", "gain_db")], ctrl=True)
    w.key("ctrl+a")
    w.type("-7.5")
    w.key("Return")
    result["gain_typed"] = gain()
    fader = m.widgets[("kick_ch", "fader")]
    x, y = w.centre(fader)
    w.move(x, y)
    w.xdotool("click", "--repeat", "2", "--delay", "60", "1")
    w.frames(4)
    result["gain_reset"] = gain()
    w.click_item(m.widgets[("kick_ch", "mute")])
    result["mute"] = graph.nodes["kick_ch"].value("mute")
    w.click_item(m.widgets[("kick_ch", "pan")], ctrl=True)
    w.key("ctrl+a")
    w.type("0.25")
    w.key("Return")
    result["pan"] = graph.nodes["kick_ch"].value("pan")
    sends = [k for k in m.widgets if k[0] == "lead_ch" and k[1].startswith("send:")]
    result["lead_sends"] = sorted(k[1] for k in sends)
    w.click_item(m.widgets[sends[0]], ctrl=True)
    w.key("ctrl+a")
    w.type("-10")
    w.key("Return")
    result["send_level"] = graph.nodes[sends[0][1][5:]].value("level_db")
    result["strips"] = [dpg.get_value(c) for c in []]
    dpg.output_frame_buffer(file=str(Path.cwd() / "mixer.png"))
    w.frames(3)


def screenshot(w: Window, name: str) -> str:
    """The window as drawn now, to a PNG in the working folder (the test decodes it)."""
    path = Path.cwd() / f"{name}.png"
    dpg.output_frame_buffer(file=str(path))
    w.frames(3)
    return str(path)


def overview(w: Window, result: dict) -> None:
    """See the whole graph: O opens the overview (at 1600 x 1000); every node's box is
    drawn whole inside it, at full size; a click on a box goes to that node."""
    w.move(700, 500)
    w.key("o")
    w.frames(4)
    ov = w.app.overview
    result["shown"] = w.shown("overview")
    result["scale"] = ov.scale
    result["window"] = list(w.rect("overview"))
    result["viewport"] = [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()]
    s = ov.scale
    x0, y0 = dpg.get_item_rect_min("overview_map")
    result["boxes"] = {nid: [x0 + b.x * s, y0 + b.y * s, x0 + (b.x + 138) * s,
                             y0 + (b.y + 36) * s, b.category]
                       for nid, b in ov.boxes.items()}
    result["shot"] = screenshot(w, "overview")
    w.click(*ov.box_centre("bass_comp"))
    w.frames(4)
    result["after_click_shown"] = w.shown("overview")
    result["focus"] = w.app.panel.node
    result["selected"] = w.app.board.selected_nodes()
    result["editor"] = list(w.app.board.canvas_rect())
    result["bass_comp"] = list(w.rect(w.app.board.node_items["bass_comp"]))


def go_to(w: Window, result: dict) -> None:
    """Navigate a 220-node session from the keyboard: Ctrl+F, a few letters, Enter
    brings a node off-screen to the middle of the canvas; then O, Escape."""
    target = "s37_comp"
    result["before"] = dpg.is_item_visible(w.app.board.node_items[target]) and \
        list(w.rect(w.app.board.node_items[target]))
    w.move(600, 500)
    keys = ["ctrl+f", *"s37", "space", *"comp", "Return"]
    w.key(*keys)
    w.frames(4)
    result["keystrokes"] = len(keys)
    result["goto_shown"] = w.shown("goto")
    result["focus"] = w.app.panel.node
    result["editor"] = list(w.app.board.canvas_rect())
    result["target"] = list(w.rect(w.app.board.node_items[target]))
    w.key("o")
    w.frames(3)
    result["overview_scale"] = w.app.overview.scale
    result["overview_nodes"] = len(w.app.overview.boxes)
    w.key("Escape")
    result["overview_after_escape"] = w.shown("overview")


def pin_to_empty_space(w: Window, result: dict) -> None:
    """Drag a link from a tone's output pin into empty space: the palette opens there
    with only the nodes that can take an input; type, Enter: the node is added where
    the link was let go, linked."""
    item = w.app.board.node_items["t"]
    pin = w.app.board.pin_point("t.out")
    drop = w.empty_spot(pin[0] + 300, pin[1] + 200)
    w.drag(pin, drop)
    w.frames(4)
    result["palette_shown"] = w.shown("palette")
    result["palette_title"] = dpg.get_item_label("palette")
    result["listed"] = list(w.app.palette.keys)
    w.type("gain")
    w.key("Return")
    w.frames(4)
    made = [n for n in w.app.session.graph.nodes if n != "t"]
    result["made"] = made
    result["links"] = sorted([str(l.src), str(l.dst)] for l in w.app.session.graph.links)
    result["drop"] = list(drop)
    result["drawn"] = list(dpg.get_item_rect_min(w.app.board.node_items[made[0]])) \
        if made else None
    del item


def drop_on_link(w: Window, result: dict) -> None:
    """Drag a lone node by its title onto a link: it goes into the link, where it was
    dropped; Ctrl+Z takes it out again in one step."""
    board = w.app.board
    a, b = board.pin_point("t.out"), board.pin_point("g.in")
    middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    x0, y0, x1, y1 = w.rect(board.node_items["x"])
    grab = (x0 + 30, y0 + 10)
    # the node's middle onto the link's middle
    w.drag(grab, (middle[0] - (x1 - x0) / 2 + 30, middle[1] - (y1 - y0) / 2 + 10))
    w.frames(4)
    result["links"] = sorted([str(l.src), str(l.dst)] for l in w.app.session.graph.links)
    result["status"] = w.app.status_text
    w.move(700, 800)
    w.key("ctrl+z")
    result["links_after_undo"] = sorted([str(l.src), str(l.dst)]
                                        for l in w.app.session.graph.links)
    result["x_after_undo"] = w.app.session.graph.ui["x"]["pos"]


def clicks_stay_put(w: Window, result: dict) -> None:
    """D10: a click on a dialog's button or a menu's entry acts there only: nothing
    under it (a node's value field, placed there on purpose) is selected or starts
    being edited."""
    from mixgraph.editor import recovery

    board, fields = w.app.board, w.app.inspector.param_items
    w.app.session.set_param("kick_ch", "gain_db", -3.0)
    recovery.autosave(w.app.session)
    w.app.session.dirty = False
    w.app.autosave.offer_recovery()
    w.frames(4)
    bx, by = w.centre(w.labelled("Recover"))
    dpg.hide_item("recover_window")                     # pan a field under its button
    w.frames(2)
    fx, fy = w.centre(fields[("snare_ch", "pan")])
    w.pan(bx - fx, by - fy)
    w.app.autosave.offer_recovery()
    w.frames(4)
    result["under_recover"] = _under(w, bx, by)
    w.click(bx, by)
    w.frames(4)
    result["recovered"] = w.app.session.graph.nodes["kick_ch"].params.get("gain_db")
    result["selected_after_recover"] = board.selected_nodes()
    result["active_after_recover"] = _active(w)
    # the node menu's Duplicate over a value field (of an EQ shown whole: its list of
    # bands makes it wide and tall), the graph framed first
    w.move(*w.empty_spot(700, 600))
    w.key("f")
    x0, y0, x1, y1 = board.canvas_rect()
    seen = next(nid for nid, item in board.node_items.items()
                if nid.endswith("_eq") and dpg.is_item_visible(item)
                and _inside((x0 + 10, y0 + 10, x1 - 200, y1 - 200), *w.node_body(nid)))
    w.click(*w.node_body(seen), button=3)
    mx, my = dpg.get_item_pos("node_menu")
    dx, dy = (c - m for c, m in zip(w.centre(w.labelled("Duplicate")), (mx, my)))
    w.click_item(w.labelled("Show all"))
    w.frames(4)
    nodes = [w.rect(item) for item in board.node_items.values()]
    spot = next((fx - dx, fy - dy) for fx, fy in (w.centre(f) for f in _fields())
                if any(_inside(r, fx - dx, fy - dy) for r in nodes)
                and _inside((x0 + 10, y0 + 10, x1 - 170, y1 - 150), fx - dx, fy - dy))
    w.click(*spot, button=3)
    w.frames(2)
    bx, by = w.centre(w.labelled("Duplicate"))
    result["under_duplicate"] = _under(w, bx, by)
    w.click(bx, by)
    w.frames(4)
    result["duplicated"] = f"{w.app.node_menu.node}_1" in w.app.session.graph.nodes
    result["selected_after_duplicate"] = board.selected_nodes()
    result["active_after_duplicate"] = _active(w)


FIELDS = {f"mvAppItemType::{k}" for k in ("mvDragFloat", "mvDragInt", "mvInputFloat",
                                          "mvInputInt", "mvInputText", "mvCombo")}


def region_strip(w: Window, result: dict) -> None:
    """A stem's regions edited on its waveform strip in the inspector: its title
    clicked (the inspector shows the strip once the waveform is read); a double-click
    at 2 s splits the region; the second half dragged 40 pixels right; the first
    half's start edge dragged 20 pixels right; Ctrl+Z undoes the trim; the second
    region's gain typed into its row; a screenshot; Ctrl+S."""
    strip = w.app.regions_strip
    w.click(*w.node_title("vox"))
    w.frames(3)
    deadline = time.monotonic() + 30
    while not strip.found and time.monotonic() < deadline:
        w.frames(1)
    w.frames(2)
    def regions(name):                            # (an undo makes the node anew)
        return w.app.session.graph.nodes["vox"].value(name)

    result["shown_s"] = strip.shown_s
    result["boxes"] = [[b.x0, b.x1] for b in strip.found]
    x0, y0 = dpg.get_item_rect_min(strip.tag)
    y = y0 + 50
    px_per_s = STRIP_W / strip.shown_s
    w.move(x0 + 2.0 * px_per_s, y)
    w.xdotool("click", "--repeat", "2", "--delay", "60", "1")
    w.frames(4)
    result["split"] = regions("regions")
    w.drag((x0 + 3.0 * px_per_s, y), (x0 + 3.0 * px_per_s + 40, y))
    w.frames(2)
    result["moved"] = regions("regions")
    result["moved_px_s"] = 40 / px_per_s
    px_per_s = STRIP_W / strip.shown_s                     # the strip now shows more
    result["shown_after_move"] = strip.shown_s
    w.drag((x0 + 1, y), (x0 + 1 + 20, y))
    w.frames(2)
    result["trimmed"] = regions("regions")
    result["trimmed_px_s"] = 20 / px_per_s
    w.move(*w.empty_spot(600, 300))
    w.key("ctrl+z")
    w.frames(3)
    result["undone"] = regions("regions")
    result["steps"] = [s.label for s in w.app.session.undo_stack]
    field = next(f for f in _fields() if dpg.get_item_user_data(f) == (1, "gain_db"))
    w.type_value(field, "-6")
    w.frames(3)
    result["typed"] = regions("regions")
    result["shot"] = screenshot(w, "regions")
    result["strip_rect"] = list(w.rect(strip.tag))
    w.key("ctrl+s")
    w.frames(3)
    result["saved"] = str(w.app.session.path)


def _fields() -> list:
    """The value fields drawn now."""
    return [i for i in dpg.get_all_items() if dpg.get_item_type(i) in FIELDS
            and dpg.get_item_state(i).get("visible") and "rect_min" in dpg.get_item_state(i)]


def _under(w: Window, x: float, y: float) -> str | None:
    """The value field drawn at (x, y) (its id), if any."""
    return next((str(f) for f in _fields() if _inside(w.rect(f), x, y)), None)


def _inside(rect, x, y) -> bool:
    return rect[0] <= x <= rect[2] and rect[1] <= y <= rect[3]


def _active(w: Window) -> list[str]:
    """The widgets being edited now (a drag or a field with the keyboard's focus)."""
    return [str(dpg.get_item_alias(i) or i) for i in dpg.get_all_items()
            if dpg.get_item_state(i).get("active")]


SCENARIOS = {f.__name__: f for f in (rename, bypass, routing_matrix, versions, copy_paste,
                                     render_figures,
                                     template_after_unsaved,
                                     add_at_cursor,
                                     mixer,
                                     frame_after_pan,
                                     typing_is_not_a_shortcut, box_delete, save_as_name,
                                     listen_after_new, typed_value_saved_exactly,
                                     labels_and_dialogs, overview, go_to,
                                     pin_to_empty_space, drop_on_link, clicks_stay_put,
                                     ab_reports, views_drawn, from_scratch, lane_ride,
                                     lane_edits, region_strip)}
SIZES = {"overview": (1600, 1000)}


def main() -> None:
    scenario, project, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    w = Window(project, SIZES.get(scenario, (1400, 900)))
    result: dict = {}
    started = time.monotonic()
    try:
        SCENARIOS[scenario](w, result)
    finally:
        result["seconds"] = time.monotonic() - started
        out.write_text(json.dumps(result, indent=2))
        w.frames(2)
        dpg.destroy_context()


if __name__ == "__main__":
    main()
