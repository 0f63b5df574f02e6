"""Oversampled waveshaping in stages of 2x: polyphase FIR up, tanh, polyphase FIR down.

Each stage doubles (or halves) the rate with a linear-phase lowpass ``h`` of N taps
split into its two phases, each trimmed to the span of its non-zero taps: the first
stage's sharp filter is dense, the later half-band filters have one phase that is a
single tap, so they cost about N/2 multiplies per sample.  Dot products use four
running sums in a fixed order, so results do not depend on how the signal is cut
into blocks.
"""

from __future__ import annotations

import math

import numba as nb

from .jit import A2, C1, C2, I8, at, kernel


@nb.njit(inline="always")
def _dot(row, last, taps, step):
    """sum_k taps[k] * row[last - step * k], four sums in a fixed order."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    K = taps.shape[0]
    k = 0
    while k + 3 < K:
        a0 += taps[k] * row[last - step * k]
        a1 += taps[k + 1] * row[last - step * (k + 1)]
        a2 += taps[k + 2] * row[last - step * (k + 2)]
        a3 += taps[k + 3] * row[last - step * (k + 3)]
        k += 4
    while k < K:
        a0 += taps[k] * row[last - step * k]
        k += 1
    return (a0 + a1) + (a2 + a3)


@kernel(ext=C2, hist=I8, t0=C1, o0=I8, t1=C1, o1=I8, dst=A2)
def upsample2(ext, hist, t0, o0, t1, o1, dst):
    """Double the rate: dst[c, 2i + p] = sum_k t_p[k] * x[c, i - o_p - k].

    ext (ch, >= hist + m): ``hist`` samples of history, then the m new samples x.
    t_p: phase p of the filter (times 2), from its first non-zero tap at o_p.
    dst (ch, 2m).
    """
    m = dst.shape[1] // 2
    for c in range(ext.shape[0]):
        row = ext[c]
        for i in range(m):
            b = hist + i
            dst[c, 2 * i] = _dot(row, b - o0, t0, 1)
            dst[c, 2 * i + 1] = _dot(row, b - o1, t1, 1)


@kernel(ext=C2, hist=I8, t0=C1, o0=I8, t1=C1, o1=I8, dst=A2)
def downsample2(ext, hist, t0, o0, t1, o1, dst):
    """Halve the rate: dst[c, i] = sum_p sum_k t_p[k] * u[c, 2i - 2(o_p + k) - p].

    ext (ch, >= hist + 2m): history, then the 2m new samples u.  dst (ch, m).
    """
    m = dst.shape[1]
    for c in range(ext.shape[0]):
        row = ext[c]
        for i in range(m):
            b = hist + 2 * i
            dst[c, i] = _dot(row, b - 2 * o0, t0, 2) + _dot(row, b - 2 * o1 - 1, t1, 2)


@kernel(u=A2, factor=I8, drive=C1, norm=C1)
def tanh_shape(u, factor, drive, norm):
    """u[c, j] = tanh(drive * u[c, j]) * norm in place, drive and norm per base
    sample (j // factor), each (n,) or (1,)."""
    for c in range(u.shape[0]):
        for j in range(u.shape[1]):
            i = j // factor
            g = at(drive, i)
            s = at(norm, i)
            v = g * u[c, j]
            e = math.exp(-2.0 * abs(v))               # tanh from one exp: twice as fast
            t = (1.0 - e) / (1.0 + e)                 # as libm's tanh, within 3e-16
            u[c, j] = (t if v >= 0.0 else -t) * s
