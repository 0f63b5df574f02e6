"""True-peak detection: the one interpolator behind the limiter's detector, the loudness
stage's reading of its input, and every meter (the ``meter`` node, output reports,
``mixgraph meter``).

The signal is interpolated by ``factor`` with a long windowed-sinc filter cut off at
the input's Nyquist frequency, and each local maximum of the interpolated magnitude
is refined by the parabola through it and its two neighbours.  A short interpolator
cannot read dense full-band material: the 4x, 32-crossing filter the meter had
before (flat only to 16 kHz at 48 kHz) read tanh-clipped noise 2.2 dB low against a
32x reference, and a 64-crossing one, with a 2.4 kHz wide transition, 0.2-0.3 dB low,
because much of such a signal's overshoot is made by its last kilohertz below
Nyquist.  ``SHARP`` (256 zero crossings each side, Kaiser beta 8: a transition about
0.5 kHz wide, images 80 dB down) reads such material within 0.1 dB of a 32x,
256-crossing reference, and tones up to 20 kHz within 0.04 dB at 4x (0.003 dB at 8x).

No reading of full-band noise is final: the peaks of a signal with as much energy
at Nyquist as anywhere are made by long runs of samples, so every longer or sharper
interpolator reads them higher (by 0.1-0.5 dB from 256 crossings to an ideal one).
What a limiter must hold is the reading of an interpolator of the kind a meter uses,
and a limiter that watches one interpolator removes what that one sees and leaves
what others see: limited with the sharp one alone, clipped noise read 0.5 dB over
its ceiling through a 16x, 64-crossing reference, and 0.5 dB over through a 32x
sharp one when limited with that 64-crossing kind alone.  So the limiter watches
both (``LIMITER``: the larger of ``SHARP`` and ``WIDE`` around each sample), and
holds its ceiling by either kind of reading.

The interpolation runs by overlap-save on fixed partitions of the input (FFTs in
single precision: a relative error near 1e-7), so a reading never depends on how the
signal is cut into blocks.
"""

from __future__ import annotations

import copy

import numpy as np

from .convolution import PartitionStream

SHARP = (256, 8.0)              # zero crossings each side, Kaiser beta
WIDE = (64, 10.0)               # a 2.4 kHz transition about Nyquist at 48 kHz
METER = (SHARP,)
LIMITER = (SHARP, WIDE)
HALF = max(c for c, _ in LIMITER)   # every interpolator is centred in 2 * HALF + 1 taps
PARTITION = 2048                # input frames per FFT pass (part of the delay); 1024
#                                 costs 18 % more per frame (Python per pass)
READING_PARTITION = 8192        # a meter's: no one waits on it, and it costs 15 % less
_spectra_cache: dict[tuple, np.ndarray] = {}


def interpolator(factor: int, crossings: int, beta: float) -> np.ndarray:
    """An interpolating lowpass by ``factor``, cut off at the input's Nyquist frequency,
    ``crossings`` zero crossings each side (2 * factor * crossings + 1 taps, odd: a
    delay of exactly ``crossings`` input samples), Kaiser window of shape ``beta``,
    gain ``factor``: phase 0 (every factor-th tap from the centre) is a unit impulse,
    so the input samples pass unchanged."""
    from .firdesign import kaiser_lowpass

    n = 2 * factor * crossings + 1
    return kaiser_lowpass(n, 1.0 / factor, beta) * factor


def detector_spectra(factor: int, filters=METER, partition: int = PARTITION) -> np.ndarray:
    """Spectra (len(filters), factor - 1, m//2 + 1) of phases 1 .. factor-1 of each
    :func:`interpolator` (centred in 2 * HALF + 1 taps per phase), for transforms of
    m = partition + 2 * HALF points (overlap-save: each transform yields ``partition``
    outputs).  Phase 0 is the input itself, so it is not transformed: the detector
    takes the samples directly."""
    key = (factor, tuple(filters), partition)
    if key not in _spectra_cache:
        k = 2 * HALF + 1                                           # taps per phase
        rows = []
        for crossings, beta in filters:
            h = interpolator(factor, crossings, beta)
            padded = np.zeros(k * factor)
            at = (HALF - crossings) * factor
            padded[at:at + h.size] = h
            poly = padded.reshape(k, factor).T                     # (factor, k)
            rows.append(np.fft.rfft(poly[1:], n=partition + k - 1, axis=1))
        _spectra_cache[key] = np.array(rows).astype(np.complex64)
    return _spectra_cache[key]


class TruePeakEnvelope(PartitionStream):
    """Per-sample true-peak envelope (max over channels and ``filters``) of a stream.

    The value for a sample is the largest interpolated magnitude over the intervals
    on both sides of it (refined by parabolas: a peak between interpolated points is
    missed by at most 0.003 dB at 8x, 0.04 dB at 4x, for content up to 20 kHz at
    48 kHz), and arrives ``delay`` samples late (partition, interpolator delay and one
    sample for the interval after).
    """

    def __init__(self, channels: int, factor: int = 8, filters=LIMITER,
                 partition: int = PARTITION):
        # imported as the node is prepared, not at the first partition, while a render
        # writes (a tenth of a second, and a stop could break into it)
        import scipy.fft  # noqa: F401

        self.channels = channels
        self.factor = factor
        self.filters = tuple(filters)
        self.spectra = detector_spectra(factor, self.filters, partition)
        self.partition = partition
        self.history = 2 * HALF                     # interpolator taps per phase, less one
        self.delay = partition + HALF + 1
        self.reset()

    def reset(self) -> None:
        self._reset_stream(self.channels, (self.partition,))
        self._raw = np.zeros((self.channels, HALF))
        # per interpolator and channel, |last phase| of the last sample
        self._last = np.zeros((len(self.filters), self.channels))
        self._previous = 0.0

    def process(self, x: np.ndarray) -> np.ndarray:
        env = np.empty(x.shape[1])
        self._stream(x, env)
        return env

    def _partition(self) -> np.ndarray:
        from scipy import fft

        from .kernels.master import refined_peaks

        P, H = self.partition, self.history
        spectrum = fft.rfft(self._window[:, P - H:].astype(np.float32), axis=1)
        # the samples themselves (phase 0), delayed to where their interval is
        joined = np.concatenate((self._raw, self._window[:, P:]), axis=1)
        env = np.empty(P)
        each = np.empty(P)
        for f, spectra in enumerate(self.spectra):
            phases = fft.irfft(spectrum[:, None, :] * spectra[None], n=P + H,
                               axis=2)[:, :, H:]                     # (ch, factor-1, P)
            refined_peaks(phases, joined, self._last[f], env if f == 0 else each)
            if f:
                np.maximum(env, each, out=env)
        self._raw = joined[:, P:]
        self._window[:, :P] = self._window[:, P:]
        both = np.maximum(env, np.concatenate(([self._previous], env[:-1])))
        self._previous = float(env[-1])
        return both


class TruePeakReading:
    """The running true peak of a stream (a meter's reading): :meth:`add` blocks of any
    size; :attr:`peak` is the largest magnitude of the interpolated signal so far,
    including the interpolation past its last sample (the signal followed by
    silence, as a file that ends there is played)."""

    def __init__(self, channels: int, factor: int = 4, filters=METER):
        self.envelope = TruePeakEnvelope(channels, factor, filters, READING_PARTITION)
        self.channels = channels
        self._peak = 0.0

    def add(self, x: np.ndarray) -> None:
        if x.shape[1]:
            env = self.envelope.process(np.ascontiguousarray(x))
            self._peak = max(self._peak, float(env.max()))

    @property
    def peak(self) -> float:
        """The reading so far (the stream itself is left as it was)."""
        ending = copy.deepcopy(self.envelope)
        env = ending.process(np.zeros((self.channels, ending.delay)))
        return max(self._peak, float(env.max()))
