"""Project files: msgpack and JSON hold one document; the SPEC example loads; relative
paths follow the project file; versions, malformed and hostile files give one clear
ProjectFileError; saves are atomic; layout, metadata and unknown keys survive."""

from __future__ import annotations

import builtins
import json
import marshal
import math
import os
import pickle
import re

import msgpack
import numpy as np
import pytest
from pathlib import Path
import soundfile as sf

import mixgraph.core.fileformat as fileformat
from conftest import SR
from mixgraph import Graph, ProjectFileError, load, render, save, validate
from mixgraph.core.fileformat import read_document

SPEC_HEADER = {"format": "mixgraph", "version": 1, "sample_rate": 48000}


# ------------------------------------------------------------------ material
def _write_stem(folder, rel="stems/kick.wav", value=0.5, frames=SR // 10):
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.full(frames, value), SR, subtype="FLOAT")
    return rel


def _built_graph(folder) -> Graph:
    """A graph built in code: stems, strip with automation, bus, send, group, output."""
    _write_stem(folder, "stems/kick.wav")
    _write_stem(folder, "stems/snare.wav", value=0.25)
    g = Graph(sample_rate=SR, base_dir=folder, meta={"title": "Song", "bpm": 120},
              settings={"max_tail_s": 5.0})
    g.add("stem", id="kick", path="stems/kick.wav", gain_db=-1.5)
    g.add("stem", id="snare", path="stems/snare.wav")
    g.add("channel", id="kick_ch", gain_db=-3.0, pan=-0.25,
          width={"automation": [[0.0, 1.0], [0.05, 0.5]], "curve": "linear"})
    g.add("channel", id="snare_ch", mute=False, polarity_invert=True)
    g.add("bus", id="drums", gain_db=-0.5)
    g.add("send", id="verb_send", level_db=-12.0)
    g.add("group", id="drum_grp", members=["kick_ch", "snare_ch"])
    g.add("gain", id="trim", gain_db={"automation": [[0.0, -2.0], [0.05, -2.0], [0.05, 0.0]],
                                      "curve": "step"})
    g.add("output", id="master", path="out/master.wav", subtype="FLOAT")
    g.connect("kick", "kick_ch")
    g.connect("snare", "snare_ch")
    g.connect("kick_ch", "drums")
    g.connect("snare_ch.out", "drums.in")
    g.connect("kick_ch.pre", "verb_send")
    g.connect("drums", "trim")
    g.connect("verb_send", "trim")
    g.connect("trim", "master")
    g.ui["kick"] = {"pos": [20, 40]}
    g.ui["drums"] = {"pos": [300, 40], "collapsed": True}
    return g


def _spec_document(folder, bare: bool = False) -> dict:
    """SPEC.md's example, without the reverb and limiter (not yet node types)."""
    _write_stem(folder, "stems/kick.wav")
    links = [["kick.out", "kick_ch.in"], ["kick_ch.out", "drums.in"],
             ["kick_ch.pre", "verb_send.in"], ["verb_send.out", "mix.in"],
             ["drums.out", "mix.in"], ["mix.out", "master.in"]]
    if bare:
        # a bare id is the default port: 'out' at a link's start, 'in' at its end
        links = [["kick", "kick_ch"], ["kick_ch", "drums"], ["kick_ch.pre", "verb_send"],
                 ["verb_send", "mix"], ["drums", "mix"], ["mix", "master"]]
    return {
        **SPEC_HEADER,
        "nodes": [
            {"id": "kick", "type": "stem", "params": {"path": "stems/kick.wav"}},
            {"id": "kick_ch", "type": "channel", "params": {"gain_db": -3.0, "pan": 0.0}},
            {"id": "drums", "type": "bus"},
            {"id": "verb_send", "type": "send", "params": {"level_db": -12.0}},
            {"id": "mix", "type": "bus"},
            {"id": "master", "type": "output",
             "params": {"path": "master.wav", "subtype": "PCM_24"}},
        ],
        "links": links,
        "ui": {"kick": {"pos": [20, 40]}},
    }


def _write_json(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _load_error(path) -> str:
    """The message of the ProjectFileError that loading ``path`` raises (and nothing else)."""
    try:
        load(path)
    except Exception as exc:                                   # noqa: BLE001
        assert type(exc) is ProjectFileError, f"{type(exc).__name__}: {exc}"
        assert exc.message and "\n" not in exc.message.strip()
        return exc.message
    pytest.fail(f"{path.name} loaded although it should have been refused")


def _read_audio(path):
    data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    assert sr == SR
    return data.T


# ----------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".mgraph", ".json"])
def test_saved_then_loaded_graph_has_the_same_document(tmp_path, suffix):
    g = _built_graph(tmp_path)
    path = tmp_path / f"song{suffix}"
    save(g, path)
    loaded = load(path)
    assert loaded.to_document() == g.to_document()
    assert loaded.path == path.resolve()
    assert loaded.base_dir == tmp_path.resolve()
    # and once more: a loaded graph saved again holds the same bytes
    again = tmp_path / f"again{suffix}"
    save(loaded, again)
    assert again.read_bytes() == path.read_bytes()


def test_json_and_msgpack_hold_the_same_document(tmp_path):
    g = _built_graph(tmp_path)
    save(g, tmp_path / "song.json")
    save(g, tmp_path / "song.mgraph")
    raw_json = (tmp_path / "song.json").read_bytes()
    raw_mp = (tmp_path / "song.mgraph").read_bytes()
    # each file is what its name says, decoded here by the plain libraries
    from_json = json.loads(raw_json)
    from_mp = msgpack.unpackb(raw_mp, raw=False)
    assert from_json == from_mp == g.to_document()
    assert read_document(tmp_path / "song.json") == read_document(tmp_path / "song.mgraph")
    # floats keep their exact value in both encodings
    kick = next(n for n in from_json["nodes"] if n["id"] == "kick")
    assert kick["params"]["gain_db"] == -1.5 and isinstance(kick["params"]["gain_db"], float)


def test_json_file_is_readable_text_for_hand_editing(tmp_path):
    g = _built_graph(tmp_path)
    save(g, tmp_path / "song.json")
    text = (tmp_path / "song.json").read_text()
    assert text.endswith("\n") and text.count("\n") > 5
    assert '["kick.out", "kick_ch.in"]' in text                 # one link per line


def test_graph_built_in_code_renders_the_same_after_a_round_trip(tmp_path):
    g = _built_graph(tmp_path)
    render(g, block_size=1000)
    first = _read_audio(tmp_path / "out/master.wav")
    save(g, tmp_path / "song.mgraph")
    render(load(tmp_path / "song.mgraph"), block_size=1000)
    assert np.array_equal(_read_audio(tmp_path / "out/master.wav"), first)


# ----------------------------------------------------------------- SPEC example
def test_spec_example_document_loads_and_renders(tmp_path):
    path = _write_json(tmp_path / "song.json", _spec_document(tmp_path))
    g = load(path)
    assert list(g.nodes) == ["kick", "kick_ch", "drums", "verb_send", "mix", "master"]
    assert g.sample_rate == 48000
    assert g.ui == {"kick": {"pos": [20, 40]}}
    assert [str(l) for l in g.links] == [
        "kick.out -> kick_ch.in", "kick_ch.out -> drums.in", "kick_ch.pre -> verb_send.in",
        "verb_send.out -> mix.in", "drums.out -> mix.in", "mix.out -> master.in"]
    assert validate(g).errors == []
    render(g)
    out = _read_audio(tmp_path / "master.wav")
    # post-fader: 0.5 * -3 dB * cos(pi/4) on each side; pre-fader send: 0.5 * -12 dB,
    # mono into the stereo mix bus, copied to both sides at unity
    want = 0.5 * (10 ** (-3 / 20) * math.cos(math.pi / 4) + 10 ** (-12 / 20))
    assert out.shape == (2, SR // 10)
    assert np.max(np.abs(out - want)) < 1e-5                  # PCM_24


def test_bare_node_ids_in_links_mean_default_ports(tmp_path):
    explicit = load(_write_json(tmp_path / "explicit.json", _spec_document(tmp_path)))
    bare = load(_write_json(tmp_path / "bare.json", _spec_document(tmp_path, bare=True)))
    assert bare.links == explicit.links
    assert bare.to_document() == explicit.to_document()
    # 'kick' at a link's start is kick.out; 'mix' at a link's end is mix.in
    starts = {(l.src.node, l.src.port) for l in bare.links}
    ends = {(l.dst.node, l.dst.port) for l in bare.links}
    assert ("kick", "out") in starts and ("mix", "in") in ends
    # a bare channel id is its post-fader 'out', never 'pre'
    assert ("kick_ch", "out") in starts and ("kick_ch", "pre") in starts
    assert sum(1 for l in bare.links if str(l) == "kick_ch.out -> drums.in") == 1


# ------------------------------------------------------------- relative paths
def test_relative_paths_resolve_against_the_project_folder(tmp_path, monkeypatch):
    proj = tmp_path / "sub" / "proj"
    doc = _spec_document(proj)
    doc["nodes"][-1]["params"] = {"path": "out/master.wav", "subtype": "FLOAT"}
    _write_json(proj / "song.json", doc)
    monkeypatch.chdir(tmp_path)
    g = load("sub/proj/song.json")                               # a relative project path
    assert g.base_dir == proj.resolve()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert validate(g).errors == []
    render(g)
    assert (proj / "out" / "master.wav").is_file()
    assert not (elsewhere / "out").exists() and not (tmp_path / "out").exists()
    out = _read_audio(proj / "out" / "master.wav")
    want = 0.5 * (10 ** (-3 / 20) * math.cos(math.pi / 4) + 10 ** (-12 / 20))
    assert np.max(np.abs(out - want)) < 1e-6


def test_save_elsewhere_keeps_sources_and_moves_outputs_with_the_project(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b" / "deeper"
    g = _built_graph(a)
    b.mkdir(parents=True)
    save(g, b / "song.json")
    doc = json.loads((b / "song.json").read_text())
    params = {n["id"]: n.get("params", {}) for n in doc["nodes"]}
    assert params["kick"]["path"] == "../../a/stems/kick.wav"
    assert params["snare"]["path"] == "../../a/stems/snare.wav"
    assert params["master"]["path"] == "out/master.wav"      # outputs belong to the project
    # every rewritten source path names the very same file
    moved = load(b / "song.json")
    for nid, rel in (("kick", "stems/kick.wav"), ("snare", "stems/snare.wav")):
        assert (moved.resolve_path(moved.nodes[nid].params["path"]).resolve()
                == (a / rel).resolve())
    # the graph that was saved now belongs to its new folder, with the same files
    assert g.base_dir == b.resolve()
    assert g.resolve_path(g.nodes["kick"].params["path"]).resolve() == (a / "stems/kick.wav")
    render(moved)
    assert (b / "out/master.wav").is_file() and not (a / "out").exists()
    assert np.max(np.abs(_read_audio(b / "out/master.wav"))) > 0.1


def test_save_in_the_same_folder_keeps_paths_as_written(tmp_path):
    g = _built_graph(tmp_path)
    save(g, tmp_path / "song.json")
    doc = json.loads((tmp_path / "song.json").read_text())
    assert {n["id"]: n.get("params", {}).get("path") for n in doc["nodes"]
            if n["type"] in ("stem", "output")} == {
        "kick": "stems/kick.wav", "snare": "stems/snare.wav", "master": "out/master.wav"}


def test_save_elsewhere_keeps_absolute_paths(tmp_path):
    g = _built_graph(tmp_path / "a")
    absolute = str((tmp_path / "a" / "stems" / "kick.wav").resolve())
    g.set("kick", "path", absolute)
    (tmp_path / "b").mkdir()
    save(g, tmp_path / "b" / "song.mgraph")
    assert load(tmp_path / "b" / "song.mgraph").nodes["kick"].params["path"] == absolute


def test_save_elsewhere_keeps_home_relative_paths(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    _write_stem(home, "stems/kick.wav")
    g = Graph(sample_rate=SR, base_dir=tmp_path / "a")
    (tmp_path / "a").mkdir()
    g.add("stem", id="kick", path="~/stems/kick.wav")
    assert g.resolve_path("~/stems/kick.wav") == home / "stems/kick.wav"
    (tmp_path / "b").mkdir()
    save(g, tmp_path / "b" / "song.json")
    moved = load(tmp_path / "b" / "song.json")
    path = moved.resolve_path(moved.nodes["kick"].params["path"])
    assert path.resolve() == (home / "stems/kick.wav").resolve()


# -------------------------------------------------------------------- versions
@pytest.mark.parametrize("suffix", [".json", ".mgraph"])
def test_file_from_a_future_version_is_refused_naming_both_versions(tmp_path, suffix):
    doc = dict(_spec_document(tmp_path), version=99)
    path = tmp_path / f"future{suffix}"
    path.write_bytes(json.dumps(doc).encode() if suffix == ".json" else msgpack.packb(doc))
    msg = _load_error(path)
    text = msg.replace(str(path), "")
    assert re.search(r"\b99\b", text) and re.search(r"\b1\b", text), msg
    assert "newer" in msg or "upgrade" in msg
    assert path.name in msg


@pytest.mark.parametrize("fmt", ["mixgrap", "MIXGRAPH", None, 1])
def test_wrong_format_value_is_refused(tmp_path, fmt):
    doc = dict(_spec_document(tmp_path), format=fmt)
    msg = _load_error(_write_json(tmp_path / "song.json", doc))
    assert "format" in msg and "mixgraph" in msg and "song.json" in msg


def test_missing_format_is_refused(tmp_path):
    doc = _spec_document(tmp_path)
    del doc["format"]
    msg = _load_error(_write_json(tmp_path / "song.json", doc))
    assert "format" in msg


@pytest.mark.parametrize("version", ["missing", None, "1", True, -1, 1.5])
def test_missing_or_invalid_version_is_refused(tmp_path, version):
    doc = _spec_document(tmp_path)
    if version == "missing":
        del doc["version"]
    else:
        doc["version"] = version
    msg = _load_error(_write_json(tmp_path / "song.json", doc))
    assert "version" in msg and "song.json" in msg


# ------------------------------------------------------------ malformed files
def _node_doc(nodes=None, links=None, **top):
    doc = {**SPEC_HEADER,
           "nodes": nodes if nodes is not None else [{"id": "a", "type": "bus"},
                                                     {"id": "b", "type": "bus"}],
           "links": links if links is not None else [["a", "b"]]}
    doc.update(top)
    return doc


@pytest.mark.parametrize("doc, words", [
    pytest.param([SPEC_HEADER], "top level is not an object", id="top-level-list"),
    pytest.param(_node_doc(nodes={"a": {"type": "bus"}}), "'nodes' must be a list",
                 id="nodes-not-a-list"),
    pytest.param(_node_doc(nodes=[{"type": "bus"}]), "node 0: id must be", id="node-without-id"),
    pytest.param(_node_doc(nodes=[{"id": "a.b", "type": "bus"}]), "no dots or spaces",
                 id="node-id-with-a-dot"),
    pytest.param(_node_doc(nodes=[{"id": "a", "type": "bus"}, {"id": "a", "type": "send"}],
                           links=[]), "node id 'a' is used twice", id="duplicate-ids"),
    pytest.param(_node_doc(nodes=[{"id": "a"}], links=[]), "'type' must be",
                 id="node-without-type"),
    pytest.param(_node_doc(nodes=["a"], links=[]), "node 0 must be an object",
                 id="node-not-an-object"),
    pytest.param(_node_doc(links=[["a.out"]]), "link 0 must be a pair", id="link-of-one"),
    pytest.param(_node_doc(links=[["a", "b", "c"]]), "link 0 must be a pair",
                 id="link-of-three"),
    pytest.param(_node_doc(links=[["a", 3]]), "link 0 must be a pair", id="link-not-strings"),
    pytest.param(_node_doc(links=["a -> b"]), "link 0 must be a pair", id="link-a-string"),
    pytest.param(_node_doc(links=[["a.", "b"]]), "link 0", id="link-end-with-empty-port"),
    pytest.param(_node_doc(links={"a": "b"}), "'links' must be a list", id="links-not-a-list"),
    pytest.param(_node_doc(nodes=[{"id": "a", "type": "bus", "params": [1, 2]}], links=[]),
                 "'params' must be an object", id="params-a-list"),
    pytest.param(_node_doc(nodes=[{"id": "a", "type": "bus", "params": "gain"}], links=[]),
                 "'params' must be an object", id="params-a-string"),
    pytest.param(_node_doc(nodes=[{"id": "a", "type": "bus", "colour": "red"}], links=[]),
                 "unknown key(s) colour", id="unknown-key-in-node"),
    pytest.param(_node_doc(ui=[1]), "'ui' must be an object", id="ui-not-an-object"),
    pytest.param(_node_doc(meta="song"), "'meta' must be an object", id="meta-not-an-object"),
])
def test_malformed_document_gives_one_clear_error(tmp_path, doc, words):
    path = _write_json(tmp_path / "song.json", doc)
    msg = _load_error(path)
    assert words in msg, msg
    assert "song.json" in msg


def test_malformed_document_error_names_the_node(tmp_path):
    doc = _node_doc(nodes=[{"id": "a", "type": "bus"},
                           {"id": "b", "type": "bus", "params": [1]}], links=[])
    msg = _load_error(_write_json(tmp_path / "song.json", doc))
    assert "node 1 ('b')" in msg


def test_several_malformations_are_reported_in_one_error(tmp_path):
    doc = _node_doc(nodes=[{"type": "bus"}, {"id": "b", "type": "bus", "extra": 1}],
                    links=[["a"]])
    msg = _load_error(_write_json(tmp_path / "song.json", doc))
    assert "node 0" in msg and "unknown key(s) extra" in msg and "link 0" in msg


# ------------------------------------------------------------- hostile bytes
def _nested(depth):
    x = []
    for _ in range(depth):
        x = [x]
    return x


def _valid_mgraph_bytes(tmp_path):
    g = _built_graph(tmp_path)
    save(g, tmp_path / "valid.mgraph")
    return (tmp_path / "valid.mgraph").read_bytes()


HOSTILE = [
    ("empty.mgraph", b"", "empty"),
    ("blank.json", b"  \n\t ", "empty"),
    ("nan.json", b'{"format": "mixgraph", "version": 1, "x": NaN}', "NaN"),
    ("inf.json", b'{"format": "mixgraph", "version": 1, "x": -Infinity}', "Infinity"),
    ("huge.json", b'{"format": "mixgraph", "version": 1, "x": 1e999}', "finite"),
    ("deep.json", b"[" * 100_000, "nested"),
    ("deep_closed.json", b'{"format": "mixgraph", "version": 1, "meta": ' + b"[" * 500
     + b"]" * 500 + b"}", "nested"),
    ("deep.mgraph", msgpack.packb(_nested(200)), "nested"),
    ("deep_in_doc.mgraph", msgpack.packb({**SPEC_HEADER, "meta": {"x": _nested(200)}}),
     "nested"),
    ("ext.mgraph", msgpack.packb({**SPEC_HEADER, "meta": msgpack.ExtType(42, b"payload")}),
     "extension"),
    ("timestamp.mgraph", msgpack.packb({**SPEC_HEADER, "meta": msgpack.Timestamp(1, 0)}),
     "plain data"),
    ("intkey.mgraph", msgpack.packb({**SPEC_HEADER, 7: "seven"}, strict_types=False),
     "non-string key"),
    ("binkey.mgraph", msgpack.packb({**SPEC_HEADER, b"raw": 1}, use_bin_type=True),
     "non-string key"),
    ("bytes_value.mgraph", msgpack.packb({**SPEC_HEADER, "meta": b"\x00\x01"},
                                         use_bin_type=True), "plain data"),
    ("latin1.json", b'{"format": "mixgraph", "version": 1, "x": "\xff"}', "JSON"),
    ("trailing.json", b'{"format": "mixgraph", "version": 1} {}', "JSON"),
    ("string.json", b'"mixgraph"', "JSON"),
    ("number.mgraph", msgpack.packb(42), "top level"),
    ("list.mgraph", msgpack.packb([1, 2, 3]), "top level"),
]


@pytest.mark.parametrize("name, data, words", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_bytes_give_a_project_file_error(tmp_path, name, data, words):
    path = tmp_path / name
    path.write_bytes(data)
    msg = _load_error(path)
    assert words in msg, msg
    if name != "ext.mgraph":                 # see test_extension_type_error_names_the_file
        assert name in msg, msg


def test_extension_type_error_names_the_file(tmp_path):
    path = tmp_path / "ext.mgraph"
    path.write_bytes(msgpack.packb({**SPEC_HEADER, "meta": msgpack.ExtType(42, b"payload")}))
    msg = _load_error(path)
    assert "extension" in msg and "ext.mgraph" in msg


@pytest.mark.parametrize("seed", range(12))
def test_random_bytes_give_a_project_file_error(tmp_path, seed):
    rng = np.random.default_rng(seed)
    for i in range(20):
        size = int(rng.integers(1, 4096))
        data = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        if i % 4 == 1:                       # the JSON path too
            data = b"{" + data
        elif i % 4 == 2:                     # and something that looks like msgpack
            data = b"\x87" + data
        path = tmp_path / f"random{i}.mgraph"
        path.write_bytes(data)
        _load_error(path)


def test_truncated_msgpack_gives_a_project_file_error(tmp_path):
    data = _valid_mgraph_bytes(tmp_path)
    assert load(tmp_path / "valid.mgraph")                      # the whole file loads
    cut = tmp_path / "cut.mgraph"
    cut.write_bytes(data[: len(data) // 2])
    msg = _load_error(cut)
    assert "cut.mgraph" in msg
    # and every other length it could have been cut at
    for n in range(1, len(data), 7):
        cut.write_bytes(data[:n])
        _load_error(cut)


def test_truncated_json_gives_a_project_file_error(tmp_path):
    g = _built_graph(tmp_path)
    save(g, tmp_path / "valid.json")
    data = (tmp_path / "valid.json").read_bytes()
    cut = tmp_path / "cut.json"
    for n in (len(data) // 2, len(data) - 3, 1, 10):
        cut.write_bytes(data[:n])
        assert "cut.json" in _load_error(cut)


def test_missing_file_and_folder_give_a_project_file_error(tmp_path):
    assert "not found" in _load_error(tmp_path / "nope.mgraph")
    (tmp_path / "dir.mgraph").mkdir()
    assert "dir.mgraph" in _load_error(tmp_path / "dir.mgraph")


class _Evil:
    """Unpickling this creates the marker file: proof that code ran."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_loading_a_pickle_runs_no_code(tmp_path, protocol):
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = str(marker)
    path = tmp_path / "evil.mgraph"
    path.write_bytes(pickle.dumps(evil, protocol=protocol))
    _load_error(path)
    assert not marker.exists()


def test_loading_never_calls_an_evaluator(tmp_path, monkeypatch):
    calls = []

    def spy(name, real):
        def wrapper(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return wrapper

    for mod, name in ((builtins, "eval"), (builtins, "exec"), (builtins, "compile"),
                      (pickle, "loads"), (pickle, "load"), (marshal, "loads")):
        monkeypatch.setattr(mod, name, spy(name, getattr(mod, name)))
    marker = tmp_path / "pwned"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    doc = _spec_document(tmp_path)
    doc["meta"] = {"title": code, "__reduce__": code, "!!python/object": code}
    doc["nodes"][2]["params"] = {"gain_db": 0.0}
    _write_json(tmp_path / "song.json", doc)
    (tmp_path / "song.mgraph").write_bytes(msgpack.packb(doc))
    for name in ("song.json", "song.mgraph"):
        g = load(tmp_path / name)
        assert g.meta["title"] == code
    monkeypatch.undo()
    assert calls == []
    assert not marker.exists()


# ----------------------------------------------------------------- atomic save
@pytest.mark.parametrize("suffix", [".json", ".mgraph"])
def test_failed_save_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch,
                                                                     suffix):
    g = _built_graph(tmp_path)
    path = tmp_path / f"song{suffix}"
    save(g, path)
    before = path.read_bytes()
    listing = sorted(os.listdir(tmp_path))
    g.add("bus", id="another")
    g.meta["title"] = "changed"

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fileformat.os, "replace", refuse)
    with pytest.raises(ProjectFileError) as info:
        save(g, path)
    assert path.name in info.value.message
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == listing
    monkeypatch.undo()
    # the old file is still a good project, and a later save works
    assert "another" not in load(path)
    save(g, path)
    assert "another" in load(path)


def test_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    g = _built_graph(tmp_path)
    listing = sorted(os.listdir(tmp_path))

    def refuse(src, dst):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(fileformat.os, "replace", refuse)
    with pytest.raises(ProjectFileError):
        save(g, tmp_path / "song.mgraph")
    assert sorted(os.listdir(tmp_path)) == listing


def test_save_into_a_missing_folder_is_a_project_file_error(tmp_path):
    g = _built_graph(tmp_path)
    with pytest.raises(ProjectFileError):
        save(g, tmp_path / "no" / "such" / "song.json")
    assert not (tmp_path / "no").exists()


# ------------------------------------------------- layout, metadata, unknown keys
def test_ui_meta_settings_and_unknown_keys_survive_a_round_trip(tmp_path):
    doc = _spec_document(tmp_path)
    doc["ui"] = {"kick": {"pos": [20, 40]}, "mix": {"pos": [400.5, -10], "colour": "#f80"}}
    doc["meta"] = {"title": "Song", "artist": "Band", "bpm": 120, "tags": ["a", "b"]}
    doc["settings"] = {"max_tail_s": 12.5}
    doc["x_vendor"] = {"plugin": "thing", "state": [1, 2.5, None, True]}
    doc["comment"] = "hand-edited"
    g = load(_write_json(tmp_path / "in.json", doc))
    assert g.setting("max_tail_s") == 12.5
    save(g, tmp_path / "out.mgraph")
    again = load(tmp_path / "out.mgraph")
    save(again, tmp_path / "out.json")
    final = json.loads((tmp_path / "out.json").read_text())
    for key in ("ui", "meta", "settings", "x_vendor", "comment"):
        assert final[key] == doc[key], key
    assert again.to_document() == g.to_document()


def test_removing_a_node_drops_its_ui_entry_and_links(tmp_path):
    g = load(_write_json(tmp_path / "song.json", _spec_document(tmp_path)))
    g.ui["drums"] = {"pos": [1, 2]}
    g.remove("kick")
    assert "kick" not in g.ui and g.ui == {"drums": {"pos": [1, 2]}}
    assert not [l for l in g.links if "kick" in (l.src.node, l.dst.node)]
    save(g, tmp_path / "song.json")
    doc = json.loads((tmp_path / "song.json").read_text())
    assert doc["ui"] == {"drums": {"pos": [1, 2]}}
    assert '"kick"' not in (tmp_path / "song.json").read_text()
    assert '"kick.' not in (tmp_path / "song.json").read_text()


def test_removing_a_group_member_drops_it_from_the_group(tmp_path):
    g = _built_graph(tmp_path)
    g.remove("snare_ch")
    assert g.nodes["drum_grp"].params["members"] == ["kick_ch"]


def test_rename_updates_links_ui_and_group_members(tmp_path):
    g = _built_graph(tmp_path)
    g.ui["kick_ch"] = {"pos": [5, 6]}
    g.rename("kick_ch", "kick_strip")
    assert "kick_ch" not in g.nodes and g.nodes["kick_strip"].id == "kick_strip"
    links = [str(l) for l in g.links]
    assert "kick.out -> kick_strip.in" in links
    assert "kick_strip.out -> drums.in" in links
    assert "kick_strip.pre -> verb_send.in" in links              # the port is kept
    assert not [l for l in g.links if "kick_ch" in (l.src.node, l.dst.node)]
    assert g.ui["kick_strip"] == {"pos": [5, 6]} and "kick_ch" not in g.ui
    assert g.nodes["drum_grp"].params["members"] == ["kick_strip", "snare_ch"]
    # the node keeps its place in the order and its parameters
    assert list(g.nodes).index("kick_strip") == 2
    assert g.nodes["kick_strip"].params["gain_db"] == -3.0
    save(g, tmp_path / "song.json")
    text = (tmp_path / "song.json").read_text()
    assert '"kick_ch' not in text
    loaded = load(tmp_path / "song.json")
    assert loaded.to_document() == g.to_document()
    assert validate(loaded).errors == []


def test_rename_refuses_a_taken_or_bad_id_and_changes_nothing(tmp_path):
    from mixgraph import GraphError
    g = _built_graph(tmp_path)
    before = g.to_document()
    with pytest.raises(GraphError, match="already a node 'drums'"):
        g.rename("kick_ch", "drums")
    with pytest.raises(GraphError, match="must be"):
        g.rename("kick_ch", "kick.ch")
    assert g.to_document() == before


# --------------------------------------------------------------- bugs found
def test_automation_points_given_as_tuples_can_be_saved(tmp_path):
    g = _built_graph(tmp_path)
    g.set("trim", "gain_db", {"automation": [(0.0, -6.0), (0.05, 0.0)], "curve": "linear"})
    save(g, tmp_path / "song.json")
    loaded = load(tmp_path / "song.json")
    assert loaded.nodes["trim"].params["gain_db"]["automation"] == [[0.0, -6.0], [0.05, 0.0]]


# ----------------------------------------------------------- reads with a bound
@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_project_that_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    """A FIFO would make a read wait forever, /dev/zero would never end: both are
    refused before a byte is read, with one sentence naming the file."""
    import os

    from mixgraph import load
    from mixgraph.errors import ProjectFileError

    if kind == "fifo":
        path = tmp_path / "song.mgraph"
        os.mkfifo(path)
        said = "is not a regular file (a FIFO)"
    elif kind == "device":
        path = Path("/dev/zero")
        said = "is not a regular file (a character device)"
    else:
        path = tmp_path / "song.mgraph"
        path.mkdir()
        said = "is a folder, not a project file"
    with pytest.raises(ProjectFileError) as err:
        load(path)
    assert said in err.value.message and str(path) in err.value.message


def test_a_variants_file_that_is_a_device_is_refused(tmp_path):
    from mixgraph.errors import ProjectFileError
    from mixgraph.workflows.overrides import load_variants

    with pytest.raises(ProjectFileError, match="character device"):
        load_variants("/dev/zero")


def _peak_decoding_mb(code: str) -> tuple[str, float]:
    """What decoding says of the bytes ``code`` makes (``data``), and the peak of the
    memory it allocated (tracemalloc, in a process of its own)."""
    import subprocess
    import sys

    script = (
        code + "\nimport gc, tracemalloc\n"
        "from mixgraph.core.fileformat import decode\n"
        "from mixgraph.errors import ProjectFileError\n"
        "gc.collect(); tracemalloc.start()\n"
        "try:\n    doc = decode(data, 'x'); print('loaded')\n"
        "except ProjectFileError as e:\n    print('refused', e)\n"
        "print(tracemalloc.get_traced_memory()[1] / 2 ** 20)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return out[0], float(out[1])


MP = "import msgpack; data = msgpack.packb("
JS = "data = ('[' + ','.join("


@pytest.mark.parametrize("code, loads", [
    # the most memory a file within the limits asks for: many small values
    (MP + "[[[] for _ in range(999_990)] for _ in range(2)])", True),
    (MP + "[{'a': j} for j in range(999_990)])", True),
    (MP + "[['s%d' % j for j in range(999_990)] for _ in range(3)] + [['x'] * 990_000])",
     True),
    (JS + "['{\"a\":1}'] * 999_999) + ']').encode()", True),
    (JS + "['\"ab\"'] * 3_999_990) + ']').encode()", True),
    # and just past them
    (MP + "[[[] for _ in range(999_999)] for _ in range(2)] + [[]] * 100)", False),
    (MP + "[['s%d' % j for j in range(999_998)] for _ in range(4)])", False),
    (MP + "[[] for _ in range(30_000_000)])", False),
    (JS + "['{\"a\":1}'] * 1_000_001) + ']').encode()", False),
])
def test_loading_a_file_takes_a_bounded_amount_of_memory(code, loads):
    """The bound the file format states: no file within the limits takes more than
    300 MB to decode, and one past them is refused before it costs more."""
    said, peak = _peak_decoding_mb(code)
    assert said.startswith("loaded" if loads else "refused"), said
    assert peak < 300, f"decoding took {peak:.0f} MB"
    if not loads:
        assert "holds more than 4,000,000 values" in said


def test_a_document_too_large_to_load_is_not_saved(tmp_path):
    from mixgraph.core.fileformat import write_document
    from mixgraph.errors import ProjectFileError

    doc = {"format": "mixgraph", "version": 1, "meta": {"big": [0] * 4_000_000}}
    with pytest.raises(ProjectFileError, match="more than 4,000,000 values"):
        write_document(doc, tmp_path / "big.mgraph")
    assert list(tmp_path.iterdir()) == []
