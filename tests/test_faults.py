"""Faults and hostile input, met as a user meets them: through the command line in a
process of its own, killed with real signals, fed NaNs, FIFOs, devices, damaged and
cut files and a disk that fills up.  After each: one clear sentence and a non-zero
exit, earlier outputs intact, nothing hidden or half-written left once the next run
ends, and no process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SR, marked_processes
from mixgraph import Graph, render, save
from mixgraph.errors import AudioFileError

HIDDEN = (".partial", ".previous")


def mixgraph(*args, cwd: Path, env: dict | None = None, timeout: float = 120):
    return subprocess.run([sys.executable, "-m", "mixgraph", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def leftovers(*folders: Path) -> list[Path]:
    """Hidden partial and kept files, and temporary render folders, under ``folders``."""
    found = []
    for folder in folders:
        for p in folder.rglob("*"):
            if p.name.endswith(HIDDEN) or (p.is_dir() and p.name.startswith("mixgraph-")):
                found.append(p)
    return found


def one_sentence(stderr: str) -> str:
    """The error line; fails if there is a traceback or more than one line."""
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert lines[0].startswith("mixgraph: error: "), stderr
    return lines[0]


def write_stem(path: Path, audio: np.ndarray, subtype: str = "FLOAT", rate: int = SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.T if audio.ndim == 2 else audio, rate, subtype=subtype)


def chain_project(folder: Path, stem: str = "stems/a.wav", outputs=("out/mix.wav",),
                  subtype: str = "PCM_24", ir: str | None = None) -> Path:
    """stem -> eq -> bus -> limiter -> each output (and, with ``ir``, a convolution
    reverb on the bus)."""
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("stem", id="a", path=stem)
    g.add("eq", id="eq", bands=[{"type": "bell", "freq_hz": 1000.0, "gain_db": 3.0}])
    g.add("bus", id="bus")
    g.add("limiter", id="lim")
    for a, b in (("a", "eq"), ("eq", "bus"), ("bus", "lim")):
        g.connect(a, b)
    if ir is not None:
        g.add("reverb", id="verb", mode="convolution", ir_path=ir, mix=0.3)
        g.connect("lim", "verb")
    last = "verb" if ir is not None else "lim"
    for i, path in enumerate(outputs):
        g.add("output", id=f"o{i}", path=path, subtype=subtype)
        g.connect(last, f"o{i}")
    project = folder / "song.json"
    save(g, project)
    return project


def one_slot_template(folder: Path, limiter: bool = False) -> Path:
    """A template with one slot ('a*') into an output at out/mix.wav (through a limiter
    with ``limiter``)."""
    g = Graph(sample_rate=SR)
    g.kind = "template"
    g.add("stem", id="a", path="", match=["a*"])
    g.add("output", id="o", path="out/mix.wav")
    if limiter:
        g.add("limiter", id="lim")
        g.connect("a", "lim")
        g.connect("lim", "o")
    else:
        g.connect("a", "o")
    path = folder / "t.json"
    save(g, path)
    return path


def song_folders(folder: Path, seconds, freq: float = 200.0) -> list[Path]:
    """A song folder per length in ``seconds``, each with one 16-bit stem a.wav."""
    songs = []
    for i, length in enumerate(seconds):
        write_stem(folder / f"songs/s{i}/a.wav", tone(length, freq=freq + 50 * i), "PCM_16")
        songs.append(folder / f"songs/s{i}")
    return songs


def tone(seconds: float, channels: int = 2, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return np.tile(0.2 * np.sin(2 * np.pi * freq * t), (channels, 1))


# ------------------------------------------------------------------ NaN and Inf
@pytest.mark.parametrize("where_s, value", [(0.0, np.nan), (1.25, np.inf), (0.5, -np.inf)])
@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_a_non_finite_stem_sample_stops_the_render_naming_file_and_time(
        tmp_path, where_s, value, subtype):
    """Before, NaN in a float stem came out as full-scale DC at exit 0."""
    x = tone(2.0)
    at = int(where_s * SR)
    x[:, at:at + 100] = value
    write_stem(tmp_path / "stems/a.wav", x, subtype)
    project = chain_project(tmp_path)
    out = mixgraph("render", project, cwd=tmp_path)
    assert out.returncode == 1
    line = one_sentence(out.stderr)
    assert "stem 'a'" in line and "a.wav" in line and "not a finite number" in line
    assert f"0:{where_s:06.3f}" in line
    assert not (tmp_path / "out/mix.wav").exists()
    assert leftovers(tmp_path) == []


def test_the_meter_does_not_call_a_non_finite_file_silence(tmp_path):
    x = tone(1.0)
    x[:, 100:200] = np.nan
    write_stem(tmp_path / "nan.wav", x)
    out = mixgraph("meter", "nan.wav", "--json", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert "nan.wav holds a sample that is not a finite number" in one_sentence(out.stderr)


def test_a_non_finite_impulse_response_is_refused_where_it_enters(tmp_path):
    write_stem(tmp_path / "stems/a.wav", tone(1.0), "PCM_24")
    ir = np.exp(-np.arange(4800) / 600.0)[None, :] * 0.5
    ir[0, 2400] = np.nan
    write_stem(tmp_path / "ir.wav", ir)
    project = chain_project(tmp_path, ir="ir.wav")
    out = mixgraph("render", project, cwd=tmp_path)
    line = one_sentence(out.stderr)
    assert "reverb 'verb'" in line and "ir.wav" in line and "0:00.050" in line
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_a_node_that_produces_nan_is_caught_at_the_output(project):
    """A signal that turns non-finite inside the graph (here a test node) never
    reaches a file: the output names itself and the time, and nothing is written."""
    from mixgraph.nodes.base import Node, register, unregister

    @register
    class NanAt(Node):
        type_name = "test_nan_at"
        summary = "passes audio, NaN from 0.5 s"

        def process(self, ins, outs, start):
            outs[0][...] = ins[0]
            t = start + np.arange(ins[0].shape[1])
            outs[0][:, t >= SR // 2] = np.nan

    try:
        project.stem("a", tone(1.0, 1))
        project.graph.add("test_nan_at", id="bad")
        project.graph.connect("a", "bad")
        project.output("out", src="bad", subtype="FLOAT")
        with pytest.raises(AudioFileError) as err:
            project.render()
        assert "output 'out'" in err.value.message and "0:00.500" in err.value.message
        assert not (project.folder / "out").exists()
        assert leftovers(project.folder) == []
    finally:
        unregister("test_nan_at")


# ----------------------------------------------------------- reads with a bound
def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("what", ["project", "stem", "variants"])
def test_a_fifo_is_refused_at_once_instead_of_hanging(tmp_path, what):
    write_stem(tmp_path / "stems/a.wav", tone(0.5), "PCM_24")
    if what == "project":
        args = ("render", _fifo(tmp_path / "song.mgraph"))
    elif what == "stem":
        chain_project(tmp_path, stem="stems/pipe.wav")
        _fifo(tmp_path / "stems/pipe.wav")
        args = ("render", tmp_path / "song.json")
    else:
        template = one_slot_template(tmp_path)
        args = ("batch", template, tmp_path / "stems", "-o", tmp_path / "out", "--variants",
                _fifo(tmp_path / "variants.json"), "-q")
    t0 = time.monotonic()
    out = mixgraph(*args, cwd=tmp_path, timeout=60)
    assert time.monotonic() - t0 < 30
    line = one_sentence(out.stderr)
    assert "FIFO" in line and out.returncode == 1


@pytest.mark.parametrize("args", [("render", "/dev/zero"), ("validate", "/dev/zero"),
                                  ("meter", "/dev/zero")])
def test_a_device_is_refused_with_a_sentence(tmp_path, args):
    out = mixgraph(*args, cwd=tmp_path, timeout=60)
    assert out.returncode == 1
    assert "/dev/zero" in one_sentence(out.stderr)


# ------------------------------------------------------ damaged and cut files
def test_a_stem_declaring_one_hertz_is_refused(tmp_path):
    """A 600-byte WAV at 1 Hz would have rendered as 300 s of audio."""
    write_stem(tmp_path / "stems/a.wav", np.zeros((1, 300)), "PCM_16", rate=1)
    out = mixgraph("render", chain_project(tmp_path), cwd=tmp_path)
    line = one_sentence(out.stderr)
    assert "a.wav declares a sample rate of 1 Hz" in line and "8000 to 384000" in line


def test_an_impulse_response_declaring_one_hertz_names_the_rate_not_an_internal_error(
        tmp_path):
    write_stem(tmp_path / "stems/a.wav", tone(0.5), "PCM_24")
    write_stem(tmp_path / "ir.wav", np.ones((1, 10)) * 0.1, "PCM_16", rate=1)
    out = mixgraph("render", chain_project(tmp_path, ir="ir.wav"), cwd=tmp_path)
    line = one_sentence(out.stderr)
    assert "ir.wav declares a sample rate of 1 Hz" in line and "internal" not in line


def test_a_wav_cut_short_renders_what_it_holds_with_a_notice(tmp_path):
    path = tmp_path / "stems/a.wav"
    write_stem(path, tone(2.0), "PCM_24")
    os.truncate(path, path.stat().st_size - 3 * 2 * SR // 2)      # half a second
    out = mixgraph("render", chain_project(tmp_path), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    notices = json.loads(out.stdout)["notices"]
    assert any("a.wav is cut short: its header promises 2.000 s but the file holds 1.500 s"
               in n for n in notices), notices


def test_a_stem_cut_while_the_render_reads_it_stops_the_render(tmp_path):
    """Before, the rest of the stem was read as silence and the render exited 0."""
    from mixgraph import load
    from mixgraph.nodes import audiofile

    path = tmp_path / "stems/a.wav"
    write_stem(path, tone(6.0), "PCM_24")
    project = chain_project(tmp_path)
    real = audiofile.AudioReader.read_into
    cut = []

    def read_into(self, out):
        if self.position > SR and not cut:
            cut.append(os.truncate(path, path.stat().st_size // 2))
        return real(self, out)

    mp = pytest.MonkeyPatch()
    mp.setattr(audiofile.AudioReader, "read_into", read_into)
    try:
        with pytest.raises(AudioFileError, match="ended at .* sooner than it did when the "
                                                 "render began"):
            render(load(project), workers=1)
    finally:
        mp.undo()
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


# ------------------------------------------------ outputs appear together or not
@pytest.mark.parametrize("hard_links", [True, False])
def test_a_failed_render_leaves_every_earlier_output_as_it_was(tmp_path, monkeypatch,
                                                               hard_links):
    """Two outputs of one render: when the second cannot be moved into place, the
    first, already moved, is taken back: both keep the earlier render's files (also
    on a file system without hard links, where the earlier file is moved aside)."""
    import errno

    from mixgraph import load
    from mixgraph.nodes import audiofile

    if not hard_links:
        def no_link(*args, **kwargs):
            raise OSError(errno.EPERM, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_link)

    write_stem(tmp_path / "stems/a.wav", tone(1.0), "PCM_24")
    project = chain_project(tmp_path, outputs=("out/first.wav", "out/second.wav"))
    render(load(project), workers=1)
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    write_stem(tmp_path / "stems/a.wav", tone(1.0, freq=220.0), "PCM_24")
    real = audiofile.AtomicWriter.publish

    def publish(self):
        if self.path.name == "second.wav":
            self.discard()
            raise AudioFileError(f"cannot move the finished render into place at {self.path}")
        return real(self)

    monkeypatch.setattr(audiofile.AtomicWriter, "publish", publish)
    with pytest.raises(AudioFileError, match="second.wav"):
        render(load(project), workers=1)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    monkeypatch.setattr(audiofile.AtomicWriter, "publish", real)
    render(load(project), workers=1)                # and a render that succeeds replaces
    after = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert set(after) == set(before) and after["first.wav"] != before["first.wav"]


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (mounting needs root); skips where it cannot be mounted (the
    next test simulates the full disk instead)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode:
        pytest.skip("cannot mount a small tmpfs here")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_is_named_and_the_earlier_output_survives(tmp_path, small_disk):
    write_stem(tmp_path / "stems/a.wav", tone(1.0), "PCM_16")
    project = chain_project(tmp_path, outputs=(str(small_disk / "mix.wav"),),
                            subtype="PCM_16")
    first = mixgraph("render", project, "--allow-outside", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    earlier = (small_disk / "mix.wav").read_bytes()
    write_stem(tmp_path / "stems/a.wav", tone(20.0), "PCM_16")     # 3.8 MB: too big
    out = mixgraph("render", project, "--allow-outside", cwd=tmp_path)
    line = one_sentence(out.stderr)
    assert "the disk holding it is full" in line and "mix.wav" in line
    assert (small_disk / "mix.wav").read_bytes() == earlier
    assert leftovers(small_disk) == []


def test_a_full_temporary_folder_in_an_analysis_pass_is_named(tmp_path, small_disk):
    """A loudness stage renders its input to a tape in TMPDIR first: a TMPDIR too
    small for it is named as such, and nothing is left there or beside the output."""
    write_stem(tmp_path / "stems/a.wav", tone(20.0), "PCM_16")
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("stem", id="a", path="stems/a.wav")
    g.add("loudness", id="loud", target_lufs=-16.0)
    g.add("output", id="o", path="out/mix.wav")
    g.connect("a", "loud")
    g.connect("loud", "o")
    save(g, tmp_path / "song.json")
    out = mixgraph("render", "song.json", cwd=tmp_path, env={"TMPDIR": str(small_disk)})
    line = one_sentence(out.stderr)
    assert "the disk holding it is full" in line and "analysis pass" in line
    assert "TMPDIR" in line
    assert list(small_disk.iterdir()) == [] and not (tmp_path / "out").exists()


def test_a_full_disk_is_named_where_it_is_simulated(tmp_path, monkeypatch):
    import errno

    import soundfile

    from mixgraph import load

    write_stem(tmp_path / "stems/a.wav", tone(1.0), "PCM_24")
    project = chain_project(tmp_path)

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(soundfile.SoundFile, "write", full)
    with pytest.raises(AudioFileError, match="the disk holding it is full"):
        render(load(project), workers=1)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ kills
def _slow_project(folder: Path) -> Path:
    """A render long enough to be killed in its final pass (a minute of stems through
    a limiter, block 64)."""
    write_stem(folder / "stems/a.wav", tone(60.0), "PCM_24")
    return chain_project(folder, outputs=("out/mix.wav", "out/copy.wav"))


def _wait_for_partial(folder: Path, proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.name.endswith(".partial") for p in (folder / "out").glob(".*")) \
                if (folder / "out").exists() else False:
            return
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    raise AssertionError("the render never began writing")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_render_stopped_by_a_signal_leaves_nothing_behind(tmp_path, sig):
    project = _slow_project(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    # as from a terminal: a test run started in the background (``.ci/run &``) has
    # SIGINT ignored, and a child would inherit that and not stop at all
    proc = subprocess.Popen([sys.executable, "-m", "mixgraph", "render", str(project),
                             "--block-size", "64", "-q"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TMPDIR=str(temp)),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        _wait_for_partial(tmp_path, proc)
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, proc.stderr.read()
    assert leftovers(tmp_path) == [] and list(temp.iterdir()) == []
    assert not (tmp_path / "out/mix.wav").exists()


def test_after_a_sigkill_the_next_render_removes_what_the_killed_one_left(tmp_path):
    project = _slow_project(tmp_path)
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp))
    proc = subprocess.Popen([sys.executable, "-m", "mixgraph", "render", str(project),
                             "--block-size", "64", "-q"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    _wait_for_partial(tmp_path, proc)
    proc.kill()
    proc.wait(timeout=30)
    assert leftovers(tmp_path)                  # a SIGKILL runs no clean-up
    # another render under way is left alone; the next render of this project removes
    # what the dead one left, beside its outputs and in the temporary folder
    out = mixgraph("render", project, "-q", cwd=tmp_path, env={"TMPDIR": str(temp)},
                   timeout=300)
    assert out.returncode == 0, out.stderr
    assert leftovers(tmp_path) == []
    assert sf.info(str(tmp_path / "out/mix.wav")).duration == pytest.approx(60.0, abs=0.01)




def test_a_killed_batch_leaves_no_orphan_and_writes_nothing_after(tmp_path):
    """Before, the pool's workers lived on for minutes after a SIGKILL of the batch,
    finished their jobs and wrote outputs no manifest records."""
    template = one_slot_template(tmp_path, limiter=True)
    songs = song_folders(tmp_path, [40.0] * 4)
    marker = f"MIXGRAPH_FAULT_{uuid.uuid4().hex}"
    out = tmp_path / "renders"
    proc = subprocess.Popen([sys.executable, "-m", "mixgraph", "batch", str(template),
                             *map(str, songs), "-o", str(out), "-j", "2", "-q",
                             "--block-size", "64"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, **{marker: "1"}))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and leftovers(out)):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        assert leftovers(out), "no job began writing"
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5.0
        while marked_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marked_processes(marker) == [], "processes outlived the batch by 5 s"
        written = sorted(p.relative_to(out) for p in out.rglob("*.wav"))
        time.sleep(1.0)
        assert sorted(p.relative_to(out) for p in out.rglob("*.wav")) == written
        assert leftovers(out) == []
    finally:
        for pid in marked_processes(marker):
            os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------- batches
@pytest.mark.parametrize("damage", ["an entry is a string", "an input is a number",
                                    "an output is a list", "not json", "a list"])
def test_a_damaged_manifest_does_not_stop_the_next_batch(tmp_path, damage):
    from mixgraph import batch

    template = one_slot_template(tmp_path)
    songs = song_folders(tmp_path, [0.5, 0.5], freq=300.0)
    out = tmp_path / "renders"
    assert batch(template, songs, out, workers=1).ok
    manifest = out / "manifest.json"
    doc = json.loads(manifest.read_text())
    if damage == "an entry is a string":
        doc["jobs"]["s0"] = "gone"
    elif damage == "an input is a number":
        first = next(iter(doc["jobs"]["s0"]["inputs"]))
        doc["jobs"]["s0"]["inputs"][first] = 7
    elif damage == "an output is a list":
        doc["jobs"]["s0"]["outputs"] = [["x"]]
    manifest.write_text("{not json" if damage == "not json" else
                        json.dumps([1, 2]) if damage == "a list" else json.dumps(doc))
    again = batch(template, songs, out, workers=1)
    assert again.ok
    assert "s0" not in again.skipped
    assert again.notices and ("damaged" in again.notices[0] or "set aside" in again.notices[0])
    assert isinstance(json.loads(manifest.read_text())["jobs"]["s0"], dict)


# --------------------------------------------------------------- messages
def test_control_characters_in_a_path_are_shown_escaped(tmp_path):
    bad = "nope\x1b[2J\x07.mgraph"
    out = mixgraph("render", bad, cwd=tmp_path)
    line = one_sentence(out.stderr)
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr
    assert "nope\\x1b[2J\\x07.mgraph" in line


def test_a_huge_number_is_shortened_in_the_message(tmp_path):
    doc = {"format": "mixgraph", "version": 1, "sample_rate": 48000,
           "settings": {"max_tail_s": int("9" * 4000)}, "nodes": [], "links": []}
    (tmp_path / "p.json").write_text(json.dumps(doc))
    out = mixgraph("validate", "p.json", cwd=tmp_path)
    assert out.returncode == 1
    assert "9" * 30 not in out.stderr and "(4000 digits)" in out.stderr


def test_a_failed_render_into_a_new_folder_leaves_no_folder(tmp_path):
    write_stem(tmp_path / "stems/a.wav", tone(0.5), "PCM_24")
    project = chain_project(tmp_path, outputs=("out/a.wav", "out/b.wav"))
    g = json.loads(project.read_text())
    g["nodes"][1]["params"]["bands"][0]["freq_hz"] = -5      # invalid: nothing renders
    project.write_text(json.dumps(g))
    out = mixgraph("render", project, "-o", "renders/new/", cwd=tmp_path)
    assert out.returncode == 1 and "freq_hz" in one_sentence(out.stderr)
    assert not (tmp_path / "renders").exists()


def test_a_node_id_with_a_trailing_newline_is_refused():
    from mixgraph.errors import GraphError

    g = Graph()
    with pytest.raises(GraphError, match="must be 1-128 letters"):
        g.add("tone", id="kick\n")


def test_a_batch_with_workers_runs_under_a_long_tmpdir(tmp_path):
    """The fork server's socket lives in TMPDIR; past 100 bytes it cannot be made."""

    long = tmp_path / ("t" * 60) / ("u" * 60)
    long.mkdir(parents=True)
    template = one_slot_template(tmp_path)
    songs = song_folders(tmp_path, [0.3, 0.3])
    out = mixgraph("batch", template, *songs, "-o", tmp_path / "renders", "-j", "2", "-q",
                   cwd=tmp_path, env={"TMPDIR": str(long)}, timeout=300)
    assert out.returncode == 0, out.stderr


def test_a_job_whose_worker_is_killed_twice_fails_and_leaves_no_partial(tmp_path):
    """The pool gives up on a job after its worker dies twice; what those workers
    were writing is removed with it."""
    from mixgraph import batch

    template = one_slot_template(tmp_path, limiter=True)
    songs = song_folders(tmp_path, [30.0, 0.5])
    out = tmp_path / "renders"
    killed: list[int] = []

    def writer_of(partial: Path) -> int | None:
        """The process that has ``partial`` open (the worker rendering s0)."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if any(os.readlink(fd) == str(partial) for fd in (proc / "fd").iterdir()):
                    return int(proc.name)
            except OSError:
                continue
        return None

    def progress(done, total, running):
        if "s0" in running and running["s0"] > 0.05 and len(killed) < 2:
            for partial in (out / "s0" / "out").glob(".*.partial"):
                pid = writer_of(partial)
                if pid is not None and pid not in killed:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break

    report = batch(template, songs, out, workers=2, block_size=64, progress=progress)
    assert len(killed) == 2
    failed = {e["song"]: e for e in report.failed}
    assert set(failed) == {"s0"}
    assert "stopped 2 times" in failed["s0"]["error"]
    assert leftovers(out) == []


def test_a_render_worker_killed_early_is_named_not_a_broken_pipe(tmp_path):
    """SIGKILL to a forked render worker: the render stops with one sentence saying a
    worker stopped, and leaves nothing behind."""
    for i in range(4):
        write_stem(tmp_path / f"stems/s{i}.wav", tone(60.0, 1, 100.0 + 20 * i), "PCM_16")
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("bus", id="mix")
    for i in range(4):
        g.add("stem", id=f"s{i}", path=f"stems/s{i}.wav")
        g.add("compressor", id=f"c{i}")
        g.connect(f"s{i}", f"c{i}")
        g.connect(f"c{i}", "mix")
    g.add("output", id="o", path="out/mix.wav")
    g.connect("mix", "o")
    save(g, tmp_path / "song.json")
    proc = subprocess.Popen([sys.executable, "-m", "mixgraph", "render", "song.json", "-j",
                             "2", "-q", "--block-size", "256"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_partial(tmp_path, proc)
        children = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
                    .read_text().split()]
        assert children, "the render forked no worker"
        os.kill(children[0], signal.SIGKILL)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert code == 1
    assert "a render worker process stopped unexpectedly" in one_sentence(stderr)
    assert leftovers(tmp_path) == [] and not (tmp_path / "out/mix.wav").exists()


def test_only_what_a_dead_process_of_this_machine_left_is_removed(tmp_path):
    """Leftovers are judged by their full name: a live render's files, another
    machine's (a shared folder) and files that only look alike are left alone."""
    from mixgraph.nodes.tempfiles import HOST, hidden_beside, remove_stale_beside

    target = tmp_path / "mix.wav"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    mine = hidden_beside(target, ".partial")                  # this process: alive
    names = {
        "dead": f".mix.wav.{HOST}.{dead}.0123abcd.partial",
        "dead kept": f".mix.wav.{HOST}.{dead}.0123abcd.previous",
        "other host": f".mix.wav.otherhost{HOST}.{dead}.0123abcd.partial",
        "look-alike": f".mix.wav.{dead}.wav.{HOST}.{dead}.0123abcd.partial",
        "other file": f".mix.wav2.{HOST}.{dead}.0123abcd.partial",
        "alive": mine.name,
    }
    for name in names.values():
        (tmp_path / name).write_bytes(b"x")
    removed = {p.name for p in remove_stale_beside(target)}
    assert removed == {names["dead"], names["dead kept"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        n for k, n in names.items() if not k.startswith("dead"))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("seed", range(3))
def test_a_kill_at_a_random_point_leaves_nothing_once_the_next_render_ends(tmp_path, sig,
                                                                           seed):
    """Killed anywhere: while validating, during the analysis pass (a loudness stage
    tapes its input), in the final pass or while publishing.  SIGTERM and SIGHUP
    clean up at once; after a SIGKILL the next render does.  Earlier outputs are
    either as they were or the new ones, never half-written."""
    import random

    write_stem(tmp_path / "stems/a.wav", tone(40.0), "PCM_16")
    g = Graph(sample_rate=SR, base_dir=tmp_path)
    g.add("stem", id="a", path="stems/a.wav")
    g.add("loudness", id="loud", target_lufs=-16.0)
    g.add("output", id="o", path="out/mix.wav", subtype="PCM_16")
    g.add("output", id="raw", path="out/raw.wav", subtype="PCM_16")
    g.connect("a", "loud")
    g.connect("loud", "o")
    g.connect("a", "raw")
    save(g, tmp_path / "song.json")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp))
    first = mixgraph("render", "song.json", "-q", cwd=tmp_path, env={"TMPDIR": str(temp)},
                     timeout=300)
    assert first.returncode == 0, first.stderr
    earlier = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    write_stem(tmp_path / "stems/a.wav", tone(40.0, freq=330.0), "PCM_16")
    proc = subprocess.Popen([sys.executable, "-m", "mixgraph", "render", "song.json", "-q",
                             "--block-size", "256"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(random.Random(seed * 7 + sig).uniform(0.3, 3.0))
    proc.send_signal(sig)
    proc.wait(timeout=60)
    now = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()
           if not p.name.startswith(".")}
    assert set(now) == set(earlier)
    assert all(now[n] == earlier[n] for n in now) or all(now[n] != earlier[n] for n in now)
    if sig != signal.SIGKILL:
        assert leftovers(tmp_path) == [] and list(temp.iterdir()) == []
    again = mixgraph("render", "song.json", "-q", cwd=tmp_path, env={"TMPDIR": str(temp)},
                     timeout=300)
    assert again.returncode == 0, again.stderr
    assert leftovers(tmp_path) == [] and list(temp.iterdir()) == []


STOPPED_IN_EXEC = """
import sys
from mixgraph.cli import commands

# a stop that comes while Python runs a string through exec (as scipy sets modules up)
commands.COMMANDS["validate"] = lambda args: exec("raise KeyboardInterrupt")
sys.exit(commands.main(["validate", "song.mgraph"]))
"""


@pytest.mark.parametrize("forgotten", [True, False])
def test_a_stop_inside_an_exec_still_ends_with_status_130(tmp_path, forgotten):
    """CPython notes a KeyboardInterrupt raised in a string run by exec as unhandled, and
    ``python -m`` then ends the process by SIGINT, whatever it returns: without the
    note forgotten (the control) the status is -2."""
    code = STOPPED_IN_EXEC if forgotten else STOPPED_IN_EXEC.replace(
        "\ncommands.COMMANDS", "\ncommands._forget_interrupt = lambda: None\ncommands.COMMANDS")
    (tmp_path / "stopped_in_exec.py").write_text(code)
    done = subprocess.run([sys.executable, "-m", "stopped_in_exec"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert done.returncode == (130 if forgotten else -signal.SIGINT), (done.returncode,
                                                                        done.stderr)
    assert done.stderr == "mixgraph: interrupted; nothing half-written was left behind\n"


# A stop (Ctrl-C, SIGTERM) can come between any two steps of putting finished files in
# place: each point leaves the outputs as they were, or all new, and nothing hidden.

def _two_outputs(folder: Path, earlier: bool) -> tuple[Path, dict]:
    """A project with two outputs, rendered once if ``earlier`` (its files, by name),
    and its stem changed since."""
    from mixgraph import load

    write_stem(folder / "stems/a.wav", tone(1.0), "PCM_24")
    project = chain_project(folder, outputs=("out/first.wav", "out/second.wav"))
    files = {}
    if earlier:
        render(load(project), workers=1)
        files = {p.name: p.read_bytes() for p in (folder / "out").iterdir()}
    write_stem(folder / "stems/a.wav", tone(1.0, freq=220.0), "PCM_24")
    return project, files


@pytest.mark.parametrize("hard_links", [True, False])
@pytest.mark.parametrize("earlier", [True, False])
@pytest.mark.parametrize("stop_at", ["moving it in", "just after"])
def test_a_stop_while_the_outputs_are_put_in_place_leaves_them_as_they_were(
        tmp_path, monkeypatch, hard_links, earlier, stop_at):
    """The stop comes as the first output's new file is moved in (or just after):
    the render ends interrupted, with the earlier files as they were (also where the
    file system has no hard links and the earlier file was moved aside)."""
    import errno

    from mixgraph import load
    from mixgraph.nodes import audiofile

    project, files = _two_outputs(tmp_path, earlier)
    if not hard_links:
        def no_link(*args, **kwargs):
            raise OSError(errno.EPERM, "Operation not permitted")
        monkeypatch.setattr(os, "link", no_link)
    real = os.replace

    def replace(src, dst):
        if Path(src).name.endswith(".partial"):
            if stop_at == "just after":
                real(src, dst)
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(audiofile.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        render(load(project), workers=1)
    monkeypatch.undo()
    out = tmp_path / "out"
    now = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else {}
    assert now == files and leftovers(tmp_path) == []


def test_a_stop_while_replaced_files_are_forgotten_still_forgets_them_all(tmp_path,
                                                                          monkeypatch):
    """Every output is in place when the stop comes: the render ends interrupted with
    the new files, and none of the earlier ones is left hidden beside them."""
    from mixgraph import load
    from mixgraph.nodes import audiofile

    project, files = _two_outputs(tmp_path, earlier=True)
    real = audiofile.Publication.keep
    stops = [1]

    def keep(self):
        if stops:
            stops.pop()
            raise KeyboardInterrupt
        real(self)

    monkeypatch.setattr(audiofile.Publication, "keep", keep)
    with pytest.raises(KeyboardInterrupt):
        render(load(project), workers=1)
    assert not stops and leftovers(tmp_path) == []
    now = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert set(now) == set(files) and all(now[n] != files[n] for n in now)
