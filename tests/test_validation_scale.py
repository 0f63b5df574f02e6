"""Validation and model edits stay linear in the size of the graph: a long chain, a
long cycle and a wide session of strips, each checked for what validation finds
(timing belongs to ``bench/validate.py``; here a budget far above it catches a
return to quadratic time, which takes minutes at this size)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from mixgraph import validate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from validate import chain, session  # noqa: E402

N = 20_000
BUDGET_S = 20.0                  # quadratic time at this size takes minutes


def timed(make):
    t0 = time.perf_counter()
    g = make()
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    v = validate(g, check_files=False)
    return g, v, built, time.perf_counter() - t0


def test_a_long_chain_validates_in_linear_time():
    g, v, built, took = timed(lambda: chain(N, False))
    assert v.ok and not v.warnings
    assert built < BUDGET_S and took < BUDGET_S, (built, took)


def test_a_long_cycle_is_found_named_briefly_and_in_linear_time():
    g, v, built, took = timed(lambda: chain(N, True))
    assert [e.node for e in v.errors] == ["n0"]
    message = v.errors[0].message
    assert message.startswith("links form a cycle: n0 -> n1 -> ")
    assert f"({N - 2 - 12} more)" in message and message.endswith(" -> n0")
    assert len(message) < 300
    assert took < BUDGET_S, took


def test_a_wide_session_validates_and_names_what_reaches_no_output():
    g, v, built, took = timed(lambda: session(N))
    assert v.ok and not v.warnings
    g.add("gain", id="stray")
    g.connect("s0", "stray")
    v = validate(g, check_files=False)
    assert v.warnings == ["node 'stray' does not reach any output: it is left out of the render"]
    assert built < BUDGET_S and took < BUDGET_S, (built, took)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_small_cycles_are_each_reported_once(size):
    from mixgraph import Graph, Link, PortRef

    g = Graph()
    g.add("tone", id="t")
    names = [f"g{i}" for i in range(size)]
    for n in names:
        g.add("gain", id=n)
    g.connect("t", names[0])
    for a, b in zip(names, names[1:]):
        g.connect(a, b)
    g.add("output", id="o", path="o.wav")
    g.connect(names[-1], "o")
    g.links.append(Link(PortRef(names[-1], "out"), PortRef(names[0], "in")))
    cycles = [e.message for e in validate(g, check_files=False).errors
              if "cycle" in e.message]
    assert cycles == ["links form a cycle: " + " -> ".join(names + [names[0]])]


@pytest.mark.parametrize("seed", range(20))
def test_cycles_found_match_networkx_on_random_graphs(seed):
    """One cycle per knot (a strongly connected component with a cycle, networkx's
    reading), each a real cycle of links inside its knot."""
    import networkx as nx
    import numpy as np

    from mixgraph.core.walk import adjacency, find_cycles

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 40))
    nodes = [f"n{i}" for i in range(n)]
    links = {(nodes[a], nodes[b]) for a, b in rng.integers(0, n, (int(rng.integers(1, 3 * n)), 2))}
    succ, pred = adjacency(nodes, sorted(links))
    found = find_cycles(succ, pred)
    dag = nx.DiGraph(list(links))
    dag.add_nodes_from(nodes)
    knots = [c for c in nx.strongly_connected_components(dag)
             if len(c) > 1 or any((m, m) in links for m in c)]
    assert len(found) == len(knots)
    for cycle in found:
        assert sum(set(cycle) <= k for k in knots) == 1
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            assert (a, b) in links
