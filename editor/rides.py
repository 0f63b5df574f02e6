"""Recording rides into automation lanes while playing.

A lane armed in latch or touch mode (its rec button) records from Play: moving one of
its controls (the lane's ride control, the parameter's widgets) goes straight to the
live engine, not to the project, and the engine writes down every glide heard
(``LiveEngine.record``).  At Stop each ride is thinned to the fewest points within
the parameter's ride tolerance (0.1 dB for a level) and merged into its lane
(:func:`lanes.merge_ride`), one undoable edit per lane.  Touch ends a ride when its
control is let go, and the lane plays on as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dearpygui.dearpygui as dpg

from mixgraph.nodes.automation import thin

from . import lanes

if TYPE_CHECKING:
    from mixgraph.core.live import LiveEngine

    from .app import EditorApp
    from .lanes_view import Lane, LanesView


class Rides:
    def __init__(self, app: EditorApp, view: LanesView):
        self.app = app
        self.view = view
        self.engine: LiveEngine | None = None     # playing, with rides being recorded

    def armed(self) -> list[Lane]:
        return [l for l in self.view.lanes if l.mode != "off" and l.name != lanes.BYPASS]

    def start_recording(self, engine: LiveEngine) -> None:
        """Playing has started: record a ride on every armed lane."""
        self.engine = engine
        for lane in self.armed():
            lane.riding, lane.released_s = False, None
            engine.record(lane.node, lane.name)

    def take(self, node: str, name: str, value: float) -> bool:
        """A control of an armed lane moved while playing: heard at once, recorded
        (not an edit of the project until playing stops); False if not armed."""
        lane = next((l for l in self.armed() if l.key == (node, name)), None)
        if lane is None or self.engine is None or lane.released_s is not None:
            return False
        lane.riding = True
        self.engine.set_param(node, name, float(value))
        return True

    def ride(self, key, value: float) -> None:
        lane = self.view.find(key)
        if not self.take(lane.node, lane.name, value):
            self.app.status("arm the lane (rec latch or touch) and play to ride it")

    def check_touch(self) -> None:
        """Touch: a ride ends when its control is let go, and the lane plays on as it
        was."""
        engine = self.engine
        if engine is None:
            return
        for lane in self.armed():
            if lane.mode != "touch" or not lane.riding or lane.released_s is not None:
                continue
            if not any(dpg.does_item_exist(c) and dpg.is_item_active(c)
                       for c in self.controls(lane)):
                lane.released_s = engine.position_s
                engine.set_param(lane.node, lane.name, lanes.lane_value(
                    self.app.session.graph, lane.node, lane.name))

    def controls(self, lane: Lane) -> list:
        """The widgets that ride a lane: its own ride control, and the parameter's
        widgets on its node, in the inspector and in the mixer (and there, a gain's
        fader)."""
        app, key = self.app, lane.key
        found = [f"{lane.tag}::ride", app.inspector.param_items.get(key),
                 app.panel.items.get(key), app.mixer.widgets.get(key)]
        if lane.name == "gain_db":
            found.append(app.mixer.widgets.get((lane.node, "fader")))
        return [item for item in found if item is not None]

    def collect(self, engine: LiveEngine) -> None:
        """Playing stops: each armed lane's ride, thinned, written into the lane (one
        undoable edit per lane)."""
        stop_s = engine.position_s
        for lane in self.armed():
            ride = engine.ride(lane.node, lane.name)
            if not ride:
                continue
            cls = self.app.session.graph.node(lane.node).node_class()
            tolerance = cls.param_table()[lane.name].ride_tolerance()
            points, curve, fixed, *_ = self.view.lane_state(lane)
            written = thin(ride, tolerance)
            touch = lane.mode == "touch"
            end = lane.released_s if touch and lane.released_s is not None else stop_s
            merged = lanes.merge_ride(points, curve, fixed, written, end, touch)
            if self.view.commit(lane, merged, f"ride ({len(written)} points)", curve="linear"):
                self.app.status(f"wrote a ride of {len(written)} points on "
                                f"{lane.node}.{lane.name} ({len(ride)} heard)")
        self.engine = None

