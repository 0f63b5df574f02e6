"""Chains run a segment at a time, inline, in threads or in forked worker processes:
the output must be the same, bit for bit, and errors, cancelling and reports must
behave as in a serial render."""

from __future__ import annotations

import os
import threading
from typing import get_type_hints

import numpy as np
import pytest
import soundfile as sf

from mixgraph import render
from mixgraph.core.renderer import MasterHeadroom
from mixgraph.core.runners import (ChainReports, Inline, Processes, Runner, Threads,
                                   _balance, _weight, make_runner)
from mixgraph.core.schedule import SEGMENT_FRAMES, make_plan
from mixgraph.errors import RenderCancelled

from conftest import SR, hot_limiters, seeded_noise, sine

SECONDS = 2.0                              # 96000 frames: 6 segments of 16384


def session(project, mute: str | None = None, solo: str | None = None):
    """Six stems through eq, compressor and channel into two groups, a reverb send, a
    mix bus and a loudness stage (an analysis pass), like a small session."""
    g = project.graph
    g.add("group", id="drums")
    g.add("group", id="music")
    g.add("bus", id="mix", gain_db=-3.0)
    for i in range(6):
        channels = 2 if i % 3 == 0 else 1
        x = 0.6 * sine(80.0 * (i + 1), SECONDS) + seeded_noise(SECONDS, channels, seed=i)
        project.stem(f"s{i}", x)
        g.add("eq", id=f"s{i}_eq", bands=[{"type": "highpass", "freq_hz": 40.0},
                                         {"type": "bell", "freq_hz": 900.0, "gain_db": 3.0}])
        g.add("compressor", id=f"s{i}_comp", threshold_db=-24.0, ratio=4.0)
        g.add("channel", id=f"s{i}_ch", pan=-0.8 + 0.3 * i, gain_db=-6.0,
              mute=(f"s{i}_ch" == mute), solo=(f"s{i}_ch" == solo))
        for a, b in ((f"s{i}", f"s{i}_eq"), (f"s{i}_eq", f"s{i}_comp"),
                     (f"s{i}_comp", f"s{i}_ch"), (f"s{i}_ch", "drums" if i < 3 else "music")):
            g.connect(a, b)
    g.add("send", id="verb_send", level_db=-12.0)
    g.add("reverb", id="verb", decay_s=0.8)
    g.connect("music", "verb_send")
    g.connect("verb_send", "verb")
    for src in ("drums", "music", "verb"):
        g.connect(src, "mix")
    g.add("loudness", id="loud", target_lufs=-16.0, ceiling_dbtp=-1.0)
    g.connect("mix", "loud")
    project.output(src="loud")


def render_read(project, **kwargs):
    report = render(project.graph, **kwargs)
    return project.read(), report


def renders_match(project, cases):
    """Render with one worker at block 1024, then at each (block, workers): the audio is
    the same bit for bit, and so are the nodes' figures (those of chain nodes come back
    from the worker processes).  Returns the first render and its report."""
    reference, serial = render_read(project, block_size=1024, workers=1)
    for block, workers in cases:
        out, report = render_read(project, block_size=block, workers=workers)
        assert out.shape == reference.shape
        assert np.array_equal(out, reference), (block, workers)
        assert report.nodes == serial.nodes, (block, workers)
    return reference, serial


@pytest.fixture
def no_fork(monkeypatch):
    monkeypatch.setenv("MIXGRAPH_NO_FORK", "1")


def test_the_session_forms_one_chain_per_stem(project):
    session(project)
    plan = make_plan(project.graph, 1024)
    try:
        assert [[s.node_id for s in c.steps] for c in plan.chains] == [
            [f"s{i}", f"s{i}_eq", f"s{i}_comp", f"s{i}_ch"] for i in range(6)]
        assert plan.segment == SEGMENT_FRAMES            # a whole number of 1024 blocks
        # each group sums its three strips' rings, allocated side by side, in one go
        assert [[m for m, _ in st.members] for st in plan.stacks] == [[0, 1, 2], [3, 4, 5]]
        assert all(st.rings.shape == (3, 3, 2, SEGMENT_FRAMES) for st in plan.stacks)
        # worker 0 is the render's own process, which also runs the block loop
        weight = sum(_weight(c.steps) for c in plan.chains) / 2
        # a light loop: one group's strips to each process, kept whole
        assert _balance(plan.chains, 2, plan.stacks) == [[0, 1, 2], [3, 4, 5]]
        assert _balance(plan.chains, 2, plan.stacks, 0.2 * weight) == [[3, 4, 5], [0, 1, 2]]
        # a loop worth half a group: one strip moves over, splitting one group only
        assert _balance(plan.chains, 2, plan.stacks, 0.5 * weight) == [[3, 5], [0, 1, 2, 4]]
        # two whole groups on three workers would leave one idle: strips move over
        assert all(_balance(plan.chains, 3, plan.stacks))
        # a loop heavier than all the chains: the forked worker takes every one
        assert _balance(plan.chains, 2, plan.stacks, 3 * weight) == [[], [0, 1, 2, 3, 4, 5]]
        runner = make_runner(plan, 2)
        try:
            assert isinstance(runner, Processes) and len(runner.pids) == 1
            # a stack is summed by the worker that runs all its strips, right after
            for st in plan.stacks:
                owners = {runner.owner[c] for c, _ in st.members}
                assert runner.adds_up(st) == (len(owners) == 1)
        finally:
            runner.close()
        assert isinstance(make_runner(plan, 1), Inline)
    finally:
        plan.close()


@pytest.fixture(params=["loop weighed", "loop weightless"])
def loop_weight(request, monkeypatch):
    """As planned (the small session's loop outweighs its strips, so the forked
    workers take them all), and with the loop taken as free, so that the render's own
    process runs strips too."""
    if request.param == "loop weightless":
        monkeypatch.setattr("mixgraph.core.runners._loop_weight", lambda plan: 0.0)


@pytest.mark.parametrize("mute,solo", [(None, None), ("s1_ch", None), (None, "s4_ch")])
def test_parallel_renders_equal_the_serial_render_bit_for_bit(project, mute, solo,
                                                              loop_weight):
    session(project, mute, solo)
    reference, serial = renders_match(project, ((1024, 2), (300, 2), (1024, 3), (8192, 2),
                                                (77, 1)))
    assert np.max(np.abs(reference)) > 0.1
    comp = serial.nodes["s4_comp"][1]          # audible in every case
    assert comp["gain_reduction_max_db"] > 1.0


def master_session(project, mute: str | None = None, solo: str | None = None):
    """The small session with a master chain instead of the loudness stage: mix ->
    eq -> compressor -> channel -> limiter -> dither -> output (a tail chain)."""
    session(project, mute, solo)
    g = project.graph
    g.remove("loud")
    g.add("eq", id="m_eq", bands=[{"type": "high_shelf", "freq_hz": 8000.0, "gain_db": 2.0}])
    g.add("compressor", id="m_comp", threshold_db=-20.0, ratio=2.0)
    g.add("channel", id="m_ch", gain_db=6.0, mute=(mute == "m_ch"))
    g.add("limiter", id="m_lim", ceiling_dbtp=-1.0)
    g.add("dither", id="m_dither", bit_depth=24)
    for a, b in (("mix", "m_eq"), ("m_eq", "m_comp"), ("m_comp", "m_ch"), ("m_ch", "m_lim"),
                 ("m_lim", "m_dither"), ("m_dither", "out")):
        g.connect(a, b)


def test_a_master_chain_runs_as_a_tail_chain_and_only_when_outputs_alone_read_it(project):
    master_session(project)
    plan = make_plan(project.graph, 1024)
    try:
        tails = [[s.node_id for s in c.steps] for c in plan.chains if c.is_tail]
        assert tails == [["m_eq", "m_comp", "m_ch", "m_lim", "m_dither"]]
    finally:
        plan.close()
    # the limiter also feeds a monitor bus: the block loop needs the limiter's blocks,
    # so the chain stops short of it; dither and the bus each start one of their own
    project.graph.add("bus", id="mon", gain_db=-6.0)
    project.graph.connect("m_lim", "mon")
    project.output("mon_out", src="mon")
    plan = make_plan(project.graph, 1024)
    try:
        tails = [[s.node_id for s in c.steps] for c in plan.chains if c.is_tail]
        assert tails == [["m_dither"], ["mon"]]
    finally:
        plan.close()


def test_a_tail_chain_in_threads_equals_the_serial_render(project, monkeypatch):
    master_session(project)
    reference, serial = render_read(project, block_size=1024, workers=1)
    monkeypatch.setenv("MIXGRAPH_NO_FORK", "1")
    for block in (1024, 300):
        out, report = render_read(project, block_size=block, workers=2)
        assert np.array_equal(out, reference), block
        assert report.nodes == serial.nodes, block


@pytest.mark.parametrize("mute,solo", [(None, None), ("m_ch", None), (None, "s4_ch")])
def test_a_tail_chain_renders_equal_the_serial_render_bit_for_bit(project, mute, solo,
                                                                 loop_weight):
    master_session(project, mute, solo)
    reference, serial = renders_match(project, ((1024, 2), (300, 2), (1024, 3), (77, 1),
                                                (16384, 2)))
    if mute is None:
        assert np.max(np.abs(reference)) > 0.1
    else:
        assert not reference.any()             # a muted strip in the chain: silence
    if mute is None and solo is None:
        assert serial.nodes["m_lim"][1]["gain_reduction_max_db"] > 0.1


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_reaches_the_total_only_once_the_outputs_have_everything(project,
                                                                          monkeypatch,
                                                                          workers):
    # the outputs of a tail chain write up to two segments behind the block loop: the
    # progress they report is what has been written, so 100 % means written
    from mixgraph.nodes.output import Output

    master_session(project)
    fed = [0]
    process = Output.process

    def counting(self, ins, outs, start):
        process(self, ins, outs, start)
        fed[0] = max(fed[0], start + ins[0].shape[1])

    monkeypatch.setattr(Output, "process", counting)
    seen = []

    def progress(done, total):
        seen.append((done, total, fed[0]))

    render(project.graph, block_size=1024, workers=workers, progress=progress)
    assert seen[-1][0] == seen[-1][1]
    first_full = next(w for d, t, w in seen if d == t)
    assert first_full == fed[0] > 0                # everything was written by then


def test_threads_give_the_same_render_as_processes(project, monkeypatch):
    """The same render with worker processes, then (forking refused) with threads: the
    threads really ran, and both equal the serial render bit for bit."""
    session(project)
    used: list[str] = []
    for cls in (Processes, Threads):
        original = cls.__init__

        def init(self, *args, _original=original, _name=cls.__name__, **kwargs):
            _original(self, *args, **kwargs)
            used.append(_name)
        monkeypatch.setattr(cls, "__init__", init)
    forked, by_processes = render_read(project, block_size=512, workers=2)
    assert used == ["Processes"]
    monkeypatch.setenv("MIXGRAPH_NO_FORK", "1")
    threaded, by_threads = render_read(project, block_size=512, workers=2)
    assert used == ["Processes", "Threads"]
    serial, expected = render_read(project, block_size=512, workers=1)
    assert np.array_equal(forked, serial) and np.array_equal(threaded, serial)
    assert by_processes.nodes == by_threads.nodes == expected.nodes


def test_a_render_started_beside_another_thread_uses_threads(project):
    session(project)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        plan = make_plan(project.graph, 1024)
        try:
            runner = make_runner(plan, 2)
            runner.close()
            assert isinstance(runner, Threads)
        finally:
            plan.close()
    finally:
        release.set()
        other.join()


def test_short_renders_and_single_chains_stay_inline(project):
    project.stem("a", sine(440.0, 0.5))
    project.graph.add("gain", id="g", gain_db=-6.0)
    project.graph.connect("a", "g")
    project.output(src="g")
    plan = make_plan(project.graph, 1024)
    try:
        assert isinstance(make_runner(plan, 2), Inline)
    finally:
        plan.close()


@pytest.fixture
def worker_pids(monkeypatch):
    """The pids of the worker processes renders fork during the test."""
    pids: list[int] = []
    original = Processes.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        pids.extend(self.pids)

    monkeypatch.setattr(Processes, "__init__", init)
    return pids


def _all_gone(pids: list[int]) -> bool:
    """Every one of ``pids`` has exited and been reaped (no zombie left)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)       # still our child: running or a zombie
        except ChildProcessError:
            continue
        return False
    return True


def test_an_error_in_a_worker_process_reaches_the_caller_and_writes_nothing(project,
                                                                          worker_pids,
                                                                          monkeypatch):
    # a loop that seems heavy keeps the render's own process out of the chains: all
    # three run in the forked worker
    monkeypatch.setattr("mixgraph.core.runners._loop_weight", lambda plan: 1e9)
    g = project.graph
    for i in range(3):
        project.stem(f"s{i}", seeded_noise(SECONDS, seed=i))
        g.add("test_fail" if i == 1 else "gain", id=f"n{i}",
              **({"at": 50000} if i == 1 else {}))
        g.connect(f"s{i}", f"n{i}")
    g.add("bus", id="mix")
    for i in range(3):
        g.connect(f"n{i}", "mix")
    project.output(src="mix")
    with pytest.raises(RuntimeError, match="failed on purpose"):
        render(g, workers=2)
    out = project.folder / "out"
    assert not out.exists() or list(out.iterdir()) == []
    assert len(worker_pids) == 1 and _all_gone(worker_pids)


def test_cancelling_a_parallel_render_writes_nothing_and_leaves_no_workers(project,
                                                                          worker_pids):
    session(project)
    cancel = threading.Event()

    def progress(done, total):
        if done > total // 3:
            cancel.set()

    with pytest.raises(RenderCancelled):
        render(project.graph, workers=3, progress=progress, cancel=cancel)
    out = project.folder / "out"
    assert not out.exists() or list(out.iterdir()) == []
    assert len(worker_pids) == 2 and _all_gone(worker_pids)




@pytest.mark.parametrize("forked_takes", ["one chain", "every chain"])
def test_headroom_seen_inside_a_chain_in_a_worker_is_reported(project, monkeypatch,
                                                              forked_takes):
    """A limiter straight after a hot stem is where the mix meets the master chain;
    the peak it saw in the worker process reaches the warning."""
    hot_limiters(project, SECONDS)
    g = project.graph
    serial = render(g, workers=1)
    if forked_takes == "every chain":        # a loop that seems heavy: the render's own
        monkeypatch.setattr("mixgraph.core.runners._loop_weight", lambda plan: 1e9)
    owners = []
    original = Processes.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        owners.append(self.owner)

    monkeypatch.setattr(Processes, "__init__", init)
    parallel = render(g, workers=2)
    assert owners == [{0: 0, 1: 1}] if forked_takes == "one chain" else [{0: 1, 1: 1}]
    hot = [w for w in serial.warnings if "headroom" in w]
    assert len(hot) == 2 and "'lim0'" in hot[0] and "-0.9 dBFS" in hot[0]
    assert parallel.warnings == serial.warnings


RUNNERS = {"inline": lambda plan, watch: Inline(plan, watch),
           "threads": lambda plan, watch: Threads(plan, watch, 2),
           "processes": lambda plan, watch: Processes(plan, watch, 2)}


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_every_runner_implements_the_runner_protocol(project, kind, monkeypatch):
    """Each runner is a Runner; wait() gives None whatever the runner; the figures the
    forked workers measured come back from reports(), and only there: the render's
    watcher learns the peaks seen in a worker when it merges them."""
    assert get_type_hints(make_runner)["return"] is Runner
    monkeypatch.setattr("mixgraph.core.runners._loop_weight", lambda plan: 1e9)
    hot_limiters(project, SECONDS)
    plan = make_plan(project.graph, 1024)
    try:
        watch = MasterHeadroom(plan)
        assert set(watch.entries) == {"lim0", "lim1"}
        runner = RUNNERS[kind](plan, watch)
        try:
            assert isinstance(runner, Runner)
            chains = list(range(len(plan.chains)))
            tickets = [runner.start(chains, k) for k in range(2)]
            assert runner.wait(tickets[0]) is None
            assert runner.wait() is None             # the oldest left: the second
            runner.drain()
            found = runner.reports()
            assert isinstance(found, ChainReports)
            peak = pytest.approx(10 ** (-0.9 / 20), rel=1e-3)
            if kind == "processes":                  # both chains ran in the fork
                assert set(found.nodes) == {"s0", "lim0", "s1", "lim1"}
                seen = found.nodes["lim1"]["input_peak_dbfs"]
                assert seen == pytest.approx(-0.9, abs=0.01)
                assert found.peaks == {"lim0": peak, "lim1": peak}
                assert watch.entries == {"lim0": 0.0, "lim1": 0.0}
                watch.merge(found.peaks)
            else:                                    # here: the render's own watcher
                assert found == ChainReports()
            assert watch.entries == {"lim0": peak, "lim1": peak}
            # a reset reaches the nodes where they live: lim0 starts afresh, lim1 not
            assert runner.reset({"lim0"}) is None
            if kind == "processes":
                fresh = plan.chains[0].steps[1].node.report()      # never ran here
                assert fresh["input_peak_dbfs"] == -np.inf
                after = runner.reports().nodes
                assert after["lim0"] == fresh and after["lim1"] == found.nodes["lim1"]
        finally:
            runner.close()
    finally:
        plan.close()


def test_stem_files_survive_a_parallel_render(project):
    session(project)
    before = {p.name: p.read_bytes() for p in (project.folder / "stems").iterdir()}
    render(project.graph, workers=2)
    after = {p.name: p.read_bytes() for p in (project.folder / "stems").iterdir()}
    assert before == after
    assert sf.info(str(project.folder / "out" / "out.wav")).frames >= int(SECONDS * SR)
