"""Cold start (issue #23): each kernel compiles for its declared signature alone, and a
render's kernels compile ahead of it, side by side, into numba's cache, with the
render's output the same bit for bit.

Compilation is tested in fresh processes with a new, empty ``NUMBA_CACHE_DIR`` (the
machine's own cache is neither read nor touched).  The time it saves is a benchmark's
business (``bench/coldstart.py``), not a test's."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numba as nb
import numpy as np
import pytest

from mixgraph.nodes import node_types
from mixgraph.nodes.kernels.jit import JIT, Kernel, KernelCache
from mixgraph.nodes.kernels.warmup import every_kernel, find

# a small project whose kernels compile in a second or two: a tone through a delay and
# a noise-shaped dither to an output (which measures loudness and true peak)
PROJECT = """
from mixgraph import Graph
g = Graph(sample_rate=48000, base_dir=FOLDER)
g.add("tone", id="t", duration_s=0.5)
g.add("delay", id="d", time_ms=120.0, feedback=0.4)
g.add("dither", id="q", bit_depth=16, shape="noise_shaped")
g.add("output", id="o", path="o.wav")
g.connect("t", "d"); g.connect("d", "q"); g.connect("q", "o")
"""

RENDER = PROJECT + """
import json
from numba.core import event
from mixgraph import render
from mixgraph.nodes.kernels.jit import Kernel
compiled = []

class Compiles(event.Listener):
    def on_start(self, e):
        if isinstance(e.data["dispatcher"], Kernel):
            compiled.append(e.data["dispatcher"].py_func.__name__)

    def on_end(self, e):
        pass

event.register("numba:compile", Compiles())
render(g, workers=1)
print(json.dumps(compiled))
"""

WARM_UP = PROJECT + """
import json
from mixgraph.nodes.kernels.warmup import compile_kernels, graph_kernels, missing
names = graph_kernels(g)
before = missing(names)
done = compile_kernels(names, processes=2)
print(json.dumps({"names": names, "before": before, "done": done, "after": missing(names)}))
"""


def run(code: str, cache: Path, folder: Path) -> str:
    """The last line ``code`` prints, run in a new process on the kernel cache ``cache``
    with FOLDER in it standing for ``folder``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    done = subprocess.run([sys.executable, "-c", code.replace("FOLDER", repr(str(folder)))],
                          env=env, cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_warm_up_compiles_into_the_cache_given_and_the_render_after_it_is_bit_identical(
        tmp_path):
    ahead, lazily = tmp_path / "ahead", tmp_path / "lazily"
    for folder in (ahead, lazily):
        folder.mkdir()
    warmed = json.loads(run(WARM_UP, tmp_path / "cache1", ahead))
    assert set(warmed["names"]) == {"space.feedback_delay", "master.shaped_quantise",
                                    "filters.biquad_cascade", "filters.window_sums",
                                    "master.refined_peaks"}
    assert warmed["before"] == warmed["names"]           # an empty cache lacks them all
    assert sorted(warmed["done"]) == warmed["names"] and warmed["after"] == []
    # the cache written is the one given: an index per kernel compiled ...
    indexes = {p.name.split("-")[0] for p in (tmp_path / "cache1").rglob("*.nbi")}
    assert set(warmed["names"]) <= indexes
    # ... from which the render loads them: it compiles none of them
    assert json.loads(run(RENDER, tmp_path / "cache1", ahead)) == []
    # and writes what a render that compiles each kernel when first called writes
    compiled = json.loads(run(RENDER, tmp_path / "cache2", lazily))
    assert set(compiled) == {n.split(".")[1] for n in warmed["names"]}

    def digest(folder: Path) -> str:
        return hashlib.sha256((folder / "o.wav").read_bytes()).hexdigest()

    assert digest(ahead) == digest(lazily)


def test_with_another_thread_running_the_kernels_compile_in_this_process(tmp_path):
    """Forking with another thread running is unsafe (a lock it holds stays held in
    the child): then nothing is forked and the kernels compile one after another."""
    code = """
import json, os, threading
from mixgraph.nodes.kernels.warmup import compile_kernels, missing

def no_fork():
    raise AssertionError("forked with a thread running")

os.fork = no_fork
stop = threading.Event()
waiting = threading.Thread(target=stop.wait)
waiting.start()
names = ["filters.window_sums", "master.limiter_gain"]
try:
    print(json.dumps([compile_kernels(names, processes=2), missing(names)]))
finally:
    stop.set()
"""
    done, left = json.loads(run(code, tmp_path / "cache", tmp_path))
    assert sorted(done) == ["filters.window_sums", "master.limiter_gain"] and left == []


def test_a_kernel_keeps_its_one_signature_whatever_layout_it_is_given():
    """A bare numba.njit compiles a specialisation per layout of the arrays it meets
    (each seconds on a new machine); a kernel takes them all in its declared one."""
    from mixgraph.nodes.kernels.filters import biquad_cascade

    sos = np.array([[0.5, 0.2, 0.1, 0.3, -0.2]])
    x = np.random.default_rng(3).standard_normal((4, 300))
    expected = []
    for given in (x[:2].copy(), x[::2], np.asfortranarray(x[:2]), x[1:3, 7:200]):
        out = np.empty_like(given)
        biquad_cascade(given, out, sos, np.zeros((2, 1, 2)))
        again = np.empty((2, given.shape[1]))
        biquad_cascade(np.ascontiguousarray(given), again, sos, np.zeros((2, 1, 2)))
        expected.append(np.array_equal(out, again))
    assert all(expected)
    assert biquad_cascade.signatures == list(biquad_cascade.declared)
    with pytest.raises(TypeError, match="No matching definition"):
        biquad_cascade(x.astype(np.float32), x, sos, np.zeros((4, 1, 2)))


def test_every_kernel_is_declared_and_compiled_with_the_shared_options():
    names = every_kernel()
    assert {"dynamics.compress_levels", "filters.biquad_cascade", "space.fdn_reverb"} <= set(names)
    plain = nb.njit(**JIT)(_plain)
    for name in names:
        k = find(name)
        assert isinstance(k, Kernel) and k.declared, name
        assert k.targetoptions == plain.targetoptions, name
        assert type(k._cache) is KernelCache, name                          # cached
        assert isinstance(k._cache, type(plain._cache)), name


def _plain(x):
    return x


LOAD_ALL = """
import json, sys
import numpy as np
from mixgraph.nodes.kernels.warmup import every_kernel, find
names = every_kernel()
cached = [n for n in names if find(n).cached()]
for n in names:
    find(n).compile_declared()
out = np.empty((1, 6))
find("filters.biquad_cascade")(np.eye(1, 6), out, np.array([[0.5, 0.2, 0.1, 0.3, -0.2]]),
                                np.zeros((1, 1, 2)))
print(json.dumps({"names": names, "cached": cached, "out": out[0].tolist(),
                  "registries": "numba.np.arraymath" in sys.modules}))
"""


def test_numbas_load_is_still_the_set_up_then_the_load_a_kernel_cache_makes_alone():
    """KernelCache.load_overload is numba's without its first line: were numba's to do
    more, the kernels' would have to follow."""
    import inspect

    from numba.core.caching import Cache

    body = [line.strip() for line in inspect.getsource(Cache.load_overload).splitlines()
            if line.strip() and not line.strip().startswith(("#", '"""', "Load", "using"))]
    assert body[1:] == ["target_context.refresh()",
                        "with self._guard_against_spurious_io_errors():",
                        "return self._load_overload(sig, target_context)"], body


def test_a_new_process_loads_every_kernel_without_numbas_registries_and_runs_them():
    """Loading compiled code skips numba's setting up of its registries (0.3 s), but
    not its runtime: a kernel whose symbols were missing would abort the process at
    load.  On the machine's own cache (in CI, the one the install filled)."""
    from scipy.signal import lfilter

    subprocess.run([sys.executable, "-c", "from mixgraph.nodes.kernels.warmup import "
                    "compile_kernels, every_kernel; compile_kernels(every_kernel())"],
                   check=True, capture_output=True, timeout=600)
    done = subprocess.run([sys.executable, "-c", LOAD_ALL], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["cached"] == got["names"] and not got["registries"]
    expected = lfilter([0.5, 0.2, 0.1], [1.0, -0.3, 0.2], np.eye(1, 6)[0])
    np.testing.assert_allclose(got["out"], expected, rtol=1e-15, atol=1e-17)


def test_every_kernel_a_node_type_names_is_one():
    for type_name, cls in node_types().items():
        for name in getattr(cls, "kernels", ()):
            assert isinstance(find(name), Kernel), f"{type_name} names {name}"


# ----------------------------------------------------------------------------- install
# An editable install's build compiles the kernels into numba's cache beside their
# sources (installer/mixgraph_install.py).

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def backend():
    sys.path.insert(0, str(REPO / "installer"))
    try:
        import mixgraph_install
    finally:
        sys.path.remove(str(REPO / "installer"))
    return mixgraph_install


def test_the_build_brings_the_numba_the_package_depends_on(backend, monkeypatch):
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert backend.NUMBA in project["project"]["dependencies"]
    # setuptools' own answer needs the setuptools the build brings (this one may be older)
    monkeypatch.setattr(backend.build_meta, "get_requires_for_build_editable",
                        lambda config_settings=None: ["wheel"])
    assert backend.get_requires_for_build_editable() == ["wheel", backend.NUMBA]
    assert project["build-system"]["build-backend"] == backend.__name__
    assert project["build-system"]["backend-path"] == ["installer"]


def test_the_build_compiles_kernels_without_the_rest_of_the_package(backend, tmp_path,
                                                                     monkeypatch):
    """In a process of its own with the package's parents as empty modules (the build's
    environment has numba and nothing else the package needs): afterwards a process
    of the installed package finds them in the cache."""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    # the package's other dependencies (and scipy) cannot be imported there
    absent = tmp_path / "absent"
    absent.mkdir()
    for name in ("scipy", "soundfile", "networkx", "msgpack", "soxr", "dearpygui",
                 "mutagen"):
        (absent / f"{name}.py").write_text(f"raise ImportError('no {name} in the build')\n")
    monkeypatch.setenv("PYTHONPATH", str(absent))
    names = ("filters.window_sums", "dynamics.gate_gain")
    said = backend.compile_kernels(REPO, names)
    monkeypatch.delenv("PYTHONPATH")
    assert said.startswith("mixgraph: 2 kernels compiled into numba's cache in ") and \
        said.endswith(" s (0 of 2 were there already)"), said
    check = subprocess.run(
        [sys.executable, "-c", "import sys; from mixgraph.nodes.kernels.warmup import "
         "missing; print(missing(sys.argv[1:]))", *names],
        capture_output=True, text=True, env=dict(os.environ), check=True)
    assert check.stdout.strip() == "[]"
    again = backend.compile_kernels(REPO, names)
    assert again.startswith("mixgraph: 0 kernels compiled") and \
        again.endswith(" s (2 of 2 were there already)"), again


def test_a_build_that_cannot_compile_says_why_and_installs_all_the_same(backend, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))
    said = backend.compile_kernels(REPO, ("filters.no_such_kernel",))
    assert said == ("mixgraph: kernels not compiled at install (LookupError: no kernel "
                    "'filters.no_such_kernel' in mixgraph.nodes.kernels); the first "
                    "render will"), said


@pytest.mark.skipif(not os.environ.get("CI") or "NUMBA_CACHE_DIR" in os.environ,
                    reason="CI's clean clone, installed by .ci/run just before the tests")
def test_the_install_compiled_every_kernel_before_the_tests_ran():
    """.ci/run installs a clean clone with ``pip install -e`` as the README says: every
    kernel is in numba's cache beside its source, written before this session began
    (a kernel the tests had compiled would have been written after)."""
    from conftest import STARTED

    folder = REPO / "nodes" / "kernels" / "__pycache__"
    for name in every_kernel():
        assert find(name).cached() is True, name
        line = find(name).py_func.__code__.co_firstlineno
        (index,) = folder.glob(f"{name}-{line}.py{sys.version_info[0]}{sys.version_info[1]}.nbi")
        assert index.stat().st_mtime < STARTED, name
