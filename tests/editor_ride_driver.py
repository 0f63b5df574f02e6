"""Rides a fader in the real editor window while it plays into a running JACK server,
with the operating system's mouse and keyboard (xdotool), and records what arrives
(run under Xvfb by test_editor_ride.py).

    python tests/editor_ride_driver.py PROJECT OUT.npz SECONDS

The device buffer is typed (1024 frames); Shift+click on the channel ``a_ch``'s gain
opens its lane; its record button is clicked once (latch); Space plays; the lane's ride control is held and moved to and
fro for SECONDS; Space stops, and the ride is written into the lane.  OUT.npz holds
the capture (``audio``, ``frames``) and ``events`` (JSON: the lane's points, the
status line, the project as it is then).
"""

from __future__ import annotations

import math
import sys
import time

import dearpygui.dearpygui as dpg

from editor_play_driver import centre, frames, key, until, xdotool
from jack_player import Capture
from mixgraph.editor.app import EditorApp
from mixgraph.editor.session import Session


BUFFER = "1024"


def click(app: EditorApp, item, shift: bool = False) -> None:
    x, y = centre(item)
    xdotool("mousemove", str(x), str(y))
    frames(app, 2)
    if shift:
        xdotool("keydown", "shift")
    xdotool("click", "1")
    if shift:
        xdotool("keyup", "shift")
    frames(app, 4)


def main() -> None:
    project, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    capture = Capture()
    events: dict = {"actions": []}
    app = EditorApp(Session.open(project), width=1400, height=900)
    app.build()
    dpg.setup_dearpygui()
    dpg.show_viewport()
    frames(app, 10)
    player, lanes = app.playback.player, app.lanes
    click(app, "buffer")                                # the device buffer: 1024 frames
    key(app, "ctrl+a", *BUFFER, "Return")
    events["buffer_frames"] = player.buffer_frames
    click(app, app.inspector.param_items[("a_ch", "gain_db")], shift=True)
    events["lanes"] = [list(l.key) for l in lanes.lanes]
    lane = lanes.lanes[0]
    click(app, f"{lane.tag}::mode")                     # rec: off -> latch
    events["mode"] = lane.mode
    until(app, lambda: not lanes.busy, 60.0)   # the lane's signal
    x, y = centre("editor")
    xdotool("mousemove", str(x), str(y - 200))
    frames(app, 2)
    key(app, "space")
    events["playing"] = until(app, lambda: player.playing and lanes.rides.engine is not None)
    capture.linked.wait(20.0)
    until(app, lambda: player.position_s > 1.0, 10.0)
    # hold the ride control (0.1 dB a pixel) and move it to and fro as a slow vocal
    # ride: +-33 px (3.3 dB), swings of 10 s and 2.5 s
    ride = f"{lane.tag}::ride"
    x, y = centre(ride)
    xdotool("mousemove", str(x), str(y))
    frames(app, 2)
    xdotool("mousedown", "1")
    started = time.monotonic()
    moves = 0
    while time.monotonic() - started < seconds:
        t = time.monotonic() - started
        dx = round(30 * math.sin(2 * math.pi * t / 10.0) + 3 * math.sin(2 * math.pi * t / 2.5))
        xdotool("mousemove", str(x + dx), str(y))
        moves += 1
        frames(app, 1)
    xdotool("mouseup", "1")
    frames(app, 30)
    events["moves"] = moves
    device = player.device
    events["late"] = device.late if device else None
    events["late_at"] = list(device.late_at) if device else None
    events["device_underflows"] = device.device_underflows if device else None
    x, y = centre("editor")
    xdotool("mousemove", str(x), str(y - 200))
    key(app, "space")
    events["stopped"] = until(app, lambda: not player.playing)
    frames(app, 4)
    events["points"] = lanes.lane_state(lane)[0]
    events["status"] = app.status_text
    events["document"] = app.session.graph.to_document()
    app.quit()
    capture.save(out, events)
    dpg.destroy_context()


if __name__ == "__main__":
    main()
