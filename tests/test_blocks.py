"""Block-size invariance (automation included) and bit-identical renders."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import (BLOCK_SIZES, SR, ProjectHelper, chirp_with_clicks, faded_sine,
                      seeded_noise)


def _automated_session(project):
    """Stems, generators and every kind of automation curve, fan-in and a latent node."""
    g = project.graph
    project.stem("chirp", chirp_with_clicks(1.5), regions=[{"at_s": 0.1}])
    project.stem("sine", faded_sine(220, 1.2), gain_db={"automation": [[0.0, -20.0],
                                                                        [1.0, 0.0]],
                                                         "curve": "linear"})
    project.stem("wide", seeded_noise(1.0, channels=2, seed=9), sr=44100)
    g.add("tone", id="sweep", duration_s=1.3, level_dbfs=-12.0, offset_s=0.05,
          freq_hz={"automation": [[0.0, 100.0], [1.3, 8000.0]], "curve": "exponential"})
    g.add("noise", id="pink", color="pink", duration_s=1.1, seed=3, channels=2,
          level_dbfs={"automation": [[0.2, -40.0], [0.2, -20.0], [0.9, -30.0]],
                      "curve": "step"})
    g.add("channel", id="c1", pan={"automation": [[0.0, -1.0], [1.5, 1.0]], "curve": "linear"})
    g.add("channel", id="c2", gain_db=-3.0, width={"automation": [[0.0, 0.0], [1.0, 2.0]]})
    g.add("channel", id="c3", pan=0.3)
    g.add("test_latent", id="lat", samples=333)
    g.add("send", id="snd", level_db={"automation": [[0.0, -60.0], [0.7, -6.0]],
                                      "curve": "linear"})
    g.add("bus", id="mix", gain_db={"automation": [[0.5, 0.0], [0.6, -6.0], [1.2, -1.0]],
                                    "curve": "linear"})
    g.connect("chirp", "c1")
    g.connect("sine", "c1")
    g.connect("sweep", "c3")
    g.connect("wide", "c2")
    g.connect("pink", "lat")
    g.connect("lat", "c2")
    g.connect("c1.pre", "snd")
    g.connect("snd", "mix")
    for ch in ("c1", "c2", "c3"):
        g.connect(ch, "mix")
    project.output(src="mix")


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """The automated session rendered at 4096 (reference) and every test block size."""
    project = ProjectHelper(tmp_path_factory.mktemp("blocks"))
    _automated_session(project)
    return {block: project.render_read(block_size=block) for block in [4096, *BLOCK_SIZES]}


@pytest.mark.parametrize("block", BLOCK_SIZES)
def test_block_size_does_not_change_the_output(renders, block):
    reference, out = renders[4096], renders[block]
    assert reference.shape == (2, int(1.6 * SR))
    assert np.max(np.abs(reference)) > 0.1
    assert out.shape == reference.shape, f"block {block}: shape {out.shape}"
    diff = np.abs(out - reference).max(axis=0)
    bad = np.flatnonzero(diff > 1e-6)
    assert bad.size == 0, (f"block {block}: mismatch in samples {bad[0]:,}-{bad[-1]:,} "
                           f"(max {diff.max():.2e})")


@pytest.mark.parametrize("block", BLOCK_SIZES)
def test_block_size_gives_bit_identical_samples(renders, block):
    assert np.array_equal(renders[block], renders[4096]), f"block {block}"


def test_two_renders_are_bit_identical(project):
    _automated_session(project)
    path = project.graph.resolve_path("out/out.wav")
    project.graph.nodes["out"].params["subtype"] = "PCM_24"
    digests = []
    for _ in range(2):
        project.render()
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.parametrize("block", [1, 1000])
def test_output_starts_and_ends_exactly(project, block):
    x = faded_sine(440, 0.25)
    project.stem("a", x, regions=[{"at_s": 0.5}])
    project.output(src="a")
    out = project.render_read(block_size=block)
    assert out.shape[1] == int(0.75 * SR)
    assert np.all(out[:, :SR // 2] == 0)
    np.testing.assert_allclose(out[:, SR // 2:], x, atol=1e-7)


def test_gains_are_computed_the_same_way_for_constants_and_ramps():
    """A constant block and an automated block must give bit-identical gains."""
    from mixgraph.nodes.base import db_to_gain
    values = np.random.default_rng(0).uniform(-60, 12, 5000)
    as_array = db_to_gain(values)
    assert all(db_to_gain(float(v)) == g for v, g in zip(values, as_array))
