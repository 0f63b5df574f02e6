"""Oversampled waveshaping: polyphase FIR up, tanh, polyphase FIR down.

Both filters are the same linear-phase lowpass ``h`` (N taps at L times the rate);
with N - 1 a multiple of 2L the round trip delays by (N - 1) / L samples exactly.
Dot products use four running sums in a fixed order, so results do not depend on
how the signal is cut into blocks.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from . import JIT


@nb.njit(**JIT)
def tanh_oversampled(x_ext, out, poly, h, u_hist, drive, norm):
    """Shape ``x`` at L times its rate: y = tanh(drive * u) * norm.

    x_ext (ch, K-1+n): K-1 samples of input history, then the block.
    poly (L, K): upsampling taps by phase (already scaled by L).  h (N,): the
    decimation taps.  u_hist (ch, N-1): the oversampled history, updated.
    drive, norm: (n,) or (1,).  out (ch, n) receives the result.
    """
    channels = x_ext.shape[0]
    L, K = poly.shape
    N = h.shape[0]
    n = out.shape[1]
    u = np.empty(N - 1 + n * L)
    for c in range(channels):
        u[:N - 1] = u_hist[c]
        for i in range(n):
            g = drive[i] if drive.shape[0] > 1 else drive[0]
            s = norm[i] if norm.shape[0] > 1 else norm[0]
            last = K - 1 + i
            for p in range(L):
                a0 = 0.0
                a1 = 0.0
                a2 = 0.0
                a3 = 0.0
                k = 0
                while k + 3 < K:
                    a0 += poly[p, k] * x_ext[c, last - k]
                    a1 += poly[p, k + 1] * x_ext[c, last - k - 1]
                    a2 += poly[p, k + 2] * x_ext[c, last - k - 2]
                    a3 += poly[p, k + 3] * x_ext[c, last - k - 3]
                    k += 4
                while k < K:
                    a0 += poly[p, k] * x_ext[c, last - k]
                    k += 1
                u[N - 1 + i * L + p] = math.tanh(g * ((a0 + a1) + (a2 + a3))) * s
        for i in range(n):
            base = N - 1 + i * L
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            j = 0
            while j + 3 < N:
                a0 += h[j] * u[base - j]
                a1 += h[j + 1] * u[base - j - 1]
                a2 += h[j + 2] * u[base - j - 2]
                a3 += h[j + 3] * u[base - j - 3]
                j += 4
            while j < N:
                a0 += h[j] * u[base - j]
                j += 1
            out[c, i] = (a0 + a1) + (a2 + a3)
        u_hist[c] = u[n * L:n * L + N - 1]
