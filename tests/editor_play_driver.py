"""Plays a project in the real editor window and edits it while it plays, with the
operating system's mouse and keyboard (xdotool), into a running JACK server; records
what arrives there (run under Xvfb by test_editor_play.py).

    python tests/editor_play_driver.py PROJECT OUT.npz SHOT.png

Space starts playing; the channel ``a_ch``'s gain field is Ctrl+clicked, the old value
selected with Ctrl+A and "-12" typed and entered while the sound goes on; Space stops.
OUT.npz holds the capture (``audio``, ``frames``) and ``events`` (JSON: the JACK frame
time of the Return that entered the value, what the window showed, the player's
counts, the longest frame of the window).
"""

from __future__ import annotations

import subprocess
import sys
import time

import dearpygui.dearpygui as dpg

from jack_player import Capture
from mixgraph.editor.app import EditorApp
from mixgraph.editor.session import Session


def frames(app: EditorApp, n: int = 3) -> None:
    for _ in range(n):
        app.frame()


def run_for(app: EditorApp, seconds: float, longest: list[float]) -> None:
    """Keep the window going for ``seconds``, noting its longest frame."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        frames(app, 1)
        longest[0] = max(longest[0], time.monotonic() - t)


def meter_rect(app: EditorApp, nid: str) -> list[float]:
    """Where a node's meter bar is drawn in the viewport: x0, y0, x1, y1.  Dear PyGui
    gives an item inside a node only its position in the editor's grid space; the
    node gives both its grid position and its rectangle, whose corner is its padding
    (8 pixels) outside where grid space is drawn."""
    node = dpg.get_item_state(app.board.node_items[nid])
    bar = dpg.get_item_state(f"meter::{nid}")
    x = bar["pos"][0] + node["rect_min"][0] - node["pos"][0] - 8
    y = bar["pos"][1] + node["rect_min"][1] - node["pos"][1] - 8
    width = dpg.get_item_width(f"meter::{nid}")
    return [x, y, x + width, y + 14]


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=30)


def centre(item) -> tuple[int, int]:
    (x0, y0), (x1, y1) = dpg.get_item_rect_min(item), dpg.get_item_rect_max(item)
    vx, vy = dpg.get_viewport_pos()
    return int(vx + (x0 + x1) / 2), int(vy + (y0 + y1) / 2)


def key(app: EditorApp, *keys: str) -> None:
    for k in keys:
        xdotool("key", k)
        frames(app, 2)


def until(app: EditorApp, done, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        frames(app, 1)
    return done()


def main() -> None:
    project, out, shot = sys.argv[1:4]
    capture = Capture()
    events: dict = {"actions": []}
    longest = [0.0]
    app = EditorApp(Session.open(project), width=1400, height=900)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    frames(app, 10)
    player = app.playback.player
    # the pointer over an empty part of the canvas, then Space: Play
    x, y = centre("editor")
    xdotool("mousemove", str(x), str(y + 250))
    frames(app, 2)
    key(app, "space")
    events["playing_after_space"] = until(app, lambda: player.playing)
    events["button"] = dpg.get_item_label("play")
    capture.linked.wait(20.0)
    run_for(app, 1.0, longest)
    # Ctrl+click the gain field: it becomes a text field; select all, type, Return
    field = app.inspector.param_items[("a_ch", "gain_db")]
    x, y = centre(field)
    xdotool("mousemove", str(x), str(y))
    frames(app, 2)
    xdotool("keydown", "ctrl")
    xdotool("click", "1")
    frames(app, 2)
    xdotool("key", "a")
    xdotool("keyup", "ctrl")
    frames(app, 2)
    key(app, "minus", "1", "2")
    frames(app, 4)
    frame = capture.now()
    xdotool("key", "Return")
    events["actions"].append({"name": "gain typed", "frame": frame})
    run_for(app, 1.5, longest)
    events["gain_db"] = app.session.graph.nodes["a_ch"].params.get("gain_db")
    events["still_playing"] = player.playing
    events["meter_overlays"] = {nid: dpg.get_item_configuration(f"meter::{nid}")["overlay"]
                                for nid in app.board.node_items}
    events["meters_shown"] = all(dpg.is_item_shown(f"meter::{nid}")
                                 for nid in app.board.node_items)
    events["readout"] = dpg.get_value("readout")
    events["underruns"] = player.device.underruns if player.device else None
    device = player.device                          # (its counts are read after Stop)
    events["buffer_frames"] = player.buffer_frames
    events["rate"] = app.session.graph.sample_rate
    events["meter_rects"] = {nid: meter_rect(app, nid) for nid in ("a", "a_ch")}
    dpg.output_frame_buffer(file=shot)
    frames(app, 3)
    x, y = centre("editor")
    xdotool("mousemove", str(x), str(y + 250))
    key(app, "space")
    events["stopped_after_space"] = until(app, lambda: not player.playing)
    events["button_after_stop"] = dpg.get_item_label("play")
    events["longest_frame_s"] = longest[0]
    events["status"] = app.status_text
    events["error"] = player.error
    # the engine late (its ring ran empty), a callback of ours slow, or the JACK
    # server's own missed periods (see jack_player.Capture)
    for count in ("late", "slow_callbacks", "device_underflows"):
        events[count] = getattr(device, count) if device is not None else None
    events["jack_xruns"] = capture.xruns
    app.quit()
    capture.save(out, events)
    dpg.destroy_context()


if __name__ == "__main__":
    main()
