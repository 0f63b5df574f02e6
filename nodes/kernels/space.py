"""Delay-line loops: the feedback delay and the feedback delay network reverb."""

from __future__ import annotations

import numba as nb
import numpy as np

from .jit import A2, C1, C2, C3, F8, I1, I2, I8, at, kernel



@nb.njit(inline="always")
def _copy_row(a, src, dst):
    """a[dst] = a[src], as a loop: a row assignment brings numba's shape checks (a
    second of compiling), and the loop written out in place runs slower."""
    for j in range(a.shape[1]):
        a[dst, j] = a[src, j]


@nb.njit(inline="always")
def _hermite(buf, c, size, r):
    """4-point, 3rd-order Hermite interpolation of buf[c] at fractional index r, for
    -size <= r < size (indices wrap around the ring without a division)."""
    i0 = int(r // 1.0)
    t = r - i0
    k = i0 if i0 >= 0 else i0 + size
    km1 = k - 1 if k > 0 else size - 1
    k1 = k + 1 if k + 1 < size else k + 1 - size
    k2 = k1 + 1 if k1 + 1 < size else k1 + 1 - size
    xm1 = buf[c, km1]
    x0 = buf[c, k]
    x1 = buf[c, k1]
    x2 = buf[c, k2]
    c1 = 0.5 * (x1 - xm1)
    c2 = xm1 - 2.5 * x0 + 2.0 * x1 - 0.5 * x2
    c3 = 0.5 * (x2 - xm1) + 1.5 * (x0 - x1)
    return ((c3 * t + c2) * t + c1) * t + x0


@kernel(x=A2, out=A2, buf=C2, state=C1, times=C1, feedback=C1, damp=C1, mix=C1, glide=F8)
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
        target = at(times, i)
        d = target if d < 0.0 else target + glide * (d - target)
        fb = at(feedback, i)
        a = at(damp, i)
        m = at(mix, i)
        r = pos - d
        for c in range(channels):
            wet = _hermite(buf, c, size, r)
            lp = (1.0 - a) * wet + a * state[2 + c]
            state[2 + c] = lp
            buf[c, pos] = x[c, i] + fb * lp
            out[c, i] = x[c, i] + m * (lp - x[c, i])
        pos += 1
        if pos == size:
            pos = 0
    state[0] = pos
    state[1] = d


MIN_TAP = 3.0          # the chorus's shortest delay, in samples


@kernel(x=A2, out=A2, buf=C2, state=C1, rate=C1, depth=C1, delay=C1, feedback=C1, mix=C1,
        spread=C1, voices=I8, source=I1)
def chorus(x, out, buf, state, rate, depth, delay, feedback, mix, spread, voices, source):
    """A chorus: ``voices`` taps per channel into one delay line each, every tap's
    delay swept by a sine LFO around ``delay`` by +-``depth`` (samples; never under
    ``MIN_TAP``, where a depth larger than the delay bottoms out), the taps
    averaged, fed back by ``feedback`` and mixed with the dry signal by ``mix``.

    x (ch_in, n); out (ch, n), channel c reading input channel source[c]; buf (ch,
    size) the delay memory; state: [write position, LFO phase in cycles].  rate: LFO
    cycles per sample.  The voices' LFOs are evenly spaced in phase; a channel's are
    offset by ``spread`` times its share of a cycle (so the sides move apart).  The
    LFO advances one sample at a time, so any block size gives the same sound.
    """
    channels, n = out.shape
    size = buf.shape[1]
    pos = int(state[0])
    phase = state[1]
    two_pi = 2.0 * np.pi
    for i in range(n):
        d0 = at(delay, i)
        dd = at(depth, i)
        fb = at(feedback, i)
        m = at(mix, i)
        sp = at(spread, i)
        for c in range(channels):
            dry = x[source[c], i]
            wet = 0.0
            for v in range(voices):
                lfo = np.sin(two_pi * (phase + v / voices + sp * c / channels))
                # never nearer than 3 samples: the interpolator reads one ahead
                tap = max(d0 + dd * lfo, MIN_TAP)
                wet += _hermite(buf, c, size, pos - tap)
            wet /= voices
            buf[c, pos] = dry + fb * wet
            out[c, i] = dry + m * (wet - dry)
        pos += 1
        if pos == size:
            pos = 0
        phase += at(rate, i)
        if phase >= 1.0:
            phase -= 1.0
    state[0] = pos
    state[1] = phase


@kernel(x=A2, out=A2, lines=C2, lengths=I1, pos=I1, b0=C2, b1=C2, a1=C2, lp=C2,
        ap_buf=C3, ap_len=I1, ap_pos=I2, ap_gain=F8, in_sign=C2, out_left=C1, out_right=C1)
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

    A line is read where it is written, so no sample written now is read sooner than
    its line's length later: the network runs in runs of up to the shortest length,
    each stage over the whole run with the sixteen lines side by side (rows of 16),
    each sample's arithmetic exactly as if it ran one sample at a time.
    """
    channels, n = x.shape
    stages = ap_len.shape[0]
    vary = b0.shape[1] > 1
    shortest = lengths[0]
    for j in range(1, lengths.shape[0]):
        shortest = min(shortest, lengths[j])
    run = min(n, shortest, 256)           # a run's rows stay in the first-level cache
    diffused = np.empty((channels, run))
    s_ = np.empty((run + 1, 16))          # line outputs, after the last run's final one
    f_ = np.empty((run + 1, 16))          # absorbed, likewise
    h_ = np.empty((run, 16))              # after the feedback matrix
    cb0 = np.ascontiguousarray(b0.T)      # (n or 1, 16)
    cb1 = np.ascontiguousarray(b1.T)
    ca1 = np.ascontiguousarray(a1.T)
    for j in range(16):
        s_[run if run else 0, j] = lp[j, 0]
        f_[run if run else 0, j] = lp[j, 1]
    done = 0
    while done < n:
        m = min(run, n - done)
        _copy_row(s_, run, 0)
        _copy_row(f_, run, 0)
        # diffuse the inputs (allpass loops: sample by sample)
        for c in range(channels):
            for i in range(m):
                s = x[c, done + i]
                for k in range(stages):
                    p = ap_pos[c, k]
                    delayed = ap_buf[c, k, p]
                    w = s + ap_gain * delayed
                    ap_buf[c, k, p] = w
                    s = delayed - ap_gain * w
                    p += 1
                    ap_pos[c, k] = 0 if p == ap_len[k] else p
                diffused[c, i] = s
        # read the lines
        for j in range(16):
            p = pos[j]
            length = lengths[j]
            for i in range(1, m + 1):
                s_[i, j] = lines[j, p]
                p += 1
                if p == length:
                    p = 0
        # absorb (first-order shelf per line) and tap the outputs
        for i in range(1, m + 1):
            col = done + i - 1 if vary else 0
            for j in range(16):
                f_[i, j] = (cb0[col, j] * s_[i, j] + cb1[col, j] * s_[i - 1, j]
                            - ca1[col, j] * f_[i - 1, j])
            left = 0.0
            right = 0.0
            for j in range(16):
                left += out_left[j] * f_[i, j]
                right += out_right[j] * f_[i, j]
            out[0, done + i - 1] = left
            out[1, done + i - 1] = right
        # mix: fast Walsh-Hadamard transform of each sample's 16 values / 4
        for i in range(m):
            for j in range(16):
                h_[i, j] = f_[i + 1, j]
            h = 1
            while h < 16:
                for start in range(0, 16, 2 * h):
                    for j in range(start, start + h):
                        p0 = h_[i, j]
                        p1 = h_[i, j + h]
                        h_[i, j] = p0 + p1
                        h_[i, j + h] = p0 - p1
                h *= 2
        # feed back, with the diffused input
        for i in range(m):
            d0 = diffused[0, i]
            if channels == 2:
                d1 = diffused[1, i]
                for j in range(16):
                    h_[i, j] = 0.25 * h_[i, j] + in_sign[0, j] * d0 + in_sign[1, j] * d1
            else:
                for j in range(16):
                    h_[i, j] = 0.25 * h_[i, j] + in_sign[0, j] * d0
        for j in range(16):
            p = pos[j]
            length = lengths[j]
            for i in range(m):
                lines[j, p] = h_[i, j]
                p += 1
                if p == length:
                    p = 0
            pos[j] = p
        if m < run:                       # a short last run: keep its final values
            _copy_row(s_, m, run)
            _copy_row(f_, m, run)
        done += m
    for j in range(16):
        lp[j, 0] = s_[run if run else 0, j]
        lp[j, 1] = f_[run if run else 0, j]
