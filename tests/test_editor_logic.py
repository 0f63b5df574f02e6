"""The node editor's logic, headless: the command layer (edits, undo/redo, coalesced
drags, refusals), link validation, the document <-> canvas mapping, widget specs, the
background render job, preview streaming, autosave/recovery, playback probing and the
node palette.

Nothing here imports Dear PyGui or needs a display: only ``mixgraph.editor.session``,
``mixgraph.editor.canvas``, ``mixgraph.editor.widgets``, ``mixgraph.editor.jobs``, ``mixgraph.editor.recovery``,
``mixgraph.editor.player`` and ``graph.*`` are used.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mixgraph.editor import canvas, recovery
from mixgraph.editor import player as player_mod
from mixgraph.editor.jobs import RenderJob, plot_data
from mixgraph.editor.session import COALESCE_S, HISTORY_LIMIT, Session, palette
from mixgraph.editor.widgets import (describe_automation, item_lines, model_value,
                                     shown_value, spec_for)
from mixgraph import Graph, MixgraphError, load, preview, render
from mixgraph.workflows.demo import build_project, write_demo
from mixgraph.editor.layout import node_height, node_width
from mixgraph.nodes.base import Context, Node, Param, node_types, register, unregister

SR = 48000
WIDGET_KINDS = {"drag_float", "drag_int", "combo", "checkbox", "text", "path", "items",
                "members", "list"}
TEST_TYPES = ("test_latent", "test_decay", "test_fail")        # registered by conftest
AUTOMATION = {"automation": [[0.0, -60.0], [0.5, 0.0]], "curve": "linear"}


@pytest.fixture(autouse=True)
def _own_user_dir(own_user_dir):
    """No test sees or writes the real user's data folder (recovery files live there)."""
    return own_user_dir


# ---------------------------------------------------------------------- material
def small_graph(folder: Path) -> Graph:
    """t -> g1 -> g2 -> mix -> out, t2 -> mix; a group 'grp' controlling g1 and g2."""
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("tone", id="t", duration_s=1.0, freq_hz=440.0, level_dbfs=-12.0)
    g.add("tone", id="t2", duration_s=1.0, freq_hz=660.0, level_dbfs=-18.0)
    g.add("gain", id="g1", gain_db=-4.0)
    g.add("gain", id="g2", polarity_invert=True)
    g.add("bus", id="mix", gain_db=-1.0)
    g.add("group", id="grp", members=["g1", "g2"])
    g.add("output", id="out", path="out/mix.wav", subtype="FLOAT")
    for a, b in (("t", "g1"), ("g1", "g2"), ("g2", "mix"), ("t2", "mix"), ("mix", "out")):
        g.connect(a, b)
    for i, nid in enumerate(("t", "t2", "g1", "g2", "mix", "grp", "out")):
        g.ui[nid] = {"pos": [20.0 + 250.0 * i, 40.0]}
    return g


@pytest.fixture
def sess(tmp_path) -> Session:
    """A fresh session (no history, not dirty) on the small graph."""
    s = Session(small_graph(tmp_path))
    assert not s.undo_stack and not s.redo_stack and not s.dirty
    return s


@pytest.fixture
def demo(tmp_path) -> Session:
    """The demo project written to disk (stems and all) and opened: no problems."""
    write_demo(tmp_path / "demo")
    s = Session.open(tmp_path / "demo" / "demo.mgraph")
    assert s.problems() == {}
    return s


def end_drag(s: Session) -> None:
    """Pretend the last step was recorded long ago (the drag ended)."""
    if s.undo_stack:
        s.undo_stack[-1].at -= COALESCE_S + 10.0


def links_of(doc: dict) -> set[tuple[str, str]]:
    return {tuple(l) for l in doc["links"]}


def param_dict(view: canvas.NodeView) -> dict:
    return {p.name: p.value for p in view.params}


def tone_project(folder: Path, seconds: float = 1.0) -> Graph:
    """tone -> channel -> out (FLOAT), and the channel's pre-fader output -> pre (FLOAT)."""
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("tone", id="t", duration_s=seconds, freq_hz=330.0, level_dbfs=-6.0)
    g.add("channel", id="ch", gain_db=-3.0, pan=0.3)
    g.add("output", id="out", path="out/out.wav", subtype="FLOAT")
    g.add("output", id="pre", path="out/pre.wav", subtype="FLOAT")
    g.connect("t", "ch")
    g.connect("ch", "out")
    g.connect("ch.pre", "pre")
    return g


def read(path: Path) -> np.ndarray:
    data, _ = sf.read(str(path), dtype="float64", always_2d=True)
    return data.T


# ============================================================== headless guarantee
def test_editor_logic_modules_import_without_dear_pygui_or_a_display(tmp_path):
    code = ("import sys\n"
            "import mixgraph.editor.session, mixgraph.editor.canvas, mixgraph.editor.widgets, mixgraph.editor.jobs, "
            "mixgraph.editor.recovery, mixgraph.editor.player\n"
            "assert 'dearpygui' not in sys.modules, sorted(m for m in sys.modules "
            "if 'dearpygui' in m)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


# ================================================================== command layer
EDITS = {
    "add_node": lambda s: s.add_node("eq", (600, 300), "eq1",
                                     bands=[{"type": "bell", "freq_hz": 300, "gain_db": -3,
                                             "q": 1.0}]),
    "add_node_generated_id": lambda s: s.add_node("reverb", (10, 10)),
    "remove_nodes": lambda s: s.remove_nodes(["g1", "t2"]),
    "connect": lambda s: s.connect("t2", "g2"),
    "connect_ports": lambda s: s.connect("t.out", "mix.in"),
    "disconnect": lambda s: s.disconnect("t2", "mix"),
    "set_param": lambda s: s.set_param("g1", "gain_db", -9.5),
    "set_param_automation": lambda s: s.set_param("mix", "gain_db", AUTOMATION),
    "set_param_choice": lambda s: s.set_param("out", "format", "wav"),
    "set_param_members": lambda s: s.set_param("grp", "members", ["g2"]),
    "reset_param": lambda s: s.reset_param("g1", "gain_db"),
    "rename": lambda s: s.rename("g1", "fader"),
    "move_nodes": lambda s: s.move_nodes({"g1": (555.0, 66.0), "t": (1.0, 2.0)}),
    "duplicate": lambda s: s.duplicate(["g1", "g2"]),
    "arrange": lambda s: s.arrange(),
    "replace_graph": lambda s: s.replace_graph(tone_project(s.graph.base_dir), "new"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_each_edit_changes_the_document_and_undo_redo_restore_it_exactly(sess, edit):
    before = sess.document()
    EDITS[edit](sess)
    after = sess.document()
    assert after != before
    assert len(sess.undo_stack) == 1 and not sess.redo_stack
    assert sess.dirty

    assert sess.undo() is not None
    assert sess.document() == before
    assert len(sess.redo_stack) == 1 and not sess.undo_stack
    assert sess.redo() is not None
    assert sess.document() == after
    assert sess.undo() is not None and sess.undo() is None          # nothing older
    assert sess.document() == before
    assert sess.redo() is not None and sess.redo() is None          # nothing newer
    assert sess.document() == after


def test_add_node_stores_type_parameters_and_canvas_position(sess):
    nid = sess.add_node("compressor", (123, 456), threshold_db=-30.0, ratio=8.0)
    assert nid == "compressor_1" and nid in sess.graph
    spec = sess.graph.node(nid)
    assert spec.type == "compressor"
    assert spec.params == {"threshold_db": -30.0, "ratio": 8.0}
    assert sess.graph.ui[nid] == {"pos": [123.0, 456.0]}
    assert sess.add_node("compressor") == "compressor_2"


def _cycle(s):
    s.connect("g2", "g1")


def _self_loop(s):
    s.connect("mix", "mix")


REFUSED = {
    "cycle": (_cycle, ["cycle", "g1 -> g2"]),
    "self_loop": (_self_loop, ["cycle", "mix"]),
    "duplicate_link": (lambda s: s.connect("t", "g1"), ["already exists"]),
    "unknown_output_port": (lambda s: s.connect("t.nope", "g2"),
                            ["'t'", "no output port 'nope'"]),
    "unknown_input_port": (lambda s: s.connect("t2", "g2.sidechain"),
                           ["'g2'", "no input port 'sidechain'"]),
    "output_to_output": (lambda s: s.connect("t.out", "g2.out"), ["'out' is an output"]),
    "input_to_input": (lambda s: s.connect("g1.in", "g2.in"), ["'in' is an input"]),
    "link_to_missing_node": (lambda s: s.connect("t", "ghost"), ["no node 'ghost'"]),
    "value_out_of_range": (lambda s: s.set_param("g1", "gain_db", 100.0),
                           ["g1", "gain_db", "between -120 and 48", "100"]),
    "value_of_wrong_type": (lambda s: s.set_param("g1", "gain_db", "loud"),
                            ["gain_db must be a number", "'loud'"]),
    "not_finite": (lambda s: s.set_param("g1", "gain_db", math.nan),
                   ["gain_db must be a finite number"]),
    "bad_choice": (lambda s: s.set_param("out", "subtype", "MP3"),
                   ["subtype must be one of", "MP3"]),
    "unknown_parameter": (lambda s: s.set_param("g1", "gain_dbb", 1.0),
                          ["has no parameter 'gain_dbb'", "did you mean gain_db"]),
    "param_of_missing_node": (lambda s: s.set_param("ghost", "gain_db", 1.0),
                              ["no node 'ghost'"]),
    "members_not_in_graph": (lambda s: s.set_param("grp", "members", ["g1", "nobody"]),
                             ["members names 'nobody'", "not a node of this graph"]),
    "automation_of_fixed_param": (lambda s: s.set_param("t", "duration_s", AUTOMATION),
                                  ["duration_s cannot be automated"]),
    "unknown_node_type": (lambda s: s.add_node("reverbb"),
                          ["unknown node type 'reverbb'", "reverb"]),
    "add_with_bad_value": (lambda s: s.add_node("tone", freq_hz=0.0), ["freq_hz"]),
    "add_with_taken_id": (lambda s: s.add_node("gain", node_id="g1"),
                          ["already a node 'g1'"]),
    "rename_to_taken_id": (lambda s: s.rename("g1", "g2"), ["already a node 'g2'"]),
    "rename_to_bad_id": (lambda s: s.rename("g1", "a b.c"), ["'a b.c'", "no dots or spaces"]),
    "disconnect_missing_link": (lambda s: s.disconnect("t2", "g1"), ["there is no link"]),
    "duplicate_with_missing_node": (lambda s: s.duplicate(["g1", "ghost"]),
                                    ["no node 'ghost'"]),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_edit_raises_a_clear_model_error_and_changes_nothing(sess, tmp_path, case):
    edit, words = REFUSED[case]
    sess.set_param("mix", "gain_db", -2.0)         # some history: one undo, one redo step
    sess.set_param("t2", "level_dbfs", -20.0)
    sess.undo()
    sess.save(tmp_path / "p.mgraph")               # and not dirty
    doc = sess.document()
    undo = [(st.label, st.before, st.after) for st in sess.undo_stack]
    redo = [(st.label, st.before, st.after) for st in sess.redo_stack]

    with pytest.raises(MixgraphError) as info:
        edit(sess)
    message = info.value.message
    assert "\n" not in message and len(message) < 300
    for word in words:
        assert word in message, (word, message)

    assert sess.document() == doc
    assert [(st.label, st.before, st.after) for st in sess.undo_stack] == undo
    assert [(st.label, st.before, st.after) for st in sess.redo_stack] == redo
    assert not sess.dirty
    assert sess.title == "p.mgraph"


def test_an_edit_that_changes_nothing_records_no_step_and_leaves_the_project_clean(sess):
    sess.set_param("g1", "gain_db", -4.0)          # already -4
    sess.move_nodes({"g1": tuple(sess.graph.ui["g1"]["pos"])})
    sess.remove_nodes(["not_there"])
    sess.reset_param("t", "offset_s")              # never set
    sess.rename("g1", "g1")
    assert not sess.undo_stack and not sess.dirty and sess.title == "untitled"


def test_a_new_edit_clears_the_redo_stack(sess):
    sess.set_param("g1", "gain_db", -6.0)
    sess.set_param("g2", "gain_db", -7.0)
    sess.undo()
    assert len(sess.redo_stack) == 1
    sess.connect("t2", "g2")
    assert sess.redo_stack == []
    doc = sess.document()
    assert sess.redo() is None
    assert sess.document() == doc
    assert sess.graph.node("g2").params.get("gain_db") is None


def test_undo_and_redo_walk_several_steps_back_and_forth_exactly(sess):
    docs = [sess.document()]
    for edit in ("set_param", "connect", "duplicate", "rename", "arrange", "move_nodes",
                 "set_param_automation"):
        EDITS[edit](sess)
        docs.append(sess.document())
    sess.remove_nodes(["fader"])
    docs.append(sess.document())
    for doc in reversed(docs[:-1]):
        sess.undo()
        assert sess.document() == doc
    for doc in docs[1:]:
        sess.redo()
        assert sess.document() == doc


def test_dirty_flag_and_title_follow_edits_save_and_undo(demo, tmp_path):
    path = tmp_path / "demo" / "demo.mgraph"
    assert not demo.dirty and demo.title == "demo.mgraph"
    demo.set_param("kick_ch", "gain_db", -6.0)
    assert demo.dirty and demo.title == "demo.mgraph *"
    assert demo.save() == path
    assert not demo.dirty and demo.title == "demo.mgraph"
    assert load(path).to_document() == demo.document()
    demo.undo()
    assert demo.dirty and demo.title.endswith(" *")
    demo.save(tmp_path / "demo" / "other.mgraph")
    assert demo.title == "other.mgraph" and demo.path.name == "other.mgraph"


def test_an_untitled_session_is_named_untitled_and_refuses_save_without_a_file():
    s = Session()
    assert s.title == "untitled"
    s.add_node("tone")
    assert s.title == "untitled *"
    with pytest.raises(MixgraphError, match="Save As"):
        s.save()
    assert s.dirty


def test_a_slider_drag_on_one_parameter_is_one_undo_step(sess):
    before = sess.document()
    for v in np.linspace(-4.0, -20.0, 25):
        sess.set_param("g1", "gain_db", float(v))
    assert len(sess.undo_stack) == 1
    assert sess.graph.node("g1").params["gain_db"] == -20.0
    sess.undo()
    assert sess.document() == before
    sess.redo()
    assert sess.graph.node("g1").params["gain_db"] == -20.0


def test_changes_of_two_parameters_are_two_undo_steps(sess):
    sess.set_param("g1", "gain_db", -5.0)
    sess.set_param("g1", "polarity_invert", True)
    sess.set_param("g2", "gain_db", -5.0)            # same parameter, other node
    assert len(sess.undo_stack) == 3
    sess.undo()
    assert "gain_db" not in sess.graph.node("g2").params
    assert sess.graph.node("g1").params == {"gain_db": -5.0, "polarity_invert": True}


def test_interleaved_drags_of_two_parameters_are_not_merged(sess):
    sess.set_param("g1", "gain_db", -5.0)
    sess.set_param("mix", "pan", 0.2)
    sess.set_param("g1", "gain_db", -6.0)
    assert len(sess.undo_stack) == 3
    sess.undo()
    assert sess.graph.node("g1").params["gain_db"] == -5.0


def test_two_drags_of_one_parameter_apart_in_time_are_two_steps(sess):
    sess.set_param("g1", "gain_db", -5.0)
    sess.set_param("g1", "gain_db", -6.0)
    end_drag(sess)
    sess.set_param("g1", "gain_db", -7.0)
    sess.set_param("g1", "gain_db", -8.0)
    assert len(sess.undo_stack) == 2
    sess.undo()
    assert sess.graph.node("g1").params["gain_db"] == -6.0


def test_a_refused_value_during_a_drag_keeps_the_drag_as_one_step(sess):
    before = sess.document()
    sess.set_param("g1", "gain_db", -10.0)
    with pytest.raises(MixgraphError):
        sess.set_param("g1", "gain_db", 60.0)
    sess.set_param("g1", "gain_db", -12.0)
    assert len(sess.undo_stack) == 1
    sess.undo()
    assert sess.document() == before


def test_a_drag_after_an_undo_is_a_step_of_its_own(sess):
    sess.set_param("g1", "gain_db", -3.0)          # drag 1
    sess.set_param("g1", "polarity_invert", True)  # another edit
    sess.undo()                                    # ... taken back
    sess.set_param("g1", "gain_db", -9.0)          # drag 2, within COALESCE_S of drag 1
    sess.undo()
    assert sess.graph.node("g1").params.get("gain_db") == -3.0


def test_move_nodes_records_positions_and_one_undo_restores_them(sess):
    old = {n: list(sess.graph.ui[n]["pos"]) for n in ("g1", "g2")}
    for x in range(10):                                       # a drag
        sess.move_nodes({"g1": (100.0 + x, 200.0), "g2": (300.0 + x, 200.0)})
    assert sess.graph.ui["g1"]["pos"] == [109.0, 200.0]
    assert sess.graph.ui["g2"]["pos"] == [309.0, 200.0]
    assert len(sess.undo_stack) == 1
    sess.undo()
    assert {n: sess.graph.ui[n]["pos"] for n in ("g1", "g2")} == old


def test_move_keeps_other_ui_fields(sess):
    sess.graph.ui["g1"]["collapsed"] = True
    sess.move_nodes({"g1": (5, 6)})
    assert sess.graph.ui["g1"] == {"pos": [5.0, 6.0], "collapsed": True}


def test_duplicate_copies_nodes_parameters_offset_positions_and_inner_links_only(sess):
    before_links = links_of(sess.document())
    made = sess.duplicate(["g1", "g2"], offset=(40, 30))
    assert len(made) == 2 and not set(made) & {"g1", "g2"}
    c1, c2 = made
    for orig, copy_ in (("g1", c1), ("g2", c2)):
        assert sess.graph.node(copy_).type == "gain"
        assert sess.graph.node(copy_).params == sess.graph.node(orig).params
        ox, oy = sess.graph.ui[orig]["pos"]
        assert sess.graph.ui[copy_]["pos"] == [ox + 40, oy + 30]
    new_links = links_of(sess.document()) - before_links
    assert new_links == {(f"{c1}.out", f"{c2}.in")}         # not t -> copy, not copy -> mix
    assert len(sess.undo_stack) == 1


def test_duplicated_parameters_are_independent_copies(sess):
    sess.set_param("mix", "gain_db", AUTOMATION)
    (copy_,) = sess.duplicate(["mix"])
    sess.graph.node(copy_).params["gain_db"]["automation"][0][1] = -1.0
    assert sess.graph.node("mix").params["gain_db"] == AUTOMATION


def test_rename_keeps_links_layout_and_group_membership(sess):
    pos = sess.graph.ui["g1"]["pos"]
    sess.rename("g1", "fader")
    doc = sess.document()
    assert "g1" not in sess.graph and sess.graph.node("fader").params == {"gain_db": -4.0}
    assert links_of(doc) >= {("t.out", "fader.in"), ("fader.out", "g2.in")}
    assert not any("g1" in end for link in links_of(doc) for end in link)
    assert sess.graph.ui["fader"]["pos"] == pos and "g1" not in sess.graph.ui
    assert sess.graph.node("grp").params["members"] == ["fader", "g2"]
    assert [n["id"] for n in doc["nodes"]].index("fader") == 2          # same place


def test_remove_nodes_takes_away_their_links_layout_and_memberships(sess):
    sess.remove_nodes(["g1"])
    doc = sess.document()
    assert "g1" not in sess.graph and "g1" not in sess.graph.ui
    assert not any(end.startswith("g1.") for link in links_of(doc) for end in link)
    assert sess.graph.node("grp").params["members"] == ["g2"]
    assert len(sess.undo_stack) == 1


def test_arrange_gives_non_overlapping_boxes_as_one_undo_step(tmp_path):
    s = Session(build_project(tmp_path))
    s.move_nodes({nid: (0.0, 0.0) for nid in s.graph.nodes})     # everything in a heap
    end_drag(s)
    heap = s.document()
    s.arrange()
    assert len(s.undo_stack) == 2
    g = s.graph
    boxes = {}
    for nid in g.nodes:
        x, y = g.ui[nid]["pos"]
        boxes[nid] = (x, y, x + node_width(g, nid), y + node_height(g, nid))
    ids = list(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            overlap = ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1
            assert not overlap, (a, boxes[a], b, boxes[b])
    # sources on the left of what they feed
    for l in g.links:
        assert g.ui[l.src.node]["pos"][0] < g.ui[l.dst.node]["pos"][0]
    arranged = s.document()
    s.undo()
    assert s.document() == heap
    s.redo()
    assert s.document() == arranged


def test_history_keeps_the_last_history_limit_steps(sess):
    docs = []
    for i in range(HISTORY_LIMIT + 5):
        # alternate two parameters so that no step merges with the one before
        if i % 2:
            sess.set_param("g1", "gain_db", -float(i % 100))
        else:
            sess.set_param("mix", "pan", (i % 100) / 100.0 - 0.5)
        docs.append(sess.document())
    assert len(sess.undo_stack) == HISTORY_LIMIT
    for _ in range(HISTORY_LIMIT):
        assert sess.undo() is not None
    assert sess.undo() is None
    assert sess.document() == docs[4]          # the oldest steps were forgotten


def test_listeners_hear_each_edit_undo_and_redo(sess):
    heard = []
    sess.listeners.append(heard.append)
    sess.set_param("g1", "gain_db", -1.0)
    sess.undo()
    sess.redo()
    assert heard == ["g1.gain_db", "undo g1.gain_db", "redo g1.gain_db"]


def test_undo_after_save_as_into_another_folder_keeps_stems_found(demo, tmp_path):
    demo.set_param("kick_ch", "gain_db", -5.0)
    (tmp_path / "elsewhere").mkdir()
    demo.save(tmp_path / "elsewhere" / "copy.mgraph")
    assert demo.problems() == {}
    demo.undo()
    assert demo.problems() == {}
    demo.redo()
    assert demo.problems() == {}


# ================================================================ link validation
def test_can_connect_is_none_for_a_valid_pair(sess):
    assert sess.can_connect("t2", "g2") is None
    assert sess.can_connect("t.out", "mix.in") is None
    assert sess.can_connect("g2", "out") is None             # several links are summed


@pytest.mark.parametrize("src, dst, words", [
    ("g2", "g1", ["would make a cycle", "g2 -> g1 -> g2"]),
    ("out", "t", ["'out' (output) has no output port"]),
    ("mix", "mix", ["would make a cycle", "mix -> mix"]),
    ("g1.out", "g2.out", ["'out' is an output of 'g2'", "from an output"]),
    ("g1.in", "g2.in", ["'in' is an input of 'g1'", "to an input"]),
    ("g1.nope", "g2", ["'g1' (gain) has no output port 'nope'", "outputs: out"]),
    ("g1", "g2.side", ["'g2' (gain) has no input port 'side'", "inputs: in"]),
    ("t", "g1", ["link t.out -> g1.in already exists"]),
    ("t", "ghost", ["no node 'ghost'"]),
    ("t.", "g1", ["'node' or 'node.port'"]),
])
def test_can_connect_explains_an_impossible_link_and_connect_refuses_it(sess, src, dst,
                                                                        words):
    why = sess.can_connect(src, dst)
    assert isinstance(why, str)
    for word in words:
        assert word in why, (word, why)
    doc = sess.document()
    with pytest.raises(MixgraphError) as info:
        sess.connect(src, dst)
    assert info.value.message == why
    assert sess.document() == doc and not sess.undo_stack


def test_can_connect_names_every_node_of_a_longer_cycle(sess):
    sess.connect("g2", "out")
    why = sess.can_connect("mix", "g1")
    assert why == "link mix.out -> g1.in would make a cycle: mix -> g1 -> g2 -> mix"


# ===================================================== document <-> canvas mapping
def test_views_give_one_node_view_per_node_with_the_types_pins(demo):
    nodes, links = canvas.views(demo.graph, demo.problems())
    assert list(nodes) == list(demo.graph.nodes)
    types_ = node_types()
    for nid, view in nodes.items():
        cls = types_[demo.graph.node(nid).type]
        assert view.type == cls.type_name and view.known and view.problem is None
        assert view.inputs == cls.input_names() and view.outputs == cls.output_names()
    assert nodes["kick_comp"].inputs == ("in", "sidechain")
    assert nodes["lead_ch"].outputs == ("out", "pre")
    assert nodes["kick"].inputs == () and nodes["mix_out"].outputs == ()
    assert nodes["kick"].label == "kick  (stem)"


def test_views_list_one_param_view_per_parameter_in_table_order_with_current_values(demo):
    types_ = node_types()
    for nid in demo.graph.nodes:
        spec = demo.graph.node(nid)
        table = types_[spec.type].param_table()
        shown = [p for p in types_[spec.type].params if not p.template_only and (
            p.used_when is None or spec.params.get(p.used_when[0], table[p.used_when[0]]
                                                    .default) in p.used_when[1])]
        views = canvas.param_views(demo.graph, nid)
        assert [p.name for p in views] == [p.name for p in shown]
        for pv, p in zip(views, shown):
            assert pv.value == spec.params.get(p.name, p.default), (nid, p.name)
            assert pv.spec == spec_for(p)
    kick_ch = {p.name: p.value for p in canvas.param_views(demo.graph, "kick_ch")}
    assert kick_ch["gain_db"] == -2.0 and kick_ch["width"] == 1.0 and kick_ch["mute"] is False
    # a stereo strip shows its pan, a surround one its panner instead
    assert list(kick_ch) == ["gain_db", "pan", "mute", "solo", "polarity_invert", "width",
                             "output"]
    demo.graph.set("kick_ch", "output", "5.1")
    assert [p.name for p in canvas.param_views(demo.graph, "kick_ch")] == [
        "gain_db", "mute", "solo", "polarity_invert", "width", "output", "azimuth_deg",
        "spread", "width_deg", "elevation_deg", "lfe_db", "lfe_hz"]


def test_a_compact_node_shows_its_key_controls_and_an_expanded_one_all(demo):
    from mixgraph.editor.widgets import key_params

    nodes, _ = canvas.views(demo.graph)
    assert [p.name for p in nodes["kick_ch"].params] == ["gain_db", "pan", "mute", "solo"]
    assert nodes["kick_ch"].more == 3             # polarity, width, output: the panel
    assert [p.name for p in nodes["kick_comp"].params] == ["threshold_db", "ratio"]
    assert nodes["kick_eq"].params == [] and nodes["kick_eq"].more == 1
    for nid, view in nodes.items():
        cls = node_types()[view.type]
        assert [p.name for p in view.params] == [n for n in (p.name for p in cls.params)
                                                 if n in key_params(cls)]
    demo.graph.ui["kick_eq"] = dict(demo.graph.ui.get("kick_eq", {}), expanded=True)
    nodes, _ = canvas.views(demo.graph)
    assert [p.name for p in nodes["kick_eq"].params] == ["bands"] and not nodes["kick_eq"].more


def test_views_widget_specs_follow_the_parameter_tables(demo):
    def spec(nid, name):
        return next(p.spec for p in canvas.param_views(demo.graph, nid) if p.name == name)

    gain = spec("kick_ch", "gain_db")
    assert (gain.kind, gain.format, gain.min, gain.max) == ("drag_float", "%.1f dB", -120.0,
                                                            24.0)
    assert gain.automatable
    assert spec("plate", "decay_s").format == "%.2f s"
    assert spec("echo", "lowpass_hz").format == "%.0f Hz"
    assert spec("kick_comp", "attack_ms").format == "%.1f ms"
    assert spec("master_loudness", "target_lufs").format == "%.1f LUFS"
    assert spec("kick_ch", "pan").format == "%.3f"                       # unitless, span 2
    assert (spec("kick_comp", "detector").kind, spec("kick_comp", "detector").items) == \
        ("combo", ["peak", "rms"])
    assert spec("master_out", "format").items == ["(auto)", "wav", "flac", "aiff", "rf64", "w64",
                                                  "mp3", "ogg", "opus"]
    dither = spec("master_dither", "bit_depth")
    assert (dither.kind, dither.items) == ("combo", ["16", "24"])
    assert spec("kick_ch", "mute").kind == "checkbox"
    eq_bands = spec("kick_eq", "bands")
    assert eq_bands.kind == "items"
    assert [f.label for f in eq_bands.fields] == ["on", "type", "freq_hz", "gain_db", "q",
                                                   "slope_db_oct"]
    glue_bands = spec("master_glue", "bands")      # a compressor's settings, not EQ fields
    assert glue_bands.kind == "items"
    assert [f.label for f in glue_bands.fields] == ["threshold_db", "ratio", "knee_db",
                                                     "attack_ms", "release_ms", "makeup_db"]
    assert spec("master_glue", "crossovers_hz").kind == "list"
    assert spec("drums", "members").kind == "members"
    values = {nid: {p.name: p.value for p in canvas.param_views(demo.graph, nid)}
              for nid in ("drums", "kick", "kick_eq")}
    assert values["drums"]["members"] == ["kick_ch", "snare_ch", "hats_ch"]
    assert spec("kick", "path").kind == "path"
    assert values["kick"]["path"] == "stems/kick.wav"
    assert values["kick_eq"]["bands"] == demo.graph.node("kick_eq").params["bands"]
    assert spec("master_out", "sample_rate").kind == "drag_int"


def test_template_only_stem_parameters_show_only_in_a_template(tmp_path):
    t = Graph(base_dir=tmp_path)
    t.kind = "template"
    t.add("stem", id="kick", path="", match=["kick*", "bd*"], multiple=True)
    t.add("output", id="out", path="out.wav")
    t.connect("kick", "out")
    assert [p.name for p in canvas.param_views(t, "kick")] == [
        "path", "gain_db", "regions", "crossfade", "crossfade_ms", "channel_order", "match",
        "fallback",
        "family", "prefer", "avoid", "side", "multiple"]
    params = {p.name: p.value for p in canvas.param_views(t, "kick")}
    assert params["match"] == ["kick*", "bd*"] and params["multiple"] is True
    assert params["fallback"] == []

    doc = t.to_document()
    del doc["kind"]
    project = Graph.from_document(doc, base_dir=tmp_path)
    assert [p.name for p in canvas.param_views(project, "kick")] == [
        "path", "gain_db", "regions", "crossfade", "crossfade_ms", "channel_order"]


def test_automated_parameters_are_marked_automated(sess):
    sess.set_param("mix", "gain_db", AUTOMATION)
    views = canvas.param_views(sess.graph, "mix")
    marked = {p.name: p.automated for p in views}
    assert marked == {"gain_db": True, "pan": False, "mute": False, "solo": False}
    assert {p.name: p.value for p in views}["gain_db"] == AUTOMATION
    assert describe_automation(AUTOMATION) == "2 points, linear, -60 to 0"


def test_positions_come_from_the_ui_section_and_a_grid_otherwise(tmp_path):
    g = Graph(base_dir=tmp_path)
    for i in range(8):
        g.add("tone", id=f"t{i}")
    g.ui["t3"] = {"pos": [777.5, -12.0]}
    g.ui["t4"] = {"pos": "nonsense"}                       # a broken entry: use the grid
    nodes, _ = canvas.views(g)
    assert nodes["t3"].pos == (777.5, -12.0)
    gx, gy = canvas.GRID
    for i in (0, 1, 2, 4, 5, 6, 7):
        assert nodes[f"t{i}"].pos == (20 + gx * (i % 6), 20 + gy * (i // 6))
    assert len({v.pos for v in nodes.values()}) == 8
    assert canvas.bounds(nodes) == (20.0, -12.0, 20.0 + 5 * gx + gx, 20.0 + gy + gy)
    assert canvas.bounds({}) == (0.0, 0.0, 0.0, 0.0)


def test_a_missing_stem_file_marks_that_stem_node_with_a_message_naming_the_file(tmp_path):
    write_demo(tmp_path / "demo")
    (tmp_path / "demo" / "stems" / "hats.wav").unlink()
    s = Session.open(tmp_path / "demo" / "demo.mgraph")
    problems = s.problems()
    assert list(problems) == ["hats"]
    nodes, _ = canvas.views(s.graph, problems)
    assert "hats.wav" in nodes["hats"].problem and "not found" in nodes["hats"].problem
    assert [nid for nid, v in nodes.items() if v.problem] == ["hats"]


def test_problems_without_a_node_are_kept_apart_from_the_nodes(tmp_path):
    s = Session(Graph(base_dir=tmp_path))
    s.add_node("tone", node_id="t")
    problems = s.problems()
    assert "output" in problems[None][0]
    nodes, _ = canvas.views(s.graph, problems)
    assert nodes["t"].problem is None


def test_unknown_node_types_are_shown_with_a_problem_instead_of_crashing(tmp_path):
    doc = {"format": "mixgraph", "version": 1, "sample_rate": SR,
           "nodes": [{"id": "t", "type": "tone"},
                     {"id": "x", "type": "mystery_fx", "params": {"amount": 3}},
                     {"id": "o", "type": "output", "params": {"path": "o.wav"}}],
           "links": [["t", "x"], ["x", "o"]]}
    s = Session(Graph.from_document(doc, base_dir=tmp_path))
    nodes, _ = canvas.views(s.graph)                       # no problems given
    x = nodes["x"]
    assert not x.known and x.params == [] and x.inputs == () and x.outputs == ()
    assert "unknown node type 'mystery_fx'" in x.problem
    problems = s.problems()
    nodes, _ = canvas.views(s.graph, problems)
    assert "mystery_fx" in nodes["x"].problem
    assert nodes["t"].known and nodes["t"].problem is None
    s.arrange()                                            # layout copes too
    s.move_nodes({"x": (1, 2)})
    assert canvas.views(s.graph)[0]["x"].pos == (1.0, 2.0)


def test_links_to_a_node_of_unknown_type_keep_their_document_text(tmp_path):
    doc = {"format": "mixgraph", "version": 1, "sample_rate": SR,
           "nodes": [{"id": "t", "type": "tone"}, {"id": "x", "type": "mystery_fx"},
                     {"id": "o", "type": "output", "params": {"path": "o.wav"}}],
           "links": [["t", "x"], ["x", "o"]]}
    g = Graph.from_document(doc, base_dir=tmp_path)
    _, links = canvas.views(g)
    assert links == links_of(g.to_document())


def test_a_document_rebuilt_from_the_views_matches_the_sessions_document(demo):
    demo.set_param("lead_ch", "gain_db", AUTOMATION)
    doc = demo.document()
    nodes, links = canvas.views(demo.graph, demo.problems())
    types_ = node_types()
    rebuilt_nodes = []
    for v in nodes.values():
        defaults = {p.name: p.default for p in types_[v.type].params}
        every = {p.name: p.value for p in canvas.param_views(demo.graph, v.id)}
        params = {k: val for k, val in every.items()
                  if k not in defaults or val != defaults[k]}
        rebuilt_nodes.append({"id": v.id, "type": v.type, **({"params": params}
                                                              if params else {})})
    rebuilt_ui = {v.id: {"pos": list(v.pos)} for v in nodes.values()}
    # parameters set to their default value are written in the file; compare with them too
    written = [{"id": n["id"], "type": n["type"], **(
        {"params": {k: val for k, val in n["params"].items()
                    if val != types_[n["type"]].param_table()[k].default}}
        if any(val != types_[n["type"]].param_table()[k].default
               for k, val in n.get("params", {}).items()) else {})} for n in doc["nodes"]]
    assert rebuilt_nodes == written
    assert rebuilt_ui == doc["ui"]
    assert links == links_of(doc)
    # and every value the document holds is what its widget shows
    for n in doc["nodes"]:
        shown = {p.name: p.value for p in canvas.param_views(demo.graph, n["id"])}
        for k, val in n.get("params", {}).items():
            assert shown[k] == val


# ------------------------------------------------------------------- changes()
def shown(s: Session):
    return canvas.views(s.graph, s.problems())


def test_no_change_gives_empty_changes(demo):
    assert canvas.changes(shown(demo), shown(demo)).empty


def test_adding_a_node_creates_only_that_node(demo):
    old = shown(demo)
    nid = demo.add_node("limiter", (40, 900))
    c = canvas.changes(old, shown(demo))
    assert c.create == [nid]
    assert (c.delete, c.refresh, c.move, c.links_add, c.links_remove) == ([], [], [], set(),
                                                                          set())


def test_editing_a_value_refreshes_only_that_node(demo):
    old = shown(demo)
    demo.set_param("plate", "decay_s", 2.5)
    c = canvas.changes(old, shown(demo))
    assert c.refresh == ["plate"]
    assert (c.create, c.delete, c.move, c.links_add, c.links_remove) == ([], [], [], set(),
                                                                         set())


def test_moving_a_node_only_moves_it(demo):
    old = shown(demo)
    demo.move_nodes({"echo": (12.0, 34.0)})
    c = canvas.changes(old, shown(demo))
    assert c.move == ["echo"]
    assert (c.create, c.delete, c.refresh, c.links_add, c.links_remove) == ([], [], [], set(),
                                                                            set())


def test_removing_a_node_deletes_it_and_its_links(demo):
    old = shown(demo)
    demo.remove_nodes(["echo"])
    c = canvas.changes(old, shown(demo))
    assert c.delete == ["echo"]
    assert c.links_remove == {("lead_delay_send.out", "echo.in"), ("echo.out", "fx.in")}
    assert (c.create, c.refresh, c.move, c.links_add) == ([], [], [], set())


def test_a_link_change_only_adds_or_removes_links(demo):
    old = shown(demo)
    demo.connect("keys_ch.pre", "fx")
    c = canvas.changes(old, shown(demo))
    assert c.links_add == {("keys_ch.pre", "fx.in")} and c.links_remove == set()
    assert (c.create, c.delete, c.refresh, c.move) == ([], [], [], [])
    old = shown(demo)
    demo.disconnect("keys_ch.pre", "fx")
    c = canvas.changes(old, shown(demo))
    assert c.links_remove == {("keys_ch.pre", "fx.in")} and c.links_add == set()
    assert (c.create, c.delete, c.refresh, c.move) == ([], [], [], [])


def test_automating_a_parameter_redraws_that_node_and_its_links(demo):
    old = shown(demo)
    demo.set_param("bass_ch", "gain_db", AUTOMATION)
    c = canvas.changes(old, shown(demo))
    assert c.delete == ["bass_ch"] and c.create == ["bass_ch"]
    assert c.refresh == [] and c.move == [] and c.links_remove == set()
    assert c.links_add == {l for l in old[1] if "bass_ch" in (l[0].split(".")[0],
                                                               l[1].split(".")[0])}


def test_a_new_problem_refreshes_the_node_it_concerns(demo):
    old = shown(demo)
    demo.set_param("snare", "path", "stems/nowhere.wav")
    c = canvas.changes(old, shown(demo))
    assert c.refresh == ["snare"]
    assert "nowhere.wav" in shown(demo)[0]["snare"].problem


def test_undo_of_an_edit_gives_the_inverse_changes(demo):
    old = shown(demo)
    nid = demo.add_node("gate", (0, 0))
    mid = shown(demo)
    demo.undo()
    c = canvas.changes(mid, shown(demo))
    assert c.delete == [nid] and not (c.create or c.refresh or c.move)
    assert canvas.changes(old, shown(demo)).empty


def test_renaming_a_node_replaces_it_and_its_links_on_the_canvas(demo):
    old = shown(demo)
    demo.rename("echo", "tape_echo")
    c = canvas.changes(old, shown(demo))
    assert c.delete == ["echo"] and c.create == ["tape_echo"]
    assert c.links_remove == {("lead_delay_send.out", "echo.in"), ("echo.out", "fx.in")}
    assert c.links_add == {("lead_delay_send.out", "tape_echo.in"), ("tape_echo.out", "fx.in")}


# ======================================================================== widgets
def representative_values(p: Param) -> list:
    if p.kind == "float":
        vals = [p.default]
        if p.min is not None:
            vals.append(float(p.min))
        if p.max is not None:
            vals.append(float(p.max))
        if p.min is not None and p.max is not None:
            vals.append((p.min + p.max) / 2)
        return vals
    if p.kind == "int":
        if p.choices:
            return list(p.choices)
        return [p.default] + [int(v) for v in (p.min, p.max) if v is not None]
    if p.kind == "choice":
        return list(p.choices)
    if p.kind == "bool":
        return [True, False]
    if p.kind in ("str", "path"):
        return [p.default, "stems/kick drum.wav"]
    return [p.default]


ALL_PARAMS = [(t, p) for t, cls in node_types().items() for p in cls.params]


@pytest.mark.parametrize("type_name, param", ALL_PARAMS,
                         ids=[f"{t}.{p.name}" for t, p in ALL_PARAMS])
def test_every_parameter_gets_a_known_widget_and_values_round_trip_through_it(type_name,
                                                                             param):
    spec = spec_for(param)
    assert spec.kind in WIDGET_KINDS
    assert spec.label == param.name
    for v in representative_values(param):
        shown_v = shown_value(param, v)
        back = model_value(param, shown_v)
        assert back == v and type(back) is type(v), (v, shown_v, back)
        if spec.kind == "combo":
            assert shown_v in spec.items
    if spec.kind == "drag_float":
        assert spec.min == (param.min if param.min is not None else -1e6)
        assert spec.max == (param.max if param.max is not None else 1e6)
        assert spec.min <= param.default <= spec.max and spec.speed > 0
        assert spec.automatable == bool(param.automatable)
    if param.kind == "choice" and "" in param.choices:
        assert shown_value(param, "") == "(auto)" and model_value(param, "(auto)") == ""
    if param.kind == "int" and param.choices:
        assert spec.items == [str(c) for c in param.choices]


def test_describe_automation_says_points_curve_and_range():
    assert describe_automation({"automation": [[0, 100], [1, 6400], [2, 800]],
                                "curve": "exponential"}) == \
        "3 points, exponential, 100 to 6400"
    assert describe_automation({"automation": []}) == "automated"


# ============================================================ list editor (items)
def multiband_in(s: Session, crossovers: list[float] | None = None) -> str:
    """A multiband compressor wired g2 -> mb -> mix, as the palette adds it."""
    params = {} if crossovers is None else {"crossovers_hz": crossovers}
    mb = s.add_node("multiband_compressor", (300, 300), "mb", **params)
    s.connect("g2", mb)
    s.connect(mb, "mix")
    return mb


def test_plus_band_on_a_multiband_adds_a_compressor_band_the_node_accepts(sess):
    mb = multiband_in(sess)
    sess.add_item(mb, "bands")                             # the list editor's "+ band"
    (band,) = sess.graph.node(mb).params["bands"]
    assert band == {"threshold_db": -18.0, "ratio": 2.0, "knee_db": 6.0, "attack_ms": 20.0,
                    "release_ms": 150.0, "makeup_db": 0.0}
    assert not {"type", "freq_hz", "gain_db", "q"} & set(band)
    assert sess.problems() == {}
    node = node_types()["multiband_compressor"](**sess.graph.node(mb).params)
    node.prepare(Context(sample_rate=SR, max_block=256, input_channels=(2,)))
    x = np.random.default_rng(3).standard_normal((2, 256)) * 0.1
    out = np.empty_like(x)
    node.process((x,), (out,), 0)
    assert np.all(np.isfinite(out))
    assert sess.undo_stack[-1].label == "add band to mb.bands"


def test_plus_band_stops_where_the_multiband_crossovers_do(sess):
    mb = multiband_in(sess, crossovers=[500.0])            # one crossover: two bands
    sess.add_item(mb, "bands")
    sess.add_item(mb, "bands")
    before = sess.document()
    with pytest.raises(MixgraphError, match=r"has 3 bands, but 1 crossover makes 2 bands"):
        sess.add_item(mb, "bands")
    assert sess.document() == before and len(sess.graph.node(mb).params["bands"]) == 2


def test_plus_band_on_an_eq_adds_the_declared_default_band(sess):
    sess.add_node("eq", (0, 0), "eq1")
    sess.add_item("eq1", "bands")
    assert sess.graph.node("eq1").params["bands"] == [
        {"on": True, "type": "bell", "freq_hz": 1000.0, "gain_db": 0.0, "q": 0.7071}]


def test_set_item_changes_one_field_checked_by_its_declaration(sess):
    sess.add_node("eq", (0, 0), "eq1", bands=[{"type": "bell", "freq_hz": 300.0}])
    end_drag(sess)
    for f in (310.0, 320.0, 330.0):                        # a drag on one field: one step
        sess.set_item("eq1", "bands", 0, "freq_hz", f)
    sess.set_item("eq1", "bands", 0, "type", "highpass")
    assert sess.graph.node("eq1").params["bands"] == [{"type": "highpass", "freq_hz": 330.0}]
    assert [s.label for s in sess.undo_stack[-2:]] == ["eq1.bands band 0 freq_hz",
                                                       "eq1.bands band 0 type"]
    with pytest.raises(MixgraphError, match=r"node 'eq1': bands: band 0 freq_hz must be "
                                            r"between 5 and 96000 Hz, got 1.0"):
        sess.set_item("eq1", "bands", 0, "freq_hz", 1.0)
    with pytest.raises(MixgraphError, match=r"node 'eq1': bands has no band 3"):
        sess.set_item("eq1", "bands", 3, "freq_hz", 100.0)
    with pytest.raises(MixgraphError, match=r"node 'g1': gain_db is not a list of items"):
        sess.add_item("g1", "gain_db")
    sess.remove_item("eq1", "bands", 0)
    assert sess.graph.node("eq1").params["bands"] == []
    sess.undo()
    assert sess.graph.node("eq1").params["bands"] == [{"type": "highpass", "freq_hz": 330.0}]


def test_item_rows_show_the_fields_each_item_uses_in_compact_widgets():
    eq = spec_for(node_types()["eq"].param_table()["bands"])
    fields = {f.label: f for f in eq.fields}
    assert fields["freq_hz"].format == "%.0f Hz" and fields["gain_db"].format == "%.1f dB"
    assert fields["q"].format == "q %.2f"                  # no unit: its name says it
    assert fields["type"].kind == "combo" and fields["slope_db_oct"].items == ["12", "24",
                                                                               "36", "48"]
    assert fields["on"].kind == "checkbox"

    def labels(spec, names):
        return [[f.label for f in line] for line in item_lines(spec, names)]

    assert labels(eq, ["on", "type", "freq_hz", "gain_db", "q"]) == \
        [["on", "type", "freq_hz", "gain_db", "q"]]
    assert labels(eq, ["on", "type", "freq_hz", "slope_db_oct"]) == \
        [["on", "type", "freq_hz", "slope_db_oct"]]
    mb = spec_for(node_types()["multiband_compressor"].param_table()["bands"])
    formats = [f.format for f in mb.fields]
    assert formats == ["threshold %.1f dB", "ratio %.2f", "knee %.1f dB", "attack %.1f ms",
                       "release %.1f ms", "makeup %.1f dB"]     # dB and ms appear twice
    assert labels(mb, [f.label for f in mb.fields]) == \
        [["threshold_db", "ratio", "knee_db"], ["attack_ms", "release_ms", "makeup_db"]]
    assert all(f.width > 0 for f in eq.fields + mb.fields)


# ===================================================================== render job
def wait_done(job: RenderJob, timeout: float = 30.0) -> None:
    assert job.wait(timeout), "the render job did not finish"
    assert job.done


@pytest.fixture
def no_thread_errors(monkeypatch):
    """Collect exceptions escaping any thread."""
    escaped = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args))
    return escaped


def test_render_job_runs_in_the_background_and_reports_loudness_and_plots(tmp_path,
                                                                         no_thread_errors):
    s = Session(tone_project(tmp_path))
    job = RenderJob(s.graph, plot_points=300)
    assert not job.done and job.progress == 0.0
    seen, callers = [], set()
    report_progress = job._progress

    def spy(done, total):
        callers.add(threading.current_thread().name)
        report_progress(done, total)

    job._progress = spy
    job.start()
    while not job.done:
        seen.append(job.progress)
        time.sleep(0.005)
    wait_done(job)
    assert job.error is None and not job.cancelled and job.progress == 1.0
    assert callers == {"mixgraph-render"}                   # rendered off the caller's thread
    assert all(0.0 <= p <= 1.0 for p in seen) and seen == sorted(seen)
    assert {o["node"] for o in job.report.outputs} == {"out", "pre"}
    out = job.report.output("out")
    for key in ("integrated_lufs", "momentary_max_lufs", "short_term_max_lufs", "lra_lu",
                "true_peak_dbtp", "sample_peak_dbfs"):
        assert key in out
    assert math.isfinite(out["integrated_lufs"])
    assert set(job.plots) == {"out", "pre"}
    plot = job.plots["out"]
    assert 0 < len(plot["time_s"]) == len(plot["min"]) == len(plot["max"]) <= 300
    assert all(lo <= hi for lo, hi in zip(plot["min"], plot["max"]))
    assert plot["time_s"] == sorted(plot["time_s"])
    audio = read(tmp_path / "out" / "out.wav").mean(axis=0)
    assert max(plot["max"]) == pytest.approx(audio.max(), abs=1e-6)
    assert min(plot["min"]) == pytest.approx(audio.min(), abs=1e-6)
    assert len(plot["momentary_time_s"]) == len(plot["momentary_lufs"]) > 0
    assert len(plot["short_term_time_s"]) == len(plot["short_term_lufs"])
    assert all(math.isfinite(v) for v in plot["momentary_lufs"] + plot["short_term_lufs"])
    assert plot["figures"]["integrated_lufs"] == pytest.approx(out["integrated_lufs"],
                                                               abs=0.05)
    assert not no_thread_errors


def test_render_job_renders_a_snapshot_not_later_edits(tmp_path):
    s = Session(tone_project(tmp_path))
    job = RenderJob(s.graph).start()
    s.set_param("ch", "gain_db", -40.0)
    s.set_param("out", "path", "out/other.wav")
    s.remove_nodes(["pre"])
    wait_done(job)
    assert job.error is None
    out = job.report.output("out")
    assert Path(out["path"]) == tmp_path / "out" / "out.wav"
    assert not (tmp_path / "out" / "other.wav").exists()
    assert {o["node"] for o in job.report.outputs} == {"out", "pre"}
    assert out["sample_peak_dbfs"] > -15.0            # -6 dBFS tone, -3 dB fader, panned
    # the session's graph is the edited one
    assert s.graph.node("ch").params["gain_db"] == -40.0


def test_cancelling_a_render_job_writes_nothing(tmp_path, no_thread_errors):
    g = Graph(base_dir=tmp_path)
    g.add("tone", id="t", duration_s=900.0)
    g.add("output", id="o", path="out/long.wav", subtype="FLOAT")
    g.connect("t", "o")
    job = RenderJob(g).start()
    t0 = time.monotonic()
    while job.progress == 0.0 and not job.done and time.monotonic() - t0 < 20:
        time.sleep(0.002)
    assert not job.done, "the long render finished before it could be cancelled"
    job.cancel()
    wait_done(job)
    assert job.cancelled and job.error is None and job.report is None
    assert job.progress < 1.0 and job.plots == {}
    assert not (tmp_path / "out" / "long.wav").exists()
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()
                 and "xdg" not in p.relative_to(tmp_path).parts]
    assert leftovers == []
    assert not no_thread_errors


def test_render_job_with_a_missing_stem_ends_with_the_validation_message(tmp_path,
                                                                        no_thread_errors):
    s = Session(Graph(base_dir=tmp_path))
    s.add_node("stem", node_id="vox", path="stems/vox_take3.wav")
    s.add_node("output", node_id="out", path="out.wav")
    s.connect("vox", "out")
    expected = s.problems()["vox"][0]
    job = RenderJob(s.graph).start()
    wait_done(job)
    assert job.error == expected
    assert "vox_take3.wav" in job.error and "not found" in job.error
    assert job.report is None and not job.cancelled and job.plots == {}
    assert not (tmp_path / "out.wav").exists()
    assert not no_thread_errors


def test_a_failing_node_ends_the_job_with_an_internal_error_message(tmp_path,
                                                                   no_thread_errors):
    g = Graph(base_dir=tmp_path)
    g.add("tone", id="t", duration_s=0.5)
    g.add("test_fail", id="boom", at=1000)
    g.add("output", id="o", path="o.wav")
    g.connect("t", "boom")
    g.connect("boom", "o")
    job = RenderJob(g).start()
    wait_done(job)
    assert job.error == "internal error: RuntimeError: test node failed on purpose"
    assert job.report is None and not (tmp_path / "o.wav").exists()
    assert not no_thread_errors


def test_plot_data_of_a_silent_file_has_finite_loudness(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros((SR // 2, 2)), SR, subtype="FLOAT")
    plot = plot_data(path, points=50)
    assert len(plot["time_s"]) == len(plot["min"]) == len(plot["max"]) == 50
    assert set(plot["min"]) == set(plot["max"]) == {0.0}
    assert all(v == -70.0 for v in plot["momentary_lufs"])


# ======================================================================== preview
def test_preview_streams_what_the_render_writes_from_the_start_position(tmp_path):
    g = tone_project(tmp_path)
    render(g)
    out = read(tmp_path / "out" / "out.wav")
    pre = read(tmp_path / "out" / "pre.wav")
    start = int(round(0.3 * SR))
    for source, written in (("out", out), ("ch.pre", pre), ("ch", out), ("ch.out", out),
                            ("t", pre)):
        blocks = list(preview(g, source, start_s=0.3, block_size=1000))
        starts = [b for b, _ in blocks]
        assert starts[0] == start
        assert starts == list(range(start, start + 1000 * len(blocks), 1000))
        x = np.concatenate([blk for _, blk in blocks], axis=1)
        assert x.shape[0] == written.shape[0]
        n = written.shape[1] - start
        assert x.shape[1] >= n
        np.testing.assert_allclose(x[:, :n], written[:, start:], rtol=0, atol=1e-6,
                                   err_msg=source)
        assert np.abs(x[:, n:]).max() < 1e-9                       # no tail: silence
    assert not list((tmp_path / "out").glob("*.tmp*"))


def test_preview_refuses_an_unknown_node_or_port(tmp_path):
    g = tone_project(tmp_path)
    with pytest.raises(MixgraphError, match="no such node"):
        next(preview(g, "ghost"))
    with pytest.raises(MixgraphError, match="no output port 'side'"):
        next(preview(g, "ch.side"))


def test_preview_writes_no_files(tmp_path):
    g = tone_project(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    for _ in preview(g, "out"):
        pass
    assert not (tmp_path / "out").exists()
    assert sorted(tmp_path.rglob("*")) == before


# ======================================================================= recovery
def test_autosave_writes_a_recovery_file_for_the_project(demo, tmp_path, _own_user_dir):
    project = tmp_path / "demo" / "demo.mgraph"
    demo.set_param("kick_ch", "gain_db", -11.0)
    doc = demo.document()
    target = recovery.autosave(demo)
    assert target == recovery.recovery_path(project) == recovery.recovery_path(demo.path)
    assert target.exists() and _own_user_dir in target.parents
    assert target != recovery.recovery_path(tmp_path / "another.mgraph")
    assert target != recovery.recovery_path(None)
    assert demo.document() == doc                     # autosave does not touch the session
    assert demo.dirty


def test_pending_offers_the_recovery_file_only_when_newer_than_the_project(demo, tmp_path):
    project = tmp_path / "demo" / "demo.mgraph"
    assert recovery.pending(project) is None                          # nothing saved yet
    demo.set_param("kick_ch", "gain_db", -11.0)
    target = recovery.autosave(demo)
    now = time.time()
    os.utime(project, (now - 100, now - 100))
    os.utime(target, (now, now))
    assert recovery.pending(project) == target
    os.utime(project, (now + 10, now + 10))                            # saved since
    assert recovery.pending(project) is None
    os.utime(project, (now, now))                                      # same moment
    assert recovery.pending(project) is None
    project.unlink()                                                   # project gone
    assert recovery.pending(project) == target


def test_recovered_document_gives_back_the_unsaved_edits(demo, tmp_path):
    saved = demo.document()
    demo.set_param("kick_ch", "gain_db", -11.0)
    demo.add_node("limiter", (5, 5), "safety")
    demo.connect("mix", "safety")
    edited = demo.document()
    target = recovery.autosave(demo)
    doc = recovery.recovered_document(target)
    assert "recovery_of" not in doc.get("meta", {}) and "recovered_at" not in doc.get("meta",
                                                                                      {})
    graph = Graph.from_document(doc, base_dir=demo.graph.base_dir)
    assert graph.to_document() == edited != saved
    fresh = Session.open(tmp_path / "demo" / "demo.mgraph")           # the next start
    fresh.replace_graph(graph, "recover")
    assert fresh.document() == edited and fresh.dirty
    fresh.undo()
    assert fresh.document() == saved


def test_clear_removes_the_recovery_file(demo):
    target = recovery.autosave(demo)
    recovery.clear(demo.path)
    assert not target.exists() and recovery.pending(demo.path) is None
    recovery.clear(demo.path)                                          # twice is fine


def test_an_untitled_session_uses_the_untitled_recovery_file(_own_user_dir):
    s = Session()
    s.add_node("tone", node_id="a")
    target = recovery.autosave(s)
    assert target.name == "untitled.json" and target == recovery.recovery_path(None)
    assert recovery.pending(None) == target
    doc = recovery.recovered_document(target)
    assert Graph.from_document(doc).to_document() == s.document()
    recovery.clear(None)
    assert recovery.pending(None) is None


# ========================================================================= player
def test_probe_returns_availability_and_a_sentence_without_raising():
    ok, reason = player_mod.probe()
    assert isinstance(ok, bool) and isinstance(reason, str) and reason
    p = player_mod.Player()
    assert (p.available, p.reason) == (ok, reason)


def test_without_sounddevice_play_raises_the_probes_sentence(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    ok, reason = player_mod.probe()
    assert not ok and "install sounddevice" in reason and "libportaudio2" in reason
    p = player_mod.Player()
    assert not p.available and p.reason == reason
    with pytest.raises(RuntimeError) as info:
        p.play(tone_project(tmp_path), "out")
    assert str(info.value) == reason
    assert not p.playing


@pytest.mark.parametrize("failure, words", [
    ("raise ImportError('libportaudio.so.2: cannot open shared object file')",
     "install sounddevice"),
    ("raise OSError('PortAudio library not found')", "PortAudio library not found"),
])
def test_probe_explains_a_broken_sounddevice_install(tmp_path, monkeypatch, failure, words):
    (tmp_path / "sounddevice.py").write_text(failure + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    ok, reason = player_mod.probe()
    assert not ok and reason.startswith("no audio playback") and words in reason


def test_an_unavailable_player_says_why_when_asked_to_play(tmp_path, monkeypatch):
    monkeypatch.setattr(player_mod, "probe", lambda: (False, "no audio output device"))
    p = player_mod.Player()
    with pytest.raises(RuntimeError, match="^no audio output device$"):
        p.play(tone_project(tmp_path), "out", start_s=0.5)
    p.stop()                                                           # harmless


def fake_sounddevice(devices=None, error=None):
    """A sound card in a thread: each period it calls the stream's callback and keeps
    what it was given."""
    mod = types.ModuleType("sounddevice")
    mod.written = []

    def query_devices(device=None, kind=None):
        if error:
            raise error
        return devices

    class OutputStream:
        def __init__(self, samplerate, channels, dtype, blocksize, device, callback):
            self.args = (samplerate, channels, dtype, blocksize)
            self.callback = callback
            self.running = False
            mod.stream = self

        def start(self):
            import threading

            self.running = True
            self.thread = threading.Thread(target=self.run, daemon=True)
            self.thread.start()

        def run(self):
            status = types.SimpleNamespace(output_underflow=False)
            while self.running:
                out = np.zeros((self.args[3], self.args[1]), dtype=np.float32)
                self.callback(out, self.args[3], None, status)
                mod.written.append(out)
                time.sleep(0.5 * self.args[3] / self.args[0])      # faster than real time

        def stop(self):
            self.running = False
            self.thread.join()

        def close(self):
            mod.closed = True

    mod.query_devices = query_devices
    mod.OutputStream = OutputStream
    mod.PortAudioError = type("PortAudioError", (Exception,), {})
    return mod


def test_probe_reports_a_missing_output_device(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice",
                        fake_sounddevice(error=RuntimeError("Error querying device -1\nx")))
    ok, reason = player_mod.probe()
    assert not ok and reason == "no audio output device (Error querying device -1)"
    monkeypatch.setitem(sys.modules, "sounddevice",
                        fake_sounddevice({"name": "HDMI", "max_output_channels": 0}))
    assert player_mod.probe() == (False, "no stereo audio output device")


def test_the_player_plays_live_at_monitor_level_and_hears_an_edit(tmp_path, monkeypatch):
    """The player runs the live engine into the device: what the device got is the
    render at the monitor level up to the edit, and the edited graph after it."""
    sd = fake_sounddevice({"name": "Studio Monitors", "max_output_channels": 2})
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    g = tone_project(tmp_path, seconds=2.0)
    p = player_mod.Player()
    assert p.available and p.reason == "plays through Studio Monitors"
    p.monitor.level_db = -6.0
    p.play(g, "out", start_s=0.05)                      # started in a thread of its own
    t0 = time.monotonic()
    while not p.playing and time.monotonic() - t0 < 20:
        time.sleep(0.01)
    assert p.playing and sd.stream.args == (SR, 2, "float32", 512)
    edited = g.copy()
    edited.set("ch", "gain_db", -23.0)
    t0 = time.monotonic()
    while p.position_s < 0.5 and time.monotonic() - t0 < 20:
        time.sleep(0.01)
    p.edit(edited)
    while not p.finished() and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    assert not p.playing and p.error is None and sd.closed
    heard = np.concatenate(sd.written, axis=0).T
    heard = heard[:, :np.flatnonzero(np.abs(heard).max(axis=0) > 0)[-1] + 1]
    expect = np.concatenate([b for _, b in preview(g, "out", start_s=0.05)], axis=1)
    quiet = np.concatenate([b for _, b in preview(edited, "out", start_s=0.05)], axis=1)
    level = 10 ** (-6 / 20)
    n = min(heard.shape[1], expect.shape[1])
    before = np.abs(heard[:, :n] - expect[:, :n] * level).max(axis=0) < 1e-6
    after = np.abs(heard[:, :n] - quiet[:, :n] * level).max(axis=0) < 1e-6
    edit_at = np.flatnonzero(~before)[0]
    assert edit_at > 0.4 * SR and before[:edit_at].all()
    assert after[edit_at + int(0.011 * SR):].all()            # the 10 ms glide, then -20 dB


def test_a_player_that_cannot_start_says_why_and_stops(tmp_path, monkeypatch):
    sd = fake_sounddevice({"name": "Studio Monitors", "max_output_channels": 2})
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    p = player_mod.Player()
    p.play(tone_project(tmp_path, seconds=1.0), "out", start_s=5.0)
    t0 = time.monotonic()
    while not p.finished() and time.monotonic() - t0 < 20:
        time.sleep(0.01)
    assert not p.playing and not p.starting
    assert p.error == "nothing to play from 5 s: the song is 1.0 s long"


def test_listening_points_offer_the_master_first_then_every_port():
    g = Graph(sample_rate=SR)
    g.add("tone", id="t", duration_s=1.0)
    g.add("channel", id="ch")
    g.add("output", id="mix_out", path="mix.wav")
    g.add("limiter", id="lim")
    g.add("output", id="master", path="master.wav")
    for a, b in (("t", "ch"), ("ch", "mix_out"), ("ch", "lim"), ("lim", "master")):
        g.connect(a, b)
    points = player_mod.listening_points(g)
    assert points[:2] == ["master", "mix_out"]
    assert {"t.out", "ch.out", "ch.pre", "lim.out"} <= set(points[2:])


def test_a_meter_line_says_peak_loudness_and_gain_reduction():
    fill, words = player_mod.meter_line({"peak_db": [-12.0, -6.0], "rms_db": [-15.0, -9.0],
                                         "momentary_lufs": -10.04,
                                         "gain_reduction_db": 3.21})
    assert fill == pytest.approx(0.9) and words == "-6.0 dB  M -10.0  GR 3.2"
    assert player_mod.meter_line({"peak_db": [-math.inf]}) == (0.0, "-inf dB")
    assert player_mod.meter_line({"peak_db": [-995.0], "momentary_lufs": -990.0}) == \
        (0.0, "-inf dB")                                   # a filter's decaying tail
    line = player_mod.readout({"listen": {"momentary_lufs": -14.04, "integrated_lufs":
                                          -math.inf, "true_peak_dbtp": -1.26},
                               "underruns": 2, "cpu_load": 0.123}, 75.25)
    assert line.startswith("1:15.2") and "M -14.0" in line and "I - LUFS" in line
    assert "TP -1.3 dBTP" in line and "underruns 2" in line and "CPU 12 %" in line


# ======================================================================== palette
def test_palette_lists_the_registry_without_test_types():
    listed = [name for name, _, _ in palette()]
    registry = [n for n, cls in node_types().items() if cls.category != "test"]
    assert listed == registry
    assert not set(TEST_TYPES) & set(listed)
    assert set(TEST_TYPES) <= set(node_types())                # they are registered
    for name, category, summary in palette():
        assert node_types()[name].category == category
        assert node_types()[name].summary == summary


def test_palette_filters_by_words_in_name_category_and_summary():
    assert [n for n, _, _ in palette("reverb")] == ["reverb"]
    assert [n for n, _, _ in palette("  REVERB ")] == ["reverb"]
    assert {n for n, _, _ in palette("dynamics")} == {"compressor", "gate", "saturation"}
    by_summary = [n for n, _, _ in palette("fader pan")]
    assert "channel" in by_summary
    for name, category, summary in palette("fader pan"):
        text = f"{name} {category} {summary}".lower()
        assert "fader" in text and "pan" in text
    assert palette("no-such-thing-anywhere") == []
    assert not {n for n, _, _ in palette("test")} & set(TEST_TYPES)


def test_a_newly_registered_node_type_appears_in_the_palette():
    @register
    class Wobble(Node):
        type_name = "zz_wobble"
        category = "modulation"
        summary = "tremolo with a wobbly depth"
        params = (Param("depth", 0.5, min=0.0, max=1.0),)

        def process(self, ins, outs, start):
            outs[0][:] = ins[0]

    @register
    class Probe(Node):
        type_name = "zz_probe_test_only"
        category = "test"
        summary = "a wobbly test helper"

    try:
        assert ("zz_wobble", "modulation", "tremolo with a wobbly depth") in palette()
        assert [n for n, _, _ in palette("wobbly")] == ["zz_wobble"]
        assert [n for n, _, _ in palette("modulation tremolo")] == ["zz_wobble"]
        s = Session()
        nid = s.add_node("zz_wobble", depth=0.25)
        nodes, _ = canvas.views(s.graph)
        assert [p.name for p in nodes[nid].params] == ["depth"]
    finally:
        unregister("zz_wobble")
        unregister("zz_probe_test_only")
    assert "zz_wobble" not in [n for n, _, _ in palette()]


def test_undoing_back_to_the_saved_state_is_not_dirty(tmp_path):
    from mixgraph.editor.session import Session
    from mixgraph import Graph, save
    g = Graph(base_dir=tmp_path)
    g.add("tone", id="t", duration_s=0.5)
    g.add("output", id="out", path="out.wav")
    g.connect("t", "out")
    save(g, tmp_path / "p.json")
    s = Session.open(tmp_path / "p.json")
    s.set_param("t", "freq_hz", 440.0)
    assert s.dirty
    s.undo()
    assert not s.dirty
    s.redo()
    assert s.dirty


def test_a_duplicated_output_writes_its_own_file(tmp_path):
    from mixgraph.editor.session import Session
    from mixgraph import Graph
    g = Graph(base_dir=tmp_path)
    g.add("tone", id="t", duration_s=0.5)
    g.add("output", id="out", path="renders/mix.wav")
    g.connect("t", "out")
    s = Session(g)
    (copy,) = s.duplicate(["out"])
    assert s.graph.nodes[copy].params["path"] == "renders/mix_copy.wav"
    s.graph.connect("t", copy)
    assert not s.problems()


def test_a_project_without_a_layout_is_laid_out_when_opened(tmp_path):
    """The demo (and any project written in code) has no editor layout: the editor
    arranges it once on opening, sources left of outputs, without marking it changed."""
    from mixgraph.workflows.demo import write_demo

    graph = write_demo(tmp_path / "demo")
    assert not graph.ui
    session = Session.open(tmp_path / "demo" / "demo.mgraph")
    pos = {n: session.graph.ui[n]["pos"] for n in session.graph.nodes}
    assert len(pos) == len(session.graph.nodes)
    assert pos["kick"][0] < pos["kick_ch"][0] < pos["master_out"][0]
    assert not session.dirty


def test_template_rules_round_trip_through_the_rules_window_fields():
    from mixgraph.editor.templating import rule_fields, rules_from_fields

    rules = {"description": "band", "unmatched": "catch_all", "catch_all_into": "mix",
             "ignore_families": ["click", "guide"], "ignore": ["*scratch*"],
             "vocabulary": {"keys": ["mellotron", "harpsichord"]}, "mastering": False}
    fields = rule_fields(rules)
    assert fields["vocabulary"] == "keys: mellotron, harpsichord"
    assert rules_from_fields(fields, rules) == rules
    fields["unmatched"] = "leave_out"
    fields["vocabulary"] = "keys mellotron"
    from mixgraph import MixgraphError
    with pytest.raises(MixgraphError, match="write it as 'family: word, word'"):
        rules_from_fields(fields, rules)


def test_template_rules_are_one_undoable_edit_and_checked(tmp_path):
    from mixgraph import MixgraphError
    from mixgraph.workflows.templates import load_template

    session = Session(load_template("band"))
    before = dict(session.graph.template)
    new_rules = dict(before, description="mine", ignore_families=["click"])
    session.set_template_rules(new_rules)
    assert session.graph.template == new_rules and session.dirty
    session.undo()
    assert session.graph.template == before
    with pytest.raises(MixgraphError, match="catch_all_into"):
        session.set_template_rules(dict(before, catch_all_into="nowhere"))
    assert session.graph.template == before
    plain = Session(Graph())
    with pytest.raises(MixgraphError, match="not a template"):
        plain.set_template_rules({})


# ========================================================================= mixer
def test_the_mixer_has_a_strip_per_channel_group_and_bus_with_its_sends(tmp_path):
    from mixgraph.editor.strips import fader_position, strips
    from mixgraph.workflows.demo import write_demo

    g = write_demo(tmp_path / "demo")
    got = strips(g)
    kinds = [s.type for s in got]
    assert kinds == sorted(kinds, key=["channel", "group", "bus"].index)
    assert {s.id for s in got} == {n for n, spec in g.nodes.items()
                                   if spec.type in ("channel", "group", "bus")}
    lead = next(s for s in got if s.id == "lead_ch")
    assert {(send.id, send.to) for send in lead.sends} == {
        ("lead_verb_send", "plate"), ("lead_delay_send", "echo")}
    kick = next(s for s in got if s.id == "kick_ch")
    assert kick.gain_db == g.nodes["kick_ch"].value("gain_db") and not kick.automated
    g.set("kick_ch", "gain_db", {"automation": [[0.0, -6.0], [4.0, 0.0]]})
    kick = next(s for s in strips(g) if s.id == "kick_ch")
    assert kick.automated == {"gain_db"} and kick.gain_db == -6.0
    assert fader_position(-90.0) == -60.0 and fader_position(30.0) == 12.0


def test_the_routing_matrix_reads_what_feeds_each_mix_point(tmp_path):
    from mixgraph.editor.strips import routing
    from mixgraph.workflows.demo import write_demo

    g = write_demo(tmp_path / "demo")
    r = routing(g)
    assert set(r.columns) == {"drums", "fx", "mix", "plate", "echo"}
    assert {"kick_ch", "lead_verb_send", "plate", "drums"} <= set(r.rows)
    expected = {(l.src.node, l.dst.node) for l in g.links
                if l.src.node in r.rows and l.dst.node in r.columns
                and l.src.port == "out" and l.dst.port == "in"}
    assert r.linked == expected
    assert ("lead_verb_send", "plate") in r.linked and ("kick_ch", "drums") in r.linked
    assert ("bass_ch", "drums") not in r.linked


def test_a_clip_pastes_into_another_folder_reading_the_same_files(tmp_path):
    from mixgraph.editor.session import Session as S

    a = S(tone_project(tmp_path / "a"))
    a.graph.add("stem", id="st", path="stems/x.wav")
    clip = a.clip(["st", "ch", "out"])
    assert clip["nodes"][0]["params"]["path"] == str(a.graph.resolve_path("stems/x.wav"))
    b = S(Graph(sample_rate=SR, base_dir=tmp_path / "b"))
    made = b.paste(clip, at=(100.0, 50.0))
    assert made == ["st", "ch", "out"]
    assert b.graph.resolve_path(b.graph.nodes["st"].params["path"]) == \
        a.graph.resolve_path("stems/x.wav")
    assert [str(l) for l in b.graph.links] == ["ch.out -> out.in"]
    # into the same project: fresh ids, and an output writes a copy beside its file
    again = a.paste(a.clip(["ch", "out"]))
    assert again == ["ch_1", "out_1"]
    assert a.graph.nodes["out_1"].params["path"] == "out/out_copy.wav"
    assert a.undo().startswith("paste") and "out_1" not in a.graph.nodes


@pytest.mark.parametrize("clip", [None, "text", {"format": "other"},
                                  {"format": "mixgraph-nodes", "nodes": [{"id": "a b"}]},
                                  {"format": "mixgraph-nodes",
                                   "nodes": [{"id": "x", "type": "no_such_type"}]}])
def test_a_clip_that_is_not_nodes_is_refused_in_one_sentence_and_changes_nothing(tmp_path,
                                                                                  clip):
    from mixgraph.editor.session import Session as S

    s = S(tone_project(tmp_path))
    before = s.document()
    with pytest.raises(MixgraphError) as info:
        s.paste(clip)
    assert "\n" not in info.value.message
    assert s.document() == before and not s.undo_stack


def test_a_nodes_render_figures_read_as_one_line():
    from mixgraph.editor.canvas import figures_line

    assert figures_line({"gain_reduction_max_db": 8.29, "gain_reduction_mean_db": 1.18}) \
        == "GR max 8.3 dB, mean 1.2"
    assert figures_line({"band1_gain_reduction_max_db": 3.03,
                         "band2_gain_reduction_max_db": 2.54}) == "GR max 3.0 / 2.5 dB"
    assert figures_line({"gain_db": 9.82, "output_lufs": -14.01, "limiting": True,
                         "limiting_max_db": 1.46}) == \
        "gain 9.8 dB to -14.0 LUFS; limiting 1.5 dB"
    assert figures_line({"integrated_lufs": float("-inf"), "true_peak_dbtp": None}) == \
        "-inf LUFS, TP -inf dBTP"
    assert figures_line({"something": 1}) == ""


def test_a_level_drags_a_decibel_per_ten_pixels():
    from mixgraph.nodes.base import node_class

    for kind, name in (("channel", "gain_db"), ("limiter", "ceiling_dbtp"),
                       ("loudness", "target_lufs"), ("send", "level_db")):
        assert spec_for(node_class(kind).param_table()[name]).speed == 0.1


def test_a_duplicated_group_with_its_members_controls_the_copies(tmp_path):
    from mixgraph.editor.session import Session as S
    from mixgraph.workflows.demo import write_demo

    s = S(write_demo(tmp_path / "demo"))
    made = s.duplicate(["drums", "kick_ch", "snare_ch"])
    assert made == ["drums_1", "kick_ch_1", "snare_ch_1"]
    # the members copied with it: their copies; the one not copied: itself
    assert s.graph.nodes["drums_1"].params["members"] == ["kick_ch_1", "snare_ch_1",
                                                          "hats_ch"]
    alone = s.duplicate(["drums"])                       # its members are the originals
    assert s.graph.nodes[alone[0]].params["members"] == ["kick_ch", "snare_ch", "hats_ch"]
    other = S(Graph(sample_rate=SR, base_dir=tmp_path / "other"))
    other.paste(s.clip(["drums"]))                        # none of them there: none
    assert other.graph.nodes["drums"].params.get("members", []) == []


# ======================================================================== A/B
def test_ab_rows_give_each_figure_of_both_renders_and_the_difference():
    from mixgraph.core.report import Report
    from mixgraph.editor.compare import compare_rows, node_rows

    def out(node, lufs, tp):
        return {"node": node, "path": f"/x/{node}.wav", "integrated_lufs": lufs,
                "true_peak_dbtp": tp, "duration_s": 2.0}

    a = Report([out("mix", -20.0, -3.0), out("gone", -30.0, -9.0)],
               nodes={"comp": ("compressor", {"gain_reduction_max_db": 3.0,
                                              "gain_reduction_mean_db": 1.0})})
    b = Report([out("mix", -18.5, float("-inf"))],
               nodes={"comp": ("compressor", {"gain_reduction_max_db": 5.0,
                                              "gain_reduction_mean_db": 2.0})})
    rows = compare_rows(a, b)
    assert ("mix", "integrated", "-20.0 LUFS", "-18.5 LUFS", "+1.5 LU") in rows
    assert ("mix", "true peak", "-3.0 dBTP", "-inf", "") in rows     # no number to subtract
    assert ("mix", "length", "2.00 s", "2.00 s", "+0.00 s") in rows
    assert not [r for r in rows if r[0] == "gone"]                  # only in A: not compared
    assert node_rows(a, b) == [("comp", "GR max 3.0 dB, mean 1.0", "GR max 5.0 dB, mean 2.0")]
