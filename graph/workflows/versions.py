"""Named, dated versions of a project, kept next to it.

``song.mgraph`` keeps its versions in ``song.versions/``, one file per version named
``2026-11-21T14-05-33_more-vocal.mgraph`` (date, time, and the name's slug if a name
was given; a second version in the same second gets ``.2`` after the time).  The name
as typed is kept inside the file.  A
version is a full copy of the project with its relative paths rewritten for the
versions folder, so it can be opened, rendered or restored on its own.  Restoring
first saves the current state as a version named ``before-restore``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mixgraph.errors import ProjectFileError

from mixgraph.core.fileformat import load, save

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
    stamp = when.strftime(STAMP)
    slug = f"_{_slug(name)}" if _slug(name) else ""
    folder = versions_dir(project)
    folder.mkdir(exist_ok=True)
    taken = {v.id.split("_")[0] for v in list_versions(project)}
    vid, n = stamp, 2
    while vid in taken:
        vid, n = f"{stamp}.{n}", n + 1
    vid += slug
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
            m = re.match(r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)(?:\.(\d+))?(?:_(.*))?$",
                         path.stem)
            if not m or path.suffix.lower() not in (".mgraph", ".json"):
                continue
            created = datetime.strptime(m.group(1), STAMP)
            name = (m.group(3) or "").replace("-", " ")
            try:
                name = str(load(path).meta.get("version_name", name))
            except Exception:
                pass                                  # an unreadable version keeps its slug
            out.append((created, int(m.group(2) or 1), Version(path.stem, path, created, name)))
    return [v for _, _, v in sorted(out, key=lambda x: (x[0], x[1]))]


def find_version(project: Path, ident: str) -> Version:
    """A version by its number in the list (1 = oldest), its id, or a unique id prefix."""
    versions = list_versions(project)
    if ident.isdigit() and 1 <= int(ident) <= len(versions):
        return versions[int(ident) - 1]
    exact = [v for v in versions if v.id == ident]
    if exact:
        return exact[0]
    wanted = ident.strip().lower()
    found = [v for v in versions if v.id.startswith(ident) or v.name.lower() == wanted
             or _slug(v.name) == _slug(ident) and _slug(ident)]
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
