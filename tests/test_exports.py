"""The export generator (tests/exports.py) against readers it does not share code with:
every file reads back in libsndfile and in ffmpeg as its ground truth says, the BWF
and iXML time references read back as written (ffprobe, and libsndfile's own chunk
reader), the material is at its stated levels and in its family's band, the prints
measure as a mix and a master (ffmpeg's ebur128), and the makers are deterministic,
small and quick."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

import exports
from exports import (FAMILIES, LEVELS, MIX_LUFS, NON_PARTS, QUALIFIERS, SPECTRUM,
                     SPECTRUM_SHARE, VOCABULARY, Export, band_export, bext_chunk, encode,
                     ixml_chunk, mastering_folder, material, podcast_folder, riff_chunks,
                     stems_for_stem_master, write_audio)

HAVE_FFMPEG = bool(shutil.which("ffmpeg") and shutil.which("ffprobe"))
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg and ffprobe are not installed")
SHORT = 2.0                     # seconds for the variants: enough for gated loudness


# ------------------------------------------------------------------ the sessions
@pytest.fixture(scope="module")
def band(tmp_path_factory) -> Export:
    """The band with everything: extras, faults, a synth bass, clutter."""
    return band_export(tmp_path_factory.mktemp("band"), faults=True, extras=True,
                       synth_bass=True)


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, Export]:
    root = tmp_path_factory.mktemp("variants")
    return {
        "instrumental": band_export(root / "instrumental", seconds=SHORT,
                                    lead_instrument_without_vocal=True),
        "at_44k1": band_export(root / "at_44k1", seconds=SHORT, rate=44100, mixed_rates=False),
        "mixed_44k1": band_export(root / "mixed_44k1", seconds=SHORT, rate=44100),
        "region_16s": band_export(root / "region_16s", seconds=SHORT, region_offset_s=16.0,
                                  region_chunk="both", session_start_s=3600.0),
        "ixml_only": band_export(root / "ixml_only", seconds=SHORT, region_chunk="iXML",
                                 bext_all=False, numbering="dash", pair_style="dot"),
        "ableton": band_export(root / "ableton", seconds=SHORT, numbering="ableton",
                               pair_style="word", clutter=False, bounced=False),
        "underscore": band_export(root / "underscore", seconds=SHORT, numbering="underscore",
                                  pair_style="underscore", clutter=False, bounced=False),
        "mastering": mastering_folder(root / "mastering", reference=True, seconds=SHORT),
        "premaster": mastering_folder(root / "premaster", mix_name="Song Premaster.wav",
                                      with_master=False, seconds=SHORT),
        "only_master": mastering_folder(root / "only_master", only_master=True, seconds=SHORT),
        "stems": stems_for_stem_master(root / "stems", with_mix=True, seconds=SHORT),
        "podcast": podcast_folder(root / "podcast", seconds=SHORT),
    }


@pytest.fixture(scope="module")
def every(band, variants) -> dict[str, Export]:
    return {"band": band, **variants}


def readable(export: Export):
    """(path, truth) of the files that hold audio (usable or not)."""
    return [(export.path(p), f) for p, f in export.files.items() if f.audio and f.container]


# ------------------------------------------------------------- independent readers
def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                          "json", str(path)], capture_output=True, text=True, timeout=60)
    if out.returncode:
        raise OSError(out.stderr.strip() or f"ffprobe exited {out.returncode}")
    return json.loads(out.stdout)


def ffmpeg_decode(path: Path, channels: int) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f64le", "-c:a",
                          "pcm_f64le", "-"], capture_output=True, timeout=60, check=True)
    return np.frombuffer(out.stdout, dtype="<f8").reshape(-1, channels).T


def ffmpeg_decode_all(paths: list[Path], scratch: Path) -> list[np.ndarray]:
    """Each file decoded to float64 (interleaved) by one ffmpeg process with many
    inputs: starting ffmpeg costs more than decoding a 4 s file."""
    decoded = []
    for first in range(0, len(paths), 40):
        batch = paths[first:first + 40]
        args = ["ffmpeg", "-v", "error", "-y"]
        for path in batch:
            args += ["-i", str(path)]
        for i in range(len(batch)):
            args += ["-map", f"{i}:a", "-c:a", "pcm_f64le", "-f", "f64le",
                     str(scratch / f"{i}.raw")]
        subprocess.run(args, capture_output=True, timeout=120, check=True)
        decoded += [np.fromfile(scratch / f"{i}.raw", dtype="<f8") for i in range(len(batch))]
    return decoded


def ebur128(path: Path) -> dict[str, float]:
    """Integrated loudness, sample and true peak by ffmpeg's ebur128 filter."""
    out = subprocess.run(["ffmpeg", "-nostats", "-i", str(path), "-af",
                          "ebur128=peak=sample+true", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=60, check=True).stderr
    summary = out[out.rindex("Summary:"):]
    number = r"\s+(-?[\d.]+|-inf)"
    return {"lufs": float(re.search(r"I:" + number + " LUFS", summary).group(1)),
            "sample_peak": float(re.search(r"Sample peak:\s+Peak:" + number, summary).group(1)),
            "true_peak": float(re.search(r"True peak:\s+Peak:" + number, summary).group(1))}


class _SfInfo(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


class _SfChunkInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_char * 64), ("id_size", ctypes.c_uint),
                ("datalen", ctypes.c_uint), ("data", ctypes.c_void_p)]


class _SfBroadcastInfo(ctypes.Structure):
    """libsndfile's SF_BROADCAST_INFO (its own layout: C alignment puts the time
    reference at 340, not at the file's 338)."""
    _fields_ = [("description", ctypes.c_char * 256), ("originator", ctypes.c_char * 32),
                ("originator_reference", ctypes.c_char * 32),
                ("origination_date", ctypes.c_char * 10),
                ("origination_time", ctypes.c_char * 8),
                ("time_reference_low", ctypes.c_uint32),
                ("time_reference_high", ctypes.c_uint32), ("version", ctypes.c_short),
                ("umid", ctypes.c_char * 64), ("loudness", ctypes.c_int16 * 5),
                ("reserved", ctypes.c_char * 180), ("coding_history_size", ctypes.c_uint32),
                ("coding_history", ctypes.c_char * 256)]


def _libsndfile():
    path = getattr(sf, "_full_path", None) or ctypes.util.find_library("sndfile")
    if not path:
        pytest.skip("libsndfile's path is not known")
    lib = ctypes.CDLL(path)
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(_SfInfo)]
    lib.sf_close.argtypes = [ctypes.c_void_p]
    lib.sf_command.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
    lib.sf_get_chunk_iterator.restype = ctypes.c_void_p
    lib.sf_get_chunk_iterator.argtypes = [ctypes.c_void_p, ctypes.POINTER(_SfChunkInfo)]
    for name in ("sf_get_chunk_size", "sf_get_chunk_data"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.POINTER(_SfChunkInfo)]
    return lib


SFM_READ, SFC_GET_BROADCAST_INFO = 0x10, 0x10F0


def libsndfile_bext_reference(path: Path) -> int | None:
    """The bext time reference as libsndfile reads it (SFC_GET_BROADCAST_INFO)."""
    lib = _libsndfile()
    handle = lib.sf_open(str(path).encode(), SFM_READ, ctypes.byref(_SfInfo()))
    assert handle, f"libsndfile cannot open {path}"
    try:
        info = _SfBroadcastInfo()
        if not lib.sf_command(handle, SFC_GET_BROADCAST_INFO, ctypes.byref(info),
                              ctypes.sizeof(info)):
            return None
        return info.time_reference_high << 32 | info.time_reference_low
    finally:
        lib.sf_close(handle)


def libsndfile_chunk(path: Path, chunk_id: bytes) -> bytes | None:
    """A chunk's payload as libsndfile's chunk iterator finds it."""
    lib = _libsndfile()
    handle = lib.sf_open(str(path).encode(), SFM_READ, ctypes.byref(_SfInfo()))
    assert handle, f"libsndfile cannot open {path}"
    try:
        info = _SfChunkInfo(id=chunk_id, id_size=len(chunk_id))
        it = lib.sf_get_chunk_iterator(handle, ctypes.byref(info))
        if not it:
            return None
        assert lib.sf_get_chunk_size(it, ctypes.byref(info)) == 0
        buf = ctypes.create_string_buffer(info.datalen)
        info.data = ctypes.cast(buf, ctypes.c_void_p)
        assert lib.sf_get_chunk_data(it, ctypes.byref(info)) == 0
        return buf.raw
    finally:
        lib.sf_close(handle)


def ixml_reference(payload: bytes) -> tuple[int, int]:
    """(samples since midnight, TIMESTAMP_SAMPLE_RATE) from an iXML payload."""
    speed = ET.fromstring(payload.rstrip(b"\0")).find("SPEED")
    hi = int(speed.findtext("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI"))
    lo = int(speed.findtext("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO"))
    return hi << 32 | lo, int(speed.findtext("TIMESTAMP_SAMPLE_RATE"))


CODECS = {("WAV", "PCM_U8"): "pcm_u8", ("WAV", "PCM_16"): "pcm_s16le",
          ("WAV", "PCM_24"): "pcm_s24le", ("WAV", "PCM_32"): "pcm_s32le",
          ("WAV", "FLOAT"): "pcm_f32le", ("FLAC", "PCM_16"): "flac", ("FLAC", "PCM_24"): "flac",
          ("AIFF", "PCM_16"): "pcm_s16be", ("AIFF", "PCM_24"): "pcm_s24be"}
FORMATS = {"WAV": "wav", "FLAC": "flac", "AIFF": "aiff"}
BITS = {"PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


# ------------------------------------------------------------------ the manifest
def test_manifest_names_every_file_in_the_folder_and_nothing_else(every):
    for name, export in every.items():
        on_disk = {p.relative_to(export.folder).as_posix()
                   for p in export.folder.rglob("*") if p.is_file()}
        assert on_disk == set(export.files), name
        assert all(f.path == p for p, f in export.files.items()), name


def test_soundfile_reads_each_file_as_its_ground_truth_states(every):
    for name, export in every.items():
        for path, truth in readable(export):
            info = sf.info(str(path))
            where = f"{name}: {truth.path}"
            assert (info.format, info.subtype, info.samplerate, info.channels, info.frames) == (
                truth.container, truth.subtype, truth.rate, truth.channels, truth.frames), where
            x = sf.read(str(path), dtype="float64", always_2d=True)[0].T
            assert exports.peak_db(x) == pytest.approx(truth.peak_db, abs=1e-9), where
            assert exports.rms_db(x) == pytest.approx(truth.rms_db, abs=1e-9), where
            if truth.subtype in BITS:                     # exactly the quantized samples
                scaled = x * 2.0 ** (BITS[truth.subtype] - 1)
                np.testing.assert_array_equal(scaled, np.round(scaled), err_msg=where)


def probed(every: dict[str, Export]):
    """(session, path, truth) of the files to put through ffmpeg: every file of the
    band, and of the other sessions one file of each kind not seen yet (format, rate,
    channels, time reference): starting ffprobe costs ~0.1 s a file here."""
    seen = set()
    for name, export in every.items():
        for path, truth in readable(export):
            kind = (truth.container, truth.subtype, truth.rate, truth.channels,
                    truth.time_chunks, truth.offset_s, truth.start_s is not None)
            if name == "band" or kind not in seen:
                seen.add(kind)
                yield name, path, truth


@needs_ffmpeg
def test_ffmpeg_reads_each_file_as_soundfile_does_sample_for_sample(every, tmp_path):
    files = list(probed(every))
    assert len(files) > 50
    decoded = ffmpeg_decode_all([path for _, path, _ in files], tmp_path)
    for (name, path, truth), raw in zip(files, decoded):
        where = f"{name}: {truth.path}"
        probe = ffprobe(path)
        (stream,) = probe["streams"]
        assert stream["codec_name"] == CODECS[truth.container, truth.subtype], where
        assert int(stream["sample_rate"]) == truth.rate, where
        assert stream["channels"] == truth.channels, where
        assert probe["format"]["format_name"] == FORMATS[truth.container], where
        theirs = raw.reshape(-1, truth.channels).T
        ours = sf.read(str(path), dtype="float64", always_2d=True)[0].T
        assert theirs.shape == (truth.channels, truth.frames), where
        np.testing.assert_array_equal(theirs, ours, err_msg=where)
        # the time reference, as ffmpeg's BWF reader and libsndfile's read it
        tags = probe["format"].get("tags", {})
        if "bext" in truth.time_chunks:
            expected = round(truth.start_s * truth.rate)
            assert int(tags["time_reference"]) == expected, where
            assert libsndfile_bext_reference(path) == expected, where
            assert tags["comment"] == truth.part, where               # the Description
        else:
            assert "time_reference" not in tags, where
            if truth.container == "WAV":
                assert libsndfile_bext_reference(path) is None, where


def test_unusable_files_say_why_and_the_unreadable_ones_open_in_no_reader(band):
    files = band.files
    assert files["FX Crowd Surround.wav"].channels == 6         # 5.1: it mixes
    assert files["FX Crowd Surround.wav"].usable
    assert files["FX Atmos Bed 7.1.2.wav"].channels == 10       # 7.1.2: no layout here
    assert not files["FX Atmos Bed 7.1.2.wav"].usable
    assert "10 channels" in files["FX Atmos Bed 7.1.2.wav"].why
    assert band.path("Tamb.wav").stat().st_size == 0 and files["Tamb.wav"].why.startswith("empty")
    assert files["Perc Loop.wav"].why.startswith("unreadable")
    unreadable = ["Tamb.wav", "Perc Loop.wav", "._01 Kick In.wav"]
    for rel in unreadable:
        with pytest.raises(sf.LibsndfileError):
            sf.info(str(band.path(rel)))
        if HAVE_FFMPEG:
            with pytest.raises(OSError):
                ffprobe(band.path(rel))
    assert {p for p, f in files.items() if not f.usable} == {
        "FX Atmos Bed 7.1.2.wav", "Tamb.wav", "Perc Loop.wav", "._01 Kick In.wav", ".DS_Store",
        "notes.txt", "Song.ptx"}
    assert {p for p, f in files.items() if not f.audio} == {
        "._01 Kick In.wav", ".DS_Store", "notes.txt", "Song.ptx"}
    assert all(f.why for f in files.values() if not f.usable)
    assert all(f.why is None for f in files.values() if f.usable)


# ------------------------------------------------------------- time references
def test_bext_time_references_read_back_through_libsndfile_in_every_file(every):
    """(ffprobe's reading of them is checked with the rest of ffmpeg's, above.)"""
    checked = 0
    for name, export in every.items():
        for path, truth in readable(export):
            if truth.container != "WAV":
                continue
            expected = round(truth.start_s * truth.rate) if "bext" in truth.time_chunks else None
            assert libsndfile_bext_reference(path) == expected, f"{name}: {truth.path}"
            checked += expected is not None
    assert checked > 100


def test_ixml_time_references_read_back_through_libsndfiles_chunk_reader(every):
    found = 0
    for name, export in every.items():
        for path, truth in readable(export):
            payload = libsndfile_chunk(path, b"iXML") if truth.container == "WAV" else None
            assert (payload is not None) == ("iXML" in truth.time_chunks), f"{name}: {truth.path}"
            if payload is not None:
                assert ixml_reference(payload) == (round(truth.start_s * truth.rate), truth.rate)
                found += 1
    assert found == 2                                         # region_16s and ixml_only


def test_region_stems_start_where_their_time_reference_says(band, variants):
    region = band.files["Gtr Solo_02.wav"]
    assert (region.offset_s, region.start_s, region.time_chunks) == (2.0, 2.0, ("bext",))
    assert region.frames == round(1.5 * 48000)
    late = variants["region_16s"].files["Gtr Solo_02.wav"]
    assert (late.offset_s, late.start_s, late.time_chunks) == (16.0, 3616.0, ("bext", "iXML"))
    kick = variants["region_16s"].files["01 Kick In.wav"]
    assert (kick.offset_s, kick.start_s) == (0.0, 3600.0)
    assert variants["region_16s"].files["06 Tom 1.flac"].start_s is None   # FLAC: none
    only = variants["ixml_only"].files
    assert [p for p, f in only.items() if f.time_chunks] == ["Gtr Solo_02.wav"]
    # the region is the solo as it plays from 16 s, not the song's start again
    held = sf.read(str(variants["region_16s"].path("Gtr Solo_02.wav")), always_2d=True)[0].T
    np.testing.assert_allclose(held, material("gtr_solo", 1.5, 48000, 0, start_s=16.0),
                               atol=2.0 ** -23)
    assert not np.allclose(held, material("gtr_solo", 1.5, 48000, 0, start_s=0.0), atol=1e-3)


@needs_ffmpeg
def test_a_time_reference_beyond_32_bits_reads_back_whole(tmp_path):
    reference = 13 * 3600 * 96000                             # 13 h at 96 kHz > 2**32
    assert reference > 2 ** 32
    path = tmp_path / "late.wav"
    write_audio(path, material("click", 0.5, 96000), 96000, "PCM_24",
                chunks=[bext_chunk(reference), ixml_chunk(reference, 96000)])
    assert int(ffprobe(path)["format"]["tags"]["time_reference"]) == reference
    assert libsndfile_bext_reference(path) == reference
    assert ixml_reference(libsndfile_chunk(path, b"iXML")) == (reference, 96000)


@needs_ffmpeg
def test_chunks_go_before_data_and_leave_the_audio_as_it_was(tmp_path):
    audio = material("lead_vox", 1.0, 48000)
    plain, chunked = tmp_path / "plain.wav", tmp_path / "chunked.wav"
    write_audio(plain, audio, 48000, "PCM_24")
    write_audio(chunked, audio, 48000, "PCM_24",
                chunks=[bext_chunk(768000, coding_history="A=PCM,F=48000,W=24,M=mono"),
                        ixml_chunk(768000, 48000)])
    raw = chunked.read_bytes()
    ids = [cid for cid, _, _ in riff_chunks(raw)]
    assert ids.index(b"bext") < ids.index(b"data") and ids.index(b"iXML") < ids.index(b"data")
    assert int.from_bytes(raw[4:8], "little") == len(raw) - 8
    (_, at, size), = [c for c in riff_chunks(raw) if c[0] == b"bext"]
    assert size == 602 + len("A=PCM,F=48000,W=24,M=mono\r\n")
    assert int.from_bytes(raw[at + 338:at + 346], "little") == 768000
    for read in (lambda p: sf.read(str(p), always_2d=True)[0].T, lambda p: ffmpeg_decode(p, 1)):
        np.testing.assert_array_equal(read(chunked), read(plain))
    assert ffprobe(chunked)["format"]["tags"]["coding_history"].startswith("A=PCM,F=48000")


def test_float_files_carry_no_wall_clock_in_their_peak_chunk():
    """libsndfile stamps a float WAV's PEAK chunk with the time of writing; encode
    zeroes the stamp, so the bytes do not depend on the second they were made in."""
    raw, _ = encode(material("keys_pad", 0.5, 48000), 48000, "FLOAT")
    (_, at, size), = [c for c in riff_chunks(raw) if c[0] == b"PEAK"]
    assert raw[at + 4:at + 8] == b"\0\0\0\0"


# ------------------------------------------------------------------ the material
def test_each_part_is_written_at_its_stated_peak_level(every):
    checked = 0
    for name, export in every.items():
        for path, truth in readable(export):
            if truth.material in LEVELS:
                x = sf.read(str(path), always_2d=True)[0]
                assert exports.peak_db(x) == pytest.approx(LEVELS[truth.material], abs=0.5), \
                    f"{name}: {truth.path}"
                checked += 1
    assert checked > 60


@pytest.mark.parametrize("kind", sorted(SPECTRUM))
def test_each_material_keeps_its_energy_in_its_familys_band(kind):
    x = material(kind, 4.0, 48000)
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[1], 1 / 48000)
    lo, hi = SPECTRUM[kind]
    share = power[:, (freqs >= lo) & (freqs <= hi)].sum() / power.sum()
    assert share >= SPECTRUM_SHARE, f"{kind}: {share:.2f} of the energy in {lo}-{hi} Hz"


@needs_ffmpeg
def test_the_mix_is_about_minus_20_lufs_peaking_near_minus_6_and_the_master_is_loud(every):
    prints = [("band", "Bounced Files/Song Mix.wav"), ("band", "Bounced Files/Song Master.wav"),
              ("mastering", "Song Mix.wav"), ("mastering", "Song Master.wav"),
              ("only_master", "Song.wav"), ("mastering", "Reference - Other Song.wav")]
    for name, rel in prints:
        truth = every[name].files[rel]
        measured = ebur128(every[name].path(rel))
        assert measured["lufs"] == pytest.approx(truth.lufs, abs=0.2), f"{name}: {rel}"
        assert measured["true_peak"] == pytest.approx(truth.true_peak_db, abs=0.3), f"{name}: {rel}"
        if truth.material == "mix":
            assert measured["lufs"] == pytest.approx(MIX_LUFS, abs=0.5)
            assert -8.0 <= measured["sample_peak"] <= -5.0
            assert not truth.looks_mastered
        else:                                                 # a master or a reference
            assert measured["lufs"] > -12.0
            assert -1.0 < measured["true_peak"] <= 0.3
            assert truth.looks_mastered


def test_snare_bottom_is_upside_down_against_the_top(band):
    top, bottom = (sf.read(str(band.path(p)))[0] for p in ("03 Snare Top.wav",
                                                           "04 Snare Bottom.wav"))
    sos = signal.butter(4, 400, "lowpass", fs=48000, output="sos")
    assert np.corrcoef(signal.sosfilt(sos, top), signal.sosfilt(sos, bottom))[0, 1] < -0.5


def test_pairs_point_at_each_other_and_sound_like_a_pair(band):
    files = band.files
    for left, right in (("08 OH L.wav", "09 OH R.wav"), ("13 Gtr L.wav", "14 Gtr R.wav")):
        assert (files[left].side, files[left].pair) == ("left", right)
        assert (files[right].side, files[right].pair) == ("right", left)
    # the overheads hear one kit from two places; the guitars are two takes (double
    # tracking: as loud and as bright as each other, but not one waveform)
    a, b = (sf.read(str(band.path(p)))[0] for p in ("08 OH L.wav", "09 OH R.wav"))
    assert 0.2 < np.corrcoef(a, b)[0, 1] < 0.95
    a, b = (sf.read(str(band.path(p)))[0] for p in ("13 Gtr L.wav", "14 Gtr R.wav"))
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.5
    assert exports.rms_db(a) == pytest.approx(exports.rms_db(b), abs=1.0)
    assert all(f.side is None for p, f in files.items() if f.pair is None)


def test_stems_sum_back_to_the_full_mix(variants):
    stems = variants["stems"]
    read = {p: sf.read(str(stems.path(p)), always_2d=True)[0].T for p in stems.files}
    total = sum(x if x.shape[0] == 2 else np.concatenate((x, x))
                for p, x in read.items() if p != "Song - Full Mix.wav")
    np.testing.assert_allclose(total, read["Song - Full Mix.wav"], atol=6 * 2.0 ** -23)


def test_podcast_host_talks_first_and_the_guest_answers(variants):
    host, guest = (sf.read(str(variants["podcast"].path(p)))[0]
                   for p in ("Host Mic 1.wav", "Guest (Zoom).wav"))
    half_host, half_guest = len(host) // 2, len(guest) // 2
    assert exports.rms_db(host[:half_host]) > exports.rms_db(host[half_host:]) + 20
    assert exports.rms_db(guest[half_guest:]) > exports.rms_db(guest[:half_guest]) + 20


# ------------------------------------------------------------------ the vocabulary
def _words(path: str) -> set[str]:
    return set(re.split(r"[\s_.()\-/#]+", Path(path).stem))


def test_families_and_qualifiers_come_from_the_vocabulary_and_are_in_the_names(every):
    spellings = {}
    for term, kind, spelled in VOCABULARY:
        spellings.setdefault(term, set()).update(s.strip("._") for s in spelled)
    for name, export in every.items():
        for rel, truth in export.files.items():
            where = f"{name}: {rel}"
            if not truth.audio:
                assert truth.family is None and not truth.qualifiers, where
                continue
            words = _words(rel)
            if truth.family is not None:
                assert truth.family in FAMILIES + NON_PARTS, where
                assert words & spellings[truth.family] or truth.family == "count_in" \
                    and "Count-in" in rel, where
            for q in truth.qualifiers:
                if q.isdigit():
                    assert any(w.isdigit() and int(w) == int(q) for w in words), where
                else:
                    assert q in QUALIFIERS and words & spellings[q], where
            paired = bool({"left", "right"} & set(truth.qualifiers))
            assert (truth.side is not None) == paired, where


def test_every_term_of_the_vocabulary_is_used_by_some_session(every):
    used = set()
    for export in every.values():
        for truth in export.files.values():
            used |= {truth.family, *truth.qualifiers}
    assert {term for term, _, _ in VOCABULARY} <= used
    assert any(isinstance(q, str) and q.isdigit() for q in used)


def test_variants_change_what_they_say_and_nothing_else(band, variants):
    instrumental = variants["instrumental"].files
    assert instrumental["16 Lead Gtr.wav"].family == "guitar"
    assert instrumental["16 Lead Gtr.wav"].qualifiers == ("lead",)
    assert not [f for f in instrumental.values() if f.family in ("vocals", "backing")]
    assert instrumental["Guide Vox.wav"].family == "guide"            # the guide stays
    assert band.files["Synth Bass.wav"].family == "bass"
    assert band.files["11 Bass DI.wav"].qualifiers == ("di",)
    assert {f.rate for f in variants["at_44k1"].files.values() if f.rate} == {44100}
    mixed = [f.rate for f in variants["mixed_44k1"].files.values() if f.rate]
    assert max(set(mixed), key=mixed.count) == 44100 and {48000, 88200} <= set(mixed)
    rates = [f.rate for f in band.files.values() if f.rate]
    assert max(set(rates), key=rates.count) == 48000 and {44100, 96000} <= set(rates)
    assert {"08 - OH.L.wav", "09 - OH.R.wav", "13 - Gtr.L.wav"} <= set(variants["ixml_only"].files)
    assert {"8-OH Left.wav", "9-OH Right.wav", "1-Kick In.wav"} <= set(variants["ableton"].files)
    assert {"08_OH_L.wav", "10_Room_(Stereo).wav"} <= set(variants["underscore"].files)
    subtypes = {(f.container, f.subtype) for f in band.files.values() if f.container}
    assert {("WAV", "PCM_U8"), ("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "PCM_32"),
            ("WAV", "FLOAT"), ("FLAC", "PCM_24"), ("AIFF", "PCM_16")} <= subtypes
    only = variants["only_master"].files
    assert list(only) == ["Song.wav"] and only["Song.wav"].family is None


# ---------------------------------------------------------- determinism, size, time
def _bytes(export: Export) -> dict[str, bytes]:
    return {p: export.path(p).read_bytes() for p in export.files}


def test_session_makers_write_the_same_bytes_every_time(tmp_path):
    makers = {
        "band": lambda d: band_export(d, seconds=1.0, faults=True, extras=True, synth_bass=True,
                                      region_chunk="both", session_start_s=3600.0),
        "mastering": lambda d: mastering_folder(d, seconds=1.0, reference=True),
        "stems": lambda d: stems_for_stem_master(d, seconds=1.0, with_mix=True),
        "podcast": lambda d: podcast_folder(d, seconds=1.0),
    }
    for name, make in makers.items():
        first, second = make(tmp_path / name / "a"), make(tmp_path / name / "b")
        assert first.files == second.files, name
        assert _bytes(first) == _bytes(second), name
    other = band_export(tmp_path / "seed1", seconds=1.0, seed=1)
    assert other.path("16 Lead Vox.wav").read_bytes() != \
        (tmp_path / "band" / "a" / "16 Lead Vox.wav").read_bytes()


def test_the_default_band_session_is_small_and_quick(tmp_path):
    start = time.perf_counter()
    export = band_export(tmp_path / "band")
    seconds = time.perf_counter() - start
    size = sum(export.path(p).stat().st_size for p in export.files)
    assert seconds < 10.0, f"band_export took {seconds:.1f} s"
    assert size < 20e6, f"the band session is {size / 1e6:.1f} MB"
    for rel, truth in export.files.items():                   # no more than the audio
        if truth.container == "WAV":
            width = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4}[truth.subtype]
            overhead = export.path(rel).stat().st_size - truth.frames * truth.channels * width
            assert 0 < overhead < 2048, rel
