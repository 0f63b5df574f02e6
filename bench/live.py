"""Live playback benchmark (issue: live monitoring).

    python bench/live.py [--seconds 12] [--buffers 1024 256] [--stems 32 64 96 128 160]

Plays through a JACK server of its own (dummy driver: no sound card; needs jackd2,
PortAudio and the test extras), each time as a user would: ``mixgraph play --json``
in a fresh process, with the server's period set to the device buffer.  Prints, per
device buffer:

- the CPU load (rendering time per second of audio) and underruns of the demo and
  of the 32-stem benchmark session (bench/session.py's routing, shorter stems);
- the largest session that plays without an underrun, growing the session by
  ``--stems`` steps (each strip: stem, eq, compressor, channel; groups, sends,
  reverb, delay, master chain as in bench/session.py) until one underruns or the
  CPU load passes 90 %;
- the edit-to-ear time: a fader moved by 12 dB while a tone plays, measured at a
  JACK capture client from the moment of the edit to the level crossing half way.

The 32-stem session's material is written once into bench/out/ (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path[:0] = [str(HERE), str(TESTS)]

SR = 48000


def play(env: dict, project: Path, seconds: float, buffer: int) -> dict:
    """``mixgraph play --json`` for ``seconds`` from the start; what it reported."""
    done = subprocess.run([sys.executable, "-m", "mixgraph", "play", str(project),
                           "--to", f"{seconds:g}", "--buffer", str(buffer), "--json"],
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise SystemExit(f"mixgraph play failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def session(root: Path, stems: int, seconds: float) -> Path:
    """The benchmark session's routing over ``stems`` strips of ``seconds``."""
    from engine import write_stems
    from session import build, session_material

    folder = root / f"live_{stems}"
    made = write_stems(folder / "stems", stems, seconds, session_material, seed=100)
    (folder / "out").mkdir(parents=True, exist_ok=True)
    return build(folder, made)


def edit_to_ear(env: dict, folder: Path, buffer: int) -> float:
    """Seconds from a fader move to its being heard (tests/jack_player.py's fader
    scenario: a -12 dBFS tone, centre-panned, down by 12 dB)."""
    import soundfile as sf

    from jack_player import edit_heard_after
    from mixgraph import Graph, save

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(6 * SR) / SR
    sf.write(str(folder / "a.wav"), 10 ** (-12 / 20) * np.sin(2 * np.pi * 440 * t), SR,
             subtype="FLOAT")
    g = Graph(sample_rate=SR, base_dir=folder)
    g.add("stem", id="a", path="a.wav")
    g.add("channel", id="a_ch")
    g.add("bus", id="mix")
    g.add("output", id="out", path="out.wav")
    for a, b in (("a", "a_ch"), ("a_ch", "mix"), ("mix", "out")):
        g.connect(a, b)
    save(g, folder / "tone.mgraph")
    out = folder / "fader.npz"
    done = subprocess.run([sys.executable, str(TESTS / "jack_player.py"), "fader",
                           str(folder / "tone.mgraph"), str(out), str(buffer)], env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise SystemExit(f"the fader scenario failed: {done.stderr[-1000:]}")
    got = np.load(out)
    before = 10 ** (-12 / 20) * np.sqrt(0.5)
    return edit_heard_after(got["audio"], got["frames"], json.loads(str(got["events"])),
                            before, before * 10 ** (-12 / 20))


def line(label: str, m: dict) -> str:
    return (f"  {label:<28} cpu load {100 * m['cpu_load']:5.1f} %   underruns "
            f"{m['underruns']:>3}   played {m['played_s']:5.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="played per measurement")
    ap.add_argument("--buffers", type=int, nargs="+", default=[1024, 256])
    ap.add_argument("--stems", type=int, nargs="+", default=[32, 64, 96, 128, 160],
                    help="session sizes tried for the largest that plays")
    args = ap.parse_args()
    from jack_player import start_server, stop_server
    from mixgraph.workflows.demo import write_demo

    root = HERE / "out"
    print(f"mixgraph live playback benchmark: {os.cpu_count()} cores, {SR} Hz, JACK dummy "
          f"driver, {args.seconds:g} s per measurement")
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        write_demo(demo)
        sessions = {n: session(root, n, args.seconds + 3) for n in args.stems}
        for buffer in args.buffers:
            server, env = start_server(f"mixgraph-bench-{os.getpid()}", SR, buffer)
            try:
                print(f"device buffer {buffer} frames ({1000 * buffer / SR:.1f} ms), "
                      f"JACK period {buffer}")
                play(env, demo / "demo.mgraph", 2.0, buffer)      # warm the kernel cache
                print(line("demo (8 s, 38 nodes)", play(env, demo / "demo.mgraph", 8.0,
                                                         buffer)))
                largest = None
                for n in args.stems:
                    m = play(env, sessions[n], args.seconds, buffer)
                    print(line(f"{n}-stem session", m))
                    if m["underruns"] or m["cpu_load"] > 0.9:
                        break
                    largest = n
                print(f"  largest session without an underrun: {largest} stems"
                      + ("" if largest != args.stems[-1] else " (the largest tried)"))
                heard = edit_to_ear(env, Path(tmp) / f"tone{buffer}", buffer)
                print(f"  edit to ear (fader, at the capture): {1000 * heard:.1f} ms")
            finally:
                stop_server(server)


if __name__ == "__main__":
    main()
