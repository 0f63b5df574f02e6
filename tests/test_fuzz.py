"""The loader under attack: migrations, JSON/msgpack round trips, hypothesis fuzzing of
decode -> upgrade -> Graph.from_document -> validate, no code run, bounded sizes.

The fuzz tests are deterministic by default; set MIXGRAPH_FUZZ_RANDOM=1 to explore new
examples on every run (and MIXGRAPH_FUZZ_SCALE=10 for ten times as many).
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import signal
from datetime import timedelta
from pathlib import Path

import msgpack
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixgraph import Graph, load, render, save, validate
from mixgraph.workflows.demo import build_project
from mixgraph.core.fileformat import (MAX_DEPTH, MAX_FILE_BYTES, decode, encode, read_document,
                              upgrade, write_document)
from mixgraph.core.model import FORMAT_VERSION, KNOWN_KEYS
from mixgraph.workflows.templates import shipped_dir
from mixgraph.nodes.base import node_types
from mixgraph.errors import MixgraphError, ProjectFileError

FIXTURE = Path(__file__).parent / "fixtures" / "v0_project.json"
SR = 48000
RANDOM = os.environ.get("MIXGRAPH_FUZZ_RANDOM") == "1"
SCALE = float(os.environ.get("MIXGRAPH_FUZZ_SCALE", "1"))


def fuzz_settings(n: int):
    return settings(max_examples=int(n * SCALE), deadline=timedelta(seconds=2),
                    derandomize=not RANDOM, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


@pytest.fixture
def no_hang():
    """Fail a test that runs for more than a minute (a hang in the loader)."""
    def expired(signum, frame):
        raise TimeoutError("the loader did not finish within 60 s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ migrations
def _walk(value):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def test_version_0_fixture_is_migrated_to_version_1():
    doc = read_document(FIXTURE)
    assert doc["version"] == FORMAT_VERSION == 1
    assert doc["format"] == "mixgraph"
    assert doc["sample_rate"] == 44100 and "samplerate" not in doc
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert nodes["kick"] == {"id": "kick", "type": "stem",
                             "params": {"path": "stems/kick.wav", "gain_db": -1.5}}
    assert nodes["kick_ch"]["params"] == {"gain_db": -3.0, "pan": -0.2}
    assert nodes["verb_send"]["params"] == {"level_db": -12.0}
    assert nodes["mix"] == {"id": "mix", "type": "bus"}
    assert nodes["master"]["params"] == {"path": "out/master.wav", "subtype": "PCM_24"}
    assert doc["links"] == [["kick.out", "kick_ch.in"], ["kick_ch.out", "mix.in"],
                            ["kick_ch.pre", "verb_send.in"], ["verb_send.out", "mix.in"],
                            ["mix.out", "master.in"]]
    assert doc["ui"] == {"kick": {"pos": [20, 40]}, "mix": {"pos": [300, 40]}}
    assert "connections" not in doc and "layout" not in doc
    for value in _walk(doc):
        if isinstance(value, dict):
            assert not {"file", "gain", "level"} & set(value), value


def test_version_0_project_validates_once_its_stem_exists_and_renders(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "old.json")
    g = load(tmp_path / "old.json")
    assert g.sample_rate == 44100
    missing = validate(g)
    assert not missing.ok
    assert any("kick.wav" in e.message for e in missing.errors)

    (tmp_path / "stems").mkdir()
    t = np.arange(int(0.5 * 44100)) / 44100
    sf.write(str(tmp_path / "stems" / "kick.wav"), 0.5 * np.sin(2 * np.pi * 60 * t), 44100,
             subtype="PCM_24")
    g = load(tmp_path / "old.json")
    v = validate(g)
    assert v.ok, [e.message for e in v.errors]
    render(g)
    out, rate = sf.read(str(tmp_path / "out" / "master.wav"), always_2d=True)
    assert rate == 44100 and np.max(np.abs(out)) > 0.01

    save(g, tmp_path / "new.json")
    assert json.loads((tmp_path / "new.json").read_text())["version"] == 1


@pytest.mark.parametrize("suffix", [".json", ".mgraph"])
def test_a_file_from_version_99_is_refused_naming_both_versions(tmp_path, suffix):
    path = tmp_path / f"future{suffix}"
    write_document({"format": "mixgraph", "version": 99, "sample_rate": 48000, "nodes": [],
                    "links": []}, path)
    with pytest.raises(ProjectFileError) as err:
        load(path)
    message = err.value.message
    assert "version 99" in message and f"up to {FORMAT_VERSION}" in message
    assert "upgrade mixgraph" in message


V0_BAD_SHAPES = [("connections", 5), ("connections", None), ("layout", [20, 40]),
                 ("layout", "kick")]


@pytest.mark.parametrize("key, value", [("connections", "kick:out"),
                                        ("connections", [["kick:out", "mix:in"]]),
                                        ("nodes", ["kick"]), ("nodes", {"kick": "stem"})])
def test_a_version_0_file_with_a_wrong_shape_gives_a_project_file_error(tmp_path, key, value):
    doc = json.loads(FIXTURE.read_text())
    doc[key] = value
    (tmp_path / "old.json").write_text(json.dumps(doc))
    with pytest.raises(ProjectFileError, match="version 0"):
        load(tmp_path / "old.json")


@pytest.mark.parametrize("key, value", V0_BAD_SHAPES, ids=[f"{k}={v!r}" for k, v in
                                                           V0_BAD_SHAPES])
def test_a_version_0_file_with_a_malformed_section_gives_a_project_file_error(tmp_path, key,
                                                                             value):
    doc = json.loads(FIXTURE.read_text())
    doc[key] = value
    (tmp_path / "old.json").write_text(json.dumps(doc))
    with pytest.raises(ProjectFileError, match="connection|layout"):
        load(tmp_path / "old.json")


# ------------------------------------------------------------------ round trips
def _canonical(doc) -> str:
    """A text that tells 2 from 2.0 and True from 1 (dict equality does not)."""
    return json.dumps(doc, sort_keys=True)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """The demo project with short stems (for round trips and as the fuzz base)."""
    from mixgraph.workflows.demo import synthesise

    folder = tmp_path_factory.mktemp("demo")
    (folder / "stems").mkdir()
    for name, audio in synthesise(seconds=2.0).items():
        sf.write(str(folder / "stems" / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    save(build_project(folder), folder / "demo.mgraph")
    return folder


def _shipped_documents() -> dict[str, dict]:
    return {p.stem: read_document(p) for p in sorted(shipped_dir().glob("*.json"))}


def test_the_four_shipped_templates_are_there():
    assert sorted(_shipped_documents()) == ["band", "mastering", "podcast", "stem_master"]


@pytest.mark.parametrize("name", ["band", "mastering", "podcast", "stem_master", "demo"])
def test_json_and_msgpack_round_trip_to_the_same_document(tmp_path, name, demo_folder):
    if name == "demo":
        g = load(demo_folder / "demo.mgraph")
    else:
        g = load(shipped_dir() / f"{name}.json")
    doc = g.to_document()
    assert _canonical(decode(encode(doc, "json"))) == _canonical(doc)
    assert _canonical(decode(encode(doc, "msgpack"))) == _canonical(doc)
    write_document(doc, tmp_path / "x.json")
    write_document(doc, tmp_path / "x.mgraph")
    from_json = read_document(tmp_path / "x.json")
    from_msgpack = read_document(tmp_path / "x.mgraph")
    assert _canonical(from_json) == _canonical(from_msgpack) == _canonical(doc)
    again = Graph.from_document(from_msgpack, base_dir=g.base_dir)
    assert _canonical(again.to_document()) == _canonical(doc)
    if name != "demo":                      # the shipped file itself is that document
        assert _canonical(read_document(shipped_dir() / f"{name}.json")) == _canonical(doc)


# ------------------------------------------------------------------ the fuzz harness
def feed(data: bytes, base: Path) -> None:
    """Bytes through the whole loader; only a MixgraphError may come out."""
    try:
        doc = decode(data, "the fuzz file")
        doc = upgrade(doc, "the fuzz file")
        g = Graph.from_document(doc, base_dir=base, where="the fuzz file")
        g.path = base / "fuzz.mgraph"                 # as if loaded: outputs checked too
        result = validate(g, allow_outside=False)
        assert all(isinstance(e, MixgraphError) for e in result.errors)
        assert all(isinstance(w, str) for w in result.warnings)
    except MixgraphError as exc:
        assert isinstance(exc.message, str) and exc.message


def as_bytes(doc, how: str) -> bytes:
    if how == "json":
        return json.dumps(doc, allow_nan=True).encode()
    return msgpack.packb(doc, use_bin_type=True)


# ------------------------------------------------------------------ strategies
NODE_TYPES = sorted(node_types())
PARAM_NAMES = sorted({p.name for cls in node_types().values() for p in cls.params})
PORT_NAMES = sorted({n for cls in node_types().values()
                     for n in (*cls.input_names(), *cls.output_names())})
PLAUSIBLE = [p.default for cls in node_types().values() for p in cls.params]

scalars = (st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**64 - 1)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=24)
           | st.sampled_from(["", ".", "..", "out/x.wav", "../x.wav", "/tmp/x.wav",
                              "stems/kick.wav", "mix", "mix.out", "kick.in", "a.b.c",
                              "linear", "exponential", "PCM_16", "catch_all", "leave_out",
                              "template", "project", "__reduce__", "x" * 300]))
json_like = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6)
                         | st.dictionaries(st.text(max_size=12), inner, max_size=6),
                         max_leaves=30)
plausible_values = st.sampled_from(PLAUSIBLE) | json_like
node_ids = st.sampled_from(["kick", "kick_ch", "mix", "out", "a", "b", "master_out", "x"]) \
    | st.text(max_size=10)
port_refs = st.builds(lambda n, p: f"{n}.{p}" if p else n, node_ids,
                      st.none() | st.sampled_from(PORT_NAMES) | st.text(max_size=5))
random_nodes = st.fixed_dictionaries(
    {"id": node_ids, "type": st.sampled_from(NODE_TYPES) | st.text(max_size=8)},
    optional={"params": st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8),
                                        plausible_values, max_size=5),
              "version": st.integers(-2, 3) | scalars})
random_links = st.lists(st.lists(port_refs, min_size=2, max_size=2) | json_like, max_size=8)
headers = st.fixed_dictionaries(
    {"format": st.just("mixgraph") | scalars, "version": st.sampled_from([0, 1, 1, 2]) | scalars},
    optional={**{k: json_like for k in KNOWN_KEYS if k not in ("format", "version")},
              "nodes": st.lists(random_nodes, max_size=8) | json_like,
              "links": random_links,
              "kind": st.sampled_from(["template", "project", None]) | scalars,
              "connections": json_like, "layout": json_like, "samplerate": scalars})


# ------------------------------------------------------------------ (a) bytes
MSGPACK_HEAD = msgpack.packb({"format": "mixgraph", "version": 1})[:-1]


@fuzz_settings(1500)
@given(data=st.binary(max_size=4096)
       | st.binary(max_size=1024).map(lambda b: MSGPACK_HEAD + b)
       | st.binary(max_size=1024).map(lambda b: b'{"format": "mixgraph", "version": 1, ' + b))
def test_fuzz_arbitrary_bytes_give_only_mixgraph_errors(no_hang, data):
    feed(data, Path("/nonexistent-mixgraph-fuzz"))


# ------------------------------------------------------------- (b) json-like values
@fuzz_settings(1500)
@given(doc=json_like | headers, how=st.sampled_from(["json", "msgpack"]))
def test_fuzz_arbitrary_json_like_documents_give_only_mixgraph_errors(no_hang, demo_folder,
                                                                     doc, how):
    try:
        data = as_bytes(doc, how)
    except (OverflowError, ValueError):         # msgpack cannot hold the value at all
        return
    feed(data, demo_folder)


# ------------------------------------------------------------- (c) mutations
def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _other_type(v):
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        return [v] if isinstance(v, int) else str(v)
    if isinstance(v, str):
        return {"automation": v} if v else 0
    if isinstance(v, list):
        return {str(i): x for i, x in enumerate(v)}
    if isinstance(v, dict):
        return list(v.values())
    return "none"


@st.composite
def mutated(draw, bases):
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["drop", "replace", "retype", "node_type", "param",
                                   "link", "node", "version", "duplicate"]))
        paths = [p for p in _paths(doc) if p]
        nodes = doc.get("nodes") if isinstance(doc, dict) else None
        if op in ("drop", "replace", "retype") and paths:
            path = draw(st.sampled_from(paths))
            parent = _get(doc, path[:-1])
            if op == "drop":
                del parent[path[-1]]
            elif op == "replace":
                parent[path[-1]] = draw(json_like)
            else:
                parent[path[-1]] = _other_type(parent[path[-1]])
        elif op == "node_type" and isinstance(nodes, list) and nodes:
            node = draw(st.sampled_from(nodes))
            if isinstance(node, dict):
                node["type"] = draw(st.sampled_from(NODE_TYPES) | st.text(max_size=6))
        elif op == "param" and isinstance(nodes, list) and nodes:
            node = draw(st.sampled_from(nodes))
            if isinstance(node, dict) and isinstance(node.setdefault("params", {}), dict):
                node["params"][draw(st.sampled_from(PARAM_NAMES))] = draw(plausible_values)
        elif op == "link" and isinstance(doc.get("links"), list):
            ids = [n["id"] for n in nodes if isinstance(n, dict) and "id" in n] \
                if isinstance(nodes, list) else []
            ends = st.builds(lambda n, p: f"{n}.{p}",
                             st.sampled_from(ids) if ids else node_ids,
                             st.sampled_from(PORT_NAMES))
            doc["links"].append([draw(ends), draw(ends)])
        elif op == "node" and isinstance(nodes, list):
            nodes.append(draw(random_nodes))
        elif op == "duplicate" and isinstance(nodes, list) and nodes:
            nodes.append(copy.deepcopy(draw(st.sampled_from(nodes))))
        elif op == "version" and isinstance(doc, dict):
            doc["version"] = draw(st.sampled_from([0, 1, 2, -1, "1", 1.0, True, None]))
    return doc


@pytest.fixture(scope="module")
def valid_documents(demo_folder):
    docs = [load(demo_folder / "demo.mgraph").to_document()]
    docs += list(_shipped_documents().values())
    for doc in docs:                                # each one is valid before mutation
        g = Graph.from_document(doc, base_dir=demo_folder)
        assert validate(g).ok, [e.message for e in validate(g).errors]
    return docs


@fuzz_settings(1500)
@given(data=st.data(), how=st.sampled_from(["json", "msgpack"]))
def test_fuzz_mutated_valid_documents_give_only_mixgraph_errors(no_hang, demo_folder,
                                                                valid_documents, data, how):
    doc = data.draw(mutated(valid_documents))
    try:
        raw = as_bytes(doc, how)
    except (OverflowError, ValueError):
        return
    feed(raw, demo_folder)


@fuzz_settings(500)
@given(data=st.data(), how=st.sampled_from(["json", "msgpack"]))
def test_fuzz_mutated_version_0_documents_give_only_mixgraph_errors(no_hang, demo_folder,
                                                                   data, how):
    base = json.loads(FIXTURE.read_text())
    doc = data.draw(mutated([base]))
    if isinstance(doc, dict) and isinstance(doc.get("nodes"), dict) and data.draw(
            st.booleans()):
        node = doc["nodes"].setdefault(data.draw(node_ids), {"type": "stem"})
        if isinstance(node, dict):
            node[data.draw(st.sampled_from(["file", "gain", "level", "type", "id", "params"])
                           | st.text(max_size=6))] = data.draw(plausible_values)
    try:
        raw = as_bytes(doc, how)
    except (OverflowError, ValueError):
        return
    feed(raw, demo_folder)


# ---------------------------------------------- bugs the fuzzing meets, one by one
def _doc(*nodes, links=(), **top):
    return {"format": "mixgraph", "version": 1, "sample_rate": SR, **top,
            "nodes": list(nodes), "links": [list(l) for l in links]}


def _strict_feed(data: bytes, base: Path) -> str:
    """What mixgraph says of the document: the MixgraphError it raises while reading,
    or its validation errors.  Any other exception fails the test; so does silence."""
    try:
        doc = upgrade(decode(data))
        g = Graph.from_document(doc, base_dir=base)
        g.path = base / "song.json"
        found = validate(g, allow_outside=False)
    except MixgraphError as exc:
        return exc.message
    assert not found.ok, "the bad document was accepted"
    return " ".join(e.message for e in found.errors)


@pytest.mark.parametrize("into", [["mix"], {"node": "mix"}])
def test_a_template_with_an_unhashable_catch_all_into_gives_a_mixgraph_error(tmp_path, into):
    doc = _doc({"id": "mix", "type": "bus"}, {"id": "s", "type": "stem",
                                              "params": {"path": ""}},
               links=[("s", "mix")], kind="template",
               template={"unmatched": "catch_all", "catch_all_into": into})
    assert "catch_all_into" in _strict_feed(json.dumps(doc).encode(), tmp_path)


def test_an_output_path_with_a_lone_surrogate_gives_a_mixgraph_error(tmp_path):
    data = (b'{"format": "mixgraph", "version": 1, "nodes": ['
            b'{"id": "s", "type": "tone"}, '
            b'{"id": "o", "type": "output", "params": {"path": "out/\\udc00.wav"}}], '
            b'"links": [["s", "o"]]}')
    said = _strict_feed(data, tmp_path)
    assert "'o'" in said or "path" in said, said


@pytest.mark.parametrize("kind", ["stem", "output"])
def test_an_overlong_file_name_gives_a_mixgraph_error(tmp_path, kind):
    name = "x" * 300 + ".wav"
    nodes = [{"id": "s", "type": "tone"}, {"id": "o", "type": "output",
                                           "params": {"path": "out/mix.wav"}}]
    if kind == "stem":
        nodes[0] = {"id": "s", "type": "stem", "params": {"path": name}}
    else:
        nodes[1]["params"]["path"] = name
    said = _strict_feed(json.dumps(_doc(*nodes, links=[("s", "o")])).encode(), tmp_path)
    assert "xxxx" in said or "long" in said, said


# ------------------------------------------------------------------ truncation, nesting
@pytest.mark.parametrize("how", ["json", "msgpack"])
def test_every_truncation_of_a_valid_document_gives_a_project_file_error(demo_folder, how):
    doc = load(demo_folder / "demo.mgraph").to_document()
    data = encode(doc, how).rstrip()
    assert decode(data) == doc
    step = max(1, len(data) // 1500)
    for cut in list(range(0, len(data), step)) + [len(data) - 1]:
        with pytest.raises(ProjectFileError):
            decode(data[:cut])


def _nested_list(depth):
    x: list = []
    for _ in range(depth):
        x = [x]
    return x


@pytest.mark.parametrize("data", [
    b"[" * 200_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
    b"\x91" * 200_000 + b"\xc0",
    b"\x81\xa1a" * 100_000 + b"\xc0",
    msgpack.packb({"format": "mixgraph", "version": 1, "meta": {"x": _nested_list(500)}}),
], ids=["json-open", "json-lists", "json-objects", "msgpack-arrays", "msgpack-maps",
        "msgpack-in-doc"])
def test_huge_nesting_gives_a_project_file_error(no_hang, data):
    with pytest.raises(ProjectFileError) as err:
        upgrade(decode(data))
    if data[:1] in (b"[", b"{") or b"mixgraph" in data:
        assert "nested" in err.value.message


def test_nesting_up_to_the_limit_is_plain_data(tmp_path):
    ok = {"format": "mixgraph", "version": 1, "meta": {"x": _nested_list(MAX_DEPTH - 3)}}
    assert decode(encode(ok, "msgpack")) == ok
    too_deep = {"format": "mixgraph", "version": 1, "meta": {"x": _nested_list(MAX_DEPTH)}}
    with pytest.raises(ProjectFileError, match=f"more than {MAX_DEPTH} levels"):
        decode(msgpack.packb(too_deep))


# ------------------------------------------------------------------ no code, bounded size
class _Trap:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("suffix", [".mgraph", ".json"])
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_bytes_are_refused_and_run_no_code(tmp_path, suffix, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"format": "mixgraph", "version": 1, "trap": _Trap(marker)},
                           protocol=protocol)
    (tmp_path / f"evil{suffix}").write_bytes(payload)
    with pytest.raises(ProjectFileError):
        load(tmp_path / f"evil{suffix}")
    assert not marker.exists()


def test_reduce_like_strings_stay_plain_strings(tmp_path, monkeypatch):
    import builtins

    def forbidden(*args, **kwargs):
        raise AssertionError("the loader called an evaluator")
    for name in ("eval", "exec"):
        monkeypatch.setattr(builtins, name, forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    evil = {"__reduce__": ["os.system", "touch pwned"], "py/object": "os.system",
            "!!python/object/apply:os.system": ["touch pwned"], "__class__": "subprocess.Popen",
            "$type": "System.Diagnostics.Process"}
    doc = _doc({"id": "s", "type": "stem", "params": {"path": "stems/x.wav", **evil}},
               {"id": "__reduce__", "type": "os.system", "params": {"cmd": "touch pwned"}},
               meta=evil)
    for suffix in (".json", ".mgraph"):
        write_document(doc, tmp_path / f"doc{suffix}")
        g = load(tmp_path / f"doc{suffix}")
        assert g.meta == evil
        assert g.nodes["s"].params["__reduce__"] == ["os.system", "touch pwned"]
        v = validate(g)
        assert any("has no parameter '__reduce__'" in e.message for e in v.errors)
        assert any("unknown type 'os.system'" in e.message for e in v.errors)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@pytest.mark.parametrize("ext", [msgpack.ExtType(1, b"\x80\x04K\x01."),
                                 msgpack.Timestamp(0, 0)], ids=["ext", "timestamp"])
def test_msgpack_extension_types_are_refused(tmp_path, ext):
    data = msgpack.packb({"format": "mixgraph", "version": 1, "meta": {"x": ext}})
    (tmp_path / "ext.mgraph").write_bytes(data)
    with pytest.raises(ProjectFileError, match="plain data|extension"):
        load(tmp_path / "ext.mgraph")


@pytest.mark.parametrize("suffix", [".mgraph", ".json"])
def test_a_65_mb_file_is_refused_by_its_size_without_being_read(tmp_path, monkeypatch,
                                                               suffix):
    path = tmp_path / f"huge{suffix}"
    with open(path, "wb") as f:
        f.write(b'{"format": "mixgraph"')
        f.truncate(65 * 1024 * 1024)                 # sparse: no 65 MB written
    assert path.stat().st_size > MAX_FILE_BYTES

    def no_reading(self, *args, **kwargs):
        raise AssertionError(f"{self} was read")
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    monkeypatch.setattr(Path, "open", no_reading)
    with pytest.raises(ProjectFileError) as err:
        load(path)
    assert f"{65 * 1024 * 1024:,} bytes" in err.value.message
    assert f"{MAX_FILE_BYTES:,}" in err.value.message


def test_bytes_over_the_limit_are_refused_by_decode():
    with pytest.raises(ProjectFileError, match="limited"):
        decode(b" " * (MAX_FILE_BYTES + 1))
