"""Album mastering: songs in order, with gaps or crossfades, consistent loudness, one
file per song, a continuous programme and a CUE sheet.

An album is a document of the project family with ``"kind": "album"``::

    {"format": "mixgraph", "version": 1, "kind": "album", "sample_rate": 48000,
     "album": {
       "title": "Night Drive", "artist": "The Band",
       "songs": [
         {"source": "mixes/01 intro.wav", "title": "Intro", "fade_out_s": 1.0,
          "gap_s": 2.0},
         {"source": "songs/02.mgraph", "output": "mix_out", "trim_start_s": 0.5,
          "crossfade_s": 3.0, "crossfade_curve": "equal_power"},
         {"source": "mixes/03 ballad.flac", "isrc": "GB-ABC-26-00003",
          "performer": "The Band feat. Guest"}],
       "catalog": "5012345678900",                      # UPC/EAN, for the CUE sheet
       "master": [{"type": "eq", "params": {"bands": [...]}},
                  {"type": "multiband_compressor"}],
       "master_mode": "per_song",                       # or "programme"
       "loudness": {"mode": "album", "target_lufs": -14, "ceiling_dbtp": -1},
       "output": {"format": "wav", "subtype": "PCM_24", "programme": "album.wav"}}}

A song's source is a mix file, or a project rendered on demand (its ``output``, or
its first output).  Each song is trimmed, faded, run through the master stages and
brought to loudness:

- ``album`` mode: the loudest song reaches the target and every other song keeps its
  loudness relative to it: one gain for all songs, limited to the ceiling only where
  a peak would cross it; a song that is limited is driven into its limiter by just
  enough more to keep its distance from the others (limiting costs loudness);
- ``track`` mode: every song to the target.

The programme places each song after the previous one's end plus its gap, or over
its end by a crossfade (equal power, linear or s-curve).  A CUE sheet marks the song
starts.  CUE positions count in frames of 1/75 s, so songs are padded with silence to
whole frames and gaps and crossfades are rounded to whole frames: every song then
starts on a frame boundary and the CUE index is exactly its first sample.  The sheet
carries the release's ``CATALOG`` (UPC/EAN), each track's ``TITLE``, ``PERFORMER``
(CD-Text) and ``ISRC``, and an ``INDEX 00`` where a gap before a song begins (the
track's pregap).  :func:`red_book_problems` checks a sheet against the CD's rules.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from mixgraph.nodes.audiofile import info
from mixgraph.nodes.base import node_class
from mixgraph.nodes.tagging import catalog_problem, ean13, isrc_problem, normal_isrc
from mixgraph.nodes.tempfiles import temp_folder
from mixgraph.errors import AudioFileError, MixgraphError, ProjectFileError

from mixgraph.core.fileformat import load, read_document, write_atomic
from mixgraph.core.model import Graph

CUE_FRAMES_PER_S = 75
#: the Red Book's limits: tracks, shortest track, pregap before track 1, and a disc's
#: playing time (an 80-minute CD-R; 74 minutes is the original disc)
CD_TRACKS_MAX = 99
CD_TRACK_MIN_S = 4.0
CD_PREGAP_S = 2.0
CD_MINUTES_MAX = 80
CROSSFADE_CURVES = ("equal_power", "linear", "s_curve")
FADE_CURVES = ("linear", "exponential", "s_curve")
SONG_KEYS = {"source", "output", "title", "trim_start_s", "trim_end_s", "fade_in_s",
             "fade_out_s", "fade_curve", "gap_s", "crossfade_s", "crossfade_curve",
             "isrc", "performer"}


@dataclass
class Song:
    source: Path
    title: str
    output: str | None = None
    trim_start_s: float = 0.0
    trim_end_s: float = 0.0
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    fade_curve: str = "s_curve"
    gap_s: float = 2.0
    crossfade_s: float = 0.0
    crossfade_curve: str = "equal_power"
    isrc: str = ""
    performer: str = ""


@dataclass
class Album:
    songs: list[Song]
    sample_rate: int = 48000
    title: str = ""
    artist: str = ""
    catalog: str = ""
    master: list[dict] = field(default_factory=list)
    master_mode: str = "per_song"
    mode: str = "album"
    target_lufs: float = -14.0
    ceiling_dbtp: float = -1.0
    format: str = "wav"
    subtype: str = "PCM_24"
    programme: str = "album.wav"
    path: Path | None = None


def load_album(path: str | os.PathLike) -> Album:
    """Read and check an album document; every problem in one error."""
    path = Path(path)
    doc = read_document(path)
    if doc.get("kind") != "album":
        raise ProjectFileError(f"{path} is not an album (its kind is {doc.get('kind')!r})")
    base = path.resolve().parent
    body = doc.get("album")
    problems: list[str] = []
    if not isinstance(body, dict):
        raise ProjectFileError(f"{path} has no 'album' section")
    raw_songs = body.get("songs")
    if not isinstance(raw_songs, list) or not raw_songs:
        raise ProjectFileError(f"{path}: 'songs' must be a non-empty list")
    songs = []
    for i, raw in enumerate(raw_songs, start=1):
        where = f"song {i}"
        if not isinstance(raw, dict) or not isinstance(raw.get("source"), str):
            problems.append(f"{where} needs a 'source' (a mix file or a project)")
            continue
        extra = set(raw) - SONG_KEYS
        if extra:
            problems.append(f"{where} has unknown key(s) {', '.join(sorted(extra))}")
        numbers = {}
        for key in ("trim_start_s", "trim_end_s", "fade_in_s", "fade_out_s", "gap_s",
                    "crossfade_s"):
            v = raw.get(key, Song.__dataclass_fields__[key].default)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not \
                    (math.isfinite(v) and 0 <= v <= 600):
                problems.append(f"{where}: {key} must be between 0 and 600 s, got {v!r}")
                v = 0.0
            numbers[key] = float(v)
        if raw.get("gap_s") and raw.get("crossfade_s"):
            problems.append(f"{where} has both gap_s and crossfade_s; a song is followed by "
                            "one or the other")
        if "crossfade_s" in raw and "gap_s" not in raw:
            numbers["gap_s"] = 0.0
        for key, allowed in (("fade_curve", FADE_CURVES),
                             ("crossfade_curve", CROSSFADE_CURVES)):
            if raw.get(key, allowed[0] if key == "crossfade_curve" else "s_curve") \
                    not in allowed:
                problems.append(f"{where}: {key} must be one of {', '.join(allowed)}, "
                                f"got {raw.get(key)!r}")
        source = Path(raw["source"]).expanduser()
        source = source if source.is_absolute() else base / source
        if not source.exists():
            problems.append(f"{where}: source not found: {raw['source']}")
        title = str(raw.get("title") or _title_from(source))
        isrc = str(raw.get("isrc", ""))
        if isrc and (problem := isrc_problem(isrc)):
            problems.append(f"{where}: {problem}")
        songs.append(Song(source=source, title=title, output=raw.get("output"),
                          fade_curve=raw.get("fade_curve", "s_curve"),
                          crossfade_curve=raw.get("crossfade_curve", "equal_power"),
                          isrc=normal_isrc(isrc) if isrc else "",
                          performer=str(raw.get("performer", "")), **numbers))
    catalog = str(body.get("catalog", ""))
    if catalog and (problem := catalog_problem(catalog)):
        problems.append(problem)
    loud = body.get("loudness", {})
    mode = loud.get("mode", "album")
    if mode not in ("album", "track"):
        problems.append(f"loudness mode must be 'album' or 'track', got {mode!r}")
    target = loud.get("target_lufs", -14.0)
    ceiling = loud.get("ceiling_dbtp", -1.0)
    if not isinstance(target, (int, float)) or not -40 <= target <= -5:
        problems.append(f"target_lufs must be between -40 and -5 LUFS, got {target!r}")
    if not isinstance(ceiling, (int, float)) or not -10 <= ceiling <= 0:
        problems.append(f"ceiling_dbtp must be between -10 and 0 dBTP, got {ceiling!r}")
    master = body.get("master", [])
    if not isinstance(master, list):
        problems.append("'master' must be a list of stages like {\"type\": \"eq\", "
                        "\"params\": {...}}")
        master = []
    for j, stage in enumerate(master, start=1):
        if not isinstance(stage, dict) or not isinstance(stage.get("type"), str):
            problems.append(f"master stage {j} must be an object with a 'type'")
            continue
        try:
            cls = node_class(stage["type"])
            if len(cls.inputs) < 1 or not cls.outputs:
                problems.append(f"master stage {j} ({stage['type']}) is not a stage that "
                                "takes audio in and gives audio out")
        except MixgraphError as exc:
            problems.append(f"master stage {j}: {exc.message}")
    master_mode = body.get("master_mode", "per_song")
    if master_mode not in ("per_song", "programme"):
        problems.append(f"master_mode must be 'per_song' or 'programme', got {master_mode!r}")
    if master_mode == "programme" and mode == "track":
        problems.append("a master chain over the whole programme gives every song one "
                        "gain: use loudness mode 'album' with it")
    out = body.get("output", {})
    fmt, subtype = out.get("format", "wav"), out.get("subtype", "PCM_24")
    if fmt not in ("wav", "flac", "aiff"):
        problems.append(f"output format must be wav, flac or aiff, got {fmt!r}")
    if subtype not in ("PCM_16", "PCM_24", "FLOAT") or (fmt == "flac" and subtype == "FLOAT"):
        problems.append(f"output subtype {subtype!r} does not suit {fmt}")
    rate = doc.get("sample_rate", 48000)
    if not isinstance(rate, int) or rate % CUE_FRAMES_PER_S:
        problems.append(f"sample_rate must be a whole number of Hz divisible by 75 (CUE "
                        f"frames), got {rate!r}")
    if problems:
        raise ProjectFileError(f"{path}: " + "; ".join(problems))
    return Album(songs=songs, sample_rate=rate, title=str(body.get("title", "")),
                 artist=str(body.get("artist", "")), catalog=ean13(catalog) if catalog else "",
                 master=master, master_mode=master_mode,
                 mode=mode, target_lufs=float(target), ceiling_dbtp=float(ceiling),
                 format=fmt, subtype=subtype,
                 programme=str(out.get("programme", "album." + {"aiff": "aif"}.get(fmt, fmt))),
                 path=path)


def _title_from(path: Path) -> str:
    return re.sub(r"^\s*\d+[\s._-]*", "", path.stem).strip() or path.stem


# -------------------------------------------------------------------- render
@dataclass
class SongResult:
    title: str
    path: Path
    start: int                     # first sample in the programme
    frames: int
    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    gain_db: float
    limiting_db: float


@dataclass
class AlbumReport:
    songs: list[SongResult]
    programme: Path
    cue: Path
    programme_lufs: float
    programme_true_peak_dbtp: float
    sample_rate: int
    notices: list[str] = field(default_factory=list)

    def format(self) -> str:
        lines = [f"{'#':>2}  {'song':<28} {'start':>9} {'I LUFS':>7} {'LRA':>5} "
                 f"{'TP dBTP':>8} {'gain dB':>8}"]
        for i, s in enumerate(self.songs, start=1):
            lines.append(f"{i:>2}  {s.title[:28]:<28} {_clock(s.start, self.sample_rate):>9} "
                         f"{s.integrated_lufs:7.2f} {s.lra_lu:5.1f} {s.true_peak_dbtp:8.2f} "
                         f"{s.gain_db:+8.2f}" + (f"  (limited {s.limiting_db:.1f} dB)"
                                                if s.limiting_db > 0.05 else ""))
        lines.append(f"album: {self.programme_lufs:.2f} LUFS integrated, true peak "
                     f"{self.programme_true_peak_dbtp:.2f} dBTP -> {self.programme.name}, "
                     f"{self.cue.name}")
        lines += [f"notice: {n}" for n in self.notices]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"songs": [{"title": s.title, "path": str(s.path),
                           "start_s": s.start / self.sample_rate, "start_sample": s.start,
                           "integrated_lufs": s.integrated_lufs, "lra_lu": s.lra_lu,
                           "true_peak_dbtp": s.true_peak_dbtp, "gain_db": s.gain_db,
                           "limiting_db": s.limiting_db} for s in self.songs],
                "programme": str(self.programme), "cue": str(self.cue),
                "integrated_lufs": self.programme_lufs,
                "true_peak_dbtp": self.programme_true_peak_dbtp, "notices": self.notices}


def _clock(frames: int, rate: int) -> str:
    s = frames / rate
    return f"{int(s // 60)}:{s % 60:06.3f}"


def render_album(album: Album, folder: str | os.PathLike, progress=None) -> AlbumReport:
    """Write every song, the programme and its CUE sheet into ``folder``."""
    from mixgraph.core.renderer import render

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rate = album.sample_rate
    cue_frame = rate // CUE_FRAMES_PER_S
    notices: list[str] = []
    steps = len(album.songs) * 3 + 2
    done = [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], steps)

    with temp_folder() as tmp:
        sources = [_song_audio(s, tmp, i) for i, s in enumerate(album.songs)]
        for _ in album.songs:
            tick()
        if album.master_mode == "programme":
            return _programme_mode(album, sources, folder, tmp, notices, tick)
        # 1. trim, fade, master chain: a song ready for loudness
        pre = _render_songs(album, sources, tmp, "pre", True, tick)
        # 2. loudness: every song through a loudness stage aimed at its own target
        levels, targets = _targets(album, pre, notices)
        gains, limits, finals = [], [], []
        for i, song in enumerate(album.songs):
            name = f"{i + 1:02d} {_safe_title(song.title)}.{_suffix(album.format)}"
            target = folder / name
            g = Graph(sample_rate=rate, base_dir=tmp)
            g.add("stem", id="song", path=str(pre[i]))
            g.add("loudness", id="loud", target_lufs=targets[i],
                  ceiling_dbtp=album.ceiling_dbtp)
            g.add("output", id="out", path=str(target), subtype=album.subtype,
                  format=album.format)
            g.connect("song", "loud")
            g.connect("loud", "out")
            fig = render(g, allow_outside=True).nodes["loud"][1]
            limits.append(fig.get("limiting_max_db", 0.0))
            # unlimited, the stage's gain is exactly target minus level (the report
            # rounds it to 0.01 dB)
            gains.append(fig["gain_db"] if fig.get("limiting") or not
                         math.isfinite(levels[i]) else targets[i] - levels[i])
            finals.append(target)
            tick()
        return _assemble(album, finals, gains, limits, folder, notices, cue_frame, tick)


def _song_audio(song: Song, tmp: Path, i: int) -> Path:
    """The song's mix: the file itself, or a project rendered now."""
    from mixgraph.core.renderer import render

    if song.source.suffix.lower() not in (".mgraph", ".json"):
        return song.source
    project = load(song.source)
    outputs = [s.id for s in project if s.type == "output"]
    chosen = song.output or (outputs[0] if outputs else None)
    if chosen not in outputs:
        raise ProjectFileError(f"{song.source} has no output {chosen!r} (outputs: "
                               f"{', '.join(outputs) or 'none'})")
    target = tmp / f"song{i}.wav"
    project.keep_only_feeding([chosen])       # nothing else rendered, nothing else written
    render(project, output_paths={chosen: str(target)})
    return target


def _song_graph(album: Album, song: Song, source: Path, target: Path, master: bool) -> Graph:
    rate = album.sample_rate
    found = info(source)                 # a FIFO or a device is refused, not read
    length = found.frames / found.samplerate
    play = length - song.trim_start_s - song.trim_end_s
    if play <= 0:
        raise AudioFileError(f"song '{song.title}': trimming {song.trim_start_s + song.trim_end_s:g}"
                             f" s leaves nothing of its {length:.2f} s")
    g = Graph(sample_rate=rate, base_dir=target.parent)
    g.add("stem", id="song", path=str(source),
          regions=[{"from_s": song.trim_start_s, "length_s": play}])
    prev = "song"
    if song.fade_in_s or song.fade_out_s:
        g.add("fade", id="fade", in_s=song.fade_in_s, out_s=song.fade_out_s,
              curve=song.fade_curve)
        g.connect(prev, "fade")
        prev = "fade"
    if master:
        for j, stage in enumerate(album.master):
            node = g.add(stage["type"], id=f"stage{j}", **dict(stage.get("params", {})))
            g.connect(prev, node)
            prev = node
    g.add("output", id="out", path=str(target), subtype="FLOAT")
    g.connect(prev, "out")
    return g


def _targets(album: Album, pre: list[Path], notices: list[str]):
    """Each song's integrated loudness and its loudness target.

    ``track``: the album's target for every song.  ``album``: the loudest song gets the
    target and every other song keeps its distance from it, so all songs share one
    gain, except that a song its limiter takes loudness from is driven into it a little
    harder to keep that distance (the loudest one usually).
    """
    from mixgraph.nodes.meters import meter_file

    levels = [meter_file(p)["integrated_lufs"] for p in pre]
    if album.mode == "track" or not any(math.isfinite(lv) for lv in levels):
        return levels, [album.target_lufs] * len(pre)
    loudest = int(np.argmax([lv if math.isfinite(lv) else -math.inf for lv in levels]))
    gain = album.target_lufs - levels[loudest]
    notices.append(f"album gain {gain:+.2f} dB, set by '{album.songs[loudest].title}' "
                   f"(the loudest at {levels[loudest]:.2f} LUFS before mastering gain)")
    return levels, [lv + gain if math.isfinite(lv) else album.target_lufs for lv in levels]


def _album_gain(album: Album, pieces: list[Path], tmp: Path, notices: list[str]) -> float:
    """One gain for a continuous programme: the loudest song's loudness-stage gain."""
    from mixgraph.core.renderer import render

    levels, _ = _targets(album, pieces, notices)
    loudest = int(np.argmax([lv if math.isfinite(lv) else -math.inf for lv in levels]))
    g = Graph(sample_rate=album.sample_rate, base_dir=tmp)
    g.add("stem", id="song", path=str(pieces[loudest]))
    g.add("loudness", id="loud", target_lufs=album.target_lufs,
          ceiling_dbtp=album.ceiling_dbtp)
    g.add("output", id="out", path=str(tmp / "loudest.wav"), subtype="FLOAT")
    g.connect("song", "loud")
    g.connect("loud", "out")
    return float(render(g, allow_outside=True).nodes["loud"][1]["gain_db"])


def _frames(seconds: float, cue_frame: int, what: str, notices: list[str]) -> int:
    frames = int(round(seconds * CUE_FRAMES_PER_S))
    if abs(frames / CUE_FRAMES_PER_S - seconds) > 1e-9:
        notices.append(f"{what} of {seconds:g} s rounded to {frames / CUE_FRAMES_PER_S:g} s "
                       "(whole CUE frames of 1/75 s)")
    return frames * cue_frame


def _fade_pair(n: int, curve: str) -> tuple[np.ndarray, np.ndarray]:
    """(fade out, fade in) gains over a crossfade of n samples."""
    u = (np.arange(n) + 0.5) / n
    if curve == "equal_power":
        return np.cos(0.5 * np.pi * u), np.sin(0.5 * np.pi * u)
    if curve == "linear":
        return 1.0 - u, u
    s = 0.5 - 0.5 * np.cos(np.pi * u)
    return 1.0 - s, s


def _assemble(album: Album, finals: list[Path], gains, limits, folder: Path,
              notices: list[str], cue_frame: int, tick) -> AlbumReport:
    import soundfile as sf

    from mixgraph.nodes.meters import meter_file

    rate = album.sample_rate
    songs = [sf.read(str(p), dtype="float64", always_2d=True)[0].T for p in finals]
    channels = max(s.shape[0] for s in songs)
    songs = [np.repeat(s, channels, axis=0) if s.shape[0] < channels else s for s in songs]
    padded = [-(-s.shape[1] // cue_frame) * cue_frame for s in songs]
    starts = [0]
    for i in range(1, len(songs)):
        prev = album.songs[i - 1]
        if prev.crossfade_s > 0:
            overlap = _frames(prev.crossfade_s, cue_frame, f"crossfade after song {i}", notices)
            overlap = min(overlap, padded[i - 1] // cue_frame * cue_frame,
                          padded[i] // cue_frame * cue_frame)
            starts.append(starts[-1] + padded[i - 1] - overlap)
        else:
            gap = _frames(prev.gap_s, cue_frame, f"gap after song {i}", notices)
            starts.append(starts[-1] + padded[i - 1] + gap)
    total = starts[-1] + padded[-1]
    programme = np.zeros((channels, total))
    for i, (song, start) in enumerate(zip(songs, starts)):
        block = song.copy()
        prev = album.songs[i - 1] if i else None
        if prev is not None and prev.crossfade_s > 0:
            n = starts[i - 1] + padded[i - 1] - start          # the overlap
            fade_out, fade_in = _fade_pair(n, prev.crossfade_curve)
            programme[:, start:start + n] *= fade_out
            m = min(n, block.shape[1])
            block[:, :m] *= fade_in[:m]
        programme[:, start:start + block.shape[1]] += block
    target = folder / album.programme
    _write(target, programme, album)
    tick()
    results = []
    for i, (song, path) in enumerate(zip(album.songs, finals)):
        m = meter_file(path)
        results.append(SongResult(song.title, path, starts[i], songs[i].shape[1],
                                  m["integrated_lufs"], m["lra_lu"], m["true_peak_dbtp"],
                                  float(gains[i]), float(limits[i])))
    cue = folder / (Path(album.programme).stem + ".cue")
    album_cue(cue, album, target.name, results, rate)
    whole = meter_file(target)
    tick()
    return AlbumReport(results, target, cue, whole["integrated_lufs"],
                       whole["true_peak_dbtp"], rate, notices)


def _write(path: Path, audio: np.ndarray, album: Album) -> None:
    """Write ``(channels, frames)`` audio whole or not at all."""
    from mixgraph.nodes.audiofile import AtomicWriter, format_for

    writer = AtomicWriter(path, rate=album.sample_rate, channels=audio.shape[0],
                          fmt=format_for(str(path), album.format), subtype=album.subtype)
    try:
        for a in range(0, audio.shape[1], 65536):
            writer.write(audio[:, a:a + 65536])
        writer.commit()
    except BaseException:
        writer.discard()
        raise


class CueTrack(NamedTuple):
    """A track of a CUE sheet; positions in CD frames (1/75 s) from the file's start."""
    title: str
    performer: str
    isrc: str
    start: int                  # INDEX 01: the song's first sample
    pregap: int | None = None   # INDEX 00: where the gap before it begins


def album_tracks(album: Album, songs: list[SongResult], rate: int,
                 lead: int = 0) -> list[CueTrack]:
    """The album's songs as CUE tracks, ``lead`` CD frames after the file's start (a
    CD's pregap before track 1): each song's pregap is the gap before it, from the
    end of the song before (whole frames, as the programme pads them)."""
    cue_frame = rate // CUE_FRAMES_PER_S
    tracks = []
    for i, (song, result) in enumerate(zip(album.songs, songs)):
        start = lead + result.start // cue_frame
        if i == 0:
            pregap = 0 if lead else None
        else:
            prev = songs[i - 1]
            end = lead + -(-(prev.start + prev.frames) // cue_frame)
            pregap = end if end < start else None
        tracks.append(CueTrack(song.title, song.performer or album.artist, song.isrc,
                               start, pregap))
    return tracks


def cue_sheet(filename: str, tracks: list[CueTrack], *, title: str = "",
              performer: str = "", catalog: str = "") -> str:
    """A CUE sheet for one WAVE file: the disc's CATALOG, TITLE and PERFORMER, then
    each track's TITLE, PERFORMER, ISRC and indexes."""
    def esc(text: str) -> str:
        return text.replace('"', "'")

    def at(frames: int) -> str:
        mm, rest = divmod(frames, 60 * CUE_FRAMES_PER_S)
        ss, ff = divmod(rest, CUE_FRAMES_PER_S)
        return f"{mm:02d}:{ss:02d}:{ff:02d}"

    lines = [f"CATALOG {catalog}"] if catalog else []
    if performer:
        lines.append(f'PERFORMER "{esc(performer)}"')
    if title:
        lines.append(f'TITLE "{esc(title)}"')
    lines.append(f'FILE "{esc(filename)}" WAVE')
    for i, track in enumerate(tracks, start=1):
        lines += [f"  TRACK {i:02d} AUDIO", f'    TITLE "{esc(track.title)}"']
        if track.performer:
            lines.append(f'    PERFORMER "{esc(track.performer)}"')
        if track.isrc:
            lines.append(f"    ISRC {track.isrc}")
        if track.pregap is not None:
            lines.append(f"    INDEX 00 {at(track.pregap)}")
        lines.append(f"    INDEX 01 {at(track.start)}")
    return "\n".join(lines) + "\n"


def red_book_problems(tracks: list[CueTrack], frames: int, rate: int) -> list[str]:
    """What keeps a programme of ``frames`` samples at ``rate``, indexed by
    ``tracks``, from being a CD: the rate, whole sectors, at most 99 tracks of at
    least 4 s, a 2 s pregap before track 1, and 80 minutes in all."""
    problems = []
    if rate != 44100:
        return [f"a CD is 44100 Hz, this programme {rate} Hz"]
    sector = rate // CUE_FRAMES_PER_S                  # 588 samples, 2352 bytes
    if frames % sector:
        problems.append(f"the programme is {frames} samples, not whole CD frames of {sector}")
    if len(tracks) > CD_TRACKS_MAX:
        problems.append(f"{len(tracks)} tracks; a CD holds {CD_TRACKS_MAX} at most")
    if tracks and tracks[0].start < CD_PREGAP_S * CUE_FRAMES_PER_S:
        problems.append(f"track 1 starts at {tracks[0].start / CUE_FRAMES_PER_S:.2f} s; a CD "
                        f"has a pregap of {CD_PREGAP_S:g} s before it")
    end = frames // sector
    for i, track in enumerate(tracks):
        following = tracks[i + 1] if i + 1 < len(tracks) else None
        stop = end if following is None else (following.pregap if following.pregap
                                               is not None else following.start)
        if (stop - track.start) < CD_TRACK_MIN_S * CUE_FRAMES_PER_S:
            problems.append(f"track {i + 1} ('{track.title}') is "
                            f"{(stop - track.start) / CUE_FRAMES_PER_S:.2f} s; a CD track "
                            f"is {CD_TRACK_MIN_S:g} s or longer")
    if end > CD_MINUTES_MAX * 60 * CUE_FRAMES_PER_S:
        problems.append(f"the programme is {end / CUE_FRAMES_PER_S / 60:.1f} minutes; a CD "
                        f"holds {CD_MINUTES_MAX}")
    return problems


def album_cue(path: Path, album: Album, filename: str, songs: list[SongResult], rate: int,
              *, lead: int = 0, title: str = "", performer: str = "") -> list[CueTrack]:
    """Write the CUE sheet of ``album``'s programme ``filename`` (songs as rendered at
    ``rate``, ``lead`` CD frames after the file's start; the disc's title and
    performer the album's unless given) to ``path``, whole or not at all; returns
    its tracks."""
    tracks = album_tracks(album, songs, rate, lead)
    write_atomic(path, cue_sheet(filename, tracks, title=title or album.title,
                                 performer=performer or album.artist,
                                 catalog=album.catalog).encode())
    return tracks


def _render_songs(album: "Album", sources, tmp: Path, prefix: str, master: bool,
                  tick) -> list[Path]:
    """Each song trimmed and faded (and through the master chain with ``master``) into
    ``tmp/PREFIX<i>.wav``; their paths, in album order."""
    from mixgraph.core.renderer import render

    made = []
    for i, (song, src) in enumerate(zip(album.songs, sources)):
        path = tmp / f"{prefix}{i}.wav"
        render(_song_graph(album, song, src, path, master=master), allow_outside=True)
        made.append(path)
        tick()
    return made


def _programme_mode(album: Album, sources, folder: Path, tmp: Path, notices, tick):
    """The master chain over the whole programme: assemble, master, cut the songs out."""
    import soundfile as sf

    from mixgraph.core.renderer import render

    rate = album.sample_rate
    cue_frame = rate // CUE_FRAMES_PER_S
    plain = _render_songs(album, sources, tmp, "plain", False, tick)
    raw = _assemble(Album(**{**album.__dict__, "programme": "raw.wav", "subtype": "FLOAT",
                             "format": "wav"}), plain, [0.0] * len(plain), [0.0] * len(plain),
                    tmp, notices, cue_frame, lambda: None)
    # master the programme; the loudest song's segment sets the one album gain
    g = Graph(sample_rate=rate, base_dir=tmp)
    g.add("stem", id="programme", path=str(raw.programme))
    prev = "programme"
    for j, stage in enumerate(album.master):
        node = g.add(stage["type"], id=f"stage{j}", **dict(stage.get("params", {})))
        g.connect(prev, node)
        prev = node
    g.add("output", id="out", path=str(tmp / "mastered.wav"), subtype="FLOAT")
    g.connect(prev, "out")
    render(g, allow_outside=True)
    mastered, _ = sf.read(str(tmp / "mastered.wav"), dtype="float64", always_2d=True)
    pieces = []
    for i, song in enumerate(raw.songs):
        piece = tmp / f"mastered{i}.wav"
        sf.write(str(piece), mastered[song.start:song.start + song.frames], rate,
                 subtype="FLOAT")
        pieces.append(piece)
    gain = _album_gain(album, pieces, tmp, notices)
    g = Graph(sample_rate=rate, base_dir=tmp)
    g.add("stem", id="programme", path=str(tmp / "mastered.wav"))
    g.add("gain", id="gain", gain_db=gain)
    g.add("limiter", id="limit", ceiling_dbtp=album.ceiling_dbtp)
    g.add("output", id="out", path=str(tmp / "final.wav"), subtype="FLOAT")
    for a, b in (("programme", "gain"), ("gain", "limit"), ("limit", "out")):
        g.connect(a, b)
    limited = render(g, allow_outside=True).nodes["limit"][1]["gain_reduction_max_db"]
    final, _ = sf.read(str(tmp / "final.wav"), dtype="float64", always_2d=True)
    finals = []
    for i, song in enumerate(raw.songs):
        name = f"{i + 1:02d} {_safe_title(album.songs[i].title)}.{_suffix(album.format)}"
        _write(folder / name, final[song.start:song.start + song.frames].T, album)
        finals.append(folder / name)
    # the programme is the mastered whole (not reassembled from the cut songs)
    target = folder / album.programme
    _write(target, final[:raw.songs[-1].start + -(-raw.songs[-1].frames // cue_frame)
                         * cue_frame].T, album)
    from mixgraph.nodes.meters import meter_file
    results = []
    for i, (song, path) in enumerate(zip(raw.songs, finals)):
        m = meter_file(path)
        results.append(SongResult(album.songs[i].title, path, song.start, song.frames,
                                  m["integrated_lufs"], m["lra_lu"], m["true_peak_dbtp"],
                                  gain, limited))
    cue = folder / (Path(album.programme).stem + ".cue")
    album_cue(cue, album, target.name, results, rate)
    whole = meter_file(target)
    tick()
    return AlbumReport(results, target, cue, whole["integrated_lufs"],
                       whole["true_peak_dbtp"], rate, notices)


def _safe_title(title: str) -> str:
    return re.sub(r'[\\/:*?"<>|]+', "_", title).strip() or "song"


def _suffix(fmt: str) -> str:
    return {"aiff": "aif"}.get(fmt, fmt)


def new_album(folder: str | os.PathLike, sample_rate: int = 48000, gap_s: float = 2.0,
              mode: str = "album", target_lufs: float = -14.0) -> dict:
    """An album document listing the mixes and projects in ``folder`` in name order."""
    from .binding import AUDIO_SUFFIXES

    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in
                   AUDIO_SUFFIXES + (".mgraph",) and not p.name.startswith("."))
    if not files:
        raise ProjectFileError(f"{folder} holds no mixes or projects")
    songs: list[dict[str, Any]] = [{"source": p.name, "title": _title_from(p), "gap_s": gap_s}
                                   for p in files]
    songs[-1].pop("gap_s")
    return {"format": "mixgraph", "version": 1, "kind": "album", "sample_rate": sample_rate,
            "album": {"title": folder.name, "songs": songs,
                      "loudness": {"mode": mode, "target_lufs": target_lufs,
                                   "ceiling_dbtp": -1.0},
                      "output": {"format": "wav", "subtype": "PCM_24",
                                 "programme": "album.wav"}}}
