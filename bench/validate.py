"""Validation at scale (issue: trust under faults).

    python bench/validate.py [--nodes 100000]

Builds three graphs of about ``--nodes`` nodes without touching the disk (stems are
template slots, so no file is opened): a session of channel strips (stem -> eq ->
compressor -> channel -> group -> mix bus -> limiter -> output), one long chain of
gain nodes, and the same chain closed into a cycle.  Prints the time to build each,
to validate it, and what validation found.
"""

from __future__ import annotations

import argparse
import time

from mixgraph import Graph, Link, PortRef, validate


def session(n: int) -> Graph:
    g = Graph(sample_rate=48000)
    g.kind = "template"
    strips = max(1, (n - 4) // 4)
    groups = max(1, strips // 64)
    g.add("bus", id="mix")
    g.add("limiter", id="lim")
    g.add("output", id="out", path="out.wav")
    g.connect("mix", "lim")
    g.connect("lim", "out")
    for k in range(groups):
        g.add("group", id=f"g{k}")
        g.connect(f"g{k}", "mix")
    for i in range(strips):
        g.add("stem", id=f"s{i}", path="")
        g.add("eq", id=f"e{i}", bands=[{"type": "bell", "freq_hz": 1000.0, "gain_db": 2.0,
                                         "q": 1.0}])
        g.add("compressor", id=f"c{i}")
        g.add("channel", id=f"ch{i}", pan=0.1)
        for a, b in ((f"s{i}", f"e{i}"), (f"e{i}", f"c{i}"), (f"c{i}", f"ch{i}"),
                     (f"ch{i}", f"g{i % groups}")):
            g.connect(a, b)
    return g


def chain(n: int, closed: bool) -> Graph:
    g = Graph(sample_rate=48000)
    g.add("tone", id="src")
    previous = "src"
    for i in range(n - 2):
        g.add("gain", id=f"n{i}")
        g.connect(previous, f"n{i}")
        previous = f"n{i}"
    g.add("output", id="out", path="out.wav")
    g.connect(previous, "out")
    if closed:                                 # the last gain back into the first
        g.links.append(Link(PortRef(previous, "out"), PortRef("n0", "in")))
    return g


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=100_000)
    args = ap.parse_args()
    for name, make in (("session", lambda: session(args.nodes)),
                       ("chain", lambda: chain(args.nodes, False)),
                       ("cycle", lambda: chain(args.nodes, True))):
        t0 = time.perf_counter()
        g = make()
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        v = validate(g, check_files=False)
        took = time.perf_counter() - t0
        first = v.errors[0].message[:70] + "..." if v.errors else "no errors"
        print(f"{name:8} {len(g.nodes):>7} nodes {len(g.links):>7} links  built in "
              f"{built:6.2f} s  validated in {took:6.2f} s  ({len(v.errors)} errors: {first})")


if __name__ == "__main__":
    main()
