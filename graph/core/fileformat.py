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
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mixgraph.nodes.audiofile import file_mode
from mixgraph.errors import ProjectFileError

from .model import FORMAT_NAME, FORMAT_VERSION

if TYPE_CHECKING:
    from .model import Graph

MAX_FILE_BYTES = 64 * 1024 * 1024
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


def decode(data: bytes, where: str = "the file") -> Any:
    """Plain data from JSON or msgpack bytes (which one is told by the first byte)."""
    if len(data) > MAX_FILE_BYTES:
        raise ProjectFileError(f"{where} is {len(data):,} bytes; project files are limited "
                               f"to {MAX_FILE_BYTES:,}")
    if data.startswith(b"\xef\xbb\xbf"):                 # a UTF-8 byte-order mark
        data = data[3:]
    if not data.strip():
        raise ProjectFileError(f"{where} is empty")
    head = data.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            doc = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except RecursionError:
            raise ProjectFileError(f"{where} is nested too deeply") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProjectFileError(f"{where} is not a mixgraph project: it is not valid JSON "
                                   f"({_first_line(exc)})") from None
    else:
        import msgpack

        try:
            doc = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False,
                                  ext_hook=_reject_ext)
        except _ExtType:
            raise ProjectFileError(f"{where} holds a msgpack extension type; project files "
                                   "hold only plain data") from None
        except Exception as exc:
            if type(exc).__name__ == "StackError":
                raise ProjectFileError(f"{where} is nested too deeply") from None
            raise ProjectFileError(f"{where} is not a mixgraph project: it is neither msgpack "
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
    path = Path(path)
    where = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectFileError(f"{where} is {size:,} bytes; project files are limited "
                                   f"to {MAX_FILE_BYTES:,}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectFileError(f"project file not found: {where}", path=where) from None
    except IsADirectoryError:
        raise ProjectFileError(f"{where} is a folder, not a project file", path=where) from None
    except OSError as exc:
        raise ProjectFileError(f"cannot read {where} ({exc.strerror or exc})",
                               path=where) from None
    return upgrade(decode(data, where), where)


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
    """Write bytes to ``path`` via a temporary file, fsync and rename."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(folder))
    except OSError as exc:
        raise ProjectFileError(f"cannot save {path} ({exc.strerror or exc})",
                               path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
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
    """Only dicts with string keys, lists, strings, numbers, bools and None; bounded depth."""
    stack = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ProjectFileError(f"{where} is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for k, v in value.items():
                if not isinstance(k, str):
                    raise ProjectFileError(f"{where} has a non-string key {k!r}"[:200])
                stack.append((v, depth + 1))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ProjectFileError(f"{where} holds a non-finite number ({value})")
        elif not (value is None or isinstance(value, (str, int, bool))):
            raise ProjectFileError(f"{where} holds a {type(value).__name__} value; project "
                                   "files hold only plain data")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


class _ExtType(Exception):
    """Raised from inside msgpack when a file holds an extension type."""


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
