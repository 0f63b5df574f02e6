"""Space: delay, reverb (algorithmic and convolution), stereo width."""

from __future__ import annotations

import math

import numpy as np

from .base import Context, Node, Param, register
from .layouts import Placement, pairs
from mixgraph.errors import AudioFileError

MIX = Param("mix", 1.0, min=0.0, max=1.0, doc="dry/wet: 0 = dry, 1 = wet only")
TAIL_DB = 90.0                                           # tails run until -90 dB


def repeats(feedback: float) -> float:
    """How many times a delay line's length its tail lasts: once, and the repeats
    ``feedback`` (its magnitude) takes to fall by ``TAIL_DB``."""
    fb = abs(feedback)
    return 1.0 + (TAIL_DB / 20.0 * math.log(10) / -math.log(fb) if fb > 0 else 0.0)


def _arr(v) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, dtype=np.float64))


@register
class Delay(Node):
    """A feedback delay with a lowpass in the loop; the delay time glides (no clicks)."""

    type_name = "delay"
    category = "space"
    kernels = ("space.feedback_delay",)
    cost = 3
    summary = "feedback delay with a lowpass in the loop; time glides without clicks"
    params = (
        Param("time_ms", 375.0, min=1.0, max=5000.0, unit="ms", doc="delay time"),
        Param("feedback", 0.35, min=0.0, max=0.98, doc="share of each repeat fed back"),
        Param("lowpass_hz", 8000.0, min=200.0, max=24000.0, unit="Hz",
              doc="lowpass in the loop: each repeat is darker"),
        Param("glide_ms", 50.0, min=0.0, max=2000.0, unit="ms", automatable=False,
              doc="time the delay takes to follow a change of time_ms"),
        MIX,
    )

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        self._channels = chans[0]
        longest = self.max_value("time_ms") * ctx.sample_rate / 1000.0
        self._size = int(longest) + 8
        self._glide = math.exp(-1000.0 / (max(self.glide_ms, 1e-6) * ctx.sample_rate))
        self.reset()
        return chans

    def reset(self):
        self._buf = np.zeros((self._channels, self._size))
        self._state = np.zeros(2 + self._channels)
        self._state[1] = -1.0

    def changed(self, name):
        if name == "time_ms" and self.max_value("time_ms") * self.rate / 1000.0 + 8 \
                > self._size:
            raise ValueError("a longer delay than the line was made for")

    def tail(self) -> float:
        return repeats(self.max_value("feedback")) * self.max_value("time_ms") / 1000.0

    def process(self, ins, outs, start):
        from .kernels.space import feedback_delay

        (x,), (out,) = ins, outs
        times, feedback, damp, mix = self.derived(
            self._loop, ("time_ms", "feedback", "lowpass_hz", "mix"), start, x.shape[1])
        feedback_delay(x, out, self._buf, self._state, times, feedback, damp, mix,
                       self._glide)

    def _loop(self, time_ms, feedback, lowpass_hz, mix):
        """The kernel's arrays: delay in samples, feedback, lowpass pole, mix."""
        sr = self.rate
        return (_arr(np.asarray(time_ms) * (sr / 1000.0)), _arr(feedback),
                _arr(np.exp(-2.0 * math.pi * np.minimum(lowpass_hz, 0.49 * sr) / sr)),
                _arr(mix))


@register
class Chorus(Node):
    """A chorus: each channel's signal through ``voices`` taps of a delay line whose
    delays a sine LFO sweeps around ``delay_ms`` by +-``depth_ms`` at ``rate_hz``;
    the taps are averaged, fed back and mixed with the dry signal.  The voices' LFOs
    are evenly spaced in phase; ``spread`` offsets each channel's (a mono input comes
    out stereo, its sides moving apart).  A depth larger than the delay bottoms out
    at 3 samples (the interpolator reads one sample ahead).  Fractional delays are read by 4-point,
    3rd-order Hermite interpolation (the delay's own), no latency; the tail is the
    longest delay times the repeats the feedback takes to fall by 90 dB."""

    type_name = "chorus"
    category = "space"
    kernels = ("space.chorus",)
    cost = 2
    summary = "chorus: LFO-swept delay taps, voices, feedback, stereo spread"
    params = (
        Param("rate_hz", 0.8, min=0.01, max=10.0, unit="Hz", doc="LFO rate"),
        Param("depth_ms", 2.0, min=0.0, max=10.0, unit="ms",
              doc="how far each tap's delay swings either way"),
        Param("delay_ms", 8.0, min=1.0, max=30.0, unit="ms",
              doc="the taps' centre delay (about 1-5 ms flanges, 7-25 ms choruses)"),
        Param("voices", 2, kind="int", min=1, max=4, automatable=False,
              doc="taps per channel, their LFOs evenly spaced in phase"),
        Param("feedback", 0.0, min=-0.9, max=0.9, doc="share of the taps fed back"),
        Param("spread", 0.5, min=0.0, max=1.0,
              doc="the channels' LFOs apart, in shares of a cycle between neighbours"),
        MIX,
    )

    def prepare(self, ctx: Context):
        self.rate = ctx.sample_rate
        channels = ctx.input_channels[0] or 1
        self._channels = 2 if channels == 1 else channels       # a mono input: stereo out
        self._source = np.zeros(self._channels, dtype=np.int64) if channels == 1 \
            else np.arange(self._channels, dtype=np.int64)
        longest = (self.max_value("delay_ms") + self.max_value("depth_ms")) * self.rate / 1000
        self._size = int(longest) + 8
        self.reset()
        return (self._channels,)

    def reset(self):
        self._buf = np.zeros((self._channels, self._size))
        self._state = np.zeros(2)

    def changed(self, name):
        longest = (self.max_value("delay_ms") + self.max_value("depth_ms")) * self.rate / 1000
        if longest + 8 > self._size:
            raise ValueError("a longer delay than the line was made for")

    def tail(self) -> float:
        fb = max(abs(self.max_value("feedback")), abs(self.min_value("feedback")))
        return repeats(fb) * (self.max_value("delay_ms") + self.max_value("depth_ms")) / 1000

    def process(self, ins, outs, start):
        from .kernels.space import chorus

        (x,), (out,) = ins, outs
        chorus(x, out, self._buf, self._state,
               *self.derived(self._loop, ("rate_hz", "depth_ms", "delay_ms", "feedback", "mix",
                                          "spread"), start, x.shape[1]),
               int(self.voices), self._source)

    def _loop(self, rate_hz, depth_ms, delay_ms, feedback, mix, spread):
        """The kernel's arrays (kept while nothing is automated): LFO cycles per
        sample, depth and delay in samples, feedback, mix, spread."""
        ms = self.rate / 1000.0
        return (_arr(np.asarray(rate_hz) / self.rate), _arr(np.asarray(depth_ms) * ms),
                _arr(np.asarray(delay_ms) * ms), _arr(feedback), _arr(mix), _arr(spread))


# 16 delay lengths in ms, mutually prime once rounded to samples at 48 kHz and scaled
# by size 1; spread between 29 and 97 ms so that echoes never line up
FDN_MS = (29.1, 31.7, 34.3, 37.9, 41.1, 44.9, 48.7, 52.3,
          56.9, 61.3, 66.1, 71.3, 77.1, 83.3, 89.9, 97.1)
DIFFUSER_MS = (4.7, 3.6, 12.7, 9.3)
DIFFUSER_GAIN = 0.6
OUTPUT_SCALE = 0.7
CONVOLUTION_PARTITION = 1024


def _next_prime(n: int) -> int:
    def prime(k):
        return k > 1 and all(k % d for d in range(2, int(k ** 0.5) + 1))
    while not prime(n):
        n += 1
    return n


def fdn_lengths(rate: int, size: float) -> np.ndarray:
    """Distinct prime delay lengths (samples) of the 16 lines."""
    out: list[int] = []
    for ms in FDN_MS:
        n = _next_prime(max(2, int(round(ms * size * rate / 1000.0))))
        while n in out:
            n = _next_prime(n + 1)
        out.append(n)
    return np.array(out, dtype=np.int64)


DAMPING_HZ = 2500.0                  # where the absorption shelf turns from lows to highs
LEFT_LINES = np.array([0, 3, 4, 7, 8, 11, 12, 15])   # short and long lines on both sides
RIGHT_LINES = np.array([1, 2, 5, 6, 9, 10, 13, 14])


def absorption(lengths: np.ndarray, rate: int, decay_s, damping):
    """Per-line first-order high shelf (b0, b1, a1): RT60 ``decay_s`` at low frequencies,
    decay_s * (1 - 0.9 * damping) at high ones, turning over around 2.5 kHz.

    A line of m samples needs a gain of 10^(-3 m / (rate T)) per pass for a T-second
    RT60 (Jot); the shelf has exactly the low-frequency gain at DC and the
    high-frequency gain at Nyquist (bilinear transform of (g_hi s + g_lo w) / (s + w)).
    """
    m = lengths.astype(np.float64)[:, None]
    t_lo = np.atleast_1d(np.asarray(decay_s, dtype=np.float64))[None, :]
    t_hi = t_lo * (1.0 - 0.9 * np.atleast_1d(np.asarray(damping, dtype=np.float64))[None, :])
    g_lo = np.power(10.0, -3.0 * m / (rate * t_lo))
    g_hi = np.power(10.0, -3.0 * m / (rate * t_hi))
    k = np.tan(math.pi * min(DAMPING_HZ, 0.45 * rate) / rate)
    b0 = (g_hi + g_lo * k) / (1.0 + k)
    b1 = (g_lo * k - g_hi) / (1.0 + k)
    a1 = np.broadcast_to((k - 1.0) / (1.0 + k), b0.shape)
    return tuple(np.ascontiguousarray(c) for c in (b0, b1, a1))


@register
class Reverb(Node):
    """Algorithmic reverb (a 16-line feedback delay network whose RT60 is ``decay_s``)
    or convolution with an impulse response file (partitioned FFT).  Output is stereo;
    a surround input is folded to stereo on the way in (its channels placed by the
    layouts' rules: :func:`mixgraph.nodes.layouts.place`); a ``surround_pan`` puts the
    return around the room."""

    type_name = "reverb"
    category = "space"
    kernels = ("space.fdn_reverb",)
    cost = 6
    summary = "algorithmic (FDN) or convolution reverb, stereo out"
    params = (
        Param("mode", "algorithmic", kind="choice", choices=("algorithmic", "convolution"),
              doc="algorithmic network, or convolution with ir_path"),
        Param("decay_s", 1.8, min=0.1, max=30.0, unit="s", doc="RT60 at low frequencies"),
        Param("predelay_ms", 0.0, min=0.0, max=500.0, unit="ms", automatable=False,
              doc="delay before the reverb starts"),
        Param("damping", 0.4, min=0.0, max=1.0,
              doc="how much faster highs (above ~2.5 kHz) decay: 0 = as lows, 1 = ten "
                  "times faster"),
        Param("size", 1.0, min=0.3, max=2.5, automatable=False,
              doc="room size: scales the network's delay lengths"),
        Param("ir_path", "", kind="path", role="reads", doc="impulse response file (convolution mode)"),
        MIX,
    )

    @classmethod
    def check_params(cls, values, sample_rate):
        if values.get("mode") == "convolution" and not values.get("ir_path"):
            return ["convolution mode needs an ir_path (an impulse response file)"]
        return []

    def prepare(self, ctx: Context):
        super().prepare(ctx)
        from .delayline import DelayLine

        self._in_channels = ctx.input_channels[0] or 1
        self._fold = None
        if self._in_channels > 2:          # a surround input: its stereo fold excites it
            self._fold = Placement(self._in_channels, 2, ctx.max_block)
            self._in_channels = 2
        sr = ctx.sample_rate
        self._predelay = int(round(self.predelay_ms * sr / 1000.0))
        self._pre = DelayLine(self._in_channels, self._predelay, ctx.max_block) \
            if self._predelay else None
        self._dry = None
        if self.mode == "convolution":
            self._prepare_convolution(ctx)
            self._latency = self._conv.latency
            self._dry = DelayLine(self._in_channels, self._latency, ctx.max_block)
        else:
            self._latency = 0
            self._prepare_network(sr)
        self.reset()
        return (2,)

    def _prepare_network(self, sr: int) -> None:
        self._lengths = fdn_lengths(sr, self.size)
        self._ap_len = np.array([max(1, int(round(ms * self.size * sr / 1000.0)))
                                 for ms in DIFFUSER_MS], dtype=np.int64)
        rng = np.random.default_rng(1234)                   # fixed signs: part of the design
        signs = np.where(rng.random((2, 16)) < 0.5, -1.0, 1.0)
        self._in_sign = np.zeros((2, 16))
        if self._in_channels == 1:
            self._in_sign[0] = signs[0] / 4.0
        else:
            self._in_sign[0, LEFT_LINES] = signs[0, LEFT_LINES] / 2.0 ** 1.5
            self._in_sign[1, RIGHT_LINES] = signs[1, RIGHT_LINES] / 2.0 ** 1.5
        self._out_left = np.zeros(16)
        self._out_right = np.zeros(16)
        self._out_left[LEFT_LINES] = signs[1, LEFT_LINES] * OUTPUT_SCALE / math.sqrt(8)
        self._out_right[RIGHT_LINES] = signs[0, RIGHT_LINES] * OUTPUT_SCALE / math.sqrt(8)
        if not (self.is_automated("decay_s") or self.is_automated("damping")):
            self._static = absorption(self._lengths, sr, self.decay_s, self.damping)
        else:
            self._static = None
        self._balance(sr)

    def changed(self, name):
        if name in ("decay_s", "damping"):
            self._static = None               # the absorption follows them block by block

    def _balance(self, sr: int) -> None:
        """Scale the two output taps so that left and right carry equal energy.

        Which way the early reflections lean depends on the fixed sign pattern; the
        first 0.3 s of the impulse response (at the settings of the start of the
        song) tells, and both sides are set to their mean.
        """
        from .kernels.space import fdn_reverb

        self.reset()
        n = int(0.3 * sr)
        x = np.zeros((self._in_channels, n))
        x[:, 0] = 1.0
        y = np.zeros((2, n))
        shelf = self._static or absorption(self._lengths, sr,
                                           self._values["decay_s"].values[0]
                                           if self.is_automated("decay_s") else self.decay_s,
                                           self._values["damping"].values[0]
                                           if self.is_automated("damping") else self.damping)
        fdn_reverb(x, y, self._lines, self._lengths, self._pos, *shelf, self._lp,
                   self._ap_buf, self._ap_len, self._ap_pos, DIFFUSER_GAIN, self._in_sign,
                   self._out_left, self._out_right)
        energy = np.sum(y * y, axis=1)
        if np.all(energy > 0):
            mean = math.sqrt(energy[0] * energy[1])
            self._out_left *= math.sqrt(mean / energy[0])
            self._out_right *= math.sqrt(mean / energy[1])

    def _prepare_convolution(self, ctx: Context) -> None:
        from .audiofile import open_audio
        from .convolution import PartitionedConvolver

        reader = open_audio(ctx, self.type_name, "ir_path", self.ir_path)
        if reader.channels > 2:
            reader.close()
            raise AudioFileError(f"{self.type_name} '{ctx.node_id}': the impulse response "
                                 f"{self.ir_path} has {reader.channels} channels; a "
                                 "convolution reverb takes a mono or stereo one",
                                 node=ctx.node_id, param="ir_path")
        try:
            ir = np.zeros((reader.channels, reader.frames))
            reader.read_into(ir)
        finally:
            reader.close()
        self._ir_seconds = ir.shape[1] / ctx.sample_rate
        self._conv = PartitionedConvolver(ir, self._in_channels, CONVOLUTION_PARTITION)
        self._conv_out = np.zeros((self._conv.out_channels, ctx.max_block))

    def latency(self) -> int:
        return self._latency

    def tail(self) -> float:
        pre = self.predelay_ms / 1000.0
        if self.mode == "convolution":
            return pre + self._ir_seconds
        return pre + TAIL_DB / 60.0 * self.max_value("decay_s") + 0.1

    def reset(self):
        if self._pre is not None:
            self._pre.reset()
        if self.mode == "convolution":
            self._conv.reset()
            self._dry.reset()
            return
        self._lines = np.zeros((16, int(self._lengths.max())))
        self._pos = np.zeros(16, dtype=np.int64)
        self._lp = np.zeros((16, 2))
        self._ap_buf = np.zeros((self._in_channels, len(self._ap_len), int(self._ap_len.max())))
        self._ap_pos = np.zeros((self._in_channels, len(self._ap_len)), dtype=np.int64)

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        n = x.shape[1]
        if self._fold is not None:
            x = self._fold.process(x)
        wet_in = self._pre.process(x) if self._pre is not None else x
        if self.mode == "convolution":
            conv = self._conv_out[:, :n]
            self._conv.process(wet_in, conv)
            out[:] = conv                                     # mono IR and input: both sides
            dry = self._dry.process(x)
        else:
            from .kernels.space import fdn_reverb

            if self._static is not None:
                shelf = self._static
            else:
                shelf = absorption(self._lengths, self.rate,
                                   self.value("decay_s", start, n),
                                   self.value("damping", start, n))
            fdn_reverb(np.ascontiguousarray(wet_in), out, self._lines, self._lengths, self._pos,
                       *shelf, self._lp, self._ap_buf, self._ap_len, self._ap_pos,
                       DIFFUSER_GAIN, self._in_sign, self._out_left, self._out_right)
            dry = x
        mix = self.value("mix", start - self._latency, n)    # acts on the (late) output
        if not (np.ndim(mix) == 0 and mix == 1.0):
            out *= mix
            out += (1.0 - mix) * dry                          # a mono dry fills both sides


@register
class StereoWidth(Node):
    """Mid/side width: 0 = mono, 1 = unchanged, 2 = twice the side signal.  In a
    surround layout each left/right pair (L R, Ls Rs, Lrs Rrs, the heights) is
    widened alike; the centre and the LFE pass as they are."""

    type_name = "stereo_width"
    category = "space"
    summary = "mid/side stereo width (0 = mono, 1 = unchanged, 2 = wide)"
    params = (Param("width", 1.0, min=0.0, max=2.0,
                    doc="0 = mono, 1 = unchanged, 2 = wide"),)

    def prepare(self, ctx: Context):
        (channels,) = super().prepare(ctx)
        self._pairs = pairs(channels)
        return (channels,)

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        if x.shape[0] == 1:
            out[:] = x
            return
        if x.shape[0] > 2:
            np.copyto(out, x)                       # the centre and LFE as they are
        w = self.value("width", start, x.shape[1])
        for left, right in self._pairs:
            mid = 0.5 * (x[left] + x[right])
            side = 0.5 * (x[left] - x[right]) * w
            np.add(mid, side, out=out[left])
            np.subtract(mid, side, out=out[right])
