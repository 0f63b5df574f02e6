"""The live engine, without a sound card: what it would send to the device, block by
block, against the render (null tests), closed forms for the monitor section, and
edits made while it plays (a fader glides, a link is heard after a crossfade, the
song position goes on)."""

import math

import numpy as np
import pytest

from mixgraph.core.listen import Listener, preview
from mixgraph.core.live import CROSSFADE_S, RAMP_S, LiveEngine
from mixgraph.errors import MixgraphError

from conftest import SR, db, rms_db, seeded_noise, sine

BLOCK = 512


def play(engine: LiveEngine, seconds: float) -> np.ndarray:
    frames = int(seconds * SR) // BLOCK * BLOCK
    return np.concatenate([engine.render(BLOCK) for _ in range(frames // BLOCK)], axis=1)


def strip(project, node_id="a", audio=None, **channel):
    """A stem into a channel strip into a bus ``mix``, into output ``out``."""
    g = project.graph
    project.stem(node_id, sine(440.0, 3.0, -12.0) if audio is None else audio)
    g.add("channel", id=f"{node_id}_ch", **channel)
    g.connect(node_id, f"{node_id}_ch")
    if "mix" not in g.nodes:
        g.add("bus", id="mix")
        project.output(src="mix")
    g.connect(f"{node_id}_ch", "mix")


def test_what_plays_is_what_renders_through_a_master_chain_with_a_loudness_stage(project):
    """The engine's own chain (no tape: edits upstream must be heard) gives the same
    samples as the render, loudness analysis, limiter latency and all."""
    g = project.graph
    project.stem("a", seeded_noise(3.0, channels=2, seed=3))
    g.add("compressor", id="comp", threshold_db=-30.0, ratio=4.0)
    g.add("loudness", id="loud", target_lufs=-10.0, ceiling_dbtp=-1.0)
    g.connect("a", "comp")
    g.connect("comp", "loud")
    project.output(src="loud")
    rendered = project.render_read()
    engine = LiveEngine(g, block_size=BLOCK)
    try:
        heard = play(engine, 3.0)
    finally:
        engine.close()
    n = heard.shape[1]
    # the device gets float32; the file holds float32
    np.testing.assert_array_equal(heard, rendered[:, :n].astype(np.float32))


def test_a_listener_seeks_to_the_frame_the_sources_make_there(project):
    """After a seek the first frame out is the song's frame there (the graph's latency
    is run unheard), whatever the point's latency."""
    g = project.graph
    x = seeded_noise(2.0, seed=5)
    project.stem("a", x)
    g.add("limiter", id="lim", ceiling_dbtp=0.0)     # latency, and no limiting here
    g.connect("a", "lim")
    project.output(src="lim")
    listener = Listener(g, ["lim.out"], block_size=BLOCK, start_s=0.5)
    try:
        assert listener.position == SR // 2
        (block,) = listener.render()
    finally:
        listener.close()
    np.testing.assert_allclose(block[0], x[0, SR // 2:SR // 2 + BLOCK], atol=2e-7)


def test_a_fader_move_glides_in_the_promised_time_without_a_click(project):
    strip(project, gain_db=0.0, pan=0.0, width=1.0)
    engine = LiveEngine(project.graph, block_size=BLOCK)
    try:
        before = play(engine, 0.5)
        engine.set_param("a_ch", "gain_db", -12.0)
        after = play(engine, 0.5)
    finally:
        engine.close()
    level = np.abs(np.concatenate([before, after], axis=1)[0])
    # a sine's peak envelope: the full level before, 12 dB down one ramp after the
    # block the change was heard in
    settled = before.shape[1] + int(RAMP_S * SR) + 1
    assert db(level[settled:].max() / level[:before.shape[1]].max()) == \
        pytest.approx(-12.0, abs=0.05)
    # no step: the largest sample-to-sample jump is no bigger than the sine's own
    x = np.concatenate([before, after], axis=1)[0]
    steepest = 2 * math.pi * 440.0 / SR * level.max()
    assert np.abs(np.diff(x)).max() <= steepest * 1.01


def test_a_link_made_while_playing_is_heard_after_a_crossfade_and_the_song_goes_on(
        project):
    strip(project, "a", audio=sine(440.0, 3.0, -12.0))
    project.stem("b", sine(1000.0, 3.0, -12.0))
    engine = LiveEngine(project.graph, block_size=BLOCK)
    try:
        first = play(engine, 0.5)
        edited = project.graph.copy()
        edited.connect("b", "mix")
        engine.update(edited)
        positions = [engine.position_s]
        blocks = [engine.render(BLOCK)]                  # the edit is taken here
        assert engine.wait_until_planned()
        for _ in range(39):
            positions.append(engine.position_s)
            blocks.append(engine.render(BLOCK))
        second = np.concatenate(blocks, axis=1)
    finally:
        engine.close()
    # the song position went on block by block through the swap
    assert np.allclose(np.diff(positions), BLOCK / SR)
    assert positions[0] == pytest.approx(first.shape[1] / SR)
    # after the crossfade: what the edited graph renders at that song time
    from mixgraph import render

    render(edited)
    rendered = project.read()[:, first.shape[1]:first.shape[1] + second.shape[1]]
    fade = int(CROSSFADE_S * SR) + BLOCK
    np.testing.assert_allclose(second[:, fade:], rendered[:, fade:], atol=1e-6)
    # no gap: the 440 Hz part never dips during the swap
    assert rms_db(second[0, :fade]) > rms_db(first[0]) - 0.5


def test_the_monitor_section_is_exact(project):
    left = sine(300.0, 2.0, -6.0)
    right = sine(700.0, 2.0, -6.0)
    project.stem("st", np.vstack([left, right]))
    project.output(src="st")
    engine = LiveEngine(project.graph, block_size=BLOCK)
    try:
        plain = play(engine, 0.1)
        n = plain.shape[1]
        engine.monitor.mono = True
        engine.render(BLOCK)                             # the ramp to mono
        mono = play(engine, 0.1)
        engine.monitor.mono = False
        engine.monitor.swap = True
        engine.render(BLOCK)
        swapped = play(engine, 0.1)
        engine.monitor.swap = False
        engine.monitor.dim = True
        engine.render(BLOCK)
        dimmed = play(engine, 0.1)
        engine.monitor.mute = True
        engine.render(BLOCK)
        muted = play(engine, 0.1)
    finally:
        engine.close()
    np.testing.assert_allclose(plain, np.vstack([left, right])[:, :n], atol=1e-7)
    at = lambda k: slice(n * k + BLOCK * k, n * k + BLOCK * k + n)   # noqa: E731
    src = np.vstack([left, right])
    np.testing.assert_allclose(mono[0], (src[0, at(1)] + src[1, at(1)]) / 2, atol=1e-7)
    np.testing.assert_allclose(mono[1], mono[0], atol=0)
    np.testing.assert_allclose(swapped, src[::-1, at(2)], atol=1e-7)
    np.testing.assert_allclose(dimmed, src[:, at(3)] * 0.1, atol=1e-7)
    assert not muted.any()


def test_ab_is_loudness_matched_and_switches_without_a_click(project):
    g = project.graph
    x = seeded_noise(4.0, seed=2)
    project.stem("a", x)
    g.add("gain", id="quiet", gain_db=-9.0)
    g.connect("a", "quiet")
    project.output(src="a")
    project.output("q", src="quiet")
    engine = LiveEngine(g, listen="out", compare="q", block_size=BLOCK)
    try:
        a = play(engine, 1.5)
        engine.ab = "b"
        b = play(engine, 1.5)
    finally:
        engine.close()
    # the quieter B is raised to A's integrated loudness (measured since Play)
    assert rms_db(b[0, SR // 2:]) == pytest.approx(rms_db(a[0, SR // 2:]), abs=0.3)
    assert np.abs(np.diff(b[0, :BLOCK])).max() < 2 * np.abs(np.diff(a[0])).max()


def test_meters_read_levels_and_what_dynamics_nodes_do_at_thirty_hertz(project):
    g = project.graph
    project.stem("a", sine(1000.0, 2.0, -6.0))
    g.add("compressor", id="comp", threshold_db=-30.0, ratio=10.0, attack_ms=1.0)
    g.connect("a", "comp")
    project.output(src="comp")
    engine = LiveEngine(g, block_size=BLOCK)
    seen = []
    try:
        for _ in range(int(1.0 * SR / BLOCK)):
            engine.render(BLOCK)
            seen.append(engine.meters().get("position_s"))
        readings = engine.meters()
    finally:
        engine.close()
    published = {p for p in seen if p is not None}
    assert len(published) >= 30 - 1
    stem = readings["nodes"]["a"]
    assert stem["peak_db"][0] == pytest.approx(-6.0, abs=0.05)
    assert stem["rms_db"][0] == pytest.approx(-9.01, abs=0.1)
    # BS.1770: a 1 kHz sine at 0 dBFS in one channel reads -3.01 LUFS
    assert stem["momentary_lufs"] == pytest.approx(-6.0 - 3.01, abs=0.05)
    # 24 dB over the threshold at 10:1: about 21.6 dB of gain reduction
    assert readings["nodes"]["comp"]["gain_reduction_db"] == pytest.approx(21.6, abs=1.0)
    assert readings["listen"]["momentary_lufs"] == pytest.approx(
        readings["nodes"]["comp"]["rms_db"][0] - 0.691 + 3.01 + 0.0, abs=1.0)


def test_a_broken_edit_leaves_the_last_good_graph_playing_and_says_why(project):
    strip(project)
    engine = LiveEngine(project.graph, block_size=BLOCK)
    try:
        first = play(engine, 0.2)
        edited = project.graph.copy()
        edited.add("stem", id="ghost", path="stems/not_there.wav")
        edited.connect("ghost", "mix")
        engine.update(edited)
        engine.render(BLOCK)
        assert not engine.wait_until_planned()
        assert "not_there.wav" in engine.problem
        more = play(engine, 0.2)
    finally:
        engine.close()
    assert rms_db(more[0]) == pytest.approx(rms_db(first[0]), abs=0.1)


def test_a_loop_goes_back_with_a_short_fade(project):
    strip(project, audio=seeded_noise(3.0, seed=4))
    engine = LiveEngine(project.graph, block_size=BLOCK, loop=(1.0, 1.5))
    try:
        engine.seek(1.0)
        heard = play(engine, 1.2)
        assert 1.0 <= engine.position_s < 1.5
    finally:
        engine.close()
    # the loop ends exactly at 1.5 s (mid-block) and its frames repeat: the
    # second pass equals the first, past its fade-in
    span = int(0.5 * SR)
    fade = int(0.005 * SR)
    # the block that ends the loop fades out over 5 ms (the last samples near silence)
    peak = np.abs(heard[:, :span]).max()
    assert np.abs(heard[:, span - 8:span]).max() < 0.05 * peak
    assert np.abs(heard[:, span - fade - 200:span - fade]).max() > 0.3 * peak
    np.testing.assert_allclose(heard[:, span + fade:span + 2 * BLOCK],
                               heard[:, fade:2 * BLOCK], atol=1e-6)


def test_listening_to_a_port_that_does_not_exist_is_one_sentence(project):
    strip(project)
    with pytest.raises(MixgraphError, match="'a_ch' has no output port 'nope'"):
        LiveEngine(project.graph, listen="a_ch.nope")


def test_preview_and_engine_agree_from_a_later_start(project):
    strip(project, audio=seeded_noise(3.0, seed=6), gain_db=-3.0)
    heard = np.concatenate([b for _, b in preview(project.graph, "out", start_s=1.0,
                                                  block_size=BLOCK)], axis=1)
    engine = LiveEngine(project.graph, block_size=BLOCK, start_s=1.0)
    try:
        live = play(engine, 1.0)
    finally:
        engine.close()
    np.testing.assert_array_equal(live, heard[:, :live.shape[1]].astype(np.float32))


def _changeable():
    """(node type, parameter, new value) for every number parameter that can move."""
    from mixgraph.nodes.base import Sink, node_types

    for name, cls in sorted(node_types().items()):
        if issubclass(cls, Sink) or cls.category == "test" or not cls.inputs:
            continue
        for p in cls.params:
            if p.automatable and p.kind == "float" and p.min is not None \
                    and p.max is not None:
                span = p.max - p.min
                new = p.default + 0.3 * span if p.default + 0.3 * span <= p.max \
                    else p.default - 0.3 * span
                yield pytest.param(name, p.name, new, id=f"{name}.{p.name}")


@pytest.mark.parametrize("type_name,param,value", list(_changeable()))
def test_a_change_while_playing_is_heard_as_the_same_glide_automated(
        project, type_name, param, value):
    """Every parameter that can move while playing moves exactly as automation moving
    it over the same 10 ms would (so nothing a node kept from before is left stale);
    one that cannot says so, and the engine plans the graph again."""
    from mixgraph import render
    from mixgraph.nodes.base import Node

    g = project.graph
    project.stem("a", seeded_noise(1.5, channels=2, seed=8, level_db=-12.0))
    g.add(type_name, id="n")
    g.connect("a", "n")
    project.output(src="n")
    old = g.nodes["n"].params.get(param, g.nodes["n"].node_class().param_table()[param].default)
    engine = LiveEngine(g, block_size=BLOCK)
    try:
        play(engine, 0.25)
        at = engine._version.listener.n - engine._version.steps["n"].latency_in
        step = engine._version.steps["n"]
        try:
            step.node.change(param, value, at, int(RAMP_S * SR))
        except ValueError:                             # it cannot glide: replanned
            engine.set_param("n", param, value)
            engine.render(BLOCK)
            assert engine.wait_until_planned()
            engine.render(BLOCK)
            assert engine.graph.nodes["n"].params[param] == value
            return
        heard = play(engine, 1.0)
    finally:
        engine.close()
    start = at / SR
    g.set("n", param, {"automation": [[0.0, old], [start, old],
                                   [start + RAMP_S, value]]})
    render(g)
    rendered = project.read()
    if rendered.shape[0] > 2:               # a surround node: heard as its stereo fold
        from mixgraph.nodes.layouts import matrix

        rendered = matrix(rendered.shape[0], 2) @ rendered
    from_ = int(0.25 * SR) // BLOCK * BLOCK
    np.testing.assert_allclose(heard[:, :rendered.shape[1] - from_],
                               rendered[:, from_:from_ + heard.shape[1]].astype(np.float32),
                               atol=2e-6)
    assert isinstance(step.node, Node)


def test_edit_glides_what_only_changed_value_and_replans_the_rest(project):
    """``edit`` (what the editor calls with its graph after each change): a value
    changed glides exactly as ``set_param``; a node moved on the canvas changes
    nothing; a link made is replanned and heard."""
    strip(project, audio=seeded_noise(3.0, seed=5))
    strip(project, "b", audio=seeded_noise(3.0, seed=6))
    g = project.graph
    g.disconnect("b_ch", "mix")
    glided, edited, moved = (LiveEngine(g, block_size=BLOCK) for _ in range(3))
    try:
        heard = [play(e, 0.5) for e in (glided, edited, moved)]
        glided.set_param("a_ch", "gain_db", -9.0)
        louder = g.copy()
        louder.set("a_ch", "gain_db", -9.0)
        edited.edit(louder)
        placed = g.copy()
        placed.ui["a_ch"] = {"pos": [400.0, 120.0]}
        moved.edit(placed)
        after = [play(e, 0.5) for e in (glided, edited, moved)]
        assert edited.wait_until_planned() and moved.wait_until_planned()
        np.testing.assert_array_equal(after[1], after[0])
        np.testing.assert_array_equal(np.hstack([heard[2], after[2]]),
                                      project.render_read()[:, :2 * after[2].shape[1]]
                                      .astype(np.float32))
        linked = louder.copy()
        linked.connect("b_ch", "mix")
        edited.edit(linked)
        edited.render(BLOCK)
        assert edited.wait_until_planned() and edited.problem is None
        both = play(edited, 0.5)
    finally:
        for e in (glided, edited, moved):
            e.close()
    assert rms_db(both[:, BLOCK:]) > rms_db(after[1]) + 2.0        # b is heard too


def test_every_node_meters_its_own_output_in_a_bigger_graph(project):
    """Each node's meter reads what that node wrote this block (not a buffer another
    node wrote into later in the block)."""
    g = project.graph
    levels = {"s1": -6.0, "s2": -20.0, "s3": -30.0}
    for i, (sid, level) in enumerate(levels.items()):
        project.stem(sid, sine(200.0 * (i + 1), 2.0, level))
        g.add("eq", id=f"{sid}_eq")
        g.add("channel", id=f"{sid}_ch", gain_db=-10.0 * i)
        g.connect(sid, f"{sid}_eq")
        g.connect(f"{sid}_eq", f"{sid}_ch")
    g.add("bus", id="mix")
    for sid in levels:
        g.connect(f"{sid}_ch", "mix")
    project.output(src="mix")
    engine = LiveEngine(g, block_size=BLOCK)
    try:
        play(engine, 0.5)
        nodes = engine.meters()["nodes"]
    finally:
        engine.close()
    for i, (sid, level) in enumerate(levels.items()):
        assert nodes[sid]["peak_db"][0] == pytest.approx(level, abs=0.05)
        assert nodes[f"{sid}_eq"]["peak_db"][0] == pytest.approx(level, abs=0.05)
        # centre pan: -3 dB a side, and the channel's gain
        assert nodes[f"{sid}_ch"]["peak_db"][0] == pytest.approx(level - 3.01 - 10.0 * i,
                                                                 abs=0.05)


def test_a_loop_that_ends_just_past_a_block_still_fades_out_over_five_ms(project):
    strip(project, audio=seeded_noise(3.0, seed=4))
    span = 20 * BLOCK + 3                          # the last block would be 3 samples
    engine = LiveEngine(project.graph, block_size=BLOCK, loop=(1.0, 1.0 + span / SR))
    try:
        engine.seek(1.0)
        heard = play(engine, 1.2)
    finally:
        engine.close()
    fade = int(0.005 * SR)
    ramp = np.abs(heard[0, span - fade:span])
    peak = np.abs(heard[0, :span]).max()
    # over the 5 ms before the jump the level falls steadily to nothing
    assert ramp[-8:].max() < 0.05 * peak
    thirds = [ramp[k * fade // 3:(k + 1) * fade // 3].max() for k in range(3)]
    assert thirds[0] > thirds[1] > thirds[2]


def test_a_recorded_ride_plays_back_what_was_heard_and_thins_to_few_points(project):
    """A fader ridden while playing (a new value every 17 ms, as a mouse drag gives,
    against 512-sample blocks), recorded: its points, rendered as automation, give
    what was heard (to float32 precision); thinned to 0.1 dB they stay within 0.1 dB
    of every value played, under a fifth of them (89 for 6 s of a 10 dB swing every 3 s)."""
    from mixgraph import render
    from mixgraph.nodes.automation import Automation, thin

    strip(project, audio=sine(440.0, 7.0, -12.0))
    g = project.graph
    engine = LiveEngine(g, block_size=BLOCK)
    moves = 0
    try:
        play(engine, 0.5)
        engine.record("a_ch", "gain_db")
        heard = []
        for k in range(int(6.0 / 0.017)):
            t = k * 0.017
            engine.set_param("a_ch", "gain_db", round(-6.0 + 5.0 * math.sin(2 * math.pi * t / 3.0)
                                                      + 0.002 * k, 2))
            moves += 1
            while engine.position_s < 0.5 + (k + 1) * 0.017:
                heard.append(engine.render(BLOCK))
        heard.append(play(engine, 0.5))
        points = engine.ride("a_ch", "gain_db")
    finally:
        engine.close()
    heard = np.concatenate(heard, axis=1)
    assert len(points) >= moves                     # every move heard is in the ride
    g.set("a_ch", "gain_db", {"automation": points})
    render(g)
    rendered = project.read()
    start = int(0.5 * SR) // BLOCK * BLOCK
    np.testing.assert_allclose(heard, rendered[:, start:start + heard.shape[1]]
                               .astype(np.float32), atol=2e-6)
    thinned = thin(points, 0.1)
    t = np.linspace(points[0][0], points[-1][0], 20000)
    played, written = Automation(points).at_seconds(t), Automation(thinned).at_seconds(t)
    assert np.abs(played - written).max() <= 0.1 + 1e-9
    assert len(thinned) < len(points) / 5 and len(thinned) <= 100, len(thinned)
