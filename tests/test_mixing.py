"""Channel, bus, send, group, gain: analytic levels, fan-in sums, mute and solo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import SR, db, seeded_noise, sine

DC = np.full((1, SR // 10), 0.5)                    # 100 ms of a constant 0.5


@pytest.mark.parametrize("pan, left_db, right_db", [
    (-1.0, 0.0, -math.inf),
    (-0.5, 20 * math.log10(math.cos(math.pi / 8)), 20 * math.log10(math.sin(math.pi / 8))),
    (0.0, -3.0103, -3.0103),
    (0.5, 20 * math.log10(math.sin(math.pi / 8)), 20 * math.log10(math.cos(math.pi / 8))),
    (1.0, -math.inf, 0.0),
])
def test_mono_pan_is_constant_power(project, pan, left_db, right_db):
    project.stem("src", DC)
    project.graph.add("channel", id="ch", pan=pan)
    project.graph.connect("src", "ch")
    project.output(src="ch")
    out = project.render_read()
    assert out.shape[0] == 2
    for c, want in enumerate((left_db, right_db)):
        if math.isinf(want):
            assert abs(out[c, 100]) < 1e-12
        else:
            assert db(abs(out[c, 100]) / 0.5) == pytest.approx(want, abs=0.01)
    # constant power: left^2 + right^2 == 1 (relative to the input; FLOAT file precision)
    assert np.sum(np.square(out[:, 100] / 0.5)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("pan, left_db, right_db", [
    (0.0, 0.0, 0.0),
    (0.5, 20 * math.log10(math.sqrt(2) * math.cos(3 * math.pi / 8)), 0.0),
    (1.0, -math.inf, 0.0),
    (-0.25, 0.0, 20 * math.log10(math.sqrt(2) * math.sin(3 * math.pi / 16))),
])
def test_stereo_pan_is_balance(project, pan, left_db, right_db):
    project.stem("src", np.vstack([DC, DC]))
    project.graph.add("channel", id="ch", pan=pan)
    project.graph.connect("src", "ch")
    project.output(src="ch")
    out = project.render_read()
    for c, want in enumerate((left_db, right_db)):
        if math.isinf(want):
            assert abs(out[c, 100]) < 1e-12
        else:
            assert db(abs(out[c, 100]) / 0.5) == pytest.approx(want, abs=0.01)


def test_fader_gain_is_exact(project):
    project.stem("src", DC)
    project.graph.add("channel", id="ch", gain_db=-7.5, pan=-1.0)
    project.graph.connect("src", "ch")
    project.output(src="ch")
    out = project.render_read()
    assert out[0, 100] == pytest.approx(0.5 * 10 ** (-7.5 / 20), rel=1e-7)


def test_fan_in_sums_exactly(project):
    a = seeded_noise(0.5, seed=1)
    b = seeded_noise(0.5, seed=2)
    c = sine(997, 0.5, -12)
    for name, x in (("a", a), ("b", b), ("c", c)):
        project.stem(name, x)
    project.graph.add("bus", id="mix")
    for name in "abc":
        project.graph.connect(name, "mix")
    project.output(src="mix")
    out = project.render_read()
    np.testing.assert_allclose(out, (a + b) + c, rtol=0, atol=1e-7)   # FLOAT file: 32-bit


def test_mono_meeting_stereo_is_copied_to_both_sides_at_unity(project):
    mono = sine(300, 0.3, -12)
    stereo = np.vstack([sine(500, 0.3, -12)[0], sine(700, 0.3, -12)[0]])
    project.stem("m", mono)
    project.stem("s", stereo)
    project.graph.add("bus", id="mix")
    project.graph.connect("m", "mix")
    project.graph.connect("s", "mix")
    project.output(src="mix")
    out = project.render_read()
    np.testing.assert_allclose(out, stereo + mono, atol=1e-7)


def test_prefader_send_ignores_fader_and_pan(project):
    x = seeded_noise(0.5)
    project.stem("src", x)
    g = project.graph
    g.add("channel", id="ch", gain_db=-30.0, pan=0.8)
    g.add("send", id="snd", level_db=-6.0)
    g.connect("src", "ch")
    g.connect("ch.pre", "snd")
    project.output("out", src="snd")
    project.output("post", src="ch")
    out = project.render_read()
    assert out.shape[0] == 1                        # mono stays mono before the pan
    np.testing.assert_allclose(out, x * 10 ** (-6 / 20), atol=1e-7)
    post = project.read("post")
    assert db(np.max(np.abs(post[1])) / np.max(np.abs(x))) < -30.0 + 0.01


def test_a_channel_whose_pre_port_nothing_reads_skips_it_but_a_preview_still_hears_it(
        project):
    from mixgraph.core.listen import preview
    from mixgraph.core.schedule import make_plan

    x = seeded_noise(0.5)
    project.stem("src", x)
    g = project.graph
    g.add("channel", id="ch", gain_db=-6.0, width=1.0)
    g.connect("src", "ch")
    project.output("post", src="ch")
    plan = make_plan(g, 1024)
    try:
        ch = next(s.node for s in plan.steps if s.node_id == "ch")
        assert ch._pre_read is False                 # the render does not write it
    finally:
        plan.close()
    post = project.render_read("post")
    np.testing.assert_allclose(post, np.vstack([x, x]) * 10 ** (-6 / 20) * math.sqrt(0.5),
                               atol=1e-7)
    heard = np.concatenate([b for _, b in preview(g, "ch.pre")], axis=1)
    # the stem's file holds float32 samples: equal to them exactly
    np.testing.assert_array_equal(heard[:, :x.shape[-1]],
                                  np.atleast_2d(x).astype(np.float32).astype(np.float64))


def test_postfader_send_follows_fader(project):
    x = seeded_noise(0.5)
    project.stem("src", x)
    g = project.graph
    g.add("channel", id="ch", gain_db=-10.0, pan=-1.0)
    g.add("send", id="snd", level_db=-6.0)
    g.connect("src", "ch")
    g.connect("ch.out", "snd")
    project.output(src="snd")
    out = project.render_read()
    np.testing.assert_allclose(out[0], x[0] * 10 ** (-16 / 20), atol=1e-7)


def test_polarity_invert_nulls_against_the_original(project):
    x = seeded_noise(0.5)
    project.stem("a", x)
    project.stem("b", x)
    g = project.graph
    g.add("gain", id="flip", polarity_invert=True)
    g.add("bus", id="mix")
    g.connect("a", "flip")
    g.connect("flip", "mix")
    g.connect("b", "mix")
    project.output(src="mix")
    assert np.max(np.abs(project.render_read())) == 0.0


def test_channel_width_zero_is_mono_and_two_doubles_side(project):
    left, right = sine(200, 0.3, -12)[0], seeded_noise(0.3, level_db=-12)[0]
    project.stem("src", np.vstack([left, right]))
    g = project.graph
    g.add("channel", id="narrow", width=0.0)
    g.add("channel", id="wide", width=2.0)
    g.connect("src", "narrow")
    g.connect("src", "wide")
    project.output("out", src="narrow")
    project.output("wide_out", src="wide")
    narrow = project.render_read()
    mid, side = (left + right) / 2, (left - right) / 2
    np.testing.assert_allclose(narrow[0], mid, atol=1e-7)
    np.testing.assert_allclose(narrow[1], mid, atol=1e-7)
    wide = project.read("wide_out")
    np.testing.assert_allclose(wide[0], mid + 2 * side, atol=1e-6)
    np.testing.assert_allclose(wide[1], mid - 2 * side, atol=1e-6)


# ----------------------------------------------------------------- mute / solo
def _session(project):
    """Three channels (kick, snare into a drum bus; vox direct), a vox reverb send."""
    g = project.graph
    for i, name in enumerate(("kick", "snare", "vox")):
        project.stem(name, np.full((1, 4800), 0.1 * (i + 1)))   # 0.1, 0.2, 0.3: tell apart
        g.add("channel", id=f"{name}_ch", pan=-1.0)
        g.connect(name, f"{name}_ch")
    g.add("bus", id="drums")
    g.add("bus", id="mix")
    g.add("send", id="vox_send", level_db=0.0)
    g.add("bus", id="fx")
    g.connect("kick_ch", "drums")
    g.connect("snare_ch", "drums")
    g.connect("drums", "mix")
    g.connect("vox_ch", "mix")
    g.connect("vox_ch.pre", "vox_send")
    g.connect("vox_send", "fx")
    g.connect("fx", "mix")
    project.output(src="mix")
    return g


def _heard(project) -> float:
    return float(np.round(project.render_read()[0, 100], 6))


def test_no_mute_no_solo_hears_everything(project):
    _session(project)
    assert _heard(project) == pytest.approx(0.1 + 0.2 + 0.3 + 0.3)   # vox twice: dry + fx


def test_mute_silences_channel_and_its_sends(project):
    g = _session(project)
    g.set("vox_ch", "mute", True)
    assert _heard(project) == pytest.approx(0.1 + 0.2)


def test_solo_channel_silences_the_others_keeps_its_send(project):
    g = _session(project)
    g.set("vox_ch", "solo", True)
    assert _heard(project) == pytest.approx(0.3 + 0.3)


def test_solo_bus_keeps_what_feeds_it(project):
    g = _session(project)
    g.set("drums", "solo", True)
    assert _heard(project) == pytest.approx(0.1 + 0.2)


def test_solo_return_hears_only_the_wet_signal(project):
    g = _session(project)
    g.set("fx", "solo", True)
    assert _heard(project) == pytest.approx(0.3)


def test_two_solos_add_up(project):
    g = _session(project)
    g.set("kick_ch", "solo", True)
    g.set("vox_ch", "solo", True)
    assert _heard(project) == pytest.approx(0.1 + 0.3 + 0.3)


def test_mute_wins_over_solo(project):
    g = _session(project)
    g.set("kick_ch", "solo", True)
    g.set("kick_ch", "mute", True)
    assert _heard(project) == pytest.approx(0.0)


def test_group_mutes_and_solos_its_members(project):
    g = _session(project)
    g.add("group", id="vocals", members=["vox_ch"])
    # the group controls vox_ch (dry and send) although vox_ch is not routed through it
    g.set("vocals", "mute", True)
    assert _heard(project) == pytest.approx(0.1 + 0.2)
    g.set("vocals", "mute", False)
    g.set("vocals", "solo", True)
    assert _heard(project) == pytest.approx(0.3 + 0.3)


def test_group_without_members_controls_what_is_linked_in(project):
    g = project.graph
    for i, name in enumerate(("a", "b", "c")):
        project.stem(name, np.full((1, 4800), 0.1 * (i + 1)))
        g.add("channel", id=f"{name}_ch", pan=-1.0)
        g.connect(name, f"{name}_ch")
    g.add("group", id="ab", gain_db=-6.0)
    g.add("bus", id="mix")
    g.connect("a_ch", "ab")
    g.connect("b_ch", "ab")
    g.connect("ab", "mix")
    g.connect("c_ch", "mix")
    project.output(src="mix")
    assert _heard(project) == pytest.approx(0.3 * 10 ** (-6 / 20) + 0.3, abs=1e-6)
    g.set("ab", "solo", True)
    assert _heard(project) == pytest.approx(0.3 * 10 ** (-6 / 20), abs=1e-6)


def test_group_renders_as_its_own_stem(project):
    g = _session(project)
    g.add("group", id="drum_group")
    g.disconnect("drums", "mix")
    g.connect("drums", "drum_group")
    g.connect("drum_group", "mix")
    project.output("stem_out", src="drum_group")
    project.render()
    mix, stem = project.read("out"), project.read("stem_out")
    assert stem[0, 100] == pytest.approx(0.3, abs=1e-6)
    assert mix[0, 100] == pytest.approx(0.9, abs=1e-6)


def test_nested_groups_pass_mute_and_solo_down(project):
    g = _session(project)
    g.add("group", id="vox_vca", members=["vox_ch"])
    g.add("group", id="all_vca", members=["vox_vca"])
    g.set("all_vca", "mute", True)
    assert _heard(project) == pytest.approx(0.1 + 0.2)
    g.set("all_vca", "mute", False)
    g.set("all_vca", "solo", True)
    assert _heard(project) == pytest.approx(0.3 + 0.3)
