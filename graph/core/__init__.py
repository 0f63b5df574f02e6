"""The engine core: the graph model, project files, validation, the render plan, the
block loop and the runners that share it out, analysis tapes and the render report.

The core imports nothing from :mod:`mixgraph.workflows`, :mod:`mixgraph.cli` or
:mod:`mixgraph.editor`; those are built on it (``tests/test_house.py`` keeps it so).
One render, file to file, is followed step by step in ``docs/architecture.md``.
"""
