"""The build backend: setuptools', and for an editable install (``pip install -e .``, the
README's) the compiled kernels, built into numba's cache beside their sources.

numba compiles a kernel the first time it runs and caches it per machine; without
this, a new machine's first render compiles the kernels it meets (ahead, on every
core: :mod:`mixgraph.nodes.kernels.warmup`), seconds the user waits for.  An editable
install runs from the repository's own files, so the cache its build writes beside
them (``nodes/kernels/__pycache__``) is the one every later process reads: the build
compiles every kernel there, with the numba pip brings into the build's own
environment (:func:`get_requires_for_build_editable` asks for the package's
dependency), and the first render loads them.  ``pip install -v`` shows what it did.

Where that cannot help, nothing is lost.  numba keeps a cache for the numba version
and the processor that wrote it: where the installed environment keeps an older
numba than the newest one the dependency allows (pip leaves one that satisfies it),
or the repository is used from another machine, numba passes over it and the first
render compiles as before.  A build that cannot compile says why (under ``-v``) and
installs all the same.  A wheel (``pip install .``) compiles nothing: it would have
to carry the cache, code for the building machine's processor in a package that
says it runs anywhere; its first render compiles ahead, on every core.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F401,F403 - every other hook as setuptools'

NUMBA = "numba>=0.58"                 # as in pyproject.toml's dependencies (a test checks)
ROOT = Path(__file__).resolve().parent.parent

# Runs in a process of its own (numba's compile forks helpers: no other thread may run),
# importing the kernels without the rest of the package, whose dependencies the build's
# environment lacks: the two parent packages are empty modules over their folders.
_COMPILE = """
import sys, types
from pathlib import Path
root = Path(sys.argv[1])
for name, folder in (("mixgraph", root / "graph"), ("mixgraph.nodes", root / "nodes")):
    module = types.ModuleType(name)
    module.__path__ = [str(folder)]
    sys.modules[name] = module
from mixgraph.nodes.kernels.warmup import compile_kernels, every_kernel, missing
names = sys.argv[2:] or every_kernel()
lacking = compile_kernels(names)
print(len(names), len(lacking), len(missing(lacking)))
"""
TIMEOUT_S = 900                       # a compile that hangs must not hang the install


def get_requires_for_build_editable(config_settings=None):
    return build_meta.get_requires_for_build_editable(config_settings) + [NUMBA]


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name = build_meta.build_editable(wheel_directory, config_settings, metadata_directory)
    print(compile_kernels(ROOT), file=sys.stderr)
    return name


def compile_kernels(root: Path, names: tuple[str, ...] = ()) -> str:
    """Compile the kernels of the repository at ``root`` (all, or ``names``) into
    numba's cache; returns a line saying what was done, or why nothing was."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", _COMPILE, str(root), *names],
                              capture_output=True, text=True, timeout=TIMEOUT_S)
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        if done.returncode:
            raise RuntimeError(said)
        total, lacking, left = (int(v) for v in done.stdout.split()[-3:])
    except Exception as exc:                  # noqa: BLE001 - the install goes on
        why = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else exc
        return f"mixgraph: kernels not compiled at install ({why}); the first render will"
    line = (f"mixgraph: {lacking - left} kernels compiled into numba's cache in "
            f"{time.perf_counter() - started:.1f} s ({total - lacking} of {total} were "
            "there already)")
    if left:
        line += f"; {left} could not be, and the first render will compile them"
    return line
