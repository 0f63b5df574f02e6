"""Identifiers a release carries that libsndfile's strings have no place for: the
ISRC of a recording (ISO 3901) and the UPC/EAN of a release.

libsndfile writes title, artist, album, track number, date and comment into each
container's own tags.  An ISRC goes, once the file is complete and still under its
hidden name, where each container keeps one:

- MP3 and AIFF: the ID3v2 frame ``TSRC`` (mutagen writes the tag);
- FLAC, Ogg Vorbis and Opus: the Vorbis comment ``ISRC``;
- WAV and RF64: a Broadcast Wave ``bext`` chunk (EBU Tech 3285, version 2) whose
  Description begins ``ISRC:`` and the twelve characters (EBU Tech 3352), with the
  file's loudness in the version 2 fields (integrated, range, true peak, momentary
  and short-term maxima, in hundredths), appended after the audio and counted in
  the RIFF (or the RF64 ``ds64``) size.
"""

from __future__ import annotations

import math
import re
import struct
from pathlib import Path

from mixgraph.errors import AudioFileError

ISRC_SHAPE = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
#: containers that take an ISRC (W64 holds no tags at all)
ISRC_FORMATS = ("wav", "rf64", "aiff", "flac", "mp3", "ogg", "opus")
BEXT_VERSION = 2
BEXT_FIXED = 602                    # bytes before the coding history


def normal_isrc(text: str) -> str:
    """An ISRC as twelve characters: upper case, without hyphens, spaces or an
    ``ISRC`` prefix; unchanged (and so refused by :func:`isrc_problem`) otherwise."""
    code = re.sub(r"[\s-]", "", str(text)).upper()
    return code[4:] if code.startswith("ISRC") and len(code) == 16 else code


def isrc_problem(text: str) -> str | None:
    """Why ``text`` is not an ISRC, or None."""
    if ISRC_SHAPE.fullmatch(normal_isrc(text)):
        return None
    return (f"{text!r} is not an ISRC (twelve characters CC-XXX-YY-NNNNN: a country "
            "code, three letters or digits for the registrant, two digits of year, five "
            "of designation)")


def catalog_problem(text: str) -> str | None:
    """Why ``text`` is not a UPC-A (12 digits) or EAN-13 (13 digits) with a right
    check digit, or None."""
    digits = str(text).strip()
    if not re.fullmatch(r"\d{12,13}", digits):
        return f"catalog {text!r} must be a UPC (12 digits) or an EAN (13 digits)"
    if ean13(digits)[-1] != digits[-1]:
        return f"catalog {text!r} has a wrong check digit (it should end in {ean13(digits)[-1]})"
    return None


def ean13(digits: str) -> str:
    """A UPC-A or EAN-13 as thirteen digits (a UPC is an EAN with a leading 0), its
    check digit recomputed from the twelve before it."""
    body = digits.strip().zfill(13)[:12]
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def add_isrc(path: Path, fmt: str, isrc: str, figures: dict | None = None) -> None:
    """Write ``isrc`` into the finished file at ``path`` (see the module notes);
    ``figures`` (a loudness meter's result) fill a WAV's ``bext`` loudness fields."""
    code = normal_isrc(isrc)
    try:
        if fmt in ("wav", "rf64"):
            _append_bext(path, fmt, code, figures or {})
        elif fmt in ("mp3", "aiff"):
            _id3_isrc(path, fmt, code)
        elif fmt in ("flac", "ogg", "opus"):
            _vorbis_isrc(path, fmt, code)
        else:
            raise AudioFileError(f"a {fmt} file holds no ISRC", path=str(path))
    except AudioFileError:
        raise
    except Exception as exc:                  # mutagen's and the OS's, as one sentence
        raise AudioFileError(f"cannot write the ISRC into {path.name} ({exc})",
                             path=str(path)) from None


def _id3_isrc(path: Path, fmt: str, code: str) -> None:
    from mutagen.id3 import ID3, TSRC, ID3NoHeaderError

    if fmt == "aiff":
        from mutagen.aiff import AIFF

        audio = AIFF(str(path))
        if audio.tags is None:
            audio.add_tags()
        audio.tags.add(TSRC(encoding=3, text=[code]))
        audio.save(v2_version=3)
        return
    try:
        tags = ID3(str(path))
    except ID3NoHeaderError:
        tags = ID3()
    # LAME writes short tags as ID3v1 alone; read as v2 frames, its comment would be
    # named "ID3v1 Comment" rather than be the comment
    from mutagen.id3 import COMM

    for frame in tags.getall("COMM"):
        if frame.desc == "ID3v1 Comment":
            tags.delall(frame.HashKey)
            tags.add(COMM(encoding=3, lang=frame.lang, desc="", text=frame.text))
    tags.add(TSRC(encoding=3, text=[code]))
    tags.save(str(path), v2_version=3)


def _vorbis_isrc(path: Path, fmt: str, code: str) -> None:
    if fmt == "flac":
        from mutagen.flac import FLAC as Tagged
    elif fmt == "ogg":
        from mutagen.oggvorbis import OggVorbis as Tagged
    else:
        from mutagen.oggopus import OggOpus as Tagged
    audio = Tagged(str(path))
    if audio.tags is None:
        audio.add_tags()
    audio["ISRC"] = [code]
    audio.save()


def bext_chunk(code: str, figures: dict, rate: int, channels: int, bits: str) -> bytes:
    """A version 2 ``bext`` chunk (id, size, body, pad byte) naming the ISRC and the
    loudness ``figures``; unknown figures are 0x7FFF, as the version 2 fields say."""
    def hundredths(key: str) -> int:
        value = figures.get(key)
        if value is None or not math.isfinite(value):
            return 0x7FFF
        return max(-32768, min(32766, int(round(value * 100))))

    mode = {1: "mono", 2: "stereo"}.get(channels, f"{channels}ch")
    history = f"A=PCM,F={rate},W={bits},M={mode},T=mixgraph\r\n".encode("ascii")
    body = struct.pack(
        "<256s32s32s10s8sIIH64s5h180s",
        f"ISRC:{code}".encode("ascii"), b"mixgraph", b"", b"", b"", 0, 0, BEXT_VERSION, b"",
        hundredths("integrated_lufs"), hundredths("lra_lu"), hundredths("true_peak_dbtp"),
        hundredths("momentary_max_lufs"), hundredths("short_term_max_lufs"), b"") + history
    return b"bext" + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def read_bext(path: Path) -> dict | None:
    """The ``bext`` chunk of a WAV or RF64 file as a dict (description, version and
    the loudness fields in their units), or None where it has none."""
    from .audiofile import wav_chunks

    body = wav_chunks(Path(path), (b"bext",)).get(b"bext")
    if body is None or len(body) < BEXT_FIXED:
        return None
    fields = struct.unpack("<256s32s32s10s8sIIH64s5h180s", body[:BEXT_FIXED])
    loud = [None if v == 0x7FFF else v / 100 for v in fields[9:14]]
    return {"description": fields[0].rstrip(b"\0").decode("ascii"),
            "originator": fields[1].rstrip(b"\0").decode("ascii"),
            "version": fields[7], "integrated_lufs": loud[0], "lra_lu": loud[1],
            "true_peak_dbtp": loud[2], "momentary_max_lufs": loud[3],
            "short_term_max_lufs": loud[4],
            "coding_history": body[BEXT_FIXED:].rstrip(b"\0").decode("ascii")}


def _append_bext(path: Path, fmt: str, code: str, figures: dict) -> None:
    import soundfile as sf

    found = sf.info(str(path))
    bits = {"PCM_16": "16", "PCM_24": "24", "FLOAT": "32F"}.get(found.subtype, found.subtype)
    chunk = bext_chunk(code, figures, found.samplerate, found.channels, bits)
    with open(path, "r+b") as fh:
        head = fh.read(36)
        fh.seek(0, 2)
        end = fh.tell()
        if end % 2:                                   # chunks start on even bytes
            fh.write(b"\0")
            end += 1
        if head[:4] == b"RIFF":
            if end + len(chunk) - 8 > 0xFFFFFFFF:
                raise AudioFileError(f"{path.name} would pass 4 GB with its bext chunk; "
                                     "write it as rf64", path=str(path))
            fh.write(chunk)
            fh.seek(4)
            fh.write(struct.pack("<I", end + len(chunk) - 8))
        elif head[:4] == b"RF64" and head[12:16] == b"ds64":
            fh.write(chunk)
            fh.seek(20)                               # the ds64's RIFF size
            fh.write(struct.pack("<Q", end + len(chunk) - 8))
        else:
            raise AudioFileError(f"{path.name} is not a RIFF or RF64 file: no bext chunk "
                                 "written", path=str(path))
