"""Delivery (mixgraph deliver): one hot master to each destination's files, every file
decoded again by an independent decoder (ffmpeg) and checked: integrated loudness
against the profile's target, true peak at or under its ceiling (ffmpeg's
``ebur128=peak=true`` and a 16x-oversampled reference of our own from scipy), rate,
format and length."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SR, seeded_noise
from decoding import decode_audio, ffmpeg_loudness as ffmpeg_figures

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="needs ffmpeg to decode what was delivered")
PROFILES = ["spotify", "youtube", "apple_podcasts", "ebu_r128", "cd", "archive"]


def hostile(seconds: float = 8.0) -> np.ndarray:
    """A heavily limited, full-band master: noise to 16 kHz over a kick every half
    second, driven into a soft clipper, its samples up to -0.3 dBFS: about -5 LUFS,
    its true peak over 0 dBTP."""
    from scipy.signal import butter, sosfilt

    noise = sosfilt(butter(4, 16000, fs=SR, output="sos"),
                    seeded_noise(seconds, channels=2, seed=11, level_db=-14.0), axis=1)
    t = np.arange(noise.shape[1]) / SR
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-(t % 0.5) / 0.08)
    x = np.tanh(2.0 * (noise + 0.7 * kick))
    return 10 ** (-0.3 / 20) * x / np.abs(x).max()


def user_profiles(folder, profiles: dict) -> dict:
    """A user's own delivery profiles file under ``folder``/xdg; the environment that
    makes mixgraph read it."""
    where = folder / "xdg" / "mixgraph" / "profiles"
    where.mkdir(parents=True)
    (where / "mine.json").write_text(json.dumps({
        "format": "mixgraph-delivery-profiles", "version": 1, "profiles": profiles}))
    return dict(os.environ, XDG_DATA_HOME=str(folder / "xdg"))


def reference_true_peak(x: np.ndarray) -> float:
    """16x oversampled by scipy (upfirdn) through a long windowed sinc of its own
    design (64 zero crossings each side, Kaiser beta 10, cut at the file's Nyquist
    frequency), in dBTP.  (resample_poly's default filter has 10 crossings: on
    full-band material it read 0.1 dB higher than any long interpolator.)"""
    from scipy.signal import firwin, upfirdn

    h = 16 * firwin(2 * 64 * 16 + 1, 1.0 / 16, window=("kaiser", 10.0))
    up = upfirdn(h, x, up=16, axis=1)
    return 20 * np.log10(np.abs(up).max())


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    import soundfile as sf

    folder = tmp_path_factory.mktemp("deliver")
    sf.write(str(folder / "master.wav"), hostile().T, SR, subtype="FLOAT")
    env = dict(os.environ, XDG_DATA_HOME=str(folder / "xdg"))
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", str(folder / "master.wav"),
                          "--profile", ",".join(PROFILES), "-o", str(folder / "out"),
                          "--artist", "The Band", "--json"],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return json.loads(run.stdout), folder


def test_every_deliverable_passes_its_spec(delivered):
    report, _ = delivered
    files = {(d["profile"], d["role"]) for d in report["deliverables"]}
    assert files == {("spotify", "master"), ("spotify", "preview"), ("youtube", "master"),
                     ("youtube", "preview"), ("apple_podcasts", "master"),
                     ("ebu_r128", "master"), ("cd", "master"), ("archive", "master")}
    assert report["pass"], [d["problems"] for d in report["deliverables"]]
    assert report["source_lufs"] > -10.0                       # a hot master


@pytest.mark.parametrize("profile, role, fmt, rate, target, tolerance, ceiling", [
    ("spotify", "master", "wav", SR, -14.0, 1.0, -2.0),      # louder than -14: -2 dBTP
    ("spotify", "preview", "ogg", SR, -14.0, 1.0, -2.0),
    ("youtube", "master", "wav", SR, -14.0, 1.0, -1.0),
    ("youtube", "preview", "opus", 48000, -14.0, 1.0, -1.0),
    ("apple_podcasts", "master", "mp3", 44100, -16.0, 1.0, -1.0),
    ("ebu_r128", "master", "wav", 48000, -23.0, 0.1, -1.0),
    ("cd", "master", "wav", 44100, None, None, -0.3),
])
def test_decoded_by_ffmpeg_each_file_is_at_its_loudness_and_under_its_ceiling(
        delivered, profile, role, fmt, rate, target, tolerance, ceiling):
    report, folder = delivered
    (item,) = [d for d in report["deliverables"]
               if d["profile"] == profile and d["role"] == role]
    path = folder / "out" / profile / f"master.{fmt}"
    assert item["path"] == str(path) and item["format"] == fmt
    x, got_rate = decode_audio(path)
    assert got_rate == rate
    assert abs(x.shape[1] / rate - 8.0) <= 2048 / rate + 0.001  # lined up within a frame
    figures = ffmpeg_figures(path)
    if target is not None:
        assert abs(figures["lufs"] - target) <= tolerance, figures
    assert figures["true_peak"] <= ceiling + 0.05, figures       # ffmpeg's 4x reading
    assert reference_true_peak(x) <= ceiling + 0.05              # 16x, scipy
    assert item["decoded_true_peak_dbtp"] <= ceiling and item["overs"] == 0


def test_the_cd_master_is_16_bit_dithered_and_the_archive_untouched(delivered):
    import soundfile as sf

    report, folder = delivered
    cd = sf.info(str(folder / "out" / "cd" / "master.wav"))
    assert (cd.samplerate, cd.subtype) == (44100, "PCM_16")
    archive, rate = decode_audio(folder / "out" / "archive" / "master.wav", "f64")
    master, _ = decode_audio(folder / "master.wav", "f64")
    assert rate == SR and sf.info(str(folder / "out" / "archive" / "master.wav")).subtype == "FLOAT"
    np.testing.assert_array_equal(archive, master)               # not touched at all
    tags = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of",
                           "json", str(folder / "out" / "apple_podcasts" / "master.mp3")],
                          capture_output=True, text=True).stdout
    assert json.loads(tags)["format"]["tags"]["artist"] == "The Band"


def test_a_profile_that_would_crush_the_master_says_so_and_delivers_nothing(tmp_path):
    """A quiet, dynamic master (about -33 LUFS, a hit near full scale) to Spotify's
    -14 LUFS would need about 18 dB of limiting: refused in one sentence, exit
    status 1, nothing written for it."""
    import soundfile as sf

    from conftest import sine

    x = np.concatenate([sine(440.0, 6.0, -30.0), sine(440.0, 0.01, -1.0)], axis=1)
    sf.write(str(tmp_path / "quiet.wav"), np.vstack([x, x]).T, SR, subtype="FLOAT")
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", str(tmp_path / "quiet.wav"),
                          "--profile", "spotify", "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert "of limiting, more than the profile's 4 dB: not delivered" in run.stdout
    assert not (tmp_path / "out" / "spotify" / "quiet.wav").exists()


def test_profiles_are_listed_with_their_sources_and_a_user_profile_overrides(tmp_path):
    env = user_profiles(tmp_path, {"spotify": {
        "title": "Spotify (ours)", "kind": "streaming", "target_lufs": -13.0,
        "ceiling_dbtp": -1.5, "master": {"format": "flac", "subtype": "PCM_24"}}})
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", "--list"],
                         capture_output=True, text=True, env=env, check=True)
    assert re.search(r"^spotify\s+-13 LUFS\s+-1.5 dBTP\s+master: flac\s+\(user", run.stdout,
                     re.M)
    assert re.search(r"^ebu_r128\s+-23 LUFS\s+-1 dBTP.*EBU R 128", run.stdout, re.M)
    assert len(run.stdout.splitlines()) == 12
    bad = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", "x.wav", "--profile",
                          "spotfy"], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "no delivery profile 'spotfy'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_meter_and_the_render_report_say_what_each_platform_would_do(delivered, tmp_path):
    """From the profiles: the gain each streaming and podcast platform's normalisation
    applies is its target less the file's integrated loudness."""
    report, folder = delivered
    run = subprocess.run([sys.executable, "-m", "mixgraph", "meter", "--platforms", "--json",
                          str(folder / "master.wav")], capture_output=True, text=True, check=True)
    (found,) = json.loads(run.stdout)
    lufs = found["integrated_lufs"]
    assert found["platforms"]["spotify"] == pytest.approx(-14.0 - lufs, abs=0.06)
    assert found["platforms"]["apple_podcasts"] == pytest.approx(-16.0 - lufs, abs=0.06)
    assert "ebu_r128" not in found["platforms"] and "cd" not in found["platforms"]
    from mixgraph import Graph, save

    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("tone", id="t", duration_s=1.0, level_dbfs=-20.0)
    g.add("output", id="o", path="t.wav")
    g.connect("t", "o")
    save(g, tmp_path / "t.mgraph")
    run = subprocess.run([sys.executable, "-m", "mixgraph", "render", "-q",
                          str(tmp_path / "t.mgraph")], capture_output=True, text=True, check=True)
    assert re.search(r"t\.wav: platforms would play it at: spotify \+\d+\.\d dB", run.stdout)


def test_a_lossy_file_that_decodes_over_its_ceiling_is_encoded_again_until_it_holds(tmp_path):
    """A dynamic master (-14.5 LUFS, peaks near full scale every 250 ms) to a profile of
    the user's own at -14 LUFS under -1 dBTP: the loudness stage limits it, the Ogg
    Vorbis preview decodes over -1 dBTP at first and is encoded again with a lower
    ceiling; decoded by ffmpeg, both files hold the ceiling (ffmpeg's reading and the
    16x reference)."""
    import soundfile as sf
    from scipy.signal import butter, sosfilt

    n = sosfilt(butter(4, 18000, fs=SR, output="sos"),
                seeded_noise(8.0, channels=2, seed=5, level_db=-20.0), axis=1)
    t = np.arange(n.shape[1]) / SR
    x = np.tanh(1.5 * n * (0.15 + 3 * np.exp(-(t % 0.25) / 0.03)))
    sf.write(str(tmp_path / "dyn.wav"), (10 ** (-1 / 20) * x / np.abs(x).max()).T, SR,
             subtype="FLOAT")
    env = user_profiles(tmp_path, {"loud_stream": {
        "title": "A loud stream", "kind": "streaming", "target_lufs": -14.0,
        "ceiling_dbtp": -1.0, "master": {"format": "wav", "subtype": "PCM_24"},
        "preview": {"format": "ogg", "quality": 0.6}, "max_limiting_db": 12.0}})
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", str(tmp_path / "dyn.wav"),
                          "--profile", "loud_stream", "-o", str(tmp_path / "out"), "--json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    items = {d["role"]: d for d in json.loads(run.stdout)["deliverables"]}
    assert items["master"]["limiting_db"] > 1.0              # it was limited
    assert items["preview"]["tries"] >= 2                    # and encoded again
    for role, fmt in (("master", "wav"), ("preview", "ogg")):
        path = tmp_path / "out" / "loud_stream" / f"dyn.{fmt}"
        x, _ = decode_audio(path)
        assert ffmpeg_figures(path)["true_peak"] <= -1.0 + 0.05
        assert reference_true_peak(x) <= -1.0 + 0.05
        assert abs(ffmpeg_figures(path)["lufs"] + 14.0) <= 1.0


def album_of_three(folder: Path, seconds=(6.0, 6.0, 6.0)) -> Path:
    """Three mixes of different loudness (-26, -20 and -24 dB tones over noise), an
    album document for them by ``mixgraph album new``, with ISRCs, a performer on the
    third song and the release's EAN added as a user would."""
    import soundfile as sf

    from conftest import sine

    mixes = folder / "mixes"
    mixes.mkdir()
    levels = {"01 Intro.wav": -26.0, "02 Single.wav": -20.0, "03 Ballad.wav": -24.0}
    for (name, level), length in zip(levels.items(), seconds):
        x = sine(330.0, length, level) + seeded_noise(length, channels=1, seed=len(name),
                                                      level_db=level - 10)
        sf.write(str(mixes / name), np.vstack([x, x]).T, SR, subtype="FLOAT")
    doc = folder / "night.json"
    new = subprocess.run([sys.executable, "-m", "mixgraph", "album", "new", str(mixes), "-o",
                          str(doc)], capture_output=True, text=True)
    assert new.returncode == 0, new.stderr
    album = json.loads(doc.read_text())
    album["album"].update(title="Night Drive", artist="The Band", catalog="5012345678900")
    for i, song in enumerate(album["album"]["songs"], start=1):
        song["isrc"] = f"gb-xyz-26-0000{i}"
    album["album"]["songs"][2]["performer"] = "The Band feat. Guest"
    doc.write_text(json.dumps(album))
    return doc


def cue_tracks(text: str) -> list[dict]:
    """A CUE sheet's tracks: TITLE, PERFORMER, ISRC and INDEX lines (positions in
    seconds), read line by line."""
    tracks = []
    for line in text.splitlines():
        words = line.split(maxsplit=1)
        if words[0] == "TRACK":
            tracks.append({})
        elif tracks and words[0] in ("TITLE", "PERFORMER", "ISRC"):
            tracks[-1][words[0]] = words[1].strip('"')
        elif words[0] == "INDEX":
            number, at = words[1].split()
            mm, ss, ff = map(int, at.split(":"))
            tracks[-1][f"INDEX {number}"] = mm * 60 + ss + ff / 75
    return tracks


def test_an_album_of_three_songs_goes_to_four_profiles_in_one_command(tmp_path):
    """Three songs of different loudness (album mode: they keep their distances), to
    Spotify, Apple Podcasts, EBU R 128 and CD in one command: every file at or under
    its ceiling (ffmpeg), each profile's songs together at its target, the songs'
    distances kept, numbered and tagged with their ISRCs; for the CD also the
    programme after a 2 s pregap, with a CUE sheet whose indexes are where ffmpeg
    finds each song start; the time it takes, and how much of it is rendering and
    encoding, reported."""
    doc = album_of_three(tmp_path)
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", str(doc),
                          "--profile", "spotify,apple_podcasts,ebu_r128,cd", "-o",
                          str(tmp_path / "out"), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(run.stdout)
    print(f"\nalbum of 3 songs to 4 profiles: {report['seconds']} s, of which rendering and "
          f"encoding {report['render_seconds']} s")
    assert report["pass"] and len(report["deliverables"]) == 3 * 5 + 1  # + the CD programme
    ceilings = {"spotify": -1.0, "apple_podcasts": -1.0, "ebu_r128": -1.0, "cd": -0.3}
    for d in report["deliverables"]:
        figures = ffmpeg_figures(d["path"])
        assert figures["true_peak"] <= ceilings[d["profile"]] + 0.05, d["path"]
    for profile, target in (("spotify", -14.0), ("ebu_r128", -23.0)):
        masters = [d for d in report["deliverables"] if d["profile"] == profile
                   and d["role"] == "master"]
        names = [Path(d["path"]).name for d in masters]
        assert names == ["01 Intro.wav", "02 Single.wav", "03 Ballad.wav"]
        lufs = [d["integrated_lufs"] for d in masters]
        assert lufs[1] - lufs[0] == pytest.approx(6.0, abs=0.3)     # distances kept
        assert lufs[1] - lufs[2] == pytest.approx(4.0, abs=0.3)
        subprocess.run(["ffmpeg", "-v", "error", *sum((["-i", d["path"]] for d in masters),
                                                            []),
                               "-filter_complex", "concat=n=3:v=0:a=1", "-f", "wav",
                               str(tmp_path / f"{profile}.wav")], check=True)
        assert abs(ffmpeg_figures(tmp_path / f"{profile}.wav")["lufs"] - target) <= \
            (1.0 if profile == "spotify" else 0.1)
    tags = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of",
                           "json", str(tmp_path / "out" / "apple_podcasts" / "03 Ballad.mp3")],
                          capture_output=True, text=True).stdout
    found = json.loads(tags)["format"]["tags"]
    assert found["artist"] == "The Band feat. Guest" and found["track"] == "3"
    assert found["TSRC"] == "GBXYZ2600003"
    # the CD: programme, CUE sheet, Red Book
    cd = next(d for d in report["deliverables"] if d["role"] == "programme")
    assert cd["profile"] == "cd" and Path(cd["path"]).name == "Night Drive.wav"
    sheet = Path(cd["cue"]).read_text()
    assert sheet.splitlines()[:3] == ["CATALOG 5012345678900", 'PERFORMER "The Band"',
                                      'TITLE "Night Drive"']
    assert 'FILE "Night Drive.wav" WAVE' in sheet
    tracks = cue_tracks(sheet)
    assert [t["ISRC"] for t in tracks] == ["GBXYZ2600001", "GBXYZ2600002", "GBXYZ2600003"]
    assert [t["TITLE"] for t in tracks] == ["Intro", "Single", "Ballad"]
    assert tracks[2]["PERFORMER"] == "The Band feat. Guest"
    assert tracks[0]["INDEX 00"] == 0.0 and tracks[0]["INDEX 01"] == 2.0
    x, rate = decode_audio(cd["path"])
    assert rate == 44100 and x.shape[1] % 588 == 0                 # whole CD frames
    assert not np.any(x[:, :2 * 44100 - 1])                        # the pregap is silence
    for track in tracks:                                           # each song starts there
        at = round(track["INDEX 01"] * 44100)
        assert np.abs(x[:, at:at + 441]).max() > 0.01
        if "INDEX 00" in track and track["INDEX 00"] > 0:          # its gap: silence
            # but the CD frame at each end: the resampler rings on after a song cut
            # short and before one that starts at once (-31 dBFS, 2 ms, here)
            gap = x[:, round(track["INDEX 00"] * 44100) + 588:at - 588]
            assert gap.shape[1] > 44100 and not np.any(gap)
    assert tracks[1]["INDEX 01"] - tracks[1]["INDEX 00"] == pytest.approx(2.0, abs=1 / 75)


def test_a_cd_that_breaks_the_red_book_is_said_to_fail(tmp_path):
    """A 3-second song is shorter than a CD track may be: the CD programme fails in
    one sentence naming the track, and the command exits 1."""
    doc = album_of_three(tmp_path, seconds=(6.0, 3.0, 6.0))
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", str(doc),
                          "--profile", "cd", "-o", str(tmp_path / "out"), "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 1, run.stderr[-2000:]
    report = json.loads(run.stdout)
    failed = [d for d in report["deliverables"] if not d["pass"]]
    assert [d["role"] for d in failed] == ["programme"]
    assert any("track 2 ('Single') is" in p and "4 s or longer" in p
               for p in failed[0]["problems"])


def test_an_album_with_a_wrong_isrc_or_catalog_is_refused_in_one_sentence(tmp_path):
    doc = album_of_three(tmp_path)
    album = json.loads(doc.read_text())
    album["album"]["catalog"] = "5012345678901"
    album["album"]["songs"][1]["isrc"] = "GB-XYZ-26"
    doc.write_text(json.dumps(album))
    run = subprocess.run([sys.executable, "-m", "mixgraph", "deliver", str(doc),
                          "--profile", "cd", "-o", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "song 2: 'GB-XYZ-26' is not an ISRC" in run.stderr
    assert "wrong check digit (it should end in 0)" in run.stderr
    assert not (tmp_path / "out").exists()
