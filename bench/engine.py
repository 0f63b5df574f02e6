"""Engine benchmark: a multi-stem session, realtime factor and peak memory.

    python bench/engine.py                    # 16 stems x 10 min, blocks 256/1024/8192
    python bench/engine.py --minutes 2 --stems 8

Generates the stems once (in bench/out/, not committed), builds a session (stems ->
channels with pan -> drum/music/vocal groups, vocal sends to an effect bus, a mix
bus with fader automation -> a 24-bit output), and renders it once per block size,
each in a fresh process so that its peak RSS is its own.  Prints wall time,
realtime factor and peak RSS per block size, and the same at a quarter of the
length, to show that memory does not grow with the song.
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


def engine_material(i: int, t: np.ndarray, rng, channels: int) -> np.ndarray:
    """Stem i at times t: a tone swelling at 0.5 Hz, over a little noise."""
    freq = 55.0 * 2 ** (i / 4)
    tone = 0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    return tone[:, None] + 0.05 * rng.standard_normal((t.size, channels))


def write_stems(folder: Path, stems: int, seconds: float, material=engine_material,
                seed: int = 0) -> list[tuple[str, int]]:
    """Write ``stems`` 16-bit files of ``seconds`` (a third stereo), streaming in
    10 s chunks of ``material(i, t, rng, channels)``; files already there are kept."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    chunk = SR * 10
    frames = int(seconds * SR)
    for i in range(stems):
        channels = 2 if i % 3 == 0 else 1
        name = f"stem{i:02d}"
        path = folder / f"{name}.wav"
        made.append((name, channels))
        if path.exists() and sf.info(str(path)).frames == frames:
            continue
        rng = np.random.default_rng(seed + i)
        with sf.SoundFile(str(path), "w", SR, channels, subtype="PCM_16") as f:
            for start in range(0, frames, chunk):
                t = (start + np.arange(min(chunk, frames - start))) / SR
                f.write(material(i, t, rng, channels))
    return made


def build_session(folder: Path, stems: list[tuple[str, int]], seconds: float) -> Path:
    from mixgraph import Graph, save

    g = Graph(sample_rate=SR, base_dir=folder)
    groups = ["drums", "music", "vocals"]
    for name in groups:
        g.add("group", id=name)
    g.add("bus", id="fx")
    g.add("bus", id="mix", gain_db={"automation": [[0.0, -3.0], [seconds, -1.0]]})
    for i, (name, _) in enumerate(stems):
        g.add("stem", id=name, path=f"stems/{name}.wav")
        g.add("channel", id=f"{name}_ch", gain_db=-6.0 - (i % 4), pan=((i * 0.37) % 2) - 1)
        g.connect(name, f"{name}_ch")
        group = groups[i * len(groups) // len(stems)]
        g.connect(f"{name}_ch", group)
        if group == "vocals":
            g.add("send", id=f"{name}_send", level_db=-12.0)
            g.connect(f"{name}_ch.pre", f"{name}_send")
            g.connect(f"{name}_send", "fx")
    for name in groups + ["fx"]:
        g.connect(name, "mix")
    g.add("output", id="master", path="out/master.wav", subtype="PCM_24")
    g.connect("mix", "master")
    path = folder / "session.mgraph"
    save(g, path)
    return path


def child(project: str, block: int) -> None:
    from mixgraph import render

    t0 = time.perf_counter()
    report = render(project, block_size=block)
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "song_s": report.song_s, "rss_mb": rss_mb}))


def measure(project: Path, block: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(project), str(block)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline_rss() -> float:
    code = ("import resource, graph, nodes, numpy, scipy.signal, soundfile, soxr, networkx;"
            "from mixgraph import render;"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(HERE.parent))
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stems", type=int, default=16)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--blocks", type=int, nargs="+", default=[256, 1024, 8192])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return

    print(f"mixgraph engine benchmark: {args.stems} stems, {os.cpu_count()} cores")
    print(f"python + imports baseline RSS: {baseline_rss():.0f} MB")
    for minutes in (args.minutes, args.minutes / 4):
        seconds = minutes * 60
        folder = HERE / "out" / f"engine_{args.stems}x{minutes:g}min"
        t0 = time.perf_counter()
        stems = write_stems(folder / "stems", args.stems, seconds)
        made = time.perf_counter() - t0
        project = build_session(folder, stems, seconds)
        print(f"\n{minutes:g} min session ({made:.1f} s to prepare stems): {project}")
        print(f"{'block':>7} {'wall s':>8} {'realtime':>9} {'peak RSS MB':>12}")
        for block in args.blocks:
            m = measure(project, block)
            print(f"{block:>7} {m['wall_s']:>8.2f} {m['song_s'] / m['wall_s']:>8.1f}x "
                  f"{m['rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
