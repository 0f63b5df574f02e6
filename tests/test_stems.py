"""Stem export: stems that sum back to the mix bus input, named, aligned, unmastered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixgraph import Graph, render
from mixgraph.workflows.demo import build_project, synthesise
from mixgraph.core.fileformat import save
from mixgraph.workflows.stems import find_mix_bus, render_stems, stem_graph
from mixgraph.nodes.base import Sink
from mixgraph.errors import GraphError, MixgraphError

SR = 48000
NULL_DBFS = -100.0


# ------------------------------------------------------------------ helpers
def mixgraph(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def read(path) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    assert rate == SR
    return data.T


def dbfs(x: float) -> float:
    return 20 * np.log10(x) if x > 0 else -np.inf


def stem_files(folder: Path) -> dict[str, np.ndarray]:
    return {p.stem: read(p) for p in sorted(Path(folder).glob("*.wav"))}


def sum_padded(signals) -> np.ndarray:
    signals = list(signals)
    chans = max(s.shape[0] for s in signals)
    total = np.zeros((chans, max(s.shape[1] for s in signals)))
    for s in signals:
        total[:, :s.shape[1]] += s           # a mono stem adds to both sides
    return total


def descendants(g: Graph, node: str) -> set[str]:
    seen, todo = set(), [node]
    while todo:
        for link in g.links_from(todo.pop()):
            if link.dst.node not in seen:
                seen.add(link.dst.node)
                todo.append(link.dst.node)
    return seen


def render_mix_bus_input(g: Graph, mix: str, path: Path, trim_tail: bool = False):
    """The reference: a new bus 'ref' fed by exactly the links into the mix bus (same
    sources and ports), written as FLOAT (untrimmed, unless ``trim_tail``: then as
    long as one output of the mix is).  The mix bus and everything after it (its
    fader, the master chain) and the other outputs are left out."""
    ref = g.copy()
    ref.add("bus", id="ref")
    for link in list(ref.links_into(mix)):
        ref.connect(str(link.src), "ref")
    for node in {mix} | descendants(ref, mix):
        ref.remove(node)
    for spec in list(ref):
        cls = spec.node_class()
        if cls is not None and issubclass(cls, Sink):
            ref.remove(spec.id)
    ref.add("output", id="ref_out", path=str(path), subtype="FLOAT", trim_tail=trim_tail)
    ref.connect("ref", "ref_out")
    render(ref, allow_outside=True)
    return read(path)


def write_demo_project(folder: Path, seconds: float = 4.0, saturate_kick: bool = False):
    """The demo project on short (4 s) demo material; optionally with an oversampled
    saturation (91 samples of latency) on the kick's path into the drum group."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stems").mkdir(exist_ok=True)
    for name, audio in synthesise(seconds).items():
        sf.write(str(folder / "stems" / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    g = build_project(folder.resolve())
    if saturate_kick:
        g.disconnect("kick_comp", "kick_ch")
        g.add("saturation", id="kick_sat", drive_db=9.0)
        g.connect("kick_comp", "kick_sat")
        g.connect("kick_sat", "kick_ch")
    save(g, folder / "demo.mgraph")
    return g


@pytest.fixture(scope="module")
def demo_stems(tmp_path_factory):
    """The demo project (plain, and with a latent saturation on the kick) with its stems
    rendered by render_stems and the reference render of its mix bus input."""
    out = {}
    for variant in ("plain", "saturated"):
        folder = tmp_path_factory.mktemp(f"demo_{variant}")
        g = write_demo_project(folder / "song", saturate_kick=variant == "saturated")
        report = render_stems(g, folder / "stems_out")
        reference = render_mix_bus_input(g, "mix", folder / "ref.wav")
        mix = render_mix_bus_input(g, "mix", folder / "mix.wav", trim_tail=True)
        out[variant] = (g, folder, report, stem_files(folder / "stems_out"), reference, mix)
    return out


def small_project(folder: Path, group_latency: bool = True) -> Graph:
    """A short project: kick and snare channels into a drums group (the kick through an
    91-sample-latent saturation), a bass channel outside any group, a lead channel with
    a pre-fader reverb send returned on bus 'fx', all into 'mix'; 'mix' feeds a limiter
    and a loudness stage (the master chain) and an output."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stems").mkdir(exist_ok=True)
    rng = np.random.default_rng(5)
    n = 3 * SR
    t = np.arange(n) / SR
    env = np.exp(-((t * 2.0) % 1.0) / 0.05)
    material = {"kick": np.sin(2 * np.pi * 55 * t) * env * 0.5,
                "snare": rng.standard_normal(n) * np.roll(env, SR // 4) * 0.2,
                "bass": 0.3 * np.sin(2 * np.pi * 82.5 * t),
                "lead": 0.2 * np.sin(2 * np.pi * 660 * t) * (t < 2.0)}
    for name, x in material.items():
        sf.write(str(folder / "stems" / f"{name}.wav"), x, SR, subtype="FLOAT")
    g = Graph(sample_rate=SR, base_dir=folder.resolve())
    for name in material:
        g.add("stem", id=name, path=f"stems/{name}.wav")
        g.add("channel", id=f"{name}_ch", gain_db=-3.0, pan=0.2)
    if group_latency:
        g.add("saturation", id="kick_sat", drive_db=6.0)
        g.connect("kick", "kick_sat")
        g.connect("kick_sat", "kick_ch")
    else:
        g.connect("kick", "kick_ch")
    for name in ("snare", "bass", "lead"):
        g.connect(name, f"{name}_ch")
    g.add("group", id="drums", gain_db=-1.0)
    g.connect("kick_ch", "drums")
    g.connect("snare_ch", "drums")
    g.add("send", id="verb_send", level_db=-6.0)
    g.add("reverb", id="plate", decay_s=0.8)
    g.add("bus", id="fx", gain_db=-2.0)
    g.connect("lead_ch.pre", "verb_send")
    g.connect("verb_send", "plate")
    g.connect("plate", "fx")
    g.add("bus", id="mix", gain_db=-2.0)
    for src in ("drums", "fx", "bass_ch", "lead_ch"):
        g.connect(src, "mix")
    g.add("limiter", id="master_limit", ceiling_dbtp=-1.0)
    g.add("loudness", id="master_loud", target_lufs=-14.0)
    g.add("output", id="master_out", path="out/master.wav", subtype="PCM_24")
    g.connect("mix", "master_limit")
    g.connect("master_limit", "master_loud")
    g.connect("master_loud", "master_out")
    g.add("output", id="mix_out", path="out/mix.wav", subtype="FLOAT")
    g.connect("mix", "mix_out")
    return g


# -------------------------------------------------------------- sums back
@pytest.mark.parametrize("variant", ["plain", "saturated"])
def test_stems_sum_back_to_the_mix_bus_input_within_minus_100_dbfs(demo_stems, variant):
    g, folder, report, stems, reference, mix = demo_stems[variant]
    lengths = {name: s.shape[1] for name, s in stems.items()}
    assert len(set(lengths.values())) == 1, lengths          # all run to the same end
    assert set(lengths.values()) == {mix.shape[1]}            # ... the mix's end
    end = mix.shape[1]
    assert end > 4 * SR + SR // 2                             # reverb/echo tails included
    # what the declared tails add after it is below the tail threshold
    assert dbfs(float(np.max(np.abs(reference[:, end:])))) < -90.0
    for name, s in stems.items():
        assert s.shape[0] == 2
        assert sf.info(str(folder / "stems_out" / f"{name}.wav")).subtype == "FLOAT"
    total = sum_padded(stems.values())
    assert np.max(np.abs(reference)) > 0.1
    null = dbfs(float(np.max(np.abs(total - reference[:, :end]))))
    print(f"\n{variant}: stem null depth {null:.1f} dBFS over "
          f"{end / SR:.2f} s, {len(stems)} stems")
    assert null < NULL_DBFS
    # the tails are in the stems: the fx return still carries reverb after the song
    fx = stems["fx"]
    assert np.max(np.abs(fx[:, 4 * SR + SR // 4:])) > 1e-4


def test_latent_group_path_is_aligned_in_the_stem_sum(demo_stems):
    """With the kick saturated (91 samples of latency), the drum stem must still line up
    with the other stems: shifting it by the latency breaks the null badly."""
    g, folder, report, stems, reference, mix = demo_stems["saturated"]
    drum = [n for n in stems if n in ("drums", "drum_glue")][0]
    others = sum_padded(s for n, s in stems.items() if n != drum)
    shifted = np.zeros_like(stems[drum])
    shifted[:, 80:] = stems[drum][:, :-80]
    reference = reference[:, :mix.shape[1]]
    aligned = dbfs(float(np.max(np.abs(others + stems[drum] - reference))))
    misaligned = dbfs(float(np.max(np.abs(others + shifted - reference))))
    assert aligned < NULL_DBFS
    assert misaligned > -40.0                  # the check can tell a 91-sample slip


def test_stems_that_end_together_do_not_depend_on_block_size_or_workers(tmp_path):
    """Where the stems end is decided across all of them, some written segments behind
    the others (the drum glue is a tail chain): the files are the same, bit for bit,
    at any block size and worker count."""
    g = write_demo_project(tmp_path / "song", seconds=1.0)
    written = {}
    for block, workers in ((1024, 1), (64, 1), (65, 2), (8193, 2)):
        out = tmp_path / f"stems_{block}_{workers}"
        render_stems(g, out, channels=True, block_size=block, workers=workers)
        written[block, workers] = {p.relative_to(out).as_posix(): p.read_bytes()
                                   for p in sorted(out.rglob("*.wav"))}
    first = written[1024, 1]
    assert len(first) == 11 and len({len(b) for b in first.values()}) == 1
    for key, files in written.items():
        assert files == first, f"block size {key[0]}, {key[1]} workers"


def test_find_mix_bus_on_the_demo_is_mix(demo_stems):
    g = demo_stems["plain"][0]
    assert find_mix_bus(g) == "mix"


# ------------------------------------------------------------------ names
def test_stems_are_named_after_groups_returns_and_ungrouped_channels(tmp_path):
    g = small_project(tmp_path / "song")
    report = render_stems(g, tmp_path / "stems")
    names = sorted(p.name for p in (tmp_path / "stems").iterdir())
    assert names == ["bass_ch.wav", "drums.wav", "fx.wav", "lead_ch.wav"]
    assert {o["node"] for o in report.outputs} == {"stem__drums", "stem__fx",
                                                   "stem__bass_ch", "stem__lead_ch"}


def test_demo_drum_group_stem_is_named_drums(demo_stems):
    stems = demo_stems["plain"][3]
    assert sorted(stems) == ["bass_ch", "drums", "fx", "keys_ch", "lead_ch"]


def test_demo_stems_are_one_per_link_into_the_mix_bus(demo_stems):
    g, folder, report, stems, reference, mix = demo_stems["plain"]
    expected = {link.src.node for link in g.links_into("mix")}
    assert len(stems) == len(expected)
    # the drum group reaches the mix bus through its glue compressor: its stem
    expected = expected - {"drum_glue"} | {"drums"}
    assert set(stems) == expected
    assert {"fx", "bass_ch", "keys_ch", "lead_ch"} <= set(stems)


# -------------------------------------------------------------- alignment
def test_impulse_at_one_second_lands_on_sample_48000_in_its_stem(tmp_path):
    """An impulse at 1.0 s through a latent saturation (91 samples) into a group, and
    through a plain channel, and through a reverb send: each stem holds it at sample
    48000 (the reverb return starts no earlier than that)."""
    folder = tmp_path / "song"
    (folder / "stems").mkdir(parents=True)
    x = np.zeros(2 * SR)
    x[SR] = 0.05
    sf.write(str(folder / "stems" / "hit.wav"), x, SR, subtype="FLOAT")
    y = np.zeros(2 * SR)
    y[SR] = 0.5
    sf.write(str(folder / "stems" / "click.wav"), y, SR, subtype="FLOAT")
    g = Graph(sample_rate=SR, base_dir=folder.resolve())
    g.add("stem", id="hit", path="stems/hit.wav")
    g.add("saturation", id="sat", drive_db=6.0)
    g.add("channel", id="hit_ch")
    g.add("group", id="drums")
    g.add("stem", id="click", path="stems/click.wav")
    g.add("channel", id="click_ch")
    g.add("send", id="snd")
    g.add("reverb", id="verb", predelay_ms=0.0)
    g.add("bus", id="fx")
    g.add("bus", id="mix")
    for a, b in (("hit", "sat"), ("sat", "hit_ch"), ("hit_ch", "drums"), ("drums", "mix"),
                 ("click", "click_ch"), ("click_ch", "mix"), ("click_ch.pre", "snd"),
                 ("snd", "verb"), ("verb", "fx"), ("fx", "mix")):
        g.connect(a, b)
    g.add("limiter", id="lim")
    g.add("output", id="master", path="master.wav")
    g.connect("mix", "lim")
    g.connect("lim", "master")
    render_stems(g, tmp_path / "stems")
    drums = read(tmp_path / "stems" / "drums.wav")
    click = read(tmp_path / "stems" / "click_ch.wav")
    fx = read(tmp_path / "stems" / "fx.wav")
    assert drums.shape[1] == click.shape[1] == fx.shape[1]
    assert int(np.argmax(np.abs(drums[0]))) == SR
    assert int(np.argmax(np.abs(click[0]))) == SR
    # centre pan of a mono channel: -3 dB each side, exactly where the impulse was
    assert click[0, SR] == pytest.approx(0.5 * np.sqrt(0.5), abs=1e-6)
    assert np.max(np.abs(click[:, :SR])) == 0.0 and np.max(np.abs(click[:, SR + 1:])) == 0.0
    assert np.max(np.abs(fx[:, :SR])) < 1e-9 and np.max(np.abs(fx[:, SR:])) > 1e-4


# ---------------------------------------------------------- master chain off
def test_stem_render_leaves_the_master_chain_off(demo_stems):
    report = demo_stems["plain"][2]
    types = {nid: kind for nid, (kind, _) in report.nodes.items()}
    assert "loudness" not in types.values(), types
    assert not any(nid.startswith("master_") for nid in types), types


def test_stems_peak_at_the_raw_mix_level_not_at_the_ceiling(demo_stems):
    g, folder, report, stems, reference, mix = demo_stems["plain"]
    total = sum_padded(stems.values())
    peak = dbfs(float(np.max(np.abs(total))))
    assert peak == pytest.approx(dbfs(float(np.max(np.abs(reference)))), abs=1e-4)
    # the mix bus fader (-2.5 dB) is left off, the -14 LUFS / -1 dBTP stage too: the
    # unmastered demo mix peaks well under -1 dBFS
    assert peak < -3.0
    for out in report.outputs:
        assert out["true_peak_dbtp"] < -3.0
        assert out["integrated_lufs"] < -18.0          # not brought up to -14 LUFS


def test_stem_graph_outputs_are_float_and_replace_the_projects_outputs(tmp_path):
    g = small_project(tmp_path / "song")
    sg, paths = stem_graph(g, tmp_path / "stems")
    outputs = [s for s in sg if s.type == "output"]
    assert sorted(s.id for s in outputs) == sorted(paths)
    assert "master_out" not in sg.nodes and "mix_out" not in sg.nodes
    for s in outputs:              # trimmed: render_stems ends them together
        assert s.params["subtype"] == "FLOAT" and s.params.get("trim_tail", True)
    assert "master_out" in g.nodes                       # the project is left as it was


# --------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cli_project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli") / "song"
    g = small_project(folder)
    save(g, folder / "song.mgraph")
    return folder


def test_cli_stems_with_channels(cli_project, tmp_path):
    result = mixgraph("render", cli_project / "song.mgraph", "--stems", tmp_path / "st",
                      "--stems-channels", "-q")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "st").glob("*.wav")) == \
        ["bass_ch.wav", "drums.wav", "fx.wav", "lead_ch.wav"]
    assert sorted(p.name for p in (tmp_path / "st" / "channels").iterdir()) == \
        ["bass_ch.wav", "kick_ch.wav", "lead_ch.wav", "snare_ch.wav"]
    # the project's own outputs were not written
    assert not (cli_project / "out").exists()
    # the channel files are the channels: kick + snare channels sum to the drums group
    # input, and the group's -1 dB fader is on its stem
    kick = read(tmp_path / "st" / "channels" / "kick_ch.wav")
    snare = read(tmp_path / "st" / "channels" / "snare_ch.wav")
    drums = read(tmp_path / "st" / "drums.wav")
    n = min(kick.shape[1], drums.shape[1])
    assert kick.shape[1] == snare.shape[1]
    diff = np.max(np.abs((kick[:, :n] + snare[:, :n]) * 10 ** (-1 / 20) - drums[:, :n]))
    assert dbfs(float(diff)) < NULL_DBFS
    assert np.max(np.abs(drums[:, n:]), initial=0.0) < 1e-9


def test_cli_stems_and_channel_files_are_the_mixs_length_and_sum_back_to_it(tmp_path):
    """Issue 17: every file of ``render --stems --stems-channels`` is exactly as long as
    the mix they sum to (the mix-bus input, written as an output writes it: its tail
    up to its last sample at or above -90 dBFS), with no tail after that: the stems
    and the channel files no longer run to different ends (the stems to the
    reverb's whole declared tail, 1.4 s of it below -90 dBFS, the channel files to
    the end of the song)."""
    g = write_demo_project(tmp_path / "song")
    result = mixgraph("render", tmp_path / "song" / "demo.mgraph", "--stems", tmp_path / "st",
                      "--stems-channels", "-q")
    assert result.returncode == 0, result.stderr
    stems = stem_files(tmp_path / "st")
    channels = stem_files(tmp_path / "st" / "channels")
    mix = render_mix_bus_input(g, "mix", tmp_path / "mix.wav", trim_tail=True)
    whole = render_mix_bus_input(g, "mix", tmp_path / "whole.wav")
    lengths = {name: s.shape[1] for name, s in [*stems.items(),
                                                *((f"channels/{n}", c)
                                                  for n, c in channels.items())]}
    assert set(lengths.values()) == {mix.shape[1]}, (lengths, mix.shape[1])
    assert mix.shape[1] > 4 * SR + SR // 2                # the reverb's tail is in
    assert whole.shape[1] > mix.shape[1] + SR // 2        # and more was declared
    # the last sample any of them holds is at or above the threshold: no quiet tail
    last = max(float(np.max(np.abs(s[:, -1]))) for s in stems.values())
    assert dbfs(last) >= -90.0
    total = sum_padded(stems.values())
    assert dbfs(float(np.max(np.abs(total - mix)))) < NULL_DBFS
    assert dbfs(float(np.max(np.abs(whole[:, mix.shape[1]:])))) < -90.0


def test_cli_mix_bus_picks_another_bus(cli_project, tmp_path):
    result = mixgraph("render", cli_project / "song.mgraph", "--stems", tmp_path / "st",
                      "--mix-bus", "drums", "-q")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["kick_ch.wav",
                                                                   "snare_ch.wav"]


def test_cli_unknown_mix_bus_is_a_clear_error(cli_project, tmp_path):
    result = mixgraph("render", cli_project / "song.mgraph", "--stems", tmp_path / "st",
                      "--mix-bus", "nope", "-q")
    assert result.returncode == 1
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_find_mix_bus_prefers_the_bus_feeding_the_master_chain(tmp_path):
    g = small_project(tmp_path / "song")
    g.rename("mix", "main")
    g.add("bus", id="mix")                  # a decoy called 'mix' that feeds nothing
    assert find_mix_bus(g) == "main"


def test_no_mix_bus_candidate_is_a_clear_error_asking_for_mix_bus(tmp_path):
    folder = tmp_path / "song"
    g = small_project(folder, group_latency=False)
    g.remove("master_limit")
    g.remove("master_loud")
    g.rename("mix", "sum_a")
    g.add("bus", id="sum_b")
    with pytest.raises(GraphError, match="--mix-bus"):
        find_mix_bus(g)
    with pytest.raises(MixgraphError, match="--mix-bus"):
        render_stems(g, tmp_path / "stems")
    save(g, folder / "nomix.mgraph")
    result = mixgraph("render", folder / "nomix.mgraph", "--stems", tmp_path / "st", "-q")
    assert result.returncode == 1
    assert "--mix-bus" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
