"""Compiling the kernels a render will run before it starts, on every core.

numba compiles a kernel the first time it is called and keeps it in its cache: a
machine compiles each kernel once (seconds for the larger ones), then loads it in
milliseconds.  A first render would meet its kernels one after another and compile
each on one core while the render waits.  :func:`compile_kernels` compiles the ones
not in the cache yet side by side instead: in this process and in processes forked
from it (one per further core), each taking the next kernel from a shared count,
the largest first, all writing into the same cache, from which the render then
loads them.  Where the platform cannot fork, or another thread is running (forking
then is unsafe, as for the render's workers: :mod:`mixgraph.core.runners`), they
compile one after another in this process.

Node types name the kernels they run in a ``kernels`` class attribute
(``"module.name"`` under this package), so a graph's kernels are known before it
renders (:func:`graph_kernels`); a kernel no node names still compiles when first
called.  Where numba's cache cannot be read, nothing is compiled ahead of time.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import pkgutil
import threading
from typing import Iterable, Iterator

from .jit import Kernel


def find(name: str) -> Kernel:
    """The kernel named ``"module.name"`` (``"dynamics.compress_levels"``)."""
    module, _, attr = name.rpartition(".")
    found = getattr(importlib.import_module(f"{__package__}.{module}"), attr, None)
    if not isinstance(found, Kernel):
        raise LookupError(f"no kernel {name!r} in {__package__}")
    return found


def every_kernel() -> list[str]:
    """The names of all kernels of this package."""
    names = []
    for info in pkgutil.iter_modules(importlib.import_module(__package__).__path__):
        module = importlib.import_module(f"{__package__}.{info.name}")
        names += [f"{info.name}.{attr}" for attr, value in vars(module).items()
                  if isinstance(value, Kernel) and value.py_func.__module__ == module.__name__]
    return sorted(names)


def graph_kernels(graph) -> list[str]:
    """The kernels the node types of ``graph`` (a :class:`mixgraph.Graph`) name."""
    return sorted({name for spec in graph if (cls := spec.node_class()) is not None
                   for name in getattr(cls, "kernels", ())})


def missing(names: Iterable[str]) -> list[str]:
    """Those of ``names`` whose signatures numba's cache lacks for this machine (none
    where the cache cannot be read)."""
    return [name for name in names if find(name).cached() is False]


def compile_kernels(names: Iterable[str], processes: int | None = None) -> list[str]:
    """Compile into numba's cache those of ``names`` it lacks, ``processes`` at a time
    (default: one per core this process may use); returns the names it found lacking.

    This process takes part and keeps what it compiled; a forked helper that fails
    leaves its kernel to be compiled when it is first called.
    """
    todo = sorted(missing(names), key=_size, reverse=True)
    if processes is None:
        processes = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    workers = min(processes, len(todo))
    if workers <= 1 or not hasattr(os, "fork") or threading.active_count() > 1:
        for name in todo:
            find(name).compile_declared()
        return todo
    _set_up_numba(todo[0])                  # once, here: the helpers fork with it done
    ctx = multiprocessing.get_context("fork")
    taken = ctx.Value("i", 0)
    helpers = [ctx.Process(target=_helper, args=(todo, taken), daemon=True)
               for _ in range(workers - 1)]
    for p in helpers:
        p.start()
    try:
        for name in _taking(todo, taken):
            find(name).compile_declared()
    except BaseException:
        for p in helpers:
            p.terminate()
        raise
    finally:
        for p in helpers:
            p.join()
    return todo


def _helper(names: list[str], taken) -> None:
    """A forked helper.  The user stops the main process, which ends the helpers; a
    kernel that fails to compile here is left to the render (which will say why)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    for name in _taking(names, taken):
        try:
            find(name).compile_declared()
        except Exception:                              # noqa: BLE001
            pass


def _taking(names: list[str], taken) -> Iterator[str]:
    """The names no process has taken yet (``taken`` counts them), one at a time."""
    while True:
        with taken.get_lock():
            i = taken.value
            taken.value = i + 1
        if i >= len(names):
            return
        yield names[i]


def _set_up_numba(name: str) -> None:
    """Load numba's typing and lowering registries (a third of a second, which the
    first compilation in a process would spend), so that forked helpers need not."""
    k = find(name)
    try:
        k.typingctx.refresh()
        k.targetctx.refresh()
    except Exception:                                  # noqa: BLE001 - only a saving
        pass


def _size(name: str) -> int:
    """How much there is to compile, roughly: the kernel's bytecode length."""
    return len(find(name).py_func.__code__.co_code)
