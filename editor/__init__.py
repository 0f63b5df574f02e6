"""The Dear PyGui node editor: a view and a command layer over ``graph.Graph``.

No DSP and no file-format code live here; the editor reads the node catalogue and
parameter tables from :mod:`nodes` and edits the one model in :mod:`graph`.
"""
