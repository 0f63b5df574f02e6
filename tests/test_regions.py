"""Clip regions on a stem: each plays its span of the file at its place on the
timeline, sample-exact; fades follow their closed forms; overlapping regions
crossfade at equal power (within 0.1 dB) or, for the same material, play it through;
regions that meet crossfade over the file beyond their edges; the sound is the same
at any block size; the regions survive save, load and diff in a user's words; the
rules (overlaps, spans outside the file, fades) are checked with one sentence each;
a stem of version 1 (offset_s, length_s) loads as regions; and a region seeks in its
file instead of reading it."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from conftest import BLOCK_SIZES, SR, db, seeded_noise
from mixgraph import Graph, load, render, save, validate
from mixgraph.errors import MixgraphError, ParameterError
from mixgraph.workflows.diff import diff


def clicks(seconds: float, at: list[int], sr: int = SR) -> np.ndarray:
    """Silence with a click of a distinct height at each file sample of ``at``."""
    x = np.zeros((1, int(seconds * sr)))
    for k, n in enumerate(at):
        x[0, n] = 0.1 * (k + 1)
    return x


def heights(y: np.ndarray) -> dict[int, float]:
    """Where the clicks landed: {timeline sample: height}."""
    nz = np.flatnonzero(y[0])
    return {int(n): round(float(y[0, n]), 6) for n in nz}


# ================================================================= placement
def test_a_click_at_a_file_position_lands_at_the_predicted_timeline_sample(project):
    """Region k plays file sample f at timeline sample round(at_s*sr) + f -
    round(from_s*sr); clicks outside every region (the cuts) never sound."""
    at = [1000, 20000, 30000, 50000, 70000, 90000]
    project.stem("take", clicks(2.0, at),
                 regions=[{"at_s": 0.5, "from_s": 0.0, "length_s": 0.5},        # 0..24000
                          {"at_s": 0.1, "from_s": 1.0, "length_s": 0.4},        # 48000..67200
                          {"at_s": 3.0, "from_s": 1.8}],                        # to the end
                 crossfade_ms=0.0)
    project.output(src="take")
    y = project.render_read()
    expected = {24000 + 1000: 0.1, 24000 + 20000: 0.2,       # region 0 (30000 is cut)
                4800 + 50000 - 48000: 0.4,                    # region 1 (70000 is cut)
                144000 + 90000 - 86400: 0.6}                  # region 2
    assert heights(y) == pytest.approx(expected)
    assert y.shape[1] == 144000 + 96000 - 86400                # ends with the last region


def test_region_gain_and_the_stem_gain_multiply(project):
    x = np.full((1, SR), 0.25)
    project.stem("dc", x, gain_db=-6.0, regions=[{"gain_db": -3.0}])
    project.output(src="dc")
    y = project.render_read()[0]
    assert db(y[100] / 0.25) == pytest.approx(-9.0, abs=1e-6)      # FLOAT output


def test_no_regions_is_silence_and_the_default_is_the_whole_file(project):
    x = seeded_noise(0.5)
    project.stem("all", x)
    project.output("whole", src="all")
    project.render()
    np.testing.assert_array_equal(project.read("whole"), x.astype(np.float32))
    project.graph.set("all", "regions", [])
    project.graph.add("tone", id="t", duration_s=0.2)      # the song needs a length
    project.graph.add("bus", id="mix")
    project.graph.connect("all", "mix")
    project.graph.connect("t", "mix")
    project.graph.set("t", "level_dbfs", -120.0)
    project.render()
    assert np.max(np.abs(project.read("whole"))) == 0.0


# ====================================================================== fades
@pytest.mark.parametrize("curve, law", [
    ("linear", lambda t: t),
    ("equal_power", lambda t: np.sin(np.pi * t / 2)),
    ("s_curve", lambda t: (1 - np.cos(np.pi * t)) / 2),
])
def test_fades_follow_their_closed_form(project, curve, law):
    """On a constant 0.5, a fade in of N samples has gain f((k + 1/2) / N) at its
    sample k and a fade out mirrors it (f(1 - t)); between them the level is 0.5."""
    x = np.full((1, SR), 0.5)
    n_in, n_out = 4800, 9600
    project.stem("dc", x, regions=[{"fade_in_s": n_in / SR, "fade_out_s": n_out / SR,
                                    "fade_in_curve": curve, "fade_out_curve": curve}])
    project.output(src="dc")
    y = project.render_read()[0]
    k = np.arange(n_in)
    np.testing.assert_allclose(y[:n_in], 0.5 * law((k + 0.5) / n_in), rtol=0, atol=1e-7)
    k = np.arange(n_out)
    np.testing.assert_allclose(y[-n_out:], 0.5 * law(1 - (k + 0.5) / n_out), rtol=0,
                               atol=1e-7)
    np.testing.assert_array_equal(y[n_in:-n_out], 0.5)


# ================================================================= crossfades
def _gains(y: np.ndarray, parts: list[np.ndarray], window: int) -> np.ndarray:
    """Least-squares gains of each of ``parts`` in ``y``, window by window."""
    out = []
    for a in range(0, y.size - window + 1, window):
        basis = np.stack([p[a:a + window] for p in parts], axis=1)
        g, *_ = np.linalg.lstsq(basis, y[a:a + window], rcond=None)
        out.append(g)
    return np.array(out)


def test_overlapping_regions_crossfade_at_equal_power(project):
    """Two regions from two tones of the file overlap by 0.5 s: across the overlap the
    earlier tone falls and the later rises, and the sum of their squared gains stays
    1 (0 dB) within 0.1 dB; at the middle each is at -3.01 dB."""
    f1, f2 = 500.0, 700.0
    t = np.arange(2 * SR) / SR
    x = np.concatenate([0.5 * np.sin(2 * np.pi * f1 * t), 0.5 * np.sin(2 * np.pi * f2 * t)])
    project.stem("two", x[None, :],
                 regions=[{"at_s": 0.0, "from_s": 0.0, "length_s": 1.5},
                          {"at_s": 1.0, "from_s": 2.0, "length_s": 1.5}])
    project.output(src="two")
    y = project.render_read()[0]
    a, b = SR, int(1.5 * SR)                                   # the overlap
    k = np.arange(a, b)
    tone1 = 0.5 * np.sin(2 * np.pi * f1 * k / SR)              # file sample = timeline
    tone2 = 0.5 * np.sin(2 * np.pi * f2 * (k - SR) / SR)       # file 2 s at timeline 1 s
    g = _gains(y[a:b], [tone1, tone2], 480)                    # 10 ms windows
    power_db = 10 * np.log10(np.sum(g ** 2, axis=1))
    assert np.max(np.abs(power_db)) < 0.1
    assert g[0, 0] > 0.99 and g[-1, 1] > 0.99                  # one side at each end
    middle = (b - a) // 2 - 240                                # a window centred on it
    centre = _gains(y[a + middle:a + middle + 480],
                    [tone1[middle:middle + 480], tone2[middle:middle + 480]], 480)[0]
    assert 20 * np.log10(centre) == pytest.approx([-3.01, -3.01], abs=0.05)
    # outside the overlap each region plays alone and unchanged
    np.testing.assert_allclose(y[:a], 0.5 * np.sin(2 * np.pi * f1 * np.arange(a) / SR),
                               atol=1e-7)


def test_a_region_split_in_two_and_overlapped_plays_the_file_through(project):
    """Where both regions play the same file samples at the same time, the crossfade
    is at equal gain whatever the stem's law: the file comes out unchanged."""
    x = seeded_noise(2.0, seed=9)
    project.stem("split", x, regions=[{"length_s": 1.2}, {"at_s": 0.8, "from_s": 0.8}])
    project.output(src="split")
    y = project.render_read()
    np.testing.assert_allclose(y, x.astype(np.float32), rtol=0, atol=1e-7)


def test_regions_that_meet_crossfade_over_the_file_beyond_their_edges(project):
    """Region 0 ends at 1 s just as region 1 begins: a 20 ms crossfade centred on the
    join reads 10 ms of the file past region 0's end and 10 ms before region 1's
    start, at equal power."""
    f1, f2 = 400.0, 900.0
    t = np.arange(2 * SR) / SR
    x = np.concatenate([0.5 * np.sin(2 * np.pi * f1 * t), 0.5 * np.sin(2 * np.pi * f2 * t)])
    project.stem("joined", x[None, :], crossfade_ms=20.0,
                 regions=[{"at_s": 0.0, "from_s": 0.0, "length_s": 1.0},
                          {"at_s": 1.0, "from_s": 3.0, "length_s": 0.5}])
    project.output(src="joined")
    y = project.render_read()[0]
    a, b = SR - 480, SR + 480
    k = np.arange(a, b)
    tone1 = 0.5 * np.sin(2 * np.pi * f1 * k / SR)
    tone2 = 0.5 * np.sin(2 * np.pi * f2 * (k + 2 * SR) / SR)  # timeline 1 s = file 3 s
    n = b - a
    law = np.sin(np.pi / 2 * (np.arange(n) + 0.5) / n)
    np.testing.assert_allclose(y[a:b], tone1 * law[::-1] + tone2 * law, atol=1e-7)
    np.testing.assert_allclose(y[a - 100:a], 0.5 * np.sin(2 * np.pi * f1 * np.arange(a - 100, a)
                                                         / SR), atol=1e-7)


def test_a_join_at_the_file_start_has_no_material_before_it_and_cuts(project):
    """Region 1 starts at file sample 0: there is nothing before it to fade from, so
    the join is a plain cut (no sample of region 0 past its end sounds)."""
    x = clicks(1.0, [100, 24000 + 50])
    project.stem("cut", x, crossfade_ms=20.0,
                 regions=[{"at_s": 0.0, "from_s": 0.25, "length_s": 0.25},
                          {"at_s": 0.25, "from_s": 0.0, "length_s": 0.25}])
    project.output(src="cut")
    y = project.render_read()
    assert heights(y) == {12000 + 100: 0.1}                    # the click past 0.5 s is cut


# ============================================================ block invariance
@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    """A stem with a cut, a move, a fade, an overlap and a join, at 48 kHz and from a
    44.1 kHz file (resampled as it is read)."""
    from conftest import ProjectHelper

    project = ProjectHelper(tmp_path_factory.mktemp("regions"))
    regions = [{"at_s": 0.0, "from_s": 0.1, "length_s": 0.4, "fade_in_s": 0.05},
               {"at_s": 0.35, "from_s": 1.0, "length_s": 0.3, "gain_db": -4.0},
               {"at_s": 0.65, "from_s": 0.2, "length_s": 0.25, "fade_out_s": 0.1,
                "fade_out_curve": "s_curve"},
               {"at_s": 1.2, "from_s": 0.6, "fade_in_s": 0.02}]
    project.stem("native", seeded_noise(1.5, channels=2, seed=3), regions=regions)
    project.stem("rs", seeded_noise(1.5, seed=4, sr=44100), sr=44100, regions=regions)
    for node in ("native", "rs"):
        project.output(node + "_out", src=node)
    project.render(block_size=4096)
    whole = {n: project.read(n + "_out") for n in ("native", "rs")}
    return project, whole


@pytest.mark.parametrize("block", BLOCK_SIZES)
def test_regions_sound_the_same_at_any_block_size(edited, block):
    project, whole = edited
    project.render(block_size=block)
    for node, expected in whole.items():
        got = project.read(node + "_out")
        assert got.shape == expected.shape
        bad = np.flatnonzero(np.any(got != expected, axis=0))
        assert bad.size == 0, f"{node}: mismatch in samples {bad[0]:,}-{bad[-1]:,}"


# ================================================================ save, diff
def test_regions_round_trip_through_save_load_and_diff(project, tmp_path):
    regions = [{"at_s": 1.0, "from_s": 0.5, "length_s": 2.0, "gain_db": -2.0,
                "fade_in_s": 0.01, "fade_in_curve": "linear"},
               {"at_s": 2.9, "from_s": 4.0, "length_s": 1.0}]
    project.stem("vox", seeded_noise(6.0), regions=regions)
    project.output(src="vox")
    for name in ("p.json", "p.mgraph"):
        save(project.graph, tmp_path / name)
        again = load(tmp_path / name)
        assert again.nodes["vox"].params["regions"] == regions
        assert diff(project.graph, again) == []
    after = load(tmp_path / "p.json")
    moved = [dict(regions[0]), dict(regions[1], at_s=3.5)]
    after.set("vox", "regions", moved)
    assert diff(project.graph, after) == \
        ["vox: regions: region 1 moved from 2.900 s to 3.500 s"]
    trimmed = [dict(regions[0], at_s=1.5, from_s=1.0, length_s=1.5), regions[1]]
    after.set("vox", "regions", trimmed)
    assert diff(project.graph, after) == \
        ["vox: regions: region 0 start trimmed later by 0.500 s (now at 1.500 s)"]
    after.set("vox", "regions", [regions[1]])
    assert diff(project.graph, after) == [
        "vox: regions: region 0 removed (1.000-3.000 s, from 0.500 s of the file, "
        "-2.0 dB, fade in 0.010 s linear)"]


def test_mixgraph_diff_names_the_region_change(project, tmp_path):
    project.stem("gtr", seeded_noise(3.0), regions=[{"at_s": 0.0, "length_s": 1.0}])
    project.output(src="gtr")
    save(project.graph, tmp_path / "a.json")
    project.graph.set("gtr", "regions", [{"at_s": 0.0, "length_s": 1.0},
                                         {"at_s": 2.0, "from_s": 1.5, "fade_out_s": 0.2}])
    save(project.graph, tmp_path / "b.json")
    done = subprocess.run([sys.executable, "-m", "mixgraph", "diff", str(tmp_path / "a.json"),
                           str(tmp_path / "b.json")], capture_output=True, text=True)
    assert "region 1 added (from 2.000 s to the file's end, from 1.500 s of the file, " \
           "fade out 0.200 s equal_power)" in done.stdout


# ================================================================ the rules
@pytest.mark.parametrize("regions, words", [
    ([{"at_s": 0.0, "length_s": 2.0}, {"at_s": 0.5, "length_s": 1.0}],
     "region 1 (0.500-1.500 s) lies inside region 0 (0.000-2.000 s)"),
    ([{"at_s": 0.0, "length_s": 1.0}, {"at_s": 0.5, "length_s": 1.0},
      {"at_s": 0.8, "length_s": 1.0}],
     "regions 0, 1 and 2 all sound at 0.800 s"),
    ([{"at_s": 0.0, "length_s": 1.0, "fade_in_s": 0.6, "fade_out_s": 0.6}],
     "region 0's fades (0.6 s in, 0.6 s out) are longer than the region (1 s)"),
    ([{"length_s": -1.0}], "region 0 length_s must be between 0 and 86400 s, got -1.0"),
    ([{"at_s": 1.0, "start": 2.0}], "region 0 has no field 'start'"),
])
def test_broken_regions_are_refused_naming_the_stem_and_region(project, regions, words):
    project.stem("vox", seeded_noise(3.0))
    with pytest.raises(ParameterError) as caught:
        project.graph.set("vox", "regions", regions)
    assert "'vox'" in caught.value.message and words in caught.value.message


@pytest.mark.parametrize("region, words", [
    ({"from_s": 4.0}, "region 0 starts at 4.000 s of the file, which is only 3.000 s long"),
    ({"at_s": 0.0}, None),
])
def test_a_region_outside_its_file_is_found_by_validation_and_by_render(project, region,
                                                                      words):
    project.stem("vox", seeded_noise(3.0), regions=[region])
    project.output(src="vox")
    found = [e.message for e in validate(project.graph).errors]
    if words is None:
        assert found == []
        return
    assert found == [f"stem 'vox': regions: {words}"]            # once, not twice
    with pytest.raises(MixgraphError, match=words):
        project.render()
    assert not (project.folder / "out").exists() or not any((project.folder / "out").iterdir())


def test_a_region_running_past_its_file_plays_to_the_end_and_says_so(project):
    """A cut longer than the file (as a stem of version 1 could hold) is noted by
    validation and the render, and plays to the file's end."""
    x = seeded_noise(3.0)
    project.stem("vox", x, regions=[{"from_s": 2.0, "length_s": 1.5}])
    project.output(src="vox")
    v = validate(project.graph)
    assert v.ok and v.warnings == [
        "stem 'vox': regions: region 0 runs to 3.500 s of the file, past its end at "
        "3.000 s: it plays to the end"]
    report = project.render()
    assert any("past its end" in n for n in report.notices)
    np.testing.assert_array_equal(project.read(), x[:, 2 * SR:].astype(np.float32))


def test_the_cli_refuses_an_overlap_in_one_sentence(project, tmp_path):
    project.stem("vox", seeded_noise(3.0))
    project.output(src="vox")
    save(project.graph, tmp_path / "p.json")
    doc = json.loads((tmp_path / "p.json").read_text())
    vox = next(n for n in doc["nodes"] if n["id"] == "vox")
    vox["params"]["regions"] = [{"length_s": 1.0}, {"at_s": 0.2, "length_s": 2.0},
                                {"at_s": 0.5, "length_s": 2.0}]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    done = subprocess.run([sys.executable, "-m", "mixgraph", "render", str(tmp_path / "p.json")],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "regions 0, 1 and 2 all sound at 0.500 s" in done.stderr
    assert "Traceback" not in done.stderr


# ============================================================ version 1 stems
@pytest.mark.parametrize("offset, length, expected", [
    (0.25, 0.0, [{"at_s": 0.25}]),
    (-0.1, 0.0, [{"from_s": 0.1}]),
    (0.25, 0.3, [{"at_s": 0.25, "length_s": 0.3}]),
    (-0.1, 0.3, [{"from_s": 0.1, "length_s": 0.2}]),
    (-0.5, 0.3, []),                                            # cut before it starts
    (0.25, 30.0, [{"at_s": 0.25, "length_s": 30.0}]),           # longer than the file
    (-1.0, 1.0000000001, []),                                   # under a sample left
])
def test_a_version_1_stem_loads_as_regions_and_plays_as_before(project, tmp_path, offset,
                                                                length, expected):
    """Version 1 placed the whole file by offset_s and cut it after length_s (from
    the offset): the click at file 0.3 s lands where it did."""
    path = project.stem_file("old", clicks(1.0, [int(0.3 * SR)]))
    params = {"path": path, "offset_s": offset, "length_s": length}
    doc = {"format": "mixgraph", "version": 1, "sample_rate": SR,
           "nodes": [{"id": "old", "type": "stem", "params": params},
                     {"id": "t", "type": "tone", "params": {"duration_s": 1.0,
                                                            "level_dbfs": -120.0}},
                     {"id": "mix", "type": "bus"},
                     {"id": "out", "type": "output", "params": {"path": "out/out.wav",
                                                                "subtype": "FLOAT"}}],
           "links": [["old.out", "mix.in"], ["t.out", "mix.in"], ["mix.out", "out.in"]]}
    (tmp_path / "old.json").write_text(json.dumps(doc))
    g = load(tmp_path / "old.json")
    assert g.nodes["old"].version == 2
    assert g.nodes["old"].params.get("regions", [{}]) == expected
    render(g)
    y, _ = sf.read(str(tmp_path / "out" / "out.wav"), always_2d=True)
    played = int(round((0.3 + offset) * SR))
    audible = 0 <= played and (length == 0 or 0.3 + offset < offset + length)
    peaks = np.flatnonzero(np.abs(y[:, 0]) > 0.01).tolist()
    assert peaks == ([played] if audible else [])


# ================================================================== streaming
def test_a_region_seeks_in_its_file_instead_of_reading_it(project, monkeypatch):
    """A 0.5 s region 50 s into a 60 s FLAC reads about 0.5 s of the file (libsndfile
    seeks), not the 50 s before it."""
    x = seeded_noise(60.0, seed=5, level_db=-30.0)
    (project.folder / "stems").mkdir(exist_ok=True)
    sf.write(str(project.folder / "stems" / "long.flac"), x.T, SR, subtype="PCM_16")
    project.graph.add("stem", id="long", path="stems/long.flac",
                      regions=[{"at_s": 0.0, "from_s": 50.0, "length_s": 0.5}])
    project.output(src="long")
    read = []
    real = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        got = real(self, frames, *args, **kwargs)
        read.append(len(got))
        return got

    monkeypatch.setattr(sf.SoundFile, "read", counting)
    y = project.render_read()
    assert sum(read) < 2 * SR                                  # the region and a chunk
    expected = np.round(x[:, 50 * SR:int(50.5 * SR)] * 32768) / 32768
    np.testing.assert_allclose(y, expected, atol=1e-6)
    assert math.isclose(y.shape[1], 0.5 * SR)


# ========================================================= the editor's gestures
@pytest.mark.parametrize("rate", [44100, 48000])
def test_a_split_anywhere_plays_the_file_through(tmp_path, rate):
    """At 44.1 kHz a millisecond is 44.1 samples: a region at 5 ms split at many
    places (the editor's split, on a sample) still plays the file through, bit for
    bit, and is exactly as long."""
    from conftest import ProjectHelper
    from mixgraph.editor.regions_view import split

    project = ProjectHelper(tmp_path)
    project.graph.sample_rate = rate
    x = seeded_noise(1.0, seed=12, sr=rate)
    whole = [{"at_s": 0.005, "from_s": 0.0, "length_s": 0.9}]
    project.stem("a", x, sr=rate, regions=whole)
    project.output(src="a")
    before = project.render_read()
    for cut in np.random.default_rng(5).uniform(0.01, 0.9, 12):
        halves = split(whole, 0, float(cut), 1.0, rate)
        assert len(halves) == 2 and halves[1]["from_s"] - halves[1]["at_s"] == \
            pytest.approx(-0.005, abs=1e-12)
        project.graph.set("a", "regions", halves)
        np.testing.assert_array_equal(project.render_read(), before, err_msg=f"cut {cut}")


def test_regions_meeting_in_seconds_meet_on_a_sample_at_44k1(tmp_path):
    """4 ms + 4 ms at 44.1 kHz (176.4 + 176.4 samples): the second starts on the
    sample the first ends, with no gap and no overlap (crossfade_ms 0: a plain cut)."""
    from conftest import ProjectHelper

    project = ProjectHelper(tmp_path)
    project.graph.sample_rate = 44100
    x = np.full((1, 44100), 0.5)
    project.stem("a", x, sr=44100, crossfade_ms=0.0,
                 regions=[{"at_s": 0.004, "length_s": 0.004}, {"at_s": 0.008, "from_s": 0.1}])
    project.output(src="a")
    y = project.render_read()[0]
    nz = np.flatnonzero(y)
    assert np.all(y[nz[0]:] == 0.5) and nz[0] == 176      # 0.004 s: 176.4 -> 176


def test_a_split_keeps_each_half_its_outer_fade():
    from mixgraph.editor.regions_view import split

    whole = [{"at_s": 0.5, "from_s": 0.2, "length_s": 2.0, "fade_in_s": 0.1,
              "fade_out_s": 0.2, "gain_db": -1.0}]
    first, second = split(whole, 0, 1.25, 3.0, SR)
    assert (first["fade_in_s"], "fade_out_s" in first) == (0.1, False)
    assert (second["fade_out_s"], "fade_in_s" in second) == (0.2, False)
    assert first["gain_db"] == second["gain_db"] == -1.0
    assert split(whole, 0, 3.0, 3.0, SR) == whole                # outside: no change


def test_a_region_shorter_than_a_sample_plays_one_sample_not_the_file(project):
    x = np.full((1, SR), 0.25)
    project.stem("a", x, regions=[{"at_s": 0.5, "length_s": 1e-5}])
    project.output(src="a")
    y = project.render_read()[0]
    assert np.flatnonzero(y).tolist() == [SR // 2]


def test_a_move_or_a_trim_keeps_the_material_in_place_and_inside_the_file():
    from mixgraph.editor.regions_view import moved, trimmed

    r = [{"at_s": 1.0, "from_s": 0.5, "length_s": 2.0}]
    assert moved(r, 0, 0.25, SR) == [{"at_s": 1.25, "from_s": 0.5, "length_s": 2.0}]
    assert moved(r, 0, -5.0, SR)[0]["at_s"] == 0.0                   # not before the start
    start = trimmed(r, 0, "start", 0.3, 10.0, SR)[0]
    assert (start["at_s"], start["from_s"], start["length_s"]) == \
        pytest.approx((1.3, 0.8, 1.7), abs=1e-12)
    assert trimmed(r, 0, "start", -2.0, 10.0, SR)[0]["from_s"] == 0.0    # the file's start
    assert trimmed(r, 0, "end", 20.0, 10.0, SR)[0]["length_s"] == 9.5    # the file's end
    assert trimmed(r, 0, "end", -5.0, 10.0, SR)[0]["length_s"] == 0.01   # at least 10 ms
    # by whole samples at 44.1 kHz: the material under the rest stays on its sample
    from mixgraph.nodes.regions import samples
    for by in np.random.default_rng(1).uniform(-0.4, 0.9, 200):
        t = trimmed(r, 0, "start", float(by), 10.0, 44100)[0]
        assert samples(t["from_s"], 44100) - samples(t["at_s"], 44100) == \
            samples(0.5, 44100) - samples(1.0, 44100)


def test_the_strip_draws_each_region_where_it_plays_and_grabs_edges_first():
    from mixgraph.editor.regions_view import boxes, grab

    regions = [{"at_s": 0.0, "length_s": 2.0}, {"at_s": 1.5, "from_s": 3.0, "length_s": 2.5},
               {"at_s": 5.0, "start": 1}]                         # a broken one: not drawn
    found, shown = boxes(regions, 10.0, 400)
    assert shown == 4.0
    assert [(b.index, b.x0, b.x1) for b in found] == [(0, 0.0, 200.0), (1, 150.0, 400.0)]
    assert grab(found, 198) == (0, "end")
    assert grab(found, 153) == (1, "start")
    assert grab(found, 180) == (1, "body")                        # the later one on top
    assert grab(found, 50) == (0, "body")
    joined, _ = boxes([{"length_s": 1.0}, {"at_s": 1.0, "from_s": 1.0, "length_s": 1.0}],
                      10.0, 200)
    assert grab(joined, 98) == (0, "end") and grab(joined, 102) == (1, "start")


def test_diff_pairs_a_moved_region_beside_a_removed_one():
    """[A, B, C] to [A, C moved]: B removed and C moved, not C removed and B changed;
    a start trimmed by a drag reads as a trim though its sums leave float noise."""
    from mixgraph.nodes.regions import change

    a = {"at_s": 0.0, "length_s": 2.0}
    b = {"at_s": 4.0, "from_s": 4.0, "length_s": 2.0}
    c = {"at_s": 8.0, "from_s": 8.0, "length_s": 2.0}
    g1, g2 = Graph(), Graph()
    for g, regions in ((g1, [a, b, c]), (g2, [a, dict(c, at_s=9.0)])):
        g.add("stem", id="s", path="x.wav", regions=regions)
    assert diff(g1, g2) == ["s: regions: region 1 (was 2) moved from 8.000 s to 9.000 s; "
                            "region 1 removed (4.000-6.000 s, from 4.000 s of the file)"]
    trim = {"at_s": 1.0 + 0.1, "from_s": 0.5 + 0.1, "length_s": 2.0 - 0.1}
    assert change({"at_s": 1.0, "from_s": 0.5, "length_s": 2.0}, trim) == \
        "start trimmed later by 0.100 s (now at 1.100 s)"


def test_offset_s_in_a_script_still_works_with_a_future_warning(project):
    with pytest.warns(FutureWarning, match=r"regions=\[\{'at_s': 1.5\}\]"):
        project.stem("x", seeded_noise(0.1), offset_s=1.5)
    assert project.graph.nodes["x"].params["regions"] == [{"at_s": 1.5}]
