"""Playback through a real audio server: a JACK server with its dummy driver (no sound
card), started here, mixgraph playing into it through sounddevice and PortAudio, and
a JACK client recording what arrives (tests/jack_player.py).  What was heard is held
against the render and closed forms: no underrun, a fader move heard in time and
without a click, a link added heard without a gap at the same song position, the
monitor's mono and dim exact; and ``mixgraph play`` as a user runs it.

The capture is compared sample for sample, but the JACK server on a busy two-core VM
misses periods (an xrun), and then what our capture client keeps can lose a period,
keep one twice, or read its two ports from two periods (measured; never the engine's
doing, whose ring and callback see nothing of it).  So the comparison
(jack_player.compare) realigns by whole periods only at a period the server
reported an xrun near, and holds every other sample to the render; see
test_the_comparison_catches_what_the_engine_gets_wrong_and_excuses_only_the_server.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mixgraph import load, render
from mixgraph.core.live import LiveEngine, block_for

from conftest import SR, db, sine

from jack_player import Heard, compare

HERE = Path(__file__).parent
# what the device adds after the engine's ring: PortAudio's buffer and JACK's period
PERIOD = 256


@pytest.fixture(scope="module")
def jack_server():
    """A JACK server of our own (dummy driver, 48 kHz, 256-frame periods); the
    environment that makes PortAudio and JACK clients use it."""
    if shutil.which("jackd") is None:
        pytest.skip("no jackd (.ci/run installs jackd2 and PortAudio)")
    pytest.importorskip("jack")
    from jack_player import start_server, stop_server

    try:
        server, env = start_server(f"mixgraph-test-{os.getpid()}", SR, PERIOD)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield env
    stop_server(server)


def run_player(env, scenario: str, project: Path, tmp_path: Path) -> Heard:
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
    heard = Heard.load(out)
    assert heard.events["error"] is None
    return heard


def kept_up(events: dict) -> None:
    """The engine kept the device fed: the ring never ran empty, and no callback of
    ours took half its buffer's time (which could make the server miss a period).
    A period the JACK server missed on its own, on a busy two-core virtual machine,
    is no client's doing; each test's capture shows whether a sample was lost."""
    assert events["late"] == 0, events
    assert events["slow_callbacks"] == 0, events


def heard_span(audio: np.ndarray) -> tuple[int, int]:
    """The capture from the first sound on both ports to the last (PortAudio is linked
    a little after it starts, a port at a time: on a busy machine the second was
    measured linked four periods after the first; and stopped before the capture
    is)."""
    loud = [np.flatnonzero(np.abs(side) > 1e-4) for side in audio]
    if not all(side.size for side in loud):
        return (0, 0)
    return int(max(side[0] for side in loud)), int(max(side[-1] for side in loud)) + 1


def clicks(x: np.ndarray) -> float:
    """The largest second difference of ``x`` (a sine's is A (2 pi f / fs)^2: a click
    is far above it)."""
    return float(np.abs(np.diff(x, 2)).max())


def align(heard: np.ndarray, expected: np.ndarray, span: int = 4800,
          tol: float | None = None) -> int:
    """Where in ``expected`` the capture's first ``span`` samples are (by correlation).
    With ``tol``: the first place (in ``expected``) among the best few, and among
    those that fit alike (a steady tone repeats), where the capture's first period is
    ``expected``'s within ``tol``, sample for sample (the correlation alone, of a
    song whose start comes again louder, or over a period the server lost, can
    prefer another)."""
    a = heard[0, :span]
    b = expected[0]
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(b, n) * np.conj(np.fft.rfft(a, n)), n)[:len(b) - span]
    best = corr.max()
    alike = np.flatnonzero(corr >= best - 1e-6 * abs(best))
    if tol is None:
        return int(alike[0])
    first = heard[:, :PERIOD]
    for at in np.union1d(alike, np.argsort(corr)[-64:]):
        if np.abs(first - expected[:, at:at + first.shape[1]]).max() <= tol:
            return int(at)
    return int(alike[0])


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
    sample of it in its place (a dropout or a slip in time would not be, but where
    the server's xrun shifted the capture by whole periods), and the loop goes back
    to the start."""
    import soundfile as sf

    from mixgraph.workflows.demo import write_demo

    graph = write_demo(tmp_path / "demo")
    heard = run_player(jack_server, "demo", tmp_path / "demo" / "demo.mgraph", tmp_path)
    events = heard.events
    kept_up(events)
    assert events["played_s"] >= 10.0
    render(graph)
    out = graph.resolve_path(graph.nodes["master_out"].params["path"])
    expected = sf.read(str(out), dtype="float64", always_2d=True)[0].T
    song = expected.shape[1]
    lo, hi = heard_span(heard.audio)
    assert hi - lo >= 9.5 * SR
    # up to the loop (but its 5 ms fade out): every sample as rendered; the file holds
    # dithered 16-bit samples, so the difference is under 2 LSB
    lsb2 = 10 ** (-84 / 20)
    at = align(heard.audio[:, lo:hi], expected, tol=lsb2)
    fade = int(0.01 * SR)
    first = compare(heard, [expected], at, lo=lo, hi=hi, tol=lsb2,
                    until=song - fade, what="the demo's render")
    first.check()
    assert first.end < hi - SR                                    # it looped, once
    # over the loop too, every sample in its place: the whole capture is, bit for bit,
    # what the live engine renders block by block with nothing but a loop to play
    # (no device, no server); and that goes back to the song's start at the loop
    # (where the tails of the song's end go on over its start, as in any DAW's
    # loop): each quarter second of it where it belongs, the song again
    engine = LiveEngine(load(tmp_path / "demo" / "demo.mgraph"), block_size=block_for(512))
    engine.loop = (0.0, engine.song_s)
    loop = int(round(engine.song_s * SR))
    blocks = int((events["played_s"] + 1.0) * SR) // engine.block_size
    looped = np.concatenate([engine.render(engine.block_size) for _ in range(blocks)],
                            axis=1).astype(np.float64)
    engine.close()
    whole = compare(heard, [looped], align(heard.audio[:, lo:hi], looped, tol=0.0), lo=lo,
                    hi=hi, tol=0.0, what="the engine's loop rendered without a device")
    whole.check()
    assert whole.end == hi
    print(f"\ndemo: {events['jack_xruns']} server xruns; up to the loop: {first.summary()}; "
          f"all of it: {whole.summary()}")
    quarter = SR // 4
    for k in range(loop + quarter, looped.shape[1] - quarter, quarter):
        assert align(looped[:, k:k + quarter], expected, span=quarter) == k - loop


def test_a_fader_move_arrives_in_time_and_without_a_click(jack_server, project, tmp_path):
    """Before the move the capture is the render, after it the render with the fader
    at -12 dB, sample for sample; the glide between (10 ms) has no click, and is
    heard within the promise."""
    path = sine_project(project)
    heard = run_player(jack_server, "fader", path, tmp_path)
    events = heard.events
    kept_up(events)
    from jack_player import edit_heard_after, envelope

    before = 10 ** (-12 / 20) * np.sqrt(0.5)            # -12 dBFS, centre-panned
    after = before * 10 ** (-12 / 20)
    heard_after = edit_heard_after(heard.audio, heard.frames, events, before, after)
    promised = 0.050 + events["buffer_frames"] / SR + PERIOD / SR
    assert heard_after <= promised, f"heard {heard_after * 1000:.1f} ms after the edit"
    compared, lo, hi, _ = heard_as_before_then_after(
        heard, project, lambda g: g.set("a_ch", "gain_db", -12.0),
        "the render before and after the move")
    ((glide_start, glide_end),) = compared.check(transitions=1)
    print(f"\nfader: {events['jack_xruns']} server xruns; {compared.summary()}; glide "
          f"{glide_end - glide_start} samples")
    assert glide_end - glide_start <= 0.010 * SR + 1      # the promised 10 ms glide
    assert sum(s.stop - s.start for s in compared.segments if s.ref == 1) > SR // 2
    # a sine's largest second difference is A (2 pi f / fs)^2: a click is far above it
    bound = before * (2 * np.pi * 440 / SR) ** 2
    assert clicks(heard.audio[0, glide_start - 2:glide_end + 2]) < 3 * bound
    # and the level after the glide is the new one
    x = heard.audio[0, lo:hi]
    peaks, _ = envelope(x, np.arange(len(x)), 440.0, SR)
    assert db(peaks[-20:].max() / before) == pytest.approx(-12.0, abs=0.1)


def heard_as_before_then_after(heard, project, edit, what: str):
    """The capture compared with the project's render before and after ``edit`` (made
    on a copy of its graph while it played), aligned on the render before; returns the
    comparison, the span of the capture that holds sound and the render before."""
    g = project.graph
    render(g)
    before = project.read()
    edited = g.copy()
    edit(edited)
    render(edited)
    after = project.read()
    lo, hi = heard_span(heard.audio)
    at = align(heard.audio[:, lo:hi], before, tol=1e-6)
    return compare(heard, [before, after], at, lo=lo, hi=hi, what=what), lo, hi, before


def test_a_link_added_while_playing_is_heard_without_a_gap_at_the_same_position(
        jack_server, project, tmp_path):
    path = sine_project(project, second=True)
    heard = run_player(jack_server, "link", path, tmp_path)
    events = heard.events
    kept_up(events)
    assert events["problem"] is None
    (link,) = events["actions"]
    # the song position is kept: before the swap the capture is the old graph, after
    # it the new one, at the very song time the old one had reached
    compared, _, _, before = heard_as_before_then_after(
        heard, project, lambda g: g.connect("b", "mix"),
        "the renders of the old and the new graph")
    ((swap_start, swap_end),) = compared.check(transitions=1)
    print(f"\nlink: {events['jack_xruns']} server xruns; {compared.summary()}; crossfade "
          f"{swap_end - swap_start} samples")
    assert (swap_end - swap_start) / SR <= 0.020 + 1e-3      # the crossfade, at most
    assert sum(s.stop - s.start for s in compared.segments
               if s.ref == 1) / SR > 0.5                     # and the new graph goes on
    # no gap: through the crossfade, every cycle of the tone both graphs play keeps
    # most of its level (the peak over each 440 Hz period, at every sample)
    from jack_player import envelope

    quieter = 10 ** (-12 / 20) * np.sqrt(0.5)            # the old graph's tone alone
    fade = heard.audio[0, swap_start - 110:swap_end]
    peaks, _ = envelope(fade, np.arange(fade.size), 440.0, SR, hop=1)
    assert peaks.min() > 0.9 * quieter, peaks.min() / quieter
    assert clicks(heard.audio[0, swap_start - 2:swap_end + 2]) < 3 * (
        10 ** (-12 / 20) * np.sqrt(0.5) * (2 * np.pi * 440 / SR) ** 2 +
        10 ** (-12 / 20) * (2 * np.pi * 1000 / SR) ** 2)
    (old,) = [s for s in compared.segments if s.stop == swap_start]
    assert link["position_s"] * SR <= swap_start + old.offset + SR * 0.1


def test_the_monitors_mono_and_dim_are_exact(jack_server, project, tmp_path):
    path = sine_project(project, stereo=True)
    heard = run_player(jack_server, "monitor", path, tmp_path)
    events = heard.events
    kept_up(events)
    render(project.graph)
    stereo = project.read()
    mono = (stereo[0] + stereo[1]) / 2
    both = np.vstack([mono, mono])                                # mono: both sides alike
    lo, hi = heard_span(heard.audio)
    at = align(heard.audio[:, lo:hi], both, tol=1e-6)
    compared = compare(heard, [both, both * 0.1], at, lo=lo, hi=hi,
                       what="the render in mono, then dimmed")
    ((change, settled),) = compared.check(transitions=1)
    print(f"\nmonitor: {events['jack_xruns']} server xruns; {compared.summary()}; ramp "
          f"{settled - change} samples")
    for a, b in [(s.start, s.stop) for s in compared.segments] + [(change, settled)]:
        np.testing.assert_array_equal(heard.audio[0, a:b], heard.audio[1, a:b])
    assert change - lo > SR // 2
    assert settled - change <= 512 + 1               # the monitor ramps over one block
    assert compared.end - settled > SR // 2


def test_a_5_1_mix_plays_on_stereo_speakers_folded_down(jack_server, project, tmp_path):
    """A 5.1 project played through the JACK server: what arrives on the two ports is
    its BS.775 fold, a tone on the centre on both sides at -3 dB and one on the left
    surround on the left alone at -3 dB (levels read from the capture by fitting both
    tones to each period the server delivered, within 0.1 dB: a period is whole
    even when the server's xrun lost the one before it)."""
    bed = np.zeros((6, 6 * SR))
    bed[2] = sine(440.0, 6.0, -12.0)[0]                       # C
    bed[4] = sine(700.0, 6.0, -12.0)[0]                       # Ls
    project.stem("bed", bed)
    project.output(src="bed")
    from mixgraph import save

    save(project.graph, project.folder / "song.mgraph")
    heard = run_player(jack_server, "plain", project.folder / "song.mgraph", tmp_path)
    kept_up(heard.events)
    lo, hi = heard_span(heard.audio)
    lo += SR // 4                                             # past the fade in
    assert hi - lo > SR
    freqs = (440.0, 700.0)
    levels, worst = [], 0.0
    periods = [(a, b) for a, b in zip(heard.starts[:-1], heard.starts[1:])
               if a >= lo and b <= hi]
    assert len(periods) * PERIOD > SR                       # over a second of periods
    for a, b in periods:                                      # both tones fitted at once
        t = np.arange(a, b) / SR
        basis = np.vstack([f(2 * np.pi * hz * t) for hz in freqs for f in (np.sin, np.cos)]).T
        coef, *_ = np.linalg.lstsq(basis, heard.audio[:, a:b].T, rcond=None)
        worst = max(worst, float(np.abs(basis @ coef - heard.audio[:, a:b].T).max()))
        levels.append([[np.hypot(coef[k, side], coef[k + 1, side]) for k in (0, 2)]
                       for side in (0, 1)])
    print(f"\n5.1: {heard.events['jack_xruns']} server xruns, {len(periods)} periods fitted, "
          f"largest residual {worst:.1e}")
    assert worst < 1e-5, "a period that is not the two steady tones"
    levels = 20 * np.log10(np.maximum(np.array(levels), 1e-12))   # period, side, tone
    assert levels[:, 0, 0] == pytest.approx(-15.0, abs=0.1)   # C on the left
    assert levels[:, 1, 0] == pytest.approx(-15.0, abs=0.1)   # and on the right
    assert levels[:, 0, 1] == pytest.approx(-15.0, abs=0.1)   # Ls on the left
    assert levels[:, 1, 1].max() < -80.0                      # and not on the right


def test_the_comparison_catches_what_the_engine_gets_wrong_and_excuses_only_the_server():
    """jack_player.compare on made-up captures of a noise render (no JACK here): the
    server's doings near an xrun it reported (a period lost, one kept twice, the two
    ports read from two periods) pass, realigned; the same with no xrun near, two
    periods swapped, one sample changed (near an xrun or not), and a capture mostly
    disturbed fail, naming the capture time."""
    rng = np.random.default_rng(5)
    ref = 0.1 * rng.standard_normal((2, 48 * PERIOD))
    at, n = 3 * PERIOD, 40                                    # the capture: 40 periods

    def judged(audio, xruns=(), transitions=0, refs=(ref,)):
        periods = audio.shape[1] // PERIOD
        block_us = np.arange(periods) * 5333                  # a callback a period
        heard = Heard(audio, np.arange(audio.shape[1]), {}, block_sizes=[PERIOD] * periods,
                      block_us=block_us, xrun_us=[block_us[p] + 2000 for p in xruns], rate=SR)
        compared = compare(heard, refs, at, lo=0, hi=audio.shape[1])
        compared.check(transitions)
        return compared

    def periods_of_ref(*which):                               # the render's periods, in order
        return np.concatenate([ref[:, at + p * PERIOD:at + (p + 1) * PERIOD] for p in which],
                              axis=1)

    clean = periods_of_ref(*range(n))
    assert judged(clean).covered == 1.0
    # the server's: period 10 lost; period 11 kept twice; the ports of 20 read from 20
    # and 21 (each with an xrun reported): passes, realigned
    lost = periods_of_ref(*range(10), *range(11, n + 1))
    assert judged(lost, xruns=[10]).realignments() == [(10 * PERIOD, PERIOD)]
    twice = periods_of_ref(*range(12), 11, *range(12, n - 1))
    assert judged(twice, xruns=[12]).realignments() == [(12 * PERIOD, -PERIOD)]
    torn = clean.copy()
    torn[1, 20 * PERIOD:21 * PERIOD] = clean[1, 21 * PERIOD:22 * PERIOD]
    assert judged(torn, xruns=[20]).torn == {20}
    # the same with no xrun reported: the engine's, and said when
    with pytest.raises(AssertionError, match=r"at 0\.053 s .* no server xrun near"):
        judged(lost)
    with pytest.raises(AssertionError, match=r"at 0\.107 s .* no server xrun near"):
        judged(torn)
    # two periods of the render swapped: no shift the server makes explains it, even
    # with an xrun reported at each
    swapped = periods_of_ref(*range(15), 16, 15, *range(17, n))
    with pytest.raises(AssertionError, match=r"at 0\.085 s .* no shift of whole periods"):
        judged(swapped, xruns=[15, 16])
    with pytest.raises(AssertionError, match=r"at 0\.080 s .* no server xrun near"):
        judged(swapped)
    # one sample changed in the middle of a segment, by 1e-5: found, xrun or not
    changed = clean.copy()
    changed[0, 25 * PERIOD + 100] += 1e-5
    with pytest.raises(AssertionError, match=r"at 0\.135 s to 0\.135 s .* no server xrun"):
        judged(changed)
    with pytest.raises(AssertionError, match=r"at 0\.135 s .* no shift of whole periods"):
        judged(changed, xruns=[25])
    # a capture the server disturbed in a fifth of its periods: too little of it exact
    mostly = clean.copy()
    for p in range(2, n, 5):
        mostly[1, p * PERIOD:(p + 1) * PERIOD] = clean[1, (p + 1) * PERIOD:(p + 2) * PERIOD]
    with pytest.raises(AssertionError, match=r"only 80\.0% of the capture matches"):
        judged(mostly, xruns=range(2, n, 5))
    # a change the test makes (to a second reference, through a 100-sample ramp) is
    # found where it is; the same change and a slip at once is not taken for one
    ramped = clean.copy()
    ramped[:, 20 * PERIOD + 100:] *= 0.5
    ramped[:, 20 * PERIOD:20 * PERIOD + 100] *= np.linspace(1.0, 0.5, 102)[1:-1]
    assert judged(ramped, refs=[ref, 0.5 * ref], transitions=1).gaps()[0][:2] == (
        20 * PERIOD, 20 * PERIOD + 100)
    ramped_lost = np.concatenate([ramped[:, :21 * PERIOD], ramped[:, 22 * PERIOD:]], axis=1)
    with pytest.raises(AssertionError, match=r"at 0\.107 s .* shifts by 256 samples at once"):
        judged(ramped_lost, xruns=[21], refs=[ref, 0.5 * ref], transitions=1)


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

