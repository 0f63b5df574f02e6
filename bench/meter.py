"""Meter benchmark: BS.1770-4 / R128 metering of 10 minutes of 48 kHz stereo.

    python bench/meter.py [--minutes 10]

Prints the realtime factor of LoudnessMeter fed in memory (in 65536-frame blocks)
and of ``mixgraph meter`` on a 24-bit WAV file of the same audio (read from disk).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SR = 48000


def main() -> None:
    import soundfile as sf

    from mixgraph.nodes.meters import LoudnessMeter, meter_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    seconds = args.minutes * 60
    path = HERE / "out" / f"meter_{args.minutes:g}min.wav"
    path.parent.mkdir(exist_ok=True)
    chunk = SR * 30
    frames = int(seconds * SR)
    if not path.exists() or sf.info(str(path)).frames != frames:
        rng = np.random.default_rng(0)
        with sf.SoundFile(str(path), "w", SR, 2, subtype="PCM_24") as f:
            for start in range(0, frames, chunk):
                n = min(chunk, frames - start)
                t = (start + np.arange(n)) / SR
                env = 0.5 + 0.4 * np.sin(2 * np.pi * 0.05 * t)
                f.write((rng.standard_normal((n, 2)) * 0.1 * env[:, None]))

    meter = LoudnessMeter(SR, 2)
    busy = 0.0
    with sf.SoundFile(str(path)) as f:
        while True:
            data = f.read(65536, dtype="float64", always_2d=True)
            if not len(data):
                break
            block = np.ascontiguousarray(data.T)
            t0 = time.perf_counter()
            meter.add(block)
            busy += time.perf_counter() - t0
    result = meter.result()
    t0 = time.perf_counter()
    meter_file(path)
    whole = time.perf_counter() - t0
    print(f"{args.minutes:g} min of 48 kHz stereo: I {result['integrated_lufs']:.2f} LUFS, "
          f"LRA {result['lra_lu']:.1f} LU, TP {result['true_peak_dbtp']:.2f} dBTP")
    print(f"  LoudnessMeter (in memory): {busy:6.2f} s  {seconds / busy:6.0f}x realtime")
    print(f"  meter_file (from disk):    {whole:6.2f} s  {seconds / whole:6.0f}x realtime")


if __name__ == "__main__":
    main()
