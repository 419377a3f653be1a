"""Exact fixed-point types for the generated HLS: from quantizer triples and the actual weights."""
from __future__ import annotations

import numpy as np
from hls4ml.model.types import FixedPrecisionType, RoundingMode, SaturationMode

from sqzfpga.hls.lower import QType


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


def accum_type(xq: QType, w: np.ndarray, wq: QType, b: np.ndarray | None, bq: QType | None) -> tuple[str, int]:
    """Narrowest accumulator that holds every partial sum of this conv exactly, and its width.

    The bound uses the actual integer weights (sum of |w| per filter times the largest input), not
    the worst case of the weight width, so sparse or small filters get narrower adders.
    """
    frac = max(wq.frac + xq.frac, bq.frac if bq is not None else -10**6)
    xmax = max(-xq.lo, xq.hi)
    per_filter = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1).astype(object) * xmax * (1 << (frac - wq.frac - xq.frac))
    if b is not None:
        per_filter = per_filter + np.abs(b).astype(object) * (1 << (frac - bq.frac))
    bound = int(max(per_filter.max(), 1))
    width = bound.bit_length() + 1
    return fixed(width, frac), width


def cpp_type(q: QType | list) -> str:
    """C++ spelling of hw_type (for types declared inside layer configs)."""
    q = q if isinstance(q, QType) else QType.of(q)
    return f"ap_{'' if q.signed else 'u'}fixed<{q.bits},{q.bits - q.frac},AP_RND_CONV,AP_SAT>"
