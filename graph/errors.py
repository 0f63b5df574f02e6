"""The error family shared by the engine and the nodes.

Every error a user can cause is a :class:`MixgraphError`; the command line prints
its message as one sentence and exits non-zero.  Errors carry the node, parameter,
port or path they concern as attributes, so the editor can mark the right node.
"""

from __future__ import annotations


class MixgraphError(Exception):
    """Base class of every error mixgraph raises for a user's input."""

    def __init__(self, message: str, *, node: str | None = None, param: str | None = None,
                 port: str | None = None, path: str | None = None):
        super().__init__(message)
        self.node = node
        self.param = param
        self.port = port
        self.path = path

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class GraphError(MixgraphError):
    """Cycles, unknown node types, unknown or dangling ports, bad links."""


class ParameterError(MixgraphError):
    """A parameter of the wrong type, out of range, or unknown."""


class ProjectFileError(MixgraphError):
    """A project file that cannot be read, is malformed or from a newer version."""


class AudioFileError(MixgraphError):
    """An audio file that is missing, unreadable or cannot be written."""


class RenderCancelled(MixgraphError):
    """A render stopped by its caller; nothing was written."""


class ValidationError(MixgraphError):
    """Every problem found in a graph at once; ``problems`` lists them."""

    def __init__(self, problems: list[MixgraphError], where: str | None = None):
        self.problems = list(problems)
        head = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        if where:
            head += f" in {where}"
        if len(self.problems) == 1:
            message = self.problems[0].message
        else:
            message = head + ":\n" + "\n".join(f"  - {p.message}" for p in self.problems)
        super().__init__(message)
