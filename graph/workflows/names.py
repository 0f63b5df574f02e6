"""How a template reads a file name: an instrument *family* plus *qualifiers*.

``01 Lead Vox Double (L).wav`` reads as family ``vocals`` with qualifiers ``lead``,
``double`` and side ``left``; ``Lead Gtr.wav`` is a ``guitar`` with qualifier
``lead``, never a vocal: a qualifier never decides the family on its own.

The vocabulary (:data:`FAMILIES`, :data:`QUALIFIERS`, :data:`SIDES`) is the one
table binding reads; a template extends it with its own words in its ``template``
section (``"vocabulary": {"host": ["host", "presenter"], "guitar": ["axe"]}``).
Words are compared after lower-casing, splitting camel case and dropping the track
number, the extension and separators, so ``01_LeadVox-Dbl.wav`` reads as
``lead vox dbl``.

Where a name holds words of two families, the one listed first in
:data:`FAMILIES` wins (``Kick Room`` is a kick with a room qualifier, ``Snare
Bottom`` a snare, ``Synth Bass`` a bass, ``Backing Vox`` backing vocals); some
two-word phrases read as one (``bass drum`` is a kick, ``drum room`` a room).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: family: the words (or phrases) that name it; earlier families win over later ones
FAMILIES: dict[str, tuple[str, ...]] = {
    # what is never part of the mix: the template's ignore rules name these
    "click": ("click", "metronome", "metro", "clicktrack"),
    "count_in": ("count in", "countin", "count off", "countoff"),
    "guide": ("guide", "scratch", "cue"),
    "reference": ("reference", "ref", "ref mix", "reference mix"),
    "mastered": ("master", "mastered", "final master", "limited"),
    "mix": ("mix", "mixdown", "premaster", "pre master", "bounce", "stereo mix",
            "full mix", "print"),
    # drums
    "kick": ("kick", "kik", "bd", "bassdrum", "bass drum", "kick drum"),
    "snare": ("snare", "snr", "sn", "sd", "snare drum"),
    "hats": ("hat", "hats", "hh", "hihat", "hihats", "hi hat", "hi hats"),
    "toms": ("tom", "toms", "floor tom", "rack tom", "floortom", "racktom"),
    "overheads": ("oh", "ohs", "overhead", "overheads", "cymbal", "cymbals", "cym", "cyms"),
    "percussion": ("perc", "percussion", "shaker", "shakers", "tamb", "tambourine",
                   "conga", "congas", "bongo", "bongos", "clap", "claps", "cowbell"),
    # voices before instruments: "backing vox" is backing vocals
    "backing": ("bv", "bvs", "bgv", "bgvs", "backing", "backings", "backs", "harmony",
                "harmonies", "harm", "choir", "backing vox", "backing vocals"),
    "host": ("host", "presenter", "anchor"),
    "guest": ("guest", "interview", "caller", "cohost", "co host"),
    # instruments
    "bass": ("bass", "bs", "sub", "synth bass", "bass guitar", "bass gtr", "upright"),
    "guitar": ("gtr", "gtrs", "guitar", "guitars", "gt", "acoustic", "ac gtr", "eg",
               "electric"),
    "strings": ("strings", "string", "violin", "violins", "viola", "cello", "cellos",
                "orchestra"),
    "brass": ("brass", "horn", "horns", "trumpet", "tpt", "trombone", "sax",
              "saxophone"),
    "keys": ("keys", "key", "piano", "pno", "synth", "synths", "organ", "rhodes",
             "wurli", "wurlitzer", "pad", "pads", "epiano", "e piano", "clav"),
    "vocals": ("vox", "vocal", "vocals", "voc", "vx", "voice", "singer"),
    # groups of parts (stem mastering) and rooms: only where nothing else is named
    "drums": ("drum", "drums", "kit", "drum kit"),
    "room": ("room", "rooms", "amb", "ambience", "ambient", "drum room"),
    "music": ("music", "inst", "instrumental", "instruments", "bed", "jingle",
              "theme", "intro music", "outro music"),
    "fx": ("fx", "sfx", "riser", "risers", "impact", "impacts", "sweep"),
}

#: qualifier: the words that name it (they never decide a family on their own)
QUALIFIERS: dict[str, tuple[str, ...]] = {
    "lead": ("lead", "ld", "main"),
    "double": ("double", "dbl", "dub", "doubled", "dt"),
    "top": ("top", "up", "upper"),
    "bottom": ("bottom", "bot", "btm", "under", "lower"),
    "in": ("in", "inside"),
    "out": ("out", "outside"),
    "di": ("di", "direct", "line"),
    "amp": ("amp", "cab", "mic"),
    "close": ("close", "near", "spot"),
    "room": ("room", "amb", "far"),
    "stereo": ("stereo", "st"),
    "mono": ("mono",),
    "adlib": ("adlib", "adlibs", "ad lib"),
}

#: side of a left/right pair
SIDES: dict[str, tuple[str, ...]] = {
    "left": ("l", "left", "lt", "lft"),
    "right": ("r", "right", "rt", "rgt"),
}


@dataclass(frozen=True)
class Reading:
    """What a file name says: its words, its family (None: no family word), its
    qualifiers, its side and the number in it, if any."""

    words: tuple[str, ...]
    family: str | None
    qualifiers: frozenset[str] = field(default_factory=frozenset)
    side: str | None = None
    number: int | None = None
    #: every family word found, in the name's order (for the binding table's "why")
    families_named: tuple[str, ...] = ()


def words_of(filename: str) -> tuple[str, ...]:
    """'01_LeadVox-Dbl (L).wav' -> ('lead', 'vox', 'dbl', 'l'): lower case, camel case
    split, no extension, no leading track number, no separators or brackets."""
    stem = Path(filename).stem
    stem = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)              # LeadVox -> Lead Vox
    stem = stem.lower()
    stem = re.sub(r"[_\-.,+&()\[\]{}#]+", " ", stem)
    stem = re.sub(r"^\s*\d+\s+", "", stem)                        # the track number
    stem = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", stem)  # tom1 -> tom 1
    return tuple(stem.split())


def vocabulary(extra: dict | None = None) -> dict[str, tuple[str, ...]]:
    """The families with a template's own words added (new families come after the
    built-in ones, so a built-in family word still wins)."""
    families = {name: tuple(words) for name, words in FAMILIES.items()}
    for name, words in (extra or {}).items():
        families[name] = families.get(name, ()) + tuple(str(w).lower() for w in words)
    return families


def read_name(filename: str, families: dict[str, tuple[str, ...]] | None = None) -> Reading:
    """The :class:`Reading` of a file name."""
    families = families or FAMILIES
    words = words_of(filename)
    used = [False] * len(words)
    found: list[tuple[int, str]] = []                         # (position, family)
    # phrases first (longest first), then single words
    phrases = sorted(((tuple(p.split()), fam) for fam, ps in families.items() for p in ps),
                     key=lambda x: -len(x[0]))
    for phrase, fam in phrases:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if words[i:i + n] == phrase and not any(used[i:i + n]):
                found.append((i, fam))
                for j in range(i, i + n):
                    used[j] = True
    order = list(families)
    family = min((fam for _, fam in found), key=order.index, default=None)
    qualifiers = set()
    side = None
    number = None
    for i, w in enumerate(words):
        if used[i]:
            continue
        for q, ws in QUALIFIERS.items():
            if w in ws:
                qualifiers.add(q)
        for s, ws in SIDES.items():
            if w in ws:
                side = s
        if w.isdigit() and number is None:
            number = int(w)
    # a family word that lost to another one reads as a qualifier where it is one
    # ("Kick Room": a kick with a room qualifier)
    for _, fam in found:
        if fam != family and fam in QUALIFIERS:
            qualifiers.add(fam)
    return Reading(words, family, frozenset(qualifiers), side, number,
                   tuple(f for _, f in sorted(found)))
