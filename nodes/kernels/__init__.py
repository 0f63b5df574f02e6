"""Compiled per-sample loops (numba), one module per family.

Everything that must run sample by sample (filter and envelope recursions, feedback
networks) lives here; everything else is vectorised over a block in the nodes.
Kernels are declared with :func:`.jit.kernel`: one signature each (several only where
a file's sample formats differ), compiled with the options in :mod:`.jit`:
``cache=True`` (compiled once per machine, then loaded) and ``nogil=True`` (so
independent branches can run in parallel threads).  Node modules import these
lazily, when a node is prepared, so that listing the catalogue or validating a
project never loads numba; a kernel compiles when first called, or ahead of a
render, on every core, by :mod:`.warmup`.
"""


def cached() -> bool:
    """Whether this machine has the kernels compiled and cached already (else the first
    render compiles them: a few seconds, once)."""
    from .dynamics import compress_levels

    return compress_levels.cached() is not False          # None: the cache cannot be read
