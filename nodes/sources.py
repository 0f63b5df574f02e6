"""Sources: audio files on the song's timeline, and test generators.

Every source places its material on song time (a stem in clip regions, a generator
from ``offset_s``) and reports where it ends (``length()``), so the engine knows how
long the song is.  Generators are
computed from absolute sample indices (or carry exact state), so their output is
the same whatever the block size.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from . import regions
from .audiofile import open_audio
from .base import DTYPE, Context, Node, Param, register
from mixgraph.errors import ParameterError

OFFSET = Param("offset_s", 0.0, min=-86400.0, max=86400.0, unit="s", automatable=False,
               doc="where the source starts on the song's timeline (negative skips "
                   "its beginning)")
CHANNELS = Param("channels", 1, kind="int", choices=(1, 2), doc="1 = mono, 2 = stereo")


def _patterns(value) -> list[str]:
    if not all(isinstance(p, str) and p for p in value):
        return ["must be a list of file-name patterns like 'kick*' or '*vox*'"]
    return []


def _words(value) -> list[str]:
    if not all(isinstance(w, str) and w and w == w.strip().lower() for w in value):
        return ["must be a list of lower-case words like 'vocals' or 'double'"]
    return []


class Source(Node):
    """A node with no inputs that places material on the song's timeline."""

    category = "sources"
    inputs = ()

    def _span(self, start: int, frames: int, first: int, last: int) -> tuple[int, int]:
        """The part of a block [start, start+frames) inside [first, last): (a, b)."""
        a = min(max(first - start, 0), frames)
        b = min(max(last - start, 0), frames)
        return a, max(a, b)


@register
class Stem(Source):
    """An audio file streamed from disk, of any layout (mono, stereo, 5.1 ...), played
    as clip regions on the timeline (see :mod:`mixgraph.nodes.regions`).

    Each region seeks in the file where it starts; two regions that overlap (a
    crossfade) read through two readers of the file, so neither seeks back and forth.
    Version 2 replaced ``offset_s`` and ``length_s`` with ``regions``."""

    type_name = "stem"
    version = 2
    kernels = ("samples.deinterleave", "samples.deinterleave24", "samples.deinterleave_finite")
    cost = 0.2
    summary = "an audio file on the timeline in clip regions, streamed from disk"
    retired = {"offset_s": "stem version 2 places the file by its regions, e.g. "
                           "regions=[{'at_s': 1.5}] or [{'from_s': 0.5}] to skip its start",
               "length_s": "stem version 2 cuts the file by its regions, e.g. "
                           "regions=[{'length_s': 30.0}]"}
    params = (
        Param("path", "", kind="path", required=True, role="reads",
              doc="audio file (wav, flac, aiff ...)"),
        Param("gain_db", 0.0, min=-120.0, max=24.0, unit="dB", doc="clip gain"),
        Param("regions", regions.WHOLE_FILE, kind="list", items=regions.REGION,
              check=regions.problems, role="regions",
              doc="the spans of the file that play, each placed on the timeline with "
                  "its gain and fades (default: the whole file from 0; none: silence)"),
        Param("crossfade", "equal_power", kind="choice", choices=regions.CROSSFADES,
              doc="the law of the crossfade where regions overlap or meet"),
        Param("crossfade_ms", 10.0, min=0.0, max=1000.0, unit="ms", automatable=False,
              doc="the crossfade made where one region ends just as the next begins "
                  "(0: a plain cut)"),
        Param("channel_order", "", kind="str", automatable=False,
              doc="a multichannel file's speakers in its own order where it has no channel "
                  "mask, e.g. 'L C R Ls Rs LFE' (empty: its mask, else L R C LFE Ls Rs "
                  "Lrs Rrs)"),
        Param("match", [], kind="list", check=_patterns, template_only=True,
              doc="template slot: file-name patterns this stem takes (e.g. kick*, *bd*)"),
        Param("fallback", [], kind="list", check=_patterns, template_only=True,
              doc="template slot: weaker patterns, tried after every slot's match"),
        Param("family", [], kind="list", check=_words, template_only=True,
              doc="template slot: the instrument families it takes, best first (e.g. "
                  "backing, vocals); see the README's vocabulary"),
        Param("prefer", [], kind="list", check=_words, template_only=True,
              doc="template slot: qualifiers that make a file fit it better (lead, "
                  "double, top, di ...)"),
        Param("avoid", [], kind="list", check=_words, template_only=True,
              doc="template slot: qualifiers that make a file fit it worse"),
        Param("side", "", kind="choice", choices=("", "left", "right"), template_only=True,
              doc="template slot: the side of a left/right pair it takes"),
        Param("multiple", False, kind="bool", template_only=True,
              doc="template slot: take every file that fits it (each on a strip of its "
                  "own), not just the best one"),
    )

    @classmethod
    def migrate(cls, params: dict, version: int) -> dict:
        if version < 2:
            params = cls._from_version_1(params)
        return params

    @staticmethod
    def _from_version_1(params: dict) -> dict:
        """Version 1 placed the whole file by ``offset_s`` and cut it after
        ``length_s`` (at most the file): that is one region (or the default, the whole
        file from 0; a cut longer than the file is a region that plays to its end,
        which validation notes)."""
        params = dict(params)
        offset, length = params.pop("offset_s", 0.0), params.pop("length_s", 0.0)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   for v in (offset, length)):
            raise ParameterError(f"stem of version 1: offset_s and length_s must be numbers, "
                                 f"got {offset!r} and {length!r}")
        found = regions.from_offset(float(offset), float(length))
        if found != regions.WHOLE_FILE:
            if "regions" in params:
                raise ParameterError("stem of version 1 holds both regions and offset_s or "
                                     "length_s; keep one")
            params["regions"] = found
        return params

    @classmethod
    def file_problems(cls, values: dict, seconds: float) -> list[tuple[str, str]]:
        """What only the file tells (the rest is the parameter's own check)."""
        value = values.get("regions", regions.WHOLE_FILE)
        known = set(regions.problems(value))
        return [("regions", p) for p in regions.problems(value, seconds) if p not in known]

    @classmethod
    def file_notices(cls, values: dict, seconds: float) -> list[str]:
        return [f"regions: {p}" for p in
                regions.overruns(values.get("regions", regions.WHOLE_FILE), seconds)]

    def prepare(self, ctx: Context) -> tuple[int, ...]:
        super().prepare(ctx)
        r = open_audio(ctx, self.type_name, "path", self.path, self.channel_order)
        found = self.file_problems(self._values, r.file_frames / r.file_rate)
        if found:
            r.close()
            param, problem = found[0]
            raise ParameterError(f"stem '{ctx.node_id}': {param}: {problem}",
                                 node=ctx.node_id, param=param)
        for notice in self.file_notices(self._values, r.file_frames / r.file_rate):
            ctx.notice(f"stem '{ctx.node_id}': {notice}")
        self._spans = regions.spans(self.regions, ctx.sample_rate, r.frames, self.crossfade,
                                    int(round(self.crossfade_ms * ctx.sample_rate / 1000)))
        self._ends = [s.end for s in self._spans]     # in order: no region inside another
        overlapping = any(b.start < a.end for a, b in zip(self._spans, self._spans[1:]))
        self._readers = [r, r.twin()] if overlapping else [r]
        self._scratch = np.empty((r.channels, ctx.max_block))
        return (r.channels,)

    def length(self) -> int:
        return max(0, self._ends[-1]) if self._ends else 0

    def process(self, ins, outs, start):
        (out,) = outs
        frames = out.shape[1]
        first = bisect.bisect_right(self._ends, start)
        last = first
        while last < len(self._spans) and self._spans[last].start < start + frames:
            last += 1
        whole = last - first == 1 and self._spans[first].start <= start \
            and self._spans[first].end >= start + frames
        if not whole:
            out[:] = 0.0
        for k in range(first, last):
            span = self._spans[k]
            a, b = max(span.start, start), min(span.end, start + frames)
            reader = self._readers[k % len(self._readers)]
            pos = span.source + a - span.start
            if pos != reader.position:
                reader.seek(pos)
            part = out if whole else self._scratch[:, :b - a]
            reader.read_into(part)
            env = span.envelope(a, b)
            if np.ndim(env) or env != 1.0:
                part *= env
            if not whole:
                out[:, a - start:b - start] += part
        if self.is_automated("gain_db") or self.gain_db != 0.0:
            out *= self.gain("gain_db", start, frames)

    def reset(self):
        for reader in self._readers:
            reader.seek(0)

    def close(self):
        for reader in self.__dict__.get("_readers", ()):
            reader.close()


class Generator(Source):
    """A test signal of ``duration_s`` seconds from ``offset_s``."""

    def prepare(self, ctx):
        super().prepare(ctx)
        sr = ctx.sample_rate
        self._first = int(round(self.offset_s * sr))
        self._last = self._first + int(round(self.duration_s * sr))
        return (self.channels,)

    def length(self) -> int:
        return max(0, self._last)


@register
class Tone(Generator):
    """A sine tone (frequency and level automatable)."""

    type_name = "tone"
    summary = "sine test tone"
    params = (
        Param("freq_hz", 1000.0, min=1.0, max=192000.0, unit="Hz", doc="frequency"),
        Param("level_dbfs", -18.0, min=-120.0, max=0.0, unit="dBFS", doc="peak level"),
        Param("duration_s", 5.0, min=0.0, max=86400.0, unit="s", automatable=False,
              doc="length of the tone"),
        OFFSET,
        CHANNELS,
    )

    @classmethod
    def check_params(cls, values, sample_rate):
        f = values.get("freq_hz", 1000.0)
        top = f["automation"] if isinstance(f, dict) else [[0, f]]
        highest = max(float(v) for _, v in top)
        if highest >= sample_rate / 2:
            return [f"freq_hz must be below half the sample rate ({sample_rate / 2:g} Hz), "
                    f"got {highest:g}"]
        return []

    def prepare(self, ctx):
        chans = super().prepare(ctx)
        self.reset()
        return chans

    def reset(self):
        self._phase = 0.0          # radians at the next sample (automated frequency only)

    def process(self, ins, outs, start):
        (out,) = outs
        frames = out.shape[1]
        a, b = self._span(start, frames, self._first, self._last)
        out[:, :a] = 0.0
        out[:, b:] = 0.0
        if b <= a:
            return
        k0 = start + a - self._first                 # index within the tone
        n = b - a
        sr = self.rate
        if self.is_automated("freq_hz"):
            step = 2.0 * math.pi * self.value_array("freq_hz", start + a, n) / sr
            # phase of each sample = phase before it; sequential accumulation carried
            # from block to block gives the same sums as one pass over the signal
            acc = np.cumsum(np.concatenate(([self._phase], step)))
            phase = acc[:-1]
            self._phase = float(acc[-1])
        else:
            cycles = np.arange(k0, k0 + n, dtype=DTYPE) * (self.freq_hz / sr)
            phase = 2.0 * math.pi * (cycles - np.floor(cycles))
        amp = self.gain("level_dbfs", start + a, n)
        out[:, a:b] = np.sin(phase) * amp


_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
_NOISE_CHUNK = 65536
_pink_rms: float | None = None


def _pink_filter_rms() -> float:
    """RMS gain of the pink-noise filter on unit white noise (from its impulse response)."""
    global _pink_rms
    if _pink_rms is None:
        from .kernels.filters import lfilter

        impulse = np.zeros((1, 1 << 20))
        impulse[0, 0] = 1.0
        h = np.empty_like(impulse)
        lfilter(_PINK_B, _PINK_A, impulse, h, np.zeros((1, 3)))
        _pink_rms = float(np.sqrt(np.sum(h * h)))
    return _pink_rms


@register
class Noise(Generator):
    """Seeded Gaussian noise, white or pink (-3 dB per octave), at an RMS level.

    The samples come from counter-seeded chunks (seed, chunk index), so any block of
    the noise can be produced on its own and the result does not depend on the
    block size.  Stereo noise has independent channels.
    """

    type_name = "noise"
    kernels = ("filters.lfilter",)
    summary = "seeded white or pink noise"
    params = (
        Param("level_dbfs", -20.0, min=-120.0, max=0.0, unit="dBFS", doc="RMS level"),
        Param("duration_s", 5.0, min=0.0, max=86400.0, unit="s", automatable=False,
              doc="length of the noise"),
        Param("color", "white", kind="choice", choices=("white", "pink"),
              doc="white (flat) or pink (-3 dB/octave)"),
        Param("seed", 0, kind="int", min=0, max=2**31 - 1, doc="random seed"),
        OFFSET,
        CHANNELS,
    )

    def prepare(self, ctx):
        chans = super().prepare(ctx)
        self._chunk_index = None                 # no chunk yet (indices may be negative)
        self._chunk = None
        self.reset()
        return chans

    def reset(self):
        self._zi = np.zeros((self.channels, len(_PINK_A) - 1))

    def _white(self, k0: int, n: int) -> np.ndarray:
        """Unit-variance white noise for samples k0 .. k0+n-1 of the source."""
        out = np.empty((self.channels, n), dtype=DTYPE)
        k, filled = k0, 0
        while filled < n:
            c, i = divmod(k, _NOISE_CHUNK)
            if c != self._chunk_index:
                rng = np.random.default_rng([self.seed, c])
                self._chunk = rng.standard_normal((self.channels, _NOISE_CHUNK))
                self._chunk_index = c
            take = min(_NOISE_CHUNK - i, n - filled)
            out[:, filled:filled + take] = self._chunk[:, i:i + take]
            filled += take
            k += take
        return out

    def process(self, ins, outs, start):
        (out,) = outs
        frames = out.shape[1]
        a, b = self._span(start, frames, self._first, self._last)
        out[:, :a] = 0.0
        out[:, b:] = 0.0
        if b <= a:
            return
        x = self._white(start + a - self._first, b - a)
        if self.color == "pink":
            from .kernels.filters import lfilter

            lfilter(_PINK_B, _PINK_A, x, x, self._zi)
            x /= _pink_filter_rms()
        out[:, a:b] = x * self.gain("level_dbfs", start + a, b - a)
