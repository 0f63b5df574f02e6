"""Delivery: one master, every destination's file, each checked after it is written.

A delivery profile (``projects/profiles/delivery.json``, dated and sourced per row;
the user's own in ``$XDG_DATA_HOME/mixgraph/profiles/*.json`` add to and override
them) names what a destination takes: a loudness target and tolerance (or none: the
master's own), a true-peak ceiling (a lower one for a master louder than the target,
where the platform asks so), the file (container, sample format, rate, dither), an
optional preview through the destination's kind of codec, and how much limiting it
may cost before it is refused rather than crushing the master.

:func:`deliver` measures the source once, then for each profile and file renders
source -> loudness stage (target and ceiling) -> dither -> output, at the file's
rate, into ``DIR/PROFILE/``.  Every file written is read back (libsndfile decodes
the lossy ones) and measured: integrated loudness, true peak with the 8x detector,
and the inter-sample overs against the ceiling.  Where a decoded file goes over, its
ceiling is lowered by the excess and it is encoded again, a bounded number of times.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mixgraph.core.fileformat import read_plain
from mixgraph.core.model import Graph
from mixgraph.core.renderer import render
from mixgraph.errors import MixgraphError, ProjectFileError
from mixgraph.nodes.regions import placed_at

PROFILES_FORMAT = "mixgraph-delivery-profiles"
TRIES = 4                         # encodes of one file before it is said to fail
MARGIN_DB = 0.05                  # lowered past the excess each time (no re-try at 0)
DETECTOR = 8                      # the true-peak detector's oversampling, reading back


@dataclass
class Profile:
    name: str
    title: str
    kind: str
    target_lufs: float | None
    ceiling_dbtp: float | None
    tolerance_lu: float = 1.0
    ceiling_when_louder_dbtp: float | None = None
    master: dict = field(default_factory=dict)
    preview: dict | None = None
    max_limiting_db: float | None = None
    red_book: bool = False        # an album is also delivered as a CD programme + CUE
    source: str = ""
    as_of: str = ""               # the date the row's figures are given for
    origin: str = "shipped"

    def files(self) -> list[tuple[str, dict]]:
        """(role, what the file is) of each file the profile delivers."""
        out = [("master", self.master)]
        if self.preview:
            out.append(("preview", self.preview))
        return out

    def ceiling_for(self, source_lufs: float) -> float | None:
        """The ceiling this master gets: the lower one where it is louder than the
        target and the platform asks for one."""
        if (self.ceiling_when_louder_dbtp is not None and self.target_lufs is not None
                and source_lufs > self.target_lufs):
            return self.ceiling_when_louder_dbtp
        return self.ceiling_dbtp


def shipped_path() -> Path:
    from importlib.resources import files

    return Path(str(files("mixgraph.projects") / "profiles" / "delivery.json"))


def user_profiles_dir() -> Path:
    from .templates import user_dir

    return user_dir().parent / "profiles"


def load_profiles() -> dict[str, Profile]:
    """The shipped profiles, with the user's own added and put over them."""
    found = _profiles_in(shipped_path(), "shipped")
    folder = user_profiles_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.json")):
            found.update(_profiles_in(path, "user"))
    return found


def _profiles_in(path: Path, origin: str) -> dict[str, Profile]:
    doc = read_plain(path, "delivery profiles file")
    if not isinstance(doc, dict) or doc.get("format") != PROFILES_FORMAT \
            or not isinstance(doc.get("profiles"), dict):
        raise ProjectFileError(f"{path} is not a delivery profiles file (it needs \"format\": "
                               f"\"{PROFILES_FORMAT}\" and a \"profiles\" object)",
                               path=str(path))
    out = {}
    known = set(Profile.__dataclass_fields__) - {"name", "origin"}
    for name, raw in doc["profiles"].items():
        extra = set(raw) - known if isinstance(raw, dict) else set()
        if not isinstance(raw, dict) or extra or "master" not in raw:
            raise ProjectFileError(f"{path}: profile {name!r} " + (
                f"has unknown key(s) {', '.join(sorted(extra))}" if extra else
                "must be an object with a \"master\" file"), path=str(path))
        out[name] = Profile(name=name, origin=origin, title=raw.get("title", name),
                            kind=raw.get("kind", ""),
                            **{k: v for k, v in raw.items() if k not in ("title", "kind")})
    return out


def find_profiles(names: list[str]) -> list[Profile]:
    """The profiles named, in order; an unknown name is one sentence listing them."""
    profiles = load_profiles()
    wanted = []
    for name in names:
        if name not in profiles:
            raise MixgraphError(f"no delivery profile {name!r} (profiles: "
                                f"{', '.join(sorted(profiles))})")
        wanted.append(profiles[name])
    return wanted


# ------------------------------------------------------------------ delivering
@dataclass
class Deliverable:
    profile: str
    role: str
    path: str
    format: str
    sample_rate: int
    subtype: str
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    decoded_true_peak_dbtp: float | None = None
    overs: int = 0
    over_times_s: list[float] = field(default_factory=list)
    ceiling_dbtp: float | None = None
    target_lufs: float | None = None
    tries: int = 0
    limiting_db: float = 0.0
    problems: list[str] = field(default_factory=list)
    stands_for: str = ""
    cue: str = ""                 # a CD programme's CUE sheet

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        from mixgraph.core.report import json_number

        out = {k: json_number(v) if isinstance(v, float) else v
               for k, v in self.__dict__.items()}
        out["pass"] = self.passed
        return out


@dataclass
class DeliveryReport:
    source: str
    source_lufs: float
    source_true_peak_dbtp: float
    deliverables: list[Deliverable]
    seconds: float = 0.0
    encode_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.deliverables)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "source_lufs": round(self.source_lufs, 2),
                "source_true_peak_dbtp": round(self.source_true_peak_dbtp, 2),
                "deliverables": [d.to_dict() for d in self.deliverables],
                "pass": self.passed, "seconds": round(self.seconds, 2),
                "render_seconds": round(self.encode_seconds, 2)}

    def format(self) -> str:
        lines = [f"delivered {Path(self.source).name} (I {self.source_lufs:.1f} LUFS, TP "
                 f"{self.source_true_peak_dbtp:.1f} dBTP) in {self.seconds:.1f} s"]
        for d in self.deliverables:
            lufs = "-" if d.integrated_lufs is None else f"{d.integrated_lufs:6.1f} LUFS"
            peak = "-" if d.decoded_true_peak_dbtp is None \
                else f"TP {d.decoded_true_peak_dbtp:5.1f} dBTP"
            verdict = "pass" if d.passed else "FAIL: " + "; ".join(d.problems)
            lines.append(f"  {d.profile:<15} {d.role:<9} {Path(d.path).name[:22]:<22} "
                         f"{d.sample_rate:>6} Hz {lufs:>12}  {peak:<14} overs {d.overs:<3} "
                         f"{verdict}")
        return "\n".join(lines)


def deliver(source: str | os.PathLike, profiles: list[Profile], out_dir: str | os.PathLike,
            *, name: str | None = None, tags: dict | None = None,
            progress=None) -> DeliveryReport:
    """Every profile's files from one finished master (an audio file), into
    ``out_dir/PROFILE/``; see the module notes."""
    import time

    from mixgraph.nodes.meters import meter_file

    started = time.perf_counter()
    source = Path(source).resolve()
    measured = meter_file(source)
    lufs, peak = measured["integrated_lufs"], measured["true_peak_dbtp"]
    if lufs is None or not math.isfinite(lufs):
        raise MixgraphError(f"{source} is silence: there is nothing to deliver")
    out_dir = Path(out_dir).resolve()
    stem = name or source.stem
    done: list[Deliverable] = []
    rendering = 0.0
    for k, profile in enumerate(profiles):
        for role, spec in profile.files():
            t = time.perf_counter()
            done.append(_deliver_one(source, measured, profile, role, spec,
                                     out_dir / profile.name, stem, tags or {}))
            rendering += time.perf_counter() - t
        if progress is not None:
            progress(k + 1, len(profiles))
    return DeliveryReport(str(source), float(lufs), float(peak), done,
                          seconds=time.perf_counter() - started, encode_seconds=rendering)


def deliver_album(album, rendered, profiles: list[Profile], out_dir: str | os.PathLike,
                  *, tags: dict | None = None, progress=None) -> DeliveryReport:
    """An album's mastered songs (``rendered``, the :class:`AlbumReport` of
    ``album``) for each profile, into ``out_dir/PROFILE/``, numbered and tagged (title,
    track number, ISRC, the song's performer or the album's artist): in ``album``
    loudness mode one gain for every song (the album's loudness reaches the target,
    the songs keep their distances; each song limited to the ceiling only where it
    must), in ``track`` mode each song to the target.  Each song's files are read
    back as for :func:`deliver`; in album mode the album is judged as a whole: the
    songs' files together at the target, within its tolerance.  A Red Book profile
    also gets the album's programme with its 2 s pregap and a CUE sheet (catalog,
    CD-Text, ISRCs, indexes), checked against the CD's rules."""
    import time

    started = time.perf_counter()
    songs = [Path(s.path) for s in rendered.songs]
    measured = [_figures(s.integrated_lufs, s.true_peak_dbtp, rendered.sample_rate)
                for s in rendered.songs]             # as the album's render measured them
    programme = _programme_loudness(songs)
    out_dir = Path(out_dir).resolve()
    done: list[Deliverable] = []
    rendering = 0.0
    for k, profile in enumerate(profiles):
        gain = None
        if album.mode == "album" and profile.target_lufs is not None:
            gain = profile.target_lufs - programme
        items = []
        for n, (song, figures, path) in enumerate(zip(album.songs, measured, songs), start=1):
            song_tags = dict(tags or {}, title=song.title, tracknumber=n, isrc=song.isrc)
            if song.performer:
                song_tags["artist"] = song.performer
            for role, spec in profile.files():
                t = time.perf_counter()
                items.append(_deliver_one(path, figures, profile, role, spec,
                                          out_dir / profile.name, f"{n:02d} {_safe(song.title)}",
                                          song_tags, gain))
                rendering += time.perf_counter() - t
        if gain is not None:
            _judge_album(items, profile)
        if profile.red_book:
            t = time.perf_counter()
            items.append(_deliver_cd(album, rendered, profile, out_dir / profile.name,
                                     dict(tags or {}, title=(tags or {}).get("album")
                                          or album.title), gain))
            rendering += time.perf_counter() - t
        done += items
        if progress is not None:
            progress(k + 1, len(profiles))
    return DeliveryReport(f"{len(songs)} songs", programme,
                          max(m["true_peak_dbtp"] for m in measured), done,
                          seconds=time.perf_counter() - started, encode_seconds=rendering)


def _deliver_cd(album, rendered, profile: Profile, folder: Path, tags: dict,
                gain: float | None) -> Deliverable:
    """The album's programme as one CD image file after a 2 s pregap, with its CUE
    sheet beside it; the Red Book's rules checked on the file as written."""
    import soundfile as sf

    from .album import CD_PREGAP_S, CUE_FRAMES_PER_S, album_cue, red_book_problems

    stem = _safe(tags.get("title") or album.title or "album")
    spec = dict(profile.master, lead_s=CD_PREGAP_S)
    measured = _figures(rendered.programme_lufs, rendered.programme_true_peak_dbtp,
                        rendered.sample_rate)
    item = _deliver_one(Path(rendered.programme), measured, profile, "programme", spec,
                        folder, stem, tags, gain)
    path = Path(item.path)
    if not path.exists():
        return item
    cue = path.with_suffix(".cue")
    tracks = album_cue(cue, album, path.name, rendered.songs, album.sample_rate,
                       lead=int(CD_PREGAP_S * CUE_FRAMES_PER_S), title=tags.get("album", ""),
                       performer=tags.get("artist", ""))
    item.cue = str(cue)
    found = sf.info(str(path))
    item.problems += red_book_problems(tracks, found.frames, found.samplerate)
    return item


def _figures(lufs: float, true_peak_dbtp: float, rate: int) -> dict:
    """A file's figures as :func:`_deliver_one` reads them (a meter's keys)."""
    return {"integrated_lufs": lufs, "true_peak_dbtp": true_peak_dbtp, "sample_rate": rate}


def _programme_loudness(files: list[Path]) -> float:
    """The integrated loudness of files played one after another (gated as one
    programme, as an album is measured)."""
    import soundfile as sf

    from mixgraph.nodes.meters import LoudnessMeter

    meter = None
    for path in files:
        with sf.SoundFile(str(path)) as f:
            meter = meter or LoudnessMeter(f.samplerate, f.channels)
            for block in f.blocks(blocksize=65536, dtype="float64", always_2d=True):
                meter.add(np.ascontiguousarray(block.T))
    return float(meter.result()["integrated_lufs"])


def _judge_album(items: list[Deliverable], profile: Profile) -> None:
    """An album's files of one kind (masters, previews) together at the profile's
    target, within its tolerance; said on each file where not."""
    for role in dict.fromkeys(i.role for i in items):
        files = [i for i in items if i.role == role and Path(i.path).exists()]
        if not files:
            continue
        lufs = _programme_loudness([Path(i.path) for i in files])
        if abs(lufs - profile.target_lufs) > profile.tolerance_lu:
            for i in files:
                i.problems.append(f"the album's {role}s together are {lufs:.1f} LUFS, not "
                                  f"within {profile.tolerance_lu:g} LU of "
                                  f"{profile.target_lufs:g}")


def _safe(title: str) -> str:
    """A song title as part of a file name."""
    return "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "song"


def _deliver_one(source: Path, measured: dict, profile: Profile, role: str, spec: dict,
                 folder: Path, stem: str, tags: dict,
                 album_gain_db: float | None = None) -> Deliverable:
    from mixgraph.nodes.audiofile import CODECS

    fmt = spec.get("format", "wav")
    rate = int(spec.get("sample_rate") or measured["sample_rate"])
    if fmt == "opus":
        rate = 48000
    subtype = CODECS.get(fmt, spec.get("subtype", "PCM_24"))
    path = folder / f"{stem}.{fmt}"
    ceiling = profile.ceiling_for(measured["integrated_lufs"])
    item = Deliverable(profile.name, role, str(path), fmt, rate, subtype,
                       ceiling_dbtp=ceiling, target_lufs=profile.target_lufs,
                       stands_for=spec.get("stands_for", ""))
    needed = _limiting_needed(measured, profile, ceiling, album_gain_db)
    if profile.max_limiting_db is not None and needed > profile.max_limiting_db:
        aim = "the master's own loudness" if profile.target_lufs is None \
            else f"{profile.target_lufs:g} LUFS"
        item.problems.append(
            f"reaching {aim} under {ceiling:g} dBTP would take {needed:.1f} dB of "
            f"limiting, more than the profile's {profile.max_limiting_db:g} dB: not "
            "delivered (master it with more headroom, or choose a lower target)")
        item.limiting_db = needed
        return item
    aim = ceiling
    for attempt in range(1, TRIES + 1):
        item.tries = attempt
        report = render(_delivery_graph(source, profile, spec, fmt, rate, subtype, path,
                                        aim, tags, album_gain_db), allow_outside=True)
        item.limiting_db = _limiting_of(report)
        _read_back(item, path, rate)
        if ceiling is None or item.decoded_true_peak_dbtp is None \
                or item.decoded_true_peak_dbtp <= ceiling or aim is None:
            break
        aim = aim - (item.decoded_true_peak_dbtp - ceiling) - MARGIN_DB
    if profile.max_limiting_db is not None and item.limiting_db > profile.max_limiting_db:
        path.unlink(missing_ok=True)                 # not delivered: it is crushed
        item.problems.append(
            f"reaching {profile.target_lufs:g} LUFS under {ceiling:g} dBTP took "
            f"{item.limiting_db:.1f} dB of limiting, more than the profile's "
            f"{profile.max_limiting_db:g} dB: not delivered (master it with more headroom, "
            "or choose a lower target)")
        return item
    _judge(item, profile, ceiling, album=album_gain_db is not None)
    return item


def _limiting_needed(measured: dict, profile: Profile, ceiling: float | None,
                     album_gain_db: float | None = None) -> float:
    """How far the source's true peak would go over the ceiling once turned to the
    target (or by the album's gain), in dB: what limiting must take off."""
    if ceiling is None:
        return 0.0
    if album_gain_db is not None:
        gain = album_gain_db
    else:
        gain = 0.0 if profile.target_lufs is None else profile.target_lufs - \
            measured["integrated_lufs"]
    return max(0.0, measured["true_peak_dbtp"] + gain - ceiling)


def _delivery_graph(source: Path, profile: Profile, spec: dict, fmt: str, rate: int,
                    subtype: str, path: Path, ceiling: float | None, tags: dict,
                    album_gain_db: float | None = None) -> Graph:
    """source -> loudness stage (or, for a song of an album, the album's gain and a
    limiter; or a limiter alone, with no target) -> dither (16-bit) -> output, at the
    file's rate."""
    g = Graph(sample_rate=rate, base_dir=path.parent)
    g.add("stem", id="source", path=str(source),
          regions=placed_at(float(spec.get("lead_s", 0.0))))
    last = "source"
    if album_gain_db is not None:
        g.add("gain", id="album_gain", gain_db=float(album_gain_db))
        g.connect(last, "album_gain")
        last = "album_gain"
    if profile.target_lufs is not None and album_gain_db is None:
        g.add("loudness", id="loudness", target_lufs=float(profile.target_lufs),
              ceiling_dbtp=float(ceiling if ceiling is not None else -1.0))
        g.connect(last, "loudness")
        last = "loudness"
    elif ceiling is not None:
        g.add("limiter", id="limiter", ceiling_dbtp=float(ceiling))
        g.connect(last, "limiter")
        last = "limiter"
    if spec.get("dither") or subtype == "PCM_16":
        g.add("dither", id="dither", bit_depth=16)
        g.connect(last, "dither")
        last = "dither"
    params = {k: spec[k] for k in ("bitrate_kbps", "quality") if k in spec}
    if fmt not in ("w64",):
        params.update({k: v for k, v in tags.items() if v})
    g.add("output", id="out", path=str(path), format=fmt,
          subtype=subtype if subtype in ("PCM_16", "PCM_24", "FLOAT") else "PCM_24",
          trim_tail=True, **params)
    g.connect(last, "out")
    return g


def _limiting_of(report) -> float:
    for _, (kind, figures) in report.nodes.items():
        if kind in ("loudness", "limiter"):
            return float(figures.get("limiting_max_db", 0.0) or 0.0)
    return 0.0


def _read_back(item: Deliverable, path: Path, rate: int, block: int = 65536) -> None:
    """The file as a player decodes it, read a block at a time: loudness, true peak
    with the 8x detector (the larger reading of both interpolators the limiter
    watches: full-band material reads differently through each), and where it goes
    over the ceiling between samples."""
    import soundfile as sf

    from mixgraph.nodes.meters import LoudnessMeter
    from mixgraph.nodes.truepeak import LIMITER, TruePeakEnvelope

    with sf.SoundFile(str(path)) as f:
        item.sample_rate = f.samplerate
        meter = LoudnessMeter(f.samplerate, f.channels)
        envelope = TruePeakEnvelope(f.channels, DETECTOR, LIMITER)
        overs = Overs(10 ** (item.ceiling_dbtp / 20) if item.ceiling_dbtp is not None
                      else math.inf, f.samplerate, envelope.delay)
        for data in f.blocks(blocksize=block, dtype="float64", always_2d=True):
            x = np.ascontiguousarray(data.T)
            meter.add(x)
            overs.see(envelope.process(x))
        overs.see(envelope.process(np.zeros((f.channels, envelope.delay))))
    item.integrated_lufs = meter.result()["integrated_lufs"]
    item.decoded_true_peak_dbtp = 20 * math.log10(overs.top) if overs.top > 0 else -math.inf
    item.overs, item.over_times_s = overs.count, overs.times[:20]


class Overs:
    """The true-peak envelope's top and its runs over a level, as it streams in (the
    first ``delay`` values are the detector's own delay, not the signal)."""

    def __init__(self, level: float, rate: int, delay: int):
        self.level, self.rate, self.skip = level, rate, delay
        self.top, self.count, self.times = 0.0, 0, []
        self.seen = 0
        self.was_over = False

    def see(self, env: np.ndarray) -> None:
        drop = min(self.skip, env.size)
        env, self.skip = env[drop:], self.skip - drop
        if not env.size:
            return
        self.top = max(self.top, float(env.max()))
        over = env > self.level
        starts = np.flatnonzero(over & ~np.concatenate([[self.was_over], over[:-1]]))
        self.count += int(starts.size)
        self.times += [round((self.seen + int(s)) / self.rate, 3) for s in starts[:20]]
        self.was_over = bool(over[-1])
        self.seen += env.size


def _judge(item: Deliverable, profile: Profile, ceiling: float | None,
           album: bool = False) -> None:
    """The file against its spec: its loudness (a song of an album: the album's, see
    :func:`deliver_album`) and its true peak."""
    if item.integrated_lufs is None:
        return
    if profile.target_lufs is not None and not album and \
            abs(item.integrated_lufs - profile.target_lufs) > profile.tolerance_lu:
        item.problems.append(f"integrated {item.integrated_lufs:.1f} LUFS, not within "
                             f"{profile.tolerance_lu:g} LU of {profile.target_lufs:g}")
    if ceiling is not None and item.decoded_true_peak_dbtp is not None \
            and item.decoded_true_peak_dbtp > ceiling:
        item.problems.append(f"true peak {item.decoded_true_peak_dbtp:.2f} dBTP over the "
                             f"{ceiling:g} dBTP ceiling after {item.tries} encodes "
                             f"({item.overs} overs, the first at {item.over_times_s[:3]} s)")


def platform_gains(integrated_lufs: float | None) -> dict[str, float]:
    """What each streaming and podcast profile's normalisation would do to a file of
    this loudness: the gain in dB its player applies (negative: turned down)."""
    if integrated_lufs is None or not math.isfinite(integrated_lufs):
        return {}
    return {p.name: round(p.target_lufs - integrated_lufs, 1)
            for p in load_profiles().values()
            if p.kind in ("streaming", "podcast") and p.target_lufs is not None}


def platforms_line(integrated_lufs: float | None) -> str:
    """:func:`platform_gains` in words, for a report."""
    gains = platform_gains(integrated_lufs)
    if not gains:
        return ""
    return "platforms would play it at: " + ", ".join(
        f"{name} {gain:+.1f} dB" for name, gain in gains.items())


def profiles_table() -> list[dict]:
    """The profiles as rows (for the README and ``deliver --list``)."""
    return [{"name": p.name, "title": p.title, "target_lufs": p.target_lufs,
             "ceiling_dbtp": p.ceiling_dbtp, "files": [f"{r}: {s.get('format')}"
                                                       for r, s in p.files()],
             "source": p.source, "as_of": p.as_of, "origin": p.origin}
            for p in load_profiles().values()]

