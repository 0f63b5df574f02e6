"""Drives the real editor window (run under Xvfb by test_editor_window.py).

    python tests/editor_driver.py PROJECT RESULT.json SCREENSHOT.png [STEMS_DIR TEMPLATE]

Uses Dear PyGui's own registered callbacks (the palette button, the node editor's
link callback, menu items, the Render button), as a user's clicks would; the "+ band"
of a multiband compressor is clicked with the real mouse (xdotool, when installed).
Then writes what happened to RESULT.json.
"""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dearpygui.dearpygui as dpg


from mixgraph import validate  # noqa: E402
from mixgraph.editor.app import EditorApp  # noqa: E402
from mixgraph.editor.session import Session  # noqa: E402


def frames(app: EditorApp, n: int = 3) -> None:
    for _ in range(n):
        app.frame()


def click(item, app_data=None) -> None:
    """Run an item's callback the way Dear PyGui does when it is clicked: with as many
    of (sender, app_data, user_data) as the callback takes."""
    callback = dpg.get_item_callback(item)
    args = (item, app_data, dpg.get_item_user_data(item))
    count = len([p for p in inspect.signature(callback).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)])
    callback(*args[:count])


def menu_item(label: str) -> int:
    for item in dpg.get_all_items():
        if dpg.get_item_type(item) == "mvAppItemType::mvMenuItem" \
                and dpg.get_item_label(item) == label:
            return item
    raise KeyError(label)


def mouse_click(app: EditorApp, item) -> None:
    """Click an item with the real mouse: move there, press, release, a frame between."""
    (x0, y0), (x1, y1) = dpg.get_item_rect_min(item), dpg.get_item_rect_max(item)
    vx, vy = dpg.get_viewport_pos()
    x, y = int(vx + (x0 + x1) / 2), int(vy + (y0 + y1) / 2)
    for args in (["mousemove", str(x), str(y)], ["mousedown", "1"], ["mouseup", "1"]):
        subprocess.run(["xdotool", *args], check=True, timeout=30)
        frames(app)


def plus_button(group: str) -> int:
    return next(b for b in dpg.get_item_children(group, 1)
                if dpg.get_item_label(b) == "+ band")


def multiband_plus_band(app: EditorApp, result: dict) -> None:
    """A new project, a multiband compressor from the palette, and its "+ band" clicked."""
    dpg.hide_item("report_window")
    click(menu_item("New"))                  # the project was saved: nothing to ask
    frames(app)
    app.palette.pos = (40, 40)
    app.palette.show()
    dpg.set_value("palette_filter", "multiband")
    app.palette.fill()
    click(next(b for b in dpg.get_item_children("palette_list", 1)
               if dpg.get_item_user_data(b) == "multiband_compressor"))
    app.board.frame()
    frames(app, 5)
    session = app.session
    (mb,) = session.graph.nodes
    group = f"list::{mb}::bands"
    if shutil.which("xdotool"):
        mouse_click(app, plus_button(group))
        result["plus_band_by"] = "mouse"
    else:
        click(plus_button(group))
        result["plus_band_by"] = "callback"
    frames(app)
    result["bands_after_plus"] = session.graph.node(mb).params.get("bands")
    result["band_problems"] = [e.message for e in validate(session.graph).errors
                               if e.param == "bands"]
    for _ in range(3):                        # to three bands (two crossovers), then a 4th
        click(plus_button(group))
        frames(app)
    result["bands_after_four_clicks"] = len(session.graph.node(mb).params["bands"])
    result["status_after_fourth"] = app.status_text
    result["band_lines_drawn"] = len([g for g in dpg.get_item_children(group, 1)
                                      if dpg.get_item_type(g) == "mvAppItemType::mvGroup"])


def type_into(app: EditorApp, item, text: str) -> None:
    """Click a text field with the real mouse and type into it with the keyboard
    (Return between lines), then let the window take every key: frames until the field
    holds the text (the window reads a few keys a frame)."""
    mouse_click(app, item)
    for i, line in enumerate(text.split("\n")):
        if i:
            subprocess.run(["xdotool", "key", "Return"], check=True, timeout=30)
        subprocess.run(["xdotool", "type", "--delay", "15", line], check=True, timeout=60)
    deadline = time.monotonic() + 20
    while dpg.get_value(item) != text and time.monotonic() < deadline:
        frames(app, 1)
    frames(app, 3)


def new_from_template(app: EditorApp, result: dict, stems: str) -> None:
    """File > New from template...: assignments and ignore patterns typed into the
    dialog with the keyboard, the stems folder chosen, the binding table shown."""
    click(menu_item("New"))                  # a clean project: nothing to ask
    frames(app)
    click(menu_item("New from template..."))
    frames(app, 5)
    result["template_window_shown"] = dpg.is_item_shown("template_window")
    dpg.set_value("template_choice", "band")
    if shutil.which("xdotool"):
        type_into(app, "template_assign", "Vox B.wav=lead_vox")
        type_into(app, "template_ignore", "vox a*")
        result["typed_by"] = "keyboard"
    else:
        dpg.set_value("template_assign", "Vox B.wav=lead_vox")
        dpg.set_value("template_ignore", "vox a*")
        result["typed_by"] = "set_value"
    result["assign_field"] = dpg.get_value("template_assign")
    result["ignore_field"] = dpg.get_value("template_ignore")
    choose = next(i for i in dpg.get_all_items()
                  if dpg.get_item_type(i) == "mvAppItemType::mvButton"
                  and dpg.get_item_label(i) == "Choose stems folder...")
    mouse_click(app, choose) if shutil.which("xdotool") else click(choose)
    frames(app, 3)
    result["stems_dialog_shown"] = dpg.is_item_shown("stems_dialog")
    dpg.hide_item("stems_dialog")
    click("stems_dialog", {"file_path_name": stems})   # the folder chooser's answer
    frames(app, 5)
    graph = app.session.graph
    result["template_stems"] = {s.id: s.params.get("path") for s in graph
                                if s.type == "stem"}
    result["binding_window"] = dpg.does_item_exist("binding_window") and \
        dpg.is_item_shown("binding_window")
    result["binding_lines"] = [dpg.get_value(t) for t in
                               dpg.get_item_children("binding_window", 1)] \
        if dpg.does_item_exist("binding_window") else []


def template_rules(app: EditorApp, result: dict, template: str) -> None:
    """Edit > Template rules... on a template: a vocabulary word typed in, Apply."""
    app.replace_session(Session.open(template))
    frames(app, 3)
    click(menu_item("Template rules..."))
    frames(app, 5)
    result["rules_window_shown"] = dpg.is_item_shown("rules_window")
    if shutil.which("xdotool"):
        type_into(app, "rules_vocabulary", "keys: mellotron")
        mouse_click(app, "rules_apply")
    else:
        dpg.set_value("rules_vocabulary", "keys: mellotron")
        click("rules_apply")
    frames(app, 3)
    result["rules_after_apply"] = app.session.graph.template
    result["rules_status"] = app.status_text


def main() -> None:
    project, result_path, shot = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    stems = sys.argv[4] if len(sys.argv) > 4 else None
    result: dict = {}
    session = Session.open(project)
    app = EditorApp(session, width=1400, height=900)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    frames(app, 5)
    result["nodes_drawn"] = len(app.board.node_items)
    result["links_drawn"] = len(app.board.link_items)

    # add a node from the palette (Tab, then the palette's button)
    app.on_key(None, dpg.mvKey_Tab)
    frames(app)
    dpg.set_value("palette_filter", "width")
    app.palette.fill()
    buttons = dpg.get_item_children("palette_list", 1)
    button = next(b for b in buttons
                  if dpg.get_item_user_data(b) == "stereo_width")
    click(button)
    frames(app)
    added = next(n for n in session.graph.nodes if n.startswith("stereo_width"))
    result["added"] = added

    # link mix.out -> added.in by the node editor's link callback (a drag)
    pins = {v: k for k, v in app.board.pins.items()}
    click("editor", (pins["mix.out"], pins[f"{added}.in"]))
    frames(app)
    result["linked"] = any(l.dst.node == added for l in session.graph.links)
    result["links_after_link"] = len(app.board.link_items)

    # a link that would make a cycle is refused at once, with a message
    click("editor", (pins[f"{added}.out"], pins["mix.in"]))
    frames(app)
    result["cycle_status"] = app.status_text

    # undo (Edit > Undo) takes the link back
    click(menu_item("Undo"))
    frames(app)
    result["linked_after_undo"] = any(l.dst.node == added for l in session.graph.links)
    result["links_after_undo"] = len(app.board.link_items)

    # wire the new node properly: mix -> width -> a new output, then save and render
    click("editor", (pins["mix.out"], pins[f"{added}.in"]))
    click(button)
    app.palette.pos = (40, 40)
    dpg.set_value("palette_filter", "output")
    app.palette.fill()
    out_button = next(b for b in dpg.get_item_children("palette_list", 1)
                      if dpg.get_item_user_data(b) == "output")
    click(out_button)
    out = [n for n in session.graph.nodes if n.startswith("output")][-1]
    click(app.panel.items[(out, "path")], "out/wide.wav")      # the new node: in the panel
    pins = {v: k for k, v in app.board.pins.items()}
    click("editor", (pins[f"{added}.out"], pins[f"{out}.in"]))
    frames(app)
    widths = [n for n in session.graph.nodes if n.startswith("stereo_width")]
    extra = [w for w in widths if w != added]
    for w in extra:                                   # the second palette click's node
        session.remove_nodes([w])
    frames(app)
    click(menu_item("Save"))
    frames(app)
    result["saved"] = str(session.path)
    result["dirty_after_save"] = session.dirty

    render_button = next(i for i in dpg.get_all_items()
                         if dpg.get_item_type(i) == "mvAppItemType::mvButton"
                         and dpg.get_item_label(i) == "Render")
    click(render_button)
    started = time.monotonic()
    while app.rendering.job is not None and time.monotonic() - started < 120:
        frames(app, 1)
        time.sleep(0.01)
    frames(app, 10)
    result["status"] = app.status_text
    result["report_shown"] = dpg.is_item_shown("report_window")
    dpg.output_frame_buffer(file=shot)
    frames(app, 3)
    multiband_plus_band(app, result)
    if stems is not None:
        app.session.dirty = False            # the multiband scratch is not kept
        new_from_template(app, result, stems)
        app.session.dirty = False
        template_rules(app, result, sys.argv[5])
    result_path.write_text(json.dumps(result, indent=2))
    dpg.destroy_context()


if __name__ == "__main__":
    main()
