"""What a node is: declared ports, a parameter table, and a block-processing lifecycle.

A node knows nothing of graphs or project files.  The engine calls, in order::

    node = NodeClass(**params)            # parameters checked against the table
    node.node_id = "..."                  # the engine's attributes: ENGINE_ATTRIBUTES
    outs_channels = node.prepare(ctx)     # once: sets node.rate, returns channels
    node.analyse(tape)                    # only where needs_analysis (see AnalysisTape)
    node.process(ins, outs, start)        # once per block
    node.reset()                          # between passes: clear tails and delay lines
    node.close()                          # always, even if prepare was never reached

Signals are ``float64`` arrays of shape ``(channels, frames)``; a count of channels
is a layout (:mod:`mixgraph.nodes.layouts`: 1 mono, 2 stereo, up to 12 for 7.1.4),
its channels in SMPTE/ITU order (L R C LFE Ls Rs Lrs Rrs, then the heights).
``ins`` holds one array per declared input port (``None`` for an optional port
with nothing linked); ``outs`` holds one preallocated array per output port that
``process`` fills completely.  ``process`` must not modify the arrays in ``ins``.
``start`` is the index, in samples of song time, of the block's first frame: the
engine subtracts the latency upstream of the node, so automation evaluated at
``start`` lines up with the audio.  A block-to-block state lives in the node and
``reset()`` clears it without touching parameters.

Parameters read back as attributes (``node.gain_db``); the engine's own facts live
under the names in :data:`ENGINE_ATTRIBUTES`, which no parameter may take.  What the
engine does with a parameter beyond handing it to the node (mute, solo, a group's
members, the files a node reads and writes) it finds by the parameter's declared
``role`` (:data:`ROLES`), never by its name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Protocol, runtime_checkable

import numpy as np

from .automation import Automation, finite
from .layouts import covering, place
from mixgraph.errors import GraphError, ParameterError

DTYPE = np.float64
KINDS = ("float", "int", "bool", "choice", "str", "path", "list", "nodes")
#: what the engine and the workflows find a parameter by, and the kind it must have:
#: ``mute`` silences every output of the node, ``solo`` solos the paths through it,
#: ``members`` names the nodes a group controls (mutes and solos with it), ``reads`` a
#: file the node reads (a stem, an impulse response), ``writes`` the file it writes,
#: ``regions`` the spans of the file read that play (an editor draws them over it)
ROLES = {"mute": "bool", "solo": "bool", "members": "nodes", "reads": "path",
         "writes": "path", "regions": "list"}
#: attributes the engine sets on every node; no parameter may be named like one
ENGINE_ATTRIBUTES = ("node_id", "rate")


def db_to_gain(db):
    """Amplitude ratio of a level in dB (scalar or array).

    Always numpy's ``power``: Python's ``**`` differs from it in the last bit for a
    few values, which would make a constant block and an automated block disagree.
    """
    if isinstance(db, np.ndarray):
        return np.power(10.0, db / 20.0)
    return float(np.power(10.0, np.float64(db) / 20.0))


LEVEL_UNITS = ("dB", "dBFS", "dBTP", "LU", "LUFS")


@dataclass(frozen=True)
class Port:
    """A named audio connection point of a node; ``layouts`` names the channel
    layouts an input takes (empty: any; see :mod:`mixgraph.nodes.layouts`)."""

    name: str
    doc: str = ""
    optional: bool = False
    layouts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Param:
    """One row of a node's parameter table.

    ``kind`` is one of float, int, bool, choice, str, path, list or nodes (a list of
    node ids, checked against the graph and kept up to date when a node is renamed).
    Floats are automatable unless ``automatable=False``; a parameter that changes the
    render's structure (a latency, a duration) must not be.  ``check`` adds a rule a
    range cannot express (it returns problem sentences).  ``role`` (one of
    :data:`ROLES`) is what the engine finds the parameter by; nothing outside the
    node keys on a parameter's name.

    A ``list`` whose entries are objects declares them in ``items`` (an :class:`Items`:
    each field a ``Param`` of its own), and everything that reads such a list, the
    validator, the project diff and the editor's rows, reads the fields from there.
    ``used_when`` (for an item's field) names another field of the same item and the
    values for which this one matters, e.g. ``("type", ("highpass", "lowpass"))``:
    the field is still checked and kept otherwise, but the editor does not show it.
    """

    name: str
    default: Any
    kind: str = "float"
    min: float | None = None
    max: float | None = None
    unit: str = ""
    doc: str = ""
    choices: tuple = ()
    automatable: bool | None = None
    required: bool = False
    check: Callable[[Any], list[str]] | None = None
    #: a template's slot rule: the editor shows it only when editing a template
    template_only: bool = False
    role: str = ""
    #: for a ``list`` of objects: what each object holds
    items: Items | None = None
    #: (another field of the item, or parameter of the node; the values of it for which
    #: this one matters)
    used_when: tuple[str, tuple] | None = None

    def applies(self, values: dict) -> bool:
        """Whether this parameter matters, given every value of its item or node
        (``values``, defaults filled in): its ``used_when`` met, or it has none."""
        return self.used_when is None or values[self.used_when[0]] in self.used_when[1]

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")
        if self.role and ROLES.get(self.role) != self.kind:
            raise ValueError(f"parameter {self.name}: role {self.role!r} needs kind "
                             f"{ROLES.get(self.role)!r} (roles: {', '.join(ROLES)})")
        if self.items is not None and self.kind != "list":
            raise ValueError(f"parameter {self.name}: only a list declares items, "
                             f"not a {self.kind}")
        if self.used_when is not None and not (
                len(self.used_when) == 2 and isinstance(self.used_when[0], str)
                and isinstance(self.used_when[1], tuple)):
            raise ValueError(f"parameter {self.name}: used_when must be (field name, "
                             f"tuple of values), got {self.used_when!r}")
        if self.automatable is None:
            object.__setattr__(self, "automatable", self.kind == "float")

    def ride_tolerance(self) -> float:
        """How far a recorded ride's written points may stray from what was played:
        0.1 dB for a level, else a thousandth of the parameter's range (one where it
        has none)."""
        if self.unit in LEVEL_UNITS:
            return 0.1
        if self.min is not None and self.max is not None:
            return 0.001 * (self.max - self.min)
        return 0.001

    def describe_range(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.items is not None:
            return self.items.describe()
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.min is not None and self.max is not None:
            return f"between {_fmt(self.min)} and {_fmt(self.max)}{unit}"
        if self.min is not None:
            return f"at least {_fmt(self.min)}{unit}"
        if self.max is not None:
            return f"at most {_fmt(self.max)}{unit}"
        return ""

    def problems(self, value: Any) -> list[str]:
        """Sentences (without the node's name) saying what is wrong with ``value``."""
        n = self.name
        if Automation.is_automation(value):
            if not self.automatable:
                return [f"{n} cannot be automated"]
            out = [f"{n}: {p}" for p in Automation.problems(value)]
            if out:
                return out
            auto = Automation.from_document(value)
            for bound, v in (("min", auto.min), ("max", auto.max)):
                if not self._in_range(v):
                    return [f"{n} automation must stay {self.describe_range()}, "
                            f"got {_fmt(v)}"]
            return []
        kind = self.kind
        if kind == "float":
            if not _is_number(value):
                return [f"{n} must be a number, got {_show(value)}"]
            if finite(value) is None:
                return [f"{n} must be a finite number, got {_show(value)}"]
        elif kind == "int":
            if not (_is_number(value) and finite(value) is not None
                    and float(value).is_integer()):
                return [f"{n} must be a whole number, got {_show(value)}"]
        elif kind == "bool":
            if not isinstance(value, bool):
                return [f"{n} must be true or false, got {_show(value)}"]
        elif kind in ("choice",):
            if value not in self.choices:
                return [f"{n} must be {self.describe_range()}, got {_show(value)}"]
        elif kind in ("str", "path"):
            if not isinstance(value, str):
                return [f"{n} must be a string, got {_show(value)}"]
            if self.required and not value:
                return [f"{n} must not be empty"]
            if "\x00" in value:
                return [f"{n} must not contain a NUL character"]
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return [f"{n} must be valid text (it holds a lone surrogate)"]
        elif kind == "list":
            if not isinstance(value, list):
                return [f"{n} must be a list, got {_show(value)}"]
            if self.items is not None:
                found = self.items.problems(value)
                if self.check is not None:
                    found += self.check(value)
                return [f"{n}: {p}" for p in found]
        elif kind == "nodes":
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                return [f"{n} must be a list of node ids, got {_show(value)}"]
        if kind in ("float", "int"):
            if self.choices and value not in self.choices:
                return [f"{n} must be {self.describe_range()}, got {_show(value)}"]
            if not self._in_range(float(value)):
                return [f"{n} must be {self.describe_range()}, got {_show(value)}"]
        if self.check is not None:
            return [f"{n}: {p}" for p in self.check(value)]
        return []

    def _in_range(self, v: float) -> bool:
        return ((self.min is None or v >= self.min) and (self.max is None or v <= self.max))

    def coerce(self, value: Any) -> Any:
        """The value as the node holds it (an Automation, a float, an int ...)."""
        if Automation.is_automation(value):
            return Automation.from_document(value)
        if self.kind == "float":
            return float(value)
        if self.kind == "int":
            return int(value)
        if self.kind in ("list", "nodes"):
            return list(value)
        return value


@dataclass(frozen=True)
class Items:
    """What each entry of a ``list`` parameter holds: an object of named fields.

    Each field is a :class:`Param` (default, kind, range, unit, choices, doc) and is
    checked by the same :meth:`Param.problems` as a node's parameters; a field an item
    leaves out takes its default.  ``noun`` names one item in messages and in the
    editor ("band 2 gain_db must be ...", "+ band"), ``field_noun`` its fields ("band 1
    has no setting 'x'"); ``max`` caps how many items the list may hold; ``summary``
    and ``change`` put an item and its changes in a user's words for the project
    diff (a region "moved from 12.000 s to 14.500 s").  A rule that
    involves several fields or the node's other parameters stays the node's
    (``Param.check`` or ``Node.check_params``)::

        Param("bands", [], kind="list", items=Items((
            Param("type", "bell", kind="choice", choices=("bell", "highpass")),
            Param("freq_hz", 1000.0, min=5.0, max=96000.0, unit="Hz"),
            Param("q", 0.7071, min=0.05, max=40.0, used_when=("type", ("bell",))),
        ), noun="band", max=32))
    """

    fields: tuple[Param, ...]
    noun: str = "item"
    field_noun: str = "field"
    max: int | None = None
    #: an item in words (for the project diff), instead of its fields as written
    summary: Callable[[dict], str] | None = None
    #: how an item changed in words (``None``: it did not), instead of field by field
    change: Callable[[dict, dict], str | None] | None = None
    #: how alike two items are (higher: more), for a diff to pair what changed where
    #: the items' places in the list mean nothing (None: they pair in order)
    alike: Callable[[dict, dict], float] | None = None

    def __post_init__(self):
        names = [f.name for f in self.fields]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"{self.noun} fields must be named once each, got {names}")
        table = self.table()
        for f in self.fields:
            if f.required or f.items is not None or f.kind == "nodes":
                raise ValueError(f"{self.noun} field {f.name}: a field has a default and "
                                 "holds one value")
            bad = f.problems(f.default)
            if bad:
                raise ValueError(f"{self.noun} field default: {bad[0]}")
            if f.used_when is not None:
                other, values = f.used_when
                if other not in table or other == f.name or any(
                        table[other].problems(v) for v in values):
                    raise ValueError(f"{self.noun} field {f.name}: used_when names "
                                     f"{other!r} and values {values!r}, which it cannot hold")

    def table(self) -> dict[str, Param]:
        return {f.name: f for f in self.fields}

    def values(self, item: dict) -> dict[str, Any]:
        """An item's fields, in declared order, with the defaults filled in."""
        return {f.name: item.get(f.name, f.default) for f in self.fields}

    def used(self, item: dict) -> tuple[Param, ...]:
        """The fields that matter for ``item`` (``used_when`` met, with defaults)."""
        values = self.values(item)
        return tuple(f for f in self.fields if f.applies(values))

    def new(self) -> dict[str, Any]:
        """A new item, as the editor adds it: every field it uses, at its default."""
        return {f.name: f.default for f in self.used({})}

    def describe(self) -> str:
        text = (f"{self.noun}s of {self.field_noun}s "
                + ", ".join(f.name for f in self.fields))
        return text + (f"; at most {self.max}" if self.max is not None else "")

    def problems(self, items: list) -> list[str]:
        """What is wrong with a list of items (sentences naming the item and field)."""
        if self.max is not None and len(items) > self.max:
            return [f"has {len(items)} {self.noun}s; at most {self.max} are allowed"]
        table = self.table()
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                out.append(f"{self.noun} {i} must be an object of {self.field_noun}s "
                           f"({', '.join(table)}), got {_show(item)}")
                continue
            for key, value in item.items():
                field = table.get(key)
                if field is None:
                    hint = (close_matches(key, table)
                            or f" ({self.field_noun}s: {', '.join(table)})")
                    out.append(f"{self.noun} {i} has no {self.field_noun} {key!r}{hint}")
                    continue
                out += [f"{self.noun} {i} {p}" for p in field.problems(value)]
        return out


@dataclass
class Context:
    """What the engine tells a node when it prepares it."""

    sample_rate: int
    max_block: int
    input_channels: tuple[int | None, ...] = ()
    base_dir: Path = field(default_factory=Path.cwd)
    node_id: str = ""
    notices: list[str] = field(default_factory=list)
    #: song samples up to the end of the last source (known to every node but sources)
    content_frames: int = 0
    #: per output port, whether anything reads it (empty: not known, assume so); a node
    #: may leave an output that nothing reads unwritten
    outputs_read: tuple[bool, ...] = ()
    #: the files nodes read at another rate than the project's: (file as written, its
    #: rate, the node that reads it); the engine names them all in one notice
    resampled: list[tuple[str, int, str]] = field(default_factory=list)

    def reads(self, i: int) -> bool:
        """Whether anything reads output port ``i``."""
        return not self.outputs_read or self.outputs_read[i]

    def notice(self, message: str) -> None:
        self.notices.append(message)

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return Path(os.path.normpath(p if p.is_absolute() else self.base_dir / p))


@runtime_checkable
class AnalysisTape(Protocol):
    """What :meth:`Node.analyse` is given: the node's whole input, rendered once by the
    engine before the render proper (in the final pass the node reads its input from
    the same tape, so what it heard while analysing is what it processes)."""

    #: render-clock samples on the tape (the song, its tails and the latency before it)
    frames: int
    #: samples per second
    rate: int
    #: song time = tape position - latency_in (the first samples are pre-roll)
    latency_in: int
    #: frames per block that :meth:`blocks` yields unless told otherwise
    block: int

    def blocks(self, block: int | None = None) -> Iterator[tuple[int, tuple]]:
        """``(start, ins)`` over the whole input, in order: ``start`` is the block's song
        time (negative in the pre-roll), ``ins`` one array per input port (``None``
        for an unlinked optional port), fresh copies the node may keep.  May be
        called as often as the node likes."""
        ...


_UNSET = object()                      # no value kept (None may be one)


class Node:
    """Base class of every node type.  Subclasses declare, then implement ``process``."""

    type_name: ClassVar[str] = ""
    version: ClassVar[int] = 1
    category: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    inputs: ClassVar[tuple[Port, ...]] = (Port("in"),)
    outputs: ClassVar[tuple[Port, ...]] = (Port("out"),)
    params: ClassVar[tuple[Param, ...]] = ()
    #: parameters an older version had, and what took their place (for messages)
    retired: ClassVar[dict[str, str]] = {}
    #: the compiled kernels the node runs (``"module.name"`` in
    #: :mod:`mixgraph.nodes.kernels`), compiled ahead of a render where numba's cache
    #: lacks them (:mod:`mixgraph.nodes.kernels.warmup`)
    kernels: ClassVar[tuple[str, ...]] = ()
    #: the engine renders this node's input once and calls ``analyse`` with it (an
    #: :class:`AnalysisTape`) before the render
    needs_analysis: ClassVar[bool] = False
    #: a mixing point: several strips feed it (a bus, a group); where a strip ends
    summing: ClassVar[bool] = False
    #: rough CPU time of a channel-sample relative to a compressor's (from
    #: ``bench/session.py --by-node``); the engine shares chains among workers by it
    cost: ClassVar[float] = 1.0

    def __init__(self, **values: Any):
        table = self.param_table()
        unknown = set(values) - set(table)
        if unknown:
            name = sorted(unknown)[0]
            raise ParameterError(f"{self.type_name} has no parameter {name!r} "
                                 f"(parameters: {', '.join(table) or 'none'})", param=name)
        resolved: dict[str, Any] = {}
        for name, p in table.items():
            raw = values.get(name, p.default)
            if name in values or p.required:
                problems = p.problems(raw)
                if problems:
                    raise ParameterError(f"{self.type_name}: {problems[0]}", param=name)
            resolved[name] = p.coerce(raw)
        self._values = resolved
        self.node_id = ""        # set by the engine (see ENGINE_ATTRIBUTES)
        self.rate = 0

    # ----------------------------------------------------------- declaration
    # a declaration does not change once its class is made: what is derived from it is
    # worked out once per class (validation asks for it per node of a large graph)
    @classmethod
    def declared(cls, key: str, make: Callable[[], Any]) -> Any:
        found = cls.__dict__.get("_derived_declaration")
        if found is None:
            found = {}
            setattr(cls, "_derived_declaration", found)
        if key not in found:
            found[key] = make()
        return found[key]

    @classmethod
    def param_table(cls) -> dict[str, Param]:
        """The parameters by name (a shared dict: do not change it)."""
        return cls.declared("table", lambda: {p.name: p for p in cls.params})

    @classmethod
    def shown_params(cls, values: dict, template: bool = False) -> list[Param]:
        """The parameters that matter for a node with these ``values`` (what an editor
        shows): not template-only ones outside a template, and not one whose
        ``used_when`` another parameter's value does not meet (the channel strip's
        surround panner while its output is stereo)."""
        full = {p.name: values.get(p.name, p.default) for p in cls.params}
        return [p for p in cls.params
                if (template or not p.template_only) and p.applies(full)]

    @classmethod
    def with_role(cls, role: str) -> tuple[str, ...]:
        """Names of the parameters declared with ``role`` (see :data:`ROLES`)."""
        return cls.declared("role " + role,
                             lambda: tuple(p.name for p in cls.params if p.role == role))

    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        return cls.declared("inputs", lambda: tuple(p.name for p in cls.inputs))

    @classmethod
    def output_names(cls) -> tuple[str, ...]:
        return cls.declared("outputs", lambda: tuple(p.name for p in cls.outputs))

    @classmethod
    def default_input(cls) -> str | None:
        names = cls.input_names()
        return "in" if "in" in names else (names[0] if names else None)

    def main_input(self, ctx: Context) -> tuple[int | None, int | None]:
        """(index, channels) of the node's main input as prepared: (None, None) where
        it has none, (index, None) where nothing is linked to it."""
        main = self.default_input()
        if main is None:
            return None, None
        index = [p.name for p in self.inputs].index(main)
        return index, ctx.input_channels[index]

    @classmethod
    def default_output(cls) -> str | None:
        names = cls.output_names()
        return "out" if "out" in names else (names[0] if names else None)

    @classmethod
    def check_params(cls, values: dict[str, Any], sample_rate: int) -> list[str]:
        """Rules that involve several parameters or the sample rate (sentences)."""
        return []

    @classmethod
    def unknown_param(cls, name: str) -> str:
        """What to say of a parameter this type does not have: a retired one's
        successor, or the names it may have meant."""
        if name in cls.retired:
            return f" ({cls.retired[name]})"
        return close_matches(name, cls.param_table())

    @classmethod
    def file_problems(cls, values: dict[str, Any],
                      seconds: float) -> list[tuple[str, str]]:
        """Rules that involve the file the node reads, ``seconds`` long: (parameter,
        sentence) for each broken one."""
        return []

    @classmethod
    def file_notices(cls, values: dict[str, Any], seconds: float) -> list[str]:
        """What a user should know about how the node will read its file, ``seconds``
        long, that is not wrong (sentences naming the parameter)."""
        return []

    @classmethod
    def migrate(cls, params: dict[str, Any], version: int) -> dict[str, Any]:
        """The parameters of a node saved by ``version`` of this type (older than
        :attr:`version`) as this version takes them.  Types that never changed keep
        them as they are."""
        return params

    # ------------------------------------------------------------ parameters
    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def is_automated(self, name: str) -> bool:
        return isinstance(self._values[name], Automation)

    def value(self, name: str, start: int, frames: int):
        """A parameter over one block: a float, or an array of ``frames`` values."""
        v = self._values[name]
        if isinstance(v, Automation):
            return v.render(start, frames, self.rate)
        return v

    def change(self, name: str, value: Any, at: int, ramp: int) -> Automation:
        """While playing: move number parameter ``name`` to ``value``, gliding from
        what it is at song sample ``at`` to ``value`` over ``ramp`` samples, as its
        automation would (no click); returns that glide.  ParameterError for a value
        out of range; ValueError where the parameter cannot glide (not automatable, or
        fixed when the node was prepared): the node must then be prepared again."""
        p = self.param_table().get(name)
        if p is None or not p.automatable:
            raise ValueError(f"{self.type_name}.{name} cannot change while playing")
        problems = p.problems(value)
        if problems:
            raise ParameterError(f"{self.type_name}: {problems[0]}", param=name)
        now = self.value(name, at, 1)
        now = float(now[0]) if isinstance(now, np.ndarray) else float(now)
        rate = self.rate or 1
        glide = Automation([(at / rate, now), ((at + ramp) / rate, value)])
        self._values[name] = glide
        self.__dict__.pop("_derived", None)
        self.changed(name)
        return glide

    def changed(self, name: str) -> None:
        """Parameter ``name`` became automated while playing (see :meth:`change`):
        refresh what :meth:`prepare` worked out from it, or raise ValueError where
        only preparing again would do."""

    def live_figures(self) -> dict | None:
        """While playing: what the node measures now, for a meter (a compressor's gain
        reduction in dB ...), or None."""
        return None

    def max_value(self, name: str) -> float:
        """The largest value a number parameter takes over the song (its automation's
        highest point, or its fixed value)."""
        v = self._values[name]
        return v.max if isinstance(v, Automation) else float(v)

    def min_value(self, name: str) -> float:
        """The smallest value a number parameter takes over the song."""
        v = self._values[name]
        return v.min if isinstance(v, Automation) else float(v)

    def value_array(self, name: str, start: int, frames: int) -> np.ndarray:
        """A parameter over one block, always as an array of ``frames`` values."""
        v = self.value(name, start, frames)
        return v if isinstance(v, np.ndarray) else np.full(frames, float(v))

    def gain(self, name: str, start: int, frames: int):
        """A ``_db`` parameter over one block as an amplitude ratio."""
        return self.derived(db_to_gain, (name,), start, frames)

    def derived(self, make, names: tuple[str, ...], start: int, frames: int):
        """``make(*values)`` of the parameters ``names`` over one block.

        A node's values are set once, when it is made, so while none of these is
        automated the result cannot change: it is worked out once and kept (the
        per-block cost of a node with fixed settings stays small).  ``make`` is a
        function or a method, never a lambda made per call: it is part of the key.
        """
        memo = self.__dict__.get("_derived")
        if memo is None:
            memo = self.__dict__["_derived"] = {}
        key = (make, names)
        kept = memo.get(key, _UNSET)
        if kept is not _UNSET:
            return kept
        raw = tuple(self._values[n] for n in names)
        if any(isinstance(v, Automation) for v in raw):
            return make(*(self.value(n, start, frames) for n in names))
        memo[key] = make(*raw)
        return memo[key]

    # -------------------------------------------------------------- lifecycle
    def prepare(self, ctx: Context) -> tuple[int, ...]:
        """Get ready to process; returns the channel count of each output port."""
        self.rate = ctx.sample_rate
        connected = [c for c in ctx.input_channels if c]
        return tuple(covering(connected) or 1 for _ in self.outputs)

    def process(self, ins: tuple, outs: tuple, start: int) -> None:
        raise NotImplementedError

    def gang_key(self) -> Any:
        """Nodes of one type whose keys are equal (and not None) may process the same
        stretch of render time together, through :meth:`process_gang`: the strips of
        several stems side by side in one compiled loop, their recursions in the lanes
        of a vector register.  None (the default): this node processes alone."""
        return None

    @classmethod
    def process_gang(cls, members: list[tuple[Node, tuple, tuple, int]]) -> None:
        """Each member's block, ``(node, ins, outs, start)`` as :meth:`process` takes
        them, processed together with exactly the result (and the state after) that
        processing each alone gives, bit for bit."""
        for node, ins, outs, start in members:
            node.process(ins, outs, start)

    def reset(self) -> None:
        """Clear tails, delay lines and envelopes; keep parameters."""

    def latency(self) -> int:
        """Samples by which the outputs lag the inputs (known after ``prepare``)."""
        return 0

    def tail(self) -> float:
        """Seconds of output that may follow the end of the input."""
        return 0.0

    def analyse(self, tape: AnalysisTape) -> None:
        """For nodes that declare ``needs_analysis``: called once, before the render,
        with the node's entire input (see :class:`AnalysisTape`)."""

    def report(self) -> dict | None:
        """What the node measured during the render, for the report (or ``None``)."""
        return None

    def length(self) -> int | None:
        """For sources: the song sample at which the source ends (``None``: no end)."""
        return None

    def close(self) -> None:
        """Release files and other resources."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({shown})"


class Sink(Node):
    """A node that writes its input somewhere (a file).  It has no output ports.

    Before the first block the engine calls ``begin(content_frames, end_frames,
    together)``: song samples before ``content_frames`` are always kept; after it,
    only up to the last sample above the tail threshold (in any sink of the
    ``together`` group, a :class:`mixgraph.nodes.stream.TailGroup`, where one is
    given); nothing at or after ``end_frames``.
    ``start`` may be negative during the engine's pre-roll (latency), and those
    samples are dropped.  ``finish()`` completes what was written, where nobody sees
    it yet, and returns the sink's report; once every sink of the render has
    finished, ``publish()`` makes each visible and returns a handle whose ``undo()``
    takes it back (another sink failed to publish: all of a render's outputs appear
    together or none does) and whose ``keep()`` settles it.  ``abort()`` removes
    anything not yet published.
    """

    outputs: ClassVar[tuple[Port, ...]] = ()

    def begin(self, content_frames: int, end_frames: int, together=None) -> None:
        raise NotImplementedError

    def finish(self) -> dict:
        raise NotImplementedError

    def publish(self):
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------ bypass
class Bypassed(Node):
    """A bypassed node: its main input passed to every output unchanged, with no
    latency and no tail (what plays is what would play without the node, the rest of
    the graph compensated for the latency it no longer has); a bypassed source is
    silent.  :func:`bypassed` makes one with the ports of the node it stands for."""

    params = ()

    def prepare(self, ctx: Context) -> tuple[int, ...]:
        self.rate = ctx.sample_rate
        self.main, width = self.main_input(ctx)
        return tuple(width or 1 for _ in self.outputs)

    def process(self, ins, outs, start):
        x = ins[self.main] if self.main is not None else None
        for out in outs:
            place_input(out, x)

    def length(self) -> int:
        return 0


def place_input(out: np.ndarray, x: np.ndarray | None) -> None:
    """A node's main input as one of its outputs (what a bypass plays): as it is, or
    placed in the output's layout (mono spread to both sides of stereo, stereo folded
    to a mono output: :func:`mixgraph.nodes.layouts.place`); silence with no input."""
    if x is None:
        out.fill(0.0)
    elif x.shape[0] == out.shape[0] or (x.shape[0] == 1 and out.shape[0] == 2):
        np.copyto(out, x)
    else:
        place(out, x)


def bypassed(cls: type[Node]) -> type[Node]:
    """The bypassed stand-in for a node type (its ports, its name)."""
    return cls.declared("bypassed", lambda: type(
        f"Bypassed{cls.__name__}", (Bypassed,),
        {"type_name": cls.type_name, "category": cls.category, "summary": cls.summary,
         "inputs": cls.inputs, "outputs": cls.outputs, "summing": cls.summing,
         "cost": 0.05, "__doc__": f"{cls.type_name}, bypassed"}))


# ------------------------------------------------------------------ registry
_REGISTRY: dict[str, type[Node]] = {}


def register(cls: type[Node]) -> type[Node]:
    """Class decorator adding a node type to the catalogue (checks its declaration)."""
    name = cls.type_name
    if not name or not name.replace("_", "").isalnum() or not name[0].isalpha():
        raise TypeError(f"{cls.__name__}: type_name must be an identifier, got {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise TypeError(f"node type {name!r} is already registered by "
                        f"{_REGISTRY[name].__name__}")
    seen: set[str] = set()
    names = {p.name for p in cls.params}
    for p in cls.params:
        if p.name in seen:
            raise TypeError(f"{name}: parameter {p.name!r} declared twice")
        seen.add(p.name)
        if p.used_when is not None and p.used_when[0] not in names:
            raise TypeError(f"{name}: parameter {p.name!r} is used when {p.used_when[0]!r} "
                            "is set, but the node has no such parameter")
        if p.name in ENGINE_ATTRIBUTES or hasattr(cls, p.name):
            raise TypeError(f"{name}: parameter {p.name!r} would be hidden by the node's "
                            "own attribute of that name")
        if not p.required:
            bad = p.problems(p.default)
            if bad:
                raise TypeError(f"{name}: default of {bad[0]}")
    ports = [p.name for p in cls.inputs] + [p.name for p in cls.outputs]
    if len(set(ports)) != len(ports) or any("." in p for p in ports):
        raise TypeError(f"{name}: port names must be unique and contain no '.'")
    _REGISTRY[name] = cls
    return cls


def unregister(type_name: str) -> None:
    """Remove a node type (for tests and plug-ins that replace one)."""
    _REGISTRY.pop(type_name, None)


def node_class(type_name: str) -> type[Node]:
    """The class registered under ``type_name``; GraphError names close matches."""
    try:
        return _REGISTRY[type_name]
    except (KeyError, TypeError):
        raise GraphError(f"unknown node type {type_name!r}{close_matches(type_name, _REGISTRY)}")


def find_class(type_name: str) -> type[Node] | None:
    """The class registered under ``type_name``, or None."""
    return _REGISTRY.get(type_name) if isinstance(type_name, str) else None


def node_types() -> dict[str, type[Node]]:
    """Every registered node type, by name, in registration order."""
    return dict(_REGISTRY)


def close_matches(word: Any, choices: Iterable[str]) -> str:
    """'' or ' (did you mean a, b?)' for a misspelt name."""
    import difflib

    if not isinstance(word, str):
        return ""
    found = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(found)}?)" if found else ""


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
