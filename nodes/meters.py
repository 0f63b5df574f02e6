"""Loudness and level metering (ITU-R BS.1770-4, EBU R 128, EBU Tech 3341 / 3342).

:class:`LoudnessMeter` is the one implementation behind the ``meter`` node, the
loudness figures of every output in the render report, and ``mixgraph meter``.  It
takes ``(channels, frames)`` blocks of any size and gives:

- ``integrated_lufs``: K-weighted, gated (400 ms blocks every 100 ms; absolute gate
  -70 LUFS, relative gate -10 LU);
- ``momentary_max_lufs`` (400 ms) and ``short_term_max_lufs`` (3 s): the windows
  slide in 10 ms steps, so a maximum is found wherever a burst falls;
- ``lra_lu``: loudness range (EBU Tech 3342): short-term values every 100 ms,
  absolute gate -70 LUFS, relative gate -20 LU, 95th minus 10th percentile;
- ``true_peak_dbtp``: the sharper of the limiter's two interpolators
  (:mod:`mixgraph.nodes.truepeak` ``METER``: 256 zero crossings each side, local
  maxima refined by parabolas), at 4x whatever the rate, which meets BS.1770-4 Annex 2 and
  reads dense full-band material within EBU Tech 3341's +0.2 / -0.4 dB of a 32x
  reference (a 32-crossing 4x interpolator read it up to 2.2 dB low);
  ``sample_peak_dbfs``;
- ``rms_dbfs`` over all channels (a full-scale sine reads -3.01 dBFS);
- ``correlation``: phase correlation of a stereo signal (+1 mono-compatible, 0
  unrelated, -1 out of phase), and ``correlation_min`` over 3 s windows.

Silence reads ``-inf``.  Mono is measured as one channel of weight 1 (BS.1770).
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path

import numpy as np

from .base import DTYPE, Context, Node, Param, register
from .stream import Batcher, SongWindow
from .truepeak import TruePeakReading

ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
LRA_RELATIVE_GATE = -20.0
OFFSET = -0.691
STEP_S = 0.01                         # the meter's time grid
CORRELATION_FLOOR = 1e-6              # mean square below -60 dBFS: not enough to correlate
TRUE_PEAK_FACTOR = 4                  # the shared detector at 4x, refined (see truepeak)


def k_weighting(rate: int) -> np.ndarray:
    """The two K-weighting stages (high shelf, then RLB highpass) as sos at ``rate``.

    From the analog prototypes behind BS.1770's 48 kHz coefficients (shelf 1681.97 Hz,
    +4.0 dB, Q 0.7072; highpass 38.135 Hz, Q 0.5003), bilinear-transformed.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
             (vh - vb * k / q + k * k) / a0, 1.0, 2.0 * (k * k - 1.0) / a0,
             (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


class LoudnessMeter:
    """Streaming BS.1770-4 / EBU R 128 meter; ``add`` blocks, then read ``result()``."""

    #: the compiled kernels it runs (K-weighting, its windows, the true peak)
    KERNELS = ("filters.biquad_cascade", "filters.window_sums", "master.refined_peaks")

    def __init__(self, rate: int, channels: int):
        from .eq import Cascade
        from .layouts import BY_CHANNELS

        self.rate = rate
        self.channels = channels
        self.sos = k_weighting(rate)
        self.weighting = Cascade([(st[:3], st[3:]) for st in self.sos], channels)
        # BS.1770-4's channel weights: all 1 up to stereo; a surround layout's
        # surrounds 1.41, its LFE left out
        self.weights = BY_CHANNELS[channels].weights if channels > 2 else None
        # a surround signal's true peak per channel (every channel's is reported)
        self.true_peaks = [TruePeakReading(1, TRUE_PEAK_FACTOR) for _ in range(channels)] \
            if channels > 2 else None
        self.true_peak = None if self.true_peaks else TruePeakReading(channels,
                                                                      TRUE_PEAK_FACTOR)
        self.channel_peaks = np.zeros(channels)
        self.frames = 0
        self._batch = Batcher(self._measure)
        self.sample_peak = 0.0
        self.sum_squares = 0.0
        self.cross = np.zeros(3)                       # sums of LL, RR, LR
        self.correlation_min = math.inf
        # the 10 ms grid, per step: energy (sum over channels of K-weighted squares),
        # frames, and the sums of LL, RR and LR (stereo)
        self._steps = 0
        self._energy = np.zeros(1024)
        self._length = np.zeros(1024)
        self._cross = np.zeros((3, 1024))
        self._acc = 0.0
        self._acc_n = 0
        self._acc_cross = np.zeros(3)
        self.gating_blocks: list[float] = []           # 400 ms mean squares every 100 ms
        self.short_term: list[float] = []              # 3 s mean squares every 100 ms
        self.momentary_max = 0.0
        self.short_term_max = 0.0

    @property
    def step_energy(self) -> np.ndarray:
        return self._energy[:self._steps]

    @property
    def step_len(self) -> np.ndarray:
        return self._length[:self._steps]

    # ----------------------------------------------------------------- input
    def add(self, x: np.ndarray) -> None:
        """Measure the next block, shape (channels, n) (blocks shorter than 8192 frames
        are kept until that many have come)."""
        self._batch.add(np.asarray(x, dtype=DTYPE))

    def _measure(self, x: np.ndarray) -> None:
        n = x.shape[1]
        if n == 0:
            return
        self.sample_peak = max(self.sample_peak, float(x.max()), -float(x.min()))
        if self.true_peaks is None:
            self.true_peak.add(x)
        else:
            np.maximum(self.channel_peaks, np.abs(x).max(axis=1), out=self.channel_peaks)
            for reading, row in zip(self.true_peaks, x):
                reading.add(row[None, :])
        y = np.empty_like(x)
        self.weighting.process(x, y)
        np.multiply(y, y, out=y)
        if self.weights is not None:
            power = self.weights @ y
        else:
            power = y.sum(axis=0) if self.channels > 1 else y[0]   # weights all 1
        stereo = self.channels == 2
        if stereo:                                     # LL, RR, LR: also the RMS
            raw = np.empty((3, n))
            np.multiply(x, x, out=raw[:2])
            np.multiply(x[0], x[1], out=raw[2])
            self.sum_squares += float(raw[:2].sum())
        else:
            raw = None
            self.sum_squares += float(np.vdot(x, x))
        # where 10 ms steps end inside this block
        cuts = []
        while True:
            end = self._boundary(self._steps + len(cuts) + 1) - self.frames
            if end > n:
                break
            cuts.append(end)
        starts = [0] + [c for c in cuts if c < n]
        energy = np.add.reduceat(power, starts)
        cross = np.add.reduceat(raw, starts, axis=1).T if stereo else None
        lengths = np.diff(starts + [n])
        self.frames += n
        if not cuts:
            self._acc += float(energy[0])
            self._acc_n += n
            if stereo:
                self._acc_cross += cross[0]
            return
        closed = len(cuts)
        energy[0] += self._acc
        lengths[0] += self._acc_n
        if stereo:
            cross[0] += self._acc_cross
        more = len(starts) > closed                     # a step left open at the end
        self._acc = float(energy[-1]) if more else 0.0
        self._acc_n = int(lengths[-1]) if more else 0
        self._acc_cross = cross[-1].copy() if more and stereo else np.zeros(3)
        self._close_steps(energy[:closed], lengths[:closed],
                          cross[:closed] if stereo else None)

    def _boundary(self, k: int) -> int:
        """Frame at which step k (from 1) ends."""
        return int(round(k * STEP_S * self.rate))

    def _close_steps(self, energy: np.ndarray, lengths: np.ndarray, cross) -> None:
        """Record finished steps; update the windows that end on them."""
        first, count = self._steps, energy.size
        if first + count > self._energy.size:
            grow = max(2 * self._energy.size, first + count)
            for name in ("_energy", "_length"):
                new = np.zeros(grow)
                new[:first] = getattr(self, name)[:first]
                setattr(self, name, new)
            new = np.zeros((3, grow))
            new[:, :first] = self._cross[:, :first]
            self._cross = new
        self._energy[first:first + count] = energy
        self._length[first:first + count] = lengths
        if cross is not None:
            self._cross[:, first:first + count] = cross.T
            self.cross += cross.sum(axis=0)
        self._steps = first + count
        k = np.arange(first + 1, first + count + 1)      # step numbers, from 1
        ends = k[k >= 40]
        if ends.size:
            m = self._windows(self._energy, 40, ends) / self._windows(self._length, 40, ends)
            self.momentary_max = max(self.momentary_max, float(m.max()))
            self.gating_blocks.extend(m[ends % 10 == 0].tolist())
        ends = k[k >= 300]
        if ends.size:
            frames = self._windows(self._length, 300, ends)
            st = self._windows(self._energy, 300, ends) / frames
            self.short_term_max = max(self.short_term_max, float(st.max()))
            tenth = ends % 10 == 0
            self.short_term.extend(st[tenth].tolist())
            if cross is not None and tenth.any():
                last = ends[tenth]
                c = [self._windows(self._cross[i], 300, last) for i in range(3)]
                ok = np.minimum(c[0], c[1]) / frames[tenth] > CORRELATION_FLOOR
                if ok.any():
                    r = c[2][ok] / np.sqrt(c[0][ok] * c[1][ok])
                    self.correlation_min = min(self.correlation_min, float(r.min()))

    @staticmethod
    def _windows(values: np.ndarray, width: int, ends: np.ndarray) -> np.ndarray:
        """Sums of ``width`` consecutive steps of ``values``, ending at each step
        number in ``ends`` (from 1)."""
        from .kernels.filters import window_sums

        out = np.empty(ends.size)
        window_sums(values, width, ends, out)
        return out

    # ---------------------------------------------------------------- output
    def result(self) -> dict:
        """The figures so far (a partial last step counts for peaks and RMS only)."""
        self._batch.flush()
        total = self.frames
        gated = _gated_mean(self.gating_blocks)
        out = {
            "duration_s": total / self.rate,
            "integrated_lufs": _lufs(gated),
            "momentary_max_lufs": _lufs(self.momentary_max),
            "short_term_max_lufs": _lufs(self.short_term_max),
            "lra_lu": loudness_range(self.short_term),
            "true_peak_dbtp": _db(max(self.true_peak_value(), self.sample_peak)),
            "sample_peak_dbfs": _db(self.sample_peak),
            "rms_dbfs": _db(math.sqrt(self.sum_squares / (total * self.channels)))
            if total else -math.inf,
            "correlation": None,
            "correlation_min": None,
        }
        if self.true_peaks is not None:
            from .layouts import BY_CHANNELS

            out["channel_peaks"] = {
                speaker: {"true_peak_dbtp": _db(max(reading.peak, float(sample))),
                          "sample_peak_dbfs": _db(float(sample))}
                for speaker, reading, sample in zip(BY_CHANNELS[self.channels].speakers,
                                                    self.true_peaks, self.channel_peaks)}
        if self.channels == 2:
            c = self.cross + self._acc_cross
            if total and min(c[0], c[1]) / total > CORRELATION_FLOOR:
                out["correlation"] = float(c[2] / math.sqrt(c[0] * c[1]))
            if math.isfinite(self.correlation_min):
                out["correlation_min"] = float(self.correlation_min)
            elif out["correlation"] is not None:
                out["correlation_min"] = out["correlation"]
        return out

    def true_peak_value(self) -> float:
        """The true peak so far, as a magnitude (the largest of every channel's)."""
        if self.true_peaks is None:
            return self.true_peak.peak
        return max(reading.peak for reading in self.true_peaks)

    def momentary_now(self) -> float:
        """The momentary loudness (400 ms) ending at the newest 100 ms step measured."""
        return _lufs(self.gating_blocks[-1]) if self.gating_blocks else -math.inf

    def short_term_now(self) -> float:
        """The short-term loudness (3 s) ending at the newest 100 ms step measured."""
        return _lufs(self.short_term[-1]) if self.short_term else -math.inf

    def series(self) -> dict:
        """Momentary and short-term loudness every 100 ms (for plots)."""
        self._batch.flush()
        e, n = self.step_energy, self.step_len

        def windowed(steps):
            if len(e) < steps:
                return np.array([])
            ce, cn = np.cumsum(e), np.cumsum(n)
            s = ce[steps - 1:] - np.concatenate(([0.0], ce[:-steps]))
            c = cn[steps - 1:] - np.concatenate(([0.0], cn[:-steps]))
            ms = s / c
            with np.errstate(divide="ignore"):
                return np.where(ms > 0, OFFSET + 10 * np.log10(ms), -np.inf)

        m, s = windowed(40)[::10], windowed(300)[::10]
        return {"step_s": 0.1, "momentary_lufs": m.tolist(), "short_term_lufs": s.tolist(),
                "momentary_start_s": 0.4, "short_term_start_s": 3.0}


class MomentaryBank:
    """The momentary loudness (BS.1770 K-weighting, 400 ms, ungated) of many signals at
    once, for live meters: their blocks come stacked, one row per channel
    (:meth:`add`), and are filtered in one pass.  The window ends at the newest block
    and holds whole blocks (at most one block longer than 400 ms).  :meth:`layout`
    says which signal each group of rows is; a signal that stays, as wide, keeps its
    filter state and history."""

    def __init__(self, rate: int):
        self.rate = rate
        self.window = int(round(0.4 * rate))
        self.sos = k_weighting(rate)
        self.keys: tuple = ()
        self.widths: tuple[int, ...] = ()
        self.starts = np.zeros(0, dtype=np.intp)
        self.weighting = None
        self.energy: deque = deque()                  # per block: energy per signal
        self.frames: deque = deque()                  # per block: its length
        self.seen = np.zeros(0)                       # frames each signal has had
        self.scratch = np.empty((0, 0), dtype=DTYPE)

    def layout(self, keys: tuple, widths: tuple[int, ...]) -> None:
        """The signals the rows are, in order, and their channel counts."""
        if (keys, widths) == (self.keys, self.widths):
            return
        from .eq import Cascade

        old = {k: (start, w, i) for i, (k, start, w)
               in enumerate(zip(self.keys, self.starts, self.widths))}
        weighting = Cascade([(st[:3], st[3:]) for st in self.sos], int(sum(widths)))
        starts = np.concatenate(([0], np.cumsum(widths)[:-1])).astype(np.intp) \
            if widths else np.zeros(0, dtype=np.intp)
        kept = np.full(len(keys), -1)
        for i, (k, start, w) in enumerate(zip(keys, starts, widths)):
            if k in old and old[k][1] == w:
                kept[i] = old[k][2]
                weighting.state[start:start + w] = \
                    self.weighting.state[old[k][0]:old[k][0] + w]
        carry = kept >= 0
        self.energy = deque(np.where(carry, e[np.maximum(kept, 0)], 0.0)
                            for e in self.energy)
        self.seen = np.where(carry, self.seen[np.maximum(kept, 0)] if len(self.seen)
                             else 0.0, 0.0)
        self.keys, self.widths, self.starts, self.weighting = keys, widths, starts, weighting

    def add(self, stack: np.ndarray) -> None:
        """The next block of every signal, stacked (rows as :meth:`layout` said)."""
        if not self.keys:
            return
        if self.scratch.shape != stack.shape:
            self.scratch = np.empty(stack.shape, dtype=DTYPE)
        y = self.scratch
        self.weighting.process(stack, y)
        energy = np.add.reduceat(np.einsum("ij,ij->i", y, y), self.starts)
        n = stack.shape[1]
        self.energy.append(energy)
        self.frames.append(n)
        self.seen = self.seen + n
        while sum(self.frames) - self.frames[0] >= self.window:
            self.energy.popleft()
            self.frames.popleft()

    def now(self) -> np.ndarray:
        """LUFS per signal over the last 400 ms; -inf for one that has not had 400 ms
        yet, or is silent."""
        if not self.energy:
            return np.full(len(self.keys), -math.inf)
        mean = sum(self.energy) / sum(self.frames)
        with np.errstate(divide="ignore"):
            lufs = OFFSET + 10.0 * np.log10(np.maximum(mean, 0.0))
        return np.where(self.seen >= self.window, lufs, -math.inf)


def _lufs(mean_square: float) -> float:
    return OFFSET + 10.0 * math.log10(mean_square) if mean_square > 0 else -math.inf


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(amplitude) if amplitude > 0 else -math.inf


def _gated_mean(blocks: list[float]) -> float:
    """BS.1770-4 gating: mean of the blocks above -70 LUFS and above (their mean - 10 LU)."""
    z = np.array(blocks)
    if z.size == 0:
        return 0.0
    absolute = 10 ** ((ABSOLUTE_GATE - OFFSET) / 10)
    z = z[z > absolute]
    if z.size == 0:
        return 0.0
    relative = z.mean() * 10 ** (RELATIVE_GATE / 10)
    z = z[z > relative]
    return float(z.mean()) if z.size else 0.0


def loudness_range(short_term: list[float]) -> float:
    """EBU Tech 3342 LRA (LU) from short-term mean squares; 0 if too little remains."""
    z = np.array(short_term)
    absolute = 10 ** ((ABSOLUTE_GATE - OFFSET) / 10)
    z = z[z > absolute]
    if z.size < 2:
        return 0.0
    relative = z.mean() * 10 ** (LRA_RELATIVE_GATE / 10)
    z = z[z > relative]
    if z.size < 2:
        return 0.0
    levels = OFFSET + 10 * np.log10(z)
    low, high = np.percentile(levels, [10, 95])
    return float(high - low)


def meter_file(path: Path, block: int = 65536, series: bool = False, order: str = "") -> dict:
    """Every figure of :class:`LoudnessMeter` for an audio file, read in blocks
    (with ``series``: also the loudness over time, under the key ``series``), with
    what the file is as libsndfile reads it, under the keys of an output's report:
    ``format`` (lower case: ``wav``, ``flac``, ``aiff`` ...), ``subtype``,
    ``sample_rate``, ``channels``, ``frames``, and ``clipped_samples``: the samples
    at full scale (either end) of an integer format, where anything louder was
    clipped to (0 for a float file).  A sample that is not a finite number is an
    error naming its time: such a file has no loudness (and would not be silence).
    A multichannel file is read in the internal channel order (``order``: its
    speakers as the file holds them, where it has no channel mask), its loudness
    weighted by its layout (the LFE left out), its peaks also per channel
    (``channel_peaks``)."""
    from .audiofile import AudioReader, channel_order, full_scale, info
    from .layouts import channels_problem, layout_name
    from mixgraph.errors import AudioFileError

    path = Path(path)
    found = info(path)
    reader = AudioReader(path)
    top = full_scale(found.subtype)
    clipped = 0
    try:
        if (problem := channels_problem(reader.channels)) is not None:
            raise AudioFileError(f"{path} {problem}", path=str(path))
        reader.reorder(channel_order(path, reader.channels, order, reader.container))
        meter = LoudnessMeter(reader.rate, reader.channels)
        buffer = np.empty((reader.channels, block))
        for start in range(0, reader.frames, block):
            part = buffer[:, :min(block, reader.frames - start)]
            reader.read_into(part)
            meter.add(part)
            if top is not None:
                clipped += int(np.count_nonzero((part >= top) | (part <= -1.0)))
    finally:
        reader.close()
    figures = meter.result()
    result = dict(path=str(path), format=found.format.lower(), subtype=found.subtype,
                  sample_rate=reader.rate, channels=reader.channels,
                  layout=layout_name(reader.channels), frames=meter.frames,
                  **figures, clipped_samples=clipped)
    if series:
        result["series"] = meter.series()
    return result


@register
class Meter(Node):
    """Passes audio through unchanged and measures it for the render report: loudness
    (integrated, momentary and short-term maxima, LRA), true and sample peak, RMS and
    phase correlation."""

    type_name = "meter"
    category = "meters"
    kernels = LoudnessMeter.KERNELS
    cost = 6
    summary = "measures loudness, peaks, RMS and correlation; passes audio through"
    params = (Param("label", "", kind="str", doc="name shown in the report"),)

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        self._content = ctx.content_frames
        self._channels = chans[0]
        self.reset()
        return chans

    def reset(self):
        self._meter = LoudnessMeter(self.rate, self._channels)
        # measures the song and its own tail, as an output would write it; not the
        # silence that runs on while other branches finish their tails
        self._window = SongWindow(self._content)

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        out[:] = x
        for part in self._window.feed(x, start):
            self._meter.add(part)

    def report(self) -> dict:
        figures = self._meter.result()
        if self.label:
            figures = dict(label=self.label, **figures)
        return figures
