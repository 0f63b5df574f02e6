"""Master-chain loops: the lookahead limiter's gain and the noise-shaped quantiser."""

from __future__ import annotations

import numpy as np
from numba import types

from .jit import A2, B1, C1, C2, F8, I1, I8, at, kernel



@kernel(peak=C1, out=C1, ceiling=C1, alpha_release=C1, window=I8, span=I8, dq_val=C1,
        dq_idx=I1, ring=C1, state=C1)
def limiter_gain(peak, out, ceiling, alpha_release, window, span, dq_val, dq_idx, ring,
                 state):
    """Brickwall gain from a peak envelope (n,), for audio delayed by
    ``window - 1 + (span - window) // 2``.

    required[t] = min(1, ceiling / peak[t]); the gain is the minimum of the last
    ``span`` requirements (the lookahead ``window`` plus a hold of
    ``(span - window) // 2`` samples on each side), averaged over the last ``window``
    values (a linear ramp), and released with ``alpha_release``.  Every value averaged
    is a minimum over a stretch that covers the delayed sample and the hold on both
    sides of it, so the gain is at or below the requirement of each of those samples:
    the delayed audio never exceeds the ceiling, and the gain stays flat across the
    samples that make up an inter-sample peak (a gain that moved under them would
    change the peak between them).

    dq_val/dq_idx (span,): a monotonic deque (ring) of requirements for the running
    minimum; ring (window,): the last ``window`` minima for the average.
    state: [sample count, deque head, deque length, ring position, ring sum, gain].
    """
    t = int(state[0])
    head = int(state[1])
    length = int(state[2])
    pos = int(state[3])
    total = state[4]
    g = state[5]
    for i in range(peak.shape[0]):
        c = at(ceiling, i)
        p = peak[i]
        req = c / p if p > c else 1.0
        # drop what leaves the span from the front, larger values from the back, push
        while length > 0 and dq_idx[head] <= t - span:
            head = (head + 1) % span
            length -= 1
        while length > 0:
            back = (head + length - 1) % span
            if dq_val[back] >= req:
                length -= 1
            else:
                break
        slot = (head + length) % span
        dq_val[slot] = req
        dq_idx[slot] = t
        length += 1
        lowest = dq_val[head]
        # moving average of the minima (recomputed at each wrap to stop drift)
        total += lowest - ring[pos]
        ring[pos] = lowest
        pos += 1
        if pos == window:
            pos = 0
            total = 0.0
            for k in range(window):
                total += ring[k]
        smooth = total / window
        if smooth < g:
            g = smooth
        else:
            g = smooth + at(alpha_release, i) * (g - smooth)
        out[i] = g
        t += 1
    state[0] = t
    state[1] = head
    state[2] = length
    state[3] = pos
    state[4] = total
    state[5] = g


@kernel(phases=types.float32[:, :, :], samples=C2, last=C1, env=C1)
def refined_peaks(phases, samples, last, env):
    """Largest interpolated magnitude in each sample's interval, over channels.

    phases (ch, k - 1, P): the interpolated points between samples i and i + 1 (phase
    1 .. k-1); samples (ch, >= P + 1): the samples, phase 0 (sample P is the next
    partition's first).  Each point that is a local maximum of the magnitude is
    replaced by the top of the parabola through it and its neighbours.  last (ch,):
    the magnitude of the previous partition's last point, updated.  env (P,) out.
    The work goes phase by phase across the partition, without branches, so that the
    compiler can vectorise it.
    """
    channels, inner, n = phases.shape
    left = np.empty(n)
    mid = np.empty(n)
    right = np.empty(n)
    for i in range(n):
        env[i] = 0.0
    for c in range(channels):
        left[0] = last[c]
        for i in range(1, n):
            left[i] = abs(float(phases[c, inner - 1, i - 1]))
        for i in range(n):
            mid[i] = abs(samples[c, i])
        for j in range(inner + 1):
            if j < inner:
                for i in range(n):
                    right[i] = abs(float(phases[c, j, i]))
            else:
                for i in range(n):
                    right[i] = abs(samples[c, i + 1])
            for i in range(n):
                lo, m, hi = left[i], mid[i], right[i]
                d = 2.0 * m - lo - hi
                top = m + (lo - hi) * (lo - hi) / (8.0 * max(d, 1e-300))
                v = top if (m >= lo and m >= hi and d > 0.0) else m
                env[i] = max(env[i], v)
            left, mid, right = mid, right, left
        last[c] = abs(float(phases[c, inner - 1, n - 1]))


@kernel(x=A2, out=A2, dither=C2, offset=I8, ntf=C1, step=F8, lowest=F8, highest=F8,
        history=C2, auto_mute=B1, hold=F8, state=C1)
def shaped_quantise(x, out, dither, offset, ntf, step, lowest, highest, history, auto_mute,
                    hold, state):
    """Quantise to multiples of ``step`` with dither and error feedback.

    y = x + sum_k ntf[k] e[n-k] (k >= 1) + dither, rounded; e[n] = y - (that sum
    without dither), so the total error (dither included) is shaped by the noise
    transfer function ntf (ntf[0] = 1).  dither[c, offset + i] is sample i's dither.
    history (ch, len(ntf) - 1): past errors, newest first.  Results are clipped to
    [lowest, highest]; the clipping is not fed back (it would make the loop
    unstable).  With ``auto_mute`` the output is 0 and the error history is cleared
    where every channel is exactly 0 (digital silence stays silent), and once every
    channel has stayed under an eighth of a step for ``hold`` samples in a row (a
    tail that has faded below the quantiser's reach); state[0] counts the quiet run.
    """
    channels, n = x.shape
    order = ntf.shape[0] - 1
    silent = np.zeros(n, dtype=np.bool_)
    if auto_mute:
        limit = step / 8.0
        run = state[0]
        for i in range(n):
            zero = True
            quiet = True
            for c in range(channels):
                v = x[c, i]
                if v != 0.0:
                    zero = False
                if not abs(v) < limit:
                    quiet = False
            run = run + 1.0 if quiet else 0.0
            silent[i] = zero or run >= hold
        state[0] = run
    for c in range(channels):
        for i in range(n):
            if silent[i]:
                out[c, i] = 0.0
                for k in range(order):
                    history[c, k] = 0.0
                continue
            v = x[c, i]
            for k in range(order):
                v += ntf[k + 1] * history[c, k]
            y = step * round((v + dither[c, offset + i]) / step)
            for k in range(order - 1, 0, -1):
                history[c, k] = history[c, k - 1]
            if order > 0:
                history[c, 0] = y - v            # rounding and dither, not clipping
            if y > highest:
                y = highest
            elif y < lowest:
                y = lowest
            out[c, i] = y
