"""Realistic DAW stem exports, built from generated material, with their ground truth.

The session makers write a folder the way Pro Tools, Logic, Reaper and Ableton users
hand one over (track-numbered names with spaces and parentheses, close and room mics,
DI and amp tracks, doubles, L/R pairs, click, guide and count-in tracks, a region stem
with a BWF time reference, a reference mix and an already mastered print in a
subfolder, mixed rates, depths and containers, and the clutter a real folder carries)
and return an :class:`Export`: the folder and, per file, an :class:`ExportFile` stating
what a careful engineer knows about it (the part, the family and qualifiers its name
says, the format, where it starts, whether it can be mixed and why not, its levels).

Everything is generated from seeded ``numpy.random.default_rng`` streams, so a maker
writes the same bytes every time; nothing here is committed audio.  The module
imports nothing from mixgraph: it is the independent side of the binding tests.

Conventions, stated once:

- Audio arrays are ``(channels, frames)`` float64, as everywhere in mixgraph.
- Integer files are quantized here (round to nearest, no dither) and handed to
  libsndfile as integers, so a file holds exactly the samples the manifest measured:
  reading one back as float64 gives ``q / 2**(bits - 1)`` exactly (``(q - 128) / 128``
  for 8-bit unsigned).
- Session time: 120 bpm, 4/4 (a bar is 2 s).  Material is a function of session time,
  so a region evaluated from 16 s continues the song where it would be.
- A time reference is in samples since midnight at the file's own rate (BWF ``bext``
  TimeReference; iXML ``TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI/LO`` with
  ``TIMESTAMP_SAMPLE_RATE``).  ``ExportFile.start_s`` is that reference in seconds
  (None without one); ``offset_s`` is where the file starts after the session start,
  which is what the binding should report (a file without a reference starts with the
  session).
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import soundfile as sf
from scipy import signal
from scipy.ndimage import minimum_filter1d, uniform_filter1d

SR = 48000
BPM = 120.0
BEAT = 60.0 / BPM
BAR = 4 * BEAT
SECONDS = 4.0


# =================================================================== the vocabulary
# One table: every term a name can say, what kind of term it is, and the spellings
# these exports use for it ("room" is a family and a qualifier, so it has two rows).
# Families say what a part is; non-parts are files a binding leaves out by rule (or,
# for mix and mastered, hands to the mastering template); qualifiers say which one of
# a family, never which family.  A number in a name ("Tom 1", "BV 2", "Host Mic 1")
# is a qualifier too, written as its digits without leading zeros; a track number in
# front of a name is not.
FAMILY, NON_PART, QUALIFIER = "family", "non-part", "qualifier"

VOCABULARY: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # families
    ("kick", FAMILY, ("Kick",)),
    ("snare", FAMILY, ("Snare",)),
    ("hats", FAMILY, ("HiHat",)),
    ("toms", FAMILY, ("Tom",)),
    ("overheads", FAMILY, ("OH",)),
    ("room", FAMILY, ("Room",)),                  # a name with no other family word
    ("percussion", FAMILY, ("Shaker", "Tamb", "Perc")),
    ("drums", FAMILY, ("Drums",)),
    ("bass", FAMILY, ("Bass", "BASS")),
    ("guitar", FAMILY, ("Gtr",)),
    ("keys", FAMILY, ("Keys", "Pad", "Piano")),
    ("strings", FAMILY, ("Strings",)),
    ("brass", FAMILY, ("Brass",)),
    ("vocals", FAMILY, ("Vox", "Vocals")),
    ("backing", FAMILY, ("BV",)),
    ("music", FAMILY, ("Music",)),
    ("fx", FAMILY, ("FX",)),
    ("host", FAMILY, ("Host",)),
    ("guest", FAMILY, ("Guest",)),
    # non-parts
    ("click", NON_PART, ("Click",)),
    ("guide", NON_PART, ("Guide",)),
    ("count_in", NON_PART, ("Count-in",)),
    ("reference", NON_PART, ("Reference",)),
    ("mix", NON_PART, ("Mix", "Premaster")),
    ("mastered", NON_PART, ("Master",)),
    # qualifiers
    ("lead", QUALIFIER, ("Lead",)),
    ("double", QUALIFIER, ("Double",)),
    ("top", QUALIFIER, ("Top",)),
    ("bottom", QUALIFIER, ("Bottom",)),
    ("in", QUALIFIER, ("In",)),
    ("out", QUALIFIER, ("Out",)),
    ("di", QUALIFIER, ("DI",)),
    ("amp", QUALIFIER, ("Amp",)),
    ("left", QUALIFIER, ("L", "Left", ".L", "_L")),
    ("right", QUALIFIER, ("R", "Right", ".R", "_R")),
    ("close", QUALIFIER, ("Close",)),
    ("room", QUALIFIER, ("Room",)),               # after another family word: "Piano Room"
    ("stereo", QUALIFIER, ("Stereo", "st")),
    ("mono", QUALIFIER, ("Mono",)),
)
FAMILIES = tuple(t for t, kind, _ in VOCABULARY if kind == FAMILY)
NON_PARTS = tuple(t for t, kind, _ in VOCABULARY if kind == NON_PART)
QUALIFIERS = tuple(t for t, kind, _ in VOCABULARY if kind == QUALIFIER)


# ======================================================================= manifest
@dataclass(frozen=True)
class ExportFile:
    """What is known about one file of an export (the ground truth).

    ``family`` and ``qualifiers`` are what the *name* says, in :data:`VOCABULARY`
    terms (None: the name has no family word, or the file is not audio); ``part`` is
    what the file *is*.  Formats use soundfile's names.  ``audio`` is False for files
    a binding must pass over silently (hidden files, macOS resource forks, notes,
    session files); every ``audio`` file must end up somewhere in a binding table.
    Levels are measured on the samples the file holds."""

    path: str                              # relative to the export's folder, "/"-separated
    part: str                              # what it is: "kick in mic", "snare bottom mic"
    family: str | None                     # a FAMILIES or NON_PARTS term
    qualifiers: tuple[str, ...] = ()       # QUALIFIERS terms and digit strings
    side: str | None = None                # "left" / "right": one file of an L/R pair
    pair: str | None = None                # the other file of that pair
    material: str | None = None            # the MATERIALS kind it was made from
    audio: bool = True
    usable: bool = True
    why: str | None = None                 # why it cannot be mixed (usable False)
    container: str | None = None           # "WAV", "FLAC", "AIFF"
    subtype: str | None = None             # "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"
    rate: int | None = None
    channels: int | None = None
    frames: int | None = None
    start_s: float | None = None           # the time reference (s since midnight); None if none
    offset_s: float = 0.0                  # where it starts after the session start
    time_chunks: tuple[str, ...] = ()      # the chunks carrying it: "bext", "iXML"
    peak_db: float | None = None           # sample peak, dBFS
    rms_db: float | None = None            # RMS over the whole file, all channels, dBFS
    lufs: float | None = None              # integrated loudness (BS.1770, pyloudnorm)
    true_peak_db: float | None = None      # 4x-oversampled peak, dBTP

    @property
    def number(self) -> int | None:
        digits = [q for q in self.qualifiers if q.isdigit()]
        return int(digits[0]) if digits else None

    @property
    def is_part(self) -> bool:
        """A part to be mixed (a family), not a click, guide, reference or print."""
        return self.family in FAMILIES

    @property
    def looks_mastered(self) -> bool:
        """True peak within 1 dB of full scale and louder than -16 LUFS (the figures the
        mastering template is asked to warn with)."""
        return (self.true_peak_db is not None and self.lufs is not None
                and self.true_peak_db > -1.0 and self.lufs > -16.0)


class Export(NamedTuple):
    """A written export: ``folder`` and ``files`` (relative path -> ground truth).
    Unpacks as ``folder, files = band_export(...)``."""

    folder: Path
    files: dict[str, ExportFile]

    def audio(self) -> dict[str, ExportFile]:
        """The files a binding must account for."""
        return {p: f for p, f in self.files.items() if f.audio}

    def usable(self) -> dict[str, ExportFile]:
        return {p: f for p, f in self.files.items() if f.audio and f.usable}

    def family(self, family: str) -> dict[str, ExportFile]:
        return {p: f for p, f in self.files.items() if f.family == family}

    def path(self, rel: str) -> Path:
        return self.folder / rel


# ======================================================================= material
def db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


def peak_db(x: np.ndarray) -> float:
    return db(float(np.max(np.abs(x)))) if np.size(x) else -math.inf


def rms_db(x: np.ndarray) -> float:
    return db(float(np.sqrt(np.mean(np.square(x))))) if np.size(x) else -math.inf


def true_peak_db(x: np.ndarray, rate: int) -> float:
    """Peak of the signal 4x oversampled (BS.1770-4 annex 2's factor for 48 kHz; 2x
    would do at 96 kHz, 4x reads the same or a hair higher)."""
    x = np.atleast_2d(x)
    if not x.size:
        return -math.inf
    up = signal.resample_poly(np.pad(x, ((0, 0), (32, 32))), 4, 1, axis=1)
    return db(float(np.max(np.abs(up))))


def loudness_lufs(x: np.ndarray, rate: int) -> float | None:
    """Integrated loudness (BS.1770-4 with gating) by pyloudnorm; None for more than
    five channels (BS.1770 weighs 5.1's channels by position, which a file's channel
    order alone does not give)."""
    import pyloudnorm

    x = np.atleast_2d(x)
    if x.shape[0] > 5:
        return None
    if x.shape[1] < int(0.4 * rate) + 1 or not np.any(x):
        return -math.inf
    meter = pyloudnorm.Meter(rate)
    with np.errstate(divide="ignore"):
        return float(meter.integrated_loudness(x.T))


# Peak (dBFS) each material is written at: close mics hot, ambience lower, as tracked.
LEVELS: dict[str, float] = {
    "kick_in": -6.0, "kick_out": -8.0, "snare_top": -6.0, "snare_bottom": -12.0,
    "hats": -16.0, "tom_1": -8.0, "floor_tom": -8.0, "oh_left": -10.0, "oh_right": -10.0,
    "room_stereo": -12.0, "room_mono": -14.0, "bass_di": -8.0, "bass_amp": -10.0,
    "synth_bass": -10.0, "gtr_left": -10.0, "gtr_right": -10.0, "lead_gtr": -8.0,
    "gtr_solo": -8.0, "keys_pad": -14.0, "piano_close": -10.0, "piano_room": -16.0,
    "lead_vox": -8.0, "vox_double": -11.0, "bv_1": -14.0, "bv_2": -14.0,
    "guide_vox": -12.0, "click": -6.0, "count_in": -6.0, "shaker": -18.0,
    "strings": -14.0, "brass": -12.0, "fx_riser": -12.0, "crowd_surround": -20.0,
    "atmos_bed": -20.0,
    "host": -6.0, "guest": -9.0, "music_bed": -12.0,
}
# The finished prints are set by loudness, not by peak:
MIX_LUFS, MIX_PEAK_DB = -20.0, -6.0          # a mix with headroom, peaks about -6 dBFS
MASTER_LUFS, MASTER_TRUE_PEAK_DB = -9.0, -0.1  # a loud, limited print
REFERENCE_LUFS = -8.0                        # somebody else's loud master

# The band of frequencies (Hz) holding at least SPECTRUM_SHARE of each material's
# energy: what "sounds like its family" means for level and spectrum checks.
SPECTRUM_SHARE = 0.7
SPECTRUM: dict[str, tuple[float, float]] = {
    "kick_in": (30, 250), "kick_out": (30, 200), "snare_top": (120, 10000),
    "snare_bottom": (150, 12000), "hats": (5000, 20000), "tom_1": (60, 300),
    "floor_tom": (50, 250), "bass_di": (30, 250), "bass_amp": (30, 400),
    "synth_bass": (30, 600), "gtr_left": (80, 2500), "gtr_right": (80, 2500),
    "lead_gtr": (250, 4000), "gtr_solo": (250, 4000), "keys_pad": (150, 1200),
    "piano_close": (100, 2000), "lead_vox": (150, 3500), "vox_double": (150, 3500),
    "bv_1": (150, 3500), "bv_2": (150, 3500), "click": (800, 1250),
    "count_in": (800, 1250), "shaker": (3500, 14000), "host": (80, 3500),
    "guest": (100, 3500),
}

# Parts of the default band: (gain dB, pan -1..1) into the reference mix.  Pairs are
# panned hard; stereo files keep their image; click, guide and count-in stay out.
MIX: dict[str, tuple[float, float]] = {
    "kick_in": (6.0, 0.0), "kick_out": (0.0, 0.0), "snare_top": (5.0, 0.0),
    "snare_bottom": (-7.0, 0.0), "hats": (2.0, 0.3), "tom_1": (-3.0, -0.3),
    "floor_tom": (-3.0, 0.4), "oh_left": (-3.0, -1.0), "oh_right": (-3.0, 1.0),
    "room_stereo": (-5.0, 0.0), "room_mono": (-12.0, 0.0), "bass_di": (1.0, 0.0),
    "bass_amp": (-1.0, 0.0), "synth_bass": (-5.0, 0.0), "gtr_left": (-1.0, -1.0),
    "gtr_right": (-1.0, 1.0), "lead_gtr": (2.0, 0.1), "gtr_solo": (0.0, 0.2),
    "keys_pad": (1.0, 0.0), "piano_close": (-3.0, -0.2), "piano_room": (-6.0, 0.0),
    "lead_vox": (5.0, 0.0), "vox_double": (-1.0, 0.0), "bv_1": (0.0, -0.5),
    "bv_2": (0.0, 0.5), "shaker": (2.0, 0.4), "strings": (-2.0, 0.0),
    "brass": (-2.0, 0.2), "fx_riser": (-6.0, 0.0),
}

# chords (Hz: the keys change every bar, piano and guitars every half bar) and the
# lines (a note a beat), in C major / A minor
CHORDS_KEYS = ((261.63, 329.63, 392.00, 523.25), (220.00, 261.63, 329.63, 440.00),
               (174.61, 220.00, 261.63, 349.23), (196.00, 246.94, 293.66, 392.00))
CHORDS_GTR = ((110.00, 164.81, 220.00), (82.41, 123.47, 164.81),
              (87.31, 130.81, 174.61), (98.00, 146.83, 196.00))
BASS_LINE = (55.00, 55.00, 55.00, 65.41, 41.20, 41.20, 49.00, 49.00,
             43.65, 43.65, 43.65, 49.00, 49.00, 49.00, 55.00, 61.74)
MELODY = (220.00, 261.63, 293.66, 329.63, 293.66, 261.63, 220.00, 196.00)
LEAD_GTR_LINE = (440.00, 523.25, 587.33, 659.26, 587.33, 523.25, 440.00, 392.00)
SOLO_LINE = (659.26, 783.99, 880.00, 783.99, 659.26, 587.33, 523.25, 587.33)
VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010),
          "o": (570, 840, 2410), "u": (300, 870, 2240)}


def _crc(name: str) -> int:
    return zlib.crc32(name.encode())


class _Music:
    """Session-time material at one rate.  Components are cached, so parts that hear
    the same source (snare top and bottom, the overheads and the room) share it."""

    def __init__(self, seconds: float, rate: int, seed: int, start_s: float = 0.0):
        self.rate, self.seed, self.start_s = rate, seed, start_s
        self.n = int(round(seconds * rate))
        self.t = start_s + np.arange(self.n) / rate
        self.t_end = start_s + seconds
        self._cache: dict[str, np.ndarray] = {}

    # ---- seeded streams: choices that belong to the performance depend on the seed
    # only; sample noise also on the rate and the start (it has to differ anyway)
    def choices(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, _crc(name)])

    def noise(self, name: str, channels: int | None = None) -> np.ndarray:
        rng = np.random.default_rng([self.seed, _crc(name), self.rate,
                                     int(round(self.start_s * 1000))])
        return rng.standard_normal(self.n if channels is None else (channels, self.n))

    def filt(self, x: np.ndarray, kind: str, freq, order: int = 4) -> np.ndarray:
        if kind == "bandpass":
            lo, hi = freq
            hi = min(hi, 0.45 * self.rate)
            sos = signal.butter(order, (lo, hi), "bandpass", fs=self.rate, output="sos")
        elif kind == "highpass" and freq >= 0.45 * self.rate:
            return np.zeros_like(x)
        elif kind == "lowpass" and freq >= 0.45 * self.rate:
            return x.copy()
        else:
            sos = signal.butter(order, freq, kind, fs=self.rate, output="sos")
        return signal.sosfilt(sos, x, axis=-1)

    def cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # ---- time helpers
    def times(self, beats: Sequence[float], cycle_beats: float = 4) -> np.ndarray:
        cycles = int(math.ceil(self.t_end / (cycle_beats * BEAT))) + 1
        return np.sort(np.array([(k * cycle_beats + b) * BEAT
                                 for k in range(cycles) for b in beats]))

    def since(self, times: np.ndarray):
        """(tau, index, on): time since the latest event at or before each sample."""
        idx = np.searchsorted(times, self.t, side="right") - 1
        on = idx >= 0
        idx = np.maximum(idx, 0)
        return np.where(on, self.t - times[idx], 0.0), idx, on

    def delayed(self, x: np.ndarray, seconds: float) -> np.ndarray:
        k = int(round(seconds * self.rate))
        return np.concatenate((np.zeros(x.shape[:-1] + (k,)), x[..., :self.n - k]), axis=-1)

    def harmonics(self, phase: np.ndarray, f0_max: float, count: int, tilt: float = 1.0,
                  weights=None) -> np.ndarray:
        """A band-limited sum of harmonics of ``phase`` (cycles): amplitude k**-tilt (or
        ``weights(k)``) for every k with k * f0_max below 0.45 * rate.  sin(k x) by
        the Chebyshev recurrence sin((k+1)x) = 2 cos(x) sin(kx) - sin((k-1)x)."""
        x = 2 * np.pi * np.mod(phase, 1.0)
        two_cos = 2 * np.cos(x)
        prev, cur = np.zeros(self.n), np.sin(x)
        out = np.zeros(self.n)
        for k in range(1, count + 1):
            if k * f0_max >= 0.45 * self.rate:
                break
            out += (k ** -tilt if weights is None else weights(k)) * cur
            prev, cur = cur, two_cos * cur - prev
        return out

    def velocities(self, name: str, count: int, spread: float = 0.06) -> np.ndarray:
        return 1.0 + spread * self.choices(name + ":vel").standard_normal(count)

    def reverb(self, x: np.ndarray, name: str, decay_s: float = 0.7,
               bright_hz: float = 6000.0) -> np.ndarray:
        length = int(1.2 * decay_s * self.rate)
        rng = np.random.default_rng([self.seed, _crc(name + ":ir"), self.rate])
        ir = rng.standard_normal(length) * np.exp(-np.arange(length) / (decay_s / 6.9 * self.rate))
        ir = self.filt(ir, "lowpass", bright_hz, order=2)
        ir /= np.sqrt(np.sum(ir ** 2))
        return signal.fftconvolve(x, ir)[: self.n]

    # ---- drums
    def kick(self, part: str) -> np.ndarray:
        return self.cached("kick:" + part, lambda: self._kick(part))

    def _kick(self, part: str) -> np.ndarray:
        times = self.times((0, 1, 2, 3))
        tau, idx, on = self.since(times)
        vel = self.velocities("kick", len(times))[idx]
        ph = 2 * np.pi * (55 * tau + 105 * 0.025 * (1 - np.exp(-tau / 0.025)))
        env = np.exp(-tau / 0.3) * (1 - np.exp(-tau / 0.0008))
        body = on * vel * env * np.sin(ph)
        beater = on * vel * np.exp(-tau / 0.004) * self.filt(
            self.noise("kick:beater"), "bandpass", (1500, 8000), order=2)
        if part == "in":
            return body + 1.2 * beater
        if part == "out":
            return self.delayed(self.filt(body + 0.15 * beater, "lowpass", 1500, 2), 0.0015)
        return body                                            # what distant mics hear

    def snare(self) -> tuple[np.ndarray, np.ndarray]:
        """(shell, wires) of the snare, as the top mic sees them."""
        def make():
            times = self.times((1, 3))
            tau, idx, on = self.since(times)
            vel = self.velocities("snare", len(times))[idx]
            ph = 2 * np.pi * (185 * tau + 60 * 0.01 * (1 - np.exp(-tau / 0.01)))
            shell = on * vel * np.exp(-tau / 0.07) * (1 - np.exp(-tau / 0.0005)) * np.sin(ph)
            wires = on * vel * np.exp(-tau / 0.14) * self.filt(
                self.noise("snare:wires"), "bandpass", (1500, 9000), order=2)
            return np.stack((shell, wires))
        shell, wires = self.cached("snare", make)
        return shell, wires

    def snare_mic(self, side: str) -> np.ndarray:
        shell, wires = self.snare()
        if side == "top":
            return shell + 0.9 * wires + 0.05 * self.kick("far")
        # the bottom mic faces the top one: the shell arrives upside down, the wires
        # are right in front of it (brighter, louder)
        return -0.6 * shell + 1.0 * self.filt(wires, "highpass", 2500, order=2)

    def hats(self) -> np.ndarray:
        def make():
            beats = tuple(b / 2 for b in range(8))
            times = self.times(beats)
            tau, idx, on = self.since(times)
            vel = (self.velocities("hats", len(times), 0.1)
                   * np.tile([1.0, 0.55], len(times) // 2 + 1)[: len(times)])[idx]
            is_open = np.isclose(np.mod(times / BEAT, 4), 3.5)[idx]
            env = np.exp(-tau / np.where(is_open, 0.22, 0.035)) * (1 - np.exp(-tau / 0.0003))
            metal = self.filt(self.filt(self.noise("hats"), "highpass", 7000, 4),
                              "lowpass", 16000, 2)
            return on * vel * env * metal
        return self.cached("hats", make)

    def tom(self, which: str) -> np.ndarray:
        return self.cached("tom:" + which, lambda: self._tom(which))

    def _tom(self, which: str) -> np.ndarray:
        beats, f_end, f_start = ((7.0, 7.25), 115.0, 140.0) if which == "1" else \
                                ((7.5, 7.75), 78.0, 95.0)
        times = self.times(beats, cycle_beats=8)                 # a fill every two bars
        tau, idx, on = self.since(times)
        vel = self.velocities("tom" + which, len(times))[idx]
        ph = 2 * np.pi * (f_end * tau + (f_start - f_end) * 0.05 * (1 - np.exp(-tau / 0.05)))
        head = on * vel * np.exp(-tau / 0.4) * (1 - np.exp(-tau / 0.0008)) * np.sin(ph)
        stick = on * vel * np.exp(-tau / 0.005) * self.filt(
            self.noise("tom:stick" + which), "bandpass", (1000, 5000), 2)
        return head + 0.3 * stick

    def crash(self, side: str) -> np.ndarray:
        times = self.times((0.0,), cycle_beats=8)
        tau, _, on = self.since(times)
        shared = self.cached("crash", lambda: self.filt(self.noise("crash"), "highpass", 4000, 2))
        own = self.filt(self.noise("crash:" + side), "highpass", 4000, 2)
        return on * np.exp(-tau / 1.0) * (1 - np.exp(-tau / 0.002)) * (0.75 * shared + 0.45 * own)

    def kit(self) -> np.ndarray:
        """The kit as a distant mic hears it (the room's source)."""
        shell, wires = self.snare()
        return (0.6 * self.kick("far") + 0.8 * shell + 0.7 * wires + 0.3 * self.hats()
                + 0.5 * self.tom("1") + 0.5 * self.tom("floor") + 0.4 * self.crash("left"))

    def overhead(self, side: str) -> np.ndarray:
        shell, wires = self.snare()
        left = side == "left"
        snare = shell + 0.8 * wires
        if not left:
            snare = self.delayed(snare, 0.0004)                 # the snare is nearer OH L
        return (0.3 * self.kick("far") + 0.6 * snare + (1.0 if left else 0.45) * self.hats()
                + (0.7 if left else 0.45) * self.tom("1")
                + (0.35 if left else 0.8) * self.tom("floor") + 1.3 * self.crash(side))

    def room(self, channels: int) -> np.ndarray:
        kit = self.delayed(self.kit(), 0.012)
        if channels == 2:
            return np.stack([0.25 * kit + self.reverb(kit, "room:" + s) for s in ("l", "r")])
        mono = 0.3 * kit + self.reverb(kit, "room:mono", 0.5, 3500)
        return np.tanh(2.5 * mono / np.max(np.abs(mono)))     # a crushed "trash" mic

    # ---- bass
    def bass_notes(self, line: Sequence[float], length_s: float):
        times = self.times(tuple(b / 2 for b in range(8)))
        tau, idx, on = self.since(times)
        f = np.array(line)[(np.round(times / (BEAT / 2)).astype(int)) % len(line)][idx]
        env = on * (1 - np.exp(-tau / 0.004)) * np.exp(-tau / 0.8) \
            * np.clip((length_s - tau) / 0.02, 0, 1)
        return f, tau, env

    def bass(self, part: str) -> np.ndarray:
        if part == "synth":
            f, tau, env = self.bass_notes(BASS_LINE[::-1], 0.2)
            closing = 1 - np.exp(-tau / 0.08)                   # the filter closes
            return env * self.harmonics(f * tau, 70.0, 24,
                                        weights=lambda k: np.exp(-(k - 1) * closing * 0.5) / k)
        def di():
            f, tau, env = self.bass_notes(BASS_LINE, 0.23)
            ph = f * tau
            tone = np.sin(2 * np.pi * ph) + 0.35 * np.sin(4 * np.pi * ph) \
                + 0.15 * np.sin(6 * np.pi * ph) + 0.06 * np.sin(8 * np.pi * ph)
            pluck = np.exp(-tau / 0.01) * self.filt(self.noise("bass:pluck"), "bandpass",
                                                    (300, 3000), 2)
            return env * (tone + 0.15 * pluck)
        x = self.cached("bass_di", di)
        if part == "di":
            return x
        amp = np.tanh(2.5 * x / np.max(np.abs(x)))
        return self.delayed(self.filt(self.filt(amp, "lowpass", 2500, 4), "highpass", 40, 2), 0.001)

    # ---- guitars, keys
    def guitar(self, side: str) -> np.ndarray:
        """Power chords strummed on eighths; each side is its own performance."""
        rng = self.choices("gtr:" + side)
        times = self.times(tuple(b / 2 for b in range(8)))
        times = times + rng.normal(0, 0.006, len(times))
        times[0] = max(times[0], 0.0)
        times = np.sort(times)
        tau, idx, on = self.since(times)
        detune = 2 ** (rng.normal(0, 4) / 1200)
        chord = (np.floor(times / (BAR / 2)).astype(int) % len(CHORDS_GTR))[idx]
        env = on * (1 - np.exp(-tau / 0.003)) * np.exp(-tau / 0.2)
        out = np.zeros(self.n)
        for voice in range(3):
            f = np.array([c[voice] for c in CHORDS_GTR])[chord] * detune
            out += self.harmonics(f * tau + voice * 0.13, 230.0, 30)
        x = np.tanh(2.5 * env * out)
        return self.filt(self.filt(x, "lowpass", 3500, 4), "highpass", 90, 2)

    def line(self, notes: Sequence[float], name: str, vibrato_cents: float = 25.0):
        """(phase in cycles, envelope) of a legato line, one note a beat, with vibrato."""
        step = np.array(notes)[(np.floor(self.t / BEAT).astype(int)) % len(notes)]
        b, a = signal.butter(1, 1 / (2 * np.pi * 0.03), fs=self.rate)   # 30 ms glide
        f = signal.lfilter(b, a, step, zi=signal.lfilter_zi(b, a) * step[0])[0]
        into = np.mod(self.t, BEAT)
        depth = vibrato_cents * np.clip((into - 0.15) / 0.15, 0, 1)
        rate_hz = 5.5 + 0.3 * self.choices(name).standard_normal()
        f = f * 2 ** (depth * np.sin(2 * np.pi * rate_hz * self.t) / 1200)
        phase = self.start_s * notes[0] + np.cumsum(f) / self.rate
        return phase, f

    def lead_gtr(self, notes=LEAD_GTR_LINE, name="lead_gtr") -> np.ndarray:
        phase, f = self.line(notes, name, 35.0)
        into = np.mod(self.t, BEAT)
        env = (1 - np.exp(-into / 0.005)) * (0.6 + 0.4 * np.exp(-into / 0.15))
        x = self.harmonics(phase, max(notes) * 1.05, 20)
        return self.filt(np.tanh(2.5 * env * x), "lowpass", 4500, 4)

    def pad(self, side: str) -> np.ndarray:
        cents = -4 if side == "left" else 4
        out = np.zeros(self.n)
        chord_of = np.floor(self.t / BAR).astype(int) % len(CHORDS_KEYS)
        frac = np.mod(self.t, BAR)
        fades = np.clip(frac / 0.3, 0, 1) * np.clip((BAR - frac) / 0.3, 0, 1)
        for c, chord in enumerate(CHORDS_KEYS):
            # each chord fades in over 0.3 s and out over 0.3 s within its bar
            at = np.flatnonzero(chord_of == c)
            t = self.t[at]
            for f in chord:
                f = f * 2 ** (cents / 1200)
                out[at] += fades[at] * (np.sin(2 * np.pi * f * t)
                                        + 0.15 * np.sin(4 * np.pi * f * t))
        return out * (1 + 0.1 * np.sin(2 * np.pi * 0.5 * self.t + (0 if side == "left" else 1.5)))

    def piano(self, mic: str) -> np.ndarray:
        def make():
            times = self.times((0, 2))
            tau, idx, on = self.since(times)
            chord = (np.floor(times / (BAR / 2)).astype(int) % len(CHORDS_KEYS))[idx]
            out = np.zeros(self.n)
            for voice in range(4):
                f = np.array([c[voice] for c in CHORDS_KEYS])[chord]
                for k in range(1, 9):
                    if k * 523.25 >= 0.45 * self.rate:
                        break
                    out += (k ** -1.2 * np.exp(-tau * (1.2 + 0.7 * k))
                            * np.sin(2 * np.pi * k * f * tau))
            hammer = np.exp(-tau / 0.003) * self.filt(self.noise("piano:hammer"), "bandpass",
                                                      (1000, 6000), 2)
            return on * (1 - np.exp(-tau / 0.002)) * out + 0.2 * on * hammer
        x = self.cached("piano", make)
        if mic == "close":
            return x
        return self.filt(self.delayed(0.2 * x, 0.008) + self.reverb(x, "piano:room", 1.1, 4000),
                         "lowpass", 5000, 2)

    # ---- voices
    def formants(self, source: np.ndarray, vowel_weights: dict[str, np.ndarray]) -> np.ndarray:
        out = np.zeros(self.n)
        for vowel, w in vowel_weights.items():
            bank = np.zeros(self.n)
            for gain, fc in zip((1.0, 0.5, 0.25), VOWELS[vowel]):
                bw = 80 + 0.08 * fc
                sos = signal.butter(1, (fc - bw / 2, fc + bw / 2), "bandpass", fs=self.rate,
                                    output="sos")
                bank += gain * signal.sosfilt(sos, source)
            out += w * bank
        return out

    def syllable_vowels(self, starts: np.ndarray, idx: np.ndarray, tau: np.ndarray,
                        order: str, xfade: float = 0.04) -> dict[str, np.ndarray]:
        """Weights per vowel: each syllable has one, crossfaded over ``xfade`` seconds."""
        v = np.array([order[i % len(order)] for i in range(len(starts))])[idx]
        fade = np.clip(tau / xfade, 0, 1)
        prev = np.array([order[(i - 1) % len(order)] for i in range(len(starts))])[idx]
        return {vw: (v == vw) * fade + (prev == vw) * (1 - fade) for vw in set(order)}

    def voice(self, notes: Sequence[float], name: str, vowels: str = "aeoai",
              transpose: float = 0.0, late_s: float = 0.0, cents: float = 0.0,
              breath: float = 0.03) -> np.ndarray:
        """A formant-filtered pulse train with vibrato, one syllable a beat, a breath
        before each bar."""
        notes = [n * 2 ** ((transpose + cents / 100) / 12) for n in notes]
        phase, f = self.line(notes, name)
        src = self.harmonics(phase, max(notes) * 1.03, 60, tilt=0.6)
        src += breath * self.filt(self.noise(name + ":breath"), "highpass", 1500, 2)
        starts = self.times((0, 1, 2, 3)) + late_s
        tau, idx, on = self.since(starts)
        in_bar = np.mod(self.t - late_s, BAR)
        env = on * np.clip(tau / 0.04, 0, 1) * np.clip((BAR - 0.3 - in_bar) / 0.06, 0, 1) \
            * (0.8 + 0.2 * np.cos(2 * np.pi * tau / BEAT))
        return env * self.formants(src, self.syllable_vowels(starts, idx, tau, vowels))

    def vocal(self, part: str) -> np.ndarray:
        if part == "lead":
            return self.voice(MELODY, "lead")
        if part == "double":
            return self.voice(MELODY, "double", late_s=0.025, cents=7, breath=0.05)
        if part == "bv1":
            return self.voice(MELODY, "bv1", vowels="uuoou", transpose=4)
        if part == "bv2":
            return self.voice(MELODY, "bv2", vowels="aaoaa", transpose=-5)
        if part == "guide":                         # a scratch take through a talkback mic
            rough = self.voice(MELODY, "guide", cents=-15, breath=0.08)
            return self.filt(self.filt(rough, "lowpass", 3500, 2), "highpass", 200, 2) \
                + 0.02 * self.click(every_beat=True)
        raise ValueError(part)

    def speech(self, name: str, f0: float, talk: tuple[float, float]) -> np.ndarray:
        """Syllables of 0.14-0.28 s at a speaking pitch with falling phrases, inside the
        ``talk`` window (fractions of a turn cycle of 4 s, or of the whole file when it
        is shorter), over a low room tone."""
        rng = self.choices(name)
        starts, pitch, s = [], [], 0.0
        while s < self.t_end + 1:
            starts.append(s)
            pitch.append(f0 * 2 ** (rng.normal(0, 1.5) / 12))
            s += rng.uniform(0.14, 0.28) + (rng.uniform(0.2, 0.5) if rng.random() < 0.15 else 0)
        starts = np.array(starts)
        tau, idx, on = self.since(starts)
        length = np.diff(starts, append=starts[-1] + 0.3)[idx]
        fs = np.array(pitch)[idx] * (1 - 0.15 * tau / np.maximum(length, 1e-3))
        phase = np.cumsum(fs) / self.rate
        src = self.harmonics(phase, f0 * 1.6, 60, tilt=0.7)
        syl = np.sin(np.pi * np.clip(tau / (0.8 * length), 0, 1)) ** 2
        order = "".join(rng.choice(list("aeiou"), 16))
        speech = self.formants(src, self.syllable_vowels(starts, idx, tau, order, 0.03))
        cycle = min(4.0, self.t_end - self.start_s)
        where = np.mod(self.t, cycle)
        a, b = talk[0] * cycle, talk[1] * cycle
        gate = np.clip((where - a) / 0.05, 0, 1) * np.clip((b - where) / 0.05, 0, 1)
        tone = 10 ** (-60 / 20) * self.filt(self.noise(name + ":room"), "lowpass", 2000, 1)
        return on * syl * gate * speech / 3 + tone

    # ---- signals, odds
    def click(self, every_beat: bool = True) -> np.ndarray:
        times = self.times((0, 1, 2, 3))
        if not every_beat:                                        # the count-in: one bar
            times = times[times < BAR]
        tau, idx, on = self.since(times)
        accent = np.where(np.isclose(np.mod(times, BAR), 0), 1.0, 0.6)[idx]
        env = np.exp(-tau / 0.006) * (tau < 0.03) * (1 - np.exp(-tau / 0.0002))
        return on * accent * env * np.sin(2 * np.pi * 1000 * tau)

    def shaker(self) -> np.ndarray:
        times = self.times(tuple(b / 4 for b in range(16)))
        tau, idx, on = self.since(times)
        accent = np.tile([1.0, 0.45, 0.75, 0.45], len(times) // 4 + 1)[: len(times)][idx]
        env = (1 - np.exp(-tau / 0.006)) * np.exp(-tau / 0.035)
        return on * accent * env * self.filt(self.noise("shaker"), "bandpass", (4500, 11000), 2)

    def strings(self, side: str) -> np.ndarray:
        out = np.zeros(self.n)
        k = np.floor(self.t / BAR).astype(int) % len(CHORDS_KEYS)
        frac = np.mod(self.t, BAR)
        for c, chord in enumerate(CHORDS_KEYS):
            w = (k == c) * np.clip(frac / 0.4, 0, 1) * np.clip((BAR - frac) / 0.2, 0, 1)
            notes = chord[:3] if side == "left" else chord[1:]
            for j, f in enumerate(notes):
                vib = 2 ** (8 * np.sin(2 * np.pi * (5.0 + 0.3 * j) * self.t + j) / 1200)
                phase = np.cumsum(f / 2 * vib) / self.rate
                out += w * self.harmonics(phase, f / 2, 20)
        return self.filt(out, "lowpass", 3000, 2)

    def brass(self) -> np.ndarray:
        times = self.times((0.0, 1.5))
        tau, idx, on = self.since(times)
        env = on * np.clip(tau / 0.02, 0, 1) * np.clip((0.3 - tau) / 0.03, 0, 1)
        out = np.zeros(self.n)
        for f in (233.08, 293.66, 349.23):
            out += self.harmonics(f * tau, f, 30,
                                  weights=lambda k: np.exp(-k / (2 + 10 * env)) / k)
        return env * out

    def riser(self) -> np.ndarray:
        frac = np.clip((self.t - self.start_s) / max(self.t_end - self.start_s, 1e-9), 0, 1)
        f = 200 * 10 ** frac
        sweep = np.sin(2 * np.pi * np.cumsum(f) / self.rate)
        hiss = self.filt(self.noise("riser"), "highpass", 2000, 2)
        return frac ** 2 * (0.6 * sweep + 0.5 * hiss * frac)

    def crowd(self, channels: int = 6) -> np.ndarray:
        noise = self.noise("crowd", channels)
        b, a = [0.049922035, -0.095993537, 0.050612699, -0.004408786], \
            [1, -2.494956002, 2.017265875, -0.522189400]           # pink (Kellet)
        x = signal.lfilter(b, a, noise, axis=1)
        x[3] = self.filt(x[3], "lowpass", 100, 4) * 3            # the LFE channel
        return x


# the parts: material kind -> how to make it from a _Music
_PARTS = {
    "kick_in": lambda m: m.kick("in"), "kick_out": lambda m: m.kick("out"),
    "snare_top": lambda m: m.snare_mic("top"), "snare_bottom": lambda m: m.snare_mic("bottom"),
    "hats": lambda m: m.hats(), "tom_1": lambda m: m.tom("1") + 0.03 * m.snare_mic("top"),
    "floor_tom": lambda m: m.tom("floor") + 0.03 * m.snare_mic("top"),
    "oh_left": lambda m: m.overhead("left"), "oh_right": lambda m: m.overhead("right"),
    "room_stereo": lambda m: m.room(2), "room_mono": lambda m: m.room(1),
    "bass_di": lambda m: m.bass("di"), "bass_amp": lambda m: m.bass("amp"),
    "synth_bass": lambda m: m.bass("synth"),
    "gtr_left": lambda m: m.guitar("left"), "gtr_right": lambda m: m.guitar("right"),
    "lead_gtr": lambda m: m.lead_gtr(), "gtr_solo": lambda m: m.lead_gtr(SOLO_LINE, "solo"),
    "keys_pad": lambda m: np.stack((m.pad("left"), m.pad("right"))),
    "piano_close": lambda m: m.piano("close"), "piano_room": lambda m: m.piano("room"),
    "lead_vox": lambda m: m.vocal("lead"), "vox_double": lambda m: m.vocal("double"),
    "bv_1": lambda m: m.vocal("bv1"), "bv_2": lambda m: m.vocal("bv2"),
    "guide_vox": lambda m: m.vocal("guide"),
    "click": lambda m: m.click(), "count_in": lambda m: m.click(every_beat=False),
    "shaker": lambda m: m.shaker(),
    "strings": lambda m: np.stack((m.strings("left"), m.strings("right"))),
    "brass": lambda m: m.brass(), "fx_riser": lambda m: m.riser(),
    "crowd_surround": lambda m: m.crowd(),
    "atmos_bed": lambda m: m.crowd(10),
    "host": lambda m: m.speech("host", 115.0, (0.025, 0.475)),
    "guest": lambda m: m.filt(m.filt(m.speech("guest", 195.0, (0.525, 0.975)),
                                     "lowpass", 7000, 4), "highpass", 100, 2),
}
MATERIALS = tuple(_PARTS) + ("music_bed", "mix", "master", "reference")

# the default band's parts, in the reference mix
BAND_PARTS = ("kick_in", "kick_out", "snare_top", "snare_bottom", "hats", "tom_1",
              "floor_tom", "oh_left", "oh_right", "room_stereo", "room_mono", "bass_di",
              "bass_amp", "gtr_left", "gtr_right", "keys_pad", "piano_close", "piano_room",
              "lead_vox", "vox_double", "bv_1", "bv_2", "shaker")


def _normalise(x: np.ndarray, level_db: float) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return x * (10 ** (level_db / 20) / peak) if peak > 0 else x


def _part(music: _Music, kind: str) -> np.ndarray:
    x = np.atleast_2d(music.cached("part:" + kind, lambda: _PARTS[kind](music)))
    return _normalise(x, LEVELS[kind])


def material(kind: str, seconds: float = SECONDS, rate: int = SR, seed: int = 0,
             start_s: float = 0.0) -> np.ndarray:
    """One part's signal, ``(channels, frames)`` float64, from session time ``start_s``:
    a :data:`MATERIALS` kind at its :data:`LEVELS` peak; "mix" (about -20 LUFS, peaks
    about -6 dBFS), "master" (that mix limited: true peak -0.1 dBTP, about -9 LUFS),
    "music_bed" and "reference" (another song's loud master)."""
    music = _Music(seconds, rate, seed, start_s)
    if kind in _PARTS:
        return _part(music, kind)
    if kind == "mix":
        return _band_mix(music, BAND_PARTS)
    if kind == "master":
        return _master(_band_mix(music, BAND_PARTS), rate)
    if kind == "music_bed":
        return _music_bed(music)
    if kind == "reference":
        return _reference(seconds, rate, seed)
    raise ValueError(f"material: no kind {kind!r}; expected one of {', '.join(MATERIALS)}")


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    if x.shape[0] == 2:
        return x
    angle = (pan + 1) * math.pi / 4
    return np.concatenate((math.cos(angle) * x, math.sin(angle) * x))


def limit(x: np.ndarray, ceiling_db: float, rate: int, window_s: float = 0.003) -> np.ndarray:
    """A look-ahead brickwall limiter: no sample of the result exceeds the ceiling.

    The gain each sample needs is the minimum over a window centred on it, smoothed by
    a moving average of the same width: every average then only holds gains at most
    the sample's own need, so the ceiling holds exactly, with 2*window_s of attack and
    release and no overshoot.  Channels are linked."""
    ceiling = 10 ** (ceiling_db / 20)
    need = np.minimum(1.0, ceiling / np.maximum(np.max(np.abs(x), axis=0), 1e-12))
    width = 2 * int(window_s * rate) + 1
    gain = uniform_filter1d(minimum_filter1d(need, width, mode="nearest"), width, mode="nearest")
    return x * np.minimum(gain, need)


def _fit_loudness(x: np.ndarray, rate: int, target_lufs: float, ceiling_db: float | None,
                  soft: float = 0.0) -> np.ndarray:
    """Gain (and, over ``ceiling_db``, limiting after an optional tanh drive) until the
    integrated loudness is within 0.05 LU of ``target_lufs``."""
    gain = 10 ** ((target_lufs - loudness_lufs(x, rate)) / 20)
    y = x
    for _ in range(12):
        y = gain * x
        if soft:
            y = np.tanh(soft * y) / soft
        if ceiling_db is not None:
            y = limit(y, ceiling_db, rate)
        miss = target_lufs - loudness_lufs(y, rate)
        if abs(miss) < 0.05:
            break
        gain *= 10 ** (miss / 20)
    return y


def _band_mix(music: _Music, parts: Sequence[str],
              extra: Sequence[tuple[np.ndarray, float, float]] = ()) -> np.ndarray:
    """The parts panned and summed (``extra``: (signal, gain dB, pan), e.g. a region at
    its offset), at -20 LUFS; peaks above -6 dBFS are limited as a mix bus would."""
    mix = np.zeros((2, music.n))
    for kind in parts:
        gain_db, pan = MIX[kind]
        sign = -1.0 if kind == "snare_bottom" else 1.0          # the engineer's polarity flip
        mix += sign * 10 ** (gain_db / 20) * _pan(_part(music, kind), pan)
    for x, gain_db, pan in extra:
        mix += 10 ** (gain_db / 20) * _pan(np.atleast_2d(x), pan)
    return _fit_loudness(mix, music.rate, MIX_LUFS, MIX_PEAK_DB)


def _loud_print(mix: np.ndarray, rate: int, target_lufs: float, true_peak: float,
                soft: float) -> np.ndarray:
    """``mix`` driven into a tanh clipper and the limiter, then set to ``true_peak``
    dBTP, with the drive found so that the result is within 0.05 LU of
    ``target_lufs``."""
    drive = 10 ** ((target_lufs - loudness_lufs(mix, rate)) / 20)
    for _ in range(16):
        y = limit(np.tanh(soft * drive * mix) / soft, true_peak - 0.3, rate)
        y = y * 10 ** ((true_peak - true_peak_db(y, rate)) / 20)
        miss = target_lufs - loudness_lufs(y, rate)
        if abs(miss) < 0.05:
            break
        drive *= 10 ** (miss / 20)
    return y


def _master(mix: np.ndarray, rate: int) -> np.ndarray:
    """A loud master of ``mix``: MASTER_LUFS at MASTER_TRUE_PEAK_DB."""
    return _loud_print(mix, rate, MASTER_LUFS, MASTER_TRUE_PEAK_DB, 1.2)


def _music_bed(music: _Music) -> np.ndarray:
    parts = {"keys_pad": (0.0, 0.0), "bass_di": (-4.0, 0.0), "kick_out": (-6.0, 0.0),
             "hats": (-2.0, 0.4), "shaker": (-4.0, -0.4)}
    bed = sum(10 ** (g / 20) * _pan(_part(music, k), p) for k, (g, p) in parts.items())
    fade = np.clip((music.t - music.start_s) / 0.05, 0, 1)
    return _normalise(bed * fade, LEVELS["music_bed"])


def _reference(seconds: float, rate: int, seed: int) -> np.ndarray:
    other = _Music(seconds, rate, seed + 1000)
    parts = ("kick_in", "snare_top", "hats", "bass_amp", "gtr_left", "gtr_right", "keys_pad",
             "lead_vox")
    return _loud_print(_band_mix(other, parts), rate, REFERENCE_LUFS, -0.2, 1.5)


# ======================================================================== writers
def quantize(audio: np.ndarray, subtype: str) -> tuple[np.ndarray, np.ndarray]:
    """(what to hand soundfile, the float64 samples the file will hold) for ``audio``
    ``(channels, frames)``: integers rounded to nearest and clipped, so libsndfile
    writes them bit for bit."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    if x.size and np.max(np.abs(x)) > 1.0:
        raise ValueError(f"quantize: the signal would clip (peak {peak_db(x):+.2f} dBFS)")
    if subtype == "FLOAT":
        f = x.astype(np.float32)
        return f, f.astype(np.float64)
    bits = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}[subtype]
    full = 2.0 ** (bits - 1)
    q = np.clip(np.round(x * full), -full, full - 1)
    held = q / full
    if bits == 8:
        return (q * 256).astype(np.int16), held       # libsndfile: (s >> 8) + 128, exact
    if bits == 16:
        return q.astype(np.int16), held
    return (q * 2.0 ** (32 - bits)).astype(np.int32), held   # the top bits of an int32


def chunk(chunk_id: bytes, payload: bytes) -> bytes:
    """A RIFF chunk: id, little-endian size, payload, a pad byte when the size is odd."""
    return chunk_id + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) % 2)


def riff_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(id, offset of the payload, size) of each top-level chunk of a RIFF/WAVE file."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    found, pos = [], 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        found.append((cid, pos + 8, size))
        pos += 8 + size + size % 2
    return found


def insert_chunks(wav: bytes, chunks: Sequence[bytes]) -> bytes:
    """``wav`` with ``chunks`` (whole chunks, see :func:`chunk`) before its ``data``
    chunk and the RIFF size fixed; a ``PEAK`` chunk's time stamp (libsndfile writes the
    wall clock there for float files) is zeroed so that the bytes are reproducible."""
    found = {cid: (off, size) for cid, off, size in riff_chunks(wav)}
    out = bytearray(wav)
    if b"PEAK" in found:
        off, _ = found[b"PEAK"]
        out[off + 4:off + 8] = b"\0\0\0\0"
    data_at = found[b"data"][0] - 8
    out[data_at:data_at] = b"".join(chunks)
    out[4:8] = struct.pack("<I", len(out) - 8)
    return bytes(out)


def bext_chunk(time_reference: int, *, description: str = "", originator: str = "Pro Tools",
               originator_reference: str = "", date: str = "2024-03-15",
               time: str = "10:30:00", coding_history: str = "") -> bytes:
    """A BWF ``bext`` chunk (EBU Tech 3285 v1): Description 256, Originator 32,
    OriginatorReference 32, OriginationDate 10, OriginationTime 8, TimeReference
    (64-bit little-endian, samples since midnight, at payload offset 338), Version 2,
    UMID 64, five loudness fields (v2; zero), Reserved 180: 602 bytes, then the
    CodingHistory."""
    def text(s: str, n: int) -> bytes:
        raw = s.encode("ascii")
        if len(raw) > n:
            raise ValueError(f"bext: {s!r} is longer than {n} bytes")
        return raw.ljust(n, b"\0")

    if not 0 <= time_reference < 2 ** 64:
        raise ValueError(f"bext: time reference must fit 64 bits, got {time_reference}")
    payload = (text(description, 256) + text(originator, 32) + text(originator_reference, 32)
               + text(date, 10) + text(time, 8) + struct.pack("<Q", time_reference)
               + struct.pack("<H", 1) + b"\0" * 64 + b"\0" * 10 + b"\0" * 180)
    assert len(payload) == 602
    history = coding_history.encode("ascii")
    return chunk(b"bext", payload + history + (b"\r\n" if history else b""))


def ixml_chunk(time_reference: int, rate: int, *, project: str = "Song",
               bit_depth: int = 24, note: str = "") -> bytes:
    """An ``iXML`` chunk carrying the time reference in ``<SPEED>``: samples since
    midnight split into 32-bit HI and LO words, at TIMESTAMP_SAMPLE_RATE."""
    hi, lo = time_reference >> 32, time_reference & 0xFFFFFFFF
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<BWFXML>\n'
           "<IXML_VERSION>1.61</IXML_VERSION>\n"
           f"<PROJECT>{project}</PROJECT>\n<NOTE>{note}</NOTE>\n<SPEED>\n"
           "<MASTER_SPEED>1/1</MASTER_SPEED>\n<CURRENT_SPEED>1/1</CURRENT_SPEED>\n"
           "<TIMECODE_RATE>25/1</TIMECODE_RATE>\n<TIMECODE_FLAG>NDF</TIMECODE_FLAG>\n"
           f"<FILE_SAMPLE_RATE>{rate}</FILE_SAMPLE_RATE>\n"
           f"<AUDIO_BIT_DEPTH>{bit_depth}</AUDIO_BIT_DEPTH>\n"
           f"<DIGITIZER_SAMPLE_RATE>{rate}</DIGITIZER_SAMPLE_RATE>\n"
           f"<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>{hi}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>\n"
           f"<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>{lo}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>\n"
           f"<TIMESTAMP_SAMPLE_RATE>{rate}</TIMESTAMP_SAMPLE_RATE>\n"
           "</SPEED>\n</BWFXML>\n")
    return chunk(b"iXML", xml.encode("utf-8"))


def encode(audio: np.ndarray, rate: int, subtype: str = "PCM_24", container: str = "WAV",
           chunks: Sequence[bytes] = ()) -> tuple[bytes, np.ndarray]:
    """(the file's bytes, the float64 samples it holds).  ``chunks`` (WAV only) go
    before ``data``."""
    if container != "WAV" and chunks:
        raise ValueError(f"encode: chunks go into WAV files only, not {container}")
    if container == "FLAC" and subtype not in ("PCM_16", "PCM_24"):
        raise ValueError(f"encode: FLAC takes PCM_16 or PCM_24, got {subtype}")
    data, held = quantize(audio, subtype)
    buf = io.BytesIO()
    sf.write(buf, data.T, rate, subtype=subtype, format=container)
    raw = buf.getvalue()
    if container == "WAV":
        raw = insert_chunks(raw, chunks)
    return raw, held


def write_audio(path: Path, audio: np.ndarray, rate: int, subtype: str = "PCM_24",
                container: str | None = None, chunks: Sequence[bytes] = ()) -> np.ndarray:
    """Write ``audio`` ``(channels, frames)``; the container follows the extension
    unless given.  Returns the samples the file holds, ``(channels, frames)``."""
    path = Path(path)
    if container is None:
        container = {".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}.get(
            path.suffix.lower(), "WAV")
    raw, held = encode(audio, rate, subtype, container, chunks)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return held


def write_empty(path: Path) -> None:
    """A 0-byte file (an export that failed, or a copy that never finished)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"")


def write_truncated(path: Path, seed: int = 0) -> None:
    """A WAV cut off inside its ``fmt `` chunk: readable by nothing."""
    raw, _ = encode(material("shaker", 0.25, SR, seed), SR, "PCM_16")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(raw[:30])


def write_apple_double(path: Path) -> None:
    """A macOS AppleDouble resource fork (``._name.wav``): hidden, audio extension,
    no audio (magic 0x00051607, version 2, one Finder-info entry)."""
    header = struct.pack(">II16sH", 0x00051607, 0x00020000, b"Mac OS X        ", 1)
    entry = struct.pack(">III", 9, 50, 32)                     # Finder info at 50, 32 bytes
    payload = header + entry + b"WAVEPTul" + b"\0" * 24
    Path(path).write_bytes(payload.ljust(4096, b"\0"))


def write_clutter(folder: Path, first_audio: str) -> dict[str, ExportFile]:
    """What a real folder carries besides audio: Finder's .DS_Store, an AppleDouble
    file, notes and the DAW's session file."""
    folder = Path(folder)
    (folder / ".DS_Store").write_bytes(b"\0\0\0\x01Bud1" + bytes(range(256)) * 8)
    write_apple_double(folder / ("._" + first_audio))
    (folder / "notes.txt").write_text(
        "Mix notes\n- lead vox up in the chorus\n- keep the room mics\n- ignore the guide\n")
    (folder / "Song.ptx").write_bytes(b"\x03\x00PTX-session" + bytes(range(200, 256)) * 16)
    entries = {
        ".DS_Store": ("Finder's folder settings", "hidden file"),
        "._" + first_audio: ("macOS resource fork of " + first_audio, "hidden file (AppleDouble)"),
        "notes.txt": ("the engineer's notes", "not audio"),
        "Song.ptx": ("the DAW's session file", "not audio"),
    }
    return {p: ExportFile(path=p, part=part, family=None, audio=False, usable=False, why=why)
            for p, (part, why) in entries.items()}


# ======================================================================= sessions
@dataclass
class _File:
    """A file to write: its name, what it is, what its name says, its format."""

    path: str
    part: str
    family: str | None
    qualifiers: tuple[str, ...] = ()
    material: str | None = None
    side: str | None = None
    pair: str | None = None
    rate: int = SR
    subtype: str = "PCM_24"
    offset_s: float = 0.0
    seconds: float | None = None
    audio: np.ndarray | None = None          # given instead of material
    time_chunks: tuple[str, ...] = ()
    session_start_s: float = 0.0

    @property
    def container(self) -> str:
        return {".flac": "FLAC", ".aif": "AIFF", ".aiff": "AIFF"}.get(
            Path(self.path).suffix.lower(), "WAV")


def _music(musics: dict, seconds: float, rate: int, seed: int, start_s: float = 0.0) -> _Music:
    """One _Music per (length, rate, start) in a session, so parts share their sources
    and the reference mix reuses the parts."""
    key = (seconds, rate, seed, start_s)
    if key not in musics:
        musics[key] = _Music(seconds, rate, seed, start_s)
    return musics[key]


def _write(folder: Path, spec: _File, seconds: float, seed: int, musics: dict) -> ExportFile:
    if spec.audio is None:
        music = _music(musics, spec.seconds or seconds, spec.rate, seed, spec.offset_s)
        audio = _part(music, spec.material)
    else:
        audio = spec.audio
    start = spec.session_start_s + spec.offset_s
    reference = int(round(start * spec.rate))
    chunks = []
    if "bext" in spec.time_chunks:
        chunks.append(bext_chunk(reference, description=spec.part,
                                 originator_reference=f"MXG{_crc(spec.path) % 10**9:09d}"))
    if "iXML" in spec.time_chunks:
        chunks.append(ixml_chunk(reference, spec.rate, bit_depth={
            "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32}[spec.subtype]))
    held = write_audio(folder / spec.path, audio, spec.rate, spec.subtype, spec.container, chunks)
    channels = held.shape[0]
    usable, why = True, None
    if channels not in (1, 2, 3, 4, 5, 6, 7, 8, 12):       # mono ... 7.1.4
        usable, why = False, f"{channels} channels (no layout the engine mixes)"
    return ExportFile(
        path=spec.path, part=spec.part, family=spec.family, qualifiers=spec.qualifiers,
        side=spec.side, pair=spec.pair, material=spec.material, usable=usable, why=why,
        container=spec.container, subtype=spec.subtype, rate=spec.rate, channels=channels,
        frames=held.shape[1], start_s=(reference / spec.rate if spec.time_chunks else None),
        offset_s=spec.offset_s, time_chunks=spec.time_chunks, peak_db=peak_db(held),
        rms_db=rms_db(held), lufs=loudness_lufs(held, spec.rate),
        true_peak_db=true_peak_db(held, spec.rate))


def _write_all(folder: Path, specs: Sequence[_File], seconds: float, seed: int,
               musics: dict | None = None) -> dict[str, ExportFile]:
    paths = [s.path for s in specs]
    dupes = {p for p in paths if paths.count(p) > 1}
    if dupes:
        raise ValueError(f"two files named {sorted(dupes)}")
    musics = {} if musics is None else musics
    return {s.path: _write(folder, s, seconds, seed, musics) for s in specs}


_NUMBERING = {
    "numbered": lambda n, name: f"{n:02d} {name}",            # "01 Kick In" (Pro Tools, Logic)
    "dash": lambda n, name: f"{n:02d} - {name}",              # "01 - Kick In" (a Reaper pattern)
    "ableton": lambda n, name: f"{n}-{name}",                 # "1-Kick In" (Live's track export)
    "underscore": lambda n, name: f"{n:02d}_{name.replace(' ', '_')}",
    "plain": lambda n, name: name,                            # "Kick In" (no numbers)
}
_PAIRS = {"space": (" L", " R"), "word": (" Left", " Right"), "dot": (".L", ".R"),
          "underscore": ("_L", "_R")}


def band_export(folder: Path, *, seconds: float = SECONDS, seed: int = 0, rate: int = SR,
                mixed_rates: bool = True, numbering: str = "numbered",
                pair_style: str = "space", lead_instrument_without_vocal: bool = False,
                synth_bass: bool = False, extras: bool = False, faults: bool = False,
                clutter: bool = True, region_offset_s: float = 2.0, region_s: float = 1.5,
                region_chunk: str = "bext", session_start_s: float = 0.0,
                bext_all: bool = True, bounced: bool = True) -> Export:
    """A band's stem export, as a studio hands it over, in ``folder``.

    Track-numbered close mics (kick in/out, snare top/bottom, hi-hat, two toms), an
    overhead L/R pair, a stereo and a mono room, bass DI and amp, a guitar L/R pair, a
    stereo keys pad, piano close and room mics, lead vocal and its double, two backing
    vocals; unnumbered click, guide vocal, count-in and shaker; a guitar-solo region
    stem (``Gtr Solo_02.wav``) that starts ``region_offset_s`` after the session start
    and lasts ``region_s``, its start in a ``bext`` chunk (``region_chunk``: "bext",
    "iXML" or "both"); ``Bounced Files/Song Mix.wav`` (a 24-bit reference mix of these
    parts) and ``Bounced Files/Song Master.wav`` (16-bit, limited); and, with
    ``clutter``, .DS_Store, an AppleDouble ``._`` file, notes.txt and Song.ptx.

    Rates: ``rate`` for most files; with ``mixed_rates`` the backing vocal 2 AIFF is at
    44.1 kHz (48 kHz when ``rate`` is 44100) and the bass amp at twice ``rate``
    (``rate=44100, mixed_rates=False``: every file at 44.1 kHz).  Depths and
    containers: 24-bit WAV mostly, 16-bit for the quieter tracks, the bass DI 32-bit
    int, the keys pad float, the shaker 8-bit, Tom 1 a 24-bit FLAC, BV 2 a 16-bit AIFF.

    Time references: with ``bext_all`` every WAV carries a ``bext`` chunk at
    ``session_start_s`` (Pro Tools' 01:00:00:00 is 3600.0), the region at
    ``session_start_s + region_offset_s``; FLAC and AIFF files carry none and start
    with the session.  Without ``bext_all`` only the region carries one (and the
    session must start at midnight, so that its reference is its offset).

    Variants: ``lead_instrument_without_vocal`` (a ``16 Lead Gtr`` and no vocals; the
    guide vocal stays), ``synth_bass`` (``Synth Bass.wav`` beside the bass DI),
    ``extras`` (stereo strings, brass, an FX riser and ``Reference - Other Song.wav``),
    ``faults`` (a 6-channel WAV, a 0-byte ``Tamb.wav`` and a truncated
    ``Perc Loop.wav``); ``numbering`` (see ``_NUMBERING``) and ``pair_style`` ("space"
    "OH L", "word" "OH Left", "dot" "OH.L", "underscore" "OH_L") vary the names."""
    if region_chunk not in ("bext", "iXML", "both"):
        raise ValueError("band_export: region_chunk must be 'bext', 'iXML' or 'both', "
                         f"got {region_chunk!r}")
    if not bext_all and session_start_s:
        raise ValueError("band_export: without bext_all only the region has a time reference, "
                         "so the session must start at midnight (session_start_s=0)")
    if numbering not in _NUMBERING or pair_style not in _PAIRS:
        raise ValueError(f"band_export: numbering one of {list(_NUMBERING)}, pair_style one of "
                         f"{list(_PAIRS)}; got {numbering!r}, {pair_style!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    odd = 48000 if rate == 44100 else 44100
    hi = 2 * rate
    if not mixed_rates:
        odd = hi = rate
    left, right = _PAIRS[pair_style]
    number = _NUMBERING[numbering]

    # (track number or None, name, what it is, family, qualifiers, material, format);
    # a format is container + depth ("wav24", "wavf" float, "wav8" unsigned), and
    # "@odd" / "@hi" for the odd and the high rate
    rows = [
        (1, "Kick In", "kick in mic", "kick", ("in",), "kick_in", "wav24"),
        (2, "Kick Out", "kick out mic", "kick", ("out",), "kick_out", "wav24"),
        (3, "Snare Top", "snare top mic", "snare", ("top",), "snare_top", "wav24"),
        (4, "Snare Bottom", "snare bottom mic (polarity opposite the top)", "snare",
         ("bottom",), "snare_bottom", "wav24"),
        (5, "HiHat", "hi-hat mic", "hats", (), "hats", "wav16"),
        (6, "Tom 1", "rack tom mic", "toms", ("1",), "tom_1", "flac24"),
        (7, "Floor Tom", "floor tom mic", "toms", (), "floor_tom", "wav16"),
        (8, "OH" + left, "overhead left", "overheads", ("left",), "oh_left", "wav24"),
        (9, "OH" + right, "overhead right", "overheads", ("right",), "oh_right", "wav24"),
        (10, "Room (Stereo)", "stereo room mics", "room", ("stereo",), "room_stereo", "wav24"),
        (11, "Bass DI", "bass DI", "bass", ("di",), "bass_di", "wav32"),
        (12, "Bass Amp", "bass amp mic", "bass", ("amp",), "bass_amp", "wav24@hi"),
        (13, "Gtr" + left, "rhythm guitar left", "guitar", ("left",), "gtr_left", "wav24"),
        (14, "Gtr" + right, "rhythm guitar right (a second take)", "guitar", ("right",),
         "gtr_right", "wav24"),
        (15, "Keys Pad (st)", "stereo keys pad", "keys", ("stereo",), "keys_pad", "wavf"),
    ]
    if lead_instrument_without_vocal:
        rows.append((16, "Lead Gtr", "lead guitar", "guitar", ("lead",), "lead_gtr", "wav24"))
    else:
        rows += [
            (16, "Lead Vox", "lead vocal", "vocals", ("lead",), "lead_vox", "wav24"),
            (17, "Lead Vox Double", "lead vocal double", "vocals", ("lead", "double"),
             "vox_double", "wav24"),
            (18, "BV 1", "backing vocal 1 (a third above)", "backing", ("1",), "bv_1", "wav16"),
            (19, "BV 2", "backing vocal 2 (a fourth below)", "backing", ("2",), "bv_2",
             "aif16@odd"),
        ]
    rows += [
        (20, "Room Mono", "mono room mic (crushed)", "room", ("mono",), "room_mono", "wav16"),
        (21, "Piano Close", "piano close mic", "keys", ("close",), "piano_close", "wav24"),
        (22, "Piano Room", "piano room mic", "keys", ("room",), "piano_room", "wav16"),
    ]
    if extras:
        rows += [
            (23, "Strings (st)", "stereo string section", "strings", ("stereo",), "strings",
             "wav24"),
            (24, "Brass", "brass stabs", "brass", (), "brass", "wav24"),
            (25, "FX Riser", "riser effect", "fx", (), "fx_riser", "wav24"),
        ]
    rows += [
        (None, "Click", "click track", "click", (), "click", "wav16"),
        (None, "Guide Vox", "guide vocal (scratch, click bleed)", "guide", (), "guide_vox",
         "wav16"),
        (None, "Count-in", "count-in (one bar of clicks)", "count_in", (), "count_in", "wav16"),
        (None, "Shaker", "shaker overdub", "percussion", (), "shaker", "wav8"),
    ]
    if synth_bass:
        rows.append((None, "Synth Bass", "synth bass layer", "bass", (), "synth_bass", "wav24"))

    def file_format(fmt: str) -> tuple[str, int, str]:
        """(extension, rate, subtype) of a row's format."""
        fmt, _, which = fmt.partition("@")
        ext = next(e for e in (".wav", ".flac", ".aif") if fmt.startswith(e[1:]))
        depth = fmt[len(ext) - 1:]
        subtype = {"8": "PCM_U8", "16": "PCM_16", "24": "PCM_24", "32": "PCM_32",
                   "f": "FLOAT"}[depth]
        return ext, {"": rate, "odd": odd, "hi": hi}[which], subtype

    paths = {kind: (number(n, name) if n is not None else name) + file_format(fmt)[0]
             for n, name, _, _, _, kind, fmt in rows}
    partner = {"oh_left": "oh_right", "oh_right": "oh_left", "gtr_left": "gtr_right",
               "gtr_right": "gtr_left"}
    stamp = ("bext",) if bext_all else ()
    specs = []
    for n, name, part, family, quals, kind, fmt in rows:
        ext, file_rate, subtype = file_format(fmt)
        side = next((q for q in quals if q in ("left", "right")), None)
        specs.append(_File(paths[kind], part, family, quals, kind, side,
                           paths.get(partner.get(kind)), file_rate, subtype,
                           time_chunks=stamp if ext == ".wav" else (),
                           session_start_s=session_start_s))
    region_chunks = {"bext": ("bext",), "iXML": ("iXML",), "both": ("bext", "iXML")}[region_chunk]
    specs.append(_File("Gtr Solo_02.wav", "guitar solo, exported as a region", "guitar", ("2",),
                       "gtr_solo", rate=rate, subtype="PCM_24", offset_s=region_offset_s,
                       seconds=region_s, time_chunks=region_chunks,
                       session_start_s=session_start_s))

    musics: dict = {}
    files = _write_all(folder, specs, seconds, seed, musics)

    if bounced:
        music = _music(musics, seconds, rate, seed)
        kinds = [s.material for s in specs if s.material in MIX and s.material != "gtr_solo"]
        solo = np.zeros(music.n)
        a = int(round(region_offset_s * rate))
        if a < music.n:
            region = _part(_music(musics, region_s, rate, seed, region_offset_s), "gtr_solo")[0]
            piece = region[: music.n - a]
            solo[a:a + len(piece)] = piece
        mix = _band_mix(music, kinds, [(solo, *MIX["gtr_solo"])])
        master = _master(mix, rate)
        files.update(_write_all(folder, [
            _File("Bounced Files/Song Mix.wav", "the band's reference mix of these stems", "mix",
                  (), "mix", rate=rate, subtype="PCM_24", audio=mix, time_chunks=stamp,
                  session_start_s=session_start_s),
            _File("Bounced Files/Song Master.wav", "a mastered print of that mix", "mastered", (),
                  "master", rate=rate, subtype="PCM_16", audio=master, time_chunks=stamp,
                  session_start_s=session_start_s),
        ], seconds, seed))
    if extras:
        files.update(_write_all(folder, [
            _File("Reference - Other Song.wav", "a commercial reference track", "reference", (),
                  "reference", rate=44100, subtype="PCM_16",
                  audio=_reference(seconds, 44100, seed))], seconds, seed))
    if faults:
        files.update(_write_all(folder, [
            _File("FX Crowd Surround.wav", "5.1 crowd ambience", "fx", (), "crowd_surround",
                  rate=rate, subtype="PCM_16", seconds=min(seconds, 1.0), time_chunks=stamp,
                  session_start_s=session_start_s),
            _File("FX Atmos Bed 7.1.2.wav", "a 7.1.2 ambience bed (10 channels)", "fx", (),
                  "atmos_bed", rate=rate, subtype="PCM_16", seconds=min(seconds, 1.0),
                  time_chunks=stamp, session_start_s=session_start_s)], seconds, seed))
        write_empty(folder / "Tamb.wav")
        write_truncated(folder / "Perc Loop.wav", seed)
        files["Tamb.wav"] = ExportFile(path="Tamb.wav", part="tambourine (an export that failed)",
                                       family="percussion", usable=False, why="empty (0 bytes)",
                                       container=None)
        files["Perc Loop.wav"] = ExportFile(
            path="Perc Loop.wav", part="percussion loop (cut off)", family="percussion",
            usable=False, why="unreadable (the header is cut off)")
    if clutter:
        files.update(write_clutter(folder, paths["kick_in"]))
    return Export(folder, dict(sorted(files.items())))


def mastering_folder(folder: Path, *, with_master: bool = True, only_master: bool = False,
                     mix_name: str = "Song Mix.wav", reference: bool = False,
                     seconds: float = SECONDS, seed: int = 0) -> Export:
    """A folder sent for mastering.  ``mix_name`` (``Song Mix.wav`` or, say,
    ``Song Premaster.wav``: 24-bit 48 kHz, about -20 LUFS, peaks about -6 dBFS) beside
    ``Song Master.wav`` (16-bit 44.1 kHz, about -9 LUFS, true peak -0.1 dBTP) when
    ``with_master``; ``only_master``: the only file is such a master with a neutral name,
    ``Song.wav``; ``reference`` adds ``Reference - Other Song.wav``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mix = material("mix", seconds, SR, seed)
    master = _master(signal.resample_poly(mix, 147, 160, axis=1), 44100)
    if only_master:
        specs = [_File("Song.wav", "an already mastered print (the name does not say so)", None,
                       (), "master", rate=44100, subtype="PCM_16", audio=master)]
    else:
        specs = [_File(mix_name, "the unmastered mix", "mix", (), "mix", rate=SR,
                       subtype="PCM_24", audio=mix)]
        if with_master:
            specs.append(_File("Song Master.wav", "the mastered print of that mix", "mastered", (),
                               "master", rate=44100, subtype="PCM_16", audio=master))
    if reference:
        specs.append(_File("Reference - Other Song.wav", "a commercial reference track",
                           "reference", (), "reference", rate=44100, subtype="PCM_16",
                           audio=_reference(seconds, 44100, seed)))
    return Export(folder, dict(sorted(_write_all(folder, specs, seconds, seed).items())))


STEM_GROUPS = {
    "drums": ("kick_in", "kick_out", "snare_top", "snare_bottom", "tom_1", "floor_tom",
              "oh_left", "oh_right", "room_stereo", "room_mono"),
    "bass": ("bass_di", "bass_amp"),
    "music": ("gtr_left", "gtr_right", "keys_pad", "piano_close", "piano_room", "shaker"),
    "vocals": ("lead_vox", "vox_double", "bv_1", "bv_2"),
}


def stems_for_stem_master(folder: Path, *, seconds: float = SECONDS, seed: int = 0,
                          rate: int = SR, with_mix: bool = False) -> Export:
    """Stems as people name them: ``Song - Drums.wav``, ``Song_BASS_stem.wav``,
    ``Song (Music).wav``, ``Vocals Stem.wav`` (stereo, 24-bit; :data:`STEM_GROUPS`
    says what each holds) and ``HiHat.wav`` (mono; the hats are not in the drums
    stem).  Their sum, the mono hats at unity in both channels, is at -20 LUFS,
    unlimited; ``with_mix`` adds that sum as ``Song - Full Mix.wav`` (float: the stems
    sum back to it within their 24-bit quantization)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    music = _Music(seconds, rate, seed)
    stems = {group: sum((-1.0 if k == "snare_bottom" else 1.0) * 10 ** (MIX[k][0] / 20)
                        * _pan(_part(music, k), MIX[k][1]) for k in kinds)
             for group, kinds in STEM_GROUPS.items()}
    hats = 10 ** (MIX["hats"][0] / 20) * _part(music, "hats")
    total = sum(stems.values()) + np.concatenate((hats, hats))
    gain = 10 ** ((MIX_LUFS - loudness_lufs(total, rate)) / 20)
    names = {"drums": "Song - Drums.wav", "bass": "Song_BASS_stem.wav",
             "music": "Song (Music).wav", "vocals": "Vocals Stem.wav"}
    specs = [_File(names[g], f"{g} stem", g, (), None, rate=rate, subtype="PCM_24",
                   audio=gain * stems[g]) for g in names]
    specs.append(_File("HiHat.wav", "hi-hat track (left out of the drums stem)", "hats", (),
                       None, rate=rate, subtype="PCM_24", audio=gain * hats))
    if with_mix:
        specs.append(_File("Song - Full Mix.wav", "the sum of these stems", "mix", (), None,
                           rate=rate, subtype="FLOAT", audio=gain * total))
    return Export(folder, dict(sorted(_write_all(folder, specs, seconds, seed).items())))


def podcast_folder(folder: Path, *, seconds: float = SECONDS, seed: int = 0) -> Export:
    """A podcast: ``Host Mic 1.wav`` (48 kHz 24-bit, talks first), ``Guest (Zoom).wav``
    (44.1 kHz 16-bit, band-limited, answers) and ``Intro Music.wav`` (a stereo bed,
    44.1 kHz 16-bit)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specs = [
        _File("Host Mic 1.wav", "host", "host", ("1",), "host", rate=48000, subtype="PCM_24"),
        _File("Guest (Zoom).wav", "guest, recorded over a call", "guest", (), "guest",
              rate=44100, subtype="PCM_16"),
        _File("Intro Music.wav", "music bed", "music", (), "music_bed", rate=44100,
              subtype="PCM_16", audio=_music_bed(_Music(seconds, 44100, seed))),
    ]
    return Export(folder, dict(sorted(_write_all(folder, specs, seconds, seed).items())))
