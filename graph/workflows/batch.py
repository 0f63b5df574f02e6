"""Batch rendering: one template over many songs, with alternate mixes, on a local
process pool or a Dask cluster.

Each *job* is a song folder and a variant.  A job binds the folder's stems to the
template (as ``mixgraph new`` does), applies the batch-wide overrides and then the
variant's, saves the project as ``OUT/SONG[/VARIANT]/project.mgraph`` and renders it
there, with one worker (the batch's parallelism is across jobs).  Jobs are plain
data in and plain data out, so they run the same in a local pool and on Dask workers;
inputs and outputs must be on storage every worker sees.

``OUT/manifest.json`` records every job: its inputs (size, time, SHA-256), the hash of
the bound project, its outputs with their loudness figures, or its error.  It is
rewritten (atomically) as each job ends, so an interrupted batch resumes where it
stopped, and a job whose project, inputs and outputs are unchanged is skipped; a
changed stem, template, override or mixgraph version renders it again.  A failing job
is recorded and the batch goes on.

Overrides are ``{"node.param": value}``: a value sets the parameter; ``{"by": x}``
moves a number by x (``vocal_bus.gain_db: {"by": 1.0}`` is "vocal up 1 dB").  On the
command line ``--set node.param=VALUE`` (VALUE as JSON, else as text) and
``--set node.param+=X`` / ``-=X``.  An override for a node the template has but a song
lost (a slot with no file, pruned) is skipped with a notice; one for a node the
template does not have is an error before anything runs.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mixgraph.errors import MixgraphError, ParameterError, ProjectFileError

from mixgraph.core.fileformat import load, read_plain
from mixgraph.core.model import Graph
from mixgraph.nodes.tempfiles import remove_stale_beside

from .jobs import (PROJECT, Job, inputs_of, job_key, prepare, project_hash, remove_leftovers,
                   sha256_file, stat)
from .overrides import check_overrides, check_variants, load_variants

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "mixgraph-batch"


# ------------------------------------------------------------------ manifest
class Manifest:
    """``OUT/manifest.json``: one entry per job, rewritten atomically as each job ends.

    A batch holds ``OUT/.manifest.lock`` while it runs, so that two batches into one
    folder cannot overwrite each other's records (the second one is refused).
    """

    def __init__(self, folder: Path, template: str, template_hash: str):
        self.path = folder / MANIFEST
        self.template = template
        self._lock = _lock(folder)
        self.doc = {"format": MANIFEST_FORMAT, "version": 1, "template": template,
                    "template_hash": template_hash, "jobs": {}}
        self.notices: list[str] = []
        if self.path.exists():
            self._read_earlier()

    def _read_earlier(self) -> None:
        """The entries of an earlier batch into this folder: an entry that is not what
        a batch writes is left out (that job renders again), and a manifest that cannot
        be read at all is set aside beside it, so that nothing stops the batch."""
        try:
            old = read_plain(self.path, "batch manifest")
        except ProjectFileError as exc:
            old = exc
        if not (isinstance(old, dict) and old.get("format") == MANIFEST_FORMAT
                and isinstance(old.get("jobs"), dict)):
            aside = self.path.with_name(self.path.name + ".unreadable")
            why = old.message if isinstance(old, ProjectFileError) else "it is not a manifest"
            try:
                os.replace(self.path, aside)
            except OSError:
                aside = None
            self.notices.append(f"the earlier manifest could not be used ({why}); "
                                + (f"it was set aside as {aside.name} and " if aside else "")
                                + "every job renders again")
            return
        for key, entry in old["jobs"].items():
            if _usable(entry):
                self.doc["jobs"][key] = entry
            else:
                self.notices.append(f"the manifest's entry for {key!r} is damaged; that "
                                    "job renders again")

    def entry(self, key: str) -> dict | None:
        return self.doc["jobs"].get(key)

    def record(self, key: str, entry: dict) -> None:
        entry.setdefault("template", self.template)
        self.doc["jobs"][key] = entry
        self.save()

    def save(self) -> None:
        from mixgraph.core.fileformat import write_atomic

        write_atomic(self.path, json.dumps(self.doc, indent=1, sort_keys=True,
                                           default=str).encode("utf-8"))

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()                # closing the file releases the lock
            self._lock = None


def _usable(entry) -> bool:
    """Whether a manifest entry has the shape a batch writes (a damaged one would stop
    every later batch where it is read)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("song"), str) \
            or entry.get("status") not in ("done", "failed"):
        return False
    inputs, outputs = entry.get("inputs", {}), entry.get("outputs", [])
    return (isinstance(inputs, dict) and all(isinstance(v, dict) for v in inputs.values())
            and isinstance(outputs, list)
            and all(isinstance(o, dict) and isinstance(o.get("path"), str) for o in outputs)
            and isinstance(entry.get("variant"), (str, type(None))))


def _lock(folder: Path):
    """An exclusive lock on ``folder/.manifest.lock`` (POSIX), or None where there is
    no ``fcntl``; refuses when another batch holds it."""
    try:
        import fcntl
    except ImportError:                       # Windows: no lock
        return None
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / ".manifest.lock", "a+b")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise MixgraphError(f"another batch is rendering into {folder}; wait for it to end "
                            "or choose another output folder") from None
    return handle


def unchanged(job: Job, template_doc: dict, entry: dict | None) -> bool:
    """Whether a finished job's project, inputs and outputs are as the manifest says.

    Files whose size and time match are taken as unchanged; a file whose time moved
    but size did not is hashed (the manifest's time is updated when it matches).
    """
    if not entry or entry.get("status") != "done":
        return False
    try:
        graph, _, _ = prepare(job, template_doc)
    except MixgraphError:
        return False
    if project_hash(graph) != entry.get("project_hash"):
        return False
    recorded = entry.get("inputs", {})
    if set(recorded) != {str(p) for p in inputs_of(graph)}:
        return False
    files = list(recorded.items()) + [(o["path"], o) for o in entry.get("outputs", [])]
    for path, known in files:
        p = Path(path)
        try:
            now = stat(p)
        except OSError:
            return False
        if now["size"] != known.get("size"):
            return False
        if now["mtime_ns"] != known.get("mtime_ns"):
            if sha256_file(p) != known.get("sha256"):
                return False
            known["mtime_ns"] = now["mtime_ns"]
    return True


# --------------------------------------------------------------------- batch
@dataclass
class BatchReport:
    entries: list[dict]
    skipped: list[str]
    out_dir: Path
    manifest: Path
    wall_s: float
    workers: int
    where: str                                    # "local" or the scheduler's address
    notices: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[dict]:
        return [e for e in self.entries if e["status"] != "done"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def format(self) -> str:
        rows = [("job", "status", "output", "length", "LUFS", "TP dBTP", "time")]
        for e in sorted(self.entries, key=_job_key):
            status = "skipped" if _job_key(e) in self.skipped else e["status"]
            took = "" if status == "skipped" else _num(e.get("render_s"), "{:.1f} s")
            for i, o in enumerate(e.get("outputs") or [{}]):
                rows.append((_job_key(e) if i == 0 else "", status if i == 0 else "",
                             o.get("node") or "-", _num(o.get("duration_s"), "{:.1f} s"),
                             _num(o.get("integrated_lufs"), "{:.1f}"),
                             _num(o.get("true_peak_dbtp"), "{:.1f}"), took if i == 0 else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]
        done = sum(e["status"] == "done" for e in self.entries)
        lines.append(f"{len(self.entries)} jobs: {done - len(self.skipped)} rendered, "
                     f"{len(self.skipped)} unchanged and skipped, {len(self.failed)} failed; "
                     f"{self.wall_s:.1f} s on {self.where} ({self.workers} worker"
                     f"{'s' if self.workers != 1 else ''}); manifest {self.manifest}")
        for e in self.failed:
            lines.append(f"failed: {_job_key(e)}: {e['error']}")
        lines += [f"notice: {n}" for n in self.notices]
        said: dict[str, list[str]] = {}              # what this run has to say, once
        for e in sorted(self.entries, key=_job_key):  # for all the jobs that say it
            if _job_key(e) not in self.skipped:
                for text in _attention(e):
                    said.setdefault(text, []).append(_job_key(e))
        lines += [f"{', '.join(jobs)}: {text}" for text, jobs in said.items()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"jobs": self.entries, "skipped": self.skipped,
                "failed": [_job_key(e) for e in self.failed],
                "out_dir": str(self.out_dir), "manifest": str(self.manifest),
                "wall_s": round(self.wall_s, 3), "workers": self.workers, "where": self.where,
                "notices": self.notices}


def _attention(entry: dict) -> list[str]:
    """A job's binding problems, notices and warnings, as lines."""
    from .binding import Binding

    lines = Binding.from_dict(entry["binding"]).attention() if entry.get("binding") else []
    lines += [f"notice: {n}" for n in entry.get("notices") or []]
    lines += [f"warning: {w}" for w in entry.get("warnings") or []]
    return lines


def _job_key(entry: dict) -> str:
    return job_key(entry["song"], entry.get("variant"))


def _num(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return fmt.format(value)


def batch(template: str | os.PathLike | Graph, song_dirs: list[str | os.PathLike],
          out_dir: str | os.PathLike, *, workers: int | None = None,
          scheduler: str | None = None, variants: dict | str | os.PathLike | None = None,
          overrides: dict[str, Any] | None = None, block_size: int = 1024,
          force: bool = False, progress: Callable | None = None) -> BatchReport:
    """Render every song folder (and variant) through ``template`` into ``out_dir``.

    ``template``: a template name, file or :class:`Graph`.  ``workers``: local worker
    processes (default: one per core).  ``scheduler``: a Dask scheduler's address (or
    a ``dask.distributed.Client``) to run the jobs on instead.  ``variants``: a
    variants file or ``{name: overrides}``.  ``overrides``: for every job, before the
    variant's.  ``force``: render even what is unchanged.  ``progress(done, total,
    running)`` is called as jobs advance (``running``: ``{job: fraction}``, local
    pool only).
    """
    from .templates import load_template

    started = time.perf_counter()
    tmpl = template if isinstance(template, Graph) else load_template(str(template))
    if tmpl.kind != "template":
        raise ProjectFileError("batch needs a template (a project's kind is not 'template')")
    template_doc = tmpl.to_document()
    section = template_doc.setdefault("template", {})
    section.setdefault("name", tmpl.path.stem if tmpl.path else "template")
    if isinstance(variants, (str, os.PathLike)):
        variants = load_variants(variants)
    elif variants is not None:
        check_variants(variants)
    overrides = dict(overrides or {})
    check_overrides(tmpl, overrides, "--set")
    for name, changes in (variants or {}).items():
        check_overrides(tmpl, changes, f"variant '{name}'")
    from mixgraph.core.renderer import check_block_size

    check_block_size(block_size)
    _count(workers, 1)                       # a bad worker count, before anything runs
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"the output folder {out} is a file")
    jobs = _jobs(song_dirs, out, variants, overrides, block_size)
    template_name = str(template) if not isinstance(template, Graph) else \
        str(tmpl.path or "template")
    client = None
    if scheduler is not None:                # reach the cluster before writing anything
        from .cluster import connect

        client, own_client = connect(scheduler)
    try:
        manifest = Manifest(out, template_name, hashlib.sha256(json.dumps(
            template_doc, sort_keys=True, default=str).encode()).hexdigest())
        try:
            entries, skipped, where, count = _run(jobs, template_doc, manifest, workers,
                                                  client, force, progress)
        finally:
            manifest.close()
            _sweep(jobs)
    finally:
        if client is not None and own_client:
            client.close()
    return BatchReport([entries[j.key] for j in jobs], skipped, out, manifest.path,
                       time.perf_counter() - started, count, where, manifest.notices)


def _sweep(jobs: list[Job]) -> None:
    """The hidden files a worker killed while it wrote left beside a job's project
    or its outputs (a stop: SIGTERM, Ctrl+C), gone; those of processes alive are
    left alone."""
    for job in jobs:
        project = Path(job.project_dir) / PROJECT
        remove_stale_beside(project)
        try:
            graph = load(project)
        except (MixgraphError, OSError):           # not written yet, or half: no outputs
            continue
        remove_leftovers(graph)


def _run(jobs: list[Job], template_doc: dict, manifest: Manifest, workers: int | None,
         client, force: bool, progress: Callable | None):
    """Skip what is unchanged, run the rest; returns (entries, skipped, where, workers)."""
    todo, skipped = [], []
    for job in jobs:
        if not force and unchanged(job, template_doc, manifest.entry(job.key)):
            skipped.append(job.key)
        else:
            todo.append(job)
    manifest.save()                          # times of files hashed unchanged
    entries: dict[str, dict] = {k: manifest.entry(k) for k in skipped}

    def finished(job: Job, entry: dict) -> None:
        entries[job.key] = entry
        manifest.record(job.key, entry)
        if progress is not None:
            progress(len(entries), len(jobs), {})

    count = _count(workers, len(todo))
    if progress is not None:
        progress(len(entries), len(jobs), {})
    if client is not None:
        from .cluster import run_on_dask

        where, count = run_on_dask(client, todo, template_doc, finished)
    else:
        from .cluster import run_locally

        running = None if progress is None else \
            (lambda fractions: progress(len(entries), len(jobs), fractions))
        run_locally(todo, template_doc, count, finished, running)
        where = "local"
    return entries, skipped, where, count


def _count(workers: int | None, jobs: int) -> int:
    from mixgraph.core.renderer import check_workers

    return max(1, min(check_workers(workers), jobs))


def _jobs(song_dirs, out: Path, variants: dict | None, overrides: dict,
          block_size: int) -> list[Job]:
    if isinstance(song_dirs, (str, os.PathLike)):
        song_dirs = [song_dirs]
    if not song_dirs:
        raise ParameterError("batch needs at least one song folder")
    seen: dict[str, Path] = {}
    jobs = []
    for d in song_dirs:
        given = Path(d).expanduser().absolute()
        folder = given.resolve()                         # where it is, through symlinks
        if not folder.is_dir():
            raise ProjectFileError(f"song folder not found: {d}", path=str(d))
        name = given.name
        if seen.get(name) == folder:                     # the same folder given twice
            continue
        if name in seen:
            raise ParameterError(f"two song folders are named {name!r} ({seen[name]} and "
                                 f"{folder}); their outputs would collide in {out}")
        if out == folder or folder in out.parents:
            raise ParameterError(f"the output folder {out} is inside the song folder "
                                 f"{folder}; choose one outside it")
        if out / name in (folder, given):
            raise ParameterError(f"the song folder {folder} is in the output folder {out}, "
                                 f"where its renders would go ({out / name}); choose "
                                 "another output folder")
        seen[name] = folder
        batch_wide = [("--set", overrides)] if overrides else []
        if not variants:
            jobs.append(Job(name, str(folder), None, str(out / name), batch_wide, block_size))
            continue
        for variant, changes in variants.items():
            jobs.append(Job(name, str(folder), variant, str(out / name / variant),
                            batch_wide + [(f"variant '{variant}'", changes)], block_size))
    return jobs
