"""Exact integer arithmetic shared by both backends: accumulator widths and the average's division."""
from __future__ import annotations

import numpy as np

from sqzfpga.ir.types import QType


def accum_width(xq: QType, w: np.ndarray, wq: QType, b: np.ndarray | None, bq: QType | None,
                frac: int | None = None) -> int:
    """Width of the narrowest accumulator that holds every partial sum of this conv exactly.

    The bound uses the actual integer weights (sum of |w| per filter times the largest input), not
    the worst case of the weight width, so sparse or small filters get narrower adders. `frac`
    (default: the finer of products and bias) lets two convs share one accumulator format.
    """
    if frac is None:
        frac = accum_frac(xq, wq, bq)
    xmax = max(-xq.lo, xq.hi)
    per_filter = np.abs(w.reshape(w.shape[0], -1)).sum(axis=1).astype(object) * xmax * (1 << (frac - wq.frac - xq.frac))
    if b is not None:
        per_filter = per_filter + np.abs(b).astype(object) * (1 << (frac - bq.frac))
    bound = int(max(per_filter.max(), 1))
    return bound.bit_length() + 1


def accum_frac(xq: QType, wq: QType, bq: QType | None) -> int:
    """Binary point of an exact accumulator: the finer of the products' and the bias's."""
    return max(wq.frac + xq.frac, bq.frac if bq is not None else -10**6)


def gap_widths(iq: QType, oq: QType, n: int) -> tuple[int, int, int]:
    """Global average pool over n pixels: (shift, sum width, numerator width) of the exact division
    out = round_half_even(sum * 2^shift / n), shared by the HLS and RTL layers."""
    shift = oq.frac - iq.frac
    sum_width = iq.bits + 1 + n.bit_length()
    # wide enough for the shifted sum, the shifted divisor, and the output's bits (the quotient is
    # saturated, then its low oq.bits bits are the output: fuzzing found a dead layer whose 4-bit
    # input made the numerator narrower than a 13-bit output)
    num_width = max(sum_width + max(shift, 0), n.bit_length() + max(-shift, 0), oq.bits + 1) + 2
    return shift, sum_width, num_width
