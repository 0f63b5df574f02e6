"""Envelope recursions of compressors and gates.

Per-sample parameter arrays (automation) are passed with length n, constants with
length 1; ``_at(a, i)`` picks the right element.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from . import JIT


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
# log2 and exp2 from frexp/ldexp and short polynomials: plain arithmetic, far cheaper
# than libm's log10/pow, and within 2e-7 dB of them (tests check the static curve).
LOG2_10 = 3.321928094887362
DB_PER_LOG2 = 6.020599913279624          # 20 * log10(2)


@nb.njit(inline="always")
def _log2(x):
    m, e = math.frexp(x)                  # x = m * 2**e, m in [0.5, 1)
    t = (m - 0.70710678118654752) / (m + 0.70710678118654752)
    t2 = t * t
    # atanh series: log2(m / sqrt(0.5)) = 2 / ln 2 * (t + t^3/3 + t^5/5 + t^7/7 + t^9/9)
    s = t * (1.0 + t2 * (1.0 / 3.0 + t2 * (0.2 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0)))))
    return e - 0.5 + 2.8853900817779268 * s


@nb.njit(inline="always")
def _exp2(y):
    n = math.floor(y)
    f = y - n                             # in [0, 1)
    # 2**f on [0, 1): Taylor series to degree 7, relative error < 1e-6 (1e-5 dB)
    p = 1.0 + f * (0.6931471805599453 + f * (0.2402265069591007 + f * (
        0.05550410866482158 + f * (0.009618129107628477 + f * (
            0.0013333558146428443 + f * (0.00015403530393381606 + f * 1.525273380405984e-05))))))
    return math.ldexp(p, int(n))


@nb.njit(**JIT)
def compress(x, key, out, threshold, ratio, knee, alpha_attack, alpha_release, link,
             makeup, mix, rms_alpha, state, ms, stats):
    """A whole feed-forward compressor in one pass (Giannoulis, Massberg, Reiss 2012).

    x (ch, n) is compressed by the level of ``key`` (kch, n): the peak, or (rms_alpha
    >= 0) a one-pole mean square per key channel, memory in ms (kch,).  With as many
    key channels as x has (and more than one), each channel has its own detector,
    blended with the loudest by ``link``; otherwise the loudest drives all channels.
    Parameters are arrays of n or 1.  state (rows, 2) holds the decoupled peak
    detector's y1 and y per detector.  stats: [max reduction, sum, count, song time of
    the next sample]; only samples at song time >= 0 are counted.
    out = x * ((1 - mix) + mix * 10^((makeup - reduction) / 20)).
    """
    ch, n = x.shape
    kch = key.shape[0]
    own = kch == ch and ch > 1
    rows = ch if own else 1
    level = np.empty(kch)
    for i in range(n):
        for c in range(kch):
            v = key[c, i]
            if rms_alpha >= 0.0:
                m = rms_alpha * ms[c] + (1.0 - rms_alpha) * v * v
                ms[c] = m
                level[c] = 3.0102999566398120 * _log2(max(m, 1e-20))
            else:
                level[c] = DB_PER_LOG2 * _log2(max(abs(v), 1e-10))
        loud = level[0]
        for c in range(1, kch):
            if level[c] > loud:
                loud = level[c]
        t = _at(threshold, i)
        r = _at(ratio, i)
        w = _at(knee, i)
        aa = _at(alpha_attack, i)
        ar = _at(alpha_release, i)
        lk = _at(link, i)
        mk = _at(makeup, i)
        mx = _at(mix, i)
        worst = 0.0
        for row in range(rows):
            lv = lk * loud + (1.0 - lk) * level[row] if own else loud
            over = lv - t
            if 2.0 * over < -w:
                target = 0.0
            elif 2.0 * over > w:
                target = over - over / r
            else:
                h = over + 0.5 * w
                target = -(1.0 / r - 1.0) * h * h / (2.0 * max(w, 1e-9))
            y1 = state[row, 0]
            rel = ar * y1 + (1.0 - ar) * target
            y1 = target if target > rel else rel
            y = aa * state[row, 1] + (1.0 - aa) * y1
            state[row, 0] = y1
            state[row, 1] = y
            if y > worst:
                worst = y
            g = (1.0 - mx) + mx * _exp2((mk - y) * (1.0 / DB_PER_LOG2))
            if own:
                out[row, i] = x[row, i] * g
            else:
                for c in range(ch):
                    out[c, i] = x[c, i] * g
        if stats[3] + i >= 0.0:
            if worst > stats[0]:
                stats[0] = worst
            stats[1] += worst
            stats[2] += 1.0
    stats[3] += n
