"""Four float64 lanes in one vector register, for recursions run side by side.

A recursion waits on its own last sample, so one stem's compressor or biquad cascade
leaves most of a core's vector unit idle.  Four independent ones (four stems, or the
channels of two stereo ones) run as one: each operation below acts on four lanes at
once (an LLVM ``<4 x double>``, one AVX register), and each lane sees exactly the
operations, in the same order and with the same roundings, that it would alone, so
the results are bit for bit those of the one-lane kernels.

numba has no vector type of its own, and it keeps a tuple in separate scalars that
the compiler packs and unpacks around every operation; :data:`f64x4` is a numba type
whose value *is* the LLVM vector, so a recursion's state stays in a register from one
sample to the next.  Kernels gather a sample of each lane's signal with :func:`vpack`
and scatter it back with :func:`vget` (cheaper than packing four signals into one
array and out again).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic, models, register_model

LANES = 4
_VECTOR = ir.VectorType(ir.DoubleType(), LANES)
_I32 = ir.IntType(32)


class F64x4(types.Type):
    """Four float64 lanes (an LLVM ``<4 x double>``)."""

    def __init__(self):
        super().__init__(name="f64x4")


f64x4 = F64x4()


@register_model(F64x4)
class _F64x4Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


@intrinsic
def vpack(typingctx, a, b, c, d):
    """Four float64s as lanes 0 to 3."""
    def codegen(context, builder, sig, args):
        v = ir.Constant(_VECTOR, ir.Undefined)
        for k, x in enumerate(args):
            v = builder.insert_element(v, x, ir.Constant(_I32, k))
        return v
    return f64x4(types.float64, types.float64, types.float64, types.float64), codegen


@intrinsic
def vget(typingctx, v, k):
    """Lane ``k``."""
    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], args[1])
    return types.float64(f64x4, k), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c in each lane, rounded once (as :func:`~.fused.fma`)."""
    def codegen(context, builder, sig, args):
        module = builder.module
        name = "llvm.fma.v4f64"
        fn = module.globals.get(name) or ir.Function(
            module, ir.FunctionType(_VECTOR, [_VECTOR] * 3), name)
        return builder.call(fn, args)
    return f64x4(f64x4, f64x4, f64x4), codegen


@intrinsic
def vmul(typingctx, a, b):
    def codegen(context, builder, sig, args):
        return builder.fmul(*args)
    return f64x4(f64x4, f64x4), codegen


@intrinsic
def vsub(typingctx, a, b):
    def codegen(context, builder, sig, args):
        return builder.fsub(*args)
    return f64x4(f64x4, f64x4), codegen


@intrinsic
def vpick_greater(typingctx, a, b, c, d):
    """Per lane: ``c if a > b else d`` (an ordered compare, as Python's ``>``: false
    where either is NaN)."""
    def codegen(context, builder, sig, args):
        return builder.select(builder.fcmp_ordered(">", args[0], args[1]), args[2], args[3])
    return f64x4(f64x4, f64x4, f64x4, f64x4), codegen
