"""Project files: bytes to a plain document and back.

The native format is msgpack (``.mgraph``, templates ``.mgtemplate``); the same
document is read and written as JSON (``.json``) for hand-editing and diffs.  A
file is plain data: decoding runs no code, and sizes and nesting depth are bounded
so that a corrupt or hostile file gives one clear error.  The header names the
format and its version; older versions are migrated step by step, newer ones are
refused.  Files are saved atomically (temporary file, fsync, rename), so a save
that fails leaves the old file as it was.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mixgraph.nodes.audiofile import file_mode
from mixgraph.nodes.tempfiles import hidden_beside, remove_stale_beside
from mixgraph.errors import ProjectFileError

from .model import FORMAT_NAME, FORMAT_VERSION

if TYPE_CHECKING:
    from .model import Graph

MAX_FILE_BYTES = 64 * 1024 * 1024
#: values a file may hold, where a list or an object counts once as a value and once
#: more for itself: what bounds the memory a load takes, since a one-byte value can
#: cost 60 bytes decoded (a 100,000-node project counts about 3.2 million); the
#: worst file within the limits takes under 300 MB to load (tests/test_fileformat.py)
MAX_VALUES = 4_000_000
#: entries of one list or object: msgpack counts a container once it is whole, so
#: this bounds what one container can hold before it is counted
MAX_CONTAINER = 1_000_000
MAX_DEPTH = 64
MSGPACK_SUFFIXES = (".mgraph", ".mgtemplate", ".msgpack")
JSON_SUFFIXES = (".json",)

def _migrate_0_to_1(doc: dict) -> dict:
    """Version 0 (the pre-release format) to version 1.

    Version 0 kept nodes in a map by id with their parameters beside the type
    (``"kick": {"type": "stem", "file": "kick.wav", "gain": -3}``), connections as
    ``{"from": "kick:out", "to": "ch:in"}``, ``samplerate`` and a ``layout`` map of
    positions.  ``file`` became ``path`` and ``gain`` became ``gain_db``.
    """
    renamed = {"file": "path", "gain": "gain_db", "level": "level_db"}
    nodes = []
    raw = doc.get("nodes", {})
    if not isinstance(raw, dict):
        raise ProjectFileError("the version 0 file's 'nodes' is not a map of nodes by id")
    for node_id, body in raw.items():
        if not isinstance(body, dict):
            raise ProjectFileError(f"the version 0 file's node {node_id!r} is not an object")
        params = {renamed.get(k, k): v for k, v in body.items() if k != "type"}
        node = {"id": node_id, "type": body.get("type")}
        if params:
            node["params"] = params
        nodes.append(node)
    links = []
    connections = doc.get("connections", [])
    if not isinstance(connections, list):
        raise ProjectFileError("the version 0 file's 'connections' is not a list")
    for c in connections:
        if not isinstance(c, dict):
            raise ProjectFileError("a version 0 connection is not an object")
        links.append([str(c.get("from", "")).replace(":", "."),
                      str(c.get("to", "")).replace(":", ".")])
    layout = doc.get("layout", {})
    if not isinstance(layout, dict):
        raise ProjectFileError("the version 0 file's 'layout' is not a map of positions")
    ui = {k: {"pos": list(v)} for k, v in layout.items() if isinstance(v, (list, tuple))}
    out = {"format": FORMAT_NAME, "version": 1, "sample_rate": doc.get("samplerate", 48000),
           "nodes": nodes, "links": links}
    if ui:
        out["ui"] = ui
    return out


#: ``MIGRATIONS[n]`` turns a version-n document into a version n+1 document
MIGRATIONS: dict[int, Callable[[dict], dict]] = {0: _migrate_0_to_1}


def encoding_for(path: str | os.PathLike) -> str:
    """'json' or 'msgpack', from the file name (msgpack unless it ends in .json)."""
    return "json" if Path(path).suffix.lower() in JSON_SUFFIXES else "msgpack"


def decode(data: bytes, where: str = "the file", what: str = "mixgraph project") -> Any:
    """Plain data from JSON or msgpack bytes (which one is told by the first byte).

    At most :data:`MAX_FILE_BYTES` and :data:`MAX_VALUES`: the values are counted
    before JSON is decoded (an upper bound from its separators) and while msgpack is,
    so that no file makes a load take more than a few hundred MB."""
    if len(data) > MAX_FILE_BYTES:
        raise ProjectFileError(f"{where} is {len(data):,} bytes; project files are limited "
                               f"to {MAX_FILE_BYTES:,}")
    if data.startswith(b"\xef\xbb\xbf"):                 # a UTF-8 byte-order mark
        data = data[3:]
    if not data.strip():
        raise ProjectFileError(f"{where} is empty")
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        # every value but the first follows a comma or a colon or opens a list or an
        # object, and a list or an object counts once more (an upper bound: commas and
        # colons inside strings count too)
        if data.count(b",") + data.count(b":") \
                + 2 * (data.count(b"[") + data.count(b"{")) + 1 > MAX_VALUES:
            raise _too_many(where)
        try:
            doc = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except RecursionError:
            raise ProjectFileError(f"{where} is nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProjectFileError(f"{where} is not a {what}: it is not valid JSON "
                                   f"({_first_line(exc)})") from None
    else:
        import msgpack

        counted = _Counter()
        try:
            doc = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False,
                                  ext_hook=_reject_ext, list_hook=counted.items,
                                  object_pairs_hook=counted.pairs,
                                  max_array_len=MAX_CONTAINER, max_map_len=MAX_CONTAINER)
        except _TooMany:
            raise _too_many(where) from None
        except _ExtType:
            raise ProjectFileError(f"{where} holds a msgpack extension type; project files "
                                   "hold only plain data") from None
        except Exception as exc:
            if type(exc).__name__ == "StackError":
                raise ProjectFileError(f"{where} is nested too deeply") from None
            if "exceeds max_" in str(exc):                # msgpack's own length limits
                raise _too_many(where) from None
            raise ProjectFileError(f"{where} is not a {what}: it is neither msgpack "
                                   f"nor JSON ({_first_line(exc)})") from None
    _check_plain(doc, where)
    return doc


def encode(doc: dict, encoding: str) -> bytes:
    _check_plain(doc, "the document")
    if encoding == "json":
        return (_pretty_json(doc) + "\n").encode()
    import msgpack

    return msgpack.packb(doc, use_bin_type=True)


def read_document(path: str | os.PathLike) -> dict:
    """The current-version document stored in ``path`` (migrated if older)."""
    return upgrade(read_plain(path, "project file"), str(path))


def read_plain(path: str | os.PathLike, what: str = "project file") -> Any:
    """The plain data (JSON or msgpack) of the file at ``path``, read within the
    bounds of :func:`decode`; ``what`` names the file in errors ("variants file")."""
    noun = "mixgraph project" if what == "project file" else what
    return decode(read_bounded(path, what), str(path), noun)


def read_bounded(path: str | os.PathLike, what: str = "file",
                 limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    A FIFO, a device or a socket is refused before a byte is read (reading one could
    wait forever or never end), and the size is checked as read, not only as the
    file system reports it."""
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ProjectFileError(f"{what} not found: {where}", path=where) from None
    except OSError as exc:
        raise ProjectFileError(f"cannot read {what} {where} ({exc.strerror or exc})",
                               path=where) from None
    try:
        found = os.fstat(fd)
        mode = found.st_mode
        if stat.S_ISDIR(mode):
            raise ProjectFileError(f"{where} is a folder, not a {what}", path=where)
        if not stat.S_ISREG(mode):
            raise ProjectFileError(f"{where} is not a regular file ({_file_kind(mode)}), "
                                   f"so it cannot be a {what}", path=where)
        if found.st_size > limit:
            raise _too_large(where, found.st_size, what, limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise _too_large(where, None, what, limit)
        return b"".join(chunks)
    except OSError as exc:
        raise ProjectFileError(f"cannot read {what} {where} ({exc.strerror or exc})",
                               path=where) from None
    finally:
        os.close(fd)


def _too_large(where: str, size: int | None, what: str, limit: int) -> ProjectFileError:
    """``size`` None: more than the limit was read (the file system said less)."""
    held = f"more than {limit:,}" if size is None else f"{size:,}"
    return ProjectFileError(f"{where} is {held} bytes; a {what} is limited to {limit:,}",
                            path=where)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


def upgrade(doc: Any, where: str = "the project") -> dict:
    """Check a document's header and migrate it to the current version."""
    if not isinstance(doc, dict):
        raise ProjectFileError(f"{where} is not a mixgraph project (its top level is not "
                               "an object)")
    if doc.get("format") != FORMAT_NAME:
        raise ProjectFileError(f"{where} is not a mixgraph project (its 'format' is "
                               f"{doc.get('format')!r}, expected {FORMAT_NAME!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ProjectFileError(f"{where} has no valid 'version' (got {version!r})")
    if version > FORMAT_VERSION:
        raise ProjectFileError(f"{where} was written by a newer mixgraph (file format "
                               f"version {version}); this mixgraph reads versions up to "
                               f"{FORMAT_VERSION}; please upgrade mixgraph")
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectFileError(f"{where} uses file format version {version}, which this "
                                   f"mixgraph cannot migrate to version {FORMAT_VERSION}")
        doc = step(doc)
        version = doc["version"]
    return doc


def write_document(doc: dict, path: str | os.PathLike) -> None:
    """Save ``doc`` to ``path`` atomically (JSON for .json, else msgpack)."""
    path = Path(path)
    data = encode(doc, encoding_for(path))
    write_atomic(path, data)


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to ``path`` via a hidden file beside it (see
    :mod:`mixgraph.nodes.tempfiles`), fsync and rename."""
    path = Path(os.path.normpath(path))
    tmp = hidden_beside(path, ".partial")
    try:
        remove_stale_beside(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except BaseException as exc:
        if not isinstance(exc, OSError):    # a stop just as the file was made: it goes
            Path(tmp).unlink(missing_ok=True)
            raise
        raise ProjectFileError(f"cannot save {path} ({exc.strerror or exc})",
                               path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:        # a stop (SIGTERM, Ctrl+C) mid-write too
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(exc, OSError):
            raise
        raise ProjectFileError(f"cannot save {path} ({exc.strerror or exc}); the old file, "
                               "if any, is unchanged", path=str(path)) from None


def _pretty_json(value: Any, indent: int = 0, width: int = 88) -> str:
    """Indented JSON that keeps short lists and objects on one line (links, points)."""
    flat = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if not isinstance(value, (dict, list)) or not value:
        return flat
    if indent and len(flat) + indent <= width:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty_json(v, indent + 2)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _pretty_json(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _check_plain(doc: Any, where: str) -> None:
    """Only dicts with string keys, lists, strings, numbers, bools and None; bounded depth.

    Values are counted as :data:`MAX_VALUES` counts them, so that nothing is saved
    that could not be loaded.  Only containers go on the stack (a tuple per value
    would cost more memory than the document itself)."""
    stack = [(doc, 0)]
    count = 1
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectFileError(f"{where} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for k in value:
                if not isinstance(k, str):
                    raise ProjectFileError(f"{where} has a non-string key {k!r}"[:200])
            children = value.values()
            count += 2 * len(value) + 1
        elif isinstance(value, list):
            children = value
            count += len(value) + 1
        else:
            _check_scalar(value, where)
            continue
        if count > MAX_VALUES:
            raise _too_many(where)
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            else:
                _check_scalar(child, where)


def _check_scalar(value: Any, where: str) -> None:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProjectFileError(f"{where} holds a non-finite number ({value})")
    elif not (value is None or isinstance(value, (str, int, bool))):
        raise ProjectFileError(f"{where} holds a {type(value).__name__} value; project "
                               "files hold only plain data")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


class _ExtType(Exception):
    """Raised from inside msgpack when a file holds an extension type."""


class _TooMany(Exception):
    """Raised from inside msgpack once a file holds more than MAX_VALUES values."""


class _Counter:
    """msgpack's hooks for lists and maps: counts the values decoded so far as
    :data:`MAX_VALUES` does (a container's elements, keys and values of a map, as it
    is made, and the container once more)."""

    def __init__(self):
        self.count = 1

    def _add(self, n: int) -> None:
        self.count += n + 1
        if self.count > MAX_VALUES:
            raise _TooMany()

    def items(self, values: list) -> list:
        self._add(len(values))
        return values

    def pairs(self, pairs: list) -> dict:
        self._add(2 * len(pairs))
        return dict(pairs)


def _too_many(where: str) -> ProjectFileError:
    return ProjectFileError(f"{where} holds more than {MAX_VALUES:,} values, the limit of a "
                            "project file")


def _reject_ext(code: int, data: bytes):
    raise _ExtType(code)


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def load(path: str | os.PathLike) -> "Graph":
    """Read a project (``.mgraph`` or ``.json``); relative paths resolve against its folder."""
    from .model import Graph

    path = Path(path)
    doc = read_document(path)
    graph = Graph.from_document(doc, base_dir=path.resolve().parent, where=str(path))
    graph.path = path.resolve()
    return graph


def save(graph: "Graph", path: str | os.PathLike) -> None:
    """Write ``graph`` to ``path`` atomically (JSON for ``.json``, else msgpack).

    Saving into another folder rewrites the relative paths of the files the project
    reads so that they still name the same files; outputs stay relative, so the project
    renders next to its new file.  The graph then belongs to ``path``.
    """
    path = Path(path)
    folder = path.resolve().parent
    moved = graph.copy()
    moved.rebase(folder)
    write_document(moved.to_document(), path)
    graph.rebase(folder)
    graph.path = path.resolve()
