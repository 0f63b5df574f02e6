"""mixgraph: a dataflow graph engine for mixing and mastering audio.

The public API::

    from graph import Graph, load, save, render
    g = load("song.mgraph")                       # or Graph(sample_rate=48000), g.add(...)
    report = render(g, block_size=1024, progress=callback)

Everything else lives in modules named for what they do: ``graph.model`` (the
graph), ``graph.fileformat`` (project files), ``graph.validation``,
``graph.schedule`` (the render plan), ``graph.renderer`` (the block loop),
``graph.batching`` (many songs through a template; ``graph.batch``) and
``graph.cli`` (the command line).  The names below are imported on first use, so
that the command line starts without loading numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Graph": "graph.model", "Link": "graph.model", "NodeSpec": "graph.model",
    "PortRef": "graph.model",
    "load": "graph.fileformat", "save": "graph.fileformat",
    "render": "graph.renderer", "preview": "graph.renderer", "batch": "graph.batching",
    "validate": "graph.validation", "Validation": "graph.validation",
    "Report": "graph.report",
    "MixgraphError": "nodes.errors", "GraphError": "nodes.errors",
    "ParameterError": "nodes.errors", "ProjectFileError": "nodes.errors",
    "AudioFileError": "nodes.errors", "RenderCancelled": "nodes.errors",
    "ValidationError": "nodes.errors",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'graph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from nodes.errors import (AudioFileError, GraphError, MixgraphError, ParameterError,
                              ProjectFileError, RenderCancelled, ValidationError)

    from .fileformat import load, save
    from .model import Graph, Link, NodeSpec, PortRef
    from .renderer import render
    from .report import Report
    from .validation import Validation, validate
