"""Numpy integer model of the RTL modules: the scoreboard of the cocotb module tests.

Written from the arithmetic's definition (exact sums, round half to even, saturation), not from the
SystemVerilog, so a wiring or rounding bug in either shows up as a mismatch.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np


def requant(acc: np.ndarray, frac: int, out_frac: int, bits: int, signed: bool, relu: bool) -> np.ndarray:
    """Exact value acc * 2^-frac -> nearest integer multiple of 2^-out_frac (ties to even), saturated."""
    acc = np.asarray(acc, dtype=object)
    d = frac - out_frac
    out = np.empty(acc.shape, dtype=np.int64)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    for i, a in np.ndenumerate(acc):
        a = int(a)
        if relu and a < 0:
            out[i] = 0
            continue
        if d <= 0:
            r = a << -d
        else:
            q, rem = divmod(a, 1 << d)  # floor division: rem in [0, 2^d)
            half = 1 << (d - 1)
            r = q + (1 if rem > half or (rem == half and q % 2 == 1) else 0)
        out[i] = min(max(r, lo), hi)
    return out


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pad: int) -> np.ndarray:
    """Exact integer conv, channels-last: x (H, W, C), w (F, K, K, C) -> products only (H', W', F)."""
    h, wd, c = x.shape
    f, k = w.shape[0], w.shape[1]
    xp = np.zeros((h + 2 * pad + k, wd + 2 * pad + k, c), dtype=np.int64)
    xp[pad:pad + h, pad:pad + wd] = x
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((oh, ow, f), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            win = xp[oy * stride:oy * stride + k, ox * stride:ox * stride + k]
            out[oy, ox] = np.tensordot(w, win, axes=([1, 2, 3], [0, 1, 2]))
    return out


def conv_q(x, xf, w, wf, b, bf, stride, pad, out_frac, bits, signed, relu):
    """conv + bias at a common binary point, then requantised."""
    frac = max(xf + wf, bf if b is not None else -99)
    acc = conv(x, w, b, stride, pad).astype(object) * (1 << (frac - xf - wf))
    if b is not None:
        acc = acc + np.asarray(b, dtype=object) * (1 << (frac - bf))
    return requant(acc, frac, out_frac, bits, signed, relu)


def maxpool(x: np.ndarray, k: int, s: int, oh: int, ow: int) -> np.ndarray:
    """Max over each window clipped to the image (ceil mode's partial windows included)."""
    return np.stack([np.stack([x[oy * s:oy * s + k, ox * s:ox * s + k].max(axis=(0, 1)) for ox in range(ow)])
                     for oy in range(oh)])


def gap(x: np.ndarray, shift: int, bits: int, signed: bool) -> np.ndarray:
    """round_half_even(sum * 2^shift / N), saturated (Python's round() is ties-to-even)."""
    n = x.shape[0] * x.shape[1]
    sums = x.reshape(n, -1).astype(object).sum(axis=0)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    return np.array([min(max(round(Fraction(int(v)) * Fraction(2) ** shift / n), lo), hi) for v in sums],
                    dtype=np.int64)


def avgpool(x: np.ndarray, k: int, s: int, shift: int, bits: int, signed: bool, rnd=round) -> np.ndarray:
    """Average pool k x k / s, floor mode, no padding, of raw integers x (H, W, C): for each window
    rnd(window sum * 2^shift / k^2), saturated; `rnd` is Python's round (ties to even) unless a test
    swaps in a wrong rounding to show its inputs would catch it."""
    h, w, c = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    out = np.empty((oh, ow, c), dtype=np.int64)
    for (oy, ox, ch), _ in np.ndenumerate(out):
        total = sum(int(v) for v in x[oy * s:oy * s + k, ox * s:ox * s + k, ch].reshape(-1))
        out[oy, ox, ch] = min(max(rnd(Fraction(total) * Fraction(2) ** shift / (k * k)), lo), hi)
    return out


def pack(values, bits: int) -> int:
    """A vector of integers as one stream beat (element 0 in the low bits)."""
    word = 0
    for i, v in enumerate(np.asarray(values).reshape(-1)):
        word |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return word


def table(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The input table: bytes x (..., C) -> t[c][x[..., c]] per channel c (t: C x 256 integers)."""
    return np.stack([t[c][x[..., c]] for c in range(x.shape[-1])], axis=-1)
