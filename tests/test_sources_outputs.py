"""Sources (stem, tone, noise) and the output node: placement, levels, resampling,
block-size invariance, file formats, quantisation, clipping and the render report."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from conftest import SR, ProjectHelper, db, impulse, rms_db, seeded_noise, sine
from mixgraph import ParameterError

# ------------------------------------------------------------------ helpers


def _fft_peak_hz(x: np.ndarray, sr: int = SR) -> tuple[float, float]:
    """(frequency of the strongest FFT bin, bin width) of a 1-D signal (Hann window)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * sr / len(x)), sr / len(x)


def _zero_crossing_hz(x: np.ndarray, sr: int = SR) -> float:
    """Frequency from the interpolated times of the first and last rising zero crossings."""
    i = np.flatnonzero((x[:-1] < 0) & (x[1:] >= 0))
    t = i + (-x[i]) / (x[i + 1] - x[i])
    return float((len(t) - 1) / ((t[-1] - t[0]) / sr))


def _slope_db_per_octave(x: np.ndarray, lo: float = 100.0, hi: float = 10000.0) -> float:
    f, pxx = welch(x, fs=SR, nperseg=8192)
    band = (f >= lo) & (f <= hi)
    return float(np.polyfit(np.log2(f[band]), 10 * np.log10(pxx[band]), 1)[0])


def _stem_samples(project: ProjectHelper, name: str) -> np.ndarray:
    """A stem as the engine reads it (the FLOAT file, so float32-exact), (channels, n)."""
    data, _ = sf.read(str(project.folder / "stems" / f"{name}.wav"), dtype="float64",
                      always_2d=True)
    return data.T


# ================================================================== sources
# ---------------------------------------------------------------- stem offset
def test_stem_offset_delays_an_impulse_by_exactly_offset_samples(project):
    project.stem("hit", impulse(0.1, 0.5), regions=[{"at_s": 0.25}])
    project.output(src="hit")
    y = project.render_read()
    assert np.flatnonzero(y[0]).tolist() == [int(0.1 * SR) + int(0.25 * SR)]   # 4800+12000
    assert y[0, 16800] == 1.0
    assert y.shape == (1, int(0.75 * SR))                 # the song ends where the stem ends


def test_negative_stem_offset_skips_the_beginning_of_the_file(project):
    project.stem("hit", impulse(0.3, 1.0), regions=[{"from_s": 0.1}])
    project.output(src="hit")
    report = project.render()
    y = project.read()
    assert np.flatnonzero(y[0]).tolist() == [int(0.2 * SR)]
    assert y.shape == (1, int(0.9 * SR))                  # 1.0 s file less the skipped 0.1 s
    assert report.song_s == pytest.approx(0.9, abs=1e-12)


def test_song_length_is_the_end_of_the_last_source(project):
    g = project.graph
    project.stem("a", impulse(0.1, 0.5), regions=[{"at_s": 0.25}])   # ends at 0.75 s
    project.stem("b", impulse(0.3, 1.0), regions=[{"from_s": 0.1}])  # ends at 0.90 s
    g.add("bus", id="mix")
    g.connect("a", "mix")
    g.connect("b", "mix")
    project.output(src="mix")
    report = project.render()
    y = project.read()
    assert y.shape == (1, int(0.9 * SR))
    assert report.outputs[0]["frames"] == int(0.9 * SR)
    assert np.flatnonzero(y[0]).tolist() == [int(0.2 * SR), int(0.35 * SR)]
    # move the first stem later: now it is the last to end and sets the length
    g.set("a", "regions", [{"at_s": 0.6}])                    # ends at 1.1 s
    y = project.render_read()
    assert y.shape == (1, int(1.1 * SR))
    assert np.flatnonzero(y[0]).tolist() == [int(0.2 * SR), int(0.7 * SR)]


# ------------------------------------------------------------------ stem gain
def test_stem_gain_of_minus_6_02_db_halves_the_amplitude(project):
    x = sine(440, 0.5, -6.0)
    project.stem("s", x, gain_db=-6.02)
    project.output(src="s")
    y = project.render_read()
    ref = _stem_samples(project, "s")
    assert db(np.max(np.abs(y)) / np.max(np.abs(ref))) == pytest.approx(-6.02, abs=0.01)
    assert db(np.max(np.abs(y)) / np.max(np.abs(ref))) == pytest.approx(db(0.5), abs=0.01)
    np.testing.assert_allclose(y, ref * 10 ** (-6.02 / 20), rtol=0, atol=1e-7)


# ------------------------------------------------------- stem at another rate
def test_stem_at_another_rate_is_reported_in_the_notices(project):
    project.stem("guitar", sine(1000, 0.2, sr=44100), sr=44100)
    project.stem("bass", sine(100, 0.2))
    project.graph.add("bus", id="mix")
    project.graph.connect("guitar", "mix")
    project.graph.connect("bass", "mix")
    project.output(src="mix")
    report = project.render()
    about = [n for n in report.notices if "guitar" in n]
    assert len(about) == 1
    assert "44100" in about[0] and "48000" in about[0]
    assert not [n for n in report.notices if "bass" in n]    # a 48 kHz stem: nothing to say


def test_resampled_stem_keeps_an_impulse_at_its_time(project):
    project.stem("hit", impulse(1.0, 2.0, sr=44100), sr=44100)
    project.output(src="hit")
    y = project.render_read()
    assert int(np.argmax(np.abs(y[0]))) == 48000


def test_resampled_stem_keeps_its_offset_too(project):
    project.stem("hit", impulse(1.0, 2.0, sr=44100), sr=44100, regions=[{"at_s": 0.25}])
    project.output(src="hit")
    y = project.render_read()
    assert int(np.argmax(np.abs(y[0]))) == 48000 + 12000


def test_resampled_sine_keeps_level_and_frequency(project):
    x = sine(1000, 1.0, -6.0, sr=44100)
    project.stem("s", x, sr=44100)
    project.output(src="s")
    y = project.render_read()[0]
    assert y.shape == (48000,)
    middle = y[4800:-4800]                                   # away from the filter's edges
    assert rms_db(middle) == pytest.approx(rms_db(x[0, 4410:-4410]), abs=0.05)
    assert rms_db(middle) == pytest.approx(-6.0 - 10 * math.log10(2), abs=0.05)
    peak, width = _fft_peak_hz(y)
    assert abs(peak - 1000.0) <= width


@pytest.mark.parametrize("frames", [22057, 44100, 1234])
def test_resampled_stem_length_is_ceil_of_frames_times_rate_ratio(project, frames):
    project.stem("s", seeded_noise(frames / 44100, seed=2, sr=44100), sr=44100)
    assert sf.info(str(project.folder / "stems/s.wav")).frames == frames
    project.output(src="s")
    y = project.render_read()
    assert y.shape[1] == math.ceil(frames * 48000 / 44100)


# ------------------------------------------------------------------- channels
def test_stereo_stem_stays_stereo_through_a_bus(project):
    x = seeded_noise(0.3, channels=2, seed=11)
    project.stem("wide", x)
    project.graph.add("bus", id="mix")
    project.graph.connect("wide", "mix")
    project.output(src="mix")
    report = project.render()
    y = project.read()
    assert report.outputs[0]["channels"] == 2
    assert sf.info(report.outputs[0]["path"]).channels == 2
    np.testing.assert_array_equal(y, _stem_samples(project, "wide"))   # L and R kept apart


def test_mono_stem_stays_mono_through_a_bus_and_a_send(project):
    g = project.graph
    project.stem("voc", sine(300, 0.3))
    g.add("send", id="snd", level_db=-6.0)
    g.add("bus", id="mix")
    g.connect("voc", "snd")
    g.connect("snd", "mix")
    project.output(src="mix")
    report = project.render()
    y = project.read()
    assert report.outputs[0]["channels"] == 1
    assert sf.info(report.outputs[0]["path"]).channels == 1
    assert y.shape[0] == 1
    np.testing.assert_allclose(y, _stem_samples(project, "voc") * 10 ** (-6 / 20), atol=1e-7)


# ----------------------------------------------------------------------- tone
def test_tone_peak_and_rms_follow_level_dbfs(project):
    project.graph.add("tone", id="t", freq_hz=1000.0, level_dbfs=-12.0, duration_s=0.5)
    project.output(src="t")
    y = project.render_read()[0]
    assert db(np.max(np.abs(y))) == pytest.approx(-12.0, abs=0.01)
    assert rms_db(y) == pytest.approx(-15.01, abs=0.02)       # 500 whole cycles


@pytest.mark.parametrize("freq", [1000.0, 997.0, 5512.5])
def test_tone_frequency_is_right(project, freq):
    project.graph.add("tone", id="t", freq_hz=freq, level_dbfs=-6.0, duration_s=1.0)
    project.output(src="t")
    y = project.render_read()[0]
    assert _zero_crossing_hz(y) == pytest.approx(freq, abs=0.01)
    peak, width = _fft_peak_hz(y)
    assert abs(peak - freq) <= width


def test_tone_duration_and_offset_place_it_exactly(project):
    amp = 10 ** (-6 / 20)
    project.graph.add("tone", id="t", freq_hz=1000.0, level_dbfs=-6.0, duration_s=0.5,
                      offset_s=0.1)
    project.output(src="t")
    y = project.render_read()[0]
    first, n = int(0.1 * SR), int(0.5 * SR)
    assert y.shape == (first + n,)                           # the song ends with the tone
    assert not np.any(y[:first])
    nz = np.flatnonzero(y)
    assert nz[0] == first + 1          # a sine starts at phase 0: sample `first` is sin(0)
    assert nz[-1] == first + n - 1
    k = np.arange(n)
    np.testing.assert_allclose(y[first:], amp * np.sin(2 * np.pi * 1000.0 * k / SR),
                               rtol=0, atol=1e-7)


def test_tone_with_negative_offset_starts_mid_tone_in_phase(project):
    amp = 10 ** (-6 / 20)
    project.graph.add("tone", id="t", freq_hz=997.0, level_dbfs=-6.0, duration_s=0.5,
                      offset_s=-0.1)
    project.output(src="t")
    y = project.render_read()[0]
    assert y.shape == (int(0.4 * SR),)
    k = np.arange(int(0.1 * SR), int(0.5 * SR))
    np.testing.assert_allclose(y, amp * np.sin(2 * np.pi * 997.0 * k / SR), rtol=0, atol=1e-7)


# ---------------------------------------------------------------------- noise
def _noise(project, node_id="n", **params):
    params.setdefault("duration_s", 2.0)
    project.graph.add("noise", id=node_id, **params)
    project.output(node_id + "_out", src=node_id, path=f"out/{node_id}.wav")
    return node_id + "_out"


def test_white_noise_rms_is_level_dbfs(project):
    out = _noise(project, level_dbfs=-20.0, seed=5)
    project.render()
    y = project.read(out)
    assert y.shape == (1, 2 * SR)
    assert rms_db(y) == pytest.approx(-20.0, abs=0.1)


def test_white_noise_is_reproducible_per_seed_and_differs_between_seeds(project):
    a = _noise(project, "a", seed=7, duration_s=0.5)
    b = _noise(project, "b", seed=7, duration_s=0.5)
    c = _noise(project, "c", seed=8, duration_s=0.5)
    project.render()
    first = {k: project.read(k) for k in (a, b, c)}
    assert np.array_equal(first[a], first[b])
    assert not np.allclose(first[a], first[c])
    assert abs(np.corrcoef(first[a][0], first[c][0])[0, 1]) < 0.05
    project.render()
    assert np.array_equal(project.read(a), first[a])        # and again, the same


@pytest.mark.parametrize("color", ["white", "pink"])
def test_stereo_noise_channels_are_uncorrelated(project, color):
    out = _noise(project, color=color, channels=2, seed=3)
    project.render()
    y = project.read(out)
    assert y.shape == (2, 2 * SR)
    assert abs(np.corrcoef(y)[0, 1]) < 0.05


def test_pink_noise_rms_is_level_dbfs(project):
    out = _noise(project, color="pink", level_dbfs=-20.0, seed=5)
    project.render()
    assert rms_db(project.read(out)) == pytest.approx(-20.0, abs=0.3)


def test_pink_noise_falls_3_db_per_octave(project):
    out = _noise(project, color="pink", level_dbfs=-20.0, seed=5)
    project.render()
    assert _slope_db_per_octave(project.read(out)[0]) == pytest.approx(-3.0, abs=0.5)


def test_white_noise_spectrum_is_flat(project):
    out = _noise(project, color="white", level_dbfs=-20.0, seed=5)
    project.render()
    assert _slope_db_per_octave(project.read(out)[0]) == pytest.approx(0.0, abs=0.5)


# ------------------------------------------------------ block-size invariance
SOURCE_BLOCKS = [1, 64, 65, 1000, 8192, 8193]


@pytest.fixture(scope="module")
def source_renders(tmp_path_factory):
    """Every source kind (short) rendered at block 4096 and at each test block size."""
    project = ProjectHelper(tmp_path_factory.mktemp("sources"))
    g = project.graph
    project.stem("plain", seeded_noise(0.3, seed=2), regions=[{"at_s": 0.013}], gain_db=-3.0)
    project.stem("late", seeded_noise(0.3, channels=2, seed=3), regions=[{"from_s": 0.05}])
    project.stem("rs", seeded_noise(0.25, seed=4, sr=44100), sr=44100,
                 regions=[{"at_s": 0.021}])
    project.stem("rs_neg", seeded_noise(0.3, seed=5, sr=44100), sr=44100,
                 regions=[{"from_s": 0.04}])
    g.add("tone", id="tone", duration_s=0.2, offset_s=0.017, freq_hz=997.0, channels=2)
    g.add("noise", id="white", duration_s=0.25, offset_s=0.003, seed=7)
    g.add("noise", id="pink", color="pink", duration_s=0.3, seed=8, channels=2)
    names = ("plain", "late", "rs", "rs_neg", "tone", "white", "pink")
    for name in names:
        project.output(f"o_{name}", src=name, path=f"out/{name}.wav")
    out = {}
    for block in [4096, *SOURCE_BLOCKS]:
        project.render(block)
        out[block] = {name: project.read(f"o_{name}") for name in names}
    return out


@pytest.mark.parametrize("block", SOURCE_BLOCKS)
def test_sources_give_identical_samples_at_every_block_size(source_renders, block):
    reference = source_renders[4096]
    assert reference["plain"].shape == (1, int(round(0.313 * SR)))
    for name, x in reference.items():
        assert np.max(np.abs(x)) > 0.01, name
        assert np.array_equal(source_renders[block][name], x), name


def test_noise_is_block_size_invariant_across_its_internal_chunks(project):
    """Longer than one 65536-sample chunk of the noise generator, with an offset."""
    out = _noise(project, color="pink", channels=2, seed=4, duration_s=3.0, offset_s=0.01)
    project.render(4096)
    reference = project.read(out)
    assert reference.shape == (2, int(3.01 * SR))
    for block in (65, 8193, 65536):
        project.render(block)
        assert np.array_equal(project.read(out), reference), block


# ================================================================== outputs
FORMATS = [("wav", "wav", "WAV"), ("flac", "flac", "FLAC"), ("aiff", "aiff", "AIFF"),
           ("aif", "aiff", "AIFF")]
SUBTYPES = ["PCM_16", "PCM_24", "FLOAT"]
# FLAC has no FLOAT samples (validation refuses it, see test_errors)
FILE_KINDS = [(*f, s) for f in FORMATS for s in SUBTYPES if (f[1], s) != ("flac", "FLOAT")]


@pytest.fixture
def noisy(project):
    """A stereo stem of noise kept inside +-0.999 (so no clipping), with exact values."""
    x = np.clip(seeded_noise(0.25, channels=2, seed=4, level_db=-6.0), -0.999, 0.999)
    project.stem("n", x)
    return project, _stem_samples(project, "n")


@pytest.mark.parametrize("ext, fmt, sf_format, subtype", FILE_KINDS)
def test_output_writes_format_subtype_and_channels(noisy, ext, fmt, sf_format, subtype):
    project, x = noisy
    project.output(src="n", path=f"out/take.{ext}", subtype=subtype)
    report = project.render()
    path = project.folder / "out" / f"take.{ext}"
    i = sf.info(str(path))
    assert (i.format, i.subtype, i.channels, i.samplerate) == (sf_format, subtype, 2, SR)
    assert i.frames == x.shape[1]
    out = report.outputs[0]
    assert (out["format"], out["subtype"], out["channels"]) == (fmt, subtype, 2)
    y = project.read()
    err = np.abs(y - x)
    if subtype == "PCM_16":
        assert err.max() <= 1 / 32768 + 1e-12
        assert err.max() > 0.25 / 32768                  # really 16-bit, not finer
        assert np.array_equal(y * 32768, np.round(y * 32768))
    elif subtype == "PCM_24":
        assert err.max() <= 2 ** -23 + 1e-12
        assert err.max() > 0.25 * 2 ** -23
        assert np.array_equal(y * 2 ** 23, np.round(y * 2 ** 23))
    else:
        assert np.all(err <= 1.2e-7 * np.abs(x))


def test_format_is_inferred_from_the_extension_case_insensitively(noisy):
    project, _ = noisy
    project.output("a", src="n", path="out/a.FLAC", subtype="PCM_16")
    project.output("b", src="n", path="out/b.Aiff", subtype="PCM_24")
    project.output("c", src="n", path="out/c.wave", subtype="PCM_24")
    report = project.render()
    assert [o["format"] for o in report.outputs] == ["flac", "aiff", "wav"]
    assert [sf.info(o["path"]).format for o in report.outputs] == ["FLAC", "AIFF", "WAV"]


def test_explicit_format_is_honoured_for_a_name_without_extension(noisy):
    project, x = noisy
    project.graph.add("output", id="out", format="flac", path="out/take", subtype="PCM_24")
    project.graph.connect("n", "out")
    report = project.render()
    path = project.folder / "out" / "take"
    assert sf.info(str(path)).format == "FLAC"
    assert report.outputs[0]["format"] == "flac"
    assert np.abs(project.read() - x).max() <= 2 ** -23 + 1e-12


def test_explicit_format_that_agrees_with_the_extension_is_accepted(noisy):
    project, _ = noisy
    project.output(src="n", path="out/take.aif", format="aiff", subtype="PCM_16")
    report = project.render()
    assert sf.info(report.outputs[0]["path"]).format == "AIFF"


def test_explicit_format_that_contradicts_the_extension_is_refused(noisy):
    project, _ = noisy
    with pytest.raises(ParameterError, match="format 'flac' does not match the extension"):
        project.output(src="n", path="out/take.wav", format="flac")


def test_add_output_with_path_before_format_is_accepted(noisy):
    project, _ = noisy
    project.graph.add("output", id="out", path="out/take", format="flac", subtype="PCM_24")
    project.graph.connect("n", "out")
    project.render()
    assert sf.info(str(project.folder / "out" / "take")).format == "FLAC"


# ---------------------------------------------------------- output resampling
def test_output_sample_rate_converts_rate_length_and_keeps_level(project):
    n = SR + 7
    x = sine(1000, n / SR, -6.0)
    assert x.shape[1] == n
    project.stem("s", x)
    project.output(src="s", sample_rate=44100)
    report = project.render()
    out = report.outputs[0]
    i = sf.info(out["path"])
    assert i.samplerate == 44100 and out["sample_rate"] == 44100
    assert abs(i.frames - round(n * 44100 / 48000)) <= 1
    assert out["frames"] == i.frames
    assert out["duration_s"] == pytest.approx(i.frames / 44100, abs=1e-12)
    y = project.read()[0]
    middle = y[4410:-4410]
    assert rms_db(middle) == pytest.approx(-6.0 - 10 * math.log10(2), abs=0.05)
    peak, width = _fft_peak_hz(middle, 44100)
    assert abs(peak - 1000.0) <= width


@pytest.mark.parametrize("ext", ["flac", "aiff"])
def test_output_sample_rate_works_for_flac_and_aiff(project, ext):
    n = 12345
    project.stem("s", seeded_noise(n / SR, seed=6))
    project.output(src="s", path=f"out/take.{ext}", subtype="PCM_24", sample_rate=44100)
    report = project.render()
    i = sf.info(report.outputs[0]["path"])
    assert i.samplerate == 44100
    assert abs(i.frames - round(n * 44100 / 48000)) <= 1


# ------------------------------------------------------------------- clipping
@pytest.fixture
def hot(project):
    """A 0.9-peak sine through a +6 dB gain node (peak 1.796, about +5.08 dBFS)."""
    project.stem("s", sine(1000, 0.5, db(0.9)))
    project.graph.add("gain", id="hot", gain_db=6.0)
    project.graph.connect("s", "hot")
    driven = _stem_samples(project, "s") * 10 ** (6 / 20)
    return project, driven


def test_clipping_into_pcm_24_is_counted_and_the_figures_describe_the_file(hot):
    project, driven = hot
    project.output(src="hot", subtype="PCM_24")
    report = project.render()
    out = report.outputs[0]
    expected = int(np.count_nonzero(np.abs(driven) > 1.0))
    assert expected > 1000
    assert out["clipped_samples"] == expected
    assert out["sample_peak_dbfs"] == pytest.approx(0.0, abs=1e-3)   # what the file holds
    y = project.read()
    assert np.max(np.abs(y)) <= 1.0                      # clipped in the file, not wrapped
    over = np.abs(driven[0]) > 1.0
    np.testing.assert_allclose(y[0, over], np.sign(driven[0, over]), atol=2 ** -22)


def test_full_scale_is_not_counted_as_clipping(project):
    x = impulse(0.1, 0.3)
    x[0, 9000] = -1.0
    project.stem("s", x)
    project.output(src="s", subtype="PCM_24")
    out = project.render().outputs[0]
    assert out["clipped_samples"] == 0
    assert out["sample_peak_dbfs"] == 0.0


def test_float_output_counts_no_clipping_and_keeps_values_over_full_scale(hot):
    project, driven = hot
    project.output(src="hot", subtype="FLOAT")
    report = project.render()
    out = report.outputs[0]
    assert out["clipped_samples"] == 0
    assert out["sample_peak_dbfs"] == pytest.approx(db(0.9 * 2), abs=0.05)
    y = project.read()
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(driven)), rel=1e-7)
    assert np.max(np.abs(y)) > 1.7
    np.testing.assert_allclose(y, driven, rtol=1.2e-7, atol=0)


# --------------------------------------------------------------------- report
def test_report_describes_the_written_file(project):
    project.stem("wide", seeded_noise(0.75, channels=2, seed=9, level_db=-20.0))
    project.output("master", src="wide", path="out/master.wav", subtype="PCM_24")
    report = project.render()
    out = report.output("master")
    assert out["path"] == str(project.folder / "out" / "master.wav")
    assert os.path.isfile(out["path"])
    assert out["frames"] == int(0.75 * SR) == sf.info(out["path"]).frames
    assert out["duration_s"] == pytest.approx(0.75, abs=1e-12)
    assert out["channels"] == 2
    assert out["sample_rate"] == SR == report.sample_rate
    assert out["clipped_samples"] == 0
    x = _stem_samples(project, "wide")
    assert out["sample_peak_dbfs"] == pytest.approx(db(np.max(np.abs(x))), abs=1e-6)


def test_report_to_dict_is_json_with_the_documented_keys(project):
    project.stem("s", sine(440, 0.3))
    project.output(src="s", subtype="PCM_16")
    report = project.render()
    doc = json.loads(json.dumps(report.to_dict()))
    (out,) = doc["outputs"]
    assert {"path", "duration_s", "sample_peak_dbfs"} <= set(out)
    assert out["path"] == report.outputs[0]["path"]
    assert out["duration_s"] == pytest.approx(0.3, abs=1e-12)
    assert out["sample_peak_dbfs"] == pytest.approx(-6.0, abs=0.01)


# ------------------------------------------------------------ temporary files
def test_only_the_final_files_remain_in_the_output_folder(project):
    project.stem("s", sine(440, 0.3))
    project.output("a", src="s", path="out/a.wav", subtype="PCM_24")
    project.output("b", src="s", path="out/b.flac", subtype="PCM_16")
    project.output("c", src="s", path="out/c.aiff", subtype="FLOAT", sample_rate=44100)
    project.render()
    assert sorted(os.listdir(project.folder / "out")) == ["a.wav", "b.flac", "c.aiff"]
    project.render()                                         # over the previous render
    assert sorted(os.listdir(project.folder / "out")) == ["a.wav", "b.flac", "c.aiff"]
    assert not [p for p in project.folder.rglob("*") if p.name.endswith(".partial")]


@pytest.mark.parametrize("fmt,subtype,channels", [
    ("WAV", "PCM_16", 2), ("WAV", "PCM_24", 2), ("WAV", "PCM_32", 2), ("WAV", "FLOAT", 2),
    ("WAV", "DOUBLE", 2), ("WAV", "PCM_24", 1), ("WAV", "PCM_16", 3), ("WAVEX", "PCM_24", 2),
    ("RF64", "PCM_16", 1), ("FLAC", "PCM_16", 2), ("FLAC", "PCM_24", 2), ("AIFF", "PCM_24", 2),
    ("WAV", "PCM_U8", 2)])
def test_reader_gives_exactly_what_libsndfile_gives_as_double(tmp_path, fmt, subtype,
                                                              channels):
    """WAV samples are read straight from the file, other files through libsndfile as
    integers scaled by a power of two here: either way the same numbers, bit for bit,
    as libsndfile's conversion, across chunk boundaries, after seeks and past the end."""
    from mixgraph.nodes.audiofile import READ_CHUNK, AudioReader

    rng = np.random.default_rng(3)
    x = np.clip(rng.standard_normal((READ_CHUNK * 2 + 123, channels)) * 0.5, -1.0, 1.0)
    x[:10] = [[1.0, -1.0, 0.5][:channels]] * 10       # full scale both ways
    path = tmp_path / f"a.{'wav' if fmt in ('WAVEX', 'RF64') else fmt.lower()}"
    sf.write(str(path), x, SR, subtype=subtype, format=fmt)
    expected, _ = sf.read(str(path), dtype="float64", always_2d=True)
    reader = AudioReader(path, SR)
    try:
        assert (reader._raw is not None) == (fmt in ("WAV", "WAVEX", "RF64")
                                             and subtype != "PCM_U8")
        got = np.empty((channels, x.shape[0]))
        for a in range(0, x.shape[0], 1000):
            reader.read_into(got[:, a:a + 1000])
        assert np.array_equal(got, expected.T)
        reader.seek(READ_CHUNK - 7)                   # back, then across the end
        tail = np.empty((channels, READ_CHUNK + 200))
        reader.read_into(tail)
        assert np.array_equal(tail[:, :READ_CHUNK + 130], expected[READ_CHUNK - 7:].T)
        assert not tail[:, READ_CHUNK + 130:].any()
    finally:
        reader.close()


def wav_with_chunks(path, frames: np.ndarray, extra: bytes, claimed_frames=None):
    """A 16-bit WAV written by hand: fmt, then ``extra`` chunks, then data (whose size
    may claim more frames than it holds, as a truncated file's does)."""
    ch = frames.shape[1]
    data = (frames * 32767).astype("<i2").tobytes()
    fmt_chunk = b"fmt " + (16).to_bytes(4, "little") + (1).to_bytes(2, "little") + \
        ch.to_bytes(2, "little") + SR.to_bytes(4, "little") + (SR * 2 * ch).to_bytes(4, "little") \
        + (2 * ch).to_bytes(2, "little") + (16).to_bytes(2, "little")
    size = 2 * ch * (claimed_frames or frames.shape[0])
    body = b"WAVE" + fmt_chunk + extra + b"data" + size.to_bytes(4, "little") + data
    path.write_bytes(b"RIFF" + (len(body)).to_bytes(4, "little") + body)


@pytest.mark.parametrize("case", ["odd chunk before data", "truncated data"])
def test_reader_finds_the_samples_past_other_chunks_and_in_short_files(tmp_path, case):
    from mixgraph.nodes.audiofile import AudioReader

    x = np.random.default_rng(5).uniform(-0.9, 0.9, (5000, 2))
    path = tmp_path / "a.wav"
    if case == "odd chunk before data":                # 3 bytes, padded to 4
        wav_with_chunks(path, x, b"LIST" + (3).to_bytes(4, "little") + b"abc\0")
    else:
        wav_with_chunks(path, x, b"", claimed_frames=8000)
    expected, _ = sf.read(str(path), dtype="float64", always_2d=True)
    reader = AudioReader(path, SR)
    try:
        assert reader._raw is not None
        got = np.empty((2, expected.shape[0] + 100))
        reader.read_into(got)
    finally:
        reader.close()
    assert np.array_equal(got[:, :expected.shape[0]], expected.T)
    assert not got[:, expected.shape[0]:].any()


def test_reader_takes_short_reads_as_they_come_and_keeps_one_file_open(tmp_path,
                                                                       monkeypatch):
    # a read may return fewer bytes than asked (network and FUSE file systems do):
    # the reader asks again rather than taking it for the end of the file
    import os as os_module

    import mixgraph.nodes.audiofile as audiofile

    x = np.random.default_rng(8).uniform(-0.9, 0.9, (40000, 2))
    path = tmp_path / "a.wav"
    sf.write(str(path), x, SR, subtype="PCM_24")
    real = os_module.preadv
    monkeypatch.setattr(os_module, "preadv",
                        lambda fd, bufs, at: real(fd, [bufs[0][:999]], at))
    fds = len(os_module.listdir("/proc/self/fd")) if os_module.path.isdir("/proc/self/fd") \
        else None
    reader = audiofile.AudioReader(path, SR)
    try:
        assert reader._raw is not None
        if fds is not None:                            # libsndfile's handle is closed
            assert len(os_module.listdir("/proc/self/fd")) == fds + 1
        got = np.empty((2, 40000))
        reader.read_into(got)
    finally:
        reader.close()
    assert np.array_equal(got, sf.read(str(path), dtype="float64", always_2d=True)[0].T)


@pytest.mark.parametrize("silent_start", [False, True])
def test_reader_falls_back_to_libsndfile_where_the_two_disagree(tmp_path, monkeypatch,
                                                                silent_start):
    # a data chunk found in the wrong place reads other numbers than libsndfile: the
    # reader notices on opening (at the end too, where the start is silence) and
    # reads through libsndfile instead
    import mixgraph.nodes.audiofile as audiofile

    x = np.random.default_rng(6).uniform(-0.9, 0.9, (30000 if silent_start else 3000, 1))
    if silent_start:
        x[:20000] = 0.0
    path = tmp_path / "a.wav"
    sf.write(str(path), x, SR, subtype="PCM_16")
    real = audiofile._wav_data
    monkeypatch.setattr(audiofile, "_wav_data", lambda p: (real(p)[0] + 2, real(p)[1]))
    reader = audiofile.AudioReader(path, SR)
    try:
        assert reader._raw is None
        got = np.empty((1, x.shape[0]))
        reader.read_into(got)
    finally:
        reader.close()
    assert np.array_equal(got, sf.read(str(path), dtype="float64", always_2d=True)[0].T)


def test_float_outputs_are_byte_for_byte_reproducible(project):
    """libsndfile's PEAK chunk records when a float file was written; it is left out,
    so the same render gives the same bytes a second later (and the same hash)."""
    import time

    project.stem("a", seeded_noise(0.5))
    project.output("x", src="a", subtype="FLOAT", path="out/x.wav")
    project.output("y", src="a", subtype="FLOAT", path="out/y.wav")
    project.render()
    first = (project.folder / "out" / "x.wav").read_bytes()
    time.sleep(1.1)
    project.render()
    again = (project.folder / "out" / "x.wav").read_bytes()
    assert b"PEAK" not in first
    assert first == again == (project.folder / "out" / "y.wav").read_bytes()
