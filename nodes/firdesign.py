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
