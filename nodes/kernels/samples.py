"""Sample format conversion between files' interleaved frames and the engine's rows."""

from __future__ import annotations

import numpy as np
from numba import types

from .jit import A2, F8, I8, kernel


@kernel(src=[types.float64[:, :], types.float32[:, :], types.int32[:, :], types.int16[:, :]],
        scale=F8, out=A2)
def deinterleave(src, scale, out):
    """out[c, i] = src[i, c] * scale: frames (n, ch) as a file holds them (float64, float32,
    int32 or int16) to rows (ch, n) of float64, in one pass (numpy's cast of the
    transposed view takes several)."""
    n, ch = src.shape
    if ch == 1:
        for i in range(n):
            out[0, i] = src[i, 0] * scale
    elif ch == 2:
        for i in range(n):
            out[0, i] = src[i, 0] * scale
            out[1, i] = src[i, 1] * scale
    else:
        for i in range(n):
            for c in range(ch):
                out[c, i] = src[i, c] * scale


@kernel(src=types.uint8[::1], channels=I8, scale=F8, out=A2)
def deinterleave24(src, channels, scale, out):
    """out[c, i] = sample (i, c) of packed little-endian 24-bit frames ``src`` (bytes,
    uint8) * scale, for the first out.shape[1] frames."""
    n = out.shape[1]
    for c in range(channels):
        for i in range(n):
            j = 3 * (i * channels + c)
            v = np.int32(src[j]) | (np.int32(src[j + 1]) << 8) | (np.int32(src[j + 2]) << 16)
            out[c, i] = ((v ^ 0x800000) - 0x800000) * scale


@kernel(src=[types.float32[:, :], types.float64[:, :]], scale=F8, out=A2)
def deinterleave_finite(src, scale, out):
    """:func:`deinterleave` of floating-point frames that also looks for a sample that
    is not a finite number: returns the first such frame's index, or -1 (the check
    rides on the pass that touches every sample anyway)."""
    n, ch = src.shape
    bad = -1
    for i in range(n):
        for c in range(ch):
            v = src[i, c] * scale
            out[c, i] = v
            if bad < 0 and not np.isfinite(v):
                bad = i
    return bad
