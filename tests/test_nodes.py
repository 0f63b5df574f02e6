"""Registry-driven checks over every built-in node type."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import BLOCK_SIZES, SR
from mixgraph import Graph, ParameterError, load, save
from mixgraph.nodes.base import Context, Sink, node_types

BUILTIN = {name: cls for name, cls in node_types().items() if cls.__module__.startswith("mixgraph.nodes.")}
PROCESSORS = {n: c for n, c in BUILTIN.items() if c.inputs and c.outputs}
UNIT_SUFFIXES = {"_db": "dB", "_dbfs": "dBFS", "_hz": "Hz", "_ms": "ms", "_s": "s",
                 "_lufs": "LUFS", "_dbtp": "dBTP"}


def test_catalogue_has_the_first_nodes():
    assert set(BUILTIN) >= {"stem", "tone", "noise", "channel", "bus", "send", "group",
                            "gain", "output"}


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_declaration_is_complete_and_units_match_names(name):
    cls = BUILTIN[name]
    assert cls.summary and cls.category and cls.version >= 1
    for p in cls.params:
        assert p.doc, f"{name}.{p.name} has no doc"
        for suffix, unit in UNIT_SUFFIXES.items():
            if p.name.endswith(suffix):
                assert p.unit == unit, f"{name}.{p.name}: unit {p.unit!r}, expected {unit!r}"
        if p.name == "pan":
            assert (p.min, p.max) == (-1.0, 1.0)
        if p.name == "mix":
            assert (p.min, p.max) == (0.0, 1.0)


def _valid_params(cls, tmp_path) -> dict:
    """A non-default, valid value for every parameter (files created as needed)."""
    import soundfile as sf
    values = {}
    for p in cls.params:
        if p.kind == "float":
            lo = p.min if p.min is not None else -10.0
            hi = p.max if p.max is not None else 10.0
            third = lo + (hi - lo) / 3
            values[p.name] = float(third if third != p.default else lo + (hi - lo) / 2)
        elif p.kind == "bool":
            values[p.name] = not p.default
        elif p.kind == "choice":
            values[p.name] = next((c for c in p.choices if c != p.default), p.default)
        elif p.kind == "int" and p.choices:
            values[p.name] = next((c for c in p.choices if c != p.default), p.default)
        elif p.kind == "path" and name_reads(cls, p.name):
            path = tmp_path / f"{p.name}.wav"
            sf.write(str(path), np.zeros(480), SR)
            values[p.name] = path.name
        elif p.kind == "path":
            values[p.name] = "written.wav"
    if "freq_hz" in values:
        values["freq_hz"] = 1000.0
    if "sample_rate" in values:
        values["sample_rate"] = 44100
    return values


def name_reads(cls, param) -> bool:
    return param in cls.with_role("reads")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_parameter_round_trips_through_json_and_msgpack(name, tmp_path):
    cls = BUILTIN[name]
    g = Graph(base_dir=tmp_path)
    g.add(name, id="n", **_valid_params(cls, tmp_path))
    for suffix in (".json", ".mgraph"):
        save(g, tmp_path / f"p{suffix}")
        back = load(tmp_path / f"p{suffix}")
        assert back.to_document() == g.to_document()
    json.dumps(g.to_document())


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_out_of_range_parameters_are_refused(name, tmp_path):
    cls = BUILTIN[name]
    g = Graph(base_dir=tmp_path)
    g.add(name, id="n", **({"path": "x.wav"} if "path" in cls.param_table() else {}))
    checked = 0
    for p in cls.params:
        bad = []
        if p.kind in ("float", "int") and p.max is not None:
            bad.append(p.max + 1)
        if p.kind in ("float", "int") and p.min is not None:
            bad.append(p.min - 1)
        if p.kind == "choice":
            bad.append("no-such-choice")
        if p.kind == "bool":
            bad.append("yes")
        if p.kind == "list" and (p.check is not None or p.items is not None):
            bad.append([{"no_such_field": 1}])
        for value in bad:
            with pytest.raises(ParameterError, match=f"node 'n': {p.name}"):
                g.set("n", p.name, value)
            checked += 1
    assert checked or all(p.kind in ("str", "path") for p in cls.params)


def _prepared(cls, channels, block):
    node = cls()
    ctx = Context(sample_rate=SR, max_block=block,
                  input_channels=tuple(channels if not p.optional else None
                                       for p in cls.inputs))
    out_ch = node.prepare(ctx)
    return node, out_ch


def _run(node, out_ch, x, block, sidechain=False):
    n = x.shape[1]
    outs = [np.zeros((c, n)) for c in out_ch]
    for start in range(0, n, block):
        f = min(block, n - start)
        ins = tuple(x[:, start:start + f] if not p.optional else None
                    for p in type(node).inputs)
        views = tuple(np.zeros((c, f)) for c in out_ch)
        node.process(ins, views, start)
        for o, v in zip(outs, views):
            o[:, start:start + f] = v
    return outs


@pytest.mark.parametrize("name", sorted(n for n in PROCESSORS if not issubclass(
    PROCESSORS[n], Sink)))
@pytest.mark.parametrize("channels", [1, 2])
def test_silence_in_gives_silence_out(name, channels):
    node, out_ch = _prepared(PROCESSORS[name], channels, 512)
    outs = _run(node, out_ch, np.zeros((channels, 4096)), 512)
    assert all(np.all(o == 0) for o in outs)


@pytest.mark.parametrize("name", sorted(n for n in PROCESSORS if not issubclass(
    PROCESSORS[n], Sink)))
def test_processing_in_chunks_equals_one_pass(name):
    x = np.random.default_rng(5).standard_normal((2, 20000)) * 0.3
    node, out_ch = _prepared(PROCESSORS[name], 2, 20000)
    whole = _run(node, out_ch, x, 20000)
    for block in BLOCK_SIZES[1:]:
        node, out_ch = _prepared(PROCESSORS[name], 2, block)
        parts = _run(node, out_ch, x, block)
        for w, p in zip(whole, parts):
            bad = np.flatnonzero(np.abs(w - p).max(axis=0) > 1e-12)
            assert bad.size == 0, f"block {block}: mismatch in samples {bad[0]:,}-{bad[-1]:,}"


@pytest.mark.parametrize("name", sorted(n for n in PROCESSORS if not issubclass(
    PROCESSORS[n], Sink)))
def test_reset_then_rerun_gives_the_same_output(name):
    x = np.random.default_rng(6).standard_normal((2, 5000)) * 0.3
    node, out_ch = _prepared(PROCESSORS[name], 2, 1000)
    first = _run(node, out_ch, x, 1000)
    node.reset()
    second = _run(node, out_ch, x, 1000)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_node_reads_like_its_front_panel():
    from mixgraph.nodes.mixing import Channel
    ch = Channel(gain_db=-3.0, pan=0.25)
    assert ch.gain_db == -3.0 and ch.pan == 0.25 and ch.mute is False
    with pytest.raises(ParameterError, match="channel has no parameter 'gain'"):
        Channel(gain=-3.0)
    with pytest.raises(ParameterError, match="pan must be between -1 and 1, got 2"):
        Channel(pan=2)


@pytest.mark.parametrize("name", sorted(n for n in PROCESSORS if not issubclass(
    PROCESSORS[n], Sink)))
def test_reset_clears_tails(name):
    """After reset, silence in gives silence out: no reverb or echo left over."""
    x = np.random.default_rng(7).standard_normal((2, 8000)) * 0.3
    node, out_ch = _prepared(PROCESSORS[name], 2, 1000)
    _run(node, out_ch, x, 1000)
    node.reset()
    after = _run(node, out_ch, np.zeros((2, 48000)), 1000)
    assert all(np.all(o == 0) for o in after), f"{name} still sounds after reset"


# ------------------------------------------------------------- the node contract
def test_no_parameter_is_hidden_by_an_engine_attribute():
    """A parameter reads back as the node's attribute after the engine has prepared it
    (the engine's own facts live under names no parameter may take)."""
    from mixgraph.nodes.base import ENGINE_ATTRIBUTES
    from mixgraph.nodes.output import Output

    for name, cls in BUILTIN.items():
        for p in cls.params:
            assert p.name not in ENGINE_ATTRIBUTES and not hasattr(cls, p.name), (name, p.name)
    out = Output(path="x.wav", sample_rate=44100)
    out.prepare(Context(sample_rate=48000, max_block=64, input_channels=(2,)))
    assert (out.sample_rate, out.rate, out.sample_rate_out) == (44100, 48000, 44100)
    assert Output(path="x.wav").sample_rate == 0


def test_registering_a_parameter_an_attribute_would_hide_is_refused():
    from mixgraph.nodes.base import Node, Param, register

    for clash in ("rate", "node_id", "process", "latency"):
        cls = type("Clash", (Node,), {"type_name": "clash_test", "summary": "x",
                                      "params": (Param(clash, 0.0, doc="x"),)})
        with pytest.raises(TypeError, match="hidden by the node's own attribute"):
            register(cls)


def test_a_role_must_have_its_kind():
    from mixgraph.nodes.base import Param

    with pytest.raises(ValueError, match="role 'mute' needs kind 'bool'"):
        Param("silence", 0.0, role="mute")


def test_the_engine_finds_mute_solo_and_members_by_role_not_by_name(tmp_path):
    """A node type whose parameters are named differently mutes, solos and controls
    its members through the roles it declares."""
    from mixgraph.nodes.base import Node, Param, Port, register, unregister

    @register
    class Vca(Node):
        type_name = "vca_test"
        summary = "a VCA group with its own parameter names"
        inputs = (Port("in", optional=True),)
        params = (Param("kill", False, kind="bool", role="mute", doc="silence"),
                  Param("listen", False, kind="bool", role="solo", doc="solo"),
                  Param("controls", [], kind="nodes", role="members", doc="members"))

        def process(self, ins, outs, start):
            outs[0][...] = 0.0 if ins[0] is None else ins[0]

    try:
        def mix(**vca) -> np.ndarray:
            g = Graph(sample_rate=SR, base_dir=tmp_path)
            g.add("tone", id="a", freq_hz=440.0, duration_s=0.2)
            g.add("tone", id="b", freq_hz=660.0, duration_s=0.2)
            g.add("bus", id="mix")
            g.add("vca_test", id="vca", controls=["a"], **vca)
            g.add("output", id="o", path="o.wav", subtype="FLOAT")
            for a, b in (("a", "mix"), ("b", "mix"), ("mix", "o")):
                g.connect(a, b)
            from mixgraph import render
            import soundfile as sf
            render(g, workers=1)
            return sf.read(str(tmp_path / "o.wav"), always_2d=True)[0]

        both, killed, listened = mix(), mix(kill=True), mix(listen=True)
        t = np.arange(killed.shape[0]) / SR
        b_only = 10 ** (-18 / 20) * np.sin(2 * np.pi * 660.0 * t)   # tone's default level
        # muting the VCA silences its member 'a' only; soloing it leaves only 'a'
        assert np.abs(killed[:, 0] - b_only).max() < 1e-6
        assert np.abs(listened[:, 0] - (both[:, 0] - b_only)).max() < 1e-6
        assert np.abs(listened).max() > 0.05
    finally:
        unregister("vca_test")


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_a_node_closes_cleanly_before_it_was_prepared(name, tmp_path):
    """The engine closes every node it made when a later one fails to prepare: a
    node never prepared must close without an error of its own (which would hide the
    real one)."""
    cls = BUILTIN[name]
    cls(**{p.name: _valid_params(cls, tmp_path)[p.name] for p in cls.params
           if p.required}).close()
