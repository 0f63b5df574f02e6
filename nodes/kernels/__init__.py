"""Compiled per-sample loops (numba), one module per family.

Everything that must run sample by sample (filter and envelope recursions, feedback
networks) lives here; everything else is vectorised over a block in the nodes.
Kernels are compiled with ``cache=True`` (compiled once per machine, then loaded)
and ``nogil=True`` (so independent branches can run in parallel threads).  Node
modules import these lazily, when a node is prepared, so that listing the catalogue
or validating a project never loads numba.
"""

JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
