"""Mixing: channel strips, buses, stem groups, sends and utility gain.

Pan laws (one place, used by every node that pans):

- a mono signal is panned with the constant-power law: left = cos(theta),
  right = sin(theta), theta = (pan + 1) * pi / 4, so the centre is -3.01 dB on each
  side (0.7071) and hard left is (1, 0);
- a stereo signal is balanced: the centre is unity on both sides and panning right
  attenuates only the left channel.  The attenuated side follows the same curve as
  the pan law, relative to its centre value: gain = min(1, sqrt(2) * cos(theta)) on
  the left, min(1, sqrt(2) * sin(theta)) on the right (-5.3 dB at pan 0.5, silent
  at the hard side).

Mute and solo are applied by the engine, which sees the whole graph: a muted node
gives silence on every output (its sends included), and while anything is soloed
only the signal paths that pass through a soloed node are heard.  A ``group``
mutes and solos its members with it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from .base import Context, Node, Param, Port, register
from .layouts import LAYOUTS
from .layouts import matrix
from .surround import PANNER_PARAMS, SURROUND_LAYOUTS, SurroundPanner

GAIN = Param("gain_db", 0.0, min=-120.0, max=24.0, unit="dB", doc="fader level")
PAN = Param("pan", 0.0, min=-1.0, max=1.0,
            doc="-1 = left, 0 = centre, 1 = right (constant power for mono, balance "
                "for stereo)")
MUTE = Param("mute", False, kind="bool", role="mute",
             doc="silence every output of this node")
SOLO = Param("solo", False, kind="bool", role="solo",
             doc="hear only the paths through soloed nodes")
POLARITY = Param("polarity_invert", False, kind="bool", doc="invert the polarity")
SQRT2 = math.sqrt(2.0)


def pan_law(pan):
    """(left, right) gains of the constant-power pan law for a mono signal."""
    theta = (np.asarray(pan, dtype=np.float64) + 1.0) * (math.pi / 4.0)
    return np.cos(theta), np.sin(theta)


def balance_law(pan):
    """(left, right) gains of the balance control for a stereo signal."""
    left, right = pan_law(pan)
    return np.minimum(1.0, SQRT2 * left), np.minimum(1.0, SQRT2 * right)


def _fader(node: Node, x: np.ndarray, out: np.ndarray, start: int) -> None:
    """out = x through gain_db and pan: panned if x is mono and out stereo, else balanced.

    Without automation the gains are worked out once per channel layout and kept.
    """
    key = (_fader, x.shape[0], out.shape[0])
    kept = node.__dict__.get("_derived")          # with what Node.derived keeps
    if kept is not None and key in kept:
        _apply(x, out, kept[key])
        return
    if out.shape[0] == 2 and x.shape[0] == 1:
        law = pan_law
    elif out.shape[0] == 2 and (node.is_automated("pan") or node.pan != 0.0):
        law = balance_law
    else:
        law = None
    frames = x.shape[1]
    g = node.gain("gain_db", start, frames)
    if law is None:
        gains = (g,)
    else:
        gains = tuple(g * side for side in law(node.value("pan", start, frames)))
    if not (node.is_automated("gain_db") or node.is_automated("pan")):
        node.__dict__.setdefault("_derived", {})[key] = gains
    _apply(x, out, gains)


def _apply(x: np.ndarray, out: np.ndarray, gains: tuple) -> None:
    if len(gains) == 1:
        np.multiply(x, gains[0], out=out)
    else:
        np.multiply(x[0], gains[0], out=out[0])
        np.multiply(x[-1], gains[1], out=out[1])          # x[-1] is x[0] for mono


@register
class Channel(Node):
    """A channel strip: polarity, fader, stereo width and pan.

    ``pre`` is the signal before the fader (after polarity), for pre-fader sends;
    ``out`` is after fader, width and pan, in the layout ``output`` names: stereo (a
    mono source panned, a stereo one balanced), or a surround layout, where a mono or
    stereo source is placed by the surround panner (azimuth, spread, LFE send:
    :mod:`mixgraph.nodes.surround`).  A surround source is folded down to a narrower
    ``output`` by ITU-R BS.775 (a 5.1 crowd stem on a stereo strip plays as Lo/Ro),
    or placed into a wider one; in its own layout it takes the fader and polarity.
    """

    type_name = "channel"
    kernels = ("filters.biquad_cascade",)
    cost = 0.1
    category = "mixing"
    summary = "channel strip: fader, pan, width, polarity; pre-fader and post-fader outputs"
    outputs = (Port("out", "post-fader, panned (stereo, or the surround layout chosen)"),
               Port("pre", "pre-fader, pre-pan (for pre-fader sends)"))
    params = (GAIN, replace(PAN, used_when=("output", ("stereo",))), MUTE, SOLO, POLARITY,
              Param("width", 1.0, min=0.0, max=2.0,
                    doc="stereo width of a stereo input: 0 = mono, 1 = unchanged, 2 = wide"),
              Param("output", "stereo", kind="choice", choices=("stereo", *SURROUND_LAYOUTS),
                    automatable=False,
                    doc="the layout a mono or stereo source is panned into: stereo by pan, "
                        "a surround one by azimuth and spread"),
              *(replace(p, used_when=("output", SURROUND_LAYOUTS)) for p in PANNER_PARAMS))

    def prepare(self, ctx: Context):
        super().prepare(ctx)
        channels = ctx.input_channels[0] or 1
        self._pre_read = ctx.reads(1)
        self._panner = self._convert = None
        target = LAYOUTS[self.output]
        if channels > 2:                 # a surround source: folded or placed, then faded
            if target.channels != channels:
                self._convert = matrix(channels, target.channels)
            return (target.channels, channels)
        if self.output != "stereo":
            layout = LAYOUTS[self.output]
            self._panner = SurroundPanner(self, layout, channels, ctx.max_block)
            return (layout.channels, channels)
        return (2, channels)

    def reset(self):
        if self._panner is not None:
            self._panner.reset()

    def process(self, ins, outs, start):
        (x,) = ins
        out, pre = outs
        if self.polarity_invert or self._pre_read:
            np.multiply(x, -1.0 if self.polarity_invert else 1.0, out=pre)
            src = pre
        else:
            src = x                      # nothing reads the pre-fader output
        if src.shape[0] == 2 and (self.is_automated("width") or self.width != 1.0):
            w = self.value("width", start, src.shape[1])
            mid = 0.5 * (src[0] + src[1])
            side = 0.5 * (src[0] - src[1]) * w
            src = np.stack((mid + side, mid - side))
        if self._panner is not None:
            self._panner.process(src, out, start, self.gain("gain_db", start, src.shape[1]))
            return
        if self._convert is not None:
            src = self._convert @ src
        _fader(self, src, out, start)


@register
class Bus(Node):
    """Sums everything linked into it; fader and balance.

    A bus carries the narrowest layout that holds all its inputs (stereo if any input
    is stereo, else mono; 5.1 if a 5.1 stem comes in: see
    :mod:`mixgraph.nodes.layouts`); a mono bus is not panned (route it through a
    channel to place it in the stereo field), nor is a surround one.
    """

    type_name = "bus"
    category = "mixing"
    summary = "sums its inputs; fader, balance, mute, solo"
    params = (GAIN, PAN, MUTE, SOLO)
    summing = True

    def prepare(self, ctx: Context):
        (channels,) = super().prepare(ctx)
        if channels == 1 and (self.is_automated("pan") or self.pan != 0.0):
            ctx.notice(f"{self.type_name} '{ctx.node_id}' carries mono, so its pan has no "
                       "effect; feed it through a channel to pan it")
        return (channels,)

    def process(self, ins, outs, start):
        (x,) = ins
        (out,) = outs
        if out.shape[0] == 1:
            np.multiply(x, self.gain("gain_db", start, x.shape[1]), out=out)
        else:
            _fader(self, x, out, start)


@register
class Group(Bus):
    """A stem group: a bus that names its members and mutes and solos them as one.

    ``members`` lists the node ids the group controls; left empty, the group's
    members are the nodes linked into it.  Muting the group silences every member,
    sends included; soloing it solos them.  Link its output to an ``output`` node to
    render the group as a stem file.  With nothing linked in, a group only controls
    its members (like a VCA group) and its output is silent.
    """

    type_name = "group"
    summary = "stem group: a bus that mutes and solos its members as one"
    inputs = (Port("in", "the members' audio (optional: a group may only control)",
                   optional=True),)
    params = (GAIN, PAN, MUTE, SOLO,
              Param("members", [], kind="nodes", role="members",
                    doc="node ids controlled by the group (empty: the nodes linked in)"))

    def process(self, ins, outs, start):
        if ins[0] is None:
            outs[0].fill(0.0)
        else:
            super().process(ins, outs, start)


@register
class Send(Node):
    """A send level; wire it from a channel's ``pre`` or ``out`` for pre/post-fader."""

    type_name = "send"
    category = "mixing"
    summary = "send level (pre/post-fader is the port it is wired from)"
    params = (Param("level_db", 0.0, min=-120.0, max=24.0, unit="dB", doc="send level"),)

    def process(self, ins, outs, start):
        (x,) = ins
        (out,) = outs
        np.multiply(x, self.gain("level_db", start, x.shape[1]), out=out)


@register
class Gain(Node):
    """Utility gain and polarity."""

    type_name = "gain"
    category = "mixing"
    summary = "utility gain and polarity"
    params = (Param("gain_db", 0.0, min=-120.0, max=48.0, unit="dB", doc="gain"), POLARITY)

    def process(self, ins, outs, start):
        (x,) = ins
        (out,) = outs
        g = self.gain("gain_db", start, x.shape[1])
        np.multiply(x, -g if self.polarity_invert else g, out=out)
