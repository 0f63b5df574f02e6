"""Compiled per-sample loops (numba), one module per family.

Everything that must run sample by sample (filter and envelope recursions, feedback
networks) lives here; everything else is vectorised over a block in the nodes.
Kernels are compiled with the options in :mod:`.jit`: ``cache=True`` (compiled once
per machine, then loaded) and ``nogil=True`` (so independent branches can run in
parallel threads).  Node
modules import these lazily, when a node is prepared, so that listing the catalogue
or validating a project never loads numba.
"""


def cached() -> bool:
    """Whether this machine has the kernels compiled and cached already (else the first
    render compiles them: about 10 s on two cores, once)."""
    import os

    try:
        from .dynamics import compress

        return os.path.exists(compress._cache._cache_file._index_path)
    except (AttributeError, ImportError, OSError):       # numba's internals moved
        return True
