"""Biquad and trapezoidal state-variable filter (SVF) cascades.

Fixed filters run as transposed direct form II biquads, four sections to a pass with
their states held in registers (:func:`biquad_cascade`): a recursion whose state lives
in memory waits on the store of one sample before it can load for the next, which
made the same filter three times slower.  Each section's two recursive products are
fused multiply-adds (:mod:`mixgraph.nodes.kernels.fused`): a sample's wait on the last one is
two fused operations, not two multiplies and three additions.

Each section is Andrew Simper's linear trapezoidal SVF: the bilinear transform of
an analog second-order section with the cutoff prewarped, so with the mixing
coefficients of :mod:`mixgraph.nodes.eqdesign` its transfer function is exactly the RBJ
Audio EQ Cookbook filter of the same type.  Unlike direct-form biquads it stays
well behaved when its coefficients change every sample, which is how automated
bands are rendered without zipper noise.

A section's coefficients are ``(a1, a2, a3, m0, m1, m2)``::

    v3 = x - ic2;  v1 = a1*ic1 + a2*v3;  v2 = ic2 + a2*ic1 + a3*v3
    ic1 = 2*v1 - ic1;  ic2 = 2*v2 - ic2;  y = m0*x + m1*v1 + m2*v2
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .jit import JIT
from .fused import fma


@nb.njit(inline="always")
def _svf_tick(v, state, c, s, a1, a2, a3, m0, m1, m2):
    """One sample through state-variable section s of channel c (trapezoidal SVF,
    Simper): returns m0 * v + m1 * band + m2 * low and updates the two integrators."""
    ic1 = state[c, s, 0]
    ic2 = state[c, s, 1]
    v3 = v - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    state[c, s, 0] = 2.0 * v1 - ic1
    state[c, s, 1] = 2.0 * v2 - ic2
    return m0 * v + m1 * v1 + m2 * v2


@nb.njit(inline="always")
def _biquad(v, sos, s, z0, z1):
    """One sample through biquad section s (transposed direct form II): returns the
    output and the two new states.  sos holds -a1 and -a2 (see biquad_cascade)."""
    y = fma(sos[s, 0], v, z0)
    return y, fma(sos[s, 3], y, fma(sos[s, 1], v, z1)), fma(sos[s, 4], y, sos[s, 2] * v)


@nb.njit(**JIT)
def biquad_cascade(x, out, sos, state):
    """Run channels of ``x`` (ch, n) through biquad sections; ``out`` may be ``x``.

    sos (sections, 5): rows (b0, b1, b2, -a1, -a2) with a0 = 1 (the feedback negated,
    so that it fuses into an addition); state (ch, sections, 2), updated in place.
    Sections run four at a time over the whole block (then two, then one), so each
    sample passes them in order and the result does not depend on the grouping.
    """
    channels, n = x.shape
    sections = sos.shape[0]
    g = 0
    while g < sections:
        src = x if g == 0 else out
        size = 4 if sections - g >= 4 else (2 if sections - g >= 2 else 1)
        for c in range(channels):
            a0, a1 = state[c, g, 0], state[c, g, 1]
            if size == 4:
                b0, b1 = state[c, g + 1, 0], state[c, g + 1, 1]
                c0, c1 = state[c, g + 2, 0], state[c, g + 2, 1]
                d0, d1 = state[c, g + 3, 0], state[c, g + 3, 1]
                for i in range(n):
                    v, a0, a1 = _biquad(src[c, i], sos, g, a0, a1)
                    v, b0, b1 = _biquad(v, sos, g + 1, b0, b1)
                    v, c0, c1 = _biquad(v, sos, g + 2, c0, c1)
                    v, d0, d1 = _biquad(v, sos, g + 3, d0, d1)
                    out[c, i] = v
                state[c, g + 1, 0], state[c, g + 1, 1] = b0, b1
                state[c, g + 2, 0], state[c, g + 2, 1] = c0, c1
                state[c, g + 3, 0], state[c, g + 3, 1] = d0, d1
            elif size == 2:
                b0, b1 = state[c, g + 1, 0], state[c, g + 1, 1]
                for i in range(n):
                    v, a0, a1 = _biquad(src[c, i], sos, g, a0, a1)
                    v, b0, b1 = _biquad(v, sos, g + 1, b0, b1)
                    out[c, i] = v
                state[c, g + 1, 0], state[c, g + 1, 1] = b0, b1
            else:
                for i in range(n):
                    v, a0, a1 = _biquad(src[c, i], sos, g, a0, a1)
                    out[c, i] = v
            state[c, g, 0], state[c, g, 1] = a0, a1
        g += size


@nb.njit(**JIT)
def svf_cascade_varying(x, out, coefs, state):
    """Run channels of ``x`` (ch, n) through SVF sections whose coefficients change
    every sample: coefs (sections, 6, n); state (ch, sections, 2), updated in place."""
    channels, n = x.shape
    sections = coefs.shape[0]
    for c in range(channels):
        for i in range(n):
            v = x[c, i]
            for s in range(sections):
                v = _svf_tick(v, state, c, s, coefs[s, 0, i], coefs[s, 1, i],
                              coefs[s, 2, i], coefs[s, 3, i], coefs[s, 4, i], coefs[s, 5, i])
            out[c, i] = v


_TILE = 512                              # outputs of polyphase_peak summed side by side


@nb.njit(**JIT)
def polyphase_peak(x, taps, history):
    """Largest |y| over the four phases of a polyphase interpolator run on x (ch, n).

    taps (k, 4): phase p's output is sum_k taps[k, p] * x[i - k] (zero columns for
    interpolators with fewer phases).  history (ch, k - 1) holds each channel's last
    inputs before x and is updated.  Each output is summed in the order of k, whatever
    the block size.  The sums run a tile of outputs at a time, four taps per pass over
    the tile, so that the compiler can vectorise them across outputs (a sum per output
    waits on its last addition; side by side they do not wait on each other).
    """
    ch, n = x.shape
    count = taps.shape[0]
    keep = count - 1
    grouped = count - count % 4
    buf = np.zeros(n + keep + _TILE)
    acc0 = np.empty(_TILE)
    acc1 = np.empty(_TILE)
    acc2 = np.empty(_TILE)
    acc3 = np.empty(_TILE)
    peak = 0.0
    for c in range(ch):
        buf[:keep] = history[c]
        buf[keep:keep + n] = x[c]
        for i0 in range(0, n, _TILE):
            acc0[:] = 0.0
            acc1[:] = 0.0
            acc2[:] = 0.0
            acc3[:] = 0.0
            for k in range(0, grouped, 4):
                # slices, not buf[off + j]: an index the compiler cannot prove positive
                # keeps numba's negative-index wrap-around, which stops vectorisation
                at = i0 + keep - k
                s0 = buf[at:at + _TILE]
                s1 = buf[at - 1:at - 1 + _TILE]
                s2 = buf[at - 2:at - 2 + _TILE]
                s3 = buf[at - 3:at - 3 + _TILE]
                p0, q0, r0, u0 = taps[k, 0], taps[k + 1, 0], taps[k + 2, 0], taps[k + 3, 0]
                p1, q1, r1, u1 = taps[k, 1], taps[k + 1, 1], taps[k + 2, 1], taps[k + 3, 1]
                p2, q2, r2, u2 = taps[k, 2], taps[k + 1, 2], taps[k + 2, 2], taps[k + 3, 2]
                p3, q3, r3, u3 = taps[k, 3], taps[k + 1, 3], taps[k + 2, 3], taps[k + 3, 3]
                for j in range(_TILE):
                    v0 = s0[j]
                    v1 = s1[j]
                    v2 = s2[j]
                    v3 = s3[j]
                    acc0[j] = (((acc0[j] + p0 * v0) + q0 * v1) + r0 * v2) + u0 * v3
                    acc1[j] = (((acc1[j] + p1 * v0) + q1 * v1) + r1 * v2) + u1 * v3
                    acc2[j] = (((acc2[j] + p2 * v0) + q2 * v1) + r2 * v2) + u2 * v3
                    acc3[j] = (((acc3[j] + p3 * v0) + q3 * v1) + r3 * v2) + u3 * v3
            for k in range(grouped, count):
                at = i0 + keep - k
                s0 = buf[at:at + _TILE]
                p0, p1, p2, p3 = taps[k, 0], taps[k, 1], taps[k, 2], taps[k, 3]
                for j in range(_TILE):
                    v0 = s0[j]
                    acc0[j] += p0 * v0
                    acc1[j] += p1 * v0
                    acc2[j] += p2 * v0
                    acc3[j] += p3 * v0
            for j in range(min(_TILE, n - i0)):
                peak = max(peak, abs(acc0[j]), abs(acc1[j]), abs(acc2[j]), abs(acc3[j]))
        history[c] = buf[n:n + keep]
    return peak


@nb.njit(**JIT)
def window_sums(values, width, ends, out):
    """out[j] = values[ends[j] - width] + ... + values[ends[j] - 1], in that order."""
    for j in range(ends.shape[0]):
        total = 0.0
        for i in range(ends[j] - width, ends[j]):
            total += values[i]
        out[j] = total


@nb.njit(**JIT)
def lfilter(b, a, x, out, state):
    """IIR filter b/a (a[0] == 1, len(a) == len(b)) on each channel of x (ch, n), in
    transposed direct form II; state (ch, len(b) - 1) is updated.  out may be x."""
    ch, n = x.shape
    order = b.shape[0] - 1
    for c in range(ch):
        for i in range(n):
            v = x[c, i]
            y = b[0] * v + state[c, 0]
            for k in range(order - 1):
                state[c, k] = b[k + 1] * v + state[c, k + 1] - a[k + 1] * y
            state[c, order - 1] = b[order] * v - a[order] * y
            out[c, i] = y
