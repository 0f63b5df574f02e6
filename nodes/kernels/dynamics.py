"""Envelope recursions of compressors and gates.

Per-sample parameter arrays (automation) are passed with length n, constants with
length 1; ``at(a, i)`` picks the right element.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .jit import A1, A2, B1, C1, C2, F8, at, kernel
from .fused import fma
from .lanes import vfma, vget, vmul, vpack, vpick_greater, vsub



@kernel(level=C1, out=C1, threshold=C1, floor_db=C1, alpha_open=C1, alpha_close=C1,
        alpha_env=F8, hold=C1, state=C1)
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
        if env >= at(threshold, i):
            count = at(hold, i)
            target = 0.0
        elif count > 0.0:
            count -= 1.0
            target = 0.0
        else:
            target = at(floor_db, i)
        a = at(alpha_open, i) if target > g else at(alpha_close, i)
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


# A feed-forward compressor (Giannoulis, Massberg, Reiss 2012) runs as two kernels,
# so that several compressors' smoothing can run side by side (smooth_lanes):
# compress_levels, the level and the reduction each detector wants, and its
# smoothing (or not: smooth_lanes smooths four detectors at once); compress_finish,
# the report's figures and the gain.  x (ch, n) is compressed by the level of ``key``
# (kch, n): the peak, or (rms_alpha >= 0) a one-pole mean square per key channel,
# memory in ms (kch,).  With ``own`` (as many key channels as x has, and more than
# one) each channel has its own detector, moved towards the loudest by ``link``;
# otherwise the loudest drives all channels.  Parameters are arrays of n or 1.  The
# detector rows (one per channel with ``own``, else one) are the first rows of a
# work array of at least (ch + kch, n) that the compressor keeps.  state (rows, 2)
# holds the smoothing's y1 and y per detector: y1 follows the reduction wanted up at
# once and down with ``alpha_release``; y follows y1 up with ``alpha_attack`` and
# down with ``alpha_fall`` (the release's last smoothing: see
# :func:`mixgraph.nodes.dynamics.smoothing_coefficients`).  stats: [max reduction,
# sum, count, song time of the next sample]; only samples at song time >= 0 are
# counted.  out = x * ((1 - mix) + mix * 10^((makeup - reduction) / 20)).  Each
# stage is a plain loop over the block, which the compiler can pipeline, but the
# smoothing, a recursion.


@kernel(key=A2, threshold=C1, ratio=C1, knee=C1, link=C1, rms_alpha=F8, own=B1, ms=C1,
        work=C2, alpha_attack=C1, alpha_release=C1, alpha_fall=C1, state=C2, smooth=B1)
def compress_levels(key, threshold, ratio, knee, link, rms_alpha, own, ms, work,
                    alpha_attack, alpha_release, alpha_fall, state, smooth):
    """Stages 1 to 3: the reduction each detector wants, in the first rows of
    ``work`` (one row per channel of ``key`` with ``own``, else one); and with
    ``smooth``, stage 4, its smoothing (in a gang, :func:`smooth_lanes` smooths
    several compressors' rows at once instead)."""
    n = key.shape[1]
    rows = key.shape[0] if own else 1
    _levels(key, work, rows, n, threshold, ratio, knee, link, rms_alpha, own, ms,
            np.empty(n), np.empty(n), np.empty(n))
    if smooth:
        _smooth(work, rows, n, alpha_attack, alpha_release, alpha_fall, state)


@kernel(x=A2, out=A2, makeup=C1, mix=C1, own=B1, stats=C1, work=C2)
def compress_finish(x, out, makeup, mix, own, stats, work):
    """Stages 5 and 6: the report's figures and the gain, from the smoothed
    reduction in the first rows of ``work``."""
    ch, n = x.shape
    rows = ch if own else 1
    _tally(work, rows, n, stats)
    _gain(x, out, work, rows, makeup, mix, own, np.empty(n), np.empty(n), np.empty(n))


@nb.njit(inline="always")
def _levels(key, level, rows, n, threshold, ratio, knee, link, rms_alpha, own, ms, lin,
            row, scratch):
    """Stages 1 to 3 of the compressor: the reduction each detector row wants (dB),
    into the first ``rows`` rows of ``level`` (the work array: the mean squares go
    through its rows after those)."""
    work = level
    kch = key.shape[0]
    # 1. detector: level per row in dB, from the mean square (rms_alpha >= 0: kept per
    # key channel in the rows of work after the detectors') or from the peak
    rms = rms_alpha >= 0.0
    if rms:
        b = 1.0 - rms_alpha
        for c in range(kch):
            m = ms[c]
            for i in range(n):
                v = key[c, i]
                m = rms_alpha * m + b * v * v
                work[rows + c, i] = m
            ms[c] = m
    for r in range(rows):
        if rms:
            for i in range(n):
                m = work[rows + r, i]
                if not own:
                    for c in range(1, kch):
                        m = max(m, work[rows + c, i])
                lin[i] = max(m, 1e-20)
        else:
            for i in range(n):
                m = abs(key[r, i])
                if not own:
                    for c in range(1, kch):
                        m = max(m, abs(key[c, i]))
                lin[i] = max(m, 1e-10)
        _log2_block(lin, row, scratch, n, 0.5 * DB_PER_LOG2 if rms else DB_PER_LOG2)
        for i in range(n):                # a loop: a slice assignment brings numba's
            level[r, i] = row[i]          # shape checks, a second of compiling
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
            lk = at(link, i)
            for r in range(rows):
                level[r, i] = lk * loud + (1.0 - lk) * level[r, i]
    # 3. static curve with a quadratic soft knee: reduction wanted (dB, >= 0)
    fixed = threshold.shape[0] == 1 and ratio.shape[0] == 1 and knee.shape[0] == 1
    t, w = threshold[0], knee[0]
    s = 1.0 - 1.0 / ratio[0]
    for r in range(rows):
        for i in range(n):
            if not fixed:
                t, w = at(threshold, i), at(knee, i)
                s = 1.0 - 1.0 / at(ratio, i)
            # the knee's quadratic on the part of the level inside it, plus the
            # straight line above it: min/max, no branch to mispredict where the
            # level wanders about the knee (which took a third of the kernel's time)
            over = level[r, i] - t
            h = min(max(over + 0.5 * w, 0.0), w)
            knee_part = s * h * h / (2.0 * w) if w > 0.0 else 0.0
            level[r, i] = knee_part + s * max(over - 0.5 * w, 0.0)


@nb.njit(inline="always")
def _smooth(level, rows, n, alpha_attack, alpha_release, alpha_fall, state):
    """Stage 4 of the compressor on each row of ``level`` in place: a peak detector
    with release, then a one-pole smoothing with the attack coefficient where it
    rises and the fall coefficient where it falls (each a fused multiply-add; the
    choice of coefficient waits on a compare, the difference it multiplies is taken
    beside it).  state (rows, 2): y1 and y per row."""
    fixed = alpha_attack.shape[0] == 1 and alpha_release.shape[0] == 1 and \
        alpha_fall.shape[0] == 1
    aa, ar, af = alpha_attack[0], alpha_release[0], alpha_fall[0]
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
        state[0, 0], state[0, 1], state[1, 0], state[1, 1] = y1a, ya, y1b, yb
        return
    for r in range(rows):
        y1 = state[r, 0]
        y = state[r, 1]
        for i in range(n):
            if not fixed:
                aa, ar = at(alpha_attack, i), at(alpha_release, i)
                af = at(alpha_fall, i)
            target = level[r, i]
            rel = fma(ar, y1, (1.0 - ar) * target)
            y1 = target if target > rel else rel
            a = aa if y1 > y else af
            y = fma(a, y - y1, y1)
            level[r, i] = y
        state[r, 0] = y1
        state[r, 1] = y


@kernel(level0=A1, level1=A1, level2=A1, level3=A1, alpha_attack=C1, alpha_release=C1,
        alpha_fall=C1, state=C2)
def smooth_lanes(level0, level1, level2, level3, alpha_attack, alpha_release, alpha_fall,
                 state):
    """:func:`_smooth` of four detector rows at once, one per lane, each with its own
    fixed coefficients (``alpha_*`` (4,)) and state (row of ``state`` (4, 2)): every
    row's result and state are bit for bit what :func:`_smooth` gives it alone."""
    n = level0.shape[0]
    aa = vpack(alpha_attack[0], alpha_attack[1], alpha_attack[2], alpha_attack[3])
    ar = vpack(alpha_release[0], alpha_release[1], alpha_release[2], alpha_release[3])
    af = vpack(alpha_fall[0], alpha_fall[1], alpha_fall[2], alpha_fall[3])
    br = vpack(1.0 - alpha_release[0], 1.0 - alpha_release[1], 1.0 - alpha_release[2],
               1.0 - alpha_release[3])
    y1 = vpack(state[0, 0], state[1, 0], state[2, 0], state[3, 0])
    y = vpack(state[0, 1], state[1, 1], state[2, 1], state[3, 1])
    for i in range(n):
        target = vpack(level0[i], level1[i], level2[i], level3[i])
        rel = vfma(ar, y1, vmul(br, target))
        y1 = vpick_greater(target, rel, target, rel)
        y = vfma(vpick_greater(y1, y, aa, af), vsub(y, y1), y1)
        level0[i], level1[i], level2[i], level3[i] = vget(y, 0), vget(y, 1), vget(y, 2), \
            vget(y, 3)
    for lane in range(4):
        state[lane, 0] = vget(y1, lane)
        state[lane, 1] = vget(y, lane)


@nb.njit(inline="always")
def _tally(level, rows, n, stats):
    """Stage 5 of the compressor: the report's figures (the worst row per sample)
    over song time >= 0, and the song time of the next block."""
    counted = max(0, min(n, int(-stats[3])))            # first sample at song time >= 0
    most, total, count = stats[0], stats[1], stats[2]   # locals: no store per sample
    for i in range(counted, n):
        worst = level[0, i]
        for r in range(1, rows):
            worst = max(worst, level[r, i])
        most = max(most, worst)
        total += worst
        count += 1.0
    stats[0], stats[1], stats[2] = most, total, count
    stats[3] += n


@nb.njit(inline="always")
def _gain(x, out, level, rows, makeup, mix, own, lin, row, scratch):
    """Stage 6 of the compressor: each detector row's gain on the channels it
    drives."""
    ch, n = x.shape
    # 6. gain: per detector row, then on each channel it drives
    fixed = makeup.shape[0] == 1 and mix.shape[0] == 1
    mk, mx = makeup[0], mix[0]
    for r in range(rows):
        for i in range(n):
            if not fixed:
                mk = at(makeup, i)
            lin[i] = (mk - level[r, i]) * (1.0 / DB_PER_LOG2)
        _exp2_block(lin, row, scratch, n)
        first, last = (r, r + 1) if own else (0, ch)
        for c in range(first, last):
            for i in range(n):
                if not fixed:
                    mx = at(mix, i)
                out[c, i] = x[c, i] * ((1.0 - mx) + mx * row[i])
