"""Master-chain loops: the lookahead limiter's gain and the noise-shaped quantiser."""

from __future__ import annotations

import numba as nb
import numpy as np

from . import JIT


@nb.njit(inline="always")
def _at(a, i):
    return a[i] if a.shape[0] > 1 else a[0]


@nb.njit(**JIT)
def limiter_gain(peak, out, ceiling, alpha_release, window, dq_val, dq_idx, ring, state):
    """Brickwall gain from a peak envelope (n,), for audio delayed by ``window - 1``.

    required[t] = min(1, ceiling / peak[t]); the gain is the minimum of the last
    ``window`` requirements (lookahead), averaged over the last ``window`` values
    (a linear ramp that reaches the requirement exactly when the peak passes), and
    released with ``alpha_release``.  The average of values that are all at or below
    a requirement is at or below it, so the delayed audio never exceeds the ceiling.

    dq_val/dq_idx (window,): a monotonic deque (ring) of requirements for the
    running minimum; ring (window,): the last ``window`` minima for the average.
    state: [sample count, deque head, deque length, ring position, ring sum, gain].
    """
    t = int(state[0])
    head = int(state[1])
    length = int(state[2])
    pos = int(state[3])
    total = state[4]
    g = state[5]
    for i in range(peak.shape[0]):
        c = _at(ceiling, i)
        p = peak[i]
        req = c / p if p > c else 1.0
        # drop what leaves the window from the front, larger values from the back, push
        while length > 0 and dq_idx[head] <= t - window:
            head = (head + 1) % window
            length -= 1
        while length > 0:
            back = (head + length - 1) % window
            if dq_val[back] >= req:
                length -= 1
            else:
                break
        slot = (head + length) % window
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
            g = smooth + _at(alpha_release, i) * (g - smooth)
        out[i] = g
        t += 1
    state[0] = t
    state[1] = head
    state[2] = length
    state[3] = pos
    state[4] = total
    state[5] = g


@nb.njit(**JIT)
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
