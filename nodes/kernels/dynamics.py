"""Envelope recursions of compressors and gates.

Per-sample parameter arrays (automation) are passed with length n, constants with
length 1; ``_at(a, i)`` picks the right element.
"""

from __future__ import annotations

import numba as nb

from . import JIT


@nb.njit(inline="always")
def _at(a, i):
    return a[i] if a.shape[0] > 1 else a[0]


@nb.njit(**JIT)
def smooth_decoupled(level, out, alpha_attack, alpha_release, state):
    """Smooth decoupled peak detector (Giannoulis, Massberg and Reiss 2012, eq. 17).

    ``level`` (ch, n): the gain computer's reduction in dB (>= 0); ``out`` gets the
    smoothed reduction.  y1 = max(x, aR*y1 + (1-aR)*x); y = aA*y + (1-aA)*y1.
    state (ch, 2) holds (y1, y).
    """
    channels, n = level.shape
    for c in range(channels):
        y1 = state[c, 0]
        y = state[c, 1]
        for i in range(n):
            x = level[c, i]
            ar = _at(alpha_release, i)
            aa = _at(alpha_attack, i)
            r = ar * y1 + (1.0 - ar) * x
            y1 = x if x > r else r
            y = aa * y + (1.0 - aa) * y1
            out[c, i] = y
        state[c, 0] = y1
        state[c, 1] = y


@nb.njit(**JIT)
def mean_square(x, out, alpha, state):
    """One-pole smoothed square of ``x`` per channel (an RMS detector's mean)."""
    channels, n = x.shape
    for c in range(channels):
        m = state[c]
        for i in range(n):
            v = x[c, i]
            m = alpha * m + (1.0 - alpha) * v * v
            out[c, i] = m
        state[c] = m


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
