"""The editor driven as a user drives it: a real window under Xvfb, the mouse moved
and clicked and keys pressed by xdotool (tests/gestures_driver.py), one scenario per
window.  Each test names the defect of the editor issue it guards against."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mixgraph import Graph, load, save

HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(
    shutil.which("xdotool") is None
    or (not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None),
    reason="needs xdotool and Xvfb (.ci/run installs them)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    from mixgraph.workflows.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("gestures") / "demo").path


def small(folder: Path, nodes: dict, links: list) -> Path:
    """A project of tones and gains placed where ``nodes`` says."""
    g = Graph(sample_rate=48000, base_dir=folder)
    for nid, (kind, pos) in nodes.items():
        g.add(kind, id=nid, **({"duration_s": 1.0} if kind == "tone" else {}))
        g.ui[nid] = {"pos": list(pos)}
    for a, b in links:
        g.connect(a, b)
    path = folder / "small.mgraph"
    save(g, path)
    return path


def drive(scenario: str, project: Path, folder: Path) -> dict:
    out = folder / f"{scenario}.json"
    cmd = [sys.executable, str(HERE / "gestures_driver.py"), scenario, str(project),
           str(out)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x900x24"] + cmd
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=folder)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(out.read_text())


def copy_of(project: Path, folder: Path) -> Path:
    shutil.copytree(project.parent, folder / "demo")
    return folder / "demo" / project.name


def test_d1_d11_rename_opens_from_a_right_click_on_the_nodes_body(demo, tmp_path):
    got = drive("rename", copy_of(demo, tmp_path), tmp_path)
    assert got["menu_shown"] and got["menu_for"] == "kick"          # D11: the body
    assert got["dialog_shown"]                                        # D1
    assert "kick_in" in got["nodes"] and "kick" not in got["nodes"]
    x, y = got["dialog_centre"]                                       # D12: centred
    assert abs(x - 700) < 60


def test_a_node_is_bypassed_from_its_menu_and_undone(demo, tmp_path):
    got = drive("bypass", copy_of(demo, tmp_path), tmp_path)
    assert got["bypassed"] and got["label"].endswith("- bypassed")
    assert got["menu_says"] == "Bring back"
    assert got["after_undo"] is False


def test_d1_new_from_template_opens_after_discarding_changes(demo, tmp_path):
    got = drive("template_after_unsaved", copy_of(demo, tmp_path), tmp_path)
    assert got["dirty"] and got["asked"]
    assert got["template_window_shown"]


def test_d2_d9_nodes_land_where_asked_and_the_palette_works_from_the_keyboard(tmp_path):
    project = small(tmp_path, {"t": ("tone", (20, 20))}, [])
    got = drive("add_at_cursor", project, tmp_path)
    assert "palette_not_shown_at" not in got
    assert len(got["placed"]) == 3
    for p in got["placed"]:
        assert p["type"] == "gain"                       # typed "gain", Enter: the first
        (ax, ay), (dx, dy) = p["asked"], p["drawn"]
        assert abs(dx - ax) <= 12 and abs(dy - ay) <= 12, p
    assert got["palette_open"] and not got["palette_after_escape"]


def test_d3_d2_frame_and_add_after_a_pan(demo, tmp_path):
    got = drive("frame_after_pan", copy_of(demo, tmp_path), tmp_path)
    (bx, by), (px, py) = got["kick_before"], got["kick_panned"]
    assert px < bx - 150 and py < by - 80                     # it did pan
    (ax, ay), (qx, qy) = got["added_at"], got["asked_at"]
    assert abs(ax - qx) <= 12 and abs(ay - qy) <= 12          # under the right-click
    fx, fy = got["kick_framed"]
    assert abs(fx - bx) <= 6 and abs(fy - by) <= 6            # framed: back in view


def test_d4_keys_typed_into_a_field_or_a_dialog_are_not_shortcuts(demo, tmp_path):
    got = drive("typing_is_not_a_shortcut", copy_of(demo, tmp_path), tmp_path)
    assert got["selected"] == ["kick"]
    assert "kick" in got["nodes_after_field"]                 # Delete did not delete it
    assert not got["playing"] and got["offset"] == [0.0, 0.0]  # space, f: not shortcuts
    assert got["status_after_field"] != got["player_reason"]   # (Space would say why not)
    assert got["save_dialog_shown"]
    assert "kick" in got["nodes_after_dialog"]


def test_d5_box_select_and_delete_keeps_links_that_only_cross_the_box(tmp_path):
    project = small(tmp_path, {"a": ("tone", (40, 320)), "b": ("gain", (460, 250)),
                               "c": ("gain", (900, 320))},
                    [("a", "c"), ("a", "b")])
    got = drive("box_delete", project, tmp_path)
    assert got["selected_nodes"] == ["b"]
    assert got["nodes"] == ["a", "c"]
    assert got["links"] == [["a.out", "c.in"]]                # the crossing link kept
    assert "deleted 1 node" in got["status"]
    assert got["nodes_after_undo"] == ["a", "b", "c"]         # one step brings all back
    assert got["links_after_undo"] == [["a.out", "b.in"], ["a.out", "c.in"]]


def test_d6_save_as_writes_the_name_typed_not_a_hidden_file(demo, tmp_path):
    project = copy_of(demo, tmp_path)
    got = drive("save_as_name", project, tmp_path)
    assert Path(got["session_path"]).name == "scratch.mgraph", got
    assert (tmp_path / "scratch.mgraph").exists()
    assert not list(tmp_path.glob(".*.mgraph"))
    assert got["absolute_path"] == str(tmp_path / "elsewhere" / "abs.mgraph")
    assert (tmp_path / "elsewhere" / "abs.mgraph").exists()


def test_d7_listen_to_forgets_the_old_projects_output_after_new(demo, tmp_path):
    got = drive("listen_after_new", copy_of(demo, tmp_path), tmp_path)
    assert got["listen_before"] == "master_out"
    assert got["listen_after"] == "" and got["listen_items"] == []


def test_d8_a_typed_value_is_saved_as_typed(demo, tmp_path):
    project = copy_of(demo, tmp_path)
    got = drive("typed_value_saved_exactly", project, tmp_path)
    assert load(got["saved"]).nodes["kick_ch"].params["pan"] == 0.358


def test_d12_labels_fit_and_dialogs_open_in_the_middle(demo, tmp_path):
    got = drive("labels_and_dialogs", copy_of(demo, tmp_path), tmp_path)
    assert got["play_width"] >= got["play_text_width"] + 8
    (x, y), (w, h) = got["dialog_centre"], got["viewport"]
    assert abs(x - w / 2) < 40 and y < h * 0.6


def test_the_mixer_view_moves_types_resets_and_undoes_through_the_session(demo, tmp_path):
    got = drive("mixer", copy_of(demo, tmp_path), tmp_path)
    assert got["shown"]
    before = got["gain_before"]
    # 60 pixels down a 150-pixel fader of 72 dB: about 29 dB down
    assert got["gain_dragged"] < before - 15
    assert got["gain_undone"] == before                       # the drag: one step
    assert got["gain_typed"] == -7.5
    assert got["gain_reset"] == 0.0                            # double-click: 0 dB
    assert got["mute"] is True and got["pan"] == 0.25
    assert got["lead_sends"] and got["send_level"] == -10.0


def test_the_routing_matrix_links_unlinks_refuses_a_cycle_and_undoes(demo, tmp_path):
    got = drive("routing_matrix", copy_of(demo, tmp_path), tmp_path)
    assert got["shown"]
    assert {"drums", "fx", "mix"} <= set(got["columns"])
    assert {"kick_ch", "keys_ch", "lead_verb_send", "plate"} <= set(got["rows"])
    assert got["added"] == ["keys_ch.out -> fx.in"] and got["ticked"]
    assert got["after_second_click"]
    assert "cycle" in got["cycle_status"] and not got["cycle_ticked"] and got["unchanged"]
    assert got["unlinked"] == ["kick_ch.out -> drums.in"]
    assert got["undone"]


def test_versions_are_listed_diffed_and_restored_in_the_window(demo, tmp_path):
    got = drive("versions", copy_of(demo, tmp_path), tmp_path)
    assert got["status_saved"].startswith("saved version")
    assert got["shown"] and got["versions"] == 1
    assert "kick_ch: gain_db from -2.0 dB to -9.0 dB" in got["diff"]
    assert got["gain_after_restore"] == -2.0
    assert "restored first mix" in got["status_restored"]
    assert got["names_after"] == ["first mix", "before-restore"]


def test_nodes_are_copied_and_pasted_into_another_project_under_the_mouse(demo, tmp_path):
    got = drive("copy_paste", copy_of(demo, tmp_path), tmp_path)
    assert got["selected"] == ["kick", "kick_eq"]
    assert got["status_copied"] == "copied 2 nodes"
    assert got["nodes"] == ["kick", "kick_eq"]
    assert got["links"] == ["kick.out -> kick_eq.in"]
    assert got["reads_same_file"]
    x, y = got["kick_at"]
    assert abs(x - 500) <= 12 and abs(y - 400) <= 12
    assert got["after_undo"] == []


def test_after_a_render_the_nodes_show_what_they_did(demo, tmp_path):
    from mixgraph import render

    got = drive("render_figures", copy_of(demo, tmp_path), tmp_path)
    report = render(load(demo))                         # the same project, from the CLI's API
    assert got["report_shown"]
    gr = report.nodes["kick_comp"][1]["gain_reduction_max_db"]
    assert got["lines"]["kick_comp"].startswith(f"GR max {gr:.1f} dB")
    assert "limiting" in got["lines"]["master_loudness"]
    master = next(o for o in report.outputs if o["node"] == "master_out")
    assert got["lines"]["master_out"] == (f"{master['integrated_lufs']:.1f} LUFS, TP "
                                          f"{master['true_peak_dbtp']:.1f} dBTP")
    assert {"kick_comp", "master_glue", "master_loudness"} <= set(got["report_rows"])
