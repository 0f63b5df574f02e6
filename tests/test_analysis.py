"""The engine's analysis pass: nodes that need their whole input before rendering."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest

from conftest import BLOCK_SIZES, SR, ProjectHelper, seeded_noise, sine
from mixgraph.nodes.base import AnalysisTape, Node, Param, register


@register
class PeakNormaliser(Node):
    """Scales its input so that its peak over the whole song is ``peak`` (test node)."""

    type_name = "test_normalise"
    category = "test"
    params = (Param("peak", 1.0, min=0.0, max=1.0),)
    needs_analysis = True

    def prepare(self, ctx):
        chans = super().prepare(ctx)
        self.scale = 1.0
        self.analysed_frames = 0
        self.passes_over_tape = 0
        return chans

    def analyse(self, tape):
        # the engine's tape is what the node contract documents
        assert isinstance(tape, AnalysisTape)
        assert tape.rate == SR and tape.frames > 0 and tape.latency_in >= 0
        highest = 0.0
        for _ in range(2):                          # a node may read its tape many times
            self.passes_over_tape += 1
            self.analysed_frames = 0
            for start, (x,) in tape.blocks():
                self.analysed_frames += x.shape[1]
                highest = max(highest, float(np.abs(x).max(initial=0.0)))
        self.scale = self.peak / highest if highest else 1.0

    def process(self, ins, outs, start):
        np.multiply(ins[0], self.scale, out=outs[0])

    def report(self):
        return {"scale": self.scale, "passes_over_tape": self.passes_over_tape}


COUNTS: dict[str, list[int]] = {}


@register
class Counter(Node):
    """Passes audio through and counts the frames it processed, per reset (test node)."""

    type_name = "test_count"
    category = "test"
    params = (Param("name", "", kind="str"),)

    def prepare(self, ctx):
        chans = super().prepare(ctx)
        COUNTS[self.name] = [0]
        return chans

    def reset(self):
        COUNTS[self.name].append(0)

    def process(self, ins, outs, start):
        outs[0][:] = ins[0]
        COUNTS[self.name][-1] += ins[0].shape[1]


def _normalised(project, peak=0.5):
    x = seeded_noise(1.0, channels=2, seed=11, level_db=-30)
    project.stem("src", x)
    g = project.graph
    g.add("test_normalise", id="norm", peak=peak)
    g.connect("src", "norm")
    project.output(src="norm")
    return x


def test_analysed_node_sees_its_whole_input_before_rendering(project):
    x = _normalised(project, peak=0.5)
    report = project.render()
    out = project.read()
    assert np.max(np.abs(out)) == pytest.approx(0.5, abs=1e-7)
    np.testing.assert_allclose(out, x * (0.5 / np.max(np.abs(x))), atol=1e-7)
    assert report.nodes["norm"][1]["passes_over_tape"] == 2


def test_output_with_an_analysis_pass_is_block_size_invariant(tmp_path):
    project = ProjectHelper(tmp_path)
    _normalised(project)
    project.graph.add("test_latent", id="lat", samples=300)
    project.graph.disconnect("norm", "out")
    project.graph.connect("norm", "lat")
    project.graph.connect("lat", "out")
    reference = project.render_read(block_size=4096)
    for block in BLOCK_SIZES[1:]:
        assert np.array_equal(project.render_read(block_size=block), reference), block


def test_what_feeds_only_the_analysed_node_is_rendered_once(project):
    """The upstream renders into the tape once; the final pass reads the tape."""
    project.stem("src", sine(440, 1.0, -12))
    g = project.graph
    g.add("test_count", id="only_for_norm", name="only")
    g.add("test_count", id="shared", name="shared")
    g.add("test_normalise", id="norm")
    g.connect("src", "shared")
    g.connect("shared", "only_for_norm")
    g.connect("only_for_norm", "norm")
    project.output("out", src="norm")
    project.output("dry", src="shared")          # 'shared' also feeds an output directly
    project.render()
    frames = SR                                   # one second, no latency, no tails
    assert COUNTS["only"] == [frames]             # the analysis pass only (and no reset:
    #                                               it keeps what it did, as a meter would)
    assert COUNTS["shared"] == [frames, frames]   # analysis pass, then again for 'dry'
    np.testing.assert_allclose(project.read("dry"), sine(440, 1.0, -12), atol=1e-7)


def test_analysis_nodes_in_series_each_get_their_pass(project):
    x = seeded_noise(0.5, seed=2, level_db=-20)
    project.stem("src", x)
    g = project.graph
    g.add("test_normalise", id="first", peak=0.5)
    g.add("gain", id="quieter", gain_db=-12.0)
    g.add("test_normalise", id="second", peak=0.9)
    for a, b in (("src", "first"), ("first", "quieter"), ("quieter", "second")):
        g.connect(a, b)
    project.output(src="second")
    report = project.render()
    assert np.max(np.abs(project.read())) == pytest.approx(0.9, abs=1e-6)
    assert report.nodes["second"][1]["scale"] == pytest.approx(0.9 / (0.5 * 10 ** (-12 / 20)),
                                                                rel=1e-9)


def test_progress_counts_every_pass(project):
    _normalised(project)
    calls = []
    project.render(progress=lambda done, total: calls.append((done, total)))
    assert calls[-1][0] == calls[-1][1] == 2 * SR        # one analysis pass + the render


def test_progress_is_told_of_each_pass_as_it_begins(project):
    """A progress callback with ``begin_pass`` learns which pass is under way, where it
    starts in the work counted, and the song's length (four passes here)."""
    project.stem("src", seeded_noise(1.0, seed=4))
    g = project.graph
    for i, before in enumerate(("src", "n0", "n1")):
        g.add("test_normalise", id=f"n{i}", peak=0.5 + 0.1 * i)
        g.connect(before, f"n{i}")
    project.output(src="n2")

    class Recorder:
        def __init__(self):
            self.passes, self.calls = [], []

        def begin_pass(self, current):
            self.passes.append(current)

        def __call__(self, done, total):
            self.calls.append((done, total))

    seen = Recorder()
    report = project.render(progress=seen)
    assert [(p.name, p.number, p.count) for p in seen.passes] == \
        [("analysis", 1, 4), ("analysis", 2, 4), ("analysis", 3, 4), ("render", 4, 4)]
    assert [p.start for p in seen.passes] == [0, SR, 2 * SR, 3 * SR]
    assert {(p.frames, p.song_frames) for p in seen.passes} == {(SR, SR)}
    assert seen.calls[-1] == (4 * SR, 4 * SR)
    assert report.song_s == 1.0


def test_the_tape_is_removed_after_the_render(project, monkeypatch):
    made = []
    real = tempfile.mkdtemp

    def spy(*args, **kwargs):
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    _normalised(project)
    project.render()
    from mixgraph.nodes.tempfiles import HOST

    tapes = [p for p in made
             if os.path.basename(p).startswith(f"mixgraph-{HOST}-{os.getpid()}-")]
    assert tapes and not any(os.path.exists(p) for p in tapes)


def test_a_failure_after_analysis_writes_nothing_and_removes_the_tape(project):
    _normalised(project)
    g = project.graph
    g.add("test_fail", id="boom", at=SR // 2)
    g.disconnect("norm", "out")
    g.connect("norm", "boom")
    g.connect("boom", "out")
    with pytest.raises(RuntimeError, match="on purpose"):
        project.render()
    assert not (project.folder / "out").exists()
