"""Named, dated versions of a project, kept next to it.

``song.mgraph`` keeps its versions in ``song.versions/``, one file per version named
``2026-11-21T14-05-33_more-vocal.mgraph`` (date, time, and a name if given).  A
version is a full copy of the project with its relative paths rewritten for the
versions folder, so it can be opened, rendered or restored on its own.  Restoring
first saves the current state as a version named ``before-restore``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nodes.errors import ProjectFileError

from .fileformat import load, save

STAMP = "%Y-%m-%dT%H-%M-%S"


@dataclass
class Version:
    id: str                       # the file name without its suffix
    path: Path
    created: datetime
    name: str


def versions_dir(project: Path) -> Path:
    project = Path(project)
    return project.parent / f"{project.stem}.versions"


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name.strip()).strip("-").lower()
    return slug[:60]


def save_version(project: Path, name: str = "", now: datetime | None = None) -> Version:
    """Keep a copy of ``project`` as it is on disk now."""
    project = Path(project)
    graph = load(project)
    when = now or datetime.now()
    base = when.strftime(STAMP) + (f"_{_slug(name)}" if _slug(name) else "")
    folder = versions_dir(project)
    folder.mkdir(exist_ok=True)
    vid, n = base, 2
    while (folder / f"{vid}{project.suffix}").exists():
        vid, n = f"{base}-{n}", n + 1
    target = folder / f"{vid}{project.suffix}"
    graph.meta["version_of"] = project.name
    if name:
        graph.meta["version_name"] = name
    save(graph, target)
    return Version(vid, target, when, name)


def list_versions(project: Path) -> list[Version]:
    """The project's versions, oldest first."""
    folder = versions_dir(Path(project))
    out = []
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            m = re.match(r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)(?:_([^.]*?))?(?:-\d+)?$", path.stem)
            if not m or path.suffix.lower() not in (".mgraph", ".json"):
                continue
            created = datetime.strptime(m.group(1), STAMP)
            out.append(Version(path.stem, path, created, (m.group(2) or "").replace("-", " ")))
    return sorted(out, key=lambda v: (v.created, v.id))


def find_version(project: Path, ident: str) -> Version:
    """A version by its number in the list (1 = oldest), its id, or a unique id prefix."""
    versions = list_versions(project)
    if ident.isdigit() and 1 <= int(ident) <= len(versions):
        return versions[int(ident) - 1]
    exact = [v for v in versions if v.id == ident]
    if exact:
        return exact[0]
    found = [v for v in versions if v.id.startswith(ident) or v.name == ident]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ProjectFileError(f"{project} has no version {ident!r} "
                               f"({len(versions)} versions; see 'mixgraph version list')")
    raise ProjectFileError(f"{ident!r} names {len(found)} versions of {project}: "
                           f"{', '.join(v.id for v in found)}")


def restore_version(project: Path, ident: str) -> tuple[Version, Version]:
    """Put a version back as the project; returns (restored, backup of what was there)."""
    project = Path(project)
    chosen = find_version(project, ident)
    backup = save_version(project, "before-restore")
    graph = load(chosen.path)
    graph.meta.pop("version_of", None)
    graph.meta.pop("version_name", None)
    save(graph, project)
    return chosen, backup
