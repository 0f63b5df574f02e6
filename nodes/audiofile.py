"""Streaming audio file I/O: a block reader with resampling, and an atomic writer.

The reader serves frames in whatever block sizes the engine asks for, reading the
file in fixed chunks; resampling goes through soxr's streaming resampler, whose
output does not depend on how its input is chunked (tests check it).  The writer
writes to a hidden temporary file beside the target (:mod:`.tempfiles`), completes
it (``complete()``) and renames it into place (``publish()``, which can be undone
while the render's other outputs are published), so a failed render never leaves a
half-written file.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path
from typing import Iterator

import numpy as np

from .base import DTYPE
from .stream import Batcher
from .tempfiles import hidden_beside, remove_stale_beside
from mixgraph.errors import AudioFileError

FORMATS = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF", "rf64": "RF64", "w64": "W64",
           "mp3": "MP3", "ogg": "OGG", "opus": "OGG"}
EXTENSIONS = {".wav": "wav", ".wave": "wav", ".flac": "flac", ".aif": "aiff", ".aiff": "aiff",
              ".rf64": "rf64", ".w64": "w64", ".mp3": "mp3", ".ogg": "ogg", ".oga": "ogg",
              ".opus": "opus"}
SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")
#: lossy containers and the codec each is written with (their own sample format: the
#: ``subtype`` of a PCM file does not apply)
CODECS = {"mp3": "MPEG_LAYER_III", "ogg": "VORBIS", "opus": "OPUS"}
#: MPEG-1 Layer III bitrates (kbit/s): a constant-bitrate MP3 is one of these
MP3_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
#: the tags an output may carry, as libsndfile names its strings; W64 holds none
TAGS = ("title", "artist", "album", "tracknumber", "date", "comment")
UNTAGGED = ("w64",)
#: sample rates mixgraph reads, writes and renders at (a file declaring 1 Hz would
#: otherwise turn 600 bytes into minutes of audio)
MIN_RATE, MAX_RATE = 8000, 384000
READ_CHUNK = 16384
RESAMPLE_QUALITY = "VHQ"
#: integer sample formats and their bits: read as floats, their codes run from -1 to
#: 1 - 2 ** (1 - bits) (see :func:`full_scale`)
INTEGER_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
                "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}
# integer samples read as such and scaled here: libsndfile's own conversion to double
# is this same exact multiplication by a power of two, at twice the cost
NATIVE = {"PCM_16": ("int16", 2.0 ** -15), "PCM_24": ("int32", 2.0 ** -31),
          "PCM_32": ("int32", 2.0 ** -31), "FLOAT": ("float32", 1.0),
          "DOUBLE": ("float64", 1.0)}


def info(path: Path):
    """soundfile's info for ``path``, or AudioFileError saying why it cannot be read:
    not found, not a regular file (a FIFO or a device would make the read wait or
    never end), not audio, or at a rate outside MIN_RATE..MAX_RATE."""
    import soundfile as sf

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AudioFileError(f"file not found: {path}", path=str(path)) from None
    except OSError as exc:                       # a name too long, a bad character ...
        raise AudioFileError(f"cannot use {path} ({exc.strerror or exc})",
                             path=str(path)) from None
    if stat.S_ISDIR(mode):
        raise AudioFileError(f"{path} is a folder, not an audio file", path=str(path))
    if not stat.S_ISREG(mode):
        raise AudioFileError(f"{path} is not a regular file (a FIFO, a device or a socket), "
                             "so it cannot be read as audio", path=str(path))
    try:
        found = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError
        raise AudioFileError(f"cannot read {path} as audio ({_reason(exc)})",
                             path=str(path)) from None
    check_rate(found.samplerate, path)
    return found


def full_scale(subtype: str) -> float | None:
    """The highest sample an integer ``subtype`` holds, as read (the lowest is -1.0):
    a sample there or at -1.0 is at full scale, where a louder one was clipped to.
    None for float and compressed formats, which hold samples beyond it."""
    bits = INTEGER_BITS.get(subtype)
    return None if bits is None else 1.0 - 2.0 ** (1 - bits)


def check_rate(rate: int, path: Path) -> None:
    """AudioFileError unless a file's sample rate is one mixgraph works at."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioFileError(f"{path} declares a sample rate of {rate} Hz; mixgraph reads "
                             f"files from {MIN_RATE} to {MAX_RATE} Hz", path=str(path))


def song_time(frame: int, rate: int) -> str:
    """``m:ss.mmm`` of a frame at ``rate``, for messages."""
    seconds = frame / rate
    return f"{int(seconds // 60)}:{seconds % 60:06.3f}"


def channel_mask(path: Path) -> int | None:
    """The WAVE_FORMAT_EXTENSIBLE channel mask of a WAV or RF64 file, or None where
    it has none (a plain PCM or float format chunk, or not a WAV)."""
    fmt = wav_chunks(path, (b"fmt ",), limit=4096).get(b"fmt ")
    if fmt is None or len(fmt) < 24 or int.from_bytes(fmt[:2], "little") != 0xFFFE:
        return None
    return int.from_bytes(fmt[20:24], "little")


def set_channel_mask(path: Path, mask: int) -> None:
    """Write ``mask`` into a WAVE_FORMAT_EXTENSIBLE file's format chunk (libsndfile
    writes a default one: for eight channels "7.1 wide", front centre pairs instead
    of side surrounds)."""
    with open(path, "r+b") as f:
        for kind, at, size in riff_chunks(f):
            if kind == b"fmt ":
                f.seek(at)
                if size < 24 or int.from_bytes(f.read(2), "little") != 0xFFFE:
                    break
                f.seek(at + 20)
                f.write(int(mask).to_bytes(4, "little"))
                return
    raise AudioFileError(f"{path} has no WAVE_FORMAT_EXTENSIBLE format chunk",
                         path=str(path))


def channel_order(path: Path, channels: int, declared: str = "",
                  container: str = "") -> list[int] | None:
    """For each channel of the file, the internal channel it holds (None: they are
    the same): from ``declared`` (speaker names in the file's order, such as "L C R
    Ls Rs LFE"), else from the file's channel mask, else (``container`` "FLAC", as
    libsndfile names it) the order FLAC assigns to its channel count, else the
    internal order.  Raises ValueError naming
    what does not fit."""
    from .layouts import layout_for_mask, layout_of

    layout = layout_of(channels)
    if declared:
        names = declared.replace(",", " ").split()
        if sorted(names) != sorted(layout.speakers):
            raise ValueError(f"channel_order {declared!r} must name each speaker of "
                             f"{layout.name} once ({' '.join(layout.speakers)}) for "
                             f"the file's {channels} channels")
        order = [layout.speakers.index(n) for n in names]
    elif channels > 2 and (mask := channel_mask(path)) and \
            (masked := layout_for_mask(mask, channels)) is not None:
        order = masked.file_order()
    elif channels > 2 and container == "FLAC":   # FLAC's channel assignment: the mask's
        order = layout.file_order()
    else:
        return None
    return None if order == list(range(channels)) else order


def open_audio(ctx, node_type: str, param: str, shown: str,
               order: str = "") -> "AudioReader":
    """An :class:`AudioReader`, at the project's rate, of the file a node's parameter
    ``param`` names (``shown``, as the user wrote it), for the node the
    :class:`~mixgraph.nodes.base.Context` ``ctx`` prepares: errors and notices name
    the node ("stem 'kick'") and the file; a file at another rate is listed in
    ``ctx.resampled``.  Any layout's channel count; the channels come in the internal
    order (:func:`channel_order`: ``order`` declared, or the file's mask)."""
    from .layouts import channels_problem

    node, rate, path = ctx.node_id, ctx.sample_rate, ctx.resolve(shown)
    label = f"{node_type} '{node}'"
    try:
        info(path)
        reader = AudioReader(path, rate, label=label)
    except AudioFileError as exc:
        raise AudioFileError(f"{label}: {exc.message}", node=node, param=param,
                             path=exc.path) from None
    if (problem := channels_problem(reader.channels)) is not None:
        reader.close()
        raise AudioFileError(f"{label}: {shown} {problem}", node=node, param=param,
                             path=str(path))
    try:
        reader.reorder(channel_order(path, reader.channels, order, reader.container))
    except ValueError as exc:
        reader.close()
        raise AudioFileError(f"{label}: {exc}", node=node, param="channel_order",
                             path=str(path)) from None
    if reader.resampled:
        ctx.resampled.append((shown, reader.file_rate, label))
    for text in reader.warnings:
        ctx.notice(f"{label}: {text}")
    return reader


# WAV sample formats read straight from the file: (numpy type or None for packed
# 24-bit, bytes per sample, scale to full scale 1.0)
RAW_WAV = {"PCM_16": ("<i2", 2, 2.0 ** -15), "PCM_24": (None, 3, 2.0 ** -23),
           "PCM_32": ("<i4", 4, 2.0 ** -31), "FLOAT": ("<f4", 4, 1.0),
           "DOUBLE": ("<f8", 8, 1.0)}


def riff_chunks(f) -> Iterator[tuple[bytes, int, int]]:
    """(id, where its body starts, its size) of each chunk of the RIFF or RF64 WAVE
    file open as ``f`` (binary), before and after the samples; nothing where it is
    not one.  An RF64 file's sizes of 0xFFFFFFFF are its ``ds64`` chunk's (the
    ``data`` chunk's, here)."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:] != b"WAVE":
        return
    end = os.fstat(f.fileno()).st_size
    data_size = None
    pos = 12
    while pos + 8 <= end:
        f.seek(pos)
        chunk = f.read(8)
        kind, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if kind == b"ds64":
            body = f.read(min(size, 28))
            data_size = int.from_bytes(body[8:16], "little") if len(body) >= 16 else None
        elif kind == b"data" and head[:4] == b"RF64" and size == 0xFFFFFFFF \
                and data_size is not None:
            size = data_size
        yield kind, pos + 8, size
        pos += 8 + size + (size & 1)


def _wav_data(path: Path) -> tuple[int, int | None] | None:
    """(where the samples start, bytes the header says they take) of a RIFF or RF64
    WAVE file's ``data`` chunk; the size is None where the header does not say (RF64
    keeps it elsewhere; 0 and 0xFFFFFFFF mean a recorder never wrote it)."""
    try:
        with open(path, "rb") as f:
            riff = f.read(4) == b"RIFF"
            for kind, at, size in riff_chunks(f):
                if kind == b"data":
                    known = riff and size not in (0, 0xFFFFFFFF)
                    return at, size if known else None
    except OSError:
        return None
    return None


def time_reference(path: Path, rate: int) -> float | None:
    """Where a recording starts on its session's timeline, in seconds after midnight:
    a BWF ``bext`` chunk's TimeReference (samples at the file's ``rate``), else an
    iXML chunk's TIMESTAMP_SAMPLES_SINCE_MIDNIGHT (at its TIMESTAMP_SAMPLE_RATE);
    None where the file says nothing (or is not a RIFF/RF64 WAVE)."""
    chunks = wav_chunks(path, (b"bext", b"iXML"))
    bext = chunks.get(b"bext")
    if bext is not None and len(bext) >= 346:
        return int.from_bytes(bext[338:346], "little") / rate
    ixml = chunks.get(b"iXML")
    if ixml is not None:
        text = ixml.decode("utf-8", "replace")

        def number(tag: str) -> int | None:
            found = re.search(rf"<{tag}>\s*(\d+)\s*</{tag}>", text)
            return int(found.group(1)) if found else None

        hi, lo = number("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI"), \
            number("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO")
        if hi is not None and lo is not None:
            return ((hi << 32) | lo) / (number("TIMESTAMP_SAMPLE_RATE") or rate)
    return None


def wav_chunks(path: Path, wanted: tuple[bytes, ...], limit: int = 1 << 20) -> dict:
    """The bodies of the ``wanted`` chunks of a RIFF or RF64 WAVE file (each at most
    ``limit`` bytes), wherever they are (before or after the samples)."""
    found: dict[bytes, bytes] = {}
    try:
        with open(path, "rb") as f:
            for kind, at, size in riff_chunks(f):
                if kind in wanted and size <= limit:
                    f.seek(at)
                    found[kind] = f.read(size)
    except OSError:
        pass
    return found


_PREADV = hasattr(os, "preadv")         # a positional read (not on Windows)


class _RawWav:
    """Positional reads of a little-endian WAV file's samples into a reused buffer,
    converted by a compiled pass: libsndfile copies through a small buffer of its
    own, which took twice as long.  Only made where libsndfile reads the same frames
    at the start and at the end of the file (see :meth:`open`)."""

    CHECK_END = 4096                    # frames compared at the end (the start may be silent)

    def __init__(self, path: Path, offset: int, channels: int, frames: int, subtype: str,
                 rate: int):
        from .kernels.samples import deinterleave, deinterleave24

        self.path = path
        self.offset = offset
        self.channels = channels
        self.frames = frames
        self.rate = rate
        kind, width, self.scale = RAW_WAV[subtype]
        self.frame_bytes = width * channels
        self._bytes = np.empty(READ_CHUNK * self.frame_bytes, dtype=np.uint8)
        self._view = None if kind is None else self._bytes.view(kind).reshape(-1, channels)
        self._convert = deinterleave if kind is not None else deinterleave24
        self.floating = kind is not None and kind[1] == "f"
        if self.floating:
            from .kernels.samples import deinterleave_finite

            self._convert = deinterleave_finite
        self.label = ""                      # names the node in errors (see AudioReader)
        self._handle = open(path, "rb", buffering=0)

    @classmethod
    def open(cls, path: Path, sound_file) -> "_RawWav | None":
        """A raw reader of ``path`` (open in libsndfile as ``sound_file``), or None where
        the file is not a plain little-endian WAV or the two readers disagree.  Leaves
        ``sound_file`` at frame 0."""
        if sound_file.format not in ("WAV", "WAVEX", "RF64") \
                or sound_file.endian not in ("FILE", "LITTLE") \
                or sound_file.subtype not in RAW_WAV:
            return None
        found = _wav_data(path)
        if found is None:
            return None
        offset = found[0]
        try:
            raw = cls(path, offset, sound_file.channels, sound_file.frames, sound_file.subtype,
                      sound_file.samplerate)
        except OSError:
            return None
        frames = sound_file.frames
        agree = True
        try:
            for start, count in ((0, min(frames, READ_CHUNK)),
                                 (max(0, frames - cls.CHECK_END), min(frames, cls.CHECK_END))):
                mine = np.empty((sound_file.channels, count))
                raw.read_into(start, mine)
                sound_file.seek(start)
                theirs = sound_file.read(count, dtype="float64", always_2d=True)
                agree = agree and np.array_equal(mine, theirs.T)
        except Exception:
            agree = False
        try:
            sound_file.seek(0)
        except Exception:
            agree = False
        if not agree:
            raw.close()
            return None
        return raw

    def read_into(self, pos: int, out: np.ndarray) -> None:
        """Fill ``out`` (channels, n) with frames pos... (zeros past the end)."""
        n = out.shape[1]
        done = 0
        while done < n:
            take = min(READ_CHUNK, n - done, max(0, self.frames - pos - done))
            if take == 0:
                out[:, done:] = 0.0
                return
            got = self._read(self.offset + (pos + done) * self.frame_bytes,
                             take * self.frame_bytes) // self.frame_bytes
            if got:
                if self._view is None:
                    self._convert(self._bytes, self.channels, self.scale,
                                  out[:, done:done + got])
                elif self.floating:
                    bad = self._convert(self._view[:got], self.scale, out[:, done:done + got])
                    if bad >= 0:
                        raise non_finite(self.path, pos + done + bad, self.rate, self.label)
                else:
                    self._convert(self._view[:got], self.scale, out[:, done:done + got])
            if got < take:              # the file was cut while it was being read
                raise shrunk(self.path, pos + done + got, self.rate, self.label)
            done += take

    def _read(self, at: int, size: int) -> int:
        """Read ``size`` bytes at offset ``at`` into the buffer; returns how many came
        (fewer only at the end of the file: a read may return less, so it goes on)."""
        view = memoryview(self._bytes)[:size]
        total = 0
        try:
            while total < size:
                if _PREADV:
                    got = os.preadv(self._handle.fileno(), [view[total:]], at + total)
                else:                                                  # pragma: no cover
                    self._handle.seek(at + total)
                    got = self._handle.readinto(view[total:])
                if not got:
                    break
                total += got
        except OSError as exc:
            raise AudioFileError(f"error reading {self.path} ({exc.strerror or exc})",
                                 path=str(self.path)) from None
        return total

    def close(self) -> None:
        self._handle.close()


def non_finite(path: Path, frame: int, rate: int, label: str = "") -> AudioFileError:
    """The error for a sample that is not a finite number (NaN or infinite): such a
    signal would reach the speakers as full-scale DC, so the render stops."""
    head = f"{label}: " if label else ""
    return AudioFileError(f"{head}{path} holds a sample that is not a finite number (NaN "
                          f"or infinite) at {song_time(frame, rate)} of the file; mixgraph "
                          "neither plays nor measures such a file (repair or re-export it)",
                          path=str(path))


def shrunk(path: Path, frame: int, rate: int, label: str = "") -> AudioFileError:
    """The error for a file that ended sooner than when it was opened."""
    head = f"{label}: " if label else ""
    return AudioFileError(f"{head}{path} ended at {song_time(frame, rate)}, sooner than it "
                          "did when the render began (it was changed or cut while being "
                          "read)", path=str(path))


def _cut_short(path: Path, sound) -> list[str]:
    """A warning where a WAV file's header promises more samples than the file holds
    (libsndfile then reads what is there, and the rest of the part goes missing)."""
    found = _wav_data(path)
    if found is None or found[1] is None or sound.frames <= 0:
        return []
    frame_bytes = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4,
                   "FLOAT": 4, "DOUBLE": 8}.get(sound.subtype)
    if frame_bytes is None:
        return []
    promised = found[1] // (frame_bytes * sound.channels)
    if promised <= sound.frames:
        return []
    rate = sound.samplerate
    return [f"{path.name} is cut short: its header promises {promised / rate:.3f} s but the "
            f"file holds {sound.frames / rate:.3f} s; the rest is silence"]


class AudioReader:
    """Reads an audio file as ``(channels, frames)`` float64 blocks at ``rate`` Hz.

    Reads past the end give zeros.  ``frames`` is the length at ``rate``.  A WAV file
    at ``rate`` is read straight from the file (:class:`_RawWav`); anything else
    through libsndfile, and soxr where it must be resampled.
    """

    def __init__(self, path: Path, rate: int | None = None, *, label: str = ""):
        import soundfile as sf

        from .kernels.samples import deinterleave

        self.path = Path(path)
        self.label = label                   # names the node in errors while reading
        try:
            self._sound = sf.SoundFile(str(self.path))
        except Exception as exc:
            raise AudioFileError(f"cannot read {self.path} as audio ({_reason(exc)})",
                                 path=str(self.path)) from None
        self.channels = self._sound.channels
        self.container = self._sound.format          # libsndfile's name: WAV, FLAC ...
        self.file_rate = self._sound.samplerate
        self.file_frames = self._sound.frames
        try:
            check_rate(self.file_rate, self.path)
        except AudioFileError:
            self._sound.close()
            raise
        #: what the reader found that a user should know (a file cut short)
        self.warnings: list[str] = _cut_short(self.path, self._sound)
        self.rate = int(rate or self.file_rate)
        self.resampled = self.rate != self.file_rate
        if self.resampled:
            self.frames = int(math.ceil(self.file_frames * self.rate / self.file_rate))
        else:
            self.frames = self.file_frames
        self._native, self._scale = NATIVE.get(self._sound.subtype, ("float64", 1.0))
        self._floating = self._native.startswith("float")
        self._chunk = np.empty((READ_CHUNK, self.channels), dtype=self._native)
        self._fifo = np.zeros((0, self.channels), dtype=DTYPE)
        self._fifo_scale = 1.0
        self._fifo_pos = 0
        self._deinterleave = deinterleave     # the fifo holds frames as read: (n, channels)
        self._restart()
        self._order = None                    # file channel -> internal (see reorder)
        self._raw = None if self.resampled else _RawWav.open(self.path, self._sound)
        if self._raw is not None:             # one open file per stem, not two
            self._raw.label = label
            self._sound.close()

    def twin(self) -> "AudioReader":
        """Another reader of the same file at the same rate, in the same channel
        order (to read two places of it at once without seeking between them)."""
        other = AudioReader(self.path, self.rate, label=self.label)
        other._order = self._order
        return other

    def reorder(self, order: list[int] | None) -> None:
        """Give the file's channels in another order: file channel k as channel
        ``order[k]`` (None: as they are)."""
        self._order = None if order is None else np.argsort(order)

    def _restart(self) -> None:
        self._sound.seek(0)
        self._eof = False
        self._pos = 0                                   # frames served so far (at rate)
        self._fifo = np.zeros((0, self.channels), dtype=DTYPE)
        self._fifo_pos = 0
        if self.resampled:
            import soxr

            self._rs = soxr.ResampleStream(self.file_rate, self.rate, self.channels,
                                           dtype="float64", quality=RESAMPLE_QUALITY)

    @property
    def position(self) -> int:
        return self._pos

    def seek(self, frame: int) -> None:
        """Continue reading at ``frame`` (at ``rate``)."""
        frame = max(0, int(frame))
        if frame == self._pos:
            return
        if self._raw is not None:
            self._pos = frame
            return
        if not self.resampled:
            self._fifo = np.zeros((0, self.channels), dtype=DTYPE)
            self._fifo_pos = 0
            self._pos = frame
            self._eof = frame >= self.file_frames
            if not self._eof:
                self._sound.seek(frame)
            return
        if frame < self._pos:
            self._restart()
        skip = np.empty((self.channels, min(READ_CHUNK, frame - self._pos)), dtype=DTYPE)
        while self._pos < frame:
            n = min(skip.shape[1], frame - self._pos)
            self.read_into(skip[:, :n])

    def read_into(self, out: np.ndarray) -> None:
        """Fill ``out`` (channels, n) with the next n frames (zeros past the end)."""
        self._read_into(out)
        if self._order is not None:
            out[:] = out[self._order]

    def _read_into(self, out: np.ndarray) -> None:
        n = out.shape[1]
        if self._raw is not None:
            self._raw.read_into(self._pos, out)
            self._pos += n
            return
        got = 0
        while got < n:
            avail = self._fifo.shape[0] - self._fifo_pos
            if avail == 0:
                if self._eof:
                    out[:, got:] = 0.0
                    break
                self._refill()
                continue
            take = min(avail, n - got)
            frames = self._fifo[self._fifo_pos:self._fifo_pos + take]
            self._deinterleave(frames, self._fifo_scale, out[:, got:got + take])
            self._fifo_pos += take
            got += take
        self._pos += n

    def _refill(self) -> None:
        if self._eof:
            return
        try:
            got = self._sound.read(READ_CHUNK, dtype=self._native, always_2d=True,
                                  out=self._chunk)
        except Exception as exc:
            raise AudioFileError(f"error reading {self.path} ({_reason(exc)})",
                                 path=str(self.path)) from None
        count = got.shape[0]
        at = self._sound.tell()
        if count < READ_CHUNK and at < self.file_frames:   # cut while being read
            raise shrunk(self.path, at, self.file_rate, self.label)
        if self._floating:
            bad = np.flatnonzero(~np.isfinite(got[:count]).all(axis=1))
            if bad.size:
                raise non_finite(self.path, at - count + int(bad[0]), self.file_rate,
                                 self.label)
        last = count < READ_CHUNK or at >= self.file_frames
        if self.resampled:
            self._fifo = self._rs.resample_chunk(np.multiply(got[:count], self._scale,
                                                             dtype=DTYPE), last=last)
            self._fifo_scale = 1.0
        else:                   # the samples as read; scaled on their way out
            self._fifo = got[:count]
            self._fifo_scale = self._scale
        self._fifo_pos = 0
        if last:
            self._eof = True

    def close(self) -> None:
        self._sound.close()
        if self._raw is not None:
            self._raw.close()


#: an Opus stream's bitrate per channel (kbit/s), as libsndfile sets it: from the
#: most at compression level 0 down by (most - least) per unit of level
OPUS_KBPS_PER_CHANNEL = (6, 256)


class Encoding:
    """How a lossy output is encoded: a bitrate (an MP3 at a constant one, kbit/s
    from :data:`MP3_KBPS`; an Opus stream at a variable one around it, 6 to 256 kbit/s
    per channel), or a quality from 0 (smallest) to 1 (best) with a variable bitrate
    (Ogg Vorbis: quality only, libsndfile sets no Vorbis bitrate).

    libsndfile takes a compression level.  For a constant-bitrate MP3 it picks 320
    kbit/s less 288 per unit of level, to the nearest bitrate of the table, so the
    level for a bitrate in the table gives exactly that bitrate; for Opus it asks the
    encoder for 256 kbit/s per channel less 250 per unit of level."""

    def __init__(self, fmt: str, bitrate_kbps: int = 0, quality: float = 0.8):
        self.fmt = fmt
        self.bitrate_kbps = int(bitrate_kbps)
        self.quality = float(quality)

    def soundfile_args(self, channels: int = 2) -> dict:
        """The arguments soundfile's writer takes for this (libsndfile refuses a level
        of 1)."""
        if self.fmt == "mp3" and self.bitrate_kbps:
            return {"bitrate_mode": "CONSTANT",
                    "compression_level": min(0.999, (320 - self.bitrate_kbps) / 288)}
        if self.fmt == "opus" and self.bitrate_kbps:
            least, most = OPUS_KBPS_PER_CHANNEL
            per_channel = min(max(self.bitrate_kbps / channels, least), most)
            return {"compression_level": min(0.999, (most - per_channel) / (most - least))}
        level = min(0.99, max(0.0, 1.0 - self.quality))
        if self.fmt == "mp3":
            return {"bitrate_mode": "VARIABLE", "compression_level": level}
        return {"compression_level": level}


class AtomicWriter:
    """Writes blocks to a temporary file and renames it to ``path`` on commit.

    With ``rate`` different from ``file_rate`` the blocks are resampled on the way.
    """

    def __init__(self, path: Path, *, rate: int, channels: int, fmt: str, subtype: str,
                 file_rate: int | None = None, encoding: "Encoding | None" = None,
                 tags: dict[str, str] | None = None):
        import soundfile as sf

        self.path = Path(os.path.normpath(path))
        self.rate = rate
        self.file_rate = int(file_rate or rate)
        self.channels = channels
        self.fmt = fmt
        self._created_dirs: list[Path] = []
        parent = self.path.parent
        missing = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for d in reversed(missing):
                d.mkdir()
                self._created_dirs.append(d)
            remove_stale_beside(self.path)
            tmp = hidden_beside(self.path, ".partial")
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            self._remove_dirs()
            raise AudioFileError(f"cannot write {self.path} ({exc.strerror or exc})",
                                 path=str(self.path)) from None
        self._tmp = Path(tmp)
        subtype = CODECS.get(fmt, subtype)
        # more than two channels: in the file's channel order, a WAV with its mask
        from .layouts import layout_of

        self.layout = layout_of(channels) if channels > 2 else None
        order = self.layout.file_order() if self.layout is not None else None
        self._file_order = None if order is None or order == sorted(order) else order
        container = "WAVEX" if fmt == "wav" and self.layout is not None else FORMATS[fmt]
        extra = encoding.soundfile_args(channels) if encoding is not None and fmt in CODECS else {}
        try:
            self._sound = sf.SoundFile(tmp, mode="w", samplerate=self.file_rate,
                                      channels=channels, format=container, subtype=subtype,
                                      **extra)
            for name, text in (tags or {}).items():
                if text and fmt not in UNTAGGED:
                    setattr(self._sound, name, str(text))
        except BaseException as exc:            # an interrupt too: nobody else holds it
            self._tmp.unlink(missing_ok=True)
            self._remove_dirs()
            if not isinstance(exc, Exception):
                raise
            raise AudioFileError(f"cannot write {self.path} as {fmt} {subtype} "
                                 f"({_reason(exc)})", path=str(self.path)) from None
        if subtype in ("FLOAT", "DOUBLE"):
            _no_peak_chunk(self._sound)
        self._rs = None
        if self.file_rate != rate:
            import soxr

            self._rs = soxr.ResampleStream(rate, self.file_rate, channels, dtype="float64",
                                           quality=RESAMPLE_QUALITY)
        self.frames_written = 0
        self._batch = Batcher(self._emit)
        self.on_write = None           # callback(block (channels, n)) seen before the file

    def write(self, block: np.ndarray, last: bool = False) -> None:
        """Append ``block`` (channels, n) at ``rate``; ``last`` flushes a resampler.
        libsndfile gets at least 8192 frames a call (small blocks wait)."""
        data = block
        if self._rs is not None:
            data = self._rs.resample_chunk(np.ascontiguousarray(block.T), last=last).T
        if data.shape[1]:
            self._batch.add(data)

    def _emit(self, data: np.ndarray) -> None:
        if self.on_write is not None:
            self.on_write(data)
        if self._file_order is not None:
            data = data[self._file_order]
        try:
            self._sound.write(np.ascontiguousarray(data.T))
        except Exception as exc:
            raise write_error(self.path, exc) from None
        self.frames_written += data.shape[1]

    def commit(self) -> None:
        """:meth:`complete`, then :meth:`publish` for good."""
        self.complete()
        self.publish().keep()

    def complete(self, finishing=None) -> None:
        """Write out what is held, close and sync the temporary file: everything is on
        the disk, under its hidden name.  ``finishing(path)``, where given, runs on the
        closed file before it is synced (tags libsndfile cannot write)."""
        if self._rs is not None:
            self.write(np.zeros((self.channels, 0), dtype=DTYPE), last=True)
        self._batch.flush()
        try:
            self._sound.close()
            if self.layout is not None and self.fmt in ("wav", "rf64"):
                set_channel_mask(self._tmp, self.layout.mask)
            if finishing is not None:
                finishing(self._tmp)
            with open(self._tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(self._tmp, file_mode(self.path))
        except AudioFileError:
            raise
        except Exception as exc:
            raise write_error(self.path, exc) from None

    def publish(self) -> "Publication":
        """Rename the completed file into place.  The file it replaces is kept beside
        it (a hard link, or, where the file system has none, the file itself moved
        aside) until :meth:`Publication.keep`, so that :meth:`Publication.undo` can put
        it back when another output of the same render fails."""
        kept = None
        try:
            if self.path.exists():
                kept = hidden_beside(self.path, ".previous")
                try:
                    os.link(self.path, kept)
                except OSError:                 # no hard links here (FAT, some shares)
                    os.replace(self.path, kept)
            os.replace(self._tmp, self.path)
            return Publication(self.path, kept, self._created_dirs)
        except BaseException as exc:            # a failure, or a stop (Ctrl-C, SIGTERM)
            self._put_back(kept)
            self.discard()
            if not isinstance(exc, OSError):
                raise
            raise AudioFileError(f"cannot move the finished render into place at {self.path} "
                                 f"({exc.strerror or exc})", path=str(self.path)) from None

    def _put_back(self, kept: Path | None) -> None:
        """Leave ``path`` as it was before :meth:`publish` began, wherever that stopped:
        ``kept`` is what it replaced (or None), and the new file was moved in if it is
        no longer where it was written."""
        if not self._tmp.exists():              # moved in: as a publication taken back
            Publication(self.path, kept, self._created_dirs).undo()
        elif kept is None:
            return
        elif self.path.exists():                # the hard link beside an untouched file
            kept.unlink(missing_ok=True)
        elif kept.exists():                     # moved aside, the new file not yet in
            os.replace(kept, self.path)

    def discard(self) -> None:
        try:
            self._sound.close()
        except Exception:
            pass
        self._tmp.unlink(missing_ok=True)
        self._remove_dirs()

    def _remove_dirs(self) -> None:
        for d in reversed(self._created_dirs):
            try:
                d.rmdir()
            except OSError:
                break
        self._created_dirs = []


class Publication:
    """A file just renamed into place, with what it replaced (kept under a hidden
    name beside it), or None where there was nothing."""

    def __init__(self, path: Path, kept: Path | None, created_dirs: list[Path]):
        self.path = path
        self.kept = kept
        self.created_dirs = list(created_dirs)

    def undo(self) -> None:
        """Put back what was there before (or remove the file, and the folders made
        for it, where nothing was)."""
        if self.kept is not None:
            os.replace(self.kept, self.path)
            return
        self.path.unlink(missing_ok=True)
        for d in reversed(self.created_dirs):
            try:
                d.rmdir()
            except OSError:
                break

    def keep(self) -> None:
        """The render succeeded: forget what was replaced."""
        if self.kept is not None:
            self.kept.unlink(missing_ok=True)


def write_error(path: Path, exc: Exception) -> AudioFileError:
    """The error for a failed write of ``path``, saying so plainly when the disk is
    full (libsndfile only says "System error")."""
    import errno
    import shutil

    full = getattr(exc, "errno", None) == errno.ENOSPC
    if not full:
        try:
            full = shutil.disk_usage(path.parent).free < 1024 * 1024
        except OSError:
            pass
    if full:
        return AudioFileError(f"cannot write {path}: the disk holding it is full; free some "
                              "space and render again (nothing was written)", path=str(path))
    return AudioFileError(f"error writing {path} ({_reason(exc)})", path=str(path))


SFC_SET_ADD_PEAK_CHUNK = 0x1050         # libsndfile's sf_command number


def _no_peak_chunk(f) -> None:
    """Leave out the PEAK chunk libsndfile adds to float files: it holds the time of
    writing, so two identical renders would differ in those bytes."""
    import soundfile as sf

    try:
        sf._snd.sf_command(f._file, SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    except AttributeError:                 # another soundfile: keep its default
        pass


def file_mode(path: Path) -> int:
    """The mode a replaced file keeps, or what a new file gets under the umask."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def format_for(path: str, fmt: str = "") -> str | None:
    """The container for ``path``: ``fmt`` if given, else from the extension."""
    if fmt:
        return fmt
    return EXTENSIONS.get(Path(path).suffix.lower())


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
