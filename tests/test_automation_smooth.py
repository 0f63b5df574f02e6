"""Automating any parameter of any insert renders without clicks.

Registry-driven: every built-in node type with an input and at least one automatable
float parameter gets, for each such parameter, a render of a 200 Hz sine at -12 dBFS
(2 s, faded in and out so that its edges are clean) through the node while the
parameter sweeps across its range (linearly, or exponentially for frequencies) over
1.5 s.  A click or zipper noise is broadband; a 200 Hz sine through any of these
nodes is not, so the output's content above 10 kHz (8th-order Butterworth, zero
phase) must stay below -60 dBFS everywhere.

That absolute measure works for the nonlinear nodes too: at -12 dBFS tanh
saturation's harmonics fall off exponentially (tanh is analytic) and are far below
-100 dBFS above 10 kHz, and a compressor's or gate's gain moves much slower than
the signal.  Each case also renders the node with the parameter held at its
midpoint: that render must be clean (so a failure is the automation's doing) and
must differ from the automated one (so the automation reached the node).  Two
positive controls show that the measure does catch a gain step and block-rate
zipper noise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt

from conftest import SR, ProjectHelper, db, sine
from mixgraph.nodes.base import Node, node_types

LIMIT_DBFS = -60.0
START_S, END_S = 0.25, 1.75            # the sweep: 1.5 s inside a 2 s signal
HF_SOS = butter(8, 10000.0, "highpass", fs=SR, output="sos")

BUILTIN = {n: c for n, c in node_types().items() if c.__module__.startswith("mixgraph.nodes.")}
AUTOMATABLE = {n: [p for p in c.params if p.kind == "float" and p.automatable]
               for n, c in BUILTIN.items() if c.inputs}
AUTOMATABLE = {n: ps for n, ps in AUTOMATABLE.items() if ps}

# Sweeps narrower than the declared range, where the extreme would be silly for a
# 200 Hz sine (or would make the render long); anything not named sweeps min..max.
SUB_RANGES = {
    "gain_db": (-12.0, 12.0), "level_db": (-12.0, 12.0), "makeup_db": (-12.0, 12.0),
    "output_db": (-12.0, 12.0),
    "time_ms": (50.0, 500.0),
    "hold_ms": (0.0, 500.0),
    # a gate opening in under a millisecond clicks by design (the node alone, held at
    # 0.01 ms, puts -52 dBFS above 10 kHz when it opens), automated or not
    "attack_ms": (1.0, 200.0),
    # a release shorter than the sine's period makes a compressor follow the waveform
    # (distortion by design, not a discontinuity)
    "release_ms": (20.0, 1000.0),
    "feedback": (0.0, 0.9),
    "decay_s": (0.3, 3.0),                                # keeps the tail short
}
FREQUENCY_RANGE = (100.0, 5000.0)                         # every *_hz parameter

# Parameters that only act in a particular situation get that situation: extra
# static parameters and the input that makes the parameter audible.
CONTEXT = {
    # range is the gain while closed: a -6 dB threshold keeps the -12 dBFS sine shut out
    ("gate", "range_db"): ({"threshold_db": -6.0}, "mono"),
    # timing acts only while the gate opens and closes: a sine whose level swings
    # between -12 and -60 dBFS once a second across a -30 dB threshold
    ("gate", "attack_ms"): ({"threshold_db": -30.0, "attack_ms": 5.0}, "tremolo"),
    ("gate", "hold_ms"): ({"threshold_db": -30.0, "attack_ms": 5.0}, "tremolo"),
    ("gate", "release_ms"): ({"threshold_db": -30.0, "attack_ms": 5.0}, "tremolo"),
    # a limiter's release acts only while it limits: a -20 dBTP ceiling under the sine
    ("limiter", "release_ms"): ({"ceiling_dbtp": -20.0}, "mono"),
    # a multiband compressor's bands compress the -12 dBFS sine with a -30 dB threshold
    ("multiband_compressor", "stereo_link"): ({"bands": [{"threshold_db": -30.0}] * 3},
                                              "mono"),
    # the strip's surround panner acts where its output is a surround layout
    ("channel", "azimuth_deg"): ({"output": "5.1"}, "mono"),
    ("channel", "spread"): ({"output": "5.1"}, "mono"),
    ("channel", "lfe_db"): ({"output": "5.1"}, "mono"),
    # elevation lifts the source onto the heights, which 7.1.4 has
    ("channel", "elevation_deg"): ({"output": "7.1.4"}, "mono"),
    ("surround_pan", "elevation_deg"): ({"layout": "7.1.4"}, "mono"),
}

# Parameters whose effect needs two channels are swept on a stereo input as well.
STEREO_MATTERS = {"pan", "width", "stereo_link"}
# ... and on a mono input they do nothing, so that case is skipped, with the reason.
MONO_INERT = {
    ("bus", "pan"): "a mono bus is not panned (the node says so in a notice)",
    ("group", "pan"): "a mono group is not panned (it is a bus)",
    ("channel", "width"): "width scales the side signal; a mono input has none",
    ("stereo_width", "width"): "width scales the side signal; a mono input has none",
    ("compressor", "stereo_link"): "one channel has nothing to link with",
    ("multiband_compressor", "stereo_link"): "one channel has nothing to link with",
}


# ------------------------------------------------------------------ inputs
def _faded(x: np.ndarray, fade_s: float = 0.1) -> np.ndarray:
    k = int(fade_s * SR)
    ramp = np.ones(x.shape[1])
    w = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
    ramp[:k] = w
    ramp[-k:] = w[::-1]
    return x * ramp


def _input(layout: str) -> np.ndarray:
    if layout == "mono":
        return _faded(sine(200.0, 2.0, -12.0))
    if layout == "stereo":                                # unequal sides, so links matter
        return np.concatenate((_faded(sine(200.0, 2.0, -12.0)),
                               _faded(sine(300.0, 2.0, -20.0))))
    if layout == "tremolo":
        t = np.arange(2 * SR) / SR
        level_db = -36.0 + 24.0 * np.cos(2 * np.pi * t)
        return _faded((10 ** (level_db / 20) * np.sin(2 * np.pi * 200.0 * t))[None, :])
    raise ValueError(layout)


# ----------------------------------------------------------------- helpers
def sweep(node_type: str, param) -> tuple[float, float, str]:
    """(from, to, curve) of a parameter's sweep, inside its declared range."""
    if param.name.endswith("_hz"):
        lo, hi = FREQUENCY_RANGE
        curve = "exponential"
        if param.max < lo:                      # a rate (an LFO's), not an audio frequency
            lo, hi = param.min, param.max
    else:
        lo, hi = SUB_RANGES.get(param.name, (param.min, param.max))
        curve = "linear"
    lo, hi = max(lo, param.min), min(hi, param.max)
    return float(lo), float(hi), curve


def midpoint(lo: float, hi: float, curve: str) -> float:
    return math.sqrt(lo * hi) if curve == "exponential" else (lo + hi) / 2


def hf(y: np.ndarray) -> tuple[float, float]:
    """(peak dBFS, time s) of the output's content above 10 kHz."""
    high = np.abs(sosfiltfilt(HF_SOS, y, axis=-1)).max(axis=0)
    i = int(np.argmax(high))
    return db(float(high[i])), i / SR


def render(folder, node_type: str, x: np.ndarray, params: dict, block: int = 1024):
    project = ProjectHelper(folder)
    project.stem("src", x)
    project.graph.add(node_type, id="fx", **params)
    project.graph.connect("src", "fx")
    project.output(src="fx")
    return project.render_read(block_size=block)


def _cases():
    cases = []
    for node_type, params in AUTOMATABLE.items():
        for p in params:
            layouts = ["mono"] + (["stereo"] if p.name in STEREO_MATTERS else [])
            for layout in layouts:
                marks = ()
                reason = MONO_INERT.get((node_type, p.name)) if layout == "mono" else None
                if reason:
                    marks = (pytest.mark.skip(reason=f"mono input: {reason}"),)
                cases.append(pytest.param(node_type, p.name, layout, marks=marks,
                                          id=f"{node_type}.{p.name}-{layout}"))
    return cases


CASES = _cases()


# ------------------------------------------------------------------- tests
def test_sweeps_cover_every_insert_parameter_and_stay_inside_its_declared_range():
    covered = {(c.values[0], c.values[1]) for c in CASES}
    expected = {(n, p.name) for n, ps in AUTOMATABLE.items() for p in ps}
    assert covered == expected
    assert {"gain", "channel", "bus", "send", "compressor", "gate", "saturation", "delay",
            "reverb", "stereo_width"} <= {n for n, _ in covered}
    for n, ps in AUTOMATABLE.items():
        for p in ps:
            lo, hi, _ = sweep(n, p)
            assert p.min is not None and p.max is not None, f"{n}.{p.name} has no range"
            assert p.min <= lo < hi <= p.max, f"{n}.{p.name}: sweep {lo}..{hi}"
    for (n, name), reason in MONO_INERT.items():
        assert name in {p.name for p in AUTOMATABLE.get(n, [])}, f"stale skip {n}.{name}"


@pytest.mark.parametrize("node_type, param, layout", CASES)
def test_automating_a_parameter_across_its_range_renders_without_clicks(
        tmp_path, node_type, param, layout):
    p = BUILTIN[node_type].param_table()[param]
    lo, hi, curve = sweep(node_type, p)
    context, context_layout = CONTEXT.get((node_type, param), ({}, None))
    x = _input(context_layout if context_layout and layout == "mono" else layout)
    automation = {"automation": [[START_S, lo], [END_S, hi]], "curve": curve}
    moving = render(tmp_path / "moving", node_type, x, {**context, param: automation})
    still = render(tmp_path / "still", node_type, x,
                   {**context, param: midpoint(lo, hi, curve)})

    still_db, _ = hf(still)
    assert still_db < LIMIT_DBFS - 10, \
        f"{node_type} held at {param}={midpoint(lo, hi, curve):g} is not clean itself " \
        f"({still_db:.1f} dBFS above 10 kHz): this input cannot judge its automation"
    level, at = hf(moving)
    assert level < LIMIT_DBFS, (f"{node_type}.{param} swept {lo:g} -> {hi:g} ({curve}): "
                                f"{level:.1f} dBFS above 10 kHz at {at:.3f} s")
    n = min(moving.shape[1], still.shape[1])
    changed = float(np.max(np.abs(moving[:, :n] - still[:, :n])))
    assert changed > 1e-4, f"automating {node_type}.{param} changed nothing"


EQ_SWEEPS = {
    "bell_freq": {"type": "bell", "gain_db": 6.0, "q": 1.0,
                  "freq_hz": {"automation": [[START_S, 200.0], [END_S, 4000.0]],
                              "curve": "exponential"}},
    "bell_gain": {"type": "bell", "freq_hz": 300.0, "q": 1.0,
                  "gain_db": {"automation": [[START_S, -12.0], [END_S, 12.0]]}},
    "highpass_48_freq": {"type": "highpass", "slope_db_oct": 48,
                         "freq_hz": {"automation": [[START_S, 100.0], [END_S, 5000.0]],
                                     "curve": "exponential"}},
}


@pytest.mark.parametrize("name", sorted(EQ_SWEEPS))
def test_automating_an_eq_band_renders_without_clicks(tmp_path, name):
    band = EQ_SWEEPS[name]
    x = _input("mono")
    moving = render(tmp_path / "moving", "eq", x, {"bands": [band]})
    level, at = hf(moving)
    assert level < LIMIT_DBFS, f"eq {name}: {level:.1f} dBFS above 10 kHz at {at:.3f} s"
    still_band = {k: (midpoint(v["automation"][0][1], v["automation"][1][1],
                               v.get("curve", "linear")) if isinstance(v, dict) else v)
                  for k, v in band.items()}
    still = render(tmp_path / "still", "eq", x, {"bands": [still_band]})
    assert hf(still)[0] < LIMIT_DBFS - 10
    assert float(np.max(np.abs(moving - still))) > 1e-4, "the sweep changed nothing"


# --------------------------------------------------------- positive controls
def test_a_12_db_gain_step_is_caught_as_a_click(tmp_path):
    """The measure can fail: a step (curve 'step') of 12 dB at a peak of the sine."""
    jump_s = 1.00125                                      # a quarter period past 1 s
    step = {"automation": [[0.0, -6.0], [jump_s, 6.0]], "curve": "step"}
    y = render(tmp_path, "gain", _input("mono"), {"gain_db": step})
    level, at = hf(y)
    assert level > LIMIT_DBFS, f"a 12 dB step gave only {level:.1f} dBFS above 10 kHz"
    assert at == pytest.approx(jump_s, abs=0.002)


def test_block_rate_automation_zipper_noise_is_caught(tmp_path, monkeypatch):
    """The measure can fail: a gain that takes one automation value per block (a
    classic zipper bug) sweeping -12 -> +12 dB is above the limit."""
    from mixgraph.nodes.mixing import Gain

    def once_per_block(self, name, start, frames):
        return Node.value(self, name, start, 1)

    monkeypatch.setattr(Gain, "value", once_per_block)
    sweep_doc = {"automation": [[START_S, -12.0], [END_S, 12.0]]}
    y = render(tmp_path, "gain", _input("mono"), {"gain_db": sweep_doc}, block=1024)
    level, at = hf(y)
    assert level > LIMIT_DBFS, f"block-rate steps gave only {level:.1f} dBFS above 10 kHz"
    assert START_S < at < END_S
