"""The compile options every kernel shares (see the package notes)."""

JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")
