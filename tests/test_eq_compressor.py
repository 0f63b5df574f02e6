"""EQ against closed-form RBJ / Butterworth responses; compressor against the soft-knee
formula, its time constants, link, mix, makeup and sidechain."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import signal

from conftest import (BLOCK_SIZES, SR, ProjectHelper, db, eq_reference_db, rbj, seeded_noise,
                      sine, soft_knee)
from mixgraph import ParameterError, validate
from mixgraph.nodes.base import Context
from mixgraph.nodes.eq import Eq

# --------------------------------------------------------------------- EQ
FREQS = np.unique(np.round(np.geomspace(20, 20000, 240)).astype(int))


def reference_db(bands, fs):
    return eq_reference_db(bands, fs, FREQS)


def measured_db(bands, fs):
    node = Eq(bands=bands)
    node.prepare(Context(sample_rate=fs, max_block=fs, input_channels=(1,)))
    x = np.zeros((1, fs))
    x[0, 0] = 1.0
    y = np.zeros_like(x)
    node.process((x,), (y,), 0)
    spectrum = np.fft.rfft(y[0])                      # 1 Hz bins: FREQS are exact bins
    return 20 * np.log10(np.abs(spectrum[FREQS]))


EQ_CASES = [
    [{"type": "bell", "freq_hz": 1000, "gain_db": 6, "q": 1.4}],
    [{"type": "bell", "freq_hz": 250, "gain_db": -9, "q": 0.5}],
    [{"type": "bell", "freq_hz": 12000, "gain_db": 4, "q": 4}],
    [{"type": "low_shelf", "freq_hz": 120, "gain_db": 5, "q": 0.7071}],
    [{"type": "high_shelf", "freq_hz": 8000, "gain_db": -6, "q": 0.9}],
    [{"type": "notch", "freq_hz": 60, "q": 8}],
    [{"type": "bandpass", "freq_hz": 2000, "q": 2}],
    [{"type": "highpass", "freq_hz": 80}],
    [{"type": "lowpass", "freq_hz": 5000}],
    [{"type": "highpass", "freq_hz": 30, "slope_db_oct": s} for s in (48,)],
    [{"type": "lowpass", "freq_hz": 10000, "slope_db_oct": 24}],
    [{"type": "highpass", "freq_hz": 200, "slope_db_oct": 36}],
    [{"type": "highpass", "freq_hz": 30, "slope_db_oct": 48},
     {"type": "bell", "freq_hz": 250, "gain_db": -3, "q": 1.0},
     {"type": "bell", "freq_hz": 3000, "gain_db": 2, "q": 0.8},
     {"type": "high_shelf", "freq_hz": 8000, "gain_db": 3, "q": 0.7071}],
]


@pytest.mark.parametrize("fs", [44100, 48000, 96000])
@pytest.mark.parametrize("bands", EQ_CASES, ids=lambda b: "+".join(
    f"{x['type']}{x.get('slope_db_oct', '')}@{x['freq_hz']}" for x in b))
def test_eq_matches_closed_form_response_within_0_05_db(bands, fs):
    want = reference_db(bands, fs)
    got = measured_db(bands, fs)
    audible = want > -60                          # dB differences near zeros mean nothing
    err = np.abs(got - want)[audible]
    worst = int(np.argmax(err))
    assert err.max() < 0.05, (f"{err.max():.4f} dB off at "
                              f"{FREQS[audible][worst]} Hz (want {want[audible][worst]:.2f} dB)")


def test_12_db_highpass_is_the_rbj_filter_with_q_of_one_over_root_two():
    band = [{"type": "highpass", "freq_hz": 100, "slope_db_oct": 12}]
    b, a = rbj("highpass", 100, 0.0, 1 / math.sqrt(2), SR)
    want = 20 * np.log10(np.abs(signal.freqz(b, a, worN=FREQS, fs=SR)[1]))
    assert np.max(np.abs(measured_db(band, SR) - want)) < 0.01


def test_fused_multiply_add_rounds_once():
    # (1 + e)^2 - (1 + 2e) = e^2 exactly, with e = 2^-30; a multiply rounded before
    # the add loses e^2 (2^-60) entirely
    import numba as nb

    from mixgraph.nodes.kernels.fused import fma

    fused = nb.njit(lambda a, b, c: fma(a, b, c))
    e = 2.0 ** -30
    assert fused(1.0 + e, 1.0 + e, -(1.0 + 2 * e)) == 2.0 ** -60
    assert (1.0 + e) * (1.0 + e) - (1.0 + 2 * e) == 0.0


def test_cascade_kernel_equals_scipy_sosfilt_across_cuts():
    # the biquad kernel (fused feedback, sections four at a time) against scipy's
    # independent direct form II transposed, on six sections cut at awkward places
    from mixgraph.nodes.eq import Cascade

    sos = np.vstack([signal.butter(4, 30, "high", fs=SR, output="sos"),
                     signal.butter(2, 3000, fs=SR, output="sos"),
                     signal.butter(6, 9000, "high", fs=SR, output="sos")])
    x = seeded_noise(0.2, 2)[:, :5000]
    want = signal.sosfilt(sos, x, axis=1)
    cascade = Cascade([(s[:3], s[3:]) for s in sos], 2)
    got = np.empty_like(x)
    cuts = [0, 1, 2, 1023, 4999, 5000]
    for a, b in zip(cuts, cuts[1:]):
        cascade.process(np.ascontiguousarray(x[:, a:b]), got[:, a:b])
    assert sos.shape[0] == 6
    assert db(np.abs(got - want).max()) < -250


def test_band_that_is_off_is_bypassed():
    assert np.max(np.abs(measured_db([{"type": "bell", "freq_hz": 1000, "gain_db": 12,
                                       "on": False}], SR))) < 1e-9


def test_eq_without_bands_passes_audio_through(project):
    x = seeded_noise(0.2)
    project.stem("src", x)
    project.graph.add("eq", id="eq")
    project.graph.connect("src", "eq")
    project.output(src="eq")
    np.testing.assert_array_equal(project.render_read(), x.astype(np.float32))


def test_eq_band_problems_name_band_field_and_range(project):
    g = project.graph
    with pytest.raises(ParameterError, match=r"band 0 gain_db must be between -30 and 30 dB"):
        g.add("eq", id="e1", bands=[{"type": "bell", "freq_hz": 1000, "gain_db": 40}])
    with pytest.raises(ParameterError, match=r"band 1 type must be one of bell"):
        g.add("eq", id="e2", bands=[{"type": "bell"}, {"type": "shelf"}])
    with pytest.raises(ParameterError, match=r"band 0 slope_db_oct must be one of 12, 24, 36, "
                                             r"48, got 18"):
        g.add("eq", id="e3", bands=[{"type": "highpass", "freq_hz": 40, "slope_db_oct": 18}])
    with pytest.raises(ParameterError, match=r"band 0 has no field 'frequency'"):
        g.add("eq", id="e4", bands=[{"type": "bell", "frequency": 1000}])
    with pytest.raises(ParameterError, match=r"band 0 freq_hz must be below half the sample "
                                             r"rate \(24000 Hz\), got 30000"):
        g.add("eq", id="e5", bands=[{"type": "lowpass", "freq_hz": 30000}])


def test_automated_eq_is_block_size_invariant(tmp_path):
    project = ProjectHelper(tmp_path)
    project.stem("src", seeded_noise(0.4, channels=2, seed=3))
    project.graph.add("eq", id="eq", bands=[
        {"type": "bell", "freq_hz": {"automation": [[0.0, 200.0], [0.4, 4000.0]],
                                     "curve": "exponential"},
         "gain_db": {"automation": [[0.0, -12.0], [0.3, 12.0]]}, "q": 1.0},
        {"type": "highpass", "freq_hz": 40, "slope_db_oct": 24}])
    project.graph.connect("src", "eq")
    project.output(src="eq")
    reference = project.render_read(block_size=4096)
    for block in BLOCK_SIZES:
        out = project.render_read(block_size=block)
        bad = np.flatnonzero(np.abs(out - reference).max(axis=0) > 1e-9)
        assert bad.size == 0, f"block {block}: mismatch in samples {bad[0]:,}-{bad[-1]:,}"


# -------------------------------------------------------------- compressor
def _compress(project, x, key=None, **params):
    g = project.graph
    project.stem("src", x)
    g.add("compressor", id="comp", **params)
    g.connect("src", "comp")
    if key is not None:
        project.stem("key", key)
        g.connect("key", "comp.sidechain")
    project.output(src="comp")
    return project.render_read()


@pytest.mark.parametrize("detector", ["peak", "rms"])
def test_static_curve_matches_the_soft_knee_formula(tmp_path, detector):
    t, r, w = -30.0, 4.0, 10.0
    errors = []
    for level in range(-60, 1, 3):
        project = ProjectHelper(tmp_path / f"{detector}{level}")
        x = sine(1000, 1.0, float(level))
        y = _compress(project, x, threshold_db=t, ratio=r, knee_db=w, attack_ms=1.0,
                      release_ms=500.0, detector=detector, rms_ms=20.0)
        steady = slice(SR // 2, SR)
        if detector == "peak":
            x_db, y_db = db(np.max(np.abs(x[0, steady]))), db(np.max(np.abs(y[0, steady])))
        else:
            x_db = 10 * math.log10(np.mean(x[0, steady] ** 2))
            y_db = 10 * math.log10(np.mean(y[0, steady] ** 2))
        errors.append((level, y_db - soft_knee(x_db, t, r, w)))
    worst = max(errors, key=lambda e: abs(e[1]))
    assert abs(worst[1]) < 0.25, f"{worst[1]:+.3f} dB off the curve at {worst[0]} dBFS"


def _gain_reduction_db(project, attack_ms, release_ms):
    """GR trajectory (dB) for a DC step from -40 dBFS to 0 dBFS at 0.2 s and back at 0.7 s."""
    level = np.full((1, int(1.4 * SR)), 0.01)
    level[0, int(0.2 * SR):int(0.7 * SR)] = 1.0
    y = _compress(project, level, threshold_db=-20.0, ratio=10.0, knee_db=0.0,
                  attack_ms=attack_ms, release_ms=release_ms)
    return -20 * np.log10(y[0] / level[0])


def test_attack_time_constant_within_10_percent(project):
    gr = _gain_reduction_db(project, attack_ms=10.0, release_ms=200.0)
    start = int(0.2 * SR)
    final = gr[int(0.69 * SR)]
    assert final == pytest.approx(18.0, abs=0.01)              # 20 dB over, ratio 10
    reached = np.argmax(gr[start:] >= (1 - math.exp(-1)) * final) / SR * 1000
    assert reached == pytest.approx(10.0, rel=0.10)


def test_release_time_constant_within_10_percent(project):
    gr = _gain_reduction_db(project, attack_ms=1.0, release_ms=150.0)
    stop = int(0.7 * SR)
    final = gr[stop - 1]
    reached = np.argmax(gr[stop:] <= math.exp(-1) * final) / SR * 1000
    assert reached == pytest.approx(150.0, rel=0.10)


TIME_CONSTANT_PAIRS = [(10.0, 50.0), (1.0, 150.0), (30.0, 100.0), (100.0, 50.0), (0.5, 2.0),
                       (5.0, 5.0), (500.0, 5000.0)]


def _step_times(gr: np.ndarray, up: int, down: int, skip: int = 0,
                settled: int = 1) -> tuple[float, float, float]:
    """(final reduction dB, read ``settled`` samples before the step down; ms to 63 % of
    it after the step up at ``up``; ms to 63 % of the way back after the step down at
    ``down``, read from ``skip`` samples after the step on, past a crossover's
    ringing)."""
    final = gr[down - settled]
    attack = np.argmax(gr[up:] >= (1 - math.exp(-1)) * final) / SR * 1000
    release = (skip + np.argmax(gr[down + skip:] <= math.exp(-1) * final)) / SR * 1000
    return float(final), float(attack), float(release)


@pytest.mark.parametrize("attack_ms, release_ms", TIME_CONSTANT_PAIRS)
def test_attack_and_release_each_hold_their_own_time_constant_within_5_percent(
        tmp_path, attack_ms, release_ms):
    """Issue 16: with attack 10 ms and release 50 ms the reduction took 61 ms to fall
    63 % of the way back (the release was followed by the attack's smoothing)."""
    n = int(0.3 * SR + 12 * (attack_ms + release_ms) * SR / 1000)
    up, down = int(0.1 * SR), int(0.15 * SR + 12 * attack_ms * SR / 1000)
    level = np.full((1, n), 0.01)                        # -40 dBFS, under the threshold
    level[0, up:down] = 1.0                              # 0 dBFS: 18 dB of reduction
    y = _compress(ProjectHelper(tmp_path), level, threshold_db=-20.0, ratio=10.0,
                  knee_db=0.0, attack_ms=attack_ms, release_ms=release_ms)
    final, attack, release = _step_times(-20 * np.log10(y[0] / level[0]), up, down)
    print(f"\n[attack {attack_ms} / release {release_ms} ms] {attack:.2f} ms up, "
          f"{release:.2f} ms down")
    assert final == pytest.approx(18.0, abs=0.01)
    assert attack == pytest.approx(attack_ms, rel=0.05)
    assert release == pytest.approx(release_ms, rel=0.05)


def _multiband(tmp_path, x, band):
    project = ProjectHelper(tmp_path)
    project.stem("src", x)
    project.graph.add("multiband_compressor", id="mb", crossovers_hz=[8000.0],
                      bands=[band, {"threshold_db": 0.0}])
    project.graph.connect("src", "mb")
    project.output(src="mb")
    return project.render_read(block_size=1000)


@pytest.mark.parametrize("attack_ms, release_ms",
                         [p for p in TIME_CONSTANT_PAIRS if p[0] >= 1.0 and p[1] >= 5.0])
def test_multiband_bands_hold_their_own_time_constants_within_5_percent(
        tmp_path, attack_ms, release_ms):
    """The same steps in the low band of a two-band split at 8 kHz.  The steps' edges
    are 10-sample raised cosines (a sharp one rings through the crossover and the
    peak detector holds the ringing), and the reduction is read against the split
    without compression (the bands sum to an allpass, not to the input)."""
    n = int(0.3 * SR + 12 * (attack_ms + release_ms) * SR / 1000)
    up, down = int(0.1 * SR), int(0.15 * SR + 12 * attack_ms * SR / 1000)
    edge = 10
    rise = 0.5 - 0.5 * np.cos(np.pi * (np.arange(edge) + 0.5) / edge)
    env = np.full(n, 0.01)
    env[up - edge // 2:up + edge // 2] = 0.01 + 0.99 * rise
    env[up + edge // 2:down - edge // 2] = 1.0
    env[down - edge // 2:down + edge // 2] = 0.01 + 0.99 * rise[::-1]
    x = env[None]
    y = _multiband(tmp_path / "c", x, {"threshold_db": -20.0, "ratio": 10.0, "knee_db": 0.0,
                                       "attack_ms": attack_ms, "release_ms": release_ms})
    flat = _multiband(tmp_path / "f", x, {"threshold_db": 0.0, "ratio": 1.0})
    final, attack, release = _step_times(20 * np.log10(np.abs(flat[0]) / np.abs(y[0])),
                                         up, down, skip=20, settled=edge)
    assert final == pytest.approx(18.0, abs=0.1)
    assert attack == pytest.approx(attack_ms, rel=0.05)
    assert release == pytest.approx(release_ms, rel=0.05)


@pytest.mark.parametrize("node", ["compressor", "multiband_compressor"])
def test_compressor_chunked_equals_whole_with_automated_times(tmp_path, node):
    x = seeded_noise(1.0, channels=2, seed=4, level_db=-6.0)
    x[:, SR // 3:SR // 2] *= 0.1
    times = {"attack_ms": {"automation": [[0.0, 0.5], [1.0, 40.0]]},
             "release_ms": {"automation": [[0.0, 300.0], [1.0, 5.0]]}}
    project = ProjectHelper(tmp_path)
    project.stem("src", x)
    if node == "compressor":
        project.graph.add(node, id="c", threshold_db=-24.0, ratio=4.0, **times)
    else:
        project.graph.add(node, id="c", crossovers_hz=[300.0, 3000.0],
                          bands=[dict(threshold_db=-30.0, **times), {}, {"release_ms": 20.0}])
    project.graph.connect("src", "c")
    project.output(src="c")
    whole = project.render_read(block_size=len(x[0]))
    for block in BLOCK_SIZES:
        out = project.render_read(block_size=block)
        bad = np.flatnonzero(out != whole)
        assert bad.size == 0, f"block {block}: mismatch in samples {bad[0]:,}-{bad[-1]:,}"


def test_below_threshold_only_makeup_applies(project):
    x = sine(440, 0.5, -30.0)
    y = _compress(project, x, threshold_db=-10.0, knee_db=4.0, makeup_db=3.5)
    assert db(np.max(np.abs(y)) / np.max(np.abs(x))) == pytest.approx(3.5, abs=0.01)


def test_mix_blends_dry_and_compressed_in_amplitude(tmp_path):
    x = np.full((1, SR // 2), 1.0)
    wet = _compress(ProjectHelper(tmp_path / "w"), x, threshold_db=-20.0, ratio=10.0,
                    knee_db=0.0, attack_ms=0.1)
    half = _compress(ProjectHelper(tmp_path / "h"), x, threshold_db=-20.0, ratio=10.0,
                     knee_db=0.0, attack_ms=0.1, mix=0.5)
    dry = _compress(ProjectHelper(tmp_path / "d"), x, threshold_db=-20.0, ratio=10.0,
                    knee_db=0.0, attack_ms=0.1, mix=0.0)
    np.testing.assert_allclose(dry, x, atol=1e-7)
    np.testing.assert_allclose(half[0, -100:], 0.5 * (1.0 + wet[0, -100:]), atol=1e-6)


@pytest.mark.parametrize("link, right_gr_db", [(1.0, 18.0), (0.0, 0.0)])
def test_stereo_link(project, link, right_gr_db):
    x = np.vstack([np.full(SR // 2, 1.0), np.full(SR // 2, 0.01)])     # loud left, quiet right
    y = _compress(project, x, threshold_db=-20.0, ratio=10.0, knee_db=0.0, attack_ms=0.1,
                  stereo_link=link)
    assert -db(y[1, -1] / 0.01) == pytest.approx(right_gr_db, abs=0.05)
    assert -db(y[0, -1]) == pytest.approx(18.0, abs=0.05)


def test_sidechain_key_ducks_another_signal(project):
    bass = sine(55, 2.0, -12.0)
    kick = np.zeros((1, 2 * SR))
    for beat in range(4):                                # 100 ms bursts every 0.5 s
        s = int(beat * 0.5 * SR)
        kick[0, s:s + int(0.1 * SR)] = 0.9
    y = _compress(project, bass, key=kick, threshold_db=-20.0, ratio=8.0, attack_ms=2.0,
                  release_ms=60.0)

    def level(a, b):
        return db(np.max(np.abs(y[0, int(a * SR):int(b * SR)])))
    ducked = level(1.02, 1.1)                            # inside a kick burst
    free = level(1.4, 1.5)                               # between bursts
    assert free == pytest.approx(-12.0, abs=0.2)         # the bass alone is below threshold
    assert ducked < free - 10.0


def test_gain_reduction_is_in_the_report(project):
    project.stem("src", sine(1000, 1.0, -6.0))
    project.graph.add("compressor", id="vox_comp", threshold_db=-24.0, ratio=4.0, knee_db=0.0)
    project.graph.connect("src", "vox_comp")
    project.output(src="vox_comp")
    report = project.render()
    kind, figures = report.nodes["vox_comp"]
    assert kind == "compressor"
    assert figures["gain_reduction_max_db"] == pytest.approx(13.5, abs=0.1)   # 18 over, 4:1
    assert 0 < figures["gain_reduction_mean_db"] <= 13.5
    assert re.search(r"compressor 'vox_comp': gain reduction max 13\.\d+ dB, gain reduction "
                     r"mean \d+\.\d+ dB", report.format())
    assert report.to_dict()["nodes"]["vox_comp"]["type"] == "compressor"


def test_compressor_validates_its_ranges(project):
    project.graph.add("compressor", id="c")
    for name, value in (("ratio", 0.5), ("attack_ms", 0.0), ("detector", "vca")):
        project.graph.nodes["c"].params[name] = value
    messages = " ".join(e.message for e in validate(project.graph).errors)
    assert "ratio must be between 1 and 100" in messages
    assert "attack_ms must be between 0.05 and 500 ms" in messages
    assert "detector must be one of peak, rms" in messages


def test_the_compressors_own_log2_and_exp2_agree_with_libm():
    """The detector's log2 and the gain's exp2 are plain arithmetic on the bits (so
    they vectorise); across the whole range a compressor meets they agree with numpy's
    to a few units in the last place: far below anything audible (1e-13 dB)."""
    import numba as nb

    from mixgraph.nodes.kernels.dynamics import _exp2_block, _log2_block

    @nb.njit
    def log2_of(x):
        out = np.empty(x.size)
        _log2_block(x, out, np.empty(x.size), x.size, 1.0)
        return out

    @nb.njit
    def exp2_of(y):
        out = np.empty(y.size)
        _exp2_block(y, out, np.empty(y.size), y.size)
        return out

    rng = np.random.default_rng(7)
    x = np.concatenate([10.0 ** rng.uniform(-20, 3, 200000), [1e-20, 1e-10, 0.5, 1.0, 2.0,
                                                               np.sqrt(2.0), 1.5, 1000.0]])
    assert np.max(np.abs(log2_of(x) - np.log2(x))) < 2e-14      # absolute, in octaves
    y = np.concatenate([rng.uniform(-60, 20, 200000), [-1022.0, -0.5, 0.0, 0.5, 1.0, 1023.0]])
    assert np.max(np.abs(exp2_of(y) / np.exp2(y) - 1.0)) < 1e-15
    assert exp2_of(np.array([0.0]))[0] == 1.0 and exp2_of(np.array([-3.0]))[0] == 0.125
