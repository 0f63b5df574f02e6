"""The block renderer: runs a plan block by block, streaming from and to disk.

Memory stays flat as songs get longer: sources are read and outputs written one
block at a time, and the only buffers are the plan's ``(channels, block)`` ones.
Outputs are written to temporary files that are renamed into place when the whole
render has succeeded; on any error or cancellation they are removed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from nodes.errors import MixgraphError, ParameterError, RenderCancelled

from .model import Graph
from .report import Report
from .schedule import InputPort, Plan, make_plan
from .validation import check

MAX_BLOCK = 65536
Progress = Callable[[int, int], None]


def render(project: Graph | str | os.PathLike, *, block_size: int = 1024,
           progress: Progress | None = None,
           output_paths: dict[str, str | os.PathLike] | None = None,
           cancel: threading.Event | None = None) -> Report:
    """Validate and render a project; returns its :class:`Report`.

    ``project`` is a :class:`Graph` or a project file's path.  ``progress`` is
    called as ``progress(done, total)`` in samples of render time.
    ``output_paths`` writes output nodes elsewhere (``{node_id: path}``).  Setting
    ``cancel`` stops the render (:class:`RenderCancelled`), writing nothing.
    """
    from .fileformat import load

    graph = project if isinstance(project, Graph) else load(project)
    if isinstance(block_size, bool) or not isinstance(block_size, int) \
            or not 1 <= block_size <= MAX_BLOCK:
        raise ParameterError(f"block size must be a whole number between 1 and {MAX_BLOCK}, "
                             f"got {block_size!r}")
    paths = redirect_paths(graph, output_paths or {})
    validation = check(graph, output_paths=paths)
    started = time.perf_counter()
    plan = make_plan(graph, block_size, paths)
    try:
        if plan.content_frames <= 0:
            raise MixgraphError("nothing to render: every source in the project is empty")
        outputs = run(plan, progress=progress, cancel=cancel)
        measured = {step.node_id: (type(step.node).type_name, found)
                    for step in plan.steps if (found := step.node.report())}
    finally:
        plan.close()
    return Report(outputs=outputs, nodes=measured, notices=list(plan.notices),
                  warnings=list(validation.warnings),
                  render_s=time.perf_counter() - started,
                  song_s=plan.content_frames / plan.sample_rate,
                  block_size=block_size, sample_rate=plan.sample_rate)


def redirect_paths(graph: Graph, output_paths: dict) -> dict[str, str]:
    """Output redirections as absolute paths (relative ones are taken from the current
    folder, as a command line user means them), for output nodes only."""
    from nodes.base import Sink

    paths = {}
    for node_id, value in output_paths.items():
        spec = graph.nodes.get(node_id)
        cls = spec.node_class() if spec is not None else None
        if cls is None or not issubclass(cls, Sink):
            raise ParameterError(f"cannot redirect {node_id!r}: it is not an output node")
        text = str(value)
        if not text or "\x00" in text:
            raise ParameterError(f"output '{node_id}': {text!r} is not a usable path")
        paths[node_id] = str(Path(text).expanduser().absolute())
    return paths


def run(plan: Plan, *, progress: Progress | None = None,
        cancel: threading.Event | None = None) -> list[dict]:
    """Run every block of ``plan``; returns the outputs' reports."""
    sinks = plan.sinks
    begun = []
    try:
        for step in sinks:
            step.node.begin(plan.content_frames, plan.sink_ends[step.node_id])
            begun.append(step)
        bufs = plan.buffers
        block = plan.block_size
        total = plan.end_frames
        report_every = max(1, total // 200)
        next_report = 0
        n = 0
        while n < total:
            f = min(block, total - n)
            full = f == block
            for step in plan.steps:
                outs = tuple(bufs[b] if full else bufs[b][:, :f] for b in step.outputs)
                if step.silent:
                    for out in outs:
                        out.fill(0.0)
                    continue
                ins = tuple(_gather(port, bufs, f, full) for port in step.inputs)
                step.node.process(ins, outs, n - step.latency_in)
            n += f
            if cancel is not None and cancel.is_set():
                raise RenderCancelled("render cancelled; nothing was written")
            if progress is not None and (n >= next_report or n >= total):
                progress(n, total)
                next_report = n + report_every
        return [step.node.finish() for step in sinks]
    except BaseException:
        for step in reversed(begun):          # the last writer's folder may nest in the first's
            step.node.abort()
        raise


def _gather(port: InputPort, bufs: list[np.ndarray], f: int, full: bool):
    """The signal at an input port for this block (a buffer, or the sum of the feeds)."""
    if port.direct is not None:
        b = bufs[port.direct]
        return b if full else b[:, :f]
    if port.scratch is None:
        return None
    x = bufs[port.scratch]
    if not full:
        x = x[:, :f]
    first = True
    for feed in port.feeds:
        s = bufs[feed.buffer]
        if not full:
            s = s[:, :f]
        if feed.delay is not None:
            s = feed.delay.process(s)
        if first:
            x[...] = s                   # a mono feed fills both channels of a stereo port
            first = False
        else:
            np.add(x, s, out=x)
    return x
