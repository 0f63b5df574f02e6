"""Mastering policy: where a render advises against a habit the trade avoids, the
thresholds and the sentences, in one place.  Validation applies the checks that need
only the graph (before a render); the renderer applies those that need what it
measured.  None of these stops a render: they are warnings in its report.
"""

from __future__ import annotations

import math

from .model import Graph
from .walk import Adjacency, reaching

#: what mastering engineers ask a mix to peak under where it enters the master chain
HEADROOM_DBFS = -6.0
#: phase correlation (over 3 s windows) below which parts of a mix cancel in mono
CORRELATION_WARNING = -0.5
#: node category whose first node is where the mix enters the master chain
MASTER_CATEGORY = "master"


def undithered_pcm16(graph: Graph, pred: Adjacency, sinks: set[str]) -> list[str]:
    """Outputs that write 16-bit PCM with no 16-bit dither anywhere before them
    (``pred``: each node's predecessors)."""
    out = []
    for spec in graph:
        if spec.id not in sinks or spec.params.get("subtype") != "PCM_16":
            continue
        if any(graph.nodes[a].type == "dither"
               and graph.nodes[a].params.get("bit_depth", 24) == 16
               for a in reaching(pred, {spec.id})):
            continue
        out.append(f"output '{spec.id}' writes PCM_16 with no 16-bit dither before it: "
                   "quiet passages will carry truncation distortion; add a dither node "
                   "(bit_depth 16) as the last stage")
    return out


def master_entries(categories: dict[str, str], pred: Adjacency) -> list[str]:
    """The nodes where the mix enters the master chain: of the master category, and
    fed by a node that is not (``pred``: each node's predecessors)."""
    return [n for n, c in categories.items() if c == MASTER_CATEGORY
            and any(categories[u] != MASTER_CATEGORY for u in pred[n])]


def headroom_warning(node_id: str, peak: float) -> str | None:
    """The warning for a mix peaking at ``peak`` (linear) where it enters the master
    chain at ``node_id``, or None where it leaves the headroom asked for."""
    if peak <= 10 ** (HEADROOM_DBFS / 20):
        return None
    return (f"the mix feeding the master chain at '{node_id}' peaks at "
            f"{20 * math.log10(peak):.1f} dBFS; engineers leave about 6 dB of headroom for "
            "mastering (peaks at or below -6 dBFS)")


def correlation_warnings(outputs: list[dict]) -> list[str]:
    """Outputs whose phase correlation falls so low that parts cancel in mono."""
    out = []
    for o in outputs:
        low = o.get("correlation_min")
        if low is not None and low < CORRELATION_WARNING:
            out.append(f"output '{o['node']}': phase correlation falls to {low:.2f} (3 s "
                       "windows); parts of the mix cancel in mono")
    return out
