"""Autosave to a recovery file, offered at the next start if the editor did not close
cleanly.

Each project has one recovery file in the user data folder (named from the project's
path; ``untitled`` for a new project).  It is written while there are unsaved
changes and deleted when the project is saved or the editor closes cleanly, so one
that is still there at the next start means the changes were lost, and newer than
the project file means it holds work the project does not.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

from mixgraph.core.fileformat import read_document, write_document
from mixgraph.workflows.templates import user_dir


def recovery_dir() -> Path:
    return user_dir().parent / "recovery"


def recovery_path(project: Path | None) -> Path:
    if project is None:
        key = "untitled"
    else:
        key = hashlib.sha1(str(Path(project).resolve()).encode()).hexdigest()[:16]
    return recovery_dir() / f"{key}.json"


def autosave(session) -> Path:
    """Write the session's current document to its recovery file."""
    target = recovery_path(session.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = session.graph.to_document()
    doc.setdefault("meta", {})["recovery_of"] = str(session.path) if session.path else ""
    doc["meta"]["recovered_at"] = datetime.now().isoformat(timespec="seconds")
    write_document(doc, target)
    return target


def pending(project: Path | None) -> Path | None:
    """The recovery file worth offering for ``project``, if there is one."""
    target = recovery_path(project)
    if not target.exists():
        return None
    if project is not None and Path(project).exists() \
            and Path(project).stat().st_mtime >= target.stat().st_mtime:
        return None
    return target


def recovered_document(path: Path) -> dict:
    doc = read_document(path)
    doc.get("meta", {}).pop("recovery_of", None)
    doc.get("meta", {}).pop("recovered_at", None)
    return doc


def clear(project: Path | None) -> None:
    try:
        os.remove(recovery_path(project))
    except FileNotFoundError:
        pass
