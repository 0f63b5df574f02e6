"""Per-node benchmark: each processing node on 60 s of 48 kHz stereo at block 1024.

    python bench/nodes.py [--seconds 60] [--block 1024] [--only eq compressor ...]

Prints, per node and setting, the time of the first block (numba kernels are
loaded from the cache, or compiled on a machine that has never run them) and the
realtime factor of the whole signal.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


SR = 48000

CASES = [
    ("gain", {"gain_db": -3.0}),
    ("channel", {"gain_db": -3.0, "pan": 0.3, "width": 1.2}),
    ("eq", {"bands": [{"type": "highpass", "freq_hz": 30, "slope_db_oct": 12},
                      {"type": "bell", "freq_hz": 250, "gain_db": -3, "q": 1.0},
                      {"type": "bell", "freq_hz": 3000, "gain_db": 2, "q": 0.8},
                      {"type": "high_shelf", "freq_hz": 8000, "gain_db": 3}]}),
    ("eq", {"bands": [{"type": "bell", "gain_db": 6, "q": 1.0,
                       "freq_hz": {"automation": [[0, 200], [60, 4000]],
                                   "curve": "exponential"}}]}),
    ("compressor", {"threshold_db": -24.0, "ratio": 4.0}),
    ("compressor", {"threshold_db": -24.0, "ratio": 4.0, "detector": "rms"}),
    ("gate", {"threshold_db": -30.0}),
    ("saturation", {"drive_db": 12.0}),
    ("delay", {"time_ms": 375.0, "feedback": 0.4}),
    ("reverb", {"decay_s": 1.8}),
    ("reverb", {"mode": "convolution", "ir_path": "IR"}),
    ("stereo_width", {"width": 1.5}),
    ("limiter", {"ceiling_dbtp": -1.0}),
    ("limiter", {"ceiling_dbtp": -1.0, "true_peak": False}),
    ("multiband_compressor", {"crossovers_hz": [200.0, 2500.0]}),
    ("linear_phase_eq", {"bands": [{"type": "low_shelf", "freq_hz": 100, "gain_db": 2},
                                   {"type": "bell", "freq_hz": 3000, "gain_db": -1.5,
                                    "q": 1.0}]}),
    ("fade", {"in_s": 2.0, "out_s": 5.0}),
    ("dither", {"bit_depth": 16}),
    ("dither", {"bit_depth": 16, "shape": "noise_shaped"}),
    ("meter", {}),
]


def _label(name, params) -> str:
    shown = []
    for k, v in params.items():
        if k == "bands":
            auto = any(isinstance(x, dict) for b in v for x in b.values())
            shown.append(f"{len(v)} bands{' automated' if auto else ''}")
        elif k in ("detector", "mode", "shape"):
            shown.append(str(v))
        elif k == "true_peak" and not v:
            shown.append("sample peak")
        elif k == "crossovers_hz":
            shown.append(f"{len(v) + 1} bands")
    return f"{name} ({', '.join(shown)})" if shown else name


def main() -> None:
    import soundfile as sf

    from mixgraph.nodes.base import Context, node_class

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()

    n = int(args.seconds * SR)
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(rng.standard_normal((2, n)) * 0.1)
    ir_file = Path(__file__).resolve().parent / "out" / "ir_3s.wav"
    ir_file.parent.mkdir(exist_ok=True)
    t = np.arange(3 * SR) / SR
    sf.write(str(ir_file), (rng.standard_normal((2, t.size)) * np.exp(-t / 0.4)).T * 0.3, SR)

    print(f"{args.seconds:g} s of 48 kHz stereo, block {args.block}")
    print(f"{'node':<34} {'first block ms':>15} {'realtime':>10}")
    for name, params in CASES:
        if args.only and name not in args.only:
            continue
        params = {k: (str(ir_file) if v == "IR" else v) for k, v in params.items()}
        cls = node_class(name)
        node = cls(**params)
        chans = node.prepare(Context(SR, args.block, (2,) + (None,) * (len(cls.inputs) - 1),
                                     content_frames=n))
        outs = tuple(np.zeros((c, args.block)) for c in chans)
        ins_extra = (None,) * (len(cls.inputs) - 1)
        t0 = time.perf_counter()
        node.process((x[:, :args.block],) + ins_extra, outs, 0)
        node.report()                   # a meter measures (and loads its kernels) here
        first = time.perf_counter() - t0
        node.reset()
        t0 = time.perf_counter()
        for start in range(0, n - args.block + 1, args.block):
            node.process((x[:, start:start + args.block],) + ins_extra, outs, start)
        wall = time.perf_counter() - t0
        print(f"{_label(name, params):<34} {first * 1000:>15.1f} {args.seconds / wall:>9.0f}x")
        node.close()


if __name__ == "__main__":
    main()
