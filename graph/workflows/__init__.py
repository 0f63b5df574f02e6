"""Workflows built on the engine core: templates and binding stems to them, project
versions and their diff, stem exports, album mastering, batches of songs (locally or
on a cluster) and the demo.  They use :mod:`mixgraph.core` and the node catalogue; the
core never imports them."""
