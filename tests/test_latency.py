"""Latency compensation and tails."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import BLOCK_SIZES, SR, db, impulse, seeded_noise
from mixgraph.nodes.delayline import DelayLine


def test_parallel_paths_null_after_compensation(project):
    x = seeded_noise(1.0, seed=4, level_db=-6)
    project.stem("src", x)
    g = project.graph
    g.add("test_latent", id="lat", samples=1234)
    g.add("gain", id="flip", polarity_invert=True)
    g.add("bus", id="sum")
    g.connect("src", "lat")
    g.connect("lat", "sum")
    g.connect("src", "flip")
    g.connect("flip", "sum")
    project.output(src="sum")
    out = project.render_read()
    assert out.shape[1] == x.shape[1]
    peak = np.max(np.abs(out))
    assert peak == 0.0 or db(peak) < -120.0


@pytest.mark.parametrize("block", [1, 1000, 8193])
def test_impulse_lands_on_its_sample_through_a_latent_path(project, block):
    project.stem("click", impulse(1.0, 2.0))
    g = project.graph
    g.add("test_latent", id="lat", samples=777)
    g.add("test_latent", id="lat2", samples=100)
    g.connect("click", "lat")
    g.connect("lat", "lat2")
    project.output(src="lat2")
    out = project.render_read(block_size=block)
    assert out.shape[1] == 2 * SR
    assert int(np.argmax(np.abs(out[0]))) == 48000
    assert out[0, 48000] == 1.0


def test_outputs_with_different_latency_are_aligned(project):
    project.stem("click", impulse(0.5, 1.0))
    g = project.graph
    g.add("test_latent", id="lat", samples=4096)
    g.connect("click", "lat")
    project.output("dry", src="click")
    project.output("wet", src="lat")
    project.render()
    assert np.argmax(project.read("dry")[0]) == np.argmax(project.read("wet")[0]) == 24000


def test_sidechain_style_inputs_are_aligned_too(project):
    """Fan-in from paths of different latency into one port is aligned before summing."""
    project.stem("click", impulse(0.25, 0.5))
    g = project.graph
    g.add("test_latent", id="a", samples=10)
    g.add("test_latent", id="b", samples=500)
    g.add("bus", id="mix")
    g.connect("click", "a")
    g.connect("click", "b")
    g.connect("a", "mix")
    g.connect("b", "mix")
    project.output(src="mix")
    out = project.render_read()
    assert out[0, 12000] == 2.0
    assert np.count_nonzero(out) == 1


def test_automation_lines_up_with_audio_behind_latency(project):
    """A gain step at 0.5 s after a latent node falls exactly on song sample 24000."""
    project.stem("dc", np.full((1, SR), 0.5))
    g = project.graph
    g.add("test_latent", id="lat", samples=2000)
    g.add("gain", id="g", gain_db={"automation": [[0.5, 0.0], [0.5, -120.0]], "curve": "step"})
    g.connect("dc", "lat")
    g.connect("lat", "g")
    project.output(src="g")
    out = project.render_read(block_size=333)
    assert out[0, 23999] == 0.5
    assert abs(out[0, 24000]) < 1e-6


@pytest.mark.parametrize("delay", [1, 7, 1000, 5000])
def test_delay_line_delays_exactly_at_any_block_size(delay):
    x = np.random.default_rng(0).standard_normal((2, 20000))
    for block in BLOCK_SIZES:
        line = DelayLine(2, delay, block)
        out = np.concatenate([line.process(x[:, i:i + block]).copy()
                              for i in range(0, x.shape[1], block)], axis=1)
        np.testing.assert_array_equal(out[:, delay:], x[:, :-delay], err_msg=f"block {block}")
        assert np.all(out[:, :delay] == 0)


# ---------------------------------------------------------------------- tails
def test_tail_renders_past_the_last_source_until_below_minus_90_dbfs(project):
    project.stem("click", impulse(0.1, 0.2) * 0.9)
    g = project.graph
    g.add("test_decay", id="ring", tau_s=0.2)
    g.connect("click", "ring")
    project.output("wet", src="ring")
    project.output("dry", src="click")
    project.render()
    dry, wet = project.read("dry"), project.read("wet")
    assert dry.shape[1] == int(0.2 * SR)                   # no tail: the song's length
    a = math.exp(-1 / (0.2 * SR))
    start = 0.9 * (1 - a)                                  # first sample of the decay
    # the tail ends at the last sample at or above -90 dBFS
    n_above = int(math.floor(math.log(10 ** (-90 / 20) / start) / math.log(a))) + 1
    assert wet.shape[1] == int(0.1 * SR) + n_above
    assert db(abs(wet[0, -1])) >= -90.0
    assert wet.shape[1] > dry.shape[1]


def test_tail_is_bounded_by_the_project_setting(project):
    project.stem("burst", np.full((1, int(0.1 * SR)), 0.5))   # charges a slow decay
    g = project.graph
    g.settings["max_tail_s"] = 0.5
    g.add("test_decay", id="ring", tau_s=2.0)
    g.connect("burst", "ring")
    project.output(src="ring")
    out = project.render_read()
    assert out.shape[1] == int(0.1 * SR) + int(0.5 * SR)
    assert db(abs(out[0, -1])) > -60.0                     # still loud where it was cut


def test_tails_of_nodes_in_series_add_up(project):
    project.stem("click", impulse(0.01, 0.02))
    g = project.graph
    g.add("test_decay", id="r1", tau_s=0.05, declared_tail_s=0.3)
    g.add("test_decay", id="r2", tau_s=0.05, declared_tail_s=0.4)
    g.connect("click", "r1")
    g.connect("r1", "r2")
    project.output(src="r2")
    project.render()
    from mixgraph.core.schedule import make_plan
    plan = make_plan(g, 1024)
    try:
        assert plan.sink_ends["out"] == int(0.02 * SR) + int(math.ceil(0.7 * SR))
    finally:
        plan.close()
