"""Delay-line loops: the feedback delay and the feedback delay network reverb."""

from __future__ import annotations

import numba as nb
import numpy as np

from . import JIT


@nb.njit(inline="always")
def _at(a, i):
    return a[i] if a.shape[0] > 1 else a[0]


@nb.njit(inline="always")
def _hermite(buf, c, size, r):
    """4-point, 3rd-order Hermite interpolation of buf[c] at fractional index r."""
    i0 = int(r // 1.0)
    t = r - i0
    xm1 = buf[c, (i0 - 1) % size]
    x0 = buf[c, i0 % size]
    x1 = buf[c, (i0 + 1) % size]
    x2 = buf[c, (i0 + 2) % size]
    c1 = 0.5 * (x1 - xm1)
    c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2
    c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1)
    return ((c3 * t + c2) * t + c1) * t + x0


@nb.njit(**JIT)
def feedback_delay(x, out, buf, state, times, feedback, damp, mix, glide):
    """A delay with feedback, a one-pole lowpass in the loop and a dry/wet mix.

    buf (ch, size): the delay memory.  state: [write position, smoothed delay in
    samples (< 0: not started), lowpass memory per channel ...].  times: delay in
    samples (n,) or (1,); the delay glides towards it with coefficient ``glide`` so
    that changes never jump.  damp: the lowpass pole (y = (1-d) x + d y).
    """
    channels, n = x.shape
    size = buf.shape[1]
    pos = int(state[0])
    d = state[1]
    for i in range(n):
        target = _at(times, i)
        d = target if d < 0.0 else target + glide * (d - target)
        fb = _at(feedback, i)
        a = _at(damp, i)
        m = _at(mix, i)
        r = pos - d
        for c in range(channels):
            wet = _hermite(buf, c, size, r)
            lp = (1.0 - a) * wet + a * state[2 + c]
            state[2 + c] = lp
            buf[c, pos] = x[c, i] + fb * lp
            out[c, i] = x[c, i] + m * (lp - x[c, i])
        pos = (pos + 1) % size
    state[0] = pos
    state[1] = d


@nb.njit(**JIT)
def fdn_reverb(x, out, lines, lengths, pos, b0, b1, a1, lp, ap_buf, ap_len, ap_pos,
               ap_gain, in_sign, out_left, out_right):
    """A 16-line feedback delay network with absorption filters and input diffusion.

    x (ch, n) with ch 1 or 2; out (2, n) gets the wet signal.
    lines (16, maxlen) with lengths (16,) and read/write positions pos (16,);
    b0, b1, a1 (16, n) or (16, 1): per-line first-order shelving absorption
    f = b0*s + b1*s' - a1*f', whose gains at DC and at Nyquist set the decay times
    there; lp (16, 2) its memory (s', f').
    ap_buf (ch, stages, maxlen), ap_len (stages,), ap_pos (ch, stages): Schroeder
    allpasses that diffuse each input channel before it enters the network.
    in_sign (2, 16): how each input channel feeds the lines; out_left/out_right (16,):
    output taps.  The feedback matrix is a 16-point Hadamard transform / 4.
    """
    channels, n = x.shape
    lines_n = lines.shape[0]
    stages = ap_len.shape[0]
    v = np.empty(16)
    diffused = np.zeros(2)
    vary = b0.shape[1] > 1
    for i in range(n):
        # diffuse the inputs
        for c in range(channels):
            s = x[c, i]
            for k in range(stages):
                length = ap_len[k]
                p = ap_pos[c, k]
                delayed = ap_buf[c, k, p]
                g = ap_gain
                w = s + g * delayed
                ap_buf[c, k, p] = w
                s = delayed - g * w
                ap_pos[c, k] = (p + 1) % length
            diffused[c] = s
        # read, absorb
        col = i if vary else 0
        left = 0.0
        right = 0.0
        for j in range(lines_n):
            s = lines[j, pos[j]]
            y = b0[j, col] * s + b1[j, col] * lp[j, 0] - a1[j, col] * lp[j, 1]
            lp[j, 0] = s
            lp[j, 1] = y
            v[j] = y
            left += out_left[j] * y
            right += out_right[j] * y
        out[0, i] = left
        out[1, i] = right
        # mix: fast Walsh-Hadamard transform, scaled to stay lossless
        h = 1
        while h < 16:
            for start in range(0, 16, 2 * h):
                for j in range(start, start + h):
                    p0 = v[j]
                    p1 = v[j + h]
                    v[j] = p0 + p1
                    v[j + h] = p0 - p1
            h *= 2
        for j in range(lines_n):
            feed = 0.25 * v[j]
            for c in range(channels):
                feed += in_sign[c, j] * diffused[c]
            lines[j, pos[j]] = feed
            pos[j] = (pos[j] + 1) % lengths[j]
