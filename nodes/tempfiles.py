"""The hidden and temporary files a render makes, named after the machine and the
process that made them, so that the next render can tell what a killed one left
behind (a SIGKILL runs no clean-up) and remove it:

- beside each output (and each saved project or manifest),
  ``.NAME.HOST.PID.XXXXXXXX.partial`` while it is written and
  ``.NAME.HOST.PID.XXXXXXXX.previous`` (the file it replaces, until the render is over);
- in the temporary folder, ``mixgraph-HOST-PID-XXXXXXXX/`` for analysis tapes and
  album renders.

A leftover is removed only where it was made on this machine (a folder shared with
other machines holds their renders too) by a process that is no longer running; a
process id that has come round again to an unrelated process only delays the
clean-up.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path

SUFFIXES = (".partial", ".previous")
FOLDER_PREFIX = "mixgraph-"
HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def hidden_beside(target: Path, suffix: str) -> Path:
    """A new hidden name beside ``target`` for this process (not created)."""
    return target.parent / (f".{target.name}.{HOST}.{os.getpid()}."
                            f"{secrets.token_hex(4)}{suffix}")


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


def _stale(host: str, pid: str) -> bool:
    return host == HOST and not process_alive(int(pid))


def remove_stale_beside(target: Path) -> list[Path]:
    """Remove the hidden files a killed render on this machine left beside ``target``;
    returns them."""
    pattern = re.compile(r"\." + re.escape(target.name)
                         + r"\.([A-Za-z0-9]+)\.(\d+)\.[0-9a-f]{8}\.(?:partial|previous)")
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        found = pattern.fullmatch(name)
        if found and _stale(*found.groups()):
            try:
                (target.parent / name).unlink()
                removed.append(target.parent / name)
            except OSError:
                pass
    return removed


FOLDER = re.compile(re.escape(FOLDER_PREFIX) + r"([A-Za-z0-9]+)-(\d+)-[A-Za-z0-9_]+")


@contextmanager
def temp_folder():
    """A private temporary folder for this render (removed after it), and before that
    the folders of killed renders on this machine swept away."""
    base = Path(tempfile.gettempdir())
    try:
        names = os.listdir(base)
    except OSError:
        names = []
    for name in names:
        found = FOLDER.fullmatch(name)
        if found and _stale(*found.groups()):
            shutil.rmtree(base / name, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{HOST}-{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
