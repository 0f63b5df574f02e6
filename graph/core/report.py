"""The render report: what was written, how loud, how long it took, what to know.

Per output the report holds the keys of the command line's ``--json`` output
(``path``, ``duration_s``, ``sample_peak_dbfs`` ...); levels of digital silence are
``-inf`` in Python and ``null`` in JSON.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixgraph.nodes.layouts import layout_name


@dataclass
class Report:
    outputs: list[dict[str, Any]]
    #: what nodes measured, by node id: (type name, {figure: value})
    nodes: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    render_s: float = 0.0
    song_s: float = 0.0
    block_size: int = 0
    sample_rate: int = 0

    @property
    def realtime_factor(self) -> float:
        return self.song_s / self.render_s if self.render_s > 0 else math.inf

    def output(self, node_id: str) -> dict[str, Any]:
        for out in self.outputs:
            if out["node"] == node_id:
                return out
        raise KeyError(node_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": [{k: json_number(v) for k, v in o.items()} for o in self.outputs],
            "nodes": {nid: dict({k: json_number(v) for k, v in figures.items()}, type=kind)
                      for nid, (kind, figures) in self.nodes.items()},
            "notices": list(self.notices),
            "warnings": list(self.warnings),
            "render": {"seconds": round(self.render_s, 4),
                       "realtime_factor": json_number(round(self.realtime_factor, 2)),
                       "song_s": self.song_s, "block_size": self.block_size,
                       "sample_rate": self.sample_rate},
        }

    def format(self) -> str:
        """The report as text for a terminal."""
        n = len(self.outputs)
        lines = [f"rendered {n} output{'s' if n != 1 else ''}: {self.song_s:.2f} s of song in "
                 f"{self.render_s:.2f} s ({self.realtime_factor:.0f}x realtime, block "
                 f"{self.block_size})"]
        width = max((len(_short(o["path"])) for o in self.outputs), default=0)
        for o in self.outputs:
            chans = layout_name(o["channels"])
            line = (f"  {_short(o['path']):<{width}}  {o['duration_s']:8.3f} s  {chans:<6}  "
                    f"{o['sample_rate'] / 1000:g} kHz  {o['subtype']:<6}")
            if "integrated_lufs" in o:
                line += (f"  {_db(o['integrated_lufs'])} LUFS  LRA {o['lra_lu']:4.1f} LU  "
                         f"TP {_db(o['true_peak_dbtp'])} dBTP")
            line += f"  peak {_db(o['sample_peak_dbfs'])} dBFS"
            if o.get("correlation") is not None:
                line += f"  corr {o['correlation']:+.2f}"
            if o.get("clipped_samples"):
                line += f"  CLIPPED {o['clipped_samples']:,} samples"
            lines.append(line)
            if o.get("channel_peaks"):
                lines.append("    true peak per channel: " + "  ".join(
                    f"{speaker} {_db(p['true_peak_dbtp']).strip()}"
                    for speaker, p in o["channel_peaks"].items()) + " dBTP")
        for nid, (kind, figures) in self.nodes.items():
            shown = ", ".join(_figure(k, v) for k, v in figures.items())
            lines.append(f"  {kind} '{nid}': {shown}")
        lines += [f"notice: {m}" for m in self.notices]
        lines += [f"warning: {m}" for m in self.warnings]
        return "\n".join(lines)


UNITS = {"_db": "dB", "_dbfs": "dBFS", "_dbtp": "dBTP", "_lufs": "LUFS", "_lu": "LU",
         "_ms": "ms", "_s": "s", "_hz": "Hz"}


def _figure(key: str, value: Any) -> str:
    """'gain_reduction_max_db', 13.5 -> 'gain reduction max 13.5 dB'."""
    for suffix, unit in UNITS.items():
        if key.endswith(suffix):
            return f"{key[:-len(suffix)].replace('_', ' ')} {_value(value)} {unit}"
    return f"{key.replace('_', ' ')} {_value(value)}"


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _db(x: float) -> str:
    return f"{x:6.1f}" if math.isfinite(x) else "  -inf"


def _short(path: str) -> str:
    """``path`` as the report shows it: relative to the current folder where it lies
    below it, else whole.  From the root of a file system every path lies below, and
    relative it would only lose its leading slash; a current folder that has been
    removed gives no relative path at all."""
    try:
        here = os.getcwd()
    except OSError:
        return str(Path(path))
    full = os.path.normpath(os.path.join(here, path))
    if os.path.dirname(here) == here:                  # the root ('/', 'C:\\')
        return full
    try:
        rel = os.path.relpath(full, here)
    except ValueError:                                 # another drive
        return full
    return full if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel


def json_number(v: Any) -> Any:
    """A figure as JSON has it: NaN and infinities (nothing measured) become null;
    in a dict of figures (a surround output's ``channel_peaks``), each of them."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: json_number(x) for k, x in v.items()}
    return v
