"""Automation lanes as data (editor/lanes.py), the thinning of a recorded ride
(nodes/automation.thin) and the session's one-step automation edit: closed forms and
the automation's own evaluation as the reference."""

from __future__ import annotations

import numpy as np
import pytest

from mixgraph import Graph
from mixgraph.editor import lanes
from mixgraph.editor.session import Session
from mixgraph.nodes.automation import Automation, thin
from mixgraph.nodes.base import node_class


# ==================================================================== thinning
def dense(points, n=20000):
    t = np.linspace(points[0][0], points[-1][0], n)
    return t, Automation(points).at_seconds(t)


def test_a_straight_ride_thins_to_its_two_ends():
    ride = [[t, -10.0 + 2.0 * t] for t in np.linspace(0.0, 5.0, 500)]
    assert thin(ride, 0.1) == [ride[0], ride[-1]]


def test_corners_are_kept_and_nothing_else():
    ride = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, -4.0], [4.0, -3.0], [5.0, -2.0]]
    assert thin(ride, 0.01) == [[0.0, 0.0], [2.0, 2.0], [3.0, -4.0], [5.0, -2.0]]


@pytest.mark.parametrize("tolerance", [0.05, 0.1, 0.5])
def test_a_thinned_random_ride_stays_within_the_tolerance_everywhere(tolerance):
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.uniform(0.005, 0.03, 3000))
    v = 6 * np.sin(2 * np.pi * t / 7) + 2 * np.sin(2 * np.pi * t / 2.3 + 1) \
        + rng.normal(0.0, tolerance / 4, 3000)                  # a hand, and a jitter
    ride = np.column_stack([t, v]).tolist()
    kept = thin(ride, tolerance)
    times, played = dense(ride)
    written = Automation(kept).at_seconds(times)
    assert np.abs(played - written).max() <= tolerance + 1e-12
    assert len(kept) < len(ride) / 5


def test_a_jump_survives_thinning():
    ride = [[0.0, 0.0], [1.0, 0.0], [1.0, 6.0], [2.0, 6.0]]
    kept = thin(ride, 0.1)
    assert Automation(kept).at_seconds(0.999) == 0.0 and Automation(kept).at_seconds(1.0) == 6.0


def test_a_ride_tolerance_is_a_tenth_of_a_db_or_a_thousandth_of_the_range():
    assert node_class("channel").param_table()["gain_db"].ride_tolerance() == 0.1
    assert node_class("channel").param_table()["pan"].ride_tolerance() == pytest.approx(0.002)


# ==================================================================== edits
def test_points_are_added_in_time_order():
    pts, i = lanes.add_point([[0.0, 1.0], [2.0, 3.0]], 1.0, 2.0)
    assert pts == [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]] and i == 1
    pts, i = lanes.add_point(pts, 1.0, 5.0)                  # same time: a jump, after
    assert pts[1:3] == [[1.0, 2.0], [1.0, 5.0]] and i == 2


def test_moved_points_stay_between_their_neighbours_in_range_and_on_the_grid():
    pts = [[0.0, -10.0], [1.0, -6.0], [2.0, -3.0], [3.0, 0.0]]
    moved = lanes.move_points(pts, [1], 5.0, 100.0, -60.0, 12.0)
    assert moved[1] == [2.0, 12.0]                           # stopped by the next point
    moved = lanes.move_points(pts, [1, 2], 0.23, -1.0, -60.0, 12.0, grid=0.5)
    assert moved[1] == [1.0, -7.0] and moved[2] == [2.0, -4.0]   # 1.23 snaps to 1.0
    moved = lanes.move_points(pts, [1, 2], 0.3, 0.0, -60.0, 12.0, grid=0.5)
    assert moved[1][0] == 1.5 and moved[2][0] == 2.5          # both, as far as the first
    assert lanes.set_point(pts, 1, 7.0, -200.0, -120.0, 24.0)[1] == [2.0, -120.0]


def test_a_clip_pastes_into_another_lane_replacing_what_it_spans_in_that_lanes_range():
    source = [[1.0, -3.0], [1.5, 0.0], [2.0, 6.0], [5.0, 9.0]]
    clip = lanes.copy_points(source, [0, 1, 2])
    assert clip == [[0.0, -3.0], [0.5, 0.0], [1.0, 6.0]]
    target = [[0.0, 0.1], [10.2, 0.2], [10.6, 0.3], [12.0, 0.4]]
    got = lanes.paste_points(target, clip, 10.0, -1.0, 1.0)   # a pan lane: -1 to 1
    assert got == [[0.0, 0.1], [10.0, -1.0], [10.5, 0.0], [11.0, 1.0], [12.0, 0.4]]


def test_a_grid_in_beats_and_bars_where_the_project_has_a_tempo():
    g = Graph(sample_rate=48000)
    assert [name for name, _ in lanes.grids(g)][-1] == "1 s"
    g.settings.update(tempo_bpm=120.0, beats_per_bar=3.0)
    grids = dict(lanes.grids(g))
    assert grids["beat"] == 0.5 and grids["bar"] == 1.5 and grids["1/16"] == 0.125
    assert lanes.snap(1.37, grids["bar"]) == 1.5 and lanes.snap(-0.2, 0.0) == 0.0


def test_a_touch_ride_glides_back_to_the_lane_and_a_latch_ride_holds_to_stop():
    old = [[0.0, -10.0], [4.0, -10.0], [10.0, -4.0]]
    ride = [[2.0, -10.0], [2.01, -6.0], [3.0, -5.0]]
    touch = lanes.merge_ride(old, "linear", 0.0, ride, 3.5, touch=True)
    assert touch == [[0.0, -10.0], *ride, [3.5, -5.0], [3.51, -10.0], [4.0, -10.0],
                     [10.0, -4.0]]                       # back over 10 ms: no click
    latch = lanes.merge_ride(old, "linear", 0.0, ride, 6.0, touch=False)
    value_after = -10.0 + (6.01 - 4.0) * 6 / 6               # the old lane at 6.01 s
    assert latch[:-2] == [[0.0, -10.0], *ride, [6.0, -5.0]]
    assert latch[-2] == pytest.approx([6.01, value_after]) and latch[-1] == [10.0, -4.0]
    fixed = lanes.merge_ride([], "linear", -8.0, ride, 6.0, touch=False)
    assert fixed == [*ride, [6.0, -5.0]]                     # the ride's value stays
    fixed = lanes.merge_ride([], "linear", -8.0, ride, 3.5, touch=True)
    assert fixed == [*ride, [3.5, -5.0], [3.51, -8.0]]        # back to the fader's -8


def test_a_fader_lane_draws_its_useful_travel_and_edits_keep_the_whole_range():
    g = Graph(sample_rate=48000)
    g.add("channel", id="c")
    assert lanes.lane_range(g, "c", "gain_db") == (-48.0, 12.0, "dB")
    lo, hi, _ = lanes.value_range(g, "c", "gain_db")
    assert (lo, hi) == (-120.0, 24.0)
    pts = [[0.0, -100.0], [1.0, 18.0]]
    moved = lanes.move_points(pts, [0, 1], 0.5, 0.0, lo, hi)     # in time only
    assert [v for _, v in moved] == [-100.0, 18.0]
    assert lanes.on_off([[0.0, 0.4], [1.0, 0.6]]) == [[0.0, 0.0], [1.0, 1.0]]
    assert lanes.set_point(pts, 5, 1.0, 1.0, lo, hi) == pts       # no such point


# ==================================================================== the session
def test_a_lane_edit_is_one_undo_step_and_no_points_leave_the_value_held():
    g = Graph(sample_rate=48000)
    g.add("tone", id="t")
    g.add("channel", id="c", gain_db=-4.0)
    g.connect("t", "c")
    s = Session(g)
    s.set_automation("c", "gain_db", [[0.0, -4.0], [1.0, 0.0]], "linear", -4.0)
    assert g.nodes["c"].params["gain_db"] == {"automation": [[0.0, -4.0], [1.0, 0.0]],
                                              "curve": "linear"}
    s.set_automation("c", "gain_db", [], "linear", -4.0)
    assert g.nodes["c"].params["gain_db"] == -4.0
    s.undo()
    assert lanes.points_of(g.nodes["c"].params["gain_db"])[0] == [[0.0, -4.0], [1.0, 0.0]]
    s.set_automation("c", lanes.BYPASS, [[0.0, 0.0], [2.0, 1.0]], "step", 0.0)
    assert g.nodes["c"].bypass == {"automation": [[0.0, 0.0], [2.0, 1.0]], "curve": "step"}
    s.set_automation("c", lanes.BYPASS, [], "step", 0.0)
    assert g.nodes["c"].bypass is False
    assert lanes.automatable(g, "c")[-1] == lanes.BYPASS and "gain_db" in lanes.automatable(g, "c")
