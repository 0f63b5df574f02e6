"""Listening from the window: the transport bar (Play/Stop, from, to, loop, what to
listen to, A/B against a second point), the monitor section (level, dim, mono, swap,
mute) and the readouts (loudness and true peak since Play, position, underruns, CPU),
over the headless :class:`player.Player`.  While it plays every edit is handed to the
live engine and heard without stopping, and the canvas's meters move."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .player import Player, listening_points, readout

if TYPE_CHECKING:
    from .app import EditorApp

NONE = "(none)"
READOUT_EVERY_S = 1 / 30          # meters and readouts redrawn this often


class Playback:
    def __init__(self, app: EditorApp):
        self.app = app
        self.player = Player()
        self.player.on_stop = lambda engine: self.app.lanes.rides.collect(engine)
        self.shown_at = 0.0
        self.heard_edits = True                    # the graph handed over since Play

    # ================================================================= widgets
    def build(self) -> None:
        """The transport bar's widgets (inside the bar's horizontal group)."""
        dpg.add_button(tag="play", label="Play", callback=lambda: self.toggle())
        dpg.add_text("from")
        dpg.add_drag_float(tag="position", width=70, min_value=0.0, max_value=36000.0,
                           speed=0.1, format="%.1f s")
        dpg.add_text("to")
        dpg.add_drag_float(tag="play_to", width=70, min_value=0.0, max_value=36000.0,
                           speed=0.1, format="%.1f s")
        with dpg.tooltip("play_to"):
            dpg.add_text("0: the end of the song")
        dpg.add_checkbox(tag="loop", label="loop")
        dpg.add_text("listen to")
        dpg.add_combo(tag="listen", width=150, items=[],
                      callback=lambda: self.relisten())
        dpg.add_text("A/B with")
        dpg.add_combo(tag="compare", width=150, items=[NONE], default_value=NONE,
                      callback=lambda: self.relisten())
        dpg.add_button(tag="ab", label="A", width=30, callback=lambda: self.switch_ab())
        with dpg.tooltip("ab"):
            dpg.add_text("hear A (listen to) or B (A/B with), matched in integrated "
                         "loudness")

    def build_monitor(self) -> None:
        """The monitor section and the readouts (inside a horizontal group of their own)."""
        monitor = self.player.monitor
        dpg.add_text("monitor")
        dpg.add_slider_float(tag="monitor", width=120, min_value=-60.0, max_value=12.0,
                             default_value=monitor.level_db, format="%.0f dB",
                             callback=lambda s, v: setattr(monitor, "level_db", v))
        for name in ("dim", "mono", "swap", "mute"):
            dpg.add_checkbox(tag=f"monitor_{name}", label=name,
                             callback=lambda s, v, u: setattr(monitor, u, v), user_data=name)
        dpg.add_input_int(tag="buffer", label="buffer", width=60, step=0, on_enter=True,
                          default_value=self.player.buffer_frames,
                          callback=lambda s, v: self.set_buffer(v))
        self.app.text_inputs.add(dpg.get_alias_id("buffer"))
        with dpg.tooltip("buffer"):
            dpg.add_text("the sound card's buffer in frames (as mixgraph play --buffer): "
                         "larger if playing underruns, from the next Play")
        dpg.add_text("", tag="readout")
        dpg.add_text("", tag="play_note", color=(160, 160, 160))

    def show_availability(self) -> None:
        if not self.player.available:
            dpg.configure_item("play", label="Play (off)")
            dpg.set_value("play_note", self.player.reason)

    # ================================================================ the model
    def sync(self) -> None:
        """After any change: offer what there is to listen to, and hand the graph to
        the engine if it plays (an edit heard without stopping)."""
        points = listening_points(self.app.session.graph)
        dpg.configure_item("listen", items=points)
        dpg.configure_item("compare", items=[NONE] + points)
        if dpg.get_value("listen") not in points:            # another project's, or gone
            dpg.set_value("listen", points[0] if points else "")
            self.relisten()
        if dpg.get_value("compare") not in points and dpg.get_value("compare") != NONE:
            dpg.set_value("compare", NONE)
            self.relisten()
        if self.player.playing:
            self.player.edit(self.app.session.graph)

    def points(self) -> tuple[str | None, str | None]:
        compare = dpg.get_value("compare")
        return dpg.get_value("listen") or None, (None if compare in (NONE, "") else compare)

    # ================================================================ transport
    def toggle(self) -> None:
        if not self.player.available:
            self.app.status(self.player.reason, error=True)
            return
        if self.player.playing or self.player.starting:
            self.stop()
            return
        listen, compare = self.points()
        to = dpg.get_value("play_to")
        try:
            self.player.play(self.app.session.graph, listen, dpg.get_value("position"),
                             compare=compare, end_s=to if to > 0 else None,
                             loop=dpg.get_value("loop"), ab=dpg.get_item_label("ab").lower())
        except Exception as exc:
            self.app.status(getattr(exc, "message", None) or str(exc), error=True)
            return
        self.heard_edits = False
        dpg.configure_item("play", label="Stop")
        dpg.set_value("play_note", "starting...")
        self.app.board.show_meters(True)

    def set_buffer(self, frames: int) -> None:
        """The device buffer for the next Play (64 to 8192 frames)."""
        frames = max(64, min(8192, int(frames)))
        self.player.buffer_frames = frames
        dpg.set_value("buffer", frames)
        self.app.status(f"device buffer {frames} frames" +
                        (", from the next Play" if self.player.playing else ""))

    def relisten(self) -> None:
        listen, compare = self.points()
        self.player.listen(listen, compare)

    def switch_ab(self) -> None:
        engine = self.player.engine
        side = "b" if dpg.get_item_label("ab") == "A" else "a"
        if side == "b" and self.points()[1] is None:
            self.app.status("choose a second point to compare with (A/B with)", error=True)
            return
        dpg.configure_item("ab", label=side.upper())
        if engine is not None:
            engine.ab = side

    def tick(self) -> None:
        """Once a frame: the readouts and meters while playing; the button put back
        when playing ended by itself (and why, if it failed)."""
        if self.player.finished():
            self.stopped()
            if self.player.error:
                self.app.status(f"not playing: {self.player.error}", error=True)
            return
        if not self.player.playing:
            return
        if not self.heard_edits:                   # edits made while it was starting
            self.heard_edits = True
            self.player.edit(self.app.session.graph)
            self.app.lanes.rides.start_recording(self.player.engine)
        now = time.monotonic()
        if now - self.shown_at < READOUT_EVERY_S:
            return
        self.shown_at = now
        readings = self.player.readings()
        for view in (self.app.board, self.app.mixer, self.app.overview):
            view.draw_meters(readings.get("nodes", {}))
        dpg.set_value("readout", readout(readings, self.player.position_s))
        problem = readings.get("problem")
        dpg.set_value("play_note", f"not heard: {problem}" if problem else self.player.reason)
        dpg.configure_item("play_note", color=(230, 120, 80) if problem else (160, 160, 160))

    def stop(self) -> None:
        self.player.stop()
        self.stopped()

    def stopped(self) -> None:
        if dpg.does_item_exist("play"):
            dpg.configure_item("play", label="Play")
            self.app.board.show_meters(False)
            self.app.mixer.draw_meters({})
            self.app.overview.draw_meters({})

