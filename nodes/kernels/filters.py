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

from .jit import A1, A2, C1, C2, C3, I1, I8, kernel
from .fused import fma
from .lanes import vfma, vget, vmul, vpack


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


@kernel(x=A2, out=A2, sos=C2, state=C3)
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


@kernel(x=A2, out=A2, coefs=C3, state=C3)
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


@kernel(values=C1, width=I8, ends=I1, out=C1)
def window_sums(values, width, ends, out):
    """out[j] = values[ends[j] - width] + ... + values[ends[j] - 1], in that order."""
    for j in range(ends.shape[0]):
        total = 0.0
        for i in range(ends[j] - width, ends[j]):
            total += values[i]
        out[j] = total


@kernel(b=C1, a=C1, x=A2, out=A2, state=C2)
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


@nb.njit(inline="always")
def _lane_column(a, s, k):
    """Element (s, k) of each lane's table ``a`` (lanes, ...) as a vector."""
    return vpack(a[0, s, k], a[1, s, k], a[2, s, k], a[3, s, k])


@nb.njit(inline="always")
def _biquad_lanes(v, k, z0, z1):
    """:func:`_biquad` in four lanes (the same fused operations in the same order);
    ``k`` is the section's coefficients (b0, b1, b2, -a1, -a2), each a vector."""
    y = vfma(k[0], v, z0)
    return y, vfma(k[3], y, vfma(k[1], v, z1)), vfma(k[4], y, vmul(k[2], v))


@nb.njit(inline="always")
def _section_lanes(sos, s):
    """Section ``s`` of each lane's table (lanes, sections, 5): five vectors, held in
    registers through a loop (a load per sample could not be: the loop's stores to
    its output might, for all the compiler knows, change the table)."""
    return (_lane_column(sos, s, 0), _lane_column(sos, s, 1), _lane_column(sos, s, 2),
            _lane_column(sos, s, 3), _lane_column(sos, s, 4))


@kernel(x0=A1, x1=A1, x2=A1, x3=A1, out0=A1, out1=A1, out2=A1, out3=A1, sos=C3,
        state=C3)
def biquad_lanes(x0, x1, x2, x3, out0, out1, out2, out3, sos, state):
    """Four independent cascades at once, one per lane: signal k is ``xk`` (n,),
    filtered into ``outk`` (which may be ``xk``); sos (4, sections, 5) and state (4,
    sections, 2) per lane as :func:`biquad_cascade` takes them for one channel.  Every
    lane's output and state are bit for bit that kernel's.  Sections run four at a
    time over the block (then one by one), their coefficients and states in vector
    registers; the lanes are gathered from their rows and scattered back sample by
    sample (cheaper than packing them into one array and out again).  Unlike that
    kernel it runs the sections left over from the fours one at a time (two at a
    time would be a third loop to compile, for little)."""
    n = x0.shape[0]
    sections = sos.shape[1]
    g = 0
    while g < sections:
        first = g == 0
        size = 4 if sections - g >= 4 else 1
        ka = _section_lanes(sos, g)
        a0, a1 = _lane_column(state, g, 0), _lane_column(state, g, 1)
        if size == 4:
            kb, kc, kd = _section_lanes(sos, g + 1), _section_lanes(sos, g + 2), \
                _section_lanes(sos, g + 3)
            b0, b1 = _lane_column(state, g + 1, 0), _lane_column(state, g + 1, 1)
            c0, c1 = _lane_column(state, g + 2, 0), _lane_column(state, g + 2, 1)
            d0, d1 = _lane_column(state, g + 3, 0), _lane_column(state, g + 3, 1)
            for i in range(n):
                v = vpack(x0[i], x1[i], x2[i], x3[i]) if first else \
                    vpack(out0[i], out1[i], out2[i], out3[i])
                v, a0, a1 = _biquad_lanes(v, ka, a0, a1)
                v, b0, b1 = _biquad_lanes(v, kb, b0, b1)
                v, c0, c1 = _biquad_lanes(v, kc, c0, c1)
                v, d0, d1 = _biquad_lanes(v, kd, d0, d1)
                out0[i], out1[i], out2[i], out3[i] = vget(v, 0), vget(v, 1), vget(v, 2), \
                    vget(v, 3)
            _store_lanes(state, g + 1, b0, b1)
            _store_lanes(state, g + 2, c0, c1)
            _store_lanes(state, g + 3, d0, d1)
        else:
            for i in range(n):
                v = vpack(x0[i], x1[i], x2[i], x3[i]) if first else \
                    vpack(out0[i], out1[i], out2[i], out3[i])
                v, a0, a1 = _biquad_lanes(v, ka, a0, a1)
                out0[i], out1[i], out2[i], out3[i] = vget(v, 0), vget(v, 1), vget(v, 2), \
                    vget(v, 3)
        _store_lanes(state, g, a0, a1)
        g += size


@nb.njit(inline="always")
def _store_lanes(state, s, z0, z1):
    for lane in range(4):
        state[lane, s, 0] = vget(z0, lane)
        state[lane, s, 1] = vget(z1, lane)
