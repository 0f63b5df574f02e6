"""Batch scaling: 8 songs through the shipped ``band`` template, on 1 and 2 workers.

    python bench/batch.py [--songs 8] [--seconds 30] [--workers 1 2] [--dask]

Generates the songs once (the demo's synthesised kick, snare, hats, bass, keys and
lead, a different seed per song) into bench/out/batch/, then renders the batch from
scratch (``force``) with the local process pool at each worker count, and with
``--dask`` on a ``dask.distributed.LocalCluster`` of as many worker processes.
Prints wall time, songs per minute and the speed-up over one worker.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_songs(folder: Path, songs: int, seconds: float) -> list[Path]:
    import soundfile as sf

    from mixgraph.workflows.demo import synthesise

    made = []
    for i in range(songs):
        d = folder / f"song{i:02d}"
        made.append(d)
        if d.is_dir() and len(list(d.glob("*.wav"))) == 6 and \
                abs(sf.info(str(d / "kick.wav")).duration - seconds) < 0.5:
            continue
        d.mkdir(parents=True, exist_ok=True)
        for name, x in synthesise(seconds, seed=100 + i).items():
            sf.write(str(d / f"{name}.wav"), x.T if x.ndim == 2 else x, 48000,
                     subtype="PCM_24")
    return made


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dask", action="store_true", help="also on a Dask LocalCluster")
    args = ap.parse_args()

    from mixgraph import batch

    root = HERE / "out" / "batch"
    songs = make_songs(root / "songs", args.songs, args.seconds)
    print(f"batch benchmark: {args.songs} songs x {args.seconds:g} s through 'band'")
    print(f"{'where':<22} {'workers':>7} {'wall s':>8} {'songs/min':>10} {'speed-up':>9}")
    base = {}
    for workers in args.workers:
        t0 = time.perf_counter()
        report = batch("band", songs, root / "out_local", workers=workers, force=True)
        wall = time.perf_counter() - t0
        assert report.ok, report.format()
        base.setdefault("local", wall)
        print(f"{'local process pool':<22} {workers:>7} {wall:>8.2f} "
              f"{60 * len(songs) / wall:>10.1f} {base['local'] / wall:>8.2f}x")
    if args.dask:
        from dask.distributed import Client, LocalCluster

        for workers in args.workers:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                client.run(lambda: __import__("mixgraph.core.renderer"))       # workers warm
                t0 = time.perf_counter()
                report = batch("band", songs, root / "out_dask", scheduler=client,
                               force=True)
                wall = time.perf_counter() - t0
            assert report.ok, report.format()
            base.setdefault("dask", wall)
            print(f"{'dask LocalCluster':<22} {workers:>7} {wall:>8.2f} "
                  f"{60 * len(songs) / wall:>10.1f} {base['dask'] / wall:>8.2f}x")


if __name__ == "__main__":
    main()
