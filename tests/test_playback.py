"""Playback through a real audio server: a JACK server with its dummy driver (no sound
card), started here, mixgraph playing into it through sounddevice and PortAudio, and
a JACK client recording what arrives (tests/jack_player.py).  What was heard is held
against the render and closed forms: no underrun, a fader move heard in time and
without a click, a link added heard without a gap at the same song position, the
monitor's mono and dim exact; and ``mixgraph play`` as a user runs it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixgraph import render
from mixgraph.core.live import RAMP_S

from conftest import SR, db, sine

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(shutil.which("jackd") is None,
                                reason="no jackd (.ci/run installs jackd2 and PortAudio)")
# what the device adds after the engine's ring: PortAudio's buffer and JACK's period
PERIOD = 256


@pytest.fixture(scope="module")
def jack_server():
    """A JACK server of our own (dummy driver, 48 kHz, 256-frame periods); the
    environment that makes PortAudio and JACK clients use it."""
    pytest.importorskip("jack")
    from jack_player import start_server, stop_server

    try:
        server, env = start_server(f"mixgraph-test-{os.getpid()}", SR, PERIOD)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield env
    stop_server(server)


def run_player(env, scenario: str, project: Path, tmp_path: Path):
    out = tmp_path / f"{scenario}.npz"
    # what earlier tests wrote goes to the disk now, not while this one plays: on a
    # two-core virtual machine a writeback storm stalls the whole machine, the JACK
    # server with it, for 50-80 ms (measured: a 2.5 GB write synced while the demo
    # played stalled one block's rendering, normally 1-2 ms, for 55-79 ms)
    os.sync()
    done = subprocess.run([sys.executable, str(HERE / "jack_player.py"), scenario,
                           str(project), str(out)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(out)
    events = json.loads(str(got["events"]))
    assert events["error"] is None
    return got["audio"], got["frames"], events


def kept_up(events: dict) -> None:
    """The engine kept the device fed: the ring never ran empty, and no callback of
    ours took half its buffer's time (which could make the server miss a period).
    A period the JACK server missed on its own, on a busy two-core virtual machine,
    is no client's doing; each test's capture shows whether a sample was lost."""
    assert events["late"] == 0, events
    assert events["slow_callbacks"] == 0, events


def heard_span(audio: np.ndarray) -> slice:
    """The capture from the first sound to the last (PortAudio is linked a little after
    it starts, and stopped before the capture is)."""
    loud = np.flatnonzero(np.abs(audio).max(axis=0) > 1e-4)
    return slice(loud[0], loud[-1] + 1) if loud.size else slice(0, 0)


def heard_part(audio: np.ndarray) -> np.ndarray:
    return audio[:, heard_span(audio)]


def align(heard: np.ndarray, expected: np.ndarray, span: int = 4800) -> int:
    """Where in ``expected`` the capture's first ``span`` samples are (by correlation)."""
    a = heard[0, :span]
    b = expected[0]
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)[:len(b) - span]
    return int(np.argmax(corr))


def sine_project(project, *, stereo: bool = False, second: bool = False):
    """A 440 Hz stem on a channel into a bus, into the output (and a 1 kHz stem, not
    linked yet)."""
    g = project.graph
    if stereo:
        project.stem("a", np.vstack([sine(300.0, 6.0, -6.0), sine(700.0, 6.0, -6.0)]))
    else:
        project.stem("a", sine(440.0, 6.0, -12.0))
    g.add("channel", id="a_ch")
    g.add("bus", id="mix")
    g.connect("a", "a_ch")
    g.connect("a_ch", "mix")
    if second:
        project.stem("b", sine(1000.0, 6.0, -12.0))
    project.output(src="mix")
    from mixgraph import save

    path = project.folder / "song.mgraph"
    save(g, path)
    return path


def test_ten_seconds_of_the_demo_play_without_an_underrun(jack_server, tmp_path):
    """The 8 s demo looped for 10.5 s: what arrived is the master as it renders, every
    sample of it in its place (a dropout or a slip in time would not be), and the loop
    goes back to the start."""
    import soundfile as sf

    from mixgraph.workflows.demo import write_demo

    graph = write_demo(tmp_path / "demo")
    audio, _, events = run_player(jack_server, "demo", tmp_path / "demo" / "demo.mgraph",
                                  tmp_path)
    kept_up(events)
    assert events["played_s"] >= 10.0
    render(graph)
    out = graph.resolve_path(graph.nodes["master_out"].params["path"])
    expected = sf.read(str(out), dtype="float64", always_2d=True)[0].T
    song = expected.shape[1]
    heard = heard_part(audio)
    assert heard.shape[1] >= 9.5 * SR
    # where the capture starts in the song, then where each sample of it should be:
    # the song, then the song again from the loop's start
    at = align(heard, expected)
    where = (at + np.arange(heard.shape[1])) % song
    (wrap,) = np.flatnonzero(np.diff(where) < 0) + 1              # it looped, once
    # up to the loop (but its 5 ms fade out): every sample as rendered; the file holds
    # dithered 16-bit samples, so the difference is under 2 LSB
    first = slice(0, wrap - int(0.01 * SR))
    assert db(np.abs(heard[:, first] - expected[:, where[first]]).max()) < -84.0
    # after it (where the tails of the song's end go on over its start, as in any
    # DAW's loop): each quarter second where it belongs
    quarter = SR // 4
    for k in range(wrap + quarter, heard.shape[1] - quarter, quarter):
        assert align(heard[:, k:k + quarter], expected, span=quarter) == where[k]


def test_a_fader_move_arrives_in_time_and_without_a_click(jack_server, project, tmp_path):
    path = sine_project(project)
    audio, frames, events = run_player(jack_server, "fader", path, tmp_path)
    kept_up(events)
    from jack_player import edit_heard_after, envelope

    before = 10 ** (-12 / 20) * np.sqrt(0.5)            # -12 dBFS, centre-panned
    after = before * 10 ** (-12 / 20)
    heard_after = edit_heard_after(audio, frames, events, before, after)
    promised = 0.050 + events["buffer_frames"] / SR + PERIOD / SR
    assert heard_after <= promised, f"heard {heard_after * 1000:.1f} ms after the edit"
    x = heard_part(audio)[0]
    peaks, _ = envelope(x, np.arange(len(x)), 440.0, SR)
    # a sine's largest second difference is A (2 pi f / fs)^2: a click is far above it
    bound = before * (2 * np.pi * 440 / SR) ** 2
    assert np.abs(np.diff(x, 2)).max() < 3 * bound
    # and the level after the glide is the new one
    assert db(peaks[-20:].max() / before) == pytest.approx(-12.0, abs=0.1)
    assert RAMP_S <= 0.010


def test_a_link_added_while_playing_is_heard_without_a_gap_at_the_same_position(
        jack_server, project, tmp_path):
    path = sine_project(project, second=True)
    audio, frames, events = run_player(jack_server, "link", path, tmp_path)
    kept_up(events)
    assert events["problem"] is None
    (link,) = events["actions"]
    g = project.graph
    render(g)
    before = project.read()
    edited = g.copy()
    edited.connect("b", "mix")
    render(edited)
    after = project.read()
    heard = heard_part(audio)
    at = align(heard, before)
    n = min(heard.shape[1], before.shape[1] - at)
    heard = heard[:, :n]
    # the song position is kept: before the swap the capture is the old graph, after
    # it the new one, at the very song time the old one had reached
    old = np.abs(heard - before[:, at:at + n]).max(axis=0) < 1e-6
    new = np.abs(heard - after[:, at:at + n]).max(axis=0) < 1e-6
    swap_start = np.flatnonzero(~old)[0]
    swap_end = np.flatnonzero(~new)[-1] + 1
    assert old[:swap_start].all() and new[swap_end:].all()
    assert (swap_end - swap_start) / SR <= 0.020 + 1e-3      # the crossfade, at most
    assert (n - swap_end) / SR > 0.5                         # and the new graph goes on
    # no gap: the crossfade never dips below the quieter of the two
    fade = heard[0, swap_start:swap_end]
    assert np.abs(fade).max() > 0.5 * np.abs(before[0]).max()
    assert np.abs(np.diff(heard[0], 2)).max() < 3 * (
        10 ** (-12 / 20) * np.sqrt(0.5) * (2 * np.pi * 440 / SR) ** 2 +
        10 ** (-12 / 20) * (2 * np.pi * 1000 / SR) ** 2)
    assert link["position_s"] * SR <= at + swap_start + SR * 0.1


def test_the_monitors_mono_and_dim_are_exact(jack_server, project, tmp_path):
    path = sine_project(project, stereo=True)
    audio, frames, events = run_player(jack_server, "monitor", path, tmp_path)
    kept_up(events)
    render(project.graph)
    stereo = project.read()
    mono = (stereo[0] + stereo[1]) / 2
    heard = heard_part(audio)
    np.testing.assert_array_equal(heard[0], heard[1])          # mono: both sides alike
    at = align(heard, mono[None, :])
    n = min(heard.shape[1], mono.shape[0] - at)
    expected = mono[at:at + n]
    got = heard[0, :n]
    plain = np.abs(got - expected) < 1e-6
    dimmed = np.abs(got - expected * 0.1) < 1e-6
    change = np.flatnonzero(~plain)[0]
    assert plain[:change].all() and change > SR // 2
    settled = change + 512 + 1                        # the monitor ramps over one block
    assert dimmed[settled:].all() and n - settled > SR // 2


def test_a_5_1_mix_plays_on_stereo_speakers_folded_down(jack_server, project, tmp_path):
    """A 5.1 project played through the JACK server: what arrives on the two ports is
    its BS.775 fold, a tone on the centre on both sides at -3 dB and one on the left
    surround on the left alone at -3 dB (levels read from the capture by fitting each
    tone, within 0.1 dB)."""
    bed = np.zeros((6, 6 * SR))
    bed[2] = sine(440.0, 6.0, -12.0)[0]                       # C
    bed[4] = sine(700.0, 6.0, -12.0)[0]                       # Ls
    project.stem("bed", bed)
    project.output(src="bed")
    from mixgraph import save

    save(project.graph, project.folder / "song.mgraph")
    audio, _, events = run_player(jack_server, "plain", project.folder / "song.mgraph",
                                  tmp_path)
    kept_up(events)
    heard = heard_part(audio)[:, SR // 4:]                    # past the fade in
    assert heard.shape[1] > SR
    t = np.arange(heard.shape[1]) / SR

    freqs = (440.0, 700.0)
    basis = np.vstack([f(2 * np.pi * hz * t) for hz in freqs for f in (np.sin, np.cos)]).T

    def level(side: int, freq: float) -> float:              # both tones fitted at once
        coef, *_ = np.linalg.lstsq(basis, heard[side], rcond=None)
        k = 2 * freqs.index(freq)
        return db(float(np.hypot(coef[k], coef[k + 1])))

    assert level(0, 440.0) == pytest.approx(-15.0, abs=0.1)
    assert level(1, 440.0) == pytest.approx(-15.0, abs=0.1)
    assert level(0, 700.0) == pytest.approx(-15.0, abs=0.1)
    assert level(1, 700.0) < -80.0


def test_mixgraph_play_reports_what_it_played(jack_server, tmp_path):
    env = jack_server
    demo = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "mixgraph", "demo", str(demo), "--json"],
                   env=env, check=True, capture_output=True, timeout=300)
    done = subprocess.run([sys.executable, "-m", "mixgraph", "play",
                           str(demo / "demo.mgraph"), "--from", "1", "--to", "3",
                           "--listen", "snare_ch.out", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    played = json.loads(done.stdout)
    assert played["played_s"] == pytest.approx(2.0, abs=0.02)
    assert played["late"] == 0 and played["slow_callbacks"] == 0
    assert played["buffer_frames"] == 512
    assert played["device"] == "system" and played["listen"] == "snare_ch.out"
    assert 0.0 < played["cpu_load"] < 1.0
    assert played["integrated_lufs"] is not None

