"""Windowed-sinc FIR lowpass design (interpolators, anti-aliasing filters).

``kaiser_lowpass`` is the classic design: an ideal lowpass impulse response, cut to
length by a Kaiser window and scaled to unity gain at DC.  It is the design scipy's
``firwin`` makes for a lowpass with a Kaiser window; it lives here so that rendering
never has to import ``scipy.signal`` (about a second of start-up).
"""

from __future__ import annotations

import numpy as np


def kaiser_lowpass(taps: int, cutoff: float, beta: float) -> np.ndarray:
    """Lowpass FIR of ``taps`` taps (symmetric, linear phase), cut off at ``cutoff``
    times the Nyquist frequency, Kaiser window of shape ``beta``, DC gain 1."""
    m = np.arange(taps) - 0.5 * (taps - 1)
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(taps, beta)
    return h / h.sum()


def tukey(taps: int, fraction: float) -> np.ndarray:
    """A window flat in the middle with raised-cosine tapers over ``fraction`` of its
    length (half at each end): it keeps a slowly decaying impulse response whole where
    it matters and only smooths its cut."""
    w = np.ones(taps)
    k = int(fraction * (taps - 1) / 2)
    if k:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / k)
        w[:k] = ramp
        w[taps - k:] = ramp[::-1]
    return w
