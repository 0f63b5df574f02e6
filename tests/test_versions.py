"""Versions (save, list, restore) and diff in an engineer's words."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import soundfile as sf

from mixgraph import Graph, load, render, save, validate
from mixgraph.workflows.demo import build_project, synthesise
from mixgraph.workflows.diff import diff
from mixgraph.workflows.versions import find_version, list_versions, save_version, versions_dir
from mixgraph.errors import ProjectFileError

SR = 48000
ID_RE = r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d"
LIST_RE = re.compile(r"^\s*(\d+)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\s+(.*?)\s+(\S+)$")
T0 = datetime(2020, 1, 1, 10, 0, 0)       # fixed times well before any real save


def mixgraph(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_audio():
    return synthesise(seconds=2.0)


@pytest.fixture
def song(tmp_path, demo_audio) -> Path:
    """The demo project saved as song/song.mgraph, its stems in song/stems."""
    folder = tmp_path / "song"
    (folder / "stems").mkdir(parents=True)
    for name, audio in demo_audio.items():
        sf.write(str(folder / "stems" / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    save(build_project(folder), folder / "song.mgraph")
    return folder / "song.mgraph"


def edit(project: Path, node: str, name: str, value) -> None:
    g = load(project)
    g.set(node, name, value)
    save(g, project)


def content(g: Graph) -> dict:
    """What a project does: nodes, parameters (files as the files they name), links."""
    nodes = {}
    for spec in g:
        params = dict(spec.params)
        for name in spec.with_role("reads"):
            if params.get(name):
                params[name] = os.path.realpath(g.resolve_path(params[name]))
        nodes[spec.id] = (spec.type, params)
    return {"sample_rate": g.sample_rate, "settings": g.settings, "nodes": nodes,
            "links": [str(l) for l in g.links]}


def version_files(project: Path) -> list[str]:
    folder = versions_dir(project)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ------------------------------------------------------------------- save
def test_version_save_writes_a_dated_named_copy_next_to_the_project(song):
    before = datetime.now().replace(microsecond=0)
    result = mixgraph("version", "save", song, "more vocal")
    after = datetime.now()
    assert result.returncode == 0, result.stderr
    (name,) = version_files(song)
    assert (song.parent / "song.versions").is_dir()
    m = re.fullmatch(rf"({ID_RE})_more-vocal\.mgraph", name)
    assert m, name
    stamp = datetime.strptime(m.group(1), "%Y-%m-%dT%H-%M-%S")
    assert before <= stamp <= after
    assert name[:-len(".mgraph")] in result.stdout
    assert content(load(song.parent / "song.versions" / name)) == content(load(song))


def test_a_version_loads_and_renders_from_its_own_folder(song):
    v = save_version(song, "for render")
    g = load(v.path)
    project = load(song)
    for sid in ("kick", "keys", "lead"):
        path = g.nodes[sid].params["path"]
        assert not Path(path).is_absolute()
        assert path == f"../stems/{sid}.wav"
        assert os.path.samefile(g.resolve_path(path), project.resolve_path(f"stems/{sid}.wav"))
    for out in ("mix_out", "drums_out", "master_out"):
        assert g.nodes[out].params["path"] == project.nodes[out].params["path"]
        assert not Path(g.nodes[out].params["path"]).is_absolute()
    assert g.meta["version_of"] == "song.mgraph" and g.meta["version_name"] == "for render"
    v_ok = validate(g)
    assert v_ok.ok, [e.message for e in v_ok.errors]
    render(g)
    assert (v.path.parent / "out" / "mix.wav").is_file()
    assert not (song.parent / "out").exists()              # the project's outputs untouched


def test_two_saves_in_the_same_second_get_distinct_ids(song):
    now = T0
    plain = [save_version(song, now=now) for _ in range(3)]
    named = [save_version(song, "same", now=now) for _ in range(2)]
    ids = [v.id for v in plain + named]
    assert len(set(ids)) == 5
    assert all(v.path.is_file() for v in plain + named)
    listed = [v.id for v in list_versions(song)]
    assert sorted(listed) == sorted(ids)
    assert {v.name for v in list_versions(song)} == {"", "same"}


def test_versions_saved_in_the_same_second_are_listed_in_the_order_they_were_saved(song):
    save_version(song, "zeta", now=T0)
    save_version(song, "alpha", now=T0)
    assert [v.name for v in list_versions(song)] == ["zeta", "alpha"]


# ------------------------------------------------------------------- list
def test_version_list_shows_versions_oldest_first_with_numbers_dates_and_names(song):
    save_version(song, "second", now=T0 + timedelta(hours=1))
    save_version(song, "first", now=T0)
    save_version(song, now=T0 + timedelta(days=1, seconds=5))
    result = mixgraph("version", "list", song)
    assert result.returncode == 0, result.stderr
    rows = [LIST_RE.match(line) for line in result.stdout.splitlines()]
    assert all(rows), result.stdout
    got = [(m.group(1), m.group(2), m.group(3), m.group(4)) for m in rows]
    assert got == [
        ("1", "2020-01-01 10:00:00", "first", "2020-01-01T10-00-00_first"),
        ("2", "2020-01-01 11:00:00", "second", "2020-01-01T11-00-00_second"),
        ("3", "2020-01-02 10:00:05", "-", "2020-01-02T10-00-05"),
    ]


def test_version_list_of_a_project_without_versions_says_so(song):
    result = mixgraph("version", "list", song)
    assert result.returncode == 0
    assert "no versions yet" in result.stdout


# ---------------------------------------------------------------- restore
@pytest.fixture
def three_states(song):
    """Versions 'first' (kick_ch -2 dB) and 'louder kick' (-6 dB); the project at -9 dB."""
    first = save_version(song, "first", now=T0)
    state_a = content(load(song))
    edit(song, "kick_ch", "gain_db", -6.0)
    second = save_version(song, "louder kick", now=T0 + timedelta(hours=1))
    edit(song, "kick_ch", "gain_db", -9.0)
    state_c = content(load(song))
    return song, first, second, state_a, state_c


@pytest.mark.parametrize("how", ["number", "id", "name"])
def test_restore_by_number_id_or_name_puts_the_version_back_and_keeps_the_replaced_state(
        three_states, how):
    song, first, _, state_a, state_c = three_states
    ident = {"number": "1", "id": first.id, "name": "first"}[how]
    result = mixgraph("version", "restore", song, ident)
    assert result.returncode == 0, result.stderr
    restored = load(song)
    assert content(restored) == state_a
    assert restored.nodes["kick_ch"].params["gain_db"] == -2.0
    assert "version_of" not in restored.meta and "version_name" not in restored.meta
    assert restored.nodes["kick"].params["path"] == "stems/kick.wav"
    assert validate(restored).ok
    backups = [v for v in list_versions(song) if v.id.endswith("_before-restore")]
    assert len(backups) == 1
    assert content(load(backups[0].path)) == state_c
    assert first.id in result.stdout and backups[0].id in result.stdout


def test_restore_by_a_two_word_name(three_states):
    song, _, second, _, _ = three_states
    result = mixgraph("version", "restore", song, "louder kick")
    assert result.returncode == 0, result.stderr
    assert load(song).nodes["kick_ch"].params["gain_db"] == -6.0


@pytest.mark.parametrize("name", ["take 3", "More Vocal"])
def test_a_version_can_be_restored_by_the_name_it_was_saved_with(song, name):
    v = save_version(song, name, now=T0)
    edit(song, "kick_ch", "gain_db", -9.0)
    assert find_version(song, name).id == v.id
    assert [x.name for x in list_versions(song)] == [name]


@pytest.mark.parametrize("ident", ["nope", "99", "0", "2019"])
def test_restoring_an_unknown_version_is_one_clear_error_and_changes_nothing(three_states,
                                                                           ident):
    song, *_ = three_states
    before = song.read_bytes()
    files = version_files(song)
    result = mixgraph("version", "restore", song, ident)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"no version {ident!r}" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert song.read_bytes() == before
    assert version_files(song) == files


def test_an_ambiguous_prefix_names_the_versions_it_could_mean(three_states):
    song, first, second, *_ = three_states
    with pytest.raises(ProjectFileError) as err:
        find_version(song, "2020-01-01")
    assert first.id in err.value.message and second.id in err.value.message


# ------------------------------------------------------------------- diff
@pytest.fixture
def edited_pair(song):
    """A.mgraph (kick_ch at -3 dB) and B.mgraph: a real session of edits on it."""
    folder = song.parent
    a = load(song)
    a.set("kick_ch", "gain_db", -3.0)
    save(a, folder / "A.mgraph")
    b = load(folder / "A.mgraph")
    b.set("kick_ch", "gain_db", -1.5)
    b.add("reverb", id="snare_verb", decay_s=1.2)
    b.connect("snare_ch.pre", "snare_verb")
    b.connect("snare_verb", "fx")
    b.disconnect("echo", "fx")
    b.connect("echo", "mix")
    b.set("kick_ch", "pan", {"automation": [[0.0, -0.5], [2.0, 0.5]], "curve": "linear"})
    bands = [dict(band) for band in b.nodes["kick_eq"].params["bands"]]
    bands[1]["gain_db"] = 4.0
    b.set("kick_eq", "bands", bands)
    b.ui["kick"] = {"pos": [999, 999]}                 # layout: not part of the mix
    save(b, folder / "B.mgraph")
    return folder / "A.mgraph", folder / "B.mgraph"


def test_diff_tells_a_real_edit_in_an_engineers_words(edited_pair):
    a, b = edited_pair
    result = mixgraph("diff", a, b)
    assert result.returncode == 1, result.stderr          # they differ (as diff(1))
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert sorted(lines) == sorted([
        "node 'snare_verb' added (reverb)",
        "kick_eq: bands: band 1 gain_db from 2.5 to 4.0",
        "kick_ch: gain_db from -3.0 dB to -1.5 dB",
        "kick_ch: pan automated (2 points, linear), was 0.0",
        "link echo.out -> fx.in moved to echo.out -> mix.in",
        "link snare_ch.pre -> snare_verb.in added",
        "link snare_verb.out -> fx.in added",
    ])


def test_diff_the_other_way_round_undoes_each_change(edited_pair):
    a, b = edited_pair
    lines = diff(load(b), load(a))
    assert "node 'snare_verb' removed (reverb)" in lines
    assert "kick_ch: gain_db from -1.5 dB to -3.0 dB" in lines
    assert "kick_ch: pan no longer automated, now 0.0" in lines
    assert "kick_eq: bands: band 1 gain_db from 4.0 to 2.5" in lines
    assert "link snare_ch.pre -> snare_verb.in removed" in lines


def test_diff_the_other_way_round_reports_the_link_moved_back(edited_pair):
    a, b = edited_pair
    lines = diff(load(b), load(a))
    assert "link echo.out -> mix.in moved to echo.out -> fx.in" in lines
    assert "link snare_verb.out -> fx.in removed" in lines
    assert not [l for l in lines if " moved to " in l and "snare_verb" in l]


def test_a_pure_rename_is_reported_as_a_rename(song):
    a = load(song)
    b = load(song)
    b.rename("plate", "vox_plate")
    assert diff(a, b) == ["node 'plate' renamed to 'vox_plate'"]


def test_renaming_a_group_member_is_reported_as_just_a_rename(song):
    a = load(song)
    b = load(song)
    b.rename("kick_ch", "kick_channel")
    assert diff(a, b) == ["node 'kick_ch' renamed to 'kick_channel'"]


def test_identical_projects_print_no_changes(song):
    copy = song.parent / "copy.json"
    g = load(song)
    g.ui["kick"] = {"pos": [1, 2]}
    save(g, copy)
    result = mixgraph("diff", song, copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no changes (layout aside)"


def test_diff_exits_as_diff_does_0_same_1_different_2_trouble(song, tmp_path):
    """Issue 17: ``diff`` exited 0 whatever it found, so a script could not tell; it
    exits as diff(1): 0 the same, 1 different, 2 when a project cannot be read (an
    error's usual status, 1, would read as 'different'); its help says so."""
    same = mixgraph("diff", song, song)
    assert (same.returncode, same.stdout.strip()) == (0, "no changes (layout aside)")
    other = tmp_path / "other.json"
    g = load(song)
    g.set("kick_ch", "gain_db", -9.0)
    save(g, other)
    different = mixgraph("diff", song, other)
    assert different.returncode == 1, different.stderr
    assert different.stdout.startswith("kick_ch: gain_db from ") and different.stderr == ""
    missing = mixgraph("diff", song, tmp_path / "nope.mgraph")
    garbage = tmp_path / "junk.mgraph"
    garbage.write_bytes(b"\x93\x01\x02")
    broken = mixgraph("diff", garbage, song)
    for trouble in (missing, broken):
        assert trouble.returncode == 2, trouble.stderr
        assert trouble.stderr.startswith("mixgraph: error: ") and trouble.stdout == ""
        assert len(trouble.stderr.strip().splitlines()) == 1
    assert "not found" in missing.stderr and "not a mixgraph project" in broken.stderr
    text = " ".join(mixgraph("diff", "--help").stdout.split())
    assert "0 when the projects are the same, 1 when they differ, 2 when one cannot be " \
           "read" in text
    # another command's error keeps the usual status
    assert mixgraph("render", tmp_path / "nope.mgraph").returncode == 1


def test_a_version_against_its_project_shows_no_path_changes(song):
    v = save_version(song, "snapshot")
    assert load(v.path).nodes["kick"].params["path"] != load(song).nodes["kick"].params["path"]
    result = mixgraph("diff", v.path, song)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "no changes (layout aside)"
    assert diff(load(song), load(v.path)) == []


def test_a_stem_pointed_at_another_file_is_a_path_change(song, tmp_path):
    other = song.parent / "stems" / "kick2.wav"
    other.write_bytes((song.parent / "stems" / "kick.wav").read_bytes())
    v = save_version(song, "before")
    edit(song, "kick", "path", "stems/kick2.wav")
    lines = diff(load(v.path), load(song))
    assert lines == ["kick: path from '../stems/kick.wav' to 'stems/kick2.wav'"]
