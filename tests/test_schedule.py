"""The render plan: order, buffer reuse, progress reporting."""

from __future__ import annotations

import io

import numpy as np
import pytest

from conftest import SR, seeded_noise, sine
from mixgraph.cli.progress import ProgressBar
from mixgraph.core.model import PortRef
from mixgraph.core.schedule import SEGMENT_FRAMES, Plan, make_plan, order
from mixgraph.workflows.demo import write_demo


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


def buffers_needed(plan: Plan, graph) -> int:
    """How many buffers ``plan`` needs, counted from its steps and the graph's links
    rather than from the pool, and checking on the way that no block buffer is lent to
    two things alive at once.

    A block buffer is alive for an output port of a step outside the chains from that
    step to the last step that reads the port (by any link, in the plan's order), and
    for a summed input port during its step.  Block buffers are shared only by equal
    channel counts, so the pool needs, per channel count, the most alive at once.  On
    top of those come the buffers kept for good: the outputs of chain steps, the block
    views of chain ends, tail chain inlets, stack sums, and one block of silence per
    channel count for the ports whose links are all silenced."""
    at = {step.node_id: i for i, step in enumerate(plan.steps)}
    last_read: dict[PortRef, int] = {}
    for link in graph.links:
        last_read[link.src] = max(last_read.get(link.src, 0), at[link.dst.node])
    kept = {b for chain in plan.chains for step in chain.steps for b in step.outputs}
    kept |= {view for chain in plan.chains for _, view in chain.ends}
    kept |= {chain.inlet for chain in plan.chains if chain.is_tail}
    kept |= {stack.view for stack in plan.stacks}
    alive = []                               # (first step, last step, buffer)
    written = set(kept)
    for i, step in enumerate(plan.steps):
        if step.chain is None:
            for port, b in zip(type(step.node).outputs, step.outputs):
                alive.append((i, last_read.get(PortRef(step.node_id, port.name), i), b))
                written.add(b)
        ports = list(step.inputs)
        if step.chain is not None and plan.chains[step.chain].is_tail \
                and plan.chains[step.chain].steps[0] is step:
            ports.append(plan.chains[step.chain].feed)   # gathered in the block loop
        alive += [(i, i, port.scratch) for port in ports
                  if port.feeds and port.stack is None]     # summed
    silence = {port.direct for step in plan.steps for port in step.inputs
               if port.direct is not None and port.direct not in written}
    assert len(silence) == len({plan.buffers[b].shape[0] for b in silence})
    assert not any(plan.buffers[b].any() for b in silence)
    lent = 0
    for channels in {plan.buffers[b].shape[0] for _, _, b in alive}:
        most = 0
        for i in range(len(plan.steps)):
            now = [b for first, last, b in alive if first <= i <= last
                   and plan.buffers[b].shape[0] == channels]
            assert len(set(now)) == len(now), f"a buffer lent twice at step {i}: {now}"
            assert not set(now) & (kept | silence), f"a kept buffer is lent at step {i}"
            most = max(most, len(now))
        lent += most
    assert all(plan.buffers[b].shape[1] == plan.block_size for _, _, b in alive)
    return lent + len(kept) + len(silence)


def drum_bus_keyed_by_the_music(project, solo: str | None = None):
    """Kick and snare through an eq each into a compressor (two chain ends: a stack),
    keyed on its sidechain by a bus of bass and keys; the compressor through an eq into
    the mix bus with the vocal, then the output.  Every signal is stereo."""
    g = project.graph
    for i, name in enumerate(("kick", "snare", "bass", "keys", "vocal")):
        project.stem(name, sine(60.0 * (i + 1), 0.2) + seeded_noise(0.2, 2, seed=i))
    g.add("eq", id="kick_eq", bands=[{"type": "bell", "freq_hz": 60.0, "gain_db": 2.0}])
    g.add("eq", id="snare_eq", bands=[{"type": "highpass", "freq_hz": 120.0}])
    g.add("bus", id="key", solo=solo == "key")
    g.add("compressor", id="drum_comp", threshold_db=-20.0, ratio=3.0)
    g.add("eq", id="drum_eq", bands=[{"type": "high_shelf", "freq_hz": 8000.0,
                                      "gain_db": 1.5}])
    g.add("bus", id="mix")
    for a, b in (("kick", "kick_eq"), ("snare", "snare_eq"), ("kick_eq", "drum_comp"),
                 ("snare_eq", "drum_comp"), ("bass", "key"), ("keys", "key"),
                 ("key", "drum_comp.sidechain"), ("drum_comp", "drum_eq"),
                 ("drum_eq", "mix"), ("vocal", "mix")):
        g.connect(a, b)
    project.output(src="mix")


def test_a_node_fed_by_a_stack_gives_back_its_other_inputs(project):
    """The compressor reads a stack on its input and the key bus on its sidechain: once
    it has run, the key bus's buffer goes back to the pool for the nodes after it."""
    drum_bus_keyed_by_the_music(project)
    plan = make_plan(project.graph, 256)
    try:
        assert [[s.node_id for s in c.steps] for c in plan.chains] == [
            ["kick", "kick_eq"], ["snare", "snare_eq"], ["bass"], ["keys"], ["vocal"]]
        assert [[plan.chains[c].steps[-1].node_id for c, _ in st.members]
                for st in plan.stacks] == [["bass", "keys"], ["kick_eq", "snare_eq"]]
        # kept for good: kick and snare a turn buffer, a segment and a view each (6);
        # bass, keys and vocal a segment and a view each (6); the two stacks' sums (2).
        # Lent: key.out until the compressor has run, the compressor's output until
        # drum_eq has, then at the mix bus drum_eq's output, the sum of its two inputs
        # and its output: at most 3 at once.  14 + 3 = 17 (the key bus's buffer, never
        # given back, made it 18).
        assert (len(plan.buffers), buffers_needed(plan, project.graph)) == (17, 17)
    finally:
        plan.close()


def _fan_out_read_late(project):
    project.stem("src", seeded_noise(0.2))
    g = project.graph
    g.add("bus", id="mix")
    for i in range(6):
        g.add("gain", id=f"a{i}", gain_db=-6.0)
        g.connect("src" if i == 0 else f"a{i - 1}", f"a{i}")
    g.connect("src", "mix")
    g.connect("a5", "mix")
    project.output(src="mix")


def _latency_and_a_master_chain(project):
    """Mono and stereo stems, a latent path against a direct one (delay lines), a send
    and a reverb, and a master chain (a tail chain) writing two outputs."""
    g = project.graph
    project.stem("vox", seeded_noise(0.3, 1, seed=3))
    project.stem("gtr", seeded_noise(0.3, 2, seed=4))
    g.add("test_latent", id="late", samples=300)
    g.add("channel", id="vox_ch", pan=-0.3)
    g.add("send", id="send", level_db=-12.0)
    g.add("reverb", id="verb", decay_s=0.3)
    g.add("bus", id="mix")
    g.add("limiter", id="lim", ceiling_dbtp=-1.0)
    g.add("dither", id="dith", bit_depth=16)
    for a, b in (("vox", "late"), ("late", "vox_ch"), ("vox", "send"), ("send", "verb"),
                 ("vox_ch", "mix"), ("gtr", "mix"), ("verb", "mix"), ("vox_ch.pre", "mix"),
                 ("mix", "lim"), ("lim", "dith")):
        g.connect(a, b)
    project.output("master", src="dith")
    project.output("master_float", src="dith")


GRAPHS = {
    "stack": drum_bus_keyed_by_the_music,
    # only the key bus's side of the compressor plays: its input and the vocal are silent
    "stack-solo": lambda project: drum_bus_keyed_by_the_music(project, solo="key"),
    "chain": lambda project: _chain(project, 40),
    "fan-out": _fan_out_read_late,
    "master-chain": _latency_and_a_master_chain,
    "demo": lambda project: setattr(project, "graph", write_demo(project.folder)),
}


@pytest.mark.parametrize("chains", [True, False], ids=["chains", "preview"])
@pytest.mark.parametrize("name", GRAPHS)
def test_the_pool_holds_no_more_buffers_than_are_alive_at_once(project, name, chains):
    GRAPHS[name](project)
    plan = make_plan(project.graph, 512, chains=chains)
    try:
        assert bool(plan.chains) == chains
        held, needed = len(plan.buffers), buffers_needed(plan, project.graph)
        assert held == needed
    finally:
        plan.close()


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


def test_progress_bar_names_the_pass_and_counts_song_time_as_the_report_does():
    """Issue 17: told of the passes, a two-pass render of a 10 s song shows the song's
    seconds of the pass under way (never 20 s) and the speed in seconds of song per
    second of the whole render, as the report's realtime factor."""
    from mixgraph.core.renderer import RenderPass

    stream = io.StringIO()
    bar = ProgressBar(SR, stream=stream, delay_s=0.0, force=True)
    frames = SR * 10 + SR // 2                      # the song and half a second of tail
    bar.begin_pass(RenderPass("analysis", 1, 2, 0, frames, SR * 10))
    bar(frames // 2, 2 * frames)
    analysis = stream.getvalue().split("\r")[-1]
    assert analysis.startswith("analysis 1/2  25%") and "    5.2 s" in analysis
    bar.begin_pass(RenderPass("render", 2, 2, frames, frames, SR * 10))
    bar.started -= 2.0                              # the whole render took 2 s
    bar(2 * frames, 2 * frames)
    final = stream.getvalue().split("\r")[-1]
    assert final.startswith("rendering 2/2 100%") and "   10.0 s" in final, final
    speed = float(final.split("x")[0].split()[-1])
    assert speed == pytest.approx(10.0 / 2.0, abs=0.6)   # 10 s of song in 2 s, not 21 s


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
