"""Every shipped template bound to realistic DAW exports (tests/exports.py: track
numbers, spaces and brackets, close and room mics, DI and amp, doubles, L/R pairs,
click, guide and count-in, a mix and its master, a region with a time reference,
mixed rates, depths and containers, a subfolder, files that cannot be mixed), through
`mixgraph new --json` in a process of its own: each file's fate against the export's
ground truth, the strips and pans built, the offsets, the rate, and a render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from exports import band_export, mastering_folder, podcast_folder, stems_for_stem_master
from mixgraph import load, render, validate

IGNORED = {"click", "count_in", "guide", "reference", "mix", "mastered"}


def new(template: str, stems: Path, out: Path, *more) -> tuple[dict, subprocess.CompletedProcess]:
    run = subprocess.run([sys.executable, "-m", "mixgraph", "new", "-t", template, "--stems",
                          str(stems), "-o", str(out), "--json", *map(str, more)],
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, XDG_DATA_HOME=str(out.parent / "xdg")))
    return (json.loads(run.stdout) if run.returncode == 0 else {}), run


def band_expected(export) -> dict[str, tuple[str, str]]:
    """What a mix engineer expects of the band template, from the ground truth alone."""
    out = {}
    guitar_slots = {"left": "gtr_l", "right": "gtr_r"}
    free_guitars = dict(guitar_slots)
    for rel, f in sorted(export.files.items()):
        if f.family == "guitar" and f.side:
            free_guitars.pop(f.side, None)
    for rel, f in sorted(export.files.items()):
        if not f.audio:
            continue
        fam = f.family
        if fam in IGNORED:
            out[rel] = ("ignored", "")
        elif fam in ("kick", "snare", "hats", "toms", "overheads", "room", "bass"):
            out[rel] = ("bound", fam)
        elif fam in ("keys", "strings", "brass"):
            out[rel] = ("bound", "keys")
        elif fam == "backing" or (fam == "vocals" and "double" in f.qualifiers):
            out[rel] = ("bound", "bvs")
        elif fam == "vocals":
            out[rel] = ("bound", "lead_vox")
        elif fam == "guitar" and f.side:
            out[rel] = ("bound", guitar_slots[f.side])
        elif fam == "guitar" and free_guitars:
            side = sorted(free_guitars)[0]
            out[rel] = ("bound", free_guitars.pop(side))
        else:                                   # percussion, fx, a guitar too many
            out[rel] = ("catch-all", "mix")
    return out


def fates(binding: dict) -> dict[str, tuple[str, str]]:
    return {f["file"]: (f["fate"], f["slot"]) for f in binding["files"]}


@pytest.fixture(scope="module")
def band(tmp_path_factory):
    folder = tmp_path_factory.mktemp("band")
    export = band_export(folder / "song")
    binding, run = new("band", export.folder, folder / "project" / "song.mgraph")
    assert run.returncode == 0, run.stderr
    return export, binding, folder / "project" / "song.mgraph"


def test_every_file_of_a_band_export_has_the_fate_an_engineer_expects(band):
    export, binding, _ = band
    assert fates(binding) == band_expected(export)
    skipped = {rel for rel, f in export.files.items() if not f.audio}
    assert skipped and not skipped & set(fates(binding))       # .DS_Store, ._*, notes


def test_the_band_export_gets_a_strip_per_file_and_its_pairs_keep_their_image(band):
    export, binding, path = band
    g = load(path)
    by_file = {f["file"]: f for f in binding["files"]}
    strips = [f["nodes"] for f in binding["files"] if f["fate"] == "bound"]
    assert len({s[0] for s in strips}) == len(strips)                # one stem each
    for rel, f in export.files.items():
        if f.pair and by_file[rel]["slot"] == "overheads":
            channel = next(n for n in by_file[rel]["nodes"] if g.nodes[n].type == "channel")
            assert g.nodes[channel].params["pan"] == (-1.0 if f.side == "left" else 1.0)
    # snare top and bottom: a channel each, so each has its own fader and polarity
    snares = [by_file[r]["nodes"] for r in ("03 Snare Top.wav", "04 Snare Bottom.wav")]
    channels = [next(n for n in s if g.nodes[n].type == "channel") for s in snares]
    assert len(set(channels)) == 2


def test_the_band_export_keeps_its_timeline_and_its_rate(band):
    export, binding, path = band
    g = load(path)
    for f in binding["files"]:
        truth = export.files[f["file"]]
        if f["fate"] in ("bound", "catch-all"):
            assert f["offset_s"] == pytest.approx(truth.offset_s, abs=1e-6), f["file"]
            stem = g.nodes[f["nodes"][0]]
            at = stem.params.get("regions", [{}])[0].get("at_s", 0.0)
            assert at == pytest.approx(truth.offset_s, abs=1e-6)
    assert binding["sample_rate"] == g.sample_rate == 48000


def test_the_band_export_renders_with_every_part_in_the_mix(band):
    export, binding, path = band
    g = load(path)
    assert validate(g).ok
    report = render(g, workers=1)
    resampled = [n for n in report.notices if n.startswith("resampled")]
    assert len(resampled) == 1 and "12 Bass Amp.wav (96000 Hz, stem 'bass_2')" in resampled[0] \
        and "19 BV 2.aif (44100 Hz, stem 'bvs_2')" in resampled[0]
    mix = report.output("mix_out")
    assert mix["integrated_lufs"] > -30 and mix["true_peak_dbtp"] < 0
    # the region guitar plays from its time reference: silence before it in its stem
    solo = next(f for f in binding["files"] if f["file"] == "Gtr Solo_02.wav")
    assert solo["offset_s"] == pytest.approx(2.0)


@pytest.mark.parametrize("variant", [
    dict(lead_instrument_without_vocal=True),
    dict(synth_bass=True, extras=True),
    dict(rate=44100, mixed_rates=True),
    dict(session_start_s=3600.0, region_offset_s=16.0, region_chunk="iXML"),
    dict(numbering="underscore", pair_style="dot"),
    dict(numbering="ableton", pair_style="word"),
])
def test_band_export_variants_bind_as_expected(tmp_path, variant):
    export = band_export(tmp_path / "song", **variant)
    binding, run = new("band", export.folder, tmp_path / "p" / "song.mgraph")
    assert run.returncode == 0, run.stderr
    assert fates(binding) == band_expected(export)
    if variant.get("lead_instrument_without_vocal"):
        lead = [r for r, f in export.files.items() if f.family == "guitar"
                and "lead" in f.qualifiers]
        assert lead and all(fates(binding)[r][1] != "lead_vox" for r in lead)
    if "rate" in variant:
        assert binding["sample_rate"] == 44100
    for f in binding["files"]:
        if f["fate"] in ("bound", "catch-all"):
            assert f["offset_s"] == pytest.approx(export.files[f["file"]].offset_s, abs=1e-6)


def test_a_band_export_with_files_that_cannot_be_mixed_stops_naming_them(tmp_path):
    export = band_export(tmp_path / "song", faults=True)
    bad = sorted(r for r, f in export.files.items() if f.audio and not f.usable)
    assert len(bad) >= 3
    binding, run = new("band", export.folder, tmp_path / "p" / "song.mgraph")
    assert run.returncode == 1 and not (tmp_path / "p").exists()
    for rel in bad:
        assert Path(rel).name in run.stderr
    ignores = [a for rel in bad for a in ("--ignore", Path(rel).name)]
    binding, run = new("band", export.folder, tmp_path / "p" / "song.mgraph", *ignores)
    assert run.returncode == 0, run.stderr
    assert {rel for rel in bad} == {f["file"] for f in binding["files"]
                                    if f["fate"] == "ignored" and "--ignore" in f["why"]}


def test_the_mastering_template_binds_the_mix_beside_its_master(tmp_path):
    export = mastering_folder(tmp_path / "song")
    binding, run = new("mastering", export.folder, tmp_path / "p" / "m.mgraph")
    assert run.returncode == 0, run.stderr
    got = fates(binding)
    mixes = [r for r, f in export.files.items() if f.family == "mix"]
    masters = [r for r, f in export.files.items() if f.family == "mastered"]
    assert [got[r] for r in mixes] == [("bound", "mix")]
    assert all(got[r] == ("ignored", "") for r in masters)
    assert not [n for n in binding["notices"] if "already looks mastered" in n]


def test_the_mastering_template_names_a_mix_that_is_already_mastered(tmp_path):
    export = mastering_folder(tmp_path / "song", only_master=True)
    (rel, truth), = export.files.items()
    assert truth.looks_mastered
    binding, run = new("mastering", export.folder, tmp_path / "p" / "m.mgraph")
    assert run.returncode == 0, run.stderr
    (notice,) = [n for n in binding["notices"] if "already looks mastered" in n]
    assert rel in notice and f"{truth.true_peak_db:.1f}"[:3] in notice


def test_stem_master_binds_stems_as_people_name_them_and_renders(tmp_path):
    export = stems_for_stem_master(tmp_path / "song", with_mix=True)
    binding, run = new("stem_master", export.folder, tmp_path / "p" / "s.mgraph")
    assert run.returncode == 0, run.stderr
    got = fates(binding)
    for rel, f in export.files.items():
        if f.family in ("drums", "hats"):
            assert got[rel] == ("bound", "drums"), rel
        elif f.family in ("bass", "music", "vocals"):
            assert got[rel] == ("bound", f.family), rel
        elif f.family == "mix":
            assert got[rel] == ("ignored", ""), rel
    report = render(load(tmp_path / "p" / "s.mgraph"), workers=1)
    assert report.output("master_out")["integrated_lufs"] == pytest.approx(-14.0, abs=0.2)


def test_podcast_binds_host_guest_and_music_and_renders(tmp_path):
    export = podcast_folder(tmp_path / "show")
    binding, run = new("podcast", export.folder, tmp_path / "p" / "e.mgraph")
    assert run.returncode == 0, run.stderr
    got = fates(binding)
    for rel, f in export.files.items():
        if f.family in ("host", "guest", "music"):
            assert got[rel] == ("bound", f.family), rel
    report = render(load(tmp_path / "p" / "e.mgraph"), workers=1)
    assert report.output("episode_out")["integrated_lufs"] == pytest.approx(-16.0, abs=0.2)


def test_stem_export_of_a_bound_band_sums_back_to_its_mix(band, tmp_path):
    """`render --stems` on the bound project: stems of one length that sum to the mix
    bus's input (float WAV, within float rounding)."""
    _, _, path = band
    run = subprocess.run([sys.executable, "-m", "mixgraph", "render", str(path), "--stems",
                          str(tmp_path / "stems"), "-q"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    stems = sorted((tmp_path / "stems").glob("*.wav"))
    assert len(stems) >= 4
    lengths = {sf.info(str(s)).frames for s in stems}
    assert len(lengths) == 1
    total = sum(sf.read(str(s), always_2d=True)[0] for s in stems)
    assert np.max(np.abs(total)) > 0.01
