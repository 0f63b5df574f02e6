"""Surround: placing a signal in a speaker layout, and folding a layout down.

**The panner's law** (:func:`pan_gains`).  The layout's ear-level speakers (all but
the LFE and the heights) stand on a circle at their angles (L 30, C 0, R -30, Ls
110, Rs -110, Lrs 150, Rrs -150 degrees; positive to the left, ITU-R BS.775 and
BS.2051).  A source at azimuth ``a`` between two neighbours at ``a1`` and ``a2``
feeds only those two, with the constant-power (sine/cosine) law over the angle
between them: ``g1 = cos(p * pi / 2)``, ``g2 = sin(p * pi / 2)``, ``p = (a - a1) /
(a2 - a1)``; at a speaker's own angle it is on that speaker alone, at unity.
``spread`` (0 to 1) blends the pair toward every ear-level speaker at once, keeping
the power: ``g = sqrt((1 - spread) * g_pair ** 2 + spread / N)``, so the sum of the
squared gains is 1 for any azimuth and spread (a spread of 1 is the same level on
all ``N`` speakers).  In 7.1.4, ``elevation_deg`` lifts the source onto the height
ring (Ltf 45, Rtf -45, Ltr 135, Rtr -135 degrees), panned there by the same law:
``cos(w)`` times the ear-level gains plus ``sin(w)`` times the height gains, ``w =
elevation / 90 * pi / 2``, so the power stays 1 (at 90 degrees the source is on the
heights alone); in a layout without heights the elevation does nothing.  A stereo
source is two sources, its left at ``azimuth + width / 2`` and its right at
``azimuth - width / 2``.

**The LFE send**: the source (a stereo one's two sides summed at -3 dB each) through
a 4th-order Butterworth low-pass at ``lfe_hz`` (120 Hz by default), at ``lfe_db``
(off at -120 dB, the default).

**Fold-down** (the ``downmix`` node; the rule itself is
:func:`mixgraph.nodes.layouts.fold_matrix`, which also places a surround stem on a
stereo strip, a surround feed into a narrower port and the live monitor's fold): to
stereo Lo/Ro by ITU-R BS.775 (``Lo = L + c * C + s * (Ls + Lrs) + h * (Ltf + Ltr)``,
the same on the right, the centre ``c``, surrounds ``s`` and heights ``h`` at -3 dB,
the LFE left out unless ``lfe_db`` is above -120 dB); to 5.1 (a 7.1's side and rear
surrounds each at ``rear_db``, -3 dB, into the 5.1 surrounds; heights to the speaker
below at ``height_db``); to mono (``0.5 * (Lo + Ro)``).  Every coefficient is a
parameter.  No Lt/Rt: a matrix encode that a decoder can steer needs a wide-band 90
degree phase shift of the surrounds, which a fold-down of summed gains is not.
"""

from __future__ import annotations

import math

import numpy as np

from .base import Context, Node, Param, Port, register
from .layouts import FOLD_DEFAULTS, LAYOUTS, OFF_DB, SPEAKERS, Layout, fold_matrix, layout_of

SURROUND_LAYOUTS = tuple(name for name, layout in LAYOUTS.items() if layout.channels > 2)


def ring(layout: Layout, height: bool = False) -> list[tuple[float, int]]:
    """The ear-level speakers of ``layout`` (with ``height``: its height speakers) as
    (angle in degrees, channel), around the circle from -180 to 180."""
    return sorted((SPEAKERS[s][2], i) for i, s in enumerate(layout.speakers)
                  if s != "LFE" and s.endswith(("tf", "tr")) == height)


def pan_gains(layout: Layout, azimuth_deg, spread=0.0, elevation_deg=0.0) -> np.ndarray:
    """Gains (channels, n) for sources at ``azimuth_deg`` (a number or n of them)
    with ``spread`` and ``elevation_deg`` (see the module notes); the LFE gets 0, and
    the heights too where the layout has none or the elevation is 0."""
    az = np.atleast_1d(np.asarray(azimuth_deg, dtype=np.float64))
    s = np.asarray(spread, dtype=np.float64)
    up = np.asarray(elevation_deg, dtype=np.float64)
    n = max(az.size, s.size, up.size)
    az = (np.broadcast_to(az, (n,)) + 180.0) % 360.0 - 180.0
    gains = _ring_gains(layout, ring(layout), az, s)
    heights = ring(layout, height=True)
    if heights and np.any(up > 0):
        w = 0.5 * math.pi * np.clip(up, 0.0, 90.0) / 90.0
        gains = np.cos(w) * gains + np.sin(w) * _ring_gains(layout, heights, az, s)
    return gains


def _ring_gains(layout: Layout, speakers: list[tuple[float, int]], az: np.ndarray,
                spread) -> np.ndarray:
    """The pairwise constant-power law (with spread) over one ring of speakers."""
    angles = np.array([a for a, _ in speakers])
    count = len(speakers)
    # the neighbour at or below each azimuth (wrapping round from the last to the first)
    k = np.searchsorted(angles, az, side="right") - 1
    lo = np.where(k < 0, count - 1, k)
    hi = (lo + 1) % count
    a1 = angles[lo]
    a2 = np.where(hi > lo, angles[hi], angles[hi] + 360.0)
    rel = np.where(az < a1, az + 360.0, az) - a1
    p = rel / (a2 - a1)
    gains = np.zeros((layout.channels, az.size))
    rows = np.array([c for _, c in speakers])
    np.add.at(gains, (rows[lo], np.arange(az.size)), np.cos(0.5 * math.pi * p))
    np.add.at(gains, (rows[hi], np.arange(az.size)), np.sin(0.5 * math.pi * p))
    if np.any(spread > 0):
        blended = np.zeros_like(gains)
        blended[rows] = np.sqrt((1.0 - spread) * gains[rows] ** 2 + spread / count)
        gains = blended
    return gains


#: the panner's parameters, shared by ``surround_pan`` and the channel strip
PANNER_PARAMS = (
    Param("azimuth_deg", 0.0, min=-180.0, max=180.0, unit="deg",
          doc="surround direction: 0 ahead (the centre), 30 the left speaker, -110 the "
              "right surround, 180 behind"),
    Param("spread", 0.0, min=0.0, max=1.0,
          doc="surround spread: 0 the two nearest speakers only; 1 every ear-level "
              "speaker alike (constant power throughout)"),
    Param("width_deg", 60.0, min=0.0, max=180.0, unit="deg", automatable=False,
          doc="a stereo source's angle between its sides, panned in surround"),
    Param("elevation_deg", 0.0, min=0.0, max=90.0, unit="deg",
          doc="surround height (7.1.4): 0 at ear level, 90 on the height speakers alone"),
    Param("lfe_db", OFF_DB, min=OFF_DB, max=10.0, unit="dB",
          doc="LFE send level, in surround (-120: off)"),
    Param("lfe_hz", 120.0, min=20.0, max=250.0, unit="Hz", automatable=False,
          doc="the LFE send's low-pass (4th-order Butterworth)"),
)


class SurroundPanner:
    """A mono or stereo source placed in ``layout`` by a node's panner parameters
    (:data:`PANNER_PARAMS`), with the LFE send's filter state."""

    def __init__(self, node: Node, layout: Layout, sources: int, max_block: int):
        self.node = node
        self.layout = layout
        self.offsets = (0.0,) if sources == 1 else (0.5 * node.width_deg,
                                                     -0.5 * node.width_deg)
        self.lfe = None
        if layout.lfe is not None:
            from scipy.signal import butter

            from .eq import Cascade

            sos = butter(4, node.lfe_hz, fs=node.rate, output="sos")
            self.lfe = Cascade([(st[:3], st[3:]) for st in sos], 1)
        self.mono = np.zeros((1, max_block))

    def reset(self) -> None:
        if self.lfe is not None:
            self.lfe.reset()

    def gains(self, azimuth, spread, elevation) -> list[np.ndarray]:
        """Per source channel: the gains (channels, 1 or frames)."""
        return [pan_gains(self.layout, np.asarray(azimuth) + o, spread, elevation)
                for o in self.offsets]

    def process(self, x: np.ndarray, out: np.ndarray, start: int, level=1.0) -> None:
        """``x`` (mono or stereo) times ``level`` (a gain or one per frame) into
        ``out`` (the layout's channels)."""
        node, frames = self.node, x.shape[1]
        moving = ("azimuth_deg", "spread", "elevation_deg")
        if any(node.is_automated(name) for name in moving):
            gains = self.gains(*(node.value(name, start, frames) for name in moving))
        else:
            gains = node.derived(self.gains, moving, start, frames)
        np.multiply(gains[0], x[0] * level, out=out)
        for g, row in zip(gains[1:], x[1:]):
            out += g * (row * level)
        if self.lfe is not None and (node.is_automated("lfe_db") or node.lfe_db > OFF_DB):
            mono = self.mono[:, :frames]
            if x.shape[0] == 1:
                np.multiply(x, level, out=mono)
            else:
                np.multiply(x.sum(axis=0, keepdims=True), math.sqrt(0.5) * level, out=mono)
            self.lfe.process(mono, mono)
            out[self.layout.lfe] = mono[0] * node.gain("lfe_db", start, frames)


@register
class SurroundPan(Node):
    """Places a mono or stereo source in a surround layout (see the module notes)."""

    type_name = "surround_pan"
    category = "mixing"
    kernels = ("filters.biquad_cascade",)
    summary = "surround panner: azimuth, spread, LFE send, onto a 5.1/7.1 bus"
    inputs = (Port("in", "a mono or stereo source", layouts=("mono", "stereo")),)
    params = (
        Param("layout", "5.1", kind="choice", choices=SURROUND_LAYOUTS, automatable=False,
              doc="the speaker layout the output feeds"),
        *PANNER_PARAMS,
    )

    def prepare(self, ctx: Context):
        self.rate = ctx.sample_rate
        layout = LAYOUTS[self.layout]
        self._panner = SurroundPanner(self, layout, ctx.input_channels[0] or 1,
                                      ctx.max_block)
        return (layout.channels,)

    def reset(self):
        self._panner.reset()

    def process(self, ins, outs, start):
        self._panner.process(ins[0], outs[0], start)


# ------------------------------------------------------------------ fold-down
FOLD_TARGETS = ("stereo", "5.1", "mono")


@register
class Downmix(Node):
    """Folds a surround signal down to 5.1, stereo (Lo/Ro, ITU-R BS.775) or mono
    (:func:`mixgraph.nodes.layouts.fold_matrix`); a signal no wider than the target
    passes as it is."""

    type_name = "downmix"
    category = "mixing"
    summary = "fold-down: 7.1/5.1 to 5.1, stereo Lo/Ro or mono, every coefficient set"
    params = (
        Param("to", "stereo", kind="choice", choices=FOLD_TARGETS, automatable=False,
              doc="the layout folded to"),
        Param("center_db", -3.0, min=-120.0, max=0.0, unit="dB", automatable=False,
              doc="centre into left and right"),
        Param("surround_db", -3.0, min=-120.0, max=0.0, unit="dB", automatable=False,
              doc="surrounds into their side (stereo)"),
        Param("rear_db", -3.0, min=-120.0, max=0.0, unit="dB", automatable=False,
              doc="a 7.1's side and rear surrounds into the 5.1 surrounds"),
        Param("height_db", -3.0, min=-120.0, max=0.0, unit="dB", automatable=False,
              doc="the heights into the speaker below them"),
        Param("lfe_db", OFF_DB, min=OFF_DB, max=0.0, unit="dB", automatable=False,
              doc="the LFE into left and right (-120: left out, as BS.775 does)"),
    )

    def prepare(self, ctx: Context):
        self.rate = ctx.sample_rate
        src = layout_of(ctx.input_channels[0] or 1)
        dst = LAYOUTS[self.to]
        if src.channels <= dst.channels:
            self._matrix = None                                 # nothing to fold
            if src.channels > 2 or (src.channels == 2 and dst.channels > 2):
                ctx.notice(f"downmix '{ctx.node_id}': its input is {src.name}, not wider "
                           f"than {dst.name}; passed as it is")
            return (src.channels,)
        self._matrix = fold_matrix(src, dst, **{name: getattr(self, name)
                                                for name in FOLD_DEFAULTS})
        return (dst.channels,)

    def process(self, ins, outs, start):
        (x,) = ins
        (out,) = outs
        if self._matrix is None:
            np.copyto(out, x)
        else:
            np.matmul(self._matrix, x, out=out)
