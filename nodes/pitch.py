"""Pitch: correcting the pitch of a monophonic voice or instrument.

**Detection.**  Every 4 ms (``hop``) YIN runs on the channels' sum, low-passed
(4th-order Butterworth at 0.4 of the decimated rate) and decimated to 11-24 kHz; the
lag it finds is refined at the full rate (the normalised cross-correlation around it
and a parabola).  A frame counts as voiced where its periodicity (1 - YIN's
aperiodicity, the normalised difference at the period) reaches ``confidence`` and
the frame is above -100 dBFS; unvoiced frames (breaths, consonants, silence) are not
corrected.

**Correction.**  The voiced pitch, as a MIDI number against ``reference_hz``, is
aimed at the nearest note of ``key`` and ``scale``; the note aimed at is kept until
another is nearer by 40 cents (a +-50 cent vibrato on a note 20 cents sharp does not
flip to the next semitone; a sung step of a semitone switches at once).  The
correction glides towards that note's with a one-pole time constant: ``retune_ms``
(0: at once), plus ``humanize`` x 400 ms once the note has been held 0.25 s (in
proportion before that).  So a short note is pulled in at the retune speed and a
sustained one, after its first quarter second, follows its target only slowly: a
5.5 Hz vibrato passes it (a 400 ms glide takes 0.3 % of it) while its centre is
still brought onto the note.  A note within 1 cent of its target is not corrected;
a frame where a note starts or ends (one half of its window 6 dB under the other)
keeps the correction as it was.

**Resynthesis** is TD-PSOLA: grains two periods long, taken one detected period
apart (from the largest peak at a note's start), are laid one corrected period
apart, so the pitch moves and the spectral envelope (the formants) stays; each is
scaled by the ratio of the periods, so the level stays too.  Where nothing is
corrected the grains are laid where they were taken and their window halves sum to
one: the input is copied out as it went in, bit for bit, so a voice already in tune,
and every unvoiced stretch, passes untouched (a dry path in parallel nulls exactly).

**Polyphonic input** is not separated.  A chord has no one period, reads as unvoiced
and passes through uncorrected (a major triad, a third or a second throughout; a
minor triad or a seventh chord all but a few frames); two notes a fifth, a fourth or
an octave apart read as one note at their common fundamental and are moved together.

**A non-finite input sample** (NaN, infinity) counts as unvoiced: the detector hears
silence in its place, restarting its low-pass from rest, so detection recovers right
after it; no frame whose window holds it is corrected, and no grain carries it
elsewhere.  It comes out at its own place as it went in (a NaN stays a NaN, for the
output's check to catch); every other sample out is finite.

Every channel is resynthesised with the same marks, found on the channels' sum (one
voice on two microphones stays one image; a surround stem renders the same way).
The latency (66 ms at 48 kHz with ``min_hz`` 70: the detection window, a grain
either side and one analysis hop) is declared and compensated.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Context, Node, Param, register

KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
#: semitones above the key of each scale's notes
SCALES = {
    "chromatic": tuple(range(12)),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}
HOP_S = 0.004                 # an analysis frame every 4 ms
DECIMATED_HZ = 12000          # YIN runs at the rate // (rate // this)


def _number(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _arr(v) -> np.ndarray:
    return np.ascontiguousarray(np.atleast_1d(np.asarray(v, dtype=np.float64)))


def _power_of_two(n: int) -> int:
    return 1 << max(1, int(n - 1).bit_length())


@register
class PitchCorrect(Node):
    """Pitch correction of a monophonic voice or instrument: YIN detection, each note
    pulled towards the nearest note of a key and scale at a retune speed, PSOLA
    resynthesis that keeps the formants (see the module notes for the whole design).
    The report gives the mean correction over voiced frames in cents, the largest, and
    the seconds found voiced."""

    type_name = "pitch_correct"
    category = "pitch"
    kernels = ("pitch.pitch_correct",)
    cost = 8                 # ~100x realtime on a mono voice, where a compressor runs 950x
    summary = "pitch correction: notes pulled to a key and scale, formants kept (PSOLA)"
    params = (
        Param("key", "C", kind="choice", choices=KEYS, doc="the scale's key note"),
        Param("scale", "chromatic", kind="choice", choices=tuple(SCALES),
              doc="the notes a pitch is pulled to (chromatic: every semitone)"),
        Param("retune_ms", 20.0, min=0.0, max=1000.0, unit="ms",
              doc="time constant of the glide onto the note: 0 = at once, 400 = gentle"),
        Param("humanize", 0.0, min=0.0, max=1.0,
              doc="adds up to 400 ms to the retune time of a note held over 0.25 s, so "
                  "its vibrato survives"),
        Param("reference_hz", 440.0, min=400.0, max=480.0, unit="Hz",
              doc="the tuning: the frequency of A4"),
        Param("min_hz", 70.0, min=40.0, max=400.0, unit="Hz", automatable=False,
              doc="lowest pitch detected (sets the latency: lower is longer)"),
        Param("max_hz", 1000.0, min=100.0, max=2000.0, unit="Hz", automatable=False,
              doc="highest pitch detected"),
        Param("confidence", 0.85, min=0.5, max=0.99, automatable=False,
              doc="periodicity a frame needs to be corrected (1 - YIN's aperiodicity); "
                  "less periodic frames, breaths and consonants, pass untouched"),
    )

    @classmethod
    def check_params(cls, values, sample_rate):
        low = _number(values.get("min_hz", 70.0))
        high = _number(values.get("max_hz", 1000.0))
        out = []
        if low is not None and high is not None and high < 2.0 * low:
            out.append(f"max_hz must be at least twice min_hz (an octave of range), got "
                       f"min_hz {low:g} and max_hz {high:g}")
        if high is not None and sample_rate and high > sample_rate / 8.0:
            out.append(f"max_hz must be at most an eighth of the sample rate "
                       f"({sample_rate / 8.0:g} Hz), got {high:g}")
        return out

    # --------------------------------------------------------------- lifecycle
    def prepare(self, ctx: Context):
        from scipy.signal import butter

        from .kernels.pitch import (C_DECIMATE, C_HALF, C_HOP, C_LAG_HI, C_LAG_LO,
                                    C_LATENCY, C_LONGEST, C_REFINE, C_SPAN, C_UNVOICED,
                                    C_WIDTH)

        self.rate = rate = ctx.sample_rate
        self._channels = ctx.input_channels[0] or 1
        decimate = max(1, rate // DECIMATED_HZ)
        hop = decimate * max(1, round(HOP_S * rate / decimate))
        lag_lo = max(2, int(rate / decimate / self.max_hz))
        lag_hi = int(math.ceil(rate / decimate / self.min_hz)) + 1
        width = lag_hi                          # the window holds the longest period
        span = width + lag_hi + 2
        reach = decimate + 1
        top = decimate * (lag_hi + 1) + 1       # the largest full-rate lag refined
        half = (width * decimate + top) // 2 + reach + 2
        longest = top + reach + 1               # the longest period a frame reports
        unvoiced = min(hop, longest)
        latency = hop + half + math.ceil(3.25 * longest) + 4
        layout = np.zeros(11, dtype=np.int64)
        for index, value in ((C_DECIMATE, decimate), (C_HOP, hop), (C_WIDTH, width),
                             (C_LAG_LO, lag_lo), (C_LAG_HI, lag_hi), (C_SPAN, span),
                             (C_REFINE, reach), (C_HALF, half), (C_LATENCY, latency),
                             (C_UNVOICED, unvoiced), (C_LONGEST, longest)):
            layout[index] = value
        self._layout = layout
        self._latency = latency
        self._longest = longest
        self._hop = hop
        self._size = _power_of_two(2 * (latency + 6 * longest + decimate * span + hop))
        self._decimated_size = _power_of_two(span + 8)
        self._frames = _power_of_two(4 * ((latency + 4 * longest) // hop + 4))
        self._marks = _power_of_two(2 * (latency // max(lag_lo * decimate, 2) + 8))
        self._work = max(span + 2 * lag_hi + 4, width * decimate + top + 3 * reach + 3)
        if decimate > 1:
            sos = butter(4, 0.4 * rate / decimate, fs=rate, output="sos")
        else:
            sos = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]] * 2)
        self._sos = np.ascontiguousarray(sos, dtype=np.float64)
        allowed = np.zeros(12, dtype=np.int64)
        for step in SCALES[self.scale]:
            allowed[(KEYS.index(self.key) + step) % 12] = 1
        self._allowed = allowed
        self._threshold = 1.0 - self.confidence
        self.reset()
        return (self._channels,)

    def reset(self):
        from .kernels.pitch import (FLOAT_STATE, INT_STATE, K_LAST, M_POS, NOTE,
                                    S_NEXT, SYNCED)

        self._ring = np.zeros((self._channels, self._size))
        self._acc = np.zeros((self._channels, self._size))
        self._dry = np.zeros(self._size)
        self._bad = np.zeros(self._size, dtype=np.int64)
        self._lowpassed = np.zeros(self._size)
        self._decimated = np.zeros(self._decimated_size)
        self._frame_ring = np.zeros((self._frames, 4))
        self._mark_ring = np.zeros((self._marks, 4))
        self._mark_ring[0, M_POS] = -float(min(self._hop, self._longest))
        self._mark_ring[1, M_POS] = 0.0
        self._int_state = np.zeros(INT_STATE, dtype=np.int64)
        self._int_state[K_LAST] = 1
        self._int_state[SYNCED] = 1
        self._int_state[NOTE] = -1
        self._float_state = np.zeros(FLOAT_STATE)
        self._float_state[S_NEXT] = 0.0
        self._scratch = np.zeros(self._work)
        self._figures = np.zeros(3)

    def latency(self) -> int:
        return getattr(self, "_latency", 0)

    def tail(self) -> float:
        # a grain laid up to three quarters of a period later than it was taken, and
        # reaching one and a half periods on
        return 2.5 * getattr(self, "_longest", 0) / self.rate if self.rate else 0.0

    def process(self, ins, outs, start):
        from .kernels.pitch import pitch_correct

        (x,), (out,) = ins, outs
        retune, humanize, reference = self.derived(
            self._controls, ("retune_ms", "humanize", "reference_hz"), start, x.shape[1])
        pitch_correct(x, out, self._ring, self._lowpassed, self._decimated, self._acc,
                      self._dry, self._bad, self._frame_ring, self._mark_ring,
                      self._int_state, self._float_state, self._figures, self._sos, retune, humanize,
                      reference, self._allowed, self._layout, float(self.rate),
                      self._threshold, self._scratch)

    def _controls(self, retune_ms, humanize, reference_hz):
        """The kernel's arrays (kept while nothing is automated)."""
        return _arr(retune_ms), _arr(humanize), _arr(reference_hz)

    @property
    def grains_late(self) -> int:
        """Grains that reached the output after their first sample had gone out: 0
        unless the declared latency were too short (the tests' check on it)."""
        from .kernels.pitch import LATE

        return int(self._int_state[LATE])

    def report(self) -> dict | None:
        if not hasattr(self, "_figures"):
            return None
        total, frames, largest = (float(v) for v in self._figures)
        return {"correction_mean_cents": round(total / frames, 2) if frames else 0.0,
                "correction_max_cents": round(largest, 2),
                "voiced_s": round(frames * self._hop / self.rate, 3)}
