"""Listening from the window: the transport bar's Play/Stop, start position, monitor
level and the output to listen to, over the headless :class:`player.Player`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from .player import Player

if TYPE_CHECKING:
    from .app import EditorApp


class Playback:
    def __init__(self, app: EditorApp):
        self.app = app
        self.player = Player()

    def build(self) -> None:
        """The transport bar's widgets (inside the bar's horizontal group)."""
        dpg.add_button(tag="play", label="Play", callback=lambda: self.toggle(), width=70)
        dpg.add_text("from")
        dpg.add_drag_float(tag="position", width=80, min_value=0.0, max_value=3600.0,
                           speed=0.1, format="%.1f s")
        dpg.add_text("monitor")
        dpg.add_slider_float(tag="monitor", width=120, min_value=-60.0, max_value=0.0,
                             default_value=self.player.monitor_db, format="%.0f dB",
                             callback=lambda s, v: setattr(self.player, "monitor_db", v))
        dpg.add_text("listen to")
        dpg.add_combo(tag="listen", width=160, items=[])
        dpg.add_text("", tag="play_note", color=(160, 160, 160))

    def show_availability(self) -> None:
        if not self.player.available:
            dpg.configure_item("play", label="Play (off)")
            dpg.set_value("play_note", self.player.reason)

    def sync(self) -> None:
        """Offer the project's outputs to listen to."""
        outputs = [s.id for s in self.app.session.graph if s.type == "output"]
        dpg.configure_item("listen", items=outputs)
        if outputs and dpg.get_value("listen") not in outputs:
            dpg.set_value("listen", outputs[0])

    def toggle(self) -> None:
        if not self.player.available:
            self.app.status(self.player.reason, error=True)
            return
        if self.player.playing:
            self.player.stop()
            dpg.configure_item("play", label="Play")
            return
        source = dpg.get_value("listen")
        if not source:
            self.app.status("add an output to listen to", error=True)
            return
        try:
            self.player.play(self.app.session.graph, source, dpg.get_value("position"))
            dpg.configure_item("play", label="Stop")
        except Exception as exc:
            self.app.status(str(exc), error=True)

    def tick(self) -> None:
        """Put the button back when playback ended by itself (and say why, if it failed)."""
        if self.player.available and not self.player.playing \
                and dpg.get_item_label("play") == "Stop":
            dpg.configure_item("play", label="Play")
            if self.player.error:
                self.app.status(self.player.error, error=True)

    def stop(self) -> None:
        self.player.stop()
