"""Album mastering: sample-exact crossfades and gaps, CUE sheets, loudness modes, true
peak, project songs, trims and fades, programme-mode mastering, and the CLI."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, firwin, oaconvolve, sosfilt

from mixgraph import Graph, render
from mixgraph.workflows.album import load_album, render_album
from mixgraph.workflows.demo import build_project, synthesise
from mixgraph.core.fileformat import save
from mixgraph.errors import MixgraphError, ProjectFileError
from mixgraph.nodes.meters import LoudnessMeter, meter_file

SR = 48000
CUE_FPS = 75
FLOAT_TOL = 1e-6                     # FLOAT files: float32 rounding of values <= 1
PCM24_TOL = 2.0 ** -23 * 1.01        # PCM_24 files: one step of the 24-bit grid


# ------------------------------------------------------------------ helpers
def mixgraph(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def write_audio(path: Path, x: np.ndarray, sr: int = SR, subtype: str = "FLOAT") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.atleast_2d(x).T, sr, subtype=subtype)


def read(path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return data.T


def write_album(folder: Path, songs: list[dict], sr: int = SR, **body) -> Path:
    doc = {"format": "mixgraph", "version": 1, "kind": "album", "sample_rate": sr,
           "album": dict({"songs": songs}, **body)}
    path = folder / "album.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def render_doc(folder: Path, songs: list[dict], sr: int = SR, out: str = "out", **body):
    report = render_album(load_album(write_album(folder, songs, sr, **body)), folder / out)
    return report


def cue_frame(sr: int) -> int:
    return sr // CUE_FPS


def padded(frames: int, sr: int) -> int:
    f = cue_frame(sr)
    return -(-frames // f) * f


def whole_frames(seconds: float, sr: int) -> int:
    return int(round(seconds * CUE_FPS)) * cue_frame(sr)


def fade_pair(n: int, curve: str):
    """The documented crossfade gains, written out here on their own."""
    k = np.arange(n)
    u = (k + 0.5) / n
    if curve == "equal_power":
        return np.cos(np.pi / 2 * u), np.sin(np.pi / 2 * u)
    if curve == "linear":
        return 1.0 - u, u
    s = 0.5 - 0.5 * np.cos(np.pi * u)
    return 1.0 - s, s


def fade_shape(u: np.ndarray, curve: str) -> np.ndarray:
    """The documented fade-in/out shapes (0 -> 1 as u goes 0 -> 1)."""
    u = np.clip(u, 0.0, 1.0)
    if curve == "linear":
        return u
    if curve == "exponential":
        return (1000.0 ** u - 1.0) / 999.0
    return 0.5 - 0.5 * np.cos(np.pi * u)


def lufs(x: np.ndarray, sr: int = SR) -> float:
    m = LoudnessMeter(sr, x.shape[0])
    m.add(x)
    return m.result()["integrated_lufs"]


def true_peak_16x_dbtp(x: np.ndarray) -> float:
    """An independent true-peak reading: zero-stuff by 16, then a long (2049-tap, 64
    zero crossings each side) Kaiser-windowed sinc by FFT convolution, with 200 samples
    of silence either side so the edges ring out too."""
    h = firwin(2 * 16 * 64 + 1, 1 / 16, window=("kaiser", 12)) * 16
    x = np.pad(np.atleast_2d(x), ((0, 0), (200, 200)))
    up = np.zeros((x.shape[0], x.shape[1] * 16))
    up[:, ::16] = x
    y = oaconvolve(up, h[None, :], axes=1)
    return 20 * math.log10(float(np.max(np.abs(y))))


def parse_cue(text: str):
    """(file name, file type, [(track number, title, INDEX 01 in CUE frames)])."""
    files = re.findall(r'^FILE "(.*)" (\w+)$', text, re.M)
    assert len(files) == 1, text
    tracks = []
    current = None
    for line in text.splitlines():
        m = re.match(r"^\s+TRACK (\d\d) AUDIO$", line)
        if m:
            current = [int(m.group(1)), None, None]
            tracks.append(current)
            continue
        m = re.match(r'^\s+TITLE "(.*)"$', line)
        if m and current is not None:
            current[1] = m.group(1)
            continue
        m = re.match(r"^\s+INDEX 01 (\d\d):(\d\d):(\d\d)$", line)
        if m and current is not None:
            mm, ss, ff = map(int, m.groups())
            assert ss < 60 and ff < CUE_FPS
            current[2] = (mm * 60 + ss) * CUE_FPS + ff
    return files[0][0], files[0][1], [tuple(t) for t in tracks]


def sine(freq: float, frames: int, peak: float, phase: float = 0.0) -> np.ndarray:
    return peak * np.sin(2 * np.pi * freq * np.arange(frames) / SR + phase)[None, :]


def music(seconds: float, level_lufs: float, seed: int, sr: int = SR,
          channels: int = 2) -> np.ndarray:
    """Music-like material of realistic crest factor: band-limited noise in 2 Hz bursts
    over a floor, plus a bass and a mid tone, set to ``level_lufs``."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    env = 0.2 + np.exp(-((t * 2.0 + 0.25 * seed) % 1.0) / 0.12)
    noise = sosfilt(butter(2, 6000, fs=sr, output="sos"), rng.standard_normal((channels, n)),
                    axis=1)
    x = noise * env
    x += 0.3 * np.sin(2 * np.pi * 110 * t + np.arange(channels)[:, None] * 0.3)
    x += 0.1 * np.sin(2 * np.pi * 660 * t)
    return x * 10 ** ((level_lufs - lufs(x, sr)) / 20)


# =========================================================== crossfades, gaps
CURVE_GAPS = {"equal_power": 2.0, "linear": 1.234, "s_curve": 0.71}
XFADE_S = 0.4                               # 30 CUE frames exactly


@lru_cache(maxsize=None)
def _crossfade_album(curve: str, root: str):
    """Three sine songs (whole periods, so their own ends are clean), not whole CUE frames
    long; a crossfade of ``curve`` between 1 and 2, a gap between 2 and 3; FLOAT."""
    folder = Path(root) / curve
    folder.mkdir(parents=True)
    sources = [sine(240.0, 144400, 0.25),                   # 200-sample periods
               sine(375.0, 144384, 0.2),                    # 128-sample periods
               sine(440.0, 3 * SR, 0.15, phase=np.pi / 2)]  # starts at its peak
    for i, x in enumerate(sources):
        write_audio(folder / f"s{i + 1}.wav", x)
    report = render_doc(folder, [
        {"source": "s1.wav", "title": "One", "crossfade_s": XFADE_S,
         "crossfade_curve": curve},
        {"source": "s2.wav", "title": "Two", "gap_s": CURVE_GAPS[curve]},
        {"source": "s3.wav", "title": "Three"}],
        loudness={"mode": "album", "target_lufs": -20.0, "ceiling_dbtp": -1.0},
        output={"subtype": "FLOAT", "programme": "album.wav"})
    return sources, report


@pytest.fixture(scope="module")
def crossfade_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("crossfades"))


@pytest.fixture(params=sorted(CURVE_GAPS))
def crossfaded(request, crossfade_root):
    sources, report = _crossfade_album(request.param, crossfade_root)
    return request.param, sources, report


def expected_starts(lengths, sr, crossfade_s, gap_s):
    s2 = padded(lengths[0], sr) - whole_frames(crossfade_s, sr)
    s3 = s2 + padded(lengths[1], sr) + whole_frames(gap_s, sr)
    return [0, s2, s3]


def test_crossfade_programme_is_the_song_files_placed_and_faded_to_the_sample(crossfaded):
    curve, sources, report = crossfaded
    lengths = [x.shape[1] for x in sources]
    songs = [read(s.path) for s in report.songs]
    starts = expected_starts(lengths, SR, XFADE_S, CURVE_GAPS[curve])
    assert [s.start for s in report.songs] == starts
    assert [s.frames for s in report.songs] == lengths == [x.shape[1] for x in songs]
    # the songs are the sources at the one album gain (no limiting needed)
    gain = report.songs[0].gain_db
    assert all(s.gain_db == pytest.approx(gain, abs=1e-9) and s.limiting_db == 0.0
               for s in report.songs)
    for src, song in zip(sources, songs):
        assert np.max(np.abs(song - src * 10 ** (gain / 20))) < FLOAT_TOL
    # rebuild the programme from the song files, the starts and the documented fades
    n = whole_frames(XFADE_S, SR)
    expected = np.zeros((1, starts[2] + padded(lengths[2], SR)))
    expected[:, :lengths[0]] += songs[0]
    fade_out, fade_in = fade_pair(n, curve)
    expected[:, starts[1]:starts[1] + n] *= fade_out
    head = songs[1].copy()
    head[:, :n] *= fade_in
    expected[:, starts[1]:starts[1] + lengths[1]] += head
    expected[:, starts[2]:starts[2] + lengths[2]] += songs[2]
    programme = read(report.programme)
    assert programme.shape == expected.shape
    error = float(np.max(np.abs(programme - expected)))
    assert error < FLOAT_TOL, f"programme differs from the rebuilt one by {error:.3g}"
    # the check tells the curves apart: another curve's fades miss by far more
    tail = np.pad(songs[0], ((0, 0), (0, padded(lengths[0], SR) - lengths[0])))
    for other in set(CURVE_GAPS) - {curve}:
        o_out, o_in = fade_pair(n, other)
        wrong = expected.copy()
        wrong[:, starts[1]:starts[1] + n] = (tail[:, starts[1]:starts[1] + n] * o_out
                                             + songs[1][:, :n] * o_in)
        assert np.max(np.abs(programme - wrong)) > 1e-3


def _highpassed(x: np.ndarray) -> np.ndarray:
    return sosfilt(butter(4, 3000, "highpass", fs=SR, output="sos"), x[0])


def test_crossfade_is_click_free(crossfaded):
    """Sine material: anything above 3 kHz around the crossfade is a click; it must stay
    under -60 dBFS.  A butt splice at the same place (the check's own control) does not."""
    curve, sources, report = crossfaded
    programme = read(report.programme)
    start = report.songs[1].start
    n = whole_frames(XFADE_S, SR)
    a, b = start - SR // 10, start + n + SR // 10
    hp = _highpassed(programme)
    spike = 20 * math.log10(float(np.max(np.abs(hp[a:b]))))
    print(f"\n{curve}: high-passed crossfade peak {spike:.1f} dBFS")
    assert spike < -60.0
    # control: song 1 cut at song 2's start with no fades clicks well above -60 dBFS
    songs = [read(s.path) for s in report.songs]
    splice = np.zeros_like(programme)
    splice[:, :start] = songs[0][:, :start]
    splice[:, start:start + songs[1].shape[1]] = songs[1]
    assert 20 * math.log10(float(np.max(np.abs(_highpassed(splice)[a:b])))) > -40.0


def test_gap_is_exact_silence_of_whole_cue_frames(crossfaded):
    curve, sources, report = crossfaded
    gap_s = CURVE_GAPS[curve]
    programme = read(report.programme)
    two, three = report.songs[1], report.songs[2]
    end = two.start + two.frames                    # song 2's last sample + 1
    assert programme[0, end - 1] != 0.0 and programme[0, three.start] != 0.0
    assert np.all(programme[:, end:three.start] == 0.0)
    gap = three.start - (two.start + padded(two.frames, SR))
    frames = round(gap_s * CUE_FPS)
    assert gap == frames * SR // CUE_FPS
    rounding = [n for n in report.notices if "gap after song 2" in n]
    if abs(frames - gap_s * CUE_FPS) < 1e-9:         # whole frames: exact, no notice
        assert gap == int(gap_s * SR) and rounding == []
    else:
        assert len(rounding) == 1, report.notices
        assert f"{gap_s:g} s" in rounding[0] and f"{frames / CUE_FPS:g} s" in rounding[0]
        assert "rounded" in rounding[0]
    assert not [n for n in report.notices if "crossfade" in n]      # 0.4 s is 30 frames


def test_crossfade_not_in_whole_frames_is_rounded_with_a_notice(tmp_path):
    x = sine(240.0, 2 * SR, 0.2)
    write_audio(tmp_path / "a.wav", x)
    write_audio(tmp_path / "b.wav", x)
    report = render_doc(tmp_path, [{"source": "a.wav", "crossfade_s": 0.33},
                                   {"source": "b.wav"}],
                        loudness={"mode": "track", "target_lufs": -20.0})
    frames = round(0.33 * CUE_FPS)                  # 24.75 -> 25 frames = 1/3 s
    assert report.songs[1].start == 2 * SR - frames * SR // CUE_FPS
    notes = [n for n in report.notices if "crossfade after song 1" in n]
    assert len(notes) == 1 and "0.33 s" in notes[0] and "rounded" in notes[0]


# ===================================================================== CUE
CUE_SONGS = [("Opening", 2.5, 7), ('Say "Hi"', 2.2, 301), ("Closer", 2.0, 50)]


@lru_cache(maxsize=None)
def _cue_album(sr: int, root: str):
    folder = Path(root) / str(sr)
    folder.mkdir(parents=True)
    lengths = []
    for i, (title, seconds, extra) in enumerate(CUE_SONGS):
        x = music(seconds, -20.0 - 3 * i, seed=10 + i, sr=sr)
        x = np.concatenate((x, x[:, :extra]), axis=1)   # not whole CUE frames long
        x[:, 0] = 0.3                                     # begins with a non-silent sample
        write_audio(folder / f"{i + 1:02d}.wav", x, sr)
        lengths.append(x.shape[1])
    report = render_doc(folder, [
        {"source": "01.wav", "title": CUE_SONGS[0][0], "crossfade_s": 0.6},
        {"source": "02.wav", "title": CUE_SONGS[1][0], "gap_s": 58.0},   # past a minute
        {"source": "03.wav", "title": CUE_SONGS[2][0]}], sr=sr,
        title="Night Drive", artist="The Band",
        loudness={"mode": "album", "target_lufs": -18.0},
        output={"subtype": "PCM_24", "programme": "night drive.wav"})
    return lengths, report


@pytest.fixture(scope="module")
def cue_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cue"))


@pytest.fixture(params=[44100, 48000])
def cue_album(request, cue_root):
    lengths, report = _cue_album(request.param, cue_root)
    return request.param, lengths, report


def test_cue_indices_are_the_song_starts_to_the_sample(cue_album):
    sr, lengths, report = cue_album
    text = report.cue.read_text()
    name, kind, tracks = parse_cue(text)
    assert report.cue.name == "night drive.cue"
    assert name == report.programme.name == "night drive.wav" and kind == "WAVE"
    assert text.splitlines()[0] == 'PERFORMER "The Band"'
    assert 'TITLE "Night Drive"' in text.splitlines()[1]
    assert [t[0] for t in tracks] == [1, 2, 3]
    assert [t[1] for t in tracks] == ["Opening", "Say 'Hi'", "Closer"]
    in_samples = [t[2] * sr // CUE_FPS for t in tracks]
    assert all(t[2] * sr % CUE_FPS == 0 for t in tracks)
    assert in_samples == [s.start for s in report.songs]
    assert in_samples == expected_starts(lengths, sr, 0.6, 58.0)
    assert re.search(r"INDEX 01 01:0\d:\d\d", text)           # song 3 is past 1:00
    # a gap is the next track's pregap: INDEX 00 where the song before ends (padded to
    # whole CUE frames, as the programme pads it); a crossfade has none
    pregaps = [(int(m) * 60 + int(ss)) * CUE_FPS + int(ff)
               for m, ss, ff in re.findall(r"INDEX 00 (\d\d):(\d\d):(\d\d)", text)]
    frame = cue_frame(sr)
    assert [p * frame for p in pregaps] == [report.songs[1].start +    # song 1 crossfades
                                            -(-report.songs[1].frames // frame) * frame]
    assert report.sample_rate == sr and sf.info(str(report.programme)).samplerate == sr


def test_songs_begin_in_the_programme_where_the_cue_says(cue_album):
    sr, lengths, report = cue_album
    programme = read(report.programme)
    _, _, tracks = parse_cue(report.cue.read_text())
    cue_starts = [t[2] * sr // CUE_FPS for t in tracks]
    songs = [read(s.path) for s in report.songs]
    # song 1 at 0, non-silent from its first sample
    assert cue_starts[0] == 0 and np.any(programme[:, 0] != 0)
    # song 3 after a gap: the first non-silent sample after song 2's end
    after = cue_starts[1] + songs[1].shape[1]
    loud = np.flatnonzero(np.any(programme[:, after:] != 0, axis=0))
    assert after + int(loud[0]) == cue_starts[2]
    # song 2 crossfaded over song 1's end: where its first second correlates best
    # (high-passed, so the noise decides and not the tones the songs share)
    audible = int(np.flatnonzero(np.any(programme[:, :cue_starts[2]] != 0, axis=0))[-1]) + 1
    hp = butter(4, 2000, "highpass", fs=sr, output="sos")
    template = sosfilt(hp, songs[1][0, :sr])
    search = sosfilt(hp, programme[0, :audible])
    size = 1 << int(search.size * 2 - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(search, size) * np.conj(np.fft.rfft(template, size)),
                        size)
    assert int(np.argmax(corr[:search.size - template.size])) == cue_starts[1]


# ================================================================ loudness
LEVELS = (-20.0, -26.0, -30.0)


@pytest.fixture(scope="module")
def loud_sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("loudness")
    sources = []
    for i, level in enumerate(LEVELS):
        x = music(4.0, level, seed=i + 1)
        write_audio(folder / f"s{i}.wav", x)
        sources.append(x)
    return folder, sources


@pytest.fixture(scope="module")
def loud_album(loud_sources):
    folder, sources = loud_sources
    cache = {}

    def get(mode: str, target: float):
        if (mode, target) not in cache:
            report = render_doc(folder, [{"source": f"s{i}.wav", "gap_s": 1.0}
                                         for i in range(3)],
                                out=f"out_{mode}_{-target:g}",
                                loudness={"mode": mode, "target_lufs": target,
                                          "ceiling_dbtp": -1.0})
            measured = [meter_file(s.path) for s in report.songs]
            cache[mode, target] = report, measured
        return cache[mode, target]
    return get


@pytest.mark.parametrize("target", [-18.0, -16.0, -12.0])
def test_album_mode_puts_the_loudest_song_on_target(loud_album, loud_sources, target):
    report, measured = loud_album("album", target)
    source_levels = [meter_file(loud_sources[0] / f"s{i}.wav")["integrated_lufs"]
                     for i in range(3)]
    loudest = int(np.argmax(source_levels))
    assert loudest == 0
    error = measured[loudest]["integrated_lufs"] - target
    print(f"\nalbum {target:g}: loudest at {error:+.3f} LU from target, limited "
          f"{report.songs[0].limiting_db:.2f} dB")
    assert abs(error) < 0.1
    assert report.songs[1].gain_db == pytest.approx(report.songs[2].gain_db, abs=1e-9)
    for s, m in zip(report.songs, measured):
        assert s.integrated_lufs == pytest.approx(m["integrated_lufs"], abs=1e-9)
        assert s.true_peak_dbtp == pytest.approx(m["true_peak_dbtp"], abs=1e-9)
        assert s.lra_lu == pytest.approx(m["lra_lu"], abs=1e-9)
    if target == -18.0:
        assert report.songs[0].limiting_db == 0.0        # fits under the ceiling as it is
    else:
        assert report.songs[0].limiting_db > 0.3         # the loudest needs limiting


@pytest.mark.parametrize("target", [-18.0, -16.0, -12.0])
def test_album_mode_keeps_the_songs_loudness_differences(loud_album, loud_sources, target):
    report, measured = loud_album("album", target)
    before = [meter_file(loud_sources[0] / f"s{i}.wav")["integrated_lufs"] for i in range(3)]
    after = [m["integrated_lufs"] for m in measured]
    worst = max(abs((after[i] - after[j]) - (before[i] - before[j]))
                for i in range(3) for j in range(i + 1, 3))
    print(f"\nalbum {target:g}: loudness differences kept within {worst:.3f} LU")
    assert worst < 0.2


@pytest.mark.parametrize("target", [-18.0, -16.0, -12.0])
def test_album_mode_limits_only_songs_whose_peaks_cross_the_ceiling(loud_album, loud_sources,
                                                                    target):
    """The quieter songs stay under the ceiling at the album gain: they are the sources
    at that gain, to the 24-bit step, with no limiting."""
    report, measured = loud_album("album", target)
    for i in (1, 2):
        song = report.songs[i]
        assert song.limiting_db == 0.0
        src = read(loud_sources[0] / f"s{i}.wav")
        assert np.max(np.abs(read(song.path) - src * 10 ** (song.gain_db / 20))) \
            <= PCM24_TOL


def test_track_mode_puts_every_song_on_target(loud_album):
    report, measured = loud_album("track", -14.0)
    errors = [m["integrated_lufs"] + 14.0 for m in measured]
    print(f"\ntrack -14: loudness errors {', '.join(f'{e:+.3f}' for e in errors)} LU")
    assert all(abs(e) < 0.1 for e in errors)
    assert len({round(s.gain_db, 1) for s in report.songs}) == 3     # a gain each
    assert report.songs[2].gain_db > report.songs[1].gain_db > report.songs[0].gain_db


@pytest.mark.parametrize("mode,target", [("album", -18.0), ("album", -16.0),
                                         ("album", -12.0), ("track", -14.0)])
def test_no_song_true_peak_exceeds_the_ceiling(loud_album, mode, target):
    report, measured = loud_album(mode, target)
    for song, m in zip(report.songs, measured):
        meter_tp = m["true_peak_dbtp"]
        long_tp = true_peak_16x_dbtp(read(song.path))
        print(f"\n{mode} {target:g} {song.title}: true peak {meter_tp:.3f} dBTP (meter), "
              f"{long_tp:.3f} dBTP (16x, 2049 taps)")
        assert meter_tp <= -1.0 + 0.1
        assert long_tp <= -1.0 + 0.1
    assert meter_file(report.programme)["true_peak_dbtp"] <= -1.0 + 0.1


# ========================================================== project songs
@pytest.fixture(scope="module")
def project_song(tmp_path_factory):
    """A project with two outputs: 'quiet' (first, the source at -6 dB) and 'loud'."""
    root = tmp_path_factory.mktemp("projects")
    proj = root / "proj"
    src = music(3.0, -24.0, seed=21)
    write_audio(proj / "stems" / "tone.wav", src)
    g = Graph(sample_rate=SR, base_dir=proj.resolve())
    g.add("stem", id="tone", path="stems/tone.wav")
    g.add("gain", id="down", gain_db=-6.0)
    g.add("output", id="quiet", path="out/quiet.wav", subtype="FLOAT")
    g.add("output", id="loud", path="out/loud.wav", subtype="FLOAT")
    g.connect("tone", "down")
    g.connect("down", "quiet")
    g.connect("tone", "loud")
    save(g, proj / "song.mgraph")
    return root, src


def test_project_song_renders_its_chosen_output_or_its_first(project_song, tmp_path):
    root, src = project_song
    report = render_doc(root, [
        {"source": "proj/song.mgraph", "output": "loud", "title": "Loud", "gap_s": 1.0},
        {"source": "proj/song.mgraph", "title": "First output"}],
        out=str(tmp_path / "out"),
        loudness={"mode": "album", "target_lufs": -24.0}, output={"subtype": "FLOAT"})
    gain = 10 ** (report.songs[0].gain_db / 20)
    loud, first = (read(s.path) for s in report.songs)
    assert loud.shape == first.shape == src.shape
    assert np.max(np.abs(loud - src * gain)) < FLOAT_TOL               # 'loud'
    assert np.max(np.abs(first - src * 10 ** (-6 / 20) * gain)) < FLOAT_TOL   # 'quiet'


def test_project_song_writes_nothing_into_the_project_folder(project_song, tmp_path):
    root, src = project_song
    out_dir = root / "proj" / "out"
    if out_dir.exists():
        for p in out_dir.iterdir():
            p.unlink()
        out_dir.rmdir()
    folder = root / "proj"
    before = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    render_doc(root, [{"source": "proj/song.mgraph", "output": "loud"}],
               out=str(tmp_path / "out"), loudness={"mode": "track", "target_lufs": -24.0})
    assert not out_dir.exists()
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == before


def test_unknown_project_output_is_a_clear_error(project_song, tmp_path):
    root, _ = project_song
    with pytest.raises(ProjectFileError) as info:
        render_doc(root, [{"source": "proj/song.mgraph", "output": "nope"}],
                   out=str(tmp_path / "out"))
    message = str(info.value)
    assert "song.mgraph" in message and "'nope'" in message
    assert "quiet" in message and "loud" in message and "\n" not in message


BAD_ALBUMS = [
    ("missing source", [{"source": "a.wav"}, {"source": "gone.wav"}], {},
     r"song 2: source not found: gone\.wav"),
    ("gap and crossfade", [{"source": "a.wav", "gap_s": 1.0, "crossfade_s": 2.0},
                           {"source": "a.wav"}], {},
     r"song 1 has both gap_s and crossfade_s"),
    ("bad crossfade curve", [{"source": "a.wav"},
                             {"source": "a.wav", "crossfade_s": 1.0,
                              "crossfade_curve": "cubic"}], {},
     r"song 2: crossfade_curve must be one of equal_power, linear, s_curve, got 'cubic'"),
    ("bad fade curve", [{"source": "a.wav", "fade_curve": "log"}], {},
     r"song 1: fade_curve must be one of linear, exponential, s_curve, got 'log'"),
    ("negative trim", [{"source": "a.wav", "trim_start_s": -1}], {},
     r"song 1: trim_start_s must be between 0 and 600 s"),
    ("unknown key", [{"source": "a.wav", "fadein_s": 1}], {},
     r"song 1 has unknown key\(s\) fadein_s"),
    ("bad mode", [{"source": "a.wav"}], {"loudness": {"mode": "loudest"}},
     r"loudness mode must be 'album' or 'track', got 'loudest'"),
    ("bad master mode", [{"source": "a.wav"}], {"master_mode": "whole"},
     r"master_mode must be 'per_song' or 'programme', got 'whole'"),
    ("programme mode with track loudness", [{"source": "a.wav"}],
     {"master_mode": "programme", "loudness": {"mode": "track"}}, r"use loudness mode 'album'"),
    ("bad master stage", [{"source": "a.wav"}], {"master": [{"type": "equaliser"}]},
     r"master stage 1"),
]


@pytest.mark.parametrize("what,songs,body,message", BAD_ALBUMS, ids=[b[0] for b in BAD_ALBUMS])
def test_bad_album_is_one_clear_error(tmp_path, what, songs, body, message):
    write_audio(tmp_path / "a.wav", sine(440.0, SR, 0.1))
    path = write_album(tmp_path, songs, **body)
    with pytest.raises(ProjectFileError, match=message) as info:
        load_album(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "\n" not in text
    assert len(re.findall(r"song \d|mode|master stage", text)) == 1   # that one problem


def test_every_problem_in_one_error(tmp_path):
    write_audio(tmp_path / "a.wav", sine(440.0, SR, 0.1))
    path = write_album(tmp_path, [{"source": "nope.wav"},
                                  {"source": "a.wav", "crossfade_curve": "zigzag"}],
                       sr=44000)
    with pytest.raises(ProjectFileError) as info:
        load_album(path)
    text = str(info.value)
    assert "song 1: source not found" in text and "song 2: crossfade_curve" in text
    assert "divisible by 75" in text


def test_trimming_more_than_the_song_is_a_clear_error_naming_it(tmp_path):
    write_audio(tmp_path / "a.wav", sine(440.0, 3 * SR, 0.1))
    write_audio(tmp_path / "b.wav", sine(440.0, 3 * SR, 0.1))
    with pytest.raises(MixgraphError, match=r"song 'Short': trimming 3\.5 s leaves nothing "
                                            r"of its 3\.00 s"):
        render_doc(tmp_path, [{"source": "a.wav", "title": "Fine"},
                              {"source": "b.wav", "title": "Short", "trim_start_s": 2.0,
                               "trim_end_s": 1.5}])
    assert not any((tmp_path / "out").glob("*.wav"))       # nothing half-written


def test_trims_cut_exactly_and_fade_shapes_apply(tmp_path):
    """Song length = source - trims, to the sample; each fade curve is the documented
    shape (fade-in from 0 at the first sample, fade-out to 0 at the song's end)."""
    specs = [  # extra samples, trim start, trim end, fade in, fade out, curve
        (123, 0.25, 0.5, 0.2, 0.3, "s_curve"),
        (7, 0.1, 0.0, 0.5, 0.5, "linear"),
        (500, 0.0, 0.3, 0.4, 0.4, "exponential")]
    songs, sources = [], []
    for i, (extra, ts, te, fi, fo, curve) in enumerate(specs):
        x = music(3.0, -30.0, seed=30 + i)
        x = np.concatenate((x, x[:, :extra]), axis=1)
        write_audio(tmp_path / f"{i}.wav", x)
        sources.append(x)
        song = {"source": f"{i}.wav", "fade_in_s": fi, "fade_out_s": fo,
                "fade_curve": curve, "gap_s": 0.0}
        if ts:
            song["trim_start_s"] = ts
        if te:
            song["trim_end_s"] = te
        songs.append(song)
    report = render_doc(tmp_path, songs, loudness={"mode": "album", "target_lufs": -26.0},
                        output={"subtype": "FLOAT"})
    for (extra, ts, te, fi, fo, curve), src, result in zip(specs, sources, report.songs):
        a, b = int(round(ts * SR)), src.shape[1] - int(round(te * SR))
        length = b - a
        song = read(result.path)
        assert result.frames == song.shape[1] == length
        assert result.limiting_db == 0.0
        k = np.arange(length)
        shape = fade_shape(k / (fi * SR), curve) * fade_shape((length - k) / (fo * SR), curve)
        expected = src[:, a:b] * 10 ** (result.gain_db / 20) * shape
        assert song[0, 0] == 0.0
        error = float(np.max(np.abs(song - expected)))
        assert error < FLOAT_TOL, f"{curve}: {error:.3g}"
        # the shapes differ enough that a wrong one is caught
        for other in {"linear", "exponential", "s_curve"} - {curve}:
            wrong = fade_shape(k / (fi * SR), other) * fade_shape((length - k) / (fo * SR),
                                                                  other)
            assert np.max(np.abs(song - src[:, a:b] * 10 ** (result.gain_db / 20) * wrong)) \
                > 1e-3
    # back to back (gap 0): each starts on the frame after the previous one's padding
    assert [s.start for s in report.songs][1:] == [
        report.songs[0].start + padded(report.songs[0].frames, SR),
        report.songs[0].start + padded(report.songs[0].frames, SR)
        + padded(report.songs[1].frames, SR)]


# ================================================================ programme
def test_programme_mode_masters_the_assembled_programme(tmp_path):
    """A fade as the master chain: over the whole programme it fades in the first song
    and out the last only; the songs are cut from the mastered programme at their
    starts; the loudest song is on target."""
    sources = []
    for i, level in enumerate((-20.0, -24.0, -28.0)):
        x = music(3.0, level, seed=40 + i)
        x = np.concatenate((x, x[:, :111]), axis=1)
        write_audio(tmp_path / f"{i}.wav", x)
        sources.append(read(tmp_path / f"{i}.wav"))          # as stored (float32)
    report = render_doc(tmp_path, [{"source": f"{i}.wav", "gap_s": 1.0} for i in range(3)],
                        master=[{"type": "fade",
                                 "params": {"in_s": 0.5, "out_s": 0.5, "curve": "linear"}}],
                        master_mode="programme",
                        loudness={"mode": "album", "target_lufs": -18.0, "ceiling_dbtp": -1.0},
                        output={"subtype": "PCM_24"})
    programme = read(report.programme)
    songs = [read(s.path) for s in report.songs]
    starts = [s.start for s in report.songs]
    lengths = [x.shape[1] for x in sources]
    assert starts == [0, padded(lengths[0], SR) + SR,
                      padded(lengths[0], SR) + padded(lengths[1], SR) + 2 * SR]
    for song, start, n in zip(songs, starts, lengths):
        assert song.shape[1] == n
        assert np.array_equal(song, programme[:, start:start + n])
    assert programme.shape[1] == starts[2] + padded(lengths[2], SR)
    gain = 10 ** (report.songs[0].gain_db / 20)
    assert report.songs[0].limiting_db == 0.0
    # song 2 is in the middle of the programme: not faded at all
    assert np.max(np.abs(songs[1] - sources[1] * gain)) <= PCM24_TOL
    # song 1 fades in from the programme's start, song 3 out to the programme's end
    k = np.arange(lengths[0])
    assert np.max(np.abs(songs[0] - sources[0] * gain
                         * np.clip(k / (0.5 * SR), 0, 1))) <= PCM24_TOL
    end = programme.shape[1]
    k = starts[2] + np.arange(lengths[2])
    assert np.max(np.abs(songs[2] - sources[2] * gain
                         * np.clip((end - k) / (0.5 * SR), 0, 1))) <= PCM24_TOL
    levels = [meter_file(s.path)["integrated_lufs"] for s in report.songs]
    error = max(levels) + 18.0
    print(f"\nprogramme mode: loudest song {error:+.3f} LU from target")
    assert abs(error) < 0.1
    _, _, tracks = parse_cue(report.cue.read_text())
    assert [t[2] * SR // CUE_FPS for t in tracks] == starts


# ===================================================================== CLI
def test_cli_renders_a_three_song_album_of_demo_mixes(tmp_path):
    """Mixes from the demo (full, 6 dB quieter, reversed) -> album new -> add a crossfade
    -> album render --json."""
    song = tmp_path / "demo"
    (song / "stems").mkdir(parents=True)
    for name, audio in synthesise(4.0).items():
        sf.write(str(song / "stems" / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    g = build_project(song.resolve())
    for nid in ("master_eq", "master_glue", "master_fade", "master_loudness",
                "master_dither", "master_out", "drums_out"):
        g.remove(nid)
    render(g)
    mix = read(song / "out" / "mix.wav")
    mixes = tmp_path / "mixes"
    write_audio(mixes / "01 full.wav", mix, subtype="PCM_24")
    write_audio(mixes / "02 quieter.wav", mix * 10 ** (-6 / 20), subtype="PCM_24")
    write_audio(mixes / "03 reversed.wav", mix[:, ::-1], subtype="PCM_24")
    album = tmp_path / "album" / "night.json"
    album.parent.mkdir()
    made = mixgraph("album", "new", mixes, "-o", album)
    assert made.returncode == 0, made.stderr
    doc = json.loads(album.read_text())
    songs = doc["album"]["songs"]
    assert [s["title"] for s in songs] == ["full", "quieter", "reversed"]
    assert songs[0]["source"] == "../mixes/01 full.wav"
    del songs[0]["gap_s"]
    songs[0]["crossfade_s"] = 1.0
    album.write_text(json.dumps(doc))
    started = time.perf_counter()
    result = mixgraph("album", "render", album, "--json", "-o", tmp_path / "out")
    wall = time.perf_counter() - started
    print(f"\nCLI album render of 3 demo mixes ({mix.shape[1] / SR:.1f} s each): "
          f"{wall:.2f} s wall")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["01 full.wav", "02 quieter.wav", "03 reversed.wav", "album.cue",
                     "album.wav"]
    assert len(report["songs"]) == 3
    for s in report["songs"]:
        for key in ("integrated_lufs", "lra_lu", "true_peak_dbtp", "gain_db"):
            assert isinstance(s[key], float) and math.isfinite(s[key]), (key, s)
        assert s["true_peak_dbtp"] <= -0.9
    assert math.isfinite(report["integrated_lufs"])
    assert report["integrated_lufs"] == pytest.approx(
        meter_file(tmp_path / "out" / "album.wav")["integrated_lufs"], abs=0.01)
    assert report["songs"][0]["integrated_lufs"] == pytest.approx(-14.0, abs=0.1)
    n = mix.shape[1]
    assert report["songs"][1]["start_sample"] == padded(n, SR) - SR
    assert report["songs"][2]["start_sample"] == 2 * padded(n, SR) - SR + 2 * SR
    assert isinstance(report["seconds"], float)
