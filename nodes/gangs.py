"""What nodes that process in gangs share (see :meth:`mixgraph.nodes.base.Node.gang_key`):
their signal rows taken four at a time, one per lane of the kernels that run four
recursions at once (:mod:`mixgraph.nodes.kernels.lanes`).  Nothing here is compiled."""

from __future__ import annotations

from typing import Sequence, TypeVar

import numpy as np

#: lanes per vector (:data:`mixgraph.nodes.kernels.lanes.LANES`, which imports numba)
LANES = 4

T = TypeVar("T")


def in_fours(items: Sequence[T]) -> list[Sequence[T]]:
    """``items`` in groups of :data:`LANES` (the last may be shorter)."""
    return [items[i:i + LANES] for i in range(0, len(items), LANES)]


def padded(rows: Sequence[np.ndarray], spare: np.ndarray) -> list[np.ndarray]:
    """A group's rows, made up to :data:`LANES` with ``spare`` (a lane that runs but
    that nothing reads)."""
    return list(rows) + [spare] * (LANES - len(rows))
