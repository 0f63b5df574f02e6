"""Dynamics: compressor (with sidechain), gate (with sidechain), saturation.

The compressor is a feed-forward design in the log domain (Giannoulis, Massberg
and Reiss, "Digital Dynamic Range Compressor Design - A Tutorial and Analysis",
JAES 2012): level detection (peak, or RMS over ``rms_ms``), a static gain computer
with a quadratic soft knee, and a smoothing of the gain reduction that gives the
attack and the release each its own time constant: the time for the reduction to
go 63 % of the way after a step of level, up (attack) or down (release), in the dB
domain.  The paper's smooth decoupled peak detector (a peak detector with release,
then the attack's one-pole on everything) made the release run long by about the
attack time (61 ms to 63 % for attack 10 ms, release 50 ms); here the last
one-pole uses the attack coefficient only where the reduction rises, and on the
way down a coefficient of its own, short beside the release
(:func:`smoothing_coefficients`), with the peak detector's release shortened so
that the two together reach 63 % at the release time.  :class:`CompressorCore`
holds that chain so that other nodes (the multiband compressor) reuse it.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .base import Context, Node, Param, Port, db_to_gain, register
from .gangs import LANES, in_fours, padded
from .layouts import LfeApart

LEVEL_FLOOR = 1e-10                   # -200 dBFS: the detector's idea of silence


def time_coefficient(ms, rate: float):
    """One-pole coefficient of a time constant ``ms`` (scalar or array)."""
    return np.exp(-1000.0 / (np.maximum(ms, 1e-6) * rate))


FALL_SHARE = 0.5             # the fall smoothing is at most this share of the release


@functools.cache
def _cascade_table() -> tuple[np.ndarray, np.ndarray]:
    """(r, u) on a fine grid of r: see :func:`_cascade_share`.  Kept once made; threads
    that ask at the same time may each make it, but each gets a whole table (a list
    filled in place was filled twice, and broke every compressor after)."""
    grid = np.linspace(0.0, FALL_SHARE, 2001)
    lo, hi = np.zeros_like(grid), np.ones_like(grid)
    tail = np.exp(-1.0 / np.maximum(grid, 1e-300))              # e^(-1/r), 0 at r = 0
    for _ in range(60):
        u = 0.5 * (lo + hi)
        near = np.abs(u - grid) < 1e-9
        # fraction of the step still to go at t = 1 (the limit where u = r)
        left = np.where(near, (1.0 + 1.0 / u) * np.exp(-1.0 / u),
                        (u * np.exp(-1.0 / u) - grid * tail) / np.where(near, 1.0, u - grid))
        slow = left > math.exp(-1.0)                              # u too long
        hi = np.where(slow, u, hi)
        lo = np.where(slow, lo, u)
    return grid, 0.5 * (lo + hi)


def _cascade_share(r):
    """u such that two one-poles in series of time constants u and r (in units of
    the release time) reach 63 % of a step exactly at time 1, for 0 <= r <= FALL_SHARE.

    The step response is 1 - (u e^(-t/u) - r e^(-t/r)) / (u - r); u falls from 1
    (r = 0) to 0.44 (r = 0.5).  Solved once on a fine grid by bisection, then
    interpolated (the table's error is under 1e-6 of the release time).
    """
    grid, share = _cascade_table()
    return np.interp(r, grid, share)


def smoothing_coefficients(attack_ms, release_ms, rate: float):
    """One-pole coefficients (attack, release, fall) of the compressor's smoothing for
    time constants ``attack_ms`` and ``release_ms`` (scalars or arrays).

    The reduction rises with the attack's one-pole alone, so it reaches 63 % of a
    step up after ``attack_ms``.  On the way down a peak detector releases and a
    one-pole of ``fall`` = min(attack, release / 2) smooths it (as the attack
    smoothed it before: ripple of the detector on low notes), and the detector's
    release is shortened so that the two in series reach 63 % of a step down after
    ``release_ms``.
    """
    attack = np.maximum(np.asarray(attack_ms, dtype=np.float64), 1e-6)
    release = np.maximum(np.asarray(release_ms, dtype=np.float64), 1e-6)
    fall = np.minimum(attack, FALL_SHARE * release)
    detector = _cascade_share(fall / release) * release
    return (time_coefficient(attack, rate), time_coefficient(detector, rate),
            time_coefficient(fall, rate))


class CompressorCore:
    """Detector, gain computer, smoothing and gain of a compressor, for ``channels``
    (the compiled stages of :mod:`mixgraph.nodes.kernels.dynamics`).

    ``process(x, key, out, start, values)`` compresses x by the level of key (x itself
    if None).  ``values`` holds the parameters (floats, or arrays over the block for
    automation); without it, the constant values given to :meth:`fix` are used, whose
    kernel arguments are worked out once.  ``linked``: the stereo link is fixed at 1,
    so one detector serves all channels.  The core keeps the largest and the mean gain
    reduction for the render report.
    """

    NAMES = ("threshold_db", "ratio", "knee_db", "attack_ms", "release_ms", "stereo_link",
             "makeup_db", "mix")
    #: the compiled kernels it runs (:meth:`process_lanes` adds ``dynamics.smooth_lanes``)
    KERNELS = ("dynamics.compress_levels", "dynamics.compress_finish")

    def __init__(self, rate: int, channels: int, max_block: int, detector: str = "peak",
                 rms_ms: float = 10.0, key_channels: int | None = None, linked: bool = True):
        self.rate = rate
        self.channels = channels
        key_channels = key_channels or channels
        self.own = key_channels == channels > 1 and not linked
        self.rms_alpha = float(time_coefficient(rms_ms, rate)) if detector == "rms" else -1.0
        self.work = np.empty((channels + key_channels, max_block))
        self.fixed: tuple | None = None
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((self.channels, 2))
        self.ms = np.zeros(max(self.channels, 2))
        self.stats = np.array([0.0, 0.0, 0.0, 0.0])

    def fix(self, values: dict) -> None:
        """Constant parameter values, used while ``process`` gets none."""
        self.fixed = self.arrays(values)

    def arrays(self, v: dict) -> tuple:
        """Kernel arguments from parameter values."""
        attack, release, fall = smoothing_coefficients(v["attack_ms"], v["release_ms"],
                                                       self.rate)
        return (_arr(v["threshold_db"]), _arr(v["ratio"]), _arr(v["knee_db"]), _arr(attack),
                _arr(release), _arr(fall), _arr(v["stereo_link"]), _arr(v["makeup_db"]),
                _arr(v["mix"]))

    def process(self, x: np.ndarray, key: np.ndarray | None, out: np.ndarray, start: int,
                values: dict | None = None) -> None:
        args = self.fixed if values is None else self.arrays(values)
        self._levels(x if key is None else key, args, start, smooth=True)
        self._finish(x, out, args)

    def _levels(self, key: np.ndarray, args: tuple, start: int, smooth: bool) -> None:
        """The reduction each detector wants (and, with ``smooth``, its smoothing) into
        the first rows of the work array."""
        from .kernels.dynamics import compress_levels

        threshold, ratio, knee, attack, release, fall, link, _, _ = args
        self.stats[3] = start
        compress_levels(key, threshold, ratio, knee, link, self.rms_alpha, self.own, self.ms,
                        self.work, attack, release, fall, self.state, smooth)

    def _finish(self, x: np.ndarray, out: np.ndarray, args: tuple) -> None:
        """The report's figures and the gain, from the smoothed reduction."""
        from .kernels.dynamics import compress_finish

        *_, makeup, mix = args
        compress_finish(x, out, makeup, mix, self.own, self.stats, self.work)

    @staticmethod
    def process_lanes(work: list[tuple[CompressorCore, np.ndarray, np.ndarray | None,
                                       np.ndarray, int]]) -> None:
        """Several cores with fixed parameters, each compressing its ``x`` by its ``key``
        (x itself if None) into its ``out`` from song time ``start`` as :meth:`process`
        does, bit for bit: each finds the reduction it wants alone, their detector rows
        are smoothed four at a time in the lanes of one kernel
        (:func:`~.kernels.dynamics.smooth_lanes`), and each applies its gain."""
        from .kernels.dynamics import smooth_lanes

        rows = []                                   # (core, row) per detector
        for core, x, key, _, start in work:
            core._levels(x if key is None else key, core.fixed, start, smooth=False)
            rows += [(core, r) for r in range(core.channels if core.own else 1)]
        n = work[0][1].shape[1]
        spare = np.zeros(n)
        for group in in_fours(rows):
            alphas = np.ones((3, LANES))            # (an unused lane: any smoothing)
            state = np.zeros((LANES, 2))
            for lane, (core, r) in enumerate(group):
                _, _, _, attack, release, fall, _, _, _ = core.fixed
                alphas[:, lane] = attack[0], release[0], fall[0]
                state[lane] = core.state[r]
            smooth_lanes(*padded([core.work[r, :n] for core, r in group], spare), *alphas,
                         state)
            for lane, (core, r) in enumerate(group):
                core.state[r] = state[lane]
        for core, x, _, out, _ in work:
            core._finish(x, out, core.fixed)

    def report(self) -> dict:
        mean = self.stats[1] / self.stats[2] if self.stats[2] else 0.0
        return {"gain_reduction_max_db": round(float(self.stats[0]), 2),
                "gain_reduction_mean_db": round(float(mean), 2)}

    def reduction_now(self) -> float:
        """The reduction in dB at the end of the last block (the largest detector's)."""
        return float(self.state[:, 1].max())


def _arr(v) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, dtype=np.float64))


class GainReductionMeter:
    """Collects a node's gain reduction for the render report (and, while playing,
    the most since it was last asked: :meth:`take_recent`)."""

    def __init__(self):
        self.max_db = 0.0
        self.total = 0.0
        self.count = 0
        self.recent_db = 0.0

    def take_recent(self) -> float:
        recent, self.recent_db = self.recent_db, 0.0
        return recent

    def add(self, reduction_db: np.ndarray, start: int) -> None:
        skip = max(0, -start)                       # the engine's pre-roll is not the song
        r = reduction_db[..., skip:]
        if r.size:
            per_sample = r.max(axis=0) if r.ndim > 1 else r
            peak = float(per_sample.max())
            self.max_db = max(self.max_db, peak)
            self.recent_db = max(self.recent_db, peak)
            self.total += float(per_sample.sum())
            self.count += per_sample.shape[0]

    def add_none(self, frames: int, start: int) -> None:
        """A block of ``frames`` without any reduction (what ``add`` of zeros does)."""
        self.count += max(0, frames - max(0, -start))

    def report(self) -> dict:
        mean = self.total / self.count if self.count else 0.0
        return {"gain_reduction_max_db": round(self.max_db, 2),
                "gain_reduction_mean_db": round(mean, 2)}


#: a surround signal's LFE kept out of the channels' link (its own detector and gain)
LFE_APART = Param("lfe_apart", False, kind="bool",
                  doc="in surround, the LFE on a detector and gain of its own, out of the "
                      "other channels' link")

SIDECHAIN_INPUTS = (Port("in"),
                    Port("sidechain", "key signal for the detector (optional)", optional=True))

COMPRESSOR_PARAMS = (
    Param("threshold_db", -18.0, min=-80.0, max=0.0, unit="dB", doc="level where compression starts"),
    Param("ratio", 4.0, min=1.0, max=100.0, doc="input dB over the threshold per output dB (n:1)"),
    Param("knee_db", 6.0, min=0.0, max=24.0, unit="dB", doc="width of the soft knee"),
    Param("attack_ms", 10.0, min=0.05, max=500.0, unit="ms",
          doc="attack time constant: the reduction goes 63 % of the way after a step up"),
    Param("release_ms", 100.0, min=1.0, max=5000.0, unit="ms",
          doc="release time constant: the reduction goes 63 % of the way back after a "
              "step down"),
)


@register
class Compressor(Node):
    """Feed-forward log-domain compressor with soft knee, sidechain and dry/wet mix."""

    type_name = "compressor"
    category = "dynamics"
    kernels = CompressorCore.KERNELS + ("dynamics.smooth_lanes",)
    summary = "compressor: soft knee, peak/RMS detector, stereo link, sidechain, parallel mix"
    inputs = SIDECHAIN_INPUTS
    params = COMPRESSOR_PARAMS + (
        Param("makeup_db", 0.0, min=-24.0, max=48.0, unit="dB", doc="gain after compression"),
        Param("mix", 1.0, min=0.0, max=1.0, doc="dry/wet: 0 = dry, 1 = compressed"),
        Param("detector", "peak", kind="choice", choices=("peak", "rms"),
              doc="level detector"),
        Param("rms_ms", 10.0, min=0.1, max=1000.0, unit="ms", automatable=False,
              doc="averaging time of the RMS detector"),
        Param("stereo_link", 1.0, min=0.0, max=1.0,
              doc="1 = one gain for both channels, 0 = independent channels"),
        LFE_APART,
    )

    def prepare(self, ctx: Context):
        super().prepare(ctx)
        self._channels = ctx.input_channels[0] or 1
        self._automated = [n for n in CompressorCore.NAMES if self.is_automated(n)]
        self._apart = LfeApart(self._channels, ctx.max_block) \
            if LfeApart.wanted(self._channels, self.lfe_apart) \
            and ctx.input_channels[1] is None else None
        widths = (self._channels,) if self._apart is None else (self._channels - 1, 1)
        self._cores = [CompressorCore(ctx.sample_rate, width, ctx.max_block, self.detector,
                                      self.rms_ms, ctx.input_channels[1],
                                      linked=not self.is_automated("stereo_link")
                                      and self.stereo_link == 1.0) for width in widths]
        self._core = self._cores[0]
        if not self._automated:
            for core in self._cores:
                core.fix({name: self._values[name] for name in CompressorCore.NAMES})
        return (self._channels,)

    def reset(self):
        for core in self._cores:
            core.reset()

    def changed(self, name):
        if name == "stereo_link":
            raise ValueError("the compressor's channel link is set when it is prepared")
        self._automated = [n for n in CompressorCore.NAMES if self.is_automated(n)]

    def live_figures(self):
        return {"gain_reduction_db": max(core.reduction_now() for core in self._cores)}

    def gang_key(self):
        """Fixed settings, one core: compressors smooth side by side."""
        return "fixed" if not self._automated and self._apart is None else None

    @classmethod
    def process_gang(cls, members):
        CompressorCore.process_lanes([(node._core, ins[0], ins[1], outs[0], start)
                                      for node, ins, outs, start in members])

    def process(self, ins, outs, start):
        x, key = ins
        values = None
        if self._automated:
            n = x.shape[1]
            values = {name: self.value(name, start, n) for name in CompressorCore.NAMES}
        if self._apart is None:
            self._core.process(x, key, outs[0], start, values)
            return
        for i, into, out in self._apart.parts(x, outs[0]):
            self._cores[i].process(into, None, out, start, values)

    def report(self) -> dict:
        figures = [core.report() for core in self._cores]
        if len(figures) == 1:
            return figures[0]
        return dict(figures[0], lfe_gain_reduction_max_db=figures[1]["gain_reduction_max_db"])


@register
class Gate(Node):
    """Noise gate / expander with hold and sidechain (linked across channels)."""

    type_name = "gate"
    category = "dynamics"
    kernels = ("dynamics.gate_gain",)
    cost = 3
    summary = "gate: threshold, range, attack, hold, release, sidechain"
    inputs = SIDECHAIN_INPUTS
    params = (
        Param("threshold_db", -40.0, min=-100.0, max=0.0, unit="dB",
              doc="the gate opens above this level"),
        Param("range_db", -80.0, min=-120.0, max=0.0, unit="dB",
              doc="gain while closed (0 = no effect)"),
        Param("attack_ms", 0.5, min=0.01, max=200.0, unit="ms", doc="opening time constant"),
        Param("hold_ms", 20.0, min=0.0, max=5000.0, unit="ms",
              doc="time kept open after the level falls"),
        Param("release_ms", 100.0, min=1.0, max=5000.0, unit="ms", doc="closing time constant"),
    )
    ENVELOPE_MS = 5.0

    def prepare(self, ctx: Context):
        super().prepare(ctx)
        self._channels = ctx.input_channels[0] or 1
        self._env_alpha = float(time_coefficient(self.ENVELOPE_MS, ctx.sample_rate))
        self.reset()
        return (self._channels,)

    def reset(self):
        closed = self._values["range_db"]
        self._state = np.array([0.0, closed.values[0] if self.is_automated("range_db")
                                else closed, 0.0])

    def live_figures(self):
        return {"gain_reduction_db": -float(self._state[1])}       # its gain, in dB

    def process(self, ins, outs, start):
        from .kernels.dynamics import gate_gain

        x, key = ins
        (out,) = outs
        n = x.shape[1]
        level = np.abs(x if key is None else key).max(axis=0)
        gain = np.empty(n)
        rate = self.rate
        v = lambda name: self.value(name, start, n)  # noqa: E731
        gate_gain(level, gain, _arr(db_to_gain(v("threshold_db"))),
                  _arr(v("range_db")), _arr(time_coefficient(v("attack_ms"), rate)),
                  _arr(time_coefficient(v("release_ms"), rate)), self._env_alpha,
                  _arr(np.round(np.asarray(v("hold_ms")) * rate / 1000.0)), self._state)
        np.multiply(x, gain, out=out)


OVERSAMPLING = 16                          # 8x leaves the 73rd harmonic of a 5 kHz sine
#                                            at -75 dBFS; 16x puts it out of reach
# taps of each 2x stage, lowest rate first: the first is the sharp one (flat to 0.42,
# 100 dB down from 0.5 of the base rate); the rest are half-band filters that only
# keep the images of that band away.  N - 1 is a multiple of the stage's output rate
# (in base samples), so every stage delays by whole base samples: 80 + 7 + 3 + 1.
STAGE_TAPS = (161, 29, 25, 17)


class _Stage:
    """One 2x stage: its filter split in two trimmed phases, and per-channel history
    for the way up (at the lower rate) and the way down (at the higher rate), kept at
    the head of buffers made once for blocks of up to ``max_in`` samples (lower rate)."""

    def __init__(self, h: np.ndarray, channels: int, max_in: int):
        self.phases = []
        for p in (0, 1):
            taps = h[p::2]
            nz = np.flatnonzero(np.abs(taps) > 1e-14 * np.abs(h).max())
            self.phases.append((int(nz[0]), np.ascontiguousarray(taps[nz[0]:nz[-1] + 1])))
        self.up_taps = tuple((o, 2.0 * t) for o, t in self.phases)
        self.hist_up = -(-len(h) // 2)
        self.hist_down = len(h)
        self.latency = (len(h) - 1) / 2               # in samples of the lower rate
        self.up_ext = np.zeros((channels, self.hist_up + max_in))      # history, input
        self.up_out = np.empty((channels, 2 * max_in))
        self.down_ext = np.zeros((channels, self.hist_down + 2 * max_in))
        self.down_out = np.empty((channels, max_in))

    def reset(self) -> None:
        self.up_ext[:] = 0.0
        self.down_ext[:] = 0.0

    def up(self, x: np.ndarray) -> np.ndarray:
        from .kernels.oversample import upsample2

        m, hist = x.shape[1], self.hist_up
        self.up_ext[:, hist:hist + m] = x
        out = self.up_out[:, :2 * m]
        (o0, t0), (o1, t1) = self.up_taps
        upsample2(self.up_ext, hist, t0, o0, t1, o1, out)
        self.up_ext[:, :hist] = self.up_ext[:, m:m + hist]
        return out

    def down(self, u: np.ndarray) -> np.ndarray:
        from .kernels.oversample import downsample2

        m, hist = u.shape[1], self.hist_down
        self.down_ext[:, hist:hist + m] = u
        out = self.down_out[:, :m // 2]
        (o0, t0), (o1, t1) = self.phases
        downsample2(self.down_ext, hist, t0, o0, t1, o1, out)
        self.down_ext[:, :hist] = self.down_ext[:, m:m + hist]
        return out


def oversampling_filters(taps: tuple[int, ...] = STAGE_TAPS) -> list[np.ndarray]:
    """The stages' lowpass filters (Kaiser window, unity gain at DC), lowest rate first."""
    from .firdesign import kaiser_lowpass

    filters = []
    for s, n in enumerate(taps):
        if s == 0:                                    # 0.42 -> 0.50 of the base rate
            cutoff, width = 0.46, 0.04                # of this stage's Nyquist / rate
        else:                                         # pass 0.5, stop (2^s - 0.5)
            cutoff, width = 0.5, (2 ** s - 1) / 2 ** (s + 1)
        atten = min(2.285 * 2 * np.pi * width * (n - 1) + 7.95, 140.0)
        filters.append(kaiser_lowpass(n, cutoff, 0.1102 * (atten - 8.7)))
    return filters


@register
class Saturation(Node):
    """tanh saturation at 16x oversampling, in four 2x stages (aliasing below -100 dBFS
    for a 5 kHz sine driven by 24 dB; 91 samples of latency); a full-scale peak maps
    to full scale, quieter parts are lifted."""

    type_name = "saturation"
    category = "dynamics"
    kernels = ("oversample.upsample2", "oversample.tanh_shape", "oversample.downsample2")
    cost = 60
    summary = "oversampled tanh saturation with drive and dry/wet mix"
    params = (
        Param("drive_db", 12.0, min=0.0, max=24.0, unit="dB", doc="gain into the shaper"),
        Param("mix", 1.0, min=0.0, max=1.0, doc="dry/wet: 0 = dry, 1 = saturated"),
        Param("output_db", 0.0, min=-36.0, max=12.0, unit="dB", doc="level after the shaper"),
    )

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        from .delayline import DelayLine

        self._channels = chans[0]
        self._stages = [_Stage(h, self._channels, ctx.max_block << s)
                        for s, h in enumerate(oversampling_filters())]
        self._latency = int(sum(st.latency / 2 ** s for s, st in enumerate(self._stages)))
        self._dry = DelayLine(self._channels, self._latency, ctx.max_block)
        self.reset()
        return chans

    def latency(self) -> int:
        return self._latency

    def reset(self):
        for stage in self._stages:
            stage.reset()
        self._dry.reset()

    def process(self, ins, outs, start):
        from .kernels.oversample import tanh_shape

        (x,), (out,) = ins, outs
        n = x.shape[1]
        # a parameter acts where the audio it touches is: the shaper sees the input
        # half-way through the filters, the mix and trim act on the output
        drive = db_to_gain(self.value("drive_db", start - self._latency // 2, n))
        u = x
        for stage in self._stages:
            u = stage.up(u)
        tanh_shape(u, OVERSAMPLING, _arr(drive), _arr(1.0 / np.tanh(drive)))
        for stage in reversed(self._stages):
            u = stage.down(u)
        out[:] = u
        dry = self._dry.process(x)
        at_output = start - self._latency
        mix = self.value("mix", at_output, n)
        trim = self.gain("output_db", at_output, n)
        if not (np.ndim(mix) == 0 and mix == 1.0):
            out *= mix
            out += (1.0 - mix) * dry
        if not (np.ndim(trim) == 0 and trim == 1.0):
            out *= trim
