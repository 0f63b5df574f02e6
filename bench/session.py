"""The standard session benchmark (issue: performance).

    python bench/session.py [--minutes 3] [--blocks 256 1024 8192] [--workers 1 2]

32 stems x 3 minutes at 48 kHz (a third stereo, the rest mono, generated once into
bench/out/), each through an `eq` (highpass 30 Hz, bells at 250 Hz and 3 kHz, a high
shelf), a `compressor` (peak detector, soft knee) and a `channel` with pan; four
groups; a reverb send and a delay send from the groups; a mix bus (+10 dB, so that the
limiter works: peaks reach it about 3 dB over its ceiling); master: `eq`,
`multiband_compressor` (3 bands), `limiter` (true peak), `dither` to 24 bit, `output`.
``--by-node`` instead renders once with one worker and prints the time spent in each
node type (where the time goes).

Each render runs in a fresh process (so that its peak RSS is its own) and prints wall
time, realtime factor and peak RSS per block size and worker count.  Where pedalboard
is installed (``pip install -e .[bench]``), the same work is done with pedalboard's
C++ plugins on whole files, summed with numpy, in the same run, and the ratio printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SR = 48000
STEMS = 32
EQ_BANDS = [{"type": "highpass", "freq_hz": 30.0, "slope_db_oct": 12},
            {"type": "bell", "freq_hz": 250.0, "gain_db": -2.0, "q": 1.0},
            {"type": "bell", "freq_hz": 3000.0, "gain_db": 1.5, "q": 0.8},
            {"type": "high_shelf", "freq_hz": 10000.0, "gain_db": 2.0, "q": 0.7071}]
COMP = {"threshold_db": -20.0, "ratio": 3.0, "knee_db": 6.0, "attack_ms": 10.0,
        "release_ms": 100.0, "detector": "peak"}


def session_material(i: int, t: np.ndarray, rng, channels: int) -> np.ndarray:
    """Stem i at times t: a tone pulsing at 0.5-3.5 Hz, over a little noise."""
    freq = 40.0 * 2 ** (i / 5)
    env = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * (0.5 + i % 4) * t))
    tone = 0.25 * np.sin(2 * np.pi * freq * t) * env
    return tone[:, None] + 0.03 * rng.standard_normal((t.size, channels))


def write_stems(folder: Path, seconds: float) -> list[tuple[str, int]]:
    from engine import write_stems as write

    return write(folder, STEMS, seconds, session_material, seed=100)


def build(folder: Path, stems: list[tuple[str, int]]) -> Path:
    from mixgraph import Graph, save
    from mixgraph.editor.layout import arrange

    g = Graph(sample_rate=SR, base_dir=folder)
    groups = [g.add("group", id=f"group{k}") for k in range(4)]
    g.add("bus", id="mix", gain_db=10.0)        # drives the limiter by a few dB
    for i, (name, _) in enumerate(stems):
        g.add("stem", id=name, path=f"stems/{name}.wav")
        g.add("eq", id=f"{name}_eq", bands=EQ_BANDS)
        g.add("compressor", id=f"{name}_comp", **COMP)
        g.add("channel", id=f"{name}_ch", gain_db=-12.0, pan=((i * 0.37) % 2) - 1)
        for a, b in ((name, f"{name}_eq"), (f"{name}_eq", f"{name}_comp"),
                     (f"{name}_comp", f"{name}_ch"), (f"{name}_ch", groups[i % 4])):
            g.connect(a, b)
    g.add("reverb", id="verb", decay_s=1.8)
    g.add("delay", id="echo", time_ms=375.0, feedback=0.35)
    for k, grp in enumerate(groups):
        g.connect(grp, "mix")
        send = g.add("send", id=f"{grp}_verb", level_db=-14.0)
        g.connect(grp, send)
        g.connect(send, "verb")
        if k % 2 == 0:
            d = g.add("send", id=f"{grp}_echo", level_db=-18.0)
            g.connect(grp, d)
            g.connect(d, "echo")
    g.connect("verb", "mix")
    g.connect("echo", "mix")
    g.add("eq", id="master_eq", bands=[{"type": "low_shelf", "freq_hz": 100.0, "gain_db": 1.0},
                                       {"type": "high_shelf", "freq_hz": 10000.0,
                                        "gain_db": 1.0}])
    g.add("multiband_compressor", id="master_mb", crossovers_hz=[200.0, 2500.0])
    g.add("limiter", id="master_lim", ceiling_dbtp=-1.0)
    g.add("dither", id="master_dither", bit_depth=24)
    g.add("output", id="master", path="out/master.wav", subtype="PCM_24")
    for a, b in (("mix", "master_eq"), ("master_eq", "master_mb"), ("master_mb", "master_lim"),
                 ("master_lim", "master_dither"), ("master_dither", "master")):
        g.connect(a, b)
    arrange(g)
    path = folder / "session.mgraph"
    save(g, path)
    return path


def child(project: str, block: int, workers: int) -> None:
    from mixgraph import render

    t0 = time.perf_counter()
    report = render(project, block_size=block, workers=workers)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # forked workers: the largest one's peak (their pages are largely shared with this
    # process, so main + workers x this is an upper bound on the memory used)
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "song_s": report.song_s, "rss_mb": rss,
                      "worker_rss_mb": worker}))


def by_node(project: Path, block: int) -> None:
    """Where one worker's time goes: seconds in each node type's ``process``."""
    import collections

    import mixgraph.core.renderer as renderer
    from mixgraph import render
    from mixgraph.core.schedule import make_plan

    spent: dict = collections.defaultdict(float)
    calls: collections.Counter = collections.Counter()

    def timed_plan(*args, **kwargs):
        plan = make_plan(*args, **kwargs)
        for step in plan.steps:
            def timed(ins, outs, start, inner=step.node.process,
                      name=type(step.node).type_name):
                t = time.perf_counter()
                inner(ins, outs, start)
                spent[name] += time.perf_counter() - t
                calls[name] += 1
            step.node.process = timed
        return plan

    def timed_gang(cls):
        inner = cls.process_gang

        def timed(members, inner=inner, name=cls.type_name):
            t = time.perf_counter()
            inner(members)
            spent[name] += time.perf_counter() - t
            calls[name] += len(members)
        return staticmethod(timed)

    from mixgraph.nodes.base import node_types

    for cls in node_types().values():
        if "process_gang" in vars(cls):          # strips side by side: timed as a gang
            cls.process_gang = timed_gang(cls)
    renderer.make_plan = timed_plan
    render(project, block_size=block, workers=1)          # compile and warm up
    spent.clear()
    calls.clear()
    t0 = time.perf_counter()
    report = render(project, block_size=block, workers=1)
    wall = time.perf_counter() - t0
    print(f"one worker, block {block}: {wall:.2f} s for {report.song_s:.0f} s of audio")
    for name, s in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<22} {s:7.2f} s {100 * s / wall:5.1f} %  {calls[name]:>7} calls "
              f"{1e6 * s / calls[name]:8.1f} us/call")
    rest = wall - sum(spent.values())
    print(f"  {'engine (loop, sums)':<22} {rest:7.2f} s {100 * rest / wall:5.1f} %")


def measure(project: Path, block: int, workers: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(project), str(block),
                          str(workers)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pedalboard_equivalent(folder: Path, stems: list[tuple[str, int]], seconds: float):
    """The same chain with pedalboard's C++ plugins on whole files; None if absent."""
    try:
        import pedalboard as pb
    except ImportError:
        return None
    import soundfile as sf

    t0 = time.perf_counter()
    n = int(seconds * SR)
    groups = [np.zeros((2, n), dtype=np.float32) for _ in range(4)]
    chain = pb.Pedalboard([pb.HighpassFilter(30.0), pb.PeakFilter(250.0, -2.0, 1.0),
                           pb.PeakFilter(3000.0, 1.5, 0.8), pb.HighShelfFilter(10000.0, 2.0),
                           pb.Compressor(threshold_db=-20.0, ratio=3.0, attack_ms=10.0,
                                         release_ms=100.0), pb.Gain(-12.0)])
    for i, (name, channels) in enumerate(stems):
        x, _ = sf.read(str(folder / "stems" / f"{name}.wav"), dtype="float32", always_2d=True)
        y = chain(x.T.copy(), SR)
        pan = ((i * 0.37) % 2) - 1
        theta = (pan + 1) * np.pi / 4
        if y.shape[0] == 1:
            y = np.vstack([y[0] * np.cos(theta), y[0] * np.sin(theta)])
        groups[i % 4][:, :y.shape[1]] += y[:, :n]
    mix = sum(groups)
    sends = sum(g * 10 ** (-14 / 20) for g in groups)
    mix += pb.Pedalboard([pb.Reverb(room_size=0.7, wet_level=1.0, dry_level=0.0)])(sends, SR)
    echo = sum(groups[k] * 10 ** (-18 / 20) for k in (0, 2))
    mix += pb.Pedalboard([pb.Delay(0.375, 0.35, 1.0)])(echo, SR)
    mix *= 10 ** (10 / 20)
    master = pb.Pedalboard([pb.LowShelfFilter(100.0, 1.0), pb.HighShelfFilter(10000.0, 1.0),
                            pb.Compressor(threshold_db=-18.0, ratio=2.0),
                            pb.Limiter(threshold_db=-1.0)])
    out = master(mix, SR)
    sf.write(str(folder / "out" / "pedalboard.wav"), out.T, SR, subtype="PCM_24")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--blocks", type=int, nargs="+", default=[256, 1024, 8192])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    ap.add_argument("--repeat", type=int, default=1,
                    help="renders per setting; the fastest is shown (shared machines are "
                         "noisy)")
    ap.add_argument("--by-node", action="store_true",
                    help="instead: one render with one worker, timed per node type")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]))
        return
    seconds = args.minutes * 60
    folder = HERE / "out" / f"session_{args.minutes:g}min"
    stems = write_stems(folder / "stems", seconds)
    (folder / "out").mkdir(exist_ok=True)
    project = build(folder, stems)
    if args.by_node:
        by_node(project, args.blocks[0] if len(args.blocks) == 1 else 1024)
        return
    print(f"mixgraph session benchmark: {STEMS} stems x {args.minutes:g} min, "
          f"{os.cpu_count()} cores")
    measure(project, 1024, 1)                         # warm the kernel cache
    print(f"{'block':>6} {'workers':>8} {'wall s':>8} {'realtime':>9} {'peak RSS MB':>12} "
          f"{'per worker':>11}")
    results = {}
    for block in args.blocks:
        for workers in dict.fromkeys(args.workers):
            m = min((measure(project, block, workers) for _ in range(args.repeat)),
                    key=lambda r: r["wall_s"])
            results[(block, workers)] = m
            print(f"{block:>6} {workers:>8} {m['wall_s']:>8.2f} "
                  f"{m['song_s'] / m['wall_s']:>8.1f}x {m['rss_mb']:>12.0f} "
                  f"{m['worker_rss_mb'] if workers > 1 else 0:>11.0f}")
    pb_time = pedalboard_equivalent(folder, stems, seconds)
    if pb_time is None:
        print("pedalboard not installed (pip install -e .[bench]): no comparison")
    else:
        block = 1024 if 1024 in args.blocks else args.blocks[0]
        print(f"pedalboard (C++ plugins, whole files, one core): {pb_time:.2f} s")
        for w in sorted({w for (b, w) in results if b == block}):
            wall = results[(block, w)]["wall_s"]
            print(f"  mixgraph, block {block}, {w} worker{'s' * (w > 1)}: {wall:.2f} s, "
                  f"{pb_time / wall:.2f}x pedalboard's speed")


if __name__ == "__main__":
    main()
