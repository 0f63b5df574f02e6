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

Loudness weights follow ITU-R BS.1770-4's table of positions: 1.41 (+1.5 dB) for a
speaker at ear level between 60 and 120 degrees off centre (the side surrounds, at
110), 1.0 for every other (the front, the rear surrounds at 150, the heights), and
the LFE left out.  (ffmpeg's ebur128 weighs the back pair of a 7.1 at 1.41, as
surrounds; on 5.1 and on a 7.1 whose rears are silent the two agree.)
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
    "Lrs": ("BL", 1.0, 150.0), "Rrs": ("BR", 1.0, -150.0),
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
HALF_POWER = float(np.sqrt(0.5))


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


class LfeApart:
    """A surround signal's LFE apart from its other channels, for dynamics that keep
    it out of their link (a kick's sub in the LFE does not pump the mains): the rows
    of each part, and buffers to hold a block of each without allocating."""

    def __init__(self, channels: int, max_block: int):
        lfe = layout_of(channels).lfe
        self.lfe = [lfe]
        self.main = [i for i in range(channels) if i != lfe]
        self.buffers = {part: (np.zeros((len(rows), max_block)), np.zeros((len(rows), max_block)))
                        for part, rows in (("main", self.main), ("lfe", self.lfe))}

    @staticmethod
    def wanted(channels: int, apart: bool) -> bool:
        """Whether there is an LFE to keep apart."""
        return apart and channels in BY_CHANNELS and layout_of(channels).lfe is not None

    def split(self, x: np.ndarray, part: str) -> tuple[np.ndarray, np.ndarray]:
        """(the part's input, a buffer for its output), each (rows, n)."""
        rows = self.main if part == "main" else self.lfe
        into, out = self.buffers[part]
        n = x.shape[1]
        np.take(x, rows, axis=0, out=into[:, :n])
        return into[:, :n], out[:, :n]

    def join(self, out: np.ndarray, part: str, y: np.ndarray) -> None:
        out[self.main if part == "main" else self.lfe] = y

    def parts(self, x: np.ndarray, out: np.ndarray):
        """For the other channels, then the LFE: (0 or 1, its input, a buffer for its
        output); each part's output is put into ``out`` once the loop body has filled
        its buffer."""
        for i, part in enumerate(("main", "lfe")):
            into, part_out = self.split(x, part)
            yield i, into, part_out
            self.join(out, part, part_out)


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
OFF_DB = -120.0                    # a level at or below this is off (an LFE fold, a send)
#: a fold's default coefficients (ITU-R BS.775: centre and surrounds at -3 dB into
#: the front pair; a 7.1's side and rear pairs each at -3 dB into one surround pair;
#: heights at -3 dB into the speaker below them; the LFE left out)
FOLD_DEFAULTS = {"center_db": -3.0, "surround_db": -3.0, "rear_db": -3.0,
                 "height_db": -3.0, "lfe_db": OFF_DB}


def _gain(level_db: float) -> float:
    return 0.0 if level_db <= OFF_DB else float(np.power(10.0, np.float64(level_db) / 20.0))


def fold_matrix(src: Layout, dst: Layout, **coefficients) -> np.ndarray:
    """The (dst channels, src channels) gains that bring ``src`` to ``dst``: every
    speaker to the same one where ``dst`` has it; otherwise by ITU-R BS.775 (defaults
    :data:`FOLD_DEFAULTS`, each a keyword): the centre into L and R at ``center_db``,
    the surrounds into the front pair of their side at ``surround_db``, a side and a
    rear pair merged into one pair each at ``rear_db`` (one pair moved alone, to the
    other, at unity), heights into the speaker below at ``height_db``, the LFE into
    an LFE, else into L and R at ``lfe_db`` (left out by default).  A mono signal goes
    to both sides of stereo at unity, to the centre of a layout with one, else to L
    and R at -3 dB; a fold to mono is half the stereo fold's two sides."""
    k = dict(FOLD_DEFAULTS, **coefficients)
    c, s, r, h, lfe = (_gain(k[n]) for n in ("center_db", "surround_db", "rear_db",
                                             "height_db", "lfe_db"))
    m = np.zeros((dst.channels, src.channels))
    if src.channels == dst.channels:
        return np.eye(src.channels)
    if src.channels == 1:
        if dst.channels == 2:
            m[:, 0] = 1.0
        elif dst.index("C") is not None:
            m[dst.index("C"), 0] = 1.0
        else:
            m[[dst.index("L"), dst.index("R")], 0] = HALF_POWER
        return m
    if dst.channels == 1:
        return 0.5 * fold_matrix(src, LAYOUTS["stereo"], **coefficients).sum(axis=0,
                                                                             keepdims=True)
    merging = all(src.index(p) is not None for p in ("Ls", "Lrs")) and \
        not all(dst.index(p) is not None for p in ("Ls", "Lrs"))
    for i, speaker in enumerate(src.speakers):
        side = "L" if speaker.startswith("L") and speaker != "LFE" else "R"
        if speaker == "LFE":
            targets = [(dst.lfe, 1.0)] if dst.lfe is not None else \
                [(dst.index("L"), lfe), (dst.index("R"), lfe)]
        elif speaker in ("Ls", "Rs", "Lrs", "Rrs"):
            twin = {"Ls": "Lrs", "Rs": "Rrs", "Lrs": "Ls", "Rrs": "Rs"}[speaker]
            if dst.index(speaker) is not None:
                targets = [(dst.index(speaker), r if merging else 1.0)]
            elif dst.index(twin) is not None:
                targets = [(dst.index(twin), r if merging else 1.0)]
            else:
                targets = [(dst.index(side), s)]
        elif dst.index(speaker) is not None:
            targets = [(dst.index(speaker), 1.0)]
        elif speaker == "C":
            targets = [(dst.index("L"), c), (dst.index("R"), c)]
        else:                                          # a height without its speaker
            below = {"Ltf": ("L",), "Rtf": ("R",), "Ltr": ("Ls", "Lrs", "L"),
                     "Rtr": ("Rs", "Rrs", "R")}[speaker]
            target = next(dst.index(b) for b in below if dst.index(b) is not None)
            targets = [(target, h)]
        for j, gain in targets:
            m[j, i] += gain
    return m


_MATRICES: dict[tuple[int, int], np.ndarray] = {}


def matrix(src: int, dst: int) -> np.ndarray:
    """:func:`fold_matrix` between the layouts of ``src`` and ``dst`` channels, at
    the default coefficients (kept: do not change it)."""
    key = (src, dst)
    if key not in _MATRICES:
        _MATRICES[key] = fold_matrix(layout_of(src), layout_of(dst))
    return _MATRICES[key]


def place(out: np.ndarray, x: np.ndarray) -> None:
    """``x`` as a signal of ``out``'s layout (:func:`fold_matrix`): as it is in the
    same layout; mono on both sides of stereo, on the centre of a surround layout (a
    mono source is not sprayed into every speaker); stereo on L and R; a wider
    signal folded down by BS.775; a narrower one on the speakers it names."""
    if x.shape[0] == out.shape[0]:
        np.copyto(out, x)
    else:
        np.matmul(matrix(x.shape[0], out.shape[0]), x, out=out)


class Placement:
    """:func:`place` into a buffer of its own, a block at a time (a feed of one layout
    into a port of a wider or narrower one; mono into stereo needs none: numpy's
    broadcasting is that rule)."""

    def __init__(self, src: int, dst: int, max_block: int):
        self.matrix = matrix(src, dst)
        self.out = np.zeros((dst, max_block))

    def process(self, x: np.ndarray) -> np.ndarray:
        """The placed block (a view of the buffer, valid until the next call)."""
        out = self.out[:, :x.shape[1]]
        np.matmul(self.matrix, x, out=out)
        return out


def needs_placing(src: int, dst: int) -> bool:
    """Whether a signal of ``src`` channels summed into ``dst`` needs :func:`place`
    (not the same width, and not mono into stereo, which broadcasting does)."""
    return src != dst and not (src == 1 and dst == 2)


def covering(counts) -> int | None:
    """The channels of the narrowest layout that holds every speaker of signals of
    these channel counts (a port's, where they meet): a 5.1 and a 7.0 meet in 7.1,
    not 7.0, so the LFE is not lost; mono counts as no speaker of its own."""
    counts = [c for c in counts if c is not None]
    if not counts:
        return None
    widest = max(counts)
    needed = set()
    for c in counts:
        if c > 1:
            needed |= set(layout_of(c).speakers)
    for layout in sorted(LAYOUTS.values(), key=lambda lay: lay.channels):
        if layout.channels >= widest and needed <= set(layout.speakers):
            return layout.channels
    return widest
