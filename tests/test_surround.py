"""Surround: layouts through the engine, files with channel masks, BS.1770-4
multichannel loudness (EBU Tech 3341 case 6, ffmpeg's ebur128 on 5.1), the surround
panner's law, the fold-down's coefficients, and the engine's guarantees (block size,
bit-identical renders, latency) at 5.1 and 7.1."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mixgraph import Graph, render
from mixgraph.errors import MixgraphError
from mixgraph.nodes.layouts import LAYOUTS

from conftest import SR, db, seeded_noise, sine

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
#: the order of a WAVE_FORMAT_EXTENSIBLE file's channels for ffmpeg's "7.1" layout
#: (the mask's bit order), and the speaker each holds in mixgraph's names
WAV_71 = ["L", "R", "C", "LFE", "Lrs", "Rrs", "Ls", "Rs"]


def tone_on(layout: str, speaker: str, level_db: float = -20.0, seconds: float = 1.0,
            freq: float = 1000.0) -> np.ndarray:
    """A tone on one speaker of a layout (internal order), silence elsewhere."""
    lay = LAYOUTS[layout]
    x = np.zeros((lay.channels, int(seconds * SR)))
    x[lay.index(speaker)] = sine(freq, seconds, level_db)[0]
    return x


def write(path, x: np.ndarray, **kw) -> str:
    sf.write(str(path), x.T, SR, subtype="FLOAT", **kw)
    return str(path)


def read_internal(path) -> np.ndarray:
    """A file in mixgraph's channel order, by its own reader (its mask honoured)."""
    from pathlib import Path

    from mixgraph.nodes.audiofile import AudioReader, channel_order

    reader = AudioReader(Path(path))
    reader.reorder(channel_order(Path(path), reader.channels, container=reader.container))
    out = np.zeros((reader.channels, reader.frames))
    reader.read_into(out)
    reader.close()
    return out


def lufs(path, **kw) -> float:
    from pathlib import Path

    from mixgraph.nodes.meters import meter_file

    return meter_file(Path(path), **kw)["integrated_lufs"]


# ------------------------------------------------------------------ metering
def test_ebu_tech_3341_case_6_five_channels_read_minus_23(tmp_path):
    """Tech 3341 case 6: 1 kHz on L and R at -28 dBFS, C at -24, Ls and Rs at -30
    (5.0, in that order): -23.0 LUFS within 0.1 LU."""
    x = np.vstack([sine(1000.0, 20.0, level)[0] for level in (-28, -28, -24, -30, -30)])
    path = write(tmp_path / "case6.wav", x)
    assert lufs(path) == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("layout, levels", [
    # case 6 with an LFE at full scale: the LFE does not count
    ("5.1", {"L": -28.0, "R": -28.0, "C": -24.0, "LFE": 0.0, "Ls": -30.0, "Rs": -30.0}),
    # case 6 in 7.1: its surrounds on the side pair (110 degrees, weight 1.41), the
    # rear pair carrying the same power 1.49 dB louder (150 degrees: weight 1.0)
    ("7.1", {"L": -28.0, "R": -28.0, "C": -24.0, "Ls": -33.0103, "Rs": -33.0103,
             "Lrs": -33.0103 + 10 * math.log10(1.41), "Rrs": -33.0103 + 10 * math.log10(1.41)}),
])
def test_tech_3341_case_6_built_for_5_1_and_7_1_reads_minus_23(tmp_path, layout, levels):
    lay = LAYOUTS[layout]
    x = np.zeros((lay.channels, 20 * SR))
    for speaker, level in levels.items():
        x[lay.index(speaker)] = sine(1000.0 if speaker != "LFE" else 60.0, 20.0, level)[0]
    path = write(tmp_path / f"case6_{layout}.wav", x)
    assert lufs(path) == pytest.approx(-23.0, abs=0.1)


@needs_ffmpeg
def test_a_5_1_file_reads_as_ffmpeg_reads_it_and_its_lfe_does_not_count(tmp_path):
    """Noise of different levels on each channel of a 5.1 file (with its channel mask,
    written by ffmpeg): mixgraph's meter within 0.1 LU of ffmpeg's ebur128; a loud
    LFE added changes neither."""
    from decoding import ffmpeg_loudness

    levels = [-26.0, -27.0, -24.0, -99.0, -30.0, -31.0]
    x = np.vstack([seeded_noise(12.0, 1, seed=i, level_db=lv)[0] for i, lv in enumerate(levels)])
    quiet_lfe = x.copy()
    loud_lfe = x.copy()
    loud_lfe[3] = sine(50.0, 12.0, -3.0)[0]
    results = []
    for name, audio in (("quiet", quiet_lfe), ("loud", loud_lfe)):
        raw = tmp_path / f"{name}.f32"
        audio.T.astype("<f4").tofile(raw)
        wav = tmp_path / f"{name}.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SR), "-ac", "6",
                        "-channel_layout", "5.1", "-i", str(raw), "-c:a", "pcm_f32le",
                        str(wav)], check=True)
        ours, theirs = lufs(wav), ffmpeg_loudness(wav)["lufs"]
        assert ours == pytest.approx(theirs, abs=0.1)
        results.append(ours)
    assert results[0] == pytest.approx(results[1], abs=0.01)


def test_mixgraph_meter_prints_every_channels_true_peak(tmp_path):
    x = np.vstack([sine(997.0, 4.0, -6.0 - 2 * i)[0] for i in range(6)])
    path = write(tmp_path / "six.wav", x)
    run = subprocess.run([sys.executable, "-m", "mixgraph", "meter", path, "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)[0]
    assert found["layout"] == "5.1"
    peaks = [found["channel_peaks"][s]["true_peak_dbtp"] for s in LAYOUTS["5.1"].speakers]
    assert peaks == pytest.approx([-6.0 - 2 * i for i in range(6)], abs=0.05)
    text = subprocess.run([sys.executable, "-m", "mixgraph", "meter", path],
                          capture_output=True, text=True).stdout
    assert "5.1" in text and "LFE -12.0 dBTP" in text and "Rs -16.0 dBTP" in text


# ------------------------------------------------------------------ files
@needs_ffmpeg
def test_a_7_1_file_with_its_mask_is_read_and_written_in_its_speakers_places(tmp_path):
    """A 7.1 WAV written by ffmpeg (mask 0x63F: rear pair before side pair) played
    through a stem to an output: a tone on each speaker comes out on that speaker,
    and the file written has the 7.1 mask and ffmpeg's channel order again."""
    x = np.zeros((8, SR))
    for k in range(8):                                  # file channel k: its own frequency
        x[k] = sine(200.0 * (k + 1), 1.0, -20.0)[0]
    raw = tmp_path / "in.f32"
    x.T.astype("<f4").tofile(raw)
    src = tmp_path / "in.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SR), "-ac", "8",
                    "-channel_layout", "7.1", "-i", str(raw), "-c:a", "pcm_f32le", str(src)],
                   check=True)
    inside = read_internal(src)
    for k, speaker in enumerate(WAV_71):                # where mixgraph puts each
        np.testing.assert_array_equal(inside[LAYOUTS["7.1"].index(speaker)],
                                      x[k].astype(np.float32))
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("stem", id="bed", path="in.wav")
    g.add("output", id="out", path="out.wav", subtype="FLOAT")
    g.connect("bed", "out")
    render(g)
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=channel_layout,channels", "-of",
         "json", str(tmp_path / "out.wav")], capture_output=True, text=True).stdout)
    assert probe["streams"][0]["channel_layout"] == "7.1"
    back, _ = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    np.testing.assert_array_equal(back.T, x.astype(np.float32))


def test_a_file_without_a_mask_takes_its_declared_order(tmp_path):
    """A 6-channel file in film order (L C R Ls Rs LFE), no mask: declared on the
    stem, each channel lands on its speaker."""
    film = ["L", "C", "R", "Ls", "Rs", "LFE"]
    x = np.vstack([sine(300.0 * (k + 1), 0.5, -20.0)[0] for k in range(6)])
    write(tmp_path / "film.wav", x)
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("stem", id="room", path="film.wav", channel_order="L C R Ls Rs LFE")
    g.add("output", id="out", path="out.wav", subtype="FLOAT")
    g.connect("room", "out")
    render(g)
    got = read_internal(tmp_path / "out.wav")
    for k, speaker in enumerate(film):
        np.testing.assert_allclose(got[LAYOUTS["5.1"].index(speaker)], x[k], atol=1e-7)
    g.set("room", "channel_order", "L C R Ls Rs")
    with pytest.raises(MixgraphError, match="must name each speaker of 5.1 once"):
        render(g)


def test_a_surround_signal_into_an_mp3_is_one_sentence(tmp_path):
    write(tmp_path / "six.wav", np.zeros((6, SR)))
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("stem", id="bed", path="six.wav")
    g.add("output", id="out", path="out.mp3")
    g.connect("bed", "out")
    with pytest.raises(MixgraphError, match=r"input is 5\.1; write it as wav, rf64 or flac"):
        render(g)
    assert not (tmp_path / "out.mp3").exists()


# ------------------------------------------------------------------ mixing
def test_mono_and_stereo_meet_a_surround_bus_by_the_layout_rules(project):
    """Into a 5.1 bus, a mono stem lands on the centre alone (not sprayed into every
    speaker) and a stereo one on L and R, at unity."""
    project.stem("bed", np.zeros((6, SR)))
    project.stem("voice", sine(440.0, 1.0, -12.0))
    project.stem("pad", np.vstack([sine(220.0, 1.0, -12.0)[0], sine(330.0, 1.0, -12.0)[0]]))
    g = project.graph
    g.add("bus", id="mix")
    for s in ("bed", "voice", "pad"):
        g.connect(s, "mix")
    project.output(src="mix")
    project.render()
    got = read_internal(project.folder / "out" / "out.wav")
    lay = LAYOUTS["5.1"]
    np.testing.assert_allclose(got[lay.index("C")], sine(440.0, 1.0, -12.0)[0], atol=1e-7)
    np.testing.assert_allclose(got[lay.index("L")], sine(220.0, 1.0, -12.0)[0], atol=1e-7)
    np.testing.assert_allclose(got[lay.index("R")], sine(330.0, 1.0, -12.0)[0], atol=1e-7)
    for s in ("LFE", "Ls", "Rs"):
        assert not got[lay.index(s)].any()


def test_a_port_that_takes_mono_or_stereo_names_both_layouts(project):
    project.stem("bed", np.zeros((8, SR)))
    project.graph.add("surround_pan", id="pan")
    project.graph.connect("bed", "pan")
    project.output(src="pan")
    with pytest.raises(MixgraphError) as err:
        project.render()
    assert "node 'pan' (surround_pan): its input 'in' takes mono or stereo, but 'bed' " \
           "gives 7.1" in err.value.message


# ------------------------------------------------------------------ panner
def pan_render(project, layout="5.1", source=None, **params) -> np.ndarray:
    source = sine(1000.0, 0.5, -6.0) if source is None else source
    project.stem("src", source)
    project.graph.add("surround_pan", id="pan", layout=layout, **params)
    project.graph.connect("src", "pan")
    project.output(src="pan")
    project.render()
    return read_internal(project.folder / "out" / "out.wav")


@pytest.mark.parametrize("layout", ["5.1", "7.1"])
def test_a_source_at_a_speakers_angle_is_on_that_speaker_alone_at_unity(tmp_path, layout):
    from conftest import ProjectHelper
    from mixgraph.nodes.layouts import SPEAKERS

    lay = LAYOUTS[layout]
    for speaker in lay.speakers:
        angle = SPEAKERS[speaker][2]
        if angle is None or speaker == "LFE":
            continue
        got = pan_render(ProjectHelper(tmp_path / f"{layout}-{speaker}"), layout,
                         azimuth_deg=angle)
        level = [db(np.sqrt(np.mean(row ** 2)) * math.sqrt(2)) for row in got]
        for i, s in enumerate(lay.speakers):
            if s == speaker:
                assert level[i] == pytest.approx(-6.0, abs=0.01), (speaker, s)
            else:
                assert not got[i].any(), (speaker, s)


def test_between_two_speakers_the_power_is_constant_and_spread_keeps_it():
    from mixgraph.nodes.surround import pan_gains

    lay = LAYOUTS["7.1"]
    az = np.linspace(-180.0, 180.0, 721)
    for spread in (0.0, 0.3, 1.0):
        g = pan_gains(lay, az, spread)
        power_db = 10 * np.log10((g ** 2).sum(axis=0))
        assert np.abs(power_db).max() < 0.1
        assert not g[lay.lfe].any()
    g = pan_gains(lay, 15.0)                        # half way from C (0) to L (30)
    assert g[lay.index("C"), 0] == pytest.approx(math.sqrt(0.5), abs=1e-12)
    assert g[lay.index("L"), 0] == pytest.approx(math.sqrt(0.5), abs=1e-12)
    everywhere = pan_gains(lay, 42.0, 1.0)[:, 0]
    ear = [i for i, s in enumerate(lay.speakers) if s != "LFE"]
    assert everywhere[ear] == pytest.approx([math.sqrt(1 / 7)] * 7, abs=1e-12)


@pytest.mark.parametrize("freq", [30.0, 120.0, 480.0])
def test_the_lfe_send_is_at_its_level_through_a_4th_order_low_pass(project, freq):
    """A send at -6 dB: the LFE carries the tone at -6 dB times a 4th-order
    Butterworth's magnitude at 120 Hz (|H|^2 = 1 / (1 + (f/fc)^8))."""
    got = pan_render(project, source=sine(freq, 2.0, -6.0), lfe_db=-6.0)
    lfe = got[LAYOUTS["5.1"].lfe, SR:]                    # after the filter settles
    level = db(np.sqrt(np.mean(lfe ** 2)) * math.sqrt(2))
    expected = -12.0 - 10 * math.log10(1 + (freq / 120.0) ** 8)
    assert level == pytest.approx(expected, abs=0.05)


# ------------------------------------------------------------------ fold-down
@pytest.mark.parametrize("speaker, left_db, right_db", [
    ("L", 0.0, None), ("R", None, 0.0), ("C", -3.0, -3.0), ("LFE", None, None),
    ("Ls", -3.0, None), ("Rs", None, -3.0), ("Lrs", -3.0, None), ("Rrs", None, -3.0)])
def test_a_7_1_fold_down_to_stereo_puts_each_channel_at_its_documented_gain(
        project, speaker, left_db, right_db):
    project.stem("bed", tone_on("7.1", speaker, -20.0))
    project.graph.add("downmix", id="fold", to="stereo")
    project.graph.connect("bed", "fold")
    project.output(src="fold")
    project.render()
    got = project.read()
    assert got.shape[0] == 2
    for row, want in zip(got, (left_db, right_db)):
        if want is None:
            assert not row.any()
        else:
            level = db(np.sqrt(np.mean(row ** 2)) * math.sqrt(2))
            assert level == pytest.approx(-20.0 + want, abs=0.01)


def test_every_fold_down_coefficient_is_a_parameter(project):
    """The LFE mixed in at -10 dB, the centre at -4.5: each lands there."""
    from mixgraph.nodes.layouts import fold_matrix

    m = fold_matrix(LAYOUTS["5.1"], LAYOUTS["stereo"], center_db=-4.5, lfe_db=-10.0)
    lay = LAYOUTS["5.1"]
    assert 20 * np.log10(m[0, lay.index("C")]) == pytest.approx(-4.5, abs=1e-9)
    assert 20 * np.log10(m[1, lay.lfe]) == pytest.approx(-10.0, abs=1e-9)
    m = fold_matrix(LAYOUTS["7.1"], LAYOUTS["5.1"])
    five = LAYOUTS["5.1"]
    assert m[five.index("Ls"), LAYOUTS["7.1"].index("Lrs")] == pytest.approx(10 ** (-3 / 20))


# ------------------------------------------------------------------ guarantees
def surround_chain(project, layout="5.1") -> None:
    """A surround stem through EQ, compressor and limiter to a file."""
    lay = LAYOUTS[layout]
    project.stem("bed", np.vstack([seeded_noise(3.0, 1, seed=k, level_db=-14.0 - k)[0]
                                   for k in range(lay.channels)]))
    g = project.graph
    g.add("eq", id="eq", bands=[{"type": "bell", "freq_hz": 1000.0, "gain_db": 4.0, "q": 1.0}])
    g.add("compressor", id="comp", threshold_db=-24.0, ratio=3.0)
    g.add("limiter", id="lim", ceiling_dbtp=-1.0)
    for a, b in (("bed", "eq"), ("eq", "comp"), ("comp", "lim")):
        g.connect(a, b)
    project.output(src="lim")


@pytest.mark.parametrize("layout", ["5.1", "7.1"])
def test_a_surround_chain_renders_the_same_at_any_block_size_and_twice(project, layout):
    surround_chain(project, layout)
    whole = project.render_read(block_size=8192)
    assert whole.shape[0] == LAYOUTS[layout].channels
    for block in (64, 1000):
        np.testing.assert_array_equal(project.render_read(block_size=block), whole,
                                      err_msg=f"block {block}")
    np.testing.assert_array_equal(project.render_read(block_size=8192), whole)


def test_a_5_1_impulse_through_a_limiter_stays_on_its_channel_and_sample(project):
    lay = LAYOUTS["5.1"]
    x = np.zeros((6, SR))
    for k in range(6):
        x[k, 1000 + 100 * k] = 0.5
    project.stem("bed", x)
    project.graph.add("limiter", id="lim", ceiling_dbtp=-1.0)
    project.graph.connect("bed", "lim")
    project.output(src="lim")
    project.render()
    got = read_internal(project.folder / "out" / "out.wav")
    for k in range(6):
        assert int(np.argmax(np.abs(got[k]))) == 1000 + 100 * k, lay.speakers[k]
        assert got[k, 1000 + 100 * k] == pytest.approx(0.5, abs=1e-6)


def test_every_node_takes_a_5_1_signal_or_says_why_not(tmp_path):
    """Each node type with an input, fed 5.1: it renders 5.1 (or the layout it is for)
    with finite samples, or refuses in one sentence naming the layout."""
    from mixgraph.nodes.base import node_class, node_types

    write(tmp_path / "bed.wav", np.vstack([seeded_noise(1.0, 1, seed=k, level_db=-20.0)[0]
                                           for k in range(6)]))
    refused = {}
    for name in node_types():
        cls = node_class(name)
        if not cls.inputs or not cls.outputs or not cls.__module__.startswith("mixgraph."):
            continue                                  # (the tests' own nodes too)
        g = Graph(sample_rate=SR, base_dir=tmp_path)
        g.add("stem", id="bed", path="bed.wav")
        node = g.add(name, id="n")
        g.connect("bed", node)
        g.add("output", id="out", path=f"{name}.wav", subtype="FLOAT")
        g.connect(node, "out")
        try:
            render(g)
        except MixgraphError as exc:
            refused[name] = exc.message
            continue
        got = read_internal(tmp_path / f"{name}.wav")
        assert np.isfinite(got).all(), name
        # the stereo ones: the fold-down, the (stereo) reverb, the strip's stereo output
        assert got.shape[0] == (2 if name in ("downmix", "reverb", "channel") else 6), name
        if name in ("gain", "bus", "group", "send", "eq", "meter", "stereo_width"):
            np.testing.assert_allclose(got, sf.read(str(tmp_path / "bed.wav"),
                                                    always_2d=True)[0].T, atol=1e-6,
                                       err_msg=name)     # at its defaults, as it came in
    assert set(refused) == {"surround_pan"}
    for name, message in refused.items():
        assert "5.1" in message, (name, message)


def test_a_5_1_stem_on_a_stereo_channel_strip_plays_folded_down(project):
    """A surround stem in a stereo mix (a 5.1 crowd on a strip of a stereo template):
    the strip folds it to Lo/Ro, the centre at -3 dB on both sides, the fader after."""
    project.stem("crowd", tone_on("5.1", "C", -20.0))
    project.graph.add("channel", id="crowd_ch", gain_db=-2.0)
    project.graph.connect("crowd", "crowd_ch")
    project.output(src="crowd_ch")
    project.render()
    got = project.read()
    assert got.shape[0] == 2
    for row in got:
        assert db(np.sqrt(np.mean(row ** 2)) * math.sqrt(2)) == pytest.approx(-25.0, abs=0.01)


def test_a_channel_strip_pans_a_mono_source_into_its_surround_output(project):
    """output 5.1, azimuth -110 (the right surround), fader -6 dB, LFE send -10 dB: the
    source on Rs alone at -6 dB, and the LFE carrying its lows."""
    project.stem("fx", sine(60.0, 1.0, -6.0))
    project.graph.add("channel", id="fx_ch", output="5.1", azimuth_deg=-110.0, gain_db=-6.0,
                      lfe_db=-10.0)
    project.graph.connect("fx", "fx_ch")
    project.output(src="fx_ch")
    project.render()
    got = read_internal(project.folder / "out" / "out.wav")
    lay = LAYOUTS["5.1"]
    level = {s: db(np.sqrt(np.mean(got[i, SR // 2:] ** 2)) * math.sqrt(2))
             for i, s in enumerate(lay.speakers) if got[i].any()}
    assert set(level) == {"Rs", "LFE"}
    assert level["Rs"] == pytest.approx(-12.0, abs=0.01)
    lows = -10 * math.log10(1 + (60.0 / 120.0) ** 8)
    assert level["LFE"] == pytest.approx(-6.0 - 6.0 - 10.0 + lows, abs=0.05)


@needs_ffmpeg
def test_the_5_1_demo_renders_a_5_1_master_and_its_stereo_fold_down(tmp_path):
    """``mixgraph demo`` writes surround.mgraph beside the stereo demo: rendered, its
    5.1 master carries the 5.1 channel mask and reaches its -16 LUFS target, and
    ffmpeg reads both it and the fold-down as the report does, within 0.1 LU."""
    from decoding import ffmpeg_loudness

    from mixgraph import load
    from mixgraph.workflows.demo import write_demo

    write_demo(tmp_path)
    report = render(load(tmp_path / "surround.mgraph"))
    outputs = {o["node"]: o for o in report.outputs}
    assert outputs["master_5_1"]["layout"] == "5.1" and outputs["fold_stereo"]["channels"] == 2
    assert outputs["master_5_1"]["integrated_lufs"] == pytest.approx(-16.0, abs=0.1)
    assert set(outputs["master_5_1"]["channel_peaks"]) == set(LAYOUTS["5.1"].speakers)
    for node in ("master_5_1", "fold_stereo"):
        theirs = ffmpeg_loudness(outputs[node]["path"])
        assert outputs[node]["integrated_lufs"] == pytest.approx(theirs["lufs"], abs=0.1)
        assert outputs[node]["true_peak_dbtp"] == pytest.approx(theirs["true_peak"], abs=0.2)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=channel_layout",
                            "-of", "csv=p=0", outputs["master_5_1"]["path"]],
                           capture_output=True, text=True).stdout.strip()
    assert probe == "5.1(side)"
    text = report.format()
    assert "5.1" in text and "true peak per channel: L" in text


@pytest.mark.parametrize("node, params", [
    ("compressor", {"threshold_db": -20.0, "ratio": 4.0}),
    ("limiter", {"ceiling_dbtp": -6.0}),
])
def test_an_lfe_kept_apart_does_not_pump_the_mains(project, node, params):
    """Quiet mains (noise at -40 dBFS, its peaks under the knee) over a loud LFE (50 Hz
    at -3 dBFS): linked, the
    LFE pulls every channel down; with lfe_apart, the mains pass untouched and only
    the LFE is held down."""
    lay = LAYOUTS["5.1"]
    x = np.vstack([seeded_noise(2.0, 1, seed=k, level_db=-40.0)[0] for k in range(6)])
    x[lay.lfe] = sine(50.0, 2.0, -3.0)[0]
    project.stem("bed", x)
    results = {}
    for apart in (False, True):
        g = project.graph
        if "dyn" in g.nodes:
            g.remove("dyn")
            g.remove("out")
        g.add(node, id="dyn", lfe_apart=apart, **params)
        g.connect("bed", "dyn")
        project.output(src="dyn")
        project.render()
        results[apart] = read_internal(project.folder / "out" / "out.wav")
    mains = [i for i in range(6) if i != lay.lfe]
    settled = slice(SR // 2, 3 * SR // 2)
    def level(y, rows):
        return db(np.sqrt(np.mean(y[rows, settled] ** 2)))
    assert level(results[False], mains) < level(x, mains) - 3.0          # pumped
    assert level(results[True], mains) == pytest.approx(level(x, mains), abs=0.01)
    for y in results.values():                                           # LFE held down
        assert level(y, [lay.lfe]) < level(x, [lay.lfe]) - 2.0


@needs_ffmpeg
def test_a_7_1_flac_is_written_and_read_in_flacs_channel_order(tmp_path):
    """FLAC's eight channels are FL FR FC LFE BL BR SL SR (as ffmpeg reads them): a
    tone on each speaker is where ffmpeg looks for it, and read back in place."""
    x = np.vstack([sine(150.0 * (k + 1), 0.5, -20.0)[0] for k in range(8)])   # internal
    write(tmp_path / "bed.wav", x)
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("stem", id="bed", path="bed.wav")
    g.add("output", id="out", path="bed.flac", subtype="PCM_24")
    g.connect("bed", "out")
    render(g)
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / "bed.flac"), "-f",
                              "f32le", "-"], capture_output=True, check=True).stdout
    theirs = np.frombuffer(decoded, dtype="<f4").reshape(-1, 8).T
    for k, speaker in enumerate(WAV_71):
        np.testing.assert_allclose(theirs[k], x[LAYOUTS["7.1"].index(speaker)], atol=1e-4)
    np.testing.assert_allclose(read_internal(tmp_path / "bed.flac"), x, atol=1e-4)


def test_a_5_1_and_a_7_0_meet_in_7_1_and_keep_the_lfe(project):
    project.stem("a", tone_on("5.1", "LFE", -20.0, freq=60.0))
    project.stem("b", tone_on("7.0", "Lrs", -20.0))
    project.graph.add("bus", id="mix")
    project.graph.connect("a", "mix")
    project.graph.connect("b", "mix")
    project.output(src="mix")
    project.render()
    got = read_internal(project.folder / "out" / "out.wav")
    lay = LAYOUTS["7.1"]
    assert got.shape[0] == 8
    np.testing.assert_allclose(got[lay.lfe], sine(60.0, 1.0, -20.0)[0], atol=1e-7)
    np.testing.assert_allclose(got[lay.index("Lrs")], sine(1000.0, 1.0, -20.0)[0], atol=1e-7)


def test_every_fold_to_mono_is_half_the_stereo_folds_sides_and_mono_passes():
    from mixgraph.nodes.layouts import matrix

    g = 10 ** (-3 / 20)                     # BS.775's -3 dB
    # 7.1 to mono, worked by hand from Lo/Ro: L and R reach one side at 1 (halved),
    # C both sides at -3 dB, every surround one side at -3 dB (halved), the LFE none
    expected = {"L": 0.5, "R": 0.5, "C": g, "LFE": 0.0, "Ls": 0.5 * g, "Rs": 0.5 * g,
                "Lrs": 0.5 * g, "Rrs": 0.5 * g}
    np.testing.assert_allclose(matrix(8, 1)[0], [expected[sp] for sp in
                                                 LAYOUTS["7.1"].speakers], atol=1e-12)
    np.testing.assert_allclose(matrix(2, 1), [[0.5, 0.5]])           # stereo: the mean
    lay = LAYOUTS["5.1"]
    mono = matrix(6, 1)[0]
    assert mono[lay.index("C")] == pytest.approx(10 ** (-3 / 20))      # 0.5 * 2 * -3 dB
    assert mono[lay.index("L")] == pytest.approx(0.5) and mono[lay.lfe] == 0.0
    assert matrix(12, 8)[LAYOUTS["7.1"].index("L"), LAYOUTS["7.1.4"].index("Ltf")] == \
        pytest.approx(10 ** (-3 / 20))                                   # heights at -3 dB


def test_a_mono_signal_through_a_downmix_passes_at_unity(project):
    project.stem("voice", sine(440.0, 0.5, -12.0))
    project.graph.add("downmix", id="fold", to="mono")
    project.graph.connect("voice", "fold")
    project.output(src="fold")
    np.testing.assert_allclose(project.render_read(), sine(440.0, 0.5, -12.0), atol=1e-7)


def test_the_5_1_demos_stems_are_5_1_files_that_sum_to_its_mix_bus(tmp_path):
    """Stem export of the 5.1 demo: one 5.1 file (with its mask) per link into the mix
    bus; summed, and through the bus's fader, they are the bus's output."""
    from mixgraph import load
    from mixgraph.nodes.audiofile import channel_mask
    from mixgraph.workflows.demo import write_demo
    from mixgraph.workflows.stems import render_stems

    write_demo(tmp_path)
    graph = load(tmp_path / "surround.mgraph")
    report = render_stems(graph, tmp_path / "stems")
    stems = [read_internal(o["path"]) for o in report.outputs]
    assert len(stems) == 5
    assert all(channel_mask(o["path"]) == LAYOUTS["5.1"].mask for o in report.outputs)
    g = load(tmp_path / "surround.mgraph")
    g.keep_only_feeding(["master_5_1"])
    g.add("output", id="tap", path=str(tmp_path / "mix.wav"), subtype="FLOAT")
    g.connect("mix", "tap")
    render(g, allow_outside=True)
    mix = read_internal(tmp_path / "mix.wav")
    n = min(mix.shape[1], min(s.shape[1] for s in stems))
    total = sum(s[:, :n] for s in stems) * 10 ** (-2.5 / 20)
    assert db(np.abs(total - mix[:, :n]).max()) < -120.0


def test_elevation_lifts_a_source_onto_the_heights_at_constant_power():
    """7.1.4: at elevation 0 nothing on the heights; at 90, at a height speaker's
    azimuth (45: Ltf), that speaker alone at unity; the power 1 throughout."""
    from mixgraph.nodes.surround import pan_gains

    lay = LAYOUTS["7.1.4"]
    heights = [lay.index(s) for s in ("Ltf", "Rtf", "Ltr", "Rtr")]
    az = np.linspace(-180.0, 180.0, 361)
    for elevation in (0.0, 30.0, 60.0, 90.0):
        g = pan_gains(lay, az, 0.0, elevation)
        assert np.abs(10 * np.log10((g ** 2).sum(axis=0))).max() < 0.1
        if elevation == 0.0:
            assert not g[heights].any()
    top = pan_gains(lay, 45.0, 0.0, 90.0)[:, 0]
    assert top[lay.index("Ltf")] == pytest.approx(1.0, abs=1e-12)
    assert np.count_nonzero(top > 1e-12) == 1
    half = pan_gains(lay, 30.0, 0.0, 45.0)[:, 0]            # L below, between heights above
    assert half[lay.index("L")] == pytest.approx(math.sqrt(0.5), abs=1e-12)
