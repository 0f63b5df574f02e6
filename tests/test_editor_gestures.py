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

import numpy as np
import pytest

from mixgraph import Graph, load, render, save

from decoding import decode_png as pixels

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


def tone_strip(folder: Path, **channel) -> Path:
    """A project of a 4 s tone ``t`` into a channel ``c`` (``channel``: its
    parameters) into an output ``o`` writing out.wav, laid out left to right."""
    g = Graph(sample_rate=48000, base_dir=folder)
    g.add("tone", id="t", duration_s=4.0)
    g.add("channel", id="c", **channel)
    g.add("output", id="o", path="out.wav")
    g.connect("t", "c")
    g.connect("c", "o")
    for nid, pos in (("t", (40, 120)), ("c", (320, 120)), ("o", (620, 120))):
        g.ui[nid] = {"pos": list(pos)}
    path = folder / "strip.mgraph"
    save(g, path)
    return path


def drive(scenario: str, project: Path, folder: Path) -> dict:
    out = folder / f"{scenario}.json"
    cmd = [sys.executable, str(HERE / "gestures_driver.py"), scenario, str(project),
           str(out)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"] + cmd
    env = dict(os.environ, XDG_DATA_HOME=str(folder / "xdg"))    # recovery files here
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=folder,
                         env=env)
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
    if shutil.which("ffmpeg"):                 # the target line drawn at -14 LUFS
        image = pixels(got["report_shot"])
        assert got["loudness_plots"]
        for x0, y0, x1, y1 in got["loudness_plots"]:
            top, bottom, line = target_line(image[y0:y1, x0:x1])
            assert abs((line - top) / (bottom - top) - 14 / 50) < 0.02   # axis 0 to -50


def target_line(plot: np.ndarray) -> tuple[float, float, float]:
    """In a plot's pixels: the top and bottom rows of its plotting area (its own
    background: the darkest of the three commonest colours, the frame round it being
    lighter) and the row of the long green line across it."""
    colours, counts = np.unique(plot.reshape(-1, 3), axis=0, return_counts=True)
    common = colours[np.argsort(-counts)[:3]]
    area = (plot == common[common.sum(axis=1).argmin()]).all(axis=2)
    rows = np.flatnonzero(area.mean(axis=1) > 0.3)
    green = (plot[..., 1] > plot[..., 0] + 40) & (plot[..., 1] > plot[..., 2] + 30)
    line = np.flatnonzero(green.mean(axis=1) > 0.5)
    assert rows.size and line.size
    return rows.min(), rows.max(), line.mean()


def bluish(image: np.ndarray) -> np.ndarray:
    """Where the theme's accent (a slider's grab, a tick) is drawn: blue well above red."""
    return (image[..., 2] > 100) & (image[..., 2] - image[..., 0] > 50)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg to read the screenshot")
def test_the_canvas_mixer_and_matrix_draw_what_the_model_holds(demo, tmp_path):
    """Read off screenshots (decoded by ffmpeg): each node's title bar in its colour
    (the bypassed one in the bypass colour, the others not); each fader's grab at the
    height of its gain; each matrix cell ticked exactly where a link is."""
    from mixgraph.editor.board import BYPASS_COLOUR
    from mixgraph.editor.strips import FADER_FLOOR_DB, FADER_TOP_DB

    got = drive("views_drawn", copy_of(demo, tmp_path), tmp_path)
    canvas = pixels(got["canvas_shot"])
    bypassed = [nid for nid, t in got["titles"].items() if t[4]]
    assert bypassed == ["kick_comp"]
    for nid, (x0, y0, x1, y1, off) in got["titles"].items():
        if x1 - x0 < 60 or y0 < 60:
            continue                          # hardly on screen
        title = canvas[int(y0) + 3:int(y0) + 8, int(x1) - 30:int(x1) - 6].reshape(-1, 3)
        colour = np.median(title, axis=0)
        near = np.abs(colour - np.array(BYPASS_COLOUR)).max() <= 8
        assert near == off, (nid, colour)

    mixer = pixels(got["mixer_shot"])
    assert len(got["faders"]) >= 8
    for nid, (x0, y0, x1, y1, gain) in got["faders"].items():
        column = mixer[int(y0):int(y1), int(x0) + 4:int(x1) - 4].astype(int)
        blue = bluish(column)
        rows = np.flatnonzero(blue.mean(axis=1) > 0.5)
        assert rows.size, nid
        from_bottom = 1 - rows.mean() / (y1 - y0)
        want = (min(max(gain, FADER_FLOOR_DB), FADER_TOP_DB) - FADER_FLOOR_DB) \
            / (FADER_TOP_DB - FADER_FLOOR_DB)
        assert abs(from_bottom - want) < 0.08, (nid, gain, from_bottom, want)

    matrix = pixels(got["routing_shot"])
    assert sum(c[4] for c in got["cells"]) >= 6
    for x0, y0, x1, y1, linked in got["cells"]:
        box = matrix[int(y0) + 3:int(y1) - 3, int(x0) + 3:int(x0) + (y1 - y0) - 3]
        blue = bluish(box).mean()
        assert (blue > 0.05) == linked, (x0, y0, linked, blue)


def test_a_small_graph_is_built_from_scratch_with_the_mouse_and_keys(tmp_path):
    """tone -> channel -> output built in an empty project; a cycle refused; a fader
    typed and undone; rendered: the report reads the tone's level through the fader."""
    project = small(tmp_path, {"t": ("tone", (20, 20))}, [])
    got = drive("from_scratch", project, tmp_path)
    assert got["pins"] == ["tone_1.out", "channel_1.out"]
    assert got["nodes"] == ["channel_1", "output_1", "tone_1"]
    assert got["links"] == [["channel_1.out", "output_1.in"], ["tone_1.out", "channel_1.in"]]
    assert got["path"] == "mix.wav"
    assert "cycle" in got["cycle_status"] and got["links_after_cycle"] == 3
    assert got["gain_typed"] == -6.0 and got["gain_undone"] == 0.0
    assert got["report_shown"]
    (row,) = got["report"]
    assert row[0] == "mix.wav"
    # a tone's default level through a channel at 0 dB, as the engine renders it alone
    from mixgraph import Graph, render

    g = Graph(sample_rate=48000, base_dir=tmp_path)
    g.add("tone", id="t")
    g.add("channel", id="c")
    g.add("output", id="o", path="check.wav")
    g.connect("t", "c")
    g.connect("c", "o")
    (out,) = render(g).outputs
    assert row[1] == f"{out['integrated_lufs']:.1f}"


def test_a_ride_drawn_in_a_lane_is_saved_exactly_and_renders_as_written_by_hand(tmp_path):
    """A lane opened by Shift+click on a channel's gain; three points added by
    double-clicks and typed; one dragged and the drag undone; saved: the file holds
    exactly the three points, and its render is, bit for bit, the render of the same
    automation written by hand."""
    import soundfile as sf

    from mixgraph import render

    got = drive("lane_ride", tone_strip(tmp_path), tmp_path)
    assert got["lane_shown"] and got["lanes"] == [["c", "gain_db"]]
    assert abs(got["song_s"] - 4.0) < 0.5
    expected = [[1.0, -20.0], [2.0, -6.0], [3.0, -12.0]]
    assert got["typed"] == expected
    assert got["dragged"] != expected and got["dragged"][0] == expected[0]
    assert got["undone"] == expected
    saved = load(got["saved"])
    assert saved.nodes["c"].params["gain_db"] == {"automation": expected, "curve": "linear"}
    render(saved)
    drawn = sf.read(str(tmp_path / "out.wav"), dtype="float32")[0]
    by_hand = Graph.from_document(json.loads(json.dumps({
        "format": "mixgraph", "version": 1, "sample_rate": 48000,
        "nodes": [{"id": "t", "type": "tone", "params": {"duration_s": 4.0}},
                  {"id": "c", "type": "channel", "params": {"gain_db": {
                      "automation": [[1, -20], [2, -6], [3, -12]], "curve": "linear"}}},
                  {"id": "o", "type": "output", "params": {"path": "hand.wav"}}],
        "links": [["t", "c"], ["c", "o"]]})), base_dir=tmp_path)
    render(by_hand)
    written = sf.read(str(tmp_path / "hand.wav"), dtype="float32")[0]
    np.testing.assert_array_equal(drawn, written)
    # after the render the lane reads the node's level: 8 dB up from 0.5 s (-20 dB
    # held) to 3.5 s (-12 dB held), higher between (-6 dB at 2 s, over 400 ms windows);
    # and it is drawn where it says
    level = got["level_at"]
    assert level["3.5"] - level["0.5"] == pytest.approx(8.0, abs=0.2)
    assert level["2.0"] > level["3.5"] + 3.0
    if shutil.which("ffmpeg"):
        image = pixels(got["lane_shot"])
        ox, oy = got["lane_origin"]
        for t, y in got["y_of_level"].items():
            x = int(ox + got["x_at"][t])
            column = image[int(oy + y) - 3:int(oy + y) + 4, x - 1:x + 2]
            green = (column[..., 1] > column[..., 0] + 60) & (column[..., 1] > column[..., 2] + 30)
            assert green.any(), t
    # the bypass lane: a point at 1 (bypassed) from 2.5 s
    assert got["bypass"]["curve"] == "step" and len(got["bypass"]["automation"]) == 1
    assert got["bypass"]["automation"][0][1] == 1.0
    assert got["label"].endswith("- bypass automated")


def test_lane_points_are_box_selected_copied_to_another_lane_and_deleted(tmp_path):
    project = tone_strip(tmp_path, gain_db={"automation": [[1.0, -20.0], [2.0, 6.0],
                                                           [3.0, -12.0]], "curve": "linear"})
    got = drive("lane_edits", project, tmp_path)
    assert got["selected"] == [0, 1]
    # pasted at 0.5 s (its first point there), the gains -20 and +6 kept in -1 .. 1
    assert got["pan_points"][0][1] == -1.0 and got["pan_points"][1][1] == 1.0
    assert got["pan_points"][1][0] - got["pan_points"][0][0] == pytest.approx(1.0)
    assert abs(got["pan_points"][0][0] - 0.5) < 0.1
    assert got["gain_after_right_click"] == [[1.0, -20.0], [2.0, 6.0]]
    assert got["pan_selected"] == [0, 1]
    assert got["pan_after_delete"] == -1.0                     # no points: the value held
    assert got["pan_after_two_undos"] == got["pan_points"]      # the delete undone ...
    assert got["gain_after_two_undos"] == [[1.0, -20.0], [2.0, 6.0], [3.0, -12.0]]


def test_regions_are_split_moved_trimmed_and_typed_on_the_waveform_strip(tmp_path):
    """The inspector's strip of a stem's regions, with the mouse and keys: split at 2 s
    by a double-click, the second half moved 40 pixels, the first half's start
    trimmed 20 pixels and undone, a gain typed; every edit lands within a pixel of
    where the mouse was, the saved project renders what the regions say, and the
    screenshot shows the waveform in the strip."""
    import soundfile as sf

    rate = 48000
    t = np.arange(4 * rate) / rate
    bursts = 0.5 * np.exp(-8 * (t % 0.5)) * np.random.default_rng(3).standard_normal(t.size)
    sf.write(str(tmp_path / "vox.wav"), bursts, rate, subtype="FLOAT")
    g = Graph(sample_rate=rate, base_dir=tmp_path)
    g.add("stem", id="vox", path="vox.wav")
    g.add("output", id="out", path="out.wav", subtype="FLOAT")
    g.connect("vox", "out")
    g.ui["vox"], g.ui["out"] = {"pos": [40, 120]}, {"pos": [400, 120]}
    save(g, tmp_path / "regions.mgraph")
    got = drive("region_strip", tmp_path / "regions.mgraph", tmp_path)

    pixel = got["shown_s"] / 316
    assert got["shown_s"] == pytest.approx(4.0)
    first, second = got["split"]
    assert first["length_s"] == pytest.approx(2.0, abs=1.5 * pixel)
    assert second["at_s"] == second["from_s"] == pytest.approx(first["length_s"])
    assert "length_s" not in second                         # still to the file's end
    moved = got["moved"]
    assert moved[0] == first
    assert moved[1]["at_s"] - second["at_s"] == pytest.approx(got["moved_px_s"], abs=1.5 * pixel)
    assert moved[1]["from_s"] == second["from_s"]
    trimmed = got["trimmed"][0]
    pixel = got["shown_after_move"] / 316
    assert trimmed["at_s"] == trimmed["from_s"] == pytest.approx(got["trimmed_px_s"],
                                                                abs=1.5 * pixel)
    assert trimmed["at_s"] + trimmed["length_s"] == pytest.approx(first["length_s"], abs=2e-3)
    assert got["undone"] == moved
    assert got["steps"] == ["split region 0 of vox", "move region 1 of vox"]
    assert got["typed"][1]["gain_db"] == -6.0

    # the saved project plays the file as the regions say
    saved = load(got["saved"])
    assert saved.nodes["vox"].params["regions"] == got["typed"]
    render(saved)
    y, _ = sf.read(str(tmp_path / "out.wav"))
    a, b = round(moved[1]["at_s"] * rate), round(moved[1]["from_s"] * rate)
    end = round(moved[0]["length_s"] * rate)
    np.testing.assert_allclose(y[:end - 500], bursts[:end - 500], atol=1e-7)
    assert np.max(np.abs(y[end + 500:a - 500])) == 0.0        # the gap the move opened
    np.testing.assert_allclose(y[a + 500:], 10 ** (-6 / 20) * bursts[b + 500:b + 500 + len(y)
                                                                     - a - 500], atol=1e-6)

    # the screenshot: the strip holds the waveform's colours
    shot = pixels(Path(got["shot"]))
    x0, y0, x1, y1 = (int(v) for v in got["strip_rect"])
    strip = shot[y0:y1, x0:x1].astype(int)
    blue = np.sum((np.abs(strip - [150, 200, 255]).max(axis=2) < 30))
    orange = np.sum((np.abs(strip - [255, 200, 140]).max(axis=2) < 30))
    assert blue > 300 and orange > 300
