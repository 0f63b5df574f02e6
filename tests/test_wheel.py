"""The package as a user installs it: a wheel built from the repository, installed
(not editable) into a fresh virtual environment, brings exactly one top-level import
package, ``mixgraph``, with every subpackage and the shipped templates inside, and
its demo renders from there.  An editable install hides a package list that forgets
a subpackage; this does not.

The fresh environment gets the wheel alone (``--no-deps``); its dependencies are
lent by this environment through a path file, which adds their folder to
``sys.path`` without running this environment's own path files (so the editable
install of the repository stays out of it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=600, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the fresh environment's python, its site-packages, what the install added)."""
    folder = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                folder / "dist", REPO)
    assert built.returncode == 0, built.stderr
    wheel = next((folder / "dist").glob("mixgraph-*.whl"))
    env_dir = folder / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .stdout.strip())
    before = set(os.listdir(site))
    done = run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel)
    assert done.returncode == 0, done.stderr
    added = set(os.listdir(site)) - before
    (site / "lent-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python, site, added


def test_the_wheel_installs_one_top_level_package(installed):
    _, site, added = installed
    assert {a for a in added if not a.endswith(".dist-info")} == {"mixgraph"}
    info = next(a for a in added if a.endswith(".dist-info"))
    assert (site / info / "top_level.txt").read_text().split() == ["mixgraph"]
    for sub in ("core", "workflows", "cli", "nodes", "nodes/kernels", "editor"):
        assert (site / "mixgraph" / sub / "__init__.py").is_file(), sub
    shipped = {p.name for p in (site / "mixgraph" / "projects" / "templates").iterdir()}
    assert {"band.json", "mastering.json", "podcast.json", "stem_master.json"} <= shipped


def test_the_installed_package_runs_from_its_own_copy(installed, tmp_path):
    python, site, _ = installed
    code = ("import json, mixgraph, mixgraph.nodes, mixgraph.editor.layout\n"
            "from mixgraph import Graph, load, save, render, preview, batch, validate, Report\n"
            "from mixgraph.workflows.templates import list_templates\n"
            "print(json.dumps({'file': mixgraph.__file__, 'nodes': mixgraph.nodes.__file__,"
            " 'templates': sorted(t.name for t in list_templates())}))")
    out = run(python, "-c", code, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert Path(found["file"]).is_relative_to(site)
    assert Path(found["nodes"]).is_relative_to(site)
    assert {"band", "mastering", "podcast", "stem_master"} <= set(found["templates"])


def test_the_installed_console_script_renders_the_demo(installed, tmp_path):
    python, _, _ = installed
    script = python.parent / "mixgraph"
    out = run(script, "demo", tmp_path / "demo", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert {Path(o["path"]).name for o in report["outputs"]} == {"mix.wav", "drums.wav",
                                                                  "master.wav"}
    for o in report["outputs"]:
        assert Path(o["path"]).stat().st_size > 100_000
