"""Analysis tapes: a node that needs its whole input before it renders (a loudness
normaliser) gets that input rendered once into temporary float64 files, its tape.

The node's ``analyse(tape)`` reads it with :meth:`Tape.blocks`, as often as it likes;
in the final pass the block loop reads the node's input back from the tape through a
:class:`TapeReader` (see :mod:`mixgraph.core.renderer`), so what feeds only that node
is not rendered again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mixgraph.errors import AudioFileError
from mixgraph.nodes.audiofile import write_error

from .schedule import Plan, Step


def _tape_error(path: Path, exc: Exception) -> AudioFileError:
    """A failed write of a tape, said as such (a full temporary folder, mostly)."""
    return AudioFileError(f"{write_error(path, exc).message} (a temporary file of an "
                          "analysis pass: the TMPDIR environment variable chooses the "
                          "folder they go to)", path=str(path))


class Tape:
    """A node's whole input, rendered once to temporary float64 files (one per port)."""

    def __init__(self, folder: Path, step: Step, plan: Plan):
        import soundfile as sf

        self.latency_in = step.latency_in
        self.frames = plan.end_frames
        self.block = 65536
        self.rate = plan.sample_rate
        self.paths: list[Path | None] = []
        self._writers = []
        for i, port in enumerate(step.inputs):
            if port.channels is None:
                self.paths.append(None)
                self._writers.append(None)
                continue
            path = folder / f"{step.node_id}.{port.name}.{i}.wav"
            self.paths.append(path)
            try:
                self._writers.append(sf.SoundFile(str(path), "w", plan.sample_rate,
                                                  port.channels, subtype="DOUBLE",
                                                  format="RF64"))
            except Exception as exc:
                self.close()
                raise _tape_error(path, exc) from None

    def write(self, ins: tuple) -> None:
        for path, writer, x in zip(self.paths, self._writers, ins):
            if writer is not None:
                try:
                    writer.write(np.ascontiguousarray(x.T))
                except Exception as exc:
                    raise _tape_error(path, exc) from None

    def close(self) -> None:
        for path, writer in zip(self.paths, self._writers):
            if writer is not None:
                try:
                    writer.close()
                except Exception as exc:
                    raise _tape_error(path, exc) from None

    def reader(self) -> TapeReader:
        """A new reader from the tape's start."""
        return TapeReader(self.paths)

    def blocks(self, block: int | None = None):
        """(start, ins) for the whole input: start is the block's song time."""
        block = block or self.block
        reader = self.reader()
        try:
            clock = 0
            while clock < self.frames:
                n = min(block, self.frames - clock)
                yield clock - self.latency_in, tuple(
                    None if x is None else x.copy() for x in reader.read(n))
                clock += n
        finally:
            reader.close()


class TapeReader:
    """Reads a tape's ports back a stretch at a time, in order (past the end: zeros)."""

    def __init__(self, paths):
        import soundfile as sf

        self._files = [None if p is None else sf.SoundFile(str(p)) for p in paths]

    def skip(self, n: int) -> None:
        """Start reading at render-clock sample ``n``."""
        for f in self._files:
            if f is not None:
                f.seek(min(n, f.frames))

    def read(self, n: int) -> tuple:
        """The next ``n`` frames of each port, as (channels, n) arrays (None for a port
        with nothing linked)."""
        out = []
        for f in self._files:
            if f is None:
                out.append(None)
            else:
                data = f.read(n, dtype="float64", always_2d=True, fill_value=0.0)
                out.append(np.ascontiguousarray(data.T))
        return tuple(out)

    def close(self) -> None:
        for f in self._files:
            if f is not None:
                f.close()
