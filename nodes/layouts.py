"""Channel layouts: which loudspeaker each channel of a signal feeds.

Inside mixgraph a signal of ``n`` channels is in the layout of that many channels in
:data:`LAYOUTS` (each count names one layout), its channels in SMPTE/ITU order: L R
C LFE Ls Rs, then the rear surrounds Lrs Rrs, then the height pairs.  Files keep
their channels in the order of the WAVE_FORMAT_EXTENSIBLE channel mask (the order of
the mask's bits: front, LFE, back, side, top), which for 7.1 puts the rear pair
before the side pair; a file is reordered as it is read and as it is written
(:func:`from_file_order`, :func:`to_file_order`), and a WAV of more than two
channels is written with its mask.  A file without a mask is taken to be in the
internal order of its channel count, unless its stem declares another layout.

Loudness weights follow ITU-R BS.1770-4: 1.0 for the front channels, 1.41 (+1.5
dB) for the surrounds, and the LFE left out; the height channels count as front
ones (BS.1770-4 gives weights for up to the 5.1 positions; heights at 1.0 are what
Dolby's and the EBU's meters do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: WAVE_FORMAT_EXTENSIBLE speaker bits (Microsoft's KSAUDIO_SPEAKER_* positions)
SPEAKER_BITS = {"FL": 0, "FR": 1, "FC": 2, "LFE": 3, "BL": 4, "BR": 5, "FLC": 6, "FRC": 7,
                "BC": 8, "SL": 9, "SR": 10, "TC": 11, "TFL": 12, "TFC": 13, "TFR": 14,
                "TBL": 15, "TBC": 16, "TBR": 17}
#: each internal speaker name: its WAV speaker position, its BS.1770 weight and its
#: angle in degrees (0 ahead, positive to the left; None for the LFE)
SPEAKERS = {
    "L": ("FL", 1.0, 30.0), "R": ("FR", 1.0, -30.0), "C": ("FC", 1.0, 0.0),
    "LFE": ("LFE", 0.0, None),
    "Ls": ("SL", 1.41, 110.0), "Rs": ("SR", 1.41, -110.0),
    "Lrs": ("BL", 1.41, 150.0), "Rrs": ("BR", 1.41, -150.0),
    "Ltf": ("TFL", 1.0, 45.0), "Rtf": ("TFR", 1.0, -45.0),
    "Ltr": ("TBL", 1.0, 135.0), "Rtr": ("TBR", 1.0, -135.0),
}


@dataclass(frozen=True)
class Layout:
    name: str
    speakers: tuple[str, ...]

    @property
    def channels(self) -> int:
        return len(self.speakers)

    @property
    def weights(self) -> np.ndarray:
        """BS.1770-4 channel weights (the LFE 0)."""
        return np.array([SPEAKERS[s][1] for s in self.speakers])

    @property
    def mask(self) -> int:
        """The WAVE_FORMAT_EXTENSIBLE channel mask."""
        return sum(1 << SPEAKER_BITS[SPEAKERS[s][0]] for s in self.speakers)

    @property
    def lfe(self) -> int | None:
        return self.speakers.index("LFE") if "LFE" in self.speakers else None

    @property
    def surround(self) -> bool:
        """More than stereo."""
        return self.channels > 2

    def index(self, speaker: str) -> int | None:
        return self.speakers.index(speaker) if speaker in self.speakers else None

    def file_order(self) -> list[int]:
        """For each channel of a file with this layout's mask (bit order), the index
        of the internal channel it holds."""
        bits = [SPEAKER_BITS[SPEAKERS[s][0]] for s in self.speakers]
        return sorted(range(self.channels), key=lambda i: bits[i])


LAYOUTS = {layout.name: layout for layout in (
    Layout("mono", ("C",)),
    Layout("stereo", ("L", "R")),
    Layout("LCR", ("L", "R", "C")),
    Layout("quad", ("L", "R", "Lrs", "Rrs")),
    Layout("5.0", ("L", "R", "C", "Ls", "Rs")),
    Layout("5.1", ("L", "R", "C", "LFE", "Ls", "Rs")),
    Layout("7.0", ("L", "R", "C", "Ls", "Rs", "Lrs", "Rrs")),
    Layout("7.1", ("L", "R", "C", "LFE", "Ls", "Rs", "Lrs", "Rrs")),
    Layout("7.1.4", ("L", "R", "C", "LFE", "Ls", "Rs", "Lrs", "Rrs",
                     "Ltf", "Rtf", "Ltr", "Rtr")),
)}
BY_CHANNELS = {layout.channels: layout for layout in LAYOUTS.values()}
#: the channel counts a signal may have
CHANNEL_COUNTS = tuple(sorted(BY_CHANNELS))
#: the mono layout's speaker is the centre, but a mono signal has no position until
#: it is panned: its one channel is "the signal", placed by the rules of :func:`place`
MONO = LAYOUTS["mono"]


def layout_of(channels: int) -> Layout:
    """The layout of a signal of ``channels`` channels (KeyError where none has that
    many: callers check :data:`CHANNEL_COUNTS` first)."""
    return BY_CHANNELS[channels]


def layout_name(channels: int | None) -> str:
    """A channel count in words: its layout's name, or "N channels"."""
    if channels in BY_CHANNELS:
        return BY_CHANNELS[channels].name
    return f"{channels} channels"


def counts_in_words() -> str:
    return ", ".join(f"{layout.name} ({layout.channels})" for layout in LAYOUTS.values())


def channels_problem(channels: int) -> str | None:
    """Why a file of ``channels`` channels cannot be mixed (no layout has that
    many), or None."""
    if channels in BY_CHANNELS:
        return None
    return f"has {channels} channels, which is no layout mixgraph mixes ({counts_in_words()})"


def pairs(channels: int) -> list[tuple[int, int]]:
    """The (left, right) channel pairs of a layout: L R, Ls Rs, Lrs Rrs, Ltf Rtf, Ltr
    Rtr, those it has."""
    if channels == 1:
        return []
    layout = layout_of(channels)
    found = []
    for speaker in layout.speakers:
        if speaker.startswith("L") and speaker != "LFE":
            twin = layout.index("R" + speaker[1:])
            if twin is not None:
                found.append((layout.index(speaker), twin))
    return found


# ------------------------------------------------------------------ files
def layout_for_mask(mask: int, channels: int) -> Layout | None:
    """The layout a file's channel mask names, or None where the mask is 0, does not
    have one bit per channel, or names speakers in no layout here (5.1 with back
    surrounds, 0x3F, is read as 5.1: its surrounds are the side pair's)."""
    if not mask or bin(mask).count("1") != channels:
        return None
    for layout in LAYOUTS.values():
        if layout.channels == channels and layout.mask == mask:
            return layout
    back_for_side = {SPEAKER_BITS["BL"]: SPEAKER_BITS["SL"], SPEAKER_BITS["BR"]: SPEAKER_BITS["SR"]}
    if channels in (5, 6) and mask & 0b110000 and not mask & (0b11 << 9):
        moved = mask & ~0b110000
        for bit, to in back_for_side.items():
            if mask >> bit & 1:
                moved |= 1 << to
        return layout_for_mask(moved, channels)
    return None


def from_file_order(x: np.ndarray, layout: Layout) -> np.ndarray:
    """A file's channels (rows, in mask order) in the internal order."""
    order = layout.file_order()
    if order == list(range(layout.channels)):
        return x
    out = np.empty_like(x)
    out[order] = x
    return out


def to_file_order(x: np.ndarray, layout: Layout) -> np.ndarray:
    """Internal channels (rows) in the order a file with the layout's mask keeps."""
    order = layout.file_order()
    if order == list(range(layout.channels)):
        return x
    return x[order]


# ------------------------------------------------------------------ mixing
def place(out: np.ndarray, x: np.ndarray, add: bool = False) -> None:
    """``x`` as a signal of ``out``'s layout, into ``out`` (added with ``add``):

    - the same layout: as it is;
    - mono into stereo: on both sides (as it always was); into a layout with a centre:
      on the centre alone (a mono source is not sprayed into every speaker); into
      quad: on L and R at -3 dB each;
    - any other: each speaker into the same speaker where ``out`` has it; a side
      surround with no side pair goes to the rear pair and back; an LFE with no LFE
      is dropped; the rest of a wider signal (a centre into stereo, heights into
      7.1) goes to its nearest speakers at -3 dB each.

    Folding a wider signal down on purpose is the ``downmix`` node's job, with the
    standard's coefficients; this rule only keeps every channel somewhere sensible.
    """
    if not add:
        out.fill(0.0)
    src = x.shape[0]
    dst = out.shape[0]
    if src == dst:
        out += x
        return
    for i, j, gain in routes(src, dst):
        if gain == 1.0:
            out[j] += x[i]
        else:
            out[j] += gain * x[i]


class Placement:
    """:func:`place` into a buffer of its own, a block at a time (a feed of one layout
    into a port of a wider or narrower one; mono into stereo needs none: numpy's
    broadcasting is that rule)."""

    def __init__(self, src: int, dst: int, max_block: int):
        self.routes = routes(src, dst)
        self.out = np.zeros((dst, max_block))

    def process(self, x: np.ndarray) -> np.ndarray:
        """The placed block (a view of the buffer, valid until the next call)."""
        out = self.out[:, :x.shape[1]]
        out.fill(0.0)
        for i, j, gain in self.routes:
            if gain == 1.0:
                out[j] += x[i]
            else:
                out[j] += gain * x[i]
        return out


def needs_placing(src: int, dst: int) -> bool:
    """Whether a signal of ``src`` channels summed into ``dst`` needs :func:`place`
    (not the same width, and not mono into stereo, which broadcasting does)."""
    return src != dst and not (src == 1 and dst == 2)


_ROUTES: dict[tuple[int, int], list[tuple[int, int, float]]] = {}
HALF_POWER = float(np.sqrt(0.5))
#: where a speaker goes when the other layout lacks it: (first choice, second...)
FALLBACK = {"Ls": ("Lrs",), "Rs": ("Rrs",), "Lrs": ("Ls",), "Rrs": ("Rs",),
            "Ltf": ("L",), "Rtf": ("R",), "Ltr": ("Ls", "Lrs"), "Rtr": ("Rs", "Rrs")}


def routes(src: int, dst: int) -> list[tuple[int, int, float]]:
    """(source channel, destination channel, gain) of :func:`place`."""
    key = (src, dst)
    if key in _ROUTES:
        return _ROUTES[key]
    a, b = layout_of(src), layout_of(dst)
    found: list[tuple[int, int, float]] = []
    if src == 1:
        if dst == 2:
            found = [(0, 0, 1.0), (0, 1, 1.0)]
        elif b.index("C") is not None:
            found = [(0, b.index("C"), 1.0)]
        else:
            found = [(0, b.index("L"), HALF_POWER), (0, b.index("R"), HALF_POWER)]
    else:
        for i, speaker in enumerate(a.speakers):
            if speaker == "LFE":
                if b.lfe is not None:
                    found.append((i, b.lfe, 1.0))
                continue
            if b.index(speaker) is not None:
                found.append((i, b.index(speaker), 1.0))
                continue
            if dst == 1:
                found.append((i, 0, 1.0 / max(1, len([s for s in a.speakers if s != "LFE"]))))
                continue
            for other in FALLBACK.get(speaker, ()):
                if b.index(other) is not None:
                    found.append((i, b.index(other), 1.0))
                    break
            else:
                if speaker == "C":
                    found += [(i, b.index("L"), HALF_POWER), (i, b.index("R"), HALF_POWER)]
                else:
                    side = "L" if speaker.startswith("L") else "R"
                    found.append((i, b.index(side), HALF_POWER))
    _ROUTES[key] = found
    return found
