"""``mixgraph demo``: synthesised stems and a mix project that uses them.

Four bars at 120 bpm in A minor (Am, F, C, G): kick, snare, hats, bass, a stereo
keys pad and a lead line, written as 24-bit WAV stems.  The project routes the
drums through a drum group, everything to a mix bus, and writes the mix and the
drum group as a stem; ``surround.mgraph`` mixes the same stems in 5.1, with a
stereo fold-down.  The stems are generated with plain numpy from a fixed seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mixgraph.core.fileformat import save
from mixgraph.core.model import Graph

SR = 48000
BPM = 120.0
BARS = 4
BEAT = 60.0 / BPM
CHORDS = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]   # Am F C G (MIDI)
LEAD = [(0, 76, 1.0), (1, 74, 0.5), (1.5, 72, 0.5), (2, 71, 1.0), (3, 72, 1.0),
        (4, 69, 1.5), (5.5, 72, 0.5), (6, 74, 1.0), (7, 72, 1.0),
        (8, 72, 1.0), (9, 71, 0.5), (9.5, 69, 0.5), (10, 67, 2.0),
        (12, 71, 1.0), (13, 74, 1.0), (14, 79, 1.5), (15.5, 78, 0.5)]


def _hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def _env(n: int, attack_s: float, decay_s: float) -> np.ndarray:
    t = np.arange(n) / SR
    return np.minimum(1.0, t / max(attack_s, 1e-4)) * np.exp(-t / decay_s)


def _place(track: np.ndarray, when_s: float, sound: np.ndarray) -> None:
    start = int(round(when_s * SR))
    end = min(track.shape[-1], start + sound.shape[-1])
    track[..., start:end] += sound[..., :end - start]


def _normalise(x: np.ndarray, peak_dbfs: float) -> np.ndarray:
    peak = np.max(np.abs(x))
    return x * (10 ** (peak_dbfs / 20) / peak) if peak > 0 else x


def synthesise(seconds: float = BARS * 4 * BEAT, seed: int = 7) -> dict[str, np.ndarray]:
    """The demo stems as ``(channels, frames)`` arrays at 48 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    beats = int(seconds / BEAT)
    stems = {name: np.zeros(n) for name in ("kick", "snare", "hats", "bass", "lead")}
    stems["keys"] = np.zeros((2, n))

    t = np.arange(int(0.45 * SR)) / SR
    sweep = 2 * np.pi * np.cumsum(45.0 + 75.0 * np.exp(-t / 0.03)) / SR
    kick = np.sin(sweep) * np.exp(-t / 0.16)
    t = np.arange(int(0.25 * SR)) / SR
    snare = (0.6 * np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.05)
             + rng.standard_normal(t.size) * np.exp(-t / 0.07))
    hat_noise = np.diff(rng.standard_normal(int(0.06 * SR) + 1))
    hat = hat_noise * np.exp(-np.arange(hat_noise.size) / SR / 0.015)
    for b in range(beats):
        when = b * BEAT
        if b % 4 in (0, 2) or (b % 8 == 7):
            _place(stems["kick"], when, kick)
        if b % 4 in (1, 3):
            _place(stems["snare"], when, snare)
        for half in (0.0, 0.5):
            _place(stems["hats"], when + half * BEAT, hat * (1.0 if half == 0.0 else 0.6))

    bar_s = 4 * BEAT
    for bar in range(int(seconds / bar_s)):
        root, third, fifth = CHORDS[bar % 4]
        for eighth in range(8):
            length = int(0.45 * BEAT * SR)
            tt = np.arange(length) / SR
            f = _hz(root - 24 + (12 if eighth in (3, 7) else 0))
            tone = sum(np.sin(2 * np.pi * k * f * tt) / k for k in range(1, 6))
            _place(stems["bass"], bar * bar_s + eighth * BEAT / 2, tone * _env(length, 0.004, 0.18))
        length = int(bar_s * SR)
        tt = np.arange(length) / SR
        pad = np.zeros((2, length))
        for note in (root, third, fifth, root + 12):
            for side, detune in ((0, -0.07), (1, 0.07)):
                pad[side] += np.sin(2 * np.pi * _hz(note + detune) * tt + side)
        fade = np.minimum(1.0, np.minimum(tt / 0.3, (bar_s - tt) / 0.3))
        _place(stems["keys"], bar * bar_s, pad * fade)

    for beat, note, dur in LEAD:
        if beat * BEAT >= seconds:
            continue
        length = int(dur * BEAT * SR)
        tt = np.arange(length) / SR
        vib = 1.0 + 0.004 * np.sin(2 * np.pi * 5.5 * tt) * np.minimum(1.0, tt / 0.3)
        phase = 2 * np.pi * np.cumsum(_hz(note) * vib) / SR
        voice = np.sin(phase) + 0.35 * np.sin(2 * phase) + 0.15 * np.sin(3 * phase)
        _place(stems["lead"], beat * BEAT, voice * _env(length, 0.03, 0.9)
               * np.minimum(1.0, (length - np.arange(length)) / (0.02 * SR)))

    peaks = {"kick": -3.0, "snare": -4.0, "hats": -9.0, "bass": -5.0, "keys": -8.0,
             "lead": -6.0}
    return {k: np.atleast_2d(_normalise(v, peaks[k])) for k, v in stems.items()}


# per stem: fader, pan, EQ bands, compressor settings (None: no compressor)
STRIPS = {
    "kick": (-2.0, 0.0, [{"type": "highpass", "freq_hz": 30, "slope_db_oct": 24},
                         {"type": "bell", "freq_hz": 60, "gain_db": 2.5, "q": 1.2},
                         {"type": "bell", "freq_hz": 400, "gain_db": -4.0, "q": 1.5}],
             {"threshold_db": -14.0, "ratio": 4.0, "attack_ms": 8.0, "release_ms": 80.0}),
    "snare": (-4.0, 0.05, [{"type": "highpass", "freq_hz": 90, "slope_db_oct": 12},
                           {"type": "bell", "freq_hz": 200, "gain_db": 2.0, "q": 1.0},
                           {"type": "high_shelf", "freq_hz": 6000, "gain_db": 3.0}],
              {"threshold_db": -16.0, "ratio": 3.0, "attack_ms": 5.0, "release_ms": 120.0}),
    "hats": (-10.0, 0.35, [{"type": "highpass", "freq_hz": 400, "slope_db_oct": 24}], None),
    "bass": (-4.0, 0.0, [{"type": "highpass", "freq_hz": 35, "slope_db_oct": 24},
                         {"type": "bell", "freq_hz": 250, "gain_db": -3.0, "q": 1.0}],
             {"threshold_db": -18.0, "ratio": 4.0, "attack_ms": 15.0, "release_ms": 150.0,
              "detector": "rms"}),
    "keys": (-9.0, 0.0, [{"type": "highpass", "freq_hz": 150, "slope_db_oct": 12},
                         {"type": "bell", "freq_hz": 800, "gain_db": -2.0, "q": 0.8}], None),
    "lead": (-5.0, -0.1, [{"type": "highpass", "freq_hz": 120, "slope_db_oct": 12},
                          {"type": "bell", "freq_hz": 3000, "gain_db": 2.0, "q": 0.9}],
             {"threshold_db": -20.0, "ratio": 3.0, "attack_ms": 10.0, "release_ms": 100.0}),
}


def build_project(folder: Path) -> Graph:
    """The demo mix as a graph whose stems live in ``folder/stems``.

    Each stem runs through an EQ (and most through a compressor) into its channel;
    kick, snare and hats feed a drum group that is glued by a bus compressor; the
    lead sends pre-fader to a plate-like reverb and a tempo delay, returned on an
    effects bus; everything meets on the mix bus.  Outputs: the unmastered mix (what
    goes to a mastering engineer), the drum group as a stem, and the master: EQ,
    multiband compression, a fade, -14 LUFS under -1 dBTP, 16-bit dither.
    """
    g = Graph(sample_rate=SR, base_dir=folder)
    g.meta["description"] = ("mixgraph demo: EQ and compression on channels, a compressed "
                             "drum group, reverb and delay sends, a mix bus")
    for name, (gain, pan, bands, comp) in STRIPS.items():
        chain = [g.add("stem", id=name, path=f"stems/{name}.wav")]
        chain.append(g.add("eq", id=f"{name}_eq", bands=bands))
        if comp:
            chain.append(g.add("compressor", id=f"{name}_comp", **comp))
        chain.append(g.add("channel", id=f"{name}_ch", gain_db=gain, pan=pan))
        for a, b in zip(chain, chain[1:]):
            g.connect(a, b)
    g.add("group", id="drums", gain_db=-1.0, members=["kick_ch", "snare_ch", "hats_ch"])
    g.add("compressor", id="drum_glue", threshold_db=-12.0, ratio=2.0, knee_db=6.0,
          attack_ms=20.0, release_ms=150.0, mix=0.7)
    for name in ("kick", "snare", "hats"):
        g.connect(f"{name}_ch", "drums")
    g.connect("drums", "drum_glue")
    g.add("send", id="lead_verb_send", level_db=-8.0)
    g.add("reverb", id="plate", decay_s=1.6, predelay_ms=25.0, damping=0.5, size=0.8)
    g.add("send", id="lead_delay_send", level_db=-14.0)
    g.add("delay", id="echo", time_ms=375.0, feedback=0.3, lowpass_hz=4000.0)
    g.add("bus", id="fx", gain_db=-2.0)
    g.connect("lead_ch.pre", "lead_verb_send")
    g.connect("lead_verb_send", "plate")
    g.connect("lead_ch.pre", "lead_delay_send")
    g.connect("lead_delay_send", "echo")
    g.connect("plate", "fx")
    g.connect("echo", "fx")
    g.add("bus", id="mix", gain_db=-2.5)          # peaks under -6 dBFS: room to master
    g.connect("drum_glue", "mix")
    g.connect("fx", "mix")
    for name in ("bass", "keys", "lead"):
        g.connect(f"{name}_ch", "mix")
    g.add("output", id="mix_out", path="out/mix.wav", subtype="PCM_24")
    g.add("output", id="drums_out", path="out/drums.wav", subtype="PCM_24")
    g.connect("mix", "mix_out")
    g.connect("drums", "drums_out")
    # the master chain: tone, gentle multiband glue, a fade, loudness for streaming
    # (-14 LUFS under -1 dBTP), 16-bit noise-shaped dither
    g.add("eq", id="master_eq", bands=[{"type": "low_shelf", "freq_hz": 90, "gain_db": 1.0},
                                       {"type": "high_shelf", "freq_hz": 9000,
                                        "gain_db": 1.5}])
    g.add("multiband_compressor", id="master_glue", crossovers_hz=[180.0, 3000.0],
          bands=[{"threshold_db": -20.0, "ratio": 2.0}, {"threshold_db": -22.0, "ratio": 1.7},
                 {"threshold_db": -24.0, "ratio": 1.5}])
    g.add("fade", id="master_fade", in_s=0.05, out_s=1.5)
    g.add("loudness", id="master_loudness", target_lufs=-14.0, ceiling_dbtp=-1.0)
    g.add("dither", id="master_dither", bit_depth=16, shape="noise_shaped")
    g.add("output", id="master_out", path="out/master.wav", subtype="PCM_16")
    for a, b in (("mix", "master_eq"), ("master_eq", "master_glue"),
                 ("master_glue", "master_fade"), ("master_fade", "master_loudness"),
                 ("master_loudness", "master_dither"), ("master_dither", "master_out")):
        g.connect(a, b)
    return g


#: where each strip sits in the 5.1 demo: azimuth (degrees, positive to the left),
#: spread, LFE send (dB; -120 off)
SURROUND_STRIPS = {"kick": (0.0, 0.0, -8.0), "snare": (-2.0, 0.0, -120.0),
                   "hats": (-15.0, 0.1, -120.0), "bass": (0.0, 0.1, -8.0),
                   "keys": (0.0, 0.3, -120.0), "lead": (3.0, 0.0, -120.0)}


def build_surround_project(folder: Path) -> Graph:
    """The demo mixed in 5.1 from the same stems: each strip panned by the surround
    panner (kick and bass also sent to the LFE, the keys spread wide), the plate
    reverb returned around the room (azimuth 180, 140 degrees wide), the master chain
    at 5.1 to -16 LUFS under -1 dBTP; outputs: the 5.1 master (24-bit WAV with its
    channel mask) and its stereo fold-down (ITU-R BS.775 Lo/Ro), each with its
    loudness in the report."""
    g = build_project(folder)
    g.meta["description"] = ("mixgraph demo in 5.1: the demo's stems panned around the "
                             "room, a surround reverb return, a 5.1 master and its stereo "
                             "fold-down")
    for name, (azimuth, spread, lfe) in SURROUND_STRIPS.items():
        for param, value in (("output", "5.1"), ("azimuth_deg", azimuth),
                             ("spread", spread), ("lfe_db", lfe)):
            g.set(f"{name}_ch", param, value)
    g.set("keys_ch", "width_deg", 90.0)
    g.disconnect("plate", "fx")
    g.add("surround_pan", id="plate_pan", layout="5.1", azimuth_deg=180.0, width_deg=140.0,
          spread=0.2)
    g.connect("plate", "plate_pan")
    g.connect("plate_pan", "fx")
    for node in ("mix_out", "drums_out", "master_dither", "master_out"):
        g.remove(node)
    g.set("master_loudness", "target_lufs", -16.0)
    g.add("output", id="master_5_1", path="out/master_5_1.wav", subtype="PCM_24")
    g.connect("master_loudness", "master_5_1")
    g.add("downmix", id="fold", to="stereo")
    g.add("output", id="fold_stereo", path="out/fold_stereo.wav", subtype="PCM_24")
    g.connect("master_loudness", "fold")
    g.connect("fold", "fold_stereo")
    return g


def write_demo(folder: Path) -> Graph:
    """Write stems, ``demo.mgraph`` and ``surround.mgraph`` into ``folder``; returns
    the saved demo graph."""
    import soundfile as sf

    folder = Path(folder)
    (folder / "stems").mkdir(parents=True, exist_ok=True)
    for name, audio in synthesise().items():
        sf.write(str(folder / "stems" / f"{name}.wav"), audio.T, SR, subtype="PCM_24")
    graph = build_project(folder.resolve())
    save(graph, folder / "demo.mgraph")
    save(build_surround_project(folder.resolve()), folder / "surround.mgraph")
    return graph
