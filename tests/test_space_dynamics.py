"""Inserts against measurements: gate, saturation, delay, reverb (algorithmic and
convolution) and stereo width, through the graph as a user wires them.

Inputs are rounded to float32 before they are written as stems, so that what the
engine reads back is exactly the array the test holds; outputs are FLOAT wav, so
"exact" below means exact to float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, fftconvolve, sosfiltfilt

from conftest import SR, db, impulse, rms_db, seeded_noise, sine
from mixgraph import Graph, ParameterError, ValidationError, load, validate
from mixgraph.nodes.base import Context

TAIL_THRESHOLD = 10 ** (-90 / 20)
HF_SOS = butter(8, 10000.0, "highpass", fs=SR, output="sos")


# ------------------------------------------------------------------ helpers
def f32(x: np.ndarray) -> np.ndarray:
    """``x`` as a float32 stem stores it (so stems read back exactly)."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def faded(x: np.ndarray, fade_s: float = 0.05, sr: int = SR) -> np.ndarray:
    """``x`` with raised-cosine fades in and out (no edge clicks of its own)."""
    k = int(fade_s * sr)
    ramp = np.ones(x.shape[1])
    w = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
    ramp[:k] = w
    ramp[-k:] = w[::-1]
    return x * ramp


def insert(project, node_type: str, x: np.ndarray, *, block: int = 1024, sr: int = SR,
           **params) -> np.ndarray:
    """Render stem(x) -> node_type(**params) -> output; returns the output."""
    project.stem("src", x, sr=sr)
    project.graph.add(node_type, id="fx", **params)
    project.graph.connect("src", "fx")
    project.output(src="fx")
    return project.render_read(block_size=block)


def hf_peak_db(y: np.ndarray) -> float:
    """Peak (dBFS) of what lies above 10 kHz (8th-order Butterworth, zero phase)."""
    return db(float(np.max(np.abs(sosfiltfilt(HF_SOS, y, axis=-1)))))


def gain_db_curve(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 20 * np.log10(np.abs(y) / np.abs(x))


def rt60(ir: np.ndarray, sr: int = SR, lo: float = -5.0, hi: float = -35.0) -> float:
    """RT60 by Schroeder backward integration, line fit from ``lo`` to ``hi`` dB, x2."""
    energy = np.cumsum(ir[::-1] ** 2)[::-1]
    edc = 10 * np.log10(energy / energy[0])
    i0 = int(np.flatnonzero(edc <= lo)[0])
    i1 = int(np.flatnonzero(edc <= hi)[0])
    slope = np.polyfit(np.arange(i0, i1) / sr, edc[i0:i1], 1)[0]
    return -60.0 / slope


def octave(ir: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return sosfiltfilt(butter(4, (lo, hi), "bandpass", fs=SR, output="sos"), ir)


def last_loud(y: np.ndarray) -> int:
    """Index of the last sample at or above -90 dBFS on any channel."""
    return int(np.flatnonzero(np.abs(y).max(axis=0) >= TAIL_THRESHOLD)[-1])


# ===================================================================== gate
GATE = dict(threshold_db=-40.0, range_db=-80.0, attack_ms=0.5, hold_ms=20.0, release_ms=20.0)
ENV_FALL_S = 0.0175          # the 5 ms detector falls from -10 to -40 dBFS in 17.3 ms


def _burst_then_noise():
    burst = sine(1000.0, 0.5, -10.0)
    noise = seeded_noise(1.0, seed=3, level_db=-60.0)       # peaks near -48 dBFS
    return f32(np.concatenate((burst, noise), axis=1))


def test_gate_passes_a_burst_unchanged_and_attenuates_the_noise_after_it_by_range(project):
    x = _burst_then_noise()
    y = insert(project, "gate", x, **GATE)
    assert y.shape == x.shape
    # during the burst, once the attack has opened the gate: output = input within 0.1 dB
    s = slice(int(0.005 * SR), int(0.5 * SR))
    loud = np.abs(x[0, s]) > 0.01
    g = gain_db_curve(y[0, s][loud], x[0, s][loud])
    assert np.max(np.abs(g)) < 0.1, f"burst gain deviates by {np.max(np.abs(g)):.3f} dB"
    # after detector fall + hold + 12 release time constants: attenuated by range_db
    settle = 0.5 + ENV_FALL_S + 0.020 + 12 * 0.020
    tail = slice(int(settle * SR), x.shape[1])
    attenuation = rms_db(y[0, tail]) - rms_db(x[0, tail])
    assert attenuation == pytest.approx(-80.0, abs=1.0), f"noise attenuated {attenuation:.2f} dB"


def _gate_gain_after_key(project, **params) -> tuple[np.ndarray, int]:
    """Gain (dB) of a gate on a DC signal keyed by 0.2 s of -10 dBFS sine; key end index."""
    key = np.concatenate((sine(1000.0, 0.2, -10.0), np.zeros((1, int(0.8 * SR)))), axis=1)
    project.stem("dc", np.full((1, SR), 0.25))
    project.stem("key", f32(key))
    project.graph.add("gate", id="g", **{**GATE, **params})
    project.graph.connect("dc", "g")
    project.graph.connect("key", "g.sidechain")
    project.output(src="g")
    y = project.render_read()
    return 20 * np.log10(y[0] / 0.25), int(0.2 * SR)


def test_gate_hold_keeps_it_open_for_hold_ms_after_the_level_falls(tmp_path):
    from conftest import ProjectHelper

    no_hold, end = _gate_gain_after_key(ProjectHelper(tmp_path / "a"), hold_ms=0.0)
    held, _ = _gate_gain_after_key(ProjectHelper(tmp_path / "b"), hold_ms=100.0)
    closing = end + int(np.flatnonzero(no_hold[end:] < -0.01)[0])   # detector below threshold
    assert 0.010 * SR < closing - end < 0.025 * SR
    # hold_ms - 5 ms after that, the held gate is still fully open ...
    assert held[closing + int(0.095 * SR)] > -0.01
    # ... and it then closes exactly as the unheld one did, 100 ms later
    n = 20000
    np.testing.assert_array_equal(held[closing + 4800:closing + 4800 + n],
                                  no_hold[closing:closing + n])
    # well after hold + release it is at range (12 time constants of the 20 ms release)
    assert held[closing + 4800 + int(12 * 0.020 * SR)] == pytest.approx(-80.0, abs=1.0)
    assert held[-1] == pytest.approx(-80.0, abs=0.01)


def test_gate_is_at_range_five_release_time_constants_after_hold(project):
    gain, end = _gate_gain_after_key(project, hold_ms=0.0)
    closing = end + int(np.flatnonzero(gain[end:] < -0.01)[0])
    at = closing + int(5 * 0.020 * SR)
    assert gain[at] == pytest.approx(-80.0, abs=1.0), f"gain {gain[at]:.1f} dB"


def test_gate_with_range_zero_changes_nothing(project):
    x = _burst_then_noise()
    y = insert(project, "gate", x, **{**GATE, "range_db": 0.0})
    np.testing.assert_array_equal(y, x)


def test_gate_sidechain_key_opens_a_continuous_signal_only_where_the_key_is_loud(project):
    from conftest import ProjectHelper

    x = f32(sine(440.0, 1.5, -20.0))                     # above threshold on its own
    pulse = sine(1000.0, 0.1, -6.0)[0]
    key = np.zeros((1, x.shape[1]))
    starts = (0.3, 0.8, 1.3)
    for t in starts:
        key[0, int(t * SR):int(t * SR) + pulse.size] = pulse
    project.stem("x", x)
    project.stem("key", f32(key))
    project.graph.add("gate", id="g", **GATE)
    project.graph.connect("x", "g")
    project.graph.connect("key", "g.sidechain")
    project.output(src="g")
    y = project.render_read()
    for t in starts:                                    # open while the key sounds
        s = slice(int((t + 0.005) * SR), int((t + 0.1) * SR))
        g = gain_db_curve(y[0, s], x[0, s])[np.abs(x[0, s]) > 0.01]
        assert np.max(np.abs(g)) < 0.1, f"key at {t} s: gain off by {np.max(np.abs(g)):.3f} dB"
    closed = [slice(0, int(0.3 * SR))] + [               # closed before and between
        slice(int((t + 0.1 + ENV_FALL_S + 0.02 + 12 * 0.02) * SR), int((t + 0.5) * SR))
        for t in starts[:2]]
    for s in closed:
        att = rms_db(y[0, s]) - rms_db(x[0, s])
        assert att == pytest.approx(-80.0, abs=1.0), f"{s}: attenuation {att:.2f} dB"
    # control: without the key the same gate leaves the signal alone (it is loud enough)
    alone = insert(ProjectHelper(project.folder / "alone"), "gate", x, **GATE)
    steady = slice(int(0.01 * SR), x.shape[1])
    assert np.max(np.abs(alone[0, steady] - x[0, steady])) < 1e-6


# =============================================================== saturation
def _spectrum_db(y: np.ndarray, sr: int, n: int = 32768, start: int = 8000):
    """Amplitude spectrum (dBFS of a sinusoid) of a steady segment, Blackman window."""
    w = np.blackman(n)
    mag = np.abs(np.fft.rfft(y[start:start + n] * w)) * 2 / np.sum(w)
    return np.fft.rfftfreq(n, 1 / sr), 20 * np.log10(np.maximum(mag, 1e-30))


@pytest.mark.parametrize("sr", [48000, 44100])
def test_saturation_of_a_full_scale_5k_sine_driven_24_db_has_no_alias_above_minus_80_dbfs(
        tmp_path, sr):
    from conftest import ProjectHelper

    project = ProjectHelper(tmp_path)
    project.graph = Graph(sample_rate=sr, base_dir=tmp_path)
    x = sine(5000.0, 1.0, 0.0, sr=sr)
    assert np.max(np.abs(x)) == pytest.approx(1.0, abs=1e-4)
    y = insert(project, "saturation", x, block=1000, sr=sr, drive_db=24.0)
    f, s = _spectrum_db(y[0], sr)
    level = {h: float(s[np.abs(f - h) < 30].max()) for h in (5000, 15000)}
    assert level[5000] > -3.0 and level[15000] > -20.0, f"harmonics {level}"
    others = np.ones(f.size, bool)
    for h in (5000, 15000):
        others &= np.abs(f - h) > 100.0                  # the window's main lobe and skirt
    worst = int(np.argmax(np.where(others, s, -np.inf)))
    assert s[worst] < -80.0, f"component at {f[worst]:.0f} Hz is {s[worst]:.1f} dBFS"
    # the analysis itself is clean far below that: the input's own worst component
    f0, s0 = _spectrum_db(x[0], sr)
    assert np.max(np.where(np.abs(f0 - 5000) > 100.0, s0, -np.inf)) < -120.0


@pytest.mark.parametrize("sr", [48000, 44100])
def test_saturation_reports_91_samples_of_latency(tmp_path, sr):
    from mixgraph.core.schedule import make_plan
    from mixgraph.nodes.dynamics import Saturation

    node = Saturation(drive_db=24.0)
    node.prepare(Context(sample_rate=sr, max_block=1000, input_channels=(2,)))
    assert node.latency() == 91
    g = Graph(sample_rate=sr, base_dir=tmp_path)
    g.add("tone", id="t", duration_s=0.01)
    g.add("saturation", id="sat")
    g.add("output", id="out", path="o.wav")
    g.connect("t", "sat")
    g.connect("sat", "out")
    plan = make_plan(g, 1000)
    try:
        assert plan.latency["sat"] == 91
    finally:
        plan.close()


def test_saturation_with_mix_zero_is_the_input_sample_exactly_after_compensation(project):
    x = f32(seeded_noise(0.5, seed=2, level_db=-12.0))
    x[0, 5000] = 0.9
    y = insert(project, "saturation", x, block=1000, drive_db=24.0, mix=0.0)
    np.testing.assert_array_equal(y, f32(x))            # the output file is float32


def test_parallel_dry_and_inverted_mix_zero_saturation_null(project):
    x = f32(seeded_noise(0.5, seed=2, level_db=-6.0))
    project.stem("src", x)
    g = project.graph
    g.add("saturation", id="sat", drive_db=24.0, mix=0.0)
    g.add("gain", id="flip", polarity_invert=True)
    g.add("bus", id="sum")
    g.connect("src", "sat")
    g.connect("sat", "flip")
    g.connect("flip", "sum")
    g.connect("src", "sum")                              # the dry path: no latency
    project.output(src="sum")
    y = project.render_read(block_size=1000)
    assert y.shape == x.shape
    peak = np.max(np.abs(y))
    assert peak == 0.0 or db(peak) < -120.0


def test_saturated_path_is_aligned_with_its_input(project):
    """A quiet impulse (where tanh is nearly linear) comes out centred on its sample."""
    x = np.zeros((1, 24000))
    x[0, 10000] = 1e-3
    y = insert(project, "saturation", x, block=1000, drive_db=0.0)
    peak = int(np.argmax(np.abs(y[0])))
    assert peak == 10000
    k = np.arange(1, 60)                                 # linear phase: symmetric about it
    np.testing.assert_allclose(y[0, 10000 + k], y[0, 10000 - k], rtol=1e-4, atol=1e-12)


def test_saturation_drive_adds_harmonics_and_mix_blends_dry_and_wet(tmp_path):
    from conftest import ProjectHelper

    x = f32(sine(1000.0, 0.6, -6.0))
    third = []
    for drive in (0.0, 6.0, 12.0, 24.0):
        y = insert(ProjectHelper(tmp_path / f"d{drive:g}"), "saturation", x, drive_db=drive)
        f, s = _spectrum_db(y[0], SR, n=16384)
        third.append(float(s[np.abs(f - 3000) < 20].max() - s[np.abs(f - 1000) < 20].max()))
    assert all(b > a + 3.0 for a, b in zip(third, third[1:])), f"H3/H1 dB: {third}"
    wet = y
    half = insert(ProjectHelper(tmp_path / "half"), "saturation", x, drive_db=24.0, mix=0.5)
    np.testing.assert_allclose(half, 0.5 * wet + 0.5 * x, rtol=0, atol=1e-6)


# ==================================================================== delay
ECHO = dict(time_ms=100.0, feedback=0.5, lowpass_hz=24000.0, mix=1.0)


def _echoes(y: np.ndarray, first: int, spacing: int, count: int) -> list[np.ndarray]:
    return [y[first + spacing * k - spacing // 2:first + spacing * k + spacing // 2]
            for k in range(1, count + 1)]


def test_delay_echoes_land_at_multiples_of_time_ms(project):
    y = insert(project, "delay", impulse(1000 / SR, 1.0), **ECHO)
    for k, echo in enumerate(_echoes(y[0], 1000, 4800, 3), start=1):
        offset = int(np.argmax(np.abs(echo))) - 2400
        assert abs(offset) <= 1, f"echo {k} is {offset} samples off sample {1000 + 4800 * k}"
    assert np.max(np.abs(y[0, :1000 + 4800 - 2400])) == 0.0    # wet only: nothing before


def test_delay_repeats_fall_by_feedback_each_time(project):
    y = insert(project, "delay", impulse(1000 / SR, 1.0), **ECHO)
    echoes = _echoes(y[0], 1000, 4800, 4)
    energy = [10 * math.log10(np.sum(e ** 2)) for e in echoes]
    area = [float(np.sum(e)) for e in echoes]           # the loop lowpass has unity DC gain
    step = 20 * math.log10(ECHO["feedback"])
    for k in range(1, 4):
        assert energy[k] - energy[k - 1] == pytest.approx(step, abs=0.5), f"energies {energy}"
        assert area[k] / area[k - 1] == pytest.approx(ECHO["feedback"], rel=1e-4)
    assert area[0] == pytest.approx(1.0, rel=1e-4)      # the first repeat is the input's


def test_delay_lowpass_in_the_loop_makes_each_repeat_darker(tmp_path):
    from conftest import ProjectHelper

    def hf_share(lowpass):
        y = insert(ProjectHelper(tmp_path / str(lowpass)), "delay", impulse(1000 / SR, 1.0),
                   **{**ECHO, "lowpass_hz": lowpass})
        out = []
        for k in range(1, 4):
            e = y[0, 1000 + 4800 * k - 100:1000 + 4800 * k + 4700]
            p = np.abs(np.fft.rfft(e)) ** 2
            f = np.fft.rfftfreq(e.size, 1 / SR)
            out.append(10 * math.log10(p[f > 2000].sum() / p.sum()))
        return out

    dark = hf_share(1000.0)
    assert all(b < a - 3.0 for a, b in zip(dark, dark[1:])), f"HF share per repeat {dark}"
    open_ = hf_share(24000.0)
    assert max(open_) - min(open_) < 1.0, f"HF share per repeat, open loop {open_}"


def test_delay_with_mix_zero_is_the_dry_signal_exactly(project):
    x = f32(seeded_noise(0.5, seed=8, level_db=-6.0))
    y = insert(project, "delay", x, **{**ECHO, "mix": 0.0})
    np.testing.assert_array_equal(y, x)


def test_delay_tail_runs_past_the_stem_until_the_echoes_fall_below_minus_90_dbfs(tmp_path):
    from conftest import ProjectHelper
    from mixgraph.nodes.space import Delay

    short = impulse(0.09, 0.1)                          # the click at the stem's very end
    y = insert(ProjectHelper(tmp_path / "short"), "delay", short, **ECHO)
    # reference: the same click with silence after it, so nothing is cut by the engine
    ref = insert(ProjectHelper(tmp_path / "long"), "delay", impulse(0.09, 3.0), **ECHO)
    declared = Delay(**ECHO).tail()
    assert y.shape[1] > short.shape[1]
    assert db(np.max(np.abs(y[:, -1]))) >= -90.0        # it ends on a sample above -90 dBFS
    assert y.shape[1] == last_loud(ref) + 1              # ... the last one of the echo train
    assert y.shape[1] < short.shape[1] + declared * SR
    np.testing.assert_array_equal(y, ref[:, :y.shape[1]])


def test_delay_time_automation_glides_without_clicks(project):
    x = f32(faded(sine(200.0, 2.5, -6.0)))
    y = insert(project, "delay", x, time_ms={"automation": [[0.25, 100.0], [2.25, 300.0]]},
               feedback=0.5, mix=1.0)
    assert hf_peak_db(x) < -120.0
    level = hf_peak_db(y)
    assert level < -60.0, f"content above 10 kHz peaks at {level:.1f} dBFS"


def test_delay_time_jump_without_glide_clicks_so_the_measure_can_tell(project):
    """Positive control: a jump to a delay that is not a whole number of periods."""
    x = f32(faded(sine(200.0, 2.5, -6.0)))
    jump = {"automation": [[1.0, 100.0], [1.0, 301.25]], "curve": "step"}
    y = insert(project, "delay", x, time_ms=jump, feedback=0.5, mix=1.0, glide_ms=0.0)
    assert hf_peak_db(y) > -60.0


# ========================================================= reverb: network
def _impulse_response(project, seconds: float, **params) -> np.ndarray:
    """The reverb's response to a unit click at 0, with room after it for the whole IR."""
    return insert(project, "reverb", impulse(0.0, seconds), **params)


@pytest.mark.parametrize("decay", [0.5, 1.8, 4.0])
def test_reverb_rt60_matches_decay_s_within_10_percent(project, decay):
    ir = _impulse_response(project, 2 * decay, decay_s=decay, damping=0.0)
    assert ir.shape[0] == 2
    for c in (0, 1):
        measured = rt60(ir[c])
        assert measured == pytest.approx(decay, rel=0.10), \
            f"channel {c}: RT60 {measured:.3f} s for decay_s {decay} ({measured / decay - 1:+.1%})"


def test_reverb_damping_shortens_the_highs_but_not_the_125_250_hz_octave(tmp_path):
    from conftest import ProjectHelper

    decay = 1.8
    damped = _impulse_response(ProjectHelper(tmp_path / "d"), 2 * decay, decay_s=decay,
                               damping=0.5)
    flat = _impulse_response(ProjectHelper(tmp_path / "f"), 2 * decay, decay_s=decay,
                             damping=0.0)
    for c in (0, 1):
        low = rt60(octave(damped[c], 125, 250))
        high = rt60(octave(damped[c], 4000, 8000))
        high_flat = rt60(octave(flat[c], 4000, 8000))
        assert low == pytest.approx(decay, rel=0.10), f"channel {c}: low-band RT60 {low:.3f} s"
        assert high < 0.93 * decay, f"channel {c}: 4-8 kHz RT60 {high:.3f} s"
        assert high < 0.95 * high_flat, f"channel {c}: {high:.3f} s damped, {high_flat:.3f} flat"


def test_reverb_low_band_rt60_tracks_decay_s_even_at_full_damping(project):
    ir = _impulse_response(project, 2.0, decay_s=1.0, damping=1.0)
    for c in (0, 1):
        low = rt60(octave(ir[c], 125, 250))
        assert low == pytest.approx(1.0, rel=0.10), f"channel {c}: low-band RT60 {low:.3f} s"


def test_reverb_left_and_right_are_decorrelated(project):
    ir = _impulse_response(project, 1.0, decay_s=1.8)
    corr = float(np.corrcoef(ir[0], ir[1])[0, 1])
    assert abs(corr) < 0.2, f"L/R correlation {corr:.3f}"
    assert np.max(np.abs(ir[0] - ir[1])) > 1e-3


def test_reverb_predelay_shifts_the_response_by_exactly_predelay_ms(tmp_path):
    from conftest import ProjectHelper

    pre = _impulse_response(ProjectHelper(tmp_path / "p"), 0.05, decay_s=0.5, predelay_ms=50.0)
    none = _impulse_response(ProjectHelper(tmp_path / "n"), 0.05, decay_s=0.5)
    first = int(np.flatnonzero(np.abs(pre).max(axis=0) > 0)[0])
    assert first >= 2400
    assert first - int(np.flatnonzero(np.abs(none).max(axis=0) > 0)[0]) == 2400
    np.testing.assert_array_equal(pre[:, 2400:2400 + none.shape[1]], none)


def test_reverb_of_a_mono_input_is_stereo(project):
    x = f32(seeded_noise(0.3, seed=5, level_db=-12.0))
    y = insert(project, "reverb", x, decay_s=0.5)
    assert y.shape[0] == 2
    assert rms_db(y[0]) > -60.0 and rms_db(y[1]) > -60.0


@pytest.mark.parametrize("decay", [0.5, 1.8])
def test_reverb_tail_is_rendered_until_it_falls_below_minus_90_dbfs(tmp_path, decay):
    from conftest import ProjectHelper
    from mixgraph.nodes.space import Reverb

    stem_s = 0.05
    y = insert(ProjectHelper(tmp_path / "short"), "reverb", impulse(0.0, stem_s),
               decay_s=decay)
    ref = insert(ProjectHelper(tmp_path / "long"), "reverb", impulse(0.0, 3 * decay),
                 decay_s=decay)
    declared = Reverb(decay_s=decay).tail()
    assert declared >= 1.5 * decay
    assert y.shape[1] == last_loud(ref) + 1, "the tail stops before the IR is below -90 dBFS"
    assert y.shape[1] < (stem_s + declared) * SR
    assert y.shape[1] > 0.5 * decay * SR                 # a unit click rings a while
    np.testing.assert_array_equal(y, ref[:, :y.shape[1]])


def test_reverb_with_mix_zero_is_the_dry_signal_on_both_channels(project):
    x = f32(seeded_noise(0.3, seed=6, level_db=-6.0))
    y = insert(project, "reverb", x, decay_s=1.8, mix=0.0)
    assert y.shape == (2, x.shape[1])
    np.testing.assert_array_equal(y[0], x[0])
    np.testing.assert_array_equal(y[1], x[0])


# ===================================================== reverb: convolution
def write_ir(path, seconds: float = 3.0, channels: int = 2, sr: int = SR, seed: int = 11,
             db_per_s: float = 30.0) -> np.ndarray:
    """Exponentially decaying seeded noise as a FLOAT wav; returns what the file holds."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    env = 10 ** (-db_per_s * np.arange(n) / sr / 20)
    ir = f32(0.1 * rng.standard_normal((channels, n)) * env)
    sf.write(str(path), ir.T, sr, subtype="FLOAT")
    return ir


def _convolved(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    out_ch = max(x.shape[0], ir.shape[0])
    return np.stack([fftconvolve(x[min(c, x.shape[0] - 1)], ir[min(c, ir.shape[0] - 1)])
                     for c in range(out_ch)])


def _float32_exact(y: np.ndarray, ref: np.ndarray) -> float:
    """Largest error of y against ref in float32 steps (0 or 1: the file's rounding)."""
    r32 = ref.astype(np.float32)
    return float(np.max(np.abs(y - r32.astype(np.float64)) / np.spacing(np.abs(r32))))


def test_convolution_reverb_equals_fftconvolve_through_the_graph_sample_aligned(project):
    ir = write_ir(project.folder / "hall.wav")
    x = f32(seeded_noise(0.5, seed=4, level_db=-20.0))
    y = insert(project, "reverb", x, block=1000, mode="convolution", ir_path="hall.wav")
    ref = _convolved(x, ir)
    assert y.shape[0] == 2
    assert y.shape[1] == last_loud(ref) + 1               # tail: to where it is below -90
    ulps = _float32_exact(y, ref[:, :y.shape[1]])
    assert ulps <= 1.0, f"output differs from fftconvolve by {ulps:g} float32 steps"


def test_convolution_reverb_node_equals_fftconvolve_within_1e_9(tmp_path):
    from mixgraph.nodes.space import Reverb

    ir = write_ir(tmp_path / "hall.wav")
    x = seeded_noise(0.5, channels=2, seed=4, level_db=-20.0)
    node = Reverb(mode="convolution", ir_path="hall.wav")
    block = 1000
    assert node.prepare(Context(sample_rate=SR, max_block=block, input_channels=(2,),
                                base_dir=tmp_path, node_id="verb")) == (2,)
    latency = node.latency()
    n = x.shape[1] + latency + SR                       # the input, the latency, 1 s of tail
    xx = np.zeros((2, n))
    xx[:, :x.shape[1]] = x
    y = np.zeros((2, n))
    for start in range(0, n, block):
        f = min(block, n - start)
        out = np.zeros((2, f))
        node.process((xx[:, start:start + f],), (out,), start)
        y[:, start:start + f] = out
    ref = _convolved(x, ir)
    assert np.max(np.abs(y[:, :latency])) == 0.0
    err = np.max(np.abs(y[:, latency:] - ref[:, :n - latency]))
    assert err < 1e-9, f"max error {err:.3g} (signal peak {np.max(np.abs(ref)):.3g})"


def test_convolution_latency_is_one_partition_not_the_length_of_the_ir(tmp_path):
    from mixgraph.nodes.space import Reverb

    ir = write_ir(tmp_path / "hall.wav", seconds=3.0)
    node = Reverb(mode="convolution", ir_path="hall.wav")
    node.prepare(Context(sample_rate=SR, max_block=64, input_channels=(1,),
                         base_dir=tmp_path, node_id="verb"))
    assert node.latency() == 1024
    assert node.latency() < ir.shape[1] / 100
    assert node.tail() == pytest.approx(3.0, abs=1e-3)


def test_mono_ir_convolves_each_channel_of_a_stereo_input(project):
    ir = write_ir(project.folder / "mono.wav", seconds=0.5, channels=1)
    x = f32(seeded_noise(0.3, channels=2, seed=12, level_db=-12.0))
    y = insert(project, "reverb", x, mode="convolution", ir_path="mono.wav")
    ref = _convolved(x, ir)
    assert ref.shape[0] == 2 and y.shape[0] == 2
    ulps = _float32_exact(y, ref[:, :y.shape[1]])
    assert ulps <= 1.0, f"differs from per-channel fftconvolve by {ulps:g} float32 steps"


def test_ir_at_44k1_in_a_48k_project_is_resampled_with_a_notice(project):
    rng = np.random.default_rng(2)
    ir = 0.2 * rng.standard_normal((1, 44100))           # one second at 44.1 kHz
    ir[0, -2205:] *= np.linspace(1.0, 0.0, 2205)
    sf.write(str(project.folder / "ir44.wav"), ir.T, 44100, subtype="FLOAT")
    project.stem("src", impulse(0.1, 0.2))
    project.graph.add("reverb", id="verb", mode="convolution", ir_path="ir44.wav")
    project.graph.connect("src", "verb")
    project.output(src="verb")
    report = project.render()
    notes = [m for m in report.notices if "verb" in m and "ir44.wav" in m]
    assert notes and "44100" in notes[0] and "resampled" in notes[0], report.notices
    y = project.read()
    ring_s = (last_loud(y) - int(0.1 * SR)) / SR          # one second, not 44100 samples
    assert ring_s == pytest.approx(1.0, abs=0.01)


def test_missing_ir_file_is_a_validation_error_naming_the_node_and_the_path(project):
    project.stem("src", impulse(0.0, 0.1))
    project.graph.add("reverb", id="verb", mode="convolution", ir_path="irs/missing.wav")
    project.graph.connect("src", "verb")
    project.output(src="verb")
    with pytest.raises(ValidationError) as info:
        project.render()
    assert "'verb'" in str(info.value) and "missing.wav" in str(info.value)
    problem = info.value.problems[0]
    assert problem.node == "verb" and problem.path.endswith("missing.wav")
    assert not (project.folder / "out").exists() or not any((project.folder / "out").iterdir())


def test_convolution_mode_without_an_ir_path_is_refused(tmp_path):
    g = Graph(base_dir=tmp_path)
    with pytest.raises(ParameterError, match="verb.*ir_path"):
        g.add("reverb", id="verb", mode="convolution")
    doc = {"format": "mixgraph", "version": 1, "sample_rate": SR,
           "nodes": [{"id": "t", "type": "tone", "params": {"duration_s": 0.1}},
                     {"id": "verb", "type": "reverb", "params": {"mode": "convolution"}},
                     {"id": "out", "type": "output", "params": {"path": "o.wav"}}],
           "links": [["t", "verb"], ["verb", "out"]]}
    import json

    (tmp_path / "p.json").write_text(json.dumps(doc))
    problems = validate(load(tmp_path / "p.json")).errors
    assert any("verb" in p.message and "ir_path" in p.message for p in problems), problems


# ================================== automation behind a node's own latency
# A step in a parameter applied after the node's processing (mix, output level) at
# song time t must give the render held at the first value before t and the render
# held at the second value from t on, sample for sample, after the engine's latency
# compensation ("automation is sample-accurate").  A node with latency must read such
# automation ``latency`` samples back, since its output lags the ``start`` it is given.
STEP_AT = 24000                                           # 0.5 s


def _splice_case(tmp_path, node_type, static, param, before, after):
    from conftest import ProjectHelper

    if static.get("mode") == "convolution":
        for name in ("step", "a", "b"):
            (tmp_path / name).mkdir(parents=True, exist_ok=True)
            write_ir(tmp_path / name / "hall.wav", seconds=0.3)
    x = f32(seeded_noise(1.0, seed=21, level_db=-12.0))
    step = {"automation": [[STEP_AT / SR, before], [STEP_AT / SR, after]], "curve": "step"}
    y = insert(ProjectHelper(tmp_path / "step"), node_type, x, block=1000,
               **{**static, param: step})
    a = insert(ProjectHelper(tmp_path / "a"), node_type, x, block=1000,
               **{**static, param: before})
    b = insert(ProjectHelper(tmp_path / "b"), node_type, x, block=1000,
               **{**static, param: after})
    n = x.shape[1]
    want = np.concatenate((a[:, :STEP_AT], b[:, STEP_AT:n]), axis=1)
    bad = np.flatnonzero(np.abs(y[:, :n] - want).max(axis=0) > 1e-6)
    return bad


@pytest.mark.parametrize("node_type, static, param, before, after", [
    pytest.param("delay", {"time_ms": 100.0, "feedback": 0.5}, "mix", 1.0, 0.0,
                 id="delay-mix-control"),          # no latency: the method is right
    pytest.param("saturation", {"drive_db": 12.0}, "mix", 1.0, 0.0, id="saturation-mix"),
    pytest.param("saturation", {"drive_db": 12.0}, "output_db", 0.0, -36.0,
                 id="saturation-output_db"),
    pytest.param("reverb", {"mode": "convolution", "ir_path": "hall.wav"}, "mix", 0.0, 1.0,
                 id="convolution-reverb-mix"),
])
def test_a_step_in_an_output_stage_parameter_lands_on_its_sample(
        tmp_path, node_type, static, param, before, after):
    bad = _splice_case(tmp_path, node_type, static, param, before, after)
    assert bad.size == 0, (f"{bad.size} samples differ from the spliced renders, "
                           f"{bad[0] - STEP_AT:+d} to {bad[-1] - STEP_AT:+d} around the step")


def test_a_drive_step_is_centred_on_its_sample(project):
    x = np.full((1, SR), 0.01)                            # low level: tanh nearly linear
    step = {"automation": [[STEP_AT / SR, 0.0], [STEP_AT / SR, 24.0]], "curve": "step"}
    y = insert(project, "saturation", x, block=1000, drive_db=step)[0]
    low, high = y[STEP_AT - 1000], y[STEP_AT + 1000]
    assert high > 5 * low
    centre = int(np.flatnonzero(y > (low + high) / 2)[0])
    assert abs(centre - STEP_AT) <= 1, f"the drive step is centred at {centre - STEP_AT:+d}"


# ============================================================== stereo width
def _width(project, x, width):
    return insert(project, "stereo_width", x, width=width)


def test_width_zero_is_mono_both_sides_equal_the_mid_exactly(project):
    x = f32(seeded_noise(0.3, channels=2, seed=9, level_db=-10.0))
    y = _width(project, x, 0.0)
    mid = (x[0] + x[1]) / 2
    np.testing.assert_array_equal(y[0], y[1])
    np.testing.assert_array_equal(y[0], f32(mid))
    assert np.max(np.abs(y[0] - y[1])) == 0.0           # mono-compatible: no side at all


def test_width_one_is_the_identity(project):
    x = f32(seeded_noise(0.3, channels=2, seed=9, level_db=-10.0))
    np.testing.assert_array_equal(_width(project, x, 1.0), x)


def test_width_two_doubles_the_side_and_keeps_the_mid(project):
    x = f32(seeded_noise(0.3, channels=2, seed=9, level_db=-10.0))
    y = _width(project, x, 2.0)
    np.testing.assert_allclose((y[0] + y[1]) / 2, (x[0] + x[1]) / 2, rtol=0, atol=1e-7)
    np.testing.assert_allclose((y[0] - y[1]) / 2, x[0] - x[1], rtol=0, atol=1e-7)


@pytest.mark.parametrize("width", [0.0, 2.0])
def test_width_leaves_a_mono_input_unchanged(project, width):
    x = f32(seeded_noise(0.3, seed=9, level_db=-10.0))
    y = _width(project, x, width)
    assert y.shape == x.shape
    np.testing.assert_array_equal(y, x)
