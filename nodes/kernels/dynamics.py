"""Envelope recursions of compressors and gates.

Per-sample parameter arrays (automation) are passed with length n, constants with
length 1; ``_at(a, i)`` picks the right element.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .jit import JIT
from .fused import fma


@nb.njit(inline="always")
def _at(a, i):
    return a[i] if a.shape[0] > 1 else a[0]


@nb.njit(**JIT)
def gate_gain(level, out, threshold, floor_db, alpha_open, alpha_close, alpha_env, hold,
              state):
    """Gate gain per sample from a detection level (n,) (linked across channels).

    A peak envelope (instant rise, ``alpha_env`` fall) at or above ``threshold``
    opens the gate and restarts a hold counter of ``hold`` samples; when it runs out
    the gain falls towards ``floor_db``.  The gain moves in dB with ``alpha_open``
    up and ``alpha_close`` down, so attack and release are time constants in dB,
    as the compressor's are.  state: (envelope, gain in dB, hold counter).
    """
    env = state[0]
    g = state[1]
    count = state[2]
    for i in range(level.shape[0]):
        x = level[i]
        env = x if x > env else alpha_env * env
        if env >= _at(threshold, i):
            count = _at(hold, i)
            target = 0.0
        elif count > 0.0:
            count -= 1.0
            target = 0.0
        else:
            target = _at(floor_db, i)
        a = _at(alpha_open, i) if target > g else _at(alpha_close, i)
        g = target + a * (g - target)
        out[i] = 10.0 ** (g / 20.0)
    state[0] = env
    state[1] = g
    state[2] = count


# ---------------------------------------------------------------- compressor
DB_PER_LOG2 = 6.020599913279624          # 20 * log10(2)
_SQRT2 = 1.4142135623730951
_TWO_OVER_LN2 = 2.8853900817779268       # 2 / ln 2
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE = 0x3FF0000000000000                # the bits of 1.0
_LN2_POWERS = tuple(math.log(2.0) ** k / math.factorial(k) for k in range(14))


@nb.njit(inline="always")
def _log2_block(src, dst, scratch, n, scale):
    """dst[i] = scale * log2(src[i]) for normal positive src (n,) C-contiguous.

    Plain arithmetic on the bits (exponent, then 2 atanh((m-1)/(m+1)) of the
    mantissa m in [0.71, 1.42) as an odd series to s^19): within 1e-15 of libm,
    and the compiler can vectorise it, where a libm call per sample it cannot.
    """
    bits = src.view(np.int64)
    mbits = scratch.view(np.int64)
    for i in range(n):
        b = bits[i]
        dst[i] = float(((b >> 52) & 0x7FF) - 1023)
        mbits[i] = (b & _MANTISSA) | _ONE
    for i in range(n):
        m = scratch[i]
        big = m > _SQRT2
        if big:
            m = 0.5 * m
        s = (m - 1.0) / (m + 1.0)
        z = s * s
        p = 1.0 / 17.0 + z * (1.0 / 19.0)
        p = 1.0 / 15.0 + z * p
        p = 1.0 / 13.0 + z * p
        p = 1.0 / 11.0 + z * p
        p = 1.0 / 9.0 + z * p
        p = 1.0 / 7.0 + z * p
        p = 1.0 / 5.0 + z * p
        p = 1.0 / 3.0 + z * p
        e = dst[i] + (1.0 if big else 0.0)
        dst[i] = scale * (e + _TWO_OVER_LN2 * (s + s * z * p))


@nb.njit(inline="always")
def _exp2_block(y, dst, scratch, n):
    """dst[i] = 2 ** y[i] (y clamped to [-1022, 1023]), within 3e-16 of libm: a
    Taylor polynomial of 2^f for |f| <= 0.5 times 2^k built from its bits."""
    kbits = scratch.view(np.int64)
    c = _LN2_POWERS
    for i in range(n):
        v = min(max(y[i], -1022.0), 1023.0)
        k = math.floor(v + 0.5)
        f = v - k
        p = c[12] + f * c[13]
        p = c[11] + f * p
        p = c[10] + f * p
        p = c[9] + f * p
        p = c[8] + f * p
        p = c[7] + f * p
        p = c[6] + f * p
        p = c[5] + f * p
        p = c[4] + f * p
        p = c[3] + f * p
        p = c[2] + f * p
        p = c[1] + f * p
        dst[i] = c[0] + f * p
        kbits[i] = (np.int64(k) + 1023) << 52
    for i in range(n):
        dst[i] *= scratch[i]


@nb.njit(**JIT)
def compress(x, key, out, threshold, ratio, knee, alpha_attack, alpha_release, alpha_fall,
             link, makeup, mix, rms_alpha, own, state, ms, stats, work):
    """A whole feed-forward compressor over one block (Giannoulis, Massberg, Reiss 2012).

    x (ch, n) is compressed by the level of ``key`` (kch, n): the peak, or (rms_alpha
    >= 0) a one-pole mean square per key channel, memory in ms (kch,).  With ``own``
    (as many key channels as x has, and more than one) each channel has its own
    detector, moved towards the loudest by ``link``; otherwise the loudest drives all
    channels.  Parameters are arrays of n or 1.  state (rows, 2) holds the smoothing's
    y1 and y per detector: y1 follows the reduction wanted up at once and down with
    ``alpha_release``; y follows y1 up with ``alpha_attack`` and down with
    ``alpha_fall`` (the release's last smoothing: see
    :func:`mixgraph.nodes.dynamics.smoothing_coefficients`).  work: scratch of at least
    (ch + kch, n).
    stats: [max reduction, sum, count, song time of the next sample]; only samples at
    song time >= 0 are counted.
    out = x * ((1 - mix) + mix * 10^((makeup - reduction) / 20)).

    The stages run one after the other over the block, so that all but the smoothing
    recursion are plain loops the compiler can pipeline.
    """
    ch, n = x.shape
    kch = key.shape[0]
    rows = ch if own else 1
    level = work[:rows, :n]               # level in dB, then reduction wanted, then had
    lin = np.empty(n)                     # contiguous rows for the bitwise log2 / exp2
    row = np.empty(n)
    scratch = np.empty(n)
    # 1. detector: level per row in dB
    if rms_alpha >= 0.0:
        b = 1.0 - rms_alpha
        for c in range(kch):
            m = ms[c]
            for i in range(n):
                v = key[c, i]
                m = rms_alpha * m + b * v * v
                work[rows + c, i] = m
            ms[c] = m
        for r in range(rows):
            for i in range(n):
                m = work[rows + r, i]
                if not own:
                    for c in range(1, kch):
                        m = max(m, work[rows + c, i])
                lin[i] = max(m, 1e-20)
            _log2_block(lin, row, scratch, n, 0.5 * DB_PER_LOG2)
            level[r, :] = row
    else:
        for r in range(rows):
            for i in range(n):
                m = abs(key[r, i])
                if not own:
                    for c in range(1, kch):
                        m = max(m, abs(key[c, i]))
                lin[i] = max(m, 1e-10)
            _log2_block(lin, row, scratch, n, DB_PER_LOG2)
            level[r, :] = row
    # 2. stereo link: each channel's level moves towards the loudest by ``link``
    if own and rows == 2 and link.shape[0] == 1:     # stereo, fixed link: one plain loop
        lk = link[0]
        for i in range(n):
            a = level[0, i]
            b = level[1, i]
            loud = max(a, b)
            level[0, i] = lk * loud + (1.0 - lk) * a
            level[1, i] = lk * loud + (1.0 - lk) * b
    elif own:
        for i in range(n):
            loud = level[0, i]
            for r in range(1, rows):
                loud = max(loud, level[r, i])
            lk = _at(link, i)
            for r in range(rows):
                level[r, i] = lk * loud + (1.0 - lk) * level[r, i]
    # 3. static curve with a quadratic soft knee: reduction wanted (dB, >= 0)
    fixed = threshold.shape[0] == 1 and ratio.shape[0] == 1 and knee.shape[0] == 1
    t, w = threshold[0], knee[0]
    s = 1.0 - 1.0 / ratio[0]
    for r in range(rows):
        for i in range(n):
            if not fixed:
                t, w = _at(threshold, i), _at(knee, i)
                s = 1.0 - 1.0 / _at(ratio, i)
            # the knee's quadratic on the part of the level inside it, plus the
            # straight line above it: min/max, no branch to mispredict where the
            # level wanders about the knee (which took a third of the kernel's time)
            over = level[r, i] - t
            h = min(max(over + 0.5 * w, 0.0), w)
            knee_part = s * h * h / (2.0 * w) if w > 0.0 else 0.0
            level[r, i] = knee_part + s * max(over - 0.5 * w, 0.0)
    # 4. smoothing: a peak detector with release, then a one-pole smoothing with the
    # attack coefficient where it rises and the fall coefficient where it falls (each
    # a fused multiply-add; the choice of coefficient waits on a compare, the
    # difference it multiplies is taken beside it), and 5. the report's figures over song
    # time >= 0 (the worst row per sample), taken in the same loop where there is one
    # row or two: their sums wait on nothing the smoothing does not already wait on
    fixed = alpha_attack.shape[0] == 1 and alpha_release.shape[0] == 1 and \
        alpha_fall.shape[0] == 1
    aa, ar, af = alpha_attack[0], alpha_release[0], alpha_fall[0]
    counted = max(0, min(n, int(-stats[3])))            # first sample at song time >= 0
    most, total, count = stats[0], stats[1], stats[2]   # locals: no store per sample
    if rows == 2 and fixed:
        # two detectors side by side: each waits on its own last value, so together
        # they take the time of one
        y1a, ya, y1b, yb = state[0, 0], state[0, 1], state[1, 0], state[1, 1]
        br = 1.0 - ar
        for i in range(n):
            ta = level[0, i]
            tb = level[1, i]
            rel = fma(ar, y1a, br * ta)
            y1a = ta if ta > rel else rel
            a = aa if y1a > ya else af
            ya = fma(a, ya - y1a, y1a)
            level[0, i] = ya
            rel = fma(ar, y1b, br * tb)
            y1b = tb if tb > rel else rel
            a = aa if y1b > yb else af
            yb = fma(a, yb - y1b, y1b)
            level[1, i] = yb
            if i >= counted:
                worst = max(ya, yb)
                most = max(most, worst)
                total += worst
                count += 1.0
        state[0, 0], state[0, 1], state[1, 0], state[1, 1] = y1a, ya, y1b, yb
    else:
        for r in range(rows):
            y1 = state[r, 0]
            y = state[r, 1]
            for i in range(n):
                if not fixed:
                    aa, ar = _at(alpha_attack, i), _at(alpha_release, i)
                    af = _at(alpha_fall, i)
                target = level[r, i]
                rel = fma(ar, y1, (1.0 - ar) * target)
                y1 = target if target > rel else rel
                a = aa if y1 > y else af
                y = fma(a, y - y1, y1)
                level[r, i] = y
                if rows == 1 and i >= counted:
                    most = max(most, y)
                    total += y
                    count += 1.0
            state[r, 0] = y1
            state[r, 1] = y
        if rows > 1:
            for i in range(counted, n):
                worst = level[0, i]
                for r in range(1, rows):
                    worst = max(worst, level[r, i])
                most = max(most, worst)
                total += worst
                count += 1.0
    stats[0], stats[1], stats[2] = most, total, count
    stats[3] += n
    # 6. gain: per detector row, then on each channel it drives
    fixed = makeup.shape[0] == 1 and mix.shape[0] == 1
    mk, mx = makeup[0], mix[0]
    for r in range(rows):
        for i in range(n):
            if not fixed:
                mk = _at(makeup, i)
            lin[i] = (mk - level[r, i]) * (1.0 / DB_PER_LOG2)
        _exp2_block(lin, row, scratch, n)
        first, last = (r, r + 1) if own else (0, ch)
        for c in range(first, last):
            for i in range(n):
                if not fixed:
                    mx = _at(mix, i)
                out[c, i] = x[c, i] * ((1.0 - mx) + mx * row[i])
