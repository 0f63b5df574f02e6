"""Workflows built on the engine core: templates and binding a song's files to them
(:mod:`.names` reads file names, :mod:`.binding` gives each file its fate), project
versions and their diff, stem exports, album mastering, batches of songs (locally or
on a cluster) and the demo.  They use :mod:`mixgraph.core` and the node catalogue; the
core never imports them."""
