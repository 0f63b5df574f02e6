"""mixgraph: a dataflow graph engine for mixing and mastering audio.

The public API::

    from mixgraph import Graph, load, save, render
    g = load("song.mgraph")                # or Graph(sample_rate=48000), g.add(...)
    report = render(g, block_size=1024, progress=callback)

The package, by layer (each imports only from the layers before it):

- :mod:`mixgraph.errors`: the error family (``MixgraphError`` and its kinds);
- :mod:`mixgraph.nodes`: the node catalogue, and :mod:`mixgraph.nodes.kernels`, the
  compiled per-sample loops;
- :mod:`mixgraph.core`: the engine (model, project files, validation, the render
  plan, the block loop and its runners, the report);
- :mod:`mixgraph.workflows`: what is built on the engine (templates, versions, diff,
  stems, albums, batches and clusters, the demo);
- :mod:`mixgraph.cli` and :mod:`mixgraph.editor`: the command line and the node
  editor.

The names below are imported on first use, so that the command line starts without
loading numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Graph": "mixgraph.core.model", "Link": "mixgraph.core.model",
    "NodeSpec": "mixgraph.core.model", "PortRef": "mixgraph.core.model",
    "load": "mixgraph.core.fileformat", "save": "mixgraph.core.fileformat",
    "render": "mixgraph.core.renderer", "preview": "mixgraph.core.listen",
    "validate": "mixgraph.core.validation", "Validation": "mixgraph.core.validation",
    "Report": "mixgraph.core.report",
    "batch": "mixgraph.workflows.batch",
    "MixgraphError": "mixgraph.errors", "GraphError": "mixgraph.errors",
    "ParameterError": "mixgraph.errors", "ProjectFileError": "mixgraph.errors",
    "AudioFileError": "mixgraph.errors", "RenderCancelled": "mixgraph.errors",
    "ValidationError": "mixgraph.errors",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mixgraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover  (the names, for type checkers and editors)
    from mixgraph.core.fileformat import load, save  # noqa: F401
    from mixgraph.core.model import Graph, Link, NodeSpec, PortRef  # noqa: F401
    from mixgraph.core.listen import preview  # noqa: F401
    from mixgraph.core.renderer import render  # noqa: F401
    from mixgraph.core.report import Report  # noqa: F401
    from mixgraph.core.validation import Validation, validate  # noqa: F401
    from mixgraph.errors import (AudioFileError, GraphError, MixgraphError, ParameterError,  # noqa: F401
                                 ProjectFileError, RenderCancelled, ValidationError)
    from mixgraph.workflows.batch import batch  # noqa: F401
