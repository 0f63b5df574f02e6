"""Strips side by side: the kernels that run four recursions in the lanes of one
vector give each lane bit for bit what the one-lane kernel gives, and a render whose
chains' EQs and compressors run in gangs equals, bit for bit, the render with every
node alone (at several block sizes and worker counts)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter

from conftest import seeded_noise
from mixgraph.nodes.base import Node, node_types
from mixgraph.nodes.gangs import LANES


def _sos(lanes: int, sections: int) -> np.ndarray:
    sos = np.zeros((lanes, sections, 5))
    for lane in range(lanes):
        for s in range(sections):
            b, a = butter(2, 0.01 * (lane + 1) * (s + 1) / 4)
            sos[lane, s] = [b[0], b[1], b[2], -a[1], -a[2]]
    return sos


def test_the_lanes_are_four_wide_as_the_kernels_say():
    from mixgraph.nodes.kernels.lanes import LANES as KERNEL_LANES

    assert LANES == KERNEL_LANES


@pytest.mark.parametrize("sections", [1, 2, 3, 4, 5, 6, 7, 9])
@pytest.mark.parametrize("in_place", [False, True])
def test_four_biquad_cascades_in_lanes_equal_each_alone(sections, in_place):
    from mixgraph.nodes.kernels.filters import biquad_cascade, biquad_lanes

    rng = np.random.default_rng(sections)
    x = rng.standard_normal((LANES, 5000))
    sos = _sos(LANES, sections)
    start = rng.standard_normal((LANES, sections, 2)) * 1e-3
    alone = np.empty_like(x)
    alone_state = start.copy()
    for lane in range(LANES):
        biquad_cascade(x[lane:lane + 1], alone[lane:lane + 1], sos[lane],
                       alone_state[lane:lane + 1])
    out = x.copy() if in_place else np.empty_like(x)
    state = start.copy()
    biquad_lanes(*(out if in_place else x), *out, sos, state)
    np.testing.assert_array_equal(out, alone)
    np.testing.assert_array_equal(state, alone_state)


def _session(project, stems: int, automate: bool = False):
    """``stems`` strips (stem, EQ, compressor, channel) into a bus and an output: a
    third stereo, settings varied, one EQ and one compressor automated when asked."""
    g = project.graph
    g.add("bus", id="mix")
    for i in range(stems):
        channels = 2 if i % 3 == 0 else 1
        name = f"s{i}"
        project.stem(name, seeded_noise(1.3, channels=channels, seed=i, level_db=-12.0))
        bands = [{"type": "highpass", "freq_hz": 30.0 + i, "slope_db_oct": 12},
                 {"type": "bell", "freq_hz": 250.0 * (1 + i % 3), "gain_db": -2.0, "q": 1.0}]
        if i % 4 == 1:
            bands.append({"type": "high_shelf", "freq_hz": 9000.0, "gain_db": 2.0})
        g.add("eq", id=f"{name}_eq", bands=bands)
        g.add("compressor", id=f"{name}_comp", threshold_db=-30.0 + i, ratio=2.0 + i % 3,
              attack_ms=5.0 + i, release_ms=80.0 + 10 * i, detector="peak" if i % 2 else "rms")
        g.add("channel", id=f"{name}_ch", pan=((i * 0.37) % 2) - 1)
        for a, b in ((name, f"{name}_eq"), (f"{name}_eq", f"{name}_comp"),
                     (f"{name}_comp", f"{name}_ch"), (f"{name}_ch", "mix")):
            g.connect(a, b)
    if automate:
        g.set("s2_comp", "threshold_db", {"automation": [[0.0, -30.0], [1.0, -10.0]]})
        g.set("s4_eq", "bands", [{"type": "bell", "gain_db": -3.0,
                                  "freq_hz": {"automation": [[0.0, 200.0], [1.0, 2000.0]]}}])
    project.output(src="mix")


@pytest.fixture(scope="module")
def alone_and_ganged(tmp_path_factory):
    """The same session rendered with every node alone (no gang keys) and as the
    engine runs it, for each (block, workers)."""
    from conftest import ProjectHelper

    project = ProjectHelper(tmp_path_factory.mktemp("gangs"))
    _session(project, stems=11, automate=True)
    settings = [(1024, 1), (256, 1), (4096, 2)]
    gangs: list[int] = []                  # the size of each gang (in this process)
    patched = {}
    for cls in node_types().values():
        if "process_gang" in vars(cls):
            real = cls.process_gang.__func__
            patched[cls] = cls.process_gang

            def counting(cls, members, real=real):
                gangs.append(len(members))
                real(cls, members)
            cls.process_gang = classmethod(counting)
    ganged, formed = {}, {}
    try:
        for block, workers in settings:
            gangs.clear()
            project.render(block_size=block, workers=workers)
            ganged[block, workers], formed[block, workers] = project.read(), max(gangs,
                                                                               default=0)
        keys = {}
        for cls in node_types().values():
            if "gang_key" in vars(cls):
                keys[cls] = cls.gang_key
                cls.gang_key = Node.gang_key
        gangs.clear()
        try:
            project.render(block_size=1024, workers=1)
            alone = project.read()
        finally:
            for cls, key in keys.items():
                cls.gang_key = key
        assert not gangs                    # alone: no node processed in a gang
    finally:
        for cls, method in patched.items():
            cls.process_gang = method
    return alone, ganged, formed


@pytest.mark.parametrize("block, workers", [(1024, 1), (256, 1), (4096, 2)])
def test_strips_in_gangs_render_bit_for_bit_as_alone(alone_and_ganged, block, workers):
    alone, ganged, formed = alone_and_ganged
    # gangs formed in this process (with two workers, the chains it kept for itself)
    assert formed[block, workers] >= 3, formed
    got = ganged[block, workers]
    assert got.shape == alone.shape
    bad = np.flatnonzero(np.any(got != alone, axis=0))
    assert bad.size == 0, f"mismatch in samples {bad[0]:,}-{bad[-1]:,}"


@pytest.mark.parametrize("kind", ["eq", "compressor"])
def test_a_gang_really_forms(project, monkeypatch, kind):
    """The EQs and the compressors of a session's strips reach process_gang together
    (the test above would pass, trivially, were nothing ever ganged)."""
    cls = node_types()[kind]
    seen = []
    real = cls.process_gang.__func__

    def counting(cls, members):
        seen.append(len(members))
        real(cls, members)

    monkeypatch.setattr(cls, "process_gang", classmethod(counting))
    _session(project, stems=6)
    project.render(block_size=1024, workers=1)
    assert seen and max(seen) >= 4


@pytest.mark.parametrize("detector", ["peak", "rms"])
def test_four_compressors_in_lanes_equal_each_alone(detector):
    """compress() alone, against its halves with the smoothing of four compressors
    (a stereo one with its own detectors, three mono, one of them keyed by a sidechain)
    run in lanes: the same output, state and report figures, bit for bit."""
    from mixgraph.nodes.dynamics import CompressorCore

    rng = np.random.default_rng(7)
    n = 3000
    cores, signals = [], []
    for k, (channels, linked) in enumerate([(2, False), (1, True), (1, True), (2, True)]):
        values = {"threshold_db": -30.0 + 3 * k, "ratio": 2.0 + k, "knee_db": 6.0,
                  "attack_ms": 3.0 + k, "release_ms": 60.0 + 20 * k, "stereo_link": 0.5
                  if not linked else 1.0, "makeup_db": float(k), "mix": 1.0}
        pair = [CompressorCore(48000, channels, n, detector, linked=linked)
                for _ in range(2)]
        for core in pair:
            core.fix(values)
        cores.append(pair)
        signals.append(rng.standard_normal((channels, n)) * 0.3)
    keys = [None, None, rng.standard_normal((1, n)) * 0.5, None]     # a sidechain
    alone = []
    for (core, _), x, key in zip(cores, signals, keys):
        out = np.empty_like(x)
        core.process(x, key, out, -100)
        alone.append(out)
    together = [np.empty_like(x) for x in signals]
    CompressorCore.process_lanes([(pair[1], x, key, out, -100) for pair, x, key, out
                                  in zip(cores, signals, keys, together)])
    for (a, b), x, y in zip(cores, alone, together):
        np.testing.assert_array_equal(y, x)
        np.testing.assert_array_equal(b.state, a.state)
        np.testing.assert_array_equal(b.stats, a.stats)
        np.testing.assert_array_equal(b.ms, a.ms)
