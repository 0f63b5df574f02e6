"""The render plan: order, buffer reuse, progress reporting."""

from __future__ import annotations

import io

import numpy as np

from conftest import SR, seeded_noise
from mixgraph.cli.progress import ProgressBar
from mixgraph.core.schedule import SEGMENT_FRAMES, make_plan, order


def _chain(project, length: int):
    """A stem through ``length`` gain nodes in series."""
    project.stem("src", seeded_noise(0.2))
    prev = "src"
    for i in range(length):
        prev = project.graph.add("gain", id=f"g{i}", gain_db=-0.1)
        project.graph.connect(f"g{i - 1}" if i else "src", prev)
    project.output(src=prev)


def test_buffers_are_reused_once_no_later_node_reads_them(project):
    _chain(project, 40)
    plan = make_plan(project.graph, 256, chains=False)
    try:
        # 41 nodes write an output; a chain needs only two buffers alive at a time
        assert len(plan.buffers) == 2
    finally:
        plan.close()
    plan = make_plan(project.graph, 256)
    try:
        # run as a chain: two inner segment buffers taking turns, the last node's
        # segment and the block view the output reads
        assert [s.node_id for s in plan.chains[0].steps] == ["src"] + [f"g{i}" for i in
                                                                     range(40)]
        assert len(plan.buffers) == 4
        assert plan.segment == SEGMENT_FRAMES and plan.buffers[0].shape[1] == SEGMENT_FRAMES
    finally:
        plan.close()
    out = project.render_read()
    np.testing.assert_allclose(out, seeded_noise(0.2) * 10 ** (-4.0 / 20), rtol=1e-6)


def test_a_buffer_read_later_is_not_reused_too_early(project):
    """A fan-out whose branches are consumed late keeps its buffer until then."""
    x = seeded_noise(0.2)
    project.stem("src", x)
    g = project.graph
    g.add("bus", id="mix")
    for i in range(6):
        g.add("gain", id=f"a{i}", gain_db=-6.0)
        g.connect("src" if i == 0 else f"a{i - 1}", f"a{i}")
    g.connect("src", "mix")                   # read again after the whole chain
    g.connect("a5", "mix")
    project.output(src="mix")
    out = project.render_read()
    np.testing.assert_allclose(out, x * (1 + 10 ** (-36 / 20)), rtol=1e-6, atol=1e-9)


def test_order_is_topological_and_follows_the_document_for_ties(project):
    g = project.graph
    for name in ("c", "a", "b"):
        g.add("tone", id=name, duration_s=0.1)
    g.add("bus", id="mix")
    for name in ("a", "b", "c"):
        g.connect(name, "mix")
    project.output(src="mix")
    assert order(g) == ["c", "a", "b", "mix", "out"]


def test_progress_callback_counts_up_to_the_total(project):
    _chain(project, 3)
    calls = []
    project.render(block_size=100, progress=lambda done, total: calls.append((done, total)))
    assert calls, "progress was never reported"
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and calls[-1][0] == calls[-1][1] == int(0.2 * SR)
    assert len(calls) <= 205                  # throttled, not once per block


def test_progress_bar_draws_on_a_terminal_and_clears_itself():
    stream = io.StringIO()
    bar = ProgressBar(SR, stream=stream, delay_s=0.0, force=True)
    bar(SR * 5, SR * 10)
    bar(SR * 10, SR * 10)
    text = stream.getvalue()
    assert "50%" in text and "100%" in text and "eta" in text
    bar.close()
    assert stream.getvalue().endswith("\r")


def test_progress_bar_stays_quiet_off_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(SR, stream=stream, delay_s=0.0)
    bar(SR, SR)
    bar.close()
    assert stream.getvalue() == ""


def test_progress_bar_says_when_the_kernels_are_compiled_for_the_first_time(tmp_path):
    """With an empty kernel cache the bar announces the one-off compilation; once a
    render has filled the cache, it says nothing of it."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    bar = ("import io; from mixgraph.cli.progress import ProgressBar; s = io.StringIO(); "
           "ProgressBar(48000, stream=s, force=True); print(repr(s.getvalue()))")

    def run(code: str) -> str:
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, check=True, cwd=tmp_path).stdout

    assert "compiling the DSP kernels" in run(bar)
    run("from mixgraph import Graph, render\n"
        "g = Graph(sample_rate=48000, base_dir='.')\n"
        "g.add('tone', id='t', duration_s=0.05)\n"
        "g.add('compressor', id='c')\n"
        "g.add('output', id='o', path='o.wav')\n"
        "g.connect('t', 'c'); g.connect('c', 'o'); render(g, workers=1)")
    assert run(bar).strip() == "''"
