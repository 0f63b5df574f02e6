"""Where batch jobs run: in this process, in a local pool of worker processes, or on a
Dask distributed cluster.  Every way calls :func:`graph.batch.run_job` on the same
plain-data job and hands its manifest entry to ``finished`` in this process.

The local pool's workers are started by a fork server (never forked from a process
with threads running) and report each job's progress through shared memory.  When a
worker dies (killed, out of memory), the pool is replaced and the jobs it was running
are tried again; a job whose worker dies twice is reported as failed.  On Dask the
scheduler does the same: a task whose worker is lost is run again elsewhere.
"""

from __future__ import annotations

import multiprocessing
import time
from typing import Callable

from .batching import ATTEMPTS, Job, run_job

_slots = None                       # a worker's view of the shared progress array


def run_locally(todo: list[Job], template_doc: dict, workers: int,
                finished: Callable[[Job, dict], None], progress: Callable | None,
                total: int, entries: dict) -> None:
    """Run ``todo`` in this process (one worker) or in a pool of ``workers``."""
    if not todo:
        return
    if workers <= 1:
        for job in todo:
            finished(job, run_job(job, template_doc, _ticker(job, progress, total, entries)))
        return
    _pool(todo, template_doc, workers, finished, progress, total, entries)


def _ticker(job: Job, progress: Callable | None, total: int, entries: dict):
    """A per-render progress callback reporting ``job``'s fraction, or None."""
    if progress is None:
        return None

    def tick(done, of):
        progress(len(entries), total, {job.key: done / of if of else 1.0})
    return tick


def _pool(todo, template_doc, workers, finished, progress, total, entries) -> None:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    slots = ctx.Array("d", len(todo), lock=False)
    attempts = {i: 0 for i in range(len(todo))}
    waiting = list(range(len(todo)))
    while waiting:
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                                   initargs=(slots,))
        running = {}
        try:
            for i in waiting:
                attempts[i] += 1
                slots[i] = 0.0
                running[pool.submit(_pool_job, todo[i], template_doc, i)] = i
            waiting = []
            while running:
                done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    i = running.pop(future)
                    try:
                        entry = future.result()
                    except BrokenProcessPool:
                        broken = True
                        waiting.append(i)
                        continue
                    finished(todo[i], entry)
                if broken:
                    waiting += list(running.values())
                    running = {}
                    break
                if progress is not None:
                    progress(len(entries), total,
                             {todo[i].key: slots[i] for i in running.values() if slots[i] > 0})
        finally:
            for future in running:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
        again = []
        for i in sorted(waiting):
            if attempts[i] >= ATTEMPTS:
                finished(todo[i], _lost(todo[i], "the worker process rendering it stopped "
                                                  f"{ATTEMPTS} times (killed, or out of memory)"))
            else:
                again.append(i)
        waiting = again


def _init(slots) -> None:
    global _slots
    _slots = slots


def _pool_job(job: Job, template_doc: dict, slot: int) -> dict:
    def tick(done, of):
        if _slots is not None:
            _slots[slot] = done / of if of else 1.0
    return run_job(job, template_doc, tick)


def _lost(job: Job, why: str) -> dict:
    return {"song": job.song, "variant": job.variant, "song_dir": job.song_dir,
            "status": "failed", "error": why, "render_s": 0.0,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def run_on_dask(scheduler, todo: list[Job], template_doc: dict,
                finished: Callable[[Job, dict], None]) -> tuple[str, int]:
    """Run ``todo`` on a Dask cluster: ``scheduler`` is its address (``tcp://host:8786``)
    or a ``dask.distributed.Client``.  Returns (address, workers)."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        from nodes.errors import MixgraphError

        raise MixgraphError("--scheduler needs Dask: pip install 'dask[distributed]' (or "
                            "pip install -e .[cluster])") from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout=30) if own else scheduler
    except (OSError, TimeoutError) as exc:
        from nodes.errors import MixgraphError

        raise MixgraphError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None
    try:
        address = client.scheduler.address
        count = len(client.scheduler_info().get("workers", {}))
        futures = {client.submit(run_job, job, template_doc, pure=False,
                                 key=f"mixgraph-{job.key}-{time.time_ns()}"): job
                   for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            try:
                entry = future.result()
            except Exception as exc:      # e.g. KilledWorker: its workers kept dying
                entry = _lost(job, f"{type(exc).__name__} on the cluster: {exc}")
            finished(job, entry)
        return address, count
    finally:
        if own:
            client.close()
