"""One job of a batch (a song folder and a variant through a template), as plain data
that runs the same in any process: in a local pool, on a Dask worker or inline.  See
:mod:`.batch`."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from mixgraph.core.model import Graph
from mixgraph.errors import MixgraphError, ProjectFileError
from mixgraph.nodes.tempfiles import remove_stale_beside

from .overrides import apply_overrides, combine_sets

PROJECT = "project.mgraph"
ATTEMPTS = 2                       # a job whose worker dies twice is reported as failed


@dataclass
class Job:
    song: str
    song_dir: str
    variant: str | None
    project_dir: str
    overrides: list[tuple[str, dict]]          # (where, overrides), applied in order
    block_size: int = 1024

    @property
    def key(self) -> str:
        return job_key(self.song, self.variant)

    def entry(self, **more) -> dict:
        """The start of this job's manifest entry: what it is, then ``more``."""
        return {"song": self.song, "variant": self.variant, "song_dir": self.song_dir,
                **more}


def job_key(song: str, variant: str | None) -> str:
    """A job's name: the song, or song/variant."""
    return song if variant is None else f"{song}/{variant}"


def prepare(job: Job, template_doc: dict) -> tuple[Graph, Any, list[str]]:
    """The job's project: the template bound to its stems, with its overrides (the
    same wherever it is made, so that its hash is too)."""
    from .binding import bind

    template = Graph.from_document(template_doc, base_dir=job.project_dir)
    graph, binding = bind(template, job.song_dir, job.project_dir)
    if not any(s.type == "stem" for s in graph):
        raise ProjectFileError(f"no file in {job.song_dir} fits the template")
    notices = []
    names = set(template.nodes)
    for where, overrides in job.overrides:
        notices += apply_overrides(graph, names, overrides, where)
    return graph, binding, notices


def project_hash(graph: Graph) -> str:
    """SHA-256 of the bound project (as it will be saved) and the mixgraph version."""
    from mixgraph import __version__

    doc = graph.to_document()
    doc.pop("ui", None)
    text = json.dumps({"mixgraph": __version__, "project": doc}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stat(path: Path) -> dict:
    """A file's size and modification time, as the manifest records them."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


_input_hashes: dict[tuple[str, int, int], str] = {}   # (path, size, mtime_ns): sha256


def _input_record(path: Path) -> dict:
    """A job input's size, time and sha256; the hash is kept for the process, so the
    variants of one song rendered by one worker read its stems once."""
    st = stat(path)
    key = (str(path), st["size"], st["mtime_ns"])
    if key not in _input_hashes:
        _input_hashes[key] = sha256_file(path)
    return dict(st, sha256=_input_hashes[key])


def inputs_of(graph: Graph) -> list[Path]:
    """The files a project reads (its stems), resolved."""
    found = []
    for spec in graph:
        for name in spec.with_role("reads"):
            value = spec.params.get(name)
            if isinstance(value, str) and value:
                found.append(Path(os.path.normpath(graph.resolve_path(value))))
    return sorted(set(found))


def _undo_malloc_trimming() -> None:
    """Give glibc's allocator back its usual thresholds in a Dask worker.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also freezes
    the mmap threshold at 128 KiB: every block buffer is then mapped and unmapped on
    each use, and a render runs about 1.6x slower (measured on the band template).
    A render's memory is bounded by its buffer plan, so keeping freed pages is safe.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)      # M_MMAP_THRESHOLD
        libc.mallopt(-1, 128 * 1024 * 1024)     # M_TRIM_THRESHOLD
    except (OSError, AttributeError):           # not glibc: nothing to undo
        pass


_MALLOC_TUNED = False


def run_job(job: Job, template_doc: dict, progress: Callable | None = None) -> dict:
    """Render one job (in whatever process runs it); returns its manifest entry.

    Never raises for the job's own problems: they are the entry's ``error``.
    """
    from mixgraph import __version__
    from mixgraph.core.renderer import render

    _undo_malloc_trimming()
    started = time.perf_counter()
    entry: dict[str, Any] = job.entry(mixgraph=__version__, overrides=combine_sets(
        (k, v) for _, o in job.overrides for k, v in o.items()))
    try:
        graph, binding, notices = prepare(job, template_doc)
        entry["binding"] = binding.to_dict()
        entry["project_hash"] = project_hash(graph)
        entry["inputs"] = {str(p): _input_record(p) for p in inputs_of(graph)}
        folder = Path(job.project_dir)
        folder.mkdir(parents=True, exist_ok=True)
        from mixgraph.core.fileformat import save

        save(graph, folder / PROJECT)
        report = render(graph, block_size=job.block_size, workers=1, progress=progress)
        outputs = []
        for o in report.outputs:
            path = Path(o["path"])
            outputs.append(dict(
                {k: o.get(k) for k in ("node", "path", "duration_s", "integrated_lufs",
                                       "true_peak_dbtp", "lra_lu", "sample_peak_dbfs")},
                **stat(path), sha256=sha256_file(path)))
        entry.update(status="done", project=str(folder / PROJECT), outputs=outputs,
                     notices=notices + list(report.notices), warnings=list(report.warnings),
                     error=None)
    except MixgraphError as exc:
        entry.update(status="failed", error=exc.message)
    except Exception as exc:  # a job's failure must not take the batch down
        entry.update(status="failed", error=f"{type(exc).__name__}: {exc}")
    entry["render_s"] = round(time.perf_counter() - started, 3)
    entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return entry


def remove_leftovers(graph: Graph) -> None:
    """Hidden files that a killed render of this job left beside its outputs."""
    for spec in graph:
        for name in spec.with_role("writes"):
            if spec.params.get(name):
                remove_stale_beside(graph.resolve_path(spec.params[name]))
