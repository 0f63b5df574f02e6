"""The compile options every kernel shares, and the signature each is compiled for.

A kernel is declared with :func:`kernel`, naming the numba type of each parameter::

    @kernel(x=A2, out=A2, sos=C2, state=C3)
    def biquad_cascade(x, out, sos, state): ...

It is compiled for that signature alone, once per machine (numba's cache keeps it),
when it is first called or ahead of a render by :mod:`.warmup`.  A bare
``numba.njit`` compiles a specialisation for every combination of array layouts it
is called with (a contiguous block, a view of some channels, a transposed array),
each a compilation of up to a few seconds on a new machine; a declared signature
takes them all.  Arrays that may be views (a node's input and output blocks, a
slice of a buffer) are declared with any layout (``A1``, ``A2`` ...); arrays the
node owns (state, per-sample parameter rows, scratch) as C-contiguous (``C1``,
``C2`` ...), which keeps the loops over them as fast as they were.  A parameter
given as a list of types gets one signature per type (a file's sample formats).
An array that fits no signature raises ``TypeError``; scalars are converted as
numba converts them, an ``int`` given for a ``float64`` exactly, but a ``float``
given for an ``int64`` truncated: declare a scalar as its callers pass it.
"""

from __future__ import annotations

import itertools
import threading

from numba import njit, types
from numba.core.caching import FunctionCache
from numba.core.registry import CPUDispatcher
from numba.core.runtime import rtsys

JIT = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

F8, I8, B1 = types.float64, types.int64, types.boolean
#: float64 arrays of any layout, by number of dimensions
A1, A2 = types.float64[:], types.float64[:, :]
#: C-contiguous float64 arrays
C1, C2, C3 = types.float64[::1], types.float64[:, ::1], types.float64[:, :, ::1]
#: C-contiguous int64 arrays
I1, I2 = types.int64[::1], types.int64[:, ::1]

@njit(inline="always")
def at(a, i):
    """Sample ``i`` of a per-sample parameter row: an automated parameter is passed as
    n values, a fixed one as 1."""
    return a[i] if a.shape[0] > 1 else a[0]


# what numba.njit(**JIT) hands its dispatcher (tests/test_coldstart.py compares)
_TARGET_OPTIONS = {**{k: v for k, v in JIT.items() if k != "cache"},
                   "nopython": True, "boundscheck": None}
_FIRST_CALL = threading.RLock()


class KernelCache(FunctionCache):
    """numba's cache of a kernel, which loads compiled code without first setting up
    numba's typing and lowering registries: numba does that before every load, and in
    a new process the first time imports every module it has (``scipy.linalg`` among
    them, for its BLAS check), 0.3 s of a render's start that machine code already
    compiled does not need.  Compiling sets them up itself.  What the code may need
    at load is started here: numba's runtime (its allocator's symbols) and the hash
    secrets (symbols numba's hashing module defines); a symbol still missing would
    end the process as the code loads (tests/test_coldstart.py loads every kernel in
    a process of its own).  The load itself is numba's (``Cache.load_overload``
    without the set-up), so this class follows numba's ``Cache`` as it is in the
    versions the package takes."""

    def load_overload(self, sig, target_context):
        load = getattr(self, "_load_overload", None)
        guard = getattr(self, "_guard_against_spurious_io_errors", None)
        if load is None or guard is None:                  # a numba that has moved on
            return super().load_overload(sig, target_context)
        import numba.cpython.hashing  # noqa: F401 - defines the hash secrets' symbols

        rtsys.initialize(target_context)
        with guard():
            return load(sig, target_context)


class Kernel(CPUDispatcher):
    """A numba dispatcher that compiles its declared signatures and nothing else.

    The first call compiles every declared signature (or loads it from the cache)
    and then turns compilation off, so that numba fits later calls to them by
    converting arguments instead of compiling a specialisation per call's types.
    """

    declared: tuple[tuple, ...] = ()

    def compile_declared(self) -> None:
        """Compile (or load from the cache) every declared signature, once."""
        with _FIRST_CALL:
            if self._can_compile:
                for sig in self.declared:
                    self.compile(sig)
                self.disable_compile()

    def _compile_for_args(self, *args, **kws):
        # numba calls this where no compiled signature takes the arguments exactly:
        # compile the declared ones and let numba convert the arguments to them.
        # (Were numba to stop calling it, kernels would specialise per call again.)
        if self._can_compile and self.declared:
            self.compile_declared()
            return self
        return super()._compile_for_args(*args, **kws)

    def enable_caching(self) -> None:
        self._cache = KernelCache(self.py_func)

    def cached(self) -> bool | None:
        """Whether numba's cache holds every declared signature for this machine (None:
        numba's cache could not be read, as where its internals have moved)."""
        try:
            cache = self._cache
            index = cache._cache_file._load_index()
            codegen = self.targetctx.codegen()
            return all(cache._index_key(sig, codegen) in index for sig in self.declared)
        except Exception:                              # noqa: BLE001 - only a hint
            return None


def kernel(**argtypes):
    """Decorate a per-sample loop as a compiled kernel with the signature ``argtypes``
    (every parameter's numba type, by name; a list of types for a parameter gives one
    signature per type)."""

    def decorate(func):
        names = func.__code__.co_varnames[:func.__code__.co_argcount]
        if set(names) != set(argtypes):
            raise TypeError(f"{func.__name__}: a type for each of {', '.join(names)}, "
                            f"got {', '.join(argtypes)}")
        choices = [t if isinstance(t, list) else [t] for t in (argtypes[n] for n in names)]
        k = Kernel(py_func=func, locals={}, targetoptions=dict(_TARGET_OPTIONS))
        k.declared = tuple(itertools.product(*choices))
        if JIT["cache"]:
            k.enable_caching()
        return k

    return decorate
