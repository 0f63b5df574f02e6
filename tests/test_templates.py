"""Templates: binding a folder of stems to slots, shipped and user templates, `mixgraph new`,
and the refusal of project files that write outside their own folder."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixgraph import Graph, load, render, save, validate
from mixgraph.workflows.demo import build_project, synthesise
from mixgraph.workflows.binding import bind
from mixgraph.workflows.templates import list_templates, load_template
from mixgraph.errors import MixgraphError
from mixgraph.nodes.meters import meter_file

SR = 48000
SHIPPED = ("band", "mastering", "podcast", "stem_master")
DEMO_SECONDS = 4.0                       # two bars: enough for gated loudness, quick to render


def mixgraph(*args, env_home: Path, cwd=None):
    """Run the command line in a subprocess with its own XDG_DATA_HOME."""
    env = dict(os.environ, XDG_DATA_HOME=str(env_home))
    return subprocess.run([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=120)


pytestmark = pytest.mark.usefixtures("own_user_dir")   # not the user's own templates


@pytest.fixture(scope="module")
def demo_audio():
    return synthesise(seconds=DEMO_SECONDS)


@pytest.fixture(scope="module")
def demo_stems(tmp_path_factory, demo_audio):
    """The demo stems as 24-bit WAV files: kick, snare, hats, bass, keys (stereo), lead."""
    folder = tmp_path_factory.mktemp("demo_stems")
    for name, audio in demo_audio.items():
        sf.write(str(folder / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    return folder


def write_stems(folder: Path, files: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, audio in files.items():
        sf.write(str(folder / name), np.atleast_2d(audio).T, SR,
                 subtype="PCM_24" if not name.endswith(".flac") else "PCM_16")
    return folder


def noise(seconds=0.5, seed=0, level=0.1):
    return level * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def stems_of(g: Graph) -> dict[str, str]:
    """stem node id -> its path parameter."""
    return {s.id: s.params.get("path", "") for s in g if s.type == "stem"}


def bound_names(g: Graph) -> set[str]:
    return {Path(p).name for p in stems_of(g).values()}


def feeds(g: Graph, src: str, dst: str) -> bool:
    return any(l.src.node == src and l.dst.node == dst for l in g.links)


def is_silent(path: Path) -> bool:
    data, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return data.size == 0 or float(np.max(np.abs(data))) < 10 ** (-60 / 20)


# ------------------------------------------------------------------ names
@pytest.mark.parametrize("name, family, qualifiers, side", [
    ("01_Kick_In.wav", "kick", {"in"}, None),
    ("BD sub.wav", "kick", set(), None),               # a kick: 'sub' loses to 'bd'
    ("Vox Lead take3.flac", "vocals", {"lead"}, None),
    ("gtr L.wav", "guitar", set(), "left"),
    ("02 - Snare-Top.WAV", "snare", {"top"}, None),
    ("Backing harmony.wav", "backing", set(), None),
    ("bv2.wav", "backing", set(), None),
    ("07__OH__L.wav", "overheads", set(), "left"),
    ("Lead Gtr.wav", "guitar", {"lead"}, None),        # a qualifier never decides
    ("LeadVox_Dbl.wav", "vocals", {"lead", "double"}, None),
    ("Kick Room.wav", "kick", {"room"}, None),
    ("Synth Bass.wav", "bass", set(), None),
    ("Guide Vox.wav", "guide", set(), None),
    ("Song Premaster.wav", "mix", set(), None),
    ("Song Master.wav", "mastered", set(), None),
    ("My.Song.v2.aif", None, set(), None),
])
def test_a_name_reads_as_a_family_and_qualifiers(name, family, qualifiers, side):
    from mixgraph.workflows.names import read_name

    r = read_name(name)
    assert (r.family, set(r.qualifiers), r.side) == (family, qualifiers, side)


# ------------------------------------------------------------------ binding
ODD_BAND_FILES = ("01_Kick_In.wav", "BD sub.wav", "Vox Lead take3.flac", "gtr L.wav",
                  "gtr R.wav", "click.wav")
EMPTY_BAND_SLOTS = ("snare", "hats", "toms", "overheads", "room", "bass", "keys", "bvs")


@pytest.fixture
def odd_band(tmp_path, demo_audio):
    """The oddly named folder bound to the band template, saved as a project."""
    a = demo_audio
    stems = write_stems(tmp_path / "stems", {
        "01_Kick_In.wav": a["kick"], "BD sub.wav": 0.7 * a["kick"],
        "Vox Lead take3.flac": a["lead"], "gtr L.wav": a["keys"][0], "gtr R.wav": a["keys"][1],
        "click.wav": a["hats"]})
    template = load_template("band")
    g, binding = bind(template, stems, tmp_path)
    return tmp_path, template, g, binding


def test_odd_names_bind_to_the_band_slots_a_user_would_expect(odd_band):
    _, _, g, b = odd_band
    assert {slot: sorted(files) for slot, files in b.bound.items()} == {
        "kick": ["01_Kick_In.wav", "BD sub.wav"],
        "lead_vox": ["Vox Lead take3.flac"],
        "gtr_l": ["gtr L.wav"],
        "gtr_r": ["gtr R.wav"],
    }
    assert stems_of(g)["gtr_l"].endswith("gtr L.wav")
    assert stems_of(g)["gtr_r"].endswith("gtr R.wav")
    assert stems_of(g)["lead_vox"].endswith("Vox Lead take3.flac")
    assert not b.notices and not b.unmatched and not b.caught


def test_kick_slot_gives_each_kick_mic_a_strip_of_its_own_into_the_drum_group(odd_band):
    """One strip per file: each mic has its own EQ, compressor and channel (its own
    level and polarity), and both channels feed the slot's group."""
    _, _, g, b = odd_band
    kicks = {f.file: f.nodes for f in b.files if f.slot == "kick"}
    assert sorted(kicks) == ["01_Kick_In.wav", "BD sub.wav"]
    first, second = kicks["01_Kick_In.wav"], kicks["BD sub.wav"]
    assert first == ["kick", "kick_eq", "kick_comp", "kick_ch"]
    assert second == ["kick_2", "kick_eq_2", "kick_comp_2", "kick_ch_2"]
    for strip in (first, second):
        for a, b_ in zip(strip, strip[1:]):
            assert feeds(g, a, b_), (a, b_)
        assert feeds(g, strip[-1], "drums")
    assert g.nodes["kick_eq_2"].params == g.nodes["kick_eq"].params


def test_click_track_is_reported_as_ignored_and_kept_out_of_the_project(odd_band):
    _, _, g, b = odd_band
    assert b.ignored == ["click.wav"]
    assert "click.wav" not in bound_names(g)
    assert any("ignored" in line and "click.wav" in line for line in b.lines())


def test_empty_slots_go_with_their_chains_and_the_sends_and_returns_they_alone_fed(odd_band):
    _, template, g, b = odd_band
    for slot in EMPTY_BAND_SLOTS:
        chain = [n for n in (slot, f"{slot}_eq", f"{slot}_comp", f"{slot}_ch")
                 if n in template.nodes]
        for node_id in chain:
            assert node_id not in g.nodes, node_id
            assert node_id in b.removed, node_id
    # sends fed only by removed channels, and the return fed only by such a send
    for node_id in ("snare_room_send", "bv_plate_send", "drum_room"):
        assert node_id not in g.nodes and node_id in b.removed
    # what the bound stems still use stays
    for node_id in ("kick_eq", "kick_comp", "kick_ch", "drums", "drum_glue", "guitars",
                    "gtr_l_ch", "gtr_r_ch", "vocals", "lead_vox_ch", "vox_plate_send",
                    "vox_delay_send", "plate", "vox_delay", "fx", "mix", "mix_out",
                    "master_out"):
        assert node_id in g.nodes, node_id
    assert set(b.removed).isdisjoint(g.nodes)


def test_no_stem_without_a_file_remains_after_binding(odd_band):
    folder, _, g, _ = odd_band
    paths = stems_of(g)
    assert paths and all(paths.values())
    for path in paths.values():
        assert g.resolve_path(path).is_file()


def test_bound_odd_band_project_validates_and_renders_a_mix_that_is_not_silent(odd_band):
    folder, _, g, _ = odd_band
    save(g, folder / "song.mgraph")
    project = load(folder / "song.mgraph")
    v = validate(project)
    assert v.ok, [e.message for e in v.errors]
    assert not [w for w in v.warnings if "does not reach" in w]
    report = render(project)
    mix = folder / "out" / "mix.wav"
    assert mix.is_file() and not is_silent(mix)
    assert report.output("mix_out")["integrated_lufs"] > -40.0


def test_two_takes_for_a_single_slot_keep_both_the_second_in_the_next_slot(tmp_path):
    """A tie no longer drops a file: the lead vocal slot takes the first take by name,
    the second goes to the next slot for vocals (the backing vocals), and the notice
    says it was name order that decided."""
    stems = write_stems(tmp_path / "stems", {"kick.wav": noise(seed=1),
                                             "vox lead take2.wav": noise(seed=2),
                                             "vox lead take3.wav": noise(seed=3)})
    g, b = bind(load_template("band"), stems, tmp_path)
    assert b.bound["lead_vox"] == ["vox lead take2.wav"]
    assert b.bound["bvs"] == ["vox lead take3.wav"]
    assert Path(stems_of(g)["lead_vox"]).name == "vox lead take2.wav"
    assert b.notices == ["vox lead take2.wav and vox lead take3.wav fit slot lead_vox "
                         "equally; it takes one file and took vox lead take2.wav (first by "
                         "name); vox lead take3.wav went to bvs (choose with --assign "
                         "FILE=SLOT)"]
    assert {"vox lead take2.wav", "vox lead take3.wav"} <= bound_names(g)


def test_a_second_take_with_no_other_slot_goes_to_the_catch_all(tmp_path):
    """Two bass files, and the band's bass slot full: nothing is dropped, the second
    gets a channel of its own into the mix."""
    template = load_template("band")
    template.nodes["bass"].params["multiple"] = False
    stems = write_stems(tmp_path / "stems", {"Bass DI.wav": noise(seed=1),
                                             "Synth Bass.wav": noise(seed=2)})
    g, b = bind(template, stems, tmp_path)
    assert b.bound == {"bass": ["Bass DI.wav"]} and b.caught == ["Synth Bass.wav"]
    assert "Synth Bass.wav found no other slot with room" in b.notices[0]
    assert "the slots for bass are full" in {f.file: f for f in b.files}["Synth Bass.wav"].why


def test_a_file_fitting_two_slots_equally_goes_to_the_first_and_says_so(tmp_path):
    stems = write_stems(tmp_path / "stems", {"kick.wav": noise(seed=1),
                                             "gtr.wav": noise(seed=2)})
    g, b = bind(load_template("band"), stems, tmp_path)
    assert b.bound["gtr_l"] == ["gtr.wav"] and "gtr_r" not in b.bound
    assert b.notices == ["gtr.wav fits gtr_l and gtr_r equally; it went to gtr_l, the "
                         "first in the template"]
    assert [p for p in stems_of(g).values() if p.endswith("gtr.wav")] == ["stems/gtr.wav"]


def test_catch_all_template_routes_an_unknown_file_through_a_new_channel_into_the_mix(
        tmp_path):
    stems = write_stems(tmp_path / "stems", {"kick.wav": noise(seed=1),
                                             "shaker.wav": noise(seed=2)})
    template = load_template("band")
    assert template.template["unmatched"] == "catch_all"
    assert template.template["catch_all_into"] == "mix"
    g, b = bind(template, stems, tmp_path)
    assert b.caught == ["shaker.wav"] and b.unmatched == []
    (stem_id,) = [sid for sid, p in stems_of(g).items() if p.endswith("shaker.wav")]
    (channel,) = [l.dst.node for l in g.links_from(stem_id)]
    assert g.nodes[channel].type == "channel"
    assert feeds(g, channel, "mix")
    assert any("catch-all" in line and "shaker.wav" in line for line in b.lines())
    assert validate(g).ok


def test_a_tambourine_is_unmatched_in_the_band_template_and_caught_into_the_mix(tmp_path):
    stems = write_stems(tmp_path / "stems", {"kick.wav": noise(seed=1),
                                             "tambourine.wav": noise(seed=2)})
    g, b = bind(load_template("band"), stems, tmp_path)
    assert "room" not in b.bound
    assert b.caught == ["tambourine.wav"]
    (stem_id,) = [sid for sid, p in stems_of(g).items() if p.endswith("tambourine.wav")]
    (channel,) = [l.dst.node for l in g.links_from(stem_id)]
    assert feeds(g, channel, "mix")


@pytest.mark.parametrize("template, files, into", [
    ("podcast", ("intro music.wav", "zoom_0001.wav"), "voices"),
    ("band", ("shaker.wav",), "mix"),
])
def test_catch_all_works_when_no_slot_feeds_the_catch_all_node(tmp_path, template, files,
                                                               into):
    stems = write_stems(tmp_path / "stems",
                        {f: noise(seed=i) for i, f in enumerate(files)})
    g, b = bind(load_template(template), stems, tmp_path)
    unknown = [f for f in files if f in b.caught]
    assert unknown
    assert into in g.nodes
    assert validate(g).ok


def test_leave_out_template_lists_an_unknown_file_as_unmatched_with_a_warning(tmp_path,
                                                                             demo_audio):
    mix = np.vstack([demo_audio["keys"][0] + demo_audio["kick"][0],
                     demo_audio["keys"][1] + demo_audio["kick"][0]]) * 0.5
    stems = write_stems(tmp_path / "stems", {"final mix.wav": mix,
                                             "tambourine.wav": noise(seed=2)})
    template = load_template("mastering")
    assert template.template["unmatched"] == "leave_out"
    g, b = bind(template, stems, tmp_path)
    assert b.bound == {"mix": ["final mix.wav"]}
    # the mix slot's fallback '*' fits anything, so the tambourine lost the slot to the
    # better-fitting file: left out by the template's rule, with a warning, never caught
    assert b.unmatched == ["tambourine.wav"] and b.caught == []
    fate = {f.file: f for f in b.files}["tambourine.wav"]
    assert fate.fate == "left out" and "leaves out" in fate.why
    assert "tambourine.wav" not in bound_names(g)
    assert not any("tambourine" in n for n in g.nodes)
    warnings = [line for line in b.lines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "tambourine.wav" in warnings[0]
    assert validate(g).ok


def test_three_backing_vocal_files_all_bind_to_the_bvs_slot(tmp_path):
    files = ("BV 1.wav", "bv2.wav", "Backing harmony.wav")
    stems = write_stems(tmp_path / "stems",
                        {f: noise(seed=i) for i, f in enumerate(files)})
    g, b = bind(load_template("band"), stems, tmp_path)
    assert sorted(b.bound["bvs"]) == sorted(files)
    strips = [f.nodes for f in b.files if f.slot == "bvs"]
    assert len(strips) == 3 and len({s[1] for s in strips}) == 3     # three EQs
    channels = [next(n for n in s if g.nodes[n].type == "channel") for s in strips]
    assert channels == ["bvs_ch", "bvs_ch_2", "bvs_ch_3"]
    for ch in channels:                   # each strip into what the slot's strip feeds
        assert {str(l.dst) for l in g.links_from(ch) if l.src.port == "out"} == \
            {str(l.dst) for l in g.links_from("bvs_ch") if l.src.port == "out"}
    assert sorted(Path(stems_of(g)[s[0]]).name for s in strips) == sorted(files)
    assert not b.notices and not b.unmatched and not b.caught
    assert validate(g).ok


def test_binding_does_not_change_the_template(tmp_path):
    stems = write_stems(tmp_path / "stems", {"kick.wav": noise()})
    template = load_template("band")
    before = template.to_document()
    bind(template, stems, tmp_path)
    assert template.to_document() == before


# ------------------------------------------------------- every shipped template
# outputs to meter per template: node id -> loudness target (None: not mastered)
SHIPPED_OUTPUTS = {
    "band": {"mix_out": None, "master_out": -14.0},
    "stem_master": {"mix_out": None, "master_out": -14.0},
    "podcast": {"episode_out": -16.0},
    "mastering": {"streaming_out": -14.0, "broadcast_out": -23.0},
}
FIGURES: dict[str, dict] = {}


@pytest.fixture(scope="module")
def mix_folder(tmp_path_factory, demo_audio):
    """A stereo mix file for the mastering template."""
    folder = tmp_path_factory.mktemp("mixdown")
    a = demo_audio
    mono = a["kick"][0] + a["snare"][0] + a["hats"][0] + a["bass"][0] + a["lead"][0]
    mix = 0.35 * (a["keys"] + mono[None, :])
    sf.write(str(folder / "final mix.wav"), mix.T, SR, subtype="PCM_24")
    return folder


@pytest.mark.parametrize("name", sorted(SHIPPED_OUTPUTS))
def test_every_shipped_template_binds_generated_stems_and_renders_to_its_targets(
        tmp_path, name, demo_stems, mix_folder):
    stems = mix_folder if name == "mastering" else demo_stems
    template = load_template(name)
    assert validate(template).ok
    g, binding = bind(template, stems, tmp_path)
    assert binding.bound, binding.lines()
    assert all(p for p in stems_of(g).values())
    save(g, tmp_path / "song.mgraph")
    project = load(tmp_path / "song.mgraph")
    v = validate(project)
    assert v.ok, [e.message for e in v.errors]
    report = render(project)
    figures = {}
    for node_id, target in SHIPPED_OUTPUTS[name].items():
        path = project.resolve_path(project.nodes[node_id].params["path"])
        assert path.is_file(), path
        assert not is_silent(path), path
        m = meter_file(path)
        figures[node_id] = (round(m["integrated_lufs"], 2), round(m["true_peak_dbtp"], 2))
        assert report.output(node_id)["integrated_lufs"] == pytest.approx(
            m["integrated_lufs"], abs=0.05)
        if target is not None:
            assert m["integrated_lufs"] == pytest.approx(target, abs=0.2), (node_id, m)
            assert m["true_peak_dbtp"] <= -1.0 + 0.1, (node_id, m)
        else:
            assert m["integrated_lufs"] > -40.0
    FIGURES[name] = figures
    print(f"\n{name}: " + ", ".join(f"{k} {v[0]} LUFS / {v[1]} dBTP"
                                    for k, v in figures.items()))


def test_band_binds_the_demo_stems_to_their_own_slots(demo_stems, tmp_path):
    g, b = bind(load_template("band"), demo_stems, tmp_path)
    assert {k: v for k, v in b.bound.items()} == {
        "kick": ["kick.wav"], "snare": ["snare.wav"], "hats": ["hats.wav"],
        "bass": ["bass.wav"], "keys": ["keys.wav"], "lead_vox": ["lead.wav"]}
    assert not b.caught and not b.unmatched and not b.notices


# ------------------------------------------------------------------ listing
def test_templates_command_lists_the_four_shipped_templates_with_one_line_each(tmp_path):
    home = tmp_path / "xdg"
    result = mixgraph("templates", env_home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in SHIPPED:
        (line,) = [l for l in lines if l.split()[:1] == [name]]
        words = line.split(None, 2)
        assert words[1] == "shipped"
        assert len(words) == 3 and len(words[2]) > 20          # a real description
    listed = json.loads(mixgraph("templates", "--json", env_home=home).stdout)
    assert sorted(t["name"] for t in listed) == sorted(SHIPPED)
    for t in listed:
        assert t["source"] == "shipped" and t["description"]
        assert "\n" not in t["description"] and "unreadable" not in t["description"]


def test_list_templates_reads_every_shipped_template_as_a_template():
    found = {t.name: t for t in list_templates()}
    assert set(SHIPPED) <= set(found)
    for name in SHIPPED:
        assert found[name].source == "shipped"
        g = load_template(name)
        assert g.kind == "template"
        assert any(s.type == "stem" and s.params.get("path") == "" for s in g)


# ------------------------------------------------------------ user templates
@pytest.fixture
def demo_song(tmp_path, demo_audio):
    """The demo project (stems in song/stems) saved as song/song.mgraph."""
    folder = tmp_path / "song"
    (folder / "stems").mkdir(parents=True)
    for name, audio in demo_audio.items():
        sf.write(str(folder / "stems" / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    g = build_project(folder)
    save(g, folder / "song.mgraph")
    return folder


SLOT_KEYS = ("path", "match", "fallback", "multiple", "family", "prefer", "avoid", "side")


def _without_slots(g: Graph) -> dict:
    return {s.id: (s.type, {k: v for k, v in s.params.items()
                            if not (s.type == "stem" and k in SLOT_KEYS)})
            for s in g}


def test_saved_user_template_is_listed_unbound_and_gives_back_an_equivalent_project(
        tmp_path, demo_song):
    home = tmp_path / "xdg"
    project = demo_song / "song.mgraph"
    result = mixgraph("template", "save", project, "my band", "--description",
                      "my usual band routing", env_home=home)
    assert result.returncode == 0, result.stderr
    saved = home / "mixgraph" / "templates" / "my band.mgtemplate"
    assert saved.is_file()

    listing = mixgraph("templates", env_home=home).stdout.splitlines()
    (line,) = [l for l in listing if l.startswith("my band ")]
    assert re.match(r"my band\s+user\s+my usual band routing$", line)
    assert all(any(l.startswith(n + " ") for l in listing) for n in SHIPPED)

    original = load(project)
    template = load(saved)
    assert template.kind == "template"
    assert template.template["description"] == "my usual band routing"
    for spec in template:
        if spec.type == "stem":
            assert spec.params["path"] == ""
            # a slot for its file's family (the demo's stems are named for theirs), or
            # for names like its own where the name has none ('lead')
            expected = {"lead": {"match": ["*lead*"]}}.get(spec.id, {"family": [spec.id]})
            assert {k: spec.params[k] for k in expected} == expected, spec.params
    assert _without_slots(template) == _without_slots(original)
    assert template.links == original.links
    assert template.sample_rate == original.sample_rate

    out = tmp_path / "again" / "song.mgraph"
    out.parent.mkdir()
    result = mixgraph("new", "--template", "my band", "--stems", demo_song / "stems",
                      "-o", out, env_home=home)
    assert result.returncode == 0, result.stderr
    again = load(out)
    assert _without_slots(again) == _without_slots(original)
    assert again.links == original.links
    for sid, path in stems_of(original).items():
        assert os.path.samefile(again.resolve_path(stems_of(again)[sid]),
                                original.resolve_path(path))
    assert validate(again).ok


def test_saving_over_a_user_template_needs_force(tmp_path, demo_song):
    home = tmp_path / "xdg"
    project = demo_song / "song.mgraph"
    assert mixgraph("template", "save", project, "mine", env_home=home).returncode == 0
    saved = home / "mixgraph" / "templates" / "mine.mgtemplate"
    before = saved.read_bytes()
    g = load(project)
    g.set("kick_ch", "gain_db", -7.5)
    save(g, project)
    again = mixgraph("template", "save", project, "mine", env_home=home)
    assert again.returncode == 1
    assert "--force" in again.stderr and "Traceback" not in again.stderr
    assert saved.read_bytes() == before
    forced = mixgraph("template", "save", project, "mine", "--force", env_home=home)
    assert forced.returncode == 0, forced.stderr
    assert load(saved).nodes["kick_ch"].params["gain_db"] == -7.5


@pytest.mark.parametrize("bad", ["../escape", "a/b", "", " leading space", ".hidden",
                                 "x" * 65, "semi;colon"])
def test_a_bad_template_name_is_refused_and_nothing_is_written(tmp_path, demo_song, bad):
    home = tmp_path / "xdg"
    result = mixgraph("template", "save", demo_song / "song.mgraph", bad, env_home=home)
    assert result.returncode == 1
    assert "template name" in result.stderr and "Traceback" not in result.stderr
    written = [p for p in tmp_path.rglob("*") if p.suffix == ".mgtemplate"]
    assert written == []


# ------------------------------------------------------------------ mixgraph new
def test_new_writes_the_project_and_prints_the_binding(tmp_path, demo_stems):
    home = tmp_path / "xdg"
    out = tmp_path / "song.mgraph"
    result = mixgraph("new", "--template", "band", "--stems", demo_stems, "-o", out,
                      env_home=home)
    assert result.returncode == 0, result.stderr
    assert out.is_file()
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["file", "fate", "slot", "or", "rule", "starts", "why"]
    rows = {l.split()[0]: l.split()[1:4] for l in lines[1:] if l.split()[0].endswith(".wav")}
    for slot, name in (("kick", "kick.wav"), ("lead_vox", "lead.wav"), ("keys", "keys.wav")):
        assert rows[name] == ["bound", slot, "0.000"], rows
    assert any(l.startswith("removed (no file for them):") and "toms" in l for l in lines)
    assert any(l.startswith(f"wrote {out}") for l in lines)
    g = load(out)
    assert validate(g).ok
    assert all(g.resolve_path(p).is_file() for p in stems_of(g).values())


def test_new_refuses_to_overwrite_without_force(tmp_path, demo_stems):
    home = tmp_path / "xdg"
    out = tmp_path / "song.json"
    out.write_text("my precious project\n")
    result = mixgraph("new", "-t", "band", "--stems", demo_stems, "-o", out, env_home=home)
    assert result.returncode == 1
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert out.read_text() == "my precious project\n"
    forced = mixgraph("new", "-t", "band", "--stems", demo_stems, "-o", out, "--force",
                      env_home=home)
    assert forced.returncode == 0, forced.stderr
    assert load(out).meta.get("template") == "band"


def test_new_with_an_unknown_template_gives_one_line_naming_close_matches(tmp_path,
                                                                          demo_stems):
    home = tmp_path / "xdg"
    out = tmp_path / "song.mgraph"
    result = mixgraph("new", "-t", "bnad", "--stems", demo_stems, "-o", out, env_home=home)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "'bnad'" in lines[0] and "did you mean band" in lines[0]
    assert not out.exists()


def test_new_with_no_fitting_file_writes_nothing(tmp_path):
    home = tmp_path / "xdg"
    stems = write_stems(tmp_path / "stems", {"click.wav": noise(), "guide vox.wav": noise()})
    (stems / "notes.txt").write_text("not audio")
    out = tmp_path / "song.mgraph"
    result = mixgraph("new", "-t", "band", "--stems", stems, "-o", out, env_home=home)
    assert result.returncode == 1
    assert "nothing was written" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".song")]


def test_new_with_a_missing_stems_folder_is_one_clear_error(tmp_path):
    result = mixgraph("new", "-t", "band", "--stems", tmp_path / "nope", "-o",
                      tmp_path / "song.mgraph", env_home=tmp_path / "xdg")
    assert result.returncode == 1
    assert "stems folder not found" in result.stderr
    assert not (tmp_path / "song.mgraph").exists()


# --------------------------------------------------------- writes outside refused
def _small_project(folder: Path, output_path: str) -> Path:
    """A one-stem project saved in ``folder`` whose output writes ``output_path``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stems").mkdir(exist_ok=True)
    sf.write(str(folder / "stems" / "tone.wav"), noise(0.2)[:, None], SR, subtype="FLOAT")
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("stem", id="tone", path="stems/tone.wav")
    g.add("output", id="escape_out", path=output_path, subtype="FLOAT")
    g.connect("tone", "escape_out")
    save(g, folder / "song.json")
    return folder / "song.json"


@pytest.fixture(params=["absolute", "dotdot", "symlink"])
def outside_project(request, tmp_path):
    """A project file whose output lies outside its folder, and that output's file."""
    elsewhere = tmp_path / "elsewhere"
    if request.param == "absolute":
        target = elsewhere / "abs.wav"
        path = str(target)
    elif request.param == "dotdot":
        target = elsewhere / "up.wav"
        path = "out/../../elsewhere/up.wav"
    else:
        elsewhere.mkdir()
        (tmp_path / "proj").mkdir()
        (tmp_path / "proj" / "out").symlink_to(elsewhere, target_is_directory=True)
        target = elsewhere / "via_link.wav"
        path = "out/via_link.wav"
    return _small_project(tmp_path / "proj", path), target


def test_render_refuses_a_project_file_writing_outside_its_folder(tmp_path, outside_project):
    project, target = outside_project
    result = mixgraph("render", project, "-q", env_home=tmp_path / "xdg")
    assert result.returncode == 1
    assert "'escape_out'" in result.stderr and "--allow-outside" in result.stderr
    assert "Traceback" not in result.stderr
    assert not target.exists()


def test_validate_refuses_a_project_file_writing_outside_its_folder(tmp_path,
                                                                   outside_project):
    project, target = outside_project
    result = mixgraph("validate", project, env_home=tmp_path / "xdg")
    assert result.returncode == 1
    assert "'escape_out'" in result.stderr and "--allow-outside" in result.stderr
    assert not target.exists()


def test_render_allow_outside_writes_outside_the_folder(tmp_path):
    project = _small_project(tmp_path / "proj", "../elsewhere/up.wav")
    result = mixgraph("render", project, "-q", "--allow-outside", env_home=tmp_path / "xdg")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "elsewhere" / "up.wav").is_file()


def test_an_output_chosen_with_o_may_be_outside_the_project_folder(tmp_path):
    project = _small_project(tmp_path / "proj", "out/inside.wav")
    mine = tmp_path / "mine" / "render.wav"
    result = mixgraph("render", project, "-q", "-o", mine, env_home=tmp_path / "xdg")
    assert result.returncode == 0, result.stderr
    assert mine.is_file()
    assert not (tmp_path / "proj" / "out" / "inside.wav").exists()


def test_loaded_project_writing_outside_is_refused_by_the_api_unless_allowed(tmp_path):
    project = _small_project(tmp_path / "proj", "../elsewhere/up.wav")
    g = load(project)
    v = validate(g)
    assert not v.ok
    assert any("escape_out" in e.message and "--allow-outside" in e.message
               for e in v.errors)
    with pytest.raises(MixgraphError, match="outside the project's folder"):
        render(g)
    assert not (tmp_path / "elsewhere").exists()
    render(load(project), allow_outside=True)
    assert (tmp_path / "elsewhere" / "up.wav").is_file()


def test_graph_built_in_code_may_write_outside_its_base_folder(tmp_path):
    folder = tmp_path / "proj"
    (folder / "stems").mkdir(parents=True)
    sf.write(str(folder / "stems" / "tone.wav"), noise(0.2)[:, None], SR, subtype="FLOAT")
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("stem", id="tone", path="stems/tone.wav")
    g.add("output", id="out", path="../elsewhere/code.wav", subtype="FLOAT")
    g.connect("tone", "out")
    assert validate(g).ok
    render(g)
    assert (tmp_path / "elsewhere" / "code.wav").is_file()


def test_a_project_output_inside_its_folder_is_accepted(tmp_path):
    project = _small_project(tmp_path / "proj", "stems/../out/fine.wav")
    result = mixgraph("render", project, "-q", env_home=tmp_path / "xdg")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "proj" / "out" / "fine.wav").is_file()


def test_an_inside_output_path_through_a_missing_folder_and_dotdot_renders(tmp_path):
    project = _small_project(tmp_path / "proj", "out/../out/fine.wav")
    assert validate(load(project)).ok
    render(load(project))
    assert (tmp_path / "proj" / "out" / "fine.wav").is_file()


# ------------------------------------------------------------------ demo stems
def test_short_demo_stems_are_finite():
    stems = synthesise(seconds=4.0)          # bass and keys come in after the first bar
    assert set(stems) == {"kick", "snare", "hats", "bass", "keys", "lead"}
    for name, audio in stems.items():
        assert np.all(np.isfinite(audio)), name
        assert 1e-3 < np.max(np.abs(audio)) <= 1.0, name
