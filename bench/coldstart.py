"""Cold start (issue #23): the first ``mixgraph demo`` on a machine against the second.

    python bench/coldstart.py [--repeats 3] [--one-core] [--fresh-install]

Each repeat runs ``mixgraph demo`` twice in fresh processes with the same new, empty
kernel cache (``NUMBA_CACHE_DIR`` set to a new temporary folder: the machine's own
cache is neither read nor touched): the first compiles every kernel the demo runs,
the second loads them.  This is the first run of an install that compiled nothing (a
wheel's).  With ``--fresh-install`` each repeat is the README's instead: a copy of
the repository's files, a new virtual environment, ``pip install -e`` of the copy
(its time printed apart: the build compiles the kernels into the copy), then the two
runs with numba's default cache.  Prints both wall times, their ratio (the issue's target:
2.5 or less) and the CPU time of each run with its children, then the time a third
process takes to load the demo's kernels from the warm cache (import, then every
kernel the demo's node types name, ready to call), and whether the two runs wrote
the same files bit for bit.  ``--one-core`` pins the runs to one core, as on a
single-core machine (the kernels then compile one after another).

Times depend on what else the machine is doing: the core count and the load average
are printed with them; quote ranges over several repeats.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

LOAD = """
import time
t = time.perf_counter()
from pathlib import Path
from mixgraph import load
from mixgraph.nodes.kernels.warmup import find, graph_kernels
for name in graph_kernels(load(Path({demo!r}) / "demo.mgraph")):
    find(name).compile_declared()
print(time.perf_counter() - t)
"""


def run(args: list[str], env: dict, one_core: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children) of one command."""
    def pin():
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True,
                          preexec_fn=pin if one_core else None)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def fresh_install(tmp: Path, r: int) -> tuple[str, float]:
    """A copy of the repository's files in ``tmp`` with a new virtual environment into
    which it is installed as the README says; (that environment's python, seconds the
    install took)."""
    repo = Path(__file__).resolve().parent.parent
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    copy = tmp / f"repo{r}"
    for name in files:
        if name and (repo / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / name, copy / name)
    venv.create(copy / ".venv", with_pip=True)
    python = str(copy / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "python")
    t = time.perf_counter()
    done = subprocess.run([python, "-m", "pip", "install", "-q", "-e", str(copy)],
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"pip install -e {copy} failed:\n{done.stderr[-3000:]}")
    return python, time.perf_counter() - t


def rendered(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((folder / "out").glob("*.wav"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--one-core", action="store_true", help="pin the runs to one core")
    ap.add_argument("--fresh-install", action="store_true",
                    help="each repeat in a new virtual environment after pip install -e")
    a = ap.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pinned = ", runs pinned to one" if a.one_core else ""
    print(f"{os.cpu_count()} cores ({cores} usable{pinned}), "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print(f"{'':8} {'first s':>8} {'second s':>9} {'ratio':>6} {'CPU 1st':>8} {'CPU 2nd':>8} "
          f"{'load s':>7}  same files")
    cold, warm, ratios, loads = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="mixgraph-coldstart-") as tmp:
        for r in range(a.repeats):
            if a.fresh_install:
                python, took = fresh_install(Path(tmp), r)
                env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
                print(f"install {r + 1:<2} {took:8.2f} s (pip install -e, kernels compiled)")
            else:
                python = sys.executable
                env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / f"cache{r}"))
            demo = [python, "-m", "mixgraph", "demo"]
            first, second = Path(tmp) / f"first{r}", Path(tmp) / f"second{r}"
            c_wall, c_cpu = run(demo + [str(first)], env, a.one_core)
            w_wall, w_cpu = run(demo + [str(second)], env, a.one_core)
            t = subprocess.run([python, "-c", LOAD.format(demo=str(second))], env=env,
                               capture_output=True, text=True, check=True)
            load = float(t.stdout.split()[-1])
            same = rendered(first) == rendered(second) and rendered(first)
            cold.append(c_wall)
            warm.append(w_wall)
            ratios.append(c_wall / w_wall)
            loads.append(load)
            print(f"run {r + 1:<4} {c_wall:8.2f} {w_wall:9.2f} {c_wall / w_wall:6.2f} "
                  f"{c_cpu:8.2f} {w_cpu:8.2f} {load:7.2f}  {'yes' if same else 'NO'}")
    if a.repeats > 1:
        def span(v):
            return f"{min(v):.2f}-{max(v):.2f} (median {statistics.median(v):.2f})"
        print(f"first run {span(cold)} s; second {span(warm)} s; ratio {span(ratios)}; "
              f"kernels loaded by a further process in {span(loads)} s")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
