"""The editor in a real window under Xvfb: add a node, link it, undo, save, render; a
multiband compressor's "+ band" clicked with the mouse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixgraph import load

HERE = Path(__file__).resolve().parent
needs_screen = pytest.mark.skipif(
    not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None,
    reason="no display and no xvfb-run (.ci/run installs Xvfb)")


@pytest.fixture(scope="module")
def driven(tmp_path_factory):
    folder = tmp_path_factory.mktemp("window")
    from mixgraph.workflows.demo import write_demo

    graph = write_demo(folder / "demo")
    result = folder / "result.json"
    shot = folder / "editor.png"
    stems = folder / "song"
    stems.mkdir()
    t = np.arange(24000) / 48000
    for i, name in enumerate(("Vox A.wav", "Vox B.wav", "Kick.wav")):
        sf.write(str(stems / name), 0.2 * np.sin(2 * np.pi * (150 + 50 * i) * t), 48000)
    from mixgraph.core.fileformat import write_document
    from mixgraph.workflows.templates import load_template

    template = folder / "mine.json"
    write_document(load_template("band").to_document(), template)
    cmd = [sys.executable, str(HERE / "editor_driver.py"), str(graph.path), str(result),
           str(shot), str(stems), str(template)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24"] + cmd
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(result.read_text()), graph.path, shot


@needs_screen
def test_the_editor_draws_every_node_and_link(driven):
    result, project, _ = driven
    g = load(project)
    # the saved project gained a node and an output; the drawing had the original
    assert result["nodes_drawn"] == len(g) - 2
    assert result["links_drawn"] == len(g.links) - 2


@needs_screen
def test_add_link_undo_save_render_in_the_window(driven):
    result, project, shot = driven
    assert result["added"].startswith("stereo_width")
    assert result["linked"] and result["links_after_link"] == result["links_drawn"] + 1
    assert "would make a cycle" in result["cycle_status"]
    assert not result["linked_after_undo"]
    assert result["links_after_undo"] == result["links_drawn"]
    # the saved document holds the edits
    saved = load(project)
    added = result["added"]
    assert saved.nodes[added].type == "stereo_width"
    assert any(str(l) == f"mix.out -> {added}.in" for l in saved.links)
    outputs = [s for s in saved if s.type == "output" and s.params["path"] == "out/wide.wav"]
    assert len(outputs) == 1
    assert result["dirty_after_save"] is False
    # the render ran from the window and wrote the new output
    assert result["status"].startswith("rendered 4 outputs"), result["status"]
    assert result["report_shown"]
    wide, _ = sf.read(str(project.parent / "out" / "wide.wav"))
    assert np.max(np.abs(wide)) > 0.05


@needs_screen
def test_a_screenshot_of_the_window_is_saved(driven):
    _, _, shot = driven
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


@needs_screen
def test_plus_band_on_a_multiband_compressor_adds_a_band_it_accepts(driven):
    result, _, _ = driven
    if shutil.which("xdotool"):
        assert result["plus_band_by"] == "mouse"
    (band,) = result["bands_after_plus"]
    assert band == {"threshold_db": -18.0, "ratio": 2.0, "knee_db": 6.0, "attack_ms": 20.0,
                    "release_ms": 150.0, "makeup_db": 0.0}          # no EQ fields
    assert result["band_problems"] == []
    # two crossovers make three bands: the fourth click is refused with the node's words
    assert result["bands_after_four_clicks"] == 3
    assert "has 4 bands, but 2 crossovers make 3 bands" in result["status_after_fourth"]
    # a band's six settings: three lines in the inspector, which is 340 pixels wide
    # (two on a node, whose lines are wider)
    assert result["band_lines_drawn"] == 3 * 3


@needs_screen
def test_new_from_template_takes_assignments_and_ignores_typed_in_the_dialog(driven):
    """File > New from template: 'Vox B.wav=lead_vox' and 'vox a*' typed into the
    dialog; the project binds Vox B to the lead vocal, leaves Vox A out, and the binding
    table is shown in a window of its own."""
    result, _, _ = driven
    assert result["template_window_shown"] and result["stems_dialog_shown"]
    assert result["assign_field"] == "Vox B.wav=lead_vox"
    stems = result["template_stems"]
    assert stems["lead_vox"].endswith("Vox B.wav") and stems["kick"].endswith("Kick.wav")
    assert not any(p.endswith("Vox A.wav") for p in stems.values())
    assert result["binding_window"]
    rows = [l for l in result["binding_lines"] if l.startswith("Vox A.wav")]
    assert rows and "ignored" in rows[0] and "--ignore vox a*" in rows[0]


@needs_screen
def test_template_rules_are_edited_in_their_window(driven):
    """Edit > Template rules...: a vocabulary line typed with the keyboard and applied
    becomes the template's rule."""
    result, _, _ = driven
    assert result["rules_window_shown"]
    assert result["rules_after_apply"]["vocabulary"] == {"keys": ["mellotron"]}
    assert result["rules_after_apply"]["unmatched"] == "catch_all"
    assert result["rules_status"] == "template rules changed"
