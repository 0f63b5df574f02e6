"""The one step loop (mixgraph.core.steps.StepLoop) that the block loop, the chains,
the outputs after a tail chain and a preview all run their steps with: a muted step
does not run, reads nothing and is not watched; any other step gets its inputs (or its
tape), is shown to the watcher where it is watched, and runs at song time."""

from __future__ import annotations

import numpy as np
import pytest

from mixgraph import render
from mixgraph.core.schedule import InputPort, Step
from mixgraph.core.steps import StepLoop

from conftest import hot_limiters

BLOCK = 8
SECONDS = 2.0                              # 6 segments: enough for a worker


class Doubler:
    """Writes twice its input; records every call as (start, frames)."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    def process(self, ins, outs, start):
        self.calls.append((start, ins[0].shape[1]))
        np.multiply(ins[0], 2.0, out=outs[0])


class Watch:
    """Watches the steps named; records what it saw as (node, start, first sample)."""

    def __init__(self, names):
        self.names = set(names)
        self.asked: list[str] = []
        self.seen: list[tuple[str, int, float]] = []

    def watches(self, step):
        self.asked.append(step.node_id)
        return step.node_id in self.names

    def see(self, step, ins, start):
        self.seen.append((step.node_id, start, float(ins[0][0, 0])))

    def peaks(self):
        return {}

    def merge(self, peaks):
        pass


class Reader:
    """A tape reader that gives ones and counts what was read."""

    def __init__(self):
        self.read_frames = 0

    def read(self, n):
        self.read_frames += n
        return (np.ones((1, n)),)


def two_steps(silent: bool = False):
    """Buffers [source, a's output, b's output]; a reads the source (input latency 3),
    b reads a's output (latency 5)."""
    bufs = [np.arange(BLOCK, dtype=float)[None, :] + 1.0, np.full((1, BLOCK), 7.0),
            np.full((1, BLOCK), 7.0)]
    a = Step("a", Doubler(), [InputPort("in", 1, direct=0)], [1], (1,), 3, silent=silent)
    b = Step("b", Doubler(), [InputPort("in", 1, direct=1)], [2], (1,), 5)
    return bufs, a, b


def test_a_step_reads_its_inputs_and_runs_at_song_time():
    bufs, a, b = two_steps()
    watch = Watch({"b"})
    StepLoop([a, b], bufs, watch=watch).run(100, BLOCK, True)
    assert a.node.calls == [(97, BLOCK)] and b.node.calls == [(95, BLOCK)]
    np.testing.assert_array_equal(bufs[2], 4 * bufs[0])
    assert watch.asked == ["a", "b"]                 # asked once, when the loop is made
    assert watch.seen == [("b", 95, 2.0)]            # only what it watches, as it enters


def test_a_muted_step_gives_silence_reads_nothing_and_is_not_watched():
    bufs, a, b = two_steps(silent=True)
    watch = Watch({"a", "b"})
    reader = Reader()
    loop = StepLoop([a, b], bufs, watch=watch, readers={"a": reader})
    loop.run(0, BLOCK, True)
    loop.run(BLOCK, 5, False)
    assert a.node.calls == [] and reader.read_frames == 0
    assert not bufs[1].any() and not bufs[2].any()
    assert [s[0] for s in watch.seen] == ["b", "b"]  # downstream still runs and is seen


def test_a_tape_reader_stands_in_for_the_inputs():
    bufs, a, b = two_steps()
    reader = Reader()
    StepLoop([a, b], bufs, readers={"a": reader}).run(0, 5, False)
    assert reader.read_frames == 5
    np.testing.assert_array_equal(bufs[1][:, :5], 2.0)
    np.testing.assert_array_equal(bufs[1][:, 5:], 7.0)  # past f: untouched


def test_outputs_are_the_buffers_themselves_or_their_first_frames():
    bufs, a, b = two_steps()
    seen = []

    def process(ins, outs, start):
        seen.append(outs[0])

    a.node.process = process
    loop = StepLoop([a], bufs, fixed_outputs=True)
    loop.run(0, BLOCK, True)
    loop.run(BLOCK, 3, False)
    assert seen[0] is bufs[1]
    assert seen[1].base is bufs[1] and seen[1].shape == (1, 3)
    # without fixed outputs the buffer is looked up at each run (a chain's last outputs
    # are pointed at the next segment of their ring between runs)
    loop = StepLoop([a], bufs)
    bufs[1] = np.zeros((1, BLOCK))
    loop.run(0, BLOCK, True)
    assert seen[-1] is bufs[1]




@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("block", [1024, 300])
def test_a_muted_master_chain_entry_is_not_warned_about_anywhere(project, workers, block):
    # lim1 runs in a chain: inline, or in a forked worker; the warning is the same
    hot_limiters(project, SECONDS, muted="lim1")
    report = render(project.graph, block_size=block, workers=workers)
    hot = [w for w in report.warnings if "headroom" in w]
    assert len(hot) == 1 and "'lim0'" in hot[0]
