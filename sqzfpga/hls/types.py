"""Exact fixed-point types for the generated HLS: from quantizer triples and the actual weights."""
from __future__ import annotations

import numpy as np
from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

from sqzfpga.ir.arith import accum_frac, accum_width
from sqzfpga.ir.types import QType


def hw_type(q: QType | list) -> FixedPrecisionType:
    """The ap_(u)fixed a quantizer's output fits exactly; rounding half-even and saturating, as Quant does."""
    q = q if isinstance(q, QType) else QType.of(q)
    return FixedPrecisionType(width=q.bits, integer=q.bits - q.frac, signed=q.signed,
                              rounding_mode=RoundingMode.RND_CONV, saturation_mode=SaturationMode.SAT)


def store_type(q: QType) -> FixedPrecisionType:
    """Weights and biases are stored, never rounded: plain ap_(u)fixed."""
    return FixedPrecisionType(width=q.bits, integer=q.bits - q.frac, signed=q.signed)


def fixed(width: int, frac: int, signed: bool = True) -> str:
    return f"ap_{'' if signed else 'u'}fixed<{width},{width - frac}>"


def cpp_type(q: QType | list) -> str:
    """C++ spelling of hw_type (for types declared inside layer configs)."""
    q = q if isinstance(q, QType) else QType.of(q)
    return f"ap_{'' if q.signed else 'u'}fixed<{q.bits},{q.bits - q.frac},AP_RND_CONV,AP_SAT>"


def accum_type(xq: QType, w: np.ndarray, wq: QType, b: np.ndarray | None, bq: QType | None,
               frac: int | None = None) -> tuple[str, int]:
    """The exact accumulator (ir.arith.accum_width) as an ap_fixed, and its width."""
    if frac is None:
        frac = accum_frac(xq, wq, bq)
    width = accum_width(xq, w, wq, b, bq, frac)
    return fixed(width, frac), width
