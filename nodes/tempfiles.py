"""The hidden and temporary files a render makes, named after the process that made
them, so that the next render can tell what a killed one left behind (a SIGKILL runs
no clean-up) and remove it:

- beside each output, ``.NAME.PID.XXXXXXXX.partial`` while it is written and
  ``.NAME.PID.XXXXXXXX.previous`` (the file it replaces, until the render is over);
- in the temporary folder, ``mixgraph-PID-XXXXXXXX/`` for analysis tapes.

A leftover whose process is still running belongs to a render under way and is left
alone; a process id that has come round again to an unrelated process only delays
the clean-up.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

SUFFIXES = (".partial", ".previous")
FOLDER_PREFIX = "mixgraph-"


def hidden_beside(target: Path, suffix: str) -> Path:
    """A new hidden name beside ``target`` for this process (not created)."""
    return target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{suffix}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie, dead but not yet reaped by its
    parent, is not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:             # another user's process: alive
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):       # no /proc here: take kill's word
        return True


def _owner(name: str, head: str) -> int | None:
    """The process id in a leftover's name (``head`` then PID then a dot or dash)."""
    rest = name[len(head):]
    digits = rest.split(".", 1)[0].split("-", 1)[0]
    return int(digits) if digits.isdigit() else None


def remove_stale_beside(target: Path) -> list[Path]:
    """Remove the hidden files a killed render left beside ``target``; returns them."""
    removed = []
    head = f".{target.name}."
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(head)]
    except OSError:
        return removed
    for name in names:
        if not name.endswith(SUFFIXES):
            continue
        pid = _owner(name, head)
        if pid is None or process_alive(pid):
            continue
        path = target.parent / name
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


@contextmanager
def temp_folder():
    """A private temporary folder for this render (removed after it), and before that
    the folders of killed renders swept away."""
    base = Path(tempfile.gettempdir())
    try:
        names = [n for n in os.listdir(base) if n.startswith(FOLDER_PREFIX)]
    except OSError:
        names = []
    for name in names:
        pid = _owner(name, FOLDER_PREFIX)
        if pid is not None and not process_alive(pid):
            shutil.rmtree(base / name, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
