"""What an output writes, read back by an independent decoder (ffmpeg): every
container and codec the output node offers (WAV, FLAC, AIFF, RF64, W64; MP3 at a
constant and a variable bitrate, Ogg Vorbis, Opus), lined up with the programme within
one codec frame (encoder delay and padding handled), at its level, with its tags, and
an MP3 at the bitrate asked for."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from mixgraph import Graph, render
from mixgraph.errors import MixgraphError

from conftest import SR, seeded_noise, sine
from decoding import decode_audio as decode

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None,
                                reason="needs ffmpeg to decode what was written")
TAGS = {"title": "First Light", "artist": "The Band", "album": "Morning", "tracknumber": 3,
        "date": "2026", "comment": "mixgraph test", "isrc": "gb-abc-26-00042"}
#: where ffprobe shows each container's ISRC: ID3's TSRC, the Vorbis comment, a
#: WAV's bext description (which ffmpeg calls its comment)
ISRC_KEY = {"mp3": "tsrc", "aiff": "tsrc", "flac": "isrc", "ogg": "isrc", "opus": "isrc",
            "wav": "comment", "rf64": "comment"}
#: name, output parameters, the codec's frame (the alignment allowed), level tolerance
#: in dB (at 128 kbit/s joint stereo, LAME gives up 0.4 dB of this wide noise)
CASES = [
    ("wav", {}, 0, 0.001), ("flac", {}, 0, 0.001), ("aiff", {}, 0, 0.001),
    ("rf64", {}, 0, 0.001), ("w64", {}, 0, 0.001),
    ("mp3", {"bitrate_kbps": 128}, 1152, 0.5), ("mp3", {"bitrate_kbps": 320}, 1152, 0.05),
    ("mp3", {"quality": 0.8}, 1152, 0.1), ("ogg", {"quality": 0.6}, 2048, 0.1),
    ("opus", {"quality": 0.7}, 960, 0.1), ("opus", {"bitrate_kbps": 96}, 960, 0.2),
]


def programme(seconds: float = 4.0) -> np.ndarray:
    """Noise bursts (below 4 kHz, where every codec here keeps the energy) over a
    tone: features to line up by, a level to keep."""
    from scipy.signal import butter, sosfilt

    noise = sosfilt(butter(4, 4000, fs=SR, output="sos"),
                    seeded_noise(seconds, channels=1, seed=3, level_db=-18.0))
    x = sine(440.0, seconds, -12.0) + noise
    gate = (np.arange(x.shape[1]) // (SR // 4)) % 3 == 0
    return np.vstack([x[0] * np.where(gate, 1.0, 0.3), x[0] * np.where(gate, 0.3, 1.0)])


def tags_of(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "format_tags:stream_tags:stream=bit_rate", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    found = json.loads(out)
    tags = dict(found.get("format", {}).get("tags", {}))
    for s in found.get("streams", []):
        tags.update(s.get("tags", {}))
    return {k.lower(): v for k, v in tags.items()} | {
        "stream_bit_rate": found["streams"][0].get("bit_rate")}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import soundfile as sf

    folder = tmp_path_factory.mktemp("formats")
    master = programme()
    sf.write(str(folder / "master.wav"), master.T, SR, subtype="FLOAT")
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("stem", id="m", path="master.wav")
    for i, (fmt, params, _, _) in enumerate(CASES):
        tags = {} if fmt == "w64" else TAGS
        g.add("output", id=f"o{i}", path=f"out/{i}.{fmt}", subtype="FLOAT"
              if fmt in ("wav", "rf64", "w64", "aiff") else "PCM_24", **params, **tags)
        g.connect("m", f"o{i}")
    report = render(g)
    return master, folder, report


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_a_file_decodes_to_the_programme_lined_up_at_its_level(written, case):
    fmt, params, frame, tolerance_db = CASES[case]
    master, folder, report = written
    decoded, rate = decode(folder / "out" / f"{case}.{fmt}")
    assert rate == SR and decoded.shape[0] == 2
    assert abs(decoded.shape[1] - master.shape[1]) <= frame
    n = min(decoded.shape[1], master.shape[1]) - 2 * frame
    if frame:                                          # the lag that lines them up
        a, b = master[0, frame:frame + n], decoded[0]
        lags = range(-frame, frame + 1, 1)
        score = [np.dot(a, b[frame + k:frame + k + n]) for k in lags]
        lag = list(lags)[int(np.argmax(score))]
        assert abs(lag) <= frame
        got = decoded[:, frame + lag:frame + lag + n]
        want = master[:, frame:frame + n]
    else:
        got, want = decoded[:, :n], master[:, :n]
        np.testing.assert_allclose(got, want, atol=2e-5 if fmt == "flac" else 1e-7)
    level = 10 * np.log10((got.astype(np.float64) ** 2).mean() / (want ** 2).mean())
    assert abs(level) <= tolerance_db, level
    out = next(o for o in report.outputs if o["node"] == f"o{case}")
    assert out["format"] == fmt


@pytest.mark.parametrize("case", [i for i, c in enumerate(CASES) if c[0] != "w64"])
def test_tags_are_read_back_by_ffprobe(written, case):
    fmt = CASES[case][0]
    _, folder, _ = written
    tags = tags_of(folder / "out" / f"{case}.{fmt}")
    assert tags["title"] == "First Light"
    assert tags.get("artist", tags.get("author")) == "The Band"
    if fmt != "aiff":                       # AIFF's chunks name a title, author, comment
        assert tags["album"] == "Morning" and tags["track"] == "3"
        assert tags.get("date", tags.get("tyer")) == "2026"
    isrc = tags[ISRC_KEY[fmt]]
    assert isrc == ("ISRC:GBABC2600042" if fmt in ("wav", "rf64") else "GBABC2600042")
    if fmt in ("wav", "rf64"):                     # the comment in LIST INFO, by libsndfile
        import soundfile as sf

        with sf.SoundFile(str(folder / "out" / f"{case}.{fmt}")) as f:
            assert f.comment == "mixgraph test"
    else:
        assert tags["comment"] == "mixgraph test"


@pytest.mark.parametrize("fmt", ["wav", "rf64"])
def test_a_wav_with_an_isrc_carries_a_bext_chunk_with_its_loudness(written, fmt):
    """EBU Tech 3285 version 2: the ISRC in the description (Tech 3352), the file's
    integrated loudness, range and true peak in hundredths, as ffmpeg measures them."""
    from mixgraph.nodes.tagging import read_bext
    from decoding import ffmpeg_loudness

    _, folder, _ = written
    case = next(i for i, c in enumerate(CASES) if c[0] == fmt)
    path = folder / "out" / f"{case}.{fmt}"
    bext = read_bext(path)
    assert bext["version"] == 2 and bext["description"] == "ISRC:GBABC2600042"
    measured = ffmpeg_loudness(path)
    assert bext["integrated_lufs"] == pytest.approx(measured["lufs"], abs=0.1)
    assert bext["true_peak_dbtp"] == pytest.approx(measured["true_peak"], abs=0.2)
    assert bext["coding_history"].startswith(f"A=PCM,F={SR},W=32F,M=stereo")
    data = path.read_bytes()                   # the container's size counts the chunk
    if fmt == "wav":
        assert int.from_bytes(data[4:8], "little") == len(data) - 8
    else:
        assert data[12:16] == b"ds64" and int.from_bytes(data[20:28], "little") == len(data) - 8


def test_an_mp3_is_at_the_constant_bitrate_asked_for_and_opus_near_it(written):
    """An MP3 exactly (its frames' bitrate); an Opus file, whose bitrate varies, on
    average within 15 % of it (ffprobe's figure for the file: the Ogg pages' few
    bytes included)."""
    _, folder, _ = written
    checked = 0
    for case, (fmt, params, _, _) in enumerate(CASES):
        if not params.get("bitrate_kbps"):
            continue
        path = folder / "out" / f"{case}.{fmt}"
        if fmt == "mp3":
            assert int(tags_of(path)["stream_bit_rate"]) == params["bitrate_kbps"] * 1000
        else:
            rate = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=bit_rate",
                                   "-of", "csv=p=0", str(path)], capture_output=True,
                                  text=True, check=True).stdout
            assert int(rate) / 1000 == pytest.approx(params["bitrate_kbps"], rel=0.15)
        checked += 1
    assert checked == 3


def test_opus_is_written_at_48_khz_with_a_notice(tmp_path):
    g = Graph(sample_rate=44100, base_dir=tmp_path)
    g.add("tone", id="t", duration_s=1.0)
    g.add("output", id="o", path="speech.opus")
    g.connect("t", "o")
    report = render(g)
    assert any("Opus is 48 kHz only" in n and "44100 Hz" in n for n in report.notices)
    decoded, rate = decode(tmp_path / "speech.opus")
    assert rate == 48000 and abs(decoded.shape[1] - 48000) <= 960


@pytest.mark.parametrize("path, params, words", [
    ("a.flac", {"bitrate_kbps": 128}, "bitrate_kbps is for MP3 and Opus files"),
    ("a.ogg", {"bitrate_kbps": 128}, "bitrate_kbps is for MP3 and Opus files"),
    ("a.opus", {"bitrate_kbps": 600}, "between 6 and 512"),
    ("a.mp3", {"bitrate_kbps": 100}, "one of MP3's bitrates"),
    ("a.w64", {"title": "x"}, "holds no tags"),
    ("a.w64", {"isrc": "GBABC2600042"}, "holds no tags"),
    ("a.mp3", {"isrc": "GB-ABC-26"}, "is not an ISRC"),
    ("a.mp3", {"quality": 1.5}, "quality"),
])
def test_an_output_that_cannot_be_written_so_is_one_sentence(tmp_path, path, params, words):
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("tone", id="t", duration_s=0.5)
    with pytest.raises(MixgraphError, match=words):
        g.add("output", id="o", path=path, **params)
        g.connect("t", "o")
        render(g)
    assert not list(tmp_path.iterdir())                  # nothing written, nothing left
