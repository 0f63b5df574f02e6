"""The chorus: its delay modulation measured from what comes out (rate, depth and
centre as set), silence after its declared tail, a mono input spread to stereo, and
the same sound at any block size.  (Automation without zipper noise is checked for
every parameter by tests/test_automation_smooth.py, as for every node.)"""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import SR, db, seeded_noise


def impulses(seconds: float, every_s: float) -> np.ndarray:
    x = np.zeros((1, int(seconds * SR)))
    x[0, ::int(every_s * SR)] = 1.0
    return x


def delays_heard(y: np.ndarray, every: int, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """For each impulse sent every ``every`` samples: when it was sent (s) and the
    delay it came out with (ms), from the centroid of its echo (the Hermite
    interpolator reproduces straight lines, so the centroid of an impulse read at a
    fractional delay is that delay)."""
    times, delays = [], []
    for k in range(0, y.shape[0] - max(every, reach), every):
        part = y[k:k + reach]
        t = np.arange(reach)
        delays.append(float((t * part).sum() / part.sum()) / SR * 1000.0)
        times.append(k / SR)
    return np.array(times), np.array(delays)


@pytest.mark.parametrize("rate_hz, depth_ms, delay_ms", [(1.0, 2.0, 8.0), (0.25, 5.0, 15.0),
                                                         (3.0, 0.5, 3.0)])
def test_the_delay_swings_at_the_rate_and_depth_set(project, rate_hz, depth_ms, delay_ms):
    """One voice, wet only, no feedback: an impulse every 30 ms (longer than the
    longest delay, so no two echoes share a window) comes out at the delay of that
    moment; a sine fitted to those delays has the set rate (within
    0.5 %), depth (within 1 %) and centre (within 0.01 ms)."""
    from scipy.optimize import curve_fit

    every = int(0.03 * SR)
    project.stem("clicks", impulses(8.0, 0.03))
    project.graph.add("chorus", id="ch", rate_hz=rate_hz, depth_ms=depth_ms,
                      delay_ms=delay_ms, voices=1, feedback=0.0, mix=1.0, spread=0.0)
    project.graph.connect("clicks", "ch")
    project.output(src="ch")
    y = project.render_read()[0]
    times, delays = delays_heard(y, every, every)

    def model(t, f, a, c, phase):
        return c + a * np.sin(2 * np.pi * f * t + phase)

    (f, a, c, _), _ = curve_fit(model, times, delays, p0=[rate_hz, depth_ms, delay_ms, 0.0])
    assert f == pytest.approx(rate_hz, rel=0.005)
    assert abs(a) == pytest.approx(depth_ms, rel=0.01)
    assert c == pytest.approx(delay_ms, abs=0.01)


def test_after_its_tail_the_chorus_is_silent(project):
    """A noise burst, then silence, with feedback 0.7: by the end of the tail it
    declares, the output is 90 dB under the burst; silence in is silence out."""
    burst = np.zeros((1, 3 * SR))
    burst[:, :SR // 2] = seeded_noise(0.5, 1, seed=4, level_db=-6.0)
    project.stem("burst", burst)
    project.graph.add("chorus", id="ch", feedback=0.7, mix=1.0)
    project.graph.connect("burst", "ch")
    project.output(src="ch", trim_tail=False)
    y = project.render_read()
    ch = project.graph.nodes["ch"].node_class()(feedback=0.7, mix=1.0)
    tail = ch.tail()
    # 10 ms of line (8 + 2), and the repeats 0.7 takes to fall 90 dB
    assert tail == pytest.approx(0.010 * (1 + 90 / (20 * math.log10(1 / 0.7))))
    end = int((0.5 + tail) * SR)
    assert db(np.abs(y[:, end:]).max()) < db(np.abs(burst).max()) - 90.0
    project.stem("nothing", np.zeros((1, SR)))
    project.graph.add("chorus", id="ch2", feedback=0.9)
    project.graph.connect("nothing", "ch2")
    project.output("out2", src="ch2")
    project.render()
    assert not project.read("out2").any()


def test_a_mono_input_comes_out_stereo_its_sides_apart(project):
    project.stem("voice", seeded_noise(2.0, 1, seed=2, level_db=-12.0))
    project.graph.add("chorus", id="ch", spread=0.5, mix=1.0)
    project.graph.connect("voice", "ch")
    project.output(src="ch")
    y = project.render_read()
    assert y.shape[0] == 2
    a, b = y[:, SR // 2:]
    correlation = float(np.dot(a, b) / math.sqrt(np.dot(a, a) * np.dot(b, b)))
    assert correlation < 0.9                              # apart, not one signal twice
    project.graph.set("ch", "spread", 0.0)
    same = project.render_read()
    np.testing.assert_array_equal(same[0], same[1])       # no spread: the same both sides


@pytest.mark.parametrize("block", [1, 64, 1000, 8193])
def test_the_chorus_sounds_the_same_at_any_block_size(project, block):
    project.stem("voice", seeded_noise(1.0, 2, seed=5, level_db=-12.0))
    project.graph.add("chorus", id="ch", voices=3, feedback=0.4,
                      rate_hz={"automation": [[0.0, 0.5], [1.0, 4.0]]})
    project.graph.connect("voice", "ch")
    project.output(src="ch")
    whole = project.render_read(block_size=8192)
    np.testing.assert_array_equal(project.render_read(block_size=block), whole)
