"""Binding a song's files to a template as a user meets it: names as sessions name
them, through `mixgraph new` in a process of its own, every file's fate read from
the binding table (`--json`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR
from mixgraph import load, render, validate
from mixgraph.errors import ProjectFileError
from mixgraph.workflows.binding import bind
from mixgraph.workflows.templates import load_template


def tone(seconds=0.5, freq=220.0, channels=1, level=0.2, rate=SR):
    t = np.arange(int(seconds * rate)) / rate
    x = level * np.sin(2 * np.pi * freq * t)
    return np.tile(x[:, None], (1, channels))


def folder_of(root: Path, names, rate=SR, **kinds) -> Path:
    """Files named as given (a name may hold a subfolder), each a short tone; ``kinds``
    maps a name to (channels, subtype, rate) where it differs."""
    for i, name in enumerate(names):
        channels, subtype, r = kinds.get(name, (1, "PCM_24", rate))
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), tone(freq=110.0 + 37 * i, channels=channels, rate=r), r,
                 subtype=subtype)
    return root


def new(*args, cwd: Path, home: Path | None = None):
    env = dict(os.environ, XDG_DATA_HOME=str(home or cwd / "xdg"))
    return subprocess.run([sys.executable, "-m", "mixgraph", "new", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def fates(binding) -> dict[str, tuple[str, str]]:
    files = binding["files"] if isinstance(binding, dict) else \
        [f.to_dict() for f in binding.files]
    return {f["file"]: (f["fate"], f["slot"]) for f in files}


# ------------------------------------------------------------------ families
def test_a_lead_guitar_without_a_vocal_is_a_guitar(tmp_path):
    """Before, 'Lead Gtr' went to the lead vocal slot (vocal EQ, compressor, sends, the
    vocals group) with nothing reported."""
    stems = folder_of(tmp_path / "song", ["01 Kick.wav", "02 Lead Gtr.wav", "03 Bass.wav"])
    g, b = bind(load_template("band"), stems, tmp_path)
    assert fates(b)["02 Lead Gtr.wav"] == ("bound", "gtr_l")
    assert "lead_vox" not in g.nodes and "lead_vox" in b.removed


def test_a_vocal_and_its_double_both_keep_a_strip(tmp_path):
    stems = folder_of(tmp_path / "song", ["Lead Vox.wav", "Lead Vox Double.wav",
                                          "Kick.wav"])
    g, b = bind(load_template("band"), stems, tmp_path)
    assert fates(b)["Lead Vox.wav"] == ("bound", "lead_vox")
    assert fates(b)["Lead Vox Double.wav"] == ("bound", "bvs")
    assert "bvs" in g.nodes and "bvs" not in b.removed


def test_a_left_right_pair_in_one_slot_keeps_its_image(tmp_path):
    """Before, OH L and OH R were summed into one centred mono strip."""
    stems = folder_of(tmp_path / "song", ["08 OH L.wav", "09 OH R.wav"])
    g, b = bind(load_template("band"), stems, tmp_path)
    left, right = (next(f for f in b.files if f.file == n) for n in ("08 OH L.wav",
                                                                     "09 OH R.wav"))
    channels = [next(n for n in f.nodes if g.nodes[n].type == "channel")
                for f in (left, right)]
    assert channels == ["overheads_ch", "overheads_ch_2"]
    assert [g.nodes[c].params["pan"] for c in channels] == [-1.0, 1.0]
    # rendered: each file's tone is on its side of the drum group only
    g.add("output", id="drums_out", path="out/drums.wav", subtype="FLOAT")
    g.connect("drums", "drums_out")
    render(g, workers=1)
    drums, _ = sf.read(str(tmp_path / "out/drums.wav"), always_2d=True)
    x = drums[:SR // 2] * np.hanning(SR // 2)[:, None]
    spectrum = np.abs(np.fft.rfft(x, axis=0))
    freqs = np.fft.rfftfreq(SR // 2, 1 / SR)

    def level_db(freq: float, channel: int) -> float:
        near = np.abs(freqs - freq) < 3
        return 20 * np.log10(spectrum[near, channel].max() + 1e-12)

    # OH L is the 110 Hz tone, OH R the 147 Hz one (see folder_of)
    assert level_db(110.0, 0) - level_db(110.0, 1) > 40
    assert level_db(147.0, 1) - level_db(147.0, 0) > 40


def test_every_file_has_exactly_one_fate_and_nothing_is_lost(tmp_path):
    names = ["01 Kick In.wav", "02 Kick Out.wav", "03 Snare Top.wav",
             "04 Snare Bottom.wav", "Shaker.wav", "Click.wav", "Guide Vox.wav",
             "Count-in.wav", "Bounced Files/Song Mix.wav", "Notes.wav"]
    stems = folder_of(tmp_path / "song", names)
    out = new("-t", "band", "--stems", stems, "-o", tmp_path / "p" / "song.mgraph",
              "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    got = fates(json.loads(out.stdout))
    assert set(got) == set(names)
    assert got == {
        "01 Kick In.wav": ("bound", "kick"), "02 Kick Out.wav": ("bound", "kick"),
        "03 Snare Top.wav": ("bound", "snare"), "04 Snare Bottom.wav": ("bound", "snare"),
        "Shaker.wav": ("catch-all", "mix"), "Notes.wav": ("catch-all", "mix"),
        "Click.wav": ("ignored", ""), "Guide Vox.wav": ("ignored", ""),
        "Count-in.wav": ("ignored", ""), "Bounced Files/Song Mix.wav": ("ignored", "")}
    project = load(tmp_path / "p" / "song.mgraph")
    assert validate(project).ok
    paths = sorted(s.params["path"] for s in project if s.type == "stem")
    assert paths == sorted(f"../song/{n}" for n in ("01 Kick In.wav", "02 Kick Out.wav",
                                                    "03 Snare Top.wav", "04 Snare Bottom.wav",
                                                    "Shaker.wav", "Notes.wav"))


def test_the_table_is_printed_with_one_line_per_file(tmp_path):
    stems = folder_of(tmp_path / "song", ["Kick.wav", "Click.wav", "Shaker.wav"])
    out = new("-t", "band", "--stems", stems, "-o", tmp_path / "song.mgraph", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["file", "fate"]
    rows = {l.split()[0]: l for l in lines[1:4]}
    assert set(rows) == {"Kick.wav", "Click.wav", "Shaker.wav"}
    assert "bound" in rows["Kick.wav"] and "kick fits kick" in rows["Kick.wav"]
    assert "ignored" in rows["Click.wav"] and "ignores click tracks" in rows["Click.wav"]
    assert "catch-all" in rows["Shaker.wav"] and "percussion" in rows["Shaker.wav"]


# ------------------------------------------------------------------ choices
def test_assign_and_ignore_decide_for_the_user(tmp_path):
    stems = folder_of(tmp_path / "song", ["Vox A.wav", "Vox B.wav", "Kick.wav"])
    g, b = bind(load_template("band"), stems, tmp_path, assign={"Vox B.wav": "lead_vox"},
                ignore=["vox a*"])
    assert fates(b)["Vox B.wav"] == ("bound", "lead_vox")
    assert fates(b)["Vox A.wav"] == ("ignored", "")
    assert "--ignore vox a*" in next(f.why for f in b.files if f.file == "Vox A.wav")


def test_assign_names_a_missing_file_or_slot(tmp_path):
    stems = folder_of(tmp_path / "song", ["Kick.wav"])
    with pytest.raises(ProjectFileError, match="no usable file 'Nope.wav'"):
        bind(load_template("band"), stems, tmp_path, assign={"Nope.wav": "kick"})
    with pytest.raises(ProjectFileError, match="no slot 'drumz'"):
        bind(load_template("band"), stems, tmp_path, assign={"Kick.wav": "drumz"})


def test_a_file_no_slot_takes_is_an_error_unless_left_out(tmp_path):
    """A template that does not say what to do with what no slot takes stops, naming
    the file; --leave-out leaves it out, listed."""
    template = load_template("band")
    template.template.pop("unmatched")
    template.template.pop("catch_all_into")
    stems = folder_of(tmp_path / "song", ["Kick.wav", "Shaker.wav"])
    with pytest.raises(ProjectFileError, match=r"no slot of the template takes "
                                               r"Shaker\.wav \(percussion\)"):
        bind(template, stems, tmp_path)
    g, b = bind(template, stems, tmp_path, leave_out=True)
    assert fates(b)["Shaker.wav"] == ("left out", "")
    assert "warning: left out: Shaker.wav" in b.lines()


@pytest.mark.parametrize("bad, why", [
    ("Bed 7.1.2.wav", "it has 10 channels, which is no layout"),
    ("Empty.wav", "cannot read"),
    ("Silent.wav", "it holds no audio"),
])
def test_files_that_cannot_be_mixed_are_caught_at_new(tmp_path, bad, why):
    stems = folder_of(tmp_path / "song", ["Kick.wav"])
    if bad == "Bed 7.1.2.wav":
        sf.write(str(stems / bad), np.zeros((480, 10)), SR)
    elif bad == "Empty.wav":
        (stems / bad).write_bytes(b"")
    else:
        sf.write(str(stems / bad), np.zeros((0, 1)), SR)
    out = new("-t", "band", "--stems", stems, "-o", tmp_path / "song.mgraph", cwd=tmp_path)
    assert out.returncode == 1 and not (tmp_path / "song.mgraph").exists()
    line = out.stderr.strip()
    assert bad in line and why in line and "--ignore" in line and "Traceback" not in line
    again = new("-t", "band", "--stems", stems, "-o", tmp_path / "song.mgraph",
                "--ignore", bad, cwd=tmp_path)
    assert again.returncode == 0, again.stderr


# ------------------------------------------------------------------ folders, rates
def test_subfolders_are_searched_and_shown_by_their_path(tmp_path):
    stems = folder_of(tmp_path / "session", ["Audio Files/Kick.wav",
                                             "Audio Files/Bass DI.wav",
                                             "Bounced Files/Song Mix.wav"])
    g, b = bind(load_template("band"), stems, tmp_path)
    assert fates(b) == {"Audio Files/Kick.wav": ("bound", "kick"),
                        "Audio Files/Bass DI.wav": ("bound", "bass"),
                        "Bounced Files/Song Mix.wav": ("ignored", "")}


def test_the_project_runs_at_the_rate_most_files_share(tmp_path):
    names = ["Kick.wav", "Snare.wav", "Bass.wav", "Keys.wav"]
    stems = folder_of(tmp_path / "song", names, rate=44100,
                      **{"Keys.wav": (1, "PCM_24", 48000)})
    g, b = bind(load_template("band"), stems, tmp_path)
    assert g.sample_rate == b.sample_rate == 44100
    report = render(g, workers=1)
    assert [n for n in report.notices if "resampled" in n] == [
        "resampled to the project's 44100 Hz: song/Keys.wav (48000 Hz, stem 'keys')"]
    assert sf.info(str(tmp_path / "out" / "master.wav")).samplerate == 44100
    g, b = bind(load_template("band"), stems, tmp_path, sample_rate=48000)
    assert g.sample_rate == 48000
    out = new("-t", "band", "--stems", stems, "-o", tmp_path / "s.json", "--sample-rate",
              "96000", "--json", cwd=tmp_path)
    assert json.loads(out.stdout)["sample_rate"] == 96000 and load(tmp_path / "s.json") \
        .sample_rate == 96000


def test_new_makes_the_project_folder(tmp_path):
    stems = folder_of(tmp_path / "song", ["Kick.wav"])
    out = new("-t", "band", "--stems", stems, "-o", tmp_path / "a" / "b" / "song.mgraph",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a" / "b" / "song.mgraph").is_file()
    failed = new("-t", "band", "--stems", tmp_path / "nothing", "-o",
                 tmp_path / "c" / "d" / "song.mgraph", cwd=tmp_path)
    assert failed.returncode == 1 and not (tmp_path / "c").exists()


# ------------------------------------------------------------------ mastering
def test_the_mastering_template_binds_the_unmastered_mix(tmp_path):
    stems = folder_of(tmp_path / "song", ["Song Premaster.wav", "Song Master.wav"])
    g, b = bind(load_template("mastering"), stems, tmp_path)
    assert fates(b) == {"Song Premaster.wav": ("bound", "mix"),
                        "Song Master.wav": ("ignored", "")}
    assert "mastered" in next(f.why for f in b.files if f.file == "Song Master.wav")


def test_a_mix_that_already_looks_mastered_is_named_with_its_figures(tmp_path):
    folder = tmp_path / "song"
    folder.mkdir()
    rng = np.random.default_rng(4)
    loud = np.clip(rng.standard_normal((SR * 4, 2)) * 0.7, -0.99, 0.99)
    sf.write(str(folder / "Song.wav"), loud, SR, subtype="PCM_16")
    g, b = bind(load_template("mastering"), folder, tmp_path)
    assert fates(b) == {"Song.wav": ("bound", "mix")}
    (warning,) = [n for n in b.notices if "already looks mastered" in n]
    assert "Song.wav" in warning and "dBTP" in warning and "LUFS" in warning


def test_only_a_mastered_print_says_how_to_master_it_anyway(tmp_path):
    stems = folder_of(tmp_path / "song", ["Song Master.wav"])
    out = new("-t", "mastering", "--stems", stems, "-o", tmp_path / "m.mgraph",
              cwd=tmp_path)
    assert out.returncode == 1
    assert "Song Master.wav (the template ignores mastered tracks)" in out.stderr
    assert "--assign" in out.stderr
    forced = new("-t", "mastering", "--stems", stems, "-o", tmp_path / "m.mgraph",
                 "--assign", "Song Master.wav=mix", cwd=tmp_path)
    assert forced.returncode == 1                    # ignored files are not assignable
    assert "Song Master.wav" in forced.stderr


# ------------------------------------------------------------------ templates
def test_stem_master_takes_hi_hats_into_the_drums(tmp_path):
    stems = folder_of(tmp_path / "song", ["Song - Drums.wav", "HiHat.wav",
                                          "Song_BASS_stem.wav", "Song (Music).wav",
                                          "Vocals Stem.wav"])
    g, b = bind(load_template("stem_master"), stems, tmp_path)
    assert fates(b) == {"Song - Drums.wav": ("bound", "drums"),
                        "HiHat.wav": ("bound", "drums"),
                        "Song_BASS_stem.wav": ("bound", "bass"),
                        "Song (Music).wav": ("bound", "music"),
                        "Vocals Stem.wav": ("bound", "vocals")}


def test_a_bound_project_carries_no_slot_rules_on_its_stems(tmp_path):
    stems = folder_of(tmp_path / "song", ["Kick.wav", "Lead Vox.wav"])
    g, b = bind(load_template("band"), stems, tmp_path)
    for spec in g:
        if spec.type == "stem":
            assert set(spec.params) <= {"path", "gain_db", "regions"}, \
                spec.params
    assert g.meta["binding"]["slots"]["lead_vox"]["prefer"] == ["lead"]


def test_a_template_saved_from_a_bound_song_binds_the_next_song_as_the_original(tmp_path):
    """The first song lacked most parts and had doubles; the template saved from it
    binds a full song exactly as the shipped template does: same fates, nodes, links."""
    first = folder_of(tmp_path / "first", ["01 Kick In.wav", "02 Kick Out.wav",
                                           "Lead Vox.wav", "Shaker.wav", "Click.wav"])
    song = folder_of(tmp_path / "second", [
        "01 Kick In.wav", "03 Snare Top.wav", "04 Snare Bottom.wav", "05 HiHat.wav",
        "08 OH L.wav", "09 OH R.wav", "11 Bass DI.wav", "13 Gtr L.wav", "14 Gtr R.wav",
        "15 Keys.wav", "16 Lead Vox.wav", "17 Lead Vox Double.wav", "18 BV 1.wav",
        "Click.wav", "Guide Vox.wav", "Tambourine.wav"])
    home = tmp_path / "xdg"
    made = new("-t", "band", "--stems", first, "-o", tmp_path / "one" / "song.mgraph",
               cwd=tmp_path, home=home)
    assert made.returncode == 0, made.stderr
    env = dict(os.environ, XDG_DATA_HOME=str(home))
    saved = subprocess.run([sys.executable, "-m", "mixgraph", "template", "save",
                            tmp_path / "one" / "song.mgraph", "mine"], env=env,
                           capture_output=True, text=True)
    assert saved.returncode == 0, saved.stderr
    mine = new("-t", "mine", "--stems", song, "-o", tmp_path / "mine" / "s.mgraph",
               "--json", cwd=tmp_path, home=home)
    band = new("-t", "band", "--stems", song, "-o", tmp_path / "band" / "s.mgraph",
               "--json", cwd=tmp_path, home=home)
    assert mine.returncode == 0 and band.returncode == 0, mine.stderr + band.stderr
    assert fates(json.loads(mine.stdout)) == fates(json.loads(band.stdout))
    a, b = load(tmp_path / "mine" / "s.mgraph"), load(tmp_path / "band" / "s.mgraph")
    assert {n: (s.type, s.params) for n, s in a.nodes.items()} == \
        {n: (s.type, s.params) for n, s in b.nodes.items()}
    assert sorted(map(str, a.links)) == sorted(map(str, b.links))
    template = load_template_file(home / "mixgraph" / "templates" / "mine.mgtemplate")
    assert template.template["ignore_families"] == load_template("band") \
        .template["ignore_families"]
    assert template.template["unmatched"] == "catch_all"
    assert not [s for s in template if s.id.endswith("_2")]          # no kick_2 slot


def load_template_file(path: Path):
    from mixgraph.core.fileformat import load as load_file

    return load_file(path)
