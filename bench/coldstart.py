"""Cold start (issue #23): the first ``mixgraph demo`` on a machine against the second.

    python bench/coldstart.py [--repeats 3] [--one-core]

Each repeat runs ``mixgraph demo`` twice in fresh processes with the same new, empty
kernel cache (``NUMBA_CACHE_DIR`` set to a new temporary folder: the machine's own
cache is neither read nor touched): the first compiles every kernel the demo runs,
the second loads them.  Prints both wall times, their ratio (the issue's target:
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
import statistics
import subprocess
import sys
import tempfile
import time
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


def rendered(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((folder / "out").glob("*.wav"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--one-core", action="store_true", help="pin the runs to one core")
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
            env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / f"cache{r}"))
            demo = [sys.executable, "-m", "mixgraph", "demo"]
            first, second = Path(tmp) / f"first{r}", Path(tmp) / f"second{r}"
            c_wall, c_cpu = run(demo + [str(first)], env, a.one_core)
            w_wall, w_cpu = run(demo + [str(second)], env, a.one_core)
            t = subprocess.run([sys.executable, "-c", LOAD.format(demo=str(second))], env=env,
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
