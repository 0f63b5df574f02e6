"""Sample format conversion between files' interleaved frames and the engine's rows."""

from __future__ import annotations

import numba as nb

from . import JIT


@nb.njit(**JIT)
def deinterleave(src, scale, out):
    """out[c, i] = src[i, c] * scale: frames (n, ch) of any numeric type to rows (ch, n)
    of float64, in one pass (numpy's cast of the transposed view takes several)."""
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
