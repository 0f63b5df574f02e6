"""The Dear PyGui node editor: a view and a command layer over
:class:`mixgraph.Graph`.

No DSP and no file-format code live here; the editor reads the node catalogue and
parameter tables from :mod:`mixgraph.nodes` and edits the one model of
:mod:`mixgraph.core.model`.  ``layout.py`` (where nodes go) needs no display.
"""
