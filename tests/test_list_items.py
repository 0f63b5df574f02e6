"""List parameters declare their items (``Param(..., kind="list", items=Items(...))``),
and the validator, the project diff and the editor's layout read that one declaration:
the messages name the node, the parameter, the item and the field; the diff tells a
change field by field; nothing keys on a parameter's name."""

from __future__ import annotations

import pytest

from mixgraph import Graph, ParameterError, validate
from mixgraph.editor.layout import WIDE, WIDTH, node_height, node_width
from mixgraph.editor.widgets import item_lines, spec_for
from mixgraph.nodes.base import Items, Node, Param, node_types, register, unregister
from mixgraph.nodes.eq import EQ_BANDS
from mixgraph.nodes.master import MULTIBAND_BANDS
from mixgraph.nodes.regions import REGION
from mixgraph.workflows.diff import diff

LIST_OF_ITEMS = [(t, p) for t, cls in node_types().items() for p in cls.params
                 if p.items is not None]


def errors(g: Graph) -> list[str]:
    return [e.message for e in validate(g, check_files=False).errors]


def param_errors(g: Graph) -> list[str]:
    """Errors about parameters (a node alone also has nothing linked to its input)."""
    return [e.message for e in validate(g, check_files=False).errors
            if isinstance(e, ParameterError)]


def doc_graph(node_type: str, **params) -> Graph:
    """A graph holding one node with ``params`` as a file would (unchecked)."""
    return Graph.from_document({"format": "mixgraph", "version": 1, "sample_rate": 48000,
                                "nodes": [{"id": "n1", "type": node_type, "params": params}],
                                "links": []})


# ================================================================ the declaration
def test_the_list_parameters_with_items_are_the_bands_and_the_stem_regions():
    assert sorted((t, p.name) for t, p in LIST_OF_ITEMS) == [
        ("eq", "bands"), ("linear_phase_eq", "bands"), ("multiband_compressor", "bands"),
        ("stem", "regions")]
    types = node_types()
    assert types["stem"].param_table()["regions"].items is REGION
    assert types["eq"].param_table()["bands"].items is EQ_BANDS
    assert types["linear_phase_eq"].param_table()["bands"].items is EQ_BANDS
    assert types["multiband_compressor"].param_table()["bands"].items is MULTIBAND_BANDS


def test_eq_band_fields_declare_kinds_ranges_units_and_defaults():
    f = EQ_BANDS.table()
    assert list(f) == ["on", "type", "freq_hz", "gain_db", "q", "slope_db_oct"]
    assert (f["freq_hz"].min, f["freq_hz"].max, f["freq_hz"].unit) == (5.0, 96000.0, "Hz")
    assert (f["gain_db"].min, f["gain_db"].max, f["gain_db"].unit) == (-30.0, 30.0, "dB")
    assert f["slope_db_oct"].choices == (12, 24, 36, 48) and f["slope_db_oct"].kind == "int"
    assert f["type"].kind == "choice" and "bell" in f["type"].choices
    assert (EQ_BANDS.noun, EQ_BANDS.max) == ("band", 32)


def test_multiband_bands_are_compressor_settings_with_their_own_defaults():
    assert MULTIBAND_BANDS.new() == {"threshold_db": -18.0, "ratio": 2.0, "knee_db": 6.0,
                                     "attack_ms": 20.0, "release_ms": 150.0, "makeup_db": 0.0}
    ratio = MULTIBAND_BANDS.table()["ratio"]
    assert (ratio.min, ratio.max) == (1.0, 100.0)
    assert (MULTIBAND_BANDS.noun, MULTIBAND_BANDS.field_noun, MULTIBAND_BANDS.max) == \
        ("band", "setting", 4)


def test_used_when_says_which_fields_a_band_uses():
    def used(band):
        return [f.name for f in EQ_BANDS.used(band)]

    assert used({}) == ["on", "type", "freq_hz", "gain_db", "q"]          # a bell
    assert used({"type": "highpass"}) == ["on", "type", "freq_hz", "slope_db_oct"]
    assert used({"type": "notch"}) == ["on", "type", "freq_hz", "q"]
    assert EQ_BANDS.new() == {"on": True, "type": "bell", "freq_hz": 1000.0, "gain_db": 0.0,
                              "q": 0.7071}
    # a field that does not matter is still checked and kept
    assert EQ_BANDS.problems([{"type": "notch", "gain_db": 99.0}]) == \
        ["band 0 gain_db must be between -30 and 30 dB, got 99.0"]


@pytest.mark.parametrize("type_name, param", LIST_OF_ITEMS,
                         ids=[f"{t}.{p.name}" for t, p in LIST_OF_ITEMS])
def test_the_new_item_of_every_list_parameter_is_accepted_by_its_node(type_name, param):
    cls = node_types()[type_name]
    values = {name: "x.wav" for name in cls.with_role("reads")}   # what it must have
    values[param.name] = [param.items.new()]
    g = Graph()
    g.add(type_name, id="n", **values)
    cls(**values)
    assert param_errors(g) == []


@pytest.mark.parametrize("make, words", [
    (lambda: Items((Param("a", 1.0), Param("a", 2.0))), "named once each"),
    (lambda: Items((Param("a", 5.0, min=0.0, max=1.0),)), "a must be between 0 and 1"),
    (lambda: Items((Param("a", 1.0, used_when=("kind", ("x",))),)), "used_when names 'kind'"),
    (lambda: Items((Param("kind", "x", kind="choice", choices=("x", "y")),
                    Param("a", 1.0, used_when=("kind", ("z",))))), "used_when names 'kind'"),
    (lambda: Items((Param("ids", [], kind="nodes"),)), "holds one value"),
    (lambda: Param("a", 1.0, items=Items((Param("b", 1.0),))), "only a list declares items"),
], ids=["twice", "bad-default", "unknown-field", "impossible-value", "nodes-field",
        "items-on-a-float"])
def test_a_wrong_declaration_is_refused_when_it_is_made(make, words):
    with pytest.raises(ValueError, match=words):
        make()


# ================================================================== validation
@pytest.mark.parametrize("node_type", ["eq", "linear_phase_eq"])
def test_eq_band_messages_name_node_parameter_band_and_field(node_type):
    g = doc_graph(node_type, bands=[
        {"type": "bell", "freq_hz": 1000.0},
        {"type": "shelf", "freq_hz": 2.0},
        {"type": "highpass", "slope_db_oct": 18},
        {"type": "bell", "frequency": 100.0},
        {"type": "bell", "gain_db": "loud"},
        7,
    ])
    assert param_errors(g) == [
        "node 'n1': bands: band 1 type must be one of bell, low_shelf, high_shelf, highpass, "
        "lowpass, bandpass, notch, got 'shelf'",
        "node 'n1': bands: band 1 freq_hz must be between 5 and 96000 Hz, got 2.0",
        "node 'n1': bands: band 2 slope_db_oct must be one of 12, 24, 36, 48, got 18",
        "node 'n1': bands: band 3 has no field 'frequency' (fields: on, type, freq_hz, "
        "gain_db, q, slope_db_oct)",
        "node 'n1': bands: band 4 gain_db must be a number, got 'loud'",
        "node 'n1': bands: band 5 must be an object of fields (on, type, freq_hz, gain_db, "
        "q, slope_db_oct), got 7",
    ]
    assert all(e.param == "bands" and e.node == "n1"
               for e in validate(g, check_files=False).errors if isinstance(e, ParameterError))


def test_eq_band_automation_is_checked_against_the_fields_range():
    g = doc_graph("eq", bands=[{"freq_hz": {"automation": [[0.0, 100.0], [1.0, 200000.0]]}}])
    assert param_errors(g) == ["node 'n1': bands: band 0 freq_hz automation must stay between "
                               "5 and 96000 Hz, got 200000"]
    lp = doc_graph("linear_phase_eq", bands=[{"gain_db": {"automation": [[0.0, 0.0],
                                                                          [1.0, 3.0]]}}])
    assert param_errors(lp) == ["node 'n1': bands: band 0 cannot be automated in a "
                                "linear-phase EQ (its filter is designed once); use eq for "
                                "automated bands"]


def test_too_many_eq_bands_are_refused_by_the_declared_maximum():
    g = doc_graph("eq", bands=[{}] * 33)
    assert param_errors(g) == ["node 'n1': bands: has 33 bands; at most 32 are allowed"]


def test_multiband_band_messages_name_node_parameter_band_and_setting():
    g = doc_graph("multiband_compressor", crossovers_hz=[200.0, 2000.0, 8000.0], bands=[
        {"ratio": 0.5}, {"treshold_db": -20.0}, {"attack_ms": 900.0, "knee_db": -1.0},
        {"type": "bell"}])
    assert param_errors(g) == [
        "node 'n1': bands: band 0 ratio must be between 1 and 100, got 0.5",
        "node 'n1': bands: band 1 has no setting 'treshold_db' (did you mean threshold_db?)",
        "node 'n1': bands: band 2 attack_ms must be between 0.05 and 500 ms, got 900.0",
        "node 'n1': bands: band 2 knee_db must be between 0 and 24 dB, got -1.0",
        "node 'n1': bands: band 3 has no setting 'type' (settings: threshold_db, ratio, "
        "knee_db, attack_ms, release_ms, makeup_db)",
    ]


def test_multiband_rules_across_parameters_stay_the_nodes():
    g = doc_graph("multiband_compressor", crossovers_hz=[1000.0], bands=[{}, {}, {}])
    assert param_errors(g) == ["node 'n1': has 3 bands, but 1 crossover makes 2 bands"]
    g = doc_graph("multiband_compressor", bands=[{}] * 5)
    assert param_errors(g) == ["node 'n1': bands: has 5 bands; at most 4 are allowed"]


def test_the_shipped_projects_bands_are_valid(tmp_path):
    from mixgraph.workflows.demo import write_demo

    g = write_demo(tmp_path / "demo")
    assert errors(g) == []
    assert {s.type for s in g if s.params.get("bands")} >= {"eq", "multiband_compressor"}


# ======================================================================= diff
def eq_pair(before: list, after: list, node_type: str = "eq") -> list[str]:
    return diff(doc_graph(node_type, bands=before), doc_graph(node_type, bands=after))


def test_diff_tells_a_band_field_by_field_in_declared_order():
    before = [{"type": "bell", "freq_hz": 300.0, "gain_db": -3.0, "q": 1.0}]
    after = [{"type": "notch", "freq_hz": 250, "gain_db": -3.0, "q": 4.0}]
    assert eq_pair(before, after) == [
        "n1: bands: band 0 type from 'bell' to 'notch', freq_hz from 300.0 to 250.0, "
        "q from 1.0 to 4.0"]


def test_diff_fills_a_missing_field_with_its_default():
    assert eq_pair([{"type": "bell", "q": 0.7071}], [{"type": "bell"}]) == []
    assert eq_pair([{"type": "bell", "gain_db": 2.5}], [{"type": "bell"}]) == \
        ["n1: bands: band 0 gain_db from 2.5 to 0.0"]
    assert eq_pair([{"on": False}], [{}]) == ["n1: bands: band 0 on from off to on"]


def test_diff_tells_bands_added_removed_and_automated():
    added = eq_pair([], [{"on": True, "type": "highpass", "freq_hz": 40.0,
                          "slope_db_oct": 24}])
    assert added == ["n1: bands: band 0 added (on, type 'highpass', freq_hz 40.0, "
                     "slope_db_oct 24)"]
    assert eq_pair([{"type": "bell"}, {"type": "low_shelf", "on": False}], [{"type": "bell"}]) \
        == ["n1: bands: band 1 removed (on off, type 'low_shelf')"]
    sweep = {"automation": [[0.0, 200.0], [1.0, 2000.0], [2.0, 200.0]], "curve": "exponential"}
    assert eq_pair([{"freq_hz": 200.0}], [{"freq_hz": sweep}]) == \
        ["n1: bands: band 0 freq_hz automated (3 points, exponential), was 200.0"]


def test_diff_tells_a_multiband_band_in_its_settings():
    before = [{"threshold_db": -20.0, "ratio": 2.0}]
    after = [{"threshold_db": -24.0, "ratio": 2.0, "makeup_db": 1.5}, {}]
    assert diff(doc_graph("multiband_compressor", bands=before),
                doc_graph("multiband_compressor", bands=after)) == [
        "n1: bands: band 0 threshold_db from -20.0 to -24.0, makeup_db from 0.0 to 1.5; "
        "band 1 added ()"]


# ======================================================== nothing keys on a name
class ListNode(Node):
    """A node whose list of items is not called bands, and whose 'bands' is a plain list."""

    type_name = "test_list_items"
    params = (
        Param("points", [], kind="list", items=Items((
            Param("time_s", 0.0, min=0.0, max=60.0, unit="s", doc="when"),
            Param("level_db", 0.0, min=-60.0, max=12.0, unit="dB", doc="how loud"),
        ), noun="point", max=3)),
        Param("bands", [], kind="list", doc="a plain list, whatever its name"),
    )

    def process(self, ins, outs, start):
        outs[0][:] = ins[0]


@pytest.fixture
def list_node():
    register(ListNode)
    yield ListNode
    unregister(ListNode.type_name)


def test_a_list_of_items_under_another_name_gets_the_same_treatment(list_node):
    g = doc_graph("test_list_items", points=[{"time_s": 1.0}, {"time_s": 99.0}, 5],
                  bands=[{"type": "anything"}])
    assert param_errors(g) == [
        "node 'n1': points: point 1 time_s must be between 0 and 60 s, got 99.0",
        "node 'n1': points: point 2 must be an object of fields (time_s, level_db), got 5"]
    table = list_node.param_table()
    assert spec_for(table["points"]).kind == "items"
    assert spec_for(table["bands"]).kind == "list"
    g.ui["n1"] = {"expanded": True}                  # (a compact node shows no list)
    assert node_width(g, "n1") == WIDE
    ok = doc_graph("test_list_items", points=[{}, {}])
    plain = doc_graph("test_list_items", bands=[{}, {}])
    for graph in (ok, plain):
        graph.ui["n1"] = {"expanded": True}
    assert node_height(ok, "n1") - node_height(plain, "n1") == 2 * 24   # a row per point
    assert diff(doc_graph("test_list_items", points=[{"time_s": 1.0}]),
                doc_graph("test_list_items", points=[{"time_s": 2.0}])) == \
        ["n1: points: point 0 time_s from 1.0 to 2.0"]
    assert diff(doc_graph("test_list_items", bands=[1]), doc_graph("test_list_items",
                                                                   bands=[2])) == \
        ["n1: bands from [1] to [2]"]


def test_a_node_without_a_list_of_items_is_drawn_narrow():
    g = Graph()
    g.add("channel", id="ch")
    assert node_width(g, "ch") == WIDTH


# ====================================================================== layout
def test_node_heights_count_the_lines_the_editor_draws_per_item():
    eq = Graph()
    eq.add("eq", id="e0")
    eq.add("eq", id="e3", bands=[{"type": "bell"}, {"type": "highpass"}, {"type": "notch"}])
    assert node_height(eq, "e3") == node_height(eq, "e0")     # compact: bands in the panel
    assert node_width(eq, "e3") == WIDTH
    for nid in ("e0", "e3"):
        eq.ui[nid] = {"expanded": True}
    assert node_height(eq, "e3") - node_height(eq, "e0") == 3 * 24        # a line a band
    assert node_width(eq, "e3") == WIDE
    mb = Graph()
    mb.add("multiband_compressor", id="m0")
    mb.add("multiband_compressor", id="m2", bands=[{}, {"ratio": 3.0}])
    for nid in ("m0", "m2"):
        mb.ui[nid] = {"expanded": True}
    bands = node_types()["multiband_compressor"].param_table()["bands"]
    lines = item_lines(spec_for(bands), [f.name for f in MULTIBAND_BANDS.fields])
    assert len(lines) == 2                              # six settings: two lines a band
    assert node_height(mb, "m2") - node_height(mb, "m0") == 2 * len(lines) * 24

