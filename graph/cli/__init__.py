"""The ``mixgraph`` command line (:mod:`.commands`) and its progress bars
(:mod:`.progress`)."""

from .commands import main

__all__ = ["main"]
