"""Where batch jobs run: in this process, in a local pool of worker processes, or on a
Dask distributed cluster.  Every way calls :func:`.jobs.run_job` on the same
plain-data job and hands its manifest entry to ``finished`` in this process.

The local pool's workers are started by a fork server (never forked from a process
with threads running) and report each job's progress through shared memory.  When a
worker dies (killed, out of memory), the pool is replaced and the jobs it was running
are tried again; a job whose own worker dies twice is reported as failed.  Ctrl-C or
SIGTERM stops the workers at once (each abandons its render and its partial files)
and keeps what had finished.  On Dask the
scheduler does the same: a task whose worker is lost is run again elsewhere.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Callable

from mixgraph.nodes.tempfiles import process_alive

from .jobs import ATTEMPTS, Job, prepare, remove_leftovers, run_job

_slots = None                       # a worker's view of the shared progress array
_pids = None                        # and of the worker pid per job


def run_locally(todo: list[Job], template_doc: dict, workers: int,
                finished: Callable[[Job, dict], None], running: Callable | None) -> None:
    """Run ``todo`` in this process (one worker) or in a pool of ``workers``;
    ``running({job key: fraction done})`` hears how far the jobs under way have got."""
    if not todo:
        return
    if workers <= 1:
        for job in todo:
            tick = None if running is None else \
                (lambda done, of, key=job.key: running({key: done / of if of else 1.0}))
            finished(job, run_job(job, template_doc, tick))
        return
    _pool(todo, template_doc, workers, finished, running)


def _pool(todo, template_doc, workers, finished, running_cb) -> None:
    """Run ``todo`` on a pool of worker processes; a pool that breaks (a worker killed)
    is replaced and the jobs it lost run again.  Only the job whose own worker died
    counts an attempt (the others were stopped by the pool and are blameless)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context(_start_method())
    slots = ctx.Array("d", len(todo), lock=False)   # -1 queued, else the fraction done
    pids = ctx.Array("q", len(todo), lock=False)    # the worker running each job
    attempts = {i: 0 for i in range(len(todo))}
    waiting = list(range(len(todo)))
    while waiting:
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init,
                                   initargs=(slots, pids, os.getpid()))
        running = {}
        try:
            for i in waiting:
                slots[i] = -1.0
                pids[i] = 0
                running[pool.submit(_pool_job, todo[i], template_doc, i)] = i
            waiting = []
            procs: dict = {}
            while running:
                procs.update(getattr(pool, "_processes", None) or {})
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
                if running_cb is not None:
                    running_cb({todo[i].key: slots[i] for i in running.values()
                                if slots[i] > 0})
        except BaseException:                # Ctrl-C, SIGTERM: keep what finished, stop
            for future, i in running.items():
                if future.done() and not future.cancelled() and future.exception() is None:
                    finished(todo[i], future.result())
            _stop(pool)
            for future, i in running.items():  # a worker stopped at a bad moment (or
                if not future.done():          # killed) may have left a partial file
                    _tidy(todo[i], template_doc)
            raise
        pool.shutdown(wait=True, cancel_futures=True)
        for i in _culprits(waiting, slots, pids, procs):
            attempts[i] += 1
        again = []
        for i in sorted(waiting):
            if attempts[i] >= ATTEMPTS:
                _tidy(todo[i], template_doc)
                finished(todo[i], _lost(todo[i], "the worker process rendering it stopped "
                                                  f"{ATTEMPTS} times (killed, or out of memory)"))
            else:
                again.append(i)
        waiting = again


SOCKET_PATH_MAX = 100         # AF_UNIX paths: 108 bytes on Linux, 104 on macOS


def _start_method() -> str:
    """The fork server where there is one and its socket's path fits (it goes in
    TMPDIR, and a long TMPDIR makes it "AF_UNIX path too long"); else spawn."""
    import tempfile

    room = len(tempfile.gettempdir()) + len("/pymp-xxxxxxxx/listener-xxxxxxxx")
    if "forkserver" in multiprocessing.get_all_start_methods() and room <= SOCKET_PATH_MAX:
        return "forkserver"
    return "spawn"


def _culprits(lost: list[int], slots, pids, procs: dict) -> list[int]:
    """The lost jobs to blame for a broken pool: those whose worker died other than by
    the pool's own SIGTERM; if that cannot be told, every lost job that had started."""
    started = [i for i in lost if slots[i] >= 0.0]
    died = {pid for pid, p in procs.items()
            if p.exitcode not in (None, 0, -signal.SIGTERM, 128 + signal.SIGTERM)}
    blamed = [i for i in started if pids[i] in died]
    return blamed or started


def _stop(pool) -> None:
    """Stop a pool now: drop queued jobs and end the workers (each one abandons its
    render, removing its partial files) instead of letting them finish."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(5.0)
        if p.is_alive():
            p.kill()


def _init(slots, pids, batch_pid: int) -> None:
    global _slots, _pids
    _slots, _pids = slots, pids
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # the batch's process stops them
    signal.signal(signal.SIGTERM, _on_term)
    import threading

    threading.Thread(target=_watch_batch, args=(batch_pid,), daemon=True,
                     name="mixgraph-batch-watch").start()


ORPHAN_CHECK_S = 0.25


def _watch_batch(batch_pid: int) -> None:
    """A worker whose batch was killed (SIGKILL runs no clean-up, and the pool's
    workers are the fork server's children, not the batch's) stops itself as SIGTERM
    would stop it: the job under way is abandoned, its partial files removed, and
    nothing more is rendered behind the manifest's back."""
    while process_alive(batch_pid):
        time.sleep(ORPHAN_CHECK_S)
    os.kill(os.getpid(), signal.SIGTERM)


class _Stopped(BaseException):
    """Raised in a worker's render by SIGTERM, so its outputs are abandoned cleanly."""


_in_job = False


def _on_term(signum, frame) -> None:
    if _in_job:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)   # one stop; its clean-up runs whole
        raise _Stopped()
    os._exit(128 + signum)


def _pool_job(job: Job, template_doc: dict, slot: int) -> dict:
    global _in_job

    def tick(done, of):
        _slots[slot] = done / of if of else 1.0

    _pids[slot] = os.getpid()
    _slots[slot] = 0.0
    _in_job = True
    try:
        return run_job(job, template_doc, tick)
    except _Stopped:
        os._exit(128 + signal.SIGTERM)
    finally:
        _in_job = False


def _tidy(job: Job, template_doc: dict) -> None:
    """Remove what the killed workers of a job left beside its outputs."""
    try:
        graph, _, _ = prepare(job, template_doc)
    except Exception:                  # the job cannot even be bound: nothing was written
        return
    remove_leftovers(graph)


def _lost(job: Job, why: str) -> dict:
    return job.entry(status="failed", error=why, render_s=0.0,
                     finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


CONNECT_S = 10.0                    # to reach a scheduler
WORKERS_S = 60.0                    # for a scheduler's first worker to join


def connect(scheduler):
    """A Dask client for ``scheduler`` (an address such as ``tcp://host:8786``, or a
    ``dask.distributed.Client``), with at least one worker.  Returns (client, own):
    ``own`` when it was made here (and is to be closed here)."""
    from mixgraph.errors import MixgraphError

    try:
        from dask.distributed import Client
    except ImportError:
        raise MixgraphError("--scheduler needs Dask: pip install 'dask[distributed]' (or "
                            "pip install -e .[cluster])") from None
    if isinstance(scheduler, Client):
        return scheduler, False
    address = str(scheduler)
    host, _, port = address.rpartition("://")[2].rpartition(":")
    if not host or not port.isdigit():
        raise MixgraphError(f"bad scheduler address {address!r}: write tcp://HOST:PORT "
                            "(dask scheduler prints it)")
    try:
        client = Client(address, timeout=CONNECT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise MixgraphError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_S)
    except (OSError, TimeoutError) as exc:
        client.close()
        raise MixgraphError(f"the Dask scheduler at {address} has no workers (waited "
                            f"{WORKERS_S:.0f} s); start some with: dask worker {address} "
                            f"--nthreads 1 ({type(exc).__name__})") from None
    return client, True


def run_on_dask(client, todo: list[Job], template_doc: dict,
                finished: Callable[[Job, dict], None]) -> tuple[str, int]:
    """Run ``todo`` on the Dask cluster of ``client``.  Returns (address, workers)."""
    from dask.distributed import as_completed

    address = client.scheduler.address
    count = len(client.scheduler_info().get("workers", {}))
    futures = {client.submit(run_job, job, template_doc, pure=False,
                             key=f"mixgraph-{job.key}-{time.time_ns()}"): job
               for job in todo}
    try:
        for future in as_completed(futures):
            job = futures[future]
            try:
                entry = future.result()
            except Exception as exc:          # e.g. KilledWorker: its workers kept dying
                entry = _lost(job, f"{type(exc).__name__} on the cluster: {exc}")
            finished(job, entry)
    except BaseException:                     # interrupted: leave nothing running
        client.cancel(list(futures))
        raise
    return address, count
