"""Per-node bypass: a bypassed node passes its main input through unchanged and without
latency, so a render with a node bypassed is, sample for sample, the render of the
graph without that node (the rest of the graph compensated for the latency it no
longer has).  Bypass lives in the project file and the project diff, and is heard
while playing as any structural change is."""

from __future__ import annotations

import numpy as np
import pytest

from mixgraph import Graph, load, save, validate
from mixgraph.core.live import LiveEngine
from mixgraph.errors import GraphError, ProjectFileError
from mixgraph.workflows.diff import diff

from conftest import BLOCK_SIZES, SR, seeded_noise, sine


def chain(project, bypass: str | None = None, *, without: str | None = None):
    """noise -> limiter (latency) -> compressor (sidechain from the stem) -> channel,
    in parallel with a dry channel (so latency compensation matters) -> bus -> out;
    ``without``: that node left out and its neighbours linked."""
    g = project.graph
    project.stem("a", seeded_noise(2.0, channels=2, seed=9))
    nodes = [("lim", "limiter", {"ceiling_dbtp": -12.0}),
             ("comp", "compressor", {"threshold_db": -30.0, "ratio": 4.0}),
             ("ch", "channel", {"gain_db": -2.0})]
    last = "a"
    for nid, kind, params in nodes:
        if nid == without:
            continue
        g.add(kind, id=nid, **params)
        g.connect(last, nid)
        last = nid
    if "comp" in g.nodes:
        g.connect("a", "comp.sidechain")
    g.add("channel", id="dry", gain_db=-20.0)
    g.connect("a", "dry")
    g.add("bus", id="mix")
    g.connect(last, "mix")
    g.connect("dry", "mix")
    project.output(src="mix")
    if bypass:
        g.set_bypass(bypass)


@pytest.mark.parametrize("node", ["lim", "comp", "ch"])
@pytest.mark.parametrize("block", BLOCK_SIZES)
def test_a_bypassed_node_renders_as_the_graph_without_it(project, node, block):
    chain(project, without=node)
    expected = project.render_read(block_size=block)
    project.graph.replace_with(Graph(sample_rate=SR).to_document())
    chain(project, bypass=node)
    got = project.render_read(block_size=block)
    np.testing.assert_array_equal(got, expected)


def test_a_bypassed_source_is_silent_and_the_others_play_on(project):
    g = project.graph
    project.stem("a", sine(440.0, 1.0, -6.0))
    project.stem("b", sine(660.0, 1.0, -6.0))
    g.add("bus", id="mix")
    g.connect("a", "mix")
    g.connect("b", "mix")
    project.output(src="mix")
    g.set_bypass("b")
    got = project.render_read()
    np.testing.assert_allclose(got[0], sine(440.0, 1.0, -6.0)[0, :got.shape[1]], atol=1e-6)


def test_an_output_cannot_be_bypassed_and_a_file_that_says_so_is_refused(project, tmp_path):
    g = project.graph
    project.stem("a", sine(440.0, 1.0, -6.0))
    project.output(src="a")
    with pytest.raises(GraphError, match="output 'out' cannot be bypassed"):
        g.set_bypass("out")
    doc = g.to_document()
    doc["nodes"][-1]["bypass"] = True
    assert any("output 'out' cannot be bypassed" in e.message
               for e in validate(Graph.from_document(doc, base_dir=project.folder)).errors)
    doc["nodes"][-1]["bypass"] = "yes"
    with pytest.raises(ProjectFileError, match="'bypass' must be true or false"):
        Graph.from_document(doc)


def test_bypass_is_saved_loaded_and_named_by_diff(project):
    chain(project)
    before = project.graph.copy()
    project.graph.set_bypass("comp")
    path = project.folder / "song.mgraph"
    save(project.graph, path)
    again = load(path)
    assert again.nodes["comp"].bypass and not again.nodes["lim"].bypass
    assert "node 'comp' bypassed" in diff(before, again)
    again.set_bypass("comp", False)
    assert "node 'comp' back in" in diff(project.graph, again)


def test_bypass_while_playing_is_heard_after_a_crossfade(project):
    chain(project)
    g = project.graph
    engine = LiveEngine(g, block_size=512)
    try:
        for _ in range(20):
            engine.render(512)
        edited = g.copy()
        edited.set_bypass("lim")
        engine.edit(edited)
        engine.render(512)
        assert engine.wait_until_planned() and engine.problem is None
        heard = np.concatenate([engine.render(512) for _ in range(40)], axis=1)
        at = engine.position_s
    finally:
        engine.close()
    g.set_bypass("lim")
    rendered = project.render_read()
    n = heard.shape[1]
    end = int(round(at * SR))
    # the last blocks, well after the 20 ms crossfade, are the bypassed render
    np.testing.assert_allclose(heard[:, n // 2:], rendered[:, end - n + n // 2:end],
                               atol=1e-6)


def test_a_bypassed_nodes_mute_and_solo_do_not_apply(project):
    """A bypassed node is not there: a bypassed muted channel passes its input, a
    bypassed soloed group silences nothing."""
    g = project.graph
    project.stem("a", sine(440.0, 1.0, -6.0))
    project.stem("b", sine(660.0, 1.0, -6.0))
    g.add("channel", id="a_ch", mute=True)
    g.add("group", id="grp", members=["a_ch"], solo=True)
    g.add("bus", id="mix")
    for x, y in (("a", "a_ch"), ("a_ch", "grp"), ("grp", "mix"), ("b", "mix")):
        g.connect(x, y)
    project.output(src="mix")
    soloed_and_muted = project.render_read()
    assert np.abs(soloed_and_muted).max() < 1e-9           # a muted, and b not soloed
    g.set_bypass("a_ch")
    g.set_bypass("grp")
    both = project.render_read()
    expected = sine(440.0, 1.0, -6.0)[0] + sine(660.0, 1.0, -6.0)[0]
    np.testing.assert_allclose(both[0], expected[:both.shape[1]], atol=1e-6)


# ====================================================== an automated bypass (a lane)
SWITCHES = {"automation": [[0.0, 0.0], [0.5, 1.0], [1.2, 0.0]], "curve": "step"}


def switch_weight(frames: int, points=SWITCHES["automation"]) -> np.ndarray:
    """How far each sample is bypassed (0 in, 1 out), each switch a 5 ms line."""
    from mixgraph.nodes.switching import SWITCH_S

    t = np.arange(frames) / SR
    w = np.zeros(frames)
    ramp = round(SWITCH_S * SR) / SR
    value = float(points[0][1])
    w[:] = value
    for at, v in points[1:]:
        v = float(v)
        if v != value:
            inside = (t >= at) & (t < at + ramp)
            w[inside] = value + (v - value) * (t[inside] - at) / ramp
            w[t >= at + ramp] = v
            value = v
    return w


@pytest.mark.parametrize("block", BLOCK_SIZES)
@pytest.mark.parametrize("node", ["lim", "comp"])
def test_an_automated_bypass_switches_between_the_node_and_the_graph_without_it(
        project, node, block):
    """Where the lane says 1 the render is the graph without the node, where it says
    0 the graph with it, and each switch is a 5 ms crossfade of the two: for a node
    with latency (the limiter) and one without (the compressor), in any block size
    (the limiter's dry path delayed by its latency, so the two line up)."""
    chain(project, without=node)
    without = project.render_read(block_size=block)
    project.graph.replace_with(Graph(sample_rate=SR).to_document())
    chain(project)
    with_ = project.render_read(block_size=block)
    project.graph.replace_with(Graph(sample_rate=SR).to_document())
    chain(project)
    project.graph.set_bypass(node, SWITCHES)
    got = project.render_read(block_size=block)
    assert got.shape == with_.shape == without.shape
    w = switch_weight(got.shape[1])
    np.testing.assert_allclose(got, with_ * (1 - w) + without * w, atol=2e-6)
    assert np.abs(with_ - without).max() > 0.01          # the node does something


def test_an_automated_bypass_is_saved_checked_and_named_by_diff(project, tmp_path):
    chain(project)
    g = project.graph
    before = g.copy()
    g.set_bypass("comp", SWITCHES)
    path = tmp_path / "switched.mgraph"
    save(g, path)
    again = load(path)
    assert again.nodes["comp"].bypass == SWITCHES
    assert diff(before, again) == ["node 'comp' bypass automated (3 points)"]
    with pytest.raises(Exception, match="curve 'step'"):
        g.set_bypass("comp", {"automation": [[0.0, 0.0], [1.0, 1.0]], "curve": "linear"})
    with pytest.raises(Exception, match=r"0 \(in\) and 1 \(bypassed\)"):
        g.set_bypass("comp", {"automation": [[0.0, 0.5]], "curve": "step"})
    doc = again.to_document()
    doc["nodes"][[n["id"] for n in doc["nodes"]].index("comp")]["bypass"] = \
        {"automation": [[0.0, 2.0]], "curve": "step"}
    (tmp_path / "bad.mgraph").write_text(__import__("json").dumps(doc))
    with pytest.raises(ProjectFileError, match=r"'comp'\): bypass: .*0 \(in\) and 1"):
        load(tmp_path / "bad.mgraph")



def test_switches_at_one_time_count_the_last_and_close_ones_cut_the_crossfade_short(project):
    """Two switches at one time: only the second counts (here: never bypassed, the
    render is the node's own); a switch 2 ms after another: the crossfade turns back
    from where it got to (0.4 of the way) and is back in 5 ms."""
    from mixgraph.nodes.switching import switch_curve

    chain(project)
    with_ = project.render_read(block_size=1000)
    project.graph.set_bypass("comp", {"automation": [[0.0, 0.0], [0.7, 1.0], [0.7, 0.0]],
                                      "curve": "step"})
    np.testing.assert_allclose(project.render_read(block_size=1000), with_, atol=1e-9)
    curve = switch_curve({"automation": [[0.0, 0.0], [1.0, 1.0], [1.002, 0.0]],
                          "curve": "step"}, SR)
    t = np.array([0.999, 1.001, 1.002, 1.0045, 1.007, 1.5])
    np.testing.assert_allclose(curve.at_seconds(t), [0.0, 0.2, 0.4, 0.2, 0.0, 0.0], atol=1e-9)


def test_an_automated_bypass_on_a_source_silences_it_where_it_is_bypassed(project):
    g = project.graph
    g.add("tone", id="t", duration_s=1.0, level_dbfs=-6.0)
    project.output(src="t")
    g.set_bypass("t", {"automation": [[0.0, 0.0], [0.5, 1.0]], "curve": "step"})
    x = project.render_read()
    assert np.abs(x[:, :int(0.49 * SR)]).max() > 0.4
    assert np.abs(x[:, int(0.51 * SR):]).max() == 0.0
