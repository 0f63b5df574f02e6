"""Batch rendering: one template over many song folders, with variants, on a local
process pool or a Dask cluster; the manifest, skipping what is unchanged, resuming after
an interruption, failures kept to their job, and the ``mixgraph batch`` command.

The template here is small and linear (three slots -> channels -> two groups -> a mix
bus -> a FLOAT output), so that a batch's outputs can be checked against single renders
bit for bit and its variants against each other (and against the stems) analytically.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import mixgraph
from mixgraph import Graph, batch, load, render
from mixgraph.workflows.batch import MANIFEST
from mixgraph.workflows.jobs import PROJECT
from mixgraph.workflows.overrides import load_variants, parse_set
from mixgraph.cli.commands import main as cli_main
from mixgraph.core.fileformat import write_document
from mixgraph.workflows.binding import bind
from mixgraph.workflows.templates import load_template
from mixgraph.errors import ParameterError, ProjectFileError
from mixgraph.nodes.meters import meter_file

from conftest import SR, marked_processes

SECONDS = 2.5                          # 120000 frames: enough for gated loudness, quick
FRAMES = int(SECONDS * SR)
FLOAT_TOL = 1e-6                       # FLOAT outputs: float32 rounding of values < 1

# the template: slot -> (file name in a song folder, channel pan, channel gain dB, group)
SLOTS = {"kick": ("01_Kick.wav", 0.0, -3.0, "music"),
         "bass": ("Bass DI.wav", -0.4, -4.5, "music"),
         "vox": ("vox lead.wav", 0.25, -1.5, "vocals")}
GROUP_DB = {"music": -1.0, "vocals": -2.0}
MIX_DB = -2.5
OUT_REL = "out/mix.wav"
VOCAL_UP_DB = 6.0


# ------------------------------------------------------------------ material
def build_template(vocals_db: float = GROUP_DB["vocals"]) -> Graph:
    """kick, bass -> channels -> group 'music'; vox -> channel -> group 'vocals';
    both groups -> bus 'mix' -> output 'mix_out' (FLOAT, out/mix.wav)."""
    g = Graph(sample_rate=SR)
    g.kind = "template"
    for slot, (_, pan, gain_db, _) in SLOTS.items():
        g.add("stem", id=slot, path="", match=[f"{slot}*"])
        g.add("channel", id=f"{slot}_ch", pan=pan, gain_db=gain_db)
        g.connect(slot, f"{slot}_ch")
    g.add("group", id="music", gain_db=GROUP_DB["music"])
    g.add("group", id="vocals", gain_db=vocals_db)
    for slot, (_, _, _, group) in SLOTS.items():
        g.connect(f"{slot}_ch", group)
    g.add("bus", id="mix", gain_db=MIX_DB)
    g.connect("music", "mix")
    g.connect("vocals", "mix")
    g.add("output", id="mix_out", path=OUT_REL, subtype="FLOAT")
    g.connect("mix", "mix_out")
    g.template = {"description": "three slots into two groups and a mix",
                  "unmatched": "leave_out"}
    return g


def save_template(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_document(build_template(**kwargs).to_document(), path)
    return path


def stem_audio(seed: int, slot_index: int, seconds: float = SECONDS) -> np.ndarray:
    n = int(seconds * SR)
    t = np.arange(n) / SR
    freq = 70.0 * (slot_index + 1) + 23.0 * seed
    rng = np.random.default_rng(1000 * seed + slot_index)
    return 0.25 * np.sin(2 * np.pi * freq * t) + 0.03 * rng.standard_normal(n)


def make_song(folder: Path, seed: int, slots=tuple(SLOTS), extra: dict | None = None) -> Path:
    """A song folder with a 24-bit WAV per slot named as a session would name it."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, slot in enumerate(SLOTS):
        if slot in slots:
            sf.write(str(folder / SLOTS[slot][0]), stem_audio(seed, i), SR, subtype="PCM_24")
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return folder


def read(path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return data.T


def out_wav(out: Path, song: str, variant: str | None = None) -> Path:
    folder = out / song if variant is None else out / song / variant
    return folder / OUT_REL


def contribution(song_dir: Path, slot: str, group_db: float | None = None,
                 mute: bool = False) -> np.ndarray:
    """One slot's part of the mix, worked out from its stem on its own: the channel's
    constant-power pan and gain, its group's gain and the mix bus gain."""
    name, pan, gain_db, group = SLOTS[slot]
    if mute:
        return np.zeros((2, FRAMES))
    x = read(song_dir / name)[0]
    theta = (pan + 1.0) * math.pi / 4.0
    gdb = GROUP_DB[group] if group_db is None else group_db
    gain = 10 ** ((gain_db + gdb + MIX_DB) / 20)
    return gain * np.stack((math.cos(theta) * x, math.sin(theta) * x))


def rms_db(x: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(x))))
    return 20 * math.log10(r) if r > 0 else -math.inf


def partials(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if "partial" in p.name]


def mtimes(out: Path, songs) -> dict[str, int]:
    return {s: out_wav(out, s).stat().st_mtime_ns for s in songs}


def cli(*args) -> int:
    return cli_main(["batch", *map(str, args)])


def pid_gone(pid: int, timeout: float = 15.0) -> bool:
    """The process has exited (gone, or a zombie waiting to be reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return True
        except FileNotFoundError:
            return True
        except OSError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def template_file(tmp_path_factory) -> Path:
    return save_template(tmp_path_factory.mktemp("template") / "small_band.json")


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> list[Path]:
    """Six song folders (read only: tests that change stems make their own)."""
    root = tmp_path_factory.mktemp("songs")
    return [make_song(root / f"song{i}", seed=i + 1) for i in range(6)]


@pytest.fixture(scope="module")
def references(tmp_path_factory, template_file, songs) -> dict[str, np.ndarray]:
    """Each song bound to the template on its own and rendered with one worker."""
    root = tmp_path_factory.mktemp("single")
    template = load_template(str(template_file))
    found = {}
    for song in songs:
        (root / song.name).mkdir()
        g, binding = bind(template, song, root / song.name)
        assert sorted(binding.bound) == sorted(SLOTS)
        render(g, workers=1)
        found[song.name] = read(root / song.name / OUT_REL)
    return found


@pytest.fixture(scope="module")
def cluster():
    """A two-worker Dask cluster of processes, closed when the module's tests are done."""
    from dask.distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                     dashboard_address=None)
    try:
        yield c
    finally:
        c.close()


def test_the_references_are_the_analytic_mix_and_differ_between_songs(songs, references):
    """Control for every bit-for-bit comparison below: the single renders are the mix the
    template describes, loud enough to mean something, and no two songs are alike."""
    for song in songs:
        ref = references[song.name]
        assert ref.shape == (2, FRAMES)
        expected = sum(contribution(song, slot) for slot in SLOTS)
        assert np.max(np.abs(ref - expected)) < FLOAT_TOL
        assert -30.0 < rms_db(ref) < -6.0
    names = [s.name for s in songs]
    for a, b in zip(names, names[1:]):
        assert rms_db(references[a] - references[b]) > -40.0


# ------------------------------------------------------------------ local pool
def test_local_pool_outputs_equal_single_renders_bit_for_bit(tmp_path, template_file, songs,
                                                             references):
    """Four songs on two worker processes: every output is the single render's, bit for
    bit; each job's project is saved beside it; progress counts up to 4 of 4."""
    chosen = songs[:4]
    calls = []
    out = tmp_path / "out"
    report = batch(str(template_file), chosen, out, workers=2,
                   progress=lambda done, total, running: calls.append((done, total,
                                                                       dict(running))))
    assert report.ok, report.format()
    assert report.where == "local" and report.workers == 2
    assert [e["song"] for e in report.entries] == [s.name for s in chosen]
    assert report.skipped == []
    for song in chosen:
        entry = next(e for e in report.entries if e["song"] == song.name)
        assert entry["status"] == "done" and entry["error"] is None
        got = read(out_wav(out, song.name))
        assert got.shape == references[song.name].shape
        assert np.array_equal(got, references[song.name]), song.name
        assert (out / song.name / PROJECT).is_file()
    # progress: never backwards, every count from 0 to 4, fractions of a job in [0, 1]
    done = [c[0] for c in calls]
    assert done == sorted(done) and set(range(5)) <= set(done)
    assert all(c[1] == 4 for c in calls) and calls[-1][0] == 4
    assert all(0.0 <= f <= 1.0 for c in calls for f in c[2].values())
    assert not partials(out)


def test_local_pool_replaces_a_killed_worker_and_finishes_every_job(tmp_path, template_file,
                                                                    songs, references):
    """SIGKILL one pool worker after the first job is in: the pool is replaced (new
    worker processes appear), the jobs it lost are run again, every output is right."""
    before = {p.pid for p in multiprocessing.active_children()}
    seen: set[int] = set()
    killed: list[int] = []

    def progress(done, total, running):
        mine = {p.pid for p in multiprocessing.active_children()} - before
        seen.update(mine)
        if done >= 1 and not killed and total - done >= 2 and mine:
            pid = sorted(mine)[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    out = tmp_path / "out"
    report = batch(str(template_file), songs, out, workers=2, progress=progress)
    assert killed, "the test never killed a worker"
    assert pid_gone(killed[0])
    assert len(seen - set(killed)) >= 2 and len(seen) >= 3, seen     # a new pool started
    assert report.ok, report.format()
    assert [e["status"] for e in report.entries] == ["done"] * len(songs)
    for song in songs:
        assert np.array_equal(read(out_wav(out, song.name)), references[song.name]), song.name
    assert not partials(out)


# ------------------------------------------------------------------------ Dask
def test_dask_scheduler_address_gives_the_single_renders(tmp_path, template_file, songs,
                                                         references, cluster):
    """Jobs sent to the cluster by its address come back bit for bit as single renders."""
    out = tmp_path / "out"
    report = batch(str(template_file), songs, out, scheduler=cluster.scheduler_address)
    assert report.ok, report.format()
    assert report.where == cluster.scheduler_address and report.workers == 2
    for song in songs:
        got = read(out_wav(out, song.name))
        assert np.array_equal(got, references[song.name]), song.name
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["jobs"]) == sorted(s.name for s in songs)
    assert all(e["status"] == "done" for e in manifest["jobs"].values())


def test_dask_client_object_runs_the_jobs_on_its_workers_and_stays_open(
        tmp_path, template_file, songs, references, cluster):
    """A Client may be passed instead of an address: the jobs run as tasks on the
    cluster's workers (seen in its task stream), and the batch leaves the client open."""
    from dask.distributed import Client, get_task_stream

    out = tmp_path / "out"
    with Client(cluster) as client:
        workers = set(client.scheduler_info()["workers"])
        with get_task_stream(client) as stream:
            report = batch(str(template_file), songs[:3], out, scheduler=client)
        assert client.status == "running"
        tasks = [t for t in stream.data if str(t["key"]).startswith("mixgraph-")]
        assert len(tasks) == 3
        assert {t["worker"] for t in tasks} <= workers
    assert report.ok and report.where == cluster.scheduler_address
    for song in songs[:3]:
        assert np.array_equal(read(out_wav(out, song.name)), references[song.name])


def test_dask_worker_killed_mid_batch_its_jobs_are_run_again(tmp_path, template_file, songs,
                                                             references, cluster):
    """SIGKILL a busy Dask worker as soon as the first job is in: the batch still ends
    with every job done and every output the single render's, bit for bit."""
    from dask.distributed import Client

    with Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        pids = client.run(os.getpid)
        assert len(pids) == 2
        killed: dict = {}

        def progress(done, total, running):
            if done >= 1 and not killed:
                busy = [a for a, keys in client.processing().items() if keys and a in pids]
                victim = busy[0] if busy else sorted(pids)[0]
                killed.update(address=victim, pid=pids[victim], busy=bool(busy),
                              left=total - done)
                os.kill(pids[victim], signal.SIGKILL)

        out = tmp_path / "out"
        # a small block size makes each job long enough to be caught running
        report = batch(str(template_file), songs, out, scheduler=client, block_size=256,
                       progress=progress)
        assert killed, "the test never killed a worker"
        assert killed["busy"] and killed["left"] >= 2, killed
        assert pid_gone(killed["pid"])
        client.wait_for_workers(2, timeout=60)
        after = client.run(os.getpid)
        assert killed["pid"] not in after.values()
        assert set(after) != set(pids)                     # the nanny started a new one
    assert report.ok, report.format()
    assert [e["status"] for e in report.entries] == ["done"] * len(songs)
    for song in songs:
        assert np.array_equal(read(out_wav(out, song.name)), references[song.name]), song.name
    assert not partials(out)


def test_cli_scheduler_runs_variants_on_the_cluster(tmp_path, template_file, songs,
                                                    references, cluster, capsys):
    """mixgraph batch --scheduler ADDRESS --variants FILE: jobs named song/variant run on
    the cluster; the main variant is the single render, the instrumental the music."""
    variants = tmp_path / "variants.json"
    variants.write_text(json.dumps(VARIANTS))
    out = tmp_path / "out"
    assert cli(template_file, songs[0], songs[1], "-o", out, "--scheduler",
               cluster.scheduler_address, "--variants", variants, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["where"] == cluster.scheduler_address and doc["failed"] == []
    assert [(j["song"], j["variant"]) for j in doc["jobs"]] == [
        (s.name, v) for s in songs[:2] for v in VARIANTS]
    for song in songs[:2]:
        assert np.array_equal(read(out_wav(out, song.name, "main")), references[song.name])
        music = contribution(song, "kick") + contribution(song, "bass")
        got = read(out_wav(out, song.name, "instrumental"))
        assert np.max(np.abs(got[:, :FRAMES] - music)) < FLOAT_TOL


# --------------------------------------------------------- failures kept apart
def test_a_corrupt_stem_and_an_unmatched_folder_fail_alone(tmp_path, template_file, songs,
                                                           references):
    """A song whose kick.wav is garbage and a song with no file the template takes fail
    with one-line errors naming the file / the folder; the others render; the batch
    says it is not ok, and running it again tries the failed jobs again."""
    corrupt = make_song(tmp_path / "songs" / "corrupt", seed=40)
    (corrupt / SLOTS["kick"][0]).write_bytes(
        np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    nomatch = make_song(tmp_path / "songs" / "nomatch", seed=41, slots=(),
                        extra={"notes.txt": b"take 3 was best"})
    sf.write(str(nomatch / "tambourine.wav"), stem_audio(41, 0), SR)    # no slot takes it
    good = songs[:2]
    out = tmp_path / "out"
    report = batch(str(template_file), [good[0], corrupt, nomatch, good[1]], out, workers=1)
    assert not report.ok
    status = {e["song"]: e["status"] for e in report.entries}
    assert status == {good[0].name: "done", "corrupt": "failed", "nomatch": "failed",
                      good[1].name: "done"}
    errors = {e["song"]: e["error"] for e in report.failed}
    for error in errors.values():
        assert "\n" not in error and "Traceback" not in error and len(error) < 400
    # caught when the song is bound, before anything renders: the file and the reason
    assert SLOTS["kick"][0] in errors["corrupt"] and "cannot read" in errors["corrupt"]
    assert str(nomatch) in errors["nomatch"] and "fits the template" in errors["nomatch"]
    for song in good:
        assert np.array_equal(read(out_wav(out, song.name)), references[song.name])
    assert not out_wav(out, "corrupt").exists() and not out_wav(out, "nomatch").exists()
    manifest = json.loads((out / MANIFEST).read_text())["jobs"]
    assert manifest["corrupt"]["status"] == "failed"
    assert manifest["corrupt"]["error"] == errors["corrupt"]
    text = report.format()
    assert "2 failed" in text and "failed: corrupt: " in text and "failed: nomatch: " in text

    again = batch(str(template_file), [good[0], corrupt, nomatch, good[1]], out, workers=1)
    assert again.skipped == [good[0].name, good[1].name]
    assert len(again.failed) == 2


def test_cli_exit_status_is_3_when_a_job_failed_and_0_when_all_succeed(
        tmp_path, template_file, songs, references, capsys):
    corrupt = make_song(tmp_path / "songs" / "corrupt", seed=42)
    (corrupt / SLOTS["vox"][0]).write_bytes(b"not audio at all" * 100)
    assert cli(template_file, songs[0], corrupt, "-o", tmp_path / "a", "-j", "1", "-q") == 3
    printed = capsys.readouterr().out
    assert "1 failed" in printed and "failed: corrupt: " in printed
    assert np.array_equal(read(out_wav(tmp_path / "a", songs[0].name)),
                          references[songs[0].name])

    assert cli(template_file, songs[0], songs[1], "-o", tmp_path / "b", "-j", "1",
               "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["failed"] == [] and doc["skipped"] == []
    assert [j["status"] for j in doc["jobs"]] == ["done", "done"]
    assert cli(template_file, songs[0], songs[1], "-o", tmp_path / "b", "-j", "1",
               "--json") == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == [songs[0].name, songs[1].name]


# ------------------------------------------------------------------ resuming
@pytest.mark.parametrize("when", ["between_jobs", "mid_render"])
def test_an_interrupted_batch_resumes_where_it_stopped(tmp_path, template_file, songs,
                                                       references, when):
    """Ctrl-C (KeyboardInterrupt from progress) after two of four jobs, between jobs or
    in the middle of the third job's render: the batch raises, the manifest holds the
    two done, no half-written file is left; running it again skips those two, renders
    the rest, and ends as an uninterrupted batch does."""
    chosen = songs[:4]
    names = [s.name for s in chosen]
    out = tmp_path / "out"

    def progress(done, total, running):
        if done == 2 and (when == "between_jobs" or max(running.values(), default=0) > 0.3):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batch(str(template_file), chosen, out, workers=1, progress=progress)
    jobs = json.loads((out / MANIFEST).read_text())["jobs"]
    assert sorted(jobs) == names[:2]
    assert all(jobs[n]["status"] == "done" for n in names[:2])
    assert partials(out) == []
    assert not out_wav(out, names[2]).exists() and not out_wav(out, names[3]).exists()
    first = mtimes(out, names[:2])

    report = batch(str(template_file), chosen, out, workers=1)
    assert report.ok
    assert report.skipped == names[:2]
    assert mtimes(out, names[:2]) == first
    whole = tmp_path / "whole"
    uninterrupted = batch(str(template_file), chosen, whole, workers=1)
    for name in names:
        got = read(out_wav(out, name))
        assert np.array_equal(got, read(out_wav(whole, name))), name
        assert np.array_equal(got, references[name]), name
    assert uninterrupted.ok
    # (not the files' SHA-256: libsndfile stamps the time into a FLOAT WAV's PEAK chunk)
    assert partials(out) == []


# ------------------------------------------------------------- skip / redo
def test_the_manifest_records_the_overrides_as_applied_together(tmp_path, songs):
    """--set moves the vocals by +1 dB and a variant by +6: the job's record says +7,
    what was applied, and the render is the reference with the vocals 7 dB up."""
    template = save_template(tmp_path / "t.json")
    out = tmp_path / "out"
    report = batch(str(template), songs[:1], out, workers=1,
                   overrides={"vocals.gain_db": {"by": 1.0}},
                   variants={"up": {"vocals.gain_db": {"by": 6.0}}})
    assert report.ok, report.format()
    jobs = json.loads((out / MANIFEST).read_text())["jobs"]
    (entry,) = [e for e in jobs.values() if e["variant"] == "up"]
    assert entry["overrides"] == {"vocals.gain_db": {"by": 7.0}}
    song = songs[0]
    expected = (contribution(song, "kick") + contribution(song, "bass")
                + contribution(song, "vox", group_db=GROUP_DB["vocals"] + 7.0))
    got = read(out_wav(out, song.name, "up"))
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_an_input_outside_the_song_folder_does_not_stop_the_skip(tmp_path):
    """A convolution reverb reading an IR from a sibling folder ('a-ir' beside song 'a':
    the two names sort differently as paths and as strings): the second run skips."""
    song = make_song(tmp_path / "songs" / "a", seed=3)
    ir = tmp_path / "songs" / "a-ir" / "hall.wav"
    ir.parent.mkdir()
    t = np.arange(SR // 4) / SR
    sf.write(str(ir), 0.2 * np.exp(-t / 0.05) * np.cos(2 * np.pi * 900 * t), SR)
    g = build_template()
    g.add("reverb", id="hall", mode="convolution", ir_path=str(ir))
    g.connect("vocals", "hall")
    g.connect("hall", "mix")
    template = tmp_path / "with_ir.json"
    write_document(g.to_document(), template)
    out = tmp_path / "out"
    first = batch(str(template), [song], out, workers=1)
    assert first.ok and first.skipped == []
    inputs = json.loads((out / MANIFEST).read_text())["jobs"]["a"]["inputs"]
    assert str(ir) in inputs and len(inputs) == 4
    again = batch(str(template), [song], out, workers=1)
    assert again.ok and again.skipped == ["a"]


def test_unchanged_jobs_are_skipped_and_changed_ones_rendered_again(tmp_path, template_file,
                                                                    monkeypatch):
    """Nothing changed: all skipped, files untouched.  A stem touched but not changed:
    skipped (and its new time recorded).  A stem rewritten: that song only.  An override
    changed: all.  An output deleted: that job.  --force: all.  Another template or
    mixgraph version: all."""
    folders = [make_song(tmp_path / "songs" / f"s{i}", seed=20 + i) for i in range(3)]
    names = [f.name for f in folders]
    out = tmp_path / "out"

    def run(**kwargs):
        return batch(str(kwargs.pop("template", template_file)), folders, out, workers=1,
                     **kwargs)

    def rendered(report):
        return [e["song"] for e in report.entries if e["song"] not in report.skipped]

    first = run()
    assert first.ok and first.skipped == [] and rendered(first) == names
    times = mtimes(out, names)
    projects = {n: (out / n / PROJECT).stat().st_mtime_ns for n in names}

    again = run()
    assert again.skipped == names and again.ok
    assert mtimes(out, names) == times
    assert {n: (out / n / PROJECT).stat().st_mtime_ns for n in names} == projects
    assert [e["status"] for e in again.entries] == ["done"] * 3

    # touched, same content: skipped, and the manifest learns the new time
    kick = folders[0] / SLOTS["kick"][0]
    st = kick.stat()
    os.utime(kick, ns=(st.st_atime_ns, st.st_mtime_ns + 7_000_000_000))
    touched = run()
    assert touched.skipped == names
    assert mtimes(out, names) == times
    recorded = json.loads((out / MANIFEST).read_text())["jobs"][names[0]]["inputs"]
    (key,) = [k for k in recorded if Path(k).name == kick.name]
    assert recorded[key]["mtime_ns"] == kick.stat().st_mtime_ns

    # a stem rewritten with other audio of the same length (and file size)
    bass = folders[1] / SLOTS["bass"][0]
    size = bass.stat().st_size
    old_mix = read(out_wav(out, names[1]))
    sf.write(str(bass), stem_audio(99, 1), SR, subtype="PCM_24")
    assert bass.stat().st_size == size
    changed = run()
    assert rendered(changed) == [names[1]]
    new_mix = read(out_wav(out, names[1]))
    expected = sum(contribution(folders[1], slot) for slot in SLOTS)
    assert np.max(np.abs(new_mix - expected)) < FLOAT_TOL
    assert rms_db(new_mix - old_mix) > -40.0
    assert mtimes(out, [names[0], names[2]]) == {n: times[n] for n in (names[0], names[2])}

    # an override: everything again, 0.5 dB down exactly
    before = {n: read(out_wav(out, n)) for n in names}
    overridden = run(overrides={"mix.gain_db": MIX_DB - 0.5})
    assert rendered(overridden) == names
    for n in names:
        assert np.max(np.abs(read(out_wav(out, n)) - before[n] * 10 ** (-0.5 / 20))) \
            < FLOAT_TOL
    assert run(overrides={"mix.gain_db": MIX_DB - 0.5}).skipped == names

    # an output deleted: that job alone
    out_wav(out, names[2]).unlink()
    redone = run(overrides={"mix.gain_db": MIX_DB - 0.5})
    assert rendered(redone) == [names[2]] and out_wav(out, names[2]).is_file()

    # force: everything, though nothing changed
    forced = run(overrides={"mix.gain_db": MIX_DB - 0.5}, force=True)
    assert forced.skipped == [] and rendered(forced) == names

    # the template changed: everything
    louder = save_template(tmp_path / "t2" / "small_band.json", vocals_db=0.0)
    assert rendered(run(template=louder)) == names
    assert run(template=louder).skipped == names

    # another mixgraph version: everything
    monkeypatch.setattr(mixgraph, "__version__", mixgraph.__version__ + "+next")
    bumped = run(template=louder)
    assert rendered(bumped) == names
    assert all(e["mixgraph"] == mixgraph.__version__ for e in bumped.entries)


# ------------------------------------------------------------------ variants
VARIANTS = {"main": {}, "instrumental": {"vocals.mute": True},
            "vocal_up": {"vocals.gain_db": {"by": VOCAL_UP_DB}}}


def test_variants_differ_by_exactly_the_vocal_path(tmp_path, template_file, songs, references):
    """main - instrumental is the vocal path v (as worked out from the vox stem), and
    vocal_up - main is (10**(6/20) - 1) * v; main is the plain single render."""
    chosen = songs[:2]
    out = tmp_path / "out"
    report = batch(str(template_file), chosen, out, workers=1, variants=VARIANTS)
    assert report.ok, report.format()
    assert [(e["song"], e["variant"]) for e in report.entries] == [
        (s.name, v) for s in chosen for v in VARIANTS]
    jobs = json.loads((out / MANIFEST).read_text())["jobs"]
    assert sorted(jobs) == sorted(f"{s.name}/{v}" for s in chosen for v in VARIANTS)
    up = 10 ** (VOCAL_UP_DB / 20)
    for song in chosen:
        mixes = {v: read(out_wav(out, song.name, v)) for v in VARIANTS}
        n = min(m.shape[1] for m in mixes.values())
        assert n >= FRAMES and all(m.shape[1] - n < 64 for m in mixes.values())
        main, instrumental, vocal_up = (mixes[v][:, :n] for v in VARIANTS)
        assert np.array_equal(mixes["main"], references[song.name])
        v = main - instrumental
        vox = contribution(song, "vox")
        assert rms_db(vox) > -30.0
        assert np.max(np.abs(v[:, :FRAMES] - vox)) < FLOAT_TOL
        assert np.max(np.abs(instrumental[:, :FRAMES] - contribution(song, "kick")
                             - contribution(song, "bass"))) < FLOAT_TOL
        assert np.max(np.abs((vocal_up - main) - (up - 1.0) * v)) < FLOAT_TOL
        assert rms_db(vocal_up - main) > -40.0               # control: vocal_up is louder
        saved = {name: load(out / song.name / name / PROJECT) for name in VARIANTS}
        assert saved["instrumental"].node("vocals").params.get("mute") is True
        assert saved["vocal_up"].node("vocals").params["gain_db"] == pytest.approx(
            GROUP_DB["vocals"] + VOCAL_UP_DB, abs=1e-12)
        assert saved["main"].node("vocals").params["gain_db"] == GROUP_DB["vocals"]


@pytest.mark.parametrize("text, expected", [
    ("mix.gain_db=-3", ("mix.gain_db", -3)),
    ("mix.gain_db=-3.5", ("mix.gain_db", -3.5)),
    ("vocals.mute=true", ("vocals.mute", True)),
    ("vocals.gain_db+=6", ("vocals.gain_db", {"by": 6.0})),
    ("vocals.gain_db-=1.5", ("vocals.gain_db", {"by": -1.5})),
    (" vocals.gain_db += 2 ", ("vocals.gain_db", {"by": 2.0})),
    ("vocals.gain_db-=-2", ("vocals.gain_db", {"by": 2.0})),
    ("mix_out.path=out/other mix.wav", ("mix_out.path", "out/other mix.wav")),
    ("mix_out.subtype=\"PCM_16\"", ("mix_out.subtype", "PCM_16")),
    ("kick.match=[\"bd*\", \"kick*\"]", ("kick.match", ["bd*", "kick*"])),
])
def test_parse_set_reads_absolute_and_relative_values(text, expected):
    key, value = parse_set(text)
    assert (key, value) == expected
    assert type(value) is type(expected[1])


@pytest.mark.parametrize("text", ["mix.gain_db", "=3", "mix.gain_db+=loud",
                                  "mix.gain_db-=", ""])
def test_parse_set_refuses_what_it_cannot_read(text):
    with pytest.raises(ParameterError) as info:
        parse_set(text)
    assert "\n" not in info.value.message


def test_parse_set_an_absolute_value_containing_minus_equals_is_a_value():
    assert parse_set("mix_out.path=out/a-=b.wav") == ("mix_out.path", "out/a-=b.wav")


def test_cli_set_and_variants_file_give_what_the_api_gives(tmp_path, template_file, songs,
                                                           capsys):
    """--set vocals.gain_db+=6 --set mix.gain_db=-3 renders what overrides=... renders,
    and saves those values; --variants FILE runs every variant; a second run skips all,
    --force renders all."""
    song = songs[2]
    assert cli(template_file, song, "-o", tmp_path / "cli", "-j", "1", "-q",
               "--set", "vocals.gain_db+=6", "--set", "mix.gain_db=-3") == 0
    api = batch(str(template_file), [song], tmp_path / "api", workers=1,
                overrides={"vocals.gain_db": {"by": 6.0}, "mix.gain_db": -3.0})
    assert api.ok
    got = read(out_wav(tmp_path / "cli", song.name))
    assert np.array_equal(got, read(out_wav(tmp_path / "api", song.name)))
    saved = load(tmp_path / "cli" / song.name / PROJECT)
    assert saved.node("vocals").params["gain_db"] == pytest.approx(GROUP_DB["vocals"] + 6.0)
    assert saved.node("mix").params["gain_db"] == -3.0
    expected = sum(contribution(song, s, group_db=GROUP_DB["vocals"] + 6.0 if s == "vox"
                                else None) for s in SLOTS) * 10 ** ((-3.0 - MIX_DB) / 20)
    assert np.max(np.abs(got - expected)) < FLOAT_TOL

    variants = tmp_path / "variants.json"
    variants.write_text(json.dumps(VARIANTS))
    assert load_variants(variants) == VARIANTS
    capsys.readouterr()
    args = (template_file, song, "-o", tmp_path / "var", "-j", "1", "--variants", variants,
            "--json")
    assert cli(*args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(j["song"], j["variant"]) for j in doc["jobs"]] == [(song.name, v)
                                                                for v in VARIANTS]
    for v in VARIANTS:
        assert out_wav(tmp_path / "var", song.name, v).is_file()
    assert cli(*args) == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == [f"{song.name}/{v}"
                                                              for v in VARIANTS]
    assert cli(*args, "--force") == 0
    assert json.loads(capsys.readouterr().out)["skipped"] == []


# ------------------------------------------------------------------ manifest
def test_manifest_records_inputs_outputs_and_their_figures(tmp_path, template_file, songs,
                                                           references):
    chosen = songs[:2]
    out = tmp_path / "out"
    report = batch(str(template_file), chosen, out, workers=1)
    assert report.ok
    assert report.manifest == out.absolute() / MANIFEST
    doc = json.loads((out / MANIFEST).read_text())
    assert doc["format"] == "mixgraph-batch" and doc["version"] == 1
    assert doc["template"] == str(template_file)
    assert len(doc["template_hash"]) == 64
    assert sorted(doc["jobs"]) == sorted(s.name for s in chosen)
    for song in chosen:
        e = doc["jobs"][song.name]
        assert e["status"] == "done" and e["error"] is None
        assert e["song"] == song.name and e["variant"] is None
        assert e["mixgraph"] == mixgraph.__version__
        assert e["render_s"] > 0 and isinstance(e["notices"], list)
        assert isinstance(e["warnings"], list)
        assert {k: v for k, v in e["binding"]["bound"].items()} == {
            slot: [SLOTS[slot][0]] for slot in SLOTS}
        # inputs: every stem, by its real path, with size, time and SHA-256
        stems = {os.path.realpath(song / SLOTS[s][0]) for s in SLOTS}
        assert {os.path.realpath(k) for k in e["inputs"]} == stems
        for path, known in e["inputs"].items():
            data = Path(path).read_bytes()
            assert known["sha256"] == hashlib.sha256(data).hexdigest()
            assert known["size"] == len(data)
            assert known["mtime_ns"] == Path(path).stat().st_mtime_ns
        # outputs: the file, its hash and the loudness figures a meter reads from it
        (o,) = e["outputs"]
        wav = out_wav(out, song.name)
        assert o["node"] == "mix_out"
        assert os.path.realpath(o["path"]) == os.path.realpath(wav)
        assert o["sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
        assert o["size"] == wav.stat().st_size and o["mtime_ns"] == wav.stat().st_mtime_ns
        metered = meter_file(wav)
        assert o["duration_s"] == pytest.approx(sf.info(str(wav)).frames / SR, abs=1e-9)
        for key in ("integrated_lufs", "true_peak_dbtp", "sample_peak_dbfs"):
            assert math.isfinite(o[key]), key
            assert o[key] == pytest.approx(metered[key], abs=0.01), key
        assert (o["lra_lu"] == pytest.approx(metered["lra_lu"], abs=0.01)
                or (math.isnan(o["lra_lu"]) and math.isnan(metered["lra_lu"])))
        # the saved project renders the same audio again
        project = out / song.name / PROJECT
        assert Path(e["project"]) == project.absolute()
        again = tmp_path / f"again_{song.name}.wav"
        render(load(project), workers=1, output_paths={"mix_out": again})
        assert np.array_equal(read(again), references[song.name])

    # the project hash follows the project: same when forced, other with an override
    hashes = {e["song"]: e["project_hash"] for e in report.entries}
    forced = batch(str(template_file), chosen, out, workers=1, force=True)
    assert {e["song"]: e["project_hash"] for e in forced.entries} == hashes
    moved = batch(str(template_file), chosen, out, workers=1,
                  overrides={"mix.gain_db": -3.0})
    for e in moved.entries:
        assert len(e["project_hash"]) == 64 and e["project_hash"] != hashes[e["song"]]
    assert len(set(hashes.values())) == 2                   # two songs, two projects
    json.dumps(moved.to_dict())


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("overrides, words", [
    ({"nosuch.gain_db": 1.0}, ["'nosuch'"]),
    ({"mix.gain_db": 99.0}, ["gain_db", "99"]),
    ({"mix.gaindb": 1.0}, ["gaindb"]),
    ({"vocals.mute": {"by": 1}}, ["vocals.mute", "by"]),
    ({"vocals.gain_db": {"by": "loud"}}, ["vocals.gain_db"]),
    ({"mix": 1.0}, ["'mix'", "node.param"]),
])
def test_bad_overrides_are_one_sentence_before_anything_runs(tmp_path, template_file, songs,
                                                             overrides, words):
    out = tmp_path / "out"
    with pytest.raises(ParameterError) as info:
        batch(str(template_file), songs[:1], out, workers=1, overrides=overrides)
    message = info.value.message
    assert "\n" not in message and message.startswith("--set: ")
    for word in words:
        assert word in message, (word, message)
    assert not out.exists()
    with pytest.raises(ParameterError) as info:
        batch(str(template_file), songs[:1], out, workers=1, variants={"alt": overrides})
    assert "variant 'alt'" in info.value.message
    assert not out.exists()


def test_cli_bad_set_is_exit_1_with_the_message(tmp_path, template_file, songs, capsys):
    assert cli(template_file, songs[0], "-o", tmp_path / "out", "-q",
               "--set", "nosuch.gain_db=1") == 1
    err = capsys.readouterr().err
    assert err.startswith("mixgraph: error: ") and "'nosuch'" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_a_variant_for_a_node_a_song_lost_is_skipped_with_a_notice(tmp_path, template_file,
                                                                   songs):
    """A song with no vocal stem loses the vox slot, its channel and the 'vocals' group;
    variants that change them still render (as main) with a notice saying why."""
    novox = make_song(tmp_path / "songs" / "novox", seed=50, slots=("kick", "bass"))
    variants = {"main": {}, "vocal_up": {"vocals.gain_db": {"by": VOCAL_UP_DB}},
                "vox_left": {"vox_ch.pan": -1.0}}
    out = tmp_path / "out"
    report = batch(str(template_file), [novox, songs[0]], out, workers=1, variants=variants)
    assert report.ok, report.format()
    entries = {(e["song"], e["variant"]): e for e in report.entries}
    assert entries[("novox", "main")]["notices"] == []
    (notice,) = entries[("novox", "vocal_up")]["notices"]
    assert "vocals.gain_db" in notice and "'vocals'" in notice and "skipped" in notice
    (notice,) = entries[("novox", "vox_left")]["notices"]
    assert "vox_ch.pan" in notice and "'vox_ch'" in notice
    removed = set(entries[("novox", "main")]["binding"]["removed"])
    assert {"vox", "vox_ch", "vocals"} <= removed
    main = read(out_wav(out, "novox", "main"))
    expected = contribution(novox, "kick") + contribution(novox, "bass")
    assert np.max(np.abs(main - expected)) < FLOAT_TOL
    for v in ("vocal_up", "vox_left"):
        assert np.array_equal(read(out_wav(out, "novox", v)), main)
    # the song that has vocals gets the changes and no notices
    for v in variants:
        assert entries[(songs[0].name, v)]["notices"] == []
    assert rms_db(read(out_wav(out, songs[0].name, "vocal_up"))
                  - read(out_wav(out, songs[0].name, "main"))) > -40.0


def test_two_song_folders_with_one_name_are_refused(tmp_path, template_file):
    a = make_song(tmp_path / "a" / "take", seed=60)
    b = make_song(tmp_path / "b" / "take", seed=61)
    out = tmp_path / "out"
    with pytest.raises(ParameterError) as info:
        batch(str(template_file), [a, b], out, workers=1)
    assert "'take'" in info.value.message and "\n" not in info.value.message
    assert not out.exists()


def test_an_output_folder_that_is_a_songs_parent_is_refused(tmp_path, template_file):
    """OUT/SONG would be the song folder itself: the batch would write into it."""
    song = make_song(tmp_path / "songs" / "one", seed=62)
    with pytest.raises(ParameterError):
        batch(str(template_file), [song], tmp_path / "songs", workers=1)
    assert sorted(p.name for p in song.iterdir()) == sorted(SLOTS[s][0] for s in SLOTS)


def test_an_output_folder_inside_a_song_folder_is_refused(tmp_path, template_file):
    song = make_song(tmp_path / "songs" / "one", seed=63)
    with pytest.raises(ParameterError) as info:
        batch(str(template_file), [song], song / "rendered", workers=1)
    assert "inside the song folder" in info.value.message


def test_an_override_out_of_range_only_with_the_variant_fails_that_job_alone(
        tmp_path, template_file, songs):
    """--set vocals.gain_db=20 is fine, and so is a variant's +6 dB on the template's
    -2 dB; together they make 26 dB (over the 24 dB maximum): those jobs fail, naming
    the parameter and the value, and the other variant renders."""
    out = tmp_path / "out"
    report = batch(str(template_file), songs[:2], out, workers=1,
                   overrides={"vocals.gain_db": 20.0},
                   variants={"up": {"vocals.gain_db": {"by": 6.0}},
                             "down": {"vocals.gain_db": {"by": -6.0}}})
    status = {(e["song"], e["variant"]): e["status"] for e in report.entries}
    assert status == {(s.name, v): ("failed" if v == "up" else "done")
                      for s in songs[:2] for v in ("up", "down")}
    for e in report.failed:
        assert "variant 'up'" in e["error"] and "gain_db" in e["error"]
        assert "26" in e["error"] and "\n" not in e["error"]
    for song in songs[:2]:
        assert load(out / song.name / "down" / PROJECT).node("vocals").params["gain_db"] \
            == pytest.approx(14.0)
        assert not out_wav(out, song.name, "up").exists()


def test_variant_names_given_in_code_are_checked_too(tmp_path, template_file, songs):
    out = tmp_path / "out"
    with pytest.raises(ParameterError, match="variant name '..'"):
        batch(str(template_file), songs[:2], out, workers=1, variants={"..": {}})
    assert not out.exists()


def test_a_block_size_the_renderer_refuses_is_refused_before_any_job(tmp_path, template_file,
                                                                    songs):
    with pytest.raises(ParameterError, match="block size"):
        batch(str(template_file), songs[:2], tmp_path / "out", workers=1, block_size=100000)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, words", [
    (None, ["variants file not found"]),
    ("{\"main\": {}, ", ["is not a variants file: it is not valid JSON"]),
    ("[{\"vocals.mute\": true}]", ["must be an object"]),
    ("{}", ["must be an object"]),
    ("{\"a/b\": {}}", ["'a/b'"]),
    ("{\"alt\": [1, 2]}", ["'alt'"]),
])
def test_bad_variants_files_are_project_file_errors(tmp_path, template_file, songs, content,
                                                    words, capsys):
    path = tmp_path / "variants.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ProjectFileError) as info:
        load_variants(path)
    for word in words:
        assert word in info.value.message
    assert str(path) in info.value.message and "\n" not in info.value.message
    with pytest.raises(ProjectFileError):
        batch(str(template_file), songs[:1], tmp_path / "out", workers=1, variants=path)
    assert cli(template_file, songs[0], "-o", tmp_path / "out", "-q", "--variants",
               path) == 1
    assert "mixgraph: error: " in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_other_bad_arguments(tmp_path, template_file, songs):
    out = tmp_path / "out"
    with pytest.raises(ProjectFileError, match="song folder not found"):
        batch(str(template_file), [songs[0], tmp_path / "nope"], out, workers=1)
    with pytest.raises(ParameterError, match="at least one song folder"):
        batch(str(template_file), [], out, workers=1)
    project = Graph(sample_rate=SR)
    with pytest.raises(ProjectFileError, match="needs a template"):
        batch(project, songs[:1], out, workers=1)
    with pytest.raises(ProjectFileError):
        batch(str(tmp_path / "no_such_template.json"), songs[:1], out, workers=1)
    for workers in (0, -1, 1.5, True):
        with pytest.raises(ParameterError, match="workers"):
            batch(str(template_file), songs[:1], out, workers=workers)
    assert not out.exists()                     # refused before anything was written


# ------------------------------------------------------ stopping, blame, locking


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_sigterm_stops_the_workers_at_once_and_keeps_what_finished(tmp_path, template_file):
    """SIGTERM to `mixgraph batch` once its first job is in: it exits 130 without
    rendering the jobs still queued, leaves no worker running and no partial file, the
    manifest holds the jobs that finished; a rerun skips those and renders the rest."""
    import subprocess
    import sys
    import uuid

    chosen = []
    for i in range(4):
        folder = tmp_path / "songs" / f"long{i}"
        folder.mkdir(parents=True)
        for k, slot in enumerate(SLOTS):
            sf.write(str(folder / SLOTS[slot][0]), stem_audio(70 + i, k, seconds=40.0), SR,
                     subtype="PCM_24")
        chosen.append(folder)
    out = tmp_path / "out"
    marker = f"MIXGRAPH_TEST_{uuid.uuid4().hex}"
    env = dict(os.environ, **{marker: "1"})
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from mixgraph.cli.commands import main; "
         "sys.exit(main(sys.argv[1:]))", "batch", str(template_file), *map(str, chosen),
         "-o", str(out), "-j", "2", "-q"], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads((out / MANIFEST).read_text())["jobs"]:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        assert proc.poll() is None, "the batch ended before it could be stopped"
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 130, proc.stderr.read().decode()
    jobs = json.loads((out / MANIFEST).read_text())["jobs"]
    assert 1 <= len(jobs) < 4
    rendered = {s.name for s in chosen if out_wav(out, s.name).exists()}
    assert set(jobs) <= rendered
    # the queued jobs were not rendered behind the manifest's back: at most the jobs
    # running when it stopped (one per worker) can have finished unrecorded, in the
    # instant between a worker's last write and its report
    assert len(rendered - set(jobs)) <= 2, (sorted(rendered), sorted(jobs))
    assert len(rendered) < 4
    assert partials(out) == []
    deadline = time.monotonic() + 15
    while marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked_processes(marker) == [], "workers outlived the batch"
    again = batch(str(template_file), chosen, out, workers=2)
    assert again.ok and sorted(again.skipped) == sorted(jobs)


class _Proc:
    def __init__(self, exitcode):
        self.exitcode = exitcode


def test_only_the_job_whose_worker_died_is_blamed_for_a_broken_pool():
    from mixgraph.workflows.cluster import _culprits

    slots = [0.5, 0.2, -1.0, -1.0]                   # jobs 0, 1 running; 2, 3 queued
    pids = [101, 102, 0, 0]
    procs = {101: _Proc(-signal.SIGKILL), 102: _Proc(-signal.SIGTERM)}
    assert _culprits([0, 1, 2, 3], slots, pids, procs) == [0]
    procs[102] = _Proc(128 + signal.SIGTERM)         # stopped by the pool, cleanly
    assert _culprits([0, 1, 2, 3], slots, pids, procs) == [0]
    # no worker to blame (e.g. the pool's processes unknown): the started jobs are
    assert _culprits([0, 1, 2, 3], slots, pids, {}) == [0, 1]
    assert _culprits([2, 3], slots, pids, procs) == []


def test_two_batches_cannot_write_into_one_output_folder(tmp_path):
    from mixgraph.workflows.batch import Manifest
    from mixgraph.errors import MixgraphError

    first = Manifest(tmp_path / "out", "t", "h")
    try:
        with pytest.raises(MixgraphError) as info:
            Manifest(tmp_path / "out", "t", "h")
        assert "another batch" in info.value.message
    finally:
        first.close()
    Manifest(tmp_path / "out", "t", "h").close()     # free again once the first ends


def test_the_manifest_is_written_as_each_job_ends(tmp_path):
    from mixgraph.workflows.batch import Manifest

    m = Manifest(tmp_path, "tmpl", "h")
    try:
        m.record("a", {"status": "done"})
        on_disk = json.loads((tmp_path / MANIFEST).read_text())["jobs"]
        assert on_disk == {"a": {"status": "done", "template": "tmpl"}}
        m.record("b", {"status": "failed"})
        assert sorted(json.loads((tmp_path / MANIFEST).read_text())["jobs"]) == ["a", "b"]
    finally:
        m.close()


def test_repeated_sets_apply_in_order():
    from mixgraph.workflows.overrides import combine_sets

    pairs = [parse_set(t) for t in ("mix.gain_db+=1", "mix.gain_db+=1.5", "a.b=2")]
    assert combine_sets(pairs) == {"mix.gain_db": {"by": 2.5}, "a.b": 2}
    pairs = [parse_set(t) for t in ("mix.gain_db=-6", "mix.gain_db-=1")]
    assert combine_sets(pairs) == {"mix.gain_db": -7.0}
    pairs = [parse_set(t) for t in ("mix.gain_db-=1", "mix.gain_db=-6")]
    assert combine_sets(pairs) == {"mix.gain_db": -6}
    assert parse_set("vocals.gain_db=+1.0") == ("vocals.gain_db", 1.0)
    assert parse_set("vocals.gain_db=+2") == ("vocals.gain_db", 2)
    assert parse_set("out.path=+x.wav") == ("out.path", "+x.wav")


def test_cli_repeated_set_moves_twice(tmp_path, template_file, songs):
    assert cli(template_file, songs[0], "-o", tmp_path / "o", "-j", "1", "-q",
               "--set", "mix.gain_db+=1", "--set", "mix.gain_db+=1") == 0
    saved = load(tmp_path / "o" / songs[0].name / PROJECT)
    assert saved.node("mix").params["gain_db"] == pytest.approx(MIX_DB + 2.0)


@pytest.mark.parametrize("address", ["foo:bar", "tcp://", "not a url"])
def test_a_malformed_scheduler_address_is_one_sentence(tmp_path, template_file, songs,
                                                       address, capsys):
    pytest.importorskip("dask.distributed")
    assert cli(template_file, songs[0], "-o", tmp_path / "o", "--scheduler", address) == 1
    err = capsys.readouterr().err
    assert "bad scheduler address" in err and "internal error" not in err
    assert not (tmp_path / "o").exists()


def test_an_output_folder_inside_a_song_folder_through_a_symlink_is_refused(tmp_path,
                                                                            template_file):
    song = make_song(tmp_path / "real" / "song", seed=64)
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "song").symlink_to(song)
    with pytest.raises(ParameterError):
        batch(str(template_file), [tmp_path / "links" / "song"], song / "renders", workers=1)
    with pytest.raises(ParameterError):         # OUT/SONG would be the real song folder
        batch(str(template_file), [tmp_path / "links" / "song"], tmp_path / "real",
              workers=1)
    assert sorted(p.name for p in song.iterdir()) == sorted(SLOTS[s][0] for s in SLOTS)


def test_one_song_folder_as_text_and_the_same_folder_twice(tmp_path, template_file, songs,
                                                          references):
    report = batch(str(template_file), str(songs[0]), tmp_path / "one", workers=1)
    assert [e["song"] for e in report.entries] == [songs[0].name]
    report = batch(str(template_file), [songs[0], songs[0]], tmp_path / "twice", workers=1)
    assert [e["song"] for e in report.entries] == [songs[0].name]
    assert np.array_equal(read(out_wav(tmp_path / "twice", songs[0].name)),
                          references[songs[0].name])


def test_the_summary_shows_each_rendered_jobs_binding_problems(tmp_path, template_file):
    """An extra take of the vocal: the batch says so after its table (the mix is made
    with one of them), as `mixgraph new` would."""
    song = make_song(tmp_path / "songs" / "takes", seed=65)
    (song / "vox lead take2.wav").write_bytes((song / SLOTS["vox"][0]).read_bytes())
    report = batch(str(template_file), [song], tmp_path / "out", workers=1)
    assert report.ok
    text = report.format()
    flagged = [line for line in text.splitlines() if line.startswith("takes: ")]
    assert flagged and any("vox lead" in line for line in flagged), text


def test_an_output_path_that_is_a_file_is_refused(tmp_path, template_file, songs):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError) as info:
        batch(str(template_file), [songs[0]], tmp_path / "file", workers=1)
    assert "is a file" in info.value.message


def test_a_worker_hashes_a_stem_once_for_all_its_variants_until_it_changes(tmp_path,
                                                                           monkeypatch):
    import mixgraph.workflows.jobs as jobs

    calls = []
    real = jobs.sha256_file
    monkeypatch.setattr(jobs, "sha256_file", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(jobs, "_input_hashes", {})
    stem = tmp_path / "kick.wav"
    sf.write(str(stem), np.zeros(100), SR)
    first = jobs._input_record(stem)
    assert jobs._input_record(stem) == first and len(calls) == 1
    assert first["sha256"] == hashlib.sha256(stem.read_bytes()).hexdigest()
    sf.write(str(stem), np.full(100, 0.5), SR)               # changed: hashed again
    os.utime(stem, ns=(first["mtime_ns"] + 10**9, first["mtime_ns"] + 10**9))
    second = jobs._input_record(stem)
    assert len(calls) == 2 and second["sha256"] != first["sha256"]


def test_a_notice_every_variant_gives_is_said_once_for_all_of_them(tmp_path, template_file):
    """A stem at another rate is resampled in each of a song's variants: the report
    says so in one line naming every variant, not once per variant."""
    song = make_song(tmp_path / "songs" / "mixed", seed=3)
    name = SLOTS["vox"][0]
    sf.write(str(song / name), stem_audio(3, 2, seconds=SECONDS)[:int(SECONDS * 44100)],
             44100, subtype="PCM_24")
    report = batch(str(template_file), [song], tmp_path / "out", workers=1,
                   variants=VARIANTS)
    assert report.ok, report.format()
    lines = [l for l in report.format().splitlines() if "resampled" in l]
    assert len(lines) == 1, lines
    assert lines[0].startswith("mixed/instrumental, mixed/main, mixed/vocal_up: notice: "
                               "resampled to the project's 48000 Hz")
