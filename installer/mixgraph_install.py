"""The build backend: setuptools', and for an editable install (``pip install -e .``, the
README's) the compiled kernels, built into numba's cache beside their sources.

numba compiles a kernel the first time it runs and caches it per machine; without
this, a new machine's first render compiles the kernels it meets (ahead, on every
core: :mod:`mixgraph.nodes.kernels.warmup`), seconds the user waits for.  An editable
install runs from the repository's own files, so the cache its build writes beside
them (``nodes/kernels/__pycache__``) is the one every later process reads: the build
compiles every kernel there, with the numba the install is about to bring (pip builds
in an environment of its own: :func:`get_requires_for_build_editable` asks for the
same numba as the package's dependencies), and the first render loads them.

Where that cannot help, nothing is lost: a numba other than the one the install
brings, or another machine, makes numba ignore the cache and compile as before; a
build that cannot compile says why and installs all the same.  A wheel (``pip
install .``) installs copies of the sources, which numba's cache does not recognise
(it keys on a source file's time and size), so a wheel's build compiles nothing.
"""

from __future__ import annotations

import os
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
from mixgraph.nodes.kernels.warmup import compile_kernels, every_kernel
names = sys.argv[2:] or every_kernel()
print(len(compile_kernels(names)), len(names))
"""


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
                              capture_output=True, text=True, env=dict(os.environ))
    except OSError as exc:
        return f"mixgraph: kernels not compiled at install ({exc}); the first render will"
    if done.returncode:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"mixgraph: kernels not compiled at install ({said}); the first render will"
    compiled, total = (int(v) for v in done.stdout.split()[-2:])
    return (f"mixgraph: {compiled} kernels compiled into numba's cache in "
            f"{time.perf_counter() - started:.1f} s ({total - compiled} of {total} were "
            "there already)")
