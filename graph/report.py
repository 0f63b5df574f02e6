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


@dataclass
class Report:
    outputs: list[dict[str, Any]]
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
            "outputs": [{k: _json_number(v) for k, v in o.items()} for o in self.outputs],
            "notices": list(self.notices),
            "warnings": list(self.warnings),
            "render": {"seconds": round(self.render_s, 4),
                       "realtime_factor": _json_number(round(self.realtime_factor, 2)),
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
            chans = {1: "mono", 2: "stereo"}.get(o["channels"], f"{o['channels']} ch")
            line = (f"  {_short(o['path']):<{width}}  {o['duration_s']:8.3f} s  {chans:<6}  "
                    f"{o['sample_rate'] / 1000:g} kHz  {o['subtype']:<6}  "
                    f"peak {_db(o['sample_peak_dbfs'])} dBFS")
            if o.get("clipped_samples"):
                line += f"  CLIPPED {o['clipped_samples']:,} samples"
            lines.append(line)
        lines += [f"notice: {m}" for m in self.notices]
        lines += [f"warning: {m}" for m in self.warnings]
        return "\n".join(lines)


def _db(x: float) -> str:
    return f"{x:6.1f}" if math.isfinite(x) else "  -inf"


def _short(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("..") else str(Path(path))


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
