"""Automation curves against closed forms: linear, exponential and step, jumps,
sample accuracy, chunk-size invariance, the problems a document can have, and an
automated gain end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import SR
from mixgraph.nodes.automation import Automation

CHUNKS = [1, 64, 65, 1000, 8193]


def _times(frames: int, start: int = 0, sr: int = SR) -> np.ndarray:
    return np.arange(start, start + frames, dtype=np.float64) / sr


def _whole(auto: Automation, frames: int, sr: int = SR) -> np.ndarray:
    return np.broadcast_to(np.asarray(auto.render(0, frames, sr), dtype=np.float64),
                           (frames,)).copy()


def _chunked(auto: Automation, frames: int, chunk: int, sr: int = SR) -> np.ndarray:
    out = np.empty(frames)
    for start in range(0, frames, chunk):
        n = min(chunk, frames - start)
        block = auto.render(start, n, sr)
        out[start:start + n] = np.broadcast_to(np.asarray(block, dtype=np.float64), (n,))
    return out


# ------------------------------------------------------------------------ linear
def test_linear_matches_the_straight_line_between_points():
    t0, v0, t1, v1 = 0.25, -60.0, 1.75, 6.0
    auto = Automation([[t0, v0], [t1, v1]], "linear")
    n = np.arange(int(0.25 * SR), int(1.75 * SR) + 1)
    t = n / SR
    want = v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    got = auto.at_seconds(t)
    assert np.max(np.abs(got - want)) < 1e-12
    # the same through render, which the nodes use
    rendered = np.broadcast_to(auto.render(int(n[0]), len(n), SR), (len(n),))
    assert np.max(np.abs(rendered - want)) < 1e-12
    # a few hand-checked values: a quarter, half and three quarters of the way
    for frac in (0.25, 0.5, 0.75):
        idx = int(round((t0 + frac * (t1 - t0)) * SR))
        assert float(auto.at_seconds(idx / SR)) == pytest.approx(v0 + frac * (v1 - v0),
                                                                  abs=1e-12)


def test_linear_with_several_segments_matches_piecewise_interpolation():
    pts = [[0.1, 0.0], [0.3, 1.0], [0.35, -2.0], [0.9, 0.5]]
    auto = Automation(pts, "linear")
    t = _times(SR)
    xp = np.array([p[0] for p in pts])
    fp = np.array([p[1] for p in pts])
    want = np.interp(t, xp, fp)
    assert np.max(np.abs(_whole(auto, SR) - want)) < 1e-12


def test_linear_holds_first_value_before_and_last_value_after():
    auto = Automation([[0.5, -12.0], [1.0, 3.0]], "linear")
    before = auto.at_seconds(_times(int(0.5 * SR)))
    assert np.all(before == -12.0)
    after = auto.at_seconds(_times(SR, start=SR))
    assert np.all(after == 3.0)
    # and through render, block by block (a constant block may come back as a float)
    assert float(auto.render(0, 100, SR)) == -12.0
    assert float(auto.render(5 * SR, 100, SR)) == 3.0


def test_single_point_is_a_constant():
    auto = Automation([[1.0, -7.0]], "linear")
    assert np.all(_whole(auto, 2 * SR) == -7.0)


# ------------------------------------------------------------------- exponential
def test_exponential_sweeps_evenly_in_octaves():
    # 100 Hz -> 6400 Hz over 6 s is six octaves: exactly one octave per second
    auto = Automation([[0.0, 100.0], [6.0, 6400.0]], "exponential")
    for seconds, want in ((0, 100.0), (1, 200.0), (2, 400.0), (3, 800.0), (4, 1600.0),
                          (5, 3200.0), (6, 6400.0)):
        got = float(auto.at_seconds(seconds * SR / SR))
        assert got == pytest.approx(want, rel=1e-9), seconds
        block = np.broadcast_to(auto.render(seconds * SR, 1, SR), (1,))
        assert block[0] == pytest.approx(want, rel=1e-9), seconds


def test_exponential_matches_geometric_interpolation_at_every_sample():
    t0, v0, t1, v1 = 0.2, 20.0, 0.7, 18000.0
    auto = Automation([[t0, v0], [t1, v1]], "exponential")
    t = _times(SR)
    frac = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    want = v0 * (v1 / v0) ** frac
    got = _whole(auto, SR)
    assert np.max(np.abs(got / want - 1.0)) < 1e-9
    # equal steps in ratio: the value halfway in time is the geometric mean
    mid = int(round((t0 + t1) / 2 * SR))
    assert got[mid] == pytest.approx(math.sqrt(v0 * v1), rel=1e-9)


def test_exponential_of_negative_values_stays_negative_and_geometric():
    auto = Automation([[0.0, -1.0], [1.0, -16.0]], "exponential")
    for quarter, want in ((0.25, -2.0), (0.5, -4.0), (0.75, -8.0)):
        assert float(auto.at_seconds(quarter)) == pytest.approx(want, rel=1e-9)


# -------------------------------------------------------------------------- step
def test_step_changes_exactly_at_the_sample_of_the_point():
    auto = Automation([[0.0, 1.0], [0.5, 2.0], [0.75, 3.0]], "step")
    v = _whole(auto, SR)
    assert v[23999] == 1.0 and v[24000] == 2.0          # 0.5 s at 48 kHz is sample 24000
    assert v[35999] == 2.0 and v[36000] == 3.0          # 0.75 s is sample 36000
    assert np.all(v[:24000] == 1.0)
    assert np.all(v[24000:36000] == 2.0)
    assert np.all(v[36000:] == 3.0)


def test_step_at_a_time_between_samples_changes_at_the_next_sample():
    # 0.30001 s is 14400.48 samples: sample 14400 (0.3 s) is before it, 14401 after
    auto = Automation([[0.0, 0.0], [0.30001, 1.0]], "step")
    v = _whole(auto, 15000)
    assert v[14400] == 0.0 and v[14401] == 1.0


def test_step_is_sample_accurate_inside_a_block():
    auto = Automation([[0.0, -1.0], [0.5, 1.0]], "step")
    block = np.broadcast_to(auto.render(23990, 20, SR), (20,))
    assert np.array_equal(block, np.array([-1.0] * 10 + [1.0] * 10))


# -------------------------------------------------------------------------- jumps
@pytest.mark.parametrize("curve", ["linear", "exponential"])
def test_two_points_at_one_time_make_a_jump(curve):
    # ramp 1 -> 2 over [0, 0.5), jump to 8 at 0.5 s, ramp 8 -> 16 over [0.5, 1]
    auto = Automation([[0.0, 1.0], [0.5, 2.0], [0.5, 8.0], [1.0, 16.0]], curve)
    v = _whole(auto, SR + 10)
    i = 24000
    assert v[i] == pytest.approx(8.0, rel=1e-12)
    # the sample before the jump is still on the first ramp, just below 2
    t = (i - 1) / SR
    if curve == "linear":
        want_before = 1.0 + (2.0 - 1.0) * t / 0.5
        want_after = 8.0 + 8.0 * ((i + 100) / SR - 0.5) / 0.5
    else:
        want_before = 1.0 * 2.0 ** (t / 0.5)
        want_after = 8.0 * 2.0 ** (((i + 100) / SR - 0.5) / 0.5)
    assert v[i - 1] == pytest.approx(want_before, rel=1e-12)
    assert v[i - 1] < 2.0
    assert v[i + 100] == pytest.approx(want_after, rel=1e-12)
    assert v[-1] == 16.0


def test_a_jump_in_a_step_curve_takes_the_later_value():
    auto = Automation([[0.0, 1.0], [0.5, 2.0], [0.5, 3.0]], "step")
    v = _whole(auto, SR)
    assert v[23999] == 1.0 and v[24000] == 3.0 and np.all(v[24000:] == 3.0)


# ------------------------------------------------------------ chunk invariance
CURVES = {
    # breakpoints at times that fall between samples and inside every chunk size,
    # a jump, and flat stretches before the first and after the last point
    "linear": [[0.01, -60.0], [0.0501, -6.0], [0.1, 0.0], [0.1, -20.0], [0.17123, 3.0]],
    "exponential": [[0.01, 100.0], [0.0501, 6400.0], [0.1, 50.0], [0.1, 200.0],
                    [0.17123, 20.0]],
    "step": [[0.01, -60.0], [0.0501, -6.0], [0.1, 0.0], [0.1, -20.0], [0.17123, 3.0]],
}
FRAMES = int(0.25 * SR)


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("curve", sorted(CURVES))
def test_render_in_chunks_equals_one_whole_evaluation(curve, chunk):
    auto = Automation(CURVES[curve], curve)
    whole = _whole(auto, FRAMES)
    # the reference itself is evaluated per sample
    assert np.array_equal(whole, auto.at_seconds(_times(FRAMES)))
    assert np.array_equal(_chunked(auto, FRAMES, chunk), whole)


@pytest.mark.parametrize("curve", sorted(CURVES))
def test_render_of_blocks_entirely_before_or_after_the_points(curve):
    auto = Automation(CURVES[curve], curve)
    first, last = CURVES[curve][0][1], CURVES[curve][-1][1]
    before = np.broadcast_to(auto.render(0, 400, SR), (400,))
    assert np.all(before == first)
    after = np.broadcast_to(auto.render(SR, 8193, SR), (8193,))
    assert np.all(after == last)
    # a block starting inside the song, not at zero, that straddles a breakpoint
    start = int(0.0501 * SR) - 7
    block = np.broadcast_to(auto.render(start, 65, SR), (65,))
    assert np.array_equal(block, auto.at_seconds(_times(65, start=start)))


def test_chunked_linear_ramp_matches_the_closed_form():
    auto = Automation([[0.01, -60.0], [0.17123, 3.0]], "linear")
    t = _times(FRAMES)
    want = np.where(t < 0.01, -60.0,
                    np.where(t >= 0.17123, 3.0, -60.0 + 63.0 * (t - 0.01) / (0.17123 - 0.01)))
    for chunk in CHUNKS:
        assert np.max(np.abs(_chunked(auto, FRAMES, chunk) - want)) < 1e-12


# --------------------------------------------------------------------- problems
@pytest.mark.parametrize("raw, words", [
    ({"automation": [[-1.0, 0.0], [1.0, 1.0]]}, "negative time"),
    ({"automation": [[1.0, 0.0], [0.5, 1.0]]}, "times must not decrease"),
    ({"automation": [[0.0, "loud"]]}, "point 0 must be [time_s, value]"),
    ({"automation": [[0.0, 1.0], [1.0]]}, "point 1 must be [time_s, value]"),
    ({"automation": [[0.0, 1.0], 5]}, "point 1 must be [time_s, value]"),
    ({"automation": [[True, 1.0]]}, "point 0 must be [time_s, value]"),
    ({"automation": [[0.0, float("nan")]]}, "must be finite"),
    ({"automation": [[0.0, 100.0], [1.0, 0.0]], "curve": "exponential"},
     "point 1 is 0; exponential curves need non-zero values"),
    ({"automation": [[0.0, 100.0], [1.0, -100.0]], "curve": "exponential"},
     "values of one sign"),
    ({"automation": [[0.0, 1.0]], "curve": "cubic"},
     "curve must be one of linear, exponential, step, got 'cubic'"),
    ({"automation": []}, "non-empty list"),
    ({"automation": "0 to 1"}, "non-empty list"),
    ({"automation": [[0.0, 1.0]], "shape": "s"}, "unknown key(s) shape"),
    ({"points": [[0.0, 1.0]]}, "'automation' list"),
    ([[0.0, 1.0]], "'automation' list"),
])
def test_problems_name_what_is_wrong(raw, words):
    problems = Automation.problems(raw)
    assert problems, raw
    assert any(words in p for p in problems), problems


def test_problems_report_every_bad_point():
    raw = {"automation": [[-1.0, 0.0], [2.0, 1.0], [1.0, 2.0], [3.0, "x"]]}
    problems = Automation.problems(raw)
    assert any("point 0 has a negative time" in p for p in problems)
    assert any("point 2 at 1.0 s comes after 2.0 s" in p for p in problems)
    assert any("point 3 must be [time_s, value]" in p for p in problems)


@pytest.mark.parametrize("raw", [
    {"automation": [[0.0, -60.0], [2.0, 0.0]], "curve": "linear"},
    {"automation": [[0.0, -60.0], [2.0, 0.0]]},
    {"automation": [[0, 100], [1, 6400]], "curve": "exponential"},
    {"automation": [[0.0, -1.0], [1.0, -4.0]], "curve": "exponential"},
    {"automation": [[0.0, 0.0], [1.0, 1.0], [1.0, 5.0]], "curve": "step"},
])
def test_good_automation_has_no_problems(raw):
    assert Automation.problems(raw) == []


def test_problems_report_a_number_too_large_for_a_float():
    # a JSON project may hold an integer such as 10**400 (JSON has no size limit)
    problems = Automation.problems({"automation": [[0.0, 0.0], [1.0, 10 ** 400]]})
    assert any("point 1" in p for p in problems)


# ------------------------------------------------------------------ end to end
@pytest.mark.parametrize("block_size", [1024, 65])
def test_automated_gain_ramps_in_db_sample_accurately(project, block_size):
    frames = int(1.2 * SR)
    project.stem("src", np.full((1, frames), 0.5))
    project.graph.add("gain", id="g",
                      gain_db={"automation": [[0.0, -40.0], [1.0, 0.0]], "curve": "linear"})
    project.graph.connect("src", "g")
    project.output(src="g", subtype="FLOAT")
    out = project.render_read(block_size=block_size)
    assert out.shape == (1, frames)
    for n in (0, 1, 1023, 1024, 4800, 12345, 24000, 36000, 47999, 48000, 50000, frames - 1):
        want_db = -40.0 + 40.0 * min(n / SR, 1.0)
        got_db = 20.0 * math.log10(abs(out[0, n]) / 0.5)
        assert got_db == pytest.approx(want_db, abs=0.01), n
    # the whole ramp, not only the sampled indices
    n = np.arange(frames)
    want = -40.0 + 40.0 * np.minimum(n / SR, 1.0)
    got = 20.0 * np.log10(np.abs(out[0]) / 0.5)
    assert np.max(np.abs(got - want)) < 0.01
