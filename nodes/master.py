"""Master-chain stages: limiter, loudness target, multiband compressor, linear-phase EQ,
fade and dither."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .base import Context, Items, Node, Param, db_to_gain, register
from .dynamics import (COMPRESSOR_PARAMS, LFE_APART, CompressorCore, GainReductionMeter,
                       time_coefficient)
from .layouts import LfeApart
from .meters import LoudnessMeter
from .eq import EQ_BANDS, response_db
from .stream import SongWindow
from .truepeak import LIMITER, TruePeakEnvelope, TruePeakReading

# ------------------------------------------------------------------ limiter
DETECT_FACTOR = 8                      # the limiter's detector: 8x (refined), see truepeak
DETECT_MARGIN_DB = 0.05                # the detector aims this far under the ceiling
HOLD = 32                              # samples the gain stays down on each side of a
#                                        peak: an inter-sample peak is made by the samples
#                                        around it, and a gain ramping under them changes
#                                        it (+0.15 dB at 0.5 ms of lookahead without)


class LimiterCore:
    """A linked lookahead brickwall limiter; the audio is delayed by ``latency``.

    The detector reads the true peak around each sample (8x oversampled and refined,
    or the sample peak); the gain comes from :func:`mixgraph.nodes.kernels.master.limiter_gain`:
    it ramps down over the lookahead and holds for ``HOLD`` samples on each side of a
    peak, so the audio is delayed by the lookahead, the hold and the detector.
    """

    def __init__(self, rate: int, channels: int, max_block: int, lookahead_ms: float,
                 true_peak: bool = True):
        from .delayline import DelayLine

        self.rate = rate
        self.channels = channels
        self.true_peak = true_peak
        self.window = max(1, int(round(lookahead_ms * rate / 1000.0))) + 1
        self.hold = HOLD if true_peak else 0
        self.span = self.window + 2 * self.hold
        self.detector = TruePeakEnvelope(channels, DETECT_FACTOR, LIMITER) if true_peak else None
        self.detect_delay = self.detector.delay if true_peak else 0
        self.latency = self.window - 1 + self.hold + self.detect_delay
        self.delay = DelayLine(channels, self.latency, max_block)
        self.meter = GainReductionMeter()
        self.reset()

    def reset(self) -> None:
        self.delay.reset()
        if self.detector is not None:
            self.detector.reset()
        self.dq_val = np.ones(self.span)
        self.dq_idx = np.zeros(self.span, dtype=np.int64)
        self.ring = np.ones(self.window)
        self.state = np.array([0.0, 0.0, 0.0, 0.0, float(self.window), 1.0])
        self.meter = GainReductionMeter()
        self.input_peak = 0.0

    def envelope(self, x: np.ndarray) -> np.ndarray:
        """Peak around each sample (max over channels), ``detect_delay`` samples late."""
        if self.detector is None:
            a = np.abs(x).max(axis=0)
            self.input_peak = max(self.input_peak, float(a.max(initial=0.0)))
            return a
        self.input_peak = max(self.input_peak, float(np.abs(x).max(initial=0.0)))
        return self.detector.process(x)

    def gain(self, x: np.ndarray, ceiling, alpha_release) -> np.ndarray:
        from .kernels.master import limiter_gain

        env = self.envelope(x)
        g = np.empty(x.shape[1])
        limiter_gain(env, g, _arr(ceiling), _arr(alpha_release), self.window, self.span,
                     self.dq_val, self.dq_idx, self.ring, self.state)
        return g

    def process(self, x: np.ndarray, out: np.ndarray, ceiling, alpha_release,
                start: int) -> None:
        g = self.gain(x, ceiling, alpha_release)
        delayed = self.delay.process(x)
        np.multiply(delayed, g, out=out)
        at = start - self.latency
        if g.min() >= 1.0:                    # no limiting in this block (the usual case)
            self.meter.add_none(g.shape[0], at)
        else:
            self.meter.add(-20.0 * np.log10(np.maximum(g, 1e-12)), at)


def _arr(v) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, dtype=np.float64))


def _detect_ceiling(ceiling_dbtp):
    return db_to_gain(np.asarray(ceiling_dbtp) - DETECT_MARGIN_DB) \
        if isinstance(ceiling_dbtp, np.ndarray) else db_to_gain(ceiling_dbtp - DETECT_MARGIN_DB)


@register
class Limiter(Node):
    """Lookahead brickwall limiter with true-peak detection: the output's true peak stays
    under the ceiling.  Declares its lookahead, hold and detector delay as latency."""

    type_name = "limiter"
    category = "master"
    kernels = ("master.limiter_gain", "master.refined_peaks")
    cost = 12                          # 9 before the detector read with two interpolators
    summary = "lookahead true-peak brickwall limiter"
    params = (
        Param("ceiling_dbtp", -1.0, min=-20.0, max=0.0, unit="dBTP",
              doc="highest true peak allowed out"),
        Param("release_ms", 80.0, min=1.0, max=2000.0, unit="ms", doc="release time constant"),
        Param("lookahead_ms", 2.0, min=0.5, max=20.0, unit="ms", automatable=False,
              doc="time the gain has to come down before a peak (it then holds 32 "
                  "samples either side of the peak, so the ceiling holds at any lookahead)"),
        Param("true_peak", True, kind="bool",
              doc="detect inter-sample peaks (8x oversampled, refined); false: sample "
                  "peaks"),
        LFE_APART,
    )

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        self._apart = LfeApart(chans[0], ctx.max_block) \
            if LfeApart.wanted(chans[0], self.lfe_apart) else None
        widths = (chans[0],) if self._apart is None else (chans[0] - 1, 1)
        self._cores = [LimiterCore(ctx.sample_rate, width, ctx.max_block, self.lookahead_ms,
                                   self.true_peak) for width in widths]
        self._core = self._cores[0]
        return chans

    def latency(self) -> int:
        return self._core.latency                    # the same for the LFE's (its width only)

    def reset(self):
        for core in self._cores:
            core.reset()

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        n = x.shape[1]
        # the detector looks at audio `detect_delay` samples old; the gain computed now
        # acts on audio `latency` samples old
        ceiling = self.derived(_detect_ceiling, ("ceiling_dbtp",),
                               start - self._core.detect_delay, n)
        release = self.derived(self._release, ("release_ms",), start - self._core.latency, n)
        if self._apart is None:
            self._core.process(x, out, ceiling, release, start)
            return
        for i, into, part_out in self._apart.parts(x, out):
            self._cores[i].process(into, part_out, ceiling, release, start)

    def _release(self, release_ms):
        return time_coefficient(release_ms, self.rate)

    def report(self) -> dict:
        figures = dict(self._core.meter.report(),
                       input_peak_dbfs=round(_db(max(c.input_peak for c in self._cores)), 2))
        if self._apart is not None:
            figures["lfe_gain_reduction_max_db"] = \
                self._cores[1].meter.report()["gain_reduction_max_db"]
        return figures

    def live_figures(self):
        return {"gain_reduction_db": max(c.meter.take_recent() for c in self._cores)}


def _db(a: float) -> float:
    return 20 * math.log10(a) if a > 0 else -math.inf


# ----------------------------------------------------------------- loudness
@register
class Loudness(Node):
    """Sets the integrated loudness of the whole programme to a target, under a
    true-peak ceiling.  It measures its input in an analysis pass first; where the
    target needs more peak level than the ceiling allows it limits (and says how much
    in the report), iterating until the limited output is on target."""

    type_name = "loudness"
    category = "master"
    kernels = tuple(dict.fromkeys(LoudnessMeter.KERNELS + Limiter.kernels))
    summary = "loudness target (gain, then true-peak limiting where needed)"
    params = (
        Param("target_lufs", -14.0, min=-40.0, max=-5.0, unit="LUFS", automatable=False,
              doc="integrated loudness of the output"),
        Param("ceiling_dbtp", -1.0, min=-10.0, max=0.0, unit="dBTP", automatable=False,
              doc="highest true peak allowed out"),
        Param("release_ms", 80.0, min=1.0, max=2000.0, unit="ms", automatable=False,
              doc="release of the limiter, where limiting is needed"),
        Param("lookahead_ms", 2.0, min=0.5, max=20.0, unit="ms", automatable=False,
              doc="lookahead of the limiter"),
    )
    needs_analysis = True
    CRUSHED_DB = 6.0                      # more limiting than this is reported as a problem
    MAX_LIMITING_DB = 24.0                # the search never pushes harder than this
    TOLERANCE_LU = 0.02

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        self._channels = chans[0]
        self._content = ctx.content_frames
        self._core = LimiterCore(ctx.sample_rate, chans[0], max(ctx.max_block, 65536),
                                 self.lookahead_ms, True)
        self._gain_db = 0.0
        self._limit = False
        self._figures: dict = {}
        return chans

    def latency(self) -> int:
        return self._core.latency

    def reset(self):
        self._core.reset()

    def _render(self, x, out, start):
        x = x * db_to_gain(self._gain_db)
        if self._limit:
            ceiling = db_to_gain(self.ceiling_dbtp - DETECT_MARGIN_DB)
            self._core.process(x, out, ceiling, time_coefficient(self.release_ms,
                                                                 self.rate), start)
        else:
            self._core.input_peak = max(self._core.input_peak,
                                        float(np.abs(x).max(initial=0.0)))
            out[:] = self._core.delay.process(x)

    def _measure(self, tape) -> dict:
        meter = LoudnessMeter(self.rate, self._channels)
        song = SongWindow(self._content)
        self._core.reset()
        out = np.empty((self._channels, tape.block))
        for start, (x,) in tape.blocks():
            y = out[:, :x.shape[1]]
            self._render(x, y, start)
            for part in song.feed(y, start - self._core.latency):   # output song time
                meter.add(part)
        return meter.result()

    def analyse(self, tape) -> None:
        meter = LoudnessMeter(self.rate, self._channels)
        peak = TruePeakReading(self._channels, DETECT_FACTOR, LIMITER)   # as the limiter reads
        # the song as an output would write it: not the pre-roll, and not the silence
        # the engine runs on for this node's latency (an extra gating block of it took
        # 0.08 LU off a song whose length ended just short of a 100 ms step)
        song = SongWindow(self._content)
        for start, (x,) in tape.blocks():
            for part in song.feed(x, start):
                meter.add(part)
            peak.add(x)
        source = dict(meter.result(), true_peak_dbtp=_db(peak.peak))
        figures = {"input_lufs": round(source["integrated_lufs"], 2),
                   "input_true_peak_dbtp": round(source["true_peak_dbtp"], 2)}
        if not math.isfinite(source["integrated_lufs"]):
            self._gain_db, self._limit = 0.0, False
            figures["note"] = "the input is silent; nothing to normalise"
            self._figures = figures
            return
        self._gain_db = self.target_lufs - source["integrated_lufs"]
        self._limit = source["true_peak_dbtp"] + self._gain_db > self.ceiling_dbtp - 0.1
        worst = 0.0
        if self._limit:
            # limiting takes back some loudness, more the harder it works: find the gain
            # whose limited output is on target (secant steps on loudness(gain))
            # steps are bounded: past some point more gain only means more limiting
            tried: list[tuple[float, float]] = []
            ceiling_gain = self._gain_db + self.MAX_LIMITING_DB
            for _ in range(12):
                result = self._measure(tape)
                worst = self._core.meter.max_db
                miss = self.target_lufs - result["integrated_lufs"]
                tried.append((self._gain_db, result["integrated_lufs"]))
                if abs(miss) < self.TOLERANCE_LU:
                    break
                if len(tried) >= 2 and tried[-1][1] != tried[-2][1]:
                    (g0, l0), (g1, l1) = tried[-2], tried[-1]
                    slope = max((l1 - l0) / (g1 - g0), 0.1)
                    step = miss / slope
                else:
                    step = miss
                step = float(np.clip(step, -6.0, 6.0))
                if self._gain_db >= ceiling_gain and step > 0:
                    break                                   # the target is out of reach
                self._gain_db = min(self._gain_db + step, ceiling_gain)
            if abs(self.target_lufs - result["integrated_lufs"]) >= self.TOLERANCE_LU:
                best = max(tried, key=lambda t: (t[1] <= self.target_lufs + 0.05, t[1]))
                if best[0] != self._gain_db:
                    self._gain_db = best[0]
                    result = self._measure(tape)
                    worst = self._core.meter.max_db
        else:
            result = dict(source, integrated_lufs=source["integrated_lufs"] + self._gain_db)
        self._core.reset()
        figures.update(gain_db=round(self._gain_db, 2),
                       output_lufs=round(result["integrated_lufs"], 2),
                       target_lufs=self.target_lufs, limiting=self._limit)
        if self._limit:
            figures["limiting_max_db"] = round(worst, 2)
        self._figures = figures

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        self._render(x, out, start)

    def live_figures(self):
        return {"limiting_db": self._core.meter.take_recent()}

    def changed(self, name):
        raise ValueError("the loudness stage's gain comes from its analysis of the song")

    def report(self) -> dict:
        figures = dict(self._figures)
        worst = figures.get("limiting_max_db", 0.0)
        warnings = []
        reached = figures.get("output_lufs")
        if reached is not None and abs(reached - self.target_lufs) > 0.1:
            warnings.append(f"{self.target_lufs:g} LUFS cannot be reached under "
                            f"{self.ceiling_dbtp:g} dBTP: the output is at {reached:.1f} LUFS")
        if worst > self.CRUSHED_DB:
            warnings.append(f"reaching {self.target_lufs:g} LUFS under {self.ceiling_dbtp:g} "
                            f"dBTP takes {worst:.1f} dB of limiting, which crushes the mix; "
                            "lower the target or compress before the limiter")
        if warnings:
            figures["warnings"] = warnings
        return figures


# ------------------------------------------------------ multiband compressor
#: a band of the multiband compressor: the compressor's settings with the defaults of a
#: gentle master-bus band, and a makeup gain
MULTIBAND_BANDS = Items(tuple(
    replace(p, default={"threshold_db": -18.0, "ratio": 2.0, "knee_db": 6.0,
                        "attack_ms": 20.0, "release_ms": 150.0}[p.name])
    for p in COMPRESSOR_PARAMS) + (
    Param("makeup_db", 0.0, min=-24.0, max=24.0, unit="dB", doc="band gain after compression"),
), noun="band", field_noun="setting", max=4)


def _crossover_problems(value) -> list[str]:
    if not 1 <= len(value) <= 3:
        return [f"needs 1 to 3 frequencies (2 to 4 bands), got {len(value)}"]
    if not all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in value):
        return ["must be a list of frequencies in Hz"]
    if any(not 20.0 <= f <= 20000.0 for f in value):
        return ["frequencies must be between 20 and 20000 Hz"]
    if any(b <= a * 1.2 for a, b in zip(value, value[1:])):
        return ["frequencies must rise, each at least 1.2 times the one before"]
    return []


@register
class MultibandCompressor(Node):
    """Two to four bands split by 4th-order Linkwitz-Riley crossovers (the bands sum to an
    allpass: flat magnitude), each with its own compressor."""

    type_name = "multiband_compressor"
    category = "master"
    kernels = CompressorCore.KERNELS + ("filters.biquad_cascade",)   # and crossovers
    cost = 5
    summary = "2-4 band compressor with Linkwitz-Riley crossovers that sum flat"
    params = (
        Param("crossovers_hz", [200.0, 2500.0], kind="list", check=_crossover_problems,
              unit="Hz", doc="crossover frequencies, rising (1 to 3)"),
        Param("bands", [], kind="list", items=MULTIBAND_BANDS,
              doc="per band, low to high; missing bands and settings take defaults"),
        Param("detector", "peak", kind="choice", choices=("peak", "rms"), doc="level detector"),
        Param("stereo_link", 1.0, min=0.0, max=1.0,
              doc="1 = one gain for both channels per band, 0 = independent"),
    )

    @classmethod
    def check_params(cls, values, sample_rate):
        crossovers = values.get("crossovers_hz", [200.0, 2500.0])
        bands = values.get("bands", [])
        out = []
        if isinstance(crossovers, list) and len(bands) > len(crossovers) + 1:
            n = len(crossovers)
            out.append(f"has {len(bands)} bands, but {n} crossover{'s' if n != 1 else ''} "
                       f"make{'s' if n == 1 else ''} {n + 1} bands")
        if isinstance(crossovers, list) and crossovers and max(crossovers) >= sample_rate / 2:
            out.append("crossovers must be below half the sample rate")
        return out

    def prepare(self, ctx: Context):
        from .automation import Automation
        from .eq import svf_sections, svf_to_biquad

        chans = super().prepare(ctx)
        self._channels = chans[0]
        self._max_block = ctx.max_block
        sr = ctx.sample_rate
        # Linkwitz-Riley 4th order: a 2nd-order Butterworth section twice, so the two
        # halves are -6 dB at the crossover, in phase, and sum to an allpass:
        # (B^2 + s^4) / D^2 = D(-s) / D(s) for D the Butterworth denominator, whose
        # digital form is one section with the denominator's coefficients reversed
        self._xo = []
        for f in self.crossovers_hz:
            (lp,) = [svf_to_biquad(s) for s in svf_sections("lowpass", f, 0.0, 0.0, 12, sr)]
            (hp,) = [svf_to_biquad(s) for s in svf_sections("highpass", f, 0.0, 0.0, 12, sr)]
            self._xo.append(([lp, lp], [hp, hp], [(lp[1][::-1], lp[1])]))
        count = len(self.crossovers_hz) + 1
        self._bands = []
        for i in range(count):
            values = MULTIBAND_BANDS.values(self.bands[i] if i < len(self.bands) else {})
            values = {k: Automation.from_document(v) if isinstance(v, dict) else v
                      for k, v in values.items()}
            self._bands.append(values)
        self.reset()
        return chans

    def _constant(self, band: dict) -> bool:
        return not self.is_automated("stereo_link") and not any(
            hasattr(v, "render") for v in band.values())

    def reset(self):
        count = len(self.crossovers_hz) + 1
        linked = not self.is_automated("stereo_link") and self.stereo_link == 1.0
        self._cores = [CompressorCore(self.rate, self._channels, self._max_block,
                                      self.detector, linked=linked) for _ in range(count)]
        for core, band in zip(self._cores, self._bands):
            if self._constant(band):
                core.fix(dict(band, stereo_link=self.stereo_link, mix=1.0))
        # per crossover: its lowpass and highpass, and for each band below it the
        # allpass that keeps that band in phase with what the crossover splits
        from .eq import Cascade

        ch = self._channels
        self._filters = [(Cascade(lp, ch), Cascade(hp, ch), [Cascade(ap, ch) for _ in range(i)])
                         for i, (lp, hp, ap) in enumerate(self._xo)]

    def split(self, x: np.ndarray) -> list[np.ndarray]:
        """The bands of x, low to high; their sum is x through an allpass."""
        bands = []
        rest = x
        for lowpass, highpass, allpasses in self._filters:
            low = np.empty_like(rest)
            lowpass.process(rest, low)
            high = np.empty_like(rest)
            highpass.process(rest, high)
            for band, allpass in zip(bands, allpasses):     # the bands split off before
                allpass.process(band, band)
            bands.append(low)
            rest = high
        bands.append(rest)
        return bands

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        n = x.shape[1]
        compressed = np.empty_like(x)
        for i, band in enumerate(self.split(x)):
            core = self._cores[i]
            if core.fixed is not None:
                core.process(band, None, compressed, start)
            else:
                v = {k: (p.render(start, n, self.rate) if hasattr(p, "render") else p)
                     for k, p in self._bands[i].items()}
                v.update(stereo_link=self.value("stereo_link", start, n), mix=1.0)
                core.process(band, None, compressed, start, v)
            if i == 0:
                out[:] = compressed
            else:
                out += compressed

    def report(self) -> dict:
        return {f"band{i + 1}_gain_reduction_max_db": c.report()["gain_reduction_max_db"]
                for i, c in enumerate(self._cores)}

    def changed(self, name):
        if name == "stereo_link":
            raise ValueError("the bands' channel link is set when the node is prepared")

    def live_figures(self):
        return {f"band{i + 1}_gain_reduction_db": c.reduction_now()
                for i, c in enumerate(self._cores)}


# ------------------------------------------------------------- linear phase
LINEAR_PHASE_TOLERANCE_DB = 0.1       # the promise: eq's magnitude within this, above
LINEAR_PHASE_FROM_HZ = 20.0           # this frequency,
LINEAR_PHASE_FLOOR_DB = -30.0         # down to this depth (and as deep below it)
LINEAR_PHASE_DESIGN_DB = 0.05         # what the design checks on its grid (a margin)
LINEAR_PHASE_MAX_S = 3.0              # the longest FIR (1.5 s of it before the peak)
LINEAR_PHASE_MIN_TAPS = 1025
_fir_cache: dict[tuple, "LinearPhaseDesign"] = {}


def _unautomated_bands(bands) -> list[str]:
    """The linear-phase EQ's own rule for its bands (their fields are the eq's)."""
    out = []
    for i, band in enumerate(bands):
        if isinstance(band, dict) and any(isinstance(v, dict) for v in band.values()):
            out.append(f"band {i} cannot be automated in a linear-phase EQ (its filter is "
                       "designed once); use eq for automated bands")
    return out


class LinearPhaseDesign:
    """A linear-phase FIR for a band set: ``fir`` (taps,), or ``fir`` None and
    ``problem`` (a sentence) when no FIR of at most ``max_taps`` meets the tolerance.
    ``error_db``: the largest deviation found on the design grid."""

    def __init__(self, fir, max_taps: int, error_db: float, problem: str = ""):
        self.fir = fir
        self.max_taps = max_taps
        self.error_db = error_db
        self.problem = problem

    @property
    def taps(self) -> int:
        return 0 if self.fir is None else len(self.fir)


def linear_phase_max_taps(rate: int) -> int:
    """The longest FIR at ``rate``: 2^k + 1 taps, at most LINEAR_PHASE_MAX_S long."""
    return (1 << int(math.floor(math.log2(LINEAR_PHASE_MAX_S * rate - 1)))) + 1


def _fir_candidate(magnitude_at, rate: int, taps: int):
    """A symmetric FIR of ``taps`` taps (odd) with the magnitude ``magnitude_at(size)``
    gives on the rfft grid of ``size`` points, and its deviation (dB) from it on that
    grid above LINEAR_PHASE_FROM_HZ, depths floored at LINEAR_PHASE_FLOOR_DB.

    Frequency sampling on a grid 8 times finer than the FIR's resolution (so the
    zero-phase response folds back onto itself only where it has died away), cut to
    ``taps`` by a window flat over 75 % of its length: a Kaiser window bends the
    whole response and made an 8191-tap FIR 1.9 dB off at 20 Hz for a 30 Hz
    highpass; this one leaves it whole where it matters.
    """
    from .firdesign import tukey

    size = 1 << int(math.ceil(math.log2(8 * taps)))
    magnitude = magnitude_at(size)
    h = np.fft.irfft(magnitude, size)
    half = taps // 2
    fir = np.concatenate((h[-half:], h[:half + 1])) * tukey(taps, 0.25)
    got = np.abs(np.fft.rfft(fir, size))
    start = int(math.ceil(LINEAR_PHASE_FROM_HZ * size / rate))
    floor = 10.0 ** (LINEAR_PHASE_FLOOR_DB / 20.0)
    error = 20.0 * np.log10(np.maximum(got[start:], floor) / np.maximum(magnitude[start:], floor))
    return fir, float(np.abs(error).max(initial=0.0))


def _search(bands: list[dict], rate: int, max_taps: int):
    """(fir, error) of the shortest 2^k + 1 taps meeting LINEAR_PHASE_DESIGN_DB, or
    (None, error of the longest)."""
    grids: dict[int, np.ndarray] = {}

    def magnitude_at(size: int) -> np.ndarray:
        if size not in grids:
            freqs = np.fft.rfftfreq(size, 1.0 / rate)
            grids[size] = 10.0 ** (response_db(bands, rate, freqs) / 20.0)
        return grids[size]

    taps, error = LINEAR_PHASE_MIN_TAPS, math.inf
    while taps <= max_taps:
        fir, error = _fir_candidate(magnitude_at, rate, taps)
        if error <= LINEAR_PHASE_DESIGN_DB:
            return fir, error
        taps = 2 * taps - 1
    return None, error


def _band_name(band: dict) -> str:
    v = EQ_BANDS.values(band)
    kind = v["type"]
    text = f"{kind} at {v['freq_hz']:g} Hz"
    if kind in ("highpass", "lowpass"):
        return f"{text}, {v['slope_db_oct']} dB/oct"
    if kind in ("bell", "low_shelf", "high_shelf"):
        text += f", {v['gain_db']:g} dB"
    return f"{text}, Q {v['q']:g}"


def linear_phase_design(bands: list[dict], rate: int) -> LinearPhaseDesign:
    """The shortest linear-phase FIR (2^k + 1 taps, from 1025) whose magnitude follows
    ``bands`` as the IIR ``eq`` renders them (:func:`mixgraph.nodes.eq.response_db`)
    within LINEAR_PHASE_TOLERANCE_DB above LINEAR_PHASE_FROM_HZ wherever eq's
    response is above LINEAR_PHASE_FLOOR_DB, and is as deep where eq's is deeper;
    the design checks half that tolerance on a grid 8 times finer than the FIR's
    resolution.  Low and narrow bands need long FIRs (a 30 Hz highpass of 24 dB/oct
    8193 taps at 48 kHz, a 5 Hz one of 48 dB/oct 32769).  When even
    :func:`linear_phase_max_taps` do not do, ``problem`` names the band (or bands)
    that cannot be met.  Designs are kept (band sets are checked when they are set).
    """
    import json

    key = (json.dumps(bands, sort_keys=True), rate)
    if key in _fir_cache:
        return _fir_cache[key]
    max_taps = linear_phase_max_taps(rate)
    active = [b for b in bands if EQ_BANDS.values(b)["on"]]
    if not active:
        design = LinearPhaseDesign(np.ones(1), max_taps, 0.0)
    else:
        fir, error = _search(active, rate, max_taps)
        if fir is not None:
            design = LinearPhaseDesign(fir, max_taps, error)
        else:
            alone = [i for i, b in enumerate(bands)
                     if EQ_BANDS.values(b)["on"] and _search([b], rate, max_taps)[0] is None]
            named = "; ".join(f"band {i} ({_band_name(bands[i])})" for i in alone)
            resolution = rate / max_taps
            what = (f"{named} {'is' if len(alone) == 1 else 'are'} narrower or lower"
                    if alone else "the bands together are narrower or lower")
            design = LinearPhaseDesign(None, max_taps, error, (
                f"{what} than a linear-phase FIR of up to {max_taps} taps "
                f"({max_taps / rate:.2f} s, a resolution of {resolution:.2f} Hz at "
                f"{rate} Hz) can follow within {LINEAR_PHASE_TOLERANCE_DB:g} dB of eq "
                f"above {LINEAR_PHASE_FROM_HZ:g} Hz (down to {LINEAR_PHASE_FLOOR_DB:g} dB); "
                f"use eq for {'it' if len(alone) == 1 else 'them'}, or widen or raise "
                f"{'it' if len(alone) == 1 else 'them'}"))
    if len(_fir_cache) > 64:
        _fir_cache.clear()
    _fir_cache[key] = design
    return design


def linear_phase_partition(taps: int) -> int:
    """Frames per FFT pass of the convolution: about a sixteenth of the FIR, 1024 to
    8192 (it adds to the latency; shorter ones cost more per frame)."""
    return min(8192, max(1024, 1 << int(math.ceil(math.log2(max(taps, 16) / 16)))))


@register
class LinearPhaseEq(Node):
    """The ``eq`` band types as a linear-phase FIR (no phase shift; a pre-ring instead),
    rendered by partitioned FFT convolution.  The FIR is as long as the bands need
    to follow eq's magnitude within 0.1 dB above 20 Hz (down to -30 dB; as deep
    below): 1025 taps for gentle mid-range bands, up to 3 s for low, steep or narrow
    ones (a resolution of rate / taps); a band set that would need more is refused,
    naming the band.  Declares its latency (half the FIR and one partition) and says
    both in a render notice."""

    type_name = "linear_phase_eq"
    category = "master"
    cost = 6
    summary = "linear-phase EQ (FIR sized from the bands), same bands as eq; latency " \
              "compensated"
    params = (Param("bands", [], kind="list", items=EQ_BANDS, check=_unautomated_bands,
                    doc="the EQ's bands, as eq's (not automated)"),)

    @classmethod
    def check_params(cls, values, sample_rate):
        from .eq import Eq

        out = Eq.check_params(values, sample_rate)
        bands = values.get("bands", [])
        if not out and isinstance(bands, list) \
                and not cls.param_table()["bands"].problems(bands):
            design = linear_phase_design(bands, sample_rate)
            if design.fir is None:
                out.append(design.problem)
        return out

    def prepare(self, ctx: Context):
        from .convolution import PartitionedConvolver

        chans = super().prepare(ctx)
        design = linear_phase_design(self.bands, ctx.sample_rate)
        if design.fir is None:
            from mixgraph.errors import ParameterError

            raise ParameterError(f"node '{ctx.node_id}': {design.problem}",
                                 node=ctx.node_id, param="bands")
        taps = design.taps
        partition = linear_phase_partition(taps)
        self._conv = PartitionedConvolver(design.fir[None, :], chans[0], partition)
        self._half = taps // 2
        self._latency = partition + self._half
        if taps > 1:
            ctx.notice(f"linear_phase_eq '{ctx.node_id}': a {taps}-tap FIR "
                       f"({taps / ctx.sample_rate:.2f} s, a resolution of "
                       f"{ctx.sample_rate / taps:.2f} Hz), {self._latency} samples "
                       f"({1000.0 * self._latency / ctx.sample_rate:.0f} ms) of latency, "
                       "compensated")
        return chans

    def latency(self) -> int:
        return self._latency

    def tail(self) -> float:
        return self._half / self.rate

    def reset(self):
        self._conv.reset()

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        self._conv.process(x, out)


# --------------------------------------------------------------------- fade
def fade_curve(u: np.ndarray, curve: str) -> np.ndarray:
    """Gain from 0 to 1 as ``u`` goes from 0 to 1 (clipped outside)."""
    u = np.clip(u, 0.0, 1.0)
    if curve == "linear":
        return u
    if curve == "exponential":                     # even in dB over 60 dB, from 0 exactly
        return (np.power(1000.0, u) - 1.0) / 999.0
    return 0.5 - 0.5 * np.cos(np.pi * u)           # s_curve


@register
class Fade(Node):
    """Fade in from the start of the song and out to its end (the end of the last
    source); after a fade-out the signal is silent."""

    type_name = "fade"
    category = "master"
    summary = "fade in at the start, fade out to the end of the song"
    params = (
        Param("in_s", 0.0, min=0.0, max=3600.0, unit="s", automatable=False,
              doc="length of the fade-in (0 = none)"),
        Param("out_s", 0.0, min=0.0, max=3600.0, unit="s", automatable=False,
              doc="length of the fade-out, ending at the end of the song (0 = none)"),
        Param("curve", "s_curve", kind="choice", choices=("linear", "exponential", "s_curve"),
              doc="shape: linear in amplitude, exponential (even in dB), or s-curve"),
    )

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        self._in = int(round(self.in_s * ctx.sample_rate))
        self._out = int(round(self.out_s * ctx.sample_rate))
        self._end = ctx.content_frames
        return chans

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        n = x.shape[1]
        t = np.arange(start, start + n, dtype=np.float64)
        gain = np.ones(n)
        if self._in:
            gain *= fade_curve(t / self._in, self.curve)
        if self._out:
            gain *= fade_curve((self._end - t) / self._out, self.curve)
        np.multiply(x, gain, out=out)


# ------------------------------------------------------------------- dither
_DITHER_CHUNK = 65536
NTF_ORDER = 9
_ntf_cache: dict[int, np.ndarray] = {}


def shaping_filter(rate: int, order: int = NTF_ORDER) -> np.ndarray:
    """Minimum-phase noise transfer function (ntf[0] = 1) that moves quantisation noise
    from where hearing is most sensitive (2-5 kHz) to where it is least (above 15 kHz).

    The target follows the threshold of hearing in quiet (Terhardt's approximation),
    limited to a 35 dB span; an error-feedback quantiser cannot remove noise, only move
    it, so the target is scaled to an average log gain of 0 dB, then made minimum-phase
    through the real cepstrum and cut to ``order`` + 1 taps.
    """
    if rate not in _ntf_cache:
        n = 4096
        f = np.fft.rfftfreq(n, 1.0 / rate)
        khz = np.maximum(f, 20.0) / 1000.0
        ath = 3.64 * khz ** -0.8 - 6.5 * np.exp(-0.6 * (khz - 3.3) ** 2) + 1e-3 * khz ** 4
        target = np.clip(ath - ath.min(), 0.0, 35.0)
        log_mag = target / 20.0 * np.log(10.0)
        full = np.concatenate((log_mag, log_mag[-2:0:-1]))
        full -= full.mean()                                   # average log gain 0 dB
        cep = np.fft.ifft(full).real
        fold = np.zeros(n)
        fold[0] = cep[0]
        fold[1:n // 2] = 2.0 * cep[1:n // 2]
        fold[n // 2] = cep[n // 2]
        h = np.fft.ifft(np.exp(np.fft.fft(fold))).real[:order + 1]
        _ntf_cache[rate] = h / h[0]
    return _ntf_cache[rate]


@register
class Dither(Node):
    """Quantises to 16 or 24 bits with TPDF dither, optionally noise-shaped (error
    feedback); seeded, so renders stay bit-identical.  Place it last, before an output
    of the same bit depth."""

    type_name = "dither"
    category = "master"
    kernels = ("master.shaped_quantise",)
    cost = 2
    summary = "TPDF dither to 16 or 24 bits, optionally noise-shaped; seeded"
    params = (
        Param("bit_depth", 24, kind="int", choices=(16, 24), doc="bits of the output file"),
        Param("shape", "tpdf", kind="choice", choices=("tpdf", "noise_shaped"),
              doc="flat TPDF dither, or TPDF with the noise moved above 15 kHz"),
        Param("seed", 0, kind="int", min=0, max=2**31 - 1, doc="random seed"),
        Param("auto_mute", True, kind="bool",
              doc="digital silence stays silent, and so does a tail once it has stayed "
                  "below an eighth of a step for 10 ms (no dither hiss after the end)"),
    )

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        self._channels = chans[0]
        self._step = 2.0 ** -(self.bit_depth - 1)
        self._ntf = shaping_filter(ctx.sample_rate) if self.shape == "noise_shaped" \
            else np.ones(1)
        self._chunk_index = None                 # no chunk yet (indices may be negative)
        self.reset()
        return chans

    def reset(self):
        self._history = np.zeros((self._channels, max(len(self._ntf) - 1, 1)))
        self._quiet_run = np.zeros(1)

    def _tpdf(self, start: int, n: int) -> tuple[np.ndarray, int]:
        """TPDF noise (triangular, +-1 step) for song samples start..start+n-1, as
        (array, column of the first sample)."""
        c, i = divmod(start, _DITHER_CHUNK)
        if i + n <= _DITHER_CHUNK:                      # the usual case: one chunk holds it
            return self._noise(c), i
        out = np.empty((self._channels, n))
        k, filled = start, 0
        while filled < n:
            c, i = divmod(k, _DITHER_CHUNK)
            take = min(_DITHER_CHUNK - i, n - filled)
            out[:, filled:filled + take] = self._noise(c)[:, i:i + take]
            filled += take
            k += take
        return out, 0

    def _noise(self, c: int) -> np.ndarray:
        """Chunk c of the noise: the same numbers whatever the block size."""
        if c != self._chunk_index:
            rng = np.random.default_rng([self.seed, 7, c + (1 << 40)])
            r = rng.random((2, self._channels, _DITHER_CHUNK))
            self._chunk = (r[0] - r[1]) * self._step
            self._chunk_index = c
        return self._chunk

    def process(self, ins, outs, start):
        from .kernels.master import shaped_quantise

        (x,), (out,) = ins, outs
        noise, offset = self._tpdf(start, x.shape[1])
        shaped_quantise(x, out, noise, offset, self._ntf, self._step, -1.0, 1.0 - self._step,
                        self._history, bool(self.auto_mute), 0.01 * self.rate,
                        self._quiet_run)
