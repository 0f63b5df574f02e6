"""Every validation error: found before any audio is touched, all at once, in plain words;
nothing is written or overwritten."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, sine
from mixgraph import (Graph, GraphError, ParameterError, ValidationError,
                   render, validate)


def _messages(graph, **kw):
    return [e.message for e in validate(graph, **kw).errors]


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def simple(project):
    project.stem("kick", sine(60, 0.2))
    project.graph.add("channel", id="kick_ch")
    project.graph.connect("kick", "kick_ch")
    project.output("master", src="kick_ch")
    return project


def test_valid_project_has_no_errors(simple):
    assert validate(simple.graph).errors == []


def test_cycle_error_names_the_nodes(simple):
    g = simple.graph
    g.add("bus", id="a")
    g.add("bus", id="b")
    g.links += [g.links[0].__class__(g.full(p, as_input=False), g.full(q, as_input=True))
                for p, q in ((_r("a"), _r("b")), (_r("b"), _r("a")))]
    (msg,) = [m for m in _messages(g) if "cycle" in m]
    assert "a -> b -> a" in msg


def test_connect_refuses_a_cycle_at_once(simple):
    g = simple.graph
    g.add("bus", id="fx")
    g.connect("kick_ch", "fx")
    with pytest.raises(GraphError, match=r"would make a cycle: fx -> kick_ch -> fx"):
        g.connect("fx", "kick_ch")
    with pytest.raises(GraphError, match="cycle"):
        g.connect("fx", "fx")


def test_unknown_type_lists_close_matches(simple):
    g = simple.graph
    from mixgraph.core.model import NodeSpec
    g.nodes["verb"] = NodeSpec("verb", "chanel")
    (msg,) = [m for m in _messages(g) if "unknown type" in m]
    assert "'verb'" in msg and "'chanel'" in msg and "did you mean channel" in msg
    with pytest.raises(GraphError, match="unknown node type 'buss'.*did you mean bus"):
        g.add("buss")


def test_unknown_port_names_node_port_and_choices(simple):
    g = simple.graph
    with pytest.raises(GraphError, match=r"node 'kick_ch' \(channel\) has no output port "
                                         r"'post' \(outputs: out, pre\)"):
        g.connect("kick_ch.post", "master")
    with pytest.raises(GraphError, match=r"'in' is an input of 'master'; a link goes from an "
                                         r"output"):
        g.connect("master.in", "kick_ch")


def test_link_to_unknown_node_in_a_file(simple):
    doc = simple.graph.to_document()
    doc["links"].append(["kick_chh.out", "master.in"])
    g = Graph.from_document(doc, base_dir=simple.folder)
    assert any("there is no node 'kick_chh'" in m and "did you mean kick_ch" in m
               for m in _messages(g))


@pytest.mark.parametrize("param, value, words", [
    ("gain_db", 40.0, "gain_db must be between -120 and 24 dB, got 40.0"),
    ("gain_db", "loud", "gain_db must be a number, got 'loud'"),
    ("pan", -1.5, "pan must be between -1 and 1, got -1.5"),
    ("mute", 1, "mute must be true or false, got 1"),
    ("width", {"automation": [[0, 1.0], [1, 3.0]]}, "width automation must stay between 0 "
                                                     "and 2, got 3"),
    ("gain_db", {"automation": [[1, 0.0], [0.5, -3.0]]}, "times must not decrease"),
    ("gain_db", {"automation": [[0, -6.0], [1, 0.0]], "curve": "exponential"},
     "exponential curves need non-zero values"),
    ("gain_db", {"automation": [[0, 0.0]], "curve": "cubic"}, "curve must be one of linear, "
                                                             "exponential, step"),
    ("ratio", 4.0, "has no parameter 'ratio'"),
])
def test_bad_parameter_names_node_parameter_range_and_value(simple, param, value, words):
    g = simple.graph
    with pytest.raises(ParameterError) as info:
        g.set("kick_ch", param, value)
    assert "kick_ch" in info.value.message and words in info.value.message
    g.nodes["kick_ch"].params[param] = value               # as a file would hold it
    assert any(words in m and "'kick_ch'" in m for m in _messages(g))


def test_parameter_not_automatable(simple):
    g = simple.graph
    with pytest.raises(ParameterError, match="crossfade_ms cannot be automated"):
        g.set("kick", "crossfade_ms", {"automation": [[0, 0.0], [1, 1.0]]})


def test_tone_above_nyquist(project):
    with pytest.raises(ParameterError, match="freq_hz must be below half the sample rate "
                                             r"\(24000 Hz\), got 30000"):
        project.graph.add("tone", id="t", freq_hz=30000.0)


def test_missing_stem_names_path_and_node(simple):
    simple.graph.add("stem", id="snare", path="stems/snare.wav")
    simple.graph.connect("snare", "kick_ch")
    (msg,) = [m for m in _messages(simple.graph) if "snare" in m]
    assert "stem 'snare'" in msg and "file not found" in msg and "snare.wav" in msg


def test_unreadable_stem_names_path_and_node(simple):
    bad = simple.folder / "stems" / "notes.wav"
    bad.write_text("this is not audio")
    simple.graph.add("stem", id="notes", path="stems/notes.wav")
    simple.graph.connect("notes", "kick_ch")
    (msg,) = [m for m in _messages(simple.graph) if "notes" in m]
    assert "stem 'notes'" in msg and "cannot read" in msg and "as audio" in msg


def test_a_stem_of_a_channel_count_no_layout_has_is_refused(simple):
    path = simple.folder / "stems" / "ten.wav"
    sf.write(str(path), np.zeros((100, 10)), SR)
    simple.graph.add("stem", id="ten", path="stems/ten.wav")
    simple.graph.connect("ten", "kick_ch")
    assert any("ten.wav has 10 channels, which is no layout mixgraph mixes" in m
               for m in _messages(simple.graph))


def test_output_onto_a_source_is_refused_and_the_source_survives(simple):
    g = simple.graph
    g.nodes["master"].params["path"] = "stems/kick.wav"
    before = (simple.folder / "stems/kick.wav").read_bytes()
    with pytest.raises(ValidationError, match="output 'master': stems/kick.wav is the source "
                                              "of 'kick'; a render never overwrites its "
                                              "sources"):
        render(g)
    assert (simple.folder / "stems/kick.wav").read_bytes() == before


def test_output_onto_a_source_via_override_is_refused(simple):
    target = str(simple.folder / "stems" / "kick.wav")
    before = (simple.folder / "stems/kick.wav").read_bytes()
    with pytest.raises(ValidationError, match="is the source of 'kick'"):
        render(simple.graph, output_paths={"master": target})
    assert (simple.folder / "stems/kick.wav").read_bytes() == before


def test_output_onto_the_project_file_is_refused(simple):
    from mixgraph import save, load
    save(simple.graph, simple.folder / "song.json")
    g = load(simple.folder / "song.json")
    g.nodes["master"].params["path"] = "song.json"
    assert any("is the project file" in m for m in _messages(g))


def test_two_outputs_to_one_file(simple):
    simple.output("again", src="kick_ch", path="out/master.wav")
    assert any("outputs 'master' and 'again' both write out/master.wav" in m
               for m in _messages(simple.graph))


def test_output_with_no_input(simple):
    simple.graph.add("output", id="spare", path="spare.wav")
    assert any("output 'spare' has no input" in m for m in _messages(simple.graph))


def test_dangling_input_of_a_processing_node(simple):
    simple.graph.add("channel", id="orphan")
    simple.graph.connect("orphan", "master")
    assert any("node 'orphan' (channel) has nothing linked to its input 'in'" in m
               for m in _messages(simple.graph))


def test_no_output_at_all(project):
    project.graph.add("tone", id="t")
    assert any("no output node" in m for m in _messages(project.graph))


def test_unknown_output_format_and_flac_float(simple):
    g = simple.graph
    g.nodes["master"].params["path"] = "out/master.m4a"
    assert any("cannot tell the format of 'out/master.m4a'" in m for m in _messages(g))
    g.nodes["master"].params.update(path="out/master.flac", subtype="FLOAT")
    assert any("FLAC cannot store FLOAT samples" in m for m in _messages(g))


def test_group_member_that_does_not_exist(simple):
    simple.graph.nodes["grp"] = simple.graph.nodes["kick_ch"].__class__(
        "grp", "group", {"members": ["kick_chh"]})
    assert any("members names 'kick_chh', which is not a node" in m
               for m in _messages(simple.graph))


def test_all_problems_are_reported_at_once_and_nothing_is_written(simple):
    g = simple.graph
    g.nodes["kick_ch"].params["gain_db"] = 99.0
    g.add("stem", id="gone", path="stems/gone.wav")
    g.add("bus", id="lonely")                  # heard, with nothing linked into it
    g.add("output", id="lonely_out", path="lonely.wav")
    g.connect("lonely", "lonely_out")
    g.connect("gone", "kick_ch")
    g.add("output", id="extra", path="extra.wav")
    before = _files(simple.folder)
    with pytest.raises(ValidationError) as info:
        render(g)
    problems = info.value.problems
    assert len(problems) >= 4
    text = info.value.message
    for words in ("gain_db must be between", "gone.wav", "lonely", "output 'extra' has no "
                                                                    "input"):
        assert words in text
    assert _files(simple.folder) == before


def test_failed_render_leaves_no_file_and_keeps_the_old_one(simple):
    g = simple.graph
    simple.render()
    old = (simple.folder / "out/master.wav").read_bytes()
    g.add("test_fail", id="boom", at=5000)
    g.disconnect("kick_ch", "master")
    g.connect("kick_ch", "boom")
    g.connect("boom", "master")
    g.nodes["kick_ch"].params["gain_db"] = -6.0
    with pytest.raises(RuntimeError, match="on purpose"):
        simple.render()
    assert (simple.folder / "out/master.wav").read_bytes() == old
    assert not [p for p in os.listdir(simple.folder / "out") if p.endswith(".partial")]


def test_failed_first_render_leaves_no_folder_behind(simple):
    g = simple.graph
    g.nodes["master"].params["path"] = "new/deeper/master.wav"
    g.add("test_fail", id="boom", at=100)
    g.disconnect("kick_ch", "master")
    g.connect("kick_ch", "boom")
    g.connect("boom", "master")
    with pytest.raises(RuntimeError):
        simple.render()
    assert not (simple.folder / "new").exists()


def test_bad_block_size(simple):
    for bad in (0, 65537, 1.5):
        with pytest.raises(ParameterError, match="block size must be a whole number between "
                                                 "1 and 65536"):
            render(simple.graph, block_size=bad)


def test_cancel_writes_nothing(simple):
    import threading
    from mixgraph import RenderCancelled
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RenderCancelled):
        render(simple.graph, cancel=cancel)
    assert not (simple.folder / "out").exists()


def test_add_with_bad_id(project):
    with pytest.raises(GraphError, match="node id 'a.b' must be"):
        project.graph.add("bus", id="a.b")
    project.graph.add("bus", id="a")
    with pytest.raises(GraphError, match="there is already a node 'a'"):
        project.graph.add("bus", id="a")


def test_silent_source_renders(project):
    project.stem("quiet", np.zeros((1, 100)))
    project.output(src="quiet")
    report = project.render()
    assert report.outputs[0]["sample_peak_dbfs"] == -np.inf
    assert report.to_dict()["outputs"][0]["sample_peak_dbfs"] is None


def test_warning_for_a_node_that_reaches_no_output(simple):
    simple.graph.add("tone", id="stray")
    assert "node 'stray' does not reach any output: it is left out of the render" in \
        validate(simple.graph).warnings


def _r(text):
    from mixgraph.core.model import PortRef
    return PortRef.parse(text)


# ------------------------------------------------- redirected outputs (review findings)
def test_redirected_output_relative_to_the_current_folder_cannot_hit_a_source(simple,
                                                                             monkeypatch):
    """-o paths are the user's: relative to the current folder, checked where written."""
    monkeypatch.chdir(simple.folder)
    before = (simple.folder / "stems/kick.wav").read_bytes()
    with pytest.raises(ValidationError, match="is the source of 'kick'"):
        render(simple.graph, output_paths={"master": "stems/kick.wav"})
    assert (simple.folder / "stems/kick.wav").read_bytes() == before


def test_redirected_relative_output_lands_in_the_current_folder(simple, tmp_path, monkeypatch):
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    render(simple.graph, output_paths={"master": "mine.wav"})
    assert (elsewhere / "mine.wav").exists()
    assert not (simple.folder / "mine.wav").exists()


def test_redirected_output_with_home_tilde_cannot_hit_a_source(simple, monkeypatch):
    monkeypatch.setenv("HOME", str(simple.folder / "stems"))
    with pytest.raises(ValidationError, match="is the source of 'kick'"):
        render(simple.graph, output_paths={"master": "~/kick.wav"})


def test_redirected_output_is_checked_for_its_format(simple, tmp_path):
    simple.graph.nodes["master"].params["format"] = "wav"
    with pytest.raises(ValidationError, match="format 'wav' does not match the extension"):
        render(simple.graph, output_paths={"master": str(tmp_path / "mix.aiff")})
    with pytest.raises(ValidationError, match="cannot tell the format"):
        del simple.graph.nodes["master"].params["format"]
        render(simple.graph, output_paths={"master": str(tmp_path / "mix.m4a")})


def test_only_output_nodes_can_be_redirected(simple, tmp_path):
    with pytest.raises(ParameterError, match="cannot redirect 'kick': it is not an output"):
        render(simple.graph, output_paths={"kick": str(tmp_path / "b.wav")})


def test_nul_in_a_path_is_a_clear_error(simple):
    simple.graph.nodes["master"].params["path"] = "o\x00x.wav"
    assert any("path must not contain a NUL character" in m for m in _messages(simple.graph))


def test_non_string_group_member_is_an_error_not_a_crash(simple):
    from mixgraph.core.model import NodeSpec
    simple.graph.nodes["grp"] = NodeSpec("grp", "group", {"members": [["kick_ch"]]})
    assert any("members must be a list of node ids" in m for m in _messages(simple.graph))


def test_failed_render_with_nested_new_folders_leaves_none(simple):
    g = simple.graph
    g.nodes["master"].params["path"] = "new/master.wav"
    simple.output("deep", path="new/deeper/deep.wav")
    g.add("test_fail", id="boom", at=100)
    g.disconnect("kick_ch", "master")
    g.connect("kick_ch", "boom")
    g.connect("boom", "master")
    g.connect("boom", "deep")
    with pytest.raises(RuntimeError):
        simple.render()
    assert not (simple.folder / "new").exists()


def test_rendered_files_and_saved_projects_get_normal_permissions(simple):
    import stat
    from mixgraph import save
    old = os.umask(0o022)
    try:
        simple.render()
        save(simple.graph, simple.folder / "song.json")
    finally:
        os.umask(old)
    for path in (simple.folder / "out/master.wav", simple.folder / "song.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_a_node_that_reaches_no_output_is_left_out_not_an_error(simple):
    """As a DAW ignores a plugin on an unused track: a node with nothing linked that
    reaches no output does not stop the render; it is named and left out, and the
    render is the same as without it."""
    before = simple.render_read("master")
    simple.graph.add("compressor", id="spare")
    simple.graph.add("gain", id="spare2")
    simple.graph.connect("spare", "spare2")
    v = validate(simple.graph)
    assert v.ok
    assert "node 'spare' does not reach any output: it is left out of the render" \
        in v.warnings
    np.testing.assert_array_equal(simple.render_read("master"), before)
