"""Fused multiply-add for the kernels' recursions.

``fma(a, b, c)`` is a * b + c rounded once (IEEE 754 fusedMultiplyAdd, LLVM's
``llvm.fma``): one instruction where the processor has it, a correctly rounded library
call where it does not, so results are the same on every machine.  Kernels are
compiled without fast-math, so the compiler never fuses on its own; a recursion
whose every sample waits on a multiply and then an add waits on one fused operation
instead (on this project's machines 4 cycles, not 3 + 3).

Kernels inline it, and numba's cache knows only each kernel's own source file: after
editing this one, touch the kernel modules that use it (or delete their
``__pycache__``) so that they are compiled again.
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c with one rounding (float64)."""
    if not all(isinstance(t, types.Float) for t in (a, b, c)):
        return None
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen
