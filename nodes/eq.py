"""Parametric EQ: bands of RBJ-cookbook and Butterworth filters.

A band is an object of the fields :data:`EQ_BANDS` declares (``on``, ``type``,
``freq_hz``, ``gain_db``, ``q``, ``slope_db_oct``); its numeric fields may be automated
like any parameter.

- ``bell``, ``low_shelf``, ``high_shelf``, ``notch`` and ``bandpass`` (0 dB peak)
  have the transfer functions of the RBJ Audio EQ Cookbook (shelves with Q);
- ``highpass`` and ``lowpass`` are Butterworth of 12, 24, 36 or 48 dB/octave (one
  to four sections); the 12 dB case is the RBJ filter with Q = 1/sqrt(2).

Each second-order section is designed as a trapezoidal state-variable filter (see
:mod:`mixgraph.nodes.kernels.filters`), whose transfer function is the same bilinear
transform of the analog prototype the cookbook uses.  An EQ whose bands are all
fixed runs them as the equivalent biquads (:class:`Cascade`, the fastest form);
one with an automated band runs every section as an SVF with new coefficients
every sample, so sweeps are smooth.  :func:`band_biquads` gives the sections as
(b, a) biquads, for drawing response curves and designing FIRs.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Context, Items, Node, Param, register
from .gangs import LANES, in_fours, padded

BAND_TYPES = ("bell", "low_shelf", "high_shelf", "highpass", "lowpass", "bandpass", "notch")
PASS_TYPES = ("highpass", "lowpass")                 # Butterworth: a slope, no Q
GAIN_TYPES = ("bell", "low_shelf", "high_shelf")     # the types that boost or cut
SLOPES = (12, 24, 36, 48)
MAX_BANDS = 32
NYQUIST_LIMIT = 0.499                  # automated frequencies are kept below this * rate

#: what a band of ``eq`` and ``linear_phase_eq`` holds
EQ_BANDS = Items((
    Param("on", True, kind="bool", doc="false bypasses the band"),
    Param("type", "bell", kind="choice", choices=BAND_TYPES, doc="filter type"),
    Param("freq_hz", 1000.0, min=5.0, max=96000.0, unit="Hz",
          doc="centre, corner or shelf frequency"),
    Param("gain_db", 0.0, min=-30.0, max=30.0, unit="dB", doc="boost or cut (bell, shelves)",
          used_when=("type", GAIN_TYPES)),
    Param("q", 0.7071, min=0.05, max=40.0, doc="bandwidth: higher is narrower",
          used_when=("type", tuple(t for t in BAND_TYPES if t not in PASS_TYPES))),
    Param("slope_db_oct", 12, kind="int", choices=SLOPES, unit="dB/oct",
          doc="highpass and lowpass slope", used_when=("type", PASS_TYPES)),
), noun="band", max=MAX_BANDS)


def butterworth_qs(order: int) -> list[float]:
    """Q of each second-order section of an even-order Butterworth filter."""
    return [1.0 / (2.0 * math.cos((2 * k - 1) * math.pi / (2 * order)))
            for k in range(1, order // 2 + 1)]


def svf_sections(kind: str, freq, gain_db, q, slope: int, rate: float) -> list[np.ndarray]:
    """SVF coefficients (a1, a2, a3, m0, m1, m2) of each section of one band.

    ``freq``, ``gain_db`` and ``q`` may be arrays (one value per sample); each
    returned section then has shape (6, n), else (6,).
    """
    freq = np.minimum(np.asarray(freq, dtype=np.float64), NYQUIST_LIMIT * rate)
    g0 = np.tan(math.pi * freq / rate)
    qs = butterworth_qs(slope // 6) if kind in ("highpass", "lowpass") else [q]
    sections = []
    for qk in qs:
        qk = np.asarray(qk, dtype=np.float64)
        one = np.ones_like(g0 * qk)
        if kind in ("bell", "low_shelf", "high_shelf"):
            a = np.power(10.0, np.asarray(gain_db, dtype=np.float64) / 40.0)
        if kind == "bell":
            g, k = g0, 1.0 / (qk * a)
            m = (one, k * (a * a - 1.0), 0.0 * one)
        elif kind == "low_shelf":
            g, k = g0 / np.sqrt(a), 1.0 / qk
            m = (one, k * (a - 1.0), a * a - 1.0)
        elif kind == "high_shelf":
            g, k = g0 * np.sqrt(a), 1.0 / qk
            m = (a * a, k * (1.0 - a) * a, 1.0 - a * a)
        else:
            g, k = g0, 1.0 / qk
            m = {"lowpass": (0.0 * one, 0.0 * one, one),
                 "highpass": (one, -k, -one),
                 "bandpass": (0.0 * one, k, 0.0 * one),
                 "notch": (one, -k, 0.0 * one)}[kind]
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        sections.append(np.stack(np.broadcast_arrays(a1, a2, a3, *m)))
    return sections


def svf_to_biquad(coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (b, a) biquad with the same transfer function as an SVF section."""
    a1, a2, a3, m0, m1, m2 = (float(c) for c in coefs)
    g = a2 / a1
    k = (1.0 / a1 - 1.0 - g * g) / g
    n2, n1, n0 = m0, m0 * k + m1, m0 + m2          # numerator in s (cutoff-normalised)
    b = np.array([n2 + n1 * g + n0 * g * g, 2 * (n0 * g * g - n2), n2 - n1 * g + n0 * g * g])
    a = np.array([1 + k * g + g * g, 2 * (g * g - 1), 1 - k * g + g * g])
    return b / a[0], a / a[0]


class Cascade:
    """Fixed biquad sections in series, for ``channels`` channels, with their state."""

    def __init__(self, biquads: list[tuple[np.ndarray, np.ndarray]], channels: int):
        # the kernel's rows: (b0, b1, b2, -a1, -a2) over a0
        self.sos = np.array([(b[0] / a[0], b[1] / a[0], b[2] / a[0], -a[1] / a[0], -a[2] / a[0])
                             for b, a in biquads] or [(1.0, 0.0, 0.0, 0.0, 0.0)])
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((self.channels, self.sos.shape[0], 2))

    def process(self, x: np.ndarray, out: np.ndarray) -> None:
        """Filter ``x`` (channels, n) into ``out`` (which may be ``x``)."""
        from .kernels.filters import biquad_cascade

        biquad_cascade(x, out, self.sos, self.state)

    @staticmethod
    def process_lanes(work: list[tuple[Cascade, np.ndarray, np.ndarray]]) -> None:
        """Several cascades of as many sections, each filtering its ``x`` into its
        ``out`` as :meth:`process` does (bit for bit), their channels four at a time
        in the lanes of one kernel (:func:`~.kernels.filters.biquad_lanes`)."""
        from .kernels.filters import biquad_lanes

        rows = [(cascade, x, out, c) for cascade, x, out in work for c in range(x.shape[0])]
        sections = work[0][0].sos.shape[0]
        spare = np.zeros((2, rows[0][1].shape[1]))       # an unused lane's in and out
        for group in in_fours(rows):
            sos = np.empty((LANES, sections, 5))
            state = np.zeros((LANES, sections, 2))
            sos[:] = group[0][0].sos                     # (an unused lane: any filter)
            for lane, (cascade, _, _, c) in enumerate(group):
                sos[lane] = cascade.sos
                state[lane] = cascade.state[c]
            biquad_lanes(*padded([x[c] for _, x, _, c in group], spare[0]),
                         *padded([out[c] for _, _, out, c in group], spare[1]), sos, state)
            for lane, (cascade, _, _, c) in enumerate(group):
                cascade.state[c] = state[lane]


def band_biquads(band: dict, rate: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """A (non-automated) band as biquad sections; empty if the band is off."""
    v = EQ_BANDS.values(band)
    if not v["on"]:
        return []
    return [svf_to_biquad(s) for s in svf_sections(v["type"], v["freq_hz"], v["gain_db"],
                                                    v["q"], v["slope_db_oct"], rate)]


def response_db(bands: list[dict], rate: float, freqs: np.ndarray) -> np.ndarray:
    """Magnitude response in dB of a list of bands at ``freqs`` (Hz)."""
    z = np.exp(-2j * np.pi * np.asarray(freqs, dtype=np.float64) / rate)
    h = np.ones_like(z)
    for band in bands:
        for b, a in band_biquads(band, rate):
            h *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    return 20 * np.log10(np.maximum(np.abs(h), 1e-300))


def _first_value(v) -> float:
    if isinstance(v, dict):
        return max(float(p[1]) for p in v["automation"])
    return float(v)


@register
class Eq(Node):
    """Parametric EQ with any number of bands (RBJ bell, shelves, notch, bandpass;
    Butterworth highpass and lowpass of 12 to 48 dB/octave)."""

    type_name = "eq"
    category = "eq"
    kernels = ("filters.biquad_cascade", "filters.biquad_lanes")  # automated: svf_cascade_varying
    cost = 0.6                         # four fixed bands; the compressor is 1
    summary = "parametric EQ: bell, shelves, notch, bandpass, Butterworth high/lowpass"
    params = (Param("bands", [], kind="list", items=EQ_BANDS, doc="the EQ's bands"),)

    @classmethod
    def check_params(cls, values, sample_rate):
        out = []
        for i, band in enumerate(values.get("bands", [])):
            if isinstance(band, dict) and "freq_hz" in band:
                f = _first_value(band["freq_hz"])
                if f >= sample_rate / 2:
                    out.append(f"band {i} freq_hz must be below half the sample rate "
                               f"({sample_rate / 2:g} Hz), got {f:g}")
        return out

    def prepare(self, ctx: Context):
        chans = super().prepare(ctx)
        from .automation import Automation

        self._bands = []               # (values, automated field names) of bands that are on
        for band in self.bands:
            v = EQ_BANDS.values(band)
            if not v["on"]:
                continue
            auto = {k for k, x in v.items() if isinstance(x, dict)}
            for k in auto:
                v[k] = Automation.from_document(v[k])
            self._bands.append((v, auto))
        self._static = [s for v, auto in self._bands if not auto
                        for s in svf_sections(v["type"], v["freq_hz"], v["gain_db"], v["q"],
                                              v["slope_db_oct"], ctx.sample_rate)]
        self._varying = any(auto for _, auto in self._bands)
        self._sections = sum(len(butterworth_qs(v["slope_db_oct"] // 6))
                             if v["type"] in ("highpass", "lowpass") else 1
                             for v, _ in self._bands)
        self._channels = chans[0]
        self._cascade = None if self._varying else Cascade(
            [svf_to_biquad(s) for s in self._static], self._channels)
        self.reset()
        return chans

    def reset(self):
        if self._cascade is not None:
            self._cascade.reset()
        else:                                      # the automated form's SVF states
            self._state = np.zeros((self._channels, max(self._sections, 1), 2))

    def _block_coefs(self, start: int, n: int) -> np.ndarray:
        """Coefficients of every section for each sample of a block: (sections, 6, n)."""
        coefs = np.empty((self._sections, 6, n))
        i = 0
        for v, auto in self._bands:
            args = [v[k].render(start, n, self.rate) if k in auto else v[k]
                    for k in ("freq_hz", "gain_db", "q")]
            for s in svf_sections(v["type"], *args, v["slope_db_oct"], self.rate):
                coefs[i] = s[:, None] if s.ndim == 1 else s
                i += 1
        return coefs

    def gang_key(self):
        """Fixed bands: EQs with as many sections filter side by side."""
        return None if self._cascade is None or not self._bands else self._cascade.sos.shape[0]

    @classmethod
    def process_gang(cls, members):
        Cascade.process_lanes([(node._cascade, ins[0], outs[0])
                               for node, ins, outs, _ in members])

    def process(self, ins, outs, start):
        (x,), (out,) = ins, outs
        if not self._bands:
            out[:] = x
            return
        if self._varying:
            from .kernels.filters import svf_cascade_varying

            svf_cascade_varying(x, out, self._block_coefs(start, x.shape[1]), self._state)
        else:
            self._cascade.process(x, out)
