"""The ``output`` node: writes its input to an audio file, atomically.

Song time 0 of the input is the file's first sample (the engine has compensated
latency upstream).  The song's content is always written in full; after it, tails
are written up to their last sample at or above -90 dBFS and no further
(:class:`mixgraph.nodes.stream.SongWindow`), so a dry mix is exactly as long as the song and a
reverb tail ends where it has decayed.  Outputs that end together (stems) keep their
tails as far as any of them does (:class:`mixgraph.nodes.stream.TailGroup`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .audiofile import (CODECS, EXTENSIONS, MAX_RATE, MIN_RATE, MP3_KBPS, SUBTYPES, TAGS,
                        UNTAGGED, AtomicWriter, Encoding, format_for, song_time)
from .base import Context, Param, Port, Sink, register
from .stream import SongWindow, TailGroup
from .layouts import layout_name
from .meters import LoudnessMeter
from .tagging import ISRC_FORMATS, add_isrc, isrc_problem
from mixgraph.errors import AudioFileError, ParameterError

#: the containers a surround signal is written to, in the channel order of the
#: WAVE_FORMAT_EXTENSIBLE mask (a WAV carries the mask; FLAC's order is that one)
SURROUND_FORMATS = ("wav", "rf64", "flac")


def _check_rate(value) -> list[str]:
    if value != 0 and not MIN_RATE <= value <= MAX_RATE:
        return [f"must be 0 (the project's rate) or between {MIN_RATE} and {MAX_RATE} Hz, "
                f"got {value}"]
    return []


@register
class Output(Sink):
    """Writes a wav, flac, aiff, rf64 or w64 file (PCM_16, PCM_24 or FLOAT), or an
    encoded mp3, ogg (Vorbis) or opus file, with tags."""

    type_name = "output"
    category = "output"
    #: the report measures what it writes: loudness and true peak
    kernels = LoudnessMeter.KERNELS
    summary = "writes its input to an audio file"
    inputs = (Port("in"),)
    params = (
        Param("path", "", kind="path", required=True, role="writes",
              doc="file to write (relative to the project's folder)"),
        Param("format", "", kind="choice",
              choices=("", "wav", "flac", "aiff", "rf64", "w64", "mp3", "ogg", "opus"),
              doc="container; empty = from the file name's extension (rf64 and w64 for "
                  "files past 4 GB; mp3, ogg (Vorbis) and opus encoded)"),
        Param("subtype", "PCM_24", kind="choice", choices=SUBTYPES,
              doc="sample format (of a PCM file; an encoded one has its codec's)"),
        Param("sample_rate", 0, kind="int", unit="Hz", check=_check_rate,
              doc="rate of the file, converted on write; 0 = the project's rate (Opus "
                  "is always 48 kHz)"),
        Param("trim_tail", True, kind="bool",
              doc="end the file where its tail falls below -90 dBFS; false: write the "
                  "whole declared tail"),
        Param("bitrate_kbps", 0, kind="int", unit="kbit/s",
              doc="an MP3 at a constant bitrate (32 to 320, as MPEG defines them), an Opus "
                  "file at a variable one around it (6 to 256 a channel); 0: a variable "
                  "bitrate at the quality (Ogg Vorbis: always)"),
        Param("quality", 0.8, min=0.0, max=1.0, automatable=False,
              doc="of an encoded file at a variable bitrate: 0 smallest, 1 best"),
        *(Param(name, "" if name != "tracknumber" else 0,
                kind="int" if name == "tracknumber" else "str",
                doc=f"tag: {name} (none where empty{' or 0' if name == 'tracknumber' else ''})")
          for name in TAGS),
        Param("isrc", "", kind="str",
              doc="tag: the recording's ISRC (ID3 TSRC, Vorbis comment ISRC, or a WAV's "
                  "BWF bext chunk with its loudness); none where empty"),
    )

    @classmethod
    def check_params(cls, values, sample_rate):
        path = values.get("path", "")
        fmt = values.get("format", "")
        if not isinstance(path, str) or not path:
            return []
        found = format_for(path, fmt)
        problems = []
        if found is None:
            exts = ", ".join(sorted(EXTENSIONS))
            problems.append(f"cannot tell the format of {path!r}: name it with one of "
                            f"{exts} or set format")
        ext = EXTENSIONS.get(Path(path).suffix.lower())
        if fmt and ext and ext != fmt:
            problems.append(f"format {fmt!r} does not match the extension of {path!r}")
        if found == "flac" and values.get("subtype", "PCM_24") == "FLOAT":
            problems.append("FLAC cannot store FLOAT samples; use PCM_16 or PCM_24")
        kbps = values.get("bitrate_kbps", 0)
        if kbps and found not in ("mp3", "opus"):
            problems.append(f"bitrate_kbps is for MP3 and Opus files ({found or 'this format'} "
                            "is encoded at its quality, or not at all)")
        elif kbps and found == "opus" and not 6 <= kbps <= 512:
            problems.append(f"bitrate_kbps of an Opus file must be between 6 and 512 "
                            f"(256 a channel), got {kbps}")
        elif kbps and found == "mp3" and kbps not in MP3_KBPS:
            problems.append(f"bitrate_kbps must be one of MP3's bitrates "
                            f"({', '.join(map(str, MP3_KBPS))}), got {kbps}")
        if found in UNTAGGED and any(values.get(name) for name in (*TAGS, "isrc")):
            problems.append(f"a {found} file holds no tags; use wav or rf64 to tag it")
        isrc = values.get("isrc", "")
        if isrc and found in ISRC_FORMATS and (problem := isrc_problem(isrc)):
            problems.append(problem)
        return problems

    _writer = None           # until begin(); close() may come before prepare()

    def prepare(self, ctx: Context):
        super().prepare(ctx)
        self._path = ctx.resolve(self.path)
        self._channels = ctx.input_channels[0] or 1
        fmt = format_for(self.path, self.format)
        if self._channels > 2 and fmt not in SURROUND_FORMATS:
            raise ParameterError(
                f"output '{ctx.node_id}': a {fmt} file here holds mono or stereo, and its "
                f"input is {layout_name(self._channels)}; write it as wav, rf64 or flac "
                "(or fold it down first with a downmix node)", node=ctx.node_id,
                param="format")
        if fmt == "flac" and self._channels in (7, 12):
            why = "its seven channels are 6.1, not 7.0" if self._channels == 7 \
                else "it holds eight channels at most"
            raise ParameterError(
                f"output '{ctx.node_id}': a FLAC file cannot hold {layout_name(self._channels)} "
                f"({why}); write it as wav or rf64", node=ctx.node_id, param="format")
        if fmt == "opus" and self.bitrate_kbps and not \
                6 * self._channels <= self.bitrate_kbps <= 256 * self._channels:
            raise ParameterError(
                f"output '{ctx.node_id}': an Opus file of {layout_name(self._channels)} takes "
                f"{6 * self._channels} to {256 * self._channels} kbit/s (6 to 256 a channel), "
                f"got {self.bitrate_kbps}", node=ctx.node_id, param="bitrate_kbps")
        asked = self.sample_rate or ctx.sample_rate
        if format_for(self.path, self.format) == "opus" and asked != 48000:
            ctx.notice(f"output '{ctx.node_id}': Opus is 48 kHz only; {self.path} is "
                       f"converted from {asked} Hz")
        return ()

    @property
    def target(self) -> Path:
        return self._path

    def begin(self, content_frames: int, end_frames: int,
              together: TailGroup | None = None) -> None:
        # without trimming, the whole declared tail counts as content
        self._window = SongWindow(content_frames if self.trim_tail else end_frames,
                                  end_frames, together)
        self._clipped = 0
        rate = self.sample_rate_out
        self._meter = LoudnessMeter(rate, self._channels)
        fmt = format_for(self.path, self.format)
        self._writer = AtomicWriter(
            self._path, rate=self.rate, channels=self._channels, fmt=fmt,
            subtype=self.subtype, file_rate=rate,
            encoding=Encoding(fmt, self.bitrate_kbps, self.quality) if fmt in CODECS else None,
            tags={name: (str(v) if v else "") for name in TAGS
                  if (v := getattr(self, name))})
        self._writer.on_write = self._measure

    @property
    def sample_rate_out(self) -> int:
        """The file's rate: the ``sample_rate`` parameter, or the project's (0); an
        Opus file's is 48 kHz (the codec's own)."""
        if format_for(self.path, self.format) == "opus":
            return 48000
        return self.sample_rate or self.rate

    def _measure(self, data: np.ndarray) -> None:
        """Meter what the file holds (clipped, for integer formats)."""
        if self.subtype != "FLOAT":
            over = np.abs(data) > 1.0
            if over.any():
                self._clipped += int(np.count_nonzero(over))
                data = np.clip(data, -1.0, 1.0)
        self._meter.add(data)

    def process(self, ins, outs, start):
        x = ins[0]
        if not math.isfinite(float(x.sum())):      # NaN and infinities survive a sum
            self._refuse(x, start)
        for part in self._window.feed(x, start):
            self._writer.write(part)

    def _refuse(self, x: np.ndarray, start: int) -> None:
        """Stop the render where a sample is not finite (it would reach the file as
        full-scale DC, or as NaN in a float file); a sum that only overflowed (samples
        near 1e308, all finite) lets the block through."""
        bad = np.flatnonzero(~np.isfinite(x).all(axis=0))
        if not bad.size:
            return
        frame = start + int(bad[0])
        raise AudioFileError(
            f"output '{self.node_id}': the signal reaching it is not a finite number (NaN "
            f"or infinite) at {song_time(max(frame, 0), self.rate)}; every stem and impulse "
            "response is checked where it enters, so a node before this output produced "
            "it; the render stopped and wrote nothing", node=self.node_id)

    def finish(self) -> dict:
        for part in self._window.flush():          # the tail its group keeps
            self._writer.write(part)
        fmt = format_for(self.path, self.format)
        self._writer.complete(finishing=(lambda path: add_isrc(
            path, fmt, self.isrc, self._meter.result())) if self.isrc else None)
        rate = self.sample_rate_out
        figures = self._meter.result()
        return {
            "node": self.node_id,
            "path": str(self._path),
            "format": fmt,
            "subtype": CODECS.get(fmt, self.subtype),
            "sample_rate": rate,
            "channels": self._channels,
            "layout": layout_name(self._channels),
            "frames": self._meter.frames,
            **figures,
            "clipped_samples": self._clipped,
        }

    def publish(self):
        writer, self._writer = self._writer, None
        return writer.publish()

    def series(self) -> dict:
        """Loudness over time of what was written (for plots)."""
        return self._meter.series()

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.discard()
            self._writer = None

    def close(self) -> None:
        self.abort()

