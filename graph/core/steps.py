"""Running the plan's steps: gathering a step's inputs from the buffers.

The step loop (one place that runs nodes for the block loop, the chains, the outputs
after a tail chain and a preview) lives here too.
"""

from __future__ import annotations

import numpy as np

from .schedule import InputPort


def gather(port: InputPort, bufs: list[np.ndarray], f: int, full: bool):
    """The signal at an input port for this block (a buffer, or the sum of the feeds)."""
    if port.direct is not None:
        b = bufs[port.direct]
        return b if full else b[:, :f]
    if port.stack is not None:           # chains' last outputs, summed a segment at a time
        summed = bufs[port.stack]
        return summed if full else summed[:, :f]
    if port.scratch is None:
        return None
    x = bufs[port.scratch]
    if not full:
        x = x[:, :f]
    held = None                          # the first feed, added to the second
    for i, feed in enumerate(port.feeds):
        s = bufs[feed.buffer]
        if not full:
            s = s[:, :f]
        if feed.delay is not None:
            s = feed.delay.process(s)
        if i == 0:
            held = s
        elif i == 1:
            np.add(held, s, out=x)       # a mono feed fills both channels of a stereo port
        else:
            np.add(x, s, out=x)
    if len(port.feeds) == 1:
        x[...] = held
    return x
